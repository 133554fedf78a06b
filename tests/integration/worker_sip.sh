#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The media worker end to end, without the edge: Redis, the worker, a
# scripted AI backend stub and sipp playing the edge. Audio both ways and
# DTMF (RTP and INFO), customParameters and the decrypted auth token,
# late offer, hold/resume/UPDATE/INFO/OPTIONS, AI hangup and close, every
# refusal with its cause, CANCEL, TCP, the torture corpus on the live
# socket, registry fields, metrics, capacity, RTP timeout, and draining.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

W_BIN="$BYOC_BUILD/services/media-worker/byoc-media-worker"
H="$BYOC_ROOT/tests/integration/worker_helpers.py"
W_IP=127.0.1.1
W_ID="wt-$T_SLOT"
W_PORT=$((BYOC_PORT_BASE + 70))
W_ADMIN=$((BYOC_PORT_BASE + 71))
A_PORT=$((BYOC_PORT_BASE + 72))
P_PORT=$((BYOC_PORT_BASE + 73)) # the caller's RTP (worker_helpers.py rtp)
S_PORT=$((BYOC_PORT_BASE + 74)) # sipp
DOWN_PORT=$((BYOC_PORT_BASE + 75)) # nothing listens here
SIPP_MP=$((BYOC_RTP_MIN + 900))
ALOG="$BYOC_LOG_DIR/agent.jsonl"
KEY="$BYOC_RUN/secret.key"

[ -x "$W_BIN" ] || {
	fail "$W_BIN is not built"
	t_done
}

start_redis
(umask 077 && openssl rand -hex 32 >"$KEY")
python3 "$H" agent "$A_PORT" "$ALOG" >"$BYOC_LOG_DIR/agent.out" 2>&1 &
echo $! >"$BYOC_RUN/agent.pid"
wait_for 50 bash -c "exec 3<>/dev/tcp/127.0.0.1/$A_PORT" || fail "agent stub did not start"

