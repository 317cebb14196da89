// SPDX-License-Identifier: GPL-2.0
/*
 * guest-init.c - /init of the Linux guest of e2e/migrate.py (cases n, o, v):
 * Debian's kernel with an initramfs holding only this program.
 *
 * It dirties guest RAM the way a database's buffer pool does, from one
 * thread per CPU, each pinned to its CPU: a working set of e2e.ws_mb MiB
 * (kernel command line, default 64) allocated once, of which a hot
 * sixteenth is written at every pass, a warm quarter at every fourth pass
 * and the rest (cold) at the first pass only; each write changes one
 * 8-byte word in a page at a pseudo-random offset, so a page's delta
 * against its previous contents is short.  The seed is e2e.seed.
 *
 * Output: one byte on ttyS0 per pass of the thread on CPU 0 (migrate.py
 * counts passes by that file's size), and on ttyS1 (the kernel's console
 * too) what it set up, among it how many pages of the working set lie at
 * or above 4 GiB: migrate.py gives the guest half its RAM there (as QEMU's
 * PC machine does with all but 3 GiB of a guest of more than 3.5 GiB), a
 * second RAM memslot, which the case is about.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define MAX_CPUS	8

static uint8_t *ws;
static unsigned long ws_pages;
static unsigned long seed = 1;
static int passes_fd = -1;
static FILE *log_f;

static unsigned long cmdline_ul(const char *key, unsigned long def)
{
	char buf[4096], *p;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return def;
	buf[n] = 0;
	for (p = strstr(buf, key); p; p = strstr(p + 1, key))
		if ((p == buf || p[-1] == ' ') && p[strlen(key)] == '=')
			return strtoul(p + strlen(key) + 1, NULL, 0);
	return def;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct writer {
	int cpu, ncpus;
	pthread_t thread;
};

/* CPU i writes the pages p with p % ncpus == i. */
static void *writer(void *arg)
{
	struct writer *w = arg;
	unsigned long hot = ws_pages / 16, warm = ws_pages / 4, p, pass;
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + w->cpu + 1;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (pass = 0;; pass++) {
		unsigned long end = pass == 0 ? ws_pages : pass % 4 == 0 ? hot + warm : hot;

		for (p = w->cpu; p < end; p += w->ncpus) {
			uint64_t r = xorshift(&s);

			*(volatile uint64_t *)(ws + p * PAGE + (r % (PAGE / 8)) * 8) = r;
		}
		if (w->cpu == 0 && write(passes_fd, ".", 1) != 1)
			_exit(1);
	}
	return NULL;
}

/*
 * e2e.sqlite=1 (make bench-migration's "sqlite" pattern): instead of
 * the writer above, Debian's sqlite3 (in the initramfs with its
 * libraries) holds an in-memory table of e2e.ws_mb MiB, rows of 200
 * pseudo-random bytes, and this program sends it UPDATEs of one row's
 * counter, in transactions of SQL_BATCH: 90% to rows of a hot tenth of
 * its pages, picked pseudo-randomly (so they lie scattered, as a buffer
 * pool's busy pages do), 10% to any row.  Row ids and hot pages come
 * from e2e.seed.  One byte on ttyS0 per transaction sqlite3 has
 * answered: the guest's progress.
 */
#define SQL_ROW_BYTES	200
#define SQL_ROWS_PER_PAGE 16	/* about, at 4 KiB pages: a row takes ~230 */
#define SQL_BATCH	100

static void sql(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vfprintf(f, fmt, ap) < 0)
		_exit(1);
	va_end(ap);
}

