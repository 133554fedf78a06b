/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_secret.c -- unit tests of br_secret: AES-256-GCM round trips,
 * authentication failures (wrong key, wrong record, tampering), strict
 * parsing of the text form, key loading, wiping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "br_secret.h"

#define KEY_HEX \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define TEXT_MAX 256
#define RAW_MAX (12 + BR_SECRET_PLAIN_MAX + 16)

static void test_key(uint8_t key[BR_SECRET_KEY_LEN])
{
	assert_int_equal(br_secret_key_load(key, NULL, KEY_HEX, NULL, 0), 0);
}

static int enc(const uint8_t *key, const char *aad, const char *plain,
		char out[TEXT_MAX])
{
	return br_secret_encrypt(key, aad, plain, strlen(plain), out, TEXT_MAX);
}

/* base64 body of a text form to raw bytes (OpenSSL's decoder is fine for
 * text this module wrote) */
static int raw_of(const char *text, uint8_t raw[RAW_MAX + 3])
{
	size_t n = strlen(text + 3);
	int r = EVP_DecodeBlock(raw, (const unsigned char *)text + 3, (int)n);

	assert_true(r >= 0);
	/* EVP_DecodeBlock counts padding as data */
	if(n > 0 && text[3 + n - 1] == '=')
		r -= text[3 + n - 2] == '=' ? 2 : 1;
	return r;
}

static void text_of(const uint8_t *raw, int n, char out[TEXT_MAX])
{
	memcpy(out, "v1:", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, raw, n);
}

static void test_round_trip(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], plain[BR_SECRET_PLAIN_MAX + 1];
	int n;

	test_key(key);
	n = enc(key, "trunk:t1", "s3cr3t-p@ss", text);
	/* "v1:" + base64(12 + 11 + 16 = 39 bytes) = 3 + 52 */
	assert_int_equal(n, 55);
	assert_int_equal(strlen(text), 55);
	assert_memory_equal(text, "v1:", 3);
	assert_true(br_secret_looks_valid(text));
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", text, plain, sizeof(plain)), 11);
	assert_string_equal(plain, "s3cr3t-p@ss");
	/* the decoded layout is nonce | ciphertext | tag */
	uint8_t raw[RAW_MAX + 3];
	assert_int_equal(raw_of(text, raw), 12 + 11 + 16);
	assert_memory_not_equal(raw + 12, "s3cr3t-p@ss", 11);
}

static void test_lengths(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], plain[BR_SECRET_PLAIN_MAX + 1];
	char big[BR_SECRET_PLAIN_MAX + 2];
	int n;

	test_key(key);
	/* empty secret */
	n = br_secret_encrypt(key, "agent:a", "", 0, text, sizeof(text));
	assert_int_equal(n, 3 + 40); /* 28 bytes -> 40 base64 characters */
	assert_int_equal(
			br_secret_decrypt(key, "agent:a", text, plain, sizeof(plain)), 0);
	assert_string_equal(plain, "");

	/* the longest secret, with binary bytes */
	for(n = 0; n < BR_SECRET_PLAIN_MAX; n++)
		big[n] = (char)(n * 7 + 1);
	n = br_secret_encrypt(
			key, "agent:a", big, BR_SECRET_PLAIN_MAX, text, sizeof(text));
	assert_int_equal(n, 3 + 208);
	assert_true(n <= 256); /* fits BR_SECRET_ENC_MAX of the model */
	assert_true(br_secret_looks_valid(text));
	assert_int_equal(
			br_secret_decrypt(key, "agent:a", text, plain, sizeof(plain)),
			BR_SECRET_PLAIN_MAX);
	assert_memory_equal(plain, big, BR_SECRET_PLAIN_MAX);
	assert_int_equal(plain[BR_SECRET_PLAIN_MAX], '\0');

	/* one byte more is refused */
	assert_int_equal(br_secret_encrypt(key, "agent:a", big,
							 BR_SECRET_PLAIN_MAX + 1, text, sizeof(text)),
			-EINVAL);
}

