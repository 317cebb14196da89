// SPDX-License-Identifier: GPL-2.0
/*
 * leak_util - the churned rounds of the offload_leak_*_test selftests;
 * what they do is described in include/leak_util.h.  The checks are the
 * tests' (their hooks).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"
#include "leak_util.h"
#include "test_util.h"
#include "util_internal.h"
#include "xbzrle_util.h"

#define PG		LEAK_PG
#define NP		LEAK_NP
#define NREC		LEAK_NREC
#define POISON_GPA	0x100000ULL
#define POISON_NP	64
#define NPOISON_CTX	3

static uint8_t marker_buf[1 << 16];

static uint32_t rn(struct leak *l, uint32_t n)
{
	return rand_below(&l->rng, n);
}

/* ------------------------------- violations ------------------------------- */

void leak_violation(struct leak *l, unsigned long *count, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	++*count;
	if (++l->printed > 12)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_diag("VIOLATION: %s", msg);
}

bool leak_point(bool ok, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_diag("%s %s", ok ? "ok:" : "FAILED:", msg);
	return ok;
}

const char *leak_hex(const uint8_t *p, size_t len)
{
	static char buf[200];
	size_t i, n = 0;

	for (i = 0; i < len && n + 3 < sizeof(buf); i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%02x", p[i]);
	return buf;
}

/* -------------------------------- churning -------------------------------- */

/* Freed page cache pages full of the marker: a memfd written and closed. */
static void churn_memfd(size_t bytes)
{
	int fd = memfd_create("xbzrle-leak-churn", MFD_CLOEXEC);
	size_t done;

	if (fd < 0)
		return;
	for (done = 0; done < bytes; done += sizeof(marker_buf))
		if (write(fd, marker_buf, sizeof(marker_buf)) < 0)
			break;
	close(fd);
}

/* Freed pipe buffer pages full of the marker. */
static void churn_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return;
	/* closing the pipe frees its buffers, marker and all */
	if (write(p[1], marker_buf, sizeof(marker_buf)) < 0)
		tap_diag("pipe write: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
}

/*
 * Freed slab objects of several sizes full of the marker: setxattr copies
 * the value into a kmalloc()ed buffer before the file system sees it, and
 * frees it whether or not the file system takes the attribute.
 */
static void churn_slab(void)
{
	static const size_t sizes[] = { 4096, 2048, 1536, 1024, 512, 256, 192,
					128, 96, 64 };
	int fd = memfd_create("xbzrle-leak-xattr", MFD_CLOEXEC);
	unsigned int i, k;

	if (fd < 0)
		return;
	for (k = 0; k < 4; k++)
		for (i = 0; i < ARRAY_SIZE(sizes); i++)
			fsetxattr(fd, "user.xbzrle_leak", marker_buf, sizes[i], 0);
	close(fd);
}

/*
 * Contexts that encode the poison VM (cache pages, snapshots and deltas
 * full of the marker) and are closed: the module's own freed memory.
 */
static int churn_contexts(struct leak *l)
{
	static uint64_t gpas[POISON_NP];
	struct xbz_encode_result res;
	unsigned int c, i, pass;
	uint8_t *pmem = vm_gpa_to_hva(&l->pvm, POISON_GPA);

	for (i = 0; i < POISON_NP; i++)
		gpas[i] = POISON_GPA + i * PG;
	for (c = 0; c < NPOISON_CTX; c++) {
		int fd = xbz_open_bound(&l->pvm);

		if (fd < 0)
			return fail("poison context: %s", kvm_util_error());
		for (pass = 0; pass < 2; pass++) {
			/*
			 * First 0xC2 pages, then 0xC3 ones: every byte differs,
			 * the encoder fills the delta buffer with the marker
			 * before it overflows (RAW).  Some pages get a small
			 * change instead: XBZRLE records of marker bytes.
			 */
			memset(pmem, pass ? LEAK_MARKER : LEAK_MARKER ^ 1,
			       POISON_NP * PG);
			for (i = 0; i < POISON_NP; i += 1 + rn(l, 4))
				if (pass && rn(l, 2))
					memset(pmem + i * PG, LEAK_MARKER ^ 1,
					       PG - 1 - rn(l, 64));
			for (i = 0; i < POISON_NP; i += res.npages_done)
				if (xbz_encode(fd, 0, gpas + i, POISON_NP - i,
					       l->recbuf, NREC * LEAK_REC_MAX, PG,
					       &res) || !res.npages_done) {
					close(fd);
					return fail("poison ENCODE: %s",
						    kvm_util_error());
				}
		}
		close(fd);
	}
	return 0;
}

static int churn(struct leak *l, unsigned int round)
{
	churn_slab();
	churn_pipe();
	if (round % 4 == 0)
		churn_memfd(1 << 20);
	if (round % 4 == 1 && churn_contexts(l))
		return -1;
	churn_slab();
	return 0;
}

/* ------------------------------ guest memory ------------------------------ */

static void fill_page(struct leak *l, uint8_t *p)
{
	size_t i;

	for (i = 0; i < PG; i++)
		p[i] = rn(l, LEAK_ALPHABET);
}

/* Changes the pages for the next round: kept, touched, zeroed, rewritten. */
static void mutate(struct leak *l)
{
	unsigned int i, k;

	for (i = 0; i < NP; i++) {
		uint8_t *p = l->mem + i * PG;

		switch (rn(l, 8)) {
		case 0:
			memset(p, 0, PG);
			break;
		case 1:
			fill_page(l, p);
			break;
		case 2: case 3:
			for (k = 1 + rn(l, 30); k; k--)
				p[rn(l, PG)] = rn(l, LEAK_ALPHABET);
			break;
		case 4:
			/* a run, so that deltas have long lengths */
			k = rn(l, PG - 600);
			memset(p + k, rn(l, LEAK_ALPHABET), 130 + rn(l, 400));
			break;
		default:
			break;
		}
	}
}

/* ------------------------------ the ioctls -------------------------------- */

/* The structure at the start of argpage, the rest of the page sentinel. */
static void *arg_prepare(struct leak *l, size_t len)
{
	memset(l->argpage, LEAK_SENTINEL, PG);
	memset(l->argpage, 0, len);
	return l->argpage;
}

static int encode(struct leak *l, const uint64_t *gpas, unsigned int n,
		  bool clear, uint32_t max_delta)
{
	struct kvm_xbzrle_encode *e = arg_prepare(l, sizeof(*e)), in;

	e->size = sizeof(*e);
	e->flags = clear ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	e->pages = (uintptr_t)gpas;
	e->records = (uintptr_t)l->recbuf;
	e->npages = n;
	e->records_size = LEAK_RECBUF_SIZE;
	e->max_delta = max_delta;
	/* outputs are overwritten whatever they hold */
	e->npages_done = 0x5a5a5a5a;
	e->records_used = 0x5a5a5a5a;
	in = *e;
	memset(l->recbuf, LEAK_SENTINEL, LEAK_RECBUF_SIZE);
	if (ioctl(l->xfd, KVM_XBZRLE_ENCODE, e))
		return fail_errno("KVM_XBZRLE_ENCODE of %u pages", n);
	l->encodes++;
	if (l->hooks->encoded)
		l->hooks->encoded(l, &in, e, gpas, n, clear, max_delta);
	return 0;
}

/* GET_STATS as a structure of @size bytes (its size or more, zero tail). */
static int stats(struct leak *l, size_t size, struct kvm_xbzrle_stats *out)
{
	struct kvm_xbzrle_stats *s = arg_prepare(l, size);

	s->size = size;
	if (ioctl(l->xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 5,
			       size), s))
		return fail_errno("KVM_XBZRLE_GET_STATS size %zu", size);
	if (l->hooks->stats)
		l->hooks->stats(l, size);
	memcpy(out, s, sizeof(*out));
	return 0;
}

