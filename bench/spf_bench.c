/*
 * SPF benchmark: checks per second on one core, DNS answered in process
 * from the shared corpus (shared/bench/make_corpus.py, SPF half), mailauth
 * and Debian's libspf2 side by side in one process.
 *
 *   spf_bench [-t SECONDS] [-d N] [-o mailauth|libspf2|all] [-n PASSES] [CORPUS]
 *
 * CORPUS defaults to /tmp/corpus (reads CORPUS/spf/dns.json and
 * CORPUS/spf/queries.json).  Each implementation first runs every query
 * once to count agreement with the corpus's expected result (a result that
 * equals `alt_no_void_limit`, when present, also agrees), then repeats the
 * whole query list until each implementation has at least SECONDS (default
 * 2) of timed work, the passes of the two interleaved so that both see the
 * same machine conditions, and reports checks/s.  -n runs exactly PASSES
 * timed passes instead (for profiling).  -d lists up to N disagreements per
 * implementation on stderr.
 *
 * One line per implementation goes to stdout:
 *   mailauth  5000/5000 agree  263000 checks/s  2.10x libspf2
 *
 * No network traffic: mailauth uses its fixture backend, libspf2 a DNS layer
 * of our own (below) over a hash table; neither a resolv nor a cache layer
 * is created.
 */
#include "resolver.h"
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

#define NOW_FIXED	1709290800	/* %{t}, fixed for repeatability */

struct query {
	const char *ip;
	const char *mail_from;		/* "" = null reverse-path */
	const char *helo;
	const char *expected;
	const char *alt;		/* alt_no_void_limit, or NULL */
};

struct corpus {
	json_t *root;			/* keeps the strings alive */
	struct query *q;
	size_t n;
	char dns_path[4096];
	char queries_path[4096];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

static int
load_queries(struct corpus *c)
{
	json_error_t je;

	c->root = json_load_file(c->queries_path, 0, &je);
	if (c->root == NULL || !json_is_array(c->root)) {
		fprintf(stderr, "%s: line %d: %s\n", c->queries_path, je.line,
		    c->root ? "not a JSON array" : je.text);
		return -1;
	}
	c->n = json_array_size(c->root);
	c->q = calloc(c->n ? c->n : 1, sizeof(*c->q));
	if (c->q == NULL)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		json_t *o = json_array_get(c->root, i);
		c->q[i].ip = str_or(o, "ip", NULL);
		c->q[i].mail_from = str_or(o, "mail_from", "");	/* null -> "" */
		c->q[i].helo = str_or(o, "helo", "");
		c->q[i].expected = str_or(o, "expected", NULL);
		c->q[i].alt = str_or(o, "alt_no_void_limit", NULL);
		if (c->q[i].ip == NULL || c->q[i].expected == NULL) {
			fprintf(stderr, "%s: query %zu lacks ip or expected\n", c->queries_path, i);
			return -1;
		}
	}
	return 0;
}

static bool
agrees(const struct query *q, const char *got)
{
	return strcmp(got, q->expected) == 0 || (q->alt && strcmp(got, q->alt) == 0);
}

/* ------------------------------------------------------------------ */
/* mailauth                                                             */

static const char *
ma_one(struct ma_resolver *r, const struct query *q, struct ma_spf_outcome *out)
{
	struct ma_spf_request req;

	memset(&req, 0, sizeof(req));
	req.ip = q->ip;
	req.helo = q->helo;
	req.mail_from = q->mail_from;
	req.now = NOW_FIXED;
	if (ma_spf_check(r, NULL, &req, out) < 0)
		return "(bad request)";
	return ma_spf_result_name(out->result);
}

/* ------------------------------------------------------------------ */
/* libspf2 with an in-memory DNS layer over a hash table               */

enum { L2_A, L2_AAAA, L2_MX, L2_TXT, L2_PTR, L2_NTYPES };

struct l2_node {
	struct l2_node *next;
	uint32_t hash;
	SPF_dns_rr_t *rr[L2_NTYPES];	/* prototypes, duplicated per lookup */
	char name[];
};

struct l2_zone {
	struct l2_node **b;
	size_t nb, count;
};

static int
l2_slot(ns_type t)
{
	switch (t) {
	case ns_t_a: return L2_A;
	case ns_t_aaaa: return L2_AAAA;
	case ns_t_mx: return L2_MX;
	case ns_t_txt: return L2_TXT;
	case ns_t_ptr: return L2_PTR;
	default: return -1;
	}
}

