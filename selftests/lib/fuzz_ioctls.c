// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ioctls - offload_fuzz_test's calls other than ENCODE: GET_CAPS,
 * BIND, SET_REGION, SET_CACHE and GET_STATS with mutated arguments, any
 * other ioctl number, and a context closed and opened again.  Each checks
 * the module's outputs against the model and updates it.  See
 * include/fuzz_util.h.
 */
#include <string.h>
#include <sys/ioctl.h>

#include "fuzz_util.h"
#include "xbzrle_util.h"
#include "test_util.h"

/* ------------------------------- the ioctls ------------------------------- */

void do_caps(unsigned int c)
{
	struct kvm_xbzrle_caps *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct argcheck ac;
	const char *where;
	void *p;
	int w, r;

	arg_clear();
	if (chance(70)) {
		a->flags = KVM_XBZRLE_CAPS_VM_FD;
		a->vm_fd = pick_vm_fd();
	}
	if (chance(20)) {
		size = pick_size(KVM_XBZRLE_CAPS_SIZE_VER1, &ioc);
		a->size = size;
	} else {
		a->size = size;
	}
	if (chance(10))
		a->flags = rval32();
	if (chance(5))
		a->reserved[rn(4)] = rval64();
	if (chance(5))
		a->vm_fd = pick_vm_fd();
	if (chance(5)) {
		a->api_version = rval32();
		a->capabilities = rval64();
	}
	mutate_tail(argbuf, size, sizeof(*a));
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0, ioc),
		       p, where);
	if (!r && w == W_ARG) {
		ac.wlo = offsetof(struct kvm_xbzrle_caps, api_version);
		ac.whi = size < sizeof(*a) ? size : sizeof(*a);
		if (a->api_version != KVM_XBZRLE_API_VERSION ||
		    (a->capabilities & 7) != 7 ||
		    a->formats != 1ULL << KVM_XBZRLE_FORMAT_QEMU_V1 ||
		    a->page_size != PG || a->max_delta_size != PG ||
		    a->max_batch != KVM_XBZRLE_MAX_BATCH || !a->max_regions ||
		    a->reserved[0] || a->reserved[1] || a->reserved[2])
			violation(V_OUTPUT, "GET_CAPS: api %u caps 0x%llx formats 0x%llx page %u max_delta %u max_batch %u reserved %llx/%llx/%llx",
				  a->api_version,
				  (unsigned long long)a->capabilities,
				  (unsigned long long)a->formats, a->page_size,
				  a->max_delta_size, a->max_batch,
				  (unsigned long long)a->reserved[0],
				  (unsigned long long)a->reserved[1],
				  (unsigned long long)a->reserved[2]);
		/* the reserved input was zero, so writing zero there is fine */
		ac.whi = ac.whi > 48 ? 48 : ac.whi;
	}
	if (r == EFAULT)
		return;
	arg_verify(&ac, "GET_CAPS");
	if (r == 0 && w == W_ARG && a->flags & KVM_XBZRLE_CAPS_VM_FD &&
	    vm_of_fd(a->vm_fd) < 0)
		violation(V_OUTPUT, "GET_CAPS accepted vm_fd %d, not a VM of this process",
			  a->vm_fd);
}

void do_bind(unsigned int c, bool valid)
{
	struct kvm_xbzrle_bind *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r, v;

	arg_clear();
	a->size = size;
	a->vm_fd = valid ? vms[rn(NVM)].fd : pick_vm_fd();
	if (!valid) {
		if (chance(15)) {
			size = pick_size(KVM_XBZRLE_BIND_SIZE_VER1, &ioc);
			a->size = size;
		}
		if (chance(8))
			a->flags = rval32();
		if (chance(5))
			a->reserved0 = rval32();
		if (chance(5))
			a->reserved[rn(2)] = rval64();
		mutate_tail(argbuf, size, sizeof(*a));
		p = place_arg(argbuf, size, &where, &w);
	}
	valid = valid && x->vm < 0;
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 1, ioc), p,
		       where);
	arg_verify(&ac, "BIND");
	if (valid) {
		strict_calls++;
		if (r)
			violation(V_STRICT, "BIND of an unbound context to VM fd %d: %s",
				  a->vm_fd, errname(r));
	}
	if (r)
		return;
	v = vm_of_fd(a->vm_fd);
	if (x->vm >= 0)
		violation(V_OUTPUT, "BIND succeeded on a context already bound");
	if (v < 0 && w == W_ARG) {
		violation(V_OUTPUT, "BIND succeeded with vm_fd %d, not a VM of this process",
			  a->vm_fd);
		return;
	}
	if (v < 0) {
		/* bound, but we cannot tell to what: treat it as gone */
		x->vm = 0;
		x->vm_gen = 0;
		return;
	}
	x->vm = v;
	x->vm_gen = vms[v].gen;
	memset(x->reg, 0, sizeof(x->reg));
}

