/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_test_loop.h -- the event loop of a media unit test as the worker's
 * threads set it up: precise timers, the media clock's priorities and
 * the loop's media clock (mw_clock.h). One loop at a time per test program.
 */
#ifndef MW_TEST_LOOP_H
#define MW_TEST_LOOP_H

#include <event2/event.h>

#include "mw_clock.h"

static struct mw_clock *t_clk; /* the current loop's clock */

static inline struct event_base *t_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if(!ec)
		abort();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if(!base || mw_clock_base_init(base) < 0 || mw_clock_new(base, &t_clk) < 0)
		abort();
	return base;
}

static inline void t_base_free(struct event_base *base)
{
	mw_clock_free(t_clk);
	t_clk = NULL;
	event_base_free(base);
}

#endif
