/* DKIM signing (RFC 6376 5): several keys in one pass over the body. */
#include "dkim_int.h"
#include "b64.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ma_dkim_key {
	EVP_PKEY *pkey;
	bool ed25519;
};

static struct ma_dkim_key *
wrap(EVP_PKEY *pk, char *err, size_t errlen)
{
	struct ma_dkim_key *k;
	int id = EVP_PKEY_get_base_id(pk);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		ma_bprintf(err, errlen, "not an RSA or Ed25519 key");
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) < 1024) {
		ma_bprintf(err, errlen, "RSA key smaller than 1024 bits (RFC 8301)");
		EVP_PKEY_free(pk);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pk);
		ma_bprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->pkey = pk;
	k->ed25519 = id == EVP_PKEY_ED25519;
	return k;
}

struct ma_dkim_key *
ma_dkim_key_load_pem(const char *pem, size_t len, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (pk == NULL) {
		ma_bprintf(err, errlen, "no PEM private key (PKCS#1 or PKCS#8) found");
		return NULL;
	}
	return wrap(pk, err, errlen);
}

struct ma_dkim_key *
ma_dkim_key_load_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	if (f == NULL) {
		ma_bprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return ma_dkim_key_load_pem(buf, n, err, errlen);
}

void
ma_dkim_key_free(struct ma_dkim_key *k)
{
	if (k) {
		EVP_PKEY_free(k->pkey);
		free(k);
	}
}

const char *
ma_dkim_key_type(const struct ma_dkim_key *k)
{
	return k->ed25519 ? "ed25519" : "rsa";
}

unsigned
ma_dkim_key_bits(const struct ma_dkim_key *k)
{
	return (unsigned)EVP_PKEY_get_bits(k->pkey);
}

size_t
ma_dkim_key_record(const struct ma_dkim_key *k, char *buf, size_t len)
{
	unsigned char der[4096], *p = der;
	char b64[6000];
	size_t n = 0;

	if (k->ed25519) {
		n = 32;
		if (EVP_PKEY_get_raw_public_key(k->pkey, der, &n) != 1)
			return 0;
	} else {
		int l = i2d_PUBKEY(k->pkey, NULL);
		if (l <= 0 || (size_t)l > sizeof(der) || i2d_PUBKEY(k->pkey, &p) != l)
			return 0;
		n = (size_t)l;
	}
	ma_b64_encode(der, n, b64);
	return ma_bprintf(buf, len, "v=DKIM1; k=%s; p=%s", k->ed25519 ? "ed25519" : "rsa", b64);
}

struct ma_dkim_key *
ma_dkim_key_generate(const char *type, unsigned bits, char *err, size_t errlen)
{
	EVP_PKEY *pk;

	if (strcmp(type, "ed25519") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(type, "rsa") == 0) {
		if (bits == 0)
			bits = 2048;
		if (bits < 1024 || bits > 8192) {
			ma_bprintf(err, errlen, "RSA key size must be 1024 to 8192 bits");
			return NULL;
		}
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		ma_bprintf(err, errlen, "key type must be rsa or ed25519");
		return NULL;
	}
	if (pk == NULL) {
		ma_bprintf(err, errlen, "key generation failed");
		return NULL;
	}
	return wrap(pk, err, errlen);
}

char *
ma_dkim_key_pem(const struct ma_dkim_key *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio && PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* Adds "; tag=value" (or the first "tag=value"), folding before the tag
 * when the line would pass 78 characters. */
static void
stag(struct ma_sbuf *s, const char *tag, const char *val, bool first)
{
	if (!first)
		ma_sbuf_puts(s, ";");
	/* " tag=val;" must fit: the ';' that follows is on this line too. */
	if (s->line + strlen(tag) + strlen(val) + 3 > 78)
		ma_sbuf_puts(s, "\r\n\t");
	else if (!first)
		ma_sbuf_puts(s, " ");
	ma_sbuf_puts(s, tag);
	ma_sbuf_puts(s, "=");
	ma_sbuf_puts(s, val);
}

/* The h= list: the given one, or the default names present in the message
 * (each as often as it occurs) with From once more, so that no From field
 * can be added without breaking the signature. */
static void
header_list(const struct ma_msg *m, const char *given, struct ma_sbuf *out)
{
	if (given) {
		for (const char *p = given; *p; p++)
			if (*p != ' ' && *p != '\t')
				ma_sbuf_put(out, p, 1);
		return;
	}
	const char *p = dkim_default_headers;
	bool first = true;
	while (*p) {
		const char *e = strchr(p, ':');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		bool dup = false;
		for (const char *q = dkim_default_headers; q < p; q += strcspn(q, ":") + 1)
			if (strncmp(q, p, l) == 0 && (q[l] == ':' || q[l] == '\0'))
				dup = true;
		if (!dup) {
			size_t count = 0;
			for (size_t i = 0; i < ma_msg_count(m); i++) {
				const struct ma_header *h = ma_msg_header(m, i);
				if (ma_strcaseeq(h->raw, h->namelen, p, l))
					count++;
			}
			if (l == 4 && strncmp(p, "from", 4) == 0)
				count++;
			for (size_t k = 0; k < count; k++) {
				if (!first)
					ma_sbuf_put(out, ":", 1);
				ma_sbuf_put(out, p, l);
				first = false;
			}
		}
		p += l + (e ? 1 : 0);
	}
}

/* A domain name or selector as the verifier accepts it (letters, digits,
 * '-', '_', dots between labels). */
static bool
name_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(ma_isalnum(d[i]) || d[i] == '-' || d[i] == '_' || d[i] == '.'))
			return false;
	return true;
}

