/* The message splitter, from memory and from a file descriptor: both must
 * see the same header fields and the same body. */
#include "msg.h"
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

struct collect {
	unsigned char *p;
	size_t len, cap;
};

static int
collect(void *ctx, const unsigned char *p, size_t n)
{
	struct collect *c = ctx;

	if (c->len + n > c->cap) {
		size_t nc = (c->len + n) * 2;
		unsigned char *np = realloc(c->p, nc);
		FUZZ_REQUIRE(np != NULL);
		c->p = np;
		c->cap = nc;
	}
	memcpy(c->p + c->len, p, n);
	c->len += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ma_msg_limits lim = { 64, 4096 };
	struct ma_msg *a = ma_msg_new(&lim), *b = ma_msg_new(&lim);
	struct collect ca = { 0 }, cb = { 0 };

	FUZZ_REQUIRE(a && b);
	ma_msg_parse(a, (const char *)data, size);
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	FUZZ_REQUIRE(fd >= 0);
	FUZZ_REQUIRE(write(fd, data, size) == (ssize_t)size);
	FUZZ_REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	ma_msg_parse_fd(b, fd);
	close(fd);

	/* Within the limits both readers agree field by field. */
	if (ma_msg_error(a) == NULL && ma_msg_error(b) == NULL) {
		FUZZ_REQUIRE(ma_msg_count(a) == ma_msg_count(b));
		for (size_t i = 0; i < ma_msg_count(a); i++) {
			const struct ma_header *x = ma_msg_header(a, i), *y = ma_msg_header(b, i);
			FUZZ_REQUIRE(x->len == y->len && memcmp(x->raw, y->raw, x->len) == 0);
			FUZZ_REQUIRE(x->namelen == y->namelen && x->valoff <= x->len);
		}
		ma_msg_body(a, collect, &ca);
		ma_msg_body(b, collect, &cb);
		FUZZ_REQUIRE(ca.len == cb.len && (ca.len == 0 || memcmp(ca.p, cb.p, ca.len) == 0));
	}
	for (size_t i = 0; i < ma_msg_count(a); i++) {
		const struct ma_header *h = ma_msg_header(a, i);
		(void)ma_header_is(h, "from");
	}
	free(ca.p);
	free(cb.p);
	ma_msg_free(a);
	ma_msg_free(b);
	return 0;
}
