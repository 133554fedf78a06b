/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_model.c -- unit tests of br_model: defaults, every field's
 * parser (valid and invalid values, error messages naming the field),
 * whole-record checks and the emit -> set round trip of trunk, agent, DID
 * and worker records.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "br_model.h"
#include "br_secret.h"

static const uint8_t test_key[BR_SECRET_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9,
		10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
		28, 29, 30, 31, 32};

/* A real encrypted text, so that br_secret_looks_valid accepts it. */
static void make_secret(char *out, size_t len, const char *aad)
{
	assert_true(br_secret_encrypt(test_key, aad, "s3cret", 6, out, len) > 0);
	assert_true(br_secret_looks_valid(out));
}

static void tset(br_trunk_t *t, const char *key, const char *val)
{
	char err[256] = "";
	int rc = br_trunk_set(t, key, val, err, sizeof(err));

	if(rc != 0)
		fail_msg("br_trunk_set(%s, '%s') = %d: %s", key, val, rc, err);
}

/* The value is refused, the error names the key, the record is left
 * unchanged. */
static void tbad(const char *key, const char *val)
{
	br_trunk_t t, before;
	char err[256] = "";
	int rc;

	br_trunk_defaults(&t);
	before = t;
	rc = br_trunk_set(&t, key, val, err, sizeof(err));
	if(rc != -EINVAL)
		fail_msg("br_trunk_set(%s, '%s') = %d, want -EINVAL", key,
				val ? val : "(null)", rc);
	if(strstr(err, key) == NULL)
		fail_msg("error for %s does not name it: '%s'", key, err);
	assert_memory_equal(&t, &before, sizeof(t));
}

static void aset(br_agent_t *a, const char *key, const char *val)
{
	char err[256] = "";
	int rc = br_agent_set(a, key, val, err, sizeof(err));

	if(rc != 0)
		fail_msg("br_agent_set(%s, '%s') = %d: %s", key, val, rc, err);
}

static void abad(const char *key, const char *val)
{
	br_agent_t a, before;
	char err[256] = "";
	int rc;

	br_agent_defaults(&a);
	before = a;
	rc = br_agent_set(&a, key, val, err, sizeof(err));
	if(rc != -EINVAL)
		fail_msg("br_agent_set(%s, '%s') = %d, want -EINVAL", key, val, rc);
	if(strstr(err, key) == NULL)
		fail_msg("error for %s does not name it: '%s'", key, err);
	assert_memory_equal(&a, &before, sizeof(a));
}

static void wbad(const char *key, const char *val)
{
	br_worker_t w, before;
	char err[256] = "";

	memset(&w, 0, sizeof(w));
	before = w;
	if(br_worker_set(&w, key, val, err, sizeof(err)) != -EINVAL)
		fail_msg("br_worker_set(%s, '%s') accepted", key, val);
	assert_non_null(strstr(err, key));
	assert_memory_equal(&w, &before, sizeof(w));
}

/* ---- emit collector ---------------------------------------------------- */

#define MAX_KV 64

typedef struct kv
{
	int n;
	char key[MAX_KV][32];
	char val[MAX_KV][BR_PARAMS_MAX + 64];
} kv_t;

static int collect(void *ctx, const char *key, const char *val)
{
	kv_t *kv = ctx;

	assert_true(kv->n < MAX_KV);
	assert_true(strlen(key) < sizeof(kv->key[0]));
	assert_true(strlen(val) < sizeof(kv->val[0]));
	strcpy(kv->key[kv->n], key);
	strcpy(kv->val[kv->n], val);
	kv->n++;
	return 0;
}

static const char *kv_get(const kv_t *kv, const char *key)
{
	int i;

	for(i = 0; i < kv->n; i++)
		if(strcmp(kv->key[i], key) == 0)
			return kv->val[i];
	return NULL;
}

static kv_t *kv_new(void)
{
	kv_t *kv = test_calloc(1, sizeof(*kv));
	assert_non_null(kv);
	return kv;
}

/* ---- ids --------------------------------------------------------------- */

static void test_id_valid(void **state)
{
	char long_id[BR_ID_MAX + 2];

	assert_true(br_id_valid("a"));
	assert_true(br_id_valid("Trunk-1.east_2"));
	assert_false(br_id_valid(""));
	assert_false(br_id_valid(NULL));
	assert_false(br_id_valid("a b"));
	assert_false(br_id_valid("a/b"));
	assert_false(br_id_valid("a:b"));
	assert_false(br_id_valid("caf\xc3\xa9"));
	memset(long_id, 'x', sizeof(long_id));
	long_id[BR_ID_MAX] = '\0';
	assert_true(br_id_valid(long_id));
	long_id[BR_ID_MAX] = 'x';
	long_id[BR_ID_MAX + 1] = '\0';
	assert_false(br_id_valid(long_id));
}

/* ---- trunk ------------------------------------------------------------- */

static void test_trunk_defaults(void **state)
{
	br_trunk_t t;

	memset(&t, 0x5a, sizeof(t));
	br_trunk_defaults(&t);
	assert_string_equal(t.id, "");
	assert_string_equal(t.host, "");
	assert_int_equal(t.port, 5060);
	assert_int_equal(t.transport, BR_TP_UDP);
	assert_int_equal(t.sips, 0);
	assert_int_equal(t.direction, BR_DIR_BOTH);
	assert_int_equal(t.auth, BR_AUTH_IP);
	assert_int_equal(t.ncidrs, 0);
	assert_int_equal(t.ncodecs, 2);
	assert_int_equal(t.codecs[0], BR_CODEC_PCMU);
	assert_int_equal(t.codecs[1], BR_CODEC_PCMA);
	assert_int_equal(t.media_enc, BR_ENC_NONE);
	assert_int_equal(t.dtmf, BR_DTMF_RFC2833);
	assert_int_equal(t.max_calls, 0);
	assert_int_equal(t.max_cps, 0);
	assert_int_equal(t.enabled, 1);
	assert_int_equal(t.priority, 10);
	assert_int_equal(t.weight, 100);
	assert_int_equal(t.nfailover, 6);
	assert_int_equal(t.failover[0], 408);
	assert_int_equal(t.failover[1], 480);
	assert_int_equal(t.failover[2], 500);
	assert_int_equal(t.failover[3], 502);
	assert_int_equal(t.failover[4], 503);
	assert_int_equal(t.failover[5], 504);
	assert_string_equal(t.numplan.cc, "");
	assert_string_equal(t.numplan.intl_prefix, "00");
	assert_int_equal(t.numplan.tech_mode, BR_TECH_NONE);
	assert_int_equal(t.numplan.plus_policy, BR_PLUS_E164);
	assert_int_equal(t.cid_policy, BR_CID_ANY);
	assert_string_equal(t.cid_default, "");
	assert_string_equal(t.password_enc, "");
}

