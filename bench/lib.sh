# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh -- helpers shared by the benchmarks: process CPU accounting from
# /proc, sipp load runs with their success counts, result tables.

BENCH_OUT="$BYOC_BUILD/bench"
CLK_TCK=$(getconf CLK_TCK)
BENCH_PIDS=()

bench_cleanup() {
	local p
	for p in "${BENCH_PIDS[@]:-}"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
	done
	for p in "${BENCH_PIDS[@]:-}"; do
		[ -n "$p" ] || continue
		wait "$p" 2>/dev/null || true
	done
	BENCH_PIDS=()
}
trap bench_cleanup EXIT

# CPU ticks (user+system) of a process and its direct children.
cpu_ticks() { # pid
	local t=0 p f
	for p in "$1" $(pgrep -P "$1" || true); do
		[ -r "/proc/$p/stat" ] || continue
		f=$(sed 's/^.*) //' "/proc/$p/stat")
		# fields after "(comm) ": state=1 ... utime=12 stime=13
		set -- $f
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}

ticks_to_us() { # ticks calls -> microseconds per call
	awk -v t="$1" -v c="$2" -v hz="$CLK_TCK" 'BEGIN { if (c > 0) printf "%.0f", t * 1e6 / hz / c; else print "n/a" }'
}

# Runs a sipp UAC load; prints "successful failed elapsed_s".
sipp_load() { # target scenario service rate calls extra...
	local target=$1 sf=$2 svc=$3 rate=$4 calls=$5
	shift 5
	local out t0 t1 ok bad
	t0=$(date +%s.%N)
	out=$(timeout 600 sipp "$target" -sf "$sf" -s "$svc" -r "$rate" -m "$calls" \
		-l 20000 -nostdin -timeout 30 -max_socket 20000 "$@" 2>&1 || true)
	t1=$(date +%s.%N)
	ok=$(grep -E 'Successful call' <<<"$out" | tail -1 | awk '{print $(NF)}')
	bad=$(grep -E 'Failed call' <<<"$out" | tail -1 | awk '{print $(NF)}')
	echo "${ok:-0} ${bad:-0} $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
}

md_row() {
	printf '|'
	printf ' %s |' "$@"
	printf '\n'
}
