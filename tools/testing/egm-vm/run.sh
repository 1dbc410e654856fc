#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the emulated Grace machine with a bench kernel and run one guest
# mode: check, demo, bench, vm (interactive) or dsdt (dump the DSDT).
#
#   run.sh MODE
#
# EGM_ARCH (x86_64), EGM_FLAVOR (debug/fast) pick the kernel; EGM_KDIR
# overrides its build directory and EGM_MODULES the directory egm.ko is
# taken from. EGM_TIMEOUT (300 s; 900 for demo, 600 with EGM_VMM_TESTS=1,
# which runs the nested-VM test in check mode, and for the debug check
# guest and arm64's, 900 with EGM_LONG=1) kills a hung guest,
# EGM_TEST_TIMEOUT (180 s) bounds each test program. EGM_EXTRA_TESTS and
# EGM_EXTRA_MODULES name directories of extra test programs and modules
# to put on the share (tests/extra/, modules/). EGM_CMDLINE adds to the
# kernel command line.
#
# The guest's results land in $EGM_CACHE/run/ARCH-FLAVOR/share/results and
# its serial console in $EGM_CACHE/run/ARCH-FLAVOR/MODE.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:?usage: run.sh check|demo|bench|vm|dsdt}
arch=$EGM_ARCH
. "$(egm_platform "$arch")"
flavor=$EGM_FLAVOR
kdir=$(egm_kdir "$arch" "$flavor")
image=$kdir/$(egm_image "$arch")
run=$(egm_rundir "$arch" "$flavor")
share=$run/share
timeout_s=${EGM_TIMEOUT:-300}
# Nested VMs take minutes under nested TCG: the demo boots four, one of
# them Linux, and a check guest with EGM_VMM_TESTS=1 three.
if [ -z "${EGM_TIMEOUT:-}" ]; then
	if [ "$mode" = demo ]; then
		timeout_s=900
	elif [ "${EGM_VMM_TESTS:-0}" = 1 ]; then
		timeout_s=600
	elif [ "$mode" = check ] &&
	     { [ "$flavor" = debug ] || [ "$arch" = arm64 ]; }; then
		# The fuzzer's 10^5 steps, and the long tests with EGM_LONG=1;
		# arm64's guests run the iommufd selftests too, two guests at
		# once on two host cores.
		timeout_s=$([ "${EGM_LONG:-0}" = 1 ] && echo 900 || echo 600)
	fi
fi

[ -f "$image" ] || egm_die "no kernel at $image; build it first (kernel.sh build $arch $flavor)"
mkdir -p "$run"
# One guest per staging directory at a time.
exec 9>"$run.lock"
flock 9

# The firmware tables, the initramfs and the patched DSDT are cached for
# every flavour's guest alike: make them one guest at a time (make check
# boots two at once).
exec 7>"$EGM_CACHE/assets-$arch.lock"
flock 7
fw=$("$EGM_BENCH/firmware.sh" "$arch")
initramfs=$("$EGM_BENCH/initramfs.sh" "$arch")
# The QEMUs the guest runs nested VMs with (qemu-rootfs.sh), shared over
# 9p as "qemu72" and "qemu11". Without them everything else still runs and
# the nested-VM tests fail saying so.
declare -A rootfs=()
if [ "$arch" = x86_64 ]; then
	while read -r name dir; do
		rootfs[$name]=$dir
	done < <("$EGM_BENCH/qemu-rootfs.sh" build qemu72 qemu11 ||
		 egm_log "no nested QEMU: see the qemu-rootfs.sh message above")
fi

# The machine, with @FW@, @SHARE@ and @ROOTFS-name@ standing for per-host
# paths so that the list itself can key the cached DSDT.
machine=()
# Both machines' GPU-like functions, edu devices and retired-page tables.
platform_devices() {
	local g r var

	for g in $EGM_PLAT_GPUS; do
		machine+=(-device "pci-testdev,addr=${g%%:*}")
	done
	for g in $EGM_PLAT_EDU_SLOTS; do
		machine+=(-device "edu,addr=$g")
	done
	for ((r = 0; r < EGM_PLAT_NREGIONS; r++)); do
		var=EGM_PLAT_REGION${r}_RETIRED_TABLE
		machine+=(-device "loader,file=@FW@/retired$r.bin,addr=${!var},force-raw=on")
	done
}

