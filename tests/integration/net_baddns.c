/*
 * The network backend (c-ares) against a misbehaving server:
 * tests/tools/baddns.py, started by run_baddns.sh, one UDP port per mode.
 *
 *   net_baddns silent=PORT delay=PORT servfail=PORT refused=PORT garbage=PORT
 *
 * Timing is asserted for two properties only: a silent server costs at most
 * timeout_ms * tries (plus slack), and ten queries to a server that answers
 * after 200 ms complete together in under 600 ms.
 */
#include "resolver.h"
#include "util.h"
#include "ut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELAY_MS	200	/* baddns.py --delay-ms */
#define SLACK_MS	250	/* scheduling, ASan, a loaded CI machine */

static unsigned p_silent, p_delay, p_servfail, p_refused, p_garbage;

static struct ma_resolver *
net_at(unsigned port, unsigned timeout_ms, unsigned tries)
{
	char servers[64], err[256] = "";
	struct ma_net_opts o = { .servers = servers, .timeout_ms = timeout_ms, .tries = tries };

	snprintf(servers, sizeof(servers), "127.0.0.1@%u", port);
	struct ma_resolver *r = ma_resolver_new_net(&o, err, sizeof(err));
	if (r == NULL)
		printf("    ma_resolver_new_net(%s): %s\n", servers, err);
	return r;
}

/* ---- silent: the timeout bound ---- */

static void
silent_case(unsigned timeout_ms, unsigned tries, size_t nq)
{
	struct ma_resolver *r = net_at(p_silent, timeout_ms, tries);
	struct ma_query q[4];
	char names[4][32];

	REQUIRE(r && nq <= 4);
	for (size_t i = 0; i < nq; i++) {
		snprintf(names[i], sizeof(names[i]), "s%zu.silent.test", i);
		q[i] = (struct ma_query){ names[i], MA_RR_TXT, NULL };
	}
	int64_t t0 = ma_now_ms();
	size_t sent = ma_resolve(r, NULL, q, nq);
	int64_t el = ma_now_ms() - t0, bound = (int64_t)timeout_ms * tries;
	printf("    timeout_ms=%u tries=%u, %zu queries: %lld ms (bound %lld + %d)\n",
	    timeout_ms, tries, nq, (long long)el, (long long)bound, SLACK_MS);
	CHECK_INT(sent, nq);
	for (size_t i = 0; i < nq; i++)
		CHECK_INT(q[i].ans->status, MA_DNS_TIMEOUT);
	CHECK(el < bound + SLACK_MS);
	ma_query_release(q, nq);
	ma_resolver_free(r);
}

static void
t_silent_timeout_one_try(void)
{
	silent_case(400, 1, 1);
}

static void
t_silent_timeout_two_tries(void)
{
	silent_case(300, 2, 1);
}

static void
t_silent_timeout_three_tries_batch(void)
{
	silent_case(200, 3, 4);
}

/* ---- delay: parallelism ---- */

static void
t_delay_ten_in_parallel(void)
{
	struct ma_resolver *r = net_at(p_delay, 2000, 2);
	struct ma_query q[10];
	char names[10][32], want[32];

	REQUIRE(r);
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "q%d.delay.test", i);
		q[i] = (struct ma_query){ names[i], MA_RR_TXT, NULL };
	}
	int64_t t0 = ma_now_ms();
	size_t sent = ma_resolve(r, NULL, q, 10);
	int64_t el = ma_now_ms() - t0;
	printf("    10 queries, each answered after %d ms: %lld ms in all (bound 600)\n",
	    DELAY_MS, (long long)el);
	CHECK_INT(sent, 10);
	snprintf(want, sizeof(want), "delayed %dms", DELAY_MS);
	for (int i = 0; i < 10; i++) {
		const struct ma_answer *a = q[i].ans;
		CHECK_INT(a->status, MA_DNS_OK);
		if (a->status == MA_DNS_OK && a->nrr == 1 && a->rr[0].u.txt.nstr == 1)
			CHECK_MEM(a->rr[0].u.txt.str[0].data, a->rr[0].u.txt.str[0].len,
			    want, strlen(want));
		else
			UT_FAIL_("answer %d is not the delayed TXT", i);
	}
	CHECK(el < 600);
	ma_query_release(q, 10);
	ma_resolver_free(r);
}

/* ---- error statuses ---- */

static void
t_servfail(void)
{
	struct ma_resolver *r = net_at(p_servfail, 1000, 2);

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "any.servfail.test", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_SERVFAIL);
	ma_answer_unref(a);
	/* Not cached: each lookup reaches the server again. */
	struct ma_cache *c = ma_cache_new(16, 0, 0);
	REQUIRE(c);
	ma_resolver_set_cache(r, c);
	ma_cache_unref(c);
	for (int i = 0; i < 2; i++) {
		struct ma_query q = { "again.servfail.test", MA_RR_A, NULL };
		CHECK_INT(ma_resolve(r, NULL, &q, 1), 1);
		CHECK_INT(q.ans->status, MA_DNS_SERVFAIL);
		ma_query_release(&q, 1);
	}
	ma_resolver_free(r);
}

