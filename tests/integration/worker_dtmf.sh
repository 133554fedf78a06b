#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# DTMF every way through a media worker, without the edge: Redis, the
# worker, the reference agent echoing every digit back (--dtmf-echo),
# sipp as the edge (X-Byoc-Dtmf per trunk mode, SIP INFO both ways) and
# a scripted RTP phone (rtp_phone.py: RFC 4733 events, a WAV as its
# microphone, what it hears recorded). Per mode:
#  rfc2833: all of 0-9*# as a fast sequence, a 1.8 s long press, a digit
#           signalled both as RFC 4733 and as INFO (reaches the AI once),
#           an INFO-only digit; the AI's digits come back as RFC 4733
#  info:    INFO digits reach the AI; the AI's digits go out as INFO
#  inband:  tones in the phone's PCMU with noise (spandsp dtmf_tx via
#           tests/tools/dtmftool) reach the AI; the AI's digits come back
#           as tones the phone's recording shows (spandsp dtmf_rx)
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

W_BIN="$BYOC_BUILD/services/media-worker/byoc-media-worker"
A_BIN="$BYOC_BUILD/services/media-worker/byoc-ref-agent"
DTMF="$BYOC_BUILD/tests/tools/dtmftool"
PHONE="$BYOC_ROOT/tests/integration/rtp_phone.py"
W_IP=127.0.1.1
W_ID="wd-$T_SLOT"
W_PORT=$((BYOC_PORT_BASE + 70))
W_ADMIN=$((BYOC_PORT_BASE + 71))
A_PORT=$((BYOC_PORT_BASE + 72))
P_PORT=$((BYOC_PORT_BASE + 73)) # the phone's RTP
S_PORT=$((BYOC_PORT_BASE + 74)) # sipp
SIPP_MP=$((BYOC_RTP_MIN + 900))
EV="$BYOC_RUN/events"

for b in "$W_BIN" "$A_BIN" "$DTMF"; do
	[ -x "$b" ] || {
		fail "$b is not built"
		t_done
	}
done

start_redis
mkdir -p "$EV"
# the agent echoes digits at once and the caller's audio only after 30 s
# (never, in these calls): what the phone hears is the AI's digits
"$A_BIN" --listen "127.0.0.1:$A_PORT" --dtmf-echo --echo-delay-ms 30000 \
	--events-dir "$EV" --log-level warn >"$BYOC_LOG_DIR/agent.log" 2>&1 &
T_PIDS+=("$!")
wait_for 50 bash -c "exec 3<>/dev/tcp/127.0.0.1/$A_PORT" || fail "agent did not start"
rcli HSET byoc:v1:agent:agent-dtmf ws_url "ws://127.0.0.1:$A_PORT/dtmf" >/dev/null

env BYOC_WORKER_ID="$W_ID" BYOC_WORKER_SIP="$W_IP:$W_PORT" \
	BYOC_WORKER_ADMIN="127.0.0.1:$W_ADMIN" BYOC_REDIS_URL="$BYOC_REDIS_URL" \
	BYOC_WORKER_RTP_PORTS="$BYOC_RTP_MIN-$((BYOC_RTP_MIN + 799))" \
	BYOC_WORKER_THREADS=2 BYOC_WORKER_HEARTBEAT=1 "$W_BIN" \
	>>"$BYOC_LOG_DIR/worker.log" 2>&1 &
T_PIDS+=("$!")
wait_for 50 curl -sf "http://127.0.0.1:$W_ADMIN/readyz" || fail "worker not ready"

