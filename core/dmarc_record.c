/* DMARC record syntax (RFC 9989 4.7, 4.8): v=DMARC1 first, unknown tags
 * ignored, bad values replaced by their defaults. */
#include "dmarc.h"
#include "util.h"

#include <stddef.h>
#include <string.h>

static const char *const result_names[] = { "none", "pass", "fail", "temperror", "permerror" };
static const char *const policy_names[] = { "", "none", "quarantine", "reject", "invalid" };

const char *
ma_dmarc_result_name(enum ma_dmarc_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r] : "permerror";
}

const char *
ma_dmarc_policy_name(enum ma_dmarc_policy p)
{
	return (unsigned)p < sizeof(policy_names) / sizeof(policy_names[0]) ? policy_names[p] : "invalid";
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
trim(const char **s, size_t *len)
{
	while (*len && is_wsp(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_wsp((*s)[*len - 1]))
		(*len)--;
}

static enum ma_dmarc_policy
policy(const char *v, size_t n)
{
	if (ma_strcaseeq(v, n, "none", 4))
		return MA_POLICY_NONE;
	if (ma_strcaseeq(v, n, "quarantine", 10))
		return MA_POLICY_QUARANTINE;
	if (ma_strcaseeq(v, n, "reject", 6))
		return MA_POLICY_REJECT;
	return MA_POLICY_INVALID;
}

/* RFC 3986: scheme ":" something. */
static bool
uri_valid(const char *u, size_t n)
{
	size_t i = 0;

	if (n == 0 || !ma_isalpha(u[0]))
		return false;
	while (i < n && (ma_isalnum(u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.'))
		i++;
	if (i >= n || u[i] != ':' || i + 1 >= n)
		return false;
	for (size_t k = i + 1; k < n; k++)
		if ((unsigned char)u[k] <= ' ' || (unsigned char)u[k] >= 0x7f)
			return false;
	return true;
}

static void
uris(const char *v, size_t n, char out[][256], size_t *count, bool *any_valid)
{
	size_t i = 0;

	*count = 0;
	while (i <= n && *count < MA_DMARC_MAX_URIS) {
		const char *c = memchr(v + i, ',', n - i);
		size_t e = c ? (size_t)(c - v) : n;
		const char *u = v + i;
		size_t ul = e - i;
		trim(&u, &ul);
		/* obs-dmarc-report-size "!10m": ignored (RFC 9989 4.8) */
		const char *bang = memchr(u, '!', ul);
		if (bang && (size_t)(bang - u) > 0)
			ul = (size_t)(bang - u);
		if (ul > 0 && ul < 256) {
			memcpy(out[*count], u, ul);
			out[*count][ul] = '\0';
			(*count)++;
			if (uri_valid(u, ul))
				*any_valid = true;
		}
		if (c == NULL)
			break;
		i = e + 1;
	}
}

int
ma_dmarc_record_parse(const char *txt, size_t len, struct ma_dmarc_record *r)
{
	size_t i = 0;
	bool first = true;

	/* The URI arrays (4 KB) are read only up to nrua/nruf: not cleared. */
	memset(r, 0, offsetof(struct ma_dmarc_record, rua));
	r->rua_valid = false;
	r->psd = 'u';
	r->pct = 100;
	r->ri = 86400;
	ma_strlcpy(r->rf, "afrf", sizeof(r->rf));
	while (i <= len) {
		const char *semi = memchr(txt + i, ';', len - i);
		size_t e = semi ? (size_t)(semi - txt) : len;
		const char *seg = txt + i, *eq;
		size_t sl = e - i;
		i = e + 1;
		trim(&seg, &sl);
		if (sl == 0) {
			if (first)
				return 0;
			if (semi == NULL)
				break;
			continue;
		}
		eq = memchr(seg, '=', sl);
		const char *name = seg, *val = eq ? eq + 1 : seg + sl;
		size_t nl = eq ? (size_t)(eq - seg) : sl, vl = eq ? sl - nl - 1 : 0;
		trim(&name, &nl);
		trim(&val, &vl);
		if (first) {
			/* "v" must come first with exactly DMARC1 (case-sensitive). */
			if (!eq || !ma_strcaseeq(name, nl, "v", 1) || vl != 6 || memcmp(val, "DMARC1", 6) != 0)
				return 0;
			first = false;
		} else if (!eq) {
			/* a tag without "=": a syntax error, ignored */
		} else if (ma_strcaseeq(name, nl, "p", 1))
			r->p = policy(val, vl);
		else if (ma_strcaseeq(name, nl, "sp", 2))
			r->sp = policy(val, vl);
		else if (ma_strcaseeq(name, nl, "np", 2))
			r->np = policy(val, vl);
		else if (ma_strcaseeq(name, nl, "psd", 3)) {
			char c = vl == 1 ? ma_lower(val[0]) : 'u';
			r->psd = c == 'y' || c == 'n' ? c : 'u';
		} else if (ma_strcaseeq(name, nl, "t", 1))
			r->testing = vl == 1 && ma_lower(val[0]) == 'y';
		else if (ma_strcaseeq(name, nl, "adkim", 5))
			r->adkim_strict = vl == 1 && ma_lower(val[0]) == 's';
		else if (ma_strcaseeq(name, nl, "aspf", 4))
			r->aspf_strict = vl == 1 && ma_lower(val[0]) == 's';
		else if (ma_strcaseeq(name, nl, "pct", 3)) {
			int v = 0;
			bool ok = vl > 0 && vl <= 3;
			for (size_t k = 0; ok && k < vl; k++) {
				ok = ma_isdigit(val[k]);
				v = v * 10 + (val[k] - '0');
			}
			r->pct = ok && v <= 100 ? v : 100;
		} else if (ma_strcaseeq(name, nl, "ri", 2)) {
			long v = 0;
			bool ok = vl > 0 && vl <= 9;
			for (size_t k = 0; ok && k < vl; k++) {
				ok = ma_isdigit(val[k]);
				v = v * 10 + (val[k] - '0');
			}
			r->ri = ok ? v : 86400;
		} else if (ma_strcaseeq(name, nl, "rf", 2)) {
			bool ok = vl > 0 && vl < sizeof(r->rf);
			for (size_t k = 0; ok && k < vl; k++)
				ok = ma_isalnum(val[k]) || val[k] == ':' || val[k] == '-';
			if (ok)
				ma_bprintf(r->rf, sizeof(r->rf), "%.*s", (int)vl, val);
		} else if (ma_strcaseeq(name, nl, "rua", 3)) {
			r->rua_valid = false;
			uris(val, vl, r->rua, &r->nrua, &r->rua_valid);
		} else if (ma_strcaseeq(name, nl, "ruf", 3)) {
			bool dummy = false;
			uris(val, vl, r->ruf, &r->nruf, &dummy);
		} else if (ma_strcaseeq(name, nl, "fo", 2))
			ma_bprintf(r->fo, sizeof(r->fo), "%.*s", (int)vl, val);
		if (semi == NULL)
			break;
	}
	return first ? 0 : 1;
}
