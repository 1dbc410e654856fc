# SPDX-License-Identifier: GPL-2.0
# The emulated Grace platform on arm64 (qemu virt, UEFI, ACPI, SMMUv3):
# the one place that says where memory, the EGM regions, the retired-page
# tables and the GPU-like devices are. Plain NAME=value lines only, like
# platform-x86_64.sh, whose comments say what each name means.
#
# virt has no memmap=: each region is a cold-plugged pc-dimm above RAM
# that the kernel never adds (no memory hotplug), so it is outside the
# EFI memory map and has no struct pages, as on Grace (README.md).

# Machine memory: RAM starts at 1 GiB; node 0 holds the first 2048M, node
# 1 the next 2048M. UEFI maps 64 MiB of flash at 64M as memory too; it
# belongs to node 0 (the bench's SRAT says so).
EGM_PLAT_MEM=4096M
EGM_PLAT_NODE0_MEM=2048M
EGM_PLAT_NODE1_MEM=2048M
# Each node's physical ranges, its EGM region included.
EGM_PLAT_NODE0_RANGES=0x4000000-0x7ffffff,0x40000000-0xbfffffff,0x140000000-0x19fffffff
EGM_PLAT_NODE1_RANGES=0xc0000000-0x13fffffff,0x1c0000000-0x21fffffff
EGM_PLAT_BENCH_NODE1_EXTRA=0M

EGM_PLAT_NREGIONS=2
# Region 0: 1.5 GiB above RAM, 1 GiB aligned (three 512 MiB PMDs with 64K
# pages). Firmware records 4 KiB pages: the two at 0x18a000000 share one
# 64K page, and the last lies in the region's last page. The first GiB
# stays clean, the entry at the table is outside and must be dropped.
EGM_PLAT_REGION0_BASE=0x140000000
EGM_PLAT_REGION0_SIZE=0x60000000
EGM_PLAT_REGION0_PXM=0
EGM_PLAT_REGION0_RETIRED_TABLE=0x240000000
EGM_PLAT_REGION0_RETIRED="0x180003000 0x18a000000 0x18a001000 0x19ffff000 0x240000000"
EGM_PLAT_REGION1_BASE=0x1c0000000
EGM_PLAT_REGION1_SIZE=0x60000000
EGM_PLAT_REGION1_PXM=1
EGM_PLAT_REGION1_RETIRED_TABLE=0x240010000
EGM_PLAT_REGION1_RETIRED="0x200001000"

# Hidden memory (a third pc-dimm) that holds both retired-page tables.
EGM_PLAT_TABLES_BASE=0x240000000
EGM_PLAT_TABLES_SIZE=0x200000

EGM_PLAT_GPUS="10.0:0 11.0:0 12.0:1"
EGM_PLAT_EDU_SLOT=13.0
EGM_PLAT_EDU_SLOTS="13.0 14.0 15.0"
EGM_PLAT_EDU_ID=1234:11e8
