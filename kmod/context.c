// SPDX-License-Identifier: GPL-2.0
/*
 * A context: one open of /dev/kvm_xbzrle, bound to one KVM VM of the
 * process that opened it, with the guest RAM regions it may read, its
 * cache and its counters.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"
#include "trace.h"

LIST_HEAD(xbzrle_contexts);
DEFINE_SPINLOCK(xbzrle_contexts_lock);
u64 xbzrle_retired_stat[XS_NR];
static atomic_t xbzrle_next_id = ATOMIC_INIT(0);

/* As many as KVM has user memslots in an address space (x86: 32764). */
static unsigned int xbzrle_max_regions_param = KVM_USER_MEM_SLOTS;
module_param_named(max_regions, xbzrle_max_regions_param, uint, 0644);
MODULE_PARM_DESC(max_regions, "Regions (memslots) one context can hold (default: KVM's user memslots)");

unsigned int xbzrle_max_regions(void)
{
	return READ_ONCE(xbzrle_max_regions_param);
}

struct xbzrle_ctx *xbzrle_ctx_create(void)
{
	struct xbzrle_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	ctx->delta = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	ctx->refs = kmalloc_array(XBZRLE_CHUNK, sizeof(*ctx->refs),
				  GFP_KERNEL_ACCOUNT);
	if (!ctx->delta || !ctx->refs) {
		kfree(ctx->refs);
		kfree(ctx->delta);
		kfree(ctx);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&ctx->lock);
	xbzrle_cache_init(&ctx->cache, xbzrle_default_cache_pages());
	ctx->id = atomic_inc_return(&xbzrle_next_id);
	ctx->pid = task_tgid_nr(current);

	spin_lock(&xbzrle_contexts_lock);
	list_add_tail(&ctx->node, &xbzrle_contexts);
	spin_unlock(&xbzrle_contexts_lock);
	return ctx;
}

static void xbzrle_ctx_unbind(struct xbzrle_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	xbzrle_cache_destroy(ctx);
	kvfree(ctx->regions);
	ctx->regions = NULL;
	ctx->nr_regions = 0;
	ctx->max_regions = 0;
	if (ctx->vm_file)
		fput(ctx->vm_file);
	WRITE_ONCE(ctx->vm_file, NULL);
	ctx->mm = NULL;
}

/*
 * Moves @ctx's counters into the module-wide ones (which count since the
 * module was loaded) and zeroes them.  The caller holds
 * xbzrle_contexts_lock, which the shrinker's counting holds too.
 */
void xbzrle_retire_stats(struct xbzrle_ctx *ctx)
{
	int i;

	lockdep_assert_held(&xbzrle_contexts_lock);
	for (i = 0; i < XS_NR; i++) {
		xbzrle_retired_stat[i] += ctx->stat[i];
		WRITE_ONCE(ctx->stat[i], 0);
	}
}

void xbzrle_ctx_destroy(struct xbzrle_ctx *ctx)
{
	/* after this the shrinker cannot find the context */
	spin_lock(&xbzrle_contexts_lock);
	list_del(&ctx->node);
	xbzrle_retire_stats(ctx);
	spin_unlock(&xbzrle_contexts_lock);

	/* the last reference: nobody waits, but the cache code asserts it */
	mutex_lock(&ctx->lock);
	xbzrle_ctx_unbind(ctx);
	mutex_unlock(&ctx->lock);
	xa_destroy(&ctx->cache.index);
	mutex_destroy(&ctx->lock);
	kfree(ctx->refs);
	kfree(ctx->delta);
	kfree(ctx);
}

/*
 * For calls that use the VM, with ctx->lock held.  When the context holds
 * the VM file's last reference, no process can reach the VM any more: it
 * is released with the cache now instead of when the context closes.
 */