static void test_enospc(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], plain[16];

	test_key(key);
	/* "abc": 3 + base64(31 bytes) = 3 + 44 = 47 characters + NUL */
	assert_int_equal(
			br_secret_encrypt(key, "trunk:x", "abc", 3, text, 47), -ENOSPC);
	assert_int_equal(br_secret_encrypt(key, "trunk:x", "abc", 3, text, 48), 47);
	assert_int_equal(
			br_secret_decrypt(key, "trunk:x", text, plain, 3), -ENOSPC);
	assert_int_equal(br_secret_decrypt(key, "trunk:x", text, plain, 4), 3);
	assert_string_equal(plain, "abc");
}

static void test_nonce_is_random(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char a[TEXT_MAX], b[TEXT_MAX], plain[BR_SECRET_PLAIN_MAX + 1];
	uint8_t ra[RAW_MAX + 3], rb[RAW_MAX + 3];

	test_key(key);
	assert_true(enc(key, "trunk:t1", "same", a) > 0);
	assert_true(enc(key, "trunk:t1", "same", b) > 0);
	assert_string_not_equal(a, b);
	raw_of(a, ra);
	raw_of(b, rb);
	assert_memory_not_equal(ra, rb, 12); /* different nonces */
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", a, plain, sizeof(plain)), 4);
	assert_string_equal(plain, "same");
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", b, plain, sizeof(plain)), 4);
	assert_string_equal(plain, "same");
}

static void test_wrong_key_or_record(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN], other[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], plain[BR_SECRET_PLAIN_MAX + 1];

	test_key(key);
	memcpy(other, key, sizeof(key));
	other[31] ^= 1;
	assert_true(enc(key, "trunk:t1", "password", text) > 0);

	strcpy(plain, "untouched");
	assert_int_equal(
			br_secret_decrypt(other, "trunk:t1", text, plain, sizeof(plain)),
			-EBADMSG);
	/* no unauthenticated plaintext reaches the caller */
	assert_string_equal(plain, "untouched");

	/* the same ciphertext copied onto another record */
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t2", text, plain, sizeof(plain)),
			-EBADMSG);
	assert_int_equal(
			br_secret_decrypt(key, "agent:t1", text, plain, sizeof(plain)),
			-EBADMSG);
	assert_int_equal(
			br_secret_decrypt(key, "", text, plain, sizeof(plain)), -EBADMSG);
	assert_string_equal(plain, "untouched");
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", text, plain, sizeof(plain)), 8);
}

static void test_tampering(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], bad[TEXT_MAX], plain[BR_SECRET_PLAIN_MAX + 1];
	uint8_t raw[RAW_MAX + 3], t[RAW_MAX + 3];
	/* first nonce byte, last nonce byte, ciphertext, first and last tag
	 * byte */
	static const int at[] = {0, 11, 12, 15, 12 + 8, 12 + 8 + 15};
	size_t i;
	int n;

	test_key(key);
	assert_true(enc(key, "trunk:t1", "password", text) > 0);
	n = raw_of(text, raw);
	assert_int_equal(n, 12 + 8 + 16);

	for(i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(t, raw, (size_t)n);
		t[at[i]] ^= 0x01;
		text_of(t, n, bad);
		assert_true(br_secret_looks_valid(bad)); /* shape is fine */
		assert_int_equal(
				br_secret_decrypt(key, "trunk:t1", bad, plain, sizeof(plain)),
				-EBADMSG);
	}
	/* a shortened tag (or ciphertext): still long enough, fails auth */
	text_of(raw, n - 1, bad);
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", bad, plain, sizeof(plain)),
			-EBADMSG);
	/* an extra byte appended */
	memcpy(t, raw, (size_t)n);
	t[n] = 0;
	text_of(t, n + 1, bad);
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", bad, plain, sizeof(plain)),
			-EBADMSG);
	/* one base64 character changed in the middle of the text */
	strcpy(bad, text);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", bad, plain, sizeof(plain)),
			-EBADMSG);
}

static void test_malformed(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX], bad[TEXT_MAX + 64], plain[BR_SECRET_PLAIN_MAX + 1];
	uint8_t raw[RAW_MAX + 3];
	static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n;
	const char *p;

	test_key(key);
	/* "x": 29 bytes, so the text ends in exactly one '=' */
	assert_true(enc(key, "trunk:t1", "x", text) > 0);
	n = strlen(text);
	assert_int_equal(text[n - 1], '=');
	assert_true(text[n - 2] != '=');

