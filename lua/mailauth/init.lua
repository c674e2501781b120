-- mailauth: email authentication for Lua 5.4.
--
-- The checks themselves live in C (mailauth.core); this file adds what is
-- easier said in Lua: defaults, argument checks and the public surface.
local core = require "mailauth.core"

local M = {
  _VERSION = "mailauth " .. core.version,
  version = core.version,
}

local default_resolver

-- mailauth.resolver{ servers = {"IP@PORT", ...}, timeout = s, tries = n,
--   edns = size, tcp = bool, cache = false|entries }
-- mailauth.resolver{ fixture = "zone.json" | { name = records } }
-- mailauth.resolver{ callback = function(name, type) ... end }
function M.resolver(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'resolver' (table expected, got " .. type(opts) .. ")", 2)
  end
  return core.resolver(opts or {})
end

-- The system resolver (/etc/resolv.conf), made on first use.
function M.default_resolver()
  default_resolver = default_resolver or core.resolver{}
  return default_resolver
end

local function with_resolver(fname, opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  if opts.resolver == nil then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.resolver = M.default_resolver()
    return o
  end
  return opts
end

-- mailauth.spf{ ip =, helo =, mail_from =, resolver =, identity = "mailfrom"|"helo",
--   receiver =, now =, default_explanation =, budget = { queries =, timeout = } }
-- returns { result, domain, mechanism, explanation, lookups, void_lookups,
--   reason, received_spf, identity, sender, queries }
function M.spf(opts)
  return core.spf(with_resolver("spf", opts))
end

-- mailauth.spf_record_check(text) -> true | false, reason
M.spf_record_check = core.spf_record_check

-- mailauth.message(source [, { max_headers =, max_header_bytes = }]):
-- source is the message text (it contains a line break), a file path, or an
-- open file handle; the body of a file is read as a stream, never loaded.
M.message = core.message

M.dkim = {}

-- mailauth.dkim.verify(msg, { resolver =, legacy =, now =, max_signatures =,
--   strict_length =, clock_skew =, min_rsa_bits =, budget = })
-- returns one table per DKIM-Signature, topmost first:
-- { result, reason, domain, selector, algorithm, identity, canonicalization,
--   header_b, bits, testing, body_length, body_partial, timestamp, expiration }
function M.dkim.verify(msg, opts)
  return core.dkim_verify(msg, with_resolver("dkim.verify", opts or {}))
end

-- mailauth.dkim.sign(msg, { { key = PEM | key_file = path, domain =, selector =,
--   identity =, headers = "from:to:...", canonicalization = "relaxed/relaxed",
--   timestamp =, expire_after = }, ... }) -> { "DKIM-Signature: ...", ... }
-- or nil, reason.  Several keys (RSA + Ed25519) sign in one pass.
M.dkim.sign = core.dkim_sign

-- mailauth.dkim.keygen{ type = "rsa"|"ed25519", bits = 2048, domain =, selector = }
-- -> { private_key = PEM (PKCS#8), record = "v=DKIM1; k=...; p=...", name =, type, bits }
M.dkim.keygen = core.dkim_keygen

-- mailauth.dmarc{ from_domain = | message =, spf = <spf result or {domain, result}>,
--   dkim = <dkim.verify result or { {domain, result}, ... }>, resolver =,
--   rfc7489 = false, psl = mailauth.psl(), check_reports = false, budget = }
-- returns { result, reason, policy, requested_policy, policy_tag, testing,
--   disposition, domain (= policy_domain), author_domain, org_domain, record,
--   tags, alignment = { spf = {aligned, mode, domain}, dkim = {...} },
--   rua, ruf, discovery, author_exists, from_status, queries }
function M.dmarc(opts)
  return core.dmarc(with_resolver("dmarc", opts))
end

-- mailauth.psl([path]): the Public Suffix List (RFC 7489 mode); psl:org_domain(name)
M.psl = core.psl

-- mailauth.budget{ queries = n, timeout = seconds }: one message's DNS
-- budget, shared by every check it is passed to.
M.budget = core.budget

-- mailauth.authres{ authserv_id =, spf =, dkim =, dmarc =, disposition = } -> the
-- Authentication-Results header field (RFC 8601), folded, without CRLF.
-- disposition ("none", "quarantine", "reject") is what the site applied,
-- when it is not the DMARC result's own.
function M.authres(o)
  if type(o) ~= "table" or type(o.authserv_id) ~= "string" then
    error("bad argument #1 to 'authres' (table with authserv_id expected)", 2)
  end
  return core.authres(o)
end

-- mailauth.authres_parse(value) -> parsed table | nil, reason
M.authres_parse = core.authres_parse

-- The indexes (in msg:headers() order) of Authentication-Results fields
-- that claim authserv_id: forged or stale, to be removed before delivery.
function M.forged_authres(msg, authserv_id)
  local out = {}
  for _, h in ipairs(msg:headers("Authentication-Results")) do
    if core.authres_claims(h.value, authserv_id) then out[#out + 1] = h.index end
  end
  return out
end

-- mailauth.check{ message =, ip =, helo =, mail_from =, rcpt =, resolver =,
--   rules = <table or path>, authserv_id =, budget = <budget or {queries, timeout}>,
--   now =, legacy =, details = false, check_reports = false,
--   rfc7489 = false, psl = mailauth.psl(), sample = <0-99, random by default>,
--   max_signatures = 10 }
-- The whole pipeline: SPF, DKIM, DMARC, site policy, Authentication-Results,
-- under one per-message budget; the independent first lookups of all three
-- checks go out together.  Returns { spf, dkim, dmarc, verdict,
-- authentication_results, forged_authres }.
local policy -- mailauth.policy, loaded with the first check (it requires this module)

-- The DMARC disposition a verdict amounts to (RFC 9990's "disposition":
-- what the receiver applied, after its own policy).
local DISPOSITION = { accept = "none", quarantine = "quarantine", reject = "reject" }

function M.check(o)
  if type(o) ~= "table" then error("bad argument #1 to 'check' (table expected)", 2) end
  policy = policy or require "mailauth.policy"
  local msg = o.message
  if type(msg) == "string" or io.type(msg) == "file" then msg = M.message(msg) end
  if msg == nil then error("check: 'message' is required", 2) end
  local rules = o.rules
  if type(rules) == "string" then rules = policy.load(rules) end
  rules = rules or {}
  local inb = rules.inbound
  local authserv_id = o.authserv_id or (inb and inb.authserv_id) or "localhost"
  -- SPF, DKIM, DMARC, Authentication-Results and the forged-field search
  -- run in C in one call (core/check.c): one set of result tables.
  -- details = true adds the Received-SPF text and the DMARC record's tags
  -- and report addresses (the CLI shows them; an MTA needs only the verdict
  -- and Authentication-Results).
  local results = core.check(o, msg, o.resolver or M.default_resolver(), authserv_id)
  results.message = msg
  local verdict = policy.inbound(rules, results)
  results.message = nil
  results.verdict = verdict
  -- The field's "dis=" says what this site did; when its rules depart from
  -- the owner's policy (a rescued list message, quarantine for reject) the
  -- field is written again with that disposition.
  local dm = results.dmarc
  local dis = DISPOSITION[verdict.action]
  if dm.result == "fail" and dis and dis ~= dm.disposition then
    results.authentication_results = core.authres{ authserv_id = authserv_id, spf = results.spf,
      dkim = results.dkim, dmarc = dm, disposition = dis }
  end
  return results
end

M.DKIM_RESULTS = { "pass", "fail", "neutral", "policy", "permerror", "temperror" }

-- MTA-STS (RFC 8461).
M.mtasts = {
  -- parse_record(txt) -> id | nil, reason
  parse_record = core.sts_record_parse,
  -- parse_policy(text) -> { version, mode, max_age, mx = {...} } | nil, reason
  parse_policy = core.sts_policy_parse,
  -- mx_match(pattern, host) -> boolean (a wildcard covers one left-most label)
  mx_match = core.sts_mx_match,
  content_type_ok = core.sts_content_type_ok,
  -- delivery(policy, { mx hosts }) -> { tls_required, report_only, allowed }
  delivery = core.sts_delivery,
}

-- mailauth.mtasts.discover{ domain =, resolver =, cache_dir =, ca_file =,
--   timeout =, connect_timeout =, now =, force =, budget = }
-- -> { status = "VALID"|"NONE"|"FETCH_ERROR", reason, record_id, policy, id,
--      source = "fetched"|"cache", fetched, expires, fetch, cache_written }
function M.mtasts.discover(opts)
  return core.sts_discover(with_resolver("mtasts.discover", opts))
end

-- mailauth.mtasts.refresh{ cache_dir =, resolver =, margin = 86400, ca_file =, ... }
-- For a cron job: rediscovers every cached domain, refetching policies near
-- expiry; returns { {domain, status, reason, source, expires}, ... }.
function M.mtasts.refresh(opts)
  return core.sts_refresh(with_resolver("mtasts.refresh", opts))
end

-- mailauth.mtasts.fetch{ domain =, resolver =, ca_file =, timeout = } -> { status, http_status, reason, body }
function M.mtasts.fetch(opts)
  return core.sts_fetch(with_resolver("mtasts.fetch", opts))
end

-- SMTP TLS Reporting (RFC 8460).
M.tlsrpt = {
  -- parse_record(txt) -> { rua = {...} } | nil, reason
  parse_record = core.tlsrpt_record_parse,
  -- parse(data) -> summary | nil, reason   (JSON, or gzip of JSON)
  parse = core.tlsrpt_parse,
  -- parse_email(msg) -> summary, attachment media type | nil, reason
  parse_email = core.tlsrpt_parse_email,
  -- aggregator() -> agg; agg:add{...}, agg:domains(), agg:report{...} -> JSON
  aggregator = core.tlsrpt_aggregator,
  -- log(path, { time =, <agg:add fields> }) -> true | nil, reason: one
  -- session outcome appended to a log that many processes (an MTA's
  -- deliveries) share without locks; `mailauth tlsrpt report --outcomes`
  -- makes the reports of a period from it.
  log = core.tlsrpt_log,
  gzip = core.tlsrpt_gzip,
  -- filename{ sender, policy_domain, start, end, unique_id, gzip } (RFC 8460 5.3)
  filename = core.tlsrpt_filename,
}

-- mailauth.tlsrpt.lookup{ domain =, resolver = } -> { status = "found"|"none"|"temperror", reason, rua }
function M.tlsrpt.lookup(opts)
  return core.tlsrpt_lookup(with_resolver("tlsrpt.lookup", opts))
end

M.DMARC_RESULTS = { "pass", "fail", "none", "temperror", "permerror" }

M.SPF_RESULTS = { "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror" }

return M
