#!/usr/bin/python3
"""A misbehaving HTTPS server for the MTA-STS hostile-network tests (stdlib only).

    badhttps.py serve --ready FILE --certs DIR --key FILE --log FILE
    badhttps.py probe --port N --host NAME --ca FILE     (exit 0 on HTTP 200)
    badhttps.py freeports N                              (N free TCP ports)

`serve` binds every socket on 127.0.0.1 (never another address) on ports
the kernel picks, then writes FILE (atomically) with one "NAME PORT" line per
socket; the caller stops it with SIGTERM to its PID.  Sockets:

  tls     TLS; the certificate is chosen by SNI (DIR/<sni>.pem with the key
          FILE), the behaviour by the first label after "mta-sts." of the
          Host header (mta-sts.<mode>.hostile.test):
            slowloris       the status line and headers, one byte a second
            slowbody        headers at once, then the body one byte a second
            endless         200 text/plain, no length, an endless body
            endless-chunked 200 text/plain, chunked, endless chunks
            endless-header  one header line that never ends
            many-headers    an endless list of small header lines
            informational   an endless list of "100 Continue" responses
            http10          HTTP/1.0 200 text/plain, a valid policy, close
            http10-endless  HTTP/1.0 200 text/plain, an endless body
            http09          the policy alone, no status line, close
            truncated       Content-Length 500, a valid policy (~60 bytes), close
            gzip            a gzip-compressed policy with Content-Encoding: gzip
            anything else   404
  stall   accepts TCP connections and never sends a byte
  plain   answers in plain HTTP (no TLS) with a valid policy
  reset   accepts and resets the connection at once
  closed  bound, never listening: connections are refused
  dns     UDP, never answers

Every connection is bounded (MAX_SECONDS, MAX_BYTES) and ends as soon as
the client goes away.  One log line per connection: socket, host, path,
mode, bytes sent, seconds, how it ended.
"""

import argparse
import gzip
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

ADDR = "127.0.0.1"  # loopback only, by design
MAX_SECONDS = 30
MAX_BYTES = 256 * 1024 * 1024

LOG = None
LOG_LOCK = threading.Lock()


def log(line):
    with LOG_LOCK:
        LOG.write(line + "\n")
        LOG.flush()


def policy(host):
    dom = host[len("mta-sts."):] if host.startswith("mta-sts.") else host
    return ("version: STSv1\nmode: enforce\nmx: mail.%s\nmax_age: 86400\n" % dom).encode()


class Conn:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind
        self.sent = 0
        self.start = time.monotonic()
        self.end = "done"

    def alive(self):
        return time.monotonic() - self.start < MAX_SECONDS and self.sent < MAX_BYTES

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def trickle(self, data):
        """One byte a second, until the data, the time or the client ends."""
        for i in range(len(data)):
            if not self.alive():
                self.end = "capped"
                return False
            self.send(data[i:i + 1])
            time.sleep(1)
        return True

    def flood(self, block):
        while self.alive():
            self.send(block)
        self.end = "capped"


def read_request(sock):
    """The request head: (host without port, path) or (None, None)."""
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            return None, None
        buf += chunk
    lines = buf.split(b"\r\n")
    parts = lines[0].split()
    path = parts[1].decode("latin-1") if len(parts) > 1 else "?"
    host = "?"
    for ln in lines[1:]:
        if ln.lower().startswith(b"host:"):
            host = ln[5:].strip().decode("latin-1").rsplit(":", 1)[0].lower()
    return host, path


def mode_of(host):
    labels = host.split(".")
    return labels[1] if len(labels) > 2 and labels[0] == "mta-sts" else "?"