static int set_cache(struct leak *l, uint32_t flags, uint64_t bytes,
		     size_t size)
{
	struct kvm_xbzrle_cache *c = arg_prepare(l, size);

	c->size = size;
	c->flags = flags;
	c->cache_size = bytes;
	if (ioctl(l->xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 4,
			       size), c))
		return fail_errno("KVM_XBZRLE_SET_CACHE %llu",
				  (unsigned long long)bytes);
	if (l->hooks->set_cache)
		l->hooks->set_cache(l, flags, bytes, size);
	return 0;
}

static int caps(struct leak *l, size_t size)
{
	struct kvm_xbzrle_caps *c = arg_prepare(l, size);

	c->size = size;
	c->flags = KVM_XBZRLE_CAPS_VM_FD;
	c->vm_fd = l->vm.fd;
	if (ioctl(l->xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0,
			       size), c))
		return fail_errno("KVM_XBZRLE_GET_CAPS");
	if (l->hooks->caps)
		l->hooks->caps(l, size);
	return 0;
}

/* A new context under test: the old one's bases go with it. */
static int reopen(struct leak *l)
{
	if (l->xfd >= 0)
		close(l->xfd);
	l->xfd = xbz_open_bound(&l->vm);
	if (l->xfd < 0)
		return fail("context: %s", kvm_util_error());
	if (l->hooks && l->hooks->reopened)
		l->hooks->reopened(l);
	return 0;
}

