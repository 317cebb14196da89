// SPDX-License-Identifier: GPL-2.0
/*
 * The XBZRLE encoder with AVX-512BW: 64 bytes compared per step into a
 * mask register.  Byte-identical to xbzrle_encode(), whose body it shares.
 * The caller checks that the CPU has AVX-512BW and, in the kernel, holds
 * the FPU (kernel_fpu_begin()).
 */
#include <linux/string.h>
#include <linux/types.h>

#include "xbzrle.h"

#define XBZRLE_TARGET	__attribute__((target("avx512bw")))
#include "xbzrle_simd.h"

/* VPCMPB's predicate for "equal" (_MM_CMPINT_EQ) */
#define XBZRLE_CMP_EQ	0

XBZRLE_TARGET
static __always_inline u64 xbzrle_eq_mask(const u8 *a, const u8 *b)
{
	char XBZRLE_VEC(64) va, vb;

	memcpy(&va, a, 64);
	memcpy(&vb, b, 64);
	return __builtin_ia32_cmpb512_mask(va, vb, XBZRLE_CMP_EQ, ~0ULL);
}

#define XBZRLE_ENCODER	xbzrle_encode_avx512
#include "xbzrle_encode_body.h"
