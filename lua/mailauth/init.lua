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

M.DKIM_RESULTS = { "pass", "fail", "neutral", "policy", "permerror", "temperror" }

M.SPF_RESULTS = { "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror" }

return M
