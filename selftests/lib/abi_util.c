// SPDX-License-Identifier: GPL-2.0
/*
 * abi_util - the fixture, ioctl wrappers and record check of the
 * offload_abi*_test selftests.  See include/abi_util.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_util.h"
#include "xbzrle_util.h"
#include "util_internal.h"

void *abi_map_pages(size_t n, int prot)
{
	void *p = mmap(NULL, n * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

bool abi_maps_has(const void *addr)
{
	unsigned long a = (uintptr_t)addr, lo, hi;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi)
			found = true;
	fclose(f);
	return found;
}

/* ------------------------------ ioctl wrappers ---------------------------- */

int abi_ioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	errno = 0;
	r = ioctl(fd, cmd, arg);
	if (r == 0)
		return 0;
	return r < 0 ? errno : -1;
}

int abi_bind(int xfd, int vm_fd)
{
	struct kvm_xbzrle_bind b = { .size = sizeof(b), .vm_fd = vm_fd };

	return abi_ioctl(xfd, KVM_XBZRLE_BIND, &b);
}

int abi_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
	       uint64_t uaddr)
{
	struct kvm_xbzrle_region r = {
		.size = sizeof(r), .slot = slot, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = uaddr,
	};

	return abi_ioctl(xfd, KVM_XBZRLE_SET_REGION, &r);
}

int abi_encode(int xfd, uint32_t flags, const void *pages, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct abi_enc_out *out)
{
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .flags = flags,
		.pages = (uintptr_t)pages, .records = (uintptr_t)records,
		.npages = npages, .records_size = records_size,
		.max_delta = max_delta,
	};
	int r = abi_ioctl(xfd, KVM_XBZRLE_ENCODE, &e);

	if (out) {
		out->done = e.npages_done;
		out->used = e.records_used;
	}
	return r;
}

int abi_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *recbuf,
		   struct abi_enc_out *out)
{
	struct kvm_xbzrle_encode e = {
		.size = sizeof(e), .flags = flags,
		.pages = (uintptr_t)gpas, .records = (uintptr_t)recbuf,
		.npages = npages, .records_size = RECBUF_SIZE,
		.max_delta = 4096, .generation = generation,
	};
	int r = abi_ioctl(xfd, KVM_XBZRLE_ENCODE, &e);

	if (out) {
		out->done = e.npages_done;
		out->used = e.records_used;
	}
	return r;
}

int abi_stats(int xfd, struct kvm_xbzrle_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return abi_ioctl(xfd, KVM_XBZRLE_GET_STATS, s);
}

int abi_cache(int xfd, uint32_t flags, uint64_t size, uint64_t *out)
{
	struct kvm_xbzrle_cache c = {
		.size = sizeof(c), .flags = flags, .cache_size = size,
	};
	int r = abi_ioctl(xfd, KVM_XBZRLE_SET_CACHE, &c);

	if (out)
		*out = c.cache_size;
	return r;
}

bool abi_stats_equal(const struct kvm_xbzrle_stats *a,
		     const struct kvm_xbzrle_stats *b, unsigned int n,
		     char *diff, size_t len)
{
	const __u64 *x = &a->pages, *y = &b->pages;
	size_t at = 0;
	bool same = true;
	unsigned int i;

	if (len)
		diff[0] = '\0';
	for (i = 0; i < n && i < ABI_STATS_ALL; i++) {
		if (x[i] == y[i])
			continue;
		same = false;
		if (at < len)
			at += snprintf(diff + at, len - at, "%s%s: %llu -> %llu",
				       at ? "; " : "", xbz_stats_names[i],
				       (unsigned long long)x[i],
				       (unsigned long long)y[i]);
	}
	return same;
}

/* -------------------------------- the fixture ----------------------------- */

