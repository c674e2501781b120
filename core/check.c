#include "check.h"
#include "from.h"
#include "tags.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define MAX_PREFETCH	48

struct batch {
	struct ma_query q[MAX_PREFETCH];
	char names[MAX_PREFETCH][MA_DNS_NAME_MAX + 8];
	size_t n;
};

static void
add(struct batch *b, const char *name, uint16_t type)
{
	char norm[MA_DNS_NAME_MAX];

	if (b->n == MAX_PREFETCH || !ma_dns_name_normalize(name, strlen(name), norm))
		return;
	for (size_t i = 0; i < b->n; i++)
		if (b->q[i].type == type && strcmp(b->names[i], norm) == 0)
			return;
	memcpy(b->names[b->n], norm, strlen(norm) + 1);
	b->q[b->n] = (struct ma_query){ b->names[b->n], type, NULL };
	b->n++;
}

size_t
ma_check_prefetch(struct ma_resolver *r, struct ma_budget *bud, const struct ma_msg *m,
    const char *spf_domain, unsigned max_signatures)
{
	struct batch b;
	char name[MA_DNS_NAME_MAX + 16];

	/* Prefetching hides network latency; with answers already in memory
	 * (fixture, callback) it would only be work done twice. */
	if (!ma_resolver_has_cache(r) || strcmp(ma_resolver_backend(r), "dns") != 0)
		return 0;
	b.n = 0;
	if (spf_domain && *spf_domain)
		add(&b, spf_domain, MA_RR_TXT);
	unsigned sigs = 0;
	for (size_t i = 0; m && i < ma_msg_count(m) && sigs < max_signatures; i++) {
		const struct ma_header *h = ma_msg_header(m, i);
		struct ma_tag t[64];
		char err[64];
		if (!ma_header_is(h, "DKIM-Signature"))
			continue;
		sigs++;
		int n = ma_tags_parse(h->raw + h->valoff, h->len - h->valoff, t, 64, err, sizeof(err));
		const struct ma_tag *d = n > 0 ? ma_tags_get(t, n, "d") : NULL;
		const struct ma_tag *s = n > 0 ? ma_tags_get(t, n, "s") : NULL;
		if (d && s && d->vallen < 254 && s->vallen < 64) {
			snprintf(name, sizeof(name), "%.*s._domainkey.%.*s", (int)s->vallen, s->val,
			    (int)d->vallen, d->val);
			add(&b, name, MA_RR_TXT);
		}
	}
	struct ma_from from;
	if (m && ma_from_extract(m, &from) == MA_FROM_OK) {
		/* The tree walk's names (RFC 9989 4.10): the domain, then its
		 * suffixes of up to seven labels. */
		const char *d = from.domains[0];
		size_t labels = 1;
		for (const char *p = d; *p; p++)
			labels += *p == '.';
		snprintf(name, sizeof(name), "_dmarc.%s", d);
		add(&b, name, MA_RR_TXT);
		const char *p = d;
		for (size_t l = labels; l > 1; l--) {
			p = strchr(p, '.') + 1;
			if (l - 1 <= 7) {
				snprintf(name, sizeof(name), "_dmarc.%s", p);
				add(&b, name, MA_RR_TXT);
			}
		}
	}
	ma_resolve(r, bud, b.q, b.n);
	ma_query_release(b.q, b.n);
	return b.n;
}
