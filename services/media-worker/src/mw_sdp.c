/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_sdp.c -- SDP offer/answer for one audio stream (G.711, G.722, opus)
 * on oSIP2's sdp_message API (see mw_sdp.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "mw_codec.h"
#include "mw_sdp.h"

static const char *const dir_names[MW_DIR__MAX] = {
		"sendrecv", "sendonly", "recvonly", "inactive"};

const char *mw_sdp_dir_name(int dir)
{
	return dir >= 0 && dir < MW_DIR__MAX ? dir_names[dir] : "?";
}

static int dir_parse(const char *s)
{
	int i;

	for(i = 0; i < MW_DIR__MAX; i++)
		if(strcasecmp(s, dir_names[i]) == 0)
			return i;
	return -1;
}

void mw_sdp_local_init(struct mw_sdp_local *l, const char *ip, uint16_t port)
{
	uint32_t rnd = 0;

	memset(l, 0, sizeof(*l));
	snprintf(l->ip, sizeof(l->ip), "%s", ip);
	l->port = port;
	if(getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)(uintptr_t)l;
	/* NTP-style numbers are customary; any 63-bit value is valid */
	l->sess_id = 1000000000ULL + (rnd & 0x3fffffff);
	l->version = l->sess_id;
}

/* Strict decimal in [0, max]. */
static int num(const char *s, long max)
{
	long v = 0;

	if(!s || !*s)
		return -1;
	for(; *s; s++) {
		if(!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if(v > max)
			return -1;
	}
	return (int)v;
}

/* The value of "a=<field>:<pt> ..." attributes for one payload type:
 * rtpmap returns "PCMU/8000". */
static const char *pt_attr(
		sdp_message_t *sdp, int mi, const char *field, int pt)
{
	int k;
	char *f, *v;

	for(k = 0; (f = sdp_message_a_att_field_get(sdp, mi, k)) != NULL; k++) {
		if(strcasecmp(f, field) != 0)
			continue;
		v = sdp_message_a_att_value_get(sdp, mi, k);
		if(v && atoi(v) == pt && isdigit((unsigned char)v[0])) {
			while(*v && *v != ' ')
				v++;
			while(*v == ' ')
				v++;
			return v;
		}
	}
	return NULL;
}

/* Direction attribute of a media section, falling back to the session
 * level; sendrecv when neither states one. */
static int media_dir(sdp_message_t *sdp, int mi)
{
	const int levels[2] = {mi, -1};
	int i, k, d;
	char *f;

	for(i = 0; i < 2; i++)
		for(k = 0; (f = sdp_message_a_att_field_get(sdp, levels[i], k)) != NULL;
				k++)
			if((d = dir_parse(f)) >= 0)
				return d;
	return MW_DIR_SENDRECV;
}

/* 1 if rtpmap value 'map' is "<name>" optionally followed by "/<ch>". */
static int map_is(const char *map, const char *name, const char *ch)
{
	size_t n = strlen(name);

	return strncasecmp(map, name, n) == 0 &&
		   (map[n] == 0 || (map[n] == '/' && strcmp(map + n + 1, ch) == 0));
}

/* The codec (enum mw_codec) of a payload type we support, or -1: a
 * static type checked against its rtpmap when there is one, or a dynamic
 * type mapped to opus/48000/2 (RFC 7587 always says 2 channels). */
static int codec_of(sdp_message_t *sdp, int mi, int pt)
{
	const char *map = pt_attr(sdp, mi, "rtpmap", pt);
	const char *name = pt == 0	 ? "PCMU/8000"
					   : pt == 8 ? "PCMA/8000"
					   : pt == 9 ? "G722/8000"
								 : NULL;

	if(name)
		return !map || map_is(map, name, "1") ? pt : -1;
	if(pt >= 96 && map && map_is(map, "opus/48000", "2"))
		return MW_CODEC_OPUS;
	return -1;
}

/* The telephone-event type at the clock of 'codec', or -1. */
static int te_for(const struct mw_sdp_remote *r, int codec)
{
	return codec == MW_CODEC_OPUS ? r->te48_pt : r->te8_pt;
}

static void copy_fmts(sdp_message_t *sdp, int mi, char *out, size_t outlen)
{
	size_t n = 0;
	int k;
	char *p;

	out[0] = 0;
	for(k = 0; (p = sdp_message_m_payload_get(sdp, mi, k)) != NULL; k++) {
		size_t l = strlen(p);
		if(n + l + 2 > outlen)
			break;
		if(n)
			out[n++] = ' ';
		memcpy(out + n, p, l);
		n += l;
		out[n] = 0;
	}
	if(!n)
		snprintf(out, outlen, "0");
}

static int conn_addr(sdp_message_t *sdp, int mi, struct mw_sdp_remote *r)
{
	char *nt, *at, *addr;
	unsigned char b[16];

	addr = sdp_message_c_addr_get(sdp, mi, 0);
	nt = sdp_message_c_nettype_get(sdp, mi, 0);
	at = sdp_message_c_addrtype_get(sdp, mi, 0);
	if(!addr) {
		addr = sdp_message_c_addr_get(sdp, -1, 0);
		nt = sdp_message_c_nettype_get(sdp, -1, 0);
		at = sdp_message_c_addrtype_get(sdp, -1, 0);
	}
	if(!addr || !nt || !at || strcasecmp(nt, "IN") != 0)
		return -EINVAL;
	if(strlen(addr) >= sizeof(r->ip))
		return -EINVAL;
	if(strcasecmp(at, "IP4") == 0 && inet_pton(AF_INET, addr, b) == 1)
		r->family = AF_INET;
	else if(strcasecmp(at, "IP6") == 0 && inet_pton(AF_INET6, addr, b) == 1)
		r->family = AF_INET6;
	else
		return -EINVAL; /* FQDNs are not resolved on the media path */
	strcpy(r->ip, addr);
	return 0;
}

int mw_sdp_parse(const char *body, size_t len, struct mw_sdp_remote *r)
{
	sdp_message_t *sdp = NULL;
	char buf[MW_SDP_MAX + 4]; /* + '-' for an empty s=, + a final CRLF */
	int mi, k, rc = -ENOMEDIUM;
	char *p;

	memset(r, 0, sizeof(*r));
	r->audio_idx = -1;
	r->te_pt = r->te8_pt = r->te48_pt = -1;
	r->pt = -1;
	r->codec = -1;
	if(!body || len == 0 || len > MW_SDP_MAX)
		return -EINVAL;
	/* oSIP's SDP parser reads a C string: a NUL inside is malformed */
	if(memchr(body, 0, len))
		return -EINVAL;
	memcpy(buf, body, len);
	buf[len] = 0;
	/* an empty "s=" is common in the wild (RFC 4566 wants "s= " or a
	 * name) and oSIP refuses it: give it a name */
	if((p = strstr(buf, "\ns=\r")) || (p = strstr(buf, "\ns=\n"))) {
		memmove(p + 4, p + 3, len - (size_t)(p + 3 - buf) + 1);
		p[3] = '-';
		len++;
	}
	/* oSIP wants every line terminated; a body cut by Content-Length or
	 * sent without the last CRLF is common */
	if(buf[len - 1] != '\n') {
		memcpy(buf + len, "\r\n", 3);
		len += 2;
	}
	if(sdp_message_init(&sdp) != 0)
		return -ENOMEM;
	if(sdp_message_parse(sdp, buf) != 0 || !sdp_message_v_version_get(sdp) ||
			strcmp(sdp_message_v_version_get(sdp), "0") != 0 ||
			!sdp_message_o_sess_version_get(sdp)) {
		rc = -EINVAL;
		goto out;
	}
	snprintf(r->origin, sizeof(r->origin), "%s %s %s",
			sdp_message_o_username_get(sdp), sdp_message_o_sess_id_get(sdp),
			sdp_message_o_sess_version_get(sdp));
	for(mi = 0; sdp_message_endof_media(sdp, mi) == 0; mi++) {
		struct mw_sdp_mline *ml;
		char *media = sdp_message_m_media_get(sdp, mi);
		char *proto = sdp_message_m_proto_get(sdp, mi);
		int port = num(sdp_message_m_port_get(sdp, mi), 65535);

		if(mi >= MW_SDP_MAX_MEDIA || !media || !proto || port < 0) {
			rc = -EINVAL;
			goto out;
		}
		ml = &r->m[mi];
		r->nmedia = (unsigned)mi + 1;
		snprintf(ml->media, sizeof(ml->media), "%s", media);
		snprintf(ml->proto, sizeof(ml->proto), "%s", proto);
		copy_fmts(sdp, mi, ml->fmts, sizeof(ml->fmts));
		if(r->audio_idx >= 0 || port == 0 || strcasecmp(media, "audio") != 0 ||
				strcasecmp(proto, "RTP/AVP") != 0)
			continue;
		/* every payload type we support, in the offerer's order; the
		 * first one is the choice (mw_sdp_select may narrow it) */
		r->nfmts = 0;
		for(k = 0; (p = sdp_message_m_payload_get(sdp, mi, k)) != NULL; k++) {
			int pt = num(p, 127), codec;
			if(pt < 0) {
				rc = -EINVAL;
				goto out;
			}
			codec = codec_of(sdp, mi, pt);
			if(codec >= 0 && r->nfmts < MW_SDP_MAX_FMTS) {
				r->fmts[r->nfmts].codec = codec;
				r->fmts[r->nfmts].pt = pt;
				r->nfmts++;
			}
		}
		if(r->nfmts == 0)
			continue;
		for(k = 0; (p = sdp_message_m_payload_get(sdp, mi, k)) != NULL; k++) {
			int pt = num(p, 127);
			const char *map = pt_attr(sdp, mi, "rtpmap", pt);
			if(pt < 96 || !map)
				continue;
			if(r->te8_pt < 0 && map_is(map, "telephone-event/8000", "1"))
				r->te8_pt = pt;
			if(r->te48_pt < 0 && map_is(map, "telephone-event/48000", "1"))
				r->te48_pt = pt;
		}
		r->codec = r->fmts[0].codec;
		r->pt = r->fmts[0].pt;
		r->te_pt = te_for(r, r->codec);
		if(conn_addr(sdp, mi, r) < 0) {
			rc = -EINVAL;
			goto out;
		}
		r->audio_idx = mi;
		r->port = (uint16_t)port;
		r->dir = media_dir(sdp, mi);
		r->hold = r->dir == MW_DIR_SENDONLY || r->dir == MW_DIR_INACTIVE ||
				  strcmp(r->ip, "0.0.0.0") == 0;
		for(k = 0; (p = sdp_message_a_att_field_get(sdp, mi, k)) != NULL; k++)
			if(strcasecmp(p, "ptime") == 0) {
				char *v = sdp_message_a_att_value_get(sdp, mi, k);
				r->ptime = v ? atoi(v) : 0;
			}
	}
	if(r->nmedia == 0)
		rc = -EINVAL;
	else
		rc = r->audio_idx >= 0 ? 0 : -ENOMEDIUM;
out:
	sdp_message_free(sdp);
	return rc;
}

/* oSIP's setters take ownership of heap strings. */
#define S(x) osip_strdup(x)

static sdp_message_t *skeleton(const struct mw_sdp_local *l)
{
	sdp_message_t *sdp;
	char id[24], ver[24];
	const char *at = strchr(l->ip, ':') ? "IP6" : "IP4";

	if(sdp_message_init(&sdp) != 0)
		return NULL;
	snprintf(id, sizeof(id), "%" PRIu64, l->sess_id);
	snprintf(ver, sizeof(ver), "%" PRIu64, l->version);
	sdp_message_v_version_set(sdp, S("0"));
	sdp_message_o_origin_set(
			sdp, S("byoc"), S(id), S(ver), S("IN"), S(at), S(l->ip));
	sdp_message_s_name_set(sdp, S("byoc"));
	sdp_message_c_connection_add(sdp, -1, S("IN"), S(at), S(l->ip), NULL, NULL);
	sdp_message_t_time_descr_add(sdp, S("0"), S("0"));
	return sdp;
}

/* A payload format of an m-line we build. */
struct fmt
{
	int codec, pt;
};

static void add_rtpmap(sdp_message_t *sdp, int mi, int codec, int pt)
{
	const struct mw_codec_desc *d = mw_codec_desc(codec);
	char b[80];

	if(d->channels > 1)
		snprintf(b, sizeof(b), "%d %s/%u/%u", pt, d->name, d->clock,
				d->channels);
	else
		snprintf(b, sizeof(b), "%d %s/%u", pt, d->name, d->clock);
	sdp_message_a_attribute_add(sdp, mi, S("rtpmap"), S(b));
	if(codec == MW_CODEC_OPUS) {
		/* we decode and capture at 16 kHz, mono (RFC 7587 7) */
		snprintf(b, sizeof(b),
				"%d maxplaybackrate=16000;sprop-maxcapturerate=16000", pt);
		sdp_message_a_attribute_add(sdp, mi, S("fmtp"), S(b));
	}
}

static void add_te(sdp_message_t *sdp, int mi, int pt, unsigned clock)
{
	char b[48];

	snprintf(b, sizeof(b), "%d telephone-event/%u", pt, clock);
	sdp_message_a_attribute_add(sdp, mi, S("rtpmap"), S(b));
	snprintf(b, sizeof(b), "%d 0-16", pt);
	sdp_message_a_attribute_add(sdp, mi, S("fmtp"), S(b));
}

/* One audio m-line with the formats f[0..n) and telephone-event at 8000
 * (te8 >= 0) and 48000 (te48 >= 0). */
static void add_audio(sdp_message_t *sdp, int mi, uint16_t port,
		const struct fmt *f, unsigned n, int te8, int te48, int dir)
{
	char b[32];
	unsigned i;

	snprintf(b, sizeof(b), "%u", port);
	sdp_message_m_media_add(sdp, S("audio"), S(b), NULL, S("RTP/AVP"));
	for(i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "%d", f[i].pt);
		sdp_message_m_payload_add(sdp, mi, S(b));
	}
	if(te8 >= 0) {
		snprintf(b, sizeof(b), "%d", te8);
		sdp_message_m_payload_add(sdp, mi, S(b));
	}
	if(te48 >= 0) {
		snprintf(b, sizeof(b), "%d", te48);
		sdp_message_m_payload_add(sdp, mi, S(b));
	}
	for(i = 0; i < n; i++)
		add_rtpmap(sdp, mi, f[i].codec, f[i].pt);
	if(te8 >= 0)
		add_te(sdp, mi, te8, 8000);
	if(te48 >= 0)
		add_te(sdp, mi, te48, 48000);
	sdp_message_a_attribute_add(sdp, mi, S("ptime"), S("20"));
	sdp_message_a_attribute_add(sdp, mi, S(mw_sdp_dir_name(dir)), NULL);
}

