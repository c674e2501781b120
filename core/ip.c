#include "ip.h"
#include "util.h"

#include <arpa/inet.h>
#include <string.h>

bool
ma_ip4_parse_strict(unsigned char out[4], const char *s, size_t len)
{
	size_t i = 0;

	for (int oct = 0; oct < 4; oct++) {
		unsigned v = 0, nd = 0;

		if (oct > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && ma_isdigit(s[i])) {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (++nd > 3 || v > 255)
				return false;
			i++;
		}
		if (nd == 0 || (nd > 1 && s[i - nd] == '0'))
			return false;
		out[oct] = (unsigned char)v;
	}
	return i == len;
}

bool
ma_ip6_parse(unsigned char out[16], const char *s, size_t len)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1;
}

bool
ma_ip_parse(struct ma_ip *ip, const char *s, size_t len)
{
	static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	memset(ip, 0, sizeof(*ip));
	if (memchr(s, ':', len) == NULL) {
		ip->family = 4;
		return ma_ip4_parse_strict(ip->addr, s, len);
	}
	if (!ma_ip6_parse(ip->addr, s, len))
		return false;
	ip->family = 6;
	if (memcmp(ip->addr, mapped, 12) == 0) {
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
		ip->family = 4;
	}
	return true;
}

bool
ma_ip_match(const struct ma_ip *a, const unsigned char *b, int family, unsigned bits)
{
	unsigned max = family == 4 ? 32 : 128;

	if (a->family != family)
		return false;
	if (bits > max)
		bits = max;
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a->addr, b, full) != 0)
		return false;
	if (rest) {
		unsigned char m = (unsigned char)(0xff << (8 - rest));
		if ((a->addr[full] & m) != (b[full] & m))
			return false;
	}
	return true;
}

size_t
ma_ip_format(const struct ma_ip *ip, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, tmp, sizeof(tmp)) == NULL)
		tmp[0] = '\0';
	return ma_bprintf(buf, len, "%s", tmp);
}

size_t
ma_ip_reverse(const struct ma_ip *ip, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *a = ip->addr;

	if (ip->family == 4)
		return ma_bprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	char tmp[80];
	size_t n = 0;
	for (int i = 15; i >= 0; i--) {
		tmp[n++] = hex[a[i] & 0xf];
		tmp[n++] = '.';
		tmp[n++] = hex[a[i] >> 4];
		tmp[n++] = '.';
	}
	tmp[n] = '\0';
	return ma_bprintf(buf, len, "%sip6.arpa", tmp);
}
