/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_probe.c -- OPTIONS probes toward trunks via tm's UAC, on demand and
 * periodic, with the up/down decision made atomically in Redis.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/dprint.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"
#include "modules/tm/tm_load.h"

#include "lib/br_keys.h"
#include "lib/br_snap.h"
#include "br_conf.h"
#include "br_mod.h"
#include "br_probe.h"
#include "br_redis.h"

#define BR_PROBE_SLOTS 256

enum { SLOT_FREE = 0, SLOT_SENT = 1, SLOT_DONE = 2 };

typedef struct br_probe_slot {
	int state;
	int periodic; /* 1: report to Redis when done */
	unsigned gen; /* guards against a late callback on a reused slot */
	long long t0;
	char trunk[BR_ID_MAX + 1];
	br_probe_result_t res;
} br_probe_slot_t;

typedef struct br_probe_tab {
	gen_lock_t lock;
	br_probe_slot_t s[BR_PROBE_SLOTS];
} br_probe_tab_t;

static br_probe_tab_t *_pt; /* shm, owned by the main process */

/* KEYS[1] health hash, KEYS[2] down set; ARGV: trunk id, ok (1/0), code,
 * rtt ms, failures to mark down, successes to mark up. Returns the state
 * after this result ("up"/"down"). */
static const char BR_LUA_HEALTH[] =
		"local st = redis.call('HGET', KEYS[1], 'state') or 'up'\n"
		"local f, o = 0, 0\n"
		"if ARGV[2] == '1' then\n"
		"  o = redis.call('HINCRBY', KEYS[1], 'oks', 1)\n"
		"  redis.call('HSET', KEYS[1], 'fails', 0)\n"
		"  if st == 'down' and o >= tonumber(ARGV[6]) then st = 'up' end\n"
		"else\n"
		"  f = redis.call('HINCRBY', KEYS[1], 'fails', 1)\n"
		"  redis.call('HSET', KEYS[1], 'oks', 0)\n"
		"  if st == 'up' and f >= tonumber(ARGV[5]) then st = 'down' end\n"
		"end\n"
		"local t = redis.call('TIME')\n"
		"redis.call('HSET', KEYS[1], 'state', st, 'last_code', ARGV[3],\n"
		"  'last_rtt_ms', ARGV[4], 'updated', t[1])\n"
		"if st == 'down' then redis.call('SADD', KEYS[2], ARGV[1])\n"
		"else redis.call('SREM', KEYS[2], ARGV[1]) end\n"
		"return st\n";

int br_probe_mod_init(void)
{
	_pt = shm_malloc(sizeof(*_pt));
	if(!_pt) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_pt, 0, sizeof(*_pt));
	lock_init(&_pt->lock);
	return 0;
}

void br_probe_mod_destroy(void)
{
	if(_pt)
		shm_free(_pt);
	_pt = NULL;
}

/* tm callback (any process): the transaction is complete. */
static void probe_done_cb(struct cell *t, int type, struct tmcb_params *ps)
{
	unsigned long v = (unsigned long)*ps->param;
	int idx = (int)(v & 0xffff);
	unsigned gen = (unsigned)(v >> 16);
	br_probe_slot_t *s;

	if(idx < 0 || idx >= BR_PROBE_SLOTS)
		return;
	lock_get(&_pt->lock);
	s = &_pt->s[idx];
	if(s->state == SLOT_SENT && s->gen == gen) {
		s->res.code = ps->code;
		s->res.rtt_ms = (int)(br_now_ms() - s->t0);
		s->res.reason[0] = 0;
		if(ps->rpl && ps->rpl != FAKED_REPLY) {
			str *r = &ps->rpl->first_line.u.reply.reason;
			int n = r->len < 63 ? r->len : 63;
			memcpy(s->res.reason, r->s, n);
			s->res.reason[n] = 0;
		} else {
			strcpy(s->res.reason, "Request Timeout (no response)");
		}
		s->state = SLOT_DONE;
	}
	lock_release(&_pt->lock);
}

