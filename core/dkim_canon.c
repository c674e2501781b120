/* DKIM canonicalization (RFC 6376 3.4), streaming: the body is fed in
 * chunks and never held whole; empty lines at the end are counted, not
 * stored. */
#include "dkim_int.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char dkim_default_headers[] =
    "from:from:reply-to:subject:date:to:cc:message-id:in-reply-to:references:"
    "mime-version:content-type:content-transfer-encoding:list-id:list-unsubscribe:"
    "list-unsubscribe-post";

bool
dkim_parse_canon(const char *s, size_t len, int *hc, int *bc)
{
	const char *slash = memchr(s, '/', len);
	size_t hl = slash ? (size_t)(slash - s) : len;

	*hc = *bc = CANON_SIMPLE;
	if (ma_strcaseeq(s, hl, "relaxed", 7))
		*hc = CANON_RELAXED;
	else if (!ma_strcaseeq(s, hl, "simple", 6))
		return false;
	if (slash == NULL)
		return true;
	size_t bl = len - hl - 1;
	if (ma_strcaseeq(slash + 1, bl, "relaxed", 7))
		*bc = CANON_RELAXED;
	else if (!ma_strcaseeq(slash + 1, bl, "simple", 6))
		return false;
	return true;
}

void
dkim_body_init(struct dkim_body *b)
{
	memset(b, 0, sizeof(*b));
}

int
dkim_body_want(struct dkim_body *b, int canon, const EVP_MD *md, int64_t limit)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->bh[i].canon == canon && b->bh[i].md == md && b->bh[i].limit == limit)
			return (int)i;
	if (b->n == DKIM_MAX_BH)
		return -1;
	struct dkim_bh *h = &b->bh[b->n];
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
		return -1;
	}
	h->canon = canon;
	h->md = md;
	h->limit = limit;
	h->hashed = 0;
	b->need[canon] = true;
	return (int)b->n++;
}

void
dkim_body_free(struct dkim_body *b)
{
	for (size_t i = 0; i < b->n; i++)
		EVP_MD_CTX_free(b->bh[i].ctx);
	b->n = 0;
}

/* Canonical output of one canonicalization goes to every hash using it. */
static void
out(struct dkim_body *b, int canon, const unsigned char *p, size_t n)
{
	b->st[canon].out += n;
	for (size_t i = 0; i < b->n; i++) {
		struct dkim_bh *h = &b->bh[i];
		size_t take = n;
		if (h->canon != canon)
			continue;
		if (h->limit >= 0) {
			uint64_t room = (uint64_t)h->limit > h->hashed ? (uint64_t)h->limit - h->hashed : 0;
			if (take > room)
				take = (size_t)room;
		}
		if (take) {
			EVP_DigestUpdate(h->ctx, p, take);
			h->hashed += take;
		}
	}
}

static const unsigned char crlf[2] = { '\r', '\n' };

static void
flush_pending(struct dkim_body *b, int canon)
{
	struct dkim_canon_state *s = &b->st[canon];

	for (; s->pending; s->pending--)
		out(b, canon, crlf, 2);
}

/* ---- simple: lines pass unchanged, trailing empty lines go ---- */

static void
simple_content(struct dkim_body *b, const unsigned char *p, size_t n)
{
	struct dkim_canon_state *s = &b->st[CANON_SIMPLE];

	if (!s->mid) {
		flush_pending(b, CANON_SIMPLE);
		s->mid = true;
	}
	out(b, CANON_SIMPLE, p, n);
}

static void
simple_eol(struct dkim_body *b)
{
	struct dkim_canon_state *s = &b->st[CANON_SIMPLE];

	if (s->mid) {
		out(b, CANON_SIMPLE, crlf, 2);
		s->mid = false;
	} else
		s->pending++;
}

/* Passes whole runs of lines to the hashes at once: only empty lines (which
 * may be trailing) are held back, so a chunk costs one update, not two per
 * line. */
