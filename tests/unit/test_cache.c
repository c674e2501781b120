/* The DNS cache (core/cache.c): TTLs against explicit `now` values, negative
 * caching, failures never cached, the entry bound with LRU eviction, stats,
 * and the cache as ma_resolve() uses it. */
#include "resolver.h"
#include "ut.h"

#include <pthread.h>

static struct ma_answer *
mk_a(uint32_t ttl)
{
	static const unsigned char ip[4] = { 192, 0, 2, 1 };
	struct ma_answer_builder *b = ma_ab_new(MA_RR_A);

	ma_ab_add_a(b, ip, ttl);
	return ma_ab_finish(b, MA_DNS_NODATA, false, 0);
}

static struct ma_answer *
mk_neg(enum ma_dns_status st, uint32_t neg_ttl)
{
	return ma_ab_finish(ma_ab_new(MA_RR_TXT), st, false, neg_ttl);
}

/* Looks up, returns the status (-1 for a miss) and drops the reference. */
static int
probe(struct ma_cache *c, const char *name, uint16_t type, int64_t now)
{
	struct ma_answer *a = ma_cache_get(c, name, type, now);
	int st = a ? (int)a->status : -1;

	ma_answer_unref(a);
	return st;
}

static void
t_ttl_expiry(void)
{
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	struct ma_answer *a = mk_a(60);

	REQUIRE(c && a);
	ma_cache_put(c, "a.test", MA_RR_A, a, 1000);
	struct ma_answer *g = ma_cache_get(c, "a.test", MA_RR_A, 1000);
	CHECK(g == a);		/* the same shared answer, not a copy */
	CHECK_INT(a->refs, 3);	/* ours, the cache's, g's */
	ma_answer_unref(g);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 1000 + 59999), MA_DNS_OK);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 1000 + 60000), -1);
	/* An expired entry is dropped when seen. */
	struct ma_cache_stats s;
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 0);
	CHECK_INT(a->refs, 1);
	/* A `now` before the insertion still hits (the clock is the caller's). */
	ma_cache_put(c, "a.test", MA_RR_A, a, 5000);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 0), MA_DNS_OK);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_ttl_minimum_of_rrset(void)
{
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	static const unsigned char ip1[4] = { 192, 0, 2, 1 }, ip2[4] = { 192, 0, 2, 2 };
	struct ma_answer_builder *b = ma_ab_new(MA_RR_A);

	ma_ab_add_a(b, ip1, 300);
	ma_ab_add_a(b, ip2, 20);
	struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
	REQUIRE(c && a);
	CHECK_INT(a->ttl, 20);
	ma_cache_put(c, "two.test", MA_RR_A, a, 0);
	CHECK_INT(probe(c, "two.test", MA_RR_A, 19999), MA_DNS_OK);
	CHECK_INT(probe(c, "two.test", MA_RR_A, 20000), -1);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_max_ttl_cap(void)
{
	struct ma_cache *c = ma_cache_new(16, 10, 0);
	struct ma_answer *a = mk_a(3600);

	REQUIRE(c && a);
	ma_cache_put(c, "a.test", MA_RR_A, a, 0);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 9999), MA_DNS_OK);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 10000), -1);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_ttl_zero_not_cached(void)
{
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	struct ma_answer *a = mk_a(0);
	struct ma_cache_stats s;

	REQUIRE(c && a);
	ma_cache_put(c, "zero.test", MA_RR_A, a, 0);
	CHECK_INT(probe(c, "zero.test", MA_RR_A, 0), -1);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 0);
	CHECK_INT(a->refs, 1);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_negative_nxdomain(void)
{
	struct ma_cache *c = ma_cache_new(16, 0, 300);
	struct ma_answer *a = mk_neg(MA_DNS_NXDOMAIN, 30);

	REQUIRE(c && a);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	CHECK_INT(a->nrr, 0);
	ma_cache_put(c, "gone.test", MA_RR_TXT, a, 1000);
	CHECK_INT(probe(c, "gone.test", MA_RR_TXT, 1000 + 29999), MA_DNS_NXDOMAIN);
	CHECK_INT(probe(c, "gone.test", MA_RR_TXT, 1000 + 30000), -1);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_negative_nodata_capped(void)
{
	/* The SOA-derived TTL is capped by the cache's own negative limit. */
	struct ma_cache *c = ma_cache_new(16, 0, 60);
	struct ma_answer *a = mk_neg(MA_DNS_NODATA, 3600);

	REQUIRE(c && a);
	ma_cache_put(c, "empty.test", MA_RR_TXT, a, 0);
	CHECK_INT(probe(c, "empty.test", MA_RR_TXT, 59999), MA_DNS_NODATA);
	CHECK_INT(probe(c, "empty.test", MA_RR_TXT, 60000), -1);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_negative_without_soa(void)
{
	/* A negative answer without a TTL of its own (no SOA, or a static
	 * status answer) is kept for the cache's negative TTL. */
	struct ma_cache *c = ma_cache_new(16, 0, 5);

	REQUIRE(c);
	ma_cache_put(c, "nx.test", MA_RR_A, ma_answer_status(MA_DNS_NXDOMAIN), 0);
	ma_cache_put(c, "nd.test", MA_RR_A, ma_answer_status(MA_DNS_NODATA), 0);
	CHECK_INT(probe(c, "nx.test", MA_RR_A, 4999), MA_DNS_NXDOMAIN);
	CHECK_INT(probe(c, "nd.test", MA_RR_A, 4999), MA_DNS_NODATA);
	CHECK_INT(probe(c, "nx.test", MA_RR_A, 5000), -1);
	CHECK_INT(probe(c, "nd.test", MA_RR_A, 5000), -1);
	ma_cache_unref(c);
}

static void
t_failures_not_cached(void)
{
	static const enum ma_dns_status fails[] = {
		MA_DNS_SERVFAIL, MA_DNS_TIMEOUT, MA_DNS_ERROR, MA_DNS_LIMIT,
	};
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	struct ma_cache_stats s;

	REQUIRE(c);
	for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		/* Both the static form and a built one (with a TTL). */
		struct ma_answer *a = mk_neg(fails[i], 600);
		REQUIRE(a);
		ma_cache_put(c, "fail.test", MA_RR_TXT, ma_answer_status(fails[i]), 0);
		ma_cache_put(c, "fail2.test", MA_RR_TXT, a, 0);
		CHECK_INT(probe(c, "fail.test", MA_RR_TXT, 1), -1);
		CHECK_INT(probe(c, "fail2.test", MA_RR_TXT, 1), -1);
		CHECK_INT(a->refs, 1);
		ma_answer_unref(a);
	}
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 0);
	ma_cache_unref(c);
}

