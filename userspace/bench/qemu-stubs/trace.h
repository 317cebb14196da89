/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for the trace.h QEMU generates for migration/ from its
 * trace-events: the two trace points migration/page_cache.c fires, as
 * no-ops (tracing is off in the simulation).
 */
#ifndef BENCH_MIGRATION_TRACE_H
#define BENCH_MIGRATION_TRACE_H

#include <stdint.h>

static inline void trace_migration_pagecache_init(int64_t max_num_items)
{
	(void)max_num_items;
}

static inline void trace_migration_pagecache_insert(void)
{
}

#endif