static void
simple_feed(struct dkim_body *b, const unsigned char *p, size_t n)
{
	struct dkim_canon_state *s = &b->st[CANON_SIMPLE];
	size_t i = 0, run;	/* p[run..i) is output not yet passed on */

	if (s->cr && n) {
		s->cr = false;
		if (p[0] == '\n') {
			simple_eol(b);
			i = 1;
		} else
			simple_content(b, (const unsigned char *)"\r", 1);
	}
	run = i;
	while (i < n) {
		const unsigned char *nl = memchr(p + i, '\n', n - i);
		if (nl == NULL) {
			size_t end = n;
			if (p[n - 1] == '\r') {
				s->cr = true;
				end--;
			}
			if (end > i && !s->mid) {
				flush_pending(b, CANON_SIMPLE);	/* run == i here */
				s->mid = true;
			}
			i = end;
			break;
		}
		size_t j = (size_t)(nl - p);
		if (j > i && p[j - 1] == '\r') {
			if (j - 1 == i && !s->mid) {
				/* An empty line: held back, it may be trailing. */
				if (i > run)
					out(b, CANON_SIMPLE, p + run, i - run);
				s->pending++;
				run = j + 1;
			} else {
				if (!s->mid)
					flush_pending(b, CANON_SIMPLE);	/* run == i here */
				s->mid = false;
			}
		} else {
			/* A bare LF is content; the line goes on. */
			if (!s->mid)
				flush_pending(b, CANON_SIMPLE);
			s->mid = true;
		}
		i = j + 1;
	}
	if (i > run)
		out(b, CANON_SIMPLE, p + run, i - run);
}

static void
simple_finish(struct dkim_body *b)
{
	struct dkim_canon_state *s = &b->st[CANON_SIMPLE];

	if (s->cr) {
		s->cr = false;
		simple_content(b, (const unsigned char *)"\r", 1);
	}
	if (s->mid)
		simple_eol(b);
	if (s->out == 0)
		out(b, CANON_SIMPLE, crlf, 2);	/* an empty body is one CRLF */
}

/* ---- relaxed: whitespace runs become one SP, none at line ends ---- */

static void
rflush(struct dkim_body *b)
{
	if (b->buflen) {
		out(b, CANON_RELAXED, b->buf, b->buflen);
		b->buflen = 0;
	}
}

static void
rput(struct dkim_body *b, const unsigned char *p, size_t n)
{
	while (n) {
		size_t room = sizeof(b->buf) - b->buflen;
		size_t c = n < room ? n : room;
		memcpy(b->buf + b->buflen, p, c);
		b->buflen += c;
		p += c;
		n -= c;
		if (b->buflen == sizeof(b->buf))
			rflush(b);
	}
}

static void
relaxed_content(struct dkim_body *b, const unsigned char *p, size_t n)
{
	struct dkim_canon_state *s = &b->st[CANON_RELAXED];

	if (!s->mid) {
		for (; s->pending; s->pending--)
			rput(b, crlf, 2);
		s->mid = true;
	}
	if (s->wsp) {
		rput(b, (const unsigned char *)" ", 1);
		s->wsp = false;
	}
	if (n >= 512) {
		/* A long unchanged run goes to the hashes without a copy. */
		rflush(b);
		out(b, CANON_RELAXED, p, n);
	} else
		rput(b, p, n);
}

static void
relaxed_eol(struct dkim_body *b)
{
	struct dkim_canon_state *s = &b->st[CANON_RELAXED];

	s->wsp = false;
	if (s->mid) {
		rput(b, crlf, 2);
		s->mid = false;
	} else
		s->pending++;
}

/* Bytes that end a run of plain content. */
static const unsigned char special[256] = {
	['\t'] = 1, [' '] = 1, ['\r'] = 1, ['\n'] = 1,
};

#if defined(__SSE2__)
static inline uint64_t
eq48(__m128i a, __m128i b, __m128i c, char ch)
{
	__m128i k = _mm_set1_epi8(ch);

	return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, k)) |
	    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, k)) << 16 |
	    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, k)) << 32;
}
#endif

