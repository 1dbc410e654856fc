/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot (v1) entry of the bench payload. QEMU's -kernel loads it from
 * its ELF program headers and jumps to _start in 32-bit protected mode,
 * paging off, with EAX = 0x2BADB002 and EBX = the multiboot information.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003	/* page-aligned modules, memory map */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	movl $stack_top, %esp
	pushl %ebx
	pushl %eax
	call payload_main
1:	hlt
	jmp 1b

	.bss
	.align 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
