/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_ws.c -- unit tests of mw_ws: client and server in one process
 * over loopback with a real event_base. Where the peer must misbehave or
 * be observed byte by byte (fragmentation, ping, garbage HTTP, unoffered
 * subprotocols, bad requests) the other side is a raw socket driven by
 * the test, with frames built here independently of wslay.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mw_ws.h"

/* ---- fixture ------------------------------------------------------------- */

/* What one side of a connection observed. */
struct end
{
	struct mw_ws *ws;
	int opened, closed, code, nmsg, last_text;
	char reason[160];
	uint8_t *last; /* last message (malloc'ed) */
	size_t last_len;
	int echo;		   /* send every message back */
	const char *greet; /* text sent from on_open */
};

struct fx
{
	struct event_base *base;
	struct evconnlistener *lis;
	int port;
	SSL_CTX *srv_ssl;
	size_t srv_max;
	struct end srv, cli;
};

static void on_open(struct mw_ws *ws, void *arg)
{
	struct end *e = arg;

	e->opened++;
	if(e->greet != NULL)
		assert_int_equal(mw_ws_send_text(ws, e->greet, strlen(e->greet)), 0);
}

static void on_message(struct mw_ws *ws, int is_text, const uint8_t *data,
		size_t len, void *arg)
{
	struct end *e = arg;

	e->nmsg++;
	e->last_text = is_text;
	free(e->last);
	e->last = malloc(len + 1);
	assert_non_null(e->last);
	memcpy(e->last, data, len);
	e->last[len] = '\0';
	e->last_len = len;
	if(e->echo) {
		if(is_text)
			mw_ws_send_text(ws, (const char *)data, len);
		else
			mw_ws_send_binary(ws, data, len);
	}
}

static void on_close(struct mw_ws *ws, int code, const char *reason, void *arg)
{
	struct end *e = arg;

	e->closed++;
	e->code = code;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

static const struct mw_ws_cbs cbs = {on_open, on_message, on_close};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		struct sockaddr *sa, int salen, void *arg)
{
	struct fx *f = arg;

	assert_null(f->srv.ws); /* one connection per fixture */
	assert_int_equal(mw_ws_accept(f->base, fd, f->srv_ssl, f->srv_max, &cbs,
							 &f->srv, &f->srv.ws),
			0);
}

static struct fx *fx_new(SSL_CTX *srv_ssl, size_t srv_max)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin = {0};
	socklen_t len = sizeof(sin);

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->srv_ssl = srv_ssl;
	f->srv_max = srv_max;
	f->srv.echo = 1;
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lis = evconnlistener_new_bind(f->base, accept_cb, f,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
			(struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(f->lis);
	getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&sin, &len);
	f->port = ntohs(sin.sin_port);
	return f;
}

static void expired_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop until *flag >= want or ms elapse; 1 if reached. */
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

static void end_free(struct end *e)
{
	mw_ws_free(e->ws);
	e->ws = NULL;
	free(e->last);
	e->last = NULL;
}

static void fx_free(struct fx *f)
{
	end_free(&f->cli);
	end_free(&f->srv);
	evconnlistener_free(f->lis);
	pump(f->base, 5); /* let libevent finalise freed bufferevents */
	event_base_free(f->base);
	free(f);
}

static int client(struct fx *f, const char *path, const char *protos,
		size_t max, SSL_CTX *ssl, struct evdns_base *dns)
{
	struct mw_ws_client_opts o = {0};
	char url[256];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", ssl ? "wss" : "ws",
			f->port, path);
	o.url = url;
	o.subprotocols = protos;
	o.connect_timeout_ms = 2000;
	o.max_message = max;
	o.ssl_ctx = ssl;
	return mw_ws_connect(f->base, dns, &o, &cbs, &f->cli, &f->cli.ws);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- raw peers (the test's own, wslay-independent, framing) ------------- */

static size_t frame_build(
		uint8_t *out, int fin, int op, const void *data, size_t n, int masked)
{
	static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	const uint8_t *p = data;
	size_t h = 0, i;

	out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if(n < 126) {
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | n);
	} else if(n < 65536) {
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	} else {
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | 127);
		for(i = 0; i < 8; i++)
			out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	}
	if(masked) {
		memcpy(out + h, mask, 4);
		h += 4;
	}
	for(i = 0; i < n; i++)
		out[h + i] = masked ? p[i] ^ mask[i % 4] : p[i];
	return h + n;
}

