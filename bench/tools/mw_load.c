/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_load.c -- load generator for the media-worker benchmark
 * (bench/worker.sh). A test tool, not shipped: SIP and bencode are
 * hand-written with snprintf and parsed minimally (status line, Call-ID,
 * CSeq, To tag, Contact, the SDP's c= and m=), which is all a UAC facing
 * one known UAS needs.
 *
 * Two modes, same RTP load and the same measurements:
 *
 *   sip  N calls to a media worker over SIP/UDP directly, as the edge
 *        would place them (INVITE with SDP PCMU + telephone-event,
 *        X-Byoc-Agent/-Trunk/-DID; ACK; the call is held; BYE), ramped
 *        at a bounded rate. 20 ms PCMU RTP is sent to every call; the
 *        worker's RTP is received. With an echo backend behind the
 *        worker, the audio comes back: each packet carries a tag (magic
 *        + send time) that survives G.711 decode/encode and the echo, so
 *        the round trip RTP -> worker -> WebSocket -> echo -> worker ->
 *        RTP is measured per packet.
 *   ng   the baseline: N calls created in rtpengine with the ng protocol
 *        (offer/answer, delete at the end); both legs are ours and send
 *        20 ms RTP to rtpengine, which relays it to the other leg. The
 *        tags give the one-way relay latency.
 *
 * Measured in a fixed window (after the ramp and a warm-up): packets
 * sent/received, loss (sequence gaps of the received streams),
 * inter-departure jitter of the received streams (|arrival delta - 20 ms|
 * of consecutive packets, kernel receive timestamps: on loopback arrival
 * is departure), the tag latency, and the CPU (user/system, /proc) and
 * RSS of the processes named with --pid. Output: KEY=VALUE lines.
 *
 * Everything is bounded: fixed call count, fixed durations, a capped
 * number of retransmissions; the program stops by itself.
 *
 * One UDP socket carries the RTP of all calls (per direction); streams
 * are told apart by the far end's source port. RTCP ports are bound and
 * drained.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define MAX_CALLS 4000
#define MAX_PIDS 8
#define PTIME_NS 20000000ll
#define SLOTS 20 /* calls spread over 20 phases 1 ms apart */
#define SLOT_NS (PTIME_NS / SLOTS)
#define PAYLOAD 160
#define RTP_HDR 12
#define BATCH 64
#define SIP_MAX 4096
#define TAG_LEN 10
#define T1_MS 500
#define RETX_MAX 7
#define HIST_US 10		 /* histogram bin width */
#define HIST_BINS 200000 /* 2 s */
#define SETUP_TIMEOUT_S 32
#define TEARDOWN_MAX_S 15

static const uint8_t MAGIC[3] = {0x9a, 0xe5, 0x8b};

enum mode
{
	MODE_SIP,
	MODE_NG
};

enum cstate
{
	C_IDLE,
	C_INVITING,	 /* sip: INVITE sent; ng: offer sent */
	C_ANSWERING, /* ng: answer sent */
	C_UP,
	C_BYE, /* sip: BYE sent; ng: delete sent */
	C_DONE,
	C_FAILED
};

/* A received RTP stream (one per call in sip mode, two in ng mode). */
struct rx
{
	int init;
	uint32_t ext_max; /* extended highest sequence number */
	uint32_t win_first, win_last;
	uint32_t win_ts_first, win_ts_last; /* RTP timestamps of those */
	int win_init;
	uint64_t win_rx;
	int64_t last_ns; /* kernel arrival time of the previous packet */
	uint32_t last_ext;
	uint8_t carry[TAG_LEN - 1];
	unsigned carry_len;
};

struct tx
{
	uint32_t ssrc, ts;
	uint16_t seq;
	struct sockaddr_in to;
};

struct call
{
	enum cstate st;
	int64_t next_retx_ns, deadline_ns;
	unsigned retx;
	char to_tag[128];
	char contact[256];
	double start_frac; /* random part of the start time, in intervals */
	int got_provisional;
	int ended_by_peer;
	/* sip: tx[0] to the worker, rx[0] from it; ng: tx[0] A->rtpengine
	 * (received on B as rx[1]), tx[1] B->rtpengine (received on A as
	 * rx[0]) */
	struct tx tx[2];
	struct rx rx[2];
	uint16_t peer_port[2];
};

struct hist
{
	uint32_t *bins;
	uint64_t n, over;
	int64_t max;
};

struct watched
{
	char name[32];
	int pid;
	uint64_t u0, s0, u1, s1;
	long rss0, rss1;
};

static struct
{
	enum mode mode;
	struct sockaddr_in target; /* worker SIP or rtpengine ng */
	char local_ip[64];
	uint16_t sip_port, rtp_port;
	unsigned calls;
	double rate, bye_rate;
	double warmup_s, duration_s;
	const char *agent, *trunk, *did;
	int verbose;
	struct watched pids[MAX_PIDS];
	unsigned npids;
	struct sockaddr_in scrape; /* admin HTTP: /metrics at the window edges */
	int have_scrape;
	const char *scrape_out;
	int core; /* also report this core's busy time (-1: no) */
	/* /proc/stat [all, core][busy, total, steal] */
	uint64_t st0[2][3], st1[2][3];

	struct event_base *base;
	int fd_sig;	   /* SIP or ng */
	int fd_rtp[2]; /* sip: [0]; ng: A, B */
	int fd_rtcp[2];
	struct call *c;
	int32_t port_map[65536]; /* far-end source port -> stream id */
	unsigned run_id;
	int64_t t0_ns, t0_real_us;

	/* phases */
	int phase; /* 0 ramp, 1 warm-up, 2 measure, 3 teardown, 4 done */
	int64_t phase_end_ns;
	unsigned started, up, failed, done, ended_by_peer, byes_sent;
	unsigned bye_ok, bye_failed;
	unsigned fail_codes[7]; /* by status class, [0] = timeout */
	int64_t ramp_start_ns;
	unsigned next_bye;
	int64_t next_bye_ns;
	unsigned slot;
	int64_t next_slot_ns;

	/* window */
	int measuring;
	int64_t win_start_ns, win_end_ns;
	unsigned up_at_start, up_at_end;
	uint64_t win_tx, win_tags, win_bad_tags;
	struct hist ipd, lat;
} G;

/* ---- time ---- */

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static int64_t real_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000ll + t.tv_nsec / 1000;
}

/* ---- histograms (10 us bins up to 2 s) ---- */

static void hist_init(struct hist *h)
{
	h->bins = calloc(HIST_BINS, sizeof(uint32_t));
	if(!h->bins) {
		fprintf(stderr, "mw_load: out of memory\n");
		exit(1);
	}
}

