/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_snap.c -- the immutable routing snapshot and the decisions made on
 * it (see br_snap.h).
 *
 * Layout of the one block returned by br_snap_finish (each array aligned
 * to 16 bytes, every pointer into the block itself):
 *
 *   struct br_snap            header, counts, pointers, the LPM table head
 *   br_trunk_t  trunks[]      sorted by id (binary search by id)
 *   br_agent_t  agents[]      sorted by id
 *   agent_pref  pref[]        per agent: its preference list as indices
 *   did_ent     dids[]        sorted by number
 *   did_slot    slots[]       open-addressing hash table over dids[]
 *                             (linear probing, power-of-two size, load
 *                             <= 1/2, each slot caching the hash)
 *   uint32_t    users[]       digest trunks, sorted by username
 *   uint32_t    tord[]        all trunks sorted by (tenant, priority, id):
 *                             a tenant's trunks are one run, grouped by
 *                             priority, for outbound candidates
 *   br_lpm_entry_t lpm[]      every CIDR of every trunk with auth ip|both
 *
 * Nothing is written after finish, so any number of processes may read
 * the block concurrently; lookups use the stack only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "br_snap.h"

#define SNAP_ALIGN 16
/* Trunks of one tenant and priority considered for the weighted choice;
 * more than this in a single priority is far beyond any real setup. */
#define GROUP_MAX 256

typedef struct agent_pref
{
	uint32_t n;
	uint32_t idx[BR_AGENT_MAX_TRUNKS];
} agent_pref_t;

typedef struct did_ent
{
	char number[BR_E164_MAX + 1];
	uint32_t trunk;
	uint32_t agent; /* BR_NONE when unbound */
} did_ent_t;

typedef struct did_slot
{
	uint32_t hash;
	uint32_t idx; /* into dids[], BR_NONE = empty */
} did_slot_t;

struct br_snap
{
	uint64_t version;
	size_t size;
	uint32_t ntrunks, nagents, ndids, nusers;
	uint32_t slot_mask; /* number of slots - 1 */
	int has_digest;
	const br_trunk_t *trunks;
	const br_agent_t *agents;
	const agent_pref_t *pref;
	const did_ent_t *dids;
	const did_slot_t *slots;
	const uint32_t *users;
	const uint32_t *tord;
	br_lpm_t lpm;
};

struct br_snap_builder
{
	br_trunk_t *t;
	br_agent_t *a;
	br_did_t *d;
	uint32_t nt, ct, na, ca, nd, cd;
};

/* ---- builder ----------------------------------------------------------- */

br_snap_builder_t *br_snap_builder_new(void)
{
	return calloc(1, sizeof(br_snap_builder_t));
}

void br_snap_builder_free(br_snap_builder_t *b)
{
	if(b == NULL)
		return;
	free(b->t);
	free(b->a);
	free(b->d);
	free(b);
}

