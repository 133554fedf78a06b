/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_wav.c -- minimal RIFF/WAVE reader (8 kHz mono PCM16 or μ-law, to
 * μ-law; or 8/16 kHz to PCM) and PCM16 writer (see mw_wav.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mw_g711.h"
#include "mw_wav.h"

#define WAV_FMT_PCM 1
#define WAV_FMT_ULAW 7
#define WAV_FMT_EXT 0xfffe

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		   (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fail(
		char *err, size_t errlen, int rc, const char *path, const char *why)
{
	if(err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}

/* Whole file into memory, at most MW_WAV_MAX_BYTES */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	size_t n;

	if(f == NULL)
		return -errno;
	b = malloc(MW_WAV_MAX_BYTES + 1);
	if(b == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(b, 1, MW_WAV_MAX_BYTES + 1, f);
	if(ferror(f)) {
		fclose(f);
		free(b);
		return -EIO;
	}
	fclose(f);
	if(n > MW_WAV_MAX_BYTES) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* A file's format and samples: 'b' owns the bytes 'data' points into. */
struct wav_in
{
	uint8_t *b;
	const uint8_t *data;
	size_t data_len;
	uint16_t format, channels, bits;
	uint32_t rate;
};

static int wav_load(
		const char *path, struct wav_in *w, char *err, size_t errlen)
{
	uint8_t *b = NULL;
	const uint8_t *fmt = NULL, *data = NULL;
	size_t n = 0, off, data_len = 0;
	uint16_t format = 0, channels = 0, bits = 0;
	uint32_t rate = 0;
	int rc;

	rc = slurp(path, &b, &n);
	if(rc < 0)
		return fail(err, errlen, rc, path, strerror(-rc));
	if(n < 12 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0) {
		free(b);
		return fail(err, errlen, -EINVAL, path, "not a RIFF/WAVE file");
	}
	/* chunks: id(4) size(4) body, padded to even sizes */
	for(off = 12; off + 8 <= n;) {
		uint32_t sz = le32(b + off + 4);
		const uint8_t *body = b + off + 8;
		size_t avail = n - off - 8;
		if(memcmp(b + off, "fmt ", 4) == 0 && sz >= 16 && sz <= avail) {
			fmt = body;
			format = le16(fmt);
			channels = le16(fmt + 2);
			rate = le32(fmt + 4);
			bits = le16(fmt + 14);
			/* WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with
			 * the real format code */
			if(format == WAV_FMT_EXT && sz >= 40)
				format = le16(fmt + 24);
		} else if(memcmp(b + off, "data", 4) == 0) {
			data = body;
			/* a streaming writer may leave the size unset: take the rest */
			data_len = sz <= avail ? sz : avail;
			break;
		}
		if(sz > avail)
			break;
		off += 8 + (size_t)sz + (sz & 1);
	}
	if(fmt == NULL || data == NULL) {
		free(b);
		return fail(err, errlen, -EINVAL, path, "no fmt or data chunk");
	}
	w->b = b;
	w->data = data;
	w->data_len = data_len;
	w->format = format;
	w->channels = channels;
	w->bits = bits;
	w->rate = rate;
	return 0;
}

int mw_wav_read_pcm(const char *path, int16_t **pcm, size_t *n, unsigned *rate,
		char *err, size_t errlen)
{
	struct wav_in w;
	size_t i, samples;
	int16_t *out;
	int rc;

	*pcm = NULL;
	*n = 0;
	rc = wav_load(path, &w, err, errlen);
	if(rc < 0)
		return rc;
	if(w.channels != 1 || !((w.format == WAV_FMT_PCM && w.bits == 16 &&
									(w.rate == 8000 || w.rate == 16000)) ||
								  (w.format == WAV_FMT_ULAW && w.bits == 8 &&
										  w.rate == 8000))) {
		free(w.b);
		return fail(err, errlen, -EINVAL, path,
				"must be mono 16-bit PCM at 8000 or 16000 Hz, or 8 kHz "
				"mu-law");
	}
	samples = w.format == WAV_FMT_ULAW ? w.data_len : w.data_len / 2;
	out = malloc(samples ? samples * sizeof(int16_t) : 2);
	if(out == NULL) {
		free(w.b);
		return fail(err, errlen, -ENOMEM, path, "out of memory");
	}
	if(w.format == WAV_FMT_ULAW)
		mw_g711_decode(0, w.data, samples, out);
	else
		for(i = 0; i < samples; i++)
			out[i] = (int16_t)le16(w.data + 2 * i);
	free(w.b);
	*pcm = out;
	*n = samples;
	*rate = w.rate;
	return 0;
}

int mw_wav_read_ulaw(
		const char *path, uint8_t **ulaw, size_t *len, char *err, size_t errlen)
{
	struct wav_in w;
	uint8_t *b, *out;
	const uint8_t *data;
	size_t data_len;
	uint16_t format, channels, bits;
	uint32_t rate;
	int rc;

	*ulaw = NULL;
	*len = 0;
	rc = wav_load(path, &w, err, errlen);
	if(rc < 0)
		return rc;
	b = w.b;
	data = w.data;
	data_len = w.data_len;
	format = w.format;
	channels = w.channels;
	bits = w.bits;
	rate = w.rate;
	if(channels != 1 || rate != 8000 ||
			!((format == WAV_FMT_PCM && bits == 16) ||
					(format == WAV_FMT_ULAW && bits == 8))) {
		free(b);
		return fail(err, errlen, -EINVAL, path,
				"must be 8000 Hz mono, 16-bit PCM or 8-bit mu-law");
	}
	if(format == WAV_FMT_ULAW) {
		out = malloc(data_len ? data_len : 1);
		if(out != NULL)
			memcpy(out, data, data_len);
		*len = data_len;
	} else {
		size_t i, samples = data_len / 2;
		int16_t *pcm = malloc(samples ? samples * 2 : 2);
		out = malloc(samples ? samples : 1);
		if(pcm != NULL && out != NULL) {
			for(i = 0; i < samples; i++)
				pcm[i] = (int16_t)le16(data + 2 * i);
			mw_g711_encode(0, pcm, samples, out);
		}
		free(pcm);
		*len = samples;
	}
	free(b);
	if(out == NULL) {
		*len = 0;
		return fail(err, errlen, -ENOMEM, path, "out of memory");
	}
	*ulaw = out;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void header(uint8_t h[44], uint32_t data_bytes, uint32_t rate)
{
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + data_bytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, WAV_FMT_PCM);
	put16(h + 22, 1);		 /* channels */
	put32(h + 24, rate);	 /* sample rate */
	put32(h + 28, rate * 2); /* byte rate */
	put16(h + 32, 2);		 /* block align */
	put16(h + 34, 16);		 /* bits */
	memcpy(h + 36, "data", 4);
	put32(h + 40, data_bytes);
}

int mw_wav_create(struct mw_wav_out *w, const char *path)
{
	return mw_wav_create_rate(w, path, 8000);
}

int mw_wav_create_rate(struct mw_wav_out *w, const char *path, unsigned rate)
{
	uint8_t h[44];

	w->data_bytes = 0;
	w->rate = rate ? rate : 8000;
	w->f = fopen(path, "wb");
	if(w->f == NULL)
		return -errno;
	/* big stdio buffer: one write(2) every ~4 s of audio */
	setvbuf(w->f, NULL, _IOFBF, 64 * 1024);
	header(h, 0, w->rate);
	if(fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
		fclose(w->f);
		w->f = NULL;
		return -EIO;
	}
	return 0;
}

int mw_wav_append(struct mw_wav_out *w, const int16_t *pcm, size_t n)
{
	uint8_t buf[2 * 512];
	size_t i, k;

	if(w->f == NULL)
		return -EBADF;
	/* the RIFF size field is 32 bits: stop at ~74 hours */
	if((uint64_t)w->data_bytes + 2 * n > UINT32_MAX - 64)
		return -EFBIG;
	for(i = 0; i < n; i += k) {
		size_t j;
		k = n - i < 512 ? n - i : 512;
		for(j = 0; j < k; j++)
			put16(buf + 2 * j, (uint16_t)pcm[i + j]);
		if(fwrite(buf, 2, k, w->f) != k)
			return -EIO;
	}
	w->data_bytes += (uint32_t)(2 * n);
	return 0;
}

int mw_wav_close(struct mw_wav_out *w)
{
	uint8_t h[44];
	int rc = 0;

	if(w->f == NULL)
		return 0;
	header(h, w->data_bytes, w->rate ? w->rate : 8000);
	if(fseek(w->f, 0, SEEK_SET) != 0 ||
			fwrite(h, 1, sizeof(h), w->f) != sizeof(h))
		rc = -EIO;
	if(fclose(w->f) != 0)
		rc = -EIO;
	w->f = NULL;
	return rc;
}
