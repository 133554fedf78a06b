/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_dtmf.c -- RFC 4733 telephone-event receiver and sender, and the
 * de-duplication of key presses (rules in mw_dtmf.h). Hand-written:
 * spandsp covers in-band DTMF only.
 */
#include "mw_dtmf.h"

#include <errno.h>
#include <string.h>

/* a segment that ended this close to the 16-bit limit may be continued */
#define SEG_NEAR_MAX 0xf000u

static const char digits[16] = "0123456789*#ABCD";

char mw_dtmf_digit(uint8_t code)
{
	return code < 16 ? digits[code] : 0;
}

int mw_dtmf_code(char digit)
{
	if(digit >= '0' && digit <= '9')
		return digit - '0';
	if(digit == '*')
		return 10;
	if(digit == '#')
		return 11;
	if(digit >= 'A' && digit <= 'D')
		return 12 + digit - 'A';
	if(digit >= 'a' && digit <= 'd')
		return 12 + digit - 'a';
	return -EINVAL;
}

void mw_dtmf_rx_init(struct mw_dtmf_rx *rx, uint32_t timeout_ms)
{
	memset(rx, 0, sizeof(*rx));
	rx->timeout_ms = timeout_ms ? timeout_ms : 400;
}

/* Closes the open event into *ev. */
static void finish(struct mw_dtmf_rx *rx, struct mw_dtmf_event *ev, int how)
{
	ev->code = rx->code;
	ev->digit = mw_dtmf_digit(rx->code);
	ev->volume = rx->volume;
	ev->how = (uint8_t)how;
	ev->ts = rx->ts;
	ev->duration = rx->base + rx->last_dur;
	rx->active = 0;
	rx->have_done = 1;
	rx->done_seg_ts = rx->seg_ts;
	rx->st.events++;
}

int mw_dtmf_rx_put(struct mw_dtmf_rx *rx, const uint8_t *payload, size_t len,
		uint32_t ts, uint32_t now_ms, struct mw_dtmf_event ev[2],
		unsigned *n_ev)
{
	uint8_t code;
	int end;
	uint16_t dur;

	*n_ev = 0;
	if(!payload || len < MW_DTMF_PAYLOAD) {
		rx->st.bad++;
		return -EINVAL;
	}
	rx->st.packets++;
	code = payload[0];
	end = payload[1] >> 7;
	dur = (uint16_t)((payload[2] << 8) | payload[3]);
	if(code > 15) {
		rx->st.ignored++;
		return -ENOTSUP;
	}

	if(rx->active) {
		int32_t age = (int32_t)(ts - rx->seg_ts);

		if(age == 0) {
			/* same segment: an update or an end */
			if(code != rx->code) {
				rx->st.ignored++;
				return 0;
			}
			if(dur < rx->last_dur && rx->last_dur - dur > 0x8000) {
				/* the sender let the 16-bit duration wrap */
				rx->base += 0x10000;
				rx->last_dur = dur;
			} else if(dur > rx->last_dur) {
				rx->last_dur = dur; /* smaller: a reordered update */
			}
			rx->last_ms = now_ms;
			if(end)
				finish(rx, &ev[(*n_ev)++], MW_DTMF_END_E);
			return 0;
		}
		if(age < 0) {
			rx->st.ignored++; /* from before the open event */
			return 0;
		}
		if(code == rx->code && rx->last_dur >= SEG_NEAR_MAX &&
				(uint32_t)age <= (uint32_t)rx->last_dur + 1) {
			/* next segment of a long press */
			rx->base += (uint32_t)age;
			rx->seg_ts = ts;
			rx->last_dur = dur;
			rx->last_ms = now_ms;
			if(end)
				finish(rx, &ev[(*n_ev)++], MW_DTMF_END_E);
			return 0;
		}
		/* a newer event: the open one lost its end packets */
		finish(rx, &ev[(*n_ev)++], MW_DTMF_END_NEW);
	} else if(rx->have_done) {
		int32_t age = (int32_t)(ts - rx->done_seg_ts);

		if(age == 0) {
			/* redundant end packet (or late update) of the reported one */
			if(end)
				rx->st.dup_end++;
			else
				rx->st.ignored++;
			return 0;
		}
		if(age < 0) {
			rx->st.ignored++;
			return 0;
		}
		if(code == rx->code &&
				(uint32_t)(ts - rx->ts) < rx->base + rx->last_dur) {
			/* a timestamp inside the reported press: events never
			 * overlap, so this is no new one but its end packets sent
			 * with moving timestamps (rtpengine 10.5 when transcoding) */
			if(end)
				rx->st.dup_end++;
			else
				rx->st.ignored++;
			return 0;
		}
	}

	/* a new event (with or without the marker bit) */
	rx->active = 1;
	rx->code = code;
	rx->volume = payload[1] & 0x3f;
	rx->ts = ts;
	rx->seg_ts = ts;
	rx->base = 0;
	rx->last_dur = dur;
	rx->last_ms = now_ms;
	if(end)
		finish(rx, &ev[(*n_ev)++], MW_DTMF_END_E);
	return 0;
}

