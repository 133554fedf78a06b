/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ra_agent.c -- byoc-ref-agent driven by a fake worker (mw_ws client
 * + mw_twilio encoders): greeting and its mark, echo in 200 ms chunks
 * with marks, echo delay, DTMF report/echo, clear on '*', the per-call
 * events file and recording, and the silent/hangup-after/close-after
 * modes; the same in the L16 wideband mode (binary 16 kHz audio, jambonz
 * control messages). The agent binary is the one built next to this test.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "mw_l16.h"
#include "mw_twilio.h"
#include "mw_ws.h"

extern char **environ;

struct agent
{
	pid_t pid;
	int port;
	char dir[64]; /* temp dir: events/ and rec/ */
};

/* The fake worker's view of one call */
struct fw
{
	struct event_base *base;
	struct mw_ws *ws;
	struct mw_twilio_stream tw;
	int opened, closed, close_code;
	int media_msgs, marks, clears, hangups, dtmf_sent, other;
	size_t media_bytes;
	uint8_t audio[65536]; /* everything played, in order */
	char mark_names[64][32];
	char dtmf_digits[16];
	int echo_marks; /* answer marks at once, as a playout would */
	uint64_t ts;
};

/* ---- agent process ------------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in sin = {0};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void agent_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	assert_true(n > 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(out, len, "%s/byoc-ref-agent", self);
}

/* Starts the agent with extra arguments (NULL-terminated) and waits
 * until it accepts connections. */
static void agent_start(struct agent *a, ...)
{
	char bin[PATH_MAX], listen[64], ev[128], rec[128];
	char *argv[32];
	int argc = 0, i, fd;
	struct sockaddr_in sin = {0};
	va_list ap;
	const char *arg;

	agent_path(bin, sizeof(bin));
	snprintf(a->dir, sizeof(a->dir), "/tmp/ra_test.XXXXXX");
	assert_non_null(mkdtemp(a->dir));
	snprintf(ev, sizeof(ev), "%s/events", a->dir);
	snprintf(rec, sizeof(rec), "%s/rec", a->dir);
	mkdir(ev, 0700);
	mkdir(rec, 0700);
	a->port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", a->port);
	argv[argc++] = bin;
	argv[argc++] = "--listen";
	argv[argc++] = listen;
	argv[argc++] = "--events-dir";
	argv[argc++] = ev;
	argv[argc++] = "--record-dir";
	argv[argc++] = rec;
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	va_start(ap, a);
	while((arg = va_arg(ap, const char *)) != NULL && argc < 30)
		argv[argc++] = (char *)arg;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(posix_spawn(&a->pid, bin, NULL, NULL, argv, environ), 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)a->port);
	for(i = 0; i < 300; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			return;
		}
		close(fd);
		usleep(10000);
	}
	fail_msg("agent did not start");
}

static void agent_stop(struct agent *a)
{
	char cmd[128];
	int st;

	kill(a->pid, SIGTERM);
	assert_int_equal(waitpid(a->pid, &st, 0), a->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- fake worker --------------------------------------------------------- */

static void fw_send(struct fw *w, char *json, int n)
{
	assert_true(n > 0);
	assert_int_equal(mw_ws_send_text(w->ws, json, (size_t)n), 0);
	free(json);
}

static void on_open(struct mw_ws *ws, void *arg)
{
	((struct fw *)arg)->opened = 1;
}

static void on_message(struct mw_ws *ws, int is_text, const uint8_t *data,
		size_t len, void *arg)
{
	struct fw *w = arg;
	struct mw_twilio_in in;
	char *json;

	assert_true(is_text);
	/* everything the agent sends carries our streamSid */
	{
		json_t *j = json_loadb((const char *)data, len, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "streamSid")),
				w->tw.stream_sid);
		json_decref(j);
	}
	mw_twilio_parse((const char *)data, len, &in);
	switch(in.type) {
		case MW_TW_MEDIA:
			assert_true(w->media_bytes + in.audio_len <= sizeof(w->audio));
			memcpy(w->audio + w->media_bytes, in.audio, in.audio_len);
			w->media_bytes += in.audio_len;
			w->media_msgs++;
			break;
		case MW_TW_MARK:
			assert_true(w->marks < 64);
			snprintf(w->mark_names[w->marks], 32, "%s", in.name);
			w->marks++;
			if(w->echo_marks)
				fw_send(w, json, mw_twilio_mark(&w->tw, in.name, &json));
			break;
		case MW_TW_CLEAR:
			w->clears++;
			break;
		case MW_TW_HANGUP:
			w->hangups++;
			break;
		case MW_TW_SEND_DTMF:
			strncat(w->dtmf_digits, in.name,
					sizeof(w->dtmf_digits) - strlen(w->dtmf_digits) - 1);
			w->dtmf_sent++;
			break;
		default:
			w->other++;
			break;
	}
	mw_twilio_in_free(&in);
}

