/* The From field parser: every domain it reports must be a plain domain
 * name, and a message built around the field must not change that. */
#include "from.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_from f;

	memset(&f, 0, sizeof(f));
	int n = ma_from_parse((const char *)data, size, &f);
	FUZZ_REQUIRE(n >= -1);
	FUZZ_REQUIRE(f.ndomains <= MA_FROM_MAX);
	for (size_t i = 0; i < f.ndomains; i++) {
		size_t l = strlen(f.domains[i]);
		FUZZ_REQUIRE(l > 0 && l <= 253);
		for (size_t k = 0; k < l; k++)
			FUZZ_REQUIRE(!(f.domains[i][k] >= 'A' && f.domains[i][k] <= 'Z'));
	}

	/* The same bytes as the From field of a message. */
	char *buf = malloc(size + 16);
	FUZZ_REQUIRE(buf != NULL);
	memcpy(buf, "From:", 5);
	memcpy(buf + 5, data, size);
	memcpy(buf + 5 + size, "\r\n\r\nbody", 8);
	struct ma_msg *m = ma_msg_new(NULL);
	ma_msg_parse(m, buf, size + 13);
	struct ma_from g;
	enum ma_from_status st = ma_from_extract(m, &g);
	FUZZ_REQUIRE(g.reason[0] != '\0');
	if (st == MA_FROM_OK)
		FUZZ_REQUIRE(g.ndomains == 1);
	ma_msg_free(m);
	free(buf);
	return 0;
}
