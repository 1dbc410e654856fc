// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny freestanding guest for the bench's nested VMs: it proves where its
 * RAM is. Booted by QEMU's -kernel as a multiboot image, it
 *
 *  - reads "vm=N" from its command line;
 *  - writes a struct egm_sig {magic, N, guest physical address} at the start
 *    of every available 4 KiB page of RAM the memory map lists;
 *  - if an edu device (1234:11e8) is present, enables it as a bus master
 *    and runs a DMA round trip through guest RAM;
 *  - reports on the debugcon port and exits QEMU through isa-debug-exit.
 *
 * See egm_payload.h for what a reader finds in RAM afterwards.
 */
#include <stdint.h>

#include "egm_payload.h"

#define __packed		__attribute__((packed))
#define __noreturn		__attribute__((noreturn))
#define BIT(n)			(1U << (n))

#define MBI_FLAG_CMDLINE	BIT(2)
#define MBI_FLAG_MMAP		BIT(6)
#define MMAP_AVAILABLE		1
#define MAX_RANGES		32

#define PCI_ADDR		0xcf8
#define PCI_DATA		0xcfc
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_BAR0		0x10

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_ID			0x00
#define EDU_LIVENESS		0x04
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_FROM_DEV	0x2
#define EDU_BUF			0x40000
/* edu completes a DMA 100 ms after it is started; allow many seconds. */
#define EDU_TIMEOUT_TSC		(1ULL << 35)

