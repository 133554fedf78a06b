/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ai.h -- the AI side of one call in either protocol of the agent
 * (br_agent_t.protocol): Twilio Media Streams (μ-law 8 kHz in JSON,
 * mw_twilio) or the L16 wideband mode (16-bit PCM 16 kHz in binary
 * frames, JSON control, mw_l16). The call's events become the protocol's
 * frames, handed to a send callback; the backend's frames become the
 * shared message types with the audio decoded to linear PCM at
 * mw_ai_rate. No I/O of its own.
 *
 * Ownership: embedded in the call's media half and used on its media
 * thread only. The caller's audio path (mw_ai_audio) does not allocate
 * in L16 mode (a frame on the stack) and allocates one JSON text per
 * frame in Twilio mode (mw_twilio_media). Functions return 0 or -errno.
 */
#ifndef MW_AI_H
#define MW_AI_H

#include <stddef.h>
#include <stdint.h>

#include "mw_twilio.h"

/* Sends one frame (text: UTF-8 JSON) to the backend. */
typedef void (*mw_ai_send_fn)(
		void *arg, int is_text, const void *data, size_t len);

struct mw_ai
{
	int proto;					/* enum br_ai_protocol */
	struct mw_twilio_stream tw; /* SIDs (both), Twilio's counters */
	mw_ai_send_fn send;
	void *arg;
	int have_carry; /* L16: the odd byte of the last binary frame */
	uint8_t carry;
	int16_t *pcm; /* the backend's audio, decoded (grown as needed) */
	size_t pcm_cap;
};

/* proto: BR_AI_TWILIO or BR_AI_L16 (others are treated as Twilio). */
void mw_ai_init(struct mw_ai *ai, int proto, mw_ai_send_fn send, void *arg);
void mw_ai_cleanup(struct mw_ai *ai);
/* The audio rate both ways: 8000 (Twilio) or 16000 (L16). */
unsigned mw_ai_rate(const struct mw_ai *ai);
/* The WebSocket subprotocol to offer, or NULL (Twilio offers none). */
const char *mw_ai_subprotocol(const struct mw_ai *ai);

/* The first frames, once the socket is open: "connected" + "start", or
 * the L16 metadata (customParameters: n key/value pairs). */
int mw_ai_hello(struct mw_ai *ai, const char *const *keys,
		const char *const *vals, size_t n);
/* One 20 ms frame of the caller at mw_ai_rate; ts_ms is media time. */
int mw_ai_audio(struct mw_ai *ai, const int16_t *pcm, size_t n, uint64_t ts_ms);
int mw_ai_dtmf(struct mw_ai *ai, char digit, int duration_ms);
/* A mark's echo: played out, or flushed by a clear (L16 tells which). */
int mw_ai_mark(struct mw_ai *ai, const char *name, int cleared);
/* The call ended: Twilio's "stop" (L16 has none: the close says it). */
int mw_ai_bye(struct mw_ai *ai);
/* Our extension: how a transfer the backend asked for went; status
 * "accepted", "completed" or "failed", code the SIP status behind it (0:
 * none). Twilio: {"event":"transfer_status",...,"transfer":{"target",
 * "status","code"}}; L16: {"type":"transfer_status","data":{...}}. */
int mw_ai_transfer_status(
		struct mw_ai *ai, const char *target, const char *status, int code);

/* One frame from the backend. For MW_TW_MEDIA, pcm/samples hold the
 * audio at mw_ai_rate (in the ai's buffer, valid until the next
 * mw_ai_receive); the other fields as in struct mw_twilio_in. */
struct mw_ai_in
{
	struct mw_twilio_in m;
	const int16_t *pcm;
	size_t samples;
};

/* Binary frames are audio in L16 mode (any length; an odd byte waits
 * for the next frame) and IGNORED in Twilio mode; text frames are parsed
 * by the agent's protocol. -ENOMEM leaves in->m.type INVALID. */
void mw_ai_receive(struct mw_ai *ai, int is_text, const uint8_t *data,
		size_t len, struct mw_ai_in *in);
void mw_ai_in_free(struct mw_ai_in *in);

#endif
