-- A site with per-subdomain overrides: domains whose owners publish a
-- policy this site treats differently, as plain data keyed by domain
-- (the entry covers the domain and every name below it).
local policy = require "mailauth.policy"

return {
  inbound = {
    authserv_id = "mx.subdomains.example",
    honour = { reject = "reject", quarantine = "quarantine", none = "accept" },
    overrides = {
      -- A partner's marketing subdomain is sent by an ESP that breaks
      -- alignment: quarantine instead of rejecting it.
      ["news.partner.example"] = { reject = "quarantine" },
      -- An internal subdomain in migration: hold failures for review even
      -- though it publishes p=none.
      ["legacy.corp.example"] = { none = "quarantine" },
    },
    -- Addresses of a domain we know to be spoofed a lot: never an exception.
    exceptions = policy.domains{ "tickets.vendor.example" },
    exception_action = "quarantine",
  },
}
