/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_jitter.h -- adaptive, bounded jitter buffer for one RTP audio
 * stream (pure: no I/O, no clock, no allocation; the caller passes the
 * time). Packet loss concealment is spandsp's (plc_rx/plc_fillin).
 *
 * The buffering logic is hand-written: spandsp has PLC but no jitter
 * buffer, and the existing ones (speexdsp's, PJSIP's) either want to own
 * the decoder and the clock or cannot be embedded without allocation.
 *
 * Model. Decoded PCM is stored in a ring indexed by RTP timestamp (one
 * validity bit per sample), so packets of any size (10/20/30/60 ms) are
 * reordered by where they belong in time and frames are taken out at a
 * fixed size whatever the far end's ptime. Sequence numbers (with
 * wraparound) tell newer from older packets, detect duplicates and big
 * jumps. Every put() also measures the packet's delay d = arrival - ts;
 * 'floor' tracks the minimum d (creeping up slowly so that clock drift is
 * followed) and 'peak' the largest excess d - floor, decaying with a
 * half-life of ~256 packets (~3.5 s at 50 pps): the target delay is
 * peak + 5 ms clamped to [min_ms, max_ms], so it rises at once with
 * jitter and relaxes slowly. The playout delay of a packet that arrives
 * with the floor delay is cur = now - play_ts - floor; get() keeps it
 * near the target: whenever the buffer has run dry (silence, DTX, end of
 * a talkspurt, burst loss, SSRC change) the next packet re-anchors the
 * playout point at exactly the target (free adaptation); inside a
 * talkspurt it inserts a concealed frame (stretch) when cur < target -
 * frame/2 and drops a frame (shrink, at most every 200 ms) when cur >
 * target + frame + 10 ms. Packets behind the playout point are late and
 * dropped; a newest packet out of the window while the buffer is dry, or
 * three in a row, re-synchronises (new timeline), as does an SSRC
 * change or a confirmed sequence jump. Memory is the fixed struct.
 *
 * Ownership: the struct is embedded in (and owned by) the media session;
 * single thread. Functions return 0 or -errno.
 */
#ifndef MW_JITTER_H
#define MW_JITTER_H

#include <stddef.h>
#include <stdint.h>

#include <spandsp.h>

#define MW_JB_RING 16384u	 /* samples kept (power of two): 1.02 s at 16 kHz */
#define MW_JB_MAX_PKT 1024u	 /* samples in one packet (64 ms at 16 kHz) */
#define MW_JB_MAX_FRAME 480u /* samples per get() */
#define MW_JB_SEQ_JUMP 3000	 /* seq difference taken as a discontinuity */

struct mw_jb_cfg
{
	unsigned rate;	/* samples per second, e.g. 8000 */
	unsigned frame; /* samples per get(), e.g. 160 */
	int min_ms;		/* target delay bounds; max is clamped so that the */
	int max_ms;		/* ring holds it (448 ms at 16 kHz) */
};

/* What get() produced. */
enum mw_jb_kind
{
	MW_JB_IDLE = 0, /* nothing received yet: silence */
	MW_JB_AUDIO,	/* every sample was received */
	MW_JB_LOSS,		/* some samples concealed (PLC): a hole in the stream */
	MW_JB_STRETCH,	/* a concealed frame inserted to grow the delay */
	MW_JB_DRY,		/* nothing buffered (silence gap, end of talkspurt,
					   waiting for the target delay): PLC fade-out for
					   60 ms, then silence */
};

struct mw_jb_stats
{
	uint64_t put;		   /* packets offered */
	uint64_t dup;		   /* duplicates dropped */
	uint64_t late;		   /* arrived after their playout time, dropped */
	uint64_t out_of_range; /* too far ahead/behind, dropped */
	uint64_t resync;	   /* timeline restarts (SSRC, jumps) */
	uint64_t lost;		   /* sequence gaps (net of reordered arrivals) */
	uint64_t frames;	   /* get() calls */
	uint64_t loss_frames, stretch_frames, shrink_frames, dry_frames;
	uint64_t plc_frames; /* frames with plc_fillin samples (loss, stretch,
							60 ms fade of a dry period) */
	uint32_t target_ms;	 /* current target delay */
	uint32_t delay_ms;	 /* current playout delay (cur) */
	uint32_t peak_ms;	 /* current delay spread estimate */
};

/* Embed and treat as opaque; sizeof ~ 35 KB. */
struct mw_jb
{
	/* configuration, in samples */
	uint32_t rate, frame, min_s, max_s, margin, window;
	/* stream */
	int started;
	uint32_t ssrc;
	uint16_t max_seq; /* newest sequence number */
	uint16_t bad_seq; /* expected next seq after an unconfirmed jump */
	int bad_seq_valid;
	uint64_t seq_hist; /* bit i: seq max_seq - i received */
	unsigned oow;	   /* consecutive newest packets out of window */
	/* playout */
	uint32_t play_ts;	/* next sample to play */
	uint32_t end_ts;	/* one past the newest stored sample */
	uint32_t nvalid;	/* valid samples in the ring */
	int anchor_pending; /* re-anchor play_ts at the next get() */
	uint32_t anchor_ts; /* first sample of the new talkspurt */
	int lead_in;		/* play_ts < anchor_ts: wait silently */
	unsigned since_adjust, dry_run;
	uint32_t cur_last; /* playout delay at the last get() */
	/* delay estimation (samples) */
	int have_floor;
	uint32_t floor; /* min(arrival - ts), modular */
	unsigned creep;
	uint32_t peak_q8; /* excess delay peak, Q8 */
	uint32_t target;
	plc_state_t plc;
	struct mw_jb_stats st;
	uint64_t valid[MW_JB_RING / 64];
	int16_t pcm[MW_JB_RING];
};

/* -EINVAL on bad configuration (rate 0, frame 0 or > MW_JB_MAX_FRAME,
 * min > max, negative bounds). */
int mw_jb_init(struct mw_jb *jb, const struct mw_jb_cfg *cfg);

/* Offers one decoded packet: 'n' samples starting at RTP timestamp 'ts';
 * 'now' is the local arrival time in samples (any origin, wrapping).
 * Returns 0 when stored, -EEXIST for a duplicate, -ETIME when too late,
 * -ERANGE when out of range (unconfirmed jump), -EINVAL for n == 0 or
 * n > MW_JB_MAX_PKT. Every outcome is counted in the stats. */
int mw_jb_put(struct mw_jb *jb, uint32_t ssrc, uint16_t seq, uint32_t ts,
		const int16_t *pcm, size_t n, uint32_t now);

/* Takes the next frame (cfg.frame samples) into 'out' at local time
 * 'now' (same clock as put; the tick's scheduled time). Always fills
 * 'out'; *kind (may be NULL) says how. */
int mw_jb_get(
		struct mw_jb *jb, int16_t *out, uint32_t now, enum mw_jb_kind *kind);

void mw_jb_get_stats(const struct mw_jb *jb, struct mw_jb_stats *st);

#endif
