/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ref_agent.c -- byoc-ref-agent, the reference AI backend: a WebSocket
 * server speaking the Twilio Media Streams protocol as a backend does
 * (docs/ai-protocol.md), and the L16 wideband mode (binary 16 kHz PCM,
 * jambonz-style JSON control) when the worker offers the
 * audio.jambonz.org subprotocol or opens with L16 metadata: the same
 * behaviour at 16 kHz. On "start" it plays a greeting (sent faster than
 * real time, as real backends do) followed by mark "greeting", then
 * echoes the caller's audio back in 200 ms chunks, each followed by a
 * mark whose echo is checked (FIFO order, latency). DTMF digits are
 * logged; '*' makes it send "clear". It also checks what the worker
 * sends against the protocol rules (order, numbering, track, 20 ms
 * cadence) and writes per-call JSON events and recordings on request,
 * so integration tests can assert on them.
 *
 * One event loop, no blocking I/O on the media path: an inbound media
 * message costs one jansson parse, one base64 decode into a fixed
 * buffer and a copy into the call's fixed echo ring. Event files are
 * written for control events only; recordings go through a 64 KiB stdio
 * buffer and only with --record-dir.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "mw_codec.h"
#include "mw_g711.h"
#include "mw_l16.h"
#include "mw_log.h"
#include "mw_ws.h"
#include "mw_wav.h"

#define RA_MAX_MESSAGE (4u << 20) /* largest worker message accepted */
#define RA_GREET_MS 100			  /* greeting: 100 ms per media message */
#define RA_ECHO_MS 200			  /* echo: 200 ms per media message */
#define RA_BPMS_MAX 32			  /* bytes per ms: 8 (μ-law), 32 (L16) */
#define RA_ECHO_MAX (RA_ECHO_MS * RA_BPMS_MAX)
#define RA_MAX_PAYLOAD 4096		  /* μ-law bytes in one worker message */
#define RA_MARKS 256			  /* outstanding marks tracked per call */
#define RA_MAX_DELAY_MS 30000	  /* --echo-delay-ms bound */
#define RA_BACKLOG_MAX (1u << 20) /* worker not reading: drop our audio */
#define RA_OUT_MAX 8192			  /* one outgoing JSON message */

enum ra_mode
{
	RA_ECHO,
	RA_SILENT,		   /* never sends anything (AI silence) */
	RA_HANGUP_AFTER,   /* echo, then {"event":"hangup"} after N s */
	RA_CLOSE_AFTER,	   /* echo, then closes the socket (1000) after N s */
	RA_TRANSFER_AFTER, /* echo, then {"event":"transfer"} after N s */
	RA_FAIL_AFTER	   /* echo, then closes with 1011 (a failure) after N s */
};

/* Options and shared read-only data; owned by main. */
struct ra
{
	struct event_base *base;
	SSL_CTX *ssl;
	enum ra_mode mode;
	int after_s;
	int echo_delay_ms;
	int dtmf_echo;
	const char *xfer_target; /* transfer-after: the target */
	char xfer_hdr[2][128];	 /* transfer-after: one context header */
	const char *record_dir, *events_dir;
	uint8_t *greeting; /* μ-law 8 kHz, or NULL */
	size_t greeting_len;
	uint8_t *greeting16; /* the same as L16 16 kHz (little-endian bytes) */
	size_t greeting16_len;
	struct ra_call *calls; /* every live connection (list) */
	uint64_t serial;
	uint64_t total_calls, total_media;
	char out[RA_OUT_MAX]; /* scratch for one outgoing message */
};

/* Protocol checks on what the worker sends (ai-backend-protocols 1.4) */
struct ra_violations
{
	uint64_t order, seq, sid, chunk, track, ts, payload, binary, json;
};

/* One WebSocket connection = one call; owned by the ra list, freed by
 * its reap event (never inside a mw_ws callback). */
struct ra_call
{
	struct ra *ra;
	struct ra_call *next, **pprev;
	struct mw_ws *ws;
	struct event *reap, *timer;
	uint64_t serial;
	int started, stopped, greeted, closed;
	int l16;			 /* L16 wideband mode (else Twilio) */
	unsigned bpms;		 /* audio bytes per ms of media: 8 or 32 */
	int close_sent;		 /* we closed first (close-after) */
	unsigned msgs;		 /* text messages received */
	uint64_t last_seq;	 /* sequenceNumber of the last message */
	uint64_t last_chunk; /* media.chunk of the last media */
	int64_t first_ts, last_ts;
	uint64_t media, media_bytes;
	char stream_sid[40], call_sid[40];
	struct ra_violations v;
	/* echo ring: inbound audio (μ-law or L16 bytes) to send back */
	uint8_t *ring;
	size_t ring_cap, ring_head, ring_len;
	/* outstanding marks (FIFO of sequence numbers + send times) */
	struct
	{
		uint32_t id;
		int64_t t_ms;
	} marks[RA_MARKS];
	unsigned mark_head, mark_len;
	uint32_t mark_next;
	uint64_t marks_sent, marks_echoed, marks_unexpected;
	int64_t mark_lat_max, mark_lat_sum;
	uint64_t echo_sent, echo_dropped, clears;
	FILE *events;
	struct mw_wav_out wav;
	int64_t t0_ms;
};

/* ---- small helpers ------------------------------------------------------- */

