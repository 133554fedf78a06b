/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_e164.c -- unit tests of br_e164: E.164 validity, inbound
 * normalisation rule by rule, outbound formatting per plus policy and
 * tech prefix mode.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "br_e164.h"

/* A numbering plan: defaults plus the given country settings. */
static br_numplan_t plan(
		const char *cc, const char *natl, const char *intl, unsigned nsn_len)
{
	br_numplan_t np;

	br_numplan_defaults(&np);
	strcpy(np.cc, cc);
	strcpy(np.natl_prefix, natl);
	if(intl != NULL)
		strcpy(np.intl_prefix, intl);
	np.nsn_len = (uint8_t)nsn_len;
	return np;
}

static void assert_norm(
		const br_numplan_t *np, const char *in, const char *want)
{
	char out[BR_E164_MAX + 1];

	print_message("  %s -> %s\n", in, want);
	memset(out, 'x', sizeof(out));
	assert_int_equal(br_e164_normalize(np, in, strlen(in), out), 0);
	assert_string_equal(out, want);
}

static void assert_norm_bad(const br_numplan_t *np, const char *in)
{
	char out[BR_E164_MAX + 1] = "untouched";

	print_message("  %s -> -EINVAL\n", in);
	assert_int_equal(br_e164_normalize(np, in, strlen(in), out), -EINVAL);
	assert_string_equal(out, "untouched");
}

