/* DKIM internals shared by dkim_*.c. */
#ifndef MA_DKIM_INT_H
#define MA_DKIM_INT_H

#include "dkim.h"
#include "tags.h"
#include "util.h"

#include <openssl/evp.h>

enum { CANON_SIMPLE = 0, CANON_RELAXED = 1 };

/* One body hash: a canonicalization, a digest and an l= limit.  Signatures
 * that agree on all three share it. */
struct dkim_bh {
	int canon;
	const EVP_MD *md;
	int64_t limit;			/* -1: the whole body */
	uint64_t hashed;
	EVP_MD_CTX *ctx;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned dlen;
};

#define DKIM_MAX_BH	16

struct dkim_canon_state {
	uint64_t pending;		/* empty lines held back */
	bool mid;			/* content written on the current line */
	bool wsp;			/* relaxed: whitespace seen since content */
	bool cr;			/* a CR held at the end of the last chunk */
	uint64_t out;			/* bytes produced */
};

struct dkim_body {
	struct dkim_bh bh[DKIM_MAX_BH];
	size_t n;
	bool need[2];
	struct dkim_canon_state st[2];
	unsigned char buf[8192];	/* relaxed output, flushed when full */
	size_t buflen;
};

void	 dkim_body_init(struct dkim_body *);
/* Index of the body hash for (canon, md, limit), added if new; -1 if full. */
int	 dkim_body_want(struct dkim_body *, int canon, const EVP_MD *, int64_t limit);
/* Feeds raw body bytes (CRLF line ends); suitable as a ma_body_fn. */
int	 dkim_body_feed(void *body, const unsigned char *p, size_t n);
/* Completes every hash.  Returns 0, or -1 on a digest error. */
int	 dkim_body_finish(struct dkim_body *);
/* Canonical body length for canon (after finish). */
uint64_t dkim_body_length(const struct dkim_body *, int canon);
void	 dkim_body_free(struct dkim_body *);

/* Hashes one header field canonicalized; with strip_b the value of the
 * b= tag is removed (the signature's own field) and no CRLF follows. */
int	 dkim_hash_header(EVP_MD_CTX *, int canon, const char *raw, size_t len, bool strip_b);

/* Parses "simple/relaxed" etc.  Returns false on an unknown value. */
bool	 dkim_parse_canon(const char *s, size_t len, int *hc, int *bc);

/* The default list of header fields to sign, From over-signed. */
extern const char dkim_default_headers[];

#endif
