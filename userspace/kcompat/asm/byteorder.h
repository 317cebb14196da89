/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XBZRLE_KCOMPAT_BYTEORDER_H
#define XBZRLE_KCOMPAT_BYTEORDER_H
#include <endian.h>
#include <linux/types.h>
#define le64_to_cpu(x) le64toh(x)
#endif
