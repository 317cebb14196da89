// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_XBZRLE_ENCODE: one record per page about to be sent.
 *
 * The destination applies a delta to the bytes it received last, so the
 * base of every delta is the snapshot returned last time, never the page
 * as it is now.  Each page is read once, into the spare page; the record
 * is made from that snapshot and the snapshot becomes the page's base.
 * With KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG the page's dirty bit is cleared
 * (and the page write-protected) before that read, so a guest write that
 * the snapshot may have missed dirties the page again.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"
#include "trace.h"
#include "codec/encoder.h"

/* KVM_CLEAR_DIRTY_LOG's bitmap is limited so it fits the record buffer. */
#define XBZRLE_CLEAR_SPAN	(8 * 256)

struct xbzrle_clear_arg {
	struct kvm_clear_dirty_log log;
	u64 bitmap[XBZRLE_CLEAR_SPAN / 64];
};

static_assert(sizeof(struct xbzrle_clear_arg) <= KVM_XBZRLE_RECORD_MAX_SIZE);

/*
 * Whether ENCODE offers to clear the dirty bits of each chunk it reads.
 * Off, GET_CAPS leaves out KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG, so a caller that
 * asks first (QEMU) keeps to its own lazy clear, and ENCODE refuses the
 * flag: a switch to measure what the per-chunk clear costs the guest (a
 * TLB flush per call that finds a bit set) against what it saves.
 */
static bool xbzrle_clear_dirty_log = true;
module_param_named(clear_dirty_log, xbzrle_clear_dirty_log, bool, 0644);
MODULE_PARM_DESC(clear_dirty_log, "ENCODE offers KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG (default Y; N leaves the clear to the caller)");

bool xbzrle_clear_dirty_log_offered(void)
{
	return READ_ONCE(xbzrle_clear_dirty_log);
}

/*
 * The per-page rule (adapt.h), for calls with KVM_XBZRLE_ENCODE_GENERATION.
 * The defaults were chosen with make bench-adapt (Documentation/offload.rst).
 */
static unsigned int xbzrle_adapt_overflows = 2;
module_param_named(adapt_overflows, xbzrle_adapt_overflows, uint, 0644);
MODULE_PARM_DESC(adapt_overflows, "Overflows in a row after which a page gives its base back and is sent RAW unencoded (default 2; 0: never)");

static unsigned int xbzrle_adapt_probe_rounds = 16;
module_param_named(adapt_probe_rounds, xbzrle_adapt_probe_rounds, uint, 0644);
MODULE_PARM_DESC(adapt_probe_rounds, "Generations a page that gave its base back is skipped before it is cached again (default 16)");

/* Memslots changed around a KVM_CLEAR_DIRTY_LOG: the chunk is done again. */
#define XBZRLE_MEMSLOTS_CHANGED	1

/*
 * Times a chunk is done again before the call ends (-EAGAIN if no page was
 * done): memslots that keep changing under the call must not keep it, and
 * every vCPU's TLB, busy.  A caller that serialises its memslot changes
 * with ENCODE (QEMU does) never gets here.  A parameter so that a test can
 * reach the end of the retries with one memslot change (0: none).
 */
#define XBZRLE_CHUNK_RETRIES_MAX	16

static unsigned int xbzrle_chunk_retries = 4;

static int xbzrle_chunk_retries_set(const char *val,
				    const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, XBZRLE_CHUNK_RETRIES_MAX);
}

static const struct kernel_param_ops xbzrle_chunk_retries_ops = {
	.set	= xbzrle_chunk_retries_set,
	.get	= param_get_uint,
};
module_param_cb(chunk_retries, &xbzrle_chunk_retries_ops,
		&xbzrle_chunk_retries, 0644);
MODULE_PARM_DESC(chunk_retries, "Times a chunk whose memslots changed around its dirty-log clear is done again before ENCODE gives up, with EAGAIN if no page was done (default 4, at most 16)");

/*
 * Reads up to @n entries of the page list into @refs.  Returns how many
 * were read; *err says why the next one was not.
 */
static unsigned int xbzrle_read_chunk(const u64 __user *upages, unsigned int n,
				      struct xbzrle_page_ref *refs, int *err)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (get_user(refs[i].gpa, upages + i)) {
			*err = -EFAULT;
			break;
		}
	}
	return i;
}

