// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only statistics in debugfs: kvm_xbzrle/stats (module-wide, since
 * load) and kvm_xbzrle/contexts (one line per open context).
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/seq_file.h>

#include "kvm_xbzrle.h"

const char *const xbzrle_stat_names[XS_NR] = {
	[XS_PAGES]		= "pages",
	[XS_CACHE_HITS]		= "cache_hits",
	[XS_CACHE_MISSES]	= "cache_misses",
	[XS_OVERFLOWS]		= "overflows",
	[XS_ZERO_PAGES]		= "zero_pages",
	[XS_UNCHANGED_PAGES]	= "unchanged_pages",
	[XS_XBZRLE_PAGES]	= "xbzrle_pages",
	[XS_RAW_PAGES]		= "raw_pages",
	[XS_DELTA_BYTES]	= "delta_bytes",
	[XS_EVICTIONS]		= "evictions",
	[XS_RECLAIMED]		= "reclaimed",
	[XS_REFUSED]		= "refused",
	[XS_SKIPPED]		= "skipped",
	[XS_GIVEN_BACK]		= "given_back",
	[XS_PROBES]		= "probes",
	[XS_STOPS]		= "stops",
	[XS_DIRTY_LOG_CLEARS]	= "dirty_log_clears",
};

static struct dentry *xbzrle_debugfs_dir;

static int xbzrle_stats_show(struct seq_file *m, void *v)
{
	struct xbzrle_ctx *ctx;
	u64 sum[XS_NR];
	unsigned int n = 0;
	int i;

	/* closed and reset contexts, plus the open ones as they are now */
	spin_lock(&xbzrle_contexts_lock);
	memcpy(sum, xbzrle_retired_stat, sizeof(sum));
	list_for_each_entry(ctx, &xbzrle_contexts, node) {
		n++;
		for (i = 0; i < XS_NR; i++)
			sum[i] += READ_ONCE(ctx->stat[i]);
	}
	spin_unlock(&xbzrle_contexts_lock);

	seq_printf(m, "contexts %u\n", n);
	for (i = 0; i < XS_NR; i++)
		seq_printf(m, "%s %llu\n", xbzrle_stat_names[i], sum[i]);
	seq_printf(m, "cache_bytes %lu\n",
		   atomic_long_read(&xbzrle_cached_pages) << PAGE_SHIFT);
	seq_printf(m, "max_cache_bytes %lu\n",
		   xbzrle_max_cache_pages() << PAGE_SHIFT);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(xbzrle_stats);

static int xbzrle_contexts_show(struct seq_file *m, void *v)
{
	struct xbzrle_ctx *ctx;
	int i;

	/* counters are read without the contexts' locks: a snapshot */
	spin_lock(&xbzrle_contexts_lock);
	list_for_each_entry(ctx, &xbzrle_contexts, node) {
		seq_printf(m, "id=%u pid=%d bound=%d", ctx->id, ctx->pid,
			   READ_ONCE(ctx->vm_file) ? 1 : 0);
		for (i = 0; i < XS_NR; i++)
			seq_printf(m, " %s=%llu", xbzrle_stat_names[i],
				   READ_ONCE(ctx->stat[i]));
		seq_printf(m, " cache_bytes=%lu cache_size=%lu\n",
			   READ_ONCE(ctx->cache.nr_pages) << PAGE_SHIFT,
			   READ_ONCE(ctx->cache.max_pages) << PAGE_SHIFT);
	}
	spin_unlock(&xbzrle_contexts_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(xbzrle_contexts);

/* debugfs is optional: the module works without these files */
void xbzrle_debugfs_init(void)
{
	xbzrle_debugfs_dir = debugfs_create_dir("kvm_xbzrle", NULL);
	debugfs_create_file("stats", 0444, xbzrle_debugfs_dir, NULL,
			    &xbzrle_stats_fops);
	debugfs_create_file("contexts", 0444, xbzrle_debugfs_dir, NULL,
			    &xbzrle_contexts_fops);
}

void xbzrle_debugfs_exit(void)
{
	debugfs_remove_recursive(xbzrle_debugfs_dir);
}
