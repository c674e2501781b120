/* TLS-RPT records, the outcome aggregator and report generation. */
#include "tlsrpt.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

static bool
wsp(char c)
{
	return c == ' ' || c == '\t';
}

int
ma_tlsrpt_record_parse(const char *txt, size_t len, struct ma_tlsrpt_record *r, char *err, size_t errlen)
{
	size_t i = 0;
	bool first = true, have_rua = false;

	memset(r, 0, sizeof(*r));
	while (i < len) {
		while (i < len && (wsp(txt[i]) || txt[i] == ';'))
			i++;
		if (i >= len)
			break;
		const char *semi = memchr(txt + i, ';', len - i);
		size_t e = semi ? (size_t)(semi - txt) : len;
		const char *f = txt + i, *eq = memchr(f, '=', e - i);
		size_t fl = e - i;
		i = e;
		if (eq == NULL) {
			ma_bprintf(err, errlen, "a field without '='");
			return -1;
		}
		size_t nl = (size_t)(eq - f);
		while (nl && wsp(f[nl - 1]))
			nl--;
		const char *v = eq + 1;
		size_t vl = fl - (size_t)(v - f);
		while (vl && wsp(*v)) {
			v++;
			vl--;
		}
		while (vl && wsp(v[vl - 1]))
			vl--;
		if (first) {
			if (nl != 1 || f[0] != 'v' || vl != 8 || memcmp(v, "TLSRPTv1", 8) != 0) {
				ma_bprintf(err, errlen, "the record must start with v=TLSRPTv1");
				return -1;
			}
			first = false;
			continue;
		}
		if (nl == 3 && memcmp(f, "rua", 3) == 0) {
			if (have_rua) {
				ma_bprintf(err, errlen, "more than one rua");
				return -1;
			}
			have_rua = true;
			size_t k = 0;
			while (k <= vl) {
				const char *c = memchr(v + k, ',', vl - k);
				size_t ue = c ? (size_t)(c - v) : vl;
				const char *u = v + k;
				size_t ul = ue - k;
				while (ul && wsp(*u)) {
					u++;
					ul--;
				}
				while (ul && wsp(u[ul - 1]))
					ul--;
				bool mailto = ul > 7 && strncasecmp(u, "mailto:", 7) == 0;
				bool https = ul > 8 && strncasecmp(u, "https://", 8) == 0;
				if (!mailto && !https) {
					ma_bprintf(err, errlen, "rua must be mailto: or https: URIs");
					return -1;
				}
				if (r->nrua < MA_TLSRPT_MAX_RUA && ul < sizeof(r->rua[0])) {
					memcpy(r->rua[r->nrua], u, ul);
					r->rua[r->nrua++][ul] = '\0';
				}
				if (c == NULL)
					break;
				k = ue + 1;
			}
		}
		/* other fields: extensions, ignored */
	}
	if (first) {
		ma_bprintf(err, errlen, "empty record");
		return -1;
	}
	if (r->nrua == 0) {
		ma_bprintf(err, errlen, "no rua");
		return -1;
	}
	return 0;
}

int
ma_tlsrpt_lookup(struct ma_resolver *res, struct ma_budget *b, const char *domain,
    struct ma_tlsrpt_record *rec, char *reason, size_t rlen)
{
	char name[MA_DNS_NAME_MAX + 16], txt[4096], err[128];
	int found = 0, valid = 0;

	if (strlen(domain) > 240) {
		ma_bprintf(reason, rlen, "domain name too long");
		return 0;
	}
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	struct ma_answer *a = ma_resolve1(res, b, name, MA_RR_TXT);
	if (a->status != MA_DNS_OK && a->status != MA_DNS_NODATA && a->status != MA_DNS_NXDOMAIN) {
		ma_bprintf(reason, rlen, "DNS %s for %s", ma_dns_status_name(a->status), name);
		ma_answer_unref(a);
		return -1;
	}
	for (size_t i = 0; i < a->nrr; i++) {
		if (a->rr[i].type != MA_RR_TXT)
			continue;
		size_t len = ma_txt_join(&a->rr[i], (unsigned char *)txt, sizeof(txt) - 1);
		if (len >= sizeof(txt))
			len = sizeof(txt) - 1;
		/* 3: records not starting "v=TLSRPTv1" are discarded first. */
		if (len < 10 || memcmp(txt, "v=TLSRPTv1", 10) != 0)
			continue;
		found++;
		if (ma_tlsrpt_record_parse(txt, len, rec, err, sizeof(err)) == 0)
			valid++;
	}
	ma_answer_unref(a);
	if (found == 1 && valid == 1) {
		ma_bprintf(reason, rlen, "%zu report destination%s", rec->nrua, rec->nrua == 1 ? "" : "s");
		return 1;
	}
	if (found > 1)
		ma_bprintf(reason, rlen, "%d TLSRPTv1 records at %s (exactly one is required)", found, name);
	else if (found == 1)
		ma_bprintf(reason, rlen, "invalid TLS-RPT record: %s", err);
	else
		ma_bprintf(reason, rlen, "no TLS-RPT record at %s", name);
	return 0;
}

