/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_lease.c -- call leases: the Lua admission script, the local lease
 * table, dialog callbacks that release, and the refresh loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"
#include "modules/dialog/dlg_load.h"
#include "modules/dialog/dlg_hash.h"

#include "lib/br_keys.h"
#include "lib/br_snap.h"
#include "br_lease.h"
#include "br_redis.h"
#include "br_stats.h"

/* KEYS[1] lease ZSET, KEYS[2] CPS window ZSET.
 * ARGV: call-id, ttl ms, max calls (0 = no limit), max cps (0 = no limit).
 * Returns {status, calls, retry_ms}: 1 admitted, 2 over capacity, 3 over
 * CPS. Time is Redis server time, so proxies' clocks do not matter. The
 * CPS limit is a sliding one-second window: at most max_cps admissions in
 * any 1000 ms. */
static const char BR_LUA_ADMIT[] =
		"local t = redis.call('TIME')\n"
		"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
		"1000)\n"
		"local ttl = tonumber(ARGV[2])\n"
		"local maxc = tonumber(ARGV[3])\n"
		"local maxr = tonumber(ARGV[4])\n"
		"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
		"if redis.call('ZSCORE', KEYS[1], ARGV[1]) then\n"
		"  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
		"  return {1, redis.call('ZCARD', KEYS[1]), 0}\n"
		"end\n"
		"local n = redis.call('ZCARD', KEYS[1])\n"
		"if maxc > 0 and n >= maxc then return {2, n, 0} end\n"
		"if maxr > 0 then\n"
		"  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000)\n"
		"  if redis.call('ZCARD', KEYS[2]) >= maxr then\n"
		"    local f = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
		"    return {3, n, tonumber(f[2]) + 1000 - now}\n"
		"  end\n"
		"  redis.call('ZADD', KEYS[2], now, ARGV[1])\n"
		"  redis.call('PEXPIRE', KEYS[2], 2000)\n"
		"end\n"
		"redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
		"redis.call('PEXPIRE', KEYS[1], ttl * 2)\n"
		"return {1, n + 1, 0}\n";

/* KEYS[1] lease ZSET; ARGV[1] ttl ms, ARGV[2..] call-ids of live calls.
 * Re-adds expired members too: the call is alive, so is its slot. */
static const char BR_LUA_REFRESH[] =
		"local t = redis.call('TIME')\n"
		"local exp = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
		"1000) + tonumber(ARGV[1])\n"
		"for i = 2, #ARGV do redis.call('ZADD', KEYS[1], exp, ARGV[i]) end\n"
		"redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)\n"
		"return #ARGV - 1\n";

enum { BR_LS_PENDING = 0, BR_LS_ACTIVE = 1 };

typedef struct br_lease_ent {
	struct br_lease_ent *next;
	long long t_ms;	 /* admission time (pending timeout) */
	uint8_t state;	 /* BR_LS_* */
	uint8_t synced;	 /* 0: admitted while Redis was down */
	char trunk[BR_ID_MAX + 1];
	int clen;
	char callid[]; /* clen bytes, not NUL-terminated */
} br_lease_ent_t;

#define BR_LEASE_BUCKETS 4096
#define BR_LEASE_LOCKS 64
#define BR_RELQ_MAX 8192

/* A release that could not reach Redis, retried by the sync process. */
typedef struct br_relq {
	struct br_relq *next;
	char trunk[BR_ID_MAX + 1];
	int clen;
	char callid[];
} br_relq_t;

typedef struct br_lease_tab {
	gen_lock_set_t *locks;
	br_lease_ent_t *b[BR_LEASE_BUCKETS];
	gen_lock_t qlock;
	br_relq_t *relq;
	int nrelq;
	unsigned count;
} br_lease_tab_t;

static br_lease_cfg_t *_cfg;
static br_lease_tab_t *_tab; /* shm, owned by the main process */
static char _sha_admit[41], _sha_refresh[41];
static struct dlg_binds _dlgb;

static void sha1_hex(const char *s, char out[41])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	int i;
	SHA1((const unsigned char *)s, strlen(s), md);
	for(i = 0; i < SHA_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

int br_lease_mod_init(br_lease_cfg_t *cfg)
{
	_cfg = cfg;
	_tab = shm_malloc(sizeof(*_tab));
	if(!_tab) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_tab, 0, sizeof(*_tab));
	_tab->locks = lock_set_alloc(BR_LEASE_LOCKS);
	if(!_tab->locks || !lock_set_init(_tab->locks)) {
		LM_ERR("cannot allocate the lease locks\n");
		return -1;
	}
	lock_init(&_tab->qlock);
	sha1_hex(BR_LUA_ADMIT, _sha_admit);
	sha1_hex(BR_LUA_REFRESH, _sha_refresh);
	return 0;
}

