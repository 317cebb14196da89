/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of kvm_xbzrle (perf list 'kvm_xbzrle:*'): one per ENCODE
 * call, per region change, per cache drop, per shrinker scan and per
 * failed ioctl.  Disabled, each is a static branch.  @ctx is the context's
 * id, as in debugfs's kvm_xbzrle/contexts.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvm_xbzrle

#if !defined(_KVM_XBZRLE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KVM_XBZRLE_TRACE_H

#include <linux/tracepoint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"

/* An ENCODE call: what was asked, what was made, what it cost. */
TRACE_EVENT(kvm_xbzrle_encode,
	TP_PROTO(unsigned int ctx, u32 asked, u32 done, const u64 *before,
		 const u64 *after, u32 used, unsigned int clears,
		 unsigned int retries, u64 ns, int ret),
	TP_ARGS(ctx, asked, done, before, after, used, clears, retries, ns,
		ret),

	TP_STRUCT__entry(
		__field(unsigned int, ctx)
		__field(u32, asked)
		__field(u32, done)
		__field(u32, zero)
		__field(u32, unchanged)
		__field(u32, xbzrle)
		__field(u32, raw)
		__field(u32, misses)
		__field(u64, delta_bytes)
		__field(u32, used)
		__field(unsigned int, clears)
		__field(unsigned int, retries)
		__field(u64, ns)
		__field(int, ret)
	),

	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->asked = asked;
		__entry->done = done;
		__entry->zero = after[XS_ZERO_PAGES] - before[XS_ZERO_PAGES];
		__entry->unchanged = after[XS_UNCHANGED_PAGES] -
				     before[XS_UNCHANGED_PAGES];
		__entry->xbzrle = after[XS_XBZRLE_PAGES] -
				  before[XS_XBZRLE_PAGES];
		__entry->raw = after[XS_RAW_PAGES] - before[XS_RAW_PAGES];
		__entry->misses = after[XS_CACHE_MISSES] -
				  before[XS_CACHE_MISSES];
		__entry->delta_bytes = after[XS_DELTA_BYTES] -
				       before[XS_DELTA_BYTES];
		__entry->used = used;
		__entry->clears = clears;
		__entry->retries = retries;
		__entry->ns = ns;
		__entry->ret = ret;
	),

	TP_printk("ctx=%u asked=%u done=%u zero=%u unchanged=%u xbzrle=%u raw=%u misses=%u delta_bytes=%llu used=%u clears=%u retries=%u ns=%llu ret=%d",
		  __entry->ctx, __entry->asked, __entry->done, __entry->zero,
		  __entry->unchanged, __entry->xbzrle, __entry->raw,
		  __entry->misses, __entry->delta_bytes, __entry->used,
		  __entry->clears, __entry->retries, __entry->ns, __entry->ret)
);

/*
 * A region added, set again with the same values (bases kept), removed
 * by SET_REGION, or dropped because KVM's memslot changed under it.
 */
TRACE_EVENT(kvm_xbzrle_region,
	TP_PROTO(unsigned int ctx, int op, u32 slot, u64 gfn, u64 npages,
		 u64 hva),
	TP_ARGS(ctx, op, slot, gfn, npages, hva),

	TP_STRUCT__entry(
		__field(unsigned int, ctx)
		__field(int, op)
		__field(u32, slot)
		__field(u64, gpa)
		__field(u64, npages)
		__field(u64, hva)
	),

	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->op = op;
		__entry->slot = slot;
		__entry->gpa = gfn << PAGE_SHIFT;
		__entry->npages = npages;
		__entry->hva = hva;
	),

	TP_printk("ctx=%u op=%s slot=%u gpa=0x%llx npages=%llu hva=0x%llx",
		  __entry->ctx,
		  __print_symbolic(__entry->op,
				   { XBZRLE_REGION_ADD, "add" },
				   { XBZRLE_REGION_SAME, "same" },
				   { XBZRLE_REGION_REMOVE, "remove" },
				   { XBZRLE_REGION_STALE, "stale" }),
		  __entry->slot, __entry->gpa, __entry->npages, __entry->hva)
);

/* Bases dropped for the host pages [first, last] (page numbers). */
TRACE_EVENT(kvm_xbzrle_cache_drop,
	TP_PROTO(unsigned int ctx, unsigned long first, unsigned long last,
		 unsigned long pages),
	TP_ARGS(ctx, first, last, pages),

	TP_STRUCT__entry(
		__field(unsigned int, ctx)
		__field(unsigned long, first)
		__field(unsigned long, last)
		__field(unsigned long, pages)
	),

	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->first = first;
		__entry->last = last;
		__entry->pages = pages;
	),

	TP_printk("ctx=%u first=0x%lx last=0x%lx pages=%lu",
		  __entry->ctx, __entry->first, __entry->last, __entry->pages)
);

/* One call of the shrinker's scan: memory reclaim took cached pages. */
TRACE_EVENT(kvm_xbzrle_shrink,
	TP_PROTO(int nid, unsigned long nr_to_scan, unsigned long freed),
	TP_ARGS(nid, nr_to_scan, freed),

	TP_STRUCT__entry(
		__field(int, nid)
		__field(unsigned long, nr_to_scan)
		__field(unsigned long, freed)
	),

	TP_fast_assign(
		__entry->nid = nid;
		__entry->nr_to_scan = nr_to_scan;
		__entry->freed = freed;
	),

	TP_printk("nid=%d nr_to_scan=%lu freed=%lu",
		  __entry->nid, __entry->nr_to_scan, __entry->freed)
);

/* An ioctl that failed: its command and errno (a negative number). */
TRACE_EVENT(kvm_xbzrle_error,
	TP_PROTO(unsigned int ctx, unsigned int cmd, long err),
	TP_ARGS(ctx, cmd, err),

	TP_STRUCT__entry(
		__field(unsigned int, ctx)
		__field(unsigned int, cmd)
		__field(int, err)
	),

	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cmd = cmd;
		__entry->err = err;
	),

	TP_printk("ctx=%u ioctl=%s cmd=0x%x err=%d", __entry->ctx,
		  _IOC_TYPE(__entry->cmd) == KVM_XBZRLE_IOCTL_TYPE ?
		  __print_symbolic(_IOC_NR(__entry->cmd),
				   { _IOC_NR(KVM_XBZRLE_GET_CAPS), "GET_CAPS" },
				   { _IOC_NR(KVM_XBZRLE_BIND), "BIND" },
				   { _IOC_NR(KVM_XBZRLE_SET_REGION), "SET_REGION" },
				   { _IOC_NR(KVM_XBZRLE_ENCODE), "ENCODE" },
				   { _IOC_NR(KVM_XBZRLE_SET_CACHE), "SET_CACHE" },
				   { _IOC_NR(KVM_XBZRLE_GET_STATS), "GET_STATS" },
				   { _IOC_NR(KVM_XBZRLE_INVALIDATE), "INVALIDATE" }) :
		  "other", __entry->cmd, __entry->err)
);

#endif /* _KVM_XBZRLE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
