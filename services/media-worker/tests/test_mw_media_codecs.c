/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_media_codecs.c -- the media engine with wideband codecs and
 * in-band DTMF, over loopback with a real libevent loop: G.722 and opus
 * on the wire (payload types, sizes, RTP clocks) with the audio judged by
 * content (a 6 kHz tone survives a 16 kHz path and is gone from an 8 kHz
 * one), a codec change in the middle of a call, RFC 4733 at opus's 48 kHz
 * clock, in-band digits detected by spandsp's dtmf_rx under G.711
 * quantisation and noise (all sixteen, a fast sequence, a long press,
 * PCMA, and no talk-off from noise), and in-band digits generated with
 * dtmf_tx on G.711 and G.722 calls. Tones here come from spandsp's
 * dtmf_tx too; the peer encodes with mw_codec.
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

#include "mw_codec.h"
#include "mw_dtmf.h"
#include "mw_media.h"
#include "mw_test_loop.h"
#include "mw_rtp.h"

#define PMIN 42000
#define PMAX 42999
#define MAXPKT 2000

/* ---- a raw UDP peer: records what it receives, plays PCM as RTP ---- */

struct rpkt
{
	uint8_t marker, pt;
	uint16_t seq, len;
	uint32_t ts;
	uint8_t payload[MW_CODEC_MAX_PAYLOAD];
};

struct peer
{
	int fd;
	uint16_t port;
	struct event *ev, *feed;
	struct rpkt *p;
	unsigned n;
	/* feeder: 'pcm' at the codec's rate, one 20 ms packet per tick */
	struct mw_codec_state codec;
	int pt;
	uint16_t to_port;
	const int16_t *pcm;
	size_t npcm, off;
	uint16_t seq;
	uint32_t ts;
};

static void peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *pe = arg;
	uint8_t buf[2048];
	ssize_t len;
	struct mw_rtp_hdr h;

	while((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if(mw_rtp_is_rtcp(buf, (size_t)len) ||
				mw_rtp_parse(buf, (size_t)len, &h) < 0 || pe->n >= MAXPKT ||
				h.payload_len > MW_CODEC_MAX_PAYLOAD)
			continue;
		pe->p[pe->n].marker = h.marker;
		pe->p[pe->n].pt = h.pt;
		pe->p[pe->n].seq = h.seq;
		pe->p[pe->n].ts = h.ts;
		pe->p[pe->n].len = (uint16_t)h.payload_len;
		memcpy(pe->p[pe->n].payload, h.payload, h.payload_len);
		pe->n++;
	}
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in sa = {0};

	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	return sa;
}

static void feed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *pe = arg;
	const struct mw_codec_desc *d = pe->codec.d;
	uint8_t buf[12 + MW_CODEC_MAX_PAYLOAD];
	struct sockaddr_in sa = lo(pe->to_port);
	unsigned frame;
	int n;

	if(!pe->pcm)
		return;
	frame = d->rate / 50;
	if(pe->off + frame > pe->npcm)
		return;
	n = mw_codec_encode(&pe->codec, pe->pcm + pe->off, frame, buf + 12,
			MW_CODEC_MAX_PAYLOAD);
	assert_true(n > 0);
	mw_rtp_write_hdr(
			buf, pe->off == 0, (uint8_t)pe->pt, pe->seq++, pe->ts, 0x5eed);
	pe->ts += d->clock / 50;
	pe->off += frame;
	sendto(pe->fd, buf, 12 + (size_t)n, 0, (struct sockaddr *)&sa, sizeof(sa));
}

