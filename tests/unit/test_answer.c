/* Answers and the answer builder (core/dns.h): packing, copies, TTLs,
 * reference counts, static status answers, TXT joining, names. */
#include "dns.h"
#include "ut.h"

#include <string.h>

static void
t_builder_txt(void)
{
	unsigned char s1[] = { 'a', 0, 'b' }, s2[] = "second";
	struct ma_txt_string st[3] = { { s1, 3 }, { s2, 6 }, { (const unsigned char *)"", 0 } };
	struct ma_answer_builder *b = ma_ab_new(MA_RR_TXT);

	REQUIRE(b);
	ma_ab_add_txt(b, MA_RR_TXT, st, 3, 300);
	ma_ab_add_txt(b, MA_RR_TXT, st + 1, 1, 200);
	/* The builder copies: changing the source afterwards is harmless. */
	s1[0] = 'X';
	s2[0] = 'X';
	struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, true, 7);
	REQUIRE(a);
	CHECK_INT(a->status, MA_DNS_OK);
	CHECK_INT(a->qtype, MA_RR_TXT);
	CHECK(a->ad);
	CHECK_INT(a->refs, 1);
	CHECK_INT(a->ttl, 200);		/* the smallest TTL of the set */
	REQUIRE(a->nrr == 2);
	const struct ma_rr *r = &a->rr[0];
	CHECK_INT(r->type, MA_RR_TXT);
	CHECK_INT(r->ttl, 300);
	REQUIRE(r->u.txt.nstr == 3);
	CHECK_MEM(r->u.txt.str[0].data, r->u.txt.str[0].len, "a\0b", 3);
	CHECK_MEM(r->u.txt.str[1].data, r->u.txt.str[1].len, "second", 6);
	CHECK_INT(r->u.txt.str[2].len, 0);
	CHECK_INT(r->u.txt.total, 9);
	r = &a->rr[1];
	REQUIRE(r->u.txt.nstr == 1);
	CHECK_MEM(r->u.txt.str[0].data, r->u.txt.str[0].len, "second", 6);
	CHECK_INT(r->ttl, 200);
	ma_answer_unref(a);
}

static void
t_builder_types(void)
{
	static const unsigned char v4[4] = { 198, 51, 100, 1 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x42 };
	struct ma_answer_builder *b = ma_ab_new(MA_RR_A);

	REQUIRE(b);
	ma_ab_add_a(b, v4, 60);
	ma_ab_add_aaaa(b, v6, 61);
	ma_ab_add_mx(b, 10, "mx.example", 62);
	ma_ab_add_name(b, MA_RR_PTR, "ptr.example", 63);
	ma_ab_add_name(b, MA_RR_CNAME, "cname.example", 64);
	ma_ab_add_name(b, MA_RR_NS, "ns.example", 65);
	static const struct ma_txt_string sp = { (const unsigned char *)"v=spf1", 6 };
	ma_ab_add_txt(b, MA_RR_SPF, &sp, 1, 66);
	struct ma_answer *a = ma_ab_finish(b, MA_DNS_NXDOMAIN, false, 0);
	REQUIRE(a && a->nrr == 7);
	CHECK_INT(a->status, MA_DNS_OK);
	CHECK(!a->ad);
	CHECK_INT(a->ttl, 60);
	CHECK_INT(a->rr[0].type, MA_RR_A);
	CHECK_MEM(a->rr[0].u.a, 4, v4, 4);
	CHECK_INT(a->rr[1].type, MA_RR_AAAA);
	CHECK_MEM(a->rr[1].u.aaaa, 16, v6, 16);
	CHECK_INT(a->rr[2].type, MA_RR_MX);
	CHECK_INT(a->rr[2].u.mx.pref, 10);
	CHECK_STR(a->rr[2].u.mx.host, "mx.example");
	CHECK_STR(a->rr[3].u.name, "ptr.example");
	CHECK_INT(a->rr[4].type, MA_RR_CNAME);
	CHECK_STR(a->rr[4].u.name, "cname.example");
	CHECK_STR(a->rr[5].u.name, "ns.example");
	CHECK_INT(a->rr[6].type, MA_RR_SPF);
	CHECK_MEM(a->rr[6].u.txt.str[0].data, a->rr[6].u.txt.str[0].len, "v=spf1", 6);
	for (size_t i = 0; i < a->nrr; i++)
		CHECK_INT(a->rr[i].ttl, 60 + i);
	ma_answer_unref(a);
}

