/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_metrics.c -- per-thread counters summed on scrape, Prometheus text
 * rendering (see mw_metrics.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "mw_metrics.h"
#include "mw_thread.h"

_Thread_local struct mw_metrics *mw_metrics_self;

/* Upper bounds of the WebSocket connect latency buckets, seconds. */
static const double ws_bounds[MW_HIST_BUCKETS] = {
		0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

void mw_metrics_ws_latency(uint64_t us)
{
	struct mw_metrics *m = mw_metrics_self;
	unsigned i;

	if(!m)
		return;
	for(i = 0; i < MW_HIST_BUCKETS; i++)
		if((double)us <= ws_bounds[i] * 1e6)
			break;
	if(i < MW_HIST_BUCKETS)
		atomic_store_explicit(&m->ws_hist[i],
				atomic_load_explicit(&m->ws_hist[i], memory_order_relaxed) + 1,
				memory_order_relaxed);
	atomic_store_explicit(&m->ws_hist_count,
			atomic_load_explicit(&m->ws_hist_count, memory_order_relaxed) + 1,
			memory_order_relaxed);
	atomic_store_explicit(&m->ws_hist_sum_us,
			atomic_load_explicit(&m->ws_hist_sum_us, memory_order_relaxed) + us,
			memory_order_relaxed);
}

/* Upper bounds of the media latency buckets, microseconds. */
static const uint32_t lat_bounds[MW_LAT_BUCKETS] = {25, 50, 100, 250, 500, 1000,
		1500, 2000, 3000, 5000, 10000, 20000, 50000, 100000};

static inline void bump(_Atomic uint64_t *a, uint64_t n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
			memory_order_relaxed);
}

void mw_metrics_latency(enum mw_lat l, uint64_t us)
{
	struct mw_metrics *m = mw_metrics_self;
	unsigned i;

	if(!m)
		return;
	for(i = 0; i < MW_LAT_BUCKETS && us > lat_bounds[i]; i++)
		;
	bump(&m->lat_hist[l][i], 1);
	bump(&m->lat_sum_us[l], us);
}

uint64_t mw_metrics_sum(const struct mw_thread *t, unsigned n, enum mw_ctr c)
{
	uint64_t s = 0;
	unsigned i;

	for(i = 0; i < n; i++)
		s += atomic_load_explicit(&t[i].metrics->c[c], memory_order_relaxed);
	return s;
}

/* One family with a label per counter: name{label="value"} sum. */
struct labelled
{
	enum mw_ctr c;
	const char *value;
};

static void family(struct evbuffer *out, const struct mw_thread *t, unsigned n,
		const char *name, const char *help, const char *label,
		const struct labelled *l, size_t nl)
{
	size_t i;

	evbuffer_add_printf(
			out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for(i = 0; i < nl; i++) {
		if(label)
			evbuffer_add_printf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label,
					l[i].value, mw_metrics_sum(t, n, l[i].c));
		else
			evbuffer_add_printf(out, "%s %" PRIu64 "\n", name,
					mw_metrics_sum(t, n, l[i].c));
	}
}

#define ONE(c) ((const struct labelled[]){{(c), NULL}}), 1
#define N(a) (a), sizeof(a) / sizeof((a)[0])

static void render_latency(
		struct evbuffer *out, const struct mw_thread *t, unsigned n)
{
	static const char *const dir[MW_L__MAX] = {"to_ai", "to_caller"};
	unsigned l, b, i;

	evbuffer_add_printf(out,
			"# HELP byoc_worker_media_latency_seconds Latency the worker "
			"adds on the media path, without the jitter buffer delay and "
			"the wait for the 20 ms tick: to_ai = tick due to the frame "
			"queued on the AI WebSocket, to_caller = AI audio queued to the "
			"RTP packet with its first sample.\n"
			"# TYPE byoc_worker_media_latency_seconds histogram\n");
	for(l = 0; l < MW_L__MAX; l++) {
		uint64_t cum = 0, sum = 0;

		for(b = 0; b <= MW_LAT_BUCKETS; b++) {
			for(i = 0; i < n; i++)
				cum += atomic_load_explicit(
						&t[i].metrics->lat_hist[l][b], memory_order_relaxed);
			if(b < MW_LAT_BUCKETS)
				evbuffer_add_printf(out,
						"byoc_worker_media_latency_seconds_bucket{dir=\"%s\","
						"le=\"%g\"} %" PRIu64 "\n",
						dir[l], lat_bounds[b] / 1e6, cum);
		}
		for(i = 0; i < n; i++)
			sum += atomic_load_explicit(
					&t[i].metrics->lat_sum_us[l], memory_order_relaxed);
		evbuffer_add_printf(out,
				"byoc_worker_media_latency_seconds_bucket{dir=\"%s\","
				"le=\"+Inf\"} %" PRIu64 "\n"
				"byoc_worker_media_latency_seconds_sum{dir=\"%s\"} %.6f\n"
				"byoc_worker_media_latency_seconds_count{dir=\"%s\"} %" PRIu64
				"\n",
				dir[l], cum, dir[l], (double)sum / 1e6, dir[l], cum);
	}
}

void mw_metrics_render(struct evbuffer *out, const struct mw_thread *t,
		unsigned n, const struct mw_status *st)
{
	static const struct labelled calls[] = {
			{MW_C_CALL_ANSWERED, "answered"},
			{MW_C_CALL_REFUSED_CAPACITY, "refused_capacity"},
			{MW_C_CALL_REFUSED_DRAINING, "refused_draining"},
			{MW_C_CALL_AI_CONNECT_FAILED, "ai_connect_failed"},
			{MW_C_CALL_AGENT_UNKNOWN, "agent_unknown"},
			{MW_C_CALL_AGENT_CONFIG, "agent_config_invalid"},
			{MW_C_CALL_REDIS_FAILED, "redis_failed"},
			{MW_C_CALL_SDP_REJECTED, "sdp_rejected"},
			{MW_C_CALL_BAD_REQUEST, "bad_request"},
			{MW_C_CALL_CANCELLED, "cancelled"},
			{MW_C_CALL_MEDIA_FAILED, "media_failed"},
	};
	static const struct labelled ends[] = {
			{MW_C_END_CALLER_BYE, "caller_bye"},
			{MW_C_END_AI_HANGUP, "ai_hangup"},
			{MW_C_END_AI_CLOSED, "ai_closed"},
			{MW_C_END_RTP_TIMEOUT, "rtp_timeout"},
			{MW_C_END_ACK_TIMEOUT, "ack_timeout"},
			{MW_C_END_MAX_DURATION, "max_duration"},
			{MW_C_END_SHUTDOWN, "shutdown"},
			{MW_C_END_TRANSFERRED, "transferred"},
			{MW_C_END_AI_FAILED, "ai_failed"},
	};
	static const struct labelled sip[] = {
			{MW_C_SIP_RX, "rx"}, {MW_C_SIP_TX, "tx"}};
	static const struct labelled sipbad[] = {
			{MW_C_SIP_REFUSED, "refused"},
			{MW_C_SIP_DROPPED, "dropped"},
			{MW_C_SIP_OVERSIZE, "oversize"},
			{MW_C_SIP_TCP_ERRORS, "tcp_error"},
	};
	static const struct labelled rtp[] = {
			{MW_C_RTP_RX, "rx"}, {MW_C_RTP_TX, "tx"}};
	static const struct labelled dtmf[] = {{MW_C_DTMF_RTP, "rfc4733"},
			{MW_C_DTMF_INFO, "info"}, {MW_C_DTMF_INBAND, "inband"}};
	static const struct labelled dtmf_sent[] = {
			{MW_C_DTMF_SENT_RFC4733, "rfc4733"}, {MW_C_DTMF_SENT_INFO, "info"},
			{MW_C_DTMF_SENT_INBAND, "inband"}};
	static const struct labelled codecs[] = {{MW_C_CODEC_PCMU, "PCMU"},
			{MW_C_CODEC_PCMA, "PCMA"}, {MW_C_CODEC_G722, "G722"},
			{MW_C_CODEC_OPUS, "opus"}};
	static const struct labelled wsmsg[] = {
			{MW_C_WS_MSG_RX, "received"},
			{MW_C_WS_MSG_INVALID, "invalid"},
			{MW_C_WS_MSG_IGNORED, "ignored"},
	};
	static const struct labelled outb[] = {
			{MW_C_OUT_ANSWERED, "answered"},
			{MW_C_OUT_BUSY, "busy"},
			{MW_C_OUT_NO_ANSWER, "no_answer"},
			{MW_C_OUT_FAILED, "failed"},
			{MW_C_OUT_CANCELED, "canceled"},
	};
	static const struct labelled jobs[] = {
			{MW_C_JOB_TAKEN, "taken"},
			{MW_C_JOB_RECLAIMED, "reclaimed"},
			{MW_C_JOB_DIALLED_ELSEWHERE, "dialled_elsewhere"},
			{MW_C_JOB_ABANDONED, "abandoned"},
			{MW_C_JOB_DONE, "done"},
	};
	static const struct labelled xfer[] = {
			{MW_C_XFER_COMPLETED, "completed"},
			{MW_C_XFER_FAILED, "failed"},
	};
	static const struct labelled aifail[] = {
			{MW_C_AIFAIL_HANGUP, "hangup"},
			{MW_C_AIFAIL_MESSAGE, "message"},
			{MW_C_AIFAIL_TRANSFER, "transfer"},
	};
	static const struct labelled recs[] = {
			{MW_C_RECORDS_WRITTEN, "written"},
			{MW_C_RECORDS_DROPPED, "dropped"},
	};
	uint64_t cum = 0, cnt = 0, sum = 0;
	int64_t jitter = 0;
	unsigned i, b;

	evbuffer_add_printf(out,
			"# HELP byoc_worker_active_calls Calls in progress.\n"
			"# TYPE byoc_worker_active_calls gauge\n"
			"byoc_worker_active_calls %u\n"
			"# HELP byoc_worker_capacity Calls accepted before 503.\n"
			"# TYPE byoc_worker_capacity gauge\n"
			"byoc_worker_capacity %u\n"
			"# HELP byoc_worker_draining 1 after SIGTERM.\n"
			"# TYPE byoc_worker_draining gauge\n"
			"byoc_worker_draining %d\n"
			"# HELP byoc_worker_registry_ok 1 when the last heartbeat was "
			"written.\n"
			"# TYPE byoc_worker_registry_ok gauge\n"
			"byoc_worker_registry_ok %d\n",
			atomic_load(&st->active), st->capacity, atomic_load(&st->draining),
			atomic_load(&st->registry_ok));
	evbuffer_add_printf(out,
			"# HELP byoc_worker_thread_calls Calls per media thread.\n"
			"# TYPE byoc_worker_thread_calls gauge\n");
	for(i = 0; i < n; i++) {
		int64_t j = atomic_load_explicit(
				&t[i].metrics->g[MW_G_JITTER_MS], memory_order_relaxed);
		if(j > jitter)
			jitter = j;
		evbuffer_add_printf(out,
				"byoc_worker_thread_calls{thread=\"%u\"} %" PRId64 "\n", i,
				atomic_load_explicit(
						&t[i].metrics->g[MW_G_CALLS], memory_order_relaxed));
	}
	family(out, t, n, "byoc_worker_calls_total", "Initial INVITEs by outcome.",
			"outcome", N(calls));
	family(out, t, n, "byoc_worker_call_ends_total",
			"Answered calls by end cause.", "cause", N(ends));
	family(out, t, n, "byoc_worker_sip_messages_total", "SIP messages.", "dir",
			N(sip));
	family(out, t, n, "byoc_worker_sip_errors_total",
			"Malformed, oversize or unmatched SIP messages.", "kind",
			N(sipbad));
	family(out, t, n, "byoc_worker_rtp_packets_total", "RTP packets.", "dir",
			N(rtp));
	family(out, t, n, "byoc_worker_rtp_lost_total",
			"RTP packets lost (sequence gaps).", NULL, ONE(MW_C_RTP_LOST));
	family(out, t, n, "byoc_worker_rtp_bad_total",
			"Invalid RTP packets dropped.", NULL, ONE(MW_C_RTP_BAD));
	family(out, t, n, "byoc_worker_rtp_late_total",
			"RTP packets too late for the jitter buffer.", NULL,
			ONE(MW_C_RTP_LATE));
	evbuffer_add_printf(out,
			"# HELP byoc_worker_rtp_jitter_ms Highest interarrival jitter of "
			"the active calls.\n"
			"# TYPE byoc_worker_rtp_jitter_ms gauge\n"
			"byoc_worker_rtp_jitter_ms %" PRId64 "\n",
			jitter);
	family(out, t, n, "byoc_worker_playout_underruns_total",
			"20 ms ticks with no AI audio queued while the AI was talking.",
			NULL, ONE(MW_C_PLAYOUT_UNDERRUNS));
	family(out, t, n, "byoc_worker_playout_dropped_ms_total",
			"AI audio dropped beyond the playout cap, ms.", NULL,
			ONE(MW_C_PLAYOUT_DROPPED_MS));
	family(out, t, n, "byoc_worker_dtmf_digits_total",
			"DTMF digits forwarded to the AI.", "source", N(dtmf));
	family(out, t, n, "byoc_worker_dtmf_duplicates_total",
			"DTMF key presses reported a second way, not forwarded.", NULL,
			ONE(MW_C_DTMF_DUPLICATE));
	family(out, t, n, "byoc_worker_dtmf_sent_total",
			"DTMF digits from the AI sent toward the caller.", "method",
			N(dtmf_sent));
	family(out, t, n, "byoc_worker_call_codecs_total",
			"Media sessions started, by the codec on the worker's leg.",
			"codec", N(codecs));
	family(out, t, n, "byoc_worker_ws_connects_total",
			"AI WebSocket connections opened.", NULL, ONE(MW_C_WS_CONNECTS));
	family(out, t, n, "byoc_worker_ws_connect_errors_total",
			"AI WebSocket connections that failed to open.", NULL,
			ONE(MW_C_WS_CONNECT_ERRORS));
	family(out, t, n, "byoc_worker_ws_errors_total",
			"AI WebSocket connections ended abnormally after opening.", NULL,
			ONE(MW_C_WS_ERRORS));
	family(out, t, n, "byoc_worker_ws_media_sent_total",
			"Inbound (caller) media frames sent to AI backends.", NULL,
			ONE(MW_C_WS_MEDIA_SENT));
	family(out, t, n, "byoc_worker_inbound_frames_dropped_total",
			"Inbound media frames dropped because the backend fell behind.",
			NULL, ONE(MW_C_WS_MEDIA_DROPPED));
	family(out, t, n, "byoc_worker_ws_messages_total",
			"Messages received from AI backends.", "kind", N(wsmsg));
	family(out, t, n, "byoc_worker_redis_errors_total",
			"Redis command failures and disconnects.", NULL,
			ONE(MW_C_REDIS_ERRORS));
	family(out, t, n, "byoc_worker_outbound_calls_total",
			"Outbound calls by outcome.", "outcome", N(outb));
	family(out, t, n, "byoc_worker_jobs_total", "Outbound jobs.", "event",
			N(jobs));
	family(out, t, n, "byoc_worker_transfers_total",
			"Transfers (REFER) by result.", "result", N(xfer));
	family(out, t, n, "byoc_worker_ai_failures_total",
			"AI backend failures by the agent's failure policy applied.",
			"policy", N(aifail));
	family(out, t, n, "byoc_worker_stream_entries_total",
			"Event and record stream entries written to Redis or dropped.",
			"result", N(recs));

	evbuffer_add_printf(out,
			"# HELP byoc_worker_ws_connect_seconds AI WebSocket connect "
			"latency (TCP, TLS, upgrade).\n"
			"# TYPE byoc_worker_ws_connect_seconds histogram\n");
	for(b = 0; b < MW_HIST_BUCKETS; b++) {
		for(i = 0; i < n; i++)
			cum += atomic_load_explicit(
					&t[i].metrics->ws_hist[b], memory_order_relaxed);
		evbuffer_add_printf(out,
				"byoc_worker_ws_connect_seconds_bucket{le=\"%g\"} %" PRIu64
				"\n",
				ws_bounds[b], cum);
	}
	for(i = 0; i < n; i++) {
		cnt += atomic_load_explicit(
				&t[i].metrics->ws_hist_count, memory_order_relaxed);
		sum += atomic_load_explicit(
				&t[i].metrics->ws_hist_sum_us, memory_order_relaxed);
	}
	evbuffer_add_printf(out,
			"byoc_worker_ws_connect_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
			"byoc_worker_ws_connect_seconds_sum %.6f\n"
			"byoc_worker_ws_connect_seconds_count %" PRIu64 "\n",
			cnt, (double)sum / 1e6, cnt);
	render_latency(out, t, n);
}
