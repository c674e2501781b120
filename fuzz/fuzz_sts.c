/* MTA-STS: the _mta-sts TXT parser, the policy parser, MX matching and
 * the content-type test, on the same bytes; and discovery with the input
 * as the TXT record (no fetch happens: the host has no address). */
#include "mtasts.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[33], err[128];
	struct ma_sts_policy p;
	const char *s = (const char *)data;

	if (ma_sts_record_parse(s, size, id, err, sizeof(err)) == 0) {
		size_t l = strlen(id);
		FUZZ_REQUIRE(l >= 1 && l <= 32);
		FUZZ_REQUIRE(ma_sts_record_is_sts(s, size));
	}
	if (ma_sts_policy_parse(s, size, &p, err, sizeof(err)) == 0) {
		FUZZ_REQUIRE(p.max_age <= MA_STS_MAX_AGE && p.nmx <= MA_STS_MAX_MX);
		FUZZ_REQUIRE(p.mode == MA_STS_MODE_NONE || p.nmx > 0);
		const char *mx[3] = { "mail.example.com", "a.b.example.net", "" };
		struct ma_sts_delivery d;
		ma_sts_delivery(&p, mx, 3, &d);
		FUZZ_REQUIRE(d.nallowed <= 3);
		for (size_t i = 0; i < p.nmx; i++)
			(void)ma_sts_mx_match(p.mx[i], "x.example.com");
	}
	char *z = malloc(size + 1);
	FUZZ_REQUIRE(z != NULL);
	memcpy(z, data, size);
	z[size] = '\0';
	(void)ma_sts_content_type_ok(z);
	(void)ma_sts_mx_match(z, "mail.example.com");
	(void)ma_sts_mx_match("*.example.com", z);
	free(z);

	struct ma_fixture *fx = ma_fixture_new();
	FUZZ_REQUIRE(fx != NULL);
	fz_txt_bytes(fx, "_mta-sts.example.com", data, size);
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	struct ma_sts_outcome *o = malloc(sizeof(*o));
	FUZZ_REQUIRE(o != NULL);
	struct ma_sts_discover_opts opts = { .now = 1700000000 };
	ma_sts_discover(r, NULL, "example.com", &opts, o);
	FUZZ_REQUIRE(o->reason[0] != '\0');
	FUZZ_REQUIRE(o->status != MA_STS_VALID);	/* no policy can be fetched here */
	free(o);
	ma_resolver_free(r);
	return 0;
}
