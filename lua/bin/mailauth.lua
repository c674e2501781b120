#!/usr/bin/env lua5.4
-- mailauth: the command-line face of the mailauth Lua module.
-- Exit status: 0 when a result was produced (whatever it is), 2 on a usage
-- error (bad option, bad IP, unreadable zone file).
local ok_ma, mailauth = pcall(require, "mailauth")
if not ok_ma then
  io.stderr:write("mailauth: cannot load the mailauth Lua module: ", tostring(mailauth), "\n")
  os.exit(2)
end
local json = require "mailauth.json"

local USAGE = [==[
usage: mailauth <command> [options]

commands:
  spf     --ip IP --helo NAME --mail-from ADDR [--identity mailfrom|helo]
          [--dns ZONE.json | --server IP@PORT] [--receiver NAME] [--timeout S] [--json]
  dkim    [--dns ZONE.json | --server IP@PORT] [--legacy] [--now UNIXTIME] [--json] < MESSAGE
  dkim-sign --key FILE --domain D --selector S [--key FILE2 --selector S2 ...]
          | --rules FILE --sender ADDR    (the keys outbound.dkim gives the sender's domain)
          [--algorithm rsa-sha256|ed25519-sha256] [--headers a:b:c]
          [--canonicalization relaxed/relaxed] [--identity I] < MESSAGE
  dkim-keygen [--type rsa|ed25519] [--bits 2048] [--domain D --selector S] [--out FILE] [--json]
  dmarc   --from-domain D [--spf-domain D [--spf-result R]] [--dkim-domain D [--dkim-result R]]...
          [--dns ZONE.json | --server IP@PORT] [--rfc7489] [--psl FILE] [--reports] [--json]
  check   --ip IP --helo NAME --mail-from ADDR [--rcpt ADDR] [--dns ZONE.json | --server IP@PORT]
          [--rules FILE] [--authserv-id ID] [--now UNIXTIME] [--rfc7489] [--psl FILE] [--reports]
          [--json] < MESSAGE
  mta-sts DOMAIN [--server IP@PORT | --dns ZONE.json] [--cache DIR] [--ca-file F] [--port N]
          [--mx HOST]... [--rules FILE] [--now UNIXTIME] [--force] [--timeout S] [--json]
  mta-sts-refresh --cache DIR [--server IP@PORT | --dns ZONE.json] [--margin SECONDS] [--json]
          (for cron: renews every cached policy before it expires)
  tlsrpt parse FILE...            (JSON, gzip, or a report e-mail) [--json]
  tlsrpt report --outcomes LOG --org NAME --contact ADDR --sender HOST
          --start UNIXTIME --end UNIXTIME [--report-id ID] [--out DIR]
  publish --rules FILE [--zone Z]... [--dns ZONE.json | --server IP@PORT] [--policy-dir DIR] [--json]
          (the records the rules' publish face computes, as zone-file lines; exit 1 if one is refused)
  audit   DOMAIN [--selector S]... [--server IP@PORT | --dns ZONE.json] [--ca-file F] [--port N] [--json]
  version
  help

--dns takes zone data in the conformance suites' zonedata format
(name -> list of {TYPE: value}, or name -> {TYPE: [values]}).
]==]

local function usage_error(msg)
  io.stderr:write("mailauth: ", msg, "\n")
  os.exit(2)
end

-- Options: "--name value" or "--name=value"; flags listed in `flags`.
local function parse(args, spec)
  local o = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if not name then usage_error("unexpected argument '" .. a .. "'") end
    local kind = spec[name]
    if kind == nil then usage_error("unknown option '--" .. name .. "'") end
    if kind == "flag" then
      if val then usage_error("option '--" .. name .. "' takes no value") end
      o[name] = true
    else
      if not val then
        i = i + 1
        val = args[i]
        if val == nil then usage_error("option '--" .. name .. "' needs a value") end
      end
      if kind == "list" then
        o[name] = o[name] or {}
        table.insert(o[name], val)
      else
        o[name] = val
      end
    end
    i = i + 1
  end
  return o
end

local function make_resolver(o)
  if o.dns and o.server then usage_error("--dns and --server exclude each other") end
  local ok, r
  if o.dns then
    local f = io.open(o.dns, "rb")
    if not f then usage_error("cannot read zone file '" .. o.dns .. "'") end
    f:close()
    ok, r = pcall(mailauth.resolver, { fixture = o.dns })
  else
    local t = tonumber(o.timeout or "2")
    if not t or t <= 0 then usage_error("bad --timeout '" .. tostring(o.timeout) .. "'") end
    ok, r = pcall(mailauth.resolver, { servers = o.server, timeout = t })
  end
  if not ok then usage_error(tostring(r):gsub("^[^:]*:%d+: ", "")) end
  return r
end

local function load_rules(path)
  local policy = require "mailauth.policy"
  local ok, rules = pcall(policy.load, path)
  if not ok then usage_error(tostring(rules):gsub("^[^:]*:%d+: ", "")) end
  return rules
end

local function valid_ip(s)
  if s:match("^%d+%.%d+%.%d+%.%d+$") then
    for n in s:gmatch("%d+") do if tonumber(n) > 255 then return false end end
    return true
  end
  return s:find(":", 1, true) ~= nil and s:match("^[%x:.]+$") ~= nil
end

-- The receiver named in Received-SPF: this host, unless --receiver says.
local function hostname()
  local f = io.open("/proc/sys/kernel/hostname")
  local h = f and f:read("l")
  if f then f:close() end
  return h ~= "" and h or nil
end

local commands = {}

function commands.spf(args)
  local o = parse(args, { ip = "value", helo = "value", ["mail-from"] = "value",
    identity = "value", dns = "value", server = "value", receiver = "value",
    timeout = "value", json = "flag" })
  if not o.ip then usage_error("spf: --ip is required") end
  if not valid_ip(o.ip) then usage_error("spf: bad IP address '" .. o.ip .. "'") end
  if o.identity and o.identity ~= "mailfrom" and o.identity ~= "helo" then
    usage_error("spf: --identity must be mailfrom or helo")
  end
  local r = make_resolver(o)
  local ok, res = pcall(mailauth.spf, { ip = o.ip, helo = o.helo or "", mail_from = o["mail-from"] or "",
    identity = o.identity, receiver = o.receiver or hostname(), resolver = r })
  if not ok then usage_error(tostring(res):gsub("^[^:]*:%d+: ", "")) end
  if o.json then
    print(json.encode(res))
  else
    print(res.result .. ": " .. res.reason)
    if res.explanation then print("explanation: " .. res.explanation) end
    print(res.received_spf)
  end
  return 0
end

-- The message on standard input, as a seekable file handle (a pipe is
-- copied to a temporary file, so large messages never sit in memory).
local function stdin_message()
  local f = io.tmpfile()
  while true do
    local chunk = io.stdin:read(65536)
    if not chunk then break end
    f:write(chunk)
  end
  f:seek("set", 0)
  return f
end

function commands.dkim(args)
  local o = parse(args, { dns = "value", server = "value", legacy = "flag", now = "value",
    json = "flag", timeout = "value" })
  local now
  if o.now then
    now = math.tointeger(tonumber(o.now))
    if not now or now < 0 or now >= 2^53 then usage_error("dkim: bad --now '" .. o.now .. "'") end
  end
  local r = make_resolver(o)
  local f = stdin_message()
  local msg = mailauth.message(f)
  local sigs = mailauth.dkim.verify(msg, { resolver = r, legacy = o.legacy, now = now })
  f:close()
  if o.json then
    local list = {}
    for i, s in ipairs(sigs) do
      list[i] = { result = s.result, domain = s.domain, selector = s.selector, algorithm = s.algorithm,
        bits = s.bits, reason = s.reason, header_b = s.header_b, identity = s.identity,
        canonicalization = s.canonicalization, testing = s.testing, body_length = s.body_length }
    end
    print(json.encode({ signatures = json.array(list) }))
  elseif #sigs == 0 then
    print("none: no DKIM-Signature")
  else
    for _, s in ipairs(sigs) do
      print(("%s d=%s s=%s a=%s bits=%d b=%s: %s"):format(s.result, s.domain, s.selector,
        s.algorithm, s.bits, s.header_b, s.reason))
    end
  end
  return 0
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then usage_error("cannot read '" .. path .. "'") end
  local data = f:read("a")
  f:close()
  return data
end

commands["dkim-sign"] = function(args)
  local o = parse(args, { key = "list", selector = "list", domain = "value", algorithm = "value",
    headers = "value", canonicalization = "value", identity = "value", rules = "value", sender = "value" })
  local signers = {}
  if o.rules then
    -- The keys the site's outbound rules give the sender's domain.
    for _, k in ipairs{ "key", "selector", "domain", "algorithm", "headers", "canonicalization", "identity" } do
      if o[k] then usage_error("dkim-sign: --rules takes the signing settings from the rules, not --" .. k) end
    end
    if not o.sender then usage_error("dkim-sign: --rules needs --sender ADDR") end
    local rules = load_rules(o.rules)
    signers = require("mailauth.policy").signers(rules, o.sender, o.rules:match("^(.*)/[^/]*$") or ".")
    if #signers == 0 then usage_error("dkim-sign: " .. o.rules .. " has no signing key for " .. o.sender) end
  elseif not o.key or not o.domain or not o.selector then
    usage_error("dkim-sign: --key, --domain and --selector are required (or --rules and --sender)")
  end
  if o.key and #o.key ~= #o.selector then usage_error("dkim-sign: give one --selector per --key") end
  local c = o.canonicalization or "relaxed/relaxed"
  if not c:match("^(%a+)/(%a+)$") and not c:match("^%a+$") then usage_error("dkim-sign: bad --canonicalization") end
  for part in c:gmatch("%a+") do
    if part ~= "simple" and part ~= "relaxed" then usage_error("dkim-sign: bad --canonicalization") end
  end
  if not c:find("/", 1, true) then c = c .. "/simple" end
  for i, path in ipairs(o.key or {}) do
    local pem = read_file(path)
    local alg = o.algorithm
    if alg and alg ~= "rsa-sha256" and alg ~= "ed25519-sha256" then
      usage_error("dkim-sign: --algorithm must be rsa-sha256 or ed25519-sha256")
    end
    signers[i] = { key = pem, domain = o.domain, selector = o.selector[i], headers = o.headers,
      canonicalization = c, identity = o.identity, algorithm = alg }
  end
  local f = stdin_message()
  local msg = mailauth.message(f)
  local ok, hs, err = pcall(mailauth.dkim.sign, msg, signers)
  if not ok then usage_error("dkim-sign: " .. tostring(hs):gsub("^[^:]*:%d+: ", "")) end
  if not hs then usage_error("dkim-sign: " .. tostring(err)) end
  f:seek("set", 0)
  local head = f:read(65536) or ""
  local nl = head:find("\r\n", 1, true) and "\r\n" or "\n"
  for _, h in ipairs(hs) do io.write((h:gsub("\r\n", nl)), nl) end
  io.write(head)
  while true do
    local chunk = f:read(65536)
    if not chunk then break end
    io.write(chunk)
  end
  f:close()
  return 0
end

commands["dkim-keygen"] = function(args)
  local o = parse(args, { type = "value", bits = "value", domain = "value", selector = "value",
    out = "value", json = "flag" })
  local t = o.type or "rsa"
  if t ~= "rsa" and t ~= "ed25519" then usage_error("dkim-keygen: --type must be rsa or ed25519") end
  local bits = tonumber(o.bits or "2048")
  if not bits or (t == "rsa" and (bits < 1024 or bits > 8192)) then
    usage_error("dkim-keygen: --bits must be 1024 to 8192")
  end
  local k = mailauth.dkim.keygen{ type = t, bits = bits, domain = o.domain, selector = o.selector }
  if o.out then
    -- Mode 0600 before the key is written (umask for a new file, chmod for an old one).
    local q = "'" .. o.out:gsub("'", "'\\''") .. "'"
    local f = os.execute("umask 077 && : 2>/dev/null > " .. q .. " && chmod 600 " .. q) and io.open(o.out, "wb")
    if not f then usage_error("dkim-keygen: cannot write '" .. o.out .. "'") end
    f:write(k.private_key)
    f:close()
  end
  if o.json then
    print(json.encode({ name = k.name, record = k.record, type = k.type, bits = k.bits,
      private_key = (not o.out) and k.private_key or nil, key_file = o.out }))
  else
    if not o.out then io.write(k.private_key) end
    local rec = k.record
    -- A TXT record's character-strings hold at most 255 bytes each.
    local parts = {}
    for i = 1, #rec, 255 do parts[#parts + 1] = '"' .. rec:sub(i, i + 254) .. '"' end
    print(("%s IN TXT ( %s )"):format(k.name or "<selector>._domainkey.<domain>", table.concat(parts, " ")))
  end
  return 0
end

local RESULTS = { pass = true, fail = true, softfail = true, neutral = true, none = true,
  temperror = true, permerror = true, policy = true }

-- The Public Suffix List when --rfc7489 asks for RFC 7489 mode, else nil.
local function rfc7489_psl(cmd, o)
  if not o.rfc7489 then
    if o.psl then usage_error(cmd .. ": --psl is for --rfc7489 mode") end
    return nil
  end
  local ok, p = pcall(mailauth.psl, o.psl)
  if not ok then usage_error(cmd .. ": " .. tostring(p):gsub("^[^:]*:%d+: ", "")) end
  return p
end

function commands.dmarc(args)
  local o = parse(args, { ["from-domain"] = "value", ["spf-domain"] = "value", ["spf-result"] = "value",
    ["dkim-domain"] = "list", ["dkim-result"] = "list", dns = "value", server = "value",
    rfc7489 = "flag", psl = "value", reports = "flag", json = "flag", timeout = "value" })
  if not o["from-domain"] then usage_error("dmarc: --from-domain is required") end
  local spf
  if o["spf-domain"] then
    local res = o["spf-result"] or "pass"
    if not RESULTS[res] then usage_error("dmarc: bad --spf-result '" .. res .. "'") end
    spf = { domain = o["spf-domain"], result = res }
  elseif o["spf-result"] then
    usage_error("dmarc: --spf-result needs --spf-domain")
  end
  local dkim = {}
  local dres = o["dkim-result"] or {}
  if #dres > #(o["dkim-domain"] or {}) then usage_error("dmarc: more --dkim-result than --dkim-domain") end
  for i, d in ipairs(o["dkim-domain"] or {}) do
    local res = dres[i] or "pass"
    if not RESULTS[res] then usage_error("dmarc: bad --dkim-result '" .. res .. "'") end
    dkim[i] = { domain = d, result = res }
  end
  local psl = rfc7489_psl("dmarc", o)
  local r = make_resolver(o)
  local res = mailauth.dmarc{ from_domain = o["from-domain"], spf = spf, dkim = dkim, resolver = r,
    rfc7489 = o.rfc7489, psl = psl, check_reports = o.reports }
  if o.json then
    print(json.encode(res))
  else
    print(("%s: %s"):format(res.result, res.reason))
    if res.policy then
      print(("policy=%s (%s from %s) disposition=%s org_domain=%s"):format(res.policy,
        res.policy_tag or "p", res.domain or "?", res.disposition, res.org_domain or "?"))
    end
  end
  return 0
end


function commands.check(args)
  local o = parse(args, { ip = "value", helo = "value", ["mail-from"] = "value", rcpt = "value",
    dns = "value", server = "value", rules = "value", ["authserv-id"] = "value", now = "value",
    json = "flag", timeout = "value", rfc7489 = "flag", psl = "value", reports = "flag" })
  if not o.ip then usage_error("check: --ip is required") end
  if not valid_ip(o.ip) then usage_error("check: bad IP address '" .. o.ip .. "'") end
  local now
  if o.now then
    now = math.tointeger(tonumber(o.now))
    if not now or now < 0 then usage_error("check: bad --now '" .. o.now .. "'") end
  end
  local rules = o.rules and load_rules(o.rules) or nil
  local psl = rfc7489_psl("check", o)
  local r = make_resolver(o)
  local f = stdin_message()
  local ok, res = pcall(mailauth.check, { message = mailauth.message(f), ip = o.ip, helo = o.helo or "",
    mail_from = o["mail-from"] or "", rcpt = o.rcpt, resolver = r, rules = rules,
    authserv_id = o["authserv-id"] or hostname(), now = now, details = true,
    rfc7489 = o.rfc7489, psl = psl, check_reports = o.reports })
  f:close()
  if not ok then usage_error("check: " .. tostring(res):gsub("^[^:]*:%d+: ", "")) end
  local v = res.verdict
  if o.json then
    print(json.encode({ spf = res.spf, dkim = { signatures = json.array(res.dkim) }, dmarc = res.dmarc,
      verdict = v, authentication_results = res.authentication_results,
      forged_authentication_results = json.array(res.forged_authres), queries = res.queries }))
  else
    print(res.authentication_results)
    print(("verdict: %s (%s)%s"):format(v.action, v.reason, v.override and (" override=" .. v.override) or ""))
  end
  return 0
end

commands["mta-sts"] = function(args)
  local domain = args[1]
  if not domain or domain:sub(1, 2) == "--" then usage_error("mta-sts: DOMAIN is required") end
  local o = parse({ table.unpack(args, 2) }, { server = "value", dns = "value", cache = "value",
    ["ca-file"] = "value", port = "value", mx = "list", now = "value", force = "flag", json = "flag",
    timeout = "value", rules = "value" })
  local port
  if o.port then
    port = math.tointeger(tonumber(o.port))
    if not port or port < 1 or port > 65535 then usage_error("mta-sts: bad --port '" .. o.port .. "'") end
  end
  local now
  if o.now then
    now = math.tointeger(tonumber(o.now))
    if not now or now < 0 then usage_error("mta-sts: bad --now '" .. o.now .. "'") end
  end
  local timeout
  if o.timeout then
    timeout = tonumber(o.timeout)
    if not timeout or timeout <= 0 then usage_error("mta-sts: bad --timeout '" .. o.timeout .. "'") end
  end
  if o["ca-file"] then
    local f = io.open(o["ca-file"])
    if not f then usage_error("mta-sts: cannot read '" .. o["ca-file"] .. "'") end
    f:close()
  end
  local r = make_resolver(o)
  local res = mailauth.mtasts.discover{ domain = domain, resolver = r, cache_dir = o.cache,
    ca_file = o["ca-file"], port = port, now = now, force = o.force, timeout = timeout }
  if o.mx and res.policy then res.delivery = mailauth.mtasts.delivery(res.policy, o.mx) end
  if o.rules then
    local policy = require "mailauth.policy"
    res.outbound = policy.outbound(load_rules(o.rules), domain, res, o.mx or {})
  end
  if o.json then
    print(json.encode(res))
  else
    print(("%s: %s"):format(res.status, res.reason))
    if res.policy then
      print(("mode=%s max_age=%d mx=%s (id %s, %s)"):format(res.policy.mode, res.policy.max_age,
        table.concat(res.policy.mx, ","), res.id, res.source))
    end
    if res.delivery then
      print(("delivery: tls_required=%s report_only=%s allowed=%s"):format(tostring(res.delivery.tls_required),
        tostring(res.delivery.report_only), table.concat(res.delivery.allowed, ",")))
    end
    if res.outbound then
      local ob = res.outbound
      print(("outbound: tls_required=%s mode=%s (%s) mx_allowed=%s: %s"):format(tostring(ob.tls_required),
        ob.mode, ob.source, table.concat(ob.mx_allowed, ","), ob.reason))
    end
  end
  return 0
end

commands["mta-sts-refresh"] = function(args)
  local o = parse(args, { cache = "value", server = "value", dns = "value", margin = "value",
    ["ca-file"] = "value", port = "value", json = "flag", timeout = "value" })
  if not o.cache then usage_error("mta-sts-refresh: --cache is required") end
  local margin = math.tointeger(tonumber(o.margin or "86400"))
  if not margin or margin < 0 then usage_error("mta-sts-refresh: bad --margin") end
  local port = o.port and math.tointeger(tonumber(o.port))
  if o.port and (not port or port < 1 or port > 65535) then
    usage_error("mta-sts-refresh: bad --port '" .. o.port .. "'")
  end
  local timeout = o.timeout and tonumber(o.timeout)
  if o.timeout and (not timeout or timeout <= 0) then
    usage_error("mta-sts-refresh: bad --timeout '" .. o.timeout .. "'")
  end
  local r = make_resolver(o)
  local list = mailauth.mtasts.refresh{ cache_dir = o.cache, resolver = r, margin = margin,
    ca_file = o["ca-file"], port = port, timeout = timeout }
  if o.json then
    print(json.encode(list))
  else
    for _, e in ipairs(list) do print(("%s: %s (%s)"):format(e.domain, e.status, e.reason)) end
  end
  return 0
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local d = f:read("a")
  f:close()
  return d
end

local function tlsrpt_parse(args)
  local files, json_out = {}, false
  for _, a in ipairs(args) do
    if a == "--json" then json_out = true
    elseif a:sub(1, 2) == "--" then usage_error("tlsrpt parse: unknown option '" .. a .. "'")
    else files[#files + 1] = a end
  end
  if #files == 0 then usage_error("tlsrpt parse: FILE is required") end
  local out = {}
  for _, path in ipairs(files) do
    local data = read_all(path)
    if not data then usage_error("tlsrpt parse: cannot read '" .. path .. "'") end
    local s, err, mt
    if data:sub(1, 1) == "{" or data:sub(1, 2) == "\31\139" then
      s, err = mailauth.tlsrpt.parse(data)
    else
      s, mt = mailauth.tlsrpt.parse_email(mailauth.message(data))
      if not s then err, mt = mt, nil end
    end
    local entry = { file = path, report = s, error = err, media_type = mt }
    out[#out + 1] = entry
    if not json_out then
      if not s then
        print(("%s: not a TLS report: %s"):format(path, err))
      else
        print(("%s: %s, report %s, %s to %s%s"):format(path, s.organization_name, s.report_id, s.start, s["end"],
          s.deviations > 0 and (" (" .. s.deviations .. " deviation(s) tolerated: " .. s.deviation .. ")") or ""))
        for _, p in ipairs(s.policies) do
          local f = {}
          for k, v in pairs(p.failures) do f[#f + 1] = k .. "=" .. v end
          table.sort(f)
          print(("  %s %s: %d successful, %d failed%s"):format(p.policy_type, p.policy_domain, p.success, p.failure,
            #f > 0 and (" (" .. table.concat(f, ", ") .. ")") or ""))
        end
      end
    end
  end
  if json_out then print(json.encode(json.array(out))) end
  return 0
end

-- Outcomes: one JSON object per line, with the fields of agg:add
-- (policy_domain, policy_type, policy_string, mx_host, success, result_type, ...).
local function tlsrpt_report(args)
  local o = parse(args, { outcomes = "value", org = "value", contact = "value", sender = "value",
    start = "value", ["end"] = "value", ["report-id"] = "value", out = "value" })
  for _, k in ipairs{ "outcomes", "org", "contact", "sender", "start", "end" } do
    if not o[k] then usage_error("tlsrpt report: --" .. k .. " is required") end
  end
  local t0, t1 = math.tointeger(tonumber(o.start)), math.tointeger(tonumber(o["end"]))
  if not t0 or not t1 or t1 < t0 then usage_error("tlsrpt report: bad --start/--end") end
  local f = io.open(o.outcomes)
  if not f then usage_error("tlsrpt report: cannot read '" .. o.outcomes .. "'") end
  local cjson = require "cjson"
  local agg = mailauth.tlsrpt.aggregator()
  -- One outcome per line (mailauth.tlsrpt.log); the lines of the period
  -- [start, end) count.  A line that does not read (an append cut short by
  -- a full disk, a hand edit) is skipped with a warning.
  local n, used, skipped = 0, 0, 0
  for line in f:lines() do
    n = n + 1
    if line:match("%S") then
      local ok, s = pcall(cjson.decode, line)
      local err
      if not ok or type(s) ~= "table" then
        err = "not a JSON object"
      elseif type(s.time) ~= "number" or not math.tointeger(s.time) then
        err = "no integer time"
      elseif type(s.success) ~= "boolean" then
        err = "no boolean success"
      elseif s.time >= t0 and s.time < t1 then
        s.time = nil
        if type(s.count) == "number" then s.count = math.tointeger(s.count) or s.count end
        local called, added, why = pcall(agg.add, agg, s)
        if not called then err = tostring(added):gsub("^[^:]*:%d+: ", "")
        elseif not added then err = why
        else used = used + 1 end
      end
      if err then
        skipped = skipped + 1
        io.stderr:write(("mailauth: tlsrpt report: %s line %d skipped: %s\n"):format(o.outcomes, n, err))
      end
    end
  end
  f:close()
  if used == 0 then io.stderr:write("mailauth: tlsrpt report: no outcomes in the period\n") end
  local id = o["report-id"] or ("%d.%s"):format(t0, o.sender)
  for _, dom in ipairs(agg:domains()) do
    local report = agg:report{ policy_domain = dom, organization_name = o.org, contact_info = o.contact,
      report_id = id .. "." .. dom, start = t0, ["end"] = t1 }
    if o.out then
      local name = o.out .. "/" .. mailauth.tlsrpt.filename{ sender = o.sender, policy_domain = dom,
        start = t0, ["end"] = t1, gzip = true }
      local w = io.open(name, "wb")
      if not w then usage_error("tlsrpt report: cannot write '" .. name .. "'") end
      w:write(mailauth.tlsrpt.gzip(report))
      w:close()
      print(name)
    else
      print(report)
    end
  end
  return 0
end

function commands.tlsrpt(args)
  local sub = args[1]
  local rest = { table.unpack(args, 2) }
  if sub == "parse" then return tlsrpt_parse(rest) end
  if sub == "report" then return tlsrpt_report(rest) end
  usage_error("tlsrpt: expected 'parse' or 'report'")
end

function commands.audit(args)
  local domain = args[1]
  if not domain or domain:sub(1, 2) == "--" then usage_error("audit: DOMAIN is required") end
  local o = parse({ table.unpack(args, 2) }, { selector = "list", server = "value", dns = "value",
    ["ca-file"] = "value", port = "value", json = "flag", timeout = "value", now = "value" })
  local port = o.port and math.tointeger(tonumber(o.port))
  if o.port and (not port or port < 1 or port > 65535) then usage_error("audit: bad --port") end
  local r = make_resolver(o)
  local audit = require "mailauth.audit"
  local rep = audit.run(mailauth, { domain = domain, resolver = r, selectors = o.selector,
    ca_file = o["ca-file"], port = port, now = o.now and math.tointeger(tonumber(o.now)) or nil })
  if o.json then
    print(json.encode(rep))
  else
    local mark = { ok = "[ok]  ", info = "[info]", warning = "[warn]", critical = "[FAIL]" }
    print("mail posture of " .. rep.domain)
    for _, f in ipairs(rep.findings) do
      print(("%s %-8s %s"):format(mark[f.severity], f.area, f.finding))
      if f.fix then print(("               fix: %s"):format(f.fix)) end
    end
  end
  return rep.critical and 1 or 0
end

function commands.version()
  print(mailauth._VERSION)
  return 0
end

function commands.publish(args)
  local o = parse(args, { rules = "value", zone = "list", server = "value", dns = "value", json = "flag",
    timeout = "value", ["policy-dir"] = "value" })
  if not o.rules then usage_error("publish: --rules is required") end
  local rules = load_rules(o.rules)
  local pub = require "mailauth.publish"
  local zones = o.zone or pub.zones(rules)
  if #zones == 0 then usage_error("publish: " .. o.rules .. " publishes no zone") end
  -- SPF includes are followed only with DNS to follow them in.
  local r = (o.dns or o.server) and make_resolver(o) or nil
  local base = o.rules:match("^(.*)/[^/]*$") or "."
  local out, refused = {}, false
  for _, z in ipairs(zones) do
    local res, errs = pub.zone(rules, z, { resolver = r, base_dir = base })
    if not res then
      refused = true
      for _, e in ipairs(errs) do io.stderr:write(("mailauth: publish %s: refused: %s\n"):format(z, e)) end
      out[#out + 1] = { zone = z, refused = json.array(errs) }
    else
      out[#out + 1] = res
      if o["policy-dir"] and res.mta_sts then
        local dir = o["policy-dir"] .. "/" .. res.mta_sts.host .. "/.well-known"
        os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
        local f = io.open(dir .. "/mta-sts.txt", "wb")
        if not f then usage_error("publish: cannot write " .. dir .. "/mta-sts.txt") end
        f:write(res.mta_sts.policy)
        f:close()
      end
    end
  end
  if o.json then
    for _, z in ipairs(out) do
      if z.records then z.records = json.array(z.records); z.warnings = json.array(z.warnings) end
    end
    print(json.encode(json.array(out)))
  else
    for _, z in ipairs(out) do
      if z.records then
        print(("; %s: %d records"):format(z.zone, #z.records))
        for _, w in ipairs(z.warnings) do print("; warning: " .. w) end
        for _, rec in ipairs(z.records) do
          local data = rec.type == "TXT" and pub.txt_strings(rec.data) or (rec.data .. ".")
          print(("%s. %d IN %s %s"):format(rec.name, rec.ttl, rec.type, data))
        end
        if z.mta_sts then
          print(("; MTA-STS policy to serve at https://%s%s (id %s):"):format(z.mta_sts.host, z.mta_sts.path,
            z.mta_sts.id))
          for line in z.mta_sts.policy:gmatch("([^\r\n]+)") do print(";   " .. line) end
        end
      end
    end
  end
  return refused and 1 or 0
end

function commands.help()
  io.write(USAGE)
  return 0
end

local cmd = arg[1]
if cmd == nil or cmd == "-h" or cmd == "--help" then
  io.stderr:write(USAGE)
  os.exit(cmd and 0 or 2)
end
local fn = commands[cmd]
if not fn then usage_error("unknown command '" .. cmd .. "' (try 'mailauth help')") end
os.exit(fn({ table.unpack(arg, 2) }))
