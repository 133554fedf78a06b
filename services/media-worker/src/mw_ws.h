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

struct mw_ws_cbs {
	void (*on_open)(struct mw_ws *ws, void *arg); /* handshake done */
	void (*on_message)(struct mw_ws *ws, int is_text, const uint8_t *data,
			size_t len, void *arg);
	/* code: the peer's close code, 1006 for an abnormal end; 'reason' is
	 * a short text (peer's reason or our diagnosis) */
	void (*on_close)(struct mw_ws *ws, int code, const char *reason,
			void *arg);
};

struct mw_ws_client_opts {
	const char *url;		   /* ws://host[:port]/path or wss://... */
	const char *headers;	   /* extra request headers "K: v\r\n...", or NULL */
	const char *subprotocols;  /* offered, comma-separated, or NULL */
	int connect_timeout_ms;	   /* TCP + TLS + HTTP upgrade */
	size_t max_message;		   /* larger incoming messages close with 1009 */
	struct ssl_ctx_st *ssl_ctx; /* for wss (verifies the peer), or NULL */
};

int mw_ws_connect(struct event_base *base, struct evdns_base *dns,
		const struct mw_ws_client_opts *o, const struct mw_ws_cbs *cbs,
		void *arg, struct mw_ws **out);

/* Server side: take over an accepted socket and answer the upgrade. */
int mw_ws_accept(struct event_base *base, evutil_socket_t fd,
		struct ssl_ctx_st *ssl_ctx, size_t max_message,
		const struct mw_ws_cbs *cbs, void *arg, struct mw_ws **out);

int mw_ws_send_text(struct mw_ws *ws, const char *data, size_t len);
int mw_ws_send_binary(struct mw_ws *ws, const uint8_t *data, size_t len);
/* Sends a close frame; on_close follows when the peer answers (or after
 * a short timeout). */
int mw_ws_close(struct mw_ws *ws, int code, const char *reason);
/* Bytes queued for sending (backpressure toward a slow peer). */
size_t mw_ws_pending(const struct mw_ws *ws);
/* The subprotocol the server selected ("" if none). */
const char *mw_ws_subprotocol(const struct mw_ws *ws);
void mw_ws_free(struct mw_ws *ws);

#endif
