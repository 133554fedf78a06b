#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The product's main job on the whole stack: a real phone (baresip) calls
# a DID through the edge (Kamailio + byoc_route + rtpengine) to a media
# worker bridged to the reference AI agent over the Twilio protocol.
# Audio is checked by content in both directions (cross-correlation),
# RFC 4733 digits reach the AI once each, the protocol stays conformant,
# and every way a call ends works: caller BYE, AI hang-up, AI socket
# closing, and 60 s of AI silence does NOT end the call.
. "${BYOC_ROOT:?}/tests/lib/fullstack_test.sh"
# the caller starts talking after the greeting (~6 s) so the whole
# utterance is echoed
sox "$AUDIO/caller.raw.wav" -r 8000 -c 1 -b 16 "$AUDIO/caller-late.wav" pad 7 10

PA=$FS_AGENT_PORT
fullstack_agent "$BYOC_RUN/echo" $PA
fullstack_agent "$BYOC_RUN/hang" $((PA + 10)) --mode hangup-after=3
fullstack_agent "$BYOC_RUN/close" $((PA + 11)) --mode close-after=3
fullstack_agent "$BYOC_RUN/silent" $((PA + 12)) --mode silent
fullstack_worker fw1 127.0.1.1 0

k() { t_rpc "$@"; }
k byoc.trunk_set phone tenant=demo cidrs=127.0.0.2/32 direction=inbound codecs=PCMU,PCMA max_calls=4
i=0
for a in echo:$PA hang:$((PA + 10)) close:$((PA + 11)) silent:$((PA + 12)); do
	name=${a%%:*}
	port=${a#*:}
	i=$((i + 1))
	k byoc.agent_set "ag-$name" tenant=demo ws_url="ws://127.0.0.1:$port/stream"
	k byoc.did_import phone "+1415555010$i"
	k byoc.did_bind "+1415555010$i" "ag-$name"
done
t_wait_config
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: fw1'" || fail "worker not registered"

# --- audio both ways by content, DTMF once per digit ------------------------
OUT="$BYOC_RUN/call-echo"
# '*' makes the reference agent send "clear" while its echo is queued
fullstack_call +14155550101 "$AUDIO/caller-late.wav" "$OUT" 17 "19#*"
fullstack_report "$OUT" "$BYOC_RUN/echo" >"$OUT/report.txt" 2>&1 || true
cat "$OUT/report.txt"
ev="$OUT/events.jsonl"
[ -s "$ev" ] && pass "the AI agent answered the call" || fail "no call reached the agent"
s=$(sim "$OUT/caller-said.wav" "$OUT/agent-heard.wav")
ge "$s" 0.9 && pass "the AI heard the caller's speech (similarity $s)" || fail "AI heard the caller: similarity $s < 0.9"
s=$(sim "$AUDIO/greeting.wav" "$OUT/caller-heard.wav")
ge "$s" 0.9 && pass "the caller heard the AI's greeting (similarity $s)" || fail "caller heard the greeting: similarity $s < 0.9"
s=$(sim "$OUT/caller-said.wav" "$OUT/caller-heard.wav")
ge "$s" 0.8 && pass "the caller heard its own speech echoed by the AI (similarity $s)" || fail "echo: similarity $s < 0.8"
assert_eq "19#*" "$(grep -o '"event":"dtmf","digit":"[^"]*"' "$ev" | cut -d'"' -f8 | tr -d '\n')" "RFC 4733 digits reached the AI once each, in order"
# the agent logs events from "start" on; "connected" first and nothing
# before "start" is checked by its order counter (violations below)
assert_match '"event":"start"' "$(head -1 "$ev")" "start is the first event the AI logs"
assert_match '"customParameters":\{[^}]*"did":"\+14155550101"' "$(cat "$ev")" "start carries the DID"
assert_match '"customParameters":\{[^}]*"trunk":"phone"' "$(cat "$ev")" "start carries the trunk"
closed=$(grep '"event":"closed"' "$ev" || true)
assert_match '"violations":\{"order":0,"seq":0,"sid":0,"chunk":0,"track":0,"ts":0,"payload":0' "$closed" "the worker's Twilio messages were conformant throughout"
assert_match '"stop_received":true' "$closed" "the AI got stop at the caller's hang-up"
assert_match '"marks_unexpected":0' "$closed" "marks were echoed in order, none unexpected"
assert_match '"clears":1' "$closed" "the AI's clear was taken"
sent=$(grep -o '"marks_sent":[0-9]*' <<<"$closed" | cut -d: -f2)
echoed=$(grep -o '"marks_echoed":[0-9]*' <<<"$closed" | cut -d: -f2)
assert_le "$((sent - echoed))" 1 "every mark came back (played out or flushed by clear; at most the last one in flight at hang-up)"
t_wait_leases phone 0 30 && pass "lease released after the caller hung up" || fail "lease left"

# call duration from the phone's log ("terminated (duration: 1 min 6 secs)")
call_secs() {
	tr '\r' '\n' <"$1/baresip.log" | grep -ao 'terminated (duration: [^)]*)' | head -1 |
		awk '{ s = 0; for (i = 1; i <= NF; i++) { if ($i == "min") s += 60 * $(i - 1); if ($i ~ /^secs/) s += $(i - 1) } print s }' || true
}

# --- the AI hangs up --------------------------------------------------------
OUT="$BYOC_RUN/call-hang"
fullstack_call +14155550102 "$AUDIO/caller.wav" "$OUT" 15
d=$(call_secs "$OUT")
[ -n "$d" ] && [ "$d" -le 10 ] && pass "the AI's hang-up ended the call after $d s (BYE to the phone)" ||
	fail "AI hang-up: call lasted ${d:-?} s"
t_wait_leases phone 0 30 && pass "lease released after the AI hung up" || fail "lease left"

# --- the AI's socket closes -----------------------------------------------------
OUT="$BYOC_RUN/call-close"
fullstack_call +14155550103 "$AUDIO/caller.wav" "$OUT" 15
d=$(call_secs "$OUT")
[ -n "$d" ] && [ "$d" -le 10 ] && pass "the AI closing its socket ended the call after $d s" ||
	fail "AI socket close: call lasted ${d:-?} s"

# --- 60 s of AI silence keep the call -------------------------------------------
OUT="$BYOC_RUN/call-silent"
sox -n -r 8000 -c 1 -b 16 "$AUDIO/silence70.wav" trim 0 70
fullstack_call +14155550104 "$AUDIO/silence70.wav" "$OUT" 66
d=$(call_secs "$OUT")
[ -n "$d" ] && [ "$d" -ge 62 ] && pass "60+ s of AI silence did not end the call (lasted $d s, the phone hung up)" ||
	fail "silent AI: call ended after ${d:-?} s"
m=$(curl -s "http://127.0.0.1:$FS_WORKER_ADMIN/metrics")
assert_match 'byoc_worker_active_calls 0' "$m" "the worker has no call left"
t_done
