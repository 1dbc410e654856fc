# SPDX-License-Identifier: GPL-2.0
# The emulated Grace platform: the one place that says where memory, the
# EGM regions, the retired-page tables and the GPU-like devices are.
# Sourced by the table generator, the QEMU command line and (as
# platform.env on the 9p share) the guest tests. Plain NAME=value lines
# only, so that C and Python readers can parse it too.

# The x86 CPU model: QEMU's default plus 1 GiB pages, so that windows can
# be mapped with PUD entries.
EGM_PLAT_X86_CPU=qemu64,+pdpe1gb

# Machine memory: node 0 holds the first 3584M (q35 maps 2G below 4G, the
# rest from 4G up), node 1 the next 3072M.
EGM_PLAT_MEM=6656M
EGM_PLAT_NODE0_MEM=3584M
EGM_PLAT_NODE1_MEM=3072M
# Physical ranges of each node as the guest must see them (start-end,
# inclusive, comma-separated).
EGM_PLAT_NODE0_RANGES=0x0-0x7fffffff,0x100000000-0x15fffffff
EGM_PLAT_NODE1_RANGES=0x160000000-0x21fffffff
# make bench only: node 1 gets this much more RAM, above region 1, so that
# boot can reserve two 1 GiB hugetlb pages there for the hugetlbfs-1G
# comparisons. Without it no free GiB is 1 GiB aligned: memblock takes its
# allocations from the top of node 1's RAM.
EGM_PLAT_BENCH_NODE1_EXTRA=3072M

EGM_PLAT_NREGIONS=2
# Region 0: the whole high part of node 0, 1 GiB aligned.
EGM_PLAT_REGION0_BASE=0x100000000
EGM_PLAT_REGION0_SIZE=0x60000000
EGM_PLAT_REGION0_PXM=0
EGM_PLAT_REGION0_RETIRED_TABLE=0x3f000000
# Entries of the table: the last one lies outside the region and must be
# dropped by the driver. The first GiB of each region stays clean so that
# 1 GiB windows can be tested.
EGM_PLAT_REGION0_RETIRED="0x140003000 0x14a000000 0x14a001000 0x3f000000"
# Region 1: the top 1.5 GiB of node 1.
EGM_PLAT_REGION1_BASE=0x1c0000000
EGM_PLAT_REGION1_SIZE=0x60000000
EGM_PLAT_REGION1_PXM=1
EGM_PLAT_REGION1_RETIRED_TABLE=0x3f080000
EGM_PLAT_REGION1_RETIRED="0x200001000"

# Hidden low RAM that holds both retired-page tables.
EGM_PLAT_TABLES_BASE=0x3f000000
EGM_PLAT_TABLES_SIZE=0x100000

# GPU-like PCI functions (bus 0, function 0) and the region each reports.
# Socket 0 has two GPUs with the same properties.
EGM_PLAT_GPUS="10.0:0 11.0:0 12.0:1"

# The device used for VFIO/iommufd DMA tests.
EGM_PLAT_EDU_SLOT=13.0
# Every edu on the machine, that one first: the nested VMs of
# egm_vmm_test run three at once, each with a device assigned.
EGM_PLAT_EDU_SLOTS="13.0 14.0 15.0"
EGM_PLAT_EDU_ID=1234:11e8
