#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# foreign-deb.sh with an apt-get stub and a cache of its own: a package it
# can download is unpacked once and then taken from the cache, and a name
# apt has never seen fails, naming the package, and leaves nothing behind.
# Prints TAP; exits nonzero if any case fails.
set -uo pipefail
bench=$(cd "$(dirname "$0")/.." && pwd)
fdeb=$bench/foreign-deb.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EGM_CACHE=$tmp/cache
export EGM_TEST_APT_LOG=$tmp/apt.log
unknown=egm-no-such-package-$$

# The stub: 'update' succeeds unless EGM_TEST_APT_UPDATE_FAILS is set;
# 'download egm-test-*:ARCH' builds a one-file package in the current
# directory, as apt-get download leaves it; any other name fails as
# apt-get does.
mkdir -p "$tmp/bin"
cat > "$tmp/bin/apt-get" <<'EOS'
#!/bin/bash
args=()
for a in "$@"; do
	case $a in -o|-q) ;; Dir::*|APT::*|Debug::*|Acquire::*) ;; *) args+=("$a") ;; esac
done
echo "${args[*]}" >> "$EGM_TEST_APT_LOG"
case ${args[0]} in
update) [ -z "${EGM_TEST_APT_UPDATE_FAILS:-}" ] ;;
download)
	spec=${args[1]}
	pkg=${spec%%:*} arch=${spec#*:}
	case $pkg in
	egm-test-*)
		d=$(mktemp -d)
		mkdir -p "$d/DEBIAN" "$d/usr/share/$pkg"
		printf 'Package: %s\nVersion: 1\nArchitecture: %s\nMaintainer: egm\nDescription: egm\n' \
			"$pkg" "$arch" > "$d/DEBIAN/control"
		echo "$pkg for $arch" > "$d/usr/share/$pkg/hello"
		dpkg-deb -b "$d" "${pkg}_1_$arch.deb" >/dev/null
		rm -rf "$d"
		;;
	*) echo "E: Unable to locate package $pkg" >&2; exit 100 ;;
	esac
	;;
esac
EOS
chmod +x "$tmp/bin/apt-get"

. "$(dirname "$0")/tap.sh"

# run WANT ARGS...: foreign-deb.sh ARGS... exits 0 (WANT 0) or not (WANT
# 1); stdout in $tmp/out, stderr in $tmp/err, apt-get calls in the log.
run() {
	local want=$1 rc=0
	shift
	: > "$EGM_TEST_APT_LOG"
	PATH=$tmp/bin:$PATH "$fdeb" "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
	expect_rc "$want" $rc "$tmp/err"
}

unpacks() {
	local dir=$EGM_CACHE/foreign/arm64/egm-test-a
	run 0 arm64 egm-test-a || return 1
	[ "$(cat "$tmp/out")" = "$dir" ] || { echo "# printed '$(cat "$tmp/out")'"; return 1; }
	grep -qx 'egm-test-a for arm64' "$dir/usr/share/egm-test-a/hello" ||
		{ echo "# $dir holds no unpacked egm-test-a"; return 1; }
	grep -qx 'download egm-test-a:arm64' "$EGM_TEST_APT_LOG" ||
		{ echo "# apt-get calls: $(cat "$EGM_TEST_APT_LOG")"; return 1; }
}
check "downloads and unpacks a package of another architecture" unpacks

cached() {
	run 0 arm64 egm-test-a || return 1
	[ ! -s "$EGM_TEST_APT_LOG" ] || { echo "# apt-get ran: $(cat "$EGM_TEST_APT_LOG")"; return 1; }
	[ "$(cat "$tmp/out")" = "$EGM_CACHE/foreign/arm64/egm-test-a" ]
}
check "takes an unpacked package from the cache, without apt-get" cached

unknown_fails() {
	run 1 arm64 "$unknown" || return 1
	grep -q "cannot download $unknown for arm64" "$tmp/err" ||
		{ echo "# said: $(cat "$tmp/err")"; return 1; }
	[ ! -e "$EGM_CACHE/foreign/arm64/$unknown" ] ||
		{ echo "# left $EGM_CACHE/foreign/arm64/$unknown behind"; return 1; }
}
check "a name apt has never seen fails, naming it, and caches nothing" unknown_fails

later_known() {
	run 1 arm64 "$unknown" egm-test-b || return 1
	[ ! -e "$EGM_CACHE/foreign/arm64/egm-test-b" ] ||
		{ echo "# went on past the failed package"; return 1; }
	run 0 arm64 egm-test-b
}
check "stops at the first failure; a later run fetches the rest" later_known

update_fails() {
	EGM_TEST_APT_UPDATE_FAILS=1 run 1 arm64 egm-test-c || return 1
	grep -q "apt-get update of bookworm (arm64) failed" "$tmp/err" ||
		{ echo "# said: $(cat "$tmp/err")"; return 1; }
}
check "a failed apt-get update says so" update_fails

bad_arch() {
	run 1 riscv64 egm-test-a || return 1
	grep -q "no Debian architecture for riscv64" "$tmp/err" ||
		{ echo "# said: $(cat "$tmp/err")"; return 1; }
}
check "an architecture it does not know fails" bad_arch

tap_done
