local mailauth = require "mailauth"

local zone = {
  ["example.org"] = { { TXT = "v=spf1 mx ip4:192.0.2.0/26 include:_spf.example.net -all exp=exp.example.org" },
                      { MX = { 10, "mx.example.org" } } },
  ["exp.example.org"] = { { TXT = "%{i} may not send for %{d}" } },
  ["mx.example.org"] = { { A = "198.51.100.25" } },
  ["_spf.example.net"] = { { TXT = "v=spf1 ip6:2001:db8::/32 ~all" } },
  ["soft.example.org"] = { { TXT = "v=spf1 ~all" } },
  ["bad.example.org"] = { { TXT = "v=spf1 ip4:1.2.3.4/33 -all" } },
  ["slow.example.org"] = { "TIMEOUT" },
  ["helo.example.org"] = { { TXT = "v=spf1 a -all" }, { A = "192.0.2.99" } },
  ["void.example.org"] = { { TXT = "v=spf1 a:x1.example.org a:x2.example.org a:x3.example.org -all" } },
}
local r = mailauth.resolver{ fixture = zone }

local function spf(ip, from, helo, extra)
  local o = { ip = ip, mail_from = from, helo = helo or "mail.example.com", resolver = r }
  for k, v in pairs(extra or {}) do o[k] = v end
  return mailauth.spf(o)
end

describe("mailauth.spf", function()
  it("returns a plain table with the documented fields", function()
    local res = spf("192.0.2.10", "alice@example.org")
    assert.equal("pass", res.result)
    assert.equal("example.org", res.domain)
    assert.equal("mailfrom", res.identity)
    assert.equal("ip4:192.0.2.0/26", res.mechanism)
    assert.is_string(res.reason)
    assert.equal(1, res.lookups)
    assert.equal(0, res.void_lookups)
    assert.matches("^Received%-SPF: pass ", res.received_spf)
    assert.matches("client%-ip=192%.0%.2%.10;", res.received_spf)
  end)

  it("matches through mx and include, over IPv6, and IPv4-mapped IPv6 as IPv4", function()
    assert.equal("pass", spf("198.51.100.25", "a@example.org").result)
    assert.equal("mx", spf("198.51.100.25", "a@example.org").mechanism)
    assert.equal("pass", spf("2001:db8::5", "a@example.org").result)
    assert.equal("pass", spf("::ffff:192.0.2.10", "a@example.org").result)
  end)

  it("gives fail with the domain's explanation, softfail, permerror, temperror and none", function()
    local f = spf("203.0.113.9", "a@example.org")
    assert.equal("fail", f.result)
    assert.equal("203.0.113.9 may not send for example.org", f.explanation)
    assert.equal("softfail", spf("203.0.113.9", "a@soft.example.org").result)
    local p = spf("203.0.113.9", "a@bad.example.org")
    assert.equal("permerror", p.result)
    assert.matches("CIDR", p.reason)
    assert.matches("problem=", p.received_spf)
    assert.equal("temperror", spf("203.0.113.9", "a@slow.example.org").result)
    assert.equal("none", spf("203.0.113.9", "a@nowhere.example.org").result)
  end)

  it("counts void lookups and stops at two", function()
    local res = spf("203.0.113.9", "a@void.example.org")
    assert.equal("permerror", res.result)
    assert.equal(3, res.void_lookups)
    local lax = spf("203.0.113.9", "a@void.example.org", nil, { max_void_lookups = 5 })
    assert.equal("fail", lax.result)
  end)

  it("checks postmaster@helo for the null reverse-path, and the HELO identity on request", function()
    local res = spf("192.0.2.99", "", "helo.example.org")
    assert.equal("pass", res.result)
    assert.equal("helo", res.identity)
    assert.equal("postmaster@helo.example.org", res.sender)
    local h = spf("192.0.2.99", "a@example.org", "helo.example.org", { identity = "helo" })
    assert.equal("pass", h.result)
    assert.equal("helo.example.org", h.domain)
  end)

  it("returns none for identities that are not domain names, without DNS", function()
    assert.equal("none", spf("192.0.2.1", "a@[192.0.2.1]").result)
    assert.equal("none", spf("192.0.2.1", "", "localhost").result)
  end)

  it("turns a budget of DNS queries into temperror", function()
    local res = spf("198.51.100.25", "a@example.org", nil, { budget = { queries = 1 } })
    assert.equal("temperror", res.result)
    assert.matches("budget", res.reason)
  end)

  it("raises for programmer mistakes only", function()
    assert.has_error(function() mailauth.spf{ ip = "999.1.1.1", mail_from = "a@example.org", resolver = r } end)
    assert.has_error(function() mailauth.spf{ mail_from = "a@example.org", resolver = r } end)
    assert.has_error(function() mailauth.spf{ ip = "192.0.2.1", resolver = r, identity = "rcpt" } end)
    assert.has_error(function() mailauth.spf("192.0.2.1") end)
  end)

  it("survives hostile input as results", function()
    local long = string.rep("a", 300) .. ".example.org"
    assert.equal("none", spf("192.0.2.1", "x@" .. long).result)
    assert.equal("none", spf("192.0.2.1", "x@exa\0mple.org").result)
    local hostile = mailauth.resolver{ fixture = {
      ["h.example"] = { { TXT = "v=spf1 " .. string.rep("a:%{l}%{l}%{l}%{l}.example ", 40) .. "-all" } },
      ["n.example"] = { { TXT = "v=spf1 \0 -all" } },
      ["c1.example"] = { { CNAME = "c2.example" } }, ["c2.example"] = { { CNAME = "c1.example" } },
      ["cl.example"] = { { TXT = "v=spf1 a:c1.example -all" } },
    } }
    local o = { ip = "192.0.2.1", helo = "h", resolver = hostile }
    o.mail_from = string.rep("l.", 200) .. "@h.example"
    assert.equal("permerror", mailauth.spf(o).result)
    o.mail_from = "x@n.example"
    assert.equal("permerror", mailauth.spf(o).result)
    o.mail_from = "x@cl.example"
    assert.equal("temperror", mailauth.spf(o).result)
  end)

  it("checks record syntax alone", function()
    assert.is_true(mailauth.spf_record_check("v=spf1 mx -all"))
    local ok, why = mailauth.spf_record_check("v=spf1 inclde:x.example -all")
    assert.is_false(ok)
    assert.matches("unknown mechanism", why)
  end)
end)
