#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Outbound calls from a media worker through the edge to carrier trunks:
# digest challenge answered with the trunk's credentials, failover on the
# trunk's failover codes and on timeouts but never on 486, caller-ID
# policy, and no outbound call without the worker network and secret.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
PA=$((BYOC_PORT_BASE + 70))
PB=$((BYOC_PORT_BASE + 71))
PC=$((BYOC_PORT_BASE + 72))
t_rpc byoc.trunk_set ca tenant=acme direction=outbound host=127.0.0.2 port=$PA priority=1 \
	username=acme-out password=carrier-pw callerid_policy=owned
t_rpc byoc.trunk_set cb tenant=acme direction=outbound host=127.0.0.3 port=$PB priority=2 plus_policy=digits
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import ca +14155550100
t_wait_config

out_call() { # name dest cid [secret] -> sipp rc
	local name=$1 dest=$2 cid=$3 secret=${4:-$BYOC_WORKER_SECRET}
	t_uac "$name" 127.0.1.1 uac_worker_out.xml "$dest" -key agent a1 -key secret "$secret" -key cid "$cid" -d 200
}
count_invites() { # sipp name: INVITEs it received
	local n
	n=$(grep -c '^INVITE sip:' "$BYOC_LOG_DIR/$1.msg" 2>/dev/null || true)
	echo "${n:-0}"
}

# 1. digest: the carrier challenges, the edge answers with the trunk's credentials
t_uas ca1 127.0.0.2 $PA uas_carrier_auth.xml
rc=$(out_call o1 +14155550123 +14155550100)
assert_eq 1 "$(t_answered o1)" "outbound call through a carrier that demands digest"
m=$(t_msgs ca1)
assert_match 'Proxy-Authorization: Digest username="acme-out"' "$m" "edge answered the challenge with the trunk's username"
# recompute the digest (RFC 2617, no qop) with the trunk's password
pa=$(grep -m1 '^Proxy-Authorization:' "$BYOC_LOG_DIR/ca1.msg")
field() { sed -n "s/.* $1=\"\([^\"]*\)\".*/\1/p" <<<"$pa"; }
md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
want=$(md5 "$(md5 "acme-out:$(field realm):carrier-pw"):$(field nonce):$(md5 "INVITE:$(field uri)")")
assert_eq "$want" "$(field response)" "the digest response is right for the trunk's password"
assert_match 'INVITE sip:\+14155550123@127.0.0.2' "$m" "carrier gets the E.164 destination"
assert_match 'From: <sip:\+14155550100@' "$m" "caller ID owned by the trunk passes"
assert_nomatch 'X-Byoc' "$m" "no internal X-Byoc-* header (secret, agent) reaches the carrier"
assert_nomatch 'carrier-pw' "$(cat "$BYOC_LOG_DIR/kamailio.log")" "the trunk password is not logged"
t_stop_uas ca1

# 2. 503 on the first trunk: the second takes the call
t_uas ca2 127.0.0.2 $PA uas_503.xml
t_uas cb 127.0.0.3 $PB uas_worker.xml
rc=$(out_call o2 +14155550124 +14155550100)
assert_eq 1 "$(t_answered o2)" "503 from trunk ca fails over: call completes"
assert_eq 1 "$(count_invites ca2)" "trunk ca was tried once"
assert_eq 1 "$(count_invites cb)" "trunk cb got the call"
assert_match 'INVITE sip:14155550124@127.0.0.3' "$(t_msgs cb)" "trunk cb's number format (digits, no plus)"
t_stop_uas ca2

# 3. 486 is final: no failover, the worker hears busy
t_uas ca3 127.0.0.2 $PA uas_486.xml
before=$(count_invites cb)
out_call o3 +14155550125 +14155550100 >/dev/null
assert_match 'SIP/2.0 486' "$(t_msgs o3)" "486 from the carrier reaches the worker"
assert_eq "$before" "$(count_invites cb)" "486 did not ring the next trunk"
t_stop_uas ca3

# 4. transport timeout on the first trunk: failover
before=$(count_invites cb)
rc=$(out_call o4 +14155550126 +14155550100)
assert_eq 1 "$(t_answered o4)" "no answer from trunk ca (timeout): call completes on cb"
assert_eq $((before + 1)) "$(count_invites cb)" "cb took the call after the timeout"

