/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_snap.h -- an immutable snapshot of the routing configuration (trunks,
 * their CIDR allowlists, DIDs, agents) and the pure decisions made on it:
 * which trunk an inbound INVITE belongs to, and which trunks an agent's
 * outbound call may use.
 *
 * A snapshot is built with a builder (plain malloc) and then packed into
 * ONE block obtained from a caller-supplied allocator, so the Kamailio
 * module can place it in shared memory and free it with one call. All
 * pointers inside point into that block. Lookups never allocate.
 */
#ifndef BR_SNAP_H
#define BR_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "br_model.h"

#define BR_NONE UINT32_MAX
#define BR_MAX_CANDIDATES 32 /* trunks sharing one source address */

typedef struct br_snap br_snap_t;
typedef struct br_snap_builder br_snap_builder_t;

typedef struct br_snap_stats {
	uint32_t trunks, dids, agents; /* kept */
	uint32_t skipped;			   /* records dropped at finish (see below) */
} br_snap_stats_t;

br_snap_builder_t *br_snap_builder_new(void);
void br_snap_builder_free(br_snap_builder_t *b);

/* Copy a record into the builder. Returns 0 or -ENOMEM. Records are
 * resolved at finish: a DID whose trunk is unknown, or whose agent is set
 * but unknown, is skipped and counted; a duplicate id keeps the first. */
int br_snap_add_trunk(br_snap_builder_t *b, const br_trunk_t *t);
int br_snap_add_agent(br_snap_builder_t *b, const br_agent_t *a);
int br_snap_add_did(br_snap_builder_t *b, const br_did_t *d);

typedef void *(*br_alloc_fn)(size_t size, void *ctx);

/* Packs everything into one block from 'alloc'. The builder stays valid
 * (and must still be freed). Returns NULL when alloc fails. 'version' is
 * stored for the caller (the config version it was loaded at). */
br_snap_t *br_snap_finish(br_snap_builder_t *b, uint64_t version,
		br_alloc_fn alloc, void *actx, br_snap_stats_t *st);

uint64_t br_snap_version(const br_snap_t *s);
uint32_t br_snap_ntrunks(const br_snap_t *s);
uint32_t br_snap_nagents(const br_snap_t *s);
uint32_t br_snap_ndids(const br_snap_t *s);
/* The size in bytes of the packed block. */
size_t br_snap_size(const br_snap_t *s);

/* Trunks are stored sorted by id; index i is stable for this snapshot. */
const br_trunk_t *br_snap_trunk_at(const br_snap_t *s, uint32_t i);
uint32_t br_snap_trunk_index(const br_snap_t *s, const char *id); /* BR_NONE */
const br_agent_t *br_snap_agent_at(const br_snap_t *s, uint32_t i);
uint32_t br_snap_agent_index(const br_snap_t *s, const char *id);
/* Lookup by E.164 number. On success fills trunk/agent indices (agent
 * BR_NONE when unbound) and returns 0; -ENOENT when unknown. */
int br_snap_did(const br_snap_t *s, const char *e164, uint32_t *trunk,
		uint32_t *agent);
/* Number of DIDs bound to agent index 'agent' (a linear scan: for
 * administration, not the call path). */
uint32_t br_snap_agent_dids(const br_snap_t *s, uint32_t agent);
/* The digest trunk (auth digest|both) with this username, or BR_NONE. */
uint32_t br_snap_trunk_by_user(const br_snap_t *s, const char *user,
		size_t len);
/* 1 if at least one trunk accepts digest authentication. */
int br_snap_has_digest(const br_snap_t *s);
/* Trunks whose allowlist contains 'ip', longest prefix first, each once.
 * Returns the count written to 'out'. */
int br_snap_match_source(const br_snap_t *s, const uint8_t ip[BR_IP_LEN],
		uint32_t *out, int max);

/* ---- inbound identification ------------------------------------------- */

enum br_outcome {
	BR_OK = 0,
	BR_UNKNOWN_SOURCE,	/* 403 or silent drop */
	BR_AUTH_REQUIRED,	/* send a digest challenge (407) */
	BR_AUTH_FAILED,		/* 403: unknown user or wrong password */
	BR_DISABLED,		/* 403 */
	BR_DIRECTION,		/* 403 */
	BR_DID_NOT_ON_TRUNK, /* 404 */
	BR_NOT_BOUND,		/* 480: DID bound to no (enabled) agent */
	BR_OVER_CAPACITY,	/* 503 + Retry-After, or 486 */
	BR_OVER_CPS,		/* 503 + Retry-After */
	BR_STORE_DOWN,		/* 503 + Retry-After */
	BR_BAD_REQUEST,		/* 400 */
	BR_NO_WORKER,		/* 503: no live worker with capacity */
	BR_NO_TRUNK,		/* 503: no outbound trunk usable */
	BR_CALLERID,		/* 403: caller ID refused by the trunk's policy */
	BR_FORBIDDEN,		/* 403: outbound request not from a worker */
	BR_OUTCOME__MAX
};

