/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_codec.h -- the RTP audio codecs of the media engine and the sample
 * rate conversion between them and the AI: G.711 μ-law/A-law (8 kHz) and
 * G.722 (16 kHz) through spandsp, opus (decoded and encoded at 16 kHz,
 * 48 kHz RTP clock) through libopus, resampling through speexdsp. Only
 * the codec table is ours; every signal-processing step is a library's.
 *
 * Ownership: a struct mw_codec_state / mw_resampler is embedded in its owner
 * (the media session) and used by one thread. _init allocates the
 * library state (G.722: ~1 KB, opus: ~60 KB, resampler: ~2 KB), so it is
 * called at call set-up or on a codec change, never per packet; encode,
 * decode and resample never allocate. Functions return 0 (or a count)
 * or -errno.
 */
#ifndef MW_CODEC_H
#define MW_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Values equal the static RTP payload type where there is one; opus
 * only has dynamic ones (the SDP names the type). */
enum mw_codec
{
	MW_CODEC_PCMU = 0,
	MW_CODEC_PCMA = 8,
	MW_CODEC_G722 = 9,
	MW_CODEC_OPUS = 256
};

#define MW_CODEC_MAX_PAYLOAD 400  /* bytes of one 20 ms frame we encode */
#define MW_CODEC_MAX_SAMPLES 1920 /* samples one payload decodes to */

struct mw_codec_desc
{
	int id;			   /* enum mw_codec */
	const char *name;  /* SDP encoding name: "PCMU", "G722", "opus" */
	unsigned rate;	   /* PCM samples per second (encoder/decoder side) */
	unsigned clock;	   /* RTP timestamp clock (G.722: 8000, RFC 3551) */
	unsigned channels; /* SDP encoding parameter (opus: 2, RFC 7587) */
};

/* The description of a codec, or NULL for an unknown id. */
const struct mw_codec_desc *mw_codec_desc(int id);
/* 1 for a codec whose audio is 16 kHz (G.722, opus). */
int mw_codec_wideband(int id);

struct OpusEncoder;
struct OpusDecoder;
struct g722_encode_state_s;
struct g722_decode_state_s;

/* One direction pair of one codec (an encoder and a decoder). */
struct mw_codec_state
{
	int id;
	const struct mw_codec_desc *d;
	struct g722_encode_state_s *g722e;
	struct g722_decode_state_s *g722d;
	struct OpusEncoder *oe;
	struct OpusDecoder *od;
};

/* Sets up the encoder and decoder of codec 'id' (any earlier state must
 * have been released with mw_codec_cleanup). -EINVAL for an unknown id,
 * -ENOMEM. */
int mw_codec_init(struct mw_codec_state *c, int id);
void mw_codec_cleanup(struct mw_codec_state *c);

/* Encodes 'n' samples at the codec's rate (one 20 ms frame: rate / 50)
 * into 'out' (cap bytes). Returns the payload length. */
int mw_codec_encode(struct mw_codec_state *c, const int16_t *pcm, size_t n,
		uint8_t *out, size_t cap);
/* Decodes one RTP payload into 'pcm' (cap samples). Returns the number
 * of samples; -EINVAL for a malformed payload, -ENOSPC when it holds
 * more than cap samples. */
int mw_codec_decode(struct mw_codec_state *c, const uint8_t *in, size_t len,
		int16_t *pcm, size_t cap);

/* ---- sample rate conversion ---- */

struct SpeexResamplerState_;

/* A mono converter between two rates (speexdsp, quality "VoIP"). Every
 * call converts one frame; for rates in an integer ratio (8000 <-> 16000)
 * n_in samples give exactly n_in * out_rate / in_rate samples. */
struct mw_resampler
{
	struct SpeexResamplerState_ *st;
	unsigned in_rate, out_rate;
};

/* -EINVAL for a zero rate, -ENOMEM. in == out is allowed (a copy). */
int mw_resampler_init(
		struct mw_resampler *r, unsigned in_rate, unsigned out_rate);
/* Converts n_in samples into exactly n_out (missing output samples, which
 * only a non-integer ratio can leave, repeat the last one). */
int mw_resample(struct mw_resampler *r, const int16_t *in, size_t n_in,
		int16_t *out, size_t n_out);
/* Forgets the history (the next frame starts from silence). */
void mw_resampler_reset(struct mw_resampler *r);
void mw_resampler_cleanup(struct mw_resampler *r);

#endif
