/* The Public Suffix List for RFC 7489 mode, through libpsl: Debian ships the
 * list compiled (public_suffix_list.dafsa) with libpsl's loader, and libpsl
 * handles wildcards, exceptions and IDN spellings.  Both the ICANN and the
 * PRIVATE sections are used, as libpsl's registrable-domain rule does. */
#include "dmarc.h"
#include "util.h"

#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

struct ma_psl {
	psl_ctx_t *ctx;
};

struct ma_psl *
ma_psl_load(const char *path, char *err, size_t errlen)
{
	struct ma_psl *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		ma_bprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->ctx = path ? psl_load_file(path) : psl_latest(NULL);
	if (p->ctx == NULL) {
		ma_bprintf(err, errlen, "cannot load the Public Suffix List%s%s", path ? " from " : "",
		    path ? path : "");
		free(p);
		return NULL;
	}
	return p;
}

void
ma_psl_free(struct ma_psl *p)
{
	if (p) {
		psl_free(p->ctx);
		free(p);
	}
}

bool
ma_psl_org_domain(const struct ma_psl *p, const char *name, char *out, size_t outlen)
{
	char low[256];
	size_t i = 0;

	for (; name[i] && i + 1 < sizeof(low); i++)
		low[i] = ma_lower(name[i]);
	low[i] = '\0';
	if (i > 0 && low[i - 1] == '.')
		low[i - 1] = '\0';
	const char *rd = psl_registrable_domain(p->ctx, low);
	if (rd == NULL) {
		out[0] = '\0';
		return false;
	}
	ma_strlcpy(out, rd, outlen);
	return true;
}

/* Copies name lower-case without the dots at either end. */
static void
trimmed(const char *name, char *out, size_t outlen)
{
	size_t len = strlen(name), i = 0, o = 0;

	while (i < len && name[i] == '.')
		i++;
	while (len > i && name[len - 1] == '.')
		len--;
	for (; i < len && o + 1 < outlen; i++)
		out[o++] = ma_lower(name[i]);
	out[o] = '\0';
}

bool
ma_dmarc_aligned_psl(const struct ma_psl *p, const char *a, const char *b, bool strict)
{
	char x[256], y[256], ox[256], oy[256];

	trimmed(a, x, sizeof(x));
	trimmed(b, y, sizeof(y));
	if (x[0] == '\0' || y[0] == '\0')
		return false;
	if (strcmp(x, y) == 0)
		return true;
	if (strict || p == NULL)
		return false;
	if (!ma_psl_org_domain(p, x, ox, sizeof(ox)) || !ma_psl_org_domain(p, y, oy, sizeof(oy)))
		return false;
	return strcmp(ox, oy) == 0;
}
