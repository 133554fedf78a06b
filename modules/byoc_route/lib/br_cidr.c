/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_cidr.c -- IPv4/IPv6 addresses and networks in one 16-byte mapped
 * space, and the longest-prefix match table (see br_cidr.h).
 *
 * Parsing is inet_pton()'s (strict on glibc: no leading zeros, no octal or
 * hex IPv4, no scope ids); we only add the length-bounded copy, the
 * "/prefix" and the host-bits check. Formatting IPv6 is written here
 * rather than taken from inet_ntop(): POSIX does not specify its output
 * and glibc's is not RFC 5952 for every address (it writes ::102:304 as
 * "::1.2.3.4"), while the text form of a network is a contract here
 * (records are emitted and compared in canonical form).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_cidr.h"

/* longest address text inet_pton can accept, without the NUL */
#define BR_IP_TEXT_MAX 45

static const uint8_t v4_mapped_prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_err(char *err, size_t errlen, const char *msg)
{
	if(err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static int is_mapped(const uint8_t ip[BR_IP_LEN])
{
	return memcmp(ip, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

/* Parses the address and says which family it was written in. */
static int ip_parse(
		uint8_t out[BR_IP_LEN], const char *s, size_t len, int *is_v4)
{
	char buf[BR_IP_TEXT_MAX + 1];

	if(out == NULL || s == NULL || len == 0 || len > BR_IP_TEXT_MAX)
		return -EINVAL;
	/* an embedded NUL would silently shorten the text */
	if(memchr(s, '\0', len) != NULL)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if(memchr(buf, ':', len) == NULL) {
		memcpy(out, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		if(inet_pton(AF_INET, buf, out + 12) != 1)
			return -EINVAL;
		*is_v4 = 1;
		return 0;
	}
	if(inet_pton(AF_INET6, buf, out) != 1)
		return -EINVAL;
	*is_v4 = 0;
	return 0;
}

int br_ip_parse(uint8_t out[BR_IP_LEN], const char *s, size_t len)
{
	uint8_t tmp[BR_IP_LEN];
	int v4;

	/* 'out' is left untouched on error */
	if(ip_parse(tmp, s, len, &v4) < 0)
		return -EINVAL;
	memcpy(out, tmp, BR_IP_LEN);
	return 0;
}

/* Clears every bit of 'a' after the first 'plen'. */
static void mask_addr(uint8_t a[BR_IP_LEN], unsigned plen)
{
	unsigned i;

	for(i = 0; i < BR_IP_LEN; i++) {
		if(plen >= 8) {
			plen -= 8;
		} else {
			a[i] &= (uint8_t)(0xff00u >> plen);
			plen = 0;
		}
	}
}

/* Decimal prefix length: 1..3 digits, no sign, no leading zero. */
static int parse_plen(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if(len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if(v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int br_net_parse(
		br_net_t *out, const char *s, size_t len, char *err, size_t errlen)
{
	uint8_t addr[BR_IP_LEN], masked[BR_IP_LEN];
	const char *slash;
	size_t alen;
	unsigned plen;
	int v4;

	if(out == NULL || s == NULL || len == 0) {
		set_err(err, errlen, "empty network");
		return -EINVAL;
	}
	slash = memchr(s, '/', len);
	alen = slash != NULL ? (size_t)(slash - s) : len;
	if(ip_parse(addr, s, alen, &v4) < 0) {
		set_err(err, errlen, "invalid IP address");
		return -EINVAL;
	}
	if(slash == NULL) {
		plen = v4 ? 32 : 128;
	} else if(parse_plen(slash + 1, len - alen - 1, v4 ? 32 : 128, &plen) < 0) {
		set_err(err, errlen,
				v4 ? "invalid prefix length (IPv4: 0..32)"
				   : "invalid prefix length (IPv6: 0..128)");
		return -EINVAL;
	}
	if(v4)
		plen += 96;

	memcpy(masked, addr, BR_IP_LEN);
	mask_addr(masked, plen);
	if(memcmp(masked, addr, BR_IP_LEN) != 0) {
		set_err(err, errlen,
				"host bits set below the prefix length (network address "
				"expected)");
		return -EINVAL;
	}
	memcpy(out->addr, addr, BR_IP_LEN);
	out->plen = (uint8_t)plen;
	out->is_v4 = (uint8_t)v4;
	return 0;
}

/* IPv6 text per RFC 5952: lowercase hex without leading zeros, the
 * longest run (first one on a tie) of two or more zero groups written
 * "::". 'buf' holds at least 40 bytes. */
static int ip6_text(const uint8_t ip[BR_IP_LEN], char *buf)
{
	unsigned g[8];
	int i, best = -1, bestlen = 0, cur = -1, curlen = 0, n = 0;

	for(i = 0; i < 8; i++) {
		g[i] = ((unsigned)ip[2 * i] << 8) | ip[2 * i + 1];
		if(g[i] == 0) {
			if(cur < 0) {
				cur = i;
				curlen = 0;
			}
			curlen++;
			if(curlen > bestlen) {
				best = cur;
				bestlen = curlen;
			}
		} else {
			cur = -1;
		}
	}
	if(bestlen < 2) {
		best = -1;
		bestlen = 0;
	}

	for(i = 0; i < 8; i++) {
		if(i == best) {
			/* "::" stands for the run and both separators around it */
			buf[n++] = ':';
			buf[n++] = ':';
			i += bestlen - 1;
			continue;
		}
		if(i > 0 && i != best + bestlen)
			buf[n++] = ':';
		n += sprintf(buf + n, "%x", g[i]);
	}
	buf[n] = '\0';
	return n;
}

/* Writes the text form of an address: dotted when 'dotted' (the address
 * must be mapped), else IPv6 -- with a mapped address in the mixed
 * notation RFC 5952 section 5 recommends ("::ffff:192.0.2.1"). */
static int addr_text(const uint8_t ip[BR_IP_LEN], int dotted, char *buf)
{
	if(!dotted && !is_mapped(ip))
		return ip6_text(ip, buf);
	return sprintf(buf, "%s%u.%u.%u.%u", dotted ? "" : "::ffff:", ip[12],
			ip[13], ip[14], ip[15]);
}

static int copy_out(const char *s, int n, char *buf, size_t len)
{
	if(buf == NULL || (size_t)n >= len)
		return -ENOSPC;
	memcpy(buf, s, (size_t)n + 1);
	return n;
}

int br_ip_format(const uint8_t ip[BR_IP_LEN], char *buf, size_t len)
{
	char tmp[BR_NET_STR_MAX];

	return copy_out(tmp, addr_text(ip, is_mapped(ip), tmp), buf, len);
}

int br_net_format(const br_net_t *n, char *buf, size_t len)
{
	char tmp[BR_NET_STR_MAX];
	/* is_v4 is only honoured when it can be written as IPv4 */
	int v4 = n->is_v4 && n->plen >= 96 && is_mapped(n->addr);
	int k;

	k = addr_text(n->addr, v4, tmp);
	if(n->plen < 128)
		k += sprintf(tmp + k, "/%u", v4 ? n->plen - 96u : n->plen);
	return copy_out(tmp, k, buf, len);
}

/* 1 if the first 'plen' bits of a and b are equal. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	uint8_t m;

	if(plen > 128)
		return 0;
	if(memcmp(a, b, full) != 0)
		return 0;
	if(rest == 0)
		return 1;
	m = (uint8_t)(0xff00u >> rest);
	return (a[full] & m) == (b[full] & m);
}

int br_net_contains(const br_net_t *n, const uint8_t ip[BR_IP_LEN])
{
	return prefix_eq(n->addr, ip, n->plen);
}

/* ---- longest-prefix match ------------------------------------------- */

/* Table order: prefix length descending, then address, then value (the
 * value only makes duplicates adjacent and the order deterministic). */
static int entry_cmp(const void *pa, const void *pb)
{
	const br_lpm_entry_t *a = pa, *b = pb;
	int c;

	if(a->plen != b->plen)
		return a->plen > b->plen ? -1 : 1;
	c = memcmp(a->addr, b->addr, BR_IP_LEN);
	if(c != 0)
		return c;
	if(a->value != b->value)
		return a->value < b->value ? -1 : 1;
	return 0;
}

void br_lpm_build(br_lpm_t *t, br_lpm_entry_t *e, uint32_t n)
{
	uint32_t i, k = 0;

	memset(t, 0, sizeof(*t));
	t->e = e;
	if(e == NULL || n == 0)
		return;

	/* Rows with an impossible prefix length are dropped rather than
	 * matched wrongly; host bits are cleared so that the masked lookup
	 * address compares equal (br_net_parse never sets them). */
	for(i = 0; i < n; i++) {
		if(e[i].plen > 128)
			continue;
		if(k != i)
			e[k] = e[i];
		mask_addr(e[k].addr, e[k].plen);
		k++;
	}
	n = k;
	qsort(e, n, sizeof(*e), entry_cmp);

	k = 0;
	for(i = 0; i < n; i++) {
		if(k > 0 && entry_cmp(&e[k - 1], &e[i]) == 0)
			continue;
		if(k != i)
			e[k] = e[i];
		if(t->nlens == 0 || t->lens[t->nlens - 1] != e[k].plen)
			t->lens[t->nlens++] = e[k].plen;
		k++;
	}
	t->n = k;
}

/* Index of the first entry not before (plen, addr) in table order. */
static uint32_t lower_bound(
		const br_lpm_t *t, unsigned plen, const uint8_t addr[BR_IP_LEN])
{
	uint32_t lo = 0, hi = t->n, mid;
	const br_lpm_entry_t *m;

	while(lo < hi) {
		mid = lo + (hi - lo) / 2;
		m = &t->e[mid];
		if(m->plen > plen ||
				(m->plen == plen && memcmp(m->addr, addr, BR_IP_LEN) < 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int br_lpm_lookup(
		const br_lpm_t *t, const uint8_t ip[BR_IP_LEN], uint32_t *out, int max)
{
	uint8_t key[BR_IP_LEN];
	uint32_t i;
	int l, k, cnt = 0;

	if(t == NULL || t->e == NULL || ip == NULL || out == NULL || max <= 0)
		return 0;
	for(l = 0; l < t->nlens && cnt < max; l++) {
		memcpy(key, ip, BR_IP_LEN);
		mask_addr(key, t->lens[l]);
		/* every value on this network: a run of equal (plen, addr) */
		for(i = lower_bound(t, t->lens[l], key);
				i < t->n && cnt < max && t->e[i].plen == t->lens[l] &&
				memcmp(t->e[i].addr, key, BR_IP_LEN) == 0;
				i++) {
			for(k = 0; k < cnt && out[k] != t->e[i].value; k++)
				;
			if(k == cnt)
				out[cnt++] = t->e[i].value;
		}
	}
	return cnt;
}
