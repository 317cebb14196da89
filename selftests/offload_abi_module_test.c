// SPDX-License-Identifier: GPL-2.0
/*
 * offload_abi_module_test - the module-wide side of the offload ABI: the
 * cache size ceiling of KVM_XBZRLE_SET_CACHE, the read-only debugfs
 * files and the unload refusal while a context is open.
 *
 *   cache_refused      on an unbound context set to 64 pages: a size above
 *                      the max_cache_mb ceiling (0 reads as an eighth of
 *                      RAM) or 2^64 - 1 bytes: E2BIG; a size without
 *                      SET_SIZE, or with RESET only: EINVAL; the size stays
 *                      64 pages;
 *   cache_ceiling      exactly the ceiling is accepted and in effect;
 *   debugfs_stats      kvm_xbzrle/stats is read-only (no write bit, a
 *                      write fails), has a "name value" line for each
 *                      counter, and counts at least this process's
 *                      contexts;
 *   debugfs_contexts   kvm_xbzrle/contexts is read-only, has one line with
 *                      all fields per context of this process, and the
 *                      bound context's line has its pages and cache_size;
 *   unload             delete_module(O_NONBLOCK) while contexts are open
 *                      fails with EWOULDBLOCK (the kernel's
 *                      try_stop_module(), not EBUSY), the module stays.
 *
 * The debugfs cases are skipped without debugfs or access to it, unload
 * if the module is built in or without CAP_SYS_MODULE.  On the kernel's
 * kselftest harness; a missing module fails the set-up.  Contract:
 * <linux/kvm_xbzrle.h>, Documentation/uapi.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include <linux/kvm_xbzrle.h>

#include "kselftest_harness.h"

#include "abi_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

#define DEBUGFS		"/sys/kernel/debug"
#define DBG_DIR		DEBUGFS "/kvm_xbzrle"
#define DEBUGFS_MAGIC	0x64626720
#define REFCNT		"/sys/module/kvm_xbzrle/refcnt"

FIXTURE(module) {
	struct abi_fx fx;		/* a bound context */
	int cache_xfd;			/* an unbound one */
	int open_contexts;		/* of this process */
	char text[65536];
};

FIXTURE_SETUP(module)
{
	self->cache_xfd = -1;
	ASSERT_EQ(0, abi_fx_init(&self->fx)) TH_LOG("%s", kvm_util_error());
	self->cache_xfd = xbz_open();
	ASSERT_LE(0, self->cache_xfd) TH_LOG("%s", kvm_util_error());
	self->open_contexts = 2;
}

FIXTURE_TEARDOWN(module)
{
	if (self->cache_xfd >= 0)
		close(self->cache_xfd);
	abi_fx_destroy(&self->fx);
}

/* The SET_CACHE ceiling: max_cache_mb, 0 reading as an eighth of RAM. */
static uint64_t cache_limit(struct __test_metadata *_metadata)
{
	char v[32];
	struct sysinfo si;
	uint64_t limit;
	long max;

	ASSERT_EQ(0, read_file(PARAM_DIR "max_cache_mb", v, sizeof(v)))
		TH_LOG("SET_CACHE: cannot read " PARAM_DIR "max_cache_mb");
	max = strtol(v, NULL, 10);
	ASSERT_LE(0, max);
	limit = (uint64_t)max * MIB;
	if (!max) {
		ASSERT_EQ(0, sysinfo(&si)) TH_LOG("SET_CACHE: sysinfo failed");
		limit = (uint64_t)si.totalram * si.mem_unit / PG / 8 * PG;
		ksft_print_msg("max_cache_mb reads 0: the ceiling is an eighth of RAM, %llu bytes\n",
			       (unsigned long long)limit);
	}
	return limit;
}

