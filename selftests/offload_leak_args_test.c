// SPDX-License-Identifier: GPL-2.0
/*
 * offload_leak_args_test - no host memory in a stream: the argument
 * structures.
 *
 * Every byte the module writes back into an ioctl's argument must be an
 * output it documents.  The rounds of lib/leak_util.c (include/leak_util.h)
 * fill freed kernel memory with a marker (0xC3) before and between the
 * calls (memfd and pipe pages, kmalloc-64 to kmalloc-4k objects, closed
 * contexts that encoded a VM full of the marker, drop_caches, a new
 * context now and then), the same rounds as offload_leak_records_test,
 * whose records that test checks.  The argument structures of ENCODE,
 * GET_STATS, SET_CACHE and GET_CAPS sit at the start of a page of sentinel
 * bytes (0xA5), and this test checks each call:
 *
 *   ENCODE      wrote only npages_done and records_used of its argument
 *               (both set to 0x5a5a5a5a before the call), nothing past it;
 *   GET_STATS   of its size and up to 64 bytes larger: nothing written past
 *               the structure, a larger structure's zero tail still zero,
 *               size and flags as passed, the first 13 counters (pages to
 *               cache_size) below 2^40 and the counters consistent (pages
 *               the sum of the four kinds, hits and misses the non-zero
 *               pages, RAW the misses and overflows, cache_bytes within
 *               cache_size);
 *   SET_CACHE   nothing written past the structure (also a larger one),
 *               reserved outputs zero, the size in effect the one asked
 *               for rounded down to pages;
 *   GET_CAPS    nothing written past the structure (also a larger one),
 *               reserved outputs zero, the fields of this module;
 *   quiet       no kernel warning logged during the run.
 *
 * On the kernel's kselftest harness: one case, the rounds and their
 * checks; a missing module fails the set-up.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "leak_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PG		LEAK_PG

enum vkind {
	V_ENCARG, V_STATS, V_CACHE, V_CAPS, V_NR
};

static const char *const vname[V_NR] = {
	"ENCODE", "GET_STATS", "SET_CACHE", "GET_CAPS",
};

/* The test's point of each kind: no violation of it. */
static const char *const vpoint[V_NR] = {
	[V_ENCARG] = "ENCODE wrote only npages_done and records_used of its argument",
	[V_STATS] = "GET_STATS: nothing written past the structure, zero tail zero, counters consistent",
	[V_CACHE] = "SET_CACHE: nothing written past the structure, zero tail and reserved outputs zero",
	[V_CAPS] = "GET_CAPS: nothing written past the structure, zero tail and reserved outputs zero",
};

struct args {
	unsigned long violations[V_NR];
	unsigned long calls[V_NR];
};

/* Bytes [from, PG) of argpage still the sentinel; [zfrom, from) zero. */
static bool arg_untouched(struct leak *l, enum vkind k, size_t zfrom,
			  size_t from)
{
	const uint8_t *argpage = l->argpage;
	struct args *a = l->priv;
	size_t i;

	for (i = zfrom; i < from; i++)
		if (argpage[i]) {
			leak_violation(l, &a->violations[k],
				       "%s: byte %zu of the zero tail is 0x%02x",
				       vname[k], i, argpage[i]);
			return false;
		}
	for (i = from; i < PG; i++)
		if (argpage[i] != LEAK_SENTINEL) {
			leak_violation(l, &a->violations[k],
				       "%s: byte %zu past the structure is 0x%02x: %s",
				       vname[k], i, argpage[i],
				       leak_hex(argpage + i, 16));
			return false;
		}
	return true;
}

static void encoded(struct leak *l, const struct kvm_xbzrle_encode *in,
		    const struct kvm_xbzrle_encode *e, const uint64_t *gpas,
		    unsigned int n, bool clear, uint32_t max_delta)
{
	struct kvm_xbzrle_encode want = *in;
	struct args *a = l->priv;

	a->calls[V_ENCARG]++;
	want.npages_done = e->npages_done;
	want.records_used = e->records_used;
	if (memcmp(&want, e, sizeof(want)))
		leak_violation(l, &a->violations[V_ENCARG],
			       "ENCODE changed input fields: %s",
			       leak_hex((const uint8_t *)e, sizeof(*e)));
	arg_untouched(l, V_ENCARG, sizeof(*e), sizeof(*e));
}

