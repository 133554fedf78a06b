/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_g711.c -- G.711 through lookup tables built from spandsp's
 * companding functions (see mw_g711.h).
 *
 * Every 20 ms a call converts four frames (RTP in, the AI's μ-law out
 * and in, RTP out); spandsp's functions cost 8-18 ns a sample here (its
 * top_bit is a portable bit search, not inlined), tables about 1 ns.
 * The tables are filled once at load time (a constructor, before main
 * and before any thread) by calling spandsp's functions, and read-only
 * afterwards, so the codes are spandsp's bit for bit (test_mw_g711
 * compares every input):
 *  - decoding: 256 entries per law;
 *  - μ-law encoding depends only on the sign and |x| >> 2 (the bias 0x84
 *    is a multiple of 4 and the shift is at least 3), and a negative
 *    sample's code is the positive one's with bit 7 flipped: 8193
 *    entries cover |x| = 0..32768;
 *  - A-law encoding depends only on the sign and m >> 4 (m = x, or ~x
 *    for a negative x; the shift is at least 4), bit 7 again the sign:
 *    2048 entries.
 */
#include "mw_g711.h"

#include <errno.h>

#include <spandsp.h>

static int16_t ulaw_dec[256], alaw_dec[256];
static uint8_t ulaw_enc[8193], alaw_enc[2048];

__attribute__((constructor)) static void g711_tables(void)
{
	int i;

	for(i = 0; i < 256; i++) {
		ulaw_dec[i] = ulaw_to_linear((uint8_t)i);
		alaw_dec[i] = alaw_to_linear((uint8_t)i);
	}
	for(i = 0; i < 8193; i++)
		ulaw_enc[i] = linear_to_ulaw(i << 2);
	for(i = 0; i < 2048; i++)
		alaw_enc[i] = linear_to_alaw(i << 4);
}

/* Branch-free (audio changes sign all the time): s is 0 or -1. */
static inline uint8_t ulaw(int16_t x)
{
	int v = x, s = v >> 31;

	return (uint8_t)(ulaw_enc[((v ^ s) - s) >> 2] ^ (s & 0x80));
}

static inline uint8_t alaw(int16_t x)
{
	int v = x, s = v >> 31;

	return (uint8_t)(alaw_enc[(v ^ s) >> 4] ^ (s & 0x80));
}

int mw_g711_encode(int pt, const int16_t *pcm, size_t n, uint8_t *out)
{
	size_t i;

	if(pt == 0) {
		for(i = 0; i < n; i++)
			out[i] = ulaw(pcm[i]);
	} else if(pt == 8) {
		for(i = 0; i < n; i++)
			out[i] = alaw(pcm[i]);
	} else {
		return -EINVAL;
	}
	return 0;
}

int mw_g711_decode(int pt, const uint8_t *in, size_t n, int16_t *pcm)
{
	const int16_t *t;
	size_t i;

	if(pt == 0)
		t = ulaw_dec;
	else if(pt == 8)
		t = alaw_dec;
	else
		return -EINVAL;
	for(i = 0; i < n; i++)
		pcm[i] = t[in[i]];
	return 0;
}

uint8_t mw_g711_silence(int pt)
{
	return pt == 8 ? linear_to_alaw(0) : linear_to_ulaw(0);
}
