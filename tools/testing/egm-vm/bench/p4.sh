#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Bench P4, in the guest: time IOMMU_IOAS_MAP_FILE of egm windows against
# memfds on hugetlbfs, into an iommufd mock domain (egm_p4). Needs egm.ko
# loaded and CONFIG_IOMMUFD_TEST; egm_p4 reserves the 1 GiB of 2 MiB pages
# it needs and gives them back.
#
#   p4.sh [EGM_P4] [-r REPETITIONS]
#
# EGM_P4 defaults to egm_p4 next to this script, or in p4/ beside it.
dir=$(dirname "$0")
case $1 in
-*|"") prog=$dir/egm_p4; [ -x "$prog" ] || prog=$dir/p4/egm_p4 ;;
*) prog=$1; shift ;;
esac
if [ ! -x "$prog" ]; then
	echo "p4: $prog is missing"
	exit 1
fi
if [ ! -c /dev/egm ] || [ ! -c /dev/iommu ]; then
	echo "p4: /dev/egm or /dev/iommu is missing (egm.ko not loaded?)"
	exit 1
fi
# Defragment first, so that the 2 MiB pages can be reserved.
echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
exec "$prog" "$@"