static void stats(struct leak *l, size_t size)
{
	const struct kvm_xbzrle_stats *s = (const void *)l->argpage;
	struct args *a = l->priv;
	unsigned int ncounters = 13, i;
	const __u64 *c;

	a->calls[V_STATS]++;
	arg_untouched(l, V_STATS, sizeof(*s), size);
	if (s->size != size || s->flags)
		leak_violation(l, &a->violations[V_STATS],
			       "GET_STATS: size %u flags 0x%x on return",
			       s->size, s->flags);
	c = &s->pages;
	for (i = 0; i < ncounters; i++)
		if (c[i] >= 1ULL << 40)
			leak_violation(l, &a->violations[V_STATS],
				       "GET_STATS: counter %u is 0x%llx", i,
				       (unsigned long long)c[i]);
	if (s->pages != s->zero_pages + s->unchanged_pages + s->xbzrle_pages +
			s->raw_pages ||
	    s->cache_hits + s->cache_misses != s->pages - s->zero_pages ||
	    s->raw_pages != s->cache_misses + s->overflows ||
	    s->cache_bytes > s->cache_size)
		leak_violation(l, &a->violations[V_STATS],
			       "GET_STATS: counters inconsistent: %s",
			       leak_hex((const uint8_t *)s, 64));
}

static void set_cache(struct leak *l, uint32_t flags, uint64_t bytes,
		      size_t size)
{
	const struct kvm_xbzrle_cache *c = (const void *)l->argpage;
	struct args *a = l->priv;

	a->calls[V_CACHE]++;
	arg_untouched(l, V_CACHE, sizeof(*c), size);
	if (c->size != size || c->flags != flags || c->reserved[0] ||
	    c->reserved[1] || c->cache_size != (bytes & ~(PG - 1)))
		leak_violation(l, &a->violations[V_CACHE],
			       "SET_CACHE: %s", leak_hex((const uint8_t *)c, sizeof(*c)));
}

static void caps(struct leak *l, size_t size)
{
	const struct kvm_xbzrle_caps *c = (const void *)l->argpage;
	struct args *a = l->priv;

	a->calls[V_CAPS]++;
	arg_untouched(l, V_CAPS, sizeof(*c), size);
	if (c->size != size || c->flags != KVM_XBZRLE_CAPS_VM_FD ||
	    c->vm_fd != l->vm.fd ||
	    c->api_version != KVM_XBZRLE_API_VERSION ||
	    c->page_size != PG || c->reserved[0] || c->reserved[1] ||
	    c->reserved[2])
		leak_violation(l, &a->violations[V_CAPS],
			       "GET_CAPS: %s", leak_hex((const uint8_t *)c, sizeof(*c)));
}

static const struct leak_hooks args_hooks = {
	.encoded = encoded,
	.stats = stats,
	.set_cache = set_cache,
	.caps = caps,
};

FIXTURE(leak_args) {
	struct leak l;
	struct args a;
};

FIXTURE_SETUP(leak_args)
{
	ASSERT_EQ(0, leak_setup(&self->l)) TH_LOG("%s", kvm_util_error());
}

FIXTURE_TEARDOWN(leak_args)
{
	leak_free(&self->l);
}

TEST_F_TIMEOUT(leak_args, structures_under_churn, LEAK_TIMEOUT_S)
{
	struct args *a = &self->a;
	struct leak *l = &self->l;
	unsigned int k;
	int bad;

	ASSERT_EQ(0, leak_run(l, &args_hooks, a))
		TH_LOG("%s", kvm_util_error());
	ksft_print_msg("calls checked: %lu ENCODE, %lu GET_STATS, %lu SET_CACHE, %lu GET_CAPS\n",
		       a->calls[V_ENCARG], a->calls[V_STATS], a->calls[V_CACHE],
		       a->calls[V_CAPS]);

	for (k = 0; k < V_NR; k++)
		EXPECT_TRUE(leak_point(!a->violations[k], "%s (%lu violations)",
				       vpoint[k], a->violations[k]));
	/* every kind of call was made, so that none of the above is vacuous */
	EXPECT_TRUE(a->calls[V_ENCARG] && a->calls[V_STATS] &&
		    a->calls[V_CACHE] && a->calls[V_CAPS]);

	/* the poison contexts again, then the last check */
	ASSERT_EQ(0, leak_close_and_churn(l)) TH_LOG("%s", kvm_util_error());
	bad = leak_kmsg_problems(l);
	if (bad > 0)
		ksft_print_msg("%s\n", kvm_util_error());
	if (bad < 0)
		SKIP_UNLESS_FAILED(return, "/dev/kmsg not readable: no kernel warning during the run");
	EXPECT_TRUE(leak_point(!bad, "no kernel warning logged during the run (%d lines)",
			       bad));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
