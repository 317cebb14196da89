// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_flags_test - the flags of KVM_XBZRLE_ENCODE and their
 * capabilities, on the ABI fixture (a context bound to a VM with manual
 * dirty-log protection, whose memslot 0 is its region; no vCPU runs).
 *
 * KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG:
 *
 *   clear_counted        a valid call gives correct records, and two pages
 *                        of one memslot cost one KVM_CLEAR_DIRTY_LOG
 *                        (debugfs dirty_log_clears);
 *   clear_param_off      the module parameter clear_dirty_log=N withdraws
 *                        the capability and the flag (EINVAL, no record
 *                        counted); ENCODE without the flag goes on and
 *                        clears nothing; =Y offers it again;
 *   clear_memslot_gone   the KVM memslot deleted: ENOENT, no record
 *                        counted; memslot and region added again work;
 *   clear_no_dirty_log   a memslot without dirty logging: ENOENT;
 *   clear_dirty_ring     a VM with the dirty ring: ENXIO (skipped without
 *                        KVM_CAP_DIRTY_LOG_RING).
 *
 * KVM_XBZRLE_ENCODE_GENERATION:
 *
 *   generation           GET_CAPS offers it; a generation needs the flag,
 *                        may repeat or grow but not go back (EINVAL,
 *                        nothing done, no counter), not even after a call
 *                        without the flag; a RESET starts over; a full
 *                        one-page cache refuses the second page of the
 *                        same generation instead of evicting;
 *   stats_ver1           GET_STATS of version 1's size (112 bytes) works
 *                        and writes nothing past them.
 *
 * On the kernel's kselftest harness; needs root (the module parameter);
 * a missing module fails the set-up.  Contract: <linux/kvm_xbzrle.h>.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define NOLOG_SLOT	3	/* a memslot without dirty logging */
#define NOLOG_GPA	0x400000ULL
#define CLEAR_PARAM	"clear_dirty_log"

FIXTURE(flags) {
	struct abi_fx fx;
	uint64_t gpas[2];		/* two pages of memslot 0, 3 apart */
	struct kvm_vm ring;
	int ring_xfd;
	uint8_t *nolog_mem;
};

FIXTURE_SETUP(flags)
{
	self->ring.fd = self->ring_xfd = -1;
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
	self->gpas[0] = FX_GPA + 2 * PG;
	self->gpas[1] = FX_GPA + 5 * PG;
}

FIXTURE_TEARDOWN(flags)
{
	/* the case's _exit() skips atexit() */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());
	if (self->ring_xfd >= 0)
		close(self->ring_xfd);
	vm_destroy(&self->ring);
	abi_fx_destroy(&self->fx);
	if (self->nolog_mem)
		munmap(self->nolog_mem, PG);
}

/* A valid ENCODE of the two pages with @flags: correct records. */
#define EXPECT_GOOD(flags, gen, what)					\
do {									\
	const char *__why = abi_fx_encode_good(&self->fx, flags,	\
					       self->gpas, 2, gen);	\
									\
	EXPECT_EQ(NULL, __why) TH_LOG("%s: %s", what, __why);		\
} while (0)

TEST_F(flags, clear_counted)
{
	long long c0, c1;

	c0 = xbz_debugfs_stat("dirty_log_clears");
	EXPECT_GOOD(KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, 8,
		    "ENCODE_CLEAR_DIRTY_LOG: valid call");
	c1 = xbz_debugfs_stat("dirty_log_clears");
	EXPECT_LE(0, c0) TH_LOG("debugfs dirty_log_clears unreadable");
	EXPECT_EQ(c0 + 1, c1)
		TH_LOG("ENCODE_CLEAR_DIRTY_LOG: debugfs dirty_log_clears counts the one KVM_CLEAR_DIRTY_LOG (%lld -> %lld)",
		       c0, c1);
}

