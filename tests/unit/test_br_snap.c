/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_snap.c -- unit tests of br_snap: packing into one block,
 * lookups, inbound identification, outbound candidates (preference,
 * filters, priority and RFC 2782 weights), caller-ID policies, worker
 * choice and outcome names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "br_snap.h"

/* ---- fixtures ---------------------------------------------------------- */

/* Builds a trunk from "key", "value" pairs (NULL-terminated) on top of
 * the defaults, as a loader would, and adds it. */
static void add_trunk(br_snap_builder_t *b, const char *id, ...)
{
	br_trunk_t t;
	char err[256];
	const char *k, *v;
	va_list ap;

	br_trunk_defaults(&t);
	if(br_trunk_set(&t, "id", id, err, sizeof(err)) != 0)
		fail_msg("id %s: %s", id, err);
	va_start(ap, id);
	while((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if(br_trunk_set(&t, k, v, err, sizeof(err)) != 0)
			fail_msg("trunk %s: %s", id, err);
	}
	va_end(ap);
	assert_int_equal(br_snap_add_trunk(b, &t), 0);
}

static void add_agent(br_snap_builder_t *b, const char *id, ...)
{
	br_agent_t a;
	char err[256];
	const char *k, *v;
	va_list ap;

	br_agent_defaults(&a);
	if(br_agent_set(&a, "id", id, err, sizeof(err)) != 0)
		fail_msg("id %s: %s", id, err);
	va_start(ap, id);
	while((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if(br_agent_set(&a, k, v, err, sizeof(err)) != 0)
			fail_msg("agent %s: %s", id, err);
	}
	va_end(ap);
	assert_int_equal(br_snap_add_agent(b, &a), 0);
}

static void add_did(br_snap_builder_t *b, const char *num, const char *trunk,
		const char *agent)
{
	br_did_t d;

	memset(&d, 0, sizeof(d));
	snprintf(d.number, sizeof(d.number), "%s", num);
	snprintf(d.trunk, sizeof(d.trunk), "%s", trunk);
	snprintf(d.agent, sizeof(d.agent), "%s", agent);
	assert_int_equal(br_snap_add_did(b, &d), 0);
}

/* An allocator that counts its calls and remembers its one block. */
typedef struct counting
{
	int calls;
	size_t bytes;
	void *block;
	int fail;
} counting_t;

static void *count_alloc(size_t size, void *ctx)
{
	counting_t *c = ctx;

	c->calls++;
	c->bytes = size;
	if(c->fail)
		return NULL;
	c->block = test_malloc(size);
	/* garbage, not zeros: finish must initialise everything it uses */
	memset(c->block, 0xa5, size);
	return c->block;
}

static br_snap_t *finish(
		br_snap_builder_t *b, counting_t *c, br_snap_stats_t *st)
{
	br_snap_t *s;

	memset(c, 0, sizeof(*c));
	s = br_snap_finish(b, 42, count_alloc, c, st);
	assert_non_null(s);
	assert_int_equal(c->calls, 1);
	return s;
}

static void release(counting_t *c)
{
	test_free(c->block);
	c->block = NULL;
}

static void ip(uint8_t out[BR_IP_LEN], const char *s)
{
	assert_int_equal(br_ip_parse(out, s, strlen(s)), 0);
}

static uint32_t tix(const br_snap_t *s, const char *id)
{
	uint32_t i = br_snap_trunk_index(s, id);

	if(i == BR_NONE)
		fail_msg("no trunk %s", id);
	return i;
}

static uint32_t aix(const br_snap_t *s, const char *id)
{
	uint32_t i = br_snap_agent_index(s, id);

	if(i == BR_NONE)
		fail_msg("no agent %s", id);
	return i;
}

/* 1 if [p, p + n) lies inside the block. */
static int inside(const counting_t *c, const void *p, size_t n)
{
	const char *b = c->block, *q = p;

	return q >= b && q + n <= b + c->bytes;
}

/* ---- packing ----------------------------------------------------------- */

static void test_pack_one_block(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	br_snap_stats_t st;
	counting_t c;
	br_snap_t *s;
	uint32_t i, t, a;

	assert_non_null(b);
	/* out of order, one repeated id (the first is kept), one invalid */
	add_trunk(b, "t3", "cidrs", "192.0.2.3", "name", "three", NULL);
	add_trunk(b, "t1", "cidrs", "192.0.2.1", "name", "one", NULL);
	add_trunk(b, "t2", "cidrs", "192.0.2.2", "auth", "digest", "username", "u2",
			NULL);
	add_trunk(b, "t1", "cidrs", "192.0.2.99", "name", "one again", NULL);
	{
		br_trunk_t bad;
		br_trunk_defaults(&bad);
		strcpy(bad.id, "bad id");
		assert_int_equal(br_snap_add_trunk(b, &bad), 0);
	}
	add_agent(b, "zed", NULL);
	add_agent(b, "amy", "name", "first", NULL);
	add_agent(b, "amy", "name", "second", NULL);
	add_did(b, "+14155550101", "t1", "amy");
	add_did(b, "+14155550102", "t2", "");
	add_did(b, "+14155550103", "nope", "amy"); /* unknown trunk */
	add_did(b, "+14155550104", "t3", "ghost"); /* unknown agent */
	add_did(b, "+14155550101", "t3", "zed");   /* repeated number */
	add_did(b, "4155550105", "t3", "zed");	   /* not E.164 */

	s = finish(b, &c, &st);
	assert_int_equal(br_snap_size(s), c.bytes);
	assert_true(inside(&c, s, 1));
	assert_int_equal(br_snap_version(s), 42);
	assert_int_equal(st.trunks, 3);
	assert_int_equal(st.agents, 2);
	assert_int_equal(st.dids, 2);
	/* trunks: dup + invalid; agents: dup; dids: 4 */
	assert_int_equal(st.skipped, 2 + 1 + 4);
	assert_int_equal(br_snap_ntrunks(s), 3);
	assert_int_equal(br_snap_nagents(s), 2);
	assert_int_equal(br_snap_ndids(s), 2);

	/* sorted by id, first of a repeated id kept, every record inside the
	 * block */
	assert_string_equal(br_snap_trunk_at(s, 0)->id, "t1");
	assert_string_equal(br_snap_trunk_at(s, 0)->name, "one");
	assert_string_equal(br_snap_trunk_at(s, 1)->id, "t2");
	assert_string_equal(br_snap_trunk_at(s, 2)->id, "t3");
	assert_null(br_snap_trunk_at(s, 3));
	assert_string_equal(br_snap_agent_at(s, 0)->id, "amy");
	assert_string_equal(br_snap_agent_at(s, 0)->name, "first");
	assert_string_equal(br_snap_agent_at(s, 1)->id, "zed");
	assert_null(br_snap_agent_at(s, 2));
	for(i = 0; i < 3; i++)
		assert_true(inside(&c, br_snap_trunk_at(s, i), sizeof(br_trunk_t)));
	for(i = 0; i < 2; i++)
		assert_true(inside(&c, br_snap_agent_at(s, i), sizeof(br_agent_t)));

	/* the builder stays usable: add more and finish again */
	add_trunk(b, "t0", "cidrs", "192.0.2.0", NULL);
	{
		counting_t c2;
		br_snap_t *s2 = finish(b, &c2, NULL);
		assert_int_equal(br_snap_ntrunks(s2), 4);
		assert_string_equal(br_snap_trunk_at(s2, 0)->id, "t0");
		release(&c2);
	}
	/* the snapshot does not depend on the builder */
	br_snap_builder_free(b);
	assert_int_equal(br_snap_did(s, "+14155550101", &t, &a), 0);
	assert_int_equal(t, tix(s, "t1"));
	assert_int_equal(a, aix(s, "amy"));
	assert_int_equal(br_snap_did(s, "+14155550102", &t, &a), 0);
	assert_int_equal(t, tix(s, "t2"));
	assert_int_equal(a, BR_NONE);
	assert_int_equal(br_snap_trunk_by_user(s, "u2", 2), tix(s, "t2"));
	/* DIDs bound per agent (agent deletion guard) */
	assert_int_equal(br_snap_agent_dids(s, aix(s, "amy")), 1);
	assert_int_equal(br_snap_agent_dids(s, aix(s, "zed")), 0);
	release(&c);
}

static void test_pack_alloc_fails(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	counting_t c = {.fail = 1};

	add_trunk(b, "t1", "cidrs", "192.0.2.1", NULL);
	assert_null(br_snap_finish(b, 1, count_alloc, &c, NULL));
	assert_int_equal(c.calls, 1);
	assert_null(br_snap_finish(NULL, 1, count_alloc, &c, NULL));
	assert_null(br_snap_finish(b, 1, NULL, NULL, NULL));
	br_snap_builder_free(b);
	br_snap_builder_free(NULL);
}

static void test_empty_snapshot(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	br_ident_in_t in = {0};
	br_ident_out_t out;
	br_snap_stats_t st;
	uint32_t cand[4];
	counting_t c;
	br_snap_t *s;

	s = finish(b, &c, &st);
	br_snap_builder_free(b);
	assert_int_equal(st.trunks + st.agents + st.dids + st.skipped, 0);
	assert_int_equal(br_snap_ntrunks(s), 0);
	assert_int_equal(br_snap_trunk_index(s, "t1"), BR_NONE);
	assert_int_equal(br_snap_agent_index(s, "a1"), BR_NONE);
	assert_int_equal(br_snap_did(s, "+14155550100", NULL, NULL), -ENOENT);
	assert_int_equal(br_snap_trunk_by_user(s, "u", 1), BR_NONE);
	assert_false(br_snap_has_digest(s));
	ip(in.src_ip, "192.0.2.1");
	assert_int_equal(br_snap_match_source(s, in.src_ip, cand, 4), 0);
	in.user = "+14155550100";
	in.user_len = strlen(in.user);
	br_identify(s, &in, &out);
	assert_int_equal(out.outcome, BR_UNKNOWN_SOURCE);
	assert_int_equal(out.trunk, BR_NONE);
	assert_int_equal(
			br_outbound_candidates(s, 0, NULL, NULL, NULL, NULL, cand, 4), 0);
	release(&c);
}

/* Thousands of DIDs: every one found through the hash table, numbers
 * next to them not. */
static void test_many_dids(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	char num[BR_E164_MAX + 1];
	br_snap_stats_t st;
	uint32_t t, a, i;
	counting_t c;
	br_snap_t *s;

	add_trunk(b, "t1", "cidrs", "192.0.2.0/24", NULL);
	add_trunk(b, "t2", "cidrs", "198.51.100.0/24", NULL);
	add_agent(b, "a1", NULL);
	for(i = 0; i < 5000; i++) {
		snprintf(num, sizeof(num), "+4420%08u", i * 2);
		add_did(b, num, i % 2 ? "t2" : "t1", i % 3 ? "a1" : "");
	}
	s = finish(b, &c, &st);
	br_snap_builder_free(b);
	assert_int_equal(st.dids, 5000);
	for(i = 0; i < 5000; i++) {
		snprintf(num, sizeof(num), "+4420%08u", i * 2);
		assert_int_equal(br_snap_did(s, num, &t, &a), 0);
		assert_int_equal(t, i % 2 ? tix(s, "t2") : tix(s, "t1"));
		assert_int_equal(a, i % 3 ? aix(s, "a1") : BR_NONE);
		snprintf(num, sizeof(num), "+4420%08u", i * 2 + 1);
		assert_int_equal(br_snap_did(s, num, &t, &a), -ENOENT);
	}
	assert_int_equal(br_snap_did(s, "", &t, &a), -ENOENT);
	assert_int_equal(br_snap_did(s, "+44200000000000000000", &t, &a), -ENOENT);
	assert_int_equal(br_snap_did(s, NULL, &t, &a), -ENOENT);
	release(&c);
}

/* ---- lookups ----------------------------------------------------------- */

static void test_lookups(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	uint32_t cand[BR_MAX_CANDIDATES];
	uint8_t a[BR_IP_LEN];
	counting_t c;
	br_snap_t *s;

	add_trunk(b, "wide", "cidrs", "10.0.0.0/8", NULL);
	add_trunk(b, "mid", "cidrs", "10.1.0.0/16,172.16.0.0/12", NULL);
	add_trunk(b, "narrow", "cidrs", "10.1.2.0/24,10.1.0.0/16", NULL);
	add_trunk(b, "v6", "cidrs", "2001:db8::/32", NULL);
	/* digest-only: its allowlist is not used */
	add_trunk(b, "dig", "auth", "digest", "username", "Acme", "cidrs",
			"10.1.2.3", NULL);
	add_trunk(b, "both", "auth", "both", "username", "bothuser", "cidrs",
			"203.0.113.0/24", NULL);
	/* auth ip with a username: not in the username index */
	add_trunk(b, "ipuser", "username", "ipu", "cidrs", "198.51.100.0/24", NULL);
	s = finish(b, &c, NULL);
	br_snap_builder_free(b);

	/* both, dig, ipuser, mid, narrow, v6, wide */
	assert_int_equal(br_snap_trunk_index(s, "mid"), 3);
	assert_int_equal(br_snap_trunk_index(s, "both"), 0);
	assert_int_equal(br_snap_trunk_index(s, "wide"), 6);
	assert_int_equal(br_snap_trunk_index(s, "zzz"), BR_NONE);
	assert_int_equal(br_snap_trunk_index(s, ""), BR_NONE);
	assert_int_equal(br_snap_trunk_index(s, NULL), BR_NONE);

	/* usernames: exact, case-sensitive, length-bounded input */
	assert_int_equal(br_snap_trunk_by_user(s, "Acme", 4), tix(s, "dig"));
	assert_int_equal(br_snap_trunk_by_user(s, "Acme;x", 4), tix(s, "dig"));
	assert_int_equal(br_snap_trunk_by_user(s, "acme", 4), BR_NONE);
	assert_int_equal(br_snap_trunk_by_user(s, "Acm", 3), BR_NONE);
	assert_int_equal(br_snap_trunk_by_user(s, "Acmee", 5), BR_NONE);
	assert_int_equal(br_snap_trunk_by_user(s, "bothuser", 8), tix(s, "both"));
	assert_int_equal(br_snap_trunk_by_user(s, "ipu", 3), BR_NONE);
	assert_true(br_snap_has_digest(s));

	/* longest prefix first, each trunk once */
	ip(a, "10.1.2.3");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 3);
	assert_int_equal(cand[0], tix(s, "narrow"));
	assert_int_equal(cand[1], tix(s, "mid"));
	assert_int_equal(cand[2], tix(s, "wide"));
	assert_int_equal(br_snap_match_source(s, a, cand, 1), 1);
	assert_int_equal(cand[0], tix(s, "narrow"));
	ip(a, "10.200.0.1");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 1);
	assert_int_equal(cand[0], tix(s, "wide"));
	ip(a, "172.20.0.1");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 1);
	assert_int_equal(cand[0], tix(s, "mid"));
	ip(a, "2001:db8:1::1");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 1);
	assert_int_equal(cand[0], tix(s, "v6"));
	ip(a, "203.0.113.9");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 1);
	assert_int_equal(cand[0], tix(s, "both"));
	ip(a, "192.0.2.1");
	assert_int_equal(br_snap_match_source(s, a, cand, BR_MAX_CANDIDATES), 0);
	release(&c);
}

