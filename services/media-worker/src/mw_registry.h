/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_registry.h -- the worker's Redis side, on the SIP thread: one async
 * hiredis connection (libevent adapter) with reconnect, the registry
 * heartbeat (HSET byoc:v1:worker:<id> addr port transport capacity active
 * draining wideband; EXPIRE 3 heartbeats; SADD byoc:v1:workers <id>),
 * and agent record lookups (HGETALL byoc:v1:agent:<id>, parsed and
 * checked with br_model).
 *
 * Ownership: main.c owns the registry (mw_registry_new/free). Every
 * callback runs on the SIP thread. A pending lookup's callback is always
 * called exactly once (with an error on disconnect or free).
 */
#ifndef MW_REGISTRY_H
#define MW_REGISTRY_H

#include "br_model.h"

struct event_base;
struct mw_config;
struct mw_status;
struct mw_registry;

int mw_registry_new(struct event_base *base, const struct mw_config *cfg,
		struct mw_status *st, struct mw_registry **out);
/* Writes the heartbeat now (draining or load changed). */
void mw_registry_kick(struct mw_registry *r);
/* Clean exit: deletes the worker's hash and set entry, then calls
 * done(arg) (also on error or when not connected). */
void mw_registry_remove(struct mw_registry *r, void (*done)(void *), void *arg);
void mw_registry_free(struct mw_registry *r);

/* rc: 0 found and valid (*a set), -ENOENT no such agent, -EINVAL invalid
 * record ('err' says why), -EIO Redis unavailable. 'a' is only valid
 * during the call. */
typedef void (*mw_agent_cb)(
		void *arg, int rc, const br_agent_t *a, const char *err);
/* Looks the agent up. Returns 0 (the callback follows, never inside this
 * call) or -ENOTCONN / -EINVAL (no callback). */
int mw_registry_get_agent(
		struct mw_registry *r, const char *id, mw_agent_cb cb, void *arg);
/* The lookups still pending for 'arg' will not call back (their owner is
 * being freed). */
void mw_registry_forget(struct mw_registry *r, void *arg);

/* Parses an HGETALL-style field list into an agent (pure; for tests):
 * defaults, every known field, unknown fields ignored, then the record
 * check. Returns 0 or -EINVAL with 'err'. */
int mw_registry_agent_parse(const char *id, const char *const *kv, size_t n,
		br_agent_t *a, char *err, size_t errlen);

#endif
