/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_cidr.h -- IPv4/IPv6 addresses, CIDR networks and a longest-prefix
 * match table. Pure C: no Kamailio, no allocation in the lookup path.
 *
 * Every address is kept as 16 bytes. IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d) so one table answers both families; an IPv4 /n
 * network is stored with prefix length n + 96.
 */
#ifndef BR_CIDR_H
#define BR_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define BR_IP_LEN 16
/* longest text form of a network: IPv6 (45) + "/128" + NUL */
#define BR_NET_STR_MAX 50

typedef struct br_net {
	uint8_t addr[BR_IP_LEN]; /* network address, host bits zero */
	uint8_t plen;			 /* 0..128 in the mapped space */
	uint8_t is_v4;			 /* 1 if written as IPv4 */
} br_net_t;

/* Parses an IPv4 or IPv6 address (no prefix) into 16 mapped bytes.
 * Returns 0 or -EINVAL. 's' need not be NUL-terminated. */
int br_ip_parse(uint8_t out[BR_IP_LEN], const char *s, size_t len);

/* Parses "a.b.c.d", "a.b.c.d/n", "x::y" or "x::y/n". A bare address is a
 * host network (/32 or /128). Host bits set below the prefix are an error
 * ("10.0.0.1/24" is refused: the operator most likely meant something
 * else). Returns 0 or -EINVAL; on error 'err' (may be NULL) says why. */
int br_net_parse(br_net_t *out, const char *s, size_t len, char *err,
		size_t errlen);

/* Writes the canonical text form ("10.0.0.0/24", "2001:db8::/32"; host
 * networks are written without a prefix). Returns the length written or
 * -ENOSPC. */
int br_net_format(const br_net_t *n, char *buf, size_t len);

/* 1 if 'ip' (16 mapped bytes) lies inside 'n', else 0. */
int br_net_contains(const br_net_t *n, const uint8_t ip[BR_IP_LEN]);

/* Writes an address (16 mapped bytes) as text; IPv4-mapped addresses are
 * written in dotted form. Returns the length or -ENOSPC. */
int br_ip_format(const uint8_t ip[BR_IP_LEN], char *buf, size_t len);

/*
 * Longest-prefix match table: an array of (network, value) sorted by
 * prefix length (longest first) then address, plus the list of distinct
 * prefix lengths. A lookup masks the address once per distinct length and
 * binary-searches that length's run: O(L log n), no allocation.
 * The caller owns 'e' (the table only points at it).
 */
typedef struct br_lpm_entry {
	uint8_t addr[BR_IP_LEN];
	uint8_t plen;
	uint32_t value; /* caller's payload, e.g. a trunk index */
} br_lpm_entry_t;

typedef struct br_lpm {
	br_lpm_entry_t *e;
	uint32_t n;
	uint8_t lens[129]; /* distinct prefix lengths, longest first */
	uint8_t nlens;
} br_lpm_t;

/* Sorts 'e' in place and fills 't'. Duplicate (addr, plen, value) rows are
 * removed; 't->n' is the count kept. */
void br_lpm_build(br_lpm_t *t, br_lpm_entry_t *e, uint32_t n);

/* Writes up to 'max' values whose networks contain 'ip', longest prefix
 * first (entries with the same prefix in table order). A value appears at
 * most once. Returns the number written. */
int br_lpm_lookup(const br_lpm_t *t, const uint8_t ip[BR_IP_LEN],
		uint32_t *out, int max);

#endif
