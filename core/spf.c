/* SPF evaluation: check_host() (RFC 7208 4-6) over the resolver. */
#include "spf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_BUF	512	/* an expanded, truncated target name */
#define MAX_MX_HOSTS	10	/* RFC 7208 4.6.4 */
#define MAX_PTR_NAMES	10

static const char *const result_names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror",
};

const char *
ma_spf_result_name(enum ma_spf_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r] : "permerror";
}

static enum ma_spf_result __attribute__((format(printf, 3, 4)))
err(struct spf_eval *ev, enum ma_spf_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->out->reason, sizeof(ev->out->reason), fmt, ap);
	va_end(ap);
	return r;
}

static enum ma_spf_result
dns_err(struct spf_eval *ev, const struct ma_answer *a, uint16_t type, const char *name)
{
	if (a->status == MA_DNS_LIMIT)
		return err(ev, MA_SPF_TEMPERROR, "DNS budget exhausted before %s %s", ma_rrtype_name(type), name);
	ma_bprintf(ev->out->reason, sizeof(ev->out->reason), "DNS %s for %s %s",
	    ma_dns_status_name(a->status), ma_rrtype_name(type), name);
	return MA_SPF_TEMPERROR;
}

static bool
dns_failed(const struct ma_answer *a)
{
	return a->status != MA_DNS_OK && a->status != MA_DNS_NODATA && a->status != MA_DNS_NXDOMAIN;
}

static struct ma_answer *
lookup(struct spf_eval *ev, const char *name, uint16_t type)
{
	ev->out->queries++;
	return ma_resolve1(ev->r, ev->budget, name, type);
}

/* Counts a DNS-querying term (4.6.4); false when over the limit. */
static bool
count_term(struct spf_eval *ev)
{
	return ++ev->out->lookups <= ev->max_terms;
}

/* Counts a void lookup; false when over the limit. */
static bool
count_void(struct spf_eval *ev, const struct ma_answer *a)
{
	if (a->status != MA_DNS_NODATA && a->status != MA_DNS_NXDOMAIN)
		return true;
	return ++ev->out->void_lookups <= ev->max_void;
}

