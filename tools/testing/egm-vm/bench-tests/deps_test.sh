#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh against a dpkg database of its own: one installed package, one
# removed with only its configuration left, and names dpkg has never seen.
# apt-get is a stub that "installs" what it can find by adding it to that
# database, and fails like apt-get for a name it cannot find.
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

. "$(dirname "$0")/tap.sh"

# expect_missing WANT PKG...: deps.sh --missing PKG... succeeds and prints WANT.
expect_missing() {
	local want=$1 got rc=0
	shift
	got=$("$deps" --missing "$@" 2>"$tmp/err") || rc=$?
	[ $rc = 0 ] || { echo "# exit $rc: $(cat "$tmp/err")"; return 1; }
	got=$(tr '\n' ' ' <<< "$got")
	[ "${got% }" = "$want" ] || { echo "# printed '${got% }', want '$want'"; return 1; }
}

check "an unknown package is reported missing" \
	expect_missing "$unknown" egm-test-installed "$unknown"
check "a removed package is reported missing" \
	expect_missing "egm-test-removed" egm-test-installed egm-test-removed
check "an installed package is not reported" \
	expect_missing "" egm-test-installed
check "only unknown packages" \
	expect_missing "$unknown $unknown-2" "$unknown" "$unknown-2"

# The stubs: apt-get logs its calls; 'install' adds every package it
# knows to the database, or changes nothing and fails as apt-get does.
mkdir -p "$tmp/bin"
cat > "$tmp/bin/apt-get" <<'EOS'
#!/bin/bash
echo "$*" >> "$EGM_TEST_APT_LOG"
[ "$1" = install ] || exit 0
pkgs=()
for a in "${@:2}"; do
	case $a in -*) ;; *) pkgs+=("$a") ;; esac
done
for p in "${pkgs[@]}"; do
	case $p in egm-test-*) ;; *) echo "E: Unable to locate package $p" >&2; exit 100 ;; esac
done
for p in "${pkgs[@]}"; do
	sed -i "/^Package: $p\$/,/^\$/d" "$EGM_DPKG_ADMINDIR/status"
	printf 'Package: %s\nStatus: install ok installed\nArchitecture: all\nVersion: 1\nMaintainer: egm\nDescription: egm\n\n' \
		"$p" >> "$EGM_DPKG_ADMINDIR/status"
done
EOS
printf '#!/bin/sh\nexec "$@"\n' > "$tmp/bin/sudo"
chmod +x "$tmp/bin/apt-get" "$tmp/bin/sudo"
export EGM_TEST_APT_LOG=$tmp/apt.log

# expect_install RC PKG...: deps.sh --install PKG... exits RC (0 or not);
# the apt-get calls are left in $tmp/apt.log, the messages in $tmp/err.
expect_install() {
	local want=$1 rc=0
	shift
	: > "$EGM_TEST_APT_LOG"
	PATH=$tmp/bin:$PATH "$deps" --install "$@" >/dev/null 2>"$tmp/err" || rc=$?
	expect_rc "$want" $rc "$tmp/err"
}

installs_only_missing() {
	expect_install 0 egm-test-installed egm-test-removed egm-test-new &&
	grep -qx 'install -y -q --no-install-recommends egm-test-new egm-test-removed' \
		"$EGM_TEST_APT_LOG" &&
	! grep -q 'egm-test-installed' "$EGM_TEST_APT_LOG" &&
	expect_missing "" egm-test-installed egm-test-removed egm-test-new
}
check "installs what is missing, and only that" installs_only_missing

nothing_to_do() {
	expect_install 0 egm-test-installed && [ ! -s "$EGM_TEST_APT_LOG" ]
}
check "calls no apt-get when nothing is missing" nothing_to_do

unknown_fails_clearly() {
	expect_install 1 egm-test-installed "$unknown" || return 1
	if ! grep -q "cannot install: $unknown" "$tmp/err" ||
	   ! grep -q "apt-get install --no-install-recommends $unknown" "$tmp/err"; then
		echo "# said: $(cat "$tmp/err")"
		return 1
	fi
}
check "an uninstallable package fails, naming it and the command" unknown_fails_clearly

# The bench's own list: nothing misspelt, nothing a Debian mirror lacks.
list_is_known() {
	local p list bad=0
	list=$("$deps" --list)
	[ -n "$list" ] || { echo "# deps.sh --list printed nothing"; return 1; }
	for p in $list; do
		apt-cache show "$p" >/dev/null 2>&1 || { echo "# apt does not know $p"; bad=1; }
	done
	[ $bad = 0 ]
}
check "every package of the bench's list is known to apt" list_is_known

# A step that needs a command names its package and how to install it.
need_names_package() {
	local out
	out=$(bash -c '. "$1/lib.sh"; egm_need egm-no-such-command egm-some-package' _ "$bench" 2>&1) &&
		{ echo "# egm_need succeeded"; return 1; }
	grep -q "egm-no-such-command not found: run 'apt-get install egm-some-package'" <<< "$out" ||
		{ echo "# said: $out"; return 1; }
	bash -c '. "$1/lib.sh"; egm_need sh dash' _ "$bench"
}
check "a missing command names its package" need_names_package

tap_done
