/* TLS-RPT: the _smtp._tls parser, the report parser (JSON or gzip; the
 * input is also gzip'd by us so the inflater sees valid streams), and the
 * report-email walker with the input as the body of a multipart message. */
#include "tlsrpt.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_tlsrpt_record rec;
	struct ma_tlsrpt_summary *s = malloc(sizeof(*s));
	char err[200], mt[128];

	FUZZ_REQUIRE(s != NULL);
	if (ma_tlsrpt_record_parse((const char *)data, size, &rec, err, sizeof(err)) == 0)
		FUZZ_REQUIRE(rec.nrua >= 1 && rec.nrua <= MA_TLSRPT_MAX_RUA);
	if (ma_tlsrpt_parse(data, size, s, err, sizeof(err)) == 0)
		FUZZ_REQUIRE(s->npolicies <= MA_TLSRPT_MAX_POLICIES);
	unsigned char *gz;
	size_t gzlen;
	if (ma_tlsrpt_gzip(data, size, &gz, &gzlen) == 0) {
		struct ma_tlsrpt_summary *t = malloc(sizeof(*t));
		FUZZ_REQUIRE(t != NULL);
		int a = ma_tlsrpt_parse(data, size, s, err, sizeof(err));
		int b = ma_tlsrpt_parse(gz, gzlen, t, err, sizeof(err));
		/* JSON input parses the same way gzip'd (gzip'd gzip aside). */
		if (!(size >= 2 && data[0] == 0x1f && data[1] == 0x8b))
			FUZZ_REQUIRE(a == b && (a != 0 || s->npolicies == t->npolicies));
		free(t);
		free(gz);
	}

	static const char head[] = "Content-Type: multipart/report; boundary=\"b1\"\r\n\r\n"
	    "--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
	    "--b1\r\nContent-Type: application/tlsrpt+json\r\n\r\n";
	static const char tail[] = "\r\n--b1--\r\n";
	size_t len = sizeof(head) - 1 + size + sizeof(tail) - 1;
	char *msgbuf = malloc(len);
	FUZZ_REQUIRE(msgbuf != NULL);
	memcpy(msgbuf, head, sizeof(head) - 1);
	memcpy(msgbuf + sizeof(head) - 1, data, size);
	memcpy(msgbuf + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	struct ma_msg *m = ma_msg_new(NULL);
	ma_msg_parse(m, msgbuf, len);
	(void)ma_tlsrpt_parse_email(m, s, mt, sizeof(mt), err, sizeof(err));
	ma_msg_free(m);
	/* The input as a whole message. */
	m = ma_msg_new(NULL);
	ma_msg_parse(m, (const char *)data, size);
	(void)ma_tlsrpt_parse_email(m, s, mt, sizeof(mt), err, sizeof(err));
	ma_msg_free(m);
	free(msgbuf);
	free(s);
	return 0;
}
