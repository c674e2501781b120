/*
 * DKIM benchmark: messages per second on one core over the DKIM half of the
 * shared corpus (shared/bench/make_corpus.py, seed 1, 1000 messages), with
 * keys served in process from the corpus's dns.json.  See bench/README.md.
 *
 *   dkim_bench [-t SECONDS] [-T SECONDS] [-r ROUNDS] [-R ROUNDS] [-n PASSES]
 *              [-d SHOWN] [-o floor,mailauth,libopendkim] [-p verify,sign,memory]
 *              [-M MIB] [-m PATH] [-k] [CORPUS]
 *   dkim_bench --mem-child FILE DNS.JSON
 *
 * Three parts, each optional (-p):
 *
 * verify  The crypto floor, mailauth and libopendkim over the same in-memory
 *         messages, in one process.  Each implementation first verifies
 *         every message once to count agreement with expected.json (the list
 *         of per-signature results, top first, must be equal); this also
 *         warms the key cache.  Then timed rounds follow: in each round every
 *         implementation verifies the whole corpus once, the order rotating
 *         from round to round, so that all see the same machine conditions.
 *         Rounds go on until at least -r ROUNDS (default 9) have run and at
 *         least -t SECONDS (default 4) of timed work in all are done, or for
 *         exactly -n PASSES rounds.  Reported: the median per-pass rate, and
 *         the median over rounds of the ratio to the floor and to
 *         libopendkim measured in the same round.
 * sign    mailauth signing (rsa-sha256, relaxed/relaxed, the corpus's
 *         2048-bit keys) against its own floor (RSA-2048 sign + SHA-256 over
 *         the bytes hashed), interleaved the same way (-R ROUNDS, default 5;
 *         -T SECONDS, default 4).  Every signature made is also checked by
 *         mailauth and by libopendkim.
 * memory  A message with a -M MiB body (default 50) is generated and signed
 *         with ma_dkim_sign (RSA-2048 relaxed/relaxed and Ed25519
 *         simple/simple), then verified from the file with ma_msg_parse_fd
 *         in a fresh child process (this executable, re-run as
 *         `dkim_bench --mem-child FILE DNS.JSON`); the child's peak RSS
 *         (VmHWM) is reported.  -k keeps FILE (-m, default
 *         /tmp/dkim_bench_large.eml) for a look with /usr/bin/time -v.
 *
 * One line per implementation goes to stdout, then a line that says which
 * targets were met (verify >= 55% of the floor, signing >= 85% of its
 * floor, memory < 16 MiB); details go to stderr.  The exit status is 1 when
 * mailauth disagrees with expected.json, a signature made does not verify,
 * or the memory limit is passed (throughput targets do not change it: the
 * machine is too noisy for that).
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* RSA_verify on pre-decoded keys, as core/dkim_key.c */
#include "dkim.h"
#include "msg.h"
#include "resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <opendkim/dkim.h>

#define NOW_FIXED	1709294400	/* one hour after the corpus's t=1709290800 */
#define MAX_FIELDS	256
#define MAX_SIGS	8

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, size_t n)
{
	double *t;
	double m;

	if (n == 0)
		return 0;
	t = xmalloc(n * sizeof(*t));
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_double);
	m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	free(t);
	return m;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: short read\n", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* ------------------------------------------------------------------ */
/* A growing byte buffer                                                */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void
bput(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n)
			nc *= 2;
		b->p = realloc(b->p, nc);
		if (b->p == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
		b->cap = nc;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* ------------------------------------------------------------------ */
/* The message, split by the bench itself (independent of core/)        */

struct field {
	const char *p;		/* whole field, folding kept, no final CRLF */
	size_t len, namelen;
};

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits the header block; returns the number of fields (at most max) and
 * the body offset (len when there is no empty line). */
static size_t
split_fields(const char *buf, size_t len, struct field *f, size_t max, size_t *body_off)
{
	size_t n = 0, i = 0, start = 0;
	bool open = false;

	*body_off = len;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t eol = nl ? (size_t)(nl - buf) + 1 : len;
		bool empty = (eol - i == 1 && buf[i] == '\n') || (eol - i == 2 && buf[i] == '\r' && buf[i + 1] == '\n');

		if (empty || (open && !is_wsp(buf[i]))) {
			if (open && n < max) {
				size_t e = i;
				if (e > start && buf[e - 1] == '\n')
					e--;
				if (e > start && buf[e - 1] == '\r')
					e--;
				f[n].p = buf + start;
				f[n].len = e - start;
				const char *c = memchr(f[n].p, ':', f[n].len);
				size_t nl2 = c ? (size_t)(c - f[n].p) : 0;
				while (nl2 && is_wsp(f[n].p[nl2 - 1]))
					nl2--;
				f[n].namelen = nl2;
				n++;
			}
			open = false;
			if (empty) {
				*body_off = eol;
				return n;
			}
		}
		if (!open) {
			start = i;
			open = true;
		}
		i = eol;
	}
	if (open && n < max) {	/* no empty line: the last field ends the data */
		f[n].p = buf + start;
		f[n].len = len - start;
		const char *c = memchr(f[n].p, ':', f[n].len);
		f[n].namelen = c ? (size_t)(c - f[n].p) : 0;
		n++;
	}
	return n;
}

static bool
name_is(const struct field *f, const char *name, size_t nl)
{
	return f->namelen == nl && strncasecmp(f->p, name, nl) == 0;
}

/* ------------------------------------------------------------------ */
/* DKIM-Signature tags and base64, just enough for the floor            */

struct tag {
	const char *n, *v;
	size_t nl, vl;
};

/* Tags of the value part of a field; returns their number. */
static size_t
parse_tags(const char *s, size_t len, struct tag *t, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		const char *semi = memchr(s + i, ';', len - i);
		size_t e = semi ? (size_t)(semi - s) : len;
		const char *eq = memchr(s + i, '=', e - i);
		if (eq) {
			size_t a = i, b = (size_t)(eq - s);
			while (a < b && is_fws(s[a]))
				a++;
			while (b > a && is_fws(s[b - 1]))
				b--;
			size_t va = (size_t)(eq - s) + 1, vb = e;
			while (va < vb && is_fws(s[va]))
				va++;
			while (vb > va && is_fws(s[vb - 1]))
				vb--;
			t[n++] = (struct tag){ s + a, s + va, b - a, vb - va };
		}
		i = e + 1;
	}
	return n;
}

static const struct tag *
tag_get(const struct tag *t, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (t[i].nl == nl && memcmp(t[i].n, name, nl) == 0)
			return &t[i];
	return NULL;
}

