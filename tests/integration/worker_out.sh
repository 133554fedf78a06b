#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Outbound calls from jobs, end to end through the real edge: a job in
# the Redis stream is taken by a media worker, dialled through the edge
# (byoc_route: trunk selection, failover) to sipp carriers, bridged to
# the reference AI agent when answered, and its outcome and call record
# written to Redis: answered (AI heard the callee), busy, no answer (ring
# timeout -> CANCEL), failover seen as one call, max_duration, and a
# worker killed mid-job: the job is reclaimed, closed as lost and not
# dialled twice; a job claimed but never dialled is dialled by the next.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"
. "$BYOC_ROOT/scripts/fullstack.sh"
fullstack_vars
trap 'fullstack_down >/dev/null 2>&1 || true; t_cleanup' EXIT

export BYOC_PROBE_INTERVAL=3600 # sipp carriers do not answer probes
t_stack_up
fullstack_audio "$BYOC_RUN/audio"
fullstack_agent "$BYOC_RUN/agent" "$FS_AGENT_PORT"
PA=$((BYOC_PORT_BASE + 70))
PB=$((BYOC_PORT_BASE + 71))
t_rpc byoc.trunk_set ca tenant=acme direction=outbound host=127.0.0.2 port=$PA priority=1
t_rpc byoc.trunk_set cb tenant=acme direction=outbound host=127.0.0.3 port=$PB priority=2
t_rpc byoc.agent_set a1 tenant=acme ws_url="ws://127.0.0.1:$FS_AGENT_PORT/stream" params='{"language":"en"}'
t_rpc byoc.did_import ca +14155550100
t_wait_config

# a worker that takes jobs: outbound INVITEs go to the edge with the secret
worker() { # id index
	fullstack_worker "$1" 127.0.1.1 "$2" --edge "$BYOC_SIP_IP:$BYOC_SIP_PORT" \
		--worker-secret "$BYOC_WORKER_SECRET" --job-reclaim 4 --log-level debug
}
job_add() { rcli XADD byoc:v1:jobs '*' "$@"; }
job() { rcli HGET "byoc:v1:job:$1" "$2"; }
job_wait() { # id [tenths]: until the job is done
	local i=${2:-300}
	while [ "$i" -gt 0 ]; do
		[ "$(job "$1" state)" = done ] && return 0
		sleep 0.1
		i=$((i - 1))
	done
	return 1
}
# the first entry of a stream with field=value, as "field=value" lines
entry() { # stream field value
	rcli --json XRANGE "$1" - + | python3 -c '
import json, sys
for _id, kv in json.load(sys.stdin):
    d = dict(zip(kv[0::2], kv[1::2]))
    if d.get(sys.argv[1]) == sys.argv[2]:
        for k, v in d.items(): print("%s=%s" % (k, v))
        break' "$2" "$3"
}
# entries of a stream with field=value (and field2=value2)
count() { # stream field value [field2 value2]
	rcli --json XRANGE "$1" - + | python3 -c '
import json, sys
a = [x for x in sys.argv[1:] if x != ""]
n = 0
for _id, kv in json.load(sys.stdin):
    d = dict(zip(kv[0::2], kv[1::2]))
    if all(d.get(a[i]) == a[i + 1] for i in range(0, len(a), 2)): n += 1
print(n)' "$2" "$3" "${4:-}" "${5:-}"
}
field() { sed -n "s/^$1=//p" <<<"$2"; }
stop_worker() { # id: SIGTERM, then until it is gone
	kill -TERM "$(cat "$BYOC_RUN/worker-$1.pid")"
	wait_for 100 sh -c "! kill -0 $(cat "$BYOC_RUN/worker-$1.pid") 2>/dev/null" || fail "$1 did not exit"
}
# a job claimed by a worker ("ghost") that stopped before dialling, after
# 'attempts' claims; prints its id (no worker may be running)
ghost_job() { # to attempts
	local id
	id=$(job_add agent a1 to "$1" from +14155550100)
	rcli XREADGROUP GROUP workers ghost COUNT 1 STREAMS byoc:v1:jobs '>' >/dev/null
	rcli HSET "byoc:v1:job:$id" state claimed worker ghost attempts "$2" >/dev/null
	echo "$id"
}
invites() { # sipp name: INVITEs it received
	local n
	n=$(grep -c '^INVITE sip:' "$BYOC_LOG_DIR/$1.msg" 2>/dev/null || true)
	echo "${n:-0}"
}

