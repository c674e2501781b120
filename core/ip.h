/* IP addresses as SPF and policies see them: an IPv4-mapped IPv6 address is IPv4. */
#ifndef MA_IP_H
#define MA_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ma_ip {
	int family;			/* 4 or 6 */
	unsigned char addr[16];		/* 4 or 16 bytes used */
};

/* Parses a textual address (with length); "::ffff:1.2.3.4" yields family 4.
 * Strict: no brackets, no zone ids, no leading/trailing garbage. */
bool	 ma_ip_parse(struct ma_ip *, const char *s, size_t len);
/* Parses a dotted-quad exactly as RFC 7208 ip4-network (four decimal octets,
 * 0-255, no leading zeros beyond a single "0"). */
bool	 ma_ip4_parse_strict(unsigned char out[4], const char *s, size_t len);
bool	 ma_ip6_parse(unsigned char out[16], const char *s, size_t len);
/* True when the first `bits` bits of a and b agree (same family only). */
bool	 ma_ip_match(const struct ma_ip *a, const unsigned char *b, int family, unsigned bits);
/* Canonical text: dotted quad, or RFC 5952 compressed IPv6 in lower case. */
size_t	 ma_ip_format(const struct ma_ip *, char *buf, size_t len);
/* The reverse-lookup name: "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles. */
size_t	 ma_ip_reverse(const struct ma_ip *, char *buf, size_t len);

#endif