static void
t_key_is_name_and_type(void)
{
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	struct ma_answer *a = mk_a(60), *n = mk_neg(MA_DNS_NODATA, 60);

	REQUIRE(c && a && n);
	ma_cache_put(c, "k.test", MA_RR_A, a, 0);
	ma_cache_put(c, "k.test", MA_RR_TXT, n, 0);
	CHECK_INT(probe(c, "k.test", MA_RR_A, 1), MA_DNS_OK);
	CHECK_INT(probe(c, "k.test", MA_RR_TXT, 1), MA_DNS_NODATA);
	CHECK_INT(probe(c, "k.test", MA_RR_MX, 1), -1);
	CHECK_INT(probe(c, "k2.test", MA_RR_A, 1), -1);
	CHECK_INT(probe(c, "k.tes", MA_RR_A, 1), -1);
	ma_answer_unref(a);
	ma_answer_unref(n);
	ma_cache_unref(c);
}

static void
t_replace_same_key(void)
{
	struct ma_cache *c = ma_cache_new(4, 0, 0);
	struct ma_answer *a1 = mk_a(60), *a2 = mk_a(600);
	struct ma_cache_stats s;

	REQUIRE(c && a1 && a2);
	ma_cache_put(c, "r.test", MA_RR_A, a1, 0);
	ma_cache_put(c, "r.test", MA_RR_A, a2, 0);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 1);
	CHECK_INT(s.evictions, 0);
	CHECK_INT(a1->refs, 1);		/* the old entry released it */
	struct ma_answer *g = ma_cache_get(c, "r.test", MA_RR_A, 100000);
	CHECK(g == a2);
	ma_answer_unref(g);
	ma_answer_unref(a1);
	ma_answer_unref(a2);
	ma_cache_unref(c);
}