/* Claims a slot and sends the OPTIONS. Returns the slot or -1. */
static int probe_send(const br_trunk_t *t, int periodic)
{
	static str method = str_init("OPTIONS");
	static str hdrs = str_init("Max-Forwards: 70\r\n");
	char uri[BR_HOST_MAX + 64];
	str suri;
	uac_req_t uac_r;
	int i, idx = -1, n;
	unsigned gen = 0;
	const char *tp = "";

	lock_get(&_pt->lock);
	for(i = 0; i < BR_PROBE_SLOTS; i++)
		if(_pt->s[i].state == SLOT_FREE) {
			idx = i;
			_pt->s[i].state = SLOT_SENT;
			_pt->s[i].gen++;
			gen = _pt->s[i].gen & 0xffff;
			_pt->s[i].gen = gen;
			_pt->s[i].periodic = periodic;
			_pt->s[i].t0 = br_now_ms();
			strcpy(_pt->s[i].trunk, t->id);
			break;
		}
	lock_release(&_pt->lock);
	if(idx < 0)
		return -1;

	if(t->transport == BR_TP_TCP)
		tp = ";transport=tcp";
	else if(t->transport == BR_TP_TLS && !t->sips)
		tp = ";transport=tls";
	n = snprintf(uri, sizeof(uri), "%s:%s%s%s:%u%s", t->sips ? "sips" : "sip",
			strchr(t->host, ':') ? "[" : "", t->host,
			strchr(t->host, ':') ? "]" : "", t->port, tp);
	suri.s = uri;
	suri.len = n;
	set_uac_req(&uac_r, &method, &hdrs, 0, 0, TMCB_LOCAL_COMPLETED,
			probe_done_cb, (void *)(unsigned long)(idx | (gen << 16)));
	if(br_tm.t_request(&uac_r, &suri, &suri, &br_p.probe_from, 0) < 0) {
		lock_get(&_pt->lock);
		_pt->s[idx].res.code = 408;
		strcpy(_pt->s[idx].res.reason, "Cannot Send Request");
		_pt->s[idx].res.rtt_ms = 0;
		_pt->s[idx].state = SLOT_DONE;
		lock_release(&_pt->lock);
	}
	return idx;
}

int br_probe_now(const br_trunk_t *t, int wait_ms, br_probe_result_t *res)
{
	int idx, done = 0;
	long long deadline = br_now_ms() + wait_ms;

	idx = probe_send(t, 0);
	if(idx < 0)
		return -1;
	while(!done && br_now_ms() < deadline) {
		lock_get(&_pt->lock);
		if(_pt->s[idx].state == SLOT_DONE) {
			*res = _pt->s[idx].res;
			_pt->s[idx].state = SLOT_FREE;
			done = 1;
		}
		lock_release(&_pt->lock);
		if(!done)
			usleep(2000);
	}
	if(!done) {
		/* tm gives up at fr_timer; the slot is recycled by its callback */
		lock_get(&_pt->lock);
		_pt->s[idx].state = SLOT_FREE;
		lock_release(&_pt->lock);
		res->code = 408;
		strcpy(res->reason, "No Final Response In Time");
		res->rtt_ms = wait_ms;
		return -1;
	}
	return 0;
}

static void report(const char *trunk, const br_probe_result_t *r)
{
	char kh[BR_KEY_MAX], ok[2], code[8], rtt[16], sd[8], su[8];
	const char *argv[11];
	redisReply *rep;

	if(br_key(kh, sizeof(kh), BR_K_HEALTH, trunk) < 0)
		return;
	/* any final answer proves the trunk is reachable and talking SIP
	 * (many carriers answer OPTIONS with 403/404/405); timeouts and
	 * transport errors (tm's local 408) and 5xx/6xx count as failures */
	ok[0] = (r->code >= 200 && r->code < 500 && r->code != 408) ? '1' : '0';
	ok[1] = 0;
	snprintf(code, sizeof(code), "%d", r->code);
	snprintf(rtt, sizeof(rtt), "%d", r->rtt_ms);
	snprintf(sd, sizeof(sd), "%d", br_p.probe_down);
	snprintf(su, sizeof(su), "%d", br_p.probe_up);
	argv[0] = "EVAL";
	argv[1] = BR_LUA_HEALTH;
	argv[2] = "2";
	argv[3] = kh;
	argv[4] = BR_KEY_PREFIX "trunks_down";
	argv[5] = trunk;
	argv[6] = ok;
	argv[7] = code;
	argv[8] = rtt;
	argv[9] = sd;
	argv[10] = su;
	rep = br_redis_cmd(11, argv, NULL);
	if(rep) {
		if(rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "down") == 0
				&& ok[0] == '0')
			LM_NOTICE("trunk %s health: down (last probe %d %s)\n", trunk,
					r->code, r->reason);
		freeReplyObject(rep);
	}
}

void br_probe_tick(void)
{
	static long long last;
	long long now = br_now_ms();
	br_conf_ref_t *ref;
	const br_snap_t *s;
	uint32_t i, n;
	int k;

	/* report what finished since the last tick */
	for(k = 0; k < BR_PROBE_SLOTS; k++) {
		br_probe_slot_t copy;
		int take = 0;
		lock_get(&_pt->lock);
		if(_pt->s[k].state == SLOT_DONE && _pt->s[k].periodic) {
			copy = _pt->s[k];
			_pt->s[k].state = SLOT_FREE;
			take = 1;
		}
		lock_release(&_pt->lock);
		if(take)
			report(copy.trunk, &copy.res);
	}
	if(br_p.probe_interval <= 0
			|| now - last < br_p.probe_interval * 1000LL)
		return;
	last = now;
	ref = br_conf_get();
	if(!ref)
		return;
	s = br_conf_snap(ref);
	n = br_snap_ntrunks(s);
	for(i = 0; i < n; i++) {
		const br_trunk_t *t = br_snap_trunk_at(s, i);
		if(t->enabled && (t->direction & BR_DIR_OUTBOUND) && t->host[0])
			probe_send(t, 1);
	}
	br_conf_put(ref);
}