static size_t
b64_decode(const char *s, size_t len, unsigned char *out, size_t max)
{
	static signed char dec[256];
	static bool init;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (!init) {
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		memset(dec, -1, sizeof(dec));
		for (int i = 0; i < 64; i++)
			dec[(unsigned char)a[i]] = (signed char)i;
		init = true;
	}
	for (size_t i = 0; i < len; i++) {
		int v = dec[(unsigned char)s[i]];
		if (v < 0)
			continue;	/* FWS, '=' padding */
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < max)
				out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

/* ------------------------------------------------------------------ */
/* Canonicalization (RFC 6376 3.4), written here independently of      */
/* core/ so that the floor's byte counts and digests are checked twice */

static void
canon_header(struct buf *o, bool relaxed, const char *raw, size_t len, size_t namelen, bool crlf)
{
	if (!relaxed) {
		bput(o, raw, len);
	} else {
		const char *colon = memchr(raw, ':', len);
		size_t i = colon ? (size_t)(colon - raw) + 1 : len;
		bool sp = false, started = false;
		for (size_t k = 0; k < namelen; k++) {
			char c = raw[k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c + 32);
			bput(o, &c, 1);
		}
		bput(o, ":", 1);
		for (; i < len; i++) {
			char c = raw[i];
			if (c == '\r' || c == '\n')
				continue;
			if (is_wsp(c)) {
				sp = started;
				continue;
			}
			if (sp)
				bput(o, " ", 1);
			sp = false;
			started = true;
			bput(o, &c, 1);
		}
	}
	if (crlf)
		bput(o, "\r\n", 2);
}

/* The signature field with the value of its b= tag removed. */
static void
strip_b(const char *raw, size_t len, struct buf *o)
{
	const char *colon = memchr(raw, ':', len);
	size_t i = colon ? (size_t)(colon - raw) + 1 : len;

	while (i < len) {
		const char *semi = memchr(raw + i, ';', len - i);
		size_t e = semi ? (size_t)(semi - raw) : len;
		const char *eq = memchr(raw + i, '=', e - i);
		if (eq) {
			size_t a = i, b = (size_t)(eq - raw);
			while (a < b && is_fws(raw[a]))
				a++;
			while (b > a && is_fws(raw[b - 1]))
				b--;
			if (b - a == 1 && raw[a] == 'b') {
				size_t cut = (size_t)(eq - raw) + 1;
				bput(o, raw, cut);
				bput(o, raw + e, len - e);
				return;
			}
		}
		i = e + 1;
	}
	bput(o, raw, len);
}

/* The canonical body; simple: an empty body is CRLF. */
static void
canon_body(const char *p, size_t len, bool relaxed, struct buf *o)
{
	size_t keep = 0, i = 0;

	o->len = 0;
	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - p) : len, te = e;
		if (nl && te > i && p[te - 1] == '\r')
			te--;
		if (!relaxed) {
			bput(o, p + i, te - i);
		} else {
			bool sp = false;
			for (size_t k = i; k < te; k++) {
				if (is_wsp(p[k])) {
					sp = true;
					continue;
				}
				if (sp)
					bput(o, " ", 1);
				sp = false;
				bput(o, p + k, 1);
			}
		}
		bool content = o->len > 0 && o->p[o->len - 1] != '\n';
		bput(o, "\r\n", 2);
		if (content)
			keep = o->len;
		i = nl ? e + 1 : len;
	}
	o->len = keep;		/* trailing empty lines go */
	if (!relaxed && o->len == 0)
		bput(o, "\r\n", 2);
}

/* ------------------------------------------------------------------ */
/* Keys: dns.json records and keys.json private keys                    */

enum { K_RSA = 1, K_ED25519 = 2 };

struct key {
	char *name;		/* sel._domainkey.dom */
	char *txt;		/* the TXT record */
	uint32_t hash;
	int type;
	unsigned bits;
	RSA *rsa;		/* public, pre-decoded (floor) */
	EVP_PKEY *pub;		/* Ed25519 public (floor) */
	EVP_PKEY *priv;		/* private (sign floor) */
	EVP_PKEY_CTX *signctx;	/* initialised once (sign floor) */
	struct ma_dkim_key *makey;	/* private (mailauth signing) */
	char *domain, *selector;
};

struct keys {
	struct key *k;
	size_t n;
	struct key **tab;	/* open addressing, by name */
	size_t tabn;
};

static uint32_t
fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static struct key *
key_find(const struct keys *ks, const char *name, size_t nl)
{
	uint32_t h = fnv(name, nl);

	for (size_t i = h & (ks->tabn - 1);; i = (i + 1) & (ks->tabn - 1)) {
		struct key *k = ks->tab[i];
		if (k == NULL)
			return NULL;
		if (k->hash == h && strlen(k->name) == nl && strncasecmp(k->name, name, nl) == 0)
			return k;
	}
}

