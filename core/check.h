/* The whole-message pipeline's first step: the DNS work that SPF, DKIM and
 * DMARC will need, sent as one concurrent batch into the resolver's cache,
 * so that the checks that follow (each sequential by nature) find their
 * first answers waiting. */
#ifndef MA_CHECK_H
#define MA_CHECK_H

#include "msg.h"
#include "resolver.h"

/* Prefetches: the SPF record of spf_domain, every DKIM key the message's
 * signatures name (up to max_signatures), and the _dmarc names of the
 * author domain's tree walk.  Returns the number of queries sent; 0 when the
 * resolver has no cache (the answers would be lost) or is not the network
 * backend (nothing to overlap). */
size_t	 ma_check_prefetch(struct ma_resolver *, struct ma_budget *, const struct ma_msg *,
	    const char *spf_domain, unsigned max_signatures);

#endif