static void hist_add(struct hist *h, int64_t us)
{
	int64_t b = us / HIST_US;

	if(us < 0)
		b = 0;
	if(us > h->max)
		h->max = us;
	h->n++;
	if(b >= HIST_BINS)
		h->over++;
	else
		h->bins[b]++;
}

/* The value below which a fraction q of the samples lies (bin middle). */
static double hist_q(const struct hist *h, double q)
{
	uint64_t want, acc = 0;
	unsigned i;

	if(!h->n)
		return -1;
	want = (uint64_t)(q * (double)h->n);
	if(want >= h->n)
		want = h->n - 1;
	for(i = 0; i < HIST_BINS; i++) {
		acc += h->bins[i];
		if(acc > want)
			return (i + 0.5) * HIST_US;
	}
	return (double)h->max;
}

static double hist_min(const struct hist *h)
{
	unsigned i;

	for(i = 0; i < HIST_BINS; i++)
		if(h->bins[i])
			return (i + 0.5) * HIST_US;
	return -1;
}

/* ---- /proc ---- */

static void proc_sample(struct watched *w, uint64_t *u, uint64_t *s, long *rss)
{
	char path[64], buf[2048], *p;
	FILE *f;
	unsigned long ut = 0, st = 0;
	int i;

	*u = *s = 0;
	*rss = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", w->pid);
	f = fopen(path, "r");
	if(f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		p = strrchr(buf, ')');
		/* after ") ": state is field 3; utime 14, stime 15 */
		for(i = 3; p && i <= 14; i++)
			p = strchr(p + 1, ' ');
		if(p && sscanf(p + 1, "%lu %lu", &ut, &st) == 2) {
			*u = ut;
			*s = st;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/status", w->pid);
	f = fopen(path, "r");
	if(f) {
		while(fgets(buf, sizeof(buf), f))
			if(strncmp(buf, "VmRSS:", 6) == 0)
				*rss = strtol(buf + 6, NULL, 10);
		fclose(f);
	}
}

/* ---- sockets ---- */

static int udp_bind(const char *ip, uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd, one = 1;

	if(inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return -1;
	if(rcvbuf) {
		/* as root, beyond rmem_max; else what the limit allows */
		if(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
			(void)setsockopt(
					fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
			(void)setsockopt(
					fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	}
	if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "mw_load: bind %s:%u: %s\n", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char ip[64];
	const char *c = strrchr(s, ':');

	if(!c || (size_t)(c - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static void send_sig(const char *msg, size_t len)
{
	(void)sendto(G.fd_sig, msg, len, 0, (struct sockaddr *)&G.target,
			sizeof(G.target));
}

/* ---- tags: magic + 36-bit send time (us) + checksum, 6 bits a byte ---- */

static void tag_write(uint8_t *p, int64_t us)
{
	unsigned i, sum = 0;

	memcpy(p, MAGIC, 3);
	for(i = 0; i < 6; i++) {
		unsigned v = (unsigned)((uint64_t)us >> (6 * (5 - i))) & 63;

		p[3 + i] = (uint8_t)(0x20 + v); /* never 0x7f/0xff (mu-law zeros) */
		sum += v;
	}
	p[9] = (uint8_t)(0x20 + (sum & 63));
}

static int tag_read(const uint8_t *p, int64_t *us)
{
	unsigned i, sum = 0;
	uint64_t v = 0;

	for(i = 0; i < 6; i++) {
		unsigned b = p[3 + i];

		if(b < 0x20 || b > 0x5f)
			return -1;
		v = v << 6 | (b - 0x20);
		sum += b - 0x20;
	}
	if(p[9] != 0x20 + (sum & 63))
		return -1;
	*us = (int64_t)v;
	return 0;
}

/* ---- RTP ---- */

static void rtp_build(uint8_t *pkt, struct tx *t, int64_t now_rel_us)
{
	unsigned i;

	pkt[0] = 0x80;
	pkt[1] = 0; /* PCMU */
	pkt[2] = (uint8_t)(t->seq >> 8);
	pkt[3] = (uint8_t)t->seq;
	pkt[4] = (uint8_t)(t->ts >> 24);
	pkt[5] = (uint8_t)(t->ts >> 16);
	pkt[6] = (uint8_t)(t->ts >> 8);
	pkt[7] = (uint8_t)t->ts;
	pkt[8] = (uint8_t)(t->ssrc >> 24);
	pkt[9] = (uint8_t)(t->ssrc >> 16);
	pkt[10] = (uint8_t)(t->ssrc >> 8);
	pkt[11] = (uint8_t)t->ssrc;
	/* a quiet square wave (+-2 mu-law steps), then the tag */
	for(i = 0; i < PAYLOAD; i++)
		pkt[RTP_HDR + i] = (i / 4) & 1 ? 0xf0 : 0x70;
	tag_write(pkt + RTP_HDR + 40, now_rel_us & ((1ll << 36) - 1));
	t->seq++;
	t->ts += PAYLOAD;
}

static void rx_scan_tags(
		struct rx *r, const uint8_t *pl, size_t n, int64_t arr_rel_us)
{
	uint8_t buf[TAG_LEN - 1 + 2048];
	size_t len = r->carry_len, i;

	memcpy(buf, r->carry, r->carry_len);
	if(n > sizeof(buf) - len)
		n = sizeof(buf) - len;
	memcpy(buf + len, pl, n);
	len += n;
	for(i = 0; i + TAG_LEN <= len; i++) {
		int64_t sent, d;

		if(buf[i] != MAGIC[0] || buf[i + 1] != MAGIC[1] ||
				buf[i + 2] != MAGIC[2])
			continue;
		if(tag_read(buf + i, &sent) < 0) {
			G.win_bad_tags++;
			continue;
		}
		d = (arr_rel_us - sent) & ((1ll << 36) - 1);
		if(d > 10000000) { /* not ours / nonsense */
			G.win_bad_tags++;
			continue;
		}
		G.win_tags++;
		hist_add(&G.lat, d);
		i += TAG_LEN - 1;
	}
	r->carry_len = len < TAG_LEN - 1 ? (unsigned)len : TAG_LEN - 1;
	memcpy(r->carry, buf + len - r->carry_len, r->carry_len);
}

static void rx_packet(struct rx *r, const uint8_t *p, size_t len,
		int64_t arr_ns, int64_t arr_rel_us)
{
	uint16_t seq;
	uint32_t ext, ts;
	size_t hl;

	if(len < RTP_HDR || (p[0] >> 6) != 2)
		return;
	hl = RTP_HDR + 4u * (p[0] & 15);
	if(p[0] & 0x10) { /* extension */
		if(len < hl + 4)
			return;
		hl += 4 + 4u * ((unsigned)p[hl + 2] << 8 | p[hl + 3]);
	}
	if(len < hl)
		return;
	seq = (uint16_t)(p[2] << 8 | p[3]);
	ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 |
		 p[7];
	if(!r->init) {
		r->init = 1;
		r->ext_max = 0x10000u + seq;
		ext = r->ext_max;
		r->last_ns = 0;
	} else {
		int16_t d = (int16_t)(seq - (uint16_t)r->ext_max);

		ext = r->ext_max + d;
		if(d > 0)
			r->ext_max = ext;
	}
	if(!G.measuring) {
		r->last_ns = arr_ns;
		r->last_ext = ext;
		r->carry_len = 0;
		return;
	}
	if(!r->win_init) {
		r->win_init = 1;
		r->win_first = ext;
		r->win_last = ext;
		r->win_ts_first = r->win_ts_last = ts;
	}
	if(ext > r->win_last) {
		r->win_last = ext;
		r->win_ts_last = ts;
	}
	if(ext < r->win_first) {
		r->win_first = ext;
		r->win_ts_first = ts;
	}
	r->win_rx++;
	if(r->last_ns && ext == r->last_ext + 1) {
		int64_t d = arr_ns - r->last_ns - PTIME_NS;

		hist_add(&G.ipd, (d < 0 ? -d : d) / 1000);
	}
	if(ext != r->last_ext + 1)
		r->carry_len = 0;
	r->last_ns = arr_ns;
	r->last_ext = ext;
	rx_scan_tags(r, p + hl, len - hl, arr_rel_us);
}

static void rtp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static uint8_t bufs[BATCH][2048];
	static uint64_t ctl[BATCH][8]; /* cmsg space, aligned */
	struct sockaddr_in from[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	unsigned round;
	int i, n;

	(void)what;
	(void)arg;
	for(round = 0; round < 16; round++) {
		for(i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if(n <= 0)
			return;
		for(i = 0; i < n; i++) {
			struct cmsghdr *cm;
			int64_t arr = 0;
			int32_t sid = G.port_map[ntohs(from[i].sin_port)];

			for(cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
					cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
				if(cm->cmsg_level == SOL_SOCKET &&
						cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					arr = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
				}
			if(!arr) {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				arr = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
			}
			if(sid < 0)
				continue;
			rx_packet(&G.c[sid >> 1].rx[sid & 1], bufs[i], msgs[i].msg_len, arr,
					arr / 1000 - G.t0_real_us);
		}
		if(n < BATCH)
			return;
	}
}

static void rtcp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[2048];
	unsigned i;

	(void)what;
	(void)arg;
	for(i = 0; i < 256; i++)
		if(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			return;
}

/* Sends one packet per active stream of the calls of phase 'slot'. */
static void send_slot(unsigned slot)
{
	static uint8_t pkts[2][BATCH][RTP_HDR + PAYLOAD];
	struct mmsghdr msgs[2][BATCH];
	struct iovec iov[2][BATCH];
	unsigned nb[2] = {0, 0}, legs = G.mode == MODE_NG ? 2 : 1, i, l;
	int64_t now = real_us() - G.t0_real_us;

	for(i = slot; i < G.calls; i += SLOTS) {
		struct call *c = &G.c[i];

		if(c->st != C_UP)
			continue;
		for(l = 0; l < legs; l++) {
			unsigned k = nb[l];

			rtp_build(pkts[l][k], &c->tx[l], now);
			iov[l][k].iov_base = pkts[l][k];
			iov[l][k].iov_len = RTP_HDR + PAYLOAD;
			memset(&msgs[l][k], 0, sizeof(msgs[l][k]));
			msgs[l][k].msg_hdr.msg_name = &c->tx[l].to;
			msgs[l][k].msg_hdr.msg_namelen = sizeof(c->tx[l].to);
			msgs[l][k].msg_hdr.msg_iov = &iov[l][k];
			msgs[l][k].msg_hdr.msg_iovlen = 1;
			if(G.measuring)
				G.win_tx++;
			if(++nb[l] == BATCH) {
				(void)sendmmsg(G.fd_rtp[l], msgs[l], BATCH, 0);
				nb[l] = 0;
			}
		}
	}
	for(l = 0; l < legs; l++)
		if(nb[l])
			(void)sendmmsg(G.fd_rtp[l], msgs[l], nb[l], 0);
}

/* ---- SIP (hand-written: a test tool facing one known UAS) ---- */

/* Value of header 'name' (or its compact form 'c'), trimmed; 0 or -1. */
static int sip_hdr(
		const char *msg, const char *name, char cf, char *out, size_t len)
{
	const char *p = msg, *e;
	size_t nl = strlen(name);

	while((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if(p[0] == '\r')
			return -1; /* end of headers */
		if((strncasecmp(p, name, nl) == 0 && (p[nl] == ':' || p[nl] == ' ')) ||
				(cf && (p[0] == cf || p[0] == (cf ^ 0x20)) &&
						(p[1] == ':' || p[1] == ' '))) {
			p = strchr(p, ':');
			if(!p)
				return -1;
			p++;
			while(*p == ' ' || *p == '\t')
				p++;
			e = strstr(p, "\r\n");
			if(!e)
				return -1;
			if((size_t)(e - p) >= len)
				return -1;
			memcpy(out, p, (size_t)(e - p));
			out[e - p] = '\0';
			return 0;
		}
	}
	return -1;
}

static int sdp_media(const char *body, struct sockaddr_in *sa)
{
	char ip[64] = "";
	const char *c = strstr(body, "c=IN IP4 "), *m = strstr(body, "m=audio ");

	if(!c || !m || sscanf(c + 9, "%63[0-9.]", ip) != 1)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(m + 8));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 && sa->sin_port ? 0 : -1;
}

static int sip_common(char *b, size_t len, const char *method, unsigned i,
		unsigned cseq, unsigned branch, const char *ruri, const struct call *c)
{
	return snprintf(b, len,
			"%s %s SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-mwl%x-%u-%u;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:+15550001111@carrier.example>;tag=mwl%u\r\n"
			"To: <sip:%s@edge.example>%s%s\r\n"
			"Call-ID: mwl-%x-%u@%s\r\n"
			"CSeq: %u %s\r\n",
			method, ruri, G.local_ip, G.sip_port, G.run_id, i, branch, i, G.did,
			c->to_tag[0] ? ";tag=" : "", c->to_tag, G.run_id, i, G.local_ip,
			cseq, method);
}

static void sip_invite(unsigned i)
{
	char sdp[512], msg[SIP_MAX], ruri[128];
	int n, s;

	s = snprintf(sdp, sizeof(sdp),
			"v=0\r\no=load %u 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			"m=audio %u RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
			"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
			"a=ptime:20\r\na=sendrecv\r\n",
			i, G.local_ip, G.local_ip, G.rtp_port);
	snprintf(ruri, sizeof(ruri), "sip:%s@%s:%u", G.did,
			inet_ntoa(G.target.sin_addr), ntohs(G.target.sin_port));
	n = sip_common(msg, sizeof(msg), "INVITE", i, 1, 0, ruri, &G.c[i]);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n,
			"Contact: <sip:carrier@%s:%u>\r\n"
			"X-Byoc-Agent: %s\r\nX-Byoc-Trunk: %s\r\nX-Byoc-DID: %s\r\n"
			"X-Byoc-Direction: inbound\r\n"
			"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			G.local_ip, G.sip_port, G.agent, G.trunk, G.did, s, sdp);
	send_sig(msg, (size_t)n);
}

static void sip_ack_or_bye(
		unsigned i, const char *method, unsigned cseq, unsigned branch)
{
	char msg[SIP_MAX];
	struct call *c = &G.c[i];
	char ruri[256];
	int n;

	/* the Contact's URI, without <> and parameters after '>' */
	if(sscanf(c->contact, "<%255[^>]>", ruri) != 1)
		snprintf(ruri, sizeof(ruri), "%s", c->contact);
	n = sip_common(msg, sizeof(msg), method, i, cseq, branch, ruri, c);
	n += snprintf(
			msg + n, sizeof(msg) - (size_t)n, "Content-Length: 0\r\n\r\n");
	send_sig(msg, (size_t)n);
}

/* The ACK of a non-2xx final response: same branch as the INVITE. */
static void sip_ack_err(unsigned i)
{
	char msg[SIP_MAX], ruri[128];
	int n;

	snprintf(ruri, sizeof(ruri), "sip:%s@%s:%u", G.did,
			inet_ntoa(G.target.sin_addr), ntohs(G.target.sin_port));
	n = sip_common(msg, sizeof(msg), "ACK", i, 1, 0, ruri, &G.c[i]);
	n += snprintf(
			msg + n, sizeof(msg) - (size_t)n, "Content-Length: 0\r\n\r\n");
	send_sig(msg, (size_t)n);
}

/* 200 to a request from the worker (BYE, or anything else in a dialog). */
static void sip_reply_200(const char *req, const struct sockaddr_in *from)
{
	char out[SIP_MAX];
	const char *p = req, *e;
	size_t n;

	n = (size_t)snprintf(out, sizeof(out), "SIP/2.0 200 OK\r\n");
	while((p = strstr(p, "\r\n")) != NULL && p[2] != '\r') {
		p += 2;
		e = strstr(p, "\r\n");
		if(!e)
			break;
		if(strncasecmp(p, "Via:", 4) == 0 || strncasecmp(p, "v:", 2) == 0 ||
				strncasecmp(p, "From:", 5) == 0 ||
				strncasecmp(p, "f:", 2) == 0 || strncasecmp(p, "To:", 3) == 0 ||
				strncasecmp(p, "t:", 2) == 0 ||
				strncasecmp(p, "Call-ID:", 8) == 0 ||
				strncasecmp(p, "i:", 2) == 0 ||
				strncasecmp(p, "CSeq:", 5) == 0) {
			if(n + (size_t)(e - p) + 2 >= sizeof(out))
				return;
			memcpy(out + n, p, (size_t)(e - p) + 2);
			n += (size_t)(e - p) + 2;
		}
	}
	n += (size_t)snprintf(
			out + n, sizeof(out) - n, "Content-Length: 0\r\n\r\n");
	(void)sendto(
			G.fd_sig, out, n, 0, (const struct sockaddr *)from, sizeof(*from));
}

static int call_index(const char *callid)
{
	unsigned run, i;

	if(sscanf(callid, "mwl-%x-%u@", &run, &i) != 2 || run != G.run_id ||
			i >= G.calls)
		return -1;
	return (int)i;
}

static void call_up(unsigned i)
{
	struct call *c = &G.c[i];

	c->st = C_UP;
	G.up++;
}

static void call_fail(unsigned i, int code)
{
	struct call *c = &G.c[i];

	c->st = C_FAILED;
	G.failed++;
	G.fail_codes[code / 100 < 7 ? code / 100 : 0]++;
	if(G.verbose)
		fprintf(stderr, "mw_load: call %u failed (%d)\n", i, code);
}

static void call_end(unsigned i)
{
	struct call *c = &G.c[i];

	if(c->st == C_UP || c->st == C_BYE)
		G.up--;
	c->st = C_DONE;
	G.done++;
}

static void sip_response(char *msg, size_t len)
{
	char callid[256], cseq[64], to[512];
	const char *body;
	unsigned code;
	int idx;
	struct call *c;

	if(sscanf(msg, "SIP/2.0 %u", &code) != 1 ||
			sip_hdr(msg, "Call-ID", 'i', callid, sizeof(callid)) < 0 ||
			sip_hdr(msg, "CSeq", 0, cseq, sizeof(cseq)) < 0 ||
			(idx = call_index(callid)) < 0)
		return;
	c = &G.c[idx];
	if(strstr(cseq, "INVITE")) {
		if(code < 200) {
			c->got_provisional = 1;
			return;
		}
		if(code >= 300) {
			if(c->st == C_INVITING) {
				if(sip_hdr(msg, "To", 't', to, sizeof(to)) == 0) {
					const char *t = strstr(to, "tag=");
					if(t)
						sscanf(t + 4, "%127[^;> ]", c->to_tag);
				}
				sip_ack_err((unsigned)idx);
				call_fail((unsigned)idx, (int)code);
			}
			return;
		}
		/* 2xx: (re-)ACK; first time: the dialog and media */
		if(c->st == C_INVITING) {
			const char *t;

			if(sip_hdr(msg, "To", 't', to, sizeof(to)) < 0 ||
					!(t = strstr(to, "tag=")) ||
					sscanf(t + 4, "%127[^;> ]", c->to_tag) != 1 ||
					sip_hdr(msg, "Contact", 'm', c->contact,
							sizeof(c->contact)) < 0 ||
					!(body = strstr(msg, "\r\n\r\n")) ||
					sdp_media(body + 4, &c->tx[0].to) < 0) {
				call_fail((unsigned)idx, 0);
				return;
			}
			G.port_map[ntohs(c->tx[0].to.sin_port)] = (int32_t)(idx * 2);
			sip_ack_or_bye((unsigned)idx, "ACK", 1, 1);
			call_up((unsigned)idx);
		} else if(c->st == C_UP || c->st == C_BYE) {
			sip_ack_or_bye((unsigned)idx, "ACK", 1, 1);
		}
		(void)len;
		return;
	}
	if(strstr(cseq, "BYE") && c->st == C_BYE && code >= 200) {
		if(code < 300)
			G.bye_ok++;
		else
			G.bye_failed++;
		call_end((unsigned)idx);
	}
}

static void sip_request(char *msg, const struct sockaddr_in *from)
{
	char callid[256];
	int idx;

	if(strncmp(msg, "ACK ", 4) == 0)
		return;
	sip_reply_200(msg, from);
	if(strncmp(msg, "BYE ", 4) == 0 &&
			sip_hdr(msg, "Call-ID", 'i', callid, sizeof(callid)) == 0 &&
			(idx = call_index(callid)) >= 0 &&
			(G.c[idx].st == C_UP || G.c[idx].st == C_BYE)) {
		G.c[idx].ended_by_peer = 1;
		G.ended_by_peer++;
		call_end((unsigned)idx);
	}
}

/* ---- ng (rtpengine control protocol: cookie + bencode) ---- */

static int bstr(char *b, size_t len, const char *s)
{
	return snprintf(b, len, "%zu:%s", strlen(s), s);
}

static void ng_send(unsigned i, const char *cmd)
{
	char msg[2048], sdp[512], callid[64], tag[32];
	int n, leg = strcmp(cmd, "answer") == 0;

	snprintf(callid, sizeof(callid), "mwl-%x-%u", G.run_id, i);
	n = snprintf(msg, sizeof(msg), "%x_%u_%s d", G.run_id, i, cmd);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "7:call-id");
	n += bstr(msg + n, sizeof(msg) - (size_t)n, callid);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "7:command");
	n += bstr(msg + n, sizeof(msg) - (size_t)n, cmd);
	snprintf(tag, sizeof(tag), "a%u", i);
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "8:from-tag");
	n += bstr(msg + n, sizeof(msg) - (size_t)n, tag);
	if(strcmp(cmd, "delete") != 0) {
		snprintf(sdp, sizeof(sdp),
				"v=0\r\no=load %u 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
				"t=0 0\r\nm=audio %u RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
				"a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
				"a=sendrecv\r\n",
				i, G.local_ip, G.local_ip, G.rtp_port + 2 * leg);
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "3:sdp");
		n += bstr(msg + n, sizeof(msg) - (size_t)n, sdp);
	}
	if(leg) {
		snprintf(tag, sizeof(tag), "b%u", i);
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "6:to-tag");
		n += bstr(msg + n, sizeof(msg) - (size_t)n, tag);
	}
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "e");
	send_sig(msg, (size_t)n);
}

static void ng_reply(char *msg, size_t len)
{
	unsigned run, i;
	char cmd[16], *p, *sdp;
	unsigned long sl;
	struct call *c;
	struct sockaddr_in sa;

	if(sscanf(msg, "%x_%u_%15[a-z] ", &run, &i, cmd) != 3 || run != G.run_id ||
			i >= G.calls)
		return;
	c = &G.c[i];
	if(strcmp(cmd, "delete") == 0) {
		if(c->st == C_BYE) {
			if(strstr(msg, "6:result2:ok"))
				G.bye_ok++;
			else
				G.bye_failed++;
			call_end(i);
		}
		return;
	}
	if(!strstr(msg, "6:result2:ok") || !(p = strstr(msg, "3:sdp"))) {
		if(c->st == C_INVITING || c->st == C_ANSWERING) {
			if(G.verbose)
				fprintf(stderr, "mw_load: ng %s: %.*s\n", cmd, (int)len, msg);
			call_fail(i, 0);
		}
		return;
	}
	sl = strtoul(p + 5, &sdp, 10);
	if(*sdp != ':' || sdp + 1 + sl > msg + len)
		return;
	sdp++;
	sdp[sl] = '\0';
	if(sdp_media(sdp, &sa) < 0)
		return;
	if(strcmp(cmd, "offer") == 0 && c->st == C_INVITING) {
		/* what the B leg sends to */
		c->tx[1].to = sa;
		G.port_map[ntohs(sa.sin_port)] = (int32_t)(i * 2 + 1);
		c->st = C_ANSWERING;
		c->retx = 0;
		c->next_retx_ns = mono_ns() + T1_MS * 1000000ll;
		ng_send(i, "answer");
	} else if(strcmp(cmd, "answer") == 0 && c->st == C_ANSWERING) {
		/* what the A leg sends to */
		c->tx[0].to = sa;
		G.port_map[ntohs(sa.sin_port)] = (int32_t)(i * 2);
		call_up(i);
	}
}

static void sig_read_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[SIP_MAX * 4];
	struct sockaddr_in from;
	socklen_t fl;
	unsigned k;
	ssize_t n;

	(void)what;
	(void)arg;
	for(k = 0; k < 256; k++) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT,
				(struct sockaddr *)&from, &fl);
		if(n <= 0)
			return;
		buf[n] = '\0';
		if(G.mode == MODE_NG)
			ng_reply(buf, (size_t)n);
		else if(strncmp(buf, "SIP/2.0 ", 8) == 0)
			sip_response(buf, (size_t)n);
		else
			sip_request(buf, &from);
	}
}

/* ---- call control ---- */

static void call_start(unsigned i)
{
	struct call *c = &G.c[i];
	int64_t now = mono_ns();

	c->st = C_INVITING;
	c->retx = 0;
	c->next_retx_ns = now + T1_MS * 1000000ll;
	c->deadline_ns = now + SETUP_TIMEOUT_S * 1000000000ll;
	G.started++;
	if(G.mode == MODE_NG)
		ng_send(i, "offer");
	else
		sip_invite(i);
}

static void call_bye(unsigned i)
{
	struct call *c = &G.c[i];
	int64_t now = mono_ns();

	c->st = C_BYE;
	c->retx = 0;
	c->next_retx_ns = now + T1_MS * 1000000ll;
	G.byes_sent++;
	if(G.mode == MODE_NG)
		ng_send(i, "delete");
	else
		sip_ack_or_bye(i, "BYE", 2, 2);
}

static void retransmit(int64_t now)
{
	unsigned i;

	for(i = 0; i < G.calls; i++) {
		struct call *c = &G.c[i];

		if(c->st != C_INVITING && c->st != C_ANSWERING && c->st != C_BYE)
			continue;
		if(c->st != C_BYE && now > c->deadline_ns) {
			call_fail(i, 0);
			continue;
		}
		if(now < c->next_retx_ns || (c->st == C_INVITING && c->got_provisional))
			continue;
		if(c->retx >= RETX_MAX) {
			if(c->st == C_BYE) {
				G.bye_failed++;
				call_end(i);
			}
			continue;
		}
		c->retx++;
		c->next_retx_ns =
				now + (T1_MS << (c->retx < 3 ? c->retx : 3)) * 1000000ll;
		if(c->st == C_INVITING)
			G.mode == MODE_NG ? ng_send(i, "offer") : sip_invite(i);
		else if(c->st == C_ANSWERING)
			ng_send(i, "answer");
		else
			G.mode == MODE_NG ? ng_send(i, "delete")
							  : sip_ack_or_bye(i, "BYE", 2, 2);
	}
}

/* GET /metrics (HTTP/1.0, blocking, 2 s timeout) into PREFIX.start or
 * PREFIX.end: the worker's counters over exactly the window. */
static void scrape(const char *suffix)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: w\r\n\r\n";
	struct timeval tmo = {2, 0};
	char path[512], buf[16384];
	FILE *f;
	ssize_t n;
	unsigned k;
	int fd;

	if(!G.have_scrape)
		return;
	snprintf(path, sizeof(path), "%s.%s", G.scrape_out, suffix);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if(connect(fd, (struct sockaddr *)&G.scrape, sizeof(G.scrape)) < 0 ||
			send(fd, req, sizeof(req) - 1, 0) < 0 || !(f = fopen(path, "w"))) {
		close(fd);
		return;
	}
	/* bounded: at most 4096 reads (64 MiB) */
	for(k = 0; k < 4096 && (n = recv(fd, buf, sizeof(buf), 0)) > 0; k++)
		fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	close(fd);
}

/* busy and total jiffies of all cores ([0]) and of core G.core ([1]) */
static void stat_sample(uint64_t st[2][3])
{
	char line[512], want[16];
	FILE *f = fopen("/proc/stat", "r");
	unsigned k;

	memset(st, 0, sizeof(uint64_t) * 6);
	if(!f)
		return;
	snprintf(want, sizeof(want), "cpu%d ", G.core);
	for(k = 0; k < 256 && fgets(line, sizeof(line), f); k++) {
		unsigned long long v[8] = {0};
		int which = strncmp(line, "cpu ", 4) == 0			 ? 0
					: strncmp(line, want, strlen(want)) == 0 ? 1
															 : -1;

		if(which < 0)
			continue;
		/* user nice system idle iowait irq softirq steal */
		if(sscanf(strchr(line, ' '), "%llu %llu %llu %llu %llu %llu %llu %llu",
				   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
			continue;
		st[which][1] = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		st[which][0] = st[which][1] - v[3] - v[4] - v[7];
		st[which][2] = v[7];
	}
	fclose(f);
}

static void window_sample(int end)
{
	unsigned k;

	scrape(end ? "end" : "start");
	stat_sample(end ? G.st1 : G.st0);

	for(k = 0; k < G.npids; k++) {
		struct watched *w = &G.pids[k];

		if(end)
			proc_sample(w, &w->u1, &w->s1, &w->rss1);
		else
			proc_sample(w, &w->u0, &w->s0, &w->rss0);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static int64_t last_retx;
	int64_t now = mono_ns();
	unsigned k;

	(void)fd;
	(void)what;
	(void)arg;
	/* RTP: every due phase slot, at most 2 periods of catch-up */
	for(k = 0; k < 2 * SLOTS && G.next_slot_ns <= now; k++) {
		send_slot(G.slot);
		G.slot = (G.slot + 1) % SLOTS;
		G.next_slot_ns += SLOT_NS;
	}
	if(G.next_slot_ns <= now)
		G.next_slot_ns = now + SLOT_NS; /* stalled: skip, do not burst */

	if(now - last_retx >= 20000000ll) {
		retransmit(now);
		last_retx = now;
	}
	switch(G.phase) {
		case 0: { /* ramp */
			/* call i starts at (i + u_i) / rate, u_i uniform in [0, 1):
			 * calls arrive at random instants, so their 20 ms clocks in
			 * the worker have uniformly spread phases (starts on a fixed
			 * 10 ms grid would pile every call's tick onto two instants) */
			double el = (double)(now - G.ramp_start_ns) / 1e9 * G.rate;

			while(G.started < G.calls &&
					G.started + G.c[G.started].start_frac <= el)
				call_start(G.started);
			if(G.started == G.calls && G.up + G.failed + G.done >= G.calls) {
				G.phase = 1;
				G.phase_end_ns = now + (int64_t)(G.warmup_s * 1e9);
				fprintf(stderr, "mw_load: %u calls up, %u failed; warm-up\n",
						G.up, G.failed);
			}
			break;
		}
		case 1:
			if(now >= G.phase_end_ns) {
				G.phase = 2;
				G.phase_end_ns = now + (int64_t)(G.duration_s * 1e9);
				G.up_at_start = G.up;
				window_sample(0);
				G.win_start_ns = mono_ns();
				G.measuring = 1;
			}
			break;
		case 2:
			if(now >= G.phase_end_ns) {
				G.measuring = 0;
				G.win_end_ns = mono_ns();
				window_sample(1);
				G.up_at_end = G.up;
				G.phase = 3;
				G.phase_end_ns = now + TEARDOWN_MAX_S * 1000000000ll;
				G.next_bye_ns = now;
				fprintf(stderr, "mw_load: window done; hanging up\n");
			}
			break;
		case 3:
			while(G.next_bye < G.calls && G.next_bye_ns <= now) {
				if(G.c[G.next_bye].st == C_UP) {
					call_bye(G.next_bye);
					G.next_bye_ns += (int64_t)(1e9 / G.bye_rate);
				}
				G.next_bye++;
			}
			if(G.next_bye == G.calls) {
				unsigned busy = 0;

				for(k = 0; k < G.calls; k++)
					busy += G.c[k].st == C_BYE || G.c[k].st == C_INVITING ||
							G.c[k].st == C_ANSWERING;
				if(!busy || now >= G.phase_end_ns) {
					G.phase = 4;
					event_base_loopbreak(G.base);
				}
			} else if(now >= G.phase_end_ns) {
				G.phase = 4;
				event_base_loopbreak(G.base);
			}
			break;
	}
}

/* ---- report ---- */

static void report(void)
{
	double win = (double)(G.win_end_ns - G.win_start_ns) / 1e9;
	uint64_t exp = 0, rx = 0, exp_ts = 0;
	unsigned i, l, k, legs = G.mode == MODE_NG ? 2 : 1;
	long hz = sysconf(_SC_CLK_TCK);

	for(i = 0; i < G.calls; i++)
		for(l = 0; l < legs; l++) {
			struct rx *r = &G.c[i].rx[l];

			if(!r->win_init)
				continue;
			exp += r->win_last - r->win_first + 1;
			/* media time covered: ticks the sender skipped count too */
			exp_ts += (r->win_ts_last - r->win_ts_first) / PAYLOAD + 1;
			rx += r->win_rx;
		}
	printf("mode=%s\n", G.mode == MODE_NG ? "ng" : "sip");
	printf("calls=%u\ncalls_up=%u\ncalls_failed=%u\n", G.calls, G.up_at_start,
			G.failed);
	printf("fail_timeout=%u\nfail_4xx=%u\nfail_5xx=%u\nfail_6xx=%u\n",
			G.fail_codes[0], G.fail_codes[4], G.fail_codes[5], G.fail_codes[6]);
	printf("calls_up_at_end=%u\nended_by_peer=%u\n", G.up_at_end,
			G.ended_by_peer);
	printf("bye_ok=%u\nbye_failed=%u\n", G.bye_ok, G.bye_failed);
	printf("window_s=%.3f\n", win);
	printf("streams=%u\n", G.up_at_start * legs);
	printf("rtp_tx=%" PRIu64 "\nrtp_rx=%" PRIu64 "\nrtp_expected=%" PRIu64
		   "\nrtp_lost=%" PRId64 "\n",
			G.win_tx, rx, exp, (int64_t)exp - (int64_t)rx);
	printf("loss_pct=%.4f\n",
			exp ? 100.0 * ((double)exp - (double)rx) / (double)exp : 0.0);
	/* packets the media time called for but never sent (skipped ticks)
	 * or lost: 0 when the sender kept pace */
	printf("rtp_expected_ts=%" PRIu64 "\ngap_pct=%.4f\n", exp_ts,
			exp_ts ? 100.0 * ((double)exp_ts - (double)rx) / (double)exp_ts
				   : 0.0);
	/* per stream: what 50 packets/s over the window would be */
	printf("rx_rate_pct=%.2f\n",
			G.up_at_start && win > 0
					? 100.0 * (double)rx / (50.0 * win * G.up_at_start * legs)
					: 0.0);
	printf("ipd_n=%" PRIu64 "\nipd_p50_us=%.0f\nipd_p99_us=%.0f\n"
		   "ipd_p999_us=%.0f\nipd_max_us=%" PRId64 "\n",
			G.ipd.n, hist_q(&G.ipd, 0.5), hist_q(&G.ipd, 0.99),
			hist_q(&G.ipd, 0.999), G.ipd.max);
	printf("lat_n=%" PRIu64 "\nlat_min_us=%.0f\nlat_p50_us=%.0f\n"
		   "lat_p99_us=%.0f\nlat_p999_us=%.0f\nlat_max_us=%" PRId64 "\n",
			G.lat.n, hist_min(&G.lat), hist_q(&G.lat, 0.5),
			hist_q(&G.lat, 0.99), hist_q(&G.lat, 0.999), G.lat.max);
	printf("tags_rx=%" PRIu64 "\ntags_bad=%" PRIu64 "\n", G.win_tags,
			G.win_bad_tags);
	printf("echo_ratio=%.4f\n",
			G.win_tx ? (double)G.win_tags / (double)G.win_tx : 0.0);
	for(k = 0; k < 2; k++) {
		uint64_t b = G.st1[k][0] - G.st0[k][0], t = G.st1[k][1] - G.st0[k][1];

		if(k == 1 && G.core < 0)
			break;
		/* all cores: % of the machine; one core: % of that core. Steal:
		 * time the hypervisor gave this vCPU's host CPU to someone else */
		printf("%s_busy_pct=%.1f\n%s_steal_pct=%.1f\n", k ? "core" : "host",
				t ? 100.0 * (double)b / (double)t : 0, k ? "core" : "host",
				t ? 100.0 * (double)(G.st1[k][2] - G.st0[k][2]) / (double)t
				  : 0);
	}
	for(k = 0; k < G.npids; k++) {
		struct watched *w = &G.pids[k];
		double us = (double)(w->u1 - w->u0) / (double)hz,
			   sy = (double)(w->s1 - w->s0) / (double)hz;

		printf("cpu_%s_user_s=%.2f\ncpu_%s_sys_s=%.2f\ncpu_%s_pct=%.1f\n",
				w->name, us, w->name, sy, w->name,
				win > 0 ? 100.0 * (us + sy) / win : 0.0);
		printf("rss_%s_kb_start=%ld\nrss_%s_kb_end=%ld\n", w->name, w->rss0,
				w->name, w->rss1);
	}
}

static void usage(void)
{
	fprintf(stderr,
			"usage: mw_load --target IP:PORT [options]\n"
			"  --mode sip|ng        worker over SIP (default) or rtpengine "
			"ng\n"
			"  --local IP           local address (127.0.0.1)\n"
			"  --sip-port P         local SIP/ng port (26001)\n"
			"  --rtp-port P         local RTP port, even (55000; ng uses "
			"P..P+3)\n"
			"  --calls N            calls (100, max %d)\n"
			"  --rate R             new calls per second (50)\n"
			"  --bye-rate R         BYEs per second (200)\n"
			"  --warmup S           seconds after the ramp (5)\n"
			"  --duration S         measurement window (30)\n"
			"  --agent ID --trunk ID --did E164   INVITE headers\n"
			"  --pid NAME=PID       report CPU/RSS of PID over the window "
			"(up to %d)\n"
			"  --scrape IP:PORT     GET /metrics there at the window start "
			"and end\n"
			"  --scrape-out PREFIX  ... into PREFIX.start and PREFIX.end\n"
			"  --core N             report core N's busy %% over the window\n"
			"  -v                   log failures\n",
			MAX_CALLS, MAX_PIDS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"mode", 1, NULL, 'm'},
			{"target", 1, NULL, 't'}, {"local", 1, NULL, 'l'},
			{"sip-port", 1, NULL, 's'}, {"rtp-port", 1, NULL, 'r'},
			{"calls", 1, NULL, 'n'}, {"rate", 1, NULL, 'R'},
			{"bye-rate", 1, NULL, 'B'}, {"warmup", 1, NULL, 'w'},
			{"duration", 1, NULL, 'd'}, {"agent", 1, NULL, 'a'},
			{"trunk", 1, NULL, 'T'}, {"did", 1, NULL, 'D'},
			{"pid", 1, NULL, 'p'}, {"scrape", 1, NULL, 'S'},
			{"scrape-out", 1, NULL, 'O'}, {"core", 1, NULL, 'C'},
			{"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct event *ev_sig, *ev_tick, *ev_rtp[2] = {NULL, NULL},
									*ev_rtcp[2] = {NULL, NULL};
	struct event_config *ecfg;
	struct timeval ms1 = {0, 1000};
	int o, have_target = 0;
	unsigned i, l, legs;

	G.mode = MODE_SIP;
	G.core = -1;
	snprintf(G.local_ip, sizeof(G.local_ip), "127.0.0.1");
	G.sip_port = 26001;
	G.rtp_port = 55000;
	G.calls = 100;
	G.rate = 50;
	G.bye_rate = 200;
	G.warmup_s = 5;
	G.duration_s = 30;
	G.agent = "bench-echo";
	G.trunk = "bench";
	G.did = "+14155550100";
	while((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch(o) {
			case 'm':
				if(strcmp(optarg, "ng") == 0)
					G.mode = MODE_NG;
				else if(strcmp(optarg, "sip") != 0)
					return usage(), 2;
				break;
			case 't':
				if(parse_addr(optarg, &G.target) < 0)
					return fprintf(stderr, "bad --target\n"), 2;
				have_target = 1;
				break;
			case 'l':
				snprintf(G.local_ip, sizeof(G.local_ip), "%s", optarg);
				break;
			case 's':
				G.sip_port = (uint16_t)atoi(optarg);
				break;
			case 'r':
				G.rtp_port = (uint16_t)(atoi(optarg) & ~1);
				break;
			case 'n':
				G.calls = (unsigned)atoi(optarg);
				break;
			case 'R':
				G.rate = atof(optarg);
				break;
			case 'B':
				G.bye_rate = atof(optarg);
				break;
			case 'w':
				G.warmup_s = atof(optarg);
				break;
			case 'd':
				G.duration_s = atof(optarg);
				break;
			case 'a':
				G.agent = optarg;
				break;
			case 'T':
				G.trunk = optarg;
				break;
			case 'D':
				G.did = optarg;
				break;
			case 'p': {
				char *eq = strchr(optarg, '=');
				struct watched *w = &G.pids[G.npids];

				if(!eq || G.npids >= MAX_PIDS ||
						(size_t)(eq - optarg) >= sizeof(w->name))
					return fprintf(stderr, "bad --pid\n"), 2;
				memcpy(w->name, optarg, (size_t)(eq - optarg));
				w->name[eq - optarg] = '\0';
				w->pid = strcmp(eq + 1, "self") == 0 ? getpid() : atoi(eq + 1);
				G.npids++;
				break;
			}
			case 'S':
				if(parse_addr(optarg, &G.scrape) < 0)
					return fprintf(stderr, "bad --scrape\n"), 2;
				G.have_scrape = 1;
				break;
			case 'O':
				G.scrape_out = optarg;
				break;
			case 'C':
				G.core = atoi(optarg);
				break;
			case 'v':
				G.verbose = 1;
				break;
			default:
				usage();
				return o == 'h' ? 0 : 2;
		}
	}
	if(G.have_scrape && !G.scrape_out)
		G.have_scrape = 0;
	if(!have_target || G.calls == 0 || G.calls > MAX_CALLS || G.rate <= 0 ||
			G.bye_rate <= 0 || G.duration_s <= 0 || G.warmup_s < 0 ||
			G.duration_s > 3600 || G.warmup_s > 600) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	G.c = calloc(G.calls, sizeof(*G.c));
	hist_init(&G.ipd);
	hist_init(&G.lat);
	if(!G.c)
		return 1;
	memset(G.port_map, 0xff, sizeof(G.port_map));
	G.run_id = (unsigned)getpid() ^ (unsigned)(mono_ns() & 0xffff0000);
	srandom(G.run_id);
	legs = G.mode == MODE_NG ? 2 : 1;
	for(i = 0; i < G.calls; i++)
		G.c[i].start_frac = (double)random() / ((double)RAND_MAX + 1.0);
	for(i = 0; i < G.calls; i++)
		for(l = 0; l < 2; l++) {
			G.c[i].tx[l].ssrc = (uint32_t)random();
			G.c[i].tx[l].seq = (uint16_t)random();
			G.c[i].tx[l].ts = (uint32_t)random();
		}

	G.fd_sig = udp_bind(G.local_ip, G.sip_port, 0);
	if(G.fd_sig < 0)
		return 1;
	for(l = 0; l < legs; l++) {
		G.fd_rtp[l] =
				udp_bind(G.local_ip, (uint16_t)(G.rtp_port + 2 * l), 16 << 20);
		G.fd_rtcp[l] =
				udp_bind(G.local_ip, (uint16_t)(G.rtp_port + 2 * l + 1), 0);
		if(G.fd_rtp[l] < 0 || G.fd_rtcp[l] < 0)
			return 1;
	}
	ecfg = event_config_new();
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	G.base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if(!G.base)
		return 1;
	ev_sig = event_new(
			G.base, G.fd_sig, EV_READ | EV_PERSIST, sig_read_cb, NULL);
	ev_tick = event_new(G.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(ev_sig, NULL);
	for(l = 0; l < legs; l++) {
		ev_rtp[l] = event_new(
				G.base, G.fd_rtp[l], EV_READ | EV_PERSIST, rtp_read_cb, NULL);
		ev_rtcp[l] = event_new(
				G.base, G.fd_rtcp[l], EV_READ | EV_PERSIST, rtcp_read_cb, NULL);
		event_add(ev_rtp[l], NULL);
		event_add(ev_rtcp[l], NULL);
	}
	G.t0_ns = mono_ns();
	G.t0_real_us = real_us();
	G.ramp_start_ns = G.t0_ns;
	G.next_slot_ns = G.t0_ns;
	event_add(ev_tick, &ms1);
	event_base_dispatch(G.base);

	report();
	for(l = 0; l < legs; l++) {
		event_free(ev_rtp[l]);
		event_free(ev_rtcp[l]);
		close(G.fd_rtp[l]);
		close(G.fd_rtcp[l]);
	}
	event_free(ev_sig);
	event_free(ev_tick);
	event_base_free(G.base);
	close(G.fd_sig);
	free(G.c);
	free(G.ipd.bins);
	free(G.lat.bins);
	return 0;
}