void br_lease_mod_destroy(void)
{
	int i;
	br_lease_ent_t *e, *n;
	br_relq_t *q, *qn;

	if(!_tab)
		return;
	for(i = 0; i < BR_LEASE_BUCKETS; i++)
		for(e = _tab->b[i]; e; e = n) {
			n = e->next;
			shm_free(e);
		}
	for(q = _tab->relq; q; q = qn) {
		qn = q->next;
		shm_free(q);
	}
	lock_set_destroy(_tab->locks);
	lock_set_dealloc(_tab->locks);
	shm_free(_tab);
	_tab = NULL;
}

static unsigned bucket(const str *callid)
{
	return core_hash((str *)callid, NULL, BR_LEASE_BUCKETS);
}

#define LOCK(h) lock_set_get(_tab->locks, (h) % BR_LEASE_LOCKS)
#define UNLOCK(h) lock_set_release(_tab->locks, (h) % BR_LEASE_LOCKS)

static br_lease_ent_t **find_slot(unsigned h, const str *callid)
{
	br_lease_ent_t **pp;
	for(pp = &_tab->b[h]; *pp; pp = &(*pp)->next)
		if((*pp)->clen == callid->len
				&& memcmp((*pp)->callid, callid->s, callid->len) == 0)
			return pp;
	return NULL;
}

/* Inserts or re-points the local entry. */
static int local_put(const char *trunk, const str *callid, int synced)
{
	unsigned h = bucket(callid);
	br_lease_ent_t **pp, *e;
	char old[BR_ID_MAX + 1] = "";
	int isnew = 0;

	LOCK(h);
	pp = find_slot(h, callid);
	if(pp) {
		e = *pp;
		if(strcmp(e->trunk, trunk) != 0) {
			strcpy(old, e->trunk);
			strcpy(e->trunk, trunk);
		}
		e->synced = synced;
	} else {
		e = shm_malloc(sizeof(*e) + callid->len);
		if(!e) {
			UNLOCK(h);
			SHM_MEM_ERROR;
			return -1;
		}
		memset(e, 0, sizeof(*e));
		e->t_ms = br_now_ms();
		e->state = BR_LS_PENDING;
		e->synced = synced;
		strcpy(e->trunk, trunk);
		e->clen = callid->len;
		memcpy(e->callid, callid->s, callid->len);
		e->next = _tab->b[h];
		_tab->b[h] = e;
		_tab->count++;
		isnew = 1;
	}
	UNLOCK(h);
	if(isnew)
		br_stats_active_add(trunk, 1);
	if(old[0]) {
		br_stats_active_add(old, -1);
		br_stats_active_add(trunk, 1);
	}
	return 0;
}

/* Removes the entry; copies its trunk into 'trunk'. 1 if it existed. */
static int local_take(const str *callid, char trunk[BR_ID_MAX + 1])
{
	unsigned h = bucket(callid);
	br_lease_ent_t **pp, *e = NULL;

	LOCK(h);
	pp = find_slot(h, callid);
	if(pp) {
		e = *pp;
		*pp = e->next;
		_tab->count--;
	}
	UNLOCK(h);
	if(!e)
		return 0;
	strcpy(trunk, e->trunk);
	shm_free(e);
	br_stats_active_add(trunk, -1);
	return 1;
}

static void relq_push(const char *trunk, const str *callid)
{
	br_relq_t *q;

	lock_get(&_tab->qlock);
	if(_tab->nrelq >= BR_RELQ_MAX) {
		/* the lease expires by itself within lease_ttl */
		lock_release(&_tab->qlock);
		return;
	}
	q = shm_malloc(sizeof(*q) + callid->len);
	if(q) {
		strcpy(q->trunk, trunk);
		q->clen = callid->len;
		memcpy(q->callid, callid->s, callid->len);
		q->next = _tab->relq;
		_tab->relq = q;
		_tab->nrelq++;
	}
	lock_release(&_tab->qlock);
}

/* Decimal text of v into buf (at least 11 bytes); returns the length.
 * (snprintf costs ~10x this on every INVITE.) */