/* Renders 'sdp' into out; returns the length or -errno. Frees 'sdp'. */
static int render(sdp_message_t *sdp, char *out, size_t outlen)
{
	char *s = NULL;
	size_t n;

	if(sdp_message_to_str(sdp, &s) != 0 || !s) {
		sdp_message_free(sdp);
		return -EINVAL;
	}
	sdp_message_free(sdp);
	n = strlen(s);
	if(n + 1 > outlen) {
		osip_free(s);
		return -ENOSPC;
	}
	memcpy(out, s, n + 1);
	osip_free(s);
	return (int)n;
}

/* The body after the o= line: equal bodies mean an unchanged session. */
static const char *after_origin(const char *b)
{
	const char *o = strstr(b, "\no=");
	const char *e = o ? strchr(o + 1, '\n') : NULL;

	return e ? e : b;
}

typedef sdp_message_t *(*build_fn)(
		const struct mw_sdp_local *l, const void *arg);

static int build_versioned(struct mw_sdp_local *l, build_fn fn, const void *arg,
		char *out, size_t outlen)
{
	sdp_message_t *sdp;
	int n;

	if(!(sdp = fn(l, arg)))
		return -ENOMEM;
	if((n = render(sdp, out, outlen)) < 0)
		return n;
	if(l->last[0] && strcmp(after_origin(l->last), after_origin(out)) != 0) {
		/* RFC 3264 8: a changed description carries version + 1 */
		l->version++;
		if(!(sdp = fn(l, arg)))
			return -ENOMEM;
		if((n = render(sdp, out, outlen)) < 0)
			return n;
	}
	if((size_t)n < sizeof(l->last))
		memcpy(l->last, out, (size_t)n + 1);
	return n;
}

