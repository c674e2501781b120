-- Site policy: the helpers, the engine, and each example in rules/.
local policy = require "mailauth.policy"

local function results(dmarc, extra)
  local r = { ip = "203.0.113.9", dmarc = dmarc, spf = { result = "none" }, dkim = {} }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function fail(policy_name, author)
  return { result = "fail", policy = policy_name, requested_policy = policy_name,
    author_domain = author or "example.org", domain = author or "example.org", reason = "no alignment" }
end

describe("mailauth.policy helpers", function()
  it("matches domains by suffix, case-insensitively, never by substring", function()
    local d = policy.domains{ "Example.org", "lists.example.net" }
    assert.is_true(d:contains("example.org"))
    assert.is_true(d:contains("a.b.EXAMPLE.org."))
    assert.is_true(d:contains("x.lists.example.net"))
    assert.is_false(d:contains("badexample.org"))
    assert.is_false(d:contains("example.net"))
    assert.is_false(d:contains(""))
  end)

  it("matches addresses against IPv4 and IPv6 networks", function()
    local n = policy.cidrs{ "192.0.2.0/24", "2001:db8::/32", "198.51.100.7" }
    assert.is_true(n:contains("192.0.2.200"))
    assert.is_true(n:contains("::ffff:192.0.2.1"))
    assert.is_true(n:contains("2001:db8:1::5"))
    assert.is_true(n:contains("198.51.100.7"))
    assert.is_false(n:contains("198.51.100.8"))
    assert.is_false(n:contains("not an ip"))
    assert.is_false(n:contains(nil))
    assert.has_error(function() policy.cidrs{ "192.0.2.0/33" } end)
    assert.has_error(function() policy.cidrs{ "2001:db8:zz::/48" } end)
  end)

  it("checks verdict words", function()
    assert.same({ action = "reject", reason = "x" }, policy.verdict("reject", "x"))
    assert.has_error(function() policy.verdict("bounce", "x") end)
    assert.has_error(function() policy.verdict("accept", "x", "because") end)
  end)

  it("refuses rules files with unknown actions or that do not load", function()
    local path = os.tmpname()
    local f = io.open(path, "w"); f:write("return { inbound = { honour = { reject = 'bounce' } } }"); f:close()
    assert.has_error(function() policy.load(path) end)
    f = io.open(path, "w"); f:write("return 42"); f:close()
    assert.has_error(function() policy.load(path) end)
    f = io.open(path, "w"); f:write("syntax error here"); f:close()
    assert.has_error(function() policy.load(path) end)
    os.remove(path)
    assert.has_error(function() policy.load("/nonexistent/rules.lua") end)
  end)
end)

describe("the policy engine with no rules", function()
  it("honours the owner's policy and accepts everything else", function()
    assert.equal("reject", policy.inbound({}, results(fail("reject"))).action)
    assert.equal("quarantine", policy.inbound({}, results(fail("quarantine"))).action)
    assert.equal("accept", policy.inbound({}, results(fail("none"))).action)
    assert.equal("accept", policy.inbound({}, results({ result = "pass" })).action)
    assert.equal("accept", policy.inbound({}, results({ result = "none" })).action)
    assert.equal("accept", policy.inbound({}, results({ result = "temperror", reason = "dns" })).action)
    local v = policy.inbound({}, results({ result = "permerror", from_status = "multiple-from-fields", reason = "2 From fields" }))
    assert.equal("quarantine", v.action)
    assert.matches("From", v.reason)
  end)

  it("lets a verdict hook decide first, and checks what it returns", function()
    local rules = { inbound = { verdict = function(r, p)
      if r.ip == "203.0.113.9" then return p.verdict("defer", "greylisted") end
    end } }
    assert.equal("defer", policy.inbound(rules, results(fail("none"))).action)
    local r2 = results(fail("reject")); r2.ip = "192.0.2.1"
    assert.equal("reject", policy.inbound(rules, r2).action)
    assert.has_error(function()
      policy.inbound({ inbound = { verdict = function() return "accept" end } }, results(fail("none")))
    end)
  end)
end)