static void
t_lru_eviction(void)
{
	struct ma_cache *c = ma_cache_new(3, 0, 0);
	struct ma_answer *a = mk_a(3600);
	struct ma_cache_stats s;

	REQUIRE(c && a);
	ma_cache_put(c, "a.test", MA_RR_A, a, 0);
	ma_cache_put(c, "b.test", MA_RR_A, a, 0);
	ma_cache_put(c, "c.test", MA_RR_A, a, 0);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 3);
	/* Touch a: b becomes the least recently used. */
	CHECK_INT(probe(c, "a.test", MA_RR_A, 1), MA_DNS_OK);
	ma_cache_put(c, "d.test", MA_RR_A, a, 2);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 3);
	CHECK_INT(s.evictions, 1);
	CHECK_INT(probe(c, "b.test", MA_RR_A, 3), -1);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 3), MA_DNS_OK);
	CHECK_INT(probe(c, "c.test", MA_RR_A, 3), MA_DNS_OK);
	CHECK_INT(probe(c, "d.test", MA_RR_A, 3), MA_DNS_OK);
	/* Order now (most recent first): d c a; inserting e evicts a. */
	CHECK_INT(probe(c, "c.test", MA_RR_A, 4), MA_DNS_OK);
	CHECK_INT(probe(c, "d.test", MA_RR_A, 4), MA_DNS_OK);
	ma_cache_put(c, "e.test", MA_RR_A, a, 5);
	CHECK_INT(probe(c, "a.test", MA_RR_A, 6), -1);
	CHECK_INT(probe(c, "e.test", MA_RR_A, 6), MA_DNS_OK);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 3);
	CHECK_INT(s.evictions, 2);
	CHECK_INT(a->refs, 1 + 3);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_bound_many(void)
{
	/* Far more distinct keys than entries: the bound holds and every
	 * eviction is counted. */
	struct ma_cache *c = ma_cache_new(50, 0, 0);
	struct ma_answer *a = mk_a(3600);
	struct ma_cache_stats s;
	char name[64];

	REQUIRE(c && a);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "h%d.bound.test", i);
		ma_cache_put(c, name, MA_RR_A, a, i);
	}
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 50);
	CHECK_INT(s.evictions, 950);
	CHECK_INT(a->refs, 51);
	CHECK_INT(probe(c, "h949.bound.test", MA_RR_A, 2000), -1);
	CHECK_INT(probe(c, "h950.bound.test", MA_RR_A, 2000), MA_DNS_OK);
	CHECK_INT(probe(c, "h999.bound.test", MA_RR_A, 2000), MA_DNS_OK);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_zero_entries_means_one(void)
{
	struct ma_cache *c = ma_cache_new(0, 0, 0);
	struct ma_answer *a = mk_a(60);
	struct ma_cache_stats s;

	REQUIRE(c && a);
	ma_cache_put(c, "x.test", MA_RR_A, a, 0);
	ma_cache_put(c, "y.test", MA_RR_A, a, 0);
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 1);
	CHECK_INT(probe(c, "y.test", MA_RR_A, 1), MA_DNS_OK);
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_stats(void)
{
	struct ma_cache *c = ma_cache_new(8, 0, 0);
	struct ma_answer *a = mk_a(10);
	struct ma_cache_stats s;

	REQUIRE(c && a);
	ma_cache_stats(c, &s);
	CHECK(s.entries == 0 && s.hits == 0 && s.misses == 0 && s.evictions == 0);
	CHECK_INT(probe(c, "s.test", MA_RR_A, 0), -1);		/* miss */
	ma_cache_put(c, "s.test", MA_RR_A, a, 0);
	CHECK_INT(probe(c, "s.test", MA_RR_A, 1), MA_DNS_OK);	/* hit */
	CHECK_INT(probe(c, "s.test", MA_RR_A, 2), MA_DNS_OK);	/* hit */
	CHECK_INT(probe(c, "s.test", MA_RR_A, 10000), -1);	/* expired: miss */
	ma_cache_stats(c, &s);
	CHECK_INT(s.entries, 0);
	CHECK_INT(s.hits, 2);
	CHECK_INT(s.misses, 2);
	CHECK_INT(s.evictions, 0);	/* expiry is not an eviction */
	ma_answer_unref(a);
	ma_cache_unref(c);
}

