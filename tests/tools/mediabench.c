/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mediabench.c -- what one call's media costs on a worker thread, per
 * codec path: N pairs of media engines (mw_media) on one event loop
 * exchange RTP over loopback for S seconds, each playing AI audio and
 * handing the caller's audio to the AI protocol encoder (mw_ai, frames
 * discarded), as a worker's media thread does minus the WebSocket
 * writes. Prints the CPU used per call (µs per second of call, and the
 * calls one core would carry at that rate).
 *
 *   mediabench CODEC PROTO [PAIRS [SECONDS [inband]]]
 *       CODEC pcmu|g722|opus, PROTO twilio|l16
 *
 * Every session counts as one call (both ends of a pair run the full
 * engine). The figures include the RTP syscalls, not the SIP signalling
 * or the AI socket.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "br_model.h"
#include "mw_ai.h"
#include "mw_clock.h"
#include "mw_media.h"

struct sess
{
	struct mw_media *m;
	struct mw_ai ai;
	uint16_t port;
	uint64_t frames;
};

static void discard(void *arg, int is_text, const void *data, size_t len)
{
	(void)arg;
	(void)is_text;
	(void)data;
	(void)len;
}

static void on_audio(void *arg, const int16_t *pcm, size_t n, uint64_t ts)
{
	struct sess *s = arg;

	mw_ai_audio(&s->ai, pcm, n, ts);
	s->frames++;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void run(struct event_base *b, double s)
{
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (time_t)s) * 1e6)};

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

int main(int argc, char **argv)
{
	static const struct mw_media_cbs cbs = {on_audio, NULL, NULL, NULL};
	const char *cname = argc > 1 ? argv[1] : "pcmu";
	int l16 = argc > 2 && strcmp(argv[2], "l16") == 0;
	int pairs = argc > 3 ? atoi(argv[3]) : 100;
	double secs = argc > 4 ? atof(argv[4]) : 10;
	int inband = argc > 5 && strcmp(argv[5], "inband") == 0;
	int codec = strcmp(cname, "g722") == 0	 ? MW_CODEC_G722
				: strcmp(cname, "opus") == 0 ? MW_CODEC_OPUS
											 : MW_CODEC_PCMU;
	int pt = codec == MW_CODEC_OPUS ? 111 : codec;
	unsigned rate = l16 ? 16000 : 8000;
	struct mw_media_cfg cfg = {
			"127.0.0.1", 30000, 39999, 20, 200, 0, 0, rate, inband};
	struct event_base *b = event_base_new();
	struct mw_clock *clk = NULL;
	struct sess *s = calloc((size_t)pairs * 2, sizeof(*s));
	int16_t *tone;
	size_t n = (size_t)rate * (size_t)(secs + 5), i;
	double c0, w0, c1, w1, per_call_us;
	uint64_t frames = 0;

	if(!b || !s || pairs < 1 || secs <= 0 || mw_clock_base_init(b) < 0 ||
			mw_clock_new(b, &clk) < 0)
		return 2;
	tone = malloc(n * sizeof(int16_t));
	for(i = 0; i < n; i++)
		tone[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * (double)i / rate));
	for(i = 0; i < (size_t)pairs * 2; i++) {
		mw_ai_init(&s[i].ai, l16 ? BR_AI_L16 : BR_AI_TWILIO, discard, NULL);
		if(mw_media_new(clk, &cfg, &cbs, &s[i], &s[i].m, &s[i].port) < 0) {
			fprintf(stderr, "mw_media_new failed at %zu\n", i);
			return 1;
		}
	}
	for(i = 0; i < (size_t)pairs * 2; i++) {
		struct sockaddr_in sa = {0};

		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons(s[i ^ 1].port);
		mw_media_set_remote(
				s[i].m, (struct sockaddr *)&sa, sizeof(sa), codec, pt, 101);
		/* the AI talks all the time: the encoder runs on every tick */
		mw_media_play(s[i].m, tone, n);
		mw_media_start(s[i].m);
	}
	run(b, 2); /* warm-up: jitter buffers settle */
	for(i = 0; i < (size_t)pairs * 2; i++)
		s[i].frames = 0;
	c0 = cpu_s();
	w0 = wall_s();
	run(b, secs);
	c1 = cpu_s();
	w1 = wall_s();
	for(i = 0; i < (size_t)pairs * 2; i++)
		frames += s[i].frames;
	per_call_us = (c1 - c0) / (w1 - w0) / (pairs * 2) * 1e6;
	printf("%s/%s%s calls %d cpu %.1f%% per_call_us_per_s %.1f "
		   "calls_per_core %.0f frames %.1f%%\n",
			cname, l16 ? "l16" : "twilio", inband ? "+inband" : "", pairs * 2,
			(c1 - c0) / (w1 - w0) * 100, per_call_us, 1e6 / per_call_us,
			100.0 * frames / ((w1 - w0) * 50 * pairs * 2));
	for(i = 0; i < (size_t)pairs * 2; i++) {
		mw_media_free(s[i].m);
		mw_ai_cleanup(&s[i].ai);
	}
	free(s);
	free(tone);
	mw_clock_free(clk);
	event_base_free(b);
	return 0;
}
