-- The publish face of the rules (mailauth.publish, policy.publish) and the
-- publish command.
local mailauth = require "mailauth"
local policy = require "mailauth.policy"
local publish = require "mailauth.publish"
local cjson = require "cjson"

local cli = os.getenv("MAILAUTH_CLI") or "build/lua/bin/mailauth"

local function read(p) local f = assert(io.open(p, "rb")); local d = f:read("a"); f:close(); return d end

local function run(args)
  local tmp, err = os.tmpname(), os.tmpname()
  local p = io.popen(cli .. " " .. args .. " > " .. tmp .. " 2> " .. err .. "; echo $?")
  local rc = tonumber(p:read("a"))
  p:close()
  local out, e = read(tmp), read(err)
  os.remove(tmp)
  os.remove(err)
  return out, rc, e
end

local zone = mailauth.resolver{ fixture = "examples/zone.json" }

-- A zone of its own for one test: rules.publish["test.example"] = spec.
local function zone_of(spec, o)
  return publish.zone({ publish = { ["test.example"] = spec } }, "test.example", o or {})
end

describe("mailauth.publish", function()
  it("computes the records examples/zone.json publishes for example.org", function()
    local rules = policy.load("rules/publish.lua")
    local z = assert(policy.publish(rules, "example.org", { resolver = zone, base_dir = "rules" }))
    local fixture = cjson.decode(read("examples/zone.json"))
    local seen = 0
    for _, r in ipairs(z.records) do
      assert.equal("TXT", r.type)
      assert.equal(3600, r.ttl)
      if r.name ~= "_mta-sts.example.org" then
        local want = {}
        for _, v in ipairs(fixture[r.name] or {}) do
          if type(v) == "table" and v.TXT then want[v.TXT] = true end
        end
        assert.is_true(want[r.data], r.name .. ": " .. r.data)
        seen = seen + 1
      end
    end
    assert.equal(7, seen)
    assert.same({}, z.warnings)
  end)

  it("publishes an MTA-STS id that follows the policy text", function()
    local spec = { mta_sts = { mode = "enforce", mx = { "mx1.test.example", "*.mail.test.example" } } }
    local a, b = assert(zone_of(spec)), assert(zone_of(spec))
    assert.equal(a.mta_sts.id, b.mta_sts.id)
    assert.equal(a.mta_sts.id, mailauth.mtasts.parse_record(a.records[1].data))
    local p = assert(mailauth.mtasts.parse_policy(a.mta_sts.policy))
    assert.same({ "enforce", 604800, { "mx1.test.example", "*.mail.test.example" } }, { p.mode, p.max_age, p.mx })
    spec.mta_sts.max_age = 86400
    local c = assert(zone_of(spec))
    assert.are_not.equal(a.mta_sts.id, c.mta_sts.id)
    assert.matches("^%x+$", c.mta_sts.id)
    assert.equal(32, #c.mta_sts.id)
    assert.equal("mta-sts.test.example", c.mta_sts.host)
  end)

  it("refuses an SPF record that needs more than 10 DNS lookups through its includes", function()
    local five = "v=spf1 a:h1.test.example a:h2.test.example a:h3.test.example a:h4.test.example a:h5.test.example -all"
    local fx = {
      ["spf.test.example"] = { { TXT = "v=spf1 include:a.test.example include:b.test.example -all" } },
      ["a.test.example"] = { { TXT = five } },
      ["b.test.example"] = { { TXT = five } },
    }
    for i = 1, 5 do fx["h" .. i .. ".test.example"] = { { A = "198.51.100." .. i } } end
    local z, errs = zone_of({ spf = "v=spf1 include:spf.test.example -all" }, { resolver = mailauth.resolver{ fixture = fx } })
    assert.is_nil(z)
    assert.matches("^test%.example: SPF record refused: .*DNS", errs[1])
    -- the same record without DNS to follow: only its own terms count
    assert.truthy(zone_of({ spf = "v=spf1 include:spf.test.example -all" }))
    -- nine lookups: published, with a warning
    fx["a.test.example"] = { { TXT = "v=spf1 a:h1.test.example -all" } }
    local ok = assert(zone_of({ spf = "v=spf1 include:spf.test.example -all" },
      { resolver = mailauth.resolver{ fixture = fx } }))
    assert.equal(1, #ok.records)
    local w = table.concat(ok.warnings, "\n")
    assert.matches("needs 9 of the 10", w)
    -- h1-h5 have no AAAA: IPv6 clients meet void lookups, reported
    assert.matches("IPv6 senders it does not list meets 6 void lookups", w)
    assert.not_matches("IPv4 senders", w)
  end)

  it("refuses bad records with a reason, and the zone with them", function()
    local cases = {
      { { spf = "v=spf1 " .. ("mx "):rep(11) .. "-all" }, "11 DNS%-querying terms" },
      { { spf = "v=spf1 ip4:999.1.1.1 -all" }, "SPF record refused" },
      { { spf = "spf1 -all" }, "SPF record refused" },
      { { dmarc = { p = "block" } }, "p must be none, quarantine or reject" },
      { { dmarc = { rua = { "mailto:a@test.example" } } }, "dmarc%.p is required" },
      { { dmarc = { p = "none", rua = { "dmarc@test.example" } } }, "bad URI" },
      { { dmarc = { p = "none", fo = "2" } }, "fo must be" },
      { { dmarc = { p = "none", subdomains = { ["bad name"] = { p = "none" } } } }, "bad name" },
      { { mta_sts = { mode = "enforce" } }, "at least one MX pattern" },
      { { mta_sts = { mode = "strict", mx = { "mx.test.example" } } }, "mode must be" },
      { { mta_sts = { mx = { "mx.test.example" }, max_age = 31557601 } }, "max_age" },
      { { mta_sts = { mx = { "*.*.test.example" } } }, "bad host pattern" },
      { { dkim = { s1 = "/nonexistent/key.pem" } }, "s1%._domainkey%.test%.example" },
      { { dkim = { ["a b"] = "k.pem" } }, "bad selector" },
      { { dkim = { s1 = { cname = "not a host" } } }, "bad cname" },
      { { tlsrpt = { rua = { "tlsrpt@test.example" } } }, "bad URI" },
      { { ttl = -1, spf = "v=spf1 -all" }, "ttl must be" },
      { { report_for = { "bad..name" } }, "report_for" },
    }
    for _, c in ipairs(cases) do
      local spec = c[1]
      spec.spf = spec.spf or "v=spf1 -all"
      local z, errs = zone_of(spec)
      assert.is_nil(z, c[2])
      local all = table.concat(errs, "\n")
      assert.matches(c[2], all)
    end
    local z, errs = policy.publish({ publish = {} }, "example.org")
    assert.is_nil(z)
    assert.matches("no publish rules", errs[1])
  end)

  it("publishes revoked and delegated selectors, report authorizations, and warns where receivers may not follow", function()
    local z = assert(zone_of({ ttl = 300,
      spf = { "ip4:192.0.2.0/24" },
      dkim = { old = { revoked = true }, esp = { cname = "s1.dkim.esp.example" } },
      dmarc = { p = "quarantine", sp = "reject", np = "reject", adkim = "s", aspf = "s", psd = "n",
        rua = { "mailto:dmarc@reports.example.net" }, ruf = "mailto:forensic@test.example", fo = "0:d" },
      report_for = { "partner.example" },
    }))
    local by = {}
    for _, r in ipairs(z.records) do by[r.name] = r end
    assert.equal("v=spf1 ip4:192.0.2.0/24", by["test.example"].data)
    assert.equal(300, by["test.example"].ttl)
    assert.equal("v=DKIM1; p=", by["old._domainkey.test.example"].data)
    assert.same({ "CNAME", "s1.dkim.esp.example" }, { by["esp._domainkey.test.example"].type, by["esp._domainkey.test.example"].data })
    assert.equal("v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; aspf=s; psd=n; " ..
      "rua=mailto:dmarc@reports.example.net; ruf=mailto:forensic@test.example; fo=0:d", by["_dmarc.test.example"].data)
    assert.equal("v=DMARC1", by["partner.example._report._dmarc.test.example"].data)
    local w = table.concat(z.warnings, "\n")
    assert.matches("neither 'all' nor redirect=", w)
    assert.matches("test%.example%._report%._dmarc%.reports%.example%.net", w)
    -- what a receiver reads back
    local t = mailauth.dmarc{ from_domain = "x.test.example", resolver = mailauth.resolver{ fixture = {
      ["_dmarc.test.example"] = { { TXT = by["_dmarc.test.example"].data } } } } }
    assert.equal("reject", t.policy)
  end)

  it("follows the points the review found", function()
    -- t = "n" is not test mode; t must be a boolean or y/n
    local by = {}
    for _, r in ipairs(assert(zone_of({ dmarc = { p = "reject", t = "n" } })).records) do by[r.name] = r.data end
    assert.equal("v=DMARC1; p=reject", by["_dmarc.test.example"])
    assert.matches("t must be", table.concat(select(2, zone_of({ dmarc = { p = "reject", t = "yes" } })), "\n"))
    -- control characters and non-mail schemes in DMARC report URIs are refused; TLS-RPT takes https
    assert.matches("bad URI", select(2, zone_of({ dmarc = { p = "none", rua = { "mailto:a@test.example\1x" } } }))[1])
    assert.matches("bad URI", select(2, zone_of({ dmarc = { p = "none", rua = { "https://r.test.example/" } } }))[1])
    local t = assert(zone_of({ tlsrpt = { rua = { "https://r.test.example/tlsrpt", "mailto:t@test.example" } } }))
    assert.equal("v=TLSRPTv1; rua=https://r.test.example/tlsrpt,mailto:t@test.example", t.records[1].data)
    assert.matches("bad URI", select(2, zone_of({ tlsrpt = { rua = { "ftp://r.test.example/" } } }))[1])
    -- an include of an SPF record the same zone publishes is followed to the new text
    local empty = mailauth.resolver{ fixture = {} }
    local z = assert(zone_of({ spf = "v=spf1 include:_spf.test.example -all",
      names = { _spf = { spf = "v=spf1 ip4:192.0.2.0/24 -all" } } }, { resolver = empty }))
    assert.equal(2, #z.records)
    local _, errs = zone_of({ spf = "v=spf1 include:_spf.test.example -all" }, { resolver = empty })
    assert.matches("_spf%.test%.example", errs[1])
    -- a subdomain's external reports need the subdomain's authorization record
    local s = assert(zone_of({ dmarc = { p = "none", subdomains = { news = { p = "none",
      rua = { "mailto:d@third.example" } } } } }))
    assert.matches("news%.test%.example%._report%._dmarc%.third%.example", table.concat(s.warnings, "\n"))
    -- trailing dots, the wildcard authorization
    local c = assert(zone_of({ dkim = { esp = { cname = "s1.dkim.esp.example." } },
      mta_sts = { mx = { "MX1.Test.Example." } }, report_for = { "*" } }))
    local got = {}
    for _, r in ipairs(c.records) do got[r.name] = r.data end
    assert.equal("s1.dkim.esp.example", got["esp._domainkey.test.example"])
    assert.equal("v=DMARC1", got["*._report._dmarc.test.example"])
    assert.matches("mx: mx1%.test%.example\r\n", c.mta_sts.policy)
    assert.matches("bad host pattern", select(2, zone_of({ mta_sts = { mx = { "_mx.test.example" } } }))[1])
    -- non-table parts are refused, not raised
    assert.matches("report_for", select(2, zone_of({ report_for = "x.example" }))[1])
    assert.matches("subdomains", select(2, zone_of({ dmarc = { p = "none", subdomains = "news" } }))[1])
    -- "-all exp=" has its all; redirect= beside an all is not counted
    local e = assert(zone_of({ spf = "v=spf1 " .. ("a:h.test.example "):rep(10) .. "-all exp=why.test.example redirect=x.example" }))
    assert.not_matches("neither", table.concat(e.warnings, "\n"))
  end)

  it("publishes a key that outbound signs another zone's mail with, in that zone", function()
    local rules = { outbound = { dkim = { ["example.org"] = {
      { selector = "demoed", key_file = "../examples/keys/demoed.example.org.pem", domain = "Test.Example" } } } },
      publish = { ["test.example"] = { spf = "v=spf1 -all" }, ["example.org"] = { spf = "v=spf1 -all" } } }
    local t = assert(policy.publish(rules, "test.example", { base_dir = "rules" }))
    assert.equal("demoed._domainkey.test.example", t.records[2].name)
    local e = assert(policy.publish(rules, "example.org", { base_dir = "rules" }))
    assert.equal(1, #e.records)
  end)

  it("writes TXT data as quoted character-strings of at most 255 octets", function()
    assert.equal('"a\\"b\\\\c"', publish.txt_strings('a"b\\c'))
    local s = publish.txt_strings(("x"):rep(300))
    assert.equal('"' .. ("x"):rep(255) .. '" "' .. ("x"):rep(45) .. '"', s)
    assert.equal('""', publish.txt_strings(""))
    assert.equal('"a\\001b\\255"', publish.txt_strings("a\1b\255"))
  end)
end)

describe("mailauth publish (CLI)", function()
  it("prints zone-file lines and the MTA-STS policy", function()
    local out, rc = run("publish --rules rules/publish.lua --dns examples/zone.json")
    assert.equal(0, rc)
    assert.matches('\n_dmarc%.example%.org%. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc%-reports@example%.org"\n', out)
    assert.matches('\ndemo2048%._domainkey%.example%.org%. 3600 IN TXT "v=DKIM1; k=rsa; p=[^"]+" "[^"]+"\n', out)
    assert.matches("; MTA%-STS policy to serve at https://mta%-sts%.example%.org/%.well%-known/mta%-sts%.txt", out)
  end)

  it("prints JSON, writes the policy file, and exits 1 when a zone is refused", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out, rc = run("publish --rules rules/publish.lua --json --policy-dir " .. dir)
    assert.equal(0, rc)
    local j = cjson.decode(out)
    assert.equal("example.org", j[1].zone)
    assert.equal(8, #j[1].records)
    assert.equal(j[1].mta_sts.policy, read(dir .. "/mta-sts.example.org/.well-known/mta-sts.txt"))
    os.execute("rm -rf '" .. dir .. "'")

    local bad = os.tmpname()
    local f = io.open(bad, "w")
    f:write('return { publish = { ["bad.example"] = { dmarc = { p = "block" } } } }')
    f:close()
    local _, rc2, err = run("publish --rules " .. bad)
    os.remove(bad)
    assert.equal(1, rc2)
    assert.matches("publish bad%.example: refused: _dmarc%.bad%.example: p must be", err)

    local _, rc3 = run("publish")
    assert.equal(2, rc3)
  end)
end)

describe("outbound DKIM signers (rules/outbound.lua)", function()
  local rules = policy.load("rules/outbound.lua")

  it("picks the most specific domain's keys, which sign as that domain", function()
    local s, d = policy.signers(rules, "alice@example.org", "rules")
    assert.equal("example.org", d)
    assert.same({ "demo2048", "demoed" }, { s[1].selector, s[2].selector })
    assert.same({ "example.org", "example.org" }, { s[1].domain, s[2].domain })
    assert.equal("rules/../examples/keys/demo2048.example.org.pem", s[1].key_file)
    local sub = policy.signers(rules, "news@Letters.Example.ORG.", "rules")
    assert.equal("example.org", sub[1].domain)
    local l = policy.signers(rules, "demo-bounces@lists.example.net", "rules")
    assert.same({ "list", "lists.example.net" }, { l[1].selector, l[1].domain })
    assert.same({}, (policy.signers(rules, "bob@notexample.org", "rules")))
    assert.same({}, (policy.signers(rules, "bob@example.net", "rules")))
    assert.equal("demo2048", policy.signers(rules, "<alice@example.org>", "rules")[1].selector)
    assert.has_error(function()
      policy.signers({ outbound = { dkim = { ["x.example"] = { { selector = "s" } } } } }, "a@x.example")
    end)
  end)

  it("signs what the example zone verifies", function()
    local text = "From: Alice <alice@news.example.org>\r\nTo: bob@example.net\r\nSubject: signed by rules\r\n" ..
      "Date: Tue, 24 Nov 2025 12:00:00 +0000\r\n\r\nHello.\r\n"
    local hs = assert(mailauth.dkim.sign(mailauth.message(text), (policy.signers(rules, "alice@news.example.org", "rules"))))
    assert.equal(2, #hs)
    local signed = table.concat(hs, "\r\n") .. "\r\n" .. text
    local res = mailauth.dkim.verify(mailauth.message(signed), { resolver = zone })
    assert.same({ "pass", "pass" }, { res[1].result, res[2].result })
    local dm = mailauth.dmarc{ message = mailauth.message(signed), dkim = res, resolver = zone }
    assert.equal("pass", dm.result)
  end)

  it("publishes the keys outbound signs with, and refuses two keys for one selector", function()
    local both = { outbound = rules.outbound, publish = { ["example.org"] = { spf = "v=spf1 -all" } } }
    local z = assert(policy.publish(both, "example.org", { base_dir = "rules" }))
    local names = {}
    for _, r in ipairs(z.records) do names[#names + 1] = r.name end
    assert.same({ "example.org", "demo2048._domainkey.example.org", "demoed._domainkey.example.org" }, names)
    both.publish["example.org"].dkim = { demoed = "../examples/keys/demo2048.example.org.pem" }
    local none, errs = policy.publish(both, "example.org", { base_dir = "rules" })
    assert.is_nil(none)
    assert.matches("selector demoed has one key in publish and another in outbound", errs[1])
  end)

  it("signs from the command line with the rules' keys", function()
    local msg = os.tmpname()
    local f = io.open(msg, "wb")
    f:write("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: cli\r\n\r\nHi.\r\n")
    f:close()
    local out0, rc = run("dkim-sign --rules rules/outbound.lua --sender alice@example.org < " .. msg)
    assert.equal(0, rc)
    local signed = os.tmpname()
    f = io.open(signed, "wb")
    f:write(out0)
    f:close()
    local out, rc2 = run("dkim --dns examples/zone.json --json < " .. signed)
    assert.equal(0, rc2)
    local j = cjson.decode(out)
    assert.same({ "pass", "pass" }, { j.signatures[1].result, j.signatures[2].result })
    local _, rc3, err = run("dkim-sign --rules rules/outbound.lua --sender bob@nowhere.example < " .. msg)
    assert.equal(2, rc3)
    assert.matches("no signing key for bob@nowhere%.example", err)
    local _, rc4, err4 = run("dkim-sign --rules rules/outbound.lua --sender alice@example.org --headers from < " .. msg)
    assert.equal(2, rc4)
    assert.matches("not %-%-headers", err4)
    os.remove(msg)
    os.remove(signed)
  end)
end)
