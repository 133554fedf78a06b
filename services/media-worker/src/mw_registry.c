/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_registry.c -- Redis: registration heartbeat and agent lookups over
 * one reconnecting connection of its own (mw_redis; see mw_registry.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "br_keys.h"
#include "mw_config.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_redis.h"
#include "mw_registry.h"

struct mw_registry
{
	struct event_base *base;
	const struct mw_config *cfg;
	struct mw_status *st;
	struct mw_redis *redis; /* reconnecting connection, owned */
	struct event *hb;		/* heartbeat timer */
	int hb_inflight;		/* replies still expected for this beat */
	int hb_failed;
	int hb_again; /* kicked while a beat was in flight: send one more */
	int closing;  /* mw_registry_free in progress */
	int leaving;  /* deregistered: no heartbeat any more */
	struct lookup *lookups; /* pending agent lookups */
	char key[BR_KEY_MAX];	/* byoc:v1:worker:<id> */
	void (*removed)(void *);
	void *removed_arg;
};

/* A pending agent lookup; on r->lookups until its reply. */
struct lookup
{
	struct mw_registry *r;
	struct lookup *next, **pprev;
	mw_agent_cb cb; /* NULL: forgotten (mw_registry_forget) */
	void *arg;
	char id[BR_ID_MAX + 1];
};

/* The connection came up (AUTH/SELECT queued before anything else) or
 * went down; replies still pending have been called with NULL. */
static void state_cb(void *arg, int up)
{
	struct mw_registry *r = arg;

	if(up) {
		MW_INFO("redis %s:%u connected", r->cfg->redis_host,
				r->cfg->redis_port);
		mw_registry_kick(r);
		return;
	}
	r->hb_inflight = 0;
	atomic_store(&r->st->registry_ok, 0);
}

static void hb_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct mw_registry *r = priv;
	redisReply *rep = reply;

	if(!rep || rep->type == REDIS_REPLY_ERROR) {
		if(!r->hb_failed)
			MW_LOG_LIMIT(MW_LOG_ERR, "registry heartbeat failed: %s",
					rep ? rep->str : "disconnected");
		r->hb_failed = 1;
	}
	if(r->leaving)
		return;
	if(r->hb_inflight > 0 && --r->hb_inflight == 0) {
		int was = atomic_exchange(&r->st->registry_ok, !r->hb_failed);
		if(!was && !r->hb_failed)
			MW_INFO("registered as %s at %s:%u/%s (capacity %u)", r->cfg->id,
					r->cfg->adv_ip, r->cfg->adv_port,
					r->cfg->adv_transport == MW_TP_TCP ? "tcp" : "udp",
					r->cfg->capacity);
		if(r->hb_failed)
			MW_COUNT(MW_C_REDIS_ERRORS);
		/* a state change (draining) during the beat goes out now, not
		 * a heartbeat period later */
		if(r->hb_again) {
			r->hb_again = 0;
			mw_registry_kick(r);
		}
	}
}

/* One command of a beat; one that cannot be sent fails the beat. */
static void hb_send(struct mw_registry *r, int argc, const char **argv)
{
	if(mw_redis_cmd(r->redis, hb_reply_cb, r, argc, argv, NULL) < 0) {
		r->hb_inflight--;
		r->hb_failed = 1;
	}
}

void mw_registry_kick(struct mw_registry *r)
{
	char port[8], cap[16], active[16], ttl[16], draining[4];
	const char *hset[] = {"HSET", r->key, "addr", r->cfg->adv_ip, "port", port,
			"transport", r->cfg->adv_transport == MW_TP_TCP ? "tcp" : "udp",
			"capacity", cap, "active", active, "draining", draining, "wideband",
			r->cfg->wideband ? "1" : "0"};
	const char *expire[] = {"EXPIRE", r->key, ttl};
	const char *sadd[] = {"SADD", BR_KEY_WORKERS, r->cfg->id};

	if(!mw_redis_up(r->redis) || r->closing || r->leaving) {
		atomic_store(&r->st->registry_ok, 0);
		return;
	}
	if(r->hb_inflight) {
		r->hb_again = 1; /* sent when the previous beat is answered */
		return;
	}
	snprintf(port, sizeof(port), "%u", r->cfg->adv_port);
	snprintf(cap, sizeof(cap), "%u", r->cfg->capacity);
	snprintf(active, sizeof(active), "%u", atomic_load(&r->st->active));
	snprintf(ttl, sizeof(ttl), "%u", 3 * r->cfg->heartbeat_s);
	snprintf(draining, sizeof(draining), "%d",
			atomic_load(&r->st->draining) ? 1 : 0);
	r->hb_failed = 0;
	r->hb_inflight = 3;
	/* pipelined; each reply is counted by hb_reply_cb (a command that
	 * could not be sent does not count) */
	hb_send(r, (int)(sizeof(hset) / sizeof(hset[0])), hset);
	hb_send(r, 3, expire);
	hb_send(r, 3, sadd);
}

static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
	mw_registry_kick(arg);
}

