# SPDX-License-Identifier: GPL-2.0-or-later
# worker.sh -- the media worker at steady state: concurrent calls on one
# worker core with RTP both ways and the Twilio bridge to the reference
# agent in echo mode; rtpengine relaying the same kind of streams in the
# same run, as the reference for the cost floor. Sourced by run.sh.
#
# The load is bench/tools/mw_load (SIP calls straight to the worker, 20 ms
# PCMU both ways, tagged audio measured through the echo; in ng mode the
# same streams through rtpengine). One worker with one event loop
# (BYOC_WORKER_THREADS=1) pinned to the last core; mw_load, the agent and
# Redis share the other core(s) and their CPU is reported too.
#
# Per step of concurrent calls (BENCH_WORKER_STEPS; a fresh worker per
# step; calls ramped at BENCH_WORKER_RATE/s, then BENCH_WORKER_WARMUP s,
# then a window of BENCH_WORKER_SECONDS s): worker CPU (% of its core, per
# call, per media frame), RSS per call, loss, pacing jitter of the
# worker's RTP, the round trip through the echo, the worker's own
# latency histograms (/metrics, scraped at the window's edges), and the
# CPU of the agent, Redis and mw_load. Stops after the first saturated
# step (loss, failed calls, dropped frames, or the worker's core full).
#
# CPU figures are per process (utime + stime of /proc/PID/stat, which the
# kernel scales to the scheduler's exact run time); this kernel samples
# the user/system split and /proc/stat's per-core busy time at its 250 Hz
# tick, which is biased for a process that wakes on a millisecond grid
# (the worker's media clock), so the split is only indicative and
# per-core busy time is not reported.
W_BASE=${BENCH_WORKER_PORT_BASE:-26000}
W_STEPS=${BENCH_WORKER_STEPS:-100 200 300 400 500 750 1000}
W_SECONDS=${BENCH_WORKER_SECONDS:-30}
W_WARMUP=${BENCH_WORKER_WARMUP:-5}
W_RATE=${BENCH_WORKER_RATE:-100}
W_RTPE_CALLS=${BENCH_WORKER_RTPE_CALLS:-250}
W_RUN="$BENCH_OUT/worker"
W_SIP=$((W_BASE + 10))
W_ADMIN=$((W_BASE + 11))
W_REDIS=$((W_BASE + 30))
W_RTPE_NG=$((W_BASE + 40))
W_AGENT=$((W_BASE + 50))
W_GEN_SIP=$((W_BASE + 1))
W_GEN_NG=$((W_BASE + 41))
# RTP: mw_load 55000-55003, the worker 56000-61999, rtpengine 62000-64999
# (integration test slots 1-18 reach 54999; the edge bench's rtpengine
# uses 40000-59999: do not run both benchmarks at once)
W_GEN_RTP=55000
W_RTP_PORTS=56000-61999
MW_BIN="$BYOC_BUILD/services/media-worker"
MW_LOAD="$BYOC_BUILD/bench/mw_load"
[ -x "$MW_LOAD" ] || die "$MW_LOAD not built (./byoc build)"
rm -rf "$W_RUN"
mkdir -p "$W_RUN"
ulimit -n 65536 2>/dev/null || true

# the worker (and rtpengine) alone on the last core, everything else on
# the others; all of them at nice BENCH_WORKER_NICE (default -10 as root)
# so that unrelated work on a shared machine (builds at nice 0) disturbs
# the timing less; CPU accounting is the same either way
NCPU=$(nproc)
W_NICE=${BENCH_WORKER_NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}
# With BENCH_WORKER_RT=1 (the default as root) the worker and rtpengine
# run SCHED_FIFO (priority 10), mw_load SCHED_FIFO 6 and the agent 5:
# whenever they have work they get their core at once, as a media process
# deployed with real-time priority would; other processes on the machine
# (a shared build box) then cannot stall the load or the echo. Everything
# is bounded (fixed steps, fixed windows). 0 turns it off.
W_RT=${BENCH_WORKER_RT:-$([ "$(id -u)" = 0 ] && command -v chrt >/dev/null && echo 1 || echo 0)}
RT=()
RT_O=()
RT_G=()
if [ "$W_RT" = 1 ]; then
	RT=(chrt -f 10)
	RT_O=(chrt -f 5)
	RT_G=(chrt -f 6) # the load before the echo: a busy agent never starves it
