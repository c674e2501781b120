#!/usr/bin/python3
"""DKIM interoperability: every message signed by mailauth must verify with
Debian's python3-dkim (dkimpy) and with libopendkim.

Generates an RSA-2048 and an Ed25519 key with `mailauth dkim-keygen`, signs
each test message with both keys in one `mailauth dkim-sign` call, once per
canonicalization, then verifies every signature of the result with

  dkimpy     dkim.DKIM(...).verify(idx, dnsfunc=...) in this process, the key
             records served by dnsfunc (never real DNS);
  opendkim   tests/interop/opendkim_verify (libopendkim, DKIM_QUERY_FILE);
  mailauth   `mailauth dkim --dns ZONE.json --json` (our own verifier, as a
             reference point when one of the others disagrees).

Each (message, canonicalization, verifier) is one test case; the last line is
"RESULT: N passed, M failed".  Run by meson (suite 'integration', test
'interop'):

  interop.py --cli BUILD/lua/bin/mailauth [--opendkim BUILD/tests/interop/opendkim_verify]
             [--preload LIBASAN]

LUA_PATH / LUA_CPATH must find the module (meson sets them); --preload is put
in LD_PRELOAD for the CLI only (a sanitizer-built module in Debian's lua5.4).
Missing python3-dkim or libopendkim makes the cases of that verifier fail.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

DOMAIN = "interop.example"
CANONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]


def crlf(lines):
    return b"".join(l + b"\r\n" for l in lines)


def lf(lines):
    return b"".join(l + b"\n" for l in lines)


BASIC_HEADERS = [
    b"Received: from mx.interop.example (mx.interop.example [192.0.2.1])",
    b"\tby mail.example.net with ESMTPS; Tue, 14 Nov 2023 22:13:20 +0000",
    b"From: Alice Example <alice@interop.example>",
    b"To: Bob <bob@example.net>",
    b"Subject: interop test",
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
    b"Message-ID: <interop-1@interop.example>",
    b"MIME-Version: 1.0",
    b"Content-Type: text/plain; charset=us-ascii",
]
BASIC_BODY = [
    b"Hello Bob,",
    b"",
    b"a plain message.  With  double  spaces,",
    b"From the start of a line,",
    b".",
    b"a dot line above, and an empty line at the end.",
    b"",
]


def one_mb_body():
    out, i, n = [], 0, 0
    while n < 1024 * 1024 + 1000:
        line = b"line %06d " % i + b"abcdefghij" * (i % 9) + (b" \t " if i % 7 == 0 else b"")
        if i % 50 == 0:
            line = b""
        out.append(line)
        n += len(line) + 2
        i += 1
    return out


# (name, message bytes, extra dkim-sign arguments)
MESSAGES = [
    ("crlf", crlf(BASIC_HEADERS + [b""] + BASIC_BODY), []),
    ("lf", lf(BASIC_HEADERS + [b""] + BASIC_BODY), []),
    ("folded-headers", crlf([
        b"From: Alice Example",
        b"  <alice@interop.example>",
        b"To: Bob <bob@example.net>,",
        b"\tCarol <carol@example.net>,",
        b" \t Dave <dave@example.net>",
        b"Subject: a subject that is folded",
        b"   over several",
        b"\tlines with  mixed   whitespace",
        b"Date: Tue, 14 Nov 2023",
        b" 22:13:20 +0000",
        b"Message-ID: <folded@interop.example>",
        b"",
        b"Body.",
    ]), []),
    ("trailing-whitespace", crlf([
        b"From: Alice <alice@interop.example>   ",
        b"To:   bob@example.net \t",
        b"Subject:\tspaces and tabs\t \t",
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000 ",
        b"",
        b"line with trailing spaces   ",
        b"line with a trailing tab\t",
        b"  leading spaces and   inner\t\truns  ",
        b" ",
        b"\t",
        b"",
        b"",
        b"",
    ]), []),
    ("empty-body", crlf(BASIC_HEADERS + [b""]), []),
    ("headers-only", crlf(BASIC_HEADERS), []),
    ("blank-lines-body", crlf(BASIC_HEADERS + [b"", b"", b"", b""]), []),
    ("no-final-newline", crlf(BASIC_HEADERS + [b""]) + b"last line without a line end", []),
    ("long-lines", crlf([
        b"From: Alice <alice@interop.example>",
        b"To: bob@example.net",
        b"Subject: " + b"long " * 180,
        b"X-Long: " + b"x" * 990,
        b"",
        b"y" * 5000,
        b"short",
        b"z " * 3000,
    ]), ["--headers", "from:to:subject:x-long"]),
    ("8bit", crlf([
        b"From: =?utf-8?q?J=C3=B6rg?= <joerg@interop.example>",
        "To: Zoë <zoe@example.net>".encode("utf-8"),
        "Subject: Grüße – 日本語のテスト".encode("utf-8"),
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "Ünïcödé body — ✓".encode("utf-8"),
        b"latin-1: caf\xe9 na\xefve \xa9",
        bytes(range(0x80, 0x100)),
        b"",
    ]), []),
    ("from-like-headers", crlf([
        b"Return-Path: <bounce@interop.example>",
        b"Resent-From: Resender <resent@interop.example>",
        b"Sender: List <list@interop.example>",
        b"From: Alice <alice@interop.example>",
        b"Reply-To: Alice Reply <reply@interop.example>",
        b"X-Original-From: someone@elsewhere.example",
        b"from: lower-case duplicate <alice2@interop.example>",
        b"To: bob@example.net",
        b"Subject: from-like fields",
        b"X-Empty:",
        b"",
        b"Body.",
    ]), ["--headers", "from:from:from:sender:reply-to:resent-from:x-original-from:"
         "to:subject:x-empty:x-missing"]),
    ("mime-multipart", crlf([
        b"From: Alice <alice@interop.example>",
        b"To: bob@example.net",
        b"Subject: attachment",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="b1"',
        b"",
        b"--b1",
        b"Content-Type: text/plain",
        b"",
        b"see attached",
        b"--b1",
        b"Content-Type: application/octet-stream",
        b"Content-Transfer-Encoding: base64",
        b"",
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v",
        b"--b1--",
    ]), []),
    ("identity", crlf(BASIC_HEADERS + [b""] + BASIC_BODY),
     ["--identity", "alice@mail.interop.example", "--headers", "from:to:subject:date:message-id"]),
    ("1mb-body", crlf([
        b"From: Alice <alice@interop.example>",
        b"To: bob@example.net",
        b"Subject: one megabyte",
        b"",
    ] + one_mb_body()), []),
]


class Runner:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.passed = self.failed = 0
        self.n = 0
        env = dict(os.environ)
        if args.preload:
            env["LD_PRELOAD"] = args.preload
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.cli_env = env

    def case(self, name, ok, detail=""):
        self.n += 1
        if ok:
            self.passed += 1
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            for line in detail.rstrip("\n").split("\n"):
                print("#   " + line)
        sys.stdout.flush()

    def cli(self, args, stdin=b""):
        p = subprocess.run([self.args.cli] + args, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.cli_env, timeout=300)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def keygen(r, kind, selector):
    path = os.path.join(r.work, selector + ".pem")
    args = ["dkim-keygen", "--type", kind, "--domain", DOMAIN, "--selector", selector,
            "--out", path, "--json"]
    if kind == "rsa":
        args += ["--bits", "2048"]
    rc, out, err = r.cli(args)
    if rc != 0:
        raise RuntimeError("mailauth %s: exit %d: %s" % (" ".join(args), rc, err))
    j = json.loads(out)
    return path, j["name"], j["record"]


def dkimpy_verifier(records):
    try:
        import dkim
    except ImportError as e:
        return None, "python3-dkim is not installed (%s)" % e

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        rec = records.get(name.rstrip(".").lower())
        return rec.encode("ascii") if rec is not None else None

    def verify(signed):
        d = dkim.DKIM(signed, minkey=1024)
        n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
        lines, ok, npass = [], n == 2, 0
        if n != 2:
            lines.append("expected 2 DKIM-Signature fields, found %d" % n)
        for i in range(n):
            try:
                good = d.verify(idx=i, dnsfunc=dnsfunc)
                why = "" if good else "verify() returned False"
            except Exception as e:  # dkim.DKIMException and parse errors
                good, why = False, "%s: %s" % (type(e).__name__, e)
            lines.append("signature %d: %s %s" % (i, "pass" if good else "fail", why))
            ok = ok and good
            npass += 1 if good else 0
        return ok, npass, "\n".join(lines)

    version = getattr(dkim, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as v
            version = v("dkimpy")
        except Exception:
            version = "?"
    return verify, "dkimpy %s (%s)" % (version, dkim.__file__)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--opendkim", default="")
    ap.add_argument("--preload", default="")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="mailauth-interop-", dir="/tmp")
    r = Runner(args, work)
    try:
        run(r)
    except Exception as e:  # setup failure: one failed case, with the reason
        r.case("setup", False, "%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("RESULT: %d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


def run(r):
    rsa_pem, rsa_name, rsa_rec = keygen(r, "rsa", "rsa2048")
    ed_pem, ed_name, ed_rec = keygen(r, "ed25519", "ed25519")
    records = {rsa_name: rsa_rec, ed_name: ed_rec}

    zone = os.path.join(r.work, "zone.json")
    with open(zone, "w") as f:
        json.dump({n: [{"TXT": v}] for n, v in records.items()}, f)
    keyfile = os.path.join(r.work, "keys.txt")
    with open(keyfile, "w") as f:
        for n, v in records.items():
            f.write("%s %s\n" % (n, v))

    dkimpy, dkimpy_info = dkimpy_verifier(records)
    print("# dkimpy: " + dkimpy_info)

    odk, odk_info, odk_ed25519 = args_opendkim(r)
    print("# " + odk_info)

    def check_mailauth(signed, path):
        rc, out, err = r.cli(["dkim", "--dns", zone, "--json"], signed)
        try:
            sigs = json.loads(out)["signatures"]
            npass = sum(1 for s in sigs if s["result"] == "pass")
            ok = rc == 0 and len(sigs) == 2 and npass == 2
            detail = "\n".join("%s %s: %s" % (s["algorithm"], s["result"], s["reason"]) for s in sigs)
        except (ValueError, KeyError) as e:
            ok, npass, detail = False, 0, "exit %d, %s: %s %s" % (rc, e, out[:200], err)
        return ok, npass, detail

    def check_dkimpy(signed, path):
        if dkimpy is None:
            return False, None, dkimpy_info
        return dkimpy(signed)

    def check_opendkim(signed, path):
        if odk is None:
            return False, None, odk_info
        p = subprocess.run([odk, keyfile, path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        lines = [l for l in out.splitlines() if l.strip()]
        npass = sum(1 for l in lines if l.startswith("pass "))
        if odk_ed25519:
            ok = p.returncode == 0 and len(lines) == 2 and all(l.startswith("pass ") for l in lines)
        else:
            # no Ed25519 in this libopendkim: the RSA signature must pass
            ok = any(l.startswith("pass ") and "a=rsa-sha256" in l for l in lines)
        return ok, npass, "exit %d, %d signatures, %s must pass:\n%s" % (
            p.returncode, len(lines), "both" if odk_ed25519 else "the RSA one", out)

    verifiers = [("mailauth", check_mailauth), ("dkimpy", check_dkimpy), ("opendkim", check_opendkim)]
    control = None
    for name, msg, extra in MESSAGES:
        for canon in CANONS:
            label = "%s %s" % (name, canon)
            path = os.path.join(r.work, "signed.eml")
            rc, signed, err = r.cli(["dkim-sign", "--key", rsa_pem, "--selector", "rsa2048",
                                     "--key", ed_pem, "--selector", "ed25519", "--domain", DOMAIN,
                                     "--canonicalization", canon] + extra, msg)
            if rc != 0 or not signed.endswith(msg) or not signed.startswith(b"DKIM-Signature:"):
                why = "mailauth dkim-sign exit %d: %s" % (rc, err.strip())
                for v in ("mailauth", "dkimpy", "opendkim"):
                    r.case("%s: %s" % (label, v), False, why)
                continue
            with open(path, "wb") as f:
                f.write(signed)

            for v, check in verifiers:
                ok, _, detail = check(signed, path)
                r.case("%s: %s" % (label, v), ok, detail)
            if name == "crlf" and canon == "relaxed/relaxed":
                control = (signed, path)

    # Controls: a changed body must fail with every verifier (a harness that
    # passes everything would pass the cases above too).
    if control is None:
        r.case("control: tampered body fails", False, "no signed message to tamper with")
        return
    signed, path = control
    bad = signed.replace(b"a plain message", b"a plain massage")
    with open(path, "wb") as f:
        f.write(bad)
    for v, check in verifiers:
        ok, npass, detail = check(bad, path)
        r.case("control: tampered body fails: %s" % v, not ok and npass == 0,
               "the verifier accepted a changed body:\n" + detail)


def args_opendkim(r):
    odk = r.args.opendkim
    if not odk or not os.access(odk, os.X_OK):
        return None, "libopendkim: opendkim_verify not built (libopendkim-dev not found when configuring)", False
    p = subprocess.run([odk, "--features"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        return None, "libopendkim: opendkim_verify --features failed: " + out, False
    ed = "ed25519 yes" in out
    version = next((l for l in out.splitlines() if l.startswith("libopendkim")), "libopendkim ?")
    info = version + (": RSA and Ed25519 signatures checked" if ed else
                      ": no Ed25519 support, only the RSA signatures are checked")
    return odk, info, ed


if __name__ == "__main__":
    sys.exit(main())
