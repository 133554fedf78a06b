#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The module is built against exactly the installed Kamailio: its version
# and compile-flags strings equal the core's, `kamailio -c` accepts the
# edge cfg loading it, and the cfg starts (fixups run) and stops cleanly.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

so="$BYOC_BUILD/modules/byoc_route/byoc_route.so"
ver=$(kamailio -v | sed -n 's/^version: //p' | sed 's/ *$//')
flags=$(kamailio -v | sed -n 's/^flags: //p' | sed 's/ *$//')
mstrings=$(strings "$so")
grep -qxF "$ver" <<<"$mstrings" && pass "module version string is '$ver'" || fail "module lacks version '$ver'"
grep -qF "$flags" <<<"$mstrings" && pass "module compile flags equal the core's" || fail "compile flags differ from: $flags"

out=$(kamailio -c -f "$BYOC_ROOT/kamailio-cfg/byoc-edge.cfg" 2>&1 || true)
assert_match 'config file ok' "$out" "kamailio -c accepts byoc-edge.cfg with byoc_route loaded"
assert_nomatch 'mismatch' "$out" "no version or flags mismatch reported"

# full start: runtime fixups (regexes, pvs, module params) must succeed
t_stack_up
assert_match 'uptime' "$(rpc core.uptime)" "kamailio runs with the cfg"
assert_match 'byoc.trunk_set' "$(rpc system.listMethods)" "byoc.* RPC commands registered"
assert_match 'dlg.list' "$(rpc system.listMethods)" "stock dlg.* commands available"
stack_down
t_done
