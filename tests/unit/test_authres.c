/* Authentication-Results: what we write parses back, quoting is right,
 * and forged fields claiming our authserv-id are recognised. */
#include "authres.h"
#include "ut.h"

static bool
span_is(struct ma_ar_span s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void
t_build_and_parse(void)
{
	struct ma_ar a;
	struct ma_ar_parsed p;
	char err[128];

	ma_ar_init(&a, "mx.example.net");
	ma_ar_method(&a, "spf", "pass", NULL);
	ma_ar_prop(&a, "smtp", "mailfrom", "alice@example.org");
	ma_ar_method(&a, "dkim", "pass", NULL);
	ma_ar_prop(&a, "header", "d", "example.org");
	ma_ar_prop(&a, "header", "s", "sel");
	ma_ar_prop(&a, "header", "b", "AbC/+dE=");
	ma_ar_method(&a, "dmarc", "fail", "policy \"reject\" (from the domain)");
	ma_ar_prop(&a, "header", "from", "example.org");
	ma_ar_comment(&a, "p=reject (x)");
	char *h = ma_ar_finish(&a);
	CHECK(h != NULL);
	CHECK(strncmp(h, "Authentication-Results: mx.example.net;\r\n\tspf=pass smtp.mailfrom=alice@example.org;", 80) == 0);
	CHECK(strstr(h, "header.b=\"AbC/+dE=\"") != NULL);
	CHECK(strstr(h, "reason=\"policy \\\"reject\\\" (from the domain)\"") != NULL);
	CHECK(strstr(h, "(p=reject \\(x\\))") != NULL);
	for (const char *l = h; l; l = strstr(l + 1, "\r\n")) {
		const char *e = strstr(l + 1, "\r\n");
		CHECK((e ? (size_t)(e - l) : strlen(l)) < 100);
	}
	const char *v = h + strlen("Authentication-Results:");
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), 0);
	CHECK(span_is(p.authserv_id, "mx.example.net"));
	CHECK_INT(p.nresults, 3);
	CHECK(span_is(p.results[0].method, "spf") && span_is(p.results[0].result, "pass"));
	CHECK(span_is(p.results[0].props[0].value, "alice@example.org"));
	CHECK_INT(p.results[1].nprops, 3);
	CHECK(span_is(p.results[1].props[2].value, "AbC/+dE="));
	CHECK(span_is(p.results[2].result, "fail"));
	CHECK(p.results[2].reason.len > 0);
	free(h);
}

static void
t_parse_rfc_examples(void)
{
	struct ma_ar_parsed p;
	char err[128];
	const char *v;

	v = " example.com; none";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), 0);
	CHECK(p.none);
	v = " example.com 1; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), 0);
	CHECK_INT(p.version, 1);
	CHECK_INT(p.nresults, 2);
	v = " (comment) \"quoted.id\" ; dkim/1 = pass (good) header.i=@mail-router.example.net; dkim=fail reason=\"bad sig\" header.i=@newyork.example.com";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), 0);
	CHECK(span_is(p.authserv_id, "quoted.id"));
	CHECK(span_is(p.results[1].reason, "bad sig"));
	v = " example.com; spf";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), -1);
	v = " example.com; spf=pass (unterminated";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), -1);
	v = "";
	CHECK_INT(ma_authres_parse(v, strlen(v), &p, err, sizeof(err)), -1);
}

static void
t_claims(void)
{
	const char *v = " MX.Example.NET; dkim=pass header.d=bank.example";

	CHECK(ma_authres_claims(v, strlen(v), "mx.example.net"));
	CHECK(!ma_authres_claims(v, strlen(v), "mx.example.org"));
	v = " (forged) \"mx.example.net\"; spf=pass";
	CHECK(ma_authres_claims(v, strlen(v), "mx.example.net"));
	v = " ((unterminated mx.example.net; spf=pass";
	CHECK(!ma_authres_claims(v, strlen(v), "mx.example.net"));
}

int
main(void)
{
	RUN(t_build_and_parse);
	RUN(t_parse_rfc_examples);
	RUN(t_claims);
	return UT_END();
}
