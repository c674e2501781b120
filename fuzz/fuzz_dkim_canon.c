/* DKIM canonicalization.  The body is fed whole and again in chunks whose
 * sizes come from the input: both must give the same digests (the streaming
 * canonicalizers must not depend on where a chunk ends).  Header fields
 * taken from the input are canonicalized both ways too. */
#include "dkim_int.h"
#include "fuzz_common.h"

static void
digests(struct dkim_body *b, const uint8_t *p, size_t n, const uint8_t *cuts, size_t ncuts,
    int64_t limit)
{
	dkim_body_init(b);
	FUZZ_REQUIRE(dkim_body_want(b, CANON_SIMPLE, EVP_sha256(), -1) == 0);
	FUZZ_REQUIRE(dkim_body_want(b, CANON_RELAXED, EVP_sha256(), -1) == 1);
	FUZZ_REQUIRE(dkim_body_want(b, CANON_SIMPLE, EVP_sha256(), limit) >= 0);
	FUZZ_REQUIRE(dkim_body_want(b, CANON_RELAXED, EVP_sha1(), limit) >= 0);
	size_t off = 0, k = 0;
	while (off < n) {
		size_t c = ncuts ? (size_t)cuts[k++ % ncuts] % 17 + 1 : n;
		if (c > n - off)
			c = n - off;
		dkim_body_feed(b, p + off, c);
		off += c;
	}
	FUZZ_REQUIRE(dkim_body_finish(b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_body whole, parts;

	if (size < 4)
		return 0;
	int64_t limit = data[0] | data[1] << 8;
	size_t ncuts = data[2] % 8;
	if (size < 3 + ncuts)
		return 0;
	const uint8_t *cuts = data + 3, *p = data + 3 + ncuts;
	size_t n = size - 3 - ncuts;

	digests(&whole, p, n, NULL, 0, limit);
	digests(&parts, p, n, cuts, ncuts, limit);
	FUZZ_REQUIRE(whole.n == parts.n);
	for (size_t i = 0; i < whole.n; i++) {
		FUZZ_REQUIRE(whole.bh[i].dlen == parts.bh[i].dlen);
		FUZZ_REQUIRE(memcmp(whole.bh[i].digest, parts.bh[i].digest, whole.bh[i].dlen) == 0);
	}
	FUZZ_REQUIRE(dkim_body_length(&whole, CANON_SIMPLE) == dkim_body_length(&parts, CANON_SIMPLE));
	FUZZ_REQUIRE(dkim_body_length(&whole, CANON_RELAXED) == dkim_body_length(&parts, CANON_RELAXED));
	dkim_body_free(&whole);
	dkim_body_free(&parts);

	/* The same bytes as one header field, with and without b= removal. */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FUZZ_REQUIRE(ctx != NULL);
	for (int canon = 0; canon < 2; canon++)
		for (int strip = 0; strip < 2; strip++) {
			FUZZ_REQUIRE(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
			dkim_hash_header(ctx, canon, (const char *)p, n, strip);
		}
	EVP_MD_CTX_free(ctx);
	return 0;
}