static const char *const result_types[] = {
	"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
	"certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
	"dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
};

const char *
ma_tlsrpt_result_type(const char *name)
{
	for (size_t i = 0; name && i < sizeof(result_types) / sizeof(result_types[0]); i++)
		if (strcmp(name, result_types[i]) == 0)
			return result_types[i];
	return NULL;
}

/* ---- the aggregator ---- */

struct detail {
	const char *result_type;
	char *fields[6];	/* sending-mta-ip, receiving-mx-hostname, receiving-mx-helo,
				 * receiving-ip, additional-information, failure-reason-code */
	uint64_t count;
};

struct pol {
	char *domain, *type, *string, *mx;
	uint64_t success, failure;
	struct detail *d;
	size_t nd, capd;
};

struct ma_tlsrpt_agg {
	struct pol *p;
	size_t n, cap;
};

static const char *const detail_keys[6] = {
	"sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo", "receiving-ip",
	"additional-information", "failure-reason-code",
};

struct ma_tlsrpt_agg *
ma_tlsrpt_agg_new(void)
{
	return calloc(1, sizeof(struct ma_tlsrpt_agg));
}

void
ma_tlsrpt_agg_free(struct ma_tlsrpt_agg *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct pol *p = &a->p[i];
		free(p->domain);
		free(p->type);
		free(p->string);
		free(p->mx);
		for (size_t k = 0; k < p->nd; k++)
			for (int f = 0; f < 6; f++)
				free(p->d[k].fields[f]);
		free(p->d);
	}
	free(a->p);
	free(a);
}

static bool
eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static char *
sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int
ma_tlsrpt_session_check(const struct ma_tlsrpt_session *s, char *err, size_t errlen)
{
	const char *type = s->policy_type ? s->policy_type : "no-policy-found";

	if (s->policy_domain == NULL || *s->policy_domain == '\0') {
		ma_bprintf(err, errlen, "a session needs its policy domain");
		return -1;
	}
	/* A domain name (RFC 8460 4.4 policy-domain): letters, digits, '-',
	 * '_' and dots, and no longer than DNS allows. */
	size_t dl = strlen(s->policy_domain);
	if (dl > 253 || strspn(s->policy_domain,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != dl) {
		ma_bprintf(err, errlen, "the policy domain is not a domain name");
		return -1;
	}
	if (strcmp(type, "sts") != 0 && strcmp(type, "tlsa") != 0 && strcmp(type, "no-policy-found") != 0) {
		ma_bprintf(err, errlen, "unknown policy type '%.40s'", type);
		return -1;
	}
	if (!s->success && ma_tlsrpt_result_type(s->result_type) == NULL) {
		ma_bprintf(err, errlen, "unknown result type '%.40s'", s->result_type ? s->result_type : "");
		return -1;
	}
	return 0;
}

int
ma_tlsrpt_agg_add(struct ma_tlsrpt_agg *a, const struct ma_tlsrpt_session *s, char *err, size_t errlen)
{
	const char *type = s->policy_type ? s->policy_type : "no-policy-found";
	uint64_t count = s->count ? s->count : 1;
	const char *rt = NULL;

	if (ma_tlsrpt_session_check(s, err, errlen) < 0)
		return -1;
	if (!s->success)
		rt = ma_tlsrpt_result_type(s->result_type);
	struct pol *p = NULL;
	for (size_t i = 0; i < a->n && p == NULL; i++)
		if (strcmp(a->p[i].domain, s->policy_domain) == 0 && strcmp(a->p[i].type, type) == 0 &&
		    eq(a->p[i].string, s->policy_string) && eq(a->p[i].mx, s->mx_host))
			p = &a->p[i];
	if (p == NULL) {
		if (a->n == a->cap) {
			size_t nc = a->cap ? a->cap * 2 : 8;
			struct pol *np = realloc(a->p, nc * sizeof(*np));
			if (np == NULL)
				goto oom;
			a->p = np;
			a->cap = nc;
		}
		p = &a->p[a->n];
		memset(p, 0, sizeof(*p));
		if ((p->domain = strdup(s->policy_domain)) == NULL || (p->type = strdup(type)) == NULL)
			goto oom;
		p->string = sdup(s->policy_string);
		p->mx = sdup(s->mx_host);
		a->n++;
	}
	if (s->success) {
		p->success += count;
		return 0;
	}
	p->failure += count;
	const char *f[6] = { s->sending_mta_ip, s->receiving_mx_hostname, s->receiving_mx_helo,
		s->receiving_ip, s->additional_information, s->failure_reason_code };
	for (size_t k = 0; k < p->nd; k++) {
		struct detail *d = &p->d[k];
		bool same = d->result_type == rt;
		for (int j = 0; same && j < 6; j++)
			same = eq(d->fields[j], f[j]);
		if (same) {
			d->count += count;
			return 0;
		}
	}
	if (p->nd == p->capd) {
		size_t nc = p->capd ? p->capd * 2 : 4;
		struct detail *nd = realloc(p->d, nc * sizeof(*nd));
		if (nd == NULL)
			goto oom;
		p->d = nd;
		p->capd = nc;
	}
	struct detail *d = &p->d[p->nd++];
	d->result_type = rt;
	d->count = count;
	for (int j = 0; j < 6; j++)
		d->fields[j] = sdup(f[j]);
	return 0;
oom:
	ma_bprintf(err, errlen, "out of memory");
	return -1;
}

size_t
ma_tlsrpt_agg_domains(const struct ma_tlsrpt_agg *a, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k], a->p[i].domain) == 0;
		if (!seen && n < max)
			out[n++] = a->p[i].domain;
	}
	return n;
}

