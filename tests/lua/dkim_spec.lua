-- DKIM in the Lua module and the CLI: messages, key generation, signing
-- (RSA and Ed25519 in one call), verification results for every class of
-- outcome, argument errors, and the dkim / dkim-sign / dkim-keygen commands.
-- DNS comes from fixture resolvers; temporary files live under /tmp and are
-- removed by each test.
local mailauth = require "mailauth"
local cjson = require "cjson"

local cli = os.getenv("MAILAUTH_CLI") or "build/lua/bin/mailauth"
-- The conformance data, read in place (tests run from the project root).
local shared = os.getenv("MAILAUTH_SHARED_DIR") or "../shared"

local DOMAIN = "example.org"
local rsa = mailauth.dkim.keygen{ type = "rsa", bits = 2048, domain = DOMAIN, selector = "rsa2048" }
local ed = mailauth.dkim.keygen{ type = "ed25519", domain = DOMAIN, selector = "ed" }

local MESSAGE = table.concat({
  "Received: from mx.example.org by mail.example.net; Tue, 14 Nov 2023 22:13:20 +0000",
  "From: Alice Example <alice@example.org>",
  "To: Bob <bob@example.net>",
  "Subject: quarterly report",
  "Date: Tue, 14 Nov 2023 22:13:20 +0000",
  "Message-ID: <report-42@example.org>",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Hello Bob,",
  "",
  "the numbers are attached.  Regards,",
  "Alice",
  "",
}, "\r\n")

-- Zone data: the keygen records plus `extra` (name -> records, or false to drop).
local function zone(extra)
  local z = { [rsa.name] = { { TXT = rsa.record } }, [ed.name] = { { TXT = ed.record } } }
  for k, v in pairs(extra or {}) do z[k] = v or nil end
  return z
end

local function resolver(extra)
  return mailauth.resolver{ fixture = zone(extra) }
end

local function signer(key, over)
  local s = { key = key.private_key, domain = DOMAIN, selector = key.name:match("^([^.]+)") }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

-- Signs `text` and returns the message with the new fields on top.
local function sign(text, signers)
  local hs, err = mailauth.dkim.sign(mailauth.message(text), signers)
  assert(hs, err)
  return table.concat(hs, "\r\n") .. "\r\n" .. text, hs
end

local function verify(text, opts)
  opts = opts or {}
  opts.resolver = opts.resolver or resolver()
  return mailauth.dkim.verify(mailauth.message(text), opts)
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local d = f:read("a")
  f:close()
  return d
end

