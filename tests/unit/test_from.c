/* The From parser: the author domains DMARC works with, and the hostile
 * forms that must give a syntax error rather than a wrong domain. */
#include "from.h"
#include "ut.h"

static int
parse(const char *v, struct ma_from *f)
{
	memset(f, 0, sizeof(*f));
	return ma_from_parse(v, strlen(v), f);
}

static void
t_plain_forms(void)
{
	struct ma_from f;

	CHECK_INT(parse(" Alice <alice@Example.COM>", &f), 1);
	CHECK_STR(f.domains[0], "example.com");
	CHECK_INT(parse(" alice@example.com (Alice)", &f), 1);
	CHECK_STR(f.domains[0], "example.com");
	CHECK_INT(parse(" John (comment (nested) \\) more) Doe <j@d.example>", &f), 1);
	CHECK_STR(f.domains[0], "d.example");
	CHECK_INT(parse(" \"q\\\"x\"@c.example", &f), 1);
	CHECK_STR(f.domains[0], "c.example");
	CHECK_INT(parse(" =?utf-8?q?Bob?= <bob@ex.example>", &f), 1);
	CHECK_INT(parse(" <@route.example,@r2.example:u@dom.example>", &f), 1);
	CHECK_STR(f.domains[0], "dom.example");
	CHECK_INT(parse(" Folded\r\n <f@fold.example>", &f), 1);
	CHECK_STR(f.domains[0], "fold.example");
}

static void
t_lists_and_groups(void)
{
	struct ma_from f;

	CHECK_INT(parse(" \"Smith, J\" <j@a.example>, b@b.example", &f), 2);
	CHECK_INT(f.ndomains, 2);
	CHECK_INT(parse(" team: a@x.example, \"B\" <b@X.example>; , c@x.example", &f), 3);
	CHECK_INT(f.ndomains, 1);
	CHECK_INT(parse(" undisclosed-recipients:;", &f), 0);
	CHECK_INT(parse(" a@x.example,, ,b@x.example", &f), 2);
}

static void
t_hostile(void)
{
	struct ma_from f;

	/* An unquoted address in the display name is not a mailbox. */
	CHECK_INT(parse(" attacker@evil.example <user@example.com>", &f), -1);
	CHECK_INT(parse(" a@[192.0.2.1]", &f), -1);
	CHECK_INT(parse(" no-at-sign", &f), -1);
	CHECK_INT(parse(" \"unterminated <a@b.example>", &f), -1);
	CHECK_INT(parse(" (unterminated comment a@b.example", &f), -1);
	CHECK_INT(parse(" a@b.example>", &f), -1);
	CHECK_INT(parse(" <a@b.example", &f), -1);
	CHECK_INT(parse(" <a@b.example> <c@d.example>", &f), -1);
	CHECK_INT(parse(" group: a@b.example", &f), -1);
	CHECK_INT(parse(" a@b.example.", &f), -1);
	CHECK_INT(parse(" a\x01@b.example", &f), -1);
	CHECK_INT(parse("", &f), 0);
	char deep[200];
	memset(deep, '(', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	CHECK_INT(parse(deep, &f), -1);
	/* Many addresses: counted, domains bounded. */
	char many[4000] = "";
	for (int i = 0; i < 100; i++) {
		char one[40];
		snprintf(one, sizeof(one), "%sa@d%d.example", i ? "," : "", i);
		strcat(many, one);
	}
	CHECK_INT(parse(many, &f), 100);
	CHECK_INT(f.ndomains, MA_FROM_MAX);
}

static enum ma_from_status
extract(const char *text, struct ma_from *f)
{
	struct ma_msg *m = ma_msg_new(NULL);
	ma_msg_parse(m, text, strlen(text));
	enum ma_from_status s = ma_from_extract(m, f);
	ma_msg_free(m);
	return s;
}

static void
t_extract(void)
{
	struct ma_from f;

	CHECK_INT(extract("From: a@example.com\r\nTo: b@x.example\r\n\r\nbody", &f), MA_FROM_OK);
	CHECK_STR(f.domains[0], "example.com");
	CHECK_INT(extract("To: b@x.example\r\n\r\nbody", &f), MA_FROM_NONE);
	CHECK_INT(extract("From: a@example.com\r\nFrom: a@example.com\r\n\r\n", &f), MA_FROM_FIELDS);
	CHECK_INT(f.nfields, 2);
	CHECK_INT(extract("From: a@example.com, b@example.net\r\n\r\n", &f), MA_FROM_DOMAINS);
	CHECK_INT(extract("From: a@example.com, b@EXAMPLE.com\r\n\r\n", &f), MA_FROM_OK);
	CHECK_INT(f.naddrs, 2);
	CHECK_INT(extract("From: undisclosed:;\r\n\r\n", &f), MA_FROM_SYNTAX);
	CHECK_INT(extract("From: nonsense\r\n\r\n", &f), MA_FROM_SYNTAX);
	CHECK(strlen(f.reason) > 0);
	CHECK_STR(ma_from_status_name(MA_FROM_DOMAINS), "multiple-domains");
}

int
main(void)
{
	RUN(t_plain_forms);
	RUN(t_lists_and_groups);
	RUN(t_hostile);
	RUN(t_extract);
	return UT_END();
}
