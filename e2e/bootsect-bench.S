/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest of `make bench-migration` (e2e/bench.py): a 512-byte boot sector
 * that switches to 32-bit protected mode and then, forever, writes a
 * working set of WS_PAGES pages from 1 MiB up, one pass after another,
 * and writes one '.' to COM1 after each pass (the host counts passes by
 * the serial file's size: the guest's progress).
 *
 * The flags dword says what a pass writes:
 *   SKEW:  not every page every pass, a skewed set as a database's buffer
 *          pool has: the hot sixteenth of the set at every pass, the warm
 *          quarter after it at every fourth, the rest (cold) at every
 *          sixteenth (pass 0 writes all);
 *   DENSE: every byte of a written page changes (the page filled with a
 *          new pseudo-random dword), where otherwise one dword at a
 *          pseudo-random offset of the page does.
 *
 * WS_PAGES, the flags and the xorshift32 seed sit in the dwords at
 * offsets 498, 502 and 506; e2e/bench.py patches them in per case.
 *
 * Build: as e2e/bootsect.S.
 */
#define WS_START	0x00100000	/* 1 MiB: above the BIOS and us */
#define PAGE		4096
#define COM1		0x3f8
#define F_SKEW		1
#define F_DENSE		2

#include "bootsect-pm.h"
	movl	seed, %esi		/* xorshift32 state, never 0 */
	xorl	%ebp, %ebp		/* pass number */
pass:
	movl	ws_pages, %ecx		/* pages this pass: all ... */
	testb	$F_SKEW, flags
	jz	2f
	testl	$15, %ebp
	jz	2f
	movl	%ecx, %edx
	shrl	$4, %edx		/* hot: a sixteenth */
	shrl	$2, %ecx		/* warm: a quarter */
	addl	%edx, %ecx
	testl	$3, %ebp
	jz	2f			/* hot and warm */
	movl	%edx, %ecx		/* hot only */
2:
	shll	$12, %ecx
	addl	$WS_START, %ecx		/* end of this pass */
	movl	$WS_START, %ebx
page:
	call	rnd
	testb	$F_DENSE, flags
	jnz	3f
	movl	%eax, %edx
	andl	$(PAGE - 4), %edx
	movl	%eax, (%ebx,%edx)
	jmp	4f
3:
	pushl	%ecx
	movl	%ebx, %edi
	movl	$(PAGE / 4), %ecx
	cld
	rep stosl
	popl	%ecx
4:
	addl	$PAGE, %ebx
	cmpl	%ecx, %ebx
	jb	page
	incl	%ebp
	movw	$COM1, %dx
	movb	$'.', %al
	outb	%al, %dx
	jmp	pass

#include "bootsect-rnd.h"

	.org	498
ws_pages:
	.long	8192
flags:
	.long	0
seed:
	.long	1
	.byte	0x55, 0xaa
