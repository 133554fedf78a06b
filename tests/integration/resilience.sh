#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Failure behaviour: Redis hanging or down gives bounded, fast refusals
# (fail closed, 503 + Retry-After) for limited trunks while cached config
# keeps identifying calls, then automatic recovery; a proxy killed with
# calls up leaks no slots (leases expire within lease_ttl); hostile SIP
# (the RFC 4475/5118 torture corpus) never takes the proxy down.
export BYOC_LEASE_TTL=4 BYOC_LEASE_REFRESH=1
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml
t_rpc byoc.trunk_set lim tenant=acme cidrs=127.0.0.2/32 direction=inbound max_calls=3
t_rpc byoc.trunk_set free tenant=acme cidrs=127.0.0.3/32 direction=inbound
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import lim +14155550100
t_rpc byoc.did_import free +14155550200
t_rpc byoc.did_bind +14155550100 a1
t_rpc byoc.did_bind +14155550200 a1
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT
REDIS_PID=$(cat "$BYOC_RUN/redis.pid")

elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# a call first, so that Redis knows the admission script: the EVALSHAs
# that time out below then really run when Redis resumes
rc=$(t_uac first 127.0.0.2 uac_call.xml +14155550100 -d 100)
assert_eq 0 "$rc" "a call before the failures"
t_wait_leases lim 0 30 || fail "lease of the first call left: $(t_leases lim)"

# --- Redis hangs (SIGSTOP): every admission must give up within the timeout
kill -STOP "$REDIS_PID"
worst=0
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	t_uac hang$i 127.0.0.2 uac_refused.xml +14155550100 >/dev/null
	ms=$(elapsed_ms "$t0")
	[ "$ms" -gt "$worst" ] && worst=$ms
	assert_match 'SIP/2.0 503 Routing Store Unavailable' "$(t_msgs hang$i)" "Redis hung: limited trunk refused ($i)"
done
assert_match 'Retry-After' "$(t_msgs hang1)" "store-down 503 carries Retry-After"
# sipp start-up included; the proxy itself waits at most redis_timeout_ms
assert_le "$worst" 1500 "slowest refusal while Redis hangs, sipp round trip (ms)"
rc=$(t_uac hangfree 127.0.0.3 uac_call.xml +14155550200 -d 100)
assert_eq 0 "$rc" "Redis hung: a trunk without limits still routes from cached config"
st=$(rpc byoc.status)
assert_match 'redis: down' "$st" "status shows the breaker open"
kill -CONT "$REDIS_PID"
# the scripts that timed out run now that Redis resumes and write their
# leases; the proxy refused those calls, so it removes them again at once
# instead of leaving the slots taken until lease_ttl (4 s here)
t_wait_leases lim 0 25 && pass "no slot held by the calls refused while Redis hung" || fail "orphaned leases: $(t_leases lim)"
ok=0
for i in $(seq 1 30); do
	rc=$(t_uac rec$i 127.0.0.2 uac_call.xml +14155550100 -d 100)
	[ "$rc" = 0 ] && { ok=1; break; }
	sleep 0.2
done
assert_eq 1 "$ok" "admission recovers by itself after Redis resumes"

# --- Redis killed and restarted (connection refused, then back with its data)
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
t_uac down1 127.0.0.2 uac_refused.xml +14155550100 >/dev/null
assert_match 'SIP/2.0 503 Routing Store Unavailable' "$(t_msgs down1)" "Redis down: limited trunk refused"
rc=$(t_uac downfree 127.0.0.3 uac_call.xml +14155550200 -d 100)
assert_eq 0 "$rc" "Redis down: cached config keeps routing the unlimited trunk"
start_redis
ok=0
for i in $(seq 1 30); do
	rc=$(t_uac up$i 127.0.0.2 uac_call.xml +14155550100 -d 100)
	[ "$rc" = 0 ] && { ok=1; break; }
	sleep 0.2
done
assert_eq 1 "$ok" "admission recovers after Redis restarts"

# --- kill -9 of the proxy with calls up: the leases expire, no slot leaks
(t_uac crash 127.0.0.2 uac_call.xml +14155550100 -m 3 -r 20 -l 3 -d 30000 >/dev/null) &
crash_pid=$!
t_wait_leases lim 3 50 && pass "three calls up, three leases" || fail "leases before crash: $(t_leases lim)"
KPID=$(cat "$BYOC_RUN/kamailio.pid")
kids=$(pgrep -P "$KPID" || true)
kill -KILL "$KPID" $kids 2>/dev/null || true
t0=$(date +%s%N)
t_wait_leases lim 0 100 && pass "leases of the dead proxy expired" || fail "leases left: $(t_leases lim)"
assert_le "$(elapsed_ms "$t0")" 4600 "time to expiry, bound lease_ttl=4 s + polling (ms)"
t_kill_uac crash
wait "$crash_pid" 2>/dev/null || true
start_kamailio
t_wait_config
# a first request from the carrier address before the measured calls:
# right after a kill -9 restart, sipp's first datagram was once seen from
# 127.0.0.1 (not reproducible under strace/tcpdump); OPTIONS is answered
# whatever its source
t_uac warm 127.0.0.2 uac_options.xml x -key ua carrier-sim >/dev/null
t_uac afterc 127.0.0.2 uac_any.xml +14155550100 -m 3 -r 20 -l 3 -d 500 >/dev/null
# each admitted call shows two 200s (INVITE and BYE)
assert_eq 6 "$(grep -c '^SIP/2.0 200' "$BYOC_LOG_DIR/afterc.msg" || true)" "after restart the trunk takes its full 3 calls again"

# --- the torture corpus against the running edge
for f in "$BYOC_ROOT"/tests/corpus/sip-torture/rfc4475/*.dat "$BYOC_ROOT"/tests/corpus/sip-torture/rfc5118/*; do
	[ -f "$f" ] || continue
	# one datagram each, from an unknown source port
	cat "$f" >"/dev/udp/$BYOC_SIP_IP/$BYOC_SIP_PORT" 2>/dev/null || true
done
# and the same over TCP
for f in "$BYOC_ROOT"/tests/corpus/sip-torture/rfc4475/*.dat; do
	timeout 2 bash -c "cat '$f' >/dev/tcp/$BYOC_SIP_IP/$BYOC_SIP_PORT" 2>/dev/null || true
done
sleep 0.5
kill -0 "$(cat "$BYOC_RUN/kamailio.pid")" && pass "proxy up after the torture corpus" || fail "proxy died"
rc=$(t_uac post 127.0.0.2 uac_call.xml +14155550100 -d 100)
assert_eq 0 "$rc" "normal call after the torture corpus"
# (Kamailio logs CRITICAL when it cannot reply to a torture message whose
# Via is unusable; that is a refusal, not a crash)
assert_nomatch 'segfault|Segmentation|core dumped|SIGSEGV|SIGABRT' "$(cat "$BYOC_LOG_DIR/kamailio.log")" "no crash in the log"
t_done
