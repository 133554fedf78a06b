/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_jitter.c -- the jitter buffer in simulated time: reorder,
 * duplicates, loss and bursts (PLC), wraparound, late packets, adaptation
 * up and down, bounds, SSRC change, silence gaps, other packet sizes and
 * clock drift.
 *
 * Every packet carries a sawtooth s[t] = t & 0x3fff of its RTP
 * timestamp, so a played frame tells which timestamps it came from.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_jitter.h"

#define F 160
#define MAXP 40000

struct pkt
{
	uint32_t arrival, ts, ssrc;
	uint16_t seq;
	uint16_t n;
	uint8_t drop;
};

struct sim
{
	struct mw_jb jb;
	struct pkt p[MAXP];
	unsigned np;
	unsigned next; /* next packet to deliver */
	int sorted;
	/* results */
	unsigned kinds[5];
	unsigned bad_audio; /* AUDIO frames whose content is inconsistent */
	unsigned backwards; /* AUDIO frames not after the previous one */
	int have_last;
	uint32_t last_ts; /* timestamp of the last AUDIO frame */
	uint32_t first_audio_tick;
	int put_rc_late, put_rc_dup;
	uint32_t max_delay_ms, max_target_ms;
};

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static struct sim *sim_new(int min_ms, int max_ms)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mw_jb_cfg cfg = {8000, F, min_ms, max_ms};

	assert_non_null(s);
	assert_int_equal(mw_jb_init(&s->jb, &cfg), 0);
	rng = 88172645463325252ull;
	return s;
}

/* packet k of a stream: seq0 + k, ts0 + k*n, sent at t0 + k*n (sender
 * clock scaled by 'ppm') plus 'delay' */
static void add(struct sim *s, uint32_t ssrc, uint16_t seq, uint32_t ts,
		unsigned n, uint32_t arrival)
{
	struct pkt *p;

	assert_true(s->np < MAXP);
	p = &s->p[s->np++];
	p->ssrc = ssrc;
	p->seq = seq;
	p->ts = ts;
	p->n = (uint16_t)n;
	p->arrival = arrival;
}

static int cmp_arrival(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;
	int32_t d = (int32_t)(x->arrival - y->arrival);

	if(d)
		return d < 0 ? -1 : 1;
	return x < y ? -1 : 1; /* stable */
}

static void put_one(struct sim *s, const struct pkt *p)
{
	int16_t pcm[MW_JB_MAX_PKT];
	unsigned i;
	int rc;

	for(i = 0; i < p->n; i++)
		pcm[i] = (int16_t)((p->ts + i) & 0x3fff);
	rc = mw_jb_put(&s->jb, p->ssrc, p->seq, p->ts, pcm, p->n, p->arrival);
	if(rc == -ETIME)
		s->put_rc_late++;
	if(rc == -EEXIST)
		s->put_rc_dup++;
}

/* Runs ticks from t0 every F samples until 'ticks' ran, delivering the
 * packets due before each tick. */
static void run(struct sim *s, uint32_t t0, unsigned ticks)
{
	unsigned j;
	int16_t out[F];

	if(!s->sorted)
		qsort(s->p, s->np, sizeof(s->p[0]), cmp_arrival);
	s->sorted = 1;
	for(j = 0; j < ticks; j++) {
		uint32_t now = t0 + j * F;
		enum mw_jb_kind k;
		struct mw_jb_stats st;

		while(s->next < s->np && (int32_t)(s->p[s->next].arrival - now) <= 0) {
			if(!s->p[s->next].drop)
				put_one(s, &s->p[s->next]);
			s->next++;
		}
		assert_int_equal(mw_jb_get(&s->jb, out, now, &k), 0);
		s->kinds[k]++;
		if(k == MW_JB_AUDIO) {
			uint32_t ts = (uint32_t)(out[F - 1] - (F - 1)) & 0x3fff;
			unsigned i;

			/* skip the PLC blend region at the start of the frame */
			for(i = 40; i < F; i++)
				if(out[i] != (int16_t)((ts + i) & 0x3fff)) {
					s->bad_audio++;
					break;
				}
			if(s->have_last && ((ts - s->last_ts) & 0x3fff) == 0)
				s->backwards++;
			if(!s->have_last)
				s->first_audio_tick = j;
			s->have_last = 1;
			s->last_ts = ts;
		}
		mw_jb_get_stats(&s->jb, &st);
		if(st.delay_ms > s->max_delay_ms && k == MW_JB_AUDIO)
			s->max_delay_ms = st.delay_ms;
		if(st.target_ms > s->max_target_ms)
			s->max_target_ms = st.target_ms;
	}
}

