/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_redis.c -- a reconnecting asynchronous hiredis connection on a
 * libevent base (see mw_redis.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "mw_config.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_redis.h"

#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 5000

struct mw_redis
{
	struct event_base *base;
	const struct mw_config *cfg;
	char name[16];
	mw_redis_state_cb cb;
	void *arg;
	redisAsyncContext *ac; /* NULL while disconnected */
	int connected;
	int closing;
	int backoff_ms;
	struct event *retry;
};

static void retry_cb(evutil_socket_t fd, short what, void *arg);

static void schedule_retry(struct mw_redis *r)
{
	struct timeval tv;

	if(r->closing)
		return;
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : RECONNECT_MIN_MS;
	if(r->backoff_ms > RECONNECT_MAX_MS)
		r->backoff_ms = RECONNECT_MAX_MS;
	tv.tv_sec = r->backoff_ms / 1000;
	tv.tv_usec = (r->backoff_ms % 1000) * 1000;
	event_add(r->retry, &tv);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct mw_redis *r = ac->data;

	if(status != REDIS_OK) {
		MW_LOG_LIMIT(MW_LOG_WARN, "redis (%s): connect failed: %s", r->name,
				ac->errstr);
		MW_COUNT(MW_C_REDIS_ERRORS);
		r->ac = NULL; /* hiredis frees the context after this callback */
		r->connected = 0;
		schedule_retry(r);
		return;
	}
	MW_DBG("redis (%s) connected", r->name);
	r->connected = 1;
	r->backoff_ms = 0;
	if(r->cb)
		r->cb(r->arg, 1);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct mw_redis *r = ac->data;
	int was = r->connected;

	r->ac = NULL;
	r->connected = 0;
	if(r->closing)
		return;
	MW_WARN("redis (%s) disconnected%s%s", r->name,
			status == REDIS_OK ? "" : ": ",
			status == REDIS_OK ? "" : ac->errstr);
	MW_COUNT(MW_C_REDIS_ERRORS);
	if(was && r->cb)
		r->cb(r->arg, 0);
	schedule_retry(r);
}

static void setup_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *rep = reply;
	struct mw_redis *r = ac->data;

	/* AUTH / SELECT: a failure shows in the commands that follow too */
	if(rep && rep->type == REDIS_REPLY_ERROR) {
		MW_LOG_LIMIT(MW_LOG_ERR, "redis (%s): %s failed: %s", r->name,
				(const char *)priv, rep->str);
		MW_COUNT(MW_C_REDIS_ERRORS);
	}
}

static int start_connect(struct mw_redis *r)
{
	redisAsyncContext *ac;

	ac = redisAsyncConnect(r->cfg->redis_host, r->cfg->redis_port);
	if(!ac)
		return -ENOMEM;
	if(ac->err) {
		MW_LOG_LIMIT(MW_LOG_WARN, "redis (%s): %s", r->name, ac->errstr);
		redisAsyncFree(ac);
		return -ECONNREFUSED;
	}
	ac->data = r;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	r->ac = ac;
	/* queued now, sent first once connected */
	if(r->cfg->redis_password[0]) {
		const char *argv[2] = {"AUTH", r->cfg->redis_password};
		redisAsyncCommandArgv(ac, setup_reply_cb, "AUTH", 2, argv, NULL);
	}
	if(r->cfg->redis_db) {
		char db[16];
		const char *argv[2] = {"SELECT", db};
		snprintf(db, sizeof(db), "%u", r->cfg->redis_db);
		redisAsyncCommandArgv(ac, setup_reply_cb, "SELECT", 2, argv, NULL);
	}
	return 0;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_redis *r = arg;

	if(r->ac || r->closing)
		return;
	if(start_connect(r) < 0)
		schedule_retry(r);
}

int mw_redis_new(struct event_base *base, const struct mw_config *cfg,
		const char *name, mw_redis_state_cb cb, void *arg,
		struct mw_redis **out)
{
	struct mw_redis *r = calloc(1, sizeof(*r));

	*out = NULL;
	if(!r)
		return -ENOMEM;
	r->base = base;
	r->cfg = cfg;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->cb = cb;
	r->arg = arg;
	r->retry = event_new(base, -1, 0, retry_cb, r);
	if(!r->retry) {
		free(r);
		return -ENOMEM;
	}
	if(start_connect(r) < 0)
		schedule_retry(r);
	*out = r;
	return 0;
}

int mw_redis_up(const struct mw_redis *r)
{
	return r && r->ac && r->connected && !r->closing;
}

int mw_redis_cmd(struct mw_redis *r, redisCallbackFn *fn, void *priv, int argc,
		const char **argv, const size_t *lens)
{
	if(!mw_redis_up(r))
		return -ENOTCONN;
	if(redisAsyncCommandArgv(r->ac, fn, priv, argc, argv, lens) != REDIS_OK)
		return -ENOTCONN;
	return 0;
}

void mw_redis_free(struct mw_redis *r)
{
	if(!r)
		return;
	r->closing = 1;
	if(r->ac) {
		redisAsyncContext *ac = r->ac;
		r->ac = NULL;
		redisAsyncFree(ac); /* pending callbacks run with NULL */
	}
	if(r->retry)
		event_free(r->retry);
	free(r);
}