static uint32_t
l2_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Lower-case, one trailing dot dropped; false when too long. */
static bool
l2_norm(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in; in++) {
		if (n + 1 >= len)
			return false;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	if (n && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return true;
}

static struct l2_node *
l2_find(const struct l2_zone *z, const char *norm)
{
	uint32_t h = l2_hash(norm);

	for (struct l2_node *n = z->b[h & (z->nb - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->name, norm) == 0)
			return n;
	return NULL;
}

static SPF_dns_rr_t *
l2_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type, int should_cache)
{
	const struct l2_zone *z = srv->hook;
	char norm[1024];
	struct l2_node *n;
	SPF_dns_rr_t *rr = NULL;
	int s;

	(void)should_cache;
	if (!l2_norm(domain, norm, sizeof(norm)) || (n = l2_find(z, norm)) == NULL)
		return SPF_dns_rr_new_init(srv, domain, type, 0, HOST_NOT_FOUND);
	s = l2_slot(type);
	if (s < 0 || n->rr[s] == NULL)
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	if (SPF_dns_rr_dup(&rr, n->rr[s]) != SPF_E_SUCCESS) {
		if (rr)
			SPF_dns_rr_free(rr);
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	}
	return rr;
}

static void
l2_destroy(SPF_dns_server_t *srv)
{
	struct l2_zone *z = srv->hook;

	for (size_t i = 0; z && i < z->nb; i++)
		for (struct l2_node *n = z->b[i], *nx; n; n = nx) {
			nx = n->next;
			for (int k = 0; k < L2_NTYPES; k++)
				if (n->rr[k])
					SPF_dns_rr_free(n->rr[k]);
			free(n);
		}
	if (z)
		free(z->b);
	free(z);
	free(srv);
}

static struct l2_node *
l2_node_get(struct l2_zone *z, const char *name)
{
	char norm[1024];
	struct l2_node *n;

	if (!l2_norm(name, norm, sizeof(norm)))
		return NULL;
	if ((n = l2_find(z, norm)) != NULL)
		return n;
	if (z->count >= z->nb) {
		size_t nb = z->nb * 2;
		struct l2_node **b = calloc(nb, sizeof(*b));
		if (b == NULL)
			return NULL;
		for (size_t i = 0; i < z->nb; i++)
			for (struct l2_node *m = z->b[i], *mx; m; m = mx) {
				mx = m->next;
				m->next = b[m->hash & (nb - 1)];
				b[m->hash & (nb - 1)] = m;
			}
		free(z->b);
		z->b = b;
		z->nb = nb;
	}
	size_t len = strlen(norm);
	n = calloc(1, sizeof(*n) + len + 1);
	if (n == NULL)
		return NULL;
	memcpy(n->name, norm, len + 1);
	n->hash = l2_hash(norm);
	n->next = z->b[n->hash & (z->nb - 1)];
	z->b[n->hash & (z->nb - 1)] = n;
	z->count++;
	return n;
}

static bool
l2_add(SPF_dns_server_t *srv, struct l2_node *n, ns_type type, json_t *v)
{
	int s = l2_slot(type);
	SPF_dns_rr_t *rr;
	const char *str = NULL;
	int i;

	if (s < 0)
		return true;	/* not asked by libspf2 */
	if (n->rr[s] == NULL &&
	    (n->rr[s] = SPF_dns_rr_new_init(srv, n->name, type, 3600, NETDB_SUCCESS)) == NULL)
		return false;
	rr = n->rr[s];
	i = rr->num_rr;
	if (type == ns_t_mx) {
		if (!json_is_array(v) || !json_is_string(json_array_get(v, 1)))
			return false;
		str = json_string_value(json_array_get(v, 1));
	} else if (json_is_string(v))
		str = json_string_value(v);
	else
		return false;
	if (SPF_dns_rr_buf_realloc(rr, i, strlen(str) + 1) != SPF_E_SUCCESS)
		return false;
	switch (type) {
	case ns_t_a:
		if (inet_pton(AF_INET, str, &rr->rr[i]->a) != 1)
			return false;
		break;
	case ns_t_aaaa:
		if (inet_pton(AF_INET6, str, &rr->rr[i]->aaaa) != 1)
			return false;
		break;
	default: {
		/* MX host, PTR target, TXT text: a C string (no trailing dot). */
		size_t len = strlen(str);
		memcpy(rr->rr[i]->txt, str, len + 1);
		if (type != ns_t_txt && len > 1 && rr->rr[i]->txt[len - 1] == '.')
			rr->rr[i]->txt[len - 1] = '\0';
		break;
	}
	}
	rr->num_rr = i + 1;
	return true;
}

static SPF_dns_server_t *
l2_dns_new(const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	SPF_dns_server_t *srv = NULL;
	struct l2_zone *z = NULL;
	const char *name, *tname;
	json_t *recs, *vals, *v;
	size_t i;

	if (root == NULL || !json_is_object(root)) {
		fprintf(stderr, "%s: line %d: %s\n", path, je.line, root ? "not an object" : je.text);
		goto fail;
	}
	srv = calloc(1, sizeof(*srv));
	z = calloc(1, sizeof(*z));
	if (srv == NULL || z == NULL)
		goto fail;
	z->nb = 1024;
	if ((z->b = calloc(z->nb, sizeof(*z->b))) == NULL)
		goto fail;
	srv->destroy = l2_destroy;
	srv->lookup = l2_lookup;
	srv->name = "hashzone";
	srv->hook = z;
	json_object_foreach(root, name, recs) {
		/* Every listed name exists: other types are NODATA. */
		struct l2_node *n = l2_node_get(z, name);
		if (n == NULL || !json_is_object(recs))
			goto bad;
		json_object_foreach(recs, tname, vals) {
			ns_type t = strcmp(tname, "A") == 0 ? ns_t_a :
			    strcmp(tname, "AAAA") == 0 ? ns_t_aaaa :
			    strcmp(tname, "MX") == 0 ? ns_t_mx :
			    strcmp(tname, "TXT") == 0 ? ns_t_txt :
			    strcmp(tname, "PTR") == 0 ? ns_t_ptr : ns_t_invalid;
			if (t == ns_t_invalid || !json_is_array(vals))
				goto bad;
			json_array_foreach(vals, i, v)
				if (!l2_add(srv, n, t, v))
					goto bad;
		}
	}
	json_decref(root);
	return srv;
bad:
	fprintf(stderr, "%s: cannot load record at %s\n", path, name);
fail:
	json_decref(root);
	if (srv) {
		srv->hook = z;
		l2_destroy(srv);
	} else
		free(z);
	return NULL;
}

static void
l2_quiet(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

/* libspf2 leaves the result SPF_RESULT_INVALID when the record could not
 * be had: no SPF record among the TXT records (that is "none") or a record
 * that does not compile (that is "permerror"). */
static const char *
l2_result_name(SPF_response_t *resp, SPF_errcode_t err)
{
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_NEUTRAL: return "neutral";
	case SPF_RESULT_PASS: return "pass";
	case SPF_RESULT_FAIL: return "fail";
	case SPF_RESULT_SOFTFAIL: return "softfail";
	case SPF_RESULT_NONE: return "none";
	case SPF_RESULT_TEMPERROR: return "temperror";
	case SPF_RESULT_PERMERROR: return "permerror";
	default:
		break;
	}
	if (err == SPF_E_DNS_ERROR)
		return "temperror";
	if (err != SPF_E_NOT_SPF)
		return "permerror";
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *e = SPF_response_message(resp, i);
		if (SPF_error_errorp(e) && SPF_error_code(e) != SPF_E_NOT_SPF)
			return "permerror";
	}
	return "none";
}

