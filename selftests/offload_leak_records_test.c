// SPDX-License-Identifier: GPL-2.0
/*
 * offload_leak_records_test - no host memory in a stream: the records.
 *
 * Every byte the module hands to userspace must be a byte of the guest's
 * pages, of the encoding, or of the documented outputs.  The rounds of
 * lib/leak_util.c (include/leak_util.h) fill freed kernel memory with a
 * marker (0xC3) before and between ENCODE calls (memfd and pipe pages,
 * kmalloc-64 to kmalloc-4k objects, closed contexts that encoded a VM
 * full of the marker, drop_caches) while guest pages hold only bytes
 * 0x00-0x3f.  The record buffer is filled with a sentinel (0xA5) before
 * each ENCODE, and this test checks every record:
 *
 *   exact       header reserved 0, gpa the list's, RAW data equal to the
 *               guest page, an XBZRLE delta byte for byte what the
 *               project's encoder makes of the destination's copy and the
 *               guest page (and decoding to the guest page), ZERO and
 *               UNCHANGED right;
 *   padding     the padding after each record still the sentinel;
 *   tail        everything after records_used still the sentinel (with
 *               KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, bytes of the
 *               KVM_CLEAR_DIRTY_LOG argument the module documents building
 *               there are allowed too, computed exactly);
 *   kinds       RAW, XBZRLE, ZERO, UNCHANGED, overflows (small max_delta)
 *               and evictions (a small cache) all occur;
 *   reclaimed   drop_caches reclaimed bases of the context (whose next
 *               pages then come from the allocator again);
 *   destination the context's destination copy equals guest memory at
 *               the end;
 *   quiet       no kernel warning logged during the run;
 *   marker      the marker never appears where a record or the sentinel
 *               belongs.
 *
 * The argument structures of the same rounds are offload_leak_args_test.
 * Debian's kernels zero allocations (init_on_alloc), so there a leak of
 * freshly allocated memory shows zeros, which the exact comparisons catch
 * as well; the debug kernel does not zero them, and the marker shows.
 * On the kernel's kselftest harness: one case, the rounds and their
 * checks; a missing module fails the set-up.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "leak_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"
#include "xbzrle_util.h"

#define PG		LEAK_PG
#define NP		LEAK_NP
#define RECBUF_SIZE	LEAK_RECBUF_SIZE

enum vkind {
	V_RECORD, V_PADDING, V_TAIL, V_NR
};

/* What the stream made of guest memory, and what was found in it. */
struct stream {
	struct xbz_dest dest;
	bool sent[NP];		/* the context returned the page */
	unsigned long violations[V_NR];
	unsigned long ntype[5], records, overflow_raw;
	unsigned long marker_bytes, scratch_padding;
};

/* Bytes of the KVM_CLEAR_DIRTY_LOG argument the module builds at records. */
static size_t clear_scratch(struct leak *l, const uint64_t *gpas,
			    unsigned int n, uint8_t *out, size_t max)
{
	struct kvm_clear_dirty_log log = { .slot = LEAK_SLOT };
	uint64_t first, last = 0, off, bitmap[NP / 64 + 1] = { 0 };
	unsigned int i;
	size_t len;

	first = (gpas[0] - LEAK_GPA) / PG & ~63ULL;
	for (i = 0; i < n; i++) {
		off = (gpas[i] - LEAK_GPA) / PG;
		last = off > last ? off : last;
		bitmap[(off - first) / 64] |= 1ULL << ((off - first) % 64);
	}
	log.first_page = first;
	log.num_pages = ((last + 1 - first + 63) & ~63ULL);
	if (log.num_pages > NP - first)
		log.num_pages = NP - first;
	log.dirty_bitmap = l->recbuf + sizeof(log);
	len = sizeof(log) + ((log.num_pages + 63) & ~63ULL) / 8;
	if (len > max)
		len = max;
	memcpy(out, &log, sizeof(log));
	memcpy(out + sizeof(log), bitmap, len - sizeof(log));
	return len;
}

