-- Minimal JSON encoding for mailauth's outputs: keys sorted (stable output
-- for people and diffs), arrays marked explicitly so that an empty list is
-- [] and not {}, and bytes that are not UTF-8 written as \u00XX.
local M = {}

-- Lists made by mailauth.core carry a metatable named "mailauth.array";
-- json.array gives Lua-made lists the same mark.
local array_mt = { __name = "mailauth.array" }

-- Marks t as a JSON array (also when empty).
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quote(s)
  s = s:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end)
  if not utf8.len(s) then
    s = s:gsub("[\128-\255]", function(c) return ("\\u%04x"):format(c:byte()) end)
  end
  return '"' .. s .. '"'
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt == array_mt or (type(mt) == "table" and mt.__name == "mailauth.array") then return true end
  local n = #t
  if n == 0 then return false end
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

local encode

local function encode_table(t, depth)
  if depth > 64 then error("json: nesting too deep", 0) end
  local out = {}
  if is_array(t) then
    for i = 1, #t do out[i] = encode(t[i], depth + 1) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("json: object keys must be strings", 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = quote(k) .. ":" .. encode(t[k], depth + 1) end
  return "{" .. table.concat(out, ",") .. "}"
end

function encode(v, depth)
  local ty = type(v)
  if ty == "string" then return quote(v)
  elseif ty == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.14g"):format(v)
  elseif ty == "boolean" then return tostring(v)
  elseif ty == "nil" then return "null"
  elseif ty == "table" then return encode_table(v, depth)
  end
  error("json: cannot encode a " .. ty, 0)
end

function M.encode(v)
  return encode(v, 0)
end

return M