static void assert_fmt(
		const br_numplan_t *np, const char *e164, const char *want)
{
	char out[64];

	print_message("  %s -> %s\n", e164, want);
	assert_int_equal(
			br_e164_format(np, e164, out, sizeof(out)), (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_defaults(void **state)
{
	br_numplan_t np;

	memset(&np, 0x5a, sizeof(np));
	br_numplan_defaults(&np);
	assert_string_equal(np.cc, "");
	assert_string_equal(np.natl_prefix, "");
	assert_string_equal(np.intl_prefix, "00");
	assert_int_equal(np.nsn_len, 0);
	assert_string_equal(np.tech_prefix, "");
	assert_int_equal(np.tech_mode, BR_TECH_NONE);
	assert_int_equal(np.plus_policy, BR_PLUS_E164);
}

static void test_valid(void **state)
{
	assert_true(br_e164_valid("+14155550100"));
	assert_true(br_e164_valid("+1234567"));			/* 7 digits */
	assert_true(br_e164_valid("+123456789012345")); /* 15 digits */
	assert_false(br_e164_valid("+123456"));
	assert_false(br_e164_valid("+1234567890123456"));
	assert_false(br_e164_valid("+04155550100"));
	assert_false(br_e164_valid("14155550100"));
	assert_false(br_e164_valid("+1415555010a"));
	assert_false(br_e164_valid("+1 4155550100"));
	assert_false(br_e164_valid("++14155550100"));
	assert_false(br_e164_valid("+"));
	assert_false(br_e164_valid(""));
	assert_false(br_e164_valid(NULL));
}

static void test_rule1_separators_and_tail(void **state)
{
	br_numplan_t np = plan("", "", NULL, 0);

	assert_norm(&np, "+1 (415) 555-0100", "+14155550100");
	assert_norm(&np, "+1.415.555.0100", "+14155550100");
	assert_norm(&np, "+14155550100;npdi", "+14155550100");
	assert_norm(&np, "+14155550100;rn=+14155559999;npdi", "+14155550100");
	assert_norm(&np, "(00) 44-20-7946-0000", "+442079460000");
	/* the length bounds the input: no NUL needed, the rest is ignored */
	char out[BR_E164_MAX + 1];
	assert_int_equal(br_e164_normalize(&np, "+14155550100999", 12, out), 0);
	assert_string_equal(out, "+14155550100");
	/* separators only strip: other punctuation is not a number */
	assert_norm_bad(&np, "+1/415/555/0100");
	assert_norm_bad(&np, "+1_4155550100");
}

static void test_rule2_tech_prefix(void **state)
{
	br_numplan_t np = plan("", "", NULL, 0);

	strcpy(np.tech_prefix, "5678#");
	/* mode none or add: the prefix stays and is not a number */
	np.tech_mode = BR_TECH_NONE;
	assert_norm_bad(&np, "5678#14155550100");
	np.tech_mode = BR_TECH_ADD;
	assert_norm_bad(&np, "5678#14155550100");
	/* strip and both remove it */
	np.tech_mode = BR_TECH_STRIP;
	assert_norm(&np, "5678#14155550100", "+14155550100");
	assert_norm(&np, "5678#+14155550100", "+14155550100");
	assert_norm(&np, "5678#0014155550100", "+14155550100");
	np.tech_mode = BR_TECH_BOTH;
	assert_norm(&np, "5678#14155550100", "+14155550100");
	/* absent: the number is taken as it is */
	assert_norm(&np, "+14155550100", "+14155550100");
	/* only a leading prefix is stripped, exactly once */
	assert_norm_bad(&np, "5678#5678#14155550100");
	assert_norm_bad(&np, "5678#");
	/* a digits-only tech prefix: stripped, then the rules go on */
	strcpy(np.tech_prefix, "999");
	assert_norm(&np, "99914155550100", "+14155550100");
}

static void test_rule3_plus(void **state)
{
	br_numplan_t np = plan("44", "0", "00", 10);

	/* already international: no country rule applies */
	assert_norm(&np, "+14155550100", "+14155550100");
	assert_norm(&np, "+442079460000", "+442079460000");
	assert_norm_bad(&np, "+02079460000"); /* leading 0 after + */
	assert_norm_bad(&np, "+1415555010+0");
	assert_norm_bad(&np, "+");
}

static void test_rule4_intl_prefix(void **state)
{
	br_numplan_t np = plan("", "", NULL, 0);

	assert_norm(&np, "0014155550100", "+14155550100");
	assert_norm(&np, "00442079460000", "+442079460000");
	/* NANP: international access prefix 011 */
	np = plan("1", "1", "011", 10);
	assert_norm(&np, "011442079460000", "+442079460000");
	assert_norm(&np, "01144 20 7946 0000", "+442079460000");
	/* UK: 00 is tried before the national prefix 0 */
	np = plan("44", "0", "00", 10);
	assert_norm(&np, "0014155550100", "+14155550100");
}

static void test_rule5_national_prefix(void **state)
{
	br_numplan_t np = plan("44", "0", "00", 10);

	assert_norm(&np, "02079460000", "+442079460000");
	assert_norm(&np, "020 7946 0000", "+442079460000");
	assert_norm(&np, "07700900123", "+447700900123");
	np.nsn_len = 0; /* length does not matter for this rule */
	assert_norm(&np, "0201234567", "+44201234567");
	/* no country code: the national prefix means nothing */
	np = plan("", "0", "00", 0);
	assert_norm_bad(&np, "02079460000"); /* "+0..." */
	/* NANP: national prefix 1 */
	np = plan("1", "1", "011", 10);
	assert_norm(&np, "14155550100", "+14155550100");
}

static void test_rule6_nsn_length(void **state)
{
	br_numplan_t np = plan("1", "1", "011", 10);

	assert_norm(&np, "4155550100", "+14155550100");
	assert_norm(&np, "(415) 555-0100", "+14155550100");
	/* another length: rule 7, taken as international */
	assert_norm(&np, "442079460000", "+442079460000");
	/* nsn_len without a country code does nothing */
	np = plan("", "", NULL, 10);
	assert_norm(&np, "4155550100", "+4155550100");
	/* a country code without nsn_len does nothing either */
	np = plan("1", "", "011", 0);
	assert_norm(&np, "4155550100", "+4155550100");
}

static void test_rule7_plain_digits(void **state)
{
	br_numplan_t np = plan("", "", NULL, 0);

	assert_norm(&np, "14155550100", "+14155550100");
	assert_norm(&np, "442079460000", "+442079460000");
	np = plan("44", "0", "00", 10);
	assert_norm(&np, "14155550100", "+14155550100");
}

static void test_invalid(void **state)
{
	br_numplan_t np = plan("", "", NULL, 0);
	char out[BR_E164_MAX + 1];

	assert_norm_bad(&np, "");
	assert_norm_bad(&np, ";npdi");
	assert_norm_bad(&np, " - ");
	assert_norm_bad(&np, "alice");
	assert_norm_bad(&np, "1415555O100"); /* letter O */
	assert_norm_bad(&np, "+1415555010a");
	assert_norm_bad(&np, "*14155550100");
	assert_norm_bad(&np, "123456");			  /* 6 digits */
	assert_norm_bad(&np, "+123456");		  /* 6 digits */
	assert_norm_bad(&np, "1234567890123456"); /* 16 digits */
	assert_norm_bad(&np, "+1234567890123456");
	assert_norm_bad(&np, "001234567890123456");
	assert_norm_bad(&np, "+04155550100");
	assert_norm_bad(&np, "0004155550100"); /* "00" then 0... */
	/* an embedded NUL inside the given length */
	assert_int_equal(br_e164_normalize(&np, "14155550100\0", 12, out), -EINVAL);
	/* far too long for the working buffer, all separators or not */
	assert_norm_bad(&np,
			"1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-"
			"1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1");
	assert_norm_bad(&np,
			"1111111111111111111111111111111111111111111111111111111111111"
			"11111111111111111111111111111");
	assert_norm(&np, "1 2 3 4 5 6 7", "+1234567");
	assert_int_equal(br_e164_normalize(&np, NULL, 0, out), -EINVAL);
	/* UK national number too long once the country code is added */
	np = plan("44", "0", "00", 0);
	assert_norm_bad(&np, "01234567890123456");
	assert_norm(&np, "01234567890123", "+441234567890123");
}

static void test_format_policies(void **state)
{
	br_numplan_t np = plan("44", "0", "00", 10);

	np.plus_policy = BR_PLUS_E164;
	assert_fmt(&np, "+442079460000", "+442079460000");
	np.plus_policy = BR_PLUS_DIGITS;
	assert_fmt(&np, "+442079460000", "442079460000");
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+442079460000", "02079460000");
	assert_fmt(&np, "+14155550100", "0014155550100");

	np = plan("1", "1", "011", 10);
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+14155550100", "14155550100");
	assert_fmt(&np, "+442079460000", "011442079460000");

	/* no national prefix (e.g. Italy keeps its leading 0 in the NSN) */
	np = plan("39", "", "00", 0);
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+390612345678", "0612345678");
	/* no country code: every number is abroad */
	np = plan("", "", "00", 0);
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+14155550100", "0014155550100");
	/* empty international prefix: bare digits abroad */
	np = plan("44", "0", "", 0);
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+14155550100", "14155550100");
	assert_fmt(&np, "+442079460000", "02079460000");
}

static void test_format_tech_prefix(void **state)
{
	br_numplan_t np = plan("44", "0", "00", 10);

	strcpy(np.tech_prefix, "5678#");
	np.plus_policy = BR_PLUS_DIGITS;
	np.tech_mode = BR_TECH_NONE;
	assert_fmt(&np, "+14155550100", "14155550100");
	np.tech_mode = BR_TECH_STRIP;
	assert_fmt(&np, "+14155550100", "14155550100");
	np.tech_mode = BR_TECH_ADD;
	assert_fmt(&np, "+14155550100", "5678#14155550100");
	np.tech_mode = BR_TECH_BOTH;
	assert_fmt(&np, "+14155550100", "5678#14155550100");
	np.plus_policy = BR_PLUS_E164;
	assert_fmt(&np, "+14155550100", "5678#+14155550100");
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_fmt(&np, "+442079460000", "5678#02079460000");
	assert_fmt(&np, "+14155550100", "5678#0014155550100");
	/* ADD with no prefix configured adds nothing */
	np.tech_prefix[0] = '\0';
	assert_fmt(&np, "+14155550100", "0014155550100");
}

static void test_format_errors(void **state)
{
	br_numplan_t np = plan("", "", "00", 0);
	char out[32];

	assert_int_equal(
			br_e164_format(&np, "14155550100", out, sizeof(out)), -EINVAL);
	assert_int_equal(
			br_e164_format(&np, "+0415555010", out, sizeof(out)), -EINVAL);
	assert_int_equal(br_e164_format(&np, "", out, sizeof(out)), -EINVAL);
	assert_int_equal(br_e164_format(&np, NULL, out, sizeof(out)), -EINVAL);
	np.plus_policy = 7;
	assert_int_equal(
			br_e164_format(&np, "+14155550100", out, sizeof(out)), -EINVAL);

	/* "+14155550100" is 12 characters: 13 bytes needed */
	np.plus_policy = BR_PLUS_E164;
	assert_int_equal(br_e164_format(&np, "+14155550100", out, 12), -ENOSPC);
	assert_int_equal(br_e164_format(&np, "+14155550100", out, 13), 12);
	assert_string_equal(out, "+14155550100");
	assert_int_equal(br_e164_format(&np, "+14155550100", out, 0), -ENOSPC);
	strcpy(np.tech_prefix, "5678#");
	np.tech_mode = BR_TECH_ADD;
	assert_int_equal(br_e164_format(&np, "+14155550100", out, 17), -ENOSPC);
	assert_int_equal(br_e164_format(&np, "+14155550100", out, 18), 17);

	/* the longest dial string: 16-character tech prefix, 4-digit intl
	 * prefix and 15 digits */
	char big[64];
	strcpy(np.tech_prefix, "ABCDEFGHIJKLMNOP");
	strcpy(np.intl_prefix, "0000");
	np.plus_policy = BR_PLUS_NATIONAL;
	assert_int_equal(
			br_e164_format(&np, "+123456789012345", big, sizeof(big)), 35);
	assert_string_equal(big, "ABCDEFGHIJKLMNOP0000123456789012345");
}

static void test_round_trip(void **state)
{
	/* normalise(format(x)) == x for every policy, in and out of country */
	static const char *nums[] = {
			"+442079460000", "+14155550100", "+33142685300"};
	static const uint8_t pol[] = {
			BR_PLUS_E164, BR_PLUS_DIGITS, BR_PLUS_NATIONAL};
	br_numplan_t np = plan("44", "0", "00", 10);
	char dial[64], back[BR_E164_MAX + 1];
	size_t i, j;
	int n;

	strcpy(np.tech_prefix, "12#");
	np.tech_mode = BR_TECH_BOTH;
	for(i = 0; i < sizeof(pol); i++) {
		np.plus_policy = pol[i];
		for(j = 0; j < sizeof(nums) / sizeof(nums[0]); j++) {
			n = br_e164_format(&np, nums[j], dial, sizeof(dial));
			assert_true(n > 0);
			assert_int_equal(br_e164_normalize(&np, dial, (size_t)n, back), 0);
			assert_string_equal(back, nums[j]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_defaults),
			cmocka_unit_test(test_valid),
			cmocka_unit_test(test_rule1_separators_and_tail),
			cmocka_unit_test(test_rule2_tech_prefix),
			cmocka_unit_test(test_rule3_plus),
			cmocka_unit_test(test_rule4_intl_prefix),
			cmocka_unit_test(test_rule5_national_prefix),
			cmocka_unit_test(test_rule6_nsn_length),
			cmocka_unit_test(test_rule7_plain_digits),
			cmocka_unit_test(test_invalid),
			cmocka_unit_test(test_format_policies),
			cmocka_unit_test(test_format_tech_prefix),
			cmocka_unit_test(test_format_errors),
			cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
