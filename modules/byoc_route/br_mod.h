/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_mod.h -- module-wide parameters and the APIs bound from other
 * modules, shared by the byoc_route source files. Set in mod_init, read
 * only afterwards.
 */
#ifndef BR_MOD_H
#define BR_MOD_H

#include <stdint.h>

#include "core/str.h"
#include "modules/auth/api.h"
#include "modules/sl/sl.h"
#include "modules/tm/tm_load.h"

#include "lib/br_cidr.h"
#include "lib/br_secret.h"
#include "br_lease.h"
#include "br_redis.h"

#define BR_MAX_WORKER_NETS 16

typedef struct br_params {
	br_redis_cfg_t redis;
	br_lease_cfg_t lease;
	char *secret_key_file;	 /* hex key file; else env BYOC_SECRET_KEY */
	str auth_realm;			 /* realm of digest challenges to carriers */
	int unknown_source_drop; /* 1: drop silently instead of 403 */
	int capacity_code;		 /* 503 (default) or 486 */
	int retry_after;		 /* seconds in Retry-After of 503s */
	char *worker_networks;	 /* CIDRs our media workers send from */
	str worker_secret;		 /* shared secret in X-Byoc-Secret */
	int sync_interval_ms;	 /* sync process tick */
	int probe_interval;		 /* seconds between OPTIONS probes, 0 = off */
	int probe_down;			 /* failures that mark a trunk down */
	int probe_up;			 /* successes that mark it up again */
	str probe_from;			 /* From URI of OPTIONS probes */

	/* derived in mod_init */
	int nworker_nets;
	br_net_t worker_nets[BR_MAX_WORKER_NETS];
	uint8_t key[BR_SECRET_KEY_LEN];
	int have_key;
} br_params_t;

extern br_params_t br_p;
extern auth_api_s_t br_auth;
extern sl_api_t br_sl;
extern struct tm_binds br_tm;

#endif
