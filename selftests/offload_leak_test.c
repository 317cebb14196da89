// SPDX-License-Identifier: GPL-2.0
/*
 * offload_leak_test - no host memory in a stream.
 *
 * Every byte the module hands to userspace must be a byte of the guest's
 * pages, of the encoding, or of the documented outputs.  The test fills
 * freed kernel memory with a marker (0xC3) and then checks that nothing
 * the module returns contains anything else:
 *
 *  - guest pages hold only bytes 0x00-0x3f; a "poison" VM's pages are full
 *    of 0xC3;
 *  - before and between ENCODE calls, kernel memory is churned so that freed
 *    pages and slab objects hold the marker: a memfd filled with 0xC3 and
 *    closed, pipe buffers of 0xC3, fsetxattr() values of 0xC3 of several
 *    sizes (kmalloc-64 to kmalloc-4k, freed right away), contexts that
 *    encode the poison VM's pages (RAW records, XBZRLE deltas of 0xC3-ish
 *    data, cache pages full of 0xC3) and are closed, and drop_caches, whose
 *    shrinker frees the cache pages of every context (also the one under
 *    test, whose next pages then come from the allocator again);
 *  - the record buffer is filled with a sentinel (0xA5) before each ENCODE,
 *    and every record is checked: header reserved 0, gpa the list's, RAW
 *    data equal to the guest page, an XBZRLE delta byte for byte what the
 *    project's encoder makes of the destination's copy and the guest page
 *    (and decoding to the guest page), ZERO and UNCHANGED right; the padding
 *    after each record and everything after records_used still the sentinel
 *    (with KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, bytes of the
 *    KVM_CLEAR_DIRTY_LOG argument the module documents building there are
 *    allowed too, computed exactly);
 *  - the argument structures of ENCODE, GET_STATS, SET_CACHE and GET_CAPS
 *    sit in a page of sentinel bytes: nothing past what the module
 *    documents writing changes, a larger structure's zero tail stays zero,
 *    reserved outputs are zero;
 *  - RAW, XBZRLE, ZERO, UNCHANGED, overflows (small max_delta), evictions
 *    (a small cache) and reclaimed bases (drop_caches) all occur, and the
 *    context's destination copy equals guest memory at the end.
 *
 * Debian's kernels zero allocations (init_on_alloc), so there a leak of
 * freshly allocated memory shows zeros, which the exact comparisons catch
 * as well; the debug kernel does not zero them, and the marker shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
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
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PG		4096ULL
#define REC_MAX		((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define SENTINEL	0xA5
#define MARKER		0xC3
#define ALPHABET	0x40	/* guest bytes are below */

#define SLOT		0
#define GPA		0x100000ULL
#define NP		128	/* guest pages */
#define POISON_GPA	0x100000ULL
#define POISON_NP	64
#define NPOISON_CTX	3

#define NREC		64	/* one chunk of the module, at most */
#define RECBUF_SIZE	(NREC * REC_MAX + 4096)
#define ROUNDS		48
#define NTESTS		10

static struct kvm_vm vm, pvm;
static uint8_t *mem;		/* guest memory */
static struct xbz_dest dest;	/* what the stream made of it */
static bool sent[NP];		/* the context returned the page */
static int xfd = -1;		/* the context under test */
static uint8_t *recbuf;		/* RECBUF_SIZE, page aligned */
static uint8_t *argpage;	/* a page for argument structures */
static uint8_t marker_buf[1 << 16];

static uint64_t rng = 0x1eacULL;

static uint32_t rn(uint32_t n)
{
	return rand_below(&rng, n);
}

/* ------------------------------- violations ------------------------------- */

enum vkind {
	V_RECORD, V_PADDING, V_TAIL, V_ENCARG, V_OUTARG, V_NR
};

static unsigned long violations[V_NR];
static unsigned long printed, marker_bytes, scratch_padding;

