/* mailauth.core: DMARC and the Public Suffix List. */
#include "lmailauth.h"

#include <string.h>

/* psl(path?) -> userdata (RFC 7489 mode's Public Suffix List) */
int
lm_psl(lua_State *L)
{
	char err[256];
	const char *path = luaL_optstring(L, 1, NULL);
	struct ma_psl **ud = lua_newuserdatauv(L, sizeof(*ud), 0);

	*ud = NULL;
	luaL_setmetatable(L, PSL_MT);
	if ((*ud = ma_psl_load(path, err, sizeof(err))) == NULL)
		return luaL_error(L, "%s", err);
	return 1;
}

static int
l_psl_gc(lua_State *L)
{
	struct ma_psl **ud = luaL_checkudata(L, 1, PSL_MT);

	ma_psl_free(*ud);
	*ud = NULL;
	return 0;
}

/* psl:aligned(a, b[, strict]) -> boolean (RFC 7489 identifier alignment) */
static int
l_psl_aligned(lua_State *L)
{
	struct ma_psl **ud = luaL_checkudata(L, 1, PSL_MT);

	if (*ud == NULL)
		return luaL_argerror(L, 1, "closed");
	lua_pushboolean(L, ma_dmarc_aligned_psl(*ud, luaL_checkstring(L, 2), luaL_checkstring(L, 3),
	    lua_toboolean(L, 4)));
	return 1;
}

/* psl:org_domain(name) -> registrable domain, or nil for a public suffix */
static int
l_psl_org(lua_State *L)
{
	struct ma_psl **ud = luaL_checkudata(L, 1, PSL_MT);
	char out[256];

	if (*ud == NULL)
		return luaL_argerror(L, 1, "closed");
	if (ma_psl_org_domain(*ud, luaL_checkstring(L, 2), out, sizeof(out)))
		lua_pushstring(L, out);
	else
		lua_pushnil(L);
	return 1;
}

void
lm_open_psl(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "org_domain", l_psl_org }, { "aligned", l_psl_aligned }, { "close", l_psl_gc },
		{ NULL, NULL },
	};

	if (luaL_newmetatable(L, PSL_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_psl_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
}

/* The psl option (the PSL is kept alive by the options table); required
 * in RFC 7489 mode. */
const struct ma_psl *
lm_opt_psl(lua_State *L, int t, bool rfc7489)
{
	const struct ma_psl *psl = NULL;

	lm_getfield(L, t, "psl");
	if (!lua_isnil(L, -1))
		psl = *(struct ma_psl **)luaL_checkudata(L, -1, PSL_MT);
	lua_pop(L, 1);
	if (rfc7489 && psl == NULL)
		luaL_error(L, "rfc7489 mode needs psl = mailauth.psl()");
	return psl;
}

/* An identity: {domain=, result=} (a mailauth.spf result or a DKIM
 * signature table fits). */
static void
identity(lua_State *L, int t, struct ma_dmarc_identity *id, bool *helo)
{
	id->domain = lm_opt_string(L, t, "domain", NULL);
	lua_getfield(L, t, "unsigned_bytes");
	id->unsigned_bytes = lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 ? (int64_t)lua_tointeger(L, -1) : -1;
	lua_pop(L, 1);
	const char *res = lm_opt_string(L, t, "result", "pass");
	id->pass = strcmp(res, "pass") == 0;
	if (helo)
		*helo = strcmp(lm_opt_string(L, t, "identity", "mailfrom"), "helo") == 0;
}

/* A record's tags as read (defaults filled in). */
static void
push_tags(lua_State *L, const struct ma_dmarc_record *r, bool rfc7489)
{
	lua_createtable(L, 0, 10);
	if (r->p != MA_POLICY_UNSET)
		lm_set_str(L, "p", ma_dmarc_policy_name(r->p));
	if (r->sp != MA_POLICY_UNSET)
		lm_set_str(L, "sp", ma_dmarc_policy_name(r->sp));
	if (r->np != MA_POLICY_UNSET)
		lm_set_str(L, "np", ma_dmarc_policy_name(r->np));
	lua_pushlstring(L, &r->psd, 1);
	lua_setfield(L, -2, "psd");
	lm_set_str(L, "t", r->testing ? "y" : "n");
	lm_set_str(L, "adkim", r->adkim_strict ? "s" : "r");
	lm_set_str(L, "aspf", r->aspf_strict ? "s" : "r");
	if (rfc7489) {
		/* historic in RFC 9989 (9.3): reported in RFC 7489 mode only */
		lm_set_int(L, "pct", r->pct);
		lm_set_int(L, "ri", r->ri);
		lm_set_str(L, "rf", r->rf);
	}
	if (r->fo[0])
		lm_set_str(L, "fo", r->fo);
}

/* dmarc_record_parse(text) -> tags (with rua, ruf lists) | nil, reason */
int
lm_dmarc_record_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct ma_dmarc_record r;

	if (ma_dmarc_record_parse(s, len, &r) != 1) {
		lua_pushnil(L);
		lua_pushliteral(L, "not a DMARC record (v=DMARC1 must come first)");
		return 2;
	}
	push_tags(L, &r, false);
	for (int k = 0; k < 2; k++) {
		size_t n = k ? r.nruf : r.nrua;
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			lua_pushstring(L, k ? r.ruf[i] : r.rua[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lm_mark_array(L);
		lua_setfield(L, -2, k ? "ruf" : "rua");
	}
	return 1;
}

static void
push_uris(lua_State *L, const struct ma_dmarc_uri *u, size_t n, bool checked)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 4);
		lm_set_str(L, "uri", u[i].uri);
		if (!checked) {
			lua_rawseti(L, -2, (lua_Integer)i + 1);
			continue;
		}
		lua_pushboolean(L, u[i].external);
		lua_setfield(L, -2, "external");
		lua_pushboolean(L, u[i].authorized);
		lua_setfield(L, -2, "authorized");
		lua_pushboolean(L, u[i].checked);
		lua_setfield(L, -2, "checked");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
}