/* Initial processing (4.3): a usable multi-label domain name. */
static bool
domain_ok(const char *d)
{
	char norm[MA_DNS_NAME_MAX];
	size_t len = strlen(d);

	if (!ma_dns_name_normalize(d, len, norm) || strchr(norm, '.') == NULL)
		return false;
	for (const char *p = norm; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* A name after macro expansion, usable for a query. */
static bool
target_ok(const char *d)
{
	char norm[MA_DNS_NAME_MAX];

	return ma_dns_name_normalize(d, strlen(d), norm);
}

/* Expands a domain-spec (or takes the current domain) into buf, through
 * the evaluation's one large expansion buffer so that recursion (include,
 * redirect) keeps only short names on the stack. */
static int
target(struct spf_eval *ev, const char *spec, size_t speclen, const char *domain, char buf[NAME_BUF])
{
	if (spec == NULL) {
		ma_strlcpy(buf, domain, NAME_BUF);
		return 0;
	}
	long n = spf_macro_expand(ev, spec, speclen, false, domain, ev->xbuf, SPF_XBUF);
	if (n < 0)
		return -1;
	size_t len = spf_name_truncate(ev->xbuf, (size_t)n);
	if (len >= NAME_BUF)
		return -1;
	memcpy(buf, ev->xbuf, len + 1);
	return 0;
}

static bool
addr_match(const struct spf_eval *ev, const struct ma_answer *a, const struct spf_term *t)
{
	for (size_t i = 0; i < a->nrr; i++) {
		const struct ma_rr *rr = &a->rr[i];
		if (rr->type == MA_RR_A && ma_ip_match(&ev->ip, rr->u.a, 4, t->cidr4))
			return true;
		if (rr->type == MA_RR_AAAA && ma_ip_match(&ev->ip, rr->u.aaaa, 6, t->cidr6))
			return true;
	}
	return false;
}

static bool
name_within(const char *n, const char *dom)
{
	size_t nl = strlen(n), dl = strlen(dom);

	if (nl && n[nl - 1] == '.')
		nl--;
	if (dl && dom[dl - 1] == '.')
		dl--;
	if (nl == dl)
		return ma_strcaseeq(n, nl, dom, dl);
	return nl > dl && n[nl - dl - 1] == '.' && ma_strcaseeq(n + nl - dl, dl, dom, dl);
}

void
spf_validated_names(struct spf_eval *ev)
{
	char rev[80];
	struct ma_query q[MAX_PTR_NAMES];
	size_t n = 0;

	if (ev->ptr_done)
		return;
	ev->ptr_done = true;
	ma_ip_reverse(&ev->ip, rev, sizeof(rev));
	struct ma_answer *pa = lookup(ev, rev, MA_RR_PTR);
	/* 5.5: a PTR error means no match; only the first 10 names count. */
	for (size_t i = 0; i < pa->nrr && n < MAX_PTR_NAMES; i++) {
		if (pa->rr[i].type != MA_RR_PTR || !target_ok(pa->rr[i].u.name))
			continue;
		q[n].name = pa->rr[i].u.name;
		q[n].type = ev->ip.family == 4 ? MA_RR_A : MA_RR_AAAA;
		n++;
	}
	ev->out->queries += (unsigned)n;
	ma_resolve(ev->r, ev->budget, q, n);
	ev->ptr_names = ma_arena_alloc(&ev->arena, (n ? n : 1) * sizeof(char *));
	for (size_t i = 0; i < n && ev->ptr_names; i++) {
		struct spf_term any = { .cidr4 = 32, .cidr6 = 128 };
		if (q[i].ans->status == MA_DNS_OK && addr_match(ev, q[i].ans, &any))
			ev->ptr_names[ev->nptr++] = ma_arena_strndup(&ev->arena, q[i].name, strlen(q[i].name));
	}
	ma_query_release(q, n);
	ma_answer_unref(pa);
}

static enum ma_spf_result check_host(struct spf_eval *, const char *domain, unsigned depth);

/* The mx mechanism: MX names, then their addresses in one batch. */
static int
match_mx(struct spf_eval *ev, const struct spf_term *t, const char *name, enum ma_spf_result *res)
{
	struct ma_answer *mx = lookup(ev, name, MA_RR_MX);
	struct ma_query q[MAX_MX_HOSTS];
	size_t n = 0;
	int m = 0;

	if (dns_failed(mx)) {
		*res = dns_err(ev, mx, MA_RR_MX, name);
		m = -1;
	} else if (!count_void(ev, mx)) {
		*res = err(ev, MA_SPF_PERMERROR, "more than %u void lookups, at mx:%s", ev->max_void, name);
		m = -1;
	} else if (mx->nrr > MAX_MX_HOSTS) {
		*res = err(ev, MA_SPF_PERMERROR, "mx:%s has more than %d MX records", name, MAX_MX_HOSTS);
		m = -1;
	}
	if (m < 0) {
		ma_answer_unref(mx);
		return -1;
	}
	for (size_t i = 0; i < mx->nrr; i++) {
		const char *h = mx->rr[i].u.mx.host;
		if (mx->rr[i].type != MA_RR_MX || !target_ok(h))
			continue;	/* null MX "." and unusable names */
		q[n].name = h;
		q[n].type = ev->ip.family == 4 ? MA_RR_A : MA_RR_AAAA;
		n++;
	}
	ev->out->queries += (unsigned)n;
	ma_resolve(ev->r, ev->budget, q, n);
	for (size_t i = 0; i < n && !m; i++)
		if (q[i].ans->status == MA_DNS_OK && addr_match(ev, q[i].ans, t))
			m = 1;
	ma_query_release(q, n);
	ma_answer_unref(mx);
	return m;
}

/* Evaluates one mechanism: 1 match, 0 no match, -1 error in *res. */
static int
mechanism(struct spf_eval *ev, const struct spf_term *t, const char *domain, unsigned depth,
    enum ma_spf_result *res)
{
	char name[NAME_BUF];
	struct ma_answer *a;
	int m;

	switch (t->mech) {
	case M_ALL:
		return 1;
	case M_IP4:
		return ma_ip_match(&ev->ip, t->addr, 4, t->cidr4);
	case M_IP6:
		return ma_ip_match(&ev->ip, t->addr, 6, t->cidr6);
	default:
		break;
	}
	if (!count_term(ev)) {
		*res = err(ev, MA_SPF_PERMERROR, "more than %u DNS-querying terms, at %s", ev->max_terms, domain);
		return -1;
	}
	if (target(ev, t->spec, t->speclen, domain, name) < 0) {
		*res = err(ev, MA_SPF_PERMERROR, "macro expansion too long, or an unusable name, in the record at %s", domain);
		return -1;
	}
	if (!target_ok(name)) {
		*res = err(ev, MA_SPF_PERMERROR, "invalid domain name '%.200s' in the record at %s", name, domain);
		return -1;
	}
	switch (t->mech) {
	case M_INCLUDE: {
		/* Inside an include only errors are reported: the match that
		 * counts is this include term, named by our caller. */
		ev->in_include++;
		enum ma_spf_result r = check_host(ev, name, depth + 1);
		ev->in_include--;
		switch (r) {
		case MA_SPF_PASS:
			return 1;
		case MA_SPF_FAIL:
		case MA_SPF_SOFTFAIL:
		case MA_SPF_NEUTRAL:
			return 0;
		case MA_SPF_NONE:
			*res = err(ev, MA_SPF_PERMERROR, "include:%s has no SPF record", name);
			return -1;
		default:
			*res = r;
			return -1;
		}
	}
	case M_A:
	case M_EXISTS:
		a = lookup(ev, name, t->mech == M_EXISTS || ev->ip.family == 4 ? MA_RR_A : MA_RR_AAAA);
		if (dns_failed(a)) {
			*res = dns_err(ev, a, a->qtype ? a->qtype : MA_RR_A, name);
			m = -1;
		} else if (!count_void(ev, a)) {
			*res = err(ev, MA_SPF_PERMERROR, "more than %u void lookups, at %s", ev->max_void, name);
			m = -1;
		} else if (t->mech == M_EXISTS)
			m = a->nrr > 0;
		else
			m = addr_match(ev, a, t);
		ma_answer_unref(a);
		return m;
	case M_MX:
		return match_mx(ev, t, name, res);
	case M_PTR:
		spf_validated_names(ev);
		for (size_t i = 0; i < ev->nptr; i++)
			if (name_within(ev->ptr_names[i], name))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static enum ma_spf_result
qual_result(char q)
{
	switch (q) {
	case '-': return MA_SPF_FAIL;
	case '~': return MA_SPF_SOFTFAIL;
	case '?': return MA_SPF_NEUTRAL;
	default: return MA_SPF_PASS;
	}
}

/* exp= (6.2): failures of any kind leave the explanation empty. */
static void
explain(struct spf_eval *ev, const struct spf_record *rec, const char *domain)
{
	char name[NAME_BUF];
	unsigned char text[MA_SPF_TEXT_MAX];
	struct ma_answer *a;
	const struct ma_rr *one = NULL;

	if (target(ev, rec->exp, rec->explen, domain, name) < 0 || !target_ok(name))
		return;
	a = lookup(ev, name, MA_RR_TXT);
	for (size_t i = 0; i < a->nrr; i++) {
		if (a->rr[i].type != MA_RR_TXT)
			continue;
		if (one) {
			one = NULL;	/* several records: none is used */
			break;
		}
		one = &a->rr[i];
	}
	if (one && one->u.txt.total < sizeof(text)) {
		size_t n = ma_txt_join(one, text, sizeof(text));
		bool ascii = true;
		for (size_t i = 0; i < n; i++)
			if (text[i] < 0x20 || text[i] > 0x7e)
				ascii = false;
		if (ascii && spf_macro_valid((const char *)text, n, true) &&
		    spf_macro_expand(ev, (const char *)text, n, true, domain,
		    ev->out->explanation, sizeof(ev->out->explanation)) < 0)
			ev->out->explanation[0] = '\0';
	}
	ma_answer_unref(a);
}

/* The SPF reading of a TXT answer, attached to it as its memo. */
#define SPF_MEMO_KIND	0x53504631	/* "SPF1" */

enum { SPF_MEMO_NONE, SPF_MEMO_MULTI, SPF_MEMO_BAD, SPF_MEMO_OK };

struct spf_memo {
	int kind;
	int state;
	char why[200];
	struct spf_record rec;
	struct ma_arena arena;	/* owns the record text and its terms */
};

static void
memo_free(void *p)
{
	struct spf_memo *m = p;

	ma_arena_free(&m->arena);
	free(m);
}

static const struct spf_memo *
memo_for(struct ma_answer *a)
{
	struct spf_memo *m = ma_answer_memo(a);
	const struct ma_rr *sel = NULL;

	if (m && m->kind == SPF_MEMO_KIND)
		return m;
	if (m)
		return NULL;	/* another user's memo: not expected on TXT answers */
	if ((m = malloc(sizeof(*m))) == NULL)
		return NULL;
	m->kind = SPF_MEMO_KIND;
	m->state = SPF_MEMO_NONE;
	m->why[0] = '\0';
	memset(&m->rec, 0, sizeof(m->rec));
	ma_arena_init(&m->arena, NULL, 0, 1u << 22);
	for (size_t i = 0; i < a->nrr; i++) {
		const struct ma_rr *rr = &a->rr[i];
		unsigned char head[7];
		if (rr->type != MA_RR_TXT)
			continue;
		size_t hl = ma_txt_join(rr, head, sizeof(head));
		if (!spf_is_record(head, hl < sizeof(head) ? hl : sizeof(head)))
			continue;
		if (sel) {
			m->state = SPF_MEMO_MULTI;
			break;
		}
		sel = rr;
	}
	if (sel && m->state != SPF_MEMO_MULTI) {
		size_t len = sel->u.txt.total;
		char *text = ma_arena_alloc(&m->arena, len + 1);
		if (text == NULL) {
			m->state = SPF_MEMO_BAD;
			ma_strlcpy(m->why, "record too large", sizeof(m->why));
		} else {
			ma_txt_join(sel, (unsigned char *)text, len);
			text[len] = '\0';
			m->state = spf_record_parse(text, len, &m->rec, &m->arena, m->why, sizeof(m->why)) < 0 ?
			    SPF_MEMO_BAD : SPF_MEMO_OK;
		}
	}
	return ma_answer_memo_set(a, m, memo_free);
}

static enum ma_spf_result
check_host(struct spf_eval *ev, const char *domain, unsigned depth)
{
	struct ma_answer *a;
	enum ma_spf_result res = MA_SPF_NEUTRAL;

	a = lookup(ev, domain, MA_RR_TXT);
	if (dns_failed(a)) {
		res = dns_err(ev, a, MA_RR_TXT, domain);
		goto out;
	}
	if (depth > 0 && !count_void(ev, a)) {
		res = err(ev, MA_SPF_PERMERROR, "more than %u void lookups, at %s", ev->max_void, domain);
		goto out;
	}
	/* 4.5: exactly one record that begins "v=spf1"; selected and parsed
	 * once per answer (the memo lives as long as the cached answer). */
	const struct spf_memo *memo = a->nrr ? memo_for(a) : NULL;
	if (a->nrr && memo == NULL) {
		res = err(ev, MA_SPF_TEMPERROR, "out of memory evaluating %s", domain);
		goto out;
	}
	if (memo == NULL || memo->state == SPF_MEMO_NONE) {
		res = MA_SPF_NONE;
		ma_bprintf(ev->out->reason, sizeof(ev->out->reason), "no SPF record at %s", domain);
		goto out;
	}
	if (memo->state == SPF_MEMO_MULTI) {
		res = err(ev, MA_SPF_PERMERROR, "more than one SPF record at %s", domain);
		goto out;
	}
	if (memo->state == SPF_MEMO_BAD) {
		res = err(ev, MA_SPF_PERMERROR, "%s in the record at %s", memo->why, domain);
		goto out;
	}
	const struct spf_record rec = memo->rec;
	for (size_t i = 0; i < rec.nterms; i++) {
		const struct spf_term *t = &rec.terms[i];
		int m = mechanism(ev, t, domain, depth, &res);
		if (m < 0)
			goto out;
		if (m == 0)
			continue;
		res = qual_result(t->qual);
		if (ev->in_include == 0) {
			ma_bprintf(ev->out->mechanism, sizeof(ev->out->mechanism), "%.*s", (int)t->textlen, t->text);
			ma_bprintf(ev->out->reason, sizeof(ev->out->reason), "%s matched %.*s in the record at %s",
			    ma_spf_result_name(res), (int)(t->textlen > 160 ? 160 : t->textlen), t->text, domain);
		}
		if (res == MA_SPF_FAIL && rec.exp)
			explain(ev, &rec, domain);
		goto out;
	}
	if (rec.redirect) {
		char name[NAME_BUF];
		if (!count_term(ev)) {
			res = err(ev, MA_SPF_PERMERROR, "more than %u DNS-querying terms, at %s", ev->max_terms, domain);
			goto out;
		}
		if (target(ev, rec.redirect, rec.redirectlen, domain, name) < 0 || !target_ok(name)) {
			res = err(ev, MA_SPF_PERMERROR, "bad redirect= target in the record at %s", domain);
			goto out;
		}
		ma_answer_unref(a);
		res = check_host(ev, name, depth + 1);
		if (res == MA_SPF_NONE)
			res = err(ev, MA_SPF_PERMERROR, "redirect=%s has no SPF record", name);
		return res;
	}
	res = MA_SPF_NEUTRAL;
	if (ev->in_include == 0) {
		ma_strlcpy(ev->out->mechanism, "default", sizeof(ev->out->mechanism));
		ma_bprintf(ev->out->reason, sizeof(ev->out->reason), "no mechanism matched in the record at %s", domain);
	}
out:
	ma_answer_unref(a);
	return res;
}

int
ma_spf_check(struct ma_resolver *r, struct ma_budget *b, const struct ma_spf_request *req,
    struct ma_spf_outcome *out)
{
	struct spf_eval ev;
	unsigned char scratch[16384];
	char xbuf[SPF_XBUF];
	const char *mf = req->mail_from ? req->mail_from : "";
	const char *helo = req->helo ? req->helo : "";

	memset(out, 0, sizeof(*out));
	memset(&ev, 0, sizeof(ev));
	if (req->ip == NULL || !ma_ip_parse(&ev.ip, req->ip, strlen(req->ip))) {
		out->result = MA_SPF_PERMERROR;
		ma_bprintf(out->reason, sizeof(out->reason), "invalid client IP address");
		return -1;
	}
	ev.xbuf = xbuf;
	ev.r = r;
	ev.budget = b;
	ev.req = req;
	ev.out = out;
	ev.max_terms = req->max_terms ? req->max_terms : 10;
	ev.max_void = req->max_void ? req->max_void : 2;
	ev.now = req->now ? req->now : (int64_t)time(NULL);
	ev.helo = helo;
	ma_arena_init(&ev.arena, scratch, sizeof(scratch), 1u << 24);

	/* 2.4: the null reverse-path (and the HELO identity) check
	 * postmaster@helo; a MAIL FROM without local part uses postmaster. */
	const char *at = strrchr(mf, '@');
	out->helo_identity = req->helo_identity || mf[0] == '\0';
	if (out->helo_identity) {
		ev.local = "postmaster";
		ev.locallen = 10;
		ev.sender_domain = helo;
	} else if (at) {
		ev.local = mf;
		ev.locallen = (size_t)(at - mf);
		ev.sender_domain = at + 1;
		if (ev.locallen == 0) {
			ev.local = "postmaster";
			ev.locallen = 10;
		}
	} else {
		ev.local = "postmaster";
		ev.locallen = 10;
		ev.sender_domain = mf;
	}
	ma_strlcpy(out->domain, ev.sender_domain, sizeof(out->domain));
	ma_bprintf(out->sender, sizeof(out->sender), "%.*s@%s", (int)ev.locallen, ev.local, ev.sender_domain);

	if (!domain_ok(ev.sender_domain)) {
		out->result = MA_SPF_NONE;
		ma_bprintf(out->reason, sizeof(out->reason), "'%.200s' is not a valid domain name",
		    ev.sender_domain);
	} else {
		out->result = check_host(&ev, ev.sender_domain, 0);
		if (out->result != MA_SPF_FAIL)
			out->explanation[0] = '\0';
		else if (out->explanation[0] == '\0' && req->default_explanation &&
		    spf_macro_valid(req->default_explanation, strlen(req->default_explanation), true) &&
		    spf_macro_expand(&ev, req->default_explanation, strlen(req->default_explanation),
			    true, ev.sender_domain, out->explanation, sizeof(out->explanation)) < 0)
			out->explanation[0] = '\0';
	}
	ma_arena_free(&ev.arena);
	return 0;
}
