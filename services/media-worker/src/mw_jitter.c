/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_jitter.c -- adaptive bounded jitter buffer with spandsp PLC. The
 * algorithm is described in mw_jitter.h. Hand-written (no library fits an
 * externally clocked, allocation-free buffer); the concealment itself is
 * spandsp's plc_rx/plc_fillin.
 */
#include "mw_jitter.h"

#include <errno.h>
#include <string.h>

#define RING_MASK (MW_JB_RING - 1)
#define FLOOR_CREEP 16	  /* floor rises one sample every 16 packets */
#define SHRINK_SPACING 10 /* frames between two shrinks */
#define STRETCH_SPACING 2 /* frames between two stretches */
#define OOW_RESYNC 3	  /* newest packets out of window -> resync */
#define FADE_MS 60		  /* PLC fade-out at the start of a dry period */

/* ---- validity bitmap over the ring (ranges may wrap) ---- */

static inline uint64_t range_mask(unsigned b, unsigned k)
{
	return (k >= 64 ? ~0ull : ((1ull << k) - 1)) << b;
}

/* op 0: count set bits, 1: set (returns newly set), 2: clear (returns
 * cleared). At most n/64 + 2 iterations per call. */
static unsigned bits_op(uint64_t *v, uint32_t pos, uint32_t n, int op)
{
	unsigned cnt = 0;

	pos &= RING_MASK;
	while(n) {
		unsigned b = pos & 63, k = 64 - b;
		uint64_t m, *w = &v[pos >> 6];

		if(k > n)
			k = n;
		m = range_mask(b, k);
		if(op == 0) {
			cnt += (unsigned)__builtin_popcountll(*w & m);
		} else if(op == 1) {
			cnt += (unsigned)__builtin_popcountll(~*w & m);
			*w |= m;
		} else {
			cnt += (unsigned)__builtin_popcountll(*w & m);
			*w &= ~m;
		}
		pos = (pos + k) & RING_MASK;
		n -= k;
	}
	return cnt;
}

static inline int bit_get(const uint64_t *v, uint32_t pos)
{
	pos &= RING_MASK;
	return (int)((v[pos >> 6] >> (pos & 63)) & 1);
}

/* copies n samples between the ring (at ring position pos) and buf */
static void ring_write(
		struct mw_jb *jb, uint32_t pos, const int16_t *src, uint32_t n)
{
	uint32_t i = pos & RING_MASK, k = MW_JB_RING - i;

	if(k > n)
		k = n;
	memcpy(&jb->pcm[i], src, k * sizeof(int16_t));
	if(n > k)
		memcpy(jb->pcm, src + k, (n - k) * sizeof(int16_t));
}

static void ring_read(
		const struct mw_jb *jb, uint32_t pos, int16_t *dst, uint32_t n)
{
	uint32_t i = pos & RING_MASK, k = MW_JB_RING - i;

	if(k > n)
		k = n;
	memcpy(dst, &jb->pcm[i], k * sizeof(int16_t));
	if(n > k)
		memcpy(dst + k, jb->pcm, (n - k) * sizeof(int16_t));
}

/* spandsp's plc_fillin writes pitch/4 (up to PLC_PITCH_OVERLAP_MAX)
 * samples whatever 'len' is on the first call of a gap: short holes are
 * concealed through a scratch buffer of that size. */
static void conceal(plc_state_t *plc, int16_t *out, uint32_t len)
{
	int16_t tmp[PLC_PITCH_OVERLAP_MAX];

	if(len >= PLC_PITCH_OVERLAP_MAX || plc->missing_samples) {
		plc_fillin(plc, out, (int)len);
		return;
	}
	plc_fillin(plc, tmp, PLC_PITCH_OVERLAP_MAX);
	memcpy(out, tmp, len * sizeof(int16_t));
}

static inline uint32_t ms_to_s(const struct mw_jb *jb, int ms)
{
	return (uint32_t)((uint64_t)ms * jb->rate / 1000);
}

static inline uint32_t s_to_ms(const struct mw_jb *jb, uint32_t s)
{
	return (uint32_t)((uint64_t)s * 1000 / jb->rate);
}

