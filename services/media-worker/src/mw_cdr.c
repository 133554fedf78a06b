/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_cdr.c -- call lifecycle events and final call records (see
 * mw_cdr.h), built from the call and queued on mw_record.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mw_call.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_record.h"
#include "mw_sip.h"
#include "mw_ua.h"

static const char *const end_names[MW_END__MAX] = {
		[MW_END_NONE] = "none",
		[MW_END_CALLER_BYE] = "remote_bye",
		[MW_END_AI_HANGUP] = "ai_hangup",
		[MW_END_AI_CLOSED] = "ai_closed",
		[MW_END_RTP_TIMEOUT] = "rtp_timeout",
		[MW_END_ACK_TIMEOUT] = "ack_timeout",
		[MW_END_MAX_DURATION] = "max_duration",
		[MW_END_SHUTDOWN] = "shutdown",
		[MW_END_CANCELLED] = "canceled",
		[MW_END_REFUSED] = "refused",
		[MW_END_TRANSFERRED] = "transferred",
		[MW_END_AI_FAILED] = "ai_failed",
};

int64_t mw_cdr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mw_cdr_end_cause(int end)
{
	return end >= 0 && end < MW_END__MAX && end_names[end] ? end_names[end]
														   : "none";
}

const char *mw_cdr_outcome(const struct mw_call *c)
{
	if(c->cdr.outcome)
		return c->cdr.outcome;
	if(c->cdr.answer_at)
		return "answered";
	if(c->end == MW_END_CANCELLED)
		return "canceled";
	return c->outbound ? "failed" : "refused";
}

const char *mw_cdr_hangup_by(const struct mw_call *c)
{
	switch(c->end) {
		case MW_END_CALLER_BYE:
			return "remote";
		case MW_END_AI_HANGUP:
		case MW_END_AI_CLOSED:
			return "ai";
		case MW_END_TRANSFERRED:
			return "transfer";
		case MW_END_CANCELLED:
			/* inbound: the caller's CANCEL; outbound: ours */
			return c->outbound ? "worker" : "remote";
		case MW_END_REFUSED:
			/* outbound: the callee's (or a carrier's) final answer,
			 * unless nothing was sent */
			return c->outbound && c->cdr.invite_at ? "remote" : "worker";
		default:
			return "worker";
	}
}

static void user_of(osip_from_t *f, char *out, size_t len)
{
	out[0] = 0;
	if(f && f->url && f->url->username)
		snprintf(out, len, "%s", f->url->username);
}

static void copy_hdr(osip_message_t *m, const char *name, char *out, size_t len)
{
	const char *v = mw_sip_header(m, name);

	snprintf(out, len, "%s", v ? v : "");
}

void mw_cdr_inbound(struct mw_call *c, osip_message_t *invite)
{
	c->cdr.invite_at = mw_cdr_now();
	copy_hdr(invite, "x-byoc-trunk", c->cdr.trunk, sizeof(c->cdr.trunk));
	copy_hdr(invite, "x-byoc-did", c->cdr.did, sizeof(c->cdr.did));
	copy_hdr(invite, "x-byoc-tenant", c->cdr.tenant, sizeof(c->cdr.tenant));
	user_of(invite->from, c->cdr.from, sizeof(c->cdr.from));
	user_of(invite->to, c->cdr.to, sizeof(c->cdr.to));
	mw_cdr_event(c, "invite", "from", c->cdr.from, "to", c->cdr.to);
}

void mw_cdr_event(struct mw_call *c, const char *name, const char *k1,
		const char *v1, const char *k2, const char *v2)
{
	struct mw_record *r = mw_ua_record(c->ua);
	const char *kv[2 * 10];
	char ev[48], at[24];
	size_t n = 0;

	if(!r)
		return;
	snprintf(ev, sizeof(ev), "call.%s", name);
	snprintf(at, sizeof(at), "%" PRId64, mw_cdr_now());
#define KV(k, v)             \
	do {                     \
		kv[2 * n] = (k);     \
		kv[2 * n + 1] = (v); \
		n++;                 \
	} while(0)
	KV("event", ev);
	KV("at", at);
	KV("call_id", c->call_id);
	KV("direction", c->outbound ? "outbound" : "inbound");
	KV("worker", mw_ua_config(c->ua)->id);
	KV("agent", c->setup.agent);
	if(c->cdr.job[0])
		KV("job", c->cdr.job);
	if(k1 && v1)
		KV(k1, v1);
	if(k2 && v2)
		KV(k2, v2);
#undef KV
	mw_record_add(r, MW_REC_EVENTS, kv, n);
}

