/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XBZRLE_KCOMPAT_STRING_H
#define XBZRLE_KCOMPAT_STRING_H
#include <string.h>
#endif
