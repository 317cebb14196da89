// SPDX-License-Identifier: GPL-2.0
/*
 * offload_test - KVM_XBZRLE_ENCODE against real KVM guests, end to end.
 *
 * A migration in miniature: a KVM VM (the source) whose vCPU writes its
 * memory, a kvm_xbzrle context bound to it, and a destination copy of
 * guest memory that receives only what the records say, applied with the
 * project's own decoder (kmod/codec/xbzrle.c).  Every record must be what the
 * contract says (lib/guest_util.c checks each one: ZERO exactly for an
 * all-zero snapshot, UNCHANGED and XBZRLE only with a base, an XBZRLE
 * delta byte for byte the userspace encoder's, RAW without a base or on
 * overflow) and the context's counters must match the records seen.
 *
 * The guest is hand-assembled 32-bit code (flat protected mode, see
 * kvm_util.h): it increments one byte every STRIDE bytes of a DATA_SIZE
 * buffer (every 4th page of it zero at first, the rest random), then does
 * `out OUT_PORT, eax` with the pass number, so the host can stop it at
 * pass boundaries.  The cases:
 *
 *   paused.rounds_exact         round 0 sends the whole VM (RAW/ZERO),
 *                               then PAUSED_ROUNDS rounds of one guest
 *                               pass, the dirty log read and every dirty
 *                               page encoded with the guest stopped: each
 *                               snapshot equals guest memory, the data
 *                               pages come as XBZRLE deltas, and after
 *                               each round the destination equals guest
 *                               memory and the dirty log stays empty.  Two
 *                               variants: the classic dirty log
 *                               (KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG tried
 *                               in the last round, harmless) and manual
 *                               protection with the module clearing the
 *                               log of every page it sends;
 *   running.dirty_log_while_running
 *                               the vCPU keeps writing in a second thread
 *                               while the host reads the dirty log and
 *                               encodes with CLEAR_DIRTY_LOG
 *                               (RUNNING_ROUNDS rounds, records valid and
 *                               consistent); then a final round with the
 *                               guest stopped must leave an exact
 *                               destination: no write lost.  Two
 *                               variants: one vCPU, and two vCPUs, each in
 *                               its own thread, writing other bytes of the
 *                               same pages (both mark every page dirty,
 *                               and each clear the module makes races
 *                               with writes of both).
 *
 * On the kernel's kselftest harness, a fixture per case.  Needs KVM, the
 * module and manual dirty-log protection (of KVM and of the module):
 * without them the set-up fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "guest_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define TIMEOUT_S	120

/* Guest layout: code in slot 0, the buffer the guest writes in slot 1. */
#define CODE_SLOT	0
#define CODE_GPA	0x0ULL
#define CODE_SIZE	(64 * 1024ULL)
#define DATA_SLOT	1
#define DATA_GPA	0x100000ULL
#define DATA_SIZE	(4 * 1024 * 1024ULL)
#define DATA_PAGES	(DATA_SIZE / PAGE)
#define STRIDE		1024
#define OUT_PORT	GMIG_OUT_PORT

/* Guest rounds between two dirty-log reads, paused and running. */
#define PAUSED_ROUNDS	4
#define RUNNING_ROUNDS	20

/* Record buffer of the guest tests: a RAW round takes many calls. */
#define GUEST_REC_PAGES	64


/*
 * The guest VM: code slot and data slot, every 4th data page zero, the
 * rest random; vCPU at the code, registers for the loop.  0 or -1.
 */
