/* DMARC evaluation (RFC 9989 4.10, 5.3; RFC 7489 6.6 in its mode).
 *
 * Every _dmarc name a walk needs is known from the start name alone, so
 * each round of queries goes out as one batch: round one is the author
 * domain's walk, round two the walks of the identifiers that could align
 * (plus the RFC 8020 existence test), round three the report destinations.
 * Answers are kept per evaluation, so walks that share names query once. */
#include "dmarc.h"
#include "from.h"
#include "util.h"

#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAMES	160	/* distinct _dmarc names in one evaluation */
#define WALK_MAX	8	/* RFC 9989 4.10 */

enum state { S_NOREC, S_REC, S_MULTI, S_ERR };

struct entry {
	char name[256];		/* the domain, without "_dmarc." */
	enum state st;
	enum ma_dns_status dns;	/* why, for S_ERR */
	char psd;		/* of the record, for the walk */
	char *text;		/* the record (S_REC), malloc'd */
	size_t len;
};

struct ctx {
	struct ma_resolver *r;
	struct ma_budget *b;
	struct ma_dmarc_outcome *out;
	struct entry e[MAX_NAMES];
	size_t n;
};

static size_t
labels(const char *d)
{
	size_t n = 1;

	for (; *d; d++)
		if (*d == '.')
			n++;
	return n;
}

/* The rightmost k labels of d. */
static const char *
suffix(const char *d, size_t k)
{
	size_t n = labels(d);

	while (n > k) {
		const char *dot = strchr(d, '.');
		if (dot == NULL)
			break;
		d = dot + 1;
		n--;
	}
	return d;
}

/* The names a walk from start queries (RFC 9989 4.10): start, then its
 * suffixes of min(n-1, 7) labels down to one. */
/* A name whose top label is all digits is an address, not a domain (no
 * TLD is numeric): nothing above it is looked at. */
static bool
numeric_top(const char *d)
{
	const char *dot = strrchr(d, '.');
	const char *top = dot ? dot + 1 : d;

	if (*top == '\0')
		return false;
	for (; *top; top++)
		if (!ma_isdigit(*top))
			return false;
	return true;
}

static size_t
walk_names(const char *start, const char *names[WALK_MAX])
{
	size_t n = labels(start), k = 0;

	names[k++] = start;
	if (numeric_top(start))
		return k;
	for (size_t l = n - 1 < 7 ? n - 1 : 7; l >= 1; l--)
		names[k++] = suffix(start, l);
	return k;
}

static struct entry *
find(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].name, name) == 0)
			return &c->e[i];
	return NULL;
}

/* Reads the TXT answer at _dmarc.<name>: exactly one record that starts
 * with v=DMARC1 counts; several are discarded together. */
static void
take_answer(struct entry *e, const struct ma_answer *a)
{
	int found = 0;

	switch (a->status) {
	case MA_DNS_OK:
		break;
	case MA_DNS_NODATA:
	case MA_DNS_NXDOMAIN:
		e->st = S_NOREC;
		return;
	default:
		e->st = S_ERR;
		e->dns = a->status;
		return;
	}
	for (size_t i = 0; i < a->nrr; i++) {
		struct ma_dmarc_record rec;
		const struct ma_rr *rr = &a->rr[i];
		if (rr->type != MA_RR_TXT || rr->u.txt.total > 65535)
			continue;
		char *txt = malloc(rr->u.txt.total + 1);
		if (txt == NULL) {
			e->st = S_ERR;
			return;
		}
		size_t len = ma_txt_join(rr, (unsigned char *)txt, rr->u.txt.total);
		txt[len] = '\0';
		if (ma_dmarc_record_parse(txt, len, &rec) != 1) {
			free(txt);
			continue;
		}
		if (found++ == 0) {
			e->text = txt;
			e->len = len;
			e->psd = rec.psd;
		} else
			free(txt);
	}
	e->st = found == 1 ? S_REC : found ? S_MULTI : S_NOREC;
	if (e->st != S_REC) {
		free(e->text);
		e->text = NULL;
	}
}