int abi_fx_init(struct abi_fx *fx)
{
	struct kvm_xbzrle_caps caps;
	int r;

	fx->xfd = -1;
	fx->vm.fd = -1;
	/* the module is what is tested: its absence is a failure */
	if (xbz_check_offload(&caps))
		return -1;
	fx->recbuf = abi_map_pages(RECBUF_SIZE / PG + 1, PROT_READ | PROT_WRITE);
	fx->ro_buf = abi_map_pages(3, PROT_READ);
	fx->sr_mem = abi_map_pages(1, PROT_READ | PROT_WRITE);
	fx->gone_mem = abi_map_pages(2, PROT_READ | PROT_WRITE);
	fx->edge = abi_map_pages(2, PROT_READ | PROT_WRITE);
	if (!fx->recbuf || !fx->ro_buf || !fx->sr_mem || !fx->gone_mem ||
	    !fx->edge || mprotect(fx->edge + PG, PG, PROT_NONE))
		return fail_errno("mmap");
	if (abi_maps_has(ABI_UNMAPPED))
		return fail("address %p is mapped", ABI_UNMAPPED);

	if (vm_create(&fx->vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&fx->vm, FX_SLOT, FX_GPA, FX_NP * PG))
		return -1;
	fx->mem = vm_gpa_to_hva(&fx->vm, FX_GPA);
	if (xbz_dest_init(&fx->dest, &fx->vm))
		return -1;
	fx->xfd = xbz_open();
	if (fx->xfd < 0)
		return -1;
	/* every region is a KVM memslot, as the contract has it */
	r = kvm_set_memslot(fx->vm.fd, GONE_SLOT, 0, GONE_GPA, 2 * PG,
			    fx->gone_mem);
	if (!r)
		r = kvm_set_memslot(fx->vm.fd, SR_SLOT, 0, SR_GPA, PG, fx->sr_mem);
	if (r)
		return fail("KVM memslots: %s", strerror(r));
	r = abi_bind(fx->xfd, fx->vm.fd);
	if (!r)
		r = abi_region(fx->xfd, FX_SLOT, FX_GPA, FX_NP * PG,
			       (uintptr_t)fx->mem);
	if (!r)
		r = abi_region(fx->xfd, GONE_SLOT, GONE_GPA, 2 * PG,
			       (uintptr_t)fx->gone_mem);
	if (r)
		return fail("binding the fixture context: %s", errname(r));
	return 0;
}

void abi_fx_destroy(struct abi_fx *fx)
{
	if (fx->xfd >= 0)
		close(fx->xfd);
	fx->xfd = -1;
	xbz_dest_free(&fx->dest);
	vm_destroy(&fx->vm);
	if (fx->gone_mem)
		munmap(fx->gone_mem, 2 * PG);
	if (fx->edge)
		munmap(fx->edge, 2 * PG);
	if (fx->sr_mem)
		munmap(fx->sr_mem, PG);
	if (fx->ro_buf)
		munmap(fx->ro_buf, 3 * PG);
	if (fx->recbuf)
		munmap(fx->recbuf, RECBUF_SIZE + PG);
}

/* ------------------------------ record checks ----------------------------- */

int abi_fx_index(uint64_t gpa)
{
	if (gpa < FX_GPA || gpa >= FX_GPA + FX_NP * PG || gpa % PG)
		return -1;
	return (gpa - FX_GPA) / PG;
}

void abi_fx_touch(struct abi_fx *fx, unsigned int idx, unsigned int gen)
{
	uint8_t *p = fx->mem + idx * PG;
	unsigned int i;

	if (idx == 0)
		return;
	if (page_is_zero(p, PG)) {
		for (i = 0; i < PG; i++)
			p[i] = (uint8_t)(i * 7 + idx * 13 + 1);
		return;
	}
	for (i = 0; i < 16; i++)
		p[(gen * 97 + i * 251) % PG] ^= (uint8_t)(0x5a + gen + i);
}

struct rec_check {
	struct abi_fx *fx;
	const uint64_t *gpas;	/* the pages asked for, in order */
	unsigned int n;		/* records expected */
	unsigned int i;		/* records seen */
	uint32_t max_delta;
	char why[200];
};

/* Records why a record is wrong; the walk stops with -100. */
#define bad(c, ...)	(set_why((c)->why, sizeof((c)->why), __VA_ARGS__), -100)

/*
 * One record of the fixture against the model: its gpa is the next one
 * asked for, and the oracle of records.c finds it right for the page
 * (unchanged during the call, so the record must give it) and for whether
 * the context holds a base (the destination's page): type, an XBZRLE
 * delta byte-identical to the project's encoder, a RAW only if the delta
 * does not fit.
 */
