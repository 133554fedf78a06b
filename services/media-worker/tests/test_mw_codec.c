/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_codec.c -- the codecs and resamplers of mw_codec: the codec
 * table, G.711/G.722/opus round trips judged by content (a tone's power
 * measured with a Goertzel filter after decoding, so a 6 kHz tone proves
 * the wideband path is not downsampled), frame sizes, hostile payloads,
 * and exact frame counts and band limits of the 8 <-> 16 kHz resampling.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mw_codec.h"

#define SECONDS 1

static void tone(
		int16_t *x, size_t n, unsigned rate, double hz, double amp, size_t t0)
{
	size_t i;

	for(i = 0; i < n; i++)
		x[i] = (int16_t)(amp * sin(2 * M_PI * hz * (double)(t0 + i) / rate));
}

/* Mean power of 'hz' in x (Goertzel), normalised so that a sine of
 * amplitude A gives about A^2 / 4. */
static double power_at(const int16_t *x, size_t n, unsigned rate, double hz)
{
	double k = 2 * cos(2 * M_PI * hz / rate), s1 = 0, s2 = 0, s;
	size_t i;

	for(i = 0; i < n; i++) {
		s = x[i] + k * s1 - s2;
		s2 = s1;
		s1 = s;
	}
	return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double)n * n);
}

static void test_table(void **state)
{
	const struct mw_codec_desc *d;

	d = mw_codec_desc(MW_CODEC_G722);
	assert_non_null(d);
	assert_string_equal(d->name, "G722");
	assert_int_equal(d->rate, 16000);
	assert_int_equal(d->clock, 8000); /* RFC 3551's historical clock */
	d = mw_codec_desc(MW_CODEC_OPUS);
	assert_int_equal(d->clock, 48000);
	assert_int_equal(d->channels, 2);
	assert_int_equal(mw_codec_desc(MW_CODEC_PCMA)->rate, 8000);
	assert_null(mw_codec_desc(18));
	assert_true(mw_codec_wideband(MW_CODEC_OPUS));
	assert_false(mw_codec_wideband(MW_CODEC_PCMU));
	assert_false(mw_codec_wideband(42));
}

/* Encodes and decodes SECONDS of a two-tone signal in 20 ms frames and
 * returns the decoded power at 'lo' and 'hi' relative to the input's. */
static void round_trip(int id, double lo, double hi, double *plo, double *phi,
		int *frame_bytes)
{
	struct mw_codec_state c;
	const struct mw_codec_desc *d = mw_codec_desc(id);
	unsigned rate = d->rate, frame = rate / 50, f, nf = SECONDS * 50;
	int16_t in[320], a[320], b[320], out[MW_CODEC_MAX_SAMPLES];
	static int16_t all[16000 * SECONDS];
	uint8_t pay[MW_CODEC_MAX_PAYLOAD];
	size_t got = 0;
	int n, m;

	assert_int_equal(mw_codec_init(&c, id), 0);
	for(f = 0; f < nf; f++) {
		tone(a, frame, rate, lo, 6000, f * frame);
		tone(b, frame, rate, hi, 6000, f * frame);
		for(n = 0; n < (int)frame; n++)
			in[n] = (int16_t)(a[n] + b[n]);
		n = mw_codec_encode(&c, in, frame, pay, sizeof(pay));
		assert_true(n > 0);
		*frame_bytes = n;
		m = mw_codec_decode(&c, pay, (size_t)n, out, MW_CODEC_MAX_SAMPLES);
		assert_int_equal(m, (int)frame);
		memcpy(all + got, out, (size_t)m * sizeof(int16_t));
		got += (size_t)m;
	}
	/* skip the codec's start-up (its delay and adaptation) */
	*plo = power_at(all + rate / 5, got - rate / 5, rate, lo) /
		   (6000.0 * 6000 / 4);
	*phi = power_at(all + rate / 5, got - rate / 5, rate, hi) /
		   (6000.0 * 6000 / 4);
	mw_codec_cleanup(&c);
}

static void test_round_trips(void **state)
{
	double lo, hi;
	int bytes;

	round_trip(MW_CODEC_PCMU, 440, 3000, &lo, &hi, &bytes);
	assert_int_equal(bytes, 160);
	assert_true(lo > 0.9 && lo < 1.1);
	assert_true(hi > 0.9 && hi < 1.1);
	round_trip(MW_CODEC_PCMA, 440, 3000, &lo, &hi, &bytes);
	assert_true(lo > 0.9 && hi > 0.9);
	/* G.722: 160 bytes per 320 samples; 6 kHz survives */
	round_trip(MW_CODEC_G722, 440, 6000, &lo, &hi, &bytes);
	assert_int_equal(bytes, 160);
	assert_true(lo > 0.9);
	assert_true(hi > 0.9);
	/* opus at 16 kHz, 24 kbit/s: about 60 bytes, 6 kHz survives */
	round_trip(MW_CODEC_OPUS, 440, 6000, &lo, &hi, &bytes);
	assert_true(bytes > 20 && bytes < 120);
	assert_true(lo > 0.8);
	assert_true(hi > 0.7);
}

