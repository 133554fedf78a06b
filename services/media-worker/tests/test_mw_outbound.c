/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_outbound.c -- the pure parts of outbound calls, transfers and
 * call records: the outbound settings, dial request validation, the
 * backend's transfer message with context headers (both protocols) and
 * the transfer_status reply, and the record's outcome / end cause /
 * hangup_by for each way a call ends. The behaviour on the wire is
 * tested end to end by tests/integration/worker_out.sh and
 * worker_life.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mw_call.h"
#include "mw_cdr.h"
#include "mw_config.h"
#include "mw_test_config.h"
#include "mw_dial.h"
#include "mw_l16.h"
#include "mw_twilio.h"

static const char *const envs[] = {"BYOC_WORKER_EDGE", "BYOC_WORKER_SECRET",
		"BYOC_WORKER_JOBS", "BYOC_WORKER_JOB_RECLAIM",
		"BYOC_WORKER_RING_TIMEOUT", "BYOC_STREAM_MAXLEN",
		"BYOC_WORKER_HEARTBEAT", NULL};

static void config_outbound(void **state)
{
	struct mw_config c;
	char err[256];

	t_clear_env(envs);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), 0);
	assert_string_equal(c.edge_ip, "");
	assert_int_equal(c.jobs, 0); /* no edge, no jobs */
	assert_int_equal(c.job_reclaim_s, 30);
	assert_int_equal(c.ring_timeout_s, 30);
	assert_int_equal(c.stream_maxlen, 100000);

	setenv("BYOC_WORKER_EDGE", "10.0.0.5", 1);
	setenv("BYOC_WORKER_SECRET", "s3cret", 1);
	assert_int_equal(t_load(&c, err, sizeof(err), "--ring-timeout", "12",
							 "--job-reclaim", "9", NULL),
			0);
	assert_string_equal(c.edge_ip, "10.0.0.5");
	assert_int_equal(c.edge_port, 5060);
	assert_string_equal(c.worker_secret, "s3cret");
	assert_int_equal(c.jobs, 1); /* on by default with an edge */
	assert_int_equal(c.ring_timeout_s, 12);
	assert_int_equal(c.job_reclaim_s, 9);
	assert_int_equal(t_load(&c, err, sizeof(err), "--jobs", "0", NULL), 0);
	assert_int_equal(c.jobs, 0);

	/* refusals name the setting */
	t_clear_env(envs);
	setenv("BYOC_WORKER_JOBS", "1", 1);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), -EINVAL);
	assert_non_null(strstr(err, "BYOC_WORKER_EDGE"));
	t_clear_env(envs);
	assert_int_equal(
			t_load(&c, err, sizeof(err), "--edge", "edge.example", NULL),
			-EINVAL);
	assert_non_null(strstr(err, "BYOC_WORKER_EDGE"));
	/* a reclaim shorter than two heartbeats would steal live jobs */
	setenv("BYOC_WORKER_EDGE", "10.0.0.5:5070", 1);
	setenv("BYOC_WORKER_HEARTBEAT", "5", 1);
	setenv("BYOC_WORKER_JOB_RECLAIM", "6", 1);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), -EINVAL);
	assert_non_null(strstr(err, "BYOC_WORKER_JOB_RECLAIM"));
	t_clear_env(envs);
	setenv("BYOC_WORKER_SECRET", "has space", 1);
	assert_int_equal(t_load(&c, err, sizeof(err), NULL), -EINVAL);
	assert_non_null(strstr(err, "BYOC_WORKER_SECRET"));
	t_clear_env(envs);
}

static void dial_requests(void **state)
{
	struct mw_dial_req r;
	char err[96];

	memset(&r, 0, sizeof(r));
	snprintf(r.agent, sizeof(r.agent), "a1");
	snprintf(r.to, sizeof(r.to), "+14155550123");
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), 0);
	snprintf(r.from, sizeof(r.from), "+14155550100");
	r.params = "{\"crm\":\"42\"}";
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), 0);

	r.params = "{\"crm\":42}"; /* values must be strings */
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "params"));
	r.params = "[1]";
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	r.params = NULL;
	snprintf(r.to, sizeof(r.to), "14155550123"); /* not E.164 */
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "to"));
	snprintf(r.to, sizeof(r.to), "+14155550123");
	snprintf(r.from, sizeof(r.from), "anonymous");
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	r.from[0] = 0;
	snprintf(r.agent, sizeof(r.agent), "a b");
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	snprintf(r.agent, sizeof(r.agent), "a1");
	/* a Call-ID chosen by the job: no host part, no address */
	snprintf(r.call_id, sizeof(r.call_id), "abc@10.0.0.1");
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), -EINVAL);
	snprintf(r.call_id, sizeof(r.call_id), "0123abcdef");
	assert_int_equal(mw_dial_req_check(&r, err, sizeof(err)), 0);
}

static void parse(const char *s, struct mw_twilio_in *in)
{
	mw_twilio_parse(s, strlen(s), in);
}

