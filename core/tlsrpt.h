/* SMTP TLS Reporting (RFC 8460): the _smtp._tls record, an aggregator of
 * session outcomes, report generation (JSON, gzip, file naming) and the
 * parsing of received reports. */
#ifndef MA_TLSRPT_H
#define MA_TLSRPT_H

#include "msg.h"
#include "resolver.h"

#include <stdbool.h>
#include <stdint.h>

#define MA_TLSRPT_MAX_RUA	8

struct ma_tlsrpt_record {
	size_t nrua;
	char rua[MA_TLSRPT_MAX_RUA][512];	/* mailto: or https: URIs */
};

/* 3: "v=TLSRPTv1" first, then rua= with one or more mailto/https URIs.
 * Returns 0, or -1 with a reason. */
int	 ma_tlsrpt_record_parse(const char *txt, size_t len, struct ma_tlsrpt_record *, char *err, size_t errlen);
/* The record at _smtp._tls.<domain>: 1 found, 0 none (or not exactly one
 * TLSRPTv1 record), -1 DNS error; reason set in every case. */
int	 ma_tlsrpt_lookup(struct ma_resolver *, struct ma_budget *, const char *domain,
	    struct ma_tlsrpt_record *, char *reason, size_t rlen);

/* The result types of RFC 8460 4.3; NULL when the name is not one. */
const char *ma_tlsrpt_result_type(const char *name);

/* One delivery attempt's outcome, as an MTA records it. */
struct ma_tlsrpt_session {
	const char *policy_domain;
	const char *policy_type;	/* "sts", "tlsa" or "no-policy-found" */
	const char *policy_string;	/* the policy as published, lines joined by LF; may be NULL */
	const char *mx_host;		/* an MX pattern of the policy; may be NULL */
	bool success;
	const char *result_type;	/* failures: a 4.3 result type */
	const char *sending_mta_ip, *receiving_mx_hostname, *receiving_mx_helo, *receiving_ip;
	const char *additional_information, *failure_reason_code;
	uint64_t count;			/* sessions this stands for; 0 = 1 */
};

/* 0 when the session can be reported (a policy domain, known policy and
 * result types), else -1 with a reason. */
int	 ma_tlsrpt_session_check(const struct ma_tlsrpt_session *, char *err, size_t errlen);

/* The outcome log that many processes (an MTA's deliveries) append to and
 * a report run reads (core/tlsrpt_log.c): one JSON object per line, each
 * written with a single write(2) on an O_APPEND descriptor, so concurrent
 * writers never interleave within a line and need no lock.  `when` is the
 * session's unix time (a report takes the lines of its period).  Returns 0,
 * or -1 with a reason (an unreportable session, or the file). */
int	 ma_tlsrpt_log_append(const char *path, const struct ma_tlsrpt_session *, int64_t when,
	    char *err, size_t errlen);

struct ma_tlsrpt_agg;
struct ma_tlsrpt_agg *ma_tlsrpt_agg_new(void);
void	 ma_tlsrpt_agg_free(struct ma_tlsrpt_agg *);
/* Returns 0, or -1 with a reason (unknown result type, missing domain). */
int	 ma_tlsrpt_agg_add(struct ma_tlsrpt_agg *, const struct ma_tlsrpt_session *, char *err, size_t errlen);
/* The policy domains seen, for one report each. */
size_t	 ma_tlsrpt_agg_domains(const struct ma_tlsrpt_agg *, const char **out, size_t max);

struct ma_tlsrpt_meta {
	const char *organization_name;
	const char *contact_info;
	const char *report_id;
	int64_t start, end;		/* unix times of the report period */
};
/* The JSON report (RFC 8460 4.4) for one policy domain, malloc'd. */
char	*ma_tlsrpt_agg_report(const struct ma_tlsrpt_agg *, const char *policy_domain,
	    const struct ma_tlsrpt_meta *);
/* gzip of data (malloc'd into *out). */
int	 ma_tlsrpt_gzip(const void *data, size_t len, unsigned char **out, size_t *outlen);
/* 5.3: sender "!" policy-domain "!" begin "!" end ["!" unique-id] "." ext */
size_t	 ma_tlsrpt_filename(char *buf, size_t len, const char *sender, const char *policy_domain,
	    int64_t begin, int64_t end, const char *unique_id, bool gzipped);

/*
 * Received reports.
 */
#define MA_TLSRPT_MAX_POLICIES	32
#define MA_TLSRPT_MAX_FAILTYPES	16

struct ma_tlsrpt_summary {
	char organization_name[256], report_id[256], contact_info[256];
	char start[64], end[64];
	size_t npolicies;
	struct {
		char type[32];		/* "sts", "tlsa", "no-policy-found" or "unknown" */
		char domain[256];
		uint64_t success, failure;
		size_t ntypes;
		struct {
			char result_type[64];
			uint64_t count;
		} failures[MA_TLSRPT_MAX_FAILTYPES];
	} policies[MA_TLSRPT_MAX_POLICIES];
	size_t deviations;		/* tolerated departures from RFC 8460 */
	char deviation[160];		/* the first of them */
};

/* Parses a report: JSON, or gzip of JSON.  Tolerant of known sender
 * deviations (numbers as strings, missing optional fields, unknown policy
 * types), which are counted.  Returns 0, or -1 with a reason. */
int	 ma_tlsrpt_parse(const void *data, size_t len, struct ma_tlsrpt_summary *, char *err, size_t errlen);
/* Finds the report in a report e-mail (application/tlsrpt+gzip,
 * application/tlsrpt+json, and the unregistered application/tlsrpt) and
 * parses it.  media_type receives the attachment's type. */
int	 ma_tlsrpt_parse_email(const struct ma_msg *, struct ma_tlsrpt_summary *, char *media_type,
	    size_t mtlen, char *err, size_t errlen);

#endif
