-- mailauth.policy: site policy as data.
--
-- A rules file (see rules/) returns a table whose `inbound` face says how
-- this site acts on authentication results; this module gives the helpers
-- that make such a file read like configuration, and the engine that turns
-- results plus rules into a verdict:
--   { action = "accept"|"quarantine"|"reject"|"defer", reason = "...",
--     override = nil|"local_policy"|"mailing_list"|"trusted_forwarder" }
-- `override` is set when the verdict departs from the domain owner's DMARC
-- policy; it is the reason RFC 9990 aggregate reports carry.
local core = require "mailauth.core"

local M = {}

local ACTIONS = { accept = true, quarantine = true, reject = true, defer = true }
local OVERRIDES = { local_policy = true, mailing_list = true, trusted_forwarder = true }

local function lower(s) return (s or ""):lower():gsub("%.$", "") end

-- A set of domains matched by suffix: "example.org" covers example.org and
-- every name below it.
local Domains = {}
Domains.__index = Domains

function M.domains(list)
  local set = {}
  for _, d in ipairs(list or {}) do
    if type(d) ~= "string" or d == "" then error("policy.domains: domain names expected", 2) end
    set[lower(d)] = true
  end
  return setmetatable({ set = set }, Domains)
end

function Domains:contains(name)
  name = lower(name)
  while name ~= "" do
    if self.set[name] then return true end
    name = name:match("^[^.]*%.(.*)$") or ""
  end
  return false
end

-- A set of networks ("192.0.2.0/24", "2001:db8::/32", or single addresses).
local Cidrs = {}
Cidrs.__index = Cidrs

