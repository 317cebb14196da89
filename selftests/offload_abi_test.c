// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_test - the argument rules every kvm_xbzrle offload ioctl
 * shares (BIND, SET_REGION, ENCODE, SET_CACHE, GET_STATS): each refused
 * argument gets its documented errno and nothing else happens; the
 * context's binding, regions, cache size and counters stay as they were
 * and the next valid call works (and, for ENCODE, returns correct
 * records).
 *
 * One variant per ioctl, each with four cases:
 *
 *   sizes               size 0, below version 1, not the ioctl's size
 *                       (either way round): EINVAL; above the module's
 *                       4096 bytes with a matching ioctl size: E2BIG;
 *   flags_reserved      an unknown flag (the first, bit 31) or a non-zero
 *                       reserved field: EINVAL;
 *   unreadable          a NULL, unmapped or page-crossing argument: EFAULT;
 *   directions          the ioctl's number with another direction: ENOTTY;
 *
 * each ending with the variant's two checks that the refused calls
 * changed nothing.  The case unknown_numbers: numbers 0x07 and 0x3f of
 * the module's ioctl type are ENOTTY.
 *
 * The other behaviours of these ioctls are in offload_abi_*_test.  On the
 * kernel's kselftest harness; a missing module fails the set-up.
 * Contract: <linux/kvm_xbzrle.h>.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define MAX_ARG		4096	/* largest argument size the module accepts */
#define BIG_SIZE	8192	/* > MAX_ARG, fits the 14-bit ioctl size */

_Static_assert(sizeof(struct kvm_xbzrle_bind) == KVM_XBZRLE_BIND_SIZE_VER1, "bind");
_Static_assert(sizeof(struct kvm_xbzrle_region) == KVM_XBZRLE_REGION_SIZE_VER1, "region");
_Static_assert(sizeof(struct kvm_xbzrle_encode) == KVM_XBZRLE_ENCODE_SIZE_VER1, "encode");
_Static_assert(sizeof(struct kvm_xbzrle_cache) == KVM_XBZRLE_CACHE_SIZE_VER1, "cache");
_Static_assert(sizeof(struct kvm_xbzrle_stats) == KVM_XBZRLE_STATS_SIZE_VER4, "stats");
_Static_assert(offsetof(struct kvm_xbzrle_stats, refused) == KVM_XBZRLE_STATS_SIZE_VER1,
	       "stats VER2 appends refused");
_Static_assert(offsetof(struct kvm_xbzrle_stats, skipped) == KVM_XBZRLE_STATS_SIZE_VER2,
	       "stats VER3 appends skipped, given_back, probes");
_Static_assert(offsetof(struct kvm_xbzrle_stats, stops) == KVM_XBZRLE_STATS_SIZE_VER3,
	       "stats VER4 appends stops");

enum ioc_kind { K_BIND, K_REGION, K_ENCODE, K_CACHE, K_STATS };

struct resv {
	const char *name;
	unsigned int off;
	unsigned int len;	/* 4 or 8 */
};

FIXTURE(common) {
	struct abi_fx fx;
	struct kvm_vm vm_b;		/* BIND's VM */
	int unbound_xfd;		/* BIND, SET_CACHE and GET_STATS */
	int xfd;			/* the variant's context */
	struct kvm_xbzrle_stats before;	/* its counters before the calls */
	uint8_t argbuf[BIG_SIZE] __attribute__((aligned(4096)));
};

FIXTURE_VARIANT(common) {
	enum ioc_kind kind;
	const char *name;
	unsigned int nr;
	unsigned int dir;
	unsigned int size;
	uint32_t first_unknown_flag;
	struct resv resv[3];
	unsigned int nresv;
};

FIXTURE_VARIANT_ADD(common, bind) {
	.kind = K_BIND, .name = "BIND", .nr = 0x01, .dir = _IOC_WRITE,
	.size = KVM_XBZRLE_BIND_SIZE_VER1, .first_unknown_flag = 1U << 0,
	.resv = {
		{ "reserved0", offsetof(struct kvm_xbzrle_bind, reserved0), 4 },
		{ "reserved[0]", offsetof(struct kvm_xbzrle_bind, reserved[0]), 8 },
		{ "reserved[1]", offsetof(struct kvm_xbzrle_bind, reserved[1]), 8 },
	},
	.nresv = 3,
};

