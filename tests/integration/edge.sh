#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The edge's perimeter and operations: SIP over TCP and TLS (1.2+ only)
# from carriers, scanners dropped silently, a flood from a non-carrier
# throttled while the carrier keeps calling, REFER relayed with its
# NOTIFY, OPTIONS health checks with hysteresis shared in Redis (and
# byoc.probe), Prometheus counters per trunk.
export BYOC_PROBE_INTERVAL=1 BYOC_PROBE_DOWN=2 BYOC_PROBE_UP=2
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
CPORT=$((BYOC_PORT_BASE + 70))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml
t_uas bk 127.0.0.7 $((CPORT + 1)) uas_carrier.xml
t_rpc byoc.trunk_set carrier tenant=acme cidrs=127.0.0.2/32 direction=inbound
t_rpc byoc.trunk_set health tenant=acme direction=outbound host=127.0.0.6 port=$CPORT priority=1
t_rpc byoc.trunk_set backup tenant=acme direction=outbound host=127.0.0.7 port=$((CPORT + 1)) priority=2
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import carrier +14155550100
t_rpc byoc.did_bind +14155550100 a1
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT

# --- TCP and TLS from the carrier -------------------------------------------
rc=$(t_uac tcp 127.0.0.2 uac_call.xml +14155550100 -t t1 -d 200)
assert_eq 0 "$rc" "a carrier call over TCP completes"
tls_send() { # tls-option file -> what came back
	timeout 4 openssl s_client -connect "$BYOC_SIP_IP:$BYOC_TLS_PORT" -bind 127.0.0.2:0 \
		"$1" -quiet -ign_eof <"$2" 2>&1 || true
}
printf 'OPTIONS sip:%s:%s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.2:5061;branch=z9hG4bK-tls-1\r\nFrom: <sip:probe@127.0.0.2>;tag=t1\r\nTo: <sip:%s>\r\nCall-ID: tls-opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
	"$BYOC_SIP_IP" "$BYOC_TLS_PORT" "$BYOC_SIP_IP" >"$BYOC_RUN/tls-options.txt"
out=$(tls_send -tls1_2 "$BYOC_RUN/tls-options.txt")
assert_match 'SIP/2.0 200 OK' "$out" "SIP over TLS 1.2 from the carrier is answered"
printf 'INVITE sip:+14155550100@%s:%s;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.2:5061;branch=z9hG4bK-tls-2\r\nFrom: <sip:+15550001111@127.0.0.2>;tag=t2\r\nTo: <sip:+14155550100@%s>\r\nCall-ID: tls-inv-1\r\nCSeq: 1 INVITE\r\nContact: <sip:carrier@127.0.0.2:5061;transport=tls>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
	"$BYOC_SIP_IP" "$BYOC_TLS_PORT" "$BYOC_SIP_IP" >"$BYOC_RUN/tls-invite.txt"