/* ---- identify ---------------------------------------------------------- */

typedef struct world
{
	counting_t c;
	br_snap_t *s;
} world_t;

/*
 * Carriers:
 *  - "acme" and "acme2" share 203.0.113.0/24 (one carrier, two
 *    accounts); "acme-pop" allowlists one host of that range
 *  - "uk" (national numbers, 0 prefix) and "us" share 198.51.100.10
 *  - "tech" strips the tech prefix "99#"
 *  - "dig" authenticates by digest only, "both" by source and digest
 *  - "off" is disabled, "out" is outbound only
 */
static int world_setup(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	world_t *w = test_calloc(1, sizeof(*w));

	add_trunk(b, "acme", "cidrs", "203.0.113.0/24", NULL);
	add_trunk(b, "acme2", "cidrs", "203.0.113.0/24", NULL);
	add_trunk(b, "acme-pop", "cidrs", "203.0.113.7", NULL);
	add_trunk(b, "uk", "cidrs", "198.51.100.10", "country_code", "44",
			"national_prefix", "0", NULL);
	add_trunk(b, "us", "cidrs", "198.51.100.10", "country_code", "1",
			"national_length", "10", NULL);
	add_trunk(b, "tech", "cidrs", "192.0.2.50", "tech_prefix", "99#",
			"tech_prefix_mode", "strip", NULL);
	add_trunk(b, "dig", "auth", "digest", "username", "diguser", NULL);
	add_trunk(b, "both", "auth", "both", "username", "bothuser", "cidrs",
			"192.0.2.128/25", NULL);
	add_trunk(b, "off", "cidrs", "192.0.2.60", "enabled", "0", NULL);
	add_trunk(b, "out", "cidrs", "192.0.2.61", "direction", "outbound", "host",
			"out.example", NULL);
	add_agent(b, "bot", NULL);
	add_agent(b, "sleepy", "enabled", "0", NULL);

	add_did(b, "+14155550001", "acme", "bot");
	add_did(b, "+14155550002", "acme2", "bot");
	add_did(b, "+14155550003", "acme-pop", "bot");
	add_did(b, "+14155550004", "acme", "");		  /* unbound */
	add_did(b, "+14155550005", "acme", "sleepy"); /* agent disabled */
	add_did(b, "+442071234567", "uk", "bot");
	add_did(b, "+12125550100", "us", "bot");
	add_did(b, "+14155550006", "tech", "bot");
	add_did(b, "+14155550007", "dig", "bot");
	add_did(b, "+14155550008", "both", "bot");
	add_did(b, "+14155550009", "off", "bot");
	add_did(b, "+14155550010", "out", "bot");

	w->s = br_snap_finish(b, 1, count_alloc, &w->c, NULL);
	br_snap_builder_free(b);
	assert_non_null(w->s);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	world_t *w = *state;

	release(&w->c);
	test_free(w);
	return 0;
}

