/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's host/include/i386/host/cpuinfo.h: cpuinfo_init()
 * as QEMU 10.0's xbzrle.c calls it from its constructor, answering only
 * the AVX512BW question (GCC's __builtin_cpu_supports also checks that
 * the OS saves the AVX-512 state, as QEMU's cpuinfo does with xgetbv).
 */
#ifndef BENCH_HOST_CPUINFO_H
#define BENCH_HOST_CPUINFO_H

#define CPUINFO_ALWAYS		(1u << 0)
#define CPUINFO_AVX512BW	(1u << 13)

static inline unsigned cpuinfo_init(void)
{
	__builtin_cpu_init();
	return CPUINFO_ALWAYS |
	       (__builtin_cpu_supports("avx512bw") ? CPUINFO_AVX512BW : 0);
}

#endif
