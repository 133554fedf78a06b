/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_clock.c -- one loop's media clock: a hashed timing wheel of 1 ms
 * slots driven by a single libevent timer (see mw_clock.h). Hand-written:
 * libevent has timers but no wheel, and its common-timeout queues need
 * one shared duration, not one shared phase.
 */
#include "mw_clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#define SLOT_MASK (MW_CLOCK_SLOTS - 1)

TAILQ_HEAD(mw_clock_list, mw_clock_entry);

/* Owned by the loop's owner (mw_clock.h). */
struct mw_clock
{
	struct event_base *base;
	struct event *ev;
	/* FIFO per slot: a slot's entries run in a stable order, so each
	 * keeps its place (and its spacing) from one period to the next */
	struct mw_clock_list slot[MW_CLOCK_SLOTS];
	struct mw_clock_list serving; /* the slot clock_cb is running */
	uint64_t busy;				  /* bit i: slot[i] not empty */
	uint64_t cursor;	 /* every slot up to this ms number was served */
	uint64_t armed_ms;	 /* the timer's slot, 0: not armed */
	uint64_t io_seen_ns; /* mw_clock_io_seen */
	int running;		 /* inside clock_cb: it arms at its end */
};

uint64_t mw_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct mw_clock_list *list_of(struct mw_clock *c, unsigned slot)
{
	return slot < MW_CLOCK_SLOTS ? &c->slot[slot] : &c->serving;
}

static void unlink_entry(struct mw_clock *c, struct mw_clock_entry *e)
{
	struct mw_clock_list *l = list_of(c, e->slot);

	TAILQ_REMOVE(l, e, link);
	e->pending = 0;
	if(e->slot < MW_CLOCK_SLOTS && TAILQ_EMPTY(l))
		c->busy &= ~(1ull << e->slot);
}

static void link_entry(
		struct mw_clock *c, struct mw_clock_entry *e, uint64_t ms)
{
	unsigned i = (unsigned)(ms & SLOT_MASK);

	e->slot = i;
	e->pending = 1;
	TAILQ_INSERT_TAIL(&c->slot[i], e, link);
	c->busy |= 1ull << i;
}

/* The first slot after the cursor holding entries (an entry hashed there
 * may be due a round later: it is then skipped and kept). */
static uint64_t next_busy_ms(const struct mw_clock *c)
{
	unsigned from = (unsigned)((c->cursor + 1) & SLOT_MASK);
	uint64_t rot;

	if(!c->busy)
		return 0;
	rot = from ? (c->busy >> from) | (c->busy << (MW_CLOCK_SLOTS - from))
			   : c->busy;
	return c->cursor + 1 + (uint64_t)__builtin_ctzll(rot);
}

static void arm(struct mw_clock *c, uint64_t now)
{
	uint64_t ms = next_busy_ms(c), at, d;
	struct timeval tv;

	if(!ms) {
		if(c->armed_ms)
			evtimer_del(c->ev);
		c->armed_ms = 0;
		return;
	}
	at = ms * MW_CLOCK_SLOT_NS;
	d = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(d / 1000000000ull);
	tv.tv_usec = (suseconds_t)((d % 1000000000ull + 999) / 1000);
	/* the clocks go first unless they are starving the I/O */
	(void)event_priority_set(c->ev, now - c->io_seen_ns < MW_CLOCK_STARVE_NS
											? MW_CLOCK_PRIO_CLOCK
											: MW_CLOCK_PRIO_IO);
	/* libevent adds 'tv' to its time cached at the start of the loop
	 * iteration: refresh it, or the timer fires early by the time this
	 * iteration has run */
	event_base_update_cache_time(c->base);
	evtimer_add(c->ev, &tv);
	c->armed_ms = ms;
}

/* Serves every slot from the cursor to now, at most one full turn. */
static void clock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_clock *c = arg;
	uint64_t now = mw_clock_now_ns();
	/* a wake-up just before a slot's start serves the slot instead of
	 * arming the timer again for microseconds */
	uint64_t end = (now + MW_CLOCK_SLACK_NS) / MW_CLOCK_SLOT_NS, ms;

	(void)fd;
	(void)what;
	c->armed_ms = 0;
	c->running = 1;
	if(end > c->cursor + MW_CLOCK_SLOTS)
		c->cursor = end - MW_CLOCK_SLOTS; /* stalled: one turn is all */
	for(ms = c->cursor + 1; ms <= end; ms++) {
		unsigned i = (unsigned)(ms & SLOT_MASK);
		struct mw_clock_entry *e;

		c->cursor = ms;
		c->busy &= ~(1ull << i);
		if(TAILQ_EMPTY(&c->slot[i]))
			continue;
		/* serve the slot from a list of its own: entries (re)added
		 * meanwhile go to later slots, removals work as usual */
		TAILQ_CONCAT(&c->serving, &c->slot[i], link);
		TAILQ_FOREACH(e, &c->serving, link) {
			e->slot = MW_CLOCK_SLOTS;
		}
		while((e = TAILQ_FIRST(&c->serving)) != NULL) {
			unlink_entry(c, e);
			if(e->due_ns / MW_CLOCK_SLOT_NS > end)
				link_entry(c, e, ms); /* a later round of this slot */
			else
				e->fn(e, now);
		}
	}
	c->running = 0;
	arm(c, mw_clock_now_ns());
}

int mw_clock_base_init(struct event_base *base)
{
	return event_base_priority_init(base, MW_CLOCK_PRIOS) < 0 ? -EINVAL : 0;
}

int mw_clock_new(struct event_base *base, struct mw_clock **out)
{
	struct mw_clock *c;
	unsigned i;

	if(!base || !out)
		return -EINVAL;
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if(!c)
		return -ENOMEM;
	c->base = base;
	for(i = 0; i < MW_CLOCK_SLOTS; i++)
		TAILQ_INIT(&c->slot[i]);
	TAILQ_INIT(&c->serving);
	c->ev = evtimer_new(base, clock_cb, c);
	if(!c->ev) {
		free(c);
		return -ENOMEM;
	}
	c->cursor = mw_clock_now_ns() / MW_CLOCK_SLOT_NS;
	*out = c;
	return 0;
}

void mw_clock_free(struct mw_clock *c)
{
	unsigned i;

	if(!c)
		return;
	for(i = 0; i < MW_CLOCK_SLOTS; i++)
		while(!TAILQ_EMPTY(&c->slot[i]))
			unlink_entry(c, TAILQ_FIRST(&c->slot[i]));
	event_free(c->ev);
	free(c);
}

struct event_base *mw_clock_base(const struct mw_clock *c)
{
	return c->base;
}

void mw_clock_entry_init(struct mw_clock_entry *e, mw_clock_fn fn)
{
	e->due_ns = 0;
	e->slot = 0;
	e->pending = 0;
	e->fn = fn;
}

void mw_clock_add(struct mw_clock *c, struct mw_clock_entry *e, uint64_t due_ns)
{
	uint64_t ms = due_ns / MW_CLOCK_SLOT_NS;

	if(e->pending)
		unlink_entry(c, e);
	e->due_ns = due_ns;
	if(ms <= c->cursor)
		ms = c->cursor + 1; /* due already: the next slot served */
	link_entry(c, e, ms);
	if(!c->running && (!c->armed_ms || ms < c->armed_ms))
		arm(c, mw_clock_now_ns());
}

void mw_clock_del(struct mw_clock *c, struct mw_clock_entry *e)
{
	if(e->pending)
		unlink_entry(c, e);
}

void mw_clock_io_seen(struct mw_clock *c, uint64_t now)
{
	c->io_seen_ns = now;
}
