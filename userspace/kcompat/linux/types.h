/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The codec in kmod/codec/ is kernel C.  These shims give it the few kernel
 * names it uses when it is compiled into userspace programs.
 */
#ifndef XBZRLE_KCOMPAT_TYPES_H
#define XBZRLE_KCOMPAT_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* the kernel gets these from compiler_types.h, included on every file */
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#ifndef __always_unused
#define __always_unused __attribute__((__unused__))
#endif

#endif