TEST_F(flags, clear_param_off)
{
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	struct kvm_xbzrle_stats s0, s1;
	long long c0, c1;
	char diff[512];
	int r;

	/*
	 * The module parameter clear_dirty_log=N withdraws the capability
	 * and the flag; ENCODE without the flag goes on.
	 */
	ASSERT_EQ(0, xbz_param_write(CLEAR_PARAM, "N")) TH_LOG("%s", kvm_util_error());
	r = abi_ioctl(self->fx.xfd, KVM_XBZRLE_GET_CAPS, &caps);
	EXPECT_ERRNO(0, r, "clear_dirty_log=N: GET_CAPS");
	EXPECT_FALSE(!!(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG))
		TH_LOG("clear_dirty_log=N: GET_CAPS still offers CLEAR_DIRTY_LOG (0x%llx)",
		       (unsigned long long)caps.capabilities);
	ASSERT_EQ(0, abi_stats(self->fx.xfd, &s0));
	EXPECT_ERRNO(EINVAL, abi_encode(self->fx.xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
					self->gpas, 2, self->fx.recbuf, RECBUF_SIZE,
					4096, NULL),
		     "clear_dirty_log=N: ENCODE with the flag");
	ASSERT_EQ(0, abi_stats(self->fx.xfd, &s1));
	EXPECT_TRUE(abi_stats_equal(&s0, &s1, ABI_STATS_RECORDS, diff, sizeof(diff)))
		TH_LOG("clear_dirty_log=N: the refused call counted records: %s", diff);
	c0 = xbz_debugfs_stat("dirty_log_clears");
	EXPECT_GOOD(0, 10, "clear_dirty_log=N: ENCODE without the flag");
	c1 = xbz_debugfs_stat("dirty_log_clears");
	EXPECT_LE(0, c0) TH_LOG("debugfs dirty_log_clears unreadable");
	EXPECT_EQ(c0, c1)
		TH_LOG("ENCODE without the flag: dirty_log_clears changed (%lld -> %lld)",
		       c0, c1);
	ASSERT_EQ(0, xbz_param_write(CLEAR_PARAM, "Y")) TH_LOG("%s", kvm_util_error());
	r = abi_ioctl(self->fx.xfd, KVM_XBZRLE_GET_CAPS, &caps);
	EXPECT_ERRNO(0, r, "clear_dirty_log=Y: GET_CAPS");
	EXPECT_TRUE(!!(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG))
		TH_LOG("clear_dirty_log=Y: GET_CAPS does not offer CLEAR_DIRTY_LOG again");
}

/*
 * The KVM memslot goes away (its memory stays mapped): KVM's
 * KVM_CLEAR_DIRTY_LOG, or the module itself, says ENOENT.
 */
TEST_F(flags, clear_memslot_gone)
{
	struct abi_fx *fx = &self->fx;
	struct kvm_xbzrle_stats s0, s1;
	char diff[512];
	int r;

	ASSERT_EQ(0, kvm_set_memslot(fx->vm.fd, FX_SLOT, 0, FX_GPA, 0, fx->mem))
		TH_LOG("ENCODE_CLEAR_DIRTY_LOG: cannot delete the KVM memslot");
	ASSERT_EQ(0, abi_stats(fx->xfd, &s0));
	abi_fx_touch(fx, 2, 9);
	EXPECT_ERRNO(ENOENT, abi_encode(fx->xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
					self->gpas, 2, fx->recbuf, RECBUF_SIZE, 4096,
					NULL),
		     "ENCODE_CLEAR_DIRTY_LOG: memslot deleted from KVM");
	ASSERT_EQ(0, abi_stats(fx->xfd, &s1));
	/* (the bases may go: the region no longer matches a memslot) */
	EXPECT_TRUE(abi_stats_equal(&s0, &s1, ABI_STATS_RECORDS, diff, sizeof(diff)))
		TH_LOG("ENCODE_CLEAR_DIRTY_LOG: the refused call counted records: %s",
		       diff);
	r = kvm_set_memslot(fx->vm.fd, FX_SLOT, KVM_MEM_LOG_DIRTY_PAGES, FX_GPA,
			    FX_NP * PG, fx->mem);
	if (!r)
		r = abi_region(fx->xfd, FX_SLOT, FX_GPA, FX_NP * PG, (uintptr_t)fx->mem);
	memset(fx->based, 0, sizeof(fx->based));	/* region set anew */
	ASSERT_EQ(0, r)
		TH_LOG("ENCODE_CLEAR_DIRTY_LOG: memslot and region re-added: %s",
		       errname(r));
	EXPECT_GOOD(KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, 11,
		    "ENCODE_CLEAR_DIRTY_LOG: memslot and region re-added");
}

