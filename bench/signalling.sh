# SPDX-License-Identifier: GPL-2.0-or-later
# signalling.sh -- INVITE/200/ACK/BYE/200 calls through Kamailio admitting
# with byoc_route versus the stock-modules baseline (permissions, htable,
# dialog profiles), same machine, same run. Sourced by run.sh.
#
# Reports per variant: Kamailio CPU per call at a fixed rate below
# saturation (sum of all Kamailio processes, /proc, TLSF allocator), Redis
# CPU per call, Redis commands per call and Lua calls per INVITE, the
# throughput at an offered load far above the fixed rate, shared memory
# per active call (held calls), and instructions per call (callgrind).
RATE=${BENCH_RATE:-300}
SECONDS_RUN=${BENCH_SECONDS:-20}
CALLS=$((RATE * SECONDS_RUN))
SAT_RATE=${BENCH_SAT_RATE:-2500}
SAT_CALLS=${BENCH_SAT_CALLS:-15000}
HOLD_CALLS=${BENCH_HOLD_CALLS:-2000}
BENCH_NAME=signalling
. "$BYOC_ROOT/bench/proxy.sh"

declare -A R
for v in stock byoc; do
	for k in ok bad kus rus rcmd rtt lua cps satbad satkus dlgs shm cgok ir; do
		R[$v.$k]=-
	done
