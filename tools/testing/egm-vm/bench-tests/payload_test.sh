#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The nested VMs' payload (payload/), booted by this machine's QEMU on a
# file-backed RAM, without nesting: it must sign every page it reports at
# its guest address, run the edu DMA round trip when an edu is present, say
# so on debugcon and exit through isa-debug-exit. Then a reader of the
# file finds exactly what egm_vmm_test looks for in a window.
# Prints TAP; exits nonzero if any case fails.
set -uo pipefail
bench=$(cd "$(dirname "$0")/.." && pwd)
hdr=$bench/payload/egm_payload.h

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

build() {
	make -s -C "$bench/payload" OUTPUT="$tmp/build" > "$tmp/build.log" 2>&1 ||
		{ sed 's/^/# /' "$tmp/build.log"; return 1; }
}

# boot VM SIZE [QEMU ARGS...]: run the payload as vm VM on SIZE of RAM in
# $tmp/ram-VM; QEMU's status in $tmp/rc-VM, debugcon in $tmp/con-VM.
boot() {
	local vm=$1 size=$2 rc=0
	shift 2
	rm -f "$tmp/ram-$vm"
	truncate -s "$size" "$tmp/ram-$vm"
	timeout 60 qemu-system-x86_64 -machine pc -accel tcg -m "$size" -nodefaults \
		-no-user-config -display none \
		-object "memory-backend-file,id=m0,mem-path=$tmp/ram-$vm,size=$size,share=on" \
		-numa node,memdev=m0 -kernel "$tmp/build/egm-payload.elf" -append "vm=$vm" \
		-debugcon "file:$tmp/con-$vm" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		"$@" > "$tmp/qemu-$vm.log" 2>&1 || rc=$?
	echo "$rc" > "$tmp/rc-$vm"
	sed 's/^/# /' "$tmp/con-$vm" "$tmp/qemu-$vm.log" 2>/dev/null
}

# verify VM EDU: the status, the report and the RAM file agree.
verify() {
	python3 - "$hdr" "$tmp" "$1" "$2" <<'EOF'
import mmap, re, struct, sys

hdr, tmp, vm, edu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = {m.group(1): int(m.group(2), 0) for m in
     re.finditer(r"#define\s+(EGM_\w+)\s+(0x[0-9a-fA-F]+|\d+)(?:ULL)?\b", open(hdr).read())}
M64 = (1 << 64) - 1
def check(magic, v, gpa):
    return magic ^ ((v * c["EGM_SIG_SALT"]) & M64) ^ ((gpa + c["EGM_SIG_SALT"]) & M64)

bad = []
rc = int(open("%s/rc-%d" % (tmp, vm)).read())
want = (c["EGM_PAYLOAD_EXIT_OK"] << 1) | 1
if rc != want:
    bad.append("QEMU exit status %d, want %d" % (rc, want))
con = open("%s/con-%d" % (tmp, vm)).read()
m = re.search(r"egm-payload: vm=(\d+) pages=(\d+) .* edu=(\S+)", con)
if not m:
    bad.append("no report on debugcon")
else:
    if int(m.group(1)) != vm:
        bad.append("reported vm=%s" % m.group(1))
    if m.group(3) != edu:
        bad.append("reported edu=%s, want %s" % (m.group(3), edu))
f = open("%s/ram-%d" % (tmp, vm), "rb")
ram = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
own = wrong = 0
for off in range(0, len(ram), 4096):
    magic, v, gpa, ck = struct.unpack_from("<4Q", ram, off)
    if magic != c["EGM_SIG_MAGIC"]:
        continue
    if v == vm and gpa == off and ck == check(magic, v, gpa):
        own += 1
    else:
        wrong += 1
if m and own != int(m.group(2)):
    bad.append("%d signed pages in RAM, the payload reported %s" % (own, m.group(2)))
if wrong:
    bad.append("%d pages with a wrong signature" % wrong)
if own < len(ram) // 4096 * 9 // 10:
    bad.append("only %d of %d pages signed" % (own, len(ram) // 4096))
src, dst, n = c["EGM_PAYLOAD_DMA_SRC"], c["EGM_PAYLOAD_DMA_DST"], c["EGM_PAYLOAD_DMA_LEN"]
magic, v, gpa, ck = struct.unpack_from("<4Q", ram, src)
if edu == "ok":
    if (magic, v, gpa) != (c["EGM_DMA_MAGIC"], vm, src) or ck != check(magic, v, gpa):
        bad.append("no DMA source block")
    if ram[dst:dst + n] != ram[src:src + n]:
        bad.append("the DMA target does not hold the source")
    if ram[dst + n:dst + 4096].count(0) != 4096 - n:
        bad.append("the DMA target page is written beyond the transfer")
elif ram[dst:dst + 4096].count(0) != 4096:
    bad.append("the DMA target page is written without a device")
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
EOF
}

command -v qemu-system-x86_64 >/dev/null || { echo "not ok 1 no qemu-system-x86_64"; exit 1; }
check "the payload builds" build
boot 5 64M -device edu
check "64M with an edu: every page signed, DMA round trip" verify 5 ok
boot 6 160M
check "160M without a device: every page signed, no DMA" verify 6 none
tap_done
