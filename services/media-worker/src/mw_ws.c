/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ws.c -- WebSocket client and server (RFC 6455) on libevent
 * bufferevents. wslay does all framing (masking, fragmentation and
 * reassembly, ping/pong, the close handshake, message size limit);
 * bufferevent_socket / bufferevent_openssl do the I/O and TLS; evdns the
 * name resolution. What no library here offers is the HTTP/1.1 upgrade
 * handshake on a raw bufferevent (evhttp cannot hand its connection
 * over), so that part -- a bounded header reader and a few header checks
 * -- is written here.
 *
 * Life of a connection (ws->state):
 *   CONNECTING (client: DNS, TCP, TLS, request sent, awaiting 101)
 *   or UPGRADE (server: awaiting the request)  --101-->  OPEN
 *   OPEN --our close frame--> CLOSING --both close frames--> DRAINING
 *   DRAINING (flushing our last bytes) --output empty--> DONE
 * DONE is entered exactly once (ws_finish) and reports on_close from a
 * deferred event, so on_close never runs inside an API call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "mw_log.h"
#include "mw_ws.h"

#define MW_WS_MAX_HEAD 8192		   /* request/response head, CRLFCRLF incl. */
#define MW_WS_MAX_HEADERS 64	   /* header lines in one head */
#define MW_WS_MAX_HOST 253		   /* DNS name */
#define MW_WS_MAX_PATH 4096		   /* request target */
#define MW_WS_MAX_PROTOS 256	   /* offered subprotocol list */
#define MW_WS_PROTO_MAX 64		   /* one subprotocol token */
#define MW_WS_REASON_MAX 123	   /* close reason bytes (RFC 6455 5.5) */
#define MW_WS_CONNECT_TMO_MS 10000 /* connect_timeout_ms <= 0 */
#define MW_WS_ACCEPT_TMO_MS 10000  /* server: TLS + request */
#define MW_WS_CLOSE_TMO_MS 2000	   /* peer's close reply, final flush */
#define MW_WS_MAX_MESSAGE_DEF (4u << 20) /* max_message == 0 */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum ws_state
{
	WS_CONNECTING,
	WS_UPGRADE,
	WS_OPEN,
	WS_CLOSING,
	WS_DRAINING,
	WS_DONE
};

/* Owned by the caller of mw_ws_connect/mw_ws_accept; everything below is
 * owned by the struct and released by mw_ws_free. One thread. */
struct mw_ws
{
	struct event_base *base;
	struct bufferevent *bev; /* NULL once torn down */
	struct evbuffer *out;	 /* plain TCP, OPEN: wslay's output (ws_flush) */
	wslay_event_context_ptr wslay; /* NULL until OPEN */
	struct event *timer;		   /* handshake, close or drain timeout */
	struct event *report;		   /* deferred on_close */
	struct mw_ws_cbs cbs;
	void *arg;
	int is_client;
	int is_tls;
	enum ws_state state;
	int in_recv;	 /* inside wslay_event_recv: flush afterwards */
	int we_closed;	 /* we sent the first close frame */
	int reported;	 /* on_close delivered */
	int half_closed; /* DRAINING: our side of TCP shut down */
	size_t max_message;
	int sent_code; /* our close code when we_closed */
	char sent_reason[MW_WS_REASON_MAX + 1];
	char peer_reason[MW_WS_REASON_MAX + 1];
	int end_code; /* what on_close reports */
	char end_reason[MW_WS_REASON_MAX + 1];
	char accept[32];					/* Sec-WebSocket-Accept (28 chars) */
	char offered[MW_WS_MAX_PROTOS + 1]; /* client: "a, b" as sent */
	char subprotocol[MW_WS_PROTO_MAX + 1];
};

static void ws_progress(struct mw_ws *ws);
static void ws_recv(struct mw_ws *ws);

/* ---- small helpers ------------------------------------------------------- */

