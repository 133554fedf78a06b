/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_jobs.c -- the outbound job consumer: Redis stream consumer group,
 * claim/dial/outcome bookkeeping in Lua, reclaiming a stopped worker's
 * jobs (see mw_jobs.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "mw_call.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_dial.h"
#include "mw_jobs.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_record.h"
#include "mw_redis.h"
#include "mw_sip.h"
#include "mw_thread.h"
#include "mw_ua.h"

#define REFRESH_BATCH 100 /* ids per XCLAIM refresh */
#define RECLAIM_COUNT 4	  /* entries per XAUTOCLAIM, at most the free slots */
/* claims of one job whose worker stopped before dialling: the next
 * reclaim closes it (a request that kills its workers must not go round
 * the cluster for ever); a string for claim_lua */
#define MAX_ATTEMPTS "3"

/*
 * claim: KEYS job hash, stream; ARGV worker, now, group, entry id, ttl,
 * then the request's field/value pairs (kept in the hash: the stream
 * entry is deleted once the job is done).
 * -> {"claimed"} | {"done"} | {"canceled"} | {"dialled", worker, call_id}
 *    | {"abandoned", attempts} (MAX_ATTEMPTS claims never got to dialling)
 * A job reclaimed as lost changes owner, so that a stalled (not dead)
 * previous owner's final write sees another owner and keeps this record.
 */
static const char claim_lua[] =
		"local st = redis.call('HGET', KEYS[1], 'state')\n"
		"if st == 'done' then\n"
		"  redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])\n"
		"  redis.call('XDEL', KEYS[2], ARGV[4])\n"
		"  return {'done'}\n"
		"end\n"
		"if st == 'dialing' or st == 'answered' then\n"
		"  local prev = redis.call('HGET', KEYS[1], 'worker') or ''\n"
		"  local cid = redis.call('HGET', KEYS[1], 'call_id') or ''\n"
		"  local out = redis.call('HGET', KEYS[1], 'outcome')\n"
		"  if not out or out == '' then out = 'failed' end\n"
		"  redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', out,\n"
		"    'lost', '1', 'reclaimed_by', ARGV[1], 'worker', ARGV[1],\n"
		"    'ended_at', ARGV[2],\n"
		"    'reason', 'worker ' .. prev .. ' stopped during the attempt')\n"
		"  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
		"  redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])\n"
		"  redis.call('XDEL', KEYS[2], ARGV[4])\n"
		"  return {'dialled', prev, cid}\n"
		"end\n"
		"for i = 6, #ARGV, 2 do\n"
		"  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])\n"
		"end\n"
		"if redis.call('HGET', KEYS[1], 'cancel') == '1' then\n"
		"  redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', "
		"'canceled',\n"
		"    'reason', 'canceled before dialling', 'worker', ARGV[1],\n"
		"    'ended_at', ARGV[2])\n"
		"  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
		"  redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])\n"
		"  redis.call('XDEL', KEYS[2], ARGV[4])\n"
		"  return {'canceled'}\n"
		"end\n"
		"local tries = tonumber(redis.call('HGET', KEYS[1], 'attempts')) or 0\n"
		"if tries >= " MAX_ATTEMPTS " then\n"
		"  redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', 'failed',\n"
		"    'lost', '1', 'worker', ARGV[1], 'ended_at', ARGV[2],\n"
		"    'reason', 'abandoned after ' .. tries .. ' attempts: each "
		"worker stopped before dialling')\n"
		"  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
		"  redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])\n"
		"  redis.call('XDEL', KEYS[2], ARGV[4])\n"
		"  return {'abandoned', tostring(tries)}\n"
		"end\n"
		"redis.call('HSET', KEYS[1], 'state', 'claimed', 'worker', ARGV[1],\n"
		"  'claimed_at', ARGV[2])\n"
		"redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
		"return {'claimed'}\n";

/* dial: KEYS job hash; ARGV worker, call_id, now -> 1 may dial, 0 not */
static const char dial_lua[] =
		"if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' or\n"
		"   redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then\n"
		"  return 0\n"
		"end\n"
		"redis.call('HSET', KEYS[1], 'state', 'dialing', 'call_id', ARGV[2],\n"
		"  'dialed_at', ARGV[3])\n"
		"return 1\n";

/* release (the INVITE was not sent after all): KEYS job hash; ARGV
 * worker, call_id. The claim is not counted as an attempt: this worker
 * did not stop (MAX_ATTEMPTS counts the claims whose workers did). */
static const char release_lua[] =
		"if redis.call('HGET', KEYS[1], 'worker') == ARGV[1] and\n"
		"   redis.call('HGET', KEYS[1], 'call_id') == ARGV[2] and\n"
		"   redis.call('HGET', KEYS[1], 'state') == 'dialing' then\n"
		"  redis.call('HSET', KEYS[1], 'state', 'claimed', 'call_id', '')\n"
		"  redis.call('HINCRBY', KEYS[1], 'attempts', -1)\n"
		"end\n"
		"return 1\n";

/* outcome / final: KEYS job hash, stream; ARGV worker, group, entry id,
 * ttl, final (0/1), then field/value pairs. Written only while this
 * worker owns the job; the entry is acknowledged (and deleted) when
 * final whatever the owner. -> 1 written, 0 not the owner */
static const char record_lua[] =
		"local mine = redis.call('HGET', KEYS[1], 'worker') == ARGV[1]\n"
		"if mine then\n"
		"  for i = 6, #ARGV, 2 do\n"
		"    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])\n"
		"  end\n"
		"end\n"
		"if ARGV[5] == '1' then\n"
		"  if mine then redis.call('EXPIRE', KEYS[1], ARGV[4]) end\n"
		"  redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])\n"
		"  redis.call('XDEL', KEYS[2], ARGV[3])\n"
		"end\n"
		"if mine then return 1 end\n"
		"return 0\n";

enum job_state
{
	J_CLAIM = 0, /* claim script in flight */
	J_MARK,		 /* dial mark in flight */
	J_CALL,		 /* the call is under way */
	J_FINAL,	 /* final record to write (or in flight) */
	J__MAX
};

#define JOB_FIELDS 16 /* final field/value pairs */

struct job
{
	struct job *next;
	struct mw_jobs *j;
	enum job_state state;
	int inflight;	/* Redis replies still expected for this job */
	int final_sent; /* the final record's EVAL is the one in flight */
	int reclaimed;	/* taken over from a stopped worker */
	char id[48];	/* stream entry id */
	char key[80];	/* byoc:v1:job:<id> */
	char call_id[MW_DIAL_ID_MAX];
	struct mw_dial_req req;
	char *params;
	char ring[12], maxd[12];
	/* the final record (copied from the call) */
	size_t nf;
	char *fv[2 * JOB_FIELDS];
};

struct mw_jobs
{
	struct event_base *base;
	const struct mw_config *cfg;
	struct mw_ua *ua;
	struct mw_record *rec;
	struct mw_redis *redis;
	int group_ok; /* the consumer group exists */
	int reading;  /* XREADGROUP / XAUTOCLAIM in flight */
	int draining;
	int closing;
	struct job *jobs;
	unsigned njobs;
	struct event *tick;	  /* 1 s upkeep */
	struct event *kick;	  /* deferred pump */
	int64_t next_refresh; /* monotonic ms */
	int64_t next_reclaim;
	char cursor[48]; /* XAUTOCLAIM scan position */
	void (*flushed)(void *);
	void *flushed_arg;
	struct event *flush_to;
};

static void pump(struct mw_jobs *j);
static void finalize(struct job *jb);

/* ---- helpers ------------------------------------------------------------ */

static void kick(struct mw_jobs *j)
{
	if(!j->closing)
		event_active(j->kick, 0, 0);
}

static void job_event(struct job *jb, const char *name, const char *k1,
		const char *v1, const char *k2, const char *v2)
{
	const char *kv[2 * 8];
	char at[24], ev[32];
	size_t n = 0;

	if(!jb->j->rec)
		return;
	snprintf(ev, sizeof(ev), "job.%s", name);
	snprintf(at, sizeof(at), "%" PRId64, mw_cdr_now());
	kv[n * 2] = "event", kv[n * 2 + 1] = ev, n++;
	kv[n * 2] = "at", kv[n * 2 + 1] = at, n++;
	kv[n * 2] = "job", kv[n * 2 + 1] = jb->id, n++;
	kv[n * 2] = "worker", kv[n * 2 + 1] = jb->j->cfg->id, n++;
	if(jb->call_id[0])
		kv[n * 2] = "call_id", kv[n * 2 + 1] = jb->call_id, n++;
	if(k1 && v1)
		kv[n * 2] = k1, kv[n * 2 + 1] = v1, n++;
	if(k2 && v2)
		kv[n * 2] = k2, kv[n * 2 + 1] = v2, n++;
	mw_record_add(jb->j->rec, MW_REC_EVENTS, kv, n);
}

static void job_free(struct job *jb)
{
	size_t i;

	for(i = 0; i < 2 * jb->nf; i++)
		free(jb->fv[i]);
	free(jb->params);
	free(jb);
}

/* Unlinks and frees 'jb' (no reply pending for it). */
static void job_drop(struct job *jb)
{
	struct mw_jobs *j = jb->j;
	struct job **pp = &j->jobs;

	while(*pp && *pp != jb)
		pp = &(*pp)->next;
	if(*pp) {
		*pp = jb->next;
		j->njobs--;
	}
	job_free(jb);
	if(j->flushed && !j->njobs) {
		void (*done)(void *) = j->flushed;
		j->flushed = NULL;
		event_del(j->flush_to);
		done(j->flushed_arg);
	}
	kick(j);
}

static int cmd(struct job *jb, redisCallbackFn *fn, int argc, const char **argv)
{
	if(mw_redis_cmd(jb->j->redis, fn, jb, argc, argv, NULL) < 0)
		return -ENOTCONN;
	jb->inflight++;
	return 0;
}

static unsigned u_field(const char *v)
{
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;

	return v && *v && !*end && n <= 86400 ? (unsigned)n : 0;
}

/* ---- the call's side (mw_dial callback) --------------------------------------- */

static void set_field(struct job *jb, const char *k, const char *v)
{
	if(jb->nf >= JOB_FIELDS)
		return;
	jb->fv[2 * jb->nf] = strdup(k);
	jb->fv[2 * jb->nf + 1] = strdup(v ? v : "");
	if(!jb->fv[2 * jb->nf] || !jb->fv[2 * jb->nf + 1]) {
		free(jb->fv[2 * jb->nf]);
		free(jb->fv[2 * jb->nf + 1]);
		return;
	}
	jb->nf++;
}

static void record_cb(redisAsyncContext *ac, void *reply, void *priv);

#define RECORD_ARGS 10 /* record_argv's */

/* The head of record_lua's EVAL (RECORD_ARGS entries): keys, worker,
 * group, entry id, TTL ('ttl' is the caller's buffer) and whether the
 * record is final; the fields follow. */
static int record_argv(
		const struct job *jb, const char **argv, char ttl[16], int final)
{
	int n = 0;

	snprintf(ttl, 16, "%d", MW_JOBS_TTL_S);
	argv[n++] = "EVAL";
	argv[n++] = record_lua;
	argv[n++] = "2";
	argv[n++] = jb->key;
	argv[n++] = MW_JOBS_STREAM;
	argv[n++] = jb->j->cfg->id;
	argv[n++] = MW_JOBS_GROUP;
	argv[n++] = jb->id;
	argv[n++] = ttl;
	argv[n++] = final ? "1" : "0";
	return n;
}

/* Writes the outcome (answered: while the call goes on). */
static void write_outcome(struct job *jb, struct mw_call *c)
{
	const char *argv[RECORD_ARGS + 2 * 4];
	char code[8], at[24], ttl[16];
	int n = record_argv(jb, argv, ttl, 0);

	snprintf(code, sizeof(code), "%d", c->cdr.sip_code);
	snprintf(at, sizeof(at), "%" PRId64, c->cdr.answer_at);
	argv[n++] = "outcome", argv[n++] = c->cdr.outcome;
	argv[n++] = "sip_code", argv[n++] = code;
	if(c->cdr.answer_at) {
		argv[n++] = "state", argv[n++] = "answered";
		argv[n++] = "answered_at", argv[n++] = at;
	}
	/* best effort: the final record repeats it */
	cmd(jb, record_cb, n, argv);
}

static void dial_cb(void *arg, enum mw_dial_event ev, struct mw_call *c)
{
	struct job *jb = arg;
	char num[24];

	if(ev == MW_DIAL_EV_OUTCOME) {
		char code[8];
		snprintf(code, sizeof(code), "%d", c->cdr.sip_code);
		job_event(jb, "outcome", "outcome", c->cdr.outcome, "sip_code", code);
		write_outcome(jb, c);
		return;
	}
	/* ENDED: the call's record is queued; the job's goes to its hash */
	set_field(jb, "state", "done");
	set_field(jb, "outcome", c->cdr.outcome ? c->cdr.outcome : "failed");
	snprintf(num, sizeof(num), "%d", c->cdr.sip_code);
	set_field(jb, "sip_code", num);
	set_field(jb, "reason", c->cdr.reason);
	set_field(jb, "end_cause", mw_cdr_end_cause(c->end));
	set_field(jb, "hangup_by", mw_cdr_hangup_by(c));
	snprintf(num, sizeof(num), "%" PRId64, c->cdr.answer_at);
	set_field(jb, "answered_at", num);
	snprintf(num, sizeof(num), "%" PRId64, c->cdr.end_at);
	set_field(jb, "ended_at", num);
	snprintf(num, sizeof(num), "%" PRId64,
			c->cdr.answer_at ? c->cdr.end_at - c->cdr.answer_at : 0);
	set_field(jb, "duration_ms", num);
	set_field(jb, "trunk", c->cdr.trunk);
	jb->state = J_FINAL;
	finalize(jb);
}

/* ---- final record + acknowledgement ------------------------------------------ */

static void record_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct job *jb = priv;
	redisReply *rep = reply;
	/* replies come in order and finalize() waits for the outcome's, so
	 * this is the final record's reply exactly when it was sent */
	int final = jb->final_sent;

	jb->inflight--;
	jb->final_sent = 0;
	if(jb->j->closing)
		return;
	if(!rep || rep->type == REDIS_REPLY_ERROR) {
		MW_LOG_LIMIT(MW_LOG_WARN, "job %s: recording failed: %s", jb->id,
				rep ? rep->str : "disconnected");
		MW_COUNT(MW_C_REDIS_ERRORS);
		return; /* J_FINAL: tried again by the tick */
	}
	if(!final) {
		/* the outcome is written; the call may have ended meanwhile */
		finalize(jb);
		return;
	}
	if(rep->type == REDIS_REPLY_INTEGER && rep->integer == 0)
		MW_WARN("job %s: taken over by another worker meanwhile; its "
				"record was kept",
				jb->id);
	MW_COUNT(MW_C_JOB_DONE);
	job_event(jb, "done", "outcome", jb->nf > 1 ? jb->fv[3] : "", NULL, NULL);
	MW_INFO("job %s done (%s)", jb->id, jb->nf > 1 ? jb->fv[3] : "?");
	job_drop(jb);
}

