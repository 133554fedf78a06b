/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_metrics.h -- the worker's counters, gauges and histograms. Each
 * thread writes only its own struct mw_metrics (relaxed atomic load +
 * store: a plain move on x86, no lock and no read-modify-write on the
 * hot path); a scrape sums every thread's struct. Rendered in the
 * Prometheus text format by mw_metrics_render (names in
 * docs/media-worker.md).
 */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct mw_thread;

/* Monotonic counters. Keep mw_metrics.c's name table in the same order. */
enum mw_ctr
{
	/* INVITE outcomes (one per initial INVITE) */
	MW_C_CALL_ANSWERED,
	MW_C_CALL_REFUSED_CAPACITY,
	MW_C_CALL_REFUSED_DRAINING,
	MW_C_CALL_AI_CONNECT_FAILED,
	MW_C_CALL_AGENT_UNKNOWN, /* no agent header / record / disabled */
	MW_C_CALL_AGENT_CONFIG,	 /* bad record, secret undecryptable, no URL */
	MW_C_CALL_REDIS_FAILED,
	MW_C_CALL_SDP_REJECTED, /* 488 */
	MW_C_CALL_BAD_REQUEST,	/* 4xx from the UAS checks */
	MW_C_CALL_CANCELLED,
	MW_C_CALL_MEDIA_FAILED, /* RTP ports exhausted, ... */
	/* why answered calls ended */
	MW_C_END_CALLER_BYE,
	MW_C_END_AI_HANGUP,
	MW_C_END_AI_CLOSED,
	MW_C_END_RTP_TIMEOUT,
	MW_C_END_ACK_TIMEOUT,
	MW_C_END_MAX_DURATION,
	MW_C_END_SHUTDOWN,
	/* SIP */
	MW_C_SIP_RX,
	MW_C_SIP_TX,
	MW_C_SIP_REFUSED, /* malformed requests answered 4xx/5xx */
	MW_C_SIP_DROPPED, /* malformed/unmatched responses, ACK */
	MW_C_SIP_OVERSIZE,
	MW_C_SIP_TCP_ERRORS, /* framing errors, closed connections */
	/* RTP (folded from the media engines) */
	MW_C_RTP_RX,
	MW_C_RTP_TX,
	MW_C_RTP_LOST,
	MW_C_RTP_BAD,
	MW_C_RTP_LATE,
	MW_C_PLAYOUT_UNDERRUNS,
	MW_C_PLAYOUT_DROPPED_MS,
	MW_C_DTMF_RTP,			/* digits from RFC 4733 */
	MW_C_DTMF_INFO,			/* digits from SIP INFO */
	MW_C_DTMF_INBAND,		/* digits from in-band tones */
	MW_C_DTMF_DUPLICATE,	/* the same press from a second source, dropped */
	MW_C_DTMF_SENT_RFC4733, /* digits from the AI toward the caller */
	MW_C_DTMF_SENT_INFO,
	MW_C_DTMF_SENT_INBAND,
	/* answered calls by codec on the worker's leg */
	MW_C_CODEC_PCMU,
	MW_C_CODEC_PCMA,
	MW_C_CODEC_G722,
	MW_C_CODEC_OPUS,
	/* AI WebSocket */
	MW_C_WS_CONNECTS,
	MW_C_WS_CONNECT_ERRORS,
	MW_C_WS_ERRORS, /* abnormal closes after open */
	MW_C_WS_MEDIA_SENT,
	MW_C_WS_MEDIA_DROPPED, /* inbound frames dropped: backpressure */
	MW_C_WS_MSG_RX,
	MW_C_WS_MSG_INVALID,
	MW_C_WS_MSG_IGNORED,
	/* Redis */
	MW_C_REDIS_ERRORS,
	/* outbound calls by outcome (one per dial attempt) */
	MW_C_OUT_ANSWERED,
	MW_C_OUT_BUSY,
	MW_C_OUT_NO_ANSWER,
	MW_C_OUT_FAILED,
	MW_C_OUT_CANCELED,
	/* outbound jobs */
	MW_C_JOB_TAKEN,				/* read from the stream (new) */
	MW_C_JOB_RECLAIMED,			/* taken over from a worker that stopped */
	MW_C_JOB_DIALLED_ELSEWHERE, /* reclaimed but already dialled: not again */
	MW_C_JOB_ABANDONED,			/* claimed MAX_ATTEMPTS times, never dialled */
	MW_C_JOB_DONE,				/* outcome recorded and acknowledged */
	/* transfers (REFER) by result, AI failures by policy applied */
	MW_C_XFER_COMPLETED,
	MW_C_XFER_FAILED,
	MW_C_END_TRANSFERRED,
	MW_C_END_AI_FAILED,
	MW_C_AIFAIL_HANGUP,
	MW_C_AIFAIL_MESSAGE,
	MW_C_AIFAIL_TRANSFER,
	/* events and records */
	MW_C_RECORDS_WRITTEN,
	MW_C_RECORDS_DROPPED,
	MW_C__MAX
};