#define BAD(s)                                                                 \
	do {                                                                       \
		print_message("  %s\n", (s));                                          \
		assert_false(br_secret_looks_valid(s));                                \
		assert_int_equal(                                                      \
				br_secret_decrypt(key, "trunk:t1", (s), plain, sizeof(plain)), \
				-EINVAL);                                                      \
	} while(0)

	BAD("");
	BAD("v1:");
	BAD("v1");
	BAD("plaintext-password");
	/* wrong or missing version prefix on a good body */
	snprintf(bad, sizeof(bad), "v2:%s", text + 3);
	BAD(bad);
	snprintf(bad, sizeof(bad), "V1:%s", text + 3);
	BAD(bad);
	snprintf(bad, sizeof(bad), "%s", text + 3);
	BAD(bad);
	/* surrounding or inner whitespace, line breaks */
	snprintf(bad, sizeof(bad), "%s\n", text);
	BAD(bad);
	snprintf(bad, sizeof(bad), "v1: %s", text + 3);
	BAD(bad);
	snprintf(bad, sizeof(bad), "%.20s %s", text, text + 20);
	BAD(bad);
	/* a character outside the alphabet (URL-safe base64 included) */
	strcpy(bad, text);
	bad[10] = '*';
	BAD(bad);
	bad[10] = '-';
	BAD(bad);
	bad[10] = '_';
	BAD(bad);
	/* not a multiple of 4; padding dropped; '=' in the middle */
	snprintf(bad, sizeof(bad), "%.*s", (int)(n - 1), text);
	BAD(bad);
	strcpy(bad, text);
	bad[10] = '=';
	BAD(bad);
	snprintf(bad, sizeof(bad), "%s====", text);
	BAD(bad);
	/* data after the padding */
	strcpy(bad, text);
	bad[n - 2] = '=';
	bad[n - 1] = 'A';
	BAD(bad);
	/* non-canonical: bits under the padding set */
	strcpy(bad, text);
	p = strchr(b64, bad[n - 2]);
	assert_non_null(p);
	bad[n - 2] = b64[(p - b64) ^ 1];
	BAD(bad);
	/* decoded shorter than nonce + tag */
	memset(raw, 7, sizeof(raw));
	text_of(raw, 27, bad);
	BAD(bad);
	/* longer than the longest secret */
	text_of(raw, 12 + BR_SECRET_PLAIN_MAX + 16 + 1, bad);
	BAD(bad);
	/* a long string of valid characters */
	memset(bad, 'A', sizeof(bad) - 1);
	memcpy(bad, "v1:", 3);
	bad[sizeof(bad) - 1] = '\0';
	BAD(bad);
	assert_false(br_secret_looks_valid(NULL));
	assert_int_equal(
			br_secret_decrypt(key, "trunk:t1", NULL, plain, sizeof(plain)),
			-EINVAL);
#undef BAD

	/* the edges that are accepted: 28 and 156 decoded bytes */
	text_of(raw, 28, bad);
	assert_true(br_secret_looks_valid(bad));
	text_of(raw, 12 + BR_SECRET_PLAIN_MAX + 16, bad);
	assert_true(br_secret_looks_valid(bad));
	assert_true(br_secret_looks_valid(text));
}

static void test_encrypt_args(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN];
	char text[TEXT_MAX];

	test_key(key);
	assert_int_equal(
			br_secret_encrypt(NULL, "a", "x", 1, text, sizeof(text)), -EINVAL);
	assert_int_equal(
			br_secret_encrypt(key, NULL, "x", 1, text, sizeof(text)), -EINVAL);
	assert_int_equal(
			br_secret_encrypt(key, "a", NULL, 1, text, sizeof(text)), -EINVAL);
	assert_int_equal(br_secret_encrypt(key, "a", "x", 1, NULL, 0), -ENOSPC);
}

