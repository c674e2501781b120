#!/usr/bin/python3
"""Zone and envelopes for the pipeline benchmark (bench/run-check.sh; see bench/README.md).

Reads the shared corpus (shared/bench/make_corpus.py, both halves) and writes,
deterministically (same corpus, same bytes):

  OUT/zone.json       the in-memory DNS of the pipeline, in the corpus shape
                      {"name": {"TXT": [..], "A": [..], "AAAA": [..], "MX": [[pref, host]]}}:
                      - every DKIM key record of dkim/dns.json;
                      - every name of spf/dns.json (the SPF providers and their
                        include chains, which the records below include);
                      - for each author domain D of the messages (their From), an
                        SPF record: the record of one "typical" customer domain C
                        of the SPF half (include: chains, mx/a/ip4/ip6 of its own;
                        no macros, ptr, exp= or redirect=), copied to D with C's
                        A/AAAA/MX so that `mx` and `a` mean the same hosts;
                      - for each ESP signing domain E (the SPF half's providers
                        mailcloud/postbird/sendwave), "v=spf1 include:_spf.E -all";
                      - _dmarc records (see DMARC below).
  OUT/envelopes.json  one entry per message, in file order:
                      {file, ip, helo, mail_from, author, broken, dkim: [expected
                       per-signature results, top first], spf, dmarc, policy, action}
                      where spf is pyspf's result for (ip, mail_from, helo) over
                      zone.json, dmarc/policy what the zone implies, and action
                      the verdict mailauth.check's default rules give.

DMARC, by the sorted author domain's index i:
  i % 8 == 0       no record (dmarc "none")
  i % 8 in 1..3    p=reject (two with rua)
  i % 8 in 4..5    p=quarantine, rua, ruf, fo=1
  i % 8 == 6       p=none with rua
  i % 8 == 7       p=reject; adkim=s; aspf=s; sp=quarantine
  ESP domains      p=none

Envelopes: mail_from is the message's Return-Path address (at the author
domain in every message of the corpus), helo "smtp-out.<author>".  A broken
message (its body changed after signing) comes from an address its domain's
SPF does not authorize (203.0.113.0/24), as do 10% of the others (forwarded
mail); every other message comes from an address that the customer domain's
queries in spf/queries.json show as passing, and pyspf must agree (pass) over
the new zone.  So DMARC is "pass" when DKIM passes (d= is the author domain) or
SPF passes, "fail" for the broken messages of domains with a record, and
"none" for domains without one.

    /usr/bin/python3 bench/check_zone.py [--corpus /tmp/corpus] [--out CORPUS/check]
"""
import argparse
import json
import os
import random
import re
import sys

import spf

SEED = 1


