/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_xfer.c -- blind transfer by REFER with NOTIFY progress, and the
 * agents' AI failure policy (see mw_xfer.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "mw_call_int.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_g711.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_sip.h"
#include "mw_twilio.h"
#include "mw_ai.h"
#include "mw_ua.h"
#include "mw_wav.h"
#include "mw_xfer.h"

/* The mark queued after the fallback message: a name no backend sends
 * (the backend is gone anyway when it is used). */
#define POLICY_MARK "\001byoc-fallback-message"
#define XHDRS_MAX (MW_TW_XHDRS_TEXT_MAX + 1) /* the backend's context lines */
#define REFER_TO_MAX 480 /* fits mw_ua's header line buffer */

struct mw_xfer
{
	enum mw_xfer_state state;
	char target[BR_URL_MAX + 1];
	int from_policy;	 /* the AI is gone: failure means hang up */
	struct event *timer; /* REFER answer, then final NOTIFY */
	struct mw_call *c;
};

static const char *const state_names[MW_XFER__MAX] = {
		"referring", "accepted", "done"};

const char *mw_xfer_state_name(int s)
{
	return s >= 0 && s < MW_XFER__MAX ? state_names[s] : "?";
}

static void xfer_set_state(struct mw_xfer *x, enum mw_xfer_state s)
{
	if(x->state == s)
		return;
	MW_DBG("call %llu transfer: %s -> %s", (unsigned long long)x->c->serial,
			mw_xfer_state_name(x->state), mw_xfer_state_name(s));
	x->state = s;
}

/* ---- reporting to the backend (media thread) ------------------------------ */

struct msg_status
{
	char target[BR_URL_MAX + 1];
	char status[16];
	int code;
};

static void m_status(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_status *m = data;

	if(c->m.stop_rx || !c->m.start_sent || !c->m.ws_open || c->m.ws_closed)
		return;
	mw_ai_transfer_status(&c->m.ai, m->target, m->status, m->code);
}

static void report(
		struct mw_call *c, const char *target, const char *status, int code)
{
	struct msg_status m;
	char num[8];

	memset(&m, 0, sizeof(m));
	snprintf(m.target, sizeof(m.target), "%s", target);
	snprintf(m.status, sizeof(m.status), "%s", status);
	m.code = code;
	MW_INFO("call %llu %s: transfer to %s %s (%d)",
			(unsigned long long)c->serial, c->call_id, target, status, code);
	c->cdr.xfer_result = strcmp(status, "accepted") == 0	? "accepted"
						 : strcmp(status, "completed") == 0 ? "completed"
															: "failed";
	c->cdr.xfer_code = code;
	snprintf(num, sizeof(num), "%d", code);
	mw_cdr_event(c, "transfer", "status", c->cdr.xfer_result, "code", num);
	if(!c->ai_failed)
		mw__call_post_media(c, m_status, &m, sizeof(m));
}

/* ---- transfer (SIP thread) ------------------------------------------------- */

static void finish(struct mw_call *c, int ok, int code)
{
	struct mw_xfer *x = c->xfer;

	event_del(x->timer);
	if(ok && x->state == MW_XFER_REFERRING)
		/* the final NOTIFY overtook the 202: the REFER was accepted */
		report(c, x->target, "accepted", 202);
	xfer_set_state(x, MW_XFER_DONE);
	report(c, x->target, ok ? "completed" : "failed", code);
	MW_COUNT(ok ? MW_C_XFER_COMPLETED : MW_C_XFER_FAILED);
	if(ok)
		/* RFC 5589: the transferor leaves once the transfer worked */
		mw__call_hangup(c, MW_END_TRANSFERRED, "call transferred");
	else if(x->from_policy)
		mw__call_hangup(c, MW_END_AI_FAILED, "fallback transfer failed");
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;
	struct mw_xfer *x = c->xfer;

	if(!x || x->state == MW_XFER_DONE)
		return;
	mw_log_ctx(c->call_id);
	MW_WARN("call %llu: transfer to %s: no outcome in time",
			(unsigned long long)c->serial, x->target);
	finish(c, 0, 408);
	mw_log_ctx(NULL);
}

/* Appends 'hdrs' lines to Refer-To 'uri' as URI headers (RFC 3261
 * 19.1.1, escaped by oSIP); leaves 'uri' as it was when they do not fit. */