describe("rules/strict.lua", function()
  local rules = policy.load("rules/strict.lua")
  it("rejects what the owner asks to reject, with no override", function()
    local v = policy.inbound(rules, results(fail("reject")))
    assert.equal("reject", v.action)
    assert.is_nil(v.override)
  end)
  it("defers on a DMARC temporary error and rejects a malformed From", function()
    assert.equal("defer", policy.inbound(rules, results({ result = "temperror" })).action)
    assert.equal("reject", policy.inbound(rules, results({ result = "permerror", from_status = "none" })).action)
  end)
  it("has no exceptions: a mailing list is rejected too", function()
    local msg = require("mailauth").message("List-Id: <demo.lists.example.net>\r\nFrom: a@example.org\r\n\r\nx")
    assert.equal("reject", policy.inbound(rules, results(fail("reject"), { message = msg })).action)
  end)
end)

describe("rules/cautious.lua", function()
  local rules = policy.load("rules/cautious.lua")
  local mailauth = require "mailauth"
  it("quarantines instead of rejecting, reported as local_policy", function()
    local v = policy.inbound(rules, results(fail("reject")))
    assert.equal("quarantine", v.action)
    assert.equal("local_policy", v.override)
    local q = policy.inbound(rules, results(fail("quarantine")))
    assert.equal("quarantine", q.action)
    assert.is_nil(q.override)
  end)
  it("accepts known mailing lists by List-Id, list server SPF or list signature", function()
    local msg = mailauth.message("List-Id: Demo <demo.lists.example.net>\r\nFrom: a@example.org\r\n\r\nx")
    local v = policy.inbound(rules, results(fail("reject"), { message = msg }))
    assert.same({ "accept", "mailing_list" }, { v.action, v.override })
    v = policy.inbound(rules, results(fail("reject"), { spf = { result = "pass", domain = "lists.example.net" } }))
    assert.equal("mailing_list", v.override)
    v = policy.inbound(rules, results(fail("reject"), { dkim = { { result = "pass", domain = "googlegroups.example" } } }))
    assert.equal("mailing_list", v.override)
    -- a failing list signature or SPF is no evidence
    v = policy.inbound(rules, results(fail("reject"), { dkim = { { result = "fail", domain = "googlegroups.example" } } }))
    assert.equal("local_policy", v.override)
  end)
  it("accepts mail from trusted forwarders by address", function()
    local r = results(fail("reject")); r.ip = "198.51.100.44"
    local v = policy.inbound(rules, r)
    assert.same({ "accept", "trusted_forwarder" }, { v.action, v.override })
    r.ip = "2001:db8:f0d::1"
    assert.equal("trusted_forwarder", policy.inbound(rules, r).override)
  end)
end)

describe("rules/subdomains.lua", function()
  local rules = policy.load("rules/subdomains.lua")
  it("applies a per-subdomain override to the domain and below it", function()
    local v = policy.inbound(rules, results(fail("reject", "news.partner.example")))
    assert.same({ "quarantine", "local_policy" }, { v.action, v.override })
    v = policy.inbound(rules, results(fail("reject", "eu.news.partner.example")))
    assert.equal("quarantine", v.action)
    -- the parent and siblings keep the owner's policy
    assert.equal("reject", policy.inbound(rules, results(fail("reject", "partner.example"))).action)
    assert.equal("reject", policy.inbound(rules, results(fail("reject", "shop.partner.example"))).action)
  end)
  it("can be stricter than the owner: p=none held for review", function()
    local v = policy.inbound(rules, results(fail("none", "app.legacy.corp.example")))
    assert.same({ "quarantine", "local_policy" }, { v.action, v.override })
    assert.equal("accept", policy.inbound(rules, results(fail("none", "corp.example"))).action)
  end)
  it("lists exceptions as plain data", function()
    local v = policy.inbound(rules, results(fail("reject", "tickets.vendor.example")))
    assert.same({ "quarantine", "local_policy" }, { v.action, v.override })
  end)
end)
