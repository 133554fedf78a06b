/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_keys.h -- the Redis key names of the data model (docs/redis-schema.md).
 * Every key starts with the schema version prefix. Per-trunk runtime keys
 * (leases, CPS bucket, statistics, health) share the Redis Cluster hash tag
 * "{t:<id>}" so one Lua script may touch all of them.
 */
#ifndef BR_KEYS_H
#define BR_KEYS_H

#include <stddef.h>

#define BR_KEY_PREFIX "byoc:v1:"
#define BR_KEY_MAX 160

/* global keys */
#define BR_KEY_VERSION BR_KEY_PREFIX "config:version" /* INCR on change */
#define BR_KEY_CHANNEL BR_KEY_PREFIX "config"		   /* PUBLISH <version> */
#define BR_KEY_TRUNKS BR_KEY_PREFIX "trunks"		   /* SET of trunk ids */
#define BR_KEY_AGENTS BR_KEY_PREFIX "agents"		   /* SET of agent ids */
#define BR_KEY_DIDS BR_KEY_PREFIX "dids"			   /* SET of E.164 */
#define BR_KEY_WORKERS BR_KEY_PREFIX "workers"		   /* SET of worker ids */

enum br_key_kind {
	BR_K_TRUNK,		 /* byoc:v1:trunk:<id>          HASH */
	BR_K_TRUNK_DIDS, /* byoc:v1:trunk:<id>:dids     SET of E.164 */
	BR_K_AGENT,		 /* byoc:v1:agent:<id>          HASH */
	BR_K_DID,		 /* byoc:v1:did:<e164>          HASH */
	BR_K_WORKER,	 /* byoc:v1:worker:<id>         HASH with TTL */
	BR_K_LEASE,		 /* byoc:v1:{t:<id>}:lease      ZSET callid->expiry ms */
	BR_K_CPS,		 /* byoc:v1:{t:<id>}:cps        HASH token bucket */
	BR_K_STATS,		 /* byoc:v1:{t:<id>}:stats      HASH counters */
	BR_K_HEALTH		 /* byoc:v1:{t:<id>}:health     HASH probe state */
};

/* Writes the key of 'kind' for 'id' into buf. Returns the length, or
 * -ENOSPC, or -EINVAL for an empty id. */
int br_key(char *buf, size_t len, enum br_key_kind kind, const char *id);

#endif
