#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source-7.3 into $EGM_CACHE through a private apt
# configuration. The mirror is read from this machine's own apt sources so
# that no host name is ever written into the repository.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cache=$EGM_CACHE
pkg=${EGM_KERNEL_PKG:-linux-source-7.3}
suites=${EGM_KERNEL_SUITES:-"trixie-backports trixie sid"}
apt_dir=$cache/apt

die() { echo "fetch-kernel: $*" >&2; exit 1; }

if [ -s "$cache/kernel-version" ] && [ -s "$cache/$(cat "$cache/kernel-version").tar.xz" ]; then
	exit 0
fi

echo "fetch-kernel: updating private package lists ($suites)"
# shellcheck disable=SC2086
egm_apt_private "$apt_dir" "$(dpkg --print-architecture)" $suites
aptopts=("${egm_aptopts[@]}")

ver=$(apt-cache "${aptopts[@]}" madison "$pkg" | awk -F'|' '{ gsub(/ /, "", $2); print $2; exit }')
[ -n "$ver" ] || die "$pkg is not available from the configured suites"

echo "fetch-kernel: downloading $pkg $ver"
(cd "$apt_dir/archives" && apt-get "${aptopts[@]}" -q download "$pkg=$ver") ||
	die "could not download $pkg $ver"
deb=$(ls -t "$apt_dir"/archives/"${pkg}"_*.deb | head -n1)

tmp=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
tarball=$(find "$tmp/usr/src" -maxdepth 1 -name 'linux-source-*.tar.xz' | head -n1)
[ -n "$tarball" ] || die "no source tarball in $deb"
name=$(basename "$tarball" .tar.xz)
mv "$tarball" "$cache/$name.tar.xz"
echo "$pkg $ver" > "$cache/kernel-package-version"
echo "$name" > "$cache/kernel-version"
echo "fetch-kernel: $pkg $ver cached as $cache/$name.tar.xz"
