-- A cautious site: nothing is rejected on DMARC alone.  A reject policy
-- becomes quarantine (a departure from the owner's policy, reported as
-- local_policy), and mail through known mailing lists and forwarders is
-- delivered (reported as mailing_list / trusted_forwarder).
local policy = require "mailauth.policy"

return {
  inbound = {
    authserv_id = "mx.cautious.example",
    honour = { reject = "quarantine", quarantine = "quarantine", none = "accept" },
    -- List servers rewrite Subject and add footers, breaking DKIM and SPF:
    -- matched by List-Id, by the list server's SPF domain, or its DKIM d=.
    mailing_lists = policy.domains{ "lists.example.net", "googlegroups.example" },
    -- Forwarders we receive from by agreement (their addresses).
    trusted_forwarders = policy.cidrs{ "198.51.100.0/24", "2001:db8:f0d::/48" },
    exception_action = "accept",
    malformed_from = "quarantine",
  },
}
