# SPDX-License-Identifier: GPL-2.0-or-later
# harness.sh -- helpers for the integration tests: an isolated stack per
# test (own run directory and ports), provisioning through the real RPC,
# sipp carriers and stand-in workers, and assertions. Sourced by
# tests/integration/*.sh, which ctest runs with BYOC_ROOT, BYOC_BUILD and
# BYOC_TEST_SLOT set.
set -euo pipefail

. "$BYOC_ROOT/scripts/common.sh"

T_NAME=$(basename "$0" .sh)
T_SLOT=${BYOC_TEST_SLOT:-1}
export BYOC_RUN="$BYOC_BUILD/test-run/$T_NAME"
export BYOC_PORT_BASE=$((20000 + T_SLOT * 100))
# RTP: 1000 ports per slot from 36000 for slots 1-29; slots 30-39 and
# 40-49 (for engineers running tests by hand next to a ctest run) use
# 10000-19999 and 25000-34999, which no SIP slot below 50 reaches (the
# formula of slots 1-29 would pass 65535 from slot 30 on)
if [ "$T_SLOT" -ge 40 ] && [ "$T_SLOT" -le 49 ]; then
	export BYOC_RTP_MIN=$((25000 + (T_SLOT - 40) * 1000))
elif [ "$T_SLOT" -ge 30 ] && [ "$T_SLOT" -le 39 ]; then
	export BYOC_RTP_MIN=$((10000 + (T_SLOT - 30) * 1000))
else
	export BYOC_RTP_MIN=$((35000 + T_SLOT * 1000))
fi
export BYOC_RTP_SPAN=600 # +600.. for workers and phones
T_SIPP_DIR="$BYOC_ROOT/tests/sipp"
T_FAILS=0
T_PIDS=()

rm -rf "$BYOC_RUN"
mkdir -p "$BYOC_RUN/log"
stack_vars

t_log() { printf '[%s] %s\n' "$T_NAME" "$*"; }

t_cleanup() {
	local p f
	for p in "${T_PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for f in "$BYOC_RUN"/uac-*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	stack_down >/dev/null 2>&1 || true
}
trap t_cleanup EXIT

fail() {
	t_log "FAIL: $*"
	T_FAILS=$((T_FAILS + 1))
}
pass() { t_log "ok: $*"; }

assert_eq() { # expected actual message
	if [ "$1" == "$2" ]; then pass "$3"; else fail "$3 (expected '$1', got '$2')"; fi
}
assert_match() { # regex text message
	# here-strings, not pipes: grep -q exiting early must not turn into a
	# SIGPIPE failure under pipefail
	if grep -Eq -- "$1" <<<"$2"; then pass "$3"; else fail "$3 (no match for /$1/ in: ${2:0:600})"; fi
}
assert_nomatch() {
	if grep -Eq -- "$1" <<<"$2"; then fail "$3 (unexpected /$1/)"; else pass "$3"; fi
}
assert_le() { # a b message: a <= b
	if [ "$1" -le "$2" ]; then pass "$3 ($1 <= $2)"; else fail "$3 ($1 > $2)"; fi
}
t_done() {
	if [ "$T_FAILS" -gt 0 ]; then
		t_log "$T_FAILS check(s) failed; logs in $BYOC_LOG_DIR"
		exit 1
	fi
	t_log "all checks passed"
	exit 0
}

t_stack_up() { stack_up >/dev/null; }

# kamcmd against this stack's ctl socket. kamcmd sends anything that
# parses as a number as an integer ("+14155550100" would overflow), so
# numeric-looking arguments get kamcmd's "s:" string prefix.
rpc() {
	local a args=()
	for a in "$@"; do
		if [[ "$a" =~ ^[+-]?[0-9.]+$ ]]; then args+=("s:$a"); else args+=("$a"); fi
	done
	kamcmd -s "$BYOC_CTL_SOCKET" "${args[@]}" 2>&1
}
rcli() { redis-cli -p "$BYOC_REDIS_PORT" "$@"; }
# provisioning that must succeed: a fault fails the test
t_rpc() {
	local out
	out=$(rpc "$@")
	if grep -q '^error' <<<"$out"; then
		fail "rpc $*: $out"
		return 1
	fi
	return 0
}

