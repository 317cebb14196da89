/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The encoder the module runs (encoder.c): the fastest variant of the
 * codec (xbzrle.h) the CPU has, or the one the encoder= parameter names.
 */
#ifndef _KVM_XBZRLE_ENCODER_H
#define _KVM_XBZRLE_ENCODER_H

#include <linux/types.h>

/* At module load: picks the encoder; -EINVAL if encoder= names one the CPU lacks. */
int xbzrle_encoder_init(void);
/*
 * One page, @new against its base @old, into @dst (@dlen bytes) with the
 * picked encoder; process context.  Returns xbzrle_encode()'s result.
 */
int xbzrle_encode_page_data(const u8 *old, const u8 *new, u8 *dst, size_t dlen);

#endif /* _KVM_XBZRLE_ENCODER_H */
