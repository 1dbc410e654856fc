#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: prepare the kernel tree, build the debug kernel and the
# tests, boot the emulated Grace machine in check mode, parse what it
# reports, run the static checks and print the tally. The last line is
# "N passed, N failed"; the exit status is nonzero iff something failed.
#
# EGM_FLAVOR (debug), EGM_NO_STATIC=1 (skip the static checks), and what
# run.sh takes (EGM_TIMEOUT, EGM_TEST_TIMEOUT, EGM_EXTRA_TESTS, ...).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

arch=$EGM_ARCH
flavor=$EGM_FLAVOR
export EGM_FLAVOR
kdir=$(egm_kdir "$arch" "$flavor")
run=$EGM_CACHE/run/$arch-$flavor
checks=$EGM_CACHE/run/check-$arch-$flavor.checks
logs=$EGM_CACHE/logs
mkdir -p "$run" "$logs"
: > "$checks"
t0=$SECONDS
declare -a times

step() { times+=("$(printf '%-16s %4ds' "$1" "$2")"); }

tally() {
	local pass fail skip
	pass=$(grep -c '^PASS ' "$checks")
	fail=$(grep -c '^FAIL ' "$checks")
	skip=$(grep -c '^SKIP ' "$checks")
	echo
	printf 'egm-vm: %s\n' "${times[@]}"
	echo "egm-vm: total $((SECONDS - t0))s; checks in $checks"
	if [ $((fail + skip)) != 0 ]; then
		echo "Failed:"
		grep -E '^(FAIL|SKIP) ' "$checks" | sed 's/^/  /'
	fi
	[ "$skip" = 0 ] || echo "($skip skipped, counted as failed: a skip is not a pass)"
	echo "$pass passed, $((fail + skip)) failed"
	[ $((fail + skip)) = 0 ]
}

. "$EGM_BENCH/steps.sh"

t=$SECONDS
if ! step_setup; then
	echo "FAIL setup" >> "$checks"
	tally
	exit 1
fi
step setup $((SECONDS - t))

t=$SECONDS
if step_kernel "$arch" "$flavor"; then
	echo "PASS build/kernel-$arch-$flavor" >> "$checks"
	built=1
else
	echo "FAIL build/kernel-$arch-$flavor" >> "$checks"
	built=0
fi
step "kernel build" $((SECONDS - t))

if [ $built = 1 ]; then
	t=$SECONDS
	step_tests "$arch" "$flavor" || echo "FAIL build/tests" >> "$checks"
	step "test build" $((SECONDS - t))

	t=$SECONDS
	rm -rf "$run/share/results" "$run/check.log" "$run/check.rc"
	"$EGM_BENCH/run.sh" check
	step "guest run" $((SECONDS - t))
	"$EGM_BENCH/parse-results.py" --results "$run/share/results" --serial "$run/check.log" \
		--rc "$run/check.rc" --expected "$kdir/egm-tests/expected" \
		--kunit-src "$EGM_REPO/drivers/iommu/egm" --modules "$run/share/modules" \
		--checks "$checks" || echo "FAIL parse-results" >> "$checks"
else
	echo "FAIL guest (not booted: the kernel did not build)" >> "$checks"
fi

if [ -z "${EGM_NO_STATIC:-}" ]; then
	t=$SECONDS
	"$EGM_BENCH/static-checks.sh" "$checks"
	step "static checks" $((SECONDS - t))
fi
tally
