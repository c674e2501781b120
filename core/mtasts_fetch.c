/* The policy fetch (RFC 8461 3.3) through libcurl.  The host name is
 * resolved by our resolver (so tests point it at a local server and the
 * per-message budget applies) and handed to curl with CURLOPT_RESOLVE.
 * Certificates are verified for mta-sts.<domain>; no redirects; HTTPS
 * only; 200 and text/plain only; the 64 KiB cap is enforced from the
 * Content-Length and again while reading. */
#include "mtasts.h"
#include "ip.h"
#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fetch_names[] = {
	"ok", "dns", "connect", "tls", "http", "content-type", "too-large", "timeout", "error",
};

const char *
ma_sts_fetch_status_name(enum ma_sts_fetch_status s)
{
	return (unsigned)s < sizeof(fetch_names) / sizeof(fetch_names[0]) ? fetch_names[s] : "error";
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct body {
	char *p;
	size_t len, cap;
	bool too_large;
};

static size_t
on_data(char *ptr, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t len = size * n;

	if (b->len + len > MA_STS_MAX_BODY) {
		b->too_large = true;
		return 0;	/* aborts the transfer */
	}
	if (b->len + len + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 4096;
		while (nc < b->len + len + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (np == NULL)
			return 0;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, ptr, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

void
ma_sts_fetch_result_free(struct ma_sts_fetch_result *r)
{
	free(r->body);
	r->body = NULL;
}

static void
fail(struct ma_sts_fetch_result *r, enum ma_sts_fetch_status s, const char *reason)
{
	r->status = s;
	ma_strlcpy(r->reason, reason, sizeof(r->reason));
}

void
ma_sts_fetch(struct ma_resolver *res, struct ma_budget *bud, const char *domain,
    const struct ma_sts_fetch_opts *o, struct ma_sts_fetch_result *r)
{
	char host[MA_DNS_NAME_MAX + 16], url[600], resolve[700], addr[64], why[CURL_ERROR_SIZE + 64];
	struct ma_query q[2];
	struct body b = { 0 };
	unsigned port = o && o->port ? o->port : 443;
	unsigned cto = o && o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
	unsigned to = o && o->timeout_ms ? o->timeout_ms : 30000;

	memset(r, 0, sizeof(*r));
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		fail(r, MA_STS_FETCH_OTHER, "libcurl cannot be initialised");
		return;
	}
	if (strlen(domain) > 240) {
		fail(r, MA_STS_FETCH_DNS, "domain name too long");
		return;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	/* Addresses through our resolver: A and AAAA at once. */
	q[0] = (struct ma_query){ host, MA_RR_A, NULL };
	q[1] = (struct ma_query){ host, MA_RR_AAAA, NULL };
	ma_resolve(res, bud, q, 2);
	struct ma_ip ip = { 0, { 0 } };
	for (int i = 0; i < 2 && ip.family == 0; i++)
		for (size_t k = 0; k < q[i].ans->nrr && ip.family == 0; k++) {
			const struct ma_rr *rr = &q[i].ans->rr[k];
			if (rr->type == MA_RR_A) {
				ip.family = 4;
				memcpy(ip.addr, rr->u.a, 4);
			} else if (rr->type == MA_RR_AAAA) {
				ip.family = 6;
				memcpy(ip.addr, rr->u.aaaa, 16);
			}
		}
	enum ma_dns_status st = q[0].ans->status;
	ma_query_release(q, 2);
	if (ip.family == 0) {
		ma_bprintf(why, sizeof(why), "%s has no address (%s)", host, ma_dns_status_name(st));
		fail(r, MA_STS_FETCH_DNS, why);
		return;
	}
	ma_ip_format(&ip, addr, sizeof(addr));
	snprintf(url, sizeof(url), "https://%s:%u/.well-known/mta-sts.txt", host, port);
	snprintf(resolve, sizeof(resolve), ip.family == 6 ? "%s:%u:[%s]" : "%s:%u:%s", host, port, addr);

	CURL *c = curl_easy_init();
	struct curl_slist *rl = curl_slist_append(NULL, resolve);
	char errbuf[CURL_ERROR_SIZE] = "";
	if (c == NULL || rl == NULL) {
		curl_slist_free_all(rl);
		if (c)
			curl_easy_cleanup(c);
		fail(r, MA_STS_FETCH_OTHER, "out of memory");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, rl);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o && o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cto);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)to);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MA_STS_MAX_BODY);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mailauth-mta-sts/0.1");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);	/* no compression bombs */

	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	r->http_status = code;
	if (b.too_large || rc == CURLE_FILESIZE_EXCEEDED)
		fail(r, MA_STS_FETCH_TOO_LARGE, "policy larger than 64 KiB");
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		fail(r, MA_STS_FETCH_TIMEOUT, "timed out fetching the policy");
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
		ma_bprintf(why, sizeof(why), "TLS: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		fail(r, MA_STS_FETCH_TLS, why);
	} else if (rc == CURLE_COULDNT_CONNECT) {
		ma_bprintf(why, sizeof(why), "cannot connect to %s (%s)", host, addr);
		fail(r, MA_STS_FETCH_CONNECT, why);
	} else if (rc != CURLE_OK) {
		ma_bprintf(why, sizeof(why), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		fail(r, MA_STS_FETCH_OTHER, why);
	} else if (code != 200) {
		ma_bprintf(why, sizeof(why), "HTTP status %ld (only 200 is accepted, no redirects)", code);
		fail(r, MA_STS_FETCH_HTTP, why);
	} else if (!ma_sts_content_type_ok(ct)) {
		ma_bprintf(why, sizeof(why), "content type '%.60s' is not text/plain", ct ? ct : "(none)");
		fail(r, MA_STS_FETCH_CONTENT_TYPE, why);
	} else {
		r->status = MA_STS_FETCH_OK;
		ma_strlcpy(r->reason, "ok", sizeof(r->reason));
		r->body = b.p ? b.p : calloc(1, 1);
		r->len = b.len;
		b.p = NULL;
	}
	free(b.p);
	curl_slist_free_all(rl);
	curl_easy_cleanup(c);
}