/* Looks up every name of names[] not seen yet, in one batch. */
static void
fetch(struct ctx *c, const char *const *names, size_t n)
{
	struct ma_query q[MAX_NAMES];
	char qn[MAX_NAMES][MA_DNS_NAME_MAX + 8];
	struct entry *ent[MAX_NAMES];
	size_t k = 0;

	for (size_t i = 0; i < n && c->n < MAX_NAMES; i++) {
		if (find(c, names[i]))
			continue;
		struct entry *e = &c->e[c->n++];
		e->st = S_NOREC;
		e->psd = 'u';
		e->text = NULL;
		e->len = 0;
		ma_strlcpy(e->name, names[i], sizeof(e->name));
		if (strlen(names[i]) + 7 > MA_DNS_NAME_MAX - 1) {
			e->st = S_NOREC;	/* no such name can exist in DNS */
			continue;
		}
		snprintf(qn[k], sizeof(qn[k]), "_dmarc.%s", names[i]);
		q[k] = (struct ma_query){ qn[k], MA_RR_TXT, NULL };
		ent[k++] = e;
	}
	if (k == 0)
		return;
	c->out->queries += (unsigned)k;
	ma_resolve(c->r, c->b, q, k);
	for (size_t i = 0; i < k; i++)
		take_answer(ent[i], q[i].ans);
	ma_query_release(q, k);
}

struct walk {
	const char *names[WALK_MAX];
	size_t n;
	struct entry *stop;		/* the psd=y/n record that ended it */
	bool error;
};

/* The walk over answers already fetched; stops at the first error. */
static void
walk(struct ctx *c, const char *start, struct walk *w)
{
	w->n = walk_names(start, w->names);
	w->stop = NULL;
	w->error = false;
	for (size_t i = 0; i < w->n; i++) {
		struct entry *e = find(c, w->names[i]);
		if (e == NULL || e->st == S_ERR) {
			w->error = true;
			return;
		}
		if (e->st == S_REC && (e->psd == 'y' || e->psd == 'n')) {
			w->stop = e;
			return;
		}
	}
}

/* Organizational Domain (RFC 9989 4.10.2) from a walk's answers. */
static int
org_of(struct ctx *c, const char *start, char *out, size_t outlen, struct walk *w)
{
	struct entry *last = NULL;

	walk(c, start, w);
	if (w->error) {
		out[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < w->n; i++) {
		struct entry *e = find(c, w->names[i]);
		if (e->st != S_REC)
			continue;
		last = e;
		if (e == w->stop)
			break;
	}
	if (last && last->psd == 'n')
		ma_strlcpy(out, last->name, outlen);
	else if (last && last->psd == 'y' && strcmp(last->name, start) != 0)
		ma_strlcpy(out, suffix(start, labels(last->name) + 1), outlen);
	else
		ma_strlcpy(out, last ? last->name : start, outlen);
	return 0;
}

/* The context is large: malloc'd, and entries are set up as used. */
static struct ctx *
ctx_new(struct ma_resolver *r, struct ma_budget *b, struct ma_dmarc_outcome *o)
{
	struct ctx *c = malloc(sizeof(*c));

	if (c) {
		c->r = r;
		c->b = b;
		c->out = o;
		c->n = 0;
	}
	return c;
}

static void
ctx_free(struct ctx *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].text);
	free(c);
}

int
ma_dmarc_org_domain(struct ma_resolver *r, struct ma_budget *b, const char *name, char *out, size_t outlen)
{
	struct ma_dmarc_outcome scratch;
	struct ctx *c = ctx_new(r, b, &scratch);
	struct walk w;
	int rc;

	if (c == NULL) {
		out[0] = '\0';
		return -1;
	}
	w.n = walk_names(name, w.names);
	fetch(c, w.names, w.n);
	rc = org_of(c, name, out, outlen, &w);
	ctx_free(c);
	return rc;
}

static const char *
dns_word(enum ma_dns_status s)
{
	switch (s) {
	case MA_DNS_TIMEOUT: return "timeout";
	case MA_DNS_SERVFAIL: return "server failure";
	case MA_DNS_LIMIT: return "budget exhausted";
	default: return "error";
	}
}