static void on_close(struct mw_ws *ws, int code, const char *reason, void *arg)
{
	struct fw *w = arg;

	w->closed = 1;
	w->close_code = code;
}

static const struct mw_ws_cbs cbs = {on_open, on_message, on_close};

static void expired_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

static int run_until(struct event_base *b, const int *flag, int want, int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(b, expired_cb, &expired);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(t, &tv);
	while(*flag < want && !expired)
		event_base_loop(b, EVLOOP_ONCE);
	event_free(t);
	return *flag >= want;
}

static void pump(struct event_base *b, int ms)
{
	static const int never = 0;

	run_until(b, &never, 1, ms);
}

static struct fw *fw_connect(struct agent *a)
{
	static const char *const keys[] = {"trunk", "did", "x-test"};
	static const char *const vals[] = {"t1", "+14155550100", "case-1"};
	struct mw_ws_client_opts o = {0};
	struct fw *w = calloc(1, sizeof(*w));
	char url[64], *json;

	w->base = event_base_new();
	w->echo_marks = 1;
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/stream", a->port);
	o.url = url;
	o.subprotocols = "audio.twilio.com";
	assert_int_equal(mw_ws_connect(w->base, NULL, &o, &cbs, w, &w->ws), 0);
	assert_true(run_until(w->base, &w->opened, 1, 3000));
	mw_twilio_stream_init(&w->tw);
	fw_send(w, json, mw_twilio_connected(&json));
	fw_send(w, json, mw_twilio_start(&w->tw, keys, vals, 3, &json));
	return w;
}

/* 20 ms of caller audio: byte value 'v' */
static void fw_media(struct fw *w, uint8_t v)
{
	uint8_t ulaw[160];
	char *json;

	memset(ulaw, v, sizeof(ulaw));
	fw_send(w, json, mw_twilio_media(&w->tw, ulaw, 160, w->ts, &json));
	w->ts += 20;
}

static void fw_free(struct fw *w)
{
	mw_ws_free(w->ws);
	pump(w->base, 5);
	event_base_free(w->base);
	free(w);
}

static void fw_end(struct fw *w)
{
	char *json;

	fw_send(w, json, mw_twilio_stop(&w->tw, &json));
	assert_int_equal(mw_ws_close(w->ws, 1000, "call ended"), 0);
	assert_true(run_until(w->base, &w->closed, 1, 3000));
	assert_int_equal(w->close_code, 1000);
}

/* The agent's events file for this call, as one JSON array */
static json_t *events_of(struct agent *a, struct fw *w)
{
	char path[256], line[8192];
	json_t *arr = json_array();
	FILE *f;
	int i;

	snprintf(
			path, sizeof(path), "%s/events/%s.jsonl", a->dir, w->tw.stream_sid);
	/* the agent writes "closed" when its side of the socket ends */
	for(i = 0; i < 200; i++) {
		f = fopen(path, "r");
		if(f != NULL) {
			json_array_clear(arr);
			while(fgets(line, sizeof(line), f) != NULL) {
				json_t *j = json_loads(line, 0, NULL);
				assert_non_null(j);
				json_array_append_new(arr, j);
			}
			fclose(f);
			if(json_array_size(arr) > 0 &&
					strcmp(json_string_value(json_object_get(
								   json_array_get(
										   arr, json_array_size(arr) - 1),
								   "event")),
							"closed") == 0)
				return arr;
		}
		usleep(10000);
	}
	fail_msg("no complete events file %s", path);
	return NULL;
}

