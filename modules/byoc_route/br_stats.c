/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_stats.c -- per-trunk outcome counters in shared memory, flushed to
 * Redis by the sync process.
 */
#include <string.h>

#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"

#include "lib/br_keys.h"
#include "br_redis.h"
#include "br_stats.h"

#define BR_STATS_BUCKETS 256

typedef struct br_tstat {
	struct br_tstat *next;
	char id[BR_ID_MAX + 1];
	uint32_t active;
	uint64_t delta[BR_OUTCOME__MAX];  /* not yet in Redis */
	uint64_t totals[BR_OUTCOME__MAX]; /* since this proxy started */
} br_tstat_t;

typedef struct br_stats_tab {
	gen_lock_t lock; /* one lock: updates are a few increments */
	br_tstat_t *b[BR_STATS_BUCKETS];
} br_stats_tab_t;

static br_stats_tab_t *_tab; /* shm, owned by the main process */

int br_stats_mod_init(void)
{
	_tab = shm_malloc(sizeof(*_tab));
	if(!_tab) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(_tab, 0, sizeof(*_tab));
	lock_init(&_tab->lock);
	return 0;
}

void br_stats_mod_destroy(void)
{
	int i;
	br_tstat_t *s, *n;

	if(!_tab)
		return;
	for(i = 0; i < BR_STATS_BUCKETS; i++)
		for(s = _tab->b[i]; s; s = n) {
			n = s->next;
			shm_free(s);
		}
	shm_free(_tab);
	_tab = NULL;
}

/* Finds or creates the entry; called with the lock held. */
static br_tstat_t *find(const char *id)
{
	str s;
	unsigned int h;
	br_tstat_t *e;

	if(!id || !id[0])
		id = BR_STATS_NOTRUNK;
	s.s = (char *)id;
	s.len = strlen(id);
	if(s.len > BR_ID_MAX)
		return NULL;
	h = core_hash(&s, NULL, BR_STATS_BUCKETS);
	for(e = _tab->b[h]; e; e = e->next)
		if(strcmp(e->id, id) == 0)
			return e;
	e = shm_malloc(sizeof(*e));
	if(!e) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, s.len);
	e->next = _tab->b[h];
	_tab->b[h] = e;
	return e;
}

void br_stats_count(const char *id, int outcome)
{
	br_tstat_t *e;

	if(!_tab || outcome < 0 || outcome >= BR_OUTCOME__MAX)
		return;
	lock_get(&_tab->lock);
	e = find(id);
	if(e) {
		e->delta[outcome]++;
		e->totals[outcome]++;
	}
	lock_release(&_tab->lock);
}

void br_stats_active_add(const char *id, int delta)
{
	br_tstat_t *e;

	if(!_tab)
		return;
	lock_get(&_tab->lock);
	e = find(id);
	if(e) {
		if(delta < 0 && e->active < (uint32_t)-delta)
			e->active = 0;
		else
			e->active += delta;
	}
	lock_release(&_tab->lock);
}

uint32_t br_stats_active(const char *id)
{
	br_tstat_t *e;
	uint32_t n = 0;

	if(!_tab)
		return 0;
	lock_get(&_tab->lock);
	e = find(id);
	if(e)
		n = e->active;
	lock_release(&_tab->lock);
	return n;
}

/* Up to this many HINCRBY per flush; the rest waits for the next second. */
#define BR_FLUSH_MAX 1024

void br_stats_flush(void)
{
	static struct {
		char key[BR_KEY_MAX];
		char id[BR_ID_MAX + 1];
		int outcome;
		uint64_t n;
	} pend[BR_FLUSH_MAX];
	redisReply *rep[BR_FLUSH_MAX];
	char num[24];
	int i, np = 0, o, failed;
	br_tstat_t *e;

	if(!_tab || !br_redis_available())
		return;
	lock_get(&_tab->lock);
	for(i = 0; i < BR_STATS_BUCKETS && np < BR_FLUSH_MAX; i++)
		for(e = _tab->b[i]; e && np < BR_FLUSH_MAX; e = e->next)
			for(o = 0; o < BR_OUTCOME__MAX && np < BR_FLUSH_MAX; o++) {
				if(!e->delta[o])
					continue;
				if(br_key(pend[np].key, BR_KEY_MAX, BR_K_STATS, e->id) < 0)
					continue;
				strcpy(pend[np].id, e->id);
				pend[np].outcome = o;
				pend[np].n = e->delta[o];
				e->delta[o] = 0;
				np++;
			}
	lock_release(&_tab->lock);
	if(np == 0)
		return;
	for(i = 0; i < np; i++) {
		const char *argv[4] = {"HINCRBY", pend[i].key,
				br_outcome_name(pend[i].outcome), num};
		snprintf(num, sizeof(num), "%llu", (unsigned long long)pend[i].n);
		if(br_redis_append(4, argv, NULL) < 0)
			break;
	}
	failed = br_redis_get_replies(rep, np) < 0;
	for(i = 0; i < np; i++)
		if(rep[i])
			freeReplyObject(rep[i]);
	if(failed) {
		/* put the deltas back; they go out with the next flush */
		lock_get(&_tab->lock);
		for(i = 0; i < np; i++) {
			e = find(pend[i].id);
			if(e)
				e->delta[pend[i].outcome] += pend[i].n;
		}
		lock_release(&_tab->lock);
	}
}

void br_stats_walk(br_stats_walk_fn fn, void *ctx)
{
	int i, n = 0;
	br_tstat_t *e;
	static br_tstat_t copy[512];

	if(!_tab)
		return;
	/* copy under the lock, call back without it */
	lock_get(&_tab->lock);
	for(i = 0; i < BR_STATS_BUCKETS; i++)
		for(e = _tab->b[i]; e && n < 512; e = e->next)
			copy[n++] = *e;
	lock_release(&_tab->lock);
	for(i = 0; i < n; i++)
		fn(copy[i].id, copy[i].totals, copy[i].active, ctx);
}