/* Makes room for one more element of 'esize' bytes in *arr. */
static int grow(void **arr, uint32_t n, uint32_t *cap, size_t esize)
{
	uint32_t nc;
	void *p;

	if(n < *cap)
		return 0;
	if(*cap >= UINT32_MAX / 2)
		return -ENOMEM;
	nc = *cap ? *cap * 2 : 16;
	if((size_t)nc > SIZE_MAX / esize)
		return -ENOMEM;
	p = realloc(*arr, (size_t)nc * esize);
	if(p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

int br_snap_add_trunk(br_snap_builder_t *b, const br_trunk_t *t)
{
	if(b == NULL || t == NULL)
		return -EINVAL;
	if(grow((void **)&b->t, b->nt, &b->ct, sizeof(*t)) < 0)
		return -ENOMEM;
	b->t[b->nt++] = *t;
	return 0;
}

int br_snap_add_agent(br_snap_builder_t *b, const br_agent_t *a)
{
	if(b == NULL || a == NULL)
		return -EINVAL;
	if(grow((void **)&b->a, b->na, &b->ca, sizeof(*a)) < 0)
		return -ENOMEM;
	b->a[b->na++] = *a;
	return 0;
}

int br_snap_add_did(br_snap_builder_t *b, const br_did_t *d)
{
	if(b == NULL || d == NULL)
		return -EINVAL;
	if(grow((void **)&b->d, b->nd, &b->cd, sizeof(*d)) < 0)
		return -ENOMEM;
	b->d[b->nd++] = *d;
	return 0;
}

/* ---- finish: ordering -------------------------------------------------- */

/* An element to sort: the record's key and its insertion position, so
 * that among equal keys the first added sorts first (qsort is not
 * stable). */
typedef struct sort_ref
{
	const char *key;
	uint32_t pos;
} sort_ref_t;

static int ref_cmp(const void *pa, const void *pb)
{
	const sort_ref_t *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	if(c != 0)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Sorts the keys of 'n' records of 'esize' bytes (key at offset 'koff',
 * NUL-terminated within 'kmax') and drops invalid keys and repeated keys
 * (keeping the first added). Returns the kept positions in sorted order
 * in *out (malloc'd) and their count, or -ENOMEM. */
static int64_t sorted_unique(const void *recs, uint32_t n, size_t esize,
		size_t koff, size_t kmax, int (*valid)(const char *), uint32_t **out,
		uint32_t *dropped)
{
	sort_ref_t *r;
	uint32_t i, k = 0;

	*out = NULL;
	if(n == 0)
		return 0;
	r = malloc((size_t)n * sizeof(*r));
	*out = malloc((size_t)n * sizeof(uint32_t));
	if(r == NULL || *out == NULL) {
		free(r);
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	for(i = 0; i < n; i++) {
		const char *key = (const char *)recs + (size_t)i * esize + koff;
		/* a key not NUL-terminated inside its field is invalid */
		if(memchr(key, '\0', kmax) == NULL || !valid(key)) {
			(*dropped)++;
			continue;
		}
		r[k].key = key;
		r[k].pos = i;
		k++;
	}
	qsort(r, k, sizeof(*r), ref_cmp);
	n = k;
	k = 0;
	for(i = 0; i < n; i++) {
		if(i > 0 && strcmp(r[i].key, r[i - 1].key) == 0) {
			(*dropped)++;
			continue;
		}
		(*out)[k++] = r[i].pos;
	}
	free(r);
	return k;
}

static int e164_key_valid(const char *s)
{
	return br_e164_valid(s);
}

/* Index of 'id' among the sorted kept records, or BR_NONE. 'pos' maps
 * sorted index -> builder position. */
static uint32_t find_sorted(const void *recs, size_t esize, size_t koff,
		const uint32_t *pos, uint32_t n, const char *id)
{
	uint32_t lo = 0, hi = n;

	while(lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *k = (const char *)recs + (size_t)pos[mid] * esize + koff;
		int c = strcmp(id, k);
		if(c == 0)
			return mid;
		if(c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return BR_NONE;
}

/* ---- hashing ----------------------------------------------------------- */

/* FNV-1a, then murmur3's finaliser: DIDs are often consecutive numbers,
 * which plain FNV spreads poorly over the low bits used by the table. */
static uint32_t did_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Slots: a power of two >= 2 * n, at least 16, so probing always meets
 * an empty slot. */
static uint32_t slot_count(uint32_t n)
{
	uint32_t c = 16;

	while(c < 2 * (uint64_t)n && c < (1u << 31))
		c <<= 1;
	return c;
}

/* ---- finish: packing --------------------------------------------------- */

/* Reserves 'count' elements of 'esize' at the next aligned offset. */
static int reserve(size_t *off, size_t count, size_t esize, size_t *at)
{
	size_t o = (*off + SNAP_ALIGN - 1) & ~(size_t)(SNAP_ALIGN - 1);

	if(o < *off || (esize != 0 && count > (SIZE_MAX - o) / esize))
		return -ENOMEM;
	*at = o;
	*off = o + count * esize;
	return 0;
}

/* tord order: tenant, then priority, then index (= id order) */
typedef struct tord_ref
{
	const br_trunk_t *t;
	uint32_t idx;
} tord_ref_t;

static int tord_cmp(const void *pa, const void *pb)
{
	const tord_ref_t *a = pa, *b = pb;
	int c = strcmp(a->t->tenant, b->t->tenant);

	if(c != 0)
		return c;
	if(a->t->priority != b->t->priority)
		return a->t->priority < b->t->priority ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* users order: username, then index */
static int user_cmp(const void *pa, const void *pb)
{
	const tord_ref_t *a = pa, *b = pb;
	int c = strcmp(a->t->username, b->t->username);

	if(c != 0)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int trunk_key_valid(const char *s)
{
	return br_id_valid(s);
}

br_snap_t *br_snap_finish(br_snap_builder_t *b, uint64_t version,
		br_alloc_fn alloc, void *actx, br_snap_stats_t *st)
{
	uint32_t *tpos = NULL, *apos = NULL, *dpos = NULL, *dkeep = NULL;
	tord_ref_t *refs = NULL;
	uint32_t skipped = 0, nt, na, nd_in, nd = 0, nslots, nusers = 0, nlpm = 0;
	uint32_t i, j;
	int64_t r;
	size_t off = 0, o_hdr, o_t, o_a, o_p, o_d, o_s, o_u, o_o, o_l;
	br_snap_t *s = NULL;
	char *blk;
	br_trunk_t *trunks;
	br_agent_t *agents;
	agent_pref_t *pref;
	did_ent_t *dids;
	did_slot_t *slots;
	uint32_t *users, *tord;
	br_lpm_entry_t *lpm;

	if(b == NULL || alloc == NULL)
		return NULL;

	/* 1. trunks and agents: sorted by id, invalid and repeated ids
	 *    dropped */
	r = sorted_unique(b->t, b->nt, sizeof(br_trunk_t), offsetof(br_trunk_t, id),
			BR_ID_MAX + 1, trunk_key_valid, &tpos, &skipped);
	if(r < 0)
		goto out;
	nt = (uint32_t)r;
	r = sorted_unique(b->a, b->na, sizeof(br_agent_t), offsetof(br_agent_t, id),
			BR_ID_MAX + 1, trunk_key_valid, &apos, &skipped);
	if(r < 0)
		goto out;
	na = (uint32_t)r;

	/* 2. DIDs: sorted by number, repeated numbers dropped, then those
	 *    whose trunk is unknown or whose agent is set but unknown */
	r = sorted_unique(b->d, b->nd, sizeof(br_did_t), offsetof(br_did_t, number),
			BR_E164_MAX + 1, e164_key_valid, &dpos, &skipped);
	if(r < 0)
		goto out;
	nd_in = (uint32_t)r;
	if(nd_in > 0) {
		dkeep = malloc((size_t)nd_in * 3 * sizeof(uint32_t));
		if(dkeep == NULL)
			goto out;
	}
	for(i = 0; i < nd_in; i++) {
		const br_did_t *d = &b->d[dpos[i]];
		uint32_t ti, ai = BR_NONE;
		ti = memchr(d->trunk, '\0', sizeof(d->trunk)) == NULL
					 ? BR_NONE
					 : find_sorted(b->t, sizeof(br_trunk_t),
							   offsetof(br_trunk_t, id), tpos, nt, d->trunk);
		if(ti != BR_NONE && d->agent[0] != '\0')
			ai = memchr(d->agent, '\0', sizeof(d->agent)) == NULL
						 ? BR_NONE
						 : find_sorted(b->a, sizeof(br_agent_t),
								   offsetof(br_agent_t, id), apos, na,
								   d->agent);
		if(ti == BR_NONE || (d->agent[0] != '\0' && ai == BR_NONE)) {
			skipped++;
			continue;
		}
		dkeep[3 * nd] = dpos[i];
		dkeep[3 * nd + 1] = ti;
		dkeep[3 * nd + 2] = ai;
		nd++;
	}

	/* 3. sizes of the index arrays */
	for(i = 0; i < nt; i++) {
		const br_trunk_t *t = &b->t[tpos[i]];
		if(t->auth & BR_AUTH_IP)
			nlpm += t->ncidrs <= BR_TRUNK_MAX_CIDRS ? t->ncidrs
													: BR_TRUNK_MAX_CIDRS;
		if((t->auth & BR_AUTH_DIGEST) && t->username[0] != '\0')
			nusers++;
	}
	/* the hash table stays at most half full (slot_count caps at 2^31) */
	if(nd > (1u << 30))
		goto out;
	nslots = slot_count(nd);
	/* sort scratch, allocated before the block: nothing may fail once
	 * the caller's memory is taken (its allocator has no free) */
	if(nt > 0) {
		refs = malloc((size_t)nt * sizeof(*refs));
		if(refs == NULL)
			goto out;
	}

	/* 4. one block */
	if(reserve(&off, 1, sizeof(br_snap_t), &o_hdr) < 0 ||
			reserve(&off, nt, sizeof(br_trunk_t), &o_t) < 0 ||
			reserve(&off, na, sizeof(br_agent_t), &o_a) < 0 ||
			reserve(&off, na, sizeof(agent_pref_t), &o_p) < 0 ||
			reserve(&off, nd, sizeof(did_ent_t), &o_d) < 0 ||
			reserve(&off, nslots, sizeof(did_slot_t), &o_s) < 0 ||
			reserve(&off, nusers, sizeof(uint32_t), &o_u) < 0 ||
			reserve(&off, nt, sizeof(uint32_t), &o_o) < 0 ||
			reserve(&off, nlpm, sizeof(br_lpm_entry_t), &o_l) < 0)
		goto out;
	blk = alloc(off, actx);
	if(blk == NULL)
		goto out;
	memset(blk, 0, off);
	s = (br_snap_t *)(blk + o_hdr);
	trunks = (br_trunk_t *)(blk + o_t);
	agents = (br_agent_t *)(blk + o_a);
	pref = (agent_pref_t *)(blk + o_p);
	dids = (did_ent_t *)(blk + o_d);
	slots = (did_slot_t *)(blk + o_s);
	users = (uint32_t *)(blk + o_u);
	tord = (uint32_t *)(blk + o_o);
	lpm = (br_lpm_entry_t *)(blk + o_l);

	s->version = version;
	s->size = off;
	s->ntrunks = nt;
	s->nagents = na;
	s->ndids = nd;
	s->slot_mask = nslots - 1;
	s->trunks = trunks;
	s->agents = agents;
	s->pref = pref;
	s->dids = dids;
	s->slots = slots;
	s->users = users;
	s->tord = tord;

	for(i = 0; i < nt; i++) {
		trunks[i] = b->t[tpos[i]];
		if(trunks[i].ncidrs > BR_TRUNK_MAX_CIDRS)
			trunks[i].ncidrs = BR_TRUNK_MAX_CIDRS;
		if(trunks[i].auth & BR_AUTH_DIGEST)
			s->has_digest = 1;
	}
	for(i = 0; i < na; i++) {
		agents[i] = b->a[apos[i]];
		if(agents[i].ntrunks > BR_AGENT_MAX_TRUNKS)
			agents[i].ntrunks = BR_AGENT_MAX_TRUNKS;
		/* the preference list as trunk indices; unknown ids dropped */
		for(j = 0; j < agents[i].ntrunks; j++) {
			uint32_t ti;
			if(memchr(agents[i].trunks[j], '\0', BR_ID_MAX + 1) == NULL)
				continue;
			ti = br_snap_trunk_index(s, agents[i].trunks[j]);
			if(ti != BR_NONE)
				pref[i].idx[pref[i].n++] = ti;
		}
	}

	/* DIDs and their hash table */
	for(i = 0; i < nslots; i++)
		slots[i].idx = BR_NONE;
	for(i = 0; i < nd; i++) {
		const br_did_t *d = &b->d[dkeep[3 * i]];
		uint32_t h, k, n;
		memcpy(dids[i].number, d->number, sizeof(dids[i].number));
		/* builder-sorted positions equal block indices */
		dids[i].trunk = dkeep[3 * i + 1];
		dids[i].agent = dkeep[3 * i + 2];
		h = did_hash(dids[i].number, strlen(dids[i].number));
		/* numbers are unique, so this only looks for an empty slot */
		for(k = h & s->slot_mask, n = 0; slots[k].idx != BR_NONE && n < nslots;
				k = (k + 1) & s->slot_mask, n++)
			;
		slots[k].hash = h;
		slots[k].idx = i;
	}

	/* per-tenant order and the username index */
	for(i = 0; i < nt; i++) {
		refs[i].t = &trunks[i];
		refs[i].idx = i;
	}
	if(nt > 0)
		qsort(refs, nt, sizeof(*refs), tord_cmp);
	for(i = 0; i < nt; i++)
		tord[i] = refs[i].idx;
	for(i = 0, j = 0; i < nt; i++)
		if((trunks[i].auth & BR_AUTH_DIGEST) && trunks[i].username[0] != '\0') {
			refs[j].t = &trunks[i];
			refs[j].idx = i;
			j++;
		}
	if(j > 0)
		qsort(refs, j, sizeof(*refs), user_cmp);
	/* a username shared by two digest trunks keeps the one with the
	 * smallest id (br_trunk_check cannot see other trunks) */
	for(i = 0; i < j; i++)
		if(i == 0 || strcmp(refs[i].t->username, refs[i - 1].t->username) != 0)
			users[s->nusers++] = refs[i].idx;

	/* LPM over the allowlists of trunks that authenticate by IP, disabled
	 * and outbound-only ones included so that identify() can say why
	 * their calls are refused */
	for(i = 0, j = 0; i < nt; i++) {
		uint32_t c;
		if(!(trunks[i].auth & BR_AUTH_IP))
			continue;
		for(c = 0; c < trunks[i].ncidrs; c++) {
			memcpy(lpm[j].addr, trunks[i].cidrs[c].addr, BR_IP_LEN);
			lpm[j].plen = trunks[i].cidrs[c].plen;
			lpm[j].value = i;
			j++;
		}
	}
	br_lpm_build(&s->lpm, lpm, j);

	if(st != NULL) {
		st->trunks = nt;
		st->agents = na;
		st->dids = nd;
		st->skipped = skipped;
	}
out:
	free(refs);
	free(tpos);
	free(apos);
	free(dpos);
	free(dkeep);
	return s;
}

/* ---- lookups ----------------------------------------------------------- */

uint64_t br_snap_version(const br_snap_t *s)
{
	return s != NULL ? s->version : 0;
}

uint32_t br_snap_ntrunks(const br_snap_t *s)
{
	return s != NULL ? s->ntrunks : 0;
}

uint32_t br_snap_nagents(const br_snap_t *s)
{
	return s != NULL ? s->nagents : 0;
}

uint32_t br_snap_ndids(const br_snap_t *s)
{
	return s != NULL ? s->ndids : 0;
}

size_t br_snap_size(const br_snap_t *s)
{
	return s != NULL ? s->size : 0;
}

const br_trunk_t *br_snap_trunk_at(const br_snap_t *s, uint32_t i)
{
	if(s == NULL || i >= s->ntrunks)
		return NULL;
	return &s->trunks[i];
}

const br_agent_t *br_snap_agent_at(const br_snap_t *s, uint32_t i)
{
	if(s == NULL || i >= s->nagents)
		return NULL;
	return &s->agents[i];
}

uint32_t br_snap_trunk_index(const br_snap_t *s, const char *id)
{
	uint32_t lo = 0, hi;

	if(s == NULL || id == NULL)
		return BR_NONE;
	hi = s->ntrunks;
	while(lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, s->trunks[mid].id);
		if(c == 0)
			return mid;
		if(c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return BR_NONE;
}

uint32_t br_snap_agent_index(const br_snap_t *s, const char *id)
{
	uint32_t lo = 0, hi;

	if(s == NULL || id == NULL)
		return BR_NONE;
	hi = s->nagents;
	while(lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, s->agents[mid].id);
		if(c == 0)
			return mid;
		if(c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return BR_NONE;
}

/* The DID entry for an E.164 number, or NULL. */
static const did_ent_t *did_find(const br_snap_t *s, const char *e164)
{
	size_t len;
	uint32_t h, k, n;

	if(s == NULL || e164 == NULL || s->ndids == 0)
		return NULL;
	len = strnlen(e164, BR_E164_MAX + 1);
	if(len == 0 || len > BR_E164_MAX)
		return NULL;
	h = did_hash(e164, len);
	/* bounded by the table size; an empty slot ends the probe long
	 * before (load <= 1/2) */
	for(k = h & s->slot_mask, n = 0; n <= s->slot_mask;
			k = (k + 1) & s->slot_mask, n++) {
		const did_slot_t *sl = &s->slots[k];
		if(sl->idx == BR_NONE)
			return NULL;
		if(sl->hash == h && memcmp(s->dids[sl->idx].number, e164, len + 1) == 0)
			return &s->dids[sl->idx];
	}
	return NULL;
}

int br_snap_did(
		const br_snap_t *s, const char *e164, uint32_t *trunk, uint32_t *agent)
{
	const did_ent_t *d = did_find(s, e164);

	if(d == NULL)
		return -ENOENT;
	if(trunk != NULL)
		*trunk = d->trunk;
	if(agent != NULL)
		*agent = d->agent;
	return 0;
}

/* memcmp-order of (a, alen) against the NUL-terminated b */
static int cmp_len(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if(c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

uint32_t br_snap_trunk_by_user(const br_snap_t *s, const char *user, size_t len)
{
	uint32_t lo = 0, hi;

	if(s == NULL || user == NULL || len == 0 || len > BR_USER_MAX)
		return BR_NONE;
	hi = s->nusers;
	while(lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = cmp_len(user, len, s->trunks[s->users[mid]].username);
		if(c == 0)
			return s->users[mid];
		if(c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return BR_NONE;
}

int br_snap_has_digest(const br_snap_t *s)
{
	return s != NULL && s->has_digest;
}

int br_snap_match_source(
		const br_snap_t *s, const uint8_t ip[BR_IP_LEN], uint32_t *out, int max)
{
	if(s == NULL || ip == NULL || out == NULL || max <= 0)
		return 0;
	return br_lpm_lookup(&s->lpm, ip, out, max);
}

/* ---- inbound identification -------------------------------------------- */

static const char *const outcome_names[BR_OUTCOME__MAX] = {
		[BR_OK] = "ok",
		[BR_UNKNOWN_SOURCE] = "unknown_source",
		[BR_AUTH_REQUIRED] = "auth_required",
		[BR_AUTH_FAILED] = "auth_failed",
		[BR_DISABLED] = "disabled",
		[BR_DIRECTION] = "direction",
		[BR_DID_NOT_ON_TRUNK] = "did_not_on_trunk",
		[BR_NOT_BOUND] = "not_bound",
		[BR_OVER_CAPACITY] = "over_capacity",
		[BR_OVER_CPS] = "over_cps",
		[BR_STORE_DOWN] = "store_down",
		[BR_BAD_REQUEST] = "bad_request",
		[BR_NO_WORKER] = "no_worker",
		[BR_NO_TRUNK] = "no_trunk",
		[BR_CALLERID] = "callerid",
		[BR_FORBIDDEN] = "forbidden",
};

const char *br_outcome_name(int outcome)
{
	if(outcome < 0 || outcome >= BR_OUTCOME__MAX ||
			outcome_names[outcome] == NULL)
		return "unknown";
	return outcome_names[outcome];
}

/* Normalises the dialled number with trunk 'ti''s numbering plan; 1 and
 * 'num' filled when it is a number, else 0 and 'num' empty. */
static int normalise(const br_snap_t *s, uint32_t ti, const br_ident_in_t *in,
		char num[BR_E164_MAX + 1])
{
	num[0] = '\0';
	if(in->user == NULL || in->user_len == 0)
		return 0;
	if(br_e164_normalize(&s->trunks[ti].numplan, in->user, in->user_len, num) <
			0) {
		num[0] = '\0';
		return 0;
	}
	return 1;
}

/* 1 if trunk 'ti' owns the DID 'num'. */
static int owns(const br_snap_t *s, uint32_t ti, const char *num)
{
	const did_ent_t *d = did_find(s, num);

	return d != NULL && d->trunk == ti;
}

void br_identify(
		const br_snap_t *s, const br_ident_in_t *in, br_ident_out_t *out)
{
	uint32_t cand[BR_MAX_CANDIDATES], ti = BR_NONE;
	char num[BR_E164_MAX + 1];
	const br_trunk_t *t;
	const did_ent_t *d;
	int n, i, won = 0;

	out->outcome = BR_UNKNOWN_SOURCE;
	out->trunk = BR_NONE;
	out->agent = BR_NONE;
	out->did[0] = '\0';
	out->verify_digest = 0;
	if(s == NULL || in == NULL)
		return;

	if(in->auth_user != NULL) {
		/* credentials: the username names the trunk */
		ti = br_snap_trunk_by_user(s, in->auth_user, in->auth_user_len);
		if(ti == BR_NONE) {
			out->outcome = BR_AUTH_FAILED;
			return;
		}
		out->trunk = ti;
		if(s->trunks[ti].auth == BR_AUTH_BOTH &&
				!br_trunk_source_ok(&s->trunks[ti], in->src_ip)) {
			out->outcome = BR_UNKNOWN_SOURCE;
			return;
		}
		/* whatever follows is only true if the password is */
		out->verify_digest = 1;
		if(normalise(s, ti, in, num))
			strcpy(out->did, num);
	} else {
		n = br_snap_match_source(s, in->src_ip, cand, BR_MAX_CANDIDATES);
		if(n == 0) {
			out->outcome = s->has_digest ? BR_AUTH_REQUIRED : BR_UNKNOWN_SOURCE;
			return;
		}
		/* shared carrier addresses: the trunk owning the dialled number
		 * (normalised with each trunk's own plan) wins */
		for(i = 0; i < n; i++) {
			if(normalise(s, cand[i], in, num) && owns(s, cand[i], num)) {
				ti = cand[i];
				won = 1;
				break;
			}
		}
		if(!won) {
			/* nobody owns it: blame the most specific allowlist */
			ti = cand[0];
			normalise(s, ti, in, num);
		}
		out->trunk = ti;
		strcpy(out->did, num);
		if(won && s->trunks[ti].auth == BR_AUTH_BOTH) {
			out->outcome = BR_AUTH_REQUIRED;
			return;
		}
	}

	t = &s->trunks[ti];
	if(!t->enabled) {
		out->outcome = BR_DISABLED;
		return;
	}
	if(!(t->direction & BR_DIR_INBOUND)) {
		out->outcome = BR_DIRECTION;
		return;
	}
	d = out->did[0] != '\0' ? did_find(s, out->did) : NULL;
	if(d == NULL || d->trunk != ti) {
		out->outcome = BR_DID_NOT_ON_TRUNK;
		return;
	}
	if(d->agent == BR_NONE || !s->agents[d->agent].enabled) {
		out->outcome = BR_NOT_BOUND;
		return;
	}
	out->agent = d->agent;
	out->outcome = BR_OK;
}

/* ---- outbound ---------------------------------------------------------- */

static int outbound_ok(const br_snap_t *s, uint32_t ti, const br_agent_t *a,
		int (*healthy)(uint32_t, void *), void *hctx)
{
	const br_trunk_t *t = &s->trunks[ti];

	return t->enabled && (t->direction & BR_DIR_OUTBOUND) &&
		   t->host[0] != '\0' && strcmp(t->tenant, a->tenant) == 0 &&
		   (healthy == NULL || healthy(ti, hctx) != 0);
}

static uint32_t rand32(uint32_t (*rnd)(void *), void *rctx)
{
	if(rnd != NULL)
		return rnd(rctx);
	/* rand() gives 31 bits on glibc (15 at worst): mix two calls */
	return ((uint32_t)rand() << 16) ^ (uint32_t)rand();
}

/* First position in tord[] whose trunk's tenant is >= 'tenant'. */
static uint32_t tenant_lower_bound(const br_snap_t *s, const char *tenant)
{
	uint32_t lo = 0, hi = s->ntrunks;

	while(lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if(strcmp(s->trunks[s->tord[mid]].tenant, tenant) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int br_outbound_candidates(const br_snap_t *s, uint32_t agent,
		int (*healthy)(uint32_t trunk, void *ctx), void *hctx,
		uint32_t (*rnd)(void *ctx), void *rctx, uint32_t *out, int max)
{
	uint32_t grp[GROUP_MAX], i, m, j;
	const br_agent_t *a;
	const agent_pref_t *p;
	int k = 0, c;

	if(s == NULL || out == NULL || max <= 0 || agent >= s->nagents)
		return 0;
	a = &s->agents[agent];

	if(a->ntrunks > 0) {
		/* the agent's own order; unknown ids were dropped at finish */
		p = &s->pref[agent];
		for(i = 0; i < p->n && k < max; i++) {
			if(!outbound_ok(s, p->idx[i], a, healthy, hctx))
				continue;
			for(c = 0; c < k && out[c] != p->idx[i]; c++)
				;
			if(c == k)
				out[k++] = p->idx[i];
		}
		return k;
	}

	/* the tenant's trunks are one run of tord[], grouped by priority */
	i = tenant_lower_bound(s, a->tenant);
	while(i < s->ntrunks && k < max &&
			strcmp(s->trunks[s->tord[i]].tenant, a->tenant) == 0) {
		uint16_t prio = s->trunks[s->tord[i]].priority;

		m = 0;
		for(; i < s->ntrunks && s->trunks[s->tord[i]].priority == prio &&
				strcmp(s->trunks[s->tord[i]].tenant, a->tenant) == 0;
				i++)
			if(m < GROUP_MAX && outbound_ok(s, s->tord[i], a, healthy, hctx))
				grp[m++] = s->tord[i];

		/* RFC 2782: draw r uniformly in [0, sum of weights), take the
		 * first trunk whose running sum exceeds r, remove it, repeat */
		while(m > 0 && k < max) {
			uint64_t total = 0, acc = 0, r;
			for(j = 0; j < m; j++)
				total += s->trunks[grp[j]].weight;
			r = ((uint64_t)rand32(rnd, rctx) * total) >> 32;
			for(j = 0; j < m; j++) {
				acc += s->trunks[grp[j]].weight;
				if(r < acc)
					break;
			}
			if(j == m)
				j = 0; /* all weights 0 (records not checked) */
			out[k++] = grp[j];
			grp[j] = grp[--m];
		}
	}
	return k;
}

/* ---- caller ID --------------------------------------------------------- */

int br_callerid_apply(const br_snap_t *s, uint32_t trunk, const char *cid,
		char out[BR_E164_MAX + 1])
{
	const br_trunk_t *t;
	int owned;

	out[0] = '\0';
	if(s == NULL || trunk >= s->ntrunks)
		return BR_CID_REFUSED;
	t = &s->trunks[trunk];
	if(cid == NULL)
		cid = "";
	owned = br_e164_valid(cid) && owns(s, trunk, cid);

	switch(t->cid_policy) {
		case BR_CID_ANY:
			/* unchanged; a caller ID that does not even fit a number's
			 * length cannot be passed on unchanged */
			if(strnlen(cid, BR_E164_MAX + 1) > BR_E164_MAX)
				return BR_CID_REFUSED;
			strcpy(out, cid);
			return BR_CID_KEEP;
		case BR_CID_OWNED:
			if(!owned)
				return BR_CID_REFUSED;
			strcpy(out, cid);
			return BR_CID_KEEP;
		case BR_CID_OWNED_OR_DEFAULT:
			if(owned) {
				strcpy(out, cid);
				return BR_CID_KEEP;
			}
			/* fall through */
		case BR_CID_FIXED:
			if(t->cid_default[0] == '\0')
				return BR_CID_REFUSED;
			strcpy(out, t->cid_default);
			return strcmp(cid, t->cid_default) == 0 ? BR_CID_KEEP
													: BR_CID_REPLACED;
		default:
			return BR_CID_REFUSED;
	}
}

/* ---- workers ----------------------------------------------------------- */

uint32_t br_worker_pick(const br_worker_t *w, const uint32_t *extra, uint32_t n)
{
	uint32_t i, best = BR_NONE;
	uint64_t best_load = 0;

	if(w == NULL)
		return BR_NONE;
	for(i = 0; i < n; i++) {
		/* calls: the worker's last report plus what we sent since */
		uint64_t load = (uint64_t)w[i].active + (extra ? extra[i] : 0);
		if(w[i].draining || load >= w[i].capacity)
			continue;
		if(best != BR_NONE) {
			/* load / capacity compared exactly: a/b < c/d <=> ad < cb */
			uint64_t l = load * w[best].capacity;
			uint64_t r = best_load * w[i].capacity;
			if(l > r || (l == r && load >= best_load))
				continue;
		}
		best = i;
		best_load = load;
	}
	return best;
}

uint32_t br_snap_agent_dids(const br_snap_t *s, uint32_t agent)
{
	uint32_t i, n = 0;

	for(i = 0; i < s->ndids; i++)
		if(s->dids[i].agent == agent)
			n++;
	return n;
}