/* identify() from 'src' for R-URI user 'user', optional digest user */
static void ident(const br_snap_t *s, const char *src, const char *user,
		const char *auth_user, br_ident_out_t *out)
{
	br_ident_in_t in;

	memset(&in, 0, sizeof(in));
	ip(in.src_ip, src);
	in.user = user;
	in.user_len = user ? strlen(user) : 0;
	in.auth_user = auth_user;
	in.auth_user_len = auth_user ? strlen(auth_user) : 0;
	memset(out, 0x5a, sizeof(*out));
	br_identify(s, &in, out);
}

static void expect(const br_snap_t *s, const br_ident_out_t *o, int outcome,
		const char *trunk, const char *agent, const char *did)
{
	if(o->outcome != outcome)
		fail_msg("outcome %s, want %s", br_outcome_name(o->outcome),
				br_outcome_name(outcome));
	assert_int_equal(o->trunk, trunk ? tix(s, trunk) : BR_NONE);
	assert_int_equal(o->agent, agent ? aix(s, agent) : BR_NONE);
	assert_string_equal(o->did, did);
}

static void test_identify_allowlisted(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	ident(w->s, "203.0.113.20", "+14155550001", NULL, &o);
	expect(w->s, &o, BR_OK, "acme", "bot", "+14155550001");
	assert_int_equal(o.verify_digest, 0);
	/* separators and URI parameters are dropped, digits-only is
	 * international */
	ident(w->s, "203.0.113.20", "1 (415) 555-0001;npdi", NULL, &o);
	expect(w->s, &o, BR_OK, "acme", "bot", "+14155550001");
}

