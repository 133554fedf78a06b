/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * byoc_route.c -- Kamailio glue of the byoc_route module: parameters,
 * cfg functions and their KEMI exports, process initialisation and the
 * "BYOC sync" process that keeps the configuration snapshot, the worker
 * registry, leases, statistics and trunk health in step with Redis.
 *
 * byoc_route is free software; you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the
 * Free Software Foundation; either version 2 of the License, or (at your
 * option) any later version.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"
#include "core/lvalue.h"
#include "core/kemi.h"
#include "core/mod_fix.h"
#include "core/pvar.h"
#include "core/sr_module.h"
#include "core/timer_proc.h"

#include "br_call.h"
#include "br_conf.h"
#include "br_lease.h"
#include "br_mod.h"
#include "br_msg.h"
#include "br_probe.h"
#include "br_redis.h"
#include "br_registry.h"
#include "br_rpc.h"
#include "br_stats.h"

MODULE_VERSION

int br_call_bind_dialog(void);

br_params_t br_p = {
		.redis =
				{
						.url = "redis://127.0.0.1:6379/0",
						.timeout_ms = 50,
						.load_timeout_ms = 5000,
						.breaker_failures = 3,
						.breaker_open_ms = 1000,
				},
		.lease =
				{
						.ttl = 90,
						.refresh = 30,
						.pending_timeout = 30,
						.fail_open = 0,
						.cluster_size = 1,
				},
		.secret_key_file = "",
		.auth_realm = str_init("byoc"),
		.unknown_source_drop = 0,
		.capacity_code = 503,
		.retry_after = 5,
		.worker_networks = "",
		.worker_secret = {0, 0},
		.sync_interval_ms = 100,
		.probe_interval = 30,
		.probe_down = 3,
		.probe_up = 2,
		.probe_from = str_init("sip:byoc-probe@byoc-edge.invalid"),
};
auth_api_s_t br_auth;
sl_api_t br_sl;
struct tm_binds br_tm;

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);

/* ---- cfg functions ------------------------------------------------------ */

/* Outcomes are returned to the native cfg as 1 (BR_OK) or -outcome, so a
 * function never returns 0 (which would end the script). */
static int to_cfg(int outcome)
{
	return outcome == BR_OK ? 1 : -outcome;
}

static int ki_byoc_inbound(sip_msg_t *msg)
{
	return to_cfg(br_inbound(msg));
}
static int w_byoc_inbound(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_inbound(msg);
}

static int ki_byoc_refuse(sip_msg_t *msg)
{
	return br_refuse(msg);
}
static int w_byoc_refuse(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_refuse(msg);
}

static int ki_byoc_release(sip_msg_t *msg)
{
	return br_release(msg);
}
static int w_byoc_release(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_release(msg);
}

static int ki_byoc_route_worker(sip_msg_t *msg)
{
	return to_cfg(br_route_worker(msg));
}
static int w_byoc_route_worker(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_route_worker(msg);
}

static int ki_byoc_outbound(sip_msg_t *msg)
{
	return to_cfg(br_outbound(msg));
}
static int w_byoc_outbound(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_outbound(msg);
}

static int ki_byoc_next_trunk(sip_msg_t *msg, int code)
{
	return to_cfg(br_next_trunk(msg, code));
}
static int w_byoc_next_trunk(sip_msg_t *msg, char *pcode, char *b)
{
	int code;
	if(fixup_get_ivalue(msg, (gparam_t *)pcode, &code) < 0)
		return -1;
	return ki_byoc_next_trunk(msg, code);
}

static int ki_byoc_auth_creds(sip_msg_t *msg)
{
	return br_auth_creds(msg);
}
static int w_byoc_auth_creds(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_auth_creds(msg);
}

static int ki_byoc_from_worker(sip_msg_t *msg)
{
	return br_msg_from_worker(msg) ? 1 : -1;
}
static int w_byoc_from_worker(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_from_worker(msg);
}

static int ki_byoc_known_source(sip_msg_t *msg)
{
	return br_known_source(msg);
}
static int w_byoc_known_source(sip_msg_t *msg, char *a, char *b)
{
	return ki_byoc_known_source(msg);
}

static int ki_byoc_is_worker_addr(sip_msg_t *msg, str *ip)
{
	return br_ip_is_worker(ip) ? 1 : -1;
}
static int w_byoc_is_worker_addr(sip_msg_t *msg, char *pip, char *b)
{
	str ip;
	if(fixup_get_svalue(msg, (gparam_t *)pip, &ip) < 0)
		return -1;
	return ki_byoc_is_worker_addr(msg, &ip);
}

