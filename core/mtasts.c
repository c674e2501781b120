/* MTA-STS records, policies, MX matching and discovery (RFC 8461). */
#include "mtasts.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const mode_names[] = { "none", "testing", "enforce" };
static const char *const status_names[] = { "VALID", "NONE", "FETCH_ERROR" };

const char *
ma_sts_mode_name(enum ma_sts_mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "none";
}

const char *
ma_sts_status_name(enum ma_sts_status s)
{
	return (unsigned)s < 3 ? status_names[s] : "FETCH_ERROR";
}

static bool
wsp(char c)
{
	return c == ' ' || c == '\t';
}

bool
ma_sts_record_is_sts(const char *txt, size_t len)
{
	size_t i = 0;

	while (i < len && wsp(txt[i]))
		i++;
	return len - i >= 7 && memcmp(txt + i, "v=STSv1", 7) == 0 &&
	    (len - i == 7 || txt[i + 7] == ';' || wsp(txt[i + 7]));
}

/* sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 * with sts-field-delim = *WSP ";" *WSP; id = 1*32(ALPHA / DIGIT). */
int
ma_sts_record_parse(const char *txt, size_t len, char id[33], char *err, size_t errlen)
{
	size_t i = 0;
	bool first = true, have_id = false;

	id[0] = '\0';
	while (i < len) {
		/* sts-field-delim before every field but the first */
		while (i < len && (wsp(txt[i]) || (!first && txt[i] == ';')))
			i++;
		if (i >= len)
			break;
		size_t ns = i;
		while (i < len && txt[i] != '=' && txt[i] != ';' && !wsp(txt[i]))
			i++;
		size_t ne = i;
		if (i >= len || txt[i] != '=') {
			ma_bprintf(err, errlen, "a field without '='");
			return -1;
		}
		size_t vs = ++i;
		while (i < len && txt[i] != ';' && !wsp(txt[i]))
			i++;
		size_t ve = i;
		while (i < len && wsp(txt[i]))
			i++;
		if (i < len && txt[i] != ';') {
			ma_bprintf(err, errlen, "whitespace inside a value");
			return -1;
		}
		if (first) {
			if (ne - ns != 1 || txt[ns] != 'v' || ve - vs != 5 || memcmp(txt + vs, "STSv1", 5) != 0) {
				ma_bprintf(err, errlen, "the record must start with v=STSv1");
				return -1;
			}
			first = false;
			continue;
		}
		if (ne - ns == 2 && memcmp(txt + ns, "id", 2) == 0) {
			/* 3.2: of a duplicated field all but the first are ignored */
			if (have_id)
				continue;
			if (ve == vs || ve - vs > 32) {
				ma_bprintf(err, errlen, "id must be 1 to 32 letters or digits");
				return -1;
			}
			for (size_t k = vs; k < ve; k++)
				if (!ma_isalnum(txt[k])) {
					ma_bprintf(err, errlen, "id must be 1 to 32 letters or digits");
					return -1;
				}
			memcpy(id, txt + vs, ve - vs);
			id[ve - vs] = '\0';
			have_id = true;
		}
		/* other extension fields are allowed and ignored */
	}
	if (first) {
		ma_bprintf(err, errlen, "empty record");
		return -1;
	}
	if (!have_id) {
		ma_bprintf(err, errlen, "no id");
		return -1;
	}
	return 0;
}

/* A domain for an mx pattern: LDH labels, optionally "*." first. */
static bool
mx_pattern_ok(const char *s, size_t len)
{
	size_t lab = 0;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if ((ma_isalnum(s[i]) || s[i] == '-' || s[i] == '_') && ++lab <= 63)
			continue;
		else
			return false;
	}
	return lab > 0;
}

