/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_g711.c -- G.711 over spandsp's companding (see mw_g711.h).
 */
#include "mw_g711.h"

#include <errno.h>

#include <spandsp.h>

int mw_g711_encode(int pt, const int16_t *pcm, size_t n, uint8_t *out)
{
	size_t i;

	if(pt == 0) {
		for(i = 0; i < n; i++)
			out[i] = linear_to_ulaw(pcm[i]);
	} else if(pt == 8) {
		for(i = 0; i < n; i++)
			out[i] = linear_to_alaw(pcm[i]);
	} else {
		return -EINVAL;
	}
	return 0;
}

int mw_g711_decode(int pt, const uint8_t *in, size_t n, int16_t *pcm)
{
	size_t i;

	if(pt == 0) {
		for(i = 0; i < n; i++)
			pcm[i] = ulaw_to_linear(in[i]);
	} else if(pt == 8) {
		for(i = 0; i < n; i++)
			pcm[i] = alaw_to_linear(in[i]);
	} else {
		return -EINVAL;
	}
	return 0;
}

uint8_t mw_g711_silence(int pt)
{
	return pt == 8 ? linear_to_alaw(0) : linear_to_ulaw(0);
}
