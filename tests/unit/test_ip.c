/* IP parsing, formatting, matching and reverse names (core/ip.h). */
#include "ip.h"
#include "ut.h"

static bool
parse(struct ma_ip *ip, const char *s)
{
	return ma_ip_parse(ip, s, strlen(s));
}

static void
t_ipv4(void)
{
	struct ma_ip ip;

	REQUIRE(parse(&ip, "192.0.2.1"));
	CHECK_INT(ip.family, 4);
	CHECK_MEM(ip.addr, 4, "\xc0\x00\x02\x01", 4);
	REQUIRE(parse(&ip, "0.0.0.0"));
	CHECK_MEM(ip.addr, 4, "\0\0\0\0", 4);
	REQUIRE(parse(&ip, "255.255.255.255"));
	CHECK_MEM(ip.addr, 4, "\xff\xff\xff\xff", 4);
	REQUIRE(parse(&ip, "10.0.100.1"));
	CHECK_MEM(ip.addr, 4, "\x0a\x00\x64\x01", 4);
}

static void
t_ipv4_strict(void)
{
	static const char *const bad[] = {
		"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1000.1.1.1",
		"01.2.3.4", "1.2.3.04", "1.02.3.4", "00.1.2.3", "1.2.3.4 ", " 1.2.3.4",
		"1..2.3", "1.2.3.", ".1.2.3", "+1.2.3.4", "-1.2.3.4", "0x1.2.3.4",
		"1.2.3.4/24", "1.2.3.a", "1,2,3,4", "１.2.3.4",
	};
	struct ma_ip ip;
	unsigned char out[4];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&ip, bad[i]))
			printf("    accepted \"%s\"\n", bad[i]);
		CHECK(!parse(&ip, bad[i]));
		CHECK(!ma_ip4_parse_strict(out, bad[i], strlen(bad[i])));
	}
	/* The length bounds the input: no NUL terminator needed ... */
	CHECK(ma_ip4_parse_strict(out, "1.2.3.45", 7));
	CHECK_MEM(out, 4, "\x01\x02\x03\x04", 4);
	/* ... and an embedded NUL is garbage. */
	CHECK(!ma_ip4_parse_strict(out, "1.2.3.4\0", 8));
	CHECK(!ma_ip_parse(&ip, "1.2.3.4\0", 8));
	CHECK(ma_ip4_parse_strict(out, "0.10.100.200", 12));
	CHECK_MEM(out, 4, "\x00\x0a\x64\xc8", 4);
}

static void
t_ipv6(void)
{
	struct ma_ip ip;

	REQUIRE(parse(&ip, "2001:db8::1"));
	CHECK_INT(ip.family, 6);
	CHECK_MEM(ip.addr, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	REQUIRE(parse(&ip, "::1"));
	CHECK_INT(ip.family, 6);
	REQUIRE(parse(&ip, "::"));
	CHECK_INT(ip.family, 6);
	REQUIRE(parse(&ip, "2001:DB8:0:0:0:0:0:FFFF"));
	CHECK_INT(ip.family, 6);
	CHECK_INT(ip.addr[15], 0xff);
	/* The NAT64 well-known prefix is not IPv4-mapped. */
	REQUIRE(parse(&ip, "64:ff9b::192.0.2.1"));
	CHECK_INT(ip.family, 6);
	/* IPv4-compatible (deprecated) is not mapped either. */
	REQUIRE(parse(&ip, "::192.0.2.1"));
	CHECK_INT(ip.family, 6);

	static const char *const bad[] = {
		"[::1]", "fe80::1%eth0", "2001:db8::1/64", "2001:db8:::1", "1:2:3:4:5:6:7:8:9",
		"2001:db8::g", ":", "::1 ", " ::1", "::ffff:1.2.3.256",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&ip, bad[i]))
			printf("    accepted \"%s\"\n", bad[i]);
		CHECK(!parse(&ip, bad[i]));
	}
	CHECK(!ma_ip_parse(&ip, "::1\0", 4));
}

