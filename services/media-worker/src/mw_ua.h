/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ua.h -- the SIP user agent toward the edge, on the SIP thread: UDP
 * and TCP transports, oSIP2's transaction state machines (IST, NIST,
 * NICT) driven from a libevent timer, request dispatch (new INVITE,
 * in-dialog requests, CANCEL, OPTIONS, refusals), the Call-ID table of
 * calls, capacity and draining. Call logic lives in mw_call.
 *
 * Threading: everything here runs on the SIP thread (thread 0); oSIP is
 * not thread-safe and never leaves it.
 *
 * Ownership: main.c owns the UA (mw_ua_new/mw_ua_free). The UA owns the
 * call table and every call in it (mw_call_free is called by the UA
 * only, from a deferred event, never inside a callback of the call).
 * oSIP owns messages once they are handed to a transaction.
 * Functions return 0 or -errno.
 */
#ifndef MW_UA_H
#define MW_UA_H

#include <stdint.h>
#include <sys/socket.h>

#include <sys/time.h> /* oSIP2 headers need struct timeval, time_t */
#include <time.h>

#include <osip2/osip.h>
#include <osip2/osip_dialog.h>

struct event_base;
struct mw_call;
struct mw_config;
struct mw_record;
struct mw_registry;
struct mw_status;
struct mw_thread;
struct mw_ua;
struct ssl_ctx_st;

#define MW_UA_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"

/* A transport address: where a request came from, where ours go. */
struct mw_peer
{
	int tp;						/* enum mw_transport */
	struct sockaddr_storage ss; /* the far end */
	socklen_t len;
	uint64_t conn; /* TCP connection id (0 = none) */
};

int mw_ua_new(struct mw_thread *threads, unsigned nthreads,
		const struct mw_config *cfg, struct mw_status *st,
		struct mw_registry *reg, struct ssl_ctx_st *ssl, struct mw_ua **out);
/* SIGTERM/SIGINT: refuse new calls (503), wait for calls up to the drain
 * grace, then hang up the rest; calls done(arg) once no call is left
 * and our last BYE transactions have ended (or after a hard bound). */
void mw_ua_drain(struct mw_ua *ua, void (*done)(void *), void *arg);
/* A second signal: ends the grace now (hangs up every call). */
void mw_ua_drain_now(struct mw_ua *ua);
/* The writer of events and call records (NULL: none; tests). */
void mw_ua_set_record(struct mw_ua *ua, struct mw_record *rec);
void mw_ua_free(struct mw_ua *ua);

/* ---- for mw_call (SIP thread) ------------------------------------------ */

const struct mw_config *mw_ua_config(const struct mw_ua *ua);
struct mw_registry *mw_ua_registry(const struct mw_ua *ua);
struct ssl_ctx_st *mw_ua_ssl(const struct mw_ua *ua);
struct event_base *mw_ua_base(const struct mw_ua *ua);
/* The media thread with the fewest calls (its ncalls is incremented;
 * mw_ua_thread_release gives the slot back). */
struct mw_thread *mw_ua_pick_thread(struct mw_ua *ua);
void mw_ua_thread_release(struct mw_ua *ua, struct mw_thread *t);

/* Builds and sends a response on a server transaction: 'hdrs' are extra
 * header lines ("Name: value\r\n"...), 'ctype'/'body' an optional body.
 * 2xx/18x to INVITE get Contact and the Record-Route set. */
int mw_ua_respond(struct mw_ua *ua, osip_transaction_t *tr, int code,
		const char *reason, const char *to_tag, const char *hdrs,
		const char *ctype, const char *body, osip_message_t **sent);

/* Sends a request within the dialog (BYE...) to 'peer' (the edge):
 * Route set, remote target, CSeq from the dialog. 'owner' (the call) is
 * told the outcome through mw_call_on_request_done. */
int mw_ua_request(struct mw_ua *ua, osip_dialog_t *dlg,
		const struct mw_peer *peer, const char *method, const char *hdrs,
		struct mw_call *owner);
/* The same with a body ('ctype' and NUL-terminated 'body'; INFO DTMF). */
int mw_ua_request_body(struct mw_ua *ua, osip_dialog_t *dlg,
		const struct mw_peer *peer, const char *method, const char *hdrs,
		const char *ctype, const char *body, struct mw_call *owner);

/* 2xx retransmissions over UDP until the ACK (oSIP's ixt). */
void mw_ua_retransmit_2xx(struct mw_ua *ua, osip_dialog_t *dlg,
		osip_message_t *resp, const struct mw_peer *peer);
void mw_ua_stop_2xx(struct mw_ua *ua, osip_dialog_t *dlg);

/* Asks the UA to run oSIP's state machines at the end of this loop turn
 * (after a response or request was queued outside an oSIP callback). */
void mw_ua_kick(struct mw_ua *ua);

/* A call has finished on both threads (state ENDED): the UA unlinks and
 * frees it later (deferred). */
void mw_ua_call_done(struct mw_ua *ua, struct mw_call *c);

/* ---- for mw_dial, mw_xfer, mw_cdr (SIP thread) -------------------------- */

struct mw_record *mw_ua_record(const struct mw_ua *ua);
/* How many new calls may start now (> 0), -EBUSY at capacity,
 * -ESHUTDOWN while draining. */
int mw_ua_can_take(const struct mw_ua *ua);
/* Links a call the worker originates into the call table (the UA owns
 * it from now on, as for inbound calls). */
void mw_ua_add_call(struct mw_ua *ua, struct mw_call *c);
/* Our Contact header value for the transport ("<sip:id@ip:port>"). */
const char *mw_ua_contact(const struct mw_ua *ua, int tp);
/* The Via header value of a new request of ours over 'tp' (new branch). */
void mw_ua_via(const struct mw_ua *ua, int tp, char *buf, size_t len);
/* Sends an initial INVITE ('inv', owned by oSIP from now on) on a new
 * client transaction to 'peer'; 'owner' hears the responses through
 * mw_call_on_response. *out is the transaction (owned by oSIP). */
int mw_ua_invite(struct mw_ua *ua, osip_message_t *inv,
		const struct mw_peer *peer, struct mw_call *owner,
		osip_transaction_t **out);
/* CANCELs the INVITE of client transaction 'ict' (RFC 3261 9.1). The
 * CANCEL's own answer goes to mw_call_on_request_done. */
int mw_ua_cancel(struct mw_ua *ua, osip_transaction_t *ict,
		const struct mw_peer *peer, struct mw_call *owner);
/* Builds the ACK for a 2xx in dialog 'dlg' (CSeq 'cseq'), sends it to
 * 'peer' and returns its text in *raw (malloc'ed, *len bytes) for
 * retransmitted 2xx. */
int mw_ua_ack(struct mw_ua *ua, osip_dialog_t *dlg, const struct mw_peer *peer,
		int cseq, char **raw, size_t *len);
/* Sends bytes as they are (an ACK again). */
int mw_ua_send_raw(struct mw_ua *ua, const struct mw_peer *peer,
		const char *data, size_t len);

#endif
