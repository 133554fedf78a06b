/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_probe.h -- SIP OPTIONS toward trunks through tm: on demand
 * (byoc.probe, which waits for the answer) and periodically from the sync
 * process for every outbound-enabled trunk, with hysteresis kept in Redis
 * so every proxy sees the same up/down state:
 *   byoc:v1:{t:<id>}:health  HASH state fails oks last_code last_rtt_ms updated
 *   byoc:v1:trunks_down      SET of trunk ids currently down
 */
#ifndef BR_PROBE_H
#define BR_PROBE_H

#include "lib/br_model.h"

int br_probe_mod_init(void);
void br_probe_mod_destroy(void);

typedef struct br_probe_result {
	int code;		   /* SIP status, 408 on timeout/transport failure */
	char reason[64];   /* reason phrase */
	int rtt_ms;		   /* request sent -> final reply */
} br_probe_result_t;

/* Sends OPTIONS to the trunk and waits (at most wait_ms) for the final
 * reply. 0 with *res filled, -1 if it could not be sent or timed out
 * waiting (res->code then 408). */
int br_probe_now(const br_trunk_t *t, int wait_ms, br_probe_result_t *res);

/* Sync process, once a second: sends due periodic probes and reports
 * finished ones to Redis (hysteresis in a Lua script). */
void br_probe_tick(void);

#endif
