// SPDX-License-Identifier: GPL-2.0
/*
 * offload_concurrency_test - KVM_XBZRLE_ENCODE from several threads at once,
 * on one context and on different contexts, while everything around the
 * contexts changes.
 *
 * Two VMs, each with a vCPU thread running the guest loop of offload_test
 * (one byte incremented every KiB of a 2 MiB data slot, then an OUT), both
 * with manual dirty-log protection.  Three long-lived contexts:
 *
 *   A1  on VM A, shared by three threads that each own a disjoint set of
 *       pages: "A1/even" and "A1/odd" (even and odd pages of the code and
 *       data slots; dirty log + ENCODE with CLEAR_DIRTY_LOG), and
 *       "A1/hotplug" (a third memslot that it adds, fills, sends, changes,
 *       sends again and removes over and over: the region is removed
 *       explicitly, or dropped by the module's memslot check, or the same
 *       memory is re-added);
 *   A2  on VM A too, thread "A2/full": every page of the code and data
 *       slots each round, without the flag (it must not clear A1's bits);
 *   B   on VM B, thread "B": dirty log + ENCODE with CLEAR_DIRTY_LOG.
 *
 * Around them: thread "lifecycle" opens contexts on VM B, binds them,
 * registers the regions, encodes, and closes them (cached pages and all),
 * and now and then binds one to a scratch VM whose file it then closes
 * (ENCODE must say ENODEV); thread "cache" resizes A1, A2 and B
 * (KVM_XBZRLE_SET_CACHE with sizes from 0 to 64 MiB, and RESET) and runs
 * the shrinker through /proc/sys/vm/drop_caches.
 *
 * Per-page order: records of one page must reach the destination in the
 * order the module produced them.  Each page of a context has exactly one
 * owner thread, whose calls are sequential, so applying each call's
 * records as it returns keeps that order.  Every record is checked as it
 * is applied: a ZERO record for an all-zero snapshot only, and an XBZRLE
 * delta byte-identical to xbzrle_encode() of the destination's copy (the
 * base the module must have used) and the snapshot.  The hotplug slot is
 * written by its owner thread only, so its destination is compared with
 * memory after every send.  The phase lasts RUN_MS, longer on a slow
 * kernel until every thread did its minimum, at most RUN_MAX_MS; then the
 * threads stop, the vCPUs are kicked out of KVM_RUN (a guest pass takes
 * seconds on the debug kernel), each owner runs a last round, and every
 * context's destination must equal guest memory.
 *
 * On a lockdep kernel, lockdep must still be on afterwards; on any kernel,
 * the kernel log of the test's time must hold no warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle_tap.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define TIMEOUT_S	110

#define CODE_SLOT	0
#define CODE_GPA	0x0ULL
#define CODE_SIZE	(64 * 1024ULL)
#define DATA_SLOT	1
#define DATA_GPA	0x100000ULL
#define DATA_SIZE	(2 * 1024 * 1024ULL)
#define DATA_PAGES	(DATA_SIZE / PAGE)
#define HOT_SLOT	2
#define HOT_GPA		0x1000000ULL
#define HOT_SIZE	(256 * 1024ULL)
#define HOT_PAGES	(HOT_SIZE / PAGE)
#define STRIDE		1024
#define OUT_PORT	0x10

/*
 * How long the threads run together, and what each must at least do.  On
 * a slow kernel (KASAN, lockdep, nested under TCG) the phase goes on past
 * RUN_MS until every thread has done its minimum, but never past
 * RUN_MAX_MS: the phase ends by time, and the threads stop when it does.
 */
#define RUN_MS		5000
#define RUN_MAX_MS	45000
#define MIN_ROUNDS	3
#define REC_PAGES	64	/* record buffer of each thread, in pages */
#define DEFAULT_CACHE	(64ULL << 20)

/* The guest of offload_test: ebx buffer, ebp writes per pass, edi stride. */
static const uint8_t guest_code[] = {
	0x89, 0xde,		/* 0:  mov esi, ebx */
	0x89, 0xe9,		/* 2:  mov ecx, ebp */
	0xfe, 0x06,		/* 4:  inc byte [esi] */
	0x01, 0xfe,		/* 6:  add esi, edi */
	0xe2, 0xfa,		/* 8:  loop 4 */
	0x40,			/* 10: inc eax */
	0xe7, OUT_PORT,		/* 11: out OUT_PORT, eax */
	0xeb, 0xf1,		/* 13: jmp 0 */
};

static atomic_bool stop_run;		/* end of the concurrent phase */
static atomic_bool vcpus_stopped;	/* owners may run their last round */

/* -------- progress and thread states, shown when stopping is slow -------- */
static struct timespec t_start;
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - t_start.tv_sec) + (ts.tv_nsec - t_start.tv_nsec) / 1e9;
}
struct tinfo { const char *name; pid_t tid; const char *volatile phase; };
static struct tinfo tinfos[16];
static atomic_uint ntinfo;
static struct tinfo *treg(const char *name)
{
	struct tinfo *t = &tinfos[atomic_fetch_add(&ntinfo, 1)];

