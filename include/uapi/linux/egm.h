/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * NVIDIA Grace Extended GPU Memory (EGM) userspace API.
 *
 * /dev/egm lists the EGM regions of the machine and carves them into
 * windows. Each window is a file descriptor that a VMM mmaps to back guest
 * memory and imports into an iommufd IOAS with IOMMU_IOAS_MAP_FILE.
 *
 * Every ioctl takes a structure that starts with its own size, so that it
 * can grow. The kernel accepts a larger structure if the bytes it does not
 * know are zero, and fails a smaller one that lacks a required field.
 */
#ifndef _UAPI_LINUX_EGM_H
#define _UAPI_LINUX_EGM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EGM_TYPE 0xBB

/**
 * DOC: General ioctl format
 *
 * The ioctl interface follows the iommufd convention: every command is
 * _IO(EGM_TYPE, nr) and its structure begins with a __u32 size, written by
 * userspace with sizeof() of the structure it was compiled against. The
 * errors common to every command are:
 *
 * - EFAULT: the structure could not be read or written.
 * - EINVAL: size is smaller than the first version of the structure.
 * - E2BIG: size is larger than the kernel's structure and the extra bytes
 *   are not all zero.
 * - EOPNOTSUPP: a flag or a reserved field is set that this kernel does not
 *   know.
 * - ENOTTY: unknown command.
 */
enum {
	EGM_CMD_BASE = 0x00,
	EGM_CMD_QUERY = EGM_CMD_BASE,
	EGM_CMD_ALLOC,
	EGM_CMD_WINDOW_INFO,
};

/**
 * struct egm_region_info - One EGM region, as returned by EGM_QUERY
 * @id: Region identifier, stable while the region is registered
 * @pxm: ACPI proximity domain of the socket the region belongs to
 * @numa_node: NUMA node of that socket, or -1 if it has none
 * @__reserved: Must be 0
 * @size: Size of the region in bytes
 * @free: Bytes not allocated to any window
 * @align: Bitmap of the window alignments (mapping sizes) the region
 *         supports; bit n set means 2^n bytes
 * @retired_pages: Number of pages that firmware retired for ECC errors and
 *                 the driver never maps
 * @poisoned_pages: Number of pages found poisoned at run time
 * @page_size: Size in bytes of a page in the counts above (the kernel's
 *             PAGE_SIZE)
 * @largest_free: Length in bytes of the largest free extent. A window of
 *                an alignment larger than the page size may fit in less.
 * @largest_free_good: Length in bytes of the largest free extent that holds
 *                     no retired or poisoned page: the largest window that
 *                     EGM_ALLOC_NO_BAD_PAGES can get, alignment permitting
 * @clean: Bytes of @free known to be zero already, which EGM_ALLOC hands
 *         out without zeroing; the background scrubber makes the rest so
 */
struct egm_region_info {
	__u32 id;
	__u32 pxm;
	__s32 numa_node;
	__u32 __reserved;
	__aligned_u64 size;
	__aligned_u64 free;
	__aligned_u64 align;
	__aligned_u64 retired_pages;
	__aligned_u64 poisoned_pages;
	__aligned_u64 page_size;
	__aligned_u64 largest_free;
	__aligned_u64 largest_free_good;
	__aligned_u64 clean;
};

/**
 * struct egm_query - ioctl(EGM_QUERY)
 * @size: sizeof(struct egm_query)
 * @flags: Must be 0
 * @num_regions: Input: capacity of @regions_uptr in entries. Output: the
 *               number of regions
 * @entry_size: sizeof(struct egm_region_info) as userspace knows it; the
 *              kernel writes that many bytes per entry: the fields it
 *              knows, and zeroes beyond them
 * @regions_uptr: User pointer to an array of struct egm_region_info
 *
 * Describe every EGM region. If @num_regions is too small for all of them,
 * the kernel fills what fits, sets @num_regions to the number needed and
 * fails with ENOSPC. Passing @num_regions 0 is the way to ask for the count.
 *
 * Errors, beyond the general ones: EINVAL if @entry_size is smaller than
 * the first version of struct egm_region_info (up to @page_size).
 */
