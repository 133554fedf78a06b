# SPDX-License-Identifier: GPL-2.0-or-later
# edge.sh -- the full edge per call: Kamailio + admission + rtpengine
# offer/answer/delete + dialog, byoc_route versus the stock-modules
# baseline doing the same job, same run. Sourced by run.sh.
#
# Reports per variant: a fixed rate below saturation sustained for
# BENCH_EDGE_SECONDS (default 60 s) with its failure rate and CPU per call
# (Kamailio, rtpengine, Redis); then a step load to find the saturation
# point (highest offered rate with < 1 % failed calls).
BENCH_NAME=edge
export BENCH_KAM_DEFINES="-A WITH_RTPE"
. "$BYOC_ROOT/bench/proxy.sh"

E_RATE=${BENCH_EDGE_RATE:-100}
E_SECONDS=${BENCH_EDGE_SECONDS:-60}
E_STEPS=${BENCH_EDGE_STEPS:-200 300 400 500 600 800}
E_STEP_SECONDS=${BENCH_EDGE_STEP_SECONDS:-15}
RTPE_NG=$((SIG_BASE + 40))
export BENCH_RTPE="udp:127.0.0.1:$RTPE_NG"

rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
	--listen-ng="127.0.0.1:$RTPE_NG" --port-min=40000 --port-max=59999 \
	--timeout=60 --delete-delay=0 --num-threads=2 --foreground --log-stderr \
	--log-level=4 >"$SIG_RUN/rtpengine.log" 2>&1 &
RTPE_PID=$!
BENCH_PIDS+=("$RTPE_PID")
sleep 1

declare -A E
for variant in stock byoc; do
	log "edge: $variant, $E_RATE calls/s for $E_SECONDS s"
	rkli FLUSHALL >/dev/null
	start_kam "$variant"
	[ "$variant" = byoc ] && provision_byoc
	sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" 50 200 -i 127.0.0.2 -d 0 >/dev/null
	k0=$(cpu_ticks "$KPID")
	p0=$(cpu_ticks "$RTPE_PID")
	r0=$(cpu_ticks "$REDIS_PID")
	read -r ok bad el < <(sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" "$E_RATE" \
		$((E_RATE * E_SECONDS)) -i 127.0.0.2 -d 0)
	k1=$(cpu_ticks "$KPID")
	p1=$(cpu_ticks "$RTPE_PID")
	r1=$(cpu_ticks "$REDIS_PID")
	E[$variant.ok]=$ok
	E[$variant.bad]=$bad
	E[$variant.fail]=$(awk -v b="$bad" -v o="$ok" 'BEGIN { printf "%.2f", 100 * b / (o + b > 0 ? o + b : 1) }')
	E[$variant.kus]=$(ticks_to_us $((k1 - k0)) "$ok")
	E[$variant.pus]=$(ticks_to_us $((p1 - p0)) "$ok")
	E[$variant.rus]=$(ticks_to_us $((r1 - r0)) "$ok")
	E[$variant.sat]=-
	E[$variant.satcps]=-
	for r in $E_STEPS; do
		log "edge: $variant step $r calls/s"
		read -r ok bad el < <(sipp_load "127.0.0.1:$SIG_PORT" "$SIPP_UAC" "$DID" "$r" \
			$((r * E_STEP_SECONDS)) -i 127.0.0.2 -d 0)
		f=$(awk -v b="$bad" -v o="$ok" 'BEGIN { print ((o + b > 0 && b / (o + b) < 0.01) ? 1 : 0) }')
		E[$variant.step$r]="$(awk -v n="$ok" -v t="$el" 'BEGIN { printf "%.0f", n / t }') cps, $bad failed"
		if [ "$f" = 1 ]; then
			E[$variant.sat]=$r
			E[$variant.satcps]=$(awk -v n="$ok" -v t="$el" 'BEGIN { printf "%.0f", n / t }')
		else
			break
		fi
		sleep 2
	done
	stop_kam
	sleep 2
done

{
	echo "## Full edge: Kamailio + admission + rtpengine + dialog ($(date -u +%Y-%m-%d), $(nproc) cores)"
	echo
	echo "INVITE/200/ACK/BYE/200 with SDP, rtpengine (userspace) offer/answer/delete on every call, sipp UAC and UAS and rtpengine on the same 2 cores."
	echo
	md_row "" "stock modules + rtpengine" "byoc_route + rtpengine" "byoc / stock"
	md_row "---" "---" "---" "---"
	md_row "$E_RATE calls/s for $E_SECONDS s: ok / failed (%)" "${E[stock.ok]} / ${E[stock.bad]} (${E[stock.fail]} %)" "${E[byoc.ok]} / ${E[byoc.bad]} (${E[byoc.fail]} %)" ""
	md_row "Kamailio CPU per call (µs)" "${E[stock.kus]}" "${E[byoc.kus]}" "$(awk -v a="${E[byoc.kus]}" -v b="${E[stock.kus]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
	md_row "rtpengine CPU per call, signalling only (µs)" "${E[stock.pus]}" "${E[byoc.pus]}" ""
	md_row "Redis CPU per call (µs)" "-" "${E[byoc.rus]}" ""
	for r in $E_STEPS; do
		md_row "step $r calls/s offered ($E_STEP_SECONDS s)" "${E[stock.step$r]:--}" "${E[byoc.step$r]:--}" ""
	done
	md_row "saturation: highest step with < 1 % failed" "${E[stock.sat]} (${E[stock.satcps]} cps)" "${E[byoc.sat]} (${E[byoc.satcps]} cps)" ""
} | tee "$BENCH_OUT/edge.md"
bench_cleanup
