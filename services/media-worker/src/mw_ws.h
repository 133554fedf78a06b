/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ws.h -- WebSocket connections (RFC 6455) over libevent bufferevents:
 * framing by wslay (libevent 2.1 has no WebSocket API), TLS by OpenSSL
 * through bufferevent_openssl. Client role for the media worker (to AI
 * backends, ws:// and wss://), server role for the reference agent and
 * tests.
 *
 * Ownership: the caller owns the struct mw_ws returned and frees it with
 * mw_ws_free, never from inside one of its callbacks (schedule it). The
 * close callback is the single place that reports the end of a
 * connection (handshake failure, peer close, I/O error, protocol error).
 * All functions return 0 or -errno.
 */
#ifndef MW_WS_H
#define MW_WS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct mw_ws;

struct mw_ws_cbs
{
	void (*on_open)(struct mw_ws *ws, void *arg); /* handshake done */
	void (*on_message)(struct mw_ws *ws, int is_text, const uint8_t *data,
			size_t len, void *arg);
	/* Called exactly once per connection that mw_ws_connect/accept
	 * returned (not after mw_ws_free), never from inside an mw_ws_*
	 * call (it runs from the event loop), also when the handshake fails.
	 * code: the closing handshake's code -- the peer's when the peer
	 * closed first (1005 if its frame had none), ours when we did
	 * (mw_ws_close, or 1002/1007/1009 when the peer broke the protocol,
	 * sent invalid UTF-8 or a message over max_message); 1006 for an
	 * abnormal end without close frames (DNS, connect, TLS, HTTP upgrade
	 * refused or malformed, timeout, TCP reset/EOF). 'reason': a short
	 * text (the close frame's reason, or our diagnosis, e.g.
	 * "handshake: HTTP/1.1 503 Service Unavailable"). */
	void (*on_close)(struct mw_ws *ws, int code, const char *reason, void *arg);
};

struct mw_ws_client_opts
{
	const char *url;			/* ws://host[:port]/path or wss://... */
	const char *headers;		/* extra request headers "K: v\r\n...", or NULL
								  (validated: token names, no CR/LF in
								  values, not the handshake's own) */
	const char *subprotocols;	/* offered, comma-separated, or NULL */
	int connect_timeout_ms;		/* TCP + TLS + HTTP upgrade; <= 0: 10 s */
	size_t max_message;			/* larger incoming messages close with 1009;
								  0: 4 MiB */
	struct ssl_ctx_st *ssl_ctx; /* required for wss (-EINVAL without); its
								  verify mode applies, the URL's host is
								  checked against the certificate and sent
								  as SNI */
};

/* Client side. 'dns' may be NULL only for IP-literal URLs (libevent then
 * resolves names with blocking getaddrinfo). Returns -EINVAL for a bad
 * URL/headers/subprotocol list; later failures arrive via on_close. */
int mw_ws_connect(struct event_base *base, struct evdns_base *dns,
		const struct mw_ws_client_opts *o, const struct mw_ws_cbs *cbs,
		void *arg, struct mw_ws **out);

/* Server side: take over an accepted socket and answer the upgrade (101,
 * or 400 and on_close(1006)). The socket is always taken: closed on
 * failure, by mw_ws_free otherwise. The server selects the first
 * subprotocol the client offers. TLS + request must complete in 10 s. */
int mw_ws_accept(struct event_base *base, evutil_socket_t fd,
		struct ssl_ctx_st *ssl_ctx, size_t max_message,
		const struct mw_ws_cbs *cbs, void *arg, struct mw_ws **out);

/* One unfragmented message each. Text must be valid UTF-8 (not checked).
 * -ENOTCONN unless open (also once a close was sent or received). */
int mw_ws_send_text(struct mw_ws *ws, const char *data, size_t len);
int mw_ws_send_binary(struct mw_ws *ws, const uint8_t *data, size_t len);
/* Sends a close frame (code 1000-1003, 1007-1011, 3000-4999, else -EINVAL;
 * reason cut to 123 bytes); on_close follows when the peer answers (or
 * after 2 s). Before the handshake completed: aborts, on_close(1006).
 * 0 when a close is already under way. */
int mw_ws_close(struct mw_ws *ws, int code, const char *reason);
/* Bytes queued for sending (backpressure toward a slow peer): nothing
 * bounds the queue but the caller watching this. */
size_t mw_ws_pending(const struct mw_ws *ws);
/* The subprotocol the server selected ("" if none). */
const char *mw_ws_subprotocol(const struct mw_ws *ws);
/* Anytime outside the connection's own callbacks; NULL is a no-op. */
void mw_ws_free(struct mw_ws *ws);

#endif
