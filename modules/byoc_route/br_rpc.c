/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_rpc.c -- the byoc.* RPC commands (kamcmd over ctl, JSON-RPC over
 * jsonrpcs). Every write is validated completely first and then applied
 * in one MULTI/EXEC together with the config version bump, so an invalid
 * request writes nothing. Secrets (trunk passwords, agent tokens) are
 * encrypted before they reach Redis and never returned.
 * Reference: docs/rpc.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"

#include "lib/br_e164.h"
#include "lib/br_keys.h"
#include "lib/br_model.h"
#include "lib/br_secret.h"
#include "lib/br_snap.h"
#include "br_conf.h"
#include "br_lease.h"
#include "br_mod.h"
#include "br_probe.h"
#include "br_redis.h"
#include "br_registry.h"
#include "br_rpc.h"
#include "br_stats.h"

#define BR_RPC_MAX_ARGS 512	 /* argv of one Redis command */
#define BR_RPC_MAX_CMDS 20100 /* commands in one transaction */
#define BR_RPC_MAX_DIDS 10000 /* numbers per did_import call */

/* ---- a transaction under construction ---------------------------------- */

/* Commands and their argument text, built in malloc'ed memory and sent
 * as one MULTI ... EXEC pipeline. */
typedef struct br_tx {
	int ncmd;
	int argc[BR_RPC_MAX_CMDS];
	int first[BR_RPC_MAX_CMDS]; /* index of the command's first arg */
	int nargs, cap;
	char **args;
	size_t *lens;
} br_tx_t;

static br_tx_t *tx_new(void)
{
	br_tx_t *tx = calloc(1, sizeof(*tx));
	return tx;
}

static void tx_free(br_tx_t *tx)
{
	int i;
	if(!tx)
		return;
	for(i = 0; i < tx->nargs; i++) {
		br_secret_wipe(tx->args[i], tx->lens[i]);
		free(tx->args[i]);
	}
	free(tx->args);
	free(tx->lens);
	free(tx);
}

static int tx_arg(br_tx_t *tx, const char *s)
{
	if(tx->nargs == tx->cap) {
		int cap = tx->cap ? tx->cap * 2 : 64;
		char **a = realloc(tx->args, cap * sizeof(char *));
		size_t *l;
		if(!a)
			return -1;
		tx->args = a;
		l = realloc(tx->lens, cap * sizeof(size_t));
		if(!l)
			return -1;
		tx->lens = l;
		tx->cap = cap;
	}
	tx->args[tx->nargs] = strdup(s);
	if(!tx->args[tx->nargs])
		return -1;
	tx->lens[tx->nargs] = strlen(s);
	tx->argc[tx->ncmd]++;
	tx->nargs++;
	return 0;
}

/* Starts a command with its first words (NULL-terminated list). */
static int tx_cmd(br_tx_t *tx, ...)
{
	va_list ap;
	const char *s;
	int rc = 0;

	if(tx->ncmd >= BR_RPC_MAX_CMDS - 1)
		return -1;
	if(tx->argc[tx->ncmd])
		tx->ncmd++;
	tx->first[tx->ncmd] = tx->nargs;
	tx->argc[tx->ncmd] = 0;
	va_start(ap, tx);
	while(rc == 0 && (s = va_arg(ap, const char *)))
		rc = tx_arg(tx, s);
	va_end(ap);
	return rc;
}

static int tx_count(const br_tx_t *tx)
{
	return tx->argc[tx->ncmd] ? tx->ncmd + 1 : tx->ncmd;
}

static int emit_to_tx(void *ctx, const char *k, const char *v)
{
	br_tx_t *tx = ctx;
	if(tx_arg(tx, k) < 0 || tx_arg(tx, v) < 0)
		return -1;
	return 0;
}

/*
 * Sends MULTI, the commands, INCR version, EXEC (after an optional WATCH
 * the caller already issued) and PUBLISHes the new version. Returns the
 * new version (> 0), 0 when EXEC was aborted by WATCH, -1 on error.
 */
static long long tx_commit(br_tx_t *tx)
{
	int n = tx_count(tx), i, total = n + 3;
	redisReply **rep;
	const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
	const char *incr[2] = {"INCR", BR_KEY_VERSION};
	long long version = -1;

	rep = calloc(total, sizeof(*rep));
	if(!rep)
		return -1;
	if(br_redis_append(1, multi, NULL) < 0)
		goto done;
	for(i = 0; i < n; i++)
		if(br_redis_append(tx->argc[i], (const char **)tx->args + tx->first[i],
				   tx->lens + tx->first[i])
				< 0)
			goto done;
	if(br_redis_append(2, incr, NULL) < 0 || br_redis_append(1, exec, NULL) < 0)
		goto done;
	if(br_redis_get_replies(rep, total) < 0)
		goto done;
	if(rep[total - 1]->type == REDIS_REPLY_NIL) {
		version = 0;
	} else if(rep[total - 1]->type == REDIS_REPLY_ARRAY
			  && rep[total - 1]->elements == (size_t)n + 1) {
		redisReply *last = rep[total - 1]->element[n];
		version = last->type == REDIS_REPLY_INTEGER ? last->integer : -1;
		for(i = 0; i < n; i++)
			if(rep[total - 1]->element[i]->type == REDIS_REPLY_ERROR) {
				LM_ERR("transaction command %d failed: %s\n", i,
						rep[total - 1]->element[i]->str);
				version = -1;
			}
	} else if(rep[total - 1]->type == REDIS_REPLY_ERROR) {
		LM_ERR("EXEC failed: %s\n", rep[total - 1]->str);
	}
	if(version > 0) {
		redisReply *p = br_redis_cmdf(
				"PUBLISH %s %lld", BR_KEY_CHANNEL, version);
		if(p)
			freeReplyObject(p);
	}
done:
	for(i = 0; i < total; i++)
		if(rep[i])
			freeReplyObject(rep[i]);
	free(rep);
	return version;
}

static void unwatch(void)
{
	redisReply *r = br_redis_cmdf("UNWATCH");
	if(r)
		freeReplyObject(r);
}