worker ow1 0
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: ow1'" || fail "worker ow1 not registered"

# --- 1. answered: the callee talks, the AI hears it; the callee hangs up ----
t_uas ca1 127.0.0.2 $PA uas_callee_media.xml -mi 127.0.0.2 -mp $((BYOC_RTP_MIN + 900))
id=$(job_add agent a1 to +14155550123 from +14155550100 params '{"crm":"42"}' ring_timeout 20)
job_wait "$id" 300 || fail "job 1 not done in 30 s"
assert_eq answered "$(job "$id" outcome)" "job 1: outcome answered"
assert_eq 200 "$(job "$id" sip_code)" "job 1: SIP 200"
assert_eq remote "$(job "$id" hangup_by)" "job 1: the callee hung up"
assert_eq 1 "$(job "$id" attempts)" "job 1: one attempt"
cid=$(job "$id" call_id)
assert_match '^[0-9a-f]{32}$' "$cid" "the worker's Call-ID is random hex (no address in it)"
assert_eq 1 "$(invites ca1)" "the carrier got one INVITE"
m=$(t_msgs ca1)
assert_match 'INVITE sip:\+14155550123@127.0.0.2' "$m" "the carrier was asked for the destination"
assert_match 'From: <sip:\+14155550100@' "$m" "with the job's caller ID"
assert_nomatch 'X-Byoc' "$m" "no X-Byoc-* header (agent, secret, job) reached the carrier"
r=$(entry byoc:v1:records call_id "$cid")
assert_eq outbound "$(field direction "$r")" "record: direction"
assert_eq answered "$(field outcome "$r")" "record: outcome"
assert_eq a1 "$(field agent "$r")" "record: agent"
assert_eq acme "$(field tenant "$r")" "record: tenant"
assert_eq "$id" "$(field job "$r")" "record: job id"
assert_eq remote_bye "$(field end_cause "$r")" "record: end cause"
assert_eq ca "$(field trunk "$r")" "record: the trunk the edge chose"
rx=$(field rtp_rx "$r")
[ "${rx:-0}" -gt 100 ] && pass "record: $rx RTP packets from the callee" || fail "record: rtp_rx=$rx"
ac=$(field ai_connect_ms "$r")
[ "${ac:--1}" -ge 0 ] && pass "record: AI connected in $ac ms" || fail "record: ai_connect_ms=$ac"
fa=$(field ai_first_audio_ms "$r")
[ "${fa:--1}" -ge 0 ] && pass "record: first AI audio $fa ms after connect" || fail "record: ai_first_audio_ms=$fa"
ia=$(field invite_at "$r")
aa=$(field answer_at "$r")
ea=$(field end_at "$r")
[ "$ia" -gt 0 ] && [ "$aa" -ge "$ia" ] && [ "$ea" -gt "$aa" ] && pass "record: invite <= answer < end" ||
	fail "record times: $ia $aa $ea"
for e in call.invite call.ringing call.answered call.ai_connected call.ended; do
	assert_eq 1 "$(count byoc:v1:events call_id "$cid" event "$e")" "event $e"
