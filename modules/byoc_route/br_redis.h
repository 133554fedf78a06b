/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_redis.h -- the module's Redis client: one synchronous hiredis
 * connection per Kamailio process, a hard per-command timeout, and a
 * circuit breaker shared by all processes (in shm) so a dead Redis is not
 * hammered and no SIP worker waits on it longer than the timeout.
 */
#ifndef BR_REDIS_H
#define BR_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

typedef struct br_redis_cfg {
	char *url;			/* redis://[:password@]host[:port][/db] or unix:/path */
	int timeout_ms;		/* connect and command timeout (SIP path) */
	int load_timeout_ms; /* command timeout in the sync process (bulk loads) */
	int breaker_failures; /* consecutive failures that open the breaker */
	int breaker_open_ms;  /* how long it stays open before one retry */
} br_redis_cfg_t;

/* mod_init: parses the URL and allocates the shared breaker. */
int br_redis_mod_init(br_redis_cfg_t *cfg);
/* child_init: the connection is opened lazily on first use. */
void br_redis_child_init(int long_timeout);
void br_redis_mod_destroy(void);
/* Closes this process's connection (the main process before forking). */
void br_redis_close(void);

/* Runs one command. Returns the reply (caller frees it with
 * freeReplyObject) or NULL when Redis is unavailable: breaker open,
 * connect failure, timeout or I/O error. A REDIS_REPLY_ERROR reply is
 * returned as a reply (the connection is fine). Never blocks longer than
 * the configured timeout (twice when a dead pooled connection is
 * replaced). */
redisReply *br_redis_cmd(int argc, const char **argv, const size_t *lens);
/* printf-style convenience for fixed commands (no binary data). */
redisReply *br_redis_cmdf(const char *fmt, ...);

/* Pipelining: append n commands, then read n replies into 'out' (each
 * NULL on failure). Returns 0 when all replies arrived, -1 otherwise (the
 * replies that did arrive are still in 'out'). */
int br_redis_append(int argc, const char **argv, const size_t *lens);
int br_redis_get_replies(redisReply **out, int n);

/* 1 while the breaker is closed (or half-open). */
int br_redis_available(void);

/* Counters for the status RPC. */
typedef struct br_redis_stats {
	long long failures;		 /* commands that got no reply */
	long long breaker_opens; /* times the breaker opened */
	int open;				 /* 1 if open now */
	long long open_ms_left;
} br_redis_stats_t;
void br_redis_get_stats(br_redis_stats_t *st);

/* Monotonic milliseconds. */
long long br_now_ms(void);

#endif
