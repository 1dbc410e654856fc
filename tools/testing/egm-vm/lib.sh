# SPDX-License-Identifier: GPL-2.0
# Shared settings for the egm bench scripts; sourced, not run.

EGM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
EGM_BENCH=$EGM_REPO/tools/testing/egm-vm
EGM_CACHE=${EGM_CACHE:-$HOME/.cache/egm}
EGM_ARCH=${EGM_ARCH:-${ARCH:-x86_64}}
# Accept the kernel's names for the architectures too.
case $EGM_ARCH in
x86) EGM_ARCH=x86_64 ;;
aarch64) EGM_ARCH=arm64 ;;
esac
EGM_FLAVOR=${EGM_FLAVOR:-debug}
# The kernel's page size: 4K, or 64K on arm64 (as many Grace hosts run).
EGM_PAGE=${EGM_PAGE:-4K}
case ${EGM_PAGE^^} in
4K|4KB) EGM_PAGE=4K ;;
64K|64KB) EGM_PAGE=64K ;;
*) echo "egm-vm: EGM_PAGE=$EGM_PAGE: no such page size (4K, or 64K on arm64)" >&2; exit 1 ;;
esac
[ "$EGM_PAGE" = 4K ] || [ "$EGM_ARCH" = arm64 ] ||
	{ echo "egm-vm: EGM_PAGE=$EGM_PAGE: $EGM_ARCH has 4K pages only" >&2; exit 1; }
export EGM_PAGE
export CCACHE_DIR=${CCACHE_DIR:-$EGM_CACHE/ccache}

egm_die() { echo "egm-vm: $*" >&2; exit 1; }
egm_log() { echo "egm-vm: $*" >&2; }

# egm_need CMD PKG: fail, naming the package and the command that
# installs it, unless CMD is on PATH (deps.sh installs every PKG).
egm_need() {
	command -v "$1" >/dev/null ||
		egm_die "$1 not found: run 'apt-get install $2' (or $EGM_BENCH/deps.sh)"
}

egm_src() {
	local v
	v=$(cat "$EGM_CACHE/kernel-version" 2>/dev/null) || return 1
	echo "$EGM_CACHE/src/$v"
}

# Kernel ARCH, cross compiler and boot image for a bench architecture.
egm_karch() {
	case $1 in
	x86_64) echo x86 ;;
	arm64) echo arm64 ;;
	*) egm_die "unknown architecture $1" ;;
	esac
}

egm_cross() {
	case $1 in
	arm64) [ "$(uname -m)" = aarch64 ] || echo aarch64-linux-gnu- ;;
	esac
}

egm_image() {
	case $1 in
	x86_64) echo arch/x86/boot/bzImage ;;
	arm64) echo arch/arm64/boot/Image ;;
	esac
}

# ARCH, plus the page size where it is not 4K: names build and run
# directories (arm64-64k-fast).
egm_tag() {
	if [ "$EGM_PAGE" = 4K ]; then
		echo "$1"
	elif [ "$1" = arm64 ]; then
		echo "$1-${EGM_PAGE,,}"
	else
		egm_die "EGM_PAGE=$EGM_PAGE: $1 has 4K pages only"
	fi
}

egm_out() { echo "$EGM_CACHE/build/$(egm_tag "$1")-$2"; }

# Where a guest of ARCH and FLAVOR stages its share and logs.
egm_rundir() { echo "$EGM_CACHE/run/$(egm_tag "$1")-$2"; }

# The emulated platform of ARCH: the bench's single source of its layout.
egm_platform() { echo "$EGM_BENCH/platform-$1.sh"; }

# The build directory of a bench kernel, unless EGM_KDIR points elsewhere.
egm_kdir() { echo "${EGM_KDIR:-$(egm_out "$1" "$2")}"; }

# Run a long, noisy command with its output in a log file. Print a
# heartbeat with the latest output line every EGM_HEARTBEAT seconds, and
# the tail of the log if it fails.
egm_quiet() {
	local label=$1 log=$2 pid rc start last
	shift 2
	mkdir -p "$(dirname "$log")"
	start=$SECONDS
	last=$SECONDS
	"$@" >"$log" 2>&1 </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= ${EGM_HEARTBEAT:-30})); then
			last=$SECONDS
			egm_log "$label: $((SECONDS - start))s: $(tail -n1 "$log" | cut -c1-100)"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	if [ $rc != 0 ]; then
		egm_log "$label failed (exit $rc) after $((SECONDS - start))s; end of $log:"
		tail -n "${EGM_LOG_TAIL:-40}" "$log" | sed 's/^/    /' >&2
	else
		egm_log "$label done in $((SECONDS - start))s"
	fi
	return $rc
}

# A short hash of stdin, for cache keys.
egm_hash() { sha1sum | cut -c1-16; }

# The Debian mirror this machine's own apt sources use (deb822 or
# one-line format), without a trailing slash; empty if there is none. The
# bench never writes a mirror's name anywhere: it always asks apt's
# configuration.
egm_mirror_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
}

# egm_apt_private DIR ARCH SUITE...: a private apt configuration in DIR
# (lists, archives, an empty status) for packages of ARCH from SUITEs of
# this machine's mirror; sets the array egm_aptopts for apt-get and
# apt-cache, and updates the lists. Nothing outside DIR changes, so the
# host's own apt state and architectures stay as they are.
egm_apt_private() {
	local dir=$1 arch=$2 mirror s
	shift 2
	mirror=$(egm_mirror_uri)
	[ -n "$mirror" ] || egm_die "no Debian mirror found in /etc/apt; cannot fetch from $*"
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/etc/preferences.d"
	: > "$dir/status"
	for s in "$@"; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $s main"
	done > "$dir/etc/sources.list"
	egm_aptopts=(-o Dir::Etc::sourcelist="$dir/etc/sources.list"
		     -o Dir::Etc::sourceparts=-
		     -o Dir::Etc::preferencesparts="$dir/etc/preferences.d"
		     -o Dir::State::Lists="$dir/lists"
		     -o Dir::State::status="$dir/status"
		     -o Dir::Cache="$dir"
		     -o Dir::Cache::archives="$dir/archives"
		     -o APT::Architecture="$arch"
		     -o APT::Architectures="$arch"
		     -o APT::Get::List-Cleanup=0
		     -o Debug::NoLocking=1
		     -o Acquire::Languages=none)
	apt-get "${egm_aptopts[@]}" -q update > "$dir/update.log" 2>&1 ||
		egm_die "apt-get update of $* ($arch) failed, see $dir/update.log"
}