static int64_t now_ms(struct ra *ra)
{
	struct timeval tv;

	event_base_gettimeofday_cached(ra->base, &tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Call id for logs: the stream SID once known */
static const char *cid(const struct ra_call *c)
{
	return c->stream_sid[0] ? c->stream_sid : "(no start yet)";
}

/* Appends one JSON line (reference stolen) to the events file */
static void ev_write(struct ra_call *c, json_t *o)
{
	char *txt;

	if(o == NULL)
		return;
	if(c->events != NULL) {
		json_object_set_new(o, "t_ms", json_integer(now_ms(c->ra) - c->t0_ms));
		txt = json_dumps(o, JSON_COMPACT);
		if(txt != NULL) {
			fprintf(c->events, "%s\n", txt);
			fflush(c->events);
			free(txt);
		}
	}
	json_decref(o);
}

static void send_json(struct ra_call *c, int n)
{
	if(n < 0 || n >= RA_OUT_MAX || c->closed)
		return;
	mw_ws_send_text(c->ws, c->ra->out, (size_t)n);
}

/* media toward the worker: L16, one binary frame; Twilio,
 * {"event":"media","streamSid":S,"media":{"payload":B64}} formatted
 * directly (SIDs are hex, base64 needs no escaping) into the shared
 * scratch buffer */
static void send_media(struct ra_call *c, const uint8_t *ulaw, size_t len)
{
	char *o = c->ra->out;
	int n;

	if(len == 0 || len > RA_ECHO_MS * c->bpms)
		return;
	if(mw_ws_pending(c->ws) > RA_BACKLOG_MAX) {
		c->echo_dropped++;
		return;
	}
	if(c->l16) {
		if(!c->closed)
			mw_ws_send_binary(c->ws, ulaw, len);
		return;
	}
	n = snprintf(o, RA_OUT_MAX,
			"{\"event\":\"media\",\"streamSid\":\"%s\",\"media\":{\"payload\":"
			"\"",
			c->stream_sid);
	n += EVP_EncodeBlock((unsigned char *)o + n, ulaw, (int)len);
	n += snprintf(o + n, RA_OUT_MAX - (size_t)n, "\"}}");
	send_json(c, n);
}

static void send_mark(struct ra_call *c, const char *name)
{
	if(c->l16)
		send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
							 "{\"type\":\"mark\",\"data\":{\"name\":\"%s\"}}",
							 name));
	else
		send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
							 "{\"event\":\"mark\",\"streamSid\":\"%s\","
							 "\"mark\":{\"name\":\"%s\"}}",
							 c->stream_sid, name));
	c->marks_sent++;
}

/* A mark we will check the echo of: "greeting" is id 0, "echo-<n>" n */
static void send_tracked_mark(struct ra_call *c, uint32_t id)
{
	char name[32];

	if(id == 0)
		snprintf(name, sizeof(name), "greeting");
	else
		snprintf(name, sizeof(name), "echo-%" PRIu32, id);
	if(c->mark_len < RA_MARKS) {
		unsigned i = (c->mark_head + c->mark_len) % RA_MARKS;
		c->marks[i].id = id;
		c->marks[i].t_ms = now_ms(c->ra);
		c->mark_len++;
	}
	send_mark(c, name);
}

static void send_clear(struct ra_call *c)
{
	if(c->l16)
		send_json(c,
				snprintf(c->ra->out, RA_OUT_MAX, "{\"type\":\"killAudio\"}"));
	else
		send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
							 "{\"event\":\"clear\",\"streamSid\":\"%s\"}",
							 c->stream_sid));
	c->ring_len = 0; /* and forget what was waiting to be echoed */
	c->clears++;
	ev_write(c, json_pack("{s:s}", "event", "clear_sent"));
}

/* ---- inbound messages ---------------------------------------------------- */

/* Strict-enough base64 into a fixed buffer; -1 when invalid/too big */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	int r, pad = 0;

	if(n == 0)
		return 0;
	if(n % 4 != 0 || n / 4 * 3 > cap)
		return -1;
	if(s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	/* EVP_DecodeBlock trims white space we do not expect: reject it */
	if(strcspn(s, " \t\r\n") < n)
		return -1;
	r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	return r < 0 ? -1 : r - pad;
}

static void echo_push(struct ra_call *c, const uint8_t *p, size_t n)
{
	size_t i, delay = (size_t)c->ra->echo_delay_ms * c->bpms;
	size_t chunk_len = (size_t)RA_ECHO_MS * c->bpms;

	for(i = 0; i < n; i++) {
		if(c->ring_len == c->ring_cap) { /* full: oldest dropped */
			c->ring_head = (c->ring_head + 1) % c->ring_cap;
			c->ring_len--;
		}
		c->ring[(c->ring_head + c->ring_len) % c->ring_cap] = p[i];
		c->ring_len++;
	}
	/* echo 200 ms once it is 'delay' old (in media time: bpms bytes/ms) */
	while(c->ring_len >= chunk_len + delay) {
		uint8_t chunk[RA_ECHO_MAX];
		for(i = 0; i < chunk_len; i++)
			chunk[i] = c->ring[(c->ring_head + i) % c->ring_cap];
		c->ring_head = (c->ring_head + chunk_len) % c->ring_cap;
		c->ring_len -= chunk_len;
		send_media(c, chunk, chunk_len);
		c->echo_sent++;
		send_tracked_mark(c, ++c->mark_next);
	}
}