/* a regular stream: count packets of n samples, delay(k) */
static void stream(struct sim *s, uint32_t ssrc, uint16_t seq0, uint32_t ts0,
		uint32_t t0, unsigned count, unsigned n, uint32_t base_delay,
		uint32_t jitter)
{
	unsigned k;

	for(k = 0; k < count; k++)
		add(s, ssrc, (uint16_t)(seq0 + k), ts0 + k * n, n,
				t0 + (k + 1) * n + base_delay + rnd(jitter + 1));
}

static struct mw_jb_stats stats(struct sim *s)
{
	struct mw_jb_stats st;

	mw_jb_get_stats(&s->jb, &st);
	return st;
}

static void test_init_errors(void **state)
{
	struct mw_jb *jb = calloc(1, sizeof(*jb));
	struct mw_jb_cfg c = {8000, F, 20, 200};
	int16_t out[F], pcm[F] = {0};
	enum mw_jb_kind k;

	c.rate = 0;
	assert_int_equal(mw_jb_init(jb, &c), -EINVAL);
	c.rate = 8000;
	c.frame = MW_JB_MAX_FRAME + 1;
	assert_int_equal(mw_jb_init(jb, &c), -EINVAL);
	c.frame = F;
	c.min_ms = 300;
	assert_int_equal(mw_jb_init(jb, &c), -EINVAL);
	c.min_ms = 20;
	assert_int_equal(mw_jb_init(jb, &c), 0);
	/* nothing received: silence, IDLE */
	memset(out, 0x55, sizeof(out));
	assert_int_equal(mw_jb_get(jb, out, 1000, &k), 0);
	assert_int_equal(k, MW_JB_IDLE);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[F - 1], 0);
	assert_int_equal(mw_jb_put(jb, 1, 1, 1, pcm, 0, 0), -EINVAL);
	assert_int_equal(
			mw_jb_put(jb, 1, 1, 1, pcm, MW_JB_MAX_PKT + 1, 0), -EINVAL);
	/* max clamped to what the ring holds */
	c.max_ms = 5000;
	assert_int_equal(mw_jb_init(jb, &c), 0);
	assert_true(jb->max_s <= MW_JB_RING / 2);
	free(jb);
}

static void test_in_order(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;

	stream(s, 1, 1000, 5000, 0, 500, F, 0, 0);
	run(s, 37, 510);
	st = stats(s);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 500);
	assert_int_equal(s->kinds[MW_JB_LOSS], 0);
	assert_int_equal(st.loss_frames, 0);
	assert_true(st.plc_frames <= 6); /* lead-in and final fade only */
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.late, 0);
	assert_int_equal(st.target_ms, 20);
	/* started after ~target: at most 3 frames of lead-in */
	assert_true(s->first_audio_tick <= 3);
	assert_in_range(s->max_delay_ms, 10, 30);
	free(s);
}

static void test_reorder(void **state)
{
	struct sim *s = sim_new(40, 200);
	struct mw_jb_stats st;
	unsigned k;

	/* every pair swapped: odd packets arrive 25 ms early relative to
	 * their even predecessor */
	for(k = 0; k < 400; k++) {
		uint32_t arr = (k + 1) * F + ((k % 2 == 0) ? 200 : 0);
		add(s, 7, (uint16_t)(60000 + k), k * F, F, arr);
	}
	run(s, 0, 420);
	st = stats(s);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 400);
	assert_int_equal(s->kinds[MW_JB_LOSS], 0);
	assert_int_equal(st.lost, 0); /* gaps refilled by the reordered ones */
	assert_int_equal(st.late, 0);
	free(s);
}

