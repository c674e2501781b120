/* DKIM public keys: the key record and the decoded key (internal). */
#ifndef MA_DKIM_KEY_H
#define MA_DKIM_KEY_H

#include "dkim_int.h"

#include <openssl/rsa.h>

enum { KEY_RSA = 1, KEY_ED25519 = 2 };

struct dkim_keyrec {
	int type;
	bool sha1, sha256;	/* h= allows */
	bool email;		/* s= allows email */
	bool testing, strict;	/* t=y, t=s */
	const char *granularity;	/* g= (RFC 4871), NULL when absent */
	size_t glen;
	const char *p;		/* p= base64, empty = revoked */
	size_t plen;
};

int	 dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *, char *err, size_t errlen);

struct dkim_pubkey {
	int refs;
	int type;
	unsigned bits;
	RSA *rsa;
	EVP_PKEY *pkey;
};

/* Decoded key for p= (through the cache when there is one); NULL with a
 * reason ("key revoked" for an empty p=). */
struct dkim_pubkey *dkim_pubkey_get(struct ma_dkim_keycache *, int type, const char *p, size_t plen,
	    char *err, size_t errlen);
void	 dkim_pubkey_unref(struct dkim_pubkey *);
/* 0 when sig verifies over digest (nid: NID_sha256 or NID_sha1). */
int	 dkim_pubkey_verify(const struct dkim_pubkey *, int nid, const unsigned char *digest, size_t dlen,
	    const unsigned char *sig, size_t siglen);

#endif
