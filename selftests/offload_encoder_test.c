// SPDX-License-Identifier: GPL-2.0
/*
 * offload_encoder_test - every XBZRLE encoder of the module, in the kernel.
 *
 * The module picks its encoder at load (kmod/codec/encoder.c): AVX-512BW, AVX2
 * or the portable one, or the one named by encoder=.  The userspace tests
 * run every variant the CPU has on QEMU's vectors and the fuzzer; this
 * test runs them where they matter, inside kernel_fpu_begin()/_end() in
 * KVM_XBZRLE_ENCODE:
 *
 *  - global.loaded_without_parameters_runs_the_best: loaded without
 *    parameters, the module reports (in
 *    /sys/module/kvm_xbzrle/parameters/encoder) the fastest encoder this
 *    CPU has, as /proc/cpuinfo says;
 *  - encoder.<name>.*, a variant per encoder, each case that runs
 *    reloading the module with encoder=<name> (a skipped case reloads
 *    nothing): refused_without_cpu_support (on a CPU
 *    that lacks it the load fails and the kernel log names why; skipped
 *    where the CPU has it), loads_and_reports_itself (the parameter reads
 *    <name>) and deltas_exact (skipped where the CPU lacks it): pages of
 *    every kind (one
 *    byte per KiB changed, 10% of bytes at random, runs across 64-byte
 *    blocks and at the page's end, every byte changed, unchanged, zero,
 *    random) are sent over three rounds: every record passes the
 *    selftests' record check (records.h: an XBZRLE record is byte for byte
 *    what the portable encoder in userspace makes of the destination's copy
 *    and the page, a RAW record one the portable encoder overflows on, and
 *    each record gives the page), and the destination equals guest memory;
 *  - after a case that reloaded it, the teardown loads the module again
 *    without parameters, as the harness left it, and it must report the
 *    best encoder again.
 *
 * On the kernel's kselftest harness.  Needs root (module loading),
 * modprobe and rmmod, and the module: without them the set-up fails.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define PAGE		4096
#define NPAGES		512
#define GROUP		64	/* pages per kind of change */
#define ROUNDS		3
#define REC_MAX		(sizeof(struct kvm_xbzrle_record) + PAGE)
#define PARAM		"/sys/module/kvm_xbzrle/parameters/encoder"
#define TIMEOUT_S	120	/* a case: two module loads and its rounds */

static const struct {
	const char *name;	/* as encoder= takes it */
	const char *flag;	/* in /proc/cpuinfo; NULL: any CPU */
} encoders[] = {
	{ "scalar", NULL },
	{ "avx2", "avx2" },
	{ "avx512", "avx512bw" },
};
#define NENC	ARRAY_SIZE(encoders)

static bool cpu_has(const char *flag)
{
	char line[8192], word[64];
	bool found = false;
	FILE *f;

	if (!flag)
		return true;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	snprintf(word, sizeof(word), " %s", flag);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line;

		if (strncmp(line, "flags", 5))
			continue;
		/* a whole word: followed by a space or the line's end */
		while ((p = strstr(p, word))) {
			p += strlen(word);
			if (*p == ' ' || *p == '\n' || !*p) {
				found = true;
				break;
			}
		}
		break;
	}
	fclose(f);
	return found;
}

/* The fastest encoder the CPU has: what encoder=auto must pick. */
static const char *best_encoder(void)
{
	const char *best = encoders[0].name;

	for (size_t i = 0; i < NENC; i++)
		if (cpu_has(encoders[i].flag))
			best = encoders[i].name;
	return best;
}

