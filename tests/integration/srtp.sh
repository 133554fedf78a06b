#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Media encryption end to end with a real phone: baresip (srtp and
# dtls_srtp modules) as the carrier on trunks with media_encryption sdes
# and dtls; audio verified by content both ways while the worker side
# stays plain RTP (the worker only speaks RTP/AVP).
. "${BYOC_ROOT:?}/tests/lib/fullstack_test.sh"
sox "$AUDIO/caller.raw.wav" -r 8000 -c 1 -b 16 "$AUDIO/caller-late.wav" pad 7 6

fullstack_agent "$BYOC_RUN/agent" "$FS_AGENT_PORT"
fullstack_worker sw1 127.0.1.1 0
t_rpc byoc.trunk_set sdes tenant=demo cidrs=127.0.0.3/32 direction=inbound media_encryption=sdes
t_rpc byoc.trunk_set dtls tenant=demo cidrs=127.0.0.4/32 direction=inbound media_encryption=dtls
t_rpc byoc.agent_set ag tenant=demo ws_url="ws://127.0.0.1:$FS_AGENT_PORT/stream"
t_rpc byoc.did_import sdes +14155550201
t_rpc byoc.did_import dtls +14155550202
t_rpc byoc.did_bind +14155550201 ag
t_rpc byoc.did_bind +14155550202 ag
t_wait_config
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: sw1'" || fail "worker not registered"

for mode in sdes:srtp-mand:127.0.0.3:+14155550201 dtls:dtls_srtp:127.0.0.4:+14155550202; do
	IFS=: read -r trunk enc ip did <<<"$mode"
	OUT="$BYOC_RUN/call-$trunk"
	FS_PHONE_IP=$ip FS_MEDIAENC=$enc fullstack_call "$did" "$AUDIO/caller-late.wav" "$OUT" 15
	fullstack_report "$OUT" "$BYOC_RUN/agent" >"$OUT/report.txt" 2>&1 || true
	log=$(tr '\r' '\n' <"$OUT/baresip.log")
	assert_match 'Call established' "$log" "$trunk: the phone's encrypted call is established"
	case $trunk in
		# srtp-mand: the phone refuses a call whose answer has no SDES key
		sdes) assert_match "Using media encryption 'srtp-mand'" "$log" "sdes: the phone required SRTP (SDES) and got it" ;;
		dtls) assert_match 'DTLS-SRTP complete' "$log" "dtls: DTLS-SRTP handshake completed with the edge's rtpengine" ;;
	esac
	s=$(sim "$OUT/caller-said.wav" "$OUT/agent-heard.wav")
	ge "$s" 0.9 && pass "$trunk: the AI heard the caller through SRTP (similarity $s)" ||
		fail "$trunk: AI heard the caller: similarity $s"
	s=$(sim "$AUDIO/greeting.wav" "$OUT/caller-heard.wav")
	ge "$s" 0.9 && pass "$trunk: the caller heard the AI through SRTP (similarity $s)" ||
		fail "$trunk: caller heard the greeting: similarity $s"
	rm -f "$BYOC_RUN/agent"/*.jsonl "$BYOC_RUN/agent"/MZ*.wav
done
wlog=$(cat "$BYOC_LOG_DIR"/worker-sw1.log)
assert_nomatch 'SAVP|crypto|fingerprint' "$wlog" "the worker never saw SRTP"
t_done
