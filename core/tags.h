/* Tag=value lists (RFC 6376 3.2), shared by DKIM signatures and keys,
 * DMARC, TLS-RPT and MTA-STS records. */
#ifndef MA_TAGS_H
#define MA_TAGS_H

#include <stdbool.h>
#include <stddef.h>

struct ma_tag {
	const char *name;
	size_t namelen;
	const char *val;	/* FWS around the value removed, inside kept */
	size_t vallen;
};

/* Parses s into at most max tags.  Returns the number of tags, or -1 with a
 * reason on a syntax error, a duplicate tag name or more than max tags. */
int	 ma_tags_parse(const char *s, size_t len, struct ma_tag *tags, size_t max,
	    char *err, size_t errlen);
/* True when a colon-separated list value (FWS around items allowed)
 * holds item, compared case-insensitively (DKIM h=, q=, s=, t=). */
bool	 ma_tags_list_has(const char *val, size_t len, const char *item);

/* The tag named name (case-sensitive, as RFC 6376 says), or NULL. */
const struct ma_tag *ma_tags_get(const struct ma_tag *, int n, const char *name);

#endif