/* -------------------------------- the run --------------------------------- */

/* Says whether allocations are zeroed, then reads from the end. */
static int kmsg_open_report(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char line[2048];
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, line, sizeof(line) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		line[n] = 0;
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, "mem auto-init:"))
			tap_diag("kernel: %s", strchr(line, ';') ?
				 strchr(line, ';') + 1 : line);
	}
	return fd;
}

int leak_setup(struct leak *l)
{
	struct kvm_xbzrle_caps caps;
	unsigned int i;

	memset(l, 0, sizeof(*l));
	l->vm.fd = l->pvm.fd = l->xfd = l->kmsg = -1;
	l->recbuf = l->argpage = MAP_FAILED;
	/* the module is what is tested: its absence is a failure */
	if (xbz_check_offload(&caps))
		return -1;
	l->rng = 0x1eacULL;
	l->drop_caches_ok = true;
	l->kmsg = kmsg_open_report();
	memset(marker_buf, LEAK_MARKER, sizeof(marker_buf));
	l->recbuf = mmap(NULL, LEAK_RECBUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l->argpage = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->recbuf == MAP_FAILED || l->argpage == MAP_FAILED)
		return fail_errno("mmap");

	if (vm_create(&l->vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&l->vm, LEAK_SLOT, LEAK_GPA, NP * PG) ||
	    vm_create(&l->pvm, 0) ||
	    vm_add_memslot(&l->pvm, 0, POISON_GPA, POISON_NP * PG))
		return fail("VMs: %s", kvm_util_error());
	l->mem = vm_gpa_to_hva(&l->vm, LEAK_GPA);
	for (i = 0; i < NP; i++)
		fill_page(l, l->mem + i * PG);
	memset(vm_gpa_to_hva(&l->pvm, POISON_GPA), LEAK_MARKER, POISON_NP * PG);
	return reopen(l);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every page in batches of up to NREC, sorted with the clear flag. */
static int send_all(struct leak *l, const uint64_t *all, bool clear,
		    uint32_t max_delta)
{
	static uint64_t gpas[NREC];
	unsigned int i, k, n;

	for (i = 0; i < NP; i += n) {
		n = 1 + rn(l, NREC);
		if (n > NP - i)
			n = NP - i;
		memcpy(gpas, all + i, n * sizeof(*gpas));
		if (!clear)
			for (k = 0; k < n; k++) {
				unsigned int j = rn(l, n);
				uint64_t t = gpas[k];

				gpas[k] = gpas[j];
				gpas[j] = t;
			}
		else
			qsort(gpas, n, sizeof(*gpas), cmp_u64);
		/* a duplicate now and then: UNCHANGED */
		if (n > 2 && rn(l, 3) == 0)
			gpas[n - 1] = gpas[0];
		if (clear && n > 2)
			qsort(gpas, n, sizeof(*gpas), cmp_u64);
		if (encode(l, gpas, n, clear, max_delta))
			return -1;
		if (rn(l, 4) == 0)
			churn_slab();
	}
	return 0;
}

static int round_calls(struct leak *l, unsigned int round, const uint64_t *all)
{
	struct kvm_xbzrle_stats st;
	bool clear = round % 2;
	uint32_t max_delta = round % 5 == 4 ? 16 + rn(l, 200) : PG;

	if (churn(l, round))
		return -1;
	if (round % 8 == 5 && reopen(l))
		return -1;	/* a new delta buffer, from poisoned slab */
	if (round % 6 == 3) {
		if (l->drop_caches_ok && drop_caches())
			l->drop_caches_ok = false;
		churn_slab();
	}
	if (round == 16 &&
	    set_cache(l, KVM_XBZRLE_CACHE_SET_SIZE, 24 * PG + 123,
		      sizeof(struct kvm_xbzrle_cache)))
		return -1;
	if (round == 32 &&
	    set_cache(l, KVM_XBZRLE_CACHE_SET_SIZE, 64ULL << 20,
		      sizeof(struct kvm_xbzrle_cache) + 16))
		return -1;
	if (round)
		mutate(l);
	if (send_all(l, all, clear, max_delta) ||
	    stats(l, round % 4 ? sizeof(struct kvm_xbzrle_stats) :
		  sizeof(struct kvm_xbzrle_stats) + 8 * (1 + rn(l, 8)), &st))
		return -1;
	/* counters of the context, which reopen() replaces */
	l->evictions += st.evictions > 0;
	l->reclaimed += st.reclaimed > 0;
	l->overflows += st.overflows > 0;
	if (round % 8 == 7 && caps(l, sizeof(struct kvm_xbzrle_caps)))
		return -1;
	return 0;
}

int leak_run(struct leak *l, const struct leak_hooks *hooks, void *priv)
{
	static uint64_t all[NP];
	unsigned int round, i;
	struct timespec t0, t1;

	l->hooks = hooks;
	l->priv = priv;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (caps(l, sizeof(struct kvm_xbzrle_caps)) ||
	    caps(l, sizeof(struct kvm_xbzrle_caps) + 24))
		return -1;
	for (i = 0; i < NP; i++)
		all[i] = LEAK_GPA + i * PG;
	for (round = 0; round < LEAK_ROUNDS; round++)
		if (round_calls(l, round, all))
			return -1;
	/* a last pass, so the destination holds every page as it is now */
	for (i = 0; i < NP; i += NREC)
		if (encode(l, all + i, NP - i < NREC ? NP - i : NREC, false, PG))
			return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_diag("%u rounds in %.1f s, %u ENCODE calls", LEAK_ROUNDS,
		 t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		 l->encodes);
	tap_diag("rounds whose context had evictions: %lu, reclaimed bases: %lu, overflows: %lu",
		 l->evictions, l->reclaimed, l->overflows);
	return 0;
}

int leak_close_and_churn(struct leak *l)
{
	if (l->xfd >= 0)
		close(l->xfd);
	l->xfd = -1;
	return churn_contexts(l);
}

int leak_kmsg_problems(struct leak *l)
{
	return l->kmsg < 0 ? -1 : kmsg_count(l->kmsg, kmsg_problems, NULL);
}

void leak_free(struct leak *l)
{
	if (l->xfd >= 0)
		close(l->xfd);
	l->xfd = -1;
	if (l->kmsg >= 0)
		close(l->kmsg);
	l->kmsg = -1;
	if (l->recbuf != MAP_FAILED)
		munmap(l->recbuf, LEAK_RECBUF_SIZE);
	if (l->argpage != MAP_FAILED)
		munmap(l->argpage, 2 * PG);
	l->recbuf = l->argpage = MAP_FAILED;
	vm_destroy(&l->pvm);
	vm_destroy(&l->vm);
}
