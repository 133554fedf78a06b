/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_sdp.c -- SDP offer/answer: codec choice (G.711, G.722, opus,
 * narrowed to G.711 without wideband), telephone-event at the codec's
 * clock, rejected streams, direction and hold, version increments,
 * malformed input, IPv6 descriptions from the RFC 5118 corpus.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "mw_codec.h"
#include "mw_sdp.h"

#define OFFER_HEAD                         \
	"v=0\r\n"                              \
	"o=rtpe 1234 5678 IN IP4 10.0.0.5\r\n" \
	"s=-\r\n"                              \
	"c=IN IP4 10.0.0.5\r\n"                \
	"t=0 0\r\n"

static int parse(const char *s, struct mw_sdp_remote *r)
{
	return mw_sdp_parse(s, strlen(s), r);
}

static void basic_offer(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];
	const char *o = OFFER_HEAD "m=audio 30000 RTP/AVP 0 8 101\r\n"
							   "a=rtpmap:0 PCMU/8000\r\n"
							   "a=rtpmap:8 PCMA/8000\r\n"
							   "a=rtpmap:101 telephone-event/8000\r\n"
							   "a=fmtp:101 0-16\r\n"
							   "a=ptime:20\r\n"
							   "a=sendrecv\r\n";

	assert_int_equal(parse(o, &r), 0);
	assert_int_equal(r.audio_idx, 0);
	assert_int_equal(r.pt, 0);
	assert_int_equal(r.te_pt, 101);
	assert_string_equal(r.ip, "10.0.0.5");
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.port, 30000);
	assert_int_equal(r.dir, MW_DIR_SENDRECV);
	assert_int_equal(r.hold, 0);
	assert_int_equal(r.ptime, 20);

	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40000 RTP/AVP 0 101\r\n"));
	assert_non_null(strstr(out, "c=IN IP4 192.0.2.10\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:0 PCMU/8000\r\n"));
	assert_null(strstr(out, "PCMA"));
	assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\n"));
	assert_non_null(strstr(out, "a=sendrecv"));
	assert_non_null(strstr(out, "o=byoc "));
}

static void first_offered_wins(void **state)
{
	struct mw_sdp_remote r;

	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 18 8 0\r\n", &r), 0);
	assert_int_equal(r.pt, 8);
	assert_int_equal(r.te_pt, -1);
	/* rtpmap naming another codec for a static type: not supported */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0 8\r\n"
									  "a=rtpmap:0 G729/8000\r\n",
							 &r),
			0);
	assert_int_equal(r.pt, 8);
}

static void offerer_te_pt_kept(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];

	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 8 96\r\n"
									  "a=rtpmap:96 telephone-event/8000\r\n",
							 &r),
			0);
	assert_int_equal(r.te_pt, 96);
	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40000 RTP/AVP 8 96\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:96 telephone-event/8000"));
	assert_non_null(strstr(out, "a=fmtp:96 0-16"));
}

static void not_acceptable(void **state)
{
	struct mw_sdp_remote r;

	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 18 4\r\n", &r), -ENOMEDIUM);
	/* G.722 is ours, but not for a worker without wideband */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 18 9\r\n", &r), 0);
	assert_int_equal(r.codec, MW_CODEC_G722);
	assert_int_equal(mw_sdp_select(&r, 0), -ENOMEDIUM);
	/* an opus rtpmap on a static type, opus at another clock: not opus */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 3 96\r\n"
									  "a=rtpmap:3 opus/48000/2\r\n"
									  "a=rtpmap:96 opus/16000/2\r\n",
							 &r),
			-ENOMEDIUM);
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 0 RTP/AVP 0\r\n", &r), -ENOMEDIUM);
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/SAVP 0\r\n", &r), -ENOMEDIUM);
	assert_int_equal(
			parse(OFFER_HEAD "m=video 30000 RTP/AVP 31\r\n", &r), -ENOMEDIUM);
}

/* rtpengine toward a wideband worker: the trunk's codecs, then G.711 to
 * transcode, and telephone-event at both clocks */
#define WB_OFFER                                           \
	OFFER_HEAD "m=audio 30000 RTP/AVP 96 9 0 8 97 101\r\n" \
			   "a=rtpmap:96 opus/48000/2\r\n"              \
			   "a=fmtp:96 useinbandfec=1\r\n"              \
			   "a=rtpmap:9 G722/8000\r\n"                  \
			   "a=rtpmap:0 PCMU/8000\r\n"                  \
			   "a=rtpmap:8 PCMA/8000\r\n"                  \
			   "a=rtpmap:97 telephone-event/48000\r\n"     \
			   "a=rtpmap:101 telephone-event/8000\r\n"     \
			   "a=sendrecv\r\n"