static void test_key_from_hex(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN], want[BR_SECRET_KEY_LEN];
	char err[128];
	size_t i;

	for(i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	assert_int_equal(
			br_secret_key_load(key, NULL, KEY_HEX, err, sizeof(err)), 0);
	assert_memory_equal(key, want, sizeof(want));
	/* upper case, surrounding whitespace; an empty path means none */
	memset(key, 0, sizeof(key));
	assert_int_equal(br_secret_key_load(key, "",
							 " \t000102030405060708090A0B0C0D0E0F"
							 "101112131415161718191A1B1C1D1E1F\r\n",
							 err, sizeof(err)),
			0);
	assert_memory_equal(key, want, sizeof(want));

	/* 63 and 65 characters, inner space, a non-hex character */
	static const char *bad[] = {
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
			KEY_HEX "0",
			"000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
			"0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"   ", "short"};
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
				br_secret_key_load(key, NULL, bad[i], err, sizeof(err)),
				-EINVAL);
		assert_true(err[0] != '\0');
	}

	/* neither source */
	assert_int_equal(
			br_secret_key_load(key, NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(br_secret_key_load(key, "", "", NULL, 0), -ENOENT);
}

/* Writes 'content' to a new temporary file; returns its path in 'path'. */
static void temp_file(char path[64], const char *content)
{
	int fd;

	strcpy(path, "/tmp/test_br_secret.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(
			write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void test_key_from_file(void **state)
{
	uint8_t key[BR_SECRET_KEY_LEN], want[BR_SECRET_KEY_LEN];
	char path[64], err[256];
	char big[400];

	test_key(want);

	temp_file(path, KEY_HEX "\n");
	memset(key, 0, sizeof(key));
	/* the file wins over the hex argument */
	assert_int_equal(br_secret_key_load(key, path,
							 "ffffffffffffffffffffffffffffffffffffffffffffffff"
							 "ffffffffffffffff",
							 err, sizeof(err)),
			0);
	assert_memory_equal(key, want, sizeof(want));
	unlink(path);

	/* a key file that is wrong does not fall back to the hex argument */
	temp_file(path, "not a key\n");
	assert_int_equal(
			br_secret_key_load(key, path, KEY_HEX, err, sizeof(err)), -EINVAL);
	unlink(path);
	temp_file(path, "");
	assert_int_equal(
			br_secret_key_load(key, path, KEY_HEX, err, sizeof(err)), -EINVAL);
	unlink(path);

	/* the key surrounded by a lot of whitespace, then too much of it */
	memset(big, ' ', sizeof(big));
	memcpy(big + 100, KEY_HEX, 64);
	big[256] = '\0';
	temp_file(path, big);
	assert_int_equal(br_secret_key_load(key, path, NULL, err, sizeof(err)), 0);
	assert_memory_equal(key, want, sizeof(want));
	unlink(path);
	big[256] = ' ';
	big[257] = '\0';
	temp_file(path, big);
	assert_int_equal(
			br_secret_key_load(key, path, NULL, err, sizeof(err)), -EINVAL);
	unlink(path);

	/* errors of the file itself are -errno, with the path in the message */
	err[0] = '\0';
	assert_int_equal(br_secret_key_load(key, "/nonexistent/byoc.key", KEY_HEX,
							 err, sizeof(err)),
			-ENOENT);
	assert_non_null(strstr(err, "/nonexistent/byoc.key"));
	assert_int_equal(
			br_secret_key_load(key, "/", NULL, err, sizeof(err)), -EISDIR);
}

static void test_wipe(void **state)
{
	uint8_t buf[64], zero[64] = {0};

	memset(buf, 0xa5, sizeof(buf));
	br_secret_wipe(buf, 32);
	assert_memory_equal(buf, zero, 32);
	assert_int_equal(buf[32], 0xa5); /* no further than asked */
	br_secret_wipe(buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	br_secret_wipe(NULL, 0);
	br_secret_wipe(NULL, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_round_trip),
			cmocka_unit_test(test_lengths),
			cmocka_unit_test(test_enospc),
			cmocka_unit_test(test_nonce_is_random),
			cmocka_unit_test(test_wrong_key_or_record),
			cmocka_unit_test(test_tampering),
			cmocka_unit_test(test_malformed),
			cmocka_unit_test(test_encrypt_args),
			cmocka_unit_test(test_key_from_hex),
			cmocka_unit_test(test_key_from_file),
			cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