static void peer_open(struct peer *pe, struct event_base *base)
{
	struct sockaddr_in sa = lo(0);
	socklen_t l = sizeof(sa);
	struct timeval tv = {0, 20000};

	memset(pe, 0, sizeof(*pe));
	pe->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(pe->fd >= 0);
	assert_int_equal(bind(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(pe->fd, (struct sockaddr *)&sa, &l), 0);
	pe->port = ntohs(sa.sin_port);
	pe->p = calloc(MAXPKT, sizeof(*pe->p));
	assert_non_null(pe->p);
	pe->ev = event_new(base, pe->fd, EV_READ | EV_PERSIST, peer_cb, pe);
	event_add(pe->ev, NULL);
	pe->feed = event_new(base, -1, EV_PERSIST, feed_cb, pe);
	evtimer_add(pe->feed, &tv);
}

/* Starts playing 'pcm' (n samples at the codec's rate) to 'port'. */
static void peer_play(struct peer *pe, uint16_t port, int codec, int pt,
		const int16_t *pcm, size_t n)
{
	mw_codec_cleanup(&pe->codec);
	assert_int_equal(mw_codec_init(&pe->codec, codec), 0);
	pe->pt = pt;
	pe->to_port = port;
	pe->pcm = pcm;
	pe->npcm = n;
	pe->off = 0;
}

static void peer_close(struct peer *pe)
{
	event_free(pe->ev);
	event_free(pe->feed);
	close(pe->fd);
	free(pe->p);
	mw_codec_cleanup(&pe->codec);
}

/* ---- the engine's callbacks ---- */

struct rec
{
	unsigned frame; /* samples expected per on_audio */
	int16_t *pcm;
	size_t npcm, cap;
	char digits[64];
	int ms[64], src[64];
	unsigned ndig;
};

static void on_audio(void *arg, const int16_t *pcm, size_t n, uint64_t ts_ms)
{
	struct rec *r = arg;

	assert_int_equal(n, r->frame);
	if(r->pcm && r->npcm + n <= r->cap) {
		memcpy(r->pcm + r->npcm, pcm, n * sizeof(int16_t));
		r->npcm += n;
	}
}

static void on_dtmf(void *arg, char digit, int ms, int source)
{
	struct rec *r = arg;

	if(r->ndig < 63) {
		r->ms[r->ndig] = ms;
		r->src[r->ndig] = source;
		r->digits[r->ndig++] = digit;
		r->digits[r->ndig] = '\0';
	}
}

static const struct mw_media_cbs cbs = {on_audio, on_dtmf, NULL, NULL};

static struct mw_media *media(struct event_base *base, struct rec *r,
		unsigned api_rate, int inband, uint16_t *port, size_t rec_s)
{
	struct mw_media_cfg cfg = {
			"127.0.0.1", PMIN, PMAX, 20, 200, 0, 0, api_rate, inband};
	struct mw_media *m = NULL;

	r->frame = api_rate / 50;
	if(rec_s) {
		r->cap = api_rate * rec_s;
		r->pcm = calloc(r->cap, sizeof(int16_t));
	}
	assert_int_equal(mw_media_new(t_clk, &cfg, &cbs, r, &m, port), 0);
	return m;
}

static void point(struct mw_media *m, uint16_t port, int codec, int pt, int te)
{
	struct sockaddr_in sa = lo(port);

	assert_int_equal(mw_media_set_remote(m, (struct sockaddr *)&sa, sizeof(sa),
							 codec, pt, te),
			0);
}

static void run_ms(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void tone(int16_t *x, size_t n, unsigned rate, double hz, double amp)
{
	size_t i;

	for(i = 0; i < n; i++)
		x[i] = (int16_t)(amp * sin(2 * M_PI * hz * (double)i / rate));
}

static void mix(int16_t *x, const int16_t *y, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++)
		x[i] = (int16_t)(x[i] + y[i]);
}

/* Power of 'hz' over x relative to a sine of amplitude 'amp' (Goertzel). */
static double rel_power(
		const int16_t *x, size_t n, unsigned rate, double hz, double amp)
{
	double k = 2 * cos(2 * M_PI * hz / rate), s1 = 0, s2 = 0, s;
	size_t i;

	for(i = 0; i < n; i++) {
		s = x[i] + k * s1 - s2;
		s2 = s1;
		s1 = s;
	}
	return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double)n * n) /
		   (amp * amp / 4);
}

/* Decodes the peer's packets of type 'pt' with 'codec' into one signal. */
static size_t decode_all(
		const struct peer *pe, int codec, int pt, int16_t *out, size_t cap)
{
	struct mw_codec_state c;
	size_t got = 0;
	unsigned i;
	int n;

	assert_int_equal(mw_codec_init(&c, codec), 0);
	for(i = 0; i < pe->n; i++) {
		if(pe->p[i].pt != pt)
			continue;
		assert_true(got + MW_CODEC_MAX_SAMPLES <= cap);
		n = mw_codec_decode(&c, pe->p[i].payload, pe->p[i].len, out + got,
				MW_CODEC_MAX_SAMPLES);
		assert_true(n > 0);
		got += (size_t)n;
	}
	mw_codec_cleanup(&c);
	return got;
}

