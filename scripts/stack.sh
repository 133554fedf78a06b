# SPDX-License-Identifier: GPL-2.0-or-later
# stack.sh -- start and stop a local byoc-edge stack on loopback: Redis,
# rtpengine (userspace only) and Kamailio with kamailio-cfg/. Sourced by
# ./byoc (up/down/status/env) and by the integration tests, which run
# several stacks side by side by giving each its own BYOC_RUN and
# BYOC_PORT_BASE. Only processes started here are stopped, by pid.
#
# Port layout from BYOC_PORT_BASE (default 5060):
#   +0 SIP udp/tcp   +1 SIP tls   +20 admin HTTP   +30 Redis
#   +40 rtpengine ng +41 rtpengine cli
# RTP ports: rtpengine BYOC_RTP_MIN .. +BYOC_RTP_SPAN-1 (default 30000,
# 1000); tests use a span of 600 and give +600.. to workers and phones.

stack_vars() {
	: "${BYOC_RUN:=$BYOC_BUILD/run/stack}"
	: "${BYOC_PORT_BASE:=5060}"
	: "${BYOC_RTP_MIN:=30000}"
	: "${BYOC_RTP_SPAN:=1000}"
	export BYOC_RUN BYOC_PORT_BASE BYOC_RTP_MIN BYOC_RTP_SPAN
	export BYOC_SIP_IP="${BYOC_SIP_IP:-127.0.0.1}"
	export BYOC_SIP_PORT=$BYOC_PORT_BASE
	export BYOC_TLS_PORT=$((BYOC_PORT_BASE + 1))
	export BYOC_FROM_HOST="${BYOC_FROM_HOST:-$BYOC_SIP_IP}"
	export BYOC_ADMIN_IP="${BYOC_ADMIN_IP:-127.0.0.1}"
	export BYOC_ADMIN_PORT=$((BYOC_PORT_BASE + 20))
	export BYOC_REDIS_PORT=$((BYOC_PORT_BASE + 30))
	export BYOC_REDIS_URL="redis://127.0.0.1:$BYOC_REDIS_PORT/0"
	export BYOC_RTPE_NG_PORT=$((BYOC_PORT_BASE + 40))
	export BYOC_RTPE_CLI_PORT=$((BYOC_PORT_BASE + 41))
	export BYOC_RTPENGINE="udp:127.0.0.1:$BYOC_RTPE_NG_PORT"
	export BYOC_CTL_SOCKET="unix:$BYOC_RUN/kamailio.ctl"
	export BYOC_SECRET_KEY_FILE="${BYOC_SECRET_KEY_FILE:-$BYOC_BUILD/secrets/secret.key}"
	export BYOC_TLS_CERT="${BYOC_TLS_CERT:-$BYOC_BUILD/secrets/tls.crt}"
	export BYOC_TLS_KEY="${BYOC_TLS_KEY:-$BYOC_BUILD/secrets/tls.key}"
	export BYOC_MPATH="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/kamailio/modules:$BYOC_BUILD/modules/byoc_route"
	export BYOC_WORKER_NETWORKS="${BYOC_WORKER_NETWORKS:-127.0.1.0/24}"
	export BYOC_WORKER_SECRET="${BYOC_WORKER_SECRET:-local-worker-secret}"
	export BYOC_LOG_DIR="$BYOC_RUN/log"
	export BYOC_TOPOH_IP="${BYOC_TOPOH_IP:-$BYOC_SIP_IP}"
}

# Waits until 'cmd' succeeds, at most $1 tenths of a second.
wait_for() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_redis() {
	# AOF with fsync once a second (Redis' recommended policy): 'always'
	# puts a disk flush inside every admission, which on a busy disk alone
	# exceeds the proxies' 50 ms Redis timeout
	redis-server --port "$BYOC_REDIS_PORT" --bind 127.0.0.1 --save '' \
		--appendonly yes --appendfsync everysec --appenddirname appendonly \
		--daemonize no --dir "$BYOC_RUN" \
		--logfile "$BYOC_LOG_DIR/redis.log" >/dev/null 2>&1 &
	echo $! >"$BYOC_RUN/redis.pid"
	wait_for 50 redis-cli -p "$BYOC_REDIS_PORT" ping ||
		die "redis did not start (see $BYOC_LOG_DIR/redis.log)"
}

