#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benches P1, P2, P3 and P5, in the guest (egm_bench, in all/ beside this
# script). Needs egm.ko loaded; egm_bench reserves two 1 GiB hugetlb pages
# for the hugetlbfs comparisons and gives them back.
#
#   bench.sh [-r REPETITIONS]
prog=$(dirname "$0")/all/egm_bench
if [ ! -x "$prog" ] || [ ! -c /dev/egm ]; then
	echo "bench: $prog or /dev/egm is missing"
	exit 1
fi
# Defragment first, so that the 1 GiB pages can be reserved.
echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
exec "$prog" "$@"