TEST_F(flags, clear_no_dirty_log)
{
	uint64_t nolog = NOLOG_GPA;
	int r;

	self->nolog_mem = abi_map_pages(1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->nolog_mem);
	r = kvm_set_memslot(self->fx.vm.fd, NOLOG_SLOT, 0, NOLOG_GPA, PG,
			    self->nolog_mem);
	if (!r)
		r = abi_region(self->fx.xfd, NOLOG_SLOT, NOLOG_GPA, PG,
			       (uintptr_t)self->nolog_mem);
	ASSERT_EQ(0, r)
		TH_LOG("ENCODE_CLEAR_DIRTY_LOG: memslot without dirty logging: setup: %s",
		       errname(r));
	self->nolog_mem[0] = 1;
	EXPECT_ERRNO(ENOENT, abi_encode(self->fx.xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
					&nolog, 1, self->fx.recbuf, RECBUF_SIZE,
					4096, NULL),
		     "ENCODE_CLEAR_DIRTY_LOG: memslot without dirty logging");
}

TEST_F(flags, clear_dirty_ring)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING, .args[0] = 65536,
	};
	uint64_t g = FX_GPA;

	if (kvm_check_cap(KVM_CAP_DIRTY_LOG_RING) <= 0)
		SKIP(return, "KVM_CAP_DIRTY_LOG_RING not supported");
	ASSERT_EQ(0, vm_create(&self->ring, 0)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, ioctl(self->ring.fd, KVM_ENABLE_CAP, &cap))
		TH_LOG("KVM_ENABLE_CAP(DIRTY_LOG_RING): %s", strerror(errno));
	ASSERT_EQ(0, vm_add_memslot(&self->ring, 0, FX_GPA, PG))
		TH_LOG("%s", kvm_util_error());
	self->ring_xfd = xbz_open_bound(&self->ring);
	ASSERT_LE(0, self->ring_xfd) TH_LOG("%s", kvm_util_error());
	vm_gpa_to_hva(&self->ring, FX_GPA)[0] = 1;
	EXPECT_ERRNO(ENXIO, abi_encode(self->ring_xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
				       &g, 1, self->fx.recbuf, RECBUF_SIZE, 4096,
				       NULL),
		     "ENCODE_CLEAR_DIRTY_LOG: a dirty-ring VM");
}

/*
 * The generation's contract, on fixture pages 1 and 2 with content (a
 * zero page holds no base).
 */
