/* SPF macros (RFC 7208 7): syntax checks and expansion with explicit bounds. */
#include "spf_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool
is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

static bool
is_letter(char c, bool explain)
{
	switch (ma_lower(c)) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v':
		return true;
	case 'c': case 'r': case 't':
		return explain;
	}
	return false;
}

/* Parses "%{" letter digits ["r"] delims "}" at s[i]; returns the index
 * after it, or 0 on a syntax error.  Fills the parts when asked. */
static size_t
parse_macro(const char *s, size_t len, size_t i, bool explain,
    char *letter, unsigned *digits, bool *reverse, const char **delims, size_t *ndelims)
{
	size_t j = i + 2;
	unsigned d = 0;
	bool have_d = false;

	if (j >= len || !is_letter(s[j], explain))
		return 0;
	*letter = s[j++];
	while (j < len && ma_isdigit(s[j])) {
		have_d = true;
		if (d < 1000)
			d = d * 10 + (unsigned)(s[j] - '0');
		j++;
	}
	if (have_d && d == 0)
		return 0;	/* "the value MUST be nonzero" (7.3) */
	*digits = d;
	*reverse = false;
	if (j < len && ma_lower(s[j]) == 'r') {
		*reverse = true;
		j++;
	}
	*delims = s + j;
	while (j < len && is_delim(s[j]))
		j++;
	*ndelims = (size_t)(s + j - *delims);
	if (j >= len || s[j] != '}')
		return 0;
	return j + 1;
}

/* Scans a macro-string; *macro_end (when asked) tells whether it ends with
 * a macro-expand rather than a literal. */
static bool
macro_scan(const char *s, size_t len, bool explain, bool *macro_end)
{
	bool last = false;

	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c == '%') {
			if (i + 1 >= len)
				return false;
			char n = s[i + 1];
			if (n == '%' || n == '_' || n == '-') {
				i += 2;
				last = true;
				continue;
			}
			if (n != '{')
				return false;
			char l;
			unsigned d;
			bool r;
			const char *dl;
			size_t nd;
			size_t e = parse_macro(s, len, i, explain, &l, &d, &r, &dl, &nd);
			if (e == 0)
				return false;
			i = e;
			last = true;
			continue;
		}
		if (c == ' ' ? !explain : (c < 0x21 || c > 0x7e))
			return false;
		i++;
		last = false;
	}
	if (macro_end)
		*macro_end = last;
	return true;
}

bool
spf_macro_valid(const char *s, size_t len, bool explain)
{
	return macro_scan(s, len, explain, NULL);
}

static bool
toplabel_valid(const char *s, size_t len)
{
	bool alpha = false, hyphen = false;

	if (len == 0 || !ma_isalnum(s[0]) || !ma_isalnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (ma_isalpha(s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!ma_isdigit(s[i]))
			return false;
	}
	return alpha || hyphen;
}

bool
spf_domain_spec_valid(const char *s, size_t len)
{
	bool macro_end;

	if (len == 0 || !macro_scan(s, len, false, &macro_end))
		return false;
	/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
	if (macro_end)
		return true;
	if (s[len - 1] == '.')
		len--;
	const char *dot = len ? memrchr(s, '.', len) : NULL;
	if (dot == NULL)
		return false;
	return toplabel_valid(dot + 1, len - (size_t)(dot + 1 - s));
}

struct outbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
put_escaped(struct outbuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (ma_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			put(o, (const char *)&c, 1);
		else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			put(o, e, 3);
		}
	}
}

/* The dot-format of %{i}: dotted quad, or 32 dot-separated nibbles. */
static size_t
ip_dotted(const struct ma_ip *ip, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	if (ip->family == 4)
		return ma_ip_format(ip, buf, len);
	size_t n = 0;
	for (int i = 0; i < 16 && n + 4 < len; i++) {
		buf[n++] = hex[ip->addr[i] >> 4];
		buf[n++] = '.';
		buf[n++] = hex[ip->addr[i] & 15];
		buf[n++] = '.';
	}
	if (n)
		n--;
	buf[n] = '\0';
	return n;
}