static int u64_of(json_t *s, uint64_t *v)
{
	const char *p = json_string_value(s);
	char *end;

	/* rule 4: integer strings only */
	if(p == NULL || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	*v = strtoull(p, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static void on_media(struct ra_call *c, json_t *root)
{
	json_t *m = json_object_get(root, "media");
	json_t *pl = json_object_get(m, "payload");
	uint8_t ulaw[RA_MAX_PAYLOAD];
	uint64_t chunk, ts;
	int n;

	c->media++;
	c->ra->total_media++;
	if(!c->started)
		c->v.order++;
	if(json_string_value(json_object_get(m, "track")) == NULL ||
			strcmp(json_string_value(json_object_get(m, "track")), "inbound") !=
					0)
		c->v.track++;
	if(u64_of(json_object_get(m, "chunk"), &chunk) < 0 ||
			chunk != c->last_chunk + 1)
		c->v.chunk++;
	else
		c->last_chunk = chunk;
	if(u64_of(json_object_get(m, "timestamp"), &ts) < 0) {
		c->v.ts++;
	} else {
		/* rule 5: one message every 20 ms of media time, no gaps */
		if(c->first_ts < 0)
			c->first_ts = (int64_t)ts;
		else if((int64_t)ts != c->last_ts + 20)
			c->v.ts++;
		c->last_ts = (int64_t)ts;
	}
	n = json_is_string(pl) ? b64_decode(json_string_value(pl),
									 json_string_length(pl), ulaw, sizeof(ulaw))
						   : -1;
	if(n != 160)
		c->v.payload++;
	if(n <= 0)
		return;
	c->media_bytes += (uint64_t)n;
	if(c->wav.f != NULL) {
		int16_t pcm[RA_MAX_PAYLOAD];
		mw_g711_decode(0, ulaw, (size_t)n, pcm);
		mw_wav_append(&c->wav, pcm, (size_t)n);
	}
	/* half duplex while greeting: echo starts once it was played */
	if(c->ring != NULL && c->greeted)
		echo_push(c, ulaw, (size_t)n);
}

/* A mark echo: Twilio {"event":"mark","mark":{"name":N}}, or L16
 * {"type":"mark","data":{"name":N,"event":"playout"|"cleared"}}. */
static void on_mark_echo(struct ra_call *c, json_t *root)
{
	const char *name = json_string_value(json_object_get(
			json_object_get(root, c->l16 ? "data" : "mark"), "name"));
	uint32_t id = 0;
	int64_t lat = -1;

	c->marks_echoed++;
	if(name == NULL)
		name = "";
	if(strcmp(name, "greeting") == 0)
		id = 0;
	else if(sscanf(name, "echo-%" SCNu32, &id) != 1)
		id = UINT32_MAX;
	/* rule 8: echoes come back in FIFO order */
	if(c->mark_len > 0 && c->marks[c->mark_head].id == id) {
		lat = now_ms(c->ra) - c->marks[c->mark_head].t_ms;
		c->mark_head = (c->mark_head + 1) % RA_MARKS;
		c->mark_len--;
		if(lat > c->mark_lat_max)
			c->mark_lat_max = lat;
		c->mark_lat_sum += lat;
	} else {
		c->marks_unexpected++;
		MW_WARN("call %s: unexpected mark echo \"%s\"", cid(c), name);
	}
	if(id == 0 && !c->greeted) {
		c->greeted = 1;
		MW_INFO("call %s: greeting played (%" PRId64 " ms after sending)",
				cid(c), lat);
	}
	ev_write(c, json_pack("{s:s, s:s, s:I}", "event", "mark", "name", name,
						"latency_ms", (json_int_t)lat));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ra_call *c = arg;

	if(c->closed)
		return;
	if(c->ra->mode == RA_TRANSFER_AFTER) {
		json_t *t = json_pack("{s:s}", "target", c->ra->xfer_target);
		json_t *o;
		char *txt;
		if(t != NULL && c->ra->xfer_hdr[0][0])
			json_object_set_new(t, "headers",
					json_pack("{s:s}", c->ra->xfer_hdr[0], c->ra->xfer_hdr[1]));
		o = json_pack("{s:s, s:s, s:o}", "event", "transfer", "streamSid",
				c->stream_sid, "transfer", t);
		txt = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		MW_INFO("call %s: asking for a transfer to %s", cid(c),
				c->ra->xfer_target);
		if(txt != NULL)
			send_json(c, snprintf(c->ra->out, RA_OUT_MAX, "%s", txt));
		free(txt);
		json_decref(o);
		ev_write(c, json_pack("{s:s, s:s}", "event", "transfer_sent", "target",
							c->ra->xfer_target));
	} else if(c->ra->mode == RA_FAIL_AFTER) {
		MW_INFO("call %s: failing (fail-after=%d)", cid(c), c->ra->after_s);
		ev_write(c, json_pack("{s:s}", "event", "fail_sent"));
		mw_ws_close(c->ws, 1011, "ref-agent fail-after");
	} else if(c->ra->mode == RA_HANGUP_AFTER) {
		MW_INFO("call %s: sending hangup (hangup-after=%d)", cid(c),
				c->ra->after_s);
		if(c->l16)
			send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
								 "{\"type\":\"disconnect\",\"data\":{"
								 "\"reason\":\"ref-agent hangup-after\"}}"));
		else
			send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
								 "{\"event\":\"hangup\",\"streamSid\":\"%s\","
								 "\"hangup\":{\"reason\":\"ref-agent "
								 "hangup-after\"}}",
								 c->stream_sid));
		ev_write(c, json_pack("{s:s}", "event", "hangup_sent"));
	} else {
		MW_INFO("call %s: closing the socket (close-after=%d)", cid(c),
				c->ra->after_s);
		ev_write(c, json_pack("{s:s}", "event", "close_sent"));
		c->close_sent = 1;
		mw_ws_close(c->ws, 1000, "ref-agent close-after");
	}
}

static void open_files(struct ra_call *c)
{
	char path[4096];
	int rc;

	if(c->ra->events_dir != NULL) {
		snprintf(path, sizeof(path), "%s/%s.jsonl", c->ra->events_dir,
				c->stream_sid);
		c->events = fopen(path, "w");
		if(c->events == NULL)
			MW_WARN("call %s: %s: %s", cid(c), path, strerror(errno));
	}
	if(c->ra->record_dir != NULL) {
		snprintf(path, sizeof(path), "%s/%s.wav", c->ra->record_dir,
				c->stream_sid);
		rc = mw_wav_create_rate(&c->wav, path, c->l16 ? MW_L16_RATE : 8000);
		if(rc < 0)
			MW_WARN("call %s: %s: %s", cid(c), path, strerror(-rc));
	}
}