static void uri_headers(char *uri, size_t len, const char *hdrs)
{
	char tmp[REFER_TO_MAX + 1], name[80], value[300], *en, *ev;
	const char *p, *eol, *colon, *v;
	size_t n;
	int first, w;

	if(!hdrs)
		return;
	n = (size_t)snprintf(tmp, sizeof(tmp), "%s", uri);
	if(n >= sizeof(tmp))
		return;
	first = strchr(uri, '?') == NULL;
	/* one line per iteration: bounded by the length of 'hdrs' */
	for(p = hdrs; (eol = strstr(p, "\r\n")) != NULL; p = eol + 2) {
		colon = memchr(p, ':', (size_t)(eol - p));
		if(!colon || (size_t)(colon - p) >= sizeof(name))
			continue;
		for(v = colon + 1; *v == ' '; v++)
			;
		if((size_t)(eol - v) >= sizeof(value))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
		snprintf(value, sizeof(value), "%.*s", (int)(eol - v), v);
		en = __osip_uri_escape_header_param(name);
		ev = __osip_uri_escape_header_param(value);
		w = en && ev ? snprintf(tmp + n, sizeof(tmp) - n, "%s%s=%s",
							   first ? "?" : "&", en, ev)
					 : -1;
		osip_free(en);
		osip_free(ev);
		if(w < 0 || (size_t)w >= sizeof(tmp) - n)
			return; /* too long: the REFER's own headers carry them */
		n += (size_t)w;
		first = 0;
	}
	if(n < len)
		memcpy(uri, tmp, n + 1);
}

int mw_xfer_start(struct mw_call *c, const char *target, const char *hdrs,
		int from_policy)
{
	struct mw_xfer *x = c->xfer;
	struct timeval tv = {MW_XFER_REFER_S, 0};
	char uri[REFER_TO_MAX + 1], lines[REFER_TO_MAX + XHDRS_MAX + 256];
	const char *host = NULL;

	if(c->state != MW_CALL_CONFIRMED || !c->dlg) {
		report(c, target, "failed", 0);
		return -EAGAIN;
	}
	if(x && x->state != MW_XFER_DONE) {
		report(c, target, "failed", 491);
		return -EBUSY;
	}
	if(!x) {
		x = calloc(1, sizeof(*x));
		if(!x)
			return -ENOMEM;
		x->c = c;
		x->timer = event_new(mw_ua_base(c->ua), -1, 0, timer_cb, c);
		if(!x->timer) {
			free(x);
			return -ENOMEM;
		}
		c->xfer = x;
	}
	snprintf(x->target, sizeof(x->target), "%s", target);
	x->from_policy = from_policy;
	x->state = MW_XFER_REFERRING;
	if(target[0] == '+') {
		/* the number in the far end's domain: the carrier (or the edge
		 * toward it) routes it */
		if(c->dlg->remote_uri && c->dlg->remote_uri->url)
			host = c->dlg->remote_uri->url->host;
		snprintf(uri, sizeof(uri), "sip:%s@%s", target,
				host ? host : mw_ua_config(c->ua)->edge_ip);
	} else {
		snprintf(uri, sizeof(uri), "%s", target);
	}
	uri_headers(uri, sizeof(uri), hdrs);
	snprintf(lines, sizeof(lines),
			"Refer-To: <%s>\r\nReferred-By: <sip:%s@%s>\r\n%s", uri,
			c->setup.agent[0] ? c->setup.agent : "agent",
			mw_ua_config(c->ua)->adv_ip, hdrs ? hdrs : "");
	snprintf(c->cdr.xfer_target, sizeof(c->cdr.xfer_target), "%s", target);
	if(mw_ua_request(c->ua, c->dlg, &c->peer, "REFER", lines, c) < 0) {
		finish(c, 0, 500);
		return -ENOMEM;
	}
	event_add(x->timer, &tv);
	MW_INFO("call %llu %s: REFER to %s%s", (unsigned long long)c->serial,
			c->call_id, uri, from_policy ? " (failure policy)" : "");
	return 0;
}

void mw_xfer_on_refer_done(struct mw_call *c, int code)
{
	struct mw_xfer *x = c->xfer;
	struct timeval tv = {MW_XFER_NOTIFY_S, 0};

	if(!x || x->state == MW_XFER_DONE)
		return;
	mw_log_ctx(c->call_id);
	if(code >= 200 && code < 300) {
		if(x->state == MW_XFER_REFERRING) {
			xfer_set_state(x, MW_XFER_ACCEPTED);
			event_add(x->timer, &tv);
			report(c, x->target, "accepted", code);
		}
	} else {
		finish(c, 0, code);
	}
	mw_log_ctx(NULL);
}

