#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: prepare the kernel tree, build the debug kernel and the
# tests, boot the emulated Grace machine in check mode, parse what it
# reports, run the static checks and print the tally. The last line is
# "N passed, N failed"; the exit status is nonzero iff something failed.
#
# EGM_FLAVOR (debug), EGM_SIDE_FLAVOR (fast: the second guest, for the
# upstream iommufd selftests; empty for none), EGM_SELFTESTS and
# EGM_SIDE_SELFTESTS (the collections each guest runs), EGM_VMM_FLAVOR
# (the guest that runs the nested-VM test; default the side one), EGM_NO_STATIC=1
# (skip the static checks), and what run.sh takes (EGM_TIMEOUT,
# EGM_TEST_TIMEOUT, EGM_EXTRA_TESTS, ...).
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
	local pass fail skip na
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
	na=$(grep -c '^NA ' "$checks")
	[ "$na" = 0 ] || echo "($na upstream self-skips not counted, as not-applicable.txt lists)"
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

# The upstream iommufd selftests take three minutes on the debug kernel
# under TCG, more than everything else: run them on the fast kernel, in a
# second guest beside the debug one. EGM_SIDE_FLAVOR= runs everything in
# the debug guest instead.
side=${EGM_SIDE_FLAVOR-fast}
[ "$side" != "$flavor" ] || side=
if [ -n "$side" ]; then
	main_tests=${EGM_SELFTESTS-egm}
else
	main_tests=${EGM_SELFTESTS-egm iommu}
fi
side_tests=${EGM_SIDE_SELFTESTS-iommu}
# The nested-VM test (egm_vmm_test, a few minutes of nested TCG) runs in one
# guest: by default the side one, whose upstream iommufd selftests touch
# neither egm nor the edu devices and can share its vCPUs.
vmm_flavor=${EGM_VMM_FLAVOR:-${side:-$flavor}}
vmm_for() { if [ "$1" = "$vmm_flavor" ]; then echo 1; else echo 0; fi; }

build_kernel() {
	if step_kernel "$arch" "$1"; then
		echo "PASS build/kernel-$arch-$1" >> "$checks"
	else
		echo "FAIL build/kernel-$arch-$1" >> "$checks"
		return 1
	fi
}

t=$SECONDS
built=0
side_built=0
build_kernel "$flavor" && built=1
[ -z "$side" ] || { build_kernel "$side" && side_built=1; }
step "kernel build" $((SECONDS - t))

# parse_run FLAVOR PREFIX: turn one guest's results into checks.
parse_run() {
	local r=$EGM_CACHE/run/$arch-$1 k
	k=$(egm_kdir "$arch" "$1")
	"$EGM_BENCH/parse-results.py" --results "$r/share/results" --serial "$r/check.log" \
		--rc "$r/check.rc" --expected "$k/egm-tests/expected" \
		--kunit-src "$EGM_REPO/drivers/iommu/egm" --modules "$r/share/modules" \
		--checks "$checks" --prefix "$2" || echo "FAIL ${2}parse-results" >> "$checks"
	# The egm tool's checks (cli/*), from the one guest on a fast kernel.
	[ "$1" = debug ] || "$EGM_BENCH/cli-results.py" --results "$r/share/results/cli" \
		--checks "$checks" || echo "FAIL cli/results" >> "$checks"
}

if [ $built = 1 ]; then
	t=$SECONDS
	EGM_SELFTESTS=$main_tests EGM_VMM_TESTS=$(vmm_for "$flavor") \
		step_tests "$arch" "$flavor" || echo "FAIL build/tests" >> "$checks"
	if [ $side_built = 1 ]; then
		EGM_SELFTESTS=$side_tests EGM_VMM_TESTS=$(vmm_for "$side") \
			step_tests "$arch" "$side" ||
			echo "FAIL $side/build/tests" >> "$checks"
	fi
	step "test build" $((SECONDS - t))

	t=$SECONDS
	side_pid=
	if [ $side_built = 1 ]; then
		side_run=$EGM_CACHE/run/$arch-$side
		rm -rf "$side_run/share/results" "$side_run/check.log" "$side_run/check.rc"
		EGM_FLAVOR=$side EGM_VMM_TESTS=$(vmm_for "$side") \
			"$EGM_BENCH/run.sh" check > "$logs/check-$arch-$side.out" 2>&1 &
		side_pid=$!
	fi
	rm -rf "$run/share/results" "$run/check.log" "$run/check.rc"
	EGM_VMM_TESTS=$(vmm_for "$flavor") "$EGM_BENCH/run.sh" check &
	main_pid=$!
	if [ -n "$side_pid" ]; then
		wait "$side_pid" || true
		tail -n 1 "$logs/check-$arch-$side.out" | sed "s/^/($side guest) /"
	fi
	# The debug guest runs on for minutes after the side one: the static
	# checks take the core that frees.
	static_pid=
	if [ -z "${EGM_NO_STATIC:-}" ]; then
		"$EGM_BENCH/static-checks.sh" "$checks" > "$logs/static-checks.out" 2>&1 &
		static_pid=$!
		static_t=$SECONDS
	fi
	wait "$main_pid" || true
	step "guest runs" $((SECONDS - t))
	parse_run "$flavor" ""
	[ $side_built = 1 ] && parse_run "$side" "$side/"
else
	echo "FAIL guest (not booted: the kernel did not build)" >> "$checks"
fi
[ -z "$side" ] || [ $side_built = 1 ] || echo "FAIL $side/guest (not booted: the kernel did not build)" >> "$checks"

if [ -z "${EGM_NO_STATIC:-}" ]; then
	if [ -n "${static_pid:-}" ]; then
		wait "$static_pid" || true
		cat "$logs/static-checks.out"
		step "static checks" $((SECONDS - static_t))
	else
		t=$SECONDS
		"$EGM_BENCH/static-checks.sh" "$checks"
		step "static checks" $((SECONDS - t))
	fi
fi
tally