void mw_cdr_final(struct mw_call *c)
{
	struct mw_record *r = mw_ua_record(c->ua);
	const struct mw_media_stats *s = &c->m.folded;
	const struct mw_cdr_media *m = &c->m.cdr;
	const char *kv[2 * MW_RECORD_FIELDS_MAX];
	char num[24][24];
	int64_t dur = 0;
	size_t n = 0, k = 0;

	if(c->cdr.written)
		return;
	c->cdr.written = 1;
	c->cdr.end_at = mw_cdr_now();
	if(c->cdr.answer_at)
		dur = c->cdr.end_at - c->cdr.answer_at;
	mw_cdr_event(c, "ended", "outcome", mw_cdr_outcome(c), "end_cause",
			mw_cdr_end_cause(c->end));
	if(!r)
		return;
#define KV(key, v)           \
	do {                     \
		kv[2 * n] = (key);   \
		kv[2 * n + 1] = (v); \
		n++;                 \
	} while(0)
#define NUM(key, fmt, v)                          \
	do {                                          \
		snprintf(num[k], sizeof(num[k]), fmt, v); \
		KV(key, num[k]);                          \
		k++;                                      \
	} while(0)
	KV("call_id", c->call_id);
	KV("direction", c->outbound ? "outbound" : "inbound");
	KV("worker", mw_ua_config(c->ua)->id);
	KV("agent", c->setup.agent);
	KV("tenant", c->cdr.tenant);
	KV("trunk", c->cdr.trunk);
	KV("did", c->cdr.did);
	KV("from", c->cdr.from);
	KV("to", c->cdr.to);
	KV("job", c->cdr.job);
	KV("outcome", mw_cdr_outcome(c));
	NUM("sip_code", "%d", c->cdr.sip_code);
	KV("sip_reason", c->cdr.reason);
	KV("end_cause", mw_cdr_end_cause(c->end));
	KV("hangup_by", mw_cdr_hangup_by(c));
	NUM("invite_at", "%" PRId64, c->cdr.invite_at);
	NUM("ring_at", "%" PRId64, c->cdr.ring_at);
	NUM("answer_at", "%" PRId64, c->cdr.answer_at);
	NUM("end_at", "%" PRId64, c->cdr.end_at);
	NUM("duration_ms", "%" PRId64, dur);
	NUM("rtp_rx", "%" PRIu64, s->rtp_rx);
	NUM("rtp_tx", "%" PRIu64, s->rtp_tx);
	NUM("rtp_lost", "%" PRIu64, s->rtp_lost);
	NUM("rtp_late", "%" PRIu64, s->rtp_late);
	NUM("jitter_ms", "%" PRIu32, s->jitter_ms);
	NUM("jitter_max_ms", "%" PRIu32, m->jitter_max_ms);
	NUM("ai_connect_ms", "%" PRId64,
			m->ai_open_us ? (m->ai_open_us - m->ai_t0_us) / 1000 : -1);
	NUM("ai_first_audio_ms", "%" PRId64,
			m->ai_first_audio_us && m->ai_open_us
					? (m->ai_first_audio_us - m->ai_open_us) / 1000
					: -1);
	NUM("ai_close_code", "%d", m->ai_close_code);
	NUM("dtmf_rx", "%u", m->dtmf_rx);
	NUM("dtmf_tx", "%u", m->dtmf_tx);
	KV("ai_failure_policy", c->cdr.policy ? c->cdr.policy : "");
	KV("transfer_target", c->cdr.xfer_target);
	KV("transfer_result", c->cdr.xfer_result ? c->cdr.xfer_result : "");
	NUM("transfer_code", "%d", c->cdr.xfer_code);
#undef NUM
#undef KV
	mw_record_add(r, MW_REC_RECORDS, kv, n);
}