static const char *
l2_one(SPF_server_t *srv, const struct query *q)
{
	SPF_request_t *req = SPF_request_new(srv);
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	const char *res;

	if (req == NULL)
		return "(no memory)";
	if (strchr(q->ip, ':') ? SPF_request_set_ipv6_str(req, q->ip) : SPF_request_set_ipv4_str(req, q->ip)) {
		SPF_request_free(req);
		return "(bad request)";
	}
	if (q->mail_from[0])
		SPF_request_set_env_from(req, q->mail_from);
	/* With no MAIL FROM set, this makes it postmaster@helo (RFC 7208 2.4). */
	SPF_request_set_helo_dom(req, q->helo);
	err = SPF_request_query_mailfrom(req, &resp);
	res = resp ? l2_result_name(resp, err) : "(no response)";
	if (resp)
		SPF_response_free(resp);
	SPF_request_free(req);
	return res;
}

/* ------------------------------------------------------------------ */

enum impl { IMPL_MAILAUTH, IMPL_LIBSPF2 };

struct ctx {
	struct ma_resolver *ma;
	struct ma_spf_outcome out;
	SPF_server_t *l2;
	SPF_dns_server_t *l2dns;	/* not owned by the server (SPF_server_new_dns) */
};

static const char *
run_one(struct ctx *c, enum impl im, const struct query *q)
{
	return im == IMPL_MAILAUTH ? ma_one(c->ma, q, &c->out) : l2_one(c->l2, q);
}

