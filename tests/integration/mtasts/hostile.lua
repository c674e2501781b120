-- MTA-STS discovery against a hostile network (run_mtasts.sh hostile):
-- slow-loris servers, endless bodies and headers, redirects, wrong status
-- codes and content types, expired / not yet valid / mismatched / untrusted
-- / self-signed certificates, HTTP/1.0 and HTTP/0.9 replies, truncated
-- bodies, resets, refused connections, DNS timeouts (fixture and a real
-- silent server), the 64 KiB limit at its edge; then the policy cache's
-- life (no refetch while the id is unchanged, refetch when it changes or
-- with force, expiry at max_age; requests counted in nginx's access log)
-- and a corrupt cache file; then RFC 8461 3.1/3.2 record and policy rules
-- the manifest does not exercise (part "rfc8461", the RFC text quoted there).
--
-- Each hostile case (common.lua, HOSTILE) runs twice:
--   fresh   an empty cache: the status and fetch outcome of the case, in
--           bounded time (timeout = 2: the whole discovery must end within
--           BOUND seconds; an upper bound only) and no policy cached unless
--           the status is VALID
--   cached  a good policy first fetched under id A (main nginx port), then
--           the TXT id changes to B and the server (or DNS) misbehaves: the
--           result stays VALID with source "cache" and id A, and the cache
--           file is byte for byte unchanged (RFC 8461 5.1); for the cases
--           whose server is good (VALID) the new policy replaces it.
-- Memory: the peak RSS of this process over fetches from endless bodies and
-- headers may grow by at most twice what as many fetches of a good policy
-- add, plus MEM_SLACK_KIB (a client that kept an endless body would grow by
-- hundreds of MiB in the 2 s; the comparison absorbs what the allocator,
-- ASan's quarantine included, keeps anyway).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local C = require "common"
local mailauth = require "mailauth"

local dir = C.env("MTASTS_DIR")
local P = C.envnum("MTASTS_PORT")
local HP = C.envnum("MTASTS_HPORT")
local CA = C.env("MTASTS_CA")
local ROGUE = C.env("MTASTS_ROGUE_CA")
local ACCESS = C.env("MTASTS_ACCESS_LOG")
local PYLOG = C.env("MTASTS_PY_LOG")
local PY = {}
for _, k in ipairs{ "tls", "stall", "plain", "reset", "closed", "dns" } do PY[k] = C.envnum("MTASTS_PY_" .. k:upper()) end

local TIMEOUT = 2
local BOUND = TIMEOUT + 4	-- seconds; slack for a loaded machine and the sanitizers
local MEM_SLACK_KIB = 32 * 1024
local ID_A, ID_B = "20240101T000000A", "20240101T000000B"

local ncache = 0
local function fresh_cache()
  ncache = ncache + 1
  local d = ("%s/cache-hostile/%03d"):format(dir, ncache)
  C.mkdir(d)
  return d
end

local function cache_file(cache, domain) return cache .. "/" .. domain .. ".sts" end

-- The zone of a hostile domain with record id `id`, misbehaving as `dns` says.
local function resolver(domain, id, dns)
  if dns == "blackhole" then
    return mailauth.resolver{ servers = { "127.0.0.1@" .. PY.dns }, timeout = 1, tries = 1, cache = false }
  end
  local txt, host = "_mta-sts." .. domain, "mta-sts." .. domain
  local z = {
    [txt] = { { TXT = "v=STSv1; id=" .. id } },
    [host] = { { A = "127.0.0.1" } },
  }
  if dns == "txt-timeout" then z[txt] = { "TIMEOUT" }
  elseif dns == "txt-servfail" then z[txt] = { "SERVFAIL" }
  elseif dns == "txt-nxdomain" then z[txt] = nil
  elseif dns == "host-timeout" then z[host] = { "TIMEOUT" }
  elseif dns == "host-nxdomain" then z[host] = nil
  elseif dns ~= nil then error("unknown dns mode " .. dns) end
  return mailauth.resolver{ fixture = z }
end

local function port_for(hc)
  if hc.srv == "nginx" then return HP end
  if hc.srv == "py" then return PY.tls end
  if hc.srv == "dns" then return P end
  return assert(PY[hc.srv], hc.srv)
end

local function discover(domain, r, port, cache, extra)
  local o = { domain = domain, resolver = r, ca_file = CA, port = port, cache_dir = cache, timeout = TIMEOUT }
  for k, v in pairs(extra or {}) do o[k] = v end
  local t0 = C.clock()
  local ok, res = pcall(mailauth.mtasts.discover, o)
  local dt = C.clock() - t0
  if not ok then return { status = "RAISED", reason = tostring(res) }, dt end
  return res, dt
end

local function fetch_ok(want, got)
  if want == nil then return got == nil end
  if want == "*" then return got ~= nil and got ~= "ok" end
  return got == want
end

-- Requests for `host` seen by nginx on `port` (its access log).
local function nginx_requests(port, host)
  C.sleep(0.2)	-- nginx logs a request after sending the reply
  local n = 0
  local s = C.readfile(ACCESS) or ""
  local prefix = port .. " " .. host .. " "
  for line in s:gmatch("[^\n]+") do
    if line:sub(1, #prefix) == prefix then n = n + 1 end
  end
  return n
end

-------------------------------------------------------------------------------
C.part("hostile")
for _, hc in ipairs(C.HOSTILE) do
  local domain = C.domain(hc.name)
  local port = port_for(hc)

  -- fresh
  local cache = fresh_cache()
  local res, dt = discover(domain, resolver(domain, ID_B, hc.dns), port, cache)
  C.check(hc.name .. " fresh: " .. hc.status .. (hc.fetch and (" (fetch " .. hc.fetch .. ")") or " (no fetch)"),
    res.status == hc.status and fetch_ok(hc.fetch, res.fetch), "got " .. C.show(res))
  C.check(hc.name .. " fresh: ends within " .. BOUND .. " s", dt <= BOUND, ("took %.2f s"):format(dt))
  local f = C.readfile(cache_file(cache, domain))
  if hc.status == "VALID" then
    C.check(hc.name .. " fresh: policy cached", f and f:find("\nid: " .. ID_B .. "\n", 1, true) ~= nil,
      "cache file: " .. tostring(f and f:sub(1, 80)))
  else
    C.check(hc.name .. " fresh: nothing cached", f == nil, "a cache file was written")
  end
  if os.getenv("MTASTS_VERBOSE") then C.note(("%-18s fresh  %.2fs %s"):format(hc.name, dt, C.show(res))) end

  -- cached: a good policy under id A, then id B and the misbehaviour
  cache = fresh_cache()
  local first = discover(domain, resolver(domain, ID_A), P, cache)
  local before = C.readfile(cache_file(cache, domain))
  if C.check(hc.name .. " cached: first fetch (good server)", first.status == "VALID" and first.source == "fetched"
      and first.cache_written == true and before ~= nil, "got " .. C.show(first)) then
    res, dt = discover(domain, resolver(domain, ID_B, hc.dns), port, cache)
    local after = C.readfile(cache_file(cache, domain))
    if hc.status == "VALID" then
      C.check(hc.name .. " cached: new policy under id B replaces it", res.status == "VALID"
        and res.source == "fetched" and res.id == ID_B and after ~= nil
        and after:find("\nid: " .. ID_B .. "\n", 1, true) ~= nil, "got " .. C.show(res))
    else
      C.check(hc.name .. " cached: VALID from the cache (id A)", res.status == "VALID" and res.source == "cache"
        and res.id == ID_A and res.policy and res.policy.mode == "enforce"
        and res.policy.mx[1] == "mail." .. domain and fetch_ok(hc.fetch, res.fetch), "got " .. C.show(res))
      C.check(hc.name .. " cached: cache file unchanged", after == before,
        after == nil and "the cache file is gone" or "the cache file changed")
    end
    C.check(hc.name .. " cached: ends within " .. BOUND .. " s", dt <= BOUND, ("took %.2f s"):format(dt))
    if os.getenv("MTASTS_VERBOSE") then C.note(("%-18s cached %.2fs %s"):format(hc.name, dt, C.show(res))) end
  end
end

-- Redirects were not followed: the good policy their Location names (same
-- host, main port) was fetched once per domain, by the "cached" first step.
for _, hc in ipairs(C.HOSTILE) do
  if hc.ngx and hc.ngx.redirect then
    local host = "mta-sts." .. C.domain(hc.name)
    local n = nginx_requests(P, host)
    C.check(hc.name .. ": Location not followed", n == 1, ("%d request(s) on the main port, 1 expected"):format(n))
    local m = nginx_requests(HP, host)
    C.check(hc.name .. ": the redirect asked twice", m == 2, ("%d request(s), 2 expected"):format(m))
  end
end

-- The untrusted server is fine but for its CA: trusting that CA makes it VALID.
do
  local domain = C.domain("cert-untrusted")
  local res = discover(domain, resolver(domain, ID_B), HP, fresh_cache(), { ca_file = ROGUE })
  C.check("cert-untrusted control: VALID when its CA is trusted", res.status == "VALID", "got " .. C.show(res))
end

-- Bounded memory: endless bodies and headers against good fetches.
do
  local N = 12
  local good = C.domain("memory")
  local endless = {}
  for _, hc in ipairs(C.HOSTILE) do if hc.endless then endless[#endless + 1] = C.domain(hc.name) end end
  local function grow(domain_of, port)
    local h0 = C.vmhwm()
    for i = 1, N do
      local d = domain_of(i)
      discover(d, resolver(d, ID_A), port, nil)
    end
    return C.vmhwm() - h0
  end
  grow(function() return good end, P)	-- warm-up
  local base = grow(function() return good end, P)
  local bad = grow(function(i) return endless[(i - 1) % #endless + 1] end, PY.tls)
  C.note(("peak RSS: +%d KiB over %d good fetches, +%d KiB over %d endless ones (now %d KiB)"):format(base, N, bad, N,
    C.vmhwm()))
  C.check(("endless bodies and headers: peak RSS grows by at most 2 x %d KiB + %d MiB"):format(base,
    MEM_SLACK_KIB // 1024), bad <= 2 * base + MEM_SLACK_KIB, ("grew by %d KiB"):format(bad))
end

-- What the misbehaving server saw (bytes it got out before the client left).
do
  local s = C.readfile(PYLOG) or ""
  for line in s:gmatch("[^\n]+") do
    if line:find("mta%-sts%.endless") or line:find("mta%-sts%.http10%-endless") or line:find("headers")
        or line:find("informational") then
      C.note("badhttps: " .. line)
    end
  end
end

-------------------------------------------------------------------------------
C.part("cache")
local T0 = 1700000000
local AGE = 86400

do
  local domain = C.domain("lifecycle")
  local host = "mta-sts." .. domain
  local cache = fresh_cache()
  local file = cache_file(cache, domain)
  local base = nginx_requests(P, host)
  local function step(name, now, id, want, opts)
    local o = { now = now }
    for k, v in pairs(opts or {}) do o[k] = v end
    local res = discover(domain, resolver(domain, id), o.port or P, cache, o)
    local n = nginx_requests(P, host) - base
    local ok = res.status == want.status and res.source == want.source and n == want.requests
      and (want.id == nil or res.id == want.id)
    C.check("lifecycle: " .. name, ok, ("got %s, %d request(s) (expected %s %s, %d)"):format(C.show(res), n,
      want.status, tostring(want.source), want.requests))
    return res
  end
  local r = step("first discovery fetches", T0, ID_A, { status = "VALID", source = "fetched", requests = 1, id = ID_A })
  C.check("lifecycle: cached with expires = now + max_age", r.fetched == T0 and r.expires == T0 + AGE
    and (C.readfile(file) or ""):find("\nid: " .. ID_A .. "\n", 1, true) ~= nil, C.show(r))
  local f1 = C.readfile(file)
  step("same id: no refetch", T0 + 100, ID_A, { status = "VALID", source = "cache", requests = 1, id = ID_A })
  step("same id again: no refetch", T0 + 200, ID_A, { status = "VALID", source = "cache", requests = 1, id = ID_A })
  C.check("lifecycle: cache file untouched by cache hits", C.readfile(file) == f1)
  step("force: refetch", T0 + 300, ID_A, { status = "VALID", source = "fetched", requests = 2, id = ID_A },
    { force = true })
  r = step("id changed: refetch", T0 + 400, ID_B, { status = "VALID", source = "fetched", requests = 3, id = ID_B })
  C.check("lifecycle: new entry under the new id", r.expires == T0 + 400 + AGE
    and (C.readfile(file) or ""):find("\nid: " .. ID_B .. "\n", 1, true) ~= nil, C.show(r))
  step("new id unchanged: no refetch", T0 + 500, ID_B, { status = "VALID", source = "cache", requests = 3, id = ID_B })
  step("one second before max_age: still cached", T0 + 400 + AGE - 1, ID_B,
    { status = "VALID", source = "cache", requests = 3, id = ID_B })
  -- at max_age the policy is gone: a failing server gives FETCH_ERROR, not the old policy
  step("at max_age with the server down: FETCH_ERROR", T0 + 400 + AGE, ID_B,
    { status = "FETCH_ERROR", requests = 3 }, { port = PY.closed })
  C.check("lifecycle: the expired policy was removed", C.readfile(file) == nil, "the cache file is still there")
end

do -- expiry with the record gone: NONE; before expiry the cached policy stays
  local domain = C.domain("expiry1")
  local cache = fresh_cache()
  local file = cache_file(cache, domain)
  local r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 })
  C.check("expiry1: fetched", r.status == "VALID" and r.source == "fetched", C.show(r))
  local f1 = C.readfile(file)
  r = discover(domain, resolver(domain, ID_A, "txt-nxdomain"), P, cache, { now = T0 + AGE - 1 })
  C.check("expiry1: record removed before max_age: cached policy stays (RFC 8461 3.1, 5.1)",
    r.status == "VALID" and r.source == "cache" and C.readfile(file) == f1, C.show(r))
  r = discover(domain, resolver(domain, ID_A, "txt-nxdomain"), P, cache, { now = T0 + AGE + 1 })
  C.check("expiry1: record removed, past max_age: NONE and the policy is gone",
    r.status == "NONE" and r.policy == nil and C.readfile(file) == nil, C.show(r))
end

do -- expiry with a DNS failure: FETCH_ERROR, the policy is gone
  local domain = C.domain("expiry2")
  local cache = fresh_cache()
  local file = cache_file(cache, domain)
  local r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 })
  C.check("expiry2: fetched", r.status == "VALID" and r.source == "fetched", C.show(r))
  r = discover(domain, resolver(domain, ID_A, "txt-timeout"), P, cache, { now = T0 + AGE - 1 })
  C.check("expiry2: DNS timeout before max_age: cached policy stays", r.status == "VALID" and r.source == "cache", C.show(r))
  r = discover(domain, resolver(domain, ID_A, "txt-timeout"), P, cache, { now = T0 + AGE })
  C.check("expiry2: DNS timeout at max_age: FETCH_ERROR and the policy is gone",
    r.status == "FETCH_ERROR" and r.policy == nil and C.readfile(file) == nil, C.show(r))
end

do -- expiry with the same id and a good server: fetched again
  local domain = C.domain("expiry3")
  local host = "mta-sts." .. domain
  local cache = fresh_cache()
  local base = nginx_requests(P, host)
  local r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 })
  C.check("expiry3: fetched", r.status == "VALID" and r.source == "fetched", C.show(r))
  r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 + AGE + 10 })
  local n = nginx_requests(P, host) - base
  C.check("expiry3: same id past max_age: fetched again, new expiry", r.status == "VALID" and r.source == "fetched"
    and r.expires == T0 + AGE + 10 + AGE and n == 2, C.show(r) .. (", %d requests"):format(n))
