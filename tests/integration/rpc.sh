#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Administration over kamcmd and JSON-RPC: every input validated with a
# clear error and nothing written on error; secrets write-only and
# encrypted at rest; changes visible to the proxy within a second.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up

expect_err() { # message rpc-args...
	local msg=$1 out
	shift
	local before after
	before=$(rcli GET byoc:v1:config:version)
	out=$(rpc "$@")
	after=$(rcli GET byoc:v1:config:version)
	if grep -q '^error: 400' <<<"$out"; then
		pass "$msg: ${out%%$'\n'*}"
	else
		fail "$msg: expected a 400, got: $out"
	fi
	assert_eq "$before" "$after" "$msg: nothing written"
}

expect_err "bad CIDR" byoc.trunk_set t1 cidrs=10.0.0.300/24
expect_err "host bits in CIDR" byoc.trunk_set t1 cidrs=10.0.0.1/24
expect_err "unknown codec" byoc.trunk_set t1 cidrs=10.0.0.0/24 codecs=PCMU,G729
expect_err "port out of range" byoc.trunk_set t1 cidrs=10.0.0.0/24 port=70000
expect_err "bad transport" byoc.trunk_set t1 cidrs=10.0.0.0/24 transport=sctp
expect_err "bad enum" byoc.trunk_set t1 cidrs=10.0.0.0/24 direction=sideways
expect_err "486 never fails over" byoc.trunk_set t1 cidrs=10.0.0.0/24 failover_codes=503,486
expect_err "unknown field" byoc.trunk_set t1 cidrs=10.0.0.0/24 colour=blue
expect_err "not key=value" byoc.trunk_set t1 cidrs
expect_err "invalid id" byoc.trunk_set "bad id"
expect_err "ip auth needs a CIDR" byoc.trunk_set t1 direction=inbound
expect_err "encrypted field not writable" byoc.trunk_set t1 cidrs=10.0.0.0/24 password_enc=v1:AAAA
expect_err "agent url" byoc.agent_set a1 tenant=acme ws_url=http://example.com/x
expect_err "agent params JSON" byoc.agent_set a1 tenant=acme ws_url=ws://h/x 'params={"k":1}'
assert_eq "" "$(rcli EXISTS byoc:v1:trunk:t1 | grep -v '^0$')" "no trunk written by the failed requests"

# a valid trunk, then an invalid update leaves it unchanged
t_rpc byoc.trunk_set t1 "name=Trunk One" tenant=acme cidrs=10.0.0.0/24,2001:db8::/32 \
	direction=both host=sip.carrier.example transport=tls username=acme password=Sup3r-s3cret codecs=PCMA,PCMU
snap=$(rcli HGETALL byoc:v1:trunk:t1)
expect_err "invalid update" byoc.trunk_set t1 max_calls=-1
assert_eq "$snap" "$(rcli HGETALL byoc:v1:trunk:t1)" "failed update left the stored trunk unchanged"

# secrets: never returned, never stored in clear
g=$(rpc byoc.trunk_get t1)
assert_match 'password: \(set\)' "$g" "trunk_get says a password is set"
assert_nomatch 'Sup3r-s3cret' "$g" "trunk_get never returns the password"
assert_nomatch 'password_enc' "$g" "trunk_get does not show the ciphertext either"
assert_match 'port: 5061' "$g" "tls trunk defaults to port 5061"
assert_nomatch 'Sup3r-s3cret' "$(rcli HGETALL byoc:v1:trunk:t1)" "Redis holds no plaintext password"
assert_match '^v1:' "$(rcli HGET byoc:v1:trunk:t1 password_enc)" "Redis holds the AES-GCM text form"
assert_nomatch 'Sup3r-s3cret' "$(cat "$BYOC_LOG_DIR"/kamailio.log)" "the log never contains the password"
t_rpc byoc.trunk_set t2 tenant=acme cidrs=10.0.1.0/24 direction=inbound

# JSON-RPC over HTTP on the admin port only
j=$(curl -s -m 5 -d '{"jsonrpc":"2.0","method":"byoc.trunk_get","params":["t1"],"id":1}' \
	"http://$BYOC_ADMIN_IP:$BYOC_ADMIN_PORT/jsonrpc")
