/* DKIM (RFC 6376) verification and signing, with the RFC 8301 crypto rules
 * and Ed25519 (RFC 8463). */
#ifndef MA_DKIM_H
#define MA_DKIM_H

#include "msg.h"
#include "resolver.h"

#include <stdbool.h>
#include <stdint.h>

enum ma_dkim_result {
	MA_DKIM_NONE,
	MA_DKIM_PASS,
	MA_DKIM_FAIL,		/* cryptographic failure: body hash or signature */
	MA_DKIM_NEUTRAL,
	MA_DKIM_POLICY,		/* valid, but refused by local policy (l=, testing) */
	MA_DKIM_PERMERROR,
	MA_DKIM_TEMPERROR,
};

const char *ma_dkim_result_name(enum ma_dkim_result);

/* Parsed public keys, shared by verifications (thread-safe, bounded). */
struct ma_dkim_keycache;
struct ma_dkim_keycache *ma_dkim_keycache_new(size_t max_keys);
void	 ma_dkim_keycache_free(struct ma_dkim_keycache *);

struct ma_dkim_verify_opts {
	unsigned max_signatures;	/* default 10; further signatures are not checked */
	bool legacy;			/* accept rsa-sha1 and RSA keys from min_rsa_bits */
	unsigned min_rsa_bits;		/* default 1024; legacy default 512 */
	int64_t now;			/* 0 = time(NULL) */
	unsigned clock_skew;		/* seconds allowed for t= and x=; default 300 */
	bool strict_length;		/* l= not covering the whole body gives policy */
	struct ma_dkim_keycache *keys;	/* NULL = no key cache */
};

struct ma_dkim_sig {
	enum ma_dkim_result result;
	char reason[128];
	char domain[256];		/* d= */
	char selector[256];		/* s= */
	char algorithm[32];		/* a= */
	char identity[256];		/* i= (decoded), or "@" d= by default */
	char canon[24];			/* c= as header/body */
	char header_b[16];		/* the first 8 characters of b= (RFC 6008) */
	unsigned bits;			/* key size */
	bool testing;			/* key t=y */
	int64_t body_length;		/* l=, or -1 */
	bool body_partial;		/* l= shorter than the body */
	int64_t unsigned_bytes;		/* canonical body bytes after l=; -1 without l= */
	int64_t timestamp, expiration;	/* t=, x=, or -1 */
	size_t field;			/* index of the DKIM-Signature header field */
};

/* Verifies up to `max` signatures in header order (topmost first).  Returns
 * the number of DKIM-Signature fields written to out (0: none). */
size_t	 ma_dkim_verify(struct ma_resolver *, struct ma_budget *, const struct ma_msg *,
	    const struct ma_dkim_verify_opts *, struct ma_dkim_sig *out, size_t max);

/*
 * Signing.
 */
struct ma_dkim_key;
/* A private key from PEM (PKCS#1 or PKCS#8, RSA or Ed25519). */
struct ma_dkim_key *ma_dkim_key_load_pem(const char *pem, size_t len, char *err, size_t errlen);
struct ma_dkim_key *ma_dkim_key_load_file(const char *path, char *err, size_t errlen);
void	 ma_dkim_key_free(struct ma_dkim_key *);
/* "rsa" or "ed25519", and the size in bits. */
const char *ma_dkim_key_type(const struct ma_dkim_key *);
unsigned ma_dkim_key_bits(const struct ma_dkim_key *);
/* The DNS TXT record text for the public half ("v=DKIM1; k=...; p=..."). */
size_t	 ma_dkim_key_record(const struct ma_dkim_key *, char *buf, size_t len);
/* Generates a key: type "rsa" (bits >= 1024) or "ed25519". */
struct ma_dkim_key *ma_dkim_key_generate(const char *type, unsigned bits, char *err, size_t errlen);
/* PKCS#8 PEM of the private key into a malloc'd string. */
char	*ma_dkim_key_pem(const struct ma_dkim_key *);

struct ma_dkim_signer {
	const struct ma_dkim_key *key;
	const char *domain;		/* d= */
	const char *selector;		/* s= */
	const char *identity;		/* i=, optional */
	bool simple_headers, simple_body; /* default relaxed/relaxed */
	const char *headers;		/* colon-separated h= list; NULL = a default list
					 * with From over-signed */
	int64_t timestamp;		/* t=; 0 = now, -1 = none */
	int64_t expire_after;		/* x = t + this when > 0 */
};

/* Signs with several keys in one pass over the body.  Each header is a
 * malloc'd "DKIM-Signature: ..." field (folded, no final CRLF) in out[i],
 * NULL where that signer failed (with the reason in err).  Returns the
 * number of signatures made. */
size_t	 ma_dkim_sign(const struct ma_msg *, const struct ma_dkim_signer *, size_t n,
	    char **out, char *err, size_t errlen);

#endif
