/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm_xbzrle: XBZRLE delta encoding of dirty guest pages for live migration.
 *
 * Userspace ABI of /dev/kvm_xbzrle.  Every argument structure starts with a
 * size field (filled in by userspace with sizeof() of the structure it was
 * built against) and a flags field; reserved fields must be zero.  See
 * Documentation/uapi.rst for the rules.
 */
#ifndef _UAPI_LINUX_KVM_XBZRLE_H
#define _UAPI_LINUX_KVM_XBZRLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Version of this ABI; bumped when an ioctl or a structure changes meaning. */
#define KVM_XBZRLE_API_VERSION		1

/* Delta format: QEMU's XBZRLE (migration/xbzrle.c), unchanged since QEMU 2.x. */
#define KVM_XBZRLE_FORMAT_QEMU_V1	1

#define KVM_XBZRLE_IOCTL_TYPE		0xBD

/* struct kvm_xbzrle_caps.flags */
#define KVM_XBZRLE_CAPS_VM_FD		(1U << 0)	/* vm_fd is valid */
#define KVM_XBZRLE_CAPS_FLAGS_ALL	(KVM_XBZRLE_CAPS_VM_FD)

/* struct kvm_xbzrle_caps.capabilities: what this module can do */
#define KVM_XBZRLE_CAP_CODEC		(1ULL << 0)	/* XBZRLE encoder and decoder */

/**
 * struct kvm_xbzrle_caps - argument of KVM_XBZRLE_GET_CAPS
 * @size: in, sizeof(struct kvm_xbzrle_caps) as userspace knows it; at
 *	least KVM_XBZRLE_CAPS_SIZE_VER1.
 * @flags: in, KVM_XBZRLE_CAPS_* flags; unknown bits are refused (-EINVAL).
 * @vm_fd: in, with KVM_XBZRLE_CAPS_VM_FD: a KVM VM file descriptor of the
 *	calling process, checked as the VM the offload would serve.
 * @api_version: out, KVM_XBZRLE_API_VERSION.
 * @capabilities: out, KVM_XBZRLE_CAP_* bits.
 * @formats: out, bit (1 << KVM_XBZRLE_FORMAT_*) for every delta format
 *	the module produces.
 * @page_size: out, size of the pages the module encodes (the host's
 *	PAGE_SIZE).
 * @max_delta_size: out, largest delta the module returns for one page.
 * @reserved: must be zero in, zero out.
 */
struct kvm_xbzrle_caps {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 api_version;
	__u64 capabilities;
	__u64 formats;
	__u32 page_size;
	__u32 max_delta_size;
	__u64 reserved[4];
};

#define KVM_XBZRLE_CAPS_SIZE_VER1	72

/*
 * The ioctl number carries the size of the structure userspace was built
 * against; the module matches type, number and direction and reads @size.
 */
#define KVM_XBZRLE_GET_CAPS	_IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x00, struct kvm_xbzrle_caps)

#endif /* _UAPI_LINUX_KVM_XBZRLE_H */
