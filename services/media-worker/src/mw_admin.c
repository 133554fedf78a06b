/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_admin.c -- /healthz, /readyz, /metrics over evhttp (see mw_admin.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mw_admin.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_thread.h"

/* A loop that has not ticked (1 s timer) for this long is stuck. */
#define MW_STALL_MS 5000

struct mw_admin
{
	struct evhttp *http;
	const struct mw_thread *t;
	unsigned n;
	const struct mw_status *st;
};

static void reply(struct evhttp_request *req, int code, const char *reason,
		const char *ctype, struct evbuffer *body)
{
	evhttp_add_header(
			evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
			"no-store");
	evhttp_send_reply(req, code, reason, body);
}

static int loops_alive(const struct mw_admin *a, unsigned *stuck)
{
	int64_t now = mw_now_ms();
	unsigned i;

	for(i = 0; i < a->n; i++)
		if(now - atomic_load(&a->t[i].alive_ms) > MW_STALL_MS) {
			*stuck = i;
			return 0;
		}
	return 1;
}

static void http_cb(struct evhttp_request *req, void *arg)
{
	struct mw_admin *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	unsigned stuck = 0;
	size_t plen;

	if(!b) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	if(evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
			evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add_printf(b, "GET only\n");
		reply(req, 405, "Method Not Allowed", "text/plain", b);
		goto out;
	}
	plen = strcspn(uri, "?");
	if(plen == 8 && strncmp(uri, "/healthz", 8) == 0) {
		if(loops_alive(a, &stuck)) {
			evbuffer_add_printf(b, "ok\n");
			reply(req, 200, "OK", "text/plain", b);
		} else {
			evbuffer_add_printf(b, "event loop %u stalled\n", stuck);
			reply(req, 503, "Service Unavailable", "text/plain", b);
		}
	} else if(plen == 7 && strncmp(uri, "/readyz", 7) == 0) {
		if(atomic_load(&a->st->draining)) {
			evbuffer_add_printf(b, "draining\n");
			reply(req, 503, "Service Unavailable", "text/plain", b);
		} else if(!atomic_load(&a->st->registry_ok)) {
			evbuffer_add_printf(b, "not registered in redis\n");
			reply(req, 503, "Service Unavailable", "text/plain", b);
		} else if(!loops_alive(a, &stuck)) {
			evbuffer_add_printf(b, "event loop %u stalled\n", stuck);
			reply(req, 503, "Service Unavailable", "text/plain", b);
		} else {
			evbuffer_add_printf(b, "ready\n");
			reply(req, 200, "OK", "text/plain", b);
		}
	} else if(plen == 8 && strncmp(uri, "/metrics", 8) == 0) {
		mw_metrics_render(b, a->t, a->n, a->st);
		reply(req, 200, "OK", "text/plain; version=0.0.4", b);
	} else {
		evbuffer_add_printf(b, "try /healthz, /readyz or /metrics\n");
		reply(req, 404, "Not Found", "text/plain", b);
	}
out:
	evbuffer_free(b);
}

int mw_admin_new(struct event_base *base, const char *ip, uint16_t port,
		const struct mw_thread *threads, unsigned nthreads,
		const struct mw_status *st, struct mw_admin **out)
{
	struct mw_admin *a = calloc(1, sizeof(*a));

	*out = NULL;
	if(!a)
		return -ENOMEM;
	a->t = threads;
	a->n = nthreads;
	a->st = st;
	a->http = evhttp_new(base);
	if(!a->http) {
		free(a);
		return -ENOMEM;
	}
	/* bounded requests: probes and scrapes only */
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_max_body_size(a->http, 1024);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(a->http, http_cb, a);
	if(evhttp_bind_socket(a->http, ip, port) != 0) {
		MW_ERR("admin: cannot listen on %s:%u: %s", ip, port, strerror(errno));
		evhttp_free(a->http);
		free(a);
		return -EADDRINUSE;
	}
	*out = a;
	return 0;
}

void mw_admin_free(struct mw_admin *a)
{
	if(!a)
		return;
	evhttp_free(a->http);
	free(a);
}
