// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_util - a migration of one memslot without vCPUs, "key value"
 * files, cgroup v2 with the memory controller, and the cgroup scenario of
 * the offload_memcg tests.  See include/memcg_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcg_util.h"
#include "test_util.h"
#include "util_internal.h"
#include "xbzrle_util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define PAGE		GUEST_PAGE_SIZE
#define REC_MAX		KVM_XBZRLE_RECORD_MAX_SIZE
#define REC_PAGES	64

#define why(m, ...)	set_why((m)->why, sizeof((m)->why), __VA_ARGS__)

/* ------------------------------- struct mig ------------------------------- */

void mem_populate(void *p, size_t len)
{
	size_t off;

	if (!madvise(p, len, MADV_POPULATE_WRITE))
		return;
	for (off = 0; off < len; off += PAGE)
		((volatile uint8_t *)p)[off] = ((volatile uint8_t *)p)[off];
}

/*
 * No transparent huge pages in [@p, @p + @len): khugepaged would otherwise
 * collapse the test's small pages in the background and charge the
 * cgroup up to 2 MiB more at moments the test does not choose (seen as an
 * OOM kill in a slow run).
 */
static void no_thp(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(PAGE - 1);

	if (end > start)
		madvise((void *)start, end - start, MADV_NOHUGEPAGE);
}

/* Distinct pages, a word every 256 bytes; every @zero-th page stays zero. */
static void fill_pages(uint8_t *mem, uint64_t npages, uint64_t salt,
		       unsigned int zero)
{
	uint64_t i, k;

	for (i = 0; i < npages; i++) {
		if (zero && i % zero == zero - 1)
			continue;
		for (k = 0; k < PAGE; k += 256)
			*(uint64_t *)(mem + i * PAGE + k) =
				(i * 0x9e3779b97f4a7c15ULL) ^ (k << 40) ^ salt;
	}
}

void mig_touch_pages(struct mig *m, uint8_t salt, unsigned int zero)
{
	uint8_t *mem = vm_gpa_to_hva(&m->vm, 0);
	uint64_t i;

	for (i = 0; i < m->npages; i++)
		if (!zero || i % zero != zero - 1)
			mem[i * PAGE + 8 + salt] ^= 0x5a;
}

int mig_setup(struct mig *m, uint64_t size, unsigned int zero)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->xfd = -1;
	m->vm.fd = -1;
	m->npages = size / PAGE;
	if (vm_create(&m->vm, 0) || vm_add_memslot(&m->vm, 0, 0, size) ||
	    xbz_dest_init(&m->dest, &m->vm))
		return why(m, "%s", kvm_util_error());
	m->gpas = calloc(m->npages, sizeof(*m->gpas));
	m->records = aligned_alloc(PAGE, REC_PAGES * REC_MAX);
	if (!m->gpas || !m->records)
		return why(m, "out of memory");
	for (i = 0; i < m->npages; i++)
		m->gpas[i] = (uint64_t)i * PAGE;
	no_thp(vm_gpa_to_hva(&m->vm, 0), size);
	no_thp(m->dest.slots[0].mem, size);
	no_thp(m->records, REC_PAGES * REC_MAX);
	mem_populate(vm_gpa_to_hva(&m->vm, 0), size);
	mem_populate(m->dest.slots[0].mem, size);
	mem_populate(m->records, REC_PAGES * REC_MAX);
	fill_pages(vm_gpa_to_hva(&m->vm, 0), m->npages, 1, zero);
	m->xfd = xbz_open_bound(&m->vm);
	if (m->xfd < 0)
		return why(m, "%s", kvm_util_error());
	return 0;
}

void mig_destroy(struct mig *m)
{
	if (m->xfd >= 0)
		close(m->xfd);
	m->xfd = -1;
	vm_destroy(&m->vm);
	xbz_dest_free(&m->dest);
	free(m->gpas);
	free(m->records);
	m->gpas = NULL;
	m->records = NULL;
}

