-- Shared by the MTA-STS integration scripts (setup.lua, discovery.lua,
-- hostile.lua, cli.lua): the environment run_mtasts.sh sets up, the hostile
-- hosts (which server misbehaves how, and what discovery must answer), and
-- small helpers (clock, files, checks, the closing RESULT line).
local M = {}

-- The environment run_mtasts.sh exports (MTASTS_*); a missing variable is an error.
function M.env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then error("environment variable " .. name .. " is not set (run through run_mtasts.sh)", 2) end
  return v
end

function M.envnum(name) return math.tointeger(tonumber(M.env(name))) end

-- Every hostile domain is <name>.hostile.test; its policy host
-- mta-sts.<name>.hostile.test serves a good policy on the main nginx port
-- and misbehaves on the server named by `srv`:
--   nginx   the second nginx port, configured by `ngx` (setup.lua)
--   py      badhttps.py's TLS socket (the mode is the name)
--   stall | plain | reset | closed   badhttps.py's raw sockets
--   dns     no HTTPS server: the DNS misbehaves (`dns` says how)
-- `status` is what discovery must answer without a cache, `fetch` the fetch
-- outcome it must report (nil: no fetch is made; "*": any failure); `slow`
-- cases end by the timeout, `endless` ones also feed the memory check.
M.SUFFIX = ".hostile.test"
M.HOSTILE = {
  { name = "redirect301", srv = "nginx", ngx = { redirect = 301 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "redirect302", srv = "nginx", ngx = { redirect = 302 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "redirect307", srv = "nginx", ngx = { redirect = 307 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "redirect308", srv = "nginx", ngx = { redirect = 308 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "status404", srv = "nginx", ngx = { code = 404 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "status500", srv = "nginx", ngx = { code = 500 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "status204", srv = "nginx", ngx = { code = 204 }, status = "FETCH_ERROR", fetch = "http" },
  { name = "ctype-html", srv = "nginx", ngx = { ctype = "text/html" }, status = "FETCH_ERROR", fetch = "content-type" },
  { name = "ctype-json", srv = "nginx", ngx = { ctype = "application/json" }, status = "FETCH_ERROR", fetch = "content-type" },
  { name = "ctype-octet", srv = "nginx", ngx = { ctype = "application/octet-stream" }, status = "FETCH_ERROR", fetch = "content-type" },
  { name = "ctype-plainplus", srv = "nginx", ngx = { ctype = "text/plain+" }, status = "FETCH_ERROR", fetch = "content-type" },
  { name = "ctype-none", srv = "nginx", ngx = { ctype = "" }, status = "FETCH_ERROR", fetch = "content-type" },
  -- control: parameters are allowed (RFC 8461 3.3)
  { name = "ctype-charset", srv = "nginx", ngx = { ctype = "text/plain; charset=utf-8" }, status = "VALID", fetch = "ok" },
  { name = "cert-expired", srv = "nginx", ngx = { cert = "expired" }, status = "FETCH_ERROR", fetch = "tls" },
  { name = "cert-notyet", srv = "nginx", ngx = { cert = "notyet" }, status = "FETCH_ERROR", fetch = "tls" },
  { name = "cert-mismatch", srv = "nginx", ngx = { cert = "mismatch" }, status = "FETCH_ERROR", fetch = "tls" },
  { name = "cert-untrusted", srv = "nginx", ngx = { cert = "untrusted" }, status = "FETCH_ERROR", fetch = "tls" },
  { name = "cert-selfsigned", srv = "nginx", ngx = { cert = "selfsigned" }, status = "FETCH_ERROR", fetch = "tls" },
  { name = "big-static", srv = "nginx", ngx = { size = 131193 }, status = "FETCH_ERROR", fetch = "too-large" },
  { name = "big-chunked", srv = "nginx", ngx = { size = 131193, chunked = true }, status = "FETCH_ERROR", fetch = "too-large" },
  -- the 64 KiB limit at its edge: a valid policy of exactly 65536 bytes is
  -- accepted, one byte more is not
  { name = "exact64k", srv = "nginx", ngx = { size = 65536 }, status = "VALID", fetch = "ok" },
  { name = "exact64k-chunked", srv = "nginx", ngx = { size = 65536, chunked = true }, status = "VALID", fetch = "ok" },
  { name = "over64k", srv = "nginx", ngx = { size = 65537 }, status = "FETCH_ERROR", fetch = "too-large" },
  { name = "over64k-chunked", srv = "nginx", ngx = { size = 65537, chunked = true }, status = "FETCH_ERROR", fetch = "too-large" },
  { name = "empty", srv = "nginx", ngx = { body = "" }, status = "FETCH_ERROR", fetch = "ok" },
  { name = "garbage", srv = "nginx", ngx = { body = "<html><body>It works!</body></html>\n" }, status = "FETCH_ERROR", fetch = "ok" },
  { name = "slowloris", srv = "py", status = "FETCH_ERROR", fetch = "timeout", slow = true },
  { name = "slowbody", srv = "py", status = "FETCH_ERROR", fetch = "timeout", slow = true },
  { name = "endless", srv = "py", status = "FETCH_ERROR", fetch = "too-large", endless = true },
  { name = "endless-chunked", srv = "py", status = "FETCH_ERROR", fetch = "too-large", endless = true },
  { name = "endless-header", srv = "py", status = "FETCH_ERROR", fetch = "*", endless = true },
  { name = "many-headers", srv = "py", status = "FETCH_ERROR", fetch = "*", endless = true },
  { name = "informational", srv = "py", status = "FETCH_ERROR", fetch = "*", endless = true },
  -- an HTTP/1.0 server with a good policy (the body ends with the connection)
  { name = "http10", srv = "py", status = "VALID", fetch = "ok" },
  { name = "http10-endless", srv = "py", status = "FETCH_ERROR", fetch = "too-large", endless = true },
  { name = "http09", srv = "py", status = "FETCH_ERROR", fetch = "*" },
  { name = "truncated", srv = "py", status = "FETCH_ERROR", fetch = "*" },
  { name = "gzip", srv = "py", status = "FETCH_ERROR", fetch = "ok" },
  { name = "tls-stall", srv = "stall", status = "FETCH_ERROR", fetch = "timeout", slow = true },
  { name = "plain-http", srv = "plain", status = "FETCH_ERROR", fetch = "tls" },
  { name = "conn-reset", srv = "reset", status = "FETCH_ERROR", fetch = "*" },
  { name = "conn-refused", srv = "closed", status = "FETCH_ERROR", fetch = "connect" },
  { name = "dns-txt-timeout", srv = "dns", dns = "txt-timeout", status = "FETCH_ERROR", fetch = nil },
  { name = "dns-txt-servfail", srv = "dns", dns = "txt-servfail", status = "FETCH_ERROR", fetch = nil },
  { name = "dns-host-timeout", srv = "dns", dns = "host-timeout", status = "FETCH_ERROR", fetch = "dns" },
  { name = "dns-host-nxdomain", srv = "dns", dns = "host-nxdomain", status = "FETCH_ERROR", fetch = "dns" },
  { name = "dns-blackhole", srv = "dns", dns = "blackhole", status = "FETCH_ERROR", fetch = nil, slow = true },
  -- the record is gone: no policy, but a cached one stays (RFC 8461 3.1, 5.1)
  { name = "txt-removed", srv = "dns", dns = "txt-nxdomain", status = "NONE", fetch = nil },
}

-- Hosts with only a good policy on the main port (lifecycle and CLI tests).
M.GOOD = { "lifecycle", "expiry1", "expiry2", "expiry3", "corrupt", "records", "memory", "cli", "cli2" }

function M.domain(name) return name .. M.SUFFIX end

-- The good policy every hostile domain serves on the main port.
function M.good_policy(domain)
  return ("version: STSv1\nmode: enforce\nmx: mail.%s\nmx: *.mx.%s\nmax_age: 86400\n"):format(domain, domain)
end

-- A valid policy padded with extension lines ("x: aaa...") to exactly n bytes.
function M.padded_policy(domain, n)
  local base = M.good_policy(domain)
  local rest = n - #base
  assert(rest >= 64, "padding too small")
  local lines = {}
  local first = 64 + rest % 64
  lines[1] = "x: " .. ("a"):rep(first - 4) .. "\n"
  for _ = 1, (rest - first) // 64 do lines[#lines + 1] = "x: " .. ("a"):rep(60) .. "\n" end
  local s = base .. table.concat(lines)
  assert(#s == n)
  return s
end

-- Seconds with 10 ms resolution, from /proc/uptime (a monotonic clock).
function M.clock()
  local f = assert(io.open("/proc/uptime"))
  local s = f:read("n")
  f:close()
  return s
end

function M.readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.writefile(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.sh(cmd)
  local ok = os.execute(cmd)
  return ok == true
end

function M.mkdir(path) assert(M.sh("mkdir -p " .. M.quote(path)), "mkdir " .. path) end

function M.sleep(s) os.execute("sleep " .. s) end

-- Peak resident memory of this process, in KiB.
function M.vmhwm()
  local s = M.readfile("/proc/self/status") or ""
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

-- Checks and the closing line.
local passed, failed = 0, 0
local parts = {}
local current

function M.part(name)
  current = { name = name, passed = 0, total = 0 }
  parts[#parts + 1] = current
end

function M.check(name, ok, detail)
  current.total = current.total + 1
  if ok then
    passed = passed + 1
    current.passed = current.passed + 1
    if os.getenv("MTASTS_VERBOSE") then print("ok   " .. name) end
  else
    failed = failed + 1
    print("FAIL " .. name .. (detail and (": " .. detail) or ""))
  end
  return ok
end

function M.note(s) print("# " .. s) end

function M.finish()
  for _, p in ipairs(parts) do print(("mta-sts-%s: %d/%d"):format(p.name, p.passed, p.total)) end
  print(("RESULT: %d passed, %d failed"):format(passed, failed))
  os.exit(failed == 0 and 0 or 1)
end

-- Compact rendering of a discovery result for failure messages.
function M.show(r)
  if type(r) ~= "table" then return tostring(r) end
  return ("status=%s source=%s id=%s record_id=%s fetch=%s reason=%q"):format(tostring(r.status),
    tostring(r.source), tostring(r.id), tostring(r.record_id), tostring(r.fetch), tostring(r.reason))
end

return M