	t->name = name;
	t->tid = syscall(SYS_gettid);
	t->phase = "start";
	return t;
}
static void tdump(void)
{
	unsigned int k, n = atomic_load(&ntinfo);
	char path[96], *p;

	for (k = 0; k < n; k++) {
		char wchan[64] = "?", stack[2048] = "", stat_line[2048] = "";

		snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tinfos[k].tid);
		read_file(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tinfos[k].tid);
		if (!read_file(path, stack, sizeof(stack)))
			for (p = stack; *p; p++)
				if (*p == '\n')
					*p = '|';
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tinfos[k].tid);
		read_file(path, stat_line, sizeof(stat_line));
		p = strrchr(stat_line, ')');
		tap_diag("  %.1fs %-11s tid %d phase %s state %c wchan %s stack %s",
			 now_s(), tinfos[k].name, tinfos[k].tid, tinfos[k].phase,
			 p ? p[2] : '?', wchan, stack);
	}
}

/* -------------------------------- senders --------------------------------- */

/* One thread's view of one context. */
struct sender {
	const char *name;
	int xfd;
	uint8_t *records;
	xbz_dest_page_fn dest_page;	/* NULL: @dest is a struct xbz_dest */
	void *dest;
	uint64_t calls, pages;
	struct xbz_counts got;
	char why[384];
};

/* The reason @s failed, -1; the first reason stays. */
#define fail_why(s, ...)						\
	((s)->why[0] ? -1 : set_why((s)->why, sizeof((s)->why), __VA_ARGS__))

static int sender_init(struct sender *s, const char *name, int xfd,
		       xbz_dest_page_fn fn, void *dest)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->xfd = xfd;
	s->dest_page = fn;
	s->dest = dest;
	s->records = aligned_alloc(PAGE, REC_PAGES * REC_MAX);
	return s->records ? 0 : -1;
}

/*
 * Sends @gpas[0..n) in as many calls as it takes; checks and applies each
 * call's records to the destination (see the comment at the top).
 */
static int send_pages(struct sender *s, const uint64_t *gpas, uint32_t n,
		      uint32_t flags)
{
	static __thread uint8_t scratch[2 * PAGE];
	struct xbz_encode_result res;
	uint32_t done = 0;

	while (done < n) {
		if (xbz_encode(s->xfd, flags, gpas + done, n - done, s->records,
			       REC_PAGES * REC_MAX, PAGE, &res))
			return fail_why(s, "after %u of %u pages: %s", done, n,
					kvm_util_error());
		s->calls++;
		if (!res.npages_done)
			return fail_why(s, "ENCODE did no page of %u", n - done);
		if (xbz_check_apply_call(s->records, res.records_used,
					 gpas + done, res.npages_done,
					 s->dest_page, s->dest, scratch, &s->got))
			return fail_why(s, "%s", kvm_util_error());
		s->pages += res.npages_done;
		done += res.npages_done;
	}
	return 0;
}

/* ------------------------------- the VMs ---------------------------------- */

struct guest {
	const char *name;
	struct kvm_vm vm;
	struct kvm_vcpu vcpu;
	pthread_t thread;
	bool running;
	atomic_uint passes;
	atomic_bool stop;
	atomic_bool exited;
	char error[256];
};

static void on_kick(int sig)
{
	(void)sig;	/* only interrupts KVM_RUN */
}

/* Stops the vCPU thread: KVM_RUN returns EINTR at once, pass or not. */
static void guest_stop(struct guest *g)
{
	atomic_store(&g->stop, true);
	g->vcpu.run->immediate_exit = 1;
	while (!atomic_load(&g->exited)) {
		pthread_kill(g->thread, SIGUSR1);
		sleep_ms(5);
	}
	pthread_join(g->thread, NULL);
	g->vcpu.run->immediate_exit = 0;
}

static int guest_setup(struct guest *g, const char *name, unsigned int seed)
{
	struct kvm_regs regs;
	uint8_t *data;
	uint64_t i;

	g->name = name;
	if (vm_create(&g->vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&g->vm, CODE_SLOT, CODE_GPA, CODE_SIZE) ||
	    vm_add_memslot(&g->vm, DATA_SLOT, DATA_GPA, DATA_SIZE) ||
	    vm_load(&g->vm, CODE_GPA, guest_code, sizeof(guest_code)))
		return -1;
	data = vm_gpa_to_hva(&g->vm, DATA_GPA);
	/* every 4th page zero until the guest writes it */
	for (i = 0; i < DATA_PAGES; i++)
		if (i % 4 != 3)
			fill_random(data + i * PAGE, PAGE, &seed);
	if (vcpu_create(&g->vm, &g->vcpu, 0, CODE_GPA) ||
	    vcpu_get_regs(&g->vcpu, &regs))
		return -1;
	regs.rbx = DATA_GPA;
	regs.rbp = DATA_SIZE / STRIDE;
	regs.rdi = STRIDE;
	regs.rax = 0;
	return vcpu_set_regs(&g->vcpu, &regs);
}