machine_args() {
	local g r var sm mem=${EGM_PLAT_MEM%M} mem1=${EGM_PLAT_NODE1_MEM%M}
	if [ "$mode" = bench ]; then
		mem=$((mem + ${EGM_PLAT_BENCH_NODE1_EXTRA%M}))
		mem1=$((mem1 + ${EGM_PLAT_BENCH_NODE1_EXTRA%M}))
	fi
	case $arch in
	x86_64)
		qemu=qemu-system-x86_64
		machine=("$qemu" -machine q35,kernel-irqchip=split -accel tcg
			 -cpu "$EGM_PLAT_X86_CPU" -smp 2 -m "${mem}M"
			 -object "memory-backend-ram,id=m0,size=$EGM_PLAT_NODE0_MEM"
			 -object "memory-backend-ram,id=m1,size=${mem1}M"
			 -numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1
			 -device intel-iommu,intremap=on,caching-mode=on)
		platform_devices
		machine+=(-acpitable file=@FW@/ssdt.aml
			  -virtfs local,path=@SHARE@,mount_tag=egm,security_model=none)
		# The debootstrapped trixie keeps its owners and modes.
		for g in qemu72 qemu11; do
			[ -n "${rootfs[$g]:-}" ] || continue
			sm=none
			if [ $g = qemu11 ]; then
				sm=passthrough
			fi
			machine+=(-virtfs "local,path=@ROOTFS-$g@,mount_tag=$g,readonly=on,security_model=$sm")
		done
		machine+=(-nodefaults -no-reboot -display none)
		console=ttyS0
		;;
	arm64)
		# Each EGM region and the retired-page tables are cold-plugged
		# DIMMs above RAM; the kernel has no memory hotplug, so none is
		# ever added (platform-arm64.sh).
		qemu=qemu-system-aarch64
		egm_need "$qemu" qemu-system-arm
		efi=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
		[ -f "$efi" ] || egm_die "no $efi: apt-get install qemu-efi-aarch64"
		local dimms=() hot=0 d size base pxm
		for ((r = 0; r < EGM_PLAT_NREGIONS; r++)); do
			size=EGM_PLAT_REGION${r}_SIZE
			base=EGM_PLAT_REGION${r}_BASE
			pxm=EGM_PLAT_REGION${r}_PXM
			dimms+=("egm$r ${!size} ${!base} ${!pxm}")
		done
		dimms+=("egmtables $EGM_PLAT_TABLES_SIZE $EGM_PLAT_TABLES_BASE 0")
		for d in "${dimms[@]}"; do
			read -r _ size _ _ <<< "$d"
			hot=$((hot + (size >> 20)))
		done
		# pauth-impdef: QEMU's own pointer-authentication hash, far
		# cheaper under TCG than the architected one.
		machine=("$qemu" -machine virt,gic-version=3,iommu=smmuv3 -accel tcg
			 -cpu max,pauth-impdef=on -smp 2
			 -m "${mem}M,slots=${#dimms[@]},maxmem=$((mem + hot))M"
			 -bios "$efi"
			 -object "memory-backend-ram,id=m0,size=$EGM_PLAT_NODE0_MEM"
			 -object "memory-backend-ram,id=m1,size=${mem1}M"
			 -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1)
		for d in "${dimms[@]}"; do
			read -r g size base pxm <<< "$d"
			machine+=(-object "memory-backend-ram,id=$g,size=$size"
				  -device "pc-dimm,id=$g-dimm,memdev=$g,node=$pxm,addr=$base")
		done
		platform_devices
		machine+=(-virtfs local,path=@SHARE@,mount_tag=egm,security_model=none
			  -nodefaults -no-reboot -display none)
		console=ttyAMA0
		;;
	*)
		egm_die "the $arch machine is not written yet"
		;;
	esac
}