int mw_registry_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_status *st, struct mw_registry **out)
{
	struct mw_registry *r = calloc(1, sizeof(*r));
	struct timeval tv = {(time_t)cfg->heartbeat_s, 0};

	*out = NULL;
	if(!r)
		return -ENOMEM;
	r->base = base;
	r->cfg = cfg;
	r->st = st;
	if(br_key(r->key, sizeof(r->key), BR_K_WORKER, cfg->id) < 0) {
		free(r);
		return -EINVAL;
	}
	r->hb = event_new(base, -1, EV_PERSIST, hb_cb, r);
	if(!r->hb ||
			mw_redis_new(base, cfg, "registry", state_cb, r, &r->redis) < 0) {
		mw_registry_free(r);
		return -ENOMEM;
	}
	event_add(r->hb, &tv);
	*out = r;
	return 0;
}

static void removed_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct mw_registry *r = priv;
	void (*done)(void *) = r->removed;

	if(!done)
		return;
	r->removed = NULL;
	done(r->removed_arg);
}

void mw_registry_remove(struct mw_registry *r, void (*done)(void *), void *arg)
{
	const char *del[] = {"DEL", r->key};
	const char *srem[] = {"SREM", BR_KEY_WORKERS, r->cfg->id};

	event_del(r->hb);
	r->leaving = 1;
	atomic_store(&r->st->registry_ok, 0);
	/* the last reply of the pipeline says both were processed */
	if(mw_redis_cmd(r->redis, NULL, NULL, 2, del, NULL) < 0 ||
			mw_redis_cmd(r->redis, removed_cb, r, 3, srem, NULL) < 0) {
		done(arg);
		return;
	}
	r->removed = done;
	r->removed_arg = arg;
}

void mw_registry_free(struct mw_registry *r)
{
	if(!r)
		return;
	r->closing = 1;
	/* pending callbacks run now with a NULL reply */
	mw_redis_free(r->redis);
	if(r->removed)
		removed_cb(NULL, NULL, r);
	if(r->hb)
		event_free(r->hb);
	free(r);
}

/* ---- agent records ------------------------------------------------------- */

int mw_registry_agent_parse(const char *id, const char *const *kv, size_t n,
		br_agent_t *a, char *err, size_t errlen)
{
	size_t i;
	char e[160];

	br_agent_defaults(a);
	if(!br_id_valid(id) || !*id) {
		snprintf(err, errlen, "invalid agent id");
		return -EINVAL;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	for(i = 0; i + 1 < n; i += 2) {
		e[0] = 0;
		if(strcmp(kv[i], "id") == 0)
			continue; /* the key is authoritative */
		if(br_agent_set(a, kv[i], kv[i + 1], e, sizeof(e)) < 0) {
			/* fields written by a newer control plane are ignored, as the
			 * edge does; anything else makes the record unusable */
			if(strstr(e, "unknown"))
				continue;
			snprintf(err, errlen, "%s", e);
			return -EINVAL;
		}
	}
	if(br_agent_check(a, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", e);
		return -EINVAL;
	}
	return 0;
}

static void agent_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct lookup *l = priv;
	redisReply *rep = reply;
	const char *kv[2 * 64];
	br_agent_t *a = NULL;
	char err[200] = "";
	size_t i, n = 0;
	int rc;

	if(!rep || rep->type == REDIS_REPLY_ERROR) {
		MW_COUNT(MW_C_REDIS_ERRORS);
		snprintf(
				err, sizeof(err), "redis: %s", rep ? rep->str : "disconnected");
		rc = -EIO;
	} else if(rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
		rc = -ENOENT;
	} else {
		for(i = 0; i + 1 < rep->elements && n + 2 <= 128; i += 2) {
			if(rep->element[i]->type != REDIS_REPLY_STRING ||
					rep->element[i + 1]->type != REDIS_REPLY_STRING)
				continue;
			kv[n++] = rep->element[i]->str;
			kv[n++] = rep->element[i + 1]->str;
		}
		a = malloc(sizeof(*a));
		if(!a) {
			rc = -ENOMEM;
		} else {
			rc = mw_registry_agent_parse(l->id, kv, n, a, err, sizeof(err));
		}
	}
	*l->pprev = l->next;
	if(l->next)
		l->next->pprev = l->pprev;
	if(l->cb)
		l->cb(l->arg, rc, rc == 0 ? a : NULL, err);
	if(a) {
		br_secret_wipe(a, sizeof(*a));
		free(a);
	}
	free(l);
}

int mw_registry_get_agent(
		struct mw_registry *r, const char *id, mw_agent_cb cb, void *arg)
{
	struct lookup *l;
	char key[BR_KEY_MAX];
	const char *argv[2] = {"HGETALL", key};

	if(!br_id_valid(id) || !*id)
		return -EINVAL;
	if(!mw_redis_up(r->redis))
		return -ENOTCONN;
	if(br_key(key, sizeof(key), BR_K_AGENT, id) < 0)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if(!l)
		return -ENOMEM;
	l->r = r;
	l->cb = cb;
	l->arg = arg;
	snprintf(l->id, sizeof(l->id), "%s", id);
	if(mw_redis_cmd(r->redis, agent_reply_cb, l, 2, argv, NULL) < 0) {
		free(l);
		return -ENOTCONN;
	}
	l->next = r->lookups;
	if(l->next)
		l->next->pprev = &l->next;
	r->lookups = l;
	l->pprev = &r->lookups;
	return 0;
}

void mw_registry_forget(struct mw_registry *r, void *arg)
{
	struct lookup *l;

	for(l = r ? r->lookups : NULL; l; l = l->next)
		if(l->arg == arg)
			l->cb = NULL;
}
