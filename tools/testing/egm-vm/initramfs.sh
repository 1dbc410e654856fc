#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the bench initramfs of ARCH: static busybox (the host's, or
# bookworm's for ARCH through foreign-deb.sh) and guest/init, nothing else (the rest comes over 9p). Cached by content;
# prints the path of the gzip'ed cpio.
#
#   initramfs.sh [ARCH]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

arch=${1:-$EGM_ARCH}
if [ "$arch" = "$(uname -m | sed 's/aarch64/arm64/')" ]; then
	busybox=${EGM_BUSYBOX:-/bin/busybox}
	[ -x "$busybox" ] || egm_die "$busybox is missing (apt-get install busybox-static)"
	! ldd "$busybox" >/dev/null 2>&1 ||
		egm_die "$busybox is not static (apt-get install busybox-static)"
else
	busybox=$("$EGM_BENCH/foreign-deb.sh" "$arch" busybox-static)/bin/busybox
fi
init=$EGM_BENCH/guest/init

# gen_init_cpio makes /dev/console without root or mknod.
src=$(egm_src) || egm_die "no kernel source; run kernel.sh prepare"
gen=$EGM_CACHE/tools/gen_init_cpio
if [ ! -x "$gen" ] || [ "$src/usr/gen_init_cpio.c" -nt "$gen" ]; then
	mkdir -p "$EGM_CACHE/tools"
	gcc -O2 -o "$gen" "$src/usr/gen_init_cpio.c"
fi

key=$( { cat "$init" "$busybox" "$0"; } | egm_hash)
out=$EGM_CACHE/initramfs/initramfs-$arch-$key.cpio.gz
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$EGM_CACHE/initramfs"
list=$(mktemp)
trap 'rm -f "$list" "$out.tmp"' EXIT
{
	for d in /dev /proc /sys /tmp /egm /root /bin /sbin /usr /usr/bin /usr/sbin; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "file /init $init 0755 0 0"
} > "$list"
"$gen" "$list" | gzip -9 > "$out.tmp"
rm -f "$EGM_CACHE"/initramfs/initramfs-"$arch"-*.cpio.gz
mv "$out.tmp" "$out"
egm_log "built initramfs $(basename "$out")"
echo "$out"