static void __attribute__((format(printf, 2, 3)))
violation(enum vkind k, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	violations[k]++;
	if (++printed > 12)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_diag("VIOLATION: %s", msg);
}

/* Hex of @len bytes at @p, for the messages. */
static const char *hex(const uint8_t *p, size_t len)
{
	static char buf[200];
	size_t i, n = 0;

	for (i = 0; i < len && n + 3 < sizeof(buf); i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%02x", p[i]);
	return buf;
}

/* -------------------------------- churning -------------------------------- */

static bool drop_caches_ok = true;

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
static void churn_contexts(void)
{
	static uint64_t gpas[POISON_NP];
	struct xbz_encode_result res;
	unsigned int c, i, pass;
	uint8_t *pmem = vm_gpa_to_hva(&pvm, POISON_GPA);

	for (i = 0; i < POISON_NP; i++)
		gpas[i] = POISON_GPA + i * PG;
	for (c = 0; c < NPOISON_CTX; c++) {
		int fd = xbz_open_bound(&pvm);

		if (fd < 0)
			tap_bail_out("poison context: %s", kvm_util_error());
		for (pass = 0; pass < 2; pass++) {
			/*
			 * First 0xC2 pages, then 0xC3 ones: every byte differs,
			 * the encoder fills the delta buffer with the marker
			 * before it overflows (RAW).  Some pages get a small
			 * change instead: XBZRLE records of marker bytes.
			 */
			memset(pmem, pass ? MARKER : MARKER ^ 1, POISON_NP * PG);
			for (i = 0; i < POISON_NP; i += 1 + rn(4))
				if (pass && rn(2))
					memset(pmem + i * PG, MARKER ^ 1, PG - 1 - rn(64));
			for (i = 0; i < POISON_NP; i += res.npages_done)
				if (xbz_encode(fd, 0, gpas + i, POISON_NP - i,
					       recbuf, NREC * REC_MAX, PG, &res) ||
				    !res.npages_done)
					tap_bail_out("poison ENCODE: %s",
						     kvm_util_error());
		}
		close(fd);
	}
}

static void churn(unsigned int round)
{
	churn_slab();
	churn_pipe();
	if (round % 4 == 0)
		churn_memfd(1 << 20);
	if (round % 4 == 1)
		churn_contexts();
	churn_slab();
}

/* ------------------------------ guest memory ------------------------------ */

static void fill_page(uint8_t *p)
{
	size_t i;

	for (i = 0; i < PG; i++)
		p[i] = rn(ALPHABET);
}

/* Changes the pages for the next round: kept, touched, zeroed, rewritten. */
static void mutate(void)
{
	unsigned int i, k;

	for (i = 0; i < NP; i++) {
		uint8_t *p = mem + i * PG;

		switch (rn(8)) {
		case 0:
			memset(p, 0, PG);
			break;
		case 1:
			fill_page(p);
			break;
		case 2: case 3:
			for (k = 1 + rn(30); k; k--)
				p[rn(PG)] = rn(ALPHABET);
			break;
		case 4:
			/* a run, so that deltas have long lengths */
			k = rn(PG - 600);
			memset(p + k, rn(ALPHABET), 130 + rn(400));
			break;
		default:
			break;
		}
	}
}

/* --------------------------------- records -------------------------------- */

static unsigned long ntype[5], records, overflow_raw;
static uint8_t delta[PG];

/* Bytes of the KVM_CLEAR_DIRTY_LOG argument the module builds at records. */
static size_t clear_scratch(const uint64_t *gpas, unsigned int n,
			    uint8_t *out, size_t max)
{
	struct kvm_clear_dirty_log log = { .slot = SLOT };
	uint64_t first, last = 0, off, bitmap[NP / 64 + 1] = { 0 };
	unsigned int i;
	size_t len;

	first = (gpas[0] - GPA) / PG & ~63ULL;
	for (i = 0; i < n; i++) {
		off = (gpas[i] - GPA) / PG;
		last = off > last ? off : last;
		bitmap[(off - first) / 64] |= 1ULL << ((off - first) % 64);
	}
	log.first_page = first;
	log.num_pages = ((last + 1 - first + 63) & ~63ULL);
	if (log.num_pages > NP - first)
		log.num_pages = NP - first;
	log.dirty_bitmap = recbuf + sizeof(log);
	len = sizeof(log) + ((log.num_pages + 63) & ~63ULL) / 8;
	if (len > max)
		len = max;
	memcpy(out, &log, sizeof(log));
	memcpy(out + sizeof(log), bitmap, len - sizeof(log));
	return len;
}

/*
 * Checks the record buffer of one ENCODE and applies it to the
 * destination.  @written marks the bytes the records cover.
 */
static void check_buffer(const uint64_t *gpas, unsigned int n, bool clear,
			 uint32_t max_delta, uint32_t done, uint32_t used)
{
	static uint8_t written[RECBUF_SIZE], scratch[512];
	size_t slen = 0;
	uint32_t off = 0, i, b;
	bool reported;

	if (done != n || used > NREC * REC_MAX || used % 8) {
		violation(V_RECORD, "ENCODE of %u pages: npages_done %u records_used %u",
			  n, done, used);
		return;
	}
	memset(written, 0, sizeof(written));
	for (i = 0; i < done; i++) {
		struct kvm_xbzrle_record h;
		const uint8_t *data = recbuf + off + sizeof(h);
		uint64_t idx;
		uint8_t *d, *g;
		bool zero;
		int r;

		memcpy(&h, recbuf + off, sizeof(h));
		if (h.gpa != gpas[i] || h.reserved || off + sizeof(h) + h.len > used ||
		    h.type < KVM_XBZRLE_RECORD_ZERO || h.type > KVM_XBZRLE_RECORD_RAW) {
			violation(V_RECORD, "record %u at %u: header %s (gpa 0x%llx expected)",
				  i, off, hex(recbuf + off, sizeof(h)),
				  (unsigned long long)gpas[i]);
			return;
		}
		idx = (h.gpa - GPA) / PG;
		d = xbz_dest_page(&dest, h.gpa);
		g = mem + idx * PG;
		zero = g[0] == 0 && !memcmp(g, g + 1, PG - 1);
		records++;
		ntype[h.type]++;
		switch (h.type) {
		case KVM_XBZRLE_RECORD_ZERO:
			if (h.len || !zero)
				violation(V_RECORD, "record %u: ZERO len %u for a %szero page",
					  i, h.len, zero ? "" : "non-");
			memset(d, 0, PG);
			break;
		case KVM_XBZRLE_RECORD_UNCHANGED:
			if (h.len || !sent[idx] || memcmp(d, g, PG))
				violation(V_RECORD, "record %u: UNCHANGED len %u, %s, page %s the destination's",
					  i, h.len, sent[idx] ? "sent before" : "never sent",
					  memcmp(d, g, PG) ? "differs from" : "equals");
			break;
		case KVM_XBZRLE_RECORD_XBZRLE:
			r = xbzrle_encode(d, g, PG, delta, max_delta);
			if (!sent[idx] || zero || r != (int)h.len ||
			    memcmp(delta, data, h.len)) {
				for (b = 0; b < h.len && b < (uint32_t)(r > 0 ? r : 0) &&
				     delta[b] == data[b]; b++)
					;
				violation(V_RECORD, "record %u (gpa 0x%llx): XBZRLE of %u bytes, the encoder makes %d; first difference at %u: %s",
					  i, (unsigned long long)h.gpa, h.len, r, b,
					  hex(data + b, h.len - b < 16 ? h.len - b : 16));
			}
			if (h.len > PG || xbzrle_decode(data, h.len, d, PG) < 0 ||
			    memcmp(d, g, PG))
				violation(V_RECORD, "record %u: XBZRLE delta does not decode to the guest page",
					  i);
			break;
		case KVM_XBZRLE_RECORD_RAW:
			if (h.len != PG || memcmp(data, g, PG)) {
				for (b = 0; b < PG && data[b] == g[b]; b++)
					;
				violation(V_RECORD, "record %u (gpa 0x%llx): RAW len %u differs from the guest page at %u: %s",
					  i, (unsigned long long)h.gpa, h.len, b,
					  hex(data + b, 16));
			}
			/* evicted, reclaimed or an overflow */
			if (sent[idx])
				overflow_raw++;
			memcpy(d, g, PG);
			break;
		}
		memset(written + off, 1, sizeof(h) + h.len);
		sent[idx] = true;
		off = (off + sizeof(h) + h.len + 7) & ~7U;
	}
	if (off != used)
		violation(V_RECORD, "records_used %u, the records end at %u", used, off);

	if (clear)
		slen = clear_scratch(gpas, n, scratch, sizeof(scratch));
	/* one message per buffer, but every marker byte counted */
	reported = false;
	for (b = 0; b < RECBUF_SIZE; b++) {
		uint8_t v = recbuf[b];

		if (written[b] || v == SENTINEL)
			continue;
		if (b < slen && v == scratch[b]) {
			scratch_padding += b < used;
			continue;
		}
		if (v == MARKER)
			marker_bytes++;
		if (reported)
			continue;
		reported = true;
		if (b < used)
			violation(V_PADDING, "padding byte %u (records_used %u) is 0x%02x, not the sentinel%s: %s",
				  b, used, v, b < slen ? " or the clear argument" : "",
				  hex(recbuf + b, 16));
		else
			violation(V_TAIL, "byte %u past records_used %u is 0x%02x, not the sentinel%s: %s",
				  b, used, v, b < slen ? " or the clear argument" : "",
				  hex(recbuf + b, 16));
	}
}

/* ------------------------------ the ioctls -------------------------------- */

/* The structure at the start of argpage, the rest of the page sentinel. */
static void *arg_prepare(size_t len)
{
	memset(argpage, SENTINEL, PG);
	memset(argpage, 0, len);
	return argpage;
}

/* Bytes [from, PG) of argpage still the sentinel; [zfrom, from) zero. */
static bool arg_untouched(enum vkind k, const char *what, size_t zfrom,
			  size_t from)
{
	size_t i;

	for (i = zfrom; i < from; i++)
		if (argpage[i]) {
			violation(k, "%s: byte %zu of the zero tail is 0x%02x",
				  what, i, argpage[i]);
			return false;
		}
	for (i = from; i < PG; i++)
		if (argpage[i] != SENTINEL) {
			violation(k, "%s: byte %zu past the structure is 0x%02x: %s",
				  what, i, argpage[i], hex(argpage + i, 16));
			return false;
		}
	return true;
}

static unsigned int encodes;

static void encode(const uint64_t *gpas, unsigned int n, bool clear,
		   uint32_t max_delta)
{
	struct kvm_xbzrle_encode *e = arg_prepare(sizeof(*e)), in;

	e->size = sizeof(*e);
	e->flags = clear ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	e->pages = (uintptr_t)gpas;
	e->records = (uintptr_t)recbuf;
	e->npages = n;
	e->records_size = RECBUF_SIZE;
	e->max_delta = max_delta;
	/* outputs are overwritten whatever they hold */
	e->npages_done = 0x5a5a5a5a;
	e->records_used = 0x5a5a5a5a;
	in = *e;
	memset(recbuf, SENTINEL, RECBUF_SIZE);
	if (ioctl(xfd, KVM_XBZRLE_ENCODE, e))
		tap_bail_out("KVM_XBZRLE_ENCODE of %u pages", n);
	encodes++;
	in.npages_done = e->npages_done;
	in.records_used = e->records_used;
	if (memcmp(&in, e, sizeof(in)))
		violation(V_ENCARG, "ENCODE changed input fields: %s",
			  hex((uint8_t *)e, sizeof(*e)));
	arg_untouched(V_ENCARG, "ENCODE", sizeof(*e), sizeof(*e));
	check_buffer(gpas, n, clear, max_delta, e->npages_done, e->records_used);
}

static struct kvm_xbzrle_stats last_stats;

/* GET_STATS as a structure of @size bytes (>= 112, zero tail). */
static void stats(size_t size)
{
	struct kvm_xbzrle_stats *s = arg_prepare(size);
	unsigned int ncounters = 13, i;
	const __u64 *c;

	s->size = size;
	if (ioctl(xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 5, size), s))
		tap_bail_out("KVM_XBZRLE_GET_STATS size %zu", size);
	arg_untouched(V_OUTARG, "GET_STATS", sizeof(*s), size);
	if (s->size != size || s->flags)
		violation(V_OUTARG, "GET_STATS: size %u flags 0x%x on return",
			  s->size, s->flags);
	c = &s->pages;
	for (i = 0; i < ncounters; i++)
		if (c[i] >= 1ULL << 40)
			violation(V_OUTARG, "GET_STATS: counter %u is 0x%llx", i,
				  (unsigned long long)c[i]);
	if (s->pages != s->zero_pages + s->unchanged_pages + s->xbzrle_pages +
			s->raw_pages ||
	    s->cache_hits + s->cache_misses != s->pages - s->zero_pages ||
	    s->raw_pages != s->cache_misses + s->overflows ||
	    s->cache_bytes > s->cache_size)
		violation(V_OUTARG, "GET_STATS: counters inconsistent: %s",
			  hex((uint8_t *)s, 64));
	memcpy(&last_stats, s, sizeof(last_stats));
}