static int run_sqlite(unsigned long ws_mb)
{
	unsigned long rows = ws_mb * (1UL << 20) / 256, pages, hot, *hot_page, i;
	int in[2], out[2];
	char line[64];
	FILE *to, *from;
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	pid_t pid;

	pages = rows / SQL_ROWS_PER_PAGE;
	hot = pages / 10 ? pages / 10 : 1;
	hot_page = calloc(hot, sizeof(*hot_page));
	if (!hot_page || pipe(in) || pipe(out))
		return 1;
	for (i = 0; i < hot; i++)
		hot_page[i] = xorshift(&s) % pages;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(fileno(log_f), 2);
		execl("/usr/bin/sqlite3", "sqlite3", "-batch", ":memory:", NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to = fdopen(in[1], "w");
	from = fdopen(out[0], "r");
	if (!to || !from)
		return 1;
	sql(to, "PRAGMA journal_mode=OFF;\n"
		"CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, pad BLOB);\n"
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c "
		"WHERE x < %lu) INSERT INTO t SELECT x, 0, randomblob(%d) FROM c;\n"
		"SELECT 'rows', count(*) FROM t;\n", rows - 1, SQL_ROW_BYTES);
	fflush(to);
	do {	/* past what the PRAGMA prints */
		if (!fgets(line, sizeof(line), from))
			return 1;
	} while (strncmp(line, "rows|", 5));
	fprintf(log_f, "guest-init: sqlite3 :memory: table of %lu rows (%s), "
		"%lu hot pages of ~%lu, %d UPDATEs per transaction\n",
		rows, strtok(line, "\n"), hot, pages, SQL_BATCH);
	for (;;) {
		sql(to, "BEGIN;\n");
		for (i = 0; i < SQL_BATCH; i++) {
			uint64_t r = xorshift(&s);
			unsigned long id = r % 10 ?
				hot_page[(r >> 8) % hot] * SQL_ROWS_PER_PAGE +
				(r >> 32) % SQL_ROWS_PER_PAGE : (r >> 8) % rows;

			sql(to, "UPDATE t SET n = n + 1 WHERE id = %lu;\n", id % rows);
		}
		sql(to, "COMMIT;\nSELECT 1;\n");
		fflush(to);
		if (!fgets(line, sizeof(line), from))
			break;
		if (write(passes_fd, ".", 1) != 1)
			break;
	}
	fprintf(log_f, "guest-init: sqlite3 stopped\n");
	waitpid(pid, NULL, 0);
	return 1;
}

/* Pages of [ws, ws + ws_pages) whose frame is at or above 4 GiB. */
static unsigned long pages_above_4g(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	unsigned long p, n = 0;
	uint64_t e;

	if (fd < 0)
		return 0;
	for (p = 0; p < ws_pages; p++) {
		off_t off = ((uintptr_t)ws / PAGE + p) * sizeof(e);

		if (pread(fd, &e, sizeof(e), off) != sizeof(e))
			break;
		if ((e >> 63) && (e & ((1ULL << 55) - 1)) >= (1ULL << 32) / PAGE)
			n++;
	}
	close(fd);
	return n;
}

/*
 * Where KVM itself writes this guest's RAM outside the guest's own stores:
 * the wall clock (struct pvclock_wall_clock, 12 bytes, at the address the
 * kernel gave MSR_KVM_WALL_CLOCK_NEW) and each online vCPU's kvmclock
 * (struct pvclock_vcpu_time_info, 32 bytes, the first of each 64-byte
 * entry of hv_clock_boot, MSR_KVM_SYSTEM_TIME_NEW), both in kvmclock.c.  QEMU
 * restores those MSRs on the destination when it loads the migration,
 * and KVM then writes the areas there: the destination's copy of them is
 * KVM's, not the migrated bytes.  Physical addresses from /proc/kallsyms
 * and /proc/iomem's "Kernel code" (the kernel is mapped linearly from
 * _text).  One line on ttyS1, "guest-init: kvm-written: NAME=ADDR+SIZE"
 * per area, for migrate.py, which excuses differences only there.
 */
static unsigned long long kernel_code_phys(void)
{
	char line[256];
	unsigned long long lo = 0;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " : Kernel code")) {
			lo = strtoull(line + strspn(line, " "), NULL, 16);
			break;
		}
	fclose(f);
	return lo;
}

static void report_kvm_written(void)
{
	static const char *const syms[] = { "wall_clock", "hv_clock_boot" };
	unsigned long long text = 0, addr[2] = { 0, 0 }, v, phys;
	char line[512], type, name[256];
	FILE *f = fopen("/proc/kallsyms", "r");
	long cpu, ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int k;

	fprintf(log_f, "guest-init: kvm-written:");
	phys = kernel_code_phys();
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &v, &type, name) != 3 ||
		    strchr(line, '['))		/* a module's */
			continue;
		if (!strcmp(name, "_text"))
			text = v;
		for (k = 0; k < 2; k++)
			if (!strcmp(name, syms[k]) && !addr[k])
				addr[k] = v;
	}
	if (f)
		fclose(f);
	if (text && phys && addr[0])
		fprintf(log_f, " wall_clock=0x%llx+12", addr[0] - text + phys);
	for (cpu = 0; text && phys && addr[1] && cpu < ncpus; cpu++)
		fprintf(log_f, " hv_clock_boot[%ld]=0x%llx+32", cpu,
			addr[1] - text + phys + cpu * 64);
	fprintf(log_f, "\n");
}

int main(void)
{
	struct writer w[MAX_CPUS];
	unsigned long ws_mb;
	int i, ncpus;

	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	passes_fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY);
	log_f = fopen("/dev/ttyS1", "w");
	if (passes_fd < 0 || !log_f)
		return 1;
	setvbuf(log_f, NULL, _IONBF, 0);

	ws_mb = cmdline_ul("e2e.ws_mb", 64);
	seed = cmdline_ul("e2e.seed", 1);
	if (cmdline_ul("e2e.sqlite", 0)) {
		report_kvm_written();
		return run_sqlite(ws_mb);
	}
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 1)
		ncpus = 1;
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;
	ws_pages = ws_mb * (1UL << 20) / PAGE;
	ws = mmap(NULL, ws_pages * PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ws == MAP_FAILED) {
		fprintf(log_f, "guest-init: mmap %lu MiB failed\n", ws_mb);
		return 1;
	}
	/* 4 KiB pages, as KVM's dirty log and QEMU's pages are */
	madvise(ws, ws_pages * PAGE, MADV_NOHUGEPAGE);
	memset(ws, 0x5a, ws_pages * PAGE);
	fprintf(log_f, "guest-init: %lu MiB working set, %lu pages at or above 4 GiB, %d writers, seed %lu\n",
		ws_mb, pages_above_4g(), ncpus, seed);
	report_kvm_written();
	for (i = 0; i < ncpus; i++) {
		w[i].cpu = i;
		w[i].ncpus = ncpus;
		if (pthread_create(&w[i].thread, NULL, writer, &w[i])) {
			fprintf(log_f, "guest-init: pthread_create failed\n");
			return 1;
		}
	}
	for (;;)
		pause();
}
