#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Root filesystems holding the QEMUs that the bench runs inside its
# emulated machine, for the nested VMs on egm windows. The guest reaches
# each over 9p and chroots into it. Cached in $EGM_CACHE/rootfs, never in
# the repository.
#
#   qemu72  bookworm's QEMU 7.2, copied from this machine: the binary, the
#           libraries ldd lists, the TCG accelerator module and the
#           firmware (about 60 MB). Keyed by the package versions. The
#           legacy VFIO type1 container path.
#   qemu11  QEMU 11 from trixie-backports in a minbase trixie made with
#           debootstrap (about 350 MB, half a minute). The iommufd path.
#           The mirror comes from this machine's apt sources.
#
#   qemu-rootfs.sh build NAME...   make what is missing; print "NAME DIR" lines
#   qemu-rootfs.sh path NAME       print the cached DIR, or fail if there is none
#
# Building qemu11 needs root (debootstrap, chroot). EGM_QEMU11_SUITE
# (trixie) and EGM_QEMU11_FROM (trixie-backports) pick the suites.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

base=$EGM_CACHE/rootfs
logs=$EGM_CACHE/logs
suite=${EGM_QEMU11_SUITE:-trixie}
from=${EGM_QEMU11_FROM:-trixie-backports}
# The directories the guest bind-mounts before it chroots in.
mounts="dev proc sys tmp egm"

pkg_versions() {
	dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null || true
}

key_qemu72() {
	{
		pkg_versions qemu-system-x86 qemu-system-data seabios ipxe-qemu libc6
		sed -n '/^build_qemu72()/,/^}/p' "$0"
	} | egm_hash
}

key_qemu11() {
	{
		echo "$suite $from"
		sed -n '/^build_qemu11()/,/^}/p' "$0"
	} | egm_hash
}

dir_of() { echo "$base/$1-$("key_$1")"; }

# Copy host files into the rootfs at the same paths, symlinks resolved.
copy_in() {
	local root=$1 f
	shift
	for f in "$@"; do
		mkdir -p "$root/$(dirname "$f")"
		cp -L "$f" "$root/$f"
	done
}

build_qemu72() {
	local root=$1 qemu=/usr/bin/qemu-system-x86_64 moddir libs d
	egm_need qemu-system-x86_64 qemu-system-x86
	egm_need ldd libc-bin
	moddir=/usr/lib/x86_64-linux-gnu/qemu
	# Debian builds TCG as a module: without it -accel tcg is unknown.
	[ -f "$moddir/accel-tcg-x86_64.so" ] ||
		egm_die "no $moddir/accel-tcg-x86_64.so: apt-get install --reinstall qemu-system-x86"
	mapfile -t libs < <(ldd "$qemu" "$moddir/accel-tcg-x86_64.so" |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
	copy_in "$root" "$qemu" "$moddir/accel-tcg-x86_64.so" "${libs[@]}"
	# The firmware directories QEMU searches (qemu-system-x86_64 -L help).
	for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
		[ -d "$d" ] || continue
		mkdir -p "$root/$d"
		cp -rL "$d/." "$root/$d/"
	done
	[ -f "$root/usr/share/seabios/bios-256k.bin" ] ||
		egm_die "no SeaBIOS image: apt-get install --no-install-recommends seabios"
	pkg_versions qemu-system-x86 > "$root/.egm-version"
}

build_qemu11() {
	local root=$1 mirror
	[ "$(id -u)" = 0 ] || egm_die "building the QEMU 11 rootfs needs root (debootstrap, chroot)"
	egm_need debootstrap debootstrap
	mirror=$(egm_mirror_uri)
	[ -n "$mirror" ] ||
		egm_die "no Debian mirror in /etc/apt/sources.list*; the QEMU 11 rootfs needs one"
	egm_log "qemu11: debootstrap --variant=minbase $suite (about 30 s)"
	if ! debootstrap --variant=minbase "$suite" "$root" "$mirror"; then
		tail -n 20 "$root/debootstrap/debootstrap.log" 2>/dev/null || true
		egm_die "debootstrap --variant=minbase $suite failed"
	fi
	echo "deb $mirror $from main" > "$root/etc/apt/sources.list.d/egm-$from.list"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	egm_log "qemu11: apt-get install -t $from qemu-system-x86"
	unshare -m --propagation private sh -ec '
		mount -t proc proc "$1/proc"
		chroot "$1" apt-get -q update
		DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q \
			--no-install-recommends -t "$2" qemu-system-x86
		chroot "$1" apt-get clean
	' sh "$root" "$from" ||
		egm_die "installing qemu-system-x86 from $from into the rootfs failed"
	chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' qemu-system-x86 > "$root/.egm-version"
	# Nothing that names the mirror stays behind.
	rm -rf "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/* \
	       "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/apt \
	       "$root"/var/log/*.log "$root/etc/resolv.conf"
}

# build NAME: print "NAME DIR", building DIR first if it is not cached.
build() {
	local name=$1 dir tmp log old d
	dir=$(dir_of "$name")
	if [ ! -f "$dir/.egm-done" ]; then
		mkdir -p "$base" "$logs"
		log=$logs/rootfs-$name.log
		tmp=$dir.tmp
		rm -rf "$tmp"
		mkdir -p "$tmp"
		if ! egm_quiet "rootfs $name (log $log)" "$log" "build_$name" "$tmp"; then
			rm -rf "$tmp"
			egm_die "could not build the $name rootfs; see $log"
		fi
		for d in $mounts; do
			mkdir -p "$tmp/$d"
		done
		chroot "$tmp" /usr/bin/qemu-system-x86_64 --version > "$tmp/.egm-qemu-version" 2>&1 ||
			egm_die "the $name rootfs cannot run QEMU: $(head -n 3 "$tmp/.egm-qemu-version")"
		touch "$tmp/.egm-done"
		# Only the current version of each is kept.
		for old in "$base/$name"-*; do
			[ "$old" = "$tmp" ] || rm -rf "$old"
		done
		mv "$tmp" "$dir"
		egm_log "rootfs $name: $(head -n 1 "$dir/.egm-qemu-version"), $(du -sh "$dir" | cut -f1)"
	fi
	echo "$name $dir"
}

cmd=${1:-}
shift || true
case $cmd in
build)
	[ $# != 0 ] || set -- qemu72 qemu11
	for n in "$@"; do
		case $n in
		qemu72|qemu11) build "$n" ;;
		*) egm_die "unknown rootfs $n (qemu72 or qemu11)" ;;
		esac
	done
	;;
path)
	d=$(dir_of "${1:?usage: qemu-rootfs.sh path NAME}")
	[ -f "$d/.egm-done" ] || exit 1
	echo "$d"
	;;
*)
	egm_die "usage: qemu-rootfs.sh build [NAME...] | path NAME"
	;;
esac
