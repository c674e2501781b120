/*
 * fuzz_spf_record: the SPF record parser and the evaluator behind it.
 *
 * The input is one SPF record (bytes).  It is
 *   1. syntax-checked with ma_spf_parse_check() (normal and tiny reason
 *      buffers), then
 *   2. published as the TXT record of example.com in a fixture zone (see
 *      fuzz_common.h: A, AAAA, MX, PTR, CNAME and include/redirect targets),
 *      prefixed with "v=spf1 " when it does not start with it so that every
 *      input is evaluated, and evaluated with ma_spf_check() for an IPv4 and
 *      an IPv6 client (the latter under a DNS budget of 12 queries), for the
 *      HELO identity through a cache, and for one of a few unusual requests
 *      (odd MAIL FROM forms, other limits, a bad client address).  The raw input is also the
 *      TXT record of fx.example.com, so "exp=fx.example.com" makes it the
 *      explanation string and "include:fx.example.com" recurses into it.
 * The fixture is built per input (the record is part of it).
 */
#include "fuzz_common.h"
#include "ip.h"

#include <stdio.h>

#define MAX_EVAL_LEN	8192	/* longer inputs are only parsed */

static void
evaluate_req(struct ma_resolver *r, struct ma_spf_request *req, struct ma_budget *b)
{
	struct ma_spf_outcome out;
	struct ma_ip ip;

	if (req->receiver == NULL)
		req->receiver = "mx.example.org";
	req->now = 1700000000;
	req->default_explanation = "default: %{i} is not allowed by %{d} (%{s})";
	int rc = ma_spf_check(r, b, req, &out);
	if (req->ip == NULL || !ma_ip_parse(&ip, req->ip, strlen(req->ip))) {
		FUZZ_REQUIRE(rc == -1 && out.result == MA_SPF_PERMERROR);
		return;
	}
	FUZZ_REQUIRE(rc == 0);
	fz_check_outcome(req, &out);
}

static void
evaluate(struct ma_resolver *r, const char *ip, const char *mail_from, const char *helo,
    struct ma_budget *b)
{
	struct ma_spf_request req = { .ip = ip, .helo = helo, .mail_from = mail_from };

	evaluate_req(r, &req, b);
}

/* Less usual requests, one per input (chosen by its length): odd identities,
 * other limits, an unusable client address. */
static const struct ma_spf_request variants[] = {
	{ .ip = FZ_IP4, .helo = "mail.example.com", .mail_from = "@example.com", .max_terms = 3, .max_void = 1 },
	{ .ip = FZ_IP6, .helo = "mail.example.com", .mail_from = "example.com", .max_terms = 20 },
	{ .ip = FZ_IP4, .helo = "mail.example.com", .mail_from = "a@b@example.com" },
	{ .ip = FZ_IP4, .helo = "mail.example.com", .mail_from = "User@EXAMPLE.COM." },
	{ .ip = FZ_IP4, .helo = "mail.example.com", .mail_from = "x@bad..example.com" },
	{ .ip = FZ_IP4, .helo = "nodot", .mail_from = NULL },
	{ .ip = FZ_IP6, .helo = "example.com", .mail_from = "", .helo_identity = true, .receiver = "" },
	{ .ip = "192.0.2.300", .helo = "mail.example.com", .mail_from = "u@example.com" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[256], tiny[8];
	const char *rec = (const char *)data;

	int rc = ma_spf_parse_check(rec, size, reason, sizeof(reason));
	FUZZ_REQUIRE(rc == 0 || rc == -1);
	FUZZ_REQUIRE(memchr(reason, '\0', sizeof(reason)) != NULL);
	FUZZ_REQUIRE(ma_spf_parse_check(rec, size, tiny, sizeof(tiny)) == rc);
	FUZZ_REQUIRE(memchr(tiny, '\0', sizeof(tiny)) != NULL);

	if (size > MAX_EVAL_LEN)
		return 0;

	/* The record as published at example.com. */
	uint8_t *pub = malloc(size + 7);
	FUZZ_REQUIRE(pub != NULL);
	size_t plen = size;
	if (size >= 6 && memcmp(data, "v=spf1", 6) == 0)
		memcpy(pub, data, size);
	else {
		memcpy(pub, "v=spf1 ", 7);
		memcpy(pub + 7, data, size);
		plen += 7;
	}

	struct ma_fixture *fx = ma_fixture_new();
	FUZZ_REQUIRE(fx != NULL);
	fz_base_zone(fx);
	fz_txt_bytes(fx, "example.com", pub, plen);
	fz_txt_bytes(fx, "fx.example.com", data, size);
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	FUZZ_REQUIRE(r != NULL);

	evaluate(r, FZ_IP4, "User.Name+tag@example.com", "mail.example.com", NULL);
	struct ma_budget b;
	ma_budget_init(&b, 12, 0);
	evaluate(r, FZ_IP6, "user@example.com", "mail.example.com", &b);
	/* The HELO identity (null reverse-path), through a cache. */
	struct ma_cache *c = ma_cache_new(64, 3600, 60);
	FUZZ_REQUIRE(c != NULL);
	ma_resolver_set_cache(r, c);
	ma_cache_unref(c);
	evaluate(r, "::ffff:192.0.2.10", "", "example.com", NULL);
	struct ma_spf_request v = variants[size % (sizeof(variants) / sizeof(variants[0]))];
	evaluate_req(r, &v, NULL);

	ma_resolver_free(r);
	free(pub);
	return 0;
}
