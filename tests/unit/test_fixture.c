/* The fixture backend and its JSON loader (core/resolver_fixture.c,
 * core/fixture_json.c). */
#include "resolver.h"
#include "ut.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define JSON(...) #__VA_ARGS__

static struct ma_resolver *
load(const char *json, char *err, size_t errlen)
{
	struct ma_fixture *f = ma_fixture_new();

	if (f == NULL)
		return NULL;
	if (!ma_fixture_load_json(f, json, strlen(json), err, errlen)) {
		printf("    load failed: %s\n", err);
		ma_fixture_free(f);
		return NULL;
	}
	return ma_resolver_new_fixture(f);
}

static struct ma_answer *
ask(struct ma_resolver *r, const char *name, uint16_t type)
{
	return ma_resolve1(r, NULL, name, type);
}

static int
status_of(struct ma_resolver *r, const char *name, uint16_t type)
{
	struct ma_answer *a = ask(r, name, type);
	int st = (int)a->status;

	ma_answer_unref(a);
	return st;
}

/* True when TXT record rr holds exactly the given strings. */
static bool
txt_is(const struct ma_rr *rr, size_t n, const char *const *s, const size_t *len)
{
	size_t total = 0;

	if (rr->type != MA_RR_TXT && rr->type != MA_RR_SPF)
		return false;
	if (rr->u.txt.nstr != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t l = len ? len[i] : strlen(s[i]);
		if (rr->u.txt.str[i].len != l || memcmp(rr->u.txt.str[i].data, s[i], l) != 0)
			return false;
		total += l;
	}
	return rr->u.txt.total == total;
}

static bool
txt1(const struct ma_rr *rr, const char *s)
{
	return txt_is(rr, 1, &s, NULL);
}

/* ---- the suite shape: {name: [{TYPE: value}, "TIMEOUT", ...]} ---- */

static const char suite_json[] = JSON({
	"example.com": [
		{"TXT": "v=spf1 -all"},
		{"MX": [10, "mx.example.com"]},
		{"A": "192.0.2.1"},
		{"AAAA": "2001:db8::1"}
	],
	"multi.example.com": [{"TXT": ["part one", "part two"]}],
	"two.example.com": [{"TXT": "rec1"}, {"TXT": "rec2"}],
	"timeout.example.com": ["TIMEOUT"],
	"mixed.example.com": [{"A": "192.0.2.2"}, "TIMEOUT"],
	"servfail.example.com": ["SERVFAIL"],
	"empty.example.com": [],
	"spfonly.example.com": [{"SPF": "v=spf1 a -all"}],
	"spfboth.example.com": [{"SPF": "v=spf1 from-spf"}, {"TXT": "v=spf1 from-txt"}],
	"spfnone.example.com": [{"SPF": "v=spf1 c"}, {"TXT": "NONE"}],
	"spfmulti.example.com": [{"SPF": ["v=spf1 ", "split"]}, {"SPF": "second"}],
	"nul.example.com": [{"TXT": "a\u0000b"}],
	"ptr.example.com": [{"PTR": "example.com."}],
	"UPPER.Example.COM": [{"A": "192.0.2.3"}]
});

