// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu - vCPUs in 32-bit flat protected mode, set up and run.  See
 * include/kvm_util.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_util.h"
#include "util_internal.h"

/* A flat 4 GiB segment with base 0: code (execute/read) or data (r/w). */
static void flat_segment(struct kvm_segment *seg, uint16_t selector, bool code)
{
	*seg = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,	/* bytes, as KVM takes it */
		.selector = selector,
		.type = code ? 0xb : 0x3,	/* accessed */
		.present = 1,
		.dpl = 0,
		.db = 1,		/* 32-bit */
		.s = 1,			/* code/data, not system */
		.l = 0,
		.g = 1,
	};
}

static int vcpu_setup_protected(struct kvm_vcpu *vcpu, uint64_t entry_gpa)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return fail_errno("KVM_GET_SREGS");
	flat_segment(&sregs.cs, 0x08, true);
	flat_segment(&sregs.ds, 0x10, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	/* Protected mode, no paging, no PAE, no long mode. */
	sregs.cr0 = (sregs.cr0 | 0x1) & ~0x80000000ULL;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs))
		return fail_errno("KVM_SET_SREGS (32-bit flat)");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry_gpa;
	regs.rflags = 0x2;	/* reserved bit 1; IF clear */
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		return fail_errno("KVM_SET_REGS");
	return 0;
}

int vcpu_create(struct kvm_vm *vm, struct kvm_vcpu *vcpu, uint32_t id,
		uint64_t entry_gpa)
{
	int sz;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return fail_errno("KVM_CREATE_VCPU %u", id);

	/* open since vm_create(): the cached fd */
	sz = ioctl(kvm_open(), KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return fail_errno("KVM_GET_VCPU_MMAP_SIZE returned %d", sz);
	vcpu->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return fail_errno("mmap kvm_run");
	}
	vcpu->run_size = sz;
	return vcpu_setup_protected(vcpu, entry_gpa);
}

void vcpu_destroy(struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->fd = -1;
}

int vcpu_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	if (ioctl(vcpu->fd, KVM_GET_REGS, regs))
		return fail_errno("KVM_GET_REGS");
	return 0;
}

int vcpu_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs)
{
	if (ioctl(vcpu->fd, KVM_SET_REGS, regs))
		return fail_errno("KVM_SET_REGS");
	return 0;
}

const char *kvm_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN (triple fault)",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "unexpected KVM exit reason";
}

int vcpu_run(struct kvm_vcpu *vcpu, struct vcpu_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	memset(exit, 0, sizeof(*exit));
	if (ioctl(vcpu->fd, KVM_RUN, 0)) {
		if (errno == EINTR) {
			exit->reason = KVM_EXIT_INTR;
			return 0;
		}
		return fail_errno("KVM_RUN");
	}
	exit->reason = run->exit_reason;
	if (run->exit_reason == KVM_EXIT_IO) {
		const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
		uint32_t v = 0;

		exit->port = run->io.port;
		exit->direction = run->io.direction;
		exit->size = run->io.size;
		if (run->io.size <= sizeof(v))
			memcpy(&v, data, run->io.size);
		exit->value = v;
	}
	return 0;
}

/* Describes an unexpected exit in the error message. */
static int bad_exit(struct kvm_vcpu *vcpu, const struct vcpu_exit *exit)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	char where[64] = "";

	if (!ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		snprintf(where, sizeof(where), " at eip 0x%llx",
			 (unsigned long long)regs.rip);
	errno = EPROTO;
	switch (exit->reason) {
	case KVM_EXIT_IO:
		return fail("unexpected KVM_EXIT_IO %s port 0x%x size %u%s",
			    exit->direction == KVM_EXIT_IO_OUT ? "out" : "in",
			    exit->port, exit->size, where);
	case KVM_EXIT_FAIL_ENTRY:
		return fail("KVM_EXIT_FAIL_ENTRY, reason 0x%llx%s",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			    where);
	case KVM_EXIT_INTERNAL_ERROR:
		return fail("KVM_EXIT_INTERNAL_ERROR, suberror %u%s",
			    run->internal.suberror, where);
	case KVM_EXIT_MMIO:
		return fail("KVM_EXIT_MMIO at gpa 0x%llx%s",
			    (unsigned long long)run->mmio.phys_addr, where);
	default:
		return fail("%s (%u)%s", kvm_exit_name(exit->reason),
			    exit->reason, where);
	}
}

int vcpu_run_until_out(struct kvm_vcpu *vcpu, uint16_t port, uint32_t *value)
{
	struct vcpu_exit exit;

	for (;;) {
		if (vcpu_run(vcpu, &exit))
			return -1;
		switch (exit.reason) {
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_HLT:
			return 1;
		case KVM_EXIT_IO:
			if (exit.port == port &&
			    exit.direction == KVM_EXIT_IO_OUT) {
				if (value)
					*value = exit.value;
				return 0;
			}
			/* fall through */
		default:
			return bad_exit(vcpu, &exit);
		}
	}
}
