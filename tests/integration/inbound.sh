#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Inbound admission end to end: an allowlisted carrier reaches the worker
# with the byoc headers (spoofed ones stripped, carrier X- headers kept);
# every refusal comes back with its documented code and reason.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml

t_rpc byoc.trunk_set carrier-a "name=Carrier A" tenant=acme cidrs=127.0.0.2/32 \
	direction=both host=127.0.0.2 codecs=PCMA,PCMU country_code=1 national_length=10
t_rpc byoc.trunk_set carrier-out tenant=acme cidrs=127.0.0.4/32 direction=outbound host=127.0.0.4
t_rpc byoc.trunk_set carrier-off tenant=acme cidrs=127.0.0.5/32 direction=inbound enabled=0
t_rpc byoc.agent_set agent-1 tenant=acme ws_url=ws://127.0.0.1:9/agent
t_rpc byoc.did_import carrier-a +14155550100 +14155550101
t_rpc byoc.did_import carrier-out +14155550200
t_rpc byoc.did_import carrier-off +14155550300
for d in +14155550100 +14155550101 +14155550200 +14155550300; do t_rpc byoc.did_bind $d agent-1; done
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT

# admitted, E.164 dialled
rc=$(t_uac ok1 127.0.0.2 uac_call.xml +14155550100 -d 200)
assert_eq 0 "$rc" "allowlisted carrier call completes"
m=$(t_msgs worker)
assert_match 'X-Byoc-Trunk: carrier-a' "$m" "worker sees X-Byoc-Trunk"
assert_match 'X-Byoc-Agent: agent-1' "$m" "worker sees X-Byoc-Agent"
assert_match 'X-Byoc-DID: \+14155550100' "$m" "worker sees X-Byoc-DID"
assert_match 'X-Byoc-Tenant: acme' "$m" "worker sees X-Byoc-Tenant"
assert_match 'X-Carrier-Ref: ref-' "$m" "carrier X- headers pass through"
assert_nomatch 'spoofed' "$m" "spoofed X-Byoc-* header from the carrier is stripped"
assert_match 'c=IN IP4 127.0.0.1' "$m" "the SDP the worker sees points at rtpengine"
assert_match 'Session-Expires: 1800;refresher=uac' "$m" "session timer headers pass through to the worker (refreshes are in-dialog re-INVITE/UPDATE, media.sh)"
# a call held 3 s: the dialog's lifetime is the 12 h default, not a
# session-timer-like 15 minutes
(t_uac held 127.0.0.2 uac_call.xml +14155550100 -d 3000 >/dev/null) &
held=$!
sleep 1.5
d=$(rpc dlg.list)
lifetime=$(awk '/lifetime:/ { print $2; exit }' <<<"$d")
assert_le 43000 "${lifetime:-0}" "an established dialog lives 12 h unless ended (s)"
wait $held

# national format under the trunk's numbering plan
rc=$(t_uac ok2 127.0.0.2 uac_call.xml 4155550101 -d 200)
assert_eq 0 "$rc" "national-format number normalised to a DID"
assert_match 'X-Byoc-DID: \+14155550101' "$(t_msgs worker)" "normalised DID in header"

# refusals
t_uac r1 127.0.0.3 uac_refused.xml +14155550100 >/dev/null
assert_match 'SIP/2.0 403 Source Not Allowed' "$(t_msgs r1)" "unknown source -> 403"
t_uac r2 127.0.0.2 uac_refused.xml +14155550199 >/dev/null
assert_match 'SIP/2.0 404 DID Not On Trunk' "$(t_msgs r2)" "unknown DID -> 404"
t_uac r3 127.0.0.4 uac_refused.xml +14155550200 >/dev/null
assert_match 'SIP/2.0 403 Direction Not Allowed On Trunk' "$(t_msgs r3)" "outbound-only trunk refuses inbound"
t_uac r4 127.0.0.5 uac_refused.xml +14155550300 >/dev/null
assert_match 'SIP/2.0 403 Trunk Disabled' "$(t_msgs r4)" "disabled trunk -> 403"
rpc byoc.did_unbind +14155550100 >/dev/null
t_wait_config
t_uac r5 127.0.0.2 uac_refused.xml +14155550100 >/dev/null
assert_match 'SIP/2.0 480 DID Not Bound To An Agent' "$(t_msgs r5)" "unbound DID -> 480"

# statistics count per outcome
s=$(rpc byoc.stats carrier-a)
assert_match 'ok: 3' "$s" "stats count admitted calls (3)"
t_done
