// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency_checks - the points of the offload_concurrency_*_test
 * selftests: which apply to a run, whether each holds and its line, and
 * the checks after the close (the module's contexts and cache, the kernel
 * log and lockdep); described in include/concurrency_util.h.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "concurrency_internal.h"
#include "util_internal.h"
#include "xbzrle_util.h"

/* -------------------------------- results --------------------------------- */

/* "debug_locks: N" of /proc/lockdep_stats; -1 without lockdep. */
int conc_lockdep_debug_locks(void)
{
	FILE *f = fopen("/proc/lockdep_stats", "r");
	char line[256];
	int v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " debug_locks: %d", &v) == 1)
			break;
	fclose(f);
	return v;
}

bool conc_applies(const struct conc_run *r, enum conc_point p)
{
	if (p == CONC_P_VCPUS)
		return true;
	return (unsigned int)p < CONC_NPOINTS &&
	       (r->threads & conc_point_threads[p]);
}

/* The line of a sender's point: its calls and records, @extra, its failure. */
static bool sender_line(struct sender *s, bool ok_extra, const char *extra,
			char *line)
{
	snprintf(line, CONC_LINE, "%s: %llu ENCODE calls, %llu pages (%llu RAW, %llu XBZRLE, %llu UNCHANGED, %llu ZERO), every record valid; %s%s%s",
		 s->name, (unsigned long long)s->calls,
		 (unsigned long long)s->pages, (unsigned long long)s->got.raw,
		 (unsigned long long)s->got.xbzrle,
		 (unsigned long long)s->got.unchanged,
		 (unsigned long long)s->got.zero, extra, WHY_IF(s->why[0], s->why));
	return !s->why[0] && ok_extra;
}

/* The line of a destination's point. */
static bool dest_line(struct conc_run *r, struct xbz_dest *dest,
		      struct kvm_vm *vm, const char *what, bool senders_ok,
		      bool hot, char *line)
{
	int diff = xbz_dest_compare(dest, vm);
	bool ok = !diff && senders_ok;

	if (hot && ok && r->hot.present && !r->hot.s.why[0])
		ok = !memcmp(r->hot.dest, r->hot.mem, HOT_SIZE);
	snprintf(line, CONC_LINE, "%s: destination == VM %s memory after the last round%s%s%s",
		 what, vm == &r->ga.vm ? "A" : "B",
		 hot && r->hot.present ? " (code and data slots, hotplug slot)" :
		 hot ? " (code and data slots)" : "", WHY_IF(diff, kvm_util_error()));
	return ok;
}

