// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_region_test - KVM_XBZRLE_SET_REGION: which regions a
 * context accepts, and that a refused call leaves its regions as they
 * were.  A region must be one of its VM's KVM memslots, exactly as KVM
 * has it.
 *
 *   bad_args        unaligned gpa, size or address, a range that wraps:
 *                   EINVAL; an address in the kernel half or running into
 *                   it: EFAULT; the same before the binding's check on an
 *                   unbound context;
 *   not_a_memslot   no memslot there, or one differing in address, size
 *                   or slot id: EINVAL;
 *   overlap         a region overlapping another slot's (a memslot of
 *                   KVM's second address space, x86 SMM): EEXIST; skipped
 *                   where KVM has one address space;
 *   remove          an adjacent region is accepted and removed (size 0);
 *                   removing a slot without a region: ENOENT; the removed
 *                   region's pages are ENOENT for ENCODE;
 *   same_again      setting a slot again with the same values (as QEMU
 *                   does when KVM flags change) keeps its pages' bases;
 *   replace         a slot's region replaced by an overlapping one (the
 *                   memslot changing first) is not an overlap; the bases
 *                   go;
 *   enospc          with the max_regions parameter lowered to
 *                   KVM_XBZRLE_MAX_REGIONS, that many regions fit, one
 *                   more is ENOSPC, setting an existing one again works,
 *                   and after removing one the next fits.
 *
 * Each case but enospc ends with a valid ENCODE of fixture pages whose
 * records are checked against the model of the context's cache.  On the
 * kernel's kselftest harness; needs root for enospc (the parameter); a
 * missing module fails the set-up.  Contract: <linux/kvm_xbzrle.h>.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define AS1(id)			((1U << 16) | (id))	/* KVM's second address space */
#define MANY_FIRST		10	/* first slot of the ENOSPC case */
#define MANY_GPA		0x10000000ULL
#define NMANY			(KVM_XBZRLE_MAX_REGIONS + 1)
#define MAX_REGIONS_PARAM	"max_regions"
#define XBZ_STR2(x)		#x
#define XBZ_STR(x)		XBZ_STR2(x)

FIXTURE(region) {
	struct abi_fx fx;
	int unbound_xfd;
	/* enospc */
	struct kvm_vm vm_b;
	int b_xfd;
	uint8_t *many;
};

FIXTURE_SETUP(region)
{
	self->unbound_xfd = self->b_xfd = -1;
	self->vm_b.fd = -1;
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
	self->unbound_xfd = xbz_open();
	ASSERT_LE(0, self->unbound_xfd) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(region)
{
	/* the case's _exit() skips atexit() */
	EXPECT_EQ(0, xbz_param_restore_all()) TH_LOG("%s", kvm_util_error());
	if (self->b_xfd >= 0)
		close(self->b_xfd);
	if (self->unbound_xfd >= 0)
		close(self->unbound_xfd);
	vm_destroy(&self->vm_b);
	if (self->many)
		munmap(self->many, NMANY * PG);
	abi_fx_destroy(&self->fx);
}

/* After the case's calls, the fixture's region works: correct records. */
static void region_works(struct __test_metadata *_metadata,
			 FIXTURE_DATA(region) *self, unsigned int gen)
{
	uint64_t gpas[] = { FX_GPA, FX_GPA + 2 * PG, FX_GPA + (FX_NP - 1) * PG };
	const char *why = abi_fx_encode_good(&self->fx, 0, gpas, 3, gen);

	EXPECT_EQ(NULL, why)
		TH_LOG("SET_REGION: after the refused calls the fixture's region works (ENCODE): %s",
		       why);
}

TEST_F(region, bad_args)
{
	int xfd = self->fx.xfd, ub = self->unbound_xfd;
	uint64_t sr = (uintptr_t)self->fx.sr_mem;

	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0x800000 + 0x800, PG, sr),
		     "SET_REGION: gpa not page aligned");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0x800000, PG + 0x800, sr),
		     "SET_REGION: memory_size not page aligned");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0x800000, PG, sr + 0x10),
		     "SET_REGION: userspace_addr not page aligned");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0xfffffffffffff000ULL, 2 * PG, sr),
		     "SET_REGION: guest_phys_addr + memory_size overflows");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0x800000, 2 * PG,
					0xfffffffffffff000ULL),
		     "SET_REGION: userspace_addr + memory_size overflows");
	EXPECT_ERRNO(EFAULT, abi_region(xfd, 1, 0x800000, PG, 0xffff888000000000ULL),
		     "SET_REGION: userspace_addr in the kernel half");
	EXPECT_ERRNO(EFAULT, abi_region(xfd, 1, 0x800000, 2 * PG,
					0x7ffffffffffff000ULL),
		     "SET_REGION: userspace range running into the kernel half");

	/* Argument checks come before the binding's. */
	EXPECT_ERRNO(EINVAL, abi_region(ub, 1, 0x800000 + 0x800, PG, sr),
		     "SET_REGION on an unbound context: gpa not page aligned");
	EXPECT_ERRNO(EFAULT, abi_region(ub, 1, 0x800000, PG, 0xffff888000000000ULL),
		     "SET_REGION on an unbound context: userspace_addr in the kernel half");

	region_works(_metadata, self, 2);
}

