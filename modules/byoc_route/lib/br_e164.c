/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_e164.c -- inbound dialled numbers to E.164 and E.164 to a carrier's
 * outbound dial string (see br_e164.h). Hand-written: the rules are this
 * project's trunk settings, not a general numbering-plan database (such as
 * libphonenumber, a C++ library far beyond what a SIP proxy needs here).
 */
#include <errno.h>
#include <string.h>

#include "br_e164.h"

/* Longest dial string kept while normalising: a tech prefix, an
 * international prefix and 15 digits fit many times over. */
#define BR_E164_WORK_MAX 64

void br_numplan_defaults(br_numplan_t *np)
{
	memset(np, 0, sizeof(*np));
	memcpy(np->intl_prefix, "00", 3);
	np->tech_mode = BR_TECH_NONE;
	np->plus_policy = BR_PLUS_E164;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++)
		if(!is_digit(s[i]))
			return 0;
	return 1;
}

/* Length of a numplan string field, bounded by its array size. */
#define FIELD_LEN(f) strnlen((f), sizeof(f))

int br_e164_valid(const char *s)
{
	size_t n;

	if(s == NULL || s[0] != '+' || s[1] == '0')
		return 0;
	n = strnlen(s + 1, BR_E164_MAX);
	return n >= 7 && n <= 15 && s[1 + n] == '\0' && all_digits(s + 1, n);
}

/* RFC 3966 visual separators, plus the space people type. */
static int is_separator(char c)
{
	return c == '-' || c == '.' || c == '(' || c == ')' || c == ' ';
}

static int has_prefix(const char *s, size_t n, const char *p, size_t pl)
{
	return pl > 0 && n >= pl && memcmp(s, p, pl) == 0;
}

/* out = "+" cc digits; -EINVAL unless everything is digits and fits. */
static int build(char out[BR_E164_MAX + 1], const char *cc, size_t ccl,
		const char *d, size_t n)
{
	if(n == 0 || !all_digits(cc, ccl) || !all_digits(d, n) ||
			1 + ccl + n > BR_E164_MAX)
		return -EINVAL;
	out[0] = '+';
	memcpy(out + 1, cc, ccl);
	memcpy(out + 1 + ccl, d, n);
	out[1 + ccl + n] = '\0';
	return 0;
}

int br_e164_normalize(const br_numplan_t *np, const char *in, size_t len,
		char out[BR_E164_MAX + 1])
{
	char w[BR_E164_WORK_MAX];
	char res[BR_E164_MAX + 1];
	size_t i, n = 0;
	size_t tl, il, nl, ccl;
	const char *p = w;
	int rc;

	if(np == NULL || in == NULL || out == NULL)
		return -EINVAL;
	tl = FIELD_LEN(np->tech_prefix);
	il = FIELD_LEN(np->intl_prefix);
	nl = FIELD_LEN(np->natl_prefix);
	ccl = FIELD_LEN(np->cc);

	/* 1. separators out, ";..." tail off; other characters are kept so
	 * a tech prefix with letters, '*' or '#' can still be matched */
	for(i = 0; i < len && in[i] != ';'; i++) {
		if(is_separator(in[i]))
			continue;
		if(n >= sizeof(w))
			return -EINVAL;
		w[n++] = in[i];
	}

	/* 2. tech prefix */
	if((np->tech_mode & BR_TECH_STRIP) &&
			has_prefix(p, n, np->tech_prefix, tl)) {
		p += tl;
		n -= tl;
	}

	if(n > 0 && p[0] == '+') /* 3. already E.164 */
		rc = build(res, "", 0, p + 1, n - 1);
	else if(!all_digits(p, n))
		rc = -EINVAL;
	else if(has_prefix(p, n, np->intl_prefix, il)) /* 4. international */
		rc = build(res, "", 0, p + il, n - il);
	else if(ccl > 0 && has_prefix(p, n, np->natl_prefix, nl)) /* 5. */
		rc = build(res, np->cc, ccl, p + nl, n - nl);
	else if(ccl > 0 && np->nsn_len > 0 && n == np->nsn_len) /* 6. */
		rc = build(res, np->cc, ccl, p, n);
	else /* 7. international without any prefix */
		rc = build(res, "", 0, p, n);

	if(rc < 0 || !br_e164_valid(res))
		return -EINVAL;
	memcpy(out, res, strlen(res) + 1);
	return 0;
}

static size_t append(char *dst, size_t k, const char *s, size_t n)
{
	memcpy(dst + k, s, n);
	return k + n;
}

int br_e164_format(
		const br_numplan_t *np, const char *e164, char *out, size_t outlen)
{
	/* tech prefix + intl prefix + 15 digits + NUL */
	char tmp[BR_TECH_PREFIX_MAX + sizeof(np->intl_prefix) + BR_E164_MAX + 1];
	const char *d;
	size_t k = 0, dl, ccl;

	if(np == NULL || !br_e164_valid(e164))
		return -EINVAL;
	d = e164 + 1;
	dl = strlen(d);
	ccl = FIELD_LEN(np->cc);

	if(np->tech_mode & BR_TECH_ADD)
		k = append(tmp, k, np->tech_prefix, FIELD_LEN(np->tech_prefix));

	switch(np->plus_policy) {
		case BR_PLUS_E164:
			k = append(tmp, k, e164, dl + 1);
			break;
		case BR_PLUS_DIGITS:
			k = append(tmp, k, d, dl);
			break;
		case BR_PLUS_NATIONAL:
			/* Country codes form a prefix code, so a number is in the
			 * trunk's country exactly when it starts with its code. */
			if(ccl > 0 && ccl < dl && memcmp(d, np->cc, ccl) == 0) {
				k = append(tmp, k, np->natl_prefix, FIELD_LEN(np->natl_prefix));
				k = append(tmp, k, d + ccl, dl - ccl);
			} else {
				k = append(tmp, k, np->intl_prefix, FIELD_LEN(np->intl_prefix));
				k = append(tmp, k, d, dl);
			}
			break;
		default:
			return -EINVAL;
	}

	if(out == NULL || k >= outlen)
		return -ENOSPC;
	memcpy(out, tmp, k);
	out[k] = '\0';
	return (int)k;
}