static const int answer_dir[MW_DIR__MAX] = {
		MW_DIR_SENDRECV, MW_DIR_RECVONLY, MW_DIR_SENDONLY, MW_DIR_INACTIVE};

static sdp_message_t *build_answer(
		const struct mw_sdp_local *l, const void *arg)
{
	const struct mw_sdp_remote *r = arg;
	sdp_message_t *sdp = skeleton(l);
	unsigned i;

	if(!sdp)
		return NULL;
	for(i = 0; i < r->nmedia; i++) {
		const struct mw_sdp_mline *m = &r->m[i];
		if((int)i == r->audio_idx) {
			int d = r->dir >= 0 && r->dir < MW_DIR__MAX ? answer_dir[r->dir]
														: MW_DIR_SENDRECV;
			struct fmt f = {r->codec, r->pt};
			int opus = r->codec == MW_CODEC_OPUS;
			add_audio(sdp, (int)i, l->port, &f, 1, opus ? -1 : r->te_pt,
					opus ? r->te_pt : -1, d);
		} else {
			/* rejected stream: port 0, the offered formats echoed */
			char fm[sizeof(m->fmts)], *save = NULL, *tok;
			sdp_message_m_media_add(
					sdp, S(m->media), S("0"), NULL, S(m->proto));
			snprintf(fm, sizeof(fm), "%s", m->fmts);
			for(tok = strtok_r(fm, " ", &save); tok;
					tok = strtok_r(NULL, " ", &save))
				sdp_message_m_payload_add(sdp, (int)i, S(tok));
		}
	}
	return sdp;
}

