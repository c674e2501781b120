/* The whole-message pipeline: SPF, DKIM, DMARC and Authentication-Results
 * for one message, and its first step, the DNS work that the three checks
 * will need sent as one concurrent batch into the resolver's cache, so that
 * the checks that follow (each sequential by nature) find their first
 * answers waiting. */
#ifndef MA_CHECK_H
#define MA_CHECK_H

#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "msg.h"
#include "resolver.h"
#include "spf.h"

#define MA_CHECK_MAX_PREFETCH	48

struct ma_check_batch {
	struct ma_query q[MA_CHECK_MAX_PREFETCH];
	char names[MA_CHECK_MAX_PREFETCH][MA_DNS_NAME_MAX + 8];
	size_t n;
};

/* The names ma_check_prefetch asks for, normalized and without repeats,
 * from the message's own (hostile) fields. */
void	 ma_check_prefetch_names(const struct ma_msg *, const char *spf_domain, unsigned max_signatures,
	    struct ma_check_batch *);

/* Prefetches: the SPF record of spf_domain, every DKIM key the message's
 * signatures name (up to max_signatures), and the _dmarc names of the
 * author domain's tree walk.  Returns the number of queries sent; 0 when the
 * resolver has no cache (the answers would be lost) or is not the network
 * backend (nothing to overlap). */
size_t	 ma_check_prefetch(struct ma_resolver *, struct ma_budget *, const struct ma_msg *,
	    const char *spf_domain, unsigned max_signatures);

/*
 * The whole inbound check of one message: SPF of the envelope, every DKIM
 * signature, DMARC of the From domain with those two as its identities,
 * the Authentication-Results field for them, and the message's fields that
 * claim our authserv-id.  What a host (the Lua module, an MTA adapter)
 * runs at DATA; the site policy's verdict is the host's to add.
 */
struct ma_check_request {
	const char *ip, *helo, *mail_from;	/* the SMTP envelope */
	const char *authserv_id;	/* ours, for the A-R field; NULL = "localhost" */
	int64_t now;			/* SPF %{t} and DKIM t=/x=; 0 = time(NULL) */
	struct ma_dkim_verify_opts dkim;	/* its now is overridden by now when 0 */
	bool rfc7489;			/* DMARC in RFC 7489 mode (needs psl) */
	const struct ma_psl *psl;
	unsigned sample;		/* 0-99 against pct= (ma_dmarc_sample()) */
	bool check_reports;		/* authorize external rua/ruf */
	bool received_spf;		/* also write the Received-SPF field */
	bool no_authres;		/* the caller builds A-R itself */
};

struct ma_check_result {
	struct ma_spf_outcome spf;
	char received_spf[2048];	/* when asked for, else "" */
	struct ma_dkim_sig *sigs;	/* the caller's array, nsigs written */
	size_t nsigs;
	struct ma_dmarc_outcome dmarc;
	char *authres;			/* malloc'd (ma_check_result_free), or NULL */
	size_t *forged;			/* their header indexes (ma_msg_header), malloc'd */
	size_t nforged;
};

#define MA_CHECK_MAX_SIGS	32	/* signatures checked at most (ma_dkim_verify's cap too) */

/* Runs the check; sigs[0..max_sigs) receives the DKIM results.  Returns 0;
 * -1 when the request itself is unusable (an unparsable client IP), -2
 * out of memory.  ma_check_result_free() is due in every case. */
int	 ma_check_run(struct ma_resolver *, struct ma_budget *, const struct ma_msg *,
	    const struct ma_check_request *, struct ma_dkim_sig *sigs, size_t max_sigs,
	    struct ma_check_result *);
void	 ma_check_result_free(struct ma_check_result *);


#endif
