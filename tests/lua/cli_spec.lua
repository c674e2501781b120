-- The CLI contract: exit 0 with a result, 2 with one line on a usage error.
local cjson = require "cjson"

local cli = os.getenv("MAILAUTH_CLI") or "build/lua/bin/mailauth"

local function run(args)
  local p = io.popen(cli .. " " .. args .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local body, rc = out:match("^(.*)rc=(%d+)%s*$")
  return body, tonumber(rc)
end

describe("mailauth spf (CLI)", function()
  it("prints one JSON object with the fields of the Lua result", function()
    local out, rc = run("spf --ip 192.0.2.25 --helo mx1.example.org --mail-from alice@example.org " ..
      "--dns examples/zone.json --json")
    assert.equal(0, rc)
    local j = cjson.decode(out)
    assert.equal("pass", j.result)
    assert.equal("mx", j.mechanism)
    assert.equal("example.org", j.domain)
    for _, k in ipairs{ "lookups", "void_lookups", "reason", "received_spf" } do
      assert.is_not_nil(j[k], k)
    end
  end)

  it("exits 0 for every result, errors included", function()
    local _, rc = run("spf --ip 198.18.0.1 --helo h.example --mail-from x@broken.example.com --dns examples/zone.json")
    assert.equal(0, rc)
    local out, rc2 = run("spf --ip 198.18.0.1 --helo h.example --mail-from x@slow.example.com --dns examples/zone.json")
    assert.equal(0, rc2)
    assert.matches("^temperror", out)
  end)

  it("exits 2 with one line on usage errors", function()
    for _, args in ipairs{
      "spf --ip 300.1.1.1 --helo h --mail-from a@b.example --dns examples/zone.json",
      "spf --ip 192.0.2.1 --helo h --mail-from a@b.example --dns /nonexistent.json",
      "spf --ip 192.0.2.1 --frobnicate",
      "spf --helo h",
      "spf --ip 192.0.2.1 --dns examples/zone.json --server 127.0.0.1@5353",
      "nosuchcommand",
    } do
      local out, rc = run(args)
      assert.equal(2, rc, args)
      assert.equal(1, select(2, out:gsub("\n", "")), args .. ": " .. out)
    end
  end)
end)