static void test_trunk_set_valid(void **state)
{
	br_trunk_t t;
	char sec[BR_SECRET_ENC_MAX + 1];
	uint8_t ip[BR_IP_LEN];

	make_secret(sec, sizeof(sec), "trunk:t1");
	br_trunk_defaults(&t);
	tset(&t, "id", "t1");
	tset(&t, "name", "Carrier One (east) \xc3\xa9");
	tset(&t, "tenant", "acme");
	tset(&t, "host", "sip.carrier.example");
	assert_string_equal(t.host, "sip.carrier.example");
	tset(&t, "host", "192.0.2.10");
	tset(&t, "host", "2001:db8::10");
	assert_string_equal(t.host, "2001:db8::10");
	tset(&t, "port", "1");
	assert_int_equal(t.port, 1);
	tset(&t, "port", "65535");
	assert_int_equal(t.port, 65535);
	tset(&t, "transport", "tcp");
	assert_int_equal(t.transport, BR_TP_TCP);
	tset(&t, "transport", "TLS");
	assert_int_equal(t.transport, BR_TP_TLS);
	tset(&t, "transport", "udp");
	assert_int_equal(t.transport, BR_TP_UDP);
	tset(&t, "cidrs", "192.0.2.0/24, 2001:db8::/32,198.51.100.7");
	assert_int_equal(t.ncidrs, 3);
	assert_int_equal(t.cidrs[0].plen, 24 + 96);
	assert_int_equal(t.cidrs[1].plen, 32);
	assert_int_equal(t.cidrs[2].plen, 128);
	assert_int_equal(br_ip_parse(ip, "192.0.2.77", 10), 0);
	assert_true(br_trunk_source_ok(&t, ip));
	assert_int_equal(br_ip_parse(ip, "192.0.3.1", 9), 0);
	assert_false(br_trunk_source_ok(&t, ip));
	tset(&t, "username", "acme-user_1.x");
	tset(&t, "realm", "sip.carrier.example");
	tset(&t, "password_enc", sec);
	assert_string_equal(t.password_enc, sec);
	tset(&t, "codecs", "opus, g722,pcma,PCMU");
	assert_int_equal(t.ncodecs, 4);
	assert_int_equal(t.codecs[0], BR_CODEC_OPUS);
	assert_int_equal(t.codecs[1], BR_CODEC_G722);
	assert_int_equal(t.codecs[2], BR_CODEC_PCMA);
	assert_int_equal(t.codecs[3], BR_CODEC_PCMU);
	tset(&t, "codecs", "PCMA");
	assert_int_equal(t.ncodecs, 1);
	tset(&t, "max_calls", "4294967295");
	assert_int_equal(t.max_calls, UINT32_MAX);
	tset(&t, "max_cps", "0");
	assert_int_equal(t.max_cps, 0);
	tset(&t, "priority", "0");
	assert_int_equal(t.priority, 0);
	tset(&t, "priority", "65535");
	assert_int_equal(t.priority, 65535);
	tset(&t, "weight", "1");
	assert_int_equal(t.weight, 1);
	tset(&t, "weight", "65535");
	assert_int_equal(t.weight, 65535);
	tset(&t, "failover_codes", "300,408,503,699");
	assert_int_equal(t.nfailover, 4);
	assert_int_equal(t.failover[3], 699);
	tset(&t, "country_code", "44");
	assert_string_equal(t.numplan.cc, "44");
	tset(&t, "national_prefix", "0");
	tset(&t, "intl_prefix", "011");
	assert_string_equal(t.numplan.intl_prefix, "011");
	tset(&t, "national_length", "10");
	assert_int_equal(t.numplan.nsn_len, 10);
	tset(&t, "tech_prefix", "12#*Ab");
	assert_string_equal(t.numplan.tech_prefix, "12#*Ab");
	tset(&t, "callerid_default", "+14155550100");
	assert_string_equal(t.cid_default, "+14155550100");
}

