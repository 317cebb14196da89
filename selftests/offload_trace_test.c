// SPDX-License-Identifier: GPL-2.0
/*
 * offload_trace_test - the kvm_xbzrle tracepoints say what the calls did.
 *
 * Each case's set-up enables events/kvm_xbzrle/ through tracefs (mounted
 * at /sys/kernel/tracing if it is not) over a VM with a 64-page memslot
 * (the first NZERO pages zero, the rest random) and a one-page memslot,
 * and a context bound to it without regions; the case makes calls whose
 * outcome it knows from their results and checks each event's fields
 * against them:
 *
 *   region_set_add_same        SET_REGION adding slot 0 (gpa, npages and
 *                              hva as given), setting it again (same),
 *                              adding slot 1: kvm_xbzrle_region, three;
 *   region_stale_dropped_by_encode
 *                              the region of slot 1, whose memslot KVM
 *                              deleted, dropped (stale) by the next ENCODE;
 *   encode_first_call          ENCODE with CLEAR_DIRTY_LOG of the 64 pages,
 *                              no base: kvm_xbzrle_encode's counts by
 *                              type, npages_done, records_used, misses,
 *                              one KVM_CLEAR_DIRTY_LOG equal the records;
 *   encode_second_call         NCHANGED pages changed: the same, with the
 *                              XBZRLE records' lengths summed;
 *   error_none_on_success      no kvm_xbzrle_error for those two calls;
 *   error_einval               ENCODE with max_delta 0: EINVAL, and
 *                              kvm_xbzrle_error says ioctl=ENCODE err=-22;
 *   cache_drop_on_region_remove
 *                              removing the region: kvm_xbzrle_cache_drop
 *                              of every base it had (GET_STATS'
 *                              cache_bytes before), over its host pages,
 *                              and kvm_xbzrle_region op=remove;
 *   shrink_freed_equals_reclaimed
 *                              drop_caches: the kvm_xbzrle_shrink events'
 *                              freed add up to what GET_STATS' reclaimed
 *                              grew by;
 *   disabled_no_event          events disabled, an ENCODE leaves none.
 *
 * The teardown disables the events and clears the buffer again (the set-up
 * enables them last, so a set-up that fails leaves them off).  On the
 * kernel's kselftest harness; needs root (tracefs; a skip otherwise) and
 * the module with manual dirty-log protection (a failure without), and
 * must be the only user of the module while it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "guest_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		64U		/* one KVM_CLEAR_DIRTY_LOG span */
#define NZERO		16U		/* pages [0, NZERO) stay zero */
#define NCHANGED	16U		/* then NCHANGED get one new byte */
#define GPA		0x100000ULL
#define GPA_GONE	0x800000ULL
#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_BUF	(1 << 20)
#define RECORDS_SIZE	(NPAGES * KVM_XBZRLE_RECORD_MAX_SIZE)
#define SHRINK_TIMEOUT_S 60		/* drop_caches walks every shrinker */

struct recs {
	unsigned int n[KVM_XBZRLE_RECORD_RAW + 1];	/* by KVM_XBZRLE_RECORD_* */
	unsigned long long delta;	/* XBZRLE bytes */
};

FIXTURE(trace) {
	struct kvm_vm vm;
	int xfd;
	uint8_t *mem;			/* slot 0's memory */
	uint64_t gpas[NPAGES];
	uint8_t *records;		/* RECORDS_SIZE bytes */
	char *trace;			/* the buffer taken last, TRACE_BUF */
	struct xbz_encode_result res;	/* of the last encode() */
	struct recs t;			/* its records by type */
};

