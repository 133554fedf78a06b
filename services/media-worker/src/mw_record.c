/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_record.c -- events and call records written to Redis streams with a
 * bounded retry queue (see mw_record.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "br_keys.h"
#include "mw_config.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_record.h"
#include "mw_redis.h"

#define HEAD_ARGS 5	   /* XADD <key> MAXLEN ~ <n> */
#define SEND_WINDOW 64 /* entries in flight at once */

static const char *const stream_keys[MW_REC__MAX] = {
		BR_KEY_PREFIX "events", BR_KEY_PREFIX "records"};

struct rec_entry
{
	struct rec_entry *next;
	struct mw_record *owner;
	enum mw_record_stream stream;
	int inflight; /* sent, reply not yet seen */
	int argc;
	char **argv; /* field/value pairs after the XADD head, one block */
};

struct mw_record
{
	struct mw_redis *redis;
	const struct mw_config *cfg;
	struct rec_entry *head, *tail; /* FIFO; the in-flight ones first */
	size_t n;
	unsigned inflight;
	int closing;
	char maxlen[24];
	struct event *kick;		/* deferred send */
	struct event *flush_to; /* flush timeout */
	void (*flushed)(void *);
	void *flushed_arg;
};

static void send_some(struct mw_record *r);

static void entry_free(struct rec_entry *e)
{
	free(e->argv);
	free(e);
}

static void check_flushed(struct mw_record *r)
{
	void (*done)(void *) = r->flushed;

	if(!done || r->n)
		return;
	r->flushed = NULL;
	event_del(r->flush_to);
	done(r->flushed_arg);
}

/* Removes 'e' (which the reply belongs to) from the queue. */
static void unlink_entry(struct mw_record *r, struct rec_entry *e)
{
	struct rec_entry **pp = &r->head, *prev = NULL;

	while(*pp && *pp != e) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(!*pp)
		return;
	*pp = e->next;
	if(r->tail == e)
		r->tail = prev;
	r->n--;
}

/* Errors that pass without anything changing on our side; the others
 * (WRONGTYPE, syntax) would fail again and drop the entry. */
static int transient(const char *err)
{
	static const char *const pre[] = {"LOADING", "READONLY", "MASTERDOWN",
			"BUSY", "TRYAGAIN", "CLUSTERDOWN", "OOM", "NOAUTH", "NOREPLICAS",
			"ERR max number of clients"};
	size_t i;

	for(i = 0; err && i < sizeof(pre) / sizeof(pre[0]); i++)
		if(strncmp(err, pre[i], strlen(pre[i])) == 0)
			return 1;
	return 0;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rec_entry *e = priv;
	struct mw_record *r = e->owner;
	redisReply *rep = reply;

	e->inflight = 0;
	if(r->inflight)
		r->inflight--;
	if(!rep)
		return; /* connection gone (or closing): the entry stays queued
				   and is sent again after the reconnect */
	if(rep->type == REDIS_REPLY_ERROR && transient(rep->str)) {
		/* Redis loading, a replica after a failover, out of memory...:
		 * the entry stays queued and is sent again in a second */
		MW_LOG_LIMIT(MW_LOG_WARN, "records: XADD %s deferred: %s",
				stream_keys[e->stream], rep->str);
		MW_COUNT(MW_C_REDIS_ERRORS);
		if(!evtimer_pending(r->kick, NULL)) {
			struct timeval one_s = {1, 0};
			evtimer_add(r->kick, &one_s);
		}
		return;
	}
	if(rep->type == REDIS_REPLY_ERROR) {
		MW_LOG_LIMIT(MW_LOG_ERR, "records: XADD %s refused: %s",
				stream_keys[e->stream], rep->str);
		MW_COUNT(MW_C_REDIS_ERRORS);
		MW_COUNT(MW_C_RECORDS_DROPPED);
	} else {
		MW_COUNT(MW_C_RECORDS_WRITTEN);
	}
	unlink_entry(r, e);
	entry_free(e);
	send_some(r);
	check_flushed(r);
}

static void send_some(struct mw_record *r)
{
	struct rec_entry *e;
	const char
			*argv[HEAD_ARGS + 1 + 2 * MW_RECORD_FIELDS_MAX]; /* + the id "*" */
	int i;

	if(r->closing || !mw_redis_up(r->redis))
		return;
	for(e = r->head; e && r->inflight < SEND_WINDOW; e = e->next) {
		if(e->inflight)
			continue;
		argv[0] = "XADD";
		argv[1] = stream_keys[e->stream];
		argv[2] = "MAXLEN";
		argv[3] = "~";
		argv[4] = r->maxlen;
		argv[5] = "*";
		for(i = 0; i < e->argc; i++)
			argv[HEAD_ARGS + 1 + i] = e->argv[i];
		if(mw_redis_cmd(r->redis, reply_cb, e, HEAD_ARGS + 1 + e->argc, argv,
				   NULL) < 0)
			return;
		e->inflight = 1;
		r->inflight++;
	}
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	send_some(arg);
}

static void state_cb(void *arg, int up)
{
	struct mw_record *r = arg;
	struct rec_entry *e;

	if(!up) {
		/* replies of the lost connection come back NULL; resend all */
		for(e = r->head; e; e = e->next)
			e->inflight = 0;
		r->inflight = 0;
		return;
	}
	if(r->n)
		MW_NOTICE("records: Redis is back, sending %zu queued entr%s", r->n,
				r->n == 1 ? "y" : "ies");
	send_some(r);
}

static void flush_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_record *r = arg;
	void (*done)(void *) = r->flushed;

	if(!done)
		return;
	MW_WARN("records: %zu entr%s not written to Redis at exit", r->n,
			r->n == 1 ? "y" : "ies");
	r->flushed = NULL;
	done(r->flushed_arg);
}

