#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh -- the main job, end to end on this machine: start the stack,
# provision a demo trunk, DID and agent through the RPC, and place a real
# carrier call into the DID. With the media worker and the reference AI
# agent built, the call reaches the AI (audio both ways, recorded as WAV);
# until then a sipp stand-in worker answers.
set -euo pipefail
BYOC_ROOT="${BYOC_ROOT:?}"
BYOC_BUILD="${BYOC_BUILD:?}"
. "$BYOC_ROOT/scripts/common.sh"

export BYOC_RUN="$BYOC_BUILD/run/demo"
export BYOC_PORT_BASE="${BYOC_DEMO_PORT_BASE:-15060}"
export BYOC_RTP_MIN=31000
stack_vars
rm -rf "$BYOC_RUN"
mkdir -p "$BYOC_LOG_DIR"
trap 'stack_down >/dev/null 2>&1 || true' EXIT

say() { printf '\n== %s\n' "$*"; }
rpc() { kamcmd -s "$BYOC_CTL_SOCKET" "$@"; }

say "starting Redis, rtpengine and Kamailio with byoc_route"
stack_up >/dev/null
cat "$BYOC_RUN/stack.env"

say "provisioning through the RPC (kamcmd byoc.*)"
rpc byoc.trunk_set demo-carrier "name=Demo Carrier" tenant=demo \
	cidrs=127.0.0.2/32 direction=both host=127.0.0.2 codecs=PCMU,PCMA \
	country_code=1 national_length=10 max_calls=10 max_cps=5 >/dev/null
rpc byoc.agent_set demo-agent tenant=demo "name=Demo Agent" \
	ws_url=ws://127.0.0.1:$((BYOC_PORT_BASE + 90))/agent >/dev/null
rpc byoc.did_import demo-carrier s:+14155550100 >/dev/null
rpc byoc.did_bind s:+14155550100 demo-agent >/dev/null
rpc byoc.trunk_get demo-carrier | sed -n '1,12p'

WPORT=$((BYOC_PORT_BASE + 60))
say "media worker: sipp stand-in on 127.0.1.1:$WPORT (registered in Redis)"
sipp -sf "$BYOC_ROOT/tests/sipp/uas_worker.xml" -i 127.0.1.1 -p "$WPORT" \
	-nostdin -trace_msg -message_file "$BYOC_LOG_DIR/worker.msg" \
	>/dev/null 2>&1 &
echo $! >"$BYOC_RUN/worker-sipp.pid"
redis-cli -p "$BYOC_REDIS_PORT" HSET byoc:v1:worker:demo-w1 addr 127.0.1.1 \
	port "$WPORT" transport udp capacity 10 active 0 draining 0 >/dev/null
redis-cli -p "$BYOC_REDIS_PORT" EXPIRE byoc:v1:worker:demo-w1 120 >/dev/null
redis-cli -p "$BYOC_REDIS_PORT" SADD byoc:v1:workers demo-w1 >/dev/null
wait_for 30 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q demo-w1"

say "carrier 127.0.0.2 calls 415-555-0100 (national format)"
sipp "$BYOC_SIP_IP:$BYOC_SIP_PORT" -sf "$BYOC_ROOT/tests/sipp/uac_call.xml" \
	-i 127.0.0.2 -s 4155550100 -m 1 -d 2000 -nostdin -timeout 20 \
	-trace_msg -message_file "$BYOC_LOG_DIR/carrier.msg" >/dev/null 2>&1 &&
	echo "call answered and completed" || echo "call FAILED (see $BYOC_LOG_DIR)"

say "what the worker received from the edge"
grep -E '^(INVITE|X-Byoc|c=|m=)' "$BYOC_LOG_DIR/worker.msg" | head -10
say "statistics"
rpc byoc.stats demo-carrier | sed -n '1,8p'
kill "$(cat "$BYOC_RUN/worker-sipp.pid")" 2>/dev/null || true
