/* mailauth.core: MTA-STS. */
#include "lmailauth.h"
#include "mtasts.h"

#include <stdlib.h>
#include <string.h>

static void
push_policy(lua_State *L, const struct ma_sts_policy *p)
{
	lua_createtable(L, 0, 4);
	lm_set_str(L, "version", "STSv1");
	lm_set_str(L, "mode", ma_sts_mode_name(p->mode));
	lm_set_int(L, "max_age", p->max_age);
	lua_createtable(L, (int)p->nmx, 0);
	for (size_t i = 0; i < p->nmx; i++) {
		lua_pushstring(L, p->mx[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	lua_setfield(L, -2, "mx");
}

/* sts_record_parse(txt) -> id | nil, reason */
int
lm_sts_record_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char id[33], err[128];

	if (ma_sts_record_parse(s, len, id, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushstring(L, id);
	return 1;
}

/* sts_policy_id(text) -> the id that follows the policy text */
int
lm_sts_policy_id(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char id[33];

	ma_sts_policy_id(s, len, id);
	if (id[0] == '\0')
		return luaL_error(L, "SHA-256 is not available");
	lua_pushstring(L, id);
	return 1;
}

/* sts_policy_parse(text) -> policy | nil, reason */
int
lm_sts_policy_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct ma_sts_policy *p = lua_newuserdatauv(L, sizeof(*p), 0);
	char err[128];

	if (ma_sts_policy_parse(s, len, p, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	push_policy(L, p);
	return 1;
}

/* sts_mx_match(pattern, host) -> boolean */
int
lm_sts_mx_match(lua_State *L)
{
	lua_pushboolean(L, ma_sts_mx_match(luaL_checkstring(L, 1), luaL_checkstring(L, 2)));
	return 1;
}

/* sts_content_type_ok(ct) -> boolean */
int
lm_sts_content_type_ok(lua_State *L)
{
	lua_pushboolean(L, ma_sts_content_type_ok(luaL_checkstring(L, 1)));
	return 1;
}

/* Seconds into milliseconds, kept between 1 ms and one hour (a cast of an
 * out-of-range float would be undefined). */
static unsigned
seconds_ms(lua_State *L, int t, const char *k, lua_Number def)
{
	lua_Number s = lm_opt_number(L, t, k, def) * 1000;

	return s < 1 ? 1 : s > 3600000 ? 3600000 : (unsigned)s;
}

static void
fetch_opts(lua_State *L, int t, struct ma_sts_fetch_opts *f)
{
	f->ca_file = lm_opt_string(L, t, "ca_file", NULL);
	f->connect_timeout_ms = seconds_ms(L, t, "connect_timeout", 10);
	f->timeout_ms = seconds_ms(L, t, "timeout", 30);
	lua_Number port = lm_opt_number(L, t, "port", 0);
	if (port > 65535)
		luaL_error(L, "option 'port' must be at most 65535");
	f->port = (unsigned)port;
}

/* sts_discover{ domain =, resolver =, cache_dir =, ca_file =, port =,
 *   timeout =, connect_timeout =, now =, force =, budget = } */
int
lm_sts_discover(lua_State *L)
{
	struct ma_sts_discover_opts o;
	struct ma_budget budget, *b;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	const char *domain = lm_opt_string(L, 1, "domain", NULL);
	if (domain == NULL)
		return luaL_error(L, "option 'domain' is required");
	memset(&o, 0, sizeof(o));
	o.cache_dir = lm_opt_string(L, 1, "cache_dir", NULL);
	fetch_opts(L, 1, &o.fetch);
	o.now = lm_opt_time(L, 1, "now", 0);
	o.force = lm_opt_bool(L, 1, "force", false);
	b = lm_budget_arg(L, 1, &budget, 0, 0);

	struct ma_sts_outcome *out = lua_newuserdatauv(L, sizeof(*out), 0);
	lua_State *prevL = lm_use(lr, L);
	ma_sts_discover(lr->r, b, domain, &o, out);
	lm_unuse(lr, prevL);
	lua_createtable(L, 0, 10);
	lm_set_str(L, "status", ma_sts_status_name(out->status));
	lm_set_str(L, "reason", out->reason);
	if (out->record_id[0])
		lm_set_str(L, "record_id", out->record_id);
	if (out->have_policy) {
		push_policy(L, &out->policy);
		lua_setfield(L, -2, "policy");
		lm_set_str(L, "id", out->id);
		lm_set_str(L, "source", out->source);
		lm_set_int(L, "fetched", out->fetched);
		lm_set_int(L, "expires", out->expires);
	}
	if (out->fetch_attempted)
		lm_set_str(L, "fetch", ma_sts_fetch_status_name(out->fetch_status));
	lua_pushboolean(L, out->cache_written);
	lua_setfield(L, -2, "cache_written");
	return 1;
}

/* sts_fetch{ domain =, resolver =, ca_file =, port =, timeout = } ->
 *   { status =, http_status =, reason =, body = } */
int
lm_sts_fetch(lua_State *L)
{
	struct ma_sts_fetch_opts f;
	struct ma_sts_fetch_result r;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	const char *domain = lm_opt_string(L, 1, "domain", NULL);
	if (domain == NULL)
		return luaL_error(L, "option 'domain' is required");
	memset(&f, 0, sizeof(f));
	fetch_opts(L, 1, &f);
	lua_State *prevL = lm_use(lr, L);
	ma_sts_fetch(lr->r, NULL, domain, &f, &r);
	lm_unuse(lr, prevL);
	lua_createtable(L, 0, 4);
	lm_set_str(L, "status", ma_sts_fetch_status_name(r.status));
	lm_set_int(L, "http_status", r.http_status);
	lm_set_str(L, "reason", r.reason);
	if (r.body) {
		lua_pushlstring(L, r.body, r.len);
		lua_setfield(L, -2, "body");
	}
	ma_sts_fetch_result_free(&r);
	return 1;
}

/* sts_delivery(policy_table, { mx, ... }) -> { tls_required, report_only, allowed = {...} } */
int
lm_sts_delivery(lua_State *L)
{
	struct ma_sts_policy p;
	struct ma_sts_delivery d;
	const char *mx[MA_STS_MAX_MX];

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	memset(&p, 0, sizeof(p));
	const char *mode = lm_opt_string(L, 1, "mode", "none");
	p.mode = strcmp(mode, "enforce") == 0 ? MA_STS_MODE_ENFORCE :
	    strcmp(mode, "testing") == 0 ? MA_STS_MODE_TESTING : MA_STS_MODE_NONE;
	lua_getfield(L, 1, "mx");
	if (lua_istable(L, -1))
		for (lua_Integer i = 1; i <= luaL_len(L, -1) && p.nmx < MA_STS_MAX_MX; i++) {
			lua_rawgeti(L, -1, i);
			ma_strlcpy(p.mx[p.nmx++], luaL_checkstring(L, -1), sizeof(p.mx[0]));
			lua_pop(L, 1);
		}
	lua_pop(L, 1);
	size_t n = 0;
	for (lua_Integer i = 1; i <= luaL_len(L, 2) && n < MA_STS_MAX_MX; i++) {
		lua_rawgeti(L, 2, i);
		mx[n++] = luaL_checkstring(L, -1);
		lm_anchor(L);	/* kept for the call */
		lua_pop(L, 1);
	}
	ma_sts_delivery(&p, mx, n, &d);
	lua_createtable(L, 0, 3);
	lua_pushboolean(L, d.tls_required);
	lua_setfield(L, -2, "tls_required");
	lua_pushboolean(L, d.report_only);
	lua_setfield(L, -2, "report_only");
	lua_createtable(L, (int)d.nallowed, 0);
	for (size_t i = 0; i < d.nallowed; i++) {
		lua_pushstring(L, mx[d.allowed[i]]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	lua_setfield(L, -2, "allowed");
	return 1;
}

struct refresh_ctx {
	lua_State *L;
	int list;
	lua_Integer n;
};

static void
on_refresh(void *ud, const char *domain, const struct ma_sts_outcome *o)
{
	struct refresh_ctx *c = ud;
	lua_State *L = c->L;

	lua_createtable(L, 0, 4);
	lm_set_str(L, "domain", domain);
	lm_set_str(L, "status", ma_sts_status_name(o->status));
	lm_set_str(L, "reason", o->reason);
	if (o->source)
		lm_set_str(L, "source", o->source);
	if (o->have_policy)
		lm_set_int(L, "expires", o->expires);
	lua_rawseti(L, c->list, ++c->n);
}

/* sts_refresh{ cache_dir =, resolver =, margin = seconds, ca_file =, port =,
 *   timeout =, now = } -> { {domain, status, reason, source, expires}, ... } */
int
lm_sts_refresh(lua_State *L)
{
	struct ma_sts_discover_opts o;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	memset(&o, 0, sizeof(o));
	o.cache_dir = lm_opt_string(L, 1, "cache_dir", NULL);
	if (o.cache_dir == NULL)
		return luaL_error(L, "option 'cache_dir' is required");
	fetch_opts(L, 1, &o.fetch);
	o.now = lm_opt_time(L, 1, "now", 0);
	int64_t margin = lm_opt_time(L, 1, "margin", 86400);
	lua_newtable(L);
	struct refresh_ctx c = { L, lua_gettop(L), 0 };
	lua_State *prevL = lm_use(lr, L);
	ma_sts_refresh(lr->r, &o, margin, on_refresh, &c);
	lm_unuse(lr, prevL);
	lm_mark_array(L);
	return 1;
}
