/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_worker.c -- the worker's pure and loop-level parts: configuration
 * (environment, options, validation), agent records from Redis fields,
 * customParameters of a call, SIP INFO DTMF bodies, cross-thread queues,
 * and metrics summed over threads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "mw_call.h"
#include "mw_config.h"
#include "mw_test_config.h"
#include "mw_metrics.h"
#include "mw_registry.h"
#include "mw_sip.h"
#include "mw_thread.h"

static const char *const envs[] = {"BYOC_WORKER_ID", "BYOC_WORKER_SIP",
		"BYOC_WORKER_ADVERTISE", "BYOC_WORKER_TRANSPORT", "BYOC_WORKER_RTP_IP",
		"BYOC_WORKER_RTP_PORTS", "BYOC_WORKER_CAPACITY", "BYOC_WORKER_THREADS",
		"BYOC_WORKER_ADMIN", "BYOC_REDIS_URL", "BYOC_SECRET_KEY_FILE",
		"BYOC_SECRET_KEY", "BYOC_WORKER_HEARTBEAT", "BYOC_AGENT_DEFAULT_URL",
		"BYOC_WORKER_DRAIN_GRACE", "BYOC_WORKER_RTP_TIMEOUT",
		"BYOC_WORKER_AI_TIMEOUT", "BYOC_WORKER_WS_BACKLOG", "BYOC_LOG_LEVEL",
		NULL};

static void config_defaults_env_and_options(void **state)
{
	struct mw_config c;
	char err[256];

	t_clear_env(envs);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), 0);
	assert_string_equal(c.sip_ip, "127.0.1.1");
	assert_int_equal(c.sip_port, 5070);
	assert_string_equal(c.adv_ip, "127.0.1.1");
	assert_int_equal(c.rtp_min, 40000);
	assert_int_equal(c.rtp_max, 49999);
	assert_int_equal(c.capacity, 500);
	assert_int_equal(c.heartbeat_s, 2);
	assert_int_equal(c.drain_grace_s, 30);
	assert_int_equal(c.have_secret_key, 0);
	assert_string_equal(c.redis_host, "127.0.0.1");
	assert_int_equal(c.redis_port, 6379);
	assert_true(c.threads >= 1);

	setenv("BYOC_WORKER_SIP", "0.0.0.0:5080", 1);
	setenv("BYOC_WORKER_ADVERTISE", "10.1.2.3", 1);
	setenv("BYOC_WORKER_CAPACITY", "42", 1);
	setenv("BYOC_WORKER_RTP_PORTS", "30000-30999", 1);
	setenv("BYOC_REDIS_URL", "redis://:pw@redis.svc:6380/2", 1);
	setenv("BYOC_SECRET_KEY",
			"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
			1);
	assert_int_equal(t_load(&c, err, sizeof(err), "--capacity", "7",
							 "--transport", "tcp", "--id", "w-9", NULL),
			0);
	assert_int_equal(c.capacity, 7); /* the option wins */
	assert_string_equal(c.id, "w-9");
	assert_string_equal(c.sip_ip, "0.0.0.0");
	assert_string_equal(c.adv_ip, "10.1.2.3");
	assert_int_equal(c.adv_port, 5080); /* from the SIP address */
	assert_int_equal(c.adv_transport, MW_TP_TCP);
	assert_string_equal(c.media_ip, "10.1.2.3"); /* wildcard RTP IP */
	assert_int_equal(c.rtp_min, 30000);
	assert_string_equal(c.redis_host, "redis.svc");
	assert_int_equal(c.redis_port, 6380);
	assert_int_equal(c.redis_db, 2);
	assert_string_equal(c.redis_password, "pw");
	assert_int_equal(c.have_secret_key, 1);
	assert_int_equal(c.secret_key[1], 0x11);
	t_clear_env(envs);
}