static void copy_reason(char *dst, const void *src, size_t len)
{
	if(len > MW_WS_REASON_MAX)
		len = MW_WS_REASON_MAX;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* RFC 7230 tchar */
static int is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		   (c >= 'A' && c <= 'Z') ||
		   (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Sec-WebSocket-Accept for 'key' (RFC 6455 4.2.2): base64(SHA1(key+GUID)) */
static void ws_accept_value(const char *key, size_t keylen, char out[32])
{
	unsigned char in[64 + sizeof(ws_guid)], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if(keylen > 64)
		keylen = 64; /* callers pass 24 */
	memcpy(in, key, keylen);
	memcpy(in + keylen, ws_guid, sizeof(ws_guid) - 1);
	if(EVP_Digest(in, keylen + sizeof(ws_guid) - 1, md, &mdlen, EVP_sha1(),
			   NULL) != 1) {
		out[0] = '\0'; /* matches no header: the handshake fails */
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

/* ---- ending -------------------------------------------------------------- */

static void bev_teardown(struct mw_ws *ws)
{
	if(ws->bev == NULL)
		return;
	if(ws->is_tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(ws->bev);
		/* best effort close_notify; the WebSocket close already ended
		 * the session, so its outcome does not matter */
		if(ssl != NULL && SSL_is_init_finished(ssl))
			SSL_shutdown(ssl);
	}
	bufferevent_free(ws->bev);
	ws->bev = NULL;
}

static void report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_ws *ws = arg;

	bev_teardown(ws);
	if(ws->reported)
		return;
	ws->reported = 1;
	if(ws->cbs.on_close != NULL)
		ws->cbs.on_close(ws, ws->end_code, ws->end_reason, ws->arg);
}

/* The single end of a connection: later calls are ignored. I/O stops now,
 * the socket is closed and on_close runs from the next loop iteration. */
static void ws_finish(struct mw_ws *ws, int code, const char *reason)
{
	if(ws->state == WS_DONE)
		return;
	ws->state = WS_DONE;
	ws->end_code = code;
	copy_reason(ws->end_reason, reason, strlen(reason));
	evtimer_del(ws->timer);
	if(ws->bev != NULL)
		bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	event_active(ws->report, 0, 0);
}

static void ws_set_timer(struct mw_ws *ws, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(ws->timer, &tv);
}

/* Output flushed while DRAINING: half-close and wait for the peer's
 * EOF (or the timer). Closing with unread input would make the kernel
 * answer with a RST, which can destroy our close frame on its way. */
static void ws_half_close(struct mw_ws *ws)
{
	if(ws->half_closed)
		return;
	ws->half_closed = 1;
	if(ws->is_tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(ws->bev);
		if(ssl != NULL && SSL_is_init_finished(ssl))
			SSL_shutdown(ssl);
	}
	shutdown(bufferevent_getfd(ws->bev), SHUT_WR);
}

/* Both sides are done (close exchanged, or a refused upgrade): send what
 * is still buffered, discard what still arrives, end with 'code'. */
static void ws_drain(struct mw_ws *ws, int code, const char *reason)
{
	ws->state = WS_DRAINING;
	ws->end_code = code;
	copy_reason(ws->end_reason, reason, strlen(reason));
	ws_set_timer(ws, MW_WS_CLOSE_TMO_MS);
	if(evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0)
		ws_half_close(ws);
}

static const char *code_reason(int code)
{
	switch(code) {
		case 1002:
			return "protocol error";
		case 1007:
			return "invalid UTF-8 in text message";
		case 1009:
			return "message too big";
		default:
			return "closed";
	}
}

/* A diagnosis of a bufferevent error for on_close's reason */
static void bev_diag(struct mw_ws *ws, short events, char *out, size_t len)
{
	int dnserr = bufferevent_socket_get_dns_error(ws->bev);
	unsigned long sslerr = 0, e;

	if(events & BEV_EVENT_EOF) {
		snprintf(out, len, "connection closed by peer");
		return;
	}
	if(dnserr != 0) {
		snprintf(out, len, "DNS: %s", evutil_gai_strerror(dnserr));
		return;
	}
	if(ws->is_tls) {
		/* the first error is the cause, later ones are consequences */
		while((e = bufferevent_get_openssl_error(ws->bev)) != 0)
			if(sslerr == 0)
				sslerr = e;
	}
	if(sslerr != 0) {
		char b[120];
		ERR_error_string_n(sslerr, b, sizeof(b));
		snprintf(out, len, "TLS: %s", b);
		return;
	}
	snprintf(out, len, "%s",
			EVUTIL_SOCKET_ERROR() != 0
					? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())
					: "I/O error");
}

/* ---- wslay callbacks: the bufferevent is wslay's "socket" ---------------- */

static ssize_t wsl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		int flags, void *user)
{
	struct mw_ws *ws = user;
	int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);

	if(n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

/* The output evbuffers take everything: wslay's queue drains at once and
 * mw_ws_pending measures the backlog in one place. wslay hands a frame
 * over in pieces (header, masked payload): on plain TCP they are
 * collected in ws->out and written by ws_flush. */
static ssize_t wsl_send(wslay_event_context_ptr ctx, const uint8_t *data,
		size_t len, int flags, void *user)
{
	struct mw_ws *ws = user;

	(void)flags;
	if(ws->out ? evbuffer_add(ws->out, data, len) < 0
			   : bufferevent_write(ws->bev, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Masking keys (RFC 6455 5.3: unpredictable, from a strong source of
 * entropy) come from OpenSSL's DRBG, fetched 1 KiB at a time per thread:
 * a client masks every frame it sends (50 a second per call) and one
 * RAND_bytes call costs microseconds (locks, parameter lookups: 8.5 % of
 * a loaded worker's CPU, bench/worker.sh). A key is public once its frame
 * is sent, so nothing needs wiping. */
#define MASK_POOL 1024
static _Thread_local uint8_t mask_pool[MASK_POOL];
static _Thread_local size_t mask_left;

static int wsl_genmask(
		wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	if(len > MASK_POOL)
		return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
	if(mask_left < len) {
		if(RAND_bytes(mask_pool, MASK_POOL) != 1)
			return -1;
		mask_left = MASK_POOL;
	}
	memcpy(buf, mask_pool + (MASK_POOL - mask_left), len);
	mask_left -= len;
	return 0;
}

static void wsl_msg(wslay_event_context_ptr ctx,
		const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct mw_ws *ws = user;

	switch(m->opcode) {
		case WSLAY_TEXT_FRAME:
		case WSLAY_BINARY_FRAME:
			if(ws->cbs.on_message != NULL &&
					(ws->state == WS_OPEN || ws->state == WS_CLOSING))
				ws->cbs.on_message(ws, m->opcode == WSLAY_TEXT_FRAME, m->msg,
						m->msg_length, ws->arg);
			break;
		case WSLAY_CONNECTION_CLOSE:
			/* wslay queued the reply itself; the code is read back with
			 * wslay_event_get_status_code_received */
			if(m->msg_length > 2)
				copy_reason(ws->peer_reason, m->msg + 2, m->msg_length - 2);
			break;
		default: /* ping (answered by wslay), pong */
			break;
	}
}

/* Plain TCP: what wslay produced goes out in one writev when nothing is
 * queued before it; the rest joins the bufferevent's queue, which arms
 * its write event. Writing through the bufferevent every time cost each
 * frame two epoll_ctl (write event on, then off) and a loop wake-up:
 * 4 % of a worker's CPU at 300 calls (bench/worker.sh, perf). An error
 * leaves the data queued: the bufferevent's own write then reports it. */
static void ws_flush(struct mw_ws *ws)
{
	if(!ws->out || !ws->bev || evbuffer_get_length(ws->out) == 0)
		return;
	if(evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0)
		(void)evbuffer_write(ws->out, bufferevent_getfd(ws->bev));
	if(evbuffer_get_length(ws->out) > 0 &&
			bufferevent_write_buffer(ws->bev, ws->out) < 0) {
		/* frames cannot be dropped from the middle of the stream */
		evbuffer_drain(ws->out, evbuffer_get_length(ws->out));
		ws_finish(ws, 1006, "out of memory");
	}
}

static int ws_open(struct mw_ws *ws)
{
	struct wslay_event_callbacks cb = {
			.recv_callback = wsl_recv,
			.send_callback = wsl_send,
			.genmask_callback = wsl_genmask,
			.on_msg_recv_callback = wsl_msg,
	};
	int r;

	r = ws->is_client ? wslay_event_context_client_init(&ws->wslay, &cb, ws)
					  : wslay_event_context_server_init(&ws->wslay, &cb, ws);
	if(r == 0 && !ws->is_tls && !(ws->out = evbuffer_new())) {
		wslay_event_context_free(ws->wslay);
		r = -1;
	}
	if(r != 0) {
		ws->wslay = NULL;
		ws_finish(ws, 1006, "out of memory");
		return -ENOMEM;
	}
	/* messages are reassembled by wslay up to this size; a frame that
	 * would exceed it makes wslay send close 1009 and stop reading */
	wslay_event_config_set_max_recv_msg_length(ws->wslay, ws->max_message);
	evtimer_del(ws->timer);
	ws->state = WS_OPEN;
	if(ws->cbs.on_open != NULL)
		ws->cbs.on_open(ws, ws->arg);
	return 0;
}

/* After wslay read or queued something: flush it and follow the closing
 * handshake. Never called from inside wslay_event_recv. */
static void ws_progress(struct mw_ws *ws)
{
	int cs, cr, code;

	if(ws->in_recv || (ws->state != WS_OPEN && ws->state != WS_CLOSING))
		return;
	if(wslay_event_want_write(ws->wslay)) {
		if(wslay_event_send(ws->wslay) < 0) {
			ws_finish(ws, 1006, "send failed");
			return;
		}
		ws_flush(ws);
	}
	cs = wslay_event_get_close_sent(ws->wslay);
	cr = wslay_event_get_close_received(ws->wslay);
	if(cs && cr) {
		/* closing handshake complete */
		if(ws->we_closed) {
			ws_drain(ws, ws->sent_code, ws->sent_reason);
		} else {
			code = wslay_event_get_status_code_received(ws->wslay);
			ws_drain(ws, code,
					ws->peer_reason[0] ? ws->peer_reason : "closed by peer");
		}
	} else if(cs && !wslay_event_get_read_enabled(ws->wslay)) {
		/* wslay failed the connection (1002, 1007, 1009): it stopped
		 * reading, so no reply can arrive; end with the code it sent */
		code = wslay_event_get_status_code_sent(ws->wslay);
		if(code == 1005 || code == 0)
			code = 1002;
		ws_drain(ws, code, code_reason(code));
	}
}

static void ws_recv(struct mw_ws *ws)
{
	int r;

	ws->in_recv = 1;
	r = wslay_event_recv(ws->wslay);
	ws->in_recv = 0;
	if(r < 0 && r != WSLAY_ERR_CALLBACK_FAILURE) {
		ws_finish(ws, 1006, "out of memory");
		return;
	}
	/* CALLBACK_FAILURE: a malformed frame; wslay queued a close frame and
	 * stopped reading, handled like the other protocol errors below */
	ws_progress(ws);
}

/* ---- HTTP upgrade -------------------------------------------------------- */

struct http_head
{
	char *start; /* request or status line */
	int n;
	struct
	{
		const char *name, *value;
	} h[MW_WS_MAX_HEADERS];
};

/* Splits a NUL-terminated head ending in CRLFCRLF in place. Strict: CRLF
 * line ends only, no obsolete line folding, token header names. */
static int http_split(char *buf, size_t len, struct http_head *m)
{
	char *p = buf, *eol, *colon, *v, *e;

	m->n = 0;
	m->start = NULL;
	if(memchr(buf, '\0', len) != NULL)
		return -1;
	while((eol = strstr(p, "\r\n")) != NULL && eol != p) {
		*eol = '\0';
		if(strpbrk(p, "\r\n") != NULL)
			return -1;
		if(m->start == NULL) {
			m->start = p;
		} else {
			if(m->n == MW_WS_MAX_HEADERS)
				return -1;
			colon = strchr(p, ':');
			if(colon == NULL || colon == p)
				return -1;
			for(v = p; v < colon; v++)
				if(!is_tchar((unsigned char)*v))
					return -1;
			*colon = '\0';
			v = colon + 1;
			v += strspn(v, " \t");
			e = v + strlen(v);
			while(e > v && (e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			m->h[m->n].name = p;
			m->h[m->n].value = v;
			m->n++;
		}
		p = eol + 2;
	}
	return m->start != NULL ? 0 : -1;
}

static const char *hdr_get(const struct http_head *m, const char *name)
{
	int i;

	for(i = 0; i < m->n; i++)
		if(strcasecmp(m->h[i].name, name) == 0)
			return m->h[i].value;
	return NULL;
}

/* Next comma-separated token of *p (spaces trimmed) into out; 0 at end */
static int list_next(const char **p, char *out, size_t outlen)
{
	const char *s = *p, *e;
	size_t n;

	for(;;) {
		s += strspn(s, " \t");
		if(*s == '\0')
			return 0;
		e = s + strcspn(s, ",");
		*p = *e == ',' ? e + 1 : e;
		while(e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		n = (size_t)(e - s);
		if(n == 0)
			continue; /* empty list element */
		if(n >= outlen)
			n = outlen - 1; /* too long for any token we compare */
		memcpy(out, s, n);
		out[n] = '\0';
		return 1;
	}
}

static int list_has(const char *list, const char *token)
{
	char t[MW_WS_PROTO_MAX + 2];

	while(list != NULL && list_next(&list, t, sizeof(t)))
		if(strcasecmp(t, token) == 0)
			return 1;
	return 0;
}

/* Reads the head once complete. 1: *head filled, 0: need more, -1: too
 * big. 'buf' has MW_WS_MAX_HEAD + 1 bytes. */
static int head_read(struct mw_ws *ws, char *buf, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(ws->bev);
	struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);

	if(p.pos < 0)
		return evbuffer_get_length(in) >= MW_WS_MAX_HEAD ? -1 : 0;
	if((size_t)p.pos + 4 > MW_WS_MAX_HEAD)
		return -1;
	*len = (size_t)p.pos + 4;
	evbuffer_remove(in, buf, *len);
	buf[*len] = '\0';
	return 1;
}

/* Client: checks the server's answer to our upgrade request. */
static void client_upgrade(struct mw_ws *ws)
{
	char buf[MW_WS_MAX_HEAD + 1], why[160];
	struct http_head m;
	const char *v;
	size_t len;
	int r, status;

	r = head_read(ws, buf, &len);
	if(r == 0)
		return;
	if(r < 0 || http_split(buf, len, &m) < 0) {
		ws_finish(ws, 1006,
				r < 0 ? "handshake: response head too large"
					  : "handshake: malformed HTTP response");
		return;
	}
	if(strncmp(m.start, "HTTP/1.1 ", 9) != 0 ||
			sscanf(m.start + 9, "%3d", &status) != 1 || status < 100 ||
			status > 599) {
		ws_finish(ws, 1006, "handshake: malformed HTTP status line");
		return;
	}
	if(status != 101) {
		/* keep the status line: the caller's retry policy may tell 4xx
		 * from 5xx */
		snprintf(why, sizeof(why), "handshake: %.100s", m.start);
		ws_finish(ws, 1006, why);
		return;
	}
	v = hdr_get(&m, "Upgrade");
	if(v == NULL || strcasecmp(v, "websocket") != 0) {
		ws_finish(ws, 1006, "handshake: no Upgrade: websocket");
		return;
	}
	if(!list_has(hdr_get(&m, "Connection"), "upgrade")) {
		ws_finish(ws, 1006, "handshake: no Connection: upgrade");
		return;
	}
	v = hdr_get(&m, "Sec-WebSocket-Accept");
	if(v == NULL || strcmp(v, ws->accept) != 0) {
		ws_finish(ws, 1006, "handshake: wrong Sec-WebSocket-Accept");
		return;
	}
	if(hdr_get(&m, "Sec-WebSocket-Extensions") != NULL) {
		/* we offer none; frames with RSV bits would fail anyway */
		ws_finish(ws, 1006, "handshake: unrequested extension");
		return;
	}
	v = hdr_get(&m, "Sec-WebSocket-Protocol");
	if(v != NULL && *v != '\0') {
		size_t i, n = strlen(v);
		for(i = 0; i < n; i++)
			if(!is_tchar((unsigned char)v[i]))
				break;
		if(i < n || n > MW_WS_PROTO_MAX) {
			ws_finish(ws, 1006, "handshake: malformed Sec-WebSocket-Protocol");
			return;
		}
		memcpy(ws->subprotocol, v, n + 1);
		/* RFC 6455 says fail; real AI backends answer "audio.twilio.com"
		 * whatever was offered, so only warn (ai-backend-protocols 1.1) */
		if(!list_has(ws->offered, v))
			MW_WARN("ws: server selected subprotocol \"%s\" that was not "
					"offered (\"%s\"); accepted",
					ws->subprotocol, ws->offered);
	}
	if(ws_open(ws) < 0)
		return;
	/* frames sent right behind the 101 */
	if((ws->state == WS_OPEN || ws->state == WS_CLOSING) &&
			evbuffer_get_length(bufferevent_get_input(ws->bev)) > 0)
		ws_recv(ws);
}

static void server_reject(struct mw_ws *ws, const char *why, int version)
{
	char reason[MW_WS_REASON_MAX + 1];

	evbuffer_add_printf(bufferevent_get_output(ws->bev),
			"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
			"Content-Length: 0\r\n%s\r\n",
			version ? "Sec-WebSocket-Version: 13\r\n" : "");
	snprintf(reason, sizeof(reason), "bad upgrade request: %s", why);
	ws_drain(ws, 1006, reason);
}

/* Server: checks the client's upgrade request and answers 101 or 400. */
static void server_upgrade(struct mw_ws *ws)
{
	char buf[MW_WS_MAX_HEAD + 1], t[MW_WS_PROTO_MAX + 2];
	struct http_head m;
	const char *v, *key, *p;
	size_t len, i;
	int r;

	r = head_read(ws, buf, &len);
	if(r == 0)
		return;
	if(r < 0) {
		server_reject(ws, "head too large", 0);
		return;
	}
	if(http_split(buf, len, &m) < 0) {
		server_reject(ws, "malformed HTTP", 0);
		return;
	}
	v = strrchr(m.start, ' ');
	if(strncmp(m.start, "GET ", 4) != 0 || v == NULL || v < m.start + 4 ||
			strcmp(v, " HTTP/1.1") != 0) {
		server_reject(ws, "not GET ... HTTP/1.1", 0);
		return;
	}
	if(hdr_get(&m, "Host") == NULL) {
		server_reject(ws, "no Host", 0);
		return;
	}
	v = hdr_get(&m, "Upgrade");
	if(v == NULL || !list_has(v, "websocket")) {
		server_reject(ws, "no Upgrade: websocket", 0);
		return;
	}
	if(!list_has(hdr_get(&m, "Connection"), "upgrade")) {
		server_reject(ws, "no Connection: upgrade", 0);
		return;
	}
	v = hdr_get(&m, "Sec-WebSocket-Version");
	if(v == NULL || strcmp(v, "13") != 0) {
		server_reject(ws, "Sec-WebSocket-Version is not 13", 1);
		return;
	}
	/* the key is base64 of 16 bytes: 22 characters and "==" */
	key = hdr_get(&m, "Sec-WebSocket-Key");
	if(key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0) {
		server_reject(ws, "bad Sec-WebSocket-Key", 0);
		return;
	}
	for(i = 0; i < 22; i++)
		if(!(isalnum((unsigned char)key[i]) || key[i] == '+' ||
				   key[i] == '/')) {
			server_reject(ws, "bad Sec-WebSocket-Key", 0);
			return;
		}
	ws_accept_value(key, 24, ws->accept);
	/* we take the client's first choice (real backends do the same or
	 * always answer their own; the worker tolerates both) */
	p = hdr_get(&m, "Sec-WebSocket-Protocol");
	if(p != NULL && list_next(&p, t, sizeof(t))) {
		for(i = 0; t[i] != '\0' && is_tchar((unsigned char)t[i]); i++)
			;
		if(t[i] == '\0' && i <= MW_WS_PROTO_MAX)
			memcpy(ws->subprotocol, t, i + 1);
	}
	if(ws->subprotocol[0] != '\0')
		r = evbuffer_add_printf(bufferevent_get_output(ws->bev),
				"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
				"Sec-WebSocket-Protocol: %s\r\n\r\n",
				ws->accept, ws->subprotocol);
	else
		r = evbuffer_add_printf(bufferevent_get_output(ws->bev),
				"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
				ws->accept);
	if(r < 0) {
		ws_finish(ws, 1006, "out of memory");
		return;
	}
	if(ws_open(ws) < 0)
		return;
	if((ws->state == WS_OPEN || ws->state == WS_CLOSING) &&
			evbuffer_get_length(bufferevent_get_input(ws->bev)) > 0)
		ws_recv(ws);
}

/* ---- bufferevent callbacks ----------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct mw_ws *ws = arg;

	switch(ws->state) {
		case WS_CONNECTING:
			client_upgrade(ws);
			break;
		case WS_UPGRADE:
			server_upgrade(ws);
			break;
		case WS_OPEN:
		case WS_CLOSING:
			ws_recv(ws);
			break;
		default: /* nothing more is read */
			evbuffer_drain(bufferevent_get_input(bev),
					evbuffer_get_length(bufferevent_get_input(bev)));
			break;
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct mw_ws *ws = arg;

	if(ws->state == WS_DRAINING &&
			evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ws_half_close(ws);
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct mw_ws *ws = arg;
	char diag[150], why[MW_WS_REASON_MAX + 1];

	if(!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return; /* BEV_EVENT_CONNECTED: the request is already queued */
	bev_diag(ws, events, diag, sizeof(diag));
	switch(ws->state) {
		case WS_CONNECTING:
		case WS_UPGRADE:
			snprintf(why, sizeof(why), "handshake: %.100s", diag);
			ws_finish(ws, 1006, why);
			break;
		case WS_OPEN:
			snprintf(why, sizeof(why), "%.100s without close frame", diag);
			ws_finish(ws, 1006, why);
			break;
		case WS_CLOSING: /* the peer dropped the connection on our close */
			ws_finish(ws, ws->sent_code, ws->sent_reason);
			break;
		case WS_DRAINING:
			ws_finish(ws, ws->end_code, ws->end_reason);
			break;
		case WS_DONE:
			break;
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_ws *ws = arg;

	switch(ws->state) {
		case WS_CONNECTING:
		case WS_UPGRADE:
			ws_finish(ws, 1006, "handshake: timeout");
			break;
		case WS_CLOSING: /* no close reply: end with our code */
			ws_finish(ws, ws->sent_code, ws->sent_reason);
			break;
		case WS_DRAINING: /* the peer stopped reading */
			ws_finish(ws, ws->end_code, ws->end_reason);
			break;
		default:
			break;
	}
}

/* ---- creation ------------------------------------------------------------ */

static struct mw_ws *ws_new(struct event_base *base,
		const struct mw_ws_cbs *cbs, void *arg, size_t max_message)
{
	struct mw_ws *ws = calloc(1, sizeof(*ws));

	if(ws == NULL)
		return NULL;
	ws->base = base;
	ws->cbs = *cbs;
	ws->arg = arg;
	ws->max_message = max_message ? max_message : MW_WS_MAX_MESSAGE_DEF;
	ws->end_code = 1006;
	ws->timer = evtimer_new(base, timer_cb, ws);
	ws->report = event_new(base, -1, 0, report_cb, ws);
	if(ws->timer == NULL || ws->report == NULL) {
		mw_ws_free(ws);
		return NULL;
	}
	return ws;
}

struct ws_url
{
	int tls;
	char host[MW_WS_MAX_HOST + 1]; /* without brackets */
	int ipv6;
	int is_ip;
	uint16_t port;
	int port_set;
	const char *path; /* from '/' or '?', up to '#' or end */
	size_t path_len;
};

static int url_parse(const char *url, struct ws_url *u)
{
	const char *a, *e, *hs, *he, *ps;
	unsigned char ip[16];
	size_t i, n;

	memset(u, 0, sizeof(*u));
	if(strncasecmp(url, "ws://", 5) == 0) {
		a = url + 5;
	} else if(strncasecmp(url, "wss://", 6) == 0) {
		a = url + 6;
		u->tls = 1;
	} else {
		return -EINVAL;
	}
	e = a + strcspn(a, "/?#");
	if(memchr(a, '@', (size_t)(e - a)) != NULL)
		return -EINVAL; /* userinfo: credentials go in headers */
	if(*a == '[') {
		hs = a + 1;
		he = memchr(hs, ']', (size_t)(e - hs));
		if(he == NULL)
			return -EINVAL;
		ps = he + 1;
		u->ipv6 = 1;
	} else {
		hs = a;
		he = memchr(a, ':', (size_t)(e - a));
		if(he == NULL)
			he = e;
		ps = he;
	}
	n = (size_t)(he - hs);
	if(n == 0 || n > MW_WS_MAX_HOST)
		return -EINVAL;
	memcpy(u->host, hs, n);
	u->host[n] = '\0';
	if(u->ipv6) {
		if(inet_pton(AF_INET6, u->host, ip) != 1)
			return -EINVAL;
		u->is_ip = 1;
	} else {
		for(i = 0; i < n; i++)
			if(!isalnum((unsigned char)u->host[i]) &&
					!strchr(".-_", u->host[i]))
				return -EINVAL;
		u->is_ip = inet_pton(AF_INET, u->host, ip) == 1;
	}
	u->port = u->tls ? 443 : 80;
	if(ps < e) {
		unsigned long port = 0;
		if(*ps != ':' || ps + 1 == e || e - ps > 6)
			return -EINVAL;
		for(ps++; ps < e; ps++) {
			if(*ps < '0' || *ps > '9')
				return -EINVAL;
			port = port * 10 + (unsigned long)(*ps - '0');
		}
		if(port == 0 || port > 65535)
			return -EINVAL;
		u->port = (uint16_t)port;
		u->port_set = 1;
	}
	/* a fragment has no meaning for WebSocket URIs: dropped */
	u->path = e;
	u->path_len = strcspn(e, "#");
	if(u->path_len > MW_WS_MAX_PATH)
		return -EINVAL;
	for(i = 0; i < u->path_len; i++)
		if((unsigned char)e[i] <= 0x20 || (unsigned char)e[i] >= 0x7f)
			return -EINVAL;
	return 0;
}

/* Extra headers: "Name: value" lines, CRLF-separated (the last CRLF is
 * optional); names are tokens, values without CR/LF/NUL; the handshake's
 * own headers cannot be overridden. */
static int headers_valid(const char *h)
{
	static const char *const own[] = {"host", "upgrade", "connection",
			"sec-websocket-key", "sec-websocket-version",
			"sec-websocket-protocol", "sec-websocket-extensions"};
	const char *p = h, *eol, *c, *q;
	size_t i;

	while(*p != '\0') {
		eol = strstr(p, "\r\n");
		if(eol == NULL)
			eol = p + strlen(p);
		c = memchr(p, ':', (size_t)(eol - p));
		if(c == NULL || c == p)
			return 0;
		for(q = p; q < c; q++)
			if(!is_tchar((unsigned char)*q))
				return 0;
		for(q = c + 1; q < eol; q++)
			if(*q == '\r' || *q == '\n' ||
					((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
				return 0;
		for(i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			if((size_t)(c - p) == strlen(own[i]) &&
					strncasecmp(p, own[i], (size_t)(c - p)) == 0)
				return 0;
		p = *eol != '\0' ? eol + 2 : eol;
	}
	return 1;
}

/* Normalises "a,b , c" into "a, b, c"; -EINVAL on non-token elements */
static int protos_norm(const char *in, char *out, size_t outlen)
{
	char t[MW_WS_PROTO_MAX + 2];
	size_t used = 0, i, n;

	out[0] = '\0';
	while(list_next(&in, t, sizeof(t))) {
		n = strlen(t);
		if(n > MW_WS_PROTO_MAX)
			return -EINVAL;
		for(i = 0; i < n; i++)
			if(!is_tchar((unsigned char)t[i]))
				return -EINVAL;
		if(used + n + 3 > outlen)
			return -EINVAL;
		used += (size_t)snprintf(
				out + used, outlen - used, "%s%s", used ? ", " : "", t);
	}
	return 0;
}

int mw_ws_connect(struct event_base *base, struct evdns_base *dns,
		const struct mw_ws_client_opts *o, const struct mw_ws_cbs *cbs,
		void *arg, struct mw_ws **out)
{
	struct mw_ws *ws;
	struct ws_url u;
	struct evbuffer *req;
	unsigned char nonce[16];
	char key[32], hostport[MW_WS_MAX_HOST + 10];
	int r, tmo;

	if(out != NULL)
		*out = NULL;
	if(base == NULL || o == NULL || o->url == NULL || cbs == NULL ||
			out == NULL)
		return -EINVAL;
	if(url_parse(o->url, &u) < 0)
		return -EINVAL;
	if(u.tls && o->ssl_ctx == NULL)
		return -EINVAL;
	if(o->headers != NULL &&
			(strlen(o->headers) > MW_WS_MAX_HEAD || !headers_valid(o->headers)))
		return -EINVAL;
	ws = ws_new(base, cbs, arg, o->max_message);
	if(ws == NULL)
		return -ENOMEM;
	ws->is_client = 1;
	ws->is_tls = u.tls;
	ws->state = WS_CONNECTING;
	if(o->subprotocols != NULL && protos_norm(o->subprotocols, ws->offered,
										  sizeof(ws->offered)) < 0) {
		mw_ws_free(ws);
		return -EINVAL;
	}
	if(RAND_bytes(nonce, sizeof(nonce)) != 1) {
		mw_ws_free(ws);
		return -EIO;
	}
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	ws_accept_value(key, 24, ws->accept);

	if(u.tls) {
		SSL *ssl = SSL_new(o->ssl_ctx);
		if(ssl == NULL) {
			mw_ws_free(ws);
			return -ENOMEM;
		}
		/* SNI and the name the certificate must carry; the ctx decides
		 * whether verification is enforced */
		if(u.is_ip) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host);
		} else {
			SSL_set_tlsext_host_name(ssl, u.host);
			SSL_set1_host(ssl, u.host);
		}
		ws->bev = bufferevent_openssl_socket_new(base, -1, ssl,
				BUFFEREVENT_SSL_CONNECTING,
				BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if(ws->bev == NULL)
			SSL_free(ssl);
		else
			bufferevent_openssl_set_allow_dirty_shutdown(ws->bev, 1);
	} else {
		ws->bev = bufferevent_socket_new(
				base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if(ws->bev == NULL) {
		mw_ws_free(ws);
		return -ENOMEM;
	}
	bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);

	/* the request waits in the output buffer until TCP (and TLS) are up */
	if(u.port_set)
		snprintf(hostport, sizeof(hostport), u.ipv6 ? "[%s]:%u" : "%s:%u",
				u.host, (unsigned)u.port);
	else
		snprintf(hostport, sizeof(hostport), u.ipv6 ? "[%s]" : "%s", u.host);
	req = bufferevent_get_output(ws->bev);
	r = evbuffer_add_printf(req,
			"GET %s%.*s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			"Sec-WebSocket-Version: 13\r\n",
			(u.path_len == 0 || u.path[0] == '?') ? "/" : "", (int)u.path_len,
			u.path, hostport, key);
	if(r >= 0 && ws->offered[0] != '\0')
		r = evbuffer_add_printf(
				req, "Sec-WebSocket-Protocol: %s\r\n", ws->offered);
	if(r >= 0 && o->headers != NULL && o->headers[0] != '\0') {
		size_t hl = strlen(o->headers);
		r = evbuffer_add(req, o->headers, hl);
		if(r >= 0 && (hl < 2 || strcmp(o->headers + hl - 2, "\r\n") != 0))
			r = evbuffer_add(req, "\r\n", 2);
	}
	if(r >= 0)
		r = evbuffer_add(req, "\r\n", 2);
	if(r < 0) {
		mw_ws_free(ws);
		return -ENOMEM;
	}
	if(evbuffer_get_length(req) > MW_WS_MAX_HEAD) {
		mw_ws_free(ws);
		return -EINVAL;
	}
	if(bufferevent_enable(ws->bev, EV_READ | EV_WRITE) < 0) {
		mw_ws_free(ws);
		return -ENOMEM;
	}
	tmo = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
									: MW_WS_CONNECT_TMO_MS;
	ws_set_timer(ws, tmo);
	/* with dns == NULL libevent resolves with blocking getaddrinfo: fine
	 * for IP literals (no lookup happens), not for names on a hot loop */
	if(bufferevent_socket_connect_hostname(
			   ws->bev, dns, AF_UNSPEC, u.host, u.port) < 0) {
		mw_ws_free(ws);
		return -EHOSTUNREACH;
	}
	*out = ws;
	return 0;
}

int mw_ws_accept(struct event_base *base, evutil_socket_t fd,
		struct ssl_ctx_st *ssl_ctx, size_t max_message,
		const struct mw_ws_cbs *cbs, void *arg, struct mw_ws **out)
{
	struct mw_ws *ws;

	if(out != NULL)
		*out = NULL;
	if(base == NULL || fd < 0 || cbs == NULL || out == NULL) {
		if(fd >= 0)
			evutil_closesocket(fd);
		return -EINVAL;
	}
	ws = ws_new(base, cbs, arg, max_message);
	if(ws == NULL || evutil_make_socket_nonblocking(fd) < 0) {
		evutil_closesocket(fd);
		mw_ws_free(ws);
		return -ENOMEM;
	}
	ws->state = WS_UPGRADE;
	if(ssl_ctx != NULL) {
		SSL *ssl = SSL_new(ssl_ctx);
		ws->is_tls = 1;
		if(ssl != NULL) {
			ws->bev = bufferevent_openssl_socket_new(base, fd, ssl,
					BUFFEREVENT_SSL_ACCEPTING,
					BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
			if(ws->bev == NULL)
				SSL_free(ssl);
			else
				bufferevent_openssl_set_allow_dirty_shutdown(ws->bev, 1);
		}
	} else {
		ws->bev = bufferevent_socket_new(
				base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if(ws->bev == NULL) {
		evutil_closesocket(fd);
		mw_ws_free(ws);
		return -ENOMEM;
	}
	bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);
	if(bufferevent_enable(ws->bev, EV_READ | EV_WRITE) < 0) {
		mw_ws_free(ws); /* closes fd with the bufferevent */
		return -ENOMEM;
	}
	ws_set_timer(ws, MW_WS_ACCEPT_TMO_MS);
	*out = ws;
	return 0;
}

/* ---- API ----------------------------------------------------------------- */

static int ws_send(
		struct mw_ws *ws, uint8_t opcode, const uint8_t *data, size_t len)
{
	struct wslay_event_msg m = {opcode, data, len};
	int r;

	if(ws == NULL || (data == NULL && len > 0))
		return -EINVAL;
	if(ws->state != WS_OPEN)
		return -ENOTCONN;
	r = wslay_event_queue_msg(ws->wslay, &m);
	if(r == WSLAY_ERR_NO_MORE_MSG)
		return -ENOTCONN;
	if(r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if(r != 0)
		return -EINVAL;
	ws_progress(ws);
	return 0;
}

int mw_ws_send_text(struct mw_ws *ws, const char *data, size_t len)
{
	return ws_send(ws, WSLAY_TEXT_FRAME, (const uint8_t *)data, len);
}

int mw_ws_send_binary(struct mw_ws *ws, const uint8_t *data, size_t len)
{
	return ws_send(ws, WSLAY_BINARY_FRAME, data, len);
}

static int code_sendable(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
		   (code >= 3000 && code <= 4999);
}

int mw_ws_close(struct mw_ws *ws, int code, const char *reason)
{
	size_t n;

	if(ws == NULL || !code_sendable(code))
		return -EINVAL;
	if(reason == NULL)
		reason = "";
	switch(ws->state) {
		case WS_CONNECTING:
		case WS_UPGRADE:
			ws_finish(ws, 1006, "closed before the handshake completed");
			return 0;
		case WS_OPEN:
			break;
		default: /* a close is already under way */
			return 0;
	}
	n = strlen(reason);
	if(n > MW_WS_REASON_MAX) {
		/* cut at a UTF-8 character boundary */
		n = MW_WS_REASON_MAX;
		while(n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if(wslay_event_queue_close(
			   ws->wslay, (uint16_t)code, (const uint8_t *)reason, n) != 0)
		return -ENOMEM;
	ws->we_closed = 1;
	ws->sent_code = code;
	copy_reason(ws->sent_reason, reason, n);
	ws->state = WS_CLOSING;
	ws_set_timer(ws, MW_WS_CLOSE_TMO_MS);
	ws_progress(ws);
	return 0;
}

size_t mw_ws_pending(const struct mw_ws *ws)
{
	size_t n = 0;

	if(ws == NULL)
		return 0;
	if(ws->bev != NULL)
		n += evbuffer_get_length(bufferevent_get_output(ws->bev));
	if(ws->wslay != NULL)
		n += wslay_event_get_queued_msg_length(ws->wslay);
	return n;
}

const char *mw_ws_subprotocol(const struct mw_ws *ws)
{
	return ws != NULL ? ws->subprotocol : "";
}

void mw_ws_free(struct mw_ws *ws)
{
	if(ws == NULL)
		return;
	if(ws->timer != NULL)
		event_free(ws->timer);
	if(ws->report != NULL)
		event_free(ws->report);
	bev_teardown(ws);
	if(ws->out != NULL)
		evbuffer_free(ws->out);
	if(ws->wslay != NULL)
		wslay_event_context_free(ws->wslay);
	free(ws);
}
