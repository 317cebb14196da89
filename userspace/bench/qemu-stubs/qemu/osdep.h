/* SPDX-License-Identifier: GPL-2.0 */
/* Stand-in for QEMU's include/qemu/osdep.h: what migration/xbzrle.c uses. */
#ifndef BENCH_QEMU_OSDEP_H
#define BENCH_QEMU_OSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* GLib's g_assert (QEMU never builds with G_DISABLE_ASSERT) */
#define g_assert(expr) \
	do { if (__builtin_expect(!(expr), 0)) abort(); } while (0)

#endif