static void test_trunk_enums(void **state)
{
	static const struct
	{
		const char *key, *val;
		size_t off;
		int want;
	} c[] = {
			{"transport", "udp", offsetof(br_trunk_t, transport), BR_TP_UDP},
			{"transport", "tcp", offsetof(br_trunk_t, transport), BR_TP_TCP},
			{"transport", "tls", offsetof(br_trunk_t, transport), BR_TP_TLS},
			{"direction", "inbound", offsetof(br_trunk_t, direction),
					BR_DIR_INBOUND},
			{"direction", "outbound", offsetof(br_trunk_t, direction),
					BR_DIR_OUTBOUND},
			{"direction", "both", offsetof(br_trunk_t, direction), BR_DIR_BOTH},
			{"auth", "ip", offsetof(br_trunk_t, auth), BR_AUTH_IP},
			{"auth", "digest", offsetof(br_trunk_t, auth), BR_AUTH_DIGEST},
			{"auth", "both", offsetof(br_trunk_t, auth), BR_AUTH_BOTH},
			{"media_encryption", "none", offsetof(br_trunk_t, media_enc),
					BR_ENC_NONE},
			{"media_encryption", "sdes", offsetof(br_trunk_t, media_enc),
					BR_ENC_SDES},
			{"media_encryption", "dtls", offsetof(br_trunk_t, media_enc),
					BR_ENC_DTLS},
			{"dtmf", "rfc2833", offsetof(br_trunk_t, dtmf), BR_DTMF_RFC2833},
			{"dtmf", "info", offsetof(br_trunk_t, dtmf), BR_DTMF_INFO},
			{"dtmf", "inband", offsetof(br_trunk_t, dtmf), BR_DTMF_INBAND},
			{"tech_prefix_mode", "none",
					offsetof(br_trunk_t, numplan.tech_mode), BR_TECH_NONE},
			{"tech_prefix_mode", "strip",
					offsetof(br_trunk_t, numplan.tech_mode), BR_TECH_STRIP},
			{"tech_prefix_mode", "add", offsetof(br_trunk_t, numplan.tech_mode),
					BR_TECH_ADD},
			{"tech_prefix_mode", "both",
					offsetof(br_trunk_t, numplan.tech_mode), BR_TECH_BOTH},
			{"plus_policy", "e164", offsetof(br_trunk_t, numplan.plus_policy),
					BR_PLUS_E164},
			{"plus_policy", "digits", offsetof(br_trunk_t, numplan.plus_policy),
					BR_PLUS_DIGITS},
			{"plus_policy", "national",
					offsetof(br_trunk_t, numplan.plus_policy),
					BR_PLUS_NATIONAL},
			{"callerid_policy", "any", offsetof(br_trunk_t, cid_policy),
					BR_CID_ANY},
			{"callerid_policy", "owned", offsetof(br_trunk_t, cid_policy),
					BR_CID_OWNED},
			{"callerid_policy", "owned_or_default",
					offsetof(br_trunk_t, cid_policy), BR_CID_OWNED_OR_DEFAULT},
			{"callerid_policy", "fixed", offsetof(br_trunk_t, cid_policy),
					BR_CID_FIXED},
	};
	br_trunk_t t;
	size_t i;

	for(i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		br_trunk_defaults(&t);
		tset(&t, c[i].key, c[i].val);
		assert_int_equal(((uint8_t *)&t)[c[i].off], c[i].want);
	}
}

static void test_trunk_booleans(void **state)
{
	static const char *const yes[] = {"1", "true", "yes", "on", "TRUE", "On"};
	static const char *const no[] = {"0", "false", "no", "off", "False", "NO"};
	br_trunk_t t;
	size_t i;

	br_trunk_defaults(&t);
	for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		tset(&t, "enabled", no[i]);
		assert_int_equal(t.enabled, 0);
		tset(&t, "enabled", yes[i]);
		assert_int_equal(t.enabled, 1);
		tset(&t, "sips", yes[i]);
		assert_int_equal(t.sips, 1);
		tset(&t, "sips", no[i]);
		assert_int_equal(t.sips, 0);
	}
	tbad("enabled", "2");
	tbad("enabled", "y");
	tbad("enabled", "truee");
	tbad("sips", "maybe");
	tbad("sips", " 1");
}

