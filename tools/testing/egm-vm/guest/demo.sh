# SPDX-License-Identifier: GPL-2.0
# make demo: load egm and show what it sees, then carve two windows on
# PXM 0 and one on PXM 1 with the egm tool (tools/egm, in /egm/bin), write
# and read through each, list the regions and the windows, and release
# them. Then the operator's story: three VMs of unmodified QEMU on two
# sockets, one on a window with a retired page, and one real Linux guest
# booted on EGM (egm_vmm_test, in /egm/vmm), teardown and re-zeroing, and
# a table of every step with its time. On arm64, instead of the nested
# VMs, a window's iommufd import and edu DMA through the SMMUv3.
. /egm/guest/lib.sh

# Every section is a step of the closing table, timed from its start to
# the next section.
steps=/tmp/egm-demo-steps
: > "$steps"
step_name=
step_t=
uptime_s() { cut -d' ' -f1 /proc/uptime; }
step_end() {
	[ -n "$step_name" ] || return 0
	echo "$step_name|$(awk -v a="$step_t" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')|$1" >> "$steps"
	step_name=
}
section() {
	step_end
	echo
	echo "=== $* ==="
	step_name=$*
	step_t=$(uptime_s)
}

# Keep informational kernel messages (KUnit's KTAP among them) off the
# console; warnings and worse still show.
dmesg -n 5
say "demo: $EGM_ARCH/$EGM_FLAVOR kernel $(uname -r)"
section "EGM regions the firmware describes (platform.env)"
i=0
while [ $i -lt "$EGM_PLAT_NREGIONS" ]; do
	eval "echo \"region $i: base \$EGM_PLAT_REGION${i}_BASE size \$EGM_PLAT_REGION${i}_SIZE pxm \$EGM_PLAT_REGION${i}_PXM retired table \$EGM_PLAT_REGION${i}_RETIRED_TABLE\""
	i=$((i + 1))
done

section "Reserved ranges in /proc/iomem"
grep -i reserved /proc/iomem

section "NUMA nodes"
for n in /sys/devices/system/node/node*; do
	[ -d "$n" ] || continue
	echo "$(basename "$n"): cpus $(cat "$n/cpulist") $(grep MemTotal "$n/meminfo" | sed 's/.*MemTotal://')"
done

section "GPU-like devices and their ACPI companions"
for g in $EGM_PLAT_GPUS; do
	d=/sys/bus/pci/devices/0000:00:${g%%:*}
	echo "0000:00:${g%%:*} $(cat "$d/vendor"):$(cat "$d/device") acpi $(cat "$d/firmware_node/path" 2>/dev/null) (region ${g#*:})"
done

