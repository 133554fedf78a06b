/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_media.c -- one call's media engine (contract in mw_media.h): RTP and
 * RTCP sockets on a libevent loop, the codecs and resamplers of mw_codec
 * (spandsp G.711/G.722, libopus, speexdsp), the adaptive jitter buffer
 * with spandsp PLC (mw_jitter), RFC 4733 events (mw_dtmf), in-band DTMF
 * (spandsp dtmf_rx/dtmf_tx), a drift-free 20 ms clock, the playout FIFO
 * of AI audio with its marks.
 *
 * Rates. Three rates meet here: the codec's PCM rate 'crate' (8000 for
 * G.711, 16000 for G.722/opus), its RTP clock 'clock' (8000 for G.711 and
 * G.722, 48000 for opus) and the API rate 'arate' (the AI side's, fixed
 * per session). The jitter buffer works at crate; RTP timestamps are
 * mapped to crate samples (an extended 64-bit timestamp, so that the
 * 48000 -> 16000 division survives wraparound); the playout FIFO and its
 * marks work at arate. Resamplers exist only where two rates differ.
 *
 * Clock. The session's tick is an entry of the loop's media clock
 * (mw_clock: one timing wheel per loop), re-added after every tick at an
 * absolute CLOCK_MONOTONIC deadline on the clock's 1 ms grid, and the
 * deadline advances by exactly 20 ms per tick: wakeup latency shows as
 * jitter of a single packet, never as drift, so exactly 50 packets/s
 * leave on average with contiguous sequence numbers and timestamps. A late wakeup runs the
 * missed ticks at once (up to 10, i.e. 200 ms); after a longer stall the
 * missed ticks are skipped: the timestamp jumps by the stalled time,
 * sequence numbers stay contiguous and the marker bit is set.
 * (libevent's default timer clock is coarse, 1-4 ms: the worker's loops
 * use EVENT_BASE_FLAG_PRECISE_TIMER, less jitter, not less drift.)
 *
 * Symmetric RTP / latching rule. Until the first valid RTP packet (well
 * formed, the negotiated payload type -- or PCMU/PCMA on a G.711 call --,
 * CN or telephone-event) arrives, packets go
 * to the SDP address. That packet's source address and port become the
 * destination ("latched"). After that, packets from any other source are
 * dropped and counted in rtp_bad, unless the latched source has sent
 * nothing for 500 ms: then the new source is latched instead (far-end
 * relay failover without re-INVITE). mw_media_set_remote with a different
 * address clears the latch. RTCP goes to the source of the received RTCP
 * if any, else to the RTP destination's port + 1 (or to the RTP
 * destination once RTCP was received multiplexed on the RTP port).
 *
 * Hot path: no allocation per packet or tick (receive and frame buffers
 * on the stack, jitter buffer embedded in the session, codec, resampler
 * and DTMF states set up with the codec or the first digit); the playout
 * FIFO allocates 8000-sample chunks when the AI queues audio (keeping two
 * spare), marks and their names are allocated when the AI sends a mark.
 * Reads are bounded: 4 recvmmsg batches of 8 datagrams per socket
 * callback.
 *
 * Counting: rtp_bad counts every RTP/RTCP datagram dropped because it is
 * malformed, truncated, of an unexpected payload type or from a foreign
 * source. plc_frames counts frames with concealed samples (losses,
 * delay stretching, and the 60 ms fade-out when the far end stops).
 *
 * Ownership: struct mw_media is owned by the call that created it, used
 * on the thread of its event_base only. No global mutable state.
 */
#define _GNU_SOURCE
#include "mw_media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <spandsp.h>

#include "mw_dtmf.h"
#include "mw_g711.h"
#include "mw_clock.h"
#include "mw_jitter.h"
#include "mw_metrics.h"
#include "mw_rtp.h"

#define FRAME_MAX 320 /* samples per 20 ms at 16 kHz */
#define NB_RATE 8000  /* in-band DTMF works at 8 kHz */
#define NB_FRAME 160
#define PTIME_NS 20000000ull	   /* 20 ms */
#define RX_BATCH 8				   /* datagrams per recvmmsg */
#define RX_ROUNDS 4				   /* recvmmsg calls per callback */
#define RX_BUF 2048				   /* larger datagrams are truncated: bad */
#define CATCHUP_MAX 10			   /* missed ticks run at once */
#define EARLY_NS MW_CLOCK_EARLY_NS /* the clock serves a slot this early */
#define RELATCH_NS 500000000ull	   /* silence before another source wins */
#define RTCP_TICKS 250			   /* 5 s, randomised by +-25 % */
#define CHUNK 8000				   /* playout FIFO chunk: 1 s at 8 kHz */
#define SPARE_CHUNKS 2
#define MARKS_MAX 4096
#define MARK_NAME_MAX 1024
#define DTMF_QUEUE 32
#define DTMF_GAP_TICKS 3 /* 60 ms between queued digits */
#define DTMF_RX_TIMEOUT_MS 400
#define IDLE_UNDERRUN_TICKS 25 /* AI silent this long: it stopped talking */
#define PT_CN 13
#define LAT_PENDING 8 /* AI audio pieces timed to their first RTP packet */

struct chunk
{
	struct chunk *next;
	int16_t pcm[CHUNK];
};

struct mark
{
	uint64_t pos; /* q_in when queued: echoed once q_out reaches it */
	char *name;
};

struct endpoint
{
	struct sockaddr_storage sa;
	socklen_t len;
	int set;
};

struct mw_media
{
	struct event_base *base;
	struct mw_clock *clk; /* the loop's; tick_e is on it while running */
	struct mw_clock_entry tick_e;
	/* rates (see the top of the file) and the codec */
	unsigned arate, aframe;	 /* API side: samples/s, per 20 ms */
	unsigned crate, cframe;	 /* codec PCM */
	unsigned clock, ts_step; /* RTP clock, timestamp units per 20 ms */
	struct mw_codec_state codec;
	struct mw_resampler rs_rx;	 /* crate -> arate (caller to AI) */
	struct mw_resampler rs_tx;	 /* arate -> crate (AI to caller) */
	struct mw_resampler rs_det;	 /* crate -> 8 kHz for the tone detector */
	struct mw_resampler rs_tone; /* 8 kHz tones -> crate */
	int rx_ext_init;			 /* RTP timestamp -> crate samples */
	uint32_t rx_last_ts;
	uint64_t rx_ext;
	struct mw_media_cbs cbs;
	void *arg;
	struct mw_media_cfg cfg;
	char local_ip[INET6_ADDRSTRLEN];
	int family;
	int fd_rtp, fd_rtcp;
	struct event *ev_rtp, *ev_rtcp;
	uint16_t port;