int mig_round(struct mig *m)
{
	/* on the stack touch_stack() faulted in: no new page in the cgroup */
	uint8_t scratch[2 * PAGE];
	struct xbz_encode_result res;
	uint32_t done = 0;

	memset(&m->got, 0, sizeof(m->got));
	while (done < m->npages) {
		if (xbz_encode(m->xfd, 0, m->gpas + done, m->npages - done,
			       m->records, REC_PAGES * REC_MAX, PAGE, &res))
			return why(m, "after %u of %u pages: %s", done,
				   m->npages, kvm_util_error());
		m->calls++;
		if (!res.npages_done)
			return why(m, "ENCODE did no page");
		if (xbz_check_apply_call(m->records, res.records_used,
					 m->gpas + done, res.npages_done, NULL,
					 &m->dest, scratch, &m->got))
			return why(m, "%s", kvm_util_error());
		done += res.npages_done;
	}
	if (xbz_dest_compare(&m->dest, &m->vm))
		return why(m, "destination differs: %s", kvm_util_error());
	return 0;
}

/* --------------------------- "key value" files ---------------------------- */

int read_keys(const char *path, const char *const *keys, long long *vals,
	      unsigned int n)
{
	char buf[16384], *p;
	unsigned int i;
	size_t kl;

	for (i = 0; i < n; i++)
		vals[i] = -1;
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		for (i = 0; i < n; i++) {
			kl = strlen(keys[i]);
			if (!strncmp(p, keys[i], kl) &&
			    (p[kl] == ' ' || p[kl] == ':'))
				vals[i] = strtoll(p + kl + 1, NULL, 10);
		}
	}
	return 0;
}

long long read_key(const char *path, const char *key)
{
	long long v;

	read_keys(path, &key, &v, 1);
	return v;
}