static int rtpe_kind(str *kind)
{
	if(kind->len == 5 && strncmp(kind->s, "offer", 5) == 0)
		return 1;
	if(kind->len == 6 && strncmp(kind->s, "answer", 6) == 0)
		return 0;
	return -1;
}

/* byoc_rtpe_flags("offer"|"answer", "$var(f)") */
static int w_byoc_rtpe_flags(sip_msg_t *msg, char *pkind, char *pdst)
{
	str kind, flags;
	pv_value_t val;
	pv_spec_t *dst = (pv_spec_t *)pdst;
	int offer;

	if(fixup_get_svalue(msg, (gparam_t *)pkind, &kind) < 0
			|| (offer = rtpe_kind(&kind)) < 0) {
		LM_ERR("byoc_rtpe_flags: first parameter must be offer or answer\n");
		return -1;
	}
	if(br_rtpe_flags(msg, offer, &flags) < 0)
		return -1;
	memset(&val, 0, sizeof(val));
	val.flags = PV_VAL_STR;
	val.rs = flags;
	if(dst->setf(msg, &dst->pvp, (int)EQ_T, &val) < 0)
		return -1;
	return 1;
}

/* KEMI: returns the flags string */
static sr_kemi_xval_t _ki_xval;
static sr_kemi_xval_t *ki_byoc_rtpe_flags(sip_msg_t *msg, str *kind)
{
	str flags;
	int offer = rtpe_kind(kind);

	memset(&_ki_xval, 0, sizeof(_ki_xval));
	if(offer < 0 || br_rtpe_flags(msg, offer, &flags) < 0) {
		sr_kemi_xval_null(&_ki_xval, SR_KEMI_XVAL_NULL_EMPTY);
		return &_ki_xval;
	}
	_ki_xval.vtype = SR_KEMIP_STR;
	_ki_xval.v.s = flags;
	return &_ki_xval;
}

static cmd_export_t cmds[] = {
		{"byoc_inbound", (cmd_function)w_byoc_inbound, 0, 0, 0,
				REQUEST_ROUTE},
		{"byoc_refuse", (cmd_function)w_byoc_refuse, 0, 0, 0,
				REQUEST_ROUTE | FAILURE_ROUTE},
		{"byoc_release", (cmd_function)w_byoc_release, 0, 0, 0, ANY_ROUTE},
		{"byoc_route_worker", (cmd_function)w_byoc_route_worker, 0, 0, 0,
				REQUEST_ROUTE | FAILURE_ROUTE},
		{"byoc_outbound", (cmd_function)w_byoc_outbound, 0, 0, 0,
				REQUEST_ROUTE},
		{"byoc_next_trunk", (cmd_function)w_byoc_next_trunk, 1,
				fixup_igp_null, fixup_free_igp_null, FAILURE_ROUTE},
		{"byoc_auth_creds", (cmd_function)w_byoc_auth_creds, 0, 0, 0,
				FAILURE_ROUTE | REQUEST_ROUTE},
		{"byoc_from_worker", (cmd_function)w_byoc_from_worker, 0, 0, 0,
				ANY_ROUTE},
		{"byoc_known_source", (cmd_function)w_byoc_known_source, 0, 0, 0,
				ANY_ROUTE},
		{"byoc_is_worker_addr", (cmd_function)w_byoc_is_worker_addr, 1,
				fixup_spve_null, fixup_free_spve_null, ANY_ROUTE},
		{"byoc_rtpe_flags", (cmd_function)w_byoc_rtpe_flags, 2,
				fixup_spve_pvar, fixup_free_spve_pvar, ANY_ROUTE},
		{0, 0, 0, 0, 0, 0}};

static int param_worker_secret(modparam_t type, void *val);