static void *vcpu_thread(void *arg)
{
	struct guest *g = arg;
	struct tinfo *ti = treg(g->name[0] == 'A' ? "vcpu A" : "vcpu B");

	ti->phase = "run";
	/*
	 * Not vcpu_run_until_out(), which retries EINTR: the main thread
	 * stops a vCPU with a signal (and immediate_exit) instead of waiting
	 * for the end of a guest pass, which takes seconds on a slow kernel.
	 */
	while (!atomic_load(&g->stop)) {
		struct vcpu_exit exit;

		if (vcpu_run(&g->vcpu, &exit)) {
			snprintf(g->error, sizeof(g->error), "%s", kvm_util_error());
			break;
		}
		if (exit.reason == KVM_EXIT_INTR)
			continue;
		if (exit.reason == KVM_EXIT_IO && exit.port == OUT_PORT &&
		    exit.direction == KVM_EXIT_IO_OUT) {
			atomic_fetch_add(&g->passes, 1);
			continue;
		}
		snprintf(g->error, sizeof(g->error), "unexpected exit %s",
			 kvm_exit_name(exit.reason));
		break;
	}
	ti->phase = "done";
	atomic_store(&g->exited, true);
	return NULL;
}

/* The gpas of the code and data slots (owned pages: @mod/@rem of the index). */
static uint32_t owned_pages(uint64_t *gpas, unsigned int mod, unsigned int rem)
{
	uint64_t i, n = 0, idx = 0;

	for (i = 0; i < CODE_SIZE / PAGE; i++, idx++)
		if (idx % mod == rem)
			gpas[n++] = CODE_GPA + i * PAGE;
	for (i = 0; i < DATA_PAGES; i++, idx++)
		if (idx % mod == rem)
			gpas[n++] = DATA_GPA + i * PAGE;
	return n;
}

/* Dirty pages of the code and data slots that this owner has. */
static int owned_dirty(struct kvm_vm *vm, uint64_t *gpas, unsigned int mod,
		       unsigned int rem)
{
	static const struct { uint32_t slot; uint64_t gpa, size; } slots[] = {
		{ CODE_SLOT, CODE_GPA, CODE_SIZE },
		{ DATA_SLOT, DATA_GPA, DATA_SIZE },
	};
	uint64_t bitmap[DATA_PAGES / 64];
	uint64_t p, idx = 0;
	unsigned int k;
	int n = 0;

	for (k = 0; k < 2; k++) {
		uint64_t np = slots[k].size / PAGE;

		memset(bitmap, 0, sizeof(bitmap));
		if (vm_get_dirty_log(vm, slots[k].slot, bitmap))
			return -1;
		for (p = 0; p < np; p++, idx++)
			if (idx % mod == rem &&
			    bitmap[p / 64] & (1ULL << (p % 64)))
				gpas[n++] = slots[k].gpa + p * PAGE;
	}
	return n;
}

/* ------------------------------- threads ---------------------------------- */

struct owner {
	struct sender s;
	struct guest *g;
	unsigned int mod, rem;	/* owned pages: index % mod == rem */
	bool full;		/* every owned page each round, no flag */
	unsigned int rounds;
	uint64_t *gpas;
};

/* Dirty-log owner (CLEAR_DIRTY_LOG) or full-resend owner. */
static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	const uint32_t flags = o->full ? 0 : KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
	struct tinfo *ti = treg(o->s.name);
	int n;

	ti->phase = "round0";

	/* round 0: every owned page */
	n = owned_pages(o->gpas, o->mod, o->rem);
	if (send_pages(&o->s, o->gpas, n, flags))
		return NULL;
	o->rounds = 1;
	ti->phase = "rounds";
	while (!atomic_load(&stop_run)) {
		n = o->full ? (int)owned_pages(o->gpas, o->mod, o->rem)
			    : owned_dirty(&o->g->vm, o->gpas, o->mod, o->rem);
		if (n < 0) {
			fail_why(&o->s, "%s", kvm_util_error());
			return NULL;
		}
		if (send_pages(&o->s, o->gpas, n, flags))
			return NULL;
		if (n)
			__atomic_add_fetch(&o->rounds, 1, __ATOMIC_RELAXED);
		else
			sleep_ms(1);	/* nothing dirty yet: let the others run */
	}
	/* the last round, with the guest stopped */
	ti->phase = "wait-vcpus";
	while (!atomic_load(&vcpus_stopped))
		sleep_ms(1);
	ti->phase = "last";
	n = o->full ? (int)owned_pages(o->gpas, o->mod, o->rem)
		    : owned_dirty(&o->g->vm, o->gpas, o->mod, o->rem);
	if (n < 0) {
		fail_why(&o->s, "%s", kvm_util_error());
		return NULL;
	}
	send_pages(&o->s, o->gpas, n, flags);
	ti->phase = "done";
	return NULL;
}

/* The memslot that comes and goes, on VM A, sent through A1. */
struct hotplug {
	struct sender s;
	struct kvm_vm *vm;
	uint8_t *mem;		/* mapped at HOT_GPA now, or NULL */
	uint8_t dest[HOT_SIZE];
	uint64_t gpas[HOT_PAGES];
	unsigned int cycles, removed_explicitly, dropped_by_check, readded_same;
	unsigned int compares;
	bool present;
};