/* ---- wideband on the wire ---- */

/* The AI's 16 kHz audio leaves as G.722 (pt 9, 160 bytes, clock 8000)
 * or opus (dynamic pt, clock 48000) and decodes to the same 6 kHz. */
static void wire(int codec, int pt, unsigned ts_step)
{
	struct event_base *base = t_base_new();
	struct rec r = {0};
	struct peer pe;
	struct mw_media *m;
	uint16_t port;
	static int16_t ai[16000 * 2], heard[16000 * 4];
	size_t n;
	unsigned i, k = 0;

	peer_open(&pe, base);
	m = media(base, &r, 16000, 0, &port, 0);
	point(m, pe.port, codec, pt, -1);
	assert_int_equal(mw_media_codec(m), codec);
	tone(ai, 32000, 16000, 6000, 8000);
	assert_int_equal(mw_media_play(m, ai, 32000), 0);
	mw_media_start(m);
	run_ms(base, 1500);
	assert_true(pe.n >= 60);
	for(i = 0; i < pe.n; i++) {
		assert_int_equal(pe.p[i].pt, pt);
		if(codec == MW_CODEC_G722)
			assert_int_equal(pe.p[i].len, 160);
		if(i)
			assert_int_equal(pe.p[i].ts - pe.p[i - 1].ts, ts_step);
		k += pe.p[i].marker;
	}
	assert_int_equal(k, 1); /* one talkspurt */
	n = decode_all(&pe, codec, pt, heard, sizeof(heard) / sizeof(heard[0]));
	assert_true(n >= 16000);
	/* after the start-up, the 6 kHz tone, at about its level */
	assert_true(rel_power(heard + 3200, 12800, 16000, 6000, 8000) > 0.5);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_g722_wire(void **state)
{
	wire(MW_CODEC_G722, 9, 160);
}

static void test_opus_wire(void **state)
{
	wire(MW_CODEC_OPUS, 111, 960);
}

/* A wideband caller: the same 6 kHz + 1 kHz reaches a 16 kHz API intact
 * and an 8 kHz API without the 6 kHz (and without its 2 kHz alias). */
static void test_wideband_to_api_rates(void **state)
{
	struct event_base *base = t_base_new();
	struct rec wb = {0}, nb = {0};
	struct peer pe;
	struct mw_media *a, *b;
	uint16_t pa, pb;
	static int16_t src[16000 * 2], t[16000 * 2];
	const int codecs[2] = {MW_CODEC_G722, MW_CODEC_OPUS}, pts[2] = {9, 96};
	int i;

	for(i = 0; i < 2; i++) {
		int codec = codecs[i], pt = pts[i];

		memset(&wb, 0, sizeof(wb));
		memset(&nb, 0, sizeof(nb));
		peer_open(&pe, base);
		a = media(base, &wb, 16000, 0, &pa, 5);
		b = media(base, &nb, 8000, 0, &pb, 5);
		point(a, pe.port, codec, pt, -1);
		point(b, pe.port, codec, pt, -1);
		tone(src, 32000, 16000, 6000, 6000);
		tone(t, 32000, 16000, 1000, 6000);
		mix(src, t, 32000);
		mw_media_start(a);
		mw_media_start(b);
		/* the same stream to both (two feeders would need two peers:
		 * play to a, then to b) */
		peer_play(&pe, pa, codec, pt, src, 32000);
		run_ms(base, 2200);
		peer_play(&pe, pb, codec, pt, src, 32000);
		run_ms(base, 2200);
		assert_true(wb.npcm >= 32000);
		assert_true(nb.npcm >= 8000 * 4);
		/* the middle second of each recording carries the tones */
		assert_true(rel_power(wb.pcm + 8000, 16000, 16000, 6000, 6000) > 0.5);
		assert_true(rel_power(wb.pcm + 8000, 16000, 16000, 1000, 6000) > 0.5);
		assert_true(
				rel_power(nb.pcm + 4000 + 17600, 8000, 8000, 1000, 6000) > 0.5);
		assert_true(rel_power(nb.pcm + 4000 + 17600, 8000, 8000, 2000, 6000) <
					0.01);
		mw_media_free(a);
		mw_media_free(b);
		free(wb.pcm);
		free(nb.pcm);
		peer_close(&pe);
	}
	t_base_free(base);
}

/* Two engines, PCMU then G.722 then opus (re-INVITEs), audio and RFC 4733
 * both ways at each clock; durations stay in milliseconds. */
static void test_codec_change_and_rfc4733(void **state)
{
	struct event_base *base = t_base_new();
	struct rec ra = {0}, rb = {0};
	struct mw_media *a, *b;
	uint16_t pa, pb;
	static int16_t t[16000];
	const int codecs[3] = {MW_CODEC_PCMU, MW_CODEC_G722, MW_CODEC_OPUS};
	const int pts[3] = {0, 9, 111}, tes[3] = {101, 101, 110};
	const char digits[4] = "159";
	int i;
	size_t before;

	a = media(base, &ra, 16000, 0, &pa, 0);
	b = media(base, &rb, 16000, 0, &pb, 12);
	tone(t, 16000, 16000, 1000, 6000);
	for(i = 0; i < 3; i++) {
		point(a, pb, codecs[i], pts[i], tes[i]);
		point(b, pa, codecs[i], pts[i], tes[i]);
		if(i == 0) {
			mw_media_start(a);
			mw_media_start(b);
		}
		before = rb.npcm;
		assert_int_equal(mw_media_play(a, t, 16000), 0);
		assert_int_equal(mw_media_send_dtmf(b, digits[i], 100), 0);
		run_ms(base, 1400);
		assert_int_equal(mw_media_codec(b), codecs[i]);
		assert_true(rb.npcm - before >= 16000);
		/* 1 kHz in the 0.6 s after the jitter buffer settled */
		assert_true(rel_power(rb.pcm + before + 6400, 9600, 16000, 1000, 6000) >
					0.4);
		assert_int_equal(ra.ndig, (unsigned)i + 1);
		assert_int_equal(ra.digits[i], digits[i]);
		assert_int_equal(ra.src[i], MW_DTMF_SRC_RFC4733);
		assert_in_range(ra.ms[i], 100, 120);
	}
	mw_media_free(a);
	mw_media_free(b);
	free(rb.pcm);
	t_base_free(base);
}

/* ---- in-band DTMF ---- */

/* Appends spandsp's rendering of 'digits' (on/off ms each) to x at
 * 8 kHz; returns the samples written. */
static size_t dtmf_tones(
		int16_t *x, size_t cap, const char *digits, int on_ms, int off_ms)
{
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	size_t n = 0;
	int k;

	assert_non_null(tx);
	dtmf_tx_set_timing(tx, on_ms, off_ms);
	assert_int_equal(dtmf_tx_put(tx, digits, -1), 0);
	while(n < cap && (k = dtmf_tx(tx, x + n, (int)(cap - n))) > 0)
		n += (size_t)k;
	dtmf_tx_free(tx);
	return n;
}

/* Deterministic noise (sum of uniforms, about Gaussian) of RMS 'rms'. */
static void add_noise(int16_t *x, size_t n, double rms, uint32_t seed)
{
	size_t i;
	int k;

	for(i = 0; i < n; i++) {
		double v = 0;
		for(k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			v += (double)(seed >> 8) / (1u << 24) - 0.5;
		}
		v = x[i] + v * rms * 1.732; /* 4 uniforms: variance 1/3 */
		x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
}

/* The caller plays 'pcm' (8 kHz) as G.711 'pt' to an engine detecting
 * in-band DTMF; returns what it reported. */
static void detect(const int16_t *pcm, size_t n, int pt, int inband,
		struct rec *r, int run)
{
	struct event_base *base = t_base_new();
	struct peer pe;
	struct mw_media *m;
	uint16_t port;

	memset(r, 0, sizeof(*r));
	peer_open(&pe, base);
	m = media(base, r, 8000, inband, &port, 0);
	point(m, pe.port, pt, pt, 101);
	mw_media_start(m);
	peer_play(&pe, port, pt, pt, pcm, n);
	run_ms(base, run);
	mw_media_free(m);
	peer_close(&pe);
	t_base_free(base);
}

static void test_inband_detect(void **state)
{
	static int16_t pcm[8000 * 12];
	struct rec r;
	size_t n;
	unsigned i;

	/* all sixteen at 70/70 ms, with noise about 13 dB below each tone
	 * (spandsp's default level, -10 dBm0 per tone: ~5100 RMS each) */
	memset(pcm, 0, sizeof(pcm));
	n = 4000 + dtmf_tones(pcm + 4000, 8000 * 4, "0123456789*#ABCD", 70, 70);
	add_noise(pcm, n + 4000, 1100, 1);
	detect(pcm, n + 4000, MW_CODEC_PCMU, 1, &r, (int)(n + 4000) / 8 + 500);
	assert_string_equal(r.digits, "0123456789*#ABCD");
	for(i = 0; i < r.ndig; i++) {
		assert_int_equal(r.src[i], MW_DTMF_SRC_INBAND);
		assert_in_range(r.ms[i], 40, 100);
	}
	/* a fast sequence (Q.24's minimum, 40 ms tones and pauses) of
	 * repeated digits, as PCMA, 17 dB of SNR */
	memset(pcm, 0, sizeof(pcm));
	n = 4000 + dtmf_tones(pcm + 4000, 8000 * 4, "5511#", 40, 40);
	add_noise(pcm, n + 4000, 700, 2);
	detect(pcm, n + 4000, MW_CODEC_PCMA, 1, &r, (int)(n + 4000) / 8 + 500);
	assert_string_equal(r.digits, "5511#");
	/* a long press: one digit of about 2 s */
	memset(pcm, 0, sizeof(pcm));
	n = 4000 + dtmf_tones(pcm + 4000, 8000 * 4, "7", 2000, 100);
	add_noise(pcm, n + 4000, 330, 3);
	detect(pcm, n + 4000, MW_CODEC_PCMU, 1, &r, (int)(n + 4000) / 8 + 500);
	assert_string_equal(r.digits, "7");
	assert_in_range(r.ms[0], 1900, 2100);
	/* loud noise alone is not a digit; tones with detection off neither */
	memset(pcm, 0, sizeof(pcm));
	add_noise(pcm, 8000 * 3, 3000, 4);
	detect(pcm, 8000 * 3, MW_CODEC_PCMU, 1, &r, 3300);
	assert_int_equal(r.ndig, 0);
	n = dtmf_tones(pcm, 8000 * 4, "123", 100, 100);
	detect(pcm, n, MW_CODEC_PCMU, 0, &r, (int)n / 8 + 400);
	assert_int_equal(r.ndig, 0);
}

/* Digits the AI sends in-band reach an in-band detector on a G.711 and
 * on a G.722 call (tones made at 8 kHz, resampled both ways). */
static void test_inband_send(void **state)
{
	struct event_base *base = t_base_new();
	struct rec ra = {0}, rb = {0};
	struct mw_media *a, *b;
	uint16_t pa, pb;
	int wb;

	for(wb = 0; wb < 2; wb++) {
		int codec = wb ? MW_CODEC_G722 : MW_CODEC_PCMU;

		memset(&ra, 0, sizeof(ra));
		memset(&rb, 0, sizeof(rb));
		a = media(base, &ra, 8000, 0, &pa, 0);
		b = media(base, &rb, wb ? 16000 : 8000, 1, &pb, 0);
		point(a, pb, codec, codec, -1);
		point(b, pa, codec, codec, -1);
		mw_media_start(a);
		mw_media_start(b);
		assert_int_equal(mw_media_send_dtmf_inband(a, '1', 100), 0);
		assert_int_equal(mw_media_send_dtmf_inband(a, '#', 100), 0);
		assert_int_equal(mw_media_send_dtmf_inband(a, 'd', 300), 0);
		assert_int_equal(mw_media_send_dtmf_inband(a, 'x', 100), -EINVAL);
		run_ms(base, 1200);
		assert_string_equal(rb.digits, "1#D");
		assert_in_range(rb.ms[0], 80, 120);
		assert_in_range(rb.ms[2], 280, 320);
		assert_int_equal(rb.src[1], MW_DTMF_SRC_INBAND);
		mw_media_free(a);
		mw_media_free(b);
	}
	t_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_g722_wire),
			cmocka_unit_test(test_opus_wire),
			cmocka_unit_test(test_wideband_to_api_rates),
			cmocka_unit_test(test_codec_change_and_rfc4733),
			cmocka_unit_test(test_inband_detect),
			cmocka_unit_test(test_inband_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
