-- mailauth.dmarc through the Lua API: RFC 9989 behaviours end to end.
local mailauth = require "mailauth"

local function R(zone) return mailauth.resolver{ fixture = zone } end
local function dm(o) return mailauth.dmarc(o) end

describe("mailauth.dmarc", function()
  it("walks the tree to the organizational domain and aligns relaxedly", function()
    local r = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject" } } }
    local res = dm{ from_domain = "a.b.mail.example.com", dkim = { { domain = "example.com", result = "pass" } }, resolver = r }
    assert.equal("pass", res.result)
    assert.equal("example.com", res.org_domain)
    assert.equal("example.com", res.policy_domain)
    assert.equal("p", res.policy_tag)
    assert.is_true(res.alignment.dkim.aligned)
    local strict = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject; adkim=s" } } }
    local s = dm{ from_domain = "mail.example.com", dkim = { { domain = "example.com", result = "pass" } }, resolver = strict }
    assert.equal("fail", s.result)
    assert.equal("reject", s.disposition)
  end)

  it("ignores identities that did not pass", function()
    local r = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=quarantine" } } }
    local res = dm{ from_domain = "example.com", spf = { domain = "example.com", result = "softfail" },
      dkim = { { domain = "example.com", result = "fail" } }, resolver = r }
    assert.equal("fail", res.result)
    assert.equal("quarantine", res.policy)
  end)

  it("uses sp for existing subdomains and np for non-existent ones (RFC 8020 test)", function()
    local zone = { ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject; sp=none; np=quarantine" } },
      ["exists.example.com"] = { { A = "192.0.2.1" } } }
    local r = R(zone)
    assert.equal("none", dm{ from_domain = "exists.example.com", resolver = r }.policy)
    local ghost = dm{ from_domain = "ghost.example.com", resolver = r }
    assert.equal("quarantine", ghost.policy)
    assert.equal("np", ghost.policy_tag)
    assert.is_false(ghost.author_exists)
  end)

  it("lowers the policy under t=y", function()
    local r = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject; t=y" } } }
    local res = dm{ from_domain = "example.com", resolver = r }
    assert.equal("quarantine", res.policy)
    assert.equal("reject", res.requested_policy)
    assert.is_true(res.testing)
  end)

  it("stops the walk at psd=y and takes the name one label below as org domain", function()
    local r = R{ ["_dmarc.bank.example"] = { { TXT = "v=DMARC1; p=reject; psd=y" } },
      ["_dmarc.giant.bank.example"] = { { TXT = "v=DMARC1; p=quarantine" } } }
    local res = dm{ from_domain = "giant.bank.example", spf = { domain = "mail.giant.bank.example", result = "pass" },
      dkim = { { domain = "mail.mega.bank.example", result = "pass" } }, resolver = r }
    assert.equal("pass", res.result)
    assert.is_true(res.alignment.spf.aligned)
    assert.is_false(res.alignment.dkim.aligned)
  end)

  it("treats a record without p as p=none only with a valid rua", function()
    local r = R{ ["_dmarc.a.example"] = { { TXT = "v=DMARC1; rua=mailto:r@a.example" } },
      ["_dmarc.b.example"] = { { TXT = "v=DMARC1; adkim=s" } } }
    assert.equal("none", dm{ from_domain = "a.example", resolver = r }.policy)
    assert.equal("fail", dm{ from_domain = "a.example", resolver = r }.result)
    assert.equal("none", dm{ from_domain = "b.example", resolver = r }.result)
  end)

  it("gives temperror, never fail, when DNS fails", function()
    local r = R{ ["_dmarc.example.com"] = { "TIMEOUT" } }
    assert.equal("temperror", dm{ from_domain = "example.com", resolver = r }.result)
    local r2 = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject" } }, ["_dmarc.a.example.com"] = { "SERVFAIL" } }
    -- the identifier's own walk fails: alignment unknown
    local res = dm{ from_domain = "example.com", dkim = { { domain = "x.a.example.com", result = "pass" } }, resolver = r2 }
    assert.equal("temperror", res.result)
  end)

  it("authorizes external report destinations through _report._dmarc", function()
    local r = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=none; rua=mailto:a@example.com,mailto:b@ok.example,mailto:c@no.example" } },
      ["example.com._report._dmarc.ok.example"] = { { TXT = "v=DMARC1;" } } }
    local res = dm{ from_domain = "example.com", resolver = r, check_reports = true }
    assert.same({ false, true }, { res.rua[1].external, res.rua[1].authorized })
    assert.same({ true, true }, { res.rua[2].external, res.rua[2].authorized })
    assert.same({ true, false }, { res.rua[3].external, res.rua[3].authorized })
  end)

  it("handles From fields from a message: none, several, several domains", function()
    local r = R{ ["_dmarc.example.com"] = { { TXT = "v=DMARC1; p=reject" } } }
    local none = dm{ message = mailauth.message("To: x@y.example\r\n\r\nbody"), resolver = r }
    assert.equal("permerror", none.result)
    assert.equal("none", none.from_status)
    local two = dm{ message = mailauth.message("From: a@example.com\r\nFrom: b@example.com\r\n\r\nb"), resolver = r }
    assert.equal("permerror", two.result)
    local multi = dm{ message = mailauth.message("From: a@other.example, b@example.com\r\n\r\nb"), resolver = r }
    assert.equal("fail", multi.result)
    assert.equal("reject", multi.policy)
    assert.equal("multiple-domains", multi.from_status)
    assert.equal(2, multi.author_domains)
  end)

  it("runs the RFC 7489 mode with the Public Suffix List", function()
    local psl = mailauth.psl()
    assert.equal("example.co.uk", psl:org_domain("a.b.example.co.uk"))
    assert.is_nil(psl:org_domain("co.uk"))
    assert.is_true(psl:aligned("a.foo.com", "b.foo.com"))
    assert.is_false(psl:aligned("a.foo.com", "b.foo.com", true))
    local r = R{ ["_dmarc.example.co.uk"] = { { TXT = "v=DMARC1; p=reject; pct=0" } } }
    local res = dm{ from_domain = "mail.example.co.uk", resolver = r, rfc7489 = true, psl = psl }
    assert.equal("psl", res.discovery)
    assert.equal("fail", res.result)
    assert.equal("quarantine", res.policy)   -- pct=0 samples the message out: one level down
    assert.has_error(function() dm{ from_domain = "x.example", resolver = r, rfc7489 = true } end)
  end)

  it("raises only for programmer mistakes", function()
    local r = R{}
    assert.has_error(function() dm{ resolver = r } end)
    assert.has_error(function() dm{ from_domain = "a.example", resolver = r, dkim = "x" } end)
    assert.equal("none", dm{ from_domain = "[192.0.2.1]", resolver = r }.result)
    assert.equal("none", dm{ from_domain = string.rep("a", 300) .. ".example", resolver = r }.result)
  end)
end)
