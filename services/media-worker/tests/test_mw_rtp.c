/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_rtp.c -- RTP/RTCP parse/build round trips, malformed input,
 * RFC 3550 receiver statistics (loss fraction, cumulative loss, jitter).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mw_rtp.h"

static void test_rtp_roundtrip_simple(void **state)
{
	uint8_t pl[160], buf[512];
	struct mw_rtp_hdr h = {0}, p;
	size_t len;

	memset(pl, 0x55, sizeof(pl));
	h.marker = 1;
	h.pt = 8;
	h.seq = 65535;
	h.ts = 0xfffffff0u;
	h.ssrc = 0xdeadbeef;
	h.payload = pl;
	h.payload_len = sizeof(pl);
	assert_int_equal(mw_rtp_build(buf, sizeof(buf), &h, &len), 0);
	assert_int_equal(len, 12 + 160);
	/* byte-level check of the fixed header */
	assert_int_equal(buf[0], 0x80);
	assert_int_equal(buf[1], 0x88);
	assert_int_equal(buf[2], 0xff);
	assert_int_equal(buf[3], 0xff);
	assert_int_equal(buf[8], 0xde);
	assert_int_equal(mw_rtp_parse(buf, len, &p), 0);
	assert_int_equal(p.marker, 1);
	assert_int_equal(p.pt, 8);
	assert_int_equal(p.seq, 65535);
	assert_int_equal(p.ts, 0xfffffff0u);
	assert_int_equal(p.ssrc, 0xdeadbeef);
	assert_int_equal(p.cc, 0);
	assert_int_equal(p.has_ext, 0);
	assert_int_equal(p.pad_len, 0);
	assert_int_equal(p.payload_len, 160);
	assert_ptr_equal(p.payload, buf + 12);
	assert_memory_equal(p.payload, pl, 160);
	assert_false(mw_rtp_is_rtcp(buf, len));
}

static void test_rtp_roundtrip_full(void **state)
{
	uint8_t pl[33], ext[8] = {1, 2, 3, 4, 5, 6, 7, 8}, buf[512];
	struct mw_rtp_hdr h = {0}, p;
	size_t len;
	unsigned i;

	for(i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)i;
	h.pt = 101;
	h.seq = 7;
	h.ts = 1234;
	h.ssrc = 42;
	h.cc = 15;
	for(i = 0; i < 15; i++)
		h.csrc[i] = 0x1000 + i;
	h.has_ext = 1;
	h.ext_profile = 0xbede;
	h.ext = ext;
	h.ext_len = 8;
	h.pad_len = 3;
	h.payload = pl;
	h.payload_len = sizeof(pl);
	assert_int_equal(mw_rtp_build(buf, sizeof(buf), &h, &len), 0);
	assert_int_equal(len, 12 + 60 + 4 + 8 + 33 + 3);
	assert_int_equal(buf[len - 1], 3);
	assert_int_equal(mw_rtp_parse(buf, len, &p), 0);
	assert_int_equal(p.cc, 15);
	for(i = 0; i < 15; i++)
		assert_int_equal(p.csrc[i], 0x1000 + i);
	assert_int_equal(p.has_ext, 1);
	assert_int_equal(p.ext_profile, 0xbede);
	assert_int_equal(p.ext_len, 8);
	assert_memory_equal(p.ext, ext, 8);
	assert_int_equal(p.pad_len, 3);
	assert_int_equal(p.payload_len, 33);
	assert_memory_equal(p.payload, pl, 33);

	/* too small a buffer */
	assert_int_equal(mw_rtp_build(buf, len - 1, &h, &len), -ENOSPC);
	h.ext_len = 7;
	assert_int_equal(mw_rtp_build(buf, sizeof(buf), &h, &len), -EINVAL);
	h.ext_len = 8;
	h.cc = 16;
	assert_int_equal(mw_rtp_build(buf, sizeof(buf), &h, &len), -EINVAL);
}