static void
t_suite_shape_basic(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));

	REQUIRE(r);
	CHECK_STR(ma_resolver_backend(r), "fixture");
	struct ma_answer *a = ask(r, "example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "v=spf1 -all"));
	CHECK_INT(a->rr[0].ttl, 3600);
	ma_answer_unref(a);

	a = ask(r, "example.com", MA_RR_MX);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.mx.pref, 10);
	CHECK_STR(a->rr[0].u.mx.host, "mx.example.com");
	ma_answer_unref(a);

	a = ask(r, "example.com", MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_MEM(a->rr[0].u.a, 4, "\xc0\x00\x02\x01", 4);
	ma_answer_unref(a);

	a = ask(r, "EXAMPLE.com.", MA_RR_AAAA);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_MEM(a->rr[0].u.aaaa, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	ma_answer_unref(a);

	a = ask(r, "ptr.example.com", MA_RR_PTR);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_STR(a->rr[0].u.name, "example.com");	/* trailing dot dropped */
	ma_answer_unref(a);

	/* Names are case-insensitive both ways. */
	CHECK_INT(status_of(r, "upper.example.com", MA_RR_A), MA_DNS_OK);
	ma_resolver_free(r);
}

static void
t_nxdomain_vs_nodata(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "example.com", MA_RR_PTR), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "example.com", MA_RR_SPF), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "empty.example.com", MA_RR_A), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "empty.example.com", MA_RR_TXT), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "absent.example.com", MA_RR_TXT), MA_DNS_NXDOMAIN);
	CHECK_INT(status_of(r, "com", MA_RR_TXT), MA_DNS_NXDOMAIN);
	CHECK_INT(status_of(r, "sub.example.com", MA_RR_A), MA_DNS_NXDOMAIN);
	ma_resolver_free(r);
}

static void
t_multiple_strings_kept_separate(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));
	static const char *const parts[] = { "part one", "part two" };

	REQUIRE(r);
	struct ma_answer *a = ask(r, "multi.example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK);
	CHECK_INT(a->nrr, 1);	/* one record of two strings */
	CHECK(txt_is(&a->rr[0], 2, parts, NULL));
	unsigned char buf[64];
	CHECK_INT(ma_txt_join(&a->rr[0], buf, sizeof(buf)), 16);
	CHECK_MEM(buf, 16, "part onepart two", 16);
	ma_answer_unref(a);

	a = ask(r, "two.example.com", MA_RR_TXT);	/* two records */
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	CHECK(txt1(&a->rr[0], "rec1") || txt1(&a->rr[1], "rec1"));
	CHECK(txt1(&a->rr[0], "rec2") || txt1(&a->rr[1], "rec2"));
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_timeout_and_servfail(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "timeout.example.com", MA_RR_A), MA_DNS_TIMEOUT);
	CHECK_INT(status_of(r, "timeout.example.com", MA_RR_TXT), MA_DNS_TIMEOUT);
	/* TIMEOUT applies to the types the name lacks. */
	CHECK_INT(status_of(r, "mixed.example.com", MA_RR_A), MA_DNS_OK);
	CHECK_INT(status_of(r, "mixed.example.com", MA_RR_TXT), MA_DNS_TIMEOUT);
	CHECK_INT(status_of(r, "servfail.example.com", MA_RR_MX), MA_DNS_SERVFAIL);
	ma_resolver_free(r);
}

