-- Outbound rules: every *.gov.uk domain must get verified TLS (with a
-- listed exception), per-domain overrides of the MTA-STS mode a domain
-- publishes, and the DKIM keys mail from example.org is signed with (the
-- publish face publishes their public halves from the same files).  Key
-- files are relative to this file.
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
    dkim = {
      ["example.org"] = {
        { selector = "demo2048", key_file = "../examples/keys/demo2048.example.org.pem" },
        { selector = "demoed", key_file = "../examples/keys/demoed.example.org.pem" },
      },
      ["lists.example.net"] = {
        { selector = "list", key_file = "../examples/keys/list.lists.example.net.pem" },
      },
    },
  },
}
