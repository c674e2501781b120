/*
 * mailauth.core: the Lua 5.4 binding of core/.
 *
 * Style after lstrlib/lauxlib: small static functions, one luaL_Reg table,
 * userdata with metatables and __gc.  Lua errors are raised only for
 * programmer mistakes (wrong argument types, an unusable IP address, an
 * unreadable fixture file); anything DNS or a sender can cause comes back as
 * a result table.  One file per concept: l_resolver.c, l_spf.c,
 * l_message.c, l_dkim.c.
 */
#include "lmailauth.h"

#include <limits.h>
#include <string.h>

/* ---- option helpers ---- */

/*
 * What a C function reads from its options (strings, tables, userdata) is
 * kept alive until it returns: lm_enter() pushes a keep list for the call,
 * registered as the current one (the previous is restored when the slot
 * closes: on return or on error), and lm_anchor() appends to it.  So a
 * pointer stays good whatever a resolver callback or an __index metamethod
 * does to the options meanwhile, re-entrant calls included, and the
 * caller's tables are never written.
 */
static const char keep_key = 'k';
#define KEEP_MT	"mailauth.keep"

static int
keep_close(lua_State *L)
{
	lua_getfield(L, 1, "prev");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &keep_key);
	return 0;
}

void
lm_enter(lua_State *L)
{
	lua_createtable(L, 8, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &keep_key);
	lua_setfield(L, -2, "prev");
	luaL_setmetatable(L, KEEP_MT);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &keep_key);
	lua_toclose(L, -1);
}

void
lm_anchor(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &keep_key) == LUA_TTABLE) {
		lua_pushvalue(L, -2);
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	}
	lua_pop(L, 1);
}

static void
open_keep(lua_State *L)
{
	if (luaL_newmetatable(L, KEEP_MT)) {
		lua_pushcfunction(L, keep_close);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
}

int
lm_getfield(lua_State *L, int t, const char *k)
{
	t = lua_absindex(L, t);
	int type = lua_getfield(L, t, k);
	if (type == LUA_TSTRING || type == LUA_TTABLE || type == LUA_TUSERDATA)
		lm_anchor(L);
	return type;
}

const char *
lm_opt_string(lua_State *L, int t, const char *k, const char *def)
{
	const char *s;

	lm_getfield(L, t, k);
	if (lua_isnil(L, -1))
		s = def;
	else if (lua_type(L, -1) == LUA_TSTRING)
		s = lua_tostring(L, -1);
	else
		return (const char *)(intptr_t)luaL_error(L, "option '%s' must be a string", k);
	lua_pop(L, 1);	/* the options table holds the string (lm_getfield) */
	return s;
}

lua_Number
lm_opt_number(lua_State *L, int t, const char *k, lua_Number def)
{
	lua_Number n = def;

	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1)) {
		if (!lua_isnumber(L, -1))
			luaL_error(L, "option '%s' must be a number", k);
		n = lua_tonumber(L, -1);
		if (n < 0)
			luaL_error(L, "option '%s' must not be negative", k);
		if (n != n)
			luaL_error(L, "option '%s' must be a number, not NaN", k);
	}
	lua_pop(L, 1);
	return n;
}

unsigned
lm_opt_uint(lua_State *L, int t, const char *k, lua_Number def, lua_Number scale, unsigned max)
{
	lua_Number n = lm_opt_number(L, t, k, def) * scale;

	/* Clamped before the conversion: a float out of range is undefined. */
	return n >= (lua_Number)max ? max : n > 0 ? (unsigned)n : 0;
}

int64_t
lm_opt_time(lua_State *L, int t, const char *k, int64_t def)
{
	lua_Number n = lm_opt_number(L, t, k, (lua_Number)def);

	/* Also false for NaN: a float out of range is undefined as int64_t. */
	if (!(n < 0x1p53))
		luaL_error(L, "option '%s' is out of range", k);
	return (int64_t)n;
}

bool
lm_opt_bool(lua_State *L, int t, const char *k, bool def)
{
	bool b = def;

	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1))
		b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

void
lm_set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

void
lm_set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

void
lm_mark_array(lua_State *L)
{
	luaL_setmetatable(L, ARRAY_MT);
}

/* The budget option: a mailauth.budget (shared by the checks of one
 * message: its counters and deadline carry over), or a table
 * {queries =, timeout =} for this call alone, or none. */
