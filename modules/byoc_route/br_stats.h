/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_stats.h -- per-trunk outcome counters. SIP workers count in shared
 * memory (no Redis on the refusal path); the sync process adds the deltas
 * to the cluster-wide hashes byoc:v1:{t:<id>}:stats once a second.
 * Refusals that belong to no trunk (unknown source) count under "-".
 */
#ifndef BR_STATS_H
#define BR_STATS_H

#include <stdint.h>

#include "lib/br_snap.h"

#define BR_STATS_NOTRUNK "-"

int br_stats_mod_init(void);
void br_stats_mod_destroy(void);

/* Counts one outcome (enum br_outcome) for trunk 'id' (NULL = "-"). */
void br_stats_count(const char *id, int outcome);
/* Local active-lease gauge per trunk (used by the fail-open policy). */
void br_stats_active_add(const char *id, int delta);
uint32_t br_stats_active(const char *id);

/* Sync process: pushes pending deltas to Redis. */
void br_stats_flush(void);

typedef void (*br_stats_walk_fn)(const char *id, const uint64_t *totals,
		uint32_t active, void *ctx);
/* Calls fn for every trunk seen by this proxy, with local totals indexed by
 * outcome (BR_OUTCOME__MAX entries). */
void br_stats_walk(br_stats_walk_fn fn, void *ctx);

#endif
