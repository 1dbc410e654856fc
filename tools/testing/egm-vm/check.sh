#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: prepare the kernel tree, build the kernels and the tests,
# boot the emulated Grace machines in check mode, parse what they report,
# run the static checks and print the tally. The last line is
# "N passed, N failed"; the exit status is nonzero iff something failed.
#
# x86_64 boots two guests at once: the debug kernel (EGM_FLAVOR, KASAN,
# lockdep, kmemleak) with the egm tests, and the fast one (EGM_SIDE_FLAVOR;
# empty for none) with the upstream iommufd selftests, the nested VMs and
# the egm tool. arm64 boots one guest per page size, 4K and 64K, or the
# one EGM_PAGE names, each with every test on the fast kernel (EGM_FLAVOR
# picks another); their checks are named 4k/... and 64k/....
#
# EGM_SELFTESTS and EGM_SIDE_SELFTESTS (the collections each guest runs),
# EGM_VMM_FLAVOR (the guest that runs the nested-VM test; x86_64 only),
# EGM_NO_STATIC=1 (skip the static checks), and what run.sh takes
# (EGM_TIMEOUT, EGM_TEST_TIMEOUT, EGM_EXTRA_TESTS, ...).
set -uo pipefail
page_asked=${EGM_PAGE:-}
flavor_asked=${EGM_FLAVOR:-}
. "$(dirname "$0")/lib.sh"

arch=$EGM_ARCH
flavor=$EGM_FLAVOR
[ "$arch" != arm64 ] || flavor=${flavor_asked:-fast}
tag=$arch
[ -z "$page_asked" ] || tag=$(egm_tag "$arch")
checks=$EGM_CACHE/run/check-$tag-$flavor.checks
logs=$EGM_CACHE/logs
mkdir -p "$EGM_CACHE/run" "$logs"
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

# The guests: "PAGE FLAVOR PREFIX VMM COLLECTIONS..." each.
guests=()
if [ "$arch" = x86_64 ]; then
	# The upstream iommufd selftests take three minutes on the debug
	# kernel under TCG, more than everything else: run them on the fast
	# kernel, in a second guest beside the debug one. The nested-VM test
	# (a few minutes of nested TCG) runs there too by default: the
	# iommufd selftests touch neither egm nor the edu devices.
	side=${EGM_SIDE_FLAVOR-fast}
	[ "$side" != "$flavor" ] || side=
	vmm_flavor=${EGM_VMM_FLAVOR:-${side:-$flavor}}
	vmm_for() { if [ "$1" = "$vmm_flavor" ]; then echo 1; else echo 0; fi; }
	if [ -n "$side" ]; then
		guests+=("4K $flavor - $(vmm_for "$flavor") ${EGM_SELFTESTS-egm}")
		guests+=("4K $side $side/ $(vmm_for "$side") ${EGM_SIDE_SELFTESTS-iommu}")
	else
		guests+=("4K $flavor - $(vmm_for "$flavor") ${EGM_SELFTESTS-egm iommu}")
	fi
else
	# No nested VMs: the bench has no arm64 QEMU or payload yet (README).
	for p in ${page_asked:-4K 64K}; do
		guests+=("$p $flavor ${p,,}/ 0 ${EGM_SELFTESTS-egm iommu}")
	done
fi

# Each guest's kernel, once per page size and flavour.
t=$SECONDS
declare -A built=()
for g in "${guests[@]}"; do
	read -r page gflavor _ <<< "$g"
	[ -z "${built[$page-$gflavor]:-}" ] || continue
	name=build/kernel-$(EGM_PAGE=$page egm_tag "$arch")-$gflavor
	if EGM_PAGE=$page step_kernel "$arch" "$gflavor"; then
		built[$page-$gflavor]=1
		echo "PASS $name" >> "$checks"
	else
		built[$page-$gflavor]=0
		echo "FAIL $name" >> "$checks"
	fi
done
step "kernel build" $((SECONDS - t))

