/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dtmftool.c -- in-band DTMF for the end-to-end tests, with spandsp (the
 * same detector and generator the worker uses, so the tests exercise the
 * worker, not a second DTMF implementation): write a WAV of tones, or
 * print the digits heard in a WAV.
 *
 *   dtmftool gen OUT.wav DIGITS ON_MS OFF_MS [LEAD_MS [NOISE_RMS [LONG]]]
 *       8 kHz 16-bit mono: LEAD_MS of silence, DIGITS at ON_MS/OFF_MS,
 *       then LONG ("7:2000": one digit held 2 s), white noise of
 *       NOISE_RMS over everything, 1 s of silence at the end
 *   dtmftool detect IN.wav      ->  "digits 0123 ms 70,70,70,70"
 *       (8 kHz files, or 16 kHz ones brought to 8 kHz by mw_resampler)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#include "mw_codec.h"
#include "mw_wav.h"

#define MAX_DIGITS 128

struct heard
{
	char digits[MAX_DIGITS + 1];
	int ms[MAX_DIGITS];
	int n;
	char cur;
	long start, pos; /* samples */
};

static void report_cb(void *arg, int code, int level, int delay)
{
	struct heard *h = arg;

	(void)level;
	(void)delay;
	if(code) {
		h->cur = (char)code;
		h->start = h->pos;
		return;
	}
	if(h->cur && h->n < MAX_DIGITS) {
		h->ms[h->n] = (int)((h->pos - h->start) / 8);
		h->digits[h->n++] = h->cur;
		h->digits[h->n] = 0;
	}
	h->cur = 0;
}

static int detect(const char *path)
{
	struct heard h = {0};
	struct mw_resampler r;
	dtmf_rx_state_t *rx;
	int16_t *pcm, blk[160];
	size_t n, i;
	unsigned rate;
	char err[256];
	int j;

	if(mw_wav_read_pcm(path, &pcm, &n, &rate, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if(mw_resampler_init(&r, rate, 8000) < 0)
		return 1;
	rx = dtmf_rx_init(NULL, NULL, NULL);
	dtmf_rx_set_realtime_callback(rx, report_cb, &h);
	/* 20 ms at a time; a short last frame is left out */
	for(i = 0; i + rate / 50 <= n; i += rate / 50) {
		mw_resample(&r, pcm + i, rate / 50, blk, 160);
		dtmf_rx(rx, blk, 160);
		h.pos += 160;
	}
	mw_resampler_cleanup(&r);
	printf("digits %s ms ", h.n ? h.digits : "-");
	for(j = 0; j < h.n; j++)
		printf("%s%d", j ? "," : "", h.ms[j]);
	printf("\n");
	dtmf_rx_free(rx);
	free(pcm);
	return 0;
}

static void add_noise(int16_t *x, size_t n, double rms)
{
	size_t i;
	unsigned seed = 12345;
	int k;

	for(i = 0; i < n && rms > 0; i++) {
		double v = 0;
		for(k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			v += (double)(seed >> 8) / (1u << 24) - 0.5;
		}
		v = x[i] + v * rms * 1.732;
		x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
}

static size_t tones(int16_t *x, size_t cap, const char *d, int on, int off)
{
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	size_t n = 0;
	int k;

	dtmf_tx_set_timing(tx, on, off);
	dtmf_tx_put(tx, d, -1);
	while(n < cap && (k = dtmf_tx(tx, x + n, (int)(cap - n))) > 0)
		n += (size_t)k;
	dtmf_tx_free(tx);
	return n;
}

static int gen(int argc, char **argv)
{
	const char *out = argv[2], *digits = argv[3];
	int on = atoi(argv[4]), off = atoi(argv[5]);
	int lead = argc > 6 ? atoi(argv[6]) : 0;
	double rms = argc > 7 ? atof(argv[7]) : 0;
	const char *lng = argc > 8 ? argv[8] : NULL;
	size_t cap = 8000 * 120, n;
	int16_t *x = calloc(cap, sizeof(int16_t));
	struct mw_wav_out w;

	if(!x || lead < 0 || on < 20 || off < 0)
		return 2;
	n = (size_t)lead * 8;
	n += tones(x + n, cap - n, digits, on, off);
	if(lng && strchr(lng, ':')) {
		char d[2] = {lng[0], 0};
		n += 8 * 200; /* a pause before the long press */
		n += tones(x + n, cap - n, d, atoi(strchr(lng, ':') + 1), 100);
	}
	n += 8000;
	if(n > cap)
		n = cap;
	add_noise(x, n, rms);
	if(mw_wav_create(&w, out) < 0 || mw_wav_append(&w, x, n) < 0 ||
			mw_wav_close(&w) < 0) {
		perror(out);
		return 1;
	}
	free(x);
	return 0;
}

int main(int argc, char **argv)
{
	if(argc == 3 && strcmp(argv[1], "detect") == 0)
		return detect(argv[2]);
	if(argc >= 6 && strcmp(argv[1], "gen") == 0)
		return gen(argc, argv);
	fprintf(stderr, "usage: dtmftool gen OUT.wav DIGITS ON_MS OFF_MS "
					"[LEAD_MS [NOISE_RMS [D:MS]]] | detect IN.wav\n");
	return 2;
}
