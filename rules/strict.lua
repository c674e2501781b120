-- A strict site: the domain owner's DMARC policy is honoured as published.
-- reject is rejected, quarantine is quarantined; a From field DMARC cannot
-- read (missing, repeated) is rejected too.
return {
  inbound = {
    authserv_id = "mx.strict.example",
    honour = { reject = "reject", quarantine = "quarantine", none = "accept" },
    malformed_from = "reject",
    defer_on_temperror = true,   -- a DNS failure is retried by the sender
  },
}
