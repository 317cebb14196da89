/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz_util - the fuzzer of offload_fuzz_test: its PRNG, its model of the
 * VMs and contexts, where and how it places and mutates arguments, and one
 * function per ioctl it calls.  Linked into offload_fuzz_test only:
 *
 *   lib/fuzz_util.c     the PRNG, the shared state, the errno table per
 *                       ioctl, fuzz_ioctl() and violation();
 *   lib/fuzz_model.c    VMs and their memslots, contexts, a VM of another
 *                       process;
 *   lib/fuzz_args.c     argument placement, sizes, tails, the check that
 *                       an argument is written only where documented;
 *   lib/fuzz_encode.c   ENCODE: page lists, record buffers, the record
 *                       walk against the destination copies;
 *   lib/fuzz_ioctls.c   GET_CAPS, BIND, SET_REGION, SET_CACHE, GET_STATS,
 *                       random numbers, reopening a context.
 *
 * One fuzzer per process: the state is global, and every random choice
 * comes from one PRNG (rng), so that a seed repeats a run call for call.
 * A do_*() call makes one ioctl (do_reopen() several), updates the model
 * from its result and counts what it finds against it in violations[];
 * violation() prints the first ones with the call's arguments (cur).
 * Set-up failures end the test (TEST_ASSERT(), tap_bail_out()).
 */
#ifndef XBZRLE_FUZZ_UTIL_H
#define XBZRLE_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest.h"	/* __printf(); the fuzzer is built on the harness */

#define PG		4096ULL
#define REC_MAX		((uint32_t)KVM_XBZRLE_RECORD_MAX_SIZE)
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Guest physical layout: memslot id s lives in window s. */
#define NVM		2
#define NSLOT		6
#define WIN_PAGES	64
#define WIN_BASE	0x1000000ULL
#define DEST_PAGES	(NSLOT * WIN_PAGES)
#define MAX_SLOT_PAGES	24

#define NCTX		4

/* Buffers. */
#define LIST_MAX	8192			/* gpas in the list buffer */
#define RECBUF_RECS	48
#define RECBUF_SIZE	(RECBUF_RECS * REC_MAX)
#define ARGBUF_SIZE	8192
/* Never mapped: below mmap_min_addr. */
#define UNMAPPED	((void *)0x8000)
#define KERNEL_ADDR	((void *)0xffff888000000000ULL)

/* ---------------------------------- PRNG ---------------------------------- */

extern uint64_t rng;

uint64_t rnd(void);
/* 0 to @n - 1. */
uint32_t rn(uint32_t n);
bool chance(unsigned int percent);
bool permille(unsigned int n);
/* Edges: 0, powers of two and their neighbours, page sizes, sign bits. */
uint64_t interesting64(void);
uint64_t rval64(void);
uint32_t rval32(void);

/* ------------------------------- the model -------------------------------- */

struct fslot {
	bool used;
	uint32_t flags;		/* KVM_MEM_* */
	uint64_t gpa;
	uint64_t npages;
	uint8_t *map;		/* guard, memory, guard */
	uint8_t *hva;
};

struct fvm {
	int fd;			/* -1: none */
	unsigned int gen;	/* bumped when the VM is replaced */
	bool manual;
	struct fslot slot[NSLOT];
};

struct fregion {
	bool set;
	uint64_t gpa, npages, hva;
};

struct fctx {
	int fd;			/* -1: closed */
	int vm;			/* -1: unbound */
	unsigned int vm_gen;
	struct fregion reg[NSLOT];
	uint8_t *dest;		/* DEST_PAGES pages */
	bool dvalid[DEST_PAGES];
	bool dest_lost;		/* records we did not see: no base checks */
	uint64_t records;	/* returned since open or RESET */
	bool records_known;
	uint64_t cache_size;	/* in effect; UINT64_MAX unknown */
};

extern struct fvm vms[NVM];
extern struct fctx ctxs[NCTX];
extern int kvm_fd, foreign_vm_fd, file_fd, closed_fd;
extern uint64_t max_cache_bytes;	/* ceiling, UINT64_MAX unknown */

extern uint8_t *listbuf;	/* LIST_MAX gpas, then a guard page */
extern uint8_t *rolist;		/* a read-only page of gpas */
extern uint8_t *recbuf;		/* RECBUF_SIZE, then a guard */
extern uint8_t *robuf;		/* 2 read-only pages, then a guard */
extern uint8_t *argbuf;		/* ARGBUF_SIZE, then a guard */
extern uint8_t *roarg;		/* a read-only page */
extern size_t arg_dirty;	/* bytes of argbuf that may be non-zero */

