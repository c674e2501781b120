/* The RFC 5322 From field as DMARC needs it: the author domains. */
#ifndef MA_FROM_H
#define MA_FROM_H

#include "msg.h"

#include <stdbool.h>
#include <stddef.h>

#define MA_FROM_MAX	16

enum ma_from_status {
	MA_FROM_OK,		/* one field; its addresses share one domain */
	MA_FROM_NONE,		/* no From field */
	MA_FROM_FIELDS,		/* more than one From field */
	MA_FROM_DOMAINS,	/* one field, addresses in different domains */
	MA_FROM_SYNTAX,		/* no usable address in the field */
};

struct ma_from {
	enum ma_from_status status;
	size_t nfields;			/* From fields in the message */
	size_t naddrs;			/* mailboxes found (all fields) */
	size_t ndomains;		/* distinct domains, lower-case */
	char domains[MA_FROM_MAX][256];
	char reason[128];
};

const char *ma_from_status_name(enum ma_from_status);

/* Parses one From field value (address-list with display names, comments,
 * quoted strings, groups, obsolete forms) and adds each mailbox's domain
 * to out.  Returns the number of mailboxes, or -1 on a syntax error. */
int	 ma_from_parse(const char *value, size_t len, struct ma_from *out);
/* All From fields of a message. */
enum ma_from_status ma_from_extract(const struct ma_msg *, struct ma_from *out);

#endif
