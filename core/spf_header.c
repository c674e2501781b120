/* Received-SPF (RFC 7208 9.1): a comment a person reads and key=value
 * pairs a program reads, each value a dot-atom or a quoted-string. */
#include "spf_int.h"

#include <string.h>

struct hb {
	char *p;
	size_t len, cap, total;
};

static void
hb_put(struct hb *h, const char *s, size_t n)
{
	if (h->len + 1 < h->cap) {
		size_t c = n < h->cap - 1 - h->len ? n : h->cap - 1 - h->len;
		memcpy(h->p + h->len, s, c);
		h->len += c;
		h->p[h->len] = '\0';
	}
	h->total += n;
}

static void
hb_str(struct hb *h, const char *s)
{
	hb_put(h, s, strlen(s));
}

static bool
is_atext(unsigned char c)
{
	return ma_isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool
dot_atom(const char *s)
{
	bool prev_dot = true;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (is_atext((unsigned char)*s))
			prev_dot = false;
		else
			return false;
	}
	return !prev_dot;
}

/* key=value; with the value quoted when it is not a dot-atom, and bytes
 * that cannot appear in a header dropped. */
static void
hb_pair(struct hb *h, const char *key, const char *val, bool force_quote)
{
	hb_str(h, " ");
	hb_str(h, key);
	hb_str(h, "=");
	if (!force_quote && dot_atom(val))
		hb_str(h, val);
	else {
		hb_str(h, "\"");
		for (const char *s = val; *s; s++) {
			unsigned char c = (unsigned char)*s;
			if (c < 0x20 || c > 0x7e)
				continue;
			if (c == '"' || c == '\\')
				hb_put(h, "\\", 1);
			hb_put(h, s, 1);
		}
		hb_str(h, "\"");
	}
	hb_str(h, ";");
}

/* Comment text: parentheses and backslashes escaped, controls dropped. */
static void
hb_comment(struct hb *h, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e)
			continue;
		if (c == '(' || c == ')' || c == '\\')
			hb_put(h, "\\", 1);
		hb_put(h, s, 1);
	}
}

size_t
ma_spf_received(const struct ma_spf_request *req, const struct ma_spf_outcome *o, char *buf, size_t len)
{
	struct hb h = { buf, 0, len, 0 };
	struct ma_ip ip;
	char ipt[64] = "unknown";
	const char *receiver = req->receiver ? req->receiver : "unknown";
	const char *verb;

	if (len)
		buf[0] = '\0';
	if (req->ip && ma_ip_parse(&ip, req->ip, strlen(req->ip)))
		ma_ip_format(&ip, ipt, sizeof(ipt));
	switch (o->result) {
	case MA_SPF_PASS: verb = "designates %s as permitted sender"; break;
	case MA_SPF_FAIL: verb = "does not designate %s as permitted sender"; break;
	case MA_SPF_SOFTFAIL: verb = "does not designate %s as permitted sender"; break;
	case MA_SPF_NEUTRAL: verb = "neither permits nor denies %s"; break;
	case MA_SPF_NONE: verb = "does not designate permitted sender hosts"; break;
	default: verb = NULL; break;
	}
	hb_str(&h, "Received-SPF: ");
	hb_str(&h, ma_spf_result_name(o->result));
	hb_str(&h, " (");
	hb_comment(&h, receiver);
	hb_str(&h, ": ");
	if (verb) {
		char tmp[700], what[160];
		ma_bprintf(what, sizeof(what), verb, ipt);
		ma_bprintf(tmp, sizeof(tmp), "%s of %s %s", o->helo_identity ? "helo" : "domain",
		    o->helo_identity ? o->domain : o->sender, what);
		hb_comment(&h, tmp);
	} else
		hb_comment(&h, o->reason);
	hb_str(&h, ")");
	hb_pair(&h, "receiver", receiver, false);
	hb_pair(&h, "client-ip", ipt, false);
	if (!o->helo_identity || (req->mail_from && *req->mail_from))
		hb_pair(&h, "envelope-from", req->mail_from ? req->mail_from : "", true);
	else
		hb_pair(&h, "envelope-from", "", true);
	if (req->helo && *req->helo)
		hb_pair(&h, "helo", req->helo, false);
	hb_pair(&h, "identity", o->helo_identity ? "helo" : "mailfrom", false);
	if (o->mechanism[0])
		hb_pair(&h, "mechanism", o->mechanism, false);
	if (o->result == MA_SPF_PERMERROR || o->result == MA_SPF_TEMPERROR)
		hb_pair(&h, "problem", o->reason, true);
	/* Drop the final ";" so the field ends with a value. */
	if (h.len && buf[h.len - 1] == ';')
		buf[--h.len] = '\0';
	return h.total ? h.total - 1 : 0;
}