/* Gauges set by their thread. */
enum mw_gauge
{
	MW_G_CALLS,		/* calls on this thread (media threads) */
	MW_G_JITTER_MS, /* max interarrival jitter of this thread's calls */
	MW_G__MAX
};

#define MW_HIST_BUCKETS 10 /* WebSocket connect latency, seconds */

/* Latency the worker adds on the media path (histograms, microseconds;
 * bench/worker.sh reads them). Deliberate waits are left out: the jitter
 * buffer's delay and the wait for the 20 ms tick. */
enum mw_lat
{
	MW_L_TO_AI,		/* a tick's scheduled time -> the caller's frame for
					   it queued on the AI WebSocket (timer lateness,
					   jitter buffer, encoding, framing) */
	MW_L_TO_CALLER, /* AI audio handed to the media engine -> the RTP
					   packet with its first sample sent, less the wait
					   for its tick (and for audio queued before it) */
	MW_L__MAX
};
#define MW_LAT_BUCKETS 14

struct mw_metrics
{
	_Atomic uint64_t c[MW_C__MAX];
	_Atomic int64_t g[MW_G__MAX];
	_Atomic uint64_t ws_hist[MW_HIST_BUCKETS]; /* non-cumulative counts */
	_Atomic uint64_t ws_hist_count;
	_Atomic uint64_t ws_hist_sum_us;
	/* media latency: non-cumulative counts, the last one past the top */
	_Atomic uint64_t lat_hist[MW_L__MAX][MW_LAT_BUCKETS + 1];
	_Atomic uint64_t lat_sum_us[MW_L__MAX];
} __attribute__((aligned(64)));

/* The calling thread's counters (set by mw_thread for its loops). */
extern _Thread_local struct mw_metrics *mw_metrics_self;

static inline void mw_metric_add(enum mw_ctr c, uint64_t n)
{
	struct mw_metrics *m = mw_metrics_self;

	if(m)
		atomic_store_explicit(&m->c[c],
				atomic_load_explicit(&m->c[c], memory_order_relaxed) + n,
				memory_order_relaxed);
}
#define MW_COUNT(c) mw_metric_add((c), 1)

static inline void mw_gauge_set(enum mw_gauge g, int64_t v)
{
	if(mw_metrics_self)
		atomic_store_explicit(&mw_metrics_self->g[g], v, memory_order_relaxed);
}

/* Records one WebSocket connect latency. */
void mw_metrics_ws_latency(uint64_t us);
/* Records one media-path latency (no-op on a thread without metrics). */
void mw_metrics_latency(enum mw_lat l, uint64_t us);

/* Process-wide state shown on /readyz and /metrics, written by the SIP
 * thread, read by anyone. */
struct mw_status
{
	_Atomic int draining;	 /* SIGTERM/SIGINT received */
	_Atomic int registry_ok; /* last heartbeat written */
	_Atomic unsigned active; /* calls in progress (INVITE to teardown) */
	unsigned capacity;
};

/* Appends the Prometheus text of all threads' metrics to 'out'. */
void mw_metrics_render(struct evbuffer *out, const struct mw_thread *t,
		unsigned n, const struct mw_status *st);

/* Sum of one counter over the threads (tests, logs). */
uint64_t mw_metrics_sum(const struct mw_thread *t, unsigned n, enum mw_ctr c);

#endif