fi
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
	W_CORE=$((NCPU - 1))
	PIN_W=(nice -n "$W_NICE" "${RT[@]}" taskset -c "$W_CORE")
	PIN_O=(nice -n "$W_NICE" taskset -c "0-$((NCPU - 2))")
	PIN_RT=(nice -n "$W_NICE" "${RT_O[@]}" taskset -c "0-$((NCPU - 2))")
	PIN_G=(nice -n "$W_NICE" "${RT_G[@]}" taskset -c "0-$((NCPU - 2))")
else
	W_CORE=-1
	PIN_W=(nice -n "$W_NICE" "${RT[@]}")
	PIN_O=(nice -n "$W_NICE")
	PIN_RT=(nice -n "$W_NICE" "${RT_O[@]}")
	PIN_G=(nice -n "$W_NICE" "${RT_G[@]}")
fi

wkli() { redis-cli -p "$W_REDIS" "$@"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; } # file key

# Quantile q of the worker's latency histogram 'dir' over the window (the
# difference of the two scrapes), linear inside a bucket, in ms.
hist_q() { # prefix dir q
	[ -s "$1.start" ] && [ -s "$1.end" ] || {
		echo -
		return
	}
	awk -v d="$2" -v q="$3" '
		index($0, "byoc_worker_media_latency_seconds_bucket{dir=\"" d "\"") == 1 {
			le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le)
			if (FILENAME ~ /\.start$/) s[le] = $2; else { e[le] = $2; order[n++] = le }
		}
		END {
			if (!n) { print "-"; exit }
			tot = e["+Inf"] - s["+Inf"]
			if (tot <= 0) { print "-"; exit }
			want = q * tot; prev = 0; pc = 0
			for (i = 0; i < n; i++) {
				le = order[i]; c = e[le] - s[le]
				if (c >= want) {
					if (le == "+Inf") { printf ">%.3g", prev * 1000; exit }
					f = c > pc ? (want - pc) / (c - pc) : 1
					printf "%.2f", (prev + f * (le - prev)) * 1000; exit
				}
				prev = le; pc = c
			}
		}' "$1.start" "$1.end"
}
# Increase of a counter (summed over its labels) over the window.
metric_delta() { # prefix name
	[ -s "$1.start" ] && [ -s "$1.end" ] || {
		echo -
		return
	}
	awk -v m="$2" '
		$1 == m || index($1, m "{") == 1 {
			if (FILENAME ~ /\.start$/) s += $2; else e += $2; seen = 1
		}
		END { if (seen) printf "%.0f", e - s; else print "-" }' "$1.start" "$1.end"
}
us_per() { # cpu_seconds window_s units -> microseconds per unit and second
	awk -v c="$1" -v w="$2" -v n="$3" 'BEGIN { if (w > 0 && n > 0) printf "%.0f", c * 1e6 / w / n; else print "-" }'
}

"${PIN_O[@]}" redis-server --port "$W_REDIS" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize no --logfile "$W_RUN/redis.log" >/dev/null 2>&1 &
W_REDIS_PID=$!
BENCH_PIDS+=("$W_REDIS_PID")
wait_for 50 wkli ping || die "redis did not start"
wkli HSET byoc:v1:agent:bench-echo ws_url "ws://127.0.0.1:$W_AGENT/stream" \
	tenant bench name "bench echo" >/dev/null