static void test_rtp_malformed(void **state)
{
	uint8_t buf[64];
	struct mw_rtp_hdr p;
	size_t i;

	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	/* short */
	for(i = 0; i < 12; i++)
		assert_int_equal(mw_rtp_parse(buf, i, &p), -EINVAL);
	assert_int_equal(mw_rtp_parse(buf, 12, &p), 0);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(mw_rtp_parse(NULL, 12, &p), -EINVAL);
	/* versions 0, 1, 3 */
	buf[0] = 0x00;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	buf[0] = 0x40;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	buf[0] = 0xc0;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	/* CSRC count beyond the packet: 15 CSRC need 72 bytes */
	buf[0] = 0x8f;
	assert_int_equal(mw_rtp_parse(buf, 64, &p), -EINVAL);
	buf[0] = 0x81;
	assert_int_equal(mw_rtp_parse(buf, 15, &p), -EINVAL);
	assert_int_equal(mw_rtp_parse(buf, 16, &p), 0);
	/* extension header cut / extension length beyond the packet */
	buf[0] = 0x90;
	assert_int_equal(mw_rtp_parse(buf, 14, &p), -EINVAL);
	buf[14] = 0x00;
	buf[15] = 0x05; /* 20 bytes of extension, only 4 present */
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	buf[15] = 0x01;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), 0);
	assert_int_equal(p.ext_len, 4);
	assert_int_equal(p.payload_len, 0);
	buf[15] = 0xff; /* huge */
	assert_int_equal(mw_rtp_parse(buf, 64, &p), -EINVAL);
	/* padding 0 and padding larger than the payload */
	buf[0] = 0xa0;
	buf[19] = 0;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	buf[19] = 9;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), -EINVAL);
	buf[19] = 8;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), 0);
	assert_int_equal(p.payload_len, 0);
	buf[19] = 2;
	assert_int_equal(mw_rtp_parse(buf, 20, &p), 0);
	assert_int_equal(p.payload_len, 6);
	/* every byte value in the first two bytes, every length: no crash */
	for(i = 0; i < 256 * 64; i++) {
		buf[0] = (uint8_t)(i & 0xff);
		buf[19] = (uint8_t)(i >> 8);
		(void)mw_rtp_parse(buf, (i * 7) % 64, &p);
	}
}

static void test_rtcp_demux(void **state)
{
	uint8_t b[4] = {0x80, 200, 0, 6};

	assert_true(mw_rtp_is_rtcp(b, 4));
	b[1] = 201;
	assert_true(mw_rtp_is_rtcp(b, 4));
	b[1] = 0x80 | 0; /* PCMU with marker */
	assert_false(mw_rtp_is_rtcp(b, 4));
	b[1] = 0x80 | 101;
	assert_false(mw_rtp_is_rtcp(b, 4));
	assert_false(mw_rtp_is_rtcp(b, 1));
}

static void test_rtcp_sr_sdes_roundtrip(void **state)
{
	uint8_t buf[512];
	size_t l1, l2;
	struct mw_rtcp_sr sr = {.ssrc = 0x11111111,
			.ntp_sec = 0xe0000001,
			.ntp_frac = 0x80000000,
			.rtp_ts = 99999,
			.pkt_count = 50,
			.octet_count = 8000};
	struct mw_rtcp_rb rb[2] = {{.ssrc = 0x22222222,
									   .fraction = 25,
									   .lost = -3,
									   .ext_max_seq = 0x1ffff,
									   .jitter = 17,
									   .lsr = 0xabcd1234,
									   .dlsr = 65536},
			{.ssrc = 3, .lost = 0x7fffff}};
	struct mw_rtcp_info in;

	assert_int_equal(mw_rtcp_build_sr(buf, sizeof(buf), &sr, rb, 2, &l1), 0);
	assert_int_equal(l1, 28 + 48);
	assert_true(mw_rtp_is_rtcp(buf, l1));
	assert_int_equal(mw_rtcp_build_sdes_cname(buf + l1, sizeof(buf) - l1,
							 sr.ssrc, "mw@10.0.0.1", &l2),
			0);
	assert_int_equal(l2 % 4, 0);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2, &in), 0);
	assert_int_equal(in.n_packets, 2);
	assert_true(in.has_sr);
	assert_false(in.has_rr);
	assert_int_equal(in.sr.ssrc, sr.ssrc);
	assert_int_equal(in.sr.ntp_sec, sr.ntp_sec);
	assert_int_equal(in.sr.ntp_frac, sr.ntp_frac);
	assert_int_equal(in.sr.rtp_ts, 99999);
	assert_int_equal(in.sr.pkt_count, 50);
	assert_int_equal(in.sr.octet_count, 8000);
	assert_int_equal(in.n_rb, 2);
	assert_int_equal(in.rb[0].ssrc, 0x22222222);
	assert_int_equal(in.rb[0].fraction, 25);
	assert_int_equal(in.rb[0].lost, -3);
	assert_int_equal(in.rb[0].ext_max_seq, 0x1ffff);
	assert_int_equal(in.rb[0].jitter, 17);
	assert_int_equal(in.rb[0].lsr, 0xabcd1234);
	assert_int_equal(in.rb[0].dlsr, 65536);
	assert_int_equal(in.rb[1].lost, 0x7fffff);
	assert_true(in.has_sdes);
	assert_int_equal(in.cname_ssrc, sr.ssrc);
	assert_string_equal(in.cname, "mw@10.0.0.1");
}

