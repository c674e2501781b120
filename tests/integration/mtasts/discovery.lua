-- The manifest's 24 MTA-STS discovery cases end to end (run_mtasts.sh
-- discovery): the DNS from each case's "dns" entries through the fixture
-- resolver (plus an A record 127.0.0.1 for mta-sts.<domain>: our fetch
-- resolves the policy host through the same resolver), the policy from
-- nginx on 127.0.0.1 with the test CA, a fresh cache directory per case.
--
-- A case passes when mailauth.mtasts.discover's status is the expected one
-- and, so that a case cannot pass for a wrong reason (a broken server, a
-- certificate problem where an HTTP one is meant), the fetch outcome is
-- the one the case describes:
--   tls untrusted CA / name mismatch    fetch "tls"
--   status other than 200               fetch "http"
--   content type other than text/plain  fetch "content-type"
--   an over-64-KiB body (body_note)     fetch "too-large"
--   a 200 text/plain body               fetch "ok" (VALID: the policy equals
--                                       the body parsed; else the body is an
--                                       invalid policy)
--   no https / DNS failure              no fetch
-- A case whose expectation contradicts RFC 8461 would be listed here with
-- the RFC text (none does).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local C = require "common"
local mailauth = require "mailauth"
local cjson = require "cjson"

local dir = C.env("MTASTS_DIR")
local port = C.envnum("MTASTS_PORT")
local ca = C.env("MTASTS_CA")
local mf = cjson.decode((assert(C.readfile(C.env("MTASTS_MANIFEST") .. "/manifest.json"))))
local NULL = cjson.null

-- The fixture zone of a case.
local function zone(case)
  local z = {}
  local function add(name, rr)
    name = name:lower():gsub("%.$", "")
    z[name] = z[name] or {}
    table.insert(z[name], rr)
  end
  for _, e in ipairs(case.dns) do
    if e.error == "TIMEOUT" then
      add(e.name, "TIMEOUT")
    elseif e.error == "SERVFAIL" then
      add(e.name, "SERVFAIL")
    elseif e.error == "NXDOMAIN" then
      -- an absent name is NXDOMAIN
    elseif e.error ~= nil and e.error ~= NULL then
      error("unknown dns error " .. tostring(e.error))
    elseif e.type == "TXT" or e.type == "A" or e.type == "AAAA" then
      add(e.name, { [e.type] = e.value })
    else
      error("unknown dns entry type " .. tostring(e.type))
    end
  end
  local dom = case.domain:lower():gsub("%.$", "")
  if not dom:find("^%.") and not dom:find("%.%.") then add("mta-sts." .. dom, { A = "127.0.0.1" }) end
  return z
end

-- The fetch outcome the case describes (nil: no fetch expected).
local function expected_fetch(case)
  local h = case.https
  if type(h) ~= "table" then return nil end
  local tls = h.tls or ""
  if not tls:find("^valid certificate") then return "tls" end
  if h.status ~= 200 then return "http" end
  if not tostring(h.content_type):lower():find("^text/plain") then return "content-type" end
  if h.body_note and h.body_note ~= NULL then return "too-large" end
  return "ok"
end

local function same_policy(p, body)
  local want = mailauth.mtasts.parse_policy(body)
  if not want or not p then return false end
  if p.mode ~= want.mode or p.max_age ~= want.max_age or #p.mx ~= #want.mx then return false end
  for i = 1, #p.mx do if p.mx[i] ~= want.mx[i] then return false end end
  return true
end

C.part("discovery")
for i, case in ipairs(mf.discovery.cases) do
  local cache = ("%s/cache-discovery/%02d"):format(dir, i)
  C.mkdir(cache)
  local r = mailauth.resolver{ fixture = zone(case) }
  local t0 = C.clock()
  local ok, res = pcall(mailauth.mtasts.discover, { domain = case.domain, resolver = r, ca_file = ca,
    port = port, cache_dir = cache, timeout = 10 })
  local dt = C.clock() - t0
  local name = ("%s (%s)"):format(case.domain, case.why)
  if not ok then
    C.check(name, false, "discover raised " .. tostring(res))
  else
    local want_fetch = expected_fetch(case)
    local got_fetch = res.fetch
    local good = res.status == case.expected_status
    local detail = ("expected %s, got %s"):format(case.expected_status, C.show(res))
    if good and want_fetch ~= got_fetch then
      good = false
      detail = ("right status %s for a wrong reason: expected fetch %s, got %s"):format(res.status,
        tostring(want_fetch), C.show(res))
    end
    if good and res.status == "VALID" then
      good = res.source == "fetched" and res.cache_written == true and same_policy(res.policy, case.https.body)
      if not good then detail = "VALID but the policy or the cache is not the one served: " .. C.show(res) end
    end
    if good and res.status ~= "VALID" and C.readfile(cache .. "/" .. case.domain:lower():gsub("%.$", "") .. ".sts") then
      good = false
      detail = "a policy was cached for a failed discovery"
    end
    if C.check(name, good, detail) and os.getenv("MTASTS_VERBOSE") then
      C.note(("%-24s %-11s %.2fs %s"):format(case.domain, res.status, dt, res.reason))
    end
  end
end
C.note(("%d cases from %s"):format(#mf.discovery.cases, mf.discovery.source))
C.finish()
