/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rnd: the next xorshift32 number of %esi in %eax and %esi (32-bit code;
 * included by the e2e boot sectors that need pseudo-random numbers).
 */
rnd:
	movl	%esi, %eax
	shll	$13, %eax
	xorl	%eax, %esi
	movl	%esi, %eax
	shrl	$17, %eax
	xorl	%eax, %esi
	movl	%esi, %eax
	shll	$5, %eax
	xorl	%eax, %esi
	movl	%esi, %eax
	ret
