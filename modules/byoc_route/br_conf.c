/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_conf.c -- load the configuration from Redis into a shared-memory
 * snapshot and swap it in (the double-buffer-and-swap of Kamailio's
 * permissions module, with a reference count instead of a grace period).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dprint.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"

#include "lib/br_keys.h"
#include "lib/br_model.h"
#include "br_conf.h"
#include "br_redis.h"

#define BR_PIPE_BATCH 512

struct br_conf_ref {
	br_snap_t *snap; /* one shm block */
	int refs;		 /* readers + 1 while current */
};

typedef struct br_conf_shared {
	gen_lock_t lock;
	br_conf_ref_t *cur;
	br_conf_info_t info;
} br_conf_shared_t;

static br_conf_shared_t *_sh; /* shm, owned by the main process */

/* Keys found malformed by the previous load in this process (pkg), so each
 * bad record is logged once, not at every reload. */
static int _warned_wiped; /* per process: log the wiped store once */
static char **_bad_prev;
static int _nbad_prev;

int br_conf_mod_init(void)
{
	_sh = shm_malloc(sizeof(*_sh));
	if(!_sh) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_sh, 0, sizeof(*_sh));
	lock_init(&_sh->lock);
	return 0;
}

static void ref_free(br_conf_ref_t *ref)
{
	shm_free(ref->snap);
	shm_free(ref);
}

void br_conf_mod_destroy(void)
{
	if(!_sh)
		return;
	if(_sh->cur)
		ref_free(_sh->cur);
	shm_free(_sh);
	_sh = NULL;
}

br_conf_ref_t *br_conf_get(void)
{
	br_conf_ref_t *ref;

	lock_get(&_sh->lock);
	ref = _sh->cur;
	if(ref)
		ref->refs++;
	lock_release(&_sh->lock);
	return ref;
}

const br_snap_t *br_conf_snap(const br_conf_ref_t *ref)
{
	return ref->snap;
}

void br_conf_put(br_conf_ref_t *ref)
{
	int last;

	if(!ref)
		return;
	lock_get(&_sh->lock);
	last = (--ref->refs == 0);
	lock_release(&_sh->lock);
	if(last)
		ref_free(ref);
}

static void *shm_alloc_cb(size_t size, void *ctx)
{
	return shm_malloc(size);
}

/* ---- reading records ---------------------------------------------------- */

typedef int (*set_fn)(
		void *rec, const char *k, const char *v, char *err, size_t len);

static int trunk_set_cb(
		void *rec, const char *k, const char *v, char *err, size_t len)
{
	return br_trunk_set(rec, k, v, err, len);
}

static int agent_set_cb(
		void *rec, const char *k, const char *v, char *err, size_t len)
{
	return br_agent_set(rec, k, v, err, len);
}

/* Applies a HGETALL reply to a record. -ENOENT for a missing key. */
static int apply_hash(const redisReply *r, set_fn set, void *rec,
		const char *id, char *err, size_t errlen)
{
	size_t i;

	if(!r || r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "not a hash");
		return -EINVAL;
	}
	if(r->elements == 0)
		return -ENOENT;
	for(i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if(k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
				|| strlen(k->str) != k->len || strlen(v->str) != v->len) {
			snprintf(err, errlen, "field is not a text string");
			return -EINVAL;
		}
		if(strcmp(k->str, "id") == 0 && strcmp(v->str, id) != 0) {
			snprintf(err, errlen, "field id '%.64s' differs from the key", v->str);
			return -EINVAL;
		}
		if(set(rec, k->str, v->str, err, errlen) < 0)
			return -EINVAL;
	}
	return set(rec, "id", id, err, errlen);
}

typedef struct bad_list {
	char **keys;
	int n, cap;
} bad_list_t;

static void bad_note(bad_list_t *bl, const char *key, const char *why)
{
	int i, seen = 0;
	char **nk;

	for(i = 0; i < _nbad_prev; i++)
		if(strcmp(_bad_prev[i], key) == 0)
			seen = 1;
	if(!seen)
		LM_WARN("skipping malformed record %s: %s\n", key, why);
	if(bl->n == bl->cap) {
		int cap = bl->cap ? bl->cap * 2 : 16;
		nk = realloc(bl->keys, cap * sizeof(char *));
		if(!nk)
			return;
		bl->keys = nk;
		bl->cap = cap;
	}
	bl->keys[bl->n] = strdup(key);
	if(bl->keys[bl->n])
		bl->n++;
}

static void bad_commit(bad_list_t *bl)
{
	int i;
	for(i = 0; i < _nbad_prev; i++)
		free(_bad_prev[i]);
	free(_bad_prev);
	_bad_prev = bl->keys;
	_nbad_prev = bl->n;
}