int mw_sdp_select(struct mw_sdp_remote *r, int wideband)
{
	unsigned i;

	for(i = 0; i < r->nfmts; i++) {
		if(!wideband && mw_codec_wideband(r->fmts[i].codec))
			continue;
		r->codec = r->fmts[i].codec;
		r->pt = r->fmts[i].pt;
		r->te_pt = te_for(r, r->codec);
		return 0;
	}
	return -ENOMEDIUM;
}

int mw_sdp_answer(struct mw_sdp_local *l, const struct mw_sdp_remote *r,
		char *out, size_t outlen)
{
	if(r->audio_idx < 0 || r->nmedia == 0 || r->pt < 0 ||
			!mw_codec_desc(r->codec))
		return -EINVAL;
	return build_versioned(l, build_answer, r, out, outlen);
}

static sdp_message_t *build_offer(const struct mw_sdp_local *l, const void *arg)
{
	static const struct fmt nb[] = {{MW_CODEC_PCMU, 0}, {MW_CODEC_PCMA, 8}};
	static const struct fmt nb_wb[] = {{MW_CODEC_PCMU, 0}, {MW_CODEC_PCMA, 8},
			{MW_CODEC_G722, 9}, {MW_CODEC_OPUS, MW_SDP_OPUS_PT}};
	/* G.722 before opus: on the worker's leg (no loss, plenty of
	 * bandwidth) it costs a fraction of opus's CPU */
	static const struct fmt wb_nb[] = {{MW_CODEC_G722, 9},
			{MW_CODEC_OPUS, MW_SDP_OPUS_PT}, {MW_CODEC_PCMU, 0},
			{MW_CODEC_PCMA, 8}};
	sdp_message_t *sdp = skeleton(l);
	int dir = *(const int *)arg;

	if(!sdp)
		return NULL;
	if(l->wideband == 0)
		add_audio(sdp, 0, l->port, nb, 2, MW_SDP_TE_PT, -1, dir);
	else
		add_audio(sdp, 0, l->port, l->wideband == 1 ? nb_wb : wb_nb, 4,
				MW_SDP_TE_PT, MW_SDP_TE48_PT, dir);
	return sdp;
}

int mw_sdp_offer(struct mw_sdp_local *l, int dir, char *out, size_t outlen)
{
	if(dir < 0 || dir >= MW_DIR__MAX)
		return -EINVAL;
	return build_versioned(l, build_offer, &dir, out, outlen);
}
