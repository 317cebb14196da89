// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency_threads - the threads of the offload_concurrency_*_test
 * selftests that call the module, each with its sender (the record
 * buffer, the check and application of every call's records): the owners
 * of A1, A2 and B, A1/hotplug, lifecycle, and the cache thread; what they
 * do is described in include/concurrency_util.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "concurrency_internal.h"
#include "util_internal.h"
#include "xbzrle_util.h"

/* -------------------------------- senders --------------------------------- */

int conc_sender_init(struct sender *s, struct conc_run *r, const char *name,
		     int xfd, xbz_dest_page_fn fn, void *dest)
{
	memset(s, 0, sizeof(*s));
	s->run = r;
	s->name = name;
	s->xfd = xfd;
	s->dest_page = fn;
	s->dest = dest;
	s->records = aligned_alloc(PAGE, REC_PAGES * REC_MAX);
	return s->records ? 0 : fail_errno("aligned_alloc");
}

/*
 * Sends @gpas[0..n) in as many calls as it takes; checks and applies each
 * call's records to the destination (see the header).
 */
static int send_pages(struct sender *s, const uint64_t *gpas, uint32_t n,
		      uint32_t flags)
{
	static __thread uint8_t scratch[2 * PAGE];
	struct xbz_encode_result res;
	uint32_t done = 0;

	while (done < n) {
		if (xbz_encode(s->xfd, flags, gpas + done, n - done, s->records,
			       REC_PAGES * REC_MAX, PAGE, &res))
			return fail_why(s, "after %u of %u pages: %s", done, n,
					kvm_util_error());
		s->calls++;
		if (!res.npages_done)
			return fail_why(s, "ENCODE did no page of %u", n - done);
		if (xbz_check_apply_call(s->records, res.records_used,
					 gpas + done, res.npages_done,
					 s->dest_page, s->dest, scratch, &s->got))
			return fail_why(s, "%s", kvm_util_error());
		s->pages += res.npages_done;
		done += res.npages_done;
	}
	return 0;
}

/* The gpas of the code and data slots (owned pages: @mod/@rem of the index). */
static uint32_t owned_pages(uint64_t *gpas, unsigned int mod, unsigned int rem)
{
	uint64_t i, n = 0, idx = 0;

	for (i = 0; i < CODE_SIZE / PAGE; i++, idx++)
		if (idx % mod == rem)
			gpas[n++] = CODE_GPA + i * PAGE;
	for (i = 0; i < DATA_PAGES; i++, idx++)
		if (idx % mod == rem)
			gpas[n++] = DATA_GPA + i * PAGE;
	return n;
}

/* Dirty pages of the code and data slots that this owner has. */
static int owned_dirty(struct kvm_vm *vm, uint64_t *gpas, unsigned int mod,
		       unsigned int rem)
{
	static const struct { uint32_t slot; uint64_t gpa, size; } slots[] = {
		{ CODE_SLOT, CODE_GPA, CODE_SIZE },
		{ DATA_SLOT, DATA_GPA, DATA_SIZE },
	};
	uint64_t bitmap[DATA_PAGES / 64];
	uint64_t p, idx = 0;
	unsigned int k;
	int n = 0;

	for (k = 0; k < 2; k++) {
		uint64_t np = slots[k].size / PAGE;

		memset(bitmap, 0, sizeof(bitmap));
		if (vm_get_dirty_log(vm, slots[k].slot, bitmap))
			return -1;
		for (p = 0; p < np; p++, idx++)
			if (idx % mod == rem &&
			    bitmap[p / 64] & (1ULL << (p % 64)))
				gpas[n++] = slots[k].gpa + p * PAGE;
	}
	return n;
}

/* ------------------------------- owners ----------------------------------- */

/* The owner's pages of this round: all of them, or the dirty ones. */
static int owner_round_pages(struct owner *o)
{
	int n = o->full ? (int)owned_pages(o->gpas, o->mod, o->rem)
			: owned_dirty(&o->g->vm, o->gpas, o->mod, o->rem);

	if (n < 0)
		fail_why(&o->s, "%s", kvm_util_error());
	return n;
}

void *conc_owner_thread(void *arg)
{
	struct owner *o = arg;
	struct conc_run *r = o->s.run;
	const uint32_t flags = o->full ? 0 : KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
	struct tinfo *ti = conc_treg(r, o->s.name);
	int n;

	ti->phase = "round0";
	/* round 0: every owned page */
	n = owned_pages(o->gpas, o->mod, o->rem);
	if (send_pages(&o->s, o->gpas, n, flags))
		return NULL;
	o->rounds = 1;
	ti->phase = "rounds";
	while (!atomic_load(&r->stop_run)) {
		n = owner_round_pages(o);
		if (n < 0 || send_pages(&o->s, o->gpas, n, flags))
			return NULL;
		if (n)
			__atomic_add_fetch(&o->rounds, 1, __ATOMIC_RELAXED);
		else
			sleep_ms(1);	/* nothing dirty yet: let the others run */
	}
	/* the last round, with the guest stopped */
	ti->phase = "wait-vcpus";
	while (!atomic_load(&r->vcpus_stopped))
		sleep_ms(1);
	ti->phase = "last";
	n = owner_round_pages(o);
	if (n >= 0)
		send_pages(&o->s, o->gpas, n, flags);
	ti->phase = "done";
	return NULL;
}

/* ------------------------------- hotplug ---------------------------------- */

uint8_t *conc_dest_of_hot(void *opaque, uint64_t gpa)
{
	struct hotplug *h = opaque;

	if (gpa < HOT_GPA || gpa - HOT_GPA >= HOT_SIZE)
		return NULL;
	return h->dest + (gpa - HOT_GPA);
}

static int hot_memslot(struct hotplug *h, uint8_t *mem, uint64_t size)
{
	int e = kvm_set_memslot(h->vm->fd, HOT_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				HOT_GPA, size, mem);

	if (e)
		return fail_why(&h->s, "KVM_SET_USER_MEMORY_REGION slot %u size %llu: %s",
				HOT_SLOT, (unsigned long long)size, strerror(e));
	return 0;
}

static uint8_t *hot_map(unsigned int seed)
{
	uint8_t *mem = mmap(NULL, HOT_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (mem == MAP_FAILED)
		return NULL;
	for (i = 0; i < HOT_PAGES; i++)
		if (i % 8 != 7)	/* some pages stay zero */
			fill_random(mem + i * PAGE, PAGE, &seed);
	return mem;
}

/* Adds the slot again, with memory @h->mem, to KVM and to the context. */
static int hot_add(struct hotplug *h)
{
	if (!h->mem)
		return fail_why(&h->s, "mmap: %s", strerror(errno));
	if (hot_memslot(h, h->mem, HOT_SIZE))
		return -1;
	h->present = true;
	if (xbz_set_region(h->s.xfd, HOT_SLOT, HOT_GPA, HOT_SIZE, h->mem))
		return fail_why(&h->s, "%s", kvm_util_error());
	return 0;
}

/* Sends every page of the slot, then compares: only this thread writes it. */
static int hot_send(struct hotplug *h, uint32_t flags)
{
	unsigned int i;

	if (send_pages(&h->s, h->gpas, HOT_PAGES, flags))
		return -1;
	for (i = 0; i < HOT_PAGES; i++)
		if (memcmp(h->dest + i * PAGE, h->mem + i * PAGE, PAGE))
			return fail_why(&h->s, "cycle %u: destination page 0x%llx differs from memory after a send",
					h->cycles,
					(unsigned long long)(HOT_GPA + i * PAGE));
	h->compares++;
	return 0;
}

/* Removes the slot and adds it again, the way @h->cycles says. */
static int hot_replug(struct hotplug *h, unsigned int *seed)
{
	uint8_t *old;

	h->present = false;
	switch (h->cycles % 3) {
	case 0:	/* as QEMU does: the region first, then the memslot */
		if (xbz_set_region(h->s.xfd, HOT_SLOT, HOT_GPA, 0, NULL))
			return fail_why(&h->s, "%s", kvm_util_error());
		if (hot_memslot(h, NULL, 0))
			return -1;
		munmap(h->mem, HOT_SIZE);
		h->mem = hot_map((*seed)++);
		memset(h->dest, 0, sizeof(h->dest));
		h->removed_explicitly++;
		break;
	case 1:	/* memslot only: other memory, the module must notice */
		if (hot_memslot(h, NULL, 0))
			return -1;
		old = h->mem;
		h->mem = hot_map((*seed)++);	/* another address */
		munmap(old, HOT_SIZE);
		memset(h->dest, 0, sizeof(h->dest));
		h->dropped_by_check++;
		break;
	default: /* the same memory again: bases may stay */
		if (hot_memslot(h, NULL, 0))
			return -1;
		h->readded_same++;
		break;
	}
	return hot_add(h);
}

void *conc_hotplug_thread(void *arg)
{
	struct hotplug *h = arg;
	struct conc_run *r = h->s.run;
	struct tinfo *ti = conc_treg(r, "A1/hotplug");
	unsigned int i, seed = 77;

	for (i = 0; i < HOT_PAGES; i++)
		h->gpas[i] = HOT_GPA + i * PAGE;
	h->mem = hot_map(seed++);
	if (hot_add(h))
		return NULL;
	for (;;) {
		/* two sends: the second one has deltas, if nothing dropped them */
		ti->phase = "send";
		if (hot_send(h, h->cycles % 2 ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0))
			return NULL;
		for (i = 0; i < HOT_PAGES; i += 3)
			h->mem[i * PAGE + (h->cycles * 37) % PAGE] ^= 0xa5;
		if (hot_send(h, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG))
			return NULL;
		if (atomic_load(&r->stop_run))
			break;	/* end with the slot present and sent */
		/* remove and add again, three ways */
		ti->phase = "memslot";
		if (hot_replug(h, &seed))
			return NULL;
		h->cycles++;
	}
	h->cycles++;
	ti->phase = "done";
	return NULL;
}

/* ------------------------------ lifecycle --------------------------------- */

static int lifecycle_scratch_vm(struct lifecycle *l)
{
	struct xbz_encode_result res;
	struct kvm_xbzrle_stats st;
	struct kvm_vm c;
	uint64_t gpa = 0;
	int xfd, r = -1;

	if (vm_create(&c, 0) || vm_add_memslot(&c, 0, 0, 16 * PAGE)) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		vm_destroy(&c);
		return -1;
	}
	vm_gpa_to_hva(&c, 0)[0] = 1;
	xfd = xbz_open_bound(&c);
	if (xfd < 0) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		vm_destroy(&c);
		return -1;
	}
	l->opened++;
	if (xbz_encode(xfd, 0, &gpa, 1, l->s.records, REC_PAGES * REC_MAX,
		       PAGE, &res)) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		goto out;
	}
	/* the context now holds the VM file's last reference */
	close(c.fd);
	c.fd = -1;
	if (!xbz_encode(xfd, 0, &gpa, 1, l->s.records, REC_PAGES * REC_MAX,
			PAGE, &res) || errno != ENODEV) {
		fail_why(&l->s, "ENCODE after the VM's last fd was closed: %s, expected ENODEV",
			 errname(errno));
		goto out;
	}
	if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 8 * PAGE, NULL) ||
	    xbz_get_stats(xfd, &st)) {
		fail_why(&l->s, "SET_CACHE/GET_STATS after ENODEV: %s",
			 kvm_util_error());
		goto out;
	}
	l->enodev++;
	r = 0;
