/* mailauth.core: DKIM verify, sign and key generation. */
#include "lmailauth.h"

#include <limits.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGS 32

/* c= as RFC 6376 3.5 reads it: "header/body", the body simple when absent. */
static bool
parse_canon(const char *c, bool *sh, bool *sb)
{
	const char *slash = strchr(c, '/');
	size_t hl = slash ? (size_t)(slash - c) : strlen(c);
	const char *b = slash ? slash + 1 : "simple";

	if (hl == 6 && strncasecmp(c, "simple", 6) == 0)
		*sh = true;
	else if (hl == 7 && strncasecmp(c, "relaxed", 7) == 0)
		*sh = false;
	else
		return false;
	if (strcasecmp(b, "simple") == 0)
		*sb = true;
	else if (strcasecmp(b, "relaxed") == 0)
		*sb = false;
	else
		return false;
	return true;
}

/* Verification options from the table at t (the resolver's key cache). */
void
lm_dkim_opts(lua_State *L, int t, const struct lresolver *lr, struct ma_dkim_verify_opts *o)
{
	*o = (struct ma_dkim_verify_opts){
		.max_signatures = lm_opt_uint(L, t, "max_signatures", 10, 1, UINT_MAX),
		.legacy = lm_opt_bool(L, t, "legacy", false),
		.min_rsa_bits = lm_opt_uint(L, t, "min_rsa_bits", 0, 1, UINT_MAX),
		.now = lm_opt_time(L, t, "now", 0),
		.clock_skew = lm_opt_uint(L, t, "clock_skew", 300, 1, UINT_MAX),
		.strict_length = lm_opt_bool(L, t, "strict_length", false),
		.keys = lr->keys,
	};
}

/* Room for the signatures that will be verified, the message's own
 * DKIM-Signature fields up to max_signatures (usually one or two, 1 KB
 * each), not MAX_SIGS (33 KB) per call: on the C stack when they fit
 * `have`, else in a userdata left on the stack. */
struct ma_dkim_sig *
lm_dkim_sigs(lua_State *L, const struct ma_msg *m, unsigned max_signatures, struct ma_dkim_sig *stack,
    size_t have, size_t *room)
{
	size_t want = 0, cap = max_signatures ? max_signatures : 10;

	if (cap > MAX_SIGS)
		cap = MAX_SIGS;
	for (size_t i = 0; i < ma_msg_count(m) && want < cap; i++)
		want += ma_header_is(ma_msg_header(m, i), "DKIM-Signature");
	*room = want ? want : 1;
	if (*room <= have)
		return stack;
	return lua_newuserdatauv(L, *room * sizeof(*stack), 0);
}

/* The list of signature result tables. */
void
lm_push_sigs(lua_State *L, const struct ma_dkim_sig *sigs, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct ma_dkim_sig *s = &sigs[i];
		lua_createtable(L, 0, 16);
		lm_set_str(L, "result", ma_dkim_result_name(s->result));
		lm_set_str(L, "reason", s->reason);
		lm_set_str(L, "domain", s->domain);
		lm_set_str(L, "selector", s->selector);
		lm_set_str(L, "algorithm", s->algorithm);
		lm_set_str(L, "identity", s->identity);
		lm_set_str(L, "canonicalization", s->canon);
		lm_set_str(L, "header_b", s->header_b);
		lm_set_int(L, "bits", s->bits);
		lua_pushboolean(L, s->testing);
		lua_setfield(L, -2, "testing");
		if (s->body_length >= 0) {
			lm_set_int(L, "body_length", s->body_length);
			lua_pushboolean(L, s->body_partial);
			lua_setfield(L, -2, "body_partial");
			if (s->unsigned_bytes >= 0)
				lm_set_int(L, "unsigned_bytes", s->unsigned_bytes);
		}
		if (s->timestamp >= 0)
			lm_set_int(L, "timestamp", s->timestamp);
		if (s->expiration >= 0)
			lm_set_int(L, "expiration", s->expiration);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_mark_array(L);
}

