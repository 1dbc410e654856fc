#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare, configure and build the bench kernel with egm in-tree.
#
#   kernel.sh prepare                   unpack the source, apply patches/, link the repo in
#   kernel.sh config ARCH FLAVOR        tinyconfig + fragments, verified
#   kernel.sh build ARCH FLAVOR [T...]  build (default: image and modules)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# What the repo adds to the kernel tree, linked in so edits rebuild
# incrementally. Selftest directories are mirrored file by file because
# their Makefiles include ../lib.mk, which a directory symlink would
# resolve inside the repo.
links=(drivers/iommu/egm include/uapi/linux/egm.h)
mirrors=(tools/testing/selftests/egm)

prepare() {
	"$EGM_BENCH/fetch-kernel.sh"
	local v src applied
	v=$(cat "$EGM_CACHE/kernel-version")
	src=$EGM_CACHE/src/$v
	applied=$EGM_CACHE/src/$v.applied
	if [ ! -f "$src/Makefile" ]; then
		egm_log "unpacking $v"
		rm -rf "$src" "$applied"
		mkdir -p "$EGM_CACHE/src"
		tar -C "$EGM_CACHE/src" -xf "$EGM_CACHE/$v.tar.xz"
	fi

	# Swap the applied series for the repo's only when it changed, and
	# then only past the patches both share, so that an unchanged patch
	# leaves the timestamps of the files it touches alone.
	if ! diff -qr "$EGM_REPO/patches" "$applied" >/dev/null 2>&1; then
		local p n keep=0 old=() new=()
		for p in "$applied"/*.patch; do [ -e "$p" ] && old+=("$p"); done
		for p in "$EGM_REPO"/patches/*.patch; do [ -e "$p" ] && new+=("$p"); done
		while [ "$keep" -lt "${#old[@]}" ] && [ "$keep" -lt "${#new[@]}" ] &&
		      [ "$(basename "${old[$keep]}")" = "$(basename "${new[$keep]}")" ] &&
		      cmp -s "${old[$keep]}" "${new[$keep]}"; do
			keep=$((keep + 1))
		done
		for ((n = ${#old[@]} - 1; n >= keep; n--)); do
			(cd "$src" && git apply -R -p1 "${old[$n]}") ||
				egm_die "cannot revert $(basename "${old[$n]}"); remove $src to start over"
		done
		rm -rf "$applied"
		for ((n = keep; n < ${#new[@]}; n++)); do
			p=${new[$n]}
			egm_log "applying $(basename "$p")"
			(cd "$src" && git apply -p1 "$p") ||
				egm_die "patch $(basename "$p") does not apply to $v"
		done
		cp -r "$EGM_REPO/patches" "$applied"
	fi

	local l
	for l in "${links[@]}"; do
		if [ -e "$src/$l" ] && [ ! -L "$src/$l" ]; then
			egm_die "$src/$l exists upstream; refusing to replace it"
		fi
		ln -sfn "$EGM_REPO/$l" "$src/$l"
	done
	for l in "${mirrors[@]}"; do
		rm -rf "$src/$l"
		cp -rs "$EGM_REPO/$l" "$src/$l"
	done
}

# Every fragment line, in order: later ones win.
fragments() {
	local arch=$1 flavor=$2 src=$3
	cat "$EGM_BENCH/configs/base.config" \
	    "$EGM_BENCH/configs/$arch.config" \
	    "$src/tools/testing/selftests/iommu/config" \
	    "$EGM_REPO/tools/testing/selftests/egm/config"
	[ "$EGM_PAGE" = 4K ] || cat "$EGM_BENCH/configs/$(egm_tag "$arch").config"
	case $flavor in
	fast) ;;
	debug) cat "$EGM_BENCH/configs/debug.config" ;;
	# For static checks only (modules_prepare, no image): the debug
	# options where make check runs, plain elsewhere.
	static)
		if [ "$arch" = x86_64 ]; then
			cat "$EGM_BENCH/configs/debug.config"
		fi
		;;
	*) egm_die "unknown flavor $flavor (fast, debug or static)" ;;
	esac
}

kmake() {
	local arch=$1 out=$2
	shift 2
	local cross
	cross=$(egm_cross "$arch")
	egm_need ccache ccache
	egm_need flex flex
	egm_need bison bison
	[ -z "$cross" ] || egm_need "${cross}gcc" gcc-aarch64-linux-gnu
	# One kernel build at a time: the machine has two cores.
	mkdir -p "$EGM_CACHE"
	flock "$EGM_CACHE/build.lock" make -C "$(egm_src)" O="$out" ARCH="$(egm_karch "$arch")" \
		${cross:+CROSS_COMPILE=$cross} CC="ccache ${cross}gcc" \
		KBUILD_BUILD_TIMESTAMP=egm KBUILD_BUILD_USER=egm KBUILD_BUILD_HOST=egm \
		-j"$(nproc)" "$@"
}

config() {
	local arch=$1 flavor=$2 src out frag want
	src=$(egm_src)
	out=$(egm_out "$arch" "$flavor")
	mkdir -p "$out"
	frag=$(fragments "$arch" "$flavor" "$src" | grep -E '^(CONFIG_|# CONFIG_)')
	want=$(printf '%s\n' "$frag" | sha1sum | cut -d' ' -f1)
	if [ -f "$out/.config" ] && [ "$(cat "$out/.egm-config" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	egm_log "configuring $(egm_tag "$arch")/$flavor"
	printf '%s\n' "$frag" > "$out/egm.fragment"
	kmake "$arch" "$out" tinyconfig >/dev/null
	"$(egm_src)/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$out/egm.fragment" >/dev/null
	kmake "$arch" "$out" olddefconfig >/dev/null
	verify "$out/egm.fragment" "$out/.config"
	echo "$want" > "$out/.egm-config"
}

# Fail loudly when an option asked for did not stick.
verify() {
	local frag=$1 cfg=$2 bad=0 line opt val got
	declare -A last
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			last[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			last[${BASH_REMATCH[1]}]=n
		fi
	done < "$frag"
	for opt in "${!last[@]}"; do
		val=${last[$opt]}
		got=$(grep -E "^$opt=" "$cfg" | cut -d= -f2- || true)
		[ -n "$got" ] || got=n
		if [ "$got" != "$val" ]; then
			echo "egm-vm: $opt=$val was requested but .config has $got" >&2
			bad=1
		fi
	done
	[ $bad = 0 ] || egm_die "config verification failed for $cfg"
}

build() {
	local arch=$1 flavor=$2 out
	shift 2
	out=$(egm_out "$arch" "$flavor")
	config "$arch" "$flavor"
	if [ $# = 0 ]; then
		set -- "$(basename "$(egm_image "$arch")")" modules
		[ "$arch" = x86_64 ] && set -- "$@" vmlinux
	fi
	egm_log "building $(egm_tag "$arch")/$flavor: $*"
	kmake "$arch" "$out" "$@"
}

cmd=${1:-}
shift || true
case $cmd in
prepare) prepare ;;
config) config "${1:-$EGM_ARCH}" "${2:-$EGM_FLAVOR}" ;;
build) build "${1:-$EGM_ARCH}" "${2:-$EGM_FLAVOR}" "${@:3}" ;;
make) a=$1 f=$2; shift 2; kmake "$a" "$(egm_out "$a" "$f")" "$@" ;;
*) egm_die "usage: kernel.sh prepare|config|build|make ..." ;;
esac
