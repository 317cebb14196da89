// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_XBZRLE_GET_CAPS: the versioned capability query.  Userspace (QEMU)
 * asks it before it turns the offload on, and falls back to its own
 * encoder when the module or a capability is missing.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"

/* Room for the structure to grow, on every page size. */
#define XBZRLE_MAX_ARG_SIZE	4096

/*
 * The VM must belong to the caller, as for KVM's own VM ioctls: the pages
 * the offload reads are the caller's mappings of guest memory.
 */
static int xbzrle_check_vm(int fd)
{
	struct file *file = fget(fd);
	struct kvm *kvm;
	int ret = 0;

	if (!file)
		return -EBADF;
	if (!file_is_kvm(file)) {
		ret = -EINVAL;
	} else {
		kvm = file->private_data;
		if (kvm->mm != current->mm)
			ret = -EIO;
	}
	fput(file);
	return ret;
}

static bool xbzrle_reserved_clear(const struct kvm_xbzrle_caps *caps)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(caps->reserved); i++)
		if (caps->reserved[i])
			return false;
	return true;
}

long xbzrle_ioctl_get_caps(void __user *uarg, unsigned int cmd)
{
	struct kvm_xbzrle_caps caps;
	u32 usize;
	int ret;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < KVM_XBZRLE_CAPS_SIZE_VER1 || usize != _IOC_SIZE(cmd))
		return -EINVAL;
	if (usize > XBZRLE_MAX_ARG_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&caps, sizeof(caps), uarg, usize);
	if (ret)
		return ret;
	/* userspace may have changed it since get_user(): keep what was checked */
	caps.size = usize;

	if (caps.flags & ~KVM_XBZRLE_CAPS_FLAGS_ALL)
		return -EINVAL;
	if (!xbzrle_reserved_clear(&caps))
		return -EINVAL;
	if (caps.flags & KVM_XBZRLE_CAPS_VM_FD) {
		ret = xbzrle_check_vm(caps.vm_fd);
		if (ret)
			return ret;
	} else if (caps.vm_fd) {
		return -EINVAL;
	}

	caps.api_version = KVM_XBZRLE_API_VERSION;
	caps.capabilities = KVM_XBZRLE_CAP_CODEC;
	caps.formats = 1ULL << KVM_XBZRLE_FORMAT_QEMU_V1;
	caps.page_size = PAGE_SIZE;
	/* QEMU's receiver refuses a delta longer than a page */
	caps.max_delta_size = PAGE_SIZE;

	if (copy_to_user(uarg, &caps, min_t(size_t, usize, sizeof(caps))))
		return -EFAULT;
	return 0;
}