static int
keys_load(struct keys *ks, const char *dns_path, const char *keys_path)
{
	json_error_t je;
	json_t *dns = json_load_file(dns_path, 0, &je), *kj, *v;
	const char *name;

	if (dns == NULL || !json_is_object(dns)) {
		fprintf(stderr, "%s: line %d: %s\n", dns_path, je.line, dns ? "not an object" : je.text);
		return -1;
	}
	ks->n = 0;
	ks->k = calloc(json_object_size(dns) + 1, sizeof(*ks->k));
	for (ks->tabn = 64; ks->tabn < 4 * json_object_size(dns); ks->tabn *= 2)
		;
	ks->tab = calloc(ks->tabn, sizeof(*ks->tab));
	json_object_foreach(dns, name, v) {
		json_t *txt = json_array_get(json_object_get(v, "TXT"), 0);
		if (!json_is_string(txt))
			continue;
		struct key *k = &ks->k[ks->n++];
		k->name = strdup(name);
		k->txt = strdup(json_string_value(txt));
		k->hash = fnv(k->name, strlen(k->name));
		size_t i = k->hash & (ks->tabn - 1);
		while (ks->tab[i])
			i = (i + 1) & (ks->tabn - 1);
		ks->tab[i] = k;
		/* The public key, decoded once (p= is the last tag). */
		struct tag t[16];
		size_t nt = parse_tags(k->txt, strlen(k->txt), t, 16);
		const struct tag *kt = tag_get(t, nt, "k"), *pt = tag_get(t, nt, "p");
		unsigned char der[2048];
		size_t dl = pt ? b64_decode(pt->v, pt->vl, der, sizeof(der)) : 0;
		const unsigned char *q = der;
		if (kt && kt->vl == 7 && strncmp(kt->v, "ed25519", 7) == 0) {
			k->type = K_ED25519;
			k->bits = 256;
			k->pub = dl == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32) : NULL;
		} else {
			k->type = K_RSA;
			k->rsa = d2i_RSA_PUBKEY(NULL, &q, (long)dl);
			k->bits = k->rsa ? (unsigned)RSA_bits(k->rsa) : 0;
		}
		if (k->rsa == NULL && k->pub == NULL)
			fprintf(stderr, "%s: public key not decoded\n", name);
	}
	json_decref(dns);

	kj = keys_path ? json_load_file(keys_path, 0, &je) : NULL;
	if (keys_path && (kj == NULL || !json_is_object(kj))) {
		fprintf(stderr, "%s: line %d: %s\n", keys_path, je.line, kj ? "not an object" : je.text);
		return -1;
	}
	json_object_foreach(kj, name, v) {
		struct key *k = key_find(ks, name, strlen(name));
		const char *pem = json_string_value(json_object_get(v, "pkcs8_pem"));
		char err[256];
		if (k == NULL || pem == NULL)
			continue;
		k->domain = strdup(json_string_value(json_object_get(v, "domain")));
		k->selector = strdup(json_string_value(json_object_get(v, "selector")));
		BIO *bio = BIO_new_mem_buf(pem, -1);
		k->priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		k->makey = ma_dkim_key_load_pem(pem, strlen(pem), err, sizeof(err));
		if (k->priv == NULL || k->makey == NULL) {
			fprintf(stderr, "%s: private key: %s\n", name, k->makey ? "OpenSSL cannot read it" : err);
			continue;
		}
		if (k->type == K_RSA) {
			k->signctx = EVP_PKEY_CTX_new(k->priv, NULL);
			if (k->signctx == NULL || EVP_PKEY_sign_init(k->signctx) != 1 ||
			    EVP_PKEY_CTX_set_rsa_padding(k->signctx, RSA_PKCS1_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_signature_md(k->signctx, EVP_sha256()) != 1) {
				fprintf(stderr, "%s: cannot set up signing\n", name);
				return -1;
			}
		}
	}
	json_decref(kj);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The corpus                                                           */

/* One body hash of the floor: the canonical length hashed. */
struct fbh {
	bool relaxed;
	size_t len;
};

/* One signature of the floor. */
struct fsig {
	const struct key *key;
	unsigned char dg[32];	/* the header digest, computed here */
	unsigned char b[512];
	size_t blen;
	size_t hbytes;		/* canonical header bytes hashed */
};

struct msg {
	char *name;
	char *buf;
	size_t len, body_off;
	const char *exp[MAX_SIGS];	/* expected results, top first */
	size_t nexp;
	char expstr[64];
	struct fbh fb[MAX_SIGS];
	size_t nfb;
	struct fsig fs[MAX_SIGS];
	size_t nfs;
	/* signing */
	size_t sign_off;		/* the message as the signer had it: buf + sign_off */
	const struct key *sign_key;
	size_t relaxed_len;		/* relaxed canonical body length */
	size_t sign_hbytes;		/* header bytes hashed by the signature made */
};

struct corpus {
	struct msg *m;
	size_t n;
	uint64_t bytes;
	size_t nsigs;
	char dir[4096];
	struct keys keys;
	json_t *exp;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
corpus_load(struct corpus *c)
{
	char path[4200];
	json_error_t je;
	const char *fname;
	json_t *e;
	size_t i = 0;

	snprintf(path, sizeof(path), "%s/dkim/expected.json", c->dir);
	c->exp = json_load_file(path, 0, &je);
	if (c->exp == NULL || !json_is_object(c->exp)) {
		fprintf(stderr, "%s: line %d: %s\n", path, je.line, c->exp ? "not an object" : je.text);
		return -1;
	}
	c->n = json_object_size(c->exp);
	c->m = calloc(c->n ? c->n : 1, sizeof(*c->m));
	char **names = xmalloc(c->n * sizeof(*names));
	json_object_foreach(c->exp, fname, e)
		names[i++] = (char *)fname;
	qsort(names, c->n, sizeof(*names), cmp_str);
	for (i = 0; i < c->n; i++) {
		struct msg *m = &c->m[i];
		json_t *sigs = json_object_get(json_object_get(c->exp, names[i]), "signatures"), *s;
		size_t k;
		m->name = names[i];
		json_array_foreach(sigs, k, s) {
			if (m->nexp < MAX_SIGS)
				m->exp[m->nexp++] = json_string_value(json_object_get(s, "result"));
		}
		m->expstr[0] = '\0';
		for (k = 0; k < m->nexp; k++)
			snprintf(m->expstr + strlen(m->expstr), sizeof(m->expstr) - strlen(m->expstr), "%s%s",
			    k ? "," : "", m->exp[k] ? m->exp[k] : "?");
		snprintf(path, sizeof(path), "%s/dkim/msgs/%s", c->dir, names[i]);
		if ((m->buf = read_file(path, &m->len)) == NULL)
			return -1;
		c->bytes += m->len;
		c->nsigs += m->nexp;
	}
	free(names);
	snprintf(path, sizeof(path), "%s/dkim/dns.json", c->dir);
	char kpath[4200];
	snprintf(kpath, sizeof(kpath), "%s/dkim/keys.json", c->dir);
	return keys_load(&c->keys, path, kpath);
}

/* The header digest of one signature, computed here: the fields named in
 * h=, each the bottom-most one not used yet, then the signature field
 * without its b= value. */
static void
header_hash(const struct field *f, size_t nf, size_t sigidx, bool relaxed, const struct tag *h,
    struct buf *o)
{
	bool used[MAX_FIELDS] = { false };
	size_t i = 0;

	o->len = 0;
	while (i <= h->vl) {
		size_t j = i;
		while (j < h->vl && h->v[j] != ':')
			j++;
		size_t a = i, b = j;
		while (a < b && is_fws(h->v[a]))
			a++;
		while (b > a && is_fws(h->v[b - 1]))
			b--;
		for (size_t k = nf; b > a && k-- > 0;) {
			if (used[k] || k == sigidx || !name_is(&f[k], h->v + a, b - a))
				continue;
			used[k] = true;
			canon_header(o, relaxed, f[k].p, f[k].len, f[k].namelen, true);
			break;
		}
		i = j + 1;
	}
	struct buf sb = { 0 };
	strip_b(f[sigidx].p, f[sigidx].len, &sb);
	canon_header(o, relaxed, (const char *)sb.p, sb.len, f[sigidx].namelen, false);
	free(sb.p);
}

static bool
sha256(const void *p, size_t n, unsigned char *dg)
{
	unsigned int dl;

	return EVP_Digest(p, n, dg, &dl, EVP_sha256(), NULL) == 1;
}

static bool
verify_digest(const struct key *k, const unsigned char *dg, const unsigned char *sig, size_t siglen,
    EVP_MD_CTX *ctx)
{
	if (k->type == K_RSA)
		return RSA_verify(NID_sha256, dg, 32, sig, (unsigned)siglen, k->rsa) == 1;
	EVP_MD_CTX_reset(ctx);
	return EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, dg, 32) == 1;
}

/* Everything the floor needs, computed outside the timed loop, and
 * checked: each header digest must verify with the key, and each body
 * hash must equal bh= on a message that was not broken. */
static int
floor_prepare(struct corpus *c)
{
	struct field f[MAX_FIELDS];
	struct buf hb = { 0 }, bb = { 0 };
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t bad_verify = 0, bad_bh = 0, bh_checked = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct msg *m = &c->m[i];
		size_t nf = split_fields(m->buf, m->len, f, MAX_FIELDS, &m->body_off);
		const char *body = m->buf + m->body_off;
		size_t blen = m->len - m->body_off;
		size_t lastsig = 0;
		bool broken = json_is_string(json_object_get(json_object_get(c->exp, m->name), "broken"));

		for (size_t k = 0; k < nf; k++) {
			struct tag t[32];
			if (!name_is(&f[k], "dkim-signature", 14))
				continue;
			lastsig = k + 1;
			if (m->nfs == MAX_SIGS)
				continue;
			const char *val = memchr(f[k].p, ':', f[k].len) + 1;
			size_t nt = parse_tags(val, f[k].len - (size_t)(val - f[k].p), t, 32);
			const struct tag *d = tag_get(t, nt, "d"), *s = tag_get(t, nt, "s"),
			    *cc = tag_get(t, nt, "c"), *h = tag_get(t, nt, "h"), *bh = tag_get(t, nt, "bh"),
			    *b = tag_get(t, nt, "b");
			char kn[600];
			if (!d || !s || !h || !bh || !b) {
				fprintf(stderr, "%s: signature %zu lacks a tag the floor needs\n", m->name, m->nfs);
				return -1;
			}
			snprintf(kn, sizeof(kn), "%.*s._domainkey.%.*s", (int)s->vl, s->v, (int)d->vl, d->v);
			struct fsig *fs = &m->fs[m->nfs];
			if ((fs->key = key_find(&c->keys, kn, strlen(kn))) == NULL) {
				fprintf(stderr, "%s: no key %s\n", m->name, kn);
				return -1;
			}
			bool hrel = cc && cc->vl >= 7 && strncmp(cc->v, "relaxed", 7) == 0;
			const char *slash = cc ? memchr(cc->v, '/', cc->vl) : NULL;
			bool brel = slash && strncmp(slash + 1, "relaxed", 7) == 0;
			header_hash(f, nf, k, hrel, h, &hb);
			fs->hbytes = hb.len;
			sha256(hb.p, hb.len, fs->dg);
			fs->blen = b64_decode(b->v, b->vl, fs->b, sizeof(fs->b));
			if (!verify_digest(fs->key, fs->dg, fs->b, fs->blen, ctx)) {
				fprintf(stderr, "floor: %s signature %zu (%s): header digest does not verify\n",
				    m->name, m->nfs, kn);
				bad_verify++;
			}
			/* Body: one hash per distinct canonicalization (no l= in the corpus). */
			size_t j;
			for (j = 0; j < m->nfb && m->fb[j].relaxed != brel; j++)
				;
			canon_body(body, blen, brel, &bb);
			if (j == m->nfb) {
				m->fb[m->nfb].relaxed = brel;
				m->fb[m->nfb++].len = bb.len;
			}
			if (!broken) {
				unsigned char dg[32], want[64];
				size_t wl = b64_decode(bh->v, bh->vl, want, sizeof(want));
				sha256(bb.p, bb.len, dg);
				bh_checked++;
				if (wl != 32 || memcmp(dg, want, 32) != 0) {
					fprintf(stderr, "floor: %s signature %zu: canonical body hash differs from bh=\n",
					    m->name, m->nfs);
					bad_bh++;
				}
			}
			m->nfs++;
		}
		/* Signing: the message below the receiver's fields and the signatures. */
		m->sign_off = lastsig < nf ? (size_t)(f[lastsig].p - m->buf) : 0;
		canon_body(body, blen, true, &bb);
		m->relaxed_len = bb.len;
	}
	free(hb.p);
	free(bb.p);
	EVP_MD_CTX_free(ctx);
	fprintf(stderr, "floor: %zu signatures, header digests computed here: %zu do not verify; "
	    "body hashes computed here: %zu/%zu equal bh=\n", c->nsigs, bad_verify, bh_checked - bad_bh, bh_checked);
	return bad_verify || bad_bh ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The implementations                                                   */

enum impl { I_FLOOR, I_MA, I_ODK, I_N };
static const char *const impl_name[I_N] = { "floor", "mailauth", "libopendkim" };

struct ctx {
	struct corpus *c;
	/* floor */
	EVP_MD *sha;
	EVP_MD_CTX *md, *ed;
	unsigned floor_ok;
	/* mailauth */
	struct ma_resolver *ma;
	struct ma_dkim_keycache *kc;
	struct ma_dkim_verify_opts vo;
	struct ma_dkim_sig sigs[MAX_SIGS];
	/* libopendkim */
	DKIM_LIB *odk;
};

static void
floor_one(struct ctx *x, const struct msg *m)
{
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned dl;

	/* SHA-256 over as many bytes as are hashed, read from the message's own
	 * memory (every canonical length fits in the message). */
	for (size_t i = 0; i < m->nfb; i++) {
		EVP_DigestInit_ex2(x->md, x->sha, NULL);
		EVP_DigestUpdate(x->md, m->buf + m->len - m->fb[i].len, m->fb[i].len);
		EVP_DigestFinal_ex(x->md, dg, &dl);
	}
	for (size_t i = 0; i < m->nfs; i++) {
		const struct fsig *s = &m->fs[i];
		EVP_DigestInit_ex2(x->md, x->sha, NULL);
		EVP_DigestUpdate(x->md, m->buf, s->hbytes);
		EVP_DigestFinal_ex(x->md, dg, &dl);
		x->floor_ok += verify_digest(s->key, s->dg, s->b, s->blen, x->ed);
	}
}

/* mailauth: parse the message and verify, as production does. */
static size_t
ma_one(struct ctx *x, const struct msg *m)
{
	struct ma_msg *mm = ma_msg_new(NULL);
	size_t n;

	ma_msg_parse(mm, m->buf, m->len);
	n = ma_dkim_verify(x->ma, NULL, mm, &x->vo, x->sigs, MAX_SIGS);
	ma_msg_free(mm);
	return n;
}

/* libopendkim: keys from the same records, through its key-lookup hook. */
static struct keys *odk_keys;

static DKIM_CBSTAT
odk_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	const char *s = (const char *)dkim_sig_getselector(sig), *d = (const char *)dkim_sig_getdomain(sig);
	char name[600];
	int n;
	struct key *k;

	(void)dkim;
	if (s == NULL || d == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	n = snprintf(name, sizeof(name), "%s._domainkey.%s", s, d);
	if (n < 0 || (size_t)n >= sizeof(name) || (k = key_find(odk_keys, name, (size_t)n)) == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	size_t l = strlen(k->txt);
	if (l >= buflen)
		return DKIM_CBSTAT_ERROR;
	memcpy(buf, k->txt, l + 1);
	return DKIM_CBSTAT_CONTINUE;
}

static DKIM_LIB *
odk_new(struct keys *ks)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	uint64_t fixed = NOW_FIXED;
	u_int minbits = 1024;

	if (lib == NULL)
		return NULL;
	odk_keys = ks;
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof(fixed)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof(minbits)) != DKIM_STAT_OK ||
	    dkim_set_key_lookup(lib, odk_key_lookup) != DKIM_STAT_OK) {
		fprintf(stderr, "libopendkim: cannot set options\n");
		dkim_close(lib);
		return NULL;
	}
	return lib;
}