static void region_model_success(struct fctx *x,
				 const struct kvm_xbzrle_region *a)
{
	struct fslot *sl;

	if (!ctx_live(x))
		return;
	if (a->slot >= NSLOT) {
		if (a->memory_size)
			violation(V_OUTPUT, "SET_REGION succeeded for slot 0x%x, no memslot of ours",
				  a->slot);
		return;
	}
	if (!a->memory_size) {
		x->reg[a->slot].set = false;
		return;
	}
	sl = &vms[x->vm].slot[a->slot];
	if (!sl->used || sl->gpa != a->guest_phys_addr ||
	    sl->npages * PG != a->memory_size ||
	    (uintptr_t)sl->hva != a->userspace_addr) {
		violation(V_OUTPUT, "SET_REGION accepted slot %u gpa 0x%llx size 0x%llx hva 0x%llx: not the memslot",
			  a->slot, (unsigned long long)a->guest_phys_addr,
			  (unsigned long long)a->memory_size,
			  (unsigned long long)a->userspace_addr);
		return;
	}
	x->reg[a->slot] = (struct fregion){ true, sl->gpa, sl->npages,
					    (uintptr_t)sl->hva };
}

void do_region(unsigned int c, bool valid)
{
	struct kvm_xbzrle_region *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	int v = x->vm >= 0 && ctx_live(x) ? x->vm : (int)rn(NVM);
	unsigned int s = rn(NSLOT);
	struct fslot *sl = &vms[v].slot[s];
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r;

	arg_clear();
	a->size = size;
	a->slot = s;
	if (sl->used) {
		a->guest_phys_addr = sl->gpa;
		a->memory_size = sl->npages * PG;
		a->userspace_addr = (uintptr_t)sl->hva;
	} else {
		valid = false;
		a->guest_phys_addr = WIN_BASE + s * WIN_PAGES * PG;
		a->memory_size = rn(2) ? 0 : PG;
		a->userspace_addr = (uintptr_t)recbuf;
	}
	if (!valid) {
		switch (rn(12)) {
		case 0:
			a->slot = rn(2) ? rval32() : (1U << 16) | s;
			break;
		case 1:
			a->guest_phys_addr += (int64_t)(rn(3) - 1) * (rn(2) ? PG : 1);
			break;
		case 2:
			a->memory_size = rn(2) ? 0 : a->memory_size + (rn(2) ? PG : 1);
			break;
		case 3:
			a->userspace_addr += (int64_t)(rn(3) - 1) * (rn(2) ? PG : 1);
			break;
		case 4:
			a->guest_phys_addr = rval64();
			break;
		case 5:
			a->memory_size = rval64();
			break;
		case 6:
			a->userspace_addr = rn(2) ? rval64() : (uintptr_t)KERNEL_ADDR;
			break;
		case 7:
			/* another slot's values, or another VM's */
			sl = random_slot(rn(NVM));
			if (sl) {
				a->guest_phys_addr = sl->gpa;
				a->memory_size = sl->npages * PG;
				a->userspace_addr = (uintptr_t)sl->hva;
			}
			break;
		case 8:
			a->flags = rval32();
			break;
		case 9:
			if (rn(2))
				a->reserved0 = rval32();
			else
				a->reserved[rn(2)] = rval64();
			break;
		case 10:
			size = pick_size(KVM_XBZRLE_REGION_SIZE_VER1, &ioc);
			a->size = size;
			mutate_tail(argbuf, size, sizeof(*a));
			break;
		default:
			break;	/* as it is: maybe valid, maybe not bound */
		}
		p = place_arg(argbuf, size, &where, &w);
	}
	valid = valid && ctx_live(x);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 2, ioc), p,
		       where);
	arg_verify(&ac, "SET_REGION");
	if (valid) {
		strict_calls++;
		if (r)
			violation(V_STRICT, "SET_REGION of memslot %u as KVM has it: %s",
				  s, errname(r));
	}
	if (!r && w == W_ARG && size == sizeof(*a))
		region_model_success(x, a);
	else if (!r && ctx_live(x))
		/* from a copy we no longer have: forget what we knew */
		memset(x->reg, 0, sizeof(x->reg));
}