w_start() { # extra VAR=value...
	env BYOC_WORKER_ID="$W_ID" BYOC_WORKER_SIP="$W_IP:$W_PORT" \
		BYOC_WORKER_ADMIN="127.0.0.1:$W_ADMIN" BYOC_REDIS_URL="$BYOC_REDIS_URL" \
		BYOC_WORKER_RTP_PORTS="$BYOC_RTP_MIN-$((BYOC_RTP_MIN + 799))" \
		BYOC_WORKER_THREADS=2 BYOC_SECRET_KEY_FILE="$KEY" BYOC_WORKER_HEARTBEAT=1 \
		BYOC_WORKER_AI_TIMEOUT=1500 "$@" \
		"$W_BIN" >>"$BYOC_LOG_DIR/worker.log" 2>&1 &
	echo $! >"$BYOC_RUN/worker.pid"
	wait_for 50 curl -sf "http://127.0.0.1:$W_ADMIN/readyz" || fail "worker not ready"
}
w_stop() {
	local pid
	pid=$(cat "$BYOC_RUN/worker.pid")
	kill -INT "$pid" 2>/dev/null || true
	wait_for 100 bash -c "! kill -0 $pid" || fail "worker did not exit on SIGINT"
}
# sipp as the edge: w_sipp name scenario [sipp args...]; prints the rc
w_sipp() {
	local name=$1 sf=$2 rc=0
	shift 2
	timeout 60 sipp "$W_IP:$W_PORT" -sf "$sf" -i 127.0.0.1 -p "$S_PORT" -m 1 \
		-mi 127.0.0.1 -mp "$SIPP_MP" -nostdin -timeout 40 -timeout_error \
		-key peerport "$P_PORT" -trace_msg -message_file "$BYOC_LOG_DIR/$name.msg" \
		-trace_logs -log_file "$BYOC_LOG_DIR/$name.log" \
		-trace_err -error_file "$BYOC_LOG_DIR/$name.err" "$@" \
		>"$BYOC_LOG_DIR/$name.out" 2>&1 || rc=$?
	echo "$rc"
}
slog() { cat "$BYOC_LOG_DIR/$1.log" 2>/dev/null || true; }
refused_sf() { # code
	sed "s/CODE/$1/" "$T_SIPP_DIR/worker_uac_refused.xml" >"$BYOC_RUN/refused_$1.xml"
	echo "$BYOC_RUN/refused_$1.xml"
}
metric() { # name{labels} -> value
	curl -s "http://127.0.0.1:$W_ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
agent_lines() { grep -F -- "$1" "$ALOG" 2>/dev/null || true; }

rcli HSET byoc:v1:agent:agent-echo ws_url "ws://127.0.0.1:$A_PORT/echo" tenant acme \
	params '{"campaign":"spring","trunk":"not-this-one"}' \
	auth_token_enc "$(python3 "$H" encrypt "$KEY" agent:agent-echo tok-123)" >/dev/null
for m in hangup close silent slow; do
	rcli HSET "byoc:v1:agent:agent-$m" ws_url "ws://127.0.0.1:$A_PORT/$m" >/dev/null
done
rcli HSET byoc:v1:agent:agent-down ws_url "ws://127.0.0.1:$DOWN_PORT/x" >/dev/null
rcli HSET byoc:v1:agent:agent-off ws_url "ws://127.0.0.1:$A_PORT/echo" enabled 0 >/dev/null
rcli HSET byoc:v1:agent:agent-badkey ws_url "ws://127.0.0.1:$A_PORT/echo" \
	auth_token_enc "$(python3 "$H" encrypt "$KEY" agent:someone-else tok)" >/dev/null

w_start

# ---- registry -----------------------------------------------------------
reg=$(rcli HGETALL "byoc:v1:worker:$W_ID" | paste -sd' ')
assert_eq "addr $W_IP port $W_PORT transport udp capacity 500 active 0 draining 0 wideband 1" \
	"$reg" "registry hash has exactly the fields the edge reads"
ttl=$(rcli TTL "byoc:v1:worker:$W_ID")
assert_le "$ttl" 3 "registry TTL is 3 heartbeats"
assert_match "^$W_ID\$" "$(rcli SMEMBERS byoc:v1:workers)" "worker id in byoc:v1:workers"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$W_ADMIN/healthz")" "/healthz 200"

# ---- a call: audio both ways, DTMF, parameters, token ---------------------
rm -f "$BYOC_RUN/rtp.json"
rc=$(
	python3 "$H" rtp "$BYOC_LOG_DIR/call.msg" "$P_PORT" "$BYOC_RUN/rtp.json" &
	w_sipp call "$T_SIPP_DIR/worker_uac_call.xml" -key agent agent-echo -d 4000
	wait
)
assert_eq 0 "$rc" "call with an SDP offer completes"
rtp=$(cat "$BYOC_RUN/rtp.json" 2>/dev/null || echo '{}')
assert_match '"pts": \[8\]' "$rtp" "worker answered PCMA, the first offered codec"
loud=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("loud", 0))' "$BYOC_RUN/rtp.json" 2>/dev/null || echo 0)
assert_le 25 "$loud" "AI audio (greeting and echo) reaches the caller over RTP"
assert_match 'm=audio [0-9]+ RTP/AVP 8 101' "$(t_msgs call)" "answer keeps the offerer's telephone-event type"
assert_match 'SIP/2.0 100 Trying' "$(t_msgs call)" "100 Trying"
assert_match 'SIP/2.0 180 Ringing' "$(t_msgs call)" "180 Ringing while the AI connects"
assert_match 'Contact: <sip:'"$W_ID@$W_IP:$W_PORT"'>' "$(t_msgs call)" "Contact is the advertised address"
assert_match 'Record-Route: <sip:127.0.0.1:'"$S_PORT"';transport=UDP;lr;r2=on>' \
	"$(t_msgs call | sed -n '/^SIP\/2.0 200/,/^$/p')" "200 OK mirrors Record-Route"
