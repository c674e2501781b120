/* The Authentication-Results field a receiver adds for its own checks
 * (RFC 8601 2.7), from results in plain strings, so that the Lua binding
 * (result tables) and the C pipeline (outcome structs) write the same
 * field. */
#include "authres.h"

#include <stdio.h>
#include <string.h>

static const char *
str(const char *s)
{
	return s && *s ? s : NULL;
}

static bool
is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static void
prop(struct ma_ar *a, const char *ptype, const char *p, const char *v)
{
	if (str(v))
		ma_ar_prop(a, ptype, p, v);
}

static void
spf(struct ma_ar *a, const struct ma_ar_spf *s)
{
	const char *res = str(s->result) ? s->result : "none";

	/* RFC 8601 2.7.2: the reason matters when there is no clear answer. */
	ma_ar_method(a, "spf", res, is(res, "permerror") || is(res, "temperror") ? str(s->reason) : NULL);
	if (s->helo)
		prop(a, "smtp", "helo", s->domain);
	else
		prop(a, "smtp", "mailfrom", str(s->sender) ? s->sender : s->domain);
}

static void
dkim(struct ma_ar *a, const struct ma_ar_dkim *s)
{
	const char *res = str(s->result) ? s->result : "none";
	char buf[64];

	ma_ar_method(a, "dkim", res, is(res, "pass") ? NULL : str(s->reason));
	prop(a, "header", "d", s->domain);
	prop(a, "header", "s", s->selector);
	prop(a, "header", "a", s->algorithm);
	prop(a, "header", "b", s->header_b);	/* RFC 6008: tells signatures apart */
	if (s->bits > 0) {
		snprintf(buf, sizeof(buf), "%lld-bit key%s", s->bits, s->testing ? ", testing" : "");
		ma_ar_comment(a, buf);
	}
}

static void
dmarc(struct ma_ar *a, const struct ma_ar_dmarc *d)
{
	const char *res = str(d->result) ? d->result : "none";
	const char *pol = str(d->policy);
	char buf[128];
	size_t o = 0;

	ma_ar_method(a, "dmarc", res, is(res, "permerror") || is(res, "temperror") ? str(d->reason) : NULL);
	prop(a, "header", "from", d->author_domain);
	prop(a, "policy", "dmarc", pol);
	/* The owner's request and what this message got, as large receivers
	 * write it ("p=reject dis=quarantine"). */
	buf[0] = '\0';
	if (pol)
		o = ma_bprintf(buf, sizeof(buf), "p=%s dis=%s%s", str(d->requested) ? d->requested : pol,
		    str(d->disposition) ? d->disposition : "none", d->testing ? " t=y" : "");
	if (str(d->arc))
		ma_bprintf(buf + o, sizeof(buf) - o, "%sarc=%s", o ? " " : "", d->arc);
	if (buf[0])
		ma_ar_comment(a, buf);
}

char *
ma_authres_results(const struct ma_ar_results *r)
{
	struct ma_ar a;

	ma_ar_init(&a, r->authserv_id);
	if (r->spf)
		spf(&a, r->spf);
	if (r->have_dkim) {
		if (r->ndkim == 0)
			ma_ar_method(&a, "dkim", "none", NULL);
		for (size_t i = 0; i < r->ndkim; i++)
			dkim(&a, &r->dkim[i]);
	}
	if (r->dmarc)
		dmarc(&a, r->dmarc);
	return ma_ar_finish(&a);
}
