/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assembler macros shared by the e2e boot sectors (32-bit protected mode,
 * after bootsect-pm.h).  Defining them emits no code.
 */

/*
 * Memory decoding on for the VGA device 00:02.0 (its PCI command
 * register), so video RAM is also reachable through BAR 0, the linear
 * framebuffer.  Clobbers %eax and %dx (left at the config data port).
 */
	.macro	vga_memory_on
	movl	$0x80001000 + 0x04, %eax	/* 00:02.0, command */
	movw	$0xcf8, %dx
	outl	%eax, %dx
	movb	$0xfc, %dl
	inw	%dx, %ax
	orb	$2, %al				/* memory space enable */
	outw	%ax, %dx
	.endm

/*
 * One pass of the dirtying loop: increments one byte every \stride bytes
 * of [\start, \end), so each 4 KiB page gets 4096 / \stride writes.
 * Clobbers %ebx.
 */
	.macro	dirty_bytes start, end, stride
	movl	$\start, %ebx
1:
	incb	(%ebx)
	addl	$\stride, %ebx
	cmpl	$\end, %ebx
	jb	1b
	.endm