FIXTURE_SETUP(trace)
{
	unsigned int i, seed = 7;
	struct stat st;

	self->xfd = -1;
	if (geteuid())
		SKIP(return, "not root: tracefs is root's");
	/* the module is what is tested: its absence is a failure */
	ASSERT_EQ(0, gmig_check_offload(true)) TH_LOG("%s", kvm_util_error());
	ASSERT_TRUE(!stat(TRACEFS "/events", &st) ||
		    !mount("nodev", TRACEFS, "tracefs", 0, NULL))
		TH_LOG("mount tracefs on " TRACEFS ": %s", strerror(errno));
	ASSERT_EQ(0, stat(TRACEFS "/events/kvm_xbzrle", &st))
		TH_LOG(TRACEFS "/events/kvm_xbzrle: %s: the module has no tracepoints",
		       strerror(errno));

	self->records = aligned_alloc(8, RECORDS_SIZE);
	self->trace = malloc(TRACE_BUF);
	ASSERT_TRUE(self->records && self->trace);
	ASSERT_EQ(0, vm_create(&self->vm, VM_MANUAL_PROTECT))
		TH_LOG("VM: %s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm, 0, GPA, NPAGES * PAGE))
		TH_LOG("memslot 0: %s", kvm_util_error());
	ASSERT_EQ(0, vm_add_memslot(&self->vm, 1, GPA_GONE, PAGE))
		TH_LOG("memslot 1: %s", kvm_util_error());
	self->mem = vm_gpa_to_hva(&self->vm, GPA);
	fill_random(self->mem + NZERO * PAGE, (NPAGES - NZERO) * PAGE, &seed);
	for (i = 0; i < NPAGES; i++)
		self->gpas[i] = GPA + (uint64_t)i * PAGE;
	self->xfd = xbz_open();
	ASSERT_LE(0, self->xfd) TH_LOG("open: %s", kvm_util_error());
	ASSERT_EQ(0, xbz_bind(self->xfd, self->vm.fd))
		TH_LOG("BIND: %s", kvm_util_error());

	/* last: a set-up that fails before leaves the events as they were */
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""))
		TH_LOG("emptying " TRACEFS "/trace: %s", strerror(errno));
	ASSERT_EQ(0, write_file(TRACEFS "/events/kvm_xbzrle/enable", "1"))
		TH_LOG("enabling events/kvm_xbzrle: %s", strerror(errno));
}

FIXTURE_TEARDOWN(trace)
{
	/* the case's _exit() skips atexit(): the events go off here */
	EXPECT_EQ(0, write_file(TRACEFS "/events/kvm_xbzrle/enable", "0"))
		TH_LOG("disabling events/kvm_xbzrle: %s", strerror(errno));
	EXPECT_EQ(0, write_file(TRACEFS "/trace", ""))
		TH_LOG("emptying " TRACEFS "/trace: %s", strerror(errno));
	if (self->xfd >= 0)
		close(self->xfd);
	vm_destroy(&self->vm);
	free(self->records);
	free(self->trace);
}

/* Reads the buffer (all of it: tracefs gives a page per read), empties it. */
static void take_trace(struct __test_metadata *_metadata,
		       FIXTURE_DATA(trace) *self)
{
	int fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	ASSERT_LE(0, fd) TH_LOG("open " TRACEFS "/trace: %s", strerror(errno));
	while ((n = read(fd, self->trace + len, TRACE_BUF - 1 - len)) > 0)
		len += n;
	ASSERT_LE(0, n) TH_LOG("read " TRACEFS "/trace: %s", strerror(errno));
	ASSERT_NE((size_t)TRACE_BUF - 1, len)
		TH_LOG(TRACEFS "/trace holds more than %d bytes", TRACE_BUF);
	self->trace[len] = 0;
	close(fd);
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""))
		TH_LOG("emptying " TRACEFS "/trace: %s", strerror(errno));
}

/*
 * The @nth (from 0) line of event @name in the buffer taken last, from
 * the event's fields on, or NULL.
 */
static const char *event(FIXTURE_DATA(trace) *self, const char *name,
			 unsigned int nth)
{
	const char *p = self->trace;
	char tag[64];

	snprintf(tag, sizeof(tag), " %s: ", name);
	while ((p = strstr(p, tag))) {
		p += strlen(tag);
		if (!nth--)
			return p;
	}
	return NULL;
}

