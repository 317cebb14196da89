/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XBZRLE_KCOMPAT_COMPILER_H
#define XBZRLE_KCOMPAT_COMPILER_H
#include <linux/types.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif
