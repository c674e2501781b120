-- Outbound TLS rules: every *.gov.uk domain must get verified TLS (with a
-- listed exception), and per-domain overrides of the MTA-STS mode a domain
-- publishes.
local policy = require "mailauth.policy"

return {
  outbound = {
    require_tls = policy.domains{ "gov.uk", "bank.example" },
    require_tls_except = policy.domains{ "legacy.gov.uk" },
    mta_sts = {
      -- A partner in the middle of an MX move: report, do not enforce yet.
      ["partner.example"] = "testing",
      -- A domain whose policy we trust more than its DNS: enforce.
      ["payments.example"] = "enforce",
    },
  },
}