static void
push_align(lua_State *L, const char *k, bool aligned, bool strict, const char *domain, int64_t unsig)
{
	lua_createtable(L, 0, 4);
	if (unsig >= 0)
		lm_set_int(L, "unsigned_bytes", unsig);
	lua_pushboolean(L, aligned);
	lua_setfield(L, -2, "aligned");
	lm_set_str(L, "mode", strict ? "strict" : "relaxed");
	if (domain && *domain)
		lm_set_str(L, "domain", domain);
	lua_setfield(L, -2, k);
}

/* The result table of a DMARC outcome; details adds the record's tags and
 * report addresses. */
void
lm_push_dmarc(lua_State *L, const struct ma_dmarc_outcome *o, const char *spf_domain, bool details)
{
	lua_createtable(L, 0, 20);
	lm_set_str(L, "result", ma_dmarc_result_name(o->result));
	lm_set_str(L, "reason", o->reason);
	lm_set_str(L, "author_domain", o->author_domain);
	if (o->have_record) {
		lm_set_str(L, "policy", ma_dmarc_policy_name(o->policy));
		lm_set_str(L, "requested_policy", ma_dmarc_policy_name(o->requested));
		if (o->policy_tag)
			lm_set_str(L, "policy_tag", o->policy_tag);
		lua_pushboolean(L, o->testing);
		lua_setfield(L, -2, "testing");
		lm_set_str(L, "domain", o->policy_domain);
		lm_set_str(L, "policy_domain", o->policy_domain);
		lm_set_str(L, "record", o->record);
		if (details) {
			push_tags(L, &o->rec, o->rfc7489);
			lua_setfield(L, -2, "tags");
			push_uris(L, o->rua, o->nrua, o->reports_checked);
			lua_setfield(L, -2, "rua");
			push_uris(L, o->ruf, o->nruf, o->reports_checked);
			lua_setfield(L, -2, "ruf");
		}
	}
	lm_set_str(L, "disposition", o->have_record ? ma_dmarc_policy_name(o->disposition) : "none");
	if (o->org_domain[0])
		lm_set_str(L, "org_domain", o->org_domain);
	lm_set_str(L, "discovery", o->discovery);
	lua_createtable(L, 0, 2);
	push_align(L, "spf", o->spf_aligned, o->spf_strict, o->spf_aligned ? spf_domain : NULL, -1);
	push_align(L, "dkim", o->dkim_aligned, o->dkim_strict, o->dkim_domain, o->dkim_unsigned);
	lua_setfield(L, -2, "alignment");
	if (o->author_exists >= 0) {
		lua_pushboolean(L, o->author_exists);
		lua_setfield(L, -2, "author_exists");
	}
	if (o->from_status) {
		lm_set_str(L, "from_status", o->from_status);
		lm_set_int(L, "author_domains", (lua_Integer)o->author_domains);
	}
	lm_set_int(L, "queries", o->queries);
}