static int watch(const char *key)
{
	redisReply *r = br_redis_cmdf("WATCH %s", key);
	if(!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* ---- reading records ----------------------------------------------------- */

typedef int (*br_set_fn)(
		void *rec, const char *k, const char *v, char *err, size_t len);

static int set_trunk(void *r, const char *k, const char *v, char *e, size_t l)
{
	return br_trunk_set(r, k, v, e, l);
}
static int set_agent(void *r, const char *k, const char *v, char *e, size_t l)
{
	return br_agent_set(r, k, v, e, l);
}

/* HGETALL key into rec. 1 found, 0 missing, -1 Redis down, -2 malformed
 * (err says why). */
static int read_hash(const char *key, br_set_fn set, void *rec, char *err,
		size_t errlen)
{
	redisReply *r = br_redis_cmdf("HGETALL %s", key);
	size_t i;
	int rc = 1;

	if(!r)
		return -1;
	if(r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -1;
	}
	if(r->elements == 0)
		rc = 0;
	for(i = 0; rc == 1 && i + 1 < r->elements; i += 2)
		if(set(rec, r->element[i]->str, r->element[i + 1]->str, err, errlen)
				< 0)
			rc = -2;
	freeReplyObject(r);
	return rc;
}

/* ---- RPC helpers --------------------------------------------------------- */

static void fault_store(rpc_t *rpc, void *c)
{
	rpc->fault(c, 503, "Redis unavailable");
}

/* Reads the remaining "key=value" parameters and applies them with 'set';
 * 'secret_key' ("password" / "auth_token") is encrypted into 'secret_field'
 * with aad. Returns 0, or -1 after sending a fault. */
static int apply_kv(rpc_t *rpc, void *c, br_set_fn set, void *rec,
		const char *secret_key, const char *secret_field, const char *aad,
		int *nset)
{
	char *kv, err[200];
	char key[64], enc[BR_SECRET_ENC_MAX + 1];
	char *eq;
	size_t kl;

	*nset = 0;
	while(rpc->scan(c, "*.s", &kv) == 1) {
		eq = strchr(kv, '=');
		if(!eq || eq == kv || (kl = (size_t)(eq - kv)) >= sizeof(key)) {
			rpc->fault(c, 400, "parameter '%s' is not key=value",
					strchr(kv, '=') ? "(too long)" : kv);
			return -1;
		}
		memcpy(key, kv, kl);
		key[kl] = 0;
		if(strcmp(key, secret_field) == 0) {
			rpc->fault(c, 400, "%s cannot be written directly; set %s",
					secret_field, secret_key);
			return -1;
		}
		if(strcmp(key, secret_key) == 0) {
			int n;
			if(!br_p.have_key) {
				rpc->fault(c, 500,
						"no secret key configured (secret_key_file or "
						"BYOC_SECRET_KEY): refusing to store %s",
						secret_key);
				return -1;
			}
			if(eq[1] == 0) {
				n = 0;
				enc[0] = 0; /* empty value clears the secret */
			} else {
				n = br_secret_encrypt(br_p.key, aad, eq + 1, strlen(eq + 1),
						enc, sizeof(enc));
			}
			br_secret_wipe(eq + 1, strlen(eq + 1));
			if(n < 0) {
				rpc->fault(c, 400, "%s: too long (max %d characters)",
						secret_key, BR_SECRET_PLAIN_MAX);
				return -1;
			}
			if(set(rec, secret_field, enc, err, sizeof(err)) < 0) {
				rpc->fault(c, 400, "%s", err);
				return -1;
			}
		} else if(set(rec, key, eq + 1, err, sizeof(err)) < 0) {
			rpc->fault(c, 400, "%s", err);
			return -1;
		}
		(*nset)++;
	}
	return 0;
}

typedef struct emit_rpc {
	rpc_t *rpc;
	void *st;
	const char *hide[2]; /* fields not to show (NULL = none) */
} emit_rpc_t;

static int emit_to_rpc(void *ctx, const char *k, const char *v)
{
	emit_rpc_t *e = ctx;
	if((e->hide[0] && strcmp(k, e->hide[0]) == 0)
			|| (e->hide[1] && strcmp(k, e->hide[1]) == 0))
		return 0;
	return e->rpc->struct_add(e->st, "s", k, v) < 0 ? -1 : 0;
}

static int trunk_exists(const char *id)
{
	redisReply *r = br_redis_cmdf("SISMEMBER %s %s", BR_KEY_TRUNKS, id);
	int rc = -1;
	if(r) {
		rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
		freeReplyObject(r);
	}
	return rc;
}

/* ---- trunks ------------------------------------------------------------- */

static const char *trunk_set_doc[] = {
		"Create or update a trunk: byoc.trunk_set <id> key=value ... "
		"(password=... is stored encrypted)",
		0};

/* Optimistic concurrency: WATCH the record, read and merge, validate,
 * write in MULTI/EXEC; a concurrent writer aborts the EXEC and the caller
 * gets 409 (the request's parameters are consumed, so it is not retried
 * here). */
static void rpc_trunk_set(rpc_t *rpc, void *c)
{
	char *id, key[BR_KEY_MAX], aad[BR_ID_MAX + 8], err[200];
	br_trunk_t *t = NULL;
	br_tx_t *tx = NULL;
	int found, nset;
	long long v;

	if(rpc->scan(c, ".s", &id) < 1)
		return;
	if(!br_id_valid(id)) {
		rpc->fault(c, 400, "invalid trunk id (use [A-Za-z0-9._-], 1..64)");
		return;
	}
	br_key(key, sizeof(key), BR_K_TRUNK, id);
	snprintf(aad, sizeof(aad), "trunk:%s", id);
	t = malloc(sizeof(*t));
	if(!t) {
		rpc->fault(c, 500, "out of memory");
		return;
	}
	if(watch(key) < 0) {
		fault_store(rpc, c);
		goto out;
	}
	br_trunk_defaults(t);
	found = read_hash(key, set_trunk, t, err, sizeof(err));
	if(found == -1) {
		unwatch();
		fault_store(rpc, c);
		goto out;
	}
	if(found == -2) {
		LM_WARN("trunk %s in Redis is malformed (%s); rebuilding it from "
				"defaults and the given fields\n",
				id, err);
		br_trunk_defaults(t);
	}
	br_trunk_set(t, "id", id, err, sizeof(err));
	if(apply_kv(rpc, c, set_trunk, t, "password", "password_enc", aad, &nset)
			< 0) {
		unwatch();
		goto out;
	}
	if(br_trunk_check(t, err, sizeof(err)) < 0) {
		unwatch();
		rpc->fault(c, 400, "%s", err);
		goto out;
	}
	tx = tx_new();
	if(!tx || tx_cmd(tx, "DEL", key, NULL) < 0
			|| tx_cmd(tx, "HSET", key, NULL) < 0
			|| br_trunk_emit(t, emit_to_tx, tx) != 0
			|| tx_cmd(tx, "SADD", BR_KEY_TRUNKS, id, NULL) < 0) {
		unwatch();
		rpc->fault(c, 500, "out of memory");
		goto out;
	}
	v = tx_commit(tx);
	if(v < 0) {
		fault_store(rpc, c);
	} else if(v == 0) {
		rpc->fault(c, 409, "trunk %s was modified concurrently; retry", id);
	} else {
		void *st;
		rpc->add(c, "{", &st);
		rpc->struct_add(st, "ssd", "id", id, "status",
				found == 1 ? "updated" : "created", "version", (int)v);
	}
out:
	br_secret_wipe(t, sizeof(*t));
	free(t);
	tx_free(tx);
}

static const char *trunk_get_doc[] = {
		"Show a trunk (the password is never returned): byoc.trunk_get <id>",
		0};

static void rpc_trunk_get(rpc_t *rpc, void *c)
{
	char *id, key[BR_KEY_MAX], err[200];
	br_trunk_t t;
	emit_rpc_t e;
	int rc;

	if(rpc->scan(c, ".s", &id) < 1)
		return;
	if(!br_id_valid(id)) {
		rpc->fault(c, 400, "invalid trunk id");
		return;
	}
	br_key(key, sizeof(key), BR_K_TRUNK, id);
	br_trunk_defaults(&t);
	rc = read_hash(key, set_trunk, &t, err, sizeof(err));
	if(rc == -1)
		return fault_store(rpc, c);
	if(rc == 0)
		return (void)rpc->fault(c, 404, "no trunk %s", id);
	if(rc == -2)
		return (void)rpc->fault(c, 500, "trunk %s is malformed: %s", id, err);
	br_trunk_set(&t, "id", id, err, sizeof(err));
	if(rpc->add(c, "{", &e.st) < 0)
		return;
	e.rpc = rpc;
	/* the stored form omits a default port: show the effective one */
	e.hide[0] = "password_enc";
	e.hide[1] = "port";
	br_trunk_emit(&t, emit_to_rpc, &e);
	rpc->struct_add(e.st, "d", "port", (int)t.port);
	rpc->struct_add(e.st, "s", "password",
			t.password_enc[0] ? "(set)" : "(not set)");
	rpc->struct_add(e.st, "s", "health",
			br_registry_trunk_down(id) ? "down" : "up");
	br_secret_wipe(&t, sizeof(t));
}

static const char *trunk_list_doc[] = {
		"List trunks of the loaded configuration", 0};

static void rpc_trunk_list(rpc_t *rpc, void *c)
{
	br_conf_ref_t *ref = br_conf_get();
	const br_snap_t *s;
	void *arr, *st;
	uint32_t i, n;

	if(!ref)
		return (void)rpc->fault(c, 503, "no configuration loaded");
	s = br_conf_snap(ref);
	if(rpc->add(c, "[", &arr) < 0) {
		br_conf_put(ref);
		return;
	}
	n = br_snap_ntrunks(s);
	for(i = 0; i < n; i++) {
		const br_trunk_t *t = br_snap_trunk_at(s, i);
		static const char *dir[] = {"?", "inbound", "outbound", "both"};
		static const char *auth[] = {"?", "ip", "digest", "both"};
		if(rpc->array_add(arr, "{", &st) < 0)
			break;
		rpc->struct_add(st, "sssssdddsd", "id", t->id, "name", t->name,
				"tenant", t->tenant, "direction", dir[t->direction & 3],
				"auth", auth[t->auth & 3], "enabled", (int)t->enabled,
				"max_calls", (int)t->max_calls, "max_cps", (int)t->max_cps,
				"health", br_registry_trunk_down(t->id) ? "down" : "up",
				"local_calls", (int)br_lease_count(t->id));
	}
	br_conf_put(ref);
}

static int count_set(const char *key)
{
	redisReply *r = br_redis_cmdf("SCARD %s", key);
	int n = -1;
	if(r) {
		if(r->type == REDIS_REPLY_INTEGER)
			n = (int)r->integer;
		freeReplyObject(r);
	}
	return n;
}

static const char *trunk_delete_doc[] = {
		"Delete a trunk: byoc.trunk_delete <id> [force] (force also deletes "
		"its DIDs)",
		0};

static void rpc_trunk_delete(rpc_t *rpc, void *c)
{
	char *id, *force = NULL, key[BR_KEY_MAX], dkey[BR_KEY_MAX];
	char k2[BR_KEY_MAX];
	br_tx_t *tx;
	redisReply *dids = NULL;
	long long v;
	size_t i;
	int n;

	if(rpc->scan(c, ".s*.s", &id, &force) < 1)
		return;
	if(!br_id_valid(id))
		return (void)rpc->fault(c, 400, "invalid trunk id");
	br_key(key, sizeof(key), BR_K_TRUNK, id);
	br_key(dkey, sizeof(dkey), BR_K_TRUNK_DIDS, id);
	if(trunk_exists(id) == 0)
		return (void)rpc->fault(c, 404, "no trunk %s", id);
	n = count_set(dkey);
	if(n < 0)
		return fault_store(rpc, c);
	if(n > 0 && !(force && strcmp(force, "force") == 0))
		return (void)rpc->fault(c, 409,
				"trunk %s owns %d DIDs: delete them first or add 'force'", id,
				n);
	tx = tx_new();
	if(!tx)
		return (void)rpc->fault(c, 500, "out of memory");
	if(n > 0) {
		dids = br_redis_cmdf("SMEMBERS %s", dkey);
		if(!dids || dids->type != REDIS_REPLY_ARRAY) {
			if(dids)
				freeReplyObject(dids);
			tx_free(tx);
			return fault_store(rpc, c);
		}
		for(i = 0; i < dids->elements; i++) {
			br_key(k2, sizeof(k2), BR_K_DID, dids->element[i]->str);
			tx_cmd(tx, "DEL", k2, NULL);
			tx_cmd(tx, "SREM", BR_KEY_DIDS, dids->element[i]->str, NULL);
		}
		freeReplyObject(dids);
	}
	tx_cmd(tx, "DEL", key, dkey, NULL);
	tx_cmd(tx, "SREM", BR_KEY_TRUNKS, id, NULL);
	br_key(k2, sizeof(k2), BR_K_HEALTH, id);
	tx_cmd(tx, "DEL", k2, NULL);
	tx_cmd(tx, "SREM", BR_KEY_PREFIX "trunks_down", id, NULL);
	v = tx_commit(tx);
	tx_free(tx);
	if(v <= 0)
		return fault_store(rpc, c);
	rpc->rpl_printf(c, "deleted trunk %s (%d DIDs), version %lld", id, n, v);
}

/* ---- DIDs --------------------------------------------------------------- */

static const char *did_import_doc[] = {
		"Import DIDs onto a trunk: byoc.did_import <trunk> <number>[,<number>"
		"...] ... (numbers in any form the trunk's numbering plan accepts; "
		"all or nothing)",
		0};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char **)a, *(const char **)b);
}