/* From content at p[i], the end of the longest run that relaxed
 * canonicalization leaves unchanged: content bytes, a single SP followed
 * by content, and a CRLF followed by a line that starts with content.
 * The run ends with content. */
static size_t
unchanged_run(const unsigned char *p, size_t i, size_t n)
{
	size_t j = i + 1;

	for (;;) {
#if defined(__SSE2__)
		/* 32 bytes at a time (16 more read ahead) while none of them
		 * needs a change.  A CRLF is never split between two blocks,
		 * so p[j - 1] is never a CR here. */
		while (j + 48 <= n) {
			__m128i a = _mm_loadu_si128((const __m128i *)(p + j));
			__m128i b = _mm_loadu_si128((const __m128i *)(p + j + 16));
			__m128i c = _mm_loadu_si128((const __m128i *)(p + j + 32));
			uint64_t sp = eq48(a, b, c, ' '), tab = eq48(a, b, c, '\t');
			uint64_t cr = eq48(a, b, c, '\r'), lf = eq48(a, b, c, '\n');
			uint64_t sx = sp | tab | cr | lf;
			uint64_t bad = tab | (sp & (sx >> 1)) | (cr & ~(lf >> 1)) | (cr & (sx >> 2)) |
			    (lf & ~(cr << 1)) | (cr & 0x80000000u);
			if (bad & 0xFFFFFFFFu)
				break;
			j += 32;
		}
#endif
		while (j < n && !special[p[j]])
			j++;
		if (j + 2 >= n)
			return j;
		if (p[j] == ' ' && !special[p[j + 1]])
			j += 2;
		else if (p[j] == '\r' && p[j + 1] == '\n' && !special[p[j + 2]])
			j += 3;
		else
			return j;
	}
}

static void
relaxed_feed(struct dkim_body *b, const unsigned char *p, size_t n)
{
	struct dkim_canon_state *s = &b->st[CANON_RELAXED];
	size_t i = 0;

	if (s->cr && n) {
		s->cr = false;
		if (p[0] == '\n') {
			relaxed_eol(b);
			i = 1;
		} else
			relaxed_content(b, (const unsigned char *)"\r", 1);
	}
	while (i < n) {
		unsigned char c = p[i];
		if (c == ' ' || c == '\t') {
			s->wsp = true;
			i++;
		} else if (c == '\r') {
			if (i + 1 == n) {
				s->cr = true;
				i++;
			} else if (p[i + 1] == '\n') {
				relaxed_eol(b);
				i += 2;
			} else {
				relaxed_content(b, p + i, 1);
				i++;
			}
		} else {
			size_t j = unchanged_run(p, i, n);
			relaxed_content(b, p + i, j - i);
			i = j;
		}
	}
}

static void
relaxed_finish(struct dkim_body *b)
{
	struct dkim_canon_state *s = &b->st[CANON_RELAXED];

	if (s->cr) {
		s->cr = false;
		relaxed_content(b, (const unsigned char *)"\r", 1);
	}
	if (s->mid)
		relaxed_eol(b);
	rflush(b);
}

int
dkim_body_feed(void *ctx, const unsigned char *p, size_t n)
{
	struct dkim_body *b = ctx;

	if (n == 0)
		return 0;
	if (b->need[CANON_SIMPLE])
		simple_feed(b, p, n);
	if (b->need[CANON_RELAXED])
		relaxed_feed(b, p, n);
	return 0;
}

int
dkim_body_finish(struct dkim_body *b)
{
	if (b->need[CANON_SIMPLE])
		simple_finish(b);
	if (b->need[CANON_RELAXED])
		relaxed_finish(b);
	for (size_t i = 0; i < b->n; i++)
		if (EVP_DigestFinal_ex(b->bh[i].ctx, b->bh[i].digest, &b->bh[i].dlen) != 1)
			return -1;
	return 0;
}

uint64_t
dkim_body_length(const struct dkim_body *b, int canon)
{
	return b->st[canon].out;
}

/* ---- headers ---- */

/* Where the value of the b= tag starts and ends in raw (the whole field),
 * whitespace around it included: [*bs, *be).  False when absent. */
