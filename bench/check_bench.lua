-- Pipeline benchmark, mailauth side (see bench/README.md, "Pipeline").
--
--   lua5.4 bench/check_bench.lua [-t SECONDS] [-r ROUNDS] [-n PASSES] [-d SHOWN]
--                                [--rules FILE] [-o dkim,check] [--stages PASSES] [CORPUS]
--
-- CORPUS (default /tmp/corpus) holds the shared corpus's DKIM half and
-- CORPUS/check/{zone.json,envelopes.json} made by bench/check_zone.py.
-- Every message is read into memory first.  Two workloads over the same
-- 1000 messages, one shared resolver (the fixture zone with its cache, and
-- the decoded-key cache, as a long-running process has them):
--   dkim   mailauth.message(text) + mailauth.dkim.verify(msg, {...})
--   check  mailauth.check{ message = mailauth.message(text), ip, helo,
--          mail_from, resolver, rules, authserv_id, now }
-- One untimed pass of each counts agreement (and warms the caches); then
-- rounds of one pass of each, the order alternating, until at least ROUNDS
-- rounds and SECONDS of timed work.  Time is the process's CPU time
-- (os.clock, CLOCK_PROCESS_CPUTIME_ID): Lua has no monotonic wall clock, and
-- on a shared core CPU time leaves other processes' slices out.  Prints
--   mailauth-dkim   1000/1000 agree                         5400 msgs/s
--   mailauth-check  1000/1000 agree (dkim 1000 spf 1000 ...)  4800 msgs/s  1.12x DKIM cost
-- Per-pass min/median/max go to stderr.  Exit status 1 on a disagreement.
local mailauth = require "mailauth"
local cjson = require "cjson"

local NOW = 1709294400 -- an hour after the corpus's t=
local AUTHSERV = "mx.bench.example"

local opt = { t = 4, r = 9, n = nil, d = 0, o = "dkim,check", rules = nil, corpus = "/tmp/corpus" }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "-t" then opt.t = tonumber(arg[i + 1]); i = i + 1
    elseif a == "-r" then opt.r = tonumber(arg[i + 1]); i = i + 1
    elseif a == "-n" then opt.n = tonumber(arg[i + 1]); i = i + 1
    elseif a == "-d" then opt.d = tonumber(arg[i + 1]); i = i + 1
    elseif a == "-o" then opt.o = arg[i + 1]; i = i + 1
    elseif a == "--rules" then opt.rules = arg[i + 1]; i = i + 1
    elseif a == "--stages" then opt.stages = tonumber(arg[i + 1]); i = i + 1
    elseif a:sub(1, 1) == "-" then io.stderr:write("check_bench: unknown option " .. a .. "\n"); os.exit(2)
    else opt.corpus = a end
    i = i + 1
  end
end
if opt.stages then opt.o = "" end
local want = {}
for w in opt.o:gmatch("[^,]+") do want[w] = true end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local envs = cjson.decode(slurp(opt.corpus .. "/check/envelopes.json"))
local texts, bytes = {}, 0
for i, e in ipairs(envs) do
  texts[i] = slurp(opt.corpus .. "/dkim/msgs/" .. e.file)
  bytes = bytes + #texts[i]
end
local N = #envs

local r = mailauth.resolver{ fixture = opt.corpus .. "/check/zone.json" }
local rules = opt.rules and require("mailauth.policy").load(opt.rules)
  or { inbound = { authserv_id = AUTHSERV } }

local message, verify, check = mailauth.message, mailauth.dkim.verify, mailauth.check

local function dkim_pass()
  for i = 1, N do
    local m = message(texts[i])
    verify(m, { resolver = r, now = NOW })
  end
end

local function check_pass()
  for i = 1, N do
    local e = envs[i]
    check{ message = message(texts[i]), ip = e.ip, helo = e.helo, mail_from = e.mail_from,
      resolver = r, rules = rules, authserv_id = AUTHSERV, now = NOW }
  end