start_rtpengine() {
	# userspace only (--table=-1): no kernel module, no root needed;
	# --config-file=none: ignore Debian's /etc/rtpengine/rtpengine.conf.
	# --timeout: media silence before rtpengine gives up on a call.
	rtpengine --config-file=none --table=-1 --interface="${BYOC_RTP_IP:-127.0.0.1}" \
		--listen-ng="127.0.0.1:$BYOC_RTPE_NG_PORT" \
		--listen-cli="127.0.0.1:$BYOC_RTPE_CLI_PORT" \
		--port-min="$BYOC_RTP_MIN" --port-max=$((BYOC_RTP_MIN + BYOC_RTP_SPAN - 1)) \
		--timeout="${BYOC_MEDIA_TIMEOUT:-60}" --silent-timeout=3600 \
		--delete-delay=0 --num-threads=2 \
		--b2b-url="http://127.0.0.1:$BYOC_ADMIN_PORT/RPC2" --xmlrpc-format=2 \
		--foreground --log-stderr --log-level="${BYOC_RTPE_LOG_LEVEL:-6}" \
		--pidfile="$BYOC_RUN/rtpengine.pid.d" \
		>"$BYOC_LOG_DIR/rtpengine.log" 2>&1 &
	echo $! >"$BYOC_RUN/rtpengine.pid"
	wait_for 50 grep -q "Startup complete" "$BYOC_LOG_DIR/rtpengine.log" ||
		die "rtpengine did not start (see $BYOC_LOG_DIR/rtpengine.log)"
}

start_kamailio() {
	local cfg="${BYOC_KAMAILIO_CFG:-$BYOC_ROOT/kamailio-cfg/byoc-edge.cfg}"
	kamailio -f "$cfg" -DD -E -x tlsf -X tlsf -m "${BYOC_SHM_MB:-256}" \
		-M "${BYOC_PKG_MB:-16}" -P "$BYOC_RUN/kamailio.pid.d" \
		-Y "$BYOC_RUN" >"$BYOC_LOG_DIR/kamailio.log" 2>&1 &
	echo $! >"$BYOC_RUN/kamailio.pid"
	wait_for 100 kamcmd -s "$BYOC_CTL_SOCKET" core.uptime ||
		die "kamailio did not start (see $BYOC_LOG_DIR/kamailio.log)"
}

write_env() {
	cat >"$BYOC_RUN/stack.env" <<EOF
BYOC_SIP_UDP=$BYOC_SIP_IP:$BYOC_SIP_PORT
BYOC_SIP_TCP=$BYOC_SIP_IP:$BYOC_SIP_PORT
BYOC_SIP_TLS=$BYOC_SIP_IP:$BYOC_TLS_PORT
BYOC_CTL_SOCKET=$BYOC_CTL_SOCKET
BYOC_JSONRPC_URL=http://$BYOC_ADMIN_IP:$BYOC_ADMIN_PORT/jsonrpc
BYOC_METRICS_URL=http://$BYOC_ADMIN_IP:$BYOC_ADMIN_PORT/metrics
BYOC_REDIS_URL=$BYOC_REDIS_URL
BYOC_RTPENGINE_NG=$BYOC_RTPENGINE
BYOC_RTPENGINE_CLI=127.0.0.1:$BYOC_RTPE_CLI_PORT
BYOC_RTP_PORTS=$BYOC_RTP_MIN-$((BYOC_RTP_MIN + BYOC_RTP_SPAN - 1))
BYOC_WORKER_NETWORKS=$BYOC_WORKER_NETWORKS
BYOC_LOG_DIR=$BYOC_LOG_DIR
EOF
}

stack_up() {
	stack_vars
	if pid_alive "$BYOC_RUN/kamailio.pid"; then
		log "stack already running (./byoc down first)"
		return 0
	fi
	mkdir -p "$BYOC_RUN" "$BYOC_LOG_DIR"
	start_redis
	start_rtpengine
	start_kamailio
	write_env
	log "stack up; endpoints: ./byoc env"
}

stack_down() {
	local p f pid n
	stack_vars
	# reverse start order; a gentle TERM, then KILL after 5 s
	for p in kamailio rtpengine redis worker agent; do
		for f in "$BYOC_RUN/$p".pid "$BYOC_RUN/$p"-*.pid; do
			[ -s "$f" ] || continue
			pid=$(cat "$f")
			if kill -0 "$pid" 2>/dev/null; then
				kill -TERM "$pid" 2>/dev/null || true
				n=50
				while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
					sleep 0.1
					n=$((n - 1))
				done
				kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
			fi
			rm -f "$f"
		done
	done
	rm -f "$BYOC_RUN/stack.env"
}

stack_status() {
	local p f rc=0
	stack_vars
	for p in redis rtpengine kamailio; do
		f="$BYOC_RUN/$p.pid"
		if pid_alive "$f"; then
			printf '%-10s running (pid %s)\n' "$p" "$(cat "$f")"
		else
			printf '%-10s stopped\n' "$p"
			rc=1
		fi
	done
	return $rc
}

stack_env() {
	stack_vars
	[ -f "$BYOC_RUN/stack.env" ] || die "the stack is not running (./byoc up)"
	cat "$BYOC_RUN/stack.env"
}
