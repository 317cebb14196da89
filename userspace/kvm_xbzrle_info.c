// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-xbzrle-info: print what the loaded kvm_xbzrle module offers, as
 * QEMU will see it through KVM_XBZRLE_GET_CAPS, and, when /dev/kvm is
 * there, whether the module accepts a VM of this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#define DEVICE "/dev/kvm_xbzrle"

/* Returns 0 if the module accepts a fresh VM, else 1, saying why. */
static int check_vm(int fd)
{
	struct kvm_xbzrle_caps caps = {
		.size = sizeof(caps),
		.flags = KVM_XBZRLE_CAPS_VM_FD,
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int ret = 1;

	if (kvm < 0) {
		printf("kvm vm:         /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	caps.vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (caps.vm_fd < 0) {
		printf("kvm vm:         KVM_CREATE_VM: %s\n", strerror(errno));
	} else if (ioctl(fd, KVM_XBZRLE_GET_CAPS, &caps)) {
		printf("kvm vm:         refused: %s\n", strerror(errno));
		close(caps.vm_fd);
	} else {
		printf("kvm vm:         accepted (fd %d)\n", caps.vm_fd);
		close(caps.vm_fd);
		ret = 0;
	}
	close(kvm);
	return ret;
}

/* "0x7 (codec, offload, clear_dirty_log)"; bits this tool does not know in hex */
static void print_capabilities(__u64 caps)
{
	static const struct {
		__u64 bit;
		const char *name;
	} names[] = {
		{ KVM_XBZRLE_CAP_CODEC, "codec" },
		{ KVM_XBZRLE_CAP_OFFLOAD, "offload" },
		{ KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG, "clear_dirty_log" },
		{ KVM_XBZRLE_CAP_GENERATION, "generation" },
		{ KVM_XBZRLE_CAP_INVALIDATE, "invalidate" },
		{ KVM_XBZRLE_CAP_HOST_PAGE_BASES, "host_page_bases" },
		{ KVM_XBZRLE_CAP_ADAPT, "adapt" },
		{ KVM_XBZRLE_CAP_STOP, "stop" },
	};
	const char *sep = " (";
	__u64 rest = caps;
	size_t i;

	printf("capabilities:   0x%llx", (unsigned long long)caps);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(caps & names[i].bit))
			continue;
		printf("%s%s", sep, names[i].name);
		sep = ", ";
		rest &= ~names[i].bit;
	}
	if (rest)
		printf("%sunknown 0x%llx", sep, (unsigned long long)rest);
	printf("%s\n", caps ? ")" : "");
}

/* The encoder the module runs (kmod/codec/encoder.c), from its parameter. */
static void print_encoder(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/module/kvm_xbzrle/parameters/encoder", "r");

	if (f && fgets(buf, sizeof(buf), f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
	printf("encoder:        %s\n", buf[0] ? buf : "unknown (no encoder parameter)");
}

int main(void)
{
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	int fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	int ret;

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
	print_capabilities(caps.capabilities);
	printf("formats:        0x%llx%s\n", (unsigned long long)caps.formats,
	       caps.formats & (1ULL << KVM_XBZRLE_FORMAT_QEMU_V1) ? " (QEMU XBZRLE v1)" : "");
	printf("page_size:      %u\n", caps.page_size);
	printf("max_delta_size: %u\n", caps.max_delta_size);
	if (caps.capabilities & KVM_XBZRLE_CAP_HOST_PAGE_BASES) {
		printf("max_regions:    %u\n", caps.max_regions);
		printf("max_batch:      %u\n", caps.max_batch);
	}
	print_encoder();
	ret = check_vm(fd);
	close(fd);
	return ret;
}