static void test_identify_shared_ip(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	/* two trunks with the same CIDR: the DID tells them apart */
	ident(w->s, "203.0.113.20", "+14155550002", NULL, &o);
	expect(w->s, &o, BR_OK, "acme2", "bot", "+14155550002");
	ident(w->s, "203.0.113.20", "+14155550001", NULL, &o);
	expect(w->s, &o, BR_OK, "acme", "bot", "+14155550001");
	/* the /32 trunk is tried first but does not own these ... */
	ident(w->s, "203.0.113.7", "+14155550002", NULL, &o);
	expect(w->s, &o, BR_OK, "acme2", "bot", "+14155550002");
	/* ... and wins the number it owns */
	ident(w->s, "203.0.113.7", "+14155550003", NULL, &o);
	expect(w->s, &o, BR_OK, "acme-pop", "bot", "+14155550003");
}

static void test_identify_did_not_on_trunk(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	/* owned by nobody on this address: the longest prefix is blamed */
	ident(w->s, "203.0.113.7", "+19995550000", NULL, &o);
	expect(w->s, &o, BR_DID_NOT_ON_TRUNK, "acme-pop", NULL, "+19995550000");
	/* a DID of another carrier */
	ident(w->s, "203.0.113.20", "+442071234567", NULL, &o);
	assert_int_equal(o.outcome, BR_DID_NOT_ON_TRUNK);
	assert_true(o.trunk == tix(w->s, "acme") || o.trunk == tix(w->s, "acme2"));
	assert_string_equal(o.did, "+442071234567");
	/* not a number at all */
	ident(w->s, "203.0.113.7", "alice", NULL, &o);
	expect(w->s, &o, BR_DID_NOT_ON_TRUNK, "acme-pop", NULL, "");
	ident(w->s, "203.0.113.7", NULL, NULL, &o);
	expect(w->s, &o, BR_DID_NOT_ON_TRUNK, "acme-pop", NULL, "");
}

