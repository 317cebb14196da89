// SPDX-License-Identifier: GPL-2.0
/*
 * offload_trace_test - the kvm_xbzrle tracepoints say what the calls did.
 *
 * Enables events/kvm_xbzrle/ through tracefs (mounted at
 * /sys/kernel/tracing if it is not), makes calls whose outcome the test
 * knows from their results, and checks each event's fields against them:
 *
 *   kvm_xbzrle_region      SET_REGION adding a region, setting it again
 *                          with the same values, removing it, and a region
 *                          whose memslot KVM deleted, dropped by ENCODE;
 *   kvm_xbzrle_encode      two ENCODE calls with CLEAR_DIRTY_LOG over one
 *                          64-page memslot: the records of each, counted
 *                          by type, and npages_done, records_used, the
 *                          sum of XBZRLE lengths, one KVM_CLEAR_DIRTY_LOG;
 *   kvm_xbzrle_error       an ENCODE with max_delta 0: EINVAL;
 *   kvm_xbzrle_cache_drop  removing the region drops every base it had
 *                          (GET_STATS' cache_bytes before);
 *   kvm_xbzrle_shrink      drop_caches: the events' freed add up to what
 *                          GET_STATS' reclaimed grew by.
 *
 * The events are disabled and the buffer cleared again at exit.  The test
 * must be the only user of the module while it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define NPAGES		64		/* one KVM_CLEAR_DIRTY_LOG span */
#define NZERO		16		/* pages [0, NZERO) stay zero */
#define NCHANGED	16		/* then NCHANGED get one new byte */
#define GPA		0x100000ULL
#define GPA_GONE	0x800000ULL
#define TIMEOUT_S	60
#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_BUF	(1 << 20)

static uint8_t records[NPAGES * KVM_XBZRLE_RECORD_MAX_SIZE]
	__attribute__((aligned(8)));
static uint64_t gpas[NPAGES];
static char trace[TRACE_BUF];

/* Writes @s to a tracefs file; "" empties it (O_TRUNC, as echo > does). */
static int tracefs_put(const char *file, const char *s)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = *s ? write(fd, s, strlen(s)) : 0;
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void tracefs_write(const char *file, const char *s)
{
	if (tracefs_put(file, s))
		tap_bail_out("writing '%s' to " TRACEFS "/%s: %s", s, file,
			     strerror(errno));
}

static void events_off(void)
{
	tracefs_put("events/kvm_xbzrle/enable", "0");
	tracefs_put("trace", "");
}

/* tracefs there, the module's events in it, enabled, the buffer empty. */
static void events_on(void)
{
	struct stat st;

	TEST_ASSERT(!stat(TRACEFS "/events", &st) ||
		    !mount("nodev", TRACEFS, "tracefs", 0, NULL),
		    "mount tracefs on " TRACEFS ": %s", strerror(errno));
	TEST_ASSERT(!stat(TRACEFS "/events/kvm_xbzrle", &st),
		    TRACEFS "/events/kvm_xbzrle: %s: the module has no tracepoints",
		    strerror(errno));
	atexit(events_off);
	tracefs_write("trace", "");
	tracefs_write("events/kvm_xbzrle/enable", "1");
}

/* Reads the buffer (all of it: tracefs gives a page per read), empties it. */
static void take_trace(void)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC);

	TEST_ASSERT(fd >= 0, "open " TRACEFS "/trace: %s", strerror(errno));
	while ((n = read(fd, trace + len, sizeof(trace) - 1 - len)) > 0)
		len += n;
	TEST_ASSERT(n >= 0, "read " TRACEFS "/trace: %s", strerror(errno));
	TEST_ASSERT(len != sizeof(trace) - 1,
		    TRACEFS "/trace holds more than %d bytes", TRACE_BUF);
	trace[len] = 0;
	close(fd);
	tracefs_write("trace", "");
}

/*
 * The @nth (from 0) line of event @name in the buffer taken last, from
 * the event's fields on, or NULL.
 */
static const char *event(const char *name, unsigned int nth)
{
	char tag[64];
	const char *p = trace;

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
	char want[64];
	const char *end = strchr(ev, '\n'), *p;

	snprintf(want, sizeof(want), "%s=%s", key, value);
	p = strstr(ev, want);
	return p && (!end || p < end) &&
	       (p[strlen(want)] == ' ' || p[strlen(want)] == '\n');
}

struct tally {
	unsigned int n[KVM_XBZRLE_RECORD_RAW + 1];	/* by KVM_XBZRLE_RECORD_* */
	unsigned long long delta;	/* XBZRLE bytes */
};

