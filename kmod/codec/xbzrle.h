/* SPDX-License-Identifier: GPL-2.0 */
/*
 * XBZRLE delta codec, byte-compatible with QEMU's migration/xbzrle.c.
 *
 * This file, xbzrle.c, xbzrle_encode_body.h and the SIMD encoders
 * (xbzrle_simd.h, xbzrle_avx2.c, xbzrle_avx512.c) are the only copy of the
 * codec: they are built into
 * kvm_xbzrle.ko and, through userspace/kcompat/, into the userspace library,
 * tests and fuzzers.
 */
#ifndef _KVM_XBZRLE_CODEC_H
#define _KVM_XBZRLE_CODEC_H

#include <linux/types.h>

/* Longest run a one- or two-byte LEB128 length can describe. */
#define XBZRLE_MAX_RUN		0x3fff

int xbzrle_encode(const u8 *old, const u8 *new, size_t slen,
		  u8 *dst, size_t dlen);
/*
 * SIMD variants, byte-identical to xbzrle_encode(); the caller checks the
 * CPU feature and, in the kernel, holds the FPU.
 */
#ifdef __x86_64__
int xbzrle_encode_avx2(const u8 *old, const u8 *new, size_t slen,
		       u8 *dst, size_t dlen);
int xbzrle_encode_avx512(const u8 *old, const u8 *new, size_t slen,
			 u8 *dst, size_t dlen);
#endif
int xbzrle_decode(const u8 *src, size_t slen, u8 *dst, size_t dlen);

#endif /* _KVM_XBZRLE_CODEC_H */
