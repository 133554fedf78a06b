/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_clock.h -- the media clock of one event loop: every 20 ms session
 * clock of the loop (mw_media) is an entry of one hashed timing wheel
 * with 1 ms slots, driven by a single libevent timer.
 *
 * Why not one libevent timer per call: with hundreds of calls at
 * scattered phases the loop's earliest timeout changes on nearly every
 * iteration, and libevent re-arms its timerfd each time (5.6 % of a
 * loaded worker's CPU under perf at 300 calls, bench/worker.sh), and the
 * loop wakes up once per call every 20 ms. Here an entry keeps its phase
 * (its due time moves by whole periods), the wheel wakes at most once per
 * millisecond, and all entries of a slot run in one wake-up.
 *
 * Priority: the wheel's event runs before I/O that became ready in the
 * same iteration (libevent priorities, MW_CLOCK_PRIO_*), so a burst of
 * socket reads does not make the clocks behind it late -- unless the loop
 * has not served any I/O for MW_CLOCK_STARVE_NS (mw_clock_io_seen is
 * told by the RTP readers): strict priority would then starve I/O at
 * saturation, so the wheel yields and runs at I/O priority until reads
 * are served again. The base must have been given MW_CLOCK_PRIOS
 * priorities (mw_clock_base_init) before any event is added.
 *
 * Ownership: the loop's owner (mw_thread, or a test) creates and frees
 * the clock; entries are embedded in their owners (mw_media), which
 * remove them (mw_clock_del) before they are freed. One thread.
 */
#ifndef MW_CLOCK_H
#define MW_CLOCK_H

#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct mw_clock;

#define MW_CLOCK_PRIO_CLOCK 0
#define MW_CLOCK_PRIO_IO 1 /* libevent's default for 2 priorities */
#define MW_CLOCK_PRIOS 2
#define MW_CLOCK_SLOT_NS 1000000ull	  /* 1 ms */
#define MW_CLOCK_SLOTS 64u			  /* power of two, > 20 ms */
#define MW_CLOCK_STARVE_NS 2000000ull /* no I/O served this long: yield */
#define MW_CLOCK_SLACK_NS 50000ull	  /* a slot is served this early */
/* the most an entry runs before its due time: the rest of its slot plus
 * the slack (entries due on the 1 ms grid run at most the slack early) */
#define MW_CLOCK_EARLY_NS (MW_CLOCK_SLOT_NS + MW_CLOCK_SLACK_NS)

struct mw_clock_entry;
/* Runs when the entry is due ('now': CLOCK_MONOTONIC ns); the entry is
 * no longer scheduled: re-add it to keep it running. */
typedef void (*mw_clock_fn)(struct mw_clock_entry *e, uint64_t now);

/* Embedded in its owner; mw_clock_entry_init before use. */
struct mw_clock_entry
{
	TAILQ_ENTRY(mw_clock_entry) link; /* on a slot's list while pending */
	uint64_t due_ns;
	unsigned slot; /* its slot, MW_CLOCK_SLOTS: being served */
	int pending;
	mw_clock_fn fn;
};

/* Gives the base the priorities the clock uses: call right after
 * creating the base. Returns 0 or -errno. */
int mw_clock_base_init(struct event_base *base);

/* Returns 0 or -errno; *out is owned by the caller. */
int mw_clock_new(struct event_base *base, struct mw_clock **out);
/* Entries still scheduled are unlinked (their owners must still exist,
 * or have removed them with mw_clock_del). */
void mw_clock_free(struct mw_clock *c);
struct event_base *mw_clock_base(const struct mw_clock *c);

void mw_clock_entry_init(struct mw_clock_entry *e, mw_clock_fn fn);
/* Schedules (or reschedules) 'e' to run at due_ns; an entry may run up
 * to MW_CLOCK_EARLY_NS early, and is late only when the loop is. */
void mw_clock_add(
		struct mw_clock *c, struct mw_clock_entry *e, uint64_t due_ns);
void mw_clock_del(struct mw_clock *c, struct mw_clock_entry *e);
static inline int mw_clock_pending(const struct mw_clock_entry *e)
{
	return e->pending;
}

/* The loop served I/O at 'now' (see Priority above). */
void mw_clock_io_seen(struct mw_clock *c, uint64_t now);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mw_clock_now_ns(void);

#endif