out=$(tls_send -tls1_2 "$BYOC_RUN/tls-invite.txt")
assert_match 'SIP/2.0 200 OK' "$out" "an INVITE over TLS reaches the worker and its 200 comes back over TLS"
assert_match 'Call-ID: tls-inv-1' "$(t_msgs worker)" "the worker got the TLS carrier's INVITE"
out=$(timeout 4 openssl s_client -connect "$BYOC_SIP_IP:$BYOC_TLS_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1 || true)
assert_match 'alert protocol version|Cipher is \(NONE\)' "$out" "TLS 1.1 is refused by the edge"

# --- scanners and floods ---------------------------------------------------
rc=$(t_uac scan 127.0.0.9 uac_options.xml x -key ua friendly-scanner -timeout 3)
assert_nomatch '^SIP/2.0 [0-9]' "$(t_msgs scan)" "a scanner user agent gets no answer at all"
t_uac flood 127.0.0.9 uac_options.xml x -key ua flooder -m 300 -r 150 -l 300 -timeout 6 >/dev/null
answered=$(grep -c '^SIP/2.0 200' "$BYOC_LOG_DIR/flood.msg" || true)
assert_le "$answered" 60 "a flood of 300 OPTIONS in 2 s from a non-carrier is throttled (answered)"
rc=$(t_uac during 127.0.0.2 uac_call.xml +14155550100 -d 100)
assert_eq 0 "$rc" "the carrier keeps calling during the flood (never banned)"
t_uac flood2 127.0.0.2 uac_options.xml x -key ua carrier-sim -m 100 -r 100 -l 100 -timeout 6 >/dev/null
assert_eq 100 "$(grep -c '^SIP/2.0 200' "$BYOC_LOG_DIR/flood2.msg" || true)" "the carrier's own burst is not throttled"

# --- REFER from the worker toward the carrier, NOTIFY back -------------------
t_stop_uas worker
t_uas wrefer 127.0.1.1 $WPORT uas_refer.xml
rc=$(t_uac refer 127.0.0.2 uac_refer.xml +14155550100)
assert_eq 0 "$rc" "blind transfer: REFER relayed to the carrier, 202 and NOTIFY back"
assert_match 'Refer-To: <sip:\+14155550999@' "$(t_msgs refer)" "the carrier got the REFER with its target"
assert_match 'SIP/2.0 200 OK' "$(sed -n '/NOTIFY sip/,/^---/p' "$BYOC_LOG_DIR/wrefer.msg")" "the worker got the NOTIFY sipfrag"

# --- trunk health: OPTIONS with hysteresis, shared in Redis -------------------
t_uas opt 127.0.0.6 $CPORT uas_options.xml
p=$(rpc byoc.probe health)
assert_match 'code: 200' "$p" "byoc.probe: the trunk answers 200"
assert_match 'rtt_ms: [0-9]+' "$p" "byoc.probe reports the round trip"
sleep 2
assert_eq up "$(rcli HGET 'byoc:v1:{t:health}:health' state)" "periodic probes keep the trunk up"
t_stop_uas opt
n=0
until [ "$(rcli SISMEMBER byoc:v1:trunks_down health)" = 1 ] || [ $n -ge 150 ]; do sleep 0.1; n=$((n + 1)); done
assert_eq 1 "$(rcli SISMEMBER byoc:v1:trunks_down health)" "two failed probes mark the trunk down (Redis)"
assert_eq 0 "$(rcli SISMEMBER byoc:v1:trunks_down backup)" "the answering backup trunk stays up"
sleep 1.2 # proxies refresh the down set every second
assert_match 'health: down' "$(rpc byoc.trunk_get health)" "trunk_get shows it down"
t_uac o1 127.0.1.1 uac_worker_out.xml +14155550123 -key agent a1 -key secret "$BYOC_WORKER_SECRET" \
	-key cid +14155550100 -d 100 >/dev/null
assert_match '^SIP/2.0 200' "$(t_msgs o1)" "outbound call skips the down trunk and uses the backup"
assert_eq 1 "$(grep -c '^INVITE sip:' "$BYOC_LOG_DIR/bk.msg" || true)" "the backup trunk took it"
t_uas opt2 127.0.0.6 $CPORT uas_options.xml
n=0
until [ "$(rcli SISMEMBER byoc:v1:trunks_down health)" = 0 ] || [ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
assert_eq 0 "$(rcli SISMEMBER byoc:v1:trunks_down health)" "two good probes bring it back up"

# --- Prometheus ----------------------------------------------------------------
mt=$(curl -s -m 5 "http://$BYOC_ADMIN_IP:$BYOC_ADMIN_PORT/metrics")
assert_match 'byoc_calls_total\{trunk="carrier", direction="inbound", outcome="ok"\} [1-9]' "$mt" "per-trunk counter of admitted calls"
assert_match 'kamailio_dialog_active_dialogs' "$mt" "stock Kamailio statistics exported too"
t_done
