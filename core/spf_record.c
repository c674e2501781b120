/* SPF record syntax (RFC 7208 4.5, 4.6, 5, 6, 12): the whole record is
 * parsed before anything is evaluated, so an error anywhere is a permerror. */
#include "spf_int.h"

#include <string.h>

static const struct {
	const char *name;
	size_t len;
	enum spf_mech mech;
} mechs[] = {
	{ "all", 3, M_ALL }, { "include", 7, M_INCLUDE }, { "a", 1, M_A }, { "mx", 2, M_MX },
	{ "ptr", 3, M_PTR }, { "ip4", 3, M_IP4 }, { "ip6", 3, M_IP6 }, { "exists", 6, M_EXISTS },
};

bool
spf_is_record(const unsigned char *s, size_t len)
{
	return len >= 6 && ma_strcaseeq((const char *)s, 6, "v=spf1", 6) && (len == 6 || s[6] == ' ');
}

static bool
is_name_char(char c)
{
	return ma_isalnum(c) || c == '-' || c == '_' || c == '.';
}

/* "/" ("0" / %x31-39 0*N DIGIT) with a maximum value. */
static int
parse_cidr(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!ma_isdigit(s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static bool
all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ma_isdigit(s[i]))
			return false;
	return true;
}

/* Splits "[:domain-spec][/n][//m]" for a and mx. */
static int
parse_dual(struct spf_term *t, const char *s, size_t len, char *reason, size_t rlen)
{
	/* ip6-cidr-length: the suffix after the last "//". */
	for (size_t i = len; i >= 2; i--) {
		if (s[i - 1] == '/' && s[i - 2] == '/') {
			if (all_digits(s + i, len - i)) {
				if (parse_cidr(s + i, len - i, 128, &t->cidr6) < 0)
					goto badcidr;
				len = i - 2;
			}
			break;
		}
		if (!ma_isdigit(s[i - 1]))
			break;
	}
	for (size_t i = len; i >= 1; i--) {
		if (s[i - 1] == '/') {
			if (all_digits(s + i, len - i)) {
				if (parse_cidr(s + i, len - i, 32, &t->cidr4) < 0)
					goto badcidr;
				len = i - 1;
			}
			break;
		}
		if (!ma_isdigit(s[i - 1]))
			break;
	}
	if (len == 0)
		return 0;
	if (s[0] != ':' || len == 1) {
		ma_bprintf(reason, rlen, "bad argument to mechanism '%.*s'", (int)t->textlen, t->text);
		return -1;
	}
	t->spec = s + 1;
	t->speclen = len - 1;
	return 0;
badcidr:
	ma_bprintf(reason, rlen, "bad CIDR length in '%.*s'", (int)t->textlen, t->text);
	return -1;
}

static int
parse_ip(struct spf_term *t, const char *s, size_t len, char *reason, size_t rlen)
{
	const char *slash;
	unsigned max = t->mech == M_IP4 ? 32 : 128;
	bool ok;

	if (len < 2 || s[0] != ':')
		goto bad;
	s++;
	len--;
	slash = memrchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	if (t->mech == M_IP4)
		ok = ma_ip4_parse_strict(t->addr, s, alen);
	else
		ok = ma_ip6_parse(t->addr, s, alen);
	if (!ok)
		goto bad;
	unsigned *cidr = t->mech == M_IP4 ? &t->cidr4 : &t->cidr6;
	*cidr = max;
	if (slash && parse_cidr(slash + 1, len - alen - 1, max, cidr) < 0) {
		ma_bprintf(reason, rlen, "bad CIDR length in '%.*s'", (int)t->textlen, t->text);
		return -1;
	}
	return 0;
bad:
	ma_bprintf(reason, rlen, "bad address in '%.*s'", (int)t->textlen, t->text);
	return -1;
}

