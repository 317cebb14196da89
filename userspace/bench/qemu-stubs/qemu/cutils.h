/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's include/qemu/cutils.h: the two declarations
 * migration/xbzrle.c uses.  Their definitions are QEMU's own, taken from
 * util/cutils.c into build/bench/qemuNN/util/uleb128.c and compiled out of
 * line, as QEMU links them.
 */
#ifndef BENCH_QEMU_CUTILS_H
#define BENCH_QEMU_CUTILS_H

#include <stdint.h>

int uleb128_encode_small(uint8_t *out, uint32_t n);
int uleb128_decode_small(const uint8_t *in, uint32_t *n);

#endif
