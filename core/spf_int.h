/* SPF internals shared by spf.c, spf_record.c and spf_macro.c. */
#ifndef MA_SPF_INT_H
#define MA_SPF_INT_H

#include "ip.h"
#include "spf.h"
#include "util.h"

enum spf_mech {
	M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	char qual;			/* '+', '-', '~', '?' */
	const char *spec;		/* domain-spec, NULL when absent */
	size_t speclen;
	unsigned cidr4, cidr6;
	unsigned char addr[16];		/* ip4/ip6 network */
	const char *text;		/* the term as written */
	size_t textlen;
};

struct spf_record {
	struct spf_term *terms;
	size_t nterms;
	const char *redirect, *exp;	/* modifier values, NULL when absent */
	size_t redirectlen, explen;
};

/* Parses record text (after selection) into rec using arena memory.
 * Returns 0, or -1 with a reason. */
int	 spf_record_parse(const char *s, size_t len, struct spf_record *rec,
	    struct ma_arena *, char *reason, size_t rlen);
/* True when s starts with "v=spf1" followed by a space or the end. */
bool	 spf_is_record(const unsigned char *s, size_t len);

/* Macro syntax: domain-spec (no c/r/t, must end in a valid toplabel or a
 * macro) or explain-string (spaces and c/r/t allowed). */
bool	 spf_macro_valid(const char *s, size_t len, bool explain);
bool	 spf_domain_spec_valid(const char *s, size_t len);

struct spf_eval;
/* Expands into out (NUL-terminated).  Returns the length, or -1 when the
 * expansion does not fit outlen. */
long	 spf_macro_expand(struct spf_eval *, const char *s, size_t len, bool explain,
	    const char *domain, char *out, size_t outlen);
/* Trims an expanded name to 253 octets from the left (RFC 7208 7.3). */
size_t	 spf_name_truncate(char *name, size_t len);

#define SPF_XBUF	8192

/* The evaluation state (spf.c); the macro expander reads identity fields
 * and asks for the validated PTR name. */
struct spf_eval {
	struct ma_resolver *r;
	struct ma_budget *budget;
	const struct ma_spf_request *req;
	struct ma_spf_outcome *out;
	struct ma_arena arena;
	struct ma_ip ip;
	const char *local, *sender_domain, *helo;
	size_t locallen;
	unsigned max_terms, max_void;
	int64_t now;
	char *xbuf;		/* SPF_XBUF bytes: macro expansion before truncation */
	unsigned in_include;	/* nesting of include: evaluations */
	/* Validated PTR names, computed at most once. */
	bool ptr_done;
	char **ptr_names;
	size_t nptr;
};

/* The validated host names of the client (RFC 7208 5.5), at most 10. */
void	 spf_validated_names(struct spf_eval *);

#endif
