/* mailauth.core: resolver userdata and its backends' Lua faces. */
#include "lmailauth.h"

#include <limits.h>

#include <string.h>

/* ---- fixture from a Lua table (same shapes as the JSON zonedata) ---- */

static bool
fx_txt(struct ma_fixture *fx, const char *name, uint16_t type, lua_State *L, int v, bool list_is_strings)
{
	struct ma_txt_string st[64];
	size_t n = 0;

	v = lua_absindex(L, v);
	if (lua_type(L, v) == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, v, &len);
		if (type == MA_RR_TXT && strcmp(s, "NONE") == 0)
			return ma_fixture_mark_txt(fx, name);
		if (type == MA_RR_SPF && strcmp(s, "NONE") == 0)
			return ma_fixture_add_empty(fx, name);
		st[0].data = (const unsigned char *)s;
		st[0].len = len;
		return ma_fixture_add_txt(fx, name, type, st, 1);
	}
	if (!lua_istable(L, v))
		return false;
	lua_Integer cnt = luaL_len(L, v);
	if (cnt == 0)
		return ma_fixture_add_empty(fx, name);
	if (!list_is_strings) {
		for (lua_Integer i = 1; i <= cnt; i++) {
			lua_rawgeti(L, v, i);
			bool ok = fx_txt(fx, name, type, L, -1, true);
			lua_pop(L, 1);
			if (!ok)
				return false;
		}
		return true;
	}
	if (cnt > 64)
		return false;
	for (lua_Integer i = 1; i <= cnt; i++, n++) {
		lua_rawgeti(L, v, i);
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 1);
			return false;
		}
		/* The string stays alive in the table while we use it. */
		st[n].data = (const unsigned char *)lua_tolstring(L, -1, &st[n].len);
		lua_pop(L, 1);
	}
	return ma_fixture_add_txt(fx, name, type, st, n);
}

static bool
fx_value(struct ma_fixture *fx, const char *name, const char *tname, lua_State *L, int v, bool suite)
{
	uint16_t type = ma_rrtype_from_name(tname, strlen(tname));

	v = lua_absindex(L, v);
	switch (type) {
	case MA_RR_TXT:
	case MA_RR_SPF:
		return fx_txt(fx, name, type, L, v, suite);
	case MA_RR_MX: {
		if (!lua_istable(L, v))
			return false;
		lua_rawgeti(L, v, 1);
		lua_rawgeti(L, v, 2);
		bool ok = lua_isinteger(L, -2) && lua_type(L, -1) == LUA_TSTRING &&
		    lua_tointeger(L, -2) >= 0 && lua_tointeger(L, -2) <= 65535 &&
		    ma_fixture_add_mx(fx, name, (unsigned)lua_tointeger(L, -2), lua_tostring(L, -1));
		lua_pop(L, 2);
		return ok;
	}
	case MA_RR_A:
	case MA_RR_AAAA:
	case MA_RR_PTR:
	case MA_RR_CNAME:
	case MA_RR_NS: {
		if (lua_type(L, v) != LUA_TSTRING)
			return false;
		const char *s = lua_tostring(L, v);
		return type == MA_RR_A ? ma_fixture_add_a(fx, name, s) :
		    type == MA_RR_AAAA ? ma_fixture_add_aaaa(fx, name, s) :
		    ma_fixture_add_name(fx, name, type, s);
	}
	default:
		return false;
	}
}

/* In the corpus shape a value is a list of values: {"192.0.2.1", ...}, or
 * for MX a list of pairs {{10, "mx"}, ...}. */
static bool
is_value_list(lua_State *L, int v, uint16_t type)
{
	bool list;

	if (!lua_istable(L, v))
		return false;
	if (type != MA_RR_MX)
		return true;
	lua_rawgeti(L, v, 1);
	list = lua_istable(L, -1);
	lua_pop(L, 1);
	return list;
}

