/* A message as the checks see it: header fields with their raw bytes
 * (folding kept, CRLF line ends) and a body read as a stream, from memory or
 * from a file descriptor, so a large message is never loaded whole. */
#ifndef MA_MSG_H
#define MA_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ma_header {
	const char *raw;	/* the whole field, folding included, no final CRLF */
	size_t len;
	size_t namelen;		/* raw[0..namelen) is the name (0: not a field) */
	size_t valoff;		/* raw[valoff..len) is the value, after the ':' */
};

struct ma_msg_limits {
	size_t max_headers;		/* default 1000 */
	size_t max_header_bytes;	/* default 1 MiB, all fields together */
};

struct ma_msg;

struct ma_msg *ma_msg_new(const struct ma_msg_limits *);
void	 ma_msg_free(struct ma_msg *);

/* Adds one header field (folding included; LF or CRLF line ends, with or
 * without the final line end).  Past the limits the field is dropped and
 * ma_msg_error() says so.  Returns 0 or -1. */
int	 ma_msg_add_header(struct ma_msg *, const char *field, size_t len);
/* Splits a whole message held in memory.  The body is referenced, not
 * copied: buf must outlive the message. */
int	 ma_msg_parse(struct ma_msg *, const char *buf, size_t len);
/* Reads the header block from fd (bounded by the limits) and leaves the
 * body there; the message keeps its own duplicate of fd. */
int	 ma_msg_parse_fd(struct ma_msg *, int fd);
/* The body, given separately (the Exim adapter: headers from Exim, body
 * from the spool file at an offset). */
void	 ma_msg_set_body_mem(struct ma_msg *, const char *p, size_t len);
int	 ma_msg_set_body_fd(struct ma_msg *, int fd, off_t offset);

size_t	 ma_msg_count(const struct ma_msg *);
const struct ma_header *ma_msg_header(const struct ma_msg *, size_t i);
/* The first problem met while reading, or NULL. */
const char *ma_msg_error(const struct ma_msg *);
bool	 ma_header_is(const struct ma_header *, const char *name);

/* Streams the body with bare LF turned into CRLF, in chunks.  fn returns
 * non-zero to stop early.  Returns 0, or -1 on a read error. */
typedef int (*ma_body_fn)(void *ctx, const unsigned char *p, size_t n);
int	 ma_msg_body(const struct ma_msg *, ma_body_fn, void *ctx);

#endif