static void
t_spf_txt_duplication(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));
	static const char *const split[] = { "v=spf1 ", "split" };

	REQUIRE(r);
	/* SPF only: the TXT lookup sees the SPF records. */
	struct ma_answer *a = ask(r, "spfonly.example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->qtype, MA_RR_TXT);
	CHECK_INT(a->rr[0].type, MA_RR_TXT);
	CHECK(txt1(&a->rr[0], "v=spf1 a -all"));
	ma_answer_unref(a);
	a = ask(r, "spfonly.example.com", MA_RR_SPF);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].type, MA_RR_SPF);
	CHECK(txt1(&a->rr[0], "v=spf1 a -all"));
	ma_answer_unref(a);

	/* A TXT entry of its own wins. */
	a = ask(r, "spfboth.example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "v=spf1 from-txt"));
	ma_answer_unref(a);
	a = ask(r, "spfboth.example.com", MA_RR_SPF);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "v=spf1 from-spf"));
	ma_answer_unref(a);

	/* "TXT": "NONE" is a TXT entry: no duplication, NODATA. */
	CHECK_INT(status_of(r, "spfnone.example.com", MA_RR_TXT), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "spfnone.example.com", MA_RR_SPF), MA_DNS_OK);

	/* Every SPF record is copied, strings kept apart. */
	a = ask(r, "spfmulti.example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	const struct ma_rr *r1 = &a->rr[0], *r2 = &a->rr[1];
	if (r1->u.txt.nstr != 2) {
		const struct ma_rr *t = r1;
		r1 = r2;
		r2 = t;
	}
	CHECK(txt_is(r1, 2, split, NULL));
	CHECK(txt1(r2, "second"));
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_txt_nul_bytes(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(suite_json, err, sizeof(err));

	REQUIRE(r);
	struct ma_answer *a = ask(r, "nul.example.com", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1 && a->rr[0].u.txt.nstr == 1);
	CHECK_MEM(a->rr[0].u.txt.str[0].data, a->rr[0].u.txt.str[0].len, "a\0b", 3);
	CHECK_INT(a->rr[0].u.txt.total, 3);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

/* ---- the corpus shape: {name: {TYPE: [values]}} ---- */

static const char corpus_json[] = JSON({
	"example.org": {
		"TXT": ["v=spf1 ip4:192.0.2.0/24 -all", ["long part 1", "long part 2"]],
		"MX": [[10, "mx1.example.org"], [20, "mx2.example.org."]],
		"A": ["192.0.2.10", "192.0.2.11"],
		"AAAA": ["2001:db8::10"]
	},
	"10.2.0.192.in-addr.arpa": {"PTR": ["example.org."]},
	"single.example.org": {"A": "192.0.2.99", "MX": [5, "mx.single.example.org"]},
	"nul.example.org": {"TXT": ["x\u0000y\u0000", "\u0000", ["\u0000\u0000", "", "z"]]},
	"octets.example.org": {"TXT": ["caf\u00e9", "\u20ac", "\u00e9\u20ac", "\u00ff\u0080"]},
	"empty.example.org": {},
	"notxt.example.org": {"TXT": []},
	"timeout.example.org": "TIMEOUT",
	"servfail.example.org": "SERVFAIL",
	"spf.example.org": {"SPF": ["v=spf1 -all"]},
	"alias.example.org": {"CNAME": "example.org"},
	"alias2.example.org": {"CNAME": "alias.example.org."},
	"loop1.example.org": {"CNAME": "loop2.example.org"},
	"loop2.example.org": {"CNAME": "loop1.example.org"},
	"self.example.org": {"CNAME": "self.example.org"},
	"dangling.example.org": {"CNAME": "nowhere.example.org"},
	"c1.example.org": {"CNAME": "c2.example.org"},
	"c2.example.org": {"CNAME": "c3.example.org"},
	"c3.example.org": {"CNAME": "c4.example.org"},
	"c4.example.org": {"CNAME": "c5.example.org"},
	"c5.example.org": {"CNAME": "c6.example.org"},
	"c6.example.org": {"CNAME": "c7.example.org"},
	"c7.example.org": {"CNAME": "c8.example.org"},
	"c8.example.org": {"CNAME": "c9.example.org"},
	"c9.example.org": {"CNAME": "c10.example.org"},
	"c10.example.org": {"A": "192.0.2.100"},
	"to-timeout.example.org": {"CNAME": "timeout.example.org"}
});

static void
t_corpus_shape_basic(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));
	static const char *const two[] = { "long part 1", "long part 2" };

	REQUIRE(r);
	struct ma_answer *a = ask(r, "example.org", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	/* A list of records; a nested list is one record of several strings. */
	const struct ma_rr *one = &a->rr[0], *multi = &a->rr[1];
	if (one->u.txt.nstr != 1) {
		one = &a->rr[1];
		multi = &a->rr[0];
	}
	CHECK(txt1(one, "v=spf1 ip4:192.0.2.0/24 -all"));
	CHECK(txt_is(multi, 2, two, NULL));
	ma_answer_unref(a);

	a = ask(r, "example.org", MA_RR_MX);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ma_rr *rr = &a->rr[i];
		if (rr->u.mx.pref == 10)
			CHECK_STR(rr->u.mx.host, "mx1.example.org");
		else {
			CHECK_INT(rr->u.mx.pref, 20);
			CHECK_STR(rr->u.mx.host, "mx2.example.org");
		}
	}
	ma_answer_unref(a);

	a = ask(r, "example.org", MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	CHECK(a->rr[0].u.a[3] + a->rr[1].u.a[3] == 21);
	ma_answer_unref(a);

	a = ask(r, "example.org", MA_RR_AAAA);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.aaaa[15], 0x10);
	ma_answer_unref(a);

	a = ask(r, "10.2.0.192.in-addr.arpa", MA_RR_PTR);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_STR(a->rr[0].u.name, "example.org");
	ma_answer_unref(a);

	/* Single values without the list. */
	a = ask(r, "single.example.org", MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.a[3], 99);
	ma_answer_unref(a);
	a = ask(r, "single.example.org", MA_RR_MX);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.mx.pref, 5);
	ma_answer_unref(a);

	/* The SPF-to-TXT rule holds in this shape too. */
	a = ask(r, "spf.example.org", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "v=spf1 -all"));
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_corpus_negative_and_failures(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "empty.example.org", MA_RR_A), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "notxt.example.org", MA_RR_TXT), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "example.org", MA_RR_PTR), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "missing.example.org", MA_RR_A), MA_DNS_NXDOMAIN);
	CHECK_INT(status_of(r, "timeout.example.org", MA_RR_TXT), MA_DNS_TIMEOUT);
	CHECK_INT(status_of(r, "servfail.example.org", MA_RR_TXT), MA_DNS_SERVFAIL);
	ma_resolver_free(r);
}

