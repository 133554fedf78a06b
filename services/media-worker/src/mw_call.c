/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_call.c -- a call: SIP dialog side (SIP thread) and media + AI bridge
 * side (its media thread), see mw_call.h for the message flow.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "br_secret.h"
#include "mw_call.h"
#include "mw_call_int.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_dial.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_registry.h"
#include "mw_sip.h"
#include "mw_thread.h"
#include "mw_ws.h"
#include "mw_xfer.h"

#define ACK_WAIT_S 32			  /* 64*T1: no ACK -> BYE (RFC 3261 13.3.1.4) */
#define SETUP_GUARD_MS 2000		  /* beyond the AI connect timeout */
#define CLOSE_GUARD_S 3			  /* WebSocket close handshake bound */
#define WS_MAX_MESSAGE (8u << 20) /* backends send large media bursts */
#define FRAME_MAX 480			  /* samples per on_audio (60 ms at 8 kHz) */

static const char *const state_names[MW_CALL__MAX] = {
		"new", "connecting", "answered", "confirmed", "ending", "ended"};
static const char *const mstate_names[MW_CM__MAX] = {
		"idle", "connecting", "ready", "running", "closing", "done"};

/* Reason header text and Q.850 cause per end, and the metric. */
static const struct
{
	int cause;
	const char *text;
	enum mw_ctr ctr;
} ends[MW_END__MAX] = {
		[MW_END_NONE] = {16, "normal", MW_C__MAX},
		[MW_END_CALLER_BYE] = {16, "caller hung up", MW_C_END_CALLER_BYE},
		[MW_END_AI_HANGUP] = {16, "AI hangup", MW_C_END_AI_HANGUP},
		[MW_END_AI_CLOSED] = {16, "AI backend closed", MW_C_END_AI_CLOSED},
		[MW_END_RTP_TIMEOUT] = {102, "RTP timeout", MW_C_END_RTP_TIMEOUT},
		[MW_END_ACK_TIMEOUT] = {102, "no ACK", MW_C_END_ACK_TIMEOUT},
		[MW_END_MAX_DURATION] = {16, "maximum call duration",
				MW_C_END_MAX_DURATION},
		[MW_END_SHUTDOWN] = {41, "worker shutting down", MW_C_END_SHUTDOWN},
		[MW_END_CANCELLED] = {487, "cancelled", MW_C_CALL_CANCELLED},
		[MW_END_REFUSED] = {0, "refused", MW_C__MAX},
		[MW_END_TRANSFERRED] = {16, "call transferred", MW_C_END_TRANSFERRED},
		[MW_END_AI_FAILED] = {41, "AI backend failed", MW_C_END_AI_FAILED},
};

const char *mw_call_state_name(int s)
{
	return s >= 0 && s < MW_CALL__MAX ? state_names[s] : "?";
}

const char *mw_call_mstate_name(int s)
{
	return s >= 0 && s < MW_CM__MAX ? mstate_names[s] : "?";
}

static uint64_t call_serial; /* short ids for logs; SIP thread only */

static void call_set_state(struct mw_call *c, enum mw_call_state s)
{
	if(c->state == s)
		return;
	MW_DBG("call %llu: %s -> %s", (unsigned long long)c->serial,
			mw_call_state_name(c->state), mw_call_state_name(s));
	c->state = s;
}