void do_cache(unsigned int c)
{
	struct kvm_xbzrle_cache *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	const char *where;
	uint64_t want;
	void *p;
	int w, r;

	arg_clear();
	a->size = size;
	a->flags = rn(4);
	if (a->flags & KVM_XBZRLE_CACHE_SET_SIZE) {
		switch (rn(4)) {
		case 0:
			a->cache_size = rval64();
			break;
		case 1:
			a->cache_size = max_cache_bytes != UINT64_MAX ?
					max_cache_bytes + (rn(3) - 1) * PG : 0;
			break;
		default:
			a->cache_size = rn(64) * PG + (rn(4) ? 0 : rn(PG));
		}
	} else if (chance(5)) {
		a->cache_size = rval64();
	}
	if (chance(8))
		a->flags = rval32();
	if (chance(5))
		a->reserved[rn(2)] = rval64();
	if (chance(8)) {
		size = pick_size(KVM_XBZRLE_CACHE_SIZE_VER1, &ioc);
		a->size = size;
		mutate_tail(argbuf, size, sizeof(*a));
	}
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	want = a->cache_size & ~(PG - 1);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 4, ioc),
		       p, where);
	if (r == EFAULT) {
		/* maybe done, maybe not */
		if (a->flags & KVM_XBZRLE_CACHE_RESET || w != W_ARG)
			x->records_known = false;
		x->cache_size = UINT64_MAX;
		return;
	}
	if (r) {
		arg_verify(&ac, "SET_CACHE");
		return;
	}
	if (w != W_ARG) {
		x->records_known = false;
		x->cache_size = UINT64_MAX;
		return;
	}
	ac.wlo = offsetof(struct kvm_xbzrle_cache, cache_size);
	ac.whi = offsetof(struct kvm_xbzrle_cache, reserved);
	arg_verify(&ac, "SET_CACHE");
	if (a->flags & KVM_XBZRLE_CACHE_RESET) {
		/* no base left: the destination model starts again */
		x->records = 0;
		x->records_known = true;
		x->dest_lost = false;
		memset(x->dvalid, 0, sizeof(x->dvalid));
	}
	if (a->flags & KVM_XBZRLE_CACHE_SET_SIZE) {
		if (a->cache_size != want)
			violation(V_OUTPUT, "SET_CACHE to %llu: %llu in effect",
				  (unsigned long long)want,
				  (unsigned long long)a->cache_size);
		x->cache_size = want;
	} else if (x->cache_size != UINT64_MAX && a->cache_size != x->cache_size) {
		violation(V_OUTPUT, "SET_CACHE without SET_SIZE: %llu in effect, %llu set",
			  (unsigned long long)a->cache_size,
			  (unsigned long long)x->cache_size);
	}
	x->cache_size = a->cache_size;
}

void do_stats(unsigned int c)
{
	struct kvm_xbzrle_stats *a = (void *)argbuf;
	uint32_t ioc = sizeof(*a), size = sizeof(*a);
	struct fctx *x = &ctxs[c];
	struct argcheck ac;
	char str[512];
	const char *where;
	void *p;
	int w, r;

	arg_clear();
	a->size = size;
	if (chance(5))
		a->flags = rval32();
	if (chance(10))
		a->pages = rval64();	/* out fields are ignored on input */
	if (chance(10)) {
		size = pick_size(KVM_XBZRLE_STATS_SIZE_VER1, &ioc);
		a->size = size;
		mutate_tail(argbuf, size, sizeof(*a));
	}
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 5, ioc),
		       p, where);
	if (r == EFAULT || (!r && w != W_ARG))
		return;
	if (!r) {
		ac.wlo = offsetof(struct kvm_xbzrle_stats, pages);
		ac.whi = size < sizeof(*a) ? size : sizeof(*a);
	}
	arg_verify(&ac, "GET_STATS");
	if (r || size < sizeof(*a))
		return;
	if (a->pages != a->zero_pages + a->unchanged_pages + a->xbzrle_pages +
			a->raw_pages ||
	    a->cache_hits + a->cache_misses != a->pages - a->zero_pages ||
	    a->raw_pages != a->cache_misses + a->overflows ||
	    a->cache_bytes > a->cache_size || a->cache_bytes % PG ||
	    (x->records_known && a->pages != x->records) ||
	    (x->cache_size != UINT64_MAX && a->cache_size != x->cache_size))
		violation(V_OUTPUT, "GET_STATS: %s (records seen %llu%s, cache size set %llu)",
			  xbz_stats_str(a, str, sizeof(str)),
			  (unsigned long long)x->records,
			  x->records_known ? "" : ", unknown",
			  (unsigned long long)x->cache_size);
	x->cache_size = a->cache_size;
}