static void
t_ipv4_mapped(void)
{
	struct ma_ip ip;
	char buf[64];

	REQUIRE(parse(&ip, "::ffff:192.0.2.1"));
	CHECK_INT(ip.family, 4);
	CHECK_MEM(ip.addr, 16, "\xc0\x00\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	ma_ip_format(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.1");
	REQUIRE(parse(&ip, "::FFFF:c000:0201"));	/* hex form, upper case */
	CHECK_INT(ip.family, 4);
	CHECK_MEM(ip.addr, 4, "\xc0\x00\x02\x01", 4);
	REQUIRE(parse(&ip, "0:0:0:0:0:ffff:10.1.2.3"));
	CHECK_INT(ip.family, 4);
	CHECK_MEM(ip.addr, 4, "\x0a\x01\x02\x03", 4);
	/* Matching happens as IPv4. */
	static const unsigned char net[4] = { 192, 0, 2, 0 };
	REQUIRE(parse(&ip, "::ffff:192.0.2.77"));
	CHECK(ma_ip_match(&ip, net, 4, 24));
	CHECK(!ma_ip_match(&ip, net, 6, 24));
	ma_ip_reverse(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "77.2.0.192.in-addr.arpa");
}

static void
t_format(void)
{
	struct ma_ip ip;
	char buf[64];

	REQUIRE(parse(&ip, "2001:DB8:0:0:0:0:0:1"));
	CHECK_INT(ma_ip_format(&ip, buf, sizeof(buf)), 11);
	CHECK_STR(buf, "2001:db8::1");
	REQUIRE(parse(&ip, "2001:db8:0:0:1:0:0:1"));
	ma_ip_format(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::1:0:0:1");
	REQUIRE(parse(&ip, "10.20.30.40"));
	CHECK_INT(ma_ip_format(&ip, buf, sizeof(buf)), 11);
	CHECK_STR(buf, "10.20.30.40");
	/* A short buffer truncates and stays terminated. */
	char small[6];
	memset(small, 'x', sizeof(small));
	ma_ip_format(&ip, small, sizeof(small));
	CHECK_STR(small, "10.20");
}

static void
t_reverse(void)
{
	struct ma_ip ip;
	char buf[128];

	REQUIRE(parse(&ip, "192.0.2.1"));
	CHECK_INT(ma_ip_reverse(&ip, buf, sizeof(buf)), strlen("1.2.0.192.in-addr.arpa"));
	CHECK_STR(buf, "1.2.0.192.in-addr.arpa");
	REQUIRE(parse(&ip, "10.0.0.255"));
	ma_ip_reverse(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "255.0.0.10.in-addr.arpa");

	REQUIRE(parse(&ip, "2001:db8::1"));
	size_t n = ma_ip_reverse(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	CHECK_INT(n, 72);
	REQUIRE(parse(&ip, "2001:DB8:ABCD:12::FE"));
	ma_ip_reverse(&ip, buf, sizeof(buf));
	CHECK_STR(buf, "e.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa");

	/* Truncation into a short buffer is still a C string. */
	char small[10];
	REQUIRE(parse(&ip, "192.0.2.1"));
	ma_ip_reverse(&ip, small, sizeof(small));
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	CHECK(strncmp(small, "1.2.0.192", strlen(small)) == 0);
}

static void
t_match(void)
{
	struct ma_ip ip;
	static const unsigned char n24[4] = { 192, 0, 2, 0 }, n25[4] = { 192, 0, 2, 128 };
	unsigned char n6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	REQUIRE(parse(&ip, "192.0.2.1"));
	CHECK(ma_ip_match(&ip, n24, 4, 24));
	CHECK(ma_ip_match(&ip, n24, 4, 25));
	CHECK(!ma_ip_match(&ip, n25, 4, 25));
	CHECK(ma_ip_match(&ip, n25, 4, 24));
	CHECK(ma_ip_match(&ip, n25, 4, 0));
	CHECK(!ma_ip_match(&ip, n24, 4, 32));
	CHECK(!ma_ip_match(&ip, n24, 4, 99));	/* clamped to 32 */
	REQUIRE(parse(&ip, "192.0.2.0"));
	CHECK(ma_ip_match(&ip, n24, 4, 99));
	REQUIRE(parse(&ip, "2001:db8:ffff::1"));
	CHECK(ma_ip_match(&ip, n6, 6, 32));
	CHECK(!ma_ip_match(&ip, n6, 6, 33));
	CHECK(!ma_ip_match(&ip, n6, 4, 0));	/* families differ */
}

int
main(void)
{
	RUN(t_ipv4);
	RUN(t_ipv4_strict);
	RUN(t_ipv6);
	RUN(t_ipv4_mapped);
	RUN(t_format);
	RUN(t_reverse);
	RUN(t_match);
	return UT_END();
}