TEST_F(region, not_a_memslot)
{
	int xfd = self->fx.xfd;
	uint64_t sr = (uintptr_t)self->fx.sr_mem, fx = (uintptr_t)self->fx.mem;

	EXPECT_ERRNO(EINVAL, abi_region(xfd, 1, 0x800000, PG, sr),
		     "SET_REGION: no memslot there");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, SR_SLOT, SR_GPA, PG, fx),
		     "SET_REGION: a memslot's slot and range, another userspace_addr");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, SR_SLOT, SR_GPA, 2 * PG, sr),
		     "SET_REGION: a memslot's slot, gpa and userspace_addr, larger memory_size");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, FX_SLOT, FX_GPA, (FX_NP - 1) * PG, fx),
		     "SET_REGION: the fixture's slot, one page short of its memslot");
	EXPECT_ERRNO(EINVAL, abi_region(xfd, 9, SR_GPA, PG, sr),
		     "SET_REGION: a memslot's range under another slot id");

	region_works(_metadata, self, 2);
}

/*
 * A KVM memslot in address space 1 over [@gpa, +@npages): its region
 * would overlap the fixture's, which KVM allows across address spaces.
 */
static void overlap_case(struct __test_metadata *_metadata,
			 FIXTURE_DATA(region) *self, uint64_t gpa,
			 unsigned int npages, uint8_t *mem, const char *what)
{
	int r = kvm_set_memslot(self->fx.vm.fd, AS1(1), 0, gpa, npages * PG, mem);

	EXPECT_EQ(0, r)
		TH_LOG("SET_REGION: %s: KVM memslot in address space 1: %s",
		       what, strerror(r));
	if (r)
		return;
	EXPECT_ERRNO(EEXIST, abi_region(self->fx.xfd, AS1(1), gpa, npages * PG,
					(uintptr_t)mem),
		     "SET_REGION: %s (slot 0x%x, a memslot of address space 1)",
		     what, AS1(1));
	kvm_set_memslot(self->fx.vm.fd, AS1(1), 0, gpa, 0, mem);
}

TEST_F(region, overlap)
{
	uint8_t *ovl;

	/*
	 * Overlaps with the fixture's slot 0 at [FX_GPA, FX_GPA + FX_NP
	 * pages).  KVM's memslots of one address space never overlap, so the
	 * other slot is a memslot of address space 1 (x86 SMM).
	 */
	if (kvm_check_cap(KVM_CAP_MULTI_ADDRESS_SPACE) < 2)
		SKIP(return, "KVM has one address space");
	ovl = abi_map_pages(FX_NP + 2, PROT_READ | PROT_WRITE);
	if (!ovl)
		SKIP(return, "mmap failed");
	overlap_case(_metadata, self, FX_GPA + (FX_NP - 1) * PG, 2, ovl,
		     "overlaps the last page of another slot's region");
	overlap_case(_metadata, self, FX_GPA - PG, FX_NP + 2, ovl,
		     "contains another slot's region");
	overlap_case(_metadata, self, FX_GPA, FX_NP, ovl,
		     "the same range as another slot");
	munmap(ovl, (FX_NP + 2) * PG);

	region_works(_metadata, self, 2);
}

TEST_F(region, remove)
{
	uint64_t gpa = FX_GPA + FX_NP * PG;
	int xfd = self->fx.xfd, r;
	uint8_t *adj;

	adj = abi_map_pages(1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, adj);
	r = kvm_set_memslot(self->fx.vm.fd, 1, 0, gpa, PG, adj);
	if (!r)
		r = abi_region(xfd, 1, gpa, PG, (uintptr_t)adj);
	EXPECT_ERRNO(0, r, "SET_REGION: adjacent to another slot's region");
	EXPECT_ERRNO(r ? ENOENT : 0, abi_region(xfd, 1, 0, 0, 0),
		     "SET_REGION: remove it (memory_size 0)");
	EXPECT_ERRNO(ENOENT, abi_region(xfd, 1, 0, 0, 0),
		     "SET_REGION: remove a slot without a region");
	EXPECT_ERRNO(ENOENT, abi_region(xfd, 77, 0, 0, 0),
		     "SET_REGION: remove a slot never used");
	EXPECT_ERRNO(ENOENT, abi_encode(xfd, 0, &gpa, 1, self->fx.recbuf,
					RECBUF_SIZE, 4096, NULL),
		     "SET_REGION: the removed region is gone (ENCODE of 0x%llx)",
		     (unsigned long long)gpa);
	kvm_set_memslot(self->fx.vm.fd, 1, 0, gpa, 0, adj);
	munmap(adj, PG);

	region_works(_metadata, self, 2);
}

