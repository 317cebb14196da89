/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The start of the e2e boot sectors (included by bootsect.S,
 * bootsect-churn.S and bootsect-coalesced.S): from the BIOS's real mode at 0x7c00 to 32-bit flat
 * protected mode (4 GiB code and data segments, A20 on, interrupts off,
 * stack below 0x7c00), continuing with the code after the #include.
 */
	.code16
	.text
	.globl	_start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	/* Fast A20 gate: addresses above 1 MiB must not wrap. */
	inb	$0x92, %al
	orb	$2, %al
	andb	$0xfe, %al	/* bit 0 would reset the machine */
	outb	%al, $0x92
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $pm

	.p2align 3
gdt:
	.quad	0				/* null */
	.quad	0x00cf9a000000ffff		/* 0x08: code, flat 4 GiB */
	.quad	0x00cf92000000ffff		/* 0x10: data, flat 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.code32
pm:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$0x7c00, %esp
