local mailauth = require "mailauth"

describe("mailauth.resolver", function()
  it("builds a fixture from a Lua table in the suite shape", function()
    local r = mailauth.resolver{ fixture = {
      ["example.org"] = { { TXT = "v=spf1 -all" }, { MX = { 10, "mx.example.org" } } },
      ["mx.example.org"] = { { A = "192.0.2.1" }, { AAAA = "2001:db8::1" } },
      ["slow.example.org"] = { "TIMEOUT" },
      ["bad.example.org"] = { "SERVFAIL" },
    } }
    assert.equal("fixture", r:backend())
    local a = r:query("example.org", "TXT")
    assert.equal("ok", a.status)
    assert.same({ { "v=spf1 -all" } }, a.records)
    assert.same({ { 10, "mx.example.org" } }, r:query("EXAMPLE.org.", "MX").records)
    assert.same({ "192.0.2.1" }, r:query("mx.example.org", "A").records)
    assert.same({ "2001:db8::1" }, r:query("mx.example.org", "AAAA").records)
    assert.equal("nodata", r:query("mx.example.org", "TXT").status)
    assert.equal("nxdomain", r:query("nowhere.example.org", "A").status)
    assert.equal("timeout", r:query("slow.example.org", "TXT").status)
    assert.equal("servfail", r:query("bad.example.org", "A").status)
  end)

  it("builds a fixture from a Lua table in the corpus shape", function()
    local r = mailauth.resolver{ fixture = {
      ["example.net"] = { TXT = { "v=spf1 mx -all", "other" }, MX = { { 5, "a.example.net" }, { 10, "b.example.net" } } },
      ["a.example.net"] = { A = { "192.0.2.5", "192.0.2.6" } },
    } }
    assert.equal(2, #r:query("example.net", "TXT").records)
    assert.equal(2, #r:query("example.net", "MX").records)
    assert.same({ "192.0.2.5", "192.0.2.6" }, r:query("a.example.net", "A").records)
  end)

  it("keeps TXT character-strings separate and their bytes exact, NUL included", function()
    local r = mailauth.resolver{ fixture = { ["n.example"] = { { TXT = { "v=spf1 ", "a\0b" } } } } }
    local rec = r:query("n.example", "TXT").records[1]
    assert.equal(2, #rec)
    assert.equal("a\0b", rec[2])
    assert.equal(3, #rec[2])
  end)

  it("loads the zonedata JSON file format", function()
    local r = mailauth.resolver{ fixture = "examples/zone.json" }
    assert.equal("ok", r:query("example.org", "MX").status)
  end)

  it("raises for programmer mistakes only", function()
    assert.has_error(function() mailauth.resolver("x") end)
    assert.has_error(function() mailauth.resolver{ fixture = "/nonexistent/zone.json" } end)
    assert.has_error(function() mailauth.resolver{ fixture = { ["a.example"] = { { TXT = 42 } } } } end)
    assert.has_error(function() mailauth.resolver{ servers = "not-an-ip" } end)
    local r = mailauth.resolver{ fixture = {} }
    assert.has_error(function() r:query("a.example", "NOPE") end)
  end)

  it("answers through a Lua callback", function()
    local seen = {}
    local r = mailauth.resolver{ callback = function(name, qtype)
      seen[#seen + 1] = qtype .. " " .. name
      if name == "cb.example" and qtype == "TXT" then return { "v=spf1 ip4:192.0.2.0/24 -all" } end
      if name == "err.example" then error("boom") end
      if name == "slow.example" then return "timeout" end
      return nil
    end }
    assert.equal("ok", r:query("cb.example", "TXT").status)
    assert.equal("nxdomain", r:query("x.example", "A").status)
    assert.equal("error", r:query("err.example", "A").status)
    assert.equal("timeout", r:query("slow.example", "A").status)
    assert.equal("TXT cb.example", seen[1])
    local res = mailauth.spf{ ip = "192.0.2.7", mail_from = "a@cb.example", resolver = r }
    assert.equal("pass", res.result)
  end)

  it("caches answers (the callback is not asked twice)", function()
    local n = 0
    local r = mailauth.resolver{ callback = function() n = n + 1; return { "192.0.2.1" } end }
    r:query("c.example", "A")
    r:query("c.example", "A")
    assert.equal(1, n)
    local r2 = mailauth.resolver{ cache = false, callback = function() n = n + 1; return { "192.0.2.1" } end }
    r2:query("c.example", "A")
    r2:query("c.example", "A")
    assert.equal(3, n)
  end)

  it("can be closed, and then refuses to work", function()
    local r = mailauth.resolver{ fixture = {} }
    r:close()
    assert.has_error(function() r:query("a.example", "A") end)
    assert.matches("closed", tostring(r))
  end)
end)
