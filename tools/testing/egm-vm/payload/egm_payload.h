/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the bench's tiny guest payload (payload.c) leaves in its RAM, shared
 * with the test that reads it back from the host side through the window
 * that backed the guest (guest/egm_vmm_test.c).
 *
 * Every 4 KiB page of guest RAM that the firmware reports as available
 * starts with a struct egm_sig, except the payload's own image and the two
 * DMA pages. With an edu device (1234:11e8) assigned, the payload fills
 * EGM_PAYLOAD_DMA_LEN bytes at EGM_PAYLOAD_DMA_SRC (an egm_sig with
 * EGM_DMA_MAGIC, then egm_dma_byte()), has edu copy them into its buffer
 * and back out to EGM_PAYLOAD_DMA_DST, and compares. The CPU never writes
 * the DST page, so whatever is there came by DMA.
 *
 * The payload reports one line on the debugcon port:
 *   egm-payload: vm=N pages=P skipped=S top=0x... edu=none|ok|FAIL:why
 * and exits QEMU through isa-debug-exit: status EGM_PAYLOAD_STATUS_OK (33)
 * if all went well, 35 if not.
 */
#ifndef EGM_PAYLOAD_H
#define EGM_PAYLOAD_H

#include <stdint.h>

#define EGM_SIG_MAGIC		0x4749534d56474d45ULL	/* "EGMVMSIG" */
#define EGM_DMA_MAGIC		0x414d44554445474dULL	/* "MGEDUDMA" */
#define EGM_SIG_SALT		0x9e3779b97f4a7c15ULL

#define EGM_PAYLOAD_PAGE	4096
#define EGM_PAYLOAD_LOAD	0x100000	/* where the image is linked */
/* Below edu's 28-bit DMA mask; the smallest guest has 64 MiB. */
#define EGM_PAYLOAD_DMA_SRC	0x400000
#define EGM_PAYLOAD_DMA_DST	0x500000
/* QEMU 7.2's edu aborts on a transfer of a whole 4 KiB buffer. */
#define EGM_PAYLOAD_DMA_LEN	2048

#define EGM_PAYLOAD_DEBUGCON	0xe9
#define EGM_PAYLOAD_EXIT_PORT	0xf4
/*
 * QEMU exits with status (v << 1) | 1 when v is written to isa-debug-exit.
 * Distinct from 1, which is also how QEMU fails to start.
 */
#define EGM_PAYLOAD_EXIT_OK	0x10
#define EGM_PAYLOAD_EXIT_FAIL	0x11
#define EGM_PAYLOAD_STATUS_OK	((EGM_PAYLOAD_EXIT_OK << 1) | 1)

struct egm_sig {
	uint64_t magic;
	uint64_t vm;
	uint64_t gpa;
	uint64_t check;
};

static inline uint64_t egm_sig_check(uint64_t magic, uint64_t vm, uint64_t gpa)
{
	return magic ^ (vm * EGM_SIG_SALT) ^ (gpa + EGM_SIG_SALT);
}

/* Byte @i (i >= sizeof(struct egm_sig)) of VM @vm's DMA source. */
static inline uint8_t egm_dma_byte(uint32_t vm, uint32_t i)
{
	return (uint8_t)(i * 7 + vm * 13 + 1);
}

#endif /* EGM_PAYLOAD_H */
