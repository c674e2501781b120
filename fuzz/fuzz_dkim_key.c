/* DKIM key records: the input is the TXT record at the selector a fixed,
 * well-formed signature points to, so the key parser, the key decoders
 * (RSA SubjectPublicKeyInfo and PKCS#1, Ed25519) and every key check run. */
#include "dkim.h"
#include "fuzz_common.h"

static const char msgtext[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=k;\r\n"
    "\tt=1700000000; h=from:to:subject; i=@sub.example.com;\r\n"
    "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    "\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgYmFzZTY0\r\n"
    "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.com; s=k;\r\n"
    "\th=from; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; b=AAAA\r\n"
    "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: k\r\n\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_fixture *fx = ma_fixture_new();
	struct ma_dkim_sig out[2];

	FUZZ_REQUIRE(fx != NULL);
	fz_txt_bytes(fx, "k._domainkey.example.com", data, size);
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	struct ma_msg *m = ma_msg_new(NULL);
	ma_msg_parse(m, msgtext, sizeof(msgtext) - 1);
	struct ma_dkim_keycache *kc = ma_dkim_keycache_new(4);
	for (int legacy = 0; legacy < 2; legacy++) {
		struct ma_dkim_verify_opts o = { .legacy = legacy, .now = 1700000000, .keys = kc };
		/* Twice: the second time through the key cache. */
		for (int pass = 0; pass < 2; pass++) {
			size_t n = ma_dkim_verify(r, NULL, m, &o, out, 2);
			FUZZ_REQUIRE(n == 2);
			/* The signatures are not genuine: nothing may pass. */
			for (size_t i = 0; i < n; i++)
				FUZZ_REQUIRE(out[i].result != MA_DKIM_PASS);
		}
	}
	ma_dkim_keycache_free(kc);
	ma_msg_free(m);
	ma_resolver_free(r);
	return 0;
}
