// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_XBZRLE_GET_CAPS: the versioned capability query.  Userspace (QEMU)
 * asks it before it turns the offload on, and falls back to its own
 * encoder when the module or a capability is missing.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include <linux/kvm_xbzrle.h>

#include "kvm_xbzrle.h"

/*
 * Returns a reference on the VM file @fd, which must be a KVM VM of the
 * caller, as for KVM's own VM ioctls: the pages the offload reads are the
 * caller's mappings of guest memory.
 */
struct file *xbzrle_get_vm_file(int fd)
{
	struct file *file = fget(fd);
	struct kvm *kvm;

	if (!file)
		return ERR_PTR(-EBADF);
	if (!file_is_kvm(file)) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	kvm = file->private_data;
	if (kvm->mm != current->mm) {
		fput(file);
		return ERR_PTR(-EIO);
	}
	return file;
}

static int xbzrle_check_vm(int fd)
{
	struct file *file = xbzrle_get_vm_file(fd);

	if (IS_ERR(file))
		return PTR_ERR(file);
	fput(file);
	return 0;
}

long xbzrle_ioctl_get_caps(void __user *uarg, unsigned int cmd)
{
	struct kvm_xbzrle_caps caps;
	int ret;

	ret = xbzrle_get_arg(&caps, sizeof(caps), uarg, cmd,
			     KVM_XBZRLE_CAPS_SIZE_VER1);
	if (ret)
		return ret;

	if (caps.flags & ~KVM_XBZRLE_CAPS_FLAGS_ALL)
		return -EINVAL;
	if (!xbzrle_all_zero(caps.reserved, sizeof(caps.reserved)))
		return -EINVAL;
	if (caps.flags & KVM_XBZRLE_CAPS_VM_FD) {
		ret = xbzrle_check_vm(caps.vm_fd);
		if (ret)
			return ret;
	} else if (caps.vm_fd) {
		return -EINVAL;
	}

	caps.api_version = KVM_XBZRLE_API_VERSION;
	caps.capabilities = KVM_XBZRLE_CAP_CODEC | KVM_XBZRLE_CAP_OFFLOAD |
			    KVM_XBZRLE_CAP_GENERATION |
			    KVM_XBZRLE_CAP_INVALIDATE |
			    KVM_XBZRLE_CAP_HOST_PAGE_BASES | KVM_XBZRLE_CAP_ADAPT |
			    KVM_XBZRLE_CAP_STOP;
	if (xbzrle_clear_dirty_log_offered())
		caps.capabilities |= KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG;
	caps.formats = 1ULL << KVM_XBZRLE_FORMAT_QEMU_V1;
	caps.page_size = PAGE_SIZE;
	/* QEMU's receiver refuses a delta longer than a page */
	caps.max_delta_size = PAGE_SIZE;
	caps.max_regions = xbzrle_max_regions();
	caps.max_batch = KVM_XBZRLE_MAX_BATCH;

	return xbzrle_put_arg(uarg, &caps, sizeof(caps));
}
