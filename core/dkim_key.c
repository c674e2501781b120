/* DKIM key records (RFC 6376 3.6.1, RFC 8463 4) and a cache of decoded
 * public keys: decoding a key costs more than verifying with it. */
#define OPENSSL_SUPPRESS_DEPRECATED	/* RSA_verify: the fastest verify path */
#include "dkim_key.h"
#include "b64.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int
dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *k, char *err, size_t errlen)
{
	struct ma_tag tags[32];
	int n = ma_tags_parse(txt, len, tags, 32, err, errlen);
	const struct ma_tag *t;

	memset(k, 0, sizeof(*k));
	if (n < 0)
		return -1;
	if ((t = ma_tags_get(tags, n, "v")) != NULL &&
	    (t != &tags[0] || !ma_strcaseeq(t->val, t->vallen, "DKIM1", 5))) {
		ma_bprintf(err, errlen, "key record: bad v= tag");
		return -1;
	}
	k->type = KEY_RSA;
	if ((t = ma_tags_get(tags, n, "k")) != NULL) {
		if (ma_strcaseeq(t->val, t->vallen, "ed25519", 7))
			k->type = KEY_ED25519;
		else if (!ma_strcaseeq(t->val, t->vallen, "rsa", 3)) {
			ma_bprintf(err, errlen, "key record: unknown key type k=%.*s",
			    (int)(t->vallen > 20 ? 20 : t->vallen), t->val);
			return -1;
		}
	}
	k->sha1 = k->sha256 = true;
	if ((t = ma_tags_get(tags, n, "h")) != NULL) {
		k->sha1 = ma_tags_list_has(t->val, t->vallen, "sha1");
		k->sha256 = ma_tags_list_has(t->val, t->vallen, "sha256");
	}
	k->email = true;
	if ((t = ma_tags_get(tags, n, "s")) != NULL)
		k->email = ma_tags_list_has(t->val, t->vallen, "*") || ma_tags_list_has(t->val, t->vallen, "email");
	if ((t = ma_tags_get(tags, n, "t")) != NULL) {
		k->testing = ma_tags_list_has(t->val, t->vallen, "y");
		k->strict = ma_tags_list_has(t->val, t->vallen, "s");
	}
	if ((t = ma_tags_get(tags, n, "g")) != NULL) {
		k->granularity = t->val;
		k->glen = t->vallen;
	}
	if ((t = ma_tags_get(tags, n, "p")) == NULL) {
		ma_bprintf(err, errlen, "key record: no p= tag");
		return -1;
	}
	k->p = t->val;
	k->plen = t->vallen;
	return 0;
}

void
dkim_pubkey_unref(struct dkim_pubkey *pk)
{
	if (pk && __atomic_sub_fetch(&pk->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		RSA_free(pk->rsa);
		EVP_PKEY_free(pk->pkey);
		free(pk);
	}
}

static struct dkim_pubkey *
decode(int type, const char *p, size_t plen, char *err, size_t errlen)
{
	unsigned char der[2048];
	long n = ma_b64_decode(p, plen, der, sizeof(der));
	struct dkim_pubkey *pk;

	if (n <= 0) {
		ma_bprintf(err, errlen, n == 0 ? "key revoked" : "key p= is not valid base64 or too large");
		return NULL;
	}
	if ((pk = calloc(1, sizeof(*pk))) == NULL) {
		ma_bprintf(err, errlen, "out of memory");
		return NULL;
	}
	pk->refs = 1;
	pk->type = type;
	if (type == KEY_ED25519) {
		/* RFC 8463 4: p= is the raw 32-byte key, nothing else
		 * (a SubjectPublicKeyInfo wrapping is an invalid key). */
		const unsigned char *raw = der;
		if (n != 32) {
			ma_bprintf(err, errlen, "Ed25519 key is not 32 bytes");
			free(pk);
			return NULL;
		}
		pk->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
		pk->bits = 256;
		if (pk->pkey == NULL) {
			ma_bprintf(err, errlen, "Ed25519 key not usable");
			free(pk);
			return NULL;
		}
		return pk;
	}
	/* RSA: SubjectPublicKeyInfo as deployed, or PKCS#1 RSAPublicKey as
	 * RFC 6376 3.6.1 literally says. */
	const unsigned char *q = der;
	pk->rsa = d2i_RSA_PUBKEY(NULL, &q, n);
	if (pk->rsa == NULL || q != der + n) {
		RSA_free(pk->rsa);
		q = der;
		pk->rsa = d2i_RSAPublicKey(NULL, &q, n);
		if (pk->rsa != NULL && q != der + n) {
			RSA_free(pk->rsa);
			pk->rsa = NULL;
		}
	}
	if (pk->rsa == NULL) {
		ma_bprintf(err, errlen, "RSA key cannot be decoded");
		free(pk);
		return NULL;
	}
	pk->bits = (unsigned)RSA_bits(pk->rsa);
	return pk;
}

/* ---- the cache: direct-mapped slots, a collision replaces ---- */

struct slot {
	uint32_t hash;
	int type;
	char *p;
	size_t plen;
	struct dkim_pubkey *pk;
};

struct ma_dkim_keycache {
	pthread_mutex_t lock;
	size_t n;
	struct slot *slots;
};

struct ma_dkim_keycache *
ma_dkim_keycache_new(size_t max)
{
	struct ma_dkim_keycache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->n = max ? max : 1024;
	c->slots = calloc(c->n, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void
ma_dkim_keycache_free(struct ma_dkim_keycache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->slots[i].p);
		dkim_pubkey_unref(c->slots[i].pk);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
}

struct dkim_pubkey *
dkim_pubkey_get(struct ma_dkim_keycache *c, int type, const char *p, size_t plen, char *err, size_t errlen)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	struct dkim_pubkey *pk;

	if (c == NULL)
		return decode(type, p, plen, err, errlen);
	for (size_t i = 0; i < plen; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	struct slot *s = &c->slots[h % c->n];
	pthread_mutex_lock(&c->lock);
	if (s->pk && s->hash == h && s->type == type && s->plen == plen && memcmp(s->p, p, plen) == 0) {
		pk = s->pk;
		__atomic_add_fetch(&pk->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&c->lock);
		return pk;
	}
	pthread_mutex_unlock(&c->lock);
	if ((pk = decode(type, p, plen, err, errlen)) == NULL)
		return NULL;
	char *copy = malloc(plen ? plen : 1);
	if (copy == NULL)
		return pk;
	memcpy(copy, p, plen);
	pthread_mutex_lock(&c->lock);
	free(s->p);
	dkim_pubkey_unref(s->pk);
	s->hash = h;
	s->type = type;
	s->p = copy;
	s->plen = plen;
	s->pk = pk;
	__atomic_add_fetch(&pk->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->lock);
	return pk;
}

int
dkim_pubkey_verify(const struct dkim_pubkey *pk, int nid, const unsigned char *digest, size_t dlen,
    const unsigned char *sig, size_t siglen)
{
	if (pk->type == KEY_RSA)
		return RSA_verify(nid, digest, (unsigned)dlen, sig, (unsigned)siglen, pk->rsa) == 1 ? 0 : -1;
	/* Ed25519 signs the SHA-256 digest of the header data (RFC 8463 3). */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, digest, dlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}
