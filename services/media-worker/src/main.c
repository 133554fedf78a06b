/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c -- byoc-media-worker: configuration, event loops, signals and
 * orderly shutdown (drain, deregister, join, free).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "mw_admin.h"
#include "mw_call.h"
#include "mw_config.h"
#include "mw_jobs.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_record.h"
#include "mw_registry.h"
#include "mw_sip.h"
#include "mw_thread.h"
#include "mw_ua.h"

struct worker
{
	struct mw_config cfg;
	struct mw_status st;
	struct mw_thread *t;
	struct mw_registry *reg;
	struct mw_record *rec; /* events and call records */
	struct mw_jobs *jobs;  /* outbound jobs (NULL: not taking any) */
	struct mw_admin *admin;
	struct mw_ua *ua;
	SSL_CTX *ssl;
	struct event *sigterm, *sigint;
	int signals;
};

static void removed_cb(void *arg)
{
	struct worker *w = arg;

	MW_INFO("deregistered; exiting");
	event_base_loopbreak(w->t[0].base);
}

#define EXIT_FLUSH_MS 5000 /* last records and job outcomes to Redis */

static void records_flushed_cb(void *arg)
{
	struct worker *w = arg;

	mw_registry_remove(w->reg, removed_cb, w);
}

static void jobs_flushed_cb(void *arg)
{
	struct worker *w = arg;

	mw_record_flush(w->rec, EXIT_FLUSH_MS, records_flushed_cb, w);
}

static void drained_cb(void *arg)
{
	struct worker *w = arg;

	MW_NOTICE("drained: no call left");
	/* every call's record and job outcome reaches Redis before we go */
	mw_jobs_flush(w->jobs, EXIT_FLUSH_MS, jobs_flushed_cb, w);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	if(++w->signals == 1) {
		MW_NOTICE("%s: draining (grace %us; again to hang up at once)",
				sig == SIGTERM ? "SIGTERM" : "SIGINT", w->cfg.drain_grace_s);
		mw_jobs_drain(w->jobs);
		mw_ua_drain(w->ua, drained_cb, w);
	} else if(w->signals == 2) {
		MW_NOTICE("second signal: hanging up the remaining calls now");
		mw_ua_drain_now(w->ua);
	} else {
		MW_WARN("third signal: exiting without waiting");
		event_base_loopbreak(w->t[0].base);
	}
}

static SSL_CTX *client_tls(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if(!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(ctx);
	if(ca_file[0] && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		MW_ERR("BYOC_WORKER_AI_CA_FILE %s: not a PEM CA bundle", ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int main(int argc, char **argv)
{
	static struct worker w;
	char err[256] = "";
	unsigned i;
	int rc;

	rc = mw_config_load(&w.cfg, argc, argv, err, sizeof(err));
	if(rc == 1)
		return 0;
	if(rc < 0) {
		fprintf(stderr, "byoc-media-worker: %s\n", err);
		return 2;
	}
	mw_log_set_level(w.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	mw_sip_init();
	w.st.capacity = w.cfg.capacity;
	if(!w.cfg.have_secret_key)
		MW_WARN("no BYOC_SECRET_KEY(_FILE): agents with an auth token will "
				"be refused");
	w.ssl = client_tls(w.cfg.ai_ca_file);
	if(!w.ssl) {
		MW_ERR("cannot create the TLS client context");
		return 1;
	}
	if((rc = mw_threads_init(w.cfg.threads, &w.t)) < 0) {
		MW_ERR("event loops: %s", strerror(-rc));
		return 1;
	}
	for(i = w.cfg.threads > 1 ? 1 : 0; i < w.cfg.threads; i++)
		w.t[i].on_tick = mw_call_media_tick;
	if((rc = mw_registry_new(w.t[0].base, &w.cfg, &w.st, &w.reg)) < 0) {
		MW_ERR("registry: %s", strerror(-rc));
		return 1;
	}
	if((rc = mw_admin_new(w.t[0].base, w.cfg.admin_ip, w.cfg.admin_port, w.t,
				w.cfg.threads, &w.st, &w.admin)) < 0)
		return 1;
	if((rc = mw_ua_new(
				w.t, w.cfg.threads, &w.cfg, &w.st, w.reg, w.ssl, &w.ua)) < 0)
		return 1;
	if((rc = mw_record_new(w.t[0].base, &w.cfg, &w.rec)) < 0) {
		MW_ERR("records: %s", strerror(-rc));
		return 1;
	}
	mw_ua_set_record(w.ua, w.rec);
	if(w.cfg.jobs &&
			(rc = mw_jobs_new(w.t[0].base, &w.cfg, w.ua, w.rec, &w.jobs)) < 0) {
		MW_ERR("jobs: %s", strerror(-rc));
		return 1;
	}
	w.sigterm = evsignal_new(w.t[0].base, SIGTERM, signal_cb, &w);
	w.sigint = evsignal_new(w.t[0].base, SIGINT, signal_cb, &w);
	if(!w.sigterm || !w.sigint || event_add(w.sigterm, NULL) < 0 ||
			event_add(w.sigint, NULL) < 0) {
		MW_ERR("cannot install signal handlers");
		return 1;
	}
	if((rc = mw_threads_start(w.t, w.cfg.threads)) < 0) {
		MW_ERR("threads: %s", strerror(-rc));
		return 1;
	}
	MW_INFO("byoc-media-worker %s: sip %s:%u, advertised %s:%u/%s, rtp %s "
			"%u-%u, %u thread(s), capacity %u, admin %s:%u, redis %s:%u/%u",
			w.cfg.id, w.cfg.sip_ip, w.cfg.sip_port, w.cfg.adv_ip,
			w.cfg.adv_port, w.cfg.adv_transport == MW_TP_TCP ? "tcp" : "udp",
			w.cfg.rtp_ip, w.cfg.rtp_min, w.cfg.rtp_max, w.cfg.threads,
			w.cfg.capacity, w.cfg.admin_ip, w.cfg.admin_port, w.cfg.redis_host,
			w.cfg.redis_port, w.cfg.redis_db);
	if(w.cfg.edge_ip[0])
		MW_INFO("outbound calls via the edge at %s:%u%s", w.cfg.edge_ip,
				w.cfg.edge_port,
				w.jobs ? "; taking jobs from " MW_JOBS_STREAM : "");

	event_base_dispatch(w.t[0].base);

	mw_threads_join(w.t, w.cfg.threads);
	mw_jobs_free(w.jobs);
	mw_ua_free(w.ua);
	mw_record_free(w.rec);
	mw_admin_free(w.admin);
	mw_registry_free(w.reg);
	event_free(w.sigterm);
	event_free(w.sigint);
	mw_threads_free(w.t, w.cfg.threads);
	SSL_CTX_free(w.ssl);
	br_secret_wipe(w.cfg.secret_key, sizeof(w.cfg.secret_key));
	return 0;
}