static void finalize(struct job *jb)
{
	const char *argv[RECORD_ARGS + 2 * JOB_FIELDS];
	char ttl[16];
	size_t i;
	int n;

	if(jb->state != J_FINAL || jb->inflight)
		return;
	n = record_argv(jb, argv, ttl, 1);
	for(i = 0; i < 2 * jb->nf; i++)
		argv[n++] = jb->fv[i];
	if(cmd(jb, record_cb, n, argv) == 0) /* not connected: the tick retries */
		jb->final_sent = 1;
}

/* A job closed without a call (invalid, or refused before dialling). */
static void close_unstarted(
		struct job *jb, const char *outcome, const char *reason)
{
	char at[24];

	snprintf(at, sizeof(at), "%" PRId64, mw_cdr_now());
	set_field(jb, "state", "done");
	set_field(jb, "outcome", outcome);
	set_field(jb, "sip_code", "0");
	set_field(jb, "reason", reason);
	set_field(jb, "ended_at", at);
	MW_WARN("job %s: %s (%s)", jb->id, outcome, reason);
	jb->state = J_FINAL;
	finalize(jb);
}

/* ---- dialling --------------------------------------------------------------- */

static void release_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct job *jb = priv;

	if(--jb->inflight == 0 && !jb->j->closing)
		job_drop(jb);
}

