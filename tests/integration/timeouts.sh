#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Media timeout: a call whose media stopped is torn down (rtpengine
# reports it over XMLRPC, the dialog module sends BYE both ways, the
# lease is released) -- but a call where only the AI side sends audio
# (the worker always sends, silence included, while the AI thinks) stays
# up. rtpengine's --timeout is set to 3 s here.
export BYOC_MEDIA_TIMEOUT=3
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_rpc byoc.trunk_set t tenant=acme cidrs=127.0.0.2/32 direction=inbound max_calls=5
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.did_import t +14155550100
t_rpc byoc.did_bind +14155550100 a1
t_wait_config

# no media at all: both sides get a BYE from the edge
t_uas w 127.0.1.1 $WPORT uas_worker.xml
t_register_worker w1 127.0.1.1 $WPORT
t0=$(date +%s%N)
rc=$(t_uac dead 127.0.0.2 uac_recv_bye.xml +14155550100)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq 0 "$rc" "the carrier got a BYE from the edge when media stopped"
assert_le "$ms" 9000 "teardown within rtpengine's timeout plus its check period (ms)"
assert_match '^BYE sip:' "$(t_msgs w)" "the worker got a BYE too"
t_wait_leases t 0 30 && pass "lease released after the media timeout" || fail "lease left: $(t_leases t)"

# only the worker side sends audio (6.8 s of it) while the carrier is silent:
# the call lives until the carrier hangs up after 5 s
t_stop_uas w
t_unregister_worker w1
t_uas wm 127.0.1.2 $((WPORT + 1)) uas_media.xml -mi 127.0.1.2 -mp $((BYOC_RTP_MIN + 900))
t_register_worker w2 127.0.1.2 $((WPORT + 1))
rc=$(t_uac silent 127.0.0.2 uac_media_silent.xml +14155550100 -d 5000)
assert_eq 0 "$rc" "a silent caller with a talking AI is not torn down (carrier's own BYE at 5 s)"
t_done
