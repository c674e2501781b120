/* ma_resolve() and its budget, the callback backend, the backend interface
 * (batching, the deadline handed down) and the network backend's option
 * checking (no traffic is sent here). */
#include "resolver.h"
#include "util.h"
#include "ut.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* ---- a recording backend through the public ops interface ---- */

struct rec {
	int calls;		/* lookup() calls */
	size_t total;		/* queries seen */
	size_t last_n;
	int64_t last_deadline;
	char names[64][MA_DNS_NAME_MAX];
	uint16_t types[64];
	int freed;
};

static void
rec_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	struct rec *r = impl;

	r->calls++;
	r->last_n = n;
	r->last_deadline = deadline;
	for (size_t i = 0; i < n; i++) {
		if (r->total < 64) {
			ma_strlcpy(r->names[r->total], q[i].name, MA_DNS_NAME_MAX);
			r->types[r->total] = q[i].type;
		}
		r->total++;
		struct ma_answer_builder *b = ma_ab_new(q[i].type);
		ma_ab_add_name(b, MA_RR_PTR, q[i].name, 60);
		q[i].ans = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
	}
}

static void
rec_free(void *impl)
{
	((struct rec *)impl)->freed++;
}

static const struct ma_resolver_ops rec_ops = {
	.name = "recorder", .lookup = rec_lookup, .free = rec_free,
};

/* A backend that forgets to answer one query. */
static void
lazy_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	for (size_t i = 1; i < n; i++)
		q[i].ans = ma_answer_status(MA_DNS_NXDOMAIN);
}

static const struct ma_resolver_ops lazy_ops = {
	.name = "lazy", .lookup = lazy_lookup, .free = rec_free,
};

static void
t_backend_batch(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_query q[5] = {
		{ "A.Example.COM.", MA_RR_TXT, NULL },
		{ "b.example.com", MA_RR_MX, NULL },
		{ "bad..name", MA_RR_A, NULL },
		{ "", MA_RR_A, NULL },
		{ "c.example.com", MA_RR_PTR, NULL },
	};

	REQUIRE(r);
	CHECK_STR(ma_resolver_backend(r), "recorder");
	CHECK_INT(ma_resolve(r, NULL, q, 5), 3);
	/* All the misses go down in a single call, normalized. */
	CHECK_INT(rc.calls, 1);
	CHECK_INT(rc.last_n, 3);
	CHECK_INT(rc.last_deadline, 0);
	CHECK_STR(rc.names[0], "a.example.com");
	CHECK_STR(rc.names[1], "b.example.com");
	CHECK_STR(rc.names[2], "c.example.com");
	CHECK_INT(rc.types[1], MA_RR_MX);
	/* Answers land at the right positions. */
	CHECK_INT(q[0].ans->status, MA_DNS_OK);
	CHECK_STR(q[0].ans->rr[0].u.name, "a.example.com");
	CHECK_STR(q[1].ans->rr[0].u.name, "b.example.com");
	CHECK_INT(q[2].ans->status, MA_DNS_ERROR);
	CHECK_INT(q[3].ans->status, MA_DNS_ERROR);
	CHECK_STR(q[4].ans->rr[0].u.name, "c.example.com");
	ma_query_release(q, 5);
	for (int i = 0; i < 5; i++)
		CHECK(q[i].ans == NULL);
	ma_resolver_free(r);
	CHECK_INT(rc.freed, 1);
}

static void
t_backend_large_batch(void)
{
	/* More queries than the on-stack batch size (16). */
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_query q[40];
	char names[40][32];

	REQUIRE(r);
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "N%d.Example", i);
		q[i] = (struct ma_query){ names[i], MA_RR_A, NULL };
	}
	CHECK_INT(ma_resolve(r, NULL, q, 40), 40);
	CHECK_INT(rc.calls, 1);
	CHECK_INT(rc.last_n, 40);
	for (int i = 0; i < 40; i++) {
		char want[32];
		snprintf(want, sizeof(want), "n%d.example", i);
		REQUIRE(q[i].ans && q[i].ans->status == MA_DNS_OK);
		CHECK_STR(q[i].ans->rr[0].u.name, want);
	}
	ma_query_release(q, 40);
	ma_resolver_free(r);
}