static void mark_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct job *jb = priv;
	struct mw_jobs *j = jb->j;
	redisReply *rep = reply;
	int rc;

	jb->inflight--;
	if(j->closing)
		return;
	if(!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
		/* not recorded as dialled: not dialled; another worker (or our
		 * own reclaim) takes it up once it is idle */
		MW_WARN("job %s: not marked as dialling (%s); left for later", jb->id,
				!rep							 ? "disconnected"
				: rep->type == REDIS_REPLY_ERROR ? rep->str
												 : "owned elsewhere");
		job_drop(jb);
		return;
	}
	rc = mw_dial_start(j->ua, &jb->req, dial_cb, jb);
	if(rc < 0) {
		const char *argv[7] = {
				"EVAL", release_lua, "1", jb->key, j->cfg->id, jb->call_id};
		MW_NOTICE("job %s: not dialled now (%s); released", jb->id,
				strerror(-rc));
		if(rc == -EINVAL) {
			close_unstarted(jb, "failed", "invalid job");
			return;
		}
		if(cmd(jb, release_cb, 6, argv) < 0)
			job_drop(jb);
		return;
	}
	jb->state = J_CALL;
	kick(j); /* the next job, capacity permitting */
}

static void start_dial(struct job *jb)
{
	struct mw_jobs *j = jb->j;
	char err[96], now[24];
	const char *argv[7];

	if(mw_dial_req_check(&jb->req, err, sizeof(err)) < 0) {
		close_unstarted(jb, "failed", err);
		return;
	}
	mw_sip_token(jb->call_id, 32);
	snprintf(jb->req.call_id, sizeof(jb->req.call_id), "%s", jb->call_id);
	snprintf(now, sizeof(now), "%" PRId64, mw_cdr_now());
	argv[0] = "EVAL";
	argv[1] = dial_lua;
	argv[2] = "1";
	argv[3] = jb->key;
	argv[4] = j->cfg->id;
	argv[5] = jb->call_id;
	argv[6] = now;
	jb->state = J_MARK;
	if(cmd(jb, mark_cb, 7, argv) < 0)
		job_drop(jb);
}

