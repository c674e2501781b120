-- What example.org publishes (the `publish` face, design.md §4): the SPF,
-- DKIM, DMARC, MTA-STS and TLS-RPT records of examples/zone.json, computed
-- from these rules.  `mailauth publish --rules rules/publish.lua` prints
-- them as zone-file lines; the Knot module will serve the same records.
-- Key files are relative to this file.
return {
  publish = {
    ["example.org"] = {
      ttl = 3600,
      spf = "v=spf1 mx ip4:192.0.2.0/26 include:_spf.mailhost.example -all",
      names = {
        -- the newsletter goes out through the mail host only
        newsletter = { spf = { "include:_spf.mailhost.example", "~all" } },
      },
      dkim = {
        demo2048 = "../examples/keys/demo2048.example.org.pem",
        demoed = { key_file = "../examples/keys/demoed.example.org.pem" },
      },
      dmarc = {
        p = "reject",
        rua = { "mailto:dmarc-reports@example.org" },
        subdomains = {
          -- still being moved to DMARC: quarantine, in testing
          newsletter = { p = "quarantine", t = true },
        },
      },
      mta_sts = { mode = "enforce", mx = { "mx1.example.org", "mx2.example.org" }, max_age = 604800 },
      tlsrpt = { rua = { "mailto:tlsrpt@example.org" } },
    },
  },
}