static void
t_refcount_shared(void)
{
	struct ma_cache *c = ma_cache_new(8, 0, 0);
	struct ma_answer *a = mk_a(60);

	REQUIRE(c && a);
	CHECK(ma_cache_ref(c) == c);
	ma_cache_put(c, "rc.test", MA_RR_A, a, 0);
	ma_answer_unref(a);		/* the cache keeps it alive */
	ma_cache_unref(c);		/* one reference left */
	struct ma_answer *g = ma_cache_get(c, "rc.test", MA_RR_A, 1);
	REQUIRE(g);
	CHECK_INT(g->nrr, 1);
	CHECK_INT(g->rr[0].u.a[3], 1);
	ma_cache_unref(c);		/* freed; g still valid */
	CHECK_INT(g->refs, 1);
	CHECK_INT(g->rr[0].u.a[0], 192);
	ma_answer_unref(g);
	ma_cache_unref(NULL);		/* harmless */
}

/* Several threads on one cache (it is documented as thread-safe): the
 * counters must add up and nothing may be lost or freed twice (ASan). */
struct hammer {
	struct ma_cache *c;
	struct ma_answer *a;
	int id;
	size_t gets;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	char name[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "t%d.hammer.test", (i * 7 + h->id) % 97);
		if (i % 3 == 0)
			ma_cache_put(h->c, name, MA_RR_A, h->a, i);
		else {
			ma_answer_unref(ma_cache_get(h->c, name, MA_RR_A, i));
			h->gets++;
		}
	}
	return NULL;
}