end

-- Agreement (untimed; also warms the caches).
local shown = 0
local function show(fmt, ...)
  if shown < opt.d then
    shown = shown + 1
    io.stderr:write(fmt:format(...), "\n")
  end
end
local function list(sigs)
  local out = {}
  for k, s in ipairs(sigs) do out[k] = s.result end
  return table.concat(out, ",")
end

local rc = 0
local agree = {}
if want.dkim then
  local ok = 0
  for i = 1, N do
    local got = list(verify(message(texts[i]), { resolver = r, now = NOW }))
    local exp = table.concat(envs[i].dkim, ",")
    if got == exp then ok = ok + 1
    else show("dkim disagrees: %s expected %s got %s", envs[i].file, exp, got) end
  end
  agree.dkim = ok
  if ok ~= N then rc = 1 end
end
local counts = {}
if want.check then
  local ok = { dkim = 0, spf = 0, dmarc = 0, policy = 0, action = 0, all = 0 }
  local tally = { dmarc = {}, action = {} }
  for i = 1, N do
    local e = envs[i]
    local res = check{ message = message(texts[i]), ip = e.ip, helo = e.helo, mail_from = e.mail_from,
      resolver = r, rules = rules, authserv_id = AUTHSERV, now = NOW }
    local d = list(res.dkim) == table.concat(e.dkim, ",")
    local s = res.spf.result == e.spf
    local dm = res.dmarc.result == e.dmarc
    local p = (res.dmarc.policy or cjson.null) == e.policy
    local a = res.verdict.action == e.action
    for k, v in pairs{ dkim = d, spf = s, dmarc = dm, policy = p, action = a, all = d and s and dm and p and a } do
      if v then ok[k] = ok[k] + 1 end
    end
    tally.dmarc[res.dmarc.result] = (tally.dmarc[res.dmarc.result] or 0) + 1
    tally.action[res.verdict.action] = (tally.action[res.verdict.action] or 0) + 1
    if not (d and s and dm and p and a) then
      show("check disagrees: %s dkim %s/%s spf %s/%s dmarc %s/%s policy %s/%s action %s/%s (%s)", e.file,
        list(res.dkim), table.concat(e.dkim, ","), res.spf.result, e.spf, res.dmarc.result, e.dmarc,
        tostring(res.dmarc.policy), tostring(e.policy), res.verdict.action, e.action, tostring(res.dmarc.reason))
    end
  end
  agree.check = ok
  counts = tally
  if ok.all ~= N then rc = 1 end
end

