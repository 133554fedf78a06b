/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_call.c -- per-call decisions: inbound admission, refusals, worker
 * selection, outbound trunk selection with failover, uac_auth
 * credentials and rtpengine flags. The pure parts (identification,
 * ordering, caller-ID policy, flag strings) live in lib/; this file reads
 * the SIP message, talks to Redis through br_lease and hands results to
 * the cfg in $xavp(byoc=>...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/data_lump_rpl.h"
#include "core/dprint.h"
#include "core/trim.h"
#include "core/dset.h"
#include "core/parser/digest/digest.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"
#include "core/strutils.h"
#include "core/usr_avp.h"
#include "modules/dialog/dlg_load.h"
#include "modules/dialog/dlg_hash.h"

#include "lib/br_e164.h"
#include "lib/br_media.h"
#include "lib/br_snap.h"
#include "br_call.h"
#include "br_conf.h"
#include "br_lease.h"
#include "br_mod.h"
#include "br_msg.h"
#include "br_registry.h"
#include "br_stats.h"

struct dlg_binds br_dlg;

/* One row per enum br_outcome: what the cfg's byoc_refuse() sends.
 * docs/rpc.md and docs/call-flows.md list the same table. */
static const struct {
	int code;
	const char *reason;
	int retry; /* add Retry-After */
} _replies[BR_OUTCOME__MAX] = {
		[BR_OK] = {200, "OK", 0},
		[BR_UNKNOWN_SOURCE] = {403, "Source Not Allowed", 0},
		[BR_AUTH_REQUIRED] = {407, "Proxy Authentication Required", 0},
		[BR_AUTH_FAILED] = {403, "Authentication Failed", 0},
		[BR_DISABLED] = {403, "Trunk Disabled", 0},
		[BR_DIRECTION] = {403, "Direction Not Allowed On Trunk", 0},
		[BR_DID_NOT_ON_TRUNK] = {404, "DID Not On Trunk", 0},
		[BR_NOT_BOUND] = {480, "DID Not Bound To An Agent", 0},
		[BR_OVER_CAPACITY] = {503, "Trunk Capacity Exceeded", 1},
		[BR_OVER_CPS] = {503, "Trunk CPS Limit Exceeded", 1},
		[BR_STORE_DOWN] = {503, "Routing Store Unavailable", 1},
		[BR_BAD_REQUEST] = {400, "Bad Request", 0},
		[BR_NO_WORKER] = {503, "No Media Worker Available", 1},
		[BR_NO_TRUNK] = {503, "No Outbound Trunk Available", 1},
		[BR_CALLERID] = {403, "Caller ID Not Allowed On Trunk", 0},
		[BR_FORBIDDEN] = {403, "Forbidden", 0},
};

void br_outcome_reply(int outcome, int *code, const char **reason,
		int *retry_after)
{
	if(outcome < 0 || outcome >= BR_OUTCOME__MAX)
		outcome = BR_BAD_REQUEST;
	*code = _replies[outcome].code;
	*reason = _replies[outcome].reason;
	*retry_after = _replies[outcome].retry ? br_p.retry_after : 0;
	if(outcome == BR_OVER_CAPACITY && br_p.capacity_code == 486) {
		*code = 486;
		*retry_after = 0;
	}
}

/* Records the decision for the cfg and the statistics. */
static int decide(int outcome, const br_trunk_t *t)
{
	br_xavp_set_int("outcome", outcome);
	br_xavp_set("outcome_name", br_outcome_name(outcome));
	br_stats_count(t ? t->id : NULL, outcome);
	return outcome;
}

static int callid_of(sip_msg_t *msg, str *callid)
{
	if(parse_headers(msg, HDR_CALLID_F, 0) < 0 || !msg->callid)
		return -1;
	*callid = msg->callid->body;
	trim(callid);
	return callid->len > 0 ? 0 : -1;
}

/* Digest username of a Proxy-Authorization header, if any. */
static int auth_user_of(sip_msg_t *msg, str *user)
{
	auth_body_t *ab;

	user->s = NULL;
	user->len = 0;
	if(parse_headers(msg, HDR_PROXYAUTH_F, 0) < 0)
		return -1;
	if(!msg->proxy_auth)
		return 0;
	if(!msg->proxy_auth->parsed && parse_credentials(msg->proxy_auth) != 0)
		return -1;
	ab = (auth_body_t *)msg->proxy_auth->parsed;
	if(!ab)
		return -1;
	*user = ab->digest.username.user;
	return 0;
}

/* Decrypts a trunk's password into 'pw' (caller wipes it). */
static int trunk_password(const br_trunk_t *t, char *pw, size_t len)
{
	char aad[BR_ID_MAX + 8];

	if(!br_p.have_key || !t->password_enc[0])
		return -1;
	snprintf(aad, sizeof(aad), "trunk:%s", t->id);
	return br_secret_decrypt(br_p.key, aad, t->password_enc, pw, len) < 0
				   ? -1
				   : 0;
}

/* Checks the digest response against the trunk's password. */
static int verify_digest(sip_msg_t *msg, const br_trunk_t *t)
{
	char pw[BR_SECRET_PLAIN_MAX + 1];
	str spw, method;
	int rc;

	if(trunk_password(t, pw, sizeof(pw)) < 0) {
		LM_ERR("trunk %s: digest password missing or undecryptable "
			   "(wrong secret key?)\n",
				t->id);
		return BR_AUTH_FAILED;
	}
	spw.s = pw;
	spw.len = strlen(pw);
	method = msg->first_line.u.request.method;
	rc = br_auth.pv_authenticate(
			msg, &br_p.auth_realm, &spw, 0, HDR_PROXYAUTH_T, &method);
	br_secret_wipe(pw, sizeof(pw));
	if(rc == AUTH_OK) {
		br_auth.consume_credentials(msg);
		return BR_OK;
	}
	if(rc == AUTH_STALE_NONCE || rc == AUTH_NONCE_REUSED
			|| rc == AUTH_NO_CREDENTIALS)
		return BR_AUTH_REQUIRED;
	return BR_AUTH_FAILED;
}

static const char *const _dtmf_names[] = {"rfc2833", "info", "inband"};

/* Only what the cfg reads: each xavp field is a shm allocation. */
static void set_trunk_xavps(const br_trunk_t *t)
{
	br_xavp_set("trunk", t->id);
	br_xavp_set("tenant", t->tenant);
}

int br_inbound(sip_msg_t *msg)
{
	br_conf_ref_t *ref;
	const br_snap_t *s;
	const br_trunk_t *t = NULL;
	const br_agent_t *a;
	br_ident_in_t in;
	br_ident_out_t out;
	str callid, auser;
	int outcome, retry_ms = 0;
	char ubuf[128];
	str user = {ubuf, sizeof(ubuf)};

	br_xavp_reset();
	br_xavp_set("direction", "inbound");
	if(msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_INVITE
			|| parse_sip_msg_uri(msg) < 0 || callid_of(msg, &callid) < 0
			|| parse_from_header(msg) < 0 || !msg->to
			|| get_to(msg)->tag_value.len > 0
			|| auth_user_of(msg, &auser) < 0
			/* "%23" for '#' and friends: compare the number unescaped */
			|| unescape_user(&msg->parsed_uri.user, &user) < 0)
		return decide(BR_BAD_REQUEST, NULL);

	ref = br_conf_get();
	if(!ref) {
		/* nothing loaded since start: Redis unreachable */
		return decide(BR_STORE_DOWN, NULL);
	}
	s = br_conf_snap(ref);
	memset(&in, 0, sizeof(in));
	br_msg_src_ip(msg, in.src_ip);
	in.user = user.s;
	in.user_len = user.len;
	in.auth_user = auser.len ? auser.s : NULL;
	in.auth_user_len = auser.len;
	br_identify(s, &in, &out);
	outcome = out.outcome;
	if(out.trunk != BR_NONE)
		t = br_snap_trunk_at(s, out.trunk);
	if(outcome == BR_OK && out.verify_digest)
		outcome = verify_digest(msg, t);
	if(outcome == BR_OK)
		outcome = br_lease_admit(t, &callid, &retry_ms);
	if(t)
		set_trunk_xavps(t);
	if(out.did[0])
		br_xavp_set("did", out.did);
	if(outcome == BR_OVER_CPS) {
		br_xavp_set_int("retry_after", (retry_ms + 999) / 1000);
	}
	if(outcome == BR_OK) {
		a = br_snap_agent_at(s, out.agent);
		br_xavp_set("agent", a->id);
		/* toward the worker: only headers the edge vouches for, added
		 * as one block (one lump) */
		char hb[512];
		int hn;
		br_msg_strip_byoc(msg);
		hn = snprintf(hb, sizeof(hb),
				"X-Byoc-Trunk: %s\r\nX-Byoc-Tenant: %s\r\nX-Byoc-Agent: "
				"%s\r\nX-Byoc-DID: %s\r\nX-Byoc-Direction: inbound\r\n"
				"X-Byoc-Dtmf: %s\r\n",
				t->id, t->tenant, a->id, out.did, _dtmf_names[t->dtmf % 3]);
		if(hn > 0 && hn < (int)sizeof(hb))
			br_msg_add_hdr_block(msg, hb, hn);
	}
	decide(outcome, t);
	br_conf_put(ref);
	return outcome;
}

int br_known_source(sip_msg_t *msg)
{
	br_conf_ref_t *ref;
	uint8_t ip[BR_IP_LEN];
	uint32_t t;
	int n = 0;

	if(br_msg_from_worker(msg))
		return 1;
	ref = br_conf_get();
	if(!ref)
		return -1;
	br_msg_src_ip(msg, ip);
	n = br_snap_match_source(br_conf_snap(ref), ip, &t, 1);
	br_conf_put(ref);
	return n > 0 ? 1 : -1;
}

int br_release(sip_msg_t *msg)
{
	str callid;
	if(callid_of(msg, &callid) < 0)
		return -1;
	br_lease_release(&callid);
	return 1;
}

int br_refuse(sip_msg_t *msg)
{
	int outcome, code, retry, n;
	const char *reason;
	char hdr[64];
	str sreason;

	if(br_xavp_get_int("outcome", &outcome) < 0 || outcome == BR_OK) {
		LM_ERR("byoc_refuse() without a refusal decision\n");
		return -1;
	}
	br_release(msg);
	if(outcome == BR_AUTH_REQUIRED) {
		/* qop=auth; nonces are checked by the auth module (nonce_count /
		 * one_time_nonce modparams in the cfg make them replay-safe) */
		return br_auth.auth_challenge_hftype(
					   msg, &br_p.auth_realm, 1, HDR_PROXYAUTH_T)
							   > 0
					   ? 1
					   : -1;
	}
	if(outcome == BR_UNKNOWN_SOURCE && br_p.unknown_source_drop)
		return 2;
	br_outcome_reply(outcome, &code, &reason, &retry);
	if(outcome == BR_OVER_CPS && code == 503) {
		int ra;
		if(br_xavp_get_int("retry_after", &ra) == 0 && ra > 0)
			retry = ra;
	}
	if(retry > 0) {
		n = snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
		if(add_lump_rpl(msg, hdr, n, LUMP_RPL_HDR) == 0)
			LM_ERR("cannot add Retry-After\n");
	}
	sreason.s = (char *)reason;
	sreason.len = strlen(reason);
	return br_sl.freply(msg, code, &sreason) < 0 ? -1 : 1;
}

int br_route_worker(sip_msg_t *msg)
{
	br_worker_t w;
	str tried = {0, 0};
	char buf[512], list[1024] = "";
	str duri;
	int n;

	if(br_xavp_get("workers_tried", &tried) == 0)
		br_str_copy(list, sizeof(list), &tried);
	if(br_registry_pick(list, &w) < 0) {
		str tid;
		char id[BR_ID_MAX + 1] = "";
		if(br_xavp_get("trunk", &tid) == 0)
			br_str_copy(id, sizeof(id), &tid);
		br_xavp_set_int("outcome", BR_NO_WORKER);
		br_xavp_set("outcome_name", br_outcome_name(BR_NO_WORKER));
		br_stats_count(id[0] ? id : NULL, BR_NO_WORKER);
		return BR_NO_WORKER;
	}
	n = snprintf(buf, sizeof(buf), "sip:%s%s%s:%u%s",
			strchr(w.addr, ':') ? "[" : "", w.addr,
			strchr(w.addr, ':') ? "]" : "", w.port,
			w.transport == BR_TP_TCP ? ";transport=tcp" : "");
	duri.s = buf;
	duri.len = n;
	if(set_dst_uri(msg, &duri) < 0)
		return BR_NO_WORKER;
	if(strlen(list) + strlen(w.id) + 2 < sizeof(list)) {
		if(list[0])
			strcat(list, ",");
		strcat(list, w.id);
	}
	br_xavp_set("workers_tried", list);
	br_xavp_set("worker", w.id);
	br_xavp_set_int("wideband", w.wideband);
	return BR_OK;
}

/* ---- outbound ---------------------------------------------------------- */

static uint32_t rnd32(void *ctx)
{
	return ((uint32_t)rand() << 16) ^ (uint32_t)rand();
}

static int trunk_healthy(uint32_t idx, void *ctx)
{
	const br_snap_t *s = ctx;
	return !br_registry_trunk_down(br_snap_trunk_at(s, idx)->id);
}

/* Points the Request-URI at trunk 't' for E.164 destination 'dest'. */
static int target_trunk(sip_msg_t *msg, const br_trunk_t *t, const char *dest)
{
	char dial[64], uri[512];
	str su;
	int n;
	const char *tp = "";

	if(br_e164_format(&t->numplan, dest, dial, sizeof(dial)) < 0)
		return -1;
	if(t->transport == BR_TP_TCP)
		tp = ";transport=tcp";
	else if(t->transport == BR_TP_TLS && !t->sips)
		tp = ";transport=tls";
	n = snprintf(uri, sizeof(uri), "%s:%s@%s%s%s:%u%s",
			t->sips ? "sips" : "sip", dial, strchr(t->host, ':') ? "[" : "",
			t->host, strchr(t->host, ':') ? "]" : "", t->port, tp);
	if(n <= 0 || n >= (int)sizeof(uri))
		return -1;
	su.s = uri;
	su.len = n;
	if(rewrite_uri(msg, &su) < 0)
		return -1;
	reset_dst_uri(msg);
	br_xavp_set("dial", dial);
	return 0;
}

/*
 * Walks the candidate list 'cands' (comma-separated trunk ids) from the
 * start, taking the first trunk whose caller-ID policy and limits admit
 * the call. The rest of the list is kept in $xavp(byoc=>cands) for
 * byoc_next_trunk(). Returns an outcome.
 */
static int try_candidates(sip_msg_t *msg, const br_snap_t *s, char *cands,
		const char *dest, const char *cid, const str *callid)
{
	char *p = cands, *c;
	int outcome = BR_NO_TRUNK, rc, retry_ms;
	const br_trunk_t *t = NULL;

	while(p && *p) {
		uint32_t ti;
		char cid_use[BR_E164_MAX + 1], cid_user[64];

		c = strchr(p, ',');
		if(c)
			*c = 0;
		ti = br_snap_trunk_index(s, p);
		p = c ? c + 1 : NULL;
		if(ti == BR_NONE)
			continue;
		t = br_snap_trunk_at(s, ti);
		rc = br_callerid_apply(s, ti, cid, cid_use);
		if(rc == BR_CID_REFUSED) {
			if(outcome == BR_NO_TRUNK)
				outcome = BR_CALLERID;
			br_stats_count(t->id, BR_CALLERID);
			continue;
		}
		rc = br_lease_admit(t, callid, &retry_ms);
		if(rc != BR_OK) {
			outcome = rc;
			br_stats_count(t->id, rc);
			continue;
		}
		if(target_trunk(msg, t, dest) < 0) {
			br_lease_release(callid);
			outcome = BR_BAD_REQUEST;
			continue;
		}
		set_trunk_xavps(t);
		br_xavp_set("cid", cid_use);
		if(cid_use[0]
				&& br_e164_format(&t->numplan, cid_use, cid_user,
						   sizeof(cid_user))
						   > 0)
			br_xavp_set("cid_user", cid_user);
		else
			br_xavp_set("cid_user", "anonymous");
		br_xavp_set("cands", p ? p : "");
		br_xavp_set_int("outcome", BR_OK);
		br_xavp_set("outcome_name", br_outcome_name(BR_OK));
		br_stats_count(t->id, BR_OK);
		return BR_OK;
	}
	br_xavp_set("cands", "");
	br_xavp_set_int("outcome", outcome);
	br_xavp_set("outcome_name", br_outcome_name(outcome));
	if(outcome == BR_NO_TRUNK)
		br_stats_count(NULL, outcome);
	return outcome;
}

static int secret_ok(sip_msg_t *msg)
{
	str v;
	volatile unsigned char d = 0;
	int i;

	if(br_p.worker_secret.len == 0)
		return 1; /* network check only (documented as weaker) */
	if(br_msg_hdr(msg, "X-Byoc-Secret", &v) < 0
			|| v.len != br_p.worker_secret.len)
		return 0;
	for(i = 0; i < v.len; i++)
		d |= (unsigned char)v.s[i] ^ (unsigned char)br_p.worker_secret.s[i];
	return d == 0;
}

int br_outbound(sip_msg_t *msg)
{
	br_conf_ref_t *ref;
	const br_snap_t *s;
	const br_agent_t *a;
	uint32_t ai, idx[BR_MAX_CANDIDATES];
	br_numplan_t plan;
	char agent[BR_ID_MAX + 1], dest[BR_E164_MAX + 1], cid[BR_E164_MAX + 1];
	char cands[BR_MAX_CANDIDATES * (BR_ID_MAX + 1) + 1];
	str v, callid;
	int n, i, outcome;

	br_xavp_reset();
	br_xavp_set("direction", "outbound");
	if(!br_msg_from_worker(msg) || !secret_ok(msg)) {
		br_xavp_set_int("outcome", BR_FORBIDDEN);
		br_xavp_set("outcome_name", br_outcome_name(BR_FORBIDDEN));
		br_stats_count(NULL, BR_FORBIDDEN);
		return BR_FORBIDDEN;
	}
	if(msg->REQ_METHOD != METHOD_INVITE || parse_sip_msg_uri(msg) < 0
			|| callid_of(msg, &callid) < 0 || parse_from_header(msg) < 0
			|| br_msg_hdr(msg, "X-Byoc-Agent", &v) < 0
			|| br_str_copy(agent, sizeof(agent), &v) < 0)
		return decide(BR_BAD_REQUEST, NULL);
	br_numplan_defaults(&plan);
	if(br_e164_normalize(&plan, msg->parsed_uri.user.s,
			   msg->parsed_uri.user.len, dest)
			< 0)
		return decide(BR_BAD_REQUEST, NULL);
	cid[0] = 0;
	{
		sip_uri_t fu;
		struct to_body *fb = get_from(msg);
		if(parse_uri(fb->uri.s, fb->uri.len, &fu) == 0 && fu.user.len > 0)
			br_e164_normalize(&plan, fu.user.s, fu.user.len, cid);
	}

	ref = br_conf_get();
	if(!ref)
		return decide(BR_STORE_DOWN, NULL);
	s = br_conf_snap(ref);
	ai = br_snap_agent_index(s, agent);
	if(ai == BR_NONE || !(a = br_snap_agent_at(s, ai))->enabled) {
		br_conf_put(ref);
		LM_NOTICE("outbound call for unknown or disabled agent %s\n", agent);
		return decide(BR_FORBIDDEN, NULL);
	}
	n = br_outbound_candidates(s, ai, trunk_healthy, (void *)s, rnd32, NULL,
			idx, BR_MAX_CANDIDATES);
	cands[0] = 0;
	for(i = 0; i < n; i++) {
		if(i)
			strcat(cands, ",");
		strcat(cands, br_snap_trunk_at(s, idx[i])->id);
	}
	br_xavp_set("agent", a->id);
	br_xavp_set("dest", dest);
	br_msg_strip_byoc(msg);
	outcome = try_candidates(msg, s, cands, dest, cid, &callid);
	br_conf_put(ref);
	return outcome;
}

int br_next_trunk(sip_msg_t *msg, int code)
{
	br_conf_ref_t *ref;
	const br_snap_t *s;
	str v, callid;
	char cur[BR_ID_MAX + 1], dest[BR_E164_MAX + 1], cid[BR_E164_MAX + 1];
	char cands[BR_MAX_CANDIDATES * (BR_ID_MAX + 1) + 1];
	uint32_t ti;
	int outcome;

	if(br_xavp_get("trunk", &v) < 0 || br_str_copy(cur, sizeof(cur), &v) < 0
			|| br_xavp_get("dest", &v) < 0
			|| br_str_copy(dest, sizeof(dest), &v) < 0
			|| callid_of(msg, &callid) < 0)
		return BR_NO_TRUNK;
	cid[0] = 0;
	if(br_xavp_get("cid", &v) == 0)
		br_str_copy(cid, sizeof(cid), &v);
	cands[0] = 0;
	if(br_xavp_get("cands", &v) == 0)
		br_str_copy(cands, sizeof(cands), &v);

	ref = br_conf_get();
	if(!ref)
		return BR_STORE_DOWN;
	s = br_conf_snap(ref);
	ti = br_snap_trunk_index(s, cur);
	if(ti != BR_NONE && !br_trunk_failover_ok(br_snap_trunk_at(s, ti), code)) {
		br_conf_put(ref);
		return BR_NO_TRUNK; /* this code never fails over (486, 603...) */
	}
	if(!cands[0]) {
		br_conf_put(ref);
		return BR_NO_TRUNK;
	}
	outcome = try_candidates(msg, s, cands, dest, cid, &callid);
	br_conf_put(ref);
	return outcome;
}

static int set_avp(const char *name, const char *val)
{
	int_str n, v;
	n.s.s = (char *)name;
	n.s.len = strlen(name);
	v.s.s = (char *)val;
	v.s.len = strlen(val);
	return add_avp(AVP_NAME_STR | AVP_VAL_STR, n, v);
}

int br_auth_creds(sip_msg_t *msg)
{
	br_conf_ref_t *ref;
	const br_trunk_t *t;
	char id[BR_ID_MAX + 1], pw[BR_SECRET_PLAIN_MAX + 1];
	uint32_t ti;
	str v;
	int rc = -1;

	if(br_xavp_get("trunk", &v) < 0 || br_str_copy(id, sizeof(id), &v) < 0)
		return -1;
	ref = br_conf_get();
	if(!ref)
		return -1;
	ti = br_snap_trunk_index(br_conf_snap(ref), id);
	if(ti != BR_NONE) {
		t = br_snap_trunk_at(br_conf_snap(ref), ti);
		if(t->username[0] && trunk_password(t, pw, sizeof(pw)) == 0) {
			set_avp("byoc_auth_user", t->username);
			set_avp("byoc_auth_pass", pw);
			set_avp("byoc_auth_realm", t->realm);
			br_secret_wipe(pw, sizeof(pw));
			rc = 1;
		}
	}
	br_conf_put(ref);
	return rc;
}

/* ---- media ------------------------------------------------------------- */

static str _dv_trunk = str_init("byoc_trunk");
static str _dv_wb = str_init("byoc_wb");

int br_rtpe_flags(sip_msg_t *msg, int is_offer, str *out)
{
	static char buf[BR_MEDIA_FLAGS_MAX];
	char id[BR_ID_MAX + 1] = "";
	br_conf_ref_t *ref;
	br_trunk_t def;
	const br_trunk_t *t = NULL;
	int wb = 0, n;
	str v;

	if(br_xavp_get("trunk", &v) == 0) {
		br_str_copy(id, sizeof(id), &v);
		br_xavp_get_int("wideband", &wb);
	} else {
		struct dlg_cell *d = br_dlg.get_dlg(msg);
		if(d) {
			if(br_dlg.get_dlg_varval(d, &_dv_trunk, &v) == 0 && v.s)
				br_str_copy(id, sizeof(id), &v);
			if(br_dlg.get_dlg_varval(d, &_dv_wb, &v) == 0 && v.s)
				wb = v.len == 1 && v.s[0] == '1';
			br_dlg.release_dlg(d);
		}
	}
	ref = br_conf_get();
	if(ref && id[0]) {
		uint32_t ti = br_snap_trunk_index(br_conf_snap(ref), id);
		if(ti != BR_NONE)
			t = br_snap_trunk_at(br_conf_snap(ref), ti);
	}
	if(!t) {
		/* trunk deleted mid-call, or not ours: plain RTP, G.711 */
		br_trunk_defaults(&def);
		t = &def;
	}
	n = br_media_flags(t, br_msg_from_worker(msg), is_offer, wb, buf,
			sizeof(buf));
	br_conf_put(ref);
	if(n < 0)
		return -1;
	out->s = buf;
	out->len = n;
	return 1;
}

/* Dialog CREATED: keep what in-dialog requests need as dialog variables
 * (the xavp dies with the transaction). */
static void dlg_created_cb(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	str v;
	int wb = 0;
	str one = str_init("1"), zero = str_init("0");

	if(br_xavp_get("trunk", &v) < 0)
		return;
	br_dlg.set_dlg_var(dlg, &_dv_trunk, &v);
	br_xavp_get_int("wideband", &wb);
	br_dlg.set_dlg_var(dlg, &_dv_wb, wb ? &one : &zero);
}

int br_call_bind_dialog(void)
{
	if(load_dlg_api(&br_dlg) != 0)
		return -1;
	return br_dlg.register_dlgcb(
			NULL, DLGCB_CREATED, dlg_created_cb, NULL, NULL);
}
