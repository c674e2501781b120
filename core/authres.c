#include "authres.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- building ---- */

static void
put(struct ma_ar *a, const char *s, size_t n)
{
	ma_sbuf_put(&a->b, s, n);
}

static void
puts_(struct ma_ar *a, const char *s)
{
	ma_sbuf_put(&a->b, s, strlen(s));
}

/* RFC 2045 token characters: printable ASCII except SP and tspecials. */
static bool
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* A pvalue may also be [local-part] "@" domain-name unquoted. */
static bool
plain_pvalue(const char *v)
{
	size_t at = 0;

	if (*v == '\0')
		return false;
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '@' && at++ == 0)
			continue;
		if (!is_token_char(c))
			return false;
	}
	return true;
}

static void
put_quoted(struct ma_ar *a, const char *v)
{
	put(a, "\"", 1);
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			put(a, "\\", 1);
		put(a, p, 1);
	}
	put(a, "\"", 1);
}

static void
put_value(struct ma_ar *a, const char *v, bool pvalue)
{
	bool plain = pvalue ? plain_pvalue(v) : *v != '\0';

	for (const char *p = v; plain && *p; p++)
		if (!pvalue && !is_token_char((unsigned char)*p))
			plain = false;
	if (plain)
		puts_(a, v);
	else
		put_quoted(a, v);
}

/* Folds before an element that would pass 78 columns. */
static void
fold(struct ma_ar *a, size_t next)
{
	if (a->b.line + next + 1 > 78)
		put(a, "\r\n\t", 3);
	else
		put(a, " ", 1);
}

void
ma_ar_init(struct ma_ar *a, const char *authserv_id)
{
	memset(a, 0, sizeof(*a));
	puts_(a, "Authentication-Results: ");
	put_value(a, authserv_id, false);
}

void
ma_ar_method(struct ma_ar *a, const char *method, const char *result, const char *reason)
{
	put(a, ";", 1);
	put(a, "\r\n\t", 3);
	puts_(a, method);
	put(a, "=", 1);
	puts_(a, result);
	if (reason && *reason) {
		fold(a, strlen(reason) + 9);
		puts_(a, "reason=");
		put_quoted(a, reason);
	}
}

void
ma_ar_prop(struct ma_ar *a, const char *ptype, const char *property, const char *value)
{
	fold(a, strlen(ptype) + strlen(property) + strlen(value) + 4);
	puts_(a, ptype);
	put(a, ".", 1);
	puts_(a, property);
	put(a, "=", 1);
	put_value(a, value, true);
}

void
ma_ar_comment(struct ma_ar *a, const char *text)
{
	fold(a, strlen(text) + 2);
	put(a, "(", 1);
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c >= 0x7f)
			continue;
		if (c == '(' || c == ')' || c == '\\')
			put(a, "\\", 1);
		put(a, p, 1);
	}
	put(a, ")", 1);
}

char *
ma_ar_finish(struct ma_ar *a)
{
	char *out = a->b.oom ? NULL : a->b.p;

	if (a->b.oom)
		free(a->b.p);
	memset(a, 0, sizeof(*a));
	return out;
}

/* ---- parsing ---- */

struct rd {
	const char *s;
	size_t len, i;
	int depth;		/* comment nesting seen, bounded */
};

/* CFWS: whitespace, folding, and (nested) comments with quoted-pairs. */
static bool
skip_cfws(struct rd *r)
{
	for (;;) {
		while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
		    r->s[r->i] == '\r' || r->s[r->i] == '\n'))
			r->i++;
		if (r->i >= r->len || r->s[r->i] != '(')
			return true;
		int depth = 0;
		do {
			char c = r->s[r->i++];
			if (c == '\\' && r->i < r->len)
				r->i++;
			else if (c == '(') {
				if (++depth > 32)
					return false;
			} else if (c == ')')
				depth--;
		} while (depth > 0 && r->i < r->len);
		if (depth > 0)
			return false;	/* unterminated comment */
	}
}

static bool
read_token(struct rd *r, struct ma_ar_span *sp, bool keyword)
{
	size_t st = r->i;

	while (r->i < r->len) {
		unsigned char c = (unsigned char)r->s[r->i];
		if (keyword ? !(ma_isalnum(c) || c == '-' || c == '_') : !is_token_char(c))
			break;
		r->i++;
	}
	sp->p = r->s + st;
	sp->len = r->i - st;
	return sp->len > 0;
}

/* quoted-string: the span excludes the quotes (escapes are left in). */
static bool
read_quoted(struct rd *r, struct ma_ar_span *sp)
{
	size_t st = ++r->i;

	while (r->i < r->len && r->s[r->i] != '"') {
		if (r->s[r->i] == '\\')
			r->i++;
		r->i++;
	}
	if (r->i >= r->len)
		return false;
	sp->p = r->s + st;
	sp->len = r->i - st;
	r->i++;
	return true;
}

