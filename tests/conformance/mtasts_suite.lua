-- MTA-STS conformance runner, the parts without a network:
--
--   lua5.4 tests/conformance/mtasts_suite.lua DIR [-v]
--
-- DIR is shared/conformance/mta-sts, read in place (its README.md and
-- manifest.json):
--   txt_record_parse     postfix-mta-sts-resolver's tag parser results
--                        (expected_tags) and stalwart's {valid, id}: a valid
--                        record is {v = "STSv1", id = <our id>}; "no tags"
--                        (empty or garbage text) must be an error of ours
--   rfc8461_txt_example  the RFC's _mta-sts TXT record: parsed, and through
--                        the fixture resolver and discovery (record_id)
--   policy_parse         the RFC's policy files (CRLF), read in place
--   policy_content_type  text/plain with or without parameters
--   mx_match             RFC 8461 4.1 wildcards
-- The 24 discovery cases need an HTTPS server: they are run end to end by
-- tests/integration/mtasts (run_mtasts.sh discovery).  postfix_socketmap
-- (answers of postfix-mta-sts-resolver's daemon to Postfix socketmap
-- queries) describes that daemon's protocol, which mailauth does not
-- implement: it is listed, not run.
--
-- Output: FAIL lines, "mta-sts-<part>: passed/total" and
-- "RESULT: N passed, M failed".  Exit status 1 when anything failed.
local mailauth = require "mailauth"
local cjson = require "cjson"

local dir = arg[1]
local verbose = arg[2] == "-v"
if not dir then
  io.stderr:write("usage: lua5.4 mtasts_suite.lua SHARED/conformance/mta-sts [-v]\n")
  os.exit(2)
end

local function readfile(path)
  local f, err = io.open(path, "rb")
  if not f then
    io.stderr:write(err .. "\n")
    os.exit(2)
  end
  local s = f:read("a")
  f:close()
  return s
end

local NULL = cjson.null
local mf = cjson.decode(readfile(dir .. "/manifest.json"))
local sts = mailauth.mtasts