int mw_dtmf_rx_poll(struct mw_dtmf_rx *rx, uint32_t now_ms,
		struct mw_dtmf_event *ev, unsigned *n_ev)
{
	*n_ev = 0;
	/* signed: the caller's clock may lag the arrival times slightly */
	if(rx->active && (int32_t)(now_ms - rx->last_ms) >= (int32_t)rx->timeout_ms)
		finish(rx, &ev[(*n_ev)++], MW_DTMF_END_TIMEOUT);
	return 0;
}

int mw_dtmf_tx_start(struct mw_dtmf_tx *tx, char digit, uint32_t duration,
		uint32_t ts, uint32_t step)
{
	int code = mw_dtmf_code(digit);

	if(code < 0 || step == 0 || step > 0xffff)
		return -EINVAL;
	if(duration < step)
		duration = step;
	if(duration > 0xffff)
		duration = 0xffff; /* one segment; 8.2 s at 8 kHz */
	memset(tx, 0, sizeof(*tx));
	tx->active = 1;
	tx->code = (uint8_t)code;
	tx->volume = 10; /* -10 dBm0 */
	tx->ts = ts;
	tx->total = duration;
	tx->step = step;
	return 0;
}

int mw_dtmf_tx_next(struct mw_dtmf_tx *tx, uint8_t payload[MW_DTMF_PAYLOAD],
		int *marker, uint32_t *ts)
{
	int end;

	if(!tx->active)
		return -ENODATA;
	*marker = tx->n_sent == 0;
	if(tx->dur < tx->total) {
		tx->dur += tx->step;
		if(tx->dur > tx->total)
			tx->dur = tx->total;
	}
	/* once the full duration is reached every packet is an end packet */
	end = tx->dur >= tx->total;
	if(end)
		tx->ends++;
	payload[0] = tx->code;
	payload[1] = (uint8_t)((end ? 0x80 : 0) | tx->volume);
	payload[2] = (uint8_t)(tx->dur >> 8);
	payload[3] = (uint8_t)tx->dur;
	*ts = tx->ts;
	tx->n_sent++;
	if(tx->ends >= MW_DTMF_END_PACKETS)
		tx->active = 0;
	return 0;
}

/* ---- de-duplication ---- */

static const char *const src_names[MW_DTMF_SRC__MAX] = {
		"rfc4733", "info", "inband"};

const char *mw_dtmf_src_name(int src)
{
	return src >= 0 && src < MW_DTMF_SRC__MAX ? src_names[src] : "?";
}

void mw_dtmf_dedup_init(struct mw_dtmf_dedup *d)
{
	memset(d, 0, sizeof(*d));
}

/* a <= b on the wrapping millisecond clock */
static int ms_le(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) >= 0;
}

int mw_dtmf_dedup(struct mw_dtmf_dedup *d, char digit, int src,
		uint32_t start_ms, uint32_t end_ms)
{
	unsigned i, k;

	if(src < 0 || src >= MW_DTMF_SRC__MAX || !ms_le(start_ms, end_ms))
		return -EINVAL;
	/* oldest first: the Nth report of a source pairs with the Nth press */
	for(i = 0; i < d->len; i++) {
		k = (d->head + i) % MW_DTMF_DEDUP_HIST;
		if(d->h[k].digit != digit || d->h[k].src == src ||
				(d->h[k].matched & (1u << src)))
			continue;
		if(ms_le(start_ms, d->h[k].end_ms + MW_DTMF_DEDUP_SLACK_MS) &&
				ms_le(d->h[k].start_ms, end_ms + MW_DTMF_DEDUP_SLACK_MS)) {
			d->h[k].matched |= (uint8_t)(1u << src);
			d->dups++;
			return 0;
		}
	}
	if(d->len == MW_DTMF_DEDUP_HIST) { /* full: forget the oldest */
		d->head = (d->head + 1) % MW_DTMF_DEDUP_HIST;
		d->len--;
	}
	k = (d->head + d->len) % MW_DTMF_DEDUP_HIST;
	d->h[k].digit = digit;
	d->h[k].src = (uint8_t)src;
	d->h[k].matched = 0;
	d->h[k].start_ms = start_ms;
	d->h[k].end_ms = end_ms;
	d->len++;
	return 1;
}
