// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle_util - /dev/kvm_xbzrle: the module's ioctls, its capabilities,
 * parameters and debugfs statistics.  See include/xbzrle_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xbzrle_util.h"
#include "util_internal.h"
#include "xbzrle_tap.h"

static bool missing(int err)
{
	return err == ENOENT || err == ENXIO || err == ENODEV ||
	       err == EACCES || err == EPERM;
}

int xbz_check_offload(struct kvm_xbzrle_caps *caps)
{
	int xfd;

	memset(caps, 0, sizeof(*caps));
	caps->size = sizeof(*caps);
	if (kvm_open() < 0)
		return missing(errno) ? 1 : -1;
	xfd = xbz_open();
	if (xfd < 0) {
		char why[KVM_UTIL_ERR_LEN];

		if (!missing(errno))
			return -1;
		snprintf(why, sizeof(why), "%s", kvm_util_error());
		fail("%s (module not loaded?)", why);
		return 1;
	}
	if (ioctl(xfd, KVM_XBZRLE_GET_CAPS, caps)) {
		fail_errno("KVM_XBZRLE_GET_CAPS");
		close(xfd);
		return -1;
	}
	close(xfd);
	if (!(caps->capabilities & KVM_XBZRLE_CAP_OFFLOAD)) {
		fail("module without KVM_XBZRLE_CAP_OFFLOAD (capabilities 0x%llx)",
		     (unsigned long long)caps->capabilities);
		return 1;
	}
	if (caps->page_size != GUEST_PAGE_SIZE) {
		fail("page size %u, the tests assume 4096", caps->page_size);
		return 1;
	}
	return 0;
}

int xbz_open(void)
{
	int fd = open("/dev/kvm_xbzrle", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return fail_errno("open /dev/kvm_xbzrle");
	return fd;
}

int xbz_bind(int xfd, int vm_fd)
{
	struct kvm_xbzrle_bind bind = {
		.size = sizeof(bind),
		.vm_fd = vm_fd,
	};

	if (ioctl(xfd, KVM_XBZRLE_BIND, &bind))
		return fail_errno("KVM_XBZRLE_BIND vm_fd %d", vm_fd);
	return 0;
}

int xbz_set_region(int xfd, uint32_t slot, uint64_t gpa, uint64_t size,
		   const void *hva)
{
	struct kvm_xbzrle_region region = {
		.size = sizeof(region),
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(xfd, KVM_XBZRLE_SET_REGION, &region))
		return fail_errno("KVM_XBZRLE_SET_REGION slot %u gpa 0x%llx size 0x%llx",
				  slot, (unsigned long long)gpa,
				  (unsigned long long)size);
	return 0;
}

int xbz_set_regions(int xfd, struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < KVM_UTIL_MAX_SLOTS; i++) {
		struct vm_memslot *s = &vm->slots[i];

		if (s->used &&
		    xbz_set_region(xfd, s->slot, s->gpa, s->size, s->hva))
			return -1;
	}
	return 0;
}

int xbz_open_bound(struct kvm_vm *vm)
{
	int xfd = xbz_open(), err;

	if (xfd < 0)
		return -1;
	if (xbz_bind(xfd, vm->fd) || xbz_set_regions(xfd, vm)) {
		err = errno;
		close(xfd);
		errno = err;
		return -1;
	}
	return xfd;
}

int xbz_encode(int xfd, uint32_t flags, const uint64_t *gpas, uint32_t npages,
	       void *records, uint32_t records_size, uint32_t max_delta,
	       struct xbz_encode_result *res)
{
	return xbz_encode_gen(xfd, flags, 0, gpas, npages, records,
			      records_size, max_delta, res);
}

int xbz_encode_gen(int xfd, uint32_t flags, uint64_t generation,
		   const uint64_t *gpas, uint32_t npages, void *records,
		   uint32_t records_size, uint32_t max_delta,
		   struct xbz_encode_result *res)
{
	struct kvm_xbzrle_encode enc = {
		.size = sizeof(enc),
		.flags = flags,
		.pages = (uintptr_t)gpas,
		.records = (uintptr_t)records,
		.npages = npages,
		.records_size = records_size,
		.max_delta = max_delta,
		.generation = generation,
	};

	if (ioctl(xfd, KVM_XBZRLE_ENCODE, &enc))
		return fail_errno("KVM_XBZRLE_ENCODE of %u pages (flags 0x%x, generation %llu, max_delta %u)",
				  npages, flags, (unsigned long long)generation,
				  max_delta);
	res->npages_done = enc.npages_done;
	res->records_used = enc.records_used;
	if (enc.npages_done > npages || enc.records_used > records_size) {
		errno = EPROTO;
		return fail("KVM_XBZRLE_ENCODE returned npages_done %u of %u, records_used %u of %u",
			    enc.npages_done, npages, enc.records_used,
			    records_size);
	}
	return 0;
}