TEST_F(module, cache_refused)
{
	uint64_t limit = cache_limit(_metadata);
	int xfd = self->cache_xfd, r;
	struct kvm_xbzrle_stats s;

	EXPECT_ERRNO(0, abi_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, 64 * PG, NULL),
		     "SET_CACHE: 64 pages");
	EXPECT_ERRNO(E2BIG, abi_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, limit + PG, NULL),
		     "SET_CACHE: the max_cache_mb ceiling (%llu bytes) + one page",
		     (unsigned long long)limit);
	EXPECT_ERRNO(E2BIG, abi_cache(xfd, KVM_XBZRLE_CACHE_SET_SIZE, ~0ULL, NULL),
		     "SET_CACHE: 2^64 - 1 bytes");
	EXPECT_ERRNO(EINVAL, abi_cache(xfd, 0, 128 * PG, NULL),
		     "SET_CACHE: cache_size non-zero without SET_SIZE");
	EXPECT_ERRNO(EINVAL, abi_cache(xfd, KVM_XBZRLE_CACHE_RESET, 128 * PG, NULL),
		     "SET_CACHE: cache_size non-zero with RESET only");
	r = abi_stats(xfd, &s);
	EXPECT_EQ(0, r);
	EXPECT_EQ(64 * PG, s.cache_size)
		TH_LOG("SET_CACHE: the refused calls changed the size");
}

TEST_F(module, cache_ceiling)
{
	uint64_t limit = cache_limit(_metadata), out = 0;
	int r;

	r = abi_cache(self->cache_xfd, KVM_XBZRLE_CACHE_SET_SIZE, limit, &out);
	EXPECT_ERRNO(0, r, "SET_CACHE: exactly max_cache_mb (%llu bytes)",
		     (unsigned long long)limit);
	EXPECT_EQ(limit, out) TH_LOG("SET_CACHE: the size in effect");
}

/* ---------------------------------- debugfs -------------------------------- */

/* Why debugfs cannot be read (mounting it if need be), or NULL. */
static const char *debugfs_missing(void)
{
	struct statfs sfs;

	if ((statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC) &&
	    (mount("debugfs", DEBUGFS, "debugfs", 0, NULL) ||
	     statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC))
		return "debugfs not available";
	if (access(DEBUGFS, X_OK) && errno == EACCES)
		return "debugfs not accessible (not root)";
	return NULL;
}

static const char *const stat_names[] = {
	"contexts", "pages", "cache_hits", "cache_misses", "overflows",
	"zero_pages", "unchanged_pages", "xbzrle_pages", "raw_pages",
	"delta_bytes", "evictions", "reclaimed", "refused", "cache_bytes",
	"max_cache_bytes",
};

static const char *const ctx_fields[] = {
	"id=", "pid=", "bound=", "pages=", "cache_hits=", "cache_misses=",
	"overflows=", "zero_pages=", "unchanged_pages=", "xbzrle_pages=",
	"raw_pages=", "delta_bytes=", "evictions=", "reclaimed=",
	"refused=", "cache_bytes=", "cache_size=",
};

/* @path into @buf (@len bytes, NUL-terminated): its length, -1 on error. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + total, len - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return n < 0 ? -1 : total;
}

/* The file exists without write permission bits, and writing it fails. */
static void check_read_only(struct __test_metadata *_metadata, const char *path)
{
	struct stat st;
	int fd, wrote = 0;

	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s exists: %s", path, strerror(errno));
	EXPECT_TRUE(S_ISREG(st.st_mode) && !(st.st_mode & 0222))
		TH_LOG("%s exists without write permission (mode 0%o)", path,
		       st.st_mode & 07777);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		wrote = write(fd, "0\n", 2) >= 0;
		close(fd);
	}
	EXPECT_FALSE(wrote) TH_LOG("%s: writing succeeded", path);
}

/* Value of " name=" (or at line start) in @line, -1 if absent. */
static long long field(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *p = line;

	while ((p = strstr(p, name))) {
		if (p == line || p[-1] == ' ')
			return strtoll(p + n, NULL, 10);
		p += n;
	}
	return -1;
}

