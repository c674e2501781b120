/* mailauth.core: SPF. */
#include "lmailauth.h"

#include <limits.h>

#include <string.h>

/* The result table of an SPF outcome; received: the Received-SPF field or NULL. */
void
lm_push_spf(lua_State *L, const struct ma_spf_outcome *out, const char *received)
{
	lua_createtable(L, 0, 12);
	lm_set_str(L, "result", ma_spf_result_name(out->result));
	lm_set_str(L, "identity", out->helo_identity ? "helo" : "mailfrom");
	lm_set_str(L, "domain", out->domain);
	lm_set_str(L, "sender", out->sender);
	lm_set_str(L, "mechanism", out->mechanism);
	if (out->explanation[0])
		lm_set_str(L, "explanation", out->explanation);
	lm_set_str(L, "reason", out->reason);
	lm_set_int(L, "lookups", out->lookups);
	lm_set_int(L, "void_lookups", out->void_lookups);
	lm_set_int(L, "queries", out->queries);
	if (received)
		lm_set_str(L, "received_spf", received);
}

int
lm_spf(lua_State *L)
{
	struct ma_spf_request req;
	struct ma_spf_outcome *out;
	struct ma_budget budget, *b;
	char hdr[2048];

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);

	memset(&req, 0, sizeof(req));
	req.ip = lm_opt_string(L, 1, "ip", NULL);
	if (req.ip == NULL)
		return luaL_error(L, "option 'ip' is required");
	req.helo = lm_opt_string(L, 1, "helo", "");
	req.mail_from = lm_opt_string(L, 1, "mail_from", "");
	req.receiver = lm_opt_string(L, 1, "receiver", NULL);
	req.default_explanation = lm_opt_string(L, 1, "default_explanation", NULL);
	const char *ident = lm_opt_string(L, 1, "identity", "mailfrom");
	if (strcmp(ident, "helo") == 0)
		req.helo_identity = true;
	else if (strcmp(ident, "mailfrom") != 0)
		return luaL_error(L, "option 'identity' must be \"mailfrom\" or \"helo\"");
	req.now = lm_opt_time(L, 1, "now", 0);
	req.max_terms = lm_opt_uint(L, 1, "max_lookups", 0, 1, UINT_MAX);
	req.max_void = lm_opt_uint(L, 1, "max_void_lookups", 0, 1, UINT_MAX);
	b = lm_budget_arg(L, 1, &budget, 0, 0);

	struct ma_spf_outcome outs;
	out = &outs;
	lua_State *prevL = lm_use(lr, L);
	int rc = ma_spf_check(lr->r, b, &req, out);
	lm_unuse(lr, prevL);
	if (rc < 0)
		return luaL_error(L, "invalid IP address '%s'", req.ip);
	/* received_spf = false: the caller writes no Received-SPF field. */
	bool header = lm_opt_bool(L, 1, "received_spf", true);
	if (header)
		ma_spf_received(&req, out, hdr, sizeof(hdr));

	lm_push_spf(L, out, header ? hdr : NULL);
	return 1;
}

/* spf_record_check(text) -> true | false, reason */
int
lm_spf_record_check(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char reason[256];

	if (ma_spf_parse_check(s, len, reason, sizeof(reason)) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushboolean(L, 0);
	lua_pushstring(L, reason);
	return 2;
}

