/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_model.h -- the configuration records a control panel writes to Redis
 * (trunk, agent, DID, worker), their field names, defaults and
 * validation. The same code checks an RPC request and a record read back
 * from Redis, so both accept exactly the same values.
 *
 * Records are fixed-size structs (limits below) so a snapshot of all of
 * them can live in one shared-memory block.
 *
 * Field values are NUL-terminated strings, as stored in Redis hashes.
 * All setters return 0 or -EINVAL and write a one-line reason naming the
 * field into 'err' (err may be NULL).
 */
#ifndef BR_MODEL_H
#define BR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "br_cidr.h"
#include "br_e164.h"

#define BR_ID_MAX 64		   /* ids: [A-Za-z0-9._-]{1,64} */
#define BR_NAME_MAX 128		   /* free text, printable, no control chars */
#define BR_HOST_MAX 253		   /* FQDN or IP literal (IPv6 without []) */
#define BR_USER_MAX 64		   /* digest username: token chars */
#define BR_REALM_MAX 128
#define BR_SECRET_ENC_MAX 256  /* encrypted secret text form, br_secret.h */
#define BR_TRUNK_MAX_CIDRS 32
#define BR_MAX_CODECS 4
#define BR_MAX_FAILOVER 16
#define BR_AGENT_MAX_TRUNKS 8
#define BR_URL_MAX 512
#define BR_HDR_NAME_MAX 64
#define BR_PARAMS_MAX 2048	   /* agent custom parameters, a JSON object */
#define BR_ADDR_MAX 64		   /* worker address "ip" */

enum br_transport { BR_TP_UDP = 0, BR_TP_TCP = 1, BR_TP_TLS = 2 };
enum br_direction {
	BR_DIR_INBOUND = 1,
	BR_DIR_OUTBOUND = 2,
	BR_DIR_BOTH = 3 /* bit mask of the two above */
};
enum br_auth { BR_AUTH_IP = 1, BR_AUTH_DIGEST = 2, BR_AUTH_BOTH = 3 };
enum br_codec {
	BR_CODEC_PCMU = 0,
	BR_CODEC_PCMA = 1,
	BR_CODEC_G722 = 2,
	BR_CODEC_OPUS = 3
};
enum br_media_enc { BR_ENC_NONE = 0, BR_ENC_SDES = 1, BR_ENC_DTLS = 2 };
enum br_dtmf { BR_DTMF_RFC2833 = 0, BR_DTMF_INFO = 1, BR_DTMF_INBAND = 2 };
enum br_cid_policy {
	BR_CID_ANY = 0,				/* pass the agent's caller ID unchanged */
	BR_CID_OWNED = 1,			/* must be a DID owned by the trunk, else refuse */
	BR_CID_OWNED_OR_DEFAULT = 2, /* not owned -> replaced by callerid_default */
	BR_CID_FIXED = 3			/* always callerid_default */
};
enum br_ai_protocol { BR_AI_TWILIO = 0, BR_AI_L16 = 1 };
enum br_fail_policy {
	BR_AIFAIL_HANGUP = 0,
	BR_AIFAIL_MESSAGE = 1,
	BR_AIFAIL_TRANSFER = 2
};

typedef struct br_trunk {
	char id[BR_ID_MAX + 1];
	char name[BR_NAME_MAX + 1];
	char tenant[BR_ID_MAX + 1];
	char host[BR_HOST_MAX + 1]; /* outbound: carrier FQDN or IP */
	uint16_t port;				/* default 5060 (5061 for tls) */
	uint8_t port_set;			/* 1: port given explicitly (not the
								   transport's default) */
	uint8_t transport;			/* enum br_transport */
	uint8_t sips;				/* 1: use sips: URIs (requires tls) */
	uint8_t direction;			/* enum br_direction */
	uint8_t auth;				/* enum br_auth */
	uint8_t ncidrs;
	br_net_t cidrs[BR_TRUNK_MAX_CIDRS]; /* inbound allowlist */
	char username[BR_USER_MAX + 1];		/* digest, both directions */
	char realm[BR_REALM_MAX + 1];		/* outbound realm, "" = any */
	char password_enc[BR_SECRET_ENC_MAX + 1]; /* "" = none; br_secret.h */
	uint8_t ncodecs;
	uint8_t codecs[BR_MAX_CODECS]; /* enum br_codec, preference order */
	uint8_t media_enc;			   /* enum br_media_enc */
	uint8_t dtmf;				   /* enum br_dtmf */
	uint32_t max_calls;			   /* 0 = unlimited */
	uint32_t max_cps;			   /* 0 = unlimited */
	uint8_t enabled;
	uint16_t priority; /* outbound: lower is tried first */
	uint16_t weight;   /* outbound: share within a priority, 1..65535 */
	uint8_t nfailover;
	uint16_t failover[BR_MAX_FAILOVER]; /* SIP codes that try the next trunk */
	br_numplan_t numplan;
	uint8_t cid_policy; /* enum br_cid_policy */
	char cid_default[BR_E164_MAX + 1];
} br_trunk_t;

typedef struct br_agent {
	char id[BR_ID_MAX + 1];
	char name[BR_NAME_MAX + 1];
	char tenant[BR_ID_MAX + 1];
	uint8_t enabled;
	char ws_url[BR_URL_MAX + 1];		   /* ws:// or wss:// */
	uint8_t protocol;					   /* enum br_ai_protocol */
	char auth_header[BR_HDR_NAME_MAX + 1]; /* default "Authorization" */
	char auth_token_enc[BR_SECRET_ENC_MAX + 1]; /* secret, encrypted */
	char params[BR_PARAMS_MAX + 1];		   /* JSON object of strings */
	uint8_t ntrunks;
	char trunks[BR_AGENT_MAX_TRUNKS][BR_ID_MAX + 1]; /* outbound preference */
	uint32_t max_duration;						   /* seconds, 0 = none */
	uint8_t fail_policy;						   /* enum br_fail_policy */
	char fail_target[BR_URL_MAX + 1]; /* message URL/file or transfer target */
} br_agent_t;