static void
t_builder_empty(void)
{
	struct ma_answer *a = ma_ab_finish(ma_ab_new(MA_RR_MX), MA_DNS_NXDOMAIN, true, 77);

	REQUIRE(a);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	CHECK_INT(a->nrr, 0);
	CHECK_INT(a->ttl, 77);
	CHECK_INT(a->qtype, MA_RR_MX);
	CHECK(a->ad);
	CHECK_INT(a->refs, 1);
	ma_answer_unref(a);
	a = ma_ab_finish(ma_ab_new(MA_RR_TXT), MA_DNS_NODATA, false, 0);
	REQUIRE(a);
	CHECK_INT(a->status, MA_DNS_NODATA);
	CHECK_INT(a->ttl, 0);
	ma_answer_unref(a);
	/* A builder that could not be allocated finishes as NULL. */
	CHECK(ma_ab_finish(NULL, MA_DNS_NODATA, false, 0) == NULL);
	/* Adding to a NULL builder is harmless; so is freeing one. */
	static const unsigned char v4[4] = { 1, 2, 3, 4 };
	ma_ab_add_a(NULL, v4, 1);
	ma_ab_free(NULL);
	/* An abandoned builder frees its copies (checked under ASan). */
	struct ma_answer_builder *b = ma_ab_new(MA_RR_TXT);
	static const struct ma_txt_string st = { (const unsigned char *)"abc", 3 };
	ma_ab_add_txt(b, MA_RR_TXT, &st, 1, 1);
	ma_ab_add_mx(b, 1, "mx", 1);
	ma_ab_free(b);
}

static void
t_builder_many(void)
{
	/* Enough records to grow the builder several times, with TXT strings
	 * of every length 0..255: the packed layout must keep them all. */
	struct ma_answer_builder *b = ma_ab_new(MA_RR_TXT);
	unsigned char buf[256];

	REQUIRE(b);
	for (int i = 0; i < 256; i++) {
		memset(buf, i, sizeof(buf));
		struct ma_txt_string st[2] = { { buf, (size_t)i }, { buf, 1 } };
		ma_ab_add_txt(b, MA_RR_TXT, st, 2, (uint32_t)(1000 - i));
	}
	struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
	REQUIRE(a && a->nrr == 256);
	CHECK_INT(a->ttl, 1000 - 255);
	int bad = 0;
	for (int i = 0; i < 256; i++) {
		const struct ma_rr *r = &a->rr[i];
		if (r->u.txt.nstr != 2 || r->u.txt.str[0].len != (size_t)i ||
		    r->u.txt.str[1].len != 1 || r->u.txt.total != (size_t)i + 1)
			bad++;
		else
			for (int j = 0; j < i; j++)
				if (r->u.txt.str[0].data[j] != (unsigned char)i)
					bad++;
	}
	CHECK_INT(bad, 0);
	ma_answer_unref(a);
}

static void
t_refcount(void)
{
	struct ma_answer *a = ma_ab_finish(ma_ab_new(MA_RR_A), MA_DNS_NODATA, false, 5);

	REQUIRE(a);
	CHECK(ma_answer_ref(a) == a);
	CHECK_INT(a->refs, 2);
	ma_answer_unref(a);
	CHECK_INT(a->refs, 1);
	ma_answer_unref(a);	/* freed: ASan would flag a leak otherwise */
	CHECK(ma_answer_ref(NULL) == NULL);
	ma_answer_unref(NULL);
}

static void
t_static_answers(void)
{
	static const enum ma_dns_status all[] = {
		MA_DNS_OK, MA_DNS_NODATA, MA_DNS_NXDOMAIN, MA_DNS_SERVFAIL,
		MA_DNS_TIMEOUT, MA_DNS_ERROR, MA_DNS_LIMIT,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct ma_answer *a = ma_answer_status(all[i]);
		REQUIRE(a);
		CHECK_INT(a->status, all[i]);
		CHECK(a->refs < 0);
		CHECK_INT(a->nrr, 0);
		CHECK(a == ma_answer_status(all[i]));
		/* Never freed, whatever the count of unrefs. */
		ma_answer_ref(a);
		for (int k = 0; k < 3; k++)
			ma_answer_unref(a);
		CHECK(a->refs < 0);
		CHECK_INT(a->status, all[i]);
	}
	CHECK_INT(ma_answer_status((enum ma_dns_status)99)->status, MA_DNS_ERROR);
	CHECK_INT(ma_answer_status((enum ma_dns_status)-1)->status, MA_DNS_ERROR);
}

