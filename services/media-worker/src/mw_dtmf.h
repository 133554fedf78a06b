/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_dtmf.h -- RFC 4733 telephone-events (DTMF 0-15): a receiver that
 * reports exactly one event per key press and a sender; and the
 * de-duplication of key presses that reach the worker more than one way
 * (RFC 4733, SIP INFO, in-band tones). Pure (the caller passes payloads,
 * timestamps and the time), no allocation, no globals; hand-written
 * because spandsp only has in-band DTMF (which mw_media uses for tones).
 *
 * Receiver rules. An event is identified by its RTP timestamp (the start
 * of the tone); the marker bit is not needed. It is reported once, at
 * its end:
 *  - the first packet with the E bit (the redundant end packets and any
 *    late update carrying the same timestamp are ignored afterwards);
 *  - a packet with a newer timestamp while an event is still open (its
 *    end packets were lost): the open event is reported with the last
 *    duration seen, then the new one starts;
 *  - no packet for the open event for 'timeout_ms' (mw_dtmf_rx_poll).
 * Long presses: a duration that wraps past 0xffff within one timestamp
 * is extended by 65536; a new segment (RFC 4733 2.5.1.3: same event, no
 * E bit on the previous segment, which had reached the 16-bit maximum,
 * new timestamp = old + old duration) continues the same press.
 * Packets older than the open/last event are ignored, and so are
 * packets of the same event code whose timestamp falls inside the span
 * of the press just reported (events never overlap: a real new press
 * starts at or after the previous one's end; rtpengine 10.5 sends its
 * redundant end packets with moving timestamps when it transcodes).
 *
 * Ownership: embedded in the media session; single thread.
 * Functions return 0 or -errno.
 */
#ifndef MW_DTMF_H
#define MW_DTMF_H

#include <stddef.h>
#include <stdint.h>

#define MW_DTMF_PAYLOAD 4 /* event, E|R|volume, duration(16) */

enum mw_dtmf_end
{
	MW_DTMF_END_E = 0,	 /* end bit received */
	MW_DTMF_END_NEW,	 /* a newer event started */
	MW_DTMF_END_TIMEOUT, /* no packet for timeout_ms */
};

struct mw_dtmf_event
{
	char digit;		   /* '0'-'9', '*', '#', 'A'-'D' */
	uint8_t code;	   /* 0..15 */
	uint8_t volume;	   /* -dBm0 */
	uint8_t how;	   /* enum mw_dtmf_end */
	uint32_t ts;	   /* RTP timestamp of the start */
	uint32_t duration; /* timestamp units, all segments */
};

struct mw_dtmf_rx_stats
{
	uint64_t packets, events, dup_end, ignored, bad;
};

struct mw_dtmf_rx
{
	uint32_t timeout_ms;
	int active; /* an event is open (not reported yet) */
	uint8_t code, volume;
	uint32_t ts;	   /* start of the press (first segment) */
	uint32_t seg_ts;   /* timestamp of the current segment */
	uint32_t base;	   /* duration of previous segments / wraps */
	uint16_t last_dur; /* largest duration seen in the current segment */
	uint32_t last_ms;  /* arrival of the last packet of the open event */
	int have_done;	   /* the last reported event, to drop its echoes */
	uint32_t done_seg_ts;
	struct mw_dtmf_rx_stats st;
};

/* 0-15 -> '0'..'D', other codes -> 0 */
char mw_dtmf_digit(uint8_t code);
/* '0'..'9' '*' '#' 'A'..'D' (or a..d) -> 0..15, else -EINVAL */
int mw_dtmf_code(char digit);

void mw_dtmf_rx_init(struct mw_dtmf_rx *rx, uint32_t timeout_ms);
/* One telephone-event payload with its RTP timestamp, at local time
 * now_ms. Up to two events come out (an open one ended by a new one that
 * is itself complete): ev[0..*n_ev). -EINVAL on a short payload,
 * -ENOTSUP for event codes above 15 (ignored, counted). */
