/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_keys.c -- Redis key names of the data model (see br_keys.h and
 * docs/redis-schema.md).
 */
#include <errno.h>
#include <string.h>
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
	/* on the call path (twice per INVITE): plain copies, not snprintf */
	{
		size_t lp = sizeof(BR_KEY_PREFIX) - 1, lh = strlen(head),
			   li = strlen(id), lt = strlen(tail);
		if(lp + lh + li + lt >= len) {
			/* never leave a truncated key behind */
			buf[0] = '\0';
			return -ENOSPC;
		}
		memcpy(buf, BR_KEY_PREFIX, lp);
		memcpy(buf + lp, head, lh);
		memcpy(buf + lp + lh, id, li);
		memcpy(buf + lp + lh + li, tail, lt + 1);
		n = (int)(lp + lh + li + lt);
	}
	return n;
}