static bool
read_value(struct rd *r, struct ma_ar_span *sp)
{
	if (r->i < r->len && r->s[r->i] == '"')
		return read_quoted(r, sp);
	return read_token(r, sp, false);
}

/* pvalue: a value, or [local-part] "@" domain-name. */
static bool
read_pvalue(struct rd *r, struct ma_ar_span *sp)
{
	size_t st = r->i;

	if (r->i < r->len && r->s[r->i] == '"') {
		if (!read_quoted(r, sp))
			return false;
		if (r->i >= r->len || r->s[r->i] != '@')
			return true;
	}
	while (r->i < r->len) {
		unsigned char c = (unsigned char)r->s[r->i];
		if (c <= ' ' || c == ';' || c == '(' || c >= 0x7f)
			break;
		r->i++;
	}
	sp->p = r->s + st;
	sp->len = r->i - st;
	return sp->len > 0;
}

static bool
expect(struct rd *r, char c)
{
	if (!skip_cfws(r) || r->i >= r->len || r->s[r->i] != c)
		return false;
	r->i++;
	return skip_cfws(r);
}

int
ma_authres_parse(const char *value, size_t len, struct ma_ar_parsed *out, char *err, size_t errlen)
{
	struct rd r = { value, len, 0, 0 };

	memset(out, 0, sizeof(*out));
	out->version = 1;
	if (!skip_cfws(&r) || !read_value(&r, &out->authserv_id)) {
		ma_bprintf(err, errlen, "no authserv-id");
		return -1;
	}
	if (!skip_cfws(&r)) {
		ma_bprintf(err, errlen, "bad comment");
		return -1;
	}
	if (r.i < r.len && ma_isdigit(r.s[r.i])) {
		unsigned v = 0;
		while (r.i < r.len && ma_isdigit(r.s[r.i]) && v < 1000)
			v = v * 10 + (unsigned)(r.s[r.i++] - '0');
		out->version = v;
		skip_cfws(&r);
	}
	while (r.i < r.len) {
		if (!expect(&r, ';')) {
			ma_bprintf(err, errlen, "expected ';' at offset %zu", r.i);
			return -1;
		}
		if (r.i >= r.len)
			break;	/* a trailing ';' */
		struct ma_ar_span m;
		if (!read_token(&r, &m, true)) {
			ma_bprintf(err, errlen, "bad method at offset %zu", r.i);
			return -1;
		}
		if (m.len == 4 && ma_strcaseeq(m.p, 4, "none", 4) && out->nresults == 0) {
			out->none = true;
			skip_cfws(&r);
			continue;
		}
		if (out->nresults == MA_AR_MAX_RESULTS) {
			ma_bprintf(err, errlen, "more than %d results", MA_AR_MAX_RESULTS);
			return -1;
		}
		struct ma_ar_result *res = &out->results[out->nresults];
		memset(res, 0, sizeof(*res));
		res->method = m;
		/* method-version: "/" 1*DIGIT, skipped */
		skip_cfws(&r);
		if (r.i < r.len && r.s[r.i] == '/') {
			r.i++;
			skip_cfws(&r);
			while (r.i < r.len && ma_isdigit(r.s[r.i]))
				r.i++;
		}
		if (!expect(&r, '=') || !read_token(&r, &res->result, true)) {
			ma_bprintf(err, errlen, "bad result for method at offset %zu", r.i);
			return -1;
		}
		out->nresults++;
		for (;;) {
			if (!skip_cfws(&r)) {
				ma_bprintf(err, errlen, "bad comment");
				return -1;
			}
			if (r.i >= r.len || r.s[r.i] == ';')
				break;
			struct ma_ar_span a, b, v;
			if (!read_token(&r, &a, true)) {
				ma_bprintf(err, errlen, "bad property at offset %zu", r.i);
				return -1;
			}
			skip_cfws(&r);
			if (a.len == 6 && ma_strcaseeq(a.p, 6, "reason", 6) && r.i < r.len && r.s[r.i] == '=') {
				if (!expect(&r, '=') || !read_value(&r, &res->reason)) {
					ma_bprintf(err, errlen, "bad reason at offset %zu", r.i);
					return -1;
				}
				continue;
			}
			if (!expect(&r, '.') || !read_token(&r, &b, true) || !expect(&r, '=') ||
			    !read_pvalue(&r, &v)) {
				ma_bprintf(err, errlen, "bad property at offset %zu", r.i);
				return -1;
			}
			if (res->nprops < MA_AR_MAX_PROPS)
				res->props[res->nprops++] = (struct ma_ar_prop){ a, b, v };
		}
	}
	return 0;
}

bool
ma_authres_claims(const char *value, size_t len, const char *id)
{
	struct rd r = { value, len, 0, 0 };
	struct ma_ar_span sp;

	if (!skip_cfws(&r) || !read_value(&r, &sp))
		return false;
	return ma_strcaseeq(sp.p, sp.len, id, strlen(id));
}
