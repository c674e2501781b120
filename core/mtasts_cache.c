/* The MTA-STS policy cache: a directory with one small text file per
 * domain.  Writers create a temporary file and rename() it over the old one,
 * which is atomic on POSIX file systems: many Exim processes can refresh and
 * read concurrently with no locks, and a reader sees either the old policy
 * or the new one, never a mixture.  (SQLite would also do, but adds a
 * library, a lock protocol and busy timeouts for one row per domain.) */
#include "mtasts.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#define MAGIC	"mailauth-sts-cache 1\n"

/* Only plain host-name characters make it into a file name. */
static bool
path_for(const char *dir, const char *domain, char *out, size_t len)
{
	size_t n = strlen(domain);

	if (n == 0 || n > 253 || domain[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = domain[i];
		if (!(ma_isalnum(c) || c == '-' || c == '_' || c == '.') || (c >= 'A' && c <= 'Z'))
			return false;
	}
	return (size_t)snprintf(out, len, "%s/%s.sts", dir, domain) < len;
}

int
ma_sts_cache_get(const char *dir, const char *domain, struct ma_sts_cached *c)
{
	char path[4096], head[512], err[128];
	int fd;

	if (!path_for(dir, domain, path, sizeof(path)) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* Header and policy in one read: the file is at most ~64 KiB. */
	char *buf = malloc(MA_STS_MAX_BODY + sizeof(head) + 1);
	ssize_t n = buf ? read(fd, buf, MA_STS_MAX_BODY + sizeof(head)) : -1;
	close(fd);
	if (n <= 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	long long fetched, expires;
	size_t plen;
	int hl = 0;
	memset(c, 0, sizeof(*c));
	if (strncmp(buf, MAGIC, strlen(MAGIC)) != 0 ||
	    sscanf(buf + strlen(MAGIC), "id: %32[A-Za-z0-9]\nfetched: %lld\nexpires: %lld\nlength: %zu\n\n%n",
	    c->id, &fetched, &expires, &plen, &hl) != 4 || hl == 0 || plen > MA_STS_MAX_BODY ||
	    strlen(MAGIC) + (size_t)hl + plen != (size_t)n) {
		free(buf);
		return -1;	/* truncated or foreign: as if absent */
	}
	memcpy(c->text, buf + strlen(MAGIC) + hl, plen);
	c->text[plen] = '\0';
	c->len = plen;
	c->fetched = fetched;
	c->expires = expires;
	free(buf);
	return ma_sts_policy_parse(c->text, c->len, &c->policy, err, sizeof(err)) == 0 ? 0 : -1;
}

int
ma_sts_cache_put(const char *dir, const char *domain, const struct ma_sts_cached *c, char *err, size_t errlen)
{
	char path[4096], tmp[4200], head[256];
	int fd = -1;

	if (!path_for(dir, domain, path, sizeof(path))) {
		ma_bprintf(err, errlen, "cannot cache a policy for '%.100s'", domain);
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ma_bprintf(err, errlen, "%s: cannot create the cache directory", dir);
		return -1;
	}
	for (int tries = 0; tries < 8 && fd < 0; tries++) {
		snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%d.tmp", dir, domain, (long)getpid(),
		    (int)(ma_now_ms() % 100000) + tries);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		ma_bprintf(err, errlen, "%s: cannot write the cache", dir);
		return -1;
	}
	int hl = snprintf(head, sizeof(head), MAGIC "id: %s\nfetched: %lld\nexpires: %lld\nlength: %zu\n\n",
	    c->id, (long long)c->fetched, (long long)c->expires, c->len);
	bool ok = hl > 0 && write(fd, head, (size_t)hl) == hl &&
	    write(fd, c->text, c->len) == (ssize_t)c->len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		ma_bprintf(err, errlen, "%s: cannot write the cache", dir);
		return -1;
	}
	return 0;
}

/* The marker: "<domain>.fail" holding "<id> <unix time>\n", replaced
 * atomically like the policies. */
void
ma_sts_cache_fail_put(const char *dir, const char *domain, const char *id, int64_t when)
{
	char path[4096], tmp[4200], line[96];

	if (!path_for(dir, domain, path, sizeof(path)) || strlen(path) + 2 >= sizeof(path))
		return;
	memcpy(path + strlen(path) - 4, ".fail", 6);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	int n = snprintf(line, sizeof(line), "%s %lld\n", id, (long long)when);
	bool ok = n > 0 && write(fd, line, (size_t)n) == n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

int64_t
ma_sts_cache_fail_get(const char *dir, const char *domain, const char *id)
{
	char path[4096], buf[96], fid[33];
	long long when;
	int fd;

	if (!path_for(dir, domain, path, sizeof(path)) || strlen(path) + 2 >= sizeof(path))
		return 0;
	memcpy(path + strlen(path) - 4, ".fail", 6);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%32[A-Za-z0-9] %lld", fid, &when) != 2 || strcmp(fid, id) != 0)
		return 0;
	return when;
}

int
ma_sts_cache_remove(const char *dir, const char *domain)
{
	char path[4096];

	if (!path_for(dir, domain, path, sizeof(path)))
		return -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

size_t
ma_sts_refresh(struct ma_resolver *r, const struct ma_sts_discover_opts *opts, int64_t margin,
    ma_sts_refresh_fn fn, void *ctx)
{
	DIR *d = opts && opts->cache_dir ? opendir(opts->cache_dir) : NULL;
	struct dirent *de;
	struct ma_sts_cached *c = malloc(sizeof(*c));
	struct ma_sts_outcome *o = malloc(sizeof(*o));
	int64_t now = opts && opts->now ? opts->now : (int64_t)time(NULL);
	size_t n = 0;

	if (d == NULL || c == NULL || o == NULL) {
		if (d)
			closedir(d);
		free(c);
		free(o);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char dom[256];
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 5 || l - 4 >= sizeof(dom) || strcmp(de->d_name + l - 4, ".sts") != 0)
			continue;
		memcpy(dom, de->d_name, l - 4);
		dom[l - 4] = '\0';
		struct ma_sts_discover_opts one = *opts;
		one.now = now;
		if (ma_sts_cache_get(opts->cache_dir, dom, c) == 0 &&
		    (c->expires - now <= margin || now - c->fetched >= (int64_t)c->policy.max_age / 2))
			one.force = true;
		/* One message's worth of DNS for each domain. */
		struct ma_budget b;
		ma_budget_init(&b, 20, one.fetch.timeout_ms ? one.fetch.timeout_ms + 5000 : 35000);
		ma_sts_discover(r, &b, dom, &one, o);
		if (fn)
			fn(ctx, dom, o);
		n++;
	}
	closedir(d);
	free(c);
	free(o);
	return n;
}
