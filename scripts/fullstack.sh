# SPDX-License-Identifier: GPL-2.0-or-later
# fullstack.sh -- the AI side of a local stack (reference agent, media
# workers) and a real phone (baresip) as the carrier, on top of
# stack.sh's edge. Sourced by scripts/demo.sh and the end-to-end tests.
# Ports (from BYOC_PORT_BASE): +50 agent, +51.. workers' SIP (+2 each),
# +55.. workers' admin; RTP: workers from BYOC_RTP_MIN+600 (100 each),
# the phone +900..+999 (rtpengine keeps BYOC_RTP_MIN..+599 in tests).

FS_BIN="$BYOC_BUILD/services/media-worker"

# Call after stack_vars (ports follow BYOC_PORT_BASE).
fullstack_vars() {
	FS_AGENT_PORT=$((BYOC_PORT_BASE + 50))
	FS_WORKER_PORT=$((BYOC_PORT_BASE + 51))
	FS_WORKER_ADMIN=$((BYOC_PORT_BASE + 55))
}

# Spoken test audio, 8 kHz mono 16-bit: the agent's greeting and what
# the caller says.
fullstack_audio() { # dir
	mkdir -p "$1"
	[ -s "$1/greeting.wav" ] && return 0
	espeak-ng -s 150 -w "$1/greeting.raw.wav" \
		"Hello. You have reached the bring your own carrier demo agent. Say something and I will repeat it." \
		>/dev/null 2>&1
	sox "$1/greeting.raw.wav" -r 8000 -c 1 -b 16 "$1/greeting.wav"
	espeak-ng -s 140 -w "$1/caller.raw.wav" \
		"This is a call from the carrier network. Testing audio, one two three four five." \
		>/dev/null 2>&1
	# a second of silence first: the agent is greeting while it plays
	# baresip hangs up when its microphone file ends: trailing silence keeps
	# the call up while the echo comes back and digits are keyed
	sox "$1/caller.raw.wav" -r 8000 -c 1 -b 16 "$1/caller.wav" pad 1.5 12
}

# The reference agent on port 'port' (default FS_AGENT_PORT); extra
# options select its mode (--mode silent, hangup-after=N, ...).
fullstack_agent() { # out-dir [port] [extra agent options...]
	local out=$1 port=${2:-$FS_AGENT_PORT}
	shift 2 || shift $#
	mkdir -p "$out"
	"$FS_BIN/byoc-ref-agent" --listen "127.0.0.1:$port" \
		--greeting "$BYOC_RUN/audio/greeting.wav" --record-dir "$out" \
		--events-dir "$out" "$@" >"$BYOC_LOG_DIR/agent-$port.log" 2>&1 &
	echo $! >"$BYOC_RUN/agent-$port.pid"
	wait_for 50 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" ||
		die "the reference agent did not start (see $BYOC_LOG_DIR/agent-$port.log)"
}

fullstack_worker() { # id ip [index] [extra worker options...]
	local id=$1 ip=$2 idx=${3:-0}
	shift 3 || shift $#
	local sip=$((FS_WORKER_PORT + 2 * idx)) admin=$((FS_WORKER_ADMIN + idx))
	BYOC_WORKER_ID="$id" BYOC_WORKER_SIP="$ip:$sip" BYOC_WORKER_RTP_IP="$ip" \
		BYOC_WORKER_RTP_PORTS="$((BYOC_RTP_MIN + 600 + 100 * idx))-$((BYOC_RTP_MIN + 699 + 100 * idx))" \
		BYOC_WORKER_DRAIN_GRACE=1 \
		BYOC_WORKER_ADMIN="127.0.0.1:$admin" BYOC_WORKER_THREADS=2 \
		BYOC_WORKER_HEARTBEAT=1 BYOC_REDIS_URL="$BYOC_REDIS_URL" \
		BYOC_SECRET_KEY_FILE="$BYOC_SECRET_KEY_FILE" \
		"$FS_BIN/byoc-media-worker" "$@" >"$BYOC_LOG_DIR/worker-$id.log" 2>&1 &
	echo $! >"$BYOC_RUN/worker-$id.pid"
	wait_for 50 curl -sf "http://127.0.0.1:$admin/healthz" ||
		die "worker $id did not start (see $BYOC_LOG_DIR/worker-$id.log)"
}

fullstack_provision() { # trunk agent did carrier-ip
	local k="kamcmd -s $BYOC_CTL_SOCKET"
	$k byoc.trunk_set "$1" tenant=demo "name=Demo Carrier" cidrs="$4/32" \
		direction=both host="$4" codecs=PCMU,PCMA country_code=1 \
		national_length=10 max_calls=20 max_cps=5 >/dev/null
	$k byoc.agent_set "$2" tenant=demo "name=Demo Agent" \
		ws_url="ws://127.0.0.1:$FS_AGENT_PORT/stream" >/dev/null
	$k byoc.did_import "$1" "s:$3" >/dev/null
	$k byoc.did_bind "s:$3" "$2" >/dev/null
}