struct egm_query {
	__u32 size;
	__u32 flags;
	__u32 num_regions;
	__u32 entry_size;
	__aligned_u64 regions_uptr;
};

#define EGM_QUERY _IO(EGM_TYPE, EGM_CMD_QUERY)

/**
 * enum egm_alloc_flags - How EGM_ALLOC deals with bad pages
 * @EGM_ALLOC_NO_BAD_PAGES: Fail with ENOSPC unless the window can be placed
 *                          where it holds no retired or poisoned page
 * @EGM_ALLOC_HOLES: Leave the bad pages of the window as holes: a CPU
 *                   access raises SIGBUS and a device access an IOMMU
 *                   fault. Without it, each is backed by a spare page.
 * @EGM_ALLOC_ASYNC: Return the window at once, even if some of it is still
 *                   to be zeroed. Faults and IOMMU_IOAS_MAP_FILE wait for
 *                   the pages they need; poll() reports POLLIN, and
 *                   EGM_WINDOW_INFO a zero @pending, once all is zeroed.
 *
 * EGM_ALLOC always places a window where it holds no bad page if such a
 * place exists. Only when none does is a window given bad pages, and then,
 * by default, each of them is substituted: a spare good page of the same
 * region backs its offset, in CPU and IOMMU mappings alike, so that the
 * window works as plain RAM for a VMM that knows nothing of bad pages.
 * EGM_WINDOW_INFO lists the substituted offsets; they are the only pages
 * of the window that are not at its base plus their offset physically.
 */
enum egm_alloc_flags {
	EGM_ALLOC_NO_BAD_PAGES = 1 << 0,
	EGM_ALLOC_HOLES = 1 << 1,
	EGM_ALLOC_ASYNC = 1 << 2,
};

/**
 * struct egm_alloc - ioctl(EGM_ALLOC)
 * @size: sizeof(struct egm_alloc)
 * @flags: Combination of enum egm_alloc_flags
 * @pxm: Proximity domain of the region to carve from
 * @out_fd: Output: the new window file descriptor, opened O_RDWR|O_CLOEXEC
 * @length: Window length in bytes, a nonzero multiple of @alignment
 * @alignment: Physical alignment of the window and the largest mapping size
 *             it will be mapped with: 2 MiB or 1 GiB on x86, or any size
 *             set in the region's align bitmap. 0 picks the PMD size.
 *
 * Carve a window of one physically contiguous range out of the region of
 * @pxm and return it as a new file descriptor. The window reads as zeroes:
 * no byte written by an earlier user, or left from boot, is visible
 * through it. The window is placed on memory that is zero already when
 * there is enough; otherwise what it needs is zeroed in parallel on the
 * region's NUMA node before the call returns (or, with EGM_ALLOC_ASYNC,
 * before each page is first reached).
 *
 * The window is placed first fit: at the lowest address where it fits
 * without a bad page, or, failing that and unless @flags says otherwise,
 * at the lowest address where it fits at all (see enum egm_alloc_flags).
 * It holds the memory, and its spare pages, until its last file, mapping
 * or DMA import is gone.
 *
 * Errors, beyond the general ones:
 *
 * - EINVAL: @length is 0 or not a multiple of @alignment, or @alignment is
 *   not a supported size.
 * - ENODEV: no region has proximity domain @pxm, or it is being removed.
 * - ENOSPC: no free range in the region is large enough, none without bad
 *   pages with EGM_ALLOC_NO_BAD_PAGES, or too few spare pages are left.
 * - EINTR: a fatal signal arrived while the window was being zeroed.
 */
struct egm_alloc {
	__u32 size;
	__u32 flags;
	__u32 pxm;
	__s32 out_fd;
	__aligned_u64 length;
	__aligned_u64 alignment;
};

#define EGM_ALLOC _IO(EGM_TYPE, EGM_CMD_ALLOC)

/**
 * enum egm_bad_page_flags - What is wrong with a page of a window
 * @EGM_BAD_PAGE_RETIRED: Firmware retired the page for ECC errors
 * @EGM_BAD_PAGE_POISONED: The page was reported poisoned at run time
 * @EGM_BAD_PAGE_SUBSTITUTED: A spare page backs the offset, so it works
 *                            like any other; without this flag the offset
 *                            is a hole that is never mapped
 */