static json_t *event_find(json_t *arr, const char *name, int nth)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if(strcmp(json_string_value(json_object_get(e, "event")), name) == 0 &&
				nth-- == 0)
			return e;
	}
	return NULL;
}

/* ---- tests --------------------------------------------------------------- */

static void test_greeting_echo_dtmf(void **state)
{
	struct agent a;
	struct fw *w;
	json_t *ev, *e, *viol;
	char path[256];
	struct stat st;
	int i, want;
	const char *k;
	json_t *v;

	agent_start(&a, "--greeting-tone", "440:300", "--dtmf-echo", NULL);
	w = fw_connect(&a);
	/* greeting: 300 ms in 100 ms messages, then mark "greeting" */
	assert_true(run_until(w->base, &w->marks, 1, 3000));
	assert_int_equal(w->media_msgs, 3);
	assert_int_equal(w->media_bytes, 2400);
	assert_string_equal(w->mark_names[0], "greeting");

	/* 1 s of caller audio -> 5 echo chunks of 200 ms, each + mark */
	for(i = 0; i < 50; i++)
		fw_media(w, (uint8_t)(0x10 + i / 10));
	assert_true(run_until(w->base, &w->marks, 6, 3000));
	assert_int_equal(w->media_msgs, 3 + 5);
	assert_int_equal(w->media_bytes, 2400 + 5 * 1600);
	for(i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "echo-%d", i + 1);
		assert_string_equal(w->mark_names[1 + i], name);
		/* chunk i holds 10 frames of 0x10 + i */
		assert_int_equal(w->audio[2400 + 1600 * i], 0x10 + i);
		assert_int_equal(w->audio[2400 + 1600 * i + 1599], 0x10 + i);
	}

	/* DTMF: echoed as the dtmf extension; '*' also makes it clear */
	{
		char *json;
		fw_send(w, json, mw_twilio_dtmf(&w->tw, '5', &json));
		fw_send(w, json, mw_twilio_dtmf(&w->tw, '*', &json));
	}
	assert_true(run_until(w->base, &w->dtmf_sent, 2, 3000));
	assert_string_equal(w->dtmf_digits, "5*");
	assert_int_equal(w->clears, 1);
	/* 100 ms buffered before a clear is forgotten */
	for(i = 0; i < 5; i++)
		fw_media(w, 0x77);
	fw_end(w);
	assert_int_equal(w->other, 0);

	ev = events_of(&a, w);
	e = event_find(ev, "start", 0);
	assert_non_null(e);
	assert_string_equal(
			json_string_value(json_object_get(e, "callSid")), w->tw.call_sid);
	v = json_object_get(e, "customParameters");
	assert_string_equal(
			json_string_value(json_object_get(v, "x-test")), "case-1");
	assert_string_equal(json_string_value(json_object_get(
								event_find(ev, "dtmf", 0), "digit")),
			"5");
	assert_string_equal(json_string_value(json_object_get(
								event_find(ev, "dtmf", 1), "digit")),
			"*");
	assert_non_null(event_find(ev, "clear_sent", 0));
	assert_non_null(event_find(ev, "stop", 0));
	assert_string_equal(json_string_value(json_object_get(
								event_find(ev, "mark", 5), "name")),
			"echo-5");
	e = event_find(ev, "closed", 0);
	assert_int_equal(json_integer_value(json_object_get(e, "code")), 1000);
	assert_true(json_is_true(json_object_get(e, "stop_received")));
	assert_int_equal(json_integer_value(json_object_get(e, "media")), 55);
	assert_int_equal(json_integer_value(json_object_get(e, "marks_echoed")), 6);
	assert_int_equal(
			json_integer_value(json_object_get(e, "marks_unexpected")), 0);
	/* our fake worker follows the protocol: no violations counted */
	viol = json_object_get(e, "violations");
	json_object_foreach(viol, k, v)
	{
		if(json_integer_value(v) != 0)
			fail_msg(
					"violation %s = %lld", k, (long long)json_integer_value(v));
	}
	json_decref(ev);

	/* the recording: 55 frames of 16-bit PCM after a 44-byte header */
	snprintf(path, sizeof(path), "%s/rec/%s.wav", a.dir, w->tw.stream_sid);
	assert_int_equal(stat(path, &st), 0);
	want = 44 + 55 * 160 * 2;
	assert_int_equal(st.st_size, want);
	fw_free(w);
	agent_stop(&a);
}

