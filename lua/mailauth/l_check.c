/* mailauth.core: the whole-message pipeline (core/check.c) in one call, so
 * that a message costs one trip into C and one set of result tables; the
 * site policy's verdict is added in Lua (mailauth.check). */
#include "check.h"
#include "lmailauth.h"

#include <string.h>

/* prefetch{ resolver =, message =, spf_domain =, budget = } -> queries sent */
int
lm_prefetch(lua_State *L)
{
	struct ma_budget budget, *b;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	const char *spf = lm_opt_string(L, 1, "spf_domain", NULL);
	b = lm_budget_arg(L, 1, &budget, 0, 0);
	lua_getfield(L, 1, "message");
	const struct ma_msg *m = lua_isnil(L, -1) ? NULL : lm_check_message(L, -1);
	lua_State *prevL = lm_use(lr, L);
	size_t n = ma_check_prefetch(lr->r, b, m, spf, 10);
	lm_unuse(lr, prevL);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

/* Copies option k into the result table on the stack top. */
static void
copy(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	lua_setfield(L, -2, k);
}

/* check(opts, message, resolver, authserv_id): mailauth.check's options as
 * the caller gave them (no copy per message), with what mailauth.check
 * settled in Lua as arguments.
 * opts: ip, helo, mail_from, rcpt, budget, now, legacy, max_signatures,
 *   rfc7489, psl, sample, check_reports, details.
 * -> { spf, dkim, dmarc, authentication_results, forged_authres, queries,
 *      ip, helo, mail_from, rcpt } */
int
lm_check(lua_State *L)
{
	struct ma_check_request q;
	struct ma_check_result res;
	struct ma_budget own;
	struct ma_dkim_sig stack[2];
	size_t room;

	luaL_checktype(L, 1, LUA_TTABLE);
	const struct ma_msg *m = lm_check_message(L, 2);
	struct lresolver *lr = lm_check_resolver(L, 3);
	memset(&q, 0, sizeof(q));
	q.authserv_id = luaL_checkstring(L, 4);
	lm_enter(L);
	if ((q.ip = lm_opt_string(L, 1, "ip", NULL)) == NULL)
		return luaL_error(L, "option 'ip' is required");
	q.helo = lm_opt_string(L, 1, "helo", "");
	q.mail_from = lm_opt_string(L, 1, "mail_from", "");
	lm_dkim_opts(L, 1, lr, &q.dkim);
	q.now = q.dkim.now;
	q.rfc7489 = lm_opt_bool(L, 1, "rfc7489", false);
	q.check_reports = lm_opt_bool(L, 1, "check_reports", false);
	bool details = lm_opt_bool(L, 1, "details", false);
	q.received_spf = details;
	q.psl = lm_opt_psl(L, 1, q.rfc7489);
	/* RFC 7489 pct=: each message its own draw unless the caller fixes it. */
	lm_getfield(L, 1, "sample");
	bool fixed = !lua_isnil(L, -1);
	lua_pop(L, 1);
	q.sample = fixed ? lm_opt_uint(L, 1, "sample", 0, 1, 99) : q.rfc7489 ? ma_dmarc_sample() : 0;
	/* 200 queries and 20 s unless told: an MTA's DATA phase. */
	struct ma_budget *b = lm_budget_arg(L, 1, &own, 200, 20);
	struct ma_dkim_sig *sigs = lm_dkim_sigs(L, m, q.dkim.max_signatures, stack, 2, &room);

	lua_State *prevL = lm_use(lr, L);
	int rc = ma_check_run(lr->r, b, m, &q, sigs, room, &res);
	lm_unuse(lr, prevL);
	if (rc == -1) {
		ma_check_result_free(&res);
		return luaL_error(L, "invalid IP address '%s'", q.ip);
	}
	/* The two malloc'd parts become Lua values first and are freed right
	 * after: only a memory error in these few pushes could strand them. */
	lua_createtable(L, 0, 10);
	if (res.authres)
		lm_set_str(L, "authentication_results", res.authres);
	lua_createtable(L, (int)res.nforged, 0);
	for (size_t i = 0; i < res.nforged; i++) {
		lua_pushinteger(L, (lua_Integer)res.forged[i] + 1);	/* msg:headers() index */
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	lua_setfield(L, -2, "forged_authres");
	ma_check_result_free(&res);
	if (rc < 0)
		return luaL_error(L, "out of memory");

	lm_push_spf(L, &res.spf, details ? res.received_spf : NULL);
	lua_setfield(L, -2, "spf");
	lm_push_sigs(L, res.sigs, res.nsigs);
	lua_setfield(L, -2, "dkim");
	lm_push_dmarc(L, &res.dmarc, res.spf.domain, details);
	lua_setfield(L, -2, "dmarc");
	lm_set_int(L, "queries", b->queries);
	copy(L, 1, "ip");
	copy(L, 1, "helo");
	lm_set_str(L, "mail_from", q.mail_from);
	copy(L, 1, "rcpt");
	return 1;
}
