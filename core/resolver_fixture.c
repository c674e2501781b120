/* Fixture backend: answers from zone data held in memory.
 *
 * Records are collected per name, then sealed into prebuilt answers, so a
 * lookup is one hash probe and a reference count: no allocation.  Semantics
 * follow the conformance suites' drivers (see ../shared/conformance/spf):
 * a missing name is NXDOMAIN, a present name without the type is NODATA,
 * TIMEOUT/SERVFAIL names fail for the types they lack, SPF records double as
 * TXT where a name has no TXT entry, and CNAMEs are followed as a recursive
 * resolver would (a loop is SERVFAIL). */
#include "resolver.h"
#include "ip.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct typed {
	uint16_t type;
	struct ma_answer *ans;
};

struct node {
	struct node *next;
	uint32_t hash;
	bool timeout, servfail, txt_entry;
	struct ma_answer_builder *pend[8];	/* indexed by slot() */
	struct typed built[8];
	size_t nbuilt;
	char *cname;
	char name[];
};

struct ma_fixture {
	struct node **buckets;
	size_t nbuckets, count;
	bool sealed;
};

static const uint16_t slots[8] = {
	MA_RR_A, MA_RR_AAAA, MA_RR_TXT, MA_RR_SPF, MA_RR_MX, MA_RR_PTR, MA_RR_NS, MA_RR_CNAME,
};

static int
slot(uint16_t type)
{
	for (int i = 0; i < 8; i++)
		if (slots[i] == type)
			return i;
	return -1;
}

