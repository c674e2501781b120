/* mailauth.core: Authentication-Results. */
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
	lm_enter(L);
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

/* A string field of the table at t, or NULL (the table keeps it alive:
 * lm_getfield). */
static const char *
field(lua_State *L, int t, const char *k)
{
	const char *s;

	lm_getfield(L, t, k);
	s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1);
	return s && *s ? s : NULL;
}

/* authres{ authserv_id =, spf =, dkim =, dmarc =, disposition = }: the field
 * from result tables of mailauth.spf, mailauth.dkim.verify and
 * mailauth.dmarc; disposition replaces the DMARC result's own (the site's
 * verdict). */
int
lm_authres(lua_State *L)
{
	struct ma_ar_spf as;
	struct ma_ar_dkim dstack[4], *ad = dstack;
	struct ma_ar_dmarc am;
	struct ma_ar_results ar = { 0 };

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	if ((ar.authserv_id = field(L, 1, "authserv_id")) == NULL)
		return luaL_error(L, "option 'authserv_id' is required");
	/* Strings only, read with lm_getfield from tables that the options
	 * table keeps alive. */
	lm_getfield(L, 1, "spf");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		as = (struct ma_ar_spf){ .result = field(L, t, "result"), .reason = field(L, t, "reason"),
			.domain = field(L, t, "domain"), .sender = field(L, t, "sender") };
		const char *ident = field(L, t, "identity");
		as.helo = ident && strcmp(ident, "helo") == 0;
		ar.spf = &as;
	}
	lua_pop(L, 1);
	lm_getfield(L, 1, "dkim");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		size_t n = lua_rawlen(L, t);
		if (n > sizeof(dstack) / sizeof(dstack[0]))
			ad = lua_newuserdatauv(L, n * sizeof(*ad), 0);	/* stays on the stack until return */
		ar.have_dkim = true;
		ar.dkim = ad;
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, t, (lua_Integer)i + 1);
			if (lua_istable(L, -1)) {
				int s = lua_gettop(L);
				struct ma_ar_dkim *d = &ad[ar.ndkim++];
				*d = (struct ma_ar_dkim){ .result = field(L, s, "result"), .reason = field(L, s, "reason"),
					.domain = field(L, s, "domain"), .selector = field(L, s, "selector"),
					.algorithm = field(L, s, "algorithm"), .header_b = field(L, s, "header_b") };
				lua_getfield(L, s, "bits");
				d->bits = lua_isinteger(L, -1) ? (long long)lua_tointeger(L, -1) : 0;
				lua_getfield(L, s, "testing");
				d->testing = lua_toboolean(L, -1);
				lua_pop(L, 2);
			}
			lua_pop(L, 1);
		}
	}
	lm_getfield(L, 1, "dmarc");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		am = (struct ma_ar_dmarc){ .result = field(L, t, "result"), .reason = field(L, t, "reason"),
			.author_domain = field(L, t, "author_domain"), .policy = field(L, t, "policy"),
			.requested = field(L, t, "requested_policy"), .disposition = field(L, t, "disposition"),
			.arc = field(L, t, "arc") };
		lua_getfield(L, t, "testing");
		am.testing = lua_toboolean(L, -1);
		lua_pop(L, 1);
		/* What the site applied, when its rules departed from the policy. */
		const char *dis = field(L, 1, "disposition");
		if (dis)
			am.disposition = dis;
		ar.dmarc = &am;
	}
	char *h = ma_authres_results(&ar);
	if (h == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, h);
	free(h);
	return 1;
}
