/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wavsim.c -- audio content check for the end-to-end tests: how much of a
 * reference recording appears inside another one. Slides a window of the
 * reference (its loudest 'win' ms) over the other recording and reports
 * the best normalised cross-correlation (1.0 = identical waveform up to
 * gain) and the lag where it was found. Both files: WAV, 16-bit PCM, mono,
 * same sample rate.
 *
 *   wavsim REF.wav REC.wav [win_ms]    ->  "similarity 0.97 lag_ms 1840"
 *
 * Written by hand because it is a test tool of ~150 lines; sox has no
 * cross-correlation and the project's libraries have none either.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wav {
	int rate;
	size_t n;
	float *s;
} wav_t;

static int rd_u32(FILE *f, uint32_t *v)
{
	uint8_t b[4];
	if(fread(b, 1, 4, f) != 4)
		return -1;
	*v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

/* Minimal RIFF reader: walks the chunks, takes "fmt " and "data". */
static int wav_read(const char *path, wav_t *w)
{
	FILE *f = fopen(path, "rb");
	char id[4];
	uint32_t len, riff;
	uint16_t fmt = 0, ch = 0, bits = 0;
	int have_fmt = 0;

	memset(w, 0, sizeof(*w));
	if(!f)
		return -1;
	if(fread(id, 1, 4, f) != 4 || memcmp(id, "RIFF", 4) || rd_u32(f, &riff)
			|| fread(id, 1, 4, f) != 4 || memcmp(id, "WAVE", 4))
		goto bad;
	while(fread(id, 1, 4, f) == 4 && rd_u32(f, &len) == 0) {
		if(!memcmp(id, "fmt ", 4) && len >= 16) {
			uint8_t b[16];
			if(fread(b, 1, 16, f) != 16)
				goto bad;
			fmt = b[0] | b[1] << 8;
			ch = b[2] | b[3] << 8;
			w->rate = b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24;
			bits = b[14] | b[15] << 8;
			have_fmt = 1;
			fseek(f, len - 16 + (len & 1), SEEK_CUR);
		} else if(!memcmp(id, "data", 4) && have_fmt) {
			size_t i;
			if(fmt != 1 || ch != 1 || bits != 16)
				goto bad;
			w->n = len / 2;
			w->s = malloc(w->n * sizeof(float) + 1);
			for(i = 0; i < w->n; i++) {
				uint8_t b[2];
				if(fread(b, 1, 2, f) != 2)
					break;
				w->s[i] = (int16_t)(b[0] | b[1] << 8);
			}
			w->n = i;
			fclose(f);
			return 0;
		} else {
			fseek(f, len + (len & 1), SEEK_CUR);
		}
	}
bad:
	fclose(f);
	fprintf(stderr, "wavsim: %s: not a 16-bit mono PCM WAV\n", path);
	return -1;
}

int main(int argc, char **argv)
{
	wav_t ref, rec;
	size_t win, i, k, best_start = 0, best_lag = 0;
	double e_ref, e_best = -1, dot, e_rec, best = 0;

	if(argc < 3) {
		fprintf(stderr, "usage: wavsim REF.wav REC.wav [win_ms]\n");
		return 2;
	}
	if(wav_read(argv[1], &ref) || wav_read(argv[2], &rec))
		return 2;
	if(ref.rate != rec.rate) {
		fprintf(stderr, "wavsim: sample rates differ (%d, %d)\n", ref.rate,
				rec.rate);
		return 2;
	}
	win = (size_t)(argc > 3 ? atoi(argv[3]) : 1000) * ref.rate / 1000;
	if(win > ref.n)
		win = ref.n;
	if(win < 80 || rec.n < win) {
		printf("similarity 0.000 lag_ms -1\n");
		return 0;
	}
	/* the loudest window of the reference (speech, not silence) */
	for(i = 0, e_ref = 0; i < win; i++)
		e_ref += ref.s[i] * ref.s[i];
	e_best = e_ref;
	for(i = win; i < ref.n; i++) {
		e_ref += ref.s[i] * ref.s[i] - ref.s[i - win] * ref.s[i - win];
		if(e_ref > e_best) {
			e_best = e_ref;
			best_start = i - win + 1;
		}
	}
	e_ref = e_best;
	if(e_ref <= 0) {
		printf("similarity 0.000 lag_ms -1\n");
		return 0;
	}
	/* slide over the recording with a running energy */
	for(k = 0, e_rec = 0; k < win; k++)
		e_rec += rec.s[k] * rec.s[k];
	for(i = 0; i + win <= rec.n; i++) {
		if(i > 0)
			e_rec += rec.s[i + win - 1] * rec.s[i + win - 1]
					 - rec.s[i - 1] * rec.s[i - 1];
		if(e_rec > 1e-3 * e_ref) {
			double c;
			for(k = 0, dot = 0; k < win; k++)
				dot += ref.s[best_start + k] * rec.s[i + k];
			c = dot / sqrt(e_ref * e_rec);
			if(c > best) {
				best = c;
				best_lag = i;
			}
		}
	}
	printf("similarity %.3f lag_ms %zu\n", best,
			best_lag * 1000 / (size_t)rec.rate);
	free(ref.s);
	free(rec.s);
	return 0;
}
