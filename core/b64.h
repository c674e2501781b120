/* Base64 (RFC 4648) as DKIM uses it: decoding skips folding whitespace. */
#ifndef MA_B64_H
#define MA_B64_H

#include <stddef.h>

/* Decodes into out (at most outlen bytes); whitespace (SP, HTAB, CR, LF) is
 * skipped.  Returns the decoded length, or -1 on a bad character, bad
 * padding or overflow. */
long	 ma_b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);
/* Encodes; out needs 4*((len+2)/3)+1 bytes.  Returns the length. */
size_t	 ma_b64_encode(const unsigned char *in, size_t len, char *out);

#endif