/* dmarc{ from_domain = | message =, spf = {domain, result[, identity]},
 *   dkim = { {domain, result}, ... }, resolver =, rfc7489 =, psl =,
 *   check_reports =, sample =, budget = } */
int
lm_dmarc(lua_State *L)
{
	struct ma_dmarc_request req;
	struct ma_dmarc_identity dk[32];
	struct ma_budget budget, *b;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	memset(&req, 0, sizeof(req));
	req.author_domain = lm_opt_string(L, 1, "from_domain", NULL);
	req.rfc7489 = lm_opt_bool(L, 1, "rfc7489", false);
	req.check_reports = lm_opt_bool(L, 1, "check_reports", false);
	req.sample = lm_opt_uint(L, 1, "sample", 0, 1, 99);
	b = lm_budget_arg(L, 1, &budget, 0, 0);
	req.psl = lm_opt_psl(L, 1, req.rfc7489);
	lm_getfield(L, 1, "spf");
	if (lua_istable(L, -1))
		identity(L, lua_gettop(L), &req.spf, &req.spf_helo);
	else if (!lua_isnil(L, -1))
		return luaL_error(L, "option 'spf' must be a table");
	lua_pop(L, 1);
	lm_getfield(L, 1, "dkim");
	if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		lua_Integer n = luaL_len(L, t);
		for (lua_Integer i = 1; i <= n && req.ndkim < 32; i++) {
			lua_rawgeti(L, t, i);
			if (!lua_istable(L, -1))
				return luaL_error(L, "option 'dkim' must list tables");
			lm_anchor(L);
			identity(L, lua_gettop(L), &dk[req.ndkim++], NULL);
			lua_pop(L, 1);
		}
		req.dkim = dk;
	} else if (!lua_isnil(L, -1))
		return luaL_error(L, "option 'dkim' must be a list");
	lua_pop(L, 1);

	/* On the C stack: only the parts written are touched (no 10 KB
	 * userdata to allocate, clear and collect per message). */
	struct ma_dmarc_outcome ostack, *o = &ostack;
	lua_State *prevL = lm_use(lr, L);
	lm_getfield(L, 1, "message");
	if (!lua_isnil(L, -1)) {
		const struct ma_msg *m = lm_check_message(L, -1);
		ma_dmarc_check_message(lr->r, b, m, &req, o);
	} else if (req.author_domain) {
		ma_dmarc_check(lr->r, b, &req, o);
	} else {
		lm_unuse(lr, prevL);
		return luaL_error(L, "option 'from_domain' or 'message' is required");
	}
	lm_unuse(lr, prevL);
	lua_pop(L, 1);
	lm_push_dmarc(L, o, req.spf.domain, lm_opt_bool(L, 1, "details", true));
	/* An ARC result the caller verified elsewhere: carried for the
	 * Authentication-Results comment and the site rules. */
	const char *arc = lm_opt_string(L, 1, "arc", NULL);
	if (arc)
		lm_set_str(L, "arc", arc);
	return 1;
}