static uint8_t *dest_of_hot(void *opaque, uint64_t gpa)
{
	struct hotplug *h = opaque;

	if (gpa < HOT_GPA || gpa - HOT_GPA >= HOT_SIZE)
		return NULL;
	return h->dest + (gpa - HOT_GPA);
}

static int hot_memslot(struct hotplug *h, uint8_t *mem, uint64_t size)
{
	int e = kvm_set_memslot(h->vm->fd, HOT_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
				HOT_GPA, size, mem);

	if (e)
		return fail_why(&h->s, "KVM_SET_USER_MEMORY_REGION slot %u size %llu: %s",
				HOT_SLOT, (unsigned long long)size, strerror(e));
	return 0;
}

static uint8_t *hot_map(unsigned int seed)
{
	uint8_t *mem = mmap(NULL, HOT_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (mem == MAP_FAILED)
		return NULL;
	for (i = 0; i < HOT_PAGES; i++)
		if (i % 8 != 7)	/* some pages stay zero */
			fill_random(mem + i * PAGE, PAGE, &seed);
	return mem;
}

/* Adds the slot again, with memory @h->mem, to KVM and to the context. */
static int hot_add(struct hotplug *h)
{
	if (!h->mem)
		return fail_why(&h->s, "mmap: %s", strerror(errno));
	if (hot_memslot(h, h->mem, HOT_SIZE))
		return -1;
	h->present = true;
	if (xbz_set_region(h->s.xfd, HOT_SLOT, HOT_GPA, HOT_SIZE, h->mem))
		return fail_why(&h->s, "%s", kvm_util_error());
	return 0;
}

/* Sends every page of the slot, then compares: only this thread writes it. */
static int hot_send(struct hotplug *h, uint32_t flags)
{
	unsigned int i;

	if (send_pages(&h->s, h->gpas, HOT_PAGES, flags))
		return -1;
	for (i = 0; i < HOT_PAGES; i++)
		if (memcmp(h->dest + i * PAGE, h->mem + i * PAGE, PAGE))
			return fail_why(&h->s, "cycle %u: destination page 0x%llx differs from memory after a send",
					h->cycles,
					(unsigned long long)(HOT_GPA + i * PAGE));
	h->compares++;
	return 0;
}

static void *hotplug_thread(void *arg)
{
	struct hotplug *h = arg;
	struct tinfo *ti = treg("A1/hotplug");
	unsigned int i, seed = 77;
	uint8_t *old;

	for (i = 0; i < HOT_PAGES; i++)
		h->gpas[i] = HOT_GPA + i * PAGE;
	h->mem = hot_map(seed++);
	if (hot_add(h))
		return NULL;
	for (;;) {
		/* two sends: the second one has deltas, if nothing dropped them */
		ti->phase = "send";
		if (hot_send(h, h->cycles % 2 ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0))
			return NULL;
		for (i = 0; i < HOT_PAGES; i += 3)
			h->mem[i * PAGE + (h->cycles * 37) % PAGE] ^= 0xa5;
		if (hot_send(h, KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG))
			return NULL;
		if (atomic_load(&stop_run))
			break;	/* end with the slot present and sent */

		/* remove and add again, three ways */
		ti->phase = "memslot";
		switch (h->cycles % 3) {
		case 0:	/* as QEMU does: the region first, then the memslot */
			if (xbz_set_region(h->s.xfd, HOT_SLOT, HOT_GPA, 0, NULL)) {
				fail_why(&h->s, "%s", kvm_util_error());
				return NULL;
			}
			h->present = false;
			if (hot_memslot(h, NULL, 0))
				return NULL;
			munmap(h->mem, HOT_SIZE);
			h->mem = hot_map(seed++);
			memset(h->dest, 0, sizeof(h->dest));
			h->removed_explicitly++;
			break;
		case 1:	/* memslot only: other memory, the module must notice */
			h->present = false;
			if (hot_memslot(h, NULL, 0))
				return NULL;
			old = h->mem;
			h->mem = hot_map(seed++);	/* another address */
			munmap(old, HOT_SIZE);
			memset(h->dest, 0, sizeof(h->dest));
			h->dropped_by_check++;
			break;
		default: /* the same memory again: bases may stay */
			h->present = false;
			if (hot_memslot(h, NULL, 0))
				return NULL;
			h->readded_same++;
			break;
		}
		if (hot_add(h))
			return NULL;
		h->cycles++;
	}
	h->cycles++;
	ti->phase = "done";
	return NULL;
}

/* Opens, binds, uses and closes contexts on VM B; scratch VMs now and then. */
struct lifecycle {
	struct sender s;
	struct kvm_vm *vm;
	struct xbz_dest dest;
	uint64_t gpas[DATA_PAGES];
	unsigned int opened, enodev;
};

static int lifecycle_scratch_vm(struct lifecycle *l)
{
	struct kvm_xbzrle_stats st;
	struct kvm_vm c;
	uint64_t gpa = 0;
	int xfd, r = -1;
	struct xbz_encode_result res;

	if (vm_create(&c, 0) || vm_add_memslot(&c, 0, 0, 16 * PAGE)) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		vm_destroy(&c);
		return -1;
	}
	vm_gpa_to_hva(&c, 0)[0] = 1;
	xfd = xbz_open_bound(&c);
	if (xfd < 0) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		vm_destroy(&c);
		return -1;
	}
	l->opened++;
	if (xbz_encode(xfd, 0, &gpa, 1, l->s.records, REC_PAGES * REC_MAX,
		       PAGE, &res)) {
		fail_why(&l->s, "scratch VM: %s", kvm_util_error());
		goto out;
	}
	/* the context now holds the VM file's last reference */
	close(c.fd);
	c.fd = -1;
	if (!xbz_encode(xfd, 0, &gpa, 1, l->s.records, REC_PAGES * REC_MAX,
			PAGE, &res) || errno != ENODEV) {
		fail_why(&l->s, "ENCODE after the VM's last fd was closed: %s, expected ENODEV",
			 errname(errno));
		goto out;
	}
	if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 8 * PAGE, NULL) ||
	    xbz_get_stats(xfd, &st)) {
		fail_why(&l->s, "SET_CACHE/GET_STATS after ENODEV: %s",
			 kvm_util_error());
		goto out;
	}
	l->enodev++;
	r = 0;
