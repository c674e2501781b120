/*
 * The network backend (c-ares) against a real authoritative server: knotd
 * on 127.0.0.1, started by run_knot.sh with the zones in this directory.
 *
 *   net_knot --print-big-txt        the big TXT's RDATA in zone-file syntax
 *   net_knot PORT [KNOTC_SOCKET]    run the tests
 *
 * With KNOTC_SOCKET, knotd's mod-stats counters (knotc stats) show that the
 * big TXT really came over TCP after a truncated UDP answer.
 */
#include "ip.h"
#include "resolver.h"
#include "util.h"
#include "ut.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ZONE	"mailauth.test"

static unsigned port;
static const char *knotc_sock;
static char servers[64];

/* ---- the big TXT: 8 strings of 255 octets and one of 37 (2077 octets) ---- */

#define BIG_NSTR	9
static unsigned char big[BIG_NSTR][255];
static size_t big_len[BIG_NSTR];

static void
make_big(void)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (int i = 0; i < BIG_NSTR; i++) {
		big_len[i] = i < BIG_NSTR - 1 ? 255 : 37;
		for (size_t j = 0; j < big_len[i]; j++)
			big[i][j] = (unsigned char)alpha[(i * 31 + j * 7 + j / 62) % 62];
	}
}

static size_t
big_total(void)
{
	size_t t = 0;

	for (int i = 0; i < BIG_NSTR; i++)
		t += big_len[i];
	return t;
}

/* ---- helpers ---- */

static struct ma_resolver *
net(unsigned edns, bool tcp)
{
	struct ma_net_opts o = {
		.servers = servers, .timeout_ms = 2000, .tries = 2, .edns_size = edns, .tcp = tcp,
	};
	char err[256] = "";
	struct ma_resolver *r = ma_resolver_new_net(&o, err, sizeof(err));

	if (r == NULL)
		printf("    ma_resolver_new_net(%s): %s\n", servers, err);
	return r;
}

static void
show(const char *what, const struct ma_answer *a)
{
	printf("    %s: %s, %zu records, ttl %u\n", what, ma_dns_status_name(a->status),
	    a->nrr, a->ttl);
}

/* The big TXT, string by string. */
static bool
is_big(const struct ma_answer *a)
{
	if (a->status != MA_DNS_OK || a->nrr != 1 || a->rr[0].type != MA_RR_TXT)
		return false;
	const struct ma_rr *rr = &a->rr[0];
	if (rr->u.txt.nstr != BIG_NSTR || rr->u.txt.total != big_total())
		return false;
	for (int i = 0; i < BIG_NSTR; i++)
		if (rr->u.txt.str[i].len != big_len[i] ||
		    memcmp(rr->u.txt.str[i].data, big[i], big_len[i]) != 0) {
			printf("    string %d differs (length %zu, expected %zu)\n", i,
			    rr->u.txt.str[i].len, big_len[i]);
			return false;
		}
	/* And joined, it is the 2077 octets in order. */
	unsigned char joined[4096], want[4096];
	size_t o = 0;
	for (int i = 0; i < BIG_NSTR; i++) {
		memcpy(want + o, big[i], big_len[i]);
		o += big_len[i];
	}
	return ma_txt_join(rr, joined, sizeof(joined)) == o && memcmp(joined, want, o) == 0;
}

/* knotd's count of TCP (IPv4) requests, from mod-stats; -1 when unknown. */
static long
knot_tcp_requests(void)
{
	char cmd[512], line[256];
	long n = 0;

	if (knotc_sock == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "knotc -s '%s' stats mod-stats.request-protocol 2>&1", knotc_sock);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	bool seen = false;
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "request-protocol"))
			seen = true;
		char *s = strstr(line, "[tcp4] = ");
		if (s)
			n = strtol(s + 9, NULL, 10);
	}
	if (pclose(p) != 0 && !seen)
		return -1;
	return n;
}

/* ---- tests ---- */

