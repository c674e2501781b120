/*
 * fuzz_spf_macro: the SPF macro checker and expander (RFC 7208 7).
 *
 * Input layout:  FLAGS MACRO-STRING \0 LOCAL-PART \0 HELO \0 DOMAIN
 *   FLAGS (one byte, low bits): 1 explain-string (else domain-spec),
 *   2 IPv6 client, 4 also expand into a short buffer, 8 a DNS budget of a
 *   few queries, 64 no receiver name (%{r} = "unknown").
 *   Missing parts default to "" / "mail.example.com" / "example.com".
 *
 * It calls the internal API directly (spf_macro_valid, spf_domain_spec_valid,
 * spf_macro_expand with a struct spf_eval set up as ma_spf_check does,
 * spf_name_truncate), checks a few invariants between them, and then drives
 * the same string through ma_spf_check() as "exists:" target and as the
 * exp= explanation text.  The fixture (fuzz_common.h) has PTR records for
 * both clients, so %{p} does real validation lookups.
 */
#include "fuzz_common.h"
#include "spf_int.h"

#include <stdio.h>

#define MAX_PART	4096

static struct ma_resolver *resolver;	/* read-only after setup: safe to share */

static struct ma_resolver *
make_resolver(void)
{
	struct ma_fixture *fx = ma_fixture_new();

	FUZZ_REQUIRE(fx != NULL);
	fz_base_zone(fx);
	fz_txt(fx, "example.com", "v=spf1 mx -all");
	fz_txt(fx, "example.net", "v=spf1 -all");
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	FUZZ_REQUIRE(r != NULL);
	return r;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	resolver = make_resolver();
	return 0;
}

/* A NUL-terminated heap copy of the next NUL-separated part. */
static char *
next_part(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *s = *p;
	const uint8_t *z = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
	size_t n = (size_t)((z ? z : end) - s);

	if (n > MAX_PART)
		n = MAX_PART;
	char *c = malloc(n + 1);
	FUZZ_REQUIRE(c != NULL);
	memcpy(c, s, n);
	c[n] = '\0';
	*p = z ? z + 1 : end;
	if (len)
		*len = n;
	return c;
}

#ifdef SPF_XBUF
static char xbuf[SPF_XBUF];	/* the evaluation's expansion buffer (spf.c) */
#endif

static void
eval_init(struct spf_eval *ev, struct ma_spf_request *req, struct ma_spf_outcome *out,
    struct ma_budget *b, void *scratch, size_t scratchlen)
{
	const char *mf = req->mail_from;
	const char *at = strrchr(mf, '@');

	memset(ev, 0, sizeof(*ev));
	memset(out, 0, sizeof(*out));
	FUZZ_REQUIRE(ma_ip_parse(&ev->ip, req->ip, strlen(req->ip)));
#ifdef SPF_XBUF
	ev->xbuf = xbuf;
#endif
	ev->r = resolver;
	ev->budget = b;
	ev->req = req;
	ev->out = out;
	ev->max_terms = 10;
	ev->max_void = 2;
	ev->now = req->now;
	ev->helo = req->helo;
	ma_arena_init(&ev->arena, scratch, scratchlen, 1u << 24);
	FUZZ_REQUIRE(at != NULL);
	ev->local = mf;
	ev->locallen = (size_t)(at - mf);
	ev->sender_domain = at + 1;
	if (ev->locallen == 0) {
		ev->local = "postmaster";
		ev->locallen = 10;
	}
}

/* Expands into a buffer of exactly outlen bytes (heap, so ASan sees the end). */
static long
expand(struct spf_eval *ev, const char *m, size_t mlen, bool explain, const char *domain,
    size_t outlen, char **res)
{
	char *out = malloc(outlen);

	FUZZ_REQUIRE(out != NULL);
	long n = spf_macro_expand(ev, m, mlen, explain, domain, out, outlen);
	FUZZ_REQUIRE(n >= -1);
	if (n >= 0) {
		FUZZ_REQUIRE((size_t)n < outlen);
		FUZZ_REQUIRE(strlen(out) == (size_t)n);
	}
	*res = out;
	return n;
}

