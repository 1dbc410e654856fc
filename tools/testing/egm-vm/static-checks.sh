#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the driver and the kernel patches. Each is one check:
# "PASS static/NAME" or "FAIL static/NAME" appended to CHECKS (default:
# stdout only), with the offending lines printed on failure.
#
#   static-checks.sh [CHECKS]
#
#   static/checkpatch       checkpatch --strict on our sources and headers
#   static/checkpatch-patches  checkpatch --strict on patches/*.patch
#   static/sparse-x86_64    sparse (C=2) and W=1 on drivers/iommu/egm
#   static/sparse-arm64     the same, cross-built for arm64 with 4K pages
#   static/sparse-arm64-64k and with 64K pages
#   static/kernel-doc       kernel-doc -Wall on our sources and uapi header
#   static/git-am           patches/ applies with git am to pristine files
#   static/bench-NAME       the bench's own tests, bench-tests/NAME_test.sh
set -uo pipefail
. "$(dirname "$0")/lib.sh"

checks=${1:-/dev/null}
src=$(egm_src) || egm_die "no kernel source; run kernel.sh prepare"
logs=$EGM_CACHE/logs/static
mkdir -p "$logs"
cd "$EGM_REPO" || exit 1

# Our files, relative to the repo (and to the kernel tree, where they are linked).
shopt -s nullglob
sources=(drivers/iommu/egm/*.[ch] tools/egm/*.[ch])
headers=(include/uapi/linux/egm.h)
[ -f "${headers[0]}" ] || headers=()
patches=(patches/*.patch)
ours='(drivers/iommu/egm/|include/uapi/linux/egm\.h)'
shopt -u nullglob

failed=0
# record NAME STATUS LOG: one check; on failure show the log's problem lines.
record() {
	local name=$1 ok=$2 log=$3
	if [ "$ok" = 0 ]; then
		echo "PASS static/$name" >> "$checks"
		egm_log "static/$name: ok"
	else
		echo "FAIL static/$name" >> "$checks"
		failed=$((failed + 1))
		echo "FAIL: static/$name (log $log)"
		head -n "${EGM_LOG_TAIL:-60}" "$log.problems" 2>/dev/null | sed 's/^/    /'
	fi
}

# Lines of LOG that are problems in our files (GCC/sparse format).
our_warnings() {
	local n
	n=$(grep -c -E "$ours[^:]*:[0-9]+(:[0-9]+)?: (warning|error)|^(WARNING|ERROR): .*$ours" "$1")
	grep -E -A3 "$ours[^:]*:[0-9]+(:[0-9]+)?: (warning|error)|^(WARNING|ERROR): .*$ours" "$1" >> "$1.problems"
	[ "$n" = 0 ]
}

check_checkpatch() {
	local log=$logs/checkpatch.log
	if [ ${#sources[@]} = 0 ] && [ ${#headers[@]} = 0 ]; then
		: > "$log"
	else
		"$src/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
			-f "${sources[@]}" "${headers[@]}" > "$log" 2>&1
	fi
	grep -E -A4 '^(ERROR|WARNING|CHECK):' "$log" > "$log.problems"
	record checkpatch "$([ -s "$log.problems" ] && echo 1 || echo 0)" "$log"
}

check_checkpatch_patches() {
	local log=$logs/checkpatch-patches.log p
	: > "$log"
	# Debian's source has no git history, so checkpatch cannot look up
	# the commits that Fixes: tags name; every other check stays on.
	for p in "${patches[@]}"; do
		(cd "$src" && ./scripts/checkpatch.pl --strict --quiet --show-types \
			--ignore UNKNOWN_COMMIT_ID "$EGM_REPO/$p") >> "$log" 2>&1
	done
	grep -E -A4 '^(ERROR|WARNING|CHECK):' "$log" > "$log.problems"
	record checkpatch-patches "$([ -s "$log.problems" ] && echo 1 || echo 0)" "$log"
}

# A build directory for static checks: configured, modules_prepare'd.
prepare_static() {
	local arch=$1 out dbg
	out=$(egm_out "$arch" static)
	dbg=$(egm_out "$arch" debug)
	# On x86_64 the static flavour is the debug configuration; reuse it.
	if [ "$arch" = x86_64 ] && [ -f "$dbg/.config" ] && [ -f "$dbg/.egm-config" ] &&
	   ! cmp -s "$dbg/.egm-config" "$out/.egm-config"; then
		mkdir -p "$out"
		cp "$dbg/.config" "$dbg/egm.fragment" "$dbg/.egm-config" "$out/"
	fi
	egm_quiet "config $(egm_tag "$arch")/static" "$logs/config-$(egm_tag "$arch").log" \
		"$EGM_BENCH/kernel.sh" config "$arch" static &&
	egm_quiet "modules_prepare $(egm_tag "$arch")/static" "$logs/modules_prepare-$(egm_tag "$arch").log" \
		"$EGM_BENCH/kernel.sh" make "$arch" static modules_prepare
}

# The driver directory alone, with extra warnings. Its module is not
# linked against a vmlinux here, so modpost's complaints are not ours.
# Objects are removed first: warnings only show when a file compiles.
build_dir() {
	local arch=$1 log=$2 rc=0
	shift 2
	rm -rf "$(egm_out "$arch" static)/drivers/iommu/egm"
	"$EGM_BENCH/kernel.sh" make "$arch" static "$@" W=1 drivers/iommu/egm/ > "$log" 2>&1 || rc=$?
	if ! grep -q 'CC \[M\] *drivers/iommu/egm/' "$log"; then
		echo "drivers/iommu/egm did not compile" >> "$log.problems"
		[ $rc != 0 ] || rc=1
	fi
	return $rc
}

# check_sparse ARCH [PAGE]: sparse (C=2) and W=1 on the driver directory.
check_sparse() {
	local arch=$1 name tag rc=0 log
	export EGM_ARCH=$arch EGM_PAGE=${2:-4K}
	tag=$(egm_tag "$arch")
	name=sparse-$tag
	log=$logs/$name.log
	if ! prepare_static "$arch"; then
		cat "$logs/config-$tag.log" "$logs/modules_prepare-$tag.log" > "$log" 2>/dev/null
		tail -n 40 "$log" > "$log.problems"
		record "$name" 1 "$log"
		return
	fi
	if ! sparse=$("$EGM_BENCH/sparse.sh" 2> "$log"); then
		cp "$log" "$log.problems"
		record "$name" 1 "$log"
		return
	fi
	: > "$log.problems"
	build_dir "$arch" "$log" C=2 CHECK="$sparse" || rc=$?
	our_warnings "$log" || rc=1
	# The kernel silently drops C=2 when it finds sparse wanting.
	if grep -q 'is not available or not up to date' "$log" ||
	   ! grep -q 'CHECK .*drivers/iommu/egm/' "$log"; then
		echo "sparse did not run on drivers/iommu/egm" >> "$log.problems"
		rc=1
	fi
	[ $rc = 0 ] || [ -s "$log.problems" ] || tail -n 40 "$log" > "$log.problems"
	record "$name" $rc "$log"
}

check_kernel_doc() {
	local log=$logs/kernel-doc.log
	: > "$log"
	if [ ${#sources[@]} != 0 ] || [ ${#headers[@]} != 0 ]; then
		"$src/scripts/kernel-doc" -none -Wall "${sources[@]}" "${headers[@]}" > "$log" 2>&1
	fi
	grep -iE 'warning|error' "$log" > "$log.problems"
	record kernel-doc "$([ -s "$log.problems" ] && echo 1 || echo 0)" "$log"
}

# Pristine copies of the upstream files the series touches, from the tarball.
check_git_am() {
	local log=$logs/git-am.log v tarball files key pristine tmp rc=0 f
	v=$(cat "$EGM_CACHE/kernel-version")
	tarball=$EGM_CACHE/$v.tar.xz
	: > "$log"
	if [ ${#patches[@]} = 0 ]; then
		record git-am 0 "$log"
		return
	fi
	files=$(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${patches[@]}" | LC_ALL=C sort -u)
	key=$( { echo "$v"; echo "$files"; } | egm_hash)
	pristine=$EGM_CACHE/pristine/$key
	if [ ! -d "$pristine" ]; then
		egm_log "static/git-am: extracting the pristine files from $(basename "$tarball")"
		tmp=$(mktemp -d "$EGM_CACHE/pristine.XXXXXX")
		# Files the series creates are not in the tarball; that is fine.
		# shellcheck disable=SC2086
		tar -C "$tmp" -xJf "$tarball" $(sed "s|^|$v/|" <<< "$files") 2>/dev/null
		mkdir -p "$tmp/$v"
		mkdir -p "$(dirname "$pristine")"
		mv "$tmp/$v" "$pristine"
		rm -rf "$tmp"
	fi
	tmp=$(mktemp -d)
	cp -a "$pristine/." "$tmp/"
	(
		cd "$tmp" &&
		git init -q &&
		git add -A &&
		git -c user.name=egm -c user.email=egm@localhost commit -q --allow-empty -m pristine &&
		git -c user.name=egm -c user.email=egm@localhost am -q \
			"${patches[@]/#/$EGM_REPO/}"
	) > "$log" 2>&1 || rc=$?
	rm -rf "$tmp"
	cp "$log" "$log.problems"
	record git-am $rc "$log"
}

# The bench's own scripts, tested without a kernel or a guest.
check_bench_tests() {
	local t name log
	for t in "$EGM_BENCH"/bench-tests/*_test.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" _test.sh)
		log=$logs/bench-$name.log
		# A skip is not a pass.
		if "$t" > "$log" 2>&1 && grep -q '^ok ' "$log" && ! grep -q '^not ok ' "$log" &&
		   ! grep -qi '^ok .*# *skip' "$log"; then
			: > "$log.problems"
			record "bench-$name" 0 "$log"
		else
			grep -B2 -A2 '^not ok \|^#' "$log" > "$log.problems" || tail -n 20 "$log" > "$log.problems"
			record "bench-$name" 1 "$log"
		fi
	done
}

start=$SECONDS
check_bench_tests
check_checkpatch
check_checkpatch_patches
check_kernel_doc
check_git_am
check_sparse x86_64
check_sparse arm64
check_sparse arm64 64K
egm_log "static checks: $failed failed, $((SECONDS - start))s"
[ $failed = 0 ]
