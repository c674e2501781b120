-- mailauth.publish: the `publish` face of a rules file (design.md §4): per
-- zone, the mail-authentication records to publish, computed and validated
-- here so that whatever serves them (the Knot module, a zone file, a
-- provider's API) publishes only records that receivers will read as meant.
--
--   rules.publish = {
--     ["example.org"] = {
--       ttl = 3600,                                  -- of every record (default 3600)
--       spf = "v=spf1 mx include:_spf.mailhost.example -all",  -- or a list of terms
--       names = { news = { spf = { "include:_spf.esp.example", "~all" } } },
--       dkim = {                                     -- selector -> signing key
--                                                    -- (outbound.dkim's selectors for
--                                                    -- this zone are added)
--         s2048 = "keys/s2048.pem",                  -- the public half is published
--         ed = { key_file = "keys/ed.pem" },
--         esp = { cname = "s1.dkim.esp.example" },   -- a selector the ESP holds
--         old = { revoked = true },                  -- "v=DKIM1; p=" (RFC 6376 3.6.1)
--       },
--       dmarc = { p = "reject", sp =, np =, adkim = "r"|"s", aspf =, t = false,
--                 psd = "y"|"n"|"u", rua = { "mailto:..." }, ruf = {...}, fo = "1",
--                 subdomains = { news = { p = "quarantine", ... } } },
--       report_for = { "partner.example" },           -- _report._dmarc authorizations
--       mta_sts = { mode = "enforce", mx = { "mx1.example.org", "*.example.net" },
--                   max_age = 604800 },
--       tlsrpt = { rua = { "mailto:tlsrpt@example.org" } },
--     },
--   }
--
-- publish.zone(rules, zone, { resolver =, base_dir = }) returns
--   { zone, records = { {name, type, ttl, data}, ... },
--     mta_sts = { host, path, policy, id } | nil, warnings = {...} }
-- or nil, { "reason", ... }: a zone with any refused record is refused
-- whole, so that a host keeps what it published before.  With a resolver,
-- the SPF record is evaluated through its includes (at most 10 DNS terms,
-- 2 void lookups: RFC 7208 4.6.4); without one only its own terms count.
local core = require "mailauth.core"

local M = {}

local function valid_name(n)
  if type(n) ~= "string" then return false end
  n = n:gsub("%.$", "")
  if n == "" or #n > 253 then return false end
  for label in (n .. "."):gmatch("([^.]*)%.") do
    if #label == 0 or #label > 63 or not label:match("^[%w_][%w_-]*$") or label:sub(-1) == "-" then
      return false
    end
  end
  return true
end

local function lower(s) return (s:lower():gsub("%.$", "")) end

-- A host name (RFC 952/1123 letters, digits, hyphens: no underscore).
local function valid_host(n)
  return valid_name(n) and not n:find("_", 1, true)
end

-- An external reporting destination's host, from a mailto: URI.
local function uri_host(uri)
  return uri:match("^[mM][aA][iI][lL][tT][oO]:[^@]+@([^?!]+)")
end

-- A list of report URIs (RFC 3986: printable ASCII; no ',' ';' '!' that the
-- record syntax uses), each of one of the schemes given.
local function uri_list(v, what, schemes, errs)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then
    errs[#errs + 1] = what .. ": a list of URIs expected"
    return nil
  end
  for _, u in ipairs(v) do
    local scheme = type(u) == "string" and u:match("^(%a[%w+.-]*):[!-~]+$")
    if not scheme or u:find("[,;!]") or not schemes[scheme:lower()] then
      local names = {}
      for s in pairs(schemes) do names[#names + 1] = s .. ":" end
      table.sort(names)
      errs[#errs + 1] = ("%s: bad URI '%s' (%s URIs of printable characters, no ',' ';' '!')")
        :format(what, tostring(u), table.concat(names, " or "))
      return nil
    end
  end
  return v
end

local MAILTO = { mailto = true }                    -- DMARC reports go by mail (RFC 9990, 9991)
local MAILTO_HTTPS = { mailto = true, https = true } -- TLS-RPT (RFC 8460 3)

-- ---- SPF ----

-- The callback resolver that answers TXT at the names in `records` (every
-- SPF record the zone is about to publish, so that includes between them
-- are followed as they will be) and passes every other question to `base`.
local function overlay(mailauth, base, records)
  return mailauth.resolver{ cache = false, callback = function(q, qtype)
    local mine = records[lower(q)]
    if mine and qtype == "TXT" then return { mine } end
    if not base then return "nxdomain" end
    local a = base:query(q, qtype)
    if a.status ~= "ok" then return a.status end
    local out = {}
    for i, rr in ipairs(a.records) do
      out[i] = qtype == "TXT" and table.concat(rr) or rr
    end
    return out
  end }
end

local SPF_DNS_TERM = { include = true, a = true, mx = true, ptr = true, exists = true, redirect = true }

-- The record text of an spf rule (a record, or a list of terms), checked
-- alone; nil after adding the reason to errs.
local function spf_text(name, v, errs, warns)
  if type(v) == "table" then
    local terms = { "v=spf1" }
    for _, t in ipairs(v) do terms[#terms + 1] = t end
    v = table.concat(terms, " ")
  end
  if type(v) ~= "string" then
    errs[#errs + 1] = name .. ": spf must be a record or a list of terms"
    return nil
  end
  local ok, why = core.spf_record_check(v)
  if not ok then
    errs[#errs + 1] = name .. ": SPF record refused: " .. why
    return nil
  end
  local lv = " " .. v:lower() .. " "
  local has_all = lv:match("%s[+?~-]?all%s") ~= nil
  if not has_all and not lv:match("%sredirect=") then
    warns[#warns + 1] = name .. ": SPF record has neither 'all' nor redirect="
  end
  if #v > 450 then
    warns[#warns + 1] = name .. ": SPF record of " .. #v .. " bytes: answers may not fit 512-byte UDP (RFC 7208 3.4)"
  end
  local direct = 0
  for term in v:gmatch("%S+") do
    local m = term:lower():match("^[+?~-]?([%a]+)")
    -- redirect= is ignored when the record has an all (RFC 7208 6.1)
    if m and SPF_DNS_TERM[m] and not (m == "redirect" and has_all) then direct = direct + 1 end
  end
  if direct > 10 then
    errs[#errs + 1] = ("%s: SPF record has %d DNS-querying terms (RFC 7208 4.6.4 allows 10)"):format(name, direct)
    return nil
  end
  return v
end

-- Follows an SPF record through its includes and redirect (with o.resolver,
-- and the zone's other records as they will be).
local function spf_walk(mailauth, name, v, records, o, errs, warns)
  if o.resolver == nil then
    warns[#warns + 1] = name .. ": SPF includes not followed (no resolver given)"
    return v
  end
  -- Evaluated for addresses no record should list (240.0.0.1 is reserved,
  -- 100::1 is the discard prefix), so that every term is walked.  Void
  -- lookups depend on the client's address family (a and mx ask for A or
  -- AAAA) and on where the walk stops for a listed sender: counted without
  -- their limit and reported, not refused.
  local r = overlay(mailauth, o.resolver, records)
  for _, ip in ipairs{ "240.0.0.1", "100::1" } do
    local res = mailauth.spf{ ip = ip, helo = name, mail_from = "postmaster@" .. name, resolver = r,
      max_void_lookups = 1000 }
    if res.void_lookups > 2 and res.result ~= "temperror" then
      warns[#warns + 1] = ("%s: SPF for IPv%s senders it does not list meets %d void lookups; receivers give " ..
        "permerror after 2 (RFC 7208 4.6.4)"):format(name, ip:find(":") and "6" or "4", res.void_lookups)
    end
    if res.result == "permerror" then
      errs[#errs + 1] = name .. ": SPF record refused: " .. res.reason
      return nil
    elseif res.result == "temperror" then
      warns[#warns + 1] = name .. ": SPF includes not all checked (DNS: " .. res.reason .. ")"
      break
    elseif res.lookups >= 9 then
      warns[#warns + 1] = ("%s: SPF needs %d of the 10 DNS lookups"):format(name, res.lookups)
    end
  end
  return v
end

-- ---- DKIM ----

local function path(o, p)
  if o.base_dir and not p:match("^/") then return o.base_dir .. "/" .. p end
  return p
end

local function dkim(zone, sel, v, o, errs)
  local name = sel .. "._domainkey." .. zone
  if type(sel) ~= "string" or not valid_name(sel) then
    errs[#errs + 1] = "dkim: bad selector '" .. tostring(sel) .. "'"
    return nil
  end
  if type(v) == "string" then v = { key_file = v } end
  if type(v) ~= "table" then
    errs[#errs + 1] = name .. ": a key file, or { key_file | cname | revoked }"
    return nil
  end
  if v.revoked then return { name = name, type = "TXT", data = "v=DKIM1; p=" } end
  if v.cname then
    if not valid_name(v.cname) then
      errs[#errs + 1] = name .. ": bad cname '" .. tostring(v.cname) .. "'"
      return nil
    end
    return { name = name, type = "CNAME", data = lower(v.cname) }
  end
  if type(v.key_file) ~= "string" then
    errs[#errs + 1] = name .. ": key_file expected"
    return nil
  end
  local k, err = core.dkim_key_record{ key_file = path(o, v.key_file) }
  if not k then
    errs[#errs + 1] = name .. ": " .. err
    return nil
  end
  if k.type == "rsa" and k.bits < 1024 then
    errs[#errs + 1] = ("%s: a %d-bit RSA key (RFC 8301 needs 1024 at least)"):format(name, k.bits)
    return nil
  end
  return { name = name, type = "TXT", data = k.record }
end

-- ---- DMARC ----

local POLICY = { none = true, quarantine = true, reject = true }

-- name is the record's owner (_dmarc.<domain>): receivers authorize external
-- report destinations for <domain> (RFC 9989 3.1.2).
local function dmarc(zone, name, v, errs, warns)
  local domain = name:gsub("^_dmarc%.", "")
  if type(v) ~= "table" then
    errs[#errs + 1] = name .. ": dmarc must be a table"
    return nil
  end
  local n0 = #errs
  local function pol(k)
    if v[k] ~= nil and not POLICY[v[k]] then errs[#errs + 1] = name .. ": " .. k .. " must be none, quarantine or reject" end
  end
  if v.p == nil then errs[#errs + 1] = name .. ": dmarc.p is required" end
  pol("p"); pol("sp"); pol("np")
  for _, k in ipairs{ "adkim", "aspf" } do
    if v[k] ~= nil and v[k] ~= "r" and v[k] ~= "s" then errs[#errs + 1] = name .. ": " .. k .. " must be r or s" end
  end
  if v.psd ~= nil and v.psd ~= "y" and v.psd ~= "n" and v.psd ~= "u" then
    errs[#errs + 1] = name .. ": psd must be y, n or u"
  end
  local fo_ok = type(v.fo) == "string" and (":" .. v.fo):gsub(":[01ds]", "") == ""
  if v.fo ~= nil and not fo_ok then
    errs[#errs + 1] = name .. ": fo must be 0, 1, d, s or a ':' list of them"
  end
  if v.t ~= nil and v.t ~= true and v.t ~= false and v.t ~= "y" and v.t ~= "n" then
    errs[#errs + 1] = name .. ": t must be true, false, \"y\" or \"n\""
  end
  local rua = v.rua and uri_list(v.rua, name .. ": rua", MAILTO, errs)
  local ruf = v.ruf and uri_list(v.ruf, name .. ": ruf", MAILTO, errs)
  if #errs > n0 then return nil end
  local parts = { "v=DMARC1", "p=" .. v.p }
  if v.sp then parts[#parts + 1] = "sp=" .. v.sp end
  if v.np then parts[#parts + 1] = "np=" .. v.np end
  if v.adkim then parts[#parts + 1] = "adkim=" .. v.adkim end
  if v.aspf then parts[#parts + 1] = "aspf=" .. v.aspf end
  if v.t == true or v.t == "y" then parts[#parts + 1] = "t=y" end
  if v.psd then parts[#parts + 1] = "psd=" .. v.psd end
  if rua then parts[#parts + 1] = "rua=" .. table.concat(rua, ",") end
  if ruf then parts[#parts + 1] = "ruf=" .. table.concat(ruf, ",") end
  if v.fo then parts[#parts + 1] = "fo=" .. v.fo end
  local rec = table.concat(parts, "; ")
  -- What a receiver will read back (RFC 9989 4.7) must be what was meant.
  local t = core.dmarc_record_parse(rec)
  if not t or t.p ~= v.p or (v.sp and t.sp ~= v.sp) or (v.np and t.np ~= v.np) or #t.rua ~= #(rua or {}) then
    errs[#errs + 1] = name .. ": the DMARC record does not read back as written: " .. rec
    return nil
  end
  for _, list in ipairs{ rua or {}, ruf or {} } do
    for _, u in ipairs(list) do
      local host = uri_host(u)
      if host and lower(host) ~= zone and not lower(host):match("%." .. zone:gsub("%p", "%%%0") .. "$") then
        warns[#warns + 1] = ("%s: reports to %s need %s._report._dmarc.%s TXT \"v=DMARC1\" (RFC 9989 3.1.2)")
          :format(name, host, domain, lower(host))
      end
    end
  end
  return rec
end

-- ---- MTA-STS ----

local function mta_sts(zone, v, errs)
  if type(v) ~= "table" then
    errs[#errs + 1] = "mta_sts must be a table"
    return nil
  end
  local mode = v.mode or "enforce"
  if mode ~= "enforce" and mode ~= "testing" and mode ~= "none" then
    errs[#errs + 1] = "mta_sts.mode must be enforce, testing or none"
    return nil
  end
  local max_age = v.max_age or 604800
  if math.type(max_age) ~= "integer" or max_age < 0 or max_age > 31557600 then
    errs[#errs + 1] = "mta_sts.max_age must be an integer from 0 to 31557600 (RFC 8461 3.2)"
    return nil
  end
  local mx = v.mx or {}
  local lines = { "version: STSv1", "mode: " .. mode }
  for _, p in ipairs(mx) do
    local host = type(p) == "string" and p:gsub("^%*%.", "") or nil
    if not host or not valid_host(host) then
      errs[#errs + 1] = "mta_sts.mx: bad host pattern '" .. tostring(p) .. "'"
      return nil
    end
    lines[#lines + 1] = "mx: " .. lower(p)
  end
  if #mx == 0 and mode ~= "none" then
    errs[#errs + 1] = "mta_sts.mx: at least one MX pattern unless mode is none"
    return nil
  end
  lines[#lines + 1] = "max_age: " .. max_age
  local text = table.concat(lines, "\r\n") .. "\r\n"
  local pol, why = core.sts_policy_parse(text)
  if not pol or pol.mode ~= mode or #pol.mx ~= #mx or pol.max_age ~= max_age then
    errs[#errs + 1] = "mta_sts: the policy does not read back as written: " .. tostring(why)
    return nil
  end
  local id = core.sts_policy_id(text)
  return { host = "mta-sts." .. zone, path = "/.well-known/mta-sts.txt", policy = text, id = id,
    record = "v=STSv1; id=" .. id }
end

-- ---- the zone ----

function M.zone(rules, zone, o)
  o = o or {}
  local mailauth = require "mailauth"
  local spec = rules and rules.publish and rules.publish[zone]
  if type(zone) ~= "string" or not valid_name(zone) then return nil, { "bad zone name '" .. tostring(zone) .. "'" } end
  if type(spec) ~= "table" then return nil, { "no publish rules for " .. zone } end
  zone = lower(zone)
  local ttl = spec.ttl or 3600
  local errs, warns, recs = {}, {}, {}
  if math.type(ttl) ~= "integer" or ttl < 0 or ttl > 2147483647 then
    errs[#errs + 1] = "ttl must be an integer from 0 to 2147483647"
  end
  local function add(name, data, rtype)
    recs[#recs + 1] = { name = name, type = rtype or "TXT", ttl = ttl, data = data }
  end

  -- SPF: every record of the zone first (includes between them are
  -- followed to the new text), then each walked.
  local spfs, spf_order = {}, {}
  local function spf_rule(n, v)
    local rec = spf_text(n, v, errs, warns)
    if rec then spfs[n] = rec; spf_order[#spf_order + 1] = n end
  end
  if spec.spf ~= nil then spf_rule(zone, spec.spf) end
  if spec.names ~= nil and type(spec.names) ~= "table" then errs[#errs + 1] = "names must map names to rules" end
  local names = {}
  for sub in pairs(type(spec.names) == "table" and spec.names or {}) do names[#names + 1] = tostring(sub) end
  table.sort(names)
  for _, sub in ipairs(names) do
    local v = spec.names[sub]
    if not valid_name(sub) or type(v) ~= "table" then
      errs[#errs + 1] = "names: bad entry '" .. sub .. "'"
    elseif v.spf ~= nil then
      spf_rule(lower(sub) .. "." .. zone, v.spf)
    end
  end
  for _, n in ipairs(spf_order) do
    if spf_walk(mailauth, n, spfs[n], spfs, o, errs, warns) then add(n, spfs[n]) end
  end
  -- The selectors this zone's mail is signed with (outbound.dkim) are
  -- published with the ones listed here: one set of key files for both.
  local keys = {}
  if spec.dkim ~= nil and type(spec.dkim) ~= "table" then errs[#errs + 1] = "dkim must map selectors to keys" end
  for sel, v in pairs(type(spec.dkim) == "table" and spec.dkim or {}) do keys[tostring(sel)] = v end
  local signing = {}
  for d, list in pairs((rules.outbound and rules.outbound.dkim) or {}) do
    for _, s in ipairs(type(d) == "string" and type(list) == "table" and list or {}) do
      if type(s) == "table" and lower(type(s.domain) == "string" and s.domain or d) == zone then
        signing[#signing + 1] = s
      end
    end
  end
  for _, s in ipairs(signing) do
    if type(s.selector) == "string" then
      local mine = keys[s.selector]
      local file = type(mine) == "table" and mine.key_file or mine
      if mine == nil then
        keys[s.selector] = { key_file = s.key_file }
      elseif file ~= s.key_file then
        errs[#errs + 1] = ("dkim: selector %s has one key in publish and another in outbound"):format(s.selector)
      end
    end
  end
  local sels = {}
  for sel in pairs(keys) do sels[#sels + 1] = sel end
  table.sort(sels)
  for _, sel in ipairs(sels) do
    local r = dkim(zone, sel, keys[sel], o, errs)
    if r then add(r.name, r.data, r.type) end
  end
  if spec.dmarc ~= nil then
    local rec = dmarc(zone, "_dmarc." .. zone, spec.dmarc, errs, warns)
    if rec then add("_dmarc." .. zone, rec) end
    local subs = type(spec.dmarc) == "table" and spec.dmarc.subdomains or {}
    if type(subs) ~= "table" then
      errs[#errs + 1] = "dmarc.subdomains must map names to DMARC rules"
      subs = {}
    end
    local names = {}
    for sub in pairs(subs) do names[#names + 1] = tostring(sub) end
    table.sort(names)
    for _, sub in ipairs(names) do
      if not valid_name(sub) then
        errs[#errs + 1] = "dmarc.subdomains: bad name '" .. sub .. "'"
      else
        local n = "_dmarc." .. lower(sub) .. "." .. zone
        local srec = dmarc(zone, n, subs[sub], errs, warns)
        if srec then add(n, srec) end
      end
    end
  end
  -- Domains whose DMARC reports may come here; "*" for any (RFC 9989 3.1.2).
  if spec.report_for ~= nil and type(spec.report_for) ~= "table" then
    errs[#errs + 1] = "report_for must list domains"
  end
  for _, d in ipairs(type(spec.report_for) == "table" and spec.report_for or {}) do
    if d == "*" then add("*._report._dmarc." .. zone, "v=DMARC1")
    elseif not valid_name(d) then errs[#errs + 1] = "report_for: bad domain '" .. tostring(d) .. "'"
    else add(lower(d) .. "._report._dmarc." .. zone, "v=DMARC1") end
  end
  local sts
  if spec.mta_sts ~= nil then
    sts = mta_sts(zone, spec.mta_sts, errs)
    if sts then add("_mta-sts." .. zone, sts.record) end
  end
  if spec.tlsrpt ~= nil then
    local rua = type(spec.tlsrpt) == "table" and uri_list(spec.tlsrpt.rua, "tlsrpt.rua", MAILTO_HTTPS, errs)
    if rua then
      local rec = "v=TLSRPTv1; rua=" .. table.concat(rua, ",")
      local ok, why = core.tlsrpt_record_parse(rec)
      if ok then add("_smtp._tls." .. zone, rec)
      else errs[#errs + 1] = "tlsrpt: record refused: " .. why end
    end
  end
  if #errs > 0 then return nil, errs end
  return { zone = zone, ttl = ttl, records = recs, mta_sts = sts, warnings = warns }
end

-- The zones a rules file publishes, sorted.
function M.zones(rules)
  local out = {}
  for z in pairs((rules and rules.publish) or {}) do out[#out + 1] = z end
  table.sort(out)
  return out
end

-- TXT data as zone-file character-strings (at most 255 octets each,
-- quoted; '"' and '\\' escaped, other bytes outside printable ASCII as
-- \DDD: RFC 1035 5.1).
function M.txt_strings(data)
  local out = {}
  for i = 1, math.max(#data, 1), 255 do
    local s = data:sub(i, i + 254):gsub('[\\"]', "\\%0")
      :gsub("[^ -~]", function(c) return ("\\%03d"):format(c:byte()) end)
    out[#out + 1] = '"' .. s .. '"'
  end
  return table.concat(out, " ")
end

return M
