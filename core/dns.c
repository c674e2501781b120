#include "dns.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

const char *
ma_dns_status_name(enum ma_dns_status s)
{
	switch (s) {
	case MA_DNS_OK: return "ok";
	case MA_DNS_NODATA: return "nodata";
	case MA_DNS_NXDOMAIN: return "nxdomain";
	case MA_DNS_SERVFAIL: return "servfail";
	case MA_DNS_TIMEOUT: return "timeout";
	case MA_DNS_ERROR: return "error";
	case MA_DNS_LIMIT: return "limit";
	}
	return "error";
}

static const struct { uint16_t type; const char *name; } rrtypes[] = {
	{ MA_RR_A, "A" }, { MA_RR_NS, "NS" }, { MA_RR_CNAME, "CNAME" },
	{ MA_RR_SOA, "SOA" }, { MA_RR_PTR, "PTR" }, { MA_RR_MX, "MX" },
	{ MA_RR_TXT, "TXT" }, { MA_RR_AAAA, "AAAA" }, { MA_RR_SPF, "SPF" },
};

const char *
ma_rrtype_name(uint16_t t)
{
	for (size_t i = 0; i < sizeof(rrtypes) / sizeof(rrtypes[0]); i++)
		if (rrtypes[i].type == t)
			return rrtypes[i].name;
	return "TYPE?";
}

uint16_t
ma_rrtype_from_name(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(rrtypes) / sizeof(rrtypes[0]); i++)
		if (ma_strcaseeq(s, len, rrtypes[i].name, strlen(rrtypes[i].name)))
			return rrtypes[i].type;
	return 0;
}

/* Static status answers: read-only, shared by every thread. */
static struct ma_answer status_answers[] = {
	{ -1, MA_DNS_OK, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_NODATA, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_NXDOMAIN, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_SERVFAIL, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_TIMEOUT, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_ERROR, 0, false, 0, 0, NULL, NULL, NULL },
	{ -1, MA_DNS_LIMIT, 0, false, 0, 0, NULL, NULL, NULL },
};

struct ma_answer *
ma_answer_status(enum ma_dns_status s)
{
	if ((unsigned)s >= sizeof(status_answers) / sizeof(status_answers[0]))
		s = MA_DNS_ERROR;
	return &status_answers[s];
}

struct ma_answer *
ma_answer_ref(struct ma_answer *a)
{
	if (a && a->refs >= 0)
		__atomic_add_fetch(&a->refs, 1, __ATOMIC_RELAXED);
	return a;
}

void
ma_answer_unref(struct ma_answer *a)
{
	if (a && a->refs >= 0 && __atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		if (a->memo)
			a->memo_free(a->memo);
		free(a);
	}
}

void *
ma_answer_memo(const struct ma_answer *a)
{
	return a->refs < 0 ? NULL : __atomic_load_n(&a->memo, __ATOMIC_ACQUIRE);
}