/* Checks one record and applies it to the destination. */
static void check_record(struct leak *l, uint32_t i, uint32_t off,
			 const struct kvm_xbzrle_record *h, uint32_t max_delta)
{
	static uint8_t delta[PG];
	struct stream *st = l->priv;
	const uint8_t *data = l->recbuf + off + sizeof(*h);
	uint64_t idx = (h->gpa - LEAK_GPA) / PG;
	uint8_t *d = xbz_dest_page(&st->dest, h->gpa);
	uint8_t *g = l->mem + idx * PG;
	bool zero = g[0] == 0 && !memcmp(g, g + 1, PG - 1);
	uint32_t b;
	int r;

	st->records++;
	st->ntype[h->type]++;
	switch (h->type) {
	case KVM_XBZRLE_RECORD_ZERO:
		if (h->len || !zero)
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u: ZERO len %u for a %szero page",
				       i, h->len, zero ? "" : "non-");
		memset(d, 0, PG);
		break;
	case KVM_XBZRLE_RECORD_UNCHANGED:
		if (h->len || !st->sent[idx] || memcmp(d, g, PG))
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u: UNCHANGED len %u, %s, page %s the destination's",
				       i, h->len, st->sent[idx] ? "sent before" : "never sent",
				       memcmp(d, g, PG) ? "differs from" : "equals");
		break;
	case KVM_XBZRLE_RECORD_XBZRLE:
		r = xbzrle_encode(d, g, PG, delta, max_delta);
		if (!st->sent[idx] || zero || r != (int)h->len ||
		    memcmp(delta, data, h->len)) {
			for (b = 0; b < h->len && b < (uint32_t)(r > 0 ? r : 0) &&
			     delta[b] == data[b]; b++)
				;
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u (gpa 0x%llx): XBZRLE of %u bytes, the encoder makes %d; first difference at %u: %s",
				       i, (unsigned long long)h->gpa, h->len, r, b,
				       leak_hex(data + b, h->len - b < 16 ? h->len - b : 16));
		}
		if (h->len > PG || xbzrle_decode(data, h->len, d, PG) < 0 ||
		    memcmp(d, g, PG))
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u: XBZRLE delta does not decode to the guest page",
				       i);
		break;
	case KVM_XBZRLE_RECORD_RAW:
		if (h->len != PG || memcmp(data, g, PG)) {
			for (b = 0; b < PG && data[b] == g[b]; b++)
				;
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u (gpa 0x%llx): RAW len %u differs from the guest page at %u: %s",
				       i, (unsigned long long)h->gpa, h->len, b,
				       leak_hex(data + b, 16));
		}
		/* evicted, reclaimed or an overflow */
		if (st->sent[idx])
			st->overflow_raw++;
		memcpy(d, g, PG);
		break;
	}
	st->sent[idx] = true;
}

/*
 * Checks the record buffer of one ENCODE and applies it to the
 * destination.  @written marks the bytes the records cover.
 */
static void check_buffer(struct leak *l, const struct kvm_xbzrle_encode *in,
			 const struct kvm_xbzrle_encode *e,
			 const uint64_t *gpas, unsigned int n, bool clear,
			 uint32_t max_delta)
{
	static uint8_t written[RECBUF_SIZE], scratch[512];
	struct stream *st = l->priv;
	uint32_t done = e->npages_done, used = e->records_used;
	uint8_t *recbuf = l->recbuf;
	uint32_t off = 0, i, b;
	size_t slen = 0;
	bool reported;

	if (done != n || used > LEAK_NREC * LEAK_REC_MAX || used % 8) {
		leak_violation(l, &st->violations[V_RECORD],
			       "ENCODE of %u pages: npages_done %u records_used %u",
			       n, done, used);
		return;
	}
	memset(written, 0, sizeof(written));
	for (i = 0; i < done; i++) {
		struct kvm_xbzrle_record h;

		memcpy(&h, recbuf + off, sizeof(h));
		if (h.gpa != gpas[i] || h.reserved || off + sizeof(h) + h.len > used ||
		    h.type < KVM_XBZRLE_RECORD_ZERO || h.type > KVM_XBZRLE_RECORD_RAW) {
			leak_violation(l, &st->violations[V_RECORD],
				       "record %u at %u: header %s (gpa 0x%llx expected)",
				       i, off, leak_hex(recbuf + off, sizeof(h)),
				       (unsigned long long)gpas[i]);
			return;
		}
		check_record(l, i, off, &h, max_delta);
		memset(written + off, 1, sizeof(h) + h.len);
		off = (off + sizeof(h) + h.len + 7) & ~7U;
	}
	if (off != used)
		leak_violation(l, &st->violations[V_RECORD],
			       "records_used %u, the records end at %u", used, off);

	if (clear)
		slen = clear_scratch(l, gpas, n, scratch, sizeof(scratch));
	/* one message per buffer, but every marker byte counted */
	reported = false;
	for (b = 0; b < RECBUF_SIZE; b++) {
		uint8_t v = recbuf[b];

		if (written[b] || v == LEAK_SENTINEL)
			continue;
		if (b < slen && v == scratch[b]) {
			st->scratch_padding += b < used;
			continue;
		}
		if (v == LEAK_MARKER)
			st->marker_bytes++;
		if (reported)
			continue;
		reported = true;
		if (b < used)
			leak_violation(l, &st->violations[V_PADDING],
				       "padding byte %u (records_used %u) is 0x%02x, not the sentinel%s: %s",
				       b, used, v, b < slen ? " or the clear argument" : "",
				       leak_hex(recbuf + b, 16));
		else
			leak_violation(l, &st->violations[V_TAIL],
				       "byte %u past records_used %u is 0x%02x, not the sentinel%s: %s",
				       b, used, v, b < slen ? " or the clear argument" : "",
				       leak_hex(recbuf + b, 16));
	}
}