static void test_rtcp_rr_bye_roundtrip(void **state)
{
	uint8_t buf[512];
	size_t l1, l2;
	struct mw_rtcp_rb rb = {.ssrc = 9, .fraction = 255, .lost = 100};
	uint32_t ss[2] = {5, 6};
	struct mw_rtcp_info in;

	assert_int_equal(mw_rtcp_build_rr(buf, sizeof(buf), 7, &rb, 1, &l1), 0);
	assert_int_equal(l1, 32);
	assert_int_equal(
			mw_rtcp_build_bye(buf + l1, sizeof(buf) - l1, ss, 2, "bye", &l2),
			0);
	assert_int_equal(l2, 4 + 8 + 4);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2, &in), 0);
	assert_true(in.has_rr);
	assert_false(in.has_sr);
	assert_int_equal(in.rr_ssrc, 7);
	assert_int_equal(in.n_rb, 1);
	assert_int_equal(in.rb[0].fraction, 255);
	assert_int_equal(in.rb[0].lost, 100);
	assert_true(in.has_bye);
	assert_int_equal(in.n_bye, 2);
	assert_int_equal(in.bye_ssrc[1], 6);
	assert_string_equal(in.bye_reason, "bye");

	/* empty RR, BYE without reason */
	assert_int_equal(mw_rtcp_build_rr(buf, sizeof(buf), 7, NULL, 0, &l1), 0);
	assert_int_equal(l1, 8);
	assert_int_equal(
			mw_rtcp_build_bye(buf + l1, sizeof(buf) - l1, ss, 1, NULL, &l2), 0);
	assert_int_equal(l2, 8);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2, &in), 0);
	assert_int_equal(in.n_rb, 0);
	assert_int_equal(in.n_bye, 1);
	assert_int_equal(mw_rtcp_build_rr(buf, 7, 7, NULL, 0, &l1), -ENOSPC);
}

static void test_rtcp_malformed(void **state)
{
	uint8_t buf[256], bad[256];
	size_t l1, l2, i;
	struct mw_rtcp_rb rb = {.ssrc = 9};
	struct mw_rtcp_info in;

	assert_int_equal(mw_rtcp_build_rr(buf, sizeof(buf), 7, &rb, 1, &l1), 0);
	assert_int_equal(
			mw_rtcp_build_sdes_cname(buf + l1, sizeof(buf) - l1, 7, "x", &l2),
			0);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2, &in), 0);
	/* short / unaligned / truncated */
	assert_int_equal(mw_rtcp_parse(buf, 0, &in), -EINVAL);
	assert_int_equal(mw_rtcp_parse(buf, 3, &in), -EINVAL);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2 - 1, &in), -EINVAL);
	assert_int_equal(mw_rtcp_parse(buf, l1 + l2 - 4, &in), -EINVAL);
	/* wrong version in the second packet */
	memcpy(bad, buf, l1 + l2);
	bad[l1] = (bad[l1] & 0x3f) | 0x40;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* length field pointing beyond the buffer */
	memcpy(bad, buf, l1 + l2);
	bad[3] = 200;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* report count larger than the packet */
	memcpy(bad, buf, l1 + l2);
	bad[0] = 0x80 | 5;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* padding on the first (not last) packet */
	memcpy(bad, buf, l1 + l2);
	bad[0] |= 0x20;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* SDES item length beyond the packet */
	memcpy(bad, buf, l1 + l2);
	bad[l1 + 9] = 200;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* a non-RTCP packet type */
	memcpy(bad, buf, l1 + l2);
	bad[1] = 100;
	assert_int_equal(mw_rtcp_parse(bad, l1 + l2, &in), -EINVAL);
	/* fuzz: flip every byte with every bit, no crash */
	for(i = 0; i < (l1 + l2) * 8; i++) {
		memcpy(bad, buf, l1 + l2);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		(void)mw_rtcp_parse(bad, l1 + l2, &in);
	}
}

static void test_ntp(void **state)
{
	uint32_t s, f;

	mw_ntp_from_unix(0, 500000000, &s, &f);
	assert_int_equal(s, 2208988800u);
	assert_int_equal(f, 0x80000000u);
	assert_int_equal(mw_ntp_mid32(0x12345678, 0x9abcdef0), 0x56789abc);
}