static param_export_t params[] = {
		{"redis_url", PARAM_STRING, &br_p.redis.url},
		{"redis_timeout_ms", PARAM_INT, &br_p.redis.timeout_ms},
		{"redis_load_timeout_ms", PARAM_INT, &br_p.redis.load_timeout_ms},
		{"breaker_failures", PARAM_INT, &br_p.redis.breaker_failures},
		{"breaker_open_ms", PARAM_INT, &br_p.redis.breaker_open_ms},
		{"lease_ttl", PARAM_INT, &br_p.lease.ttl},
		{"lease_refresh", PARAM_INT, &br_p.lease.refresh},
		{"pending_timeout", PARAM_INT, &br_p.lease.pending_timeout},
		{"fail_open", PARAM_INT, &br_p.lease.fail_open},
		{"cluster_size", PARAM_INT, &br_p.lease.cluster_size},
		{"secret_key_file", PARAM_STRING, &br_p.secret_key_file},
		{"auth_realm", PARAM_STR, &br_p.auth_realm},
		{"unknown_source_drop", PARAM_INT, &br_p.unknown_source_drop},
		{"capacity_code", PARAM_INT, &br_p.capacity_code},
		{"retry_after", PARAM_INT, &br_p.retry_after},
		{"worker_networks", PARAM_STRING, &br_p.worker_networks},
		{"worker_secret", PARAM_STRING | PARAM_USE_FUNC, param_worker_secret},
		{"sync_interval_ms", PARAM_INT, &br_p.sync_interval_ms},
		{"probe_interval", PARAM_INT, &br_p.probe_interval},
		{"probe_down", PARAM_INT, &br_p.probe_down},
		{"probe_up", PARAM_INT, &br_p.probe_up},
		{"probe_from", PARAM_STR, &br_p.probe_from},
		{0, 0, 0}};

/* The secret may come from the environment (BYOC_WORKER_SECRET) so it
 * need not be written into the cfg; the modparam wins when both exist. */
static int param_worker_secret(modparam_t type, void *val)
{
	char *s = (char *)val;
	br_p.worker_secret.s = strdup(s);
	if(!br_p.worker_secret.s)
		return -1;
	br_p.worker_secret.len = strlen(s);
	return 0;
}

struct module_exports exports = {
		"byoc_route",	 /* module name */
		DEFAULT_DLFLAGS, /* dlopen flags */
		cmds,			 /* cfg functions */
		params,			 /* parameters */
		0,				 /* RPC: registered in mod_init */
		0,				 /* pseudo-variables */
		0,				 /* response function */
		mod_init,		 /* module init */
		child_init,		 /* per-child init */
		mod_destroy		 /* destroy */
};

