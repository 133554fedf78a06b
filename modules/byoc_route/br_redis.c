/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_redis.c -- per-process hiredis connection with bounded timeouts and a
 * shared circuit breaker.
 *
 * hiredis 0.14 (Debian bookworm) has no async-with-timeout API usable from
 * Kamailio's process model, so each process keeps a blocking context with
 * SO_RCVTIMEO/SO_SNDTIMEO set by redisSetTimeout(). After any I/O error or
 * timeout the context is in an unknown state and is dropped; the next
 * command reconnects (unless the breaker is open).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dprint.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"
#include "core/mem/pkg.h"

#include "br_redis.h"

typedef struct br_breaker {
	gen_lock_t lock;
	int failures;		  /* consecutive */
	long long open_until; /* br_now_ms() deadline, 0 = closed */
	long long total_failures;
	long long opens;
} br_breaker_t;

static br_redis_cfg_t *_cfg;
static br_breaker_t *_brk; /* shm, owned by the main process */

/* parsed URL (pkg, read-only after mod_init, inherited by children) */
static char _host[256];
static int _port = 6379;
static char _unix_path[256];
static char _password[256];
static int _db;

/* this process's connection; owned here */
static redisContext *_ctx;
static int _long_timeout; /* 1 in the sync process */
static long long _last_log_ms;

long long br_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs at most once per second per process: a dead Redis must not flood
 * the log from every INVITE. */