/* String element i of an array reply, or 'dflt'. */
static const char *elem_str(const redisReply *r, size_t i, const char *dflt)
{
	return r->elements > i && r->element[i]->str ? r->element[i]->str : dflt;
}

static void claim_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct job *jb = priv;
	redisReply *rep = reply;
	const char *what;

	jb->inflight--;
	if(jb->j->closing)
		return;
	if(!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
			rep->element[0]->type != REDIS_REPLY_STRING) {
		MW_WARN("job %s: claim failed: %s", jb->id,
				rep && rep->type == REDIS_REPLY_ERROR ? rep->str
													  : "disconnected");
		job_drop(jb);
		return;
	}
	what = rep->element[0]->str;
	if(strcmp(what, "claimed") == 0) {
		MW_COUNT(jb->reclaimed ? MW_C_JOB_RECLAIMED : MW_C_JOB_TAKEN);
		job_event(jb, jb->reclaimed ? "reclaimed" : "claimed", "to", jb->req.to,
				"agent", jb->req.agent);
		start_dial(jb);
		return;
	}
	if(strcmp(what, "dialled") == 0) {
		const char *prev = elem_str(rep, 1, ""), *cid = elem_str(rep, 2, "");
		MW_COUNT(MW_C_JOB_DIALLED_ELSEWHERE);
		MW_NOTICE("job %s: worker %s stopped after dialling it (Call-ID "
				  "%s); closed as lost, not dialled again",
				jb->id, prev, cid);
		snprintf(jb->call_id, sizeof(jb->call_id), "%s", cid);
		job_event(jb, "lost", "previous_worker", prev, NULL, NULL);
	} else if(strcmp(what, "canceled") == 0) {
		job_event(jb, "done", "outcome", "canceled", NULL, NULL);
		MW_INFO("job %s canceled before dialling", jb->id);
	} else if(strcmp(what, "abandoned") == 0) {
		const char *n = elem_str(rep, 1, "?");
		MW_COUNT(MW_C_JOB_ABANDONED);
		MW_WARN("job %s: abandoned after %s attempts (each worker that "
				"claimed it stopped before dialling); closed as failed",
				jb->id, n);
		job_event(jb, "abandoned", "attempts", n, NULL, NULL);
	}
	job_drop(jb);
}

