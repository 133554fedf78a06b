/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_dial.c -- outbound calls: the user agent client side of a call
 * toward the edge (see mw_dial.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "mw_call_int.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_dial.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_sip.h"
#include "mw_ua.h"

struct mw_dial
{
	enum mw_dial_state state;
	struct mw_dial_req req;
	char *params;  /* copy of req.params */
	mw_dial_cb cb; /* the owner (an outbound job) */
	void *arg;
	osip_transaction_t *ict; /* our INVITE while oSIP keeps it */
	int got_1xx;			 /* a provisional arrived: CANCEL allowed */
	int cancel_wanted; /* ring timeout or drain: 1 wanted, 2 CANCEL sent */
	const char *cancel_outcome; /* "no_answer" or "canceled" */
	int final_seen;				/* final response or timeout */
	char *ack;					/* our ACK to the 2xx, for retransmissions */
	size_t ack_len;
	struct event *ring; /* ring timeout */
	int outcome_told, ended_told;
};

static const char *const state_names[MW_DIAL__MAX] = {"lookup", "binding",
		"inviting", "ringing", "cancelling", "answered", "done"};

const char *mw_dial_state_name(int s)
{
	return s >= 0 && s < MW_DIAL__MAX ? state_names[s] : "?";
}

static void dial_set_state(struct mw_call *c, enum mw_dial_state s)
{
	struct mw_dial *d = c->dial;

	if(d->state == s)
		return;
	MW_DBG("call %llu dial: %s -> %s", (unsigned long long)c->serial,
			mw_dial_state_name(d->state), mw_dial_state_name(s));
	d->state = s;
}

int mw_dial_req_check(const struct mw_dial_req *r, char *err, size_t errlen)
{
	size_t i;

	if(!br_id_valid(r->agent) || !r->agent[0]) {
		snprintf(err, errlen, "agent: not an id");
		return -EINVAL;
	}
	if(!br_e164_valid(r->to)) {
		snprintf(err, errlen, "to: not an E.164 number");
		return -EINVAL;
	}
	if(r->from[0] && !br_e164_valid(r->from)) {
		snprintf(err, errlen, "from: not an E.164 number");
		return -EINVAL;
	}
	for(i = 0; r->call_id[i]; i++)
		if(!((r->call_id[i] >= '0' && r->call_id[i] <= '9') ||
				   (r->call_id[i] >= 'a' && r->call_id[i] <= 'z') ||
				   r->call_id[i] == '-'))
			break;
	if(r->call_id[i]) {
		snprintf(err, errlen, "call_id: [0-9a-z-] only");
		return -EINVAL;
	}
	if(r->params && r->params[0]) {
		json_error_t je;
		json_t *o = json_loads(r->params, 0, &je), *v;
		const char *k;
		int ok = json_is_object(o) && strlen(r->params) <= MW_DIAL_PARAMS_MAX;
		if(ok)
			json_object_foreach(o, k, v)
			{
				if(!json_is_string(v))
					ok = 0;
			}
		json_decref(o);
		if(!ok) {
			snprintf(err, errlen,
					"params: not a JSON object of strings (<= %d bytes)",
					MW_DIAL_PARAMS_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- telling the owner ---------------------------------------------------- */

static void tell_outcome(struct mw_call *c, const char *outcome)
{
	struct mw_dial *d = c->dial;
	char code[8];

	if(d->outcome_told)
		return;
	d->outcome_told = 1;
	c->cdr.outcome = outcome;
	if(strcmp(outcome, "answered") == 0)
		MW_COUNT(MW_C_OUT_ANSWERED);
	else if(strcmp(outcome, "busy") == 0)
		MW_COUNT(MW_C_OUT_BUSY);
	else if(strcmp(outcome, "no_answer") == 0)
		MW_COUNT(MW_C_OUT_NO_ANSWER);
	else if(strcmp(outcome, "canceled") == 0)
		MW_COUNT(MW_C_OUT_CANCELED);
	else
		MW_COUNT(MW_C_OUT_FAILED);
	MW_INFO("call %llu %s to %s: %s (%d %s)", (unsigned long long)c->serial,
			c->call_id, d->req.to, outcome, c->cdr.sip_code, c->cdr.reason);
	snprintf(code, sizeof(code), "%d", c->cdr.sip_code);
	mw_cdr_event(c, "outcome", "outcome", outcome, "sip_code", code);
	if(d->cb)
		d->cb(d->arg, MW_DIAL_EV_OUTCOME, c);
}

void mw_dial_ended(struct mw_call *c)
{
	struct mw_dial *d = c->dial;

	if(!d || d->ended_told)
		return;
	if(!d->outcome_told)
		tell_outcome(c, c->cdr.outcome ? c->cdr.outcome : "failed");
	d->ended_told = 1;
	if(d->cb)
		d->cb(d->arg, MW_DIAL_EV_ENDED, c);
}

/* ---- CANCEL ---------------------------------------------------------------- */

static void send_cancel(struct mw_call *c)
{
	struct mw_dial *d = c->dial;

	if(d->state != MW_DIAL_INVITING && d->state != MW_DIAL_RINGING)
		return;
	d->cancel_wanted = 1;
	dial_set_state(c, MW_DIAL_CANCELLING);
	if(!d->got_1xx || !d->ict)
		return; /* RFC 3261 9.1: not before a provisional response; it
				   goes out with the first one (or the INVITE times out) */
	d->cancel_wanted = 2;
	if(mw_ua_cancel(c->ua, d->ict, &c->peer, c) < 0)
		MW_WARN("call %llu: cannot build the CANCEL",
				(unsigned long long)c->serial);
}

static void ring_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;
	struct mw_dial *d = c->dial;

	mw_log_ctx(c->call_id);
	if(d->state == MW_DIAL_INVITING || d->state == MW_DIAL_RINGING) {
		MW_INFO("call %llu: no answer in %us, cancelling",
				(unsigned long long)c->serial, d->req.ring_timeout_s);
		d->cancel_outcome = "no_answer";
		send_cancel(c);
	}
	mw_log_ctx(NULL);
}

/* ---- start ------------------------------------------------------------------ */

int mw_dial_start(struct mw_ua *ua, const struct mw_dial_req *req,
		mw_dial_cb cb, void *arg)
{
	const struct mw_config *cfg = mw_ua_config(ua);
	struct mw_dial *d;
	struct mw_call *c = NULL;
	char cid[MW_DIAL_ID_MAX], err[96];
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	int rc;

	if(!cfg->edge_ip[0])
		return -EDESTADDRREQ;
	if(mw_dial_req_check(req, err, sizeof(err)) < 0) {
		MW_WARN("outbound request refused: %s", err);
		return -EINVAL;
	}
	if((rc = mw_ua_can_take(ua)) < 0)
		return rc;
	if(req->call_id[0])
		snprintf(cid, sizeof(cid), "%s", req->call_id);
	else
		mw_sip_token(cid, 32); /* random hex: no address inside */
	d = calloc(1, sizeof(*d));
	if(!d)
		return -ENOMEM;
	d->req = *req;
	d->req.params = NULL;
	if(!d->req.ring_timeout_s)
		d->req.ring_timeout_s = cfg->ring_timeout_s;
	if(req->params && req->params[0] && !(d->params = strdup(req->params))) {
		free(d);
		return -ENOMEM;
	}
	d->cb = cb;
	d->arg = arg;
	rc = mw__call_alloc(ua, cid, &c);
	if(rc < 0) {
		mw_dial_free(d);
		return rc;
	}
	c->outbound = 1;
	c->dial = d;
	d->ring = event_new(mw_ua_base(ua), -1, 0, ring_cb, c);
	if(!d->ring) {
		mw_call_free(c);
		return -ENOMEM;
	}
	/* requests go to the edge, over the transport it uses toward us */
	memset(&c->peer, 0, sizeof(c->peer));
	c->peer.tp = cfg->adv_transport;
	s4 = (struct sockaddr_in *)&c->peer.ss;
	s6 = (struct sockaddr_in6 *)&c->peer.ss;
	if(inet_pton(AF_INET, cfg->edge_ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->edge_port);
		c->peer.len = sizeof(*s4);
	} else {
		inet_pton(AF_INET6, cfg->edge_ip, &s6->sin6_addr);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->edge_port);
		c->peer.len = sizeof(*s6);
	}
	snprintf(c->from_tag, sizeof(c->from_tag), "%s", c->local_tag);
	snprintf(c->setup.agent, sizeof(c->setup.agent), "%s", req->agent);
	snprintf(c->cdr.from, sizeof(c->cdr.from), "%s", req->from);
	snprintf(c->cdr.to, sizeof(c->cdr.to), "%s", req->to);
	snprintf(c->cdr.did, sizeof(c->cdr.did), "%s", req->from);
	snprintf(c->cdr.job, sizeof(c->cdr.job), "%s", req->job);
	c->setup.defer_ai = 1;
	rc = mw__call_lookup_agent(c);
	if(rc < 0) {
		/* nothing started: no callback */
		mw_call_free(c);
		return rc == -EINVAL ? -EINVAL : -ENOTCONN;
	}
	mw_ua_add_call(ua, c);
	MW_INFO("call %llu %s: outbound to %s for agent %s%s%s",
			(unsigned long long)c->serial, c->call_id, req->to, req->agent,
			req->job[0] ? ", job " : "", req->job);
	return 0;
}

void mw_dial_on_agent(struct mw_call *c, const br_agent_t *a)
{
	struct mw_dial *d = c->dial;
	unsigned maxd = d->req.max_duration_s;
	int rc = 0;

	snprintf(c->cdr.tenant, sizeof(c->cdr.tenant), "%s", a->tenant);
	/* the job's limit and the agent's: the lower one */
	if(maxd && (!c->max_duration || maxd < c->max_duration))
		c->max_duration = maxd;
	/* customParameters, as for inbound calls (first value wins): the
	 * call's identity, the job's parameters, the agent's */
	rc |= mw__call_param(&c->setup, "did", d->req.from);
	rc |= mw__call_param(&c->setup, "from", d->req.from);
	rc |= mw__call_param(&c->setup, "to", d->req.to);
	rc |= mw__call_param(&c->setup, "agent", a->id);
	rc |= mw__call_param(&c->setup, "call_id", c->call_id);
	rc |= mw__call_param(&c->setup, "direction", "outbound");
	rc |= mw__call_param(&c->setup, "tenant", a->tenant);
	if(d->req.job[0])
		rc |= mw__call_param(&c->setup, "job", d->req.job);
	{
		const char *src[2] = {d->params, a->params};
		int i;
		for(i = 0; i < 2; i++) {
			json_error_t je;
			json_t *o = src[i] ? json_loads(src[i], 0, &je) : NULL, *v;
			const char *k;
			if(json_is_object(o))
				json_object_foreach(o, k, v)
				{
					if(json_is_string(v))
						rc |= mw__call_param(
								&c->setup, k, json_string_value(v));
				}
			json_decref(o);
		}
	}
	if(rc) {
		mw__call_refuse(c, 500, "out of memory");
		return;
	}
	dial_set_state(c, MW_DIAL_BINDING);
	mw__call_setup_media(c);
}

void mw_dial_on_media_failed(struct mw_call *c, const char *why)
{
	MW_WARN("call %llu: outbound call without media: %s",
			(unsigned long long)c->serial, why);
	mw__call_refuse(c, 503, "no media resources");
}

/* Request-URI / To of the destination at the edge. */
static void edge_uri(
		const struct mw_config *cfg, const char *user, char *buf, size_t len)
{
	int v6 = strchr(cfg->edge_ip, ':') != NULL;

	snprintf(buf, len, "sip:%s@%s%s%s:%u%s", user, v6 ? "[" : "", cfg->edge_ip,
			v6 ? "]" : "", cfg->edge_port,
			cfg->adv_transport == MW_TP_TCP ? ";transport=tcp" : "");
}

static int build_invite(
		struct mw_call *c, const char *sdp, osip_message_t **out)
{
	const struct mw_config *cfg = mw_ua_config(c->ua);
	struct mw_dial *d = c->dial;
	osip_message_t *m = NULL;
	osip_uri_t *ru = NULL;
	char buf[512], uri[256];
	int v6 = strchr(cfg->adv_ip, ':') != NULL;

	*out = NULL;
	if(osip_message_init(&m) != 0)
		return -ENOMEM;
	osip_message_set_method(m, osip_strdup("INVITE"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	edge_uri(cfg, d->req.to, uri, sizeof(uri));
	if(osip_uri_init(&ru) != 0 || osip_uri_parse(ru, uri) != 0) {
		osip_uri_free(ru);
		goto fail;
	}
	osip_message_set_uri(m, ru);
	snprintf(buf, sizeof(buf), "<sip:%s@%s%s%s>;tag=%s",
			d->req.from[0] ? d->req.from : "anonymous", v6 ? "[" : "",
			cfg->adv_ip, v6 ? "]" : "", c->local_tag);
	if(osip_message_set_from(m, buf) != 0)
		goto fail;
	snprintf(buf, sizeof(buf), "<%s>", uri);
	if(osip_message_set_to(m, buf) != 0 ||
			osip_message_set_call_id(m, c->call_id) != 0 ||
			osip_message_set_cseq(m, "1 INVITE") != 0)
		goto fail;
	mw_ua_via(c->ua, c->peer.tp, buf, sizeof(buf));
	osip_message_set_via(m, buf);
	osip_message_set_max_forwards(m, "70");
	osip_message_set_contact(m, mw_ua_contact(c->ua, c->peer.tp));
	osip_message_set_header(m, "User-Agent", "byoc-media-worker");
	osip_message_set_header(m, "Allow", MW_UA_ALLOW);
	osip_message_set_header(m, "X-Byoc-Agent", d->req.agent);
	if(cfg->worker_secret[0])
		osip_message_set_header(m, "X-Byoc-Secret", cfg->worker_secret);
	if(d->req.job[0])
		osip_message_set_header(m, "X-Byoc-Job", d->req.job);
	if(mw_sip_set_body(m, "application/sdp", sdp, strlen(sdp)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	osip_message_free(m);
	return -ENOMEM;
}

void mw_dial_on_bound(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct mw_dial *d = c->dial;
	char body[MW_SDP_MAX];
	osip_message_t *inv = NULL;
	struct timeval tv = {(time_t)d->req.ring_timeout_s, 0};
	uint16_t port;
	int n;

	if(c->state >= MW_CALL_ENDING || d->state != MW_DIAL_BINDING)
		return; /* given up meanwhile (drain): STOP is on its way */
	mw_log_ctx(c->call_id);
	memcpy(&port, data, sizeof(port));
	c->lsdp.port = port;
	n = mw_sdp_offer(&c->lsdp, MW_DIR_SENDRECV, body, sizeof(body));
	if(n < 0 || build_invite(c, body, &inv) < 0) {
		mw__call_refuse(c, 500, "cannot build the INVITE");
		goto out;
	}
	c->t_invite_ms = mw_now_ms();
	c->cdr.invite_at = mw_cdr_now();
	if(mw_ua_invite(c->ua, inv, &c->peer, c, &d->ict) < 0) {
		osip_message_free(inv);
		mw__call_refuse(c, 500, "cannot send the INVITE");
		goto out;
	}
	dial_set_state(c, MW_DIAL_INVITING);
	mw__call_set_state(c, MW_CALL_CONNECTING);
	event_add(d->ring, &tv);
	mw_cdr_event(c, "invite", "from", d->req.from, "to", d->req.to);
	MW_INFO("call %llu %s: INVITE %s (RTP port %u, ring timeout %us)",
			(unsigned long long)c->serial, c->call_id, d->req.to, port,
			d->req.ring_timeout_s);
out:
	mw_log_ctx(NULL);
}

/* ---- responses ---------------------------------------------------------- */

static const char *outcome_of(int code)
{
	switch(code) {
		case 486:
		case 600:
			return "busy";
		case 408:
		case 480:
		case 487:
			return "no_answer";
		default:
			return "failed";
	}
}

static void on_final_failure(struct mw_call *c, int code, const char *reason)
{
	struct mw_dial *d = c->dial;
	const char *outcome;

	d->final_seen = 1;
	event_del(d->ring);
	c->cdr.sip_code = code;
	snprintf(c->cdr.reason, sizeof(c->cdr.reason), "%s", reason ? reason : "");
	outcome = d->cancel_wanted && d->cancel_outcome ? d->cancel_outcome
													: outcome_of(code);
	dial_set_state(c, MW_DIAL_DONE);
	tell_outcome(c, outcome);
	if(c->state < MW_CALL_ENDING)
		mw__call_finish(
				c, d->cancel_wanted ? MW_END_CANCELLED : MW_END_REFUSED);
	else
		mw__call_maybe_done(c);
}

static void on_2xx(struct mw_call *c, osip_message_t *resp, int again)
{
	struct mw_dial *d = c->dial;
	struct mw_sdp_remote r;
	const char *body, *trunk;
	char ctype[64];
	size_t blen;
	uint32_t cseq = 1;

	if(again || d->ack) {
		/* retransmitted 2xx: the same ACK again (RFC 3261 13.2.2.4) */
		if(d->ack)
			mw_ua_send_raw(c->ua, &c->peer, d->ack, d->ack_len);
		return;
	}
	d->final_seen = 1;
	event_del(d->ring);
	if(!c->dlg && osip_dialog_init_as_uac(&c->dlg, resp) != 0) {
		MW_ERR("call %llu: cannot create the dialog of the 2xx",
				(unsigned long long)c->serial);
		c->dlg = NULL;
		on_final_failure(c, 500, "dialog creation failed");
		return;
	}
	mw_sip_u31(resp->cseq->number, &cseq);
	if(mw_ua_ack(c->ua, c->dlg, &c->peer, (int)cseq, &d->ack, &d->ack_len) < 0)
		MW_WARN("call %llu: ACK not sent", (unsigned long long)c->serial);
	mw__call_set_state(c, MW_CALL_CONFIRMED);
	c->t_answer_ms = mw_now_ms();
	c->cdr.sip_code = resp->status_code;
	snprintf(c->cdr.reason, sizeof(c->cdr.reason), "%s",
			resp->reason_phrase ? resp->reason_phrase : "");
	if((trunk = mw_sip_header(resp, "x-byoc-trunk")) != NULL)
		snprintf(c->cdr.trunk, sizeof(c->cdr.trunk), "%s", trunk);
	if(d->cancel_wanted || c->state >= MW_CALL_ENDING) {
		/* the answer crossed our CANCEL: the call is not wanted now */
		dial_set_state(c, MW_DIAL_DONE);
		tell_outcome(c, d->cancel_outcome ? d->cancel_outcome : "canceled");
		mw__call_bye(c, MW_END_CANCELLED, "call no longer wanted");
		return;
	}
	body = mw_sip_body(resp, &blen, ctype, sizeof(ctype));
	if(!body || mw_sdp_parse(body, blen, &r) < 0 ||
			!mw__call_remote_ok(c, &r)) {
		MW_WARN("call %llu: 2xx without an acceptable SDP answer",
				(unsigned long long)c->serial);
		dial_set_state(c, MW_DIAL_DONE);
		snprintf(c->cdr.reason, sizeof(c->cdr.reason), "no SDP answer");
		tell_outcome(c, "failed");
		mw__call_bye(c, MW_END_REFUSED, "no acceptable SDP answer");
		return;
	}
	c->remote = r;
	c->have_remote = 1;
	c->cdr.answer_at = mw_cdr_now();
	dial_set_state(c, MW_DIAL_ANSWERED);
	MW_INFO("call %llu %s answered in %lld ms", (unsigned long long)c->serial,
			c->call_id, (long long)(c->t_answer_ms - c->t_invite_ms));
	tell_outcome(c, "answered");
	mw_cdr_event(c, "answered", "trunk", c->cdr.trunk, NULL, NULL);
	if(c->state != MW_CALL_CONFIRMED)
		return; /* the owner hung up from its callback */
	mw__call_start_media(c);
	mw__call_arm_max_duration(c);
}

void mw_dial_on_response(struct mw_call *c, osip_transaction_t *tr,
		osip_message_t *resp, int again)
{
	struct mw_dial *d = c->dial;
	int code;

	if(!d)
		return;
	mw_log_ctx(c->call_id);
	if(!resp) {
		/* Timer B: nobody answered the INVITE at all */
		if(!d->final_seen)
			on_final_failure(c, 408, "Request Timeout");
		goto out;
	}
	code = resp->status_code;
	if(code < 200) {
		d->got_1xx = 1;
		if(code > 100 && d->state == MW_DIAL_INVITING) {
			dial_set_state(c, MW_DIAL_RINGING);
			c->cdr.ring_at = mw_cdr_now();
			mw_cdr_event(c, "ringing", NULL, NULL, NULL, NULL);
		}
		if(d->state == MW_DIAL_CANCELLING && d->ict && !d->final_seen &&
				d->cancel_wanted == 1) {
			/* the CANCEL that waited for a provisional */
			d->cancel_wanted = 2;
			if(mw_ua_cancel(c->ua, d->ict, &c->peer, c) < 0)
				MW_WARN("call %llu: cannot build the CANCEL",
						(unsigned long long)c->serial);
		}
		goto out;
	}
	if(code < 300) {
		on_2xx(c, resp, again);
		goto out;
	}
	if(!d->final_seen)
		on_final_failure(c, code, resp->reason_phrase);
out:
	mw_log_ctx(NULL);
}

int mw_dial_holding(const struct mw_call *c)
{
	const struct mw_dial *d = c->dial;

	return d && d->ict && !d->final_seen;
}

void mw_dial_on_transaction_gone(struct mw_call *c, osip_transaction_t *tr)
{
	struct mw_dial *d = c->dial;

	if(!d || tr != d->ict)
		return;
	d->ict = NULL;
	if(!d->final_seen) {
		/* ended without a final response: transport error */
		mw_log_ctx(c->call_id);
		on_final_failure(c, 503, "transport error");
		mw_log_ctx(NULL);
	}
}

int mw_dial_shutdown(struct mw_call *c)
{
	struct mw_dial *d = c->dial;

	switch(d->state) {
		case MW_DIAL_LOOKUP:
		case MW_DIAL_BINDING:
			/* nothing sent yet */
			snprintf(c->cdr.reason, sizeof(c->cdr.reason),
					"worker shutting down");
			dial_set_state(c, MW_DIAL_DONE);
			tell_outcome(c, "canceled");
			mw__call_finish(c, MW_END_CANCELLED);
			return 1;
		case MW_DIAL_INVITING:
		case MW_DIAL_RINGING:
			d->cancel_outcome = "canceled";
			send_cancel(c);
			return 1;
		case MW_DIAL_ANSWERED:
			return 0;
		default:
			return 1;
	}
}

void mw_dial_free(struct mw_dial *d)
{
	if(!d)
		return;
	if(d->ring)
		event_free(d->ring);
	free(d->params);
	free(d->ack);
	free(d);
}
