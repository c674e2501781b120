/* Shared by the files of the mailauth.core Lua binding. */
#ifndef LMAILAUTH_H
#define LMAILAUTH_H

#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "ip.h"
#include "msg.h"
#include "resolver.h"
#include "spf.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>

#define RESOLVER_MT	"mailauth.resolver"
#define MESSAGE_MT	"mailauth.message"
#define BUDGET_MT	"mailauth.budget"
#define PSL_MT		"mailauth.psl"
#define ARRAY_MT	"mailauth.array"	/* marks lists (JSON arrays, even empty) */

struct lresolver {
	struct ma_resolver *r;
	struct ma_dkim_keycache *keys;	/* decoded DKIM keys, kept with the resolver */
	lua_State *L;		/* the state running the current check (callback) */
	unsigned busy;		/* checks running on it (a callback may start one) */
	int cbref;		/* registry ref of the callback, or LUA_NOREF */
};

/* Options read from a table argument; raise on a wrong type.  A string
 * option is returned as a pointer after its value is popped: a function
 * that reads options calls lm_enter() once its positional arguments are
 * checked (it pushes a to-be-closed keep list), and lm_getfield/lm_anchor
 * keep every string, table and userdata read alive in it until the
 * function returns, whatever a resolver callback or an __index metamethod
 * does to the options meanwhile. */
void		 lm_enter(lua_State *);
void		 lm_anchor(lua_State *);	/* the value on the stack top */
int		 lm_getfield(lua_State *, int t, const char *k);
const char	*lm_opt_string(lua_State *, int t, const char *k, const char *def);
lua_Number	 lm_opt_number(lua_State *, int t, const char *k, lua_Number def);
/* A count or duration: the number times scale, clamped to [0, max]. */
unsigned	 lm_opt_uint(lua_State *, int t, const char *k, lua_Number def, lua_Number scale, unsigned max);
/* A time in seconds: non-negative, below 2^53. */
int64_t		 lm_opt_time(lua_State *, int t, const char *k, int64_t def);
bool		 lm_opt_bool(lua_State *, int t, const char *k, bool def);
/* Fields of the result table on the stack top. */
void		 lm_set_str(lua_State *, const char *k, const char *v);
void		 lm_set_int(lua_State *, const char *k, lua_Integer v);
/* Marks the table on the stack top as a list. */
void		 lm_mark_array(lua_State *);
/* psl = mailauth.psl() from the options at t; raises when rfc7489 lacks it. */
const struct ma_psl *lm_opt_psl(lua_State *, int t, bool rfc7489);
/* budget = mailauth.budget or { queries =, timeout = } from the options at t;
 * absent: the defaults given, or NULL (no budget) when both are 0. */
struct ma_budget *lm_budget_arg(lua_State *, int t, struct ma_budget *, unsigned def_queries,
	    unsigned def_seconds);

struct lresolver *lm_check_resolver(lua_State *, int i);
/* Around a check that uses the resolver: its callback runs in L; nested
 * checks (from a callback) restore the outer state; close waits. */
lua_State	*lm_use(struct lresolver *, lua_State *L);
void		 lm_unuse(struct lresolver *, lua_State *prev);
/* The options' resolver field (required). */
struct lresolver *lm_opt_resolver(lua_State *, int t);
const struct ma_msg *lm_check_message(lua_State *, int i);

/* Result tables shared by the single checks and the pipeline. */
void	 lm_push_spf(lua_State *, const struct ma_spf_outcome *, const char *received);
void	 lm_dkim_opts(lua_State *, int t, const struct lresolver *, struct ma_dkim_verify_opts *);
struct ma_dkim_sig *lm_dkim_sigs(lua_State *, const struct ma_msg *, unsigned max_signatures,
	    struct ma_dkim_sig *stack, size_t have, size_t *room);
void	 lm_push_sigs(lua_State *, const struct ma_dkim_sig *, size_t n);
void	 lm_push_dmarc(lua_State *, const struct ma_dmarc_outcome *, const char *spf_domain, bool details);

void	 lm_open_resolver(lua_State *);
void	 lm_open_message(lua_State *);
void	 lm_open_psl(lua_State *);

int	 lm_resolver(lua_State *);
int	 lm_spf(lua_State *);
int	 lm_spf_record_check(lua_State *);
int	 lm_message(lua_State *);
int	 lm_dkim_verify(lua_State *);
int	 lm_dkim_sign(lua_State *);
int	 lm_dkim_keygen(lua_State *);
int	 lm_dkim_key_record(lua_State *);
int	 lm_dmarc(lua_State *);
int	 lm_dmarc_record_parse(lua_State *);
int	 lm_authres_build(lua_State *);
int	 lm_authres(lua_State *);
int	 lm_authres_parse(lua_State *);
int	 lm_authres_claims(lua_State *);
int	 lm_prefetch(lua_State *);
int	 lm_check(lua_State *);
int	 lm_cidr_valid(lua_State *);
int	 lm_ip_in(lua_State *);
int	 lm_sts_record_parse(lua_State *);
int	 lm_sts_policy_parse(lua_State *);
int	 lm_sts_policy_id(lua_State *);
int	 lm_sts_mx_match(lua_State *);
int	 lm_sts_content_type_ok(lua_State *);
int	 lm_sts_discover(lua_State *);
int	 lm_sts_fetch(lua_State *);
int	 lm_sts_delivery(lua_State *);
int	 lm_sts_refresh(lua_State *);
int	 lm_tlsrpt_record_parse(lua_State *);
int	 lm_tlsrpt_lookup(lua_State *);
int	 lm_tlsrpt_parse(lua_State *);
int	 lm_tlsrpt_parse_email(lua_State *);
int	 lm_tlsrpt_gzip(lua_State *);
int	 lm_tlsrpt_filename(lua_State *);
int	 lm_tlsrpt_aggregator(lua_State *);
int	 lm_tlsrpt_log(lua_State *);
void	 lm_open_tlsrpt(lua_State *);
int	 lm_psl(lua_State *);

#endif
