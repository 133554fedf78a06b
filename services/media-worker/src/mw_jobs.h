/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_jobs.h -- outbound call jobs: a control panel XADDs a job to the
 * Redis stream byoc:v1:jobs; workers with free capacity take jobs through
 * the consumer group "workers" (XREADGROUP, blocking at most a second on
 * a connection of their own), dial them (mw_dial), record the outcome in
 * the job's hash byoc:v1:job:<entry id>, and XACK the entry only once the
 * call is over and its outcome recorded. Field reference and the exact
 * semantics: docs/redis-schema.md ("Outbound jobs").
 *
 * At most once dialling: before the INVITE leaves, a Lua script moves
 * the job's hash from "claimed" (by this worker) to "dialing" with the
 * call's Call-ID, and the INVITE is sent only when that write succeeded.
 * While a worker holds jobs it refreshes their idle time (XCLAIM JUSTID
 * to itself) every heartbeat; the entries of a worker that stopped go
 * idle and are taken over by another worker's XAUTOCLAIM after
 * BYOC_WORKER_JOB_RECLAIM seconds. A taken-over job whose hash says
 * "dialing" or "answered" is never dialled again: it is closed with
 * outcome "failed" (or its recorded "answered") and lost=1. A job that
 * was only "claimed" is dialled by the new worker.
 *
 * Threading/ownership: main.c owns it; SIP thread only.
 */
#ifndef MW_JOBS_H
#define MW_JOBS_H

struct event_base;
struct mw_config;
struct mw_jobs;
struct mw_record;
struct mw_ua;

#define MW_JOBS_STREAM "byoc:v1:jobs"
#define MW_JOBS_GROUP "workers"
#define MW_JOBS_HASH "byoc:v1:job:" /* + stream entry id */
#define MW_JOBS_TTL_S (7 * 86400)	/* a finished job's hash is kept */
#define MW_JOBS_BLOCK_MS 1000		/* XREADGROUP BLOCK */

int mw_jobs_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_ua *ua, struct mw_record *rec, struct mw_jobs **out);
/* Draining: no new job is read or reclaimed; jobs under way finish. */
void mw_jobs_drain(struct mw_jobs *j);
/* Calls done(arg) once no job waits for Redis (outcomes recorded and
 * acknowledged), or after 'timeout_ms'. */
void mw_jobs_flush(struct mw_jobs *j, unsigned timeout_ms, void (*done)(void *),
		void *arg);
/* Jobs held now (claimed, dialling, in a call, or being recorded). */
unsigned mw_jobs_count(const struct mw_jobs *j);
void mw_jobs_free(struct mw_jobs *j);

#endif
