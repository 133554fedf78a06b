/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_media.c -- the media engine over loopback with a real libevent
 * loop: G.711 vectors, port binding, the 20 ms clock (rate, contiguous
 * seq/ts, marker), silence, bit-exact audio, marks, clear, hold, RTP
 * timeout, symmetric latching, DTMF both ways, RTCP, hostile input, the
 * playout cap and underrun counting. Timing asserts are generous.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <spandsp.h>

#include "mw_g711.h"
#include "mw_media.h"
#include "mw_test_loop.h"
#include "mw_rtp.h"

#define PMIN 41000
#define PMAX 41999
#define MAXPKT 4000

/* ---- a raw UDP peer that records what it receives ---- */

struct rpkt
{
	uint8_t marker, pt;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint16_t len;
	uint8_t payload[172];
};

struct peer
{
	int fd;
	uint16_t port;
	struct event *ev;
	struct rpkt *p;
	unsigned n;
	unsigned rtcp; /* RTCP datagrams received */
	struct mw_rtcp_info last_rtcp;
};

static void peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *pe = arg;
	uint8_t buf[2048];
	ssize_t len;

	while((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct mw_rtp_hdr h;

		if(mw_rtp_is_rtcp(buf, (size_t)len)) {
			if(mw_rtcp_parse(buf, (size_t)len, &pe->last_rtcp) == 0)
				pe->rtcp++;
			continue;
		}
		if(mw_rtp_parse(buf, (size_t)len, &h) < 0 || pe->n >= MAXPKT)
			continue;
		pe->p[pe->n].marker = h.marker;
		pe->p[pe->n].pt = h.pt;
		pe->p[pe->n].seq = h.seq;
		pe->p[pe->n].ts = h.ts;
		pe->p[pe->n].ssrc = h.ssrc;
		pe->p[pe->n].len = (uint16_t)h.payload_len;
		memcpy(pe->p[pe->n].payload, h.payload,
				h.payload_len < 172 ? h.payload_len : 172);
		pe->n++;
	}
}

static void peer_open(struct peer *pe, struct event_base *base)
{
	struct sockaddr_in sa = {0};
	socklen_t l = sizeof(sa);

	memset(pe, 0, sizeof(*pe));
	pe->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(pe->fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(pe->fd, (struct sockaddr *)&sa, &l), 0);
	pe->port = ntohs(sa.sin_port);
	pe->p = calloc(MAXPKT, sizeof(*pe->p));
	assert_non_null(pe->p);
	pe->ev = event_new(base, pe->fd, EV_READ | EV_PERSIST, peer_cb, pe);
	event_add(pe->ev, NULL);
}

static void peer_close(struct peer *pe)
{
	event_free(pe->ev);
	close(pe->fd);
	free(pe->p);
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in sa = {0};

	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	return sa;
}

static void peer_send(
		struct peer *pe, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in sa = lo(port);

	assert_int_equal(
			sendto(pe->fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)),
			(ssize_t)len);
}

/* one PCMU packet of a constant code */
static void peer_send_rtp(struct peer *pe, uint16_t port, uint16_t seq,
		uint32_t ts, uint32_t ssrc, uint8_t code)
{
	uint8_t buf[12 + 160];

	mw_rtp_write_hdr(buf, 0, 0, seq, ts, ssrc);
	memset(buf + 12, code, 160);
	peer_send(pe, port, buf, sizeof(buf));
}

/* ---- callbacks recorder ---- */

struct rec
{
	struct mw_media *m;
	unsigned audio_frames;
	uint64_t last_ts_ms;
	int ts_ok;
	int16_t *pcm; /* every sample received, up to cap */
	size_t npcm, cap;
	char digits[32];
	int dtmf_ms[32];
	unsigned ndig;
	char marks[16][32];
	uint64_t mark_tx[16];	  /* rtp_tx when the mark was echoed */
	uint64_t mark_queued[16]; /* queued_ms then */
	unsigned nmarks;
	unsigned timeouts;
};

static void on_audio(void *arg, const int16_t *pcm, size_t n, uint64_t ts_ms)
{
	struct rec *r = arg;

	assert_int_equal(n, 160);
	if(r->audio_frames && ts_ms != r->last_ts_ms + 20)
		r->ts_ok = 0;
	if(!r->audio_frames)
		r->ts_ok = ts_ms == 0;
	r->last_ts_ms = ts_ms;
	r->audio_frames++;
	if(r->pcm && r->npcm + n <= r->cap) {
		memcpy(r->pcm + r->npcm, pcm, n * sizeof(int16_t));
		r->npcm += n;
	}
}

