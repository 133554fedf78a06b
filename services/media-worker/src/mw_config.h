/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_config.h -- the worker's configuration: environment variables
 * (docs/media-worker.md) overridden by command-line options, parsed and
 * validated once at start. Immutable afterwards: every thread reads it
 * without locks.
 */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "br_model.h"
#include "br_secret.h"

#define MW_IP_MAX 46 /* INET6_ADDRSTRLEN */
#define MW_MAX_THREADS 64

enum mw_transport
{
	MW_TP_UDP = 0,
	MW_TP_TCP = 1
};

struct mw_config
{
	char id[BR_ID_MAX + 1]; /* registry id */
	char sip_ip[MW_IP_MAX]; /* SIP bind address (UDP and TCP) */
	uint16_t sip_port;
	char adv_ip[MW_IP_MAX]; /* registered for the edge; in Contact/Via */
	uint16_t adv_port;
	int adv_transport;		  /* enum mw_transport the edge should use */
	char rtp_ip[MW_IP_MAX];	  /* RTP bind address */
	char media_ip[MW_IP_MAX]; /* SDP c= address (rtp_ip, or adv_ip when
								 rtp_ip is a wildcard) */
	uint16_t rtp_min, rtp_max;
	unsigned capacity;		  /* concurrent calls before 503 */
	unsigned threads;		  /* event loops (thread 0 = SIP) */
	char admin_ip[MW_IP_MAX]; /* admin HTTP */
	uint16_t admin_port;
	char redis_host[256]; /* registry and agent records */
	uint16_t redis_port;
	unsigned redis_db;
	char redis_password[128];
	uint8_t secret_key[BR_SECRET_KEY_LEN];
	int have_secret_key;  /* 0: agents' auth tokens cannot be used */
	unsigned heartbeat_s; /* registry refresh, TTL = 3x */
	char agent_default_url[BR_URL_MAX + 1]; /* "" = none */
	unsigned drain_grace_s;					/* SIGTERM: wait for calls */
	unsigned rtp_timeout_s;					/* no RTP -> BYE; 0 = off */
	unsigned ai_connect_timeout_ms;			/* WebSocket connect + upgrade */
	size_t ws_backlog_max; /* bytes queued toward a backend before inbound
							   media frames are dropped */
	char ai_ca_file[512];  /* extra CA bundle for wss:// backends, "" none */
	int log_level;		   /* enum mw_log_level */
	int wideband;		   /* 1: G.722 and opus taken (registry "wideband") */
	/* outbound calls, jobs, records (docs/media-worker.md) */
	char edge_ip[MW_IP_MAX]; /* "" = no outbound calls */
	uint16_t edge_port;
	char worker_secret[128]; /* X-Byoc-Secret on outbound INVITEs */
	int jobs;				 /* pull outbound jobs from Redis */
	unsigned job_reclaim_s;	 /* idle pending job -> reclaimed */
	unsigned ring_timeout_s; /* default ring timeout of a job */
	unsigned stream_maxlen;	 /* events/records streams, MAXLEN ~ */
};

/* Fills 'c' from the environment, then argv (getopt_long; see
 * mw_config_usage). Returns 0; 1 when --help or --version was printed
 * (exit 0); -EINVAL with a one-line reason in 'err' naming the variable
 * or option. */
int mw_config_load(
		struct mw_config *c, int argc, char **argv, char *err, size_t errlen);

/* Prints the options and variables to 'fp' (a FILE *). */
void mw_config_usage(void *fp, const char *prog);

/* Parses "ip:port", "[v6]:port" or a bare "ip" (port = defport, 0 means
 * required). Returns 0 or -EINVAL. Exposed for the tests. */
int mw_config_parse_hostport(const char *s, char *ip, size_t iplen,
		uint16_t *port, uint16_t defport);
/* Parses "redis://[[user]:password@]host[:port][/db]". */
int mw_config_parse_redis_url(struct mw_config *c, const char *url);

#endif
