/* The DNS cache: a hash table with an LRU list, bounded by entry count. */
#include "resolver.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* LRU list, most recent first */
	uint32_t hash;
	uint16_t type;
	int64_t expires;
	struct ma_answer *ans;
	char name[];
};

struct ma_cache {
	int refs;
	pthread_mutex_t lock;
	size_t max, count, nbuckets;
	uint32_t max_ttl, neg_ttl;
	struct entry **buckets;
	struct entry *head, *tail;
	size_t hits, misses, evictions;
};

struct ma_cache *
ma_cache_new(size_t max_entries, uint32_t max_ttl, uint32_t neg_ttl)
{
	struct ma_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (max_entries == 0)
		max_entries = 1;
	c->nbuckets = 16;
	while (c->nbuckets < max_entries && c->nbuckets < (1u << 24))
		c->nbuckets <<= 1;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	c->refs = 1;
	c->max = max_entries;
	c->max_ttl = max_ttl ? max_ttl : 86400;
	c->neg_ttl = neg_ttl ? neg_ttl : 300;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

struct ma_cache *
ma_cache_ref(struct ma_cache *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

static void
entry_free(struct entry *e)
{
	ma_answer_unref(e->ans);
	free(e);
}

void
ma_cache_unref(struct ma_cache *c)
{
	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (struct entry *e = c->head, *n; e; e = n) {
		n = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static uint32_t
hash_key(const char *name, uint16_t type)
{
	uint32_t h = 2166136261u ^ type;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static void
lru_unlink(struct ma_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct ma_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void
remove_entry(struct ma_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(c, e);
	c->count--;
	entry_free(e);
}

static struct entry *
find(struct ma_cache *c, const char *name, uint16_t type, uint32_t h)
{
	for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->type == type && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

struct ma_answer *
ma_cache_get(struct ma_cache *c, const char *name, uint16_t type, int64_t now)
{
	uint32_t h = hash_key(name, type);
	struct ma_answer *a = NULL;

	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, name, type, h);
	if (e && e->expires <= now) {
		remove_entry(c, e);
		e = NULL;
	}
	if (e) {
		lru_unlink(c, e);
		lru_push(c, e);
		a = ma_answer_ref(e->ans);
		c->hits++;
	} else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return a;
}

void
ma_cache_put(struct ma_cache *c, const char *name, uint16_t type, struct ma_answer *a, int64_t now)
{
	uint32_t ttl;

	switch (a->status) {
	case MA_DNS_OK:
		ttl = a->ttl < c->max_ttl ? a->ttl : c->max_ttl;
		break;
	case MA_DNS_NODATA:
	case MA_DNS_NXDOMAIN:
		/* RFC 2308: the SOA-derived TTL, capped by our own limit. */
		ttl = a->ttl && a->ttl < c->neg_ttl ? a->ttl : c->neg_ttl;
		break;
	default:
		return;
	}
	if (ttl == 0)
		return;
	size_t nl = strlen(name);
	struct entry *e = malloc(sizeof(*e) + nl + 1);
	if (e == NULL)
		return;
	memcpy(e->name, name, nl + 1);
	e->hash = hash_key(name, type);
	e->type = type;
	e->expires = now + (int64_t)ttl * 1000;
	e->ans = ma_answer_ref(a);
	e->prev = e->next = NULL;

	pthread_mutex_lock(&c->lock);
	struct entry *old = find(c, name, type, e->hash);
	if (old)
		remove_entry(c, old);
	while (c->count >= c->max && c->tail) {
		remove_entry(c, c->tail);
		c->evictions++;
	}
	struct entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	lru_push(c, e);
	c->count++;
	pthread_mutex_unlock(&c->lock);
}

void
ma_cache_stats(struct ma_cache *c, struct ma_cache_stats *s)
{
	pthread_mutex_lock(&c->lock);
	s->entries = c->count;
	s->hits = c->hits;
	s->misses = c->misses;
	s->evictions = c->evictions;
	pthread_mutex_unlock(&c->lock);
}