local passed, failed = 0, 0
local parts = {}
local current
local function part(name)
  current = { name = name, passed = 0, total = 0 }
  parts[#parts + 1] = current
end
local function check(name, ok, detail)
  current.total = current.total + 1
  if ok then
    passed = passed + 1
    current.passed = current.passed + 1
    if verbose then print("ok   " .. name) end
  else
    failed = failed + 1
    print("FAIL " .. name .. (detail and (": " .. detail) or ""))
  end
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- txt_record_parse --------------------------------------------------------
part("txt_record_parse")
for i, e in ipairs(mf.txt_record_parse) do
  local id, err = sts.parse_record(e.record)
  local name = ("txt_record_parse[%d] %q"):format(i, e.record)
  if e.expected_tags ~= nil then
    local tags = e.expected_tags
    if count(tags) == 0 then
      -- no tags at all: not a record; our parser must say so
      check(name, id == nil and err ~= nil, "expected an error, got id " .. tostring(id))
    else
      -- our result as tags: a valid record is v=STSv1 with its id (other
      -- fields are extensions, ignored)
      local unknown = {}
      for k in pairs(tags) do if k ~= "v" and k ~= "id" then unknown[#unknown + 1] = k end end
      if #unknown > 0 then
        check(name, false, "expected tags our parser does not report: " .. table.concat(unknown, ","))
      else
        local ours = id and { v = "STSv1", id = id } or {}
        check(name, ours.v == tags.v and ours.id == tags.id,
          ("expected v=%s id=%s, got %s"):format(tostring(tags.v), tostring(tags.id),
            id and ("id " .. id) or ("error: " .. tostring(err))))
      end
    end
  elseif type(e.expected) == "table" then
    if e.expected.valid then
      check(name, id ~= nil and id == e.expected.id,
        ("expected id %s, got %s"):format(tostring(e.expected.id), id or ("error: " .. tostring(err))))
    else
      check(name, id == nil, "expected an error, got id " .. tostring(id))
    end
  else
    check(name, false, "entry with neither expected_tags nor expected")
  end
end

-- rfc8461_txt_example -------------------------------------------------------
part("rfc8461_txt_example")
do
  local ex = mf.rfc8461_txt_example
  local want = "20160831085700Z"
  local id, err = sts.parse_record(ex.value)
  check("rfc8461_txt_example parse", id == want, "got " .. tostring(id or err))
  -- through the fixture resolver: the TXT is returned as published and
  -- discovery reports its id (the policy host has no address here: no
  -- network is used, the fetch fails with "dns")
  local r = mailauth.resolver{ fixture = { [ex.name] = { { [ex.type] = ex.value } } } }
  local a = r:query(ex.name, "TXT")
  local txt = a and a.records and a.records[1]
  if type(txt) == "table" then txt = table.concat(txt) end  -- the character-strings, joined
  check("rfc8461_txt_example TXT lookup", a and a.status == "ok" and txt == ex.value,
    ("status %s, text %s"):format(tostring(a and a.status), tostring(txt)))
  local domain = ex.name:gsub("^_mta%-sts%.", "")
  local res = sts.discover{ domain = domain, resolver = r }
  check("rfc8461_txt_example discovery record_id", res.record_id == want and res.status == "FETCH_ERROR"
    and res.fetch == "dns", ("record_id %s, status %s, fetch %s"):format(tostring(res.record_id),
    tostring(res.status), tostring(res.fetch)))
end

-- policy_parse --------------------------------------------------------------
part("policy_parse")
for _, e in ipairs(mf.policy_parse) do
  local body = readfile(dir .. "/" .. e.file)
  local p, err = sts.parse_policy(body)
  local x = e.expected
  local name = "policy_parse " .. e.file
  if not x.valid then
    check(name, p == nil, "expected invalid, parsed")
  elseif not p then
    check(name, false, "expected valid, got error: " .. tostring(err))
  else
    local bad = {}
    if p.version ~= x.version then bad[#bad + 1] = "version " .. tostring(p.version) end
    if p.mode ~= x.mode then bad[#bad + 1] = "mode " .. tostring(p.mode) end
    if p.max_age ~= math.tointeger(x.max_age) then bad[#bad + 1] = "max_age " .. tostring(p.max_age) end
    local mx = table.concat(p.mx, ",")
    if mx ~= table.concat(x.mx, ",") then bad[#bad + 1] = "mx " .. mx end
    check(name, #bad == 0, table.concat(bad, "; "))
  end
end

-- policy_content_type ---------------------------------------------------------
part("policy_content_type")
for _, e in ipairs(mf.policy_content_type) do
  local got = sts.content_type_ok(e.content_type)
  check(("policy_content_type %q"):format(e.content_type), got == e.is_text_plain,
    ("expected %s, got %s"):format(tostring(e.is_text_plain), tostring(got)))
end

-- mx_match --------------------------------------------------------------------
part("mx_match")
for _, e in ipairs(mf.mx_match) do
  local got = sts.mx_match(e.pattern, e.host)
  check(("mx_match %s %s"):format(e.pattern, e.host), got == e.match,
    ("expected %s, got %s"):format(tostring(e.match), tostring(got)))
end

local nsock = 0
for k, v in pairs(mf.postfix_socketmap or {}) do
  if type(v) == "table" and k ~= "doc" then nsock = nsock + #v end
end
print(("# discovery: %d cases, run end to end by tests/integration/mtasts (mta-sts-discovery)"):format(
  #mf.discovery.cases))
print(("# postfix_socketmap: %d answers of postfix-mta-sts-resolver's socketmap daemon, not run (a protocol mailauth does not implement)")
  :format(nsock))
for _, p in ipairs(parts) do print(("mta-sts-%s: %d/%d"):format(p.name, p.passed, p.total)) end
print(("RESULT: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
