/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_registry.c -- cached view of the media-worker registry and of the
 * trunk health down set.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"

#include "lib/br_keys.h"
#include "lib/br_snap.h"
#include "br_redis.h"
#include "br_registry.h"

typedef struct br_registry {
	gen_lock_t lock;
	uint32_t nworkers;
	br_worker_t w[BR_MAX_WORKERS];
	uint32_t extra[BR_MAX_WORKERS]; /* calls sent since the refresh */
	uint32_t ndown;
	char down[BR_MAX_DOWN][BR_ID_MAX + 1];
} br_registry_t;

static br_registry_t *_reg; /* shm, owned by the main process */

int br_registry_mod_init(void)
{
	_reg = shm_malloc(sizeof(*_reg));
	if(!_reg) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_reg, 0, sizeof(*_reg));
	lock_init(&_reg->lock);
	return 0;
}

void br_registry_mod_destroy(void)
{
	if(_reg)
		shm_free(_reg);
	_reg = NULL;
}

static int worker_set_from_hash(br_worker_t *w, const redisReply *r)
{
	size_t i;
	char err[128];

	if(r->type != REDIS_REPLY_ARRAY || r->elements == 0)
		return -1;
	for(i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if(k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			return -1;
		/* fields written by newer workers are ignored, not fatal */
		if(br_worker_set(w, k->str, v->str, err, sizeof(err)) < 0
				&& strstr(err, "unknown") == NULL)
			return -1;
	}
	return w->addr[0] && w->port ? 0 : -1;
}

static void load_workers(void)
{
	static br_worker_t tmp[BR_MAX_WORKERS];
	redisReply *ids, *rep[BR_MAX_WORKERS];
	char key[BR_KEY_MAX];
	uint32_t n = 0;
	size_t i, cnt;

	ids = br_redis_cmdf("SMEMBERS %s", BR_KEY_WORKERS);
	if(!ids)
		return;
	if(ids->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(ids);
		return;
	}
	cnt = ids->elements < BR_MAX_WORKERS ? ids->elements : BR_MAX_WORKERS;
	for(i = 0; i < cnt; i++) {
		const char *argv[2] = {"HGETALL", key};
		br_key(key, sizeof(key), BR_K_WORKER, ids->element[i]->str);
		if(br_redis_append(2, argv, NULL) < 0)
			break;
	}
	if(br_redis_get_replies(rep, (int)cnt) < 0) {
		for(i = 0; i < cnt; i++)
			if(rep[i])
				freeReplyObject(rep[i]);
		freeReplyObject(ids);
		return;
	}
	for(i = 0; i < cnt; i++) {
		br_worker_t *w = &tmp[n];
		const char *id = ids->element[i]->str;
		memset(w, 0, sizeof(*w));
		if(rep[i]->type == REDIS_REPLY_ARRAY && rep[i]->elements == 0) {
			/* heartbeat expired: the worker is gone; drop it from the
			 * index so the set does not grow forever */
			redisReply *d = br_redis_cmdf("SREM %s %s", BR_KEY_WORKERS, id);
			if(d)
				freeReplyObject(d);
		} else if(strlen(id) <= BR_ID_MAX
				  && worker_set_from_hash(w, rep[i]) == 0) {
			strcpy(w->id, id);
			n++;
		}
		freeReplyObject(rep[i]);
	}
	freeReplyObject(ids);

	lock_get(&_reg->lock);
	memcpy(_reg->w, tmp, n * sizeof(br_worker_t));
	memset(_reg->extra, 0, sizeof(_reg->extra));
	_reg->nworkers = n;
	lock_release(&_reg->lock);
}

static void load_down(void)
{
	redisReply *r;
	size_t i;
	uint32_t n = 0;

	r = br_redis_cmdf("SMEMBERS %s", BR_KEY_PREFIX "trunks_down");
	if(!r)
		return;
	if(r->type == REDIS_REPLY_ARRAY) {
		lock_get(&_reg->lock);
		for(i = 0; i < r->elements && n < BR_MAX_DOWN; i++) {
			if(r->element[i]->type != REDIS_REPLY_STRING
					|| r->element[i]->len > BR_ID_MAX)
				continue;
			strcpy(_reg->down[n++], r->element[i]->str);
		}
		_reg->ndown = n;
		lock_release(&_reg->lock);
	}
	freeReplyObject(r);
}

void br_registry_tick(void)
{
	load_workers();
	load_down();
}

static int excluded(const char *list, const char *id)
{
	size_t l = strlen(id);
	const char *p = list;

	while(p && *p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if(n == l && memcmp(p, id, l) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

int br_registry_pick(const char *exclude, br_worker_t *out)
{
	static br_worker_t w[BR_MAX_WORKERS];
	static uint32_t idx[BR_MAX_WORKERS], extra[BR_MAX_WORKERS];
	uint32_t i, n = 0, pick;

	lock_get(&_reg->lock);
	if(!exclude || !exclude[0]) {
		/* the common case: rank the table in place */
		pick = br_worker_pick(_reg->w, _reg->extra, _reg->nworkers);
		if(pick != BR_NONE) {
			_reg->extra[pick]++;
			*out = _reg->w[pick];
		}
		lock_release(&_reg->lock);
		return pick == BR_NONE ? -1 : 0;
	}
	/* a retry after a worker failed: rank the others (process-local
	 * scratch arrays, used under the lock) */
	for(i = 0; i < _reg->nworkers; i++) {
		if(excluded(exclude, _reg->w[i].id))
			continue;
		w[n] = _reg->w[i];
		extra[n] = _reg->extra[i];
		idx[n++] = i;
	}
	pick = br_worker_pick(w, extra, n);
	if(pick != BR_NONE) {
		_reg->extra[idx[pick]]++;
		*out = w[pick];
	}
	lock_release(&_reg->lock);
	return pick == BR_NONE ? -1 : 0;
}

int br_registry_trunk_down(const char *id)
{
	uint32_t i;
	int down = 0;

	lock_get(&_reg->lock);
	for(i = 0; i < _reg->ndown && !down; i++)
		down = strcmp(_reg->down[i], id) == 0;
	lock_release(&_reg->lock);
	return down;
}

unsigned br_registry_ndown(void)
{
	return _reg ? _reg->ndown : 0;
}

void br_registry_walk(br_worker_walk_fn fn, void *ctx)
{
	static br_worker_t w[BR_MAX_WORKERS];
	static uint32_t extra[BR_MAX_WORKERS];
	uint32_t i, n;

	lock_get(&_reg->lock);
	n = _reg->nworkers;
	memcpy(w, _reg->w, n * sizeof(br_worker_t));
	memcpy(extra, _reg->extra, n * sizeof(uint32_t));
	lock_release(&_reg->lock);
	for(i = 0; i < n; i++)
		fn(&w[i], extra[i], ctx);
}
