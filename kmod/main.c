// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_xbzrle: XBZRLE delta encoding of dirty guest pages for KVM live
 * migration, done in the kernel instead of QEMU's migration thread.
 *
 * This file owns the module's life cycle, /dev/kvm_xbzrle and the rules
 * every ioctl argument follows.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"
#include "codec/encoder.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* An ioctl is matched without its size bits: @size in the argument says. */
#define IOC_WITHOUT_SIZE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

/*
 * Copies an argument that starts with a __u32 size: at least @min_size,
 * equal to the size in the ioctl number, at most XBZRLE_MAX_ARG_SIZE.  A
 * larger structure from newer userspace is accepted if its unknown tail
 * is zero (else -E2BIG); a smaller one is zero-extended.  @karg's size
 * field says what userspace passed.
 */
int xbzrle_get_arg(void *karg, size_t ksize, const void __user *uarg,
		   unsigned int cmd, u32 min_size)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < min_size || usize != _IOC_SIZE(cmd))
		return -EINVAL;
	if (usize > XBZRLE_MAX_ARG_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	/* userspace may have changed it since get_user(): keep what was checked */
	*(u32 *)karg = usize;
	return 0;
}

/* Copies back as much of @karg as userspace's structure holds. */
int xbzrle_put_arg(void __user *uarg, const void *karg, size_t ksize)
{
	size_t usize = *(const u32 *)karg;

	if (copy_to_user(uarg, karg, min(usize, ksize)))
		return -EFAULT;
	return 0;
}

static long xbzrle_dispatch(struct xbzrle_ctx *ctx, unsigned int cmd,
			    void __user *uarg)
{
	switch (IOC_WITHOUT_SIZE(cmd)) {
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_GET_CAPS):
		return xbzrle_ioctl_get_caps(uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_BIND):
		return xbzrle_ioctl_bind(ctx, uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_SET_REGION):
		return xbzrle_ioctl_set_region(ctx, uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_ENCODE):
		return xbzrle_ioctl_encode(ctx, uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_SET_CACHE):
		return xbzrle_ioctl_set_cache(ctx, uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_GET_STATS):
		return xbzrle_ioctl_get_stats(ctx, uarg, cmd);
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_INVALIDATE):
		return xbzrle_ioctl_invalidate(ctx, uarg, cmd);
	default:
		return -ENOTTY;
	}
}

static long xbzrle_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct xbzrle_ctx *ctx = file->private_data;
	long ret = xbzrle_dispatch(ctx, cmd, (void __user *)arg);

	if (ret < 0)
		trace_kvm_xbzrle_error(ctx->id, cmd, ret);
	return ret;
}

/* One context per open: one VM, one migration's cache. */
static int xbzrle_dev_open(struct inode *inode, struct file *file)
{
	struct xbzrle_ctx *ctx = xbzrle_ctx_create();

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	file->private_data = ctx;
	return 0;
}

static int xbzrle_dev_release(struct inode *inode, struct file *file)
{
	xbzrle_ctx_destroy(file->private_data);
	return 0;
}

static const struct file_operations xbzrle_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= xbzrle_dev_open,
	.release	= xbzrle_dev_release,
	.unlocked_ioctl	= xbzrle_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/*
 * No .mode: like /dev/kvm, the node is created 0600 root and udev applies
 * the host's policy (scripts/udev/60-kvm_xbzrle.rules mirrors Debian's
 * rule for /dev/kvm).
 */
static struct miscdevice xbzrle_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kvm_xbzrle",
	.fops	= &xbzrle_dev_fops,
};

static int __init xbzrle_init(void)
{
	int ret;

	ret = xbzrle_encoder_init();
	if (ret)
		return ret;
	ret = xbzrle_shrinker_init();
	if (ret) {
		pr_err("cannot register the cache shrinker: %d\n", ret);
		return ret;
	}
	xbzrle_debugfs_init();
	ret = misc_register(&xbzrle_dev);
	if (ret) {
		pr_err("cannot register /dev/kvm_xbzrle: %d\n", ret);
		xbzrle_debugfs_exit();
		xbzrle_shrinker_exit();
		return ret;
	}
	return 0;
}

static void __exit xbzrle_exit(void)
{
	misc_deregister(&xbzrle_dev);
	xbzrle_debugfs_exit();
	xbzrle_shrinker_exit();
}

module_init(xbzrle_init);
module_exit(xbzrle_exit);

MODULE_DESCRIPTION("XBZRLE delta encoding offload for KVM live migration");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
