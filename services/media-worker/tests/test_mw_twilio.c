/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_twilio.c -- unit tests of the Twilio Media Streams encoders and
 * the backend-message parser (docs/ai-protocol.md, ai-backend-protocols
 * 1.2-1.4): exact field order and types, numbering, SIDs, base64, and the
 * tolerance rules for what real backends send.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mw_twilio.h"

/* ---- helpers ------------------------------------------------------------- */

static json_t *load(const char *txt, int len)
{
	json_error_t e;
	json_t *j;

	assert_true(len > 0);
	assert_int_equal(strlen(txt), (size_t)len);
	j = json_loadb(txt, (size_t)len, 0, &e);
	if(j == NULL)
		fail_msg("not JSON (%s): %s", e.text, txt);
	assert_true(json_is_object(j));
	return j;
}

/* The object's keys, in order, joined by ',' */
static void keys_of(json_t *o, char *out, size_t len)
{
	const char *k;
	json_t *v;

	out[0] = '\0';
	json_object_foreach(o, k, v)
	{
		if(out[0] != '\0')
			strncat(out, ",", len - strlen(out) - 1);
		strncat(out, k, len - strlen(out) - 1);
	}
}

static void assert_keys(json_t *o, const char *want)
{
	char got[256];

	assert_non_null(o);
	keys_of(o, got, sizeof(got));
	assert_string_equal(got, want);
}

static const char *str(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if(path2 != NULL)
		v = json_object_get(v, path2);
	if(!json_is_string(v))
		fail_msg("%s.%s is not a string", path1, path2 ? path2 : "");
	return json_string_value(v);
}

static int sid_ok(const char *sid, const char *prefix)
{
	regex_t re;
	int ok;

	assert_int_equal(regcomp(&re, "^(AC|CA|MZ)[0-9a-f]{32}$", REG_EXTENDED), 0);
	ok = regexec(&re, sid, 0, NULL, 0) == 0 && strncmp(sid, prefix, 2) == 0;
	regfree(&re);
	return ok;
}

