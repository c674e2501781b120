/*
 * ut.h: a very small test framework for mailauth's C tests.
 *
 *   static void t_something(void) { CHECK(x == 1); CHECK_INT(a, b); ... }
 *   int main(void) { RUN(t_something); return UT_END(); }
 *
 * A test case passes when none of its checks failed.  UT_END() prints the
 * last line, "RESULT: N passed, M failed" (cases, not checks), and yields
 * the exit status (non-zero when M > 0).  Everything goes to stdout so that
 * the failure messages and the RESULT line keep their order in logs.
 */
#ifndef MA_UT_H
#define MA_UT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ut_passed, ut_failed, ut_case_failed;
static const char *ut_case = "?";

#define UT_FAIL_(...) do {						\
	ut_case_failed = 1;						\
	printf("    FAIL %s:%d [%s]: ", __FILE__, __LINE__, ut_case);	\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	fflush(stdout);							\
} while (0)

/* Soft checks: record a failure and go on. */
#define CHECK(cond) do {						\
	if (!(cond))							\
		UT_FAIL_("%s", #cond);					\
} while (0)

#define CHECK_INT(got, want) do {					\
	long long ut_g_ = (long long)(got), ut_w_ = (long long)(want);	\
	if (ut_g_ != ut_w_)						\
		UT_FAIL_("%s == %lld, expected %s == %lld",		\
		    #got, ut_g_, #want, ut_w_);				\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *ut_g_ = (got), *ut_w_ = (want);			\
	if (ut_g_ == NULL || ut_w_ == NULL || strcmp(ut_g_, ut_w_) != 0)\
		UT_FAIL_("%s == \"%s\", expected \"%s\"", #got,		\
		    ut_g_ ? ut_g_ : "(null)", ut_w_ ? ut_w_ : "(null)");\
} while (0)

#define CHECK_MEM(got, glen, want, wlen) do {				\
	size_t ut_gl_ = (glen), ut_wl_ = (wlen);			\
	if (ut_gl_ != ut_wl_ ||						\
	    (ut_gl_ && memcmp((got), (want), ut_gl_) != 0))		\
		UT_FAIL_("%s (%zu bytes) differs from %s (%zu bytes)",	\
		    #got, ut_gl_, #want, ut_wl_);			\
} while (0)

/* Hard check: a failure ends the test case (use when going on would
 * dereference NULL or index out of bounds). */
#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		UT_FAIL_("required: %s", #cond);			\
		return;							\
	}								\
} while (0)

#define RUN(fn) do {							\
	ut_case = #fn;							\
	ut_case_failed = 0;						\
	fn();								\
	if (ut_case_failed)						\
		ut_failed++;						\
	else								\
		ut_passed++;						\
	printf("%s - %s\n", ut_case_failed ? "not ok" : "ok", #fn);	\
	fflush(stdout);							\
} while (0)

#define UT_END() (printf("RESULT: %d passed, %d failed\n",		\
    ut_passed, ut_failed), fflush(stdout), ut_failed ? 1 : 0)

#endif
