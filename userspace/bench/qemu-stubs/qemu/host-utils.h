/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's include/qemu/host-utils.h: ctz64 (64 for 0) and
 * is_power_of_2 (false for 0).
 */
#ifndef BENCH_QEMU_HOST_UTILS_H
#define BENCH_QEMU_HOST_UTILS_H

#include <stdbool.h>
#include <stdint.h>

static inline int ctz64(uint64_t val)
{
	return val ? __builtin_ctzll(val) : 64;
}

static inline bool is_power_of_2(uint64_t value)
{
	return value && !(value & (value - 1));
}

#endif