static void test_violations_counted(void **state)
{
	struct agent a;
	struct fw *w;
	json_t *ev, *viol;
	char *json;
	uint8_t ulaw[100];

	agent_start(&a, NULL);
	w = fw_connect(&a);
	fw_media(w, 0xff);
	w->ts += 40; /* a 40 ms hole in the timestamps */
	fw_media(w, 0xff);
	memset(ulaw, 0xff, sizeof(ulaw)); /* not 160 bytes */
	fw_send(w, json, mw_twilio_media(&w->tw, ulaw, sizeof(ulaw), w->ts, &json));
	w->ts += 20;
	w->tw.seq++; /* a sequence number skipped */
	fw_media(w, 0xff);
	fw_end(w);
	ev = events_of(&a, w);
	viol = json_object_get(event_find(ev, "closed", 0), "violations");
	assert_int_equal(json_integer_value(json_object_get(viol, "ts")), 1);
	assert_int_equal(json_integer_value(json_object_get(viol, "payload")), 1);
	assert_int_equal(json_integer_value(json_object_get(viol, "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(viol, "order")), 0);
	json_decref(ev);
	fw_free(w);
	agent_stop(&a);
}

static void test_echo_delay(void **state)
{
	struct agent a;
	struct fw *w;
	int i;

	agent_start(&a, "--echo-delay-ms", "400", NULL);
	w = fw_connect(&a);
	/* no greeting: its mark comes at once */
	assert_true(run_until(w->base, &w->marks, 1, 3000));
	assert_string_equal(w->mark_names[0], "greeting");
	assert_int_equal(w->media_msgs, 0);
	/* 580 ms sent: still under 200 ms + 400 ms of delay */
	for(i = 0; i < 29; i++)
		fw_media(w, 1);
	pump(w->base, 200);
	assert_int_equal(w->media_msgs, 0);
	fw_media(w, 1); /* 600 ms: the first chunk goes */
	assert_true(run_until(w->base, &w->media_msgs, 1, 3000));
	assert_int_equal(w->media_bytes, 1600);
	fw_end(w);
	fw_free(w);
	agent_stop(&a);
}

static void test_modes(void **state)
{
	struct agent a;
	struct fw *w;
	int i;

	/* silent: nothing ever comes back */
	agent_start(&a, "--mode", "silent", "--greeting-tone", "300:200", NULL);
	w = fw_connect(&a);
	for(i = 0; i < 20; i++)
		fw_media(w, 3);
	pump(w->base, 300);
	assert_int_equal(w->media_msgs + w->marks + w->other, 0);
	fw_end(w);
	fw_free(w);
	agent_stop(&a);

	/* hangup-after=0: the hangup extension right after start */
	agent_start(&a, "--mode", "hangup-after=0", NULL);
	w = fw_connect(&a);
	assert_true(run_until(w->base, &w->hangups, 1, 3000));
	fw_end(w);
	fw_free(w);
	agent_stop(&a);

	/* close-after=1: the agent closes the socket with 1000 */
	agent_start(&a, "--mode", "close-after=1", NULL);
	w = fw_connect(&a);
	assert_true(run_until(w->base, &w->closed, 1, 3000));
	assert_int_equal(w->close_code, 1000);
	fw_free(w);
	agent_stop(&a);
}

/* ---- L16 wideband mode --------------------------------------------------- */

/* The fake worker's view of an L16 call */
struct lw
{
	struct event_base *base;
	struct mw_ws *ws;
	struct mw_twilio_stream ids;
	int opened, closed, close_code, frames, marks, clears, hangups, other;
	size_t bytes;
	uint8_t audio[65536];
	char mark_names[64][32];
	char digits[16];
	int ndigits;
};

static void lw_text(struct lw *w, char *json, int n)
{
	assert_true(n > 0);
	assert_int_equal(mw_ws_send_text(w->ws, json, (size_t)n), 0);
	free(json);
}

static void lw_on_open(struct mw_ws *ws, void *arg)
{
	((struct lw *)arg)->opened = 1;
}

static void lw_on_message(struct mw_ws *ws, int is_text, const uint8_t *data,
		size_t len, void *arg)
{
	struct lw *w = arg;
	struct mw_twilio_in in;
	char *json;

	if(!is_text) {
		assert_true(w->bytes + len <= sizeof(w->audio));
		memcpy(w->audio + w->bytes, data, len);
		w->bytes += len;
		w->frames++;
		return;
	}
	mw_l16_parse((const char *)data, len, &in);
	switch(in.type) {
		case MW_TW_MARK:
			assert_true(w->marks < 64);
			snprintf(w->mark_names[w->marks++], 32, "%s", in.name);
			/* played at once, as a playout would */
			lw_text(w, json, mw_l16_mark(in.name, 0, &json));
			break;
		case MW_TW_CLEAR:
			w->clears++;
			break;
		case MW_TW_HANGUP:
			w->hangups++;
			break;
		case MW_TW_SEND_DTMF:
			strncat(w->digits, in.name,
					sizeof(w->digits) - strlen(w->digits) - 1);
			w->ndigits++;
			break;
		default:
			w->other++;
			break;
	}
	mw_twilio_in_free(&in);
}

static void lw_on_close(
		struct mw_ws *ws, int code, const char *reason, void *arg)
{
	struct lw *w = arg;

	w->closed = 1;
	w->close_code = code;
}

static const struct mw_ws_cbs lw_cbs = {lw_on_open, lw_on_message, lw_on_close};

/* Relative power of 'hz' in the L16 bytes (Goertzel), vs amplitude 8000. */
static double l16_power(const uint8_t *b, size_t bytes, double hz)
{
	double k = 2 * cos(2 * M_PI * hz / 16000), s1 = 0, s2 = 0, x;
	size_t i, n = bytes / 2;
	int16_t v;

	for(i = 0; i < n; i++) {
		mw_l16_decode(b + 2 * i, 1, &v);
		x = v + k * s1 - s2;
		s2 = s1;
		s1 = x;
	}
	return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double)n * n) /
		   (8000.0 * 8000 / 4);
}

static void test_l16(void **state)
{
	static const char *const keys[] = {"from", "did"};
	static const char *const vals[] = {"+15550001111", "+14155550100"};
	struct mw_ws_client_opts o = {0};
	struct agent a;
	struct lw *w = calloc(1, sizeof(*w));
	uint8_t frame[MW_L16_FRAME_BYTES];
	char url[64], path[256], *json;
	uint8_t hdr[44];
	json_t *ev, *e, *viol, *v;
	const char *k;
	FILE *f;
	int i;

	/* a 6 kHz greeting only a 16 kHz stream can carry */
	agent_start(&a, "--greeting-tone", "6000:200", "--dtmf-echo", NULL);
	w->base = event_base_new();
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/stream", a.port);
	o.url = url;
	o.subprotocols = MW_L16_SUBPROTOCOL;
	assert_int_equal(mw_ws_connect(w->base, NULL, &o, &lw_cbs, w, &w->ws), 0);
	assert_true(run_until(w->base, &w->opened, 1, 3000));
	assert_string_equal(mw_ws_subprotocol(w->ws), MW_L16_SUBPROTOCOL);
	mw_twilio_stream_init(&w->ids);
	lw_text(w, json, mw_l16_metadata(&w->ids, keys, vals, 2, &json));
	/* greeting: 200 ms as two 100 ms binary frames, then its mark */
	assert_true(run_until(w->base, &w->marks, 1, 3000));
	assert_int_equal(w->frames, 2);
	assert_int_equal(w->bytes, 2 * 3200);
	assert_string_equal(w->mark_names[0], "greeting");
	assert_true(l16_power(w->audio, w->bytes, 6000) > 0.8);
	/* 1 s of caller audio in 20 ms frames -> five 200 ms echoes + marks */
	for(i = 0; i < 50; i++) {
		memset(frame, 0x10 + i / 10, sizeof(frame));
		assert_int_equal(mw_ws_send_binary(w->ws, frame, sizeof(frame)), 0);
	}
	assert_true(run_until(w->base, &w->marks, 6, 3000));
	assert_int_equal(w->frames, 2 + 5);
	assert_int_equal(w->bytes, 6400 + 5 * 6400);
	for(i = 0; i < 5; i++) {
		assert_int_equal(w->audio[6400 + 6400 * i], 0x10 + i);
		assert_int_equal(w->audio[6400 + 6400 * i + 6399], 0x10 + i);
	}
	assert_string_equal(w->mark_names[5], "echo-5");
	/* DTMF in jambonz's shape, echoed as ours; '*' makes it killAudio */
	lw_text(w, json, mw_l16_dtmf('5', 100, &json));
	lw_text(w, json, mw_l16_dtmf('*', 100, &json));
	assert_true(run_until(w->base, &w->ndigits, 2, 3000));
	assert_string_equal(w->digits, "5*");
	assert_int_equal(w->clears, 1);
	assert_int_equal(w->other, 0);
	/* the worker ends the call: close 1000, no "stop" in this protocol */
	assert_int_equal(mw_ws_close(w->ws, 1000, "call ended"), 0);
	assert_true(run_until(w->base, &w->closed, 1, 3000));

	snprintf(
			path, sizeof(path), "%s/events/%s.jsonl", a.dir, w->ids.stream_sid);
	{
		struct fw dummy = {0};
		dummy.tw = w->ids;
		ev = events_of(&a, &dummy);
	}
	e = event_find(ev, "start", 0);
	assert_string_equal(
			json_string_value(json_object_get(e, "protocol")), "l16");
	assert_string_equal(
			json_string_value(json_object_get(e, "callSid")), w->ids.call_sid);
	assert_int_equal(json_integer_value(json_object_get(
							 json_object_get(e, "mediaFormat"), "sampleRate")),
			16000);
	assert_string_equal(json_string_value(json_object_get(
								json_object_get(e, "customParameters"), "did")),
			"+14155550100");
	assert_string_equal(json_string_value(json_object_get(
								event_find(ev, "dtmf", 1), "digit")),
			"*");
	e = event_find(ev, "closed", 0);
	assert_int_equal(json_integer_value(json_object_get(e, "code")), 1000);
	assert_true(json_is_true(json_object_get(e, "stop_received")));
	assert_int_equal(json_integer_value(json_object_get(e, "media")), 50);
	assert_int_equal(
			json_integer_value(json_object_get(e, "media_bytes")), 50 * 640);
	assert_int_equal(json_integer_value(json_object_get(e, "marks_echoed")), 6);
	viol = json_object_get(e, "violations");
	json_object_foreach(viol, k, v)
	{
		if(json_integer_value(v) != 0)
			fail_msg(
					"violation %s = %lld", k, (long long)json_integer_value(v));
	}
	json_decref(ev);
	/* the recording is 16 kHz: 50 frames of 320 samples */
	snprintf(path, sizeof(path), "%s/rec/%s.wav", a.dir, w->ids.stream_sid);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, 44, f), 44);
	fclose(f);
	assert_int_equal(hdr[24] | hdr[25] << 8 | hdr[26] << 16, 16000);
	assert_int_equal(hdr[40] | hdr[41] << 8 | hdr[42] << 16, 50 * 640);
	mw_ws_free(w->ws);
	pump(w->base, 5);
	event_base_free(w->base);
	free(w);
	agent_stop(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_greeting_echo_dtmf),
			cmocka_unit_test(test_violations_counted),
			cmocka_unit_test(test_echo_delay),
			cmocka_unit_test(test_modes),
			cmocka_unit_test(test_l16),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