void mw_xfer_on_refer_gone(struct mw_call *c)
{
	struct mw_xfer *x = c->xfer;

	if(x && x->state == MW_XFER_REFERRING) {
		mw_log_ctx(c->call_id);
		finish(c, 0, 408);
		mw_log_ctx(NULL);
	}
}

/* The status code of a message/sipfrag body ("SIP/2.0 200 OK"), or 0. */
static int sipfrag_code(const char *b, size_t len)
{
	uint32_t code = 0;
	char tmp[4];

	if(!b || len < 11 || strncmp(b, "SIP/2.0 ", 8) != 0)
		return 0;
	memcpy(tmp, b + 8, 3);
	tmp[3] = 0;
	if(!isdigit((unsigned char)tmp[0]) || !mw_sip_u31(tmp, &code))
		return 0;
	return code >= 100 && code < 700 ? (int)code : 0;
}

void mw_xfer_on_notify(
		struct mw_call *c, osip_transaction_t *tr, osip_message_t *req)
{
	struct mw_xfer *x = c->xfer;
	const char *ev = mw_sip_header(req, "event");
	const char *ss = mw_sip_header(req, "subscription-state");
	const char *b;
	char ctype[64];
	size_t blen;
	int code, terminated;

	if(!x || x->state == MW_XFER_DONE) {
		mw_ua_respond(c->ua, tr, 481, "Subscription Does Not Exist", NULL, NULL,
				NULL, NULL, NULL);
		return;
	}
	if(!ev || strncasecmp(ev, "refer", 5) != 0 ||
			(ev[5] && ev[5] != ';' && ev[5] != ' ')) {
		mw_ua_respond(c->ua, tr, 489, "Bad Event", NULL,
				"Allow-Events: refer\r\n", NULL, NULL, NULL);
		return;
	}
	mw_ua_respond(c->ua, tr, 200, NULL, NULL, NULL, NULL, NULL, NULL);
	b = mw_sip_body(req, &blen, ctype, sizeof(ctype));
	code = sipfrag_code(b, blen);
	terminated = ss && strncasecmp(ss, "terminated", 10) == 0;
	MW_DBG("call %llu: transfer NOTIFY %d%s", (unsigned long long)c->serial,
			code, terminated ? " (terminated)" : "");
	if(code >= 200 && code < 300)
		finish(c, 1, code);
	else if(code >= 300 || terminated)
		finish(c, 0, code ? code : 487);
}

void mw_xfer_free(struct mw_xfer *x)
{
	if(!x)
		return;
	if(x->timer)
		event_free(x->timer);
	free(x);
}

/* ---- the backend asks (media thread -> SIP thread) ------------------------- */

struct msg_request
{
	char target[BR_URL_MAX + 1];
	char hdrs[XHDRS_MAX];
};

static void s_request(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_request *m = data;

	if(c->ai_failed || c->state >= MW_CALL_ENDING)
		return;
	mw_log_ctx(c->call_id);
	mw_xfer_start(c, m->target, m->hdrs[0] ? m->hdrs : NULL, 0);
	mw_log_ctx(NULL);
}

void mw_xfer_m_request(struct mw_call *c, const char *target, const char *hdrs)
{
	struct msg_request m;

	memset(&m, 0, sizeof(m));
	snprintf(m.target, sizeof(m.target), "%s", target ? target : "");
	if(hdrs && strlen(hdrs) < sizeof(m.hdrs))
		snprintf(m.hdrs, sizeof(m.hdrs), "%s", hdrs);
	else if(hdrs)
		MW_LOG_LIMIT(MW_LOG_WARN,
				"call %s: the backend's transfer headers (%zu bytes) exceed "
				"%d: the transfer goes without them",
				c->call_id, strlen(hdrs), XHDRS_MAX - 1);
	mw__call_post_sip(c, s_request, &m, sizeof(m));
}

/* ---- AI failure policy ------------------------------------------------------ */

