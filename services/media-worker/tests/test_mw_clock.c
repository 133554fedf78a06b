/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_clock.c -- the loop's media clock (timing wheel): entries run
 * no earlier than MW_CLOCK_EARLY_NS before their due time, keep their
 * phase and their order within a slot, can be removed from inside
 * another entry's run; past-due and far-future entries; an empty wheel
 * leaves the loop; the clock runs before I/O of the same iteration unless
 * the loop has not served I/O recently. No timing is asserted beyond
 * "not early".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "mw_clock.h"
#include "mw_test_loop.h"

#define PERIOD 20000000ull /* 20 ms */

struct ent
{
	struct mw_clock_entry e;
	uint64_t due[64]; /* due times of its runs */
	uint64_t at[64];  /* when they ran */
	unsigned runs, want;
	int id;				/* recorded in 'order' */
	struct ent *victim; /* removed from the wheel by this entry's run */
	int *order, *norder;
};

static struct ent *ent_of(struct mw_clock_entry *e)
{
	return (struct ent *)((char *)e - offsetof(struct ent, e));
}

static void run_cb(struct mw_clock_entry *e, uint64_t now)
{
	struct ent *x = ent_of(e);

	assert_false(mw_clock_pending(e));
	x->due[x->runs] = e->due_ns;
	x->at[x->runs] = now;
	x->runs++;
	if(x->order)
		x->order[(*x->norder)++] = x->id;
	if(x->victim) {
		mw_clock_del(t_clk, &x->victim->e);
		x->victim = NULL;
	}
	if(x->runs < x->want)
		mw_clock_add(t_clk, e, e->due_ns + PERIOD);
}

/* no run earlier than MW_CLOCK_EARLY_NS before its due time, due times
 * a whole number of periods apart */
static void check_runs(const struct ent *x, uint64_t first_due)
{
	unsigned i;

	for(i = 0; i < x->runs; i++) {
		assert_int_equal(x->due[i], first_due + i * PERIOD);
		assert_true(x->at[i] + MW_CLOCK_EARLY_NS >= x->due[i]);
	}
}

static void test_phases_kept(void **state)
{
	struct event_base *base = t_base_new();
	uint64_t t0 = mw_clock_now_ns() + 5 * MW_CLOCK_SLOT_NS;
	struct ent x[5];
	unsigned i;

	(void)state;
	memset(x, 0, sizeof(x));
	for(i = 0; i < 5; i++) {
		mw_clock_entry_init(&x[i].e, run_cb);
		x[i].want = 8;
		/* phases 0, 3.5, 7, 10.5, 14 ms: several per slot list */
		mw_clock_add(t_clk, &x[i].e, t0 + i * 3500000ull);
		assert_true(mw_clock_pending(&x[i].e));
	}
	/* the loop leaves when the wheel is empty: every entry ran 8 times */
	assert_int_equal(event_base_dispatch(base), 1);
	for(i = 0; i < 5; i++) {
		assert_int_equal(x[i].runs, 8);
		check_runs(&x[i], t0 + i * 3500000ull);
	}
	t_base_free(base);
}

static void test_slot_order_stable(void **state)
{
	struct event_base *base = t_base_new();
	/* four entries in one slot, added in this order */
	uint64_t t0 = (mw_clock_now_ns() / MW_CLOCK_SLOT_NS + 3) * MW_CLOCK_SLOT_NS;
	struct ent x[4];
	int order[20], n = 0, i;

	(void)state;
	memset(x, 0, sizeof(x));
	for(i = 0; i < 4; i++) {
		mw_clock_entry_init(&x[i].e, run_cb);
		x[i].want = 5;
		x[i].id = i;
		x[i].order = order;
		x[i].norder = &n;
		mw_clock_add(t_clk, &x[i].e, t0 + (uint64_t)i * 100000);
	}
	assert_int_equal(event_base_dispatch(base), 1);
	/* every period in the same order: each keeps its place in the slot */
	assert_int_equal(n, 20);
	for(i = 0; i < 20; i++)
		assert_int_equal(order[i], i % 4);
	t_base_free(base);
}

