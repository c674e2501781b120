/* DKIM verification (RFC 6376 6): every signature is parsed first, all key
 * lookups go out as one batch, the body is read once for every distinct
 * (canonicalization, hash, l=), then each signature is checked. */
#include "dkim_key.h"
#include "b64.h"

#include <openssl/obj_mac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const result_names[] = {
	"none", "pass", "fail", "neutral", "policy", "permerror", "temperror",
};

const char *
ma_dkim_result_name(enum ma_dkim_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r] : "permerror";
}

enum { ALG_RSA_SHA256, ALG_RSA_SHA1, ALG_ED25519_SHA256 };

/* One signature being verified. */
struct vsig {
	struct ma_dkim_sig *out;
	const struct ma_header *field;
	bool done;			/* result decided */
	int alg, hc, bc;
	const EVP_MD *md;
	int nid;
	unsigned char bh[EVP_MAX_MD_SIZE], b[1024];
	long bhlen, blen;
	const char *h;			/* h= value */
	size_t hlen;
	char keyname[MA_DNS_NAME_MAX + 16];
	int bodyidx;
	struct ma_query *q;
};

static void
decide(struct vsig *v, enum ma_dkim_result r, const char *reason)
{
	v->done = true;
	v->out->result = r;
	ma_strlcpy(v->out->reason, reason, sizeof(v->out->reason));
}

static bool
domain_syntax(const char *d, size_t len)
{
	char norm[MA_DNS_NAME_MAX];

	if (!ma_dns_name_normalize(d, len, norm))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(ma_isalnum(d[i]) || d[i] == '-' || d[i] == '.' || d[i] == '_'))
			return false;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dkim-quoted-printable (RFC 6376 2.11): =XX escapes, FWS dropped. */
static bool
qp_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			int hi, lo;
			if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static bool
digits(const char *s, size_t len, size_t max, int64_t *v)
{
	int64_t n = 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!ma_isdigit(s[i]))
			return false;
		if (n < INT64_MAX / 10 - 10)
			n = n * 10 + (s[i] - '0');
	}
	*v = n;
	return true;
}