# parse_run PAGE FLAVOR PREFIX: turn one guest's results into checks.
parse_run() {
	local r k
	r=$(EGM_PAGE=$1 egm_rundir "$arch" "$2")
	k=$(EGM_PAGE=$1 egm_kdir "$arch" "$2")
	"$EGM_BENCH/parse-results.py" --results "$r/share/results" --serial "$r/check.log" \
		--rc "$r/check.rc" --expected "$k/egm-tests/expected" \
		--kunit-src "$EGM_REPO/drivers/iommu/egm" --modules "$r/share/modules" \
		--checks "$checks" --prefix "$3" || echo "FAIL ${3}parse-results" >> "$checks"
	# The egm tool's checks (cli/*), from the guests on a fast kernel
	# (guest/check.sh).
	[ "$2" = debug ] ||
		"$EGM_BENCH/cli-results.py" --results "$r/share/results/cli" \
		--checks "$checks" --prefix "$3" || echo "FAIL ${3}cli/results" >> "$checks"
}

# The tests, then every guest at once; the static checks take the core
# the first guest to end frees.
t=$SECONDS
booted=()
for g in "${guests[@]}"; do
	read -r page gflavor prefix vmm tests <<< "$g"
	[ "$prefix" != - ] || prefix=
	if [ "${built[$page-$gflavor]}" != 1 ]; then
		echo "FAIL ${prefix}guest (not booted: the kernel did not build)" >> "$checks"
		continue
	fi
	EGM_PAGE=$page EGM_SELFTESTS=$tests EGM_VMM_TESTS=$vmm \
		step_tests "$arch" "$gflavor" || echo "FAIL ${prefix}build/tests" >> "$checks"
	booted+=("$g")
done
step "test build" $((SECONDS - t))

t=$SECONDS
declare -A running=()
first=1
for g in "${booted[@]}"; do
	read -r page gflavor prefix vmm _ <<< "$g"
	r=$(EGM_PAGE=$page egm_rundir "$arch" "$gflavor")
	rm -rf "$r/share/results" "$r/check.log" "$r/check.rc"
	out=$logs/check-$(EGM_PAGE=$page egm_tag "$arch")-$gflavor.out
	# The first guest's progress shows; the others' go to their logs.
	if [ $first = 1 ]; then
		EGM_PAGE=$page EGM_FLAVOR=$gflavor EGM_VMM_TESTS=$vmm \
			"$EGM_BENCH/run.sh" check 2>&1 | tee "$out" &
	else
		EGM_PAGE=$page EGM_FLAVOR=$gflavor EGM_VMM_TESTS=$vmm \
			"$EGM_BENCH/run.sh" check > "$out" 2>&1 &
	fi
	first=0
	[ "$prefix" != - ] || prefix=$gflavor/
	running[$!]="$out $prefix"
done
static_pid=
start_static() {
	[ -z "${EGM_NO_STATIC:-}" ] && [ -z "$static_pid" ] || return 0
	"$EGM_BENCH/static-checks.sh" "$checks" > "$logs/static-checks.out" 2>&1 &
	static_pid=$!
	static_t=$SECONDS
}
while [ ${#running[@]} != 0 ]; do
	pid=
	wait -n -p pid "${!running[@]}" || true
	[ -n "$pid" ] || break
	read -r out prefix <<< "${running[$pid]}"
	unset "running[$pid]"
	grep -E 'guest ran|guest killed|Kernel panic' "$out" | tail -n 1 | sed "s|^|($prefix guest) |"
	start_static
done
step "guest runs" $((SECONDS - t))
for g in "${booted[@]}"; do
	read -r page gflavor prefix _ <<< "$g"
	[ "$prefix" != - ] || prefix=
	parse_run "$page" "$gflavor" "$prefix"
done

if [ -z "${EGM_NO_STATIC:-}" ]; then
	start_static
	wait "$static_pid" || true
	cat "$logs/static-checks.out"
	step "static checks" $((SECONDS - static_t))
fi
tally