/* Loads {name = records} at index t; raises on malformed data. */
static void
fx_table(lua_State *L, struct ma_fixture *fx, int t)
{
	t = lua_absindex(L, t);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		bool ok = true;
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			ma_fixture_free(fx);
			luaL_error(L, "fixture: names must be strings");
		}
		const char *name = lua_tostring(L, -2);
		char norm[MA_DNS_NAME_MAX];
		if (!ma_dns_name_normalize(name, strlen(name), norm)) {
			lua_pop(L, 1);
			continue;
		}
		if (lua_type(L, -1) == LUA_TSTRING) {
			const char *s = lua_tostring(L, -1);
			ok = strcmp(s, "TIMEOUT") == 0 ? ma_fixture_set_timeout(fx, name) :
			    strcmp(s, "SERVFAIL") == 0 ? ma_fixture_set_servfail(fx, name) : false;
		} else if (lua_istable(L, -1) && luaL_len(L, -1) > 0) {
			/* suite shape: a list of one-key records or status strings */
			for (lua_Integer i = 1; ok && i <= luaL_len(L, -1); i++) {
				lua_rawgeti(L, -1, i);
				if (lua_type(L, -1) == LUA_TSTRING) {
					const char *s = lua_tostring(L, -1);
					ok = strcmp(s, "TIMEOUT") == 0 ? ma_fixture_set_timeout(fx, name) :
					    strcmp(s, "SERVFAIL") == 0 ? ma_fixture_set_servfail(fx, name) : false;
				} else if (lua_istable(L, -1)) {
					lua_pushnil(L);
					int keys = 0;
					while (ok && lua_next(L, -2)) {
						ok = ++keys == 1 && lua_type(L, -2) == LUA_TSTRING &&
						    fx_value(fx, name, lua_tostring(L, -2), L, -1, true);
						lua_pop(L, 1);
					}
					if (!ok && keys)
						lua_pop(L, 1);	/* the key left by an early stop */
					ok = ok && keys == 1;
				} else
					ok = false;
				lua_pop(L, 1);
			}
		} else if (lua_istable(L, -1)) {
			/* corpus shape: {TYPE = value or list of values} */
			int n = 0;
			lua_pushnil(L);
			while (ok && lua_next(L, -2)) {
				n++;
				const char *tn = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
				uint16_t type = ma_rrtype_from_name(tn, strlen(tn));
				if (type == MA_RR_TXT || type == MA_RR_SPF)
					ok = fx_txt(fx, name, type, L, -1, false);
				else if (is_value_list(L, -1, type)) {
					for (lua_Integer i = 1; ok && i <= luaL_len(L, -1); i++) {
						lua_rawgeti(L, -1, i);
						ok = fx_value(fx, name, tn, L, -1, false);
						lua_pop(L, 1);
					}
				} else
					ok = fx_value(fx, name, tn, L, -1, false);
				lua_pop(L, 1);
				if (!ok)
					lua_pop(L, 1);	/* the key */
			}
			if (ok && n == 0)
				ok = ma_fixture_add_empty(fx, name);
			if (!ok) {
				lua_pop(L, 2);
				ma_fixture_free(fx);
				luaL_error(L, "fixture: bad records at '%s'", name);
			}
			lua_pop(L, 1);
			continue;
		} else
			ok = ma_fixture_add_empty(fx, name);
		if (!ok) {
			lua_pop(L, 2);
			ma_fixture_free(fx);
			luaL_error(L, "fixture: bad records at '%s'", name);
		}
		lua_pop(L, 1);
	}
}

/* ---- callback backend ---- */

static struct ma_answer *
lua_answer(lua_State *L, int idx, uint16_t type)
{
	if (lua_isnil(L, idx))
		return ma_answer_status(MA_DNS_NXDOMAIN);
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		static const struct { const char *n; enum ma_dns_status st; } m[] = {
			{ "nxdomain", MA_DNS_NXDOMAIN }, { "nodata", MA_DNS_NODATA },
			{ "timeout", MA_DNS_TIMEOUT }, { "servfail", MA_DNS_SERVFAIL },
			{ "error", MA_DNS_ERROR },
		};
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			if (strcmp(s, m[i].n) == 0)
				return ma_answer_status(m[i].st);
		return ma_answer_status(MA_DNS_ERROR);
	}
	if (!lua_istable(L, idx))
		return ma_answer_status(MA_DNS_ERROR);
	/* A list of record values of the asked type, answered through a
	 * one-name fixture so the value forms are the fixture's. */
	struct ma_fixture *fx = ma_fixture_new();
	const char *tn = ma_rrtype_name(type);
	bool ok = fx != NULL;
	lua_Integer n = luaL_len(L, idx);
	for (lua_Integer i = 1; ok && i <= n; i++) {
		lua_rawgeti(L, idx, i);
		ok = fx_value(fx, "answer.invalid", tn, L, -1, true);
		lua_pop(L, 1);
	}
	if (!ok) {
		ma_fixture_free(fx);
		return ma_answer_status(MA_DNS_ERROR);
	}
	ma_fixture_add_empty(fx, "answer.invalid");
	struct ma_resolver *r = ma_resolver_new_fixture(fx);
	struct ma_answer *a = r ? ma_resolve1(r, NULL, "answer.invalid", type) : ma_answer_status(MA_DNS_ERROR);
	ma_resolver_free(r);
	return a;
}

