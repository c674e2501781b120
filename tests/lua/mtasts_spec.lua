-- MTA-STS and TLS-RPT through the Lua API (the network parts are in the
-- integration tests), outbound rules and the audit.
local mailauth = require "mailauth"
local policy = require "mailauth.policy"

local POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"

describe("mailauth.mtasts parsing", function()
  it("parses records: v=STSv1 first, a 1-32 alphanumeric id", function()
    assert.equal("20160831085700Z", mailauth.mtasts.parse_record("v=STSv1; id=20160831085700Z;"))
    assert.equal("abc", mailauth.mtasts.parse_record("v=STSv1;id=abc;ext=1"))
    for _, bad in ipairs{ "", "v=STSv2; id=1", "id=1; v=STSv1", "v=STSv1", "v=STSv1; id=",
        "v=STSv1; id=" .. string.rep("a", 33), "v=STSv1; id=a-b" } do
      local id, why = mailauth.mtasts.parse_record(bad)
      assert.is_nil(id, bad)
      assert.is_string(why)
    end
    -- RFC 8461 3.2: of a duplicated field the first counts
    assert.equal("1", mailauth.mtasts.parse_record("v=STSv1; id=1; id=2"))
  end)

  it("parses policies with CRLF or LF and ignores unknown keys", function()
    local p = assert(mailauth.mtasts.parse_policy(POLICY))
    assert.same({ "enforce", 604800, { "mail.example.com", "*.example.net" } }, { p.mode, p.max_age, p.mx })
    local q = assert(mailauth.mtasts.parse_policy("version: STSv1\nmode: testing\nfuture: x\nmx: a.example\nmax_age: 1\n"))
    assert.equal("testing", q.mode)
    assert.is_not_nil(mailauth.mtasts.parse_policy("version: STSv1\nmode: none\nmax_age: 0\n"))
  end)

  it("rejects bad policies with a reason", function()
    for _, bad in ipairs{
      "mode: enforce\nmx: a.example\nmax_age: 1\n",
      "version: STSv1\nmode: enforce\nmax_age: 1\n",
      "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
      "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
      "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12x\n",
      "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n",
      "<html>not a policy</html>",
      string.rep("x", 70000),
    } do
      local p, why = mailauth.mtasts.parse_policy(bad)
      assert.is_nil(p, bad:sub(1, 40))
      assert.is_string(why)
    end
  end)

  it("matches MX hosts: a wildcard covers exactly one left-most label", function()
    local m = mailauth.mtasts.mx_match
    assert.is_true(m("*.example.com", "mail.example.com"))
    assert.is_true(m("*.example.com", "MAIL.Example.COM."))
    assert.is_false(m("*.example.com", "example.com"))
    assert.is_false(m("*.example.com", "a.b.example.com"))
    assert.is_true(m("mail.example.com", "mail.example.com"))
    assert.is_false(m("mail.example.com", "xmail.example.com"))
  end)

  it("accepts text/plain with parameters only", function()
    local ok = mailauth.mtasts.content_type_ok
    assert.is_true(ok("text/plain"))
    assert.is_true(ok("TEXT/Plain ; charset=utf-8"))
    assert.is_false(ok("text/plain+"))
    assert.is_false(ok("text/html"))
  end)

  it("tells a delivery what it must do", function()
    local p = assert(mailauth.mtasts.parse_policy(POLICY))
    local d = mailauth.mtasts.delivery(p, { "mail.example.com", "mx.example.net", "evil.example.org" })
    assert.is_true(d.tls_required)
    assert.same({ "mail.example.com", "mx.example.net" }, d.allowed)
  end)

  it("turns DNS states into discovery outcomes, without any fetch", function()
    local r = mailauth.resolver{ fixture = {
      ["_mta-sts.none.example"] = { { TXT = "v=spf1 -all" } },
      ["_mta-sts.slow.example"] = { "TIMEOUT" },
      ["_mta-sts.two.example"] = { { TXT = "v=STSv1; id=1" }, { TXT = "v=STSv1; id=2" } },
    } }
    assert.equal("NONE", mailauth.mtasts.discover{ domain = "none.example", resolver = r }.status)
    assert.equal("NONE", mailauth.mtasts.discover{ domain = "nx.example", resolver = r }.status)
    assert.equal("FETCH_ERROR", mailauth.mtasts.discover{ domain = "slow.example", resolver = r }.status)
    -- RFC 8461 3.1: several STS records: no available policy
    assert.equal("NONE", mailauth.mtasts.discover{ domain = "two.example", resolver = r }.status)
    assert.equal("NONE", mailauth.mtasts.discover{ domain = "bad domain", resolver = r }.status)
  end)
end)