static void
t_refused(void)
{
	struct ma_resolver *r = net_at(p_refused, 1000, 2);

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "any.refused.test", MA_RR_MX);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_garbage(void)
{
	/* Malformed records in a well-formed reply: the parser rejects them. */
	static const char *const parse_err[] = { "count", "rdlen", "loop", "txtlen", "alen" };
	/* Replies c-ares cannot match to the query (too short, wrong ID,
	 * wrong question, noise) are dropped: the query times out. */
	static const char *const dropped[] = { "short", "wrongid", "qname", "random" };
	struct ma_resolver *r = net_at(p_garbage, 300, 1);
	struct ma_query q[9];
	char names[9][40];
	size_t n = 0;

	REQUIRE(r);
	for (size_t i = 0; i < 5; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "%s.garbage.test", parse_err[i]);
		q[n] = (struct ma_query){ names[n], strcmp(parse_err[i], "txtlen") ? MA_RR_A : MA_RR_TXT, NULL };
	}
	for (size_t i = 0; i < 4; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "%s.garbage.test", dropped[i]);
		q[n] = (struct ma_query){ names[n], MA_RR_A, NULL };
	}
	CHECK_INT(ma_resolve(r, NULL, q, n), n);
	for (size_t i = 0; i < n; i++) {
		enum ma_dns_status st = q[i].ans->status;
		printf("    %-24s %s\n", q[i].name, ma_dns_status_name(st));
		if (i < 5)
			CHECK_INT(st, MA_DNS_ERROR);
		else
			CHECK(st == MA_DNS_ERROR || st == MA_DNS_TIMEOUT);
		CHECK_INT(q[i].ans->nrr, 0);
	}
	ma_query_release(q, n);
	/* The resolver is still usable afterwards. */
	struct ma_answer *a = ma_resolve1(r, NULL, "alen.garbage.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_ERROR);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

/* ---- the budget's deadline against a slow server ---- */

static void
t_deadline_before_answer(void)
{
	struct ma_resolver *r = net_at(p_delay, 2000, 2);
	struct ma_budget b;

	REQUIRE(r);
	/* The server answers after 200 ms; the budget ends after 50 ms.  Had
	 * the deadline been ignored, the answer would be OK. */
	ma_budget_init(&b, 0, 50);
	int64_t t0 = ma_now_ms();
	struct ma_query q[3] = {
		{ "d1.delay.test", MA_RR_TXT, NULL }, { "d2.delay.test", MA_RR_A, NULL },
		{ "d3.delay.test", MA_RR_MX, NULL },
	};
	ma_resolve(r, &b, q, 3);
	printf("    deadline 50 ms, server delay %d ms: returned after %lld ms\n", DELAY_MS,
	    (long long)(ma_now_ms() - t0));
	for (int i = 0; i < 3; i++) {
		enum ma_dns_status st = q[i].ans->status;
		if (st != MA_DNS_LIMIT && st != MA_DNS_TIMEOUT)
			printf("    %s: %s\n", q[i].name, ma_dns_status_name(st));
		CHECK(st == MA_DNS_LIMIT || st == MA_DNS_TIMEOUT);
	}
	ma_query_release(q, 3);
	/* The budget is spent: nothing more goes out. */
	struct ma_answer *a = ma_resolve1(r, &b, "d4.delay.test", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_LIMIT);
	ma_answer_unref(a);
	/* The same handle then works normally, the late answers to the
	 * cancelled queries notwithstanding. */
	ma_budget_init(&b, 0, 5000);
	a = ma_resolve1(r, &b, "d5.delay.test", MA_RR_TXT);
	CHECK_INT(a->status, MA_DNS_OK);
	ma_answer_unref(a);
	a = ma_resolve1(r, NULL, "d1.delay.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_OK);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static void
t_failover_to_second_server(void)
{
	/* The first server never answers; after its timeout c-ares asks the
	 * second, which does. */
	char servers[96], err[256] = "";
	snprintf(servers, sizeof(servers), "127.0.0.1@%u,127.0.0.1@%u", p_silent, p_delay);
	struct ma_net_opts o = { .servers = servers, .timeout_ms = 300, .tries = 1 };
	struct ma_resolver *r = ma_resolver_new_net(&o, err, sizeof(err));

	REQUIRE(r);
	struct ma_answer *a = ma_resolve1(r, NULL, "fo.delay.test", MA_RR_A);
	CHECK_INT(a->status, MA_DNS_OK);
	if (a->status == MA_DNS_OK && a->nrr == 1)
		CHECK_MEM(a->rr[0].u.a, 4, "\xc0\x00\x02\x01", 4);
	ma_answer_unref(a);
	ma_resolver_free(r);
}

static bool
arg_port(const char *arg, const char *mode, unsigned *port)
{
	size_t l = strlen(mode);

	if (strncmp(arg, mode, l) != 0 || arg[l] != '=')
		return false;
	*port = (unsigned)strtoul(arg + l + 1, NULL, 10);
	return true;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!arg_port(argv[i], "silent", &p_silent) && !arg_port(argv[i], "delay", &p_delay) &&
		    !arg_port(argv[i], "servfail", &p_servfail) &&
		    !arg_port(argv[i], "refused", &p_refused) &&
		    !arg_port(argv[i], "garbage", &p_garbage))
			fprintf(stderr, "ignored argument: %s\n", argv[i]);
	if (!p_silent || !p_delay || !p_servfail || !p_refused || !p_garbage) {
		fprintf(stderr, "usage: %s silent=PORT delay=PORT servfail=PORT refused=PORT garbage=PORT\n",
		    argv[0]);
		printf("RESULT: 0 passed, 1 failed\n");
		return 2;
	}
	printf("# baddns: silent@%u delay@%u servfail@%u refused@%u garbage@%u\n",
	    p_silent, p_delay, p_servfail, p_refused, p_garbage);

	RUN(t_silent_timeout_one_try);
	RUN(t_silent_timeout_two_tries);
	RUN(t_silent_timeout_three_tries_batch);
	RUN(t_delay_ten_in_parallel);
	RUN(t_servfail);
	RUN(t_refused);
	RUN(t_garbage);
	RUN(t_deadline_before_answer);
	RUN(t_failover_to_second_server);
	return UT_END();
}
