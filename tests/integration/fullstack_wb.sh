#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Wideband through the whole stack: a real phone (baresip) calls over
# G.722 and over opus through the edge (Kamailio + byoc_route +
# rtpengine, which offers G722/opus to a worker registered wideband=1)
# to a media worker bridged to the reference agent in the L16 wideband
# mode. Audio is checked by content both ways (cross-correlation at
# 16 kHz) and by band: a 6 kHz tone, which 8 kHz audio cannot carry,
# must reach the AI from the phone and the phone from the AI. Codec
# negotiation falls back cleanly: a G.711-only phone is transcoded by
# rtpengine to the wideband worker, and a worker with
# BYOC_WORKER_WIDEBAND=0 is offered G.711 only, the AI then gets
# narrowband audio (no 6 kHz) but the call works.
. "${BYOC_ROOT:?}/tests/lib/fullstack_test.sh"
# 16 kHz material: speech, then 1 s of a 6 kHz tone (caller: 6 kHz,
# greeting: 6.5 kHz); the caller starts after the greeting (~7 s)
sox -n -r 16000 -c 1 -b 16 "$AUDIO/t6000.wav" synth 1 sine 6000 vol 0.25
sox -n -r 16000 -c 1 -b 16 "$AUDIO/t6500.wav" synth 1 sine 6500 vol 0.25
sox "$AUDIO/greeting.raw.wav" -r 16000 -c 1 -b 16 "$AUDIO/g-speech16.wav"
sox "$AUDIO/g-speech16.wav" "$AUDIO/t6500.wav" "$AUDIO/greeting16.wav"
sox "$AUDIO/caller.raw.wav" -r 16000 -c 1 -b 16 "$AUDIO/c-speech16.wav"
sox "$AUDIO/c-speech16.wav" "$AUDIO/t6000.wav" "$AUDIO/caller16.wav" pad 7.5 9
# baresip's file source must match the codec: opus runs at 48 kHz stereo,
# G.711 at 8 kHz
sox "$AUDIO/caller16.wav" -r 48000 -c 2 "$AUDIO/caller48.wav"
sox "$AUDIO/caller16.wav" -r 8000 "$AUDIO/caller8.wav"
# RMS amplitude (full scale 1.0) of a file between two frequencies
band() { sox "$1" -n sinc "$2"-"$3" stat 2>&1 | awk '/RMS +amplitude/ { print $3 }'; }
# a recording as 16 kHz mono 16-bit (baresip records opus at 48 kHz stereo)
to16() { sox "$1" -r 16000 -c 1 -b 16 "$2"; }
metric() {
	curl -s "http://127.0.0.1:$FS_WORKER_ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

PA=$FS_AGENT_PORT
fullstack_agent "$BYOC_RUN/wb" $PA --greeting "$AUDIO/greeting16.wav"
fullstack_worker fw1 127.0.1.1 0

k() { t_rpc "$@"; }
k byoc.trunk_set phone tenant=demo cidrs=127.0.0.2/32 direction=inbound codecs=G722,opus,PCMU max_calls=4
k byoc.agent_set ag-wb tenant=demo ws_url="ws://127.0.0.1:$PA/stream" protocol=l16
k byoc.did_import phone "+14155550121"
k byoc.did_bind "+14155550121" ag-wb
t_wait_config
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'wideband: 1'" ||
	fail "the edge does not see the worker as wideband"
assert_eq 1 "$(rcli HGET byoc:v1:worker:fw1 wideband)" "the worker registered wideband=1"

# One call; checks the codec the worker got, the AI's format, audio by
# content both ways, and whether 6 kHz crossed each way ('wb' 1) or not.
wb_call() { # name codecs mic-wav want-codec wb [digits]
	local name=$1 codecs=$2 mic=$3 want=$4 wb=$5 digits=${6:-} out ev s hi
	out="$BYOC_RUN/call-$name"
	rm -f "$BYOC_RUN/wb/"*
	FS_CODECS=$codecs fullstack_call +14155550121 "$mic" "$out" 17 "$digits"
	# the agent finishes its files when the worker's close arrives
	wait_for 50 sh -c "grep -qs '\"event\":\"closed\"' '$BYOC_RUN/wb/'*.jsonl" || true
	fullstack_report "$out" "$BYOC_RUN/wb" >"$out/report.txt" 2>&1 || true
	ev="$out/events.jsonl"
	[ -s "$ev" ] && pass "$name: the L16 agent answered" || fail "$name: no call reached the agent"
	assert_match "media $want, AI L16 at 16000 Hz" "$(grep 'media .*, AI ' "$BYOC_LOG_DIR/worker-fw1.log" | tail -1)" \
		"$name: the worker's leg is $want, the AI gets 16 kHz"
	assert_match '"protocol":"l16".*"mediaFormat":\{"encoding":"audio/l16","sampleRate":16000' \
		"$(head -1 "$ev")" "$name: the AI's stream is L16 at 16 kHz"
	to16 "$out/caller-heard.wav" "$out/heard16.wav" 2>/dev/null || true
	# references: the speech alone (the tone is judged by band below)
	s=$(sim "$AUDIO/c-speech16.wav" "$out/agent-heard.wav")
	ge "$s" 0.9 && pass "$name: the AI heard the caller (similarity $s)" ||
		fail "$name: AI heard the caller: similarity $s < 0.9"
	s=$(sim "$AUDIO/g-speech16.wav" "$out/heard16.wav")
	ge "$s" 0.85 && pass "$name: the caller heard the greeting (similarity $s)" ||
		fail "$name: caller heard the greeting: similarity $s < 0.85"
	hi=$(band "$out/agent-heard.wav" 5700 6300)
	if [ "$wb" = 1 ]; then
		ge "$hi" 0.01 && pass "$name: the caller's 6 kHz reached the AI (RMS $hi)" ||
			fail "$name: 6 kHz missing at the AI (RMS $hi): downsampled"
		hi=$(band "$out/heard16.wav" 6200 6800)
		ge "$hi" 0.01 && pass "$name: the AI's 6.5 kHz reached the caller (RMS $hi)" ||
			fail "$name: 6.5 kHz missing at the caller (RMS $hi)"
	else
		ge 0.003 "$hi" && pass "$name: narrowband path, no 6 kHz at the AI (RMS $hi)" ||
			fail "$name: 6 kHz at the AI on a narrowband leg (RMS $hi)"
	fi
	closed=$(grep '"event":"closed"' "$ev" || true)
	assert_match '"violations":\{"order":0,"seq":0,"sid":0,"chunk":0,"track":0,"ts":0,"payload":0,"binary":0,"json":0\}' \
		"$closed" "$name: the worker's L16 stream was conformant (640-byte frames, metadata first)"
	assert_match '"stop_received":true' "$closed" "$name: the call's end closed the stream with 1000"
	assert_match '"marks_unexpected":0' "$closed" "$name: mark echoes in order"
	if [ -n "$digits" ]; then
		assert_eq "$digits" "$(grep -o '"event":"dtmf","digit":"[^"]*"' "$ev" | cut -d'"' -f8 | tr -d '\n')" \
			"$name: RFC 4733 digits reached the AI once each"
	fi
	t_wait_leases phone 0 30 || fail "$name: lease left"
}

wb_call g722 G722/16000/1 "$AUDIO/caller16.wav" G722 1 "1#"
assert_eq 1 "$(metric 'byoc_worker_call_codecs_total{codec="G722"}')" "metric: one G.722 call"
wb_call opus opus/48000/2 "$AUDIO/caller48.wav" opus 1
assert_eq 1 "$(metric 'byoc_worker_call_codecs_total{codec="opus"}')" "metric: one opus call"
# a G.711-only phone: G.711 to the wideband worker too; the phone's
# 8 kHz cannot carry 6 kHz, the AI still gets 16 kHz L16
wb_call pcmu PCMU/8000/1 "$AUDIO/caller8.wav" PCMU 0

# the same G.722 phone with a worker that takes no wideband
kill -TERM "$(cat "$BYOC_RUN/worker-fw1.pid")"
wait_for 50 bash -c "! kill -0 $(cat "$BYOC_RUN/worker-fw1.pid") 2>/dev/null" || fail "worker did not stop"
mv "$BYOC_LOG_DIR/worker-fw1.log" "$BYOC_LOG_DIR/worker-fw1-wb.log"
fullstack_worker fw1 127.0.1.1 0 --wideband 0
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'wideband: 0'" ||
	fail "the edge still sees the worker as wideband"
# rtpengine transcodes the phone's G.722 to the G.711 it offers the worker
wb_call fallback G722/16000/1 "$AUDIO/caller16.wav" 'PCM[AU]' 0 "4"
m=$(curl -s "http://127.0.0.1:$FS_WORKER_ADMIN/metrics")
assert_match 'byoc_worker_call_codecs_total\{codec="PCM[AU]"\} 1' "$m" "metric: the fallback call was G.711"
assert_match 'byoc_worker_active_calls 0' "$m" "the worker has no call left"
assert_nomatch 'AddressSanitizer|Segmentation|Aborted' "$(cat "$BYOC_LOG_DIR"/worker-fw1*.log)" "no crash in the worker logs"
t_done
