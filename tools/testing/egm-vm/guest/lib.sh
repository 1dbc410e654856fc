# SPDX-License-Identifier: GPL-2.0
# Helpers for the guest scripts; sourced.
. /egm/platform.env
R=/egm/results
# The fuzzer's and the stress test's knobs, when the host set them.
for v in EGM_FUZZ_OPS EGM_FUZZ_SEED EGM_STRESS_SECONDS; do
	eval "[ -z \"\${$v:-}\" ] || export $v"
done

# A progress line: the host shows these while the guest runs.
say() { echo "egm-guest: $*"; }

# Load egm.ko first, then any other module on the share (KUnit test
# modules, scratch modules). Output and status go to results/modules/.
load_modules() {
	local m name
	mkdir -p $R/modules
	for m in /egm/modules/egm.ko /egm/modules/*.ko; do
		[ -f "$m" ] || continue
		name=$(basename "$m" .ko)
		[ -f "$R/modules/$name.rc" ] && continue
		say "insmod $name"
		insmod "$m" > "$R/modules/$name.out" 2>&1
		echo $? > "$R/modules/$name.rc"
	done
}