static void test_identify_unknown_source(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	world_t *w = *state;
	br_ident_out_t o;
	counting_t c;
	br_snap_t *s;

	/* this world has digest trunks: challenge */
	ident(w->s, "100.64.0.1", "+14155550001", NULL, &o);
	expect(w->s, &o, BR_AUTH_REQUIRED, NULL, NULL, "");

	/* a trunk with auth "both" takes digest too, even disabled */
	add_trunk(b, "acme", "cidrs", "203.0.113.0/24", NULL);
	add_trunk(b, "sec", "auth", "both", "username", "u", "cidrs",
			"192.0.2.0/24", "enabled", "0", NULL);
	s = finish(b, &c, NULL);
	assert_true(br_snap_has_digest(s));
	ident(s, "100.64.0.1", "+14155550001", NULL, &o);
	expect(s, &o, BR_AUTH_REQUIRED, NULL, NULL, "");
	release(&c);
	br_snap_builder_free(b);

	/* a world without: refuse */
	b = br_snap_builder_new();
	add_trunk(b, "acme", "cidrs", "203.0.113.0/24", NULL);
	add_did(b, "+14155550001", "acme", "");
	s = finish(b, &c, NULL);
	br_snap_builder_free(b);
	assert_false(br_snap_has_digest(s));
	ident(s, "100.64.0.1", "+14155550001", NULL, &o);
	expect(s, &o, BR_UNKNOWN_SOURCE, NULL, NULL, "");
	/* credentials for a world without digest trunks: unknown user */
	ident(s, "100.64.0.1", "+14155550001", "someone", &o);
	expect(s, &o, BR_AUTH_FAILED, NULL, NULL, "");
	release(&c);
}

static void test_identify_digest(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	/* any source, the username names the trunk */
	ident(w->s, "100.64.0.1", "+14155550007", "diguser", &o);
	expect(w->s, &o, BR_OK, "dig", "bot", "+14155550007");
	assert_int_equal(o.verify_digest, 1);
	/* unknown username */
	ident(w->s, "100.64.0.1", "+14155550007", "nobody", &o);
	expect(w->s, &o, BR_AUTH_FAILED, NULL, NULL, "");
	assert_int_equal(o.verify_digest, 0);
	/* a username from an allowlisted source still goes by username */
	ident(w->s, "203.0.113.20", "+14155550007", "diguser", &o);
	expect(w->s, &o, BR_OK, "dig", "bot", "+14155550007");
	/* the digest trunk does not own this DID */
	ident(w->s, "100.64.0.1", "+14155550001", "diguser", &o);
	expect(w->s, &o, BR_DID_NOT_ON_TRUNK, "dig", NULL, "+14155550001");
	assert_int_equal(o.verify_digest, 1);

	/* auth both: allowlisted source without credentials -> challenge */
	ident(w->s, "192.0.2.200", "+14155550008", NULL, &o);
	expect(w->s, &o, BR_AUTH_REQUIRED, "both", NULL, "+14155550008");
	/* with credentials from the allowlist: admitted, to be verified */
	ident(w->s, "192.0.2.200", "+14155550008", "bothuser", &o);
	expect(w->s, &o, BR_OK, "both", "bot", "+14155550008");
	assert_int_equal(o.verify_digest, 1);
	/* with credentials from elsewhere: refused by source */
	ident(w->s, "100.64.0.1", "+14155550008", "bothuser", &o);
	expect(w->s, &o, BR_UNKNOWN_SOURCE, "both", NULL, "");
	assert_int_equal(o.verify_digest, 0);
}

static void test_identify_trunk_state(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	ident(w->s, "192.0.2.60", "+14155550009", NULL, &o);
	expect(w->s, &o, BR_DISABLED, "off", NULL, "+14155550009");
	ident(w->s, "192.0.2.61", "+14155550010", NULL, &o);
	expect(w->s, &o, BR_DIRECTION, "out", NULL, "+14155550010");
	/* disabled comes first, even for a DID it does not own */
	ident(w->s, "192.0.2.60", "+14155550001", NULL, &o);
	expect(w->s, &o, BR_DISABLED, "off", NULL, "+14155550001");
}

static void test_identify_not_bound(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	ident(w->s, "203.0.113.20", "+14155550004", NULL, &o);
	expect(w->s, &o, BR_NOT_BOUND, "acme", NULL, "+14155550004");
	ident(w->s, "203.0.113.20", "+14155550005", NULL, &o);
	expect(w->s, &o, BR_NOT_BOUND, "acme", NULL, "+14155550005");
}

static void test_identify_normalisation(void **state)
{
	world_t *w = *state;
	br_ident_out_t o;

	/* national UK format: only the uk trunk's plan makes it the DID */
	ident(w->s, "198.51.100.10", "02071234567", NULL, &o);
	expect(w->s, &o, BR_OK, "uk", "bot", "+442071234567");
	/* 10-digit US national number: only the us trunk's plan */
	ident(w->s, "198.51.100.10", "2125550100", NULL, &o);
	expect(w->s, &o, BR_OK, "us", "bot", "+12125550100");
	/* international forms work through either */
	ident(w->s, "198.51.100.10", "00442071234567", NULL, &o);
	expect(w->s, &o, BR_OK, "uk", "bot", "+442071234567");
	ident(w->s, "198.51.100.10", "+1 212 555 0100", NULL, &o);
	expect(w->s, &o, BR_OK, "us", "bot", "+12125550100");
	/* tech prefix stripped */
	ident(w->s, "192.0.2.50", "99#14155550006", NULL, &o);
	expect(w->s, &o, BR_OK, "tech", "bot", "+14155550006");
	ident(w->s, "192.0.2.50", "+14155550006", NULL, &o);
	expect(w->s, &o, BR_OK, "tech", "bot", "+14155550006");
}