static void on_dtmf(void *arg, char digit, int ms, int source)
{
	struct rec *r = arg;

	if(r->ndig < 31) {
		r->dtmf_ms[r->ndig] = ms;
		r->digits[r->ndig++] = digit;
		r->digits[r->ndig] = '\0';
	}
}

static void on_mark(void *arg, const char *name)
{
	struct rec *r = arg;
	struct mw_media_stats st;

	if(r->nmarks < 16) {
		snprintf(r->marks[r->nmarks], 32, "%s", name);
		if(r->m) {
			mw_media_get_stats(r->m, &st);
			r->mark_tx[r->nmarks] = st.rtp_tx;
			r->mark_queued[r->nmarks] = st.queued_ms;
		}
		r->nmarks++;
	}
}

static void on_timeout(void *arg)
{
	((struct rec *)arg)->timeouts++;
}

static const struct mw_media_cbs cbs = {on_audio, on_dtmf, on_mark, on_timeout};

static struct mw_media *media(struct event_base *base, struct rec *r,
		int timeout_ms, size_t cap_ms, uint16_t *port)
{
	struct mw_media_cfg cfg = {
			"127.0.0.1", PMIN, PMAX, 20, 200, timeout_ms, cap_ms, 8000, 0};
	struct mw_media *m = NULL;

	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, r, &m, port), 0);
	assert_non_null(m);
	r->m = m;
	return m;
}

static void point(struct mw_media *m, uint16_t port, int te)
{
	struct sockaddr_in sa = lo(port);

	assert_int_equal(
			mw_media_set_remote(m, (struct sockaddr *)&sa, sizeof(sa), 0, 0, te),
			0);
}

static void run_ms(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct mw_media_stats stats(struct mw_media *m)
{
	struct mw_media_stats st;

	mw_media_get_stats(m, &st);
	return st;
}

/* checks contiguous seq and ts in pe->p[from..to) */
static void assert_contiguous(const struct peer *pe, unsigned from, unsigned to)
{
	unsigned i;

	for(i = from + 1; i < to; i++) {
		assert_int_equal((uint16_t)(pe->p[i - 1].seq + 1), pe->p[i].seq);
		assert_int_equal(pe->p[i - 1].ts + 160, pe->p[i].ts);
		assert_int_equal(pe->p[i - 1].ssrc, pe->p[i].ssrc);
	}
}

/* ---- tests ---- */

static void test_g711_vectors(void **state)
{
	uint8_t c;
	int16_t x;
	int v, code;

	/* known points */
	assert_int_equal(ulaw_to_linear(0xff), 0);
	assert_int_equal(ulaw_to_linear(0x00), -32124);
	assert_int_equal(ulaw_to_linear(0x80), 32124);
	assert_int_equal(alaw_to_linear(0xd5), 8);
	assert_int_equal(alaw_to_linear(0x55), -8);
	assert_int_equal(mw_g711_silence(0), 0xff);
	assert_int_equal(mw_g711_silence(8), 0xd5);
	x = 0;
	assert_int_equal(mw_g711_encode(0, &x, 1, &c), 0);
	assert_int_equal(c, 0xff);
	assert_int_equal(mw_g711_encode(8, &x, 1, &c), 0);
	assert_int_equal(c, 0xd5);
	assert_int_equal(mw_g711_encode(9, &x, 1, &c), -EINVAL);
	assert_int_equal(mw_g711_decode(3, &c, 1, &x), -EINVAL);
	c = 0;
	assert_int_equal(mw_g711_decode(0, &c, 1, &x), 0);
	assert_int_equal(x, -32124);

	/* every code round-trips (except the μ-law negative zero 0x7f) */
	for(code = 0; code < 256; code++) {
		uint8_t in = (uint8_t)code, out;

		assert_int_equal(mw_g711_decode(0, &in, 1, &x), 0);
		assert_int_equal(mw_g711_encode(0, &x, 1, &out), 0);
		if(code != 0x7f)
			assert_int_equal(out, in);
		assert_int_equal(mw_g711_decode(8, &in, 1, &x), 0);
		assert_int_equal(mw_g711_encode(8, &x, 1, &out), 0);
		assert_int_equal(out, in);
	}
	/* full sweep within the companding error (segment step / 2) */
	for(v = -32768; v <= 32767; v++) {
		int16_t s = (int16_t)v, r;
		int err, bound = 16 + abs(v) / 16;

		mw_g711_encode(0, &s, 1, &c);
		mw_g711_decode(0, &c, 1, &r);
		err = abs(r - v);
		assert_true(err <= bound + (v < -32124 || v > 32124 ? 700 : 0));
		mw_g711_encode(8, &s, 1, &c);
		mw_g711_decode(8, &c, 1, &r);
		err = abs(r - v);
		assert_true(err <= bound);
	}
}

/* Finds P (even) with P..P+3 free right now, so that parallel runs of
 * this test do not collide on fixed ports. */
static uint16_t free_quad(void)
{
	unsigned k, i;

	for(k = 0; k < 2000; k++) {
		uint16_t p = (uint16_t)(43000 + 4 * ((getpid() + k) % 2000));
		int fds[4], ok = 1;

		for(i = 0; i < 4; i++) {
			struct sockaddr_in sa = lo((uint16_t)(p + i));

			fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
			if(bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
				ok = 0;
		}
		for(i = 0; i < 4; i++)
			close(fds[i]);
		if(ok)
			return p;
	}
	fail_msg("no free ports");
	return 0;
}

static void test_bind_ports(void **state)
{
	struct event_base *base = t_base_new();
	uint16_t p = free_quad();
	struct mw_media_cfg cfg = {
			"127.0.0.1", (uint16_t)(p - 1), (uint16_t)(p + 1), 20, 200, 0, 0, 0,
			0};
	struct mw_media *a = NULL, *b = NULL;
	uint16_t pa = 0, pb = 0;
	int fd;
	struct sockaddr_in sa;

	/* P-1..P+1: the only even pair is P/P+1 */
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, NULL, &a, &pa), 0);
	assert_int_equal(pa, p);
	assert_int_equal(
			mw_media_new(t_clk, &cfg, &cbs, NULL, &b, &pb), -EADDRINUSE);
	/* the RTCP port is taken too */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sa = lo((uint16_t)(p + 1));
	assert_true(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0);
	close(fd);
	mw_media_free(a);
	/* RTCP port busy: that pair is skipped */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cfg.port_max = (uint16_t)(p + 3);
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, NULL, &a, &pa), 0);
	assert_int_equal(pa, p + 2);
	mw_media_free(a);
	close(fd);
	/* bad configuration */
	cfg.local_ip = "not-an-ip";
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, NULL, &a, &pa), -EINVAL);
	cfg.local_ip = "127.0.0.1";
	cfg.port_min = cfg.port_max = p;
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, NULL, &a, &pa), -EINVAL);
	cfg.port_min = p;
	cfg.port_max = (uint16_t)(p + 1);
	cfg.jb_min_ms = 300;
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, NULL, &a, &pa), -EINVAL);
	t_base_free(base);
}