static void set_cache(uint32_t flags, uint64_t bytes, size_t size)
{
	struct kvm_xbzrle_cache *c = arg_prepare(size);

	c->size = size;
	c->flags = flags;
	c->cache_size = bytes;
	if (ioctl(xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 4, size), c))
		tap_bail_out("KVM_XBZRLE_SET_CACHE %llu", (unsigned long long)bytes);
	arg_untouched(V_OUTARG, "SET_CACHE", sizeof(*c), size);
	if (c->size != size || c->flags != flags || c->reserved[0] ||
	    c->reserved[1] || c->cache_size != (bytes & ~(PG - 1)))
		violation(V_OUTARG, "SET_CACHE: %s", hex((uint8_t *)c, sizeof(*c)));
}

static void caps(size_t size)
{
	struct kvm_xbzrle_caps *c = arg_prepare(size);

	c->size = size;
	c->flags = KVM_XBZRLE_CAPS_VM_FD;
	c->vm_fd = vm.fd;
	if (ioctl(xfd, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 0, size), c))
		tap_bail_out("KVM_XBZRLE_GET_CAPS");
	arg_untouched(V_OUTARG, "GET_CAPS", sizeof(*c), size);
	if (c->size != size || c->flags != KVM_XBZRLE_CAPS_VM_FD ||
	    c->vm_fd != vm.fd || c->api_version != KVM_XBZRLE_API_VERSION ||
	    c->page_size != PG || c->reserved[0] || c->reserved[1] ||
	    c->reserved[2])
		violation(V_OUTARG, "GET_CAPS: %s", hex((uint8_t *)c, sizeof(*c)));
}