/* ---- outbound ---------------------------------------------------------- */

typedef struct xs
{
	uint32_t x;
	int calls;
} xs_t;

/* xorshift32: deterministic uniform 32-bit values */
static uint32_t xs_rnd(void *ctx)
{
	xs_t *r = ctx;

	r->calls++;
	r->x ^= r->x << 13;
	r->x ^= r->x >> 17;
	r->x ^= r->x << 5;
	return r->x;
}

static uint32_t const_rnd(void *ctx)
{
	return *(uint32_t *)ctx;
}

static int healthy_except(uint32_t trunk, void *ctx)
{
	return trunk != *(uint32_t *)ctx;
}

static br_snap_t *outbound_world(counting_t *c)
{
	br_snap_builder_t *b = br_snap_builder_new();
	br_snap_t *s;

	/* tenant acme: priorities 1 (light 1, heavy 3), 2, 5 */
	add_trunk(b, "p1-light", "tenant", "acme", "host", "a.example", "priority",
			"1", "weight", "1", "direction", "outbound", NULL);
	add_trunk(b, "p1-heavy", "tenant", "acme", "host", "b.example", "priority",
			"1", "weight", "3", "direction", "outbound", NULL);
	add_trunk(b, "p2", "tenant", "acme", "host", "c.example", "priority", "2",
			"cidrs", "192.0.2.1", NULL);
	add_trunk(b, "p5", "tenant", "acme", "host", "d.example", "priority", "5",
			"direction", "outbound", NULL);
	/* filtered out */
	add_trunk(b, "off", "tenant", "acme", "host", "e.example", "priority", "0",
			"enabled", "0", "direction", "outbound", NULL);
	add_trunk(b, "in-only", "tenant", "acme", "host", "f.example", "priority",
			"0", "direction", "inbound", "cidrs", "192.0.2.2", NULL);
	add_trunk(b, "no-host", "tenant", "acme", "priority", "0", "direction",
			"outbound", NULL);
	add_trunk(b, "other", "tenant", "globex", "host", "g.example", "priority",
			"0", "direction", "outbound", NULL);
	add_trunk(b, "notenant", "host", "h.example", "priority", "0", "direction",
			"outbound", NULL);
	add_agent(b, "pref", "tenant", "acme", "trunks",
			"p5,ghost,off,p1-light,other,p2,in-only,p1-heavy", NULL);
	add_agent(b, "free", "tenant", "acme", NULL);
	add_agent(b, "lonely", "tenant", "initech", NULL);
	s = finish(b, c, NULL);
	br_snap_builder_free(b);
	return s;
}

static void test_outbound_preference(void **state)
{
	uint32_t out[BR_MAX_CANDIDATES], sick;
	counting_t c;
	br_snap_t *s = outbound_world(&c);
	uint32_t agent = aix(s, "pref");
	xs_t r = {12345, 0};
	int n, i;

	/* the list's order, weights and priorities ignored; filtered:
	 * unknown, disabled, other tenant, inbound-only */
	for(i = 0; i < 20; i++) {
		n = br_outbound_candidates(
				s, agent, NULL, NULL, xs_rnd, &r, out, BR_MAX_CANDIDATES);
		assert_int_equal(n, 4);
		assert_int_equal(out[0], tix(s, "p5"));
		assert_int_equal(out[1], tix(s, "p1-light"));
		assert_int_equal(out[2], tix(s, "p2"));
		assert_int_equal(out[3], tix(s, "p1-heavy"));
	}
	/* unhealthy trunks are dropped */
	sick = tix(s, "p1-light");
	n = br_outbound_candidates(s, agent, healthy_except, &sick, xs_rnd, &r, out,
			BR_MAX_CANDIDATES);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], tix(s, "p5"));
	assert_int_equal(out[1], tix(s, "p2"));
	assert_int_equal(out[2], tix(s, "p1-heavy"));
	/* max */
	n = br_outbound_candidates(s, agent, NULL, NULL, NULL, NULL, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[1], tix(s, "p1-light"));
	assert_int_equal(
			br_outbound_candidates(s, agent, NULL, NULL, NULL, NULL, out, 0),
			0);
	assert_int_equal(br_outbound_candidates(s, 99, NULL, NULL, NULL, NULL, out,
							 BR_MAX_CANDIDATES),
			0);
	release(&c);
}

