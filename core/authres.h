/* Authentication-Results (RFC 8601): building, parsing, and recognising
 * fields that claim our authserv-id (which a receiver must remove). */
#ifndef MA_AUTHRES_H
#define MA_AUTHRES_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Building.  Values are quoted when RFC 8601's grammar needs it; text that
 * cannot appear in a header (controls, 8-bit in comments) is dropped.
 */
struct ma_ar {
	struct ma_sbuf b;
};

void	 ma_ar_init(struct ma_ar *, const char *authserv_id);
/* A resinfo: "method=result" with an optional reason= (quoted). */
void	 ma_ar_method(struct ma_ar *, const char *method, const char *result, const char *reason);
/* A property of the last resinfo: "ptype.property=value". */
void	 ma_ar_prop(struct ma_ar *, const char *ptype, const char *property, const char *value);
/* A comment "(text)" after the last element. */
void	 ma_ar_comment(struct ma_ar *, const char *text);
/* The whole field "Authentication-Results: ..." (folded with CRLF TAB, no
 * final CRLF), malloc'd; NULL on allocation failure.  Resets the builder. */
char	*ma_ar_finish(struct ma_ar *);

/*
 * The receiver's own field from its checks' results (core/authres_results.c):
 * one spf resinfo, one dkim resinfo per signature ("dkim=none" when the
 * message has none), one dmarc resinfo.  NULL or "" strings are left out.
 * A reason is given where it helps the reader of the field: for SPF and
 * DMARC errors, and for every DKIM result but pass.
 */
struct ma_ar_spf {
	const char *result, *reason, *domain, *sender;
	bool helo;			/* smtp.helo instead of smtp.mailfrom */
};

struct ma_ar_dkim {
	const char *result, *reason, *domain, *selector, *algorithm, *header_b;
	long long bits;			/* > 0: a "(2048-bit key)" comment */
	bool testing;			/* key t=y, in that comment */
};

struct ma_ar_dmarc {
	const char *result, *reason, *author_domain;
	const char *policy, *requested, *disposition;	/* policy NULL: no record */
	bool testing;			/* t=y lowered the policy */
	const char *arc;		/* an ARC result verified elsewhere, or NULL */
};

struct ma_ar_results {
	const char *authserv_id;
	const struct ma_ar_spf *spf;	/* NULL: no spf resinfo */
	bool have_dkim;			/* false: no dkim resinfo at all */
	const struct ma_ar_dkim *dkim;
	size_t ndkim;
	const struct ma_ar_dmarc *dmarc; /* NULL: no dmarc resinfo */
};

/* The field, as ma_ar_finish returns it (malloc'd; NULL without memory). */
char	*ma_authres_results(const struct ma_ar_results *);

/*
 * Parsing.
 */
#define MA_AR_MAX_RESULTS	32
#define MA_AR_MAX_PROPS		16

struct ma_ar_span {
	const char *p;		/* into the parsed text; quoted values keep quotes off */
	size_t len;
};

struct ma_ar_prop {
	struct ma_ar_span ptype, property, value;
};

struct ma_ar_result {
	struct ma_ar_span method, result, reason;
	struct ma_ar_prop props[MA_AR_MAX_PROPS];
	size_t nprops;
};

struct ma_ar_parsed {
	struct ma_ar_span authserv_id;
	unsigned version;	/* 1 when absent */
	bool none;		/* "; none" */
	struct ma_ar_result results[MA_AR_MAX_RESULTS];
	size_t nresults;
};

/* Parses a field value (after "Authentication-Results:").  Returns 0, or -1
 * with a reason; on error `out` still holds what was read before it. */
int	 ma_authres_parse(const char *value, size_t len, struct ma_ar_parsed *out,
	    char *err, size_t errlen);
/* True when the field's authserv-id is `id` (case-insensitive), i.e. the
 * field claims to come from us and must not be trusted or passed on.  A
 * field too broken to read its authserv-id counts as not ours. */
bool	 ma_authres_claims(const char *value, size_t len, const char *id);

#endif