static struct ma_answer *
callback_fn(void *ctx, const char *name, uint16_t type)
{
	struct lresolver *lr = ctx;
	lua_State *L = lr->L;
	struct ma_answer *a;

	if (L == NULL)
		return ma_answer_status(MA_DNS_ERROR);
	lua_rawgeti(L, LUA_REGISTRYINDEX, lr->cbref);
	lua_pushstring(L, name);
	lua_pushstring(L, ma_rrtype_name(type));
	/* A failing callback is a DNS error for the check, not a crash. */
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		lua_pop(L, 1);
		return ma_answer_status(MA_DNS_ERROR);
	}
	a = lua_answer(L, -1, type);
	lua_pop(L, 1);
	return a;
}

/* ---- resolver userdata ---- */

struct lresolver *
lm_check_resolver(lua_State *L, int i)
{
	struct lresolver *lr = luaL_checkudata(L, i, RESOLVER_MT);

	if (lr->r == NULL)
		luaL_argerror(L, i, "resolver is closed");
	return lr;
}

static char *
servers_arg(lua_State *L, int t, char *buf, size_t len)
{
	lua_getfield(L, t, "servers");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if (lua_type(L, -1) == LUA_TSTRING)
		ma_strlcpy(buf, lua_tostring(L, -1), len);
	else if (lua_istable(L, -1)) {
		size_t o = 0;
		buf[0] = '\0';
		for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
			lua_rawgeti(L, -1, i);
			if (lua_type(L, -1) != LUA_TSTRING)
				luaL_error(L, "option 'servers' must list strings");
			o += ma_bprintf(buf + o, len - o, "%s%s", o ? "," : "", lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	} else
		luaL_error(L, "option 'servers' must be a string or a list");
	lua_pop(L, 1);
	return buf;
}

int
lm_resolver(lua_State *L)
{
	char err[256], servers[1024];
	struct lresolver *lr;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	lr = lua_newuserdatauv(L, sizeof(*lr), 1);
	lr->r = NULL;
	lr->keys = NULL;
	lr->L = NULL;
	lr->busy = 0;
	lr->cbref = LUA_NOREF;
	luaL_setmetatable(L, RESOLVER_MT);

	lua_getfield(L, 1, "fixture");
	lua_getfield(L, 1, "callback");
	if (!lua_isnil(L, -2)) {
		struct ma_fixture *fx = ma_fixture_new();
		if (fx == NULL)
			return luaL_error(L, "out of memory");
		if (lua_type(L, -2) == LUA_TSTRING) {
			if (!ma_fixture_load_file(fx, lua_tostring(L, -2), err, sizeof(err))) {
				ma_fixture_free(fx);
				return luaL_error(L, "%s", err);
			}
		} else if (lua_istable(L, -2))
			fx_table(L, fx, -2);
		else {
			ma_fixture_free(fx);
			return luaL_error(L, "option 'fixture' must be a file name or a table");
		}
		lr->r = ma_resolver_new_fixture(fx);
	} else if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TFUNCTION);
		lua_pushvalue(L, -1);
		lr->cbref = luaL_ref(L, LUA_REGISTRYINDEX);
		lr->r = ma_resolver_new_callback(callback_fn, lr);
	} else {
		struct ma_net_opts o = {
			.servers = servers_arg(L, 1, servers, sizeof(servers)),
			.timeout_ms = lm_opt_uint(L, 1, "timeout", 2, 1000, UINT_MAX),
			.tries = lm_opt_uint(L, 1, "tries", 2, 1, UINT_MAX),
			.edns_size = lm_opt_uint(L, 1, "edns", 1232, 1, UINT_MAX),
			.tcp = lm_opt_bool(L, 1, "tcp", false),
		};
		if (o.timeout_ms == 0)
			o.timeout_ms = 1;
		lr->r = ma_resolver_new_net(&o, err, sizeof(err));
		if (lr->r == NULL)
			return luaL_error(L, "%s", err);
	}
	lua_pop(L, 2);
	if (lr->r == NULL)
		return luaL_error(L, "out of memory");

	/* A cache, unless turned off: cache = false, or a size in entries. */
	lua_getfield(L, 1, "cache");
	if (!(lua_isboolean(L, -1) && !lua_toboolean(L, -1))) {
		size_t n = lua_isinteger(L, -1) ? (size_t)lua_tointeger(L, -1) : 10000;
		struct ma_cache *c = ma_cache_new(n, 0, 0);
		if (c) {
			ma_resolver_set_cache(lr->r, c);
			ma_cache_unref(c);
		}
	}
	lua_pop(L, 1);
	lr->keys = ma_dkim_keycache_new(1024);
	return 1;
}

static int l_resolver_gc(lua_State *);