int mw_jb_init(struct mw_jb *jb, const struct mw_jb_cfg *cfg)
{
	uint32_t cap;

	if(!jb || !cfg || cfg->rate == 0 || cfg->frame == 0 ||
			cfg->frame > MW_JB_MAX_FRAME || cfg->min_ms < 0 ||
			cfg->max_ms < cfg->min_ms)
		return -EINVAL;
	memset(jb, 0, sizeof(*jb));
	jb->rate = cfg->rate;
	jb->frame = cfg->frame;
	jb->min_s = ms_to_s(jb, cfg->min_ms);
	jb->max_s = ms_to_s(jb, cfg->max_ms);
	/* the ring must hold the delay, the anchoring slack and packets
	 * ahead: max <= (ring - 2 packets) / 2 */
	cap = (MW_JB_RING - 2 * MW_JB_MAX_PKT) / 2;
	if(jb->max_s > cap)
		jb->max_s = cap;
	if(jb->min_s > jb->max_s)
		jb->min_s = jb->max_s;
	if(jb->min_s < jb->frame / 2)
		jb->min_s = jb->frame / 2;
	if(jb->max_s < jb->min_s)
		jb->max_s = jb->min_s;
	jb->margin = ms_to_s(jb, 5);
	/* a stored sample is at most 'window' ahead of play_ts, so that
	 * anchoring may move play_ts back by max + frame safely */
	jb->window = MW_JB_RING - jb->max_s - jb->frame;
	jb->target = jb->min_s;
	plc_init(&jb->plc);
	return 0;
}

static void update_target(struct mw_jb *jb)
{
	uint32_t t = (jb->peak_q8 >> 8) + jb->margin;

	if(t < jb->min_s)
		t = jb->min_s;
	if(t > jb->max_s)
		t = jb->max_s;
	jb->target = t;
}

/* Delay statistics of a packet on the current timeline. */
enum delay_mode
{
	DELAY_NORMAL,
	DELAY_ANCHOR, /* starts a talkspurt after a dry period: a far end that
					 froze or rewound its timestamps shows as a huge excess:
					 rebase the floor then */
	DELAY_LATE,	  /* a late packet: tells about jitter, unless it is a
					 stray old copy (beyond twice the maximum: ignored) */
};

static void delay_update(
		struct mw_jb *jb, uint32_t ts, uint32_t now, enum delay_mode mode)
{
	uint32_t d = now - ts;
	int32_t ex;

	if(!jb->have_floor) {
		jb->have_floor = 1;
		jb->floor = d;
		return;
	}
	ex = (int32_t)(d - jb->floor);
	if(ex > 0 && (uint32_t)ex > 2 * jb->max_s) {
		if(mode == DELAY_LATE)
			return;
		if(mode == DELAY_ANCHOR)
			ex = -1; /* rebase below */
		else
			ex = (int32_t)(2 * jb->max_s); /* the target is clamped */
	}
	/* creep up so that a slower far-end clock (d growing) is followed;
	 * the true minimum pulls it back down at once */
	if(++jb->creep >= FLOOR_CREEP) {
		jb->creep = 0;
		jb->floor++;
	}
	if(ex < 0) {
		jb->floor = d;
		ex = 0;
	}
	jb->peak_q8 -= jb->peak_q8 >> 8;
	if(((uint32_t)ex << 8) > jb->peak_q8)
		jb->peak_q8 = (uint32_t)ex << 8;
	update_target(jb);
}

/* Empty buffer: the packet at ts starts a new talkspurt; get() will put
 * the playout point 'target' before it. */
static void reanchor(struct mw_jb *jb, uint32_t ts)
{
	if(jb->nvalid) {
		memset(jb->valid, 0, sizeof(jb->valid));
		jb->nvalid = 0;
	}
	jb->play_ts = ts;
	jb->end_ts = ts;
	jb->anchor_ts = ts;
	jb->anchor_pending = 1;
	jb->lead_in = 0;
	jb->oow = 0;
}

/* New timeline (first packet, SSRC change, confirmed jump). */
static void resync(struct mw_jb *jb, uint32_t ssrc, uint16_t seq, uint32_t ts,
		uint32_t now)
{
	if(jb->started)
		jb->st.resync++;
	jb->started = 1;
	jb->ssrc = ssrc;
	jb->max_seq = seq;
	jb->seq_hist = 1;
	jb->bad_seq_valid = 0;
	reanchor(jb, ts);
	/* the delay relation of the old timeline means nothing now; the
	 * spread (peak) is a property of the network and is kept */
	jb->have_floor = 1;
	jb->floor = now - ts;
	jb->creep = 0;
}

