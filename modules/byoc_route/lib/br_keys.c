/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_keys.c -- Redis key names of the data model (see br_keys.h and
 * docs/redis-schema.md).
 */
#include <errno.h>
#include <stdio.h>

#include "br_keys.h"

int br_key(char *buf, size_t len, enum br_key_kind kind, const char *id)
{
	/* key = BR_KEY_PREFIX head id tail; per-trunk runtime keys put the id
	 * in the hash tag "{t:<id>}" so they land on one cluster slot */
	const char *head, *tail;
	int n;

	if(id == NULL || id[0] == '\0')
		return -EINVAL;
	switch(kind) {
		case BR_K_TRUNK:
			head = "trunk:";
			tail = "";
			break;
		case BR_K_TRUNK_DIDS:
			head = "trunk:";
			tail = ":dids";
			break;
		case BR_K_AGENT:
			head = "agent:";
			tail = "";
			break;
		case BR_K_DID:
			head = "did:";
			tail = "";
			break;
		case BR_K_WORKER:
			head = "worker:";
			tail = "";
			break;
		case BR_K_LEASE:
			head = "{t:";
			tail = "}:lease";
			break;
		case BR_K_CPS:
			head = "{t:";
			tail = "}:cps";
			break;
		case BR_K_STATS:
			head = "{t:";
			tail = "}:stats";
			break;
		case BR_K_HEALTH:
			head = "{t:";
			tail = "}:health";
			break;
		default:
			return -EINVAL;
	}
	if(buf == NULL || len == 0)
		return -ENOSPC;
	n = snprintf(buf, len, "%s%s%s%s", BR_KEY_PREFIX, head, id, tail);
	if(n < 0)
		return -EINVAL;
	if((size_t)n >= len) {
		/* never leave a truncated key behind */
		buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}
