/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_cdr.h -- what the worker reports about every call: lifecycle events
 * on byoc:v1:events (call.invite, call.ringing, call.answered,
 * call.ai_connected, call.ai_failed, call.transfer, call.ended) and one
 * final record on byoc:v1:records when the call is over (both halves
 * done), whatever ended it: caller, callee, AI, timeouts, refusals,
 * failure policies, drain. Field reference: docs/redis-schema.md.
 *
 * Threading: struct mw_cdr lives in the call and is written on the SIP
 * thread; struct mw_cdr_media is written by the call's media thread and
 * read by the SIP thread only after the media half posted DONE (the
 * thread queue orders the two). Entries are queued with mw_record, which
 * owns delivery.
 */
#ifndef MW_CDR_H
#define MW_CDR_H

#include <stdint.h>

#include <sys/time.h> /* oSIP2 headers need struct timeval, time_t */
#include <time.h>

#include <osipparser2/osip_message.h>

#include "br_model.h"

struct mw_call;

struct mw_cdr
{
	char trunk[BR_ID_MAX + 1];
	char did[32];
	char tenant[BR_ID_MAX + 1];
	char from[128]; /* From user (caller ID) */
	char to[128];	/* To user (dialled number) */
	char job[64];	/* outbound job id, "" */
	int64_t invite_at, ring_at, answer_at, end_at; /* unix ms, 0 = never */
	int sip_code;		 /* final response to the initial INVITE */
	char reason[64];	 /* its reason phrase or why we refused */
	const char *outcome; /* outbound: set by mw_dial ("answered"...) */
	const char *policy;	 /* AI failure policy applied, or NULL */
	char xfer_target[BR_URL_MAX + 1];
	const char *xfer_result; /* NULL, "accepted", "completed", "failed" */
	int xfer_code;
	int written; /* final record queued */
};

struct mw_cdr_media
{
	int64_t ai_t0_us;		   /* WebSocket connect started */
	int64_t ai_open_us;		   /* open (start sent), 0 = never */
	int64_t ai_first_audio_us; /* first AI media message, 0 = never */
	unsigned dtmf_rx, dtmf_tx; /* digits from the caller / from the AI */
	uint32_t jitter_max_ms;	   /* highest RFC 3550 jitter seen */
	int ai_close_code;		   /* WebSocket close code, 0 = none */
};

/* Wall clock in ms (records carry unix times). */
int64_t mw_cdr_now(void);

/* An inbound INVITE taken: fills the identity from its X-Byoc-* headers,
 * From and To, and emits call.invite. */
void mw_cdr_inbound(struct mw_call *c, osip_message_t *invite);

/* Emits one event for the call: "call.<name>" plus up to two extra
 * field/value pairs (NULL to omit). */
void mw_cdr_event(struct mw_call *c, const char *name, const char *k1,
		const char *v1, const char *k2, const char *v2);

/* The call is over (ENDED): emits call.ended and queues the final
 * record (once). */
void mw_cdr_final(struct mw_call *c);

/* The record's outcome of an inbound call, its "hangup_by" and
 * "end_cause" (pure; for tests). */
const char *mw_cdr_outcome(const struct mw_call *c);
const char *mw_cdr_hangup_by(const struct mw_call *c);
const char *mw_cdr_end_cause(int end);

#endif