static int is_uint_str(const char *s)
{
	if(*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return 0;
	for(; *s; s++)
		if(*s < '0' || *s > '9')
			return 0;
	return 1;
}

static void parse_str(const char *txt, struct mw_twilio_in *in)
{
	mw_twilio_parse(txt, strlen(txt), in);
}

/* ---- encoders ------------------------------------------------------------ */

static void test_sids(void **state)
{
	struct mw_twilio_stream a, b;

	mw_twilio_stream_init(&a);
	mw_twilio_stream_init(&b);
	assert_true(sid_ok(a.account_sid, "AC"));
	assert_true(sid_ok(a.call_sid, "CA"));
	assert_true(sid_ok(a.stream_sid, "MZ"));
	assert_int_equal(strlen(a.stream_sid), 34);
	assert_string_not_equal(a.stream_sid, b.stream_sid);
	assert_string_not_equal(a.call_sid, b.call_sid);
	assert_int_equal(a.seq, 0);
	assert_int_equal(a.chunk, 0);
}

static void test_connected(void **state)
{
	char *out = NULL;
	int n = mw_twilio_connected(&out);

	assert_true(n > 0);
	assert_string_equal(out, "{\"event\":\"connected\",\"protocol\":\"Call\","
							 "\"version\":\"1.0.0\"}");
	free(out);
}

static void test_start(void **state)
{
	struct mw_twilio_stream s;
	const char *keys[] = {"trunk", "did", "x-foo"};
	const char *vals[] = {"t1", "+14155550100", "caf\xc3\xa9 \"q\""};
	json_t *j, *st, *mf, *tr;
	char *out = NULL;
	int n;

	mw_twilio_stream_init(&s);
	n = mw_twilio_start(&s, keys, vals, 3, &out);
	j = load(out, n);
	assert_keys(j, "event,sequenceNumber,start,streamSid");
	assert_string_equal(str(j, "event", NULL), "start");
	assert_string_equal(str(j, "sequenceNumber", NULL), "1");
	assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
	st = json_object_get(j, "start");
	assert_keys(st,
			"accountSid,streamSid,callSid,tracks,customParameters,mediaFormat");
	assert_string_equal(str(st, "accountSid", NULL), s.account_sid);
	assert_string_equal(str(st, "streamSid", NULL), s.stream_sid);
	assert_string_equal(str(st, "callSid", NULL), s.call_sid);
	tr = json_object_get(st, "tracks");
	assert_true(json_is_array(tr));
	assert_int_equal(json_array_size(tr), 1);
	assert_string_equal(json_string_value(json_array_get(tr, 0)), "inbound");
	assert_keys(json_object_get(st, "customParameters"), "trunk,did,x-foo");
	assert_string_equal(str(st, "customParameters", "x-foo"), vals[2]);
	mf = json_object_get(st, "mediaFormat");
	assert_keys(mf, "encoding,sampleRate,channels");
	assert_string_equal(str(mf, "encoding", NULL), "audio/x-mulaw");
	assert_true(json_is_integer(json_object_get(mf, "sampleRate")));
	assert_int_equal(
			json_integer_value(json_object_get(mf, "sampleRate")), 8000);
	assert_true(json_is_integer(json_object_get(mf, "channels")));
	assert_int_equal(json_integer_value(json_object_get(mf, "channels")), 1);
	assert_int_equal(s.seq, 1);
	json_decref(j);
	free(out);

	/* no parameters: customParameters is still an object (rule 2) */
	mw_twilio_stream_init(&s);
	n = mw_twilio_start(&s, NULL, NULL, 0, &out);
	j = load(out, n);
	st = json_object_get(j, "start");
	assert_true(json_is_object(json_object_get(st, "customParameters")));
	assert_int_equal(
			json_object_size(json_object_get(st, "customParameters")), 0);
	json_decref(j);
	free(out);
}

static void test_start_invalid(void **state)
{
	struct mw_twilio_stream s;
	const char *k1[] = {NULL}, *v1[] = {"x"};
	const char *k2[] = {"k\xff"}, *v2[] = {"x"}; /* key not UTF-8 */
	const char *k3[] = {""}, *v3[] = {"x"};
	char *out = (char *)1;

	mw_twilio_stream_init(&s);
	assert_int_equal(mw_twilio_start(&s, k1, v1, 1, &out), -EINVAL);
	assert_int_equal(mw_twilio_start(&s, k2, v2, 1, &out), -EINVAL);
	assert_int_equal(mw_twilio_start(&s, k3, v3, 1, &out), -EINVAL);
	assert_int_equal(mw_twilio_start(&s, NULL, NULL, 2, &out), -EINVAL);
	assert_null(out);
	assert_int_equal(s.seq, 0); /* nothing was sent */
}

/* SIP header values in Latin-1 or broken UTF-8 are repaired, not fatal */
static void test_start_repairs_utf8(void **state)
{
	static const struct
	{
		const char *in, *want;
	} cases[] = {
			{"Jos\xe9", "Jos\xef\xbf\xbd"},
			{"\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd"},
			{"caf\xc3\xa9", "caf\xc3\xa9"},
			{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
			{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
			{"a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd"}, /* truncated */
			{"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},
	};
	struct mw_twilio_stream s;
	const char *k[] = {"caller"};
	char *out;
	json_t *j;
	size_t i;
	int n;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mw_twilio_stream_init(&s);
		n = mw_twilio_start(&s, k, &cases[i].in, 1, &out);
		j = load(out, n);
		assert_string_equal(
				str(json_object_get(j, "start"), "customParameters", "caller"),
				cases[i].want);
		json_decref(j);
		free(out);
	}
}

static void test_media(void **state)
{
	struct mw_twilio_stream s;
	uint8_t ulaw[160], dec[240];
	json_t *j, *m;
	char *out = NULL;
	const char *pl;
	int n, i;

	for(i = 0; i < 160; i++)
		ulaw[i] = (uint8_t)(i * 7 + 3);
	mw_twilio_stream_init(&s);
	n = mw_twilio_start(&s, NULL, NULL, 0, &out);
	assert_true(n > 0);
	free(out);
	for(i = 0; i < 3; i++) {
		n = mw_twilio_media(&s, ulaw, sizeof(ulaw), 20 * (uint64_t)i, &out);
		j = load(out, n);
		assert_keys(j, "event,sequenceNumber,media,streamSid");
		assert_string_equal(str(j, "event", NULL), "media");
		assert_true(is_uint_str(str(j, "sequenceNumber", NULL)));
		assert_int_equal(atoi(str(j, "sequenceNumber", NULL)), 2 + i);
		assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
		m = json_object_get(j, "media");
		assert_keys(m, "track,chunk,timestamp,payload");
		assert_string_equal(str(m, "track", NULL), "inbound");
		assert_true(is_uint_str(str(m, "chunk", NULL)));
		assert_int_equal(atoi(str(m, "chunk", NULL)), 1 + i);
		assert_true(is_uint_str(str(m, "timestamp", NULL)));
		assert_int_equal(atoi(str(m, "timestamp", NULL)), 20 * i);
		pl = str(m, "payload", NULL);
		assert_int_equal(strlen(pl), 216); /* 4 * ceil(160 / 3) */
		assert_int_equal(
				EVP_DecodeBlock(dec, (const unsigned char *)pl, 216), 162);
		assert_memory_equal(dec, ulaw, 160);
		json_decref(j);
		free(out);
	}
	assert_int_equal(s.seq, 4);
	assert_int_equal(s.chunk, 3);

	/* a big timestamp stays an integer string */
	n = mw_twilio_media(&s, ulaw, 1, 18446744073709551615ull, &out);
	j = load(out, n);
	assert_string_equal(str(j, "media", "timestamp"), "18446744073709551615");
	assert_string_equal(str(j, "media", "payload"), "Aw==");
	json_decref(j);
	free(out);
	/* empty payload */
	n = mw_twilio_media(&s, NULL, 0, 0, &out);
	j = load(out, n);
	assert_string_equal(str(j, "media", "payload"), "");
	json_decref(j);
	free(out);
	assert_int_equal(mw_twilio_media(&s, NULL, 5, 0, &out), -EINVAL);
	assert_int_equal(mw_twilio_media(&s, ulaw, 2u << 20, 0, &out), -EMSGSIZE);
}

static void test_dtmf(void **state)
{
	struct mw_twilio_stream s;
	const char *digits = "0123456789*#ABCD";
	json_t *j;
	char *out = NULL, d[2] = {0, 0};
	int n;
	size_t i;

	mw_twilio_stream_init(&s);
	s.seq = 4;
	for(i = 0; i < strlen(digits); i++) {
		n = mw_twilio_dtmf(&s, digits[i], &out);
		j = load(out, n);
		assert_keys(j, "event,streamSid,sequenceNumber,dtmf");
		assert_string_equal(str(j, "event", NULL), "dtmf");
		assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
		assert_int_equal(atoi(str(j, "sequenceNumber", NULL)), 5 + (int)i);
		assert_keys(json_object_get(j, "dtmf"), "track,digit");
		assert_string_equal(str(j, "dtmf", "track"), "inbound_track");
		d[0] = digits[i];
		assert_string_equal(str(j, "dtmf", "digit"), d);
		json_decref(j);
		free(out);
	}
	n = mw_twilio_dtmf(&s, 'b', &out); /* lower case normalised */
	j = load(out, n);
	assert_string_equal(str(j, "dtmf", "digit"), "B");
	json_decref(j);
	free(out);
	n = (int)s.seq;
	assert_int_equal(mw_twilio_dtmf(&s, 'x', &out), -EINVAL);
	assert_int_equal(mw_twilio_dtmf(&s, '\0', &out), -EINVAL);
	assert_int_equal((int)s.seq, n);
}

static void test_mark_stop(void **state)
{
	struct mw_twilio_stream s;
	json_t *j;
	char *out = NULL;
	int n;

	mw_twilio_stream_init(&s);
	s.seq = 9;
	n = mw_twilio_mark(&s, "my label", &out);
	j = load(out, n);
	assert_keys(j, "event,sequenceNumber,streamSid,mark");
	assert_string_equal(str(j, "sequenceNumber", NULL), "10");
	assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
	assert_keys(json_object_get(j, "mark"), "name");
	assert_string_equal(str(j, "mark", "name"), "my label");
	json_decref(j);
	free(out);
	/* the echo of a nameless backend mark */
	n = mw_twilio_mark(&s, "", &out);
	j = load(out, n);
	assert_string_equal(str(j, "mark", "name"), "");
	json_decref(j);
	free(out);
	assert_int_equal(mw_twilio_mark(&s, NULL, &out), -EINVAL);
	assert_int_equal(mw_twilio_mark(&s, "\xc3", &out), -EINVAL);

	n = mw_twilio_stop(&s, &out);
	j = load(out, n);
	assert_keys(j, "event,sequenceNumber,stop,streamSid");
	assert_string_equal(str(j, "event", NULL), "stop");
	assert_string_equal(str(j, "sequenceNumber", NULL), "12");
	assert_keys(json_object_get(j, "stop"), "accountSid,callSid");
	assert_string_equal(str(j, "stop", "accountSid"), s.account_sid);
	assert_string_equal(str(j, "stop", "callSid"), s.call_sid);
	assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
	json_decref(j);
	free(out);
}

/* sequenceNumber: "1" on start, +1 for every later message of any type */
static void test_sequence_all_types(void **state)
{
	struct mw_twilio_stream s;
	uint8_t ulaw[160];
	char *out[7] = {0};
	int i, n;
	json_t *j;

	memset(ulaw, 0xff, sizeof(ulaw));
	mw_twilio_stream_init(&s);
	assert_true(mw_twilio_connected(&out[0]) > 0);
	assert_true(mw_twilio_start(&s, NULL, NULL, 0, &out[1]) > 0);
	assert_true(mw_twilio_media(&s, ulaw, 160, 0, &out[2]) > 0);
	assert_true(mw_twilio_dtmf(&s, '5', &out[3]) > 0);
	assert_true(mw_twilio_media(&s, ulaw, 160, 20, &out[4]) > 0);
	assert_true(mw_twilio_mark(&s, "m", &out[5]) > 0);
	assert_true(mw_twilio_stop(&s, &out[6]) > 0);
	j = load(out[0], (int)strlen(out[0]));
	assert_null(json_object_get(j, "sequenceNumber"));
	assert_null(json_object_get(j, "streamSid"));
	json_decref(j);
	for(i = 1; i < 7; i++) {
		j = load(out[i], (int)strlen(out[i]));
		n = atoi(str(j, "sequenceNumber", NULL));
		assert_int_equal(n, i);
		assert_string_equal(str(j, "streamSid", NULL), s.stream_sid);
		json_decref(j);
	}
	j = load(out[4], (int)strlen(out[4]));
	assert_string_equal(str(j, "media", "chunk"), "2");
	json_decref(j);
	for(i = 0; i < 7; i++)
		free(out[i]);
}

/* ---- parser -------------------------------------------------------------- */

static void test_parse_media(void **state)
{
	static const size_t sizes[] = {1, 2, 3, 159, 160, 161, 3200, 64000};
	struct mw_twilio_in in;
	uint8_t *audio;
	char *b64, *msg;
	size_t i, k, mlen;

	for(k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		audio = malloc(n);
		for(i = 0; i < n; i++)
			audio[i] = (uint8_t)(i * 31 + k);
		b64 = malloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64, audio, (int)n);
		mlen = strlen(b64) + 128;
		msg = malloc(mlen);
		/* with streamSid, then without (rule 7) */
		snprintf(msg, mlen,
				"{\"event\":\"media\",\"streamSid\":\"MZ1\",\"media\":{"
				"\"payload\":\"%s\"}}",
				b64);
		parse_str(msg, &in);
		assert_int_equal(in.type, MW_TW_MEDIA);
		assert_int_equal(in.audio_len, n);
		assert_memory_equal(in.audio, audio, n);
		assert_null(in.name);
		mw_twilio_in_free(&in);
		snprintf(msg, mlen,
				"{\"media\":{\"track\":\"outbound\",\"payload\":\"%s\"},"
				"\"event\":\"media\"}",
				b64);
		parse_str(msg, &in);
		assert_int_equal(in.type, MW_TW_MEDIA);
		assert_int_equal(in.audio_len, n);
		assert_memory_equal(in.audio, audio, n);
		mw_twilio_in_free(&in);
		free(msg);
		free(b64);
		free(audio);
	}
	parse_str("{\"event\":\"media\",\"media\":{\"payload\":\"\"}}", &in);
	assert_int_equal(in.type, MW_TW_MEDIA);
	assert_int_equal(in.audio_len, 0);
	mw_twilio_in_free(&in);
}

static void test_parse_media_invalid(void **state)
{
	static const char *const bad[] = {
			"{\"event\":\"media\"}",
			"{\"event\":\"media\",\"media\":{}}",
			"{\"event\":\"media\",\"media\":\"AAAA\"}",
			"{\"event\":\"media\",\"media\":{\"payload\":5}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"abc\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"ab=c\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"a===\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"AA AA\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\" AAAA\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"AAAA\\n\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"AA-_\"}}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"AA\\u0000A\"}}",
	};
	struct mw_twilio_in in;
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_str(bad[i], &in);
		if(in.type != MW_TW_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_null(in.audio);
		assert_int_equal(in.audio_len, 0);
		mw_twilio_in_free(&in);
	}
}

static void test_parse_mark_clear(void **state)
{
	struct mw_twilio_in in;

	parse_str("{\"event\":\"mark\",\"streamSid\":\"MZ\",\"mark\":{\"name\":"
			  "\"responsePart\"}}",
			&in);
	assert_int_equal(in.type, MW_TW_MARK);
	assert_string_equal(in.name, "responsePart");
	mw_twilio_in_free(&in);
	/* OpenAI demo: no mark object (rule 10) */
	parse_str("{\"event\":\"mark\",\"streamSid\":\"MZ\"}", &in);
	assert_int_equal(in.type, MW_TW_MARK);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"mark\",\"mark\":{}}", &in);
	assert_int_equal(in.type, MW_TW_MARK);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"mark\",\"mark\":{\"name\":42}}", &in);
	assert_int_equal(in.type, MW_TW_MARK);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"mark\",\"mark\":\"x\"}", &in);
	assert_int_equal(in.type, MW_TW_MARK);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"clear\",\"streamSid\":\"MZ\"}", &in);
	assert_int_equal(in.type, MW_TW_CLEAR);
	assert_null(in.name);
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"clear\"}", &in);
	assert_int_equal(in.type, MW_TW_CLEAR);
	mw_twilio_in_free(&in);
}