/*
 * Finds the regions of the @n pages of @refs, against the regions as they
 * are now (after xbzrle_revalidate_regions()).  Returns how many are valid
 * from the first; *err says why the next one is not.
 */
static unsigned int xbzrle_resolve_chunk(struct xbzrle_ctx *ctx,
					 struct xbzrle_page_ref *refs,
					 unsigned int n, int *err)
{
	const struct xbzrle_region *r;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!PAGE_ALIGNED(refs[i].gpa)) {
			*err = -EINVAL;
			break;
		}
		r = xbzrle_find_region(ctx, refs[i].gpa >> PAGE_SHIFT);
		if (!r) {
			*err = -ENOENT;
			break;
		}
		refs[i].offset = (refs[i].gpa >> PAGE_SHIFT) - r->gfn;
		refs[i].region = r;
	}
	return i;
}

/*
 * KVM changed its memslots while a clear of @arg's pages was under way, so
 * the clear may have hit another memslot that took the same slot id:
 * whatever memslot has that id now gets those dirty bits back.  A bit set
 * that need not be costs one page sent again, a bit lost costs a write the
 * destination never gets.  The bitmap's bits are set atomically, as KVM's
 * own mark_page_dirty_in_slot() sets them.
 */
static void xbzrle_redirty(struct kvm *kvm, const struct xbzrle_clear_arg *arg)
{
	u32 as_id = arg->log.slot >> 16, id = (u16)arg->log.slot;
	struct kvm_memory_slot *ms;
	u64 i, page;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(__kvm_memslots(kvm, as_id), id);
	for (i = 0; ms && ms->dirty_bitmap && i < arg->log.num_pages; i++) {
		page = arg->log.first_page + i;
		if (arg->bitmap[i / 64] & (1ULL << (i % 64)) &&
		    page < ms->npages)
			set_bit_le(page, ms->dirty_bitmap);
	}
	srcu_read_unlock(&kvm->srcu, idx);
}

/*
 * One KVM_CLEAR_DIRTY_LOG call for pages arg->log.first_page to @last of
 * region @r, through the VM file: KVM offers no other way in, and takes
 * its argument from user memory, so it is built in @scratch.  The slot id
 * is only trusted while KVM's memslots are those the regions were checked
 * against: checked just before the call and again after it.  Returns 0,
 * XBZRLE_MEMSLOTS_CHANGED, or an error.
 */
static int xbzrle_clear_span(struct xbzrle_ctx *ctx,
			     const struct xbzrle_region *r,
			     struct xbzrle_clear_arg *arg, u64 last,
			     void __user *scratch, unsigned int *clears)
{
	struct xbzrle_clear_arg __user *uarg = scratch;
	struct file *vm = ctx->vm_file;
	struct kvm *kvm = vm->private_data;
	u64 first = arg->log.first_page;
	size_t len;
	int ret;

	/* whole 64-page words, or up to the end of the memslot */
	arg->log.num_pages = min(round_up(last + 1 - first, 64),
				 r->npages - first);
	arg->log.dirty_bitmap = &uarg->bitmap;
	len = offsetof(struct xbzrle_clear_arg, bitmap) +
	      round_up(arg->log.num_pages, 64) / 8;
	if (copy_to_user(uarg, arg, len))
		return -EFAULT;
	/*
	 * KVM copies the argument, then waits for its slots_lock, possibly
	 * behind memslot updates: what the generation says after the call
	 * covers that wait.  Memslots created and deleted again within it
	 * are the one case this cannot see, which callers close by
	 * serialising memslot changes with ENCODE.
	 */
	if (xbzrle_memslots_gen(kvm) != ctx->memslots_gen)
		return XBZRLE_MEMSLOTS_CHANGED;
	ret = vm->f_op->unlocked_ioctl(vm, KVM_CLEAR_DIRTY_LOG,
				       (unsigned long)uarg);
	(*clears)++;
	if (xbzrle_memslots_gen(kvm) != ctx->memslots_gen) {
		if (!ret)
			xbzrle_redirty(kvm, arg);
		return XBZRLE_MEMSLOTS_CHANGED;
	}
	return ret;
}