start=$(agent_lines '"ev": "start"' | grep -F '"agent": "agent-echo"' | tail -1)
assert_match '"trunk": "carrier-a"' "$start" "customParameters: trunk"
assert_match '"did": "\+14155550100"' "$start" "customParameters: did"
assert_match '"from": "\+15550001111"' "$start" "customParameters: from"
assert_match '"caller": "Alice Caller"' "$start" "customParameters: caller"
assert_match '"direction": "inbound"' "$start" "customParameters: direction"
assert_match '"tenant": "acme"' "$start" "customParameters: tenant"
assert_match '"x-carrier-ref": "ref-1"' "$start" "customParameters: every X- header"
assert_match '"x-byoc-dtmf": "rfc2833"' "$start" "customParameters: X-Byoc-Dtmf"
assert_match '"campaign": "spring"' "$start" "customParameters: the agent's params"
assert_nomatch 'not-this-one' "$start" "agent params do not override call facts"
assert_match '"Bearer tok-123"' "$(agent_lines '"ev": "upgrade", "path": "/echo"' | tail -1)" \
	"decrypted auth token sent on the upgrade"
assert_match '"digit": "7"' "$(agent_lines '"ev": "dtmf"')" "RFC 4733 digit reaches the AI once"
assert_eq 1 "$(agent_lines '"digit": "7"' | wc -l)" "one dtmf event per key press"
close=$(agent_lines '"ev": "close"' | tail -1)
assert_match '"code": 1000' "$close" "caller BYE: stop, then close 1000"
assert_match '"order": \["connected", "start"' "$close" "connected then start first"
assert_match '"ev": "stop"' "$(cat "$ALOG")" "stop sent"
cl_loud=$(printf '%s' "$close" | sed -n 's/.*"loud": \([0-9]*\).*/\1/p')
assert_le 50 "${cl_loud:-0}" "the caller's audio reaches the AI"

# ---- late offer, in-dialog requests -------------------------------------
assert_eq 0 "$(w_sipp late "$T_SIPP_DIR/worker_uac_late.xml" -key agent agent-echo -d 1000)" "late offer call"
assert_match 'offer=m=audio [0-9]+ RTP/AVP 0 8 9 111 101 102' "$(slog late)" "late offer: the worker offers in the 200 (G.711 first, then G.722 and opus)"
assert_eq 0 "$(w_sipp dialog "$T_SIPP_DIR/worker_uac_dialog.xml" -key agent agent-echo)" "in-dialog requests"
d=$(slog dialog)
assert_match 'hold=a=recvonly' "$d" "hold (sendonly) answered recvonly"
assert_match 'resume=a=sendrecv' "$d" "resume answered sendrecv"
assert_match 'allow=Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE' "$d" "OPTIONS in dialog"
assert_match 'reoffer=m=audio [0-9]+ RTP/AVP 0 8 9 111 101 102' "$d" "re-INVITE without SDP: worker offers"
assert_match 'inactive=a=inactive' "$d" "UPDATE to inactive"
assert_match '"digit": "5"' "$(agent_lines '"ev": "dtmf"')" "SIP INFO digit reaches the AI"
vers=$(t_msgs dialog | sed -n 's/^o=byoc [0-9]* \([0-9]*\) .*/\1/p' | paste -sd' ')
assert_eq 5 "$(printf '%s\n' $vers | sort -u | wc -l)" "session version increments with each change ($vers)"

