// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency_util - the threads, guests and checks of the
 * offload_concurrency_*_test selftests; what they do is described in
 * include/concurrency_util.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "concurrency_util.h"
#include "guest_util.h"
#include "kvm_util.h"
#include "records.h"
#include "test_util.h"
#include "util_internal.h"
#include "xbzrle_util.h"

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE

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
#define OUT_PORT	GMIG_OUT_PORT
#define REC_PAGES	64	/* record buffer of each thread, in pages */
#define DEFAULT_CACHE	(64ULL << 20)
#define MAX_THREADS	16


/* A thread's name and phase, shown when stopping is slow. */
struct tinfo {
	const char *name;
	pid_t tid;
	const char *volatile phase;
};

/* One thread's view of one context. */
struct sender {
	struct conc_run *run;
	const char *name;
	int xfd;
	uint8_t *records;
	xbz_dest_page_fn dest_page;	/* NULL: @dest is a struct xbz_dest */
	void *dest;
	uint64_t calls, pages;
	struct xbz_counts got;
	char why[384];
};

struct guest {
	struct conc_run *run;
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

/* Dirty-log owner (CLEAR_DIRTY_LOG) or full-resend owner. */
struct owner {
	struct sender s;
	struct guest *g;
	unsigned int mod, rem;	/* owned pages: index % mod == rem */
	bool full;		/* every owned page each round, no flag */
	unsigned int rounds;
	uint64_t *gpas;
	pthread_t thread;
	bool started;
};

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

/* Opens, binds, uses and closes contexts on VM B; scratch VMs now and then. */
struct lifecycle {
	struct sender s;
	struct kvm_vm *vm;
	struct xbz_dest dest;
	uint64_t gpas[DATA_PAGES];
	unsigned int opened, enodev;
};

/* Resizes and resets the shared contexts; runs the shrinker. */
struct cacher {
	struct conc_run *run;
	int xfds[3];
	unsigned int set_size, resets, drops, samples;
	char why[256];
};

struct conc_run {
	unsigned int threads;		/* CONC_* */
	struct guest ga, gb;
	struct xbz_dest dest_a1, dest_a2, dest_b;
	int xa1, xa2, xb;
	struct owner owners[4];		/* A1/even, A1/odd, A2/full, B */
	struct hotplug hot;
	struct lifecycle life;
	struct cacher cacher;
	pthread_t t_hot, t_life, t_cache, t_mon;
	bool hot_started, life_started, cache_started, start_failed;
	bool monitoring, closed;
	atomic_bool stop_run;		/* end of the concurrent phase */
	atomic_bool vcpus_stopped;	/* owners may run their last round */
	atomic_bool mon_done;
	const char *volatile main_phase;
	double t_stop;
	struct timespec t_start;
	struct tinfo tinfos[MAX_THREADS];
	atomic_uint ntinfo;
	int kmsg, ld0;
	long long ctx0, bytes0;
};

/* The thread that owns each owner point, and its CONC_* bit. */
static const unsigned int owner_bit[4] = {
	CONC_A1_OWNERS, CONC_A1_OWNERS, CONC_A2_OWNER, CONC_B_OWNER,
};

/* -------- progress and thread states, shown when stopping is slow -------- */

static double now_s(struct conc_run *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - r->t_start.tv_sec) +
	       (ts.tv_nsec - r->t_start.tv_nsec) / 1e9;
}

static struct tinfo *treg(struct conc_run *r, const char *name)
{
	struct tinfo *t = &r->tinfos[atomic_fetch_add(&r->ntinfo, 1)];

	t->name = name;
	t->tid = syscall(SYS_gettid);
	t->phase = "start";
	return t;
}