struct ma_budget *
lm_budget_arg(lua_State *L, int t, struct ma_budget *b, unsigned def_queries, unsigned def_seconds)
{
	struct ma_budget *shared;

	lm_getfield(L, t, "budget");
	if (lua_isnil(L, -1) && def_queries == 0 && def_seconds == 0) {
		lua_pop(L, 1);
		return NULL;
	}
	if ((shared = luaL_testudata(L, -1, BUDGET_MT)) != NULL) {
		lua_pop(L, 1);	/* anchored (lm_getfield) */
		return shared;
	}
	unsigned q = def_queries, ms = def_seconds * 1000;
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		q = lm_opt_uint(L, lua_gettop(L), "queries", def_queries, 1, UINT_MAX);
		ms = lm_opt_uint(L, lua_gettop(L), "timeout", def_seconds, 1000, UINT_MAX);
	}
	lua_pop(L, 1);
	ma_budget_init(b, q, ms);
	return b;
}

/* budget{queries =, timeout = seconds} -> a per-message budget */
static int
l_budget(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	unsigned q = lm_opt_uint(L, 1, "queries", 0, 1, UINT_MAX);
	unsigned ms = lm_opt_uint(L, 1, "timeout", 0, 1000, UINT_MAX);
	struct ma_budget *b = lua_newuserdatauv(L, sizeof(*b), 0);
	ma_budget_init(b, q, ms);
	luaL_setmetatable(L, BUDGET_MT);
	return 1;
}

/* b:used() -> queries so far, milliseconds left (nil without a deadline) */
static int
l_budget_used(lua_State *L)
{
	struct ma_budget *b = luaL_checkudata(L, 1, BUDGET_MT);
	int64_t left = ma_budget_left(b);

	lua_pushinteger(L, b->queries);
	if (b->deadline)
		lua_pushinteger(L, left);
	else
		lua_pushnil(L);
	return 2;
}

static const luaL_Reg funcs[] = {
	{ "resolver", lm_resolver },
	{ "budget", l_budget },
	{ "spf", lm_spf },
	{ "spf_record_check", lm_spf_record_check },
	{ "message", lm_message },
	{ "dkim_verify", lm_dkim_verify },
	{ "dkim_sign", lm_dkim_sign },
	{ "dkim_keygen", lm_dkim_keygen },
	{ "dkim_key_record", lm_dkim_key_record },
	{ "dmarc", lm_dmarc },
	{ "dmarc_record_parse", lm_dmarc_record_parse },
	{ "psl", lm_psl },
	{ "authres_build", lm_authres_build },
	{ "authres", lm_authres },
	{ "authres_parse", lm_authres_parse },
	{ "authres_claims", lm_authres_claims },
	{ "prefetch", lm_prefetch },
	{ "check", lm_check },
	{ "cidr_valid", lm_cidr_valid },
	{ "ip_in", lm_ip_in },
	{ "sts_record_parse", lm_sts_record_parse },
	{ "sts_policy_parse", lm_sts_policy_parse },
	{ "sts_policy_id", lm_sts_policy_id },
	{ "sts_mx_match", lm_sts_mx_match },
	{ "sts_content_type_ok", lm_sts_content_type_ok },
	{ "sts_discover", lm_sts_discover },
	{ "sts_fetch", lm_sts_fetch },
	{ "sts_delivery", lm_sts_delivery },
	{ "sts_refresh", lm_sts_refresh },
	{ "tlsrpt_record_parse", lm_tlsrpt_record_parse },
	{ "tlsrpt_lookup", lm_tlsrpt_lookup },
	{ "tlsrpt_parse", lm_tlsrpt_parse },
	{ "tlsrpt_parse_email", lm_tlsrpt_parse_email },
	{ "tlsrpt_gzip", lm_tlsrpt_gzip },
	{ "tlsrpt_filename", lm_tlsrpt_filename },
	{ "tlsrpt_aggregator", lm_tlsrpt_aggregator },
	{ "tlsrpt_log", lm_tlsrpt_log },
	{ NULL, NULL },
};

int
luaopen_mailauth_core(lua_State *L)
{
	open_keep(L);
	lm_open_resolver(L);
	lm_open_message(L);
	lm_open_psl(L);
	lm_open_tlsrpt(L);
	luaL_newmetatable(L, ARRAY_MT);
	lua_pop(L, 1);
	if (luaL_newmetatable(L, BUDGET_MT)) {
		static const luaL_Reg methods[] = { { "used", l_budget_used }, { NULL, NULL } };
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	lua_pushliteral(L, "0.1.0");
	lua_setfield(L, -2, "version");
	return 1;
}
