/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest of the end-to-end migration test: a 512-byte boot sector that
 * switches to 32-bit protected mode and then, forever, adds 1 to one byte
 * every 1 KiB of [DIRTY_START, DIRTY_END) (4 bytes in each 4 KiB page, the
 * pattern of the load generator XBZRLE was first posted with) and writes
 * one '.' to COM1 after each pass, so a host sees both the RAM changing
 * and the guest making progress on its serial port.
 *
 * Build: gcc -m32 -c bootsect.S; ld -m elf_i386 -Ttext 0x7c00
 *        --oformat binary -e _start -o bootsect.bin bootsect.o
 * Boot:  qemu-system-x86_64 -drive file=bootsect.bin,format=raw ...
 */
#ifndef DIRTY_START
#define DIRTY_START	0x00100000	/* 1 MiB: above the BIOS and us */
#endif
#ifndef DIRTY_END
#define DIRTY_END	0x02100000	/* 33 MiB: 32 MiB, 8192 pages */
#endif
#define STRIDE		1024
#define COM1		0x3f8

#include "bootsect-pm.h"
#include "bootsect-lib.h"
	movw	$COM1, %dx
pass:
	dirty_bytes DIRTY_START, DIRTY_END, STRIDE
	movb	$'.', %al
	outb	%al, %dx
	jmp	pass


	.org	510
	.byte	0x55, 0xaa
