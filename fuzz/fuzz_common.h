/* Helpers shared by the libFuzzer targets (header-only, static). */
#ifndef MA_FUZZ_COMMON_H
#define MA_FUZZ_COMMON_H

#include "resolver.h"
#include "spf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Abort loudly on a harness (not library) problem: libFuzzer reports it. */
#define FUZZ_REQUIRE(x)	do { if (!(x)) abort(); } while (0)

static inline void
fz_txt(struct ma_fixture *fx, const char *name, const char *s)
{
	struct ma_txt_string t = { (const unsigned char *)s, strlen(s) };

	FUZZ_REQUIRE(ma_fixture_add_txt(fx, name, MA_RR_TXT, &t, 1));
}

/* A TXT record from arbitrary bytes, split into <= 255-octet
 * character-strings as DNS would carry it. */
static inline void
fz_txt_bytes(struct ma_fixture *fx, const char *name, const uint8_t *data, size_t size)
{
	struct ma_txt_string st[64];
	size_t n = 0;

	for (size_t off = 0; n < 64 && (off < size || n == 0); off += 255) {
		size_t l = size - off < 255 ? size - off : 255;
		st[n].data = data + off;
		st[n].len = l;
		n++;
	}
	FUZZ_REQUIRE(ma_fixture_add_txt(fx, name, MA_RR_TXT, st, n));
}

/*
 * The fixed part of the zone the SPF targets evaluate against.  The client
 * addresses are 192.0.2.10 and 2001:db8::10; both have PTR records, some of
 * which validate (forward-confirmed) and some not.
 */
#define FZ_IP4		"192.0.2.10"
#define FZ_IP6		"2001:db8::10"
#define FZ_REV4		"10.2.0.192.in-addr.arpa"
#define FZ_REV6		"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"

