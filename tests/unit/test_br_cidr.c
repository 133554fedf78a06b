/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_br_cidr.c -- unit tests of br_cidr: address and network parsing,
 * canonical text forms, containment and the longest-prefix match table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "br_cidr.h"

static int ip(uint8_t out[BR_IP_LEN], const char *s)
{
	return br_ip_parse(out, s, strlen(s));
}

static int net(br_net_t *n, const char *s)
{
	return br_net_parse(n, s, strlen(s), NULL, 0);
}

/* Parses 's' as an address and checks its canonical text form. */
static void assert_ip_text(const char *s, const char *want)
{
	uint8_t a[BR_IP_LEN];
	char buf[BR_NET_STR_MAX];

	assert_int_equal(ip(a, s), 0);
	assert_int_equal(br_ip_format(a, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

/* Parses 's' as a network and checks its canonical text form. */
static void assert_net_text(const char *s, const char *want)
{
	br_net_t n;
	char buf[BR_NET_STR_MAX];

	assert_int_equal(net(&n, s), 0);
	assert_int_equal(br_net_format(&n, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_ipv4_parse(void **state)
{
	uint8_t a[BR_IP_LEN];
	const uint8_t want[BR_IP_LEN] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};

	assert_int_equal(ip(a, "192.0.2.1"), 0);
	assert_memory_equal(a, want, BR_IP_LEN);
	/* the length bounds the text, no NUL needed */
	memset(a, 0, sizeof(a));
	assert_int_equal(br_ip_parse(a, "192.0.2.1xyz", 9), 0);
	assert_memory_equal(a, want, BR_IP_LEN);
	assert_ip_text("0.0.0.0", "0.0.0.0");
	assert_ip_text("255.255.255.255", "255.255.255.255");
}

static void test_ipv6_parse(void **state)
{
	uint8_t a[BR_IP_LEN];
	uint8_t want[BR_IP_LEN] = {0};

	assert_int_equal(ip(a, "::"), 0);
	assert_memory_equal(a, want, BR_IP_LEN);
	want[15] = 1;
	assert_int_equal(ip(a, "::1"), 0);
	assert_memory_equal(a, want, BR_IP_LEN);

	/* the mapped IPv6 spelling is the same address as the IPv4 one */
	uint8_t b[BR_IP_LEN];
	assert_int_equal(ip(a, "::ffff:1.2.3.4"), 0);
	assert_int_equal(ip(b, "1.2.3.4"), 0);
	assert_memory_equal(a, b, BR_IP_LEN);
	assert_int_equal(ip(b, "::FFFF:102:304"), 0);
	assert_memory_equal(a, b, BR_IP_LEN);

	const uint8_t db8[BR_IP_LEN] = {
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	assert_int_equal(ip(a, "2001:db8::1"), 0);
	assert_memory_equal(a, db8, BR_IP_LEN);
	assert_int_equal(ip(a, "2001:0DB8:0000:0000:0000:0000:0000:0001"), 0);
	assert_memory_equal(a, db8, BR_IP_LEN);
	assert_int_equal(ip(a, "2001:db8:0::0:1"), 0);
	assert_memory_equal(a, db8, BR_IP_LEN);
}

static void test_ip_parse_invalid(void **state)
{
	static const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1",
			"1.2.3.256", "01.2.3.4", "1..3.4", " 1.2.3.4", "1.2.3.4 ",
			"x1.2.3.4", "0x1.2.3.4", "1.2.3.4/32", "1:2:3:4:5:6:7:8:9",
			"1::2::3", ":1::", "1:::2", "12345::", "fe80::1%eth0", "::g",
			"::ffff:1.2.3", "[::1]", "2001:db8::1 ",
			"1111:2222:3333:4444:5555:6666:7777:8888:9999:0000"};
	uint8_t a[BR_IP_LEN], keep[BR_IP_LEN];
	size_t i;

	memset(a, 0xaa, sizeof(a));
	memcpy(keep, a, sizeof(a));
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("  %s\n", bad[i]);
		assert_int_equal(ip(a, bad[i]), -EINVAL);
		assert_memory_equal(a, keep, BR_IP_LEN); /* untouched */
	}
	/* an embedded NUL inside the given length */
	assert_int_equal(br_ip_parse(a, "1.2.3.4\0", 8), -EINVAL);
	assert_int_equal(br_ip_parse(a, NULL, 0), -EINVAL);
}

static void test_net_parse(void **state)
{
	br_net_t n;
	uint8_t want[BR_IP_LEN] = {0};

	assert_int_equal(net(&n, "10.0.0.0/8"), 0);
	assert_int_equal(n.plen, 8 + 96);
	assert_int_equal(n.is_v4, 1);
	want[10] = want[11] = 0xff;
	want[12] = 10;
	assert_memory_equal(n.addr, want, BR_IP_LEN);

	assert_int_equal(net(&n, "192.0.2.7"), 0); /* host network */
	assert_int_equal(n.plen, 128);
	assert_int_equal(n.is_v4, 1);

	assert_int_equal(net(&n, "2001:db8::/32"), 0);
	assert_int_equal(n.plen, 32);
	assert_int_equal(n.is_v4, 0);

	assert_int_equal(net(&n, "2001:db8::5"), 0);
	assert_int_equal(n.plen, 128);

	assert_int_equal(net(&n, "0.0.0.0/0"), 0);
	assert_int_equal(n.plen, 96);
	assert_int_equal(net(&n, "::/0"), 0);
	assert_int_equal(n.plen, 0);

	/* the IPv6 spelling of an IPv4 network is kept as IPv6 */
	assert_int_equal(net(&n, "::ffff:10.0.0.0/104"), 0);
	assert_int_equal(n.plen, 104);
	assert_int_equal(n.is_v4, 0);
}

static void test_net_parse_invalid(void **state)
{
	static const char *bad[] = {"", "/", "/24", "10.0.0.0/", "10.0.0.0/33",
			"10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08", "10.0.0.0/8 ",
			"10.0.0.0/8/8", "10.0.0.0/1000", "2001:db8::/129", "::/129",
			"256.1.1.1/32", "x10.0.0.0/8", "10.0.0.0 /8", "10.0.0.1/24",
			"2001:db8::1/64", "::1/0"};
	br_net_t n;
	char err[128];
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("  %s\n", bad[i]);
		err[0] = '\0';
		assert_int_equal(
				br_net_parse(&n, bad[i], strlen(bad[i]), err, sizeof(err)),
				-EINVAL);
		assert_true(err[0] != '\0'); /* a reason is always given */
	}

	/* host bits set: refused with a message that says so */
	assert_int_equal(
			br_net_parse(&n, "10.0.0.1/24", 11, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(
			br_net_parse(&n, "10.0.0.0/33", 11, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "prefix"));
	/* a tiny (or absent) error buffer is fine */
	assert_int_equal(br_net_parse(&n, "10.0.0.1/24", 11, err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(br_net_parse(&n, "10.0.0.1/24", 11, NULL, 0), -EINVAL);
}

static void test_format_canonical(void **state)
{
	/* RFC 5952: lowercase, no leading zeros, longest zero run as "::"
	 * (the first on a tie), a single zero group is not compressed */
	assert_ip_text("::", "::");
	assert_ip_text("::1", "::1");
	assert_ip_text("1::", "1::");
	assert_ip_text("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	assert_ip_text("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	assert_ip_text("1:0:0:2:0:0:0:3", "1:0:0:2::3");
	assert_ip_text("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	assert_ip_text("1::2:3:4:5:6:7", "1:0:2:3:4:5:6:7");
	assert_ip_text("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7");
	assert_ip_text("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
	assert_ip_text("FE80::ABCD:EF01", "fe80::abcd:ef01");
	assert_ip_text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* an IPv4-compatible (not mapped) address is plain IPv6 */
	assert_ip_text("::1.2.3.4", "::102:304");
	/* mapped addresses are written dotted */
	assert_ip_text("::ffff:1.2.3.4", "1.2.3.4");
	assert_ip_text("::ffff:0:0", "0.0.0.0");
}

static void test_net_format(void **state)
{
	assert_net_text("10.0.0.0/8", "10.0.0.0/8");
	assert_net_text("192.0.2.1", "192.0.2.1");
	assert_net_text("192.0.2.1/32", "192.0.2.1");
	assert_net_text("0.0.0.0/0", "0.0.0.0/0");
	assert_net_text("2001:DB8::/32", "2001:db8::/32");
	assert_net_text("2001:db8:0:0:0:0:0:1/128", "2001:db8::1");
	assert_net_text("::/0", "::/0");
	assert_net_text("::1", "::1");
	/* written as IPv6, kept as IPv6 (mixed notation, RFC 5952 s. 5) */
	assert_net_text("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104");
	assert_net_text("::ffff:1.2.3.4", "::ffff:1.2.3.4");

	/* the text form parses back to the same network */
	static const char *rt[] = {"203.0.113.0/24", "2001:db8:1::/48", "fe80::/10",
			"::ffff:0.0.0.0/96", "1.2.3.4"};
	br_net_t a, b;
	char buf[BR_NET_STR_MAX];
	size_t i;
	for(i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		assert_int_equal(net(&a, rt[i]), 0);
		assert_true(br_net_format(&a, buf, sizeof(buf)) > 0);
		assert_int_equal(net(&b, buf), 0);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_format_enospc(void **state)
{
	br_net_t n;
	uint8_t a[BR_IP_LEN];
	char buf[BR_NET_STR_MAX];

	assert_int_equal(net(&n, "10.0.0.0/8"), 0);
	/* "10.0.0.0/8" is 10 characters: needs 11 bytes with the NUL */
	assert_int_equal(br_net_format(&n, buf, 10), -ENOSPC);
	assert_int_equal(br_net_format(&n, buf, 11), 10);
	assert_string_equal(buf, "10.0.0.0/8");
	assert_int_equal(br_net_format(&n, buf, 0), -ENOSPC);

	assert_int_equal(ip(a, "2001:db8::1"), 0);
	assert_int_equal(br_ip_format(a, buf, 11), -ENOSPC);
	assert_int_equal(br_ip_format(a, buf, 12), 11);

	/* the longest forms fit BR_NET_STR_MAX */
	assert_int_equal(net(&n, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"), 0);
	assert_int_equal(br_net_format(&n, buf, sizeof(buf)), 43);
	assert_int_equal(net(&n, "::ffff:255.255.255.255"), 0);
	assert_int_equal(br_net_format(&n, buf, sizeof(buf)), 22);
}

static void test_contains(void **state)
{
	br_net_t n;
	uint8_t a[BR_IP_LEN];

	assert_int_equal(net(&n, "10.1.0.0/16"), 0);
	assert_int_equal(ip(a, "10.1.255.255"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "10.2.0.0"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);
	/* an IPv4 network never contains an IPv6 address */
	assert_int_equal(ip(a, "::a01:1"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);

	/* prefix not on a byte boundary */
	assert_int_equal(net(&n, "192.0.2.64/26"), 0);
	assert_int_equal(ip(a, "192.0.2.127"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "192.0.2.128"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);
	assert_int_equal(ip(a, "192.0.2.63"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);

	assert_int_equal(net(&n, "0.0.0.0/0"), 0); /* all of IPv4 only */
	assert_int_equal(ip(a, "203.0.113.9"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "2001:db8::1"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);

	assert_int_equal(net(&n, "::/0"), 0); /* everything */
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "1.2.3.4"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);

	assert_int_equal(net(&n, "2001:db8::/33"), 0);
	assert_int_equal(ip(a, "2001:db8:7fff::1"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "2001:db8:8000::"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);

	assert_int_equal(net(&n, "192.0.2.1"), 0); /* host network */
	assert_int_equal(ip(a, "192.0.2.1"), 0);
	assert_int_equal(br_net_contains(&n, a), 1);
	assert_int_equal(ip(a, "192.0.2.2"), 0);
	assert_int_equal(br_net_contains(&n, a), 0);
}

/* Adds a table row from a network text. */
static void row(br_lpm_entry_t *e, const char *s, uint32_t value)
{
	br_net_t n;

	assert_int_equal(net(&n, s), 0);
	memcpy(e->addr, n.addr, BR_IP_LEN);
	e->plen = n.plen;
	e->value = value;
}

static int lookup(const br_lpm_t *t, const char *s, uint32_t *out, int max)
{
	uint8_t a[BR_IP_LEN];

	assert_int_equal(ip(a, s), 0);
	return br_lpm_lookup(t, a, out, max);
}

static void test_lpm_order(void **state)
{
	br_lpm_entry_t e[8];
	br_lpm_t t;
	uint32_t out[8];

	/* rows given shortest first, mixed families */
	row(&e[0], "0.0.0.0/0", 1);
	row(&e[1], "2001:db8::/32", 2);
	row(&e[2], "10.0.0.0/8", 3);
	row(&e[3], "2001:db8:1::/48", 4);
	row(&e[4], "10.1.0.0/16", 5);
	row(&e[5], "10.1.2.3", 6);
	row(&e[6], "::/0", 7);
	row(&e[7], "192.0.2.0/24", 8);
	br_lpm_build(&t, e, 8);
	assert_int_equal(t.n, 8);
	/* lengths in the mapped space, longest first: 128 (IPv4 /32), 120
	 * (/24), 112 (/16), 104 (/8), 96 (IPv4 /0), 48, 32, 0 */
	static const uint8_t lens[] = {128, 120, 112, 104, 96, 48, 32, 0};
	assert_int_equal(t.nlens, sizeof(lens));
	assert_memory_equal(t.lens, lens, sizeof(lens));

	assert_int_equal(lookup(&t, "10.1.2.3", out, 8), 5);
	assert_int_equal(out[0], 6);
	assert_int_equal(out[1], 5);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 1);
	assert_int_equal(out[4], 7);

	assert_int_equal(lookup(&t, "10.9.9.9", out, 8), 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 7);

	assert_int_equal(lookup(&t, "192.0.2.200", out, 8), 3);
	assert_int_equal(out[0], 8);

	assert_int_equal(lookup(&t, "2001:db8:1:2::3", out, 8), 3);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 7);

	/* IPv6 outside every IPv6 network but ::/0; the IPv4 /0 is not hit */
	assert_int_equal(lookup(&t, "2001:db9::1", out, 8), 1);
	assert_int_equal(out[0], 7);
}

static void test_lpm_shared_and_dedupe(void **state)
{
	br_lpm_entry_t e[9];
	br_lpm_t t;
	uint32_t out[8];

	/* a carrier IP shared by three trunks, one row given twice */
	row(&e[0], "198.51.100.10", 30);
	row(&e[1], "198.51.100.10", 10);
	row(&e[2], "198.51.100.10", 20);
	row(&e[3], "198.51.100.10", 10);
	/* trunk 10 also allows the whole /24: it must appear only once */
	row(&e[4], "198.51.100.0/24", 10);
	row(&e[5], "198.51.100.0/24", 40);
	row(&e[6], "198.51.100.11", 50);
	row(&e[7], "198.51.100.0/24", 40);
	row(&e[8], "198.51.101.0/24", 60);
	br_lpm_build(&t, e, 9);
	assert_int_equal(t.n, 7); /* two exact duplicates removed */
	assert_int_equal(t.nlens, 2);

	assert_int_equal(lookup(&t, "198.51.100.10", out, 8), 4);
	/* same prefix: table order (ascending value) */
	assert_int_equal(out[0], 10);
	assert_int_equal(out[1], 20);
	assert_int_equal(out[2], 30);
	assert_int_equal(out[3], 40);

	assert_int_equal(lookup(&t, "198.51.100.11", out, 8), 3);
	assert_int_equal(out[0], 50);
	assert_int_equal(out[1], 10);
	assert_int_equal(out[2], 40);

	assert_int_equal(lookup(&t, "198.51.100.12", out, 8), 2);
	assert_int_equal(lookup(&t, "198.51.102.1", out, 8), 0);
	assert_int_equal(lookup(&t, "::ffff:198.51.101.1", out, 8), 1);
	assert_int_equal(out[0], 60);
}

static void test_lpm_max(void **state)
{
	br_lpm_entry_t e[4];
	br_lpm_t t;
	uint32_t out[4] = {99, 99, 99, 99};

	row(&e[0], "10.0.0.0/8", 1);
	row(&e[1], "10.0.0.0/16", 2);
	row(&e[2], "10.0.0.0/24", 3);
	row(&e[3], "10.0.0.0/24", 4);
	br_lpm_build(&t, e, 4);

	assert_int_equal(lookup(&t, "10.0.0.1", out, 1), 1);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 99); /* nothing written past max */
	assert_int_equal(lookup(&t, "10.0.0.1", out, 3), 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[2], 2);
	assert_int_equal(out[3], 99);
	assert_int_equal(lookup(&t, "10.0.0.1", out, 0), 0);
	assert_int_equal(lookup(&t, "10.0.0.1", out, -1), 0);
}

static void test_lpm_empty_and_host_bits(void **state)
{
	br_lpm_entry_t e[2];
	br_lpm_t t;
	uint32_t out[4];

	br_lpm_build(&t, NULL, 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(lookup(&t, "10.0.0.1", out, 4), 0);

	/* a row with host bits set still matches its network; a row with an
	 * impossible prefix length is dropped */
	row(&e[0], "10.0.0.0/8", 1);
	e[0].addr[15] = 7;
	row(&e[1], "10.0.0.0/8", 2);
	e[1].plen = 200;
	br_lpm_build(&t, e, 2);
	assert_int_equal(t.n, 1);
	assert_int_equal(lookup(&t, "10.200.0.1", out, 4), 1);
	assert_int_equal(out[0], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_ipv4_parse),
			cmocka_unit_test(test_ipv6_parse),
			cmocka_unit_test(test_ip_parse_invalid),
			cmocka_unit_test(test_net_parse),
			cmocka_unit_test(test_net_parse_invalid),
			cmocka_unit_test(test_format_canonical),
			cmocka_unit_test(test_net_format),
			cmocka_unit_test(test_format_enospc),
			cmocka_unit_test(test_contains),
			cmocka_unit_test(test_lpm_order),
			cmocka_unit_test(test_lpm_shared_and_dedupe),
			cmocka_unit_test(test_lpm_max),
			cmocka_unit_test(test_lpm_empty_and_host_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
