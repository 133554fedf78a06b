/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_xfer.h -- what happens to a call beyond the AI's conversation:
 *
 * Blind transfer (RFC 3515 REFER, RFC 5589): asked for by the AI
 * backend ({"event":"transfer"}) or by the agent's failure policy. The
 * worker sends REFER toward the far end (through the edge, in the
 * dialog) with Refer-To the target (an E.164 number becomes
 * sip:<number>@<host of the far end's URI>; the backend's "X-" context
 * headers go in the REFER and, escaped, as headers of the Refer-To URI so
 * the transferee copies them into its new INVITE), follows the implicit
 * subscription's NOTIFYs (message/sipfrag) and reports to the backend
 * ({"event":"transfer_status"}: accepted, completed, failed). A
 * completed transfer ends our leg with BYE (end cause "transferred"); a
 * failed one leaves the call with the AI (or, under the failure policy,
 * hangs up). One transfer at a time; the whole transfer is bounded.
 *
 * AI failure policy (agent failure_policy / failure_target), applied
 * when the AI's WebSocket fails to open or drops (closed with a code
 * other than 1000, or the connection lost): "hangup" (503 before the
 * answer, BYE after), "message" (answer if needed, play the WAV file
 * failure_target from the worker's disk, then BYE), "transfer" (answer
 * if needed, then REFER to failure_target).
 *
 * Threading: the SIP-thread functions and the media-thread ones are
 * marked; the transfer state (struct mw_xfer) is owned by the call and
 * lives on the SIP thread.
 */
#ifndef MW_XFER_H
#define MW_XFER_H

#include <stdint.h>

#include <sys/time.h> /* oSIP2 headers need struct timeval, time_t */
#include <time.h>

#include <osip2/osip.h>

struct mw_call;
struct mw_xfer;

enum mw_xfer_state
{
	MW_XFER_REFERRING = 0, /* REFER sent */
	MW_XFER_ACCEPTED,	   /* 202: waiting for the final NOTIFY */
	MW_XFER_DONE,		   /* completed or failed */
	MW_XFER__MAX
};
const char *mw_xfer_state_name(int s);

#define MW_XFER_REFER_S 32	/* REFER answered (NICT's own bound) */
#define MW_XFER_NOTIFY_S 60 /* final NOTIFY after the 202 */

/* ---- SIP thread ---------------------------------------------------------- */

/* REFER to 'target' (E.164 or sip:/sips: URI) with context header lines
 * 'hdrs' ("X-Name: value\r\n"..., or NULL). Returns 0 or -EAGAIN (the
 * call is not confirmed), -EBUSY (a transfer is under way), -ENOMEM;
 * a refusal is reported to the backend as "failed". */
int mw_xfer_start(struct mw_call *c, const char *target, const char *hdrs,
		int from_policy);
/* Our REFER's final answer (code 408 on timeout). */
void mw_xfer_on_refer_done(struct mw_call *c, int code);
/* Our REFER's transaction ended without a final answer. */
void mw_xfer_on_refer_gone(struct mw_call *c);
/* A NOTIFY in the call's dialog (responds on 'tr'). */
void mw_xfer_on_notify(
		struct mw_call *c, osip_transaction_t *tr, osip_message_t *req);
void mw_xfer_free(struct mw_xfer *x);

/* The AI failed to connect ('port': the RTP port bound, for an answer
 * not sent yet) or dropped ('port' 0). Applies the agent's policy:
 * returns 1 when the policy keeps the call going (message, transfer),
 * 0 when the call is to be hung up as before (policy hangup, or the
 * policy cannot run). */
int mw_policy_ai_failed(struct mw_call *c, const char *why, uint16_t port);
/* The ACK of a 200 sent for the policy arrived: the transfer starts. */
void mw_policy_on_confirmed(struct mw_call *c);

/* ---- media thread --------------------------------------------------------- */

/* The backend asked for a transfer (strings copied). */
void mw_xfer_m_request(struct mw_call *c, const char *target, const char *hdrs);
/* on_mark hook: 1 when 'name' is the end of the fallback message (the
 * call is hung up), 0 for the backend's marks. */
int mw_policy_m_mark(struct mw_call *c, const char *name);

#endif