static const char *
odk_result(DKIM_SIGINFO *s)
{
	unsigned fl = dkim_sig_getflags(s);
	int bh = dkim_sig_getbh(s), err = dkim_sig_geterror(s);

	if ((fl & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH)
		return "pass";
	if ((fl & DKIM_SIGFLAG_PROCESSED) && (bh == DKIM_SIGBH_MISMATCH || err == DKIM_SIGERROR_BADSIG ||
	    err == DKIM_SIGERROR_OK))
		return "fail";
	if (err == DKIM_SIGERROR_KEYFAIL)
		return "temperror";
	return "permerror";
}

/* Verifies one in-memory message; writes the results ("pass,fail") to
 * out when out is not NULL.  The header split is done here, in the timed
 * loop, as mailauth's ma_msg_parse is. */
static int
odk_one(DKIM_LIB *lib, const char *buf, size_t len, char *out, size_t outlen, char *why, size_t whylen)
{
	struct field f[MAX_FIELDS];
	size_t off, nf = split_fields(buf, len, f, MAX_FIELDS, &off);
	DKIM_STAT st;
	DKIM *d = dkim_verify(lib, (const u_char *)"bench", NULL, &st);
	DKIM_SIGINFO **sigs = NULL;
	int ns = 0;

	if (d == NULL)
		return -1;
	for (size_t i = 0; i < nf; i++)
		dkim_header(d, (u_char *)f[i].p, f[i].len);
	dkim_eoh(d);
	dkim_body(d, (u_char *)buf + off, len - off);
	dkim_eom(d, NULL);
	if (dkim_getsiglist(d, &sigs, &ns) != DKIM_STAT_OK)
		ns = 0;
	if (out) {
		out[0] = '\0';
		if (why)
			why[0] = '\0';
		for (int i = 0; i < ns; i++) {
			size_t l = strlen(out);
			snprintf(out + l, outlen - l, "%s%s", i ? "," : "", odk_result(sigs[i]));
			if (why) {
				l = strlen(why);
				snprintf(why + l, whylen - l, "%s%s", i ? "; " : "",
				    dkim_sig_geterrorstr(dkim_sig_geterror(sigs[i])));
			}
		}
	}
	dkim_free(d);
	return ns;
}

static void
run_one(struct ctx *x, enum impl im, const struct msg *m)
{
	switch (im) {
	case I_FLOOR:
		floor_one(x, m);
		break;
	case I_MA:
		(void)ma_one(x, m);
		break;
	case I_ODK:
		(void)odk_one(x->odk, m->buf, m->len, NULL, 0, NULL, 0);
		break;
	default:
		break;
	}
}

static double
timed_pass(struct ctx *x, enum impl im)
{
	double t0 = now_s();

	for (size_t i = 0; i < x->c->n; i++)
		run_one(x, im, &x->c->m[i]);
	return now_s() - t0;
}

/* ------------------------------------------------------------------ */
/* Agreement                                                              */

static size_t
agreement(struct ctx *x, enum impl im, int show)
{
	size_t agree = 0, shown = 0;
	char got[128], why[1024];

	for (size_t i = 0; i < x->c->n; i++) {
		const struct msg *m = &x->c->m[i];
		got[0] = why[0] = '\0';
		if (im == I_MA) {
			size_t n = ma_one(x, m);
			for (size_t k = 0; k < n; k++) {
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? "," : "",
				    ma_dkim_result_name(x->sigs[k].result));
				snprintf(why + strlen(why), sizeof(why) - strlen(why), "%sd=%s s=%s: %s",
				    k ? "; " : "", x->sigs[k].domain, x->sigs[k].selector, x->sigs[k].reason);
			}
		} else
			odk_one(x->odk, m->buf, m->len, got, sizeof(got), why, sizeof(why));
		if (strcmp(got, m->expstr) == 0) {
			agree++;
			continue;
		}
		if (shown < (size_t)show) {
			shown++;
			fprintf(stderr, "%s disagrees: %s expected=%s got=%s (%s)\n", impl_name[im], m->name,
			    m->expstr, got, why);
		}
	}
	fprintf(stderr, "%s: %zu/%zu agree with expected.json\n", impl_name[im], agree, x->c->n);
	return agree;
}