/*
 * Clears the dirty bits of the chunk's pages, grouping pages of the same
 * memslot that lie within XBZRLE_CLEAR_SPAN pages of each other into one
 * call (one TLB flush).  KVM only accepts a range that starts on a 64-page
 * boundary and is a multiple of 64 pages, or ends with the memslot.
 */
static int xbzrle_clear_dirty(struct xbzrle_ctx *ctx,
			      const struct xbzrle_page_ref *refs,
			      unsigned int n, void __user *scratch,
			      unsigned int *clears)
{
	struct xbzrle_clear_arg arg;
	const struct xbzrle_region *r = NULL;
	u64 first = 0, last = 0, bit;
	unsigned int i;
	int ret;

	for (i = 0; i <= n; i++) {
		if (r && (i == n || refs[i].region != r ||
			  refs[i].offset < first ||
			  refs[i].offset >= first + XBZRLE_CLEAR_SPAN)) {
			ret = xbzrle_clear_span(ctx, r, &arg, last, scratch,
						clears);
			if (ret)
				return ret;	/* later spans are not cleared */
			r = NULL;
		}
		if (i == n)
			break;
		if (!r) {
			r = refs[i].region;
			first = round_down(refs[i].offset, 64);
			last = refs[i].offset;
			memset(&arg, 0, sizeof(arg));
			arg.log.slot = r->slot;
			arg.log.first_page = first;
		}
		bit = refs[i].offset - first;
		arg.bitmap[bit / 64] |= 1ULL << (bit % 64);
		last = max(last, refs[i].offset);
	}
	return 0;
}

/*
 * After the record: the snapshot becomes the page's base, except for an
 * UNCHANGED page (its base already holds it) and a skipped page (it keeps
 * no base).  A base whose page overflowed adapt_overflows times in a row
 * is given back instead.  @a is NULL without KVM_XBZRLE_ENCODE_GENERATION.
 */
static void xbzrle_settle_page(struct xbzrle_ctx *ctx, unsigned long key,
			       const struct xbzrle_base *b, u16 type,
			       const struct xbzrle_adapt *a)
{
	bool overflowed = b->page && type == KVM_XBZRLE_RECORD_RAW;
	unsigned int streak;

	lockdep_assert_held(&ctx->lock);
	if (b->found.probe)
		xbzrle_count(ctx, XS_PROBES, 1);
	switch (xbzrle_adapt_settle(a, &b->found,
				    type == KVM_XBZRLE_RECORD_UNCHANGED,
				    overflowed, &streak)) {
	case XBZRLE_SETTLE_NOTHING:
		xbzrle_count(ctx, XS_SKIPPED, 1);
		break;
	case XBZRLE_SETTLE_KEEP:
		/*
		 * Keeping the base leaves the snapshot, just written and
		 * still in the CPU cache, as the spare; the base page is not
		 * rewritten.
		 */
		xbzrle_cache_untake(ctx, b->page, true);
		break;
	case XBZRLE_SETTLE_GIVE_BACK:
		xbzrle_cache_give_back(ctx, key, b->page,
				       xbzrle_adapt_probe_gen(a, ctx->generation));
		xbzrle_count(ctx, XS_GIVEN_BACK, 1);
		break;
	case XBZRLE_SETTLE_COMMIT:
		xbzrle_cache_commit(ctx, key, b->page, a != NULL, streak);
		break;
	}
}

/*
 * Snapshot, record, new base, for one page.  Returns the record's size in
 * the buffer, or an error; on error nothing changed for the page but that
 * it may have lost its base.  @a: the per-page rule, NULL without
 * KVM_XBZRLE_ENCODE_GENERATION.
 */