static void test_duplicates(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;
	unsigned k;

	for(k = 0; k < 200; k++) {
		add(s, 7, (uint16_t)k, k * F, F, (k + 1) * F);
		add(s, 7, (uint16_t)k, k * F, F, (k + 1) * F + 10); /* again */
		if(k >= 100)
			add(s, 7, (uint16_t)(k - 100), (k - 100) * F, F,
					(k + 1) * F + 20); /* very old copy */
	}
	run(s, 0, 210);
	st = stats(s);
	assert_int_equal(st.dup + st.late, 300);
	assert_true(st.dup >= 200);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 200);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(st.lost, 0);
	free(s);
}

static void test_single_loss_plc(void **state)
{
	struct sim *s = sim_new(40, 200);
	struct mw_jb_stats st;
	unsigned k;

	stream(s, 3, 10, 0, 0, 300, F, 0, 0);
	/* a voiced-ish signal would be nicer for PLC, but the accounting is
	 * what is asserted: packets 100 and 200 lost */
	for(k = 0; k < s->np; k++)
		if(s->p[k].seq == 110 || s->p[k].seq == 210)
			s->p[k].drop = 1;
	run(s, 0, 320);
	st = stats(s);
	assert_int_equal(st.lost, 2);
	assert_int_equal(st.loss_frames, 2);
	assert_int_equal(s->kinds[MW_JB_LOSS], 2);
	assert_true(st.plc_frames >= 2);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 298);
	assert_int_equal(s->bad_audio, 0);
	free(s);
}

static void test_plc_output(void **state)
{
	/* a 400 Hz-ish periodic signal, one packet lost: the concealed
	 * frame is spandsp's pitch repetition, not silence */
	struct mw_jb *jb = calloc(1, sizeof(*jb));
	struct mw_jb_cfg c = {8000, F, 40, 200};
	int16_t pcm[F], out[F];
	enum mw_jb_kind kind;
	unsigned k, i, j = 0;
	long energy = 0;

	assert_int_equal(mw_jb_init(jb, &c), 0);
	for(k = 0; k < 40; k++) {
		for(i = 0; i < F; i++)
			pcm[i] = (int16_t)(((k * F + i) % 20) < 10 ? 8000 : -8000);
		if(k != 20)
			assert_int_equal(
					mw_jb_put(jb, 1, (uint16_t)k, k * F, pcm, F, (k + 1) * F),
					0);
		while(j * F <= (k + 1) * F) {
			assert_int_equal(mw_jb_get(jb, out, j * F, &kind), 0);
			if(kind == MW_JB_LOSS)
				for(i = 0; i < F; i++)
					energy += labs((long)out[i]);
			j++;
		}
	}
	assert_true(jb->st.loss_frames == 1);
	assert_true(energy / F > 1000);
	free(jb);
}

static void test_small_holes_stay_in_frame(void **state)
{
	/* 150-sample packets every 160: a 10-sample hole per frame, each the
	 * start of a concealment (spandsp would write 30 samples there) */
	struct mw_jb *jb = calloc(1, sizeof(*jb));
	struct mw_jb_cfg c = {8000, F, 40, 200};
	int16_t pcm[F], out[F + 64];
	enum mw_jb_kind kind;
	unsigned k, i, loss = 0;

	assert_int_equal(mw_jb_init(jb, &c), 0);
	for(k = 0; k < 100; k++) {
		/* 80 Hz: a pitch period of 100 samples, overlap 25 > the hole */
		for(i = 0; i < F; i++)
			pcm[i] = (int16_t)(((k * F + i) % 100) < 50 ? 9000 : -9000);
		assert_int_equal(
				mw_jb_put(jb, 1, (uint16_t)k, k * F, pcm, F - 10, (k + 1) * F),
				0);
		for(i = F; i < F + 64; i++)
			out[i] = 0x5a5a;
		assert_int_equal(mw_jb_get(jb, out, (k + 1) * F, &kind), 0);
		loss += kind == MW_JB_LOSS;
		for(i = F; i < F + 64; i++)
			assert_int_equal(out[i], 0x5a5a);
	}
	assert_true(loss >= 90);
	free(jb);
}