-- Pattern-escapes a literal.
local function lit(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Runs the CLI; returns stdout, stderr, exit status.
local function run(args, input)
  local base = os.tmpname()
  local inp = base .. ".in"
  write_file(inp, input or "")
  local cmd = ("%s %s <%s >%s.out 2>%s.err"):format(cli, args, inp, base, base)
  local ok, how, code = os.execute(cmd)
  local out, err = read_file(base .. ".out"), read_file(base .. ".err")
  for _, p in ipairs{ base, inp, base .. ".out", base .. ".err" } do os.remove(p) end
  return out, err, (how == "exit" and code or 128 + (code or 0)), ok
end

-- The Mail::DKIM corpus case good_83176 (v=1, a=rsa-sha1, 1024-bit key,
-- legacy pass) from the conformance manifest: the case and the message path.
local function sha1_case()
  local dir = shared .. "/conformance/dkim"
  local f = io.open(dir .. "/manifest.json", "rb")
  if not f then return nil end
  local manifest = cjson.decode(f:read("a"))
  f:close()
  for _, c in ipairs(manifest.cases) do
    if c.id == "mail-dkim/good_83176" then
      local path = dir .. "/" .. c.file
      local m = io.open(path, "rb")
      if not m then return nil end
      m:close()
      return c, path
    end
  end
end

describe("mailauth.message", function()
  it("reads a message from a string, LF or CRLF, with the body in CRLF", function()
    local m = mailauth.message(MESSAGE)
    local hs = m:headers()
    assert.equal(8, #hs)
    assert.equal("Received", hs[1].name)
    assert.equal("From", hs[2].name)
    assert.equal(" Alice Example <alice@example.org>", hs[2].value)
    assert.equal("From: Alice Example <alice@example.org>", hs[2].raw)
    assert.equal(1, #m:headers("subject"))
    assert.equal("Hello Bob,\r\n\r\nthe numbers are attached.  Regards,\r\nAlice\r\n", m:body())
    assert.is_nil(m:error())
    local lf = mailauth.message((MESSAGE:gsub("\r\n", "\n")))
    assert.equal(8, #lf:headers())
    assert.equal(m:body(), lf:body())
  end)

  it("reads a message from a path", function()
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    write_file(path, MESSAGE)
    local m = mailauth.message(path)
    assert.equal(8, #m:headers())
    assert.equal("Subject", m:headers("Subject")[1].name)
    assert.equal(mailauth.message(MESSAGE):body(), m:body())
  end)

  it("reads a message from an open file handle, from its current position, and outlives it", function()
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    write_file(path, "X-Skipped-Envelope-Line\n" .. MESSAGE)
    local f = assert(io.open(path, "rb"))
    f:read("l")
    local m = mailauth.message(f)
    f:close()
    assert.equal(8, #m:headers())
    assert.equal("Received", m:headers()[1].name)
    assert.equal(mailauth.message(MESSAGE):body(), m:body())
    -- the message keeps its own descriptor: signing and verifying still read the body
    local signed = sign(MESSAGE, { signer(ed) })
    write_file(path, signed)
    local g = assert(io.open(path, "rb"))
    local m2 = mailauth.message(g)
    g:close()
    local res = mailauth.dkim.verify(m2, { resolver = resolver() })
    assert.equal("pass", res[1].result)
  end)

  it("raises for an unreadable path, a closed handle and a wrong type", function()
    assert.has_error(function() mailauth.message("/nonexistent/mailauth/message.eml") end)
    local f = io.tmpfile()
    f:close()
    assert.has_error(function() mailauth.message(f) end)
    assert.has_error(function() mailauth.message({}) end)
    assert.has_error(function() mailauth.message() end)
  end)
end)

describe("mailauth.dkim.keygen", function()
  it("makes an RSA key: PKCS#8 PEM, the TXT record and its owner name", function()
    assert.equal("rsa", rsa.type)
    assert.equal(2048, rsa.bits)
    assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", rsa.private_key)
    assert.matches("%-%-%-%-%-END PRIVATE KEY%-%-%-%-%-\n$", rsa.private_key)
    assert.matches("^v=DKIM1; k=rsa; p=[%w+/]+=*$", rsa.record)
    assert.equal("rsa2048._domainkey.example.org", rsa.name)
    local small = mailauth.dkim.keygen{ type = "rsa", bits = 1024 }
    assert.equal(1024, small.bits)
    assert.is_nil(small.name)
  end)

  it("makes an Ed25519 key whose record holds the 32-byte public key", function()
    assert.equal("ed25519", ed.type)
    assert.equal(256, ed.bits)
    assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", ed.private_key)
    local p = ed.record:match("^v=DKIM1; k=ed25519; p=([%w+/]+=*)$")
    assert.is_not_nil(p)
    assert.equal(44, #p)	-- base64 of 32 bytes
    assert.equal("ed._domainkey.example.org", ed.name)
    assert.are_not.equal(ed.record, mailauth.dkim.keygen{ type = "ed25519" }.record)
  end)

  it("raises for a bad type, a bad size or a non-table argument", function()
    assert.has_error(function() mailauth.dkim.keygen{ type = "dsa" } end)
    assert.has_error(function() mailauth.dkim.keygen{ type = "rsa", bits = 512 } end)
    assert.has_error(function() mailauth.dkim.keygen{ type = "rsa", bits = 16384 } end)
    assert.has_error(function() mailauth.dkim.keygen("rsa") end)
    assert.has_error(function() mailauth.dkim.keygen{ type = 25519 } end)
  end)
end)

describe("mailauth.dkim sign and verify", function()
  it("signs with RSA and Ed25519 in one call and both signatures pass", function()
    local signed, hs = sign(MESSAGE, { signer(rsa), signer(ed) })
    assert.equal(2, #hs)
    local flat1 = hs[1]:gsub("\r\n[ \t]+", " ")
    assert.matches("^DKIM%-Signature: v=1; a=rsa%-sha256; c=relaxed/relaxed; d=example%.org; s=rsa2048;", flat1)
    assert.matches("^DKIM%-Signature: v=1; a=ed25519%-sha256;", hs[2])
    assert.is_nil(hs[1]:find("\r\n$"))
    for _, h in ipairs(hs) do
      -- folded: no line past RFC 5322's 998 (the 78 it recommends can be
      -- passed by one: a tag that just fits gets its ';' after it)
      assert.is_true(select(2, h:gsub("\r\n\t", "")) >= 2)
      for line in (h .. "\r\n"):gmatch("(.-)\r\n") do
        assert.is_true(#line <= 998, line)
      end
    end
    local res = verify(signed)
    assert.equal(2, #res)
    local b1 = hs[1]:gsub("\r\n[ \t]+", ""):match("b=([%w+/]+)")
    local b2 = hs[2]:gsub("\r\n[ \t]+", ""):match("b=([%w+/]+)")
    for i, want in ipairs{ { "rsa2048", "rsa-sha256", 2048, b1 }, { "ed", "ed25519-sha256", 256, b2 } } do
      local s = res[i]
      assert.equal("pass", s.result)
      assert.equal("good signature", s.reason)
      assert.equal(DOMAIN, s.domain)
      assert.equal(want[1], s.selector)
      assert.equal(want[2], s.algorithm)
      assert.equal(want[3], s.bits)
      assert.equal(want[4]:sub(1, 8), s.header_b)
      assert.equal("@example.org", s.identity)
      assert.equal("relaxed/relaxed", s.canonicalization)
      assert.is_false(s.testing)
      assert.is_number(s.timestamp)
      assert.is_nil(s.expiration)
      assert.is_nil(s.body_length)
    end
    -- the default header list signs From once more than it occurs
    assert.matches("h=from:from:", (hs[1]:gsub("\r\n\t", "")))
  end)

  it("verifies the same signed message read from a path and from a file handle", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    write_file(path, signed)
    local r = resolver()
    local fh = assert(io.open(path, "rb"))
    for _, m in ipairs{ mailauth.message(path), mailauth.message(fh) } do
      local res = mailauth.dkim.verify(m, { resolver = r })
      assert.equal("pass", res[1].result)
      assert.equal("pass", res[2].result)
    end
    fh:close()
  end)

  it("signs with every canonicalization and with an explicit header list and i=", function()
    for _, c in ipairs{ "simple/simple", "relaxed/simple", "simple/relaxed", "relaxed/relaxed" } do
      local signed = sign(MESSAGE, { signer(rsa, { canonicalization = c }), signer(ed, { canonicalization = c }) })
      local res = verify(signed)
      assert.equal("pass", res[1].result, c)
      assert.equal("pass", res[2].result, c)
      assert.equal(c, res[1].canonicalization)
    end
    local signed, hs = sign(MESSAGE, { signer(ed, { headers = "from:to:subject", identity = "alice@mail.example.org" }) })
    assert.matches("h=from:to:subject;", hs[1])
    local res = verify(signed)
    assert.equal("pass", res[1].result)
    assert.equal("alice@mail.example.org", res[1].identity)
  end)

  it("passes with an unsigned header field added, and an LF copy of a CRLF-signed message", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify("X-Spam-Score: 0.1\r\n" .. signed)
    assert.equal("pass", res[1].result)
    assert.equal("pass", res[2].result)
    local lf = verify((signed:gsub("\r\n", "\n")))
    assert.equal("pass", lf[1].result)
    assert.equal("pass", lf[2].result)
  end)

  it("fails with 'body hash mismatch' when the body is changed", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify((signed:gsub("numbers are attached", "numbers are wrong")))
    assert.equal(2, #res)
    for _, s in ipairs(res) do
      assert.equal("fail", s.result)
      assert.equal("body hash mismatch", s.reason)
    end
  end)

  it("fails with 'signature did not verify' when a signed header field is changed or added", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify((signed:gsub("Subject: quarterly report", "Subject: quarterly refund")))
    for _, s in ipairs(res) do
      assert.equal("fail", s.result)
      assert.equal("signature did not verify", s.reason)
    end
    -- From is over-signed: a second From breaks the signature
    local res2 = verify((signed:gsub("\r\n\r\n", "\r\nFrom: Mallory <ceo@example.org>\r\n\r\n", 1)))
    for _, s in ipairs(res2) do
      assert.equal("fail", s.result)
      assert.equal("signature did not verify", s.reason)
    end
  end)

  it("gives permerror 'key revoked' for an empty p=", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify(signed, { resolver = resolver{ [rsa.name] = { { TXT = "v=DKIM1; k=rsa; p=" } } } })
    assert.equal("permerror", res[1].result)
    assert.equal("key revoked", res[1].reason)
    assert.equal("pass", res[2].result)
  end)

  it("gives permerror 'no key' when the key record does not exist", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify(signed, { resolver = resolver{ [ed.name] = false } })
    assert.equal("pass", res[1].result)
    assert.equal("permerror", res[2].result)
    assert.equal("no key", res[2].reason)
    local none = verify(signed, { resolver = mailauth.resolver{ fixture = {} } })
    assert.equal("no key", none[1].reason)
    assert.equal("no key", none[2].reason)
  end)

  it("gives temperror when the key lookup times out", function()
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local res = verify(signed, { resolver = resolver{ [rsa.name] = { "TIMEOUT" } } })
    assert.equal("temperror", res[1].result)
    assert.matches("timed out", res[1].reason)
    assert.equal("pass", res[2].result)
  end)

  it("gives permerror for a key of the wrong type and for a key that is not for email", function()
    local signed = sign(MESSAGE, { signer(ed) })
    local res = verify(signed, { resolver = resolver{ [ed.name] = { { TXT = rsa.record } } } })
    assert.equal("permerror", res[1].result)
    local rec = ed.record:gsub("^v=DKIM1; ", "v=DKIM1; s=tlsrpt; ")
    local res2 = verify(signed, { resolver = resolver{ [ed.name] = { { TXT = rec } } } })
    assert.equal("permerror", res2[1].result)
  end)

  describe("rsa-sha1 (Mail::DKIM corpus good_83176: rsa-sha1, 1024-bit key)", function()
    local c, file = sha1_case()
    if not c then
      pending("conformance data not found under " .. shared)
      return
    end

    local function res(opts)
      local z = {}
      for _, rr in ipairs(c.dns) do z[rr.name] = { { [rr.type] = rr.value } } end
      opts.resolver = mailauth.resolver{ fixture = z }
      return mailauth.dkim.verify(mailauth.message(file), opts)
    end

    it("is permerror by default (RFC 8301)", function()
      local r = res{}
      assert.equal(1, #r)
      assert.equal("permerror", r[1].result)
      assert.equal(c.expected_overall.rfc8301, r[1].result)
      assert.matches("rsa%-sha1", r[1].reason)
      assert.equal("rsa-sha1", r[1].algorithm)
    end)

    it("passes with legacy = true", function()
      local r = res{ legacy = true }
      assert.equal(c.expected_overall.legacy, r[1].result)
      assert.equal("pass", r[1].result)
      assert.equal(1024, r[1].bits)
      assert.equal("messiah.edu", r[1].domain)
      assert.equal("test6", r[1].selector)
    end)
  end)

  describe("l= body length", function()
    -- Made once with Debian's python3-dkim 1.1.4 (dkim.sign(..., length=True),
    -- relaxed/relaxed, t=1700000000) and the RFC 8032 7.1 test key 1
    -- (secret nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=); Ed25519 is
    -- deterministic, so this is what it always produces.
    local L_KEY = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    local L_MSG = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\r\n" ..
      " i=@example.org; l=30; q=dns/txt; s=len; t=1700000000; h=from : to :\r\n" ..
      " subject : date : message-id;\r\n" ..
      " bh=7sDBOHvU25Ny6iloreAQu8Wz43b54aPm2vlydPUX/G8=;\r\n" ..
      " b=eSrDXra5Ld+9wwqSHKqUI33PLArShHXi5omWPXyBNFZMe6eDGzLhBZt87MfV1XTzIDq0g\r\n" ..
      " A+rGFWEOu7BB8WNAA==\r\n" ..
      "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: partial body\r\n" ..
      "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <l-tag@example.org>\r\n\r\n" ..
      "The signed part of the body.\r\n"
    local r = mailauth.resolver{ fixture = { ["len._domainkey.example.org"] = { { TXT = L_KEY } } } }

    it("reports body_length, and body_partial false when l= covers the body", function()
      local res = mailauth.dkim.verify(mailauth.message(L_MSG), { resolver = r })
      assert.equal("pass", res[1].result)
      assert.equal(30, res[1].body_length)
      assert.is_false(res[1].body_partial)
      assert.equal(1700000000, res[1].timestamp)
      local strict = mailauth.dkim.verify(mailauth.message(L_MSG), { resolver = r, strict_length = true })
      assert.equal("pass", strict[1].result)
    end)

    it("reports body_partial for appended text, and policy with strict_length = true", function()
      local appended = L_MSG .. "\r\n-- \r\nAppended by a mailing list.\r\n"
      local res = mailauth.dkim.verify(mailauth.message(appended), { resolver = r })
      assert.equal("pass", res[1].result)
      assert.equal(30, res[1].body_length)
      assert.is_true(res[1].body_partial)
      local strict = mailauth.dkim.verify(mailauth.message(appended), { resolver = r, strict_length = true })
      assert.equal("policy", strict[1].result)
      assert.matches("l=", strict[1].reason)
      assert.is_true(strict[1].body_partial)
    end)

    it("fails when the signed part changes, and is permerror when l= passes the body's end", function()
      local changed = L_MSG:gsub("The signed part", "The forged part")
      assert.equal("body hash mismatch", mailauth.dkim.verify(mailauth.message(changed), { resolver = r })[1].reason)
      local short = L_MSG:gsub("The signed part of the body%.\r\n$", "The signed\r\n")
      local res = mailauth.dkim.verify(mailauth.message(short), { resolver = r })
      assert.equal("permerror", res[1].result)
    end)
  end)

  it("reports the key's t=y testing flag", function()
    local signed = sign(MESSAGE, { signer(ed) })
    local rec = ed.record:gsub("^v=DKIM1; ", "v=DKIM1; t=y; ")
    local res = verify(signed, { resolver = resolver{ [ed.name] = { { TXT = rec } } } })
    assert.equal("pass", res[1].result)
    assert.is_true(res[1].testing)
    assert.matches("testing", res[1].reason)
    local rec2 = ed.record:gsub("^v=DKIM1; ", "v=DKIM1; t=y:s; ")
    assert.is_true(verify(signed, { resolver = resolver{ [ed.name] = { { TXT = rec2 } } } })[1].testing)
  end)

  it("honours x= against `now`, with the clock skew allowance", function()
    local T = 1700000000
    local signed, hs = sign(MESSAGE, { signer(rsa, { timestamp = T, expire_after = 3600 }),
      signer(ed, { timestamp = T, expire_after = 3600 }) })
    assert.matches("t=1700000000;", hs[1])
    assert.matches("x=1700003600;", hs[1])
    local ok = verify(signed, { now = T + 60 })
    for _, s in ipairs(ok) do
      assert.equal("pass", s.result)
      assert.equal(T, s.timestamp)
      assert.equal(T + 3600, s.expiration)
    end
    assert.equal("pass", verify(signed, { now = T + 3600 + 200 })[1].result)	-- within 300 s
    local late = verify(signed, { now = T + 3600 + 301 })
    for _, s in ipairs(late) do
      assert.equal("permerror", s.result)
      assert.equal("signature expired", s.reason)
      assert.equal(T + 3600, s.expiration)
    end
    assert.equal("permerror", verify(signed, { now = T + 3600 + 200, clock_skew = 10 })[1].result)
    -- without `now` the current clock decides: 2023 is long past
    assert.equal("signature expired", verify(signed)[1].reason)
  end)

  it("gives permerror when i= is not within d=", function()
    -- i= is checked before any key or hash: edit the tag of a good signature
    local signed = sign(MESSAGE, { signer(rsa, { identity = "alice@example.org" }),
      signer(ed, { identity = "alice@example.org" }) })
    local first, n = true, nil
    signed, n = signed:gsub("i=alice@example%.org;", function()
      local r = first and "i=alice@example.com;" or "i=alice@notexample.org;"
      first = false
      return r
    end)
    assert.equal(2, n)
    local res = verify(signed)
    assert.equal(2, #res)
    for _, s in ipairs(res) do
      assert.equal("permerror", s.result)
      assert.equal("i= is not within d=", s.reason)
    end
  end)

  describe("malformed DKIM-Signature fields give permerror with a reason, never a Lua error", function()
    local signed, hs = sign(MESSAGE, { signer(ed) })
    local body = signed:sub(#hs[1] + 3)
    local function check(field, reason_pattern)
      local ok, res = pcall(verify, field .. "\r\n" .. body)
      assert.is_true(ok, tostring(res))
      assert.equal(1, #res)
      assert.equal("permerror", res[1].result)
      assert.is_string(res[1].reason)
      assert.is_true(#res[1].reason > 0)
      if reason_pattern then assert.matches(reason_pattern, res[1].reason) end
      return res[1]
    end

    it("garbage", function()
      check("DKIM-Signature: synerr", "signature syntax")
      check("DKIM-Signature: ", "no v= tag")
      check("DKIM-Signature: ;;;;", nil)
      check("DKIM-Signature: v=1; a=rsa-sha256; \1\2\3", nil)
      check("DKIM-Signature: " .. ("x"):rep(5000), nil)
      check("DKIM-Signature: " .. ("a=b;"):rep(100), nil)
    end)

    it("duplicated tags", function()
      check((hs[1]:gsub("^DKIM%-Signature: v=1;", "DKIM-Signature: v=1; v=1;")), "duplicate tag 'v'")
      check((hs[1]:gsub("; s=ed;", "; s=ed; d=example.org;")), "duplicate tag 'd'")
    end)

    it("base64 garbage in b= and bh=", function()
      local flat = hs[1]:gsub("\r\n\t", " ")
      local s = check((flat:gsub("b=[%w+/= ]+$", "b=!!not*base64!!")), "b=")
      assert.equal("!!not*ba", s.header_b)
      check((flat:gsub("bh=[%w+/=]+;", "bh=@@@;")), "bh=")
      check((flat:gsub("b=[%w+/= ]+$", "b=")), "b=")
    end)

    it("missing or bad required tags", function()
      check((hs[1]:gsub("d=example%.org; ", "")), "no d= tag")
      check((hs[1]:gsub("a=ed25519%-sha256", "a=rsa-md5")), "algorithm")
      check((hs[1]:gsub("c=relaxed/relaxed", "c=loose")), "canonicalization")
      check((hs[1]:gsub("h=from:from:", "h=")), "From")
      check((hs[1]:gsub("v=1", "v=2")), "version")
      check((hs[1]:gsub("d=example%.org", "d=exa mple..org")), nil)
    end)

    it("a malformed signature does not hide a good one, and header order is kept", function()
      local text = "DKIM-Signature: synerr\r\n" .. signed
      local res = verify(text)
      assert.equal(2, #res)
      assert.equal("permerror", res[1].result)
      assert.equal("pass", res[2].result)
      assert.equal("ed", res[2].selector)
    end)
  end)

  it("returns an empty list for a message without signatures", function()
    local res = verify(MESSAGE)
    assert.same({}, res)
  end)

  describe("programmer mistakes raise Lua errors", function()
    local m = mailauth.message(MESSAGE)
    it("in verify", function()
      assert.has_error(function() mailauth.dkim.verify(MESSAGE, { resolver = resolver() }) end)
      assert.has_error(function() mailauth.dkim.verify(m, "options") end)
      assert.has_error(function() mailauth.dkim.verify(m, { resolver = "dns" }) end)
      assert.has_error(function() mailauth.dkim.verify(m, { resolver = resolver(), now = "soon" }) end)
      assert.has_error(function() mailauth.dkim.verify(m, { resolver = resolver(), max_signatures = -1 }) end)
      local closed = mailauth.message(MESSAGE)
      closed:close()
      assert.has_error(function() mailauth.dkim.verify(closed, { resolver = resolver() }) end)
    end)

    it("in sign", function()
      assert.has_error(function() mailauth.dkim.sign(MESSAGE, { signer(ed) }) end)
      assert.has_error(function() mailauth.dkim.sign(m, "signers") end)
      assert.has_error(function() mailauth.dkim.sign(m, {}) end)
      assert.has_error(function() mailauth.dkim.sign(m, { "not a table" }) end)
      assert.has_error(function() mailauth.dkim.sign(m, { { key = ed.private_key, selector = "ed" } }) end,
        "signer 1 needs 'domain' and 'selector'")
      assert.has_error(function() mailauth.dkim.sign(m, { signer(rsa), { key = ed.private_key, domain = DOMAIN } }) end,
        "signer 2 needs 'domain' and 'selector'")
      assert.has_error(function() mailauth.dkim.sign(m, { signer(ed, { domain = 42 }) }) end)
      assert.has_error(function() mailauth.dkim.sign(m, { { domain = DOMAIN, selector = "ed" } }) end)
      assert.has_error(function() mailauth.dkim.sign(m, { signer(ed, { key = "not a PEM key" }) }) end)
      local ok, err = pcall(mailauth.dkim.sign, m, { signer(ed, { key = false,
        key_file = "/nonexistent/mailauth/key.pem" }) })
      assert.is_false(ok)
      assert.matches("cannot open", err)
    end)

    it("in sign, for an algorithm that does not fit the key (checked in a child process)", function()
      -- A child lua5.4 (same environment): a memory error there fails this
      -- test alone instead of aborting the whole run under AddressSanitizer.
      local script = os.tmpname()
      finally(function() os.remove(script) end)
      write_file(script, [[
        local m = require "mailauth"
        local k = m.dkim.keygen{ type = "ed25519" }
        local ok, err = pcall(m.dkim.sign, m.message("From: a@example.org\r\n\r\nx\r\n"),
          { { key = k.private_key, domain = "example.org", selector = "s", algorithm = "rsa-sha256" } })
        io.write(ok and "no error" or tostring(err))
        os.exit(ok and 1 or 0)
      ]])
      local p = io.popen("lua5.4 " .. script .. " 2>&1")
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.matches("signer 1: the key is ed25519, not rsa%-sha256", out)
    end)

    it("but a signer that has nothing to sign returns nil and a reason", function()
      local hs, err = mailauth.dkim.sign(m, { signer(ed, { headers = "" }) })
      assert.is_nil(hs)
      assert.is_string(err)
    end)

    it("signs from a key_file", function()
      local path = os.tmpname()
      finally(function() os.remove(path) end)
      write_file(path, ed.private_key)
      local signed = sign(MESSAGE, { signer(ed, { key = false, key_file = path }) })
      assert.equal("pass", verify(signed)[1].result)
    end)
  end)
end)

describe("mailauth dkim / dkim-sign / dkim-keygen (CLI)", function()
  local function zone_file()
    local path = os.tmpname()
    write_file(path, cjson.encode(zone()))
    return path
  end

  it("dkim --dns ZONE --json prints the signatures in header order", function()
    local zf = zone_file()
    finally(function() os.remove(zf) end)
    local signed = sign(MESSAGE, { signer(rsa), signer(ed) })
    local tampered = "DKIM-Signature: synerr\r\n" .. signed:gsub("Subject: quarterly report", "Subject: x")
    local out, err, rc = run("dkim --dns " .. zf .. " --json", tampered)
    assert.equal(0, rc, err)
    local j = cjson.decode(out)
    assert.equal(3, #j.signatures)
    local want = { { "permerror", "", "" }, { "fail", "rsa2048", "rsa-sha256", 2048 },
      { "fail", "ed", "ed25519-sha256", 256 } }
    for i, s in ipairs(j.signatures) do
      for _, k in ipairs{ "result", "domain", "selector", "algorithm", "bits", "reason", "header_b" } do
        assert.is_not_nil(s[k], k)
      end
      assert.equal(want[i][1], s.result)
      if i > 1 then
        assert.equal(want[i][2], s.selector)
        assert.equal(want[i][3], s.algorithm)
        assert.equal(want[i][4], s.bits)
        assert.equal(DOMAIN, s.domain)
        assert.equal("signature did not verify", s.reason)
        assert.equal(8, #s.header_b)
      end
    end
    local good = cjson.decode((run("dkim --dns " .. zf .. " --json", signed)))
    assert.equal("pass", good.signatures[1].result)
    assert.equal("pass", good.signatures[2].result)
    local none, _, rc2 = run("dkim --dns " .. zf .. " --json", MESSAGE)
    assert.equal(0, rc2)
    assert.matches('^{"signatures":%[%]}\n$', none)
    local text, _, rc3 = run("dkim --dns " .. zf, signed)
    assert.equal(0, rc3)
    assert.matches("^pass d=example%.org s=rsa2048 a=rsa%-sha256 bits=2048 ", text)
  end)

  it("dkim --now and --legacy reach the verifier", function()
    local zf = zone_file()
    finally(function() os.remove(zf) end)
    local signed = sign(MESSAGE, { signer(ed, { timestamp = 1700000000, expire_after = 60 }) })
    local j = cjson.decode((run("dkim --dns " .. zf .. " --json --now 1700000010", signed)))
    assert.equal("pass", j.signatures[1].result)
    local j2 = cjson.decode((run("dkim --dns " .. zf .. " --json --now 1800000000", signed)))
    assert.equal("permerror", j2.signatures[1].result)
    assert.equal("signature expired", j2.signatures[1].reason)
    local c, file = sha1_case()
    if c then
      local z = {}
      for _, rr in ipairs(c.dns) do z[rr.name] = { { [rr.type] = rr.value } } end
      write_file(zf, cjson.encode(z))
      local msg = read_file(file)
      assert.equal("permerror", cjson.decode((run("dkim --dns " .. zf .. " --json", msg))).signatures[1].result)
      local l = cjson.decode((run("dkim --dns " .. zf .. " --json --legacy", msg)))
      assert.equal("pass", l.signatures[1].result)
      assert.equal("rsa-sha1", l.signatures[1].algorithm)
      assert.equal(1024, l.signatures[1].bits)
    end
  end)

  it("exits 2 with one line on usage errors", function()
    local zf = zone_file()
    finally(function() os.remove(zf) end)
    for _, args in ipairs{
      "dkim --frobnicate",
      "dkim --dns " .. zf .. " --now yesterday",
      "dkim --dns " .. zf .. " --now -5",
      "dkim --dns " .. zf .. " --now 1.5",
      "dkim --dns /nonexistent/mailauth/zone.json",
      "dkim --dns " .. zf .. " --server 127.0.0.1@5353",
      "dkim --json=yes",
      "dkim-sign --domain example.org",
      "dkim-sign --key /nonexistent/mailauth/k.pem --selector s --domain example.org",
      "dkim-keygen --type dsa",
      "dkim-keygen --bits 512",
    } do
      local out, err, rc = run(args, MESSAGE)
      assert.equal(2, rc, args)
      assert.equal("", out, args)
      assert.equal(1, select(2, err:gsub("\n", "")), args .. ": " .. err)
    end
  end)

  it("dkim-sign output verifies with dkim, for CRLF and LF input", function()
    local zf = zone_file()
    local kr, ke = os.tmpname(), os.tmpname()
    finally(function() os.remove(zf); os.remove(kr); os.remove(ke) end)
    write_file(kr, rsa.private_key)
    write_file(ke, ed.private_key)
    for _, input in ipairs{ MESSAGE, (MESSAGE:gsub("\r\n", "\n")) } do
      local nl = input:find("\r\n", 1, true) and "\r\n" or "\n"
      local signed, err, rc = run(("dkim-sign --key %s --selector rsa2048 --key %s --selector ed --domain %s")
        :format(kr, ke, DOMAIN), input)
      assert.equal(0, rc, err)
      assert.matches("^DKIM%-Signature: v=1; a=rsa%-sha256;", signed)
      assert.equal(input, signed:sub(-#input))	-- the message follows, byte for byte
      if nl == "\n" then assert.is_nil(signed:find("\r", 1, true)) end
      local j = cjson.decode((run("dkim --dns " .. zf .. " --json", signed)))
      assert.equal(2, #j.signatures)
      assert.equal("pass", j.signatures[1].result)
      assert.equal("pass", j.signatures[2].result)
    end
    local signed = run(("dkim-sign --key %s --selector ed --domain %s --canonicalization simple --headers from:to:subject")
      :format(ke, DOMAIN), MESSAGE)
    local j = cjson.decode((run("dkim --dns " .. zf .. " --json", signed)))
    assert.equal("pass", j.signatures[1].result)
    assert.equal("simple/simple", j.signatures[1].canonicalization)
  end)

  it("dkim-keygen --out FILE writes a 0600 PEM and prints the TXT record", function()
    local key = os.tmpname()
    os.remove(key)	-- let the CLI create it
    local zf = os.tmpname()
    finally(function() os.remove(key); os.remove(zf) end)
    for _, t in ipairs{ "rsa", "ed25519" } do
      os.remove(key)
      local out, err, rc = run(("dkim-keygen --type %s --domain example.org --selector cli --out %s"):format(t, key))
      assert.equal(0, rc, err)
      local pem = read_file(key)
      assert.matches("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n", pem)
      local p = io.popen("stat -c %a " .. key)
      assert.equal("600", p:read("l"))
      p:close()
      assert.is_nil(out:find("PRIVATE KEY", 1, true))
      local owner, strings = out:match('^(%S+) IN TXT %( (.-) %)\n$')
      assert.equal("cli._domainkey.example.org", owner)
      local parts = {}
      for s in strings:gmatch('"([^"]*)"') do
        assert.is_true(#s <= 255)
        parts[#parts + 1] = s
      end
      local record = table.concat(parts)
      assert.matches("^v=DKIM1; k=" .. lit(t) .. "; p=", record)
      -- the printed record verifies what the written key signs
      write_file(zf, cjson.encode{ [owner] = { { TXT = record } } })
      local signed = run(("dkim-sign --key %s --selector cli --domain example.org"):format(key), MESSAGE)
      local j = cjson.decode((run("dkim --dns " .. zf .. " --json", signed)))
      assert.equal("pass", j.signatures[1].result)
      assert.equal(t == "rsa" and 2048 or 256, j.signatures[1].bits)
    end
  end)
end)
