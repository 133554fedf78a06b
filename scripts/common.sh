# SPDX-License-Identifier: GPL-2.0-or-later
# common.sh -- setup/build/test steps of ./byoc. Sourced, not executed.
# Needs BYOC_ROOT and BYOC_BUILD.

# Debian packages the build, the stack and the tests need.
BYOC_PACKAGES=(
	build-essential cmake pkg-config dpkg-dev bison flex git
	kamailio kamailio-tls-modules kamailio-utils-modules
	kamailio-json-modules kamailio-extra-modules kamailio-xml-modules
	rtpengine-daemon rtpengine-utils redis-server redis-tools
	sip-tester baresip espeak-ng sox openssl iproute2 procps psmisc
	libhiredis-dev libjansson-dev libevent-dev libssl-dev libsrtp2-dev
	libosip2-dev libwslay-dev libopus-dev libspandsp-dev libspeexdsp-dev
	libcmocka-dev valgrind curl python3 python3-yaml tcpdump
)

log() { printf '[byoc] %s\n' "$*" >&2; }
die() {
	printf '[byoc] error: %s\n' "$*" >&2
	exit 1
}

# Runs a command as root (we are root in CI; sudo elsewhere).
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root for: $*"
	fi
}

missing_packages() {
	local p st
	for p in "${BYOC_PACKAGES[@]}"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || printf '%s\n' "$p"
	done
}

install_packages() {
	local missing
	missing=$(missing_packages)
	[ -z "$missing" ] && return 0
	log "installing packages: $(echo $missing)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing >/dev/null
	# Debian starts redis-server and rtpengine as services on install; the
	# stack runs its own instances, so leave those alone.
}

# deb-src entry for the suites the binary packages come from.
ensure_deb_src() {
	if grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
		grep -qs '^deb-src ' /etc/apt/sources.list 2>/dev/null; then
		return 0
	fi
	log "adding a deb-src entry for Debian bookworm"
	as_root tee /etc/apt/sources.list.d/byoc-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	as_root apt-get update -q >/dev/null
}

# Prints the path of the configured Kamailio source tree matching the
# installed kamailio package, fetching and configuring it if needed.
kamailio_source() {
	local debver upver dir tree
	debver=$(dpkg-query -W -f='${Version}' kamailio)
	upver=${debver%-*}
	upver=${upver#*:}
	dir="$BYOC_ROOT/.cache/kamailio/$debver"
	tree="$dir/kamailio-$upver"
	if [ ! -f "$tree/src/config.mak" ]; then
		ensure_deb_src
		log "fetching the Kamailio $debver source package"
		rm -rf "$dir"
		mkdir -p "$dir"
		(cd "$dir" && apt-get source -q "kamailio=$debver" >/dev/null 2>&1) ||
			die "apt-get source kamailio=$debver failed"
		[ -d "$tree" ] || die "unexpected source layout in $dir"
		log "configuring the Kamailio tree with Debian's build flags"
		# libssl-dev must be present before 'make cfg' (TLS_PTHREAD_MUTEX_SHARED
		# is part of the compile-flags string the loader compares).
		make -s -C "$tree" cfg prefix=/usr cfg_target=/etc/kamailio/ \
			FLAVOUR=kamailio LIBDIR=lib/"$(dpkg-architecture -qDEB_HOST_MULTIARCH)" \
			CC_EXTRA_OPTS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -DVERSION_NODATE" \
			LD_EXTRA_OPTS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
	fi
	printf '%s\n' "$tree"
}

# Local secrets: the key that encrypts trunk passwords at rest, and a
# self-signed TLS certificate for the SIP TLS listener.
ensure_local_secrets() {
	local d="$BYOC_BUILD/secrets"
	mkdir -p "$d"
	chmod 700 "$d"
	if [ ! -s "$d/secret.key" ]; then
		(umask 077 && openssl rand -hex 32 >"$d/secret.key")
	fi
	if [ ! -s "$d/tls.crt" ]; then
		(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
			-subj "/CN=byoc-edge.local" \
			-addext "subjectAltName=DNS:byoc-edge.local,DNS:localhost,IP:127.0.0.1" \
			-keyout "$d/tls.key" -out "$d/tls.crt" >/dev/null 2>&1)
	fi
}

byoc_build() {
	local ksrc
	ksrc=$(kamailio_source)
	cmake -S "$BYOC_ROOT" -B "$BYOC_BUILD" -DKAMAILIO_SRC="$ksrc" >/dev/null
	cmake --build "$BYOC_BUILD" -j"$(nproc)" -- --no-print-directory >/dev/null ||
		cmake --build "$BYOC_BUILD" -j1 # show the error
	ensure_local_secrets
}

byoc_setup() {
	install_packages
	byoc_build
	log "setup complete (build in $BYOC_BUILD)"
}

# For 'up': build only if something is missing.
byoc_setup_quiet() {
	if [ -n "$(missing_packages)" ] || [ ! -f "$BYOC_BUILD/modules/byoc_route/byoc_route.so" ]; then
		byoc_setup
	fi
}

byoc_test() {
	ulimit -n 65536 2>/dev/null || true
	ctest --test-dir "$BYOC_BUILD" --output-on-failure --timeout 900 "$@"
}

# shellcheck source=scripts/stack.sh
. "$BYOC_ROOT/scripts/stack.sh"