int
ma_sts_policy_parse(const char *body, size_t len, struct ma_sts_policy *p, char *err, size_t errlen)
{
	bool have_version = false, have_mode = false, have_age = false;
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	if (len > MA_STS_MAX_BODY) {
		ma_bprintf(err, errlen, "policy larger than 64 KiB");
		return -1;
	}
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - body) : len;
		const char *line = body + i;
		size_t ll = e - i;
		i = e + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		while (ll && wsp(line[ll - 1]))
			ll--;
		if (ll == 0)
			continue;
		const char *colon = memchr(line, ':', ll);
		if (colon == NULL) {
			ma_bprintf(err, errlen, "a line without ':'");
			return -1;
		}
		size_t kl = (size_t)(colon - line);
		const char *v = colon + 1;
		size_t vl = ll - kl - 1;
		while (vl && wsp(*v)) {
			v++;
			vl--;
		}
		/* 3.2: "If any non-repeated field -- i.e., all fields excepting
		 * "mx" -- is duplicated, all entries except for the first SHALL be
		 * ignored." */
		if (ma_strcaseeq(line, kl, "version", 7)) {
			if (have_version)
				continue;
			if (vl != 5 || memcmp(v, "STSv1", 5) != 0) {
				ma_bprintf(err, errlen, "version is not STSv1");
				return -1;
			}
			have_version = true;
		} else if (ma_strcaseeq(line, kl, "mode", 4)) {
			if (have_mode)
				continue;
			if (vl == 7 && memcmp(v, "enforce", 7) == 0)
				p->mode = MA_STS_MODE_ENFORCE;
			else if (vl == 7 && memcmp(v, "testing", 7) == 0)
				p->mode = MA_STS_MODE_TESTING;
			else if (vl == 4 && memcmp(v, "none", 4) == 0)
				p->mode = MA_STS_MODE_NONE;
			else {
				ma_bprintf(err, errlen, "unknown mode '%.*s'", (int)(vl > 20 ? 20 : vl), v);
				return -1;
			}
			have_mode = true;
		} else if (ma_strcaseeq(line, kl, "max_age", 7)) {
			uint64_t a = 0;
			if (have_age)
				continue;
			if (vl == 0 || vl > 10) {
				ma_bprintf(err, errlen, "max_age is not a number");
				return -1;
			}
			for (size_t k = 0; k < vl; k++) {
				if (!ma_isdigit(v[k])) {
					ma_bprintf(err, errlen, "max_age is not a number");
					return -1;
				}
				a = a * 10 + (uint64_t)(v[k] - '0');
			}
			if (a > MA_STS_MAX_AGE) {
				ma_bprintf(err, errlen, "max_age over %d", MA_STS_MAX_AGE);
				return -1;
			}
			p->max_age = (uint32_t)a;
			have_age = true;
		} else if (ma_strcaseeq(line, kl, "mx", 2)) {
			if (!mx_pattern_ok(v, vl)) {
				ma_bprintf(err, errlen, "bad mx pattern '%.*s'", (int)(vl > 60 ? 60 : vl), v);
				return -1;
			}
			if (p->nmx == MA_STS_MAX_MX) {
				ma_bprintf(err, errlen, "more than %d mx patterns", MA_STS_MAX_MX);
				return -1;
			}
			size_t k;
			for (k = 0; k < vl; k++)
				p->mx[p->nmx][k] = ma_lower(v[k]);
			p->mx[p->nmx][k] = '\0';
			p->nmx++;
		}
		/* other keys: extensions, ignored (3.2) */
	}
	if (!have_version || !have_mode || !have_age) {
		ma_bprintf(err, errlen, "policy lacks %s", !have_version ? "version" : !have_mode ? "mode" : "max_age");
		return -1;
	}
	if (p->nmx == 0 && p->mode != MA_STS_MODE_NONE) {
		ma_bprintf(err, errlen, "mode %s without any mx", ma_sts_mode_name(p->mode));
		return -1;
	}
	return 0;
}

static void
host_norm(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in[i] && i + 1 < outlen; i++)
		out[i] = ma_lower(in[i]);
	out[i] = '\0';
	while (i > 0 && out[i - 1] == '.')
		out[--i] = '\0';
}

bool
ma_sts_mx_match(const char *pattern, const char *host)
{
	char p[256], h[256];

	host_norm(pattern, p, sizeof(p));
	host_norm(host, h, sizeof(h));
	if (p[0] == '*' && p[1] == '.') {
		const char *dot = strchr(h, '.');
		return dot && dot != h && strcmp(dot + 1, p + 2) == 0;
	}
	return h[0] && strcmp(p, h) == 0;
}

bool
ma_sts_content_type_ok(const char *ct)
{
	if (ct == NULL)
		return false;
	while (wsp(*ct))
		ct++;
	if (strncasecmp(ct, "text/plain", 10) != 0)
		return false;
	ct += 10;
	while (wsp(*ct))
		ct++;
	return *ct == '\0' || *ct == ';';
}

