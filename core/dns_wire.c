/* Reading a DNS response message (RFC 1035 4.1) into an answer: the
 * records of the asked type in the answer section (CNAME links and RRSIGs
 * skipped), the rcode as the status, the AD bit, and the negative TTL from
 * an authority SOA (RFC 2308 5).  The message comes from the network: every
 * length is checked against the message and every name against its rdata. */
#include "dns.h"
#include "util.h"

#include <ares.h>
#include <stdlib.h>
#include <string.h>

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skips (or expands into out) the name at p; returns its wire length or -1. */
static long
name_at(const unsigned char *p, const unsigned char *abuf, size_t alen, char *out, size_t outlen)
{
	char *s = NULL;
	long enclen = 0;

	if (p >= abuf + alen || ares_expand_name(p, abuf, (int)alen, &s, &enclen) != ARES_SUCCESS)
		return -1;
	if (out) {
		size_t n = strlen(s);
		if (n >= outlen) {
			ares_free_string(s);
			return -1;
		}
		memcpy(out, s, n + 1);
	}
	ares_free_string(s);
	return enclen;
}

struct ma_answer *
ma_dns_wire_answer(const unsigned char *abuf, size_t alen, uint16_t qtype)
{
	const unsigned char *p = abuf, *end = abuf + alen;
	char name[MA_DNS_NAME_MAX + 256];
	uint32_t neg_ttl = 0;

	/* c-ares takes an int length; a DNS message is at most 65535 octets. */
	if (alen < 12 || alen > 65535)
		return ma_answer_status(MA_DNS_ERROR);
	unsigned rcode = abuf[3] & 0x0f;
	bool ad = (abuf[3] & 0x20) != 0;
	unsigned qd = get16(abuf + 4), an = get16(abuf + 6), ns = get16(abuf + 8);
	enum ma_dns_status empty;

	switch (rcode) {
	case 0: empty = MA_DNS_NODATA; break;
	case 3: empty = MA_DNS_NXDOMAIN; break;
	case 2: return ma_answer_status(MA_DNS_SERVFAIL);
	default: return ma_answer_status(MA_DNS_ERROR);
	}
	p += 12;
	for (unsigned i = 0; i < qd; i++) {
		long l = name_at(p, abuf, alen, NULL, 0);
		if (l < 0 || (size_t)(end - p) < (size_t)l + 4)
			return ma_answer_status(MA_DNS_ERROR);
		p += l + 4;
	}
	struct ma_answer_builder *b = ma_ab_new(qtype);
	for (unsigned i = 0; i < an + ns; i++) {
		long l = name_at(p, abuf, alen, NULL, 0);
		if (l < 0 || (size_t)(end - p) < (size_t)l + 10)
			goto bad;
		p += l;
		uint16_t type = get16(p), cls = get16(p + 2);
		uint32_t ttl = get32(p + 4);
		uint16_t rdlen = get16(p + 8);
		const unsigned char *rd = p + 10;
		if ((size_t)(end - rd) < rdlen)
			goto bad;
		p = rd + rdlen;
		if (cls != 1)
			continue;
		if (ttl > 0x7fffffff)
			ttl = 0;
		if (i >= an) {
			/* Authority: the SOA gives the negative TTL (RFC 2308 5). */
			if (type == MA_RR_SOA) {
				long l1 = name_at(rd, abuf, alen, NULL, 0);
				long l2 = l1 < 0 || l1 > rdlen ? -1 : name_at(rd + l1, abuf, alen, NULL, 0);
				if (l2 >= 0 && l1 + l2 + 20 <= rdlen) {
					uint32_t min = get32(rd + l1 + l2 + 16);
					neg_ttl = min < ttl ? min : ttl;
				}
			}
			continue;
		}
		if (type != qtype)
			continue;	/* CNAME chain links, RRSIGs */
		switch (type) {
		case MA_RR_A:
			if (rdlen != 4)
				goto bad;
			ma_ab_add_a(b, rd, ttl);
			break;
		case MA_RR_AAAA:
			if (rdlen != 16)
				goto bad;
			ma_ab_add_aaaa(b, rd, ttl);
			break;
		case MA_RR_MX: {
			/* The name must lie within the rdata (compression may point
			 * anywhere before). */
			long nl = rdlen < 3 ? -1 : name_at(rd + 2, abuf, alen, name, sizeof(name));
			if (nl < 0 || nl != rdlen - 2)
				goto bad;
			ma_ab_add_mx(b, get16(rd), name, ttl);
			break;
		}
		case MA_RR_PTR:
		case MA_RR_CNAME:
		case MA_RR_NS:
			if (rdlen == 0 || name_at(rd, abuf, alen, name, sizeof(name)) != rdlen)
				goto bad;
			ma_ab_add_name(b, type, name, ttl);
			break;
		case MA_RR_TXT:
		case MA_RR_SPF: {
			/* rdlen < 65536 and each string costs at least one octet. */
			struct ma_txt_string *st = malloc(((size_t)rdlen + 1) * sizeof(*st));
			size_t n = 0, off = 0;
			if (st == NULL)
				goto bad;
			while (off < rdlen) {
				size_t sl = rd[off];
				if (off + 1 + sl > rdlen) {
					free(st);
					goto bad;
				}
				st[n].data = rd + off + 1;
				st[n].len = sl;
				n++;
				off += 1 + sl;
			}
			ma_ab_add_txt(b, type, st, n, ttl);
			free(st);
			break;
		}
		default:
			break;
		}
	}
	struct ma_answer *a = ma_ab_finish(b, empty, ad, neg_ttl);
	return a ? a : ma_answer_status(MA_DNS_ERROR);
bad:
	ma_ab_free(b);
	return ma_answer_status(MA_DNS_ERROR);
}