section "insmod egm"
load_modules
cat $R/modules/*.out 2>/dev/null

section "egm kernel messages"
dmesg | grep -E '(^|[] ])egm[-.: ]' | grep -v -e 'KTAP' -e '^\[.*\] *#' -e '^\[.*\] *\(not \)\?ok ' || true

section "egm platform devices"
found=
for d in /sys/bus/platform/devices/egm*; do
	[ -e "$d" ] || continue
	found=1
	echo "$d:"
	for a in "$d"/*; do
		[ -f "$a" ] && [ -r "$a" ] || continue
		echo "  $(basename "$a"): $(head -c 200 "$a" 2>/dev/null | tr '\n' ' ')"
	done
done
[ -n "$found" ] || echo "(none)"

section "/dev/egm"
ls -l /dev/egm* 2>/dev/null || echo "(none)"

# The windows: "NAME PXM SIZE ALIGN". The 1G one goes first: first fit puts
# it at the start of region 0, whose first GiB has no retired page; the
# 256M one then lands on the three retired pages above it.
windows="vm1 0 1G 1G
vm2 0 256M 2M
vm3 1 512M 2M"
hold=/tmp/egm-hold
pids=

run() { echo "# $*"; "$@"; }

bytes() {
	case $1 in
	*G) echo $((${1%G} << 30)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*K) echo $((${1%K} << 10)) ;;
	*) echo "$1" ;;
	esac
}

human() {
	if [ $(($1 % (1 << 30))) = 0 ]; then echo "$(($1 >> 30))G"
	elif [ $(($1 % (1 << 20))) = 0 ]; then echo "$(($1 >> 20))M"
	else echo "$(($1 >> 10))K"; fi
}

# align_for PXM ALIGN SIZE: ALIGN, or if the region of PXM does not support
# it (a CPU without 1 GiB pages, other page sizes), the largest alignment
# it supports below ALIGN that divides SIZE; empty if none.
align_for() {
	egm list --bytes | awk -v pxm="$1" -v want="$(bytes "$2")" \
		-v size="$(bytes "$3")" '
		NR > 1 && $2 == pxm {
			n = split($6, a, ",")
			for (i = 1; i <= n; i++)
				if (a[i] + 0 <= want + 0 && size % a[i] == 0 &&
				    a[i] + 0 > best + 0)
					best = a[i]
		}
		END { if (best) print best }'
}

# start_holder NAME PXM SIZE ALIGN: allocate, check and hold a window in
# the background until the demo closes the fifo; wait until it holds it.
start_holder() {
	local name=$1 log=/tmp/egm-$1.log pid t=0
	shift
	echo "# egm alloc --pxm $1 --size $2 --align $3 --check < $hold &"
	egm alloc --pxm "$1" --size "$2" --align "$3" --check < "$hold" > "$log" 2>&1 3>&- &
	pid=$!
	pids="$pids $pid"
	while ! grep -q 'holding the window' "$log"; do
		if ! kill -0 "$pid" 2>/dev/null || [ $t -ge 240 ]; then
			sed 's/^/  /' "$log"
			echo "  $name: egm alloc failed or hung (pid $pid)"
			return 1
		fi
		sleep 1
		t=$((t + 1))
	done
	sed 's/^/  /' "$log"
	echo "  $name: pid $pid, ready after ${t}s"
}

if ! command -v egm > /dev/null; then
	echo
	say "demo: no egm tool in /egm/bin (tests.sh builds it); stopping here"
	exit 0
fi

section "EGM regions (egm list)"
run egm list

section "Three windows: 1G and 256M on PXM 0, 512M on PXM 1, each checked"
echo "Each holder zeroes (EGM_ALLOC), maps its window, checks it reads as"
echo "zero, writes a pattern, reads it back and zeroes it again, skipping"
echo "the bad pages, then holds it until end of input on $hold."
rm -f "$hold"
mkfifo "$hold"
# Read-write, so that opening it blocks neither side; the holders do not
# inherit it (3>&-), so closing it here gives them end of input.
exec 3<> "$hold"
echo "$windows" > /tmp/egm-windows
while read -r name pxm size want; do
	echo
	align=$(align_for "$pxm" "$want" "$size")
	if [ -z "$align" ]; then
		say "demo: $name: the region of PXM $pxm has no alignment for $size; skipped"
		continue
	fi
	align=$(human "$align")
	[ "$align" = "$want" ] ||
		echo "(the region of PXM $pxm does not support $want alignment here; using $align)"
	say "demo: $name: $size aligned to $align on PXM $pxm"
	start_holder "$name" "$pxm" "$size" "$align"
done < /tmp/egm-windows

section "Regions with the windows held: FREE dropped (egm list)"
run egm list

section "Every window in the system (egm windows)"
run egm windows

section "Stopping the holders: end of input releases each window"
echo "# exec 3>&-"
exec 3>&-
for pid in $pids; do
	wait "$pid"
	echo "  pid $pid exited with status $?"
done
for name in $(cut -d' ' -f1 /tmp/egm-windows); do
	[ -f "/tmp/egm-$name.log" ] &&
		echo "  $name: $(tail -n 1 "/tmp/egm-$name.log")"
done

section "Regions after release: FREE back (egm list)"
run egm list
run egm windows

if [ "$EGM_ARCH" = x86_64 ]; then
	section "Three VMs on two sockets: unmodified QEMU 7.2 and 11 on windows"
	echo "Each VM is started through the CLI (egm alloc --exec), with its RAM on"
	echo "the window and an edu assigned. A tiny payload signs every page of its"
	echo "RAM and runs an edu DMA; the windows are then read from this side."
	if /egm/vmm/egm_vmm_test --demo; then
		step_end ok
	else
		step_end FAILED
	fi

	section "A real Linux guest on EGM: the bench's own kernel, nested"
	if /egm/vmm/egm_vmm_test --linux; then
		step_end ok
	else
		step_end FAILED
	fi
else
	# The bench has no arm64 QEMU or payload for nested VMs yet (README):
	# what QEMU does with a window still runs, the iommufd import and
	# device DMA through the SMMUv3, as egm_vfio_test checks them.
	section "What QEMU does with a window, without nested VMs: MAP_FILE and edu DMA through SMMUv3"
	echo "The bench has no arm64 QEMU or payload to run nested VMs in this"
	echo "guest yet, so this part runs the VMM's side alone: a window"
	echo "imported with IOMMU_IOAS_MAP_FILE, an edu attached through the"
	echo "vfio-pci cdev behind the SMMUv3, DMA both ways, checked through the"
	echo "window's mapping (egm_vfio_test)."
	vt=/egm/tests/egm/egm_vfio_test
	# It faults on purpose (DMA at a hole, a rebind refused while a
	# window lives): keep the kernel's reports of that off the console
	# and count them instead.
	dmesg -n 1
	faults0=$(dmesg | grep -c 'event: F_TRANSLATION')
	if [ -x "$vt" ] && (cd /egm/tests/egm && ./egm_vfio_test) > /tmp/egm-vfio.tap 2>&1; then
		grep -E '^(ok|not ok) ' /tmp/egm-vfio.tap | sed 's/^/  /'
		step_end ok
	else
		sed 's/^/  /' /tmp/egm-vfio.tap 2>/dev/null | tail -n 20
		step_end FAILED
	fi
	dmesg -n 5
	echo "  The SMMUv3 logged $(($(dmesg | grep -c 'event: F_TRANSLATION') - faults0)) translation faults: hole_dma_faults aims"
	echo "  DMA at a window's hole, which has no IOMMU mapping, and expects them."
fi

section "The regions at the end (egm list)"
run egm list
step_end

section "The story, step by step"
awk -F'|' '{ printf "  %-74s %7ss  %s\n", $1, $2, $3 }' "$steps"
echo
say "demo: done"