/* Short stable name ("unknown_source", ...) used in statistics and logs. */
const char *br_outcome_name(int outcome);

typedef struct br_ident_in {
	uint8_t src_ip[BR_IP_LEN]; /* mapped source address */
	const char *user;		   /* Request-URI user part */
	size_t user_len;
	const char *auth_user; /* digest username when credentials present */
	size_t auth_user_len;
} br_ident_in_t;

typedef struct br_ident_out {
	int outcome;	/* enum br_outcome */
	uint32_t trunk; /* trunk the call is attributed to, or BR_NONE */
	uint32_t agent; /* bound agent when outcome is BR_OK */
	char did[BR_E164_MAX + 1]; /* normalised number, "" if none */
	/* set when the trunk was found by its digest username (and, for auth
	 * both, the source is allowlisted): the caller must verify the
	 * credentials before admitting (BR_OK), and should before giving
	 * any other answer that depends on the trunk */
	int verify_digest;
} br_ident_out_t;

/*
 * Identifies the trunk of an initial inbound INVITE:
 *  - credentials present: the digest trunk with that username (else
 *    AUTH_FAILED); for auth "both" the source must also be allowlisted
 *    (else UNKNOWN_SOURCE); verify_digest is set;
 *  - otherwise the trunks allowlisting the source, longest prefix first:
 *    the first whose normalised DID it owns wins (shared carrier IPs are
 *    told apart by the DID); none owns it -> DID_NOT_ON_TRUNK attributed
 *    to the longest-prefix trunk. A winning trunk with auth "both" ->
 *    AUTH_REQUIRED;
 *  - no allowlist match: AUTH_REQUIRED if any trunk takes digest, else
 *    UNKNOWN_SOURCE.
 * Then, on the trunk: disabled -> DISABLED; not inbound -> DIRECTION;
 * DID not owned -> DID_NOT_ON_TRUNK; no enabled agent -> NOT_BOUND.
 * Capacity and CPS are not checked here (they need Redis).
 */
void br_identify(const br_snap_t *s, const br_ident_in_t *in,
		br_ident_out_t *out);

/* ---- outbound --------------------------------------------------------- */

/* Candidate outbound trunks for an agent, in dialling order: the agent's
 * preference list when non-empty (its order is the priority; weight is
 * not used), else every trunk of the agent's tenant ordered by priority
 * then weighted-random within a priority (RFC 2782). Kept only: enabled,
 * direction outbound|both, same tenant, host set, and healthy(i) != 0
 * (healthy may be NULL = all healthy). 'rnd' returns uniform 32-bit
 * values (NULL = rand()). Returns the count written to 'out'. */
int br_outbound_candidates(const br_snap_t *s, uint32_t agent,
		int (*healthy)(uint32_t trunk, void *ctx), void *hctx,
		uint32_t (*rnd)(void *ctx), void *rctx, uint32_t *out, int max);

enum br_cid_result { BR_CID_KEEP = 0, BR_CID_REPLACED = 1, BR_CID_REFUSED = 2 };

/* Applies the trunk's caller-ID policy to the agent's E.164 caller ID
 * 'cid' (may be "" or not E.164). Writes the caller ID to use into 'out'
 * and returns enum br_cid_result: KEEP when 'out' equals 'cid', REFUSED
 * with 'out' empty. */
int br_callerid_apply(const br_snap_t *s, uint32_t trunk, const char *cid,
		char out[BR_E164_MAX + 1]);

/* ---- workers ---------------------------------------------------------- */

/* The least-loaded worker that is not draining and has capacity left:
 * lowest (active + extra[i]) / capacity, ties broken by lowest
 * active + extra[i], then by index. 'extra' (may be NULL) are calls this
 * proxy sent since the last registry refresh. Returns the index or
 * BR_NONE. */
uint32_t br_worker_pick(
		const br_worker_t *w, const uint32_t *extra, uint32_t n);

#endif