static void config_errors_name_the_setting(void **state)
{
	static const struct
	{
		const char *env, *val, *needle;
	} bad[] = {
			{"BYOC_WORKER_THREADS", "0", "BYOC_WORKER_THREADS"},
			{"BYOC_WORKER_RTP_PORTS", "5000-4000", "BYOC_WORKER_RTP_PORTS"},
			{"BYOC_WORKER_RTP_PORTS", "40000", "BYOC_WORKER_RTP_PORTS"},
			{"BYOC_WORKER_SIP", "localhost:5060", "BYOC_WORKER_SIP"},
			{"BYOC_WORKER_SIP", "127.0.0.1:70000", "BYOC_WORKER_SIP"},
			{"BYOC_WORKER_SIP", "0.0.0.0:5060", "BYOC_WORKER_ADVERTISE"},
			{"BYOC_WORKER_TRANSPORT", "sctp", "BYOC_WORKER_TRANSPORT"},
			{"BYOC_REDIS_URL", "http://x", "BYOC_REDIS_URL"},
			{"BYOC_WORKER_ID", "no spaces", "BYOC_WORKER_ID"},
			{"BYOC_AGENT_DEFAULT_URL", "http://x/y", "BYOC_AGENT_DEFAULT_URL"},
			{"BYOC_SECRET_KEY", "abcd", "BYOC_SECRET_KEY"},
			{"BYOC_WORKER_HEARTBEAT", "0", "BYOC_WORKER_HEARTBEAT"},
			{"BYOC_LOG_LEVEL", "loud", "BYOC_LOG_LEVEL"},
			{"BYOC_WORKER_CAPACITY", "-1", "BYOC_WORKER_CAPACITY"},
	};
	struct mw_config c;
	char err[256];
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_clear_env(envs);
		setenv(bad[i].env, bad[i].val, 1);
		err[0] = 0;
		if(t_load(&c, err, sizeof(err), NULL) != -EINVAL)
			fail_msg("%s=%s accepted", bad[i].env, bad[i].val);
		if(!strstr(err, bad[i].needle))
			fail_msg("%s=%s: error '%s' does not name %s", bad[i].env,
					bad[i].val, err, bad[i].needle);
	}
	t_clear_env(envs);
	assert_int_equal(
			t_load(&c, err, sizeof(err), "--nope", "1", NULL), -EINVAL);
	assert_non_null(strstr(err, "--nope"));
	assert_int_equal(t_load(&c, err, sizeof(err), "extra", NULL), -EINVAL);
}

static void hostport_and_redis_forms(void **state)
{
	struct mw_config c;
	char ip[64];
	uint16_t port = 0;

	assert_int_equal(
			mw_config_parse_hostport("[::1]:5070", ip, sizeof(ip), &port, 0),
			0);
	assert_string_equal(ip, "::1");
	assert_int_equal(port, 5070);
	assert_int_equal(
			mw_config_parse_hostport("2001:db8::1", ip, sizeof(ip), &port, 9),
			0);
	assert_int_equal(port, 9);
	assert_int_equal(
			mw_config_parse_hostport("10.0.0.1", ip, sizeof(ip), &port, 0),
			-EINVAL); /* port required */
	memset(&c, 0, sizeof(c));
	assert_int_equal(mw_config_parse_redis_url(&c, "redis://[::1]:6390/1"), 0);
	assert_string_equal(c.redis_host, "::1");
	assert_int_equal(c.redis_port, 6390);
	assert_int_equal(c.redis_db, 1);
	assert_int_equal(mw_config_parse_redis_url(&c, "redis://r"), 0);
	assert_string_equal(c.redis_host, "r");
	assert_int_equal(c.redis_port, 6379);
	assert_int_equal(mw_config_parse_redis_url(&c, "redis://r:0"), -EINVAL);
	assert_int_equal(mw_config_parse_redis_url(&c, "redis://"), -EINVAL);
}

static void agent_records(void **state)
{
	br_agent_t a;
	char err[200];
	const char *ok[] = {"ws_url", "wss://ai.example/stream", "enabled", "1",
			"params", "{\"campaign\":\"spring\"}", "max_duration", "600",
			"some_future_field", "x", "id", "ignored"};
	const char *badurl[] = {"ws_url", "http://nope"};
	const char *badpolicy[] = {"failure_policy", "transfer"};

	assert_int_equal(
			mw_registry_agent_parse("agent-1", ok, 12, &a, err, sizeof(err)),
			0);
	assert_string_equal(a.id, "agent-1");
	assert_string_equal(a.ws_url, "wss://ai.example/stream");
	assert_int_equal(a.max_duration, 600);
	assert_string_equal(a.auth_header, "Authorization");
	assert_int_equal(
			mw_registry_agent_parse("agent-1", badurl, 2, &a, err, sizeof(err)),
			-EINVAL);
	assert_non_null(strstr(err, "ws_url"));
	assert_int_equal(mw_registry_agent_parse(
							 "agent-1", badpolicy, 2, &a, err, sizeof(err)),
			-EINVAL);
	assert_int_equal(
			mw_registry_agent_parse("bad id", ok, 2, &a, err, sizeof(err)),
			-EINVAL);
}

static const char invite[] =
		"INVITE sip:+14155550100@127.0.1.1:5070 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKabc\r\n"
		"From: \"Alice Caller\" <sip:+14155551234@carrier.example>;tag=f1\r\n"
		"To: <sip:+14155550100@edge.example>\r\n"
		"Call-ID: call-1@carrier\r\n"
		"CSeq: 10 INVITE\r\n"
		"X-Byoc-Agent: agent-1\r\n"
		"X-Byoc-Trunk: carrier-a\r\n"
		"X-Byoc-DID: +14155550100\r\n"
		"X-Byoc-Tenant: acme\r\n"
		"X-Byoc-Secret: never-forwarded\r\n"
		"X-Carrier-Ref: ref-7\r\n"
		"X-Carrier-Ref: ref-8\r\n"
		"Content-Length: 0\r\n\r\n";

