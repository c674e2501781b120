/* DKIM-Signature tag parsing and the verifier around it: the input is the
 * value of a DKIM-Signature field on an otherwise fixed message, verified
 * against a zone holding good, revoked and broken keys, in both profiles. */
#include "dkim.h"
#include "fuzz_common.h"

#include <stdio.h>

static const char rsa_p[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static struct ma_resolver *
zone(void)
{
	struct ma_fixture *fx = ma_fixture_new();
	char rec[512];

	snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", rsa_p);
	fz_txt(fx, "s._domainkey.example.com", rec);
	fz_txt(fx, "ed._domainkey.example.com", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	fz_txt(fx, "revoked._domainkey.example.com", "v=DKIM1; p=");
	fz_txt(fx, "bad._domainkey.example.com", "v=DKIM1; k=rsa; p=!!!!");
	snprintf(rec, sizeof(rec), "v=DKIM1; t=y:s; h=sha1; s=email; p=%s", rsa_p);
	fz_txt(fx, "flags._domainkey.example.com", rec);
	FUZZ_REQUIRE(ma_fixture_set_timeout(fx, "slow._domainkey.example.com"));
	return ma_resolver_new_fixture(fx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "DKIM-Signature:";
	static const char rest[] = "\r\nFrom: Alice <alice@example.com>\r\nTo: bob@example.net\r\n"
	    "Subject: fuzz\r\n\r\nHello  \r\nworld\r\n\r\n";
	size_t len = sizeof(head) - 1 + size + sizeof(rest) - 1;
	char *msgbuf = malloc(len);
	struct ma_dkim_sig out[4];

	FUZZ_REQUIRE(msgbuf != NULL);
	memcpy(msgbuf, head, sizeof(head) - 1);
	memcpy(msgbuf + sizeof(head) - 1, data, size);
	memcpy(msgbuf + sizeof(head) - 1 + size, rest, sizeof(rest) - 1);

	struct ma_msg *m = ma_msg_new(NULL);
	FUZZ_REQUIRE(m != NULL);
	ma_msg_parse(m, msgbuf, len);
	struct ma_resolver *r = zone();
	struct ma_dkim_keycache *kc = ma_dkim_keycache_new(8);
	for (int legacy = 0; legacy < 2; legacy++) {
		struct ma_dkim_verify_opts o = { .legacy = legacy, .now = 1700000000, .keys = kc };
		size_t n = ma_dkim_verify(r, NULL, m, &o, out, 4);
		for (size_t i = 0; i < n; i++)
			FUZZ_REQUIRE(out[i].result != MA_DKIM_NONE && out[i].reason[0] != '\0');
	}
	ma_dkim_keycache_free(kc);
	ma_resolver_free(r);
	ma_msg_free(m);
	free(msgbuf);
	return 0;
}
