/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_secret.c -- secrets at rest: AES-256-GCM (OpenSSL EVP), text form
 * "v1:" base64(nonce[12] | ciphertext | tag[16]) (see br_secret.h).
 *
 * Base64 is encoded with EVP_EncodeBlock but decoded here: EVP_DecodeBlock
 * trims surrounding whitespace, accepts non-canonical padding bits and
 * data after '=' ("QQ=A"), and counts padding as output bytes. A stored
 * secret has exactly one valid text form, so decoding is strict.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "br_secret.h"

#define BR_SECRET_PREFIX "v1:"
#define BR_SECRET_PREFIX_LEN 3
#define BR_NONCE_LEN 12
#define BR_TAG_LEN 16
#define BR_RAW_MIN (BR_NONCE_LEN + BR_TAG_LEN)
#define BR_RAW_MAX (BR_RAW_MIN + BR_SECRET_PLAIN_MAX)
#define B64_LEN(n) (4 * (((n) + 2) / 3))
/* longest text form, without the NUL */
#define BR_TEXT_MAX (BR_SECRET_PREFIX_LEN + B64_LEN(BR_RAW_MAX))
/* a key file holds 64 hex characters and some whitespace */
#define BR_KEYFILE_MAX 256

static void set_err(char *err, size_t errlen, const char *msg)
{
	if(err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

void br_secret_wipe(void *p, size_t len)
{
	if(p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/* ---- key ------------------------------------------------------------ */

static int hex_val(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits, surrounding whitespace ignored. */
static int key_from_hex(uint8_t key[BR_SECRET_KEY_LEN], const char *s, size_t n,
		char *err, size_t errlen)
{
	size_t i;
	int hi, lo;

	while(n > 0 && isspace((unsigned char)s[0])) {
		s++;
		n--;
	}
	while(n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if(n != 2 * BR_SECRET_KEY_LEN) {
		set_err(err, errlen, "secret key must be 64 hex characters (32 bytes)");
		return -EINVAL;
	}
	for(i = 0; i < BR_SECRET_KEY_LEN; i++) {
		hi = hex_val(s[2 * i]);
		lo = hex_val(s[2 * i + 1]);
		if(hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, BR_SECRET_KEY_LEN);
			set_err(err, errlen, "secret key has a non-hex character");
			return -EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int key_from_file(uint8_t key[BR_SECRET_KEY_LEN], const char *path,
		char *err, size_t errlen)
{
	char buf[BR_KEYFILE_MAX + 1];
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		rc = -errno;
		if(err != NULL && errlen > 0)
			snprintf(
					err, errlen, "secret key file %s: %s", path, strerror(-rc));
		return rc;
	}
	/* one byte more than a key file may hold, to detect a longer one */
	while(n < sizeof(buf)) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if(r < 0 && errno == EINTR)
			continue;
		if(r < 0) {
			rc = -errno;
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			if(err != NULL && errlen > 0)
				snprintf(err, errlen, "secret key file %s: %s", path,
						strerror(-rc));
			return rc;
		}
		if(r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if(n > BR_KEYFILE_MAX) {
		OPENSSL_cleanse(buf, sizeof(buf));
		set_err(err, errlen, "secret key file is too long");
		return -EINVAL;
	}
	rc = key_from_hex(key, buf, n, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int br_secret_key_load(uint8_t key[BR_SECRET_KEY_LEN], const char *path,
		const char *hex, char *err, size_t errlen)
{
	/* an empty string counts as "not given" for both sources (an unset
	 * and an empty environment variable mean the same) */
	if(path != NULL && path[0] != '\0')
		return key_from_file(key, path, err, errlen);
	if(hex != NULL && hex[0] != '\0')
		return key_from_hex(key, hex, strlen(hex), err, errlen);
	set_err(err, errlen, "no secret key configured");
	return -ENOENT;
}

/* ---- base64 --------------------------------------------------------- */

static int b64_val(char c)
{
	if(c >= 'A' && c <= 'Z')
		return c - 'A';
	if(c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if(c >= '0' && c <= '9')
		return c - '0' + 52;
	if(c == '+')
		return 62;
	if(c == '/')
		return 63;
	return -1;
}

/* Strict RFC 4648 base64 (standard alphabet, padded, canonical). 'out'
 * may be NULL to only check and measure. Returns the decoded length or
 * -EINVAL; at most 'max' bytes are accepted. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t max)
{
	size_t i, k = 0, pad = 0;
	uint32_t acc;
	int j, v;

	if(n == 0 || n % 4 != 0)
		return -EINVAL;
	if(s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if(n / 4 * 3 - pad > max)
		return -EINVAL;
	for(i = 0; i < n; i += 4) {
		acc = 0;
		for(j = 0; j < 4; j++) {
			if(i + 4 == n && j >= 4 - (int)pad) {
				v = 0; /* padding, only at the very end */
			} else if((v = b64_val(s[i + j])) < 0) {
				return -EINVAL;
			}
			acc = acc << 6 | (uint32_t)v;
		}
		/* bits under the padding must be zero (one text per value) */
		if((pad == 1 && i + 4 == n && (acc & 0xff) != 0) ||
				(pad == 2 && i + 4 == n && (acc & 0xffff) != 0))
			return -EINVAL;
		for(j = 0; j < 3 && !(i + 4 == n && j >= 3 - (int)pad); j++) {
			if(out != NULL)
				out[k] = (uint8_t)(acc >> (16 - 8 * j));
			k++;
		}
	}
	return (int)k;
}

/* Checks the text form and decodes it into raw[] (may be NULL). */
static int text_decode(const char *enc, uint8_t *raw)
{
	size_t n;
	int r;

	if(enc == NULL || strncmp(enc, BR_SECRET_PREFIX, BR_SECRET_PREFIX_LEN) != 0)
		return -EINVAL;
	n = strnlen(enc, BR_TEXT_MAX + 1);
	if(n > BR_TEXT_MAX)
		return -EINVAL;
	r = b64_decode(enc + BR_SECRET_PREFIX_LEN, n - BR_SECRET_PREFIX_LEN, raw,
			BR_RAW_MAX);
	if(r < BR_RAW_MIN)
		return -EINVAL;
	return r;
}

int br_secret_looks_valid(const char *enc)
{
	return text_decode(enc, NULL) > 0;
}

/* ---- AES-256-GCM ---------------------------------------------------- */

int br_secret_encrypt(const uint8_t key[BR_SECRET_KEY_LEN], const char *aad,
		const char *plain, size_t plen, char *out, size_t outlen)
{
	uint8_t raw[BR_RAW_MAX];
	uint8_t *ct = raw + BR_NONCE_LEN;
	EVP_CIPHER_CTX *ctx;
	int n, fin, rc = -EIO;

	if(key == NULL || aad == NULL || (plain == NULL && plen > 0) ||
			plen > BR_SECRET_PLAIN_MAX)
		return -EINVAL;
	if(out == NULL ||
			outlen < BR_SECRET_PREFIX_LEN + B64_LEN(BR_RAW_MIN + plen) + 1)
		return -ENOSPC;
	if(RAND_bytes(raw, BR_NONCE_LEN) != 1)
		return -EIO;
	ctx = EVP_CIPHER_CTX_new();
	if(ctx == NULL)
		return -EIO;
	if(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
			EVP_CIPHER_CTX_ctrl(
					ctx, EVP_CTRL_GCM_SET_IVLEN, BR_NONCE_LEN, NULL) != 1 ||
			EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
			EVP_EncryptUpdate(
					ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1)
		goto done;
	n = 0;
	if(plen > 0 && EVP_EncryptUpdate(
						   ctx, ct, &n, (const uint8_t *)plain, (int)plen) != 1)
		goto done;
	/* GCM is a stream mode: Final writes nothing, but is what computes
	 * the tag */
	if(EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
			(size_t)(n + fin) != plen ||
			EVP_CIPHER_CTX_ctrl(
					ctx, EVP_CTRL_GCM_GET_TAG, BR_TAG_LEN, ct + plen) != 1)
		goto done;

	memcpy(out, BR_SECRET_PREFIX, BR_SECRET_PREFIX_LEN);
	n = EVP_EncodeBlock((unsigned char *)out + BR_SECRET_PREFIX_LEN, raw,
			(int)(BR_RAW_MIN + plen));
	rc = BR_SECRET_PREFIX_LEN + n;
done:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int br_secret_decrypt(const uint8_t key[BR_SECRET_KEY_LEN], const char *aad,
		const char *enc, char *plain, size_t plainlen)
{
	uint8_t raw[BR_RAW_MAX];
	/* decrypted here first: the caller's buffer never holds plaintext
	 * that failed authentication */
	uint8_t pt[BR_SECRET_PLAIN_MAX];
	uint8_t *ct = raw + BR_NONCE_LEN;
	size_t clen;
	EVP_CIPHER_CTX *ctx;
	int r, n, fin, rc = -EIO;

	if(key == NULL || aad == NULL)
		return -EINVAL;
	r = text_decode(enc, raw);
	if(r < 0)
		return -EINVAL;
	clen = (size_t)r - BR_RAW_MIN;
	if(plain == NULL || plainlen < clen + 1)
		return -ENOSPC;

	ctx = EVP_CIPHER_CTX_new();
	if(ctx == NULL)
		return -EIO;
	if(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
			EVP_CIPHER_CTX_ctrl(
					ctx, EVP_CTRL_GCM_SET_IVLEN, BR_NONCE_LEN, NULL) != 1 ||
			EVP_DecryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
			EVP_DecryptUpdate(
					ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1)
		goto done;
	n = 0;
	if(clen > 0 && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)clen) != 1)
		goto done;
	if(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BR_TAG_LEN, ct + clen) !=
			1)
		goto done;
	/* the tag comparison (constant time) is OpenSSL's, in Final */
	if(EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1) {
		rc = -EBADMSG;
		goto done;
	}
	if((size_t)(n + fin) != clen)
		goto done;
	memcpy(plain, pt, clen);
	plain[clen] = '\0';
	rc = (int)clen;
done:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}
