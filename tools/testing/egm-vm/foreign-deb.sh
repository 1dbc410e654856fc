#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian bookworm packages of another architecture, unpacked for the
# bench's cross builds and guests and never installed: downloaded through
# a private apt configuration (lib.sh) and cached in
# $EGM_CACHE/foreign/ARCH/PKG. Prints the directory each is unpacked in.
#
#   foreign-deb.sh ARCH PKG...
#
# The guest's busybox-static, and libcap-dev for the upstream iommufd
# selftests, for arm64 on an x86_64 host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

arch=${1:?usage: foreign-deb.sh ARCH PKG...}
shift
case $arch in
x86_64) deb_arch=amd64 ;;
arm64) deb_arch=arm64 ;;
*) egm_die "no Debian architecture for $arch" ;;
esac
apt_dir=$EGM_CACHE/apt-$deb_arch
updated=

for pkg in "$@"; do
	dir=$EGM_CACHE/foreign/$arch/$pkg
	if [ ! -f "$dir/.egm-done" ]; then
		if [ -z "$updated" ]; then
			egm_apt_private "$apt_dir" "$deb_arch" "${EGM_FOREIGN_SUITE:-bookworm}"
			updated=1
		fi
		egm_log "fetching $pkg for $deb_arch"
		rm -f "$apt_dir/archives/${pkg}_"*.deb
		(cd "$apt_dir/archives" &&
			apt-get "${egm_aptopts[@]}" -q download "$pkg:$deb_arch" >&2) ||
			egm_die "cannot download $pkg for $deb_arch"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$apt_dir/archives/${pkg}_"*.deb "$dir"
		touch "$dir/.egm-done"
	fi
	echo "$dir"
done