done
PARTS=${BENCH_PARTS:-wall callgrind}
for variant in stock byoc; do
	[[ "$PARTS" == *wall* ]] || break
	log "signalling: $variant"
	rkli FLUSHALL >/dev/null
	start_kam "$variant"
	[ "$variant" = byoc ] && provision_byoc
	# warm-up
	sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" 100 300 -i 127.0.0.2 -d 0 >/dev/null
	# fixed rate below saturation
	k0=$(cpu_ticks "$KPID")
	r0=$(cpu_ticks "$REDIS_PID")
	c0=$(redis_stat stats total_commands_processed)
	e0=$(redis_stat commandstats evalsha)
	z0=$(redis_stat commandstats zrem)
	read -r ok bad el < <(sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" "$RATE" "$CALLS" -i 127.0.0.2 -d 0)
	k1=$(cpu_ticks "$KPID")
	r1=$(cpu_ticks "$REDIS_PID")
	c1=$(redis_stat stats total_commands_processed)
	e1=$(redis_stat commandstats evalsha)
	z1=$(redis_stat commandstats zrem)
	R[$variant.ok]=$ok
	R[$variant.bad]=$bad
	R[$variant.kus]=$(ticks_to_us $((k1 - k0)) "$ok")
	R[$variant.rus]=$(ticks_to_us $((r1 - r0)) "$ok")
	R[$variant.rcmd]=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / (n ? n : 1) }')
	R[$variant.rtt]=$(awk -v a="${e0:-0}" -v b="${e1:-0}" -v c="${z0:-0}" -v d="${z1:-0}" -v n="$ok" 'BEGIN { printf "%.2f", (b - a + d - c) / (n ? n : 1) }')
	R[$variant.lua]=$(awk -v a="${e0:-0}" -v b="${e1:-0}" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / (n ? n : 1) }')
	# throughput: offered far above the fixed rate
	k0=$(cpu_ticks "$KPID")
	read -r ok bad el < <(sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" "$SAT_RATE" "$SAT_CALLS" -i 127.0.0.2 -d 0)
	k1=$(cpu_ticks "$KPID")
	R[$variant.cps]=$(awk -v n="$ok" -v t="$el" 'BEGIN { printf "%.0f", n / t }')
	R[$variant.satbad]=$bad
	R[$variant.satkus]=$(ticks_to_us $((k1 - k0)) "$ok")
	# shared memory per active call: hold HOLD_CALLS calls for 30 s, once
	# the transactions and dialogs of the runs above are gone
	for i in $(seq 1 100); do
		[ "$(active_dialogs)" = 0 ] && [ "$(tm_current)" = 0 ] && break
		sleep 0.2
	done
	m0=$(shm_used)
	sipp "127.0.0.1:$SIG_PORT" -sf "$SIPP_UAC" -s "$DID" -r 400 -m "$HOLD_CALLS" -l "$HOLD_CALLS" \
		-d 30000 -i 127.0.0.2 -nostdin -max_socket 20000 >/dev/null 2>&1 &
	hold=$!
	BENCH_PIDS+=("$hold")
	n=0
	for i in $(seq 1 100); do
		n=$(active_dialogs)
		[ "${n:-0}" -ge "$HOLD_CALLS" ] && break
		sleep 0.2
	done
	m1=$(shm_used)
	R[$variant.dlgs]=$n
	R[$variant.shm]=$(awk -v a="$m0" -v b="$m1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / (n ? n : 1) }')
	kill "$hold" 2>/dev/null || true
	wait "$hold" 2>/dev/null || true
	stop_kam
	sleep 1
done

# Instruction counts: the same calls under callgrind (valgrind counts
# instructions, not time, so other load on the machine does not matter).
# Kamailio and every process it forks are instrumented. Two runs per
# variant with the same duration, one with the calls and one idle; the
# difference divided by the calls is the cost of a call (start-up,
# warm-up and the idle timer processes cancel out).
CG_CALLS=${BENCH_CG_CALLS:-400}
cg_run() { # variant calls duration_s -> total instructions
	local d="$SIG_RUN/cg-$1-$2"
	rkli FLUSHALL >/dev/null
	rm -rf "$d"
	mkdir -p "$d"
	start_kam "$1" valgrind --tool=callgrind --callgrind-out-file="$d/cg.%p"
	[ "$1" = byoc ] && provision_byoc
	sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" 20 20 -i 127.0.0.2 -d 0 >/dev/null
	local t0=$(date +%s)
	[ "$2" -gt 0 ] && sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" 25 "$2" -i 127.0.0.2 -d 0 >"$d/sipp"
	while [ $(( $(date +%s) - t0 )) -lt "$3" ]; do sleep 0.5; done
	stop_kam
	sleep 1
	cat "$d"/cg.* 2>/dev/null | awk '/^totals:/ { t += $2 } END { printf "%.0f", t }'
}
for variant in stock byoc; do
	[[ "$PARTS" == *callgrind* ]] || break
	log "signalling: $variant under callgrind ($CG_CALLS calls, and idle)"
	dur=$((CG_CALLS / 25 + 5))
	with=$(cg_run "$variant" "$CG_CALLS" "$dur")
	read -r ok bad el <"$SIG_RUN/cg-$variant-$CG_CALLS/sipp"
	idle=$(cg_run "$variant" 0 "$dur")
	R[$variant.cgok]=$ok
	R[$variant.ir]=$(awk -v a="$with" -v b="$idle" -v n="$ok" 'BEGIN { if (n > 0) printf "%.0f", (a - b) / n; else print "n/a" }')
	sleep 1
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
	echo "## Signalling: byoc_route vs stock modules ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))"
	echo
	echo "INVITE/200/ACK/BYE/200 through Kamailio 5.6.3 (\`-x tlsf\`, $BENCH_CHILDREN UDP children), sipp UAC and UAS on the same machine."
	echo "Fixed rate: $RATE calls/s for $SECONDS_RUN s. Throughput: $SAT_CALLS calls offered at $SAT_RATE calls/s."
	echo
	md_row "" "stock (permissions+htable+dialog profiles)" "byoc_route (Redis leases)" "byoc / stock"
	md_row "---" "---" "---" "---"
	md_row "calls ok / failed at $RATE cps" "${R[stock.ok]} / ${R[stock.bad]}" "${R[byoc.ok]} / ${R[byoc.bad]}" ""
	md_row "Kamailio CPU per call (µs)" "${R[stock.kus]}" "${R[byoc.kus]}" "$(ratio "${R[byoc.kus]}" "${R[stock.kus]}")"
	md_row "Redis CPU per call (µs)" "-" "${R[byoc.rus]}" ""
	md_row "Redis round trips per call (admission EVALSHA + release ZREM)" "-" "${R[byoc.rtt]}" ""
	md_row "Redis commands per call, incl. those inside the Lua script" "-" "${R[byoc.rcmd]}" ""
	md_row "admission Lua calls per INVITE" "-" "${R[byoc.lua]}" ""
	md_row "throughput (calls/s completed)" "${R[stock.cps]}" "${R[byoc.cps]}" "$(ratio "${R[byoc.cps]}" "${R[stock.cps]}")"
	md_row "failed calls at $SAT_RATE cps offered" "${R[stock.satbad]}" "${R[byoc.satbad]}" ""
	md_row "Kamailio CPU per call at that load (µs)" "${R[stock.satkus]}" "${R[byoc.satkus]}" "$(ratio "${R[byoc.satkus]}" "${R[stock.satkus]}")"
	md_row "instructions per call, callgrind, all Kamailio processes ($CG_CALLS calls)" "${R[stock.ir]}" "${R[byoc.ir]}" "$(ratio "${R[byoc.ir]}" "${R[stock.ir]}")"
	md_row "shared memory per active call (bytes)" "${R[stock.shm]} (${R[stock.dlgs]} dialogs)" "${R[byoc.shm]} (${R[byoc.dlgs]} dialogs)" "$(ratio "${R[byoc.shm]}" "${R[stock.shm]}")"
	echo
	echo "The stock baseline's limit is per proxy (dialog profiles in local shm); byoc_route's holds across proxies (tests/integration/cluster.sh)."
} | tee "$BENCH_OUT/signalling.md"
bench_cleanup