static int utoa(uint32_t v, char *buf)
{
	char tmp[11];
	int n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	for(i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return n;
}

/* EVALSHA, falling back to EVAL when the script cache was flushed. */
static redisReply *eval_script(const char *sha, const char *body, int nkeys,
		int argc, const char **argv, size_t *lens)
{
	redisReply *r;
	char nk[12];

	argv[0] = "EVALSHA";
	lens[0] = 7;
	argv[1] = sha;
	lens[1] = 40;
	argv[2] = nk;
	lens[2] = utoa((uint32_t)nkeys, nk);
	r = br_redis_cmd(argc, argv, lens);
	if(r && r->type == REDIS_REPLY_ERROR
			&& strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = body;
		lens[1] = strlen(body);
		r = br_redis_cmd(argc, argv, lens);
	}
	return r;
}

int br_lease_admit(const br_trunk_t *t, const str *callid, int *retry_ms)
{
	char klease[BR_KEY_MAX], kcps[BR_KEY_MAX];
	char sttl[16], smax[16], scps[16];
	const char *argv[9];
	size_t lens[9];
	redisReply *r;
	long long st, n, wait;
	char prev[BR_ID_MAX + 1];
	int known, had;

	*retry_ms = 0;
	if(br_key(klease, sizeof(klease), BR_K_LEASE, t->id) < 0
			|| br_key(kcps, sizeof(kcps), BR_K_CPS, t->id) < 0)
		return BR_BAD_REQUEST;
	argv[3] = klease;
	lens[3] = strlen(klease);
	argv[4] = kcps;
	lens[4] = strlen(kcps);
	argv[5] = callid->s;
	lens[5] = callid->len;
	argv[6] = sttl;
	lens[6] = utoa((uint32_t)_cfg->ttl * 1000, sttl);
	argv[7] = smax;
	lens[7] = utoa(t->max_calls, smax);
	argv[8] = scps;
	lens[8] = utoa(t->max_cps, scps);

	/* failover onto another trunk: the previous trunk's lease goes */
	known = br_lease_trunk(callid, prev) == 0;
	had = known && strcmp(prev, t->id) != 0;

	r = eval_script(_sha_admit, BR_LUA_ADMIT, 2, 9, argv, lens);
	if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		uint32_t share;
		/* Without a reply (timeout) the script may still have run in
		 * Redis and written this call's lease. Unless the call already
		 * holds a lease on this trunk here (an INVITE retransmission),
		 * queue its removal: a refused call must not hold a slot until
		 * lease_ttl. The sync process sends it after this script. */
		int orphan = !r && !(known && !had);
		if(r) {
			LM_ERR("admission script failed: %s\n",
					r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			freeReplyObject(r);
		}
		if(!_cfg->fail_open && (t->max_calls || t->max_cps)) {
			if(orphan)
				relq_push(t->id, callid);
			return BR_STORE_DOWN;
		}
		/* fail-open (or a trunk without limits): this proxy's share */
		share = t->max_calls
						? (t->max_calls + _cfg->cluster_size - 1)
								  / _cfg->cluster_size
						: 0;
		if(share && br_stats_active(t->id) >= share) {
			if(orphan)
				relq_push(t->id, callid);
			return BR_OVER_CAPACITY;
		}
		if(local_put(t->id, callid, 0) < 0)
			return BR_STORE_DOWN;
		if(had)
			relq_push(prev, callid);
		return BR_OK;
	}
	st = r->element[0]->integer;
	n = r->element[1]->integer;
	wait = r->element[2]->integer;
	freeReplyObject(r);
	(void)n;
	if(st == 2)
		return BR_OVER_CAPACITY;
	if(st == 3) {
		*retry_ms = wait > 0 ? (int)wait : 1;
		return BR_OVER_CPS;
	}
	if(st != 1)
		return BR_STORE_DOWN;
	if(local_put(t->id, callid, 1) < 0) {
		relq_push(t->id, callid);
		return BR_STORE_DOWN;
	}
	if(had)
		relq_push(prev, callid);
	return BR_OK;
}

void br_lease_release(const str *callid)
{
	char trunk[BR_ID_MAX + 1];

	if(!_tab || !callid || callid->len <= 0)
		return;
	/* The Redis side is removed by the sync process within one tick
	 * (pipelined with the other releases): the BYE path never waits on
	 * Redis, and the slot is free again ~100 ms after the call ended. */
	if(local_take(callid, trunk))
		relq_push(trunk, callid);
}

int br_lease_trunk(const str *callid, char out[BR_ID_MAX + 1])
{
	unsigned h = bucket(callid);
	br_lease_ent_t **pp;
	int rc = -1;

	LOCK(h);
	pp = find_slot(h, callid);
	if(pp) {
		strcpy(out, (*pp)->trunk);
		rc = 0;
	}
	UNLOCK(h);
	return rc;
}

unsigned br_lease_count(const char *trunk_id)
{
	if(!_tab)
		return 0;
	if(!trunk_id)
		return _tab->count;
	return br_stats_active(trunk_id);
}

/* ---- dialog callbacks -------------------------------------------------- */

static void dlg_end_cb(struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	br_lease_release(&dlg->callid);
}

static void dlg_created_cb(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	unsigned h = bucket(&dlg->callid);
	br_lease_ent_t **pp;
	int ours = 0;

	LOCK(h);
	pp = find_slot(h, &dlg->callid);
	if(pp) {
		(*pp)->state = BR_LS_ACTIVE;
		ours = 1;
	}
	UNLOCK(h);
	if(!ours)
		return;
	if(_dlgb.register_dlgcb(dlg,
			   DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED
					   | DLGCB_DESTROY,
			   dlg_end_cb, NULL, NULL)
			!= 0)
		LM_ERR("cannot register dialog callbacks; the lease of this call "
			   "is released by expiry only\n");
}

int br_lease_bind_dialog(void)
{
	if(load_dlg_api(&_dlgb) != 0) {
		LM_ERR("byoc_route needs the dialog module loaded before it\n");
		return -1;
	}
	if(_dlgb.register_dlgcb(NULL, DLGCB_CREATED, dlg_created_cb, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog CREATED callback\n");
		return -1;
	}
	return 0;
}

/* ---- sync process ------------------------------------------------------ */

typedef struct lease_copy {
	char trunk[BR_ID_MAX + 1];
	int clen;
	char *callid; /* malloc'ed */
} lease_copy_t;

static int cmp_copy(const void *a, const void *b)
{
	return strcmp(((const lease_copy_t *)a)->trunk,
			((const lease_copy_t *)b)->trunk);
}

enum { BR_COLLECT_COPY, BR_COLLECT_STALE, BR_COLLECT_ALL };

/* Copies the entries: all of them (COPY, for refresh), or removes and
 * returns the stale pending ones (STALE) or all (ALL). Caller frees. */
static lease_copy_t *collect(int mode, size_t *n)
{
	lease_copy_t *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	long long now = br_now_ms();
	int i;
	br_lease_ent_t **pp, *e;

	for(i = 0; i < BR_LEASE_BUCKETS; i++) {
		if(!_tab->b[i])
			continue;
		LOCK(i);
		for(pp = &_tab->b[i]; (e = *pp);) {
			int expire = mode != BR_COLLECT_COPY;
			int take = mode != BR_COLLECT_STALE
					   || (e->state == BR_LS_PENDING
							   && now - e->t_ms > _cfg->pending_timeout * 1000LL);
			if(!take) {
				pp = &e->next;
				continue;
			}
			if(cnt == cap) {
				cap = cap ? cap * 2 : 256;
				nv = realloc(v, cap * sizeof(*v));
				if(!nv)
					break;
				v = nv;
			}
			strcpy(v[cnt].trunk, e->trunk);
			v[cnt].clen = e->clen;
			v[cnt].callid = malloc(e->clen);
			if(!v[cnt].callid)
				break;
			memcpy(v[cnt].callid, e->callid, e->clen);
			cnt++;
			if(expire) {
				*pp = e->next;
				_tab->count--;
				br_stats_active_add(e->trunk, -1);
				shm_free(e);
			} else {
				e->synced = 1;
				pp = &e->next;
			}
		}
		UNLOCK(i);
	}
	*n = cnt;
	return v;
}

static void free_copies(lease_copy_t *v, size_t n)
{
	size_t i;
	for(i = 0; i < n; i++)
		free(v[i].callid);
	free(v);
}

#define BR_REFRESH_BATCH 500

static void refresh_all(void)
{
	lease_copy_t *v;
	size_t n, i, j, k;
	const char **argv;
	size_t *lens;
	char key[BR_KEY_MAX], sttl[16];
	redisReply *r;

	v = collect(BR_COLLECT_COPY, &n);
	if(!v || n == 0) {
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_copy);
	argv = malloc((BR_REFRESH_BATCH + 5) * sizeof(char *));
	lens = malloc((BR_REFRESH_BATCH + 5) * sizeof(size_t));
	snprintf(sttl, sizeof(sttl), "%d", _cfg->ttl * 1000);
	for(i = 0; argv && lens && i < n; i = j) {
		/* one script call per trunk and batch */
		for(j = i; j < n && j - i < BR_REFRESH_BATCH
				   && strcmp(v[j].trunk, v[i].trunk) == 0;
				j++)
			;
		if(br_key(key, sizeof(key), BR_K_LEASE, v[i].trunk) < 0)
			continue;
		argv[3] = key;
		lens[3] = strlen(key);
		argv[4] = sttl;
		lens[4] = strlen(sttl);
		for(k = i; k < j; k++) {
			argv[5 + k - i] = v[k].callid;
			lens[5 + k - i] = v[k].clen;
		}
		r = eval_script(_sha_refresh, BR_LUA_REFRESH, 1, (int)(5 + j - i),
				argv, lens);
		if(!r) {
			LM_WARN("lease refresh failed (Redis unavailable); leases "
					"expire in %d s unless Redis returns\n",
					_cfg->ttl);
			break;
		}
		freeReplyObject(r);
	}
	free(argv);
	free(lens);
	free_copies(v, n);
}

static void expire_pending(void)
{
	lease_copy_t *v;
	size_t n, i;

	v = collect(BR_COLLECT_STALE, &n);
	for(i = 0; v && i < n; i++) {
		str c = {v[i].callid, v[i].clen};
		LM_WARN("call %.*s was admitted on trunk %s but no dialog was "
				"created within %d s; releasing its lease\n",
				c.len, c.s, v[i].trunk, _cfg->pending_timeout);
		relq_push(v[i].trunk, &c);
	}
	if(v)
		free_copies(v, n);
}

#define BR_RELEASE_BATCH 512

/* Sends queued releases as pipelined ZREMs, BR_RELEASE_BATCH at a time.
 * Whatever Redis did not confirm goes back on the queue. Returns the
 * number released. */
static int flush_releases(void)
{
	br_relq_t *q, *next, *batch[BR_RELEASE_BATCH];
	redisReply *rep[BR_RELEASE_BATCH];
	char key[BR_KEY_MAX];
	int n, i, done = 0, failed;

	while(_tab->relq && br_redis_available()) {
		lock_get(&_tab->qlock);
		for(n = 0, q = _tab->relq; q && n < BR_RELEASE_BATCH; q = next) {
			next = q->next;
			batch[n++] = q;
			_tab->nrelq--;
		}
		_tab->relq = q;
		lock_release(&_tab->qlock);
		for(i = 0; i < n; i++) {
			const char *argv[3] = {"ZREM", key, batch[i]->callid};
			size_t lens[3] = {4, 0, (size_t)batch[i]->clen};
			br_key(key, sizeof(key), BR_K_LEASE, batch[i]->trunk);
			lens[1] = strlen(key);
			if(br_redis_append(3, argv, lens) < 0)
				break;
		}
		failed = br_redis_get_replies(rep, n) < 0;
		for(i = 0; i < n; i++) {
			if(rep[i])
				freeReplyObject(rep[i]);
			if(failed) {
				str c = {batch[i]->callid, batch[i]->clen};
				relq_push(batch[i]->trunk, &c);
			}
			shm_free(batch[i]);
		}
		if(failed)
			break;
		done += n;
	}
	return done;
}

void br_lease_tick(void)
{
	static long long last_refresh, last_expire;
	long long now = br_now_ms();

	flush_releases();
	if(now - last_expire >= 1000) {
		last_expire = now;
		expire_pending();
	}
	if(now - last_refresh >= _cfg->refresh * 1000LL) {
		last_refresh = now;
		refresh_all();
	}
}

void br_lease_release_all(void)
{
	lease_copy_t *v;
	size_t n, i;
	int done;

	if(!_tab)
		return;
	v = collect(BR_COLLECT_ALL, &n);
	for(i = 0; v && i < n; i++) {
		str cs = {v[i].callid, v[i].clen};
		relq_push(v[i].trunk, &cs);
	}
	if(v)
		free_copies(v, n);
	done = flush_releases();
	if(done)
		LM_INFO("released %d leases at shutdown\n", done);
}