static void tdump(struct conc_run *r)
{
	unsigned int k, n = atomic_load(&r->ntinfo);
	char path[96], *p;

	for (k = 0; k < n; k++) {
		char wchan[64] = "?", stack[2048] = "", stat_line[2048] = "";
		struct tinfo *t = &r->tinfos[k];

		snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", t->tid);
		read_file(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", t->tid);
		if (!read_file(path, stack, sizeof(stack)))
			for (p = stack; *p; p++)
				if (*p == '\n')
					*p = '|';
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", t->tid);
		read_file(path, stat_line, sizeof(stat_line));
		p = strrchr(stat_line, ')');
		tap_diag("  %.1fs %-11s tid %d phase %s state %c wchan %s stack %s",
			 now_s(r), t->name, t->tid, t->phase, p ? p[2] : '?',
			 wchan, stack);
	}
}

/* -------------------------------- senders --------------------------------- */

/* The reason @s failed, -1; the first reason stays. */
#define fail_why(s, ...)						\
	((s)->why[0] ? -1 : set_why((s)->why, sizeof((s)->why), __VA_ARGS__))

static int sender_init(struct sender *s, struct conc_run *r, const char *name,
		       int xfd, xbz_dest_page_fn fn, void *dest)
{
	memset(s, 0, sizeof(*s));
	s->run = r;
	s->name = name;
	s->xfd = xfd;
	s->dest_page = fn;
	s->dest = dest;
	s->records = aligned_alloc(PAGE, REC_PAGES * REC_MAX);
	return s->records ? 0 : fail_errno("aligned_alloc");
}

/*
 * Sends @gpas[0..n) in as many calls as it takes; checks and applies each
 * call's records to the destination (see the header).
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

static void on_kick(int sig)
{
	(void)sig;	/* only interrupts KVM_RUN */
}

/* Stops the vCPU thread: KVM_RUN returns EINTR at once, pass or not. */
static void guest_stop(struct guest *g)
{
	if (!g->running)
		return;
	atomic_store(&g->stop, true);
	g->vcpu.run->immediate_exit = 1;
	while (!atomic_load(&g->exited)) {
		pthread_kill(g->thread, SIGUSR1);
		sleep_ms(5);
	}
	pthread_join(g->thread, NULL);
	g->vcpu.run->immediate_exit = 0;
	g->running = false;
}

static int guest_setup(struct guest *g, struct conc_run *r, const char *name,
		       unsigned int seed)
{
	struct kvm_regs regs;
	uint8_t *data;
	uint64_t i;

	g->run = r;
	g->name = name;
	if (vm_create(&g->vm, VM_MANUAL_PROTECT) ||
	    vm_add_memslot(&g->vm, CODE_SLOT, CODE_GPA, CODE_SIZE) ||
	    vm_add_memslot(&g->vm, DATA_SLOT, DATA_GPA, DATA_SIZE) ||
	    gmig_load_guest(&g->vm, CODE_GPA))
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
	struct tinfo *ti = treg(g->run, g->name[0] == 'A' ? "vcpu A" : "vcpu B");

	ti->phase = "run";
	/*
	 * Not vcpu_run_until_out(), which retries EINTR: conc_run() stops a
	 * vCPU with a signal (and immediate_exit) instead of waiting for the
	 * end of a guest pass, which takes seconds on a slow kernel.
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

/* ------------------------------- owners ----------------------------------- */

/* The owner's pages of this round: all of them, or the dirty ones. */
static int owner_round_pages(struct owner *o)
{
	int n = o->full ? (int)owned_pages(o->gpas, o->mod, o->rem)
			: owned_dirty(&o->g->vm, o->gpas, o->mod, o->rem);

	if (n < 0)
		fail_why(&o->s, "%s", kvm_util_error());
	return n;
}

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	struct conc_run *r = o->s.run;
	const uint32_t flags = o->full ? 0 : KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG;
	struct tinfo *ti = treg(r, o->s.name);
	int n;

	ti->phase = "round0";
	/* round 0: every owned page */
	n = owned_pages(o->gpas, o->mod, o->rem);
	if (send_pages(&o->s, o->gpas, n, flags))
		return NULL;
	o->rounds = 1;
	ti->phase = "rounds";
	while (!atomic_load(&r->stop_run)) {
		n = owner_round_pages(o);
		if (n < 0 || send_pages(&o->s, o->gpas, n, flags))
			return NULL;
		if (n)
			__atomic_add_fetch(&o->rounds, 1, __ATOMIC_RELAXED);
		else
			sleep_ms(1);	/* nothing dirty yet: let the others run */
	}
	/* the last round, with the guest stopped */
	ti->phase = "wait-vcpus";
	while (!atomic_load(&r->vcpus_stopped))
		sleep_ms(1);
	ti->phase = "last";
	n = owner_round_pages(o);
	if (n >= 0)
		send_pages(&o->s, o->gpas, n, flags);
	ti->phase = "done";
	return NULL;
}

