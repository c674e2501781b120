/* The TLS-RPT outcome log (see tlsrpt.h): appends from many processes, one
 * line per write.  A line holds the session's fields as the aggregator takes
 * them, plus its time. */
#include "tlsrpt.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIELD_MAX	2048	/* per string: a line stays one modest write */

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 :
	    (p[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (len == 0 || len > n || (len == 2 && p[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0;	/* overlong, surrogates */
	if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || p[0] > 0xf4 || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return len;
}

/* Strings from the far end (an MX's error text) need not be UTF-8: each
 * byte that does not start a valid sequence becomes '?', and a string is
 * cut at FIELD_MAX on a character boundary.  False without memory. */
static bool
put(json_t *o, const char *k, const char *v)
{
	if (v == NULL)
		return true;
	size_t n = strlen(v), w = 0;
	char *c = malloc(n < FIELD_MAX ? n + 1 : FIELD_MAX + 1);
	if (c == NULL)
		return false;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((const unsigned char *)v + i, n - i);
		if (w + (l ? l : 1) > FIELD_MAX)
			break;
		if (l == 0) {
			c[w++] = '?';
			i++;
		} else {
			memcpy(c + w, v + i, l);
			w += l;
			i += l;
		}
	}
	c[w] = '\0';
	json_t *j = json_string(c);
	free(c);
	return j != NULL && json_object_set_new(o, k, j) == 0;
}

int
ma_tlsrpt_log_append(const char *path, const struct ma_tlsrpt_session *s, int64_t when, char *err, size_t errlen)
{
	if (ma_tlsrpt_session_check(s, err, errlen) < 0)
		return -1;
	json_t *o = json_object();
	if (o == NULL)
		goto oom;
	bool ok = json_object_set_new(o, "time", json_integer(when)) == 0 &&
	    put(o, "policy_domain", s->policy_domain) &&
	    put(o, "policy_type", s->policy_type ? s->policy_type : "no-policy-found") &&
	    put(o, "policy_string", s->policy_string) && put(o, "mx_host", s->mx_host) &&
	    json_object_set_new(o, "success", json_boolean(s->success)) == 0 &&
	    (s->success || put(o, "result_type", s->result_type)) &&
	    put(o, "sending_mta_ip", s->sending_mta_ip) &&
	    put(o, "receiving_mx_hostname", s->receiving_mx_hostname) &&
	    put(o, "receiving_mx_helo", s->receiving_mx_helo) && put(o, "receiving_ip", s->receiving_ip) &&
	    put(o, "additional_information", s->additional_information) &&
	    put(o, "failure_reason_code", s->failure_reason_code) &&
	    json_object_set_new(o, "count", json_integer((json_int_t)(s->count ? s->count : 1))) == 0;
	/* Compact, ASCII only (control bytes escaped): one line, whatever the
	 * strings hold; into our own buffer with its newline. */
	size_t n = ok ? json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_ENSURE_ASCII) : 0;
	char *buf = n ? malloc(n + 1) : NULL;
	if (buf == NULL || json_dumpb(o, buf, n, JSON_COMPACT | JSON_ENSURE_ASCII) != n) {
		json_decref(o);
		free(buf);
		goto oom;
	}
	json_decref(o);
	buf[n++] = '\n';
	/* Not through a symbolic link an attacker may have planted. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		ma_bprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	ssize_t w = write(fd, buf, n);
	int e = errno;
	close(fd);
	free(buf);
	if (w != (ssize_t)n) {
		/* A short append (disk full) leaves a broken line that readers
		 * skip; it is reported here all the same. */
		ma_bprintf(err, errlen, "%s: %s", path, w < 0 ? strerror(e) : "short write");
		return -1;
	}
	return 0;
oom:
	ma_bprintf(err, errlen, "out of memory");
	return -1;
}
