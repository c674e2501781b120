/*
 * fuzz_dns_wire: DNS response messages as a server (or a spoofer) sends
 * them, read by ma_dns_wire_answer() for each record type the checks ask
 * for.  Every answer is walked byte by byte (ASan checks the packed
 * records); an answer with records has status OK, an error has none, and a
 * message shorter than its header is an error.
 */
#include "dns.h"
#include "fuzz_common.h"

static const uint16_t types[] = {
	MA_RR_A, MA_RR_AAAA, MA_RR_TXT, MA_RR_SPF, MA_RR_MX, MA_RR_PTR, MA_RR_NS, MA_RR_CNAME,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct ma_answer *a = ma_dns_wire_answer(data, size, types[i]);
		FUZZ_REQUIRE(a != NULL);
		fz_sink += fz_walk_answer(a);
		if (a->nrr > 0)
			FUZZ_REQUIRE(a->status == MA_DNS_OK);
		for (size_t k = 0; k < a->nrr; k++)
			FUZZ_REQUIRE(a->rr[k].type == types[i]);
		if (size < 12)
			FUZZ_REQUIRE(a->status == MA_DNS_ERROR);
		ma_answer_unref(a);
	}
	return 0;
}