out:
	close(xfd);
	vm_destroy(&c);
	return r;
}

static void *lifecycle_thread(void *arg)
{
	struct lifecycle *l = arg;
	struct tinfo *ti = treg("lifecycle");
	unsigned int it = 0, i, first;
	int xfd;

	while (!atomic_load(&stop_run)) {
		if (it % 4 == 1) {
			ti->phase = "scratch";
			if (lifecycle_scratch_vm(l))
				return NULL;
			it++;
			continue;
		}
		ti->phase = "open";
		xfd = xbz_open_bound(l->vm);
		if (xfd < 0) {
			fail_why(&l->s, "%s", kvm_util_error());
			return NULL;
		}
		l->opened++;
		ti->phase = "send";
		l->s.xfd = xfd;
		for (i = 0; i < l->dest.nslots; i++)
			memset(l->dest.slots[i].mem, 0, l->dest.slots[i].size);
		if (it % 2 &&
		    xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 32 * PAGE, NULL)) {
			fail_why(&l->s, "%s", kvm_util_error());
			close(xfd);
			return NULL;
		}
		/* 128 data pages, twice: RAW, then deltas (the guest runs) */
		first = (it * 128) % DATA_PAGES;
		for (i = 0; i < 128; i++)
			l->gpas[i] = DATA_GPA + ((first + i) % DATA_PAGES) * PAGE;
		if (send_pages(&l->s, l->gpas, 128, 0) ||
		    send_pages(&l->s, l->gpas, 128, 0)) {
			close(xfd);
			return NULL;
		}
		/* closed with its cache full, while the shrinker may run */
		ti->phase = "close";
		close(xfd);
		it++;
	}
	ti->phase = "done";
	return NULL;
}

/* Resizes and resets the shared contexts; runs the shrinker. */
struct cacher {
	int xfds[3];
	unsigned int set_size, resets, drops, samples;
	char why[256];
};

static void *cache_thread(void *arg)
{
	static const uint64_t sizes[] = {
		0, 16 * PAGE, 256 * 1024, 1 << 20, 100 * PAGE + 123,
		DEFAULT_CACHE,
	};
	struct cacher *c = arg;
	struct tinfo *ti = treg("cache");
	struct kvm_xbzrle_stats st;
	unsigned int it = 0, k;
	uint64_t eff;

	while (!atomic_load(&stop_run)) {
		int xfd = c->xfds[it % 3];
		uint64_t want = sizes[(it / 3) % (sizeof(sizes) / sizeof(sizes[0]))];

		ti->phase = "setcache";
		if (it % 7 == 6) {
			if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_RESET, 0, NULL))
				goto fail;
			c->resets++;
		} else {
			if (xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, want, &eff))
				goto fail;
			if (eff != want / PAGE * PAGE) {
				snprintf(c->why, sizeof(c->why),
					 "SET_CACHE %llu: %llu in effect",
					 (unsigned long long)want,
					 (unsigned long long)eff);
				return NULL;
			}
			c->set_size++;
		}
		if (it % 10 == 9) {
			ti->phase = "drop_caches";
			if (drop_caches()) {
				snprintf(c->why, sizeof(c->why),
					 "drop_caches: %s", strerror(errno));
				return NULL;
			}
			c->drops++;
		}
		for (k = 0; k < 3; k++) {
			if (xbz_get_stats(c->xfds[k], &st))
				goto fail;
			c->samples++;
			if (st.cache_bytes > st.cache_size ||
			    st.cache_bytes % PAGE) {
				snprintf(c->why, sizeof(c->why),
					 "context %u: cache_bytes %llu, cache_size %llu",
					 k, (unsigned long long)st.cache_bytes,
					 (unsigned long long)st.cache_size);
				return NULL;
			}
		}
		it++;
		sleep_ms(3 + it % 7);
	}
	/* the default size again for the last rounds */
	ti->phase = "final";
	for (k = 0; k < 3; k++)
		if (xbz_set_cache(c->xfds[k], KVM_XBZRLE_CACHE_SET_SIZE,
				  DEFAULT_CACHE, NULL))
			goto fail;
	ti->phase = "done";
	return NULL;
