/* mailauth.core: Authentication-Results, and the pipeline's prefetch. */
#include "check.h"
#include "lmailauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* authres_build(authserv_id, { {method=, result=, reason=, comment=,
 *   props = { {ptype, property, value}, ... } }, ... }) -> header field */
int
lm_authres_build(lua_State *L)
{
	struct ma_ar a;
	const char *id = luaL_checkstring(L, 1);

	luaL_checktype(L, 2, LUA_TTABLE);
	/* Read everything first: nothing may raise while the builder holds
	 * memory. */
	lua_Integer n = luaL_len(L, 2);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		luaL_checktype(L, -1, LUA_TTABLE);
		lm_opt_string(L, -1, "method", NULL);
		lm_opt_string(L, -1, "result", NULL);
		lm_opt_string(L, -1, "reason", NULL);
		lm_opt_string(L, -1, "comment", NULL);
		lua_getfield(L, -1, "props");
		if (!lua_isnil(L, -1)) {
			luaL_checktype(L, -1, LUA_TTABLE);
			for (lua_Integer k = 1; k <= luaL_len(L, -1); k++) {
				lua_rawgeti(L, -1, k);
				luaL_checktype(L, -1, LUA_TTABLE);
				for (int j = 1; j <= 3; j++) {
					lua_rawgeti(L, -1, j);
					if (lua_type(L, -1) != LUA_TSTRING)
						return luaL_error(L, "a property is {ptype, property, value} strings");
					lua_pop(L, 1);
				}
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 2);
	}
	ma_ar_init(&a, id);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		int t = lua_gettop(L);
		const char *m = lm_opt_string(L, t, "method", NULL);
		const char *r = lm_opt_string(L, t, "result", NULL);
		if (m && r) {
			ma_ar_method(&a, m, r, lm_opt_string(L, t, "reason", NULL));
			lua_getfield(L, t, "props");
			if (lua_istable(L, -1))
				for (lua_Integer k = 1; k <= luaL_len(L, -1); k++) {
					lua_rawgeti(L, -1, k);
					lua_rawgeti(L, -1, 1);
					lua_rawgeti(L, -2, 2);
					lua_rawgeti(L, -3, 3);
					ma_ar_prop(&a, lua_tostring(L, -3), lua_tostring(L, -2), lua_tostring(L, -1));
					lua_pop(L, 4);
				}
			lua_pop(L, 1);
			const char *c = lm_opt_string(L, t, "comment", NULL);
			if (c)
				ma_ar_comment(&a, c);
		}
		lua_pop(L, 1);
	}
	char *h = ma_ar_finish(&a);
	if (h == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, h);
	free(h);
	return 1;
}

static void
push_span(lua_State *L, const char *k, struct ma_ar_span s)
{
	if (s.p == NULL)
		return;
	lua_pushlstring(L, s.p, s.len);
	lua_setfield(L, -2, k);
}

/* authres_parse(value) -> { authserv_id, version, none, results = {
 *   {method, result, reason, props = { ["header.d"] = v, ... }} } } | nil, err */