/* Any number: mostly type 0xBD, all directions and sizes. */
void do_random_ioctl(unsigned int c)
{
	static const unsigned int types[] = { 0xAE, 0xBA, 0xBC, 0xBE, 0xFF, 0x01 };
	unsigned int dir = rn(4), nr = rn(8) ? rn(8) : rn(256);
	unsigned int size = rn(4) ? rn(0x3fff + 1) : rn(200);
	unsigned int type = rn(10) ? KVM_XBZRLE_IOCTL_TYPE : types[rn(ARRAY_SIZE(types))];
	unsigned long cmd = _IOC(dir, type, nr, size);
	uint32_t *a = (uint32_t *)argbuf;
	struct argcheck ac;
	const char *where;
	unsigned int i;
	void *p;
	int w, r, kind = ioctl_kind(cmd);

	arg_clear();
	/* mostly zeros, some random words, a size that may match */
	for (i = 0; i < 32; i++)
		if (chance(10))
			a[i] = rval32();
	a[0] = rn(3) ? size : rval32();
	if (rn(2))
		a[1] = 0;
	/* never a record buffer in our own memory */
	a[4] = a[5] = 0;
	p = place_arg(argbuf, size, &where, &w);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	if (kind == H_ENCODE) {
		ac.wlo = offsetof(struct kvm_xbzrle_encode, npages_done);
		ac.whi = offsetof(struct kvm_xbzrle_encode, reserved0);
	}
	r = fuzz_ioctl(c, cmd, p, where);
	if (kind == H_OTHER || kind == H_BIND || kind == H_REGION ||
	    (r && r != EFAULT))
		arg_verify(&ac, "random number");
	if (!r && kind == H_BIND) {
		int v = vm_of_fd((int)a[2]);

		if (v < 0 && w == W_ARG)
			violation(V_OUTPUT, "BIND succeeded with vm_fd %d, not a VM of this process",
				  (int)a[2]);
		ctxs[c].vm = v < 0 ? 0 : v;
		ctxs[c].vm_gen = v < 0 ? 0 : vms[v].gen;
		memset(ctxs[c].reg, 0, sizeof(ctxs[c].reg));
	}
	if (!r && kind == H_REGION && ctx_live(&ctxs[c]))
		memset(ctxs[c].reg, 0, sizeof(ctxs[c].reg));
	if (!r && (kind == H_ENCODE || kind == H_CACHE || kind == H_INVALIDATE)) {
		ctxs[c].dest_lost = true;
		ctxs[c].records_known = false;
		ctxs[c].cache_size = UINT64_MAX;
	}
}

/* Opens a context again, maybe bound with all its VM's memslots. */
void do_reopen(unsigned int c)
{
	unsigned int s;

	ctx_close(c);
	ctx_open(c);
	if (chance(30))
		return;
	do_bind(c, true);
	for (s = 0; s < NSLOT; s++)
		if (ctxs[c].vm >= 0 && vms[ctxs[c].vm].slot[s].used) {
			/* do_region picks a random slot: call the valid one directly */
			struct kvm_xbzrle_region *a = (void *)argbuf;
			struct fslot *sl = &vms[ctxs[c].vm].slot[s];
			int r;

			arg_clear();
			a->size = sizeof(*a);
			a->slot = s;
			a->guest_phys_addr = sl->gpa;
			a->memory_size = sl->npages * PG;
			a->userspace_addr = (uintptr_t)sl->hva;
			r = fuzz_ioctl(c, KVM_XBZRLE_SET_REGION, argbuf, "argbuf");
			strict_calls++;
			if (r)
				violation(V_STRICT, "SET_REGION of memslot %u after BIND: %s",
					  s, errname(r));
			else
				region_model_success(&ctxs[c], a);
		}
}