/* ------------------------------------------------------------------ */
/* Rounds                                                                 */

struct series {
	double *rate;		/* per pass */
	double *vs[I_N];	/* per round: rate / rate of that implementation */
	size_t n, cap;
	double secs;
};

static void
series_add(struct series *s, double rate, double secs)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->rate = realloc(s->rate, s->cap * sizeof(double));
		for (int k = 0; k < I_N; k++)
			s->vs[k] = realloc(s->vs[k], s->cap * sizeof(double));
		if (s->rate == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	s->rate[s->n++] = rate;
	s->secs += secs;
}

static void
spread(const char *label, const struct series *s, const char *unit)
{
	double *t;

	if (s->n == 0)
		return;
	t = xmalloc(s->n * sizeof(*t));
	memcpy(t, s->rate, s->n * sizeof(*t));
	qsort(t, s->n, sizeof(*t), cmp_double);
	fprintf(stderr, "%s: %zu timed passes, %s per pass min %.0f median %.0f max %.0f\n", label, s->n, unit,
	    t[0], median(t, s->n), t[s->n - 1]);
	free(t);
}

/* ------------------------------------------------------------------ */
/* Signing                                                                */

struct sign_ctx {
	struct corpus *c;
	EVP_MD *sha;
	EVP_MD_CTX *md;
	char *sig;		/* the last signature made */
};

static void
sign_floor_one(struct sign_ctx *x, const struct msg *m)
{
	unsigned char dg[EVP_MAX_MD_SIZE], sig[512];
	unsigned dl;
	size_t sl = sizeof(sig);

	EVP_DigestInit_ex2(x->md, x->sha, NULL);
	EVP_DigestUpdate(x->md, m->buf + m->len - m->relaxed_len, m->relaxed_len);
	EVP_DigestFinal_ex(x->md, dg, &dl);
	EVP_DigestInit_ex2(x->md, x->sha, NULL);
	EVP_DigestUpdate(x->md, m->buf + m->sign_off, m->sign_hbytes);
	EVP_DigestFinal_ex(x->md, dg, &dl);
	if (EVP_PKEY_sign(m->sign_key->signctx, sig, &sl, dg, 32) != 1) {
		fprintf(stderr, "sign floor: EVP_PKEY_sign failed\n");
		exit(1);
	}
}

static bool
ma_sign_one(struct sign_ctx *x, const struct msg *m, bool keep)
{
	struct ma_msg *mm = ma_msg_new(NULL);
	struct ma_dkim_signer sg;
	char *out = NULL, err[256];
	size_t made;

	memset(&sg, 0, sizeof(sg));
	sg.key = m->sign_key->makey;
	sg.domain = m->sign_key->domain;
	sg.selector = m->sign_key->selector;
	sg.timestamp = 1709290800;
	ma_msg_parse(mm, m->buf + m->sign_off, m->len - m->sign_off);
	made = ma_dkim_sign(mm, &sg, 1, &out, err, sizeof(err));
	ma_msg_free(mm);
	if (made != 1) {
		fprintf(stderr, "mailauth sign: %s: %s\n", m->name, err);
		return false;
	}
	if (keep) {
		free(x->sig);
		x->sig = out;
	} else
		free(out);
	return true;
}

static double
sign_pass(struct sign_ctx *x, bool is_floor)
{
	double t0 = now_s();

	for (size_t i = 0; i < x->c->n; i++) {
		if (is_floor)
			sign_floor_one(x, &x->c->m[i]);
		else
			(void)ma_sign_one(x, &x->c->m[i], false);
	}
	return now_s() - t0;
}

/* The key for message m: its first RSA-2048 signature's, otherwise one of
 * the 2048-bit keys in turn. */
