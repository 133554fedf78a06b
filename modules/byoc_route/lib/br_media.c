/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_media.c -- a trunk's media policy as rtpengine offer/answer flag
 * strings (see br_media.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "br_media.h"

#define SDES_SUITES "SDES-no-NULL_HMAC_SHA1_80 SDES-no-NULL_HMAC_SHA1_32"
#define TAIL                                               \
	"codec-offer=telephone-event ptime=20 replace-origin " \
	"replace-session-connection"
#define ANSWER_END "replace-origin replace-session-connection"

typedef struct out
{
	char *buf;
	size_t len, o;
	int full;
} out_t;

/* Appends " word" (no space before the first word). */
static void put(out_t *w, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

static void put(out_t *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(w->full)
		return;
	if(w->o > 0) {
		if(w->o + 1 >= w->len) {
			w->full = 1;
			return;
		}
		w->buf[w->o++] = ' ';
		w->buf[w->o] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->o, w->len - w->o, fmt, ap);
	va_end(ap);
	if(n < 0 || (size_t)n >= w->len - w->o) {
		w->full = 1;
		return;
	}
	w->o += (size_t)n;
}

/* 1 if a media worker can send and receive 'codec' itself. */
static int worker_has(int codec, int wideband)
{
	return codec == BR_CODEC_PCMU || codec == BR_CODEC_PCMA || wideband;
}

static int trunk_has(const br_trunk_t *t, int codec)
{
	int i;

	for(i = 0; i < t->ncodecs; i++)
		if(t->codecs[i] == codec)
			return 1;
	return 0;
}

int br_media_flags(const br_trunk_t *t, int to_carrier, int is_offer,
		int wideband, char *buf, size_t len)
{
	static const char *const proto[] = {
			"RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVP"};
	out_t w = {buf, len, 0, 0};
	int i;

	if(t == NULL || buf == NULL || t->media_enc > BR_ENC_DTLS ||
			t->ncodecs == 0 || t->ncodecs > BR_MAX_CODECS)
		return -EINVAL;
	for(i = 0; i < t->ncodecs; i++)
		if(t->codecs[i] > BR_CODEC_OPUS)
			return -EINVAL;
	if(len == 0)
		return -ENOSPC;
	buf[0] = '\0';

	if(!is_offer) {
		put(&w, "ICE=remove");
		if(to_carrier && t->media_enc == BR_ENC_SDES)
			put(&w, SDES_SUITES);
		put(&w, ANSWER_END);
	} else if(to_carrier) {
		/* SDP from a worker toward the carrier: the trunk's codecs in its
		 * order, transcoded when the worker cannot produce them */
		put(&w, "%s ICE=remove", proto[t->media_enc]);
		put(&w, t->media_enc == BR_ENC_DTLS ? "DTLS=passive" : "DTLS=off");
		put(&w, t->media_enc == BR_ENC_SDES ? SDES_SUITES : "SDES-off");
		put(&w, "codec-strip=all");
		for(i = 0; i < t->ncodecs; i++)
			put(&w, "%s=%s",
					worker_has(t->codecs[i], wideband) ? "codec-offer"
													   : "codec-transcode",
					br_codec_name(t->codecs[i]));
		put(&w, TAIL);
	} else {
		/* SDP from the carrier toward a worker: the trunk codecs the
		 * worker has, plus PCMU/PCMA transcoded where the carrier lacks
		 * them. codec-mask, not codec-strip: the carrier's codecs leave
		 * the offer but stay usable for transcoding, so a carrier that
		 * offers only codecs the worker lacks (G.722 to a narrowband
		 * worker) is transcoded instead of getting no audio */
		put(&w, "RTP/AVP ICE=remove DTLS=off SDES-off codec-mask=all");
		for(i = 0; i < t->ncodecs; i++)
			if(worker_has(t->codecs[i], wideband))
				put(&w, "codec-offer=%s", br_codec_name(t->codecs[i]));
		if(!trunk_has(t, BR_CODEC_PCMU))
			put(&w, "codec-transcode=PCMU");
		if(!trunk_has(t, BR_CODEC_PCMA))
			put(&w, "codec-transcode=PCMA");
		put(&w, TAIL);
	}
	if(w.full) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return (int)w.o;
}