static void media_set_state(struct mw_call *c, enum mw_call_mstate s)
{
	if(c->m.state == s)
		return;
	MW_DBG("call %llu media: %s -> %s", (unsigned long long)c->serial,
			mw_call_mstate_name(c->m.state), mw_call_mstate_name(s));
	c->m.state = s;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ===== messages between the halves ===================================== */

struct msg_text
{
	int code;	   /* end / cause */
	int detail;	   /* AI_CLOSED: the WebSocket close code */
	uint16_t port; /* FAILED: the RTP port bound (AI failure) */
	char text[160];
};

struct msg_remote
{
	struct mw_sdp_remote r;
};

struct msg_dtmf
{
	char digit;
	int duration_ms;
};

static void m_on_setup(struct mw_thread *t, void *obj, void *data, size_t len);
static void m_on_start(struct mw_thread *t, void *obj, void *data, size_t len);
static void m_on_remote(struct mw_thread *t, void *obj, void *data, size_t len);
static void m_on_dtmf(struct mw_thread *t, void *obj, void *data, size_t len);
static void m_on_stop(struct mw_thread *t, void *obj, void *data, size_t len);
static void s_on_ready(struct mw_thread *t, void *obj, void *data, size_t len);
static void s_on_failed(struct mw_thread *t, void *obj, void *data, size_t len);
static void s_on_hangup(struct mw_thread *t, void *obj, void *data, size_t len);
static void s_on_done(struct mw_thread *t, void *obj, void *data, size_t len);
static void s_on_info(struct mw_thread *t, void *obj, void *data, size_t len);
static void m_connect_ai(struct mw_call *c, struct mw_thread *t);

static void post(struct mw_thread *t, mw_thread_fn fn, struct mw_call *c,
		const void *data, size_t len)
{
	if(mw_thread_post(t, fn, c, data, len) < 0)
		/* out of memory: nothing sensible is left; the process restarts */
		MW_ERR("call %s: cannot post to thread %u", c->call_id, t->idx);
}

/* ===== SIP thread ======================================================== */

static void maybe_done(struct mw_call *c)
{
	if(c->state != MW_CALL_ENDING || c->redis_pending || c->bye_sent ||
			(c->media_posted && !c->media_done) || mw_dial_holding(c))
		return;
	call_set_state(c, MW_CALL_ENDED);
	/* no call ends without its record */
	mw_cdr_final(c);
	if(c->dial)
		mw_dial_ended(c);
	mw_ua_call_done(c->ua, c);
}

/* Ends the call on the SIP side and asks the media half to stop. */
static void call_finish(struct mw_call *c, enum mw_call_end end)
{
	if(c->state >= MW_CALL_ENDING)
		return;
	call_set_state(c, MW_CALL_ENDING);
	c->end = end;
	event_del(c->timer);
	if(c->media_posted && !c->stop_posted) {
		struct msg_text m = {.code = end};
		c->stop_posted = 1;
		post(c->mt, m_on_stop, c, &m, sizeof(m));
	}
	maybe_done(c);
}

/* Final non-2xx answer to the initial INVITE. */
static void call_refuse(struct mw_call *c, int code, const char *reason,
		const char *hdrs, enum mw_ctr ctr)
{
	if(c->ist)
		mw_ua_respond(c->ua, c->ist, code, reason, c->local_tag, hdrs, NULL,
				NULL, NULL);
	c->cdr.sip_code = code;
	snprintf(c->cdr.reason, sizeof(c->cdr.reason), "%s", reason ? reason : "");
	if(ctr < MW_C__MAX)
		MW_COUNT(ctr);
	MW_INFO("call %llu %s refused: %d %s", (unsigned long long)c->serial,
			c->call_id, code, reason ? reason : "");
	call_finish(c, MW_END_REFUSED);
}

static void reason_header(
		char *buf, size_t len, enum mw_call_end end, const char *text)
{
	char clean[128];
	size_t i, n = 0;

	/* the AI's text goes into a quoted string: keep it printable */
	for(i = 0; text && text[i] && n + 1 < sizeof(clean); i++)
		if(isprint((unsigned char)text[i]) && text[i] != '"' && text[i] != '\\')
			clean[n++] = text[i];
	clean[n] = 0;
	snprintf(buf, len, "Reason: Q.850;cause=%d;text=\"%s\"\r\n",
			ends[end].cause, n ? clean : ends[end].text);
}

static void send_bye(struct mw_call *c, enum mw_call_end end, const char *text)
{
	char hdr[200];

	reason_header(hdr, sizeof(hdr), end, text);
	if(c->dlg && mw_ua_request(c->ua, c->dlg, &c->peer, "BYE", hdr, c) == 0)
		c->bye_sent = 1;
	if(ends[end].ctr < MW_C__MAX)
		MW_COUNT(ends[end].ctr);
	MW_INFO("call %llu %s: BYE (%s) after %llds", (unsigned long long)c->serial,
			c->call_id, text && *text ? text : ends[end].text,
			(long long)((mw_now_ms() - c->t_answer_ms) / 1000));
	call_finish(c, end);
}

/* Hangs up from our side, whatever the state. */
static void call_hangup(
		struct mw_call *c, enum mw_call_end end, const char *text)
{
	switch(c->state) {
		case MW_CALL_NEW:
		case MW_CALL_CONNECTING:
			call_refuse(c, 503, "Service Unavailable",
					"Reason: Q.850;cause=41;text=\"AI backend "
					"unavailable\"\r\n",
					MW_C_CALL_AI_CONNECT_FAILED);
			break;
		case MW_CALL_ANSWERED:
			/* no BYE before the ACK (RFC 3261 15): stop the media now,
			 * send the BYE when the ACK comes (or times out) */
			if(!c->bye_after_ack) {
				c->bye_after_ack = 1;
				c->bye_end = end;
				if(c->media_posted && !c->stop_posted) {
					struct msg_text m = {.code = end};
					c->stop_posted = 1;
					post(c->mt, m_on_stop, c, &m, sizeof(m));
				}
			}
			break;
		case MW_CALL_CONFIRMED:
			send_bye(c, end, text);
			break;
		default:
			break;
	}
}

static void arm_timer_ms(struct mw_call *c, int64_t ms)
{
	struct timeval tv = {
			(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	event_add(c->timer, &tv);
}

static void call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;

	mw_log_ctx(c->call_id);
	switch(c->state) {
		case MW_CALL_CONNECTING:
			MW_WARN("call %llu: AI backend did not answer in time",
					(unsigned long long)c->serial);
			call_refuse(c, 503, "Service Unavailable",
					"Reason: Q.850;cause=41;text=\"AI backend "
					"unavailable\"\r\n",
					MW_C_CALL_AI_CONNECT_FAILED);
			break;
		case MW_CALL_ANSWERED:
			MW_WARN("call %llu: no ACK for the 200 OK",
					(unsigned long long)c->serial);
			call_set_state(c, MW_CALL_CONFIRMED);
			send_bye(c, MW_END_ACK_TIMEOUT, NULL);
			break;
		case MW_CALL_CONFIRMED:
			send_bye(c, MW_END_MAX_DURATION, NULL);
			break;
		default:
			break;
	}
	mw_log_ctx(NULL);
}

/* The RTP sockets are of one address family (the media IP's): an SDP of
 * the other one cannot be served (488). The codec is narrowed to G.711
 * when this worker does not take wideband (BYOC_WORKER_WIDEBAND=0). */
static int remote_ok(const struct mw_call *c, struct mw_sdp_remote *r)
{
	const struct mw_config *cfg = mw_ua_config(c->ua);
	int fam = strchr(cfg->rtp_ip, ':') ? AF_INET6 : AF_INET;

	return r->family == fam && mw_sdp_select(r, cfg->wideband) == 0;
}

/* The trunk's DTMF mode as the edge names it (br_call.c); RFC 4733 when
 * absent or unknown (a direct call without the edge). */
static int dtmf_mode(const char *v)
{
	if(v && strcasecmp(v, "info") == 0)
		return BR_DTMF_INFO;
	if(v && strcasecmp(v, "inband") == 0)
		return BR_DTMF_INBAND;
	return BR_DTMF_RFC2833;
}

/* ---- customParameters ---------------------------------------------------- */

static int param_add(struct mw_call_setup *s, const char *k, const char *v)
{
	size_t i;

	if(!k || !*k || !v)
		return 0;
	for(i = 0; i < s->nparams; i++)
		if(strcmp(s->keys[i], k) == 0)
			return 0; /* first one wins */
	if(s->nparams >= MW_CALL_MAX_PARAMS)
		return 0;
	s->keys[s->nparams] = strdup(k);
	s->vals[s->nparams] = strdup(v);
	if(!s->keys[s->nparams] || !s->vals[s->nparams]) {
		free(s->keys[s->nparams]);
		free(s->vals[s->nparams]);
		return -ENOMEM;
	}
	s->nparams++;
	return 0;
}

static void uri_user(osip_from_t *f, char *out, size_t len)
{
	out[0] = 0;
	if(!f || !f->url)
		return;
	if(f->url->username)
		snprintf(out, len, "%s", f->url->username);
	else if(f->url->host)
		snprintf(out, len, "%s", f->url->host);
}

int mw_call_params(struct mw_call_setup *s, osip_message_t *invite,
		const char *agent_params)
{
	char from[256], to[256], caller[256], cid[MW_SIP_MAX_LINE];
	osip_header_t *h;
	const char *dir;
	int i, rc = 0;

	uri_user(invite->from, from, sizeof(from));
	uri_user(invite->to, to, sizeof(to));
	caller[0] = 0;
	if(invite->from && invite->from->displayname) {
		const char *d = invite->from->displayname;
		size_t n = strlen(d);
		if(n >= 2 && d[0] == '"' && d[n - 1] == '"')
			snprintf(caller, sizeof(caller), "%.*s", (int)(n - 2), d + 1);
		else
			snprintf(caller, sizeof(caller), "%s", d);
	}
	if(!caller[0])
		snprintf(caller, sizeof(caller), "%s", from);
	dir = mw_sip_header(invite, "x-byoc-direction");
	rc |= param_add(s, "trunk", mw_sip_header(invite, "x-byoc-trunk"));
	rc |= param_add(s, "did", mw_sip_header(invite, "x-byoc-did"));
	rc |= param_add(s, "from", from);
	rc |= param_add(s, "to", to);
	rc |= param_add(s, "caller", caller);
	rc |= param_add(s, "agent", mw_sip_header(invite, "x-byoc-agent"));
	if(mw_sip_call_id(invite, cid, sizeof(cid)) > 0)
		rc |= param_add(s, "call_id", cid);
	rc |= param_add(s, "direction", dir && *dir ? dir : "inbound");
	rc |= param_add(s, "tenant", mw_sip_header(invite, "x-byoc-tenant"));
	/* every X- header, as "x-<lowercase name>" (oSIP lower-cases names);
	 * never the edge-to-worker shared secret */
	for(i = 0; (h = osip_list_get(&invite->headers, i)) != NULL; i++) {
		char key[BR_HDR_NAME_MAX + 1];
		size_t k, n;
		if(!h->hname || strncasecmp(h->hname, "x-", 2) != 0)
			continue;
		n = strlen(h->hname);
		if(n >= sizeof(key))
			continue;
		for(k = 0; k <= n; k++)
			key[k] = (char)tolower((unsigned char)h->hname[k]);
		if(strcmp(key, "x-byoc-secret") == 0)
			continue;
		rc |= param_add(s, key, h->hvalue ? h->hvalue : "");
	}
	if(agent_params && *agent_params) {
		json_error_t err;
		json_t *o = json_loads(agent_params, 0, &err), *v;
		const char *k;
		if(json_is_object(o)) {
			json_object_foreach(o, k, v)
			{
				if(json_is_string(v))
					rc |= param_add(s, k, json_string_value(v));
			}
		}
		json_decref(o);
	}
	return rc ? -ENOMEM : 0;
}

void mw_call_setup_clear(struct mw_call_setup *s)
{
	size_t i;

	for(i = 0; i < s->nparams; i++) {
		free(s->keys[i]);
		free(s->vals[i]);
	}
	s->nparams = 0;
	if(s->ws_headers) {
		br_secret_wipe(s->ws_headers, strlen(s->ws_headers));
		free(s->ws_headers);
		s->ws_headers = NULL;
	}
}

int mw_call_info_dtmf(
		const char *ctype, const char *body, size_t len, int *duration_ms)
{
	char buf[256], *p, *sig = NULL;
	int d = -1;

	*duration_ms = 100;
	if(!body || !len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, body, len);
	buf[len] = 0;
	if(strcmp(ctype, "application/dtmf-relay") == 0) {
		for(p = strtok(buf, "\r\n"); p; p = strtok(NULL, "\r\n")) {
			while(*p == ' ')
				p++;
			if(strncasecmp(p, "Signal", 6) == 0 && (p = strchr(p, '=')))
				sig = p + 1;
			else if(strncasecmp(p, "Duration", 8) == 0 &&
					(p = strchr(p, '='))) {
				int v = atoi(p + 1);
				if(v > 0 && v < 10000)
					*duration_ms = v;
			}
		}
	} else if(strcmp(ctype, "application/dtmf") == 0) {
		sig = buf;
	} else {
		return -EINVAL;
	}
	if(!sig)
		return -EINVAL;
	while(*sig == ' ' || *sig == '\t')
		sig++;
	if(sig[0] && (sig[1] == 0 || isspace((unsigned char)sig[1]))) {
		d = toupper((unsigned char)sig[0]);
		if(!isdigit(d) && d != '*' && d != '#' && !(d >= 'A' && d <= 'D'))
			d = -1;
	} else if(strncmp(sig, "10", 2) == 0) {
		d = '*';
	} else if(strncmp(sig, "11", 2) == 0) {
		d = '#';
	}
	return d < 0 ? -EINVAL : d;
}

/* ---- agent lookup ----------------------------------------------------------- */

static void start_setup(struct mw_call *c)
{
	const struct mw_config *cfg = mw_ua_config(c->ua);
	osip_message_t *sent = NULL;

	c->mt = mw_ua_pick_thread(c->ua);
	/* 180 Ringing creates the early dialog while the AI connects */
	mw_ua_respond(
			c->ua, c->ist, 180, NULL, c->local_tag, NULL, NULL, NULL, &sent);
	if(sent) {
		if(!c->dlg)
			osip_dialog_init_as_uas(&c->dlg, c->ist->orig_request, sent);
		osip_message_free(sent);
	}
	call_set_state(c, MW_CALL_CONNECTING);
	c->media_posted = 1;
	arm_timer_ms(c, (int64_t)cfg->ai_connect_timeout_ms + SETUP_GUARD_MS);
	MW_INFO("call %llu %s: agent %s, connecting %s on thread %u",
			(unsigned long long)c->serial, c->call_id,
			c->setup.agent[0] ? c->setup.agent : "(default)", c->setup.ws_url,
			c->mt->idx);
	post(c->mt, m_on_setup, c, NULL, 0);
}

/* The header carrying the token: the value stored is used as it is,
 * except that a bare token for Authorization becomes "Bearer <token>". */
static int auth_header(
		struct mw_call *c, const br_agent_t *a, const char *token)
{
	const char *name = a->auth_header[0] ? a->auth_header : "Authorization";
	int bearer = strcasecmp(name, "Authorization") == 0 && !strchr(token, ' ');
	size_t n = strlen(name) + strlen(token) + 16;

	c->setup.ws_headers = malloc(n);
	if(!c->setup.ws_headers)
		return -ENOMEM;
	snprintf(c->setup.ws_headers, n, "%s: %s%s\r\n", name,
			bearer ? "Bearer " : "", token);
	return 0;
}

static void agent_cb(void *arg, int rc, const br_agent_t *a, const char *err)
{
	struct mw_call *c = arg;
	const struct mw_config *cfg = mw_ua_config(c->ua);
	char aad[BR_ID_MAX + 8], token[BR_SECRET_PLAIN_MAX + 1];
	const char *url;
	int n;

	c->redis_pending = 0;
	mw_log_ctx(c->call_id);
	if(c->state != MW_CALL_NEW) {
		/* cancelled while we looked */
		maybe_done(c);
		goto out;
	}
	if(rc == -ENOENT) {
		call_refuse(c, 404, "Agent Not Found", NULL, MW_C_CALL_AGENT_UNKNOWN);
		goto out;
	}
	if(rc == -EIO || rc == -ENOMEM) {
		MW_WARN("call %llu: agent lookup failed: %s",
				(unsigned long long)c->serial, err);
		call_refuse(c, 503, "Service Unavailable",
				"Retry-After: 2\r\n"
				"Reason: Q.850;cause=41;text=\"configuration store "
				"unavailable\"\r\n",
				MW_C_CALL_REDIS_FAILED);
		goto out;
	}
	if(rc < 0) {
		MW_WARN("call %llu: agent %s record invalid: %s",
				(unsigned long long)c->serial, c->setup.agent, err);
		call_refuse(
				c, 480, "Agent Misconfigured", NULL, MW_C_CALL_AGENT_CONFIG);
		goto out;
	}
	if(!a->enabled) {
		call_refuse(c, 480, "Agent Disabled", NULL, MW_C_CALL_AGENT_UNKNOWN);
		goto out;
	}
	if(a->protocol != BR_AI_TWILIO && a->protocol != BR_AI_L16) {
		MW_WARN("call %llu: agent %s uses an AI protocol this worker does "
				"not speak",
				(unsigned long long)c->serial, a->id);
		call_refuse(
				c, 480, "Agent Misconfigured", NULL, MW_C_CALL_AGENT_CONFIG);
		goto out;
	}
	c->setup.ai_proto = a->protocol;
	/* a wideband agent: our own offers (late offer) put G.722/opus first */
	if(a->protocol == BR_AI_L16 && c->lsdp.wideband)
		c->lsdp.wideband = 2;
	url = a->ws_url[0] ? a->ws_url : cfg->agent_default_url;
	if(!url[0]) {
		MW_WARN("call %llu: agent %s has no ws_url and no "
				"BYOC_AGENT_DEFAULT_URL is set",
				(unsigned long long)c->serial, a->id);
		call_refuse(
				c, 480, "Agent Misconfigured", NULL, MW_C_CALL_AGENT_CONFIG);
		goto out;
	}
	snprintf(c->setup.ws_url, sizeof(c->setup.ws_url), "%s", url);
	if(a->auth_token_enc[0]) {
		if(!cfg->have_secret_key) {
			MW_WARN("call %llu: agent %s has an auth token but no "
					"BYOC_SECRET_KEY(_FILE) is configured",
					(unsigned long long)c->serial, a->id);
			call_refuse(c, 480, "Agent Misconfigured", NULL,
					MW_C_CALL_AGENT_CONFIG);
			goto out;
		}
		snprintf(aad, sizeof(aad), "agent:%s", a->id);
		n = br_secret_decrypt(
				cfg->secret_key, aad, a->auth_token_enc, token, sizeof(token));
		if(n < 0) {
			MW_WARN("call %llu: agent %s auth token does not decrypt (%s)",
					(unsigned long long)c->serial, a->id,
					n == -EBADMSG ? "wrong key or record" : "malformed");
			call_refuse(c, 480, "Agent Misconfigured", NULL,
					MW_C_CALL_AGENT_CONFIG);
			goto out;
		}
		rc = auth_header(c, a, token);
		br_secret_wipe(token, sizeof(token));
		if(rc < 0) {
			call_refuse(c, 500, NULL, NULL, MW_C__MAX);
			goto out;
		}
	}
	c->max_duration = a->max_duration;
	c->fail_policy = a->fail_policy;
	snprintf(c->fail_target, sizeof(c->fail_target), "%s", a->fail_target);
	snprintf(c->cdr.tenant, sizeof(c->cdr.tenant), "%s", a->tenant);
	if(c->outbound) {
		mw_dial_on_agent(c, a);
		goto out;
	}
	if(!c->ist ||
			mw_call_params(&c->setup, c->ist->orig_request, a->params) < 0) {
		call_refuse(c, 500, NULL, NULL, MW_C__MAX);
		goto out;
	}
	start_setup(c);
out:
	mw_log_ctx(NULL);
}

int mw_call_new(struct mw_ua *ua, osip_transaction_t *ist,
		osip_message_t *invite, const struct mw_peer *peer,
		struct mw_call **out)
{
	const struct mw_config *cfg = mw_ua_config(ua);
	osip_generic_param_t *ftag = NULL;
	struct mw_call *c;
	const char *agent, *body;
	char ctype[64], cid[MW_SIP_MAX_LINE];
	size_t blen;
	int rc;

	*out = NULL;
	if(mw_sip_call_id(invite, cid, sizeof(cid)) <= 0)
		return -EINVAL; /* the parser checked it: not reached */
	rc = mw__call_alloc(ua, cid, &c);
	if(rc < 0)
		return rc;
	osip_from_get_tag(invite->from, &ftag);
	if(ftag && ftag->gvalue)
		snprintf(c->from_tag, sizeof(c->from_tag), "%s", ftag->gvalue);
	mw_sip_u31(invite->cseq->number, &c->invite_cseq);
	c->peer = *peer;
	c->ist = ist;
	*out = c;
	/* from here on refusals answer the INVITE and end the call; the UA
	 * links it first and frees it later */
	mw_log_ctx(c->call_id);
	mw_cdr_inbound(c, invite);
	body = mw_sip_body(invite, &blen, ctype, sizeof(ctype));
	if(body) {
		rc = mw_sdp_parse(body, blen, &c->remote);
		if(rc == 0 && !remote_ok(c, &c->remote))
			rc = -ENOMEDIUM;
		if(rc == -ENOMEDIUM) {
			call_refuse(c, 488, NULL,
					"Warning: 304 byoc \"no common audio codec (PCMU, "
					"PCMA, G722, opus)\"\r\n",
					MW_C_CALL_SDP_REJECTED);
			goto out;
		}
		if(rc < 0) {
			call_refuse(c, 400, "Bad SDP", NULL, MW_C_CALL_BAD_REQUEST);
			goto out;
		}
		c->have_remote = 1;
	} else {
		c->late_offer =
				1; /* our offer goes in the 200, the answer in the ACK */
	}
	c->setup.dtmf_mode = dtmf_mode(mw_sip_header(invite, "x-byoc-dtmf"));
	agent = mw_sip_header(invite, "x-byoc-agent");
	if(!agent || !*agent) {
		if(!cfg->agent_default_url[0]) {
			call_refuse(c, 480, "No Agent", NULL, MW_C_CALL_AGENT_UNKNOWN);
			goto out;
		}
		/* no agent: the default backend (demo, direct tests) */
		snprintf(c->setup.ws_url, sizeof(c->setup.ws_url), "%s",
				cfg->agent_default_url);
		if(mw_call_params(&c->setup, invite, NULL) < 0) {
			call_refuse(c, 500, NULL, NULL, MW_C__MAX);
			goto out;
		}
		start_setup(c);
		goto out;
	}
	snprintf(c->setup.agent, sizeof(c->setup.agent), "%s", agent);
	rc = mw_registry_get_agent(mw_ua_registry(ua), agent, agent_cb, c);
	if(rc == -EINVAL) {
		call_refuse(c, 404, "Agent Not Found", NULL, MW_C_CALL_AGENT_UNKNOWN);
	} else if(rc < 0) {
		MW_WARN("call %s: redis unavailable for the agent lookup", c->call_id);
		call_refuse(c, 503, "Service Unavailable",
				"Retry-After: 2\r\nReason: Q.850;cause=41;text=\"configuration "
				"store unavailable\"\r\n",
				MW_C_CALL_REDIS_FAILED);
	} else {
		c->redis_pending = 1;
	}
out:
	mw_log_ctx(NULL);
	return 0;
}

int mw_call_match(struct mw_call *c, osip_message_t *req)
{
	return c->dlg && osip_dialog_match_as_uas(c->dlg, req) == 0;
}

/* ---- answers from the media thread --------------------------------------- */

/* 200 OK with our SDP (port 'port'): an inbound call connected to its
 * AI, or answered for the AI failure policy. */
static void answer(struct mw_call *c, uint16_t port)
{
	char body[MW_SDP_MAX];
	osip_message_t *sent = NULL;
	int n;

	c->lsdp.port = port;
	n = c->have_remote
				? mw_sdp_answer(&c->lsdp, &c->remote, body, sizeof(body))
				: mw_sdp_offer(&c->lsdp, MW_DIR_SENDRECV, body, sizeof(body));
	if(n < 0) {
		call_refuse(c, 500, NULL, NULL, MW_C_CALL_MEDIA_FAILED);
		return;
	}
	mw_ua_respond(c->ua, c->ist, 200, NULL, c->local_tag, NULL,
			"application/sdp", body, &sent);
	if(!sent) {
		call_refuse(c, 500, NULL, NULL, MW_C_CALL_MEDIA_FAILED);
		return;
	}
	if(!c->dlg)
		osip_dialog_init_as_uas(&c->dlg, c->ist->orig_request, sent);
	if(c->dlg) {
		osip_dialog_set_state(c->dlg, DIALOG_CONFIRMED);
		mw_ua_retransmit_2xx(c->ua, c->dlg, sent, &c->peer);
	}
	osip_message_free(sent);
	call_set_state(c, MW_CALL_ANSWERED);
	c->t_answer_ms = mw_now_ms();
	c->cdr.answer_at = mw_cdr_now();
	c->cdr.sip_code = 200;
	mw_cdr_event(c, "answered", "trunk", c->cdr.trunk, NULL, NULL);
	MW_COUNT(MW_C_CALL_ANSWERED);
	MW_INFO("call %llu %s answered in %lld ms (RTP port %u, %s)",
			(unsigned long long)c->serial, c->call_id,
			(long long)(c->t_answer_ms - c->t_invite_ms), port,
			c->have_remote ? "answer" : "late offer");
	arm_timer_ms(c, ACK_WAIT_S * 1000);
	if(c->have_remote) {
		struct msg_remote m = {c->remote};
		post(c->mt, m_on_start, c, &m, sizeof(m));
	}
}

static void s_on_ready(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	uint16_t port;

	if(c->outbound || c->ai_failed) {
		/* outbound: the AI is connected after the answer */
		if(c->outbound && !c->ai_failed && c->state < MW_CALL_ENDING)
			mw_cdr_event(c, "ai_connected", NULL, NULL, NULL, NULL);
		return;
	}
	if(c->state != MW_CALL_CONNECTING || !c->ist)
		return; /* cancelled meanwhile: STOP is on its way */
	mw_log_ctx(c->call_id);
	memcpy(&port, data, sizeof(port));
	mw_cdr_event(c, "ai_connected", NULL, NULL, NULL, NULL);
	answer(c, port);
	mw_log_ctx(NULL);
}

static void s_on_failed(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_text *m = data;

	mw_log_ctx(c->call_id);
	if(c->outbound && m->code && !c->cdr.answer_at) {
		/* before the INVITE: no RTP port */
		mw_dial_on_media_failed(c, m->text);
		goto out;
	}
	if(!m->code && c->state < MW_CALL_ENDING &&
			mw_policy_ai_failed(c, m->text, m->port))
		goto out; /* the agent's failure policy runs the call now */
	if(c->state == MW_CALL_CONNECTING) {
		MW_WARN("call %llu %s: %s (%s): answering 503",
				(unsigned long long)c->serial, c->call_id,
				m->code ? "no RTP port" : "AI backend unavailable", m->text);
		if(m->code)
			call_refuse(c, 503, "Service Unavailable",
					"Retry-After: 1\r\n"
					"Reason: Q.850;cause=47;text=\"no media resources\"\r\n",
					MW_C_CALL_MEDIA_FAILED);
		else
			call_refuse(c, 503, "Service Unavailable",
					"Reason: Q.850;cause=41;text=\"AI backend "
					"unavailable\"\r\n",
					MW_C_CALL_AI_CONNECT_FAILED);
	} else {
		call_hangup(c, MW_END_AI_CLOSED, NULL);
	}
out:
	mw_log_ctx(NULL);
}

static void s_on_hangup(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_text *m = data;

	mw_log_ctx(c->call_id);
	/* the AI's connection dropped (not a normal close 1000): the agent's
	 * failure policy may keep the caller */
	if(m->code == MW_END_AI_CLOSED && m->detail != 1000 &&
			c->state < MW_CALL_ENDING &&
			mw_policy_ai_failed(c, "AI connection dropped", 0)) {
		mw_log_ctx(NULL);
		return;
	}
	if(c->ai_failed &&
			(m->code == MW_END_AI_CLOSED || m->code == MW_END_AI_HANGUP)) {
		mw_log_ctx(NULL);
		return; /* the policy runs the call: late news of the AI */
	}
	call_hangup(c, (enum mw_call_end)m->code, m->text);
	mw_log_ctx(NULL);
}

static void s_on_done(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;

	c->media_done = 1;
	maybe_done(c);
}

/* 1 when 'tr' is one of our INFO requests. */
static int tr_is_info(const osip_transaction_t *tr)
{
	return tr->orig_request && tr->orig_request->sip_method &&
		   strcmp(tr->orig_request->sip_method, "INFO") == 0;
}

/* Sends the next queued AI digit as SIP INFO (RFC 6086 with the
 * application/dtmf-relay body carriers expect), one at a time so they
 * arrive in order. */
static void info_next(struct mw_call *c)
{
	char body[64];

	if(c->info_busy || !c->info_len || c->state != MW_CALL_CONFIRMED ||
			c->bye_sent || !c->dlg)
		return;
	snprintf(body, sizeof(body), "Signal=%c\r\nDuration=100\r\n",
			c->info_q[c->info_head]);
	c->info_head = (c->info_head + 1) % MW_CALL_INFO_Q;
	c->info_len--;
	if(mw_ua_request_body(c->ua, c->dlg, &c->peer, "INFO", NULL,
			   "application/dtmf-relay", body, c) == 0)
		c->info_busy = 1;
}

static void s_on_info(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	const char *d = data;
	size_t i;

	for(i = 0; i < len && d[i]; i++) {
		if(c->info_len >= MW_CALL_INFO_Q) {
			MW_LOG_LIMIT(MW_LOG_NOTICE,
					"call %s: INFO DTMF queue full, digit dropped", c->call_id);
			break;
		}
		c->info_q[(c->info_head + c->info_len) % MW_CALL_INFO_Q] = d[i];
		c->info_len++;
	}
	info_next(c);
}

/* ---- SIP events ---------------------------------------------------------- */

void mw_call_on_ack(struct mw_call *c, osip_message_t *ack)
{
	struct mw_sdp_remote r;
	char ctype[64];
	size_t blen;
	const char *body = mw_sip_body(ack, &blen, ctype, sizeof(ctype));
	int had_offer = c->late_offer;

	mw_log_ctx(c->call_id);
	if(c->state == MW_CALL_ANSWERED) {
		event_del(c->timer);
		call_set_state(c, MW_CALL_CONFIRMED);
		if(c->max_duration)
			arm_timer_ms(c, (int64_t)c->max_duration * 1000);
	} else if(c->state != MW_CALL_CONFIRMED) {
		goto out;
	}
	if(had_offer) {
		/* the answer to our offer (late offer, or re-INVITE without SDP) */
		c->late_offer = 0;
		if(!body || mw_sdp_parse(body, blen, &r) < 0 || !remote_ok(c, &r)) {
			MW_WARN("call %llu: ACK without an acceptable SDP answer",
					(unsigned long long)c->serial);
			if(!c->have_remote) {
				send_bye(c, MW_END_REFUSED, "no SDP answer in ACK");
				goto out;
			}
		} else {
			struct msg_remote m = {r};
			int first = !c->have_remote;
			c->remote = r;
			c->have_remote = 1;
			post(c->mt, first ? m_on_start : m_on_remote, c, &m, sizeof(m));
		}
	}
	if(c->bye_after_ack) {
		c->bye_after_ack = 0;
		send_bye(c, c->bye_end, NULL);
	} else if(c->policy_on_confirm && c->state == MW_CALL_CONFIRMED) {
		c->policy_on_confirm = 0;
		mw_policy_on_confirmed(c);
	}
out:
	mw_log_ctx(NULL);
}

void mw_call_on_cancel(struct mw_call *c)
{
	mw_log_ctx(c->call_id);
	if(c->state == MW_CALL_NEW || c->state == MW_CALL_CONNECTING) {
		MW_INFO("call %llu %s cancelled by the caller",
				(unsigned long long)c->serial, c->call_id);
		if(c->ist)
			mw_ua_respond(c->ua, c->ist, 487, NULL, c->local_tag, NULL, NULL,
					NULL, NULL);
		MW_COUNT(MW_C_CALL_CANCELLED);
		call_finish(c, MW_END_CANCELLED);
	}
	mw_log_ctx(NULL);
}

/* A re-INVITE or UPDATE offer (or none). Responds on 'tr'. */
static void on_offer(struct mw_call *c, osip_transaction_t *tr,
		osip_message_t *req, int is_invite)
{
	struct mw_sdp_remote r;
	char body[MW_SDP_MAX], ctype[64];
	const char *b;
	osip_message_t *sent = NULL;
	size_t blen;
	int rc, n;

	if(c->state != MW_CALL_CONFIRMED || c->reinvite || c->late_offer) {
		/* an offer of ours is outstanding, or not answered yet */
		mw_ua_respond(c->ua, tr, 491, NULL, NULL, NULL, NULL, NULL, NULL);
		return;
	}
	b = mw_sip_body(req, &blen, ctype, sizeof(ctype));
	if(!b) {
		if(!is_invite) {
			/* UPDATE without SDP: session refresh */
			mw_ua_respond(c->ua, tr, 200, NULL, NULL, NULL, NULL, NULL, NULL);
			return;
		}
		/* re-INVITE without SDP: we offer, the answer comes in the ACK */
		n = mw_sdp_offer(&c->lsdp, MW_DIR_SENDRECV, body, sizeof(body));
		if(n < 0) {
			mw_ua_respond(c->ua, tr, 500, NULL, NULL, NULL, NULL, NULL, NULL);
			return;
		}
		c->late_offer = 1;
	} else {
		rc = mw_sdp_parse(b, blen, &r);
		if(rc == 0 && !remote_ok(c, &r))
			rc = -ENOMEDIUM;
		if(rc < 0) {
			/* the session goes on unchanged (RFC 3261 14.2) */
			mw_ua_respond(c->ua, tr, rc == -ENOMEDIUM ? 488 : 400, NULL, NULL,
					NULL, NULL, NULL, NULL);
			return;
		}
		n = mw_sdp_answer(&c->lsdp, &r, body, sizeof(body));
		if(n < 0) {
			mw_ua_respond(c->ua, tr, 500, NULL, NULL, NULL, NULL, NULL, NULL);
			return;
		}
		if(r.hold != c->remote.hold)
			MW_INFO("call %llu: %s by the far end",
					(unsigned long long)c->serial, r.hold ? "hold" : "resume");
		c->remote = r;
		{
			struct msg_remote m = {r};
			post(c->mt, m_on_remote, c, &m, sizeof(m));
		}
	}
	if(is_invite)
		c->reinvite = tr;
	mw_ua_respond(c->ua, tr, 200, NULL, NULL, NULL, "application/sdp", body,
			is_invite ? &sent : NULL);
	if(sent) {
		mw_ua_retransmit_2xx(c->ua, c->dlg, sent, &c->peer);
		osip_message_free(sent);
	}
}

void mw_call_on_request(
		struct mw_call *c, osip_transaction_t *tr, osip_message_t *req)
{
	uint32_t cseq = 0;

	mw_log_ctx(c->call_id);
	/* RFC 3261 12.2.2: a lower CSeq than the last one is out of order */
	mw_sip_u31(req->cseq->number, &cseq);
	if(c->dlg && (int64_t)cseq < (int64_t)c->dlg->remote_cseq) {
		mw_ua_respond(c->ua, tr, 500, "CSeq Out Of Order", NULL, NULL, NULL,
				NULL, NULL);
		goto out;
	}
	if(c->dlg)
		c->dlg->remote_cseq = (int)cseq;
	if(MSG_IS_BYE(req)) {
		mw_ua_respond(c->ua, tr, 200, NULL, NULL, NULL, NULL, NULL, NULL);
		if(c->state == MW_CALL_NEW || c->state == MW_CALL_CONNECTING) {
			if(c->ist)
				mw_ua_respond(c->ua, c->ist, 487, NULL, c->local_tag, NULL,
						NULL, NULL, NULL);
			MW_COUNT(MW_C_CALL_CANCELLED);
			call_finish(c, MW_END_CANCELLED);
		} else if(c->state < MW_CALL_ENDING) {
			MW_COUNT(MW_C_END_CALLER_BYE);
			MW_INFO("call %llu %s: caller hung up after %llds",
					(unsigned long long)c->serial, c->call_id,
					(long long)((mw_now_ms() - c->t_answer_ms) / 1000));
			call_finish(c, MW_END_CALLER_BYE);
		}
	} else if(MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) {
		on_offer(c, tr, req, MSG_IS_INVITE(req));
	} else if(MSG_IS_NOTIFY(req)) {
		mw_xfer_on_notify(c, tr, req);
	} else if(MSG_IS_INFO(req)) {
		char ctype[64];
		size_t blen;
		const char *b = mw_sip_body(req, &blen, ctype, sizeof(ctype));
		struct msg_dtmf d;
		int digit =
				b ? mw_call_info_dtmf(ctype, b, blen, &d.duration_ms) : -EINVAL;
		mw_ua_respond(c->ua, tr, 200, NULL, NULL, NULL, NULL, NULL, NULL);
		if(digit >= 0 && c->media_posted && !c->stop_posted) {
			d.digit = (char)digit;
			post(c->mt, m_on_dtmf, c, &d, sizeof(d));
		}
	} else {
		/* OPTIONS within the dialog */
		mw_ua_respond(c->ua, tr, 200, NULL, NULL,
				"Allow: " MW_UA_ALLOW "\r\nAccept: application/sdp\r\n", NULL,
				NULL, NULL);
	}
out:
	mw_log_ctx(NULL);
}

void mw_call_on_request_done(
		struct mw_call *c, osip_transaction_t *tr, int code)
{
	osip_message_t *req = tr ? tr->orig_request : NULL;

	if(req && MSG_IS_CANCEL(req))
		return; /* the INVITE's final answer tells the outcome */
	if(req && MSG_IS_REFER(req)) {
		mw_xfer_on_refer_done(c, code);
		return;
	}
	if(tr_is_info(tr)) {
		if(code >= 300)
			MW_LOG_LIMIT(MW_LOG_NOTICE, "call %s: INFO DTMF answered %d",
					c->call_id, code);
		c->info_busy = 0;
		info_next(c);
		return;
	}
	if(!c->bye_sent)
		return;
	MW_DBG("call %llu: BYE answered %d", (unsigned long long)c->serial, code);
	c->bye_sent = 0;
	maybe_done(c);
}

void mw_call_on_transaction_gone(struct mw_call *c, osip_transaction_t *tr)
{
	if(tr == c->ist)
		c->ist = NULL;
	if(tr == c->reinvite)
		c->reinvite = NULL;
	if(c->dial)
		mw_dial_on_transaction_gone(c, tr);
	if(tr->ctx_type == NICT && tr->orig_request &&
			MSG_IS_REFER(tr->orig_request)) {
		mw_xfer_on_refer_gone(c);
		return;
	}
	if(tr->ctx_type == NICT && tr_is_info(tr)) {
		/* ended without a final response callback */
		c->info_busy = 0;
		return;
	}
	if(tr->ctx_type == NICT && c->bye_sent) {
		/* ended without a final response callback (transport error) */
		c->bye_sent = 0;
		maybe_done(c);
	}
}

void mw_call_shutdown(struct mw_call *c)
{
	mw_log_ctx(c->call_id);
	if(c->outbound && mw_dial_shutdown(c)) {
		mw_log_ctx(NULL);
		return;
	}
	if(c->state == MW_CALL_NEW || c->state == MW_CALL_CONNECTING)
		call_refuse(c, 503, "Draining",
				"Retry-After: 5\r\nReason: Q.850;cause=41;text=\"worker "
				"shutting down\"\r\n",
				MW_C_CALL_REFUSED_DRAINING);
	else
		call_hangup(c, MW_END_SHUTDOWN, NULL);
	if(c->state == MW_CALL_ANSWERED) {
		/* no ACK coming in time for a shutdown: BYE now */
		call_set_state(c, MW_CALL_CONFIRMED);
		c->bye_after_ack = 0;
		send_bye(c, MW_END_SHUTDOWN, NULL);
	}
	mw_log_ctx(NULL);
}

void mw_call_record_at_exit(struct mw_call *c)
{
	if(c->end == MW_END_NONE)
		c->end = MW_END_SHUTDOWN;
	mw_cdr_final(c); /* both no-ops for a call already recorded */
	mw_dial_ended(c);
}

void mw_call_free(struct mw_call *c)
{
	if(!c)
		return;
	if(c->timer)
		event_free(c->timer);
	if(c->reaper)
		event_free(c->reaper);
	if(c->dlg)
		osip_dialog_free(c->dlg);
	mw_dial_free(c->dial);
	mw_xfer_free(c->xfer);
	mw_call_setup_clear(&c->setup);
	mw_ai_cleanup(&c->m.ai);
	free(c->call_id);
	free(c);
}

/* ===== media thread ====================================================== */

static void m_post_sip(
		struct mw_call *c, mw_thread_fn fn, int code, const char *text)
{
	struct msg_text m = {.code = code};

	if(text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	post(c->st, fn, c, &m, sizeof(m));
}

static void m_hangup(struct mw_call *c, enum mw_call_end end, const char *text)
{
	if(c->m.hangup_posted || c->m.stop_rx)
		return;
	c->m.hangup_posted = 1;
	m_post_sip(c, s_on_hangup, end, text);
}

/* mw_ai's way out: one frame to the backend while the socket is open. */
static void m_ai_send(void *arg, int is_text, const void *data, size_t len)
{
	struct mw_call *c = arg;

	if(!c->m.ws || !c->m.ws_open || c->m.ws_closed)
		return;
	if(is_text)
		mw_ws_send_text(c->m.ws, data, len);
	else
		mw_ws_send_binary(c->m.ws, data, len);
}

static void m_fold_stats(struct mw_call *c, int64_t *max_jitter)
{
	struct mw_media_stats s;
	struct mw_media_stats *f = &c->m.folded;

	if(!c->m.media)
		return;
	mw_media_get_stats(c->m.media, &s);
	mw_metric_add(MW_C_RTP_RX, s.rtp_rx - f->rtp_rx);
	mw_metric_add(MW_C_RTP_TX, s.rtp_tx - f->rtp_tx);
	mw_metric_add(MW_C_RTP_LOST, s.rtp_lost - f->rtp_lost);
	mw_metric_add(MW_C_RTP_BAD, s.rtp_bad - f->rtp_bad);
	mw_metric_add(MW_C_RTP_LATE, s.rtp_late - f->rtp_late);
	mw_metric_add(MW_C_PLAYOUT_UNDERRUNS, s.underruns - f->underruns);
	mw_metric_add(MW_C_PLAYOUT_DROPPED_MS,
			s.playout_dropped_ms - f->playout_dropped_ms);
	*f = s;
	if(s.jitter_ms > c->m.cdr.jitter_max_ms)
		c->m.cdr.jitter_max_ms = s.jitter_ms;
	if(max_jitter && (int64_t)s.jitter_ms > *max_jitter)
		*max_jitter = s.jitter_ms;
}

void mw_call_media_tick(struct mw_thread *t)
{
	struct mw_call *c;
	int64_t jitter = 0, n = 0;

	for(c = t->user; c; c = c->m.tnext) {
		m_fold_stats(c, &jitter);
		n++;
	}
	mw_gauge_set(MW_G_JITTER_MS, jitter);
	mw_gauge_set(MW_G_CALLS, n);
}

static void m_link(struct mw_thread *t, struct mw_call *c)
{
	struct mw_call *head = t->user;

	c->m.tprev = NULL;
	c->m.tnext = head;
	if(head)
		head->m.tprev = c;
	t->user = c;
}

static void m_unlink(struct mw_thread *t, struct mw_call *c)
{
	if(c->m.tprev)
		c->m.tprev->m.tnext = c->m.tnext;
	else if(t->user == c)
		t->user = c->m.tnext;
	if(c->m.tnext)
		c->m.tnext->m.tprev = c->m.tprev;
	c->m.tprev = c->m.tnext = NULL;
}

/* Releases the media half outside every callback of its objects. */
static void m_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;
	struct mw_thread *t = c->mt;

	if(c->m.ws) {
		mw_ws_free(c->m.ws);
		c->m.ws = NULL;
	}
	if(c->m.media) {
		m_fold_stats(c, NULL);
		mw_media_free(c->m.media);
		c->m.media = NULL;
	}
	if(c->m.guard) {
		event_free(c->m.guard);
		c->m.guard = NULL;
	}
	m_unlink(t, c);
	media_set_state(c, MW_CM_DONE);
	/* libevent allows freeing an event from its own callback */
	event_free(c->m.reap);
	c->m.reap = NULL;
	post(c->st, s_on_done, c, NULL, 0);
}

static void m_schedule_reap(struct mw_call *c)
{
	if(c->m.reap)
		event_active(c->m.reap, 0, 0);
}

static void m_guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;

	MW_DBG("call %llu: WebSocket close handshake timed out",
			(unsigned long long)c->serial);
	m_schedule_reap(c);
}

/* --- media engine callbacks --- */

static void on_audio(
		void *arg, const int16_t *pcm, size_t samples, uint64_t ts_ms)
{
	struct mw_call *c = arg;

	if(c->m.state != MW_CM_RUNNING || !c->m.ws_open || c->m.ws_closed)
		return;
	if(samples > FRAME_MAX)
		samples = FRAME_MAX;
	/* a slow backend: drop the caller's audio rather than queue without
	 * bound (the backend's own audio keeps flowing) */
	if(mw_ws_pending(c->m.ws) > mw_ua_config(c->ua)->ws_backlog_max) {
		MW_COUNT(MW_C_WS_MEDIA_DROPPED);
		MW_LOG_LIMIT(MW_LOG_WARN,
				"call %s: AI backend is slow, dropping "
				"inbound media",
				c->call_id);
		return;
	}
	if(mw_ai_audio(&c->m.ai, pcm, samples, ts_ms) == 0)
		MW_COUNT(MW_C_WS_MEDIA_SENT);
}

/* A key press of the caller, from any source: once to the AI. INFO is
 * signalled at the press (its span starts now), RFC 4733 events and
 * tones at their end (their span ends now). */
static void m_dtmf_in(struct mw_call *c, char digit, int src, int duration_ms)
{
	static const enum mw_ctr ctr[MW_DTMF_SRC__MAX] = {
			MW_C_DTMF_RTP, MW_C_DTMF_INFO, MW_C_DTMF_INBAND};
	uint32_t now = (uint32_t)(now_us() / 1000), d = (uint32_t)duration_ms;
	int n;

	if(src == MW_DTMF_SRC_INFO)
		n = mw_dtmf_dedup(&c->m.dd, digit, src, now, now + d);
	else
		n = mw_dtmf_dedup(&c->m.dd, digit, src, now - d, now);
	if(n == 0) {
		MW_COUNT(MW_C_DTMF_DUPLICATE);
		MW_DBG("call %s: DTMF %c (%s) already reported another way", c->call_id,
				digit, mw_dtmf_src_name(src));
		return;
	}
	if(n < 0)
		return;
	MW_COUNT(ctr[src]);
	c->m.cdr.dtmf_rx++;
	if(!c->m.start_sent || c->m.stop_rx)
		return;
	MW_INFO("call %s: DTMF %c (%s, %d ms)", c->call_id, digit,
			mw_dtmf_src_name(src), duration_ms);
	mw_ai_dtmf(&c->m.ai, digit, duration_ms);
}

static void on_dtmf(void *arg, char digit, int duration_ms, int source)
{
	m_dtmf_in(arg, digit, source, duration_ms);
}

/* Digits from the AI toward the caller, the trunk's way: RFC 4733 (or
 * tones when no telephone-event was negotiated), SIP INFO through the
 * SIP thread, or in-band tones. */
static void m_dtmf_out(struct mw_call *c, const char *digits)
{
	char info[MW_CALL_INFO_Q + 1];
	size_t i, k = 0;
	int rc;

	for(i = 0; c->m.media && digits[i] && i < MW_CALL_INFO_Q; i++) {
		if(c->setup.dtmf_mode == BR_DTMF_INFO) {
			info[k++] = digits[i];
			MW_COUNT(MW_C_DTMF_SENT_INFO);
			c->m.cdr.dtmf_tx++;
			continue;
		}
		rc = -ENOTSUP;
		if(c->setup.dtmf_mode == BR_DTMF_RFC2833) {
			rc = mw_media_send_dtmf(c->m.media, digits[i], 100);
			if(rc == 0)
				MW_COUNT(MW_C_DTMF_SENT_RFC4733);
		}
		/* inband, or no telephone-event negotiated on this call */
		if(rc == -ENOTSUP) {
			rc = mw_media_send_dtmf_inband(c->m.media, digits[i], 100);
			if(rc == 0)
				MW_COUNT(MW_C_DTMF_SENT_INBAND);
		}
		if(rc < 0)
			MW_LOG_LIMIT(MW_LOG_NOTICE, "call %s: AI digit %c not sent: %s",
					c->call_id, digits[i], strerror(-rc));
		else
			c->m.cdr.dtmf_tx++;
	}
	if(k) {
		info[k++] = 0;
		post(c->st, s_on_info, c, info, k);
	}
}

static void on_mark(void *arg, const char *name)
{
	struct mw_call *c = arg;

	if(mw_policy_m_mark(c, name))
		return; /* the fallback message has been played */
	if(!c->m.start_sent)
		return;
	mw_ai_mark(&c->m.ai, name, c->m.clearing);
}

static void on_timeout(void *arg)
{
	struct mw_call *c = arg;

	MW_WARN("call %s: no RTP from the caller for %us", c->call_id,
			mw_ua_config(c->ua)->rtp_timeout_s);
	m_hangup(c, MW_END_RTP_TIMEOUT, NULL);
}

/* --- WebSocket callbacks --- */

static void ws_open_cb(struct mw_ws *ws, void *arg)
{
	struct mw_call *c = arg;
	const char *const *keys = (const char *const *)c->setup.keys;
	const char *const *vals = (const char *const *)c->setup.vals;

	MW_COUNT(MW_C_WS_CONNECTS);
	c->m.cdr.ai_open_us = now_us();
	mw_metrics_ws_latency((uint64_t)(c->m.cdr.ai_open_us - c->m.ws_t0_us));
	c->m.ws_open = 1;
	if(c->m.stop_rx) {
		mw_ws_close(ws, 1000, "call ended");
		return;
	}
	/* Twilio: "connected" then "start"; L16: the metadata */
	c->m.start_sent = mw_ai_hello(&c->m.ai, keys, vals, c->setup.nparams) == 0;
	if(c->m.state == MW_CM_CONNECTING) /* outbound: already RUNNING */
		media_set_state(c, MW_CM_READY);
	post(c->st, s_on_ready, c, &c->m.port, sizeof(c->m.port));
}

static void ws_message_cb(struct mw_ws *ws, int is_text, const uint8_t *data,
		size_t len, void *arg)
{
	struct mw_call *c = arg;
	struct mw_ai_in ai;
	struct mw_twilio_in in;

	MW_COUNT(MW_C_WS_MSG_RX);
	/* the agent's protocol: audio decoded to PCM at its rate */
	mw_ai_receive(&c->m.ai, is_text, data, len, &ai);
	in = ai.m;
	switch(in.type) {
		case MW_TW_MEDIA:
			if(c->m.media && ai.samples && !c->m.cdr.ai_first_audio_us)
				c->m.cdr.ai_first_audio_us = now_us();
			if(c->m.media && ai.samples)
				mw_media_play(c->m.media, ai.pcm, ai.samples);
			break;
		case MW_TW_MARK:
			if(c->m.media)
				mw_media_mark(c->m.media, in.name ? in.name : "");
			break;
		case MW_TW_CLEAR:
			/* pending marks echo from inside, as "cleared" for L16 */
			c->m.clearing = 1;
			if(c->m.media)
				mw_media_clear(c->m.media);
			c->m.clearing = 0;
			break;
		case MW_TW_HANGUP:
			MW_INFO("call %s: AI hangup%s%s", c->call_id,
					in.name && *in.name ? ": " : "", in.name ? in.name : "");
			m_hangup(c, MW_END_AI_HANGUP, in.name);
			break;
		case MW_TW_SEND_DTMF:
			if(in.name)
				m_dtmf_out(c, in.name);
			break;
		case MW_TW_TRANSFER:
			MW_INFO("call %s: AI asks for a transfer to %s", c->call_id,
					in.name);
			mw_xfer_m_request(c, in.name, in.headers);
			break;
		case MW_TW_IGNORED:
			MW_COUNT(MW_C_WS_MSG_IGNORED);
			break;
		case MW_TW_INVALID:
			MW_COUNT(MW_C_WS_MSG_INVALID);
			MW_LOG_LIMIT(MW_LOG_NOTICE, "call %s: invalid message from the AI",
					c->call_id);
			break;
	}
	mw_ai_in_free(&ai);
}

static void ws_close_cb(
		struct mw_ws *ws, int code, const char *reason, void *arg)
{
	struct mw_call *c = arg;
	int was_open = c->m.ws_open;

	c->m.ws_open = 0;
	c->m.ws_closed = 1;
	c->m.cdr.ai_close_code = code;
	if(!was_open) {
		/* never opened (inbound: before the answer; outbound: after) */
		MW_COUNT(MW_C_WS_CONNECT_ERRORS);
		if(!c->m.hangup_posted && !c->m.stop_rx) {
			struct msg_text m = {.code = 0, .detail = code, .port = c->m.port};
			c->m.hangup_posted = 1;
			snprintf(m.text, sizeof(m.text), "%s", reason ? reason : "");
			post(c->st, s_on_failed, c, &m, sizeof(m));
		}
	} else if(!c->m.stop_rx) {
		if(code != 1000)
			MW_COUNT(MW_C_WS_ERRORS);
		MW_INFO("call %s: AI backend closed the socket (%d %s)", c->call_id,
				code, reason ? reason : "");
		if(!c->m.hangup_posted && !c->m.policy_msg) {
			struct msg_text m = {.code = MW_END_AI_CLOSED, .detail = code};
			c->m.hangup_posted = 1;
			post(c->st, s_on_hangup, c, &m, sizeof(m));
		}
	}
	if(c->m.stop_rx)
		m_schedule_reap(c);
}

/* --- messages from the SIP thread --- */

static void m_on_setup(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	const struct mw_config *cfg = mw_ua_config(c->ua);
	struct mw_media_cfg mc = {
			.local_ip = cfg->rtp_ip,
			.port_min = cfg->rtp_min,
			.port_max = cfg->rtp_max,
			.jb_min_ms = 20,
			.jb_max_ms = 200,
			.rtp_timeout_ms = (int)cfg->rtp_timeout_s * 1000,
			.playout_max_ms = 300000,
			.dtmf_inband = c->setup.dtmf_mode == BR_DTMF_INBAND,
	};
	static const struct mw_media_cbs mcbs = {
			on_audio, on_dtmf, on_mark, on_timeout};
	int rc;

	mw_log_ctx(c->call_id);
	m_link(t, c);
	c->m.reap = event_new(t->base, -1, 0, m_reap_cb, c);
	c->m.guard = event_new(t->base, -1, 0, m_guard_cb, c);
	if(!c->m.reap || !c->m.guard) {
		MW_ERR("call %s: out of memory", c->call_id);
		abort(); /* nothing sane left to do (mw_xmalloc policy) */
	}
	media_set_state(c, MW_CM_CONNECTING);
	/* the media engine hands audio over at the AI protocol's rate */
	mw_ai_init(&c->m.ai, c->setup.ai_proto, m_ai_send, c);
	mc.api_rate = mw_ai_rate(&c->m.ai);
	rc = mw_media_new(t->clock, &mc, &mcbs, c, &c->m.media, &c->m.port);
	if(rc < 0) {
		c->m.hangup_posted = 1;
		m_post_sip(c, s_on_failed, 1, strerror(-rc));
		goto out;
	}
	mw_dtmf_dedup_init(&c->m.dd);
	if(c->setup.defer_ai)
		/* outbound: the offer needs the port now, the AI comes with
		 * the answer (m_on_start) */
		post(c->st, mw_dial_on_bound, c, &c->m.port, sizeof(c->m.port));
	else
		m_connect_ai(c, t);
out:
	mw_log_ctx(NULL);
}

/* Opens the AI's WebSocket (ws_open_cb / ws_close_cb follow). */
static void m_connect_ai(struct mw_call *c, struct mw_thread *t)
{
	const struct mw_config *cfg = mw_ua_config(c->ua);
	static const struct mw_ws_cbs wcbs = {
			ws_open_cb, ws_message_cb, ws_close_cb};
	struct mw_ws_client_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.url = c->setup.ws_url;
	o.headers = c->setup.ws_headers;
	o.subprotocols = mw_ai_subprotocol(&c->m.ai);
	o.connect_timeout_ms = (int)cfg->ai_connect_timeout_ms;
	o.max_message = WS_MAX_MESSAGE;
	o.ssl_ctx =
			strncmp(c->setup.ws_url, "wss:", 4) == 0 ? mw_ua_ssl(c->ua) : NULL;
	c->m.ws_t0_us = now_us();
	c->m.cdr.ai_t0_us = c->m.ws_t0_us;
	rc = mw_ws_connect(t->base, t->dns, &o, &wcbs, c, &c->m.ws);
	if(rc < 0) {
		struct msg_text m = {.code = 0, .port = c->m.port};
		MW_COUNT(MW_C_WS_CONNECT_ERRORS);
		c->m.ws = NULL;
		c->m.ws_closed = 1;
		c->m.hangup_posted = 1;
		snprintf(m.text, sizeof(m.text), "%s", strerror(-rc));
		post(c->st, s_on_failed, c, &m, sizeof(m));
	}
}

static int remote_sockaddr(const struct mw_sdp_remote *r,
		struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if(r->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(r->port);
		if(inet_pton(AF_INET6, r->ip, &s6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(r->port);
		if(inet_pton(AF_INET, r->ip, &s4->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*s4);
	}
	return 0;
}

static void m_apply_remote(struct mw_call *c, const struct mw_sdp_remote *r)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if(!c->m.media)
		return;
	if(remote_sockaddr(r, &ss, &len) == 0)
		mw_media_set_remote(c->m.media, (struct sockaddr *)&ss, len, r->codec,
				r->pt, r->te_pt);
	mw_media_hold(c->m.media, r->hold);
}

static void m_on_start(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_remote *m = data;

	int codec;

	if(c->m.stop_rx || !c->m.media)
		return;
	m_apply_remote(c, &m->r);
	if(mw_media_start(c->m.media) == 0)
		media_set_state(c, MW_CM_RUNNING);
	codec = mw_media_codec(c->m.media);
	MW_COUNT(codec == MW_CODEC_PCMA	  ? MW_C_CODEC_PCMA
			 : codec == MW_CODEC_G722 ? MW_C_CODEC_G722
			 : codec == MW_CODEC_OPUS ? MW_C_CODEC_OPUS
									  : MW_C_CODEC_PCMU);
	MW_INFO("call %s: media %s, AI %s at %u Hz", c->call_id,
			mw_codec_desc(codec)->name,
			c->m.ai.proto == BR_AI_L16 ? "L16" : "Twilio",
			mw_ai_rate(&c->m.ai));
	if(c->setup.defer_ai && !c->m.ws && !c->m.ws_closed)
		m_connect_ai(c, t); /* outbound: answered, now the AI */
}

static void m_on_remote(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_remote *m = data;

	if(c->m.stop_rx)
		return;
	m_apply_remote(c, &m->r);
}

static void m_on_dtmf(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct msg_dtmf *d = data;

	if(c->m.stop_rx)
		return;
	m_dtmf_in(c, d->digit, MW_DTMF_SRC_INFO, d->duration_ms);
}

static void m_on_stop(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct mw_call *c = obj;
	struct timeval tv = {CLOSE_GUARD_S, 0};

	c->m.stop_rx = 1;
	media_set_state(c, MW_CM_CLOSING);
	if(c->m.media) {
		/* not inside a media callback here: free it now, its clock stops */
		m_fold_stats(c, NULL);
		mw_media_free(c->m.media);
		c->m.media = NULL;
	}
	if(c->m.ws && !c->m.ws_closed) {
		if(c->m.ws_open && c->m.start_sent) {
			/* Twilio's rule 12: "stop", then close 1000 */
			mw_ai_bye(&c->m.ai);
		}
		mw_ws_close(c->m.ws, 1000, "call ended");
		event_add(c->m.guard, &tv);
		return; /* reaped from ws_close_cb or the guard */
	}
	m_schedule_reap(c);
}

/* ===== steps shared with mw_dial, mw_xfer, mw_cdr (mw_call_int.h) ======= */

int mw__call_alloc(struct mw_ua *ua, const char *call_id, struct mw_call **out)
{
	const struct mw_config *cfg = mw_ua_config(ua);
	struct mw_call *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if(!c)
		return -ENOMEM;
	c->ua = ua;
	c->serial = ++call_serial;
	c->st = mw_thread_self();
	c->call_id = strdup(call_id);
	c->timer = event_new(mw_ua_base(ua), -1, 0, call_timer_cb, c);
	if(!c->call_id || !c->timer) {
		free(c->call_id);
		if(c->timer)
			event_free(c->timer);
		free(c);
		return -ENOMEM;
	}
	mw_sip_token(c->local_tag, 16);
	c->t_invite_ms = mw_now_ms();
	mw_sdp_local_init(&c->lsdp, cfg->media_ip, 0);
	c->lsdp.wideband = cfg->wideband;
	*out = c;
	return 0;
}

void mw__call_set_state(struct mw_call *c, enum mw_call_state s)
{
	call_set_state(c, s);
}

void mw__call_finish(struct mw_call *c, enum mw_call_end end)
{
	call_finish(c, end);
}

void mw__call_maybe_done(struct mw_call *c)
{
	maybe_done(c);
}

void mw__call_bye(struct mw_call *c, enum mw_call_end end, const char *text)
{
	send_bye(c, end, text);
}

void mw__call_hangup(struct mw_call *c, enum mw_call_end end, const char *text)
{
	call_hangup(c, end, text);
}

void mw__call_refuse(struct mw_call *c, int code, const char *reason)
{
	call_refuse(c, code, reason, NULL, MW_C__MAX);
}

int mw__call_lookup_agent(struct mw_call *c)
{
	int rc = mw_registry_get_agent(
			mw_ua_registry(c->ua), c->setup.agent, agent_cb, c);

	if(rc == 0)
		c->redis_pending = 1;
	return rc;
}

void mw__call_setup_media(struct mw_call *c)
{
	c->mt = mw_ua_pick_thread(c->ua);
	c->media_posted = 1;
	post(c->mt, m_on_setup, c, NULL, 0);
}

void mw__call_start_media(struct mw_call *c)
{
	struct msg_remote m = {c->remote};

	post(c->mt, m_on_start, c, &m, sizeof(m));
}

void mw__call_arm_max_duration(struct mw_call *c)
{
	if(c->max_duration)
		arm_timer_ms(c, (int64_t)c->max_duration * 1000);
}

void mw__call_answer(struct mw_call *c, uint16_t port)
{
	event_del(c->timer); /* the AI connect guard */
	answer(c, port);
}

int mw__call_param(struct mw_call_setup *s, const char *k, const char *v)
{
	return param_add(s, k, v);
}

int mw__call_remote_ok(const struct mw_call *c, struct mw_sdp_remote *r)
{
	return remote_ok(c, r);
}

void mw__call_post_media(
		struct mw_call *c, mw_thread_fn fn, const void *data, size_t len)
{
	if(c->media_posted && !c->stop_posted)
		post(c->mt, fn, c, data, len);
}

void mw__call_m_hangup(
		struct mw_call *c, enum mw_call_end end, const char *text)
{
	m_hangup(c, end, text);
}

void mw__call_post_sip(
		struct mw_call *c, mw_thread_fn fn, const void *data, size_t len)
{
	post(c->st, fn, c, data, len);
}
