/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_dtmf.c -- RFC 4733 receiver (one event per press, redundant
 * ends, no marker, lost ends, timeout, long presses, reordering) and
 * sender (marker, updates, three end packets), and both together; the
 * de-duplication of presses reported several ways.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mw_dtmf.h"

struct collect
{
	struct mw_dtmf_rx rx;
	char digits[64];
	uint32_t dur[64];
	uint8_t how[64];
	unsigned n;
};

static void pl(uint8_t p[4], uint8_t code, int end, uint16_t dur)
{
	p[0] = code;
	p[1] = (uint8_t)((end ? 0x80 : 0) | 10);
	p[2] = (uint8_t)(dur >> 8);
	p[3] = (uint8_t)dur;
}

static void feed(struct collect *c, uint8_t code, int end, uint16_t dur,
		uint32_t ts, uint32_t now_ms)
{
	uint8_t p[4];
	struct mw_dtmf_event ev[2];
	unsigned n, i;

	pl(p, code, end, dur);
	assert_int_equal(mw_dtmf_rx_put(&c->rx, p, 4, ts, now_ms, ev, &n), 0);
	assert_true(n <= 2);
	for(i = 0; i < n; i++) {
		c->digits[c->n] = ev[i].digit;
		c->dur[c->n] = ev[i].duration;
		c->how[c->n] = ev[i].how;
		c->n++;
	}
	c->digits[c->n] = '\0';
}

static void poll_at(struct collect *c, uint32_t now_ms)
{
	struct mw_dtmf_event ev;
	unsigned n;

	assert_int_equal(mw_dtmf_rx_poll(&c->rx, now_ms, &ev, &n), 0);
	if(n) {
		c->digits[c->n] = ev.digit;
		c->dur[c->n] = ev.duration;
		c->how[c->n] = ev.how;
		c->n++;
		c->digits[c->n] = '\0';
	}
}

/* A textbook press: updates every 20 ms (160 units), 3 end packets. */
static void press(struct collect *c, uint8_t code, uint32_t ts,
		uint32_t *now_ms, unsigned updates, int ends)
{
	unsigned i;
	uint16_t d = 0;

	for(i = 0; i < updates; i++) {
		d = (uint16_t)(d + 160);
		feed(c, code, 0, d, ts, *now_ms);
		*now_ms += 20;
	}
	for(i = 0; i < (unsigned)ends; i++) {
		feed(c, code, 1, d, ts, *now_ms);
		*now_ms += 20;
	}
}

static void test_mapping(void **state)
{
	const char *all = "0123456789*#ABCD";
	int i;

	for(i = 0; i < 16; i++) {
		assert_int_equal(mw_dtmf_digit((uint8_t)i), all[i]);
		assert_int_equal(mw_dtmf_code(all[i]), i);
	}
	assert_int_equal(mw_dtmf_digit(16), 0);
	assert_int_equal(mw_dtmf_code('a'), 12);
	assert_int_equal(mw_dtmf_code('d'), 15);
	assert_int_equal(mw_dtmf_code('E'), -EINVAL);
	assert_int_equal(mw_dtmf_code('x'), -EINVAL);
}

static void test_sequence_redundant_ends(void **state)
{
	struct collect c = {0};
	uint32_t now = 1000, ts = 5000;
	const char *keys = "1234567890*#ABCD";
	unsigned i;

	mw_dtmf_rx_init(&c.rx, 400);
	for(i = 0; i < 16; i++) {
		press(&c, (uint8_t)mw_dtmf_code(keys[i]), ts, &now, 5, 3);
		ts += 160 * 10;
		now += 60;
		poll_at(&c, now);
	}
	assert_string_equal(c.digits, keys);
	for(i = 0; i < 16; i++) {
		assert_int_equal(c.dur[i], 800);
		assert_int_equal(c.how[i], MW_DTMF_END_E);
	}
	assert_int_equal(c.rx.st.events, 16);
	assert_int_equal(c.rx.st.dup_end, 32); /* 2 redundant per press */
}

static void test_same_digit_twice_no_marker(void **state)
{
	struct collect c = {0};
	uint32_t now = 0;

	/* no marker bit is ever needed: "55" identified by timestamps */
	mw_dtmf_rx_init(&c.rx, 400);
	press(&c, 5, 1000, &now, 4, 3);
	press(&c, 5, 1000 + 160 * 8, &now, 4, 3);
	assert_string_equal(c.digits, "55");
	assert_int_equal(c.dur[0], 640);
	assert_int_equal(c.dur[1], 640);
}

