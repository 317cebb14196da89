// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-xbzrle-info: print what the loaded kvm_xbzrle module offers, as
 * QEMU will see it through KVM_XBZRLE_GET_CAPS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_xbzrle.h>

#define DEVICE "/dev/kvm_xbzrle"

int main(void)
{
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	int fd = open(DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "kvm-xbzrle-info: %s: %s%s\n", DEVICE, strerror(errno),
			errno == ENOENT ? " (is the module loaded? modprobe kvm_xbzrle)" : "");
		return 1;
	}
	if (ioctl(fd, KVM_XBZRLE_GET_CAPS, &caps)) {
		fprintf(stderr, "kvm-xbzrle-info: KVM_XBZRLE_GET_CAPS: %s\n", strerror(errno));
		return 1;
	}
	printf("api_version:    %u\n", caps.api_version);
	printf("capabilities:   0x%llx%s\n", (unsigned long long)caps.capabilities,
	       caps.capabilities & KVM_XBZRLE_CAP_CODEC ? " (codec)" : "");
	printf("formats:        0x%llx%s\n", (unsigned long long)caps.formats,
	       caps.formats & (1ULL << KVM_XBZRLE_FORMAT_QEMU_V1) ? " (QEMU XBZRLE v1)" : "");
	printf("page_size:      %u\n", caps.page_size);
	printf("max_delta_size: %u\n", caps.max_delta_size);
	close(fd);
	return 0;
}