static bool
same(const char *a, const char *b)
{
	return ma_strcaseeq(a, strlen(a), b, strlen(b));
}

/* a equals b or is below it. */
static bool
within(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);

	return same(a, b) || (al > bl && a[al - bl - 1] == '.' && ma_strcaseeq(a + al - bl, bl, b, bl));
}

static void
lower_copy(char *dst, const char *src, size_t len)
{
	size_t i = 0;

	for (; src[i] && i + 1 < len; i++)
		dst[i] = ma_lower(src[i]);
	dst[i] = '\0';
	if (i > 0 && dst[i - 1] == '.')
		dst[i - 1] = '\0';
}

enum align { A_NO, A_YES, A_UNKNOWN };

struct ident {
	char domain[256];
	bool dkim;
	int64_t unsigned_bytes;
	enum align a;
	bool needs_walk;
};

static enum ma_dmarc_policy
lower_policy(enum ma_dmarc_policy p)
{
	return p == MA_POLICY_REJECT ? MA_POLICY_QUARANTINE : MA_POLICY_NONE;
}

static bool
valid_policy(enum ma_dmarc_policy p)
{
	return p == MA_POLICY_NONE || p == MA_POLICY_QUARANTINE || p == MA_POLICY_REJECT;
}

/* The host of a mailto: URI, or NULL. */
static const char *
mailto_host(const char *uri, char *buf, size_t len)
{
	if (strncasecmp(uri, "mailto:", 7) != 0)
		return NULL;
	const char *at = strrchr(uri + 7, '@');
	if (at == NULL)
		return NULL;
	size_t n = strcspn(at + 1, "?>,; ");
	if (n == 0 || n >= len)
		return NULL;
	lower_copy(buf, at + 1, n + 1);
	buf[n] = '\0';
	return buf;
}

/* RFC 9990 3: a destination in another organizational domain must carry
 * <policy-domain>._report._dmarc.<host> TXT "v=DMARC1". */
static void
check_reports(struct ctx *c, const char *policy_org, bool rfc7489, const struct ma_psl *psl)
{
	struct ma_dmarc_outcome *o = c->out;
	struct ma_dmarc_uri *all[2 * MA_DMARC_MAX_URIS];
	char hosts[2 * MA_DMARC_MAX_URIS][256];
	const char *wn[2 * MA_DMARC_MAX_URIS * WALK_MAX];
	size_t n = 0, nw = 0;

	for (size_t i = 0; i < o->nrua; i++)
		all[n++] = &o->rua[i];
	for (size_t i = 0; i < o->nruf; i++)
		all[n++] = &o->ruf[i];
	for (size_t i = 0; i < n; i++) {
		if (mailto_host(all[i]->uri, hosts[i], sizeof(hosts[i])) == NULL) {
			hosts[i][0] = '\0';
			continue;
		}
		if (!rfc7489) {
			const char *names[WALK_MAX];
			size_t k = walk_names(hosts[i], names);
			for (size_t j = 0; j < k; j++)
				wn[nw++] = names[j];
		}
	}
	fetch(c, wn, nw);

	struct ma_query q[2 * MA_DMARC_MAX_URIS];
	char qn[2 * MA_DMARC_MAX_URIS][600];	/* both names bounded above */
	size_t idx[2 * MA_DMARC_MAX_URIS], nq = 0;
	for (size_t i = 0; i < n; i++) {
		char horg[256];
		struct walk w;
		if (hosts[i][0] == '\0')
			continue;	/* not mailto: not usable */
		if (rfc7489) {
			if (!ma_psl_org_domain(psl, hosts[i], horg, sizeof(horg)))
				ma_strlcpy(horg, hosts[i], sizeof(horg));
		} else if (org_of(c, hosts[i], horg, sizeof(horg), &w) < 0)
			horg[0] = '\0';	/* unknown: checked like an external one */
		if (horg[0] && same(horg, policy_org)) {
			all[i]->authorized = true;
			continue;
		}
		all[i]->external = true;
		if (strlen(o->policy_domain) + strlen(hosts[i]) + 17 >= MA_DNS_NAME_MAX)
			continue;	/* too long for DNS: not authorized */
		snprintf(qn[nq], sizeof(qn[nq]), "%s._report._dmarc.%s", o->policy_domain, hosts[i]);
		q[nq] = (struct ma_query){ qn[nq], MA_RR_TXT, NULL };
		idx[nq++] = i;
	}
	o->queries += (unsigned)nq;
	ma_resolve(c->r, c->b, q, nq);
	for (size_t k = 0; k < nq; k++) {
		struct ma_dmarc_uri *u = all[idx[k]];
		const struct ma_answer *a = q[k].ans;
		u->checked = true;
		for (size_t j = 0; j < a->nrr; j++) {
			unsigned char t[16];
			size_t l = ma_txt_join(&a->rr[j], t, sizeof(t));
			if (a->rr[j].type == MA_RR_TXT && l >= 8 && memcmp(t, "v=DMARC1", 8) == 0 &&
			    (l == 8 || t[8] == ';' || t[8] == ' ' || t[8] == '\t'))
				u->authorized = true;
		}
	}
	ma_query_release(q, nq);
}

