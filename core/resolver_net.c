/* Network backend on c-ares: every query of a batch is sent at once and the
 * answers are collected in one poll loop, so ten MX hosts cost one round
 * trip, not ten.  c-ares does the transport (UDP, retry, TCP on truncation,
 * EDNS0); we build the query (to set the AD bit, RFC 6840 5.7) and read the
 * answer's records ourselves (dns_wire.c), keeping TXT strings and TTLs
 * exact. */
#include "resolver.h"
#include "ip.h"
#include "util.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
	ares_channel ch;
	int edns;		/* EDNS0 payload size in our queries; 0 = none */
	int64_t max_ms;		/* a batch's own limit: timeout x tries x servers */
};

struct pending_q {
	struct ma_query *q;
	bool done;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void
ares_global_init(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pending_q *pq = arg;

	(void)timeouts;
	pq->done = true;
	switch (status) {
	case ARES_SUCCESS:
		pq->q->ans = ma_dns_wire_answer(abuf, (size_t)alen, pq->q->type);
		break;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		pq->q->ans = ma_answer_status(MA_DNS_TIMEOUT);
		break;
	case ARES_ESERVFAIL:
		pq->q->ans = ma_answer_status(MA_DNS_SERVFAIL);
		break;
	case ARES_ENOTFOUND:
		pq->q->ans = ma_answer_status(MA_DNS_NXDOMAIN);
		break;
	default:
		pq->q->ans = abuf && alen >= 12 ? ma_dns_wire_answer(abuf, (size_t)alen, pq->q->type) :
		    ma_answer_status(MA_DNS_ERROR);
		break;
	}
}

static void
net_lookup(void *impl, struct ma_query *q, size_t n, int64_t deadline)
{
	struct net *nt = impl;
	struct pending_q pstack[16], *pq = pstack;
	size_t left = 0;

	/* c-ares doubles the timeout on every round over the servers
	 * (timeout << round): cap the batch at timeout_ms * tries per server. */
	int64_t cap = ma_now_ms() + nt->max_ms;
	if (deadline == 0 || cap < deadline)
		deadline = cap;
	if (n > 16 && (pq = calloc(n, sizeof(*pq))) == NULL) {
		for (size_t i = 0; i < n; i++)
			q[i].ans = ma_answer_status(MA_DNS_ERROR);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char *qbuf = NULL;
		int qlen = 0;

		pq[i].q = &q[i];
		pq[i].done = false;
		if (ares_create_query(q[i].name, C_IN, q[i].type, 0, 1, &qbuf, &qlen,
		    nt->edns) != ARES_SUCCESS) {
			pq[i].done = true;
			q[i].ans = ma_answer_status(MA_DNS_ERROR);
			continue;
		}
		qbuf[3] |= 0x20;	/* AD: ask for the validation status */
		left++;
		ares_send(nt->ch, qbuf, qlen, on_answer, &pq[i]);
		ares_free_string(qbuf);
	}
	while (left) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		/* Not ARES_GETSOCK_READABLE/WRITABLE: they shift a signed 1 by up
		 * to 31 (undefined behaviour, flagged by UBSan). */
		unsigned bits = (unsigned)ares_getsock(nt->ch, socks, ARES_GETSOCK_MAXNUM);
		int nfd = 0;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			bool rd = (bits & (1u << i)) != 0;
			bool wr = (bits & (1u << (i + ARES_GETSOCK_MAXNUM))) != 0;
			if (!rd && !wr)
				continue;
			pfd[nfd].fd = socks[i];
			pfd[nfd].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
			pfd[nfd].revents = 0;
			nfd++;
		}
		struct timeval tv, *tvp = ares_timeout(nt->ch, NULL, &tv);
		int64_t wait = tvp ? (int64_t)tvp->tv_sec * 1000 + tvp->tv_usec / 1000 + 1 : 1000;
		if (deadline) {
			int64_t rem = deadline - ma_now_ms();
			if (rem <= 0) {
				ares_cancel(nt->ch);
				break;
			}
			if (rem < wait)
				wait = rem;
		}
		int r = poll(pfd, (nfds_t)nfd, (int)wait);
		if (r <= 0) {
			ares_process_fd(nt->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		} else {
			for (int i = 0; i < nfd; i++) {
				ares_socket_t rfd = pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
				ares_socket_t wfd = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
				if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
					ares_process_fd(nt->ch, rfd, wfd);
			}
		}
		left = 0;
		for (size_t i = 0; i < n; i++)
			if (!pq[i].done)
				left++;
	}
	for (size_t i = 0; i < n; i++)
		if (q[i].ans == NULL)
			q[i].ans = ma_answer_status(MA_DNS_TIMEOUT);
	if (pq != pstack)
		free(pq);
}

