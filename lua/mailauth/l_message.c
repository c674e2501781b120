/* mailauth.core: message userdata. */
#include "lmailauth.h"

#include <limits.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct lmessage {
	struct ma_msg *m;
	int srcref;		/* the source string (a memory body points into it) */
};

const struct ma_msg *
lm_check_message(lua_State *L, int i)
{
	struct lmessage *lm = luaL_checkudata(L, i, MESSAGE_MT);

	if (lm->m == NULL)
		luaL_argerror(L, i, "message is closed");
	return lm->m;
}

static struct ma_msg_limits
limits(lua_State *L, int t)
{
	struct ma_msg_limits l = { 0, 0 };

	if (lua_istable(L, t)) {
		l.max_headers = lm_opt_uint(L, t, "max_headers", 0, 1, UINT_MAX);
		l.max_header_bytes = lm_opt_uint(L, t, "max_header_bytes", 0, 1, UINT_MAX);
	}
	return l;
}

/* message(source [, limits]): a string holding the message (it has a line
 * break), a path (it has none), or an open file handle. */
int
lm_message(lua_State *L)
{
	struct ma_msg_limits lim = limits(L, 2);
	struct lmessage *lm = lua_newuserdatauv(L, sizeof(*lm), 0);

	lm->m = NULL;
	lm->srcref = LUA_NOREF;
	luaL_setmetatable(L, MESSAGE_MT);
	if ((lm->m = ma_msg_new(&lim)) == NULL)
		return luaL_error(L, "out of memory");

	luaL_Stream *fh = luaL_testudata(L, 1, LUA_FILEHANDLE);
	if (fh != NULL) {
		if (fh->closef == NULL)
			return luaL_argerror(L, 1, "file is closed");
		int fd = fileno(fh->f);
		long pos = ftell(fh->f);
		if (fd < 0 || (pos >= 0 && lseek(fd, pos, SEEK_SET) < 0) || ma_msg_parse_fd(lm->m, fd) < 0)
			return luaL_error(L, "cannot read the message: %s", ma_msg_error(lm->m));
		return 1;
	}
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	if (memchr(s, '\n', len) == NULL) {
		int fd = open(s, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return luaL_error(L, "cannot open message file '%s'", s);
		int rc = ma_msg_parse_fd(lm->m, fd);
		close(fd);
		if (rc < 0)
			return luaL_error(L, "cannot read message file '%s'", s);
		return 1;
	}
	lua_pushvalue(L, 1);
	lm->srcref = luaL_ref(L, LUA_REGISTRYINDEX);
	ma_msg_parse(lm->m, s, len);
	return 1;
}

static int
l_message_gc(lua_State *L)
{
	struct lmessage *lm = luaL_checkudata(L, 1, MESSAGE_MT);

	ma_msg_free(lm->m);
	lm->m = NULL;
	if (lm->srcref != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, lm->srcref);
		lm->srcref = LUA_NOREF;
	}
	return 0;
}

/* msg:headers([name]) -> { {name=, value=, raw=}, ... } in order */
static int
l_message_headers(lua_State *L)
{
	const struct ma_msg *m = lm_check_message(L, 1);
	const char *want = luaL_optstring(L, 2, NULL);
	lua_Integer k = 0;

	lua_newtable(L);
	for (size_t i = 0; i < ma_msg_count(m); i++) {
		const struct ma_header *h = ma_msg_header(m, i);
		if (want && !ma_header_is(h, want))
			continue;
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, (lua_Integer)i + 1);	/* its place among all fields */
		lua_setfield(L, -2, "index");
		lua_pushlstring(L, h->raw, h->namelen);
		lua_setfield(L, -2, "name");
		lua_pushlstring(L, h->raw + h->valoff, h->len - h->valoff);
		lua_setfield(L, -2, "value");
		lua_pushlstring(L, h->raw, h->len);
		lua_setfield(L, -2, "raw");
		lua_rawseti(L, -2, ++k);
	}
	return 1;
}

/* msg:error() -> the first problem met while reading, or nil */
static int
l_message_error(lua_State *L)
{
	const char *e = ma_msg_error(lm_check_message(L, 1));

	if (e)
		lua_pushstring(L, e);
	else
		lua_pushnil(L);
	return 1;
}

static int
collect(void *ctx, const unsigned char *p, size_t n)
{
	luaL_addlstring(ctx, (const char *)p, n);
	return 0;
}

/* msg:body() -> the body (CRLF line ends); loads it whole: for scripts. */
static int
l_message_body(lua_State *L)
{
	const struct ma_msg *m = lm_check_message(L, 1);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	if (ma_msg_body(m, collect, &b) < 0)
		return luaL_error(L, "cannot read the message body");
	luaL_pushresult(&b);
	return 1;
}

static const luaL_Reg message_methods[] = {
	{ "headers", l_message_headers },
	{ "error", l_message_error },
	{ "body", l_message_body },
	{ "close", l_message_gc },
	{ NULL, NULL },
};

void
lm_open_message(lua_State *L)
{
	if (luaL_newmetatable(L, MESSAGE_MT)) {
		luaL_newlib(L, message_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_message_gc);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_message_gc);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
}