# the reference agent: echo mode, no greeting (echo from the first frame),
# nothing written to disk
"${PIN_RT[@]}" "$MW_BIN/byoc-ref-agent" --listen "127.0.0.1:$W_AGENT" --log-level info --stats-s 5 \
	>"$W_RUN/agent.log" 2>&1 &
W_AGENT_PID=$!
BENCH_PIDS+=("$W_AGENT_PID")
wait_for 50 bash -c "exec 3<>/dev/tcp/127.0.0.1/$W_AGENT" || die "byoc-ref-agent did not start"

start_worker() { # tag
	BYOC_WORKER_ID=bench-w BYOC_WORKER_SIP="127.0.0.1:$W_SIP" \
		BYOC_WORKER_RTP_IP=127.0.0.1 BYOC_WORKER_RTP_PORTS="$W_RTP_PORTS" \
		BYOC_WORKER_ADMIN="127.0.0.1:$W_ADMIN" BYOC_WORKER_THREADS=1 \
		BYOC_WORKER_CAPACITY=4000 BYOC_WORKER_HEARTBEAT=2 BYOC_WORKER_DRAIN_GRACE=1 \
		BYOC_REDIS_URL="redis://127.0.0.1:$W_REDIS/0" BYOC_LOG_LEVEL=notice \
		"${PIN_W[@]}" env ${BENCH_WORKER_ENV:-} "$MW_BIN/byoc-media-worker" \
		>"$W_RUN/worker-$1.log" 2>&1 &
	W_PID=$!
	BENCH_PIDS+=("$W_PID")
	wait_for 100 curl -sf "http://127.0.0.1:$W_ADMIN/readyz" ||
		die "the worker did not start (see $W_RUN/worker-$1.log)"
}
stop_worker() {
	kill "$W_PID" 2>/dev/null || true
	wait "$W_PID" 2>/dev/null || true
}

load() { # out-prefix mw_load-args...
	local out=$1
	shift
	"${PIN_G[@]}" timeout 900 "$MW_LOAD" --rate "$W_RATE" --warmup "$W_WARMUP" \
		--duration "$W_SECONDS" --core "$W_CORE" "$@" >"$out.txt" 2>"$out.err" || true
}

declare -A W
W_DONE=()

# --- baseline: rtpengine (userspace, one thread) relaying both ways ---
# (BENCH_WORKER_RTPE_CALLS=0 skips it)
[ "$W_RTPE_CALLS" -gt 0 ] && {
log "worker: baseline, rtpengine relaying $W_RTPE_CALLS calls (both legs mw_load's)"
"${PIN_W[@]}" rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
	--listen-ng="127.0.0.1:$W_RTPE_NG" --port-min=62000 --port-max=64999 \
	--timeout=60 --delete-delay=0 --num-threads=1 --foreground --log-stderr \
	--log-level=4 >"$W_RUN/rtpengine.log" 2>&1 &
W_RTPE_PID=$!
BENCH_PIDS+=("$W_RTPE_PID")
sleep 1 # ng is UDP: nothing to poll; rtpengine is up well within a second
load "$W_RUN/rtpengine" --mode ng --target "127.0.0.1:$W_RTPE_NG" \
	--sip-port "$W_GEN_NG" --rtp-port "$W_GEN_RTP" --calls "$W_RTPE_CALLS" \
	--pid "rtpengine=$W_RTPE_PID" --pid gen=self
kill "$W_RTPE_PID" 2>/dev/null || true
wait "$W_RTPE_PID" 2>/dev/null || true
f="$W_RUN/rtpengine.txt"
if [ -s "$f" ] && [ "$(kv "$f" calls_up)" -gt 0 ] 2>/dev/null; then
	c=$(awk -v u="$(kv "$f" cpu_rtpengine_user_s)" -v s="$(kv "$f" cpu_rtpengine_sys_s)" 'BEGIN { print u + s }')
	W[rtpe.calls]=$(kv "$f" calls_up)
	W[rtpe.cpu]=$(kv "$f" cpu_rtpengine_pct)
	W[rtpe.percall]=$(us_per "$c" "$(kv "$f" window_s)" "${W[rtpe.calls]}")
	# a relayed packet: one received and one sent (100 per call-second)
	W[rtpe.perpkt]=$(awk -v c="$c" -v n="$(kv "$f" rtp_tx)" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "-" }')
	W[rtpe.user]=$(awk -v u="$(kv "$f" cpu_rtpengine_user_s)" -v n="$(kv "$f" rtp_tx)" 'BEGIN { if (n > 0) printf "%.1f", u * 1e6 / n; else print "-" }')
	W[rtpe.loss]="$(kv "$f" loss_pct) / $(kv "$f" gap_pct)"
	W[rtpe.ipd]="$(awk -v a="$(kv "$f" ipd_p50_us)" -v b="$(kv "$f" ipd_p99_us)" -v c="$(kv "$f" ipd_max_us)" 'BEGIN { printf "%.2f / %.2f / %.1f", a / 1000, b / 1000, c / 1000 }')"
	W[rtpe.lat]="$(awk -v a="$(kv "$f" lat_p50_us)" -v b="$(kv "$f" lat_p99_us)" 'BEGIN { printf "%.2f / %.2f", a / 1000, b / 1000 }')"
	W[rtpe.gen]=$(kv "$f" cpu_gen_pct)
	W[rtpe.steal]=$(kv "$f" core_steal_pct)
	W[rtpe.rss]=$(kv "$f" rss_rtpengine_kb_end)
fi
}