static void wideband_choice(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];

	/* opus first: chosen, with the 48 kHz telephone-event */
	assert_int_equal(parse(WB_OFFER, &r), 0);
	assert_int_equal(r.codec, MW_CODEC_OPUS);
	assert_int_equal(r.pt, 96);
	assert_int_equal(r.te_pt, 97);
	assert_int_equal(r.te8_pt, 101);
	assert_int_equal(r.te48_pt, 97);
	assert_int_equal(r.nfmts, 4);
	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40000 RTP/AVP 96 97\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:96 opus/48000/2\r\n"));
	assert_non_null(strstr(out, "a=fmtp:96 maxplaybackrate=16000;"
								"sprop-maxcapturerate=16000\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:97 telephone-event/48000\r\n"));
	assert_null(strstr(out, "PCMU"));
	/* a worker without wideband falls back to the first G.711 */
	assert_int_equal(mw_sdp_select(&r, 0), 0);
	assert_int_equal(r.codec, MW_CODEC_PCMU);
	assert_int_equal(r.pt, 0);
	assert_int_equal(r.te_pt, 101);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40000 RTP/AVP 0 101\r\n"));
	assert_null(strstr(out, "opus"));
	/* and back: G.722 is the first of the wideband ones left */
	r.fmts[0].codec = MW_CODEC_PCMA; /* as if opus was not offered */
	r.fmts[0].pt = 8;
	assert_int_equal(mw_sdp_select(&r, 1), 0);
	assert_int_equal(r.codec, MW_CODEC_PCMA);
	/* G.722 alone, its static type with and without an rtpmap */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 9 101\r\n"
									  "a=rtpmap:101 telephone-event/8000\r\n",
							 &r),
			0);
	assert_int_equal(r.codec, MW_CODEC_G722);
	assert_int_equal(r.pt, 9);
	assert_int_equal(r.te_pt, 101);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40000 RTP/AVP 9 101\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:9 G722/8000\r\n"));
	/* opus without a 48 kHz telephone-event: no RFC 4733 on that call */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 111 101\r\n"
									  "a=rtpmap:111 OPUS/48000/2\r\n"
									  "a=rtpmap:101 telephone-event/8000\r\n",
							 &r),
			0);
	assert_int_equal(r.codec, MW_CODEC_OPUS);
	assert_int_equal(r.te_pt, -1);
	/* a G.722 rtpmap naming another rate is not G.722 */
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 9 0\r\n"
									  "a=rtpmap:9 G722/16000\r\n",
							 &r),
			0);
	assert_int_equal(r.codec, MW_CODEC_PCMU);
}

static void rejected_streams_echoed(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX], *a, *v;

	assert_int_equal(parse(OFFER_HEAD "m=video 3227 RTP/AVP 31 34\r\n"
									  "m=audio 30000 RTP/AVP 0\r\n"
									  "m=audio 30002 RTP/AVP 8\r\n",
							 &r),
			0);
	assert_int_equal(r.audio_idx, 1);
	assert_int_equal(r.nmedia, 3);
	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	v = strstr(out, "m=video 0 RTP/AVP 31 34\r\n");
	a = strstr(out, "m=audio 40000 RTP/AVP 0\r\n");
	assert_non_null(v);
	assert_non_null(a);
	assert_true(v < a);
	assert_non_null(strstr(a, "m=audio 0 RTP/AVP 8\r\n"));
}

static void direction_and_hold(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];

	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\na=sendonly\r\n", &r),
			0);
	assert_int_equal(r.dir, MW_DIR_SENDONLY);
	assert_int_equal(r.hold, 1);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "a=recvonly"));

	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\na=inactive\r\n", &r),
			0);
	assert_int_equal(r.hold, 1);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "a=inactive"));

	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\na=recvonly\r\n", &r),
			0);
	assert_int_equal(r.hold, 0);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "a=sendonly"));

	/* session-level attribute */
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=-\r\n"
						   "c=IN IP4 10.0.0.5\r\nt=0 0\r\na=sendonly\r\n"
						   "m=audio 30000 RTP/AVP 0\r\n",
							 &r),
			0);
	assert_int_equal(r.dir, MW_DIR_SENDONLY);

	/* RFC 2543 hold */
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=-\r\n"
						   "c=IN IP4 0.0.0.0\r\nt=0 0\r\n"
						   "m=audio 30000 RTP/AVP 0\r\n",
							 &r),
			0);
	assert_int_equal(r.hold, 1);
}

static void version_increments_on_change(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];
	uint64_t v0;

	mw_sdp_local_init(&l, "192.0.2.10", 40000);
	v0 = l.version;
	assert_int_equal(parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\n", &r), 0);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_true(l.version == v0); /* session refresh: unchanged */
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\na=sendonly\r\n", &r),
			0);
	assert_true(mw_sdp_answer(&l, &r, out, sizeof(out)) > 0);
	assert_true(l.version == v0 + 1);
	{
		char o[64];
		snprintf(o, sizeof(o), " %llu IN IP4", (unsigned long long)(v0 + 1));
		assert_non_null(strstr(out, o));
	}
}