static void test_trunk_set_invalid(void **state)
{
	static const char *const bad[][2] = {
			{"id", "bad id"},
			{"id", "a/b"},
			{"tenant", "x y"},
			{"name", "tab\there"},
			{"host", "bad host"},
			{"host", "-lead.example"},
			{"host", "trail-.example"},
			{"host", "a..b"},
			{"host", "a.b."},
			{"host", "1.2.3.999"},
			{"host", "[2001:db8::1]"},
			{"host", "under_score.example"},
			{"port", "0"},
			{"port", "65536"},
			{"port", "-1"},
			{"port", "+5"},
			{"port", "50 60"},
			{"port", "abc"},
			{"port", "99999999999"},
			{"transport", "sctp"},
			{"transport", "ws"},
			{"direction", "sideways"},
			{"auth", "token"},
			{"cidrs", "10.0.0.1/24"},
			{"cidrs", "300.1.1.1"},
			{"cidrs", "10.0.0.0/33"},
			{"cidrs", "10.0.0.0/8,,192.0.2.0/24"},
			{"cidrs", "10.0.0.0/8,10.0.0.0/8"},
			{"cidrs", "example.com"},
			{"username", "a b"},
			{"username", "a:b"},
			{"username", "a@b"},
			{"realm", "a\"b"},
			{"realm", "a\\b"},
			{"password_enc", "plaintext"},
			{"password_enc", "v1:"},
			{"codecs", "G729"},
			{"codecs", "PCMU,G729"},
			{"codecs", "PCMU,PCMU"},
			{"codecs", "PCMU,pcmu"},
			{"codecs", "PCMU,"},
			{"media_encryption", "zrtp"},
			{"dtmf", "sip"},
			{"max_calls", "4294967296"},
			{"max_calls", "-1"},
			{"max_cps", "1.5"},
			{"enabled", "2"},
			{"priority", "65536"},
			{"weight", "0"},
			{"weight", "65536"},
			{"failover_codes", "486"},
			{"failover_codes", "404"},
			{"failover_codes", "600"},
			{"failover_codes", "603"},
			{"failover_codes", "408,486"},
			{"failover_codes", "299"},
			{"failover_codes", "700"},
			{"failover_codes", "200"},
			{"failover_codes", "503,503"},
			{"failover_codes", "5o3"},
			{"country_code", "0"},
			{"country_code", "1234"},
			{"country_code", "1a"},
			{"national_prefix", "a"},
			{"national_prefix", "0000"},
			{"intl_prefix", "0x"},
			{"intl_prefix", "00000"},
			{"national_length", "15"},
			{"national_length", "x"},
			{"tech_prefix", "12-"},
			{"tech_prefix", "12345678901234567"},
			{"tech_prefix_mode", "prepend"},
			{"plus_policy", "plus"},
			{"callerid_policy", "whatever"},
			{"callerid_default", "12345"},
			{"callerid_default", "+0123456789"},
			{"callerid_default", "+1415"},
	};
	char err[256];
	br_trunk_t t;
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tbad(bad[i][0], bad[i][1]);

	/* the failover refusal says why */
	br_trunk_defaults(&t);
	assert_int_equal(
			br_trunk_set(&t, "failover_codes", "408,486", err, sizeof(err)),
			-EINVAL);
	assert_non_null(strstr(err, "486"));
	assert_int_equal(t.nfailover, 6);

	/* unknown keys, NULL value, NULL err */
	assert_int_equal(
			br_trunk_set(&t, "colour", "red", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown"));
	assert_non_null(strstr(err, "colour"));
	assert_int_equal(
			br_trunk_set(&t, "Port", "5060", err, sizeof(err)), -EINVAL);
	assert_int_equal(br_trunk_set(&t, "port", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(br_trunk_set(&t, "port", "0", NULL, 0), -EINVAL);
	/* a secret is never echoed in the error */
	assert_int_equal(
			br_trunk_set(&t, "password_enc", "hunter2", err, sizeof(err)),
			-EINVAL);
	assert_null(strstr(err, "hunter2"));
	/* "other" messages never say "unknown" (readers skip unknown keys) */
	assert_int_equal(
			br_trunk_set(&t, "transport", "sctp", err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "unknown"));
}

static void test_trunk_list_limits(void **state)
{
	char list[40 * 24] = "";
	br_trunk_t t;
	size_t o = 0;
	int i;

	/* 32 networks fit, 33 do not */
	for(i = 0; i < BR_TRUNK_MAX_CIDRS; i++)
		o += (size_t)snprintf(
				list + o, sizeof(list) - o, "%s10.0.%d.0/24", i ? "," : "", i);
	br_trunk_defaults(&t);
	tset(&t, "cidrs", list);
	assert_int_equal(t.ncidrs, BR_TRUNK_MAX_CIDRS);
	snprintf(list + o, sizeof(list) - o, ",10.1.0.0/24");
	tbad("cidrs", list);

	/* 16 failover codes fit, 17 do not */
	o = 0;
	for(i = 0; i < BR_MAX_FAILOVER; i++)
		o += (size_t)snprintf(
				list + o, sizeof(list) - o, "%s%d", i ? "," : "", 500 + i);
	tset(&t, "failover_codes", list);
	assert_int_equal(t.nfailover, BR_MAX_FAILOVER);
	snprintf(list + o, sizeof(list) - o, ",599");
	tbad("failover_codes", list);

	/* text fields: length limits */
	memset(list, 'a', 200);
	list[BR_NAME_MAX] = '\0';
	tset(&t, "name", list);
	list[BR_NAME_MAX] = 'a';
	list[BR_NAME_MAX + 1] = '\0';
	tbad("name", list);
}

static void test_trunk_empty_resets(void **state)
{
	br_trunk_t t, d;

	br_trunk_defaults(&d);
	br_trunk_defaults(&t);
	tset(&t, "name", "x");
	tset(&t, "host", "h.example");
	tset(&t, "port", "5080");
	tset(&t, "direction", "inbound");
	tset(&t, "auth", "digest");
	tset(&t, "cidrs", "192.0.2.0/24");
	tset(&t, "codecs", "opus");
	tset(&t, "media_encryption", "sdes");
	tset(&t, "max_calls", "9");
	tset(&t, "enabled", "0");
	tset(&t, "priority", "1");
	tset(&t, "weight", "5");
	tset(&t, "failover_codes", "503");
	tset(&t, "intl_prefix", "011");
	tset(&t, "callerid_policy", "fixed");
	tset(&t, "callerid_default", "+14155550100");

	tset(&t, "name", "");
	tset(&t, "host", "");
	tset(&t, "port", "");
	tset(&t, "direction", "");
	tset(&t, "auth", "");
	tset(&t, "cidrs", "");
	tset(&t, "codecs", "");
	tset(&t, "media_encryption", "");
	tset(&t, "max_calls", "");
	tset(&t, "enabled", "");
	tset(&t, "priority", "");
	tset(&t, "weight", "");
	tset(&t, "failover_codes", "");
	tset(&t, "intl_prefix", "");
	tset(&t, "callerid_policy", "");
	tset(&t, "callerid_default", "");
	assert_memory_equal(&t, &d, sizeof(t));
}

static void test_trunk_port_follows_transport(void **state)
{
	br_trunk_t t;

	/* the default port follows the transport */
	br_trunk_defaults(&t);
	tset(&t, "transport", "tls");
	assert_int_equal(t.port, 5061);
	tset(&t, "transport", "tcp");
	assert_int_equal(t.port, 5060);
	/* an explicit other port is kept */
	tset(&t, "port", "5080");
	tset(&t, "transport", "tls");
	assert_int_equal(t.port, 5080);
	/* reset: default of the current transport */
	tset(&t, "port", "");
	assert_int_equal(t.port, 5061);
	/* explicit 5060 on tls, written after the transport, stays */
	tset(&t, "port", "5060");
	assert_int_equal(t.port, 5060);
	assert_int_equal(t.transport, BR_TP_TLS);

	/* ... and also when written before it (Redis hash order is not
	 * fixed) */
	br_trunk_defaults(&t);
	tset(&t, "port", "5060");
	tset(&t, "transport", "tls");
	assert_int_equal(t.port, 5060);
	br_trunk_defaults(&t);
	tset(&t, "port", "5061");
	tset(&t, "transport", "udp");
	assert_int_equal(t.port, 5061);
}

static int collect_port(void *ctx, const char *key, const char *val)
{
	if(strcmp(key, "port") == 0)
		strcpy(ctx, val);
	return 0;
}

static void test_trunk_port_emitted_only_when_explicit(void **state)
{
	br_trunk_t t;
	char port[16];

	br_trunk_defaults(&t);
	tset(&t, "transport", "tls");
	port[0] = 0;
	br_trunk_emit(&t, collect_port, port);
	assert_string_equal(port, ""); /* 5061 is tls's default: not stored */
	tset(&t, "port", "5070");
	br_trunk_emit(&t, collect_port, port);
	assert_string_equal(port, "5070");
}

static void test_trunk_check(void **state)
{
	char sec[BR_SECRET_ENC_MAX + 1], err[256];
	br_trunk_t t, ok;

	make_secret(sec, sizeof(sec), "trunk:t1");
	br_trunk_defaults(&ok);
	tset(&ok, "id", "t1");
	tset(&ok, "host", "sip.carrier.example");
	tset(&ok, "cidrs", "192.0.2.0/24");
	assert_int_equal(br_trunk_check(&ok, err, sizeof(err)), 0);

	/* id required */
	t = ok;
	t.id[0] = '\0';
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id"));

	/* auth ip (and both) on an inbound trunk needs a CIDR */
	t = ok;
	tset(&t, "cidrs", "");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cidrs"));
	tset(&t, "auth", "both");
	tset(&t, "username", "u");
	tset(&t, "password_enc", sec);
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cidrs"));
	/* ... but not an outbound-only trunk (the allowlist is inbound) */
	t = ok;
	tset(&t, "cidrs", "");
	tset(&t, "direction", "outbound");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* digest needs username and password */
	t = ok;
	tset(&t, "auth", "digest");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "username"));
	tset(&t, "username", "acme");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "password_enc"));
	tset(&t, "password_enc", sec);
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);
	/* digest without CIDRs is fine */
	tset(&t, "cidrs", "");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* outbound needs host */
	t = ok;
	tset(&t, "host", "");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host"));
	tset(&t, "direction", "inbound");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* sips needs tls */
	t = ok;
	tset(&t, "sips", "1");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sips"));
	tset(&t, "transport", "tls");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* caller-ID policies that replace need a default */
	t = ok;
	tset(&t, "callerid_policy", "owned");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);
	tset(&t, "callerid_policy", "owned_or_default");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "callerid_default"));
	tset(&t, "callerid_policy", "fixed");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	tset(&t, "callerid_default", "+14155550100");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* national forms need a country code */
	t = ok;
	tset(&t, "national_prefix", "0");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "country_code"));
	tset(&t, "country_code", "44");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);
	t = ok;
	tset(&t, "plus_policy", "national");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	t = ok;
	tset(&t, "national_length", "10");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	tset(&t, "country_code", "1");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);
	tset(&t, "country_code", "123");
	tset(&t, "national_length", "13");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);

	/* a tech prefix mode needs a prefix */
	t = ok;
	tset(&t, "tech_prefix_mode", "strip");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tech_prefix"));
	tset(&t, "tech_prefix", "123#");
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);

	/* values no setter produces */
	t = ok;
	t.transport = 7;
	assert_int_equal(br_trunk_check(&t, NULL, 0), -EINVAL);
	t = ok;
	t.ncodecs = 0;
	assert_int_equal(br_trunk_check(&t, NULL, 0), -EINVAL);
}