/* A stream entry ('e': [id, [field, value, ...]]) read or reclaimed. */
static void take_entry(struct mw_jobs *j, redisReply *e, int reclaimed)
{
	const char *argv[12 + 2 * 8];
	redisReply *f;
	struct job *jb;
	char now[24], ttl[16];
	size_t i;
	int n = 0;

	if(!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
			e->element[0]->type != REDIS_REPLY_STRING)
		return;
	if(j->draining) {
		/* read by the XREADGROUP that was blocked when the drain began:
		 * left untouched in our pending list; another worker reclaims
		 * it once it is idle */
		MW_NOTICE("job %s arrived while draining; left for another worker",
				e->element[0]->str);
		return;
	}
	f = e->element[1];
	jb = calloc(1, sizeof(*jb));
	if(!jb)
		return;
	jb->j = j;
	jb->reclaimed = reclaimed;
	snprintf(jb->id, sizeof(jb->id), "%s", e->element[0]->str);
	snprintf(jb->key, sizeof(jb->key), MW_JOBS_HASH "%s", jb->id);
	snprintf(jb->req.job, sizeof(jb->req.job), "%s", jb->id);
	snprintf(now, sizeof(now), "%" PRId64, mw_cdr_now());
	snprintf(ttl, sizeof(ttl), "%d", MW_JOBS_TTL_S);
	argv[n++] = "EVAL";
	argv[n++] = claim_lua;
	argv[n++] = "2";
	argv[n++] = jb->key;
	argv[n++] = MW_JOBS_STREAM;
	argv[n++] = j->cfg->id;
	argv[n++] = now;
	argv[n++] = MW_JOBS_GROUP;
	argv[n++] = jb->id;
	argv[n++] = ttl;
	/* the request: known fields only, into the dial request and the
	 * job's hash (a new attempt after a reclaim reads them again) */
	for(i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements;
			i += 2) {
		const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
		if(!k || !v)
			continue;
		if(strcmp(k, "agent") == 0)
			snprintf(jb->req.agent, sizeof(jb->req.agent), "%s", v);
		else if(strcmp(k, "to") == 0)
			snprintf(jb->req.to, sizeof(jb->req.to), "%s", v);
		else if(strcmp(k, "from") == 0)
			snprintf(jb->req.from, sizeof(jb->req.from), "%s", v);
		else if(strcmp(k, "params") == 0 && !jb->params)
			jb->params = strdup(v);
		else if(strcmp(k, "ring_timeout") == 0)
			jb->req.ring_timeout_s = u_field(v);
		else if(strcmp(k, "max_duration") == 0)
			jb->req.max_duration_s = u_field(v);
		else
			continue;
		if(n + 2 <= (int)(sizeof(argv) / sizeof(argv[0]))) {
			argv[n++] = k;
			argv[n++] = v;
		}
	}
	jb->req.params = jb->params;
	jb->next = j->jobs;
	j->jobs = jb;
	j->njobs++;
	jb->state = J_CLAIM;
	MW_INFO("job %s%s: %s for agent %s", jb->id,
			reclaimed ? " (reclaimed)" : "", jb->req.to, jb->req.agent);
	if(cmd(jb, claim_cb, n, argv) < 0)
		job_drop(jb);
}

