/* Received TLS reports: JSON (or gzip'd JSON) into a summary per policy and
 * failure type, tolerant of what senders are known to do wrong; and the
 * report found inside a report e-mail's MIME structure. */
#include "tlsrpt.h"
#include "b64.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define MAX_INFLATE	(16u << 20)	/* a report never needs more */

static void
deviation(struct ma_tlsrpt_summary *s, const char *what)
{
	if (s->deviations++ == 0)
		ma_strlcpy(s->deviation, what, sizeof(s->deviation));
}

static void
copy_str(json_t *o, const char *k, char *out, size_t len, struct ma_tlsrpt_summary *s, bool required)
{
	json_t *v = json_object_get(o, k);

	if (json_is_string(v))
		ma_strlcpy(out, json_string_value(v), len);
	else if (required) {
		char w[96];
		ma_bprintf(w, sizeof(w), "missing or non-string \"%s\"", k);
		deviation(s, w);
	}
}

/* A count: an integer, or (a known deviation) a string of digits. */
static uint64_t
count(json_t *v, struct ma_tlsrpt_summary *s, const char *k)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_string(v)) {
		char *end;
		unsigned long long n = strtoull(json_string_value(v), &end, 10);
		if (*json_string_value(v) && *end == '\0') {
			char w[96];
			ma_bprintf(w, sizeof(w), "\"%s\" is a string, not a number", k);
			deviation(s, w);
			return n;
		}
	}
	if (v) {
		char w[96];
		ma_bprintf(w, sizeof(w), "\"%s\" is not a count", k);
		deviation(s, w);
	}
	return 0;
}

static int
gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;
	size_t cap = len * 4 + 1024, n = 0;
	unsigned char *buf = NULL;
	int rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	do {
		if (cap > MAX_INFLATE)
			cap = MAX_INFLATE;
		unsigned char *nb = realloc(buf, cap + 1);
		if (nb == NULL)
			break;
		buf = nb;
		z.next_out = buf + n;
		z.avail_out = (uInt)(cap - n);
		rc = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (rc == Z_STREAM_END) {
			inflateEnd(&z);
			buf[n] = '\0';
			*out = buf;
			*outlen = n;
			return 0;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			break;
		if (z.avail_out == 0) {
			if (cap == MAX_INFLATE)
				break;	/* a decompression bomb */
			cap *= 2;
		} else if (z.avail_in == 0)
			break;	/* truncated */
	} while (1);
	inflateEnd(&z);
	free(buf);
	return -1;
}

int
ma_tlsrpt_parse(const void *data, size_t len, struct ma_tlsrpt_summary *s, char *err, size_t errlen)
{
	const unsigned char *p = data;
	unsigned char *plain = NULL;
	size_t plen;
	json_error_t je;

	memset(s, 0, sizeof(*s));
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		if (gunzip(p, len, &plain, &plen) < 0) {
			ma_bprintf(err, errlen, "gzip data cannot be decompressed (or is over 16 MB)");
			return -1;
		}
		p = plain;
		len = plen;
	}
	json_t *root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je);
	free(plain);
	if (root == NULL) {
		ma_bprintf(err, errlen, "not JSON: line %d: %s", je.line, je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ma_bprintf(err, errlen, "the report is not a JSON object");
		return -1;
	}
	copy_str(root, "organization-name", s->organization_name, sizeof(s->organization_name), s, true);
	copy_str(root, "report-id", s->report_id, sizeof(s->report_id), s, true);
	copy_str(root, "contact-info", s->contact_info, sizeof(s->contact_info), s, false);
	json_t *dr = json_object_get(root, "date-range");
	if (json_is_object(dr)) {
		copy_str(dr, "start-datetime", s->start, sizeof(s->start), s, true);
		copy_str(dr, "end-datetime", s->end, sizeof(s->end), s, true);
	} else
		deviation(s, "no \"date-range\"");
	json_t *pols = json_object_get(root, "policies");
	if (!json_is_array(pols)) {
		json_decref(root);
		ma_bprintf(err, errlen, "no \"policies\" list");
		return -1;
	}
	size_t i;
	json_t *pe;
	json_array_foreach(pols, i, pe) {
		if (s->npolicies == MA_TLSRPT_MAX_POLICIES) {
			deviation(s, "more policies than summarised");
			break;
		}
		if (!json_is_object(pe)) {
			deviation(s, "a policy entry that is not an object");
			continue;
		}
		typeof(s->policies[0]) *sp = &s->policies[s->npolicies++];
		json_t *pol = json_object_get(pe, "policy");
		const char *type = json_string_value(json_object_get(pol, "policy-type"));
		if (type && (strcmp(type, "sts") == 0 || strcmp(type, "tlsa") == 0 || strcmp(type, "no-policy-found") == 0))
			ma_strlcpy(sp->type, type, sizeof(sp->type));
		else {
			ma_strlcpy(sp->type, "unknown", sizeof(sp->type));
			deviation(s, "a policy-type RFC 8460 does not define");
		}
		copy_str(pol, "policy-domain", sp->domain, sizeof(sp->domain), s, true);
		json_t *sum = json_object_get(pe, "summary");
		sp->success = count(json_object_get(sum, "total-successful-session-count"), s,
		    "total-successful-session-count");
		sp->failure = count(json_object_get(sum, "total-failure-session-count"), s,
		    "total-failure-session-count");
		size_t k;
		json_t *fd;
		json_array_foreach(json_object_get(pe, "failure-details"), k, fd) {
			const char *rt = json_string_value(json_object_get(fd, "result-type"));
			uint64_t n = count(json_object_get(fd, "failed-session-count"), s, "failed-session-count");
			if (rt == NULL) {
				deviation(s, "a failure detail without result-type");
				rt = "unknown";
			} else if (ma_tlsrpt_result_type(rt) == NULL)
				deviation(s, "a result-type RFC 8460 does not define");
			size_t t;
			for (t = 0; t < sp->ntypes; t++)
				if (strcmp(sp->failures[t].result_type, rt) == 0)
					break;
			if (t == sp->ntypes) {
				if (t == MA_TLSRPT_MAX_FAILTYPES)
					continue;
				ma_strlcpy(sp->failures[t].result_type, rt, sizeof(sp->failures[t].result_type));
				sp->ntypes++;
			}
			sp->failures[t].count += n;
		}
	}
	json_decref(root);
	return 0;
}