/* The value of one macro letter into val (bounded). */
static size_t
letter_value(struct spf_eval *ev, char l, const char *domain, char *val, size_t vlen)
{
	switch (ma_lower(l)) {
	case 's':
		return ma_bprintf(val, vlen, "%.*s@%s", (int)ev->locallen, ev->local, ev->sender_domain);
	case 'l':
		return ma_bprintf(val, vlen, "%.*s", (int)ev->locallen, ev->local);
	case 'o':
		return ma_bprintf(val, vlen, "%s", ev->sender_domain);
	case 'd':
		return ma_bprintf(val, vlen, "%s", domain);
	case 'i':
		return ip_dotted(&ev->ip, val, vlen);
	case 'c':
		return ma_ip_format(&ev->ip, val, vlen);
	case 'v':
		return ma_bprintf(val, vlen, "%s", ev->ip.family == 4 ? "in-addr" : "ip6");
	case 'h':
		return ma_bprintf(val, vlen, "%s", ev->helo);
	case 'r':
		return ma_bprintf(val, vlen, "%s", ev->req->receiver ? ev->req->receiver : "unknown");
	case 't':
		return ma_bprintf(val, vlen, "%lld", (long long)ev->now);
	case 'p': {
		/* RFC 7208 7.3: a validated name that is the domain or below
		 * it if there is one, else any validated name, else "unknown". */
		spf_validated_names(ev);
		const char *best = NULL;
		size_t dl = strlen(domain);
		for (size_t i = 0; i < ev->nptr; i++) {
			const char *n = ev->ptr_names[i];
			size_t nl = strlen(n);
			if ((nl == dl && ma_strcaseeq(n, nl, domain, dl)) ||
			    (nl > dl && n[nl - dl - 1] == '.' && ma_strcaseeq(n + nl - dl, dl, domain, dl))) {
				best = n;
				break;
			}
		}
		if (best == NULL && ev->nptr)
			best = ev->ptr_names[0];
		return ma_bprintf(val, vlen, "%s", best ? best : "unknown");
	}
	}
	val[0] = '\0';
	return 0;
}

long
spf_macro_expand(struct spf_eval *ev, const char *s, size_t len, bool explain,
    const char *domain, char *out, size_t outlen)
{
	struct outbuf o = { out, 0, outlen, false };
	char val[1024];

	for (size_t i = 0; i < len && !o.overflow;) {
		if (s[i] != '%') {
			put(&o, s + i, 1);
			i++;
			continue;
		}
		char n = i + 1 < len ? s[i + 1] : '\0';
		if (n == '%' || n == '_' || n == '-') {
			put(&o, n == '%' ? "%" : n == '_' ? " " : "%20", n == '-' ? 3 : 1);
			i += 2;
			continue;
		}
		char l;
		unsigned digits;
		bool rev;
		const char *dl;
		size_t nd;
		size_t e = parse_macro(s, len, i, explain, &l, &digits, &rev, &dl, &nd);
		if (e == 0)
			return -1;	/* checked at parse time; defensive */
		i = e;
		size_t vl = letter_value(ev, l, domain, val, sizeof(val));
		if (vl >= sizeof(val) - 1)
			return -1;

		/* Split on the delimiters (default "."), reverse, keep the
		 * rightmost `digits` parts, join with ".". */
		const char *parts[256];
		size_t plen[256], np = 0, start = 0;
		for (size_t k = 0; k <= vl; k++) {
			bool d = k == vl;
			if (!d) {
				if (nd == 0)
					d = val[k] == '.';
				else
					d = memchr(dl, val[k], nd) != NULL;
			}
			if (!d)
				continue;
			if (np == 256)
				return -1;
			parts[np] = val + start;
			plen[np++] = k - start;
			start = k + 1;
		}
		if (rev)
			for (size_t a = 0, b = np - 1; a < b; a++, b--) {
				const char *tp = parts[a]; parts[a] = parts[b]; parts[b] = tp;
				size_t tl = plen[a]; plen[a] = plen[b]; plen[b] = tl;
			}
		size_t first = digits && digits < np ? np - digits : 0;
		bool upper = l >= 'A' && l <= 'Z';
		for (size_t k = first; k < np; k++) {
			if (k > first)
				put(&o, ".", 1);
			if (upper)
				put_escaped(&o, parts[k], plen[k]);
			else
				put(&o, parts[k], plen[k]);
		}
	}
	if (o.overflow)
		return -1;
	out[o.len] = '\0';
	return (long)o.len;
}

size_t
spf_name_truncate(char *name, size_t len)
{
	size_t off = 0;

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	while (len - off > 253) {
		const char *dot = memchr(name + off, '.', len - off);
		if (dot == NULL)
			break;
		off = (size_t)(dot - name) + 1;
	}
	if (off) {
		memmove(name, name + off, len - off + 1);
		len -= off;
	}
	return len;
}
