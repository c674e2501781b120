/* DMARC (RFC 9989, with an RFC 7489 mode): policy discovery by the DNS
 * Tree Walk, identifier alignment, the policy to apply, report targets. */
#ifndef MA_DMARC_H
#define MA_DMARC_H

#include "resolver.h"

#include <stdbool.h>
#include <stdint.h>

enum ma_dmarc_result {
	MA_DMARC_NONE,
	MA_DMARC_PASS,
	MA_DMARC_FAIL,
	MA_DMARC_TEMPERROR,
	MA_DMARC_PERMERROR,
};

enum ma_dmarc_policy {
	MA_POLICY_UNSET,	/* tag absent */
	MA_POLICY_NONE,
	MA_POLICY_QUARANTINE,
	MA_POLICY_REJECT,
	MA_POLICY_INVALID,	/* present with a value outside the three */
};

const char *ma_dmarc_result_name(enum ma_dmarc_result);
const char *ma_dmarc_policy_name(enum ma_dmarc_policy);

#define MA_DMARC_MAX_URIS	8

/* A parsed DMARC record (RFC 9989 4.7, 4.8). */
struct ma_dmarc_record {
	enum ma_dmarc_policy p, sp, np;
	char psd;			/* 'y', 'n' or 'u' */
	bool testing;			/* t=y */
	bool adkim_strict, aspf_strict;
	int pct;			/* RFC 7489 only; 100 when absent or invalid */
	long ri;			/* RFC 7489 only (report interval); 86400 by default */
	char rf[32];			/* RFC 7489 only (failure report format); "afrf" */
	char fo[16];
	size_t nrua, nruf;
	char rua[MA_DMARC_MAX_URIS][256], ruf[MA_DMARC_MAX_URIS][256];
	bool rua_valid;			/* at least one syntactically valid rua URI */
};

/* Parses a TXT record.  Returns 1 for a DMARC record (v=DMARC1 first),
 * 0 for a record that is not DMARC at all.  Bad values in other tags fall
 * back to their defaults, as RFC 9989 4.8 says. */
int	 ma_dmarc_record_parse(const char *txt, size_t len, struct ma_dmarc_record *);

/* The Public Suffix List for RFC 7489 mode (libpsl over Debian's
 * publicsuffix data).  Read-only once loaded; share it between threads. */
struct ma_psl;
struct ma_psl *ma_psl_load(const char *path, char *err, size_t errlen);	/* NULL path: the system list */
void	 ma_psl_free(struct ma_psl *);
/* The organizational domain (registrable domain) of name, into out;
 * false when name is itself a public suffix. */
bool	 ma_psl_org_domain(const struct ma_psl *, const char *name, char *out, size_t outlen);

/* Identifier alignment of two domains by the Public Suffix List (RFC 7489
 * 3.1; strict: equal names).  Stray dots around the names are ignored. */
bool	 ma_dmarc_aligned_psl(const struct ma_psl *, const char *a, const char *b, bool strict);

struct ma_dmarc_identity {
	const char *domain;
	bool pass;			/* only passing identifiers can align */
	int64_t unsigned_bytes;		/* DKIM: body bytes an l= leaves unsigned; -1 none */
};

struct ma_dmarc_request {
	const char *author_domain;	/* from the RFC 5322 From field */
	struct ma_dmarc_identity spf;	/* the SPF MAIL FROM domain and result */
	bool spf_helo;			/* spf is the HELO identity (null MAIL FROM):
					 * RFC 9989 4.4.2 aligns MAIL FROM only; RFC 7489
					 * falls back to HELO */
	const struct ma_dmarc_identity *dkim;	/* DKIM d= and results */
	size_t ndkim;
	bool rfc7489;			/* RFC 7489 mode (PSL, pct) */
	const struct ma_psl *psl;	/* required in RFC 7489 mode */
	unsigned sample;		/* 0-99, compared with pct in RFC 7489 mode */
	bool check_reports;		/* verify external rua/ruf destinations */
};

struct ma_dmarc_uri {
	char uri[256];
	bool external;			/* another organizational domain */
	bool authorized;		/* usable: internal, or _report._dmarc record */
	bool checked;			/* the authorization was looked up */
};

struct ma_dmarc_outcome {
	enum ma_dmarc_result result;
	char reason[160];
	enum ma_dmarc_policy policy;	/* the policy to apply on failure, after t=/pct */
	enum ma_dmarc_policy requested;	/* before t=y / pct */
	const char *policy_tag;		/* "p", "sp", "np" or NULL */
	bool testing;			/* t=y lowered the policy (or pct sampled it out) */
	enum ma_dmarc_policy disposition; /* what this message gets: policy on fail, else none */
	char author_domain[256];
	char policy_domain[256];	/* where the applied record was found */
	char org_domain[256];		/* of the author domain */
	char record[512];		/* the applied record as published */
	struct ma_dmarc_record rec;
	bool have_record;
	bool spf_aligned, dkim_aligned;
	bool spf_strict, dkim_strict;
	char dkim_domain[256];		/* the d= that aligned, or "" */
	int64_t dkim_unsigned;		/* unsigned body bytes of the DKIM signature
					 * reported (the aligned one, else the first
					 * passing one that has l=); -1 none */
	int author_exists;		/* 1, 0 (NXDOMAIN) or -1 (not asked / unknown) */
	const char *discovery;		/* "tree-walk" or "psl" */
	bool rfc7489;			/* the mode it ran in */
	struct ma_dmarc_uri rua[MA_DMARC_MAX_URIS], ruf[MA_DMARC_MAX_URIS];
	size_t nrua, nruf;
	bool reports_checked;		/* rua/ruf external and authorized are set */
	unsigned queries;
	const char *from_status;	/* ma_check_message: the From field's state */
	size_t author_domains;		/* ... and how many author domains it had */
};

/* Evaluates DMARC for one author domain. */
void	 ma_dmarc_check(struct ma_resolver *, struct ma_budget *, const struct ma_dmarc_request *,
	    struct ma_dmarc_outcome *);

/* A random sample in 0-99 for RFC 7489's pct= (each message its own draw). */
unsigned ma_dmarc_sample(void);

struct ma_msg;
/* DMARC for a message: the author domain comes from its From field.  No
 * From field, several From fields or an unparsable one give permerror (the
 * message is not RFC 5322 mail and DMARC cannot be evaluated: never a
 * pass); addresses in several domains are each evaluated (up to four) and
 * the strictest failing policy wins (RFC 9989 11.5). */
void	 ma_dmarc_check_message(struct ma_resolver *, struct ma_budget *, const struct ma_msg *,
	    const struct ma_dmarc_request *, struct ma_dmarc_outcome *);

/* The organizational domain of name by the RFC 9989 DNS Tree Walk.
 * Returns 0, or -1 on a DNS error (out holds ""). */
int	 ma_dmarc_org_domain(struct ma_resolver *, struct ma_budget *, const char *name,
	    char *out, size_t outlen);

#endif
