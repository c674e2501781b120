/* Small helpers shared by core/: a bump arena, a monotonic clock, bounded strings. */
#ifndef MA_UTIL_H
#define MA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Bump allocator: one evaluation's scratch memory, freed at once.  The first
 * block can live on the caller's stack so that a typical evaluation does not
 * touch malloc at all. */
struct ma_arena_block;
struct ma_arena {
	unsigned char *cur, *end;
	struct ma_arena_block *blocks;	/* heap blocks, freed by ma_arena_free */
	size_t limit, used;		/* cap on heap bytes; 0 = none */
	bool failed;			/* an allocation hit the cap */
};

void	 ma_arena_init(struct ma_arena *, void *buf, size_t len, size_t limit);
void	*ma_arena_alloc(struct ma_arena *, size_t);
char	*ma_arena_strndup(struct ma_arena *, const char *, size_t);
void	 ma_arena_free(struct ma_arena *);

/* A growing string that knows the length of its current line (for header
 * folding).  On allocation failure it stops growing and sets oom. */
struct ma_sbuf {
	char *p;
	size_t len, cap, line;
	bool oom;
};

void	 ma_sbuf_put(struct ma_sbuf *, const char *s, size_t n);
void	 ma_sbuf_puts(struct ma_sbuf *, const char *s);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t	 ma_now_ms(void);

/* Copy at most dstlen-1 bytes and NUL-terminate; returns the source length. */
size_t	 ma_strlcpy(char *dst, const char *src, size_t dstlen);
/* snprintf that never fails: truncates silently, returns bytes written. */
size_t	 ma_bprintf(char *dst, size_t dstlen, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));

static inline char
ma_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static inline bool
ma_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
ma_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool
ma_isalnum(int c)
{
	return ma_isalpha(c) || ma_isdigit(c);
}

/* ASCII case-insensitive compare of two byte ranges. */
bool	 ma_strcaseeq(const char *a, size_t alen, const char *b, size_t blen);

#endif