static bool check_point(struct conc_run *r, enum conc_point p, char *line)
{
	struct owner *o;
	struct hotplug *h = &r->hot;
	struct lifecycle *l = &r->life;
	struct cacher *c = &r->cacher;
	char extra[256];

	switch (p) {
	case CONC_P_A1_EVEN:
	case CONC_P_A1_ODD:
	case CONC_P_A2_FULL:
	case CONC_P_B:
		o = &r->owners[p];
		snprintf(extra, sizeof(extra), "%u rounds%s", o->rounds,
			 o->full ? ", every page each round" :
			 ", dirty log + CLEAR_DIRTY_LOG");
		return sender_line(&o->s, o->rounds >= CONC_MIN_ROUNDS, extra,
				   line);
	case CONC_P_HOTPLUG:
		snprintf(extra, sizeof(extra),
			 "%u memslot cycles (%u region removed first, %u dropped by the memslot check, %u same memory re-added), destination == memory after all %u sends",
			 h->cycles, h->removed_explicitly, h->dropped_by_check,
			 h->readded_same, h->compares);
		return sender_line(&h->s, h->cycles >= CONC_MIN_ROUNDS &&
				   h->compares, extra, line);
	case CONC_P_LIFECYCLE:
		snprintf(extra, sizeof(extra),
			 "%u contexts opened, bound, used and closed, %u of them ENODEV after their VM's last fd closed",
			 l->opened, l->enodev);
		return sender_line(&l->s, l->opened >= CONC_MIN_ROUNDS &&
				   l->enodev, extra, line);
	case CONC_P_CACHE:
		snprintf(line, CONC_LINE,
			 "cache: %u SET_CACHE resizes, %u RESETs, %u drop_caches, cache_bytes <= cache_size in all %u GET_STATS%s%s",
			 c->set_size, c->resets, c->drops, c->samples,
			 WHY_IF(c->why[0], c->why));
		return !c->why[0] && c->set_size && c->resets && c->drops;
	case CONC_P_VCPUS:
		snprintf(line, CONC_LINE,
			 "vCPUs: guest A %u passes, guest B %u passes, stopped cleanly%s%s%s",
			 atomic_load(&r->ga.passes), atomic_load(&r->gb.passes),
			 r->ga.error[0] || r->gb.error[0] ? ": " : "",
			 r->ga.error, r->gb.error);
		return !r->ga.error[0] && !r->gb.error[0] &&
		       atomic_load(&r->ga.passes) >= 2 &&
		       atomic_load(&r->gb.passes) >= 2;
	case CONC_P_DEST_A1:
		return dest_line(r, &r->dest_a1, &r->ga.vm,
				 r->hot_started ? "A1 (3 threads)" : "A1 (2 threads)",
				 !r->owners[0].s.why[0] && !r->owners[1].s.why[0],
				 true, line);
	case CONC_P_DEST_A2:
		return dest_line(r, &r->dest_a2, &r->ga.vm, "A2",
				 !r->owners[2].s.why[0], false, line);
	case CONC_P_DEST_B:
		return dest_line(r, &r->dest_b, &r->gb.vm, "B",
				 !r->owners[3].s.why[0], false, line);
	default:
		snprintf(line, CONC_LINE, "unknown check %d", p);
		return false;
	}
}

bool conc_result(struct conc_run *r, enum conc_point p, char *line)
{
	bool ok;

	if (!conc_applies(r, p)) {
		snprintf(line, CONC_LINE, "point %d: its thread is not in this run", p);
		ok = false;
	} else {
		ok = check_point(r, p, line);
	}
	tap_diag("%s %s", ok ? "ok:" : "FAILED:", line);
	return ok;
}

int conc_contexts_result(struct conc_run *r, char *line)
{
	long long ctx1 = xbz_debugfs_stat("contexts");
	long long bytes1 = xbz_debugfs_stat("cache_bytes");

	if (r->ctx0 < 0 || ctx1 < 0) {
		snprintf(line, CONC_LINE, "no debugfs kvm_xbzrle/stats");
		return -1;
	}
	snprintf(line, CONC_LINE,
		 "all contexts closed: module's contexts %lld -> %lld, cache_bytes %lld -> %lld",
		 r->ctx0, ctx1, r->bytes0, bytes1);
	tap_diag("%s", line);
	return ctx1 == r->ctx0 && bytes1 == r->bytes0;
}

int conc_kmsg_result(struct conc_run *r, char *line)
{
	int ld1 = conc_lockdep_debug_locks(), bad;
	unsigned int lines = 0;

	if (r->kmsg < 0) {
		snprintf(line, CONC_LINE, "cannot read /dev/kmsg");
		return -1;
	}
	bad = kmsg_count(r->kmsg, kmsg_problems, &lines);
	snprintf(line, CONC_LINE,
		 "kernel log: %u lines during the test, %d look like a kernel problem%s%s; lockdep %s",
		 lines, bad, WHY_IF(bad, kvm_util_error()),
		 r->ld0 < 0 ? "not in this kernel" :
		 ld1 == 1 ? "on before and after (nothing to say)" :
		 "turned itself off (it reported something)");
	tap_diag("%s", line);
	return !bad && r->ld0 == ld1 && ld1 != 0;
}