enum egm_bad_page_flags {
	EGM_BAD_PAGE_RETIRED = 1 << 0,
	EGM_BAD_PAGE_POISONED = 1 << 1,
	EGM_BAD_PAGE_SUBSTITUTED = 1 << 2,
};

/**
 * struct egm_bad_page - A bad page at an offset of a window
 * @offset: Byte offset of the page from the start of the window
 * @flags: Combination of enum egm_bad_page_flags
 * @__reserved: Must be 0
 */
struct egm_bad_page {
	__aligned_u64 offset;
	__u32 flags;
	__u32 __reserved;
};

/**
 * enum egm_window_info_flags - Flags for EGM_WINDOW_INFO
 * @EGM_WINDOW_INFO_CLEAR_EVENTS: Clear the events reported in @events
 */
enum egm_window_info_flags {
	EGM_WINDOW_INFO_CLEAR_EVENTS = 1 << 0,
};

/**
 * enum egm_window_events - What happened to a window
 * @EGM_WINDOW_EVENT_POISON: A page of the window was poisoned. It is
 *                           listed in the bad pages; the CPU mappings
 *                           around it were zapped and fault back in
 * @EGM_WINDOW_EVENT_DMA_REVOKED: IOMMU_IOAS_MAP_FILE imports that reach a
 *                                poisoned page were revoked: devices fault
 *                                on all of their IOVA range until it is
 *                                unmapped and mapped again around the page
 */
enum egm_window_events {
	EGM_WINDOW_EVENT_POISON = 1 << 0,
	EGM_WINDOW_EVENT_DMA_REVOKED = 1 << 1,
};

/**
 * struct egm_window_info - ioctl(EGM_WINDOW_INFO) on a window fd
 * @size: sizeof(struct egm_window_info)
 * @flags: Combination of enum egm_window_info_flags
 * @pxm: Proximity domain of the window's region
 * @numa_node: NUMA node of the window's region, or -1
 * @length: Window length in bytes
 * @alignment: Physical alignment of the window in bytes
 * @page_size: Size in bytes of each page listed in @bad_pages_uptr
 * @num_bad_pages: Input: capacity of @bad_pages_uptr in entries. Output:
 *                 the number of bad pages in the window
 * @__reserved: Must be 0
 * @bad_pages_uptr: User pointer to an array of struct egm_bad_page, sorted
 *                  by offset
 * @alloc_flags: Output: the enum egm_alloc_flags the window was allocated
 *               with
 * @num_substituted: Output: how many of the bad pages are substituted
 * @pending: Output: bytes of the window not zeroed yet (EGM_ALLOC_ASYNC),
 *           counted by chunks of 2 MiB
 * @events: Output: enum egm_window_events that happened and were not
 *          cleared yet; poll() reports EPOLLPRI while there are any
 * @num_dma_revoked: Output: how many IOMMU_IOAS_MAP_FILE imports of the
 *                   window were revoked because a page they reach was
 *                   poisoned
 * @phys_addr: Output: physical address of the window's first page, to
 *             match the addresses that memory error reports give; 0
 *             unless the caller has CAP_SYS_ADMIN
 *
 * Describe the window and list its bad pages: those substituted by spare
 * pages, and the holes, which are never mapped. A CPU access to a hole
 * raises SIGBUS; a device access faults in the IOMMU. If @num_bad_pages is
 * too small, the kernel fills what fits, sets @num_bad_pages to the number
 * needed and fails with ENOSPC.
 */
struct egm_window_info {
	__u32 size;
	__u32 flags;
	__u32 pxm;
	__s32 numa_node;
	__aligned_u64 length;
	__aligned_u64 alignment;
	__aligned_u64 page_size;
	__u32 num_bad_pages;
	__u32 __reserved;
	__aligned_u64 bad_pages_uptr;
	__u32 alloc_flags;
	__u32 num_substituted;
	__aligned_u64 pending;
	__u32 events;
	__u32 num_dma_revoked;
	__aligned_u64 phys_addr;
};

#define EGM_WINDOW_INFO _IO(EGM_TYPE, EGM_CMD_WINDOW_INFO)

#endif /* _UAPI_LINUX_EGM_H */
