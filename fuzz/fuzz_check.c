/*
 * fuzz_check: the whole inbound pipeline (ma_check_run) over a hostile
 * message, against the bundled example zone (examples/zone.json: SPF,
 * DKIM keys and DMARC records for example.org and lists.example.net).
 *
 * The first input byte picks the envelope (low 3 bits: client address,
 * HELO, MAIL FROM: passing, failing, IPv6, null reverse-path, unknown
 * domains) and the room for DKIM results (high bits: 1-10 entries, in a
 * heap array of exactly that size, so that ASan sees an overrun); the rest
 * is the message.  Beyond "no crash, no out-of-bounds read", the results
 * must hang together:
 *   - the Authentication-Results field we write parses with our own
 *     parser, claims our authserv-id, and has one resinfo for SPF, one per
 *     DKIM signature (or dkim=none) with its result, and one for DMARC;
 *     plain d= and From domains read back as header.d and header.from:
 *     hostile values must not break out of their quoting;
 *   - it is folded only with CRLF TAB and holds no other control bytes;
 *   - a DMARC pass is backed by an aligned, passing identifier (for DKIM a
 *     passing signature of the aligned domain); no or several From fields
 *     never give a pass;
 *   - the forged-field indexes name Authentication-Results fields;
 *   - the prefetch names (built from the message's own fields, and not
 *     sent by the fixture backend) are normalized names without repeats.
 */
#include "check.h"
#include "fuzz_common.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#define AUTHSERV	"mx.fuzz.example"

static struct ma_resolver *resolver;
static struct ma_dkim_keycache *keys;

static const struct {
	const char *ip, *helo, *mail_from;
} envelopes[] = {
	{ "192.0.2.25", "mx1.example.org", "alice@example.org" },
	{ "198.18.7.7", "spoofer.example", "bounce@spoofer.example" },
	{ "192.0.2.200", "relay.example.net", "demo-bounces@lists.example.net" },
	{ "2001:db8::25", "mx1.example.org", "" },
	{ "203.0.113.9", "x", "a@nospf.example.com" },
	{ "192.0.2.25", "", "@" },
	{ "192.0.2.25", "slow.example.com", "u@loop.example.com" },
	{ "::ffff:192.0.2.25", "broken.example.com", "\"q\\\"x\"@example.org" },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	struct ma_fixture *fx = ma_fixture_new();

	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(fx != NULL);
	if (!ma_fixture_load_file(fx, FZ_ZONE, err, sizeof(err))) {
		fprintf(stderr, "fuzz_check: %s\n", err);
		abort();
	}
	ma_fixture_seal(fx);
	resolver = ma_resolver_new_fixture(fx);
	FUZZ_REQUIRE(resolver != NULL);
	struct ma_cache *c = ma_cache_new(1000, 0, 0);
	ma_resolver_set_cache(resolver, c);
	ma_cache_unref(c);
	keys = ma_dkim_keycache_new(64);
	return 0;
}

static bool
span_is(struct ma_ar_span sp, const char *s)
{
	return sp.p != NULL && sp.len == strlen(s) && strncasecmp(sp.p, s, sp.len) == 0;
}

/* A property's value in a parsed resinfo (an empty span when absent). */
static struct ma_ar_span
prop(const struct ma_ar_result *r, const char *ptype, const char *property)
{
	for (size_t i = 0; i < r->nprops; i++)
		if (span_is(r->props[i].ptype, ptype) && span_is(r->props[i].property, property))
			return r->props[i].value;
	return (struct ma_ar_span){ NULL, 0 };
}

