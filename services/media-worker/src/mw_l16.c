/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_l16.c -- the L16 wideband AI protocol's messages (see mw_l16.h):
 * jansson for JSON, the customParameters and validators of mw_twilio.
 */
#include "mw_l16.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MW_L16_MAX_JSON (1u << 20) /* control frames are small */

static int dump(json_t *obj, char **out)
{
	char *txt;

	*out = NULL;
	if(obj == NULL)
		return -ENOMEM;
	txt = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if(txt == NULL)
		return -ENOMEM;
	*out = txt;
	return (int)strlen(txt);
}

/* The parameter 'key' as a JSON string (already repaired UTF-8), or "". */
static json_t *param(json_t *params, const char *key)
{
	json_t *v = json_object_get(params, key);

	return v ? json_incref(v) : json_string("");
}

int mw_l16_metadata(const struct mw_twilio_stream *ids, const char *const *keys,
		const char *const *vals, size_t n, char **out)
{
	json_t *params, *o;

	if(ids == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	params = mw__twilio_params(keys, vals, n);
	if(params == NULL)
		return -EINVAL;
	/* jambonz's metadata names first, then ours */
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
			"sampleRate", MW_L16_RATE, "mixType", "mono", "encoding",
			"audio/l16", "callSid", ids->call_sid, "streamSid", ids->stream_sid,
			"accountSid", ids->account_sid, "direction",
			param(params, "direction"), "from", param(params, "from"), "to",
			param(params, "to"), "callId", param(params, "call_id"),
			"callerName", param(params, "caller"));
	if(o == NULL || json_object_set_new(o, "customParameters", params) < 0) {
		json_decref(o);
		json_decref(params);
		return -ENOMEM;
	}
	return dump(o, out);
}

int mw_l16_dtmf(char digit, int duration_ms, char **out)
{
	char d[2] = {digit, 0}, dur[16];

	if(out == NULL)
		return -EINVAL;
	*out = NULL;
	if(digit >= 'a' && digit <= 'd')
		d[0] = (char)(digit - 'a' + 'A');
	if(!mw__twilio_digits_valid(d))
		return -EINVAL;
	snprintf(dur, sizeof(dur), "%d", duration_ms > 0 ? duration_ms : 0);
	return dump(json_pack("{s:s, s:s, s:s}", "event", "dtmf", "dtmf", d,
						"duration", dur),
			out);
}

int mw_l16_mark(const char *name, int cleared, char **out)
{
	json_t *jname;

	if(out == NULL || name == NULL)
		return -EINVAL;
	*out = NULL;
	jname = json_string(name);
	if(jname == NULL)
		return -EINVAL;
	return dump(json_pack("{s:s, s:{s:o, s:s}}", "type", "mark", "data", "name",
						jname, "event", cleared ? "cleared" : "playout"),
			out);
}

static const char *str_at(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	if(k2 != NULL)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

static void parse_obj(json_t *root, struct mw_twilio_in *in)
{
	const char *type = str_at(root, "type", NULL), *v;

	if(type == NULL)
		return; /* INVALID */
	if(strcmp(type, "mark") == 0) {
		v = str_at(root, "data", "name");
		in->name = strdup(v != NULL ? v : "");
		in->type = in->name != NULL ? MW_TW_MARK : MW_TW_INVALID;
	} else if(strcmp(type, "killAudio") == 0) {
		in->type = MW_TW_CLEAR;
	} else if(strcmp(type, "disconnect") == 0) {
		v = str_at(root, "data", "reason");
		in->name = strdup(v != NULL ? v : "");
		in->type = in->name != NULL ? MW_TW_HANGUP : MW_TW_INVALID;
	} else if(strcmp(type, "transfer") == 0) {
		v = str_at(root, "data", "target");
		if(v == NULL || !mw__twilio_target_valid(v) ||
				mw__twilio_xheaders(
						json_object_get(
								json_object_get(root, "data"), "headers"),
						&in->headers) < 0)
			return;
		in->name = strdup(v);
		in->type = in->name != NULL ? MW_TW_TRANSFER : MW_TW_INVALID;
	} else if(strcmp(type, "dtmf") == 0) {
		v = str_at(root, "data", "digits");
		if(v == NULL || !mw__twilio_digits_valid(v))
			return;
		in->name = strdup(v);
		in->type = in->name != NULL ? MW_TW_SEND_DTMF : MW_TW_INVALID;
	} else {
		/* playAudio, clearMarks, transcription, json, ...: tolerated */
		in->type = MW_TW_IGNORED;
	}
}

void mw_l16_parse(const char *json, size_t len, struct mw_twilio_in *in)
{
	json_t *root;

	if(in == NULL)
		return;
	memset(in, 0, sizeof(*in));
	in->type = MW_TW_INVALID;
	if(json == NULL || len == 0 || len > MW_L16_MAX_JSON)
		return;
	root = json_loadb(json, len, 0, NULL);
	if(root == NULL)
		return;
	if(json_is_object(root))
		parse_obj(root, in);
	json_decref(root);
	if(in->type == MW_TW_INVALID) {
		free(in->name);
		free(in->headers);
		in->name = NULL;
		in->headers = NULL;
	}
}

void mw_l16_encode(const int16_t *pcm, size_t n, uint8_t *out)
{
	size_t i;

	for(i = 0; i < n; i++) {
		uint16_t v = (uint16_t)pcm[i];
		out[2 * i] = (uint8_t)v;
		out[2 * i + 1] = (uint8_t)(v >> 8);
	}
}

void mw_l16_decode(const uint8_t *in, size_t n, int16_t *pcm)
{
	size_t i;

	for(i = 0; i < n; i++)
		pcm[i] = (int16_t)(uint16_t)(in[2 * i] | in[2 * i + 1] << 8);
}