/* A new context has no bases: nothing sent yet. */
static void reopened(struct leak *l)
{
	struct stream *st = l->priv;

	memset(st->sent, 0, sizeof(st->sent));
}

static const struct leak_hooks stream_hooks = {
	.encoded = check_buffer,
	.reopened = reopened,
};

FIXTURE(leak_records) {
	struct leak l;
	struct stream st;
};

FIXTURE_SETUP(leak_records)
{
	ASSERT_EQ(0, leak_setup(&self->l)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_dest_init(&self->st.dest, &self->l.vm))
		TH_LOG("destination: %s", kvm_util_error());
}

FIXTURE_TEARDOWN(leak_records)
{
	xbz_dest_free(&self->st.dest);
	leak_free(&self->l);
}

TEST_F_TIMEOUT(leak_records, stream_under_churn, LEAK_TIMEOUT_S)
{
	struct stream *st = &self->st;
	struct leak *l = &self->l;
	const char *why = NULL;
	int n, bad;

	ASSERT_EQ(0, leak_run(l, &stream_hooks, st))
		TH_LOG("%s", kvm_util_error());
	ksft_print_msg("%lu records: ZERO %lu UNCHANGED %lu XBZRLE %lu RAW %lu (%lu of pages sent before); marker bytes where they must not be: %lu\n",
		       st->records, st->ntype[KVM_XBZRLE_RECORD_ZERO],
		       st->ntype[KVM_XBZRLE_RECORD_UNCHANGED],
		       st->ntype[KVM_XBZRLE_RECORD_XBZRLE],
		       st->ntype[KVM_XBZRLE_RECORD_RAW], st->overflow_raw,
		       st->marker_bytes);
	ksft_print_msg("padding bytes holding the KVM_CLEAR_DIRTY_LOG argument (written before the records): %lu\n",
		       st->scratch_padding);

	EXPECT_TRUE(leak_point(!st->violations[V_RECORD],
			       "every record exact: headers, RAW data the guest page, XBZRLE deltas the encoder's bytes, ZERO/UNCHANGED right (%lu records, %lu violations)",
			       st->records, st->violations[V_RECORD]));
	EXPECT_TRUE(leak_point(!st->violations[V_PADDING],
			       "padding after each record untouched (sentinel) (%lu violations)",
			       st->violations[V_PADDING]));
	EXPECT_TRUE(leak_point(!st->violations[V_TAIL],
			       "record buffer past records_used untouched, or the documented KVM_CLEAR_DIRTY_LOG argument (%lu violations)",
			       st->violations[V_TAIL]));
	EXPECT_TRUE(leak_point(st->ntype[KVM_XBZRLE_RECORD_ZERO] &&
			       st->ntype[KVM_XBZRLE_RECORD_UNCHANGED] &&
			       st->ntype[KVM_XBZRLE_RECORD_XBZRLE] &&
			       st->ntype[KVM_XBZRLE_RECORD_RAW] &&
			       l->overflows && l->evictions,
			       "all record types, overflows and evictions occurred"));
	if (l->drop_caches_ok) {
		EXPECT_TRUE(leak_point(l->reclaimed > 0,
				       "drop_caches reclaimed bases of the context (%lu), recycled pages checked",
				       l->reclaimed));
	} else {
		why = "/proc/sys/vm/drop_caches not writable: drop_caches reclaimed bases";
	}
	n = xbz_dest_compare(&st->dest, &l->vm);
	EXPECT_TRUE(leak_point(n == 0, "the destination copy equals guest memory after the last pass%s%s",
			       WHY_IF(n, kvm_util_error())));

	/* the poison contexts again, then the last checks */
	ASSERT_EQ(0, leak_close_and_churn(l)) TH_LOG("%s", kvm_util_error());
	bad = leak_kmsg_problems(l);
	if (bad > 0)
		ksft_print_msg("%s\n", kvm_util_error());
	if (bad < 0) {
		why = "/dev/kmsg not readable: no kernel warning during the run";
	} else {
		EXPECT_TRUE(leak_point(!bad, "no kernel warning logged during the run (%d lines)",
				       bad));
	}
	EXPECT_TRUE(leak_point(st->marker_bytes == 0,
			       "the marker byte 0x%02x never appeared where a record or the sentinel belongs (%lu)",
			       LEAK_MARKER, st->marker_bytes));
	if (why)
		SKIP_UNLESS_FAILED(return, "%s", why);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