static inline void
fz_base_zone(struct ma_fixture *fx)
{
	/* Addresses. */
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "example.com", "192.0.2.10"));
	FUZZ_REQUIRE(ma_fixture_add_aaaa(fx, "example.com", "2001:db8::10"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "mail.example.com", "192.0.2.10"));
	FUZZ_REQUIRE(ma_fixture_add_aaaa(fx, "mail.example.com", "2001:db8::10"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "mx1.example.com", "192.0.2.11"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "mx2.example.com", "198.51.100.1"));
	FUZZ_REQUIRE(ma_fixture_add_aaaa(fx, "mx2.example.com", "2001:db8::10"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "host.sub.example.com", "192.0.2.10"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "other.example.net", "203.0.113.5"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "10.2.0.192.exists.example.com", "127.0.0.2"));
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "user.example.com.ex.example.com", "127.0.0.2"));
	/* MX. */
	FUZZ_REQUIRE(ma_fixture_add_mx(fx, "example.com", 10, "mx1.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_mx(fx, "example.com", 20, "mx2.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_mx(fx, "nullmx.example.com", 0, "."));
	FUZZ_REQUIRE(ma_fixture_add_mx(fx, "many.example.com", 1, "mx1.example.com"));
	for (unsigned i = 0; i < 11; i++)
		FUZZ_REQUIRE(ma_fixture_add_mx(fx, "many.example.com", i + 2, "mail.example.com"));
	/* PTR: two validated names, one not, one unusable. */
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV4, MA_RR_PTR, "mail.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV4, MA_RR_PTR, "host.sub.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV4, MA_RR_PTR, "other.example.net"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV4, MA_RR_PTR, "bad..name"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV6, MA_RR_PTR, "mail.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, FZ_REV6, MA_RR_PTR, "mx2.example.com"));
	/* CNAMEs, one of them a loop. */
	FUZZ_REQUIRE(ma_fixture_add_name(fx, "alias.example.com", MA_RR_CNAME, "mail.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, "loop1.example.com", MA_RR_CNAME, "loop2.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_name(fx, "loop2.example.com", MA_RR_CNAME, "loop1.example.com."));
	/* Other SPF records for include:/redirect= targets. */
	fz_txt(fx, "inc.example.com", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all");
	fz_txt(fx, "fail.example.com", "v=spf1 -all exp=exp.example.com");
	fz_txt(fx, "soft.example.com", "v=spf1 ~all");
	fz_txt(fx, "neutral.example.com", "v=spf1 ?all");
	fz_txt(fx, "perm.example.com", "v=spf1 bogus:x");
	fz_txt(fx, "macro.example.com", "v=spf1 exists:%{ir}.exists.%{d} a:%{l}.%{o}.ex.%{d2} ptr:%{d} -all");
	fz_txt(fx, "redir.example.com", "v=spf1 redirect=inc.example.com");
	fz_txt(fx, "twice.example.com", "v=spf1 -all");
	fz_txt(fx, "twice.example.com", "v=spf1 +all");
	fz_txt(fx, "exp.example.com", "%{i} is not one of %{d}'s designated mail servers (%{S} via %{h}; %{c} %{r} %{t} %{p})");
	fz_txt(fx, "exp2.example.com", "See http://%{d}/why.html?s=%{S}&i=%{I}");
	fz_txt(fx, "exp2.example.com", "second record makes exp= ignored");
	{
		struct ma_txt_string sp = { (const unsigned char *)"v=spf1 mx -all", 14 };
		FUZZ_REQUIRE(ma_fixture_add_txt(fx, "spfonly.example.com", MA_RR_SPF, &sp, 1));
	}
	/* Failures and empties. */
	FUZZ_REQUIRE(ma_fixture_set_timeout(fx, "timeout.example.com"));
	FUZZ_REQUIRE(ma_fixture_set_servfail(fx, "servfail.example.com"));
	FUZZ_REQUIRE(ma_fixture_add_empty(fx, "empty.example.com"));
}

/* Where walked sums go, so that the reads are not optimised away. */
static volatile size_t fz_sink;

/* Touches every byte an answer claims to hold (ASan checks the bounds). */
static inline size_t
fz_walk_answer(const struct ma_answer *a)
{
	size_t sum = a->nrr + (size_t)a->status + a->ttl;

	for (size_t i = 0; i < a->nrr; i++) {
		const struct ma_rr *rr = &a->rr[i];
		switch (rr->type) {
		case MA_RR_A:
			sum += rr->u.a[0] + rr->u.a[3];
			break;
		case MA_RR_AAAA:
			sum += rr->u.aaaa[0] + rr->u.aaaa[15];
			break;
		case MA_RR_MX:
			sum += rr->u.mx.pref + strlen(rr->u.mx.host);
			break;
		case MA_RR_TXT:
		case MA_RR_SPF: {
			unsigned char buf[512];
			size_t tot = 0;
			for (size_t j = 0; j < rr->u.txt.nstr; j++) {
				const struct ma_txt_string *s = &rr->u.txt.str[j];
				for (size_t k = 0; k < s->len; k++)
					sum += s->data[k];
				tot += s->len;
			}
			FUZZ_REQUIRE(tot == rr->u.txt.total);
			FUZZ_REQUIRE(ma_txt_join(rr, buf, sizeof(buf)) == tot);
			break;
		}
		default:
			if (rr->u.name)
				sum += strlen(rr->u.name);
			break;
		}
	}
	return sum;
}

/* Checks the invariants of an outcome: strings terminated, result in range. */
static inline void
fz_check_outcome(const struct ma_spf_request *req, const struct ma_spf_outcome *o)
{
	char hdr[4096];

	FUZZ_REQUIRE((unsigned)o->result <= MA_SPF_PERMERROR);
	FUZZ_REQUIRE(memchr(o->domain, '\0', sizeof(o->domain)));
	FUZZ_REQUIRE(memchr(o->sender, '\0', sizeof(o->sender)));
	FUZZ_REQUIRE(memchr(o->mechanism, '\0', sizeof(o->mechanism)));
	FUZZ_REQUIRE(memchr(o->explanation, '\0', sizeof(o->explanation)));
	FUZZ_REQUIRE(memchr(o->reason, '\0', sizeof(o->reason)));
	FUZZ_REQUIRE(o->reason[0] != '\0');
	if (o->result != MA_SPF_FAIL)
		FUZZ_REQUIRE(o->explanation[0] == '\0');
	FUZZ_REQUIRE(strlen(ma_spf_result_name(o->result)) > 0);
	size_t n = ma_spf_received(req, o, hdr, sizeof(hdr));
	FUZZ_REQUIRE(strlen(hdr) < sizeof(hdr) && strlen(hdr) <= n);
	if (n < sizeof(hdr) - 1)
		FUZZ_REQUIRE(strlen(hdr) == n);
	/* A short buffer too: truncation must stay in bounds. */
	char small[16];
	ma_spf_received(req, o, small, sizeof(small));
	FUZZ_REQUIRE(strlen(small) < sizeof(small));
}

#endif
