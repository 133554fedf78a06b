/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_codec.c -- codecs and resampling for the media engine (contract in
 * mw_codec.h): spandsp's G.711 companding and G.722, libopus, speexdsp's
 * resampler.
 */
#include "mw_codec.h"

#include <errno.h>
#include <string.h>

#include <opus/opus.h>
#include <spandsp.h>
#include <speex/speex_resampler.h>

#include "mw_g711.h"

/* Opus toward the carrier: wideband voice at 24 kbit/s, the usual
 * wideband VoIP rate. The encoder is the most expensive step of a call:
 * complexity 1 costs about 120 us per 20 ms frame here against 190 us at
 * 5 and 340-430 us at 6-10 (measured with tests/tools/mediabench and a
 * speech file; docs/media-worker.md, "Codecs"), and at 16 kHz voice the
 * SILK layer it tunes loses little. */
#define OPUS_COMPLEXITY 1
#define OPUS_BITRATE 24000

static const struct mw_codec_desc descs[] = {
		{MW_CODEC_PCMU, "PCMU", 8000, 8000, 1},
		{MW_CODEC_PCMA, "PCMA", 8000, 8000, 1},
		{MW_CODEC_G722, "G722", 16000, 8000, 1},
		{MW_CODEC_OPUS, "opus", 16000, 48000, 2},
};

const struct mw_codec_desc *mw_codec_desc(int id)
{
	size_t i;

	for(i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if(descs[i].id == id)
			return &descs[i];
	return NULL;
}

int mw_codec_wideband(int id)
{
	const struct mw_codec_desc *d = mw_codec_desc(id);

	return d && d->rate > 8000;
}

int mw_codec_init(struct mw_codec_state *c, int id)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->d = mw_codec_desc(id);
	if(!c->d)
		return -EINVAL;
	switch(id) {
		case MW_CODEC_G722:
			c->g722e = g722_encode_init(NULL, 64000, 0);
			c->g722d = g722_decode_init(NULL, 64000, 0);
			if(!c->g722e || !c->g722d)
				goto nomem;
			break;
		case MW_CODEC_OPUS:
			/* decoded to mono 16 kHz whatever the far end sends (mono or
			 * stereo, up to fullband): what the AI side uses */
			c->oe = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
			c->od = opus_decoder_create(16000, 1, &err);
			if(!c->oe || !c->od)
				goto nomem;
			opus_encoder_ctl(c->oe, OPUS_SET_COMPLEXITY(OPUS_COMPLEXITY));
			opus_encoder_ctl(c->oe, OPUS_SET_BITRATE(OPUS_BITRATE));
			opus_encoder_ctl(c->oe, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
			break;
		default:
			break;
	}
	return 0;
nomem:
	mw_codec_cleanup(c);
	return -ENOMEM;
}

void mw_codec_cleanup(struct mw_codec_state *c)
{
	if(c->g722e)
		g722_encode_free(c->g722e);
	if(c->g722d)
		g722_decode_free(c->g722d);
	if(c->oe)
		opus_encoder_destroy(c->oe);
	if(c->od)
		opus_decoder_destroy(c->od);
	memset(c, 0, sizeof(*c));
}

int mw_codec_encode(struct mw_codec_state *c, const int16_t *pcm, size_t n,
		uint8_t *out, size_t cap)
{
	int r;

	if(!c->d || n == 0)
		return -EINVAL;
	switch(c->id) {
		case MW_CODEC_PCMU:
		case MW_CODEC_PCMA:
			if(n > cap)
				return -ENOSPC;
			mw_g711_encode(c->id, pcm, n, out);
			return (int)n;
		case MW_CODEC_G722:
			/* 4 bits per 16 kHz sample: n / 2 bytes */
			if(n / 2 > cap || n % 2)
				return -ENOSPC;
			return g722_encode(c->g722e, out, pcm, (int)n);
		case MW_CODEC_OPUS:
			r = opus_encode(c->oe, pcm, (int)n, out, (opus_int32)cap);
			return r < 0 ? -EINVAL : r;
		default:
			return -EINVAL;
	}
}

int mw_codec_decode(struct mw_codec_state *c, const uint8_t *in, size_t len,
		int16_t *pcm, size_t cap)
{
	int r;

	if(!c->d || len == 0)
		return -EINVAL;
	switch(c->id) {
		case MW_CODEC_PCMU:
		case MW_CODEC_PCMA:
			if(len > cap)
				return -ENOSPC;
			mw_g711_decode(c->id, in, len, pcm);
			return (int)len;
		case MW_CODEC_G722:
			if(len * 2 > cap)
				return -ENOSPC;
			return g722_decode(c->g722d, pcm, in, (int)len);
		case MW_CODEC_OPUS:
			r = opus_decoder_get_nb_samples(c->od, in, (opus_int32)len);
			if(r <= 0)
				return -EINVAL;
			if((size_t)r > cap)
				return -ENOSPC;
			r = opus_decode(c->od, in, (opus_int32)len, pcm, (int)cap, 0);
			return r < 0 ? -EINVAL : r;
		default:
			return -EINVAL;
	}
}

/* ---- resampling ---- */

int mw_resampler_init(
		struct mw_resampler *r, unsigned in_rate, unsigned out_rate)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	if(!in_rate || !out_rate)
		return -EINVAL;
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	if(in_rate == out_rate)
		return 0;
	r->st = speex_resampler_init(
			1, in_rate, out_rate, SPEEX_RESAMPLER_QUALITY_VOIP, &err);
	return r->st ? 0 : -ENOMEM;
}

int mw_resample(struct mw_resampler *r, const int16_t *in, size_t n_in,
		int16_t *out, size_t n_out)
{
	spx_uint32_t il = (spx_uint32_t)n_in, ol = (spx_uint32_t)n_out;

	if(!r->in_rate)
		return -EINVAL;
	if(!r->st) {
		size_t n = n_in < n_out ? n_in : n_out;

		memcpy(out, in, n * sizeof(int16_t));
		ol = (spx_uint32_t)n;
	} else if(speex_resampler_process_int(r->st, 0, in, &il, out, &ol) !=
			  RESAMPLER_ERR_SUCCESS) {
		return -EINVAL;
	}
	/* integer ratios fill the frame exactly; anything else may be a
	 * sample short at times: hold the last value */
	while(ol < n_out) {
		out[ol] = ol ? out[ol - 1] : 0;
		ol++;
	}
	return (int)n_out;
}

void mw_resampler_reset(struct mw_resampler *r)
{
	if(r->st)
		speex_resampler_reset_mem(r->st);
}

void mw_resampler_cleanup(struct mw_resampler *r)
{
	if(r->st)
		speex_resampler_destroy(r->st);
	memset(r, 0, sizeof(*r));
}
