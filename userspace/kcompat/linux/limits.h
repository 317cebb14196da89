/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XBZRLE_KCOMPAT_LIMITS_H
#define XBZRLE_KCOMPAT_LIMITS_H
#include_next <linux/limits.h>
#include <limits.h>
#endif