/* ------------------------------- hotplug ---------------------------------- */

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

/* Removes the slot and adds it again, the way @h->cycles says. */
static int hot_replug(struct hotplug *h, unsigned int *seed)
{
	uint8_t *old;

	h->present = false;
	switch (h->cycles % 3) {
	case 0:	/* as QEMU does: the region first, then the memslot */
		if (xbz_set_region(h->s.xfd, HOT_SLOT, HOT_GPA, 0, NULL))
			return fail_why(&h->s, "%s", kvm_util_error());
		if (hot_memslot(h, NULL, 0))
			return -1;
		munmap(h->mem, HOT_SIZE);
		h->mem = hot_map((*seed)++);
		memset(h->dest, 0, sizeof(h->dest));
		h->removed_explicitly++;
		break;
	case 1:	/* memslot only: other memory, the module must notice */
		if (hot_memslot(h, NULL, 0))
			return -1;
		old = h->mem;
		h->mem = hot_map((*seed)++);	/* another address */
		munmap(old, HOT_SIZE);
		memset(h->dest, 0, sizeof(h->dest));
		h->dropped_by_check++;
		break;
	default: /* the same memory again: bases may stay */
		if (hot_memslot(h, NULL, 0))
			return -1;
		h->readded_same++;
		break;
	}
	return hot_add(h);
}

static void *hotplug_thread(void *arg)
{
	struct hotplug *h = arg;
	struct conc_run *r = h->s.run;
	struct tinfo *ti = treg(r, "A1/hotplug");
	unsigned int i, seed = 77;

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
		if (atomic_load(&r->stop_run))
			break;	/* end with the slot present and sent */
		/* remove and add again, three ways */
		ti->phase = "memslot";
		if (hot_replug(h, &seed))
			return NULL;
		h->cycles++;
	}
	h->cycles++;
	ti->phase = "done";
	return NULL;
}

/* ------------------------------ lifecycle --------------------------------- */

static int lifecycle_scratch_vm(struct lifecycle *l)
{
	struct xbz_encode_result res;
	struct kvm_xbzrle_stats st;
	struct kvm_vm c;
	uint64_t gpa = 0;
	int xfd, r = -1;

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

/* One short-lived context on VM B: opened, used and closed.  0 or -1. */
static int lifecycle_context(struct lifecycle *l, unsigned int it,
			     struct tinfo *ti)
{
	unsigned int i, first;
	int xfd, r = -1;

	ti->phase = "open";
	xfd = xbz_open_bound(l->vm);
	if (xfd < 0)
		return fail_why(&l->s, "%s", kvm_util_error());
	l->opened++;
	ti->phase = "send";
	l->s.xfd = xfd;
	for (i = 0; i < l->dest.nslots; i++)
		memset(l->dest.slots[i].mem, 0, l->dest.slots[i].size);
	if (it % 2 &&
	    xbz_set_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 32 * PAGE, NULL)) {
		fail_why(&l->s, "%s", kvm_util_error());
		goto out;
	}
	/* 128 data pages, twice: RAW, then deltas (the guest runs) */
	first = (it * 128) % DATA_PAGES;
	for (i = 0; i < 128; i++)
		l->gpas[i] = DATA_GPA + ((first + i) % DATA_PAGES) * PAGE;
	if (send_pages(&l->s, l->gpas, 128, 0) ||
	    send_pages(&l->s, l->gpas, 128, 0))
		goto out;
	r = 0;
out:
	/* closed with its cache full, while the shrinker may run */
	ti->phase = "close";
	close(xfd);
	return r;
}

static void *lifecycle_thread(void *arg)
{
	struct lifecycle *l = arg;
	struct conc_run *r = l->s.run;
	struct tinfo *ti = treg(r, "lifecycle");
	unsigned int it;

	for (it = 0; !atomic_load(&r->stop_run); it++) {
		if (it % 4 == 1) {
			ti->phase = "scratch";
			if (lifecycle_scratch_vm(l))
				return NULL;
		} else if (lifecycle_context(l, it, ti)) {
			return NULL;
		}
	}
	ti->phase = "done";
	return NULL;
}

/* -------------------------------- cache ----------------------------------- */