-- --stages PASSES: mailauth.check's steps one by one, as lua/mailauth/init.lua
-- runs them (kept in step with it by hand), each timed, with a pass of DKIM
-- verification alone for scale; CPU microseconds per message, the median of
-- PASSES passes, to stdout.  A diagnostic: the timers themselves cost about
-- 0.3 us per step.
if opt.stages then
  local core = require "mailauth.core"
  local policy = require "mailauth.policy"
  local names = { "message", "core", "policy", "dkim" }
  local acc = {}
  for _, k in ipairs(names) do acc[k] = {} end
  local clock = os.clock
  for pass = 1, opt.stages + 1 do
    local t = {}
    for _, k in ipairs(names) do t[k] = 0 end
    collectgarbage("collect")
    for i = 1, N do
      local e = envs[i]
      local t0 = clock()
      local msg = message(texts[i])
      local t1 = clock(); t.message = t.message + t1 - t0
      local results = core.check({ ip = e.ip, helo = e.helo, mail_from = e.mail_from, now = NOW }, msg, r, AUTHSERV)
      local t2 = clock(); t.core = t.core + t2 - t1
      results.message = msg
      results.verdict = policy.inbound(rules, results)
      results.message = nil
      t.policy = t.policy + clock() - t2
    end
    -- DKIM alone as a pass of its own, as the timed rounds run it (per
    -- message, right after the check, it would find the text in cache).
    collectgarbage("collect")
    local t0 = clock()
    dkim_pass()
    t.dkim = clock() - t0
    if pass > 1 then -- the first pass warms up
      for _, k in ipairs(names) do acc[k][#acc[k] + 1] = t[k] / N * 1e6 end
    end
  end
  local function med(v)
    table.sort(v)
    local n = #v
    return n % 2 == 1 and v[(n + 1) // 2] or (v[n // 2] + v[n // 2 + 1]) / 2
  end
  local m = {}
  for _, k in ipairs(names) do m[k] = med(acc[k]) end
  local total = m.message + m.core + m.policy
  for _, k in ipairs(names) do
    print(("stage %-9s %7.1f us/msg  %5.2fx of dkim%s"):format(k, m[k], m[k] / m.dkim,
      k == "dkim" and " (message + verification alone, for scale)" or ""))
  end
  print(("stage %-9s %7.1f us/msg  %5.2fx of dkim (message + core + policy)"):format("total", total,
    total / m.dkim))
  os.exit(rc)
end

-- Timed rounds.
local times = { dkim = {}, check = {} }
local ratios = {}
local passes = { dkim = dkim_pass, check = check_pass }
local order = {}
if want.dkim then order[#order + 1] = "dkim" end
if want.check then order[#order + 1] = "check" end
local total, round = 0, 0
while true do
  round = round + 1
  if opt.n then
    if round > opt.n then break end
  elseif round > opt.r and total >= opt.t then
    break
  end
  local this = {}
  local seq = (round % 2 == 1 or #order < 2) and order or { order[2], order[1] }
  for _, w in ipairs(seq) do
    collectgarbage("collect")
    local t0 = os.clock()
    passes[w]()
    local dt = os.clock() - t0
    total = total + dt
    this[w] = dt
    times[w][#times[w] + 1] = dt
  end
  if this.dkim and this.check then ratios[#ratios + 1] = this.check / this.dkim end
end

local function rate(t)
  local m = 0
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  if #s > 0 then m = #s % 2 == 1 and s[(#s + 1) // 2] or (s[#s // 2] + s[#s // 2 + 1]) / 2 end
  return m > 0 and N / m or 0
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return 0 end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
local function minmax(t)
  local lo, hi = math.huge, 0
  for _, v in ipairs(t) do lo = math.min(lo, v); hi = math.max(hi, v) end
  return lo, hi
end

for _, w in ipairs(order) do
  local lo, hi = minmax(times[w])
  if #times[w] > 0 then
    io.stderr:write(("%-15s %d passes: min %.0f median %.0f max %.0f msgs/s\n"):format("mailauth-" .. w,
      #times[w], N / hi, rate(times[w]), N / lo))
  end
end

if want.dkim then
  print(("%-15s %d/%d agree %29s %8.0f msgs/s"):format("mailauth-dkim", agree.dkim, N, "", rate(times.dkim)))
end
if want.check then
  local a = agree.check
  local line = ("%-15s %d/%d agree (dkim %d spf %d dmarc %d action %d) %8.0f msgs/s"):format("mailauth-check",
    a.all, N, a.dkim, a.spf, a.dmarc, a.action, rate(times.check))
  if #ratios > 0 then
    local q = median(ratios)
    line = line .. ("  %.2fx DKIM cost (target <= 1.30: %s)"):format(q, q <= 1.30 and "met" or "MISSED")
  end
  print(line)
  local function fmt(t)
    local ks = {}
    for k in pairs(t) do ks[#ks + 1] = k end
    table.sort(ks)
    for i, k in ipairs(ks) do ks[i] = k .. "=" .. t[k] end
    return table.concat(ks, " ")
  end
  io.stderr:write(("mailauth-check  dmarc %s; verdict %s; %d messages, %.1f MB\n"):format(fmt(counts.dmarc),
    fmt(counts.action), N, bytes / 1e6))
end
os.exit(rc)