int xbz_get_stats(int xfd, struct kvm_xbzrle_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->size = sizeof(*stats);
	if (ioctl(xfd, KVM_XBZRLE_GET_STATS, stats))
		return fail_errno("KVM_XBZRLE_GET_STATS");
	return 0;
}

const char *const xbz_stats_names[XBZ_STATS_NR] = {
	"pages", "cache_hits", "cache_misses", "overflows", "zero_pages",
	"unchanged_pages", "xbzrle_pages", "raw_pages", "delta_bytes",
	"evictions", "reclaimed", "cache_bytes", "cache_size", "refused",
	"skipped", "given_back", "probes", "stops",
};
_Static_assert(offsetof(struct kvm_xbzrle_stats, pages) +
	       XBZ_STATS_NR * sizeof(__u64) == sizeof(struct kvm_xbzrle_stats),
	       "xbz_stats_names names every counter of struct kvm_xbzrle_stats");

const char *xbz_stats_str(const struct kvm_xbzrle_stats *s, char *buf,
			  size_t len)
{
	const __u64 *v = &s->pages;
	size_t i, n = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < XBZ_STATS_NR && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%s%s %llu", i ? " " : "",
				 xbz_stats_names[i], (unsigned long long)v[i]);

		if (w < 0)
			break;
		n += w;
	}
	return buf;
}

int xbz_set_cache(int xfd, uint32_t flags, uint64_t cache_size,
		  uint64_t *in_effect)
{
	struct kvm_xbzrle_cache cache = {
		.size = sizeof(cache),
		.flags = flags,
		.cache_size = cache_size,
	};

	if (ioctl(xfd, KVM_XBZRLE_SET_CACHE, &cache))
		return fail_errno("KVM_XBZRLE_SET_CACHE flags 0x%x size %llu",
				  flags, (unsigned long long)cache_size);
	if (in_effect)
		*in_effect = cache.cache_size;
	return 0;
}

void xbz_require_offload(struct kvm_xbzrle_caps *caps, bool manual_protect)
{
	switch (xbz_check_offload(caps)) {
	case 1:
		tap_skip_all("%s", kvm_util_error());
	case -1:
		tap_bail_out("%s", kvm_util_error());
	}
	if (manual_protect &&
	    (!(caps->capabilities & KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG) ||
	     !(kvm_check_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	       KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)))
		tap_skip_all("no manual dirty-log protection (module caps 0x%llx)",
			     (unsigned long long)caps->capabilities);
}

long long xbz_debugfs_stat(const char *name)
{
	FILE *f = fopen("/sys/kernel/debug/kvm_xbzrle/stats", "r");
	char key[64];
	long long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

#define PARAM_DIR	"/sys/module/kvm_xbzrle/parameters/"
#define SAVED_PARAMS	4

static struct {
	char name[32], value[32];
} saved_params[SAVED_PARAMS];

static bool registered;

/* see xbzrle_util.h */
int xbz_param_restore_all(void)
{
	char path[96];
	int i, r = 0;

	for (i = SAVED_PARAMS - 1; i >= 0; i--) {
		if (!saved_params[i].name[0])
			continue;
		snprintf(path, sizeof(path), PARAM_DIR "%s", saved_params[i].name);
		if (write_file(path, saved_params[i].value))
			r = fail_errno("could not restore %s to %s", path,
				       saved_params[i].value);
		saved_params[i].name[0] = 0;
	}
	return r;
}

static void restore_params(void)
{
	if (xbz_param_restore_all())
		printf("# %s\n", kvm_util_error());
}

/* see xbzrle_util.h */
int xbz_param_write(const char *name, const char *value)
{
	char path[96];
	int i, free_slot = -1;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	for (i = 0; i < SAVED_PARAMS; i++) {
		if (!strcmp(saved_params[i].name, name))
			break;
		if (!saved_params[i].name[0] && free_slot < 0)
			free_slot = i;
	}
	if (i == SAVED_PARAMS) {
		if (free_slot < 0) {
			errno = ENOSPC;
			return fail("xbz_param_write: more than %d parameters",
				    SAVED_PARAMS);
		}
		if (read_file(path, saved_params[free_slot].value,
			      sizeof(saved_params[free_slot].value)) < 0)
			return fail_errno("read %s", path);
		saved_params[free_slot].value[strcspn(saved_params[free_slot].value, "\n")] = 0;
		snprintf(saved_params[free_slot].name,
			 sizeof(saved_params[free_slot].name), "%s", name);
		if (!registered && !atexit(restore_params))
			registered = true;
	}
	if (write_file(path, value))
		return fail_errno("write %s to %s", value, path);
	return 0;
}

/* see xbzrle_util.h */
void xbz_param_set(const char *name, const char *value)
{
	if (xbz_param_write(name, value))
		tap_bail_out("%s", kvm_util_error());
}
