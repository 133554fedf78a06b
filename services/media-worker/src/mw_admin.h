/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_admin.h -- the admin HTTP server (libevent evhttp) on the SIP
 * thread: GET /healthz (200 while every event loop ticks), /readyz (200
 * unless draining or the registry heartbeat is failing), /metrics
 * (Prometheus text, see mw_metrics.h).
 *
 * Ownership: main.c owns the server; it reads the thread table and the
 * status it is given, which must outlive it.
 */
#ifndef MW_ADMIN_H
#define MW_ADMIN_H

#include <stdint.h>

struct event_base;
struct mw_admin;
struct mw_status;
struct mw_thread;

int mw_admin_new(struct event_base *base, const char *ip, uint16_t port,
		const struct mw_thread *threads, unsigned nthreads,
		const struct mw_status *st, struct mw_admin **out);
void mw_admin_free(struct mw_admin *a);

#endif