struct result {
	size_t agree, n, via_alt;
	double rate;
};

/* Disagreements by (expected, got), for the summary on stderr. */
struct pair {
	const char *expected, *got;
	size_t count;
};

/* The agreement pass: every query once (this also warms the caches). */
static void
agreement(struct ctx *c, enum impl im, const char *label, const struct corpus *co,
    int show, struct result *r)
{
	size_t shown = 0, npairs = 0;
	struct pair pairs[64];

	r->n = co->n;
	r->agree = 0;
	r->via_alt = 0;
	for (size_t i = 0; i < co->n; i++) {
		const char *got = run_one(c, im, &co->q[i]);
		if (agrees(&co->q[i], got)) {
			r->agree++;
			if (strcmp(got, co->q[i].expected) != 0)
				r->via_alt++;
			continue;
		}
		size_t k;
		for (k = 0; k < npairs; k++)
			if (strcmp(pairs[k].expected, co->q[i].expected) == 0 && strcmp(pairs[k].got, got) == 0)
				break;
		if (k == npairs && npairs < sizeof(pairs) / sizeof(pairs[0]))
			pairs[npairs++] = (struct pair){ co->q[i].expected, got, 0 };
		if (k < npairs)
			pairs[k].count++;
		if (shown < (size_t)show) {
			shown++;
			fprintf(stderr, "%s disagrees: ip=%s mail_from=%s helo=%s expected=%s%s%s got=%s",
			    label, co->q[i].ip, co->q[i].mail_from[0] ? co->q[i].mail_from : "<>",
			    co->q[i].helo, co->q[i].expected, co->q[i].alt ? " alt=" : "",
			    co->q[i].alt ? co->q[i].alt : "", got);
			if (im == IMPL_MAILAUTH)
				fprintf(stderr, " (%s)", c->out.reason);
			fputc('\n', stderr);
		}
	}
	fprintf(stderr, "%s: %zu/%zu agree (%zu only through alt_no_void_limit)", label, r->agree, r->n, r->via_alt);
	for (size_t k = 0; k < npairs; k++)
		fprintf(stderr, "%s %s->%s x%zu", k ? "," : "; disagreements (expected->got):",
		    pairs[k].expected, pairs[k].got, pairs[k].count);
	fputc('\n', stderr);
}

