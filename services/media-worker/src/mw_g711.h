/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_g711.h -- G.711 PCMU/PCMA frame encode/decode for the media engine:
 * the codes of spandsp's companding functions (linear_to_ulaw,
 * ulaw_to_linear, linear_to_alaw, alaw_to_linear), bit for bit, through
 * lookup tables filled from them once at load time (read-only after; no
 * per-call state). Safe on any thread.
 */
#ifndef MW_G711_H
#define MW_G711_H

#include <stddef.h>
#include <stdint.h>

/* pt: RTP payload type, 0 (PCMU) or 8 (PCMA). -EINVAL otherwise. */
int mw_g711_encode(int pt, const int16_t *pcm, size_t n, uint8_t *out);
int mw_g711_decode(int pt, const uint8_t *in, size_t n, int16_t *pcm);
/* The code of linear 0 (silence): 0xff for PCMU, 0xd5 for PCMA. */
uint8_t mw_g711_silence(int pt);

#endif
