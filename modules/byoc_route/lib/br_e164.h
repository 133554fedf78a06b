/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_e164.h -- number normalisation: whatever a carrier puts in the
 * Request-URI user part (tech prefix, '+', international or national
 * dialling format, visual separators) to E.164 ("+<digits>"), and E.164
 * back to the dial string a carrier expects on outbound calls.
 * Pure C, no allocation.
 */
#ifndef BR_E164_H
#define BR_E164_H

#include <stddef.h>
#include <stdint.h>

/* "+" and at most 15 digits (ITU-T E.164) */
#define BR_E164_MAX 16
#define BR_TECH_PREFIX_MAX 16

enum br_tech_mode {
	BR_TECH_NONE = 0,
	BR_TECH_STRIP = 1, /* strip from inbound numbers when present */
	BR_TECH_ADD = 2,   /* prepend to outbound dial strings */
	BR_TECH_BOTH = 3
};

/* How an outbound E.164 number is written toward the carrier. */
enum br_plus_policy {
	BR_PLUS_E164 = 0,	/* +14155550100 */
	BR_PLUS_DIGITS = 1,	/* 14155550100 */
	BR_PLUS_NATIONAL = 2 /* national form (0201234567) when the number is
							in the trunk's country, else intl prefix form */
};

typedef struct br_numplan {
	char cc[4];			  /* country code digits ("1", "44"), "" = none */
	char natl_prefix[4];  /* national trunk prefix ("0"), "" = none */
	char intl_prefix[5];  /* international access prefix, default "00" */
	uint8_t nsn_len;	  /* national significant number length, 0 = any */
	char tech_prefix[BR_TECH_PREFIX_MAX + 1]; /* [0-9*#A-Za-z] */
	uint8_t tech_mode;	  /* enum br_tech_mode */
	uint8_t plus_policy;  /* enum br_plus_policy */
} br_numplan_t;

/* Fills the defaults: no country code, no national prefix, intl prefix
 * "00", tech mode none, plus policy E164. */
void br_numplan_defaults(br_numplan_t *np);

/* 1 if 's' is "+" followed by 7..15 digits, the first not 0. */
int br_e164_valid(const char *s);

/*
 * Normalises an inbound dialled number to E.164, in this order:
 *  1. drop RFC 3966 visual separators ( - . ( ) and space) and a
 *     ";..." parameter tail;
 *  2. strip the tech prefix when the mode has STRIP and it is present;
 *  3. "+digits"                        -> as is;
 *  4. intl prefix + digits             -> "+" digits;
 *  5. national prefix + NSN (cc set)   -> "+" cc NSN;
 *  6. exactly nsn_len digits (cc set)  -> "+" cc digits;
 *  7. other digits                     -> "+" digits (already international,
 *     the common carrier form "14155550100");
 * then checks br_e164_valid(). Returns 0 with 'out' filled, or -EINVAL
 * (not a telephone number, or too short/long). 'in' need not be
 * NUL-terminated.
 */
int br_e164_normalize(const br_numplan_t *np, const char *in, size_t len,
		char out[BR_E164_MAX + 1]);

/* Writes the outbound dial string for an E.164 number according to the
 * plus policy, then prepends the tech prefix when the mode has ADD.
 * Returns the length written, -EINVAL for a non-E.164 input, -ENOSPC. */
int br_e164_format(
		const br_numplan_t *np, const char *e164, char *out, size_t outlen);

#endif