static long xbzrle_encode_page(struct xbzrle_ctx *ctx,
			       const struct xbzrle_page_ref *ref,
			       void __user *urec, u32 max_delta,
			       const struct xbzrle_adapt *a)
{
	struct kvm_xbzrle_record rec = { .gpa = ref->gpa };
	unsigned long key = xbzrle_region_key(ref->region, ref->offset);
	const void __user *src;
	const void *data = NULL;
	struct xbzrle_base b;
	struct page *base;
	void *snap;
	int ret;

	ret = xbzrle_cache_get_spare(ctx);
	if (ret)
		return ret;
	snap = page_address(ctx->spare);
	src = (const void __user *)(ref->region->hva + (ref->offset << PAGE_SHIFT));
	if (copy_from_user(snap, src, PAGE_SIZE)) {
		/* the caller sends it some other way: no base may outlive that */
		xbzrle_cache_drop_range(ctx, key, 1);
		return -EFAULT;
	}

	xbzrle_cache_take(ctx, key, a, &b);
	base = b.page;
	if (!memchr_inv(snap, 0, PAGE_SIZE)) {
		rec.type = KVM_XBZRLE_RECORD_ZERO;
	} else if (!base) {
		rec.type = KVM_XBZRLE_RECORD_RAW;
	} else {
		/*
		 * No delta is shorter than 3 bytes, so with 2 the encoder
		 * still tells an equal page (0) from one whose delta does
		 * not fit max_delta 1.
		 */
		ret = xbzrle_encode_page_data(page_address(base), snap,
					      ctx->delta, max(max_delta, 2U));
		if (ret == 0) {
			rec.type = KVM_XBZRLE_RECORD_UNCHANGED;
		} else if (ret > 0) {
			rec.type = KVM_XBZRLE_RECORD_XBZRLE;
			rec.len = ret;
			data = ctx->delta;
		} else {
			/* -ENOSPC or -ERANGE: send the snapshot */
			rec.type = KVM_XBZRLE_RECORD_RAW;
		}
	}
	if (rec.type == KVM_XBZRLE_RECORD_RAW) {
		rec.len = PAGE_SIZE;
		data = snap;
	}

	if (copy_to_user(urec, &rec, sizeof(rec)) ||
	    (rec.len && copy_to_user(urec + sizeof(rec), data, rec.len))) {
		xbzrle_cache_untake(ctx, base, false);
		return -EFAULT;
	}

	xbzrle_count(ctx, XS_PAGES, 1);
	switch (rec.type) {
	case KVM_XBZRLE_RECORD_ZERO:
		xbzrle_count(ctx, XS_ZERO_PAGES, 1);
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
		xbzrle_count(ctx, XS_CACHE_HITS, 1);
		xbzrle_count(ctx, XS_UNCHANGED_PAGES, 1);
		break;
	case KVM_XBZRLE_RECORD_XBZRLE:
		xbzrle_count(ctx, XS_CACHE_HITS, 1);
		xbzrle_count(ctx, XS_XBZRLE_PAGES, 1);
		xbzrle_count(ctx, XS_DELTA_BYTES, rec.len);
		break;
	case KVM_XBZRLE_RECORD_RAW:
		xbzrle_count(ctx, XS_RAW_PAGES, 1);
		xbzrle_count(ctx, base ? XS_CACHE_HITS : XS_CACHE_MISSES, 1);
		if (base)
			xbzrle_count(ctx, XS_OVERFLOWS, 1);
		break;
	}
	/* what the record makes the destination hold is the snapshot */
	xbzrle_settle_page(ctx, key, &b, rec.type, a);
	return ALIGN(sizeof(rec) + rec.len, KVM_XBZRLE_RECORD_ALIGN);
}

static int xbzrle_check_encode(const struct kvm_xbzrle_encode *arg)
{
	if (arg->flags & ~KVM_XBZRLE_ENCODE_FLAGS_ALL || arg->reserved0 ||
	    arg->reserved)
		return -EINVAL;
	if (!(arg->flags & KVM_XBZRLE_ENCODE_GENERATION) && arg->generation)
		return -EINVAL;
	if (arg->flags & KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG &&
	    !xbzrle_clear_dirty_log_offered())
		return -EINVAL;
	if (!arg->max_delta || arg->max_delta > PAGE_SIZE)
		return -EINVAL;
	if (arg->records_size < KVM_XBZRLE_RECORD_MAX_SIZE ||
	    !IS_ALIGNED(arg->records, KVM_XBZRLE_RECORD_ALIGN))
		return -EINVAL;
	return 0;
}