FIXTURE_VARIANT_ADD(common, set_region) {
	.kind = K_REGION, .name = "SET_REGION", .nr = 0x02, .dir = _IOC_WRITE,
	.size = KVM_XBZRLE_REGION_SIZE_VER1, .first_unknown_flag = 1U << 0,
	.resv = {
		{ "reserved0", offsetof(struct kvm_xbzrle_region, reserved0), 4 },
		{ "reserved[0]", offsetof(struct kvm_xbzrle_region, reserved[0]), 8 },
		{ "reserved[1]", offsetof(struct kvm_xbzrle_region, reserved[1]), 8 },
	},
	.nresv = 3,
};

FIXTURE_VARIANT_ADD(common, encode) {
	.kind = K_ENCODE, .name = "ENCODE", .nr = 0x03,
	.dir = _IOC_READ | _IOC_WRITE, .size = KVM_XBZRLE_ENCODE_SIZE_VER1,
	.first_unknown_flag = 1U << 2,
	.resv = {
		{ "reserved0", offsetof(struct kvm_xbzrle_encode, reserved0), 4 },
		{ "generation without ENCODE_GENERATION",
		  offsetof(struct kvm_xbzrle_encode, generation), 8 },
		{ "reserved", offsetof(struct kvm_xbzrle_encode, reserved), 8 },
	},
	.nresv = 3,
};

FIXTURE_VARIANT_ADD(common, set_cache) {
	.kind = K_CACHE, .name = "SET_CACHE", .nr = 0x04,
	.dir = _IOC_READ | _IOC_WRITE, .size = KVM_XBZRLE_CACHE_SIZE_VER1,
	.first_unknown_flag = 1U << 2,
	.resv = {
		{ "reserved[0]", offsetof(struct kvm_xbzrle_cache, reserved[0]), 8 },
		{ "reserved[1]", offsetof(struct kvm_xbzrle_cache, reserved[1]), 8 },
	},
	.nresv = 2,
};

/* the size rules of version 1, the smallest (version 2 appends refused) */
FIXTURE_VARIANT_ADD(common, get_stats) {
	.kind = K_STATS, .name = "GET_STATS", .nr = 0x05,
	.dir = _IOC_READ | _IOC_WRITE, .size = KVM_XBZRLE_STATS_SIZE_VER1,
	.first_unknown_flag = 1U << 0, .nresv = 0,
};

/* ENCODE's page: fixture page 1. */
static const uint64_t enc_gpa1 = FX_GPA + PG;

FIXTURE_SETUP(common)
{
	self->unbound_xfd = -1;
	self->vm_b.fd = -1;
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, vm_create(&self->vm_b, 0)) TH_LOG("VM B: %s", kvm_util_error());
	self->unbound_xfd = xbz_open();
	ASSERT_LE(0, self->unbound_xfd) TH_LOG("%s", kvm_util_error());

	switch (variant->kind) {
	case K_REGION:
	case K_ENCODE:
		self->xfd = self->fx.xfd;
		break;
	default:
		self->xfd = self->unbound_xfd;
		break;
	}
	/* the state the refused calls must leave alone */
	if (variant->kind == K_ENCODE || variant->kind == K_CACHE ||
	    variant->kind == K_STATS)
		ASSERT_EQ(0, abi_stats(self->xfd, &self->before));
}

FIXTURE_TEARDOWN(common)
{
	if (self->unbound_xfd >= 0)
		close(self->unbound_xfd);
	vm_destroy(&self->vm_b);
	abi_fx_destroy(&self->fx);
}

/* A valid argument of the variant's ioctl in self->argbuf (zeroed first). */
static void fill(FIXTURE_DATA(common) *self,
		 const FIXTURE_VARIANT(common) *variant)
{
	void *arg = self->argbuf;

	memset(self->argbuf, 0, sizeof(self->argbuf));
	switch (variant->kind) {
	case K_BIND: {
		struct kvm_xbzrle_bind *b = arg;

		b->size = sizeof(*b);
		b->vm_fd = self->vm_b.fd;
		break;
	}
	case K_REGION: {
		struct kvm_xbzrle_region *r = arg;

		r->size = sizeof(*r);
		r->slot = SR_SLOT;
		r->guest_phys_addr = SR_GPA;
		r->memory_size = PG;
		r->userspace_addr = (uintptr_t)self->fx.sr_mem;
		break;
	}
	case K_ENCODE: {
		struct kvm_xbzrle_encode *e = arg;

		e->size = sizeof(*e);
		e->pages = (uintptr_t)&enc_gpa1;
		e->records = (uintptr_t)self->fx.recbuf;
		e->npages = 1;
		e->records_size = 2 * REC_MAX;
		e->max_delta = 4096;
		break;
	}
	case K_CACHE: {
		struct kvm_xbzrle_cache *c = arg;

		c->size = sizeof(*c);
		c->flags = KVM_XBZRLE_CACHE_SET_SIZE;
		c->cache_size = 64 * PG;
		break;
	}
	case K_STATS:
		*(uint32_t *)arg = KVM_XBZRLE_STATS_SIZE_VER1;
		break;
	}
}