static int check_fx_record(const struct xbz_record *rec, const uint8_t *base,
			   void *opaque)
{
	static uint8_t page[PG], scratch[2 * PG];
	struct rec_check *c = opaque;
	struct xbz_expect exp = { .max_delta = c->max_delta };
	int idx;

	if (c->i >= c->n)
		return bad(c, "more records than pages done (%u)", c->n);
	if (rec->gpa != c->gpas[c->i])
		return bad(c, "record %u: gpa 0x%" PRIx64 ", expected 0x%" PRIx64,
			   c->i, (uint64_t)rec->gpa, (uint64_t)c->gpas[c->i]);
	idx = abi_fx_index(rec->gpa);
	if (idx < 0)
		return bad(c, "record %u: gpa 0x%" PRIx64 " not a fixture page",
			   c->i, (uint64_t)rec->gpa);
	exp.base = c->fx->based[idx] ? XBZ_BASE_HELD : XBZ_BASE_NONE;
	exp.snapshot = c->fx->mem + idx * PG;
	/* xbz_walk_records() applies the record itself: check a copy. */
	memcpy(page, base, PG);
	if (xbz_check_apply_record(rec, page, scratch, &exp))
		return bad(c, "record %u: %s", c->i, kvm_util_error());
	c->i++;
	return 0;
}

const char *abi_fx_records_bad(struct abi_fx *fx, const uint64_t *gpas,
			       uint32_t done, const void *buf, uint32_t used,
			       uint32_t max_delta)
{
	static char why[256];
	struct rec_check c = {
		.fx = fx, .gpas = gpas, .n = done, .max_delta = max_delta,
	};
	uint32_t i;
	int r;

	r = xbz_walk_records(&fx->dest, buf, used, check_fx_record, &c);
	if (r == -100) {
		snprintf(why, sizeof(why), "%s", c.why);
		return why;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", kvm_util_error());
		return why;
	}
	if ((uint32_t)r != done) {
		snprintf(why, sizeof(why), "%d records for %u pages done", r, done);
		return why;
	}
	for (i = 0; i < done; i++) {
		int idx = abi_fx_index(gpas[i]);

		fx->based[idx] = true;
		if (memcmp(xbz_dest_page(&fx->dest, gpas[i]), fx->mem + idx * PG,
			   PG)) {
			snprintf(why, sizeof(why),
				 "destination page 0x%" PRIx64 " differs after applying the records",
				 gpas[i]);
			return why;
		}
	}
	return NULL;
}

const char *abi_fx_encode_good(struct abi_fx *fx, uint32_t flags,
			       const uint64_t *gpas, uint32_t n,
			       unsigned int gen)
{
	static char why[256];
	struct kvm_xbzrle_stats s0, s1;
	struct abi_enc_out out;
	const char *bad;
	uint32_t i;
	int r;

	for (i = 0; i < n; i++)
		abi_fx_touch(fx, abi_fx_index(gpas[i]), gen);
	if (abi_stats(fx->xfd, &s0))
		return "GET_STATS failed";
	r = abi_encode(fx->xfd, flags, gpas, n, fx->recbuf, RECBUF_SIZE, 4096,
		       &out);
	if (r) {
		snprintf(why, sizeof(why), "ENCODE failed: %s", errname(r));
		return why;
	}
	if (out.done != n) {
		snprintf(why, sizeof(why), "npages_done %u of %u", out.done, n);
		return why;
	}
	bad = abi_fx_records_bad(fx, gpas, out.done, fx->recbuf, out.used, 4096);
	if (bad)
		return bad;
	if (abi_stats(fx->xfd, &s1))
		return "GET_STATS failed";
	if (s1.pages != s0.pages + n) {
		snprintf(why, sizeof(why), "stats.pages %llu -> %llu for %u pages",
			 (unsigned long long)s0.pages,
			 (unsigned long long)s1.pages, n);
		return why;
	}
	return NULL;
}

/* ------------------------------ child helper ------------------------------ */

int abi_in_child(void (*fn)(int *res, void *arg), void *arg, int *res,
		 int nres)
{
	int p[2], status, n;
	pid_t pid;

	if (nres > 8 || pipe(p))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int out[8];

		close(p[0]);
		memset(out, 0xff, sizeof(out));
		fn(out, arg);
		if (write(p[1], out, sizeof(int) * nres) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], res, sizeof(int) * nres);
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	return n / (int)sizeof(int);
}
