/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest of the end-to-end migration test whose last writes are still in
 * KVM's coalesced MMIO ring when the source stops: a 512-byte boot sector
 * for a PC with -vga std (left in text mode by the BIOS) that switches to
 * 32-bit protected mode and then, forever, one pass after the other:
 *
 *  1. adds 1 to one byte every 1 KiB of [DIRTY_START, DIRTY_END), as
 *     bootsect.S does, so the migration has RAM to send for a few rounds;
 *  2. writes the pass number (16 bits) into text cell (pass % CELLS) of
 *     the VGA text buffer at 0xb8000;
 *  3. writes one '.' to COM1.
 *
 * QEMU registers the legacy VGA window 0xa0000-0xbffff as coalesced MMIO:
 * KVM queues a write there in a ring shared with QEMU instead of exiting,
 * and QEMU carries the queued writes out only when something flushes the
 * ring (an access to the VGA ports or PCI config data, a memory
 * transaction, a read of the window, a full ring: every 170 or so passes
 * here).  Nothing in the loop flushes it (COM1 does not), so whenever the
 * source stops, the writes of the passes since the last flush are still
 * queued: a migration has to carry them out before it sends the last
 * dirty pages, or the destination never gets them.
 *
 * Before the loop it turns on memory decoding of the VGA device (00:02.0),
 * so video RAM can also be read through its linear framebuffer (BAR 0).
 *
 * Build: gcc -m32 -c bootsect-coalesced.S; ld -m elf_i386 -Ttext 0x7c00
 *        --oformat binary -e _start -o bootsect-coalesced.bin bootsect-coalesced.o
 * Boot:  qemu-system-x86_64 -M pc -vga std -drive file=bootsect-coalesced.bin,format=raw ...
 */
#define DIRTY_START	0x00100000	/* 1 MiB: above the BIOS and us */
#define DIRTY_END	0x00900000	/* 9 MiB: 8 MiB, 2048 pages */
#define STRIDE		1024
#define CELLS		64		/* a power of two */
#define TEXT		0xb8000
#define COM1		0x3f8

#include "bootsect-pm.h"
#include "bootsect-lib.h"

	/* VGA 00:02.0: memory decoding on (its PCI command register). */
	vga_memory_on

	xorl	%edi, %edi		/* pass number */
pass:
	/* 1. Guest RAM. */
	dirty_bytes DIRTY_START, DIRTY_END, STRIDE
	/* 2. One write into the coalesced VGA window. */
	incl	%edi
	movl	%edi, %ebx
	andl	$CELLS - 1, %ebx
	movw	%di, TEXT(,%ebx,2)
	/* 3. Progress. */
	movw	$COM1, %dx
	movb	$'.', %al
	outb	%al, %dx
	jmp	pass

	.org	506
	.long	0			/* a seed, as the other guests have; unused */
	.byte	0x55, 0xaa
