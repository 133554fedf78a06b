/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_twilio.c -- Twilio Media Streams messages (docs/ai-protocol.md):
 * encoders for what the worker sends (connected, start, media, dtmf, mark,
 * stop) and the tolerant parser for what a backend sends back.
 *
 * JSON by jansson (objects keep insertion order, so the field order is
 * the one Twilio emits), base64 by OpenSSL, SIDs from RAND_bytes. No
 * global mutable state: safe on any number of threads at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mw_twilio.h"

/* Largest backend text frame parsed (the WebSocket layer's max_message
 * normally stops bigger ones first): 16 MiB of JSON is ~25 minutes of
 * base64 μ-law in one message. */
#define MW_TW_MAX_JSON (16u * 1024 * 1024)
/* Largest media payload encoded at once (the worker sends 160 bytes). */
#define MW_TW_MAX_MEDIA (1u << 20)
/* Digits in one backend "dtmf" message. */
#define MW_TW_MAX_DIGITS 64
/* Transfer target length (E.164 or SIP URI). */
#define MW_TW_MAX_TARGET 256

/* ---- identities ---------------------------------------------------------- */

static void sid_fill(char *out, const char *prefix)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	size_t i;

	if(RAND_bytes(rnd, sizeof(rnd)) != 1) {
		/* OpenSSL's DRBG failing is near impossible; the kernel is the
		 * fallback so a SID is never predictable or all zeros. */
		if(getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
	}
	out[0] = prefix[0];
	out[1] = prefix[1];
	for(i = 0; i < sizeof(rnd); i++) {
		out[2 + 2 * i] = hex[rnd[i] >> 4];
		out[3 + 2 * i] = hex[rnd[i] & 15];
	}
	out[34] = '\0';
}

void mw_twilio_stream_init(struct mw_twilio_stream *s)
{
	memset(s, 0, sizeof(*s));
	sid_fill(s->account_sid, "AC");
	sid_fill(s->call_sid, "CA");
	sid_fill(s->stream_sid, "MZ");
}

/* ---- encoding ------------------------------------------------------------ */

/* Serialises 'obj' (reference stolen) into *out; returns length or -errno. */
static int dump(json_t *obj, char **out)
{
	char *txt;
	size_t len;

	*out = NULL;
	if(obj == NULL)
		return -ENOMEM;
	txt = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if(txt == NULL)
		return -ENOMEM;
	len = strlen(txt);
	if(len > INT32_MAX) {
		free(txt);
		return -EMSGSIZE;
	}
	*out = txt;
	return (int)len;
}

/* Integer as a JSON string (rule 4: "160", never "160.0"). */
static json_t *u64_str(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	return json_string(b);
}

int mw_twilio_connected(char **out)
{
	if(out == NULL)
		return -EINVAL;
	return dump(json_pack("{s:s, s:s, s:s}", "event", "connected", "protocol",
						"Call", "version", "1.0.0"),
			out);
}

/*
 * A JSON string of 's', invalid UTF-8 replaced by U+FFFD: SIP header
 * values come from carriers (a Latin-1 display name is common) and must
 * not cost the call its "start". jansson validates but does not repair
 * (its checker is private), so the repair is done here.
 */
