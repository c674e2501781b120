-- The mailauth CLI's mta-sts command against the test servers (run_mtasts.sh
-- cli):
--
--   mailauth mta-sts DOMAIN --dns ZONE.json --cache DIR --ca-file F --port N [--json]
--
-- prints the record, the policy and the cache state; exit status 0 with a
-- result (VALID, NONE or FETCH_ERROR alike), 2 with one "mailauth: ..." line
-- on standard error and nothing on standard output for a usage error.  Also:
-- --force, --mx (the delivery decision), --now past max_age, --timeout
-- bounding a slow server, and several processes refreshing one cache at once.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local C = require "common"
local cjson = require "cjson"

local dir = C.env("MTASTS_DIR")
local P = C.envnum("MTASTS_PORT")
local CA = C.env("MTASTS_CA")
local PY_TLS = C.envnum("MTASTS_PY_TLS")
local PY_CLOSED = C.envnum("MTASTS_PY_CLOSED")
local CLI = C.env("MAILAUTH_CLI")
local q = C.quote

local ID_A, ID_B = "20240101T000000A", "20240101T000000B"
local good, other = C.domain("cli"), C.domain("cli2")
local slow = C.domain("slowloris")
local zone = dir .. "/cli-zone.json"
C.writefile(zone, cjson.encode{
  ["_mta-sts." .. good] = { { TXT = "v=STSv1; id=" .. ID_A } },
  ["mta-sts." .. good] = { { A = "127.0.0.1" } },
  ["_mta-sts." .. other] = { { TXT = "v=STSv1; id=" .. ID_B } },
  ["mta-sts." .. other] = { { A = "127.0.0.1" } },
  ["_mta-sts." .. slow] = { { TXT = "v=STSv1; id=" .. ID_A } },
  ["mta-sts." .. slow] = { { A = "127.0.0.1" } },
  ["_mta-sts.none" .. C.SUFFIX] = { { TXT = "v=spf1 -all" } },
})
local cache = dir .. "/cache-cli"
C.mkdir(cache)
local cache_file = cache .. "/" .. good .. ".sts"

-- Runs the CLI with `args` (a list, quoted here): exit status, stdout, stderr, seconds.
local nrun = 0
local function cli(args)
  nrun = nrun + 1
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = q(a) end
  local err = ("%s/cli-%03d.err"):format(dir, nrun)
  local t0 = C.clock()
  local p = assert(io.popen(q(CLI) .. " " .. table.concat(quoted, " ") .. " 2>" .. q(err)))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, C.readfile(err) or "", C.clock() - t0
end

local function decode(s)
  local ok, v = pcall(cjson.decode, s)
  return ok and type(v) == "table" and v or nil
end

local function base(domain, port)
  return { "mta-sts", domain, "--dns", zone, "--cache", cache, "--ca-file", CA, "--port", tostring(port or P) }