static void
t_backend_missing_answer(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&lazy_ops, &rc);
	struct ma_query q[2] = { { "x.test", MA_RR_A, NULL }, { "y.test", MA_RR_A, NULL } };

	REQUIRE(r);
	ma_resolve(r, NULL, q, 2);
	/* Never NULL afterwards. */
	REQUIRE(q[0].ans && q[1].ans);
	CHECK_INT(q[0].ans->status, MA_DNS_ERROR);
	CHECK_INT(q[1].ans->status, MA_DNS_NXDOMAIN);
	ma_query_release(q, 2);
	ma_resolver_free(r);
}

/* A backend that is not marked reentrant never runs twice at once on
 * one handle, however many threads share it. */
struct serial {
	int inside, max_inside, calls;
};

static void
serial_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	struct serial *s = impl;
	int now = __atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
	int seen = __atomic_load_n(&s->max_inside, __ATOMIC_SEQ_CST);

	while (now > seen && !__atomic_compare_exchange_n(&s->max_inside, &seen, now, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	__atomic_add_fetch(&s->calls, 1, __ATOMIC_SEQ_CST);
	usleep(200);	/* widen the window for an overlap */
	for (size_t i = 0; i < n; i++)
		q[i].ans = ma_answer_status(MA_DNS_NODATA);
	__atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
}

static void
serial_free(void *impl)
{
}

static const struct ma_resolver_ops serial_ops = {
	.name = "serial", .lookup = serial_lookup, .free = serial_free,
};

static void *
serial_thread(void *arg)
{
	struct ma_resolver *r = arg;

	for (int i = 0; i < 50; i++) {
		struct ma_answer *a = ma_resolve1(r, NULL, "same.test", MA_RR_A);
		ma_answer_unref(a);
	}
	return NULL;
}

static void
t_backend_serialized(void)
{
	struct serial s = { 0 };
	struct ma_resolver *r = ma_resolver_new(&serial_ops, &s);
	pthread_t th[4];

	REQUIRE(r);
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&th[i], NULL, serial_thread, r) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(s.calls, 200);
	CHECK_INT(s.max_inside, 1);
	ma_resolver_free(r);
}

/* ---- the budget ---- */

static void
t_budget_max_queries(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_budget b;
	struct ma_query q[5] = {
		{ "q1.test", MA_RR_A, NULL }, { "q2.test", MA_RR_A, NULL },
		{ "q3.test", MA_RR_A, NULL }, { "q4.test", MA_RR_A, NULL },
		{ "q5.test", MA_RR_A, NULL },
	};

	REQUIRE(r);
	ma_budget_init(&b, 3, 0);
	CHECK_INT(b.deadline, 0);
	CHECK_INT(ma_resolve(r, &b, q, 5), 3);
	CHECK_INT(b.queries, 3);
	CHECK_INT(rc.total, 3);
	for (int i = 0; i < 3; i++)
		CHECK_INT(q[i].ans->status, MA_DNS_OK);
	CHECK_INT(q[3].ans->status, MA_DNS_LIMIT);
	CHECK_INT(q[4].ans->status, MA_DNS_LIMIT);
	ma_query_release(q, 5);
	/* Exhausted: nothing more is sent. */
	struct ma_answer *a = ma_resolve1(r, &b, "later.test", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_LIMIT);
	ma_answer_unref(a);
	CHECK_INT(rc.total, 3);
	CHECK_INT(rc.calls, 1);
	ma_resolver_free(r);
}

static void
t_budget_bad_names_not_counted(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_budget b;
	struct ma_query q[3] = {
		{ "a..b", MA_RR_A, NULL }, { "ok.test", MA_RR_A, NULL }, { ".", MA_RR_A, NULL },
	};

	REQUIRE(r);
	ma_budget_init(&b, 1, 0);
	ma_resolve(r, &b, q, 3);
	CHECK_INT(q[0].ans->status, MA_DNS_ERROR);
	CHECK_INT(q[1].ans->status, MA_DNS_OK);
	CHECK_INT(q[2].ans->status, MA_DNS_ERROR);
	CHECK_INT(b.queries, 1);
	ma_query_release(q, 3);
	ma_resolver_free(r);
}