static void test_lost_end_new_event(void **state)
{
	struct collect c = {0};
	uint32_t now = 0;

	mw_dtmf_rx_init(&c.rx, 400);
	/* '1' without any end packet, then '2' starts */
	press(&c, 1, 1000, &now, 5, 0);
	assert_int_equal(c.n, 0);
	press(&c, 2, 1000 + 160 * 8, &now, 5, 3);
	assert_string_equal(c.digits, "12");
	assert_int_equal(c.how[0], MW_DTMF_END_NEW);
	assert_int_equal(c.dur[0], 800);
	assert_int_equal(c.how[1], MW_DTMF_END_E);
}

static void test_lost_end_timeout(void **state)
{
	struct collect c = {0};
	uint32_t now = 0;

	mw_dtmf_rx_init(&c.rx, 400);
	press(&c, 9, 1000, &now, 5, 0);
	poll_at(&c, now + 100);
	assert_int_equal(c.n, 0); /* not yet */
	poll_at(&c, now - 50);	  /* a poll clock lagging the arrivals */
	assert_int_equal(c.n, 0);
	poll_at(&c, now + 500);
	assert_string_equal(c.digits, "9");
	assert_int_equal(c.how[0], MW_DTMF_END_TIMEOUT);
	/* its end packets arriving even later are ignored */
	feed(&c, 9, 1, 800, 1000, now + 600);
	feed(&c, 9, 1, 800, 1000, now + 620);
	assert_int_equal(c.n, 1);
	poll_at(&c, now + 2000);
	assert_int_equal(c.n, 1);
}

static void test_only_end_packets(void **state)
{
	struct collect c = {0};

	/* start and updates all lost: the end packets alone report it once;
	 * two complete events inside one put (open one + this one) */
	mw_dtmf_rx_init(&c.rx, 400);
	feed(&c, 3, 0, 160, 100, 0);
	feed(&c, 4, 1, 480, 2000, 100);
	assert_string_equal(c.digits, "34");
	feed(&c, 4, 1, 480, 2000, 120);
	feed(&c, 4, 1, 480, 2000, 140);
	assert_string_equal(c.digits, "34");
	assert_int_equal(c.dur[1], 480);
}

static void test_end_packets_moving_ts(void **state)
{
	struct collect c = {0};

	/* rtpengine transcoding: updates at ts 121850, then end packets at
	 * 121850, 122010 and 122170 (captured on the wire): one press */
	mw_dtmf_rx_init(&c.rx, 400);
	feed(&c, 1, 0, 160, 121850, 0);
	feed(&c, 1, 0, 1280, 121850, 140);
	feed(&c, 1, 1, 1440, 121850, 160);
	feed(&c, 1, 1, 1440, 122010, 180);
	feed(&c, 1, 1, 1440, 122170, 200);
	assert_string_equal(c.digits, "1");
	assert_int_equal(c.rx.st.dup_end, 2);
	/* the same digit again, starting after the first one's end: new */
	feed(&c, 1, 0, 160, 121850 + 1440 + 480, 400);
	feed(&c, 1, 1, 800, 121850 + 1440 + 480, 500);
	assert_string_equal(c.digits, "11");
	/* another digit inside the span is another event (not merged) */
	feed(&c, 2, 1, 160, 121850 + 1440 + 480 + 320, 520);
	assert_string_equal(c.digits, "112");
}

static void test_reordered_and_old(void **state)
{
	struct collect c = {0};

	mw_dtmf_rx_init(&c.rx, 400);
	feed(&c, 7, 0, 160, 5000, 0);
	feed(&c, 7, 0, 480, 5000, 40);
	feed(&c, 7, 0, 320, 5000, 45); /* older update: duration kept */
	feed(&c, 7, 1, 640, 5000, 60);
	feed(&c, 7, 0, 480, 5000, 70); /* straggler after the end */
	assert_string_equal(c.digits, "7");
	assert_int_equal(c.dur[0], 640);
	/* a packet older than the last event */
	feed(&c, 1, 0, 160, 4000, 80);
	feed(&c, 1, 1, 160, 4000, 90);
	assert_string_equal(c.digits, "7");
}