static const char *param(const struct mw_call_setup *s, const char *k)
{
	size_t i;

	for(i = 0; i < s->nparams; i++)
		if(strcmp(s->keys[i], k) == 0)
			return s->vals[i];
	return NULL;
}

static void custom_parameters(void **state)
{
	char buf[sizeof(invite)];
	struct mw_sip_verdict v;
	struct mw_call_setup s;
	osip_message_t *m = NULL;
	size_t i, j;

	memcpy(buf, invite, sizeof(invite));
	assert_int_equal(mw_sip_parse(buf, sizeof(invite) - 1, &m, &v), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mw_call_params(&s, m,
							 "{\"campaign\":\"spring\",\"trunk\":\"other\","
							 "\"n\":5}"),
			0);
	assert_string_equal(param(&s, "trunk"), "carrier-a");
	assert_string_equal(param(&s, "did"), "+14155550100");
	assert_string_equal(param(&s, "from"), "+14155551234");
	assert_string_equal(param(&s, "to"), "+14155550100");
	assert_string_equal(param(&s, "caller"), "Alice Caller");
	assert_string_equal(param(&s, "agent"), "agent-1");
	assert_string_equal(param(&s, "call_id"), "call-1@carrier");
	assert_string_equal(param(&s, "direction"), "inbound");
	assert_string_equal(param(&s, "tenant"), "acme");
	assert_string_equal(param(&s, "x-byoc-trunk"), "carrier-a");
	assert_string_equal(param(&s, "x-carrier-ref"), "ref-7");
	assert_string_equal(param(&s, "campaign"), "spring");
	assert_null(param(&s, "x-byoc-secret"));
	assert_null(param(&s, "n")); /* not a string */
	for(i = 0; i < s.nparams; i++)
		for(j = i + 1; j < s.nparams; j++)
			assert_string_not_equal(s.keys[i], s.keys[j]);
	mw_call_setup_clear(&s);
	osip_message_free(m);
}

static void info_dtmf_bodies(void **state)
{
	int d;
	const char *relay = "Signal=5\r\nDuration=160\r\n";

	assert_int_equal(mw_call_info_dtmf("application/dtmf-relay", relay,
							 strlen(relay), &d),
			'5');
	assert_int_equal(d, 160);
	assert_int_equal(mw_call_info_dtmf(
							 "application/dtmf-relay", "Signal= #\r\n", 11, &d),
			'#');
	assert_int_equal(mw_call_info_dtmf(
							 "application/dtmf-relay", "Signal=11\r\n", 11, &d),
			'#');
	assert_int_equal(mw_call_info_dtmf("application/dtmf", "*", 1, &d), '*');
	assert_int_equal(
			mw_call_info_dtmf("application/dtmf", "d\r\n", 3, &d), 'D');
	assert_int_equal(
			mw_call_info_dtmf("application/dtmf", "x", 1, &d), -EINVAL);
	assert_int_equal(mw_call_info_dtmf("text/plain", "5", 1, &d), -EINVAL);
	assert_int_equal(mw_call_info_dtmf("application/dtmf-relay",
							 "Duration=100\r\n", 14, &d),
			-EINVAL);
}

/* ---- threads and metrics ------------------------------------------------- */

struct ping
{
	struct mw_thread *t0;
	int got;
	unsigned thread_seen;
};

static void pong_cb(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct ping *p = obj;

	p->got++;
	memcpy(&p->thread_seen, data, sizeof(p->thread_seen));
	event_base_loopbreak(t->base);
}

static void ping_cb(struct mw_thread *t, void *obj, void *data, size_t len)
{
	struct ping *p = obj;
	unsigned idx = t->idx;

	/* runs on thread 1: count there, answer to thread 0 */
	MW_COUNT(MW_C_WS_MEDIA_SENT);
	MW_COUNT(MW_C_WS_MEDIA_SENT);
	assert_true(mw_thread_self() == t);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	mw_thread_post(p->t0, pong_cb, p, &idx, sizeof(idx));
}