static void test_del_from_another_run(void **state)
{
	struct event_base *base = t_base_new();
	uint64_t t0 = mw_clock_now_ns() + 3 * MW_CLOCK_SLOT_NS;
	struct ent a, b, c;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	mw_clock_entry_init(&a.e, run_cb);
	mw_clock_entry_init(&b.e, run_cb);
	mw_clock_entry_init(&c.e, run_cb);
	a.want = b.want = c.want = 4;
	/* same slot: whichever runs first removes the other from the list
	 * being served; c is deleted before it ever runs */
	mw_clock_add(t_clk, &a.e, t0);
	mw_clock_add(t_clk, &b.e, t0 + 100000);
	mw_clock_add(t_clk, &c.e, t0 + 200000);
	a.victim = &b;
	b.victim = &a;
	mw_clock_del(t_clk, &c.e);
	mw_clock_del(t_clk, &c.e); /* twice: harmless */
	assert_false(mw_clock_pending(&c.e));
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(c.runs, 0);
	/* one of a/b ran 4 times, the other never */
	assert_int_equal(a.runs + b.runs, 4);
	assert_true(a.runs == 0 || b.runs == 0);
	t_base_free(base);
}

static void test_past_and_far(void **state)
{
	struct event_base *base = t_base_new();
	uint64_t now = mw_clock_now_ns();
	struct ent past, far;

	(void)state;
	memset(&past, 0, sizeof(past));
	memset(&far, 0, sizeof(far));
	mw_clock_entry_init(&past.e, run_cb);
	mw_clock_entry_init(&far.e, run_cb);
	past.want = far.want = 1;
	/* 50 ms in the past: runs at once; 150 ms ahead (more than one turn
	 * of the 64-slot wheel): not before its time */
	mw_clock_add(t_clk, &past.e, now - 50 * MW_CLOCK_SLOT_NS);
	mw_clock_add(t_clk, &far.e, now + 150 * MW_CLOCK_SLOT_NS);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(past.runs, 1);
	assert_int_equal(far.runs, 1);
	assert_true(far.at[0] + MW_CLOCK_EARLY_NS >= far.due[0]);
	assert_true(past.at[0] < far.at[0]);
	/* re-adding a scheduled entry moves it */
	far.want = 2;
	far.runs = 0;
	mw_clock_add(t_clk, &far.e, now + 500 * MW_CLOCK_SLOT_NS);
	mw_clock_add(t_clk, &far.e, mw_clock_now_ns() + 2 * MW_CLOCK_SLOT_NS);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(far.runs, 2);
	assert_true(far.at[1] < now + 500 * MW_CLOCK_SLOT_NS);
	t_base_free(base);
}

/* ---- priority ---- */

static int io_order[4], io_n;

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	char b[8];

	(void)what;
	(void)arg;
	(void)!read(fd, b, sizeof(b));
	io_order[io_n++] = 100; /* "I/O" */
}

/* One loop iteration with a socket readable and an entry past due:
 * which callback runs first. */
static int first_of_iteration(int io_recent)
{
	struct event_base *base = t_base_new();
	struct ent x;
	struct event *ev;
	int sv[2];
	struct timespec two_ms = {0, 2000000};

	memset(&x, 0, sizeof(x));
	io_n = 0;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ev = event_new(base, sv[0], EV_READ | EV_PERSIST, io_cb, NULL);
	assert_int_equal(event_add(ev, NULL), 0);
	if(io_recent)
		mw_clock_io_seen(t_clk, mw_clock_now_ns());
	mw_clock_entry_init(&x.e, run_cb);
	x.want = 1;
	x.id = 1;
	x.order = io_order;
	x.norder = &io_n;
	mw_clock_add(t_clk, &x.e, mw_clock_now_ns() + MW_CLOCK_SLOT_NS);
	assert_int_equal(write(sv[1], "x", 1), 1);
	nanosleep(&two_ms, NULL); /* both ready before the iteration */
	nanosleep(&two_ms, NULL);
	/* libevent runs one priority's queue per iteration: loop until both
	 * ran (bounded) */
	for(int i = 0; i < 10 && io_n < 2; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(io_n, 2);
	event_free(ev);
	close(sv[0]);
	close(sv[1]);
	t_base_free(base);
	return io_order[0];
}

static void test_clock_before_io(void **state)
{
	(void)state;
	assert_int_equal(first_of_iteration(1), 1); /* the clock's entry */
}

static void test_clock_yields_when_io_starved(void **state)
{
	(void)state;
	/* no I/O served for longer than MW_CLOCK_STARVE_NS: same priority,
	 * libevent runs the I/O activated before the timers */
	assert_int_equal(first_of_iteration(0), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_phases_kept),
			cmocka_unit_test(test_slot_order_stable),
			cmocka_unit_test(test_del_from_another_run),
			cmocka_unit_test(test_past_and_far),
			cmocka_unit_test(test_clock_before_io),
			cmocka_unit_test(test_clock_yields_when_io_starved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
