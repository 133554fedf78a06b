/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_thread.h -- the worker's event loops: one libevent event_base per
 * thread, thread 0 being the process's main thread (SIP, registry, admin)
 * and threads 1..N-1 the media threads; a message queue per thread
 * (mutex-protected list plus an eventfd the loop watches, memcached's
 * handoff pattern) is the only way threads talk to each other.
 *
 * Ownership: mw_threads_init creates the thread table, owned by main.c
 * and freed by mw_threads_free after mw_threads_join. Each event_base is
 * touched only by its own thread. A posted message is owned by the
 * queue until its function runs on the receiving thread; 'obj' is
 * whatever the message kind says (usually a call whose half on the
 * receiving thread is owned by that thread).
 */
#ifndef MW_THREAD_H
#define MW_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct mw_clock;
struct evdns_base;
struct mw_metrics;
struct mw_thread;
struct mw_tmsg;

/* Runs on the receiving thread; 'data' is the copy made at post time
 * (NULL when len was 0) and is freed after the call. */
typedef void (*mw_thread_fn)(
		struct mw_thread *t, void *obj, void *data, size_t len);

struct mw_thread
{
	unsigned idx; /* 0 = SIP thread */
	struct event_base *base;
	struct mw_clock *clock; /* the loop's 20 ms media clocks */
	struct evdns_base *dns; /* media threads: AI host names */
	pthread_t tid;
	int started; /* a pthread was created (idx > 0) */
	int efd;	 /* eventfd: "the queue is not empty" */
	struct event *qev;
	struct event *tick;	  /* 1 s: liveness + per-thread upkeep */
	pthread_mutex_t lock; /* protects head/tail/qlen */
	struct mw_tmsg *head, *tail;
	unsigned qlen;
	_Atomic int64_t alive_ms;	/* last tick, CLOCK_MONOTONIC ms */
	unsigned ncalls;			/* calls placed here (SIP thread's view) */
	struct mw_metrics *metrics; /* this thread's counters */
	void (*on_tick)(struct mw_thread *t); /* optional upkeep, 1 s */
	void *user; /* per-thread state of the owner (calls) */
};

/* Creates 'n' threads' bases, queues and metrics (thread 0 on the
 * calling thread). Returns 0 or -errno; *out is an array of n. */
int mw_threads_init(unsigned n, struct mw_thread **out);
/* Starts threads 1..n-1 running their loops. */
int mw_threads_start(struct mw_thread *t, unsigned n);
/* Asks threads 1..n-1 to leave their loops, and waits for them. */
void mw_threads_join(struct mw_thread *t, unsigned n);
void mw_threads_free(struct mw_thread *t, unsigned n);

/* Queues fn(obj, copy of data) for thread 't'. Safe from any thread.
 * Returns 0 or -ENOMEM. */
int mw_thread_post(struct mw_thread *t, mw_thread_fn fn, void *obj,
		const void *data, size_t len);

/* The mw_thread the caller runs on (NULL outside the loops). */
struct mw_thread *mw_thread_self(void);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t mw_now_ms(void);

#endif