static void
net_free(void *impl)
{
	struct net *nt = impl;

	if (nt->ch)
		ares_destroy(nt->ch);
	free(nt);
}

static const struct ma_resolver_ops net_ops = {
	"dns", net_lookup, net_free, false,
};

/* "IP@PORT,IP" (our syntax, as knotc/kdig write it) to c-ares' CSV. */
static bool
servers_csv(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char item[80], host[64];
		const char *port = NULL;
		unsigned char tmp[16];

		while (l && (*p == ' ')) { p++; l--; }
		if (l == 0 || l >= sizeof(item)) {
			ma_bprintf(err, errlen, "bad server list: %s", in);
			return false;
		}
		memcpy(item, p, l);
		item[l] = '\0';
		char *at = strchr(item, '@');
		if (at) {
			*at = '\0';
			port = at + 1;
			char *end;
			long pn = strtol(port, &end, 10);
			if (*port == '\0' || *end || pn < 1 || pn > 65535) {
				ma_bprintf(err, errlen, "bad port in server: %s", item);
				return false;
			}
		}
		ma_strlcpy(host, item, sizeof(host));
		bool v6 = strchr(host, ':') != NULL;
		if (v6 ? !ma_ip6_parse(tmp, host, strlen(host)) : !ma_ip4_parse_strict(tmp, host, strlen(host))) {
			ma_bprintf(err, errlen, "bad server address: %s", host);
			return false;
		}
		int w = snprintf(out + o, outlen - o, "%s%s%s%s%s%s", o ? "," : "",
		    v6 ? "[" : "", host, v6 ? "]" : "", port ? ":" : "", port ? port : "");
		if (w < 0 || (size_t)w >= outlen - o) {
			ma_bprintf(err, errlen, "server list too long");
			return false;
		}
		o += (size_t)w;
		p += l;
		if (*p == ',')
			p++;
	}
	if (o == 0) {
		ma_bprintf(err, errlen, "empty server list");
		return false;
	}
	return true;
}

struct ma_resolver *
ma_resolver_new_net(const struct ma_net_opts *o, char *err, size_t errlen)
{
	struct ares_options ao;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	char csv[1024];

	pthread_once(&ares_once, ares_global_init);
	if (ares_init_status != ARES_SUCCESS) {
		ma_bprintf(err, errlen, "c-ares: %s", ares_strerror(ares_init_status));
		return NULL;
	}
	if (o->servers && !servers_csv(o->servers, csv, sizeof(csv), err, errlen))
		return NULL;
	memset(&ao, 0, sizeof(ao));
	/* NOCHECKRESP: c-ares (1.18) otherwise swallows SERVFAIL, REFUSED and
	 * NOTIMP answers and reports ARES_ECONNREFUSED; we want the rcode
	 * (parse_answer maps 2 to SERVFAIL, the others to ERROR). */
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_STAYOPEN |
	    ARES_FLAG_NOCHECKRESP;
	if (o->tcp)
		ao.flags |= ARES_FLAG_USEVC;
	if (o->edns_size != 1) {
		ao.flags |= ARES_FLAG_EDNS;
		ao.ednspsz = (int)(o->edns_size ? o->edns_size : 1232);
		mask |= ARES_OPT_EDNSPSZ;
	}
	ao.timeout = (int)(o->timeout_ms ? o->timeout_ms : 2000);
	ao.tries = (int)(o->tries ? o->tries : 2);

	struct net *nt = calloc(1, sizeof(*nt));
	if (nt == NULL) {
		ma_bprintf(err, errlen, "out of memory");
		return NULL;
	}
	nt->edns = o->edns_size == 1 ? 0 : ao.ednspsz;
	int rc = ares_init_options(&nt->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		ma_bprintf(err, errlen, "c-ares init: %s", ares_strerror(rc));
		nt->ch = NULL;
		net_free(nt);
		return NULL;
	}
	if (o->servers && (rc = ares_set_servers_ports_csv(nt->ch, csv)) != ARES_SUCCESS) {
		ma_bprintf(err, errlen, "c-ares servers: %s", ares_strerror(rc));
		net_free(nt);
		return NULL;
	}
	int nservers = 0;
	struct ares_addr_port_node *sv = NULL;
	if (ares_get_servers_ports(nt->ch, &sv) == ARES_SUCCESS) {
		for (struct ares_addr_port_node *s = sv; s; s = s->next)
			nservers++;
		ares_free_data(sv);
	}
	nt->max_ms = (int64_t)ao.timeout * ao.tries * (nservers ? nservers : 1);
	return ma_resolver_new(&net_ops, nt);
}