TEST_F(region, same_again)
{
	uint64_t gpas[] = { FX_GPA + 2 * PG, FX_GPA + (FX_NP - 1) * PG };
	const char *why;

	/* bases for pages 0, 2 and 7 */
	region_works(_metadata, self, 2);
	/*
	 * Setting a slot again with the same values (QEMU does, when KVM
	 * flags change) keeps its pages' bases.
	 */
	EXPECT_ERRNO(0, abi_region(self->fx.xfd, FX_SLOT, FX_GPA, FX_NP * PG,
				   (uintptr_t)self->fx.mem),
		     "SET_REGION: set an existing slot again, same values");
	why = abi_fx_encode_good(&self->fx, 0, gpas, 2, 3);
	EXPECT_EQ(NULL, why)
		TH_LOG("SET_REGION: the same region again keeps its bases (deltas, not RAW): %s",
		       why);
}

/* Re-creates the fixture's KVM memslot with @npages pages. */
static int fx_memslot(FIXTURE_DATA(region) *self, unsigned int npages)
{
	int r = kvm_set_memslot(self->fx.vm.fd, FX_SLOT, 0, FX_GPA, 0,
				self->fx.mem);

	if (!r)
		r = kvm_set_memslot(self->fx.vm.fd, FX_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				    FX_GPA, npages * PG, self->fx.mem);
	return r;
}

TEST_F(region, replace)
{
	uint64_t uaddr = (uintptr_t)self->fx.mem;
	int r;

	region_works(_metadata, self, 2);
	/*
	 * Replacing a slot's region by one overlapping it is not an overlap
	 * (the memslot changes first, as QEMU would do it).
	 */
	r = fx_memslot(self, FX_NP - 1);
	if (!r)
		r = abi_region(self->fx.xfd, FX_SLOT, FX_GPA, (FX_NP - 1) * PG, uaddr);
	if (!r)
		r = fx_memslot(self, FX_NP);
	if (!r)
		r = abi_region(self->fx.xfd, FX_SLOT, FX_GPA, FX_NP * PG, uaddr);
	EXPECT_ERRNO(0, r,
		     "SET_REGION: replace a slot's region by an overlapping one, twice");
	/* a region set anew: the bases are dropped (RAW records) */
	memset(self->fx.based, 0, sizeof(self->fx.based));
	region_works(_metadata, self, 3);
}

/*
 * ENOSPC, on a context bound to another VM with one KVM memslot per
 * region.  The module's limit (KVM's user memslots by default, 32764 on
 * x86) is lowered to KVM_XBZRLE_MAX_REGIONS for it through its
 * max_regions parameter.
 */
TEST_F_TIMEOUT(region, enospc, 120)
{
	unsigned int i;
	int r;

	ASSERT_EQ(0, xbz_param_write(MAX_REGIONS_PARAM, XBZ_STR(KVM_XBZRLE_MAX_REGIONS)))
		TH_LOG("SET_REGION: ENOSPC: cannot set the module's max_regions: %s",
		       kvm_util_error());
	ASSERT_EQ(0, vm_create(&self->vm_b, 0)) TH_LOG("%s", kvm_util_error());
	self->b_xfd = xbz_open();
	ASSERT_LE(0, self->b_xfd) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, abi_bind(self->b_xfd, self->vm_b.fd));
	self->many = abi_map_pages(NMANY, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->many);
	for (i = 0, r = 0; i < NMANY && !r; i++)
		r = kvm_set_memslot(self->vm_b.fd, MANY_FIRST + i, 0,
				    MANY_GPA + i * PG, PG, self->many + i * PG);
	ASSERT_EQ(0, r)
		TH_LOG("SET_REGION: ENOSPC: cannot create the %u KVM memslots: %s",
		       NMANY, strerror(r));

	for (i = 0; i < NMANY - 1 && !r; i++)
		r = abi_region(self->b_xfd, MANY_FIRST + i, MANY_GPA + i * PG, PG,
			       (uintptr_t)(self->many + i * PG));
	EXPECT_ERRNO(0, r, "SET_REGION: %d regions accepted (region %u)",
		     KVM_XBZRLE_MAX_REGIONS, i);
	i = NMANY - 1;
	EXPECT_ERRNO(ENOSPC, abi_region(self->b_xfd, MANY_FIRST + i,
					MANY_GPA + i * PG, PG,
					(uintptr_t)(self->many + i * PG)),
		     "SET_REGION: region %d", KVM_XBZRLE_MAX_REGIONS + 1);
	EXPECT_ERRNO(0, abi_region(self->b_xfd, MANY_FIRST, MANY_GPA, PG,
				   (uintptr_t)self->many),
		     "SET_REGION: setting an existing slot again with %d regions",
		     KVM_XBZRLE_MAX_REGIONS);
	r = abi_region(self->b_xfd, MANY_FIRST + 7, 0, 0, 0);
	if (!r)
		r = abi_region(self->b_xfd, MANY_FIRST + i, MANY_GPA + i * PG, PG,
			       (uintptr_t)(self->many + i * PG));
	EXPECT_ERRNO(0, r, "SET_REGION: after removing one, region %d fits",
		     KVM_XBZRLE_MAX_REGIONS + 1);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