static int encode(int xfd, struct xbz_encode_result *res, struct tally *t)
{
	struct xbz_record rec;
	uint32_t off = 0;
	int r;

	memset(t, 0, sizeof(*t));
	if (xbz_encode(xfd, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG, gpas, NPAGES,
		       records, sizeof(records), PAGE, res))
		return -1;
	while ((r = xbz_next_record(records, res->records_used, &off, &rec)) == 1) {
		if (rec.type <= KVM_XBZRLE_RECORD_RAW)
			t->n[rec.type]++;
		if (rec.type == KVM_XBZRLE_RECORD_XBZRLE)
			t->delta += rec.len;
	}
	return r;
}

/* The encode event @ev against the call's result and records. */
static bool encode_matches(const char *ev, const struct xbz_encode_result *res,
			   const struct tally *t, unsigned int misses)
{
	return ev && field(ev, "asked") == NPAGES &&
	       field(ev, "done") == res->npages_done &&
	       field(ev, "used") == res->records_used &&
	       field(ev, "zero") == t->n[KVM_XBZRLE_RECORD_ZERO] &&
	       field(ev, "unchanged") == t->n[KVM_XBZRLE_RECORD_UNCHANGED] &&
	       field(ev, "xbzrle") == t->n[KVM_XBZRLE_RECORD_XBZRLE] &&
	       field(ev, "raw") == t->n[KVM_XBZRLE_RECORD_RAW] &&
	       field(ev, "misses") == misses &&
	       field(ev, "delta_bytes") == (long long)t->delta &&
	       field(ev, "clears") == 1 && field(ev, "retries") == 0 &&
	       field(ev, "ns") > 0 && field(ev, "ret") == 0;
}

static void diag_event(const char *what, const char *ev)
{
	const char *end = ev ? strchr(ev, '\n') : NULL;

	tap_diag("%s: %.*s", what, ev ? (int)(end ? end - ev : 200) : 6,
		 ev ? ev : "(none)");
}

