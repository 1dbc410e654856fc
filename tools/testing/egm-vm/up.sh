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
exec "$EGM_BENCH/run.sh" "$mode"