static void
t_txt_join(void)
{
	struct ma_txt_string st[3] = {
		{ (const unsigned char *)"v=spf1 ", 7 },
		{ (const unsigned char *)"a\0b", 3 },
		{ (const unsigned char *)" -all", 5 },
	};
	struct ma_answer_builder *b = ma_ab_new(MA_RR_TXT);
	unsigned char buf[32];

	ma_ab_add_txt(b, MA_RR_TXT, st, 3, 1);
	struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
	REQUIRE(a && a->nrr == 1);
	CHECK_INT(ma_txt_join(&a->rr[0], buf, sizeof(buf)), 15);
	CHECK_MEM(buf, 15, "v=spf1 a\0b -all", 15);
	/* A short buffer gets a prefix; the full length is still returned. */
	memset(buf, '#', sizeof(buf));
	CHECK_INT(ma_txt_join(&a->rr[0], buf, 9), 15);
	CHECK_MEM(buf, 10, "v=spf1 a\0#", 10);
	CHECK_INT(ma_txt_join(&a->rr[0], NULL, 0), 15);
	ma_answer_unref(a);
}

static void
t_names_of_things(void)
{
	CHECK_STR(ma_dns_status_name(MA_DNS_OK), "ok");
	CHECK_STR(ma_dns_status_name(MA_DNS_NODATA), "nodata");
	CHECK_STR(ma_dns_status_name(MA_DNS_NXDOMAIN), "nxdomain");
	CHECK_STR(ma_dns_status_name(MA_DNS_SERVFAIL), "servfail");
	CHECK_STR(ma_dns_status_name(MA_DNS_TIMEOUT), "timeout");
	CHECK_STR(ma_dns_status_name(MA_DNS_ERROR), "error");
	CHECK_STR(ma_dns_status_name(MA_DNS_LIMIT), "limit");
	CHECK_STR(ma_rrtype_name(MA_RR_TXT), "TXT");
	CHECK_STR(ma_rrtype_name(MA_RR_AAAA), "AAAA");
	CHECK_STR(ma_rrtype_name(MA_RR_SPF), "SPF");
	CHECK_STR(ma_rrtype_name(255), "TYPE?");
	CHECK_INT(ma_rrtype_from_name("txt", 3), MA_RR_TXT);
	CHECK_INT(ma_rrtype_from_name("Mx", 2), MA_RR_MX);
	CHECK_INT(ma_rrtype_from_name("PTRX", 3), MA_RR_PTR);	/* length-bounded */
	CHECK_INT(ma_rrtype_from_name("PTRX", 4), 0);
	CHECK_INT(ma_rrtype_from_name("SRV", 3), 0);
	CHECK_INT(ma_rrtype_from_name("", 0), 0);
}

static bool
norm(const char *in, char out[MA_DNS_NAME_MAX])
{
	return ma_dns_name_normalize(in, strlen(in), out);
}

static void
t_name_normalize(void)
{
	char out[MA_DNS_NAME_MAX], in[400];

	REQUIRE(norm("Example.COM.", out));
	CHECK_STR(out, "example.com");
	REQUIRE(norm("a", out));
	CHECK_STR(out, "a");
	REQUIRE(norm("_dmarc.Example.org", out));
	CHECK_STR(out, "_dmarc.example.org");
	static const char *const bad[] = { "", ".", "..", "a..b", ".a", "a..", "a.b.." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!norm(bad[i], out));
	CHECK(!ma_dns_name_normalize("a\0b", 3, out));
	/* Label limit 63. */
	memset(in, 'x', 63);
	strcpy(in + 63, ".test");
	CHECK(norm(in, out));
	memset(in, 'x', 64);
	strcpy(in + 64, ".test");
	CHECK(!norm(in, out));
	/* Total limit 253 (plus one optional trailing dot). */
	size_t o = 0;
	for (int i = 0; i < 4; i++) {	/* 4 x 63 + 3 dots = 255: too long */
		memset(in + o, 'a' + i, 63);
		o += 63;
		in[o++] = '.';
	}
	in[--o] = '\0';
	CHECK_INT(strlen(in), 255);
	CHECK(!norm(in, out));
	in[253] = '\0';			/* 253: the largest usable */
	CHECK(norm(in, out));
	CHECK_INT(strlen(out), 253);
	in[253] = '.';
	in[254] = '\0';			/* 253 plus the root dot */
	CHECK(norm(in, out));
	CHECK_INT(strlen(out), 253);
	/* The length bounds the input. */
	CHECK(ma_dns_name_normalize("abc.def", 3, out));
	CHECK_STR(out, "abc");
}