/* One timed pass over every query; returns its duration in seconds. */
static double
timed_pass(struct ctx *c, enum impl im, const struct corpus *co)
{
	double t0 = now_s();

	for (size_t i = 0; i < co->n; i++)
		(void)run_one(c, im, &co->q[i]);
	return now_s() - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Per-pass rates: min / median / max, for stderr. */
static void
spread(const char *label, double *rates, size_t n)
{
	if (n == 0)
		return;
	qsort(rates, n, sizeof(*rates), cmp_double);
	fprintf(stderr, "%s: %zu timed passes, checks/s per pass min %.0f median %.0f max %.0f\n",
	    label, n, rates[0], rates[n / 2], rates[n - 1]);
}

static void
usage(void)
{
	fprintf(stderr, "usage: spf_bench [-t seconds] [-n passes] [-d shown] [-o mailauth|libspf2|all] [corpus]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct corpus co;
	struct ctx c;
	struct result rm, rl;
	const char *dir = "/tmp/corpus", *only = "all";
	double min_s = 2.0;
	long passes = 0;
	int show = 10, opt;
	char err[512];

	while ((opt = getopt(argc, argv, "t:n:d:o:h")) != -1) {
		switch (opt) {
		case 't': min_s = atof(optarg); break;
		case 'n': passes = atol(optarg); break;
		case 'd': show = atoi(optarg); break;
		case 'o': only = optarg; break;
		default: usage();
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		usage();
	bool do_ma = strcmp(only, "all") == 0 || strcmp(only, "mailauth") == 0;
	bool do_l2 = strcmp(only, "all") == 0 || strcmp(only, "libspf2") == 0;
	if (!do_ma && !do_l2)
		usage();

	memset(&co, 0, sizeof(co));
	memset(&rm, 0, sizeof(rm));
	memset(&rl, 0, sizeof(rl));
	memset(&c, 0, sizeof(c));
	snprintf(co.dns_path, sizeof(co.dns_path), "%s/spf/dns.json", dir);
	snprintf(co.queries_path, sizeof(co.queries_path), "%s/spf/queries.json", dir);
	if (load_queries(&co) < 0)
		return 1;

	if (do_ma) {
		struct ma_fixture *f = ma_fixture_new();
		if (f == NULL || !ma_fixture_load_file(f, co.dns_path, err, sizeof(err))) {
			fprintf(stderr, "mailauth: %s\n", f ? err : "out of memory");
			return 1;
		}
		if ((c.ma = ma_resolver_new_fixture(f)) == NULL) {
			fprintf(stderr, "mailauth: cannot make the fixture resolver\n");
			return 1;
		}
	}
	if (do_l2) {
		SPF_info_handler = l2_quiet;
		SPF_warning_handler = l2_quiet;
		SPF_debug_handler = l2_quiet;
		if ((c.l2dns = l2_dns_new(co.dns_path)) == NULL)
			return 1;
		if ((c.l2 = SPF_server_new_dns(c.l2dns, 0)) == NULL) {
			fprintf(stderr, "libspf2: SPF_server_new_dns failed\n");
			return 1;
		}
		SPF_server_set_rec_dom(c.l2, "bench.invalid");
	}

	if (do_l2)
		agreement(&c, IMPL_LIBSPF2, "libspf2", &co, show, &rl);
	if (do_ma)
		agreement(&c, IMPL_MAILAUTH, "mailauth", &co, show, &rm);

	/* Timed passes, interleaved so that both implementations see the
	 * same machine conditions; each runs until it has min_s seconds of
	 * timed work (or exactly `passes` passes). */
	double tm = 0, tl = 0, *ratem = NULL, *ratel = NULL;
	size_t pm = 0, pl = 0, cap = 0;
	for (;;) {
		bool more_m = do_ma && (passes > 0 ? (long)pm < passes : tm < min_s);
		bool more_l = do_l2 && (passes > 0 ? (long)pl < passes : tl < min_s);
		if (!more_m && !more_l)
			break;
		if (pm >= cap || pl >= cap) {
			cap = cap ? cap * 2 : 64;
			ratem = realloc(ratem, cap * sizeof(*ratem));
			ratel = realloc(ratel, cap * sizeof(*ratel));
			if (ratem == NULL || ratel == NULL) {
				fprintf(stderr, "out of memory\n");
				return 1;
			}
		}
		if (more_l) {
			double t = timed_pass(&c, IMPL_LIBSPF2, &co);
			tl += t;
			ratel[pl++] = (double)co.n / t;
		}
		if (more_m) {
			double t = timed_pass(&c, IMPL_MAILAUTH, &co);
			tm += t;
			ratem[pm++] = (double)co.n / t;
		}
	}
	if (do_ma) {
		rm.rate = (double)co.n * (double)pm / tm;
		spread("mailauth", ratem, pm);
	}
	if (do_l2) {
		rl.rate = (double)co.n * (double)pl / tl;
		spread("libspf2", ratel, pl);
	}
	free(ratem);
	free(ratel);

	if (do_ma) {
		printf("%-9s %zu/%zu agree  %8.0f checks/s", "mailauth", rm.agree, rm.n, rm.rate);
		if (do_l2)
			printf("  %.2fx libspf2", rm.rate / rl.rate);
		putchar('\n');
	}
	if (do_l2)
		printf("%-9s %zu/%zu agree  %8.0f checks/s  1.00x libspf2\n", "libspf2", rl.agree, rl.n, rl.rate);
	fflush(stdout);

	if (c.ma)
		ma_resolver_free(c.ma);
	if (c.l2)
		SPF_server_free(c.l2);
	if (c.l2dns)
		SPF_dns_free(c.l2dns);
	json_decref(co.root);
	free(co.q);
	return 0;
}
