/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_keys.c -- unit tests of br_keys: every key kind, the Redis
 * Cluster hash tag of per-trunk keys, invalid ids and short buffers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "br_keys.h"

static void assert_key(enum br_key_kind kind, const char *id, const char *want)
{
	char buf[BR_KEY_MAX];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(br_key(buf, sizeof(buf), kind, id), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_global_keys(void **state)
{
	assert_string_equal(BR_KEY_VERSION, "byoc:v1:config:version");
	assert_string_equal(BR_KEY_CHANNEL, "byoc:v1:config");
	assert_string_equal(BR_KEY_TRUNKS, "byoc:v1:trunks");
	assert_string_equal(BR_KEY_AGENTS, "byoc:v1:agents");
	assert_string_equal(BR_KEY_DIDS, "byoc:v1:dids");
	assert_string_equal(BR_KEY_WORKERS, "byoc:v1:workers");
}

static void test_every_kind(void **state)
{
	assert_key(BR_K_TRUNK, "abc", "byoc:v1:trunk:abc");
	assert_key(BR_K_TRUNK_DIDS, "abc", "byoc:v1:trunk:abc:dids");
	assert_key(BR_K_AGENT, "ag-1", "byoc:v1:agent:ag-1");
	assert_key(BR_K_DID, "+14155550100", "byoc:v1:did:+14155550100");
	assert_key(BR_K_WORKER, "mw.2", "byoc:v1:worker:mw.2");
	assert_key(BR_K_LEASE, "abc", "byoc:v1:{t:abc}:lease");
	assert_key(BR_K_CPS, "abc", "byoc:v1:{t:abc}:cps");
	assert_key(BR_K_STATS, "abc", "byoc:v1:{t:abc}:stats");
	assert_key(BR_K_HEALTH, "abc", "byoc:v1:{t:abc}:health");
}

/* The part Redis Cluster hashes: between the first '{' and the next '}'
 * when non-empty, else the whole key. */
static void hash_part(const char *key, char *out, size_t len)
{
	const char *o = strchr(key, '{'), *c;

	if(o != NULL && (c = strchr(o + 1, '}')) != NULL && c > o + 1) {
		snprintf(out, len, "%.*s", (int)(c - o - 1), o + 1);
		return;
	}
	snprintf(out, len, "%s", key);
}

static void test_hash_tag_shared(void **state)
{
	static const enum br_key_kind tagged[] = {
			BR_K_LEASE, BR_K_CPS, BR_K_STATS, BR_K_HEALTH};
	char key[BR_KEY_MAX], tag[BR_KEY_MAX];
	size_t i;

	/* all runtime keys of one trunk hash to the same slot: "t:<id>" */
	for(i = 0; i < sizeof(tagged) / sizeof(tagged[0]); i++) {
		assert_true(br_key(key, sizeof(key), tagged[i], "trunk-7") > 0);
		hash_part(key, tag, sizeof(tag));
		assert_string_equal(tag, "t:trunk-7");
	}
	/* configuration keys carry no tag */
	assert_true(br_key(key, sizeof(key), BR_K_TRUNK, "trunk-7") > 0);
	assert_null(strchr(key, '{'));
}

static void test_invalid_id(void **state)
{
	char buf[BR_KEY_MAX] = "untouched";

	assert_int_equal(br_key(buf, sizeof(buf), BR_K_TRUNK, ""), -EINVAL);
	assert_int_equal(br_key(buf, sizeof(buf), BR_K_LEASE, ""), -EINVAL);
	assert_int_equal(br_key(buf, sizeof(buf), BR_K_TRUNK, NULL), -EINVAL);
	assert_int_equal(
			br_key(buf, sizeof(buf), (enum br_key_kind)99, "abc"), -EINVAL);
	assert_string_equal(buf, "untouched");
}

static void test_overflow(void **state)
{
	char buf[BR_KEY_MAX];
	char id[BR_KEY_MAX + 1];

	/* "byoc:v1:{t:abc}:lease" is 21 characters: 22 bytes needed */
	assert_int_equal(br_key(buf, 21, BR_K_LEASE, "abc"), -ENOSPC);
	assert_string_equal(buf, ""); /* no truncated key left behind */
	assert_int_equal(br_key(buf, 22, BR_K_LEASE, "abc"), 21);
	assert_string_equal(buf, "byoc:v1:{t:abc}:lease");
	assert_int_equal(br_key(buf, 0, BR_K_TRUNK, "abc"), -ENOSPC);
	assert_int_equal(br_key(NULL, 0, BR_K_TRUNK, "abc"), -ENOSPC);

	/* an id too long for BR_KEY_MAX */
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(br_key(buf, sizeof(buf), BR_K_TRUNK, id), -ENOSPC);

	/* the longest model id (64) fits every kind in BR_KEY_MAX */
	id[64] = '\0';
	for(int k = BR_K_TRUNK; k <= BR_K_HEALTH; k++)
		assert_true(br_key(buf, sizeof(buf), (enum br_key_kind)k, id) > 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_global_keys),
			cmocka_unit_test(test_every_kind),
			cmocka_unit_test(test_hash_tag_shared),
			cmocka_unit_test(test_invalid_id),
			cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
