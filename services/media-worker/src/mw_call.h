/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_call.h -- one call: the SIP dialog with the edge (SIP thread) and
 * the media + AI bridge (its media thread): RTP through mw_media, the AI
 * backend through mw_ws speaking the agent's protocol (mw_ai: Twilio
 * Media Streams or L16 wideband).
 *
 * Threads and ownership. The UA owns the struct mw_call (allocated by
 * mw_call_new, freed by mw_call_free from the UA's deferred reaper). Its
 * fields are split in two halves: 'SIP' fields are touched only on the
 * SIP thread, 'media' fields only on the call's media thread. The 'setup'
 * block is written by the SIP thread before the SETUP message is posted
 * and only read afterwards. The halves talk through mw_thread_post:
 *
 *   SIP -> media: SETUP (bind RTP, connect the AI), START (200 sent: start
 *                 the clock), REMOTE (new far-end SDP, hold), DTMF (INFO),
 *                 STOP (tear down; 'stop' + close 1000 toward the AI)
 *   media -> SIP: READY (AI connected, 'connected'+'start' sent: answer),
 *                 FAILED (no RTP port / AI unreachable: 503), HANGUP
 *                 (AI hangup, AI closed, RTP timeout: BYE), INFO (AI
 *                 digits to send as SIP INFO), DONE (media half released:
 *                 the call may be freed)
 *
 * DTMF. The trunk's mode comes from the edge (X-Byoc-Dtmf: rfc2833, info,
 * inband). Toward the AI: RFC 4733 events and SIP INFO are always taken,
 * in-band tones are detected when the mode is inband; a press reported
 * two ways reaches the AI once (mw_dtmf_dedup). From the AI: RFC 4733
 * (in-band when no telephone-event was negotiated), SIP INFO
 * (application/dtmf-relay, one at a time) or in-band tones, per mode.
 *
 * Objects are never freed inside their own callbacks: the WebSocket and
 * the media session are released from a deferred event on the media
 * thread, the call from the UA's reaper on the SIP thread.
 */
#ifndef MW_CALL_H
#define MW_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <sys/time.h> /* oSIP2 headers need struct timeval, time_t */
#include <time.h>

#include <osip2/osip.h>
#include <osip2/osip_dialog.h>

#include "br_model.h"
#include "mw_ai.h"
#include "mw_dtmf.h"
#include "mw_cdr.h"
#include "mw_media.h"
#include "mw_sdp.h"
#include "mw_twilio.h"
#include "mw_ua.h"

struct event;
struct mw_dial;
struct mw_thread;
struct mw_ws;
struct mw_xfer;

enum mw_call_state
{
	MW_CALL_NEW = 0,	/* INVITE taken, 100 sent, agent lookup */
	MW_CALL_CONNECTING, /* 180 sent; media thread binds RTP, connects AI */
	MW_CALL_ANSWERED,	/* 200 sent, waiting for the ACK */
	MW_CALL_CONFIRMED,	/* ACK received */
	MW_CALL_ENDING,		/* refused, cancelled or BYE: halves winding down */
	MW_CALL_ENDED,		/* both halves done: the UA frees it */
	MW_CALL__MAX
};
const char *mw_call_state_name(int s);

enum mw_call_mstate
{
	MW_CM_IDLE = 0,	  /* nothing on the media thread yet */
	MW_CM_CONNECTING, /* RTP bound, WebSocket connecting */
	MW_CM_READY,	  /* WebSocket open, start sent, waiting for START */
	MW_CM_RUNNING,	  /* media clock running, bridge active */
	MW_CM_CLOSING,	  /* STOP received or socket gone: releasing */
	MW_CM_DONE,		  /* released, DONE posted */
	MW_CM__MAX
};
const char *mw_call_mstate_name(int s);

