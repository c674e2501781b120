/* The TLS-RPT outcome log (see tlsrpt.h): appends from many processes, one
 * line per write.  A line holds the session's fields as the aggregator takes
 * them, plus its time. */
#include "tlsrpt.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Strings from the far end (an MX's error text) need not be UTF-8: bytes
 * that do not make UTF-8 become '?' rather than losing the field. */
static void
put(json_t *o, const char *k, const char *v)
{
	json_t *j;

	if (v == NULL)
		return;
	if ((j = json_string(v)) == NULL) {
		char *c = strdup(v);
		if (c == NULL)
			return;
		for (char *p = c; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(c);
		free(c);
	}
	json_object_set_new(o, k, j);
}

int
ma_tlsrpt_log_append(const char *path, const struct ma_tlsrpt_session *s, int64_t when, char *err, size_t errlen)
{
	if (ma_tlsrpt_session_check(s, err, errlen) < 0)
		return -1;
	json_t *o = json_object();
	if (o == NULL)
		goto oom;
	json_object_set_new(o, "time", json_integer(when));
	put(o, "policy_domain", s->policy_domain);
	put(o, "policy_type", s->policy_type ? s->policy_type : "no-policy-found");
	put(o, "policy_string", s->policy_string);
	put(o, "mx_host", s->mx_host);
	json_object_set_new(o, "success", json_boolean(s->success));
	if (!s->success)
		put(o, "result_type", s->result_type);
	put(o, "sending_mta_ip", s->sending_mta_ip);
	put(o, "receiving_mx_hostname", s->receiving_mx_hostname);
	put(o, "receiving_mx_helo", s->receiving_mx_helo);
	put(o, "receiving_ip", s->receiving_ip);
	put(o, "additional_information", s->additional_information);
	put(o, "failure_reason_code", s->failure_reason_code);
	json_object_set_new(o, "count", json_integer((json_int_t)(s->count ? s->count : 1)));
	/* Compact, ASCII only (control bytes escaped): one line, whatever the
	 * strings hold. */
	char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL)
		goto oom;
	size_t n = strlen(line);
	char *buf = realloc(line, n + 2);
	if (buf == NULL) {
		free(line);
		goto oom;
	}
	buf[n++] = '\n';
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
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