int main(void)
{
	struct kvm_xbzrle_caps caps;
	struct kvm_xbzrle_stats s0, s1;
	struct xbz_encode_result res;
	struct kvm_vm vm;
	struct tally t;
	const char *ev;
	unsigned long long freed;
	unsigned int i, seed = 7;
	uint8_t *mem;
	int xfd, r;

	tap_timeout(TIMEOUT_S);
	xbz_require_offload(&caps, true);
	tap_plan(9);
	events_on();

	if (vm_create(&vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&vm, 0, GPA, NPAGES * PAGE) ||
	    vm_add_memslot(&vm, 1, GPA_GONE, PAGE))
		tap_bail_out("VM: %s", kvm_util_error());
	mem = vm_gpa_to_hva(&vm, GPA);
	fill_random(mem + NZERO * PAGE, (NPAGES - NZERO) * PAGE, &seed);
	for (i = 0; i < NPAGES; i++)
		gpas[i] = GPA + (uint64_t)i * PAGE;
	xfd = xbz_open();
	TEST_ASSERT(xfd >= 0 && !xbz_bind(xfd, vm.fd),
		    "context: %s", kvm_util_error());

	/* regions: add, same, and (below) stale and remove */
	r = xbz_set_region(xfd, 0, GPA, NPAGES * PAGE, mem) ||
	    xbz_set_region(xfd, 0, GPA, NPAGES * PAGE, mem) ||
	    xbz_set_region(xfd, 1, GPA_GONE, PAGE, vm_gpa_to_hva(&vm, GPA_GONE));
	take_trace();
	ev = event("kvm_xbzrle_region", 0);
	diag_event("first region event", ev);
	tap_result(!r && ev && field_is(ev, "op", "add") &&
		   field(ev, "slot") == 0 && field(ev, "gpa") == (long long)GPA &&
		   field(ev, "npages") == NPAGES &&
		   field(ev, "hva") == (long long)(uintptr_t)mem &&
		   (ev = event("kvm_xbzrle_region", 1)) &&
		   field_is(ev, "op", "same") && field(ev, "slot") == 0 &&
		   (ev = event("kvm_xbzrle_region", 2)) &&
		   field_is(ev, "op", "add") && field(ev, "slot") == 1 &&
		   !event("kvm_xbzrle_region", 3),
		   "kvm_xbzrle_region: SET_REGION adds slot 0 (gpa, npages, hva as given), sets it again (same), adds slot 1%s%s",
		   WHY_IF(r, kvm_util_error()));

	/* first round: no base, every non-zero page RAW */
	TEST_ASSERT(!vm_remove_memslot(&vm, 1),
		    "delete memslot 1: %s", kvm_util_error());
	r = encode(xfd, &res, &t);
	take_trace();
	ev = event("kvm_xbzrle_encode", 0);
	diag_event("first ENCODE", ev);
	tap_result(!r && res.npages_done == NPAGES &&
		   t.n[KVM_XBZRLE_RECORD_RAW] == NPAGES - NZERO &&
		   encode_matches(ev, &res, &t, NPAGES - NZERO),
		   "kvm_xbzrle_encode: first call, fields equal the records (%u ZERO, %u RAW, %u bytes used), 1 clear%s%s",
		   t.n[KVM_XBZRLE_RECORD_ZERO], t.n[KVM_XBZRLE_RECORD_RAW],
		   res.records_used, WHY_IF(r, kvm_util_error()));
	ev = event("kvm_xbzrle_region", 0);
	tap_result(ev && field_is(ev, "op", "stale") && field(ev, "slot") == 1 &&
		   field(ev, "gpa") == (long long)GPA_GONE,
		   "kvm_xbzrle_region: the region of the deleted memslot 1 is dropped (stale) by the next ENCODE");

	/* second round: zero, changed, unchanged */
	for (i = NZERO; i < NZERO + NCHANGED; i++)
		mem[(size_t)i * PAGE + 100 + i] ^= 0x5a;
	r = encode(xfd, &res, &t);
	take_trace();
	ev = event("kvm_xbzrle_encode", 0);
	diag_event("second ENCODE", ev);
	tap_result(!r && t.n[KVM_XBZRLE_RECORD_XBZRLE] == NCHANGED &&
		   t.n[KVM_XBZRLE_RECORD_UNCHANGED] == NPAGES - NZERO - NCHANGED &&
		   encode_matches(ev, &res, &t, 0),
		   "kvm_xbzrle_encode: second call, fields equal the records (%u ZERO, %u UNCHANGED, %u XBZRLE of %llu bytes)%s%s",
		   t.n[KVM_XBZRLE_RECORD_ZERO], t.n[KVM_XBZRLE_RECORD_UNCHANGED],
		   t.n[KVM_XBZRLE_RECORD_XBZRLE], t.delta,
		   WHY_IF(r, kvm_util_error()));
	tap_result(!event("kvm_xbzrle_error", 0),
		   "kvm_xbzrle_error: no event for calls that succeeded");

	/* an error */
	r = xbz_encode(xfd, 0, gpas, 1, records, sizeof(records), 0, &res);
	take_trace();
	ev = event("kvm_xbzrle_error", 0);
	diag_event("ENCODE with max_delta 0", ev);
	tap_result(r && errno == EINVAL && ev && field_is(ev, "ioctl", "ENCODE") &&
		   field(ev, "err") == -EINVAL && !event("kvm_xbzrle_encode", 0),
		   "kvm_xbzrle_error: ENCODE with max_delta 0 fails with EINVAL, the event says ioctl=ENCODE err=-22");

	/* removing the region drops its bases */
	TEST_ASSERT(!xbz_get_stats(xfd, &s0),
		    "GET_STATS: %s", kvm_util_error());
	r = xbz_set_region(xfd, 0, GPA, 0, mem);
	take_trace();
	ev = event("kvm_xbzrle_cache_drop", 0);
	diag_event("region removed", ev);
	tap_result(!r && ev && s0.cache_bytes &&
		   field(ev, "pages") == (long long)(s0.cache_bytes / PAGE) &&
		   field(ev, "first") == (long long)((uintptr_t)mem / PAGE) &&
		   field(ev, "last") == (long long)((uintptr_t)mem / PAGE + NPAGES - 1) &&
		   (ev = event("kvm_xbzrle_region", 0)) &&
		   field_is(ev, "op", "remove") && field(ev, "slot") == 0,
		   "kvm_xbzrle_cache_drop: removing the region drops its %llu bases (host pages of its range); kvm_xbzrle_region op=remove",
		   (unsigned long long)s0.cache_bytes / PAGE);

	/* reclaim */
	r = xbz_set_region(xfd, 0, GPA, NPAGES * PAGE, mem) ||
	    encode(xfd, &res, &t) || xbz_get_stats(xfd, &s0) || drop_caches() ||
	    xbz_get_stats(xfd, &s1);
	take_trace();
	for (freed = 0, i = 0; (ev = event("kvm_xbzrle_shrink", i)); i++)
		freed += field(ev, "freed");
	tap_diag("drop_caches: %u shrink events, %llu freed; reclaimed %llu -> %llu",
		 i, freed, (unsigned long long)s0.reclaimed,
		 (unsigned long long)s1.reclaimed);
	tap_result(!r && i && s1.reclaimed > s0.reclaimed &&
		   freed == s1.reclaimed - s0.reclaimed,
		   "kvm_xbzrle_shrink: the events' freed add up to GET_STATS' reclaimed (%llu)",
		   (unsigned long long)(s1.reclaimed - s0.reclaimed));

	/* off: nothing more */
	tracefs_write("events/kvm_xbzrle/enable", "0");
	r = encode(xfd, &res, &t);
	take_trace();
	tap_result(!r && !strstr(trace, " kvm_xbzrle_"),
		   "disabled: an ENCODE call leaves no event");

	close(xfd);
	vm_destroy(&vm);
	tap_finish();
}