static void test_burst_loss(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;
	unsigned k;

	stream(s, 3, 0, 0, 0, 300, F, 0, 0);
	for(k = 0; k < s->np; k++)
		if(s->p[k].seq >= 100 && s->p[k].seq < 110)
			s->p[k].drop = 1;
	run(s, 0, 320);
	st = stats(s);
	assert_int_equal(st.lost, 10);
	/* 10 frames missing: concealed (loss) or faded (dry), then the
	 * stream resumes in place: every other packet played */
	assert_int_equal(s->kinds[MW_JB_AUDIO], 290);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(st.late, 0);
	assert_true(st.plc_frames >= 1);
	free(s);
}

static void test_wraparound(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;

	/* seq wraps at 65535 and ts at 2^32 inside the stream */
	stream(s, 9, 65400, 0xffffffffu - 150 * F, 1000, 400, F, 0, 40);
	run(s, 1000, 420);
	st = stats(s);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 400);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.resync, 0);
	assert_int_equal(st.late, 0);
	free(s);
}

static void test_late_packet(void **state)
{
	struct sim *s = sim_new(40, 80);
	struct mw_jb_stats st;
	unsigned k;

	stream(s, 3, 0, 0, 0, 300, F, 0, 0);
	for(k = 0; k < s->np; k++)
		if(s->p[k].seq == 150)
			s->p[k].arrival += 300 * 8; /* 300 ms late */
	run(s, 0, 320);
	st = stats(s);
	assert_int_equal(st.late, 1);
	assert_int_equal(s->put_rc_late, 1);
	assert_int_equal(st.loss_frames, 1);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 299);
	assert_int_equal(s->bad_audio, 0);
	/* the outlier did not push the target beyond max */
	assert_true(st.target_ms <= 80);
	free(s);
}

static void test_adapt_up_and_down(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;
	unsigned late_at_10s;

	/* 10 s with up to 80 ms jitter, then 40 s without */
	stream(s, 5, 0, 0, 0, 500, F, 0, 640);
	stream(s, 5, 500, 500 * F, 500 * F, 2000, F, 0, 0);
	run(s, 0, 500);
	st = stats(s);
	assert_in_range(st.target_ms, 70, 90);
	assert_in_range(st.peak_ms, 60, 80);
	late_at_10s = (unsigned)st.late;
	/* after adapting, (almost) nothing is late: the first second may be */
	assert_true(late_at_10s < 25);
	assert_true(st.stretch_frames >= 1);
	run(s, 500 * F, 2010);
	st = stats(s);
	assert_int_equal(st.target_ms, 20);
	assert_true(st.shrink_frames >= 1);
	assert_true(st.delay_ms <= 20 + 30);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	/* no packet lost, no late ones in the calm part */
	assert_int_equal(st.late, late_at_10s);
	assert_true(s->max_target_ms <= 200);
	free(s);
}

static void test_bounded(void **state)
{
	struct sim *s = sim_new(20, 100);
	struct mw_jb_stats st;

	/* up to 1 s of jitter: target and delay stay bounded by max */
	stream(s, 5, 0, 0, 0, 3000, F, 0, 8000);
	run(s, 0, 3100);
	st = stats(s);
	assert_int_equal(s->max_target_ms, 100);
	assert_true(s->max_delay_ms <= 100 + 30);
	assert_true(st.late > 100); /* the price of the bound */
	assert_int_equal(s->bad_audio, 0);
	assert_true(s->jb.nvalid <= MW_JB_RING);
	free(s);
}

static void test_ssrc_change(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;

	stream(s, 1, 100, 1000, 0, 200, F, 0, 0);
	/* new source right after: unrelated seq and ts */
	stream(s, 2, 40000, 123456789, 200 * F, 200, F, 0, 0);
	run(s, 0, 420);
	st = stats(s);
	assert_int_equal(st.resync, 1);
	assert_true(s->kinds[MW_JB_AUDIO] >= 396);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(st.late, 0);
	free(s);
}

static void test_silence_gap(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;

	/* DTX: 1 s without packets, seq contiguous, ts advanced by the gap */
	stream(s, 1, 0, 0, 0, 100, F, 0, 0);
	stream(s, 1, 100, 150 * F, 150 * F, 100, F, 0, 0);
	/* then a sender that froze its timestamp over a 1 s gap */
	stream(s, 1, 200, 250 * F, 300 * F, 100, F, 0, 0);
	run(s, 0, 420);
	st = stats(s);
	assert_int_equal(s->kinds[MW_JB_AUDIO], 300);
	assert_int_equal(s->kinds[MW_JB_LOSS], 0);
	assert_true(s->kinds[MW_JB_DRY] >= 100);
	assert_int_equal(st.late, 0);
	assert_int_equal(st.lost, 0);
	assert_int_equal(s->bad_audio, 0);
	/* the delay after each gap is the target again */
	assert_true(st.delay_ms <= 30);
	free(s);
}

