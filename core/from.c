/* RFC 5322 3.4 address-list parsing, bounded: a tokenizer (CFWS, atoms,
 * quoted strings, domain literals, specials) and a small recursive descent
 * that keeps only what DMARC needs, each mailbox's domain. */
#include "from.h"
#include "util.h"

#include <string.h>

enum tk { T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct tok {
	enum tk type;
	const char *p;
	size_t len;
};

#define MAX_TOKENS	1024

static const char *const status_names[] = { "ok", "none", "multiple-from-fields",
	"multiple-domains", "syntax" };

const char *
ma_from_status_name(enum ma_from_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "syntax";
}

static bool
is_atext(unsigned char c)
{
	/* RFC 5322 atext, plus UTF-8 (RFC 6532). */
	return ma_isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Returns the token count, or -1 on a lexical error. */
static int
tokenize(const char *s, size_t len, struct tok *t)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c == '(') {
			int depth = 0;
			do {
				char d = s[i++];
				if (d == '\\' && i < len)
					i++;
				else if (d == '(') {
					if (++depth > 32)
						return -1;
				} else if (d == ')')
					depth--;
			} while (depth > 0 && i < len);
			if (depth)
				return -1;
			continue;
		}
		if (n == MAX_TOKENS)
			return -1;
		if (c == '"' || c == '[') {
			char close = c == '"' ? '"' : ']';
			size_t st = ++i;
			while (i < len && s[i] != close) {
				if (s[i] == '\\')
					i++;
				i++;
			}
			if (i >= len)
				return -1;
			t[n++] = (struct tok){ c == '"' ? T_QSTR : T_DLIT, s + st, i - st };
			i++;
			continue;
		}
		if (is_atext(c)) {
			size_t st = i;
			while (i < len && is_atext((unsigned char)s[i]))
				i++;
			t[n++] = (struct tok){ T_ATOM, s + st, i - st };
			continue;
		}
		if (strchr("<>@,:;.", c) && c) {
			t[n++] = (struct tok){ T_SPECIAL, s + i, 1 };
			i++;
			continue;
		}
		return -1;	/* a control character, ")" or "\" out of place */
	}
	return n;
}

static bool
special(const struct tok *t, char c)
{
	return t->type == T_SPECIAL && t->p[0] == c;
}

struct parser {
	const struct tok *t;
	int n, i;
	struct ma_from *out;
	int mailboxes;
};

static void
add_domain(struct parser *p, const char *d, size_t len)
{
	struct ma_from *o = p->out;
	char norm[256];

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return;
	for (size_t i = 0; i < len; i++)
		norm[i] = ma_lower(d[i]);
	norm[len] = '\0';
	for (size_t i = 0; i < o->ndomains; i++)
		if (strcmp(o->domains[i], norm) == 0)
			return;
	if (o->ndomains < MA_FROM_MAX)
		memcpy(o->domains[o->ndomains++], norm, len + 1);
}

/* addr-spec from token a up to (not including) b: local-part "@" domain.
 * Only dot-atom domains count; a domain literal has no DNS name. */
static bool
addr_spec(struct parser *p, int a, int b)
{
	int at = -1;
	char dom[256];
	size_t dl = 0;

	for (int i = a; i < b; i++)
		if (special(&p->t[i], '@'))
			at = i;
	if (at <= a || at + 1 >= b)
		return false;
	/* local-part: words separated by dots */
	for (int i = a; i < at; i++) {
		bool word = p->t[i].type == T_ATOM || p->t[i].type == T_QSTR;
		if ((i - a) % 2 == 0 ? !word : !special(&p->t[i], '.'))
			return false;
	}
	if ((at - a) % 2 == 0)
		return false;
	/* domain: atoms separated by dots (obs-domain allows CFWS between) */
	for (int i = at + 1; i < b; i++) {
		const struct tok *t = &p->t[i];
		bool want_atom = (i - at - 1) % 2 == 0;
		if (want_atom ? t->type != T_ATOM : !special(t, '.'))
			return false;
		if (dl + t->len >= sizeof(dom))
			return false;
		memcpy(dom + dl, t->p, t->len);
		dl += t->len;
	}
	if ((b - at - 1) % 2 == 0)
		return false;	/* ends in a dot */
	add_domain(p, dom, dl);
	p->mailboxes++;
	return true;
}