/* The tags of one DKIM-Signature (RFC 6376 3.5, 6.1.1). */
static void
parse_sig(struct vsig *v, const struct ma_dkim_verify_opts *o, int64_t now)
{
	struct ma_dkim_sig *s = v->out;
	const struct ma_header *f = v->field;
	struct ma_tag tags[64];
	char why[96];
	const struct ma_tag *t;
	int n;

	n = ma_tags_parse(f->raw + f->valoff, f->len - f->valoff, tags, 64, why, sizeof(why));
	if (n < 0) {
		char r[128];
		ma_bprintf(r, sizeof(r), "signature syntax: %s", why);
		decide(v, MA_DKIM_PERMERROR, r);
		return;
	}
#define TAG(name) ma_tags_get(tags, n, name)
	if ((t = TAG("d")))
		ma_bprintf(s->domain, sizeof(s->domain), "%.*s", (int)t->vallen, t->val);
	if ((t = TAG("s")))
		ma_bprintf(s->selector, sizeof(s->selector), "%.*s", (int)t->vallen, t->val);
	if ((t = TAG("a")))
		ma_bprintf(s->algorithm, sizeof(s->algorithm), "%.*s", (int)t->vallen, t->val);
	if ((t = TAG("b"))) {
		size_t k = 0;
		for (size_t i = 0; i < t->vallen && k < 8; i++)
			if ((unsigned char)t->val[i] > ' ')
				s->header_b[k++] = t->val[i];
		s->header_b[k] = '\0';
	}
	/* v= is required (RFC 6376 3.5); the legacy profile also takes the
	 * draft-era signatures without it or with v=0.5. */
	static const char *const required[] = { "v", "a", "b", "bh", "d", "h", "s" };
	for (size_t i = o->legacy ? 1 : 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (TAG(required[i]) == NULL) {
			char r[64];
			ma_bprintf(r, sizeof(r), "signature has no %s= tag", required[i]);
			decide(v, MA_DKIM_PERMERROR, r);
			return;
		}
	t = TAG("v");
	if (t && !ma_strcaseeq(t->val, t->vallen, "1", 1) &&
	    !(o->legacy && ma_strcaseeq(t->val, t->vallen, "0.5", 3))) {
		decide(v, MA_DKIM_PERMERROR, "incompatible signature version");
		return;
	}
	t = TAG("a");
	if (ma_strcaseeq(t->val, t->vallen, "rsa-sha256", 10)) {
		v->alg = ALG_RSA_SHA256;
		v->md = EVP_sha256();
		v->nid = NID_sha256;
	} else if (ma_strcaseeq(t->val, t->vallen, "ed25519-sha256", 14)) {
		v->alg = ALG_ED25519_SHA256;
		v->md = EVP_sha256();
		v->nid = NID_sha256;
	} else if (ma_strcaseeq(t->val, t->vallen, "rsa-sha1", 8)) {
		if (!o->legacy) {
			decide(v, MA_DKIM_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
			return;
		}
		v->alg = ALG_RSA_SHA1;
		v->md = EVP_sha1();
		v->nid = NID_sha1;
	} else {
		decide(v, MA_DKIM_PERMERROR, "unsupported signature algorithm");
		return;
	}
	t = TAG("c");
	if (t && !dkim_parse_canon(t->val, t->vallen, &v->hc, &v->bc)) {
		decide(v, MA_DKIM_PERMERROR, "unknown canonicalization");
		return;
	}
	if (!t)
		v->hc = v->bc = CANON_SIMPLE;
	ma_bprintf(s->canon, sizeof(s->canon), "%s/%s", v->hc ? "relaxed" : "simple", v->bc ? "relaxed" : "simple");
	t = TAG("d");
	if (!domain_syntax(t->val, t->vallen)) {
		decide(v, MA_DKIM_PERMERROR, "invalid d= domain");
		return;
	}
	t = TAG("s");
	if (!domain_syntax(t->val, t->vallen)) {
		decide(v, MA_DKIM_PERMERROR, "invalid s= selector");
		return;
	}
	t = TAG("h");
	v->h = t->val;
	v->hlen = t->vallen;
	/* From MUST be signed (RFC 6376 5.4). */
	if (!ma_tags_list_has(v->h, v->hlen, "from")) {
		decide(v, MA_DKIM_PERMERROR, "From is not signed");
		return;
	}
	t = TAG("i");
	if (t) {
		char id[256];
		if (!qp_decode(t->val, t->vallen, id, sizeof(id)) || strrchr(id, '@') == NULL) {
			decide(v, MA_DKIM_PERMERROR, "invalid i= identity");
			return;
		}
		const char *idd = strrchr(id, '@') + 1;
		size_t il = strlen(idd), dl = strlen(s->domain);
		if (!((il == dl && ma_strcaseeq(idd, il, s->domain, dl)) ||
		    (il > dl && idd[il - dl - 1] == '.' && ma_strcaseeq(idd + il - dl, dl, s->domain, dl)))) {
			decide(v, MA_DKIM_PERMERROR, "i= is not within d=");
			return;
		}
		ma_strlcpy(s->identity, id, sizeof(s->identity));
	} else
		ma_bprintf(s->identity, sizeof(s->identity), "@%s", s->domain);
	t = TAG("l");
	s->body_length = -1;
	if (t && !digits(t->val, t->vallen, 76, &s->body_length)) {
		decide(v, MA_DKIM_PERMERROR, "invalid l= tag");
		return;
	}
	t = TAG("q");
	if (t) {
		/* "dns": the draft-era spelling, legacy only */
		bool dns = ma_tags_list_has(t->val, t->vallen, "dns/txt") ||
		    (o->legacy && ma_tags_list_has(t->val, t->vallen, "dns"));
		if (!dns) {
			decide(v, MA_DKIM_PERMERROR, "no supported query method (q=)");
			return;
		}
	}
	s->timestamp = s->expiration = -1;
	if ((t = TAG("t")) && !digits(t->val, t->vallen, 12, &s->timestamp)) {
		decide(v, MA_DKIM_PERMERROR, "invalid t= tag");
		return;
	}
	if ((t = TAG("x")) && !digits(t->val, t->vallen, 12, &s->expiration)) {
		decide(v, MA_DKIM_PERMERROR, "invalid x= tag");
		return;
	}
	if (s->expiration >= 0 && s->timestamp >= 0 && s->expiration < s->timestamp) {
		decide(v, MA_DKIM_PERMERROR, "x= is before t=");
		return;
	}
	if (s->expiration >= 0 && now > s->expiration + (int64_t)o->clock_skew) {
		decide(v, MA_DKIM_PERMERROR, "signature expired");
		return;
	}
	t = TAG("bh");
	v->bhlen = ma_b64_decode(t->val, t->vallen, v->bh, sizeof(v->bh));
	if (v->bhlen != EVP_MD_get_size(v->md)) {
		decide(v, MA_DKIM_PERMERROR, "invalid bh= body hash");
		return;
	}
	t = TAG("b");
	v->blen = ma_b64_decode(t->val, t->vallen, v->b, sizeof(v->b));
	if (v->blen <= 0) {
		decide(v, MA_DKIM_PERMERROR, "invalid b= signature data");
		return;
	}
	ma_bprintf(v->keyname, sizeof(v->keyname), "%s._domainkey.%s", s->selector, s->domain);
#undef TAG
}

/* RFC 4871 3.6.1 g= (dropped by RFC 6376 C.2, so legacy profile only):
 * the local-part of i= must match the pattern, "*" matching any run. */
static bool
granularity_ok(const char *g, size_t glen, const char *identity)
{
	const char *at = strrchr(identity, '@');
	const char *l = identity;
	size_t ll = at ? (size_t)(at - identity) : strlen(identity);
	size_t gi = 0, li = 0, star = (size_t)-1, mark = 0;

	if (glen == 0)
		return false;	/* "An empty g= value never matches any addresses." */

	while (li < ll) {
		if (gi < glen && g[gi] == '*') {
			star = gi++;
			mark = li;
		} else if (gi < glen && g[gi] == l[li]) {
			gi++;
			li++;
		} else if (star != (size_t)-1) {
			gi = star + 1;
			li = ++mark;
		} else
			return false;
	}
	while (gi < glen && g[gi] == '*')
		gi++;
	return gi == glen;
}

/* Checks the key for signature v; returns it (a reference) or decides. */
static struct dkim_pubkey *
key_for(struct vsig *v, const struct ma_dkim_verify_opts *o)
{
	const struct ma_answer *a = v->q->ans;
	struct dkim_keyrec kr;
	char why[96], txt[8192];
	const struct ma_rr *rec = NULL;

	switch (a->status) {
	case MA_DNS_OK:
		break;
	case MA_DNS_NXDOMAIN:
	case MA_DNS_NODATA:
		decide(v, MA_DKIM_PERMERROR, "no key");
		return NULL;
	case MA_DNS_LIMIT:
		decide(v, MA_DKIM_TEMPERROR, "DNS budget exhausted before the key lookup");
		return NULL;
	default:
		decide(v, MA_DKIM_TEMPERROR, a->status == MA_DNS_TIMEOUT ? "key lookup timed out" :
		    "key lookup failed");
		return NULL;
	}
	for (size_t i = 0; i < a->nrr && rec == NULL; i++)
		if (a->rr[i].type == MA_RR_TXT)
			rec = &a->rr[i];
	if (rec == NULL) {
		decide(v, MA_DKIM_PERMERROR, "no key");
		return NULL;
	}
	if (rec->u.txt.total >= sizeof(txt)) {
		decide(v, MA_DKIM_PERMERROR, "key record too large");
		return NULL;
	}
	size_t len = ma_txt_join(rec, (unsigned char *)txt, sizeof(txt));
	if (dkim_keyrec_parse(txt, len, &kr, why, sizeof(why)) < 0) {
		decide(v, MA_DKIM_PERMERROR, why);
		return NULL;
	}
	if (kr.plen == 0) {
		decide(v, MA_DKIM_PERMERROR, "key revoked");
		return NULL;
	}
	if ((kr.type == KEY_ED25519) != (v->alg == ALG_ED25519_SHA256)) {
		decide(v, MA_DKIM_PERMERROR, "key type does not match the algorithm");
		return NULL;
	}
	if (!(v->alg == ALG_RSA_SHA1 ? kr.sha1 : kr.sha256)) {
		decide(v, MA_DKIM_PERMERROR, "key does not allow this hash (h=)");
		return NULL;
	}
	if (!kr.email) {
		decide(v, MA_DKIM_PERMERROR, "key is not for email (s=)");
		return NULL;
	}
	if (o->legacy && kr.granularity && !granularity_ok(kr.granularity, kr.glen, v->out->identity)) {
		decide(v, MA_DKIM_PERMERROR, "i= local-part does not match the key's g=");
		return NULL;
	}
	if (kr.strict) {
		/* t=s: the i= domain must be d= itself. */
		const char *at = strrchr(v->out->identity, '@');
		const char *idd = at ? at + 1 : "";
		if (!ma_strcaseeq(idd, strlen(idd), v->out->domain, strlen(v->out->domain))) {
			decide(v, MA_DKIM_PERMERROR, "key t=s forbids a subdomain in i=");
			return NULL;
		}
	}
	v->out->testing = kr.testing;
	struct dkim_pubkey *pk = dkim_pubkey_get(o->keys, kr.type, kr.p, kr.plen, why, sizeof(why));
	if (pk == NULL) {
		decide(v, MA_DKIM_PERMERROR, why);
		return NULL;
	}
	v->out->bits = pk->bits;
	unsigned min = o->min_rsa_bits ? o->min_rsa_bits : (o->legacy ? 512 : 1024);
	if (pk->type == KEY_RSA && pk->bits < min) {
		decide(v, MA_DKIM_PERMERROR, "key too small");
		dkim_pubkey_unref(pk);
		return NULL;
	}
	if (pk->type == KEY_RSA && pk->bits > 8192) {
		decide(v, MA_DKIM_PERMERROR, "key too large");
		dkim_pubkey_unref(pk);
		return NULL;
	}
	return pk;
}

/* The header hash: the fields named in h=, each the bottom-most instance
 * not used yet (over-signed names match nothing), then the signature's own
 * field without its b= value. */
static int
header_digest(struct vsig *v, const struct ma_msg *m, bool *used, unsigned char *dg, unsigned *dlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t nh = ma_msg_count(m), i = 0;
	int rc = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, v->md, NULL) != 1)
		goto out;
	memset(used, 0, nh * sizeof(*used));
	while (i <= v->hlen) {
		size_t j = i;
		while (j < v->hlen && v->h[j] != ':')
			j++;
		size_t a = i, b = j;
		while (a < b && (unsigned char)v->h[a] <= ' ')
			a++;
		while (b > a && (unsigned char)v->h[b - 1] <= ' ')
			b--;
		for (size_t k = nh; b > a && k-- > 0;) {
			const struct ma_header *f = ma_msg_header(m, k);
			if (used[k] || f == v->field || !ma_strcaseeq(f->raw, f->namelen, v->h + a, b - a))
				continue;
			used[k] = true;
			if (dkim_hash_header(ctx, v->hc, f->raw, f->len, false) < 0)
				goto out;
			break;
		}
		i = j + 1;
	}
	if (dkim_hash_header(ctx, v->hc, v->field->raw, v->field->len, true) < 0 ||
	    EVP_DigestFinal_ex(ctx, dg, dlen) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

size_t
ma_dkim_verify(struct ma_resolver *r, struct ma_budget *bud, const struct ma_msg *m,
    const struct ma_dkim_verify_opts *opts, struct ma_dkim_sig *out, size_t max)
{
	struct ma_dkim_verify_opts o = opts ? *opts : (struct ma_dkim_verify_opts){ 0 };
	struct vsig vs[32];
	struct ma_query q[32];
	struct dkim_body body;
	size_t n = 0, nq = 0, nh = ma_msg_count(m);
	int64_t now;

	if (o.max_signatures == 0)
		o.max_signatures = 10;
	if (o.clock_skew == 0)
		o.clock_skew = 300;
	if (max > 32)
		max = 32;
	if (max > o.max_signatures)
		max = o.max_signatures;
	now = o.now ? o.now : (int64_t)time(NULL);

	for (size_t i = 0; i < nh && n < max; i++) {
		const struct ma_header *f = ma_msg_header(m, i);
		if (!ma_header_is(f, "DKIM-Signature"))
			continue;
		struct vsig *v = &vs[n];
		memset(v, 0, sizeof(*v));
		v->out = &out[n];
		memset(v->out, 0, sizeof(*v->out));
		v->out->field = i;
		v->out->body_length = v->out->timestamp = v->out->expiration = -1;
		v->out->unsigned_bytes = -1;
		v->field = f;
		v->bodyidx = -1;
		parse_sig(v, &o, now);
		n++;
	}
	if (n == 0)
		return 0;

	/* All key lookups at once, one query per distinct name. */
	for (size_t i = 0; i < n; i++) {
		if (vs[i].done)
			continue;
		for (size_t k = 0; k < nq && !vs[i].q; k++)
			if (strcmp(q[k].name, vs[i].keyname) == 0)
				vs[i].q = &q[k];
		if (!vs[i].q) {
			q[nq].name = vs[i].keyname;
			q[nq].type = MA_RR_TXT;
			q[nq].ans = NULL;
			vs[i].q = &q[nq++];
		}
	}
	ma_resolve(r, bud, q, nq);

	struct dkim_pubkey *keys[32] = { 0 };
	dkim_body_init(&body);
	for (size_t i = 0; i < n; i++) {
		if (vs[i].done || (keys[i] = key_for(&vs[i], &o)) == NULL)
			continue;
		vs[i].bodyidx = dkim_body_want(&body, vs[i].bc, vs[i].md, vs[i].out->body_length);
		if (vs[i].bodyidx < 0)
			decide(&vs[i], MA_DKIM_TEMPERROR, "out of memory");
	}
	if (body.n && (ma_msg_body(m, dkim_body_feed, &body) < 0 || dkim_body_finish(&body) < 0)) {
		for (size_t i = 0; i < n; i++)
			if (!vs[i].done)
				decide(&vs[i], MA_DKIM_TEMPERROR, "cannot read the message body");
	}

	bool *used = calloc(nh ? nh : 1, sizeof(*used));
	for (size_t i = 0; i < n; i++) {
		struct vsig *v = &vs[i];
		unsigned char dg[EVP_MAX_MD_SIZE];
		unsigned dlen;

		if (v->done)
			continue;
		const struct dkim_bh *bh = &body.bh[v->bodyidx];
		uint64_t blen = dkim_body_length(&body, v->bc);
		if (v->out->body_length >= 0) {
			if ((uint64_t)v->out->body_length > blen) {
				decide(v, MA_DKIM_PERMERROR, "l= is longer than the body");
				continue;
			}
			v->out->body_partial = (uint64_t)v->out->body_length < blen;
			v->out->unsigned_bytes = (int64_t)(blen - (uint64_t)v->out->body_length);
		}
		if (bh->dlen != (unsigned)v->bhlen || memcmp(bh->digest, v->bh, bh->dlen) != 0) {
			decide(v, MA_DKIM_FAIL, "body hash mismatch");
			continue;
		}
		if (used == NULL || header_digest(v, m, used, dg, &dlen) < 0) {
			decide(v, MA_DKIM_TEMPERROR, "hashing failed");
			continue;
		}
		if (dkim_pubkey_verify(keys[i], v->nid, dg, dlen, v->b, (size_t)v->blen) < 0) {
			decide(v, MA_DKIM_FAIL, "signature did not verify");
			continue;
		}
		if (v->out->body_partial && o.strict_length)
			decide(v, MA_DKIM_POLICY, "l= leaves part of the body unsigned");
		else
			decide(v, MA_DKIM_PASS, v->out->testing ? "good signature (key in testing mode)" :
			    "good signature");
	}
	free(used);
	for (size_t i = 0; i < n; i++)
		dkim_pubkey_unref(keys[i]);
	dkim_body_free(&body);
	ma_query_release(q, nq);
	return n;
}