# ---- the worker hangs up ---------------------------------------------------
assert_eq 0 "$(w_sipp hup "$T_SIPP_DIR/worker_uac_hangup.xml" -key agent agent-hangup)" "AI hangup call"
assert_match 'bye Reason: Q.850;cause=16;text="goodbye"' "$(slog hup)" "AI hangup: BYE with the AI's reason"
assert_eq 0 "$(w_sipp aiclose "$T_SIPP_DIR/worker_uac_hangup.xml" -key agent agent-close)" "AI close call"
assert_match 'text="AI backend closed"' "$(slog aiclose)" "AI socket closed: BYE 'AI backend closed'"
assert_eq 0 "$(w_sipp tcp "$T_SIPP_DIR/worker_uac_hangup.xml" -t t1 -key agent agent-hangup)" "TCP call, BYE from the worker"
assert_match 'BYE sip:edge@127.0.0.1:'"$S_PORT"';transport=TCP SIP/2.0' "$(t_msgs tcp)" "BYE to the remote target"
assert_match 'Route: <sip:127.0.0.1:'"$S_PORT"';transport=TCP;lr;r2=on>' "$(t_msgs tcp)" "BYE carries the route set"
assert_match "Via: SIP/2.0/TCP $W_IP:$W_PORT;" "$(t_msgs tcp)" "BYE over TCP"

# ---- refusals ----------------------------------------------------------------
assert_eq 0 "$(w_sipp down "$(refused_sf 503)" -key agent agent-down)" "AI unreachable"
assert_match 'refused Reason: Q.850;cause=41;text="AI backend unavailable"' "$(slog down)" "AI unreachable: 503 + Reason"
assert_eq 0 "$(w_sipp slow "$(refused_sf 503)" -key agent agent-slow)" "AI upgrade timeout"
assert_eq 0 "$(w_sipp nope "$(refused_sf 404)" -key agent agent-nope)" "unknown agent: 404"
assert_eq 0 "$(w_sipp off "$(refused_sf 480)" -key agent agent-off)" "disabled agent: 480"
assert_eq 0 "$(w_sipp badkey "$(refused_sf 480)" -key agent agent-badkey)" "token of another record: 480"
assert_eq 0 "$(w_sipp noagent "$(refused_sf 480)" -key agent '')" "no X-Byoc-Agent, no default URL: 480"
assert_eq 0 "$(w_sipp cancel "$T_SIPP_DIR/worker_uac_cancel.xml" -key agent agent-slow)" "CANCEL while connecting: 200 + 487"

# ---- hostile input on the live socket ----------------------------------------
python3 "$H" torture "$W_IP" "$W_PORT" "$BYOC_ROOT/tests/corpus/sip-torture" \
	>"$BYOC_LOG_DIR/torture.txt" 2>"$BYOC_LOG_DIR/torture.err" || true
tt=$(cat "$BYOC_LOG_DIR/torture.txt")
assert_match 'udp rfc4475/badvers.dat 505 ' "$tt" "torture: bad version 505"
assert_match 'tcp rfc4475/insuf.dat 400 ' "$tt" "torture: missing headers 400 (TCP)"
assert_match 'udp rfc4475/unkscm.dat 416 ' "$tt" "torture: unknown scheme 416"
assert_match 'udp rfc4475/bext01.dat 420 ' "$tt" "torture: Require 420"
assert_match 'udp rfc4475/scalar02.dat 400 ' "$tt" "torture: overflowing CSeq 400"
assert_match 'udp rfc4475/bigcode.dat -' "$tt" "torture: bad response dropped"
assert_match 'udp rfc4475/lwsdisp.dat 200 ' "$tt" "torture: valid OPTIONS answered"
kill -0 "$(cat "$BYOC_RUN/worker.pid")" 2>/dev/null && pass "worker survives the torture corpus" ||
	fail "worker died on the torture corpus"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$W_ADMIN/readyz")" "still ready after the corpus"