	/* far end */
	int pt, te_pt;
	struct endpoint sdp;	  /* from mw_media_set_remote */
	struct endpoint rtp_src;  /* latched RTP source */
	struct endpoint rtcp_src; /* last RTCP source */
	int rtcp_mux;			  /* RTCP seen on the RTP port */
	uint64_t last_rx_ns;	  /* last RTP from the latched source */
	int timeout_fired;

	/* sender */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts; /* timestamp of the next tick */
	int need_marker;
	int ai_prev; /* the last packet carried AI audio */
	uint64_t last_tick_ns;
	uint32_t last_tick_ts;
	uint64_t tx_octets;
	int sent_since_rtcp;

	/* clock */
	int running, held;
	uint64_t deadline_ns;
	uint64_t ticks;
	uint64_t rtcp_due;
	uint64_t rng;

	/* receiver */
	struct mw_rtp_rxstats rxs;
	uint64_t lost_acc; /* loss of previous sources */
	uint32_t lsr;	   /* of the last SR received */
	uint64_t lsr_ns;
	int have_lsr;
	struct mw_dtmf_rx dtmf_rx;
	dtmf_rx_state_t *tone_rx; /* in-band detector (cfg.dtmf_inband) */
	char tone_digit;		  /* tone being heard, 0 none */
	uint64_t tone_start_ms;	  /* its start, media time */
	uint64_t now_media_ms;	  /* media time of the tick being run */

	/* DTMF sender: one queue for RFC 4733 events and in-band tones */
	struct mw_dtmf_tx dtx;
	char dq[DTMF_QUEUE];
	uint16_t dq_ms[DTMF_QUEUE];
	uint8_t dq_tone[DTMF_QUEUE]; /* 1: in-band tone, 0: RFC 4733 */
	unsigned dq_head, dq_len, dtmf_gap;
	dtmf_tx_state_t *tone_tx; /* set up by the first in-band digit */
	unsigned tone_ticks;	  /* ticks left of the tone on the wire */

	/* playout FIFO */
	struct chunk *q_head, *q_tail, *spare;
	unsigned n_spare;
	uint32_t q_rd, q_wr;  /* offsets in head / tail chunk */
	uint64_t q_in, q_out; /* samples ever queued / consumed or dropped */
	uint64_t q_cap;
	uint64_t dropped; /* samples dropped by the cap */
	int ai_talking;
	unsigned idle;
	struct mark *marks;
	unsigned m_cap, m_head, m_len;

	struct mw_media_stats st;
	uint64_t slips, relatches;
	/* latency metric: first sample (q_in position) and arrival time of
	 * the last AI audio pieces queued (a full ring skips the newest) */
	uint64_t lat_pos[LAT_PENDING], lat_ns[LAT_PENDING];
	unsigned lat_head, lat_len;

	struct mw_jb jb; /* large: last */
};

/* ---- small helpers ---- */

static inline uint64_t mono_ns(void)
{
	return mw_clock_now_ns();
}

/* A monotonic time in units of 'rate' per second (wrapping). */
static inline uint32_t ns_to_units(uint64_t ns, unsigned rate)
{
	return (uint32_t)(ns / 1000 * rate / 1000000);
}

/* The crate sample index of RTP timestamp 'ts' of the current source.
 * For G.711 the two are the same; otherwise the timestamp is extended to
 * 64 bits (differences to the previous packet, older ones included) so
 * that the scaling survives the 32-bit wrap. */
static uint32_t rx_samples(struct mw_media *m, uint32_t ts)
{
	if(m->crate == m->clock)
		return ts;
	if(!m->rx_ext_init) {
		m->rx_ext = (1ull << 40) + ts;
		m->rx_ext_init = 1;
	} else {
		m->rx_ext += (uint64_t)(int64_t)(int32_t)(ts - m->rx_last_ts);
	}
	m->rx_last_ts = ts;
	return (uint32_t)(m->rx_ext * m->crate / m->clock);
}

static uint64_t rnd64(struct mw_media *m)
{
	/* xorshift64*, seeded from getrandom: per session, no globals */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ull;
}