static void test_parse_extensions(void **state)
{
	static const char *const bad[] = {
			"{\"event\":\"transfer\"}",
			"{\"event\":\"transfer\",\"transfer\":{}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"\"}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"14155550100\"}"
			"}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+1\"}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"+1415555010x\"}"
			"}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"sip:a b@c\"}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"sip:a>@c\"}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"sip:a\\r\\nX: "
			"y\"}}",
			"{\"event\":\"transfer\",\"transfer\":{\"target\":\"http://x\"}}",
			"{\"event\":\"dtmf\"}",
			"{\"event\":\"dtmf\",\"dtmf\":{\"digits\":\"\"}}",
			"{\"event\":\"dtmf\",\"dtmf\":{\"digits\":\"12x\"}}",
			"{\"event\":\"dtmf\",\"dtmf\":{\"digits\":5}}",
			"{\"event\":\"dtmf\",\"dtmf\":{\"digits\":"
			"\"1111111111111111111111111111111111111111111111111111111111111111"
			"1"
			"\"}}",
	};
	struct mw_twilio_in in;
	size_t i;

	parse_str(
			"{\"event\":\"hangup\",\"hangup\":{\"reason\":\"goodbye\"}}", &in);
	assert_int_equal(in.type, MW_TW_HANGUP);
	assert_string_equal(in.name, "goodbye");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"hangup\",\"streamSid\":\"MZ\"}", &in);
	assert_int_equal(in.type, MW_TW_HANGUP);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);

	parse_str("{\"event\":\"transfer\",\"transfer\":{\"target\":\"+"
			  "14155550100\"}}",
			&in);
	assert_int_equal(in.type, MW_TW_TRANSFER);
	assert_string_equal(in.name, "+14155550100");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"transfer\",\"transfer\":{\"target\":"
			  "\"sip:support@example.com;transport=tls\"}}",
			&in);
	assert_int_equal(in.type, MW_TW_TRANSFER);
	assert_string_equal(in.name, "sip:support@example.com;transport=tls");
	mw_twilio_in_free(&in);

	parse_str("{\"event\":\"dtmf\",\"dtmf\":{\"digits\":\"123#*ABCD\"}}", &in);
	assert_int_equal(in.type, MW_TW_SEND_DTMF);
	assert_string_equal(in.name, "123#*ABCD");
	mw_twilio_in_free(&in);
	parse_str("{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"7\"}}", &in);
	assert_int_equal(in.type, MW_TW_SEND_DTMF);
	assert_string_equal(in.name, "7");
	mw_twilio_in_free(&in);

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_str(bad[i], &in);
		if(in.type != MW_TW_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_null(in.name);
		mw_twilio_in_free(&in);
	}
}

