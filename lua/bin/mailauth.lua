#!/usr/bin/env lua5.4
-- mailauth: the command-line face of the mailauth Lua module.
-- Exit status: 0 when a result was produced (whatever it is), 2 on a usage
-- error (bad option, bad IP, unreadable zone file).
local ok_ma, mailauth = pcall(require, "mailauth")
if not ok_ma then
  io.stderr:write("mailauth: cannot load the mailauth Lua module: ", tostring(mailauth), "\n")
  os.exit(2)
end
local cjson = require "cjson"

local USAGE = [[
usage: mailauth <command> [options]

commands:
  spf     --ip IP --helo NAME --mail-from ADDR [--identity mailfrom|helo]
          [--dns ZONE.json | --server IP@PORT] [--receiver NAME] [--timeout S] [--json]
  version
  help

--dns takes zone data in the conformance suites' zonedata format
(name -> list of {TYPE: value}, or name -> {TYPE: [values]}).
]]

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
      o[name] = val
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
    print(cjson.encode(res))
  else
    print(res.result .. ": " .. res.reason)
    if res.explanation then print("explanation: " .. res.explanation) end
    print(res.received_spf)
  end
  return 0
end

function commands.version()
  print(mailauth._VERSION)
  return 0
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
