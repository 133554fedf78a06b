/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_call.h -- the per-call decisions behind the cfg functions: inbound
 * admission, refusal replies, worker selection, outbound trunk selection
 * and failover, credentials for uac_auth(), and rtpengine flags. Each
 * returns an enum br_outcome (BR_OK = 0) and records its result in
 * $xavp(byoc=>...).
 */
#ifndef BR_CALL_H
#define BR_CALL_H

#include "core/parser/msg_parser.h"

int br_inbound(sip_msg_t *msg);
/* Sends the reply documented for $xavp(byoc=>outcome) (or drops); 1 sent,
 * 2 dropped silently, -1 error. Gives a lease taken for this call back. */
int br_refuse(sip_msg_t *msg);
/* Releases the lease of this message's Call-ID (cfg: the call will not
 * be relayed after all). */
int br_release(sip_msg_t *msg);
int br_route_worker(sip_msg_t *msg);
int br_outbound(sip_msg_t *msg);
/* failure_route: next trunk when 'code' is a failover code of the
 * current one. */
int br_next_trunk(sip_msg_t *msg, int code);
/* Sets the uac_auth() AVPs byoc_auth_user/pass/realm from the trunk. */
int br_auth_creds(sip_msg_t *msg);
/* Writes the rtpengine flags for this message's SDP into 'out' (pkg
 * static buffer): offer (is_offer=1) or answer, toward the carrier or
 * the worker depending on where the message comes from. */
int br_rtpe_flags(sip_msg_t *msg, int is_offer, str *out);

/* 1 if the source is a worker or in some trunk's allowlist (carriers are
 * exempt from flood limits), else -1. */
int br_known_source(sip_msg_t *msg);

/* SIP reply for an outcome: code, reason phrase, Retry-After (0 none). */
void br_outcome_reply(int outcome, int *code, const char **reason,
		int *retry_after);

#endif