/* A new context under test: the old one's bases go with it. */
static void reopen(void)
{
	if (xfd >= 0)
		close(xfd);
	xfd = xbz_open_bound(&vm);
	if (xfd < 0)
		tap_bail_out("context: %s", kvm_util_error());
	memset(sent, 0, sizeof(sent));
}

/* ---------------------------------- dmesg --------------------------------- */

static int kmsg_fd = -1;

static void kmsg_open_report(void)
{
	char line[2048];
	ssize_t n;

	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd < 0)
		return;
	/* say whether allocations are zeroed, then start at the end */
	while ((n = read(kmsg_fd, line, sizeof(line) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		line[n] = 0;
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, "mem auto-init:"))
			tap_diag("kernel: %s", strchr(line, ';') ?
				 strchr(line, ';') + 1 : line);
	}
}

/* ---------------------------------- main ---------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void setup(void)
{
	unsigned int i;

	memset(marker_buf, MARKER, sizeof(marker_buf));
	recbuf = mmap(NULL, RECBUF_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	argpage = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (recbuf == MAP_FAILED || argpage == MAP_FAILED)
		tap_bail_out("mmap");

	TEST_ASSERT(!vm_create(&vm, VM_MANUAL_PROTECT) &&
		    !vm_add_memslot(&vm, SLOT, GPA, NP * PG) &&
		    !vm_create(&pvm, 0) &&
		    !vm_add_memslot(&pvm, 0, POISON_GPA, POISON_NP * PG),
		    "VMs: %s", kvm_util_error());
	mem = vm_gpa_to_hva(&vm, GPA);
	for (i = 0; i < NP; i++)
		fill_page(mem + i * PG);
	memset(vm_gpa_to_hva(&pvm, POISON_GPA), MARKER, POISON_NP * PG);
	TEST_ASSERT(!xbz_dest_init(&dest, &vm),
		    "destination: %s", kvm_util_error());
	reopen();
}

int main(void)
{
	static uint64_t gpas[NREC], all[NP];
	unsigned long evictions = 0, reclaimed = 0, overflows = 0;
	unsigned int round, i, n;
	struct timespec t0, t1;
	struct kvm_xbzrle_caps c;
	int bad;

	xbz_require_offload(&c, false);
	tap_plan(NTESTS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kmsg_open_report();
	setup();
	caps(sizeof(struct kvm_xbzrle_caps));
	caps(sizeof(struct kvm_xbzrle_caps) + 24);

	for (i = 0; i < NP; i++)
		all[i] = GPA + i * PG;
	for (round = 0; round < ROUNDS; round++) {
		bool clear = round % 2;
		uint32_t max_delta = round % 5 == 4 ? 16 + rn(200) : PG;

		churn(round);
		if (round % 8 == 5)
			reopen();	/* a new delta buffer, from poisoned slab */
		if (round % 6 == 3) {
			if (drop_caches_ok && drop_caches())
				drop_caches_ok = false;
			churn_slab();
		}
		if (round == 16)
			set_cache(KVM_XBZRLE_CACHE_SET_SIZE, 24 * PG + 123,
				  sizeof(struct kvm_xbzrle_cache));
		if (round == 32)
			set_cache(KVM_XBZRLE_CACHE_SET_SIZE, 64ULL << 20,
				  sizeof(struct kvm_xbzrle_cache) + 16);
		if (round)
			mutate();
		/* every page in batches of up to 64, sorted with the clear flag */
		for (i = 0; i < NP; i += n) {
			n = 1 + rn(NREC);
			if (n > NP - i)
				n = NP - i;
			memcpy(gpas, all + i, n * sizeof(*gpas));
			if (!clear)
				for (unsigned int k = 0; k < n; k++) {
					unsigned int j = rn(n);
					uint64_t t = gpas[k];

					gpas[k] = gpas[j];
					gpas[j] = t;
				}
			else
				qsort(gpas, n, sizeof(*gpas), cmp_u64);
			/* a duplicate now and then: UNCHANGED */
			if (n > 2 && rn(3) == 0)
				gpas[n - 1] = gpas[0];
			if (clear && n > 2)
				qsort(gpas, n, sizeof(*gpas), cmp_u64);
			encode(gpas, n, clear, max_delta);
			if (rn(4) == 0)
				churn_slab();
		}
		stats(round % 4 ? sizeof(struct kvm_xbzrle_stats) :
		      sizeof(struct kvm_xbzrle_stats) + 8 * (1 + rn(8)));
		/* counters of the context, which reopen() replaces */
		evictions += last_stats.evictions > 0;
		reclaimed += last_stats.reclaimed > 0;
		overflows += last_stats.overflows > 0;
		if (round % 8 == 7)
			caps(sizeof(struct kvm_xbzrle_caps));
	}
	/* a last pass, so the destination holds every page as it is now */
	for (i = 0; i < NP; i += NREC)
		encode(all + i, NP - i < NREC ? NP - i : NREC, false, PG);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_diag("%u rounds in %.1f s", ROUNDS,
		 t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	tap_diag("%u ENCODE calls, %lu records: ZERO %lu UNCHANGED %lu XBZRLE %lu RAW %lu (%lu of pages sent before)",
		 encodes, records, ntype[KVM_XBZRLE_RECORD_ZERO],
		 ntype[KVM_XBZRLE_RECORD_UNCHANGED],
		 ntype[KVM_XBZRLE_RECORD_XBZRLE], ntype[KVM_XBZRLE_RECORD_RAW],
		 overflow_raw);
	tap_diag("rounds whose context had evictions: %lu, reclaimed bases: %lu, overflows: %lu; marker bytes where they must not be: %lu",
		 evictions, reclaimed, overflows, marker_bytes);
	tap_diag("padding bytes holding the KVM_CLEAR_DIRTY_LOG argument (written before the records): %lu",
		 scratch_padding);

	tap_result(!violations[V_RECORD],
		   "every record exact: headers, RAW data the guest page, XBZRLE deltas the encoder's bytes, ZERO/UNCHANGED right (%lu records, %lu violations)",
		   records, violations[V_RECORD]);
	tap_result(!violations[V_PADDING],
		   "padding after each record untouched (sentinel) (%lu violations)",
		   violations[V_PADDING]);
	tap_result(!violations[V_TAIL],
		   "record buffer past records_used untouched, or the documented KVM_CLEAR_DIRTY_LOG argument (%lu violations)",
		   violations[V_TAIL]);
	tap_result(!violations[V_ENCARG],
		   "ENCODE wrote only npages_done and records_used of its argument (%lu violations)",
		   violations[V_ENCARG]);
	tap_result(!violations[V_OUTARG],
		   "GET_STATS, SET_CACHE, GET_CAPS: nothing written past the structure, zero tails and reserved outputs zero, counters consistent (%lu violations)",
		   violations[V_OUTARG]);
	tap_result(ntype[KVM_XBZRLE_RECORD_ZERO] && ntype[KVM_XBZRLE_RECORD_UNCHANGED] &&
		   ntype[KVM_XBZRLE_RECORD_XBZRLE] && ntype[KVM_XBZRLE_RECORD_RAW] &&
		   overflows && evictions,
		   "all record types, overflows and evictions occurred");
	if (drop_caches_ok)
		tap_result(reclaimed > 0,
			   "drop_caches reclaimed bases of the context (%lu), recycled pages checked",
			   reclaimed);
	else
		tap_skip("/proc/sys/vm/drop_caches not writable",
			 "drop_caches reclaimed bases");
	n = xbz_dest_compare(&dest, &vm);
	tap_result(n == 0, "the destination copy equals guest memory after the last pass%s%s",
		   WHY_IF(n, kvm_util_error()));
	close(xfd);
	/* the poison contexts again, then the last check */
	churn_contexts();
	bad = kmsg_fd < 0 ? -1 : kmsg_count(kmsg_fd, kmsg_problems, NULL);
	if (bad > 0)
		tap_diag("%s", kvm_util_error());
	if (bad < 0)
		tap_skip("/dev/kmsg not readable", "no kernel warning during the run");
	else
		tap_result(!bad, "no kernel warning logged during the run (%d lines)",
			   bad);
	tap_result(marker_bytes == 0,
		   "the marker byte 0x%02x never appeared where a record or the sentinel belongs (%lu)",
		   MARKER, marker_bytes);
	xbz_dest_free(&dest);
	vm_destroy(&pvm);
	vm_destroy(&vm);
	tap_finish();
}