# --- the worker, step by step ---
W_SAT=-
W_LAST_OK=-
W_RIG=-
for n in $W_STEPS; do
	log "worker: $n concurrent calls ($W_SECONDS s window)"
	start_worker "$n"
	sleep 1
	r0=$(rss_kb "$W_PID")
	load "$W_RUN/step-$n" --target "127.0.0.1:$W_SIP" --sip-port "$W_GEN_SIP" \
		--rtp-port "$W_GEN_RTP" --calls "$n" --agent bench-echo \
		--pid "worker=$W_PID" --pid "agent=$W_AGENT_PID" --pid "redis=$W_REDIS_PID" \
		--pid gen=self --scrape "127.0.0.1:$W_ADMIN" --scrape-out "$W_RUN/metrics-$n"
	stop_worker
	f="$W_RUN/step-$n.txt"
	W_DONE+=("$n")
	up=$(kv "$f" calls_up)
	[ -n "$up" ] || up=0
	win=$(kv "$f" window_s)
	c=$(awk -v u="$(kv "$f" cpu_worker_user_s)" -v s="$(kv "$f" cpu_worker_sys_s)" 'BEGIN { print u + s }')
	m="$W_RUN/metrics-$n"
	W[$n.calls]="$up / $(kv "$f" calls_failed)"
	W[$n.cpu]=$(kv "$f" cpu_worker_pct)
	W[$n.user]=$(awk -v u="$(kv "$f" cpu_worker_user_s)" -v s="$(kv "$f" cpu_worker_sys_s)" 'BEGIN { if (u + s > 0) printf "%.0f", 100 * u / (u + s); else print "-" }')
	W[$n.percall]=$(us_per "$c" "$win" "$up")
	W[$n.perframe]=$(awk -v c="$c" -v w="$win" -v n="$up" 'BEGIN { if (w > 0 && n > 0) printf "%.1f", c * 1e6 / (w * n * 100); else print "-" }')
	W[$n.steal]=$(kv "$f" core_steal_pct)
	W[$n.rss]=$(awk -v a="$r0" -v b="$(kv "$f" rss_worker_kb_end)" -v n="$up" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "-" }')
	W[$n.rss0]=$r0
	W[$n.loss]="$(kv "$f" loss_pct) / $(kv "$f" gap_pct)"
	W[$n.ipd]="$(awk -v a="$(kv "$f" ipd_p50_us)" -v b="$(kv "$f" ipd_p99_us)" -v c="$(kv "$f" ipd_max_us)" 'BEGIN { printf "%.2f / %.2f / %.1f", a / 1000, b / 1000, c / 1000 }')"
	W[$n.rtt]="$(awk -v a="$(kv "$f" lat_min_us)" -v b="$(kv "$f" lat_p50_us)" -v c="$(kv "$f" lat_p99_us)" 'BEGIN { printf "%.1f / %.1f / %.1f", a / 1000, b / 1000, c / 1000 }')"
	W[$n.echo]=$(kv "$f" echo_ratio)
	W[$n.toai]="$(hist_q "$m" to_ai 0.5) / $(hist_q "$m" to_ai 0.99)"
	W[$n.tocaller]="$(hist_q "$m" to_caller 0.5) / $(hist_q "$m" to_caller 0.99)"
	W[$n.wlost]="$(metric_delta "$m" byoc_worker_rtp_lost_total) / $(metric_delta "$m" byoc_worker_rtp_late_total) / $(metric_delta "$m" byoc_worker_inbound_frames_dropped_total) / $(metric_delta "$m" byoc_worker_playout_underruns_total)"
	W[$n.agent]="$(kv "$f" cpu_agent_pct) ($(us_per "$(awk -v u="$(kv "$f" cpu_agent_user_s)" -v s="$(kv "$f" cpu_agent_sys_s)" 'BEGIN { print u + s }')" "$win" "$up"))"
	W[$n.gen]=$(kv "$f" cpu_gen_pct)
	W[$n.rig]=$(awk -v a="$(kv "$f" cpu_gen_pct)" -v b="$(kv "$f" cpu_agent_pct)" -v c="$(kv "$f" cpu_redis_pct)" 'BEGIN { printf "%.1f", a + b + c }')
	W[$n.redis]=$(kv "$f" cpu_redis_pct)
	W[$n.ended]=$(kv "$f" ended_by_peer)
	# what mw_load managed to send (the rig shares a core with the agent)
	W[$n.sent]=$(awk -v t="$(kv "$f" rtp_tx)" -v n="$up" -v w="$win" 'BEGIN { if (n > 0 && w > 0) printf "%.1f", 100 * t / (50 * n * w); else print "-" }')
	sat=$(awk -v up="$up" -v n="$n" -v fl="$(kv "$f" calls_failed)" -v lo="$(kv "$f" rtp_lost)" \
		-v gp="$(kv "$f" gap_pct)" -v cpu="$(kv "$f" cpu_worker_pct)" -v en="$(kv "$f" ended_by_peer)" \
		-v dr="$(metric_delta "$m" byoc_worker_inbound_frames_dropped_total)" \
		-v wl="$(metric_delta "$m" byoc_worker_rtp_lost_total)" \
		'BEGIN { print (up < n || fl > 0 || lo > 0 || gp > 0 || cpu >= 95 || en > 0 || (dr != "-" && dr > 0) || (wl != "-" && wl > 0)) ? 1 : 0 }')
	# the rig (mw_load and the echo agent on the other core) at its limit:
	# the round trip and echo figures from here on measure the rig
	if [ "$W_RIG" = - ] && awk -v e="${W[$n.echo]}" -v r="${W[$n.rig]}" \
		'BEGIN { exit !((e != "" && e != "-" && e + 0 < 0.99) || r + 0 >= 90) }'; then
		W_RIG="$n (tags echoed ${W[$n.echo]}, the rig's core ${W[$n.rig]} %)"
	fi
	if [ "$sat" = 1 ]; then
		W_SAT=$n
		break
	fi
	if awk -v s="${W[$n.sent]}" 'BEGIN { exit !(s != "-" && s < 99) }'; then
		W_SAT="$n (load not delivered: mw_load sent ${W[$n.sent]} %)"
		break
	fi
	W_LAST_OK=$n
	sleep 2
