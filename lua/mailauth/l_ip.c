/* mailauth.core: address and network tests for the policy helpers. */
#include "lmailauth.h"

#include <stdlib.h>
#include <string.h>

/* "addr" or "addr/bits" into ip and bits; false when malformed. */
static bool
cidr_parse(const char *s, struct ma_ip *ip, unsigned *bits)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	if (!ma_ip_parse(ip, s, alen))
		return false;
	unsigned max = ip->family == 4 ? 32 : 128;
	*bits = max;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > (long)max)
			return false;
		*bits = (unsigned)b;
	}
	return true;
}

/* cidr_valid(s) -> boolean */
int
lm_cidr_valid(lua_State *L)
{
	struct ma_ip ip;
	unsigned bits;

	lua_pushboolean(L, cidr_parse(luaL_checkstring(L, 1), &ip, &bits));
	return 1;
}

/* ip_in(ip, { cidr, ... }) -> boolean; an unparsable ip is in nothing */
int
lm_ip_in(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct ma_ip ip;

	luaL_checktype(L, 2, LUA_TTABLE);
	if (!ma_ip_parse(&ip, s, len)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	for (lua_Integer i = 1; i <= luaL_len(L, 2); i++) {
		struct ma_ip net;
		unsigned bits;
		lua_rawgeti(L, 2, i);
		const char *c = lua_tostring(L, -1);
		if (c == NULL || !cidr_parse(c, &net, &bits))
			return luaL_error(L, "bad network '%s'", c ? c : "?");
		lua_pop(L, 1);
		if (ma_ip_match(&ip, net.addr, net.family, bits)) {
			lua_pushboolean(L, 1);
			return 1;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}
