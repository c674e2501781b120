-- mailauth.audit: the posture check an operator runs on a domain before and
-- after a change: MX, SPF, DMARC, MTA-STS, TLS-RPT and DKIM selectors, as a
-- list of findings, each with a severity and a one-line fix.
local M = {}

local SEVERITY = { ok = 0, info = 1, warning = 2, critical = 3 }

local function finding(list, area, severity, what, fix)
  list[#list + 1] = { area = area, severity = severity, finding = what, fix = fix }
end

local function txt_records(r, name)
  local a = r:query(name, "TXT")
  local out = {}
  for _, rec in ipairs(a.records or {}) do out[#out + 1] = table.concat(rec) end
  return out, a.status
end

local function mx_hosts(r, domain)
  local a = r:query(domain, "MX")
  local hosts, null_mx = {}, false
  for _, mx in ipairs(a.records or {}) do
    if mx[2] == "" or mx[2] == "." then null_mx = true else hosts[#hosts + 1] = mx[2]:lower() end
  end
  return hosts, null_mx, a.status
end

-- audit(mailauth, { domain =, resolver =, selectors = {...}, ca_file =, port =, now = })
function M.run(mailauth, o)
  local r, domain = o.resolver, o.domain:lower():gsub("%.$", "")
  local F = {}
  local report = { domain = domain, findings = F }

  -- MX (RFC 7505 null MX for a domain that takes no mail)
  local mx, null_mx, mxs = mx_hosts(r, domain)
  report.mx = mx
  report.null_mx = null_mx
  if mxs == "timeout" or mxs == "servfail" or mxs == "error" then
    finding(F, "mx", "warning", "MX lookup failed (" .. mxs .. ")", "check the domain's name servers")
  elseif null_mx then
    finding(F, "mx", "ok", "null MX: the domain accepts no mail (RFC 7505)", nil)
  elseif #mx == 0 then
    finding(F, "mx", "info", "no MX records", "publish MX records, or a null MX (0 .) if the domain takes no mail")
  else
    finding(F, "mx", "ok", #mx .. " MX host(s): " .. table.concat(mx, ", "), nil)
  end

  -- SPF: present, valid, DNS-lookup count, the all qualifier
  local spf_recs = {}
  for _, t in ipairs((txt_records(r, domain))) do
    if t:lower():match("^v=spf1") and (#t == 6 or t:sub(7, 7) == " ") then spf_recs[#spf_recs + 1] = t end
  end
  report.spf = { records = spf_recs }
  local sends_no_mail
  if #spf_recs == 0 then
    finding(F, "spf", "critical", "no SPF record", "publish 'v=spf1 ... -all' listing your senders, or 'v=spf1 -all' if the domain sends no mail")
  elseif #spf_recs > 1 then
    finding(F, "spf", "critical", #spf_recs .. " SPF records (a permerror for every receiver)", "merge them into one record")
  else
    local rec = spf_recs[1]
    report.spf.record = rec
    local ok, why = mailauth.spf_record_check(rec)
    if not ok then
      finding(F, "spf", "critical", "SPF record does not parse: " .. why, "fix the record syntax")
    else
      -- Evaluate for an address nobody authorizes: the whole record is walked.
      local res = mailauth.spf{ ip = "192.0.2.255", helo = "audit.invalid", mail_from = "audit@" .. domain,
        resolver = r, now = o.now }
      report.spf.lookups = res.lookups
      report.spf.void_lookups = res.void_lookups
      if res.result == "permerror" then
        finding(F, "spf", "critical", "SPF evaluates to permerror: " .. res.reason, "reduce includes/lookups to at most 10 and fix broken includes")
      elseif res.result == "temperror" then
        finding(F, "spf", "warning", "SPF evaluation hit a DNS error: " .. res.reason, "check the included domains' DNS")
      elseif res.lookups >= 9 then
        finding(F, "spf", "warning", ("SPF uses %d of 10 DNS lookups"):format(res.lookups), "flatten includes before the limit is passed")
      else
        finding(F, "spf", "ok", ("SPF valid, %d DNS lookup(s)"):format(res.lookups), nil)
      end
      local all = rec:lower():match("([%+%-~?]?)all%s*$")
      report.spf.all = all
      if all == nil then
        finding(F, "spf", "warning", "SPF has no 'all' at the end (neutral for unknown senders)", "end the record with '-all' (or '~all' while testing)")
      elseif all == "+" or all == "" then
        finding(F, "spf", "critical", "SPF ends in '+all': anyone may send as " .. domain, "replace '+all' with '-all'")
      elseif all == "?" then
        finding(F, "spf", "warning", "SPF ends in '?all' (neutral)", "use '-all' or '~all'")
      end
      sends_no_mail = rec:lower():match("^v=spf1%s+%-all%s*$") ~= nil
    end
  end

  -- DMARC
  local dm = mailauth.dmarc{ from_domain = domain, resolver = r, check_reports = true }
  report.dmarc = { result = dm.result, record = dm.record, policy = dm.tags and dm.tags.p,
    policy_domain = dm.policy_domain, org_domain = dm.org_domain }
  if not dm.record then
    if dm.result == "temperror" then
      finding(F, "dmarc", "warning", "DMARC lookup failed: " .. dm.reason, "check _dmarc." .. domain)
    else
      finding(F, "dmarc", "critical", "no DMARC record", "publish _dmarc." .. domain .. " TXT 'v=DMARC1; p=quarantine; rua=mailto:...' and move to p=reject")
    end
  else
    local p = dm.tags.p
    if dm.policy_domain ~= domain then
      finding(F, "dmarc", "info", "DMARC policy inherited from " .. dm.policy_domain .. " (policy " .. (dm.policy or "?") .. ")", nil)
    end
    if p == "none" then
      finding(F, "dmarc", "warning", "DMARC p=none: spoofed mail is delivered", "move to p=quarantine, then p=reject, once reports are clean")
    elseif p == "quarantine" then
      finding(F, "dmarc", "info", "DMARC p=quarantine", "move to p=reject when reports are clean")
    else
      finding(F, "dmarc", "ok", "DMARC p=" .. tostring(p), nil)
    end
    if dm.tags.t == "y" then finding(F, "dmarc", "warning", "DMARC t=y: the policy is applied one level lower", "remove t=y when testing is over") end
    if #(dm.rua or {}) == 0 then
      finding(F, "dmarc", "warning", "DMARC has no rua: no aggregate reports", "add rua=mailto:dmarc-reports@" .. domain)
    else
      for _, u in ipairs(dm.rua) do
        if u.external and not u.authorized then
          finding(F, "dmarc", "warning", "report address " .. u.uri .. " is not authorized", "publish " .. dm.policy_domain .. "._report._dmarc.<host> TXT 'v=DMARC1'")
        end
      end
    end
  end

  -- MTA-STS and the MX hosts it covers
  local sts = mailauth.mtasts.discover{ domain = domain, resolver = r, ca_file = o.ca_file, port = o.port,
    now = o.now, timeout = o.timeout or 10 }
  report.mta_sts = { status = sts.status, reason = sts.reason, record_id = sts.record_id, policy = sts.policy }
  if sts.status == "NONE" then
    if not null_mx and #mx > 0 then
      finding(F, "mta-sts", "info", "no MTA-STS record", "publish _mta-sts." .. domain .. " and a policy at https://mta-sts." .. domain .. "/.well-known/mta-sts.txt")
    end
  elseif sts.status == "FETCH_ERROR" then
    finding(F, "mta-sts", "critical", "MTA-STS announced but no valid policy: " .. sts.reason, "serve a valid text/plain policy over HTTPS with a valid certificate")
  else
    local pol = sts.policy
    local uncovered = {}
    for _, h in ipairs(mx) do
      local ok = false
      for _, pat in ipairs(pol.mx) do if mailauth.mtasts.mx_match(pat, h) then ok = true break end end
      if not ok then uncovered[#uncovered + 1] = h end
    end
    if #uncovered > 0 then
      finding(F, "mta-sts", pol.mode == "enforce" and "critical" or "warning",
        "MX not covered by the MTA-STS policy: " .. table.concat(uncovered, ", "), "add them as mx: lines in the policy")
    end
    if pol.mode == "testing" then
      finding(F, "mta-sts", "info", "MTA-STS mode testing", "switch to enforce once TLS reports are clean")
    elseif pol.mode == "none" then
      finding(F, "mta-sts", "warning", "MTA-STS mode none (policy withdrawn)", "use testing or enforce")
    else
      finding(F, "mta-sts", "ok", "MTA-STS mode enforce", nil)
    end
    if pol.max_age < 86400 then
      finding(F, "mta-sts", "warning", ("MTA-STS max_age %d is under a day"):format(pol.max_age), "use max_age: 604800 or more")
    end
  end

  -- TLS-RPT
  local tr = mailauth.tlsrpt.lookup{ domain = domain, resolver = r }
  report.tls_rpt = tr
  if tr.status == "found" then
    finding(F, "tls-rpt", "ok", "TLS-RPT to " .. table.concat(tr.rua, ", "), nil)
  elseif sts.status ~= "NONE" then
    finding(F, "tls-rpt", "warning", "MTA-STS without TLS-RPT: " .. tr.reason, "publish _smtp._tls." .. domain .. " TXT 'v=TLSRPTv1; rua=mailto:...'")
  end

  -- DKIM selectors given on the command line
  report.dkim = {}
  for _, sel in ipairs(o.selectors or {}) do
    local recs, st = txt_records(r, sel .. "._domainkey." .. domain)
    local rec = recs[1]
    report.dkim[#report.dkim + 1] = { selector = sel, record = rec, status = st }
    if not rec then
      finding(F, "dkim", "critical", "no DKIM key at " .. sel .. "._domainkey." .. domain, "publish the key record for selector " .. sel)
    elseif rec:match("p=%s*;") or rec:match("p=%s*$") then
      finding(F, "dkim", "warning", "DKIM selector " .. sel .. " is revoked (empty p=)", "remove it from signing configurations")
    else
      finding(F, "dkim", "ok", "DKIM selector " .. sel .. " published", nil)
    end
  end

  -- A domain that sends and receives no mail: -all, p=reject and a null MX.
  if sends_no_mail or null_mx then
    local complete = sends_no_mail and null_mx and dm.tags and dm.tags.p == "reject"
    if complete then
      finding(F, "parked", "ok", "non-mail domain locked down (v=spf1 -all, p=reject, null MX)", nil)
    else
      finding(F, "parked", "warning", "looks like a non-mail domain, but the lock-down is incomplete",
        "publish all three: 'v=spf1 -all', _dmarc 'v=DMARC1; p=reject', and MX '0 .'")
    end
  end

  local worst = 0
  for _, f in ipairs(F) do worst = math.max(worst, SEVERITY[f.severity]) end
  report.critical = worst >= SEVERITY.critical
  return report
end

return M
