/* MTA-STS (RFC 8461): the _mta-sts record, the policy file, its HTTPS
 * fetch, a cache safe for many processes, and what a delivery must do. */
#ifndef MA_MTASTS_H
#define MA_MTASTS_H

#include "resolver.h"

#include <stdbool.h>
#include <stdint.h>

enum ma_sts_mode { MA_STS_MODE_NONE, MA_STS_MODE_TESTING, MA_STS_MODE_ENFORCE };

const char *ma_sts_mode_name(enum ma_sts_mode);

/* _mta-sts TXT (3.1): "v=STSv1" first, id 1-32 alphanumerics.  Returns 0
 * with the id, or -1 with a reason. */
int	 ma_sts_record_parse(const char *txt, size_t len, char id[33], char *err, size_t errlen);
/* True when the text starts like an STS record (v=STSv1), valid or not. */
bool	 ma_sts_record_is_sts(const char *txt, size_t len);

#define MA_STS_MAX_MX		64
#define MA_STS_MAX_BODY		65536	/* 3.3: at most 64 KiB */
#define MA_STS_MAX_AGE		31557600

struct ma_sts_policy {
	enum ma_sts_mode mode;
	uint32_t max_age;
	size_t nmx;
	char mx[MA_STS_MAX_MX][256];	/* patterns as published, lower-case */
};

/* The policy file (3.2): CRLF or LF, unknown keys ignored, version STSv1,
 * mode, max_age up to 31557600, mx one or more (required unless mode is
 * none).  Returns 0, or -1 with a reason. */
int	 ma_sts_policy_parse(const char *body, size_t len, struct ma_sts_policy *, char *err, size_t errlen);
/* The id to publish in _mta-sts for a policy text (3.1: 1-32 letters and
 * digits): 32 hex digits of its SHA-256, so that the id changes exactly
 * when the policy does and senders refetch it. */
void	 ma_sts_policy_id(const char *body, size_t len, char id[33]);
/* 4.1: a pattern "*.example.net" matches exactly one more left-most label. */
bool	 ma_sts_mx_match(const char *pattern, const char *host);
/* 3.3: "text/plain", parameters allowed. */
bool	 ma_sts_content_type_ok(const char *content_type);

/* HTTPS fetch of https://mta-sts.<domain>/.well-known/mta-sts.txt. */
struct ma_sts_fetch_opts {
	const char *ca_file;		/* NULL: the system store */
	unsigned connect_timeout_ms;	/* default 10000 */
	unsigned timeout_ms;		/* the whole exchange; default 30000 */
	unsigned port;			/* 0: 443 (tests use others) */
};

enum ma_sts_fetch_status {
	MA_STS_FETCH_OK,
	MA_STS_FETCH_DNS,		/* the host name did not resolve */
	MA_STS_FETCH_CONNECT,
	MA_STS_FETCH_TLS,		/* certificate or handshake */
	MA_STS_FETCH_HTTP,		/* not 200 (redirects included) */
	MA_STS_FETCH_CONTENT_TYPE,
	MA_STS_FETCH_TOO_LARGE,
	MA_STS_FETCH_TIMEOUT,
	MA_STS_FETCH_OTHER,		/* anything else */
};

struct ma_sts_fetch_result {
	enum ma_sts_fetch_status status;
	long http_status;
	char reason[200];
	char *body;			/* malloc'd, NUL-terminated; NULL unless OK */
	size_t len;
};

const char *ma_sts_fetch_status_name(enum ma_sts_fetch_status);
void	 ma_sts_fetch(struct ma_resolver *, struct ma_budget *, const char *domain,
	    const struct ma_sts_fetch_opts *, struct ma_sts_fetch_result *);
void	 ma_sts_fetch_result_free(struct ma_sts_fetch_result *);

/*
 * The cache: one file per domain in a directory, replaced atomically
 * (write a temporary file, rename it), so any number of processes read and
 * write it without locks and a reader never sees half a policy.
 */
struct ma_sts_cached {
	char id[33];
	int64_t fetched, expires;	/* unix time */
	struct ma_sts_policy policy;
	char text[MA_STS_MAX_BODY + 1];	/* the policy as served */
	size_t len;
};

/* 0 when a cache entry exists (expired or not), -1 otherwise. */
int	 ma_sts_cache_get(const char *dir, const char *domain, struct ma_sts_cached *);
int	 ma_sts_cache_put(const char *dir, const char *domain, const struct ma_sts_cached *,
	    char *err, size_t errlen);
int	 ma_sts_cache_remove(const char *dir, const char *domain);
/* A failed fetch for a record id, remembered so that one id is not
 * refetched more often than every five minutes (3.3). */
void	 ma_sts_cache_fail_put(const char *dir, const char *domain, const char *id, int64_t when);
/* When the last fetch for id failed, or 0. */
int64_t	 ma_sts_cache_fail_get(const char *dir, const char *domain, const char *id);

/* Discovery (RFC 8461 3.3, 5.1) with the cache. */
enum ma_sts_status {
	MA_STS_VALID,		/* a policy applies (fetched or cached) */
	MA_STS_NONE,		/* the domain has no policy */
	MA_STS_FETCH_ERROR,	/* a record exists (or DNS failed) but no policy could be had */
};

struct ma_sts_discover_opts {
	const char *cache_dir;		/* NULL: no cache */
	struct ma_sts_fetch_opts fetch;
	int64_t now;			/* 0 = time(NULL) */
	bool force;			/* refetch even when the id did not change, and
					 * through the failed-fetch back-off */
};

struct ma_sts_outcome {
	enum ma_sts_status status;
	char reason[256];
	char record_id[33];		/* from DNS, "" when none */
	const char *source;		/* "fetched", "cache", or NULL */
	bool have_policy;
	struct ma_sts_policy policy;
	char id[33];			/* the id the policy was fetched under */
	int64_t fetched, expires;
	bool cache_written;
	enum ma_sts_fetch_status fetch_status;	/* of a fetch attempted */
	bool fetch_attempted;
};

const char *ma_sts_status_name(enum ma_sts_status);
void	 ma_sts_discover(struct ma_resolver *, struct ma_budget *, const char *domain,
	    const struct ma_sts_discover_opts *, struct ma_sts_outcome *);

/* Proactive refresh for a cron job (RFC 8461 10.2): every domain in the
 * cache is rediscovered; a policy within `margin` seconds of expiry (or
 * past half its max_age) is refetched even when its id did not change, so
 * it never lapses while the domain still publishes it.  fn, when given, is
 * told each domain's outcome.  Returns the number of domains visited. */
typedef void (*ma_sts_refresh_fn)(void *ctx, const char *domain, const struct ma_sts_outcome *);
size_t	 ma_sts_refresh(struct ma_resolver *, const struct ma_sts_discover_opts *, int64_t margin,
	    ma_sts_refresh_fn, void *ctx);

/* What a delivery to this domain must do with its MX hosts. */
struct ma_sts_delivery {
	bool tls_required;		/* enforce: verified TLS or no delivery */
	bool report_only;		/* testing: deliver, report failures */
	size_t nallowed;
	size_t allowed[MA_STS_MAX_MX];	/* indexes into the MX list given */
};
void	 ma_sts_delivery(const struct ma_sts_policy *, const char *const *mx, size_t nmx,
	    struct ma_sts_delivery *);

#endif