/* ---- reading and reclaiming ------------------------------------------------ */

static void read_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct mw_jobs *j = priv;
	redisReply *rep = reply, *s, *entries;
	size_t i, k;

	j->reading = 0;
	if(j->closing || !rep)
		return;
	if(rep->type == REDIS_REPLY_ERROR) {
		if(strncmp(rep->str, "NOGROUP", 7) == 0)
			j->group_ok = 0; /* the stream was deleted: create again */
		else
			MW_LOG_LIMIT(MW_LOG_WARN, "jobs: read failed: %s", rep->str);
		return; /* the tick tries again */
	}
	/* [[stream, [[id, fields], ...]]] or nil on timeout */
	if(rep->type == REDIS_REPLY_ARRAY)
		for(i = 0; i < rep->elements; i++) {
			s = rep->element[i];
			if(s->type != REDIS_REPLY_ARRAY || s->elements < 2)
				continue;
			entries = s->element[1];
			for(k = 0;
					entries->type == REDIS_REPLY_ARRAY && k < entries->elements;
					k++)
				take_entry(j, entries->element[k], 0);
		}
	pump(j);
}

static void reclaim_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct mw_jobs *j = priv;
	redisReply *rep = reply, *entries;
	size_t k;

	j->reading = 0;
	if(j->closing || !rep)
		return;
	if(rep->type == REDIS_REPLY_ERROR) {
		MW_LOG_LIMIT(MW_LOG_WARN, "jobs: XAUTOCLAIM failed: %s", rep->str);
		return;
	}
	/* [next cursor, [[id, fields] | nil, ...], [deleted ids]] */
	if(rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
		if(rep->element[0]->type == REDIS_REPLY_STRING)
			snprintf(j->cursor, sizeof(j->cursor), "%s", rep->element[0]->str);
		entries = rep->element[1];
		for(k = 0; entries->type == REDIS_REPLY_ARRAY && k < entries->elements;
				k++)
			take_entry(j, entries->element[k], 1);
	}
	pump(j);
}

