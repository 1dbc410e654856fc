#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The egm tool (tools/egm) on the host, without a driver: it builds without
# a warning (and statically), its usage errors, the message without
# /dev/egm, the JSON checker against good and bad documents, and the man
# page (groff -man -ww). guest/cli.sh tests the tool against the driver.
# Prints TAP; exits nonzero if any case fails.
set -uo pipefail
bench=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$bench/../../.." && pwd)
tool=$repo/tools/egm
cj=$tool/check-json.py

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
egm=$tmp/egm

. "$(dirname "$0")/tap.sh"

# builds LDFLAGS: make succeeds and the compiler says nothing.
builds() {
	local out=$tmp/build-$1/
	mkdir -p "$out"
	make -s -C "$tool" OUTPUT="$out" LDFLAGS="$1" > "$tmp/build.log" 2>&1 &&
		[ ! -s "$tmp/build.log" ] && cp "$out/egm" "$egm" ||
		{ sed 's/^/# /' "$tmp/build.log"; return 1; }
}

# exits RC PATTERN CMD...: CMD exits with RC and its stderr matches PATTERN.
exits() {
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$pat" "$tmp/err"; then
		echo "# $*: exit $rc (want $want), stderr:"
		sed 's/^/#   /' "$tmp/err"
		return 1
	fi
}

# valid TYPE JSON / invalid TYPE JSON: what check-json.py says of it.
valid() { printf '%s' "$2" | "$cj" --type "$1" - | sed 's/^/# /'; [ "${PIPESTATUS[1]}" = 0 ]; }
invalid() {
	local rc=0
	printf '%s' "$2" | "$cj" --type "$1" - > "$tmp/cj" || rc=$?
	[ "$rc" = 1 ] && [ -s "$tmp/cj" ] || { echo "# accepted (exit $rc): $2"; return 1; }
}

check "builds with -Wall -Wextra, no warning" builds ""
check "builds statically, no warning" builds -static

check "no command: exit 2" exits 2 "^egm: missing command: give one of list, alloc, info, windows or help" "$egm"
check "unknown command: exit 2" exits 2 "^egm: unknown command 'frob'" "$egm" frob
check "bad size: exit 2" exits 2 "^egm: bad size '12Q': not a number of bytes" "$egm" alloc --pxm 0 --size 12Q
check "size not a multiple of the alignment: exit 2" exits 2 "not a multiple of the alignment \(2M\)" \
	"$egm" alloc --pxm 0 --size 3M --align 2M
check "alignment not a power of two: exit 2" exits 2 "not a power of two" \
	"$egm" alloc --pxm 0 --size 6M --align 3M
check "unknown option: exit 2" exits 2 "^egm alloc: unrecognized option '--frob'" "$egm" alloc --frob
check "help: exit 0" bash -c "'$egm' help | grep -q -- '--no-bad-pages' && '$egm' help | grep -q 'default:'"
if [ ! -e /dev/egm ]; then
	check "no /dev/egm: exit 1, says why" exits 1 \
		"cannot open /dev/egm: No such file or directory" "$egm" list --json
	check "no /dev/egm: says what to do" grep -qE "modprobe egm|mknod|dmesg" "$tmp/err"
	check "no /dev/egm: nothing on stdout" test ! -s "$tmp/out"
fi
# (On a host that has /dev/egm, guest/cli.sh covers its absence.)
check "windows --json on the host matches the schema" \
	bash -c "'$egm' windows --json > '$tmp/w.json'; '$cj' --type windows '$tmp/w.json'"

region='{"id": 0, "pxm": 0, "numa_node": -1, "size": 1610612736, "free": 1610612736,
 "clean": 1610612736,
 "largest_free": 1610612736, "largest_free_good": 1073745920,
 "align": [4096, 2097152, 1073741824], "retired_pages": 1, "poisoned_pages": 0, "page_size": 4096}'
window='"path": "/proc/1/fd/3", "ino": 7, "pxm": 1, "numa_node": 1, "length": 1075838976,
 "alignment": 2097152, "page_size": 4096, "alloc_flags": [], "num_bad_pages": 1,
 "num_substituted": 1, "pending": 0,
 "bad_pages": [{"offset": 1073745920, "flags": ["retired", "substituted"]}],
 "revoked": false'
check "schema: a list" valid list "{\"regions\": [$region]}"
check "schema: no regions" valid list '{"regions": []}'
check "schema: a window" valid info "{$window}"
check "schema: a window by fd" valid info "{\"fd\": 3, $window}"
check "schema: windows" valid windows \
	"{\"windows\": [{\"pid\": 1, \"comm\": \"q\\\"\\\\\\t\\ufffd\", \"fd\": 3, $window}],
	  \"num_windows\": 1, \"total_length\": 1075838976, \"num_denied\": 0}"
check "schema: an unnamed flag bit" valid info "{${window/\"alloc_flags\": \[\]/\"alloc_flags\": [\"0x80\"]}}"
check "schema rejects: a size as a string" invalid list "{\"regions\": [${region/1610612736,/\"1.5G\",}]}"
check "schema rejects: a missing field" invalid list "{\"regions\": [${region/, \"page_size\": 4096/}]}"
check "schema rejects: an unknown field" invalid info "{\"length_mb\": 1, $window}"
check "schema rejects: an unknown flag name" invalid info "{${window/\"alloc_flags\": \[\]/\"alloc_flags\": [\"huge\"]}}"
check "schema rejects: a float" invalid info "{${window/\"ino\": 7/\"ino\": 7.5}}"
check "schema rejects: a boolean for a number" invalid info "{${window/\"ino\": 7/\"ino\": true}}"
check "schema rejects: windows without its summary" invalid windows '{"windows": []}'
check "checker rejects: a duplicate key" invalid list '{"regions": [], "regions": []}'
check "checker rejects: NaN" invalid list '{"regions": [NaN]}'
check "checker rejects: two documents" invalid list '{"regions": []} {"regions": []}'
check "checker rejects: not UTF-8" invalid info "{${window/\/proc\/1\/fd\/3/$(printf '\377')}}"
check "checker rejects: nothing" invalid list ''

check "egm.1 renders without a warning" bash -c \
	"command -v groff > /dev/null || { echo '# no groff: deps.sh installs groff-base'; exit 1; }
	 groff -man -ww -z '$tool/egm.1' 2>&1 | sed 's/^/# /' | grep . && exit 1 || exit 0"
tap_done