/* Every field set to a non-default value. */
static void full_trunk(br_trunk_t *t)
{
	char sec[BR_SECRET_ENC_MAX + 1];

	make_secret(sec, sizeof(sec), "trunk:rt-1");
	br_trunk_defaults(t);
	tset(t, "id", "rt-1");
	tset(t, "name", "Round trip, \"quoted\" & more");
	tset(t, "tenant", "acme");
	tset(t, "host", "2001:db8::5");
	tset(t, "transport", "tls");
	tset(t, "port", "5060");
	tset(t, "sips", "yes");
	tset(t, "direction", "inbound");
	tset(t, "auth", "both");
	tset(t, "cidrs", "192.0.2.0/24,2001:db8:0:0::/64,198.51.100.1");
	tset(t, "username", "acme");
	tset(t, "realm", "carrier.example");
	tset(t, "password_enc", sec);
	tset(t, "codecs", "opus,G722,PCMA");
	tset(t, "media_encryption", "dtls");
	tset(t, "dtmf", "info");
	tset(t, "max_calls", "100");
	tset(t, "max_cps", "5");
	tset(t, "enabled", "off");
	tset(t, "priority", "3");
	tset(t, "weight", "7");
	tset(t, "failover_codes", "503,408");
	tset(t, "country_code", "44");
	tset(t, "national_prefix", "0");
	tset(t, "intl_prefix", "00");
	tset(t, "national_length", "10");
	tset(t, "tech_prefix", "99#");
	tset(t, "tech_prefix_mode", "both");
	tset(t, "plus_policy", "national");
	tset(t, "callerid_policy", "owned_or_default");
	tset(t, "callerid_default", "+442071234567");
}