static void test_long_press_wrap_and_segments(void **state)
{
	struct collect c = {0};
	uint32_t d, now = 0;

	mw_dtmf_rx_init(&c.rx, 400);
	/* a sender that lets the 16-bit duration wrap: 10 s at 8 kHz */
	for(d = 400; d <= 80000; d += 400, now += 50)
		feed(&c, 0, 0, (uint16_t)d, 10000, now);
	feed(&c, 0, 1, (uint16_t)80000, 10000, now);
	assert_string_equal(c.digits, "0");
	assert_int_equal(c.dur[0], 80000);

	/* RFC 4733 segments: 0xffff, then a new timestamp continues */
	c.n = 0;
	mw_dtmf_rx_init(&c.rx, 400);
	for(d = 400; d < 0xffff; d += 400, now += 50)
		feed(&c, 11, 0, (uint16_t)d, 200000, now);
	feed(&c, 11, 0, 0xffff, 200000, now);
	for(d = 400; d <= 8000; d += 400, now += 50)
		feed(&c, 11, 0, (uint16_t)d, 200000 + 0xffff, now);
	assert_int_equal(c.n, 0);
	feed(&c, 11, 1, 8000, 200000 + 0xffff, now);
	feed(&c, 11, 1, 8000, 200000 + 0xffff, now);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.digits[0], '#');
	assert_int_equal(c.dur[0], 0xffff + 8000);
}