static void rpc_did_import(rpc_t *rpc, void *c)
{
	char *tid, *arg, key[BR_KEY_MAX], dkey[BR_KEY_MAX], err[200];
	char (*nums)[BR_E164_MAX + 1] = NULL;
	const char **sorted = NULL;
	br_trunk_t t;
	br_tx_t *tx = NULL;
	redisReply **rep = NULL;
	int n = 0, i, rc, fresh = 0;
	long long v;

	if(rpc->scan(c, ".s", &tid) < 1)
		return;
	if(!br_id_valid(tid))
		return (void)rpc->fault(c, 400, "invalid trunk id");
	br_key(key, sizeof(key), BR_K_TRUNK, tid);
	br_trunk_defaults(&t);
	rc = read_hash(key, set_trunk, &t, err, sizeof(err));
	if(rc == -1)
		return fault_store(rpc, c);
	if(rc == 0)
		return (void)rpc->fault(c, 404, "no trunk %s", tid);
	if(rc == -2)
		return (void)rpc->fault(c, 500, "trunk %s is malformed: %s", tid, err);
	nums = malloc(sizeof(*nums) * BR_RPC_MAX_DIDS);
	sorted = malloc(sizeof(char *) * BR_RPC_MAX_DIDS);
	if(!nums || !sorted) {
		rpc->fault(c, 500, "out of memory");
		goto out;
	}
	while(rpc->scan(c, "*.s", &arg) == 1) {
		char *p = arg, *comma;
		while(p && *p) {
			comma = strchr(p, ',');
			if(comma)
				*comma = 0;
			if(n >= BR_RPC_MAX_DIDS) {
				rpc->fault(c, 400, "too many numbers (max %d per call)",
						BR_RPC_MAX_DIDS);
				goto out;
			}
			if(br_e164_normalize(&t.numplan, p, strlen(p), nums[n]) < 0) {
				rpc->fault(c, 400,
						"'%s' is not a telephone number under trunk %s's "
						"numbering plan",
						p, tid);
				goto out;
			}
			sorted[n] = nums[n];
			n++;
			p = comma ? comma + 1 : NULL;
		}
	}
	if(n == 0) {
		rpc->fault(c, 400, "no numbers given");
		goto out;
	}
	/* duplicates in the request are harmless: keep one */
	qsort(sorted, n, sizeof(char *), cmp_str);
	for(i = 1, rc = 1; i < n; i++)
		if(strcmp(sorted[i], sorted[rc - 1]) != 0)
			sorted[rc++] = sorted[i];
	n = rc;
	/* ownership check: a number already on another trunk refuses all */
	rep = calloc(n, sizeof(*rep));
	if(!rep) {
		rpc->fault(c, 500, "out of memory");
		goto out;
	}
	for(i = 0; i < n; i++) {
		const char *argv[3] = {"HGET", key, "trunk"};
		br_key(key, sizeof(key), BR_K_DID, sorted[i]);
		if(br_redis_append(3, argv, NULL) < 0)
			break;
	}
	if(br_redis_get_replies(rep, n) < 0) {
		fault_store(rpc, c);
		goto out;
	}
	for(i = 0; i < n; i++) {
		if(rep[i]->type == REDIS_REPLY_STRING) {
			if(strcmp(rep[i]->str, tid) != 0) {
				rpc->fault(c, 409,
						"%s already belongs to trunk %s; nothing imported",
						sorted[i], rep[i]->str);
				goto out;
			}
		} else {
			fresh++;
		}
	}
	tx = tx_new();
	if(!tx) {
		rpc->fault(c, 500, "out of memory");
		goto out;
	}
	br_key(dkey, sizeof(dkey), BR_K_TRUNK_DIDS, tid);
	for(i = 0; i < n; i++) {
		br_key(key, sizeof(key), BR_K_DID, sorted[i]);
		tx_cmd(tx, "HSET", key, "trunk", tid, NULL);
		tx_cmd(tx, "SADD", BR_KEY_DIDS, sorted[i], NULL);
		tx_cmd(tx, "SADD", dkey, sorted[i], NULL);
	}
	v = tx_commit(tx);
	if(v <= 0) {
		fault_store(rpc, c);
		goto out;
	}
	{
		void *st;
		rpc->add(c, "{", &st);
		rpc->struct_add(st, "sddd", "trunk", tid, "imported", fresh,
				"already", n - fresh, "version", (int)v);
	}
out:
	if(rep) {
		for(i = 0; i < n; i++)
			if(rep[i])
				freeReplyObject(rep[i]);
		free(rep);
	}
	free(nums);
	free(sorted);
	tx_free(tx);
}

