# SPDX-License-Identifier: GPL-2.0
# make check, in the guest: load the driver (KUnit runs on load), run
# every test program on the share, scan for leaks and save the logs. The
# host parses results/.
. /egm/guest/lib.sh
T=${EGM_TEST_TIMEOUT:-180}

# Run one TAP-producing program with a timeout, from its own directory.
run_tap() {
	local out=$1 prog=$2 t0
	mkdir -p "$(dirname "$out")"
	say "run ${out#$R/}"
	t0=$(cut -d' ' -f1 /proc/uptime)
	(cd "$(dirname "$prog")" && timeout -s KILL "$T" "$prog") > "$out.tap" 2>&1
	echo $? > "$out.rc"
	# How long it took, for the host's summary of where the time goes.
	awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" \
		'BEGIN { printf "%.1f\n", b - a }' > "$out.secs"
}

say "check: start"
load_modules
# The upstream iommufd selftests map MAP_HUGETLB buffers of up to 128M:
# 256M of huge pages, and two at least (they are 512M with 64K pages).
hp=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
n=$((262144 / ${hp:-2048}))
[ "$n" -ge 2 ] || n=2
echo "$n" > /proc/sys/vm/nr_hugepages

# Run one collection's tests in order. Its tests.list names its tests
# (helpers are not tests); without one, every executable is a test. A
# settings file may set the timeout, as for the kselftest runner.
run_collection() {
	local dir=$1 coll name names t T
	coll=$(basename "$dir")
	T=${EGM_TEST_TIMEOUT:-180}
	t=$(sed -n 's/^timeout=//p' "$dir/settings" 2>/dev/null)
	[ -n "$t" ] && [ "$t" -gt "$T" ] && T=$t
	if [ -f "$dir/tests.list" ]; then
		names=$(cat "$dir/tests.list")
	else
		names=$(cd "$dir" && for f in *; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done)
	fi
	for name in $names; do
		[ -x "$dir$name" ] || continue
		# Run already, on its own (below).
		[ -f "$R/kselftest/$coll/$name.rc" ] && continue
		run_tap "$R/kselftest/$coll/$name" "$dir$name"
	done
}

# kernel_memory_accounted counts kmalloc objects machine-wide: run its
# program before anything else runs beside it.
quiet=/egm/tests/egm/egm_iommufd_test
[ ! -x $quiet ] || run_tap "$R/kselftest/egm/egm_iommufd_test" $quiet

# The upstream iommufd selftests touch nothing of egm's or the platform's,
# and take longest: run them on the other vCPU while the rest runs here.
pids=
for dir in /egm/tests/iommu/; do
	[ -d "$dir" ] || continue
	run_collection "$dir" &
	pids="$pids $!"
done
for dir in /egm/tests/*/; do
	[ -d "$dir" ] && [ "$(basename "$dir")" != iommu ] || continue
	run_collection "$dir"
done

for t in /egm/platform/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	run_tap "$R/platform/$(basename "$t")" "$t"
done

# Unmodified QEMU on windows: three nested VMs at once, a couple of minutes
# under nested TCG, so only in the guest check.sh on the host picked
# (EGM_VMM_TESTS=1). After the platform tests: both use the edu devices.
# The test bounds each VM itself (300 s).
if [ "${EGM_VMM_TESTS:-0}" = 1 ]; then
	T0=$T
	T=420
	run_tap "$R/vmm/egm_vmm_test" /egm/vmm/egm_vmm_test
	T=$T0
fi
# The egm tool (tools/egm): cli.sh, on the fast kernel only, where it
# takes 25 s (a process costs seconds on the debug kernel under TCG).
[ "$EGM_FLAVOR" = debug ] || sh /egm/guest/cli.sh
# shellcheck disable=SC2086
[ -z "$pids" ] || wait $pids

if [ -w /sys/kernel/debug/kmemleak ]; then
	say "kmemleak scan"
	# Objects younger than 5 s are not reported yet.
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > $R/kmemleak.txt
else
	echo "kmemleak not available" > $R/kmemleak.txt
fi
dmesg > $R/dmesg.txt
echo done > $R/done
say "check: done"