/* Clears what is read back; the large text arrays only get their first
 * byte, the URI arrays are read up to nrua/nruf, rec only with have_record. */
static void
outcome_init(struct ma_dmarc_outcome *o)
{
	memset(o, 0, offsetof(struct ma_dmarc_outcome, author_domain));
	o->author_domain[0] = o->policy_domain[0] = o->org_domain[0] = o->record[0] = '\0';
	memset(&o->have_record, 0, offsetof(struct ma_dmarc_outcome, rua) - offsetof(struct ma_dmarc_outcome, have_record));
	o->nrua = o->nruf = 0;
	o->reports_checked = false;
	o->queries = 0;
	o->from_status = NULL;
	o->author_domains = 0;
}

void
ma_dmarc_check(struct ma_resolver *r, struct ma_budget *b, const struct ma_dmarc_request *req,
    struct ma_dmarc_outcome *o)
{
	struct ctx *c = ctx_new(r, b, o);
	struct ident ids[17];
	size_t nid = 0;
	struct entry *pe = NULL;	/* the applied record */
	bool own = false, org_known;
	char author[256], org[256] = "";
	struct walk aw;

	outcome_init(o);
	o->author_exists = -1;
	o->dkim_unsigned = -1;
	o->rfc7489 = req->rfc7489;
	o->discovery = req->rfc7489 ? "psl" : "tree-walk";
	if (c == NULL) {
		o->result = MA_DMARC_TEMPERROR;
		ma_bprintf(o->reason, sizeof(o->reason), "out of memory");
		return;
	}
	lower_copy(author, req->author_domain ? req->author_domain : "", sizeof(author));
	ma_strlcpy(o->author_domain, author, sizeof(o->author_domain));
	char norm[MA_DNS_NAME_MAX];
	if (!ma_dns_name_normalize(author, strlen(author), norm) || author[0] == '[') {
		/* A literal or junk publishes no DMARC. */
		o->result = MA_DMARC_NONE;
		ma_bprintf(o->reason, sizeof(o->reason), "'%.100s' is not a domain that can publish DMARC", author);
		goto out;
	}
	if (req->rfc7489 && req->psl == NULL) {
		o->result = MA_DMARC_PERMERROR;
		ma_bprintf(o->reason, sizeof(o->reason), "RFC 7489 mode needs the Public Suffix List");
		goto out;
	}