# Single-quoted '$': memmap=SIZE$BASE must reach the kernel as is.
cmdline() {
	local c r base size
	c="console=$console panic=-1 oops=panic log_buf_len=4M"
	# Under TCG on a loaded host the IO-APIC timer check can miss its
	# ticks and panic ("timer doesn't work through Interrupt-remapped
	# IO-APIC"); the timer works, as on any VM.
	[ "$arch" = x86_64 ] && c+=" no_timer_check intel_iommu=on"
	[ "$flavor" = debug ] && c+=" kmemleak=on hung_task_panic=1 softlockup_panic=1"
	# x86 hides the regions and the tables from the kernel with
	# memmap=; on arm64 they are DIMMs it never adds.
	if [ "$arch" = x86_64 ]; then
		for ((r = 0; r < EGM_PLAT_NREGIONS; r++)); do
			base=EGM_PLAT_REGION${r}_BASE
			size=EGM_PLAT_REGION${r}_SIZE
			c+=$(printf ' memmap=%dM$%s' $((${!size} >> 20)) "${!base}")
		done
		c+=$(printf ' memmap=%dM$%s' $((EGM_PLAT_TABLES_SIZE >> 20)) "$EGM_PLAT_TABLES_BASE")
	fi
	echo "$c egm_vm=$1${EGM_CMDLINE:+ $EGM_CMDLINE}"
}

copy_progs() {
	local from=$1 to=$2
	rm -rf "$to"
	mkdir -p "$to"
	[ -d "$from" ] || return 0
	cp -a "$from/." "$to/"
}