int mw_record_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_record **out)
{
	struct mw_record *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if(!r)
		return -ENOMEM;
	r->cfg = cfg;
	snprintf(r->maxlen, sizeof(r->maxlen), "%u", cfg->stream_maxlen);
	r->kick = event_new(base, -1, 0, kick_cb, r);
	r->flush_to = event_new(base, -1, 0, flush_timeout_cb, r);
	if(!r->kick || !r->flush_to) {
		mw_record_free(r);
		return -ENOMEM;
	}
	rc = mw_redis_new(base, cfg, "records", state_cb, r, &r->redis);
	if(rc < 0) {
		mw_record_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int mw_record_add(struct mw_record *r, enum mw_record_stream s,
		const char *const *kv, size_t n)
{
	struct rec_entry *e;
	size_t i, bytes = 0, ptrs;
	char *p;

	if(!r || n == 0 || n > MW_RECORD_FIELDS_MAX || s >= MW_REC__MAX)
		return -EINVAL;
	for(i = 0; i < 2 * n; i++)
		bytes += strlen(kv[i] ? kv[i] : "") + 1;
	/* one block: 2n pointers, then the strings */
	ptrs = 2 * n * sizeof(char *);
	e = calloc(1, sizeof(*e));
	if(!e)
		return -ENOMEM;
	e->argv = malloc(ptrs + bytes);
	if(!e->argv) {
		free(e);
		return -ENOMEM;
	}
	e->owner = r;
	e->stream = s;
	e->argc = (int)(2 * n);
	p = (char *)e->argv + ptrs;
	for(i = 0; i < 2 * n; i++) {
		size_t l = strlen(kv[i] ? kv[i] : "");
		memcpy(p, kv[i] ? kv[i] : "", l + 1);
		e->argv[i] = p;
		p += l + 1;
	}
	if(r->n >= MW_RECORD_QUEUE_MAX) {
		/* drop the oldest entry that is not on the wire */
		struct rec_entry *old = r->head;
		while(old && old->inflight)
			old = old->next;
		if(old) {
			unlink_entry(r, old);
			entry_free(old);
			MW_COUNT(MW_C_RECORDS_DROPPED);
			MW_LOG_LIMIT(MW_LOG_ERR,
					"records: %d entries waiting for Redis; dropping the "
					"oldest",
					MW_RECORD_QUEUE_MAX);
		}
	}
	if(r->tail)
		r->tail->next = e;
	else
		r->head = e;
	r->tail = e;
	r->n++;
	event_active(r->kick, 0, 0);
	return 0;
}

size_t mw_record_pending(const struct mw_record *r)
{
	return r ? r->n : 0;
}

void mw_record_flush(struct mw_record *r, unsigned timeout_ms,
		void (*done)(void *), void *arg)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			(suseconds_t)(timeout_ms % 1000) * 1000};

	if(!r || r->n == 0) {
		done(arg);
		return;
	}
	r->flushed = done;
	r->flushed_arg = arg;
	event_add(r->flush_to, &tv);
	send_some(r);
}

void mw_record_free(struct mw_record *r)
{
	struct rec_entry *e, *next;

	if(!r)
		return;
	r->closing = 1;
	/* reply callbacks run now with NULL and leave the entries queued */
	mw_redis_free(r->redis);
	for(e = r->head; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	if(r->kick)
		event_free(r->kick);
	if(r->flush_to)
		event_free(r->flush_to);
	free(r);
}
