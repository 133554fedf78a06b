#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A call's life beyond the conversation, end to end through the real
# edge with the reference agent: a blind transfer the AI asks for (REFER
# toward the carrier, which calls a second UAS with the context header,
# NOTIFY back, BYE, status reported to the AI); each AI failure policy
# (hangup, message, transfer) when the AI cannot be reached and when it
# drops mid-call; and SIGTERM draining: calls up lose nothing before the
# grace period, the rest get BYE, no new call or job is taken, and every
# call has its record.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"
. "$BYOC_ROOT/scripts/fullstack.sh"
fullstack_vars
trap 'fullstack_down >/dev/null 2>&1 || true; t_cleanup' EXIT

export BYOC_PROBE_INTERVAL=3600
t_stack_up
AUDIO="$BYOC_RUN/audio"
fullstack_audio "$AUDIO"
sox -n -r 8000 -c 1 -b 16 "$AUDIO/sorry.wav" synth 2 sine 440 2>/dev/null
PA=$FS_AGENT_PORT
XP=$((BYOC_PORT_BASE + 72))
fullstack_agent "$BYOC_RUN/xfer" "$PA" --mode transfer-after=2 \
	--transfer-target +14155550199 --transfer-header X-Ctx:abc-42
fullstack_agent "$BYOC_RUN/fail" $((PA + 10)) --mode fail-after=2
fullstack_agent "$BYOC_RUN/echo" $((PA + 11))
DEAD="ws://127.0.0.1:9/nobody"

t_rpc byoc.trunk_set phone tenant=demo cidrs=127.0.0.2/32 direction=inbound codecs=PCMU,PCMA max_calls=10
agent() { # id did ws_url [fields...]
	local id=$1 did=$2 url=$3
	shift 3
	t_rpc byoc.agent_set "$id" tenant=demo ws_url="$url" "$@"
	t_rpc byoc.did_import phone "$did"
	t_rpc byoc.did_bind "$did" "$id"
}
agent ag-xfer +14155550101 "ws://127.0.0.1:$PA/s"
agent ag-msg +14155550102 "$DEAD" failure_policy=message failure_target="$AUDIO/sorry.wav"
agent ag-tr +14155550103 "$DEAD" failure_policy=transfer failure_target=+14155550198
agent ag-hang +14155550104 "$DEAD"
agent ag-drop +14155550105 "ws://127.0.0.1:$((PA + 10))/s" failure_policy=message failure_target="$AUDIO/sorry.wav"
agent ag-echo +14155550106 "ws://127.0.0.1:$((PA + 11))/s"
agent ag-oom +14155550107 "ws://127.0.0.1:$((PA + 11))/s"
t_wait_config
fullstack_worker lw1 127.0.1.1 0 --drain-grace 6 --edge "$BYOC_SIP_IP:$BYOC_SIP_PORT" \
	--worker-secret "$BYOC_WORKER_SECRET"
WPID=$(cat "$BYOC_RUN/worker-lw1.pid")
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: lw1'" || fail "worker not registered"
t_uas xt 127.0.0.4 $XP uas_xfer_target.xml

# the call record of the n-th call to a DID, as "field=value" lines
record() { # did
	rcli --json XRANGE byoc:v1:records - + | python3 -c '
import json, sys
for _id, kv in json.load(sys.stdin):
    d = dict(zip(kv[0::2], kv[1::2]))
    if d.get("did") == sys.argv[1]:
        for k, v in d.items(): print("%s=%s" % (k, v))
        break' "$1"
}
field() { sed -n "s/^$1=//p" <<<"$2"; }
wait_record() { wait_for "${2:-100}" sh -c "redis-cli -p $BYOC_REDIS_PORT --json XRANGE byoc:v1:records - + | grep -q -- '\"$1\"'"; }
metrics() { curl -s "http://127.0.0.1:$FS_WORKER_ADMIN/metrics"; }