/* A SID as the worker sends it, or "" (it names our files) */
static void sid_copy(char *dst, size_t len, const char *s)
{
	size_t i;

	dst[0] = '\0';
	if(s == NULL || strlen(s) >= len)
		return;
	for(i = 0; s[i] != '\0'; i++)
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
				   (s[i] >= 'A' && s[i] <= 'Z')))
			return;
	memcpy(dst, s, i + 1);
}

/* Twilio's "start" ('st' is its "start" object) or L16's metadata ('st'
 * is the whole first frame; its media format is sampleRate/encoding). */
static void on_start(struct ra_call *c, json_t *root)
{
	json_t *st = c->l16 ? root : json_object_get(root, "start");
	json_t *params = json_object_get(st, "customParameters");
	json_t *fmt = NULL;
	struct timeval tv = {c->ra->after_s, 0};
	const uint8_t *greeting = c->l16 ? c->ra->greeting16 : c->ra->greeting;
	size_t off, glen = c->l16 ? c->ra->greeting16_len : c->ra->greeting_len;
	size_t gchunk = (size_t)RA_GREET_MS * c->bpms;
	char *ptxt;

	if(c->started) {
		c->v.order++;
		return;
	}
	c->started = 1;
	sid_copy(c->stream_sid, sizeof(c->stream_sid),
			json_string_value(json_object_get(st, "streamSid")));
	sid_copy(c->call_sid, sizeof(c->call_sid),
			json_string_value(json_object_get(st, "callSid")));
	if(c->l16) {
		json_t *rate = json_object_get(st, "sampleRate");
		/* the worker's L16 stream is 16 kHz mono */
		if(json_integer_value(rate) != MW_L16_RATE ||
				!json_is_string(json_object_get(st, "encoding")))
			c->v.payload++;
		fmt = json_pack("{s:O, s:O, s:i}", "encoding",
				json_object_get(st, "encoding")
						? json_object_get(st, "encoding")
						: json_null(),
				"sampleRate", rate ? rate : json_null(), "channels", 1);
	} else {
		fmt = json_incref(json_object_get(st, "mediaFormat"));
	}
	if(c->stream_sid[0] == '\0') {
		c->v.sid++;
		snprintf(c->stream_sid, sizeof(c->stream_sid), "conn%" PRIu64,
				c->serial);
	}
	open_files(c);
	ptxt = json_dumps(params, JSON_COMPACT);
	MW_INFO("call %s: start callSid=%s params=%s", cid(c), c->call_sid,
			ptxt ? ptxt : "(none)");
	free(ptxt);
	ev_write(c, json_pack("{s:s, s:s, s:s, s:s, s:O, s:o}", "event", "start",
						"protocol", c->l16 ? "l16" : "twilio", "streamSid",
						c->stream_sid, "callSid", c->call_sid,
						"customParameters", params ? params : json_null(),
						"mediaFormat", fmt ? fmt : json_null()));
	if(c->ra->mode == RA_SILENT)
		return;
	/* the greeting, all at once (backends send faster than real time),
	 * then its mark; a mark on an empty queue is echoed at once */
	for(off = 0; off < glen; off += gchunk) {
		size_t n = glen - off;
		send_media(c, greeting + off, n < gchunk ? n : gchunk);
	}
	send_tracked_mark(c, 0);
	if(c->ra->mode == RA_HANGUP_AFTER || c->ra->mode == RA_CLOSE_AFTER ||
			c->ra->mode == RA_TRANSFER_AFTER || c->ra->mode == RA_FAIL_AFTER) {
		c->timer = evtimer_new(c->ra->base, timer_cb, c);
		if(c->timer != NULL)
			evtimer_add(c->timer, &tv);
	}
}

/* Twilio {"event":"dtmf","dtmf":{"track":..,"digit":D}}, or L16
 * (jambonz) {"event":"dtmf","dtmf":D,"duration":".."}. */
static void on_dtmf(struct ra_call *c, json_t *root)
{
	json_t *d = json_object_get(root, "dtmf");
	const char *digit, *track;

	if(c->l16) {
		digit = json_string_value(d);
	} else {
		digit = json_string_value(json_object_get(d, "digit"));
		track = json_string_value(json_object_get(d, "track"));
		if(track == NULL || strcmp(track, "inbound_track") != 0)
			c->v.track++;
	}
	if(digit == NULL || strlen(digit) != 1) {
		c->v.json++;
		return;
	}
	MW_INFO("call %s: DTMF %s", cid(c), digit);
	ev_write(c, json_pack("{s:s, s:s}", "event", "dtmf", "digit", digit));
	if(c->ra->mode == RA_SILENT)
		return;
	if(digit[0] == '*')
		send_clear(c);
	if(c->ra->dtmf_echo && c->l16)
		send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
							 "{\"type\":\"dtmf\",\"data\":{\"digits\":\"%c\"}}",
							 digit[0]));
	else if(c->ra->dtmf_echo)
		send_json(c, snprintf(c->ra->out, RA_OUT_MAX,
							 "{\"event\":\"dtmf\",\"streamSid\":\"%s\","
							 "\"dtmf\":{\"digits\":\"%c\"}}",
							 c->stream_sid, digit[0]));
}