/* Reads a DID's trunk into 'trunk'. 1 found, 0 missing, -1 Redis down. */
static int did_trunk(const char *num, char trunk[BR_ID_MAX + 1])
{
	char key[BR_KEY_MAX];
	redisReply *r;
	int rc = 0;

	br_key(key, sizeof(key), BR_K_DID, num);
	r = br_redis_cmdf("HGET %s trunk", key);
	if(!r)
		return -1;
	if(r->type == REDIS_REPLY_STRING && r->len <= BR_ID_MAX) {
		strcpy(trunk, r->str);
		rc = 1;
	}
	freeReplyObject(r);
	return rc;
}

/* Checks an E.164 number and finds its trunk: 0, or -1 after a fault. */
static int find_did(rpc_t *rpc, void *c, const char *num,
		char tid[BR_ID_MAX + 1])
{
	int rc;

	if(!br_e164_valid(num)) {
		rpc->fault(c, 400, "'%s' is not E.164 (+<digits>)", num);
		return -1;
	}
	rc = did_trunk(num, tid);
	if(rc < 0) {
		fault_store(rpc, c);
		return -1;
	}
	if(rc == 0) {
		rpc->fault(c, 404, "no DID %s (import it first)", num);
		return -1;
	}
	return 0;
}

/* Commits a transaction built by the caller (NULL: it ran out of
 * memory), frees it, and answers "<done>, version N" or the fault. */
