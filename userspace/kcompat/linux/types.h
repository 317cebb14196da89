/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The codec in kmod/ is kernel C.  These shims give it the few kernel
 * names it uses when it is compiled into userspace programs.
 */
#ifndef XBZRLE_KCOMPAT_TYPES_H
#define XBZRLE_KCOMPAT_TYPES_H

#include_next <linux/types.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#endif