/* dkim_verify(msg, opts) -> { {result=, reason=, domain=, ...}, ... } */
int
lm_dkim_verify(lua_State *L)
{
	const struct ma_msg *m = lm_check_message(L, 1);
	struct ma_budget budget, *b;
	struct ma_dkim_verify_opts o;
	struct ma_dkim_sig stack[2];
	size_t room;

	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	struct lresolver *lr = lm_opt_resolver(L, 2);
	lm_dkim_opts(L, 2, lr, &o);
	b = lm_budget_arg(L, 2, &budget, 0, 0);
	struct ma_dkim_sig *sigs = lm_dkim_sigs(L, m, o.max_signatures, stack, 2, &room);
	lua_State *prevL = lm_use(lr, L);
	size_t n = ma_dkim_verify(lr->r, b, m, &o, sigs, room);
	lm_unuse(lr, prevL);
	lm_push_sigs(L, sigs, n);
	return 1;
}

/* dkim_sign(msg, { {key=|key_file=, domain=, selector=, ...}, ... }) ->
 * { "DKIM-Signature: ...", ... } (CRLF folding, no final CRLF) */
int
lm_dkim_sign(lua_State *L)
{
	const struct ma_msg *m = lm_check_message(L, 1);
	struct ma_dkim_signer sg[16];
	struct ma_dkim_key *keys[16] = { 0 };
	char *out[16];
	const char *alg[16];
	char err[256] = "";

	luaL_checktype(L, 2, LUA_TTABLE);
	lm_enter(L);
	lua_Integer n = luaL_len(L, 2);
	if (n < 1 || n > 16)
		return luaL_argerror(L, 2, "between 1 and 16 signers expected");
	memset(sg, 0, sizeof(sg));
	for (lua_Integer i = 0; i < n; i++) {
		lua_rawgeti(L, 2, i + 1);
		int t = lua_gettop(L);
		luaL_checktype(L, t, LUA_TTABLE);
		sg[i].domain = lm_opt_string(L, t, "domain", NULL);
		sg[i].selector = lm_opt_string(L, t, "selector", NULL);
		sg[i].identity = lm_opt_string(L, t, "identity", NULL);
		sg[i].headers = lm_opt_string(L, t, "headers", NULL);
		const char *c = lm_opt_string(L, t, "canonicalization", "relaxed/relaxed");
		if (!parse_canon(c, &sg[i].simple_headers, &sg[i].simple_body))
			return luaL_error(L, "signer %d: bad canonicalization '%s'", (int)i + 1, c);
		/* timestamp = false: no t= tag at all */
		lua_getfield(L, t, "timestamp");
		bool no_t = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
		lua_pop(L, 1);
		sg[i].timestamp = no_t ? -1 : lm_opt_time(L, t, "timestamp", 0);
		sg[i].expire_after = lm_opt_time(L, t, "expire_after", 0);
		alg[i] = lm_opt_string(L, t, "algorithm", NULL);
		if (sg[i].domain == NULL || sg[i].selector == NULL) {
			for (lua_Integer k = 0; k < i; k++)
				ma_dkim_key_free(keys[k]);
			return luaL_error(L, "signer %d needs 'domain' and 'selector'", (int)i + 1);
		}
		/* Keys are loaded after the strings so that an error cannot leak them. */
		lua_pop(L, 1);	/* strings stay referenced by the signer table */
	}
	for (lua_Integer i = 0; i < n; i++) {
		lua_rawgeti(L, 2, i + 1);
		/* Nothing here raises while keys are held: errors are collected
		 * and raised after the keys are freed. */
		struct ma_dkim_key *k = NULL;
		/* Each read once, and kept on the stack while it is used. */
		lm_getfield(L, -1, "key");
		lm_getfield(L, -2, "key_file");
		if (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -1) == LUA_TSTRING) {
			char e[256];
			size_t len;
			if (lua_type(L, -2) == LUA_TSTRING) {
				const char *pem = lua_tolstring(L, -2, &len);
				k = ma_dkim_key_load_pem(pem, len, e, sizeof(e));
			} else
				k = ma_dkim_key_load_file(lua_tostring(L, -1), e, sizeof(e));
			lua_pop(L, 2);
			if (k == NULL)
				ma_strlcpy(err, e, sizeof(err));
		} else {
			lua_pop(L, 2);
			ma_strlcpy(err, "a signer needs 'key' (PEM text) or 'key_file'", sizeof(err));
		}
		lua_pop(L, 1);
		if (k == NULL) {
			for (lua_Integer j = 0; j < i; j++)
				ma_dkim_key_free(keys[j]);
			return luaL_error(L, "signer %d: %s", (int)i + 1, err);
		}
		keys[i] = k;
		sg[i].key = k;
		const char *kt = ma_dkim_key_type(k);	/* a static string: outlives k */
		if (alg[i] && strcmp(alg[i], strcmp(kt, "rsa") == 0 ? "rsa-sha256" : "ed25519-sha256") != 0) {
			for (lua_Integer j = 0; j <= i; j++)
				ma_dkim_key_free(keys[j]);
			return luaL_error(L, "signer %d: the key is %s, not %s", (int)i + 1, kt, alg[i]);
		}
	}
	size_t made = ma_dkim_sign(m, sg, (size_t)n, out, err, sizeof(err));
	for (lua_Integer i = 0; i < n; i++)
		ma_dkim_key_free(keys[i]);
	if (made < (size_t)n) {
		for (lua_Integer i = 0; i < n; i++)
			free(out[i]);
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_createtable(L, (int)n, 0);
	for (lua_Integer i = 0; i < n; i++) {
		lua_pushstring(L, out[i]);
		free(out[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* dkim_key_record{ key = PEM | key_file = path } -> { record =, type =, bits = }:
 * the TXT record that publishes a signing key's public half. */
int
lm_dkim_key_record(lua_State *L)
{
	char err[256], rec[4096];
	size_t len;
	struct ma_dkim_key *k;

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	const char *pem = NULL, *file = lm_opt_string(L, 1, "key_file", NULL);
	lm_getfield(L, 1, "key");
	if (lua_type(L, -1) == LUA_TSTRING)
		pem = lua_tolstring(L, -1, &len);	/* the options table keeps it */
	lua_pop(L, 1);
	if (pem)
		k = ma_dkim_key_load_pem(pem, len, err, sizeof(err));
	else if (file)
		k = ma_dkim_key_load_file(file, err, sizeof(err));
	else
		return luaL_error(L, "option 'key' (PEM text) or 'key_file' is required");
	if (k == NULL) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	size_t n = ma_dkim_key_record(k, rec, sizeof(rec));
	const char *type = ma_dkim_key_type(k);
	unsigned bits = ma_dkim_key_bits(k);
	ma_dkim_key_free(k);
	if (n == 0 || n >= sizeof(rec)) {
		lua_pushnil(L);
		lua_pushliteral(L, "the public key does not fit a key record");
		return 2;
	}
	lua_createtable(L, 0, 3);
	lm_set_str(L, "record", rec);
	lm_set_str(L, "type", type);
	lm_set_int(L, "bits", bits);
	return 1;
}

/* dkim_keygen{type=, bits=, domain=, selector=} ->
 * {private_key=PEM, record=TXT text, name=owner, type=, bits=} */
int
lm_dkim_keygen(lua_State *L)
{
	char err[256], rec[4096];

	luaL_checktype(L, 1, LUA_TTABLE);
	lm_enter(L);
	const char *type = lm_opt_string(L, 1, "type", "rsa");
	unsigned bits = lm_opt_uint(L, 1, "bits", 2048, 1, UINT_MAX);
	const char *domain = lm_opt_string(L, 1, "domain", NULL);
	const char *selector = lm_opt_string(L, 1, "selector", NULL);
	struct ma_dkim_key *k = ma_dkim_key_generate(type, bits, err, sizeof(err));
	if (k == NULL)
		return luaL_error(L, "%s", err);
	char *pem = ma_dkim_key_pem(k);
	ma_dkim_key_record(k, rec, sizeof(rec));
	lua_createtable(L, 0, 5);
	lm_set_str(L, "type", ma_dkim_key_type(k));
	lm_set_int(L, "bits", ma_dkim_key_bits(k));
	lm_set_str(L, "record", rec);
	if (pem)
		lm_set_str(L, "private_key", pem);
	if (domain && selector) {
		lua_pushfstring(L, "%s._domainkey.%s", selector, domain);
		lua_setfield(L, -2, "name");
	}
	free(pem);
	ma_dkim_key_free(k);
	return 1;
}
