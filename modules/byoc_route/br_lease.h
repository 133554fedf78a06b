/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_lease.h -- cluster-wide call admission: a lease per call in a Redis
 * sorted set per trunk (member Call-ID, score = expiry in Redis server
 * milliseconds), taken atomically together with the trunk's CPS window by
 * one Lua script, refreshed while the dialog lives and removed when it
 * ends. A proxy that dies stops refreshing: its leases expire after at
 * most lease_ttl seconds and every other proxy's next admission purges
 * them.
 *
 * This proxy also keeps its own leases in a shared-memory table (to
 * refresh them, release them from dialog callbacks, and count them).
 */
#ifndef BR_LEASE_H
#define BR_LEASE_H

#include "core/str.h"
#include "lib/br_model.h"

typedef struct br_lease_cfg {
	int ttl;			  /* seconds a lease lives without refresh */
	int refresh;		  /* seconds between refreshes */
	int pending_timeout;  /* seconds an admitted call may go without a
							 dialog before its lease is given back */
	int fail_open;		  /* Redis down: 0 refuse (503), 1 admit within a
							 local share of the limits */
	int cluster_size;	  /* proxies sharing the limits (fail-open share) */
} br_lease_cfg_t;

int br_lease_mod_init(br_lease_cfg_t *cfg);
void br_lease_mod_destroy(void);

/*
 * Admits one call on 'trunk' under its concurrency and CPS limits.
 * Returns BR_OK, BR_OVER_CAPACITY, BR_OVER_CPS or BR_STORE_DOWN (enum
 * br_outcome); on BR_OVER_CPS '*retry_ms' says when a slot frees. On
 * BR_OK the call is in the local table as pending until its dialog is
 * created. Admitting a Call-ID that already holds a lease on the same
 * trunk refreshes it (retransmissions, spirals).
 */
int br_lease_admit(const br_trunk_t *trunk, const str *callid, int *retry_ms);

/* Gives the lease of 'callid' back: removed from the local table at
 * once, from Redis by the sync process within a tick. Idempotent: dialog
 * TERMINATED, FAILED, EXPIRED and DESTROY may all call it. */
void br_lease_release(const str *callid);

/* The trunk id currently leased by 'callid' into 'out'; 0 or -1. */
int br_lease_trunk(const str *callid, char out[BR_ID_MAX + 1]);

/* Registers the dialog callbacks (mod_init, after the dialog API). */
int br_lease_bind_dialog(void);

/* Sync process, every tick: send queued releases (pipelined); once a
 * second expire stale pending leases; every lease_refresh s refresh. */
void br_lease_tick(void);

/* Leases this proxy holds (all trunks, or one trunk when id != NULL). */
unsigned br_lease_count(const char *trunk_id);

/* Main process at shutdown: hand every local lease back. */
void br_lease_release_all(void);

#endif