static bool
find_b(const char *raw, size_t len, size_t *bs, size_t *be)
{
	const char *colon = memchr(raw, ':', len);
	size_t i = colon ? (size_t)(colon - raw) + 1 : len;

	/* Walk tag-specs: [FWS] name [FWS] "=" value ";" */
	while (i < len) {
		while (i < len && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n'))
			i++;
		size_t ns = i;
		while (i < len && raw[i] != '=' && raw[i] != ';' && raw[i] != ' ' && raw[i] != '\t' &&
		    raw[i] != '\r' && raw[i] != '\n')
			i++;
		size_t ne = i;
		while (i < len && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n'))
			i++;
		const char *semi = memchr(raw + i, ';', len - i);
		size_t end = semi ? (size_t)(semi - raw) : len;
		if (i < len && raw[i] == '=' && ne - ns == 1 && raw[ns] == 'b') {
			*bs = i + 1;
			*be = end;
			return true;
		}
		i = end + 1;
	}
	return false;
}

static int
hash_relaxed(EVP_MD_CTX *ctx, const char *raw, size_t len, size_t namelen)
{
	unsigned char buf[1024];
	size_t o = 0;
	bool wsp = false, started = false;

	/* The name is as long as the sender likes (ma_msg_add_header takes
	 * any run of ftext), so it is flushed like the value. */
	for (size_t i = 0; i < namelen; i++) {
		if (o == sizeof(buf)) {
			if (EVP_DigestUpdate(ctx, buf, o) != 1)
				return -1;
			o = 0;
		}
		buf[o++] = (unsigned char)ma_lower(raw[i]);
	}
	if (o == sizeof(buf)) {
		if (EVP_DigestUpdate(ctx, buf, o) != 1)
			return -1;
		o = 0;
	}
	buf[o++] = ':';
	/* Skip to after the colon (WSP before it is dropped). */
	size_t i = namelen;
	while (i < len && raw[i] != ':')
		i++;
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '\r' || c == '\n')
			continue;	/* unfold */
		if (c == ' ' || c == '\t') {
			wsp = started;
			continue;
		}
		if (o + 2 > sizeof(buf)) {
			if (EVP_DigestUpdate(ctx, buf, o) != 1)
				return -1;
			o = 0;
		}
		if (wsp)
			buf[o++] = ' ';
		wsp = false;
		started = true;
		buf[o++] = c;
	}
	return EVP_DigestUpdate(ctx, buf, o) == 1 ? 0 : -1;
}

int
dkim_hash_header(EVP_MD_CTX *ctx, int canon, const char *raw, size_t len, bool strip_b)
{
	const char *colon = memchr(raw, ':', len);
	size_t namelen = colon ? (size_t)(colon - raw) : 0;
	size_t bs = len, be = len;
	int rc;

	while (namelen && (raw[namelen - 1] == ' ' || raw[namelen - 1] == '\t'))
		namelen--;
	if (strip_b && !find_b(raw, len, &bs, &be))
		bs = be = len;
	/* Hash the field in (at most) two pieces around the removed b= value. */
	if (canon == CANON_SIMPLE) {
		rc = EVP_DigestUpdate(ctx, raw, bs) == 1 &&
		    EVP_DigestUpdate(ctx, raw + be, len - be) == 1 ? 0 : -1;
	} else if (bs == len) {
		rc = hash_relaxed(ctx, raw, len, namelen);
	} else {
		/* Relaxed over a field with a gap: canonicalize a copy. */
		char stack[4096], *tmp = stack;
		size_t tl = bs + (len - be);
		if (tl > sizeof(stack) && (tmp = malloc(tl)) == NULL)
			return -1;
		memcpy(tmp, raw, bs);
		memcpy(tmp + bs, raw + be, len - be);
		rc = hash_relaxed(ctx, tmp, tl, namelen);
		if (tmp != stack)
			free(tmp);
	}
	if (rc == 0 && !strip_b)
		rc = EVP_DigestUpdate(ctx, crlf, 2) == 1 ? 0 : -1;
	return rc;
}