static void commit_reply(rpc_t *rpc, void *c, br_tx_t *tx, int built,
		const char *done)
{
	long long v;

	if(!tx || !built) {
		tx_free(tx);
		rpc->fault(c, 500, "out of memory");
		return;
	}
	v = tx_commit(tx);
	tx_free(tx);
	if(v <= 0)
		fault_store(rpc, c);
	else
		rpc->rpl_printf(c, "%s, version %lld", done, v);
}

static const char *did_bind_doc[] = {
		"Bind a DID to an agent: byoc.did_bind <e164> <agent>", 0};

static void rpc_did_bind(rpc_t *rpc, void *c)
{
	char *num, *aid, tid[BR_ID_MAX + 1], key[BR_KEY_MAX], err[200];
	char done[160];
	br_agent_t a;
	br_trunk_t t;
	br_tx_t *tx;
	int rc;

	if(rpc->scan(c, ".s.s", &num, &aid) < 2)
		return;
	if(!br_id_valid(aid))
		return (void)rpc->fault(c, 400, "invalid agent id");
	if(find_did(rpc, c, num, tid) < 0)
		return;
	br_key(key, sizeof(key), BR_K_AGENT, aid);
	br_agent_defaults(&a);
	rc = read_hash(key, set_agent, &a, err, sizeof(err));
	if(rc == -1)
		return fault_store(rpc, c);
	if(rc == 0)
		return (void)rpc->fault(c, 404, "no agent %s", aid);
	br_key(key, sizeof(key), BR_K_TRUNK, tid);
	br_trunk_defaults(&t);
	if(read_hash(key, set_trunk, &t, err, sizeof(err)) == 1
			&& strcmp(t.tenant, a.tenant) != 0)
		return (void)rpc->fault(c, 403,
				"agent %s (tenant '%s') cannot answer a DID of trunk %s "
				"(tenant '%s')",
				aid, a.tenant, tid, t.tenant);
	tx = tx_new();
	br_key(key, sizeof(key), BR_K_DID, num);
	snprintf(done, sizeof(done), "%s bound to agent %s", num, aid);
	commit_reply(rpc, c, tx,
			tx && tx_cmd(tx, "HSET", key, "agent", aid, NULL) == 0, done);
}

static const char *did_unbind_doc[] = {
		"Unbind a DID from its agent: byoc.did_unbind <e164>", 0};

static void rpc_did_unbind(rpc_t *rpc, void *c)
{
	char *num, tid[BR_ID_MAX + 1], key[BR_KEY_MAX], done[64];
	br_tx_t *tx;

	if(rpc->scan(c, ".s", &num) < 1 || find_did(rpc, c, num, tid) < 0)
		return;
	tx = tx_new();
	br_key(key, sizeof(key), BR_K_DID, num);
	snprintf(done, sizeof(done), "%s unbound", num);
	commit_reply(rpc, c, tx, tx && tx_cmd(tx, "HDEL", key, "agent", NULL) == 0,
			done);
}

static const char *did_delete_doc[] = {
		"Delete a DID: byoc.did_delete <e164>", 0};

static void rpc_did_delete(rpc_t *rpc, void *c)
{
	char *num, tid[BR_ID_MAX + 1], key[BR_KEY_MAX], dkey[BR_KEY_MAX];
	char done[64];
	br_tx_t *tx;

	if(rpc->scan(c, ".s", &num) < 1 || find_did(rpc, c, num, tid) < 0)
		return;
	tx = tx_new();
	br_key(key, sizeof(key), BR_K_DID, num);
	br_key(dkey, sizeof(dkey), BR_K_TRUNK_DIDS, tid);
	snprintf(done, sizeof(done), "%s deleted", num);
	commit_reply(rpc, c, tx,
			tx && tx_cmd(tx, "DEL", key, NULL) == 0
					&& tx_cmd(tx, "SREM", BR_KEY_DIDS, num, NULL) == 0
					&& tx_cmd(tx, "SREM", dkey, num, NULL) == 0,
			done);
}

static const char *did_list_doc[] = {
		"List DIDs of the loaded configuration: byoc.did_list [trunk]", 0};

