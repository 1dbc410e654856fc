# SPDX-License-Identifier: GPL-2.0
# The steps before a boot, shared by check.sh and up.sh; sourced after
# lib.sh. Each returns nonzero on failure and logs into $EGM_CACHE/logs.

egm_logs=$EGM_CACHE/logs

step_setup() {
	mkdir -p "$egm_logs"
	"$EGM_BENCH/deps.sh" || return 1
	# Preparing rewrites parts of the tree: not while a build reads it.
	egm_quiet "prepare" "$egm_logs/prepare.log" \
		flock "$EGM_CACHE/build.lock" "$EGM_BENCH/kernel.sh" prepare
}

# Everything a kernel build depends on that lives in the repo or cache.
egm_build_key() {
	{
		echo "$(egm_tag "$1") $2"
		cat "$(egm_src)/Makefile"
		find "$EGM_REPO/drivers/iommu/egm" "$EGM_REPO/include/uapi" \
		     "$EGM_REPO/patches" "$EGM_BENCH/configs" "$EGM_BENCH/kernel.sh" \
		     "$EGM_REPO/tools/testing/selftests/egm/config" -type f 2>/dev/null |
			LC_ALL=C sort | xargs cat
	} | egm_hash
}

# step_kernel ARCH FLAVOR: build unless nothing it depends on changed.
step_kernel() {
	local arch=$1 flavor=$2 kdir key log
	kdir=$(egm_kdir "$arch" "$flavor")
	log=$egm_logs/build-$(egm_tag "$arch")-$flavor.log
	key=$(egm_build_key "$arch" "$flavor")
	if [ -z "${EGM_KDIR:-}" ] && [ "$(cat "$kdir/.egm-built" 2>/dev/null)" = "$key" ] &&
	   [ -f "$kdir/$(egm_image "$arch")" ]; then
		egm_log "kernel $(egm_tag "$arch")/$flavor: up to date"
		return 0
	fi
	if [ -n "${EGM_KDIR:-}" ]; then
		egm_log "kernel: using $EGM_KDIR as is"
		return 0
	fi
	egm_quiet "kernel $(egm_tag "$arch")/$flavor (log $log)" "$log" \
		"$EGM_BENCH/kernel.sh" build "$arch" "$flavor" || {
		grep -E '(error|warning):|\*\*\*' "$log" | head -n 20 | sed 's/^/    /' >&2
		return 1
	}
	echo "$key" > "$kdir/.egm-built"
}

step_tests() {
	"$EGM_BENCH/tests.sh" "$1" "$2"
}