stage() {
	local m
	mkdir -p "$share"
	rm -rf "$share/results"
	mkdir -p "$share/results"
	copy_progs "$EGM_BENCH/guest" "$share/guest"
	{
		cat "$fw/platform.env"
		echo "EGM_ARCH=$arch"
		echo "EGM_FLAVOR=$flavor"
		# arm64 under TCG runs the iommufd selftests beside the egm
		# tests at half the speed: 64K pages need more than 180 s.
		echo "EGM_TEST_TIMEOUT=${EGM_TEST_TIMEOUT:-$([ "$arch" = arm64 ] && echo 360 || echo 180)}"
		echo "EGM_VMM_TESTS=${EGM_VMM_TESTS:-0}"
		# 10^5 fuzz steps take 100 s on the debug kernel: the long
		# runs (.ci/run) take them, a plain make check 2 * 10^4.
		echo "EGM_FUZZ_OPS=${EGM_FUZZ_OPS:-$([ "${EGM_LONG:-0}" = 1 ] || echo 20000)}"
		echo "EGM_PAGE=$EGM_PAGE"
		echo "EGM_FUZZ_SEED=${EGM_FUZZ_SEED:-}"
		echo "EGM_STRESS_SECONDS=${EGM_STRESS_SECONDS:-}"
	} > "$share/platform.env"
	rm -rf "$share/modules"
	mkdir -p "$share/modules"
	for m in "${EGM_MODULES:-$kdir/drivers/iommu/egm}"/*.ko \
		 ${EGM_EXTRA_MODULES:+"$EGM_EXTRA_MODULES"/*.ko}; do
		[ -f "$m" ] && cp "$m" "$share/modules/"
	done
	copy_progs "$kdir/egm-tests/kselftest" "$share/tests"
	if [ -n "${EGM_EXTRA_TESTS:-}" ]; then
		copy_progs "$EGM_EXTRA_TESTS" "$share/tests/extra"
	fi
	copy_progs "$kdir/egm-tests/platform" "$share/platform"
	copy_progs "$kdir/egm-tests/bench" "$share/bench"
	# tools/egm, built by tests.sh; /egm/bin is on the guest's PATH.
	copy_progs "$kdir/egm-tests/bin" "$share/bin"
	# The nested VMs' test and payload; for a nested Linux guest (make
	# demo, make vm), the bench's own kernel as a PVH vmlinux and its
	# initramfs.
	copy_progs "$kdir/egm-tests/vmm" "$share/vmm"
	case $mode in
	demo|vm)
		[ ! -f "$kdir/vmlinux" ] || cp "$kdir/vmlinux" "$share/vmm/vmlinux"
		cp "$initramfs" "$share/vmm/initrd.img"
		;;
	esac
}

qpid=
cleanup() { [ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# boot MODE INITRD: returns QEMU's status (124 on timeout).
boot() {
	local m=$1 initrd=$2 log=$run/$1.log args rc filter start g
	args=("${machine[@]//@FW@/$fw}")
	args=("${args[@]//@SHARE@/$share}")
	for g in "${!rootfs[@]}"; do
		args=("${args[@]//@ROOTFS-$g@/${rootfs[$g]}}")
	done
	args+=(-kernel "$image" -initrd "$initrd" -append "$(cmdline "$m")")
	printf '%q ' "${args[@]}" > "$run/$m.cmd"
	echo >> "$run/$m.cmd"
	if [ "$m" = vm ]; then
		"${args[@]}" -serial mon:stdio
		return
	fi
	case $m in
	demo|bench) filter='f || /egm-guest:/ { f = 1; print; fflush() }' ;;
	*) filter='/egm-guest:|Kernel panic/ { print "  " $0; fflush() }' ;;
	esac
	: > "$log"
	start=$SECONDS
	timeout -k 10 "$timeout_s" "${args[@]}" -serial "file:$log" </dev/null &
	qpid=$!
	tail -s 0.2 -n +1 -f --pid="$qpid" "$log" | tr -d '\r' | awk "$filter"
	rc=0
	wait "$qpid" || rc=$?
	qpid=
	echo "$rc" > "$run/$m.rc"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		egm_log "$m: guest killed after ${timeout_s}s (EGM_TIMEOUT)"
	else
		egm_log "$m: guest ran $((SECONDS - start))s (exit $rc)"
	fi
	return "$rc"
}

# QEMU's DSDT is revision 1, which truncates every ACPI integer to 32 bits.
# Dump it from the same machine, patch it (patch-dsdt.py) and prepend it to
# the initrd for ACPI_TABLE_UPGRADE. Cached by the machine arguments.
dsdt_cpio() {
	local key d
	[ "$arch" = x86_64 ] || return 0
	key=$( { "$qemu" --version; printf '%s\n' "${machine[@]}"; } | egm_hash)
	d=$EGM_CACHE/dsdt/$arch-$key
	if [ ! -s "$d/dsdt.cpio" ]; then
		egm_log "dumping this machine's DSDT (new QEMU arguments)" >&2
		stage
		boot dsdt "$initramfs" >&2 || egm_die "the DSDT dump boot failed; see $run/dsdt.log"
		[ -s "$share/results/DSDT" ] || egm_die "the guest saved no DSDT; see $run/dsdt.log"
		rm -rf "$d"
		mkdir -p "$d/kernel/firmware/acpi"
		cp "$share/results/DSDT" "$d/dsdt-qemu.aml"
		"$EGM_BENCH/patch-dsdt.py" "$d/dsdt-qemu.aml" "$d/kernel/firmware/acpi/dsdt.aml"
		(cd "$d" && find kernel | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$d/dsdt.cpio.tmp"
		mv "$d/dsdt.cpio.tmp" "$d/dsdt.cpio"
	fi
	echo "$d/dsdt.cpio"
}

machine_args
dsdt=$(dsdt_cpio)
flock -u 7
stage
initrd=$run/initrd.img
# arm64's SSDT and SRAT ride in the initrd too (firmware.sh).
acpi=
[ ! -f "$fw/acpi.cpio" ] || acpi=$fw/acpi.cpio
cat ${dsdt:+"$dsdt"} ${acpi:+"$acpi"} "$initramfs" > "$initrd"
if [ "$mode" = vm ]; then
	egm_log "booting $arch/$flavor in vm mode"
else
	egm_log "booting $arch/$flavor in $mode mode (serial log $run/$mode.log)"
fi
boot "$mode" "$initrd"
