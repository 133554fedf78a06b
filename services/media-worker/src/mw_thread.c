/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_thread.c -- one event_base per thread and the cross-thread message
 * queues (mutex list + eventfd), see mw_thread.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "mw_clock.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_thread.h"

/* Messages drained per wake-up before yielding to the loop (sockets and
 * timers of this thread must not starve behind a burst of handoffs). */
#define MW_QUEUE_BATCH 64

struct mw_tmsg
{
	struct mw_tmsg *next;
	mw_thread_fn fn;
	void *obj;
	size_t len;
	uint8_t data[]; /* copy of the poster's data */
};

static _Thread_local struct mw_thread *self;

struct mw_thread *mw_thread_self(void)
{
	return self;
}

int64_t mw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_thread *t = arg;
	struct mw_tmsg *batch, *m;
	uint64_t v;
	int n = 0;

	if(read(t->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		MW_LOG_LIMIT(MW_LOG_ERR, "thread %u: eventfd read: %s", t->idx,
				strerror(errno));
	for(;;) {
		pthread_mutex_lock(&t->lock);
		batch = t->head;
		if(batch) {
			t->head = batch->next;
			if(!t->head)
				t->tail = NULL;
			t->qlen--;
		}
		pthread_mutex_unlock(&t->lock);
		if(!batch)
			break;
		m = batch;
		m->fn(t, m->obj, m->len ? m->data : NULL, m->len);
		free(m);
		if(++n >= MW_QUEUE_BATCH) {
			/* more may be queued: wake ourselves again */
			v = 1;
			if(write(t->efd, &v, sizeof(v)) < 0) {
				/* the counter is not zero anyway */
			}
			break;
		}
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_thread *t = arg;

	atomic_store(&t->alive_ms, mw_now_ms());
	if(t->on_tick)
		t->on_tick(t);
}

int mw_thread_post(struct mw_thread *t, mw_thread_fn fn, void *obj,
		const void *data, size_t len)
{
	struct mw_tmsg *m = malloc(sizeof(*m) + len);
	uint64_t one = 1;
	int wake;

	if(!m)
		return -ENOMEM;
	m->next = NULL;
	m->fn = fn;
	m->obj = obj;
	m->len = len;
	if(len)
		memcpy(m->data, data, len);
	pthread_mutex_lock(&t->lock);
	wake = t->head == NULL;
	if(t->tail)
		t->tail->next = m;
	else
		t->head = m;
	t->tail = m;
	t->qlen++;
	pthread_mutex_unlock(&t->lock);
	/* an empty queue means the reader may be asleep; otherwise a wake-up
	 * is already pending */
	if(wake && write(t->efd, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int thread_setup(struct mw_thread *t, unsigned idx)
{
	struct timeval one_s = {1, 0};
	struct event_config *ec;

	t->idx = idx;
	t->efd = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->metrics = aligned_alloc(64, sizeof(struct mw_metrics));
	if(!t->metrics)
		return -ENOMEM;
	memset(t->metrics, 0, sizeof(*t->metrics));
	/* precise timers (CLOCK_MONOTONIC, timerfd): libevent's default, the
	 * coarse clock, wakes the 20 ms clocks late by up to a tick of the
	 * kernel's HZ; bench/worker.sh, same run and CPU: RTP due -> frame on
	 * the WebSocket p50 2.3 ms coarse, 0.2 ms precise, at 100 calls */
	ec = event_config_new();
	if(!ec)
		return -ENOMEM;
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	t->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if(!t->base)
		return -ENOMEM;
	if(mw_clock_base_init(t->base) < 0 || mw_clock_new(t->base, &t->clock) < 0)
		return -ENOMEM;
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if(t->efd < 0)
		return -errno;
	t->qev = event_new(t->base, t->efd, EV_READ | EV_PERSIST, queue_cb, t);
	t->tick = event_new(t->base, -1, EV_PERSIST, tick_cb, t);
	if(!t->qev || !t->tick)
		return -ENOMEM;
	if(event_add(t->qev, NULL) < 0 || event_add(t->tick, &one_s) < 0)
		return -EIO;
	atomic_store(&t->alive_ms, mw_now_ms());
	/* every loop may carry calls (thread 0 too when it is the only one) */
	t->dns = evdns_base_new(t->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if(!t->dns)
		MW_WARN("thread %u: no DNS resolver (resolv.conf?); AI URLs must use "
				"IP addresses",
				idx);
	return 0;
}

int mw_threads_init(unsigned n, struct mw_thread **out)
{
	struct mw_thread *t;
	unsigned i;
	int rc;

	*out = NULL;
	if(n == 0)
		return -EINVAL;
	t = calloc(n, sizeof(*t));
	if(!t)
		return -ENOMEM;
	for(i = 0; i < n; i++) {
		if((rc = thread_setup(&t[i], i)) < 0) {
			mw_threads_free(t, i + 1);
			return rc;
		}
	}
	/* thread 0 runs on the caller */
	self = &t[0];
	mw_metrics_self = t[0].metrics;
	*out = t;
	return 0;
}

static void *thread_main(void *arg)
{
	struct mw_thread *t = arg;

	self = t;
	mw_metrics_self = t->metrics;
	MW_DBG("thread %u: loop running", t->idx);
	event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
	MW_DBG("thread %u: loop left", t->idx);
	return NULL;
}

int mw_threads_start(struct mw_thread *t, unsigned n)
{
	unsigned i;
	int rc;

	for(i = 1; i < n; i++) {
		rc = pthread_create(&t[i].tid, NULL, thread_main, &t[i]);
		if(rc)
			return -rc;
		t[i].started = 1;
	}
	return 0;
}

static void stop_cb(struct mw_thread *t, void *obj, void *data, size_t len)
{
	event_base_loopbreak(t->base);
}

void mw_threads_join(struct mw_thread *t, unsigned n)
{
	unsigned i;

	for(i = 1; i < n; i++)
		if(t[i].started)
			mw_thread_post(&t[i], stop_cb, NULL, NULL, 0);
	for(i = 1; i < n; i++)
		if(t[i].started) {
			pthread_join(t[i].tid, NULL);
			t[i].started = 0;
		}
}

void mw_threads_free(struct mw_thread *t, unsigned n)
{
	unsigned i;
	struct mw_tmsg *m, *next;

	if(!t)
		return;
	for(i = 0; i < n; i++) {
		for(m = t[i].head; m; m = next) {
			next = m->next;
			free(m);
		}
		if(t[i].qev)
			event_free(t[i].qev);
		if(t[i].tick)
			event_free(t[i].tick);
		mw_clock_free(t[i].clock);
		if(t[i].dns)
			evdns_base_free(t[i].dns, 0);
		if(t[i].base)
			event_base_free(t[i].base);
		if(t[i].efd >= 0)
			close(t[i].efd);
		pthread_mutex_destroy(&t[i].lock);
		free(t[i].metrics);
	}
	if(self >= t && self < t + n) {
		self = NULL;
		mw_metrics_self = NULL;
	}
	free(t);
}
