#!/usr/bin/python3
"""A misbehaving DNS server for mailauth's integration tests (stdlib only).

    baddns.py --ready FILE [--ports 53531-53540] [--delay-ms 200] MODE [MODE ...]

Each MODE gets its own UDP socket on 127.0.0.1 (never another address), on
a free port of the range, tried from the top down (run_knot.sh takes knotd's
port from the bottom up, so both can share one range).  When every socket is bound, FILE is
written (atomically) with one "MODE PORT" line per mode; the caller waits
for it, runs its tests, and stops the server with SIGTERM to its PID.

Modes:
  silent    never answers
  delay     answers every query after --delay-ms, all of them concurrently
            (A: 192.0.2.1, TXT: "delayed <ms>ms", other types: NODATA)
  servfail  answers SERVFAIL
  refused   answers REFUSED
  garbage   answers malformed messages; the first label of the query name
            picks the kind:
              count    ANCOUNT=3 but no records
              rdlen    RDLENGTH runs past the end of the message
              loop     the owner name is a compression pointer to itself
              txtlen   a TXT string longer than its RDATA
              alen     an A record with 5 bytes of RDATA
              short    a 5-byte message
              wrongid  a well-formed answer with another ID
              qname    a well-formed answer for another question
              random   random bytes after the ID
            anything else: count
"""

import argparse
import heapq
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

ADDR = "127.0.0.1"  # loopback only, by design
MODES = ("silent", "delay", "servfail", "refused", "garbage")


def log(msg):
    sys.stderr.write("baddns[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def parse_query(data):
    """Returns (id, flags, question bytes, labels, qtype) or None."""
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    if qd < 1 or flags & 0x8000:
        return None
    p, labels = 12, []
    while True:
        if p >= len(data):
            return None
        n = data[p]
        if n == 0:
            p += 1
            break
        if n & 0xC0 or p + 1 + n > len(data):
            return None
        labels.append(data[p + 1:p + 1 + n])
        p += 1 + n
    if p + 4 > len(data):
        return None
    qtype, _qclass = struct.unpack("!HH", data[p:p + 4])
    return qid, flags, data[12:p + 4], labels, qtype


def header(qid, qflags, rcode, an=0, qd=1, ns=0, ar=0):
    flags = 0x8000 | 0x0400 | (qflags & 0x0100) | rcode  # QR AA, RD copied
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def rr(rtype, rdata, ttl=60, owner=b"\xc0\x0c"):
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def good_answer(q, delay_ms):
    qid, qflags, question, _labels, qtype = q
    if qtype == 1:
        return header(qid, qflags, 0, an=1) + question + rr(1, bytes([192, 0, 2, 1]))
    if qtype == 16:
        s = b"delayed %dms" % delay_ms
        return header(qid, qflags, 0, an=1) + question + rr(16, bytes([len(s)]) + s)
    return header(qid, qflags, 0) + question


def garbage(q):
    qid, qflags, question, labels, qtype = q
    kind = labels[0].decode("ascii", "replace").lower() if labels else "count"
    if kind == "rdlen":
        return header(qid, qflags, 0, an=1) + question + \
            b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 200) + b"\x01\x02"
    if kind == "loop":
        # the owner is a pointer to its own offset
        off = 12 + len(question)
        return header(qid, qflags, 0, an=1) + question + \
            struct.pack("!H", 0xC000 | off) + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    if kind == "txtlen":
        return header(qid, qflags, 0, an=1) + question + rr(16, b"\x20short")
    if kind == "alen":
        return header(qid, qflags, 0, an=1) + question + rr(1, b"\x01\x02\x03\x04\x05")
    if kind == "short":
        return struct.pack("!H", qid) + b"\x81\x80\x00"
    if kind == "wrongid":
        return good_answer(((qid + 1) & 0xFFFF, qflags, question, labels, qtype), 0)
    if kind == "qname":
        other = b"\x05other\x07invalid\x00" + struct.pack("!HH", qtype, 1)
        return good_answer((qid, qflags, other, labels, qtype), 0)
    if kind == "random":
        rnd = random.Random(qid)
        return struct.pack("!H", qid) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(10, 300)))
    # count: promises three records, carries none
    return header(qid, qflags, 0, an=3) + question


def bind_udp(lo, hi, taken):
    for port in range(hi, lo - 1, -1):
        if port in taken:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((ADDR, port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        return s, port
    raise SystemExit("baddns: no free UDP port in %d-%d" % (lo, hi))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--ports", default="53531-53540")
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument("modes", nargs="+", choices=MODES)
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.ports.split("-"))
    if not (1024 < lo <= hi <= 65535):
        raise SystemExit("baddns: high ports only")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    taken, lines = set(), []
    for mode in a.modes:
        s, port = bind_udp(lo, hi, taken)
        taken.add(port)
        sel.register(s, selectors.EVENT_READ, mode)
        lines.append("%s %d\n" % (mode, port))
        log("%s on %s@%d" % (mode, ADDR, port))
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.rename(tmp, a.ready)

    pending = []  # heap of (due, seq, sock, reply, peer)
    counts = {m: 0 for m in a.modes}
    try:
        serve(sel, pending, counts, a.delay_ms)
    finally:
        log("queries per mode: %s" % counts)


def serve(sel, pending, counts, delay_ms):
    seq = 0
    while True:
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        for key, _ in sel.select(timeout):
            sock, mode = key.fileobj, key.data
            while True:
                try:
                    data, peer = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                q = parse_query(data)
                if q is None:
                    continue
                counts[mode] += 1
                if mode == "silent":
                    continue
                if mode == "delay":
                    seq += 1
                    heapq.heappush(pending, (time.monotonic() + delay_ms / 1000.0, seq, sock,
                                             good_answer(q, delay_ms), peer))
                    continue
                if mode == "servfail":
                    reply = header(q[0], q[1], 2) + q[2]
                elif mode == "refused":
                    reply = header(q[0], q[1], 5) + q[2]
                else:
                    reply = garbage(q)
                try:
                    sock.sendto(reply, peer)
                except OSError as e:
                    log("send: %s" % e)
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, sock, reply, peer = heapq.heappop(pending)
            try:
                sock.sendto(reply, peer)
            except OSError as e:
                log("send: %s" % e)


if __name__ == "__main__":
    main()