int
lm_authres_parse(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	struct ma_ar_parsed *p = lua_newuserdatauv(L, sizeof(*p), 0);
	char err[128];

	if (ma_authres_parse(v, len, p, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_createtable(L, 0, 4);
	push_span(L, "authserv_id", p->authserv_id);
	lm_set_int(L, "version", p->version);
	lua_pushboolean(L, p->none);
	lua_setfield(L, -2, "none");
	lua_createtable(L, (int)p->nresults, 0);
	for (size_t i = 0; i < p->nresults; i++) {
		const struct ma_ar_result *r = &p->results[i];
		lua_createtable(L, 0, 4);
		push_span(L, "method", r->method);
		push_span(L, "result", r->result);
		push_span(L, "reason", r->reason);
		lua_createtable(L, 0, (int)r->nprops);
		for (size_t k = 0; k < r->nprops; k++) {
			luaL_Buffer b;
			luaL_buffinit(L, &b);
			luaL_addlstring(&b, r->props[k].ptype.p, r->props[k].ptype.len);
			luaL_addchar(&b, '.');
			luaL_addlstring(&b, r->props[k].property.p, r->props[k].property.len);
			luaL_pushresult(&b);
			lua_pushlstring(L, r->props[k].value.p, r->props[k].value.len);
			lua_settable(L, -3);
		}
		lua_setfield(L, -2, "props");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "results");
	return 1;
}

/* authres_claims(value, authserv_id) -> boolean */
int
lm_authres_claims(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);

	lua_pushboolean(L, ma_authres_claims(v, len, luaL_checkstring(L, 2)));
	return 1;
}

/* prefetch{ resolver =, message =, spf_domain =, budget = } -> queries sent */
int
lm_prefetch(lua_State *L)
{
	struct ma_budget budget, *b;

	luaL_checktype(L, 1, LUA_TTABLE);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	const char *spf = lm_opt_string(L, 1, "spf_domain", NULL);
	b = lm_budget_arg(L, 1, &budget);
	lua_getfield(L, 1, "message");
	const struct ma_msg *m = lua_isnil(L, -1) ? NULL : lm_check_message(L, -1);
	lr->L = L;
	size_t n = ma_check_prefetch(lr->r, b, m, spf, 10);
	lr->L = NULL;
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

/* A string field of the table at t, or NULL (the table keeps it alive). */
static const char *
field(lua_State *L, int t, const char *k)
{
	const char *s;

	lua_getfield(L, t, k);
	s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1);
	return s && *s ? s : NULL;
}

static bool
same(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static void
prop(struct ma_ar *a, const char *ptype, const char *p, const char *v)
{
	if (v)
		ma_ar_prop(a, ptype, p, v);
}

/* authres{ authserv_id =, spf =, dkim =, dmarc = }: the field from result
 * tables of mailauth.spf, mailauth.dkim.verify and mailauth.dmarc. */
int
lm_authres(lua_State *L)
{
	struct ma_ar a;
	char buf[128];

	luaL_checktype(L, 1, LUA_TTABLE);
	const char *id = field(L, 1, "authserv_id");
	if (id == NULL)
		return luaL_error(L, "option 'authserv_id' is required");
	/* Everything is read before the builder holds memory: nothing
	 * below raises (only strings are read, with lua_getfield on plain
	 * result tables). */
	ma_ar_init(&a, id);
	lua_getfield(L, 1, "spf");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		const char *res = field(L, t, "result");
		const char *reason = field(L, t, "reason");
		ma_ar_method(&a, "spf", res ? res : "none",
		    same(res, "permerror") || same(res, "temperror") ? reason : NULL);
		if (same(field(L, t, "identity"), "helo"))
			prop(&a, "smtp", "helo", field(L, t, "domain"));
		else {
			const char *s = field(L, t, "sender");
			prop(&a, "smtp", "mailfrom", s ? s : field(L, t, "domain"));
		}
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "dkim");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		lua_Integer n = (lua_Integer)lua_rawlen(L, t);
		if (n == 0)
			ma_ar_method(&a, "dkim", "none", NULL);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, t, i);
			if (lua_istable(L, -1)) {
				int s = lua_gettop(L);
				const char *res = field(L, s, "result");
				ma_ar_method(&a, "dkim", res ? res : "none", same(res, "pass") ? NULL : field(L, s, "reason"));
				prop(&a, "header", "d", field(L, s, "domain"));
				prop(&a, "header", "s", field(L, s, "selector"));
				prop(&a, "header", "a", field(L, s, "algorithm"));
				prop(&a, "header", "b", field(L, s, "header_b"));
				lua_getfield(L, s, "bits");
				lua_Integer bits = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
				lua_pop(L, 1);
				lua_getfield(L, s, "testing");
				bool testing = lua_toboolean(L, -1);
				lua_pop(L, 1);
				if (bits > 0) {
					snprintf(buf, sizeof(buf), "%lld-bit key%s", (long long)bits, testing ? ", testing" : "");
					ma_ar_comment(&a, buf);
				}
			}
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "dmarc");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		const char *res = field(L, t, "result");
		const char *pol = field(L, t, "policy");
		ma_ar_method(&a, "dmarc", res ? res : "none",
		    same(res, "permerror") || same(res, "temperror") ? field(L, t, "reason") : NULL);
		prop(&a, "header", "from", field(L, t, "author_domain"));
		prop(&a, "policy", "dmarc", pol);
		const char *req = field(L, t, "requested_policy");
		const char *dis = field(L, t, "disposition");
		const char *arc = field(L, t, "arc");
		lua_getfield(L, t, "testing");
		bool testing = lua_toboolean(L, -1);
		lua_pop(L, 1);
		size_t o = 0;
		buf[0] = '\0';
		if (pol)
			o = ma_bprintf(buf, sizeof(buf), "p=%s dis=%s%s", req ? req : pol, dis ? dis : "none",
			    testing ? " t=y" : "");
		if (arc)
			ma_bprintf(buf + o, sizeof(buf) - o, "%sarc=%s", o ? " " : "", arc);
		if (buf[0])
			ma_ar_comment(&a, buf);
	}
	lua_pop(L, 1);
	char *h = ma_ar_finish(&a);
	if (h == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, h);
	free(h);
	return 1;
}