static void
rfc3339(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *
ma_tlsrpt_agg_report(const struct ma_tlsrpt_agg *a, const char *domain, const struct ma_tlsrpt_meta *m)
{
	char start[32], end[32];
	json_t *root = json_object(), *pols = json_array();

	rfc3339(m->start, start, sizeof(start));
	rfc3339(m->end, end, sizeof(end));
	json_object_set_new(root, "organization-name", json_string(m->organization_name ? m->organization_name : ""));
	json_object_set_new(root, "date-range", json_pack("{s:s, s:s}", "start-datetime", start, "end-datetime", end));
	json_object_set_new(root, "contact-info", json_string(m->contact_info ? m->contact_info : ""));
	json_object_set_new(root, "report-id", json_string(m->report_id ? m->report_id : ""));
	for (size_t i = 0; i < a->n; i++) {
		const struct pol *p = &a->p[i];
		if (strcmp(p->domain, domain) != 0)
			continue;
		json_t *pol = json_object(), *policy = json_object();
		json_object_set_new(policy, "policy-type", json_string(p->type));
		if (p->string) {
			/* policy-string: the policy's lines (4.4) */
			json_t *lines = json_array();
			const char *s = p->string;
			while (*s) {
				size_t l = strcspn(s, "\r\n");
				if (l)
					json_array_append_new(lines, json_stringn(s, l));
				s += l;
				s += strspn(s, "\r\n");
			}
			json_object_set_new(policy, "policy-string", lines);
		}
		json_object_set_new(policy, "policy-domain", json_string(p->domain));
		if (p->mx)
			json_object_set_new(policy, "mx-host", json_pack("[s]", p->mx));
		json_object_set_new(pol, "policy", policy);
		json_object_set_new(pol, "summary", json_pack("{s:I, s:I}",
		    "total-successful-session-count", (json_int_t)p->success,
		    "total-failure-session-count", (json_int_t)p->failure));
		if (p->nd) {
			json_t *fd = json_array();
			for (size_t k = 0; k < p->nd; k++) {
				json_t *d = json_object();
				json_object_set_new(d, "result-type", json_string(p->d[k].result_type));
				for (int j = 0; j < 6; j++)
					if (p->d[k].fields[j])
						json_object_set_new(d, detail_keys[j], json_string(p->d[k].fields[j]));
				json_object_set_new(d, "failed-session-count", json_integer((json_int_t)p->d[k].count));
				json_array_append_new(fd, d);
			}
			json_object_set_new(pol, "failure-details", fd);
		}
		json_array_append_new(pols, pol);
	}
	json_object_set_new(root, "policies", pols);
	char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

int
ma_tlsrpt_gzip(const void *data, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&z, (uLong)len) + 32;
	unsigned char *buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = cap - z.avail_out;
	return 0;
}

size_t
ma_tlsrpt_filename(char *buf, size_t len, const char *sender, const char *policy_domain,
    int64_t begin, int64_t end, const char *unique_id, bool gzipped)
{
	return ma_bprintf(buf, len, "%s!%s!%lld!%lld%s%s.%s", sender, policy_domain, (long long)begin,
	    (long long)end, unique_id ? "!" : "", unique_id ? unique_id : "", gzipped ? "json.gz" : "json");
}