/* clang-format off */
static sr_kemi_t sr_kemi_byoc_route_exports[] = {
	{ str_init("byoc_route"), str_init("inbound"), SR_KEMIP_INT,
		ki_byoc_inbound, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("refuse"), SR_KEMIP_INT,
		ki_byoc_refuse, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("release"), SR_KEMIP_INT,
		ki_byoc_release, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("route_worker"), SR_KEMIP_INT,
		ki_byoc_route_worker, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("outbound"), SR_KEMIP_INT,
		ki_byoc_outbound, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("next_trunk"), SR_KEMIP_INT,
		ki_byoc_next_trunk, { SR_KEMIP_INT, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("auth_creds"), SR_KEMIP_INT,
		ki_byoc_auth_creds, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("from_worker"), SR_KEMIP_INT,
		ki_byoc_from_worker, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("known_source"), SR_KEMIP_INT,
		ki_byoc_known_source, { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("is_worker_addr"), SR_KEMIP_INT,
		ki_byoc_is_worker_addr, { SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ str_init("byoc_route"), str_init("rtpe_flags"), SR_KEMIP_XVAL,
		ki_byoc_rtpe_flags, { SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE } },
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	sr_kemi_modules_add(sr_kemi_byoc_route_exports);
	return 0;
}

/* ---- init --------------------------------------------------------------- */

static int parse_worker_networks(void)
{
	char *s, *p, *tok, err[128];

	br_p.nworker_nets = 0;
	if(!br_p.worker_networks || !br_p.worker_networks[0])
		return 0;
	s = strdup(br_p.worker_networks);
	if(!s)
		return -1;
	for(p = s; (tok = strsep(&p, ", ")) != NULL;) {
		if(!*tok)
			continue;
		if(br_p.nworker_nets >= BR_MAX_WORKER_NETS
				|| br_net_parse(&br_p.worker_nets[br_p.nworker_nets], tok,
						   strlen(tok), err, sizeof(err))
						   < 0) {
			LM_ERR("worker_networks: '%s': %s\n", tok,
					br_p.nworker_nets >= BR_MAX_WORKER_NETS ? "too many"
															: err);
			free(s);
			return -1;
		}
		br_p.nworker_nets++;
	}
	free(s);
	return 0;
}

static int mod_init(void)
{
	char err[160];
	const char *env;
	int rc;

	if(br_p.redis.timeout_ms < 1 || br_p.lease.ttl < 2
			|| br_p.lease.refresh < 1 || br_p.lease.refresh >= br_p.lease.ttl
			|| br_p.lease.cluster_size < 1 || br_p.sync_interval_ms < 10
			|| (br_p.capacity_code != 503 && br_p.capacity_code != 486)) {
		LM_ERR("invalid parameters: need redis_timeout_ms >= 1, lease_ttl >= "
			   "2, 1 <= lease_refresh < lease_ttl, cluster_size >= 1, "
			   "sync_interval_ms >= 10, capacity_code 503 or 486\n");
		return -1;
	}
	if(parse_worker_networks() < 0)
		return -1;
	if(br_p.nworker_nets == 0)
		LM_WARN("worker_networks is empty: no request is treated as coming "
				"from a media worker (outbound calls are refused)\n");
	if(!br_p.worker_secret.len && (env = getenv("BYOC_WORKER_SECRET"))
			&& env[0]) {
		br_p.worker_secret.s = strdup(env);
		br_p.worker_secret.len = br_p.worker_secret.s ? strlen(env) : 0;
	}
	rc = br_secret_key_load(br_p.key, br_p.secret_key_file,
			getenv("BYOC_SECRET_KEY"), err, sizeof(err));
	br_p.have_key = rc == 0;
	if(rc < 0)
		LM_WARN("no secret key (%s): digest trunks cannot authenticate and "
				"secrets cannot be stored\n",
				err);

	if(load_tm_api(&br_tm) != 0) {
		LM_ERR("byoc_route needs the tm module\n");
		return -1;
	}
	if(sl_load_api(&br_sl) != 0) {
		LM_ERR("byoc_route needs the sl module\n");
		return -1;
	}
	if(auth_load_api(&br_auth) != 0) {
		LM_ERR("byoc_route needs the auth module\n");
		return -1;
	}
	if(br_redis_mod_init(&br_p.redis) < 0 || br_conf_mod_init() < 0
			|| br_stats_mod_init() < 0 || br_lease_mod_init(&br_p.lease) < 0
			|| br_registry_mod_init() < 0 || br_probe_mod_init() < 0)
		return -1;
	if(br_lease_bind_dialog() < 0 || br_call_bind_dialog() < 0)
		return -1;
	if(br_rpc_register() < 0)
		return -1;
	register_basic_timers(1);

	/* Load once before forking so SIP workers start with a configuration
	 * when Redis is up; then drop the connection (children must not share
	 * it). */
	br_redis_child_init(1);
	if(br_conf_reload(1) < 0)
		LM_WARN("configuration not loaded at start (Redis %s unreachable?); "
				"the sync process keeps trying, INVITEs get 503 until then\n",
				br_p.redis.url);
	br_redis_close();
	return 0;
}

/* "BYOC sync" process tick. */
static void br_sync_tick(unsigned int ticks, void *param)
{
	static long long last_ver, last_sec;
	long long now = br_now_ms();

	br_lease_tick();
	if(now - last_ver >= 200) {
		last_ver = now;
		br_conf_reload(0);
	}
	if(now - last_sec >= 1000) {
		last_sec = now;
		br_registry_tick();
		br_stats_flush();
		br_probe_tick();
	}
}

static int child_init(int rank)
{
	if(rank == PROC_INIT || rank == PROC_TCP_MAIN)
		return 0;
	if(rank == PROC_MAIN) {
		/* the interval of fork_basic_utimer is in microseconds */
		if(fork_basic_utimer(PROC_TIMER, "BYOC sync", 1, br_sync_tick, NULL,
				   br_p.sync_interval_ms * 1000)
				< 0) {
			LM_ERR("cannot start the BYOC sync process\n");
			return -1;
		}
		return 0;
	}
	/* SIP workers keep the short timeout; RPC and timer processes may
	 * wait for bulk reads */
	br_redis_child_init(rank == PROC_RPC || rank == PROC_TIMER);
	srand((unsigned)(time(NULL) ^ (my_pid() << 8)));
	return 0;
}

static void mod_destroy(void)
{
	/* children are gone: hand this proxy's leases back now instead of
	 * letting them expire */
	br_redis_child_init(1);
	br_lease_release_all();
	br_redis_close();
	br_probe_mod_destroy();
	br_registry_mod_destroy();
	br_lease_mod_destroy();
	br_stats_mod_destroy();
	br_conf_mod_destroy();
	br_redis_mod_destroy();
}
