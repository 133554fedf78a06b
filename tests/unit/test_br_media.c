/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_media.c -- unit tests of br_media: the rtpengine flag strings
 * for each SRTP mode, both legs, offers and answers, codec order and
 * transcoding between wideband/narrowband workers and carriers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "br_media.h"

#define TAIL                                               \
	" codec-offer=telephone-event ptime=20 replace-origin" \
	" replace-session-connection"
#define SUITES "SDES-no-NULL_HMAC_SHA1_80 SDES-no-NULL_HMAC_SHA1_32"
#define ANSWER "ICE=remove replace-origin replace-session-connection"

static void trunk(br_trunk_t *t, const char *codecs, const char *enc)
{
	br_trunk_defaults(t);
	assert_int_equal(br_trunk_set(t, "codecs", codecs, NULL, 0), 0);
	assert_int_equal(br_trunk_set(t, "media_encryption", enc, NULL, 0), 0);
}

static void flags(const br_trunk_t *t, int to_carrier, int is_offer,
		int wideband, const char *want)
{
	char buf[BR_MEDIA_FLAGS_MAX];
	int n;

	memset(buf, 'x', sizeof(buf));
	n = br_media_flags(t, to_carrier, is_offer, wideband, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_offer_to_carrier_enc(void **state)
{
	br_trunk_t t;

	trunk(&t, "PCMU,PCMA", "none");
	flags(&t, 1, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-strip=all "
			"codec-offer=PCMU codec-offer=PCMA" TAIL);
	trunk(&t, "PCMU,PCMA", "sdes");
	flags(&t, 1, 1, 0,
			"RTP/SAVP ICE=remove DTLS=off " SUITES " codec-strip=all "
			"codec-offer=PCMU codec-offer=PCMA" TAIL);
	trunk(&t, "PCMU,PCMA", "dtls");
	flags(&t, 1, 1, 0,
			"UDP/TLS/RTP/SAVP ICE=remove DTLS=passive SDES-off "
			"codec-strip=all codec-offer=PCMU codec-offer=PCMA" TAIL);
}

static void test_offer_to_worker_plain(void **state)
{
	static const char *const enc[] = {"none", "sdes", "dtls"};
	br_trunk_t t;
	int i;

	/* our leg is plain RTP whatever the carrier uses */
	for(i = 0; i < 3; i++) {
		trunk(&t, "PCMU,PCMA", enc[i]);
		flags(&t, 0, 1, 0,
				"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
				"codec-offer=PCMU codec-offer=PCMA" TAIL);
		flags(&t, 0, 1, 1,
				"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
				"codec-offer=PCMU codec-offer=PCMA" TAIL);
	}
}

static void test_codec_order(void **state)
{
	br_trunk_t t;

	trunk(&t, "PCMA,PCMU", "none");
	flags(&t, 1, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-strip=all "
			"codec-offer=PCMA codec-offer=PCMU" TAIL);
	flags(&t, 0, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-offer=PCMA codec-offer=PCMU" TAIL);
	/* a single law: the worker may also get the other one, transcoded */
	trunk(&t, "PCMA", "none");
	flags(&t, 1, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-strip=all "
			"codec-offer=PCMA" TAIL);
	flags(&t, 0, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-offer=PCMA codec-transcode=PCMU" TAIL);
}

static void test_wideband(void **state)
{
	br_trunk_t t;

	/* wideband carrier, wideband worker: no transcoding */
	trunk(&t, "G722,opus,PCMU", "none");
	flags(&t, 1, 1, 1,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-strip=all "
			"codec-offer=G722 codec-offer=opus codec-offer=PCMU" TAIL);
	flags(&t, 0, 1, 1,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-offer=G722 codec-offer=opus codec-offer=PCMU "
			"codec-transcode=PCMA" TAIL);
}

static void test_narrowband_transcode(void **state)
{
	br_trunk_t t;

	/* wideband codecs a narrowband worker cannot produce are transcoded
	 * toward the carrier and not offered to the worker */
	trunk(&t, "G722,PCMU", "none");
	flags(&t, 1, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-strip=all "
			"codec-transcode=G722 codec-offer=PCMU" TAIL);
	flags(&t, 0, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-offer=PCMU codec-transcode=PCMA" TAIL);

	/* a carrier with no G.711 at all: the worker gets both laws,
	 * transcoded from the carrier's codec */
	trunk(&t, "opus", "sdes");
	flags(&t, 1, 1, 0,
			"RTP/SAVP ICE=remove DTLS=off " SUITES " codec-strip=all "
			"codec-transcode=opus" TAIL);
	flags(&t, 0, 1, 0,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-transcode=PCMU codec-transcode=PCMA" TAIL);
	/* the same with a wideband worker: opus end to end, G.711 as an
	 * alternative */
	flags(&t, 1, 1, 1,
			"RTP/SAVP ICE=remove DTLS=off " SUITES " codec-strip=all "
			"codec-offer=opus" TAIL);
	flags(&t, 0, 1, 1,
			"RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all "
			"codec-offer=opus codec-transcode=PCMU codec-transcode=PCMA" TAIL);
}

static void test_answers(void **state)
{
	br_trunk_t t;
	int wb;

	for(wb = 0; wb < 2; wb++) {
		trunk(&t, "G722,PCMU", "none");
		flags(&t, 1, 0, wb, ANSWER);
		flags(&t, 0, 0, wb, ANSWER);
		trunk(&t, "G722,PCMU", "sdes");
		flags(&t, 1, 0, wb,
				"ICE=remove " SUITES
				" replace-origin replace-session-connection");
		flags(&t, 0, 0, wb, ANSWER);
		trunk(&t, "G722,PCMU", "dtls");
		flags(&t, 1, 0, wb, ANSWER);
		flags(&t, 0, 0, wb, ANSWER);
	}
}

static void test_enospc(void **state)
{
	char buf[BR_MEDIA_FLAGS_MAX];
	br_trunk_t t;
	int n, len;

	/* the longest string fits BR_MEDIA_FLAGS_MAX */
	trunk(&t, "G722,opus,PCMA,PCMU", "sdes");
	n = br_media_flags(&t, 1, 1, 0, buf, sizeof(buf));
	assert_true(n > 0 && n < BR_MEDIA_FLAGS_MAX);
	/* exactly enough room (the NUL included) works, one less does not */
	assert_int_equal(br_media_flags(&t, 1, 1, 0, buf, (size_t)n + 1), n);
	for(len = 0; len <= n; len++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(
				br_media_flags(&t, 1, 1, 0, buf, (size_t)len), -ENOSPC);
		if(len > 0)
			assert_string_equal(buf, "");
	}
	n = (int)strlen(ANSWER);
	assert_int_equal(br_media_flags(&t, 0, 0, 0, buf, (size_t)n), -ENOSPC);
	assert_int_equal(br_media_flags(&t, 0, 0, 0, buf, (size_t)n + 1), n);
}

static void test_invalid(void **state)
{
	char buf[BR_MEDIA_FLAGS_MAX];
	br_trunk_t t;

	trunk(&t, "PCMU", "none");
	t.media_enc = 7;
	assert_int_equal(br_media_flags(&t, 1, 1, 0, buf, sizeof(buf)), -EINVAL);
	trunk(&t, "PCMU", "none");
	t.ncodecs = 0;
	assert_int_equal(br_media_flags(&t, 1, 1, 0, buf, sizeof(buf)), -EINVAL);
	trunk(&t, "PCMU", "none");
	t.codecs[0] = 9;
	assert_int_equal(br_media_flags(&t, 1, 1, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(br_media_flags(NULL, 1, 1, 0, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_offer_to_carrier_enc),
			cmocka_unit_test(test_offer_to_worker_plain),
			cmocka_unit_test(test_codec_order),
			cmocka_unit_test(test_wideband),
			cmocka_unit_test(test_narrowband_transcode),
			cmocka_unit_test(test_answers),
			cmocka_unit_test(test_enospc),
			cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
