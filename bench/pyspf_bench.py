#!/usr/bin/python3
"""pyspf side of the SPF benchmark (see bench/README.md).

Serves DNS from CORPUS/spf/dns.json by replacing spf.DNSLookup exactly as
shared/bench/make_corpus.py does when it computes the expected results, runs
every query of CORPUS/spf/queries.json once to count agreement (a result
equal to `expected`, or to `alt_no_void_limit` when present, agrees), then
repeats the query list until at least --seconds have passed and prints

    pyspf     5000/5000 agree     7500 checks/s  0.06x libspf2

(--ref gives libspf2's checks/s for the ratio; without it the ratio is left
out).  Run it with Debian's /usr/bin/python3 (python3-spf 2.0.14).
"""
import argparse
import json
import os
import sys
import time

import spf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default="/tmp/corpus")
    ap.add_argument("--seconds", "-t", type=float, default=2.0)
    ap.add_argument("--ref", type=float, default=0.0, help="libspf2 checks/s, for the ratio")
    ap.add_argument("--show", "-d", type=int, default=10, help="disagreements listed on stderr")
    a = ap.parse_args()

    with open(os.path.join(a.corpus, "spf", "dns.json")) as f:
        dns = json.load(f)
    with open(os.path.join(a.corpus, "spf", "queries.json")) as f:
        queries = json.load(f)

    # As make_corpus.py (SPF half, "expected results from pyspf").
    def lookup(name, qtype, strict=True, timeout=None, *args, **kw):
        e = dns.get(name.rstrip(".").lower())
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

    work = [(q["ip"], q["mail_from"] or ("postmaster@" + q["helo"]), q["helo"]) for q in queries]

    def one(ip, s, h):
        return spf.query(i=ip, s=s, h=h, timeout=20).check()[0]

    agree = shown = 0
    for q, (ip, s, h) in zip(queries, work):
        got = one(ip, s, h)
        if got == q["expected"] or got == q.get("alt_no_void_limit"):
            agree += 1
        elif shown < a.show:
            shown += 1
            print("pyspf disagrees: ip=%s mail_from=%s helo=%s expected=%s got=%s"
                  % (ip, q["mail_from"] or "<>", h, q["expected"], got), file=sys.stderr)

    n = 0
    t0 = time.perf_counter()
    while True:
        for ip, s, h in work:
            one(ip, s, h)
        n += len(work)
        t = time.perf_counter() - t0
        if t >= a.seconds:
            break
    rate = n / t
    line = "%-9s %d/%d agree  %8.0f checks/s" % ("pyspf", agree, len(queries), rate)
    if a.ref > 0:
        line += "  %.2fx libspf2" % (rate / a.ref)
    print(line)


if __name__ == "__main__":
    main()
