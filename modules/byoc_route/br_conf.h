/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_conf.h -- the current configuration snapshot in shared memory:
 * loaded from Redis by the sync process whenever the config version
 * changes, swapped atomically, and read by SIP workers without locks held
 * during the decision (a reference count keeps a snapshot alive while a
 * worker uses it; the last user frees a replaced one).
 */
#ifndef BR_CONF_H
#define BR_CONF_H

#include <stdint.h>

#include "lib/br_snap.h"

typedef struct br_conf_ref br_conf_ref_t;

int br_conf_mod_init(void);
void br_conf_mod_destroy(void);

/* Takes a reference on the current snapshot; NULL when none has been
 * loaded yet (Redis unreachable since start). Pair with br_conf_put. */
br_conf_ref_t *br_conf_get(void);
const br_snap_t *br_conf_snap(const br_conf_ref_t *ref);
void br_conf_put(br_conf_ref_t *ref);

/* Reloads from Redis if the stored version differs from the loaded one
 * (or always when force). Returns 1 if a new snapshot was installed, 0 if
 * nothing changed, -1 on failure (the old snapshot stays). */
int br_conf_reload(int force);

typedef struct br_conf_info {
	uint64_t version;	 /* config version of the snapshot */
	uint32_t trunks, agents, dids;
	uint32_t skipped;	 /* malformed records left out of the snapshot */
	uint64_t skipped_total;
	uint64_t loads, load_failures;
	uint32_t load_ms;	 /* duration of the last load */
	uint64_t size;		 /* bytes of shm used by the snapshot */
	long long loaded_at; /* unix time */
} br_conf_info_t;
void br_conf_get_info(br_conf_info_t *info);

#endif