#define BR_LOG_LIMITED(fmt, ...)                    \
	do {                                            \
		long long _n = br_now_ms();                 \
		if(_n - _last_log_ms >= 1000) {             \
			_last_log_ms = _n;                      \
			LM_ERR(fmt, ##__VA_ARGS__);             \
		}                                           \
	} while(0)

static int parse_url(const char *url)
{
	const char *p, *at, *slash, *colon, *end;
	size_t n;

	if(strncmp(url, "unix:", 5) == 0) {
		n = strlen(url + 5);
		if(n == 0 || n >= sizeof(_unix_path))
			return -1;
		memcpy(_unix_path, url + 5, n + 1);
		return 0;
	}
	if(strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	end = p + strlen(p);
	at = strchr(p, '@');
	if(at) {
		const char *pw = memchr(p, ':', at - p);
		pw = pw ? pw + 1 : p;
		n = at - pw;
		if(n >= sizeof(_password))
			return -1;
		memcpy(_password, pw, n);
		_password[n] = 0;
		p = at + 1;
	}
	slash = strchr(p, '/');
	if(slash) {
		char *e;
		long db = strtol(slash + 1, &e, 10);
		if(*e || db < 0 || db > 1000)
			return -1;
		_db = (int)db;
		end = slash;
	}
	colon = memchr(p, ':', end - p);
	if(colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if(e != end || port < 1 || port > 65535)
			return -1;
		_port = (int)port;
	} else {
		colon = end;
	}
	n = colon - p;
	if(n == 0 || n >= sizeof(_host))
		return -1;
	memcpy(_host, p, n);
	_host[n] = 0;
	return 0;
}

int br_redis_mod_init(br_redis_cfg_t *cfg)
{
	_cfg = cfg;
	if(parse_url(cfg->url) < 0) {
		LM_ERR("invalid redis_url '%s' (redis://[:pw@]host[:port][/db] or "
			   "unix:/path)\n",
				cfg->url);
		return -1;
	}
	_brk = shm_malloc(sizeof(*_brk));
	if(!_brk) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_brk, 0, sizeof(*_brk));
	lock_init(&_brk->lock);
	return 0;
}

void br_redis_child_init(int long_timeout)
{
	_long_timeout = long_timeout;
	_ctx = NULL;
}

void br_redis_close(void)
{
	if(_ctx) {
		redisFree(_ctx);
		_ctx = NULL;
	}
}

void br_redis_mod_destroy(void)
{
	br_redis_close();
	if(_brk) {
		shm_free(_brk);
		_brk = NULL;
	}
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* 0 if a command may be tried now. */
static int breaker_allow(void)
{
	long long now;
	int ok;

	if(!_brk)
		return -1;
	now = br_now_ms();
	lock_get(&_brk->lock);
	ok = (_brk->open_until == 0 || now >= _brk->open_until);
	if(ok && _brk->open_until) {
		/* half-open: let this one try, hold the others back for another
		 * period in case it fails too */
		_brk->open_until = now + _cfg->breaker_open_ms;
	}
	lock_release(&_brk->lock);
	return ok ? 0 : -1;
}

static void breaker_result(int success)
{
	lock_get(&_brk->lock);
	if(success) {
		_brk->failures = 0;
		_brk->open_until = 0;
	} else {
		_brk->total_failures++;
		if(++_brk->failures >= _cfg->breaker_failures) {
			if(_brk->open_until == 0)
				_brk->opens++;
			_brk->open_until = br_now_ms() + _cfg->breaker_open_ms;
		}
	}
	lock_release(&_brk->lock);
}

static void drop_ctx(const char *why)
{
	if(_ctx) {
		BR_LOG_LIMITED("redis: %s (%s), dropping the connection\n", why,
				_ctx->errstr[0] ? _ctx->errstr : "no detail");
		redisFree(_ctx);
		_ctx = NULL;
	}
}

static int connect_ctx(void)
{
	struct timeval tv = ms_tv(_cfg->timeout_ms);
	redisReply *r;

	if(_unix_path[0])
		_ctx = redisConnectUnixWithTimeout(_unix_path, tv);
	else
		_ctx = redisConnectWithTimeout(_host, _port, tv);
	if(!_ctx || _ctx->err) {
		BR_LOG_LIMITED("redis: cannot connect to %s: %s\n", _cfg->url,
				_ctx ? _ctx->errstr : "out of memory");
		if(_ctx)
			redisFree(_ctx);
		_ctx = NULL;
		return -1;
	}
	tv = ms_tv(_long_timeout ? _cfg->load_timeout_ms : _cfg->timeout_ms);
	if(redisSetTimeout(_ctx, tv) != REDIS_OK) {
		drop_ctx("cannot set the timeout");
		return -1;
	}
	redisEnableKeepAlive(_ctx);
	if(_password[0]) {
		r = redisCommand(_ctx, "AUTH %s", _password);
		if(!r || r->type == REDIS_REPLY_ERROR) {
			BR_LOG_LIMITED("redis: AUTH refused\n");
			if(r)
				freeReplyObject(r);
			drop_ctx("auth");
			return -1;
		}
		freeReplyObject(r);
	}
	if(_db) {
		r = redisCommand(_ctx, "SELECT %d", _db);
		if(!r || r->type == REDIS_REPLY_ERROR) {
			if(r)
				freeReplyObject(r);
			drop_ctx("select");
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

static int ensure_ctx(void)
{
	if(_ctx)
		return 0;
	return connect_ctx();
}

redisReply *br_redis_cmd(int argc, const char **argv, const size_t *lens)
{
	redisReply *r;
	int attempt;
	long long t0;

	if(breaker_allow() < 0)
		return NULL;
	for(attempt = 0; attempt < 2; attempt++) {
		int had_ctx = (_ctx != NULL);
		t0 = br_now_ms();
		if(ensure_ctx() < 0)
			break;
		r = redisCommandArgv(_ctx, argc, argv, lens);
		if(r) {
			breaker_result(1);
			return r;
		}
		drop_ctx("command failed");
		/* a pooled connection that Redis closed (restart, idle timeout)
		 * fails at once: retry once on a fresh one. A timeout is not
		 * retried: the budget is spent. */
		if(!had_ctx || br_now_ms() - t0 >= _cfg->timeout_ms / 2)
			break;
	}
	breaker_result(0);
	return NULL;
}

redisReply *br_redis_cmdf(const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	if(breaker_allow() < 0)
		return NULL;
	if(ensure_ctx() < 0) {
		breaker_result(0);
		return NULL;
	}
	va_start(ap, fmt);
	r = redisvCommand(_ctx, fmt, ap);
	va_end(ap);
	if(!r) {
		drop_ctx("command failed");
		breaker_result(0);
		return NULL;
	}
	breaker_result(1);
	return r;
}

/* Pipelined commands are only used outside the SIP path (sync process,
 * RPC), so a failed pipeline simply drops the connection; the following
 * br_redis_get_replies() then reports the failure. */
int br_redis_append(int argc, const char **argv, const size_t *lens)
{
	if(!_ctx && (breaker_allow() < 0 || ensure_ctx() < 0))
		return -1;
	if(redisAppendCommandArgv(_ctx, argc, argv, lens) != REDIS_OK) {
		drop_ctx("append failed");
		return -1;
	}
	return 0;
}

int br_redis_get_replies(redisReply **out, int n)
{
	int i, rc = 0;
	void *r;

	for(i = 0; i < n; i++)
		out[i] = NULL;
	if(!_ctx) {
		breaker_result(0);
		return -1;
	}
	for(i = 0; i < n; i++) {
		if(redisGetReply(_ctx, &r) != REDIS_OK) {
			rc = -1;
			break;
		}
		out[i] = r;
	}
	if(rc < 0) {
		drop_ctx("pipeline failed");
		breaker_result(0);
	} else {
		breaker_result(1);
	}
	return rc;
}

int br_redis_available(void)
{
	int ok;
	if(!_brk)
		return 0;
	lock_get(&_brk->lock);
	ok = _brk->open_until == 0 || br_now_ms() >= _brk->open_until;
	lock_release(&_brk->lock);
	return ok;
}

void br_redis_get_stats(br_redis_stats_t *st)
{
	long long now = br_now_ms();
	memset(st, 0, sizeof(*st));
	if(!_brk)
		return;
	lock_get(&_brk->lock);
	st->failures = _brk->total_failures;
	st->breaker_opens = _brk->opens;
	st->open = _brk->open_until != 0 && now < _brk->open_until;
	st->open_ms_left = st->open ? _brk->open_until - now : 0;
	lock_release(&_brk->lock);
}