static void test_rxstats_loss(void **state)
{
	struct mw_rtp_rxstats s;
	struct mw_rtcp_rb rb;
	uint16_t seq = 65500; /* crosses the wrap */
	unsigned i;

	mw_rtp_rxstats_init(&s, 77, seq);
	assert_int_equal(mw_rtp_rxstats_seq(&s, seq), 0);
	/* 100 packets expected, every 10th lost */
	for(i = 1; i < 100; i++) {
		if(i % 10 == 5)
			continue;
		assert_int_equal(mw_rtp_rxstats_seq(&s, (uint16_t)(seq + i)), 0);
	}
	assert_int_equal(mw_rtp_rxstats_lost(&s), 10);
	assert_int_equal(mw_rtp_rxstats_ext_max(&s), 65536u + (uint16_t)(seq + 99));
	mw_rtp_rxstats_block(&s, &rb);
	assert_int_equal(rb.ssrc, 77);
	assert_int_equal(rb.lost, 10);
	assert_int_equal(rb.fraction, 10 * 256 / 100);
	assert_int_equal(rb.ext_max_seq, 65536u + (uint16_t)(seq + 99));
	/* next interval: no loss, one duplicate */
	for(i = 100; i < 150; i++)
		assert_int_equal(mw_rtp_rxstats_seq(&s, (uint16_t)(seq + i)), 0);
	mw_rtp_rxstats_block(&s, &rb);
	assert_int_equal(rb.fraction, 0);
	assert_int_equal(rb.lost, 10);
	/* 150..159 lost: 10 of 11 expected in this interval */
	assert_int_equal(mw_rtp_rxstats_seq(&s, (uint16_t)(seq + 160)), 0);
	mw_rtp_rxstats_block(&s, &rb);
	assert_int_equal(rb.fraction, 10 * 256 / 11);
	assert_int_equal(rb.lost, 20);
}

static void test_rxstats_jump(void **state)
{
	struct mw_rtp_rxstats s;

	mw_rtp_rxstats_init(&s, 1, 100);
	assert_int_equal(mw_rtp_rxstats_seq(&s, 100), 0);
	assert_int_equal(mw_rtp_rxstats_seq(&s, 101), 0);
	/* a jump of 20000: rejected until the next one confirms it */
	assert_int_equal(mw_rtp_rxstats_seq(&s, 20101), -EPROTO);
	assert_int_equal(mw_rtp_rxstats_seq(&s, 20102), 0);
	assert_int_equal(mw_rtp_rxstats_lost(&s), 0);
	assert_int_equal(mw_rtp_rxstats_seq(&s, 20103), 0);
	assert_int_equal(mw_rtp_rxstats_lost(&s), 0);
	/* an old reordered packet is counted but does not move max */
	assert_int_equal(mw_rtp_rxstats_seq(&s, 20100), 0);
	assert_int_equal(s.max_seq, 20103);
}

static void test_rxstats_jitter(void **state)
{
	struct mw_rtp_rxstats s;
	uint32_t ts = 1000, arr = 5000000;
	unsigned i;

	mw_rtp_rxstats_init(&s, 1, 0);
	/* constant transit: zero jitter */
	for(i = 0; i < 100; i++)
		mw_rtp_rxstats_jitter(&s, ts + 160 * i, arr + 160 * i);
	assert_int_equal(mw_rtp_rxstats_jitter_ts(&s), 0);
	/* transit alternating by 80 samples: |D| = 80 every packet, J -> 80 */
	for(i = 100; i < 600; i++)
		mw_rtp_rxstats_jitter(&s, ts + 160 * i, arr + 160 * i + (i & 1) * 80);
	assert_in_range(mw_rtp_rxstats_jitter_ts(&s), 78, 80);
	/* back to constant: decays */
	for(i = 600; i < 800; i++)
		mw_rtp_rxstats_jitter(&s, ts + 160 * i, arr + 160 * i);
	assert_true(mw_rtp_rxstats_jitter_ts(&s) < 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_rtp_roundtrip_simple),
			cmocka_unit_test(test_rtp_roundtrip_full),
			cmocka_unit_test(test_rtp_malformed),
			cmocka_unit_test(test_rtcp_demux),
			cmocka_unit_test(test_rtcp_sr_sdes_roundtrip),
			cmocka_unit_test(test_rtcp_rr_bye_roundtrip),
			cmocka_unit_test(test_rtcp_malformed),
			cmocka_unit_test(test_ntp),
			cmocka_unit_test(test_rxstats_loss),
			cmocka_unit_test(test_rxstats_jump),
			cmocka_unit_test(test_rxstats_jitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