/* The signer's own checks: what it writes must parse, and verify. */
static bool
signer_ok(const struct ma_dkim_signer *sg, char *err, size_t errlen)
{
	if (!name_ok(sg->domain) || !name_ok(sg->selector)) {
		ma_bprintf(err, errlen, "invalid domain or selector");
		return false;
	}
	if (sg->identity) {
		const char *at = strrchr(sg->identity, '@');
		size_t il = at ? strlen(at + 1) : 0, dl = strlen(sg->domain);
		for (const char *p = sg->identity; *p; p++)
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == ';') {
				ma_bprintf(err, errlen, "invalid identity (i=)");
				return false;
			}
		if (at == NULL || !((il == dl && ma_strcaseeq(at + 1, il, sg->domain, dl)) ||
		    (il > dl && at[il - dl] == '.' && ma_strcaseeq(at + 1 + il - dl, dl, sg->domain, dl)))) {
			ma_bprintf(err, errlen, "identity (i=) is not within the domain (d=)");
			return false;
		}
	}
	if (sg->headers) {
		bool from = false;
		for (const char *p = sg->headers; *p;) {
			size_t l = strcspn(p, ":");
			size_t a = 0, b = l;
			while (a < b && (p[a] == ' ' || p[a] == '\t'))
				a++;
			while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
				b--;
			for (size_t i = a; i < b; i++)
				if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f || p[i] == ';') {
					ma_bprintf(err, errlen, "invalid header field name in the header list");
					return false;
				}
			if (ma_strcaseeq(p + a, b - a, "from", 4))
				from = true;
			p += l + (p[l] == ':');
		}
		if (!from) {
			ma_bprintf(err, errlen, "the header list must include From (RFC 6376 5.4)");
			return false;
		}
	}
	return true;
}