static void bad_discard(bad_list_t *bl)
{
	int i;
	for(i = 0; i < bl->n; i++)
		free(bl->keys[i]);
	free(bl->keys);
}

/* SMEMBERS into a freshly allocated reply (caller frees). */
static redisReply *members(const char *set)
{
	const char *argv[2] = {"SMEMBERS", set};
	redisReply *r = br_redis_cmd(2, argv, NULL);
	if(r && r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

/* Loads every HASH record listed in set 'index' (trunks or agents). */
static int load_hashes(br_snap_builder_t *b, const char *index,
		enum br_key_kind kind, bad_list_t *bad, uint32_t *skipped)
{
	redisReply *ids, *rep[BR_PIPE_BATCH];
	char key[BR_KEY_MAX], err[160];
	size_t i, j, n;
	int rc = 0;

	ids = members(index);
	if(!ids)
		return -1;
	for(i = 0; i < ids->elements && rc == 0; i += n) {
		n = ids->elements - i;
		if(n > BR_PIPE_BATCH)
			n = BR_PIPE_BATCH;
		for(j = 0; j < n; j++) {
			const char *argv[2] = {"HGETALL", key};
			const char *id = ids->element[i + j]->str;
			if(br_key(key, sizeof(key), kind, id) < 0)
				key[0] = 0;
			if(br_redis_append(2, argv, NULL) < 0)
				break;
		}
		if(br_redis_get_replies(rep, (int)n) < 0) {
			rc = -1;
		}
		for(j = 0; j < n; j++) {
			const char *id = ids->element[i + j]->str;
			int r;
			br_key(key, sizeof(key), kind, id);
			if(rc == 0) {
				err[0] = 0;
				if(kind == BR_K_TRUNK) {
					br_trunk_t t;
					br_trunk_defaults(&t);
					r = apply_hash(rep[j], trunk_set_cb, &t, id, err,
							sizeof(err));
					if(r == 0)
						r = br_trunk_check(&t, err, sizeof(err));
					if(r == 0 && br_snap_add_trunk(b, &t) < 0)
						rc = -1;
				} else {
					br_agent_t a;
					br_agent_defaults(&a);
					r = apply_hash(rep[j], agent_set_cb, &a, id, err,
							sizeof(err));
					if(r == 0)
						r = br_agent_check(&a, err, sizeof(err));
					if(r == 0 && br_snap_add_agent(b, &a) < 0)
						rc = -1;
				}
				if(r == -ENOENT) {
					/* listed but deleted: a control panel removed the
					 * hash and not (yet) the index entry; not an error */
				} else if(r < 0) {
					bad_note(bad, key, err);
					(*skipped)++;
				}
			}
			if(rep[j])
				freeReplyObject(rep[j]);
		}
	}
	freeReplyObject(ids);
	return rc;
}

static int load_dids(br_snap_builder_t *b, bad_list_t *bad, uint32_t *skipped)
{
	redisReply *nums, *rep[BR_PIPE_BATCH];
	char key[BR_KEY_MAX], err[160];
	size_t i, j, n;
	int rc = 0;

	nums = members(BR_KEY_DIDS);
	if(!nums)
		return -1;
	for(i = 0; i < nums->elements && rc == 0; i += n) {
		n = nums->elements - i;
		if(n > BR_PIPE_BATCH)
			n = BR_PIPE_BATCH;
		for(j = 0; j < n; j++) {
			const char *argv[4] = {"HMGET", key, "trunk", "agent"};
			br_key(key, sizeof(key), BR_K_DID, nums->element[i + j]->str);
			if(br_redis_append(4, argv, NULL) < 0)
				break;
		}
		if(br_redis_get_replies(rep, (int)n) < 0)
			rc = -1;
		for(j = 0; j < n; j++) {
			const char *num = nums->element[i + j]->str;
			redisReply *r = rep[j];
			br_did_t d;
			int bad_rec = 0;

			if(rc == 0 && r && r->type == REDIS_REPLY_ARRAY
					&& r->elements == 2) {
				memset(&d, 0, sizeof(d));
				err[0] = 0;
				if(!br_e164_valid(num)
						|| strlen(num) >= sizeof(d.number)) {
					snprintf(err, sizeof(err), "number is not E.164");
					bad_rec = 1;
				} else if(r->element[0]->type != REDIS_REPLY_STRING) {
					/* deleted hash still listed: ignore */
				} else {
					strcpy(d.number, num);
					if(br_did_set(&d, "trunk", r->element[0]->str, err,
							   sizeof(err))
									< 0
							|| (r->element[1]->type == REDIS_REPLY_STRING
									&& br_did_set(&d, "agent",
											   r->element[1]->str, err,
											   sizeof(err))
											   < 0))
						bad_rec = 1;
					else if(br_snap_add_did(b, &d) < 0)
						rc = -1;
				}
				if(bad_rec) {
					br_key(key, sizeof(key), BR_K_DID, num);
					bad_note(bad, key, err);
					(*skipped)++;
				}
			}
			if(r)
				freeReplyObject(r);
		}
	}
	freeReplyObject(nums);
	return rc;
}

static uint64_t get_version(int *ok)
{
	redisReply *r = br_redis_cmdf("GET %s", BR_KEY_VERSION);
	uint64_t v = 0;

	*ok = 0;
	if(!r)
		return 0;
	if(r->type == REDIS_REPLY_STRING) {
		v = strtoull(r->str, NULL, 10);
		*ok = 1;
	} else if(r->type == REDIS_REPLY_NIL) {
		*ok = 1;
	}
	freeReplyObject(r);
	return v;
}

int br_conf_reload(int force)
{
	br_snap_builder_t *b;
	br_snap_t *snap;
	br_conf_ref_t *ref, *old;
	br_snap_stats_t st;
	bad_list_t bad = {0};
	uint32_t skipped = 0;
	uint64_t version;
	long long t0 = br_now_ms();
	int ok, last, wiped;

	version = get_version(&ok);
	if(!ok)
		return -1;
	lock_get(&_sh->lock);
	ok = !force && _sh->cur && _sh->info.version == version;
	wiped = _sh->cur && _sh->info.version > 0 && version == 0;
	lock_release(&_sh->lock);
	if(ok)
		return 0;
	if(wiped) {
		/* The version key is gone while we hold a loaded configuration:
		 * Redis restarted without its data (or was flushed). Keep
		 * routing with the cached configuration rather than refusing
		 * every call; a control panel re-provisioning sets a version
		 * again and we load that. */
		if(!_warned_wiped)
			LM_WARN("config version missing in Redis (data lost?): keeping "
					"the cached configuration version %llu\n",
					(unsigned long long)_sh->info.version);
		_warned_wiped = 1;
		return 0;
	}
	_warned_wiped = 0;

	b = br_snap_builder_new();
	if(!b)
		return -1;
	if(load_hashes(b, BR_KEY_TRUNKS, BR_K_TRUNK, &bad, &skipped) < 0
			|| load_hashes(b, BR_KEY_AGENTS, BR_K_AGENT, &bad, &skipped) < 0
			|| load_dids(b, &bad, &skipped) < 0) {
		br_snap_builder_free(b);
		bad_discard(&bad);
		lock_get(&_sh->lock);
		_sh->info.load_failures++;
		lock_release(&_sh->lock);
		LM_ERR("configuration load from Redis failed; keeping version %llu\n",
				(unsigned long long)_sh->info.version);
		return -1;
	}
	snap = br_snap_finish(b, version, shm_alloc_cb, NULL, &st);
	br_snap_builder_free(b);
	if(!snap) {
		bad_discard(&bad);
		LM_ERR("no shared memory for a configuration snapshot\n");
		return -1;
	}
	ref = shm_malloc(sizeof(*ref));
	if(!ref) {
		SHM_MEM_ERROR;
		shm_free(snap);
		bad_discard(&bad);
		return -1;
	}
	ref->snap = snap;
	ref->refs = 1;
	bad_commit(&bad);

	lock_get(&_sh->lock);
	old = _sh->cur;
	_sh->cur = ref;
	_sh->info.version = version;
	_sh->info.trunks = st.trunks;
	_sh->info.agents = st.agents;
	_sh->info.dids = st.dids;
	_sh->info.skipped = skipped + st.skipped;
	_sh->info.skipped_total += skipped + st.skipped;
	_sh->info.loads++;
	_sh->info.load_ms = (uint32_t)(br_now_ms() - t0);
	_sh->info.size = br_snap_size(snap);
	_sh->info.loaded_at = time(NULL);
	last = old && --old->refs == 0;
	lock_release(&_sh->lock);
	if(last)
		ref_free(old);
	LM_INFO("configuration version %llu loaded: %u trunks, %u agents, %u "
			"DIDs, %u skipped, %u ms\n",
			(unsigned long long)version, st.trunks, st.agents, st.dids,
			skipped + st.skipped, (unsigned)(br_now_ms() - t0));
	return 1;
}

void br_conf_get_info(br_conf_info_t *info)
{
	lock_get(&_sh->lock);
	*info = _sh->info;
	lock_release(&_sh->lock);
}
