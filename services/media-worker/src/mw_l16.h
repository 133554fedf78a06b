/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_l16.h -- the native wideband AI protocol (docs/ai-protocol.md, "L16
 * wideband mode"): the caller's audio as binary WebSocket frames of
 * 16-bit little-endian PCM at 16 kHz, control as JSON text frames, after
 * jambonz's listen verb / mod_audio_fork (subprotocol audio.jambonz.org,
 * a metadata frame first, "killAudio", "mark" echoed with "playout" or
 * "cleared", "disconnect"); Vonage's and Exotel's streams are the same
 * family. Selected per agent (protocol=l16). Pure (jansson, no I/O) like
 * mw_twilio, whose message types and validators it shares.
 */
#ifndef MW_L16_H
#define MW_L16_H

#include <stddef.h>
#include <stdint.h>

#include "mw_twilio.h"

#define MW_L16_RATE 16000
#define MW_L16_FRAME_BYTES 640 /* 20 ms */
#define MW_L16_SUBPROTOCOL "audio.jambonz.org"

/* The first text frame: sampleRate, mixType, encoding, the call's SIDs
 * (from 'ids'), direction/from/to/callId/callerName taken from the
 * customParameters (keys direction, from, to, call_id, caller), and
 * every parameter under "customParameters". Writes malloc'ed JSON into
 * *out; returns its length or -errno (-EINVAL for a bad key). */
int mw_l16_metadata(const struct mw_twilio_stream *ids, const char *const *keys,
		const char *const *vals, size_t n, char **out);
/* {"event":"dtmf","dtmf":"5","duration":"100"} (jambonz's shape) */
int mw_l16_dtmf(char digit, int duration_ms, char **out);
/* {"type":"mark","data":{"name":N,"event":"playout"|"cleared"}} */
int mw_l16_mark(const char *name, int cleared, char **out);

/* Parses one text frame from the backend into the shared message types:
 * {"type":"mark","data":{"name":N}} MARK ("" without a name),
 * {"type":"killAudio"} CLEAR, {"type":"disconnect"} HANGUP (reason from
 * data.reason, else ""), {"type":"transfer","data":{"target":T}}
 * TRANSFER, {"type":"dtmf","data":{"digits":D}} SEND_DTMF; other types
 * IGNORED; not JSON, no "type" string or bad values INVALID. MEDIA never
 * comes from text here (audio is binary). Release with
 * mw_twilio_in_free. */
void mw_l16_parse(const char *json, size_t len, struct mw_twilio_in *in);

/* Little-endian conversion of n samples (2n bytes). */
void mw_l16_encode(const int16_t *pcm, size_t n, uint8_t *out);
void mw_l16_decode(const uint8_t *in, size_t n, int16_t *pcm);

#endif