void
ma_sts_delivery(const struct ma_sts_policy *p, const char *const *mx, size_t nmx, struct ma_sts_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->tls_required = p->mode == MA_STS_MODE_ENFORCE;
	d->report_only = p->mode == MA_STS_MODE_TESTING;
	for (size_t i = 0; i < nmx && d->nallowed < MA_STS_MAX_MX; i++) {
		bool ok = p->mode == MA_STS_MODE_NONE;
		for (size_t k = 0; !ok && k < p->nmx; k++)
			ok = ma_sts_mx_match(p->mx[k], mx[i]);
		if (ok)
			d->allowed[d->nallowed++] = i;
	}
}

/* The _mta-sts TXT lookup: 1 with an id, 0 no STS record, -1 DNS error
 * (reason set), -2 several or invalid records (reason set). */
static int
lookup_record(struct ma_resolver *r, struct ma_budget *b, const char *domain, char id[33],
    char *reason, size_t rlen)
{
	char name[MA_DNS_NAME_MAX + 16], txt[2048], err[128];
	int found = 0, rc = 0;

	if (strlen(domain) > 240) {
		ma_bprintf(reason, rlen, "domain name too long");
		return -2;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	struct ma_answer *a = ma_resolve1(r, b, name, MA_RR_TXT);
	switch (a->status) {
	case MA_DNS_OK:
		break;
	case MA_DNS_NODATA:
	case MA_DNS_NXDOMAIN:
		ma_bprintf(reason, rlen, "no _mta-sts record (%s)", ma_dns_status_name(a->status));
		ma_answer_unref(a);
		return 0;
	default:
		ma_bprintf(reason, rlen, "DNS %s for %s", ma_dns_status_name(a->status), name);
		ma_answer_unref(a);
		return -1;
	}
	for (size_t i = 0; i < a->nrr; i++) {
		if (a->rr[i].type != MA_RR_TXT)
			continue;
		size_t len = ma_txt_join(&a->rr[i], (unsigned char *)txt, sizeof(txt) - 1);
		if (len >= sizeof(txt))
			len = sizeof(txt) - 1;
		if (!ma_sts_record_is_sts(txt, len))
			continue;	/* other TXT records at the name */
		if (++found > 1) {
			ma_bprintf(reason, rlen, "more than one STS record at %s", name);
			rc = -2;
			break;
		}
		if (ma_sts_record_parse(txt, len, id, err, sizeof(err)) < 0) {
			ma_bprintf(reason, rlen, "invalid STS record: %s", err);
			rc = -2;
		} else
			rc = 1;
	}
	ma_answer_unref(a);
	if (rc == -2)
		id[0] = '\0';	/* no id from an unusable record */
	if (found == 0)
		ma_bprintf(reason, rlen, "no STS record among the TXT records at %s", name);
	return found ? rc : 0;
}

static void
use_cached(struct ma_sts_outcome *o, const struct ma_sts_cached *c)
{
	o->status = MA_STS_VALID;
	o->have_policy = true;
	o->policy = c->policy;
	o->source = "cache";
	ma_strlcpy(o->id, c->id, sizeof(o->id));
	o->fetched = c->fetched;
	o->expires = c->expires;
}

void
ma_sts_discover(struct ma_resolver *r, struct ma_budget *b, const char *domain,
    const struct ma_sts_discover_opts *opts, struct ma_sts_outcome *o)
{
	struct ma_sts_discover_opts def = { 0 };
	const struct ma_sts_discover_opts *op = opts ? opts : &def;
	int64_t now = op->now ? op->now : (int64_t)time(NULL);
	struct ma_sts_cached *c = NULL;
	bool cached = false;
	char dom[MA_DNS_NAME_MAX], why[256];

	memset(o, 0, sizeof(*o));
	if (!ma_dns_name_normalize(domain, strlen(domain), dom) || strchr(dom, '.') == NULL) {
		o->status = MA_STS_NONE;
		ma_bprintf(o->reason, sizeof(o->reason), "'%.100s' is not a domain name", domain);
		return;
	}
	if (op->cache_dir && (c = malloc(sizeof(*c))) != NULL) {
		cached = ma_sts_cache_get(op->cache_dir, dom, c) == 0;
		/* 5.1: a policy past its max_age is gone. */
		if (cached && c->expires <= now) {
			ma_sts_cache_remove(op->cache_dir, dom);
			cached = false;
		}
	}
	int rc = lookup_record(r, b, dom, o->record_id, why, sizeof(why));
	if (rc <= 0) {
		/* No record, or no answer: a cached, unexpired policy stays in
		 * force (5.1); without one there is no policy, or an error. */
		if (cached) {
			use_cached(o, c);
			ma_bprintf(o->reason, sizeof(o->reason), "%s; the cached policy (id %s) stays in force",
			    why, c->id);
		} else {
			/* 3.1: no record, several, or an invalid one: the domain
			 * has no available policy; a DNS failure is an error. */
			o->status = rc == -1 ? MA_STS_FETCH_ERROR : MA_STS_NONE;
			ma_strlcpy(o->reason, why, sizeof(o->reason));
		}
		goto out;
	}
	if (cached && !op->force && strcmp(c->id, o->record_id) == 0) {
		use_cached(o, c);
		ma_bprintf(o->reason, sizeof(o->reason), "policy id %s unchanged, cached", c->id);
		goto out;
	}
	/* 3.3: after a failed fetch, wait at least five minutes before
	 * fetching the same id again (a dead or hostile server would
	 * otherwise cost every delivery its whole timeout). */
	int64_t failed = op->cache_dir && !op->force ?
	    ma_sts_cache_fail_get(op->cache_dir, dom, o->record_id) : 0;
	if (failed && now - failed < 300) {
		ma_bprintf(why, sizeof(why), "the fetch for id %s failed %llds ago; next try after 300s",
		    o->record_id, (long long)(now - failed));
		if (cached) {
			use_cached(o, c);
			ma_bprintf(o->reason, sizeof(o->reason), "%s; the cached policy (id %s) stays in force",
			    why, c->id);
		} else {
			o->status = MA_STS_FETCH_ERROR;
			ma_strlcpy(o->reason, why, sizeof(o->reason));
		}
		goto out;
	}
	struct ma_sts_fetch_result fr;
	o->fetch_attempted = true;
	ma_sts_fetch(r, b, dom, &op->fetch, &fr);
	o->fetch_status = fr.status;
	struct ma_sts_policy pol;
	char perr[128];
	if (fr.status == MA_STS_FETCH_OK && ma_sts_policy_parse(fr.body, fr.len, &pol, perr, sizeof(perr)) == 0) {
		o->status = MA_STS_VALID;
		o->have_policy = true;
		o->policy = pol;
		o->source = "fetched";
		ma_strlcpy(o->id, o->record_id, sizeof(o->id));
		o->fetched = now;
		o->expires = now + pol.max_age;
		ma_bprintf(o->reason, sizeof(o->reason), "policy fetched (id %s, mode %s)", o->id,
		    ma_sts_mode_name(pol.mode));
		if (c) {
			ma_strlcpy(c->id, o->id, sizeof(c->id));
			c->fetched = o->fetched;
			c->expires = o->expires;
			c->policy = pol;
			c->len = fr.len;
			memcpy(c->text, fr.body, fr.len);
			c->text[fr.len] = '\0';
			char cerr[128];
			o->cache_written = ma_sts_cache_put(op->cache_dir, dom, c, cerr, sizeof(cerr)) == 0;
		}
	} else {
		if (fr.status == MA_STS_FETCH_OK)
			ma_bprintf(why, sizeof(why), "invalid policy: %s", perr);
		else
			ma_bprintf(why, sizeof(why), "policy fetch failed: %s", fr.reason);
		if (op->cache_dir)
			ma_sts_cache_fail_put(op->cache_dir, dom, o->record_id, now);
		/* 5.1: a failed refresh never throws a valid policy away. */
		if (cached) {
			use_cached(o, c);
			ma_bprintf(o->reason, sizeof(o->reason), "%s; the cached policy (id %s) stays in force",
			    why, c->id);
		} else {
			o->status = MA_STS_FETCH_ERROR;
			ma_strlcpy(o->reason, why, sizeof(o->reason));
		}
	}
	ma_sts_fetch_result_free(&fr);
out:
	free(c);
}

void
ma_sts_policy_id(const char *body, size_t len, char id[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(body, len, md, &n, EVP_sha256(), NULL) != 1 || n < 16) {
		id[0] = '\0';
		return;
	}
	for (size_t i = 0; i < 16; i++) {
		id[2 * i] = hex[md[i] >> 4];
		id[2 * i + 1] = hex[md[i] & 15];
	}
	id[32] = '\0';
}