void *
ma_answer_memo_set(struct ma_answer *a, void *memo, void (*free_fn)(void *))
{
	void *expected = NULL;

	if (a->refs < 0) {
		free_fn(memo);
		return NULL;
	}
	/* memo_free is written before the pointer is published. */
	if (__atomic_load_n(&a->memo, __ATOMIC_ACQUIRE) == NULL)
		__atomic_store_n(&a->memo_free, free_fn, __ATOMIC_RELAXED);
	if (__atomic_compare_exchange_n(&a->memo, &expected, memo, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return memo;
	free_fn(memo);
	return expected;
}

size_t
ma_txt_join(const struct ma_rr *rr, unsigned char *buf, size_t len)
{
	size_t off = 0;

	for (size_t i = 0; i < rr->u.txt.nstr; i++) {
		const struct ma_txt_string *s = &rr->u.txt.str[i];
		if (off < len) {
			size_t c = s->len < len - off ? s->len : len - off;
			memcpy(buf + off, s->data, c);
		}
		off += s->len;
	}
	return off;
}

/* ---- builder ---- */

struct pending {
	uint16_t type;
	uint32_t ttl;
	uint16_t pref;
	unsigned char addr[16];
	char *name;			/* PTR/CNAME/NS/MX target */
	struct ma_txt_string *str;	/* TXT: copies */
	size_t nstr;
};

struct ma_answer_builder {
	uint16_t qtype;
	bool oom;
	size_t n, cap;
	struct pending *p;
};

struct ma_answer_builder *
ma_ab_new(uint16_t qtype)
{
	struct ma_answer_builder *b = calloc(1, sizeof(*b));

	if (b)
		b->qtype = qtype;
	return b;
}

static struct pending *
ab_push(struct ma_answer_builder *b, uint16_t type, uint32_t ttl)
{
	if (b == NULL || b->oom)
		return NULL;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 4;
		struct pending *np = realloc(b->p, nc * sizeof(*np));
		if (np == NULL) {
			b->oom = true;
			return NULL;
		}
		b->p = np;
		b->cap = nc;
	}
	struct pending *e = &b->p[b->n++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->ttl = ttl;
	return e;
}

void
ma_ab_add_a(struct ma_answer_builder *b, const unsigned char a[4], uint32_t ttl)
{
	struct pending *e = ab_push(b, MA_RR_A, ttl);

	if (e)
		memcpy(e->addr, a, 4);
}

void
ma_ab_add_aaaa(struct ma_answer_builder *b, const unsigned char a[16], uint32_t ttl)
{
	struct pending *e = ab_push(b, MA_RR_AAAA, ttl);

	if (e)
		memcpy(e->addr, a, 16);
}

void
ma_ab_add_name(struct ma_answer_builder *b, uint16_t type, const char *name, uint32_t ttl)
{
	struct pending *e = ab_push(b, type, ttl);

	if (e && (e->name = strdup(name)) == NULL) {
		b->oom = true;
		b->n--;
	}
}

void
ma_ab_add_mx(struct ma_answer_builder *b, uint16_t pref, const char *host, uint32_t ttl)
{
	struct pending *e = ab_push(b, MA_RR_MX, ttl);

	if (e == NULL)
		return;
	e->pref = pref;
	if ((e->name = strdup(host)) == NULL) {
		b->oom = true;
		b->n--;
	}
}

void
ma_ab_add_txt(struct ma_answer_builder *b, uint16_t type,
    const struct ma_txt_string *str, size_t nstr, uint32_t ttl)
{
	struct pending *e = ab_push(b, type, ttl);

	if (e == NULL)
		return;
	e->nstr = nstr;
	e->str = calloc(nstr ? nstr : 1, sizeof(*e->str));
	if (e->str == NULL)
		goto oom;
	for (size_t i = 0; i < nstr; i++) {
		unsigned char *d = malloc(str[i].len ? str[i].len : 1);
		if (d == NULL) {
			e->nstr = i;
			goto oom;
		}
		memcpy(d, str[i].data, str[i].len);
		e->str[i].data = d;
		e->str[i].len = str[i].len;
	}
	return;
oom:
	b->oom = true;
}

static void
pending_free(struct pending *e)
{
	free(e->name);
	for (size_t i = 0; i < e->nstr; i++)
		free((void *)e->str[i].data);
	free(e->str);
}

void
ma_ab_free(struct ma_answer_builder *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		pending_free(&b->p[i]);
	free(b->p);
	free(b);
}

#define ALIGN_UP(x)	(((x) + sizeof(void *) - 1) & ~(sizeof(void *) - 1))

struct ma_answer *
ma_ab_finish(struct ma_answer_builder *b, enum ma_dns_status empty, bool ad, uint32_t neg_ttl)
{
	struct ma_answer *a = NULL;

	if (b == NULL || b->oom)
		goto out;
	/* Layout: answer | rr[n] | txt string tables | bytes. */
	size_t sz = ALIGN_UP(sizeof(*a)) + ALIGN_UP(b->n * sizeof(struct ma_rr));
	size_t tables = 0, bytes = 0;
	uint32_t ttl = UINT32_MAX;
	for (size_t i = 0; i < b->n; i++) {
		struct pending *e = &b->p[i];
		tables += e->nstr * sizeof(struct ma_txt_string);
		for (size_t j = 0; j < e->nstr; j++)
			bytes += e->str[j].len;
		if (e->name)
			bytes += strlen(e->name) + 1;
		if (e->ttl < ttl)
			ttl = e->ttl;
	}
	sz += ALIGN_UP(tables) + bytes;
	a = malloc(sz);
	if (a == NULL)
		goto out;
	struct ma_rr *rr = (struct ma_rr *)((char *)a + ALIGN_UP(sizeof(*a)));
	struct ma_txt_string *tab = (struct ma_txt_string *)((char *)rr + ALIGN_UP(b->n * sizeof(*rr)));
	unsigned char *bp = (unsigned char *)tab + ALIGN_UP(tables);

	a->refs = 1;
	a->memo = NULL;
	a->memo_free = NULL;
	a->qtype = b->qtype;
	a->ad = ad;
	a->nrr = b->n;
	a->rr = rr;
	a->status = b->n ? MA_DNS_OK : empty;
	a->ttl = b->n ? ttl : neg_ttl;
	for (size_t i = 0; i < b->n; i++) {
		struct pending *e = &b->p[i];
		memset(&rr[i], 0, sizeof(rr[i]));
		rr[i].type = e->type;
		rr[i].ttl = e->ttl;
		switch (e->type) {
		case MA_RR_A:
			memcpy(rr[i].u.a, e->addr, 4);
			break;
		case MA_RR_AAAA:
			memcpy(rr[i].u.aaaa, e->addr, 16);
			break;
		case MA_RR_TXT:
		case MA_RR_SPF:
			rr[i].u.txt.nstr = e->nstr;
			rr[i].u.txt.str = tab;
			rr[i].u.txt.total = 0;
			for (size_t j = 0; j < e->nstr; j++) {
				memcpy(bp, e->str[j].data, e->str[j].len);
				tab[j].data = bp;
				tab[j].len = e->str[j].len;
				bp += e->str[j].len;
				rr[i].u.txt.total += e->str[j].len;
			}
			tab += e->nstr;
			break;
		default:
			if (e->name) {
				size_t l = strlen(e->name) + 1;
				memcpy(bp, e->name, l);
				if (e->type == MA_RR_MX) {
					rr[i].u.mx.pref = e->pref;
					rr[i].u.mx.host = (char *)bp;
				} else
					rr[i].u.name = (char *)bp;
				bp += l;
			}
			break;
		}
	}
out:
	ma_ab_free(b);
	return a;
}

bool
ma_dns_name_normalize(const char *in, size_t len, char out[MA_DNS_NAME_MAX])
{
	size_t lab = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '\0')
			return false;
		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if (++lab > 63)
			return false;
		out[i] = ma_lower(c);
	}
	if (lab == 0)
		return false;
	out[len] = '\0';
	return true;
}