static void
sign_pick_keys(struct corpus *c)
{
	const struct key **pool = xmalloc(c->keys.n * sizeof(*pool));
	size_t np = 0, rr = 0;

	for (size_t i = 0; i < c->keys.n; i++)
		if (c->keys.k[i].type == K_RSA && c->keys.k[i].bits == 2048 && c->keys.k[i].signctx)
			pool[np++] = &c->keys.k[i];
	for (size_t i = 0; i < c->n; i++) {
		struct msg *m = &c->m[i];
		m->sign_key = NULL;
		for (size_t k = 0; k < m->nfs && !m->sign_key; k++)
			if (m->fs[k].key->type == K_RSA && m->fs[k].key->bits == 2048 && m->fs[k].key->signctx)
				m->sign_key = m->fs[k].key;
		if (!m->sign_key && np)
			m->sign_key = pool[rr++ % np];
	}
	free(pool);
}

/* One pass that makes every signature and checks it: with mailauth, with
 * libopendkim, and here (the header digest computed independently must
 * verify).  Also records the header bytes each signature hashes. */
static int
sign_check(struct sign_ctx *x, DKIM_LIB *odk, struct ma_resolver *r, const struct ma_dkim_verify_opts *vo,
    size_t *ok_ma, size_t *ok_odk, size_t *ok_here)
{
	struct field f[MAX_FIELDS];
	struct buf full = { 0 }, hb = { 0 };
	EVP_MD_CTX *ed = EVP_MD_CTX_new();
	struct ma_dkim_sig out[2];

	*ok_ma = *ok_odk = *ok_here = 0;
	for (size_t i = 0; i < x->c->n; i++) {
		struct msg *m = &x->c->m[i];
		if (!ma_sign_one(x, m, true))
			return -1;
		full.len = 0;
		bput(&full, x->sig, strlen(x->sig));
		bput(&full, "\r\n", 2);
		bput(&full, m->buf + m->sign_off, m->len - m->sign_off);
		struct ma_msg *mm = ma_msg_new(NULL);
		ma_msg_parse(mm, (const char *)full.p, full.len);
		size_t n = ma_dkim_verify(r, NULL, mm, vo, out, 2);
		ma_msg_free(mm);
		if (n == 1 && out[0].result == MA_DKIM_PASS)
			(*ok_ma)++;
		else
			fprintf(stderr, "sign check: %s: mailauth says %s (%s)\n", m->name,
			    n ? ma_dkim_result_name(out[0].result) : "no signature", n ? out[0].reason : "");
		char got[64], why[256];
		odk_one(odk, (const char *)full.p, full.len, got, sizeof(got), why, sizeof(why));
		if (strcmp(got, "pass") == 0)
			(*ok_odk)++;
		else
			fprintf(stderr, "sign check: %s: libopendkim says %s (%s)\n", m->name, got, why);
		/* Header bytes, independently. */
		size_t off, nf = split_fields((const char *)full.p, full.len, f, MAX_FIELDS, &off);
		struct tag t[32];
		const char *val = memchr(f[0].p, ':', f[0].len) + 1;
		size_t nt = parse_tags(val, f[0].len - (size_t)(val - f[0].p), t, 32);
		const struct tag *h = tag_get(t, nt, "h"), *b = tag_get(t, nt, "b");
		unsigned char dg[32], sig[512];
		header_hash(f, nf, 0, true, h, &hb);
		m->sign_hbytes = hb.len;
		sha256(hb.p, hb.len, dg);
		size_t sl = b64_decode(b->v, b->vl, sig, sizeof(sig));
		if (verify_digest(m->sign_key, dg, sig, sl, ed))
			(*ok_here)++;
		if (m->sign_hbytes > m->len - m->sign_off) {
			fprintf(stderr, "sign check: %s: header bytes exceed the message\n", m->name);
			return -1;
		}
	}
	free(full.p);
	free(hb.p);
	EVP_MD_CTX_free(ed);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Memory                                                                 */

static const char *const words[] = {
	"the", "message", "report", "account", "invoice", "meeting", "schedule", "please",
	"review", "attached", "document", "quarterly", "update", "team", "project", "deadline",
	"customer", "order", "shipping", "payment", "receipt", "newsletter", "webinar", "budget",
	"and", "of", "to", "for", "with", "on", "at", "from", "by", "about", "into", "over",
};

/* Writes the unsigned message (headers, then a body of body_bytes bytes
 * of text lines with some whitespace runs and trailing whitespace). */
static int
mem_write_unsigned(int fd, size_t body_bytes)
{
	const char *hdr =
	    "From: Bench Sender <sender@bench.invalid>\r\n"
	    "To: Bench Recipient <rcpt@bench.invalid>\r\n"
	    "Subject: a large message for the memory check\r\n"
	    "Date: Fri, 01 Mar 2024 11:00:00 +0000\r\n"
	    "Message-ID: <large.1@bench.invalid>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
	    "\r\n";
	static char chunk[65536 + 256];
	uint64_t rng = 88172645463325252ull;
	size_t done = 0;

	if (write(fd, hdr, strlen(hdr)) != (ssize_t)strlen(hdr))
		return -1;
	while (done < body_bytes) {
		size_t n = 0;
		while (n < 65536) {
			size_t line = 0;
			while (line < 68) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				const char *w = words[rng % (sizeof(words) / sizeof(words[0]))];
				size_t wl = strlen(w);
				memcpy(chunk + n, w, wl);
				n += wl;
				line += wl;
				const char *sep = (rng >> 20) % 17 == 0 ? "  \t " : " ";
				memcpy(chunk + n, sep, strlen(sep));
				n += strlen(sep);
				line += strlen(sep);
			}
			if ((rng >> 40) % 5)
				n--;	/* most lines lose their trailing space */
			memcpy(chunk + n, "\r\n", 2);
			n += 2;
		}
		if (n > body_bytes - done)
			n = body_bytes - done;
		if (write(fd, chunk, n) != (ssize_t)n)
			return -1;
		done += n;
	}
	return 0;
}

/* Makes path: the message signed by mailauth with an RSA-2048 key
 * (relaxed/relaxed) and the same domain's Ed25519 key (simple/simple). */