function M.cidrs(list)
  local nets = {}
  for _, c in ipairs(list or {}) do
    if type(c) ~= "string" or not core.cidr_valid(c) then
      error("policy.cidrs: bad network '" .. tostring(c) .. "'", 2)
    end
    nets[#nets + 1] = c
  end
  return setmetatable({ nets = nets }, Cidrs)
end

function Cidrs:contains(ip)
  return ip ~= nil and core.ip_in(ip, self.nets)
end

-- Builds a verdict, checking its words.
function M.verdict(action, reason, override)
  if not ACTIONS[action] then error("policy.verdict: unknown action '" .. tostring(action) .. "'", 2) end
  if override ~= nil and not OVERRIDES[override] then
    error("policy.verdict: unknown override '" .. tostring(override) .. "'", 2)
  end
  return { action = action, reason = reason or action, override = override }
end

-- The List-Id domain of a message, if any ("<x.lists.example.org>").
local function list_id(msg)
  if not msg then return nil end
  local h = msg:headers("List-Id")[1]
  if not h then return nil end
  local id = h.value:match("<([^>]+)>") or h.value:match("(%S+)%s*$")
  return id and lower(id)
end

-- The action an owner's policy maps to at this site, and whether that is
-- a departure from it (local_policy).
local function honour(inb, policy, author)
  for suffix, o in pairs(inb.overrides or {}) do
    local d = lower(suffix)
    local a = lower(author)
    if a == d or a:sub(-#d - 1) == "." .. d then
      local act = o[policy]
      if act then return act, act ~= policy end
    end
  end
  local map = inb.honour or {}
  local act = map[policy] or policy
  if act == "none" then act = "accept" end
  return act, act ~= policy and not (policy == "none" and act == "accept")
end

-- The engine: results = { ip, helo, mail_from, spf, dkim, dmarc, message }.
function M.inbound(rules, r)
  local inb = (rules and rules.inbound) or {}
  if inb.verdict then
    local v = inb.verdict(r, M)
    if v ~= nil then
      if type(v) ~= "table" or not ACTIONS[v.action] then
        error("rules: inbound.verdict must return policy.verdict(...) or nil", 2)
      end
      return v
    end
  end
  local dm = r.dmarc or { result = "none" }
  local author = dm.author_domain or ""

  if dm.result == "permerror" and dm.from_status and dm.from_status ~= "ok" then
    local act = inb.malformed_from or "quarantine"
    return M.verdict(act, "malformed From: " .. (dm.reason or dm.from_status))
  end
  if dm.result == "temperror" then
    if inb.defer_on_temperror then return M.verdict("defer", "DMARC temporary error: " .. (dm.reason or "")) end
    return M.verdict("accept", "DMARC temporary error, accepted: " .. (dm.reason or ""))
  end
  if dm.result ~= "fail" then
    return M.verdict("accept", "DMARC " .. dm.result .. (dm.reason and (": " .. dm.reason) or ""))
  end

  -- DMARC failed: the owner asks for dm.policy ("none", "quarantine", "reject").
  local policy = dm.policy or "none"
  local act, departs = honour(inb, policy, author)
  if act == "accept" and not departs then
    return M.verdict("accept", "DMARC fail, the owner asks for no action")
  end
  -- Exceptions: known forwarders and mailing lists keep the message.
  if inb.trusted_forwarders and inb.trusted_forwarders:contains(r.ip) then
    return M.verdict(inb.exception_action or "accept",
      "DMARC fail from a trusted forwarder (" .. tostring(r.ip) .. ")", "trusted_forwarder")
  end
  local lid = list_id(r.message)
  if inb.mailing_lists then
    local spf_dom = r.spf and r.spf.result == "pass" and r.spf.domain or nil
    local via
    if lid and inb.mailing_lists:contains(lid) then via = "List-Id " .. lid
    elseif spf_dom and inb.mailing_lists:contains(spf_dom) then via = "list server " .. spf_dom
    else
      for _, s in ipairs(r.dkim or {}) do
        if s.result == "pass" and inb.mailing_lists:contains(s.domain) then via = "list signature d=" .. s.domain break end
      end
    end
    if via then
      return M.verdict(inb.exception_action or "accept", "DMARC fail on a known mailing list (" .. via .. ")", "mailing_list")
    end
  end
  if inb.exceptions and inb.exceptions:contains(author) then
    return M.verdict(inb.exception_action or "accept", "DMARC fail, " .. author .. " is on the exception list", "local_policy")
  end
  return M.verdict(act, ("DMARC fail, policy %s from %s"):format(policy, dm.domain or author),
    departs and "local_policy" or nil)
end

-- The outbound face: what a delivery to `domain` must do, from its MTA-STS
-- outcome (mailauth.mtasts.discover) and the site's rules:
--   rules.outbound = {
--     require_tls = policy.domains{ "gov.uk" },        -- verified TLS, MTA-STS or not
--     require_tls_except = policy.domains{ "legacy.gov.uk" },
--     mta_sts = { ["example.com"] = "testing" },       -- per-domain mode override
--   }
-- returns { tls_required, verify_names = {...}, mx_allowed = {...},
--   mode = "enforce"|"testing"|"none", source = "mta-sts"|"rules"|"none", reason }
local MODES = { enforce = true, testing = true, none = true }

-- The entry of map whose domain key is the most specific suffix of domain:
-- its value and its key (between spellings of one name, the first in order).
local function suffix_lookup(map, domain)
  domain = lower(domain)
  local best, bestd
  for k in pairs(map or {}) do
    local d = type(k) == "string" and lower(k) or nil
    if d and d ~= "" and (domain == d or domain:sub(-#d - 1) == "." .. d) and
        (not bestd or #d > #bestd or (#d == #bestd and k < best)) then
      best, bestd = k, d
    end
  end
  if best == nil then return nil end
  return map[best], best
end

function M.outbound(rules, domain, sts, mx)
  local out = (rules and rules.outbound) or {}
  mx = mx or {}
  local mode, source = "none", "none"
  local policy = sts and sts.status == "VALID" and sts.policy or nil
  if policy then mode, source = policy.mode, "mta-sts" end
  local override = suffix_lookup(out.mta_sts, domain)
  if override then
    if not MODES[override] then error("rules: outbound.mta_sts: unknown mode '" .. tostring(override) .. "'", 2) end
    if override ~= mode then mode, source = override, "rules" end
  end
  local allowed = {}
  for _, host in ipairs(mx) do
    local ok = mode ~= "enforce" or not policy
    if policy and mode == "enforce" then
      for _, pat in ipairs(policy.mx) do
        if core.sts_mx_match(pat, host) then ok = true break end
      end
    end
    if ok then allowed[#allowed + 1] = host end
  end
  local forced = out.require_tls and out.require_tls:contains(domain)
    and not (out.require_tls_except and out.require_tls_except:contains(domain))
  local tls = mode == "enforce" or forced or false
  local reason
  if mode == "enforce" then
    reason = ("MTA-STS enforce (%s): verified TLS to %d of %d MX hosts"):format(source, #allowed, #mx)
  elseif forced then
    source = source == "none" and "rules" or source
    reason = "site rules require verified TLS for " .. lower(domain)
  elseif mode == "testing" then
    reason = "MTA-STS testing: deliver as usual, report TLS failures"
  else
    reason = sts and sts.status == "FETCH_ERROR" and ("no usable MTA-STS policy: " .. (sts.reason or ""))
      or "no MTA-STS policy"
  end
  return { tls_required = tls, verify_names = tls and allowed or {}, mx_allowed = allowed,
    mode = mode, source = source, reason = reason, report_only = mode == "testing" }
end

-- The DKIM signers for mail from `sender` (an address or a domain):
--   rules.outbound.dkim = {
--     ["example.org"] = {                 -- mail from example.org and below
--       { selector = "s2048", key_file = "keys/s2048.pem" },
--       { selector = "ed", key_file = "keys/ed.pem", headers = "from:to:subject:date" },
--     },
--   }
-- The most specific domain wins and is the d= (a sender in news.example.org
-- signs as example.org: aligned under relaxed DKIM alignment).  Returns a
-- list for mailauth.dkim.sign (key_file relative to base_dir), possibly
-- empty, and the domain that matched.
function M.signers(rules, sender, base_dir)
  local map = rules and rules.outbound and rules.outbound.dkim
  sender = (sender or ""):gsub("^%s*<(.*)>%s*$", "%1")
  local list, best = suffix_lookup(map, sender:match("@([^@]*)$") or sender)
  if not best then return {}, nil end
  local out = {}
  for i, s in ipairs(list) do
    if type(s) ~= "table" or type(s.selector) ~= "string" or type(s.key_file) ~= "string" then
      error("rules: outbound.dkim[\"" .. best .. "\"][" .. i .. "] needs selector and key_file", 2)
    end
    local path = s.key_file
    if base_dir and not path:match("^/") then path = base_dir .. "/" .. path end
    out[i] = { key_file = path, domain = lower(s.domain or best), selector = s.selector, headers = s.headers,
      canonicalization = s.canonicalization, algorithm = s.algorithm, expire_after = s.expire_after }
  end
  return out, (lower(best))
end

-- The publish face: the records of one zone (see mailauth/publish.lua).
function M.publish(rules, zone, o)
  return require("mailauth.publish").zone(rules, zone, o)
end

-- Loads a rules file (a Lua chunk returning the rules table).
function M.load(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then error("rules: " .. err, 2) end
  local ok, rules = pcall(chunk)
  if not ok then error("rules: " .. tostring(rules), 2) end
  if type(rules) ~= "table" then error("rules: " .. path .. " must return a table", 2) end
  local inb = rules.inbound
  if inb ~= nil then
    if type(inb) ~= "table" then error("rules: inbound must be a table", 2) end
    for k, v in pairs(inb.honour or {}) do
      if not ACTIONS[v] and v ~= "none" then error("rules: honour." .. k .. " = unknown action " .. tostring(v), 2) end
    end
    for _, k in ipairs{ "malformed_from", "exception_action" } do
      if inb[k] ~= nil and not ACTIONS[inb[k]] then error("rules: inbound." .. k .. " = unknown action", 2) end
    end
  end
  if rules.publish ~= nil and type(rules.publish) ~= "table" then
    error("rules: publish must map zones to their records", 2)
  end
  return rules
end

return M