/* Parses one complete unmasked frame from buf; returns its total size or
 * 0 when incomplete. */
static size_t frame_parse(const uint8_t *buf, size_t len, int *fin, int *op,
		const uint8_t **data, size_t *n)
{
	size_t h = 2, pl, i;

	if(len < 2)
		return 0;
	*fin = buf[0] >> 7;
	*op = buf[0] & 15;
	assert_int_equal(buf[1] & 0x80, 0); /* servers do not mask */
	pl = buf[1] & 127;
	if(pl == 126) {
		if(len < 4)
			return 0;
		pl = (size_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if(pl == 127) {
		if(len < 10)
			return 0;
		for(pl = 0, i = 0; i < 8; i++)
			pl = pl << 8 | buf[2 + i];
		h = 10;
	}
	if(len < h + pl)
		return 0;
	*data = buf + h;
	*n = pl;
	return h + pl;
}

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Receives while pumping the loop until 'done' says the buffer is
 * complete, EOF, or 2 s. Returns bytes held; *eof set on EOF. */
static size_t raw_recv(struct fx *f, int fd, uint8_t *buf, size_t cap,
		size_t have, int (*done)(const uint8_t *, size_t), int *eof)
{
	double end = now_s() + 2;

	*eof = 0;
	while(!done(buf, have) && now_s() < end) {
		ssize_t r = recv(fd, buf + have, cap - have - 1, MSG_DONTWAIT);
		if(r > 0) {
			have += (size_t)r;
			buf[have] = 0;
			continue;
		}
		if(r == 0) {
			*eof = 1;
			break;
		}
		pump(f->base, 2);
	}
	return have;
}

static int head_done(const uint8_t *b, size_t n)
{
	return n >= 4 && strstr((const char *)b, "\r\n\r\n") != NULL;
}

static int frame_done(const uint8_t *b, size_t n)
{
	int fin, op;
	const uint8_t *d;
	size_t dn;

	return frame_parse(b, n, &fin, &op, &d, &dn) > 0;
}

static int never_done(const uint8_t *b, size_t n)
{
	return 0;
}

static int raw_connect(int port)
{
	struct sockaddr_in sin = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void accept_value(const char *key, char out[32])
{
	char in[128];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	assert_int_equal(
			EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL), 1);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

/* Raw client: upgrade by hand; returns the fd once 101 arrived */
static int raw_client_open(struct fx *f)
{
	static const char req[] = "GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
							  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
							  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
							  "Sec-WebSocket-Version: 13\r\n\r\n";
	uint8_t buf[2048];
	int fd = raw_connect(f->port), eof;
	size_t n;

	raw_send(fd, req, sizeof(req) - 1);
	n = raw_recv(f, fd, buf, sizeof(buf), 0, head_done, &eof);
	assert_true(head_done(buf, n));
	assert_memory_equal(buf, "HTTP/1.1 101 ", 13);
	/* the RFC 6455 example key and its accept value */
	assert_non_null(strstr((char *)buf,
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_true(run_until(f->base, &f->srv.opened, 1, 1000));
	return fd;
}

/* Reads one frame with the raw client */
static void raw_read_frame(
		struct fx *f, int fd, int *op, uint8_t *out, size_t *outlen)
{
	static uint8_t buf[1 << 17];
	static size_t have;
	static int last_fd = -1;
	const uint8_t *d;
	size_t used, n;
	int fin, eof;

	if(fd != last_fd) /* bytes left from another connection */
		have = 0;
	last_fd = fd;
	have = raw_recv(f, fd, buf, sizeof(buf), have, frame_done, &eof);
	used = frame_parse(buf, have, &fin, op, &d, &n);
	assert_true(used > 0);
	assert_int_equal(fin, 1);
	memcpy(out, d, n);
	*outlen = n;
	memmove(buf, buf + used, have - used);
	have -= used;
}

/* Raw server: a plain listening socket */
static int raw_listen(int *port)
{
	struct sockaddr_in sin = {0};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int raw_accept(struct fx *f, int lfd)
{
	double end = now_s() + 2;
	int fd;

	while((fd = accept(lfd, NULL, NULL)) < 0 && now_s() < end)
		pump(f->base, 2);
	assert_true(fd >= 0);
	return fd;
}

/* Raw server side of a client test: accepts, reads the request into
 * req, returns the fd */
static int raw_server_take(struct fx *f, int lfd, char *req, size_t cap)
{
	int fd = raw_accept(f, lfd), eof;
	size_t n = raw_recv(f, fd, (uint8_t *)req, cap, 0, head_done, &eof);

	assert_true(head_done((uint8_t *)req, n));
	return fd;
}

static void req_accept(const char *req, char out[32])
{
	const char *k = strstr(req, "Sec-WebSocket-Key: ");
	char key[32];

	assert_non_null(k);
	memcpy(key, k + 19, 24);
	key[24] = '\0';
	accept_value(key, out);
}

/* ---- tests: mw_ws against mw_ws ------------------------------------------ */

static void test_echo(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	uint8_t bin[256];
	double t0;
	int i;

	f->srv.greet = "hello from server";
	assert_int_equal(
			client(f, "/media?x=1", "audio.twilio.com, other", 0, NULL, NULL),
			0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_int_equal(f->srv.opened, 1);
	/* the server takes the client's first offer */
	assert_string_equal(mw_ws_subprotocol(f->cli.ws), "audio.twilio.com");
	assert_string_equal(mw_ws_subprotocol(f->srv.ws), "audio.twilio.com");
	/* a message sent from on_open, right behind the 101 */
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_true(f->cli.last_text);
	assert_string_equal((char *)f->cli.last, "hello from server");

	assert_int_equal(mw_ws_send_text(f->cli.ws, "ping?", 5), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 2, 2000));
	assert_true(f->cli.last_text);
	assert_int_equal(f->cli.last_len, 5);
	assert_memory_equal(f->cli.last, "ping?", 5);

	for(i = 0; i < 256; i++)
		bin[i] = (uint8_t)i;
	assert_int_equal(mw_ws_send_binary(f->cli.ws, bin, sizeof(bin)), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 3, 2000));
	assert_false(f->cli.last_text);
	assert_int_equal(f->cli.last_len, 256);
	assert_memory_equal(f->cli.last, bin, 256);
	/* empty message */
	assert_int_equal(mw_ws_send_binary(f->cli.ws, NULL, 0), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 4, 2000));
	assert_int_equal(f->cli.last_len, 0);

	/* normal close: both ends report the initiator's code and reason,
	 * without waiting for a timeout */
	t0 = now_s();
	assert_int_equal(mw_ws_close(f->cli.ws, 1000, "bye"), 0);
	assert_int_equal(mw_ws_send_text(f->cli.ws, "late", 4), -ENOTCONN);
	assert_int_equal(mw_ws_close(f->cli.ws, 1000, "again"), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_true(now_s() - t0 < 0.5);
	assert_int_equal(f->cli.code, 1000);
	assert_string_equal(f->cli.reason, "bye");
	assert_int_equal(f->srv.code, 1000);
	assert_string_equal(f->srv.reason, "bye");
	pump(f->base, 20);
	assert_int_equal(f->cli.closed, 1); /* once */
	assert_int_equal(f->srv.closed, 1);
	assert_int_equal(mw_ws_send_text(f->srv.ws, "x", 1), -ENOTCONN);
	fx_free(f);
}

static void test_close_codes(void **state)
{
	static const int bad[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000};
	struct fx *f = fx_new(NULL, 0);
	char longr[300];
	size_t i;

	assert_int_equal(client(f, "/", NULL, 0, NULL, NULL), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_string_equal(mw_ws_subprotocol(f->cli.ws), "");
	assert_true(run_until(f->base, &f->srv.opened, 1, 2000));
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mw_ws_close(f->srv.ws, bad[i], NULL), -EINVAL);
	/* server-initiated, application code, over-long reason truncated */
	memset(longr, 'r', sizeof(longr));
	longr[sizeof(longr) - 1] = '\0';
	assert_int_equal(mw_ws_close(f->srv.ws, 4000, longr), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_int_equal(f->cli.code, 4000);
	assert_int_equal(f->srv.code, 4000);
	assert_int_equal(strlen(f->cli.reason), 123);
	assert_int_equal(f->cli.opened, 1);
	fx_free(f);

	/* close without reason; "going away" */
	f = fx_new(NULL, 0);
	assert_int_equal(client(f, "/", NULL, 0, NULL, NULL), 0);
	assert_true(run_until(f->base, &f->srv.opened, 1, 2000));
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_int_equal(mw_ws_close(f->cli.ws, 1001, NULL), 0);
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_int_equal(f->srv.code, 1001);
	assert_int_equal(f->cli.code, 1001);
	fx_free(f);
}

static void test_max_message(void **state)
{
	struct fx *f = fx_new(NULL, 65536);
	uint8_t *big = malloc(65537);

	memset(big, 0x5a, 65537);
	assert_int_equal(client(f, "/", NULL, 0, NULL, NULL), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	/* exactly the limit passes */
	assert_int_equal(mw_ws_send_binary(f->cli.ws, big, 65536), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_int_equal(f->cli.last_len, 65536);
	/* one byte over: the server closes with 1009 */
	assert_int_equal(mw_ws_send_binary(f->cli.ws, big, 65537), 0);
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_int_equal(f->srv.code, 1009);
	assert_string_equal(f->srv.reason, "message too big");
	assert_int_equal(f->cli.code, 1009);
	assert_int_equal(f->srv.nmsg, 1);
	fx_free(f);

	/* the client enforces its own limit on what the server sends */
	f = fx_new(NULL, 0);
	assert_int_equal(client(f, "/", NULL, 100, NULL, NULL), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_int_equal(mw_ws_send_text(f->cli.ws, (char *)big, 100), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_int_equal(mw_ws_send_text(f->cli.ws, (char *)big, 101), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_int_equal(f->cli.code, 1009);
	assert_int_equal(f->srv.code, 1009);
	assert_int_equal(f->cli.nmsg, 1);
	fx_free(f);
	free(big);
}

static void test_pending(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	size_t n = 1 << 20;
	uint8_t *big = calloc(1, n);
	int i;

	assert_int_equal(client(f, "/", NULL, 0, NULL, NULL), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_int_equal(mw_ws_pending(f->cli.ws), 0);
	/* 16 MiB at once: more than the kernel's socket buffers take, so
	 * what was not written straight away is pending */
	for(i = 0; i < 16; i++)
		assert_int_equal(mw_ws_send_binary(f->cli.ws, big, n), 0);
	assert_true(mw_ws_pending(f->cli.ws) > 0);
	assert_true(mw_ws_pending(f->cli.ws) <= 16 * (n + 14));
	assert_true(run_until(f->base, &f->cli.nmsg, 16, 10000));
	assert_int_equal(f->cli.last_len, n);
	assert_int_equal(mw_ws_pending(f->cli.ws), 0);
	assert_int_equal(mw_ws_pending(f->srv.ws), 0);
	fx_free(f);
	free(big);
}

/* ---- tests: mw_ws server against a raw client ---------------------------- */

static void test_fragmented_and_ping(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	uint8_t fr[256], got[512];
	size_t n, glen;
	int fd, op, eof;
	double t0;

	fd = raw_client_open(f);
	/* "Hello, fragmented world" in three frames, a ping in between */
	n = frame_build(fr, 0, 0x1, "Hello, ", 7, 1);
	raw_send(fd, fr, n);
	n = frame_build(fr, 1, 0x9, "are you there", 13, 1);
	raw_send(fd, fr, n);
	n = frame_build(fr, 0, 0x0, "fragmented", 10, 1);
	raw_send(fd, fr, n);
	pump(f->base, 20);
	assert_int_equal(f->srv.nmsg, 0); /* not before the last fragment */
	n = frame_build(fr, 1, 0x0, " world", 6, 1);
	raw_send(fd, fr, n);

	raw_read_frame(f, fd, &op, got, &glen);
	assert_int_equal(op, 0xA); /* pong, same payload */
	assert_int_equal(glen, 13);
	assert_memory_equal(got, "are you there", 13);
	raw_read_frame(f, fd, &op, got, &glen);
	assert_int_equal(op, 0x1); /* the echo, as one text frame */
	assert_int_equal(glen, 23);
	assert_memory_equal(got, "Hello, fragmented world", 23);
	assert_int_equal(f->srv.nmsg, 1);
	assert_true(f->srv.last_text);

	/* close from the raw client: the server answers with the same code,
	 * reports it, and closes TCP */
	memcpy(fr + 200, "\x03\xe8ok", 4); /* 1000 "ok" */
	n = frame_build(fr, 1, 0x8, fr + 200, 4, 1);
	raw_send(fd, fr, n);
	raw_read_frame(f, fd, &op, got, &glen);
	assert_int_equal(op, 0x8);
	assert_true(glen >= 2);
	assert_int_equal(got[0] << 8 | got[1], 1000);
	/* the server half-closes at once, then waits for our EOF */
	raw_recv(f, fd, got, sizeof(got), 0, never_done, &eof);
	assert_true(eof);
	assert_int_equal(f->srv.closed, 0);
	t0 = now_s();
	close(fd);
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_true(now_s() - t0 < 0.5);
	assert_int_equal(f->srv.code, 1000);
	assert_string_equal(f->srv.reason, "ok");
	fx_free(f);
}

static void test_peer_drops(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	uint8_t fr[64], got[256];
	int fd = raw_client_open(f), op;
	size_t n, glen;

	/* a text frame that is not UTF-8: 1007 */
	n = frame_build(fr, 1, 0x1, "\xff\xfe", 2, 1);
	raw_send(fd, fr, n);
	raw_read_frame(f, fd, &op, got, &glen);
	assert_int_equal(op, 0x8);
	assert_int_equal(got[0] << 8 | got[1], 1007);
	close(fd);
	assert_true(run_until(f->base, &f->srv.closed, 1, 500));
	assert_int_equal(f->srv.code, 1007);
	fx_free(f);

	/* TCP closed without a close frame: 1006 */
	f = fx_new(NULL, 0);
	fd = raw_client_open(f);
	close(fd);
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_int_equal(f->srv.code, 1006);
	fx_free(f);

	/* an unmasked frame from a client is a protocol error: 1002 */
	f = fx_new(NULL, 0);
	fd = raw_client_open(f);
	n = frame_build(fr, 1, 0x1, "abc", 3, 0);
	raw_send(fd, fr, n);
	raw_read_frame(f, fd, &op, got, &glen);
	assert_int_equal(op, 0x8);
	assert_int_equal(got[0] << 8 | got[1], 1002);
	close(fd);
	assert_true(run_until(f->base, &f->srv.closed, 1, 500));
	assert_int_equal(f->srv.code, 1002);
	assert_int_equal(f->srv.nmsg, 0);
	fx_free(f);
}

static void test_server_rejects(void **state)
{
	static const char *const reqs[] = {
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
			"Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
			"Upgrade\r\nSec-WebSocket-Key: short\r\n"
			"Sec-WebSocket-Version: 13\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
			"Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 8\r\n\r\n",
			"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: "
			"Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
			"\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\r\n\r\n",
	};
	uint8_t buf[1024];
	size_t i, n;
	int fd, eof;

	for(i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct fx *f = fx_new(NULL, 0);
		fd = raw_connect(f->port);
		raw_send(fd, reqs[i], strlen(reqs[i]));
		n = raw_recv(f, fd, buf, sizeof(buf), 0, never_done, &eof);
		if(!eof)
			fail_msg("request %zu: no EOF after %zu bytes", i, n);
		assert_true(n > 12);
		assert_memory_equal(buf, "HTTP/1.1 400 ", 13);
		if(i == 3)
			assert_non_null(
					strstr((char *)buf, "Sec-WebSocket-Version: 13\r\n"));
		close(fd);
		assert_true(run_until(f->base, &f->srv.closed, 1, 500));
		assert_int_equal(f->srv.opened, 0);
		assert_int_equal(f->srv.code, 1006);
		assert_non_null(strstr(f->srv.reason, "bad upgrade request"));
		fx_free(f);
	}
}

static void test_server_head_limit(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	char *req = malloc(9000);
	uint8_t buf[512];
	int fd, eof;

	memset(req, 'a', 9000);
	fd = raw_connect(f->port);
	raw_send(fd, req, 9000);
	raw_recv(f, fd, buf, sizeof(buf), 0, never_done, &eof);
	assert_true(eof);
	assert_memory_equal(buf, "HTTP/1.1 400 ", 13);
	close(fd);
	assert_true(run_until(f->base, &f->srv.closed, 1, 500));
	assert_int_equal(f->srv.code, 1006);
	fx_free(f);
	free(req);
}

/* ---- tests: mw_ws client against a raw server ---------------------------- */

static void test_unoffered_subprotocol(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct mw_ws_client_opts o = {0};
	char url[128], req[4096], acc[32], resp[512];
	uint8_t fr[64];
	int lfd, fd, port;
	size_t n;

	lfd = raw_listen(&port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d?agent=a1#frag", port);
	o.url = url;
	o.subprotocols = "foo.bar ,baz";
	o.headers = "Authorization: Bearer t0k3n\r\nX-Trace: 1";
	assert_int_equal(
			mw_ws_connect(f->base, NULL, &o, &cbs, &f->cli, &f->cli.ws), 0);
	fd = raw_server_take(f, lfd, req, sizeof(req));
	/* the request as sent */
	assert_memory_equal(req, "GET /?agent=a1 HTTP/1.1\r\n", 25);
	snprintf(resp, sizeof(resp), "\r\nHost: 127.0.0.1:%d\r\n", port);
	assert_non_null(strstr(req, resp));
	assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(req, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(
			strstr(req, "\r\nSec-WebSocket-Protocol: foo.bar, baz\r\n"));
	assert_non_null(strstr(req, "\r\nAuthorization: Bearer t0k3n\r\n"));
	assert_non_null(strstr(req, "\r\nX-Trace: 1\r\n\r\n"));
	/* the server picks a protocol that was not offered, and sends a
	 * frame in the same segment as the 101 */
	req_accept(req, acc);
	n = (size_t)snprintf(resp, sizeof(resp),
			"HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
			"connection: keep-alive, Upgrade\r\nsec-websocket-accept: %s\r\n"
			"Sec-WebSocket-Protocol: audio.twilio.com\r\n\r\n",
			acc);
	n += frame_build((uint8_t *)resp + n, 1, 0x1, "hi", 2, 0);
	raw_send(fd, resp, n);
	assert_true(run_until(f->base, &f->cli.opened, 1, 2000));
	assert_string_equal(mw_ws_subprotocol(f->cli.ws), "audio.twilio.com");
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_string_equal((char *)f->cli.last, "hi");
	/* the client masks what it sends */
	assert_int_equal(mw_ws_send_text(f->cli.ws, "yo", 2), 0);
	pump(f->base, 20);
	n = (size_t)recv(fd, fr, sizeof(fr), MSG_DONTWAIT);
	assert_int_equal(n, 8);
	assert_int_equal(fr[0], 0x81);
	assert_int_equal(fr[1], 0x82);
	assert_int_equal(fr[6] ^ fr[2], 'y');
	assert_int_equal(fr[7] ^ fr[3], 'o');
	/* the server vanishes: 1006 */
	close(fd);
	assert_true(run_until(f->base, &f->cli.closed, 1, 2000));
	assert_int_equal(f->cli.code, 1006);
	close(lfd);
	fx_free(f);
}

static void test_bad_responses(void **state)
{
	static const struct
	{
		const char *resp; /* %s: a correct accept value */
		const char *why;
	} cases[] = {
			{"garbage\r\n\r\n", "malformed"},
			{"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403"},
			{"HTTP/1.1 503 Service Unavailable\r\n\r\n", "503"},
			{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n%.0s",
					"Accept"},
			{"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n\r\n",
					"Upgrade"},
			{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
					"extension"},
			{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nno colon here\r\n\r\n",
					"malformed"},
			{"HTTP/1.0 101 OK\r\n\r\n", "status"},
			{"", "closed"},
	};
	char req[4096], acc[32], resp[512];
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f = fx_new(NULL, 0);
		struct mw_ws_client_opts o = {0};
		char url[64];
		int lfd, fd, port;

		lfd = raw_listen(&port);
		snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
		o.url = url;
		assert_int_equal(
				mw_ws_connect(f->base, NULL, &o, &cbs, &f->cli, &f->cli.ws), 0);
		fd = raw_server_take(f, lfd, req, sizeof(req));
		req_accept(req, acc);
		snprintf(resp, sizeof(resp), cases[i].resp, acc);
		if(resp[0] != '\0')
			raw_send(fd, resp, strlen(resp));
		else
			close(fd);
		assert_true(run_until(f->base, &f->cli.closed, 1, 2000));
		assert_int_equal(f->cli.opened, 0);
		assert_int_equal(f->cli.code, 1006);
		if(strstr(f->cli.reason, cases[i].why) == NULL)
			fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, f->cli.reason,
					cases[i].why);
		if(resp[0] != '\0')
			close(fd);
		close(lfd);
		fx_free(f);
	}
}

static void test_response_head_limit(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct mw_ws_client_opts o = {0};
	char url[64], req[4096], *junk = malloc(9000);
	int lfd, fd, port;

	lfd = raw_listen(&port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
	o.url = url;
	assert_int_equal(
			mw_ws_connect(f->base, NULL, &o, &cbs, &f->cli, &f->cli.ws), 0);
	fd = raw_server_take(f, lfd, req, sizeof(req));
	memset(junk, 'a', 9000);
	raw_send(fd, junk, 9000);
	assert_true(run_until(f->base, &f->cli.closed, 1, 2000));
	assert_int_equal(f->cli.code, 1006);
	assert_non_null(strstr(f->cli.reason, "too large"));
	close(fd);
	close(lfd);
	fx_free(f);
	free(junk);
}

static void test_timeout_and_refused(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct mw_ws_client_opts o = {0};
	char url[64], req[4096];
	int lfd, fd, port;
	double t0;

	/* a server that never answers */
	lfd = raw_listen(&port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
	o.url = url;
	o.connect_timeout_ms = 200;
	t0 = now_s();
	assert_int_equal(
			mw_ws_connect(f->base, NULL, &o, &cbs, &f->cli, &f->cli.ws), 0);
	fd = raw_server_take(f, lfd, req, sizeof(req));
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_int_equal(f->cli.code, 1006);
	assert_non_null(strstr(f->cli.reason, "timeout"));
	assert_true(now_s() - t0 < 1.5);
	close(fd);
	fx_free(f);

	/* nothing listens (the port we just closed): 1006, quickly */
	close(lfd);
	f = fx_new(NULL, 0);
	o.connect_timeout_ms = 5000;
	t0 = now_s();
	assert_int_equal(
			mw_ws_connect(f->base, NULL, &o, &cbs, &f->cli, &f->cli.ws), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_true(now_s() - t0 < 1.0);
	assert_int_equal(f->cli.code, 1006);
	assert_int_equal(f->cli.opened, 0);
	assert_non_null(strstr(f->cli.reason, "refused"));
	fx_free(f);

	/* mw_ws_close before the handshake completed */
	f = fx_new(NULL, 0);
	assert_int_equal(client(f, "/", NULL, 0, NULL, NULL), 0);
	assert_int_equal(mw_ws_close(f->cli.ws, 1000, NULL), 0);
	assert_int_equal(f->cli.closed, 0); /* never from inside the call */
	assert_true(run_until(f->base, &f->cli.closed, 1, 1000));
	assert_int_equal(f->cli.code, 1006);
	assert_int_equal(f->cli.opened, 0);
	pump(f->base, 20);
	assert_int_equal(f->cli.closed, 1);
	fx_free(f);
}

static void test_bad_args(void **state)
{
	static const char *const urls[] = {"http://x/", "ws://", "ws://:80/",
			"ws://h:0/", "ws://h:65536/", "ws://h:x/", "ws://u:p@h/",
			"ws://[::1/", "ws://[zz]/", "ws://h h/", "ws://h/a b",
			"ws://h/\x01", "ws:/h"};
	static const char *const hdrs[] = {"NoColon\r\n", "X: a\nY: b",
			"X: a\r\nY: b\rZ", "Bad Name: v", "Host: evil", ": v",
			"sec-websocket-key: x"};
	struct event_base *b = event_base_new();
	struct mw_ws_client_opts o = {0};
	struct mw_ws *ws = (struct mw_ws *)1;
	struct end e = {0};
	size_t i;

	o.url = "ws://127.0.0.1:1/";
	for(i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		o.url = urls[i];
		if(mw_ws_connect(b, NULL, &o, &cbs, &e, &ws) != -EINVAL)
			fail_msg("accepted url %s", urls[i]);
		assert_null(ws);
	}
	o.url = "ws://127.0.0.1:1/";
	for(i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		o.headers = hdrs[i];
		if(mw_ws_connect(b, NULL, &o, &cbs, &e, &ws) != -EINVAL)
			fail_msg("accepted headers %s", hdrs[i]);
	}
	o.headers = NULL;
	o.subprotocols = "a b";
	assert_int_equal(mw_ws_connect(b, NULL, &o, &cbs, &e, &ws), -EINVAL);
	o.subprotocols = NULL;
	o.url = "wss://127.0.0.1:1/"; /* wss needs an SSL_CTX */
	assert_int_equal(mw_ws_connect(b, NULL, &o, &cbs, &e, &ws), -EINVAL);
	assert_int_equal(mw_ws_connect(b, NULL, NULL, &cbs, &e, &ws), -EINVAL);
	assert_int_equal(mw_ws_accept(b, -1, NULL, 0, &cbs, &e, &ws), -EINVAL);
	assert_int_equal(mw_ws_send_text(NULL, "x", 1), -EINVAL);
	assert_int_equal(mw_ws_pending(NULL), 0);
	assert_string_equal(mw_ws_subprotocol(NULL), "");
	mw_ws_free(NULL);
	event_base_free(b);
}

/* ---- TLS ----------------------------------------------------------------- */

static EVP_PKEY *tls_key;
static X509 *tls_cert;

/* A self-signed P-256 certificate for localhost / 127.0.0.1, in memory */
static void make_cert(void)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_NAME *name;

	tls_key = EVP_EC_gen("P-256");
	assert_non_null(tls_key);
	tls_cert = X509_new();
	X509_set_version(tls_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(tls_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(tls_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(tls_cert), 3600);
	X509_set_pubkey(tls_cert, tls_key);
	name = X509_get_subject_name(tls_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
			(const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(tls_cert, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, tls_cert, tls_cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
			NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
	assert_non_null(ext);
	X509_add_ext(tls_cert, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(tls_cert, tls_key, EVP_sha256()) > 0);
}

static SSL_CTX *srv_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	assert_int_equal(SSL_CTX_use_certificate(c, tls_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(c, tls_key), 1);
	return c;
}

static SSL_CTX *cli_ctx(int trust)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if(trust)
		X509_STORE_add_cert(SSL_CTX_get_cert_store(c), tls_cert);
	return c;
}

static void test_tls(void **state)
{
	SSL_CTX *sc, *cc, *untrusted;
	struct mw_ws_client_opts o = {0};
	struct evdns_base *dns;
	char url[128];
	struct fx *f;

	make_cert();
	sc = srv_ctx();
	cc = cli_ctx(1);
	untrusted = cli_ctx(0);

	/* IP literal, certificate checked against IP:127.0.0.1 */
	f = fx_new(sc, 0);
	assert_int_equal(client(f, "/secure", "audio.twilio.com", 0, cc, NULL), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 3000));
	assert_string_equal(mw_ws_subprotocol(f->cli.ws), "audio.twilio.com");
	assert_int_equal(mw_ws_send_text(f->cli.ws, "over tls", 8), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_string_equal((char *)f->cli.last, "over tls");
	assert_int_equal(mw_ws_close(f->cli.ws, 1000, "done"), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_int_equal(f->cli.code, 1000);
	assert_int_equal(f->srv.code, 1000);
	assert_string_equal(f->srv.reason, "done");
	fx_free(f);

	/* a host name through evdns (hosts file), SNI and name check */
	f = fx_new(sc, 0);
	dns = evdns_base_new(f->base, 0);
	assert_non_null(dns);
	assert_int_equal(evdns_base_load_hosts(dns, NULL), 0);
	snprintf(url, sizeof(url), "wss://localhost:%d/", f->port);
	o.url = url;
	o.ssl_ctx = cc;
	o.connect_timeout_ms = 3000;
	assert_int_equal(
			mw_ws_connect(f->base, dns, &o, &cbs, &f->cli, &f->cli.ws), 0);
	assert_true(run_until(f->base, &f->cli.opened, 1, 3000));
	assert_int_equal(
			mw_ws_send_binary(f->cli.ws, (const uint8_t *)"\0\1", 2), 0);
	assert_true(run_until(f->base, &f->cli.nmsg, 1, 2000));
	assert_int_equal(f->cli.last_len, 2);
	/* the server disappears mid-session */
	end_free(&f->srv);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_int_equal(f->cli.code, 1006);
	evdns_base_free(dns, 0); /* before its event_base */
	fx_free(f);

	/* an untrusted certificate fails the handshake */
	f = fx_new(sc, 0);
	assert_int_equal(client(f, "/", NULL, 0, untrusted, NULL), 0);
	assert_true(run_until(f->base, &f->cli.closed, 1, 3000));
	assert_int_equal(f->cli.code, 1006);
	assert_int_equal(f->cli.opened, 0);
	assert_non_null(strstr(f->cli.reason, "TLS"));
	assert_true(run_until(f->base, &f->srv.closed, 1, 3000));
	assert_int_equal(f->srv.opened, 0);
	fx_free(f);

	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
	SSL_CTX_free(untrusted);
	X509_free(tls_cert);
	EVP_PKEY_free(tls_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_echo),
			cmocka_unit_test(test_close_codes),
			cmocka_unit_test(test_max_message),
			cmocka_unit_test(test_pending),
			cmocka_unit_test(test_fragmented_and_ping),
			cmocka_unit_test(test_peer_drops),
			cmocka_unit_test(test_server_rejects),
			cmocka_unit_test(test_server_head_limit),
			cmocka_unit_test(test_unoffered_subprotocol),
			cmocka_unit_test(test_bad_responses),
			cmocka_unit_test(test_response_head_limit),
			cmocka_unit_test(test_timeout_and_refused),
			cmocka_unit_test(test_bad_args),
			cmocka_unit_test(test_tls),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