lua_State *
lm_use(struct lresolver *lr, lua_State *L)
{
	lua_State *prev = lr->L;

	lr->L = L;
	lr->busy++;
	return prev;
}

void
lm_unuse(struct lresolver *lr, lua_State *prev)
{
	lr->L = prev;
	lr->busy--;
}

static int
l_resolver_close(lua_State *L)
{
	struct lresolver *lr = luaL_checkudata(L, 1, RESOLVER_MT);

	if (lr->busy > 0)
		return luaL_error(L, "resolver is in use by a check: close it afterwards");
	lua_settop(L, 1);
	return l_resolver_gc(L);
}

static int
l_resolver_gc(lua_State *L)
{
	struct lresolver *lr = luaL_checkudata(L, 1, RESOLVER_MT);

	ma_resolver_free(lr->r);
	lr->r = NULL;
	ma_dkim_keycache_free(lr->keys);
	lr->keys = NULL;
	if (lr->cbref != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, lr->cbref);
		lr->cbref = LUA_NOREF;
	}
	return 0;
}

static void
push_rr(lua_State *L, const struct ma_rr *rr)
{
	char buf[64];

	switch (rr->type) {
	case MA_RR_A:
	case MA_RR_AAAA: {
		struct ma_ip ip = { rr->type == MA_RR_A ? 4 : 6, { 0 } };
		memcpy(ip.addr, rr->type == MA_RR_A ? rr->u.a : rr->u.aaaa, rr->type == MA_RR_A ? 4 : 16);
		ma_ip_format(&ip, buf, sizeof(buf));
		lua_pushstring(L, buf);
		break;
	}
	case MA_RR_MX:
		lua_createtable(L, 2, 0);
		lua_pushinteger(L, rr->u.mx.pref);
		lua_rawseti(L, -2, 1);
		lua_pushstring(L, rr->u.mx.host);
		lua_rawseti(L, -2, 2);
		break;
	case MA_RR_TXT:
	case MA_RR_SPF:
		lua_createtable(L, (int)rr->u.txt.nstr, 0);
		for (size_t i = 0; i < rr->u.txt.nstr; i++) {
			lua_pushlstring(L, (const char *)rr->u.txt.str[i].data, rr->u.txt.str[i].len);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	default:
		lua_pushstring(L, rr->u.name ? rr->u.name : "");
		break;
	}
}

/* r:query(name, type) -> {status=, ad=, ttl=, records={...}} */
static int
l_resolver_query(lua_State *L)
{
	struct lresolver *lr = lm_check_resolver(L, 1);
	const char *name = luaL_checkstring(L, 2);
	const char *tn = luaL_optstring(L, 3, "A");
	uint16_t type = ma_rrtype_from_name(tn, strlen(tn));

	if (type == 0)
		return luaL_argerror(L, 3, "unknown record type");
	lua_State *prevL = lm_use(lr, L);
	struct ma_answer *a = ma_resolve1(lr->r, NULL, name, type);
	lm_unuse(lr, prevL);
	lua_createtable(L, 0, 4);
	lua_pushstring(L, ma_dns_status_name(a->status));
	lua_setfield(L, -2, "status");
	lua_pushboolean(L, a->ad);
	lua_setfield(L, -2, "ad");
	lua_pushinteger(L, a->ttl);
	lua_setfield(L, -2, "ttl");
	lua_createtable(L, (int)a->nrr, 0);
	for (size_t i = 0; i < a->nrr; i++) {
		push_rr(L, &a->rr[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "records");
	ma_answer_unref(a);
	return 1;
}

static int
l_resolver_backend(lua_State *L)
{
	lua_pushstring(L, ma_resolver_backend(lm_check_resolver(L, 1)->r));
	return 1;
}

static int
l_resolver_tostring(lua_State *L)
{
	struct lresolver *lr = luaL_checkudata(L, 1, RESOLVER_MT);

	lua_pushfstring(L, "mailauth.resolver (%s): %p", lr->r ? ma_resolver_backend(lr->r) : "closed", lr);
	return 1;
}

static const luaL_Reg resolver_methods[] = {
	{ "query", l_resolver_query },
	{ "backend", l_resolver_backend },
	{ "close", l_resolver_close },
	{ NULL, NULL },
};


struct lresolver *
lm_opt_resolver(lua_State *L, int t)
{
	struct lresolver *lr;

	lm_getfield(L, t, "resolver");
	lr = lm_check_resolver(L, -1);
	lua_pop(L, 1);	/* the options table keeps it alive */
	return lr;
}

void
lm_open_resolver(lua_State *L)
{
	if (luaL_newmetatable(L, RESOLVER_MT)) {
		luaL_newlib(L, resolver_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_resolver_gc);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_resolver_gc);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_resolver_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}
