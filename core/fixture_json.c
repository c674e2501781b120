/* Zone data from JSON into a fixture.  Two shapes are accepted:
 *   suite:  {"name": [{"TXT": "v=spf1 ..."}, {"MX": [0, "mx"]}, "TIMEOUT"]}
 *   corpus: {"name": {"TXT": ["v=spf1 ..."], "MX": [[0, "mx"]], "A": ["192.0.2.1"]}}
 * In the suite shape a TXT value that is a list is one record of several
 * character-strings; in the corpus shape it is a list of records. */
#include "resolver.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The suites write raw octets as code points <= U+00FF (see the suite
 * README): map such strings back to one byte each.  Anything beyond U+00FF
 * stays UTF-8. */
static size_t
to_octets(const char *s, size_t len, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 && (c & 0xfe) == 0xc2 && i + 1 < len &&
		    ((unsigned char)s[i + 1] & 0xc0) == 0x80) {
			out[o++] = (unsigned char)(((c & 0x03) << 6) | ((unsigned char)s[i + 1] & 0x3f));
			i++;
		} else if (c >= 0x80) {
			memcpy(out, s, len);
			return len;
		} else
			out[o++] = c;
	}
	return o;
}

struct ctx {
	struct ma_fixture *f;
	char *err;
	size_t errlen;
};

static bool
fail(struct ctx *c, const char *name, const char *what)
{
	ma_bprintf(c->err, c->errlen, "zone data: %s: %s", name, what);
	return false;
}

static bool
add_txt(struct ctx *c, const char *name, uint16_t type, json_t *v, bool list_is_strings)
{
	struct ma_txt_string st[64];
	unsigned char *bufs[64];
	size_t n = 0;
	bool ok = true;

	if (json_is_string(v)) {
		if (type == MA_RR_TXT && strcmp(json_string_value(v), "NONE") == 0)
			return ma_fixture_mark_txt(c->f, name);
		if (type == MA_RR_SPF && strcmp(json_string_value(v), "NONE") == 0)
			return ma_fixture_add_empty(c->f, name);
	} else if (!json_is_array(v))
		return fail(c, name, "TXT value must be a string or a list");
	if (json_is_array(v) && !list_is_strings) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (!add_txt(c, name, type, e, true))
				return false;
		if (json_array_size(v) == 0)
			return ma_fixture_add_empty(c->f, name);
		return true;
	}
	json_t *items[64] = { v };
	size_t count = 1;
	if (json_is_array(v)) {
		count = json_array_size(v);
		if (count > 64)
			return fail(c, name, "more than 64 strings in one TXT record");
		for (size_t i = 0; i < count; i++)
			items[i] = json_array_get(v, i);
	}
	for (n = 0; n < count; n++) {
		if (!json_is_string(items[n])) {
			ok = fail(c, name, "TXT strings must be strings");
			break;
		}
		size_t len = json_string_length(items[n]);
		bufs[n] = malloc(len ? len : 1);
		if (bufs[n] == NULL) {
			ok = fail(c, name, "out of memory");
			break;
		}
		st[n].len = to_octets(json_string_value(items[n]), len, bufs[n]);
		st[n].data = bufs[n];
	}
	if (ok)
		ok = ma_fixture_add_txt(c->f, name, type, st, n) || fail(c, name, "bad TXT record");
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	return ok;
}

static bool
add_mx(struct ctx *c, const char *name, json_t *v)
{
	json_t *p = json_array_get(v, 0), *h = json_array_get(v, 1);

	if (json_array_size(v) != 2 || !json_is_integer(p) || !json_is_string(h))
		return fail(c, name, "MX must be [preference, exchange]");
	json_int_t pref = json_integer_value(p);
	if (pref < 0 || pref > 65535 || !ma_fixture_add_mx(c->f, name, (unsigned)pref, json_string_value(h)))
		return fail(c, name, "bad MX record");
	return true;
}

static bool
add_one(struct ctx *c, const char *name, const char *tname, json_t *v, bool suite)
{
	uint16_t type = ma_rrtype_from_name(tname, strlen(tname));

	switch (type) {
	case MA_RR_TXT:
	case MA_RR_SPF:
		return add_txt(c, name, type, v, suite);
	case MA_RR_MX:
		return add_mx(c, name, v);
	case MA_RR_A:
	case MA_RR_AAAA:
	case MA_RR_PTR:
	case MA_RR_CNAME:
	case MA_RR_NS:
		if (!json_is_string(v))
			return fail(c, name, "value must be a string");
		const char *s = json_string_value(v);
		bool ok = type == MA_RR_A ? ma_fixture_add_a(c->f, name, s) :
		    type == MA_RR_AAAA ? ma_fixture_add_aaaa(c->f, name, s) :
		    ma_fixture_add_name(c->f, name, type, s);
		return ok || fail(c, name, "bad record value");
	default:
		return fail(c, name, "unsupported record type");
	}
}