/* ---- the report inside an e-mail ---- */

/* The value of parameter name in a Content-Type value, unquoted. */
static bool
ct_param(const char *v, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl < len; i++) {
		if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    strncasecmp(v + i, name, nl) == 0 && v[i + nl] == '=') {
			const char *p = v + i + nl + 1, *e = v + len;
			size_t o = 0;
			if (p < e && *p == '"') {
				for (p++; p < e && *p != '"' && o + 1 < outlen; p++)
					out[o++] = *p;
			} else
				for (; p < e && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' &&
				    o + 1 < outlen; p++)
					out[o++] = *p;
			out[o] = '\0';
			return o > 0;
		}
	}
	return false;
}

/* The media type of a Content-Type value, lower-case. */
static void
media_type(const char *v, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
		i++;
	for (; i < len && v[i] != ';' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && o + 1 < outlen; i++)
		out[o++] = ma_lower(v[i]);
	out[o] = '\0';
}

static bool
is_report_type(const char *mt)
{
	return strcmp(mt, "application/tlsrpt+gzip") == 0 || strcmp(mt, "application/tlsrpt+json") == 0 ||
	    strcmp(mt, "application/tlsrpt") == 0 || strcmp(mt, "application/gzip") == 0 ||
	    strcmp(mt, "application/json") == 0;
}

struct part {
	char type[128], boundary[200], cte[32];
	const char *body;
	size_t len;
};

/* Reads one MIME part's header block from p[0..len). */
static void
part_headers(const char *p, size_t len, struct part *pt)
{
	size_t i = 0;

	memset(pt, 0, sizeof(*pt));
	ma_strlcpy(pt->type, "text/plain", sizeof(pt->type));
	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - p) : len;
		size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
		if (le == i) {
			i = e + 1;
			break;	/* the empty line */
		}
		/* unfold: the field runs while next lines start with WSP */
		size_t fe = e;
		while (fe + 1 < len && (p[fe + 1] == ' ' || p[fe + 1] == '\t')) {
			const char *n2 = memchr(p + fe + 1, '\n', len - fe - 1);
			fe = n2 ? (size_t)(n2 - p) : len;
		}
		const char *f = p + i;
		size_t fl = fe - i;
		if (fl > 13 && strncasecmp(f, "Content-Type:", 13) == 0) {
			media_type(f + 13, fl - 13, pt->type, sizeof(pt->type));
			ct_param(f + 13, fl - 13, "boundary", pt->boundary, sizeof(pt->boundary));
		} else if (fl > 26 && strncasecmp(f, "Content-Transfer-Encoding:", 26) == 0)
			media_type(f + 26, fl - 26, pt->cte, sizeof(pt->cte));
		i = fe + 1;
	}
	if (i > len)
		i = len;
	pt->body = p + i;
	pt->len = len - i;
}

static int find_report(const struct part *, int depth, struct ma_tlsrpt_summary *, char *mt, size_t mtlen,
    char *err, size_t errlen);