metric() {
	curl -s "http://127.0.0.1:$W_ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
# digits the agent got in the last call, in order
agent_digits() {
	local f
	f=$(ls -t "$EV"/*.jsonl | head -1)
	grep -o '"event":"dtmf","digit":"[^"]*"' "$f" | cut -d'"' -f8 | tr -d '\n'
}

# One call: mode, phone options, the two INFO signals; the phone runs
# 10 s (sipp: -d 1000, INFO, 4 s quiet, INFO, 4 s quiet, BYE).
dtmf_call() { # name mode info1 info2 [phone options...]
	local name=$1 mode=$2 i1=$3 i2=$4 rc=0
	shift 4
	rm -f "$EV"/*.jsonl
	python3 "$PHONE" "$BYOC_LOG_DIR/$name.msg" "$P_PORT" 10 "$BYOC_RUN/$name.json" \
		--record "$BYOC_RUN/$name-heard.wav" "$@" &
	local pp=$!
	timeout 60 sipp "$W_IP:$W_PORT" -sf "$T_SIPP_DIR/worker_uac_dtmf.xml" \
		-i 127.0.0.1 -p "$S_PORT" -m 1 -mi 127.0.0.1 -mp "$SIPP_MP" -nostdin \
		-timeout 40 -timeout_error -key peerport "$P_PORT" -key agent agent-dtmf \
		-key dtmf "$mode" -key info1 "$i1" -key info2 "$i2" -d 1000 \
		-trace_msg -message_file "$BYOC_LOG_DIR/$name.msg" \
		-trace_logs -log_file "$BYOC_LOG_DIR/$name.log" \
		-trace_err -error_file "$BYOC_LOG_DIR/$name.err" \
		>"$BYOC_LOG_DIR/$name.out" 2>&1 || rc=$?
	wait "$pp" || true
	assert_eq 0 "$rc" "$name: the call completes (INFO answered, worker INFOs answered)"
	wait_for 30 sh -c "grep -qs '\"event\":\"closed\"' '$EV'/*.jsonl" || true
}
# what the phone got as RFC 4733 events, as a digit string
phone_events() {
	python3 -c 'import json,sys; print("".join(e["digit"] for e in json.load(open(sys.argv[1]))["events"]))' "$1"
}

# ---- rfc2833 -------------------------------------------------------------------
ev="" t=1500
for d in 0 1 2 3 4 5 6 7 8 9 '*' '#'; do
	ev+="$d@$t:60,"
	t=$((t + 100))
done
ev+="5@2700:1800,9@5000:100"
dtmf_call rfc2833 rfc2833 A 9 --events "$ev"
assert_eq "A0123456789*#59" "$(agent_digits)" \
	"rfc2833: every digit reached the AI once, in order (fast sequence, long press, INFO-only A, 9 sent both ways)"
assert_match 'DTMF 5 \(rfc4733, (17[6-9][0-9]|18[0-4][0-9]) ms\)' "$(cat "$BYOC_LOG_DIR/worker.log")" \
	"rfc2833: the long press is one digit of about 1.8 s"
assert_eq "A0123456789*#59" "$(phone_events "$BYOC_RUN/rfc2833.json")" \
	"rfc2833: the AI's digits came back to the phone as RFC 4733 events"
# the 9 counts for the way that came first (INFO or RFC 4733)
r=$(metric 'byoc_worker_dtmf_digits_total{source="rfc4733"}')
i=$(metric 'byoc_worker_dtmf_digits_total{source="info"}')
assert_eq "15 ok" "$((r + i)) $([ "$r" -ge 13 ] && [ "$i" -ge 1 ] && echo ok)" \
	"metric: 15 digits forwarded ($r RFC 4733, $i INFO)"
assert_eq 1 "$(metric 'byoc_worker_dtmf_duplicates_total')" "metric: the 9 signalled twice counted once as a duplicate"
assert_eq 15 "$(metric 'byoc_worker_dtmf_sent_total{method="rfc4733"}')" "metric: 15 digits sent as RFC 4733"
assert_nomatch 'info_rx=' "$(cat "$BYOC_LOG_DIR/rfc2833.log")" "rfc2833: the worker sent no INFO"

# ---- info ------------------------------------------------------------------------
dtmf_call info info 1 '#'
assert_eq "1#" "$(agent_digits)" "info: INFO digits reached the AI"
assert_eq "info_rx=1 info_rx=#" "$(grep -o 'info_rx=.' "$BYOC_LOG_DIR/info.log" | paste -sd' ')" \
	"info: the AI's digits went out as SIP INFO, in order"
assert_match 'Content-Type: application/dtmf-relay' "$(t_msgs info | sed -n '/^INFO sip:edge/,/^Signal/p')" \
	"info: the worker's INFO is application/dtmf-relay"
assert_eq "" "$(phone_events "$BYOC_RUN/info.json")" "info: no RFC 4733 toward the phone"
assert_eq 2 "$(metric 'byoc_worker_dtmf_sent_total{method="info"}')" "metric: 2 digits sent as INFO"

# ---- inband ------------------------------------------------------------------------
"$DTMF" gen "$BYOC_RUN/tones.wav" "0123456789*#" 70 70 1500 800 "7:2000"
assert_match '^digits 0123456789\*#7 ' "$("$DTMF" detect "$BYOC_RUN/tones.wav")" "inband: the phone's tones are what we think"
dtmf_call inband inband x x --play "$BYOC_RUN/tones.wav"
assert_eq "0123456789*#7" "$(agent_digits)" "inband: tones in PCMU with noise reached the AI as digits, once each"
assert_match 'DTMF 7 \(inband, (19[0-9][0-9]|20[0-9][0-9]) ms\)' "$(cat "$BYOC_LOG_DIR/worker.log")" \
	"inband: the long press is one digit of about 2 s"
assert_match '^digits 0123456789\*#7 ' "$("$DTMF" detect "$BYOC_RUN/inband-heard.wav")" \
	"inband: the AI's digits came back to the phone as tones"
assert_eq "" "$(phone_events "$BYOC_RUN/inband.json")" "inband: no RFC 4733 toward the phone"
assert_eq 13 "$(metric 'byoc_worker_dtmf_digits_total{source="inband"}')" "metric: 13 in-band digits"
assert_eq 13 "$(metric 'byoc_worker_dtmf_sent_total{method="inband"}')" "metric: 13 digits sent in-band"
assert_eq 0 "$(metric 'byoc_worker_active_calls')" "no call left active"
assert_nomatch 'AddressSanitizer|Segmentation|Aborted' "$(cat "$BYOC_LOG_DIR/worker.log")" "no crash in the worker log"
t_done
