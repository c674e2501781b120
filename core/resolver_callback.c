/* Callback backend: a host function answers each query (the Lua binding
 * uses it to let scripts supply DNS). */
#include "resolver.h"

#include <stdlib.h>

struct cb {
	ma_resolver_fn fn;
	void *ctx;
};

static void
cb_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	struct cb *c = impl;

	(void)deadline;
	for (size_t i = 0; i < n; i++) {
		q[i].ans = c->fn(c->ctx, q[i].name, q[i].type);
		if (q[i].ans == NULL)
			q[i].ans = ma_answer_status(MA_DNS_ERROR);
	}
}

static void
cb_free(void *impl)
{
	free(impl);
}

static const struct ma_resolver_ops callback_ops = {
	"callback", cb_lookup, cb_free, false,
};

struct ma_resolver *
ma_resolver_new_callback(ma_resolver_fn fn, void *ctx)
{
	struct cb *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fn = fn;
	c->ctx = ctx;
	return ma_resolver_new(&callback_ops, c);
}
