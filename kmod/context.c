// SPDX-License-Identifier: GPL-2.0
/*
 * A context: one open of /dev/kvm_xbzrle, bound to one KVM VM of the
 * process that opened it, with the guest RAM regions it may read, its
 * cache and its counters.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"

LIST_HEAD(xbzrle_contexts);
DEFINE_SPINLOCK(xbzrle_contexts_lock);
u64 xbzrle_retired_stat[XS_NR];
static atomic_t xbzrle_next_id = ATOMIC_INIT(0);

struct xbzrle_ctx *xbzrle_ctx_create(void)
{
	struct xbzrle_ctx *ctx;
	unsigned long pages;

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
	pages = min_t(unsigned long, (unsigned long)READ_ONCE(cache_size_mb) <<
		      (20 - PAGE_SHIFT), xbzrle_max_cache_pages());
	xbzrle_cache_init(&ctx->cache, pages);
	ctx->id = atomic_inc_return(&xbzrle_next_id);
	ctx->pid = task_tgid_nr(current);

	spin_lock(&xbzrle_contexts_lock);
	list_add_tail(&ctx->node, &xbzrle_contexts);
	spin_unlock(&xbzrle_contexts_lock);
	return ctx;
}

static void xbzrle_ctx_unbind(struct xbzrle_ctx *ctx)
{
	xbzrle_cache_destroy(ctx);
	kvfree(ctx->regions);
	ctx->regions = NULL;
	ctx->nr_regions = 0;
	if (ctx->vm_file)
		fput(ctx->vm_file);
	ctx->vm_file = NULL;
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

	xbzrle_ctx_unbind(ctx);
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

	mutex_lock(&ctx->lock);
	if (ctx->vm_file || ctx->vm_gone) {
		ret = -EBUSY;
	} else {
		ctx->vm_file = vm_file;
		ctx->mm = current->mm;
		vm_file = NULL;
	}
	mutex_unlock(&ctx->lock);
	if (vm_file)
		fput(vm_file);
	return ret;
}

const struct xbzrle_region *xbzrle_find_region(struct xbzrle_ctx *ctx,
						u64 gfn)
{
	const struct xbzrle_region *r;
	unsigned int i;

	if (ctx->last_region < ctx->nr_regions) {
		r = &ctx->regions[ctx->last_region];
		if (gfn - r->gfn < r->npages)
			return r;
	}
	for (i = 0; i < ctx->nr_regions; i++) {
		r = &ctx->regions[i];
		if (gfn - r->gfn < r->npages) {
			ctx->last_region = i;
			return r;
		}
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

static int xbzrle_remove_region(struct xbzrle_ctx *ctx, u32 slot)
{
	struct xbzrle_region *r = xbzrle_region_of_slot(ctx, slot);

	if (!r)
		return -ENOENT;
	xbzrle_cache_drop_range(ctx, r->gfn, r->npages);
	*r = ctx->regions[--ctx->nr_regions];
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
static int xbzrle_region_is_memslot(struct xbzrle_ctx *ctx,
				    const struct xbzrle_region *r)
{
	struct kvm *kvm = ctx->vm_file->private_data;
	u32 as_id = r->slot >> 16, id = (u16)r->slot;
	struct kvm_memory_slot *ms;
	int idx, ret = -EINVAL;

	if (as_id >= ARRAY_SIZE(kvm->memslots) || id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(__kvm_memslots(kvm, as_id), id);
	if (ms && ms->base_gfn == r->gfn && ms->npages == r->npages &&
	    ms->userspace_addr == r->hva)
		ret = 0;
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/* Changes whenever KVM changes any memslot of the VM (generations grow). */
static u64 xbzrle_memslots_gen(struct kvm *kvm)
{
	u64 gen = 0;
	int as_id, idx;

	idx = srcu_read_lock(&kvm->srcu);
	for (as_id = 0; as_id < ARRAY_SIZE(kvm->memslots); as_id++)
		gen += __kvm_memslots(kvm, as_id)->generation;
	srcu_read_unlock(&kvm->srcu, idx);
	return gen;
}

/*
 * Before reading pages, with ctx->lock held: if KVM's memslots changed
 * since the regions were checked, drops the regions that no longer match
 * a memslot (their pages then get -ENOENT) with their bases.
 */
void xbzrle_revalidate_regions(struct xbzrle_ctx *ctx)
{
	u64 gen = xbzrle_memslots_gen(ctx->vm_file->private_data);
	unsigned int i = 0;

	if (gen == ctx->memslots_gen)
		return;
	ctx->memslots_gen = gen;
	while (i < ctx->nr_regions) {
		if (xbzrle_region_is_memslot(ctx, &ctx->regions[i]))
			xbzrle_remove_region(ctx, ctx->regions[i].slot);
		else
			i++;
	}
}

long xbzrle_ioctl_set_region(struct xbzrle_ctx *ctx, void __user *uarg,
			     unsigned int cmd)
{
	struct kvm_xbzrle_region arg;
	struct xbzrle_region *r, new;
	unsigned int i;
	int ret;

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

	mutex_lock(&ctx->lock);
	ret = xbzrle_ctx_check_vm(ctx);
	if (ret)
		goto out;
	if (!new.npages) {
		ret = xbzrle_remove_region(ctx, new.slot);
		goto out;
	}
	/* first the other regions, then this one, against the same memslots */
	xbzrle_revalidate_regions(ctx);
	ret = xbzrle_region_is_memslot(ctx, &new);
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
	if (!ctx->regions) {
		ctx->regions = kvcalloc(KVM_XBZRLE_MAX_REGIONS,
					sizeof(*ctx->regions),
					GFP_KERNEL_ACCOUNT);
		if (!ctx->regions) {
			ret = -ENOMEM;
			goto out;
		}
	}
	r = xbzrle_region_of_slot(ctx, new.slot);
	if (r && r->gfn == new.gfn && r->npages == new.npages &&
	    r->hva == new.hva) {
		/* the same memory again (KVM flags changed): bases stay valid */
	} else if (r) {
		/* the bases belong to the memory the slot mapped before */
		xbzrle_cache_drop_range(ctx, r->gfn, r->npages);
	} else if (ctx->nr_regions == KVM_XBZRLE_MAX_REGIONS) {
		ret = -ENOSPC;
		goto out;
	} else {
		r = &ctx->regions[ctx->nr_regions++];
	}
	*r = new;
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

	mutex_lock(&ctx->lock);
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
	BUILD_BUG_ON(sizeof(arg) != KVM_XBZRLE_STATS_SIZE_VER2);

	ret = xbzrle_get_arg(&arg, sizeof(arg), uarg, cmd,
			     KVM_XBZRLE_STATS_SIZE_VER1);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	for (i = 0; i <= XS_RECLAIMED; i++)
		out[i] = READ_ONCE(ctx->stat[i]);
	arg.refused = READ_ONCE(ctx->stat[XS_REFUSED]);
	arg.cache_bytes = (u64)READ_ONCE(ctx->cache.nr_pages) << PAGE_SHIFT;
	arg.cache_size = (u64)ctx->cache.max_pages << PAGE_SHIFT;
	mutex_unlock(&ctx->lock);
	return xbzrle_put_arg(uarg, &arg, sizeof(arg));
}
