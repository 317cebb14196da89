/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's include/qemu/osdep.h: what migration/xbzrle.c and
 * migration/page_cache.c use of it and of what it includes (GLib through
 * glib-compat.h, qemu/typedefs.h).
 */
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

/* GLib's g_try_malloc (NULL for 0 bytes or no memory) and g_free */
static inline void *g_try_malloc(size_t n)
{
	return n ? malloc(n) : NULL;
}

static inline void g_free(void *p)
{
	free(p);
}

/* qemu/typedefs.h; the structure is in our qapi/error.h */
typedef struct Error Error;

#endif
