/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_secret.h -- secrets at rest (trunk digest passwords, AI backend
 * tokens): AES-256-GCM with OpenSSL.
 *
 * Text form stored in Redis:   "v1:" base64( nonce[12] | ciphertext | tag[16] )
 * The additional authenticated data is the owning record ("trunk:<id>",
 * "agent:<id>"), so a ciphertext copied onto another record fails to
 * decrypt. The key is 32 bytes, given as 64 hex characters (in a file or
 * an environment variable; surrounding whitespace ignored).
 */
#ifndef BR_SECRET_H
#define BR_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define BR_SECRET_KEY_LEN 32
#define BR_SECRET_PLAIN_MAX 128 /* longest secret accepted */

/* Loads the key: from the file 'path' when non-NULL and non-empty, else
 * from 'hex' (e.g. getenv("BYOC_SECRET_KEY")). Returns 0, -ENOENT when
 * neither is given, -EINVAL for a malformed key, or -errno of the file. */
int br_secret_key_load(uint8_t key[BR_SECRET_KEY_LEN], const char *path,
		const char *hex, char *err, size_t errlen);

/* Encrypts 'plain' (plen <= BR_SECRET_PLAIN_MAX) with a fresh random
 * nonce. Returns the text length written to 'out' (NUL-terminated), or
 * -EINVAL, -ENOSPC, -EIO (OpenSSL failure). */
int br_secret_encrypt(const uint8_t key[BR_SECRET_KEY_LEN], const char *aad,
		const char *plain, size_t plen, char *out, size_t outlen);

/* Decrypts a text form made by br_secret_encrypt into 'plain' (NUL-
 * terminated). Returns the plaintext length, -EINVAL for a malformed
 * text, -EBADMSG when authentication fails (wrong key or record), or
 * -ENOSPC. The caller should wipe 'plain' (br_secret_wipe) after use. */
int br_secret_decrypt(const uint8_t key[BR_SECRET_KEY_LEN], const char *aad,
		const char *enc, char *plain, size_t plainlen);

/* 1 if 'enc' has the shape of an encrypted text (prefix, base64, length),
 * without decrypting it. */
int br_secret_looks_valid(const char *enc);

/* Zeroes memory in a way the compiler cannot drop. */
void br_secret_wipe(void *p, size_t len);

#endif