describe("mailauth.mtasts fetch back-off (RFC 8461 3.3)", function()
  it("does not refetch an id whose fetch failed less than five minutes ago", function()
    local dir = os.tmpname(); os.remove(dir); assert(os.execute("mkdir -p " .. dir))
    local r = mailauth.resolver{ fixture = {
      ["_mta-sts.down.example"] = { { TXT = "v=STSv1; id=a1" } },
      ["mta-sts.down.example"] = { { A = "127.0.0.1" } },
    } }
    -- port 9 on loopback: nothing listens, the connection is refused at once
    local o = { domain = "down.example", resolver = r, cache_dir = dir, port = 9, timeout = 2, now = 1700000000 }
    local first = mailauth.mtasts.discover(o)
    assert.equal("FETCH_ERROR", first.status)
    assert.equal("connect", first.fetch)
    o.now = 1700000100
    local second = mailauth.mtasts.discover(o)
    assert.equal("FETCH_ERROR", second.status)
    assert.is_nil(second.fetch)
    assert.matches("next try", second.reason)
    o.now = 1700000400
    assert.equal("connect", mailauth.mtasts.discover(o).fetch)
    o.now, o.force = 1700000450, true
    assert.equal("connect", mailauth.mtasts.discover(o).fetch)
    os.execute("rm -rf " .. dir)
  end)
end)

