#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh -- the main job, end to end on this machine:
#   Redis + rtpengine + Kamailio with byoc_route (the edge),
#   a media worker, the reference AI agent (greeting, echo, DTMF report),
#   a demo trunk, DID and agent provisioned through the RPC,
#   and a real phone (baresip) on the carrier side calling the DID: it
#   plays a spoken WAV as its microphone, records what it hears, and keys
#   DTMF digits.
# Results: build/run/demo/out/{caller-heard.wav, agent-heard.wav, events.jsonl}.
set -euo pipefail
BYOC_ROOT="${BYOC_ROOT:?}"
BYOC_BUILD="${BYOC_BUILD:?}"
. "$BYOC_ROOT/scripts/common.sh"
. "$BYOC_ROOT/scripts/fullstack.sh"

export BYOC_RUN="$BYOC_BUILD/run/demo"
export BYOC_PORT_BASE="${BYOC_DEMO_PORT_BASE:-15060}"
export BYOC_RTP_MIN=31000
export BYOC_RTP_SPAN=600
stack_vars
fullstack_vars
rm -rf "$BYOC_RUN"
mkdir -p "$BYOC_LOG_DIR"
OUT="$BYOC_RUN/out"
mkdir -p "$OUT"
trap 'fullstack_down >/dev/null 2>&1 || true' EXIT

say() { printf '\n== %s\n' "$*"; }

say "edge: Redis, rtpengine (userspace) and Kamailio with byoc_route"
stack_up >/dev/null
cat "$BYOC_RUN/stack.env"

say "AI side: the reference agent and a media worker"
fullstack_audio "$BYOC_RUN/audio"
fullstack_agent "$OUT"
fullstack_worker demo-w1 127.0.1.1
echo "agent  ws://127.0.0.1:$FS_AGENT_PORT/  (greeting: $BYOC_RUN/audio/greeting.wav)"
echo "worker sip:127.0.1.1:$FS_WORKER_PORT  admin http://127.0.0.1:$FS_WORKER_ADMIN/metrics"

say "provisioning through the RPC (kamcmd byoc.*)"
fullstack_provision demo-carrier demo-agent +14155550100 127.0.0.2
kamcmd -s "$BYOC_CTL_SOCKET" byoc.trunk_get demo-carrier | sed -n '1,8p'
wait_for 50 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q demo-w1" ||
	die "the worker did not register"

say "the carrier's phone (baresip at 127.0.0.2) calls 415-555-0100 and keys 4 2 #"
# the caller speaks once the greeting (~7 s) is over, so that the echo
# comes back alone rather than mixed into the greeting
sox "$BYOC_RUN/audio/caller.raw.wav" -r 8000 -c 1 -b 16 "$BYOC_RUN/audio/caller-demo.wav" pad 9 8
fullstack_call 4155550100 "$BYOC_RUN/audio/caller-demo.wav" "$OUT" 20 "42#"

say "result"
fullstack_report "$OUT"
