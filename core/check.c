#include "check.h"
#include "from.h"
#include "ip.h"
#include "tags.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add(struct ma_check_batch *b, const char *name, uint16_t type)
{
	char norm[MA_DNS_NAME_MAX];

	if (b->n == MA_CHECK_MAX_PREFETCH || !ma_dns_name_normalize(name, strlen(name), norm))
		return;
	for (size_t i = 0; i < b->n; i++)
		if (b->q[i].type == type && strcmp(b->names[i], norm) == 0)
			return;
	memcpy(b->names[b->n], norm, strlen(norm) + 1);
	b->q[b->n] = (struct ma_query){ b->names[b->n], type, NULL };
	b->n++;
}

void
ma_check_prefetch_names(const struct ma_msg *m, const char *spf_domain, unsigned max_signatures,
    struct ma_check_batch *bp)
{
	char name[MA_DNS_NAME_MAX + 16];

	bp->n = 0;
	if (spf_domain && *spf_domain)
		add(bp, spf_domain, MA_RR_TXT);
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
			add(bp, name, MA_RR_TXT);
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
		add(bp, name, MA_RR_TXT);
		const char *p = d;
		for (size_t l = labels; l > 1; l--) {
			p = strchr(p, '.') + 1;
			if (l - 1 <= 7) {
				snprintf(name, sizeof(name), "_dmarc.%s", p);
				add(bp, name, MA_RR_TXT);
			}
		}
	}
}

size_t
ma_check_prefetch(struct ma_resolver *r, struct ma_budget *bud, const struct ma_msg *m,
    const char *spf_domain, unsigned max_signatures)
{
	struct ma_check_batch b;

	/* Prefetching hides network latency; with answers already in memory
	 * (fixture, callback) it would only be work done twice. */
	if (!ma_resolver_has_cache(r) || strcmp(ma_resolver_backend(r), "dns") != 0)
		return 0;
	ma_check_prefetch_names(m, spf_domain, max_signatures, &b);
	ma_resolve(r, bud, b.q, b.n);
	ma_query_release(b.q, b.n);
	return b.n;
}

static void
ar_spf(const struct ma_spf_outcome *o, struct ma_ar_spf *a)
{
	*a = (struct ma_ar_spf){ .result = ma_spf_result_name(o->result), .reason = o->reason,
		.domain = o->domain, .sender = o->sender, .helo = o->helo_identity };
}

static void
ar_dkim(const struct ma_dkim_sig *s, struct ma_ar_dkim *a)
{
	*a = (struct ma_ar_dkim){ .result = ma_dkim_result_name(s->result), .reason = s->reason,
		.domain = s->domain, .selector = s->selector, .algorithm = s->algorithm,
		.header_b = s->header_b, .bits = s->bits, .testing = s->testing };
}

static void
ar_dmarc(const struct ma_dmarc_outcome *o, struct ma_ar_dmarc *a)
{
	*a = (struct ma_ar_dmarc){ .result = ma_dmarc_result_name(o->result), .reason = o->reason,
		.author_domain = o->author_domain };
	if (o->have_record) {
		a->policy = ma_dmarc_policy_name(o->policy);
		a->requested = ma_dmarc_policy_name(o->requested);
		a->disposition = ma_dmarc_policy_name(o->disposition);
		a->testing = o->testing;
	}
}

int
ma_check_run(struct ma_resolver *r, struct ma_budget *b, const struct ma_msg *m,
    const struct ma_check_request *q, struct ma_dkim_sig *sigs, size_t max_sigs, struct ma_check_result *out)
{
	const char *mail_from = q->mail_from ? q->mail_from : "";
	const char *at = strrchr(mail_from, '@');
	const char *id = q->authserv_id ? q->authserv_id : "localhost";
	struct ma_dkim_verify_opts vo = q->dkim;

	out->authres = NULL;
	out->forged = NULL;
	out->nsigs = out->nforged = 0;
	out->sigs = sigs;
	out->received_spf[0] = '\0';
	if (max_sigs > MA_CHECK_MAX_SIGS)	/* the identity and A-R arrays below */
		max_sigs = MA_CHECK_MAX_SIGS;
	if (vo.now == 0)
		vo.now = q->now;
	struct ma_ip ip;
	if (q->ip == NULL || !ma_ip_parse(&ip, q->ip, strlen(q->ip)))
		return -1;	/* before any query goes out for it */
	ma_check_prefetch(r, b, m, *mail_from ? (at ? at + 1 : mail_from) : q->helo,
	    vo.max_signatures ? vo.max_signatures : 10);

	struct ma_spf_request sq = { .ip = q->ip, .helo = q->helo ? q->helo : "", .mail_from = mail_from,
		.receiver = id, .now = q->now };
	if (ma_spf_check(r, b, &sq, &out->spf) < 0)
		return -1;
	if (q->received_spf)
		ma_spf_received(&sq, &out->spf, out->received_spf, sizeof(out->received_spf));

	out->nsigs = ma_dkim_verify(r, b, m, &vo, sigs, max_sigs);

	/* DMARC's identities are the two checks' results (RFC 9989 4.4). */
	struct ma_dmarc_identity ids[MA_CHECK_MAX_SIGS];
	struct ma_dmarc_request dq = {
		.spf = { .domain = out->spf.domain, .pass = out->spf.result == MA_SPF_PASS, .unsigned_bytes = -1 },
		.spf_helo = out->spf.helo_identity, .dkim = ids, .rfc7489 = q->rfc7489, .psl = q->psl,
		.check_reports = q->check_reports, .sample = q->sample,
	};
	for (size_t i = 0; i < out->nsigs; i++, dq.ndkim++)
		ids[i] = (struct ma_dmarc_identity){ .domain = sigs[i].domain, .pass = sigs[i].result == MA_DKIM_PASS,
			.unsigned_bytes = sigs[i].unsigned_bytes };
	ma_dmarc_check_message(r, b, m, &dq, &out->dmarc);

	if (!q->no_authres) {
		struct ma_ar_spf as;
		struct ma_ar_dkim ad[MA_CHECK_MAX_SIGS];
		struct ma_ar_dmarc am;
		struct ma_ar_results ar = { .authserv_id = id, .spf = &as, .have_dkim = true, .dkim = ad,
			.dmarc = &am };
		ar_spf(&out->spf, &as);
		for (; ar.ndkim < out->nsigs; ar.ndkim++)
			ar_dkim(&sigs[ar.ndkim], &ad[ar.ndkim]);
		ar_dmarc(&out->dmarc, &am);
		if ((out->authres = ma_authres_results(&ar)) == NULL)
			return -2;
	}

	/* Fields claiming to be ours arrived with the message: forged or
	 * stale, never to be trusted or delivered (RFC 8601 5). */
	for (size_t i = 0; i < ma_msg_count(m); i++) {
		const struct ma_header *h = ma_msg_header(m, i);
		if (!ma_header_is(h, "Authentication-Results") ||
		    !ma_authres_claims(h->raw + h->valoff, h->len - h->valoff, id))
			continue;
		if (out->nforged % 8 == 0) {
			size_t *p = realloc(out->forged, (out->nforged + 8) * sizeof(*p));
			if (p == NULL)
				return -2;
			out->forged = p;
		}
		out->forged[out->nforged++] = i;
	}
	return 0;
}

void
ma_check_result_free(struct ma_check_result *out)
{
	free(out->authres);
	free(out->forged);
	out->authres = NULL;
	out->forged = NULL;
}