done

{
	echo "## Media worker: concurrent calls on one core ($(date -u +%Y-%m-%d), $NCPU cores, $(uname -m))"
	echo
	echo "One worker, one event loop (\`BYOC_WORKER_THREADS=1\`) pinned to core $W_CORE; mw_load (SIP + RTP), byoc-ref-agent (echo) and Redis on the other core(s); all at nice $W_NICE$([ "$W_RT" = 1 ] && echo ", worker and rtpengine SCHED_FIFO 10, mw_load 6, the agent 5").${BENCH_WORKER_ENV:+ Worker environment: \`$BENCH_WORKER_ENV\`.}"
	echo "G.711 μ-law, 20 ms both ways; calls ramped at $W_RATE/s, $W_WARMUP s warm-up, then a $W_SECONDS s window; a fresh worker per step."
	echo "rtpengine (userspace, \`--table=-1\`, one thread, same core and scheduling) relays $W_RTPE_CALLS calls of the same streams in the same run."
	echo
	hdr=("")
	sep=("---")
	for n in "${W_DONE[@]}"; do
		hdr+=("$n calls")
		sep+=("---")
	done
	hdr+=("rtpengine, ${W[rtpe.calls]:--} calls")
	sep+=("---")
	md_row "${hdr[@]}"
	md_row "${sep[@]}"
	row() { # label key [rtpengine value]
		local r=("$1") n
		for n in "${W_DONE[@]}"; do r+=("${W[$n.$2]:--}"); done
		r+=("${3:--}")
		md_row "${r[@]}"
	}
	row "calls up / failed" calls "${W[rtpe.calls]:--} / 0"
	row "RTP sent by mw_load, % of 50 packets/s per call" sent ""
	row "worker CPU, % of its core" cpu "${W[rtpe.cpu]:--}"
	row "  of which user space, % (split sampled at the kernel tick)" user ""
	row "CPU per call (µs per second of call)" percall "${W[rtpe.percall]:--}"
	row "CPU per media frame (µs; 100 frames per call-second: 50 in, 50 out)" perframe "${W[rtpe.perpkt]:--}"
	row "worker core stolen by the hypervisor, %" steal "${W[rtpe.steal]:--}"
	row "RSS per call (KiB; RSS at the window's end less the idle worker's)" rss ""
	row "loss, %: sequence gaps / packets missing by media time" loss "${W[rtpe.loss]:--}"
	row "pacing jitter of the worker's RTP, ms: p50 / p99 / max" ipd "${W[rtpe.ipd]:--}"
	row "round trip through the echo, ms: min / p50 / p99" rtt ""
	row "tags echoed / sent" echo ""
	row "worker, RTP due → frame on the WebSocket, ms: p50 / p99" toai ""
	row "worker, AI audio → its first RTP packet (less the tick wait), ms: p50 / p99" tocaller ""
	row "worker counters: RTP lost / late / frames dropped / underruns" wlost ""
	row "calls ended by the worker" ended ""
	row "byoc-ref-agent CPU, % (µs per call-second)" agent ""
	row "mw_load CPU, %" gen "${W[rtpe.gen]:--}"
	row "Redis CPU, %" redis ""
	row "the rig's core: mw_load + agent + Redis CPU, %" rig "${W[rtpe.gen]:--}"
	echo
	echo "rtpengine one-way relay latency, ms: p50 / p99: ${W[rtpe.lat]:--}."
	echo "Saturation (first step with loss, failed calls, dropped frames, the core full, or the load not delivered): ${W_SAT}; highest step without: ${W_LAST_OK}."
	echo "The rig's limit (first step where the echo returned < 99 % of the tags or the rig's core was >= 90 % busy; round trips from there on measure the rig, not the worker): ${W_RIG}."
} | tee "$BENCH_OUT/worker.md"
bench_cleanup