# 5. caller-ID policy: ca needs an owned number, so a foreign caller ID goes to cb;
#    with owned_or_default the default replaces it
t_uas ca5 127.0.0.2 $PA uas_carrier_auth.xml
before=$(count_invites cb)
rc=$(out_call o5 +14155550127 +19995550000)
assert_eq 1 "$(t_answered o5)" "foreign caller ID: ca refuses it, cb carries the call"
assert_eq $((before + 1)) "$(count_invites cb)" "cb took it"
assert_eq 0 "$(count_invites ca5)" "ca never saw a caller ID it does not own"
t_rpc byoc.trunk_set cb callerid_policy=owned_or_default callerid_default=+14155550999
t_wait_config
rc=$(out_call o6 +14155550128 +19995550000)
assert_eq 1 "$(t_answered o6)" "owned_or_default: call completes"
assert_match 'From: <sip:14155550999@' "$(t_msgs cb)" "caller ID replaced by the trunk's default"
t_rpc byoc.trunk_set cb callerid_policy=owned
t_wait_config
out_call o7 +14155550129 +19995550000 >/dev/null
assert_match 'SIP/2.0 403 Caller ID Not Allowed On Trunk' "$(t_msgs o7)" "no trunk accepts the caller ID: 403"

# 4b. early media reached the worker: a later 503 is final (never ring twice)
t_stop_uas ca5
t_uas ca4 127.0.0.2 $PA uas_183_503.xml
before=$(count_invites cb)
out_call o4b +14155550132 +14155550100 >/dev/null
m=$(t_msgs o4b)
assert_match 'SIP/2.0 183' "$m" "the worker got the carrier's early media"
# (a proxy forwards a downstream 503 as 500, RFC 3261 16.7)
assert_match 'SIP/2.0 500' "$m" "the failure after early media reaches the worker"
assert_eq "$before" "$(count_invites cb)" "no failover after early media"
t_stop_uas ca4

# 4c. a trunk with transport tls gets the INVITE over TLS (a TLS listener
# stands in for the carrier and records what arrives)
TLSP=$((BYOC_PORT_BASE + 73))
t_rpc byoc.trunk_set ctls tenant=acme direction=outbound host=127.0.0.8 port=$TLSP transport=tls priority=0
t_rpc byoc.agent_set a2 tenant=acme ws_url=ws://127.0.0.1:9/a trunks=ctls
t_wait_config
# (s_server stops at EOF on its stdin: keep it open while it listens)
(sleep 8 | timeout 8 openssl s_server -accept "127.0.0.8:$TLSP" -cert "$BYOC_TLS_CERT" \
	-key "$BYOC_TLS_KEY" -naccept 1 >"$BYOC_LOG_DIR/tls-carrier.txt" 2>&1 || true) &
srv=$!
sleep 0.5
t_uac o4c 127.0.1.1 uac_worker_out.xml +14155550133 -key agent a2 -key secret "$BYOC_WORKER_SECRET" \
	-key cid +14155550100 -timeout 6 >/dev/null || true
wait $srv 2>/dev/null || true
assert_match 'INVITE sip:\+14155550133@127.0.0.8:[0-9]+;transport=tls SIP/2.0' "$(cat "$BYOC_LOG_DIR/tls-carrier.txt")" \
	"a transport=tls trunk receives the INVITE over TLS"
assert_match 'Via: SIP/2.0/TLS' "$(cat "$BYOC_LOG_DIR/tls-carrier.txt")" "... with a TLS Via"

# 6. no open relay
out_call o8 +14155550130 +14155550100 wrong-secret >/dev/null
assert_match 'SIP/2.0 403 Forbidden' "$(t_msgs o8)" "worker network without the secret: 403"
t_uac o9 127.0.0.5 uac_worker_out.xml +14155550131 -key agent a1 -key secret "$BYOC_WORKER_SECRET" -key cid +14155550100 >/dev/null
assert_match 'SIP/2.0 403 Source Not Allowed' "$(t_msgs o9)" "the secret from outside the worker network: 403"
t_done
