/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest of the end-to-end migration test whose memory map keeps moving: a
 * 512-byte boot sector for a PC (i440fx) with -vga std that switches to
 * 32-bit protected mode (flat, interrupts off) and then, forever, one pass
 * after the other:
 *
 *  1. writes a pseudo-random dword at a pseudo-random place of every page
 *     of [DIRTY_START, DIRTY_END) (guest RAM);
 *  2. turns std-VGA chain-4 on in odd passes and off in even ones
 *     (sequencer index 4 bit 3, with the map mask at all planes), the
 *     graphics controller's memory map select (index 6) alternating
 *     between 0xa0000-0xbffff and 0xa0000-0xaffff, then writes one dword
 *     in every page of 0xa0000-0xaffff: with chain-4 QEMU maps a bank of
 *     vga.vram there (a second KVM memslot of the pages the linear
 *     framebuffer also maps), without it the writes are emulated MMIO;
 *  3. writes LFB_WRITES dwords through the linear framebuffer (BAR0 of
 *     the VGA device 00:02.0, whose memory decoding it turns on first),
 *     half of them in the first 128 KiB of vram (the pages chain-4 maps at
 *     0xa0000), half anywhere in 16 MiB;
 *  4. sets the i440fx PAM registers of 0xc0000-0xdffff (PCI config of
 *     00:00.0, 0x5a-0x5c) to RAM read/write in odd passes and to ROM/PCI
 *     in even ones, so that QEMU deletes and re-creates their memslots
 *     (pc.ram or pc.rom at the same guest frames), and in odd passes
 *     writes a dword in every page of 0xd0000-0xdffff.  0xc0000-0xcffff
 *     is not written: QEMU's kvmvapic reads the size of its option ROM
 *     (after the VGA BIOS there) from guest RAM when it loads its state,
 *     so a scribbled header maps a different range on the destination.
 *     The PAM registers of 0xe0000-0xfffff (0x59, 0x5d-0x5f) are set to
 *     ROM/PCI in every pass: SeaBIOS then finds its pristine image there
 *     after a system_reset and boots at once; with its RAM copy mapped it
 *     would first ask for one more reset, and a migration that completes
 *     between the two leaves the destination hung in the firmware;
 *  5. writes one '.' to COM1.
 *
 * The pseudo-random numbers are xorshift32 from the dword at offset 506
 * (SEED at build time; e2e/migrate.py patches in its --seed).
 *
 * Build: gcc -m32 -c bootsect-churn.S; ld -m elf_i386 -Ttext 0x7c00
 *        --oformat binary -e _start -o bootsect-churn.bin bootsect-churn.o
 * Boot:  qemu-system-x86_64 -M pc -vga std -drive file=bootsect-churn.bin,format=raw ...
 */
#ifndef DIRTY_START
#define DIRTY_START	0x00100000	/* 1 MiB: above the BIOS and us */
#endif
#ifndef DIRTY_END
#define DIRTY_END	0x00900000	/* 9 MiB: 8 MiB, 2048 pages */
#endif
#ifndef SEED
#define SEED		0x2545f491
#endif
#define LFB_WRITES	64
#define COM1		0x3f8
#define PCI_ADDR	0xcf8
#define PCI_DATA	0xcfc
#define PCI_HOST	0x80000000	/* config address of 00:00.0 */
#define PCI_VGA		0x80001000	/* 00:02.0 */
#define VGA_SEQ		0x3c4
#define VGA_GFX		0x3ce

#include "bootsect-pm.h"
#include "bootsect-lib.h"

	/* VGA 00:02.0: memory decoding on, BAR0 (the LFB) into %ebp. */
	vga_memory_on
	movl	$PCI_VGA + 0x10, %eax
	movb	$PCI_ADDR & 0xff, %dl
	outl	%eax, %dx
	movb	$PCI_DATA & 0xff, %dl
	inl	%dx, %eax
	andb	$0xf0, %al
	movl	%eax, %ebp

	movl	seed, %esi		/* xorshift32 state */
	xorl	%edi, %edi		/* pass number */

pass:
	/* 1. Guest RAM. */
	movl	$DIRTY_START, %ebx
	movl	$DIRTY_END, %ecx
	call	dirty

	/* 2. VGA: map mask all planes; chain-4 in odd passes. */
	movw	$VGA_SEQ, %dx
	movw	$0x0f02, %ax
	outw	%ax, %dx
	movl	%edi, %eax
	andb	$1, %al
	shlb	$3, %al			/* SR04 bit 3: chain-4 */
	orb	$0x06, %al		/* extended memory, no odd/even */
	movb	%al, %ah
	movb	$4, %al
	outw	%ax, %dx
	/* GR06: graphics mode, memory map 0 (0xa0000, 128 KiB) or 1 (64 KiB) */
	movb	$VGA_GFX & 0xff, %dl
	movl	%edi, %eax
	andb	$2, %al
	shlb	$1, %al
	orb	$0x01, %al
	movb	%al, %ah
	movb	$6, %al
	outw	%ax, %dx
	movl	$0xa0000, %ebx
	movl	$0xb0000, %ecx
	call	dirty

	/* 3. The linear framebuffer. */
	movl	$LFB_WRITES, %ecx
1:
	call	rnd
	movl	%eax, %ebx
	andl	$0x00fffffc, %ebx	/* anywhere in 16 MiB ... */
	testl	%eax, %eax
	js	2f
	andl	$0x0001fffc, %ebx	/* ... or where chain-4 maps */
2:
	movl	%eax, (%ebp,%ebx)
	loop	1b

	/* 4. PAM 0x5a-0x5c: 0x33 (RAM) in odd passes, 0 (ROM/PCI) in even;
	 * 0x59, 0x5d-0x5f: 0. */
	movl	%edi, %ebx
	andl	$1, %ebx
	imull	$0x33, %ebx, %ebx
	movb	$0x59, %cl
3:
	movl	$PCI_HOST, %eax
	movb	%cl, %al
	andb	$0xfc, %al
	movw	$PCI_ADDR, %dx
	outl	%eax, %dx
	movb	%cl, %dl
	orb	$PCI_DATA & 0xff, %dl	/* 0xcfc + (register & 3) */
	xorl	%eax, %eax
	cmpb	$0x5a, %cl
	jb	5f
	cmpb	$0x5c, %cl
	ja	5f
	movb	%bl, %al
5:
	outb	%al, %dx
	incb	%cl
	cmpb	$0x60, %cl
	jb	3b
	testl	%ebx, %ebx
	jz	4f
	movl	$0xd0000, %ebx
	movl	$0xe0000, %ecx
	call	dirty
4:
	/* 5. Progress. */
	movw	$COM1, %dx
	movb	$'.', %al
	outb	%al, %dx
	incl	%edi
	jmp	pass

/* dirty: one pseudo-random dword at a pseudo-random offset of every page
 * of [%ebx, %ecx); clobbers %eax, %ebx, %edx. */
dirty:
	call	rnd
	movl	%eax, %edx
	andl	$0xffc, %edx
	movl	%eax, (%ebx,%edx)
	addl	$0x1000, %ebx
	cmpl	%ecx, %ebx
	jb	dirty
	ret

#include "bootsect-rnd.h"


	.org	506
seed:
	.long	SEED
	.byte	0x55, 0xaa