static void test_seq_jump(void **state)
{
	struct sim *s = sim_new(60, 200);
	struct mw_jb_stats st;

	/* seq jumps by 30000 while audio is buffered, timestamps go on */
	stream(s, 1, 0, 0, 0, 100, F, 0, 0);
	stream(s, 1, 30100, 100 * F, 100 * F, 100, F, 0, 0);
	run(s, 0, 220);
	st = stats(s);
	/* the first jumped packet waits for confirmation, then resync */
	assert_int_equal(st.resync, 1);
	assert_int_equal(st.out_of_range, 1);
	assert_true(s->kinds[MW_JB_AUDIO] >= 197);
	assert_int_equal(s->bad_audio, 0);
	free(s);
}

static void test_ptime_30(void **state)
{
	struct sim *s = sim_new(20, 200);
	struct mw_jb_stats st;

	stream(s, 1, 0, 0, 0, 200, 240, 0, 80);
	run(s, 0, 310);
	st = stats(s);
	/* 200 x 30 ms = 300 frames of 20 ms */
	assert_in_range(s->kinds[MW_JB_AUDIO], 298, 300);
	assert_int_equal(s->kinds[MW_JB_LOSS], 0);
	assert_int_equal(s->bad_audio, 0);
	assert_int_equal(s->backwards, 0);
	assert_int_equal(st.late, 0);
	free(s);
}

static void test_drift(void **state)
{
	struct sim *s;
	struct mw_jb_stats st;
	unsigned k;

	/* far end 300 ppm fast (3x a bad crystal): 10 min = 180 ms too much
	 * audio, must shrink about 9 frames */
	s = sim_new(20, 200);
	for(k = 0; k < 30000; k++)
		add(s, 1, (uint16_t)k, k * F, F,
				(uint32_t)((k + 1) * F * (1 - 300e-6)));
	run(s, 0, 29990);
	st = stats(s);
	assert_in_range(st.shrink_frames, 6, 12);
	assert_true(st.delay_ms <= 20 + 30);
	assert_int_equal(st.late, 0);
	assert_int_equal(s->bad_audio, 0);
	free(s);
	/* 300 ppm slow: must stretch, delay stays near the target */
	s = sim_new(20, 200);
	for(k = 0; k < 30000; k++)
		add(s, 1, (uint16_t)k, k * F, F,
				(uint32_t)((k + 1) * F * (1 + 300e-6)));
	run(s, 0, 29990);
	st = stats(s);
	/* with a 20 ms target the buffer runs dry before a stretch is due:
	 * one faded frame, then the next packet re-anchors */
	assert_in_range(st.stretch_frames + st.dry_frames, 6, 14);
	assert_true(s->kinds[MW_JB_AUDIO] >= 29990 - 16);
	assert_true(st.target_ms <= 30);
	assert_true(st.delay_ms <= 20 + 30);
	assert_int_equal(st.late, 0);
	assert_int_equal(s->bad_audio, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_init_errors),
			cmocka_unit_test(test_in_order),
			cmocka_unit_test(test_reorder),
			cmocka_unit_test(test_duplicates),
			cmocka_unit_test(test_single_loss_plc),
			cmocka_unit_test(test_plc_output),
			cmocka_unit_test(test_small_holes_stay_in_frame),
			cmocka_unit_test(test_burst_loss),
			cmocka_unit_test(test_wraparound),
			cmocka_unit_test(test_late_packet),
			cmocka_unit_test(test_adapt_up_and_down),
			cmocka_unit_test(test_bounded),
			cmocka_unit_test(test_ssrc_change),
			cmocka_unit_test(test_silence_gap),
			cmocka_unit_test(test_seq_jump),
			cmocka_unit_test(test_ptime_30),
			cmocka_unit_test(test_drift),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
