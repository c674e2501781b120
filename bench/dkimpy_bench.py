#!/usr/bin/python3
"""dkimpy side of the DKIM benchmark (see bench/README.md).

Serves keys from CORPUS/dkim/dns.json through dnsfunc, exactly as
shared/bench/make_corpus.py does when it cross-checks the expected results,
and verifies every signature of every message in CORPUS/dkim/msgs/ with
dkim.DKIM(message, minkey=1024).verify(idx=i, dnsfunc=...), top first.
A message agrees when its list of results equals the per-signature results
of CORPUS/dkim/expected.json.  The messages are read into memory first; the
DKIM object (which parses the message) is built inside the timed loop.

After one pass for agreement, whole passes are timed until at least
--seconds have passed and at least --passes passes are done; the median
per-pass rate is printed:

    dkimpy       1000/1000 agree      620 msgs/s    4.4% of floor   0.19x libopendkim

--floor and --ref give the floor's and libopendkim's msgs/s from
bench/dkim_bench (same run, other process) for the two ratios.  Run it with
Debian's /usr/bin/python3 (python3-dkim 1.1.4).
"""
import argparse
import json
import os
import statistics
import sys
import time

import dkim


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default="/tmp/corpus")
    ap.add_argument("--seconds", "-t", type=float, default=3.0)
    ap.add_argument("--passes", "-n", type=int, default=3, help="at least this many timed passes")
    ap.add_argument("--floor", type=float, default=0.0, help="the crypto floor's msgs/s")
    ap.add_argument("--ref", type=float, default=0.0, help="libopendkim's msgs/s")
    ap.add_argument("--show", "-d", type=int, default=10, help="disagreements listed on stderr")
    a = ap.parse_args()

    base = os.path.join(a.corpus, "dkim")
    with open(os.path.join(base, "dns.json")) as f:
        dns = json.load(f)
    with open(os.path.join(base, "expected.json")) as f:
        expected = json.load(f)
    names = sorted(expected)
    msgs = []
    for n in names:
        with open(os.path.join(base, "msgs", n), "rb") as f:
            msgs.append(f.read())

    # As make_corpus.py ("cross-check every expectation with dkimpy").
    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        v = dns.get(n.rstrip(".").lower(), {}).get("TXT")
        return v[0].encode() if v else None

    def verify(m):
        d = dkim.DKIM(m, minkey=1024)
        nsig = sum(1 for (k, _) in d.headers if k.lower() == b"dkim-signature")
        res = []
        for idx in range(nsig):
            try:
                ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            except dkim.DKIMException:
                ok = False
            res.append("pass" if ok else "fail")
        return res

    agree = shown = 0
    for n, m in zip(names, msgs):
        got = verify(m)
        want = [s["result"] for s in expected[n]["signatures"]]
        if got == want:
            agree += 1
        elif shown < a.show:
            shown += 1
            print("dkimpy disagrees: %s expected=%s got=%s" % (n, ",".join(want), ",".join(got)),
                  file=sys.stderr)
    print("dkimpy: %d/%d agree with expected.json" % (agree, len(names)), file=sys.stderr)

    rates = []
    spent = 0.0
    while spent < a.seconds or len(rates) < a.passes:
        t0 = time.perf_counter()
        for m in msgs:
            verify(m)
        t = time.perf_counter() - t0
        spent += t
        rates.append(len(msgs) / t)
    print("dkimpy: %d timed passes, msgs/s per pass min %.0f median %.0f max %.0f"
          % (len(rates), min(rates), statistics.median(rates), max(rates)), file=sys.stderr)
    rate = statistics.median(rates)
    line = "%-12s %d/%d agree  %7.0f msgs/s" % ("dkimpy", agree, len(names), rate)
    if a.floor > 0:
        line += "  %5.1f%% of floor" % (100 * rate / a.floor)
    if a.ref > 0:
        line += "  %5.2fx libopendkim" % (rate / a.ref)
    print(line)


if __name__ == "__main__":
    main()