end

do -- a corrupt or foreign cache file is as if absent
  local domain = C.domain("corrupt")
  local host = "mta-sts." .. domain
  local cache = fresh_cache()
  local file = cache_file(cache, domain)
  local base = nginx_requests(P, host)
  local r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 })
  local good = C.readfile(file)
  C.check("corrupt: fetched", r.status == "VALID" and good ~= nil, C.show(r))
  local variants = {
    { "truncated", good and good:sub(1, #good - 10) or "" },
    { "garbage", "this is not a cache file\n" },
    { "empty", "" },
    { "longer than said", (good or "") .. "mx: evil.example\n" },
  }
  for i, v in ipairs(variants) do
    C.writefile(file, v[2])
    r = discover(domain, resolver(domain, ID_A), P, cache, { now = T0 + i })
    local n = nginx_requests(P, host) - base
    C.check("corrupt: " .. v[1] .. " cache file: refetched and rewritten", r.status == "VALID" and r.source == "fetched"
      and n == i + 1 and C.readfile(file) ~= v[2] and (r.policy and #r.policy.mx == 2),
      C.show(r) .. (", %d requests"):format(n))
  end
end

-------------------------------------------------------------------------------
-- RFC 8461 rules for the record and the policy that the manifest does not
-- exercise (the good policy server of records.hostile.test on the main port).
--   3.1: "If multiple TXT records for "_mta-sts" are returned by the
--   resolver, records that do not begin with "v=STSv1;" are discarded.  If
--   the number of resulting records is not one, or if the resulting record is
--   syntactically invalid, senders MUST assume the recipient domain does not
--   have an available MTA-STS Policy and skip the remaining steps of policy
--   discovery.  (Note that absence of a usable TXT record is not by itself
--   sufficient to remove a sender's previously cached policy for the Policy
--   Domain, as discussed in Section 5.1 ...)  If the resulting TXT record
--   contains multiple strings, then the record MUST be treated as if those
--   strings are concatenated together without adding spaces."
--   3.2: "Parsers MUST accept TXT records and policy files that are
--   syntactically valid ... If any non-repeated field -- i.e., all fields
--   excepting "mx" -- is duplicated, all entries except for the first SHALL
--   be ignored."
-- "No available policy" is NONE in the manifest's vocabulary ("no usable
-- MTA-STS TXT record: domain has no policy"), as in postfix-mta-sts-resolver.
C.part("rfc8461")
do
  local domain = C.domain("records")
  local txt, host = "_mta-sts." .. domain, "mta-sts." .. domain
  local function zone(records)
    return mailauth.resolver{ fixture = { [txt] = records, [host] = { { A = "127.0.0.1" } } } }
  end
  local function run(name, records, want, cache)
    local res = discover(domain, zone(records), P, cache or fresh_cache())
    local ok = res.status == want.status and (want.record_id == nil or res.record_id == want.record_id)
      and (want.source == nil or res.source == want.source)
    C.check(name, ok, ("expected %s%s, got %s"):format(want.status,
      want.record_id and (" record_id " .. want.record_id) or "", C.show(res)))
    return res
  end
  local A = "v=STSv1; id=" .. ID_A
  local B = "v=STSv1; id=" .. ID_B
  run("3.1: two STS records: no policy (NONE)", { { TXT = A }, { TXT = B } }, { status = "NONE" })
  run("3.1: an STS record with a bad id: no policy (NONE)", { { TXT = "v=STSv1; id=not_alnum!" } }, { status = "NONE" })
  run("3.1: an STS record without id: no policy (NONE)", { { TXT = "v=STSv1;" } }, { status = "NONE" })
  run("3.1: non-STS TXT records beside the STS record are discarded",
    { { TXT = "v=spf1 -all" }, { TXT = A }, { TXT = "google-site-verification=x" } },
    { status = "VALID", record_id = ID_A })
  run("3.1: a record in several strings is joined without spaces", { { TXT = { "v=STSv1; i", "d=" .. ID_A } } },
    { status = "VALID", record_id = ID_A })
  run("3.2: a duplicated id: the first counts", { { TXT = A .. "; id=" .. ID_B } },
    { status = "VALID", record_id = ID_A })
  -- with a cached policy, an unusable record leaves it in force (5.1)
  local cache = fresh_cache()
  run("5.1: first fetch", { { TXT = A } }, { status = "VALID", source = "fetched" }, cache)
  local before = C.readfile(cache_file(cache, domain))
  run("5.1: two STS records with a cached policy: the cached policy", { { TXT = A }, { TXT = B } },
    { status = "VALID", source = "cache" }, cache)
  run("5.1: a bad record with a cached policy: the cached policy", { { TXT = "v=STSv1; id=" } },
    { status = "VALID", source = "cache" }, cache)
  C.check("5.1: cache file unchanged by unusable records", C.readfile(cache_file(cache, domain)) == before)

  local function policy(name, text, want)
    local p, err = mailauth.mtasts.parse_policy(text)
    local ok = p ~= nil
    for k, v in pairs(want) do ok = ok and p[k] == v end
    local got = p and ("mode=%s max_age=%s"):format(p.mode, p.max_age) or ("error: " .. tostring(err))
    C.check(name, ok, "got " .. got)
  end
  policy("3.2: a duplicated mode: the first counts",
    "version: STSv1\nmode: enforce\nmode: testing\nmx: mail.example\nmax_age: 86400\n", { mode = "enforce" })
  policy("3.2: a duplicated max_age: the first counts",
    "version: STSv1\nmode: testing\nmx: mail.example\nmax_age: 86400\nmax_age: 60\n", { max_age = 86400 })
  policy("3.2: a duplicated version: the first counts",
    "version: STSv1\nversion: STSv2\nmode: testing\nmx: mail.example\nmax_age: 86400\n", { mode = "testing" })
  policy("3.2: unknown fields are ignored",
    "version: STSv1\nmode: testing\nx-note: hello world\nmx: mail.example\nmax_age: 86400\n", { mode = "testing" })
end

C.finish()
