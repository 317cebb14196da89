// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_xbzrle: XBZRLE delta encoding of dirty guest pages for KVM live
 * migration, done in the kernel instead of QEMU's migration thread.
 *
 * This file owns the module's life cycle and /dev/kvm_xbzrle.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"

/* An ioctl is matched without its size bits: @size in the argument says. */
#define IOC_WITHOUT_SIZE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long xbzrle_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (IOC_WITHOUT_SIZE(cmd)) {
	case IOC_WITHOUT_SIZE(KVM_XBZRLE_GET_CAPS):
		return xbzrle_ioctl_get_caps(uarg, cmd);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations xbzrle_dev_fops = {
	.owner		= THIS_MODULE,
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

	ret = misc_register(&xbzrle_dev);
	if (ret) {
		pr_err("cannot register /dev/kvm_xbzrle: %d\n", ret);
		return ret;
	}
	return 0;
}

static void __exit xbzrle_exit(void)
{
	misc_deregister(&xbzrle_dev);
}

module_init(xbzrle_init);
module_exit(xbzrle_exit);

MODULE_DESCRIPTION("XBZRLE delta encoding offload for KVM live migration");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
