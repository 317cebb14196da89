/* SPDX-License-Identifier: GPL-2.0 */
/*
 * abi_util - shared by the offload_abi*_test selftests (lib/abi_util.c):
 * the ABI fixture (a VM whose memslot 0 is a region of a bound context, a
 * destination copy and a model of which pages the context holds a base
 * for), ioctl wrappers that return the errno itself, and the record check
 * of a valid ENCODE of fixture pages.
 *
 * The fixture's layout, as the tests rely on it:
 *
 *   FX_SLOT     memslot 0, FX_NP pages at FX_GPA, dirty logging on: the
 *               context's main region;
 *   GONE_SLOT   two pages at GONE_GPA, a region of the context too, whose
 *               memory a test may unmap (gone_mem, then set to NULL);
 *   SR_SLOT     one page at SR_GPA (sr_mem): a KVM memslot the context has
 *               no region for.
 *
 * The VM runs no vCPU: guest memory is written through the host mapping,
 * which is what the module reads.  Error conventions: see test_util.h;
 * the wrappers abi_*() return 0, the errno, or -1 for a positive return
 * value, so a test compares them with the errno it expects.
 *
 * EXPECT_ERRNO() is for tests on kselftest_harness.h.
 */
#ifndef XBZRLE_ABI_UTIL_H
#define XBZRLE_ABI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"

#define PG		4096ULL
#define REC_MAX		((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)
#define RECBUF_SIZE	(16 * REC_MAX)	/* the fixture's record buffer */
#define MIB		(1ULL << 20)
#define PARAM_DIR	"/sys/module/kvm_xbzrle/parameters/"

/* The fixture: a bound context, its main region over KVM memslot 0. */
#define FX_SLOT		0
#define FX_GPA		0x100000ULL
#define FX_NP		8
/* A memslot and region of the fixture whose memory a test may unmap. */
#define GONE_SLOT	2
#define GONE_GPA	0x200000ULL
/* A memslot without a region: SET_REGION tests add it. */
#define SR_SLOT		5
#define SR_GPA		0x300000ULL
/* Outside every region. */
#define NOWHERE_GPA	0x40000000ULL

/*
 * Below mmap_min_addr and the executable: never mapped (a munmap()ed hole
 * would be reused by the next mmap()).
 */
#define ABI_UNMAPPED	((void *)0x8000)

struct abi_fx {
	struct kvm_vm vm;		/* VM_MANUAL_PROTECT */
	int xfd;			/* bound to vm, regions FX and GONE */
	struct xbz_dest dest;		/* follows the records of valid calls */
	bool based[FX_NP];		/* the context has a base for the page */
	uint8_t *mem;			/* host mapping of FX_GPA */
	uint8_t *gone_mem;		/* GONE_SLOT's 2 pages; NULL once unmapped */
	uint8_t *sr_mem;		/* SR_SLOT's page */
	uint8_t *recbuf;		/* RECBUF_SIZE, page aligned */
	uint8_t *ro_buf;		/* 3 read-only pages */
	uint8_t *edge;			/* a page followed by a PROT_NONE page */
};

/*
 * Sets the fixture up (every field; on failure what was done stays for
 * abi_fx_destroy()), once xbz_check_offload() found KVM, the module and
 * its offload: their absence is a failure too, the module being what the
 * tests test.  0, or -1 with the reason in kvm_util_error().
 */
int abi_fx_init(struct abi_fx *fx);
/* Undoes abi_fx_init(), also a partial one (@fx zeroed before it). */
void abi_fx_destroy(struct abi_fx *fx);

/* n pages of anonymous memory, or NULL. */
void *abi_map_pages(size_t n, int prot);
/* Whether /proc/self/maps has a mapping holding @addr. */
bool abi_maps_has(const void *addr);

/* ioctl(): 0 on success, else errno; -1 for a positive return value. */
int abi_ioctl(int fd, unsigned long cmd, void *arg);
int abi_bind(int xfd, int vm_fd);
int abi_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
	       uint64_t uaddr);

struct abi_enc_out {
	uint32_t done;		/* npages_done */
	uint32_t used;		/* records_used */
};

/* ENCODE; @out (may be NULL) gets the outputs, whatever the result. */
int abi_encode(int xfd, uint32_t flags, const void *pages, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct abi_enc_out *out);
/* ENCODE with @generation (records: @recbuf, RECBUF_SIZE, max_delta 4096). */
int abi_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *recbuf,
		   struct abi_enc_out *out);
/* GET_STATS of the current size into @s (zeroed first). */
int abi_stats(int xfd, struct kvm_xbzrle_stats *s);
/* SET_CACHE; *@out (if not NULL) gets the cache_size written back. */
int abi_cache(int xfd, uint32_t flags, uint64_t size, uint64_t *out);

/*
 * Whether the first @n counters of @a and @b are equal (13: all of
 * version 1; 9: those that count records).  The differences go to @diff
 * (@len bytes, "name: a -> b; ...", empty if none).
 */
bool abi_stats_equal(const struct kvm_xbzrle_stats *a,
		     const struct kvm_xbzrle_stats *b, unsigned int n,
		     char *diff, size_t len);
#define ABI_STATS_ALL		13
#define ABI_STATS_RECORDS	9

/* Index of fixture page @gpa, -1 if it is not one. */
int abi_fx_index(uint64_t gpa);
/* Gives fixture page @idx new content (@gen varies it; page 0 stays zero). */
void abi_fx_touch(struct abi_fx *fx, unsigned int idx, unsigned int gen);

/*
 * The first @done pages of @gpas (fixture pages) have correct records in
 * @buf (@used bytes): one each, in order, the type right for the page and
 * for the model's base, an XBZRLE delta byte-identical to the project's
 * encoder with @max_delta, a RAW only if the delta does not fit; applied,
 * the destination equals the page, and the model learns the bases.
 * Returns NULL or why not (a static string).
 */
const char *abi_fx_records_bad(struct abi_fx *fx, const uint64_t *gpas,
			       uint32_t done, const void *buf, uint32_t used,
			       uint32_t max_delta);

/*
 * A valid ENCODE of @n fixture pages (each touched first with @gen) into
 * fx->recbuf: the call succeeds, does all pages, the records are correct
 * (abi_fx_records_bad()) and stats.pages grows by @n.  NULL or why not.
 */
const char *abi_fx_encode_good(struct abi_fx *fx, uint32_t flags,
			       const uint64_t *gpas, uint32_t n,
			       unsigned int gen);

/*
 * Runs @fn in a forked child, which fills up to 8 results (0 or errno)
 * that come back through a pipe.  Returns the number received, -1 if the
 * child failed.
 */
int abi_in_child(void (*fn)(int *res, void *arg), void *arg, int *res,
		 int nres);

/*
 * EXPECT_EQ() of an errno (or 0) with both names in the log, and a
 * description of the call (printf format) for the failure's message.
 */
#define EXPECT_ERRNO(want, got, fmt, ...)				\
do {									\
	int __abi_w = (want), __abi_g = (got);				\
									\
	EXPECT_EQ(__abi_w, __abi_g)					\
		TH_LOG(fmt ": got %s (%d), expected %s", ##__VA_ARGS__,\
		       errname(__abi_g), __abi_g, errname(__abi_w));	\
} while (0)

#endif /* XBZRLE_ABI_UTIL_H */