static void test_clock_silence_contiguous(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	unsigned i, j;

	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	assert_int_equal(port % 2, 0);
	point(m, pe.port, -1);
	assert_int_equal(mw_media_start(m), 0);
	assert_int_equal(mw_media_start(m), -EALREADY);
	run_ms(base, 1000);
	/* ~50 packets/s: first at t=0, so 50 or 51, generous bounds */
	assert_in_range(pe.n, 44, 56);
	assert_in_range(r.audio_frames, 44, 56);
	assert_true(r.ts_ok);
	assert_contiguous(&pe, 0, pe.n);
	assert_int_equal(pe.p[0].marker, 1);
	for(i = 0; i < pe.n; i++) {
		assert_int_equal(pe.p[i].pt, 0);
		assert_int_equal(pe.p[i].len, 160);
		if(i)
			assert_int_equal(pe.p[i].marker, 0);
		for(j = 0; j < 160; j++)
			assert_int_equal(pe.p[i].payload[j], 0xff); /* silence */
	}
	/* the last one may still be in the peer's socket */
	assert_in_range(stats(m).rtp_tx, pe.n, pe.n + 1);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_clock_long_run_rate(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;

	/* 3 s: the average rate stays at 50/s (no drift), within 3 % */
	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, -1);
	mw_media_start(m);
	run_ms(base, 3000);
	assert_in_range(pe.n, 146, 154);
	assert_contiguous(&pe, 0, pe.n);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_audio_bitexact_marks(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	int16_t pcm[800];
	uint8_t codes[800];
	unsigned i, first = 0, nmarks;

	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, -1);
	/* a mark on an empty queue is echoed at once, synchronously */
	assert_int_equal(mw_media_mark(m, "empty"), 0);
	assert_int_equal(r.nmarks, 1);
	assert_string_equal(r.marks[0], "empty");
	mw_media_start(m);
	run_ms(base, 100);
	/* 5 frames of μ-law-representable audio (every code but 0xff/0x7f) */
	for(i = 0; i < 800; i++) {
		codes[i] = (uint8_t)(i % 254);
		if(codes[i] == 0x7f)
			codes[i] = 0xfe;
		pcm[i] = ulaw_to_linear(codes[i]);
	}
	assert_int_equal(mw_media_play(m, pcm, 800), 0);
	assert_int_equal(mw_media_mark(m, "after-audio"), 0);
	assert_int_equal(r.nmarks, 1); /* not before its audio went out */
	assert_int_equal(stats(m).queued_ms, 100);
	run_ms(base, 300);
	assert_int_equal(r.nmarks, 2);
	assert_string_equal(r.marks[1], "after-audio");
	assert_int_equal(r.mark_queued[1], 0);
	/* locate the audio: first non-silent packet */
	for(first = 0; first < pe.n; first++)
		if(pe.p[first].payload[0] != 0xff)
			break;
	assert_true(first + 5 <= pe.n);
	assert_int_equal(pe.p[first].marker, 1); /* talkspurt start */
	for(i = 0; i < 5; i++)
		assert_memory_equal(pe.p[first + i].payload, codes + 160 * i, 160);
	assert_int_equal(pe.p[first + 5].payload[0], 0xff);
	assert_int_equal(pe.p[first + 1].marker, 0);
	/* the mark came after the 5th audio packet had been sent */
	assert_true(r.mark_tx[1] >= first + 5);
	assert_true(r.mark_tx[1] <= first + 6);
	assert_contiguous(&pe, 0, pe.n);
	nmarks = r.nmarks;
	/* a partial frame is padded with silence and its mark follows */
	assert_int_equal(mw_media_play(m, pcm, 100), 0);
	assert_int_equal(mw_media_mark(m, "partial"), 0);
	run_ms(base, 100);
	assert_int_equal(r.nmarks, nmarks + 1);
	assert_int_equal(stats(m).underruns, 0);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_clear(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	static int16_t tone[8000];
	unsigned i, at_clear;

	for(i = 0; i < 8000; i++)
		tone[i] = (int16_t)(8000 * sin(i * 0.3));
	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, -1);
	mw_media_start(m);
	mw_media_play(m, tone, 8000);
	mw_media_mark(m, "a");
	mw_media_play(m, tone, 8000);
	mw_media_mark(m, "b");
	mw_media_mark(m, "c");
	mw_media_play(m, tone, 8000);
	run_ms(base, 200);
	assert_int_equal(r.nmarks, 0);
	assert_in_range(stats(m).queued_ms, 2700, 2850);
	assert_int_equal(mw_media_clear(m), 0);
	/* all pending marks, in order, before clear returned */
	assert_int_equal(r.nmarks, 3);
	assert_string_equal(r.marks[0], "a");
	assert_string_equal(r.marks[1], "b");
	assert_string_equal(r.marks[2], "c");
	assert_int_equal(stats(m).queued_ms, 0);
	at_clear = pe.n;
	run_ms(base, 200);
	assert_true(pe.n > at_clear + 5);
	/* silence from the next tick (the one in flight may still carry
	 * tone if the peer had not read it yet) */
	for(i = at_clear + 1; i < pe.n; i++)
		assert_int_equal(pe.p[i].payload[80], 0xff);
	assert_int_equal(stats(m).playout_dropped_ms, 0);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_hold(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	unsigned before, frames;

	peer_open(&pe, base);
	m = media(base, &r, 100, 0, &port);
	point(m, pe.port, -1);
	mw_media_start(m);
	run_ms(base, 60);
	assert_int_equal(r.timeouts, 0);
	assert_int_equal(mw_media_hold(m, 1), 0);
	run_ms(base, 10); /* let the peer read what was in flight */
	before = pe.n;
	frames = r.audio_frames;
	run_ms(base, 400);
	assert_int_equal(pe.n, before);				/* nothing on the wire */
	assert_true(r.audio_frames >= frames + 15); /* the clock runs */
	assert_int_equal(r.timeouts, 0);			/* no timeout while held */
	assert_int_equal(mw_media_hold(m, 0), 0);
	run_ms(base, 100);
	assert_true(pe.n >= before + 3);
	/* resumed: marker, seq contiguous, ts advanced by the hold */
	assert_int_equal(pe.p[before].marker, 1);
	assert_int_equal((uint16_t)(pe.p[before - 1].seq + 1), pe.p[before].seq);
	assert_in_range(pe.p[before].ts - pe.p[before - 1].ts, 160 * 18, 160 * 26);
	assert_contiguous(&pe, before, pe.n);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_rtp_timeout(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	unsigned i;

	peer_open(&pe, base);
	m = media(base, &r, 200, 0, &port);
	point(m, pe.port, -1);
	mw_media_start(m);
	/* the far end talks for 300 ms: no timeout */
	for(i = 0; i < 15; i++) {
		peer_send_rtp(&pe, port, (uint16_t)i, i * 160, 99, 0xff);
		run_ms(base, 20);
	}
	assert_int_equal(r.timeouts, 0);
	/* then stops: exactly one timeout after ~200 ms */
	run_ms(base, 150);
	assert_int_equal(r.timeouts, 0);
	run_ms(base, 250);
	assert_int_equal(r.timeouts, 1);
	run_ms(base, 300);
	assert_int_equal(r.timeouts, 1);
	/* RTP again re-arms it */
	peer_send_rtp(&pe, port, 15, 15 * 160, 99, 0xff);
	run_ms(base, 300);
	assert_int_equal(r.timeouts, 2);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_latching(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer sdp, real, intruder;
	struct mw_media *m;
	uint16_t port;
	unsigned i, n_sdp, n_real;

	peer_open(&sdp, base);
	peer_open(&real, base);
	peer_open(&intruder, base);
	r.cap = 8000 * 2;
	r.pcm = calloc(r.cap, sizeof(int16_t));
	m = media(base, &r, 0, 0, &port);
	point(m, sdp.port, -1); /* the SDP says 'sdp', packets come from 'real' */
	mw_media_start(m);
	run_ms(base, 100);
	assert_true(sdp.n >= 3);
	for(i = 0; i < 5; i++) {
		peer_send_rtp(&real, port, (uint16_t)i, i * 160, 1, 0x80);
		run_ms(base, 20);
	}
	n_sdp = sdp.n;
	n_real = real.n;
	assert_true(n_real >= 2); /* latched: now sent to 'real' */
	/* an intruder is ignored while 'real' is alive */
	for(i = 5; i < 20; i++) {
		peer_send_rtp(&real, port, (uint16_t)i, i * 160, 1, 0x80);
		peer_send_rtp(&intruder, port, (uint16_t)(i * 7), i * 999, 666, 0x00);
		run_ms(base, 20);
	}
	assert_int_equal(sdp.n, n_sdp);
	assert_true(real.n >= n_real + 12);
	assert_int_equal(intruder.n, 0);
	assert_int_equal(stats(m).rtp_bad, 15);
	assert_int_equal(stats(m).rtp_rx, 20);
	/* the far end's audio (code 0x80 = 32124) reached on_audio, never
	 * the intruder's (code 0x00 = -32124) */
	{
		unsigned pos = 0, neg = 0;

		for(i = 0; i < r.npcm; i++) {
			pos += r.pcm[i] == 32124;
			neg += r.pcm[i] == -32124;
		}
		assert_true(pos >= 160 * 10);
		assert_int_equal(neg, 0);
	}
	/* 'real' goes silent for 600 ms: the next source wins */
	run_ms(base, 600);
	n_real = real.n;
	for(i = 0; i < 5; i++) {
		peer_send_rtp(&intruder, port, (uint16_t)(100 + i), 5000 + i * 160, 666,
				0x00);
		run_ms(base, 20);
	}
	assert_true(intruder.n >= 2);
	assert_true(real.n <= n_real + 2);
	/* a re-INVITE to the same address keeps the latch, to a new address
	 * clears it */
	point(m, sdp.port, -1);
	n_sdp = sdp.n;
	run_ms(base, 100);
	assert_int_equal(sdp.n, n_sdp);
	point(m, real.port, -1);
	n_real = real.n;
	run_ms(base, 100);
	assert_true(real.n >= n_real + 3);
	mw_media_free(m);
	peer_close(&sdp);
	peer_close(&real);
	peer_close(&intruder);
	free(r.pcm);
	t_base_free(base);
}

static void test_two_instances_audio_dtmf_rtcp(void **state)
{
	struct event_base *base = t_base_new();
	struct rec ra = {0}, rb = {0};
	struct mw_media *a, *b;
	uint16_t pa, pb;
	static int16_t tone[16000];
	size_t i, k, found = SIZE_MAX;
	struct mw_media_stats sa, sb;

	/* a tone made of μ-law-representable samples */
	for(i = 0; i < 16000; i++)
		tone[i] = ulaw_to_linear(
				linear_to_ulaw((int)(12000 * sin(i * 2 * M_PI * 440 / 8000))));
	rb.cap = 8000 * 4;
	rb.pcm = calloc(rb.cap, sizeof(int16_t));
	a = media(base, &ra, 0, 0, &pa);
	b = media(base, &rb, 0, 0, &pb);
	point(a, pb, 101);
	point(b, pa, 101);
	mw_media_start(a);
	mw_media_start(b);
	run_ms(base, 200);
	assert_int_equal(mw_media_play(a, tone, 16000), 0);
	assert_int_equal(mw_media_send_dtmf(b, '7', 100), 0);
	assert_int_equal(mw_media_send_dtmf(b, '#', 120), 0);
	assert_int_equal(mw_media_send_dtmf(b, 'x', 120), -EINVAL);
	run_ms(base, 3300);
	/* B heard A's tone bit-exactly (jitter buffer + PLC untouched) */
	for(k = 0; k + 16000 <= rb.npcm; k++)
		if(rb.pcm[k] == tone[0] && rb.pcm[k + 1] == tone[1] &&
				rb.pcm[k + 2] == tone[2] &&
				!memcmp(&rb.pcm[k], tone, 16000 * sizeof(int16_t))) {
			found = k;
			break;
		}
	assert_true(found != SIZE_MAX);
	/* A got both digits once each */
	assert_string_equal(ra.digits, "7#");
	assert_in_range(ra.dtmf_ms[0], 100, 120);
	assert_in_range(ra.dtmf_ms[1], 120, 140);
	sa = stats(a);
	sb = stats(b);
	assert_int_equal(sa.dtmf_events, 2);
	assert_in_range(sb.rtp_rx, sa.rtp_tx - 3, sa.rtp_tx);
	assert_int_equal(sb.rtp_lost, 0);
	assert_int_equal(sb.rtp_bad, 0);
	assert_true(sb.jitter_ms < 20);
	assert_in_range(sb.jb_ms, 10, 60);
	/* RTCP both ways within 3.5 s */
	assert_true(sa.rtcp_tx >= 1);
	assert_true(sb.rtcp_rx >= 1);
	assert_true(sa.rtcp_rx >= 1);
	mw_media_free(a);
	mw_media_free(b);
	free(rb.pcm);
	t_base_free(base);
}

static void test_dtmf_wire(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	unsigned i, first = UINT32_MAX, ends = 0, last = 0;

	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, -1);
	assert_int_equal(mw_media_send_dtmf(m, '5', 100), -ENOTSUP);
	point(m, pe.port, 101);
	mw_media_start(m);
	run_ms(base, 60);
	assert_int_equal(mw_media_send_dtmf(m, '5', 100), 0);
	run_ms(base, 300);
	for(i = 0; i < pe.n; i++) {
		if(pe.p[i].pt != 101)
			continue;
		if(first == UINT32_MAX) {
			first = i;
			assert_int_equal(pe.p[i].marker, 1);
		} else {
			assert_int_equal(pe.p[i].marker, 0);
			assert_int_equal(pe.p[i].ts, pe.p[first].ts);
		}
		assert_int_equal(pe.p[i].payload[0], 5);
		if(pe.p[i].payload[1] & 0x80) {
			ends++;
			assert_int_equal(pe.p[i].payload[2] << 8 | pe.p[i].payload[3], 800);
		}
		last = i;
	}
	assert_true(first != UINT32_MAX);
	assert_int_equal(ends, 3);
	assert_int_equal(last - first + 1, 5 + 2); /* 160..800, 2 more ends */
	/* audio resumes with the marker bit, sequence numbers contiguous */
	assert_int_equal(pe.p[last + 1].pt, 0);
	assert_int_equal(pe.p[last + 1].marker, 1);
	for(i = 1; i < pe.n; i++)
		assert_int_equal((uint16_t)(pe.p[i - 1].seq + 1), pe.p[i].seq);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_rtcp_report(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	uint8_t buf[128];
	size_t len;
	struct mw_rtcp_sr sr = {
			.ssrc = 4242, .ntp_sec = 0x11223344, .ntp_frac = 0x55667788};
	unsigned i;

	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, -1);
	mw_media_start(m);
	assert_int_equal(mw_rtcp_build_sr(buf, sizeof(buf), &sr, NULL, 0, &len), 0);
	for(i = 0; i < 150; i++) {
		if(i != 50) /* one lost */
			peer_send_rtp(
					&pe, port, (uint16_t)(65500 + i), i * 160, 4242, 0xff);
		if(i == 10)
			peer_send(&pe, (uint16_t)(port + 1), buf, len);
		run_ms(base, 20);
	}
	run_ms(base, 300);
	/* the report came to the RTCP source (our peer socket) */
	assert_true(pe.rtcp >= 1);
	assert_true(pe.last_rtcp.has_sr);
	assert_int_equal(pe.last_rtcp.n_rb, 1);
	assert_int_equal(pe.last_rtcp.rb[0].ssrc, 4242);
	assert_int_equal(pe.last_rtcp.rb[0].lsr, 0x33445566);
	assert_true(pe.last_rtcp.rb[0].ext_max_seq >= 65536);
	assert_true(pe.last_rtcp.has_sdes);
	assert_int_equal(stats(m).rtcp_rx, 1);
	assert_int_equal(stats(m).rtp_lost, 1);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_hostile(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	uint8_t buf[3000];
	unsigned i, bad = 0;
	uint64_t rng = 12345;

	peer_open(&pe, base);
	m = media(base, &r, 0, 0, &port);
	point(m, pe.port, 101);
	mw_media_start(m);
	memset(buf, 0, sizeof(buf));
	/* short */
	buf[0] = 0x80;
	peer_send(&pe, port, buf, 1), bad++;
	peer_send(&pe, port, buf, 11), bad++;
	/* wrong version */
	buf[0] = 0x40;
	peer_send(&pe, port, buf, 172), bad++;
	/* huge CSRC count in a short packet */
	buf[0] = 0x8f;
	peer_send(&pe, port, buf, 20), bad++;
	/* extension longer than the packet */
	buf[0] = 0x90;
	buf[14] = 0xff;
	buf[15] = 0xff;
	peer_send(&pe, port, buf, 40), bad++;
	/* padding larger than the payload */
	buf[0] = 0xa0;
	buf[39] = 200;
	peer_send(&pe, port, buf, 40), bad++;
	/* valid RTP, unknown payload type (34) */
	mw_rtp_write_hdr(buf, 0, 34, 1, 1, 1);
	peer_send(&pe, port, buf, 100), bad++;
	/* telephone-event with a 2-byte payload */
	mw_rtp_write_hdr(buf, 0, 101, 2, 2, 1);
	peer_send(&pe, port, buf, 14), bad++;
	/* oversized datagram: truncated */
	mw_rtp_write_hdr(buf, 0, 0, 3, 3, 1);
	peer_send(&pe, port, buf, 3000), bad++;
	/* garbage with version 0/1/3 */
	for(i = 0; i < 300; i++) {
		unsigned j, len;

		for(j = 0; j < 200; j++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			buf[j] = (uint8_t)(rng >> 56);
		}
		if((buf[0] >> 6) == 2)
			buf[0] ^= 0x40;
		len = 1 + (unsigned)(rng >> 33) % 200;
		peer_send(&pe, port, buf, len), bad++;
		if(i % 50 == 49)
			run_ms(base, 5); /* do not overflow the socket buffer */
	}
	/* RTCP: bad length, bad version, random */
	memcpy(buf, "\x80\xc8\x00\x30", 4);
	peer_send(&pe, (uint16_t)(port + 1), buf, 28), bad++;
	buf[0] = 0x40;
	peer_send(&pe, (uint16_t)(port + 1), buf, 28), bad++;
	peer_send(&pe, (uint16_t)(port + 1), buf, 3), bad++;
	/* RTCP-looking garbage on the RTP port */
	memcpy(buf, "\x80\xc9\x00\x09", 4);
	peer_send(&pe, port, buf, 12), bad++;
	run_ms(base, 300);
	assert_int_equal(stats(m).rtp_bad, bad);
	assert_int_equal(stats(m).rtp_rx, 0);
	assert_int_equal(stats(m).rtcp_rx, 0);
	assert_int_equal(r.ndig, 0);
	/* still alive and sending */
	assert_in_range(pe.n, 12, 25);
	assert_contiguous(&pe, 0, pe.n);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_playout_cap_and_underruns(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	static int16_t pcm[24000];
	unsigned i;

	for(i = 0; i < 24000; i++)
		pcm[i] = (int16_t)(1000 + i % 100);
	peer_open(&pe, base);
	m = media(base, &r, 0, 1000, &port); /* 1 s cap */
	point(m, pe.port, -1);
	/* a mark whose audio will be dropped by the cap */
	mw_media_play(m, pcm, 4000);
	mw_media_mark(m, "dropped");
	assert_int_equal(mw_media_play(m, pcm, 24000), 0);
	assert_int_equal(stats(m).queued_ms, 1000);
	assert_int_equal(stats(m).playout_dropped_ms, 2500);
	assert_int_equal(r.nmarks, 0);
	assert_int_equal(mw_media_play(m, pcm, 800), 0);
	assert_int_equal(stats(m).playout_dropped_ms, 2600);
	mw_media_start(m);
	run_ms(base, 30);
	assert_int_equal(r.nmarks, 1); /* echoed: its audio is gone */
	assert_string_equal(r.marks[0], "dropped");
	/* 1 s plays out, then the AI is silent without a closing mark */
	run_ms(base, 1300);
	assert_int_equal(stats(m).queued_ms, 0);
	assert_in_range(stats(m).underruns, 10, 26);
	/* with a closing mark: no underrun */
	mw_media_clear(m);
	{
		uint64_t u = stats(m).underruns;

		mw_media_play(m, pcm, 1600);
		mw_media_mark(m, "end");
		run_ms(base, 400);
		assert_int_equal(stats(m).underruns, u);
		assert_string_equal(r.marks[r.nmarks - 1], "end");
	}
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_ipv6(void **state)
{
	struct event_base *base = t_base_new();
	struct rec ra = {0}, rb = {0};
	struct mw_media_cfg cfg = {"::1", PMIN, PMAX, 20, 200, 0, 0, 0, 0};
	struct mw_media *a = NULL, *b = NULL;
	uint16_t pa, pb;
	struct sockaddr_in6 sa = {0};
	struct sockaddr_in v4 = lo(1000);

	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, &ra, &a, &pa), 0);
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, &rb, &b, &pb), 0);
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	sa.sin6_port = htons(pb);
	assert_int_equal(
			mw_media_set_remote(a, (struct sockaddr *)&sa, sizeof(sa), 8, 8, 101),
			0);
	sa.sin6_port = htons(pa);
	assert_int_equal(
			mw_media_set_remote(b, (struct sockaddr *)&sa, sizeof(sa), 8, 8, 101),
			0);
	assert_int_equal(
			mw_media_set_remote(a, (struct sockaddr *)&v4, sizeof(v4), 0, 0, -1),
			-EAFNOSUPPORT);
	mw_media_start(a);
	mw_media_start(b);
	assert_int_equal(mw_media_send_dtmf(a, 'D', 80), 0);
	run_ms(base, 500);
	assert_string_equal(rb.digits, "D");
	assert_true(stats(b).rtp_rx >= 20);
	assert_int_equal(stats(b).rtp_bad, 0);
	assert_true(stats(a).rtp_rx >= 20);
	mw_media_free(a);
	mw_media_free(b);
	t_base_free(base);
}

static void test_api_errors(void **state)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct mw_media *m;
	uint16_t port;
	struct sockaddr_in sa = lo(1000);
	struct sockaddr_in6 s6 = {0};
	char longname[2000];

	m = media(base, &r, 0, 0, &port);
	assert_int_equal(
			mw_media_set_remote(m, (struct sockaddr *)&sa, sizeof(sa), 18, 18, -1),
			-EINVAL);
	assert_int_equal(
			mw_media_set_remote(m, (struct sockaddr *)&sa, sizeof(sa), 0, 0, 0),
			-EINVAL);
	s6.sin6_family = AF_INET6;
	assert_int_equal(
			mw_media_set_remote(m, (struct sockaddr *)&s6, sizeof(s6), 0, 0, -1),
			-EAFNOSUPPORT);
	assert_int_equal(mw_media_play(m, NULL, 10), -EINVAL);
	assert_int_equal(mw_media_play(m, NULL, 0), 0);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mw_media_mark(m, longname), -ENAMETOOLONG);
	assert_int_equal(mw_media_mark(m, NULL), -EINVAL);
	mw_media_free(m);
	mw_media_free(NULL);
	t_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_g711_vectors),
			cmocka_unit_test(test_bind_ports),
			cmocka_unit_test(test_api_errors),
			cmocka_unit_test(test_clock_silence_contiguous),
			cmocka_unit_test(test_clock_long_run_rate),
			cmocka_unit_test(test_audio_bitexact_marks),
			cmocka_unit_test(test_clear),
			cmocka_unit_test(test_hold),
			cmocka_unit_test(test_rtp_timeout),
			cmocka_unit_test(test_latching),
			cmocka_unit_test(test_two_instances_audio_dtmf_rtcp),
			cmocka_unit_test(test_dtmf_wire),
			cmocka_unit_test(test_rtcp_report),
			cmocka_unit_test(test_hostile),
			cmocka_unit_test(test_playout_cap_and_underruns),
			cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