long xbzrle_ioctl_encode(struct xbzrle_ctx *ctx, void __user *uarg,
			 unsigned int cmd)
{
	struct xbzrle_page_ref *refs = ctx->refs;
	struct kvm_xbzrle_encode arg;
	struct kvm_xbzrle_encode __user *uenc = uarg;
	const u64 __user *upages;
	void __user *urecs;
	u32 npages, done = 0, used = 0;
	unsigned int chunk, read, valid, i, retries, max_retries;
	unsigned int clears = 0, redone = 0;
	u64 before[XS_NR], t0 = 0;
	struct xbzrle_adapt adapt, *a = NULL;
	int err = 0, ret;
	long len;

	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_ENCODE_SIZE_VER1);
	if (ret)
		return ret;
	ret = xbzrle_check_encode(&arg);
	if (ret)
		return ret;
	/*
	 * The outputs are overwritten, whatever they held: a caller may
	 * continue with the same structure.  Writing them first fails now,
	 * not after the cache has moved on without userspace.
	 */
	if (put_user(0, &uenc->npages_done) || put_user(0, &uenc->records_used))
		return -EFAULT;
	upages = u64_to_user_ptr(arg.pages);
	urecs = u64_to_user_ptr(arg.records);
	npages = min_t(u32, arg.npages, KVM_XBZRLE_MAX_BATCH);

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = xbzrle_ctx_check_vm(ctx);
	if (ret)
		goto out;
	if (arg.flags & KVM_XBZRLE_ENCODE_GENERATION) {
		/* rounds only go forward, until KVM_XBZRLE_CACHE_RESET */
		if (arg.generation < ctx->generation) {
			ret = -EINVAL;
			goto out;
		}
		ctx->generation = arg.generation;
		/* one rule for the whole call, whatever a writer of the parameters does */
		adapt.overflows = READ_ONCE(xbzrle_adapt_overflows);
		adapt.probe_rounds = READ_ONCE(xbzrle_adapt_probe_rounds);
		a = &adapt;
	}
	/* one bound for the whole call, as the adapt rule */
	max_retries = READ_ONCE(xbzrle_chunk_retries);
	if (trace_kvm_xbzrle_encode_enabled()) {
		memcpy(before, ctx->stat, sizeof(before));
		t0 = ktime_get_ns();
	}

	while (done < npages && !err) {
		/* never clear a page that has no room for its record */
		chunk = min3(npages - done, (u32)XBZRLE_CHUNK,
			     (arg.records_size - used) /
			     (u32)KVM_XBZRLE_RECORD_MAX_SIZE);
		if (!chunk)
			break;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		read = xbzrle_read_chunk(upages + done, chunk, refs, &err);
		retries = 0;
again:
		/* reading the list may have waited: memslots are checked after */
		xbzrle_revalidate_regions(ctx);
		valid = xbzrle_resolve_chunk(ctx, refs, read, &err);
		if (valid && arg.flags & KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG) {
			ret = xbzrle_clear_dirty(ctx, refs, valid, urecs + used,
						 &clears);
			if (ret == XBZRLE_MEMSLOTS_CHANGED &&
			    retries++ < max_retries) {
				/* the same pages, against the new memslots */
				err = 0;
				redone++;
				cond_resched();
				goto again;
			}
			if (ret == XBZRLE_MEMSLOTS_CHANGED)
				ret = -EAGAIN;
			if (ret) {
				err = ret;
				break;
			}
		}
		for (i = 0; i < valid; i++) {
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				break;
			}
			len = xbzrle_encode_page(ctx, &refs[i], urecs + used,
						 arg.max_delta, a);
			if (len < 0) {
				err = len;
				break;
			}
			used += len;
			done++;
			cond_resched();
		}
	}
	/* an error after some pages is reported by the next call */
	ret = done ? 0 : err;
	if (put_user(done, &uenc->npages_done) ||
	    put_user(used, &uenc->records_used)) {
		/*
		 * The caller cannot know which records it got, so none of
		 * the bases they made may stay: it sends the pages again.
		 */
		if (done)
			xbzrle_cache_drop_all(ctx);
		ret = -EFAULT;
	}
	if (clears)
		xbzrle_count(ctx, XS_DIRTY_LOG_CLEARS, clears);
	if (trace_kvm_xbzrle_encode_enabled() && t0)
		trace_kvm_xbzrle_encode(ctx->id, arg.npages, done, before,
					ctx->stat, used, clears, redone,
					ktime_get_ns() - t0, ret);
out:
	mutex_unlock(&ctx->lock);
	return ret;
}