/* A domain the field carries as it is (no quoting, nothing dropped). */
static bool
plain(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Every CR starts a CRLF TAB fold; no other control bytes. */
static void
check_field(const char *f)
{
	for (const char *p = f; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\r') {
			FUZZ_REQUIRE(p[1] == '\n' && p[2] == '\t');
			p += 2;
			continue;
		}
		FUZZ_REQUIRE(ch >= 0x20 && ch != 0x7f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ma_check_result res;
	static struct ma_check_batch batch;
	static struct ma_ar_parsed parsed;
	struct ma_msg_limits lim = { 200, 64 * 1024 };
	struct ma_budget b;
	char err[128];

	if (size < 1)
		return 0;
	size_t e = data[0] & 7;
	size_t room = 1 + (size_t)(data[0] >> 3) % 10;
	struct ma_dkim_sig *sigs = malloc(room * sizeof(*sigs));
	FUZZ_REQUIRE(sigs != NULL);
	struct ma_check_request q = { .ip = envelopes[e].ip, .helo = envelopes[e].helo,
		.mail_from = envelopes[e].mail_from, .authserv_id = AUTHSERV, .now = 1764000100,
		.dkim = { .max_signatures = 10, .clock_skew = 300, .keys = keys }, .received_spf = true };
	struct ma_msg *m = ma_msg_new(&lim);
	FUZZ_REQUIRE(m != NULL);
	ma_msg_parse(m, (const char *)data + 1, size - 1);
	ma_budget_init(&b, 60, 0);

	FUZZ_REQUIRE(ma_check_run(resolver, &b, m, &q, sigs, room, &res) == 0);
	FUZZ_REQUIRE(res.nsigs <= room && b.queries <= 60);

	/* Our own field reads back as ours, with every resinfo in place. */
	const char *f = res.authres;
	FUZZ_REQUIRE(f != NULL && strncmp(f, "Authentication-Results:", 23) == 0);
	check_field(f);
	const char *v = f + 23;
	FUZZ_REQUIRE(ma_authres_parse(v, strlen(v), &parsed, err, sizeof(err)) == 0);
	FUZZ_REQUIRE(parsed.authserv_id.len == strlen(AUTHSERV) &&
	    strncasecmp(parsed.authserv_id.p, AUTHSERV, parsed.authserv_id.len) == 0);
	FUZZ_REQUIRE(ma_authres_claims(v, strlen(v), AUTHSERV));
	size_t want = 2 + (res.nsigs ? res.nsigs : 1);
	FUZZ_REQUIRE(parsed.nresults == want);
	FUZZ_REQUIRE(parsed.results[0].method.len == 3 && memcmp(parsed.results[0].method.p, "spf", 3) == 0);
	FUZZ_REQUIRE(parsed.results[want - 1].method.len == 5 &&
	    memcmp(parsed.results[want - 1].method.p, "dmarc", 5) == 0);
	for (size_t i = 0; i < res.nsigs; i++) {
		const struct ma_ar_result *ar = &parsed.results[1 + i];
		const char *rn = ma_dkim_result_name(res.sigs[i].result);
		FUZZ_REQUIRE(span_is(ar->method, "dkim") && span_is(ar->result, rn));
		if (plain(res.sigs[i].domain))
			FUZZ_REQUIRE(span_is(prop(ar, "header", "d"), res.sigs[i].domain));
	}
	if (plain(res.dmarc.author_domain))
		FUZZ_REQUIRE(span_is(prop(&parsed.results[want - 1], "header", "from"), res.dmarc.author_domain));
	check_field(res.received_spf);

	/* A DMARC pass is earned. */
	const struct ma_dmarc_outcome *d = &res.dmarc;
	FUZZ_REQUIRE((unsigned)d->result <= MA_DMARC_PERMERROR);
	if (d->result == MA_DMARC_PASS) {
		FUZZ_REQUIRE(d->spf_aligned || d->dkim_aligned);
		FUZZ_REQUIRE(!d->spf_aligned || res.spf.result == MA_SPF_PASS);
		bool dkim_pass = false;
		for (size_t i = 0; i < res.nsigs; i++)
			dkim_pass |= res.sigs[i].result == MA_DKIM_PASS &&
			    strcasecmp(res.sigs[i].domain, d->dkim_domain) == 0;
		FUZZ_REQUIRE(!d->dkim_aligned || dkim_pass);
	}
	size_t froms = 0;
	for (size_t i = 0; i < ma_msg_count(m); i++)
		froms += ma_header_is(ma_msg_header(m, i), "From");
	if (froms != 1)
		FUZZ_REQUIRE(d->result != MA_DMARC_PASS);

	for (size_t i = 0; i < res.nforged; i++)
		FUZZ_REQUIRE(res.forged[i] < ma_msg_count(m) &&
		    ma_header_is(ma_msg_header(m, res.forged[i]), "Authentication-Results"));
	ma_check_prefetch_names(m, *q.mail_from ? strrchr(q.mail_from, '@') + 1 : q.helo, 10, &batch);
	FUZZ_REQUIRE(batch.n <= MA_CHECK_MAX_PREFETCH);
	for (size_t i = 0; i < batch.n; i++) {
		size_t l = strlen(batch.q[i].name);
		FUZZ_REQUIRE(batch.q[i].name == batch.names[i] && l > 0 && l <= MA_DNS_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			FUZZ_REQUIRE(strcmp(batch.names[i], batch.names[j]) != 0 || batch.q[i].type != batch.q[j].type);
	}
	ma_check_result_free(&res);
	ma_msg_free(m);
	free(sigs);
	return 0;
}
