/*
 * Verifies the DKIM signatures of one message with libopendkim (Debian's
 * libopendkim11), taking the keys from a text file (DKIM_QUERY_FILE: lines
 * "selector._domainkey.domain key-record"), so no DNS is used.
 *
 *   opendkim_verify --features        prints "ed25519 yes" or "ed25519 no", and
 *       "libopendkim X.Y.Z"
 *   opendkim_verify KEYFILE MESSAGE   prints one line per signature, in
 *       header order: "pass|fail d=D s=S a=ALG: detail", and exits 0 when
 *       every signature passed, 1 when one did not, 2 on a usage or I/O error.
 *
 * The message is given to the library as an MTA would: bare LF line ends
 * become CRLF, a last line without a line end gets one (SMTP DATA always
 * ends in CRLF; by RFC 6376 3.4.3 and 3.4.4 this does not change the
 * canonical body, but libopendkim 2.11's relaxed body canonicalization
 * reports "CRLF at end of body missing" without it), header fields one by
 * one (folding kept, no final CRLF), then the body.
 */
#include <opendkim/dkim.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *
read_crlf(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *in = NULL, *out;
	size_t n = 0, cap = 0, o = 0;
	int c;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *p = realloc(in, cap);
			if (p == NULL) {
				free(in);
				fclose(f);
				return NULL;
			}
			in = p;
		}
		size_t got = fread(in + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if ((out = malloc(2 * n + 2)) == NULL) {
		free(in);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		c = in[i];
		if (c == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = (unsigned char)c;
	}
	if (n > 0 && in[n - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	free(in);
	*len = o;
	return out;
}

static const char *
alg_name(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg;

	if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK)
		return "?";
	switch (alg) {
	case DKIM_SIGN_RSASHA1:
		return "rsa-sha1";
	case DKIM_SIGN_RSASHA256:
		return "rsa-sha256";
	case DKIM_SIGN_ED25519SHA256:
		return "ed25519-sha256";
	default:
		return "?";
	}
}

int
main(int argc, char **argv)
{
	DKIM_LIB *lib;
	DKIM_STAT st;
	DKIM *d;

	if ((lib = dkim_init(NULL, NULL)) == NULL) {
		fprintf(stderr, "opendkim_verify: dkim_init failed\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--features") == 0) {
		uint32_t v = dkim_libversion();
		printf("ed25519 %s\nlibopendkim %u.%u.%u\n", dkim_libfeature(lib, DKIM_FEATURE_ED25519) ? "yes" : "no",
		    v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
		dkim_close(lib);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: opendkim_verify --features | KEYFILE MESSAGE\n");
		dkim_close(lib);
		return 2;
	}

	int qm = DKIM_QUERY_FILE;
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm, sizeof(qm)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, argv[1], strlen(argv[1])) != DKIM_STAT_OK) {
		fprintf(stderr, "opendkim_verify: cannot select the key file\n");
		dkim_close(lib);
		return 2;
	}

	size_t len;
	unsigned char *msg = read_crlf(argv[2], &len);
	if (msg == NULL) {
		fprintf(stderr, "opendkim_verify: cannot read %s\n", argv[2]);
		dkim_close(lib);
		return 2;
	}

	d = dkim_verify(lib, (const unsigned char *)"interop", NULL, &st);
	if (d == NULL) {
		fprintf(stderr, "opendkim_verify: dkim_verify: %s\n", dkim_getresultstr(st));
		free(msg);
		dkim_close(lib);
		return 2;
	}

	/* Header fields: a field runs until a CRLF not followed by WSP. */
	size_t i = 0, body = len;
	int rc = 0;
	while (i < len) {
		if (i + 1 < len && msg[i] == '\r' && msg[i + 1] == '\n') {
			body = i + 2;	/* the empty line */
			break;
		}
		size_t s = i, e;
		for (;;) {
			unsigned char *nl = memchr(msg + i, '\n', len - i);
			if (nl == NULL) {
				e = i = len;
				break;
			}
			i = (size_t)(nl - msg) + 1;
			e = i - 2;
			if (i >= len || (msg[i] != ' ' && msg[i] != '\t'))
				break;
		}
		st = dkim_header(d, msg + s, e - s);
		if (st != DKIM_STAT_OK) {
			printf("error: dkim_header: %s (%s)\n", dkim_getresultstr(st), dkim_geterror(d));
			rc = 1;
		}
	}
	if (body > len)
		body = len;

	st = dkim_eoh(d);
	if (st == DKIM_STAT_OK) {
		for (size_t o = body; o < len;) {
			size_t n = len - o > 65536 ? 65536 : len - o;
			if ((st = dkim_body(d, msg + o, n)) != DKIM_STAT_OK) {
				printf("error: dkim_body: %s\n", dkim_getresultstr(st));
				rc = 1;
				break;
			}
			o += n;
		}
		_Bool testkey = 0;
		st = dkim_eom(d, &testkey);
	}

	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK || nsigs == 0) {
		printf("error: no signatures (%s: %s)\n", dkim_getresultstr(st),
		    dkim_geterror(d) ? dkim_geterror(d) : "");
		rc = 1;
	}
	for (int k = 0; k < nsigs; k++) {
		DKIM_SIGINFO *sig = sigs[k];
		unsigned flags = dkim_sig_getflags(sig);
		int bh = dkim_sig_getbh(sig);
		int err = dkim_sig_geterror(sig);
		bool ok = (flags & DKIM_SIGFLAG_PASSED) != 0 && bh == DKIM_SIGBH_MATCH;
		const unsigned char *dom = dkim_sig_getdomain(sig), *sel = dkim_sig_getselector(sig);
		printf("%s d=%s s=%s a=%s: %s%s\n", ok ? "pass" : "fail",
		    dom ? (const char *)dom : "?", sel ? (const char *)sel : "?", alg_name(sig),
		    err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN ? "" : dkim_sig_geterrorstr(err),
		    bh == DKIM_SIGBH_MISMATCH ? " body hash mismatch" :
		    (flags & DKIM_SIGFLAG_PROCESSED) == 0 ? " not processed" : "");
		if (!ok)
			rc = 1;
	}
	dkim_free(d);
	dkim_close(lib);
	free(msg);
	return rc;
}