/* L16: the caller's audio, one binary frame of 20 ms (640 bytes). */
static void on_binary(struct ra_call *c, const uint8_t *d, size_t len)
{
	int16_t pcm[RA_MAX_PAYLOAD];
	size_t n = len / 2;

	c->media++;
	c->ra->total_media++;
	if(!c->started)
		c->v.order++;
	if(len != MW_L16_FRAME_BYTES)
		c->v.payload++;
	/* media time: one frame per 20 ms, no timestamps in this protocol */
	if(c->first_ts < 0)
		c->first_ts = 0;
	c->last_ts = (int64_t)(c->media - 1) * 20;
	if(len == 0)
		return;
	c->media_bytes += len;
	if(c->wav.f != NULL) {
		if(n > RA_MAX_PAYLOAD)
			n = RA_MAX_PAYLOAD;
		mw_l16_decode(d, n, pcm);
		mw_wav_append(&c->wav, pcm, n);
	}
	if(c->ring != NULL && c->greeted)
		echo_push(c, d, len - len % 2);
}

/* L16 text: the metadata first, then dtmf and mark echoes. */
static void on_l16_text(struct ra_call *c, json_t *root)
{
	const char *ev = json_string_value(json_object_get(root, "event"));
	const char *type = json_string_value(json_object_get(root, "type"));

	c->msgs++;
	if(!c->started) {
		if(json_is_integer(json_object_get(root, "sampleRate")))
			on_start(c, root);
		else
			c->v.order++;
		return;
	}
	if(ev != NULL && strcmp(ev, "dtmf") == 0)
		on_dtmf(c, root);
	else if(type != NULL && strcmp(type, "mark") == 0)
		on_mark_echo(c, root);
	else
		c->v.json++; /* metadata twice, or not a message we know */
}

static void on_message(struct mw_ws *ws, int is_text, const uint8_t *data,
		size_t len, void *arg)
{
	struct ra_call *c = arg;
	json_t *root, *seqj;
	const char *ev, *sid;
	uint64_t seq;

	if(!is_text) {
		if(c->l16)
			on_binary(c, data, len);
		else
			c->v.binary++;
		return;
	}
	root = json_loadb((const char *)data, len, 0, NULL);
	/* L16 when the subprotocol said so, or when the first frame is its
	 * metadata (a worker that offered no subprotocol) */
	if(!c->l16 && c->msgs == 0 &&
			json_is_integer(json_object_get(root, "sampleRate")) &&
			!json_object_get(root, "event")) {
		c->l16 = 1;
		c->bpms = 32;
	}
	if(c->l16) {
		if(root == NULL)
			c->v.json++;
		else
			on_l16_text(c, root);
		json_decref(root);
		return;
	}
	ev = json_string_value(json_object_get(root, "event"));
	if(ev == NULL) {
		c->v.json++;
		json_decref(root);
		return;
	}
	c->msgs++;
	/* rule 1: connected, then start, before anything else */
	if((c->msgs == 1 && strcmp(ev, "connected") != 0) ||
			(c->msgs == 2 && strcmp(ev, "start") != 0))
		c->v.order++;
	if(strcmp(ev, "connected") == 0) {
		if(c->msgs != 1)
			c->v.order++;
		json_decref(root);
		return;
	}
	/* rule 2: sequenceNumber "1" on start, +1 per message; streamSid */
	seqj = json_object_get(root, "sequenceNumber");
	if(u64_of(seqj, &seq) < 0 || seq != c->last_seq + 1)
		c->v.seq++;
	if(seqj != NULL && u64_of(seqj, &seq) == 0)
		c->last_seq = seq;
	sid = json_string_value(json_object_get(root, "streamSid"));
	if(strcmp(ev, "start") == 0)
		on_start(c, root);
	if(sid == NULL || (c->stream_sid[0] && strcmp(sid, c->stream_sid) != 0))
		c->v.sid++;
	if(strcmp(ev, "media") == 0) {
		on_media(c, root);
	} else if(strcmp(ev, "mark") == 0) {
		on_mark_echo(c, root);
	} else if(strcmp(ev, "dtmf") == 0) {
		on_dtmf(c, root);
	} else if(strcmp(ev, "transfer_status") == 0) {
		/* the worker's extension: how our transfer went */
		json_t *t = json_object_get(root, "transfer");
		const char *st = json_string_value(json_object_get(t, "status"));
		MW_INFO("call %s: transfer %s", cid(c), st ? st : "?");
		ev_write(c,
				json_pack("{s:s, s:s, s:O, s:O}", "event", "transfer_status",
						"status", st ? st : "", "code",
						json_object_get(t, "code") ? json_object_get(t, "code")
												   : json_null(),
						"target",
						json_object_get(t, "target")
								? json_object_get(t, "target")
								: json_null()));
	} else if(strcmp(ev, "stop") == 0) {
		c->stopped = 1;
		MW_INFO("call %s: stop", cid(c));
		ev_write(c, json_pack("{s:s}", "event", "stop"));
	} else if(strcmp(ev, "start") != 0) {
		c->v.json++; /* not a message a platform sends */
	}
	json_decref(root);
}

/* ---- connection lifecycle ------------------------------------------------ */

static void call_free(struct ra_call *c)
{
	if(c->next != NULL)
		c->next->pprev = c->pprev;
	*c->pprev = c->next;
	mw_ws_free(c->ws);
	if(c->timer != NULL)
		event_free(c->timer);
	if(c->reap != NULL)
		event_free(c->reap);
	if(c->events != NULL)
		fclose(c->events);
	mw_wav_close(&c->wav);
	free(c->ring);
	free(c);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	call_free(arg);
}

static void on_open(struct mw_ws *ws, void *arg)
{
	struct ra_call *c = arg;

	MW_DBG("connection %" PRIu64 ": open (subprotocol \"%s\")", c->serial,
			mw_ws_subprotocol(ws));
	if(strcmp(mw_ws_subprotocol(ws), MW_L16_SUBPROTOCOL) == 0) {
		c->l16 = 1;
		c->bpms = 32;
	}
}