static void test_outbound_priority(void **state)
{
	uint32_t out[BR_MAX_CANDIDATES], sick, lo = 0, hi = UINT32_MAX;
	counting_t c;
	br_snap_t *s = outbound_world(&c);
	uint32_t agent = aix(s, "free");
	int n;

	/* tenant trunks by priority: {p1-light, p1-heavy}, p2, p5 */
	n = br_outbound_candidates(
			s, agent, NULL, NULL, NULL, NULL, out, BR_MAX_CANDIDATES);
	assert_int_equal(n, 4);
	assert_true(
			(out[0] == tix(s, "p1-light") && out[1] == tix(s, "p1-heavy")) ||
			(out[0] == tix(s, "p1-heavy") && out[1] == tix(s, "p1-light")));
	assert_int_equal(out[2], tix(s, "p2"));
	assert_int_equal(out[3], tix(s, "p5"));

	/* r = 0 picks the first of the running sum, r = max the last: both
	 * members of priority 1 can come first */
	n = br_outbound_candidates(
			s, agent, NULL, NULL, const_rnd, &lo, out, BR_MAX_CANDIDATES);
	assert_int_equal(n, 4);
	n = br_outbound_candidates(s, agent, NULL, NULL, const_rnd, &hi, out + 4,
			BR_MAX_CANDIDATES - 4);
	assert_int_equal(n, 4);
	assert_int_not_equal(out[0], out[4]);
	assert_int_equal(out[2], out[6]);

	/* unhealthy */
	sick = tix(s, "p2");
	n = br_outbound_candidates(s, agent, healthy_except, &sick, NULL, NULL, out,
			BR_MAX_CANDIDATES);
	assert_int_equal(n, 3);
	assert_int_equal(out[2], tix(s, "p5"));
	/* max cuts inside a priority */
	n = br_outbound_candidates(s, agent, NULL, NULL, NULL, NULL, out, 1);
	assert_int_equal(n, 1);
	assert_true(out[0] == tix(s, "p1-light") || out[0] == tix(s, "p1-heavy"));
	/* a tenant with no trunks */
	assert_int_equal(br_outbound_candidates(s, aix(s, "lonely"), NULL, NULL,
							 NULL, NULL, out, BR_MAX_CANDIDATES),
			0);
	release(&c);
}

static void test_outbound_weights(void **state)
{
	uint32_t out[BR_MAX_CANDIDATES];
	counting_t c;
	br_snap_t *s = outbound_world(&c);
	uint32_t agent = aix(s, "free"), heavy = tix(s, "p1-heavy");
	xs_t r = {0x9e3779b9u, 0};
	int i, n, first_heavy = 0, second_heavy = 0;

	/* weights 1:3 within priority 1: the heavy trunk comes first 3/4 of
	 * the time (and second the rest) */
	for(i = 0; i < 10000; i++) {
		n = br_outbound_candidates(
				s, agent, NULL, NULL, xs_rnd, &r, out, BR_MAX_CANDIDATES);
		assert_int_equal(n, 4);
		first_heavy += out[0] == heavy;
		second_heavy += out[1] == heavy;
	}
	assert_int_equal(first_heavy + second_heavy, 10000);
	assert_in_range(first_heavy, 7500 - 500, 7500 + 500);
	/* the random source was used */
	assert_true(r.calls >= 10000);
	release(&c);
}

/* ---- caller ID --------------------------------------------------------- */

static void test_callerid(void **state)
{
	br_snap_builder_t *b = br_snap_builder_new();
	char out[BR_E164_MAX + 1];
	counting_t c;
	br_snap_t *s;
	uint32_t any, owned, ood, fixed;

	add_trunk(b, "any", "cidrs", "192.0.2.1", NULL);
	add_trunk(
			b, "owned", "cidrs", "192.0.2.2", "callerid_policy", "owned", NULL);
	add_trunk(b, "ood", "cidrs", "192.0.2.3", "callerid_policy",
			"owned_or_default", "callerid_default", "+14155550199", NULL);
	add_trunk(b, "fixed", "cidrs", "192.0.2.4", "callerid_policy", "fixed",
			"callerid_default", "+14155550299", NULL);
	add_did(b, "+14155550101", "owned", "");
	add_did(b, "+14155550102", "ood", "");
	add_did(b, "+14155550103", "any", "");
	s = finish(b, &c, NULL);
	br_snap_builder_free(b);
	any = tix(s, "any");
	owned = tix(s, "owned");
	ood = tix(s, "ood");
	fixed = tix(s, "fixed");

	/* any: unchanged, whatever it is */
	assert_int_equal(
			br_callerid_apply(s, any, "+14155550999", out), BR_CID_KEEP);
	assert_string_equal(out, "+14155550999");
	assert_int_equal(br_callerid_apply(s, any, "", out), BR_CID_KEEP);
	assert_string_equal(out, "");
	assert_int_equal(br_callerid_apply(s, any, "anonymous", out), BR_CID_KEEP);
	assert_string_equal(out, "anonymous");

	/* owned: a DID of this trunk, or refused */
	assert_int_equal(
			br_callerid_apply(s, owned, "+14155550101", out), BR_CID_KEEP);
	assert_string_equal(out, "+14155550101");
	assert_int_equal(br_callerid_apply(s, owned, "+14155550102", out),
			BR_CID_REFUSED); /* another trunk's DID */
	assert_int_equal(
			br_callerid_apply(s, owned, "+14155550999", out), BR_CID_REFUSED);
	assert_int_equal(br_callerid_apply(s, owned, "", out), BR_CID_REFUSED);
	assert_int_equal(br_callerid_apply(s, owned, "14155550101", out),
			BR_CID_REFUSED); /* not E.164 */

	/* owned_or_default */
	assert_int_equal(
			br_callerid_apply(s, ood, "+14155550102", out), BR_CID_KEEP);
	assert_string_equal(out, "+14155550102");
	assert_int_equal(
			br_callerid_apply(s, ood, "+14155550101", out), BR_CID_REPLACED);
	assert_string_equal(out, "+14155550199");
	assert_int_equal(br_callerid_apply(s, ood, "", out), BR_CID_REPLACED);
	assert_string_equal(out, "+14155550199");

	/* fixed */
	assert_int_equal(
			br_callerid_apply(s, fixed, "+14155550101", out), BR_CID_REPLACED);
	assert_string_equal(out, "+14155550299");
	assert_int_equal(
			br_callerid_apply(s, fixed, "garbage", out), BR_CID_REPLACED);
	assert_string_equal(out, "+14155550299");
	assert_int_equal(
			br_callerid_apply(s, fixed, "+14155550299", out), BR_CID_KEEP);
	assert_string_equal(out, "+14155550299");

	/* no such trunk */
	assert_int_equal(
			br_callerid_apply(s, 99, "+14155550101", out), BR_CID_REFUSED);
	assert_string_equal(out, "");
	release(&c);
}