	/* Round one: the author domain's policy. */
	if (req->rfc7489) {
		const char *one[1] = { author };
		fetch(c, one, 1);
		pe = find(c, author);
		if (pe->st == S_ERR) {
			o->result = MA_DMARC_TEMPERROR;
			ma_bprintf(o->reason, sizeof(o->reason), "DNS %s looking up _dmarc.%s",
			    dns_word(pe->dns), author);
			goto out;
		}
		if (pe->st == S_MULTI) {
			/* RFC 7489 6.6.3: discovery terminates. */
			o->result = MA_DMARC_NONE;
			ma_bprintf(o->reason, sizeof(o->reason), "several DMARC records at _dmarc.%s", author);
			goto out;
		}
		if (numeric_top(author) || !ma_psl_org_domain(req->psl, author, org, sizeof(org)))
			ma_strlcpy(org, author, sizeof(org));
		org_known = true;
		own = pe->st == S_REC;
		if (!own && !same(org, author)) {
			const char *two[1] = { org };
			fetch(c, two, 1);
			pe = find(c, org);
			if (pe->st == S_ERR) {
				o->result = MA_DMARC_TEMPERROR;
				ma_bprintf(o->reason, sizeof(o->reason), "DNS %s looking up _dmarc.%s",
				    dns_word(pe->dns), org);
				goto out;
			}
		}
		if (pe->st != S_REC)
			pe = NULL;
	} else {
		aw.n = walk_names(author, aw.names);
		fetch(c, aw.names, aw.n);
		struct entry *e0 = find(c, author);
		if (e0->st == S_ERR) {
			o->result = MA_DMARC_TEMPERROR;
			ma_bprintf(o->reason, sizeof(o->reason), "DNS %s looking up _dmarc.%s",
			    dns_word(e0->dns), author);
			goto out;
		}
		org_known = org_of(c, author, org, sizeof(org), &aw) == 0;
		if (e0->st == S_REC) {
			pe = e0;
			own = true;
		} else if (!org_known) {
			o->result = MA_DMARC_TEMPERROR;
			ma_bprintf(o->reason, sizeof(o->reason), "DNS error during the tree walk from %s", author);
			goto out;
		} else {
			struct entry *oe = find(c, org);
			if (oe && oe->st == S_REC)
				pe = oe;
			else if (aw.stop && aw.stop->psd == 'y')
				pe = aw.stop;	/* the Public Suffix Domain's policy */
		}
	}
	ma_strlcpy(o->org_domain, org, sizeof(o->org_domain));
	if (pe == NULL) {
		o->result = MA_DMARC_NONE;
		ma_bprintf(o->reason, sizeof(o->reason), "no DMARC record for %s", author);
		goto out;
	}
	o->have_record = true;
	ma_dmarc_record_parse(pe->text, pe->len, &o->rec);
	ma_strlcpy(o->record, pe->text, sizeof(o->record));
	ma_strlcpy(o->policy_domain, pe->name, sizeof(o->policy_domain));

	/* RFC 9989 4.10.1: no valid p (or a bad sp/np) is p=none with a valid
	 * rua, and no DMARC at all without one. */
	struct ma_dmarc_record *rec = &o->rec;
	if (!valid_policy(rec->p) || rec->sp == MA_POLICY_INVALID || rec->np == MA_POLICY_INVALID) {
		if (!rec->rua_valid) {
			o->result = MA_DMARC_NONE;
			o->have_record = false;
			ma_bprintf(o->reason, sizeof(o->reason), "the DMARC record at %s has no valid p= and no rua=",
			    o->policy_domain);
			goto out;
		}
		rec->p = MA_POLICY_NONE;
		rec->sp = rec->np = MA_POLICY_UNSET;
	}
	o->spf_strict = rec->aspf_strict;
	o->dkim_strict = rec->adkim_strict;

	/* Identifiers: only passing ones can align. */
	if (req->spf.pass && req->spf.domain && *req->spf.domain && (!req->spf_helo || req->rfc7489)) {
		lower_copy(ids[nid].domain, req->spf.domain, sizeof(ids[nid].domain));
		ids[nid++].dkim = false;
	}
	for (size_t i = 0; i < req->ndkim && nid < 17; i++)
		if (req->dkim[i].pass && req->dkim[i].domain && *req->dkim[i].domain) {
			lower_copy(ids[nid].domain, req->dkim[i].domain, sizeof(ids[nid].domain));
			ids[nid].unsigned_bytes = req->dkim[i].unsigned_bytes;
			ids[nid++].dkim = true;
		}

