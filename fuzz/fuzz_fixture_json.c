/*
 * fuzz_fixture_json: zone data JSON into the fixture resolver.
 *
 * The input is a zonedata document (either shape fixture_json.c accepts).
 * It is loaded with ma_fixture_load_json(), the fixture is sealed (also after
 * a failed load: what was added so far must still be usable), a resolver is
 * built on it with a small cache, and then
 *   - every type is looked up, one by one (ma_resolve1), for the first names
 *     of the document and a fixed list of names, and each answer is walked
 *     byte by byte (ASan checks the packed answers);
 *   - the same queries go again as one batch (ma_resolve, > 16 entries: the
 *     heap path), answered from the cache this time;
 *   - ma_spf_check runs for the first usable names of the document with an
 *     IPv4 and an IPv6 client, as the conformance suites use the fixture.
 */
#include "fuzz_common.h"

#include <jansson.h>
#include <stdio.h>

#define MAX_NAMES	12

static const char *const fixed_names[] = {
	"example.com", "mail.example.com", "e1.example.com", "1.2.3.4.in-addr.arpa",
	"EXAMPLE.COM.", "nonexistent.example", "a..b", "",
};

static const uint16_t types[] = {
	MA_RR_A, MA_RR_AAAA, MA_RR_TXT, MA_RR_SPF, MA_RR_MX, MA_RR_PTR, MA_RR_NS, MA_RR_CNAME,
	MA_RR_SOA,
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))

/* The first names of the document (the zone object's keys). */
static size_t
doc_names(const uint8_t *data, size_t size, char **names, size_t max)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je);
	size_t n = 0;

	if (root == NULL)
		return 0;
	json_t *zd = json_object_get(root, "zonedata");
	json_t *zone = zd ? zd : root;
	if (json_is_object(zone)) {
		const char *k;
		json_t *v;
		json_object_foreach(zone, k, v) {
			if (n == max)
				break;
			names[n] = strdup(k);
			FUZZ_REQUIRE(names[n] != NULL);
			n++;
		}
	}
	json_decref(root);
	return n;
}

static void
spf(struct ma_resolver *r, const char *ip, const char *name)
{
	struct ma_spf_request req = {
		.ip = ip,
		.helo = name,
		.mail_from = NULL,
		.receiver = "receiver.example.net",
		.now = 1700000000,
	};
	struct ma_spf_outcome out;
	struct ma_budget b;
	char mf[300];

	snprintf(mf, sizeof(mf), "foo@%s", name);
	req.mail_from = mf;
	ma_budget_init(&b, 100, 0);
	FUZZ_REQUIRE(ma_spf_check(r, &b, &req, &out) == 0);
	fz_check_outcome(&req, &out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *names[MAX_NAMES];
	struct ma_fixture *fx = ma_fixture_new();

	FUZZ_REQUIRE(fx != NULL);
	err[0] = '\0';
	bool ok = ma_fixture_load_json(fx, (const char *)data, size, err, sizeof(err));
	FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	if (!ok)
		FUZZ_REQUIRE(err[0] != '\0');
	ma_fixture_seal(fx);
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	FUZZ_REQUIRE(r != NULL);
	struct ma_cache *c = ma_cache_new(32, 3600, 60);
	FUZZ_REQUIRE(c != NULL);
	ma_resolver_set_cache(r, c);

	size_t nd = doc_names(data, size, names, MAX_NAMES);
	const char *all[MAX_NAMES + sizeof(fixed_names) / sizeof(fixed_names[0])];
	size_t na = 0;
	for (size_t i = 0; i < nd; i++)
		all[na++] = names[i];
	for (size_t i = 0; i < sizeof(fixed_names) / sizeof(fixed_names[0]); i++)
		all[na++] = fixed_names[i];

	size_t sum = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t t = 0; t < NTYPES; t++) {
			struct ma_answer *a = ma_resolve1(r, NULL, all[i], types[t]);
			FUZZ_REQUIRE(a != NULL);
			FUZZ_REQUIRE((a->status == MA_DNS_OK) == (a->nrr > 0));
			sum += fz_walk_answer(a);
			ma_answer_unref(a);
		}

	struct ma_query *q = calloc(na * NTYPES, sizeof(*q));
	FUZZ_REQUIRE(q != NULL);
	for (size_t i = 0; i < na; i++)
		for (size_t t = 0; t < NTYPES; t++) {
			q[i * NTYPES + t].name = all[i];
			q[i * NTYPES + t].type = types[t];
		}
	ma_resolve(r, NULL, q, na * NTYPES);
	for (size_t i = 0; i < na * NTYPES; i++) {
		FUZZ_REQUIRE(q[i].ans != NULL);
		sum += fz_walk_answer(q[i].ans);
	}
	ma_query_release(q, na * NTYPES);
	free(q);

	struct ma_cache_stats st;
	ma_cache_stats(c, &st);
	FUZZ_REQUIRE(st.entries <= 32);
	ma_cache_unref(c);

	/* SPF over the zone, for the first names that can be a domain. */
	size_t checked = 0;
	for (size_t i = 0; i < nd && checked < 2; i++) {
		if (strlen(names[i]) > 253 || strchr(names[i], '.') == NULL)
			continue;
		spf(r, checked ? "CAFE:BABE::1" : "1.2.3.4", names[i]);
		checked++;
	}

	for (size_t i = 0; i < nd; i++)
		free(names[i]);
	ma_resolver_free(r);
	fz_sink = sum;
	return 0;
}