/* Media thread: play the fallback message, then hang up. */
static void m_play(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	const char *path = data;
	uint8_t *ulaw = NULL;
	int16_t *pcm = NULL;
	size_t n = 0;
	char err[160] = "";

	if(c->m.stop_rx || !c->m.media)
		return;
	c->m.hangup_posted = 0; /* the AI's drop was reported; one more */
	if(mw_wav_read_ulaw(path, &ulaw, &n, err, sizeof(err)) < 0 || !n ||
			!(pcm = malloc(2 * n * sizeof(*pcm))) ||
			mw_g711_decode(0, ulaw, n, pcm) < 0) {
		MW_WARN("call %s: fallback message %s unusable: %s", c->call_id, path,
				err[0] ? err : "empty");
		mw__call_m_hangup(c, MW_END_AI_FAILED, "fallback message unusable");
		goto out;
	}
	/* the backend's queued audio and marks go (their echoes are lost
	 * with the backend), the message plays from the next 20 ms tick */
	mw_media_clear(c->m.media);
	c->m.policy_msg = 1;
	if(mw_ai_rate(&c->m.ai) == 16000) {
		/* the engine plays at the AI's rate: 8 kHz doubled, linearly
		 * interpolated (from the end, in place) */
		size_t i;
		for(i = n; i-- > 0;) {
			int next = i + 1 < n ? pcm[i + 1] : pcm[i];
			pcm[2 * i + 1] = (int16_t)((pcm[i] + next) / 2);
			pcm[2 * i] = pcm[i];
		}
		n *= 2;
	}
	mw_media_play(c->m.media, pcm, n);
	mw_media_mark(c->m.media, POLICY_MARK);
	MW_INFO("call %s: playing the fallback message (%zu ms)", c->call_id,
			n * 1000 / mw_ai_rate(&c->m.ai));
out:
	free(ulaw);
	free(pcm);
}

int mw_policy_m_mark(struct mw_call *c, const char *name)
{
	if(!c->m.policy_msg || strcmp(name, POLICY_MARK) != 0)
		return 0;
	c->m.policy_msg = 0;
	mw__call_m_hangup(c, MW_END_AI_FAILED, "fallback message played");
	return 1;
}

static void play(struct mw_call *c)
{
	mw__call_post_media(c, m_play, c->fail_target, strlen(c->fail_target) + 1);
}

int mw_policy_ai_failed(struct mw_call *c, const char *why, uint16_t port)
{
	static const char *const names[] = {"hangup", "message", "transfer"};
	int p = c->fail_policy <= BR_AIFAIL_TRANSFER ? c->fail_policy : 0;
	int answered =
			c->state == MW_CALL_ANSWERED || c->state == MW_CALL_CONFIRMED;

	if(c->ai_failed)
		return 1; /* already under the policy */
	if(c->state >= MW_CALL_ENDING)
		return 0;
	if(!answered && (c->outbound || !port || c->state != MW_CALL_CONNECTING))
		p = BR_AIFAIL_HANGUP; /* nothing to answer with */
	if(p == BR_AIFAIL_MESSAGE && access(c->fail_target, R_OK) != 0) {
		MW_WARN("call %llu: fallback message %s not readable; hanging up",
				(unsigned long long)c->serial, c->fail_target);
		p = BR_AIFAIL_HANGUP;
	}
	mw_cdr_event(c, "ai_failed", "policy", names[p], "why", why ? why : "");
	c->cdr.policy = names[p];
	MW_NOTICE("call %llu %s: AI backend failed (%s): policy %s%s%s",
			(unsigned long long)c->serial, c->call_id, why ? why : "", names[p],
			p ? " " : "", p ? c->fail_target : "");
	if(p == BR_AIFAIL_HANGUP) {
		MW_COUNT(MW_C_AIFAIL_HANGUP);
		return 0;
	}
	c->ai_failed = 1;
	MW_COUNT(p == BR_AIFAIL_MESSAGE ? MW_C_AIFAIL_MESSAGE
									: MW_C_AIFAIL_TRANSFER);
	if(!answered) {
		mw__call_answer(c, port);
		if(c->state != MW_CALL_ANSWERED)
			return 1; /* the answer failed: the call is ending */
	}
	if(p == BR_AIFAIL_MESSAGE)
		play(c);
	else if(c->state == MW_CALL_CONFIRMED)
		mw_policy_on_confirmed(c);
	else
		c->policy_on_confirm = 1; /* REFER once the 200 is ACKed */
	return 1;
}

void mw_policy_on_confirmed(struct mw_call *c)
{
	if(!c->ai_failed || c->fail_policy != BR_AIFAIL_TRANSFER)
		return;
	if(mw_xfer_start(c, c->fail_target, NULL, 1) < 0)
		mw__call_hangup(c, MW_END_AI_FAILED, "fallback transfer failed");
}
