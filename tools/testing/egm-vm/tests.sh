#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's test programs against a bench kernel's exported
# headers, statically (the guest has only busybox):
#   - the kselftests of each collection in EGM_SELFTESTS (default "egm
#     iommu": ours and the upstream iommufd ones, on the patched kernel),
#     installed into BUILD/egm-tests/kselftest/COLL with a tests.list;
#   - the platform smoke tests in guest/, into BUILD/egm-tests/platform;
#   - the nested-VM test and its payload, into BUILD/egm-tests/vmm.
# BUILD/egm-tests/expected lists every program the check run must report.
#
#   tests.sh [ARCH [FLAVOR]]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

arch=${1:-$EGM_ARCH}
flavor=${2:-$EGM_FLAVOR}
kdir=$(egm_kdir "$arch" "$flavor")
src=$(egm_src) || egm_die "no kernel source; run kernel.sh prepare"
cross=$(egm_cross "$arch")
tag=$(egm_tag "$arch")
out=$kdir/egm-tests
logs=$EGM_CACHE/logs
mkdir -p "$out" "$logs"
# One build of the tests per kernel build directory at a time.
exec 8>"$out/.lock"
flock 8

# Exported headers, redone only when what they are made of changed.
# Hash what the tree links in, not this repo's copy: another checkout may
# have linked its own since.
hdr_key=$( { cat "$src"/include/uapi/linux/egm.h "$EGM_REPO"/patches/*.patch 2>/dev/null;
	     echo "$src"; } | egm_hash)
if [ "$(cat "$out/.headers" 2>/dev/null)" != "$hdr_key" ] || [ ! -d "$kdir/usr/include/linux" ]; then
	# make goes by mtimes, and a header linked in from another checkout
	# can be older than the copy it installed from the first one.
	rm -rf "$kdir/usr/include"
	egm_quiet "headers $tag/$flavor" "$logs/headers-$tag-$flavor.log" \
		"$EGM_BENCH/kernel.sh" make "$arch" "$flavor" headers
	echo "$hdr_key" > "$out/.headers"
fi

# The upstream iommufd selftests link libcap statically: a cross build
# takes bookworm's libcap-dev of that architecture (foreign-deb.sh).
capinc=
caplib=
if [ -n "$cross" ]; then
	capdir=$("$EGM_BENCH/foreign-deb.sh" "$arch" libcap-dev) ||
		egm_die "no libcap-dev for $arch"
	capinc=$capdir/usr/include
	caplib=$(dirname "$(find "$capdir/usr/lib" -name libcap.a | head -n 1)")
fi

expected=$out/expected.new
: > "$expected"
# Only the collections asked for this time get onto the share.
rm -rf "$out/kselftest"

for coll in ${EGM_SELFTESTS-egm iommu}; do
	dir=$src/tools/testing/selftests/$coll
	inst=$out/kselftest/$coll
	rm -rf "$inst"
	if [ ! -f "$dir/Makefile" ]; then
		egm_log "selftests/$coll: no Makefile yet, no tests expected"
		continue
	fi
	kself=(make -C "$dir" OUTPUT="$out/build/$coll" ARCH="$(egm_karch "$arch")"
	       ${cross:+CROSS_COMPILE=$cross}
	       KHDR_INCLUDES="-isystem $kdir/usr/include${capinc:+ -isystem $capinc}"
	       USERLDFLAGS="-static${caplib:+ -L$caplib}")
	# The programs the collection declares, whether or not they build.
	mkdir -p "$inst" "$out/build/$coll"
	"${kself[@]}" -s --no-print-directory emit_tests COLLECTION="$coll" 2>/dev/null |
		sed -n "s|^$coll:||p" > "$inst/tests.list" || true
	# The long tests run only when EGM_LONG=1 (.ci/run sets it).
	if [ "${EGM_LONG:-0}" != 1 ]; then
		grep -v -x -F -f "$EGM_BENCH/long-tests.txt" "$inst/tests.list" \
			> "$inst/tests.list.short" || true
		mv "$inst/tests.list.short" "$inst/tests.list"
	fi
	sed "s|^|kselftest/$coll/|" "$inst/tests.list" >> "$expected"
	if ! egm_quiet "selftests/$coll" "$logs/selftests-$coll-$tag-$flavor.log" \
		"${kself[@]}" INSTALL_PATH="$inst" install; then
		egm_log "selftests/$coll did not build; its programs will fail"
	fi
	# A failed build may have left the list behind; the guest skips what is missing.
done

inst=$out/platform
rm -rf "$inst"
guest=(make -C "$EGM_BENCH/guest" KHDR="$kdir/usr/include"
       SELFTESTS="$src/tools/testing/selftests" OUTPUT="$out/build/platform"
       ${cross:+CROSS_COMPILE=$cross})
progs=$("${guest[@]}" -s --no-print-directory progs)
for p in $progs; do
	echo "platform/$p" >> "$expected"
done
if egm_quiet "platform tests" "$logs/platform-tests-$tag-$flavor.log" "${guest[@]}"; then
	mkdir -p "$inst"
	for p in $progs; do
		cp "$out/build/platform/$p" "$inst/"
	done
else
	egm_log "the platform tests did not build; they will fail"
fi

# The nested-VM test and the payload its VMs boot, into BUILD/egm-tests/vmm
# (/egm/vmm in the guest). Every guest gets them (make demo uses them too);
# only the check guest that runs them (EGM_VMM_TESTS=1, check.sh picks
# it) expects their result.
inst=$out/vmm
rm -rf "$inst"
if [ "$arch" = x86_64 ]; then
	[ "${EGM_VMM_TESTS:-0}" != 1 ] || echo "vmm/egm_vmm_test" >> "$expected"
	if egm_quiet "nested-VM test" "$logs/vmm-test-$tag-$flavor.log" "${guest[@]}" vmm &&
	   egm_quiet "payload" "$logs/payload-$tag-$flavor.log" \
		make -C "$EGM_BENCH/payload" OUTPUT="$out/build/payload"; then
		mkdir -p "$inst"
		cp "$out/build/platform/egm_vmm_test" "$out/build/payload/egm-payload.elf" "$inst/"
	else
		egm_log "the nested-VM test or its payload did not build; it will fail"
	fi
fi
mv "$expected" "$out/expected"

# The egm tool (tools/egm), static, for the demo and 'make vm': staged
# into /egm/bin, which is on the guest's PATH. Not a test program.
mkdir -p "$out/bin"
if ! egm_quiet "tools/egm" "$logs/tools-egm-$tag-$flavor.log" \
	make -C "$EGM_REPO/tools/egm" OUTPUT="$out/bin/" CC="${cross}gcc" LDFLAGS=-static; then
	rm -f "$out/bin/egm"
	egm_log "tools/egm did not build; the guest has no egm tool"
fi

# The benchmarks (make bench): bench/*.sh are run in the guest, their
# programs go beside them in bench/p4/ and so on.
inst=$out/bench
rm -rf "$inst"
mkdir -p "$inst/p4" "$inst/all"
if egm_quiet "bench programs" "$logs/bench-$tag-$flavor.log" \
	make -C "$EGM_BENCH/bench" KHDR="$kdir/usr/include" \
	SELFTESTS="$src/tools/testing/selftests" OUTPUT="$out/build/bench" \
	${cross:+CROSS_COMPILE=$cross}; then
	cp "$out/build/bench/egm_p4" "$inst/p4/"
	cp "$EGM_BENCH/bench/p4.sh" "$inst/"
	cp "$out/build/bench/egm_bench" "$inst/all/"
	cp "$EGM_BENCH/bench/bench.sh" "$inst/"
else
	egm_log "the bench programs did not build; make bench has nothing to run"
fi
