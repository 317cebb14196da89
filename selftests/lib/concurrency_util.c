// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency_util - the run of the offload_concurrency_*_test selftests:
 * its set-up (VMs, vCPU threads, contexts), the concurrent phase and its
 * end, the monitor that shows who does not stop, and closing and freeing;
 * what they do is described in include/concurrency_util.h.  The threads
 * that call the module are lib/concurrency_threads.c's, the points
 * lib/concurrency_checks.c's.
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

#include "concurrency_internal.h"
#include "util_internal.h"
#include "xbzrle_util.h"

const unsigned int conc_point_threads[CONC_NPOINTS] = {
	[CONC_P_A1_EVEN]	= CONC_A1_OWNERS,
	[CONC_P_A1_ODD]		= CONC_A1_OWNERS,
	[CONC_P_A2_FULL]	= CONC_A2_OWNER,
	[CONC_P_B]		= CONC_B_OWNER,
	[CONC_P_HOTPLUG]	= CONC_HOTPLUG,
	[CONC_P_LIFECYCLE]	= CONC_LIFECYCLE,
	[CONC_P_CACHE]		= CONC_CACHE,
	[CONC_P_DEST_A1]	= CONC_A1_OWNERS,
	[CONC_P_DEST_A2]	= CONC_A2_OWNER,
	[CONC_P_DEST_B]		= CONC_B_OWNER,
};

/* -------- progress and thread states, shown when stopping is slow -------- */

static double now_s(struct conc_run *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - r->t_start.tv_sec) +
	       (ts.tv_nsec - r->t_start.tv_nsec) / 1e9;
}

struct tinfo *conc_treg(struct conc_run *r, const char *name)
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
	struct tinfo *ti = conc_treg(g->run,
				     g->name[0] == 'A' ? "vcpu A" : "vcpu B");

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

/* ------------------------------- the run ---------------------------------- */

static unsigned int rd(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Has every thread of the run done what its point asks for at least? */
static bool minimum_done(struct conc_run *r)
{
	unsigned int k;

	for (k = 0; k < 4; k++)
		if ((r->threads & conc_point_threads[k]) &&
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

	if (conc_sender_init(&o->s, r, name, xfd, NULL, dest))
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
	r->ld0 = conc_lockdep_debug_locks();
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
	    conc_sender_init(&r->hot.s, r, "A1/hotplug", r->xa1,
			     conc_dest_of_hot, &r->hot) ||
	    conc_sender_init(&r->life.s, r, "lifecycle", -1, NULL,
			     &r->life.dest))
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
		r->owners[k].started = !start(r, r->threads & conc_point_threads[k],
					      &r->owners[k].thread,
					      conc_owner_thread, &r->owners[k],
					      names[k]);
	r->hot_started = !start(r, r->threads & CONC_HOTPLUG, &r->t_hot,
				conc_hotplug_thread, &r->hot, "hotplug");
	r->life_started = !start(r, r->threads & CONC_LIFECYCLE, &r->t_life,
				 conc_lifecycle_thread, &r->life, "lifecycle");
	r->cache_started = !start(r, r->threads & CONC_CACHE, &r->t_cache,
				  conc_cache_thread, &r->cacher, "cache");
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