assert_match '"host":[[:space:]]*"sip.carrier.example"' "$j" "JSON-RPC trunk_get works"
assert_nomatch 'Sup3r' "$j" "JSON-RPC does not return the password"
j=$(curl -s -m 5 -d '{"jsonrpc":"2.0","method":"byoc.trunk_set","params":["t3","cidrs=10.9.0.0/33"],"id":2}' \
	"http://$BYOC_ADMIN_IP:$BYOC_ADMIN_PORT/jsonrpc")
assert_match '"code":[[:space:]]*400' "$j" "JSON-RPC validation error is a 400 fault"
h=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -d '{"jsonrpc":"2.0","method":"core.uptime","id":3}' \
	"http://$BYOC_SIP_IP:$BYOC_SIP_PORT/jsonrpc" || true)
assert_eq 403 "$h" "JSON-RPC is refused on the SIP port"

# DID import is all or nothing
t_rpc byoc.did_import t1 +14155550100
out=$(rpc byoc.did_import t2 +14155550101,+14155550100)
assert_match 'error: 409' "$out" "importing a number owned by another trunk is refused"
assert_eq 0 "$(rcli EXISTS byoc:v1:did:+14155550101)" "... and nothing of that request was written"
out=$(rpc byoc.did_import t2 +14155550102 not-a-number)
assert_match 'error: 400' "$out" "an invalid number refuses the whole import"
assert_eq 0 "$(rcli EXISTS byoc:v1:did:+14155550102)" "... nothing written"

# visible without restart: change in Redis through RPC, then directly
t_rpc byoc.trunk_set t1 max_calls=7
t0=$(date +%s%N)
until grep -A8 'id: t1' <<<"$(rpc byoc.trunk_list)" | grep -q 'max_calls: 7'; do
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 3000 ] && break
	sleep 0.02
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_le "$ms" 1000 "RPC change visible to the proxy (ms)"
# a control panel writing Redis directly and bumping the version
rcli HSET byoc:v1:trunk:t1 max_calls 9 >/dev/null
rcli INCR byoc:v1:config:version >/dev/null
rcli PUBLISH byoc:v1:config x >/dev/null
t0=$(date +%s%N)
until grep -A8 'id: t1' <<<"$(rpc byoc.trunk_list)" | grep -q 'max_calls: 9'; do
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 3000 ] && break
	sleep 0.02
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_le "$ms" 1000 "direct Redis change + version bump visible (ms)"

# a malformed record written by a control panel is skipped and counted
rcli HSET byoc:v1:trunk:broken tenant acme cidrs 10.0.0.0/99 direction inbound >/dev/null
rcli SADD byoc:v1:trunks broken >/dev/null
rcli INCR byoc:v1:config:version >/dev/null
t_wait_config
st=$(rpc byoc.status)
assert_match 'skipped_records: [1-9]' "$st" "malformed record skipped and counted"
assert_match 'trunks: 2' "$st" "the valid trunks are still loaded"
n=$(grep -c 'skipping malformed record byoc:v1:trunk:broken' "$BYOC_LOG_DIR/kamailio.log" || true)
rcli INCR byoc:v1:config:version >/dev/null
t_wait_config
n2=$(grep -c 'skipping malformed record byoc:v1:trunk:broken' "$BYOC_LOG_DIR/kamailio.log" || true)
assert_eq "$n" "$n2" "the same malformed record is logged once, not at every reload"
kill -0 "$(cat "$BYOC_RUN/kamailio.pid")" && pass "proxy still up" || fail "proxy died"

# deletion rules
out=$(rpc byoc.trunk_delete t1)
assert_match 'error: 409' "$out" "a trunk with DIDs is not deleted without force"
out=$(rpc byoc.agent_delete nosuch)
t_rpc byoc.trunk_delete t1 force
assert_eq 0 "$(rcli EXISTS byoc:v1:did:+14155550100)" "force deletes the trunk's DIDs"
t_done
