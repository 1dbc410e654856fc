#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the path of a sparse new enough for this kernel, building one from
# Debian's newest source package when the host's is too old (bookworm's
# 0.6.4 lacks __typeof_unqual__, and the kernel then silently skips C=2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(egm_src)
dir=$EGM_CACHE/sparse
ok() { [ "$("$src/scripts/checker-valid.sh" "$1" -m64 2>/dev/null)" = 1 ]; }

if command -v sparse >/dev/null && ok sparse; then
	command -v sparse
	exit 0
fi
if [ -x "$dir/bin/sparse" ] && ok "$dir/bin/sparse"; then
	echo "$dir/bin/sparse"
	exit 0
fi

"$EGM_BENCH/fetch-kernel.sh" >&2
egm_need dpkg-source dpkg-dev
apt_dir=$EGM_CACHE/apt
sed 's/^deb /deb-src /' "$apt_dir/etc/sources.list" > "$apt_dir/etc/sources-src.list"
aptopts=(-o Dir::Etc::sourcelist="$apt_dir/etc/sources-src.list"
	 -o Dir::Etc::sourceparts=-
	 -o Dir::State::Lists="$apt_dir/lists-src"
	 -o Dir::State::status="$apt_dir/status"
	 -o Dir::Cache="$apt_dir"
	 -o Debug::NoLocking=1
	 -o Acquire::Languages=none)
mkdir -p "$apt_dir/lists-src/partial"
egm_log "building sparse from Debian's newest source package"
apt-get "${aptopts[@]}" -q update >&2 || egm_die "cannot update source package lists"
rm -rf "$dir.build"
mkdir -p "$dir.build"
(cd "$dir.build" && apt-get "${aptopts[@]}" -q --download-only source sparse >&2) ||
	egm_die "cannot download the sparse source package"
(cd "$dir.build" && dpkg-source -x --no-check ./*.dsc src >&2)
make -C "$dir.build/src" -j"$(nproc)" CC=gcc PREFIX="$dir" HAVE_LLVM=no HAVE_GTK=no \
	HAVE_SQLITE=no HAVE_LIBXML=no install >&2 || egm_die "sparse build failed"
rm -rf "$dir.build"
ok "$dir/bin/sparse" || egm_die "the sparse built from source still fails the kernel's check"
echo "$dir/bin/sparse"
