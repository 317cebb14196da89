/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest of the end-to-end migration test with two vCPUs writing and RAM
 * on both sides of the PCI hole: run with -smp 2 and
 * -machine pc,max-ram-below-4g=128M -m 192M, QEMU maps pc.ram as two
 * KVM memslots, its first 128 MiB at 0 and the rest at 4 GiB.
 *
 *  1. The bootstrap processor (APIC ID 0) builds PAE page tables of 2 MiB
 *     pages: virtual 0-1 GiB is guest-physical 0-1 GiB, virtual 1-2 GiB
 *     is guest-physical 4-5 GiB;
 *  2. it starts the other vCPU with INIT and two start-up IPIs whose
 *     vector points at a 5-byte far jump it writes at TRAMPOLINE, back to
 *     _start: both vCPUs then take the same way into protected mode, each
 *     to its own stack (the APIC ID tells which is which);
 *  3. both turn on paging and then, forever, write WRITES pseudo-random
 *     dwords per pass into pseudo-random pages of a set of 2 * HALF_PAGES
 *     pages, HALF_PAGES of them from 1 MiB up and HALF_PAGES from 4 GiB
 *     up, each vCPU from its own xorshift32 sequence (the seed is the
 *     dword at offset 506, the second vCPU's rotated by 13 bits);
 *  4. the second vCPU counts its passes at AP_PASSES; the first writes
 *     one '.' to COM1 after each of its passes once the second has
 *     made one more, so the serial port advances only while both run.
 *
 * With the byte at offset 502 (vcpus) other than 2, the first vCPU runs
 * alone (-smp 1): no IPIs, and a '.' after each of its own passes.
 *
 * It runs as SeaBIOS leaves a boot sector or, as the e2e test boots it,
 * straight from reset through e2e/firmware.S (the local APIC is then
 * software-disabled, which does not keep it from sending INIT and
 * start-up IPIs, nor the other vCPU from taking them).
 *
 * Build: gcc -m32 -c bootsect-smp.S; ld -m elf_i386 -Ttext 0x7c00
 *        --oformat binary -e _start -o bootsect-smp.bin bootsect-smp.o,
 *        then e2e/firmware.S with -DBOOTSECT='"bootsect-smp.bin"'
 * Boot:  qemu-system-x86_64 -M pc,max-ram-below-4g=128M -m 192M -smp 2
 *        -bios firmware-smp.bin ...
 */
#define COM1		0x3f8
#define LAPIC		0xfee00000	/* xAPIC, as after reset */
#define APIC_ID		0x20
#define APIC_ICR	0x300
#define ICR_INIT	0x000c4500	/* all but self, assert, INIT */
#define ICR_SIPI	0x000c4600	/* all but self, start-up */
#define TRAMPOLINE	0x8000		/* start-up vector 0x08 */
#define AP_PASSES	0x6000
#define AP_STACK	0x7000
#define PDPT		0x9000
#define PD_LOW		0xa000
#define PD_HIGH		0xb000
#define PDE_2M		0x83		/* present, writable, 2 MiB page */
#define LOW_BASE	0x00100000	/* 1 MiB, guest-physical */
#define HIGH_BASE	0x40000000	/* virtual; 4 GiB guest-physical */
#define HALF_PAGES	8192		/* 32 MiB on each side */
#define WRITES		1024

#include "bootsect-pm.h"
	cld
	movl	(LAPIC + APIC_ID), %ebp
	shrl	$24, %ebp		/* %ebp: APIC ID, kept for good */
	movl	seed, %esi
	jz	bsp
	movl	$AP_STACK, %esp
	roll	$13, %esi
	jmp	paging

bsp:
	/* PD_LOW maps guest-physical 0-1 GiB, PD_HIGH 4-5 GiB. */
	xorl	%ecx, %ecx
1:
	movl	%ecx, %eax
	shll	$21, %eax
	orl	$PDE_2M, %eax
	movl	%eax, PD_LOW(, %ecx, 8)
	movl	$0, PD_LOW + 4(, %ecx, 8)
	movl	%eax, PD_HIGH(, %ecx, 8)
	movl	$1, PD_HIGH + 4(, %ecx, 8)
	incl	%ecx
	cmpl	$512, %ecx
	jb	1b
	movl	$PDPT, %edi
	movl	$PD_LOW + 1, %eax
	stosl
	xorl	%eax, %eax
	stosl
	movl	$PD_HIGH + 1, %eax
	stosl
	xorl	%eax, %eax
	movl	$5, %ecx
	rep stosl

	/* The second vCPU: ljmp $0, $_start at TRAMPOLINE; INIT, SIPI x2. */
	xorl	%edi, %edi		/* the AP's passes seen */
	cmpb	$2, vcpus
	jne	paging
	movl	$0x007c00ea, TRAMPOLINE
	movb	$0, TRAMPOLINE + 4
	movl	$0, AP_PASSES
	movl	$ICR_INIT, (LAPIC + APIC_ICR)
	call	delay
	movl	$ICR_SIPI + (TRAMPOLINE >> 12), (LAPIC + APIC_ICR)
	call	delay
	movl	$ICR_SIPI + (TRAMPOLINE >> 12), (LAPIC + APIC_ICR)

paging:
	movl	$PDPT, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	%cr0, %eax
	orl	$0x80000000, %eax	/* PG */
	movl	%eax, %cr0
	jmp	pass

pass:
	movl	$WRITES, %ecx
2:
	call	rnd
	movl	%eax, %ebx
	shrl	$14, %ebx
	andl	$0xffc, %ebx		/* dword in the page */
	movl	%eax, %edx
	andl	$HALF_PAGES - 1, %edx
	shll	$12, %edx
	leal	LOW_BASE(%ebx, %edx), %ebx
	testl	$HALF_PAGES, %eax
	jz	3f
	addl	$HIGH_BASE - LOW_BASE, %ebx
3:
	movl	%esi, (%ebx)
	loop	2b

	testl	%ebp, %ebp
	jz	4f
	incl	AP_PASSES
	jmp	pass
4:
	cmpb	$2, vcpus
	jne	5f
	pause
	cmpl	AP_PASSES, %edi
	je	4b
	movl	AP_PASSES, %edi
5:
	movw	$COM1, %dx
	movb	$'.', %al
	outb	%al, %dx
	jmp	pass

/*
 * Between the IPIs: KVM takes a start-up IPI that comes before the INIT
 * was handled in order, so a short pause is enough (a long loop here
 * took tens of seconds in the nested test VM).
 */
delay:
	movl	$0x1000, %ecx
6:
	loop	6b
	ret

#include "bootsect-rnd.h"

	.org	502
vcpus:
	.byte	2
	.org	506
seed:
	.long	1
	.byte	0x55, 0xaa