static bool
add_name(struct ctx *c, const char *name, json_t *recs)
{
	char norm[MA_DNS_NAME_MAX];

	/* Names DNS cannot carry (labels over 63 octets, say) can never be
	 * asked for: skip them rather than reject the whole zone. */
	if (!ma_dns_name_normalize(name, strlen(name), norm))
		return true;
	if (json_is_array(recs)) {
		size_t i;
		json_t *r;
		if (json_array_size(recs) == 0)
			return ma_fixture_add_empty(c->f, name);
		json_array_foreach(recs, i, r) {
			if (json_is_string(r)) {
				const char *s = json_string_value(r);
				if (strcmp(s, "TIMEOUT") == 0)
					ma_fixture_set_timeout(c->f, name);
				else if (strcmp(s, "SERVFAIL") == 0)
					ma_fixture_set_servfail(c->f, name);
				else
					return fail(c, name, "unknown record string");
				continue;
			}
			if (!json_is_object(r) || json_object_size(r) != 1)
				return fail(c, name, "a record must be a one-key object");
			const char *t;
			json_t *v;
			json_object_foreach(r, t, v)
				if (!add_one(c, name, t, v, true))
					return false;
		}
		return true;
	}
	if (json_is_object(recs)) {
		const char *t;
		json_t *v;
		if (json_object_size(recs) == 0)
			return ma_fixture_add_empty(c->f, name);
		json_object_foreach(recs, t, v) {
			uint16_t type = ma_rrtype_from_name(t, strlen(t));
			if (type == MA_RR_TXT || type == MA_RR_SPF) {
				if (!add_txt(c, name, type, v, false))
					return false;
				continue;
			}
			if (!json_is_array(v) || (type == MA_RR_MX && json_array_size(v) > 0 &&
			    !json_is_array(json_array_get(v, 0)))) {
				if (!add_one(c, name, t, v, false))
					return false;
				continue;
			}
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				if (!add_one(c, name, t, e, false))
					return false;
		}
		return true;
	}
	if (json_is_string(recs) && strcmp(json_string_value(recs), "TIMEOUT") == 0)
		return ma_fixture_set_timeout(c->f, name);
	if (json_is_string(recs) && strcmp(json_string_value(recs), "SERVFAIL") == 0)
		return ma_fixture_set_servfail(c->f, name);
	return fail(c, name, "records must be a list or an object");
}

bool
ma_fixture_load_json(struct ma_fixture *f, const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	struct ctx c = { f, err, errlen };
	bool ok = true;

	json_t *root = json_loadb(buf, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		ma_bprintf(err, errlen, "zone data: line %d: %s", je.line, je.text);
		return false;
	}
	/* A suite scenario or a file with a "zonedata" key is accepted too. */
	json_t *zd = json_object_get(root, "zonedata");
	json_t *zone = zd ? zd : root;
	if (!json_is_object(zone)) {
		ma_bprintf(err, errlen, "zone data: the top level must be an object of names");
		json_decref(root);
		return false;
	}
	const char *name;
	json_t *recs;
	json_object_foreach(zone, name, recs)
		if (!(ok = add_name(&c, name, recs)))
			break;
	json_decref(root);
	return ok;
}

bool
ma_fixture_load_file(struct ma_fixture *f, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok;

	if (fp == NULL) {
		ma_bprintf(err, errlen, "%s: cannot open", path);
		return false;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= ((size_t)256 << 20)) {
				free(buf);
				fclose(fp);
				ma_bprintf(err, errlen, "%s: larger than 256 MB", path);
				return false;
			}
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(fp);
				ma_bprintf(err, errlen, "%s: out of memory", path);
				return false;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, fp);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(fp)) {
		free(buf);
		fclose(fp);
		ma_bprintf(err, errlen, "%s: read error", path);
		return false;
	}
	fclose(fp);
	ok = ma_fixture_load_json(f, buf ? buf : "", len, err, errlen);
	free(buf);
	return ok;
}
