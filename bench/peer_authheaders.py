#!/usr/bin/python3
"""Pipeline benchmark, Python side (see bench/README.md, "Pipeline").

    /usr/bin/python3 bench/peer_authheaders.py [--seconds S] [--passes N] [--limit N] [--ref MSGS_PER_S]
                                               [--show N] [--psl-per-call] [CORPUS]

Debian's authheaders 0.15.2 (python3-authheaders) over dkimpy 1.1.4 and
pyspf 2.0.14: authheaders.authenticate_message(msg, authserv_id, spf=True,
dkim=True, dmarc=True, ip, mail_from, helo, dnsfunc) per message, which
returns the Authentication-Results field.  DNS comes from
CORPUS/check/zone.json: dnsfunc (dkimpy's key lookups and authheaders' DMARC
lookups) and spf.DNSLookup (pyspf) answer from it, as bench/pyspf_bench.py
and make_corpus.py do.

authheaders' get_org_domain() reads and compiles the Public Suffix List file
on every call (about 120 ms here) and is called up to five times per
message; by default it is replaced by the same function over one
PublicSuffixList loaded at start (--psl-per-call keeps the shipped one).
authheaders verifies the first DKIM-Signature only; agreement counts its one
dkim result against the first expected one.

One untimed pass over the first --limit messages (default all) counts
agreement, then passes over them until at least --passes (default 2) and
--seconds; the rate is the median pass's.  Time is
time.process_time() (CPU), as the other sides use.
"""
import argparse
import json
import os
import re
import sys
import time

import authheaders
import authheaders.dmarc_lookup as dl
import spf
from publicsuffix2 import PublicSuffixList

AUTHSERV = "mx.bench.example"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default="/tmp/corpus")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--passes", type=int, default=2, help="least number of timed passes")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--ref", type=float, default=0.0)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--psl-per-call", action="store_true")
    a = ap.parse_args()

    with open(os.path.join(a.corpus, "check", "zone.json")) as f:
        zone = json.load(f)
    with open(os.path.join(a.corpus, "check", "envelopes.json")) as f:
        envs = json.load(f)
    if a.limit:
        envs = envs[:a.limit]
    msgs = []
    for e in envs:
        with open(os.path.join(a.corpus, "dkim", "msgs", e["file"]), "rb") as f:
            msgs.append(f.read())

    def txt(name):
        v = zone.get(name.rstrip(".").lower(), {}).get("TXT")
        return v[0] if v else None

    # dkimpy asks with bytes and wants bytes; authheaders' DMARC lookups ask
    # with str and want the record as str.
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            v = txt(name.decode())
            return v.encode() if v is not None else None
        return txt(name)

    def lookup(name, qtype, strict=True, timeout=None, *args, **kw):
        e = zone.get(name.rstrip(".").lower())
        if not e:
            return []
        out = []
        for v in e.get(qtype, []):
            if qtype == "TXT":
                b = v.encode()
                out.append(((name, qtype), [b[i:i + 255] for i in range(0, len(b), 255)]))
            elif qtype == "MX":
                out.append(((name, qtype), (v[0], v[1])))
            else:
                out.append(((name, qtype), v))
        return out
    spf.DNSLookup = lookup

    if not a.psl_per_call:
        with open(dl.get_suffix_list_file_name()) as f:
            psl = PublicSuffixList(f)

        def get_org_domain(domain):
            return psl.get_public_suffix(domain)
        dl.get_org_domain = get_org_domain
        authheaders.get_org_domain = get_org_domain

    def one(m, e):
        return authheaders.authenticate_message(m, AUTHSERV, spf=True, dkim=True, dmarc=True,
                                                ip=e["ip"], mail_from=e["mail_from"], helo=e["helo"],
                                                dnsfunc=dnsfunc)

    ok = {"dkim": 0, "spf": 0, "dmarc": 0, "all": 0}
    shown = 0
    for m, e in zip(msgs, envs):
        ar = one(m, e)
        got = {k: (re.search(r"\b%s=(\w+)" % k, ar) or [None, None])[1] for k in ("dkim", "spf", "dmarc")}
        want = {"dkim": e["dkim"][0] if e["dkim"] else "none", "spf": e["spf"], "dmarc": e["dmarc"]}
        good = {k: got[k] == want[k] for k in want}
        good["all"] = all(good.values())
        for k, v in good.items():
            ok[k] += v
        if not good["all"] and shown < a.show:
            shown += 1
            print("authheaders disagrees: %s got %s expected %s" % (e["file"], got, want), file=sys.stderr)

    times = []
    total = 0.0
    while total < a.seconds or len(times) < a.passes:
        t0 = time.process_time()
        for m, e in zip(msgs, envs):
            one(m, e)
        dt = time.process_time() - t0
        times.append(dt)
        total += dt
    times.sort()
    n = len(msgs)
    k = len(times)
    rate = n / (times[k // 2] if k % 2 else (times[k // 2 - 1] + times[k // 2]) / 2)
    print("%-15s %d passes over %d messages, median %.1f msgs/s%s" % (
        "authheaders", len(times), n, rate, "" if not a.psl_per_call else " (PSL read per call)"), file=sys.stderr)
    line = "%-15s %d/%d agree (dkim %d spf %d dmarc %d) %s %8.1f msgs/s" % (
        "authheaders", ok["all"], n, ok["dkim"], ok["spf"], ok["dmarc"],
        " " * 10, rate)
    if a.ref > 0:
        line += "  %.4fx mailauth-check (mailauth %.0fx faster)" % (rate / a.ref, a.ref / rate)
    print(line)


if __name__ == "__main__":
    main()
