# SPDX-License-Identifier: GPL-2.0-or-later
# proxy.sh -- what the proxy benchmarks share: Redis, a stand-in worker,
# the two Kamailio variants (bench/cfg/byoc.cfg and stock.cfg) and their
# provisioning. Sourced by signalling.sh and edge.sh with BENCH_NAME set.

SIG_BASE=${BENCH_PORT_BASE:-25000}
SIG_PORT=$SIG_BASE
SIG_REDIS_PORT=$((SIG_BASE + 30))
SIG_WPORT=$((SIG_BASE + 60))
SIG_RUN="$BENCH_OUT/${BENCH_NAME:-signalling}"
DID=+14155550100
rm -rf "$SIG_RUN"
mkdir -p "$SIG_RUN/db"
export BENCH_PORT=$SIG_PORT BENCH_CHILDREN=${BENCH_CHILDREN:-4}
export BENCH_CTL="unix:$SIG_RUN/kamailio.ctl"
export BENCH_MPATH="/usr/lib/x86_64-linux-gnu/kamailio/modules:$BYOC_BUILD/modules/byoc_route"
export BENCH_WORKER="sip:127.0.1.1:$SIG_WPORT"
export BENCH_REDIS="redis://127.0.0.1:$SIG_REDIS_PORT/0"
export BENCH_DB="text://$SIG_RUN/db"
SIPP_UAC="$BYOC_ROOT/tests/sipp/uac_call.xml"

# stock baseline data: permissions address table and htable, db_text
cat >"$SIG_RUN/db/version" <<'DB'
table_name(string) table_version(int)
address:6
htable:2
DB
cat >"$SIG_RUN/db/address" <<'DB'
id(int,auto) grp(int) ip_addr(string) mask(int) port(int) tag(string,null)
1:1:127.0.0.2:32:0:bench
DB
cat >"$SIG_RUN/db/htable" <<DB
id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)
1:$DID:0:2:agent1:0
DB

rkli() { redis-cli -p "$SIG_REDIS_PORT" "$@"; }

redis-server --port "$SIG_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize no --logfile "$SIG_RUN/redis.log" >/dev/null 2>&1 &
REDIS_PID=$!
BENCH_PIDS+=("$REDIS_PID")
wait_for 50 rkli ping || die "redis did not start"

sipp -sf "$BYOC_ROOT/tests/sipp/uas_answer.xml" -i 127.0.1.1 -p "$SIG_WPORT" -nostdin \
	-max_socket 20000 >/dev/null 2>&1 &
BENCH_PIDS+=("$!")

start_kam() { # variant [wrapper...]
	local v=$1
	shift
	"$@" kamailio -f "$BYOC_ROOT/bench/cfg/$v.cfg" -DD -E -x tlsf -X tlsf -m 512 -M 16 \
		${BENCH_KAM_DEFINES:-} \
		-P "$SIG_RUN/kam.pid" >"$SIG_RUN/kamailio-$v.log" 2>&1 &
	KPID=$!
	BENCH_PIDS+=("$KPID")
	wait_for 600 kamcmd -s "$BENCH_CTL" core.uptime || die "kamailio ($v) did not start"
}
provision_byoc() {
	kamcmd -s "$BENCH_CTL" byoc.trunk_set bench tenant=b cidrs=127.0.0.2/32 direction=inbound >/dev/null
	kamcmd -s "$BENCH_CTL" byoc.agent_set agent1 tenant=b ws_url=ws://127.0.0.1:9/a >/dev/null
	kamcmd -s "$BENCH_CTL" byoc.did_import bench "s:$DID" >/dev/null
	kamcmd -s "$BENCH_CTL" byoc.did_bind "s:$DID" agent1 >/dev/null
	rkli HSET byoc:v1:worker:bw addr 127.0.1.1 port "$SIG_WPORT" capacity 1000000 >/dev/null
	rkli SADD byoc:v1:workers bw >/dev/null
	sleep 1.5
}
stop_kam() {
	kill "$KPID" 2>/dev/null || true
	wait "$KPID" 2>/dev/null || true
}
shm_used() { kamcmd -s "$BENCH_CTL" core.shmmem | awk '/used:/ { print $2 }'; }
tm_current() { kamcmd -s "$BENCH_CTL" tm.stats | awk '/current:/ { print $2 }'; }
active_dialogs() { kamcmd -s "$BENCH_CTL" dlg.stats_active | awk '/all:/ { print $2 }'; }
redis_stat() { rkli INFO "$1" | tr -d '\r' | awk -F'[:,=]' -v k="$2" '$1 == k { print $2 } $1 == "cmdstat_" k { print $3 }'; }