	/* Round two: the walks of identifiers that might align relaxedly,
	 * and the existence test if np could change the policy. */
	const char *wn[17 * WALK_MAX];
	size_t nw = 0;
	for (size_t i = 0; i < nid; i++) {
		struct ident *id = &ids[i];
		bool strict = id->dkim ? rec->adkim_strict : rec->aspf_strict;
		id->needs_walk = false;
		if (same(id->domain, author))
			id->a = A_YES;
		else if (strict)
			id->a = A_NO;
		else if (!org_known)
			id->a = A_UNKNOWN;
		else if (!within(id->domain, org))
			id->a = A_NO;	/* its org domain is itself or above it */
		else if (req->rfc7489) {
			char io[256];
			if (!ma_psl_org_domain(req->psl, id->domain, io, sizeof(io)))
				ma_strlcpy(io, id->domain, sizeof(io));
			id->a = same(io, org) ? A_YES : A_NO;
		} else {
			id->needs_walk = true;
			const char *names[WALK_MAX];
			size_t k = walk_names(id->domain, names);
			for (size_t j = 0; j < k; j++)
				wn[nw++] = names[j];
		}
	}
	enum ma_dmarc_policy effective_sp = valid_policy(rec->sp) ? rec->sp : rec->p;
	bool need_exist = !own && !req->rfc7489 && valid_policy(rec->np) && rec->np != effective_sp;
	struct ma_query eq = { author, MA_RR_A, NULL };
	fetch(c, wn, nw);
	if (need_exist) {
		o->queries++;
		ma_resolve(r, b, &eq, 1);
	}
	for (size_t i = 0; i < nid; i++) {
		struct ident *id = &ids[i];
		char io[256];
		struct walk w;
		if (!id->needs_walk)
			continue;
		if (org_of(c, id->domain, io, sizeof(io), &w) < 0)
			id->a = A_UNKNOWN;
		else
			id->a = same(io, org) ? A_YES : A_NO;
	}
	bool unknown = false;
	for (size_t i = 0; i < nid; i++) {
		if (ids[i].a == A_UNKNOWN)
			unknown = true;
		if (ids[i].a != A_YES)
			continue;
		if (ids[i].dkim && !o->dkim_aligned) {
			o->dkim_aligned = true;
			o->dkim_unsigned = ids[i].unsigned_bytes;
			ma_strlcpy(o->dkim_domain, ids[i].domain, sizeof(o->dkim_domain));
		} else if (!ids[i].dkim)
			o->spf_aligned = true;
	}

	/* With no DKIM alignment, the first passing signature that left part
	 * of the body unsigned is still reported. */
	for (size_t i = 0; !o->dkim_aligned && i < nid; i++)
		if (ids[i].dkim && ids[i].unsigned_bytes >= 0) {
			o->dkim_unsigned = ids[i].unsigned_bytes;
			break;
		}

	/* The policy (RFC 9989 4.10.1): p for the author's own record; sp or
	 * np (non-existent author, RFC 8020) for an inherited one. */
	bool exist_error = false;
	if (own) {
		o->requested = rec->p;
		o->policy_tag = "p";
	} else {
		o->requested = effective_sp;
		o->policy_tag = valid_policy(rec->sp) ? "sp" : "p";
		if (need_exist) {
			enum ma_dns_status st = eq.ans->status;
			if (st == MA_DNS_NXDOMAIN) {
				o->author_exists = 0;
				o->requested = rec->np;
				o->policy_tag = "np";
			} else if (st == MA_DNS_OK || st == MA_DNS_NODATA)
				o->author_exists = 1;
			else
				exist_error = true;
		}
	}
	ma_answer_unref(eq.ans);
	o->policy = o->requested;
	if (!req->rfc7489 && rec->testing && o->policy != MA_POLICY_NONE) {
		o->policy = lower_policy(o->policy);
		o->testing = true;
	} else if (req->rfc7489 && rec->pct < 100 && req->sample >= (unsigned)rec->pct &&
	    o->policy != MA_POLICY_NONE) {
		o->policy = lower_policy(o->policy);
		o->testing = true;
	}

