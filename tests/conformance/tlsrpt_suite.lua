-- TLS-RPT conformance runner: lua5.4 tests/conformance/tlsrpt_suite.lua DIR
-- DIR is shared/conformance/tlsrpt, read in place (manifest.json): record
-- parsing, report JSON parsing (a negative case, expected values, round
-- trips through our generator) and reports inside e-mails.
local mailauth = require "mailauth"
local cjson = require "cjson"

local dir = assert(arg[1], "usage: tlsrpt_suite.lua DIR")
local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local d = f:read("a")
  f:close()
  return d
end
local m = cjson.decode(read("manifest.json"))
local pass, fail = 0, 0
local counts = {}

local function check(suite, ok, id, why)
  counts[suite] = counts[suite] or { 0, 0 }
  counts[suite][2] = counts[suite][2] + 1
  if ok then
    pass = pass + 1
    counts[suite][1] = counts[suite][1] + 1
  else
    fail = fail + 1
    print(("FAIL %s %s: %s"):format(suite, id, why))
  end
end

-- 1. _smtp._tls records
for i, c in ipairs(m.txt_record_parse) do
  local r, err = mailauth.tlsrpt.parse_record(c.record)
  local ok = (r ~= nil) == c.expected.valid
  if ok and r then
    local want = {}
    for _, u in ipairs(c.expected.rua) do
      want[#want + 1] = u.mailto and ("mailto:" .. u.mailto) or u.https
    end
    ok = #want == #r.rua
    for k = 1, #want do ok = ok and want[k] == r.rua[k] end
  end
  check("tlsrpt-record", ok, "#" .. i .. " " .. c.record, r and cjson.encode(r.rua) or tostring(err))
end

-- A summary back through our aggregator and generator.
local function roundtrip(s)
  local agg = mailauth.tlsrpt.aggregator()
  for _, p in ipairs(s.policies) do
    local ptype = p.policy_type ~= "unknown" and p.policy_type or "no-policy-found"
    local dom = p.policy_domain ~= "" and p.policy_domain or "unknown.invalid"
    if p.success > 0 then assert(agg:add{ policy_domain = dom, policy_type = ptype, success = true, count = p.success }) end
    for rt, n in pairs(p.failures) do
      assert(agg:add{ policy_domain = dom, policy_type = ptype, result_type = rt, count = n })
    end
  end
  local doms = agg:domains()
  if #doms ~= 1 then return nil end
  return mailauth.tlsrpt.parse(agg:report{ policy_domain = doms[1], organization_name = s.organization_name,
    report_id = s.report_id, contact_info = s.contact_info, start = 0, ["end"] = 86399 })
end

-- 2. report JSON
for _, c in ipairs(m.report_json) do
  local s, err = mailauth.tlsrpt.parse(read(c.file))
  local e = c.expected
  if e.valid_json == false then
    check("tlsrpt-report", s == nil, c.file, "parsed a document that is not JSON")
  else
    local bad = {}
    if not s then bad[#bad + 1] = "did not parse: " .. tostring(err) end
    if s and e["organization-name"] then
      if s.organization_name ~= e["organization-name"] then bad[#bad + 1] = "organization-name " .. s.organization_name end
      if s.report_id ~= e["report-id"] then bad[#bad + 1] = "report-id " .. s.report_id end
      if #s.policies ~= e.policies then bad[#bad + 1] = "policies " .. #s.policies end
      local p = s.policies[1]
      if p.policy_type ~= e["policy-type"] then bad[#bad + 1] = "policy-type " .. p.policy_type end
      if p.success ~= e["total-successful-session-count"] then bad[#bad + 1] = "successful " .. p.success end
      if p.failure ~= e["total-failure-session-count"] then bad[#bad + 1] = "failed " .. p.failure end
      for _, fd in ipairs(e["failure-details"]) do
        if p.failures[fd[1]] ~= fd[2] then bad[#bad + 1] = fd[1] .. " " .. tostring(p.failures[fd[1]]) end
      end
    end
    if s and e.roundtrip then
      local back = roundtrip(s)
      if not back then
        bad[#bad + 1] = "round trip failed"
      else
        for i, p in ipairs(s.policies) do
          local q = back.policies[i]
          if not q or q.success ~= p.success or q.failure ~= p.failure then bad[#bad + 1] = "round trip totals differ" end
          for rt, n in pairs(p.failures) do
            if not q or q.failures[rt] ~= n then bad[#bad + 1] = "round trip " .. rt end
          end
        end
      end
    end
    if s and e.accepted_by_stalwart then
      -- A policy-type RFC 8460 does not define is accepted, summarised as "unknown", and counted.
      local unknown = false
      for _, p in ipairs(s.policies) do unknown = unknown or p.policy_type == "unknown" end
      if not unknown or s.deviations == 0 then bad[#bad + 1] = "the unknown policy type was not reported" end
    end
    check("tlsrpt-report", #bad == 0, c.file, table.concat(bad, "; "))
  end
end

-- 3. reports inside e-mails
for _, c in ipairs(m.report_email) do
  local s, mt = mailauth.tlsrpt.parse_email(mailauth.message(read(c.file)))
  local want = mailauth.tlsrpt.parse(read(c.expected.report_equals))
  local ok = s ~= nil and mt == c.expected.attachment_media_type and want ~= nil
    and s.report_id == want.report_id and s.organization_name == want.organization_name
    and #s.policies == #want.policies
  for i = 1, ok and #want.policies or 0 do
    local a, b = s.policies[i], want.policies[i]
    ok = ok and a.success == b.success and a.failure == b.failure and a.policy_domain == b.policy_domain
  end
  check("tlsrpt-email", ok, c.file, s and ("media type " .. tostring(mt)) or tostring(mt))
end

for _, k in ipairs{ "tlsrpt-record", "tlsrpt-report", "tlsrpt-email" } do
  local c = counts[k] or { 0, 0 }
  print(("%s: %d/%d"):format(k, c[1], c[2]))
end
print(("RESULT: %d passed, %d failed"):format(pass, fail))
os.exit(fail == 0 and 0 or 1)