static void
t_corpus_nul_and_octets(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));

	REQUIRE(r);
	struct ma_answer *a = ask(r, "nul.example.org", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 3);
	int seen = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		const struct ma_rr *rr = &a->rr[i];
		static const char *const s4[] = { "x\0y\0" }, *const s1[] = { "\0" },
		    *const s3[] = { "\0\0", "", "z" };
		static const size_t l4[] = { 4 }, l1[] = { 1 }, l3[] = { 2, 0, 1 };
		if (txt_is(rr, 1, s4, l4))
			seen |= 1;
		else if (txt_is(rr, 1, s1, l1))
			seen |= 2;
		else if (txt_is(rr, 3, s3, l3))
			seen |= 4;
	}
	CHECK_INT(seen, 7);
	ma_answer_unref(a);

	/* Code points up to U+00FF are octets; otherwise the string stays UTF-8. */
	a = ask(r, "octets.example.org", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 4);
	seen = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		const struct ma_rr *rr = &a->rr[i];
		static const char *const e1[] = { "caf\xe9" }, *const e2[] = { "\xe2\x82\xac" },
		    *const e3[] = { "\xc3\xa9\xe2\x82\xac" }, *const e4[] = { "\xff\x80" };
		if (txt_is(rr, 1, e1, NULL))
			seen |= 1;
		else if (txt_is(rr, 1, e2, NULL))
			seen |= 2;
		else if (txt_is(rr, 1, e3, NULL))
			seen |= 4;
		else if (txt_is(rr, 1, e4, NULL))
			seen |= 8;
	}
	CHECK_INT(seen, 15);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_cname_following(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));

	REQUIRE(r);
	struct ma_answer *a = ask(r, "alias.example.org", MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	CHECK_INT(a->rr[0].type, MA_RR_A);
	ma_answer_unref(a);
	/* Two hops, trailing dot on the target. */
	a = ask(r, "alias2.example.org", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_OK);
	CHECK_INT(a->nrr, 2);
	ma_answer_unref(a);
	/* Asking for the CNAME itself gives the CNAME. */
	a = ask(r, "alias.example.org", MA_RR_CNAME);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].type, MA_RR_CNAME);
	CHECK_STR(a->rr[0].u.name, "example.org");
	ma_answer_unref(a);
	/* The target's negative status comes through. */
	CHECK_INT(status_of(r, "alias.example.org", MA_RR_PTR), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "dangling.example.org", MA_RR_A), MA_DNS_NXDOMAIN);
	CHECK_INT(status_of(r, "to-timeout.example.org", MA_RR_A), MA_DNS_TIMEOUT);
	/* A chain of 8 CNAMEs (c2 .. c9) is still followed. */
	a = ask(r, "c2.example.org", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_OK);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_cname_loop_servfail(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "loop1.example.org", MA_RR_A), MA_DNS_SERVFAIL);
	CHECK_INT(status_of(r, "loop2.example.org", MA_RR_TXT), MA_DNS_SERVFAIL);
	CHECK_INT(status_of(r, "self.example.org", MA_RR_A), MA_DNS_SERVFAIL);
	/* The CNAME itself is still there. */
	CHECK_INT(status_of(r, "loop1.example.org", MA_RR_CNAME), MA_DNS_OK);
	ma_resolver_free(r);
}