static void
direct(const char *m, size_t mlen, bool explain, struct ma_spf_request *req, struct ma_budget *b,
    bool small)
{
	struct spf_eval ev;
	struct ma_spf_outcome out;
	unsigned char scratch[4096];
	char *big, *sm;

	eval_init(&ev, req, &out, b, scratch, sizeof(scratch));
	long n = expand(&ev, m, mlen, explain, ev.sender_domain, 8192, &big);
	if (small) {
		/* The same expansion into a short buffer: it fits exactly when
		 * the long one is shorter, else it reports -1. */
		size_t sl = 1 + (mlen % 64);
		long k = expand(&ev, m, mlen, explain, ev.sender_domain, sl, &sm);
		if (n >= 0 && (size_t)n < sl)
			FUZZ_REQUIRE(k == n && memcmp(sm, big, (size_t)n + 1) == 0);
		else
			FUZZ_REQUIRE(k == -1);
		free(sm);
	}
	if (n >= 0 && !explain) {
		/* Domain-spec results are trimmed to 253 octets from the left. */
		size_t t = spf_name_truncate(big, (size_t)n);
		FUZZ_REQUIRE(t <= (size_t)n && strlen(big) == t);
		if (t > 253)
			FUZZ_REQUIRE(memchr(big, '.', t - 253) == NULL);
	}
	free(big);
	ma_arena_free(&ev.arena);
}

/* ma_spf_check over a record that uses the string. */
static void
through_check(const char *m, size_t mlen, bool spec, bool expl, struct ma_spf_request *req,
    struct ma_budget *b)
{
	struct ma_fixture *fx = ma_fixture_new();
	char *rec = malloc(mlen + 64);
	struct ma_spf_outcome out;

	FUZZ_REQUIRE(fx != NULL && rec != NULL);
	fz_base_zone(fx);
	if (spec)
		snprintf(rec, mlen + 64, "v=spf1 exists:%.*s -all exp=fx.example.com", (int)mlen, m);
	else
		snprintf(rec, mlen + 64, "v=spf1 -all exp=fx.example.com");
	const char *at = strrchr(req->mail_from, '@');
	const char *dom = at ? at + 1 : req->mail_from;
	struct ma_txt_string t = { (const unsigned char *)rec, strlen(rec) };
	/* The sender's domain may be anything: the record goes where it is
	 * looked for, when the fixture accepts the name. */
	char norm[MA_DNS_NAME_MAX];
	if (ma_dns_name_normalize(dom, strlen(dom), norm) && strcmp(norm, "example.com") != 0)
		(void)ma_fixture_add_txt(fx, dom, MA_RR_TXT, &t, 1);
	FUZZ_REQUIRE(ma_fixture_add_txt(fx, "example.com", MA_RR_TXT, &t, 1));
	if (expl)
		fz_txt_bytes(fx, "fx.example.com", (const uint8_t *)m, mlen);
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	FUZZ_REQUIRE(r != NULL);
	FUZZ_REQUIRE(ma_spf_check(r, b, req, &out) == 0);
	fz_check_outcome(req, &out);
	ma_resolver_free(r);
	free(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (resolver == NULL)
		resolver = make_resolver();
	unsigned flags = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	size_t mlen, llen, hlen, dlen;
	char *mz = next_part(&p, end, &mlen);
	char *local = next_part(&p, end, &llen);
	char *helo = next_part(&p, end, &hlen);
	char *dom = next_part(&p, end, &dlen);
	bool explain = flags & 1;

	/* The macro string without a terminator, so over-reads are caught. */
	char *m = malloc(mlen ? mlen : 1);
	FUZZ_REQUIRE(m != NULL);
	memcpy(m, mz, mlen);

	bool v_spec = spf_macro_valid(m, mlen, false);
	bool v_expl = spf_macro_valid(m, mlen, true);
	bool v_dom = spf_domain_spec_valid(m, mlen);
	/* The grammars nest: domain-spec within macro-string within
	 * explain-string. */
	FUZZ_REQUIRE(!v_dom || v_spec);
	FUZZ_REQUIRE(!v_spec || v_expl);

	char *mail_from = malloc(llen + dlen + 16);
	FUZZ_REQUIRE(mail_from != NULL);
	sprintf(mail_from, "%s@%s", local, dlen ? dom : "example.com");
	struct ma_spf_request req = {
		.ip = flags & 2 ? FZ_IP6 : FZ_IP4,
		.helo = hlen ? helo : "mail.example.com",
		.mail_from = mail_from,
		.receiver = (flags & 64) ? NULL : "mx.example.org",
		.now = 1700000000,
	};
	struct ma_budget b;
	ma_budget_init(&b, 2, 0);
	struct ma_budget *bp = (flags & 8) ? &b : NULL;

	if (explain ? v_expl : v_spec)
		direct(m, mlen, explain, &req, bp, flags & 4);
	/* Both grammars' expansions, whatever the flag said. */
	if (v_spec && explain)
		direct(m, mlen, false, &req, bp, false);

	if (mlen <= 1024 && (v_dom || v_expl)) {
		ma_budget_init(&b, 30, 0);
		through_check(m, mlen, v_dom, v_expl, &req, (flags & 8) ? &b : NULL);
	}

	free(m);
	free(mail_from);
	free(mz);
	free(local);
	free(helo);
	free(dom);
	return 0;
}