static void rpc_did_list(rpc_t *rpc, void *c)
{
	char *tid = NULL, dkey[BR_KEY_MAX], key[BR_KEY_MAX];
	redisReply *nums, **rep;
	void *arr, *st;
	size_t i, n;

	if(rpc->scan(c, "*.s", &tid) < 1)
		tid = NULL;
	if(tid && !br_id_valid(tid))
		return (void)rpc->fault(c, 400, "invalid trunk id");
	if(tid)
		br_key(dkey, sizeof(dkey), BR_K_TRUNK_DIDS, tid);
	nums = br_redis_cmdf("SMEMBERS %s", tid ? dkey : BR_KEY_DIDS);
	if(!nums || nums->type != REDIS_REPLY_ARRAY) {
		if(nums)
			freeReplyObject(nums);
		return fault_store(rpc, c);
	}
	n = nums->elements > BR_RPC_MAX_DIDS ? BR_RPC_MAX_DIDS : nums->elements;
	rep = calloc(n ? n : 1, sizeof(*rep));
	if(!rep) {
		freeReplyObject(nums);
		return (void)rpc->fault(c, 500, "out of memory");
	}
	for(i = 0; i < n; i++) {
		const char *argv[4] = {"HMGET", key, "trunk", "agent"};
		br_key(key, sizeof(key), BR_K_DID, nums->element[i]->str);
		br_redis_append(4, argv, NULL);
	}
	if(n && br_redis_get_replies(rep, (int)n) < 0) {
		fault_store(rpc, c);
		goto out;
	}
	if(rpc->add(c, "[", &arr) < 0)
		goto out;
	for(i = 0; i < n; i++) {
		redisReply *r = rep[i];
		const char *tr = "", *ag = "";
		if(r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
			if(r->element[0]->type == REDIS_REPLY_STRING)
				tr = r->element[0]->str;
			if(r->element[1]->type == REDIS_REPLY_STRING)
				ag = r->element[1]->str;
		}
		if(rpc->array_add(arr, "{", &st) < 0)
			break;
		rpc->struct_add(st, "sss", "number", nums->element[i]->str, "trunk",
				tr, "agent", ag);
	}
out:
	for(i = 0; i < n; i++)
		if(rep[i])
			freeReplyObject(rep[i]);
	free(rep);
	freeReplyObject(nums);
}

/* ---- agents ------------------------------------------------------------- */

static const char *agent_set_doc[] = {
		"Create or update an agent: byoc.agent_set <id> key=value ... "
		"(auth_token=... is stored encrypted)",
		0};

static void rpc_agent_set(rpc_t *rpc, void *c)
{
	char *id, key[BR_KEY_MAX], aad[BR_ID_MAX + 8], err[200];
	br_agent_t *a;
	br_tx_t *tx = NULL;
	int found, nset, i;
	long long v;

	if(rpc->scan(c, ".s", &id) < 1)
		return;
	if(!br_id_valid(id))
		return (void)rpc->fault(c, 400, "invalid agent id");
	a = malloc(sizeof(*a));
	if(!a)
		return (void)rpc->fault(c, 500, "out of memory");
	br_key(key, sizeof(key), BR_K_AGENT, id);
	snprintf(aad, sizeof(aad), "agent:%s", id);
	if(watch(key) < 0) {
		fault_store(rpc, c);
		goto out;
	}
	br_agent_defaults(a);
	found = read_hash(key, set_agent, a, err, sizeof(err));
	if(found == -1) {
		unwatch();
		fault_store(rpc, c);
		goto out;
	}
	if(found == -2)
		br_agent_defaults(a);
	br_agent_set(a, "id", id, err, sizeof(err));
	if(apply_kv(rpc, c, set_agent, a, "auth_token", "auth_token_enc", aad,
			   &nset)
			< 0) {
		unwatch();
		goto out;
	}
	if(br_agent_check(a, err, sizeof(err)) < 0) {
		unwatch();
		rpc->fault(c, 400, "%s", err);
		goto out;
	}
	/* outbound trunks must exist and belong to the agent's tenant */
	for(i = 0; i < a->ntrunks; i++) {
		br_trunk_t t;
		char tk[BR_KEY_MAX];
		int rc;
		br_key(tk, sizeof(tk), BR_K_TRUNK, a->trunks[i]);
		br_trunk_defaults(&t);
		rc = read_hash(tk, set_trunk, &t, err, sizeof(err));
		if(rc == 0 || rc == -2 || (rc == 1 && strcmp(t.tenant, a->tenant))) {
			unwatch();
			rpc->fault(c, 400, "trunks: %s is not a trunk of tenant '%s'",
					a->trunks[i], a->tenant);
			goto out;
		}
		if(rc < 0) {
			unwatch();
			fault_store(rpc, c);
			goto out;
		}
	}
	tx = tx_new();
	if(!tx || tx_cmd(tx, "DEL", key, NULL) < 0
			|| tx_cmd(tx, "HSET", key, NULL) < 0
			|| br_agent_emit(a, emit_to_tx, tx) != 0
			|| tx_cmd(tx, "SADD", BR_KEY_AGENTS, id, NULL) < 0) {
		unwatch();
		rpc->fault(c, 500, "out of memory");
		goto out;
	}
	v = tx_commit(tx);
	if(v < 0) {
		fault_store(rpc, c);
	} else if(v == 0) {
		rpc->fault(c, 409, "agent %s was modified concurrently; retry", id);
	} else {
		void *st;
		rpc->add(c, "{", &st);
		rpc->struct_add(st, "ssd", "id", id, "status",
				found == 1 ? "updated" : "created", "version", (int)v);
	}
out:
	br_secret_wipe(a, sizeof(*a));
	free(a);
	tx_free(tx);
}

static const char *agent_get_doc[] = {
		"Show an agent (the token is never returned): byoc.agent_get <id>", 0};

static void rpc_agent_get(rpc_t *rpc, void *c)
{
	char *id, key[BR_KEY_MAX], err[200];
	br_agent_t *a;
	emit_rpc_t e;
	int rc;

	if(rpc->scan(c, ".s", &id) < 1)
		return;
	if(!br_id_valid(id))
		return (void)rpc->fault(c, 400, "invalid agent id");
	a = malloc(sizeof(*a));
	if(!a)
		return (void)rpc->fault(c, 500, "out of memory");
	br_key(key, sizeof(key), BR_K_AGENT, id);
	br_agent_defaults(a);
	rc = read_hash(key, set_agent, a, err, sizeof(err));
	if(rc == -1)
		fault_store(rpc, c);
	else if(rc == 0)
		rpc->fault(c, 404, "no agent %s", id);
	else if(rc == -2)
		rpc->fault(c, 500, "agent %s is malformed: %s", id, err);
	else if(rpc->add(c, "{", &e.st) >= 0) {
		br_agent_set(a, "id", id, err, sizeof(err));
		e.rpc = rpc;
		e.hide[0] = "auth_token_enc";
		e.hide[1] = NULL;
		br_agent_emit(a, emit_to_rpc, &e);
		rpc->struct_add(e.st, "s", "auth_token",
				a->auth_token_enc[0] ? "(set)" : "(not set)");
	}
	br_secret_wipe(a, sizeof(*a));
	free(a);
}