static int guest_setup(struct mig *m, const char *name, unsigned int vm_flags,
		       unsigned int seed)
{
	struct kvm_regs regs;
	uint8_t *data;
	uint64_t i;

	if (gmig_init(m, name, vm_flags))
		return -1;
	if (vm_add_memslot(&m->vm, CODE_SLOT, CODE_GPA, CODE_SIZE) ||
	    vm_add_memslot(&m->vm, DATA_SLOT, DATA_GPA, DATA_SIZE) ||
	    gmig_load_guest(&m->vm, CODE_GPA))
		return why(m, "%s", kvm_util_error());
	data = vm_gpa_to_hva(&m->vm, DATA_GPA);
	for (i = 0; i < DATA_PAGES; i++)
		if (i % 4 != 3)
			fill_random(data + i * PAGE, PAGE, &seed);

	if (vcpu_create(&m->vm, &m->vcpu, 0, CODE_GPA))
		return why(m, "%s", kvm_util_error());
	m->has_vcpu = true;
	if (vcpu_get_regs(&m->vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	regs.rbx = DATA_GPA;
	regs.rbp = DATA_SIZE / STRIDE;
	regs.rdi = STRIDE;
	regs.rax = 0;
	if (vcpu_set_regs(&m->vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	return gmig_attach(m, GUEST_REC_PAGES);
}

/* Runs one pass of the guest loop; checks the pass number it reports. */
static int guest_pass(struct mig *m, uint32_t expect)
{
	uint32_t v = 0;
	int r = vcpu_run_until_out(&m->vcpu, OUT_PORT, &v);

	if (r < 0)
		return why(m, "guest: %s", kvm_util_error());
	if (r > 0)
		return why(m, "guest halted");
	if (v != expect)
		return why(m, "guest reported pass %u, expected %u", v, expect);
	return 0;
}

/* Pages of the data slot in @gpas[0..n). */
static unsigned int data_pages_in(const uint64_t *gpas, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += gpas[i] >= DATA_GPA && gpas[i] < DATA_GPA + DATA_SIZE;
	return k;
}

/*
 * The first send: the whole VM, the dirty log reset first; RAW and ZERO
 * records only, then the destination equals guest memory.  0 or -1.
 */
static int guest_round0(struct mig *m, uint32_t flags, struct tally *t)
{
	int n;

	/* Classic mode: this read resets the log and write-protects. */
	if (vm_dirty_gpas(&m->vm, m->gpas, m->npages) < 0)
		return why(m, "%s", kvm_util_error());
	n = vm_all_gpas(&m->vm, m->gpas, m->npages);
	if (n < 0)
		return why(m, "%s", kvm_util_error());
	if (gmig_send(m, m->gpas, n, flags, PAGE, m->records_cap, true, t,
		      NULL))
		return -1;
	if (t->xbzrle || t->unchanged)
		return why(m, "first send has %llu XBZRLE/UNCHANGED records",
			   (unsigned long long)(t->xbzrle + t->unchanged));
	return gmig_compare(m);
}

/* ------------------------------ guest paused ----------------------------- */

FIXTURE(paused) {
	struct mig m;
};

/* The dirty log KVM keeps, and who clears it. */
FIXTURE_VARIANT(paused) {
	const char *name;
	bool manual;		/* manual protection, the module clears */
};

FIXTURE_VARIANT_ADD(paused, classic) {
	.name = "guest/classic",
	.manual = false,
};

FIXTURE_VARIANT_ADD(paused, manual_protect) {
	.name = "guest/manual-protect",
	.manual = true,
};

FIXTURE_SETUP(paused)
{
	self->m.xfd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(true)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, guest_setup(&self->m, variant->name,
				 variant->manual ? VM_MANUAL_PROTECT : 0, 1))
		TH_LOG("%s: VM with code and 4 MiB data slots, vCPU in 32-bit protected mode, context bound with 2 regions: %s",
		       variant->name, self->m.why);
}

FIXTURE_TEARDOWN(paused)
{
	gmig_destroy(&self->m);
}

TEST_F_TIMEOUT(paused, rounds_exact, TIMEOUT_S)
{
	const uint32_t flags = variant->manual ?
			       KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	struct mig *m = &self->m;
	int round, n, r, left_n, leftover = 0;
	char left[128] = "";
	struct tally t;

	memset(&t, 0, sizeof(t));
	r = guest_round0(m, flags, &t);
	gmig_tally_diag(m, "round 0", &t);
	ASSERT_EQ(0, r)
		TH_LOG("round 0: all %zu pages sent RAW/ZERO, destination == guest memory: %s",
		       m->npages, m->why);

	for (round = 1; round <= PAUSED_ROUNDS; round++) {
		/* Classic mode: the flag must be harmless; try it last. */
		uint32_t f = flags;

		if (!variant->manual && round == PAUSED_ROUNDS)
			f = KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
		memset(&t, 0, sizeof(t));
		r = guest_pass(m, round);
		n = r ? -1 : vm_dirty_gpas(&m->vm, m->gpas, m->npages);
		if (!r && n < 0)
			r = why(m, "%s", kvm_util_error());
		if (!r && data_pages_in(m->gpas, n) != DATA_PAGES)
			r = why(m, "%u of %llu data pages dirty after a guest pass",
				data_pages_in(m->gpas, n), DATA_PAGES);
		if (!r)
			r = gmig_send(m, m->gpas, n, f, PAGE, m->records_cap,
				      true, &t, NULL);
		if (!r)
			r = gmig_compare(m);
		/* Zero pages of round 0 may come RAW; the rest must be deltas. */
		if (!r && t.xbzrle < DATA_PAGES * 3 / 4)
			r = why(m, "only %llu XBZRLE records for %llu data pages with 4 bytes changed",
				(unsigned long long)t.xbzrle, DATA_PAGES);
		/* The guest is paused: a page clean now stays clean. */
		if (!r) {
			left_n = vm_dirty_gpas(&m->vm, m->gpas, m->npages);
			if (left_n < 0)
				r = why(m, "%s", kvm_util_error());
			else if (left_n && !leftover++)
				snprintf(left, sizeof(left),
					 "round %d: %d pages still dirty after ENCODE%s, first 0x%llx",
					 round, left_n,
					 f ? " with CLEAR_DIRTY_LOG" : "",
					 (unsigned long long)m->gpas[0]);
		}
		gmig_tally_diag(m, "round", &t);
		ASSERT_EQ(0, r)
			TH_LOG("round %d: guest pass, %d dirty pages encoded%s, records exact, destination == guest memory: %s",
			       round, n, f ? " (CLEAR_DIRTY_LOG)" : "", m->why);
	}
	EXPECT_EQ(0, leftover)
		TH_LOG("%s: %s",
		       variant->manual ? "KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG cleared the log of every page it sent"
				       : "dirty log empty after each round (flag harmless in classic mode)",
		       left);
	EXPECT_EQ(0, gmig_check_stats(m))
		TH_LOG("after all rounds: counters match the records: %s",
		       m->why);
}

/* ----------------------------- guest running ----------------------------- */

struct runner {
	struct kvm_vcpu *vcpu;
	atomic_bool stop;
	atomic_uint passes;
	char error[256];
};

/* Runs guest passes until told to stop (checked at pass boundaries). */
static void *vcpu_thread(void *arg)
{
	struct runner *r = arg;
	uint32_t v;
	int rc;

	while (!atomic_load(&r->stop)) {
		rc = vcpu_run_until_out(r->vcpu, OUT_PORT, &v);
		if (rc) {
			snprintf(r->error, sizeof(r->error), "%s",
				 rc > 0 ? "guest halted" : kvm_util_error());
			break;
		}
		atomic_fetch_add(&r->passes, 1);
	}
	return NULL;
}

/* Waits until the guest finished @target passes; false after 20 s. */
static bool wait_passes(struct runner *r, unsigned int target)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (atomic_load(&r->passes) >= target || r->error[0])
			return atomic_load(&r->passes) >= target;
		sleep_ms(2);
	}
	return false;
}

#define MAX_VCPUS	2

FIXTURE(running) {
	struct mig m;
	struct kvm_vcpu vcpu1;	/* the second vCPU, of the two_vcpus variant */
	bool has_vcpu1;
	struct runner run[MAX_VCPUS];
	pthread_t th[MAX_VCPUS];
	bool started[MAX_VCPUS];
};

FIXTURE_VARIANT(running) {
	unsigned int vcpus;
};

FIXTURE_VARIANT_ADD(running, one_vcpu) {
	.vcpus = 1,
};

FIXTURE_VARIANT_ADD(running, two_vcpus) {
	.vcpus = 2,
};

/*
 * vCPU 1 of the VM: the same loop over the same pages, half a stride
 * further, so that both vCPUs write every page (other bytes).  0 or -1.
 */
static int second_vcpu(struct mig *m, struct kvm_vcpu *vcpu)
{
	struct kvm_regs regs;

	if (vcpu_create(&m->vm, vcpu, 1, CODE_GPA))
		return why(m, "%s", kvm_util_error());
	if (vcpu_get_regs(vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	regs.rbx = DATA_GPA + STRIDE / 2;
	regs.rbp = DATA_SIZE / STRIDE;
	regs.rdi = STRIDE;
	regs.rax = 0;
	if (vcpu_set_regs(vcpu, &regs))
		return why(m, "%s", kvm_util_error());
	return 0;
}

FIXTURE_SETUP(running)
{
	self->m.xfd = -1;
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(true)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, guest_setup(&self->m, "guest/running", VM_MANUAL_PROTECT,
				 2))
		TH_LOG("manual-protect VM set up: %s", self->m.why);
	self->run[0].vcpu = &self->m.vcpu;
	if (variant->vcpus > 1) {
		/* the teardown frees what vcpu_create() got, whatever failed */
		self->has_vcpu1 = true;
		ASSERT_EQ(0, second_vcpu(&self->m, &self->vcpu1))
			TH_LOG("second vCPU: %s", self->m.why);
		self->run[1].vcpu = &self->vcpu1;
	}
}

/* Stops and joins the vCPU threads that run. */
static void stop_vcpus(FIXTURE_DATA(running) *self)
{
	unsigned int i;

	for (i = 0; i < MAX_VCPUS; i++)
		atomic_store(&self->run[i].stop, true);
	for (i = 0; i < MAX_VCPUS; i++) {
		if (self->started[i])
			pthread_join(self->th[i], NULL);
		self->started[i] = false;
	}
}

FIXTURE_TEARDOWN(running)
{
	stop_vcpus(self);
	if (self->has_vcpu1)
		vcpu_destroy(&self->vcpu1);
	gmig_destroy(&self->m);
}

TEST_F_TIMEOUT(running, dirty_log_while_running, TIMEOUT_S)
{
	const uint32_t flags = KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
	struct runner *run = &self->run[0];
	unsigned int i, round, before, during = 0;
	unsigned int first[MAX_VCPUS] = { 0 }, last[MAX_VCPUS] = { 0 };
	struct mig *m = &self->m;
	struct tally t = { 0 };
	int n = 0, r;

	r = guest_round0(m, flags, &t);
	gmig_tally_diag(m, "round 0", &t);
	ASSERT_EQ(0, r) TH_LOG("round 0 exact: %s", m->why);

	for (i = 0; i < variant->vcpus; i++) {
		ASSERT_EQ(0, pthread_create(&self->th[i], NULL, vcpu_thread,
					    &self->run[i]))
			TH_LOG("pthread_create: %s", strerror(errno));
		self->started[i] = true;
	}

	memset(&t, 0, sizeof(t));
	for (round = 1; round <= RUNNING_ROUNDS && !r; round++) {
		/* Something to send: at least one more pass since last time. */
		if (!wait_passes(run, atomic_load(&run->passes) + 1)) {
			r = why(m, "guest made no progress: %s",
				run->error[0] ? run->error : "timeout");
			break;
		}
		before = atomic_load(&run->passes);
		for (i = 0; round == 1 && i < variant->vcpus; i++)
			first[i] = atomic_load(&self->run[i].passes);
		n = vm_dirty_gpas(&m->vm, m->gpas, m->npages);
		if (n < 0) {
			r = why(m, "%s", kvm_util_error());
			break;
		}
		r = gmig_send(m, m->gpas, n, flags, PAGE, m->records_cap, false,
			      &t, NULL);
		during += atomic_load(&run->passes) != before;
	}
	gmig_tally_diag(m, "running rounds", &t);
	EXPECT_EQ(0, r)
		TH_LOG("%u rounds of dirty log + ENCODE while the vCPU runs: records valid and consistent: %s",
		       RUNNING_ROUNDS, m->why);
	printf("# guest finished a pass during %u of %u rounds, %u passes in all\n",
	       during, RUNNING_ROUNDS, atomic_load(&run->passes));
	for (i = 0; i < variant->vcpus; i++)
		last[i] = atomic_load(&self->run[i].passes);

	stop_vcpus(self);
	for (i = 0; i < variant->vcpus; i++) {
		EXPECT_EQ('\0', self->run[i].error[0])
			TH_LOG("vCPU %u stopped cleanly after %u passes: vCPU thread: %s",
			       i, atomic_load(&self->run[i].passes),
			       self->run[i].error);
		/* each wrote every page during the rounds, or the variant proves nothing */
		EXPECT_LT(first[i], last[i])
			TH_LOG("vCPU %u finished no pass during the rounds (passes %u at round 1, %u after)",
			       i, first[i], last[i]);
	}

	/* Every write after its page's clear is in the log: nothing lost. */
	memset(&t, 0, sizeof(t));
	m->why[0] = 0;
	n = vm_dirty_gpas(&m->vm, m->gpas, m->npages);
	r = n < 0 ? why(m, "%s", kvm_util_error()) : 0;
	if (!r)
		r = gmig_send(m, m->gpas, n, flags, PAGE, m->records_cap, true,
			      &t, NULL);
	if (!r)
		r = gmig_compare(m);
	gmig_tally_diag(m, "final round", &t);
	EXPECT_EQ(0, r)
		TH_LOG("final round with the guest stopped (%d dirty pages): destination == guest memory, no write lost: %s",
		       n, m->why);
	EXPECT_EQ(0, gmig_check_stats(m))
		TH_LOG("after all rounds: counters match the records: %s",
		       m->why);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
