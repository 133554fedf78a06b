/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_wav.h -- minimal WAV support shared by the worker (the agents'
 * fallback message, failure_policy "message") and the reference agent
 * (greeting, recordings): read an 8 kHz mono file (16-bit PCM or G.711
 * μ-law) as μ-law, and record 8 kHz 16-bit mono PCM. No WAV library is packaged for Debian that is smaller
 * than this RIFF walk (libsndfile would pull in codecs we never use).
 */
#ifndef MW_WAV_H
#define MW_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MW_WAV_MAX_BYTES (16u << 20) /* greeting files larger are refused */

/* Reads 'path' into *ulaw (malloc'ed, *len bytes). On error returns
 * -errno and writes a one-line reason into err. */
int mw_wav_read_ulaw(const char *path, uint8_t **ulaw, size_t *len, char *err,
		size_t errlen);
/* The same for 8000 or 16000 Hz mono files (16-bit PCM, or 8 kHz μ-law),
 * as linear PCM (*pcm malloc'ed, *n samples) at the file's *rate. */
int mw_wav_read_pcm(const char *path, int16_t **pcm, size_t *n, unsigned *rate,
		char *err, size_t errlen);

/* A recording being written; owned by the call that opened it. */
struct mw_wav_out
{
	FILE *f;
	uint32_t data_bytes;
	uint32_t rate; /* samples per second in the header */
};

int mw_wav_create(struct mw_wav_out *w, const char *path);
/* The same at another sample rate (16000 for wideband recordings). */
int mw_wav_create_rate(struct mw_wav_out *w, const char *path, unsigned rate);
/* Appends samples (buffered by stdio; the header is completed at close). */
int mw_wav_append(struct mw_wav_out *w, const int16_t *pcm, size_t n);
int mw_wav_close(struct mw_wav_out *w);

#endif