static void transfer_messages(void **state)
{
	static const char *const bad[] = {
			/* not X-, bad name characters, CR/LF in a value, too many */
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":{\"Via\":\"x\"}}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":{\"X-A b\":\"x\"}}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":{\"X-A\":\"x\\r\\nVia: y\"}}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":{\"X-A\":1}}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":[\"X-A\"]}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
			"\"headers\":{\"X-1\":\"a\",\"X-2\":\"a\",\"X-3\":\"a\",\"X-4\":"
			"\"a\",\"X-5\":\"a\",\"X-6\":\"a\",\"X-7\":\"a\",\"X-8\":\"a\","
			"\"X-9\":\"a\"}}}",
	};
	struct mw_twilio_in in;
	struct mw_twilio_stream s;
	json_t *o;
	char *out = NULL;
	size_t i;
	int n;

	parse("{\"event\":\"transfer\",\"transfer\":{\"target\":\"sip:desk@"
		  "example.com\",\"headers\":{\"X-Ctx\":\"abc 42\",\"X-Crm\":\"7\"}}}",
			&in);
	assert_int_equal(in.type, MW_TW_TRANSFER);
	assert_string_equal(in.name, "sip:desk@example.com");
	assert_non_null(in.headers);
	assert_non_null(strstr(in.headers, "X-Ctx: abc 42\r\n"));
	assert_non_null(strstr(in.headers, "X-Crm: 7\r\n"));
	mw_twilio_in_free(&in);
	parse("{\"event\":\"transfer\",\"transfer\":{\"target\":\"+14155550100\","
		  "\"headers\":{}}}",
			&in);
	assert_int_equal(in.type, MW_TW_TRANSFER);
	assert_null(in.headers);
	mw_twilio_in_free(&in);
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i], &in);
		if(in.type != MW_TW_INVALID || in.name || in.headers)
			fail_msg("accepted: %s", bad[i]);
		mw_twilio_in_free(&in);
	}
	/* the L16 protocol carries the same headers under "data" */
	mw_l16_parse("{\"type\":\"transfer\",\"data\":{\"target\":\"+"
				 "14155550100\",\"headers\":{\"X-Ctx\":\"1\"}}}",
			strlen("{\"type\":\"transfer\",\"data\":{\"target\":\"+"
				   "14155550100\",\"headers\":{\"X-Ctx\":\"1\"}}}"),
			&in);
	assert_int_equal(in.type, MW_TW_TRANSFER);
	assert_string_equal(in.headers, "X-Ctx: 1\r\n");
	mw_twilio_in_free(&in);

	/* the report: sequenceNumber continues the stream's */
	mw_twilio_stream_init(&s);
	s.seq = 41;
	n = mw_twilio_transfer_status(&s, "+14155550199", "completed", 200, &out);
	assert_true(n > 0);
	o = json_loads(out, 0, NULL);
	assert_non_null(o);
	assert_string_equal(
			json_string_value(json_object_get(o, "event")), "transfer_status");
	assert_string_equal(
			json_string_value(json_object_get(o, "sequenceNumber")), "42");
	assert_string_equal(
			json_string_value(json_object_get(o, "streamSid")), s.stream_sid);
	assert_string_equal(json_string_value(json_object_get(
								json_object_get(o, "transfer"), "status")),
			"completed");
	assert_int_equal(json_integer_value(json_object_get(
							 json_object_get(o, "transfer"), "code")),
			200);
	json_decref(o);
	free(out);
}

static void record_fields(void **state)
{
	struct mw_call c;

	memset(&c, 0, sizeof(c));
	/* inbound */
	c.end = MW_END_CALLER_BYE;
	c.cdr.answer_at = 1;
	assert_string_equal(mw_cdr_outcome(&c), "answered");
	assert_string_equal(mw_cdr_hangup_by(&c), "remote");
	assert_string_equal(mw_cdr_end_cause(c.end), "remote_bye");
	c.end = MW_END_AI_HANGUP;
	assert_string_equal(mw_cdr_hangup_by(&c), "ai");
	c.end = MW_END_TRANSFERRED;
	assert_string_equal(mw_cdr_hangup_by(&c), "transfer");
	c.end = MW_END_SHUTDOWN;
	assert_string_equal(mw_cdr_hangup_by(&c), "worker");
	assert_string_equal(mw_cdr_end_cause(c.end), "shutdown");
	c.end = MW_END_AI_FAILED;
	assert_string_equal(mw_cdr_end_cause(c.end), "ai_failed");
	c.cdr.answer_at = 0;
	c.end = MW_END_CANCELLED;
	assert_string_equal(mw_cdr_outcome(&c), "canceled");
	assert_string_equal(mw_cdr_hangup_by(&c), "remote"); /* caller's CANCEL */
	c.end = MW_END_REFUSED;
	assert_string_equal(mw_cdr_outcome(&c), "refused");
	assert_string_equal(mw_cdr_hangup_by(&c), "worker");
	/* outbound */
	c.outbound = 1;
	assert_string_equal(mw_cdr_outcome(&c), "failed"); /* before INVITE */
	assert_string_equal(mw_cdr_hangup_by(&c), "worker");
	c.cdr.invite_at = 1;
	c.cdr.outcome = "busy";
	assert_string_equal(mw_cdr_outcome(&c), "busy");
	assert_string_equal(mw_cdr_hangup_by(&c), "remote"); /* the 486 */
	c.end = MW_END_CANCELLED;
	assert_string_equal(mw_cdr_hangup_by(&c), "worker"); /* our CANCEL */
	assert_string_equal(mw_cdr_end_cause(-1), "none");
	assert_string_equal(mw_cdr_end_cause(MW_END__MAX), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(config_outbound),
			cmocka_unit_test(dial_requests),
			cmocka_unit_test(transfer_messages),
			cmocka_unit_test(record_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
