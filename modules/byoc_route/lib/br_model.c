/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_model.c -- the configuration records (trunk, agent, DID, worker):
 * defaults, per-field parsing and validation, whole-record checks and the
 * canonical text form (see br_model.h).
 *
 * Each record type has a table of fields (key, kind, location in the
 * struct). One generic setter and one generic emitter walk these tables,
 * so a field is parsed and written by the same code and emit -> set gives
 * back an equal record. A setter leaves the record untouched on error.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "br_model.h"
#include "br_secret.h"

/* Longest canonical text of a field: params (2048) is the largest; a full
 * CIDR list is 32 * (BR_NET_STR_MAX + 1) = 1632. */
#define BR_EMIT_BUF (BR_PARAMS_MAX + 64)
/* Input accepted for params before canonicalisation (pretty-printed JSON
 * may be longer than its compact form). */
#define BR_PARAMS_IN_MAX (4 * BR_PARAMS_MAX)

/* ---- errors ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if(err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Copies at most 40 bytes of 's' for an error message, control
 * characters replaced by '?', "..." appended when cut. */
static const char *shown(const char *s, char buf[48])
{
	size_t i;

	for(i = 0; s[i] != '\0' && i < 40; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if(s[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* ---- small parsers ----------------------------------------------------- */

/* Decimal digits only (no sign, no spaces), value <= max. */
static int parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if(len == 0 || len > 10)
		return -EINVAL;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if(v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, uint8_t *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	size_t i;

	for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if(strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if(strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int all_digits(const char *s)
{
	if(*s == '\0')
		return 0;
	for(; *s != '\0'; s++)
		if(*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Free text: no control characters (UTF-8 bytes >= 0x80 are allowed). */
static int printable(const char *s)
{
	for(; *s != '\0'; s++)
		if((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int br_id_valid(const char *s)
{
	size_t i;

	if(s == NULL)
		return 0;
	for(i = 0; s[i] != '\0'; i++) {
		if(i >= BR_ID_MAX)
			return 0;
		if(!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
				s[i] != '-')
			return 0;
	}
	return i > 0;
}

/* RFC 3261 token characters (digest usernames). */
static int user_valid(const char *s)
{
	size_t i;

	for(i = 0; s[i] != '\0'; i++)
		if(!isalnum((unsigned char)s[i]) && !strchr("-.!%*_+`'~", s[i]))
			return 0;
	return i > 0;
}

/* RFC 7230 tchar (HTTP header field names). */
static int hdr_name_valid(const char *s)
{
	size_t i;

	for(i = 0; s[i] != '\0'; i++)
		if(!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
			return 0;
	return i > 0;
}

/* A DNS name (letters, digits, hyphens; labels of 1..63; not ending in a
 * numeric label, which catches malformed IPv4) or an IP literal. 'len' is
 * the length of the host in 's'. */
static int host_valid(const char *s, size_t len)
{
	uint8_t ip[BR_IP_LEN];
	size_t i, label = 0;
	int numeric = 1;

	if(len == 0 || len > BR_HOST_MAX)
		return 0;
	if(br_ip_parse(ip, s, len) == 0)
		return 1;
	for(i = 0; i < len; i++) {
		char c = s[i];
		if(c == '.') {
			if(label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			numeric = 1;
			continue;
		}
		if(!isalnum((unsigned char)c) && c != '-')
			return 0;
		if(c == '-' && label == 0)
			return 0;
		if(!isdigit((unsigned char)c))
			numeric = 0;
		if(++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-' && !numeric;
}

/* "ws://host[:port][/path...]" or "wss://...": a host is required. */
static int ws_url_valid(const char *s, const char **why)
{
	const char *p, *auth, *end, *colon;
	uint32_t port;

	if(strncasecmp(s, "ws://", 5) == 0)
		auth = s + 5;
	else if(strncasecmp(s, "wss://", 6) == 0)
		auth = s + 6;
	else {
		*why = "must start with ws:// or wss://";
		return 0;
	}
	for(p = s; *p != '\0'; p++) {
		if((unsigned char)*p <= 0x20 || *p == 0x7f) {
			*why = "must not contain spaces or control characters";
			return 0;
		}
	}
	end = auth + strcspn(auth, "/?#");
	if(memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		*why = "must not carry credentials (use auth_token_enc)";
		return 0;
	}
	if(end > auth && *auth == '[') {
		/* IPv6 literal */
		const char *rb = memchr(auth, ']', (size_t)(end - auth));
		uint8_t ip[BR_IP_LEN];
		if(rb == NULL ||
				br_ip_parse(ip, auth + 1, (size_t)(rb - auth - 1)) < 0 ||
				memchr(auth + 1, ':', (size_t)(rb - auth - 1)) == NULL) {
			*why = "has a malformed [IPv6] host";
			return 0;
		}
		colon = rb + 1 < end ? rb + 1 : NULL;
		if(colon != NULL && *colon != ':') {
			*why = "has a malformed [IPv6] host";
			return 0;
		}
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		if(!host_valid(auth, (size_t)((colon != NULL ? colon : end) - auth))) {
			*why = "needs a valid host name or address";
			return 0;
		}
	}
	if(colon != NULL && (parse_uint(colon + 1, (size_t)(end - colon - 1), 65535,
								 &port) < 0 ||
								port == 0)) {
		*why = "has an invalid port";
		return 0;
	}
	return 1;
}

/* Checks that 'val' is a JSON object of strings and writes its compact
 * form (keys in their original order) into 'out'. */
static int params_canon(const char *key, const char *val, char *out,
		size_t outlen, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *obj, *v;
	const char *k;
	char *txt;
	size_t len = strlen(val);
	int rc = 0;

	if(len > BR_PARAMS_IN_MAX)
		return fail(
				err, errlen, "%s: too long (max %d bytes)", key, BR_PARAMS_MAX);
	obj = json_loadb(val, len, JSON_REJECT_DUPLICATES, &jerr);
	if(obj == NULL)
		return fail(err, errlen, "%s: not valid JSON (%s at column %d)", key,
				jerr.text, jerr.column);
	if(!json_is_object(obj)) {
		json_decref(obj);
		return fail(err, errlen, "%s: must be a JSON object", key);
	}
	json_object_foreach(obj, k, v)
	{
		char b[48];
		if(*k == '\0') {
			rc = fail(err, errlen, "%s: empty parameter name", key);
			break;
		}
		if(!json_is_string(v)) {
			rc = fail(err, errlen, "%s: value of '%s' must be a string", key,
					shown(k, b));
			break;
		}
	}
	if(rc == 0) {
		txt = json_dumps(obj, JSON_COMPACT);
		if(txt == NULL)
			rc = fail(err, errlen, "%s: out of memory", key);
		else if(strlen(txt) >= outlen)
			rc = fail(err, errlen, "%s: too long (max %d bytes)", key,
					BR_PARAMS_MAX);
		else
			strcpy(out, txt);
		free(txt);
	}
	json_decref(obj);
	return rc;
}

/* Splits a comma list: calls item() with each trimmed element. Empty
 * elements are an error. */
typedef int (*item_fn)(
		void *ctx, const char *s, size_t len, char *err, size_t errlen);

static int split_list(const char *key, const char *val, item_fn item, void *ctx,
		char *err, size_t errlen)
{
	const char *p = val, *e, *b;
	size_t n;
	int rc;

	for(;;) {
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		b = p;
		while(n > 0 && (*b == ' ' || *b == '\t')) {
			b++;
			n--;
		}
		while(n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t'))
			n--;
		if(n == 0)
			return fail(err, errlen, "%s: empty list element", key);
		rc = item(ctx, b, n, err, errlen);
		if(rc < 0)
			return rc;
		if(e == NULL)
			return 0;
		p = e + 1;
	}
}

/* ---- names ------------------------------------------------------------- */

static const char *const tp_names[] = {"udp", "tcp", "tls", NULL};
static const char *const worker_tp_names[] = {"udp", "tcp", NULL};
static const char *const dir_names[] = {
		"", "inbound", "outbound", "both", NULL};
static const char *const auth_names[] = {"", "ip", "digest", "both", NULL};
static const char *const codec_names[] = {"PCMU", "PCMA", "G722", "opus", NULL};
static const char *const enc_names[] = {"none", "sdes", "dtls", NULL};
static const char *const dtmf_names[] = {"rfc2833", "info", "inband", NULL};
static const char *const tech_names[] = {"none", "strip", "add", "both", NULL};
static const char *const plus_names[] = {"e164", "digits", "national", NULL};
static const char *const cid_names[] = {
		"any", "owned", "owned_or_default", "fixed", NULL};
static const char *const proto_names[] = {"twilio", "l16", NULL};
static const char *const fail_names[] = {"hangup", "message", "transfer", NULL};

const char *br_codec_name(int codec)
{
	if(codec < 0 || codec > BR_CODEC_OPUS)
		return "?";
	return codec_names[codec];
}

const char *br_transport_name(int tp)
{
	if(tp < 0 || tp > BR_TP_TLS)
		return "?";
	return tp_names[tp];
}

/* Index of 's' in 'names' (case-insensitive; "" entries never match). */
static int name_index(const char *const *names, const char *s, size_t len)
{
	int i;

	for(i = 0; names[i] != NULL; i++)
		if(names[i][0] != '\0' && strlen(names[i]) == len &&
				strncasecmp(names[i], s, len) == 0)
			return i;
	return -1;
}

/* "a|b|c" for error messages. */
static const char *names_list(const char *const *names, char *buf, size_t len)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for(i = 0; names[i] != NULL; i++) {
		if(names[i][0] == '\0')
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "", names[i]);
		if(o >= len)
			break;
	}
	return buf;
}

/* ---- field tables ------------------------------------------------------ */

enum fkind
{
	F_ID,		/* [A-Za-z0-9._-]{1,64}, "" = default */
	F_NAME,		/* printable */
	F_HOST,		/* DNS name or IP literal */
	F_USER,		/* token */
	F_REALM,	/* printable, no quote or backslash */
	F_SECRET,	/* br_secret text form; never echoed in errors */
	F_UINT,		/* integer of 'size' bytes in [min, max] */
	F_BOOL,		/* uint8_t 0/1 */
	F_ENUM,		/* uint8_t index into 'names' */
	F_CIDRS,	/* trunk: ncidrs + cidrs */
	F_CODECS,	/* trunk: ncodecs + codecs */
	F_FAILOVER, /* trunk: nfailover + failover */
	F_CC,		/* 1..3 digits, not starting with 0 */
	F_DIGITS,	/* 1..size-1 digits */
	F_TECH,		/* [0-9*#A-Za-z] */
	F_E164,		/* br_e164_valid */
	F_WSURL,	/* ws:// or wss:// */
	F_HDR,		/* HTTP header field name */
	F_PARAMS,	/* JSON object of strings */
	F_IDLIST,	/* agent: ntrunks + trunks */
	F_TARGET,	/* printable */
	F_IP		/* IP literal */
};

#define FL_SKIP_EMPTY 1 /* not emitted when empty */

typedef struct field
{
	const char *key;
	uint8_t kind;
	uint8_t flags;
	uint16_t off;
	uint16_t size;
	uint32_t min, max;
	const char *const *names;
} field_t;

#define MSIZE(type, m) ((uint16_t)sizeof(((type *)0)->m))
#define FLD(type, key, kind, m)                                               \
	{                                                                         \
		key, kind, 0, (uint16_t)offsetof(type, m), MSIZE(type, m), 0, 0, NULL \
	}
#define FNUM(type, key, m, lo, hi)                                           \
	{                                                                        \
		key, F_UINT, 0, (uint16_t)offsetof(type, m), MSIZE(type, m), lo, hi, \
				NULL                                                         \
	}
#define FENUM(type, key, m, nm)                                               \
	{                                                                         \
		key, F_ENUM, 0, (uint16_t)offsetof(type, m), MSIZE(type, m), 0, 0, nm \
	}

/* Emit order is table order: transport comes before port so that a
 * record read back in that order keeps an explicit port (see
 * br_trunk_set). */
static const field_t trunk_fields[] = {
		FLD(br_trunk_t, "id", F_ID, id),
		FLD(br_trunk_t, "name", F_NAME, name),
		FLD(br_trunk_t, "tenant", F_ID, tenant),
		FLD(br_trunk_t, "host", F_HOST, host),
		FENUM(br_trunk_t, "transport", transport, tp_names),
		FNUM(br_trunk_t, "port", port, 1, 65535),
		FLD(br_trunk_t, "sips", F_BOOL, sips),
		FENUM(br_trunk_t, "direction", direction, dir_names),
		FENUM(br_trunk_t, "auth", auth, auth_names),
		FLD(br_trunk_t, "cidrs", F_CIDRS, cidrs),
		FLD(br_trunk_t, "username", F_USER, username),
		FLD(br_trunk_t, "realm", F_REALM, realm),
		{"password_enc", F_SECRET, FL_SKIP_EMPTY,
				(uint16_t)offsetof(br_trunk_t, password_enc),
				MSIZE(br_trunk_t, password_enc), 0, 0, NULL},
		FLD(br_trunk_t, "codecs", F_CODECS, codecs),
		FENUM(br_trunk_t, "media_encryption", media_enc, enc_names),
		FENUM(br_trunk_t, "dtmf", dtmf, dtmf_names),
		FNUM(br_trunk_t, "max_calls", max_calls, 0, UINT32_MAX),
		FNUM(br_trunk_t, "max_cps", max_cps, 0, UINT32_MAX),
		FLD(br_trunk_t, "enabled", F_BOOL, enabled),
		FNUM(br_trunk_t, "priority", priority, 0, 65535),
		FNUM(br_trunk_t, "weight", weight, 1, 65535),
		FLD(br_trunk_t, "failover_codes", F_FAILOVER, failover),
		FLD(br_trunk_t, "country_code", F_CC, numplan.cc),
		FLD(br_trunk_t, "national_prefix", F_DIGITS, numplan.natl_prefix),
		FLD(br_trunk_t, "intl_prefix", F_DIGITS, numplan.intl_prefix),
		FNUM(br_trunk_t, "national_length", numplan.nsn_len, 0, 14),
		FLD(br_trunk_t, "tech_prefix", F_TECH, numplan.tech_prefix),
		FENUM(br_trunk_t, "tech_prefix_mode", numplan.tech_mode, tech_names),
		FENUM(br_trunk_t, "plus_policy", numplan.plus_policy, plus_names),
		FENUM(br_trunk_t, "callerid_policy", cid_policy, cid_names),
		FLD(br_trunk_t, "callerid_default", F_E164, cid_default),
};

static const field_t agent_fields[] = {
		FLD(br_agent_t, "id", F_ID, id),
		FLD(br_agent_t, "name", F_NAME, name),
		FLD(br_agent_t, "tenant", F_ID, tenant),
		FLD(br_agent_t, "enabled", F_BOOL, enabled),
		FLD(br_agent_t, "ws_url", F_WSURL, ws_url),
		FENUM(br_agent_t, "protocol", protocol, proto_names),
		FLD(br_agent_t, "auth_header", F_HDR, auth_header),
		FLD(br_agent_t, "auth_token_enc", F_SECRET, auth_token_enc),
		FLD(br_agent_t, "params", F_PARAMS, params),
		FLD(br_agent_t, "trunks", F_IDLIST, trunks),
		FNUM(br_agent_t, "max_duration", max_duration, 0, UINT32_MAX),
		FENUM(br_agent_t, "failure_policy", fail_policy, fail_names),
		FLD(br_agent_t, "failure_target", F_TARGET, fail_target),
};

static const field_t did_fields[] = {
		FLD(br_did_t, "trunk", F_ID, trunk),
		FLD(br_did_t, "agent", F_ID, agent),
};

static const field_t worker_fields[] = {
		FLD(br_worker_t, "addr", F_IP, addr),
		FNUM(br_worker_t, "port", port, 1, 65535),
		FENUM(br_worker_t, "transport", transport, worker_tp_names),
		FNUM(br_worker_t, "capacity", capacity, 0, UINT32_MAX),
		FNUM(br_worker_t, "active", active, 0, UINT32_MAX),
		FLD(br_worker_t, "draining", F_BOOL, draining),
		FLD(br_worker_t, "wideband", F_BOOL, wideband),
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const field_t *field_find(const field_t *tbl, size_t n, const char *key)
{
	size_t i;

	for(i = 0; i < n; i++)
		if(strcmp(tbl[i].key, key) == 0)
			return &tbl[i];
	return NULL;
}

static uint32_t get_uint(const void *p, size_t size)
{
	switch(size) {
		case 1:
			return *(const uint8_t *)p;
		case 2:
			return *(const uint16_t *)p;
		default:
			return *(const uint32_t *)p;
	}
}

static void put_uint(void *p, size_t size, uint32_t v)
{
	switch(size) {
		case 1:
			*(uint8_t *)p = (uint8_t)v;
			break;
		case 2:
			*(uint16_t *)p = (uint16_t)v;
			break;
		default:
			*(uint32_t *)p = v;
			break;
	}
}

/* ---- list fields ------------------------------------------------------- */

typedef struct cidr_ctx
{
	const char *key;
	br_net_t net[BR_TRUNK_MAX_CIDRS];
	int n;
} cidr_ctx_t;

static int cidr_item(
		void *ctx, const char *s, size_t len, char *err, size_t errlen)
{
	cidr_ctx_t *c = ctx;
	char why[96] = "", b[48], txt[BR_NET_STR_MAX + 8];
	br_net_t net;
	int i;

	snprintf(txt, sizeof(txt), "%.*s", (int)(len < 48 ? len : 48), s);
	if(c->n >= BR_TRUNK_MAX_CIDRS)
		return fail(err, errlen, "%s: more than %d networks", c->key,
				BR_TRUNK_MAX_CIDRS);
	if(br_net_parse(&net, s, len, why, sizeof(why)) < 0)
		return fail(err, errlen, "%s: '%s' is not a network%s%s", c->key,
				shown(txt, b), why[0] ? ": " : "", why);
	for(i = 0; i < c->n; i++)
		if(c->net[i].plen == net.plen &&
				memcmp(c->net[i].addr, net.addr, BR_IP_LEN) == 0)
			return fail(err, errlen, "%s: '%s' is listed twice", c->key,
					shown(txt, b));
	c->net[c->n++] = net;
	return 0;
}

typedef struct codec_ctx
{
	const char *key;
	uint8_t c[BR_MAX_CODECS];
	int n;
} codec_ctx_t;

static int codec_item(
		void *ctx, const char *s, size_t len, char *err, size_t errlen)
{
	codec_ctx_t *c = ctx;
	char b[48], txt[49], nl[64];
	int i, k;

	snprintf(txt, sizeof(txt), "%.*s", (int)(len < 48 ? len : 48), s);
	k = name_index(codec_names, s, len);
	if(k < 0)
		return fail(err, errlen, "%s: unsupported codec '%s' (use %s)", c->key,
				shown(txt, b), names_list(codec_names, nl, sizeof(nl)));
	for(i = 0; i < c->n; i++)
		if(c->c[i] == k)
			return fail(err, errlen, "%s: codec %s is listed twice", c->key,
					codec_names[k]);
	if(c->n >= BR_MAX_CODECS)
		return fail(
				err, errlen, "%s: more than %d codecs", c->key, BR_MAX_CODECS);
	c->c[c->n++] = (uint8_t)k;
	return 0;
}

typedef struct code_ctx
{
	const char *key;
	uint16_t code[BR_MAX_FAILOVER];
	int n;
} code_ctx_t;

static int code_item(
		void *ctx, const char *s, size_t len, char *err, size_t errlen)
{
	code_ctx_t *c = ctx;
	char b[48], txt[49];
	uint32_t v;
	int i;

	snprintf(txt, sizeof(txt), "%.*s", (int)(len < 48 ? len : 48), s);
	if(parse_uint(s, len, 999, &v) < 0 || v < 300 || v > 699)
		return fail(err, errlen,
				"%s: '%s' is not a SIP final failure code 300..699", c->key,
				shown(txt, b));
	/* the callee exists and answered (busy, declined) or the number does
	 * not exist anywhere: another trunk would only repeat the answer or
	 * ring the callee twice */
	if(v == 404 || v == 486 || v == 600 || v == 603)
		return fail(err, errlen,
				"%s: %u must never fail over (404, 486, 600, 603 are final)",
				c->key, v);
	for(i = 0; i < c->n; i++)
		if(c->code[i] == v)
			return fail(err, errlen, "%s: %u is listed twice", c->key, v);
	if(c->n >= BR_MAX_FAILOVER)
		return fail(
				err, errlen, "%s: more than %d codes", c->key, BR_MAX_FAILOVER);
	c->code[c->n++] = (uint16_t)v;
	return 0;
}

typedef struct idl_ctx
{
	const char *key;
	char id[BR_AGENT_MAX_TRUNKS][BR_ID_MAX + 1];
	int n;
} idl_ctx_t;

static int id_item(
		void *ctx, const char *s, size_t len, char *err, size_t errlen)
{
	idl_ctx_t *c = ctx;
	char b[48], txt[BR_ID_MAX + 2];
	int i;

	snprintf(txt, sizeof(txt), "%.*s",
			(int)(len <= BR_ID_MAX ? len : BR_ID_MAX + 1), s);
	if(len > BR_ID_MAX || !br_id_valid(txt))
		return fail(err, errlen, "%s: '%s' is not a valid id", c->key,
				shown(txt, b));
	for(i = 0; i < c->n; i++)
		if(strcmp(c->id[i], txt) == 0)
			return fail(err, errlen, "%s: '%s' is listed twice", c->key, txt);
	if(c->n >= BR_AGENT_MAX_TRUNKS)
		return fail(err, errlen, "%s: more than %d trunks", c->key,
				BR_AGENT_MAX_TRUNKS);
	strcpy(c->id[c->n++], txt);
	return 0;
}

/* ---- generic set / emit ------------------------------------------------ */

/* Sets the text field at 'dst' (capacity 'size') after 'ok' validated it. */
static int put_text(const field_t *f, char *dst, const char *val, int ok,
		const char *what, char *err, size_t errlen)
{
	char b[48];

	if(strlen(val) >= f->size)
		return fail(err, errlen, "%s: too long (max %u characters)", f->key,
				(unsigned)f->size - 1);
	if(!ok) {
		if(f->kind == F_SECRET)
			return fail(err, errlen, "%s: %s", f->key, what);
		return fail(err, errlen, "%s: '%s' %s", f->key, shown(val, b), what);
	}
	/* zero-filled: equal records are equal byte for byte */
	memset(dst, 0, f->size);
	strcpy(dst, val);
	return 0;
}

/* Parses 'val' into the field 'f' of 'rec'. An empty value copies the
 * field from 'def' (the record's defaults). */
static int field_set(const field_t *f, void *rec, const void *def,
		const char *val, char *err, size_t errlen)
{
	char *p = (char *)rec + f->off;
	const char *why = NULL;
	char b[48], nl[64];
	uint32_t v;
	int k, rc;

	if(val == NULL)
		return fail(err, errlen, "%s: missing value", f->key);
	if(val[0] == '\0') {
		switch(f->kind) {
			case F_CIDRS:
				((br_trunk_t *)rec)->ncidrs = ((const br_trunk_t *)def)->ncidrs;
				break;
			case F_CODECS:
				((br_trunk_t *)rec)->ncodecs =
						((const br_trunk_t *)def)->ncodecs;
				break;
			case F_FAILOVER:
				((br_trunk_t *)rec)->nfailover =
						((const br_trunk_t *)def)->nfailover;
				break;
			case F_IDLIST:
				((br_agent_t *)rec)->ntrunks =
						((const br_agent_t *)def)->ntrunks;
				break;
			default:
				break;
		}
		memcpy(p, (const char *)def + f->off, f->size);
		return 0;
	}

	switch(f->kind) {
		case F_ID:
			return put_text(f, p, val, br_id_valid(val),
					"is not a valid id ([A-Za-z0-9._-], 1..64)", err, errlen);
		case F_NAME:
		case F_TARGET:
			return put_text(f, p, val, printable(val),
					"contains control characters", err, errlen);
		case F_HOST:
			return put_text(f, p, val, host_valid(val, strlen(val)),
					"is not a host name or IP address", err, errlen);
		case F_USER:
			return put_text(f, p, val, user_valid(val),
					"is not a valid username (token characters)", err, errlen);
		case F_REALM:
			return put_text(f, p, val,
					printable(val) && strpbrk(val, "\"\\") == NULL,
					"contains control characters, quotes or backslashes", err,
					errlen);
		case F_SECRET:
			return put_text(f, p, val, br_secret_looks_valid(val),
					"is not an encrypted secret (\"v1:\" base64 text)", err,
					errlen);
		case F_CC:
			return put_text(f, p, val, all_digits(val) && val[0] != '0',
					"is not a country code (1..3 digits, not starting "
					"with 0)",
					err, errlen);
		case F_DIGITS:
			return put_text(
					f, p, val, all_digits(val), "is not digits", err, errlen);
		case F_TECH:
			return put_text(f, p, val,
					strspn(val, "0123456789*#abcdefghijklmnopqrstuvwxyz"
								"ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(val),
					"may only contain 0-9 * # A-Z a-z", err, errlen);
		case F_E164:
			return put_text(f, p, val, br_e164_valid(val),
					"is not an E.164 number (+ and 7..15 digits)", err, errlen);
		case F_HDR:
			return put_text(f, p, val, hdr_name_valid(val),
					"is not an HTTP header name", err, errlen);
		case F_IP: {
			uint8_t ip[BR_IP_LEN];
			return put_text(f, p, val, br_ip_parse(ip, val, strlen(val)) == 0,
					"is not an IP address", err, errlen);
		}
		case F_WSURL:
			if(strlen(val) >= f->size)
				return fail(err, errlen, "%s: too long (max %u characters)",
						f->key, (unsigned)f->size - 1);
			if(!ws_url_valid(val, &why))
				return fail(
						err, errlen, "%s: '%s' %s", f->key, shown(val, b), why);
			memset(p, 0, f->size);
			strcpy(p, val);
			return 0;
		case F_PARAMS: {
			char canon[BR_PARAMS_MAX + 1];
			rc = params_canon(f->key, val, canon, sizeof(canon), err, errlen);
			if(rc == 0) {
				memset(p, 0, f->size);
				strcpy(p, canon);
			}
			return rc;
		}
		case F_UINT:
			if(parse_uint(val, strlen(val), f->max, &v) < 0 || v < f->min)
				return fail(err, errlen,
						"%s: must be a number %u..%u, got '%s'", f->key, f->min,
						f->max, shown(val, b));
			put_uint(p, f->size, v);
			return 0;
		case F_BOOL:
			if(parse_bool(val, (uint8_t *)p) < 0)
				return fail(err, errlen,
						"%s: '%s' is not a boolean (1/0, true/false, yes/no, "
						"on/off)",
						f->key, shown(val, b));
			return 0;
		case F_ENUM:
			k = name_index(f->names, val, strlen(val));
			if(k < 0)
				return fail(err, errlen, "%s: '%s' is not one of %s", f->key,
						shown(val, b), names_list(f->names, nl, sizeof(nl)));
			*(uint8_t *)p = (uint8_t)k;
			return 0;
		case F_CIDRS: {
			cidr_ctx_t c = {.key = f->key, .n = 0};
			br_trunk_t *t = rec;
			rc = split_list(f->key, val, cidr_item, &c, err, errlen);
			if(rc < 0)
				return rc;
			memset(t->cidrs, 0, sizeof(t->cidrs));
			memcpy(t->cidrs, c.net, (size_t)c.n * sizeof(c.net[0]));
			t->ncidrs = (uint8_t)c.n;
			return 0;
		}
		case F_CODECS: {
			codec_ctx_t c = {.key = f->key, .n = 0};
			br_trunk_t *t = rec;
			rc = split_list(f->key, val, codec_item, &c, err, errlen);
			if(rc < 0)
				return rc;
			memset(t->codecs, 0, sizeof(t->codecs));
			memcpy(t->codecs, c.c, (size_t)c.n);
			t->ncodecs = (uint8_t)c.n;
			return 0;
		}
		case F_FAILOVER: {
			code_ctx_t c = {.key = f->key, .n = 0};
			br_trunk_t *t = rec;
			rc = split_list(f->key, val, code_item, &c, err, errlen);
			if(rc < 0)
				return rc;
			memset(t->failover, 0, sizeof(t->failover));
			memcpy(t->failover, c.code, (size_t)c.n * sizeof(c.code[0]));
			t->nfailover = (uint8_t)c.n;
			return 0;
		}
		case F_IDLIST: {
			idl_ctx_t *c;
			br_agent_t *a = rec;
			/* 8 * 65 bytes: keep it off the stack of a Kamailio worker */
			c = calloc(1, sizeof(*c));
			if(c == NULL)
				return fail(err, errlen, "%s: out of memory", f->key);
			c->key = f->key;
			rc = split_list(f->key, val, id_item, c, err, errlen);
			if(rc == 0) {
				memcpy(a->trunks, c->id, sizeof(a->trunks));
				a->ntrunks = (uint8_t)c->n;
			}
			free(c);
			return rc;
		}
	}
	return fail(err, errlen, "%s: internal error", f->key);
}

static int set_record(const field_t *tbl, size_t n, void *rec, const void *def,
		const char *key, const char *val, char *err, size_t errlen)
{
	const field_t *f;
	char b[48];

	if(rec == NULL || key == NULL)
		return fail(err, errlen, "missing record or key");
	f = field_find(tbl, n, key);
	if(f == NULL)
		return fail(err, errlen, "unknown key '%s'", shown(key, b));
	return field_set(f, rec, def, val, err, errlen);
}

/* Appends "sep item" to buf; -ENOSPC when full. */
static int cat(char *buf, size_t len, size_t *o, const char *item)
{
	int n = snprintf(buf + *o, len - *o, "%s%s", *o ? "," : "", item);

	if(n < 0 || (size_t)n >= len - *o)
		return -ENOSPC;
	*o += (size_t)n;
	return 0;
}

/* Writes the canonical text of field 'f' of 'rec'; returns a pointer to
 * it (either into 'rec' or into 'buf'). */
static const char *field_text(
		const field_t *f, const void *rec, char *buf, size_t len)
{
	const char *p = (const char *)rec + f->off;
	size_t o = 0;
	int i;

	buf[0] = '\0';
	switch(f->kind) {
		case F_UINT:
			snprintf(buf, len, "%u", get_uint(p, f->size));
			return buf;
		case F_BOOL:
			return *(const uint8_t *)p ? "1" : "0";
		case F_ENUM: {
			int k, cnt = 0;
			k = *(const uint8_t *)p;
			while(f->names[cnt] != NULL)
				cnt++;
			return k < cnt ? f->names[k] : "";
		}
		case F_CIDRS: {
			const br_trunk_t *t = rec;
			char net[BR_NET_STR_MAX];
			for(i = 0; i < t->ncidrs && i < BR_TRUNK_MAX_CIDRS; i++)
				if(br_net_format(&t->cidrs[i], net, sizeof(net)) < 0 ||
						cat(buf, len, &o, net) < 0)
					break;
			return buf;
		}
		case F_CODECS: {
			const br_trunk_t *t = rec;
			for(i = 0; i < t->ncodecs && i < BR_MAX_CODECS; i++)
				cat(buf, len, &o, br_codec_name(t->codecs[i]));
			return buf;
		}
		case F_FAILOVER: {
			const br_trunk_t *t = rec;
			char c[8];
			for(i = 0; i < t->nfailover && i < BR_MAX_FAILOVER; i++) {
				snprintf(c, sizeof(c), "%u", t->failover[i]);
				cat(buf, len, &o, c);
			}
			return buf;
		}
		case F_IDLIST: {
			const br_agent_t *a = rec;
			for(i = 0; i < a->ntrunks && i < BR_AGENT_MAX_TRUNKS; i++)
				cat(buf, len, &o, a->trunks[i]);
			return buf;
		}
		default:
			/* text fields are stored in canonical form */
			return p;
	}
}

static int emit_record(
		const field_t *tbl, size_t n, const void *rec, br_emit_fn fn, void *ctx)
{
	char *buf;
	const char *txt;
	size_t i;
	int rc = 0;

	if(rec == NULL || fn == NULL)
		return -EINVAL;
	buf = malloc(BR_EMIT_BUF);
	if(buf == NULL)
		return -ENOMEM;
	for(i = 0; i < n && rc == 0; i++) {
		txt = field_text(&tbl[i], rec, buf, BR_EMIT_BUF);
		if((tbl[i].flags & FL_SKIP_EMPTY) && txt[0] == '\0')
			continue;
		rc = fn(ctx, tbl[i].key, txt);
	}
	free(buf);
	return rc;
}

/* ---- trunk ------------------------------------------------------------- */

static const uint16_t default_failover[] = {408, 480, 500, 502, 503, 504};

static uint16_t default_port(int transport)
{
	return transport == BR_TP_TLS ? 5061 : 5060;
}

void br_trunk_defaults(br_trunk_t *t)
{
	memset(t, 0, sizeof(*t));
	t->port = 5060;
	t->transport = BR_TP_UDP;
	t->direction = BR_DIR_BOTH;
	t->auth = BR_AUTH_IP;
	t->ncodecs = 2;
	t->codecs[0] = BR_CODEC_PCMU;
	t->codecs[1] = BR_CODEC_PCMA;
	t->media_enc = BR_ENC_NONE;
	t->dtmf = BR_DTMF_RFC2833;
	t->enabled = 1;
	t->priority = 10;
	t->weight = 100;
	t->nfailover = sizeof(default_failover) / sizeof(default_failover[0]);
	memcpy(t->failover, default_failover, sizeof(default_failover));
	br_numplan_defaults(&t->numplan);
	t->cid_policy = BR_CID_ANY;
}

int br_trunk_set(br_trunk_t *t, const char *key, const char *val, char *err,
		size_t errlen)
{
	br_trunk_t def;
	int rc;

	if(t == NULL || key == NULL)
		return fail(err, errlen, "missing record or key");
	br_trunk_defaults(&def);
	rc = set_record(trunk_fields, NFIELDS(trunk_fields), t, &def, key, val, err,
			errlen);
	if(rc < 0)
		return rc;
	/* Order-independent default port: a record is applied field by field
	 * in whatever order Redis returns a hash, so an explicit port wins
	 * regardless of whether it comes before or after the transport, and
	 * a port not given follows the transport (5060, or 5061 for tls). */
	if(strcmp(key, "port") == 0) {
		t->port_set = val[0] != '\0';
		if(!t->port_set)
			t->port = default_port(t->transport);
	} else if(strcmp(key, "transport") == 0 && !t->port_set) {
		t->port = default_port(t->transport);
	}
	return 0;
}

/* 1 if the trunk's numbers may be written or read in national form. */
static int uses_national(const br_numplan_t *np)
{
	return np->natl_prefix[0] != '\0' || np->nsn_len != 0 ||
		   np->plus_policy == BR_PLUS_NATIONAL;
}

int br_trunk_check(const br_trunk_t *t, char *err, size_t errlen)
{
	int i;

	if(t == NULL)
		return fail(err, errlen, "missing record");
	if(!br_id_valid(t->id))
		return fail(err, errlen, "id: missing or invalid");
	/* values a setter cannot produce (records built in code) */
	if(t->transport > BR_TP_TLS || t->direction < BR_DIR_INBOUND ||
			t->direction > BR_DIR_BOTH || t->auth < BR_AUTH_IP ||
			t->auth > BR_AUTH_BOTH || t->media_enc > BR_ENC_DTLS ||
			t->dtmf > BR_DTMF_INBAND || t->cid_policy > BR_CID_FIXED ||
			t->numplan.tech_mode > BR_TECH_BOTH ||
			t->numplan.plus_policy > BR_PLUS_NATIONAL)
		return fail(err, errlen, "record holds an out-of-range enum value");
	if(t->port == 0)
		return fail(err, errlen, "port: must be 1..65535");
	if(t->weight == 0)
		return fail(err, errlen, "weight: must be 1..65535");
	if(t->ncidrs > BR_TRUNK_MAX_CIDRS || t->nfailover > BR_MAX_FAILOVER)
		return fail(err, errlen, "record holds an out-of-range list");
	if(t->ncodecs == 0 || t->ncodecs > BR_MAX_CODECS)
		return fail(err, errlen, "codecs: 1..%d codecs needed", BR_MAX_CODECS);
	for(i = 0; i < t->ncodecs; i++)
		if(t->codecs[i] > BR_CODEC_OPUS)
			return fail(err, errlen, "codecs: unsupported codec");

	if((t->auth & BR_AUTH_IP) && (t->direction & BR_DIR_INBOUND) &&
			t->ncidrs == 0)
		return fail(err, errlen,
				"cidrs: auth %s on an inbound trunk needs at least one "
				"network",
				auth_names[t->auth]);
	if((t->auth & BR_AUTH_DIGEST) && t->username[0] == '\0')
		return fail(err, errlen, "username: required by auth %s",
				auth_names[t->auth]);
	if((t->auth & BR_AUTH_DIGEST) && t->password_enc[0] == '\0')
		return fail(err, errlen, "password_enc: required by auth %s",
				auth_names[t->auth]);
	if((t->direction & BR_DIR_OUTBOUND) && t->host[0] == '\0')
		return fail(err, errlen, "host: required by direction %s",
				dir_names[t->direction]);
	if(t->sips && t->transport != BR_TP_TLS)
		return fail(err, errlen, "sips: requires transport tls");
	if((t->cid_policy == BR_CID_OWNED_OR_DEFAULT ||
			   t->cid_policy == BR_CID_FIXED) &&
			t->cid_default[0] == '\0')
		return fail(err, errlen,
				"callerid_default: required by "
				"callerid_policy %s",
				cid_names[t->cid_policy]);
	if(uses_national(&t->numplan) && t->numplan.cc[0] == '\0')
		return fail(err, errlen,
				"country_code: required by national_prefix, "
				"national_length or plus_policy national");
	if(t->numplan.nsn_len != 0 &&
			strlen(t->numplan.cc) + t->numplan.nsn_len > 15)
		return fail(err, errlen,
				"national_length: country code + national number exceed 15 "
				"digits");
	if(t->numplan.tech_mode != BR_TECH_NONE &&
			t->numplan.tech_prefix[0] == '\0')
		return fail(err, errlen, "tech_prefix: required by tech_prefix_mode %s",
				tech_names[t->numplan.tech_mode]);
	return 0;
}

typedef struct emit_filter {
	const br_trunk_t *t;
	br_emit_fn fn;
	void *ctx;
} emit_filter_t;

/* The port is written only when it is not the transport's default, so a
 * stored record reads back the same whatever the field order. */
static int trunk_emit_cb(void *ctx, const char *key, const char *val)
{
	emit_filter_t *f = ctx;
	if(strcmp(key, "port") == 0
			&& f->t->port == default_port(f->t->transport))
		return 0;
	return f->fn(f->ctx, key, val);
}

int br_trunk_emit(const br_trunk_t *t, br_emit_fn fn, void *ctx)
{
	emit_filter_t f = {t, fn, ctx};
	return emit_record(trunk_fields, NFIELDS(trunk_fields), t, trunk_emit_cb,
			&f);
}

int br_trunk_failover_ok(const br_trunk_t *t, int code)
{
	int i;

	if(t == NULL)
		return 0;
	for(i = 0; i < t->nfailover && i < BR_MAX_FAILOVER; i++)
		if(t->failover[i] == code)
			return 1;
	return 0;
}

int br_trunk_source_ok(const br_trunk_t *t, const uint8_t ip[BR_IP_LEN])
{
	int i;

	if(t == NULL || ip == NULL)
		return 0;
	for(i = 0; i < t->ncidrs && i < BR_TRUNK_MAX_CIDRS; i++)
		if(br_net_contains(&t->cidrs[i], ip))
			return 1;
	return 0;
}

/* ---- agent ------------------------------------------------------------- */

void br_agent_defaults(br_agent_t *a)
{
	memset(a, 0, sizeof(*a));
	a->enabled = 1;
	a->protocol = BR_AI_TWILIO;
	strcpy(a->auth_header, "Authorization");
	strcpy(a->params, "{}");
	a->fail_policy = BR_AIFAIL_HANGUP;
}

int br_agent_set(br_agent_t *a, const char *key, const char *val, char *err,
		size_t errlen)
{
	br_agent_t *def;
	int rc;

	if(a == NULL || key == NULL)
		return fail(err, errlen, "missing record or key");
	/* ~3.7 KB: off the stack */
	def = malloc(sizeof(*def));
	if(def == NULL)
		return fail(err, errlen, "%s: out of memory", key);
	br_agent_defaults(def);
	rc = set_record(
			agent_fields, NFIELDS(agent_fields), a, def, key, val, err, errlen);
	free(def);
	return rc;
}

/* "sip:x" or "sips:x" with no spaces. */
static int sip_uri_like(const char *s)
{
	const char *rest;

	if(strncasecmp(s, "sip:", 4) == 0)
		rest = s + 4;
	else if(strncasecmp(s, "sips:", 5) == 0)
		rest = s + 5;
	else
		return 0;
	if(*rest == '\0')
		return 0;
	for(; *rest != '\0'; rest++)
		if((unsigned char)*rest <= 0x20 || *rest == 0x7f)
			return 0;
	return 1;
}

int br_agent_check(const br_agent_t *a, char *err, size_t errlen)
{
	if(a == NULL)
		return fail(err, errlen, "missing record");
	if(!br_id_valid(a->id))
		return fail(err, errlen, "id: missing or invalid");
	if(a->protocol > BR_AI_L16 || a->fail_policy > BR_AIFAIL_TRANSFER ||
			a->ntrunks > BR_AGENT_MAX_TRUNKS)
		return fail(err, errlen, "record holds an out-of-range value");
	if(a->fail_policy != BR_AIFAIL_HANGUP && a->fail_target[0] == '\0')
		return fail(err, errlen,
				"failure_target: required by "
				"failure_policy %s",
				fail_names[a->fail_policy]);
	if(a->fail_policy == BR_AIFAIL_TRANSFER && !br_e164_valid(a->fail_target) &&
			!sip_uri_like(a->fail_target))
		return fail(err, errlen,
				"failure_target: a transfer target must be an E.164 number "
				"or a sip:/sips: URI");
	return 0;
}

int br_agent_emit(const br_agent_t *a, br_emit_fn fn, void *ctx)
{
	return emit_record(agent_fields, NFIELDS(agent_fields), a, fn, ctx);
}

/* ---- DID --------------------------------------------------------------- */

int br_did_set(
		br_did_t *d, const char *key, const char *val, char *err, size_t errlen)
{
	br_did_t def;

	memset(&def, 0, sizeof(def));
	return set_record(
			did_fields, NFIELDS(did_fields), d, &def, key, val, err, errlen);
}

int br_did_emit(const br_did_t *d, br_emit_fn fn, void *ctx)
{
	return emit_record(did_fields, NFIELDS(did_fields), d, fn, ctx);
}

/* ---- worker ------------------------------------------------------------ */

int br_worker_set(br_worker_t *w, const char *key, const char *val, char *err,
		size_t errlen)
{
	br_worker_t def;

	/* defaults of a field reset with "": port 5060, udp, zeros */
	memset(&def, 0, sizeof(def));
	def.port = 5060;
	def.transport = BR_TP_UDP;
	return set_record(worker_fields, NFIELDS(worker_fields), w, &def, key, val,
			err, errlen);
}

int br_worker_emit(const br_worker_t *w, br_emit_fn fn, void *ctx)
{
	return emit_record(worker_fields, NFIELDS(worker_fields), w, fn, ctx);
}
