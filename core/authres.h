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