static int sa_equal(
		const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if(a->ss_family != b->ss_family)
		return 0;
	if(a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
			   x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if(a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
			   !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return 0;
}

static int ip_equal(
		const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if(a->ss_family != b->ss_family)
		return 0;
	if(a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
			   ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			&((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static void sa_set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if(sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

static uint16_t sa_port(const struct sockaddr_storage *sa)
{
	if(sa->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static const struct endpoint *rtp_dest(const struct mw_media *m)
{
	if(m->rtp_src.set)
		return &m->rtp_src;
	if(m->sdp.set)
		return &m->sdp;
	return NULL;
}

/* ---- playout FIFO ---- */

static struct chunk *chunk_get(struct mw_media *m)
{
	struct chunk *c = m->spare;

	if(c) {
		m->spare = c->next;
		m->n_spare--;
		return c;
	}
	return malloc(sizeof(*c));
}

static void chunk_put(struct mw_media *m, struct chunk *c)
{
	if(m->n_spare >= SPARE_CHUNKS) {
		free(c);
		return;
	}
	c->next = m->spare;
	m->spare = c;
	m->n_spare++;
}

/* Samples readable in the head chunk. */
static inline uint32_t head_avail(const struct mw_media *m)
{
	return (m->q_head == m->q_tail ? m->q_wr : CHUNK) - m->q_rd;
}

/* Takes up to n samples (out may be NULL to drop). Bounded by n/CHUNK+2
 * iterations. */
static size_t fifo_pop(struct mw_media *m, int16_t *out, uint64_t n)
{
	size_t got = 0;

	while(got < n && m->q_head) {
		uint32_t k = head_avail(m);

		if(k > n - got)
			k = (uint32_t)(n - got);
		if(out)
			memcpy(out + got, &m->q_head->pcm[m->q_rd], k * sizeof(int16_t));
		m->q_rd += k;
		got += k;
		m->q_out += k;
		if(head_avail(m) == 0) {
			struct chunk *c = m->q_head;

			m->q_head = c->next;
			m->q_rd = 0;
			if(!m->q_head) {
				m->q_tail = NULL;
				m->q_wr = 0;
			}
			chunk_put(m, c);
		}
	}
	return got;
}

static int fifo_push(struct mw_media *m, const int16_t *pcm, size_t n)
{
	uint64_t room, over, need;
	struct chunk *res = NULL;
	unsigned i;

	/* only the newest q_cap samples of a huge input can be kept */
	if(n > m->q_cap) {
		m->dropped += n - m->q_cap;
		pcm += n - m->q_cap;
		n = (size_t)m->q_cap;
	}
	/* the cap drops the oldest audio */
	over = m->q_in - m->q_out + n;
	if(over > m->q_cap) {
		over -= m->q_cap;
		m->dropped += fifo_pop(m, NULL, over);
	}
	/* reserve the chunks before copying: nothing is queued on -ENOMEM */
	room = m->q_tail ? CHUNK - m->q_wr : 0;
	need = n > room ? (n - room + CHUNK - 1) / CHUNK : 0;
	for(i = 0; i < need; i++) {
		struct chunk *c = chunk_get(m);

		if(!c) {
			while(res) {
				c = res;
				res = res->next;
				free(c);
			}
			return -ENOMEM;
		}
		c->next = res;
		res = c;
	}
	while(n) {
		uint32_t k;

		if(!m->q_tail || m->q_wr == CHUNK) {
			struct chunk *c = res;

			res = c->next;
			c->next = NULL;
			if(m->q_tail)
				m->q_tail->next = c;
			else {
				m->q_head = c;
				m->q_rd = 0;
			}
			m->q_tail = c;
			m->q_wr = 0;
		}
		k = CHUNK - m->q_wr;
		if(k > n)
			k = (uint32_t)n;
		memcpy(&m->q_tail->pcm[m->q_wr], pcm, k * sizeof(int16_t));
		m->q_wr += k;
		m->q_in += k;
		pcm += k;
		n -= k;
	}
	return 0;
}

/* Echoes marks whose audio is gone (pos <= upto), at most 'max' of them
 * (snapshot taken by the caller, so that marks queued from inside the
 * callback wait for their own audio). Each mark is removed before its
 * callback runs: the callback may call any mw_media function but free. */
static void echo_marks(struct mw_media *m, uint64_t upto, unsigned max)
{
	while(max-- && m->m_len && m->marks[m->m_head].pos <= upto) {
		char *name = m->marks[m->m_head].name;

		m->m_head = (m->m_head + 1) % m->m_cap;
		m->m_len--;
		if(m->cbs.on_mark)
			m->cbs.on_mark(m->arg, name);
		free(name);
	}
}

/* ---- sockets ---- */

static int bind_udp(const struct sockaddr_storage *local, socklen_t len,
		uint16_t port, int *fd_out)
{
	struct sockaddr_storage sa = *local;
	int fd, err, tos = 0xb8; /* DSCP EF */

	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return -errno;
	sa_set_port(&sa, port);
	if(bind(fd, (struct sockaddr *)&sa, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if(sa.ss_family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	*fd_out = fd;
	return 0;
}

/* An even RTP port and RTP+1 for RTCP, starting at a random pair of the
 * range and trying every pair once (bounded by the range size). */
static int bind_pair(
		struct mw_media *m, const struct sockaddr_storage *local, socklen_t len)
{
	uint32_t pmin = (m->cfg.port_min + 1u) & ~1u, pmax = m->cfg.port_max;
	uint32_t npairs, start, i;
	int rc;

	if(pmin == 0 || pmin + 1 > pmax)
		return -EINVAL;
	npairs = (pmax - pmin + 1) / 2;
	start = (uint32_t)(rnd64(m) % npairs);
	for(i = 0; i < npairs; i++) {
		uint16_t p = (uint16_t)(pmin + 2 * ((start + i) % npairs));

		rc = bind_udp(local, len, p, &m->fd_rtp);
		if(rc == -EADDRINUSE)
			continue;
		if(rc < 0)
			return rc;
		rc = bind_udp(local, len, (uint16_t)(p + 1), &m->fd_rtcp);
		if(rc < 0) {
			close(m->fd_rtp);
			m->fd_rtp = -1;
			if(rc == -EADDRINUSE)
				continue;
			return rc;
		}
		m->port = p;
		return 0;
	}
	return -EADDRINUSE;
}

static void send_to(struct mw_media *m, int fd, const struct endpoint *ep,
		const uint8_t *buf, size_t len)
{
	/* non-blocking: a full socket buffer drops the packet, like the
	 * network would */
	(void)sendto(fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&ep->sa,
			ep->len);
}

/* ---- RTCP ---- */

static void send_rtcp(struct mw_media *m, int bye)
{
	uint8_t buf[256];
	size_t off = 0, l;
	struct mw_rtcp_rb rb;
	unsigned nrb = 0;
	const struct endpoint *rtp = rtp_dest(m);
	struct endpoint ep;
	uint64_t now = mono_ns();
	char cname[64];

	if(!rtp)
		return;
	if(m->rtcp_src.set) {
		ep = m->rtcp_src;
	} else {
		ep = *rtp;
		if(!m->rtcp_mux)
			sa_set_port(&ep.sa, (uint16_t)(sa_port(&ep.sa) + 1));
	}
	if(m->rxs.init) {
		mw_rtp_rxstats_block(&m->rxs, &rb);
		if(m->have_lsr) {
			rb.lsr = m->lsr;
			rb.dlsr = (uint32_t)((now - m->lsr_ns) * 65536 / 1000000000ull);
		}
		nrb = 1;
	}
	if(m->st.rtp_tx) {
		struct mw_rtcp_sr sr = {.ssrc = m->ssrc};
		struct timespec rt;

		clock_gettime(CLOCK_REALTIME, &rt);
		mw_ntp_from_unix(rt.tv_sec, rt.tv_nsec, &sr.ntp_sec, &sr.ntp_frac);
		/* the RTP time of this same instant */
		sr.rtp_ts =
				m->last_tick_ts + ns_to_units(now - m->last_tick_ns, m->clock);
		sr.pkt_count = (uint32_t)m->st.rtp_tx;
		sr.octet_count = (uint32_t)m->tx_octets;
		if(mw_rtcp_build_sr(buf, sizeof(buf), &sr, &rb, nrb, &l) < 0)
			return;
	} else if(mw_rtcp_build_rr(buf, sizeof(buf), m->ssrc, &rb, nrb, &l) < 0) {
		return;
	}
	off = l;
	snprintf(cname, sizeof(cname), "mw-%08x@%s", m->ssrc, m->local_ip);
	if(mw_rtcp_build_sdes_cname(
			   buf + off, sizeof(buf) - off, m->ssrc, cname, &l) == 0)
		off += l;
	if(bye && mw_rtcp_build_bye(
					  buf + off, sizeof(buf) - off, &m->ssrc, 1, NULL, &l) == 0)
		off += l;
	send_to(m, m->fd_rtcp, &ep, buf, off);
	m->st.rtcp_tx++;
}

static void handle_rtcp(struct mw_media *m, const uint8_t *buf, size_t len,
		const struct sockaddr_storage *from, socklen_t flen, int via_rtp)
{
	struct mw_rtcp_info info;

	if(mw_rtcp_parse(buf, len, &info) < 0) {
		m->st.rtp_bad++;
		return;
	}
	/* only from the far end's address once RTP was latched */
	if(m->rtp_src.set && !ip_equal(from, &m->rtp_src.sa)) {
		m->st.rtp_bad++;
		return;
	}
	m->st.rtcp_rx++;
	if(via_rtp) {
		m->rtcp_mux = 1;
	} else {
		m->rtcp_src.sa = *from;
		m->rtcp_src.len = flen;
		m->rtcp_src.set = 1;
	}
	if(info.has_sr) {
		m->lsr = mw_ntp_mid32(info.sr.ntp_sec, info.sr.ntp_frac);
		m->lsr_ns = mono_ns();
		m->have_lsr = 1;
	}
}

/* ---- RTP receive ---- */

static void deliver_dtmf(
		struct mw_media *m, const struct mw_dtmf_event *ev, unsigned n)
{
	unsigned i;

	for(i = 0; i < n; i++) {
		m->st.dtmf_events++;
		if(m->cbs.on_dtmf)
			m->cbs.on_dtmf(m->arg, ev[i].digit,
					(int)((uint64_t)ev[i].duration * 1000 / m->clock),
					MW_DTMF_SRC_RFC4733);
	}
}

static void handle_rtp(struct mw_media *m, const uint8_t *buf, size_t len,
		const struct sockaddr_storage *from, socklen_t flen, uint64_t now)
{
	struct mw_rtp_hdr h;
	int audio,
			g711 = m->codec.id == MW_CODEC_PCMU || m->codec.id == MW_CODEC_PCMA;

	if(mw_rtp_is_rtcp(buf, len)) {
		handle_rtcp(m, buf, len, from, flen, 1);
		return;
	}
	if(mw_rtp_parse(buf, len, &h) < 0) {
		m->st.rtp_bad++;
		return;
	}
	/* a G.711 call takes both laws (endpoints switch without asking) */
	audio = h.pt == m->pt ||
			(g711 && (h.pt == MW_CODEC_PCMU || h.pt == MW_CODEC_PCMA));
	if(!audio && h.pt != PT_CN && (m->te_pt < 0 || h.pt != m->te_pt)) {
		m->st.rtp_bad++;
		return;
	}
	if((audio && (h.payload_len == 0 || h.payload_len > MW_JB_MAX_PKT)) ||
			(h.pt == m->te_pt && h.payload_len < MW_DTMF_PAYLOAD)) {
		m->st.rtp_bad++;
		return;
	}
	/* symmetric RTP: latch, or re-latch after the source went silent */
	if(!m->rtp_src.set || !sa_equal(from, &m->rtp_src.sa)) {
		if(m->rtp_src.set && now - m->last_rx_ns < RELATCH_NS) {
			m->st.rtp_bad++;
			return;
		}
		if(m->rtp_src.set)
			m->relatches++;
		m->rtp_src.sa = *from;
		m->rtp_src.len = flen;
		m->rtp_src.set = 1;
	}
	m->last_rx_ns = now;
	m->timeout_fired = 0;
	m->st.rtp_rx++;

	if(!m->rxs.init || m->rxs.ssrc != h.ssrc) {
		if(m->rxs.init && mw_rtp_rxstats_lost(&m->rxs) > 0)
			m->lost_acc += (uint64_t)mw_rtp_rxstats_lost(&m->rxs);
		mw_rtp_rxstats_init(&m->rxs, h.ssrc, h.seq);
		m->rx_ext_init = 0;
	}
	(void)mw_rtp_rxstats_seq(&m->rxs, h.seq);

	if(audio) {
		int16_t pcm[MW_JB_MAX_PKT];
		int n;

		if(g711 && h.pt != m->pt) {
			mw_g711_decode(h.pt, h.payload, h.payload_len, pcm);
			n = (int)h.payload_len;
		} else {
			n = mw_codec_decode(
					&m->codec, h.payload, h.payload_len, pcm, MW_JB_MAX_PKT);
		}
		if(n <= 0) {
			m->st.rtp_bad++;
			return;
		}
		mw_rtp_rxstats_jitter(&m->rxs, h.ts, ns_to_units(now, m->clock));
		(void)mw_jb_put(&m->jb, h.ssrc, h.seq, rx_samples(m, h.ts), pcm,
				(size_t)n, ns_to_units(now, m->crate));
	} else if(h.pt != PT_CN) {
		struct mw_dtmf_event ev[2];
		unsigned n = 0;

		/* events above 15 (flash...) are ignored by the receiver */
		(void)mw_dtmf_rx_put(&m->dtmf_rx, h.payload, h.payload_len, h.ts,
				(uint32_t)(now / 1000000), ev, &n);
		deliver_dtmf(m, ev, n);
	}
	/* comfort noise: the jitter buffer plays silence through the gap */
}

/* Reads at most RX_ROUNDS * RX_BATCH datagrams, then yields to the loop
 * (level-triggered: the rest is read on the next iteration). */
static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_media *m = arg;
	uint8_t bufs[RX_BATCH][RX_BUF];
	struct sockaddr_storage from[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
	int is_rtcp = fd == m->fd_rtcp;
	unsigned r;
	int i, n;

	for(r = 0; r < RX_ROUNDS; r++) {
		uint64_t now;

		for(i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = RX_BUF;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if(n <= 0)
			break; /* EAGAIN, or an error the next wakeup will show */
		now = mono_ns();
		mw_clock_io_seen(m->clk, now);
		for(i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			if(msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				m->st.rtp_bad++;
				continue;
			}
			if(is_rtcp)
				handle_rtcp(m, bufs[i], len, &from[i],
						msgs[i].msg_hdr.msg_namelen, 0);
			else
				handle_rtp(m, bufs[i], len, &from[i],
						msgs[i].msg_hdr.msg_namelen, now);
		}
		if(n < RX_BATCH)
			break;
	}
}

/* ---- in-band DTMF ---- */

/* spandsp's realtime report: the ASCII digit when a tone pair starts,
 * 0 when it ends. One digit is reported per tone, at its end, with its
 * duration (as RFC 4733 events are). */
static void tone_report_cb(void *arg, int code, int level, int delay)
{
	struct mw_media *m = arg;
	char d = m->tone_digit;

	(void)level;
	(void)delay;
	if(code) {
		m->tone_digit = (char)code;
		m->tone_start_ms = m->now_media_ms;
		return;
	}
	m->tone_digit = 0;
	if(!d || mw_dtmf_code(d) < 0)
		return;
	m->st.dtmf_events++;
	if(m->cbs.on_dtmf)
		m->cbs.on_dtmf(m->arg, d, (int)(m->now_media_ms - m->tone_start_ms),
				MW_DTMF_SRC_INBAND);
}

/* Runs the tone detector over one 20 ms frame of the caller's audio,
 * given at crate ('cpcm') and at arate ('apcm'): it needs 8 kHz. */
static void tone_detect(
		struct mw_media *m, const int16_t *cpcm, const int16_t *apcm)
{
	int16_t nb[NB_FRAME];
	const int16_t *x = cpcm;

	if(m->crate != NB_RATE) {
		if(m->arate == NB_RATE)
			x = apcm;
		else if(mw_resample(&m->rs_det, cpcm, m->cframe, nb, NB_FRAME) >= 0)
			x = nb;
		else
			return;
	}
	dtmf_rx(m->tone_rx, x, NB_FRAME);
}

/* The next 20 ms of an in-band tone at crate into 'cpcm'. */
static void tone_frame(struct mw_media *m, int16_t *cpcm)
{
	int16_t nb[NB_FRAME];
	int n = dtmf_tx(m->tone_tx, nb, NB_FRAME);

	if(n < 0)
		n = 0;
	memset(nb + n, 0, (NB_FRAME - (size_t)n) * sizeof(int16_t));
	if(m->crate == NB_RATE)
		memcpy(cpcm, nb, sizeof(nb));
	else if(mw_resample(&m->rs_tone, nb, NB_FRAME, cpcm, m->cframe) < 0)
		memset(cpcm, 0, m->cframe * sizeof(int16_t));
}

/* ---- the 20 ms tick ---- */

static void send_rtp(struct mw_media *m, uint8_t *pkt, size_t plen, int pt,
		int marker, uint32_t ts)
{
	const struct endpoint *ep = rtp_dest(m);

	if(!ep)
		return;
	mw_rtp_write_hdr(pkt, marker, (uint8_t)pt, m->seq, ts, m->ssrc);
	send_to(m, m->fd_rtp, ep, pkt, MW_RTP_HDR_LEN + plen);
	m->seq++;
	m->st.rtp_tx++;
	m->tx_octets += plen;
	m->sent_since_rtcp = 1;
}

/* A queued digit replaces the audio while it is on the wire; the FIFO
 * waits. Returns 0 when this tick carries audio, 1 when an RFC 4733
 * packet was sent, 2 when 'cpcm' holds a tone frame to encode. */
static int tick_dtmf(
		struct mw_media *m, uint8_t *pkt, int16_t *cpcm, int *tone_marker)
{
	int marker;
	uint32_t ts;

	if(m->tone_ticks) {
		tone_frame(m, cpcm);
		*tone_marker = m->need_marker;
		m->need_marker = 0;
		if(--m->tone_ticks == 0) {
			m->dtmf_gap = DTMF_GAP_TICKS;
			m->need_marker = 1;
		}
		return 2;
	}
	if(!m->dtx.active) {
		char d;
		unsigned ms;
		int tone;

		if(m->dtmf_gap) {
			m->dtmf_gap--;
			return 0;
		}
		if(!m->dq_len)
			return 0;
		d = m->dq[m->dq_head];
		ms = m->dq_ms[m->dq_head];
		tone = m->dq_tone[m->dq_head];
		m->dq_head = (m->dq_head + 1) % DTMF_QUEUE;
		m->dq_len--;
		if(tone) {
			/* spandsp plays on_time of tone, then nothing (gaps are ours) */
			dtmf_tx_set_timing(m->tone_tx, (int)ms, 0);
			if(dtmf_tx_put(m->tone_tx, &d, 1) != 0)
				return 0;
			m->tone_ticks = (ms + 19) / 20;
			m->need_marker = 1;
			return tick_dtmf(m, pkt, cpcm, tone_marker);
		}
		if(m->te_pt < 0 || mw_dtmf_tx_start(&m->dtx, d, ms * (m->clock / 1000),
								   m->ts, m->ts_step) < 0) {
			m->dtx.active = 0;
			return 0;
		}
	}
	if(mw_dtmf_tx_next(&m->dtx, pkt + MW_RTP_HDR_LEN, &marker, &ts) < 0)
		return 0;
	send_rtp(m, pkt, MW_DTMF_PAYLOAD, m->te_pt, marker, ts);
	if(!m->dtx.active) {
		m->dtmf_gap = DTMF_GAP_TICKS;
		m->need_marker = 1; /* audio resumes: a new talkspurt */
	}
	return 1;
}

static void tick_send(struct mw_media *m)
{
	uint8_t pkt[MW_RTP_HDR_LEN + MW_CODEC_MAX_PAYLOAD];
	int16_t apcm[FRAME_MAX], cpcm[FRAME_MAX];
	const int16_t *out = apcm;
	size_t n;
	int marker, len, ended_by_mark, d;

	if(m->held) {
		/* nothing on the wire, the AI audio waits for the resume */
		m->need_marker = 1;
		return;
	}
	d = tick_dtmf(m, pkt, cpcm, &marker);
	if(d == 1)
		return;
	if(d == 2) {
		len = mw_codec_encode(&m->codec, cpcm, m->cframe, pkt + MW_RTP_HDR_LEN,
				MW_CODEC_MAX_PAYLOAD);
		if(len > 0)
			send_rtp(m, pkt, (size_t)len, m->pt, marker, m->ts);
		return;
	}
	n = fifo_pop(m, apcm, m->aframe);
	if(n < m->aframe)
		memset(apcm + n, 0, (m->aframe - n) * sizeof(int16_t));
	marker = m->need_marker || (n > 0 && !m->ai_prev);
	m->need_marker = 0;
	m->ai_prev = n > 0;
	if(m->arate != m->crate) {
		if(n == 0) {
			/* the AI is silent: nothing to convert (the converter starts
			 * from silence again when it talks) */
			memset(cpcm, 0, m->cframe * sizeof(int16_t));
			mw_resampler_reset(&m->rs_tx);
		} else if(mw_resample(&m->rs_tx, apcm, m->aframe, cpcm, m->cframe) <
				  0) {
			memset(cpcm, 0, m->cframe * sizeof(int16_t));
		}
		out = cpcm;
	}
	len = mw_codec_encode(&m->codec, out, m->cframe, pkt + MW_RTP_HDR_LEN,
			MW_CODEC_MAX_PAYLOAD);
	if(len > 0)
		send_rtp(m, pkt, (size_t)len, m->pt, marker, m->ts);

	/* the AI stopped cleanly when a mark closes what it queued */
	ended_by_mark =
			m->q_in == m->q_out && m->m_len &&
			m->marks[(m->m_head + m->m_len - 1) % m->m_cap].pos == m->q_in;
	if(n == m->aframe) {
		m->ai_talking = !ended_by_mark;
		m->idle = 0;
	} else if(m->ai_talking) {
		if(ended_by_mark) {
			m->ai_talking = 0;
		} else {
			m->st.underruns++;
			if(++m->idle >= IDLE_UNDERRUN_TICKS)
				m->ai_talking = 0;
		}
	}
	echo_marks(m, m->q_out, m->m_len);
}

/* Latency metric (mw_metrics.h): 'now' less 'due', the instant the work
 * could start at the earliest (the tick's scheduled time, or the AI
 * audio's arrival when that was later). */
static void lat_record(enum mw_lat l, uint64_t now, uint64_t due)
{
	mw_metrics_latency(l, now > due ? (now - due) / 1000 : 0);
}

/* After a tick consumed the FIFO from q0 to q_out: AI audio whose first
 * sample went out now is timed; audio dropped before (clear, cap) is
 * forgotten. At most LAT_PENDING iterations. */
static void lat_played(struct mw_media *m, uint64_t q0, uint64_t tick_ns)
{
	uint64_t now = 0;

	while(m->lat_len && m->lat_pos[m->lat_head] < m->q_out) {
		if(m->lat_pos[m->lat_head] >= q0) {
			uint64_t t = m->lat_ns[m->lat_head];

			if(!now)
				now = mono_ns();
			lat_record(MW_L_TO_CALLER, now, t > tick_ns ? t : tick_ns);
		}
		m->lat_head = (m->lat_head + 1) % LAT_PENDING;
		m->lat_len--;
	}
}

static void tick(struct mw_media *m, uint64_t tick_ns)
{
	int16_t cpcm[FRAME_MAX], apcm[FRAME_MAX];
	const int16_t *out = cpcm;
	struct mw_dtmf_event ev;
	unsigned n;
	uint64_t q0;

	/* caller side: the jitter buffer's frame for this instant */
	m->now_media_ms = m->ticks * 20;
	(void)mw_jb_get(&m->jb, cpcm, ns_to_units(tick_ns, m->crate), NULL);
	if(m->crate != m->arate) {
		if(mw_resample(&m->rs_rx, cpcm, m->cframe, apcm, m->aframe) < 0)
			memset(apcm, 0, m->aframe * sizeof(int16_t));
		out = apcm;
	}
	if(m->tone_rx)
		tone_detect(m, cpcm, apcm);
	if(mw_dtmf_rx_poll(&m->dtmf_rx, (uint32_t)(tick_ns / 1000000), &ev, &n) ==
					0 &&
			n)
		deliver_dtmf(m, &ev, n);
	if(m->cbs.on_audio) {
		m->cbs.on_audio(m->arg, out, m->aframe, m->ticks * 20);
		lat_record(MW_L_TO_AI, mono_ns(), tick_ns);
	}

	/* AI side */
	m->last_tick_ns = tick_ns;
	m->last_tick_ts = m->ts;
	q0 = m->q_out;
	tick_send(m);
	lat_played(m, q0, tick_ns);
	m->ticks++;
	m->ts += m->ts_step;

	if(m->ticks >= m->rtcp_due) {
		if(!m->held)
			send_rtcp(m, 0);
		m->rtcp_due =
				m->ticks + RTCP_TICKS * 3 / 4 + rnd64(m) % (RTCP_TICKS / 2 + 1);
	}
	/* tick_ns is the scheduled time: a packet read after it but before
	 * this late tick has a later last_rx_ns */
	if(m->cfg.rtp_timeout_ms > 0 && !m->held && !m->timeout_fired &&
			tick_ns > m->last_rx_ns &&
			tick_ns - m->last_rx_ns >=
					(uint64_t)m->cfg.rtp_timeout_ms * 1000000ull) {
		m->timeout_fired = 1;
		if(m->cbs.on_timeout)
			m->cbs.on_timeout(m->arg);
	}
}

static void arm(struct mw_media *m)
{
	mw_clock_add(m->clk, &m->tick_e, m->deadline_ns);
}

static void tick_cb(struct mw_clock_entry *e, uint64_t now)
{
	struct mw_media *m =
			(struct mw_media *)((char *)e - offsetof(struct mw_media, tick_e));
	unsigned n = 0;

	if(now > m->deadline_ns + CATCHUP_MAX * PTIME_NS) {
		/* stalled: skip all missed ticks but the last one */
		uint64_t skip = (now - m->deadline_ns) / PTIME_NS;

		m->deadline_ns += skip * PTIME_NS;
		m->ticks += skip;
		m->ts += (uint32_t)(skip * m->ts_step);
		m->need_marker = 1;
		m->slips++;
	}
	while(n < CATCHUP_MAX && m->deadline_ns <= now + EARLY_NS) {
		tick(m, m->deadline_ns);
		m->deadline_ns += PTIME_NS;
		n++;
	}
	arm(m);
}

/* ---- codec set-up (signalling path, may allocate) ---- */

/* Switches to 'codec' with payload type 'pt': codec state, RTP clock,
 * and -- when the PCM rate changes -- the jitter buffer and the
 * resamplers around it. On failure the session keeps its codec. */
static int set_codec(struct mw_media *m, int codec, int pt)
{
	const struct mw_codec_desc *d = mw_codec_desc(codec);
	struct mw_codec_state c;
	struct mw_resampler r[4];
	struct mw_jb_cfg jc;
	int rc, i;

	if(!d)
		return -EINVAL;
	if(m->codec.d && m->codec.id == codec) {
		m->pt = pt;
		return 0;
	}
	rc = mw_codec_init(&c, codec);
	if(rc < 0)
		return rc;
	memset(r, 0, sizeof(r));
	if(!m->codec.d || d->rate != m->crate) {
		rc = mw_resampler_init(&r[0], d->rate, m->arate);
		if(rc == 0)
			rc = mw_resampler_init(&r[1], m->arate, d->rate);
		/* the tone detector and generator run at 8 kHz */
		if(rc == 0 && m->tone_rx && d->rate != NB_RATE && m->arate != NB_RATE)
			rc = mw_resampler_init(&r[2], d->rate, NB_RATE);
		if(rc == 0 && m->tone_tx && d->rate != NB_RATE)
			rc = mw_resampler_init(&r[3], NB_RATE, d->rate);
		if(rc < 0) {
			for(i = 0; i < 4; i++)
				mw_resampler_cleanup(&r[i]);
			mw_codec_cleanup(&c);
			return rc;
		}
		mw_resampler_cleanup(&m->rs_rx);
		mw_resampler_cleanup(&m->rs_tx);
		mw_resampler_cleanup(&m->rs_det);
		mw_resampler_cleanup(&m->rs_tone);
		m->rs_rx = r[0];
		m->rs_tx = r[1];
		m->rs_det = r[2];
		m->rs_tone = r[3];
		/* a new rate is a new timeline for the jitter buffer */
		jc.rate = d->rate;
		jc.frame = d->rate / 50;
		jc.min_ms = m->cfg.jb_min_ms ? m->cfg.jb_min_ms : 20;
		jc.max_ms = m->cfg.jb_max_ms ? m->cfg.jb_max_ms : 200;
		if(jc.max_ms < jc.min_ms)
			jc.max_ms = jc.min_ms;
		(void)mw_jb_init(&m->jb, &jc); /* valid by construction */
		m->crate = d->rate;
		m->cframe = d->rate / 50;
	}
	mw_codec_cleanup(&m->codec);
	m->codec = c;
	m->clock = d->clock;
	m->ts_step = d->clock / 50;
	m->pt = pt;
	m->rx_ext_init = 0;
	m->need_marker = 1;
	return 0;
}

/* ---- API ---- */

static int parse_local(
		const char *ip, struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if(!ip || !*ip)
		ip = "0.0.0.0";
	if(inet_pton(AF_INET, ip, &((struct sockaddr_in *)sa)->sin_addr) == 1) {
		sa->ss_family = AF_INET;
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)sa)->sin6_addr) == 1) {
		sa->ss_family = AF_INET6;
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

int mw_media_new(struct mw_clock *clk, const struct mw_media_cfg *cfg,
		const struct mw_media_cbs *cbs, void *arg, struct mw_media **out,
		uint16_t *port_out)
{
	struct mw_media *m;
	struct sockaddr_storage local;
	socklen_t llen;
	int rc;

	if(!clk || !cfg || !out || cfg->jb_min_ms < 0 ||
			cfg->jb_max_ms < cfg->jb_min_ms || cfg->rtp_timeout_ms < 0 ||
			(cfg->api_rate && cfg->api_rate != 8000 && cfg->api_rate != 16000))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if(!m)
		return -ENOMEM;
	m->fd_rtp = m->fd_rtcp = -1;
	m->clk = clk;
	m->base = mw_clock_base(clk);
	mw_clock_entry_init(&m->tick_e, tick_cb);
	if(cbs)
		m->cbs = *cbs;
	m->arg = arg;
	m->cfg = *cfg;
	m->cfg.local_ip = NULL; /* not kept: copied below */
	rc = parse_local(cfg->local_ip, &local, &llen);
	if(rc < 0)
		goto fail;
	inet_ntop(local.ss_family,
			local.ss_family == AF_INET
					? (void *)&((struct sockaddr_in *)&local)->sin_addr
					: (void *)&((struct sockaddr_in6 *)&local)->sin6_addr,
			m->local_ip, sizeof(m->local_ip));
	m->family = local.ss_family;
	if(getrandom(&m->rng, sizeof(m->rng), GRND_NONBLOCK) !=
			(ssize_t)sizeof(m->rng))
		m->rng = mono_ns() ^ (uint64_t)(uintptr_t)m;
	m->rng |= 1; /* xorshift state must not be 0 */
	m->ssrc = (uint32_t)rnd64(m);
	m->seq = (uint16_t)rnd64(m);
	m->ts = (uint32_t)rnd64(m);
	m->te_pt = -1;
	m->need_marker = 1;
	m->arate = cfg->api_rate ? cfg->api_rate : 8000;
	m->aframe = m->arate / 50;
	m->q_cap = (uint64_t)(cfg->playout_max_ms ? cfg->playout_max_ms : 300000) *
			   (m->arate / 1000);
	if(cfg->dtmf_inband) {
		m->tone_rx = dtmf_rx_init(NULL, NULL, NULL);
		if(!m->tone_rx) {
			rc = -ENOMEM;
			goto fail;
		}
		dtmf_rx_set_realtime_callback(m->tone_rx, tone_report_cb, m);
	}
	/* PCMU until the SDP says otherwise */
	rc = set_codec(m, MW_CODEC_PCMU, MW_CODEC_PCMU);
	if(rc < 0)
		goto fail;
	mw_dtmf_rx_init(&m->dtmf_rx, DTMF_RX_TIMEOUT_MS);

	rc = bind_pair(m, &local, llen);
	if(rc < 0)
		goto fail;
	m->ev_rtp = event_new(m->base, m->fd_rtp, EV_READ | EV_PERSIST, read_cb, m);
	m->ev_rtcp =
			event_new(m->base, m->fd_rtcp, EV_READ | EV_PERSIST, read_cb, m);
	if(!m->ev_rtp || !m->ev_rtcp || event_add(m->ev_rtp, NULL) < 0 ||
			event_add(m->ev_rtcp, NULL) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = m;
	if(port_out)
		*port_out = m->port;
	return 0;
fail:
	mw_media_free(m);
	return rc;
}

int mw_media_set_remote(struct mw_media *m, const struct sockaddr *sa,
		socklen_t salen, int codec, int pt, int te_pt)
{
	struct sockaddr_storage ss;
	int rc;

	if(!m || !sa || salen > sizeof(ss) || !mw_codec_desc(codec) || pt < 0 ||
			pt > 127 || pt == PT_CN || te_pt > 127 || te_pt == pt ||
			te_pt == PT_CN || (codec != MW_CODEC_OPUS && pt != codec) ||
			(codec == MW_CODEC_OPUS && pt < 96))
		return -EINVAL;
	if(sa->sa_family != m->family)
		return -EAFNOSUPPORT;
	if(salen < (m->family == AF_INET ? sizeof(struct sockaddr_in)
									 : sizeof(struct sockaddr_in6)))
		return -EINVAL;
	rc = set_codec(m, codec, pt);
	if(rc < 0)
		return rc;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, salen);
	if(!m->sdp.set || !sa_equal(&ss, &m->sdp.sa)) {
		/* a new far end: learn its source again */
		m->rtp_src.set = 0;
		m->rtcp_src.set = 0;
		m->rtcp_mux = 0;
	}
	m->sdp.sa = ss;
	m->sdp.len = salen;
	m->sdp.set = 1;
	m->te_pt = te_pt < 0 ? -1 : te_pt;
	return 0;
}

int mw_media_codec(const struct mw_media *m)
{
	return m->codec.id;
}

int mw_media_start(struct mw_media *m)
{
	uint64_t now;

	if(!m)
		return -EINVAL;
	if(m->running)
		return -EALREADY;
	now = mono_ns();
	m->running = 1;
	/* on the clock's 1 ms grid: the wheel then runs every tick at its
	 * deadline, not up to a slot early */
	m->deadline_ns = (now / MW_CLOCK_SLOT_NS + 1) * MW_CLOCK_SLOT_NS;
	m->last_rx_ns = now;
	/* first report after half an interval (RFC 3550 6.2) */
	m->rtcp_due = RTCP_TICKS * 3 / 8 + rnd64(m) % (RTCP_TICKS / 4 + 1);
	arm(m);
	return 0;
}

int mw_media_hold(struct mw_media *m, int on)
{
	if(!m)
		return -EINVAL;
	if(m->held && !on) {
		m->need_marker = 1;
		m->last_rx_ns = mono_ns(); /* the timeout restarts */
		m->timeout_fired = 0;
	}
	m->held = !!on;
	return 0;
}

int mw_media_play(struct mw_media *m, const int16_t *pcm, size_t samples)
{
	int rc;

	if(!m || (!pcm && samples))
		return -EINVAL;
	if(!samples)
		return 0;
	if(m->lat_len < LAT_PENDING) {
		unsigned i = (m->lat_head + m->lat_len) % LAT_PENDING;

		m->lat_pos[i] = m->q_in;
		m->lat_ns[i] = mono_ns();
		if((rc = fifo_push(m, pcm, samples)) == 0)
			m->lat_len++;
		return rc;
	}
	return fifo_push(m, pcm, samples);
}

int mw_media_mark(struct mw_media *m, const char *name)
{
	size_t len;
	char *copy;

	if(!m || !name)
		return -EINVAL;
	len = strlen(name);
	if(len > MARK_NAME_MAX)
		return -ENAMETOOLONG;
	if(m->q_in == m->q_out) {
		/* nothing queued: earlier marks (audio dropped by the cap) first,
		 * then this one, at once */
		echo_marks(m, m->q_out, m->m_len);
		if(m->cbs.on_mark)
			m->cbs.on_mark(m->arg, name);
		return 0;
	}
	if(m->m_len == m->m_cap) {
		unsigned ncap = m->m_cap ? m->m_cap * 2 : 16, i;
		struct mark *nm;

		if(m->m_cap >= MARKS_MAX)
			return -ENOBUFS;
		nm = malloc(ncap * sizeof(*nm));
		if(!nm)
			return -ENOMEM;
		for(i = 0; i < m->m_len; i++)
			nm[i] = m->marks[(m->m_head + i) % m->m_cap];
		free(m->marks);
		m->marks = nm;
		m->m_cap = ncap;
		m->m_head = 0;
	}
	copy = malloc(len + 1);
	if(!copy)
		return -ENOMEM;
	memcpy(copy, name, len + 1);
	m->marks[(m->m_head + m->m_len) % m->m_cap].pos = m->q_in;
	m->marks[(m->m_head + m->m_len) % m->m_cap].name = copy;
	m->m_len++;
	return 0;
}

int mw_media_clear(struct mw_media *m)
{
	if(!m)
		return -EINVAL;
	fifo_pop(m, NULL, m->q_in - m->q_out);
	m->ai_talking = 0;
	m->idle = 0;
	/* every mark pending now, in order; marks queued by the callbacks
	 * follow audio queued after this clear and wait for it */
	echo_marks(m, UINT64_MAX, m->m_len);
	return 0;
}

static int queue_digit(
		struct mw_media *m, char digit, int duration_ms, int tone)
{
	unsigned i;

	if(m->dq_len >= DTMF_QUEUE)
		return -ENOBUFS;
	if(duration_ms <= 0)
		duration_ms = 100;
	if(duration_ms < 40)
		duration_ms = 40;
	if(duration_ms > 5000)
		duration_ms = 5000;
	i = (m->dq_head + m->dq_len) % DTMF_QUEUE;
	m->dq[i] = digit >= 'a' && digit <= 'd' ? (char)(digit - 'a' + 'A') : digit;
	m->dq_ms[i] = (uint16_t)duration_ms;
	m->dq_tone[i] = (uint8_t)tone;
	m->dq_len++;
	return 0;
}

int mw_media_send_dtmf(struct mw_media *m, char digit, int duration_ms)
{
	if(!m || mw_dtmf_code(digit) < 0)
		return -EINVAL;
	if(m->te_pt < 0)
		return -ENOTSUP;
	return queue_digit(m, digit, duration_ms, 0);
}

int mw_media_send_dtmf_inband(struct mw_media *m, char digit, int duration_ms)
{
	if(!m || mw_dtmf_code(digit) < 0)
		return -EINVAL;
	if(!m->tone_tx) {
		/* the first in-band digit of the call sets the generator up */
		m->tone_tx = dtmf_tx_init(NULL);
		if(!m->tone_tx)
			return -ENOMEM;
		if(m->crate != NB_RATE &&
				mw_resampler_init(&m->rs_tone, NB_RATE, m->crate) < 0) {
			dtmf_tx_free(m->tone_tx);
			m->tone_tx = NULL;
			return -ENOMEM;
		}
	}
	return queue_digit(m, digit, duration_ms, 1);
}

void mw_media_get_stats(const struct mw_media *m, struct mw_media_stats *st)
{
	struct mw_jb_stats js;
	int32_t lost = m->rxs.init ? mw_rtp_rxstats_lost(&m->rxs) : 0;

	*st = m->st;
	mw_jb_get_stats(&m->jb, &js);
	st->rtp_lost = m->lost_acc + (lost > 0 ? (uint64_t)lost : 0);
	st->rtp_late = js.late;
	st->jitter_ms = mw_rtp_rxstats_jitter_ts(&m->rxs) * 1000 / m->clock;
	st->jb_ms = js.delay_ms;
	st->plc_frames = js.plc_frames;
	st->playout_dropped_ms = m->dropped * 1000 / m->arate;
	st->queued_ms = (m->q_in - m->q_out) * 1000 / m->arate;
}

void mw_media_free(struct mw_media *m)
{
	struct chunk *c;

	if(!m)
		return;
	if(m->running && !m->held && m->fd_rtcp >= 0)
		send_rtcp(m, 1);
	mw_clock_del(m->clk, &m->tick_e);
	if(m->ev_rtp)
		event_free(m->ev_rtp);
	if(m->ev_rtcp)
		event_free(m->ev_rtcp);
	if(m->fd_rtp >= 0)
		close(m->fd_rtp);
	if(m->fd_rtcp >= 0)
		close(m->fd_rtcp);
	fifo_pop(m, NULL, m->q_in - m->q_out);
	while((c = m->spare)) {
		m->spare = c->next;
		free(c);
	}
	/* marks still pending are dropped without echo: the call is gone */
	while(m->m_len) {
		free(m->marks[m->m_head].name);
		m->m_head = (m->m_head + 1) % m->m_cap;
		m->m_len--;
	}
	free(m->marks);
	mw_codec_cleanup(&m->codec);
	mw_resampler_cleanup(&m->rs_rx);
	mw_resampler_cleanup(&m->rs_tx);
	mw_resampler_cleanup(&m->rs_det);
	mw_resampler_cleanup(&m->rs_tone);
	if(m->tone_rx)
		dtmf_rx_free(m->tone_rx);
	if(m->tone_tx)
		dtmf_tx_free(m->tone_tx);
	free(m);
}
