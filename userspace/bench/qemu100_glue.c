// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU 10.0's migration/xbzrle.c, compiled as QEMU compiles it on x86
 * (CONFIG_AVX512BW_OPT), with handles on what it keeps static: its plain
 * encoder (xbzrle_encode_buffer_int), its AVX-512BW encoder and the
 * function pointer its constructor set.  The Makefile renames the
 * external symbols (qemu100_ prefix) so that QEMU 7.2's file can be
 * linked into the same program.
 */
#include "migration/xbzrle.c"
#include "qemu100_glue.h"

#ifndef CONFIG_AVX512BW_OPT
#error "QEMU 10.0's xbzrle.c is built with CONFIG_AVX512BW_OPT on x86"
#endif

/* the name xbzrle_encode_buffer is #defined to the plain encoder above */
#undef xbzrle_encode_buffer

int qemu100_encode_plain(uint8_t *old_buf, uint8_t *new_buf, int slen,
			 uint8_t *dst, int dlen)
{
	return xbzrle_encode_buffer_int(old_buf, new_buf, slen, dst, dlen);
}

int qemu100_encode_avx512(uint8_t *old_buf, uint8_t *new_buf, int slen,
			  uint8_t *dst, int dlen)
{
	return xbzrle_encode_buffer_avx512(old_buf, new_buf, slen, dst, dlen);
}

int qemu100_selected_avx512(void)
{
	return accel_func == xbzrle_encode_buffer_avx512;
}
