#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two proxies sharing one Redis enforce one trunk limit together: with
# max_calls=2, a call up on each proxy fills the trunk and a third call on
# either is refused; a change made through one proxy's RPC is seen by the
# other within a second.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
# proxy B: same Redis and rtpengine, its own ports, ctl socket and logs
B_RUN="$BYOC_RUN/proxy-b"
mkdir -p "$B_RUN/log"
B_PORT=$((BYOC_PORT_BASE + 80))
(
	export BYOC_RUN="$B_RUN" BYOC_LOG_DIR="$B_RUN/log" BYOC_SIP_PORT=$B_PORT
	export BYOC_TLS_PORT=$((B_PORT + 1)) BYOC_ADMIN_PORT=$((B_PORT + 2))
	export BYOC_CTL_SOCKET="unix:$B_RUN/kamailio.ctl"
	start_kamailio
)
T_PIDS+=("$(cat "$B_RUN/kamailio.pid")")
rpc_b() { kamcmd -s "unix:$B_RUN/kamailio.ctl" "$@" 2>&1; }

WPORT=$((BYOC_PORT_BASE + 60))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml
t_rpc byoc.trunk_set shared tenant=acme cidrs=127.0.0.2/32 direction=inbound max_calls=2
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import shared +14155550100
t_rpc byoc.did_bind +14155550100 a1
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT
wait_for 30 sh -c "kamcmd -s unix:$B_RUN/kamailio.ctl byoc.workers | grep -q 'id: w1'" || fail "proxy B sees no worker"

uac_to() { # name port scenario extra...
	local name=$1 port=$2 sf=$3
	shift 3
	timeout 60 sipp "$BYOC_SIP_IP:$port" -sf "$T_SIPP_DIR/$sf" -i 127.0.0.2 -p 0 \
		-s +14155550100 -m 1 -nostdin -timeout 30 \
		-trace_msg -message_file "$BYOC_LOG_DIR/$name.msg" "$@" >/dev/null 2>&1
}

# one long call through each proxy
(uac_to ha "$BYOC_SIP_PORT" uac_call.xml -d 4000) &
pa=$!
(uac_to hb "$B_PORT" uac_call.xml -d 4000) &
pb=$!
t_wait_leases shared 2 50 && pass "one call on each proxy: two leases" || fail "leases: $(t_leases shared)"
uac_to ra "$BYOC_SIP_PORT" uac_refused.xml || true
assert_match 'SIP/2.0 503 Trunk Capacity Exceeded' "$(t_msgs ra)" "third call via proxy A refused"
uac_to rb "$B_PORT" uac_refused.xml || true
assert_match 'SIP/2.0 503 Trunk Capacity Exceeded' "$(t_msgs rb)" "third call via proxy B refused"
assert_match 'active: 2' "$(rpc_b byoc.calls shared)" "proxy B reports the cluster-wide count"
rca=0 rcb=0
wait $pa || rca=$?
wait $pb || rcb=$?
assert_eq 0 "$rca" "call via proxy A completed"
assert_eq 0 "$rcb" "call via proxy B completed"
t_wait_leases shared 0 30 && pass "both slots free after the calls" || fail "leases left: $(t_leases shared)"

# a change through proxy A's RPC reaches proxy B
t_rpc byoc.trunk_set shared max_calls=5
t0=$(date +%s%N)
until grep -q 'max_calls: 5' <<<"$(rpc_b byoc.trunk_list)"; do
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 3000 ] && break
	sleep 0.02
done
assert_le $(( ($(date +%s%N) - t0) / 1000000 )) 1000 "change via proxy A visible on proxy B (ms)"
t_done
