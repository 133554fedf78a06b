/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_sdp.h -- SDP offer/answer (RFC 3264) for one audio stream, on oSIP2's
 * SDP parser and builder: G.711 (PCMU 0, PCMA 8), G.722 (9), opus
 * (opus/48000/2, dynamic, RFC 7587) and telephone-event (RFC 4733, the
 * offerer's payload type kept, at the chosen codec's RTP clock: 8000,
 * or 48000 for opus). Pure: text in, struct out, and back; no I/O, no
 * globals, so it is unit-tested on its own.
 *
 * Choice: the first payload type of the first usable audio m-line that
 * we support (static 0, 8 or 9, whose rtpmap, when present, must name the
 * same codec at 8000 Hz; or a dynamic type mapped to opus/48000/2).
 * mw_sdp_select narrows the choice to G.711 for a worker without
 * wideband. Every other m-line is answered with port 0, so the answer
 * has as many m-lines as the offer, in the same order.
 */
#ifndef MW_SDP_H
#define MW_SDP_H

#include <stddef.h>
#include <stdint.h>

#define MW_SDP_MAX 4096	   /* body size accepted and produced */
#define MW_SDP_MAX_MEDIA 8 /* m-lines in an offer */
#define MW_SDP_IP_MAX 46
#define MW_SDP_TE_PT 101   /* our telephone-event payload type in offers */
#define MW_SDP_TE48_PT 102 /* ... at 48 kHz (opus) */
#define MW_SDP_OPUS_PT 111 /* our opus payload type in offers */
#define MW_SDP_MAX_FMTS 8  /* supported formats remembered per stream */

enum mw_sdp_dir
{
	MW_DIR_SENDRECV = 0,
	MW_DIR_SENDONLY,
	MW_DIR_RECVONLY,
	MW_DIR_INACTIVE,
	MW_DIR__MAX
};
const char *mw_sdp_dir_name(int dir);

/* One m-line of the far end's description, as needed to echo it rejected. */
struct mw_sdp_mline
{
	char media[16]; /* "audio", "video", ... */
	char proto[24]; /* "RTP/AVP" */
	char fmts[64];	/* payload list, space separated (truncated) */
};

/* What the far end's SDP (offer or answer) says. */
struct mw_sdp_remote
{
	int audio_idx;			/* m-line used; -1 when none is usable */
	char ip[MW_SDP_IP_MAX]; /* c= of that stream (media or session) */
	int family;				/* AF_INET / AF_INET6 */
	uint16_t port;			/* its port (never 0 when audio_idx >= 0) */
	int pt;					/* payload type of the chosen codec */
	int codec;				/* enum mw_codec of it */
	int te_pt;				/* telephone-event payload type at the
								   codec's clock, or -1 */
	int te8_pt, te48_pt;	/* telephone-event/8000 and /48000, or -1 */
	unsigned nfmts;			/* the codecs we support on that m-line, */
	struct
	{
		int codec, pt;
	} fmts[MW_SDP_MAX_FMTS]; /* in the offerer's order */
	int dir;				 /* enum mw_sdp_dir, as the far end states it */
	int hold;				 /* 1: far end holds (sendonly/inactive or
								   c=0.0.0.0) */
	int ptime;				 /* a=ptime, 0 when absent */
	unsigned nmedia;		 /* m-lines in the description */
	struct mw_sdp_mline m[MW_SDP_MAX_MEDIA];
	char origin[128]; /* o= username sess-id sess-version, to
								   detect an unchanged re-offer */
};

/* Our side of the session: address, port, o= identity, and the last body
 * sent (to increment the version only when the description changes). */
struct mw_sdp_local
{
	char ip[MW_SDP_IP_MAX];
	uint16_t port;
	uint64_t sess_id;
	uint64_t version;
	int wideband;		   /* offers: 0 G.711 only (default), 1 also G.722 and
					 opus after G.711, 2 G.722 and opus first */
	char last[MW_SDP_MAX]; /* "" before the first body */
};

/* Initialises 'l' with a fresh random session id and version. */
void mw_sdp_local_init(struct mw_sdp_local *l, const char *ip, uint16_t port);

/* Parses a description from the far end ('len' bytes, need not be
 * NUL-terminated). Returns 0; -EINVAL when it is not valid SDP (missing
 * v=/o=/c=, bad port or address, too large): answer 400; -ENOMEDIUM when
 * it is valid but no audio stream is acceptable (no common codec, all
 * ports 0, not RTP/AVP): answer 488. 'r' is filled in both cases. */
int mw_sdp_parse(const char *body, size_t len, struct mw_sdp_remote *r);

/* Narrows the choice of 'r' to the codecs a worker takes: G.711 only
 * (wideband = 0) or every supported one (wideband = 1), the first of the
 * offerer's order; sets pt, codec and te_pt. -ENOMEDIUM when none is
 * left (answer 488). */
int mw_sdp_select(struct mw_sdp_remote *r, int wideband);

/* Builds our answer to the offer 'r' into 'out' (NUL-terminated).
 * Direction: sendrecv->sendrecv, sendonly->recvonly, recvonly->sendonly,
 * inactive->inactive. Increments l->version when the body differs from
 * the last one sent. Returns the length or -ENOSPC / -EINVAL. */
int mw_sdp_answer(struct mw_sdp_local *l, const struct mw_sdp_remote *r,
		char *out, size_t outlen);

/* Builds an offer (late offer: INVITE or re-INVITE without SDP): PCMU,
 * PCMA, telephone-event/8000 as MW_SDP_TE_PT, and with l->wideband G722
 * and opus as MW_SDP_OPUS_PT (plus telephone-event/48000 as
 * MW_SDP_TE48_PT), direction 'dir'. Same version rule. Returns the
 * length or -ENOSPC / -EINVAL. */
int mw_sdp_offer(struct mw_sdp_local *l, int dir, char *out, size_t outlen);

#endif