static void on_close(struct mw_ws *ws, int code, const char *reason, void *arg)
{
	struct ra_call *c = arg;
	json_t *v, *o;

	c->closed = 1;
	if(c->timer != NULL)
		evtimer_del(c->timer);
	/* L16 has no "stop": the worker's close 1000 is its end of call */
	if(c->l16 && code == 1000 && !c->close_sent)
		c->stopped = 1;
	MW_INFO("call %s: closed %d %s; media %" PRIu64 " (%" PRIu64
			" bytes), echoed %" PRIu64 " chunks, marks %" PRIu64 "/%" PRIu64
			" (max latency %" PRId64 " ms), violations "
			"order=%" PRIu64 " seq=%" PRIu64 " chunk=%" PRIu64 " ts=%" PRIu64
			" payload=%" PRIu64,
			cid(c), code, reason, c->media, c->media_bytes, c->echo_sent,
			c->marks_echoed, c->marks_sent, c->mark_lat_max, c->v.order,
			c->v.seq, c->v.chunk, c->v.ts, c->v.payload);
	v = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "order",
			(json_int_t)c->v.order, "seq", (json_int_t)c->v.seq, "sid",
			(json_int_t)c->v.sid, "chunk", (json_int_t)c->v.chunk, "track",
			(json_int_t)c->v.track, "ts", (json_int_t)c->v.ts, "payload",
			(json_int_t)c->v.payload, "binary", (json_int_t)c->v.binary, "json",
			(json_int_t)c->v.json);
	o = json_pack("{s:s, s:i, s:s, s:b}", "event", "closed", "code", code,
			"reason", reason, "stop_received", c->stopped);
	if(o != NULL) {
		json_object_set_new(o, "media", json_integer((json_int_t)c->media));
		json_object_set_new(
				o, "media_bytes", json_integer((json_int_t)c->media_bytes));
		json_object_set_new(o, "first_ts", json_integer(c->first_ts));
		json_object_set_new(o, "last_ts", json_integer(c->last_ts));
		json_object_set_new(
				o, "echo_chunks", json_integer((json_int_t)c->echo_sent));
		json_object_set_new(
				o, "echo_dropped", json_integer((json_int_t)c->echo_dropped));
		json_object_set_new(o, "clears", json_integer((json_int_t)c->clears));
		json_object_set_new(
				o, "marks_sent", json_integer((json_int_t)c->marks_sent));
		json_object_set_new(
				o, "marks_echoed", json_integer((json_int_t)c->marks_echoed));
		json_object_set_new(o, "marks_unexpected",
				json_integer((json_int_t)c->marks_unexpected));
		json_object_set_new(
				o, "mark_latency_max_ms", json_integer(c->mark_lat_max));
		json_object_set_new(o, "violations", v);
	} else {
		json_decref(v);
	}
	ev_write(c, o);
	event_active(c->reap, 0, 0);
}

static const struct mw_ws_cbs ra_cbs = {on_open, on_message, on_close};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		struct sockaddr *sa, int salen, void *arg)
{
	struct ra *ra = arg;
	struct ra_call *c = calloc(1, sizeof(*c));
	int rc;

	if(c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->ra = ra;
	c->serial = ++ra->serial;
	c->first_ts = -1;
	c->last_ts = -1;
	c->t0_ms = now_ms(ra);
	c->reap = event_new(ra->base, -1, 0, reap_cb, c);
	if(ra->mode != RA_SILENT) {
		/* room for either protocol's bytes (L16: 32 per ms) */
		c->ring_cap = (size_t)ra->echo_delay_ms * RA_BPMS_MAX + 2 * RA_ECHO_MAX;
		c->ring = malloc(c->ring_cap);
	}
	c->greeted = 0;
	c->bpms = 8;
	/* link first: call_free unlinks */
	c->next = ra->calls;
	if(c->next != NULL)
		c->next->pprev = &c->next;
	c->pprev = &ra->calls;
	ra->calls = c;
	if(c->reap == NULL || (ra->mode != RA_SILENT && c->ring == NULL)) {
		evutil_closesocket(fd);
		call_free(c);
		return;
	}
	rc = mw_ws_accept(
			ra->base, fd, ra->ssl, RA_MAX_MESSAGE, &ra_cbs, c, &c->ws);
	if(rc < 0) { /* fd already closed by mw_ws_accept */
		MW_WARN("accept: %s", strerror(-rc));
		call_free(c);
		return;
	}
	ra->total_calls++;
}

/* ---- main ---------------------------------------------------------------- */

static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ra *ra = arg;

	MW_NOTICE("signal %d: exiting (%" PRIu64 " connections served)", (int)sig,
			ra->total_calls);
	event_base_loopexit(ra->base, NULL);
}

static void stats_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ra *ra = arg;
	struct ra_call *c;
	unsigned n = 0;

	for(c = ra->calls; c != NULL; c = c->next)
		n++;
	MW_INFO("stats: %u connections, %" PRIu64 " served, %" PRIu64
			" media messages received",
			n, ra->total_calls, ra->total_media);
}

static void usage(FILE *f)
{
	fprintf(f,
			"usage: byoc-ref-agent [options]\n"
			"  --listen IP:PORT      listen address (default 127.0.0.1:8765)\n"
			"  --cert FILE --key FILE  serve wss:// (PEM chain and key)\n"
			"  --greeting FILE.wav   greeting, mono 16-bit PCM at 8 or 16 "
			"kHz, or 8 kHz mu-law\n"
			"  --greeting-tone HZ:MS generated sine greeting instead (HZ < "
			"8000)\n"
			"  --mode MODE           echo (default) | silent | hangup-after=N |"
			" close-after=N | transfer-after=N | fail-after=N  (N seconds "
			"after start)\n"
			"  --transfer-target T   transfer-after: E.164 or SIP URI "
			"(+14155550199)\n"
			"  --transfer-header N:V transfer-after: one X- context header\n"
			"  --echo-delay-ms MS    echo audio this old (default 0, max %d)\n"
			"  --dtmf-echo           send each DTMF digit back (dtmf "
			"extension)\n"
			"  --record-dir DIR      write the caller's audio as "
			"<streamSid>.wav\n"
			"  --events-dir DIR      write <streamSid>.jsonl per call\n"
			"  --stats-s N           log a stats line every N seconds\n"
			"  --log-level LEVEL     err|warn|notice|info|debug (default "
			"info)\n"
			"DTMF '*' from the caller makes the agent send \"clear\".\n",
			RA_MAX_DELAY_MS);
}

