#include "resolver.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ma_resolver {
	const struct ma_resolver_ops *ops;
	void *impl;
	struct ma_cache *cache;
	/* Backends keep per-handle state (sockets, the c-ares channel): one
	 * batch at a time per handle, so threads sharing a handle are safe. */
	pthread_mutex_t lock;
};

void
ma_budget_init(struct ma_budget *b, unsigned max_queries, unsigned timeout_ms)
{
	b->max_queries = max_queries;
	b->queries = 0;
	b->deadline = timeout_ms ? ma_now_ms() + timeout_ms : 0;
}

int64_t
ma_budget_left(const struct ma_budget *b)
{
	if (b == NULL || b->deadline == 0)
		return INT64_MAX;
	int64_t left = b->deadline - ma_now_ms();
	return left > 0 ? left : 0;
}

struct ma_resolver *
ma_resolver_new(const struct ma_resolver_ops *ops, void *impl)
{
	struct ma_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		ops->free(impl);
		return NULL;
	}
	r->ops = ops;
	r->impl = impl;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void
ma_resolver_free(struct ma_resolver *r)
{
	if (r == NULL)
		return;
	r->ops->free(r->impl);
	ma_cache_unref(r->cache);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const char *
ma_resolver_backend(const struct ma_resolver *r)
{
	return r->ops->name;
}

void
ma_resolver_set_cache(struct ma_resolver *r, struct ma_cache *c)
{
	struct ma_cache *old = r->cache;

	r->cache = c ? ma_cache_ref(c) : NULL;	/* before the release: c may be old */
	ma_cache_unref(old);
}

bool
ma_resolver_has_cache(const struct ma_resolver *r)
{
	return r->cache != NULL;
}

#define BATCH_STACK	16

size_t
ma_resolve(struct ma_resolver *r, struct ma_budget *b, struct ma_query *q, size_t n)
{
	struct ma_query mstack[BATCH_STACK], *miss = mstack;
	char nstack[BATCH_STACK][MA_DNS_NAME_MAX], (*names)[MA_DNS_NAME_MAX] = nstack;
	size_t *idx, istack[BATCH_STACK], nmiss = 0;
	int64_t now = 0;

	if (n > BATCH_STACK) {
		miss = calloc(n, sizeof(*miss));
		names = calloc(n, sizeof(*names));
		idx = calloc(n, sizeof(*idx));
		if (miss == NULL || names == NULL || idx == NULL) {
			for (size_t i = 0; i < n; i++)
				q[i].ans = ma_answer_status(MA_DNS_ERROR);
			free(miss);
			free(names);
			free(idx);
			return 0;
		}
	} else
		idx = istack;

	if (r->cache || (b && b->deadline))
		now = ma_now_ms();
	for (size_t i = 0; i < n; i++) {
		q[i].ans = NULL;
		if (!ma_dns_name_normalize(q[i].name, strlen(q[i].name), names[nmiss])) {
			q[i].ans = ma_answer_status(MA_DNS_ERROR);
			continue;
		}
		if (b) {
			if ((b->max_queries && b->queries >= b->max_queries) ||
			    (b->deadline && now >= b->deadline)) {
				q[i].ans = ma_answer_status(MA_DNS_LIMIT);
				continue;
			}
			b->queries++;
		}
		if (r->cache && (q[i].ans = ma_cache_get(r->cache, names[nmiss], q[i].type, now)))
			continue;
		miss[nmiss].name = names[nmiss];
		miss[nmiss].type = q[i].type;
		miss[nmiss].ans = NULL;
		idx[nmiss++] = i;
	}
	if (nmiss) {
		if (r->ops->reentrant)
			r->ops->lookup(r->impl, miss, nmiss, b ? b->deadline : 0);
		else {
			pthread_mutex_lock(&r->lock);
			r->ops->lookup(r->impl, miss, nmiss, b ? b->deadline : 0);
			pthread_mutex_unlock(&r->lock);
		}
		if (r->cache)
			now = ma_now_ms();
		for (size_t j = 0; j < nmiss; j++) {
			struct ma_answer *a = miss[j].ans ? miss[j].ans : ma_answer_status(MA_DNS_ERROR);
			if (r->cache)
				ma_cache_put(r->cache, miss[j].name, miss[j].type, a, now);
			q[idx[j]].ans = a;
		}
	}
	if (miss != mstack) {
		free(miss);
		free(names);
		free(idx);
	}
	return nmiss;
}

struct ma_answer *
ma_resolve1(struct ma_resolver *r, struct ma_budget *b, const char *name, uint16_t type)
{
	struct ma_query q = { name, type, NULL };

	ma_resolve(r, b, &q, 1);
	return q.ans;
}

void
ma_query_release(struct ma_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ma_answer_unref(q[i].ans);
		q[i].ans = NULL;
	}
}