# Sends a command to a running baresip through its ctrl_tcp module
# (netstring-framed JSON).
baresip_cmd() { # port command params
	local json n
	json=$(printf '{"command":"%s","params":"%s","token":"t"}' "$2" "$3")
	n=${#json}
	exec 7<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '%d:%s,' "$n" "$json" >&7
	timeout 0.5 head -c 200 <&7 >/dev/null 2>&1 || true
	exec 7>&-
}

# A real phone on the carrier side: baresip at $FS_PHONE_IP (127.0.0.2)
# with media encryption $FS_MEDIAENC (none, srtp-mand = SDES, dtls_srtp)
# dials the number
# at the edge, uses 'wav' as its microphone, records what it hears into
# out/caller-heard.wav, keys 'digits' as RFC 4733 DTMF after 8 s, hangs
# up after 'seconds'. Codecs: $FS_CODECS (baresip's audio_codecs,
# default PCMU/8000/1,PCMA/8000/1; G722/16000/1, opus/48000/2 for
# wideband calls).
fullstack_call() { # number wav out seconds [digits]
	local num=$1 wav=$2 out=$3 secs=$4 digits=${5:-}
	local cfg="$BYOC_RUN/baresip" ctrl=$((BYOC_PORT_BASE + 58))
	rm -rf "$cfg"
	mkdir -p "$cfg/rec" "$out"
	cat >"$cfg/config" <<EOF
poll_method		epoll
sip_listen		${FS_PHONE_IP:-127.0.0.2}:$((BYOC_PORT_BASE + 57))
sip_trans_def		udp
module_path		/usr/lib/baresip/modules
module			g711.so
module			g722.so
module			opus.so
module			aufile.so
module			sndfile.so
module			srtp.so
module			dtls_srtp.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
audio_source		aufile,$wav
audio_player		aufile,$cfg/rec/player.wav
audio_alert		aufile,$cfg/rec/alert.wav
snd_path		$cfg/rec
ctrl_tcp_listen		127.0.0.1:$ctrl
rtp_ports		$((BYOC_RTP_MIN + 900))-$((BYOC_RTP_MIN + 999))
audio_buffer		20-160
EOF
	local enc=""
	[ -n "${FS_MEDIAENC:-}" ] && enc=";mediaenc=$FS_MEDIAENC"
	echo "<sip:carrier@${FS_PHONE_IP:-127.0.0.2}>;regint=0;audio_codecs=${FS_CODECS:-PCMU/8000/1,PCMA/8000/1}$enc" >"$cfg/accounts"
	: >"$cfg/contacts"
	baresip -f "$cfg" -e "/dial sip:$num@$BYOC_SIP_IP:$BYOC_SIP_PORT" -t "$secs" \
		>"$out/baresip.log" 2>&1 &
	local bp=$!
	echo $bp >"$BYOC_RUN/baresip.pid"
	if [ -n "$digits" ]; then
		sleep 8
		local d i
		# character by character (no word splitting: '*' must not glob)
		for ((i = 0; i < ${#digits}; i++)); do
			d=${digits:i:1}
			baresip_cmd "$ctrl" sndcode "$d" || true
			sleep 1
		done
	fi
	wait "$bp" || true
	rm -f "$BYOC_RUN/baresip.pid"
	# sndfile writes what the phone decoded (heard) as *-dec.wav
	local heard
	heard=$(ls -t "$cfg/rec/"*dec*.wav 2>/dev/null | head -1 || true)
	[ -n "$heard" ] && cp "$heard" "$out/caller-heard.wav"
	cp "$wav" "$out/caller-said.wav"
}

fullstack_report() { # out [agent-dir]
	local out=$1 adir=${2:-$1} ev rec
	ev=$(ls -t "$adir"/*.jsonl 2>/dev/null | head -1 || true)
	# the agent completes its recording and logs "closed" when the worker
	# closes the stream, just after the phone hung up: wait for it (5 s)
	[ -n "$ev" ] && { wait_for 50 grep -q '"event":"closed"' "$ev" || true; }
	rec=$(ls -t "$adir"/MZ*.wav 2>/dev/null | head -1 || true)
	[ -n "$rec" ] && cp "$rec" "$out/agent-heard.wav"
	[ -n "$ev" ] && cp "$ev" "$out/events.jsonl"
	if [ -z "$ev" ]; then
		echo "the agent saw no call (see $BYOC_LOG_DIR)"
		return 1
	fi
	echo "the agent answered: $(grep -c '"event"' "$out/events.jsonl" || true) events"
	grep -o '"customParameters":{[^}]*}' "$out/events.jsonl" | head -1 || true
	echo "DTMF received by the agent: $(grep -o '"digit":"[^"]*"' "$out/events.jsonl" | cut -d'"' -f4 | tr -d '\n')"
	if [ -s "$out/agent-heard.wav" ]; then
		echo "what the agent heard:  $out/agent-heard.wav ($(sox --i -D "$out/agent-heard.wav") s)"
		echo "  vs what the caller said: $("$BYOC_BUILD/tests/tools/wavsim" "$out/caller-said.wav" "$out/agent-heard.wav")"
	fi
	if [ -s "$out/caller-heard.wav" ]; then
		echo "what the caller heard: $out/caller-heard.wav ($(sox --i -D "$out/caller-heard.wav") s)"
		echo "  greeting in it:          $("$BYOC_BUILD/tests/tools/wavsim" "$BYOC_RUN/audio/greeting.wav" "$out/caller-heard.wav")"
		echo "  own voice echoed back:   $("$BYOC_BUILD/tests/tools/wavsim" "$out/caller-said.wav" "$out/caller-heard.wav")"
	fi
}

fullstack_down() {
	local f
	for f in "$BYOC_RUN"/baresip*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	stack_down
}
