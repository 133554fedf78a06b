/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ai.c -- one call's AI protocol, Twilio or L16 (see mw_ai.h).
 */
#include "mw_ai.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "br_model.h"
#include "mw_g711.h"
#include "mw_l16.h"

#define FRAME_MAX 320 /* samples of one 20 ms frame at 16 kHz */

void mw_ai_init(struct mw_ai *ai, int proto, mw_ai_send_fn send, void *arg)
{
	memset(ai, 0, sizeof(*ai));
	ai->proto = proto == BR_AI_L16 ? BR_AI_L16 : BR_AI_TWILIO;
	ai->send = send;
	ai->arg = arg;
	mw_twilio_stream_init(&ai->tw);
}

void mw_ai_cleanup(struct mw_ai *ai)
{
	free(ai->pcm);
	ai->pcm = NULL;
	ai->pcm_cap = 0;
}

unsigned mw_ai_rate(const struct mw_ai *ai)
{
	return ai->proto == BR_AI_L16 ? MW_L16_RATE : 8000;
}

const char *mw_ai_subprotocol(const struct mw_ai *ai)
{
	return ai->proto == BR_AI_L16 ? MW_L16_SUBPROTOCOL : NULL;
}

/* Sends a malloc'ed text (n bytes, or -errno) and frees it. */
static int send_text(struct mw_ai *ai, char *txt, int n)
{
	if(n < 0 || txt == NULL)
		return n < 0 ? n : -ENOMEM;
	ai->send(ai->arg, 1, txt, (size_t)n);
	free(txt);
	return 0;
}

int mw_ai_hello(struct mw_ai *ai, const char *const *keys,
		const char *const *vals, size_t n)
{
	char *txt = NULL;
	int rc;

	if(ai->proto == BR_AI_L16)
		return send_text(
				ai, txt, mw_l16_metadata(&ai->tw, keys, vals, n, &txt));
	/* rule 1: "connected" then "start", before any media */
	rc = send_text(ai, txt, mw_twilio_connected(&txt));
	if(rc < 0)
		return rc;
	txt = NULL;
	return send_text(ai, txt, mw_twilio_start(&ai->tw, keys, vals, n, &txt));
}

int mw_ai_audio(struct mw_ai *ai, const int16_t *pcm, size_t n, uint64_t ts_ms)
{
	uint8_t buf[2 * FRAME_MAX];
	char *txt = NULL;

	if(n > FRAME_MAX)
		return -EINVAL;
	if(ai->proto == BR_AI_L16) {
		mw_l16_encode(pcm, n, buf);
		ai->send(ai->arg, 0, buf, 2 * n);
		return 0;
	}
	mw_g711_encode(0, pcm, n, buf);
	return send_text(ai, txt, mw_twilio_media(&ai->tw, buf, n, ts_ms, &txt));
}

int mw_ai_dtmf(struct mw_ai *ai, char digit, int duration_ms)
{
	char *txt = NULL;

	if(ai->proto == BR_AI_L16)
		return send_text(ai, txt, mw_l16_dtmf(digit, duration_ms, &txt));
	return send_text(ai, txt, mw_twilio_dtmf(&ai->tw, digit, &txt));
}

int mw_ai_mark(struct mw_ai *ai, const char *name, int cleared)
{
	char *txt = NULL;

	if(ai->proto == BR_AI_L16)
		return send_text(ai, txt, mw_l16_mark(name, cleared, &txt));
	return send_text(ai, txt, mw_twilio_mark(&ai->tw, name, &txt));
}

int mw_ai_bye(struct mw_ai *ai)
{
	char *txt = NULL;

	if(ai->proto == BR_AI_L16)
		return 0;
	return send_text(ai, txt, mw_twilio_stop(&ai->tw, &txt));
}

int mw_ai_transfer_status(
		struct mw_ai *ai, const char *target, const char *status, int code)
{
	char *txt = NULL;
	json_t *o;

	if(ai->proto != BR_AI_L16)
		return send_text(ai, txt,
				mw_twilio_transfer_status(&ai->tw, target, status, code, &txt));
	o = json_pack("{s:s, s:{s:s, s:s, s:i}}", "type", "transfer_status", "data",
			"target", target, "status", status, "code", code);
	txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return send_text(ai, txt, txt ? (int)strlen(txt) : -ENOMEM);
}

/* Room for n samples in the decode buffer. */
static int reserve(struct mw_ai *ai, size_t n)
{
	int16_t *p;

	if(n <= ai->pcm_cap)
		return 0;
	p = realloc(ai->pcm, n * sizeof(int16_t));
	if(p == NULL)
		return -ENOMEM;
	ai->pcm = p;
	ai->pcm_cap = n;
	return 0;
}

/* L16 audio: little-endian samples, possibly split across frames. */
static void receive_l16(
		struct mw_ai *ai, const uint8_t *d, size_t len, struct mw_ai_in *in)
{
	size_t n = (len + (size_t)ai->have_carry) / 2, k = 0;

	in->m.type = MW_TW_MEDIA;
	if(n == 0) {
		if(len) {
			ai->carry = d[0];
			ai->have_carry = 1;
		}
		return;
	}
	if(reserve(ai, n) < 0) {
		in->m.type = MW_TW_INVALID;
		return;
	}
	if(ai->have_carry) {
		ai->pcm[k++] = (int16_t)(uint16_t)(ai->carry | d[0] << 8);
		d++;
		len--;
		ai->have_carry = 0;
	}
	mw_l16_decode(d, n - k, ai->pcm + k);
	if(len % 2) {
		ai->carry = d[len - 1];
		ai->have_carry = 1;
	}
	in->pcm = ai->pcm;
	in->samples = n;
}

void mw_ai_receive(struct mw_ai *ai, int is_text, const uint8_t *data,
		size_t len, struct mw_ai_in *in)
{
	memset(in, 0, sizeof(*in));
	if(!is_text) {
		if(ai->proto == BR_AI_L16)
			receive_l16(ai, data, len, in);
		else
			in->m.type = MW_TW_IGNORED;
		return;
	}
	if(ai->proto == BR_AI_L16) {
		mw_l16_parse((const char *)data, len, &in->m);
		return;
	}
	mw_twilio_parse((const char *)data, len, &in->m);
	if(in->m.type == MW_TW_MEDIA && in->m.audio_len) {
		if(reserve(ai, in->m.audio_len) < 0) {
			mw_twilio_in_free(&in->m);
			in->m.type = MW_TW_INVALID;
			return;
		}
		mw_g711_decode(0, in->m.audio, in->m.audio_len, ai->pcm);
		in->pcm = ai->pcm;
		in->samples = in->m.audio_len;
	}
}

void mw_ai_in_free(struct mw_ai_in *in)
{
	mw_twilio_in_free(&in->m);
	in->pcm = NULL;
	in->samples = 0;
}
