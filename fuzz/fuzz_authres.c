/* Authentication-Results: parsing hostile fields, and the builder's output
 * parsing back whatever text it was given. */
#include "authres.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_ar_parsed p;
	char err[128];

	if (ma_authres_parse((const char *)data, size, &p, err, sizeof(err)) == 0) {
		FUZZ_REQUIRE(p.nresults <= MA_AR_MAX_RESULTS);
		for (size_t i = 0; i < p.nresults; i++) {
			const struct ma_ar_result *r = &p.results[i];
			FUZZ_REQUIRE(r->method.p >= (const char *)data &&
			    r->method.p + r->method.len <= (const char *)data + size);
			FUZZ_REQUIRE(r->nprops <= MA_AR_MAX_PROPS);
		}
	}
	(void)ma_authres_claims((const char *)data, size, "mx.example.net");

	/* Whatever the input holds, as a reason, a property value and a
	 * comment: the field we write must parse. */
	char *s = malloc(size + 1);
	FUZZ_REQUIRE(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	struct ma_ar a;
	ma_ar_init(&a, "mx.example.net");
	ma_ar_method(&a, "dkim", "fail", s);
	ma_ar_prop(&a, "header", "d", s);
	ma_ar_prop(&a, "header", "b", s);
	ma_ar_comment(&a, s);
	ma_ar_method(&a, "dmarc", "pass", NULL);
	char *h = ma_ar_finish(&a);
	FUZZ_REQUIRE(h != NULL);
	const char *v = h + strlen("Authentication-Results:");
	FUZZ_REQUIRE(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)) == 0);
	FUZZ_REQUIRE(p.nresults == 2);
	FUZZ_REQUIRE(ma_authres_claims(v, strlen(v), "MX.example.net"));
	free(h);
	free(s);
	return 0;
}
