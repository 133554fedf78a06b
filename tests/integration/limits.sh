#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Concurrency and CPS limits held in Redis: N calls up, N+1 refused with
# 503 + Retry-After; the slot comes back after BYE, after CANCEL and after
# a failed call; a CPS cap admits exactly max_cps calls in a burst.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml

t_rpc byoc.trunk_set lim tenant=acme cidrs=127.0.0.2/32 direction=inbound max_calls=2
t_rpc byoc.trunk_set burst tenant=acme cidrs=127.0.0.3/32 direction=inbound max_cps=2
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import lim +14155550100
t_rpc byoc.did_import burst +14155550200
t_rpc byoc.did_bind +14155550100 a1
t_rpc byoc.did_bind +14155550200 a1
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT

# two long calls take both slots
(t_uac hold 127.0.0.2 uac_call.xml +14155550100 -m 2 -r 10 -l 2 -d 4000 >"$BYOC_RUN/hold.rc") &
hold_pid=$!
t_wait_leases lim 2 50 || fail "two calls did not take two leases"
rc=$(t_uac over 127.0.0.2 uac_refused.xml +14155550100)
m=$(t_msgs over)
assert_match 'SIP/2.0 503 Trunk Capacity Exceeded' "$m" "third call refused: over capacity"
assert_match 'Retry-After: [0-9]+' "$m" "503 carries Retry-After"
c=$(rpc byoc.calls lim)
assert_match 'active: 2' "$c" "byoc.calls reports 2 active calls cluster-wide"
wait $hold_pid
assert_eq 0 "$(cat "$BYOC_RUN/hold.rc")" "both held calls completed"
t_wait_leases lim 0 30 && pass "slots back after BYE" || fail "leases left after BYE: $(t_leases lim)"
rc=$(t_uac after 127.0.0.2 uac_call.xml +14155550100 -d 100)
assert_eq 0 "$rc" "a new call is admitted after the BYEs"

# CANCEL while ringing gives the slot back
t_unregister_worker w1
WRING=$((BYOC_PORT_BASE + 61))
t_uas ring 127.0.1.2 $WRING uas_ring.xml
t_register_worker w2 127.0.1.2 $WRING
rc=$(t_uac cancel 127.0.0.2 uac_cancel.xml +14155550100)
assert_eq 0 "$rc" "carrier CANCEL while ringing completes (200 + 487)"
t_wait_leases lim 0 30 && pass "slot back after CANCEL" || fail "lease left after CANCEL"

# a failed call (worker busy) gives the slot back
t_unregister_worker w2
WBUSY=$((BYOC_PORT_BASE + 62))
t_uas busy 127.0.1.3 $WBUSY uas_busy.xml
t_register_worker w3 127.0.1.3 $WBUSY
t_uac failed 127.0.0.2 uac_refused.xml +14155550100 >/dev/null
assert_match 'SIP/2.0 486' "$(t_msgs failed)" "busy worker's 486 reaches the carrier"
t_wait_leases lim 0 30 && pass "slot back after a failed call" || fail "lease left after failed call"

# CPS: a burst of 6 calls within ~100 ms admits exactly 2
t_unregister_worker w3
t_register_worker w1 127.0.1.1 $WPORT
t_uac burst 127.0.0.3 uac_any.xml +14155550200 -m 6 -r 60 -l 6 -d 100 >/dev/null
m=$(t_msgs burst)
ok=$(printf '%s\n' "$m" | grep -c '^SIP/2.0 200 OK' || true)
cps=$(printf '%s\n' "$m" | grep -c '^SIP/2.0 503 Trunk CPS Limit Exceeded' || true)
# 200 OK also answers each BYE: admitted calls show two of them
assert_eq 4 "$ok" "burst: exactly 2 calls admitted (2 x INVITE 200 + BYE 200)"
assert_eq 4 "$cps" "burst: the other 4 refused with 503 Trunk CPS Limit Exceeded"
sleep 1.1
rc=$(t_uac cps_after 127.0.0.3 uac_call.xml +14155550200 -d 100)
assert_eq 0 "$rc" "after the window a call is admitted again"
t_done