TEST_F(module, debugfs_stats)
{
	char *text = self->text, *p;
	long long contexts = -1;
	unsigned int i, missing = 0;
	const char *why;
	bool ok;
	size_t n;

	why = debugfs_missing();
	if (why)
		SKIP(return, "%s", why);
	check_read_only(_metadata, DBG_DIR "/stats");
	ASSERT_LE(0, slurp(DBG_DIR "/stats", text, sizeof(self->text)))
		TH_LOG("read " DBG_DIR "/stats: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(stat_names); i++) {
		n = strlen(stat_names[i]);
		ok = false;
		for (p = text; (p = strstr(p, stat_names[i])); p += n) {
			if ((p == text || p[-1] == '\n') && p[n] == ' ' &&
			    p[n + 1] >= '0' && p[n + 1] <= '9') {
				ok = true;
				if (i == 0)
					contexts = strtoll(p + n + 1, NULL, 10);
				break;
			}
		}
		if (!ok) {
			TH_LOG("stats: no line \"%s N\"", stat_names[i]);
			missing++;
		}
	}
	EXPECT_EQ(0U, missing)
		TH_LOG(DBG_DIR "/stats lacks a \"name value\" line for %u of %zu counters",
		       missing, ARRAY_SIZE(stat_names));
	EXPECT_LE(self->open_contexts, contexts)
		TH_LOG(DBG_DIR "/stats: contexts %lld < the %d this process has open",
		       contexts, self->open_contexts);
}

TEST_F(module, debugfs_contexts)
{
	uint64_t gpas[2] = { FX_GPA + PG, FX_GPA + 3 * PG };
	unsigned int i, mine = 0, missing = 0, found = 0;
	char *line, *save;
	struct kvm_xbzrle_stats fx;
	const char *why;

	why = debugfs_missing();
	if (why)
		SKIP(return, "%s", why);
	/* pages counted on the bound context */
	why = abi_fx_encode_good(&self->fx, 0, gpas, 2, 1);
	ASSERT_EQ(NULL, why) TH_LOG("ENCODE: %s", why);
	check_read_only(_metadata, DBG_DIR "/contexts");
	ASSERT_EQ(0, abi_stats(self->fx.xfd, &fx));
	ASSERT_LE(0, slurp(DBG_DIR "/contexts", self->text, sizeof(self->text)))
		TH_LOG("read " DBG_DIR "/contexts: %s", strerror(errno));
	for (line = strtok_r(self->text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (field(line, "pid=") != getpid())
			continue;
		mine++;
		for (i = 0; i < ARRAY_SIZE(ctx_fields); i++)
			if (field(line, ctx_fields[i]) < 0)
				missing++;
		if (field(line, "bound=") == 1 &&
		    field(line, "pages=") == (long long)fx.pages &&
		    field(line, "cache_size=") == (long long)fx.cache_size)
			found++;
	}
	EXPECT_EQ(self->open_contexts, (int)mine)
		TH_LOG(DBG_DIR "/contexts: %u lines with pid=%d (%d contexts open)",
		       mine, getpid(), self->open_contexts);
	EXPECT_EQ(0U, missing) TH_LOG(DBG_DIR "/contexts: %u fields missing", missing);
	EXPECT_LE(1U, found)
		TH_LOG(DBG_DIR "/contexts: no bound=1 line with the fixture's pages=%llu cache_size=%llu",
		       (unsigned long long)fx.pages, (unsigned long long)fx.cache_size);
}

/* ---------------------------------- unload --------------------------------- */

TEST_F(module, unload)
{
	int r, err;

	if (access(REFCNT, F_OK))
		SKIP(return, "kvm_xbzrle is not a loaded module");
	errno = 0;
	r = syscall(SYS_delete_module, "kvm_xbzrle", O_NONBLOCK);
	err = errno;
	if (r && err == EPERM)
		SKIP(return, "no CAP_SYS_MODULE");
	/*
	 * The kernel's answer for a module in use with O_NONBLOCK is
	 * EWOULDBLOCK (try_stop_module()), not EBUSY.
	 */
	EXPECT_ERRNO(EWOULDBLOCK, r ? err : 0,
		     "delete_module(kvm_xbzrle, O_NONBLOCK) with %d contexts open",
		     self->open_contexts);
	EXPECT_EQ(0, access(REFCNT, F_OK)) TH_LOG("the module is gone");
}

XBZRLE_SCALE_TIMEOUTS()

TEST_HARNESS_MAIN
