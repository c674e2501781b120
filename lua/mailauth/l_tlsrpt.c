/* mailauth.core: TLS-RPT. */
#include "lmailauth.h"
#include "tlsrpt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGG_MT	"mailauth.tlsrpt.aggregator"

static void
push_record(lua_State *L, const struct ma_tlsrpt_record *r)
{
	lua_createtable(L, 0, 1);
	lua_createtable(L, (int)r->nrua, 0);
	for (size_t i = 0; i < r->nrua; i++) {
		lua_pushstring(L, r->rua[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	lua_setfield(L, -2, "rua");
}

/* tlsrpt_record_parse(txt) -> { rua = {...} } | nil, reason */
int
lm_tlsrpt_record_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct ma_tlsrpt_record *r = lua_newuserdatauv(L, sizeof(*r), 0);
	char err[128];

	if (ma_tlsrpt_record_parse(s, len, r, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	push_record(L, r);
	return 1;
}

/* tlsrpt_lookup{ domain =, resolver = } -> { found =, reason =, rua = } */
int
lm_tlsrpt_lookup(lua_State *L)
{
	char reason[200];

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 1);
	const char *domain = lm_opt_string(L, 1, "domain", NULL);
	if (domain == NULL)
		return luaL_error(L, "option 'domain' is required");
	struct ma_tlsrpt_record *r = lua_newuserdatauv(L, sizeof(*r), 0);
	lua_State *prevL = lm_use(lr, L);
	int rc = ma_tlsrpt_lookup(lr->r, NULL, domain, r, reason, sizeof(reason));
	lm_unuse(lr, prevL);
	if (rc == 1)
		push_record(L, r);
	else
		lua_createtable(L, 0, 2);
	lm_set_str(L, "status", rc == 1 ? "found" : rc == 0 ? "none" : "temperror");
	lm_set_str(L, "reason", reason);
	return 1;
}

static void
push_summary(lua_State *L, const struct ma_tlsrpt_summary *s)
{
	lua_createtable(L, 0, 8);
	lm_set_str(L, "organization_name", s->organization_name);
	lm_set_str(L, "report_id", s->report_id);
	lm_set_str(L, "contact_info", s->contact_info);
	lm_set_str(L, "start", s->start);
	lm_set_str(L, "end", s->end);
	lm_set_int(L, "deviations", (lua_Integer)s->deviations);
	if (s->deviations)
		lm_set_str(L, "deviation", s->deviation);
	lua_createtable(L, (int)s->npolicies, 0);
	for (size_t i = 0; i < s->npolicies; i++) {
		lua_createtable(L, 0, 5);
		lm_set_str(L, "policy_type", s->policies[i].type);
		lm_set_str(L, "policy_domain", s->policies[i].domain);
		lm_set_int(L, "success", (lua_Integer)s->policies[i].success);
		lm_set_int(L, "failure", (lua_Integer)s->policies[i].failure);
		lua_createtable(L, 0, (int)s->policies[i].ntypes);
		for (size_t k = 0; k < s->policies[i].ntypes; k++) {
			lua_pushinteger(L, (lua_Integer)s->policies[i].failures[k].count);
			lua_setfield(L, -2, s->policies[i].failures[k].result_type);
		}
		lua_setfield(L, -2, "failures");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	lua_setfield(L, -2, "policies");
}

/* tlsrpt_parse(data) -> summary | nil, reason   (JSON or gzip'd JSON) */
int
lm_tlsrpt_parse(lua_State *L)
{
	size_t len;
	const char *d = luaL_checklstring(L, 1, &len);
	struct ma_tlsrpt_summary *s = lua_newuserdatauv(L, sizeof(*s), 0);
	char err[200];

	if (ma_tlsrpt_parse(d, len, s, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	push_summary(L, s);
	return 1;
}

/* tlsrpt_parse_email(msg) -> summary, media_type | nil, reason */
int
lm_tlsrpt_parse_email(lua_State *L)
{
	const struct ma_msg *m = lm_check_message(L, 1);
	struct ma_tlsrpt_summary *s = lua_newuserdatauv(L, sizeof(*s), 0);
	char err[200], mt[128];

	if (ma_tlsrpt_parse_email(m, s, mt, sizeof(mt), err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	push_summary(L, s);
	lua_pushstring(L, mt);
	return 2;
}

/* tlsrpt_gzip(data) -> gzip bytes */
int
lm_tlsrpt_gzip(lua_State *L)
{
	size_t len, olen;
	const char *d = luaL_checklstring(L, 1, &len);
	unsigned char *out;

	if (ma_tlsrpt_gzip(d, len, &out, &olen) < 0)
		return luaL_error(L, "gzip failed");
	lua_pushlstring(L, (const char *)out, olen);
	free(out);
	return 1;
}

/* tlsrpt_filename{ sender =, policy_domain =, start =, end =, unique_id =, gzip = } */
int
lm_tlsrpt_filename(lua_State *L)
{
	char buf[1024];

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	const char *sender = lm_opt_string(L, 1, "sender", NULL);
	const char *dom = lm_opt_string(L, 1, "policy_domain", NULL);
	if (sender == NULL || dom == NULL)
		return luaL_error(L, "options 'sender' and 'policy_domain' are required");
	ma_tlsrpt_filename(buf, sizeof(buf), sender, dom, lm_opt_time(L, 1, "start", 0),
	    lm_opt_time(L, 1, "end", 0), lm_opt_string(L, 1, "unique_id", NULL),
	    lm_opt_bool(L, 1, "gzip", true));
	lua_pushstring(L, buf);
	return 1;
}

static struct ma_tlsrpt_agg *
check_agg(lua_State *L)
{
	struct ma_tlsrpt_agg **a = luaL_checkudata(L, 1, AGG_MT);

	if (*a == NULL)
		luaL_argerror(L, 1, "aggregator is closed");
	return *a;
}

/* tlsrpt_aggregator() -> userdata */
int
lm_tlsrpt_aggregator(lua_State *L)
{
	struct ma_tlsrpt_agg **a = lua_newuserdatauv(L, sizeof(*a), 0);

	*a = NULL;
	luaL_setmetatable(L, AGG_MT);
	if ((*a = ma_tlsrpt_agg_new()) == NULL)
		return luaL_error(L, "out of memory");
	return 1;
}

static int
l_agg_gc(lua_State *L)
{
	struct ma_tlsrpt_agg **a = luaL_checkudata(L, 1, AGG_MT);

	ma_tlsrpt_agg_free(*a);
	*a = NULL;
	return 0;
}

/* A session outcome from the table at t (agg:add, tlsrpt_log). */
static void
session_arg(lua_State *L, int t, struct ma_tlsrpt_session *s)
{
	luaL_checktype(L, t, LUA_TTABLE);
	memset(s, 0, sizeof(*s));
	s->policy_domain = lm_opt_string(L, t, "policy_domain", NULL);
	s->policy_type = lm_opt_string(L, t, "policy_type", NULL);
	s->policy_string = lm_opt_string(L, t, "policy_string", NULL);
	s->mx_host = lm_opt_string(L, t, "mx_host", NULL);
	s->success = lm_opt_bool(L, t, "success", false);
	s->result_type = lm_opt_string(L, t, "result_type", NULL);
	s->sending_mta_ip = lm_opt_string(L, t, "sending_mta_ip", NULL);
	s->receiving_mx_hostname = lm_opt_string(L, t, "receiving_mx_hostname", NULL);
	s->receiving_mx_helo = lm_opt_string(L, t, "receiving_mx_helo", NULL);
	s->receiving_ip = lm_opt_string(L, t, "receiving_ip", NULL);
	s->additional_information = lm_opt_string(L, t, "additional_information", NULL);
	s->failure_reason_code = lm_opt_string(L, t, "failure_reason_code", NULL);
	s->count = (uint64_t)lm_opt_time(L, t, "count", 1);	/* a count below 2^53 */
}

/* tlsrpt_log(path, { time =, <agg:add fields> }) -> true | nil, reason:
 * one line appended to a log many processes share. */
int
lm_tlsrpt_log(lua_State *L)
{
	struct ma_tlsrpt_session s;
	char err[256];
	const char *path = luaL_checkstring(L, 1);

	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	session_arg(L, 2, &s);
	int64_t when = lm_opt_time(L, 2, "time", 0);
	if (when == 0)
		when = (int64_t)time(NULL);
	if (ma_tlsrpt_log_append(path, &s, when, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* agg:add{ policy_domain =, policy_type =, policy_string =, mx_host =,
 *   success =, result_type =, sending_mta_ip =, receiving_mx_hostname =,
 *   receiving_mx_helo =, receiving_ip =, additional_information =,
 *   failure_reason_code =, count = } -> true | nil, reason */
static int
l_agg_add(lua_State *L)
{
	struct ma_tlsrpt_agg *a = check_agg(L);
	struct ma_tlsrpt_session s;
	char err[128];

	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	session_arg(L, 2, &s);
	if (ma_tlsrpt_agg_add(a, &s, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* agg:domains() -> { policy domains } */
static int
l_agg_domains(lua_State *L)
{
	struct ma_tlsrpt_agg *a = check_agg(L);
	const char *d[256];
	size_t n = ma_tlsrpt_agg_domains(a, d, 256);

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, d[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
	return 1;
}

/* agg:report{ policy_domain =, organization_name =, contact_info =,
 *   report_id =, start =, end = } -> JSON text */
static int
l_agg_report(lua_State *L)
{
	struct ma_tlsrpt_agg *a = check_agg(L);
	struct ma_tlsrpt_meta m;

	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	const char *dom = lm_opt_string(L, 2, "policy_domain", NULL);
	if (dom == NULL)
		return luaL_error(L, "option 'policy_domain' is required");
	m.organization_name = lm_opt_string(L, 2, "organization_name", "");
	m.contact_info = lm_opt_string(L, 2, "contact_info", "");
	m.report_id = lm_opt_string(L, 2, "report_id", "");
	m.start = lm_opt_time(L, 2, "start", 0);
	m.end = lm_opt_time(L, 2, "end", 0);
	char *j = ma_tlsrpt_agg_report(a, dom, &m);
	if (j == NULL)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, j);
	free(j);
	return 1;
}

void
lm_open_tlsrpt(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "add", l_agg_add }, { "domains", l_agg_domains }, { "report", l_agg_report },
		{ "close", l_agg_gc }, { NULL, NULL },
	};

	if (luaL_newmetatable(L, AGG_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_agg_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
}