typedef struct br_did {
	char number[BR_E164_MAX + 1];
	char trunk[BR_ID_MAX + 1];
	char agent[BR_ID_MAX + 1]; /* "" = not bound */
} br_did_t;

typedef struct br_worker {
	char id[BR_ID_MAX + 1];
	char addr[BR_ADDR_MAX + 1]; /* IP literal the edge sends SIP to */
	uint16_t port;
	uint8_t transport; /* enum br_transport (udp|tcp) */
	uint32_t capacity; /* max concurrent calls */
	uint32_t active;   /* calls in progress, as last reported */
	uint8_t draining;
	uint8_t wideband; /* 1: worker accepts G722/opus */
} br_worker_t;

/* Called once per field of a record; a non-zero return stops the walk
 * and is passed through. */
typedef int (*br_emit_fn)(void *ctx, const char *key, const char *val);

/* 1 if 's' is a valid id: [A-Za-z0-9._-]{1,64}. */
int br_id_valid(const char *s);

/* ---- trunk ---------------------------------------------------------- */

/* Defaults: port 5060, udp, direction both, auth ip, codecs PCMU,PCMA,
 * media none, dtmf rfc2833, limits 0 (unlimited), enabled, priority 10,
 * weight 100, failover 408,480,500,502,503,504, numplan defaults,
 * callerid policy any. */
void br_trunk_defaults(br_trunk_t *t);

/* Sets one field from its text value. Keys (Redis hash fields):
 *  id name tenant host port transport sips direction auth cidrs username
 *  realm password_enc codecs media_encryption dtmf max_calls max_cps
 *  enabled priority weight failover_codes country_code national_prefix
 *  intl_prefix national_length tech_prefix tech_prefix_mode plus_policy
 *  callerid_policy callerid_default
 * Lists are comma-separated ("PCMA,PCMU", "192.0.2.0/24,2001:db8::/32").
 * Booleans accept 1/0/true/false/yes/no/on/off.
 * failover_codes refuses 404, 486, 600 and 603 (they must never fail over)
 * and anything outside 300..699.
 * Unknown keys are an error. An empty value resets the field to its
 * default. The default port follows the transport: setting transport
 * moves a port still at the old transport's default (5060 <-> 5061) to
 * the new one's and keeps any other port, so apply transport before port
 * (emit writes it first) when a record may hold e.g. tls on 5060. */
int br_trunk_set(br_trunk_t *t, const char *key, const char *val, char *err,
		size_t errlen);

/* Checks the record as a whole: id set; auth ip/both needs at least one
 * CIDR when the trunk takes inbound calls (the CIDRs are the inbound
 * allowlist); digest/both needs username and password_enc; outbound/both
 * needs host; sips needs tls; caller-ID policies owned_or_default/fixed
 * need callerid_default; numbers in national form need country_code
 * (and country code + national_length <= 15 digits); a tech_prefix_mode
 * other than none needs tech_prefix. */
int br_trunk_check(const br_trunk_t *t, char *err, size_t errlen);

/* Emits every field in canonical text form (the form br_trunk_set
 * accepts), including password_enc when set. */
int br_trunk_emit(const br_trunk_t *t, br_emit_fn fn, void *ctx);

/* 1 if a final reply code 'code' (or 408 for a local timeout/transport
 * error) lets this trunk's call fail over to the next trunk. */
int br_trunk_failover_ok(const br_trunk_t *t, int code);

/* 1 if 'ip' is inside one of the trunk's CIDRs. */
int br_trunk_source_ok(const br_trunk_t *t, const uint8_t ip[BR_IP_LEN]);

const char *br_codec_name(int codec);	/* "PCMU", "PCMA", "G722", "opus" */
const char *br_transport_name(int tp); /* "udp", "tcp", "tls" */

/* ---- agent ---------------------------------------------------------- */

/* Defaults: enabled, protocol twilio, auth_header "Authorization",
 * params "{}", fail policy hangup. */
void br_agent_defaults(br_agent_t *a);

/* Keys: id name tenant enabled ws_url protocol auth_header auth_token_enc
 *  params trunks max_duration failure_policy failure_target.
 * ws_url must be ws:// or wss:// with a host; params must be a JSON
 * object whose values are strings (checked with jansson); trunks is a
 * comma list of ids (existence is checked by the caller, who has the
 * trunk table). */
int br_agent_set(br_agent_t *a, const char *key, const char *val, char *err,
		size_t errlen);
/* id set; failure_policy message/transfer need failure_target; transfer
 * target must be E.164 or a sip:/sips: URI. */
int br_agent_check(const br_agent_t *a, char *err, size_t errlen);
int br_agent_emit(const br_agent_t *a, br_emit_fn fn, void *ctx);

/* ---- DID -------------------------------------------------------------- */

/* Keys: trunk agent ("number" is the key of the record, not a field). */
int br_did_set(br_did_t *d, const char *key, const char *val, char *err,
		size_t errlen);
int br_did_emit(const br_did_t *d, br_emit_fn fn, void *ctx);

/* ---- worker ----------------------------------------------------------- */

/* Keys: addr port transport capacity active draining wideband.
 * Workers write these themselves; the proxy only reads them. */
int br_worker_set(br_worker_t *w, const char *key, const char *val,
		char *err, size_t errlen);
int br_worker_emit(const br_worker_t *w, br_emit_fn fn, void *ctx);

#endif