static char *
sign_one(const struct ma_msg *m, const struct ma_dkim_signer *sg, const struct dkim_bh *bh,
    char *err, size_t errlen)
{
	struct ma_sbuf s = { 0 }, h = { 0 };
	char bh64[EVP_MAX_MD_SIZE * 2], num[32];
	unsigned char dg[EVP_MAX_MD_SIZE], sig[1024];
	unsigned dlen;
	size_t siglen = sizeof(sig);
	char *b64 = NULL;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int64_t t = sg->timestamp == 0 ? (int64_t)time(NULL) : sg->timestamp;

	if (!signer_ok(sg, err, errlen))
		return NULL;

	ma_sbuf_puts(&s, "DKIM-Signature: ");
	stag(&s, "v", "1", true);
	stag(&s, "a", sg->key->ed25519 ? "ed25519-sha256" : "rsa-sha256", false);
	stag(&s, "c", sg->simple_headers ? (sg->simple_body ? "simple/simple" : "simple/relaxed") :
	    (sg->simple_body ? "relaxed/simple" : "relaxed/relaxed"), false);
	stag(&s, "d", sg->domain, false);
	stag(&s, "s", sg->selector, false);
	if (sg->identity)
		stag(&s, "i", sg->identity, false);
	if (t >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)t);
		stag(&s, "t", num, false);
		if (sg->expire_after > 0) {
			snprintf(num, sizeof(num), "%lld", (long long)(t + sg->expire_after));
			stag(&s, "x", num, false);
		}
	}
	header_list(m, sg->headers, &h);
	if (h.oom || h.p == NULL) {
		ma_bprintf(err, errlen, "no header fields to sign");
		goto fail;
	}
	/* h= may fold at its colons. */
	ma_sbuf_puts(&s, ";");
	ma_sbuf_puts(&s, s.line + 3 > 78 ? "\r\n\th=" : " h=");
	for (char *p = h.p; *p;) {
		size_t l = strcspn(p, ":");
		if (s.line + l + 1 > 78)
			ma_sbuf_puts(&s, "\r\n\t");
		ma_sbuf_put(&s, p, l);
		p += l;
		if (*p == ':') {
			ma_sbuf_puts(&s, ":");
			p++;
		}
	}
	ma_b64_encode(bh->digest, bh->dlen, bh64);
	stag(&s, "bh", bh64, false);
	ma_sbuf_puts(&s, ";\r\n\tb=");
	if (s.oom)
		goto oom;

	/* Header hash: the listed fields bottom-up, then this field. */
	const EVP_MD *md = EVP_sha256();
	int hc = sg->simple_headers ? CANON_SIMPLE : CANON_RELAXED;
	size_t nh = ma_msg_count(m);
	bool *used = calloc(nh ? nh : 1, sizeof(*used));
	if (used == NULL || (ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		free(used);
		goto oom;
	}
	for (char *p = h.p; *p;) {
		size_t l = strcspn(p, ":");
		for (size_t k = nh; l && k-- > 0;) {
			const struct ma_header *f = ma_msg_header(m, k);
			if (!used[k] && ma_strcaseeq(f->raw, f->namelen, p, l)) {
				used[k] = true;
				dkim_hash_header(ctx, hc, f->raw, f->len, false);
				break;
			}
		}
		p += l + (p[l] == ':');
	}
	free(used);
	if (dkim_hash_header(ctx, hc, s.p, s.len, true) < 0 || EVP_DigestFinal_ex(ctx, dg, &dlen) != 1)
		goto cryptofail;
	if (sg->key->ed25519) {
		EVP_MD_CTX_free(ctx);
		if ((ctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, sg->key->pkey) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, dg, dlen) != 1)
			goto cryptofail;
	} else {
		if ((pctx = EVP_PKEY_CTX_new(sg->key->pkey, NULL)) == NULL ||
		    EVP_PKEY_sign_init(pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
		    EVP_PKEY_sign(pctx, sig, &siglen, dg, dlen) != 1)
			goto cryptofail;
	}
	if ((b64 = malloc(siglen * 2 + 8)) == NULL)
		goto oom;
	size_t bl = ma_b64_encode(sig, siglen, b64);
	for (size_t o = 0; o < bl;) {
		size_t room = s.line < 78 ? 78 - s.line : 0;
		if (room < 8) {
			ma_sbuf_puts(&s, "\r\n\t");
			continue;
		}
		size_t c = bl - o < room ? bl - o : room;
		ma_sbuf_put(&s, b64 + o, c);
		o += c;
	}
	free(b64);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_CTX_free(pctx);
	free(h.p);
	if (s.oom)
		goto oom;
	return s.p;
cryptofail:
	ma_bprintf(err, errlen, "signing failed");
	goto fail;
oom:
	ma_bprintf(err, errlen, "out of memory");
fail:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_CTX_free(pctx);
	free(h.p);
	free(s.p);
	return NULL;
}

size_t
ma_dkim_sign(const struct ma_msg *m, const struct ma_dkim_signer *sg, size_t n, char **out,
    char *err, size_t errlen)
{
	struct dkim_body body;
	int idx[DKIM_MAX_BH];
	size_t made = 0;

	if (n > DKIM_MAX_BH)
		n = DKIM_MAX_BH;
	dkim_body_init(&body);
	for (size_t i = 0; i < n; i++) {
		out[i] = NULL;
		idx[i] = dkim_body_want(&body, sg[i].simple_body ? CANON_SIMPLE : CANON_RELAXED,
		    EVP_sha256(), -1);
	}
	if (ma_msg_body(m, dkim_body_feed, &body) < 0 || dkim_body_finish(&body) < 0) {
		ma_bprintf(err, errlen, "cannot read the message body");
		dkim_body_free(&body);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (idx[i] < 0 || sg[i].key == NULL || sg[i].domain == NULL || sg[i].selector == NULL) {
			ma_bprintf(err, errlen, "signer %zu: missing key, domain or selector", i);
			continue;
		}
		if ((out[i] = sign_one(m, &sg[i], &body.bh[idx[i]], err, errlen)) != NULL)
			made++;
	}
	dkim_body_free(&body);
	return made;
}
