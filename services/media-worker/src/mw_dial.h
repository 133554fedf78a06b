/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_dial.h -- outbound calls: the worker as the user agent client of a
 * call toward a carrier, through the edge (docs/call-flows.md). A dial
 * request (an outbound job) becomes a call in the UA's table: agent
 * record lookup, RTP bound on a media thread, then an INVITE with our
 * offer, X-Byoc-Agent and X-Byoc-Secret to BYOC_WORKER_EDGE, where
 * byoc_route picks the trunk, fails over and answers digest challenges.
 * The worker sees one call whatever the edge did.
 *
 * Responses: 1xx (ringing recorded; a CANCEL waiting for one goes out),
 * 2xx (dialog, ACK, media started, then the AI connected: the AI never
 * hears ringing), 3xx-6xx (outcome busy / no_answer / failed; oSIP ACKs
 * them). The ring timeout CANCELs (no_answer), so does the drain
 * (canceled); a 2xx that crosses our CANCEL is ACKed and hung up at
 * once. Once answered the call is like an inbound one (BYE either way,
 * max_duration, transfer, AI failure policy).
 *
 * Threading/ownership: SIP thread. The call owns its struct mw_dial
 * (freed by mw_call_free through mw_dial_free). The callback is called
 * on the SIP thread, never from inside mw_dial_start: OUTCOME exactly
 * once (at the 2xx, or when the call ends unanswered), then ENDED
 * exactly once after the call's record was queued; the call pointer is
 * valid only during the callback.
 */
#ifndef MW_DIAL_H
#define MW_DIAL_H

#include <stddef.h>

#include <sys/time.h> /* oSIP2 headers need struct timeval, time_t */
#include <time.h>

#include <osip2/osip.h>

#include "br_model.h"

struct mw_call;
struct mw_dial;
struct mw_thread;
struct mw_ua;

enum mw_dial_state
{
	MW_DIAL_LOOKUP = 0, /* agent record being fetched */
	MW_DIAL_BINDING,	/* media thread binding RTP */
	MW_DIAL_INVITING,	/* INVITE sent */
	MW_DIAL_RINGING,	/* 180/183 received */
	MW_DIAL_CANCELLING, /* CANCEL sent or waiting for a provisional */
	MW_DIAL_ANSWERED,	/* 2xx received and ACKed */
	MW_DIAL_DONE,		/* final non-2xx, timeout, or given up */
	MW_DIAL__MAX
};
const char *mw_dial_state_name(int s);

enum mw_dial_event
{
	MW_DIAL_EV_OUTCOME = 0, /* c->cdr.outcome, sip_code, reason are set */
	MW_DIAL_EV_ENDED		/* the call is over, its record queued */
};

typedef void (*mw_dial_cb)(void *arg, enum mw_dial_event ev, struct mw_call *c);

#define MW_DIAL_ID_MAX 64
#define MW_DIAL_PARAMS_MAX 4096

struct mw_dial_req
{
	char call_id[MW_DIAL_ID_MAX]; /* "" = generated (32 hex, no host) */
	char job[MW_DIAL_ID_MAX];	  /* outbound job id, "" */
	char agent[BR_ID_MAX + 1];
	char to[BR_E164_MAX + 1];	/* destination, E.164 */
	char from[BR_E164_MAX + 1]; /* caller ID, E.164 or "" (anonymous) */
	const char *params;			/* JSON object of strings for customParameters,
						   or NULL (copied) */
	unsigned ring_timeout_s;	/* 0 = BYOC_WORKER_RING_TIMEOUT */
	unsigned max_duration_s;	/* 0 = the agent's (the lower one wins) */
};

/* 0 when the request is well formed, else -EINVAL with 'err' (pure). */
int mw_dial_req_check(const struct mw_dial_req *r, char *err, size_t errlen);

/* Starts the call. Returns 0 (the callback follows), -EDESTADDRREQ (no
 * BYOC_WORKER_EDGE), -EBUSY (at capacity), -ESHUTDOWN (draining),
 * -EINVAL (request malformed), -ENOTCONN (Redis unavailable for the
 * agent lookup) or -ENOMEM; no callback then. */
int mw_dial_start(struct mw_ua *ua, const struct mw_dial_req *req,
		mw_dial_cb cb, void *arg);

/* ---- for mw_call and mw_ua (SIP thread) ------------------------------- */

/* A response to our INVITE ('tr' its transaction, or NULL for a 2xx
 * retransmitted after it ended; 'resp' NULL: timeout). 'again': a 2xx
 * seen before (ACK again). */
void mw_dial_on_response(struct mw_call *c, osip_transaction_t *tr,
		osip_message_t *resp, int again);
/* The agent record is valid (agent_cb's checks passed). */
void mw_dial_on_agent(struct mw_call *c, const br_agent_t *a);
/* The media thread bound RTP (message from m_on_setup: data = port). */
void mw_dial_on_bound(struct mw_thread *t, void *obj, void *data, size_t len);
/* The media thread could not bind RTP (before the INVITE). */
void mw_dial_on_media_failed(struct mw_call *c, const char *why);
/* 1 while our INVITE transaction has no final answer (the call waits). */
int mw_dial_holding(const struct mw_call *c);
/* A transaction of the call ended (the INVITE's: transport error). */
void mw_dial_on_transaction_gone(struct mw_call *c, osip_transaction_t *tr);
/* Drain grace over: gives the attempt up (CANCEL) if not answered.
 * Returns 1 when handled, 0 when the call is answered (BYE as usual). */
int mw_dial_shutdown(struct mw_call *c);
/* The call is ENDED and its record queued: OUTCOME (if not yet told)
 * and ENDED to the owner. */
void mw_dial_ended(struct mw_call *c);
void mw_dial_free(struct mw_dial *d);

#endif