static void *cache_thread(void *arg)
{
	static const uint64_t sizes[] = {
		0, 16 * PAGE, 256 * 1024, 1 << 20, 100 * PAGE + 123,
		DEFAULT_CACHE,
	};
	struct cacher *c = arg;
	struct tinfo *ti = treg(c->run, "cache");
	struct kvm_xbzrle_stats st;
	unsigned int it = 0, k;
	uint64_t eff;

	while (!atomic_load(&c->run->stop_run)) {
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

/* ------------------------------- the run ---------------------------------- */

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

static unsigned int rd(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Has every thread of the run done what its point asks for at least? */
static bool minimum_done(struct conc_run *r)
{
	unsigned int k;

	for (k = 0; k < 4; k++)
		if ((r->threads & owner_bit[k]) &&
		    rd(&r->owners[k].rounds) < CONC_MIN_ROUNDS)
			return false;
	/* the hotplug thread counts its last cycle when it stops */
	if ((r->threads & CONC_HOTPLUG) &&
	    rd(&r->hot.cycles) + 1 < CONC_MIN_ROUNDS)
		return false;
	if ((r->threads & CONC_LIFECYCLE) &&
	    (rd(&r->life.opened) < CONC_MIN_ROUNDS || !rd(&r->life.enodev)))
		return false;
	if ((r->threads & CONC_CACHE) &&
	    (!rd(&r->cacher.set_size) || !rd(&r->cacher.resets) ||
	     !rd(&r->cacher.drops)))
		return false;
	return atomic_load(&r->ga.passes) >= 2 && atomic_load(&r->gb.passes) >= 2;
}

static void monitor_line(struct conc_run *r)
{
	tap_diag("%.1fs main:%s passes A %u B %u, rounds %u/%u/%u/%u, hot cycles %u, life opened %u, cache set %u drops %u",
		 now_s(r), r->main_phase, atomic_load(&r->ga.passes),
		 atomic_load(&r->gb.passes), rd(&r->owners[0].rounds),
		 rd(&r->owners[1].rounds), rd(&r->owners[2].rounds),
		 rd(&r->owners[3].rounds), rd(&r->hot.cycles),
		 rd(&r->life.opened), rd(&r->cacher.set_size),
		 rd(&r->cacher.drops));
}

/* Progress every 5 s past CONC_RUN_MS; who does not stop, if slow. */
static void *monitor_thread(void *arg)
{
	struct conc_run *r = arg;
	unsigned int ticks = 0, dumps = 0;

	while (!atomic_load(&r->mon_done)) {
		sleep_ms(100);
		if (++ticks % 50 || now_s(r) < CONC_RUN_MS / 1000.0)
			continue;
		monitor_line(r);
		/* stopping takes seconds at most: show who does not stop */
		if (atomic_load(&r->stop_run) &&
		    now_s(r) - r->t_stop > 10 + dumps * 20) {
			tdump(r);
			dumps++;
		}
	}
	return NULL;
}

static int owner_init(struct conc_run *r, unsigned int k, const char *name,
		      int xfd, struct xbz_dest *dest, struct guest *g,
		      unsigned int mod, unsigned int rem, bool full)
{
	struct owner *o = &r->owners[k];

	if (sender_init(&o->s, r, name, xfd, NULL, dest))
		return -1;
	o->g = g;
	o->mod = mod;
	o->rem = rem;
	o->full = full;
	o->gpas = calloc(CODE_SIZE / PAGE + DATA_PAGES, sizeof(uint64_t));
	return o->gpas ? 0 : fail_errno("calloc");
}

int conc_setup(struct conc_run **runp, unsigned int threads)
{
	struct kvm_xbzrle_caps caps;
	struct conc_run *r;

	*runp = r = calloc(1, sizeof(*r));
	if (!r)
		return fail_errno("calloc");
	clock_gettime(CLOCK_MONOTONIC, &r->t_start);
	r->threads = threads;
	r->xa1 = r->xa2 = r->xb = -1;
	r->ga.vm.fd = r->gb.vm.fd = -1;
	r->kmsg = kmsg_open();
	r->ld0 = lockdep_debug_locks();
	r->ctx0 = xbz_debugfs_stat("contexts");
	r->bytes0 = xbz_debugfs_stat("cache_bytes");

	/* the module is what is tested: its absence is a failure */
	if (xbz_check_offload(&caps))
		return -1;
	if (!(caps.capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG) ||
	    !(kvm_check_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE))
		return fail("no manual dirty-log protection (module caps 0x%llx)",
			    (unsigned long long)caps.capabilities);

	if (guest_setup(&r->ga, r, "A", 1) || guest_setup(&r->gb, r, "B", 2) ||
	    xbz_dest_init(&r->dest_a1, &r->ga.vm) ||
	    xbz_dest_init(&r->dest_a2, &r->ga.vm) ||
	    xbz_dest_init(&r->dest_b, &r->gb.vm) ||
	    xbz_dest_init(&r->life.dest, &r->gb.vm))
		return -1;
	r->xa1 = xbz_open_bound(&r->ga.vm);
	if (r->xa1 < 0)
		return -1;
	r->xa2 = xbz_open_bound(&r->ga.vm);
	if (r->xa2 < 0)
		return -1;
	r->xb = xbz_open_bound(&r->gb.vm);
	if (r->xb < 0)
		return -1;
	if (owner_init(r, CONC_P_A1_EVEN, "A1/even", r->xa1, &r->dest_a1,
		       &r->ga, 2, 0, false) ||
	    owner_init(r, CONC_P_A1_ODD, "A1/odd", r->xa1, &r->dest_a1,
		       &r->ga, 2, 1, false) ||
	    owner_init(r, CONC_P_A2_FULL, "A2/full", r->xa2, &r->dest_a2,
		       &r->ga, 1, 0, true) ||
	    owner_init(r, CONC_P_B, "B", r->xb, &r->dest_b, &r->gb, 1, 0,
		       false) ||
	    sender_init(&r->hot.s, r, "A1/hotplug", r->xa1, dest_of_hot,
			&r->hot) ||
	    sender_init(&r->life.s, r, "lifecycle", -1, NULL, &r->life.dest))
		return -1;
	r->hot.vm = &r->ga.vm;
	r->life.vm = &r->gb.vm;
	r->cacher.run = r;
	r->cacher.xfds[0] = r->xa1;
	r->cacher.xfds[1] = r->xa2;
	r->cacher.xfds[2] = r->xb;
	tap_diag("two VMs with a vCPU each (2 MiB guest data), contexts A1 and A2 on VM A, B on VM B");
	return 0;
}

/* Starts @fn(@arg) in *@t if @want and all before it started.  0 or -1. */
static int start(struct conc_run *r, bool want, pthread_t *t,
		 void *(*fn)(void *), void *arg, const char *what)
{
	int e;

	if (!want || r->start_failed)
		return -1;
	e = pthread_create(t, NULL, fn, arg);
	if (e) {
		errno = e;
		r->start_failed = true;
		return fail_errno("pthread_create %s", what);
	}
	return 0;
}

int conc_run(struct conc_run *r)
{
	static const char *const names[] = { "A1/even", "A1/odd", "A2/full", "B" };
	struct sigaction sa = { .sa_handler = on_kick };
	unsigned int k, encoders;
	double t_run;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	t_run = now_s(r);
	r->ga.running = !start(r, true, &r->ga.thread, vcpu_thread, &r->ga,
			       "vcpu A");
	r->gb.running = !start(r, true, &r->gb.thread, vcpu_thread, &r->gb,
			       "vcpu B");
	for (k = 0; k < 4; k++)
		r->owners[k].started = !start(r, r->threads & owner_bit[k],
					      &r->owners[k].thread,
					      owner_thread, &r->owners[k],
					      names[k]);
	r->hot_started = !start(r, r->threads & CONC_HOTPLUG, &r->t_hot,
				hotplug_thread, &r->hot, "hotplug");
	r->life_started = !start(r, r->threads & CONC_LIFECYCLE, &r->t_life,
				 lifecycle_thread, &r->life, "lifecycle");
	r->cache_started = !start(r, r->threads & CONC_CACHE, &r->t_cache,
				  cache_thread, &r->cacher, "cache");
	encoders = r->hot_started + r->life_started;
	for (k = 0; k < 4; k++)
		encoders += r->owners[k].started;
	tap_diag("%u threads: 2 vCPUs, %u calling ENCODE, %s; %d ms",
		 2 + encoders + r->cache_started, encoders,
		 r->cache_started ? "1 resizing caches and running the shrinker" :
		 "no cache resizer", CONC_RUN_MS);
	r->main_phase = "run";
	r->monitoring = !start(r, true, &r->t_mon, monitor_thread, r,
			       "monitor");

	if (!r->start_failed) {
		sleep_ms(CONC_RUN_MS);
		r->main_phase = "run-minimum";
		while (!minimum_done(r) &&
		       now_s(r) - t_run < CONC_RUN_MAX_MS / 1000.0)
			sleep_ms(10);
	}
	r->t_stop = now_s(r);
	tap_diag("concurrent phase: %.1f s (at least %d ms, until every thread did its minimum, at most %d ms)",
		 r->t_stop - t_run, CONC_RUN_MS, CONC_RUN_MAX_MS);
	atomic_store(&r->stop_run, true);
	r->main_phase = "join";
	if (r->hot_started)
		pthread_join(r->t_hot, NULL);
	if (r->life_started)
		pthread_join(r->t_life, NULL);
	if (r->cache_started)
		pthread_join(r->t_cache, NULL);
	r->main_phase = "join-vcpus";
	guest_stop(&r->ga);
	guest_stop(&r->gb);
	atomic_store(&r->vcpus_stopped, true);
	r->main_phase = "join-owners";
	for (k = 0; k < 4; k++)
		if (r->owners[k].started)
			pthread_join(r->owners[k].thread, NULL);
	tap_diag("%.1fs joined every thread", now_s(r));
	r->main_phase = "results";
	return r->start_failed ? -1 : 0;
}

/* -------------------------------- results --------------------------------- */

bool conc_applies(const struct conc_run *r, enum conc_point p)
{
	switch (p) {
	case CONC_P_A1_EVEN:
	case CONC_P_A1_ODD:
	case CONC_P_A2_FULL:
	case CONC_P_B:
		return r->threads & owner_bit[p];
	case CONC_P_HOTPLUG:
		return r->threads & CONC_HOTPLUG;
	case CONC_P_LIFECYCLE:
		return r->threads & CONC_LIFECYCLE;
	case CONC_P_CACHE:
		return r->threads & CONC_CACHE;
	case CONC_P_VCPUS:
		return true;
	case CONC_P_DEST_A1:
		return r->threads & CONC_A1_OWNERS;
	case CONC_P_DEST_A2:
		return r->threads & CONC_A2_OWNER;
	case CONC_P_DEST_B:
		return r->threads & CONC_B_OWNER;
	default:
		return false;
	}
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

void conc_close(struct conc_run *r)
{
	unsigned int k;
	uint64_t calls = r->hot.s.calls + r->life.s.calls;

	if (r->closed)
		return;
	r->closed = true;
	for (k = 0; k < 4; k++)
		calls += r->owners[k].s.calls;
	if (calls)
		tap_diag("%llu ENCODE calls in all, on 3 shared contexts and %u short-lived ones",
			 (unsigned long long)calls, r->life.opened);
	if (r->xa1 >= 0)
		close(r->xa1);
	if (r->xa2 >= 0)
		close(r->xa2);
	if (r->xb >= 0)
		close(r->xb);
	r->xa1 = r->xa2 = r->xb = -1;
	guest_stop(&r->ga);
	guest_stop(&r->gb);
	vcpu_destroy(&r->ga.vcpu);
	vcpu_destroy(&r->gb.vcpu);
	vm_destroy(&r->ga.vm);
	vm_destroy(&r->gb.vm);
	if (r->hot.mem)
		munmap(r->hot.mem, HOT_SIZE);
	r->hot.mem = NULL;
	atomic_store(&r->mon_done, true);
	if (r->monitoring)
		pthread_join(r->t_mon, NULL);
	r->monitoring = false;
	tap_diag("%.1fs contexts closed, VMs destroyed", now_s(r));
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
	int ld1 = lockdep_debug_locks(), bad;
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

void conc_free(struct conc_run *r)
{
	unsigned int k;

	if (!r)
		return;
	conc_close(r);
	for (k = 0; k < 4; k++) {
		free(r->owners[k].s.records);
		free(r->owners[k].gpas);
	}
	free(r->hot.s.records);
	free(r->life.s.records);
	xbz_dest_free(&r->dest_a1);
	xbz_dest_free(&r->dest_a2);
	xbz_dest_free(&r->dest_b);
	xbz_dest_free(&r->life.dest);
	if (r->kmsg >= 0)
		close(r->kmsg);
	free(r);
}

unsigned int conc_timeout_scale(void)
{
	return timeout_scaled(1);
}