int xbzrle_ctx_check_vm(struct xbzrle_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);
	if (ctx->vm_gone)
		return -ENODEV;
	if (!ctx->vm_file)
		return -ENOTCONN;
	if (file_count(ctx->vm_file) == 1) {
		xbzrle_ctx_unbind(ctx);
		ctx->vm_gone = true;
		return -ENODEV;
	}
	/* as KVM's VM ioctls: the pages are read through the caller's mm */
	if (current->mm != ctx->mm)
		return -EIO;
	return 0;
}

long xbzrle_ioctl_bind(struct xbzrle_ctx *ctx, void __user *uarg,
		       unsigned int cmd)
{
	struct kvm_xbzrle_bind arg;
	struct file *vm_file;
	int ret;

	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_BIND_SIZE_VER1);
	if (ret)
		return ret;
	if (arg.flags || arg.reserved0 ||
	    !xbzrle_all_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;

	vm_file = xbzrle_get_vm_file(arg.vm_fd);
	if (IS_ERR(vm_file))
		return PTR_ERR(vm_file);

	if (mutex_lock_killable(&ctx->lock)) {
		fput(vm_file);
		return -EINTR;
	}
	if (ctx->vm_file || ctx->vm_gone) {
		ret = -EBUSY;
	} else {
		WRITE_ONCE(ctx->vm_file, vm_file);
		ctx->mm = current->mm;
		vm_file = NULL;
	}
	mutex_unlock(&ctx->lock);
	if (vm_file)
		fput(vm_file);
	return ret;
}

