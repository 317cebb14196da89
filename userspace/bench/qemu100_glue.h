/* SPDX-License-Identifier: GPL-2.0 */
/* What qemu100_glue.c exports of QEMU 10.0's migration/xbzrle.c. */
#ifndef QEMU100_GLUE_H
#define QEMU100_GLUE_H

#include <stdint.h>

int qemu100_encode_plain(uint8_t *old_buf, uint8_t *new_buf, int slen,
			 uint8_t *dst, int dlen);
/* only to be called when the CPU has AVX512BW */
int qemu100_encode_avx512(uint8_t *old_buf, uint8_t *new_buf, int slen,
			  uint8_t *dst, int dlen);
/* what xbzrle_encode_buffer() (the run-time selection) calls */
int qemu100_selected_avx512(void);

#endif