	if (o->spf_aligned || o->dkim_aligned) {
		o->result = MA_DMARC_PASS;
		ma_bprintf(o->reason, sizeof(o->reason), "%s aligned with %s",
		    o->dkim_aligned ? (o->spf_aligned ? "DKIM and SPF" : "DKIM") : "SPF", author);
	} else if (unknown || exist_error) {
		o->result = MA_DMARC_TEMPERROR;
		ma_bprintf(o->reason, sizeof(o->reason), "DNS error while checking alignment with %s", author);
	} else {
		o->result = MA_DMARC_FAIL;
		ma_bprintf(o->reason, sizeof(o->reason), "no aligned SPF or DKIM pass for %s (policy %s)",
		    author, ma_dmarc_policy_name(o->policy));
	}
	o->disposition = o->result == MA_DMARC_FAIL ? o->policy : MA_POLICY_NONE;

	for (size_t i = 0; i < rec->nrua; i++) {
		struct ma_dmarc_uri *u = &o->rua[o->nrua++];
		ma_strlcpy(u->uri, rec->rua[i], sizeof(u->uri));
		u->external = u->authorized = u->checked = false;
	}
	for (size_t i = 0; i < rec->nruf; i++) {
		struct ma_dmarc_uri *u = &o->ruf[o->nruf++];
		ma_strlcpy(u->uri, rec->ruf[i], sizeof(u->uri));
		u->external = u->authorized = u->checked = false;
	}
	if (req->check_reports && (o->nrua || o->nruf)) {
		/* The organizational domain of the policy domain. */
		const char *porg = same(o->policy_domain, author) ? org : o->policy_domain;
		if (porg[0]) {
			check_reports(c, porg, req->rfc7489, req->psl);
			o->reports_checked = true;
		}
	}
out:
	ctx_free(c);
}

static int
severity(const struct ma_dmarc_outcome *o)
{
	switch (o->result) {
	case MA_DMARC_FAIL:
		return 10 + (int)o->policy;
	case MA_DMARC_TEMPERROR:
		return 5;
	case MA_DMARC_PASS:
		return 2;
	default:
		return 1;
	}
}

void
ma_dmarc_check_message(struct ma_resolver *r, struct ma_budget *b, const struct ma_msg *m,
    const struct ma_dmarc_request *req, struct ma_dmarc_outcome *o)
{
	struct ma_from from;
	struct ma_dmarc_request one = *req;

	ma_from_extract(m, &from);
	if (from.status != MA_FROM_OK && from.status != MA_FROM_DOMAINS) {
		outcome_init(o);
		o->author_exists = -1;
		o->discovery = req->rfc7489 ? "psl" : "tree-walk";
		o->result = MA_DMARC_PERMERROR;
		ma_bprintf(o->reason, sizeof(o->reason), "DMARC cannot be evaluated: %s", from.reason);
		o->from_status = ma_from_status_name(from.status);
		return;
	}
	size_t n = from.ndomains < 4 ? from.ndomains : 4;
	struct ma_dmarc_outcome *tmp = n > 1 ? malloc(sizeof(*tmp)) : NULL;
	one.author_domain = from.domains[0];
	ma_dmarc_check(r, b, &one, o);
	for (size_t i = 1; i < n && tmp; i++) {
		unsigned q = o->queries;
		one.author_domain = from.domains[i];
		ma_dmarc_check(r, b, &one, tmp);
		tmp->queries += q;
		if (severity(tmp) > severity(o))
			*o = *tmp;
		else
			o->queries = tmp->queries;
	}
	free(tmp);
	o->from_status = ma_from_status_name(from.status);
	o->author_domains = from.ndomains;
	if (from.ndomains > 1) {
		char why[160];
		ma_bprintf(why, sizeof(why), "%zu author domains, the strictest result kept: %s",
		    from.ndomains, o->reason);
		ma_strlcpy(o->reason, why, sizeof(o->reason));
	}
}

unsigned
ma_dmarc_sample(void)
{
	unsigned char b[4];

	/* RAND_bytes is thread-safe; without entropy, 0 applies the policy. */
	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	return (unsigned)(((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) % 100);
}