def serve_mode(c, mode, host):
    pol = policy(host)
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    if mode == "slowloris":
        c.trickle(ok + b"Content-Length: %d\r\n\r\n" % len(pol) + pol)
    elif mode == "slowbody":
        c.send(ok + b"Content-Length: %d\r\n\r\n" % len(pol))
        c.trickle(pol)
    elif mode == "endless":
        c.send(ok + b"Connection: close\r\n\r\n" + pol)
        c.flood(b"x: " + b"a" * 65532 + b"\n")
    elif mode == "endless-chunked":
        c.send(ok + b"Transfer-Encoding: chunked\r\n\r\n")
        c.send(b"%x\r\n%s\r\n" % (len(pol), pol))
        line = b"x: " + b"a" * 8188 + b"\n"
        c.flood(b"%x\r\n%s\r\n" % (len(line), line))
    elif mode == "endless-header":
        c.send(ok + b"X-Endless: ")
        c.flood(b"a" * 65536)
    elif mode == "many-headers":
        c.send(ok)
        c.flood(b"".join(b"X-H%d: v\r\n" % i for i in range(4096)))
    elif mode == "informational":
        c.flood(b"HTTP/1.1 100 Continue\r\n\r\n" * 1024)
    elif mode == "http10":
        c.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + pol)
    elif mode == "http10-endless":
        c.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + pol)
        c.flood(b"x: " + b"a" * 65532 + b"\n")
    elif mode == "http09":
        c.send(pol)
    elif mode == "truncated":
        c.send(ok + b"Content-Length: 500\r\nConnection: close\r\n\r\n" + pol)
    elif mode == "gzip":
        z = gzip.compress(pol)
        c.send(ok + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(z) + z)
    else:
        c.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        kind = self.server.kind
        c = Conn(self.request, kind)
        host, path, mode = "-", "-", "-"
        try:
            self.request.settimeout(10)
            if kind == "tls":
                c.sock = self.server.ctx.wrap_socket(self.request, server_side=True)
                host, path = read_request(c.sock)
                if host is None:
                    c.end = "no-request"
                    return
                mode = mode_of(host)
                serve_mode(c, mode, host)
            elif kind == "stall":
                self.request.settimeout(1)
                while c.alive():
                    try:
                        if not self.request.recv(4096):
                            c.end = "client-closed"
                            return
                    except socket.timeout:
                        pass
                c.end = "capped"
            elif kind == "plain":
                self.request.recv(4096)
                c.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
                       policy("mta-sts.plain.hostile.test"))
            elif kind == "reset":
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except (OSError, ssl.SSLError) as e:
            c.end = "client-gone(%s)" % e.__class__.__name__
        finally:
            if c.sock is not self.request:
                try:
                    c.sock.close()
                except OSError:
                    pass
            log("%s %s %s %s sent=%d seconds=%.1f end=%s" % (kind, host, path, mode, c.sent,
                time.monotonic() - c.start, c.end))


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 64


def tls_context(certs, key):
    cache = {}
    lock = threading.Lock()

    def ctx_for(name):
        with lock:
            if name not in cache:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                path = os.path.join(certs, name + ".pem")
                if not os.path.exists(path):
                    path = os.path.join(certs, "default.pem")
                ctx.load_cert_chain(path, key)
                cache[name] = ctx
            return cache[name]

    def sni(sslobj, name, _ctx):
        if name:
            sslobj.context = ctx_for(name.lower())

    base = ctx_for("default")
    base.sni_callback = sni
    return base


def serve(a):
    global LOG
    LOG = open(a.log, "a")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ports = []
    servers = []
    for kind in ("tls", "stall", "plain", "reset"):
        s = Server((ADDR, 0), Handler)
        s.kind = kind
        if kind == "tls":
            s.ctx = tls_context(a.certs, a.key)
        servers.append(s)
        ports.append((kind, s.server_address[1]))
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind((ADDR, 0))  # bound, never listening: connections are refused
    ports.append(("closed", closed.getsockname()[1]))
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((ADDR, 0))  # never read, never answered
    ports.append(("dns", dns.getsockname()[1]))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        for kind, port in ports:
            f.write("%s %d\n" % (kind, port))
    os.rename(tmp, a.ready)
    sys.stderr.write("badhttps[%d]: %s\n" % (os.getpid(), " ".join("%s=%d" % p for p in ports)))
    sys.stderr.flush()
    while True:
        time.sleep(3600)


def probe(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    try:
        with socket.create_connection((ADDR, a.port), timeout=2) as s:
            with ctx.wrap_socket(s, server_hostname=a.host) as t:
                t.sendall(("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                           % a.host).encode())
                data = b""
                while len(data) < 65536:
                    chunk = t.recv(4096)
                    if not chunk:
                        break
                    data += chunk
    except (OSError, ssl.SSLError) as e:
        sys.stderr.write("probe: %s\n" % e)
        return 1
    return 0 if data.startswith(b"HTTP/1.1 200 ") else 1


def freeports(n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ADDR, 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--ready", required=True)
    s.add_argument("--certs", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--log", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--ca", required=True)
    f = sub.add_parser("freeports")
    f.add_argument("n", type=int)
    a = ap.parse_args()
    if a.cmd == "serve":
        serve(a)
    elif a.cmd == "probe":
        return probe(a)
    return freeports(a.n)


if __name__ == "__main__":
    sys.exit(main())