static int pre_dial_jobs(const struct mw_jobs *j)
{
	const struct job *jb;

	for(jb = j->jobs; jb; jb = jb->next)
		if(jb->state == J_CLAIM || jb->state == J_MARK)
			return 1;
	return 0;
}

/* Reads (or reclaims) the next job when this worker can take one: one
 * at a time, never while another is still being claimed. */
static void pump(struct mw_jobs *j)
{
	char idle[16], block[16], count[8];
	int64_t now = mw_now_ms();
	int free_slots;

	if(j->closing || j->draining || j->reading || !j->group_ok ||
			!mw_redis_up(j->redis) || pre_dial_jobs(j) ||
			(free_slots = mw_ua_can_take(j->ua)) <= 0)
		return;
	if(now >= j->next_reclaim) {
		/* claimed entries become ours: no more than can be dialled */
		const char *argv[] = {"XAUTOCLAIM", MW_JOBS_STREAM, MW_JOBS_GROUP,
				j->cfg->id, idle, j->cursor, "COUNT", count};
		j->next_reclaim = now + (int64_t)j->cfg->job_reclaim_s * 1000 / 3;
		snprintf(idle, sizeof(idle), "%u", j->cfg->job_reclaim_s * 1000);
		snprintf(count, sizeof(count), "%d",
				free_slots < RECLAIM_COUNT ? free_slots : RECLAIM_COUNT);
		if(mw_redis_cmd(j->redis, reclaim_cb, j, 8, argv, NULL) == 0)
			j->reading = 1;
		return;
	}
	{
		const char *argv[] = {"XREADGROUP", "GROUP", MW_JOBS_GROUP, j->cfg->id,
				"COUNT", "1", "BLOCK", block, "STREAMS", MW_JOBS_STREAM, ">"};
		snprintf(block, sizeof(block), "%d", MW_JOBS_BLOCK_MS);
		if(mw_redis_cmd(j->redis, read_cb, j, 11, argv, NULL) == 0)
			j->reading = 1;
	}
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/* ---- upkeep ------------------------------------------------------------------- */

static void group_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct mw_jobs *j = priv;
	redisReply *rep = reply;

	if(j->closing || !rep)
		return;
	if(rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9)) {
		MW_LOG_LIMIT(MW_LOG_WARN, "jobs: cannot create the consumer group: %s",
				rep->str);
		return;
	}
	j->group_ok = 1;
	pump(j);
}

static void ensure_group(struct mw_jobs *j)
{
	/* from the start of the stream: jobs added before any worker ran
	 * are not lost */
	const char *argv[] = {
			"XGROUP", "CREATE", MW_JOBS_STREAM, MW_JOBS_GROUP, "0", "MKSTREAM"};

	mw_redis_cmd(j->redis, group_cb, j, 6, argv, NULL);
}

