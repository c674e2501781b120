/*
 * The resolver: one interface, several backends (one file each).
 *
 *   resolver_net.c       real DNS through c-ares (UDP, TCP fallback, EDNS0)
 *   resolver_fixture.c   answers from data (the conformance zonedata format)
 *   resolver_callback.c  answers from a host function (the Lua binding)
 *
 * Every lookup goes through ma_resolve(), which applies the per-evaluation
 * budget, consults the shared cache and hands the misses, all at once, to the
 * backend so that independent queries are in flight together.
 */
#ifndef MA_RESOLVER_H
#define MA_RESOLVER_H

#include "dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One query of a batch.  `ans` is filled by ma_resolve() with a reference
 * the caller releases with ma_answer_unref(); it is never NULL afterwards. */
struct ma_query {
	const char *name;	/* presentation form, no trailing dot needed */
	uint16_t type;
	struct ma_answer *ans;
};

/* The per-evaluation (per-message) budget, shared by every check of one
 * message.  Zero limits mean "no limit". */
struct ma_budget {
	unsigned max_queries;	/* DNS queries sent or answered from cache */
	unsigned queries;
	int64_t deadline;	/* ma_now_ms() value; 0 = none */
};

void	 ma_budget_init(struct ma_budget *, unsigned max_queries, unsigned timeout_ms);
/* Milliseconds left before the deadline (INT64_MAX without one, 0 when past). */
int64_t	 ma_budget_left(const struct ma_budget *);

/* Backend interface. */
struct ma_resolver_ops {
	const char *name;
	/* Answer every query in q[0..n); set q[i].ans (a new reference).
	 * Must return by `deadline` (monotonic ms, 0 = backend timeout only). */
	void	(*lookup)(void *impl, struct ma_query *q, size_t n, int64_t deadline);
	void	(*free)(void *impl);
	/* lookup may run in several threads at once (immutable data): no lock. */
	bool reentrant;
};

struct ma_cache;
struct ma_resolver;

struct ma_resolver *ma_resolver_new(const struct ma_resolver_ops *, void *impl);
void	 ma_resolver_free(struct ma_resolver *);
const char *ma_resolver_backend(const struct ma_resolver *);
/* Attach a cache (shared: reference-counted, thread-safe); NULL detaches. */
void	 ma_resolver_set_cache(struct ma_resolver *, struct ma_cache *);
bool	 ma_resolver_has_cache(const struct ma_resolver *);

/* Resolve a batch.  With a budget, queries past max_queries or the deadline
 * are answered MA_DNS_LIMIT without being sent.  Returns the number of
 * queries that went to the backend (cache misses). */
size_t	 ma_resolve(struct ma_resolver *, struct ma_budget *, struct ma_query *, size_t n);
/* One query; returns the answer (a reference). */
struct ma_answer *ma_resolve1(struct ma_resolver *, struct ma_budget *, const char *name, uint16_t type);
/* Release the answers of a batch. */
void	 ma_query_release(struct ma_query *, size_t n);

/*
 * The cache: TTL-aware, negative answers (NXDOMAIN, NODATA) included,
 * bounded by entries; failures (SERVFAIL, timeouts) are never cached.
 */
struct ma_cache *ma_cache_new(size_t max_entries, uint32_t max_ttl, uint32_t neg_ttl);
struct ma_cache *ma_cache_ref(struct ma_cache *);
void	 ma_cache_unref(struct ma_cache *);
struct ma_answer *ma_cache_get(struct ma_cache *, const char *name, uint16_t type, int64_t now);
void	 ma_cache_put(struct ma_cache *, const char *name, uint16_t type, struct ma_answer *, int64_t now);
struct ma_cache_stats { size_t entries, hits, misses, evictions; };
void	 ma_cache_stats(struct ma_cache *, struct ma_cache_stats *);

/*
 * Network backend (c-ares).
 */
struct ma_net_opts {
	const char *servers;	/* "IP@PORT,IP,..." ; NULL = /etc/resolv.conf */
	unsigned timeout_ms;	/* per try; default 2000 */
	unsigned tries;		/* default 2 */
	unsigned edns_size;	/* EDNS0 payload; 0 = 1232, 1 = EDNS off */
	bool tcp;		/* always use TCP */
};
struct ma_resolver *ma_resolver_new_net(const struct ma_net_opts *, char *err, size_t errlen);

/*
 * Fixture backend: zone data built in memory.
 */
struct ma_fixture;
struct ma_fixture *ma_fixture_new(void);
void	 ma_fixture_free(struct ma_fixture *);
/* Records: names are case-insensitive; TXT strings keep their bytes. */
bool	 ma_fixture_add_a(struct ma_fixture *, const char *name, const char *addr);
bool	 ma_fixture_add_aaaa(struct ma_fixture *, const char *name, const char *addr);
bool	 ma_fixture_add_name(struct ma_fixture *, const char *name, uint16_t type, const char *target);
bool	 ma_fixture_add_mx(struct ma_fixture *, const char *name, unsigned pref, const char *host);
bool	 ma_fixture_add_txt(struct ma_fixture *, const char *name, uint16_t type,
		    const struct ma_txt_string *, size_t nstr);
/* The name exists but has no record of any type (NODATA rather than NXDOMAIN). */
bool	 ma_fixture_add_empty(struct ma_fixture *, const char *name);
/* Lookups at name for types without records time out / fail. */
bool	 ma_fixture_set_timeout(struct ma_fixture *, const char *name);
bool	 ma_fixture_set_servfail(struct ma_fixture *, const char *name);
/* The suite's rule: SPF records are also served as TXT at names with no TXT
 * entry at all (a "TXT": "NONE" entry counts as one). */
bool	 ma_fixture_mark_txt(struct ma_fixture *, const char *name);
/* Load zonedata JSON ({name: [records]} or {name: {TYPE: [values]}}).
 * Returns false with a message in err. */
bool	 ma_fixture_load_json(struct ma_fixture *, const char *buf, size_t len, char *err, size_t errlen);
bool	 ma_fixture_load_file(struct ma_fixture *, const char *path, char *err, size_t errlen);
/* Seal: builds the answers.  Required before use; no adds afterwards. */
void	 ma_fixture_seal(struct ma_fixture *);
/* The fixture is owned by the resolver afterwards. */
struct ma_resolver *ma_resolver_new_fixture(struct ma_fixture *);

/*
 * Callback backend: fn fills the answer for one query (return a new
 * reference, e.g. from ma_ab_finish(), or a ma_answer_status()).
 */
typedef struct ma_answer *(*ma_resolver_fn)(void *ctx, const char *name, uint16_t type);
struct ma_resolver *ma_resolver_new_callback(ma_resolver_fn, void *ctx);

#endif