static void
t_threads(void)
{
	struct ma_cache *c = ma_cache_new(32, 0, 0);
	struct ma_answer *a = mk_a(3600);
	struct hammer h[4];
	pthread_t th[4];
	struct ma_cache_stats s;
	size_t gets = 0;

	REQUIRE(c && a);
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ c, a, i, 0 };
		REQUIRE(pthread_create(&th[i], NULL, hammer_run, &h[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		gets += h[i].gets;
	}
	ma_cache_stats(c, &s);
	CHECK_INT(s.hits + s.misses, gets);
	CHECK(s.entries <= 32);
	CHECK_INT(a->refs, 1 + (int)s.entries);
	ma_cache_unref(c);
	CHECK_INT(a->refs, 1);
	ma_answer_unref(a);
}

/* ---- the cache under ma_resolve() ---- */

struct counter {
	int calls;
	enum ma_dns_status status;
};

static struct ma_answer *
count_fn(void *ctx, const char *name, uint16_t type)
{
	struct counter *k = ctx;

	k->calls++;
	if (k->status != MA_DNS_OK)
		return ma_answer_status(k->status);
	struct ma_answer_builder *b = ma_ab_new(type);
	static const unsigned char ip[4] = { 198, 51, 100, 7 };
	ma_ab_add_a(b, ip, 3600);
	return ma_ab_finish(b, MA_DNS_NODATA, false, 0);
}

static void
t_resolver_uses_cache(void)
{
	struct counter k = { 0, MA_DNS_OK };
	struct ma_resolver *r = ma_resolver_new_callback(count_fn, &k);
	struct ma_cache *c = ma_cache_new(64, 0, 0);
	struct ma_cache_stats s;

	REQUIRE(r && c);
	ma_resolver_set_cache(r, c);
	struct ma_query q[2] = { { "Cached.Example.", MA_RR_A, NULL }, { "cached.example", MA_RR_A, NULL } };
	/* Both spellings are the same key, but within one batch both miss. */
	CHECK_INT(ma_resolve(r, NULL, q, 1), 1);
	CHECK_INT(q[0].ans->status, MA_DNS_OK);
	CHECK_INT(ma_resolve(r, NULL, &q[1], 1), 0);	/* from the cache */
	CHECK(q[1].ans == q[0].ans);
	CHECK_INT(k.calls, 1);
	ma_query_release(q, 2);
	CHECK(q[0].ans == NULL && q[1].ans == NULL);
	ma_cache_stats(c, &s);
	CHECK_INT(s.hits, 1);
	CHECK_INT(s.entries, 1);

	/* Failures from the backend go to the backend every time. */
	k.status = MA_DNS_SERVFAIL;
	for (int i = 0; i < 3; i++) {
		struct ma_answer *a = ma_resolve1(r, NULL, "fail.example", MA_RR_TXT);
		CHECK_INT(a->status, MA_DNS_SERVFAIL);
		ma_answer_unref(a);
	}
	CHECK_INT(k.calls, 4);
	/* Negative answers are cached. */
	k.status = MA_DNS_NXDOMAIN;
	for (int i = 0; i < 3; i++) {
		struct ma_answer *a = ma_resolve1(r, NULL, "nx.example", MA_RR_TXT);
		CHECK_INT(a->status, MA_DNS_NXDOMAIN);
		ma_answer_unref(a);
	}
	CHECK_INT(k.calls, 5);

	/* Detach: the backend is asked again. */
	ma_resolver_set_cache(r, NULL);
	struct ma_answer *a = ma_resolve1(r, NULL, "nx.example", MA_RR_TXT);
	ma_answer_unref(a);
	CHECK_INT(k.calls, 6);
	ma_cache_unref(c);	/* the resolver dropped its reference: freed */
	ma_resolver_free(r);
}

static void
t_cache_shared_by_resolvers(void)
{
	struct counter k1 = { 0, MA_DNS_OK }, k2 = { 0, MA_DNS_OK };
	struct ma_resolver *r1 = ma_resolver_new_callback(count_fn, &k1);
	struct ma_resolver *r2 = ma_resolver_new_callback(count_fn, &k2);
	struct ma_cache *c = ma_cache_new(64, 0, 0);

	REQUIRE(r1 && r2 && c);
	ma_resolver_set_cache(r1, c);
	ma_resolver_set_cache(r2, c);
	ma_cache_unref(c);	/* owned by the two resolvers now */
	struct ma_answer *a = ma_resolve1(r1, NULL, "shared.example", MA_RR_A);
	struct ma_answer *b = ma_resolve1(r2, NULL, "shared.example", MA_RR_A);
	CHECK(a == b);
	CHECK_INT(k1.calls, 1);
	CHECK_INT(k2.calls, 0);
	ma_answer_unref(a);
	ma_answer_unref(b);
	ma_resolver_free(r1);
	b = ma_resolve1(r2, NULL, "shared.example", MA_RR_A);	/* still alive */
	CHECK_INT(b->status, MA_DNS_OK);
	CHECK_INT(k2.calls, 0);
	ma_answer_unref(b);
	ma_resolver_free(r2);
}

int
main(void)
{
	RUN(t_ttl_expiry);
	RUN(t_ttl_minimum_of_rrset);
	RUN(t_max_ttl_cap);
	RUN(t_ttl_zero_not_cached);
	RUN(t_negative_nxdomain);
	RUN(t_negative_nodata_capped);
	RUN(t_negative_without_soa);
	RUN(t_failures_not_cached);
	RUN(t_key_is_name_and_type);
	RUN(t_replace_same_key);
	RUN(t_lru_eviction);
	RUN(t_bound_many);
	RUN(t_zero_entries_means_one);
	RUN(t_stats);
	RUN(t_refcount_shared);
	RUN(t_threads);
	RUN(t_resolver_uses_cache);
	RUN(t_cache_shared_by_resolvers);
	return UT_END();
}