static void queues_and_metrics(void **state)
{
	struct mw_thread *t = NULL;
	struct mw_status st;
	struct struct_timeout
	{
		struct timeval tv;
	} to = {{5, 0}};
	struct ping p = {0};
	struct evbuffer *out;
	size_t len;
	char *text;

	assert_int_equal(mw_threads_init(2, &t), 0);
	assert_true(mw_thread_self() == &t[0]);
	assert_int_equal(mw_threads_start(t, 2), 0);
	p.t0 = &t[0];
	MW_COUNT(MW_C_WS_MEDIA_SENT);			  /* thread 0 */
	mw_metrics_latency(MW_L_TO_AI, 30);		  /* 50 us bucket */
	mw_metrics_latency(MW_L_TO_AI, 200000);	  /* past the top: +Inf */
	mw_metrics_latency(MW_L_TO_CALLER, 1000); /* bounds are inclusive */
	assert_int_equal(mw_thread_post(&t[1], ping_cb, &p, "hello", 5), 0);
	event_base_loopexit(t[0].base, &to.tv);
	event_base_dispatch(t[0].base);
	assert_int_equal(p.got, 1);
	assert_int_equal(p.thread_seen, 1);
	mw_threads_join(t, 2);
	assert_int_equal(mw_metrics_sum(t, 2, MW_C_WS_MEDIA_SENT), 3);

	memset(&st, 0, sizeof(st));
	st.capacity = 9;
	out = evbuffer_new();
	mw_metrics_render(out, t, 2, &st);
	len = evbuffer_get_length(out);
	text = calloc(1, len + 1);
	evbuffer_remove(out, text, len);
	assert_non_null(strstr(text, "byoc_worker_ws_media_sent_total 3\n"));
	assert_non_null(strstr(text, "byoc_worker_capacity 9\n"));
	assert_non_null(strstr(text,
			"byoc_worker_calls_total{outcome=\"ai_connect_failed\"} 0\n"));
	assert_non_null(strstr(
			text, "byoc_worker_ws_connect_seconds_bucket{le=\"+Inf\"} 0\n"));
	assert_non_null(
			strstr(text, "byoc_worker_inbound_frames_dropped_total 0\n"));
	assert_non_null(strstr(text,
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_ai\","
			"le=\"2.5e-05\"} 0\n"
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_ai\","
			"le=\"5e-05\"} 1\n"));
	assert_non_null(strstr(text,
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_ai\","
			"le=\"0.1\"} 1\n"
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_ai\","
			"le=\"+Inf\"} 2\n"
			"byoc_worker_media_latency_seconds_sum{dir=\"to_ai\"} 0.200030\n"
			"byoc_worker_media_latency_seconds_count{dir=\"to_ai\"} 2\n"));
	assert_non_null(strstr(text,
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_caller\","
			"le=\"0.0005\"} 0\n"
			"byoc_worker_media_latency_seconds_bucket{dir=\"to_caller\","
			"le=\"0.001\"} 1\n"));
	free(text);
	evbuffer_free(out);
	mw_threads_free(t, 2);
}

/* ---- registry: lookups of an owner being freed do not call back ---- */

static int forget_rc;

static void count_cb(void *arg, int rc, const br_agent_t *a, const char *err)
{
	(void)a;
	(void)err;
	(*(int *)arg)++;
	forget_rc = rc;
}

static void registry_forget(void **state)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	struct event_base *base;
	struct mw_registry *r = NULL;
	struct mw_status st = {0};
	struct mw_config c;
	char err[256], url[64];
	int lfd, rc = -ENOTCONN, i, a_calls = 0, b_calls = 0;

	(void)state;
	/* a "Redis" that accepts connections and never answers: both lookups
	 * stay pending until the registry is freed */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	t_clear_env(envs);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/0", ntohs(sa.sin_port));
	setenv("BYOC_REDIS_URL", url, 1);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), 0);
	unsetenv("BYOC_REDIS_URL");
	base = event_base_new();
	assert_int_equal(mw_registry_new(base, &c, &st, &r), 0);
	for(i = 0; i < 400 && rc == -ENOTCONN; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		rc = mw_registry_get_agent(r, "agent-a", count_cb, &a_calls);
		if(rc == -ENOTCONN)
			usleep(5000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(
			mw_registry_get_agent(r, "agent-b", count_cb, &b_calls), 0);
	mw_registry_forget(r, &a_calls);
	mw_registry_free(r); /* pending replies: NULL */
	assert_int_equal(a_calls, 0);
	assert_int_equal(b_calls, 1);
	assert_int_equal(forget_rc, -EIO);
	event_base_free(base);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(config_defaults_env_and_options),
			cmocka_unit_test(config_errors_name_the_setting),
			cmocka_unit_test(hostport_and_redis_forms),
			cmocka_unit_test(agent_records),
			cmocka_unit_test(registry_forget),
			cmocka_unit_test(custom_parameters),
			cmocka_unit_test(info_dtmf_bodies),
			cmocka_unit_test(queues_and_metrics),
	};
	mw_sip_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