/* A response to "x.org" type T with one answer record of rdata rd. */
static size_t
wire(unsigned char *buf, uint16_t type, const unsigned char *rd, uint16_t rdlen, uint16_t declared)
{
	static const unsigned char head[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,		/* NOERROR, 1 question, 1 answer */
		1, 'x', 3, 'o', 'r', 'g', 0,					/* x.org */
	};
	size_t n = 0;

	memcpy(buf, head, sizeof(head));
	n = sizeof(head);
	buf[n++] = (unsigned char)(type >> 8);
	buf[n++] = (unsigned char)type;
	buf[n++] = 0;
	buf[n++] = 1;						/* IN */
	buf[n++] = 0xc0;
	buf[n++] = 12;						/* the name: x.org */
	buf[n++] = (unsigned char)(type >> 8);
	buf[n++] = (unsigned char)type;
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 0x0e;
	buf[n++] = 0x10;					/* TTL 3600 */
	buf[n++] = (unsigned char)(declared >> 8);
	buf[n++] = (unsigned char)declared;
	memcpy(buf + n, rd, rdlen);
	return n + rdlen;
}

static void
t_wire(void)
{
	unsigned char buf[512];
	struct ma_answer *a;

	/* MX 10 x.org (compressed), and TXT of two strings. */
	static const unsigned char mx[] = { 0, 10, 0xc0, 12 };
	a = ma_dns_wire_answer(buf, wire(buf, MA_RR_MX, mx, 4, 4), MA_RR_MX);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].u.mx.pref, 10);
	CHECK_STR(a->rr[0].u.mx.host, "x.org");
	CHECK_INT(a->ttl, 3600);
	ma_answer_unref(a);
	static const unsigned char txt[] = { 3, 'a', 'b', 'c', 0 };
	a = ma_dns_wire_answer(buf, wire(buf, MA_RR_TXT, txt, 5, 5), MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1 && a->rr[0].u.txt.nstr == 2);
	CHECK_INT(a->rr[0].u.txt.total, 3);
	ma_answer_unref(a);
	/* Asked for A: the MX record is not an answer. */
	a = ma_dns_wire_answer(buf, wire(buf, MA_RR_MX, mx, 4, 4), MA_RR_A);
	CHECK_INT(a->status, MA_DNS_NODATA);
	ma_answer_unref(a);

	/* Malformed: an MX whose name runs past its rdata into what follows,
	 * a PTR with bytes after its name, rdata longer than the message, a
	 * TXT string longer than its rdata, an A of 5 octets, a short header. */
	static const unsigned char mx_long[] = { 0, 10, 1, 'x' };	/* "x" with no end in the rdata */
	static const unsigned char mx_tail[] = { 0, 10, 0, 0, 0 };	/* "." then a stray octet */
	static const unsigned char ptr_tail[] = { 0xc0, 12, 7 };
	static const unsigned char txt_over[] = { 9, 'a' };
	static const unsigned char a5[] = { 192, 0, 2, 1, 9 };
	struct { uint16_t type; const unsigned char *rd; uint16_t len, declared; } bad[] = {
		{ MA_RR_MX, mx_long, 4, 4 },
		{ MA_RR_MX, mx_tail, 5, 5 },
		{ MA_RR_PTR, ptr_tail, 3, 3 },
		{ MA_RR_MX, mx, 4, 40 },
		{ MA_RR_TXT, txt_over, 2, 2 },
		{ MA_RR_A, a5, 5, 5 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = wire(buf, bad[i].type, bad[i].rd, bad[i].len, bad[i].declared);
		if (i == 0)
			buf[n++] = 0;	/* the name would end here, outside the rdata */
		a = ma_dns_wire_answer(buf, n, bad[i].type);
		CHECK_INT(a->status, MA_DNS_ERROR);
		CHECK_INT(a->nrr, 0);
		ma_answer_unref(a);
	}
	a = ma_dns_wire_answer(buf, 11, MA_RR_A);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	/* rcodes, with the answer section empty: NXDOMAIN, SERVFAIL, REFUSED. */
	size_t n = wire(buf, MA_RR_MX, mx, 4, 4);
	buf[7] = 0;
	buf[3] = 0x83;
	a = ma_dns_wire_answer(buf, n, MA_RR_MX);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	ma_answer_unref(a);
	buf[3] = 0x82;
	a = ma_dns_wire_answer(buf, n, MA_RR_MX);
	CHECK_INT(a->status, MA_DNS_SERVFAIL);
	ma_answer_unref(a);
	buf[3] = 0x85;
	a = ma_dns_wire_answer(buf, n, MA_RR_MX);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
}

int
main(void)
{
	RUN(t_builder_txt);
	RUN(t_builder_types);
	RUN(t_builder_empty);
	RUN(t_builder_many);
	RUN(t_refcount);
	RUN(t_static_answers);
	RUN(t_txt_join);
	RUN(t_names_of_things);
	RUN(t_name_normalize);
	RUN(t_wire);
	return UT_END();
}