int mw_dtmf_rx_put(struct mw_dtmf_rx *rx, const uint8_t *payload, size_t len,
		uint32_t ts, uint32_t now_ms, struct mw_dtmf_event ev[2],
		unsigned *n_ev);
/* Ends an open event after the timeout; call periodically. *n_ev 0/1. */
int mw_dtmf_rx_poll(struct mw_dtmf_rx *rx, uint32_t now_ms,
		struct mw_dtmf_event *ev, unsigned *n_ev);

/* ---- sender ---- */

#define MW_DTMF_END_PACKETS 3

/* One digit in progress; embedded in the media session. */
struct mw_dtmf_tx
{
	int active;
	uint8_t code, volume;
	uint32_t ts;	 /* RTP timestamp of the event */
	uint32_t total;	 /* duration to send, timestamp units */
	uint32_t dur;	 /* duration in the last packet */
	uint32_t step;	 /* increment per packet (packet interval) */
	unsigned n_sent; /* packets sent */
	unsigned ends;	 /* end packets sent */
};

/* Starts a digit at RTP timestamp 'ts'; one packet per 'step' timestamp
 * units (160 = every 20 ms at 8 kHz). 'duration' is clamped to
 * [step, 0xffff]. -EINVAL for a bad digit or step 0. */
int mw_dtmf_tx_start(struct mw_dtmf_tx *tx, char digit, uint32_t duration,
		uint32_t ts, uint32_t step);
/* The next packet: the first has the marker bit, then updates every
 * step, then MW_DTMF_END_PACKETS packets with the E bit and the final
 * duration. All share the timestamp *ts. -ENODATA when finished. */
int mw_dtmf_tx_next(struct mw_dtmf_tx *tx, uint8_t payload[MW_DTMF_PAYLOAD],
		int *marker, uint32_t *ts);

/* ---- one key press, several ways ---- */

/* Where a digit came from. */
enum mw_dtmf_src
{
	MW_DTMF_SRC_RFC4733 = 0,
	MW_DTMF_SRC_INFO,
	MW_DTMF_SRC_INBAND,
	MW_DTMF_SRC__MAX
};
/* "rfc4733", "info", "inband" (metric labels), "?" otherwise */
const char *mw_dtmf_src_name(int src);

#define MW_DTMF_DEDUP_HIST 16 /* key presses remembered */
#define MW_DTMF_DEDUP_SLACK_MS \
	300 /* how far apart two reports of one
									  press may be (signalling delay) */

/*
 * De-duplication. Carriers often signal a key press two ways (RFC 4733
 * and SIP INFO, or RFC 4733 with the tones left in the audio); the AI
 * must get it once. Each report carries the time span of the press in
 * local milliseconds (RFC 4733 and in-band: [end - duration, end], at
 * its end; INFO: [arrival, arrival + Duration]). A report is the same
 * press as an earlier one when it is the same digit from ANOTHER source,
 * their spans overlap (each widened by MW_DTMF_DEDUP_SLACK_MS), and that
 * earlier press was not already matched by a report of this source: the
 * oldest such press takes it. Reports from one source are never merged,
 * so fast sequences and repeated digits ("55") stay intact, and each
 * source's Nth report of a digit pairs with the other's Nth.
 */
struct mw_dtmf_dedup
{
	struct
	{
		char digit;
		uint8_t src;
		uint8_t matched; /* bit per source that reported it too */
		uint32_t start_ms, end_ms;
	} h[MW_DTMF_DEDUP_HIST];
	unsigned head, len;
	uint64_t dups; /* reports recognised as duplicates */
};

void mw_dtmf_dedup_init(struct mw_dtmf_dedup *d);
/* 1: a new press, deliver it; 0: a duplicate of one already delivered;
 * -EINVAL for a bad source or start after end. */
int mw_dtmf_dedup(struct mw_dtmf_dedup *d, char digit, int src,
		uint32_t start_ms, uint32_t end_ms);

#endif