out:
	close(xfd);
	vm_destroy(&c);
	return r;
}

/* One short-lived context on VM B: opened, used and closed.  0 or -1. */
static int lifecycle_context(struct lifecycle *l, unsigned int it,
			     struct tinfo *ti)
{
	unsigned int i, first;
	int xfd, r = -1;

	ti->phase = "open";
	xfd = xbz_open_bound(l->vm);
	if (xfd < 0)
		return fail_why(&l->s, "%s", kvm_util_error());
	l->opened++;
	ti->phase = "send";
	l->s.xfd = xfd;
	for (i = 0; i < l->dest.nslots; i++)
		memset(l->dest.slots[i].mem, 0, l->dest.slots[i].size);
	if (it % 2 &&
	    xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 32 * PAGE, NULL)) {
		fail_why(&l->s, "%s", kvm_util_error());
		goto out;
	}
	/* 128 data pages, twice: RAW, then deltas (the guest runs) */
	first = (it * 128) % DATA_PAGES;
	for (i = 0; i < 128; i++)
		l->gpas[i] = DATA_GPA + ((first + i) % DATA_PAGES) * PAGE;
	if (send_pages(&l->s, l->gpas, 128, 0) ||
	    send_pages(&l->s, l->gpas, 128, 0))
		goto out;
	r = 0;
