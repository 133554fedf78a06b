/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_l16.c -- the L16 wideband AI protocol (mw_l16: metadata, dtmf,
 * mark echoes, parsing of the backend's commands, little-endian PCM) and
 * the per-call protocol layer over both protocols (mw_ai: first frames,
 * audio frames, odd-sized binary audio split across frames, marks, bye).
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

#include "br_model.h"
#include "mw_ai.h"
#include "mw_g711.h"
#include "mw_l16.h"

static json_t *load(const char *txt, int n)
{
	json_t *o;

	assert_true(n > 0);
	assert_int_equal((int)strlen(txt), n);
	o = json_loads(txt, 0, NULL);
	assert_non_null(o);
	return o;
}

static const char *sget(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	assert_non_null(v);
	return v;
}

static void test_metadata(void **state)
{
	struct mw_twilio_stream ids;
	const char *keys[] = {
			"from", "to", "call_id", "direction", "caller", "x-crm", "trunk"};
	const char *vals[] = {"+15550001111", "+14155550100", "abc@10.0.0.1",
			"inbound", "Ren\xe9", "7", "carrier-a"};
	char *txt = NULL;
	json_t *o, *p;
	int n;

	mw_twilio_stream_init(&ids);
	n = mw_l16_metadata(&ids, keys, vals, 7, &txt);
	o = load(txt, n);
	/* jambonz's names */
	assert_int_equal(
			json_integer_value(json_object_get(o, "sampleRate")), 16000);
	assert_string_equal(sget(o, "mixType"), "mono");
	assert_string_equal(sget(o, "encoding"), "audio/l16");
	assert_string_equal(sget(o, "callSid"), ids.call_sid);
	assert_string_equal(sget(o, "streamSid"), ids.stream_sid);
	assert_string_equal(sget(o, "from"), "+15550001111");
	assert_string_equal(sget(o, "to"), "+14155550100");
	assert_string_equal(sget(o, "callId"), "abc@10.0.0.1");
	assert_string_equal(sget(o, "direction"), "inbound");
	/* Latin-1 repaired to U+FFFD, as in Twilio's start */
	assert_string_equal(sget(o, "callerName"), "Ren\xef\xbf\xbd");
	p = json_object_get(o, "customParameters");
	assert_int_equal(json_object_size(p), 7);
	assert_string_equal(sget(p, "x-crm"), "7");
	assert_string_equal(sget(p, "trunk"), "carrier-a");
	/* the first frame starts with the rate (field order kept) */
	assert_int_equal(strncmp(txt, "{\"sampleRate\":16000,", 20), 0);
	json_decref(o);
	free(txt);
	/* no parameters: empty strings and an empty object */
	n = mw_l16_metadata(&ids, NULL, NULL, 0, &txt);
	o = load(txt, n);
	assert_string_equal(sget(o, "from"), "");
	assert_int_equal(
			json_object_size(json_object_get(o, "customParameters")), 0);
	json_decref(o);
	free(txt);
	keys[0] = "";
	assert_int_equal(mw_l16_metadata(&ids, keys, vals, 1, &txt), -EINVAL);
	assert_null(txt);
}

static void test_dtmf_mark(void **state)
{
	char *txt = NULL;
	int n;

	n = mw_l16_dtmf('5', 100, &txt);
	assert_string_equal(
			txt, "{\"event\":\"dtmf\",\"dtmf\":\"5\",\"duration\":\"100\"}");
	assert_int_equal(n, (int)strlen(txt));
	free(txt);
	mw_l16_dtmf('d', 0, &txt);
	assert_string_equal(
			txt, "{\"event\":\"dtmf\",\"dtmf\":\"D\",\"duration\":\"0\"}");
	free(txt);
	assert_int_equal(mw_l16_dtmf('x', 100, &txt), -EINVAL);
	mw_l16_mark("m1", 0, &txt);
	assert_string_equal(txt, "{\"type\":\"mark\",\"data\":{\"name\":\"m1\","
							 "\"event\":\"playout\"}}");
	free(txt);
	mw_l16_mark("a\"b", 1, &txt);
	assert_string_equal(txt,
			"{\"type\":\"mark\",\"data\":{\"name\":\"a\\\"b\",\"event\":"
			"\"cleared\"}}");
	free(txt);
	assert_int_equal(mw_l16_mark("\xff", 0, &txt), -EINVAL);
}

static int parse(const char *s, struct mw_twilio_in *in)
{
	mw_l16_parse(s, strlen(s), in);
	return in->type;
}

static void test_parse(void **state)
{
	struct mw_twilio_in in;

	assert_int_equal(
			parse("{\"type\":\"mark\",\"data\":{\"name\":\"x\"}}", &in),
			MW_TW_MARK);
	assert_string_equal(in.name, "x");
	mw_twilio_in_free(&in);
	assert_int_equal(parse("{\"type\":\"mark\"}", &in), MW_TW_MARK);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	assert_int_equal(parse("{\"type\":\"killAudio\"}", &in), MW_TW_CLEAR);
	assert_int_equal(parse("{\"type\":\"disconnect\"}", &in), MW_TW_HANGUP);
	assert_string_equal(in.name, "");
	mw_twilio_in_free(&in);
	assert_int_equal(
			parse("{\"type\":\"disconnect\",\"data\":{\"reason\":\"bye\"}}",
					&in),
			MW_TW_HANGUP);
	assert_string_equal(in.name, "bye");
	mw_twilio_in_free(&in);
	assert_int_equal(parse("{\"type\":\"transfer\",\"data\":{\"target\":"
						   "\"+14155550199\"}}",
							 &in),
			MW_TW_TRANSFER);
	mw_twilio_in_free(&in);
	assert_int_equal(
			parse("{\"type\":\"transfer\",\"data\":{\"target\":\"tel:1\"}}",
					&in),
			MW_TW_INVALID);
	assert_int_equal(
			parse("{\"type\":\"dtmf\",\"data\":{\"digits\":\"12#\"}}", &in),
			MW_TW_SEND_DTMF);
	assert_string_equal(in.name, "12#");
	mw_twilio_in_free(&in);
	assert_int_equal(
			parse("{\"type\":\"dtmf\",\"data\":{\"digits\":\"1x\"}}", &in),
			MW_TW_INVALID);
	assert_null(in.name);
	/* jambonz's other commands are tolerated */
	assert_int_equal(
			parse("{\"type\":\"playAudio\",\"data\":{}}", &in), MW_TW_IGNORED);
	assert_int_equal(parse("{\"type\":\"clearMarks\"}", &in), MW_TW_IGNORED);
	/* Twilio's shape is not this protocol's */
	assert_int_equal(parse("{\"event\":\"clear\"}", &in), MW_TW_INVALID);
	assert_int_equal(parse("[1]", &in), MW_TW_INVALID);
	assert_int_equal(parse("not json", &in), MW_TW_INVALID);
	mw_l16_parse(NULL, 0, &in);
	assert_int_equal(in.type, MW_TW_INVALID);
}

static void test_le(void **state)
{
	const int16_t pcm[3] = {0x1234, -2, INT16_MIN};
	uint8_t b[6];
	int16_t back[3];

	mw_l16_encode(pcm, 3, b);
	assert_int_equal(b[0], 0x34);
	assert_int_equal(b[1], 0x12);
	assert_int_equal(b[2], 0xfe);
	assert_int_equal(b[3], 0xff);
	assert_int_equal(b[4], 0x00);
	assert_int_equal(b[5], 0x80);
	mw_l16_decode(b, 3, back);
	assert_memory_equal(pcm, back, sizeof(pcm));
}

/* ---- mw_ai ---- */

struct sent
{
	int n;
	int text[8];
	size_t len[8];
	uint8_t data[8][4096];
};

static void sink(void *arg, int is_text, const void *data, size_t len)
{
	struct sent *s = arg;

	assert_true(s->n < 8 && len <= 4096);
	s->text[s->n] = is_text;
	s->len[s->n] = len;
	memcpy(s->data[s->n], data, len);
	s->n++;
}

static void test_ai_l16(void **state)
{
	struct mw_ai ai;
	struct mw_ai_in in;
	struct sent s = {0};
	const char *k[] = {"from"}, *v[] = {"+1555"};
	int16_t frame[320];
	uint8_t bin[7] = {0x01, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x02};
	unsigned i;

	mw_ai_init(&ai, BR_AI_L16, sink, &s);
	assert_int_equal(mw_ai_rate(&ai), 16000);
	assert_string_equal(mw_ai_subprotocol(&ai), "audio.jambonz.org");
	assert_int_equal(mw_ai_hello(&ai, k, v, 1), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.text[0]);
	assert_non_null(strstr((char *)s.data[0], "\"sampleRate\":16000"));
	/* a 20 ms frame: 640 bytes of binary, little-endian */
	for(i = 0; i < 320; i++)
		frame[i] = (int16_t)(i * 100 - 16000);
	assert_int_equal(mw_ai_audio(&ai, frame, 320, 0), 0);
	assert_int_equal(s.n, 2);
	assert_false(s.text[1]);
	assert_int_equal(s.len[1], 640);
	assert_int_equal(s.data[1][0], (uint8_t)(-16000 & 0xff));
	assert_int_equal(s.data[1][1], (uint8_t)((uint16_t)-16000 >> 8));
	assert_int_equal(mw_ai_audio(&ai, frame, 400, 0), -EINVAL);
	/* binary from the backend: 7 bytes = 3 samples + a byte that waits */
	mw_ai_receive(&ai, 0, bin, 7, &in);
	assert_int_equal(in.m.type, MW_TW_MEDIA);
	assert_int_equal(in.samples, 3);
	assert_int_equal(in.pcm[0], 1);
	assert_int_equal(in.pcm[1], 32767);
	assert_int_equal(in.pcm[2], -32768);
	mw_ai_in_free(&in);
	/* ... completed by the next frame: 0x0302, then one more sample */
	bin[0] = 0x03;
	bin[1] = 0x10;
	bin[2] = 0x00;
	mw_ai_receive(&ai, 0, bin, 3, &in);
	assert_int_equal(in.samples, 2);
	assert_int_equal(in.pcm[0], 0x0302);
	assert_int_equal(in.pcm[1], 0x0010);
	mw_ai_in_free(&in);
	/* a single byte waits; an empty frame is no audio */
	mw_ai_receive(&ai, 0, bin, 1, &in);
	assert_int_equal(in.m.type, MW_TW_MEDIA);
	assert_int_equal(in.samples, 0);
	mw_ai_receive(&ai, 0, bin, 1, &in);
	assert_int_equal(in.samples, 1);
	assert_int_equal(in.pcm[0], 0x0303);
	/* text is L16 control */
	mw_ai_receive(&ai, 1, (const uint8_t *)"{\"type\":\"killAudio\"}", 20, &in);
	assert_int_equal(in.m.type, MW_TW_CLEAR);
	/* marks tell played from cleared; dtmf is jambonz's; no stop */
	assert_int_equal(mw_ai_mark(&ai, "m", 1), 0);
	assert_non_null(strstr((char *)s.data[2], "\"cleared\""));
	assert_int_equal(mw_ai_dtmf(&ai, '#', 120), 0);
	assert_non_null(strstr((char *)s.data[3], "\"dtmf\":\"#\""));
	assert_int_equal(mw_ai_bye(&ai), 0);
	assert_int_equal(s.n, 4);
	mw_ai_cleanup(&ai);
}

static void test_ai_twilio(void **state)
{
	struct mw_ai ai;
	struct mw_ai_in in;
	struct sent s = {0};
	int16_t frame[160];
	const char *media =
			"{\"event\":\"media\",\"media\":{\"payload\":\"AP8=\"}}";
	json_t *o;

	mw_ai_init(&ai, BR_AI_TWILIO, sink, &s);
	assert_int_equal(mw_ai_rate(&ai), 8000);
	assert_null(mw_ai_subprotocol(&ai));
	assert_int_equal(mw_ai_hello(&ai, NULL, NULL, 0), 0);
	assert_int_equal(s.n, 2);
	assert_non_null(strstr((char *)s.data[0], "\"connected\""));
	assert_non_null(strstr((char *)s.data[1], "\"start\""));
	memset(frame, 0, sizeof(frame));
	assert_int_equal(mw_ai_audio(&ai, frame, 160, 40), 0);
	assert_true(s.text[2]);
	s.data[2][s.len[2]] = 0;
	o = json_loads((char *)s.data[2], 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(
								json_object_get(o, "media"), "timestamp")),
			"40");
	json_decref(o);
	/* binary frames mean nothing in Twilio's protocol */
	mw_ai_receive(&ai, 0, (const uint8_t *)"ab", 2, &in);
	assert_int_equal(in.m.type, MW_TW_IGNORED);
	/* μ-law payload decoded: 0x00 and 0xff */
	mw_ai_receive(&ai, 1, (const uint8_t *)media, strlen(media), &in);
	assert_int_equal(in.m.type, MW_TW_MEDIA);
	assert_int_equal(in.samples, 2);
	assert_int_equal(in.pcm[0], -32124);
	assert_int_equal(in.pcm[1], 0);
	mw_ai_in_free(&in);
	assert_int_equal(mw_ai_mark(&ai, "m", 1), 0);
	assert_non_null(strstr((char *)s.data[3], "\"mark\""));
	assert_null(strstr((char *)s.data[3], "cleared"));
	assert_int_equal(mw_ai_bye(&ai), 0);
	assert_non_null(strstr((char *)s.data[4], "\"stop\""));
	mw_ai_cleanup(&ai);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_metadata),
			cmocka_unit_test(test_dtmf_mark),
			cmocka_unit_test(test_parse),
			cmocka_unit_test(test_le),
			cmocka_unit_test(test_ai_l16),
			cmocka_unit_test(test_ai_twilio),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
