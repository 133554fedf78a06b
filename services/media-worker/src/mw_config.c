/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_config.c -- environment + command-line configuration, validated once
 * (see mw_config.h and docs/media-worker.md).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mw_config.h"
#include "mw_log.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if(!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int ip_valid(const char *ip)
{
	unsigned char b[16];

	return inet_pton(AF_INET, ip, b) == 1 || inet_pton(AF_INET6, ip, b) == 1;
}

static int ip_is_any(const char *ip)
{
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

/* Strict unsigned decimal in [min, max]. */
static int parse_uint(
		const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if(!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if(errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int mw_config_parse_hostport(
		const char *s, char *ip, size_t iplen, uint16_t *port, uint16_t defport)
{
	const char *host = s, *colon, *pstr = NULL;
	size_t hlen;
	unsigned long p;

	if(!s || !*s)
		return -EINVAL;
	if(s[0] == '[') {
		const char *rb = strchr(s, ']');
		if(!rb)
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		if(rb[1] == ':')
			pstr = rb + 2;
		else if(rb[1] != 0)
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		if(colon && strchr(colon + 1, ':')) {
			hlen = strlen(s); /* bare IPv6 literal, no port */
		} else if(colon) {
			hlen = (size_t)(colon - s);
			pstr = colon + 1;
		} else {
			hlen = strlen(s);
		}
	}
	if(hlen == 0 || hlen >= iplen)
		return -EINVAL;
	memcpy(ip, host, hlen);
	ip[hlen] = 0;
	if(!ip_valid(ip))
		return -EINVAL;
	if(pstr) {
		if(parse_uint(pstr, 1, 65535, &p) < 0)
			return -EINVAL;
		*port = (uint16_t)p;
	} else {
		if(!defport)
			return -EINVAL;
		*port = defport;
	}
	return 0;
}

int mw_config_parse_redis_url(struct mw_config *c, const char *url)
{
	const char *p, *at, *slash, *hp_end;
	char hp[300];
	unsigned long v;
	size_t n;

	if(strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	p = url + 8;
	c->redis_password[0] = 0;
	at = strrchr(p, '@');
	if(at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *pw = colon ? colon + 1 : p;
		n = (size_t)(at - pw);
		if(n >= sizeof(c->redis_password))
			return -EINVAL;
		memcpy(c->redis_password, pw, n);
		c->redis_password[n] = 0;
		p = at + 1;
	}
	slash = strchr(p, '/');
	hp_end = slash ? slash : p + strlen(p);
	n = (size_t)(hp_end - p);
	if(n == 0 || n >= sizeof(hp))
		return -EINVAL;
	memcpy(hp, p, n);
	hp[n] = 0;
	c->redis_db = 0;
	if(slash && slash[1]) {
		if(parse_uint(slash + 1, 0, 1024, &v) < 0)
			return -EINVAL;
		c->redis_db = (unsigned)v;
	}
	c->redis_port = 6379;
	/* host names are allowed here (a Kubernetes service name) */
	{
		char *colon = strrchr(hp, ':');
		char *rb = strrchr(hp, ']');
		if(colon && (!rb || colon > rb) && strchr(hp, ':') == colon) {
			*colon = 0;
			if(parse_uint(colon + 1, 1, 65535, &v) < 0)
				return -EINVAL;
			c->redis_port = (uint16_t)v;
		} else if(hp[0] == '[' && rb && rb[1] == ':') {
			rb[1] = 0;
			if(parse_uint(rb + 2, 1, 65535, &v) < 0)
				return -EINVAL;
			c->redis_port = (uint16_t)v;
		}
		if(hp[0] == '[') {
			size_t l = strlen(hp);
			if(l < 3 || hp[l - 1] != ']')
				return -EINVAL;
			hp[l - 1] = 0;
			memmove(hp, hp + 1, l - 1);
		}
	}
	if(!hp[0] || strlen(hp) >= sizeof(c->redis_host))
		return -EINVAL;
	strcpy(c->redis_host, hp);
	return 0;
}

static void default_id(char *id, size_t len)
{
	char host[256];
	size_t i, n = 0;

	if(gethostname(host, sizeof(host)) != 0)
		strcpy(host, "worker");
	host[sizeof(host) - 1] = 0;
	for(i = 0; host[i] && n + 1 < len && n < BR_ID_MAX; i++) {
		char ch = host[i];
		if(!isalnum((unsigned char)ch) && ch != '.' && ch != '_' && ch != '-')
			ch = '-';
		id[n++] = ch;
	}
	id[n] = 0;
	if(!n)
		snprintf(id, len, "worker");
}

/* One setting: the environment variable, its option, and how to apply
 * a text value. Options and variables share the same parser, so both
 * accept exactly the same values. */
enum opt_id
{
	O_ID = 256,
	O_SIP,
	O_ADVERTISE,
	O_TRANSPORT,
	O_RTP_IP,
	O_RTP_PORTS,
	O_CAPACITY,
	O_THREADS,
	O_ADMIN,
	O_REDIS,
	O_KEY_FILE,
	O_KEY,
	O_HEARTBEAT,
	O_DEFAULT_URL,
	O_DRAIN,
	O_RTP_TIMEOUT,
	O_AI_TIMEOUT,
	O_WS_BACKLOG,
	O_LOG_LEVEL,
	O_AI_CA,
	O_WIDEBAND,
	O_EDGE,
	O_WORKER_SECRET,
	O_JOBS,
	O_JOB_RECLAIM,
	O_RING_TIMEOUT,
	O_STREAM_MAXLEN,
	O__END
};

struct setting
{
	int id;
	const char *env;
	const char *opt;
	const char *help;
};

static const struct setting settings[] = {
		{O_ID, "BYOC_WORKER_ID", "id", "registry id (default: hostname)"},
		{O_SIP, "BYOC_WORKER_SIP", "sip",
				"SIP listen ip:port, UDP and TCP (127.0.1.1:5070)"},
		{O_ADVERTISE, "BYOC_WORKER_ADVERTISE", "advertise",
				"ip[:port] registered for the edge (SIP address)"},
		{O_TRANSPORT, "BYOC_WORKER_TRANSPORT", "transport",
				"udp|tcp the edge should use (udp)"},
		{O_RTP_IP, "BYOC_WORKER_RTP_IP", "rtp-ip", "RTP bind ip (SIP ip)"},
		{O_RTP_PORTS, "BYOC_WORKER_RTP_PORTS", "rtp-ports",
				"RTP port range min-max (40000-49999)"},
		{O_CAPACITY, "BYOC_WORKER_CAPACITY", "capacity",
				"calls before answering 503 (500)"},
		{O_THREADS, "BYOC_WORKER_THREADS", "threads",
				"event loops, thread 0 does SIP (cores)"},
		{O_ADMIN, "BYOC_WORKER_ADMIN", "admin",
				"admin HTTP ip:port (127.0.0.1:9090)"},
		{O_REDIS, "BYOC_REDIS_URL", "redis",
				"redis://[:password@]host[:port][/db] "
				"(redis://127.0.0.1:6379/0)"},
		{O_KEY_FILE, "BYOC_SECRET_KEY_FILE", "secret-key-file",
				"file with the 64-hex secret key"},
		{O_KEY, "BYOC_SECRET_KEY", NULL, "the 64-hex secret key"},
		{O_HEARTBEAT, "BYOC_WORKER_HEARTBEAT", "heartbeat",
				"registry heartbeat seconds, TTL 3x (2)"},
		{O_DEFAULT_URL, "BYOC_AGENT_DEFAULT_URL", "agent-default-url",
				"ws(s):// URL for agents without ws_url"},
		{O_DRAIN, "BYOC_WORKER_DRAIN_GRACE", "drain-grace",
				"seconds to wait for calls on SIGTERM (30)"},
		{O_RTP_TIMEOUT, "BYOC_WORKER_RTP_TIMEOUT", "rtp-timeout",
				"seconds without RTP before BYE, 0 = off (60)"},
		{O_AI_TIMEOUT, "BYOC_WORKER_AI_TIMEOUT", "ai-timeout",
				"AI WebSocket connect timeout ms (5000)"},
		{O_WS_BACKLOG, "BYOC_WORKER_WS_BACKLOG", "ws-backlog",
				"bytes queued to a backend before dropping inbound media "
				"(65536)"},
		{O_LOG_LEVEL, "BYOC_LOG_LEVEL", "log-level",
				"err|warn|notice|info|debug (info)"},
		{O_AI_CA, "BYOC_WORKER_AI_CA_FILE", "ai-ca-file",
				"PEM CA bundle trusted for wss:// backends, besides the "
				"system's"},
		{O_WIDEBAND, "BYOC_WORKER_WIDEBAND", "wideband",
				"1|0: take G.722 and opus (registered as wideband) (1)"},
		{O_EDGE, "BYOC_WORKER_EDGE", "edge",
				"edge ip[:port] for outbound calls (none: no outbound)"},
		{O_WORKER_SECRET, "BYOC_WORKER_SECRET", "worker-secret",
				"shared secret sent to the edge as X-Byoc-Secret"},
		{O_JOBS, "BYOC_WORKER_JOBS", "jobs",
				"1|0: take outbound jobs from Redis (1 with an edge)"},
		{O_JOB_RECLAIM, "BYOC_WORKER_JOB_RECLAIM", "job-reclaim",
				"seconds before a dead worker's jobs are reclaimed (30)"},
		{O_RING_TIMEOUT, "BYOC_WORKER_RING_TIMEOUT", "ring-timeout",
				"outbound ring timeout seconds, jobs may override (30)"},
		{O_STREAM_MAXLEN, "BYOC_STREAM_MAXLEN", "stream-maxlen",
				"approximate length of the events/records streams (100000)"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))
/* NAME() and RAW() index this table by enum value: same order, no gap */
_Static_assert(NSETTINGS == O__END - O_ID, "one setting per option id");

/* The raw text values, applied in a fixed order after all sources were
 * read (the SIP address is the default of others). */
struct raw
{
	const char *v[O__END - O_ID];
	char sip_defaulted;
};

static int apply(
		struct mw_config *c, const struct raw *r, char *err, size_t errlen)
{
	const char *v;
	unsigned long n;
	int rc;

#define RAW(o) (r->v[(o)-O_ID])
#define NAME(o) (settings[(o)-O_ID].env)
	if((v = RAW(O_LOG_LEVEL))) {
		if((rc = mw_log_level_parse(v)) < 0) {
			seterr(err, errlen, "%s: unknown level '%s'", NAME(O_LOG_LEVEL), v);
			return -EINVAL;
		}
		c->log_level = rc;
	}
	if((v = RAW(O_ID))) {
		if(!br_id_valid(v) || !*v) {
			seterr(err, errlen, "%s: '%s' is not an id ([A-Za-z0-9._-]{1,64})",
					NAME(O_ID), v);
			return -EINVAL;
		}
		strcpy(c->id, v);
	}
	if((v = RAW(O_SIP)) && mw_config_parse_hostport(v, c->sip_ip,
								   sizeof(c->sip_ip), &c->sip_port, 5060) < 0) {
		seterr(err, errlen, "%s: '%s' is not ip:port", NAME(O_SIP), v);
		return -EINVAL;
	}
	strcpy(c->adv_ip, c->sip_ip);
	c->adv_port = c->sip_port;
	if((v = RAW(O_ADVERTISE)) &&
			mw_config_parse_hostport(v, c->adv_ip, sizeof(c->adv_ip),
					&c->adv_port, c->sip_port) < 0) {
		seterr(err, errlen, "%s: '%s' is not ip[:port]", NAME(O_ADVERTISE), v);
		return -EINVAL;
	}
	if(ip_is_any(c->adv_ip)) {
		seterr(err, errlen,
				"%s: cannot advertise the wildcard %s; set %s to the address "
				"the edge reaches",
				NAME(O_ADVERTISE), c->adv_ip, NAME(O_ADVERTISE));
		return -EINVAL;
	}
	if((v = RAW(O_TRANSPORT))) {
		if(strcasecmp(v, "udp") == 0)
			c->adv_transport = MW_TP_UDP;
		else if(strcasecmp(v, "tcp") == 0)
			c->adv_transport = MW_TP_TCP;
		else {
			seterr(err, errlen, "%s: '%s' is not udp or tcp", NAME(O_TRANSPORT),
					v);
			return -EINVAL;
		}
	}
	strcpy(c->rtp_ip, c->sip_ip);
	if((v = RAW(O_RTP_IP))) {
		if(!ip_valid(v) || strlen(v) >= sizeof(c->rtp_ip)) {
			seterr(err, errlen, "%s: '%s' is not an IP address", NAME(O_RTP_IP),
					v);
			return -EINVAL;
		}
		strcpy(c->rtp_ip, v);
	}
	strcpy(c->media_ip, ip_is_any(c->rtp_ip) ? c->adv_ip : c->rtp_ip);
	if((v = RAW(O_RTP_PORTS))) {
		unsigned long a, b;
		char tmp[32], *dash;
		snprintf(tmp, sizeof(tmp), "%s", v);
		dash = strchr(tmp, '-');
		if(!dash) {
			seterr(err, errlen, "%s: '%s' is not min-max", NAME(O_RTP_PORTS),
					v);
			return -EINVAL;
		}
		*dash = 0;
		if(parse_uint(tmp, 1024, 65534, &a) < 0 ||
				parse_uint(dash + 1, 1025, 65535, &b) < 0 || b < a + 3) {
			seterr(err, errlen,
					"%s: '%s' must be min-max within 1024-65535 with room for "
					"two RTP/RTCP pairs",
					NAME(O_RTP_PORTS), v);
			return -EINVAL;
		}
		c->rtp_min = (uint16_t)a;
		c->rtp_max = (uint16_t)b;
	}
	if((v = RAW(O_CAPACITY))) {
		if(parse_uint(v, 1, 100000, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 1..100000", NAME(O_CAPACITY),
					v);
			return -EINVAL;
		}
		c->capacity = (unsigned)n;
	}
	if((v = RAW(O_THREADS))) {
		if(parse_uint(v, 1, MW_MAX_THREADS, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 1..%d", NAME(O_THREADS), v,
					MW_MAX_THREADS);
			return -EINVAL;
		}
		c->threads = (unsigned)n;
	}
	if((v = RAW(O_ADMIN)) &&
			mw_config_parse_hostport(v, c->admin_ip, sizeof(c->admin_ip),
					&c->admin_port, 0) < 0) {
		seterr(err, errlen, "%s: '%s' is not ip:port", NAME(O_ADMIN), v);
		return -EINVAL;
	}
	if((v = RAW(O_REDIS)) && mw_config_parse_redis_url(c, v) < 0) {
		seterr(err, errlen,
				"%s: '%s' is not redis://[:password@]host[:port][/db]",
				NAME(O_REDIS), v);
		return -EINVAL;
	}
	if(RAW(O_KEY_FILE) || RAW(O_KEY)) {
		char kerr[128] = "";
		rc = br_secret_key_load(
				c->secret_key, RAW(O_KEY_FILE), RAW(O_KEY), kerr, sizeof(kerr));
		if(rc < 0) {
			seterr(err, errlen, "%s/%s: %s", NAME(O_KEY_FILE), NAME(O_KEY),
					kerr[0] ? kerr : strerror(-rc));
			return -EINVAL;
		}
		c->have_secret_key = 1;
	}
	if((v = RAW(O_HEARTBEAT))) {
		if(parse_uint(v, 1, 60, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 1..60 seconds",
					NAME(O_HEARTBEAT), v);
			return -EINVAL;
		}
		c->heartbeat_s = (unsigned)n;
	}
	if((v = RAW(O_DEFAULT_URL)) && *v) {
		if((strncmp(v, "ws://", 5) != 0 && strncmp(v, "wss://", 6) != 0) ||
				strlen(v) > BR_URL_MAX || strlen(v) < 7) {
			seterr(err, errlen, "%s: '%s' is not a ws:// or wss:// URL",
					NAME(O_DEFAULT_URL), v);
			return -EINVAL;
		}
		strcpy(c->agent_default_url, v);
	}
	if((v = RAW(O_DRAIN))) {
		if(parse_uint(v, 0, 86400, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 0..86400 seconds",
					NAME(O_DRAIN), v);
			return -EINVAL;
		}
		c->drain_grace_s = (unsigned)n;
	}
	if((v = RAW(O_RTP_TIMEOUT))) {
		if(parse_uint(v, 0, 3600, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 0..3600 seconds",
					NAME(O_RTP_TIMEOUT), v);
			return -EINVAL;
		}
		c->rtp_timeout_s = (unsigned)n;
	}
	if((v = RAW(O_AI_TIMEOUT))) {
		if(parse_uint(v, 100, 60000, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 100..60000 ms",
					NAME(O_AI_TIMEOUT), v);
			return -EINVAL;
		}
		c->ai_connect_timeout_ms = (unsigned)n;
	}
	if((v = RAW(O_WS_BACKLOG))) {
		if(parse_uint(v, 4096, 64UL << 20, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 4096..67108864 bytes",
					NAME(O_WS_BACKLOG), v);
			return -EINVAL;
		}
		c->ws_backlog_max = n;
	}
	if((v = RAW(O_AI_CA))) {
		if(strlen(v) >= sizeof(c->ai_ca_file) || access(v, R_OK) != 0) {
			seterr(err, errlen, "%s: cannot read '%s'", NAME(O_AI_CA), v);
			return -EINVAL;
		}
		strcpy(c->ai_ca_file, v);
	}
	if((v = RAW(O_WIDEBAND))) {
		if(parse_uint(v, 0, 1, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 0 or 1", NAME(O_WIDEBAND), v);
			return -EINVAL;
		}
		c->wideband = (int)n;
	}
	if((v = RAW(O_EDGE)) &&
			mw_config_parse_hostport(v, c->edge_ip, sizeof(c->edge_ip),
					&c->edge_port, 5060) < 0) {
		seterr(err, errlen, "%s: '%s' is not ip[:port]", NAME(O_EDGE), v);
		return -EINVAL;
	}
	if((v = RAW(O_WORKER_SECRET))) {
		const char *q;
		for(q = v; *q; q++)
			if(!isgraph((unsigned char)*q))
				break;
		if(*q || strlen(v) >= sizeof(c->worker_secret)) {
			seterr(err, errlen,
					"%s: must be printable without spaces, < 128 characters",
					NAME(O_WORKER_SECRET));
			return -EINVAL;
		}
		strcpy(c->worker_secret, v);
	}
	c->jobs = c->edge_ip[0] != 0;
	if((v = RAW(O_JOBS))) {
		if(parse_uint(v, 0, 1, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 0 or 1", NAME(O_JOBS), v);
			return -EINVAL;
		}
		c->jobs = (int)n;
	}
	if(c->jobs && !c->edge_ip[0]) {
		seterr(err, errlen, "%s=1 needs %s (where outbound calls go)",
				NAME(O_JOBS), NAME(O_EDGE));
		return -EINVAL;
	}
	if((v = RAW(O_JOB_RECLAIM))) {
		if(parse_uint(v, 3, 3600, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 3..3600 seconds",
					NAME(O_JOB_RECLAIM), v);
			return -EINVAL;
		}
		c->job_reclaim_s = (unsigned)n;
	}
	if(c->jobs && c->job_reclaim_s < 2 * c->heartbeat_s) {
		seterr(err, errlen,
				"%s (%u s) must be at least two heartbeats (%u s): jobs "
				"are refreshed every heartbeat",
				NAME(O_JOB_RECLAIM), c->job_reclaim_s, 2 * c->heartbeat_s);
		return -EINVAL;
	}
	if((v = RAW(O_RING_TIMEOUT))) {
		if(parse_uint(v, 1, 600, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 1..600 seconds",
					NAME(O_RING_TIMEOUT), v);
			return -EINVAL;
		}
		c->ring_timeout_s = (unsigned)n;
	}
	if((v = RAW(O_STREAM_MAXLEN))) {
		if(parse_uint(v, 100, 100000000, &n) < 0) {
			seterr(err, errlen, "%s: '%s' must be 100..100000000",
					NAME(O_STREAM_MAXLEN), v);
			return -EINVAL;
		}
		c->stream_maxlen = (unsigned)n;
	}
#undef RAW
#undef NAME
	return 0;
}

void mw_config_usage(void *fp, const char *prog)
{
	FILE *f = fp;
	size_t i;

	fprintf(f,
			"usage: %s [options]\n"
			"The BYOC media worker: SIP from the edge, RTP, AI backends over "
			"WebSocket.\nEvery option overrides its environment variable.\n\n",
			prog);
	for(i = 0; i < NSETTINGS; i++) {
		char opt[40];
		snprintf(opt, sizeof(opt), "--%s",
				settings[i].opt ? settings[i].opt : "");
		fprintf(f, "  %-22s %-24s %s\n", settings[i].opt ? opt : "",
				settings[i].env, settings[i].help);
	}
	fprintf(f, "  %-22s %-24s %s\n", "--help", "", "this text");
}

int mw_config_load(
		struct mw_config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct option lopts[NSETTINGS + 2];
	struct raw r;
	size_t i, k = 0;
	int ch;

	memset(c, 0, sizeof(*c));
	memset(&r, 0, sizeof(r));
	default_id(c->id, sizeof(c->id));
	strcpy(c->sip_ip, "127.0.1.1");
	c->sip_port = 5070;
	c->adv_transport = MW_TP_UDP;
	c->rtp_min = 40000;
	c->rtp_max = 49999;
	c->capacity = 500;
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = n < 1				  ? 1
					 : n > MW_MAX_THREADS ? MW_MAX_THREADS
										  : (unsigned)n;
	}
	strcpy(c->admin_ip, "127.0.0.1");
	c->admin_port = 9090;
	strcpy(c->redis_host, "127.0.0.1");
	c->redis_port = 6379;
	c->heartbeat_s = 2;
	c->drain_grace_s = 30;
	c->rtp_timeout_s = 60;
	c->ai_connect_timeout_ms = 5000;
	c->ws_backlog_max = 65536;
	c->log_level = MW_LOG_INFO;
	c->wideband = 1;
	c->job_reclaim_s = 30;
	c->ring_timeout_s = 30;
	c->stream_maxlen = 100000;

	for(i = 0; i < NSETTINGS; i++) {
		const char *v = getenv(settings[i].env);
		if(v && *v)
			r.v[settings[i].id - O_ID] = v;
		if(settings[i].opt) {
			lopts[k].name = settings[i].opt;
			lopts[k].has_arg = required_argument;
			lopts[k].flag = NULL;
			lopts[k].val = settings[i].id;
			k++;
		}
	}
	lopts[k].name = "help";
	lopts[k].has_arg = no_argument;
	lopts[k].flag = NULL;
	lopts[k].val = 'h';
	k++;
	memset(&lopts[k], 0, sizeof(lopts[k]));

	optind = 1;
	opterr = 0;
	while((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if(ch == 'h') {
			mw_config_usage(stdout, argv[0]);
			return 1;
		}
		if(ch >= O_ID && ch < O__END) {
			r.v[ch - O_ID] = optarg;
			continue;
		}
		seterr(err, errlen, "unknown or incomplete option '%s' (try --help)",
				argv[optind - 1]);
		return -EINVAL;
	}
	if(optind < argc) {
		seterr(err, errlen, "unexpected argument '%s' (try --help)",
				argv[optind]);
		return -EINVAL;
	}
	return apply(c, &r, err, errlen);
}