out:
	/* closed with its cache full, while the shrinker may run */
	ti->phase = "close";
	close(xfd);
	return r;
}

void *conc_lifecycle_thread(void *arg)
{
	struct lifecycle *l = arg;
	struct conc_run *r = l->s.run;
	struct tinfo *ti = conc_treg(r, "lifecycle");
	unsigned int it;

	for (it = 0; !atomic_load(&r->stop_run); it++) {
		if (it % 4 == 1) {
			ti->phase = "scratch";
			if (lifecycle_scratch_vm(l))
				return NULL;
		} else if (lifecycle_context(l, it, ti)) {
			return NULL;
		}
	}
	ti->phase = "done";
	return NULL;
}

/* -------------------------------- cache ----------------------------------- */

void *conc_cache_thread(void *arg)
{
	static const uint64_t sizes[] = {
		0, 16 * PAGE, 256 * 1024, 1 << 20, 100 * PAGE + 123,
		DEFAULT_CACHE,
	};
	struct cacher *c = arg;
	struct tinfo *ti = conc_treg(c->run, "cache");
	struct kvm_xbzrle_stats st;
	unsigned int it = 0, k;
	uint64_t eff;

	while (!atomic_load(&c->run->stop_run)) {
		int xfd = c->xfds[it % 3];
		uint64_t want = sizes[(it / 3) % ARRAY_SIZE(sizes)];

		ti->phase = "setcache";
		if (it % 7 == 6) {
			if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL))
				goto fail;
			c->resets++;
		} else {
			if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, want, &eff))
				goto fail;
			if (eff != want / PAGE * PAGE) {
				snprintf(c->why, sizeof(c->why),
					 "SET_CACHE %llu: %llu in effect",
					 (unsigned long long)want,
					 (unsigned long long)eff);
				return NULL;
			}
			c->set_size++;
		}
		if (it % 10 == 9) {
			ti->phase = "drop_caches";
			if (drop_caches()) {
				snprintf(c->why, sizeof(c->why),
					 "drop_caches: %s", strerror(errno));
				return NULL;
			}
			c->drops++;
		}
		for (k = 0; k < 3; k++) {
			if (xbz_get_stats(c->xfds[k], &st))
				goto fail;
			c->samples++;
			if (st.cache_bytes > st.cache_size ||
			    st.cache_bytes % PAGE) {
				snprintf(c->why, sizeof(c->why),
					 "context %u: cache_bytes %llu, cache_size %llu",
					 k, (unsigned long long)st.cache_bytes,
					 (unsigned long long)st.cache_size);
				return NULL;
			}
		}
		it++;
		sleep_ms(3 + it % 7);
	}
	/* the default size again for the last rounds */
	ti->phase = "final";
	for (k = 0; k < 3; k++)
		if (xbz_set_cache(c->xfds[k], KVM_XBZRLE_CACHE_SET_SIZE,
				  DEFAULT_CACHE, NULL))
			goto fail;
	ti->phase = "done";
	return NULL;
fail:
	snprintf(c->why, sizeof(c->why), "%s", kvm_util_error());
	return NULL;
}