/* The value of numeric field @key of an event line; -1 if it is absent. */
static long long field(const char *ev, const char *key)
{
	const char *end = strchr(ev, '\n'), *p = ev;
	size_t n = strlen(key);

	while (p && (!end || p < end)) {
		if (!strncmp(p, key, n) && p[n] == '=')
			return strtoll(p + n + 1, NULL, 0);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return -1;
}

/* Whether string field @key of an event line is @value. */
static bool field_is(const char *ev, const char *key, const char *value)
{
	const char *end = strchr(ev, '\n'), *p;
	char want[64];

	snprintf(want, sizeof(want), "%s=%s", key, value);
	p = strstr(ev, want);
	return p && (!end || p < end) &&
	       (p[strlen(want)] == ' ' || p[strlen(want)] == '\n');
}

/* An event line as a diagnostic, up to its end. */
static int line_len(const char *ev)
{
	const char *end = strchr(ev, '\n');

	return end ? (int)(end - ev) : 200;
}

/* event(), logged; a failure of the case if there is none. */
static const char *must_event(struct __test_metadata *_metadata,
			      FIXTURE_DATA(trace) *self, const char *name,
			      unsigned int nth)
{
	const char *ev = event(self, name, nth);

	ASSERT_NE(NULL, ev) TH_LOG("no %s event number %u in the buffer",
				   name, nth);
	TH_LOG("%s: %.*s", name, line_len(ev), ev);
	return ev;
}

/* ENCODE of the NPAGES pages with the clear, its records tallied: 0 or -1. */
static int encode(FIXTURE_DATA(trace) *self)
{
	struct xbz_encode_result *res = &self->res;
	struct recs *t = &self->t;
	struct xbz_record rec;
	uint32_t off = 0;
	int r;

	memset(t, 0, sizeof(*t));
	if (xbz_encode(self->xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG,
		       self->gpas, NPAGES, self->records, RECORDS_SIZE, PAGE,
		       res))
		return -1;
	while ((r = xbz_next_record(self->records, res->records_used, &off,
				    &rec)) == 1) {
		if (rec.type <= KVM_XBZRLE_RECORD_RAW)
			t->n[rec.type]++;
		if (rec.type == KVM_XBZRLE_RECORD_XBZRLE)
			t->delta += rec.len;
	}
	return r;
}

/* The encode event @ev against the call's result and records. */
static void expect_encode(struct __test_metadata *_metadata,
			  FIXTURE_DATA(trace) *self, const char *ev,
			  unsigned int misses)
{
	const struct xbz_encode_result *res = &self->res;
	const struct recs *t = &self->t;

	EXPECT_EQ(NPAGES, field(ev, "asked"));
	EXPECT_EQ(res->npages_done, field(ev, "done"));
	EXPECT_EQ(res->records_used, field(ev, "used"));
	EXPECT_EQ(t->n[KVM_XBZRLE_RECORD_ZERO], field(ev, "zero"));
	EXPECT_EQ(t->n[KVM_XBZRLE_RECORD_UNCHANGED], field(ev, "unchanged"));
	EXPECT_EQ(t->n[KVM_XBZRLE_RECORD_XBZRLE], field(ev, "xbzrle"));
	EXPECT_EQ(t->n[KVM_XBZRLE_RECORD_RAW], field(ev, "raw"));
	EXPECT_EQ(misses, field(ev, "misses"));
	EXPECT_EQ((long long)t->delta, field(ev, "delta_bytes"));
	EXPECT_EQ(1, field(ev, "clears"));
	EXPECT_EQ(0, field(ev, "retries"));
	EXPECT_LT(0, field(ev, "ns"));
	EXPECT_EQ(0, field(ev, "ret"));
}

/* SET_REGION: slot 0 added, set again with the same values, slot 1 added. */
static void set_regions(struct __test_metadata *_metadata,
			FIXTURE_DATA(trace) *self)
{
	ASSERT_EQ(0, xbz_set_region(self->xfd, 0, GPA, NPAGES * PAGE, self->mem))
		TH_LOG("SET_REGION slot 0: %s", kvm_util_error());
	ASSERT_EQ(0, xbz_set_region(self->xfd, 0, GPA, NPAGES * PAGE, self->mem))
		TH_LOG("SET_REGION slot 0 again: %s", kvm_util_error());
	ASSERT_EQ(0, xbz_set_region(self->xfd, 1, GPA_GONE, PAGE,
				    vm_gpa_to_hva(&self->vm, GPA_GONE)))
		TH_LOG("SET_REGION slot 1: %s", kvm_util_error());
}

/*
 * The regions set (their events taken), memslot 1 deleted, and the first
 * ENCODE (no base yet), its events in the buffer.
 */
static void first_round(struct __test_metadata *_metadata,
			FIXTURE_DATA(trace) *self)
{
	set_regions(_metadata, self);
	take_trace(_metadata, self);
	ASSERT_EQ(0, vm_remove_memslot(&self->vm, 1))
		TH_LOG("delete memslot 1: %s", kvm_util_error());
	ASSERT_EQ(0, encode(self)) TH_LOG("ENCODE: %s", kvm_util_error());
	take_trace(_metadata, self);
}

/* After first_round(): NCHANGED pages get a new byte; ENCODE again. */
static void second_round(struct __test_metadata *_metadata,
			 FIXTURE_DATA(trace) *self)
{
	unsigned int i;

	for (i = NZERO; i < NZERO + NCHANGED; i++)
		self->mem[(size_t)i * PAGE + 100 + i] ^= 0x5a;
	ASSERT_EQ(0, encode(self)) TH_LOG("ENCODE: %s", kvm_util_error());
	take_trace(_metadata, self);
}

TEST_F(trace, region_set_add_same)
{
	const char *ev;

	set_regions(_metadata, self);
	take_trace(_metadata, self);
	ev = must_event(_metadata, self, "kvm_xbzrle_region", 0);
	EXPECT_TRUE(field_is(ev, "op", "add"));
	EXPECT_EQ(0, field(ev, "slot"));
	EXPECT_EQ((long long)GPA, field(ev, "gpa"));
	EXPECT_EQ(NPAGES, field(ev, "npages"));
	EXPECT_EQ((long long)(uintptr_t)self->mem, field(ev, "hva"));
	ev = must_event(_metadata, self, "kvm_xbzrle_region", 1);
	EXPECT_TRUE(field_is(ev, "op", "same"));
	EXPECT_EQ(0, field(ev, "slot"));
	ev = must_event(_metadata, self, "kvm_xbzrle_region", 2);
	EXPECT_TRUE(field_is(ev, "op", "add"));
	EXPECT_EQ(1, field(ev, "slot"));
	EXPECT_EQ(NULL, event(self, "kvm_xbzrle_region", 3))
		TH_LOG("a fourth kvm_xbzrle_region event for three calls");
}

TEST_F(trace, region_stale_dropped_by_encode)
{
	const char *ev;

	first_round(_metadata, self);
	ev = must_event(_metadata, self, "kvm_xbzrle_region", 0);
	EXPECT_TRUE(field_is(ev, "op", "stale"));
	EXPECT_EQ(1, field(ev, "slot"));
	EXPECT_EQ((long long)GPA_GONE, field(ev, "gpa"));
}

TEST_F(trace, encode_first_call)
{
	const unsigned int *n = self->t.n;
	const char *ev;

	first_round(_metadata, self);
	ev = must_event(_metadata, self, "kvm_xbzrle_encode", 0);
	TH_LOG("%u ZERO, %u RAW, %u bytes used", n[KVM_XBZRLE_RECORD_ZERO],
	       n[KVM_XBZRLE_RECORD_RAW], self->res.records_used);
	EXPECT_EQ(NPAGES, self->res.npages_done);
	/* no base yet: every page that is not zero is RAW and a miss */
	EXPECT_EQ(NPAGES - NZERO, n[KVM_XBZRLE_RECORD_RAW]);
	expect_encode(_metadata, self, ev, NPAGES - NZERO);
}

TEST_F(trace, encode_second_call)
{
	const unsigned int *n = self->t.n;
	const char *ev;

	first_round(_metadata, self);
	second_round(_metadata, self);
	ev = must_event(_metadata, self, "kvm_xbzrle_encode", 0);
	TH_LOG("%u ZERO, %u UNCHANGED, %u XBZRLE of %llu bytes",
	       n[KVM_XBZRLE_RECORD_ZERO], n[KVM_XBZRLE_RECORD_UNCHANGED],
	       n[KVM_XBZRLE_RECORD_XBZRLE], self->t.delta);
	EXPECT_EQ(NCHANGED, n[KVM_XBZRLE_RECORD_XBZRLE]);
	EXPECT_EQ(NPAGES - NZERO - NCHANGED, n[KVM_XBZRLE_RECORD_UNCHANGED]);
	expect_encode(_metadata, self, ev, 0);
}

TEST_F(trace, error_none_on_success)
{
	first_round(_metadata, self);
	EXPECT_EQ(NULL, event(self, "kvm_xbzrle_error", 0))
		TH_LOG("kvm_xbzrle_error after the first ENCODE, which succeeded");
	second_round(_metadata, self);
	EXPECT_EQ(NULL, event(self, "kvm_xbzrle_error", 0))
		TH_LOG("kvm_xbzrle_error after the second ENCODE, which succeeded");
}

TEST_F(trace, error_einval)
{
	const char *ev;
	int r, err;

	first_round(_metadata, self);
	second_round(_metadata, self);
	r = xbz_encode(self->xfd, 0, self->gpas, 1, self->records,
		       RECORDS_SIZE, 0, &self->res);
	err = errno;
	take_trace(_metadata, self);
	EXPECT_EQ(-1, r) TH_LOG("ENCODE with max_delta 0 succeeded");
	EXPECT_EQ(EINVAL, err) TH_LOG("ENCODE with max_delta 0: %s", strerror(err));
	ev = must_event(_metadata, self, "kvm_xbzrle_error", 0);
	EXPECT_TRUE(field_is(ev, "ioctl", "ENCODE"));
	EXPECT_EQ(-EINVAL, field(ev, "err"));
	EXPECT_EQ(NULL, event(self, "kvm_xbzrle_encode", 0))
		TH_LOG("kvm_xbzrle_encode for a call that failed");
}

TEST_F(trace, cache_drop_on_region_remove)
{
	struct kvm_xbzrle_stats s0;
	const char *ev;

	first_round(_metadata, self);
	second_round(_metadata, self);
	ASSERT_EQ(0, xbz_get_stats(self->xfd, &s0))
		TH_LOG("GET_STATS: %s", kvm_util_error());
	ASSERT_NE(0ULL, s0.cache_bytes) TH_LOG("two rounds sent and no base cached");
	ASSERT_EQ(0, xbz_set_region(self->xfd, 0, GPA, 0, self->mem))
		TH_LOG("SET_REGION removing slot 0: %s", kvm_util_error());
	take_trace(_metadata, self);
	ev = must_event(_metadata, self, "kvm_xbzrle_cache_drop", 0);
	/* every base of the region, over the host pages of its range */
	EXPECT_EQ((long long)(s0.cache_bytes / PAGE), field(ev, "pages"));
	EXPECT_EQ((long long)((uintptr_t)self->mem / PAGE), field(ev, "first"));
	EXPECT_EQ((long long)((uintptr_t)self->mem / PAGE + NPAGES - 1),
		  field(ev, "last"));
	ev = must_event(_metadata, self, "kvm_xbzrle_region", 0);
	EXPECT_TRUE(field_is(ev, "op", "remove"));
	EXPECT_EQ(0, field(ev, "slot"));
}

TEST_F_TIMEOUT(trace, shrink_freed_equals_reclaimed, SHRINK_TIMEOUT_S)
{
	struct kvm_xbzrle_stats s0, s1;
	unsigned long long freed = 0;
	const char *ev;
	unsigned int i;

	first_round(_metadata, self);
	ASSERT_EQ(0, xbz_get_stats(self->xfd, &s0))
		TH_LOG("GET_STATS: %s", kvm_util_error());
	ASSERT_EQ(0, drop_caches()) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, xbz_get_stats(self->xfd, &s1))
		TH_LOG("GET_STATS: %s", kvm_util_error());
	take_trace(_metadata, self);
	for (i = 0; (ev = event(self, "kvm_xbzrle_shrink", i)); i++)
		freed += field(ev, "freed");
	TH_LOG("drop_caches: %u shrink events, %llu freed; reclaimed %llu -> %llu",
	       i, freed, (unsigned long long)s0.reclaimed,
	       (unsigned long long)s1.reclaimed);
	EXPECT_LT(0U, i);
	EXPECT_LT(s0.reclaimed, s1.reclaimed) TH_LOG("drop_caches reclaimed nothing");
	EXPECT_EQ(s1.reclaimed - s0.reclaimed, freed);
}

TEST_F(trace, disabled_no_event)
{
	first_round(_metadata, self);
	ASSERT_EQ(0, write_file(TRACEFS "/events/kvm_xbzrle/enable", "0"))
		TH_LOG("disabling events/kvm_xbzrle: %s", strerror(errno));
	ASSERT_EQ(0, encode(self)) TH_LOG("ENCODE: %s", kvm_util_error());
	take_trace(_metadata, self);
	EXPECT_EQ(NULL, strstr(self->trace, " kvm_xbzrle_"))
		TH_LOG("an event while disabled: %.200s", strstr(self->trace, " kvm_xbzrle_"));
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
