#include "b64.h"

#include <stdint.h>

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0-63 a digit, 64 padding, 65 whitespace, 66 invalid. */
static const unsigned char dec[256] = {
#define X 66
	X,X,X,X,X,X,X,X,X,65,65,X,X,65,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	65,X,X,X,X,X,X,X,X,X,X,62,X,X,X,63, 52,53,54,55,56,57,58,59,60,61,X,X,X,64,X,X,
	X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,X,
	X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
#undef X
};

long
ma_b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t o = 0;
	int n = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char d = dec[(unsigned char)in[i]];
		if (d == 65)
			continue;
		if (d == 66)
			return -1;
		if (d == 64) {
			pad++;
			continue;
		}
		if (pad)
			return -1;	/* data after padding */
		acc = acc << 6 | d;
		if (++n == 4) {
			if (o + 3 > outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			n = 0;
		}
	}
	switch (n) {
	case 0:
		if (pad)
			return -1;
		break;
	case 2:
		if (pad > 2 || o + 1 > outlen)
			return -1;
		out[o++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		if (pad > 1 || o + 2 > outlen)
			return -1;
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
		break;
	default:
		return -1;
	}
	return (long)o;
}

size_t
ma_b64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = enc[v >> 18];
		out[o++] = enc[(v >> 12) & 63];
		out[o++] = enc[(v >> 6) & 63];
		out[o++] = enc[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = enc[v >> 18];
		out[o++] = enc[(v >> 12) & 63];
		out[o++] = i + 1 < len ? enc[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}