long long read_num(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

/* ------------------------------ cgroup v2 --------------------------------- */

int memcg_env_setup(struct memcg *cg, char *why, size_t len)
{
	struct statfs sfs;
	char buf[512];

	memset(cg, 0, sizeof(*cg));
	if (statfs(MEMCG_ROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		if (mount("cgroup2", MEMCG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(why, len, "no cgroup v2 at " MEMCG_ROOT " and mounting it failed: %s",
				 strerror(errno));
			return 1;
		}
		cg->mounted = true;
	}
	if (read_file(MEMCG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		snprintf(why, len, "cgroup v2 has no memory controller (kernel without CONFIG_MEMCG, or cgroup_disable=memory)");
		return 1;
	}
	if (read_file(MEMCG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) ||
	    (!strstr(buf, "memory") &&
	     write_file(MEMCG_ROOT "/cgroup.subtree_control", "+memory"))) {
		snprintf(why, len, "cannot enable the memory controller for child cgroups: %s",
			 strerror(errno));
		return 1;
	}
	cg->enabled = !strstr(buf, "memory");
	return 0;
}

void memcg_env_cleanup(struct memcg *cg)
{
	if (memcg_remove(cg))
		fprintf(stderr, "# rmdir %s: %s\n", cg->dir, strerror(errno));
	if (cg->enabled)
		write_file(MEMCG_ROOT "/cgroup.subtree_control", "-memory");
	if (cg->mounted && umount2(MEMCG_ROOT, MNT_DETACH))
		fprintf(stderr, "# umount %s: %s\n", MEMCG_ROOT, strerror(errno));
	cg->enabled = cg->mounted = false;
}

const char *memcg_path(const struct memcg *cg, const char *file, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/%s", cg->dir, file);
	return buf;
}

int memcg_create(struct memcg *cg, const char *name, uint64_t max)
{
	char path[256], val[32];

	snprintf(cg->dir, sizeof(cg->dir), MEMCG_ROOT "/%s.%d", name, getpid());
	if (mkdir(cg->dir, 0755)) {
		fail_errno("mkdir %s", cg->dir);
		cg->dir[0] = 0;
		return -1;
	}
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)max);
	if (write_file(memcg_path(cg, "memory.max", path, sizeof(path)), val))
		return fail_errno("%s: %llu", path, (unsigned long long)max);
	/* no swap in the test VM; where there is, keep the cache honest */
	write_file(memcg_path(cg, "memory.swap.max", path, sizeof(path)), "0\n");
	return 0;
}

int memcg_remove(struct memcg *cg)
{
	if (!cg->dir[0])
		return 0;
	if (rmdir(cg->dir) && errno != ENOENT)
		return -1;
	cg->dir[0] = 0;
	return 0;
}

/* ---------------------------- the cgroup scenario ------------------------- */

struct memcg_result *memcg_result_alloc(void)
{
	struct memcg_result *res = mmap(NULL, sizeof(*res),
					PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (res == MAP_FAILED) {
		fail_errno("mmap");
		return NULL;
	}
	return res;
}

void memcg_result_free(struct memcg_result *res)
{
	if (res)
		munmap(res, sizeof(*res));
}

/* Child: waits until the parent has sampled the cgroup for stage @k. */
static void cg_sync(struct memcg_result *res, int k)
{
	__atomic_store_n(&res->want, k, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&res->done, __ATOMIC_SEQ_CST) != k)
		sleep_ms(1);
}

/*
 * Parent: samples memory.current; answers the child's requests.  The
 * request is read first: a sample read before it could be from before the
 * child's step that ended the stage (a close() half done).
 */
static void cg_poll(const struct memcg *cg, struct memcg_result *res)
{
	static const char *const keys[] = { "kernel", "slab", "percpu", "anon" };
	int k = __atomic_load_n(&res->want, __ATOMIC_SEQ_CST);
	char path[256];
	long long cur = read_num(memcg_path(cg, "memory.current", path, sizeof(path)));
	long long v[4];

	if (cur > res->cur_max)
		res->cur_max = cur;
	if (k > 0 && k < MEMCG_S_NR &&
	    k != __atomic_load_n(&res->done, __ATOMIC_SEQ_CST)) {
		res->cur[k] = cur;
		read_keys(memcg_path(cg, "memory.stat", path, sizeof(path)),
			  keys, v, 4);
		res->kernel[k] = v[0];
		res->slab[k] = v[1];
		res->percpu[k] = v[2];
		res->anon[k] = v[3];
		__atomic_store_n(&res->done, k, __ATOMIC_SEQ_CST);
	}
}

/* Maps and touches @len new bytes of anonymous memory (then unmaps). */
static int touch_new_memory(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	return 0;
}

/* The stack the rounds will use, faulted in before moving. */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile uint8_t buf[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 1024)
		buf[i] = 0;
}

#define cg_why(res, ...)	set_why((res)->why, sizeof((res)->why), __VA_ARGS__)
/* The child's exit status when it stops short: 1, the reason in @res. */
#define cg_fail(res, ...)	(cg_why(res, __VA_ARGS__), 1)

/*
 * After the rounds with the cache: the process grows by more than the
 * headroom and keeps the memory, as a guest touching new RAM during the
 * migration does: only reclaim of cache pages in the cgroup (the module's
 * memcg-aware shrinker) can make the room; without it the cgroup
 * OOM-kills the process.  The next round must be exact all the same.
 */
static int cg_grow(struct mig *m, struct memcg_result *res)
{
	struct kvm_xbzrle_stats st;
	uint8_t *grow;
	uint64_t t0;
	size_t off;

	grow = mmap(NULL, MEMCG_GROW, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (grow == MAP_FAILED)
		return cg_why(res, "mmap %llu MiB: %s", MEMCG_GROW / MiB,
			      strerror(errno));
	t0 = now_ns();
	for (off = 0; off < MEMCG_GROW; off += PAGE)
		grow[off] = 1;
	res->grow_ns = now_ns() - t0;
	if (xbz_get_stats(m->xfd, &st))
		return cg_why(res, "%s", kvm_util_error());
	res->grown_cache_bytes = st.cache_bytes;
	res->grown_reclaimed = st.reclaimed;
	mig_touch_pages(m, MEMCG_ROUNDS, 8);
	if (mig_round(m))
		return cg_why(res, "round after growing by %llu MiB: %s",
			      MEMCG_GROW / MiB, m->why);
	res->grown_raw = m->got.raw;
	res->grown_xbzrle = m->got.xbzrle;
	cg_sync(res, MEMCG_S_GROWN);
	res->stage = MEMCG_S_GROWN;
	munmap(grow, MEMCG_GROW);
	return 0;
}

/* The rounds in the cgroup (a child process): 0, or 1 with @res->why. */
static int cg_child(const struct memcg *cg, struct memcg_result *res,
		    bool grow)
{
	struct kvm_xbzrle_stats st;
	char pid[32], path[256];
	struct mig m;
	uint32_t i;
	int k;

	if (mig_setup(&m, MEMCG_WS, 8))
		return cg_fail(res, "setup: %s", m.why);
	res->npages = m.npages;
	if (xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, 0, NULL) ||
	    xbz_get_stats(m.xfd, &st))
		return cg_fail(res, "%s", kvm_util_error());
	touch_stack();
	/* everything above is charged where we were; the cache will be here */
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (write_file(memcg_path(cg, "cgroup.procs", path, sizeof(path)), pid))
		return cg_fail(res, "moving into %s: %s", cg->dir, strerror(errno));
	cg_sync(res, MEMCG_S_IN);
	res->stage = MEMCG_S_IN;

	if (mig_round(&m))
		return cg_fail(res, "round without cache: %s", m.why);
	cg_sync(res, MEMCG_S_NOCACHE);
	res->stage = MEMCG_S_NOCACHE;

	if (xbz_set_cache(m.xfd, KVM_XBZRLE_CACHE_SET_SIZE, MEMCG_CACHE,
			  &res->cache_size))
		return cg_fail(res, "%s", kvm_util_error());
	for (k = 0; k < MEMCG_ROUNDS; k++) {
		/*
		 * The cache holds half the pages: sweeping the other way each
		 * round, the pages sent last are the first ones sent again.
		 */
		for (i = 0; k && i < m.npages / 2; i++) {
			uint64_t t = m.gpas[i];

			m.gpas[i] = m.gpas[m.npages - 1 - i];
			m.gpas[m.npages - 1 - i] = t;
		}
		if (k)
			mig_touch_pages(&m, k, 8);
		if (mig_round(&m))
			return cg_fail(res, "round %d with the cache: %s", k + 1,
				       m.why);
		res->raw[k] = m.got.raw;
		res->xbzrle[k] = m.got.xbzrle;
	}
	if (xbz_get_stats(m.xfd, &st))
		return cg_fail(res, "%s", kvm_util_error());
	cg_sync(res, MEMCG_S_CACHE);
	res->cache_bytes = st.cache_bytes;
	res->evictions = st.evictions;
	res->stage = MEMCG_S_CACHE;

	/*
	 * The VM's process allocates after the cache filled what it could:
	 * the headroom the cache left takes it (without it: an OOM kill).
	 */
	if (touch_new_memory(MEMCG_MAX / 16))
		return cg_fail(res, "allocating %llu KiB after the cache: %s",
			       MEMCG_MAX / 16 / 1024, strerror(errno));
	if (grow && cg_grow(&m, res))
		return 1;

	close(m.xfd);
	m.xfd = -1;
	cg_sync(res, MEMCG_S_CLOSED);
	res->stage = MEMCG_S_CLOSED;
	mig_destroy(&m);
	return 0;
}

int memcg_scenario(const struct memcg *cg, struct memcg_result *res,
		   bool grow)
{
	char path[256];
	pid_t pid;

	memset(res, 0, sizeof(*res));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return fail_errno("fork");
	if (!pid)
		_exit(cg_child(cg, res, grow));
	while (waitpid(pid, &res->status, WNOHANG) == 0) {
		cg_poll(cg, res);
		sleep_ms(5);
	}
	memcg_path(cg, "memory.events", path, sizeof(path));
	res->ev_max = read_key(path, "max");
	res->ev_oom = read_key(path, "oom");
	res->ev_kill = read_key(path, "oom_kill");
	res->peak = read_num(memcg_path(cg, "memory.peak", path, sizeof(path)));
	res->peak_sampled = res->peak < 0;
	if (res->peak_sampled)
		res->peak = res->cur_max;	/* before 5.19: sampled */
	return 0;
}