/* Why a call ends (metrics, logs, Reason header). */
enum mw_call_end
{
	MW_END_NONE = 0,
	MW_END_CALLER_BYE,
	MW_END_AI_HANGUP,
	MW_END_AI_CLOSED,
	MW_END_RTP_TIMEOUT,
	MW_END_ACK_TIMEOUT,
	MW_END_MAX_DURATION,
	MW_END_SHUTDOWN,
	MW_END_CANCELLED,
	MW_END_REFUSED,
	MW_END_TRANSFERRED, /* blind transfer completed (NOTIFY 2xx) */
	MW_END_AI_FAILED,	/* AI failed; the failure policy ended the call */
	MW_END__MAX
};

#define MW_CALL_MAX_PARAMS 64
#define MW_CALL_INFO_Q 32 /* AI digits waiting to go out as SIP INFO */

struct mw_call_setup
{
	char ws_url[BR_URL_MAX + 1];
	char *ws_headers; /* "Name: value\r\n" (auth) or NULL; wiped */
	size_t nparams;	  /* customParameters */
	char *keys[MW_CALL_MAX_PARAMS];
	char *vals[MW_CALL_MAX_PARAMS];
	char agent[BR_ID_MAX + 1];
	int dtmf_mode; /* enum br_dtmf, from X-Byoc-Dtmf */
	int ai_proto;  /* enum br_ai_protocol of the agent */
	int defer_ai;  /* outbound: bind RTP first (BOUND), connect the AI
					 with START once the callee answered */
};

/* Media-thread half. */
struct mw_call_media
{
	enum mw_call_mstate state;
	struct mw_media *media;
	uint16_t port;
	struct mw_ws *ws;
	int ws_open;				  /* on_open seen, on_close not yet */
	int ws_closed;				  /* on_close seen: never touch ws again */
	int stop_rx;				  /* STOP received from the SIP thread */
	int start_sent;				  /* 'start' went out: 'stop' is owed */
	int hangup_posted;			  /* HANGUP/FAILED already posted */
	int64_t ws_t0_us;			  /* connect start (latency histogram) */
	struct mw_ai ai;			  /* the AI protocol (Twilio or L16) */
	int clearing;				  /* inside mw_media_clear: marks are flushed */
	struct mw_media_stats folded; /* stats already added to metrics */
	struct mw_dtmf_dedup dd;	  /* key presses reported so far */
	struct event *reap;			  /* deferred release (outside callbacks) */
	struct event *guard; /* closing guard: release even if no on_close */
	struct mw_call *tprev, *tnext; /* the media thread's call list */
	struct mw_cdr_media cdr;	   /* record data (read after DONE) */
	int policy_msg;				   /* playing the fallback message */
};

struct mw_call
{
	/* ---- SIP thread --------------------------------------------------- */
	struct mw_ua *ua;
	struct mw_call *hnext;		 /* Call-ID hash chain (UA) */
	struct mw_call *prev, *next; /* all calls (UA) */
	enum mw_call_state state;
	enum mw_call_end end;
	uint64_t serial; /* short id for logs */
	char *call_id;	 /* SIP Call-ID */
	char from_tag[64];
	uint32_t invite_cseq; /* CSeq of the initial INVITE */
	char local_tag[17];
	struct mw_peer peer;		  /* the edge */
	osip_transaction_t *ist;	  /* initial INVITE while pending */
	osip_transaction_t *reinvite; /* a re-INVITE while pending */
	osip_dialog_t *dlg;			  /* from the 180 on */
	struct mw_sdp_local lsdp;	  /* our session description */
	struct mw_sdp_remote remote;  /* the far end's (when have_remote) */
	int have_remote;
	int late_offer;	   /* our offer went in a 2xx; answer in ACK */
	int redis_pending; /* agent lookup in flight */
	int media_posted;  /* SETUP posted: wait for DONE */
	int media_done;	   /* DONE received */
	int bye_sent;
	int bye_after_ack; /* hang up once the ACK arrives */
	enum mw_call_end bye_end;
	unsigned max_duration; /* s, from the agent (0 none) */
	struct event *timer;   /* ACK wait, max duration */
	struct event *reaper;  /* UA: deferred free */
	int64_t t_invite_ms, t_answer_ms;
	struct mw_thread *st;		 /* SIP thread */
	struct mw_thread *mt;		 /* media thread */
	int stop_posted;			 /* STOP sent to the media thread */
	char info_q[MW_CALL_INFO_Q]; /* AI digits for SIP INFO, FIFO */
	unsigned info_head, info_len;
	int info_busy; /* an INFO of ours waits for its final response */
	struct mw_call_setup setup;
	/* outbound calls, transfers, AI failure policy, record */
	int outbound;		  /* we sent the INVITE (mw_dial) */
	struct mw_dial *dial; /* outbound state, owned (mw_dial_free) */
	struct mw_xfer *xfer; /* transfer in progress, owned */
	uint8_t fail_policy;  /* enum br_fail_policy of the agent */
	char fail_target[BR_URL_MAX + 1];
	int ai_failed;		   /* the AI is gone; the policy runs the call */
	int policy_on_confirm; /* answered for the policy: act once ACKed */
	struct mw_cdr cdr;
	/* ---- media thread ------------------------------------------------- */
	struct mw_call_media m;
};