/* ---- workers ----------------------------------------------------------- */

static void wk(br_worker_t *w, uint32_t cap, uint32_t active, int draining)
{
	memset(w, 0, sizeof(*w));
	w->capacity = cap;
	w->active = active;
	w->draining = (uint8_t)draining;
}

static void test_worker_pick(void **state)
{
	br_worker_t w[4] = {0};
	uint32_t extra[4] = {0, 0, 0, 0};

	assert_int_equal(br_worker_pick(w, NULL, 0), BR_NONE);
	assert_int_equal(br_worker_pick(NULL, NULL, 3), BR_NONE);

	/* draining and full workers are skipped */
	wk(&w[0], 10, 0, 1);
	wk(&w[1], 10, 10, 0);
	wk(&w[2], 0, 0, 0);
	assert_int_equal(br_worker_pick(w, NULL, 3), BR_NONE);
	wk(&w[3], 10, 9, 0);
	assert_int_equal(br_worker_pick(w, NULL, 4), 3);
	/* calls sent since the last report count */
	extra[3] = 1;
	assert_int_equal(br_worker_pick(w, extra, 4), BR_NONE);

	/* least loaded by ratio, not by count: 40/100 beats 5/10 */
	wk(&w[0], 10, 5, 0);
	wk(&w[1], 100, 40, 0);
	assert_int_equal(br_worker_pick(w, NULL, 2), 1);
	/* extra moves it: (40 + 20) / 100 > 5/10 */
	extra[0] = 0;
	extra[1] = 20;
	assert_int_equal(br_worker_pick(w, extra, 2), 0);

	/* equal ratio: fewer calls wins; equal calls: lower index */
	wk(&w[0], 20, 10, 0);
	wk(&w[1], 10, 5, 0);
	wk(&w[2], 10, 5, 0);
	assert_int_equal(br_worker_pick(w, NULL, 3), 1);
	wk(&w[0], 10, 5, 0);
	assert_int_equal(br_worker_pick(w, NULL, 3), 0);
	/* idle workers: ratio 0, lowest index */
	wk(&w[0], 5, 0, 1);
	wk(&w[1], 50, 0, 0);
	wk(&w[2], 5, 0, 0);
	assert_int_equal(br_worker_pick(w, NULL, 3), 1);
	/* large numbers do not overflow */
	wk(&w[0], UINT32_MAX, UINT32_MAX - 2, 0);
	wk(&w[1], UINT32_MAX, UINT32_MAX - 1, 0);
	assert_int_equal(br_worker_pick(w, NULL, 2), 0);
}

static void test_outcome_names(void **state)
{
	int i, j;

	for(i = 0; i < BR_OUTCOME__MAX; i++) {
		const char *n = br_outcome_name(i);
		assert_non_null(n);
		assert_true(n[0] != '\0');
		assert_string_not_equal(n, "unknown");
		for(j = 0; j < i; j++)
			assert_string_not_equal(n, br_outcome_name(j));
	}
	assert_string_equal(br_outcome_name(BR_OK), "ok");
	assert_string_equal(br_outcome_name(BR_UNKNOWN_SOURCE), "unknown_source");
	assert_string_equal(br_outcome_name(BR_AUTH_REQUIRED), "auth_required");
	assert_string_equal(
			br_outcome_name(BR_DID_NOT_ON_TRUNK), "did_not_on_trunk");
	assert_string_equal(br_outcome_name(BR_NOT_BOUND), "not_bound");
	assert_string_equal(br_outcome_name(BR_FORBIDDEN), "forbidden");
	assert_string_equal(br_outcome_name(BR_OUTCOME__MAX), "unknown");
	assert_string_equal(br_outcome_name(-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_pack_one_block),
			cmocka_unit_test(test_pack_alloc_fails),
			cmocka_unit_test(test_empty_snapshot),
			cmocka_unit_test(test_many_dids),
			cmocka_unit_test(test_lookups),
			cmocka_unit_test_setup_teardown(
					test_identify_allowlisted, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_shared_ip, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(test_identify_did_not_on_trunk,
					world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_unknown_source, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_digest, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_trunk_state, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_not_bound, world_setup, world_teardown),
			cmocka_unit_test_setup_teardown(
					test_identify_normalisation, world_setup, world_teardown),
			cmocka_unit_test(test_outbound_preference),
			cmocka_unit_test(test_outbound_priority),
			cmocka_unit_test(test_outbound_weights),
			cmocka_unit_test(test_callerid),
			cmocka_unit_test(test_worker_pick),
			cmocka_unit_test(test_outcome_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