# ---- metrics -------------------------------------------------------------------
assert_le 5 "$(metric 'byoc_worker_calls_total{outcome="answered"}')" "metric: answered calls"
assert_le 1 "$(metric 'byoc_worker_calls_total{outcome="ai_connect_failed"}')" "metric: AI connect failures"
assert_le 1 "$(metric 'byoc_worker_calls_total{outcome="cancelled"}')" "metric: cancelled"
assert_le 1 "$(metric 'byoc_worker_call_ends_total{cause="ai_hangup"}')" "metric: AI hangups"
assert_le 100 "$(metric 'byoc_worker_rtp_packets_total{dir="rx"}')" "metric: RTP received"
assert_le 100 "$(metric 'byoc_worker_rtp_packets_total{dir="tx"}')" "metric: RTP sent"
assert_le 1 "$(metric 'byoc_worker_dtmf_digits_total{source="rfc4733"}')" "metric: RFC 4733 digits"
assert_le 1 "$(metric 'byoc_worker_dtmf_digits_total{source="info"}')" "metric: INFO digits"
assert_le 1 "$(metric 'byoc_worker_ws_connect_seconds_count')" "metric: WebSocket connect latency"
assert_le 10 "$(metric 'byoc_worker_sip_errors_total{kind="refused"}')" "metric: malformed requests refused"
assert_eq 0 "$(metric 'byoc_worker_inbound_frames_dropped_total')" "metric: no backpressure drops"
assert_eq 0 "$(metric 'byoc_worker_active_calls')" "no call left active"
w_stop

# ---- capacity, RTP timeout, draining ---------------------------------------
w_start BYOC_WORKER_CAPACITY=1 BYOC_WORKER_RTP_TIMEOUT=2 BYOC_WORKER_DRAIN_GRACE=2
assert_eq 0 "$(w_sipp rtpto "$T_SIPP_DIR/worker_uac_hangup.xml" -key agent agent-silent)" "call without RTP"
assert_match 'cause=102;text="RTP timeout"' "$(slog rtpto)" "no RTP: BYE 'RTP timeout'"
w_stop
w_start BYOC_WORKER_CAPACITY=1 BYOC_WORKER_DRAIN_GRACE=2
rc_file="$BYOC_RUN/drain.rc"
(w_sipp drain "$T_SIPP_DIR/worker_uac_hangup.xml" -key agent agent-silent >"$rc_file") &
drain_pid=$!
wait_for 50 bash -c "[ \"\$(redis-cli -p $BYOC_REDIS_PORT HGET byoc:v1:worker:$W_ID active)\" = 1 ]" ||
	fail "active call not reported in the registry"
S_PORT=$((S_PORT + 1)) # a second sipp next to the one holding the call
SIPP_MP=$((SIPP_MP + 4))
assert_eq 0 "$(w_sipp full "$(refused_sf 503)" -key agent agent-echo)" "over capacity: 503"
assert_match 'refused Retry-After: 5' "$(slog full)" "over capacity: Retry-After"
kill -TERM "$(cat "$BYOC_RUN/worker.pid")"
wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$W_ADMIN/readyz)\" = 503 ]" &&
	pass "draining: /readyz 503" || fail "draining: /readyz not 503"
assert_eq 1 "$(rcli HGET "byoc:v1:worker:$W_ID" draining)" "draining: registry says draining=1"
assert_eq 0 "$(w_sipp drained "$(refused_sf 503)" -key agent agent-echo)" "draining: new calls get 503"
wait "$drain_pid"
assert_eq 0 "$(cat "$rc_file")" "draining: the call in progress ends with the grace"
assert_match 'text="worker shutting down"' "$(slog drain)" "draining: BYE after the grace"
wait_for 50 bash -c "! kill -0 $(cat "$BYOC_RUN/worker.pid")" && pass "worker exits after draining" ||
	fail "worker still running after draining"
assert_eq 0 "$(rcli EXISTS "byoc:v1:worker:$W_ID")" "deregistered: hash deleted"
assert_nomatch "^$W_ID\$" "$(rcli SMEMBERS byoc:v1:workers)" "deregistered: not in the set"
assert_nomatch 'ERROR: AddressSanitizer|Segmentation|Aborted' "$(cat "$BYOC_LOG_DIR/worker.log")" "no crash in the worker log"
t_done
