#!/usr/bin/python3
"""Seeds for fuzz_dns_wire: DNS response messages made with dnspython
(Debian's python3-dnspython), with name compression as servers send it.

    /usr/bin/python3 fuzz/make_dns_seeds.py fuzz/corpus/fuzz_dns_wire
"""
import os
import sys

import dns.flags
import dns.message
import dns.rcode
import dns.rrset


def response(qname, qtype, answers=(), authority=(), rcode=dns.rcode.NOERROR, ad=False):
    q = dns.message.make_query(qname, qtype, use_edns=True)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    if ad:
        r.flags |= dns.flags.AD
    for name, ttl, rtype, *rdatas in answers:
        r.answer.append(dns.rrset.from_text(name, ttl, "IN", rtype, *rdatas))
    for name, ttl, rtype, *rdatas in authority:
        r.authority.append(dns.rrset.from_text(name, ttl, "IN", rtype, *rdatas))
    return r.to_wire(max_size=65535)


SOA = ("example.org.", 3600, "SOA", "ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300")
seeds = {
    "a": response("mx1.example.org.", "A", [("mx1.example.org.", 300, "A", "192.0.2.25", "192.0.2.26")]),
    "aaaa": response("mx1.example.org.", "AAAA", [("mx1.example.org.", 300, "AAAA", "2001:db8::25")], ad=True),
    "mx": response("example.org.", "MX", [("example.org.", 300, "MX", "10 mx1.example.org.", "20 mx2.example.net.")]),
    "null-mx": response("example.org.", "MX", [("example.org.", 300, "MX", "0 .")]),
    "txt": response("example.org.", "TXT", [("example.org.", 300, "TXT",
                                              '"v=spf1 mx " "include:_spf.example.net -all"',
                                              '"google-site-verification=x"')]),
    "txt-long": response("s._domainkey.example.org.", "TXT", [("s._domainkey.example.org.", 300, "TXT",
                                                                " ".join('"%s"' % ("k" * 255) for _ in range(8)))]),
    "cname": response("www.example.org.", "A", [("www.example.org.", 300, "CNAME", "host.example.org."),
                                                 ("host.example.org.", 300, "A", "192.0.2.80")]),
    "ptr": response("25.2.0.192.in-addr.arpa.", "PTR", [("25.2.0.192.in-addr.arpa.", 300, "PTR", "mx1.example.org.")]),
    "nxdomain": response("nope.example.org.", "TXT", authority=[SOA], rcode=dns.rcode.NXDOMAIN),
    "nodata": response("example.org.", "AAAA", authority=[SOA]),
    "servfail": response("broken.example.org.", "TXT", rcode=dns.rcode.SERVFAIL),
    "refused": response("example.org.", "TXT", rcode=dns.rcode.REFUSED),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, wire in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(wire)
# A truncated copy and a bare header.
with open(os.path.join(out, "truncated"), "wb") as f:
    f.write(seeds["mx"][:-7])
with open(os.path.join(out, "header-only"), "wb") as f:
    f.write(seeds["a"][:12])