fail:
	snprintf(c->why, sizeof(c->why), "%s", kvm_util_error());
	return NULL;
}

/* --------------------------- kernel log, debugfs --------------------------- */

/* "debug_locks: N" of /proc/lockdep_stats; -1 without lockdep. */
static int lockdep_debug_locks(void)
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

/* ------------------------------------------------------------------------- */

static unsigned int rd(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Has every thread done what its test point asks for at least? */
static bool minimum_done(struct owner **owners, struct hotplug *hot,
			 struct lifecycle *life, struct cacher *c,
			 struct guest *ga, struct guest *gb)
{
	unsigned int k;

	for (k = 0; k < 4; k++)
		if (rd(&owners[k]->rounds) < MIN_ROUNDS)
			return false;
	/* the hotplug thread counts its last cycle when it stops */
	return rd(&hot->cycles) + 1 >= MIN_ROUNDS &&
	       rd(&life->opened) >= MIN_ROUNDS && rd(&life->enodev) &&
	       rd(&c->set_size) && rd(&c->resets) && rd(&c->drops) &&
	       atomic_load(&ga->passes) >= 2 && atomic_load(&gb->passes) >= 2;
}

struct monitor {
	struct guest *ga, *gb;
	struct owner **owners;
	struct hotplug *hot;
	struct lifecycle *life;
	struct cacher *cacher;
	atomic_bool done;
	const char *volatile main_phase;
	double t_stop;
};

static void monitor_line(struct monitor *m)
{
	tap_diag("%.1fs main:%s passes A %u B %u, rounds %u/%u/%u/%u, hot cycles %u, life opened %u, cache set %u drops %u",
		 now_s(), m->main_phase, atomic_load(&m->ga->passes),
		 atomic_load(&m->gb->passes), m->owners[0]->rounds,
		 m->owners[1]->rounds, m->owners[2]->rounds, m->owners[3]->rounds,
		 m->hot->cycles, m->life->opened, m->cacher->set_size,
		 m->cacher->drops);
}

static void *monitor_thread(void *arg)
{
	struct monitor *m = arg;
	unsigned int ticks = 0, dumps = 0;

	while (!atomic_load(&m->done)) {
		sleep_ms(100);
		if (++ticks % 50 || now_s() < RUN_MS / 1000.0)
			continue;
		monitor_line(m);
		/* stopping takes seconds at most: show who does not stop */
		if (atomic_load(&stop_run) && now_s() - m->t_stop > 10 + dumps * 20) {
			tdump();
			dumps++;
		}
	}
	return NULL;
}

static bool sender_result(struct sender *s, bool ok_extra, const char *extra)
{
	bool ok = !s->why[0] && ok_extra;

	tap_result(ok, "%s: %llu ENCODE calls, %llu pages (%llu RAW, %llu XBZRLE, %llu UNCHANGED, %llu ZERO), every record valid%s%s%s",
		   s->name, (unsigned long long)s->calls,
		   (unsigned long long)s->pages, (unsigned long long)s->got.raw,
		   (unsigned long long)s->got.xbzrle,
		   (unsigned long long)s->got.unchanged,
		   (unsigned long long)s->got.zero, extra[0] ? "; " : "", extra,
		   s->why[0] ? ": " : "");
	if (s->why[0])
		tap_diag("  %s: %s", s->name, s->why);
	return ok;
}

#define NPOINTS	14

int main(void)
{
	time_t start = time(NULL);
	struct kvm_xbzrle_caps caps;
	struct guest ga = { 0 }, gb = { 0 };
	struct xbz_dest dest_a1 = { 0 }, dest_a2 = { 0 }, dest_b = { 0 };
	static struct owner o_even, o_odd, o_a2, o_b;
	static struct hotplug hot;
	static struct lifecycle life;
	struct owner *owners[] = { &o_even, &o_odd, &o_a2, &o_b };
	struct cacher cacher = { 0 };
	pthread_t t_own[4], t_hot, t_life, t_cache;
	long long ctx0, bytes0, ctx1, bytes1;
	int xa1 = -1, xa2 = -1, xb = -1, kmsg, ld0, ld1, bad;
	unsigned int lines, k, nthreads = 0;
	uint64_t calls = 0;
	char extra[256];
	static struct monitor mon;
	pthread_t t_mon;
	double t_run;
	bool ok;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	xbz_require_offload(&caps, true);
	tap_timeout(TIMEOUT_S);
	tap_plan(NPOINTS);
	kmsg = kmsg_open();
	ld0 = lockdep_debug_locks();
	ctx0 = xbz_debugfs_stat("contexts");
	bytes0 = xbz_debugfs_stat("cache_bytes");

	ga.vm.fd = gb.vm.fd = -1;
	r = guest_setup(&ga, "A", 1) || guest_setup(&gb, "B", 2) ||
	    xbz_dest_init(&dest_a1, &ga.vm) || xbz_dest_init(&dest_a2, &ga.vm) ||
	    xbz_dest_init(&dest_b, &gb.vm) ||
	    xbz_dest_init(&life.dest, &gb.vm);
	if (!r) {
		xa1 = xbz_open_bound(&ga.vm);
		xa2 = xbz_open_bound(&ga.vm);
		xb = xbz_open_bound(&gb.vm);
		r = xa1 < 0 || xa2 < 0 || xb < 0;
	}
	if (!r)
		r = sender_init(&o_even.s, "A1/even", xa1, NULL, &dest_a1) ||
		    sender_init(&o_odd.s, "A1/odd", xa1, NULL, &dest_a1) ||
		    sender_init(&hot.s, "A1/hotplug", xa1, dest_of_hot, &hot) ||
		    sender_init(&o_a2.s, "A2/full", xa2, NULL, &dest_a2) ||
		    sender_init(&o_b.s, "B", xb, NULL, &dest_b) ||
		    sender_init(&life.s, "lifecycle", -1, NULL, &life.dest);
	if (!tap_result(!r, "two VMs with a vCPU each (2 MiB guest data), contexts A1 and A2 on VM A, B on VM B%s%s",
			WHY_IF(r, kvm_util_error())))
		goto out;
	hot.vm = &ga.vm;
	life.vm = &gb.vm;
	o_even.g = o_odd.g = o_a2.g = &ga;
	o_b.g = &gb;
	o_even.mod = o_odd.mod = 2;
	o_odd.rem = 1;
	o_a2.mod = o_b.mod = 1;
	o_a2.full = true;
	for (k = 0; k < 4; k++) {
		owners[k]->gpas = calloc(CODE_SIZE / PAGE + DATA_PAGES,
					 sizeof(uint64_t));
		if (!owners[k]->gpas)
			tap_bail_out("calloc");
	}
	cacher.xfds[0] = xa1;
	cacher.xfds[1] = xa2;
	cacher.xfds[2] = xb;

	{
		struct sigaction sa = { .sa_handler = on_kick };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	}
	t_run = now_s();
	TEST_ASSERT(!pthread_create(&ga.thread, NULL, vcpu_thread, &ga) &&
		    !pthread_create(&gb.thread, NULL, vcpu_thread, &gb),
		    "pthread_create");
	ga.running = gb.running = true;
	for (k = 0; k < 4; k++)
		TEST_ASSERT(!pthread_create(&t_own[k], NULL, owner_thread,
					    owners[k]), "pthread_create");
	TEST_ASSERT(!pthread_create(&t_hot, NULL, hotplug_thread, &hot) &&
		    !pthread_create(&t_life, NULL, lifecycle_thread, &life) &&
		    !pthread_create(&t_cache, NULL, cache_thread, &cacher),
		    "pthread_create");
	nthreads = 2 + 4 + 3;
	tap_diag("%u threads: 2 vCPUs, 6 calling ENCODE (3 sharing context A1), 1 resizing caches and running the shrinker; %d ms",
		 nthreads, RUN_MS);

	mon.ga = &ga;
	mon.gb = &gb;
	mon.owners = owners;
	mon.hot = &hot;
	mon.life = &life;
	mon.cacher = &cacher;
	mon.main_phase = "run";
	TEST_ASSERT(!pthread_create(&t_mon, NULL, monitor_thread, &mon),
		    "pthread_create");
	sleep_ms(RUN_MS);
	mon.main_phase = "run-minimum";
	while (!minimum_done(owners, &hot, &life, &cacher, &ga, &gb) &&
	       now_s() - t_run < RUN_MAX_MS / 1000.0)
		sleep_ms(10);
	mon.t_stop = now_s();
	tap_diag("concurrent phase: %.1f s (at least %d ms, until every thread did its minimum, at most %d ms)",
		 mon.t_stop - t_run, RUN_MS, RUN_MAX_MS);
	atomic_store(&stop_run, true);
	mon.main_phase = "join-hot";
	pthread_join(t_hot, NULL);
	tap_diag("%.1fs joined hot", now_s());
	mon.main_phase = "join-life";
	pthread_join(t_life, NULL);
	tap_diag("%.1fs joined life", now_s());
	mon.main_phase = "join-cache";
	pthread_join(t_cache, NULL);
	tap_diag("%.1fs joined cache", now_s());
	mon.main_phase = "join-vcpus";
	guest_stop(&ga);
	guest_stop(&gb);
	tap_diag("%.1fs joined vcpus", now_s());
	atomic_store(&vcpus_stopped, true);
	mon.main_phase = "join-owners";
	for (k = 0; k < 4; k++)
		pthread_join(t_own[k], NULL);
	tap_diag("%.1fs joined owners", now_s());
	mon.main_phase = "results";

	for (k = 0; k < 4; k++) {
		snprintf(extra, sizeof(extra), "%u rounds%s", owners[k]->rounds,
			 owners[k]->full ? ", every page each round" :
			 ", dirty log + CLEAR_DIRTY_LOG");
		sender_result(&owners[k]->s, owners[k]->rounds >= MIN_ROUNDS,
			      extra);
		calls += owners[k]->s.calls;
	}
	snprintf(extra, sizeof(extra),
		 "%u memslot cycles (%u region removed first, %u dropped by the memslot check, %u same memory re-added), destination == memory after all %u sends",
		 hot.cycles, hot.removed_explicitly, hot.dropped_by_check,
		 hot.readded_same, hot.compares);
	sender_result(&hot.s, hot.cycles >= MIN_ROUNDS && hot.compares, extra);
	snprintf(extra, sizeof(extra),
		 "%u contexts opened, bound, used and closed, %u of them ENODEV after their VM's last fd closed",
		 life.opened, life.enodev);
	sender_result(&life.s, life.opened >= MIN_ROUNDS && life.enodev, extra);
	calls += hot.s.calls + life.s.calls;
	tap_result(!cacher.why[0] && cacher.set_size && cacher.resets &&
		   cacher.drops,
		   "cache: %u SET_CACHE resizes, %u RESETs, %u drop_caches, cache_bytes <= cache_size in all %u GET_STATS%s%s",
		   cacher.set_size, cacher.resets, cacher.drops, cacher.samples,
		   cacher.why[0] ? ": " : "", cacher.why);
	tap_result(!ga.error[0] && !gb.error[0] && ga.passes >= 2 &&
		   gb.passes >= 2,
		   "vCPUs: guest A %u passes, guest B %u passes, stopped cleanly%s%s%s",
		   ga.passes, gb.passes, ga.error[0] || gb.error[0] ? ": " : "",
		   ga.error, gb.error);

	/* the last rounds ran with the guests stopped */
	r = xbz_dest_compare(&dest_a1, &ga.vm);
	ok = !r && !o_even.s.why[0] && !o_odd.s.why[0];
	if (ok && hot.present && !hot.s.why[0])
		ok = !memcmp(hot.dest, hot.mem, HOT_SIZE);
	tap_result(ok, "A1 (3 threads): destination == VM A memory after the last round (code and data slots%s)%s%s",
		   hot.present ? ", hotplug slot" : "",
		   WHY_IF(r, kvm_util_error()));
	r = xbz_dest_compare(&dest_a2, &ga.vm);
	tap_result(!r && !o_a2.s.why[0],
		   "A2: destination == VM A memory after the last round%s%s",
		   WHY_IF(r, kvm_util_error()));
	r = xbz_dest_compare(&dest_b, &gb.vm);
	tap_result(!r && !o_b.s.why[0],
		   "B: destination == VM B memory after the last round%s%s",
		   WHY_IF(r, kvm_util_error()));
	tap_diag("%llu ENCODE calls in all, on 3 shared contexts and %u short-lived ones",
		 (unsigned long long)calls, life.opened);
	tap_diag("%.1fs compared", now_s());
	mon.main_phase = "cleanup";

out:
	if (xa1 >= 0)
		close(xa1);
	if (xa2 >= 0)
		close(xa2);
	if (xb >= 0)
		close(xb);
	if (ga.running && !atomic_load(&vcpus_stopped)) {
		atomic_store(&ga.stop, true);
		atomic_store(&gb.stop, true);
	}
	ctx1 = xbz_debugfs_stat("contexts");
	bytes1 = xbz_debugfs_stat("cache_bytes");
	if (ctx0 < 0 || ctx1 < 0)
		tap_skip("no debugfs kvm_xbzrle/stats",
			 "all contexts closed: module's context count and cache_bytes back where they were");
	else
		tap_result(ctx1 == ctx0 && bytes1 == bytes0,
			   "all contexts closed: module's contexts %lld -> %lld, cache_bytes %lld -> %lld",
			   ctx0, ctx1, bytes0, bytes1);
	vm_destroy(&ga.vm);
	vm_destroy(&gb.vm);
	tap_diag("%.1fs VMs destroyed", now_s());
	atomic_store(&mon.done, true);
	if (ga.running)
		pthread_join(t_mon, NULL);
	if (hot.mem)
		munmap(hot.mem, HOT_SIZE);

	ld1 = lockdep_debug_locks();
	bad = kmsg < 0 ? 0 : kmsg_count(kmsg, kmsg_problems, &lines);
	if (bad)
		tap_diag("%s", kvm_util_error());
	if (kmsg < 0)
		tap_skip("cannot read /dev/kmsg", "kernel log quiet");
	else
		tap_result(!bad && ld0 == ld1 && ld1 != 0,
			   "kernel log: %u lines during the test, %d look like a kernel problem; lockdep %s",
			   lines, bad,
			   ld0 < 0 ? "not in this kernel" :
			   ld1 == 1 ? "on before and after (nothing to say)" :
			   "turned itself off (it reported something)");
	while (tap.run < NPOINTS)
		tap_result(0, "not reached (setup failed)");
	tap_diag("offload_concurrency_test took %lld s",
		 (long long)(time(NULL) - start));
	tap_finish();
}
