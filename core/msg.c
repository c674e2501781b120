#include "msg.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct ma_msg {
	struct ma_msg_limits lim;
	struct ma_header *h;
	size_t n, cap;
	char *store;		/* all fields, CRLF-normalised, back to back */
	size_t used, storecap;
	const char *body;	/* memory body, or NULL */
	size_t bodylen;
	int fd;			/* fd body (owned duplicate), or -1 */
	off_t bodyoff;
	char error[128];
};

struct ma_msg *
ma_msg_new(const struct ma_msg_limits *lim)
{
	struct ma_msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->lim.max_headers = lim && lim->max_headers ? lim->max_headers : 1000;
	m->lim.max_header_bytes = lim && lim->max_header_bytes ? lim->max_header_bytes : 1 << 20;
	m->fd = -1;
	return m;
}

void
ma_msg_free(struct ma_msg *m)
{
	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->h);
	free(m->store);
	free(m);
}

static void
set_error(struct ma_msg *m, const char *e)
{
	if (m->error[0] == '\0')
		ma_strlcpy(m->error, e, sizeof(m->error));
}

const char *
ma_msg_error(const struct ma_msg *m)
{
	return m->error[0] ? m->error : NULL;
}

size_t
ma_msg_count(const struct ma_msg *m)
{
	return m->n;
}

const struct ma_header *
ma_msg_header(const struct ma_msg *m, size_t i)
{
	return i < m->n ? &m->h[i] : NULL;
}

bool
ma_header_is(const struct ma_header *h, const char *name)
{
	return ma_strcaseeq(h->raw, h->namelen, name, strlen(name));
}

/* Fields are stored back to back; the header table keeps offsets until
 * the store stops moving, so pointers are fixed up after each growth. */
int
ma_msg_add_header(struct ma_msg *m, const char *f, size_t len)
{
	size_t extra = 0;

	while (len > 0 && (f[len - 1] == '\n' || f[len - 1] == '\r'))
		len--;
	for (const char *q = f; (q = memchr(q, '\n', (size_t)(f + len - q))) != NULL; q++)
		if (q == f || q[-1] != '\r')
			extra++;
	if (m->n >= m->lim.max_headers) {
		set_error(m, "too many header fields");
		return -1;
	}
	if (m->used + len + extra > m->lim.max_header_bytes) {
		set_error(m, "header block too large");
		return -1;
	}
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 32;
		struct ma_header *nh = realloc(m->h, nc * sizeof(*nh));
		if (nh == NULL)
			goto oom;
		m->h = nh;
		m->cap = nc;
	}
	if (m->store == NULL || m->used + len + extra > m->storecap) {
		size_t nc = m->storecap ? m->storecap : 4096;
		while (nc < m->used + len + extra)
			nc *= 2;
		char *ns = realloc(m->store, nc);
		if (ns == NULL)
			goto oom;
		for (size_t i = 0; i < m->n; i++)
			m->h[i].raw = ns + (m->h[i].raw - m->store);
		m->store = ns;
		m->storecap = nc;
	}
	char *d = m->store + m->used;
	size_t o = 0;
	if (extra == 0) {
		memcpy(d, f, len);	/* CRLF already: the usual case */
		o = len;
	} else
		for (size_t i = 0; i < len; i++) {
			if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r'))
				d[o++] = '\r';
			d[o++] = f[i];
		}
	struct ma_header *h = &m->h[m->n++];
	h->raw = d;
	h->len = o;
	/* field-name = 1*ftext (printable except ':'); WSP before ':' is
	 * tolerated as RFC 5322 obs-syntax allows. */
	size_t k = 0;
	while (k < o && d[k] > 0x20 && d[k] < 0x7f && d[k] != ':')
		k++;
	size_t c = k;
	while (c < o && (d[c] == ' ' || d[c] == '\t'))
		c++;
	if (k > 0 && c < o && d[c] == ':') {
		h->namelen = k;
		h->valoff = c + 1;
	} else {
		h->namelen = 0;
		h->valoff = 0;
		set_error(m, "malformed header field");
	}
	m->used += o;
	return 0;
oom:
	set_error(m, "out of memory");
	return -1;
}

static int parse_fd(struct ma_msg *, int);

/* Feeds the header block in buf[0..len) to the message; returns the
 * offset of the body, or len when the block does not end in an empty line. */
static size_t
split_headers(struct ma_msg *m, const char *buf, size_t len, bool *complete)
{
	size_t start = 0, i = 0;

	*complete = false;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		if (nl == NULL)
			break;
		size_t eol = (size_t)(nl - buf) + 1;
		size_t linelen = eol - i;
		bool empty = linelen == 1 || (linelen == 2 && buf[i] == '\r');
		if (empty) {
			if (i > start)
				ma_msg_add_header(m, buf + start, i - start);
			*complete = true;
			return eol;
		}
		/* A new field starts unless the next line is a continuation. */
		if (i > start && buf[i] != ' ' && buf[i] != '\t') {
			ma_msg_add_header(m, buf + start, i - start);
			start = i;
		}
		i = eol;
	}
	return start;
}

int
ma_msg_parse(struct ma_msg *m, const char *buf, size_t len)
{
	bool complete;
	size_t off = split_headers(m, buf, len, &complete);

	if (!complete) {
		/* No empty line: everything left is the last field(s). */
		if (off < len)
			ma_msg_add_header(m, buf + off, len - off);
		m->body = buf + len;
		m->bodylen = 0;
		return 0;
	}
	m->body = buf + off;
	m->bodylen = len - off;
	return 0;
}