static int
mem_make(struct corpus *c, const char *path, size_t body_bytes, char *what, size_t wlen)
{
	const struct key *rsa = NULL, *ed = NULL;
	char tmp[4200], err[256], *out[2] = { NULL, NULL };
	struct ma_dkim_signer sg[2];
	int fd, ofd;
	struct ma_msg *m;

	for (size_t i = 0; i < c->keys.n && !(rsa && ed); i++) {
		const struct key *k = &c->keys.k[i];
		if (k->type != K_ED25519 || !k->makey)
			continue;
		for (size_t j = 0; j < c->keys.n; j++) {
			const struct key *r = &c->keys.k[j];
			if (r->type == K_RSA && r->bits == 2048 && r->makey && strcmp(r->domain, k->domain) == 0) {
				rsa = r;
				ed = k;
				break;
			}
		}
	}
	if (!rsa) {
		fprintf(stderr, "memory: no domain with both an RSA-2048 and an Ed25519 key\n");
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.unsigned", path);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 || mem_write_unsigned(fd, body_bytes) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		return -1;
	}
	memset(sg, 0, sizeof(sg));
	sg[0] = (struct ma_dkim_signer){ .key = rsa->makey, .domain = rsa->domain, .selector = rsa->selector,
	    .timestamp = 1709290800 };
	sg[1] = (struct ma_dkim_signer){ .key = ed->makey, .domain = ed->domain, .selector = ed->selector,
	    .simple_headers = true, .simple_body = true, .timestamp = 1709290800 };
	m = ma_msg_new(NULL);
	if (ma_msg_parse_fd(m, fd) < 0 || ma_dkim_sign(m, sg, 2, out, err, sizeof(err)) != 2) {
		fprintf(stderr, "memory: signing failed: %s\n", err);
		return -1;
	}
	ma_msg_free(m);
	if ((ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < 2; i++) {	/* the RSA signature on top */
		if (write(ofd, out[i], strlen(out[i])) < 0 || write(ofd, "\r\n", 2) != 2)
			return -1;
		free(out[i]);
	}
	lseek(fd, 0, SEEK_SET);
	static char cbuf[1 << 16];
	ssize_t r;
	while ((r = read(fd, cbuf, sizeof(cbuf))) > 0)
		if (write(ofd, cbuf, (size_t)r) != r)
			return -1;
	close(fd);
	close(ofd);
	unlink(tmp);
	snprintf(what, wlen, "rsa-sha256 relaxed/relaxed d=%s s=%s, ed25519-sha256 simple/simple d=%s s=%s",
	    rsa->domain, rsa->selector, ed->domain, ed->selector);
	return 0;
}

/* The peak RSS of this process image in KiB (VmHWM).  getrusage()'s
 * ru_maxrss is no good here: Linux carries the high-water mark of the
 * process that forked us across fork() and exec(). */
static long
hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* The child: verify FILE from its descriptor, print the results and the
 * peak RSS before the message was opened. */
static int
mem_child(const char *file, const char *dns)
{
	struct ma_fixture *f = ma_fixture_new();
	struct ma_resolver *r;
	struct ma_dkim_keycache *kc = ma_dkim_keycache_new(64);
	struct ma_dkim_verify_opts o;
	struct ma_dkim_sig sigs[MAX_SIGS];
	char err[256];
	int fd;

	if (!ma_fixture_load_file(f, dns, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", dns, err);
		return 1;
	}
	if ((r = ma_resolver_new_fixture(f)) == NULL)
		return 1;
	memset(&o, 0, sizeof(o));
	o.now = NOW_FIXED;
	o.keys = kc;
	long before = hwm_kb();
	double t0 = now_s();
	if ((fd = open(file, O_RDONLY)) < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return 1;
	}
	struct ma_msg *m = ma_msg_new(NULL);
	if (ma_msg_parse_fd(m, fd) < 0) {
		fprintf(stderr, "%s: %s\n", file, ma_msg_error(m));
		return 1;
	}
	close(fd);
	size_t n = ma_dkim_verify(r, NULL, m, &o, sigs, MAX_SIGS);
	double t = now_s() - t0;
	ma_msg_free(m);
	printf("%ld %ld ", hwm_kb(), before);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", ma_dkim_result_name(sigs[i].result));
	printf(" %.3f", t);
	for (size_t i = 0; i < n; i++)
		printf(" |%s", sigs[i].reason);
	printf("\n");
	ma_resolver_free(r);
	ma_dkim_keycache_free(kc);
	return 0;
}

/* Runs the child (this executable again) and reads its line; returns
 * wait4()'s ru_maxrss in KiB (inflated: see hwm_kb), or -1. */
static long
mem_run_child(const char *file, const char *dns, char *line, size_t linelen)
{
	int p[2];
	pid_t pid;
	struct rusage ru;
	int st;

	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl("/proc/self/exe", "dkim_bench", "--mem-child", file, dns, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	line[0] = '\0';
	if (in == NULL || fgets(line, (int)linelen, in) == NULL)
		line[0] = '\0';
	if (in)
		fclose(in);
	if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	return ru.ru_maxrss;
}

/* ------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr, "usage: dkim_bench [-t seconds] [-T seconds] [-r rounds] [-R rounds] [-n passes] [-d shown]\n"
	    "                  [-o floor,mailauth,libopendkim] [-p verify,sign,memory] [-M MiB] [-m path] [-k] [corpus]\n"
	    "       dkim_bench --mem-child FILE DNS.JSON\n");
	exit(2);
}

static bool
listed(const char *list, const char *item)
{
	size_t il = strlen(item);

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l == il && strncmp(p, item, il) == 0)
			return true;
		p += l + (p[l] == ',');
	}
	return strcmp(list, "all") == 0;
}

int
main(int argc, char **argv)
{
	struct corpus c;
	struct ctx x;
	const char *impls = "all", *parts = "all", *mempath = "/tmp/dkim_bench_large.eml";
	double min_s = 4.0, sign_s = 4.0;
	long passes = 0, min_rounds = 9, sign_rounds = 5;
	size_t mem_mib = 50;
	int show = 10, opt, rc = 0;
	bool keep = false;
	double t_verify = -1, t_sign = -1, t_mem = -1;	/* for the targets line */
	char err[512];

	if (argc == 4 && strcmp(argv[1], "--mem-child") == 0)
		return mem_child(argv[2], argv[3]);

	memset(&c, 0, sizeof(c));
	snprintf(c.dir, sizeof(c.dir), "/tmp/corpus");
	while ((opt = getopt(argc, argv, "t:T:r:R:n:d:o:p:M:m:kh")) != -1) {
		switch (opt) {
		case 't': min_s = atof(optarg); break;
		case 'T': sign_s = atof(optarg); break;
		case 'r': min_rounds = atol(optarg); break;
		case 'R': sign_rounds = atol(optarg); break;
		case 'n': passes = atol(optarg); break;
		case 'd': show = atoi(optarg); break;
		case 'o': impls = optarg; break;
		case 'p': parts = optarg; break;
		case 'M': mem_mib = (size_t)atol(optarg); break;
		case 'm': mempath = optarg; break;
		case 'k': keep = true; break;
		default: usage();
		}
	}
	if (optind < argc)
		snprintf(c.dir, sizeof(c.dir), "%s", argv[optind++]);
	if (optind < argc)
		usage();
	bool on[I_N];
	for (int i = 0; i < I_N; i++)
		on[i] = listed(impls, impl_name[i]);

	if (corpus_load(&c) < 0 || floor_prepare(&c) < 0)
		return 1;
	fprintf(stderr, "corpus: %zu messages, %zu signatures, %.1f MB, from %s/dkim\n", c.n, c.nsigs,
	    (double)c.bytes / 1e6, c.dir);

	memset(&x, 0, sizeof(x));
	x.c = &c;
	x.sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	x.md = EVP_MD_CTX_new();
	x.ed = EVP_MD_CTX_new();
	{
		char path[4200];
		struct ma_fixture *f = ma_fixture_new();
		snprintf(path, sizeof(path), "%s/dkim/dns.json", c.dir);
		if (f == NULL || !ma_fixture_load_file(f, path, err, sizeof(err))) {
			fprintf(stderr, "mailauth: %s\n", f ? err : "out of memory");
			return 1;
		}
		if ((x.ma = ma_resolver_new_fixture(f)) == NULL) {
			fprintf(stderr, "mailauth: cannot make the fixture resolver\n");
			return 1;
		}
		x.kc = ma_dkim_keycache_new(1024);
		x.vo.now = NOW_FIXED;
		x.vo.keys = x.kc;
	}
	if ((x.odk = odk_new(&c.keys)) == NULL)
		return 1;

	/* ---- verify ---- */
	if (listed(parts, "verify")) {
		size_t agree[I_N] = { 0 };
		struct series s[I_N];
		memset(s, 0, sizeof(s));
		if (on[I_MA])
			agree[I_MA] = agreement(&x, I_MA, show);
		if (on[I_ODK])
			agree[I_ODK] = agreement(&x, I_ODK, show);
		if (on[I_FLOOR]) {
			x.floor_ok = 0;
			(void)timed_pass(&x, I_FLOOR);	/* warm-up */
			agree[I_FLOOR] = x.floor_ok;
		}
		double total = 0;
		for (long round = 0;; round++) {
			if (passes > 0 ? round >= passes : (round >= min_rounds && total >= min_s))
				break;
			double rate[I_N] = { 0 };
			for (int k = 0; k < I_N; k++) {
				enum impl im = (enum impl)((round + k) % I_N);
				if (!on[im])
					continue;
				double t = timed_pass(&x, im);
				total += t;
				rate[im] = (double)c.n / t;
				series_add(&s[im], rate[im], t);
			}
			for (int a = 0; a < I_N; a++)
				for (int b = 0; on[a] && b < I_N; b++)
					s[a].vs[b][s[a].n - 1] = on[b] ? rate[a] / rate[b] : 0;
		}
		for (int k = 0; k < I_N; k++)
			if (on[k])
				spread(impl_name[k], &s[k], "msgs/s");
		for (int k = 0; k < I_N; k++) {
			if (!on[k])
				continue;
			if (k == I_FLOOR)
				printf("%-12s %4zu sigs ok      %7.0f msgs/s", "floor", agree[k], median(s[k].rate, s[k].n));
			else
				printf("%-12s %zu/%zu agree  %7.0f msgs/s", impl_name[k], agree[k], c.n,
				    median(s[k].rate, s[k].n));
			if (on[I_FLOOR])
				printf("  %5.1f%% of floor", 100 * median(s[k].vs[I_FLOOR], s[k].n));
			if (on[I_ODK])
				printf("  %5.2fx libopendkim", median(s[k].vs[I_ODK], s[k].n));
			putchar('\n');
		}
		fflush(stdout);
		if (on[I_MA] && on[I_FLOOR])
			t_verify = 100 * median(s[I_MA].vs[I_FLOOR], s[I_MA].n);
		if (on[I_MA] && agree[I_MA] != c.n)
			rc = 1;
	}

	/* ---- sign ---- */
	if (listed(parts, "sign")) {
		struct sign_ctx sx = { .c = &c, .sha = x.sha, .md = x.md };
		size_t ok_ma, ok_odk, ok_here;
		struct series fl = { 0 }, ms = { 0 };
		double *ratio = NULL;
		size_t nr = 0;

		sign_pick_keys(&c);
		if (sign_check(&sx, x.odk, x.ma, &x.vo, &ok_ma, &ok_odk, &ok_here) < 0)
			return 1;
		fprintf(stderr, "sign: %zu signatures made; pass with mailauth %zu, with libopendkim %zu, "
		    "header digest computed here verifies %zu\n", c.n, ok_ma, ok_odk, ok_here);
		double total = 0;
		for (long round = 0;; round++) {
			if (passes > 0 ? round >= passes : (round >= sign_rounds && total >= sign_s))
				break;
			double rf = 0, rm = 0;
			for (int k = 0; k < 2; k++) {
				bool is_floor = ((round + k) % 2) == 0;
				double t = sign_pass(&sx, is_floor);
				total += t;
				if (is_floor)
					series_add(&fl, rf = (double)c.n / t, t);
				else
					series_add(&ms, rm = (double)c.n / t, t);
			}
			ratio = realloc(ratio, (nr + 1) * sizeof(*ratio));
			ratio[nr++] = rm / rf;
		}
		spread("sign floor", &fl, "msgs/s");
		spread("mailauth sign", &ms, "msgs/s");
		printf("%-12s %4zu msgs        %7.0f msgs/s  100.0%% of sign floor\n", "sign-floor", c.n,
		    median(fl.rate, fl.n));
		printf("%-12s %zu/%zu verify %7.0f msgs/s  %5.1f%% of sign floor  (verified by libopendkim %zu/%zu)\n",
		    "mailauth-sign", ok_ma, c.n, median(ms.rate, ms.n), 100 * median(ratio, nr), ok_odk, c.n);
		fflush(stdout);
		t_sign = 100 * median(ratio, nr);
		free(ratio);
		free(sx.sig);
		if (ok_ma != c.n || ok_odk != c.n)
			rc = 1;
	}

	/* ---- memory ---- */
	if (listed(parts, "memory")) {
		char what[512], line[1024], dns[4200];
		size_t body = mem_mib << 20;
		snprintf(dns, sizeof(dns), "%s/dkim/dns.json", c.dir);
		if (mem_make(&c, mempath, body, what, sizeof(what)) < 0)
			return 1;
		struct stat st;
		stat(mempath, &st);
		long ru = mem_run_child(mempath, dns, line, sizeof(line));
		long peak = 0, before = 0;
		char res[128] = "?";
		double secs = 0;
		if (ru < 0 || sscanf(line, "%ld %ld %127s %lf", &peak, &before, res, &secs) != 4) {
			fprintf(stderr, "memory: the child failed (%s)\n", line);
			return 1;
		}
		fprintf(stderr, "memory: %s (%lld bytes; %s); child says: %s; wait4 ru_maxrss %ld KiB "
		    "(includes this process's high-water mark, inherited through fork)\n", mempath,
		    (long long)st.st_size, what, line, ru);
		printf("%-12s %zu MiB body from a file: %s  peak RSS %.1f MiB (%.1f MiB before the message)  "
		    "%.0f MB/s  limit 16 MiB: %s\n", "memory", mem_mib, res, peak / 1024.0, before / 1024.0,
		    (double)st.st_size / 1e6 / secs, peak < 16 * 1024 ? "ok" : "OVER");
		t_mem = peak / 1024.0;
		if (!keep)
			unlink(mempath);
		if (peak >= 16 * 1024 || strcmp(res, "pass,pass") != 0)
			rc = 1;
	}

	if (t_verify >= 0 || t_sign >= 0 || t_mem >= 0) {
		printf("%-12s", "targets");
		if (t_verify >= 0)
			printf(" verify >= 55%% of floor: %s (%.1f%%);", t_verify >= 55 ? "met" : "MISSED", t_verify);
		if (t_sign >= 0)
			printf(" sign >= 85%% of its floor: %s (%.1f%%);", t_sign >= 85 ? "met" : "MISSED", t_sign);
		if (t_mem >= 0)
			printf(" memory < 16 MiB: %s (%.1f MiB)", t_mem < 16 ? "met" : "MISSED", t_mem);
		putchar('\n');
	}
	dkim_close(x.odk);
	ma_resolver_free(x.ma);
	ma_dkim_keycache_free(x.kc);
	return rc;
}