static void
t_cname_target_case(void)
{
	/* DNS names compare case-insensitively, CNAME targets included. */
	static const char js[] = JSON({
		"example.net": {"A": ["192.0.2.50"]},
		"mixed.example.net": {"CNAME": "Example.NET."}
	});
	char err[256] = "";
	struct ma_resolver *r = load(js, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "mixed.example.net", MA_RR_A), MA_DNS_OK);
	ma_resolver_free(r);
}

static void
t_zonedata_key(void)
{
	static const char js[] = JSON({
		"description": "a suite scenario",
		"zonedata": {"scenario.example": [{"TXT": "in scenario"}]}
	});
	char err[256] = "";
	struct ma_resolver *r = load(js, err, sizeof(err));

	REQUIRE(r);
	struct ma_answer *a = ask(r, "scenario.example", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "in scenario"));
	ma_answer_unref(a);
	CHECK_INT(status_of(r, "description", MA_RR_TXT), MA_DNS_NXDOMAIN);
	ma_resolver_free(r);
}

static void
t_unusable_names_skipped(void)
{
	/* A 64-octet label cannot be asked for: skipped, the rest loads. */
	static const char js[] = JSON({
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example": [{"A": "192.0.2.1"}],
		"ok.example": [{"A": "192.0.2.2"}]
	});
	char err[256] = "";
	struct ma_resolver *r = load(js, err, sizeof(err));

	REQUIRE(r);
	CHECK_INT(status_of(r, "ok.example", MA_RR_A), MA_DNS_OK);
	ma_resolver_free(r);
}

static void
t_malformed_json(void)
{
	static const char *const bad[] = {
		"{",						/* syntax */
		"",						/* empty */
		"[1, 2]",					/* top level not an object */
		"{\"zonedata\": [1]}",
		"{\"a.example\": 5}",				/* records not a list */
		"{\"a.example\": [{\"MX\": [10]}]}",		/* MX shape */
		"{\"a.example\": [{\"MX\": [70000, \"mx\"]}]}",
		"{\"a.example\": [{\"A\": \"999.0.0.1\"}]}",
		"{\"a.example\": [{\"A\": \"192.0.2.01\"}]}",
		"{\"a.example\": [{\"AAAA\": \"2001:db8::g\"}]}",
		"{\"a.example\": [{\"A\": 1}]}",
		"{\"a.example\": [{\"TXT\": 12}]}",
		"{\"a.example\": [{\"TXT\": [\"ok\", 1]}]}",
		"{\"a.example\": [{\"SRV\": \"0 0 25 mx\"}]}",	/* unsupported type */
		"{\"a.example\": [\"BOGUS\"]}",			/* unknown record string */
		"{\"a.example\": [{\"A\": \"192.0.2.1\", \"TXT\": \"x\"}]}",	/* two keys */
		"{\"a.example\": [], \"a.example\": []}",	/* duplicate key */
		"{\"a.example\": \"NOPE\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ma_fixture *f = ma_fixture_new();
		char err[256] = "";
		REQUIRE(f);
		bool ok = ma_fixture_load_json(f, bad[i], strlen(bad[i]), err, sizeof(err));
		if (ok || err[0] == '\0')
			printf("    input %zu (%s): ok=%d err=\"%s\"\n", i, bad[i], ok, err);
		CHECK(!ok);
		CHECK(err[0] != '\0');
		ma_fixture_free(f);
	}
	/* The message names the problem's place. */
	struct ma_fixture *f = ma_fixture_new();
	char err[256] = "";
	static const char js[] = "{\"mx.example\": [{\"MX\": [10]}]}";
	CHECK(!ma_fixture_load_json(f, js, strlen(js), err, sizeof(err)));
	CHECK(strstr(err, "mx.example") != NULL);
	ma_fixture_free(f);
	f = ma_fixture_new();
	static const char js2[] = "{\n\"x\": [\n";
	CHECK(!ma_fixture_load_json(f, js2, strlen(js2), err, sizeof(err)));
	CHECK(strstr(err, "line") != NULL);
	ma_fixture_free(f);
}