static void test_hostile(void **state)
{
	struct mw_codec_state c;
	int16_t out[MW_CODEC_MAX_SAMPLES];
	uint8_t junk[200], pay[MW_CODEC_MAX_PAYLOAD];
	int16_t in[320] = {0};
	unsigned i;

	assert_int_equal(mw_codec_init(&c, 42), -EINVAL);
	assert_int_equal(mw_codec_init(&c, MW_CODEC_G722), 0);
	assert_int_equal(mw_codec_decode(&c, junk, 0, out, 320), -EINVAL);
	/* 200 bytes are 400 samples: more than the room given */
	assert_int_equal(mw_codec_decode(&c, junk, 200, out, 320), -ENOSPC);
	assert_int_equal(mw_codec_encode(&c, in, 320, pay, 100), -ENOSPC);
	mw_codec_cleanup(&c);
	assert_int_equal(mw_codec_init(&c, MW_CODEC_OPUS), 0);
	/* code 3 with a zero frame count is malformed (RFC 6716 3.2.5) */
	junk[0] = 0x03;
	junk[1] = 0x00;
	assert_true(mw_codec_decode(&c, junk, 2, out, 1920) < 0);
	/* any garbage decodes to something or fails, never overflows */
	for(i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_true(mw_codec_decode(&c, junk, sizeof(junk), out, 1920) <= 1920);
	/* 120 ms of audio do not fit a 20 ms buffer */
	assert_int_equal(mw_codec_encode(&c, in, 320, pay, sizeof(pay)) > 0, 1);
	junk[0] = 0xfb; /* config 31 (CELT FB 20 ms), code 3 */
	junk[1] = 0x06; /* 6 frames = 120 ms */
	assert_int_equal(mw_codec_decode(&c, junk, 10, out, 320), -ENOSPC);
	mw_codec_cleanup(&c);
	mw_codec_cleanup(&c); /* twice is harmless */
}

static void test_resampler(void **state)
{
	struct mw_resampler up, down, same;
	int16_t a[160], b[320], back[160];
	static int16_t wide[16000], narrow[8000];
	unsigned f;

	assert_int_equal(mw_resampler_init(&up, 0, 8000), -EINVAL);
	assert_int_equal(mw_resampler_init(&up, 8000, 16000), 0);
	assert_int_equal(mw_resampler_init(&down, 16000, 8000), 0);
	assert_int_equal(mw_resampler_init(&same, 8000, 8000), 0);
	/* every 20 ms frame converts to exactly one 20 ms frame */
	for(f = 0; f < 50; f++) {
		tone(a, 160, 8000, 1000, 8000, f * 160);
		assert_int_equal(mw_resample(&up, a, 160, b, 320), 320);
		memcpy(wide + f * 320, b, sizeof(b));
		assert_int_equal(mw_resample(&down, b, 320, back, 160), 160);
		memcpy(narrow + f * 160, back, sizeof(back));
	}
	assert_true(
			power_at(wide + 1600, 14400, 16000, 1000) / (8000.0 * 8000 / 4) >
			0.9);
	assert_true(power_at(narrow + 800, 7200, 8000, 1000) / (8000.0 * 8000 / 4) >
				0.9);
	/* 6 kHz cannot exist at 8 kHz: the converter removes it */
	for(f = 0; f < 50; f++) {
		tone(b, 320, 16000, 6000, 8000, f * 320);
		assert_int_equal(mw_resample(&down, b, 320, back, 160), 160);
		memcpy(narrow + f * 160, back, sizeof(back));
	}
	assert_true(power_at(narrow + 800, 7200, 8000, 2000) / (8000.0 * 8000 / 4) <
				0.01);
	/* the same rate is a copy */
	assert_int_equal(mw_resample(&same, a, 160, back, 160), 160);
	assert_memory_equal(a, back, sizeof(a));
	mw_resampler_cleanup(&up);
	mw_resampler_cleanup(&down);
	mw_resampler_cleanup(&same);
	assert_int_equal(mw_resample(&same, a, 160, back, 160), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_table),
			cmocka_unit_test(test_round_trips),
			cmocka_unit_test(test_hostile),
			cmocka_unit_test(test_resampler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
