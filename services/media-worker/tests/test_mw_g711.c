/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_g711.c -- mw_g711's table-driven G.711 gives spandsp's codes
 * for every input: all 65536 linear samples encoded with both laws, all
 * 256 codes of both laws decoded, frames of any length, bad payload
 * types refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <spandsp.h>

#include "mw_g711.h"

static void every_sample_encodes_as_spandsp(void **state)
{
	static int16_t pcm[65536];
	static uint8_t u[65536], a[65536];
	int i;

	for(i = 0; i < 65536; i++)
		pcm[i] = (int16_t)(i - 32768);
	assert_int_equal(mw_g711_encode(0, pcm, 65536, u), 0);
	assert_int_equal(mw_g711_encode(8, pcm, 65536, a), 0);
	for(i = 0; i < 65536; i++) {
		if(u[i] != linear_to_ulaw(pcm[i]) || a[i] != linear_to_alaw(pcm[i]))
			fail_msg("sample %d: ulaw %02x/%02x alaw %02x/%02x", pcm[i], u[i],
					linear_to_ulaw(pcm[i]), a[i], linear_to_alaw(pcm[i]));
	}
}

static void every_code_decodes_as_spandsp(void **state)
{
	uint8_t c[256];
	int16_t u[256], a[256];
	int i;

	for(i = 0; i < 256; i++)
		c[i] = (uint8_t)i;
	assert_int_equal(mw_g711_decode(0, c, 256, u), 0);
	assert_int_equal(mw_g711_decode(8, c, 256, a), 0);
	for(i = 0; i < 256; i++) {
		assert_int_equal(u[i], ulaw_to_linear((uint8_t)i));
		assert_int_equal(a[i], alaw_to_linear((uint8_t)i));
	}
}

static void lengths_and_errors(void **state)
{
	int16_t x = 1000, y = 0;
	uint8_t c = 0;

	assert_int_equal(mw_g711_encode(0, &x, 0, &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(mw_g711_encode(0, &x, 1, &c), 0);
	assert_int_equal(mw_g711_decode(0, &c, 1, &y), 0);
	assert_int_equal(y, ulaw_to_linear(linear_to_ulaw(1000)));
	assert_int_equal(mw_g711_encode(9, &x, 1, &c), -EINVAL);
	assert_int_equal(mw_g711_decode(18, &c, 1, &y), -EINVAL);
	assert_int_equal(mw_g711_silence(0), 0xff);
	assert_int_equal(mw_g711_silence(8), 0xd5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(every_sample_encodes_as_spandsp),
			cmocka_unit_test(every_code_decodes_as_spandsp),
			cmocka_unit_test(lengths_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