struct mbi {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mmap_entry {
	uint32_t size;
	uint64_t base;
	uint64_t len;
	uint32_t type;
} __packed;

struct range {
	uint64_t start, end;	/* [start, end) */
};

extern char _image_start[], _image_end[];

static struct range ranges[MAX_RANGES];
static int nranges;
static uint32_t vm_id;

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void puts(const char *s)
{
	while (*s)
		outb(EGM_PAYLOAD_DEBUGCON, *s++);
}

static void putu(uint32_t v)
{
	char buf[12];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts(&buf[i]);
}

static void putx(uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char buf[19];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = hex[v & 0xf];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	puts(&buf[i]);
}

static void __noreturn finish(int ok)
{
	outb(EGM_PAYLOAD_EXIT_PORT, ok ? EGM_PAYLOAD_EXIT_OK : EGM_PAYLOAD_EXIT_FAIL);
	for (;;)
		asm volatile("cli; hlt");
}

/* "vm=N" anywhere in the command line (QEMU puts the image path first). */
static uint32_t parse_vm(const char *s)
{
	uint32_t v = 0;

	const char *start = s;

	for (; *s; s++) {
		if (s != start && s[-1] != ' ')
			continue;
		if (s[0] == 'v' && s[1] == 'm' && s[2] == '=') {
			for (s += 3; *s >= '0' && *s <= '9'; s++)
				v = v * 10 + (*s - '0');
			return v;
		}
	}
	return 0;
}

/* Copy what is needed out of the multiboot information before RAM is overwritten. */
static void read_mbi(const struct mbi *mbi)
{
	uint32_t off;

	if (mbi->flags & MBI_FLAG_CMDLINE)
		vm_id = parse_vm((const char *)mbi->cmdline);
	if (!(mbi->flags & MBI_FLAG_MMAP))
		return;
	for (off = 0; off < mbi->mmap_length && nranges < MAX_RANGES;) {
		const struct mmap_entry *e = (const void *)(mbi->mmap_addr + off);

		off += e->size + sizeof(e->size);
		if (e->type != MMAP_AVAILABLE || !e->len)
			continue;
		ranges[nranges].start = e->base;
		ranges[nranges].end = e->base + e->len;
		nranges++;
	}
}

static int skip_page(uint32_t pa)
{
	return (pa >= (uint32_t)_image_start && pa < (uint32_t)_image_end) ||
	       pa == EGM_PAYLOAD_DMA_SRC || pa == EGM_PAYLOAD_DMA_DST;
}

static void sign_ram(uint32_t *pages, uint32_t *skipped, uint64_t *top)
{
	const uint64_t mask = ~(uint64_t)(EGM_PAYLOAD_PAGE - 1);
	uint64_t start, end, pa;
	int i;

	for (i = 0; i < nranges; i++) {
		start = (ranges[i].start + EGM_PAYLOAD_PAGE - 1) & mask;
		end = ranges[i].end & mask;
		/* Without paging only the first 4 GiB can be reached. */
		if (end > 0x100000000ULL)
			end = 0x100000000ULL;
		for (pa = start; pa < end; pa += EGM_PAYLOAD_PAGE) {
			volatile struct egm_sig *s = (void *)(uint32_t)pa;

			if (skip_page(pa)) {
				(*skipped)++;
				continue;
			}
			s->magic = EGM_SIG_MAGIC;
			s->vm = vm_id;
			s->gpa = pa;
			s->check = egm_sig_check(EGM_SIG_MAGIC, vm_id, pa);
			(*pages)++;
			if (pa + EGM_PAYLOAD_PAGE > *top)
				*top = pa + EGM_PAYLOAD_PAGE;
		}
	}
}

static uint32_t pci_read(uint32_t bdf, uint32_t reg)
{
	outl(PCI_ADDR, 0x80000000 | bdf << 8 | (reg & 0xfc));
	return inl(PCI_DATA);
}

static void pci_write(uint32_t bdf, uint32_t reg, uint32_t v)
{
	outl(PCI_ADDR, 0x80000000 | bdf << 8 | (reg & 0xfc));
	outl(PCI_DATA, v);
}

/* bus << 8 | dev << 3 | fn of the first edu on bus 0, or -1. */
static int find_edu(void)
{
	uint32_t devfn, id;

	for (devfn = 0; devfn < 256; devfn++) {
		id = pci_read(devfn, 0);
		if (id == (EDU_DEVICE << 16 | EDU_VENDOR))
			return devfn;
	}
	return -1;
}

static inline uint32_t mmio_read(uint32_t base, uint32_t reg)
{
	return *(volatile uint32_t *)(base + reg);
}

static inline void mmio_write(uint32_t base, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(base + reg) = v;
}

static int edu_dma(uint32_t bar, uint32_t src, uint32_t dst, uint32_t cmd)
{
	uint64_t t0 = rdtsc();

	mmio_write(bar, EDU_DMA_SRC, src);
	mmio_write(bar, EDU_DMA_DST, dst);
	mmio_write(bar, EDU_DMA_COUNT, EGM_PAYLOAD_DMA_LEN);
	mmio_write(bar, EDU_DMA_CMD, cmd);
	while (mmio_read(bar, EDU_DMA_CMD) & EDU_DMA_START)
		if (rdtsc() - t0 > EDU_TIMEOUT_TSC)
			return -1;
	return 0;
}

/* Returns 0 without a device, 1 on success, -1 on failure (reported). */
static int run_edu(void)
{
	volatile uint8_t *src = (void *)EGM_PAYLOAD_DMA_SRC;
	volatile uint8_t *dst = (void *)EGM_PAYLOAD_DMA_DST;
	volatile struct egm_sig *hdr = (void *)src;
	uint32_t bar, i;
	int devfn;

	devfn = find_edu();
	if (devfn < 0) {
		puts(" edu=none");
		return 0;
	}
	bar = pci_read(devfn, PCI_BAR0);
	if (bar & 1 || (bar & 0x6) == 0x4 || !(bar & ~0xfU)) {
		puts(" edu=FAIL:bar0=");
		putx(bar);
		return -1;
	}
	bar &= ~0xfU;
	pci_write(devfn, PCI_COMMAND, pci_read(devfn, PCI_COMMAND) |
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (mmio_read(bar, EDU_ID) >> 16 != 0x0100) {
		puts(" edu=FAIL:id=");
		putx(mmio_read(bar, EDU_ID));
		return -1;
	}
	mmio_write(bar, EDU_LIVENESS, 0x5a5aa5a5 ^ vm_id);
	if (mmio_read(bar, EDU_LIVENESS) != ~(0x5a5aa5a5 ^ vm_id)) {
		puts(" edu=FAIL:liveness");
		return -1;
	}

	hdr->magic = EGM_DMA_MAGIC;
	hdr->vm = vm_id;
	hdr->gpa = EGM_PAYLOAD_DMA_SRC;
	hdr->check = egm_sig_check(EGM_DMA_MAGIC, vm_id, EGM_PAYLOAD_DMA_SRC);
	for (i = sizeof(struct egm_sig); i < EGM_PAYLOAD_DMA_LEN; i++)
		src[i] = egm_dma_byte(vm_id, i);

	if (edu_dma(bar, EGM_PAYLOAD_DMA_SRC, EDU_BUF, EDU_DMA_START)) {
		puts(" edu=FAIL:timeout-to-device");
		return -1;
	}
	if (edu_dma(bar, EDU_BUF, EGM_PAYLOAD_DMA_DST,
		    EDU_DMA_START | EDU_DMA_FROM_DEV)) {
		puts(" edu=FAIL:timeout-from-device");
		return -1;
	}
	for (i = 0; i < EGM_PAYLOAD_DMA_LEN; i++) {
		if (dst[i] != src[i]) {
			puts(" edu=FAIL:mismatch-at=");
			putu(i);
			return -1;
		}
	}
	puts(" edu=ok");
	return 1;
}

void payload_main(uint32_t magic, const struct mbi *mbi)
{
	uint32_t pages = 0, skipped = 0;
	uint64_t top = 0;
	int ok = 1;

	if (magic != 0x2badb002) {
		puts("egm-payload: not started by a multiboot loader\n");
		finish(0);
	}
	read_mbi(mbi);
	sign_ram(&pages, &skipped, &top);
	puts("egm-payload: vm=");
	putu(vm_id);
	puts(" pages=");
	putu(pages);
	puts(" skipped=");
	putu(skipped);
	puts(" top=");
	putx(top);
	if (!nranges || !pages) {
		puts(" FAIL:no-memory-map");
		ok = 0;
	}
	if (run_edu() < 0)
		ok = 0;
	puts("\n");
	finish(ok);
}
