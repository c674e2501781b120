/*
 * check_floor: the pipeline benchmark's workloads in C, without Lua (see
 * bench/README.md, "Pipeline").  It separates what core/ costs from what
 * the Lua module adds around it.
 *
 *   check_floor [-t SECONDS] [-r ROUNDS] [-n PASSES] [CORPUS]
 *
 * Reads CORPUS/check/{zone.json,envelopes.json} (bench/check_zone.py) and
 * every message of CORPUS/dkim/msgs into memory; one fixture resolver over
 * zone.json with a 10000-entry cache and a 1024-key DKIM key cache (what
 * mailauth.resolver{ fixture = ... } makes).  Per message:
 *   dkim   ma_msg_new + ma_msg_parse + ma_dkim_verify + ma_msg_free
 *   check  the same message, a 200-query budget, then ma_check_run (what
 *          mailauth.check calls): prefetch, SPF with Received-SPF, DKIM,
 *          DMARC with both as identities, the Authentication-Results field
 *          and the scan for fields claiming our authserv-id.
 * An untimed pass of each checks agreement with envelopes.json (dkim
 * results; spf, dmarc and dmarc policy); then rounds of one pass of each,
 * the order alternating, until ROUNDS rounds (default 9) and SECONDS (default
 * 3) of timed work; time is CPU time (CLOCK_PROCESS_CPUTIME_ID), as in
 * check_bench.lua.  Prints
 *   c-dkim          1000/1000 agree       10000 msgs/s
 *   c-check         1000/1000 agree        9000 msgs/s  1.11x the DKIM cost
 * The result structures are allocated once and reused (a C caller's
 * normal practice); the difference to the Lua module is its result tables
 * and the site policy.
 */
#include "authres.h"
#include "check.h"
#include "dkim.h"
#include "dmarc.h"
#include "msg.h"
#include "resolver.h"
#include "spf.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NOW_FIXED	1709294400	/* an hour after the corpus's t= */
#define MAX_SIGS	32
#define AUTHSERV	"mx.bench.example"