describe("mailauth.tlsrpt", function()
  it("parses _smtp._tls records", function()
    assert.same({ "mailto:a@example.com", "https://r.example/v1" },
      mailauth.tlsrpt.parse_record("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example/v1").rua)
    assert.is_nil(mailauth.tlsrpt.parse_record("v=TLSRPTv1; rua=ftp://x"))
    assert.is_nil(mailauth.tlsrpt.parse_record("v=TLSRPTv1"))
    assert.is_nil(mailauth.tlsrpt.parse_record("rua=mailto:a@b.example; v=TLSRPTv1"))
  end)

  it("finds exactly one record", function()
    local r = mailauth.resolver{ fixture = {
      ["_smtp._tls.one.example"] = { { TXT = "v=TLSRPTv1; rua=mailto:t@one.example" }, { TXT = "other" } },
      ["_smtp._tls.two.example"] = { { TXT = "v=TLSRPTv1; rua=mailto:a@x" }, { TXT = "v=TLSRPTv1; rua=mailto:b@x" } },
    } }
    assert.equal("found", mailauth.tlsrpt.lookup{ domain = "one.example", resolver = r }.status)
    assert.equal("none", mailauth.tlsrpt.lookup{ domain = "two.example", resolver = r }.status)
    assert.equal("none", mailauth.tlsrpt.lookup{ domain = "nx.example", resolver = r }.status)
  end)

  it("aggregates outcomes into an RFC 8460 report that parses back", function()
    local agg = mailauth.tlsrpt.aggregator()
    local sts = { policy_domain = "example.com", policy_type = "sts", policy_string = POLICY, mx_host = "*.example.net" }
    local function add(extra) local s = {} for k, v in pairs(sts) do s[k] = v end for k, v in pairs(extra) do s[k] = v end return agg:add(s) end
    assert(add{ success = true, count = 40 })
    assert(add{ result_type = "certificate-expired", receiving_mx_hostname = "mx.example.net", count = 2 })
    assert(add{ result_type = "certificate-expired", receiving_mx_hostname = "mx.example.net" })
    assert(add{ result_type = "starttls-not-supported", receiving_ip = "192.0.2.9" })
    local ok, why = agg:add{ policy_domain = "example.com", result_type = "no-such-type" }
    assert.is_nil(ok); assert.matches("unknown result type", why)
    assert.is_nil((agg:add{ result_type = "certificate-expired" }))
    local json = agg:report{ policy_domain = "example.com", organization_name = "Sender", contact_info = "c@sender.example",
      report_id = "id-1", start = 1764028800, ["end"] = 1764115199 }
    local j = require("cjson").decode(json)
    assert.equal("2025-11-25T00:00:00Z", j["date-range"]["start-datetime"])
    assert.equal(5, #j.policies[1].policy["policy-string"])
    local s = assert(mailauth.tlsrpt.parse(mailauth.tlsrpt.gzip(json)))
    assert.same({ 40, 4 }, { s.policies[1].success, s.policies[1].failure })
    assert.same({ ["certificate-expired"] = 3, ["starttls-not-supported"] = 1 }, s.policies[1].failures)
    assert.equal("mta.sender.example!example.com!1764028800!1764115199!x.json.gz", mailauth.tlsrpt.filename{
      sender = "mta.sender.example", policy_domain = "example.com", start = 1764028800, ["end"] = 1764115199, unique_id = "x" })
  end)

  it("keeps an outcome log that many processes append to at once, and reports a period of it", function()
    local log = os.tmpname()
    os.remove(log)
    -- 8 processes x 150 appends, all at once
    local script = os.tmpname()
    local f = io.open(script, "w")
    f:write([[
local m = require "mailauth"
local id, log = tonumber(arg[1]), arg[2]
for i = 1, 150 do
  local s = { policy_domain = "example.com", policy_type = "sts", mx_host = "*.example.net", time = 1000 + i,
    success = i % 3 ~= 0 }
  if not s.success then
    s.result_type = "certificate-expired"
    s.receiving_mx_hostname = "mx" .. id .. ".example.net"
    s.additional_information = ("writer %d, session %d: "):format(id, i) .. ("x"):rep(200)
  end
  assert(m.tlsrpt.log(log, s))
end
]])
    f:close()
    local cmd = {}
    for id = 1, 8 do cmd[#cmd + 1] = ("lua5.4 %s %d %s &"):format(script, id, log) end
    assert.is_true(os.execute(table.concat(cmd, " ") .. " wait"))
    os.remove(script)
    local n, ok, fails = 0, 0, 0
    for line in io.lines(log) do
      n = n + 1
      local good, j = pcall(require("cjson").decode, line)
      if good and j.policy_domain == "example.com" then
        ok = ok + 1
        if not j.success then fails = fails + 1 end
      end
    end
    assert.same({ 1200, 1200, 400 }, { n, ok, fails })
    -- the report of [1001, 1101): sessions 1-100 of each writer
    local cli = os.getenv("MAILAUTH_CLI") or "build/lua/bin/mailauth"
    local p = io.popen(cli .. " tlsrpt report --outcomes " .. log ..
      " --org Us --contact t@us.example --sender mta.us.example --start 1001 --end 1101 2>/dev/null")
    local json = p:read("a")
    assert.is_true(p:close())
    local s = assert(mailauth.tlsrpt.parse(json))
    assert.same({ 8 * 67, 8 * 33 }, { s.policies[1].success, s.policies[1].failure })
    -- lines that do not read are skipped with a warning, not the whole report
    f = io.open(log, "a")
    f:write('{"time":"1050x","policy_domain":"example.com","success":true,"count":5}\n')
    f:write('{"time":1050,"policy_domain":"example.com","success":"false"}\n')
    f:write('{"time":1050,"policy_domain":"example.com","success":true,"count":null}\n')
    f:write('{"time":1050,"policy_domain":"example.com","success":false,"result_type":"nonsense"}\n')
    f:write('{"time":1050,"policy_domain":"exam')
    f:close()
    p = io.popen(cli .. " tlsrpt report --outcomes " .. log ..
      " --org Us --contact t@us.example --sender mta.us.example --start 1001 --end 1101 2>&1 >/dev/null")
    local warn = p:read("a")
    assert.is_true(p:close())
    for i, why in ipairs{ "no integer time", "no boolean success", "count", "unknown result type", "not a JSON object" } do
      assert.matches("line " .. 1200 + i .. " skipped: [^\n]*" .. why, warn)
    end
    p = io.popen(cli .. " tlsrpt report --outcomes " .. log ..
      " --org Us --contact t@us.example --sender mta.us.example --start 1001 --end 1101 2>/dev/null")
    s = assert(mailauth.tlsrpt.parse(p:read("a")))
    p:close()
    assert.same({ 8 * 67, 8 * 33 }, { s.policies[1].success, s.policies[1].failure })
    os.remove(log)
    -- an outcome that could never be reported is refused, and a file that cannot be written
    local none, why = mailauth.tlsrpt.log(log, { policy_domain = "example.com", result_type = "nonsense" })
    assert.is_nil(none)
    assert.matches("unknown result type", why)
    none, why = mailauth.tlsrpt.log("/nonexistent/dir/log", { policy_domain = "example.com", success = true })
    assert.is_nil(none)
    assert.matches("/nonexistent/dir/log", why)
    none, why = mailauth.tlsrpt.log(log, { policy_domain = "\255bad.example", success = true })
    assert.is_nil(none)
    assert.matches("not a domain name", why)
    -- text from the far end: valid UTF-8 kept, other bytes '?', at most 2048 bytes a field
    assert(mailauth.tlsrpt.log(log, { policy_domain = "example.com", result_type = "certificate-expired",
      additional_information = "caf\195\169 \255\192\128 " .. ("\195\169"):rep(2000), time = 7 }))
    local line = require("cjson").decode(io.open(log):read("l"))
    assert.equal("caf\195\169 ??? ", line.additional_information:sub(1, 10))
    assert.equal(2048, #line.additional_information)
    os.remove(log)
    -- not through a symbolic link
    local target = os.tmpname()
    os.execute("ln -s " .. target .. " " .. log)
    none, why = mailauth.tlsrpt.log(log, { policy_domain = "example.com", success = true })
    assert.is_nil(none)
    assert.equal("", io.open(target):read("a"))
    os.remove(log)
    os.remove(target)
  end)

  it("tolerates known sender deviations and counts them", function()
    local s = assert(mailauth.tlsrpt.parse([[{"organization-name":"X","report-id":"r","date-range":{"start-datetime":"a","end-datetime":"b"},
      "policies":[{"policy":{"policy-type":"sts","policy-domain":"d.example"},"summary":{"total-successful-session-count":"12","total-failure-session-count":0}}]}]]))
    assert.equal(12, s.policies[1].success)
    assert.equal(1, s.deviations)
    assert.is_nil(mailauth.tlsrpt.parse("[1,2]"))
    assert.is_nil(mailauth.tlsrpt.parse("\31\139garbage"))
    assert.is_nil(mailauth.tlsrpt.parse_email(mailauth.message("Subject: x\r\n\r\nno report here")))
  end)
end)

describe("outbound rules (rules/outbound.lua)", function()
  local rules = policy.load("rules/outbound.lua")
  local enforce = { status = "VALID", policy = assert(mailauth.mtasts.parse_policy(POLICY)) }
  it("follows an enforced MTA-STS policy", function()
    local o = policy.outbound(rules, "example.com", enforce, { "mail.example.com", "rogue.example.org" })
    assert.is_true(o.tls_required)
    assert.same({ "mail.example.com" }, o.mx_allowed)
    assert.equal("mta-sts", o.source)
  end)
  it("requires TLS for listed domains without MTA-STS, minus exceptions", function()
    local o = policy.outbound(rules, "dept.gov.uk", { status = "NONE" }, { "mx.dept.gov.uk" })
    assert.is_true(o.tls_required)
    assert.equal("rules", o.source)
    assert.is_false(policy.outbound(rules, "a.legacy.gov.uk", { status = "NONE" }, { "mx" }).tls_required)
    assert.is_false(policy.outbound(rules, "shop.example", { status = "NONE" }, { "mx" }).tls_required)
  end)
  it("overrides the published mode per domain", function()
    local o = policy.outbound(rules, "partner.example", enforce, { "rogue.example.org" })
    assert.same({ false, "testing", "rules" }, { o.tls_required, o.mode, o.source })
    assert.same({ "rogue.example.org" }, o.mx_allowed)
    assert.is_true(policy.outbound(rules, "payments.example", { status = "NONE" }, { "mx" }).tls_required)
  end)
end)

describe("mailauth.audit", function()
  local audit = require "mailauth.audit"
  local r = mailauth.resolver{ fixture = "examples/zone.json" }
  local function areas(rep, sev)
    local t = {}
    for _, f in ipairs(rep.findings) do if f.severity == sev then t[#t + 1] = f.area end end
    return table.concat(t, ",")
  end
  it("passes the example domain and flags a missing DKIM selector", function()
    local rep = audit.run(mailauth, { domain = "example.org", resolver = r, selectors = { "demo2048", "missing" } })
    assert.is_true(rep.critical)
    assert.equal("dkim", areas(rep, "critical"))
    assert.equal(2, rep.spf.lookups)
    assert.equal("reject", rep.dmarc.policy)
  end)
  it("recognises a locked-down parked domain", function()
    local rep = audit.run(mailauth, { domain = "parked.example.com", resolver = r })
    assert.is_false(rep.critical)
    assert.matches("parked", areas(rep, "ok"))
  end)
  it("flags missing SPF and DMARC as critical, and a broken SPF record", function()
    local rep = audit.run(mailauth, { domain = "nospf.example.com", resolver = r })
    assert.equal("spf,dmarc", areas(rep, "critical"))
    local b = audit.run(mailauth, { domain = "broken.example.com", resolver = r })
    assert.matches("spf", areas(b, "critical"))
  end)
end)