static void malformed(void **state)
{
	struct mw_sdp_remote r;
	char big[MW_SDP_MAX + 10];

	assert_int_equal(parse("hello world", &r), -EINVAL);
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
						   "m=audio 30000 RTP/AVP 0\r\n",
							 &r),
			-EINVAL); /* no c= */
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 99999 RTP/AVP 0\r\n", &r), -EINVAL);
	assert_int_equal(
			parse(OFFER_HEAD "m=audio 3x0 RTP/AVP 0\r\n", &r), -EINVAL);
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\n"
						   "c=IN IP4 host.example.com\r\nt=0 0\r\n"
						   "m=audio 30000 RTP/AVP 0\r\n",
							 &r),
			-EINVAL);
	assert_int_equal(mw_sdp_parse(OFFER_HEAD "m=audio\0 1 RTP/AVP 0\r\n",
							 sizeof(OFFER_HEAD) + 24, &r),
			-EINVAL);
	memset(big, 'a', sizeof(big));
	assert_int_equal(mw_sdp_parse(big, sizeof(big), &r), -EINVAL);
	assert_int_equal(mw_sdp_parse("", 0, &r), -EINVAL);
}

/* Bodies cut by Content-Length (no final CRLF) and empty "s=" lines are
 * common in the wild (and in the RFC 5118 corpus): accepted. */
static void lenient_forms(void **state)
{
	struct mw_sdp_remote r;
	const char *o = OFFER_HEAD "m=audio 30000 RTP/AVP 0\r\na=ptime:2";

	assert_int_equal(parse(o, &r), 0);
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=\r\n"
						   "c=IN IP4 10.0.0.5\r\nt=0 0\r\n"
						   "m=audio 30000 RTP/AVP 8",
							 &r),
			0);
	assert_int_equal(r.pt, 8);
}

static void own_offer_round_trip(void **state)
{
	struct mw_sdp_remote r;
	struct mw_sdp_local l;
	char out[MW_SDP_MAX];

	mw_sdp_local_init(&l, "192.0.2.10", 40002);
	assert_true(mw_sdp_offer(&l, MW_DIR_SENDRECV, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40002 RTP/AVP 0 8 101\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:8 PCMA/8000"));
	assert_int_equal(parse(out, &r), 0);
	assert_int_equal(r.pt, 0);
	assert_int_equal(r.te_pt, 101);
	assert_int_equal(r.port, 40002);
	assert_int_equal(r.nfmts, 2);

	/* wideband offers: after G.711 (1) or first (2), with both clocks */
	l.wideband = 1;
	assert_true(mw_sdp_offer(&l, MW_DIR_SENDRECV, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40002 RTP/AVP 0 8 9 111 101 102\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:9 G722/8000\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:111 opus/48000/2\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:102 telephone-event/48000\r\n"));
	assert_int_equal(parse(out, &r), 0);
	assert_int_equal(r.codec, MW_CODEC_PCMU);
	assert_int_equal(r.nfmts, 4);
	l.wideband = 2;
	assert_true(mw_sdp_offer(&l, MW_DIR_SENDRECV, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "m=audio 40002 RTP/AVP 9 111 0 8 101 102\r\n"));
	assert_int_equal(parse(out, &r), 0);
	assert_int_equal(r.codec, MW_CODEC_G722);
	assert_int_equal(r.te_pt, 101);
}

static char *slurp_body(const char *rel, size_t *len)
{
	const char *root = getenv("BYOC_CORPUS");
	char path[1024];
	static char buf[8192];
	FILE *f;
	size_t n;
	char *b;

	snprintf(path, sizeof(path), "%s/%s", root ? root : "tests/corpus", rel);
	f = fopen(path, "rb");
	if(!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	b = strstr(buf, "\r\n\r\n");
	if(!b)
		return NULL;
	b += 4;
	*len = n - (size_t)(b - buf);
	return b;
}

static void ipv6_corpus(void **state)
{
	struct mw_sdp_remote r;
	size_t len;
	char *b = slurp_body("sip-torture/rfc5118/ipv6-in-sdp", &len);

	/* IPv6 description offering only G.726 and H.263: valid, refused */
	assert_non_null(b);
	assert_int_equal(mw_sdp_parse(b, len, &r), -ENOMEDIUM);
	assert_int_equal(r.nmedia, 2);
	/* per-stream c= lines of both families: the audio one is IPv4 */
	b = slurp_body("sip-torture/rfc5118/mult-ip-in-sdp", &len);
	assert_non_null(b);
	assert_int_equal(mw_sdp_parse(b, len, &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_string_equal(r.ip, "192.0.2.1");
	assert_int_equal(parse("v=0\r\no=x 1 1 IN IP6 2001:db8::20\r\ns=-\r\n"
						   "c=IN IP6 2001:db8::20\r\nt=0 0\r\n"
						   "m=audio 6000 RTP/AVP 8\r\n",
							 &r),
			0);
	assert_int_equal(r.family, AF_INET6);
	assert_string_equal(r.ip, "2001:db8::20");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(basic_offer),
			cmocka_unit_test(first_offered_wins),
			cmocka_unit_test(offerer_te_pt_kept),
			cmocka_unit_test(not_acceptable),
			cmocka_unit_test(wideband_choice),
			cmocka_unit_test(rejected_streams_echoed),
			cmocka_unit_test(direction_and_hold),
			cmocka_unit_test(version_increments_on_change),
			cmocka_unit_test(malformed),
			cmocka_unit_test(lenient_forms),
			cmocka_unit_test(own_offer_round_trip),
			cmocka_unit_test(ipv6_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