struct env {
	char *file, *ip, *helo, *mail_from, *spf, *dmarc, *policy, *dkim;
	char *text;
	size_t len;
};

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *
sdup(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

struct ctx {
	struct ma_resolver *r;
	struct ma_dkim_verify_opts vo;
	struct ma_dkim_sig *sigs;
	struct ma_check_result res;	/* the last message's, kept for the agreement pass */
	size_t nsigs, forged;
};

static void
do_dkim(struct ctx *c, const struct env *e)
{
	struct ma_msg *m = ma_msg_new(NULL);

	ma_msg_parse(m, e->text, e->len);
	c->nsigs = ma_dkim_verify(c->r, NULL, m, &c->vo, c->sigs, MAX_SIGS);
	ma_msg_free(m);
}

static void
do_check(struct ctx *c, const struct env *e)
{
	struct ma_msg *m = ma_msg_new(NULL);
	struct ma_budget b;
	struct ma_check_request q = { .ip = e->ip, .helo = e->helo, .mail_from = e->mail_from,
		.authserv_id = AUTHSERV, .now = NOW_FIXED, .dkim = c->vo, .received_spf = true };

	ma_msg_parse(m, e->text, e->len);
	ma_budget_init(&b, 200, 20000);
	ma_check_result_free(&c->res);
	ma_check_run(c->r, &b, m, &q, c->sigs, MAX_SIGS, &c->res);
	c->nsigs = c->res.nsigs;
	c->forged = c->res.nforged;
	ma_msg_free(m);
}

static bool
same_dkim(const struct ctx *c, const struct env *e)
{
	char got[512];
	size_t o = 0;

	got[0] = '\0';
	for (size_t i = 0; i < c->nsigs && o < sizeof(got) - 16; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? "," : "",
		    ma_dkim_result_name(c->sigs[i].result));
	return strcmp(got, e->dkim) == 0;
}

int
main(int argc, char **argv)
{
	double tmin = 3;
	int rounds = 9, passes = 0, ch;
	const char *corpus = "/tmp/corpus";
	char path[4096], err[256];
	json_error_t je;

	while ((ch = getopt(argc, argv, "t:r:n:")) != -1) {
		switch (ch) {
		case 't': tmin = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': passes = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: check_floor [-t SECONDS] [-r ROUNDS] [-n PASSES] [CORPUS]\n");
			return 2;
		}
	}
	if (optind < argc)
		corpus = argv[optind];

	snprintf(path, sizeof(path), "%s/check/envelopes.json", corpus);
	json_t *ej = json_load_file(path, 0, &je);
	if (!json_is_array(ej)) {
		fprintf(stderr, "%s: %s\n", path, je.text);
		return 2;
	}
	size_t n = json_array_size(ej);
	struct env *envs = calloc(n, sizeof(*envs));
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(ej, i), *d = json_object_get(o, "dkim");
		struct env *e = &envs[i];
		char buf[512];
		size_t bo = 0;
		e->file = sdup(o, "file");
		e->ip = sdup(o, "ip");
		e->helo = sdup(o, "helo");
		e->mail_from = sdup(o, "mail_from");
		e->spf = sdup(o, "spf");
		e->dmarc = sdup(o, "dmarc");
		e->policy = sdup(o, "policy");
		buf[0] = '\0';
		for (size_t k = 0; k < json_array_size(d) && bo < sizeof(buf) - 16; k++)
			bo += (size_t)snprintf(buf + bo, sizeof(buf) - bo, "%s%s", k ? "," : "",
			    json_string_value(json_array_get(d, k)));
		e->dkim = strdup(buf);
		snprintf(path, sizeof(path), "%s/dkim/msgs/%s", corpus, e->file);
		e->text = slurp(path, &e->len);
	}
	json_decref(ej);

	struct ma_fixture *fx = ma_fixture_new();
	snprintf(path, sizeof(path), "%s/check/zone.json", corpus);
	if (fx == NULL || !ma_fixture_load_file(fx, path, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 2;
	}
	struct ctx c = { 0 };
	c.r = ma_resolver_new_fixture(fx);
	struct ma_cache *cache = ma_cache_new(10000, 0, 0);
	ma_resolver_set_cache(c.r, cache);
	ma_cache_unref(cache);
	c.vo = (struct ma_dkim_verify_opts){ .max_signatures = 10, .now = NOW_FIXED, .clock_skew = 300,
		.keys = ma_dkim_keycache_new(1024) };
	c.sigs = calloc(MAX_SIGS, sizeof(*c.sigs));

	size_t agree_dkim = 0, agree_check = 0;
	for (size_t i = 0; i < n; i++) {
		do_dkim(&c, &envs[i]);
		agree_dkim += same_dkim(&c, &envs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct env *e = &envs[i];
		do_check(&c, e);
		const char *pol = c.res.dmarc.have_record ? ma_dmarc_policy_name(c.res.dmarc.policy) : "";
		agree_check += same_dkim(&c, e) && strcmp(ma_spf_result_name(c.res.spf.result), e->spf) == 0 &&
		    strcmp(ma_dmarc_result_name(c.res.dmarc.result), e->dmarc) == 0 && strcmp(pol, e->policy) == 0 &&
		    c.res.authres != NULL && c.forged == 0;
	}

	size_t cap = 64, nr = 0;
	double *td = malloc(cap * sizeof(double)), *tc = malloc(cap * sizeof(double));
	double *ratio = malloc(cap * sizeof(double)), total = 0;
	for (int round = 0; passes ? round < passes : (round < rounds || total < tmin); round++) {
		double t[2];
		for (int k = 0; k < 2; k++) {
			int w = round % 2 ? 1 - k : k;
			double t0 = cpu_s();
			for (size_t i = 0; i < n; i++) {
				if (w == 0)
					do_dkim(&c, &envs[i]);
				else
					do_check(&c, &envs[i]);
			}
			t[w] = cpu_s() - t0;
			total += t[w];
		}
		if (nr == cap) {
			cap *= 2;
			td = realloc(td, cap * sizeof(double));
			tc = realloc(tc, cap * sizeof(double));
			ratio = realloc(ratio, cap * sizeof(double));
		}
		td[nr] = t[0];
		tc[nr] = t[1];
		ratio[nr++] = t[1] / t[0];
	}
	double md = median(td, nr), mc = median(tc, nr), mr = median(ratio, nr);
	printf("%-15s %zu/%zu agree %9.0f msgs/s\n", "c-dkim", agree_dkim, n, (double)n / md);
	printf("%-15s %zu/%zu agree %9.0f msgs/s  %.2fx the DKIM cost (%zu rounds)\n", "c-check", agree_check, n,
	    (double)n / mc, mr, nr);

	ma_check_result_free(&c.res);
	free(c.sigs);
	ma_dkim_keycache_free(c.vo.keys);
	ma_resolver_free(c.r);
	for (size_t i = 0; i < n; i++) {
		struct env *e = &envs[i];
		free(e->file), free(e->ip), free(e->helo), free(e->mail_from);
		free(e->spf), free(e->dmarc), free(e->policy), free(e->dkim), free(e->text);
	}
	free(envs);
	free(td);
	free(tc);
	free(ratio);
	return agree_dkim == n && agree_check == n ? 0 : 1;
}
