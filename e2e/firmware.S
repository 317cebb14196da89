/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A 64 KiB firmware image (QEMU's -bios) for the e2e boot sectors that
 * SeaBIOS boots unreliably in the nested test VM: with -smp 2 it sat in
 * its own start-up for minutes, or stopped with a KVM internal error,
 * in about half of the boots.  The image carries the boot sector at
 * offset 0 (so a boot sector's seed at offset 506 is the image's too);
 * the reset vector jumps to a stub that copies it to 0x7c00 and runs it
 * as a BIOS would.  QEMU maps a 64 KiB -bios at 0xffff0000 and aliases it
 * at 0xf0000 (isa-bios), where the stub runs.  Nothing else of a PC's
 * firmware is done: the boot sectors need only RAM, COM1 and the local
 * APIC, as the CPU comes out of reset.
 *
 * Build: gcc -m32 -c -DBOOTSECT='"bootsect-smp.bin"' firmware.S;
 *        ld -m elf_i386 -Ttext 0 --oformat binary -o firmware.bin firmware.o
 */
	.code16
	.text
	.globl	_start
_start:
	.incbin	BOOTSECT

	.org	0xe000
copy:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	movw	%cs, %ax
	movw	%ax, %ds
	xorw	%si, %si
	movw	$0x7c00, %di
	movw	$256, %cx
	rep movsw
	ljmp	$0, $0x7c00

	.org	0xfff0
	ljmp	$0xf000, $copy

	.org	0x10000