/* The region holding @gfn: a binary search of the sorted regions. */
const struct xbzrle_region *xbzrle_find_region(struct xbzrle_ctx *ctx,
						u64 gfn)
{
	unsigned int lo = 0, hi = ctx->nr_regions, mid;
	const struct xbzrle_region *r;

	lockdep_assert_held(&ctx->lock);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = &ctx->regions[mid];
		if (gfn < r->gfn)
			hi = mid;
		else if (gfn - r->gfn >= r->npages)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static struct xbzrle_region *xbzrle_region_of_slot(struct xbzrle_ctx *ctx,
						   u32 slot)
{
	unsigned int i;

	for (i = 0; i < ctx->nr_regions; i++)
		if (ctx->regions[i].slot == slot)
			return &ctx->regions[i];
	return NULL;
}

/* Takes @r out of the array, with the bases of its host pages. */
static void xbzrle_drop_region(struct xbzrle_ctx *ctx, struct xbzrle_region *r)
{
	unsigned int i = r - ctx->regions;

	lockdep_assert_held(&ctx->lock);
	xbzrle_cache_drop_range(ctx, xbzrle_region_key(r, 0), r->npages);
	memmove(r, r + 1, (ctx->nr_regions - i - 1) * sizeof(*r));
	ctx->nr_regions--;
}

static int xbzrle_remove_region(struct xbzrle_ctx *ctx, u32 slot)
{
	struct xbzrle_region *r = xbzrle_region_of_slot(ctx, slot);

	if (!r)
		return -ENOENT;
	xbzrle_drop_region(ctx, r);
	return 0;
}

/* Puts @new into the sorted array, which has room for it. */
static void xbzrle_insert_region(struct xbzrle_ctx *ctx,
				 const struct xbzrle_region *new)
{
	unsigned int i = 0;

	while (i < ctx->nr_regions && ctx->regions[i].gfn < new->gfn)
		i++;
	memmove(&ctx->regions[i + 1], &ctx->regions[i],
		(ctx->nr_regions - i) * sizeof(*new));
	ctx->regions[i] = *new;
	ctx->nr_regions++;
}

/* Room for one more region, within the max_regions parameter. */
static int xbzrle_regions_room(struct xbzrle_ctx *ctx)
{
	unsigned int limit = xbzrle_max_regions(), n;
	struct xbzrle_region *a;

	if (ctx->nr_regions >= limit)
		return -ENOSPC;
	if (ctx->nr_regions < ctx->max_regions)
		return 0;
	n = clamp(ctx->max_regions * 2, 16U, limit);
	a = kvmalloc_array(n, sizeof(*a), GFP_KERNEL_ACCOUNT);
	if (!a)
		return -ENOMEM;
	if (ctx->nr_regions)
		memcpy(a, ctx->regions, ctx->nr_regions * sizeof(*a));
	kvfree(ctx->regions);
	ctx->regions = a;
	ctx->max_regions = n;
	return 0;
}

static int xbzrle_check_region(const struct kvm_xbzrle_region *arg)
{
	u64 end;

	if (arg->flags || arg->reserved0 ||
	    !xbzrle_all_zero(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (!PAGE_ALIGNED(arg->guest_phys_addr) ||
	    !PAGE_ALIGNED(arg->memory_size) ||
	    !PAGE_ALIGNED(arg->userspace_addr))
		return -EINVAL;
	if (check_add_overflow(arg->guest_phys_addr, arg->memory_size, &end) ||
	    check_add_overflow(arg->userspace_addr, arg->memory_size, &end))
		return -EINVAL;
	if (arg->userspace_addr != (unsigned long)arg->userspace_addr ||
	    !access_ok(u64_to_user_ptr(arg->userspace_addr), arg->memory_size))
		return -EFAULT;
	return 0;
}

/*
 * A region must be exactly one of the VM's user memslots as KVM has it
 * now, so the module reads nothing but guest RAM.  KVM's memslots are read
 * under its SRCU with kvm_host.h's inline helpers; no exported symbol is
 * needed.
 */
/* The VM's number of memslot address spaces (x86: 2 with SMM). */
static int xbzrle_nr_as(struct kvm *kvm)
{
#ifdef KVM_MAX_NR_ADDRESS_SPACES	/* 6.8 */
	return kvm_arch_nr_memslot_as_ids(kvm);
#else
	return KVM_ADDRESS_SPACE_NUM;
#endif
}

/*
 * 0 if @r is exactly one of the bound VM's user memslots (slot, guest
 * frames, size, user address) and KVM is not deleting or moving it;
 * -EINVAL if not.
 */
static int xbzrle_region_check_memslot(struct xbzrle_ctx *ctx,
				       const struct xbzrle_region *r)
{
	struct kvm *kvm = ctx->vm_file->private_data;
	u32 as_id = r->slot >> 16, id = (u16)r->slot;
	struct kvm_memory_slot *ms;
	int idx, ret = -EINVAL;

	if (as_id >= xbzrle_nr_as(kvm) || id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(__kvm_memslots(kvm, as_id), id);
	/* a slot being deleted or moved is no longer guest RAM there */
	if (ms && !(ms->flags & KVM_MEMSLOT_INVALID) &&
	    ms->base_gfn == r->gfn && ms->npages == r->npages &&
	    ms->userspace_addr == r->hva)
		ret = 0;
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/* Changes whenever KVM changes any memslot of the VM (generations grow). */
u64 xbzrle_memslots_gen(struct kvm *kvm)
{
	u64 gen = 0;
	int as_id, idx;

	idx = srcu_read_lock(&kvm->srcu);
	for (as_id = 0; as_id < xbzrle_nr_as(kvm); as_id++)
		gen += __kvm_memslots(kvm, as_id)->generation;
	srcu_read_unlock(&kvm->srcu, idx);
	return gen;
}

/*
 * Before pages are looked up, with ctx->lock held: if KVM's memslots
 * changed since the regions were checked, drops the regions that no
 * longer match a memslot (their pages then get -ENOENT) with their bases.
 * Returns whether the memslots had changed (region pointers may have
 * moved).
 */
bool xbzrle_revalidate_regions(struct xbzrle_ctx *ctx)
{
	u64 gen = xbzrle_memslots_gen(ctx->vm_file->private_data);
	unsigned int i, kept = 0;
	struct xbzrle_region *r;

	lockdep_assert_held(&ctx->lock);
	if (gen == ctx->memslots_gen)
		return false;
	ctx->memslots_gen = gen;
	/* one pass, keeping the order: the array may hold 32764 regions */
	for (i = 0; i < ctx->nr_regions; i++) {
		r = &ctx->regions[i];
		if (xbzrle_region_check_memslot(ctx, r)) {
			trace_kvm_xbzrle_region(ctx->id, XBZRLE_REGION_STALE,
						r->slot, r->gfn, r->npages,
						r->hva);
			xbzrle_cache_drop_range(ctx, xbzrle_region_key(r, 0),
						r->npages);
		} else {
			ctx->regions[kept++] = *r;
		}
	}
	ctx->nr_regions = kept;
	return true;
}

long xbzrle_ioctl_set_region(struct xbzrle_ctx *ctx, void __user *uarg,
			     unsigned int cmd)
{
	struct kvm_xbzrle_region arg;
	struct xbzrle_region *r, new;
	unsigned int i;
	int ret;

	BUILD_BUG_ON(sizeof(arg) != KVM_XBZRLE_REGION_SIZE_VER1);
	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_REGION_SIZE_VER1);
	if (ret)
		return ret;
	ret = xbzrle_check_region(&arg);
	if (ret)
		return ret;
	new = (struct xbzrle_region) {
		.slot = arg.slot,
		.gfn = arg.guest_phys_addr >> PAGE_SHIFT,
		.npages = arg.memory_size >> PAGE_SHIFT,
		.hva = arg.userspace_addr,
	};

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = xbzrle_ctx_check_vm(ctx);
	if (ret)
		goto out;
	if (!new.npages) {
		ret = xbzrle_remove_region(ctx, new.slot);
		if (!ret)
			trace_kvm_xbzrle_region(ctx->id, XBZRLE_REGION_REMOVE,
						new.slot, new.gfn, 0, new.hva);
		goto out;
	}
	/* first the other regions, then this one, against the same memslots */
	xbzrle_revalidate_regions(ctx);
	ret = xbzrle_region_check_memslot(ctx, &new);
	if (ret)
		goto out;
	for (i = 0; i < ctx->nr_regions; i++) {
		r = &ctx->regions[i];
		if (r->slot != new.slot && new.gfn < r->gfn + r->npages &&
		    r->gfn < new.gfn + new.npages) {
			ret = -EEXIST;
			goto out;
		}
	}
	r = xbzrle_region_of_slot(ctx, new.slot);
	if (r && r->gfn == new.gfn && r->npages == new.npages &&
	    r->hva == new.hva) {
		/* the same memory again (KVM flags changed): bases stay valid */
		trace_kvm_xbzrle_region(ctx->id, XBZRLE_REGION_SAME, new.slot,
					new.gfn, new.npages, new.hva);
		goto out;
	}
	if (r) {
		/* the bases belong to the memory the slot mapped before */
		xbzrle_drop_region(ctx, r);
	}
	ret = xbzrle_regions_room(ctx);
	if (!ret) {
		xbzrle_insert_region(ctx, &new);
		trace_kvm_xbzrle_region(ctx->id, XBZRLE_REGION_ADD, new.slot,
					new.gfn, new.npages, new.hva);
	}
out:
	mutex_unlock(&ctx->lock);
	return ret;
}

long xbzrle_ioctl_set_cache(struct xbzrle_ctx *ctx, void __user *uarg,
			    unsigned int cmd)
{
	struct kvm_xbzrle_cache arg;
	unsigned long pages;
	int ret;

	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_CACHE_SIZE_VER1);
	if (ret)
		return ret;
	if (arg.flags & ~KVM_XBZRLE_CACHE_FLAGS_ALL ||
	    !xbzrle_all_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	if (!(arg.flags & KVM_XBZRLE_CACHE_SET_SIZE) && arg.cache_size)
		return -EINVAL;
	if (arg.flags & KVM_XBZRLE_CACHE_SET_SIZE &&
	    arg.cache_size >> PAGE_SHIFT > xbzrle_max_cache_pages())
		return -E2BIG;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	if (arg.flags & KVM_XBZRLE_CACHE_RESET) {
		xbzrle_cache_destroy(ctx);
		spin_lock(&xbzrle_contexts_lock);
		xbzrle_retire_stats(ctx);
		spin_unlock(&xbzrle_contexts_lock);
		ctx->generation = 0;
	}
	if (arg.flags & KVM_XBZRLE_CACHE_SET_SIZE) {
		pages = arg.cache_size >> PAGE_SHIFT;
		xbzrle_cache_resize(ctx, pages);
	}
	arg.cache_size = (u64)ctx->cache.max_pages << PAGE_SHIFT;
	mutex_unlock(&ctx->lock);
	return xbzrle_put_arg(uarg, &arg, sizeof(arg));
}

long xbzrle_ioctl_get_stats(struct xbzrle_ctx *ctx, void __user *uarg,
			    unsigned int cmd)
{
	struct kvm_xbzrle_stats arg;
	u64 *out = &arg.pages;
	int i, ret;

	BUILD_BUG_ON(offsetof(struct kvm_xbzrle_stats, reclaimed) !=
		     offsetof(struct kvm_xbzrle_stats, pages) +
		     XS_RECLAIMED * sizeof(u64));
	BUILD_BUG_ON(offsetof(struct kvm_xbzrle_stats, stops) !=
		     offsetof(struct kvm_xbzrle_stats, refused) +
		     (XS_STOPS - XS_REFUSED) * sizeof(u64));
	BUILD_BUG_ON(sizeof(arg) != KVM_XBZRLE_STATS_SIZE_VER4);

	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_STATS_SIZE_VER1);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;

	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	for (i = 0; i <= XS_RECLAIMED; i++)
		out[i] = READ_ONCE(ctx->stat[i]);
	for (i = XS_REFUSED; i <= XS_STOPS; i++)
		(&arg.refused)[i - XS_REFUSED] = READ_ONCE(ctx->stat[i]);
	arg.cache_bytes = (u64)READ_ONCE(ctx->cache.nr_pages) << PAGE_SHIFT;
	arg.cache_size = (u64)ctx->cache.max_pages << PAGE_SHIFT;
	mutex_unlock(&ctx->lock);
	return xbzrle_put_arg(uarg, &arg, sizeof(arg));
}

long xbzrle_ioctl_invalidate(struct xbzrle_ctx *ctx, void __user *uarg,
			     unsigned int cmd)
{
	struct kvm_xbzrle_invalidate arg;
	u64 last;
	int ret;

	BUILD_BUG_ON(sizeof(arg) != KVM_XBZRLE_INVALIDATE_SIZE_VER1);
	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_INVALIDATE_SIZE_VER1);
	if (ret)
		return ret;
	if (arg.flags & ~KVM_XBZRLE_INVALIDATE_FLAGS_ALL ||
	    !xbzrle_all_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	if (arg.flags & KVM_XBZRLE_INVALIDATE_ALL) {
		if (arg.userspace_addr || arg.memory_size)
			return -EINVAL;
		if (mutex_lock_killable(&ctx->lock))
			return -EINTR;
		xbzrle_cache_drop_all(ctx);
		if (arg.flags & KVM_XBZRLE_INVALIDATE_STOP)
			xbzrle_count(ctx, XS_STOPS, 1);
		mutex_unlock(&ctx->lock);
		return 0;
	}
	if (arg.flags & KVM_XBZRLE_INVALIDATE_STOP)
		return -EINVAL;
	if (!arg.memory_size || !PAGE_ALIGNED(arg.userspace_addr) ||
	    !PAGE_ALIGNED(arg.memory_size) ||
	    check_add_overflow(arg.userspace_addr, arg.memory_size - 1, &last))
		return -EINVAL;
	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	xbzrle_cache_drop_range(ctx, arg.userspace_addr >> PAGE_SHIFT,
				arg.memory_size >> PAGE_SHIFT);
	mutex_unlock(&ctx->lock);
	return 0;
}
