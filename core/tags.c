#include "tags.h"
#include "util.h"

#include <string.h>

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* FWS: WSP, or CRLF / LF followed by WSP. */
static size_t
skip_fws(const char *s, size_t len, size_t i)
{
	for (;;) {
		if (i < len && is_wsp(s[i]))
			i++;
		else if (i + 2 < len && s[i] == '\r' && s[i + 1] == '\n' && is_wsp(s[i + 2]))
			i += 3;
		else if (i + 1 < len && s[i] == '\n' && is_wsp(s[i + 1]))
			i += 2;
		else
			return i;
	}
}

int
ma_tags_parse(const char *s, size_t len, struct ma_tag *tags, size_t max, char *err, size_t errlen)
{
	size_t i = 0;
	int n = 0;

	for (;;) {
		i = skip_fws(s, len, i);
		if (i >= len)
			return n;
		/* tag-name = ALPHA *ALNUMPUNC */
		size_t ns = i;
		if (!ma_isalpha(s[i])) {
			ma_bprintf(err, errlen, "bad tag name at offset %zu", i);
			return -1;
		}
		while (i < len && (ma_isalnum(s[i]) || s[i] == '_'))
			i++;
		size_t ne = i;
		i = skip_fws(s, len, i);
		if (i >= len || s[i] != '=') {
			ma_bprintf(err, errlen, "tag '%.*s' without '='", (int)(ne - ns > 32 ? 32 : ne - ns), s + ns);
			return -1;
		}
		i = skip_fws(s, len, i + 1);
		size_t vs = i, ve = i;
		while (i < len && s[i] != ';') {
			unsigned char c = (unsigned char)s[i];
			if (c >= 0x21 && c <= 0x7e) {
				i++;
				ve = i;
				continue;
			}
			size_t j = skip_fws(s, len, i);
			if (j == i) {
				ma_bprintf(err, errlen, "bad character 0x%02x in tag '%.*s'", c,
				    (int)(ne - ns > 32 ? 32 : ne - ns), s + ns);
				return -1;
			}
			i = j;
		}
		if ((size_t)n == max) {
			ma_bprintf(err, errlen, "more than %zu tags", max);
			return -1;
		}
		for (int k = 0; k < n; k++)
			if (tags[k].namelen == ne - ns && memcmp(tags[k].name, s + ns, ne - ns) == 0) {
				ma_bprintf(err, errlen, "duplicate tag '%.*s'", (int)(ne - ns > 32 ? 32 : ne - ns), s + ns);
				return -1;
			}
		tags[n].name = s + ns;
		tags[n].namelen = ne - ns;
		tags[n].val = s + vs;
		tags[n].vallen = ve - vs;
		n++;
		if (i >= len)
			return n;
		i++;	/* ';' */
	}
}

const struct ma_tag *
ma_tags_get(const struct ma_tag *t, int n, const char *name)
{
	size_t l = strlen(name);

	for (int i = 0; i < n; i++)
		if (t[i].namelen == l && memcmp(t[i].name, name, l) == 0)
			return &t[i];
	return NULL;
}

bool
ma_tags_list_has(const char *s, size_t len, const char *item)
{
	size_t il = strlen(item), i = 0;

	while (i <= len) {
		size_t j = i;
		while (j < len && s[j] != ':')
			j++;
		size_t a = i, b = j;
		while (a < b && (unsigned char)s[a] <= ' ')
			a++;
		while (b > a && (unsigned char)s[b - 1] <= ' ')
			b--;
		if (ma_strcaseeq(s + a, b - a, item, il))
			return true;
		i = j + 1;
	}
	return false;
}