static void
t_load_file(void)
{
	char path[] = "/tmp/mailauth-ut-fixture-XXXXXX";
	int fd = mkstemp(path);
	char err[256] = "";

	REQUIRE(fd >= 0);
	static const char js[] = JSON({"file.example": {"TXT": ["from file"]}});
	CHECK_INT(write(fd, js, strlen(js)), (long long)strlen(js));
	close(fd);
	struct ma_fixture *f = ma_fixture_new();
	REQUIRE(f);
	CHECK(ma_fixture_load_file(f, path, err, sizeof(err)));
	unlink(path);
	struct ma_resolver *r = ma_resolver_new_fixture(f);
	REQUIRE(r);
	struct ma_answer *a = ask(r, "file.example", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(txt1(&a->rr[0], "from file"));
	ma_answer_unref(a);
	ma_resolver_free(r);

	f = ma_fixture_new();
	err[0] = '\0';
	CHECK(!ma_fixture_load_file(f, "/nonexistent/mailauth/zone.json", err, sizeof(err)));
	CHECK(err[0] != '\0');
	ma_fixture_free(f);
}

static void
t_api_and_seal(void)
{
	struct ma_fixture *f = ma_fixture_new();
	static const unsigned char bin[] = { 0, 'a', 0 };
	struct ma_txt_string st[2] = { { bin, 3 }, { (const unsigned char *)"", 0 } };

	REQUIRE(f);
	CHECK(ma_fixture_add_a(f, "api.test", "192.0.2.7"));
	CHECK(!ma_fixture_add_a(f, "api.test", "192.0.2"));
	CHECK(!ma_fixture_add_a(f, "bad..name", "192.0.2.7"));
	CHECK(ma_fixture_add_aaaa(f, "api.test", "::1"));
	CHECK(!ma_fixture_add_aaaa(f, "api.test", "1.2.3.4"));
	CHECK(ma_fixture_add_mx(f, "api.test", 0, "mx.api.test."));
	CHECK(!ma_fixture_add_mx(f, "api.test", 65536, "mx.api.test"));
	CHECK(ma_fixture_add_txt(f, "api.test", MA_RR_TXT, st, 2));
	CHECK(!ma_fixture_add_txt(f, "api.test", MA_RR_MX, st, 2));
	CHECK(ma_fixture_add_name(f, "7.2.0.192.in-addr.arpa", MA_RR_PTR, "api.test."));
	CHECK(ma_fixture_add_empty(f, "empty.api.test"));
	CHECK(ma_fixture_set_timeout(f, "slow.api.test"));
	CHECK(ma_fixture_set_servfail(f, "broken.api.test"));
	ma_fixture_seal(f);
	ma_fixture_seal(f);	/* idempotent */
	/* No adds after sealing. */
	CHECK(!ma_fixture_add_a(f, "late.test", "192.0.2.8"));
	CHECK(!ma_fixture_add_empty(f, "late.test"));
	struct ma_resolver *r = ma_resolver_new_fixture(f);
	REQUIRE(r);
	CHECK_INT(status_of(r, "late.test", MA_RR_A), MA_DNS_NXDOMAIN);
	struct ma_answer *a = ask(r, "api.test", MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1 && a->rr[0].u.txt.nstr == 2);
	CHECK_MEM(a->rr[0].u.txt.str[0].data, a->rr[0].u.txt.str[0].len, bin, 3);
	CHECK_INT(a->rr[0].u.txt.str[1].len, 0);
	ma_answer_unref(a);
	a = ask(r, "api.test", MA_RR_MX);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.mx.pref, 0);
	CHECK_STR(a->rr[0].u.mx.host, "mx.api.test");
	ma_answer_unref(a);
	CHECK_INT(status_of(r, "7.2.0.192.in-addr.arpa", MA_RR_PTR), MA_DNS_OK);
	CHECK_INT(status_of(r, "empty.api.test", MA_RR_A), MA_DNS_NODATA);
	CHECK_INT(status_of(r, "slow.api.test", MA_RR_A), MA_DNS_TIMEOUT);
	CHECK_INT(status_of(r, "broken.api.test", MA_RR_A), MA_DNS_SERVFAIL);
	ma_resolver_free(r);
	CHECK(ma_resolver_new_fixture(NULL) == NULL);
	ma_fixture_free(NULL);
}