end
local function plus(t, ...)
  local r = { table.unpack(t) }
  for _, a in ipairs{ ... } do r[#r + 1] = a end
  return r
end

local function brief(code, out, err)
  return ("exit %s, stdout %q, stderr %q"):format(tostring(code), out:sub(1, 300), err:sub(1, 200))
end

C.part("cli")

-- A first run fetches and caches.
local code, out, err = cli(plus(base(good), "--json"))
local j = decode(out)
C.check("--json: exit 0 and one JSON object", code == 0 and j ~= nil, brief(code, out, err))
j = j or {}
local pol = type(j.policy) == "table" and j.policy or {}
C.check("--json: the record", j.status == "VALID" and j.record_id == ID_A, brief(code, out, err))
C.check("--json: the policy", pol.mode == "enforce" and pol.max_age == 86400 and pol.version == "STSv1"
  and type(pol.mx) == "table" and pol.mx[1] == "mail." .. good and pol.mx[2] == "*.mx." .. good and #pol.mx == 2,
  brief(code, out, err))
C.check("--json: the cache state (fetched, written)", j.source == "fetched" and j.cache_written == true
  and j.id == ID_A and j.fetch == "ok" and type(j.fetched) == "number" and j.expires == j.fetched + 86400,
  brief(code, out, err))
local f1 = C.readfile(cache_file)
C.check("--cache: the policy file is written", f1 ~= nil and f1:find("\nid: " .. ID_A .. "\n", 1, true) ~= nil)

-- Again: from the cache, the file untouched.
code, out, err = cli(plus(base(good), "--json"))
j = decode(out) or {}
C.check("second run: from the cache", code == 0 and j.status == "VALID" and j.source == "cache"
  and j.cache_written == false and j.fetch == nil and j.id == ID_A, brief(code, out, err))
C.check("second run: cache file unchanged", C.readfile(cache_file) == f1)

-- Text output.
code, out, err = cli(base(good))
local l1, l2 = out:match("^([^\n]*)\n([^\n]*)\n")
C.check("text: status line", code == 0 and l1 ~= nil and l1:find("^VALID: ") ~= nil, brief(code, out, err))
C.check("text: policy line", l2 ~= nil and l2:find("mode=enforce max_age=86400 mx=mail." .. good:gsub("%p", "%%%0")
  .. ",%*%.mx%." .. good:gsub("%p", "%%%0") .. " %(id " .. ID_A .. ", cache%)") ~= nil, brief(code, out, err))

-- --force refetches.
code, out, err = cli(plus(base(good), "--force", "--json"))
j = decode(out) or {}
C.check("--force: fetched again", code == 0 and j.status == "VALID" and j.source == "fetched"
  and j.cache_written == true, brief(code, out, err))

-- --mx: the delivery decision.
code, out, err = cli(plus(base(good), "--mx", "mail." .. good, "--mx", "a.mx." .. good, "--mx", "b.a.mx." .. good,
  "--mx", "evil.example", "--json"))
j = decode(out) or {}
local d = type(j.delivery) == "table" and j.delivery or {}
C.check("--mx: allowed hosts, TLS required (enforce)", code == 0 and d.tls_required == true and d.report_only == false
  and type(d.allowed) == "table" and #d.allowed == 2 and d.allowed[1] == "mail." .. good
  and d.allowed[2] == "a.mx." .. good, brief(code, out, err))

-- --now past max_age: the cached policy is gone, fetched again.
local now = os.time() + 86400 + 3600
code, out, err = cli(plus(base(good), "--now", tostring(now), "--json"))
j = decode(out) or {}
C.check("--now past max_age: fetched again", code == 0 and j.status == "VALID" and j.source == "fetched"
  and j.fetched == now and j.expires == now + 86400, brief(code, out, err))

-- Other outcomes are results too: exit 0.
code, out, err = cli(plus(base(other, PY_CLOSED), "--json"))
j = decode(out) or {}
C.check("FETCH_ERROR: exit 0", code == 0 and j.status == "FETCH_ERROR" and j.fetch == "connect"
  and j.record_id == ID_B and j.policy == nil and j.cache_written == false, brief(code, out, err))
C.check("FETCH_ERROR: nothing cached", C.readfile(cache .. "/" .. other .. ".sts") == nil)
code, out, err = cli(plus(base("none" .. C.SUFFIX), "--json"))
j = decode(out) or {}
C.check("NONE: exit 0", code == 0 and j.status == "NONE" and j.record_id == nil, brief(code, out, err))
code, out, err = cli(base("none" .. C.SUFFIX))
C.check("NONE text: exit 0", code == 0 and out:find("^NONE: ") ~= nil, brief(code, out, err))

-- --timeout bounds the fetch from a slow-loris server (one byte a second).
local secs
code, out, err, secs = cli(plus(base(slow, PY_TLS), "--timeout", "2", "--json"))
j = decode(out) or {}
C.check("--timeout 2 against a slow-loris server: FETCH_ERROR", code == 0 and j.status == "FETCH_ERROR"
  and j.fetch == "timeout", brief(code, out, err))
C.check("--timeout 2 against a slow-loris server: ends within 6 s", secs <= 6, ("took %.1f s"):format(secs))

-- Usage errors: exit 2, one line on stderr, nothing on stdout.
local usage = {
  { "no domain", { "mta-sts" } },
  { "an option where the domain goes", { "mta-sts", "--json" } },
  { "two domains", plus(base(good), "second.example") },
  { "--port 0", plus(base(good), "--port", "0") },
  { "--port 65536", plus(base(good), "--port", "65536") },
  { "--port abc", plus(base(good), "--port", "abc") },
  { "--port without a value", { "mta-sts", good, "--port" } },
  { "--now -1", plus(base(good), "--now", "-1") },
  { "--now abc", plus(base(good), "--now", "abc") },
  { "--ca-file missing", { "mta-sts", good, "--dns", zone, "--ca-file", dir .. "/no-such-ca.pem" } },
  { "--dns missing", { "mta-sts", good, "--dns", dir .. "/no-such-zone.json" } },
  { "--dns and --server", plus(base(good), "--server", "127.0.0.1@53") },
  { "unknown option", plus(base(good), "--bogus") },
  { "a flag with a value", plus(base(good), "--json=yes") },
}
for _, u in ipairs(usage) do
  code, out, err = cli(u[2])
  C.check("usage error, " .. u[1] .. ": exit 2, one line", code == 2 and out == ""
    and err:find("^mailauth: [^\n]+\n$") ~= nil, brief(code, out, err))
end

-- Several processes refreshing one cache at once: all succeed, the file is
-- whole afterwards and no temporary file is left behind.
do
  local n = 6
  local cmd = {}
  local args = {}
  for i, a in ipairs(plus(base(good), "--force", "--json")) do args[i] = q(a) end
  for i = 1, n do
    cmd[#cmd + 1] = ("( %s %s > %s 2>&1; echo $? > %s ) &"):format(q(CLI), table.concat(args, " "),
      q(("%s/par-%d.out"):format(dir, i)), q(("%s/par-%d.rc"):format(dir, i)))
  end
  C.sh(table.concat(cmd, " ") .. " wait")
  local good_runs = 0
  for i = 1, n do
    local rc = (C.readfile(("%s/par-%d.rc"):format(dir, i)) or ""):match("%d+")
    local jj = decode(C.readfile(("%s/par-%d.out"):format(dir, i)) or "") or {}
    if rc == "0" and jj.status == "VALID" and jj.source == "fetched" and jj.cache_written == true then
      good_runs = good_runs + 1
    end
  end
  C.check(n .. " concurrent --force runs on one cache: all VALID and written", good_runs == n,
    good_runs .. " of " .. n)
  code, out, err = cli(plus(base(good), "--json"))
  j = decode(out) or {}
  C.check("after the concurrent runs: the cache file is whole", code == 0 and j.source == "cache"
    and j.status == "VALID", brief(code, out, err))
  local p = io.popen("ls -A " .. q(cache))
  local left = {}
  for name in p:lines() do if name:find("%.tmp$") then left[#left + 1] = name end end
  p:close()
  C.check("after the concurrent runs: no temporary file left", #left == 0, table.concat(left, " "))
end

C.finish()