static unsigned long ioc(const FIXTURE_VARIANT(common) *variant,
			 unsigned int dir, unsigned int size)
{
	return _IOC(dir, KVM_XBZRLE_IOCTL_TYPE, variant->nr, size);
}

static const char *dir_name(unsigned int dir)
{
	switch (dir) {
	case _IOC_NONE:		return "_IO";
	case _IOC_READ:		return "_IOR";
	case _IOC_WRITE:	return "_IOW";
	default:		return "_IOWR";
	}
}

/*
 * After the refused calls, two checks: the state is as it was, and a
 * valid call of the ioctl works.
 */
static void check_unchanged(struct __test_metadata *_metadata,
		  FIXTURE_DATA(common) *self,
		  const FIXTURE_VARIANT(common) *variant)
{
	const char *name = variant->name, *why;
	struct kvm_xbzrle_stats s;
	char diff[512];
	uint64_t gpa = SR_GPA, out = 0;
	int r;

	switch (variant->kind) {
	case K_BIND:
		EXPECT_ERRNO(ENOTCONN, abi_region(self->xfd, 0, 0, PG,
						  (uintptr_t)self->fx.sr_mem),
			     "%s: after the refused calls, the context is still unbound: SET_REGION",
			     name);
		EXPECT_ERRNO(0, abi_bind(self->xfd, self->vm_b.fd),
			     "%s: a valid BIND after the refused calls", name);
		break;
	case K_REGION:
		EXPECT_ERRNO(ENOENT, abi_encode(self->xfd, 0, &gpa, 1,
						self->fx.recbuf, RECBUF_SIZE,
						4096, NULL),
			     "%s: after the refused calls, no region holds gpa 0x%llx: ENCODE",
			     name, (unsigned long long)gpa);
		EXPECT_ERRNO(0, abi_region(self->xfd, SR_SLOT, SR_GPA, PG,
					   (uintptr_t)self->fx.sr_mem),
			     "%s: a valid SET_REGION after the refused calls", name);
		break;
	case K_ENCODE:
		r = abi_stats(self->xfd, &s);
		EXPECT_EQ(0, r);
		EXPECT_TRUE(abi_stats_equal(&self->before, &s, ABI_STATS_ALL,
					    diff, sizeof(diff)))
			TH_LOG("%s: the refused calls changed the counters: %s",
			       name, diff);
		why = abi_fx_encode_good(&self->fx, 0, &enc_gpa1, 1, 1);
		EXPECT_EQ(NULL, why)
			TH_LOG("ENCODE: a valid ENCODE after the refused calls: %s",
			       why);
		break;
	case K_CACHE:
		r = abi_stats(self->xfd, &s);
		EXPECT_EQ(0, r);
		EXPECT_EQ(self->before.cache_size, s.cache_size)
			TH_LOG("%s: the refused calls changed the cache size", name);
		EXPECT_NE(64 * PG, s.cache_size);
		r = abi_cache(self->xfd, KVM_XBZRLE_CACHE_SET_SIZE, 64 * PG, &out);
		if (!r)
			r = abi_stats(self->xfd, &s);
		EXPECT_ERRNO(0, r, "%s: a valid SET_CACHE after the refused calls",
			     name);
		EXPECT_EQ(64 * PG, out);
		EXPECT_EQ(64 * PG, s.cache_size);
		break;
	case K_STATS:
		r = abi_stats(self->xfd, &s);
		EXPECT_ERRNO(0, r, "%s: a valid GET_STATS after the refused calls",
			     name);
		EXPECT_TRUE(!r && abi_stats_equal(&self->before, &s, ABI_STATS_ALL,
						  diff, sizeof(diff)))
			TH_LOG("%s: counters not as before the refused calls: %s",
			       name, diff);
		break;
	}
}

