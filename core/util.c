#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ma_arena_block {
	struct ma_arena_block *next;
	size_t len;
	/* Aligned payload follows. */
	max_align_t data[];
};

#define ARENA_ALIGN	(sizeof(max_align_t))
#define ARENA_BLOCK	8192

void
ma_arena_init(struct ma_arena *a, void *buf, size_t len, size_t limit)
{
	a->cur = buf;
	a->end = buf ? (unsigned char *)buf + len : NULL;
	a->blocks = NULL;
	a->limit = limit;
	a->used = 0;
	a->failed = false;
	if (buf) {
		uintptr_t p = (uintptr_t)buf;
		uintptr_t al = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
		a->cur = (unsigned char *)al;
		if (a->cur > a->end)
			a->cur = a->end;
	}
}

void *
ma_arena_alloc(struct ma_arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	void *p;

	if (need < n)
		return NULL;
	if (a->cur && (size_t)(a->end - a->cur) >= need) {
		p = a->cur;
		a->cur += need;
		return p;
	}
	size_t blen = need > ARENA_BLOCK ? need : ARENA_BLOCK;
	if (a->limit && a->used + blen > a->limit) {
		a->failed = true;
		return NULL;
	}
	struct ma_arena_block *b = malloc(sizeof(*b) + blen);
	if (b == NULL) {
		a->failed = true;
		return NULL;
	}
	b->len = blen;
	b->next = a->blocks;
	a->blocks = b;
	a->used += blen;
	p = b->data;
	a->cur = (unsigned char *)b->data + need;
	a->end = (unsigned char *)b->data + blen;
	return p;
}

char *
ma_arena_strndup(struct ma_arena *a, const char *s, size_t n)
{
	char *p = ma_arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void
ma_arena_free(struct ma_arena *a)
{
	struct ma_arena_block *b, *next;

	for (b = a->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	a->blocks = NULL;
	a->cur = a->end = NULL;
}

void
ma_sbuf_put(struct ma_sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	const char *nl = n ? memrchr(s, '\n', n) : NULL;
	b->line = nl ? (size_t)(s + n - nl - 1) : b->line + n;
}

void
ma_sbuf_puts(struct ma_sbuf *b, const char *s)
{
	ma_sbuf_put(b, s, strlen(s));
}

int64_t
ma_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
ma_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if (dstlen) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

size_t
ma_bprintf(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (dstlen == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	if (n < 0) {
		dst[0] = '\0';
		return 0;
	}
	return (size_t)n < dstlen ? (size_t)n : dstlen - 1;
}

bool
ma_strcaseeq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (ma_lower(a[i]) != ma_lower(b[i]))
			return false;
	return true;
}