static void test_trunk_roundtrip(void **state)
{
	kv_t *kv = kv_new();
	br_trunk_t t, back;
	char err[256];
	int i;

	full_trunk(&t);
	assert_int_equal(br_trunk_check(&t, err, sizeof(err)), 0);
	assert_int_equal(br_trunk_emit(&t, collect, kv), 0);
	/* 31 keys, all documented ones */
	assert_int_equal(kv->n, 31);
	assert_string_equal(kv_get(kv, "codecs"), "opus,G722,PCMA");
	assert_string_equal(
			kv_get(kv, "cidrs"), "192.0.2.0/24,2001:db8::/64,198.51.100.1");
	assert_string_equal(kv_get(kv, "failover_codes"), "503,408");
	assert_string_equal(kv_get(kv, "transport"), "tls");
	assert_string_equal(kv_get(kv, "port"), "5060");
	assert_string_equal(kv_get(kv, "enabled"), "0");
	assert_string_equal(kv_get(kv, "sips"), "1");
	assert_string_equal(kv_get(kv, "direction"), "inbound");
	assert_string_equal(kv_get(kv, "auth"), "both");
	assert_string_equal(kv_get(kv, "media_encryption"), "dtls");
	assert_string_equal(kv_get(kv, "callerid_policy"), "owned_or_default");
	assert_string_equal(kv_get(kv, "plus_policy"), "national");
	assert_string_equal(kv_get(kv, "tech_prefix_mode"), "both");
	assert_non_null(kv_get(kv, "password_enc"));
	/* transport is emitted before port, so reading back in emit order
	 * keeps an explicit port */
	for(i = 0; strcmp(kv->key[i], "transport") != 0; i++)
		assert_string_not_equal(kv->key[i], "port");

	br_trunk_defaults(&back);
	for(i = 0; i < kv->n; i++)
		tset(&back, kv->key[i], kv->val[i]);
	assert_memory_equal(&back, &t, sizeof(t));

	/* the defaults round trip too; password_enc is left out when empty */
	memset(kv, 0, sizeof(*kv));
	br_trunk_defaults(&t);
	assert_int_equal(br_trunk_emit(&t, collect, kv), 0);
	/* password_enc is left out when empty, port when it is the
	 * transport's default */
	assert_int_equal(kv->n, 29);
	assert_null(kv_get(kv, "password_enc"));
	assert_null(kv_get(kv, "port"));
	assert_string_equal(
			kv_get(kv, "failover_codes"), "408,480,500,502,503,504");
	assert_string_equal(kv_get(kv, "codecs"), "PCMU,PCMA");
	memset(&back, 0x33, sizeof(back));
	br_trunk_defaults(&back);
	for(i = 0; i < kv->n; i++)
		tset(&back, kv->key[i], kv->val[i]);
	assert_memory_equal(&back, &t, sizeof(t));
	test_free(kv);
}

static int stop_at_port(void *ctx, const char *key, const char *val)
{
	int *n = ctx;

	(*n)++;
	return strcmp(key, "transport") == 0 ? 42 : 0;
}

static void test_emit_stops(void **state)
{
	br_trunk_t t;
	int n = 0;

	br_trunk_defaults(&t);
	assert_int_equal(br_trunk_emit(&t, stop_at_port, &n), 42);
	assert_true(n > 0 && n < 10);
}

static void test_trunk_failover_ok(void **state)
{
	br_trunk_t t;

	br_trunk_defaults(&t);
	assert_true(br_trunk_failover_ok(&t, 408));
	assert_true(br_trunk_failover_ok(&t, 503));
	assert_false(br_trunk_failover_ok(&t, 486));
	assert_false(br_trunk_failover_ok(&t, 404));
	assert_false(br_trunk_failover_ok(&t, 603));
	assert_false(br_trunk_failover_ok(&t, 200));
	tset(&t, "failover_codes", "503");
	assert_false(br_trunk_failover_ok(&t, 408));
	assert_true(br_trunk_failover_ok(&t, 503));
}

static void test_names(void **state)
{
	assert_string_equal(br_codec_name(BR_CODEC_PCMU), "PCMU");
	assert_string_equal(br_codec_name(BR_CODEC_PCMA), "PCMA");
	assert_string_equal(br_codec_name(BR_CODEC_G722), "G722");
	assert_string_equal(br_codec_name(BR_CODEC_OPUS), "opus");
	assert_string_equal(br_codec_name(9), "?");
	assert_string_equal(br_transport_name(BR_TP_UDP), "udp");
	assert_string_equal(br_transport_name(BR_TP_TCP), "tcp");
	assert_string_equal(br_transport_name(BR_TP_TLS), "tls");
	assert_string_equal(br_transport_name(-1), "?");
}

/* ---- agent ------------------------------------------------------------- */

static void test_agent_defaults(void **state)
{
	br_agent_t a;

	memset(&a, 0x77, sizeof(a));
	br_agent_defaults(&a);
	assert_string_equal(a.id, "");
	assert_int_equal(a.enabled, 1);
	assert_int_equal(a.protocol, BR_AI_TWILIO);
	assert_string_equal(a.auth_header, "Authorization");
	assert_string_equal(a.params, "{}");
	assert_int_equal(a.fail_policy, BR_AIFAIL_HANGUP);
	assert_int_equal(a.ntrunks, 0);
	assert_int_equal(a.max_duration, 0);
	assert_string_equal(a.ws_url, "");
}

static void test_agent_ws_url(void **state)
{
	static const char *const good[] = {"ws://ai.example/stream",
			"wss://ai.example", "wss://ai.example:8443/v1/media?x=1",
			"ws://127.0.0.1:8080/", "ws://[::1]:9000/a", "WSS://AI.example/x",
			"wss://[2001:db8::1]"};
	static const char *const bad[] = {"http://ai.example/", "ws://",
			"wss:///path", "ws://:80/", "ws://host:0/", "ws://host:65536/",
			"ws://host:/", "ws://host:abc/", "wss://a b/", "ws://user:pw@host/",
			"ws://[::1/", "ws://[1.2.3.4]/", "ai.example", "ws://bad_host/",
			"ws://host/\x01"};
	br_agent_t a;
	size_t i;

	br_agent_defaults(&a);
	for(i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		aset(&a, "ws_url", good[i]);
		assert_string_equal(a.ws_url, good[i]);
	}
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		abad("ws_url", bad[i]);
}