static int parse_mode(struct ra *ra, const char *s)
{
	char *end;
	long n;

	if(strcmp(s, "echo") == 0) {
		ra->mode = RA_ECHO;
		return 0;
	}
	if(strcmp(s, "silent") == 0) {
		ra->mode = RA_SILENT;
		return 0;
	}
	if(strncmp(s, "hangup-after=", 13) == 0) {
		ra->mode = RA_HANGUP_AFTER;
		s += 13;
	} else if(strncmp(s, "close-after=", 12) == 0) {
		ra->mode = RA_CLOSE_AFTER;
		s += 12;
	} else if(strncmp(s, "transfer-after=", 15) == 0) {
		ra->mode = RA_TRANSFER_AFTER;
		s += 15;
	} else if(strncmp(s, "fail-after=", 11) == 0) {
		ra->mode = RA_FAIL_AFTER;
		s += 11;
	} else {
		return -EINVAL;
	}
	n = strtol(s, &end, 10);
	if(*s == '\0' || *end != '\0' || n < 0 || n > 86400)
		return -EINVAL;
	ra->after_s = (int)n;
	return 0;
}

/* Both forms of the greeting from n samples at 'rate' (8000 or 16000):
 * μ-law 8 kHz for Twilio streams and L16 16 kHz bytes for L16 streams,
 * the missing rate made by speexdsp (mw_resampler) in 20 ms frames. */
static int set_greeting(
		struct ra *ra, const int16_t *pcm, size_t n, unsigned rate)
{
	size_t f, frames = (n + rate / 50 - 1) / (rate / 50);
	int16_t *nb = calloc(frames * 160 + 1, sizeof(int16_t));
	int16_t *wb = calloc(frames * 320 + 1, sizeof(int16_t));
	struct mw_resampler r;
	int rc = -ENOMEM;

	if(nb == NULL || wb == NULL)
		goto out;
	memcpy(rate == 8000 ? nb : wb, pcm, n * sizeof(int16_t));
	rc = rate == 8000 ? mw_resampler_init(&r, 8000, 16000)
					  : mw_resampler_init(&r, 16000, 8000);
	if(rc < 0)
		goto out;
	for(f = 0; f < frames; f++)
		if(rate == 8000)
			mw_resample(&r, nb + f * 160, 160, wb + f * 320, 320);
		else
			mw_resample(&r, wb + f * 320, 320, nb + f * 160, 160);
	mw_resampler_cleanup(&r);
	ra->greeting_len = rate == 8000 ? n : n / 2;
	ra->greeting16_len = 2 * (rate == 8000 ? 2 * n : n);
	ra->greeting = malloc(ra->greeting_len + 1);
	ra->greeting16 = malloc(ra->greeting16_len + 1);
	rc = -ENOMEM;
	if(ra->greeting == NULL || ra->greeting16 == NULL)
		goto out;
	mw_g711_encode(0, nb, ra->greeting_len, ra->greeting);
	mw_l16_encode(wb, ra->greeting16_len / 2, ra->greeting16);
	rc = 0;
out:
	free(nb);
	free(wb);
	return rc;
}

