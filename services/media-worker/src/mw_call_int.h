/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_call_int.h -- the call's internal steps shared by the files that
 * extend a call: mw_dial (outbound), mw_xfer (transfer, AI failure
 * policy), mw_cdr (records). Not an API for anything else. The "SIP"
 * functions run on the SIP thread, the "media" ones on the call's media
 * thread, as the halves in mw_call.h.
 */
#ifndef MW_CALL_INT_H
#define MW_CALL_INT_H

#include "mw_call.h"
#include "mw_thread.h"

/* ---- SIP thread ---------------------------------------------------------- */

/* A new call object with Call-ID 'call_id' (not linked; the caller links
 * it with mw_ua_add_call or frees it with mw_call_free). */
int mw__call_alloc(struct mw_ua *ua, const char *call_id, struct mw_call **out);
void mw__call_set_state(struct mw_call *c, enum mw_call_state s);
/* Ends the SIP side (STOP to the media half); the UA frees it later. */
void mw__call_finish(struct mw_call *c, enum mw_call_end end);
/* Re-checks whether both halves are done (after a hold was released). */
void mw__call_maybe_done(struct mw_call *c);
/* BYE now (dialog confirmed), with a Reason header; then finish. */
void mw__call_bye(struct mw_call *c, enum mw_call_end end, const char *text);
/* Hangs up from our side whatever the state (see call_hangup). */
void mw__call_hangup(struct mw_call *c, enum mw_call_end end, const char *text);
/* Final non-2xx to an inbound INVITE, or the end of an outbound call
 * that failed before its INVITE ('reason' goes to the record). */
void mw__call_refuse(struct mw_call *c, int code, const char *reason);
/* Fetches c->setup.agent's record; agent_cb continues (for outbound
 * calls with mw_dial_on_agent). 0 or -errno (no callback then). */
int mw__call_lookup_agent(struct mw_call *c);
/* Picks the media thread and posts SETUP. */
void mw__call_setup_media(struct mw_call *c);
/* Posts START with c->remote (the media clock starts; with defer_ai the
 * AI is connected now). */
void mw__call_start_media(struct mw_call *c);
/* Arms the max_duration timer (BYE when it fires), if any. */
void mw__call_arm_max_duration(struct mw_call *c);
/* 200 OK with our SDP on RTP port 'port' (inbound, not yet answered). */
void mw__call_answer(struct mw_call *c, uint16_t port);
/* Adds a customParameter (first value of a key wins). 0 or -ENOMEM. */
int mw__call_param(struct mw_call_setup *s, const char *k, const char *v);
/* 1 if the far end's SDP is usable: the RTP socket's address family and
 * a codec we take (selected into 'r'). */
int mw__call_remote_ok(const struct mw_call *c, struct mw_sdp_remote *r);
/* Posts fn(c, copy of data) to the call's media thread. */
void mw__call_post_media(
		struct mw_call *c, mw_thread_fn fn, const void *data, size_t len);

/* ---- media thread ----------------------------------------------------- */

/* Asks the SIP half to hang up (once). */
void mw__call_m_hangup(
		struct mw_call *c, enum mw_call_end end, const char *text);
/* Posts fn(c, copy of data) to the SIP thread. */
void mw__call_post_sip(
		struct mw_call *c, mw_thread_fn fn, const void *data, size_t len);

#endif