static void test_agent_params(void **state)
{
	char big[BR_PARAMS_MAX + 64];
	char err[256];
	br_agent_t a;
	size_t o;
	int i;

	br_agent_defaults(&a);
	aset(&a, "params", "{ \"lang\" : \"en\",\n \"voice\": \"alloy\" }");
	/* stored compact, keys in their order */
	assert_string_equal(a.params, "{\"lang\":\"en\",\"voice\":\"alloy\"}");
	aset(&a, "params", "{}");
	assert_string_equal(a.params, "{}");
	aset(&a, "params", "{\"u\":\"caf\\u00e9\"}");
	assert_string_equal(a.params, "{\"u\":\"caf\xc3\xa9\"}");
	aset(&a, "params", "");
	assert_string_equal(a.params, "{}");

	abad("params", "[]");
	abad("params", "\"x\"");
	abad("params", "{\"a\":1}");
	abad("params", "{\"a\":true}");
	abad("params", "{\"a\":null}");
	abad("params", "{\"a\":{\"b\":\"c\"}}");
	abad("params", "{\"a\":[\"b\"]}");
	abad("params", "{\"a\":\"b\",\"a\":\"c\"}");
	abad("params", "{\"a\":\"b\"");
	abad("params", "{\"\":\"b\"}");
	abad("params", "{\"a\":\"b\\u0000c\"}");
	abad("params", "{\"a\":\"\xff\"}");

	/* the error names the offending parameter */
	assert_int_equal(br_agent_set(&a, "params", "{\"ok\":\"1\",\"n\":2}", err,
							 sizeof(err)),
			-EINVAL);
	assert_non_null(strstr(err, "'n'"));

	/* the compact form must fit BR_PARAMS_MAX */
	o = (size_t)snprintf(big, sizeof(big), "{");
	for(i = 0; o < BR_PARAMS_MAX + 10; i++)
		o += (size_t)snprintf(
				big + o, sizeof(big) - o, "%s\"k%04d\":\"v\"", i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "}");
	abad("params", big);
}

static void test_agent_fields(void **state)
{
	char sec[BR_SECRET_ENC_MAX + 1];
	br_agent_t a;

	make_secret(sec, sizeof(sec), "agent:a1");
	br_agent_defaults(&a);
	aset(&a, "id", "a1");
	aset(&a, "name", "Support bot");
	aset(&a, "tenant", "acme");
	aset(&a, "enabled", "no");
	assert_int_equal(a.enabled, 0);
	aset(&a, "protocol", "l16");
	assert_int_equal(a.protocol, BR_AI_L16);
	aset(&a, "protocol", "twilio");
	assert_int_equal(a.protocol, BR_AI_TWILIO);
	abad("protocol", "pcm");
	aset(&a, "auth_header", "X-Api-Key");
	assert_string_equal(a.auth_header, "X-Api-Key");
	aset(&a, "auth_header", "");
	assert_string_equal(a.auth_header, "Authorization");
	abad("auth_header", "X Api");
	abad("auth_header", "X:Api");
	aset(&a, "auth_token_enc", sec);
	abad("auth_token_enc", "Bearer abc");
	aset(&a, "trunks", "t2, t1,t3");
	assert_int_equal(a.ntrunks, 3);
	assert_string_equal(a.trunks[0], "t2");
	assert_string_equal(a.trunks[1], "t1");
	assert_string_equal(a.trunks[2], "t3");
	aset(&a, "trunks", "t1,t2,t3,t4,t5,t6,t7,t8");
	assert_int_equal(a.ntrunks, 8);
	abad("trunks", "t1,t2,t3,t4,t5,t6,t7,t8,t9");
	abad("trunks", "t1,t1");
	abad("trunks", "t1,bad id");
	abad("trunks", "t1,,t2");
	aset(&a, "trunks", "");
	assert_int_equal(a.ntrunks, 0);
	aset(&a, "max_duration", "3600");
	assert_int_equal(a.max_duration, 3600);
	abad("max_duration", "-5");
	aset(&a, "failure_policy", "transfer");
	assert_int_equal(a.fail_policy, BR_AIFAIL_TRANSFER);
	aset(&a, "failure_policy", "message");
	assert_int_equal(a.fail_policy, BR_AIFAIL_MESSAGE);
	abad("failure_policy", "retry");
	aset(&a, "failure_target", "/var/lib/byoc/sorry.wav");
	abad("failure_target", "a\nb");
	abad("colour", "x");
}

static void test_agent_check(void **state)
{
	char err[256];
	br_agent_t a;

	br_agent_defaults(&a);
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id"));
	aset(&a, "id", "a1");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);

	aset(&a, "failure_policy", "message");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "failure_target"));
	aset(&a, "failure_target", "https://files.example/sorry.wav");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);

	/* a transfer goes to a number or a SIP URI */
	aset(&a, "failure_policy", "transfer");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "failure_target"));
	aset(&a, "failure_target", "+14155550100");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);
	aset(&a, "failure_target", "sip:desk@pbx.example");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);
	aset(&a, "failure_target", "sips:desk@pbx.example");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);
	aset(&a, "failure_target", "sip:");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	aset(&a, "failure_target", "4155550100");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	aset(&a, "failure_target", "");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), -EINVAL);
	aset(&a, "failure_policy", "hangup");
	assert_int_equal(br_agent_check(&a, err, sizeof(err)), 0);
}

static void test_agent_roundtrip(void **state)
{
	char sec[BR_SECRET_ENC_MAX + 1];
	kv_t *kv = kv_new();
	br_agent_t a, back;
	int i;

	make_secret(sec, sizeof(sec), "agent:a1");
	br_agent_defaults(&a);
	aset(&a, "id", "a1");
	aset(&a, "name", "Bot");
	aset(&a, "tenant", "acme");
	aset(&a, "enabled", "0");
	aset(&a, "ws_url", "wss://ai.example/v1?agent=a1");
	aset(&a, "protocol", "l16");
	aset(&a, "auth_header", "X-Key");
	aset(&a, "auth_token_enc", sec);
	aset(&a, "params", "{\"b\": \"2\", \"a\": \"1\"}");
	aset(&a, "trunks", "t9,t1");
	aset(&a, "max_duration", "600");
	aset(&a, "failure_policy", "transfer");
	aset(&a, "failure_target", "sip:human@pbx.example");
	assert_int_equal(br_agent_check(&a, NULL, 0), 0);

	assert_int_equal(br_agent_emit(&a, collect, kv), 0);
	assert_int_equal(kv->n, 13);
	assert_string_equal(kv_get(kv, "params"), "{\"b\":\"2\",\"a\":\"1\"}");
	assert_string_equal(kv_get(kv, "trunks"), "t9,t1");
	assert_string_equal(kv_get(kv, "protocol"), "l16");
	assert_string_equal(kv_get(kv, "failure_policy"), "transfer");
	assert_string_equal(kv_get(kv, "enabled"), "0");
	br_agent_defaults(&back);
	for(i = 0; i < kv->n; i++)
		aset(&back, kv->key[i], kv->val[i]);
	assert_memory_equal(&back, &a, sizeof(a));
	test_free(kv);
}