TEST_F(flags, generation)
{
	const uint32_t gen = KVM_XBZRLE_ENCODE_GENERATION;
	struct kvm_xbzrle_caps caps = { .size = sizeof(caps) };
	uint64_t gpas[2] = { FX_GPA + PG, FX_GPA + 2 * PG };
	struct abi_enc_out out = { 1, 1 };
	int r, xfd = self->fx.xfd;
	uint8_t *buf = self->fx.recbuf;
	struct kvm_xbzrle_stats s0, s1;
	char diff[512];
	bool has;

	abi_fx_touch(&self->fx, 1, 1);
	abi_fx_touch(&self->fx, 2, 1);
	r = abi_ioctl(xfd, KVM_XBZRLE_GET_CAPS, &caps);
	has = !r && caps.capabilities & KVM_XBZRLE_CAP_GENERATION;
	EXPECT_TRUE(has)
		TH_LOG("GET_CAPS does not report KVM_XBZRLE_CAP_GENERATION (%s, capabilities 0x%llx)",
		       errname(r), (unsigned long long)caps.capabilities);

	/* with the capability the flag is valid, without it unknown */
	EXPECT_ERRNO(has ? 0 : EINVAL, abi_encode_gen(xfd, gen, 5, gpas, 1, buf, NULL),
		     "ENCODE_GENERATION, generation 5 (%s the capability)",
		     has ? "with" : "without");
	EXPECT_ERRNO(EINVAL, abi_encode_gen(xfd, 0, 5, gpas, 1, buf, NULL),
		     "ENCODE: generation 5 without ENCODE_GENERATION");
	EXPECT_ERRNO(0, abi_encode_gen(xfd, gen, 5, gpas, 1, buf, NULL),
		     "ENCODE_GENERATION: the same generation 5 again");
	ASSERT_EQ(0, abi_stats(xfd, &s0));
	r = abi_encode_gen(xfd, gen, 4, gpas, 2, buf, &out);
	ASSERT_EQ(0, abi_stats(xfd, &s1));
	EXPECT_ERRNO(EINVAL, r, "ENCODE_GENERATION: generation 4 after 5");
	EXPECT_EQ(0U, out.done);
	EXPECT_EQ(0U, out.used);
	EXPECT_TRUE(abi_stats_equal(&s0, &s1, ABI_STATS_ALL, diff, sizeof(diff)))
		TH_LOG("generation 4 after 5 changed the counters: %s", diff);
	EXPECT_ERRNO(0, abi_encode_gen(xfd, gen, 6, gpas, 2, buf, NULL),
		     "ENCODE_GENERATION: generation 6 after 5");
	EXPECT_ERRNO(0, abi_encode_gen(xfd, 0, 0, gpas, 2, buf, NULL),
		     "ENCODE without the flag after generation 6 (plain LRU)");
	EXPECT_ERRNO(EINVAL, abi_encode_gen(xfd, gen, 5, gpas, 1, buf, NULL),
		     "ENCODE_GENERATION: generation 5 after 6 and a call without the flag");
	r = abi_cache(xfd, KVM_XBZRLE_CACHE_RESET | KVM_XBZRLE_CACHE_SET_SIZE, PG, NULL);
	if (!r)
		r = abi_encode_gen(xfd, gen, 1, gpas, 1, buf, NULL);
	EXPECT_ERRNO(0, r, "ENCODE_GENERATION: generation 1 after RESET");

	/* a cache of one page, full: the second page is refused */
	r = abi_encode_gen(xfd, gen, 1, gpas, 2, buf, &out);
	ASSERT_EQ(0, abi_stats(xfd, &s1));
	EXPECT_ERRNO(0, r, "ENCODE_GENERATION: cache of one page, two pages in generation 1");
	EXPECT_EQ(2U, out.done);
	EXPECT_EQ(1ULL, s1.refused);
	EXPECT_EQ(0ULL, s1.evictions);
	EXPECT_EQ(PG, s1.cache_bytes);
}

/* GET_STATS of version 1 still works and writes only its 112 bytes. */
TEST_F(flags, stats_ver1)
{
	struct kvm_xbzrle_stats s, *s112 = (void *)self->fx.recbuf;
	uint64_t gpas[1] = { FX_GPA + PG };
	uint8_t *buf = self->fx.recbuf;
	unsigned int i;
	int r;

	/* some pages counted, a cache of one page */
	abi_fx_touch(&self->fx, 1, 1);
	ASSERT_EQ(0, abi_cache(self->fx.xfd, KVM_XBZRLE_CACHE_SET_SIZE, PG, NULL));
	ASSERT_EQ(0, abi_encode(self->fx.xfd, 0, gpas, 1, buf, RECBUF_SIZE, 4096,
				NULL));
	ASSERT_EQ(0, abi_stats(self->fx.xfd, &s));

	memset(buf, 0xa5, sizeof(*s112));
	memset(buf, 0, KVM_XBZRLE_STATS_SIZE_VER1);
	s112->size = KVM_XBZRLE_STATS_SIZE_VER1;
	r = abi_ioctl(self->fx.xfd, _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x05,
					  uint8_t[KVM_XBZRLE_STATS_SIZE_VER1]), s112);
	for (i = KVM_XBZRLE_STATS_SIZE_VER1; i < sizeof(*s112); i++)
		if (buf[i] != 0xa5)
			break;
	EXPECT_ERRNO(0, r, "GET_STATS of size VER1 (112)");
	EXPECT_EQ(sizeof(*s112), i) TH_LOG("GET_STATS of size VER1 wrote byte %u", i);
	EXPECT_EQ(s.pages, s112->pages);
	EXPECT_EQ(PG, s112->cache_size);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
