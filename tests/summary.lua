-- Sums the test cases of meson test logs: each test's last
-- "RESULT: N passed, M failed" line, or the test itself (1) if it has none.
local cjson = require "cjson"
local passed, failed = 0, 0
for _, path in ipairs(arg) do
  local f = io.open(path)
  if not f then
    print("missing test log " .. path)
    failed = failed + 1
  else
    for line in f:lines() do
      local ok, t = pcall(cjson.decode, line)
      if ok and type(t) == "table" and t.name then
        local p, m
        for a, b in (t.stdout or ""):gmatch("RESULT: (%d+) passed, (%d+) failed") do p, m = a, b end
        local good = t.result == "OK" or t.result == "EXPECTEDFAIL"
        if p then
          p, m = tonumber(p), tonumber(m)
          if not good and m == 0 then m = 1 end
          passed, failed = passed + p, failed + m
          print(("%-40s %d passed, %d failed"):format(t.name, p, m))
        else
          if good then passed = passed + 1 else failed = failed + 1 end
          print(("%-40s %s"):format(t.name, t.result))
        end
      end
    end
    f:close()
  end
end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