/* ---- DID and worker ---------------------------------------------------- */

static void test_did(void **state)
{
	kv_t *kv = kv_new();
	char err[256];
	br_did_t d, back;
	int i;

	memset(&d, 0, sizeof(d));
	strcpy(d.number, "+14155550100");
	assert_int_equal(br_did_set(&d, "trunk", "t1", err, sizeof(err)), 0);
	assert_int_equal(br_did_set(&d, "agent", "a1", err, sizeof(err)), 0);
	assert_string_equal(d.trunk, "t1");
	assert_string_equal(d.agent, "a1");
	/* "" unbinds */
	assert_int_equal(br_did_set(&d, "agent", "", err, sizeof(err)), 0);
	assert_string_equal(d.agent, "");
	assert_int_equal(
			br_did_set(&d, "agent", "bad id", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent"));
	assert_int_equal(br_did_set(&d, "trunk", "t/1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "trunk"));
	assert_string_equal(d.trunk, "t1");
	/* the number is the record's key, not a field */
	assert_int_equal(br_did_set(&d, "number", "+14155550101", err, sizeof(err)),
			-EINVAL);
	assert_non_null(strstr(err, "unknown"));
	assert_string_equal(d.number, "+14155550100");

	assert_int_equal(br_did_set(&d, "agent", "a2", err, sizeof(err)), 0);
	assert_int_equal(br_did_emit(&d, collect, kv), 0);
	assert_int_equal(kv->n, 2);
	assert_string_equal(kv_get(kv, "trunk"), "t1");
	assert_string_equal(kv_get(kv, "agent"), "a2");
	memset(&back, 0, sizeof(back));
	strcpy(back.number, d.number);
	for(i = 0; i < kv->n; i++)
		assert_int_equal(br_did_set(&back, kv->key[i], kv->val[i], NULL, 0), 0);
	assert_memory_equal(&back, &d, sizeof(d));
	test_free(kv);
}

static void test_worker(void **state)
{
	kv_t *kv = kv_new();
	char err[256];
	br_worker_t w, back;
	int i;

	memset(&w, 0, sizeof(w));
	assert_int_equal(
			br_worker_set(&w, "addr", "10.0.0.5", err, sizeof(err)), 0);
	assert_int_equal(br_worker_set(&w, "port", "5070", err, sizeof(err)), 0);
	assert_int_equal(
			br_worker_set(&w, "transport", "tcp", err, sizeof(err)), 0);
	assert_int_equal(br_worker_set(&w, "capacity", "200", err, sizeof(err)), 0);
	assert_int_equal(br_worker_set(&w, "active", "17", err, sizeof(err)), 0);
	assert_int_equal(
			br_worker_set(&w, "draining", "true", err, sizeof(err)), 0);
	assert_int_equal(br_worker_set(&w, "wideband", "1", err, sizeof(err)), 0);
	assert_string_equal(w.addr, "10.0.0.5");
	assert_int_equal(w.port, 5070);
	assert_int_equal(w.transport, BR_TP_TCP);
	assert_int_equal(w.capacity, 200);
	assert_int_equal(w.active, 17);
	assert_int_equal(w.draining, 1);
	assert_int_equal(w.wideband, 1);
	assert_int_equal(br_worker_set(&w, "addr", "fd00::5", err, sizeof(err)), 0);

	wbad("addr", "worker.example");
	wbad("addr", "10.0.0.256");
	wbad("port", "0");
	wbad("port", "65536");
	wbad("transport", "tls");
	wbad("transport", "sctp");
	wbad("capacity", "-1");
	wbad("active", "x");
	wbad("draining", "perhaps");
	wbad("wideband", "2");
	assert_int_equal(br_worker_set(&w, "id", "w1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown"));
	/* reset: port 5060 */
	assert_int_equal(br_worker_set(&w, "port", "", err, sizeof(err)), 0);
	assert_int_equal(w.port, 5060);

	assert_int_equal(br_worker_emit(&w, collect, kv), 0);
	assert_int_equal(kv->n, 7);
	assert_string_equal(kv_get(kv, "transport"), "tcp");
	assert_string_equal(kv_get(kv, "capacity"), "200");
	assert_string_equal(kv_get(kv, "draining"), "1");
	memset(&back, 0, sizeof(back));
	for(i = 0; i < kv->n; i++)
		assert_int_equal(
				br_worker_set(&back, kv->key[i], kv->val[i], NULL, 0), 0);
	assert_memory_equal(&back, &w, sizeof(w));
	test_free(kv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_id_valid),
			cmocka_unit_test(test_trunk_defaults),
			cmocka_unit_test(test_trunk_set_valid),
			cmocka_unit_test(test_trunk_enums),
			cmocka_unit_test(test_trunk_booleans),
			cmocka_unit_test(test_trunk_set_invalid),
			cmocka_unit_test(test_trunk_list_limits),
			cmocka_unit_test(test_trunk_empty_resets),
			cmocka_unit_test(test_trunk_port_follows_transport),
			cmocka_unit_test(test_trunk_check),
			cmocka_unit_test(test_trunk_roundtrip),
			cmocka_unit_test(test_trunk_port_emitted_only_when_explicit),
			cmocka_unit_test(test_emit_stops),
			cmocka_unit_test(test_trunk_failover_ok),
			cmocka_unit_test(test_names),
			cmocka_unit_test(test_agent_defaults),
			cmocka_unit_test(test_agent_ws_url),
			cmocka_unit_test(test_agent_params),
			cmocka_unit_test(test_agent_fields),
			cmocka_unit_test(test_agent_check),
			cmocka_unit_test(test_agent_roundtrip),
			cmocka_unit_test(test_did),
			cmocka_unit_test(test_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