static void test_parse_ignored(void **state)
{
	static const char *const ign[] = {
			"{\"event\":\"connected\",\"protocol\":\"Call\"}",
			"{\"event\":\"start\",\"start\":{}}",
			"{\"event\":\"stop\"}",
			"{\"event\":\"keepalive\"}",
			"{\"event\":\"\"}",
			"{\"event\":\"MEDIA\",\"media\":{\"payload\":\"AAAA\"}}",
	};
	struct mw_twilio_in in;
	size_t i;

	for(i = 0; i < sizeof(ign) / sizeof(ign[0]); i++) {
		parse_str(ign[i], &in);
		assert_int_equal(in.type, MW_TW_IGNORED);
		assert_null(in.name);
		assert_null(in.audio);
		mw_twilio_in_free(&in);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
			"",
			"{",
			"}",
			"null",
			"[]",
			"42",
			"\"media\"",
			"{\"event\":5}",
			"{\"event\":null}",
			"{\"type\":\"media\"}",
			"{\"event\":\"media\",\"media\":{\"payload\":\"AAAA\"}",
			"{\"event\":\"mark\"} trailing",
			"\xff\xfe{}",
	};
	struct mw_twilio_in in;
	size_t i, n;
	char *big;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_str(bad[i], &in);
		if(in.type != MW_TW_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_null(in.name);
		assert_null(in.audio);
		mw_twilio_in_free(&in);
	}
	mw_twilio_parse(NULL, 0, &in);
	assert_int_equal(in.type, MW_TW_INVALID);
	/* length counts, not NUL: text after an embedded NUL is an error */
	mw_twilio_parse("{\"event\":\"clear\"}\0x", 19, &in);
	assert_int_equal(in.type, MW_TW_INVALID);

	/* deep nesting must not exhaust the stack */
	n = 200000;
	big = malloc(n + 1);
	memset(big, '[', n);
	big[n] = '\0';
	mw_twilio_parse(big, n, &in);
	assert_int_equal(in.type, MW_TW_INVALID);
	free(big);

	/* over the bound: refused without parsing */
	n = (16u << 20) + 1;
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"event\":\"clear\"}", 17);
	mw_twilio_parse(big, n, &in);
	assert_int_equal(in.type, MW_TW_INVALID);
	/* the same message under the bound is fine (white space allowed) */
	mw_twilio_parse(big, n - 2, &in);
	assert_int_equal(in.type, MW_TW_CLEAR);
	free(big);

	mw_twilio_in_free(&in);
	mw_twilio_in_free(&in); /* idempotent */
	mw_twilio_in_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_sids),
			cmocka_unit_test(test_connected),
			cmocka_unit_test(test_start),
			cmocka_unit_test(test_start_invalid),
			cmocka_unit_test(test_start_repairs_utf8),
			cmocka_unit_test(test_media),
			cmocka_unit_test(test_dtmf),
			cmocka_unit_test(test_mark_stop),
			cmocka_unit_test(test_sequence_all_types),
			cmocka_unit_test(test_parse_media),
			cmocka_unit_test(test_parse_media_invalid),
			cmocka_unit_test(test_parse_mark_clear),
			cmocka_unit_test(test_parse_extensions),
			cmocka_unit_test(test_parse_ignored),
			cmocka_unit_test(test_parse_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
