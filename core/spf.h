/* SPF (RFC 7208): check_host() for the MAIL FROM or HELO identity. */
#ifndef MA_SPF_H
#define MA_SPF_H

#include "resolver.h"

#include <stdbool.h>
#include <stdint.h>

enum ma_spf_result {
	MA_SPF_NONE,
	MA_SPF_NEUTRAL,
	MA_SPF_PASS,
	MA_SPF_FAIL,
	MA_SPF_SOFTFAIL,
	MA_SPF_TEMPERROR,
	MA_SPF_PERMERROR,
};

struct ma_spf_request {
	const char *ip;			/* client address, IPv4 or IPv6 text */
	const char *helo;		/* HELO/EHLO argument */
	const char *mail_from;		/* NULL or "" = the null reverse-path */
	bool helo_identity;		/* check HELO instead of MAIL FROM */
	const char *receiver;		/* %{r} and Received-SPF; NULL = "unknown" */
	int64_t now;			/* %{t}; 0 = time(NULL) */
	unsigned max_terms;		/* DNS-querying terms; 0 = 10 */
	unsigned max_void;		/* void lookups; 0 = 2 */
	const char *default_explanation; /* used on fail without exp=; NULL = none */
};

#define MA_SPF_TEXT_MAX	1024

struct ma_spf_outcome {
	enum ma_spf_result result;
	bool helo_identity;		/* which identity was checked */
	char domain[256];		/* the identity's domain */
	char sender[512];		/* local@domain as checked (postmaster@helo ...) */
	char mechanism[256];		/* the matching term, "default", or "" */
	char explanation[MA_SPF_TEXT_MAX]; /* fail only; "" when none */
	char reason[256];		/* human-readable, always set */
	unsigned lookups;		/* DNS-querying terms evaluated */
	unsigned void_lookups;
	unsigned queries;		/* DNS queries made (cache hits included) */
};

const char *ma_spf_result_name(enum ma_spf_result);

/* Evaluate.  Returns 0 with `out` filled, or -1 when the request itself is
 * unusable (an unparsable client IP): a caller's mistake, not a result.
 * budget may be NULL (then only the SPF limits apply). */
int	 ma_spf_check(struct ma_resolver *, struct ma_budget *,
	    const struct ma_spf_request *, struct ma_spf_outcome *out);

/* The Received-SPF header field (RFC 7208 9.1), "Received-SPF: ..." without
 * CRLF.  Returns the full length (output truncated to len-1). */
size_t	 ma_spf_received(const struct ma_spf_request *, const struct ma_spf_outcome *,
	    char *buf, size_t len);

/* Record syntax alone (for publishing checks and the fuzzer): 0 when the
 * record parses, else -1 with the reason. */
int	 ma_spf_parse_check(const char *record, size_t len, char *reason, size_t rlen);

#endif
