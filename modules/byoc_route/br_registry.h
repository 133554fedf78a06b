/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_registry.h -- what the proxy knows about the rest of the cluster,
 * refreshed once a second by the sync process: the live media workers
 * (registry entries whose heartbeat TTL has not run out) and the outbound
 * trunks the health checks marked down.
 */
#ifndef BR_REGISTRY_H
#define BR_REGISTRY_H

#include "lib/br_model.h"

#define BR_MAX_WORKERS 256
#define BR_MAX_DOWN 1024

int br_registry_mod_init(void);
void br_registry_mod_destroy(void);

/* Sync process: re-reads workers and the down set from Redis. */
void br_registry_tick(void);

/* Picks the least-loaded live worker not listed in 'exclude' (ids
 * separated by commas, may be NULL) and counts the call against it until
 * the next refresh. Returns 0 with *out filled, -1 if none. */
int br_registry_pick(const char *exclude, br_worker_t *out);

/* 1 if health checks marked trunk 'id' down. */
int br_registry_trunk_down(const char *id);

typedef void (*br_worker_walk_fn)(const br_worker_t *w, uint32_t extra,
		void *ctx);
void br_registry_walk(br_worker_walk_fn fn, void *ctx);
unsigned br_registry_ndown(void);

#endif
