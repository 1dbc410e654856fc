#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo / vm / bench: set up, build what changed (fast flavour by
# default) and boot the emulated Grace machine in that mode.
#
#   up.sh demo|vm|bench
set -euo pipefail
export EGM_FLAVOR=${EGM_FLAVOR:-fast}
. "$(dirname "$0")/lib.sh"
. "$EGM_BENCH/steps.sh"

mode=${1:?usage: up.sh demo|vm|bench}
step_setup
step_kernel "$EGM_ARCH" "$EGM_FLAVOR"
step_tests "$EGM_ARCH" "$EGM_FLAVOR"
[ "$mode" = bench ] || exec "$EGM_BENCH/run.sh" "$mode"

# The hugetlbfs comparisons need 1 GiB pages, which only boot can reserve
# reliably: two, on node 1, whose RAM run.sh makes larger in bench mode
# (EGM_PLAT_BENCH_NODE1_EXTRA). The figures come on the console; tabulate
# and plot them here.
export EGM_CMDLINE="hugepagesz=1G hugepages=1:2${EGM_CMDLINE:+ $EGM_CMDLINE}"
# Zeroing whole regions again and again takes a while under TCG.
export EGM_TIMEOUT=${EGM_TIMEOUT:-1800}
run=$(egm_rundir "$EGM_ARCH" "$EGM_FLAVOR")
"$EGM_BENCH/run.sh" bench
"$EGM_BENCH/bench/report.py" "$run/bench.log" "$run/bench"