static int make_tone(struct ra *ra, const char *spec)
{
	unsigned hz, ms;
	int16_t *pcm;
	size_t i, n;
	int rc;

	/* made at 16 kHz: up to 7999 Hz for L16 streams (Twilio streams
	 * carry what fits under 4 kHz) */
	if(sscanf(spec, "%u:%u", &hz, &ms) != 2 || hz == 0 || hz >= 8000 ||
			ms == 0 || ms > 600000)
		return -EINVAL;
	n = (size_t)ms * 16;
	pcm = malloc(n * sizeof(*pcm));
	if(pcm == NULL)
		return -ENOMEM;
	for(i = 0; i < n; i++)
		pcm[i] = (int16_t)(8000.0 * sin(2.0 * M_PI * hz * (double)i / 16000.0));
	rc = set_greeting(ra, pcm, n, 16000);
	free(pcm);
	return rc;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static SSL_CTX *tls_ctx(const char *cert, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if(c == NULL || SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
			SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
			SSL_CTX_check_private_key(c) != 1) {
		char b[256];
		ERR_error_string_n(ERR_get_error(), b, sizeof(b));
		MW_ERR("TLS: %s / %s: %s", cert, key, b);
		SSL_CTX_free(c);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	return c;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", 1, NULL, 'l'},
			{"cert", 1, NULL, 'c'}, {"key", 1, NULL, 'k'},
			{"greeting", 1, NULL, 'g'}, {"greeting-tone", 1, NULL, 't'},
			{"mode", 1, NULL, 'm'}, {"echo-delay-ms", 1, NULL, 'd'},
			{"dtmf-echo", 0, NULL, 'D'}, {"record-dir", 1, NULL, 'r'},
			{"events-dir", 1, NULL, 'e'}, {"stats-s", 1, NULL, 's'},
			{"log-level", 1, NULL, 'L'}, {"help", 0, NULL, 'h'},
			{"transfer-target", 1, NULL, 'T'},
			{"transfer-header", 1, NULL, 'H'}, {NULL, 0, NULL, 0}};
	struct ra *ra = calloc(1, sizeof(*ra));
	const char *listen = "127.0.0.1:8765", *cert = NULL, *key = NULL;
	const char *greeting = NULL, *tone = NULL;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), opt, stats_s = 0, rc, lvl;
	struct evconnlistener *lis;
	struct event *sigint, *sigterm, *stats = NULL;
	char err[512];

	if(ra == NULL)
		return 1;
	while((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch(opt) {
			case 'l':
				listen = optarg;
				break;
			case 'c':
				cert = optarg;
				break;
			case 'k':
				key = optarg;
				break;
			case 'g':
				greeting = optarg;
				break;
			case 't':
				tone = optarg;
				break;
			case 'm':
				if(parse_mode(ra, optarg) < 0) {
					fprintf(stderr, "bad --mode %s\n", optarg);
					return 2;
				}
				break;
			case 'd':
				ra->echo_delay_ms = atoi(optarg);
				if(ra->echo_delay_ms < 0 ||
						ra->echo_delay_ms > RA_MAX_DELAY_MS) {
					fprintf(stderr, "bad --echo-delay-ms %s\n", optarg);
					return 2;
				}
				break;
			case 'D':
				ra->dtmf_echo = 1;
				break;
			case 'T':
				ra->xfer_target = optarg;
				break;
			case 'H': {
				const char *colon = strchr(optarg, ':');
				if(colon == NULL || colon == optarg ||
						(size_t)(colon - optarg) >= sizeof(ra->xfer_hdr[0]) ||
						strlen(colon + 1) >= sizeof(ra->xfer_hdr[1])) {
					fprintf(stderr, "bad --transfer-header %s\n", optarg);
					return 2;
				}
				snprintf(ra->xfer_hdr[0], sizeof(ra->xfer_hdr[0]), "%.*s",
						(int)(colon - optarg), optarg);
				snprintf(ra->xfer_hdr[1], sizeof(ra->xfer_hdr[1]), "%s",
						colon + 1);
				break;
			}
			case 'r':
				ra->record_dir = optarg;
				break;
			case 'e':
				ra->events_dir = optarg;
				break;
			case 's':
				stats_s = atoi(optarg);
				break;
			case 'L':
				lvl = mw_log_level_parse(optarg);
				if(lvl < 0) {
					fprintf(stderr, "bad --log-level %s\n", optarg);
					return 2;
				}
				mw_log_set_level(lvl);
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if(optind != argc || (cert == NULL) != (key == NULL) ||
			(greeting != NULL && tone != NULL)) {
		usage(stderr);
		return 2;
	}
	if((ra->record_dir != NULL && !is_dir(ra->record_dir)) ||
			(ra->events_dir != NULL && !is_dir(ra->events_dir))) {
		fprintf(stderr, "--record-dir/--events-dir must be directories\n");
		return 2;
	}
	if(evutil_parse_sockaddr_port(listen, (struct sockaddr *)&ss, &sslen) < 0) {
		fprintf(stderr, "bad --listen %s (IP:PORT or [IPv6]:PORT)\n", listen);
		return 2;
	}
	if(ra->xfer_target == NULL)
		ra->xfer_target = "+14155550199";
	if(greeting != NULL) {
		int16_t *pcm = NULL;
		size_t n = 0;
		unsigned rate = 0;

		rc = mw_wav_read_pcm(greeting, &pcm, &n, &rate, err, sizeof(err));
		if(rc < 0) {
			fprintf(stderr, "greeting: %s\n", err);
			return 1;
		}
		rc = set_greeting(ra, pcm, n, rate);
		free(pcm);
		if(rc < 0) {
			fprintf(stderr, "greeting: %s\n", strerror(-rc));
			return 1;
		}
	} else if(tone != NULL && make_tone(ra, tone) < 0) {
		fprintf(stderr, "bad --greeting-tone %s (HZ:MS)\n", tone);
		return 2;
	}
	if(cert != NULL && (ra->ssl = tls_ctx(cert, key)) == NULL)
		return 1;

	signal(SIGPIPE, SIG_IGN);
	ra->base = event_base_new();
	if(ra->base == NULL)
		return 1;
	lis = evconnlistener_new_bind(ra->base, accept_cb, ra,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
			1024, (struct sockaddr *)&ss, sslen);
	if(lis == NULL) {
		fprintf(stderr, "listen %s: %s\n", listen,
				evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return 1;
	}
	sigint = evsignal_new(ra->base, SIGINT, sig_cb, ra);
	sigterm = evsignal_new(ra->base, SIGTERM, sig_cb, ra);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	if(stats_s > 0) {
		struct timeval tv = {stats_s, 0};
		stats = event_new(ra->base, -1, EV_PERSIST, stats_cb, ra);
		evtimer_add(stats, &tv);
	}
	MW_NOTICE("byoc-ref-agent listening on %s://%s (mode %s, greeting %zu ms, "
			  "echo delay %d ms)",
			ra->ssl ? "wss" : "ws", listen,
			ra->mode == RA_ECHO				? "echo"
			: ra->mode == RA_SILENT			? "silent"
			: ra->mode == RA_HANGUP_AFTER	? "hangup-after"
			: ra->mode == RA_TRANSFER_AFTER ? "transfer-after"
			: ra->mode == RA_FAIL_AFTER		? "fail-after"
											: "close-after",
			ra->greeting_len / 8, ra->echo_delay_ms);
	event_base_dispatch(ra->base);

	/* shutdown: connections still open are dropped (each closes its
	 * files); then the loop objects */
	while(ra->calls != NULL)
		call_free(ra->calls);
	evconnlistener_free(lis);
	event_free(sigint);
	event_free(sigterm);
	if(stats != NULL)
		event_free(stats);
	event_base_free(ra->base);
	SSL_CTX_free(ra->ssl);
	free(ra->greeting);
	free(ra->greeting16);
	free(ra);
	return 0;
}
