/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_media.h -- the rtpengine flag strings a trunk's media policy turns
 * into, ready for Kamailio's rtpengine_offer()/rtpengine_answer().
 *
 * Two legs: the carrier leg gets the trunk's codec order (strip all, then
 * offer in order, telephone-event kept), its SRTP mode (RTP/AVP,
 * RTP/SAVP with SDES, UDP/TLS/RTP/SAVP with DTLS), ICE removed and ptime
 * 20; our leg (the media workers) always gets plain RTP/AVP with the
 * codecs the worker handles (PCMU, PCMA, plus G722/opus when it is
 * wideband). Codecs one leg wants and the other cannot produce are added
 * with codec-transcode so rtpengine transcodes them.
 */
#ifndef BR_MEDIA_H
#define BR_MEDIA_H

#include <stddef.h>

#include "br_model.h"

#define BR_MEDIA_FLAGS_MAX 512

/*
 * Writes the flags for an SDP travelling toward the carrier
 * (to_carrier = 1) or toward a media worker (to_carrier = 0), as an offer
 * (is_offer = 1) or an answer. 'wideband' says whether the worker accepts
 * G722/opus. Returns the length written or -ENOSPC.
 *
 * Offer toward the carrier: "<proto> ICE=remove DTLS=off|passive
 *   SDES-off|SDES-no-NULL_HMAC_SHA1_80 SDES-no-NULL_HMAC_SHA1_32
 *   codec-strip=all codec-offer=<c1> ... codec-offer=telephone-event
 *   ptime=20 replace-origin replace-session-connection"
 * (codecs the worker cannot produce use codec-transcode=).
 * Offer toward a worker: "RTP/AVP ICE=remove DTLS=off SDES-off
 *   codec-mask=all codec-offer=<trunk codecs the worker handles>
 *   codec-transcode=PCMU codec-transcode=PCMA codec-offer=telephone-event
 *   ptime=20 replace-origin replace-session-connection"
 * (codec-transcode only for PCMU/PCMA not among the trunk's codecs).
 * Answers: "ICE=remove replace-origin replace-session-connection"; toward
 * a carrier with sdes "ICE=remove SDES-no-NULL_HMAC_SHA1_80
 * SDES-no-NULL_HMAC_SHA1_32 replace-origin replace-session-connection".
 * -EINVAL for a trunk with no codecs or out-of-range values.
 */
int br_media_flags(const br_trunk_t *t, int to_carrier, int is_offer,
		int wideband, char *buf, size_t len);

#endif