/* A pipe cannot be read twice: copy it to an unlinked temporary file so
 * the body can still be streamed with bounded memory. */
static int
spool(int fd)
{
	char buf[65536];
	int t = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (t < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		for (ssize_t o = 0; o < r;) {
			ssize_t w = write(t, buf + o, (size_t)(r - o));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto fail;
			o += w;
		}
	}
	if (lseek(t, 0, SEEK_SET) == 0)
		return t;
fail:
	close(t);
	return -1;
}

int
ma_msg_parse_fd(struct ma_msg *m, int fd)
{
	if (lseek(fd, 0, SEEK_CUR) < 0) {
		int t = spool(fd);
		if (t < 0) {
			set_error(m, "cannot spool the message");
			return -1;
		}
		int rc = parse_fd(m, t);
		close(t);
		return rc;
	}
	return parse_fd(m, fd);
}

static int
parse_fd(struct ma_msg *m, int fd)
{
	size_t cap = 65536, len = 0, max = m->lim.max_header_bytes + 65536;
	char *buf = malloc(cap);
	bool complete = false;
	size_t off = 0;

	if (buf == NULL) {
		set_error(m, "out of memory");
		return -1;
	}
	off_t base = lseek(fd, 0, SEEK_CUR);
	if (base < 0)
		base = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			set_error(m, "read error");
			return -1;
		}
		size_t from = len > 2 ? len - 2 : 0;
		len += (size_t)r;
		/* Look for the end of the header block in the new bytes. */
		char *e = NULL;
		for (size_t i = from; i + 1 < len; i++)
			if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
			    (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))) {
				e = buf + i;
				break;
			}
		if (e || r == 0 || len >= max)
			break;
		if (len == cap) {
			size_t nc = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, nc);
			if (nb == NULL) {
				free(buf);
				set_error(m, "out of memory");
				return -1;
			}
			buf = nb;
			cap = nc;
		}
	}
	off = split_headers(m, buf, len, &complete);
	if (!complete) {
		if (len >= max)
			set_error(m, "header block too large");
		else if (off < len)
			ma_msg_add_header(m, buf + off, len - off);
		off = len;
	}
	free(buf);
	if (!complete) {
		m->body = "";
		m->bodylen = 0;
		return 0;
	}
	return ma_msg_set_body_fd(m, fd, base + (off_t)off);
}

void
ma_msg_set_body_mem(struct ma_msg *m, const char *p, size_t len)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->body = p;
	m->bodylen = len;
}

int
ma_msg_set_body_fd(struct ma_msg *m, int fd, off_t offset)
{
	int d = dup(fd);

	if (d < 0) {
		set_error(m, "cannot duplicate the body descriptor");
		return -1;
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = d;
	m->bodyoff = offset;
	m->body = NULL;
	m->bodylen = 0;
	return 0;
}

/* The first bare LF (one not preceded by CR) in p[i..n), or n; cr says
 * whether the byte before p[0] was a CR. */
static size_t
bare_lf(const unsigned char *p, size_t i, size_t n, bool cr)
{
	if (i == 0 && n > 0) {
		if (p[0] == '\n' && !cr)
			return 0;
		i = 1;
	}
#if defined(__SSE2__)
	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i - 1));
		unsigned bad = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_set1_epi8('\n'))) &
		    ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_set1_epi8('\r')));
		if (bad)
			return i + (size_t)__builtin_ctz(bad);
	}
#endif
	for (; i < n; i++) {
		const unsigned char *nl = memchr(p + i, '\n', n - i);
		if (nl == NULL)
			return n;
		i = (size_t)(nl - p);
		if (p[i - 1] != '\r')
			return i;
	}
	return n;
}

/* Emits p[0..n) with bare LF as CRLF; *cr carries "last byte was CR"
 * across chunks. */
static int
emit_crlf(const unsigned char *p, size_t n, bool *cr, ma_body_fn fn, void *ctx)
{
	static const unsigned char crlf[2] = { '\r', '\n' };
	size_t s = 0, i = 0;

	while ((i = bare_lf(p, i, n, *cr)) < n) {
		if (i > s && fn(ctx, p + s, i - s))
			return 1;
		if (fn(ctx, crlf, 2))
			return 1;
		s = ++i;
	}
	if (n > s && fn(ctx, p + s, n - s))
		return 1;
	if (n)
		*cr = p[n - 1] == '\r';
	return 0;
}

int
ma_msg_body(const struct ma_msg *m, ma_body_fn fn, void *ctx)
{
	bool cr = false;

	if (m->fd < 0) {
		/* Memory: feed in slices so callers see bounded chunks too. */
		const unsigned char *p = (const unsigned char *)m->body;
		for (size_t off = 0; off < m->bodylen;) {
			size_t n = m->bodylen - off > 65536 ? 65536 : m->bodylen - off;
			if (emit_crlf(p + off, n, &cr, fn, ctx))
				return 0;
			off += n;
		}
		return 0;
	}
	unsigned char buf[65536];
	off_t off = m->bodyoff;
	for (;;) {
		ssize_t r = pread(m->fd, buf, sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		off += r;
		if (emit_crlf(buf, (size_t)r, &cr, fn, ctx))
			return 0;
	}
}