/* Lookups from several threads on one fixture resolver. */
static void *
fixture_thread(void *arg)
{
	struct ma_resolver *r = arg;
	static const struct { const char *name; uint16_t type; int st; } want[] = {
		{ "example.org", MA_RR_TXT, MA_DNS_OK },
		{ "alias2.example.org", MA_RR_A, MA_DNS_OK },
		{ "loop1.example.org", MA_RR_A, MA_DNS_SERVFAIL },
		{ "missing.example.org", MA_RR_A, MA_DNS_NXDOMAIN },
		{ "empty.example.org", MA_RR_MX, MA_DNS_NODATA },
		{ "spf.example.org", MA_RR_TXT, MA_DNS_OK },
	};
	long bad = 0;

	for (int i = 0; i < 3000; i++) {
		size_t k = (size_t)i % (sizeof(want) / sizeof(want[0]));
		struct ma_answer *a = ask(r, want[k].name, want[k].type);
		if ((int)a->status != want[k].st)
			bad++;
		ma_answer_unref(a);
	}
	return (void *)bad;
}

static void
t_threads(void)
{
	char err[256] = "";
	struct ma_resolver *r = load(corpus_json, err, sizeof(err));
	pthread_t th[4];

	REQUIRE(r);
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&th[i], NULL, fixture_thread, r) == 0);
	for (int i = 0; i < 4; i++) {
		void *bad = NULL;
		pthread_join(th[i], &bad);
		CHECK_INT((long)bad, 0);
	}
	/* The shared answers' counts came back down. */
	struct ma_answer *a = ask(r, "example.org", MA_RR_TXT);
	CHECK_INT(a->refs, 2);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

int
main(void)
{
	RUN(t_suite_shape_basic);
	RUN(t_nxdomain_vs_nodata);
	RUN(t_multiple_strings_kept_separate);
	RUN(t_timeout_and_servfail);
	RUN(t_spf_txt_duplication);
	RUN(t_txt_nul_bytes);
	RUN(t_corpus_shape_basic);
	RUN(t_corpus_negative_and_failures);
	RUN(t_corpus_nul_and_octets);
	RUN(t_cname_following);
	RUN(t_cname_loop_servfail);
	RUN(t_cname_target_case);
	RUN(t_zonedata_key);
	RUN(t_unusable_names_skipped);
	RUN(t_malformed_json);
	RUN(t_load_file);
	RUN(t_api_and_seal);
	RUN(t_threads);
	return UT_END();
}