static void test_bad_input(void **state)
{
	struct mw_dtmf_rx rx;
	struct mw_dtmf_event ev[2];
	uint8_t p[4] = {16, 0x80, 0, 160};
	unsigned n = 9;

	mw_dtmf_rx_init(&rx, 0);
	assert_int_equal(mw_dtmf_rx_put(&rx, p, 3, 0, 0, ev, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(mw_dtmf_rx_put(&rx, NULL, 4, 0, 0, ev, &n), -EINVAL);
	/* flash hook (16) and others: not DTMF */
	assert_int_equal(mw_dtmf_rx_put(&rx, p, 4, 0, 0, ev, &n), -ENOTSUP);
	p[0] = 255;
	assert_int_equal(mw_dtmf_rx_put(&rx, p, 4, 0, 0, ev, &n), -ENOTSUP);
	assert_int_equal(n, 0);
	assert_int_equal(rx.st.events, 0);
}

static void test_sender(void **state)
{
	struct mw_dtmf_tx tx;
	uint8_t p[4];
	int marker;
	uint32_t ts;
	unsigned i, ends = 0, markers = 0, updates = 0;
	uint32_t last = 0;

	assert_int_equal(mw_dtmf_tx_start(&tx, 'x', 800, 0, 160), -EINVAL);
	assert_int_equal(mw_dtmf_tx_start(&tx, '#', 800, 12345, 160), 0);
	for(i = 0; i < 100; i++) {
		uint32_t d;

		if(mw_dtmf_tx_next(&tx, p, &marker, &ts) == -ENODATA)
			break;
		assert_int_equal(ts, 12345);
		assert_int_equal(p[0], 11);
		assert_int_equal(p[1] & 0x3f, 10);
		d = (uint32_t)(p[2] << 8 | p[3]);
		assert_true(d >= last);
		last = d;
		markers += marker;
		if(marker)
			assert_int_equal(i, 0);
		if(p[1] & 0x80) {
			ends++;
			assert_int_equal(d, 800);
		} else {
			updates++;
			assert_int_equal(d, 160 * (i + 1));
		}
	}
	assert_int_equal(markers, 1);
	assert_int_equal(ends, 3);
	assert_int_equal(updates, 4); /* 160..640, then 800 with E */
	assert_int_equal(mw_dtmf_tx_next(&tx, p, &marker, &ts), -ENODATA);
}

static void test_sender_to_receiver(void **state)
{
	struct mw_dtmf_tx tx;
	struct collect c = {0};
	const char *keys = "159#*D";
	uint32_t ts = 77777, now = 0;
	unsigned i;

	mw_dtmf_rx_init(&c.rx, 400);
	for(i = 0; keys[i]; i++) {
		uint8_t p[4];
		int marker;
		uint32_t t;

		assert_int_equal(mw_dtmf_tx_start(&tx, keys[i], 100 * 8, ts, 160), 0);
		while(mw_dtmf_tx_next(&tx, p, &marker, &t) == 0) {
			struct mw_dtmf_event ev[2];
			unsigned n;

			assert_int_equal(mw_dtmf_rx_put(&c.rx, p, 4, t, now, ev, &n), 0);
			if(n) {
				assert_int_equal(n, 1);
				c.digits[c.n] = ev[0].digit;
				c.dur[c.n++] = ev[0].duration;
			}
			now += 20;
			ts += 160;
		}
		ts += 160 * 3;
	}
	c.digits[c.n] = '\0';
	assert_string_equal(c.digits, keys);
	for(i = 0; i < c.n; i++)
		assert_int_equal(c.dur[i], 800);
}

static void test_dedup(void **state)
{
	struct mw_dtmf_dedup d;
	const int R = MW_DTMF_SRC_RFC4733, I = MW_DTMF_SRC_INFO,
			  B = MW_DTMF_SRC_INBAND;
	unsigned i, n;

	mw_dtmf_dedup_init(&d);
	/* RFC 4733 then INFO for one press: once */
	assert_int_equal(mw_dtmf_dedup(&d, '5', R, 0, 100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '5', I, 10, 110), 0);
	/* the same digit again, both ways: a second press, once */
	assert_int_equal(mw_dtmf_dedup(&d, '5', R, 300, 400), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '5', I, 310, 410), 0);
	/* INFO first (at the press), RFC 4733 at its end */
	assert_int_equal(mw_dtmf_dedup(&d, '7', I, 1000, 1100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '7', R, 1020, 1120), 0);
	/* three ways */
	assert_int_equal(mw_dtmf_dedup(&d, '3', R, 2000, 2100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '3', I, 2000, 2100), 0);
	assert_int_equal(mw_dtmf_dedup(&d, '3', B, 2010, 2090), 0);
	/* one source repeating itself is never merged */
	assert_int_equal(mw_dtmf_dedup(&d, '3', B, 2200, 2300), 1);
	/* other digits, or the same digit far away, are other presses */
	assert_int_equal(mw_dtmf_dedup(&d, '1', R, 3000, 3100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '2', I, 3000, 3100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '9', R, 4000, 4100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '9', I, 6000, 6100), 1);
	assert_int_equal(d.dups, 5);
	/* a fast "55" both ways, the INFOs late and overlapping both RFC
	 * 4733 events: each INFO pairs with one press, in order */
	mw_dtmf_dedup_init(&d);
	assert_int_equal(mw_dtmf_dedup(&d, '5', R, 10000, 10060), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '5', R, 10100, 10160), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '5', I, 10150, 10250), 0);
	assert_int_equal(mw_dtmf_dedup(&d, '5', I, 10200, 10300), 0);
	assert_int_equal(mw_dtmf_dedup(&d, '5', I, 10250, 10350), 1);
	/* a long press reported at its end (RFC 4733) and at its start plus
	 * INFO's nominal duration: the spans overlap */
	assert_int_equal(mw_dtmf_dedup(&d, '8', I, 20000, 20100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '8', R, 20000, 22000), 0);
	/* the millisecond clock wraps */
	assert_int_equal(mw_dtmf_dedup(&d, '0', R, 0xffffffc0u, 60), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '0', I, 0xfffffff0u, 90), 0);
	/* bounded history: the oldest press is forgotten */
	mw_dtmf_dedup_init(&d);
	for(i = 0, n = 0; i < MW_DTMF_DEDUP_HIST + 4; i++)
		n += mw_dtmf_dedup(&d, '4', R, i * 1000, i * 1000 + 100) == 1;
	assert_int_equal(n, MW_DTMF_DEDUP_HIST + 4);
	assert_int_equal(d.len, MW_DTMF_DEDUP_HIST);
	assert_int_equal(mw_dtmf_dedup(&d, '4', I, 0, 100), 1);
	assert_int_equal(mw_dtmf_dedup(&d, '4', I, (MW_DTMF_DEDUP_HIST + 3) * 1000,
							 0 + (MW_DTMF_DEDUP_HIST + 3) * 1000 + 100),
			0);
	/* errors */
	assert_int_equal(mw_dtmf_dedup(&d, '4', 7, 0, 1), -EINVAL);
	assert_int_equal(mw_dtmf_dedup(&d, '4', R, 100, 50), -EINVAL);
	assert_string_equal(mw_dtmf_src_name(B), "inband");
	assert_string_equal(mw_dtmf_src_name(9), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_mapping),
			cmocka_unit_test(test_sequence_redundant_ends),
			cmocka_unit_test(test_same_digit_twice_no_marker),
			cmocka_unit_test(test_lost_end_new_event),
			cmocka_unit_test(test_lost_end_timeout),
			cmocka_unit_test(test_only_end_packets),
			cmocka_unit_test(test_end_packets_moving_ts),
			cmocka_unit_test(test_reordered_and_old),
			cmocka_unit_test(test_long_press_wrap_and_segments),
			cmocka_unit_test(test_bad_input),
			cmocka_unit_test(test_sender),
			cmocka_unit_test(test_sender_to_receiver),
			cmocka_unit_test(test_dedup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