static const char *agent_list_doc[] = {
		"List agents of the loaded configuration", 0};

static void rpc_agent_list(rpc_t *rpc, void *c)
{
	br_conf_ref_t *ref = br_conf_get();
	const br_snap_t *s;
	void *arr, *st;
	uint32_t i, n;

	if(!ref)
		return (void)rpc->fault(c, 503, "no configuration loaded");
	s = br_conf_snap(ref);
	if(rpc->add(c, "[", &arr) >= 0) {
		n = br_snap_nagents(s);
		for(i = 0; i < n; i++) {
			const br_agent_t *a = br_snap_agent_at(s, i);
			if(rpc->array_add(arr, "{", &st) < 0)
				break;
			rpc->struct_add(st, "sssds", "id", a->id, "name", a->name,
					"tenant", a->tenant, "enabled", (int)a->enabled, "ws_url",
					a->ws_url);
		}
	}
	br_conf_put(ref);
}

static const char *agent_delete_doc[] = {
		"Delete an agent: byoc.agent_delete <id> (refused while DIDs are "
		"bound to it)",
		0};

static void rpc_agent_delete(rpc_t *rpc, void *c)
{
	char *id, key[BR_KEY_MAX], done[96];
	br_conf_ref_t *ref;
	br_tx_t *tx;

	if(rpc->scan(c, ".s", &id) < 1)
		return;
	if(!br_id_valid(id))
		return (void)rpc->fault(c, 400, "invalid agent id");
	/* bound DIDs are checked on the loaded snapshot (at most one sync
	 * interval old) */
	ref = br_conf_get();
	if(ref) {
		const br_snap_t *s = br_conf_snap(ref);
		uint32_t ai = br_snap_agent_index(s, id);
		int bound = 0;
		if(ai != BR_NONE)
			bound = br_snap_agent_dids(s, ai);
		br_conf_put(ref);
		if(bound)
			return (void)rpc->fault(c, 409,
					"agent %s answers %d DIDs: unbind them first", id, bound);
	}
	tx = tx_new();
	br_key(key, sizeof(key), BR_K_AGENT, id);
	snprintf(done, sizeof(done), "deleted agent %s", id);
	commit_reply(rpc, c, tx,
			tx && tx_cmd(tx, "DEL", key, NULL) == 0
					&& tx_cmd(tx, "SREM", BR_KEY_AGENTS, id, NULL) == 0,
			done);
}

/* ---- runtime ------------------------------------------------------------ */

static long long redis_time_ms(void)
{
	redisReply *r = br_redis_cmdf("TIME");
	long long ms = -1;
	if(r) {
		if(r->type == REDIS_REPLY_ARRAY && r->elements == 2)
			ms = atoll(r->element[0]->str) * 1000
				 + atoll(r->element[1]->str) / 1000;
		freeReplyObject(r);
	}
	return ms;
}

static const char *calls_doc[] = {
		"Active calls per trunk, cluster-wide (Redis leases) and on this "
		"proxy: byoc.calls [trunk]",
		0};

static void rpc_calls(rpc_t *rpc, void *c)
{
	char *tid = NULL, key[BR_KEY_MAX];
	br_conf_ref_t *ref;
	const br_snap_t *s;
	void *arr, *st;
	long long now;
	uint32_t i, n;

	if(rpc->scan(c, "*.s", &tid) < 1)
		tid = NULL;
	ref = br_conf_get();
	if(!ref)
		return (void)rpc->fault(c, 503, "no configuration loaded");
	s = br_conf_snap(ref);
	now = redis_time_ms();
	if(now < 0) {
		br_conf_put(ref);
		return fault_store(rpc, c);
	}
	if(rpc->add(c, "[", &arr) < 0) {
		br_conf_put(ref);
		return;
	}
	n = br_snap_ntrunks(s);
	for(i = 0; i < n; i++) {
		const br_trunk_t *t = br_snap_trunk_at(s, i);
		redisReply *r;
		long long active = -1;
		if(tid && strcmp(tid, t->id) != 0)
			continue;
		br_key(key, sizeof(key), BR_K_LEASE, t->id);
		r = br_redis_cmdf("ZCOUNT %s %lld +inf", key, now);
		if(r) {
			if(r->type == REDIS_REPLY_INTEGER)
				active = r->integer;
			freeReplyObject(r);
		}
		if(rpc->array_add(arr, "{", &st) < 0)
			break;
		rpc->struct_add(st, "sdddd", "trunk", t->id, "active", (int)active,
				"local", (int)br_lease_count(t->id), "max_calls",
				(int)t->max_calls, "max_cps", (int)t->max_cps);
	}
	br_conf_put(ref);
}

typedef struct stats_ctx {
	rpc_t *rpc;
	void *arr;
	const char *only;
} stats_ctx_t;

static void stats_one(const char *id, const uint64_t *totals,
		uint32_t active, void *ctx)
{
	stats_ctx_t *sc = ctx;
	char key[BR_KEY_MAX];
	void *st, *loc, *clu;
	redisReply *r;
	int o;
	size_t i;

	if(sc->only && strcmp(sc->only, id) != 0)
		return;
	if(sc->rpc->array_add(sc->arr, "{", &st) < 0)
		return;
	sc->rpc->struct_add(st, "s", "trunk", id);
	sc->rpc->struct_add(st, "{", "local", &loc);
	for(o = 0; o < BR_OUTCOME__MAX; o++)
		sc->rpc->struct_add(loc, "d", br_outcome_name(o), (int)totals[o]);
	sc->rpc->struct_add(st, "{", "cluster", &clu);
	br_key(key, sizeof(key), BR_K_STATS, id);
	r = br_redis_cmdf("HGETALL %s", key);
	if(r) {
		if(r->type == REDIS_REPLY_ARRAY)
			for(i = 0; i + 1 < r->elements; i += 2)
				sc->rpc->struct_add(clu, "d", r->element[i]->str,
						atoi(r->element[i + 1]->str));
		freeReplyObject(r);
	}
}

static const char *stats_doc[] = {
		"Admissions and refusals per reason and trunk: byoc.stats [trunk] "
		"(local = this proxy since start; cluster = all proxies, flushed "
		"every second)",
		0};