/* Keeps our jobs' entries fresh so nobody reclaims them (XCLAIM to
 * ourselves with min-idle 0 resets their idle time). */
static void refresh(struct mw_jobs *j)
{
	const char *argv[6 + REFRESH_BATCH + 1];
	struct job *jb = j->jobs;
	int n;

	while(jb) {
		n = 0;
		argv[n++] = "XCLAIM";
		argv[n++] = MW_JOBS_STREAM;
		argv[n++] = MW_JOBS_GROUP;
		argv[n++] = j->cfg->id;
		argv[n++] = "0";
		for(; jb && n < 5 + REFRESH_BATCH; jb = jb->next)
			argv[n++] = jb->id;
		argv[n++] = "JUSTID";
		mw_redis_cmd(j->redis, NULL, NULL, n, argv, NULL);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_jobs *j = arg;
	int64_t now = mw_now_ms();
	struct job *jb, *next;

	if(!mw_redis_up(j->redis))
		return;
	if(!j->group_ok && !j->draining)
		ensure_group(j);
	if(now >= j->next_refresh) {
		j->next_refresh = now + (int64_t)j->cfg->heartbeat_s * 1000;
		refresh(j);
	}
	for(jb = j->jobs; jb; jb = next) {
		next = jb->next;
		if(jb->state == J_FINAL && !jb->inflight)
			finalize(jb);
	}
	pump(j);
}

static void state_cb(void *arg, int up)
{
	struct mw_jobs *j = arg;

	if(!up) {
		j->reading = 0;
		return;
	}
	j->next_refresh = 0;
	ensure_group(j);
}

static void flush_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_jobs *j = arg;
	void (*done)(void *) = j->flushed;

	if(!done)
		return;
	MW_WARN("jobs: %u job(s) not recorded at exit; they will be reclaimed",
			j->njobs);
	j->flushed = NULL;
	done(j->flushed_arg);
}

/* ---- life ---------------------------------------------------------------------- */

int mw_jobs_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_ua *ua, struct mw_record *rec, struct mw_jobs **out)
{
	struct mw_jobs *j = calloc(1, sizeof(*j));
	struct timeval tv = {1, 0};
	int rc;

	*out = NULL;
	if(!j)
		return -ENOMEM;
	j->base = base;
	j->cfg = cfg;
	j->ua = ua;
	j->rec = rec;
	snprintf(j->cursor, sizeof(j->cursor), "0-0");
	j->tick = event_new(base, -1, EV_PERSIST, tick_cb, j);
	j->kick = event_new(base, -1, 0, kick_cb, j);
	j->flush_to = event_new(base, -1, 0, flush_timeout_cb, j);
	if(!j->tick || !j->kick || !j->flush_to) {
		mw_jobs_free(j);
		return -ENOMEM;
	}
	rc = mw_redis_new(base, cfg, "jobs", state_cb, j, &j->redis);
	if(rc < 0) {
		mw_jobs_free(j);
		return rc;
	}
	event_add(j->tick, &tv);
	*out = j;
	return 0;
}

void mw_jobs_drain(struct mw_jobs *j)
{
	if(j)
		j->draining = 1;
}

void mw_jobs_flush(
		struct mw_jobs *j, unsigned timeout_ms, void (*done)(void *), void *arg)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			(suseconds_t)(timeout_ms % 1000) * 1000};

	if(!j || !j->njobs) {
		done(arg);
		return;
	}
	j->flushed = done;
	j->flushed_arg = arg;
	event_add(j->flush_to, &tv);
}

unsigned mw_jobs_count(const struct mw_jobs *j)
{
	return j ? j->njobs : 0;
}

void mw_jobs_free(struct mw_jobs *j)
{
	struct job *jb, *next;

	if(!j)
		return;
	j->closing = 1;
	mw_redis_free(j->redis); /* replies run now with NULL: ignored */
	for(jb = j->jobs; jb; jb = next) {
		next = jb->next;
		job_free(jb);
	}
	if(j->tick)
		event_free(j->tick);
	if(j->kick)
		event_free(j->kick);
	if(j->flush_to)
		event_free(j->flush_to);
	free(j);
}