int mw_jb_put(struct mw_jb *jb, uint32_t ssrc, uint16_t seq, uint32_t ts,
		const int16_t *pcm, size_t n, uint32_t now)
{
	int newest = 0, anchoring = 0;
	int16_t d;
	int32_t rel;
	uint32_t skip, added;

	if(!jb || !pcm || n == 0 || n > MW_JB_MAX_PKT)
		return -EINVAL;
	jb->st.put++;
	if(!jb->started || ssrc != jb->ssrc) {
		resync(jb, ssrc, seq, ts, now);
		goto store;
	}

	/* sequence number: newer, duplicate, older, or a jump */
	d = (int16_t)(seq - jb->max_seq);
	if(d > 0 && d <= MW_JB_SEQ_JUMP) {
		newest = 1;
		jb->seq_hist = d >= 64 ? 1 : (jb->seq_hist << d) | 1;
		jb->max_seq = seq;
		jb->st.lost += (uint64_t)(d - 1);
	} else if(d == 0) {
		jb->st.dup++;
		return -EEXIST;
	} else if(d < 0 && d >= -MW_JB_SEQ_JUMP) {
		if(d > -64) {
			uint64_t bit = 1ull << -d;
			if(jb->seq_hist & bit) {
				jb->st.dup++;
				return -EEXIST;
			}
			jb->seq_hist |= bit;
			if(jb->st.lost)
				jb->st.lost--; /* it was counted lost, it is late */
		}
	} else {
		/* discontinuity: accept when nothing is buffered or when the next
		 * packet confirms it (RFC 3550 A.1 style) */
		if(jb->nvalid == 0 || (jb->bad_seq_valid && seq == jb->bad_seq)) {
			resync(jb, ssrc, seq, ts, now);
			goto store;
		}
		jb->bad_seq = (uint16_t)(seq + 1);
		jb->bad_seq_valid = 1;
		jb->st.out_of_range++;
		return -ERANGE;
	}
	jb->bad_seq_valid = 0;

	/* an older packet arriving before the anchor is applied extends the
	 * new talkspurt backwards */
	if(jb->anchor_pending && !newest && (int32_t)(jb->anchor_ts - ts) > 0 &&
			jb->anchor_ts - ts <= jb->max_s) {
		jb->play_ts = ts;
		jb->anchor_ts = ts;
	}

	rel = (int32_t)(ts - jb->play_ts);
	if(rel + (int32_t)n <= 0 || rel + (int64_t)n > (int64_t)jb->window) {
		int late = rel + (int32_t)n <= 0;

		if(newest && jb->nvalid == 0) {
			/* dry buffer: free to restart here (same timeline) */
			reanchor(jb, ts);
			anchoring = 1;
		} else if(newest && ++jb->oow >= OOW_RESYNC) {
			resync(jb, ssrc, seq, ts, now);
			goto store;
		} else {
			if(late) {
				jb->st.late++;
				delay_update(jb, ts, now, DELAY_LATE);
				return -ETIME;
			}
			jb->st.out_of_range++;
			return -ERANGE;
		}
	} else {
		jb->oow = 0;
		if(newest && jb->nvalid == 0 && !jb->anchor_pending) {
			reanchor(jb, ts); /* first packet after a dry period */
			anchoring = 1;
		}
	}
	delay_update(jb, ts, now, anchoring ? DELAY_ANCHOR : DELAY_NORMAL);

store:
	rel = (int32_t)(ts - jb->play_ts);
	skip = rel < 0 ? (uint32_t)-rel : 0; /* partly late: keep the rest */
	added = bits_op(jb->valid, ts + skip, (uint32_t)n - skip, 1);
	if(added == 0) {
		jb->st.dup++;
		return -EEXIST;
	}
	ring_write(jb, ts + skip, pcm + skip, (uint32_t)n - skip);
	jb->nvalid += added;
	if((int32_t)(ts + (uint32_t)n - jb->end_ts) > 0)
		jb->end_ts = ts + (uint32_t)n;
	return 0;
}

/* Places play_ts 'target' before now - floor, on the anchor packet's
 * phase (nearest multiple of a frame before it), never after it; when the
 * anchor packet itself is so late that playing it would exceed the
 * maximum delay, its beginning is skipped instead. */
static void apply_anchor(struct mw_jb *jb, uint32_t now)
{
	uint32_t ideal = now - jb->floor - jb->target;
	uint32_t latest = now - jb->floor - jb->max_s;
	int32_t diff = (int32_t)(jb->anchor_ts - ideal);
	uint32_t k = 0, kmax = (jb->max_s + jb->frame) / jb->frame;

	jb->anchor_pending = 0;
	jb->since_adjust = 0;
	jb->lead_in = 0;
	if(diff > 0) {
		k = ((uint32_t)diff + jb->frame / 2) / jb->frame;
		if(k > kmax)
			k = kmax;
		jb->play_ts = jb->anchor_ts - k * jb->frame;
		jb->lead_in = k > 0;
	} else if((int32_t)(latest - jb->anchor_ts) > 0) {
		/* drop what lies before the latest acceptable playout point */
		uint32_t skip = latest - jb->anchor_ts;

		jb->nvalid -= bits_op(jb->valid, jb->anchor_ts,
				skip < MW_JB_RING ? skip : MW_JB_RING, 2);
		jb->play_ts = latest;
		if((int32_t)(jb->end_ts - latest) < 0)
			jb->end_ts = latest;
	} else {
		jb->play_ts = jb->anchor_ts;
	}
}

