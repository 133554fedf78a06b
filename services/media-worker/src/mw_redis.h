/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_redis.h -- one reconnecting asynchronous Redis connection (hiredis
 * with its libevent adapter) for the worker's clients that need a
 * connection of their own: the registry (heartbeat, agent lookups), the
 * outbound job consumer (its XREADGROUP blocks the connection for up to a
 * second) and the call records writer.
 * AUTH and SELECT come from the configuration; a lost connection is
 * retried with a backoff of 250 ms doubling to 5 s.
 *
 * Threading/ownership: the owner creates it on one event_base and uses it
 * only from that thread. Every command's callback is called exactly once:
 * with the reply, or with NULL when the connection failed or closed
 * (also from inside mw_redis_free, so owners must tolerate a NULL reply
 * while they are being freed).
 */
#ifndef MW_REDIS_H
#define MW_REDIS_H

#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

struct event_base;
struct mw_config;
struct mw_redis;

/* Called on the owner's thread when the connection comes up (up = 1,
 * AUTH/SELECT already queued) or goes down (up = 0). */
typedef void (*mw_redis_state_cb)(void *arg, int up);

/* 'name' names the connection in logs ("jobs", "records"). Connecting
 * starts at once. Returns 0 or -ENOMEM. */
int mw_redis_new(struct event_base *base, const struct mw_config *cfg,
		const char *name, mw_redis_state_cb cb, void *arg,
		struct mw_redis **out);
/* 1 while connected. */
int mw_redis_up(const struct mw_redis *r);
/* Sends a command (argv copied by hiredis; lens NULL: NUL-terminated).
 * Returns 0 (fn follows, never inside this call) or -ENOTCONN (fn is
 * not called). */
int mw_redis_cmd(struct mw_redis *r, redisCallbackFn *fn, void *priv, int argc,
		const char **argv, const size_t *lens);
/* Closes the connection: pending callbacks run now with a NULL reply. */
void mw_redis_free(struct mw_redis *r);

#endif