static void
t_budget_counts_cache_hits(void)
{
	/* "DNS queries sent or answered from cache" both count. */
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	struct ma_budget b;

	REQUIRE(r && c);
	ma_resolver_set_cache(r, c);
	ma_cache_unref(c);
	struct ma_answer *a = ma_resolve1(r, NULL, "warm.test", MA_RR_A);
	ma_answer_unref(a);
	ma_budget_init(&b, 2, 0);
	for (int i = 0; i < 3; i++) {
		a = ma_resolve1(r, &b, "warm.test", MA_RR_A);
		CHECK_INT(a->status, i < 2 ? MA_DNS_OK : MA_DNS_LIMIT);
		ma_answer_unref(a);
	}
	CHECK_INT(rc.total, 1);
	CHECK_INT(b.queries, 2);
	ma_resolver_free(r);
}

static void
t_budget_deadline_past(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_budget b;
	struct ma_query q[3] = {
		{ "d1.test", MA_RR_A, NULL }, { "d2.test", MA_RR_TXT, NULL }, { "d3.test", MA_RR_MX, NULL },
	};

	REQUIRE(r);
	ma_budget_init(&b, 0, 0);
	int64_t now = ma_now_ms();
	b.deadline = now > 1000 ? now - 1000 : 1;	/* non-zero, in the past */
	CHECK_INT(ma_budget_left(&b), 0);
	CHECK_INT(ma_resolve(r, &b, q, 3), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(q[i].ans->status, MA_DNS_LIMIT);
	CHECK_INT(rc.calls, 0);
	ma_query_release(q, 3);
	ma_resolver_free(r);
}

static void
t_budget_deadline_passed_down(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_budget b;

	REQUIRE(r);
	ma_budget_init(&b, 10, 60000);
	CHECK(b.deadline > 0);
	int64_t left = ma_budget_left(&b);
	CHECK(left > 0 && left <= 60000);
	struct ma_answer *a = ma_resolve1(r, &b, "future.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_OK);
	ma_answer_unref(a);
	CHECK_INT(rc.last_deadline, b.deadline);
	ma_resolver_free(r);
}

static void
t_budget_unlimited(void)
{
	struct rec rc = { 0 };
	struct ma_resolver *r = ma_resolver_new(&rec_ops, &rc);
	struct ma_budget b;
	struct ma_query q[20];
	char names[20][24];

	REQUIRE(r);
	ma_budget_init(&b, 0, 0);
	CHECK(ma_budget_left(&b) == INT64_MAX);
	CHECK(ma_budget_left(NULL) == INT64_MAX);
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d.test", i);
		q[i] = (struct ma_query){ names[i], MA_RR_A, NULL };
	}
	CHECK_INT(ma_resolve(r, &b, q, 20), 20);
	for (int i = 0; i < 20; i++)
		CHECK_INT(q[i].ans->status, MA_DNS_OK);
	CHECK_INT(b.queries, 20);
	ma_query_release(q, 20);
	ma_resolver_free(r);
}

/* ---- the callback backend ---- */

struct cbctx {
	int calls;
	char last_name[MA_DNS_NAME_MAX];
	uint16_t last_type;
};

static struct ma_answer *
cb_fn(void *ctx, const char *name, uint16_t type)
{
	struct cbctx *k = ctx;

	k->calls++;
	ma_strlcpy(k->last_name, name, sizeof(k->last_name));
	k->last_type = type;
	if (strcmp(name, "null.test") == 0)
		return NULL;
	if (strcmp(name, "nx.test") == 0)
		return ma_answer_status(MA_DNS_NXDOMAIN);
	if (strcmp(name, "to.test") == 0)
		return ma_answer_status(MA_DNS_TIMEOUT);
	struct ma_answer_builder *b = ma_ab_new(type);
	if (type == MA_RR_TXT) {
		static const unsigned char s1[] = { 'v', '=', 0, '1' };
		struct ma_txt_string st[2] = { { s1, sizeof(s1) }, { (const unsigned char *)"tail", 4 } };
		ma_ab_add_txt(b, MA_RR_TXT, st, 2, 120);
	} else if (type == MA_RR_MX) {
		ma_ab_add_mx(b, 5, "mx.test", 120);
	}
	return ma_ab_finish(b, MA_DNS_NODATA, true, 42);
}

static void
t_callback_backend(void)
{
	struct cbctx k = { 0 };
	struct ma_resolver *r = ma_resolver_new_callback(cb_fn, &k);

	REQUIRE(r);
	CHECK_STR(ma_resolver_backend(r), "callback");
	struct ma_answer *a = ma_resolve1(r, NULL, "Some.Name.TEST.", MA_RR_TXT);
	CHECK_STR(k.last_name, "some.name.test");
	CHECK_INT(k.last_type, MA_RR_TXT);
	REQUIRE(a->status == MA_DNS_OK && a->nrr == 1);
	CHECK(a->ad);
	CHECK_INT(a->rr[0].u.txt.nstr, 2);
	CHECK_MEM(a->rr[0].u.txt.str[0].data, a->rr[0].u.txt.str[0].len, "v=\0" "1", 4);
	CHECK_MEM(a->rr[0].u.txt.str[1].data, a->rr[0].u.txt.str[1].len, "tail", 4);
	CHECK_INT(a->rr[0].u.txt.total, 8);
	ma_answer_unref(a);

	a = ma_resolve1(r, NULL, "some.name.test", MA_RR_A);	/* built, empty */
	CHECK_INT(a->status, MA_DNS_NODATA);
	CHECK_INT(a->ttl, 42);
	CHECK_INT(a->qtype, MA_RR_A);
	ma_answer_unref(a);

	a = ma_resolve1(r, NULL, "null.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "nx.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_NXDOMAIN);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "to.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_TIMEOUT);
	ma_answer_unref(a);
	CHECK_INT(k.calls, 5);
	/* An unusable name never reaches the callback. */
	a = ma_resolve1(r, NULL, "x..test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	CHECK_INT(k.calls, 5);

	/* A batch: one call per query, answers in order. */
	struct ma_query q[3] = {
		{ "m.test", MA_RR_MX, NULL }, { "nx.test", MA_RR_MX, NULL }, { "m.test", MA_RR_TXT, NULL },
	};
	CHECK_INT(ma_resolve(r, NULL, q, 3), 3);
	CHECK_INT(q[0].ans->status, MA_DNS_OK);
	CHECK_INT(q[0].ans->rr[0].u.mx.pref, 5);
	CHECK_STR(q[0].ans->rr[0].u.mx.host, "mx.test");
	CHECK_INT(q[1].ans->status, MA_DNS_NXDOMAIN);
	CHECK_INT(q[2].ans->rr[0].type, MA_RR_TXT);
	ma_query_release(q, 3);
	ma_resolver_free(r);
}

/* ---- network backend: configuration only ---- */

static void
t_net_options(void)
{
	char err[256];
	static const char *bad[] = {
		"127.0.0.1@0", "127.0.0.1@65536", "127.0.0.1@", "127.0.0.1@53x",
		"localhost", "999.0.0.1", "127.0.0.01", "", ",", "127.0.0.1,,127.0.0.2",
		"[::1]@53",
	};
	static const char *good[] = {
		"127.0.0.1@53531", "127.0.0.1", "127.0.0.1@53531,127.0.0.2@53532",
		"::1@53531", "127.0.0.1, 127.0.0.2@5353",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ma_net_opts o = { .servers = bad[i] };
		err[0] = '\0';
		struct ma_resolver *r = ma_resolver_new_net(&o, err, sizeof(err));
		if (r != NULL)
			printf("    (accepted bad server list \"%s\")\n", bad[i]);
		CHECK(r == NULL);
		CHECK(err[0] != '\0');
		ma_resolver_free(r);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ma_net_opts o = { .servers = good[i], .timeout_ms = 100, .tries = 1 };
		err[0] = '\0';
		struct ma_resolver *r = ma_resolver_new_net(&o, err, sizeof(err));
		if (r == NULL)
			printf("    (rejected \"%s\": %s)\n", good[i], err);
		CHECK(r != NULL);
		if (r)
			CHECK_STR(ma_resolver_backend(r), "dns");
		ma_resolver_free(r);
	}
}

int
main(void)
{
	RUN(t_backend_batch);
	RUN(t_backend_large_batch);
	RUN(t_backend_missing_answer);
	RUN(t_backend_serialized);
	RUN(t_budget_max_queries);
	RUN(t_budget_bad_names_not_counted);
	RUN(t_budget_counts_cache_hits);
	RUN(t_budget_deadline_past);
	RUN(t_budget_deadline_passed_down);
	RUN(t_budget_unlimited);
	RUN(t_callback_backend);
	RUN(t_net_options);
	return UT_END();
}
