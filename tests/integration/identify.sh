#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Trunk identification beyond a plain allowlist: carriers sharing an IP
# told apart by the DID; digest challenge, success and wrong password;
# auth "both" needs the allowlisted source and the password.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_uas worker 127.0.1.1 $WPORT uas_worker.xml

# two customers of the same carrier platform: same source network
t_rpc byoc.trunk_set shared-a tenant=acme cidrs=127.0.0.0/29 direction=inbound
t_rpc byoc.trunk_set shared-b tenant=globex cidrs=127.0.0.0/29 direction=inbound
# the longer prefix wins when it owns the number
t_rpc byoc.trunk_set exact tenant=acme cidrs=127.0.0.2/32 direction=inbound
# digest-only and ip+digest trunks
t_rpc byoc.trunk_set dig tenant=acme auth=digest direction=inbound username=carrierdig password=s3cret-Pass
t_rpc byoc.trunk_set both tenant=acme auth=both cidrs=127.0.0.9/32 direction=inbound username=carrierboth password=other-Pass
t_rpc byoc.agent_set a-acme tenant=acme ws_url=ws://127.0.0.1:9/a
t_rpc byoc.agent_set a-globex tenant=globex ws_url=ws://127.0.0.1:9/g
t_rpc byoc.did_import shared-a +14155550101
t_rpc byoc.did_import shared-b +14155550102
t_rpc byoc.did_import exact +14155550103
t_rpc byoc.did_import dig +14155550104
t_rpc byoc.did_import both +14155550105
for d in 101 103 104 105; do t_rpc byoc.did_bind +14155550$d a-acme; done
t_rpc byoc.did_bind +14155550102 a-globex
out=$(rpc byoc.did_bind +14155550101 a-globex)
assert_match 'error: 403' "$out" "an agent cannot take a DID of another tenant's trunk"
t_wait_config
t_register_worker w1 127.0.1.1 $WPORT

rc=$(t_uac sa 127.0.0.3 uac_call.xml +14155550101 -d 100)
assert_eq 0 "$rc" "shared IP, DID of trunk A: admitted"
assert_match 'X-Byoc-Trunk: shared-a' "$(t_msgs worker)" "... on trunk shared-a"
rc=$(t_uac sb 127.0.0.3 uac_call.xml +14155550102 -d 100)
assert_eq 0 "$rc" "shared IP, DID of trunk B: admitted"
assert_match 'X-Byoc-Trunk: shared-b' "$(t_msgs worker)" "... on trunk shared-b"
rc=$(t_uac ex 127.0.0.2 uac_call.xml +14155550103 -d 100)
assert_eq 0 "$rc" "longest prefix: admitted"
assert_match 'X-Byoc-Trunk: exact' "$(t_msgs worker)" "... on the /32 trunk"
t_uac sx 127.0.0.2 uac_refused.xml +14155550199 >/dev/null
assert_match 'SIP/2.0 404 DID Not On Trunk' "$(t_msgs sx)" "unknown DID from a shared IP: 404"

# digest
t_uac d0 127.0.0.20 uac_refused.xml +14155550104 >/dev/null
m=$(t_msgs d0)
assert_match 'SIP/2.0 407' "$m" "digest trunk: challenged"
assert_match 'Proxy-Authenticate: Digest realm="byoc"' "$m" "challenge carries the realm"
rc=$(t_uac d1 127.0.0.20 uac_auth.xml +14155550104 -au carrierdig -ap s3cret-Pass)
assert_eq 0 "$rc" "digest with the right password: call completes"
assert_match 'X-Byoc-Trunk: dig' "$(t_msgs worker)" "... on the digest trunk"
assert_nomatch 'Proxy-Authorization' "$(t_msgs worker)" "credentials are not forwarded to the worker"
t_uac d2 127.0.0.20 uac_auth.xml +14155550104 -au carrierdig -ap wrong >/dev/null
assert_match 'SIP/2.0 403 Authentication Failed' "$(t_msgs d2)" "wrong password: 403"
t_uac d3 127.0.0.20 uac_auth.xml +14155550104 -au nobody -ap s3cret-Pass >/dev/null
assert_match 'SIP/2.0 403 Authentication Failed' "$(t_msgs d3)" "unknown user: 403"

# ip + digest
rc=$(t_uac b1 127.0.0.9 uac_auth.xml +14155550105 -au carrierboth -ap other-Pass)
assert_eq 0 "$rc" "auth both from the allowlisted source with the password: admitted"
t_uac b2 127.0.0.21 uac_auth.xml +14155550105 -au carrierboth -ap other-Pass >/dev/null
assert_match 'SIP/2.0 403 Source Not Allowed' "$(t_msgs b2)" "auth both from elsewhere: 403 even with the password"
t_done