static int
decode_and_parse(const struct part *pt, struct ma_tlsrpt_summary *s, char *err, size_t errlen)
{
	if (strcmp(pt->cte, "base64") == 0) {
		unsigned char *d = malloc(pt->len / 4 * 3 + 4);
		if (d == NULL) {
			ma_bprintf(err, errlen, "out of memory");
			return -1;
		}
		/* Trailing junk after the base64 (a boundary remnant) is cut off. */
		size_t l = pt->len;
		while (l && strchr("\r\n\t -", pt->body[l - 1]))
			l--;
		long n = ma_b64_decode(pt->body, l, d, pt->len / 4 * 3 + 4);
		int rc = n < 0 ? -1 : ma_tlsrpt_parse(d, (size_t)n, s, err, errlen);
		if (n < 0)
			ma_bprintf(err, errlen, "the report attachment is not valid base64");
		free(d);
		return rc;
	}
	return ma_tlsrpt_parse(pt->body, pt->len, s, err, errlen);
}

static int
find_report(const struct part *pt, int depth, struct ma_tlsrpt_summary *s, char *mt, size_t mtlen,
    char *err, size_t errlen)
{
	if (is_report_type(pt->type)) {
		ma_strlcpy(mt, pt->type, mtlen);
		return decode_and_parse(pt, s, err, errlen);
	}
	if (strncmp(pt->type, "multipart/", 10) != 0 || pt->boundary[0] == '\0' || depth > 4)
		return 1;	/* not here */
	char delim[210];
	size_t dl = (size_t)ma_bprintf(delim, sizeof(delim), "--%s", pt->boundary);
	const char *p = pt->body, *e = pt->body + pt->len, *start = NULL;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		size_t ll = (size_t)(le - p);
		if (ll >= dl && memcmp(p, delim, dl) == 0) {
			if (start) {
				struct part sub;
				const char *end = p;
				if (end > start && end[-1] == '\n')
					end--;
				if (end > start && end[-1] == '\r')
					end--;
				part_headers(start, (size_t)(end - start), &sub);
				int rc = find_report(&sub, depth + 1, s, mt, mtlen, err, errlen);
				if (rc <= 0)
					return rc;
			}
			if (ll >= dl + 2 && p[dl] == '-' && p[dl + 1] == '-')
				break;	/* the closing delimiter */
			start = nl ? nl + 1 : e;
		}
		p = nl ? nl + 1 : e;
	}
	return 1;
}

static int
collect(void *ctx, const unsigned char *p, size_t n)
{
	struct { char *b; size_t len, cap; bool over; } *c = ctx;

	if (c->len + n > MAX_INFLATE) {
		c->over = true;
		return 1;
	}
	if (c->len + n + 1 > c->cap) {
		size_t nc = (c->len + n + 1) * 2;
		char *nb = realloc(c->b, nc);
		if (nb == NULL) {
			c->over = true;
			return 1;
		}
		c->b = nb;
		c->cap = nc;
	}
	memcpy(c->b + c->len, p, n);
	c->len += n;
	return 0;
}

int
ma_tlsrpt_parse_email(const struct ma_msg *m, struct ma_tlsrpt_summary *s, char *mt, size_t mtlen,
    char *err, size_t errlen)
{
	struct { char *b; size_t len, cap; bool over; } c = { 0 };
	struct part top;

	memset(s, 0, sizeof(*s));
	mt[0] = '\0';
	memset(&top, 0, sizeof(top));
	ma_strlcpy(top.type, "text/plain", sizeof(top.type));
	for (size_t i = 0; i < ma_msg_count(m); i++) {
		const struct ma_header *h = ma_msg_header(m, i);
		const char *v = h->raw + h->valoff;
		size_t vl = h->len - h->valoff;
		if (ma_header_is(h, "Content-Type")) {
			media_type(v, vl, top.type, sizeof(top.type));
			ct_param(v, vl, "boundary", top.boundary, sizeof(top.boundary));
		} else if (ma_header_is(h, "Content-Transfer-Encoding"))
			media_type(v, vl, top.cte, sizeof(top.cte));
	}
	if (ma_msg_body(m, collect, &c) < 0 || c.over) {
		free(c.b);
		ma_bprintf(err, errlen, "the message body cannot be read (or is over 16 MB)");
		return -1;
	}
	top.body = c.b ? c.b : "";
	top.len = c.len;
	int rc = find_report(&top, 0, s, mt, mtlen, err, errlen);
	free(c.b);
	if (rc > 0) {
		ma_bprintf(err, errlen, "no TLS report attachment in the message");
		return -1;
	}
	return rc;
}