/* New INVITE (no To-tag) on server transaction 'ist', already checked by
 * the UA (capacity, draining, UAS checks), 100 Trying sent. Starts the
 * agent lookup. On error the UA answers 500. */
int mw_call_new(struct mw_ua *ua, osip_transaction_t *ist,
		osip_message_t *invite, const struct mw_peer *peer,
		struct mw_call **out);
/* 1 if the in-dialog request belongs to this call. */
int mw_call_match(struct mw_call *c, osip_message_t *req);
/* ACK for a 2xx (ours). 'ack' stays owned by the caller. */
void mw_call_on_ack(struct mw_call *c, osip_message_t *ack);
/* CANCEL matched our pending INVITE (the UA answered the CANCEL 200). */
void mw_call_on_cancel(struct mw_call *c);
/* In-dialog request on server transaction 'tr' (BYE, re-INVITE,
 * UPDATE, INFO, OPTIONS). The call responds. */
void mw_call_on_request(
		struct mw_call *c, osip_transaction_t *tr, osip_message_t *req);
/* Our request (BYE) ended: final status, or 408 on timeout. */
void mw_call_on_request_done(
		struct mw_call *c, osip_transaction_t *tr, int code);
/* A transaction of the call is going away. */
void mw_call_on_transaction_gone(struct mw_call *c, osip_transaction_t *tr);
/* Drain grace expired: hang up (BYE) or refuse (503) now. */
void mw_call_shutdown(struct mw_call *c);
/* The process exits with this call still ending (its CANCEL or BYE
 * unanswered): its final record and job outcome are written now. */
void mw_call_record_at_exit(struct mw_call *c);
/* Frees the call (UA reaper only; both halves done). */
void mw_call_free(struct mw_call *c);

/* Media thread upkeep, every second: folds the RTP statistics of the
 * thread's calls into its metrics (set as the thread's on_tick). */
void mw_call_media_tick(struct mw_thread *t);

/* The customParameters of a call (pure; for tests): fixed keys from the
 * INVITE, every X- header as "x-<lowercase name>", then the agent's
 * params JSON (keys already present are kept). Fills setup->keys/vals
 * (malloc'ed). Returns 0 or -ENOMEM. */
int mw_call_params(struct mw_call_setup *s, osip_message_t *invite,
		const char *agent_params);
void mw_call_setup_clear(struct mw_call_setup *s);

/* Parses a SIP INFO DTMF body (application/dtmf-relay "Signal=5\r\n
 * Duration=160", or application/dtmf "5"). Returns the digit (0-9 * # A-D)
 * and *duration_ms, or -EINVAL. */
int mw_call_info_dtmf(
		const char *ctype, const char *body, size_t len, int *duration_ms);

#endif