static void dry_frame(struct mw_jb *jb, int16_t *out)
{
	uint32_t fade = (uint32_t)(FADE_MS * (uint64_t)jb->rate / 1000);

	if(jb->dry_run * jb->frame < fade) {
		conceal(&jb->plc, out, jb->frame);
		jb->st.plc_frames++;
	} else {
		memset(out, 0, jb->frame * sizeof(int16_t));
	}
	jb->dry_run++;
	jb->st.dry_frames++;
}

int mw_jb_get(
		struct mw_jb *jb, int16_t *out, uint32_t now, enum mw_jb_kind *kind)
{
	uint32_t f, cnt, i;
	int32_t cur;
	enum mw_jb_kind k;

	if(!jb || !out)
		return -EINVAL;
	f = jb->frame;
	jb->st.frames++;
	if(!jb->started) {
		memset(out, 0, f * sizeof(int16_t));
		if(kind)
			*kind = MW_JB_IDLE;
		return 0;
	}
	if(jb->anchor_pending)
		apply_anchor(jb, now);
	if(jb->lead_in && (int32_t)(jb->anchor_ts - jb->play_ts) <= 0)
		jb->lead_in = 0;
	if(jb->since_adjust < 1000)
		jb->since_adjust++;

	cur = (int32_t)(now - jb->play_ts - jb->floor);
	jb->cur_last = cur > 0 ? (uint32_t)cur : 0;
	cnt = bits_op(jb->valid, jb->play_ts, f, 0);
	if(cnt == 0 && (jb->nvalid == 0 || jb->lead_in)) {
		dry_frame(jb, out);
		jb->play_ts += f;
		if(kind)
			*kind = MW_JB_DRY;
		return 0;
	}

	/* inside a talkspurt: keep the delay near the target */
	if(cur < (int32_t)jb->target - (int32_t)(f / 2) &&
			jb->since_adjust >= STRETCH_SPACING) {
		conceal(&jb->plc, out, f);
		jb->st.stretch_frames++;
		jb->st.plc_frames++;
		jb->since_adjust = 0;
		if(kind)
			*kind = MW_JB_STRETCH;
		return 0;
	}
	if(cur > (int32_t)(jb->target + f + jb->rate / 100) &&
			(jb->since_adjust >= SHRINK_SPACING ||
					cur > (int32_t)(jb->max_s + f))) {
		/* one frame at a time, or down to the target at once when the
		 * maximum is exceeded (the floor dropped, a burst arrived) */
		uint32_t drop = f;

		if(cur > (int32_t)(jb->max_s + f))
			drop = ((uint32_t)cur - jb->target) / f * f;
		jb->nvalid -= bits_op(jb->valid, jb->play_ts,
				drop < MW_JB_RING ? drop : MW_JB_RING, 2);
		jb->play_ts += drop;
		jb->st.shrink_frames += drop / f;
		jb->since_adjust = 0;
		jb->cur_last = (uint32_t)cur - drop;
		cnt = bits_op(jb->valid, jb->play_ts, f, 0);
		if(cnt == 0 && jb->nvalid == 0) {
			dry_frame(jb, out);
			jb->play_ts += f;
			if(kind)
				*kind = MW_JB_DRY;
			return 0;
		}
	}

	jb->dry_run = 0;
	if(cnt == f) {
		ring_read(jb, jb->play_ts, out, f);
		plc_rx(&jb->plc, out, (int)f);
		k = MW_JB_AUDIO;
	} else {
		/* runs of received and missing samples, in order through the PLC
		 * (bounded by the frame length) */
		i = 0;
		while(i < f) {
			int v = bit_get(jb->valid, jb->play_ts + i);
			uint32_t j = i + 1;

			while(j < f && bit_get(jb->valid, jb->play_ts + j) == v)
				j++;
			if(v) {
				ring_read(jb, jb->play_ts + i, out + i, j - i);
				plc_rx(&jb->plc, out + i, (int)(j - i));
			} else {
				conceal(&jb->plc, out + i, j - i);
			}
			i = j;
		}
		jb->st.loss_frames++;
		jb->st.plc_frames++;
		k = MW_JB_LOSS;
	}
	jb->nvalid -= bits_op(jb->valid, jb->play_ts, f, 2);
	jb->play_ts += f;
	if(kind)
		*kind = k;
	return 0;
}

void mw_jb_get_stats(const struct mw_jb *jb, struct mw_jb_stats *st)
{
	*st = jb->st;
	st->target_ms = s_to_ms(jb, jb->target);
	st->peak_ms = s_to_ms(jb, jb->peak_q8 >> 8);
	st->delay_ms = 0;
	if(jb->started)
		st->delay_ms = s_to_ms(jb, jb->cur_last);
}