static void rpc_stats(rpc_t *rpc, void *c)
{
	stats_ctx_t sc;
	char *tid = NULL;

	if(rpc->scan(c, "*.s", &tid) < 1)
		tid = NULL;
	sc.rpc = rpc;
	sc.only = tid;
	if(rpc->add(c, "[", &sc.arr) < 0)
		return;
	br_stats_walk(stats_one, &sc);
}

static const char *probe_doc[] = {
		"Send SIP OPTIONS to a trunk now: byoc.probe <trunk>", 0};

static void rpc_probe(rpc_t *rpc, void *c)
{
	char *tid;
	br_conf_ref_t *ref;
	br_trunk_t t;
	br_probe_result_t res;
	uint32_t ti;
	void *st;
	int rc;

	if(rpc->scan(c, ".s", &tid) < 1)
		return;
	ref = br_conf_get();
	if(!ref)
		return (void)rpc->fault(c, 503, "no configuration loaded");
	ti = br_snap_trunk_index(br_conf_snap(ref), tid);
	if(ti == BR_NONE) {
		br_conf_put(ref);
		return (void)rpc->fault(c, 404, "no trunk %s", tid);
	}
	t = *br_snap_trunk_at(br_conf_snap(ref), ti);
	br_conf_put(ref);
	if(!t.host[0])
		return (void)rpc->fault(c, 400, "trunk %s has no host", tid);
	memset(&res, 0, sizeof(res));
	rc = br_probe_now(&t, 10000, &res);
	if(rc < 0 && res.code == 0)
		return (void)rpc->fault(c, 500, "cannot send OPTIONS (no free slot)");
	rpc->add(c, "{", &st);
	rpc->struct_add(st, "ssdsd", "trunk", tid, "target", t.host, "code",
			res.code, "reason", res.reason, "rtt_ms", res.rtt_ms);
}

static const char *reload_doc[] = {
		"Reload the configuration from Redis now", 0};

static void rpc_reload(rpc_t *rpc, void *c)
{
	br_conf_info_t info;

	if(br_conf_reload(1) < 0)
		return (void)rpc->fault(c, 503, "reload failed (Redis unavailable)");
	br_conf_get_info(&info);
	rpc->rpl_printf(c, "loaded version %llu: %u trunks, %u agents, %u DIDs, "
					   "%u skipped",
			(unsigned long long)info.version, info.trunks, info.agents,
			info.dids, info.skipped);
}

static const char *status_doc[] = {
		"Module status: configuration, Redis, leases, workers", 0};

static void rpc_status(rpc_t *rpc, void *c)
{
	br_conf_info_t ci;
	br_redis_stats_t rs;
	void *st;

	br_conf_get_info(&ci);
	br_redis_get_stats(&rs);
	if(rpc->add(c, "{", &st) < 0)
		return;
	rpc->struct_add(st, "ddddddddsddddd", "config_version", (int)ci.version,
			"trunks", (int)ci.trunks, "agents", (int)ci.agents, "dids",
			(int)ci.dids, "skipped_records", (int)ci.skipped,
			"skipped_total", (int)ci.skipped_total, "load_ms",
			(int)ci.load_ms, "snapshot_bytes", (int)ci.size, "redis",
			rs.open ? "down (breaker open)" : "up", "redis_failures",
			(int)rs.failures, "breaker_opens", (int)rs.breaker_opens,
			"local_leases", (int)br_lease_count(NULL), "trunks_down",
			(int)br_registry_ndown(), "loads", (int)ci.loads);
}

static void worker_one(const br_worker_t *w, uint32_t extra, void *ctx)
{
	void **a = ctx;
	void *st;
	rpc_t *rpc = a[0];
	if(rpc->array_add(a[1], "{", &st) < 0)
		return;
	rpc->struct_add(st, "ssdsddddd", "id", w->id, "addr", w->addr, "port",
			(int)w->port, "transport", br_transport_name(w->transport),
			"capacity", (int)w->capacity, "active", (int)w->active,
			"routed_since_refresh", (int)extra, "draining", (int)w->draining,
			"wideband", (int)w->wideband);
}

static const char *workers_doc[] = {
		"Media workers as this proxy sees them (refreshed every second)", 0};

static void rpc_workers(rpc_t *rpc, void *c)
{
	void *a[2];
	a[0] = rpc;
	if(rpc->add(c, "[", &a[1]) < 0)
		return;
	br_registry_walk(worker_one, a);
}

static rpc_export_t br_rpc_cmds[] = {
		{"byoc.trunk_set", rpc_trunk_set, trunk_set_doc, 0},
		{"byoc.trunk_get", rpc_trunk_get, trunk_get_doc, 0},
		{"byoc.trunk_list", rpc_trunk_list, trunk_list_doc, RET_ARRAY},
		{"byoc.trunk_delete", rpc_trunk_delete, trunk_delete_doc, 0},
		{"byoc.did_import", rpc_did_import, did_import_doc, 0},
		{"byoc.did_bind", rpc_did_bind, did_bind_doc, 0},
		{"byoc.did_unbind", rpc_did_unbind, did_unbind_doc, 0},
		{"byoc.did_delete", rpc_did_delete, did_delete_doc, 0},
		{"byoc.did_list", rpc_did_list, did_list_doc, RET_ARRAY},
		{"byoc.agent_set", rpc_agent_set, agent_set_doc, 0},
		{"byoc.agent_get", rpc_agent_get, agent_get_doc, 0},
		{"byoc.agent_list", rpc_agent_list, agent_list_doc, RET_ARRAY},
		{"byoc.agent_delete", rpc_agent_delete, agent_delete_doc, 0},
		{"byoc.calls", rpc_calls, calls_doc, RET_ARRAY},
		{"byoc.stats", rpc_stats, stats_doc, RET_ARRAY},
		{"byoc.probe", rpc_probe, probe_doc, 0},
		{"byoc.reload", rpc_reload, reload_doc, 0},
		{"byoc.status", rpc_status, status_doc, 0},
		{"byoc.workers", rpc_workers, workers_doc, RET_ARRAY},
		{0, 0, 0, 0}};

int br_rpc_register(void)
{
	if(rpc_register_array(br_rpc_cmds) != 0) {
		LM_ERR("cannot register the byoc.* RPC commands\n");
		return -1;
	}
	return 0;
}