static int read_param(char *buf, size_t len)
{
	FILE *f = fopen(PARAM, "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Runs a shell command; its exit status, or -1. */
static int run(const char *cmd)
{
	int st = system(cmd);

	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* rmmod, then modprobe with @params: modprobe's exit status, or -1. */
static int reload(const char *params)
{
	char cmd[256];

	if (run("rmmod kvm_xbzrle 2>/dev/null") != 0 &&
	    run("grep -q '^kvm_xbzrle ' /proc/modules") == 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "modprobe kvm_xbzrle %s 2>&1 | sed 's/^/# modprobe: /'; "
		 "grep -q '^kvm_xbzrle ' /proc/modules", params);
	return run(cmd);
}

static unsigned int seed = 1;

static uint8_t rnd8(void)
{
	return rand_r(&seed) >> 7;
}

/* rnd8() bytes: not fill_random(), whose bytes are rand_r()'s low ones */
static void fill_rnd8(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = rnd8();
}

/* a different value for byte @i */
static void flip(uint8_t *p, size_t i)
{
	p[i] ^= 1 + rnd8() % 255;
}

/* One round's changes: group g of pages gets kind g of change. */
static void change_pages(struct kvm_vm *vm, unsigned int round)
{
	for (unsigned int pg = 0; pg < NPAGES; pg++) {
		uint8_t *p = vm_gpa_to_hva(vm, (uint64_t)pg * PAGE);

		switch (pg / GROUP) {
		case 0:		/* the seed's load: one byte per KiB */
			for (int k = 0; k < PAGE; k += 1024)
				flip(p, k + rnd8() * 4 % 1024);
			break;
		case 1:		/* 10% of the bytes */
			for (int k = 0; k < PAGE / 10; k++)
				flip(p, rand_r(&seed) % PAGE);
			break;
		case 2:		/* runs across 64-byte blocks and at the end */
			for (int b = 64; b < PAGE; b += 64 * (1 + pg % 5))
				for (int k = b - 1 - (int)(pg % 3); k < b + 2; k++)
					flip(p, k);
			flip(p, PAGE - 1 - pg % 7);
			break;
		case 3:		/* every byte: overflows */
			for (int k = 0; k < PAGE; k++)
				flip(p, k);
			break;
		case 4:		/* unchanged */
			break;
		case 5:		/* zero, then back to data */
			if (round % 2)
				memset(p, 0, PAGE);
			else
				fill_rnd8(p, PAGE);
			break;
		case 6:		/* one byte */
			flip(p, rand_r(&seed) % PAGE);
			break;
		default:	/* a new random page */
			fill_rnd8(p, PAGE);
			break;
		}
	}
}

struct check {
	struct kvm_vm *vm;
	struct xbz_counts got;
	unsigned int overflows;
	char why[256];
};

/*
 * xbz_walk_records()'s check of a round after the first: the selftests'
 * one per-record check (records.c), with what this test knows besides.
 * Every page was sent before, so the module holds its base (RAW only for
 * a delta that overflows), and guest memory is held still during the
 * call (the record must give it).
 */
static int check_record(const struct xbz_record *rec, const uint8_t *base,
			void *opaque)
{
	struct check *c = opaque;
	struct xbz_expect exp = {
		.base = XBZ_BASE_HELD,
		.snapshot = vm_gpa_to_hva(c->vm, rec->gpa),
	};
	uint8_t page[PAGE], scratch[2 * PAGE];

	memcpy(page, base, PAGE);
	if (!exp.snapshot || xbz_check_apply_record(rec, page, scratch, &exp)) {
		snprintf(c->why, sizeof(c->why), "%s",
			 exp.snapshot ? kvm_util_error() : "record outside the VM");
		return -1;
	}
	xbz_count_record(&c->got, rec->type);
	/* set only for a RAW record whose delta does not fit */
	c->overflows += exp.overflow;
	return 0;
}

/* Every page through ENCODE into @dest; with @validate, each record checked. */
static int send_all(int xfd, struct xbz_dest *dest, uint8_t *records,
		    struct check *c, bool validate)
{
	static uint64_t gpas[NPAGES];
	uint32_t done = 0;

	for (unsigned int i = 0; i < NPAGES; i++)
		gpas[i] = (uint64_t)i * PAGE;
	while (done < NPAGES) {
		struct xbz_encode_result res;
		int n;

		if (xbz_encode(xfd, 0, gpas + done, NPAGES - done, records,
			       NPAGES * REC_MAX, PAGE, &res)) {
			snprintf(c->why, sizeof(c->why), "ENCODE: %s", kvm_util_error());
			return -1;
		}
		if (!res.npages_done) {
			snprintf(c->why, sizeof(c->why), "ENCODE made no progress");
			return -1;
		}
		n = xbz_walk_records(dest, records, res.records_used,
				     validate ? check_record : NULL, c);
		if (n < 0 || (uint32_t)n != res.npages_done) {
			if (n < 0 && !c->why[0])
				snprintf(c->why, sizeof(c->why), "%s", kvm_util_error());
			else if (n >= 0)
				snprintf(c->why, sizeof(c->why), "%d records for %u pages",
					 n, res.npages_done);
			return -1;
		}
		done += res.npages_done;
	}
	return 0;
}

/* Rounds of changes through the module now loaded; 0 if all exact. */
static int exercise(const char *name)
{
	struct xbz_dest dest;
	struct kvm_vm vm;
	struct check c = { .vm = &vm };
	uint8_t *records;
	int xfd = -1, ret = -1, diff;

	records = malloc(NPAGES * REC_MAX);
	if (!records || vm_create(&vm, 0)) {
		tap_diag("%s: VM: %s", name, kvm_util_error());
		free(records);
		return -1;
	}
	if (vm_add_memslot(&vm, 0, 0, NPAGES * PAGE) || xbz_dest_init(&dest, &vm)) {
		tap_diag("%s: memslot: %s", name, kvm_util_error());
		goto out_vm;
	}
	for (unsigned int pg = 0; pg < NPAGES; pg++)
		fill_rnd8(vm_gpa_to_hva(&vm, (uint64_t)pg * PAGE), PAGE);
	xfd = xbz_open_bound(&vm);
	if (xfd < 0) {
		tap_diag("%s: context: %s", name, kvm_util_error());
		goto out_dest;
	}
	/* round 0: no bases yet */
	if (send_all(xfd, &dest, records, &c, false)) {
		tap_diag("%s: round 0: %s", name, c.why);
		goto out;
	}
	for (unsigned int r = 1; r <= ROUNDS; r++) {
		change_pages(&vm, r);
		if (send_all(xfd, &dest, records, &c, true)) {
			tap_diag("%s: round %u: %s", name, r, c.why);
			goto out;
		}
	}
	diff = xbz_dest_compare(&dest, &vm);
	tap_diag("%s: %llu XBZRLE, %u RAW overflows, %llu UNCHANGED, %llu ZERO records; %d pages differ",
		 name, (unsigned long long)c.got.xbzrle, c.overflows,
		 (unsigned long long)c.got.unchanged,
		 (unsigned long long)c.got.zero, diff);
	if (diff)
		tap_diag("%s: %s", name, kvm_util_error());
	else if (!c.got.xbzrle || !c.overflows || !c.got.unchanged ||
		 !c.got.zero)
		tap_diag("%s: not every kind of record occurred", name);
	else
		ret = 0;
out:
	close(xfd);
out_dest:
	xbz_dest_free(&dest);
out_vm:
	vm_destroy(&vm);
	free(records);
	return ret;
}

/* What every case needs: root, the module, modprobe and rmmod. */
static void require_reload(struct __test_metadata *_metadata)
{
	struct kvm_xbzrle_caps caps;

	ASSERT_EQ(0U, geteuid()) TH_LOG("not root: cannot reload the module");
	ASSERT_EQ(0, xbz_check_offload(&caps)) TH_LOG("%s", kvm_util_error());
	ASSERT_EQ(0, run("command -v modprobe >/dev/null && command -v rmmod >/dev/null"))
		TH_LOG("no modprobe or rmmod");
}

TEST(loaded_without_parameters_runs_the_best)
{
	const char *best = best_encoder();
	char cur[64] = "";

	require_reload(_metadata);
	ASSERT_EQ(0, read_param(cur, sizeof(cur))) TH_LOG(PARAM ": cannot read");
	EXPECT_STREQ(best, cur) TH_LOG("this CPU's best is %s, the module runs %s", best, cur);
}

FIXTURE(encoder) {
	bool usable;		/* the CPU has the variant's encoder */
	bool reloaded;		/* the case loaded it with encoder=<name> */
	int rc;			/* of that reload */
	unsigned int refusals;	/* kernel messages refusing it */
	bool kmsg;		/* whether /dev/kmsg could be read */
};

FIXTURE_VARIANT(encoder) {
	unsigned int i;		/* in encoders[] */
};

FIXTURE_VARIANT_ADD(encoder, scalar) { .i = 0 };
FIXTURE_VARIANT_ADD(encoder, avx2) { .i = 1 };
FIXTURE_VARIANT_ADD(encoder, avx512) { .i = 2 };

FIXTURE_SETUP(encoder)
{
	require_reload(_metadata);
	self->usable = cpu_has(encoders[variant->i].flag);
}

/*
 * The module loaded again with encoder=<the variant's>, once a case knows
 * it runs (a skipped case reloads nothing): self->rc, and the kernel's
 * refusals of it counted.
 */
static void load_variant(FIXTURE_DATA(encoder) *self, unsigned int i)
{
	static const char *const refused[] = { "does not support it", NULL };
	char params[64];
	int kmsg;

	snprintf(params, sizeof(params), "encoder=%s", encoders[i].name);
	kmsg = kmsg_open();
	self->rc = reload(params);
	self->reloaded = true;
	self->kmsg = kmsg >= 0;
	if (kmsg >= 0) {
		self->refusals = kmsg_count(kmsg, refused, NULL);
		close(kmsg);
	}
}

FIXTURE_TEARDOWN(encoder)
{
	const char *best = best_encoder();
	char cur[64] = "";

	if (!self->reloaded)
		return;
	EXPECT_EQ(0, reload("")) TH_LOG("modprobe kvm_xbzrle without parameters failed");
	EXPECT_EQ(0, read_param(cur, sizeof(cur)));
	EXPECT_STREQ(best, cur) TH_LOG("reloaded without parameters: %s, not %s again", cur, best);
}

TEST_F(encoder, refused_without_cpu_support)
{
	const char *name = encoders[variant->i].name;

	if (self->usable)
		SKIP(return, "this CPU has %s",
		     encoders[variant->i].flag ? encoders[variant->i].flag : "it (every CPU has)");
	load_variant(self, variant->i);
	EXPECT_NE(0, self->rc) TH_LOG("encoder=%s loaded on a CPU without %s",
				      name, encoders[variant->i].flag);
	ASSERT_TRUE(self->kmsg) TH_LOG("/dev/kmsg cannot be read: the refusal is unchecked");
	EXPECT_LT(0U, self->refusals)
		TH_LOG("encoder=%s: no kernel message says the CPU does not support it", name);
}

TEST_F(encoder, loads_and_reports_itself)
{
	const char *name = encoders[variant->i].name;
	char cur[64] = "";

	if (!self->usable)
		SKIP(return, "this CPU has no %s", encoders[variant->i].flag);
	load_variant(self, variant->i);
	ASSERT_EQ(0, self->rc) TH_LOG("modprobe kvm_xbzrle encoder=%s failed", name);
	ASSERT_EQ(0, read_param(cur, sizeof(cur))) TH_LOG(PARAM ": cannot read");
	EXPECT_STREQ(name, cur);
}

TEST_F_TIMEOUT(encoder, deltas_exact, TIMEOUT_S)
{
	const char *name = encoders[variant->i].name;

	if (!self->usable)
		SKIP(return, "this CPU has no %s", encoders[variant->i].flag);
	load_variant(self, variant->i);
	ASSERT_EQ(0, self->rc) TH_LOG("modprobe kvm_xbzrle encoder=%s failed", name);
	EXPECT_EQ(0, exercise(name))
		TH_LOG("encoder=%s: deltas equal the portable encoder's, destination exact", name);
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