def typical(dns, passes):
    out = []
    for name in sorted(dns):
        v = dns[name]
        recs = [t for t in v.get("TXT", []) if t.startswith("v=spf1")]
        if len(recs) != 1 or name.startswith("_"):
            continue
        t = recs[0]
        if "%{" in t or "exp=" in t or "ptr" in t or "redirect=" in t or "include:" not in t:
            continue
        if len(passes.get(name, [])) < 2:
            continue
        out.append(name)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/corpus")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out_dir = a.out or os.path.join(a.corpus, "check")

    with open(os.path.join(a.corpus, "dkim", "dns.json")) as f:
        dkim_dns = json.load(f)
    with open(os.path.join(a.corpus, "dkim", "expected.json")) as f:
        expected = json.load(f)
    with open(os.path.join(a.corpus, "spf", "dns.json")) as f:
        spf_dns = json.load(f)
    with open(os.path.join(a.corpus, "spf", "queries.json")) as f:
        queries = json.load(f)

    zone = {}
    for k, v in spf_dns.items():
        zone[k] = {t: list(x) for t, x in v.items()}
    for k, v in dkim_dns.items():
        if k in zone:
            sys.exit("check_zone: %s is in both halves" % k)
        zone[k] = {t: list(x) for t, x in v.items()}

    # pyspf over the zone, as bench/pyspf_bench.py serves it.
    def lookup(name, qtype, strict=True, timeout=None, *args, **kw):
        e = zone.get(name.rstrip(".").lower())
        if not e:
            return []
        res = []
        for v in e.get(qtype, []):
            if qtype == "TXT":
                b = v.encode()
                res.append(((name, qtype), [b[i:i + 255] for i in range(0, len(b), 255)]))
            elif qtype == "MX":
                res.append(((name, qtype), (v[0], v[1])))
            else:
                res.append(((name, qtype), v))
        return res
    spf.DNSLookup = lookup

    def spf_result(ip, mail_from, helo):
        return spf.query(i=ip, s=mail_from, h=helo, timeout=20).check()[0]

    passes = {}
    for q in queries:
        if q["mail_from"] and q["expected"] == "pass" and "alt_no_void_limit" not in q:
            passes.setdefault(q["mail_from"].split("@", 1)[1], []).append(q["ip"])
    # A customer whose record stays within the limits for an address it does
    # not authorize (the 3% over the lookup limit, and records pyspf's void
    # count turns into permerror, are left out).
    customers = [c for c in typical(spf_dns, passes)
                 if spf_result("203.0.113.1", "postmaster@" + c, "smtp-out." + c)
                 in ("fail", "softfail", "neutral")]

    # The messages: author domain, Return-Path, signing domains.
    msgs = []
    msgdir = os.path.join(a.corpus, "dkim", "msgs")
    for fname in sorted(expected):
        with open(os.path.join(msgdir, fname), "rb") as f:
            head = f.read(65536).split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        m = re.search(r"^from:[^\r\n]*?@([A-Za-z0-9.-]+)", head, re.M | re.I)
        rp = re.search(r"^Return-Path:\s*<([^>]*)>", head, re.M | re.I)
        if not m or not rp:
            sys.exit("check_zone: %s: no From or Return-Path" % fname)
        e = expected[fname]
        msgs.append({"file": fname, "author": m.group(1).lower(), "mail_from": rp.group(1),
                     "broken": e["broken"], "sigs": e["signatures"]})
    authors = sorted({m["author"] for m in msgs})
    signers = sorted({s["d"] for m in msgs for s in m["sigs"]})
    esps = [d for d in signers if d not in authors]
    if len(customers) < len(authors):
        sys.exit("check_zone: too few typical SPF customer domains")

    # Spread the author domains over the typical customers, evenly and deterministically.
    step = len(customers) / len(authors)
    spf_of = {}
    dmarc_rec = {}
    for i, d in enumerate(authors):
        c = customers[int(i * step)]
        spf_of[d] = c
        if d in zone:
            sys.exit("check_zone: author domain %s already in the zone" % d)
        zone[d] = {t: list(x) for t, x in spf_dns[c].items()}
        r = i % 8
        if r == 0:
            rec = None
        elif r in (1, 2, 3):
            rec = "v=DMARC1; p=reject" + ("; rua=mailto:dmarc-rua@%s" % d if r != 3 else "")
        elif r in (4, 5):
            rec = "v=DMARC1; p=quarantine; rua=mailto:dmarc@%s; ruf=mailto:dmarc-forensic@%s; fo=1" % (d, d)
        elif r == 6:
            rec = "v=DMARC1; p=none; rua=mailto:reports@%s" % d
        else:
            rec = "v=DMARC1; p=reject; adkim=s; aspf=s; sp=quarantine"
        dmarc_rec[d] = rec
    for e in esps:
        if e in zone:
            sys.exit("check_zone: ESP domain %s already in the zone" % e)
        if "_spf." + e not in zone:
            sys.exit("check_zone: ESP domain %s has no _spf.%s in the SPF half" % (e, e))
        zone[e] = {"TXT": ["v=spf1 include:_spf.%s -all" % e]}
        dmarc_rec[e] = "v=DMARC1; p=none"
    for d, rec in dmarc_rec.items():
        if rec is not None:
            zone["_dmarc." + d] = {"TXT": [rec]}

    rng = random.Random(SEED)
    turn = {}
    envs = []
    for k, m in enumerate(msgs):
        d = m["author"]
        if m["mail_from"].rsplit("@", 1)[-1].lower() != d:
            sys.exit("check_zone: %s: Return-Path not at the author domain" % m["file"])
        helo = "smtp-out.%s" % d
        forwarded = m["broken"] is not None or rng.random() < 0.10
        if forwarded:
            ip = "203.0.113.%d" % (10 + k % 200)
        else:
            cands = passes[spf_of[d]]
            ip = cands[turn.get(d, 0) % len(cands)]
            turn[d] = turn.get(d, 0) + 1
        res = spf_result(ip, m["mail_from"], helo)
        if not forwarded and res != "pass":
            sys.exit("check_zone: %s: %s from %s is %s, not pass" % (m["file"], m["mail_from"], ip, res))
        if forwarded and res in ("pass", "permerror", "temperror"):
            sys.exit("check_zone: %s: unauthorized %s gives %s" % (m["file"], ip, res))
        rec = dmarc_rec[d]
        dkim_ok = any(s["result"] == "pass" and s["d"] == d for s in m["sigs"])
        if rec is None:
            dmarc, policy, action = "none", None, "accept"
        else:
            policy = re.search(r"\bp=(\w+)", rec).group(1)
            dmarc = "pass" if dkim_ok or res == "pass" else "fail"
            action = "accept" if dmarc == "pass" or policy == "none" else policy
        envs.append({"file": m["file"], "ip": ip, "helo": helo, "mail_from": m["mail_from"],
                     "author": d, "broken": m["broken"], "dkim": [s["result"] for s in m["sigs"]],
                     "spf": res, "dmarc": dmarc, "policy": policy, "action": action})

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "zone.json"), "w") as f:
        json.dump(zone, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "envelopes.json"), "w") as f:
        json.dump(envs, f, indent=1, sort_keys=True)
        f.write("\n")
    count = {}
    for e in envs:
        for k in ("spf", "dmarc", "action"):
            count.setdefault(k, {}).setdefault(e[k], 0)
            count[k][e[k]] += 1
    print("check_zone: %d names, %d envelopes (%d author domains, %d ESP domains): %s"
          % (len(zone), len(envs), len(authors), len(esps),
             "; ".join("%s %s" % (k, ", ".join("%s=%d" % kv for kv in sorted(v.items())))
                       for k, v in sorted(count.items()))), file=sys.stderr)


if __name__ == "__main__":
    main()