# Waits until the proxy loaded the current config version.
t_wait_config() {
	local want have n=40
	want=$(rcli GET byoc:v1:config:version)
	while [ $n -gt 0 ]; do
		have=$(rpc byoc.status | sed -n 's/^\s*config_version: //p')
		[ "$have" = "$want" ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	fail "config version $want not loaded (have $have)"
}

# Registers a stand-in worker in the registry, as a media worker would.
t_register_worker() { # id ip port [capacity]
	rcli HSET "byoc:v1:worker:$1" addr "$2" port "$3" transport udp \
		capacity "${4:-100}" active 0 draining 0 wideband 0 >/dev/null
	rcli EXPIRE "byoc:v1:worker:$1" 600 >/dev/null
	rcli SADD byoc:v1:workers "$1" >/dev/null
	wait_for 30 sh -c "kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: $1'" ||
		fail "worker $1 not seen by the proxy"
}

t_unregister_worker() { # id
	rcli DEL "byoc:v1:worker:$1" >/dev/null
	wait_for 30 sh -c "! kamcmd -s '$BYOC_CTL_SOCKET' byoc.workers | grep -q 'id: $1'" ||
		fail "worker $1 still seen by the proxy"
}

# Active leases of a trunk in Redis right now (expired ones excluded).
t_leases() { # trunk
	local t ms
	t=$(rcli TIME | tr '\n' ' ')
	# TIME answers seconds and microseconds
	# %.0f: mawk's %d stops at 2^31
	ms=$(awk '{ printf "%.0f", $1 * 1000 + $2 / 1000 }' <<<"$t")
	rcli ZCOUNT "byoc:v1:{t:$1}:lease" "$ms" +inf
}

# Waits until the trunk holds exactly n leases; at most $3 tenths of s.
t_wait_leases() { # trunk n [tenths]
	local i=${3:-50}
	while [ "$i" -gt 0 ]; do
		[ "$(t_leases "$1")" = "$2" ] && return 0
		sleep 0.1
		i=$((i - 1))
	done
	return 1
}

# rtpengine's own view of the media of the only call in progress:
# prints "<packets from the carrier side> <packets from the worker side>",
# read from its per-call statistics (ports on the carrier leg face
# 127.0.0.x, ports on the worker leg face 127.0.1.x).
rtpe() { rtpengine-ctl -ip 127.0.0.1 -port "$BYOC_RTPE_CLI_PORT" "$@"; }
t_rtp_counts() {
	local cid
	cid=$(rtpe list sessions all | awk -f "$BYOC_ROOT/tests/lib/rtpe.awk")
	[ -n "$cid" ] || { echo "0 0"; return; }
	rtpe list sessions "$cid" | awk '
		/-------- Port/ && !/RTCP/ {
			for (i = 1; i <= NF; i++) if ($i == "p,") p = $(i - 1)
			if ($0 ~ /<> +127\.0\.1\./) w += p; else c += p
		}
		END { printf "%d %d\n", c, w }'
}

# Starts a sipp UAS (stand-in worker or carrier) in the background.
t_uas() { # name ip port scenario [extra sipp args...]
	local name=$1 ip=$2 port=$3 sf=$4
	shift 4
	sipp -sf "$T_SIPP_DIR/$sf" -i "$ip" -p "$port" -nostdin \
		-trace_msg -message_file "$BYOC_LOG_DIR/$name.msg" \
		-trace_err -error_file "$BYOC_LOG_DIR/$name.err" "$@" \
		>"$BYOC_LOG_DIR/$name.out" 2>&1 &
	T_PIDS+=("$!")
	echo "$!" >"$BYOC_RUN/uas-$name.pid"
	sleep 0.3
}

t_stop_uas() { # name
	local f="$BYOC_RUN/uas-$1.pid"
	[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	rm -f "$f"
	sleep 0.2
}

# (The carrier UAC scenarios name their INVITE transactions (start_txn,
# response_txn, ack_txn): the edge relays a 180 and the 200 right behind
# it from two processes, so the 180 may arrive after the 200, and sipp
# ignores a late provisional response only for a named transaction, as
# RFC 3261 lets a UAC do; otherwise it aborts the call.)
#
# Runs a sipp UAC to completion; prints its exit code. Its pid is kept in
# $BYOC_RUN/uac-<name>.pid so a test (or the cleanup) can stop a UAC left
# running in the background by pid.
# t_uac name src_ip scenario service [extra sipp args...]
t_uac() {
	local name=$1 ip=$2 sf=$3 svc=$4
	shift 4
	local rc=0 pid port n
	# an explicit local port from this slot's range (+85..+99, rotating):
	# with -p 0 sipp sometimes sent its first datagram from the wildcard
	# address (source 127.0.0.1 instead of -i)
	# (a counter file: t_uac usually runs in a command substitution)
	n=$(( ($(cat "$BYOC_RUN/uac.n" 2>/dev/null || echo 0) + 1) % 15 ))
	echo "$n" >"$BYOC_RUN/uac.n"
	port=$((BYOC_PORT_BASE + 85 + n))
	timeout 120 sipp "$BYOC_SIP_IP:$BYOC_SIP_PORT" -sf "$T_SIPP_DIR/$sf" \
		-i "$ip" -p "$port" -s "$svc" -m 1 -nostdin -timeout 30 -timeout_error \
		-trace_msg -message_file "$BYOC_LOG_DIR/$name.msg" \
		-trace_err -error_file "$BYOC_LOG_DIR/$name.err" "$@" \
		>"$BYOC_LOG_DIR/$name.out" 2>&1 &
	pid=$!
	echo "$pid" >"$BYOC_RUN/uac-$name.pid"
	wait "$pid" || rc=$?
	rm -f "$BYOC_RUN/uac-$name.pid"
	echo "$rc"
}

t_kill_uac() { # name
	local f="$BYOC_RUN/uac-$1.pid"
	[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
}

# 1 if sipp instance 'name' got a 200 (scenarios that accept refusals end
# "successfully" on a refusal too, so their exit code is not enough).
t_answered() { grep -q '^SIP/2.0 200' "$BYOC_LOG_DIR/$1.msg" 2>/dev/null && echo 1 || echo 0; }

# The messages a sipp instance exchanged.
t_msgs() { cat "$BYOC_LOG_DIR/$1.msg" 2>/dev/null || true; }
