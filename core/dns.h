/* DNS answers as the rest of core/ sees them: immutable, reference-counted,
 * one allocation each, shared between the cache and every reader. */
#ifndef MA_DNS_H
#define MA_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ma_rrtype {
	MA_RR_A = 1,
	MA_RR_NS = 2,
	MA_RR_CNAME = 5,
	MA_RR_SOA = 6,
	MA_RR_PTR = 12,
	MA_RR_MX = 15,
	MA_RR_TXT = 16,
	MA_RR_AAAA = 28,
	MA_RR_SPF = 99,
};

/* What a lookup came to.  Only MA_DNS_OK carries records. */
enum ma_dns_status {
	MA_DNS_OK,		/* NOERROR with at least one record of the type */
	MA_DNS_NODATA,		/* NOERROR, the name exists, no record of the type */
	MA_DNS_NXDOMAIN,	/* the name does not exist */
	MA_DNS_SERVFAIL,	/* the server failed (or a CNAME loop) */
	MA_DNS_TIMEOUT,		/* no answer within the timeout and retries */
	MA_DNS_ERROR,		/* refused, malformed answer, network error */
	MA_DNS_LIMIT,		/* not sent: query budget or deadline exhausted */
};

#define MA_DNS_NAME_MAX	254	/* presentation form without the root dot, plus NUL */

struct ma_txt_string {
	const unsigned char *data;	/* exact bytes, NUL bytes included */
	size_t len;
};

struct ma_rr {
	uint16_t type;
	uint32_t ttl;
	union {
		unsigned char a[4];
		unsigned char aaaa[16];
		struct { uint16_t pref; const char *host; } mx;
		const char *name;	/* PTR, CNAME, NS target */
		struct {
			size_t nstr;
			const struct ma_txt_string *str;
			size_t total;	/* sum of lengths */
		} txt;
	} u;
};

struct ma_answer {
	int refs;		/* < 0: static, never freed */
	enum ma_dns_status status;
	uint16_t qtype;
	bool ad;		/* the AD bit of the response */
	uint32_t ttl;		/* for the cache: rrset TTL or negative TTL */
	size_t nrr;
	const struct ma_rr *rr;
	/* Data derived from the records (a parsed SPF record, say), made once
	 * and kept as long as the answer: see ma_answer_memo. */
	void *memo;
	void (*memo_free)(void *);
};

const char	*ma_dns_status_name(enum ma_dns_status);
const char	*ma_rrtype_name(uint16_t);
/* Type from its mnemonic ("TXT"); 0 when unknown. */
uint16_t	 ma_rrtype_from_name(const char *, size_t);

struct ma_answer	*ma_answer_ref(struct ma_answer *);
void			 ma_answer_unref(struct ma_answer *);
/* The memo of a (non-static) answer, or NULL.  A memo starts with an int
 * saying what it is, so that two users of one answer never mix them up. */
void	*ma_answer_memo(const struct ma_answer *);
/* Offers a memo; returns the memo now attached (ours, or one another
 * thread attached first, in which case ours is freed with free_fn).
 * Static answers take none: free_fn(memo) and NULL are returned. */
void	*ma_answer_memo_set(struct ma_answer *, void *memo, void (*free_fn)(void *));

/* A shared, static answer carrying only a status (no records). */
struct ma_answer	*ma_answer_status(enum ma_dns_status);
/* The answer for qtype in a DNS response message as received (dns_wire.c);
 * a malformed message is MA_DNS_ERROR. */
struct ma_answer	*ma_dns_wire_answer(const unsigned char *msg, size_t len, uint16_t qtype);

/* Joins the strings of a TXT record into buf (no separator); returns the
 * full length, which may exceed len (then buf holds a prefix). */
size_t	 ma_txt_join(const struct ma_rr *, unsigned char *buf, size_t len);

/*
 * Builder: records are collected, then packed into one allocation.
 */
struct ma_answer_builder;
struct ma_answer_builder *ma_ab_new(uint16_t qtype);
void	 ma_ab_add_a(struct ma_answer_builder *, const unsigned char a[4], uint32_t ttl);
void	 ma_ab_add_aaaa(struct ma_answer_builder *, const unsigned char a[16], uint32_t ttl);
void	 ma_ab_add_name(struct ma_answer_builder *, uint16_t type, const char *name, uint32_t ttl);
void	 ma_ab_add_mx(struct ma_answer_builder *, uint16_t pref, const char *host, uint32_t ttl);
/* A TXT (or SPF) record: nstr strings given as pointer/length pairs. */
void	 ma_ab_add_txt(struct ma_answer_builder *, uint16_t type,
		    const struct ma_txt_string *str, size_t nstr, uint32_t ttl);
/* Finishes: status OK when records were added, else `empty` (NODATA or
 * NXDOMAIN).  Frees the builder.  Returns NULL only on allocation failure. */
struct ma_answer *ma_ab_finish(struct ma_answer_builder *, enum ma_dns_status empty,
		    bool ad, uint32_t neg_ttl);
void	 ma_ab_free(struct ma_answer_builder *);

/* Name syntax helpers (presentation form). */
/* Lower-cases and strips one trailing dot into out; false when the name is
 * not usable as a DNS query name (empty label, label > 63, total > 253). */
bool	 ma_dns_name_normalize(const char *in, size_t len, char out[MA_DNS_NAME_MAX]);

#endif