# --- 1. blind transfer asked for by the AI -----------------------------------
rc=$(t_uac xf 127.0.0.2 uac_xfer.xml +14155550101 -key xhost 127.0.0.4 -key xport $XP)
assert_eq 0 "$rc" "transfer: the carrier got REFER, called the target, NOTIFYed, got BYE"
m=$(t_msgs xf)
assert_match 'Refer-To: <sip:\+14155550199@[^>]*\?X-Ctx=abc-42>' "$m" "REFER: the target with the context header in the Refer-To URI"
assert_match 'X-Ctx: abc-42' "$(t_msgs xt)" "the transfer target got the context header"
wait_record +14155550101 || fail "no record for the transferred call"
r=$(record +14155550101)
assert_eq transferred "$(field end_cause "$r")" "record: ended by the transfer"
assert_eq transfer "$(field hangup_by "$r")" "record: hangup_by transfer"
assert_eq completed "$(field transfer_result "$r")" "record: transfer completed"
assert_eq 200 "$(field transfer_code "$r")" "record: the target's 200"
assert_eq +14155550199 "$(field transfer_target "$r")" "record: transfer target"
ev=$(cat "$BYOC_RUN"/xfer/*.jsonl 2>/dev/null || true)
assert_match '"event":"transfer_status","status":"accepted"' "$ev" "the AI heard: accepted"
assert_match '"event":"transfer_status","status":"completed","code":200' "$ev" "the AI heard: completed (200)"
assert_match '"stop_received":true' "$ev" "the AI got stop when the transfer ended our leg"
assert_match 'byoc_worker_transfers_total\{result="completed"\} 1' "$(metrics)" "metric: one completed transfer"

# --- 2. AI unreachable, policy message: answered, message played, BYE ---------
t0=$(date +%s%N)
rc=$(t_uac msg 127.0.0.2 uac_recv_bye.xml +14155550102)
dt=$((($(date +%s%N) - t0) / 1000000))
assert_eq 0 "$rc" "policy message: the caller is answered and gets BYE"
[ "$dt" -ge 1900 ] && [ "$dt" -le 6000 ] && pass "BYE after the 2 s message ($dt ms)" || fail "message call took $dt ms"
assert_match 'Reason: Q.850;cause=41' "$(t_msgs msg)" "BYE says why (cause 41)"
wait_record +14155550102 || fail "no record for the message call"
r=$(record +14155550102)
assert_eq message "$(field ai_failure_policy "$r")" "record: policy message"
assert_eq ai_failed "$(field end_cause "$r")" "record: end cause ai_failed"
assert_eq 200 "$(field sip_code "$r")" "record: answered"
tx=$(field rtp_tx "$r")
[ "${tx:-0}" -ge 90 ] && pass "record: the message went out ($tx RTP packets)" || fail "record: rtp_tx=$tx"

# --- 3. AI unreachable, policy transfer -----------------------------------------
rc=$(t_uac tr 127.0.0.2 uac_xfer.xml +14155550103 -key xhost 127.0.0.4 -key xport $XP)
assert_match 'Refer-To: <sip:\+14155550198@' "$(t_msgs tr)" "policy transfer: REFER to the fallback number"
assert_eq 0 "$rc" "policy transfer: transferred"
wait_record +14155550103 || fail "no record for the policy transfer"
r=$(record +14155550103)
assert_eq transfer "$(field ai_failure_policy "$r")" "record: policy transfer"
assert_eq transferred "$(field end_cause "$r")" "record: transferred"

# --- 4. AI unreachable, policy hangup (the default): refused ------------------
out=$(t_uac hang 127.0.0.2 uac_any.xml +14155550104)
assert_match 'SIP/2.0 5[0-9][0-9]' "$(t_msgs hang)" "policy hangup: the caller is refused (5xx through the edge)"
assert_nomatch 'SIP/2.0 200' "$(t_msgs hang)" "policy hangup: not answered"
wait_record +14155550104 || fail "no record for the refused call"
r=$(record +14155550104)
assert_eq hangup "$(field ai_failure_policy "$r")" "record: policy hangup"
assert_eq refused "$(field outcome "$r")" "record: refused"
assert_eq 503 "$(field sip_code "$r")" "record: 503"

# --- 5. the AI drops mid-call (close 1011), policy message -------------------
t0=$(date +%s%N)
rc=$(t_uac drop 127.0.0.2 uac_recv_bye.xml +14155550105)
dt=$((($(date +%s%N) - t0) / 1000000))
assert_eq 0 "$rc" "AI dropped: the caller hears the message, then BYE"
[ "$dt" -ge 3900 ] && [ "$dt" -le 9000 ] && pass "BYE after 2 s of AI + 2 s of message ($dt ms)" || fail "drop call took $dt ms"
wait_record +14155550105 || fail "no record for the dropped call"
r=$(record +14155550105)
assert_eq message "$(field ai_failure_policy "$r")" "record: policy message after the drop"
assert_eq 1011 "$(field ai_close_code "$r")" "record: the AI's close code"
assert_match 'byoc_worker_ai_failures_total\{policy="message"\} 2' "$(metrics)" "metric: two message policies"

# --- 5b. Redis refuses writes for a while (OOM) as the call ends: the record
# waits in the worker and is written once Redis takes writes again
(t_uac oom 127.0.0.2 uac_call.xml +14155550107 -d 1500 >"$BYOC_RUN/oom.rc") &
POOM=$!
wait_for 50 sh -c "curl -s http://127.0.0.1:$FS_WORKER_ADMIN/metrics | grep -q '^byoc_worker_active_calls 1'" ||
	fail "the OOM-test call is not up"
rcli CONFIG SET maxmemory 1 >/dev/null
wait "$POOM" || true
assert_eq 0 "$(cat "$BYOC_RUN/oom.rc")" "Redis OOM: the call itself completes"
sleep 1.5
assert_eq "" "$(record +14155550107)" "Redis OOM: no record written meanwhile"
rcli CONFIG SET maxmemory 0 >/dev/null
wait_record +14155550107 50 && pass "Redis takes writes again: the deferred record is written" ||
	fail "the record was lost during the OOM"
assert_eq remote_bye "$(field end_cause "$(record +14155550107)")" "deferred record: ended by the caller"

# --- 6. SIGTERM with calls up --------------------------------------------------
(t_uac da 127.0.0.2 uac_call.xml +14155550106 -d 3000 >"$BYOC_RUN/da.rc") &
PDA=$!
sleep 0.5 # t_uac's port counter is not shared between subshells at once
(t_uac db 127.0.0.2 uac_recv_bye.xml +14155550106 >"$BYOC_RUN/db.rc") &
PDB=$!
wait_for 50 sh -c "curl -s http://127.0.0.1:$FS_WORKER_ADMIN/metrics | grep -q '^byoc_worker_active_calls 2'" ||
	fail "two calls not up"
t_sig=$(date +%s%N)
kill -TERM "$WPID"
wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$FS_WORKER_ADMIN/readyz)\" = 503 ]" &&
	pass "draining: /readyz 503" || fail "/readyz not 503 while draining"
wait_for 20 sh -c "[ \"\$(redis-cli -p $BYOC_REDIS_PORT HGET byoc:v1:worker:lw1 draining)\" = 1 ]" || true
assert_eq 1 "$(rcli HGET byoc:v1:worker:lw1 draining)" "draining: registry says draining=1"
id=$(rcli XADD byoc:v1:jobs '*' agent ag-echo to +14155550177)
out=$(t_uac late 127.0.0.2 uac_any.xml +14155550106)
assert_nomatch 'SIP/2.0 200' "$(t_msgs late)" "draining: a new call is not taken"
wait "$PDA" "$PDB"
assert_eq 0 "$(cat "$BYOC_RUN/da.rc")" "call A (caller hangs up at 3 s, before the grace) completed normally"
assert_eq 0 "$(cat "$BYOC_RUN/db.rc")" "call B got BYE at the end of the grace"
assert_match 'Reason: Q.850;cause=41;text="worker shutting down"' "$(t_msgs db)" "call B: BYE with cause 41"
wait_for 100 sh -c "! kill -0 $WPID 2>/dev/null" || fail "the worker did not exit"
dt=$((($(date +%s%N) - t_sig) / 1000000))
[ "$dt" -ge 5500 ] && pass "the worker waited for the 6 s grace ($dt ms)" || fail "exited after $dt ms"
wait "$WPID" 2>/dev/null && pass "the worker exited 0" || fail "worker exit status $?"
assert_eq 0 "$(rcli EXISTS byoc:v1:worker:lw1)" "deregistered"
assert_eq "" "$(rcli HGET "byoc:v1:job:$id" state)" "the job added while draining was not claimed"
assert_eq 1 "$(rcli XLEN byoc:v1:jobs)" "it waits in the stream for another worker (reclaimable if it was read)"
n=$(rcli --json XRANGE byoc:v1:records - + | python3 -c '
import json, sys
c = {}
for _id, kv in json.load(sys.stdin):
    d = dict(zip(kv[0::2], kv[1::2]))
    if d.get("did") == "+14155550106" and d.get("outcome") == "answered":
        c[d["end_cause"]] = c.get(d["end_cause"], 0) + 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))')
assert_eq "remote_bye=1 shutdown=1" "$n" "records: A ended by the caller, B by the shutdown"
t_done