static int
parse_mechanism(struct spf_term *t, const char *s, size_t len, char *reason, size_t rlen)
{
	size_t n = 0;

	while (n < len && s[n] != ':' && s[n] != '/')
		n++;
	size_t k;
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++)
		if (n == mechs[k].len && ma_strcaseeq(s, n, mechs[k].name, n))
			break;
	if (k == sizeof(mechs) / sizeof(mechs[0])) {
		ma_bprintf(reason, rlen, "unknown mechanism '%.*s'", (int)(n > 64 ? 64 : n), s);
		return -1;
	}
	t->mech = mechs[k].mech;
	t->cidr4 = 32;
	t->cidr6 = 128;
	s += n;
	len -= n;
	switch (t->mech) {
	case M_ALL:
		if (len) {
			ma_bprintf(reason, rlen, "'all' takes no argument");
			return -1;
		}
		return 0;
	case M_INCLUDE:
	case M_EXISTS:
	case M_PTR:
		if (len == 0 && t->mech == M_PTR)
			return 0;
		if (len < 2 || s[0] != ':') {
			ma_bprintf(reason, rlen, "'%.*s' needs a domain", (int)t->textlen, t->text);
			return -1;
		}
		t->spec = s + 1;
		t->speclen = len - 1;
		break;
	case M_A:
	case M_MX:
		if (parse_dual(t, s, len, reason, rlen) < 0)
			return -1;
		break;
	case M_IP4:
	case M_IP6:
		return parse_ip(t, s, len, reason, rlen);
	}
	if (t->spec && !spf_domain_spec_valid(t->spec, t->speclen)) {
		ma_bprintf(reason, rlen, "bad domain-spec in '%.*s'", (int)t->textlen, t->text);
		return -1;
	}
	return 0;
}

int
spf_record_parse(const char *s, size_t len, struct spf_record *rec,
    struct ma_arena *arena, char *reason, size_t rlen)
{
	size_t cap = 0;

	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e) {
			ma_bprintf(reason, rlen, "non-ASCII or control character in record");
			return -1;
		}
		if (c == ' ')
			cap++;
	}
	rec->terms = ma_arena_alloc(arena, (cap + 1) * sizeof(*rec->terms));
	if (rec->terms == NULL) {
		ma_bprintf(reason, rlen, "record too large");
		return -1;
	}
	size_t pos = 6;		/* after "v=spf1" */
	while (pos < len) {
		if (s[pos] == ' ') {
			pos++;
			continue;
		}
		size_t end = pos;
		while (end < len && s[end] != ' ')
			end++;
		const char *tok = s + pos;
		size_t tlen = end - pos;
		pos = end;

		/* modifier = name "=" macro-string */
		size_t n = 0;
		if (ma_isalpha(tok[0]))
			while (n < tlen && is_name_char(tok[n]))
				n++;
		if (n > 0 && n < tlen && tok[n] == '=') {
			const char *v = tok + n + 1;
			size_t vlen = tlen - n - 1;
			bool known = true;
			if (ma_strcaseeq(tok, n, "redirect", 8)) {
				if (rec->redirect) {
					ma_bprintf(reason, rlen, "more than one redirect=");
					return -1;
				}
				rec->redirect = v;
				rec->redirectlen = vlen;
			} else if (ma_strcaseeq(tok, n, "exp", 3)) {
				if (rec->exp) {
					ma_bprintf(reason, rlen, "more than one exp=");
					return -1;
				}
				rec->exp = v;
				rec->explen = vlen;
			} else
				known = false;
			if (known ? !spf_domain_spec_valid(v, vlen) : !spf_macro_valid(v, vlen, false)) {
				ma_bprintf(reason, rlen, "bad value in '%.*s'", (int)(tlen > 64 ? 64 : tlen), tok);
				return -1;
			}
			continue;
		}
		struct spf_term *t = &rec->terms[rec->nterms];
		memset(t, 0, sizeof(*t));
		t->qual = '+';
		t->text = tok;
		t->textlen = tlen;
		if (tok[0] == '+' || tok[0] == '-' || tok[0] == '~' || tok[0] == '?') {
			t->qual = tok[0];
			tok++;
			tlen--;
		}
		if (tlen == 0) {
			ma_bprintf(reason, rlen, "lone qualifier");
			return -1;
		}
		if (parse_mechanism(t, tok, tlen, reason, rlen) < 0)
			return -1;
		rec->nterms++;
	}
	return 0;
}

int
ma_spf_parse_check(const char *record, size_t len, char *reason, size_t rlen)
{
	struct spf_record rec;
	struct ma_arena a;
	int rc;

	if (!spf_is_record((const unsigned char *)record, len)) {
		ma_bprintf(reason, rlen, "not an SPF record (must start with v=spf1)");
		return -1;
	}
	ma_arena_init(&a, NULL, 0, 1 << 20);
	rc = spf_record_parse(record, len, &rec, &a, reason, rlen);
	ma_arena_free(&a);
	if (rc == 0)
		ma_bprintf(reason, rlen, "ok");
	return rc;
}