/* Sanity: knotd's UDP answer to the big TXT with a 1232-byte EDNS buffer
 * really is truncated, so the resolver has to fall back to TCP. */
static void
t_udp_answer_is_truncated(void)
{
	static const unsigned sizes[] = { 512, 1232 };

	for (size_t k = 0; k < 2; k++) {
		unsigned char *qbuf = NULL, resp[4096];
		int qlen = 0;
		REQUIRE(ares_create_query("big." ZONE, 1, MA_RR_TXT, 0x4d41, 0, &qbuf, &qlen,
		    (int)sizes[k]) == ARES_SUCCESS);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		REQUIRE(fd >= 0);
		struct timeval tv = { 3, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ssize_t n = sendto(fd, qbuf, (size_t)qlen, 0, (struct sockaddr *)&sa, sizeof(sa));
		ares_free_string(qbuf);
		CHECK_INT(n, qlen);
		n = recv(fd, resp, sizeof(resp), 0);
		close(fd);
		REQUIRE(n >= 12);
		printf("    EDNS %u: UDP answer of %zd bytes, TC=%d, ANCOUNT=%u\n", sizes[k], n,
		    (resp[2] & 0x02) != 0, (unsigned)(resp[6] << 8 | resp[7]));
		CHECK(resp[0] == 0x4d && resp[1] == 0x41);
		CHECK(resp[2] & 0x80);			/* QR */
		CHECK(resp[2] & 0x02);			/* TC */
		CHECK(n <= (ssize_t)sizes[k]);
	}
}

static void
t_big_txt_tcp_fallback(void)
{
	/* Over UDP with EDNS 1232 and 512, and without EDNS (512 again):
	 * every time the answer is truncated and c-ares retries over TCP. */
	static const unsigned ednses[] = { 1232, 512, 1 };

	for (size_t k = 0; k < 3; k++) {
		struct ma_resolver *r = net(ednses[k], false);
		REQUIRE(r);
		long before = knot_tcp_requests();
		struct ma_answer *a = ma_resolve1(r, NULL, "big." ZONE, MA_RR_TXT);
		long after = knot_tcp_requests();
		show(ednses[k] == 1 ? "big TXT, EDNS off" : ednses[k] == 512 ?
		    "big TXT, EDNS 512" : "big TXT, EDNS 1232", a);
		bool ok = is_big(a);
		CHECK(ok);
		if (ok)
			CHECK_INT(a->rr[0].ttl, 3600);
		if (before >= 0 && after >= 0) {
			printf("    knotd TCP requests: %ld -> %ld\n", before, after);
			CHECK(after > before);
		} else if (knotc_sock)
			UT_FAIL_("could not read knotd's stats through %s", knotc_sock);
		ma_answer_unref(a);
		ma_resolver_free(r);
	}
}

static void
t_big_txt_tcp_only(void)
{
	struct ma_resolver *r = net(0, true);

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "big." ZONE, MA_RR_TXT);
	CHECK(is_big(a));
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_txt_exact_bytes(void)
{
	struct ma_resolver *r = net(0, false);

	REQUIRE(r);
	/* bin TXT "a\000b" "\"q\\;" "" */
	struct ma_answer *a = ma_resolve1(r, NULL, "bin." ZONE, MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	const struct ma_rr *rr = &a->rr[0];
	REQUIRE(rr->u.txt.nstr == 3);
	CHECK_MEM(rr->u.txt.str[0].data, rr->u.txt.str[0].len, "a\0b", 3);
	CHECK_MEM(rr->u.txt.str[1].data, rr->u.txt.str[1].len, "\"q\\;", 4);
	CHECK_INT(rr->u.txt.str[2].len, 0);
	CHECK_INT(rr->u.txt.total, 7);
	ma_answer_unref(a);

	/* multi TXT "one" / multi TXT "two" "three": two records. */
	a = ma_resolve1(r, NULL, "multi." ZONE, MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	int seen = 0;
	for (size_t i = 0; i < 2; i++) {
		rr = &a->rr[i];
		if (rr->u.txt.nstr == 1)
			seen |= rr->u.txt.str[0].len == 3 && memcmp(rr->u.txt.str[0].data, "one", 3) == 0;
		else if (rr->u.txt.nstr == 2)
			seen |= (rr->u.txt.str[0].len == 3 && memcmp(rr->u.txt.str[0].data, "two", 3) == 0 &&
			    rr->u.txt.str[1].len == 5 && memcmp(rr->u.txt.str[1].data, "three", 5) == 0) << 1;
	}
	CHECK_INT(seen, 3);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_a_aaaa_mx(void)
{
	struct ma_resolver *r = net(0, false);

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "host." ZONE, MA_RR_A);
	show("host A", a);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	unsigned sum = 0;
	for (size_t i = 0; i < 2; i++) {
		CHECK_INT(a->rr[i].type, MA_RR_A);
		CHECK_MEM(a->rr[i].u.a, 3, "\xc0\x00\x02", 3);
		sum += a->rr[i].u.a[3];
		CHECK_INT(a->rr[i].ttl, 3600);
	}
	CHECK_INT(sum, 10 + 11);
	CHECK_INT(a->ttl, 3600);
	CHECK(!a->ad);
	ma_answer_unref(a);

	a = ma_resolve1(r, NULL, "host." ZONE, MA_RR_AAAA);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_MEM(a->rr[0].u.aaaa, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x10", 16);
	ma_answer_unref(a);

	a = ma_resolve1(r, NULL, ZONE, MA_RR_MX);
	show("MX", a);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ma_rr *rr = &a->rr[i];
		CHECK_INT(rr->type, MA_RR_MX);
		if (rr->u.mx.pref == 10)
			CHECK_STR(rr->u.mx.host, "mx1." ZONE);
		else {
			CHECK_INT(rr->u.mx.pref, 20);
			CHECK_STR(rr->u.mx.host, "mx2.example.net");
		}
	}
	ma_answer_unref(a);

	/* A record with its own TTL. */
	a = ma_resolve1(r, NULL, "ttl60." ZONE, MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].ttl, 60);
	CHECK_INT(a->ttl, 60);
	ma_answer_unref(a);

	/* Names go out normalized: case and the root dot do not matter. */
	a = ma_resolve1(r, NULL, "HOST.MailAuth.Test.", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_OK);
	CHECK_INT(a->nrr, 2);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_ptr(void)
{
	struct ma_resolver *r = net(0, false);
	struct ma_ip ip;
	char name[128];

	REQUIRE(r);
	REQUIRE(ma_ip_parse(&ip, "192.0.2.10", 10));
	ma_ip_reverse(&ip, name, sizeof(name));
	struct ma_answer *a = ma_resolve1(r, NULL, name, MA_RR_PTR);
	show(name, a);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_INT(a->rr[0].type, MA_RR_PTR);
	CHECK_STR(a->rr[0].u.name, "host." ZONE);
	ma_answer_unref(a);

	/* IPv4-mapped IPv6 goes to in-addr.arpa too. */
	REQUIRE(ma_ip_parse(&ip, "::ffff:192.0.2.10", 17));
	ma_ip_reverse(&ip, name, sizeof(name));
	a = ma_resolve1(r, NULL, name, MA_RR_PTR);
	CHECK_INT(a->status, MA_DNS_OK);
	ma_answer_unref(a);

	REQUIRE(ma_ip_parse(&ip, "2001:db8::10", 12));
	ma_ip_reverse(&ip, name, sizeof(name));
	a = ma_resolve1(r, NULL, name, MA_RR_PTR);
	show("ip6.arpa PTR", a);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_STR(a->rr[0].u.name, "host." ZONE);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_cname(void)
{
	struct ma_resolver *r = net(0, false);

	REQUIRE(r);
	/* knotd puts the CNAME and the target's records in the answer; only
	 * the asked-for type is kept. */
	struct ma_answer *a = ma_resolve1(r, NULL, "alias." ZONE, MA_RR_A);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 2);
	CHECK_INT(a->rr[0].type, MA_RR_A);
	CHECK_INT(a->rr[1].type, MA_RR_A);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "alias." ZONE, MA_RR_CNAME);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK_STR(a->rr[0].u.name, "host." ZONE);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_nxdomain_nodata(void)
{
	struct ma_resolver *r = net(0, false);

	REQUIRE(r);
	/* SOA: TTL 3600, MINIMUM 120: the negative TTL is the smaller. */
	struct ma_answer *a = ma_resolve1(r, NULL, "nope." ZONE, MA_RR_TXT);
	show("nope TXT", a);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	CHECK_INT(a->nrr, 0);
	CHECK_INT(a->ttl, 120);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "deep.below.nope." ZONE, MA_RR_A);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	ma_answer_unref(a);

	a = ma_resolve1(r, NULL, "host." ZONE, MA_RR_TXT);
	show("host TXT", a);
	CHECK_INT(a->status, MA_DNS_NODATA);
	CHECK_INT(a->nrr, 0);
	CHECK_INT(a->ttl, 120);
	ma_answer_unref(a);
	/* An empty non-terminal exists: NODATA, not NXDOMAIN. */
	a = ma_resolve1(r, NULL, "ent." ZONE, MA_RR_A);
	CHECK_INT(a->status, MA_DNS_NODATA);
	ma_answer_unref(a);
	/* A CNAME to a name without the type. */
	a = ma_resolve1(r, NULL, "alias." ZONE, MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_NODATA);
	ma_answer_unref(a);

	/* The reverse zone's SOA has TTL 30 and MINIMUM 600: 30 wins. */
	a = ma_resolve1(r, NULL, "99.2.0.192.in-addr.arpa", MA_RR_PTR);
	show("99.2.0.192.in-addr.arpa PTR", a);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	CHECK_INT(a->ttl, 30);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "10.2.0.192.in-addr.arpa", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_NODATA);
	CHECK_INT(a->ttl, 30);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_refused_out_of_zone(void)
{
	/* knotd is authoritative only: other names are REFUSED. */
	struct ma_resolver *r = net(0, false);

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "example.com", MA_RR_A);
	show("example.com A", a);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_one_batch(void)
{
	/* Everything at once: one ma_resolve(), every answer in its place. */
	struct ma_resolver *r = net(1232, false);
	struct ma_query q[] = {
		{ "big." ZONE, MA_RR_TXT, NULL },
		{ "host." ZONE, MA_RR_A, NULL },
		{ "host." ZONE, MA_RR_AAAA, NULL },
		{ ZONE, MA_RR_MX, NULL },
		{ "10.2.0.192.in-addr.arpa", MA_RR_PTR, NULL },
		{ "nope." ZONE, MA_RR_TXT, NULL },
		{ "host." ZONE, MA_RR_TXT, NULL },
		{ "bin." ZONE, MA_RR_TXT, NULL },
		{ "example.com", MA_RR_TXT, NULL },
	};
	static const enum ma_dns_status want[] = {
		MA_DNS_OK, MA_DNS_OK, MA_DNS_OK, MA_DNS_OK, MA_DNS_OK,
		MA_DNS_NXDOMAIN, MA_DNS_NODATA, MA_DNS_OK, MA_DNS_ERROR,
	};
	size_t n = sizeof(q) / sizeof(q[0]);

	REQUIRE(r);
	CHECK_INT(ma_resolve(r, NULL, q, n), n);
	for (size_t i = 0; i < n; i++) {
		if (q[i].ans->status != want[i])
			printf("    %s %s: %s\n", q[i].name, ma_rrtype_name(q[i].type),
			    ma_dns_status_name(q[i].ans->status));
		CHECK_INT(q[i].ans->status, want[i]);
		/* Parsed answers carry their type (static status ones do not). */
		if (q[i].ans->refs >= 0)
			CHECK_INT(q[i].ans->qtype, q[i].type);
	}
	CHECK(is_big(q[0].ans));
	CHECK_INT(q[1].ans->nrr, 2);
	CHECK_INT(q[3].ans->nrr, 2);
	if (q[4].ans->nrr == 1)
		CHECK_STR(q[4].ans->rr[0].u.name, "host." ZONE);
	ma_query_release(q, n);
	ma_resolver_free(r);
}

static void
t_cache_with_network(void)
{
	struct ma_resolver *r = net(0, false);
	struct ma_cache *c = ma_cache_new(100, 0, 0);
	struct ma_cache_stats s;

	REQUIRE(r && c);
	ma_resolver_set_cache(r, c);
	struct ma_query q[3] = {
		{ "nope." ZONE, MA_RR_TXT, NULL },
		{ "big." ZONE, MA_RR_TXT, NULL },
		{ "example.com", MA_RR_A, NULL },	/* REFUSED: not cached */
	};
	CHECK_INT(ma_resolve(r, NULL, q, 3), 3);
	ma_query_release(q, 3);
	CHECK_INT(ma_resolve(r, NULL, q, 3), 1);
	CHECK_INT(q[0].ans->status, MA_DNS_NXDOMAIN);
	CHECK_INT(q[0].ans->ttl, 120);
	CHECK(is_big(q[1].ans));
	CHECK_INT(q[2].ans->status, MA_DNS_ERROR);
	ma_query_release(q, 3);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 2);
	CHECK_INT(s.hits, 2);
	ma_cache_unref(c);
	ma_resolver_free(r);
}

static void
t_budget_with_network(void)
{
	struct ma_resolver *r = net(0, false);
	struct ma_budget b;

	REQUIRE(r);
	ma_budget_init(&b, 2, 10000);
	struct ma_query q[3] = {
		{ "host." ZONE, MA_RR_A, NULL }, { "host." ZONE, MA_RR_AAAA, NULL },
		{ ZONE, MA_RR_MX, NULL },
	};
	CHECK_INT(ma_resolve(r, &b, q, 3), 2);
	CHECK_INT(q[0].ans->status, MA_DNS_OK);
	CHECK_INT(q[1].ans->status, MA_DNS_OK);
	CHECK_INT(q[2].ans->status, MA_DNS_LIMIT);
	ma_query_release(q, 3);
	ma_resolver_free(r);
}

int
main(int argc, char **argv)
{
	make_big();
	if (argc == 2 && strcmp(argv[1], "--print-big-txt") == 0) {
		for (int i = 0; i < BIG_NSTR; i++)
			printf("%s\"%.*s\"", i ? " " : "", (int)big_len[i], (const char *)big[i]);
		printf("\n");
		return 0;
	}
	if (argc < 2 || (port = (unsigned)strtoul(argv[1], NULL, 10)) < 1024 || port > 65535) {
		fprintf(stderr, "usage: %s PORT [KNOTC_SOCKET] | --print-big-txt\n", argv[0]);
		printf("RESULT: 0 passed, 1 failed\n");
		return 2;
	}
	knotc_sock = argc > 2 ? argv[2] : NULL;
	snprintf(servers, sizeof(servers), "127.0.0.1@%u", port);
	printf("# knotd at %s, big TXT %zu octets in %d strings\n", servers, big_total(), BIG_NSTR);

	RUN(t_udp_answer_is_truncated);
	RUN(t_big_txt_tcp_fallback);
	RUN(t_big_txt_tcp_only);
	RUN(t_txt_exact_bytes);
	RUN(t_a_aaaa_mx);
	RUN(t_ptr);
	RUN(t_cname);
	RUN(t_nxdomain_nodata);
	RUN(t_refused_out_of_zone);
	RUN(t_one_batch);
	RUN(t_cache_with_network);
	RUN(t_budget_with_network);
	return UT_END();
}
