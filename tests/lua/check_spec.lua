-- The whole pipeline (mailauth.check) and the check / dmarc commands, on
-- the bundled example messages and zone.
local mailauth = require "mailauth"
local cjson = require "cjson"

local cli = os.getenv("MAILAUTH_CLI") or "build/lua/bin/mailauth"
local NOW = 1764000100

local function read(p) local f = assert(io.open(p, "rb")); local d = f:read("a"); f:close(); return d end

local function check(file, ip, helo, from, rules, extra)
  local o = { message = mailauth.message("examples/messages/" .. file), ip = ip, helo = helo, mail_from = from,
    resolver = mailauth.resolver{ fixture = "examples/zone.json" }, rules = rules,
    authserv_id = "mx.test.example", now = NOW }
  for k, v in pairs(extra or {}) do o[k] = v end
  return mailauth.check(o)
end

local function run(args, input)
  local tmp = os.tmpname()
  local cmd = cli .. " " .. args .. (input and (" < " .. input) or "") .. " > " .. tmp .. " 2>&1; echo $?"
  local p = io.popen(cmd)
  local rc = tonumber(p:read("a"))
  p:close()
  local out = read(tmp)
  os.remove(tmp)
  return out, rc
end

describe("mailauth.check", function()
  it("passes a signed message end to end", function()
    local r = check("signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org", "rules/strict.lua")
    assert.equal("pass", r.spf.result)
    assert.equal(2, #r.dkim)
    assert.equal("pass", r.dkim[1].result)
    assert.equal("pass", r.dkim[2].result)
    assert.equal("pass", r.dmarc.result)
    assert.equal("accept", r.verdict.action)
    assert.matches("^Authentication%-Results: mx%.test%.example;", r.authentication_results)
    assert.matches("dmarc=pass header%.from=example%.org", r.authentication_results)
    assert.matches("dkim=pass header%.d=example%.org header%.s=demo2048", r.authentication_results)
    -- the answer to every check went through one budget
    assert.is_true(r.queries > 0)
  end)

  it("rejects the spoofed message under the strict rules, quarantines it under the cautious ones", function()
    local s = check("spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example", "rules/strict.lua")
    assert.equal("fail", s.dmarc.result)
    assert.same({ "reject", nil }, { s.verdict.action, s.verdict.override })
    local c = check("spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example", "rules/cautious.lua")
    assert.same({ "quarantine", "local_policy" }, { c.verdict.action, c.verdict.override })
  end)

  it("rescues the mailing-list copy under the cautious rules only", function()
    local s = check("list.eml", "192.0.2.200", "relay.example.net", "demo-bounces@lists.example.net", "rules/strict.lua")
    assert.equal("fail", s.dmarc.result)
    assert.equal("reject", s.verdict.action)
    local c = check("list.eml", "192.0.2.200", "relay.example.net", "demo-bounces@lists.example.net", "rules/cautious.lua")
    assert.same({ "accept", "mailing_list" }, { c.verdict.action, c.verdict.override })
  end)

  it("finds forged Authentication-Results that claim our authserv-id", function()
    local text = "Authentication-Results: MX.TEST.example; dmarc=pass header.from=example.org\r\n" ..
      "Authentication-Results: other.example; spf=pass\r\n" .. read("examples/messages/spoofed.eml")
    local r = check("spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example", nil,
      { message = mailauth.message(text) })
    assert.same({ 1 }, r.forged_authres)
    assert.equal("fail", r.dmarc.result)
  end)

  it("writes the disposition the site applied into the field's comment", function()
    local function dis(file, ip, helo, from, rules)
      return check(file, ip, helo, from, rules).authentication_results:match("dis=(%w+)")
    end
    local spoof = { "spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example" }
    local list = { "list.eml", "192.0.2.200", "relay.example.net", "demo-bounces@lists.example.net" }
    assert.equal("reject", dis(spoof[1], spoof[2], spoof[3], spoof[4], "rules/strict.lua"))
    assert.equal("quarantine", dis(spoof[1], spoof[2], spoof[3], spoof[4], "rules/cautious.lua"))
    assert.equal("reject", dis(list[1], list[2], list[3], list[4], "rules/strict.lua"))
    assert.equal("none", dis(list[1], list[2], list[3], list[4], "rules/cautious.lua"))
    -- the DMARC result itself keeps the owner's disposition
    local r = check(list[1], list[2], list[3], list[4], "rules/cautious.lua")
    assert.equal("reject", r.dmarc.disposition)
    assert.matches("p=reject dis=none", r.authentication_results)
  end)

  it("finds every forged field, however many", function()
    local forged = ("Authentication-Results: mx.test.example; dkim=pass\r\n"):rep(20)
    local text = "Received: from x\r\n" .. forged .. read("examples/messages/spoofed.eml")
    local r = check("spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example", nil,
      { message = mailauth.message(text) })
    assert.equal(20, #r.forged_authres)
    for k, i in ipairs(r.forged_authres) do assert.equal(k + 1, i) end
    -- the indexes are msg:headers() indexes
    local hs = mailauth.message(text):headers()
    assert.matches("^Authentication%-Results", hs[r.forged_authres[20]].raw)
  end)

  it("writes the same Authentication-Results as mailauth.authres over its own result tables", function()
    for _, c in ipairs{
      { "signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org" },
      { "spoofed.eml", "198.18.7.7", "spoofer.example", "bounce@spoofer.example" },
      { "list.eml", "192.0.2.200", "relay.example.net", "demo-bounces@lists.example.net" },
      { "signed.eml", "192.0.2.25", "mx1.example.org", nil },
    } do
      local r = check(c[1], c[2], c[3], c[4], "rules/strict.lua")
      assert.equal(mailauth.authres{ authserv_id = "mx.test.example", spf = r.spf, dkim = r.dkim, dmarc = r.dmarc },
        r.authentication_results)
    end
  end)

  it("verifies more signatures than fit its stack room", function()
    local extra = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=nope; h=from; bh=AAAA; b=AAAA\r\n"
    local r = check("signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org", nil,
      { message = mailauth.message(extra:rep(3) .. read("examples/messages/signed.eml")) })
    assert.equal(5, #r.dkim)
    assert.equal("pass", r.dkim[4].result)
    assert.equal("pass", r.dkim[5].result)
    assert.are_not.equal("pass", r.dkim[1].result)
    assert.equal(5, select(2, r.authentication_results:gsub("dkim=", "")))
    assert.equal("pass", r.dmarc.result)
  end)

  it("keeps the envelope, the details on request, and a null reverse-path", function()
    local r = check("signed.eml", "192.0.2.25", "mx1.example.org", nil, nil, { rcpt = "bob@example.net" })
    assert.same({ "192.0.2.25", "mx1.example.org", "", "bob@example.net" }, { r.ip, r.helo, r.mail_from, r.rcpt })
    assert.equal("helo", r.spf.identity)
    assert.is_nil(r.spf.received_spf)
    assert.is_nil(r.dmarc.tags)
    local d = check("signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org", nil, { details = true })
    assert.matches("^Received%-SPF: pass", d.spf.received_spf)
    assert.equal("table", type(d.dmarc.tags))
    assert.equal("table", type(d.dmarc.rua))
  end)

  it("takes budget limits as a table, and raises on a caller's mistake", function()
    local r = check("signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org", nil,
      { budget = { queries = 1 } })
    assert.equal("temperror", r.spf.result)
    assert.equal(1, r.queries)
    assert.has_error(function()
      check("signed.eml", "192.0.2.300", "mx1.example.org", "alice@example.org")
    end)
    assert.has_error(function() mailauth.check{ ip = "192.0.2.1" } end)
  end)

  it("samples RFC 7489 pct= per message unless the sample is fixed", function()
    local r = mailauth.resolver{ fixture = {
      ["pct.example"] = { { TXT = "v=spf1 -all" } },
      ["_dmarc.pct.example"] = { { TXT = "v=DMARC1; p=reject; pct=50" } },
    } }
    local text = "From: a@pct.example\r\nSubject: x\r\n\r\nbody\r\n"
    local psl = mailauth.psl()
    local function run(sample)
      return mailauth.check{ message = text, ip = "192.0.2.1", helo = "pct.example", mail_from = "a@pct.example",
        resolver = r, rfc7489 = true, psl = psl, sample = sample }.dmarc
    end
    assert.same({ "fail", "reject", false }, { run(10).result, run(10).policy, run(10).testing })
    assert.same({ "quarantine", true }, { run(60).policy, run(60).testing })
    local seen = {}
    for _ = 1, 200 do seen[run(nil).policy] = true end
    assert.is_true(seen.reject and seen.quarantine)
    assert.has_error(function() run(-1) end)
  end)

  it("keeps option values that an __index metamethod makes alive", function()
    -- Strings made on the fly and collected at once must not be read after
    -- the collector freed them (ASan watches this in the test build).  The
    -- values are over 40 bytes: Lua interns shorter strings, so a fresh
    -- copy of one would be the constant itself.
    local function fresh(t)
      return setmetatable({}, { __index = function(_, k)
        collectgarbage()
        local v = t[k]
        if type(v) == "string" then return (v .. "!"):sub(1, -2) end
        return v
      end })
    end
    local long = ("long-label-"):rep(4) .. "example.org"
    local h = mailauth.authres(fresh{ authserv_id = "mx." .. long,
      spf = fresh{ result = "pass", sender = "bounces@" .. long, identity = "mailfrom" },
      dkim = { fresh{ result = "pass", domain = long, selector = ("s"):rep(45), header_b = "abc" } },
      dmarc = fresh{ result = "pass", author_domain = long } })
    assert.matches("^Authentication%-Results: mx%.long%-label", h)
    assert.matches("spf=pass%s+smtp%.mailfrom=bounces@long%-label%-long", h)
    assert.matches("header%.d=long%-label%-[%w.-]+%s+header%.s=sssss", h)
    assert.matches("dmarc=pass%s+header%.from=long%-label", h)
    local r = mailauth.check(fresh{ message = mailauth.message(read("examples/messages/signed.eml")),
      ip = "192.0.2.25", helo = "mx1.example.org", mail_from = "alice@example.org",
      resolver = mailauth.resolver{ fixture = "examples/zone.json" }, authserv_id = "mx.test.example", now = NOW })
    assert.equal("pass", r.dmarc.result)
  end)

  it("keeps option values alive when a resolver callback clears them, and leaves the options table alone", function()
    local opts
    local asked = {}
    local r = mailauth.resolver{ cache = false, callback = function(q, t)
      asked[#asked + 1] = q
      if opts.mail_from then
        opts.mail_from = nil
        collectgarbage()
        local junk = {}
        for i = 1, 1e4 do junk[i] = ("Z"):rep(40) .. i end
      end
      if t == "TXT" and q == "a.example" then return { "v=spf1 include:%{l}.x.example -all" } end
      return "nxdomain"
    end }
    local local_part = ("userpart"):rep(5)
    opts = { ip = "192.0.2.1", mail_from = local_part .. "@a.example", resolver = r }
    local res = mailauth.spf(opts)
    assert.equal(local_part .. ".x.example", asked[2])
    assert.equal("permerror", res.result)
    -- defaults given through __index stay defaults
    local defaults = { helo = "one.example" }
    local o = setmetatable({ ip = "192.0.2.1", resolver = mailauth.resolver{ fixture = {} } }, { __index = defaults })
    assert.equal("postmaster@one.example", mailauth.spf(o).sender)
    defaults.helo = "two.example"
    assert.equal("postmaster@two.example", mailauth.spf(o).sender)
    assert.is_nil(rawget(o, "helo"))
  end)

  it("keeps what an outer call read when a callback re-enters with the same options, or drops list entries", function()
    local opts
    local asked = {}
    local done = false
    local inner = mailauth.resolver{ fixture = {} }
    local r = mailauth.resolver{ cache = false, callback = function(q, t)
      asked[#asked + 1] = q
      if not done then
        done = true
        local outer = opts.resolver
        opts.mail_from, opts.resolver = "x@b.example", inner
        mailauth.spf(opts)
        opts.mail_from, opts.resolver = nil, outer
        collectgarbage()
        local junk = {}
        for i = 1, 2e4 do junk[i] = ("Z"):rep(60) .. i end
      end
      if t == "TXT" and q == "a.example" then return { "v=spf1 include:%{l}.x.example -all" } end
      return "nxdomain"
    end }
    local lp = ("userpart"):rep(6)
    opts = { ip = "192.0.2.1", mail_from = lp .. "@a.example", resolver = r }
    mailauth.spf(opts)
    assert.equal(lp .. ".x.example", asked[2])

    local d
    local r2 = mailauth.resolver{ cache = false, callback = function(q, t)
      if d.dkim[1] then
        d.dkim[1] = nil
        collectgarbage()
        local junk = {}
        for i = 1, 2e4 do junk[i] = ("Q"):rep(60) .. i end
      end
      if t == "TXT" and q:match("^_dmarc%.") then return { "v=DMARC1; p=reject" } end
      return "nxdomain"
    end }
    local dom = ("sub"):rep(20) .. ".a.example"
    d = { resolver = r2, from_domain = "a.example", dkim = { { domain = dom, result = "pass" } } }
    local res = mailauth.dmarc(d)
    assert.equal(dom, res.alignment.dkim.domain)
  end)

  it("will not close a resolver while a check uses it", function()
    local r
    r = mailauth.resolver{ cache = false, callback = function(q, t)
      r:close()
      return "nxdomain"
    end }
    local res = mailauth.spf{ ip = "192.0.2.1", mail_from = "u@a.example", resolver = r }
    assert.equal("temperror", res.result)
    r:close()
    assert.has_error(function() r:query("a.example", "TXT") end)
  end)

  it("turns an exhausted budget into temporary errors, not passes", function()
    local r = check("signed.eml", "192.0.2.25", "mx1.example.org", "alice@example.org", nil,
      { budget = mailauth.budget{ queries = 1 } })
    assert.are_not.equal("pass", r.dmarc.result)
    assert.equal("temperror", r.spf.result)
  end)
end)

describe("mailauth.authres", function()
  it("writes what the parser reads back", function()
    local h = mailauth.authres{ authserv_id = "mx.example.net",
      spf = { result = "pass", sender = "a@example.org", identity = "mailfrom" },
      dkim = { { result = "fail", reason = "body hash mismatch", domain = "example.org", selector = "s1", header_b = "ab/cd+ef" } },
      dmarc = { result = "fail", author_domain = "example.org", policy = "reject", requested_policy = "reject", disposition = "reject" } }
    local p = assert(mailauth.authres_parse(h:gsub("^Authentication%-Results:", "")))
    assert.equal("mx.example.net", p.authserv_id)
    assert.equal(3, #p.results)
    assert.equal("body hash mismatch", p.results[2].reason)
    assert.equal("ab/cd+ef", p.results[2].props["header.b"])
    assert.equal("reject", p.results[3].props["policy.dmarc"])
    assert.is_nil(mailauth.authres_parse(" x; spf"))
  end)
end)

describe("mailauth check / dmarc (CLI)", function()
  it("prints the documented JSON object", function()
    local out, rc = run("check --ip 192.0.2.25 --helo mx1.example.org --mail-from alice@example.org " ..
      "--dns examples/zone.json --rules rules/strict.lua --authserv-id mx.test.example --now " .. NOW .. " --json",
      "examples/messages/signed.eml")
    assert.equal(0, rc, out)
    local j = cjson.decode(out)
    assert.equal("pass", j.spf.result)
    assert.equal(2, #j.dkim.signatures)
    for _, k in ipairs{ "result", "policy", "disposition", "domain", "org_domain", "alignment" } do
      assert.is_not_nil(j.dmarc[k], k)
    end
    assert.equal("accept", j.verdict.action)
    assert.matches("^Authentication%-Results:", j.authentication_results)
  end)

  it("prints the header and the verdict in text mode", function()
    local out, rc = run("check --ip 198.18.7.7 --helo spoofer.example --mail-from bounce@spoofer.example " ..
      "--dns examples/zone.json --rules rules/cautious.lua --authserv-id mx.test.example",
      "examples/messages/spoofed.eml")
    assert.equal(0, rc)
    assert.matches("Authentication%-Results: mx%.test%.example;", out)
    assert.matches("verdict: quarantine %(.-%) override=local_policy", out)
  end)

  it("exits 2 with one line on usage errors", function()
    for _, args in ipairs{
      "check --ip 192.0.2.300 --dns examples/zone.json",
      "check --ip 192.0.2.1 --rules /nonexistent.lua --dns examples/zone.json",
      "check --ip 192.0.2.1 --dns /nonexistent.json",
      "check --ip 192.0.2.1 --rfc7489 --psl /nonexistent.dat --dns examples/zone.json",
      "check --ip 192.0.2.1 --psl /usr/share/publicsuffix/public_suffix_list.dat --dns examples/zone.json",
      "dmarc --dns examples/zone.json",
      "dmarc --from-domain example.org --spf-result pass --dns examples/zone.json",
      "dmarc --from-domain example.org --spf-domain x.example --spf-result maybe --dns examples/zone.json",
    } do
      local out, rc = run(args, "/dev/null")
      assert.equal(2, rc, args .. ": " .. out)
      assert.equal(1, select(2, out:gsub("\n", "")), args .. ": " .. out)
    end
  end)

  it("runs DMARC in RFC 7489 mode on request", function()
    local args = "check --ip 198.18.7.7 --helo spoofer.example --mail-from bounce@spoofer.example " ..
      "--dns examples/zone.json --authserv-id mx.test.example --json"
    local tw = cjson.decode((run(args, "examples/messages/spoofed.eml")))
    local psl = cjson.decode((run(args .. " --rfc7489", "examples/messages/spoofed.eml")))
    assert.same({ "tree-walk", "psl" }, { tw.dmarc.discovery, psl.dmarc.discovery })
    assert.same({ "fail", "reject" }, { psl.dmarc.result, psl.verdict.action })
    assert.equal("example.org", psl.dmarc.org_domain)
  end)

  it("evaluates DMARC from identities given on the command line", function()
    local out, rc = run("dmarc --from-domain mail.example.org --dkim-domain example.org --dns examples/zone.json --json")
    assert.equal(0, rc)
    local j = cjson.decode(out)
    assert.equal("pass", j.result)
    assert.equal("example.org", j.org_domain)
    out = run("dmarc --from-domain example.org --spf-domain example.org --spf-result fail --dns examples/zone.json --json")
    assert.equal("fail", cjson.decode(out).result)
  end)
end)