static uint32_t
hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct ma_fixture *
ma_fixture_new(void)
{
	struct ma_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->nbuckets = 64;
	f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
	if (f->buckets == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

static void
node_free(struct node *n)
{
	for (int i = 0; i < 8; i++)
		ma_ab_free(n->pend[i]);
	for (size_t i = 0; i < n->nbuilt; i++)
		ma_answer_unref(n->built[i].ans);
	free(n->cname);
	free(n);
}

void
ma_fixture_free(struct ma_fixture *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nbuckets; i++)
		for (struct node *n = f->buckets[i], *nx; n; n = nx) {
			nx = n->next;
			node_free(n);
		}
	free(f->buckets);
	free(f);
}

static struct node *
lookup(const struct ma_fixture *f, const char *name)
{
	uint32_t h = hash_name(name);

	for (struct node *n = f->buckets[h & (f->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void
grow(struct ma_fixture *f)
{
	size_t nb = f->nbuckets * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < f->nbuckets; i++)
		for (struct node *n = f->buckets[i], *nx; n; n = nx) {
			nx = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	free(f->buckets);
	f->buckets = b;
	f->nbuckets = nb;
}

static struct node *
get_node(struct ma_fixture *f, const char *name)
{
	char norm[MA_DNS_NAME_MAX];

	if (f->sealed || !ma_dns_name_normalize(name, strlen(name), norm))
		return NULL;
	struct node *n = lookup(f, norm);
	if (n)
		return n;
	size_t len = strlen(norm);
	n = calloc(1, sizeof(*n) + len + 1);
	if (n == NULL)
		return NULL;
	memcpy(n->name, norm, len + 1);
	n->hash = hash_name(norm);
	if (f->count >= f->nbuckets)
		grow(f);
	n->next = f->buckets[n->hash & (f->nbuckets - 1)];
	f->buckets[n->hash & (f->nbuckets - 1)] = n;
	f->count++;
	return n;
}

static struct ma_answer_builder *
pend(struct node *n, uint16_t type)
{
	int s = slot(type);

	if (n == NULL || s < 0)
		return NULL;
	if (n->pend[s] == NULL)
		n->pend[s] = ma_ab_new(type);
	return n->pend[s];
}

bool
ma_fixture_add_a(struct ma_fixture *f, const char *name, const char *addr)
{
	unsigned char a[4];
	struct ma_answer_builder *b;

	if (!ma_ip4_parse_strict(a, addr, strlen(addr)) || !(b = pend(get_node(f, name), MA_RR_A)))
		return false;
	ma_ab_add_a(b, a, 3600);
	return true;
}

bool
ma_fixture_add_aaaa(struct ma_fixture *f, const char *name, const char *addr)
{
	unsigned char a[16];
	struct ma_answer_builder *b;

	if (!ma_ip6_parse(a, addr, strlen(addr)) || !(b = pend(get_node(f, name), MA_RR_AAAA)))
		return false;
	ma_ab_add_aaaa(b, a, 3600);
	return true;
}

/* Targets keep their spelling but lose one trailing dot ("" is the root). */
static void
strip_dot(const char *in, char *out, size_t len)
{
	size_t n = ma_strlcpy(out, in, len);

	if (n >= len)
		n = len - 1;
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

bool
ma_fixture_add_name(struct ma_fixture *f, const char *name, uint16_t type, const char *target)
{
	char t[MA_DNS_NAME_MAX + 2];
	struct node *n = get_node(f, name);

	if (n == NULL)
		return false;
	strip_dot(target, t, sizeof(t));
	if (type == MA_RR_CNAME) {
		free(n->cname);
		n->cname = strdup(t);
		return n->cname != NULL;
	}
	struct ma_answer_builder *b = pend(n, type);
	if (b == NULL)
		return false;
	ma_ab_add_name(b, type, t, 3600);
	return true;
}

bool
ma_fixture_add_mx(struct ma_fixture *f, const char *name, unsigned pref, const char *host)
{
	char t[MA_DNS_NAME_MAX + 2];
	struct ma_answer_builder *b = pend(get_node(f, name), MA_RR_MX);

	if (b == NULL || pref > 65535)
		return false;
	strip_dot(host, t, sizeof(t));
	ma_ab_add_mx(b, (uint16_t)pref, t, 3600);
	return true;
}

bool
ma_fixture_add_txt(struct ma_fixture *f, const char *name, uint16_t type,
    const struct ma_txt_string *str, size_t nstr)
{
	struct node *n = get_node(f, name);
	struct ma_answer_builder *b = pend(n, type);

	if (b == NULL || (type != MA_RR_TXT && type != MA_RR_SPF))
		return false;
	if (type == MA_RR_TXT)
		n->txt_entry = true;
	ma_ab_add_txt(b, type, str, nstr, 3600);
	return true;
}

bool
ma_fixture_add_empty(struct ma_fixture *f, const char *name)
{
	return get_node(f, name) != NULL;
}

bool
ma_fixture_set_timeout(struct ma_fixture *f, const char *name)
{
	struct node *n = get_node(f, name);

	if (n)
		n->timeout = true;
	return n != NULL;
}

bool
ma_fixture_set_servfail(struct ma_fixture *f, const char *name)
{
	struct node *n = get_node(f, name);

	if (n)
		n->servfail = true;
	return n != NULL;
}

bool
ma_fixture_mark_txt(struct ma_fixture *f, const char *name)
{
	struct node *n = get_node(f, name);

	if (n)
		n->txt_entry = true;
	return n != NULL;
}

void
ma_fixture_seal(struct ma_fixture *f)
{
	if (f->sealed)
		return;
	for (size_t i = 0; i < f->nbuckets; i++)
		for (struct node *n = f->buckets[i]; n; n = n->next) {
			for (int s = 0; s < 8; s++) {
				if (n->pend[s] == NULL)
					continue;
				struct ma_answer *a = ma_ab_finish(n->pend[s], MA_DNS_NODATA, false, 0);
				n->pend[s] = NULL;
				if (a && a->status == MA_DNS_OK)
					n->built[n->nbuilt++] = (struct typed){ slots[s], a };
				else
					ma_answer_unref(a);
			}
			if (!n->txt_entry) {
				/* Serve the SPF answer as TXT too (the same records). */
				for (size_t k = 0; k < n->nbuilt; k++) {
					const struct ma_answer *spf = n->built[k].ans;
					if (n->built[k].type != MA_RR_SPF)
						continue;
					struct ma_answer_builder *b = ma_ab_new(MA_RR_TXT);
					for (size_t j = 0; j < spf->nrr; j++)
						ma_ab_add_txt(b, MA_RR_TXT, spf->rr[j].u.txt.str,
						    spf->rr[j].u.txt.nstr, spf->rr[j].ttl);
					struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
					if (a)
						n->built[n->nbuilt++] = (struct typed){ MA_RR_TXT, a };
					break;
				}
			}
		}
	f->sealed = true;
}

static struct ma_answer *
answer_for(const struct ma_fixture *f, const char *name, uint16_t type)
{
	const struct node *n = NULL;
	char target[MA_DNS_NAME_MAX];

	/* Follow CNAMEs as a recursive resolver does; 8 hops is ample and
	 * turns a loop into SERVFAIL.  Targets keep their spelling, so they
	 * are normalized (lower-cased) before the lookup. */
	for (int hop = 0; hop <= 8; hop++) {
		n = lookup(f, name);
		if (n == NULL)
			return ma_answer_status(MA_DNS_NXDOMAIN);
		if (n->cname == NULL || type == MA_RR_CNAME)
			break;
		if (!ma_dns_name_normalize(n->cname, strlen(n->cname), target))
			return ma_answer_status(MA_DNS_SERVFAIL);
		name = target;
		if (hop == 8)
			return ma_answer_status(MA_DNS_SERVFAIL);
	}
	for (size_t k = 0; k < n->nbuilt; k++)
		if (n->built[k].type == type)
			return ma_answer_ref(n->built[k].ans);
	if (type == MA_RR_CNAME && n->cname) {
		struct ma_answer_builder *b = ma_ab_new(type);
		ma_ab_add_name(b, MA_RR_CNAME, n->cname, 3600);
		struct ma_answer *a = ma_ab_finish(b, MA_DNS_NODATA, false, 0);
		return a ? a : ma_answer_status(MA_DNS_ERROR);
	}
	if (n->timeout)
		return ma_answer_status(MA_DNS_TIMEOUT);
	if (n->servfail)
		return ma_answer_status(MA_DNS_SERVFAIL);
	return ma_answer_status(MA_DNS_NODATA);
}

static void
fixture_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	struct ma_fixture *f = impl;

	(void)deadline;
	for (size_t i = 0; i < n; i++)
		q[i].ans = answer_for(f, q[i].name, q[i].type);
}

static void
fixture_free(void *impl)
{
	ma_fixture_free(impl);
}

static const struct ma_resolver_ops fixture_ops = {
	"fixture", fixture_lookup, fixture_free, true,
};

struct ma_resolver *
ma_resolver_new_fixture(struct ma_fixture *f)
{
	if (f == NULL)
		return NULL;
	ma_fixture_seal(f);
	return ma_resolver_new(&fixture_ops, f);
}
