/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_twilio.h -- the Twilio Media Streams bidirectional protocol
 * (docs/ai-protocol.md): the messages the worker sends to an AI backend
 * and the parsing of what the backend sends back. Pure (jansson, no I/O),
 * so it is unit-tested and shared by the worker and the reference agent.
 */
#ifndef MW_TWILIO_H
#define MW_TWILIO_H

#include <stddef.h>
#include <stdint.h>

/* Transfer context headers: how many, name and value lengths; as
 * "Name: value\r\n" lines they take at most MW_TW_XHDRS_TEXT_MAX bytes. */
#define MW_TW_MAX_XHDRS 8
#define MW_TW_MAX_XHDR_NAME 64
#define MW_TW_MAX_XHDR_VALUE 256
#define MW_TW_XHDRS_TEXT_MAX \
	(MW_TW_MAX_XHDRS * (MW_TW_MAX_XHDR_NAME + MW_TW_MAX_XHDR_VALUE + 4))

/* One stream's identity and counters (the sender side). */
struct mw_twilio_stream
{
	char account_sid[35]; /* AC + 32 hex */
	char call_sid[35];	  /* CA + 32 hex */
	char stream_sid[35];  /* MZ + 32 hex */
	uint64_t seq;		  /* last sequenceNumber sent ("start" = 1) */
	uint64_t chunk;		  /* last media chunk sent (first = 1) */
};

/* Fills fresh random SIDs and zero counters. */
void mw_twilio_stream_init(struct mw_twilio_stream *s);

/* Encoders write a NUL-terminated JSON text into a malloc'ed buffer
 * (*out, caller frees) and return its length or -errno. */
int mw_twilio_connected(char **out);
/* params: n key/value pairs for customParameters (strings; a repeated key:
 * the last value wins; invalid UTF-8 in a value is replaced by U+FFFD;
 * NULL or empty keys give -EINVAL). */
int mw_twilio_start(struct mw_twilio_stream *s, const char *const *keys,
		const char *const *vals, size_t n, char **out);
/* 'ulaw' is μ-law audio (160 bytes per 20 ms); ts_ms is media time. */
int mw_twilio_media(struct mw_twilio_stream *s, const uint8_t *ulaw, size_t len,
		uint64_t ts_ms, char **out);
int mw_twilio_dtmf(struct mw_twilio_stream *s, char digit, char **out);
int mw_twilio_mark(struct mw_twilio_stream *s, const char *name, char **out);
int mw_twilio_stop(struct mw_twilio_stream *s, char **out);
/* Our extension: how a transfer the backend asked for went.
 * {"event":"transfer_status","sequenceNumber":..,"streamSid":..,
 *  "transfer":{"target":T,"status":S,"code":N}} with S "accepted",
 * "completed" or "failed"; code is the SIP status behind it (0: none). */
int mw_twilio_transfer_status(struct mw_twilio_stream *s, const char *target,
		const char *status, int code, char **out);

/* What a backend may send. HANGUP, TRANSFER and SEND_DTMF are this
 * project's documented extensions (docs/ai-protocol.md). */
enum mw_twilio_in_type
{
	MW_TW_MEDIA,
	MW_TW_MARK,
	MW_TW_CLEAR,
	MW_TW_HANGUP,
	MW_TW_TRANSFER,
	MW_TW_SEND_DTMF,
	MW_TW_IGNORED, /* unknown event: tolerated, counted */
	MW_TW_INVALID  /* not JSON / wrong types: tolerated, counted */
};

struct mw_twilio_in
{
	enum mw_twilio_in_type type;
	/* MEDIA: decoded μ-law (malloc'ed; NULL for an empty payload) */
	uint8_t *audio;
	size_t audio_len;
	/* malloc'ed text: MARK: name ("" when absent); HANGUP: reason ("" when
	 * absent); TRANSFER: target; SEND_DTMF: digits; else NULL */
	char *name;
	/* TRANSFER: the "headers" object as SIP header lines
	 * ("X-Name: value\r\n"...), malloc'ed, or NULL */
	char *headers;
};

/* Parses one text frame. Never fails hard: bad input gives
 * MW_TW_INVALID (not JSON, no "event" string, media without a strict
 * base64 payload, transfer target not +E.164 / sip: / sips:, transfer
 * headers not up to 8 "X-" names ([A-Za-z0-9-], <= 64) with printable
 * values (<= 256, no CR/LF), dtmf digits not 1-64 of 0-9*#A-D, over
 * 16 MiB). A mark without a name gives "",
 * a hangup without reason "". Release with mw_twilio_in_free. */
void mw_twilio_parse(const char *json, size_t len, struct mw_twilio_in *in);
void mw_twilio_in_free(struct mw_twilio_in *in);

/* Shared with mw_l16 (the other protocol's messages carry the same
 * parameters and commands). */
struct json_t;
/* customParameters as a JSON object (values' invalid UTF-8 repaired), or
 * NULL (bad key, out of memory). */
struct json_t *mw__twilio_params(
		const char *const *keys, const char *const *vals, size_t n);
/* 1 for an E.164 or sip:/sips: transfer target; 1 for 1-64 DTMF digits */
int mw__twilio_target_valid(const char *t);
int mw__twilio_digits_valid(const char *d);
/* A transfer's "headers" object as SIP header lines into *out (malloc'ed;
 * NULL when absent or empty). 0, or -1 when it breaks the rules above
 * (mw_twilio_parse). */
int mw__twilio_xheaders(struct json_t *o, char **out);

#endif