/* Random guest data: zero words, words of 0 and 1 bytes, any words. */
void fill_guest(uint8_t *p, size_t len);
/* Region @r is memslot @s as it is now. */
bool region_matches(const struct fregion *r, const struct fslot *s);
/* Open, bound, and its VM the one it was bound to. */
bool ctx_live(const struct fctx *x);
void vm_new(int v);
/* Closes the VM: contexts bound to it keep it alive, it is gone for us. */
void vm_drop(int v);
/* A memslot of a random VM added, removed, or its dirty logging toggled. */
void slot_churn(void);
/* The slot of @v holding @gpa, or NULL. */
struct fslot *slot_of(int v, uint64_t gpa);
/* A random used slot of @v, or NULL. */
struct fslot *random_slot(int v);
void ctx_open(unsigned int c);
void ctx_close(unsigned int c);
/* The fd of a VM created in another process (-1 if none). */
int foreign_vm(void);

/* --------------------------------- results -------------------------------- */

enum vkind {
	V_ERRNO, V_RECORDS, V_CONTENT, V_STRICT, V_ARGWRITE, V_OUTPUT, V_NR
};

extern unsigned long violations[V_NR];
extern unsigned long calls, calls_target, records_walked, content_checked,
		     strict_calls, rtype[5];

/* Errno histogram per ioctl. */
enum {
	H_CAPS, H_BIND, H_REGION, H_ENCODE, H_CACHE, H_STATS, H_INVALIDATE,
	H_OTHER, H_NR
};
extern const char *const h_name[H_NR];
#define MAXERR	140
extern unsigned long hist[H_NR][MAXERR + 1];

/* The call being made, for the violation messages. */
struct fuzz_call {
	unsigned long n;
	unsigned int ctx;
	unsigned long cmd;
	const void *arg;
	const char *argwhere;
	uint8_t argcopy[128];
	char extra[200];
};
extern struct fuzz_call cur;

/* Counts a violation of kind @k; prints the first ones with the call. */
__printf(2, 3) void violation(enum vkind k, const char *fmt, ...);
/* Which ioctl a number is, as the module matches it: type, nr, direction. */
int ioctl_kind(unsigned long cmd);
/*
 * One ioctl on a context, counted and judged against the errno table.
 * Returns 0 or the errno (-1 for a positive return, itself a violation).
 */
int fuzz_ioctl(unsigned int c, unsigned long cmd, void *arg,
	       const char *where);

/* --------------------------- argument placement --------------------------- */

enum { W_ARG = 0, W_NULL, W_UNMAPPED, W_RO, W_EDGE, W_KERNEL };

/* Records whether the argument was written where it must not be. */
struct argcheck {
	bool on;
	uint32_t len;		/* bytes compared */
	uint32_t wlo, whi;	/* may be written: [wlo, whi) */
};

/* Zeroes what argbuf may hold. */
void arg_clear(void);
/*
 * Where the argument goes: mostly argbuf (filled by the caller), sometimes
 * somewhere it cannot be read or written.
 */
void *place_arg(const void *arg, size_t len, const char **where, int *w);
/* A size for the argument and the number: mostly right. */
uint32_t pick_size(uint32_t ver1, uint32_t *ioc_size);
/* Mutates the common header and tail: size, flags, reserved, zero tail. */
void mutate_tail(uint8_t *a, uint32_t size, uint32_t ver1);
/*
 * The module reads at most 4096 bytes and writes at most its structure:
 * compare the argument's own size and a margin.
 */
void arg_snapshot(struct argcheck *ac, int w, uint32_t len);
void arg_verify(const struct argcheck *ac, const char *what);
/* A vm_fd for BIND or GET_CAPS: a VM of ours, or any other kind of fd. */
int pick_vm_fd(void);
/* Which of our VMs @fd is, or -1. */
int vm_of_fd(int fd);

/* ------------------------------- the ioctls ------------------------------- */

void do_caps(unsigned int c);
/* @valid: a VM of ours (must succeed on an unbound context). */
void do_bind(unsigned int c, bool valid);
/* @valid: a memslot as KVM has it (must succeed on a live context). */
void do_region(unsigned int c, bool valid);
/* @valid: pages of the context's regions (must succeed, with progress). */
void do_encode(unsigned int c, bool valid);
void do_cache(unsigned int c);
void do_stats(unsigned int c);
/* Any number: mostly type 0xBD, all directions and sizes. */
void do_random_ioctl(unsigned int c);
/* Opens a context again, maybe bound with all its VM's memslots. */
void do_reopen(unsigned int c);

#endif /* XBZRLE_FUZZ_UTIL_H */
