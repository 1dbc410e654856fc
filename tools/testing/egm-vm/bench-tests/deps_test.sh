#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh against a dpkg database of its own: one installed package, one
# removed with only its configuration left, and names dpkg has never seen.
# Prints TAP; exits nonzero if any case fails.
set -uo pipefail
bench=$(cd "$(dirname "$0")/.." && pwd)
deps=$bench/deps.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
admin=$tmp/dpkg
mkdir -p "$admin/updates" "$admin/info"
for p in "egm-test-installed:install ok installed" "egm-test-removed:deinstall ok config-files"; do
	printf 'Package: %s\nStatus: %s\nArchitecture: all\nVersion: 1\nMaintainer: egm\nDescription: egm\n\n' \
		"${p%%:*}" "${p#*:}"
done > "$admin/status"
export EGM_DPKG_ADMINDIR=$admin
unknown=egm-no-such-package-$$

n=0
failed=0
# check NAME CMD...: one TAP case; CMD's status is the verdict.
check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		failed=$((failed + 1))
	fi
}

# expect_missing WANT PKG...: deps.sh --missing PKG... succeeds and prints WANT.
expect_missing() {
	local want=$1 got rc=0
	shift
	got=$("$deps" --missing "$@" 2>"$tmp/err") || rc=$?
	[ $rc = 0 ] || { echo "# exit $rc: $(cat "$tmp/err")"; return 1; }
	[ "$(echo $got)" = "$want" ] || { echo "# printed '$(echo $got)', want '$want'"; return 1; }
}

check "an unknown package is reported missing" \
	expect_missing "$unknown" egm-test-installed "$unknown"
check "a removed package is reported missing" \
	expect_missing "egm-test-removed" egm-test-installed egm-test-removed
check "an installed package is not reported" \
	expect_missing "" egm-test-installed
check "only unknown packages" \
	expect_missing "$unknown $unknown-2" "$unknown" "$unknown-2"

echo "1..$n"
[ $failed = 0 ]