TEST_F(common, sizes)
{
	unsigned long std = ioc(variant, variant->dir, variant->size);
	const char *name = variant->name;
	uint32_t *size = (uint32_t *)self->argbuf;
	unsigned int vsize = variant->size;

	fill(self, variant);
	*size = 0;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, std, self->argbuf),
		     "%s: size 0", name);

	fill(self, variant);
	*size = vsize - 8;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, ioc(variant, variant->dir, vsize - 8),
				       self->argbuf),
		     "%s: size %u (< VER1 %u) with a matching ioctl size", name,
		     vsize - 8, vsize);

	fill(self, variant);
	*size = vsize + 8;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, std, self->argbuf),
		     "%s: size %u with ioctl size %u", name, vsize + 8, vsize);

	fill(self, variant);
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, ioc(variant, variant->dir, vsize + 8),
				       self->argbuf),
		     "%s: size %u with ioctl size %u", name, vsize, vsize + 8);

	fill(self, variant);
	*size = BIG_SIZE;
	EXPECT_ERRNO(E2BIG, abi_ioctl(self->xfd, ioc(variant, variant->dir, BIG_SIZE),
				      self->argbuf),
		     "%s: size %u (> %u) with a matching ioctl size", name,
		     BIG_SIZE, MAX_ARG);

	check_unchanged(_metadata, self, variant);
}

TEST_F(common, flags_reserved)
{
	unsigned long std = ioc(variant, variant->dir, variant->size);
	uint32_t *flags = (uint32_t *)self->argbuf + 1;
	const char *name = variant->name;
	unsigned int i;

	fill(self, variant);
	*flags |= variant->first_unknown_flag;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, std, self->argbuf),
		     "%s: unknown flag 0x%x", name, variant->first_unknown_flag);

	fill(self, variant);
	*flags |= 1U << 31;
	EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, std, self->argbuf),
		     "%s: unknown flag 0x%x", name, 1U << 31);

	for (i = 0; i < variant->nresv; i++) {
		const struct resv *rv = &variant->resv[i];
		uint32_t v4 = 1U << 31;
		uint64_t v8 = 1ULL << 40;

		fill(self, variant);
		if (rv->len == 4)
			memcpy(self->argbuf + rv->off, &v4, 4);
		else
			memcpy(self->argbuf + rv->off, &v8, 8);
		EXPECT_ERRNO(EINVAL, abi_ioctl(self->xfd, std, self->argbuf),
			     "%s: %s non-zero", name, rv->name);
	}

	check_unchanged(_metadata, self, variant);
}

TEST_F(common, unreadable)
{
	unsigned long std = ioc(variant, variant->dir, variant->size);
	const char *name = variant->name;
	uint8_t *e;

	EXPECT_ERRNO(EFAULT, abi_ioctl(self->xfd, std, NULL),
		     "%s: NULL argument", name);
	EXPECT_ERRNO(EFAULT, abi_ioctl(self->xfd, std, ABI_UNMAPPED),
		     "%s: unmapped argument", name);
	/* The size field readable, the rest in the hole after the page. */
	e = self->fx.edge + PG - 16;
	fill(self, variant);
	memcpy(e, self->argbuf, 16);
	EXPECT_ERRNO(EFAULT, abi_ioctl(self->xfd, std, e),
		     "%s: argument running into an unmapped page", name);

	check_unchanged(_metadata, self, variant);
}

TEST_F(common, directions)
{
	static const unsigned int all[] = {
		_IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE, _IOC_NONE,
	};
	unsigned int i, dir, size;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		dir = all[i];
		if (dir == variant->dir)
			continue;
		size = dir == _IOC_NONE ? 0 : variant->size;
		fill(self, variant);
		EXPECT_ERRNO(ENOTTY, abi_ioctl(self->xfd, ioc(variant, dir, size),
					       self->argbuf),
			     "%s: number 0x%02x with %s", variant->name,
			     variant->nr, dir_name(dir));
	}

	check_unchanged(_metadata, self, variant);
}

/* Unknown numbers of the module's ioctl type, on a bound context. */
FIXTURE(numbers) {
	struct abi_fx fx;
	uint8_t argbuf[64];
};

FIXTURE_SETUP(numbers)
{
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(numbers)
{
	abi_fx_destroy(&self->fx);
}

TEST_F(numbers, unknown_numbers)
{
	memset(self->argbuf, 0, sizeof(self->argbuf));
	*(uint32_t *)self->argbuf = 64;
	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->fx.xfd,
				       _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x07, char[64]),
				       self->argbuf),
		     "unknown ioctl number 0x07");
	EXPECT_ERRNO(ENOTTY, abi_ioctl(self->fx.xfd,
				       _IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x3f, char[64]),
				       self->argbuf),
		     "unknown ioctl number 0x3f");
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
