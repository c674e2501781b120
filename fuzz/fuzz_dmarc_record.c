/* DMARC records: the parser alone, then the record published at the
 * author's _dmarc name and evaluated (tree walk, policy choice, report
 * authorization) in both modes. */
#include "dmarc.h"
#include "fuzz_common.h"

static struct ma_psl *psl;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	psl = ma_psl_load(NULL, err, sizeof(err));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_dmarc_record rec;
	struct ma_dmarc_outcome out;

	if (ma_dmarc_record_parse((const char *)data, size, &rec) == 1) {
		FUZZ_REQUIRE(rec.nrua <= MA_DMARC_MAX_URIS && rec.nruf <= MA_DMARC_MAX_URIS);
		FUZZ_REQUIRE(rec.pct >= 0 && rec.pct <= 100);
		FUZZ_REQUIRE(rec.psd == 'y' || rec.psd == 'n' || rec.psd == 'u');
	}
	struct ma_fixture *fx = ma_fixture_new();
	FUZZ_REQUIRE(fx != NULL);
	fz_txt_bytes(fx, "_dmarc.example.com", data, size);
	fz_txt_bytes(fx, "_dmarc.sub.example.com", data, size / 2);
	fz_txt(fx, "_dmarc.com", "v=DMARC1; p=none; psd=y");
	fz_txt(fx, "example.com._report._dmarc.reports.example", "v=DMARC1");
	FUZZ_REQUIRE(ma_fixture_add_a(fx, "a.sub.example.com", "192.0.2.1"));
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	struct ma_dmarc_identity dk[2] = { { "example.com", true, -1 }, { "x.sub.example.com", true, 200 } };
	static const char *const authors[] = { "example.com", "a.sub.example.com", "ghost.sub.example.com" };
	for (int mode = 0; mode < 2; mode++)
		for (size_t i = 0; i < 3; i++) {
			struct ma_dmarc_request req = {
				.author_domain = authors[i],
				.spf = { "sub.example.com", true, -1 },
				.dkim = dk, .ndkim = (size_t)(size % 3),
				.rfc7489 = mode == 1 && psl != NULL, .psl = psl,
				.sample = (unsigned)(size % 100), .check_reports = true,
			};
			ma_dmarc_check(r, NULL, &req, &out);
			FUZZ_REQUIRE(out.reason[0] != '\0');
			/* A pass needs an aligned identifier and a record. */
			if (out.result == MA_DMARC_PASS)
				FUZZ_REQUIRE(out.have_record && (out.spf_aligned || out.dkim_aligned));
		}
	ma_resolver_free(r);
	return 0;
}