static json_t *utf8_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	json_t *j = json_string(s);
	char *buf, *o;

	if(j != NULL)
		return j;
	buf = malloc(3 * strlen(s) + 1); /* each bad byte becomes 3 bytes */
	if(buf == NULL)
		return NULL;
	o = buf;
	while(*p != 0) {
		uint32_t cp;
		size_t n, i;
		if(p[0] < 0x80) {
			*o++ = (char)*p++;
			continue;
		}
		if(p[0] >= 0xc2 && p[0] <= 0xdf) {
			n = 2;
			cp = p[0] & 0x1f;
		} else if(p[0] >= 0xe0 && p[0] <= 0xef) {
			n = 3;
			cp = p[0] & 0x0f;
		} else if(p[0] >= 0xf0 && p[0] <= 0xf4) {
			n = 4;
			cp = p[0] & 0x07;
		} else {
			n = 0;
			cp = 0;
		}
		for(i = 1; i < n; i++) {
			if((p[i] & 0xc0) != 0x80)
				break;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* complete, shortest form, no surrogates, <= U+10FFFF */
		if(n == 0 || i < n || (n == 3 && cp < 0x800) ||
				(n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
				(cp >= 0xd800 && cp <= 0xdfff)) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

json_t *mw__twilio_params(
		const char *const *keys, const char *const *vals, size_t n)
{
	json_t *params;
	size_t i;

	if(n > 0 && (keys == NULL || vals == NULL))
		return NULL;
	params = json_object();
	if(params == NULL)
		return NULL;
	for(i = 0; i < n; i++) {
		json_t *v;
		/* values: invalid UTF-8 repaired; keys: must be valid UTF-8 */
		if(keys[i] == NULL || vals[i] == NULL || keys[i][0] == '\0' ||
				(v = utf8_string(vals[i])) == NULL) {
			json_decref(params);
			return NULL;
		}
		/* a repeated key: the last value wins */
		if(json_object_set_new(params, keys[i], v) < 0) {
			json_decref(params);
			return NULL;
		}
	}
	return params;
}

int mw_twilio_start(struct mw_twilio_stream *s, const char *const *keys,
		const char *const *vals, size_t n, char **out)
{
	json_t *params;

	if(s == NULL || out == NULL || (n > 0 && (keys == NULL || vals == NULL)))
		return -EINVAL;
	*out = NULL;
	params = mw__twilio_params(keys, vals, n);
	if(params == NULL)
		return -EINVAL;
	s->seq++;
	/* "o" steals the params reference even on failure */
	return dump(json_pack("{s:s, s:o, s:{s:s, s:s, s:s, s:[s], s:o, "
						  "s:{s:s, s:i, s:i}}, s:s}",
						"event", "start", "sequenceNumber", u64_str(s->seq),
						"start", "accountSid", s->account_sid, "streamSid",
						s->stream_sid, "callSid", s->call_sid, "tracks",
						"inbound", "customParameters", params, "mediaFormat",
						"encoding", "audio/x-mulaw", "sampleRate", 8000,
						"channels", 1, "streamSid", s->stream_sid),
			out);
}

/*
 * The media message is the hot path (50 per second per call, hundreds of
 * calls per thread), so it is formatted directly instead of building a
 * jansson tree: every field is a SID (hex), a decimal integer or base64,
 * none of which can need JSON escaping. The shape is identical to the
 * jansson-built messages (checked by the unit tests).
 */
int mw_twilio_media(struct mw_twilio_stream *s, const uint8_t *ulaw, size_t len,
		uint64_t ts_ms, char **out)
{
	static const char fmt[] =
			"{\"event\":\"media\",\"sequenceNumber\":\"%" PRIu64
			"\",\"media\":{\"track\":\"inbound\","
			"\"chunk\":\"%" PRIu64 "\",\"timestamp\":\"%" PRIu64
			"\",\"payload\":\"";
	size_t b64len, cap;
	char *buf;
	int head, tail;

	if(s == NULL || out == NULL || (ulaw == NULL && len > 0))
		return -EINVAL;
	*out = NULL;
	if(len > MW_TW_MAX_MEDIA)
		return -EMSGSIZE;
	b64len = 4 * ((len + 2) / 3);
	/* head: fixed text + 3 integers of <= 20 digits; tail: sid + text */
	cap = sizeof(fmt) + 3 * 20 + b64len + 64;
	buf = malloc(cap);
	if(buf == NULL)
		return -ENOMEM;
	s->seq++;
	s->chunk++;
	head = snprintf(buf, cap, fmt, s->seq, s->chunk, ts_ms);
	if(head < 0 || (size_t)head >= cap) {
		free(buf);
		return -EMSGSIZE;
	}
	if(len > 0)
		EVP_EncodeBlock((unsigned char *)buf + head, ulaw, (int)len);
	tail = snprintf(buf + head + b64len, cap - head - b64len,
			"\"},\"streamSid\":\"%s\"}", s->stream_sid);
	if(tail < 0 || (size_t)tail >= cap - head - b64len) {
		free(buf);
		return -EMSGSIZE;
	}
	*out = buf;
	return head + (int)b64len + tail;
}

static int dtmf_digit_valid(char d)
{
	return (d >= '0' && d <= '9') || d == '*' || d == '#' ||
		   (d >= 'A' && d <= 'D');
}

int mw_twilio_dtmf(struct mw_twilio_stream *s, char digit, char **out)
{
	char d[2] = {digit, '\0'};

	if(s == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	if(digit >= 'a' && digit <= 'd')
		d[0] = (char)(digit - 'a' + 'A');
	if(!dtmf_digit_valid(d[0]))
		return -EINVAL;
	s->seq++;
	/* field order as Twilio emits it: streamSid before sequenceNumber */
	return dump(json_pack("{s:s, s:s, s:o, s:{s:s, s:s}}", "event", "dtmf",
						"streamSid", s->stream_sid, "sequenceNumber",
						u64_str(s->seq), "dtmf", "track", "inbound_track",
						"digit", d),
			out);
}

int mw_twilio_mark(struct mw_twilio_stream *s, const char *name, char **out)
{
	json_t *jname;

	if(s == NULL || out == NULL || name == NULL)
		return -EINVAL;
	*out = NULL;
	jname = json_string(name); /* NULL for invalid UTF-8 */
	if(jname == NULL)
		return -EINVAL;
	s->seq++;
	return dump(json_pack("{s:s, s:o, s:s, s:{s:o}}", "event", "mark",
						"sequenceNumber", u64_str(s->seq), "streamSid",
						s->stream_sid, "mark", "name", jname),
			out);
}

int mw_twilio_stop(struct mw_twilio_stream *s, char **out)
{
	if(s == NULL || out == NULL)
		return -EINVAL;
	s->seq++;
	return dump(json_pack("{s:s, s:o, s:{s:s, s:s}, s:s}", "event", "stop",
						"sequenceNumber", u64_str(s->seq), "stop", "accountSid",
						s->account_sid, "callSid", s->call_sid, "streamSid",
						s->stream_sid),
			out);
}

int mw_twilio_transfer_status(struct mw_twilio_stream *s, const char *target,
		const char *status, int code, char **out)
{
	if(s == NULL || out == NULL || target == NULL || status == NULL)
		return -EINVAL;
	*out = NULL;
	s->seq++;
	return dump(json_pack("{s:s, s:o, s:s, s:{s:s, s:s, s:i}}", "event",
						"transfer_status", "sequenceNumber", u64_str(s->seq),
						"streamSid", s->stream_sid, "transfer", "target",
						target, "status", status, "code", code),
			out);
}

/* ---- parsing ------------------------------------------------------------- */

/*
 * Strict base64 (RFC 4648 §4, standard alphabet, padded): EVP_DecodeBlock
 * does the decoding but skips leading/trailing white space and does not
 * report padding, so the text is validated here first. Returns the
 * decoded length or -1.
 */
static int b64_decode(const char *in, size_t len, uint8_t **out)
{
	size_t i, pad = 0;
	uint8_t *buf;
	int n;

	*out = NULL;
	if(len == 0)
		return 0;
	if(len % 4 != 0 || len > INT32_MAX)
		return -1;
	if(in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for(i = 0; i < len - pad; i++) {
		unsigned char c = (unsigned char)in[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				   (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	buf = malloc(len / 4 * 3);
	if(buf == NULL)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if(n < 0 || (size_t)n != len / 4 * 3) {
		free(buf);
		return -1;
	}
	*out = buf;
	return n - (int)pad;
}

/* obj[key1][key2] as a string, or NULL */
static const char *str_at(json_t *obj, const char *k1, const char *k2)
{
	json_t *o = json_object_get(obj, k1);

	if(k2 != NULL)
		o = json_object_get(o, k2); /* NULL-safe, non-objects give NULL */
	return json_string_value(o);
}

int mw__twilio_target_valid(const char *t)
{
	size_t i, n = strlen(t);

	if(n == 0 || n > MW_TW_MAX_TARGET)
		return 0;
	if(t[0] == '+') {
		/* E.164: + and 2..15 digits */
		if(n < 3 || n > 16)
			return 0;
		for(i = 1; i < n; i++)
			if(t[i] < '0' || t[i] > '9')
				return 0;
		return 1;
	}
	if(strncasecmp(t, "sip:", 4) != 0 && strncasecmp(t, "sips:", 5) != 0)
		return 0;
	/* it goes into a Refer-To/Request-URI: printable ASCII, no spaces,
	 * no characters that would end the URI inside a header */
	for(i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if(c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
			return 0;
	}
	return 1;
}

/* The "headers" object of a transfer as "Name: value\r\n" lines (NULL
 * when absent or empty); -1 when it breaks the rules in mw_twilio.h. */
int mw__twilio_xheaders(json_t *o, char **out)
{
	const char *k;
	json_t *v;
	size_t n = 0, len = 0, i;
	char *buf, *p;

	*out = NULL;
	if(o == NULL)
		return 0;
	if(!json_is_object(o) || json_object_size(o) > MW_TW_MAX_XHDRS)
		return -1;
	json_object_foreach(o, k, v)
	{
		const char *val = json_string_value(v);
		size_t kl = strlen(k);
		if(val == NULL || kl < 3 || kl > MW_TW_MAX_XHDR_NAME ||
				strncasecmp(k, "x-", 2) != 0 ||
				strlen(val) > MW_TW_MAX_XHDR_VALUE)
			return -1;
		for(i = 0; i < kl; i++)
			if(!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
					   (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
				return -1;
		for(i = 0; val[i]; i++)
			if((unsigned char)val[i] < 0x20 || (unsigned char)val[i] == 0x7f)
				return -1;
		len += kl + strlen(val) + 4;
		n++;
	}
	if(n == 0)
		return 0;
	buf = malloc(len + 1);
	if(buf == NULL)
		return -1;
	p = buf;
	json_object_foreach(o, k, v)
	{
		p += sprintf(p, "%s: %s\r\n", k, json_string_value(v));
	}
	*out = buf;
	return 0;
}

int mw__twilio_digits_valid(const char *d)
{
	size_t i, n = strlen(d);

	if(n == 0 || n > MW_TW_MAX_DIGITS)
		return 0;
	for(i = 0; i < n; i++)
		if(!dtmf_digit_valid(d[i]))
			return 0;
	return 1;
}

static void parse_obj(json_t *root, struct mw_twilio_in *in)
{
	const char *ev = str_at(root, "event", NULL);
	const char *v;

	if(ev == NULL) {
		in->type = MW_TW_INVALID;
		return;
	}
	if(strcmp(ev, "media") == 0) {
		/* rule 7: streamSid optional, any size, track ignored */
		json_t *p = json_object_get(json_object_get(root, "media"), "payload");
		int n;
		if(!json_is_string(p)) {
			in->type = MW_TW_INVALID;
			return;
		}
		n = b64_decode(json_string_value(p), json_string_length(p), &in->audio);
		if(n < 0) {
			in->type = MW_TW_INVALID;
			return;
		}
		in->audio_len = (size_t)n;
		in->type = MW_TW_MEDIA;
	} else if(strcmp(ev, "mark") == 0) {
		/* rule 10: {"event":"mark"} alone is a mark named "" */
		v = str_at(root, "mark", "name");
		in->name = strdup(v != NULL ? v : "");
		in->type = in->name != NULL ? MW_TW_MARK : MW_TW_INVALID;
	} else if(strcmp(ev, "clear") == 0) {
		in->type = MW_TW_CLEAR;
	} else if(strcmp(ev, "hangup") == 0) {
		v = str_at(root, "hangup", "reason");
		in->name = strdup(v != NULL ? v : "");
		in->type = in->name != NULL ? MW_TW_HANGUP : MW_TW_INVALID;
	} else if(strcmp(ev, "transfer") == 0) {
		v = str_at(root, "transfer", "target");
		if(v == NULL || !mw__twilio_target_valid(v) ||
				mw__twilio_xheaders(
						json_object_get(
								json_object_get(root, "transfer"), "headers"),
						&in->headers) < 0) {
			in->type = MW_TW_INVALID;
			return;
		}
		in->name = strdup(v);
		in->type = in->name != NULL ? MW_TW_TRANSFER : MW_TW_INVALID;
	} else if(strcmp(ev, "dtmf") == 0) {
		/* "digits" is ours; a single "digit" (Twilio's inbound shape) is
		 * accepted too */
		v = str_at(root, "dtmf", "digits");
		if(v == NULL)
			v = str_at(root, "dtmf", "digit");
		if(v == NULL || !mw__twilio_digits_valid(v)) {
			in->type = MW_TW_INVALID;
			return;
		}
		in->name = strdup(v);
		in->type = in->name != NULL ? MW_TW_SEND_DTMF : MW_TW_INVALID;
	} else {
		in->type = MW_TW_IGNORED;
	}
}

void mw_twilio_parse(const char *json, size_t len, struct mw_twilio_in *in)
{
	json_t *root;
	json_error_t err;

	if(in == NULL)
		return;
	memset(in, 0, sizeof(*in));
	in->type = MW_TW_INVALID;
	if(json == NULL || len == 0 || len > MW_TW_MAX_JSON)
		return;
	/* jansson rejects \u0000 in strings and bounds nesting depth, so
	 * hostile input cannot exhaust the stack */
	root = json_loadb(json, len, 0, &err);
	if(root == NULL)
		return;
	if(json_is_object(root))
		parse_obj(root, in);
	json_decref(root);
	if(in->type == MW_TW_INVALID) {
		free(in->audio);
		free(in->name);
		free(in->headers);
		in->audio = NULL;
		in->audio_len = 0;
		in->name = NULL;
		in->headers = NULL;
	}
}

void mw_twilio_in_free(struct mw_twilio_in *in)
{
	if(in == NULL)
		return;
	free(in->audio);
	free(in->name);
	free(in->headers);
	in->audio = NULL;
	in->audio_len = 0;
	in->name = NULL;
	in->headers = NULL;
}
