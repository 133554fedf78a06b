/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_record.h -- the writer of the worker's Redis streams: call lifecycle
 * events (byoc:v1:events) and one final record per call
 * (byoc:v1:records), each XADD'ed with MAXLEN ~ N so the streams stay
 * bounded (docs/redis-schema.md). Runs on the SIP thread over a Redis
 * connection of its own.
 *
 * Delivery: every entry waits in a bounded queue until Redis accepted it;
 * entries sent when the connection drops are sent again after the
 * reconnect (an entry can therefore appear twice after a Redis failover;
 * consumers deduplicate by call_id + event). An entry Redis refuses with
 * an error is dropped and logged (sending it again would fail again).
 * When the queue is full the oldest entry is dropped and counted: memory
 * stays bounded while Redis is down for long.
 *
 * Ownership: main.c owns it (mw_record_new/free). Entries are copied.
 */
#ifndef MW_RECORD_H
#define MW_RECORD_H

#include <stddef.h>

struct event_base;
struct mw_config;
struct mw_record;

enum mw_record_stream
{
	MW_REC_EVENTS = 0, /* byoc:v1:events */
	MW_REC_RECORDS,	   /* byoc:v1:records */
	MW_REC__MAX
};

#define MW_RECORD_QUEUE_MAX 20000 /* entries waiting for Redis */
#define MW_RECORD_FIELDS_MAX 64	  /* field/value pairs per entry */

int mw_record_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_record **out);

/* Queues one entry of 'n' field/value pairs (kv[2i], kv[2i+1]; copied;
 * NULL values are written as ""). Returns 0, -EINVAL (n too large or 0)
 * or -ENOMEM. */
int mw_record_add(struct mw_record *r, enum mw_record_stream s,
		const char *const *kv, size_t n);

/* Entries not yet accepted by Redis. */
size_t mw_record_pending(const struct mw_record *r);

/* Calls done(arg) once the queue is empty, or after 'timeout_ms' (exit
 * path: the worker waits for its last records, but not forever). */
void mw_record_flush(struct mw_record *r, unsigned timeout_ms,
		void (*done)(void *), void *arg);

void mw_record_free(struct mw_record *r);

#endif