done
assert_eq 1 "$(count byoc:v1:events job "$id" event job.done)" "event job.done"
ev=$(grep -l "\"job\":\"$id\"" "$BYOC_RUN"/agent/*.jsonl 2>/dev/null | head -1 || true)
if [ -n "$ev" ]; then
	st=$(grep '"event":"start"' "$ev")
	assert_match '"direction":"outbound"' "$st" "AI start: direction outbound"
	assert_match '"to":"\+14155550123"' "$st" "AI start: the destination"
	assert_match '"crm":"42"' "$st" "AI start: the job's parameters"
	assert_match '"language":"en"' "$st" "AI start: the agent's parameters"
	cl=$(grep '"event":"closed"' "$ev" || true)
	n=$(sed -n 's/.*"media":\([0-9]*\).*/\1/p' <<<"$cl")
	[ "${n:-0}" -gt 100 ] && pass "the AI got $n media frames of the call" || fail "AI media frames: ${n:-none}"
	assert_match '"stop_received":true' "$cl" "the AI got stop when the callee hung up"
else
	fail "the AI agent saw no call for job $id"
fi
assert_eq 0 "$(rcli XLEN byoc:v1:jobs)" "the done job's entry left the stream"
assert_eq 0 "$(rcli XPENDING byoc:v1:jobs workers | head -1)" "nothing pending"
t_stop_uas ca1

# --- 2. busy ------------------------------------------------------------------
t_uas ca2 127.0.0.2 $PA uas_486.xml
t_uas cb2 127.0.0.3 $PB uas_worker.xml
id=$(job_add agent a1 to +14155550124 from +14155550100)
job_wait "$id" 200 || fail "job 2 not done"
assert_eq busy "$(job "$id" outcome)" "job 2: outcome busy"
assert_eq 486 "$(job "$id" sip_code)" "job 2: SIP 486"
assert_eq 0 "$(invites cb2)" "486 is final: the second trunk was not tried"
assert_eq busy "$(field outcome "$(entry byoc:v1:records job "$id")")" "job 2: record busy"
# closed by this worker's final write, not by a later reclaim as lost
assert_eq "" "$(job "$id" lost)" "job 2: closed by its worker, not reclaimed"
assert_match '^[a-z_]+$' "$(job "$id" end_cause)" "job 2: end cause in the job's hash"
assert_eq 0 "$(rcli XPENDING byoc:v1:jobs workers | head -1)" "job 2: acknowledged"
t_stop_uas ca2

# --- 3. no answer: the ring timeout cancels ---------------------------------
t_uas ca3 127.0.0.2 $PA uas_ring_cancel.xml
t0=$(date +%s)
id=$(job_add agent a1 to +14155550125 from +14155550100 ring_timeout 3)
job_wait "$id" 200 || fail "job 3 not done"
dt=$(($(date +%s) - t0))
assert_eq no_answer "$(job "$id" outcome)" "job 3: outcome no_answer"
assert_eq 487 "$(job "$id" sip_code)" "job 3: 487 after our CANCEL"
assert_eq "" "$(job "$id" lost)" "job 3: closed by its worker, not reclaimed"
assert_match '^CANCEL sip' "$(t_msgs ca3)" "the callee got the CANCEL"
[ "$dt" -ge 3 ] && [ "$dt" -le 8 ] && pass "cancelled after the 3 s ring timeout ($dt s)" || fail "ring timeout took $dt s"
t_stop_uas ca3

# --- 4. failover: one call for the worker; max_duration ends it --------------
t_uas ca4 127.0.0.2 $PA uas_503.xml
id=$(job_add agent a1 to +14155550126 from +14155550100 max_duration 3)
job_wait "$id" 300 || fail "job 4 not done"
assert_eq answered "$(job "$id" outcome)" "job 4: answered after the edge failed over"
assert_eq 1 "$(invites ca4)" "trunk ca tried once (503)"
assert_eq 1 "$(invites cb2)" "trunk cb took the call"
cid=$(job "$id" call_id)
assert_eq 1 "$(count byoc:v1:records job "$id")" "one record for the job"
assert_eq 1 "$(count byoc:v1:events job "$id" event call.invite)" "the worker sent one INVITE"
r=$(entry byoc:v1:records call_id "$cid")
assert_eq cb "$(field trunk "$r")" "record: trunk cb"
assert_eq max_duration "$(field end_cause "$r")" "record: ended by max_duration"
d=$(field duration_ms "$r")
[ "$d" -ge 2900 ] && [ "$d" -le 4500 ] && pass "max_duration 3 s held ($d ms)" || fail "duration $d ms"
t_stop_uas ca4
t_stop_uas cb2

# --- 5. a worker killed mid-job: reclaimed, not dialled twice ----------------
t_uas ca5 127.0.0.2 $PA uas_ring_cancel.xml
id=$(job_add agent a1 to +14155550127 from +14155550100 ring_timeout 60)
wait_for 100 sh -c "[ \"\$(grep -c '^INVITE sip:' '$BYOC_LOG_DIR/ca5.msg' 2>/dev/null)\" = 1 ]" || fail "job 5 not dialled"
assert_eq ow1 "$(job "$id" worker)" "job 5 taken by ow1"
assert_eq dialing "$(job "$id" state)" "job 5 recorded as dialing before the callee answered"
worker ow2 1
kill -9 "$(cat "$BYOC_RUN/worker-ow1.pid")"
job_wait "$id" 200 || fail "job 5 not closed after ow1 died"
assert_eq failed "$(job "$id" outcome)" "job 5: outcome failed (worker lost)"
assert_eq 1 "$(job "$id" lost)" "job 5: marked lost"
assert_eq ow2 "$(job "$id" reclaimed_by)" "job 5: reclaimed by ow2"
sleep 2
assert_eq 1 "$(invites ca5)" "job 5 was not dialled a second time"
assert_eq 1 "$(count byoc:v1:events job "$id" event job.lost)" "event job.lost"
t_stop_uas ca5

# --- 6. claimed by a worker that died before dialling: dialled by the next --
t_uas ca6 127.0.0.2 $PA uas_callee_media.xml -mi 127.0.0.2 -mp $((BYOC_RTP_MIN + 900))
stop_worker ow2
id=$(ghost_job +14155550128 1)
worker ow3 2
job_wait "$id" 300 || fail "job 6 not done"
assert_eq answered "$(job "$id" outcome)" "job 6: dialled and answered by the next worker"
assert_eq ow3 "$(job "$id" worker)" "job 6: by ow3"
assert_eq 2 "$(job "$id" attempts)" "job 6: second attempt"
assert_eq 1 "$(invites ca6)" "job 6 dialled once"

# --- 7. claimed 3 times, never dialled: abandoned, not claimed again ---------
t_stop_uas ca6
t_uas ca7 127.0.0.2 $PA uas_ring_cancel.xml
stop_worker ow3
id=$(ghost_job +14155550129 3)
worker ow4 3
job_wait "$id" 300 || fail "job 7 not closed"
assert_eq failed "$(job "$id" outcome)" "job 7: closed as failed"
assert_eq 1 "$(job "$id" lost)" "job 7: marked lost"
assert_match 'abandoned after 3 attempts' "$(job "$id" reason)" "job 7: the reason says why"
assert_eq 3 "$(job "$id" attempts)" "job 7: not claimed a fourth time"
assert_eq 1 "$(count byoc:v1:events job "$id" event job.abandoned)" "event job.abandoned"
assert_eq 0 "$(rcli XPENDING byoc:v1:jobs workers | head -1)" "job 7: acknowledged"
sleep 1
assert_eq 0 "$(invites ca7)" "job 7 was not dialled"
assert_match 'byoc_worker_jobs_total\{event="abandoned"\} 1' \
	"$(curl -s "http://127.0.0.1:$((FS_WORKER_ADMIN + 3))/metrics")" "metric: one job abandoned"
t_stop_uas ca7
t_done