/* A mailbox between tokens a and b: name-addr or addr-spec. */
static bool
mailbox(struct parser *p, int a, int b)
{
	int lt = -1, gt = -1;

	for (int i = a; i < b; i++) {
		if (special(&p->t[i], '<')) {
			if (lt >= 0)
				return false;
			lt = i;
		} else if (special(&p->t[i], '>')) {
			if (gt >= 0 || lt < 0)
				return false;
			gt = i;
		}
	}
	if (lt < 0)
		return gt < 0 && addr_spec(p, a, b);
	if (gt != b - 1)
		return false;
	/* display-name: a phrase (words; obs-phrase allows dots) */
	for (int i = a; i < lt; i++)
		if (!(p->t[i].type == T_ATOM || p->t[i].type == T_QSTR || special(&p->t[i], '.')))
			return false;
	/* obs-route: "@dom,@dom:" before the addr-spec */
	int st = lt + 1;
	for (int i = lt + 1; i < gt; i++)
		if (special(&p->t[i], ':'))
			st = i + 1;
	return addr_spec(p, st, gt);
}

/* A mailbox-list between a and b, split at commas outside <>; empty
 * elements are allowed (obs-mbox-list). */
static bool
mailboxes(struct parser *p, int a, int b)
{
	int st = a, angle = 0;

	for (int i = a; i <= b; i++) {
		if (i < b) {
			if (special(&p->t[i], '<'))
				angle++;
			else if (special(&p->t[i], '>'))
				angle--;
			if (!special(&p->t[i], ',') || angle > 0)
				continue;
		}
		if (i > st && !mailbox(p, st, i))
			return false;
		st = i + 1;
	}
	return true;
}

int
ma_from_parse(const char *value, size_t len, struct ma_from *out)
{
	struct tok t[MAX_TOKENS];
	int n = tokenize(value, len, t);

	if (n < 0)
		return -1;
	struct parser p = { t, n, 0, out, 0 };
	/* address-list: split at commas outside <> and outside a group;
	 * a group is display-name ":" [mailbox-list] ";". */
	int st = 0, angle = 0, colon = -1;
	for (int i = 0; i <= n; i++) {
		if (i < n) {
			if (special(&t[i], '<'))
				angle++;
			else if (special(&t[i], '>'))
				angle--;
			else if (special(&t[i], ':') && angle == 0 && colon < 0)
				colon = i;
			if (colon >= 0) {
				if (!special(&t[i], ';'))
					continue;
				if (!mailboxes(&p, colon + 1, i))
					return -1;
				colon = -1;
				st = i + 1;
				continue;
			}
			if (!special(&t[i], ',') || angle > 0)
				continue;
		}
		if (colon >= 0)
			return -1;	/* a group without its ";" */
		if (i > st && !mailbox(&p, st, i))
			return -1;
		st = i + 1;
	}
	return p.mailboxes;
}

enum ma_from_status
ma_from_extract(const struct ma_msg *m, struct ma_from *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ma_msg_count(m); i++) {
		const struct ma_header *h = ma_msg_header(m, i);
		if (!ma_header_is(h, "From"))
			continue;
		out->nfields++;
		int k = ma_from_parse(h->raw + h->valoff, h->len - h->valoff, out);
		if (k < 0) {
			out->status = MA_FROM_SYNTAX;
			ma_bprintf(out->reason, sizeof(out->reason), "From field %zu cannot be parsed", out->nfields);
			return out->status;
		}
		out->naddrs += (size_t)k;
	}
	if (out->nfields == 0) {
		out->status = MA_FROM_NONE;
		ma_bprintf(out->reason, sizeof(out->reason), "no From field");
	} else if (out->nfields > 1) {
		out->status = MA_FROM_FIELDS;
		ma_bprintf(out->reason, sizeof(out->reason), "%zu From fields", out->nfields);
	} else if (out->ndomains == 0) {
		out->status = MA_FROM_SYNTAX;
		ma_bprintf(out->reason, sizeof(out->reason), "no address with a domain in From");
	} else if (out->ndomains > 1) {
		out->status = MA_FROM_DOMAINS;
		ma_bprintf(out->reason, sizeof(out->reason), "From addresses in %zu domains", out->ndomains);
	} else {
		out->status = MA_FROM_OK;
		ma_bprintf(out->reason, sizeof(out->reason), "author domain %s", out->domains[0]);
	}
	return out->status;
}
