/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm_xbzrle: XBZRLE delta encoding of dirty guest pages for live migration.
 *
 * Userspace ABI of /dev/kvm_xbzrle.  Every argument structure starts with a
 * size field (filled in by userspace with sizeof() of the structure it was
 * built against) and a flags field; reserved fields must be zero.  See
 * Documentation/uapi.rst for the rules.
 */
#ifndef _UAPI_LINUX_KVM_XBZRLE_H
#define _UAPI_LINUX_KVM_XBZRLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Version of this ABI; bumped when an ioctl or a structure changes meaning. */
#define KVM_XBZRLE_API_VERSION		1

/* Delta format: QEMU's XBZRLE (migration/xbzrle.c), unchanged since QEMU 2.x. */
#define KVM_XBZRLE_FORMAT_QEMU_V1	1

#define KVM_XBZRLE_IOCTL_TYPE		0xBD

/* struct kvm_xbzrle_caps.flags */
#define KVM_XBZRLE_CAPS_VM_FD		(1U << 0)	/* vm_fd is valid */
#define KVM_XBZRLE_CAPS_FLAGS_ALL	(KVM_XBZRLE_CAPS_VM_FD)

/* struct kvm_xbzrle_caps.capabilities: what this module can do */
#define KVM_XBZRLE_CAP_CODEC		(1ULL << 0)	/* XBZRLE encoder and decoder */
/* KVM_XBZRLE_BIND, _SET_REGION, _ENCODE, _SET_CACHE, _GET_STATS */
#define KVM_XBZRLE_CAP_OFFLOAD		(1ULL << 1)
/* KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG (not while parameter clear_dirty_log=N) */
#define KVM_XBZRLE_CAP_CLEAR_DIRTY_LOG	(1ULL << 2)
/* KVM_XBZRLE_ENCODE_GENERATION, struct kvm_xbzrle_stats.refused */
#define KVM_XBZRLE_CAP_GENERATION	(1ULL << 3)
/* KVM_XBZRLE_INVALIDATE */
#define KVM_XBZRLE_CAP_INVALIDATE	(1ULL << 4)
/*
 * Bases are kept per page of the caller's address space (the host page the
 * module reads), not per guest frame: memslots that alias the same memory
 * share one base.  struct kvm_xbzrle_caps.max_regions and .max_batch are
 * filled in.
 */
#define KVM_XBZRLE_CAP_HOST_PAGE_BASES	(1ULL << 5)
/*
 * With KVM_XBZRLE_ENCODE_GENERATION, a page whose delta keeps overflowing
 * is sent RAW without the encoder for some generations and keeps no base
 * (module parameters adapt_overflows, adapt_probe_rounds); struct
 * kvm_xbzrle_stats.skipped, .given_back and .probes count it.
 */
#define KVM_XBZRLE_CAP_ADAPT		(1ULL << 6)
/* KVM_XBZRLE_INVALIDATE_STOP, struct kvm_xbzrle_stats.stops */
#define KVM_XBZRLE_CAP_STOP		(1ULL << 7)

/**
 * struct kvm_xbzrle_caps - argument of KVM_XBZRLE_GET_CAPS
 * @size: in, sizeof(struct kvm_xbzrle_caps) as userspace knows it; at
 *	least KVM_XBZRLE_CAPS_SIZE_VER1.
 * @flags: in, KVM_XBZRLE_CAPS_* flags; unknown bits are refused (-EINVAL).
 * @vm_fd: in, with KVM_XBZRLE_CAPS_VM_FD: a KVM VM file descriptor of the
 *	calling process, checked as the VM the offload would serve.
 * @api_version: out, KVM_XBZRLE_API_VERSION.
 * @capabilities: out, KVM_XBZRLE_CAP_* bits.
 * @formats: out, bit (1 << KVM_XBZRLE_FORMAT_*) for every delta format
 *	the module produces.
 * @page_size: out, size of the pages the module encodes (the host's
 *	PAGE_SIZE).
 * @max_delta_size: out, largest delta the module returns for one page.
 * @max_regions: out, regions a context can hold (KVM_XBZRLE_SET_REGION
 *	fails with -ENOSPC past it); 0 from a module without
 *	KVM_XBZRLE_CAP_HOST_PAGE_BASES, which held KVM_XBZRLE_MAX_REGIONS.
 * @max_batch: out, pages one KVM_XBZRLE_ENCODE call handles at most
 *	(KVM_XBZRLE_MAX_BATCH); 0 from an older module, likewise.
 * @reserved: must be zero in, zero out.
 */
struct kvm_xbzrle_caps {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 api_version;
	__u64 capabilities;
	__u64 formats;
	__u32 page_size;
	__u32 max_delta_size;
	__u32 max_regions;
	__u32 max_batch;
	__u64 reserved[3];
};

#define KVM_XBZRLE_CAPS_SIZE_VER1	72

/*
 * The ioctl number carries the size of the structure userspace was built
 * against; the module matches type, number and direction and reads @size.
 */
#define KVM_XBZRLE_GET_CAPS	_IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x00, struct kvm_xbzrle_caps)

/**
 * struct kvm_xbzrle_bind - argument of KVM_XBZRLE_BIND
 * @size: sizeof(struct kvm_xbzrle_bind); at least KVM_XBZRLE_BIND_SIZE_VER1.
 * @flags: none defined, must be zero.
 * @vm_fd: a KVM VM file descriptor (from KVM_CREATE_VM) of the calling
 *	process.  The context keeps the VM alive until it is closed.
 * @reserved0: must be zero.
 * @reserved: must be zero.
 */
struct kvm_xbzrle_bind {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 reserved0;
	__u64 reserved[2];
};

#define KVM_XBZRLE_BIND_SIZE_VER1	32

/**
 * struct kvm_xbzrle_region - argument of KVM_XBZRLE_SET_REGION
 * @size: sizeof(struct kvm_xbzrle_region); at least
 *	KVM_XBZRLE_REGION_SIZE_VER1.
 * @flags: none defined, must be zero.
 * @slot: the KVM memslot (as_id << 16 | id) that maps this guest RAM, as
 *	passed to KVM_SET_USER_MEMORY_REGION; one region per memslot, equal
 *	to the memslot KVM has (-EINVAL otherwise).
 * @reserved0: must be zero.
 * @guest_phys_addr: first guest physical address of the memslot.
 * @memory_size: bytes; 0 removes the region of @slot.
 * @userspace_addr: where the caller maps the memslot's memory.
 * @reserved: must be zero.
 *
 * The module reads guest pages only through @userspace_addr in the
 * caller's own address space.  Regions may overlap in that space (KVM
 * memslots that alias the same memory): a host page has one base, whatever
 * guest address it is encoded as.  Removing or changing a region drops the
 * bases of its host pages.
 */
struct kvm_xbzrle_region {
	__u32 size;
	__u32 flags;
	__u32 slot;
	__u32 reserved0;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 reserved[2];
};

#define KVM_XBZRLE_REGION_SIZE_VER1	56
/* Regions of a context in modules without KVM_XBZRLE_CAP_HOST_PAGE_BASES. */
#define KVM_XBZRLE_MAX_REGIONS		512

/* struct kvm_xbzrle_encode.flags */
/* KVM_CLEAR_DIRTY_LOG each page through the bound VM before reading it */
#define KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG	(1U << 0)
/* generation is valid: keep the cache's recently sent bases (see below) */
#define KVM_XBZRLE_ENCODE_GENERATION		(1U << 1)
#define KVM_XBZRLE_ENCODE_FLAGS_ALL	(KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG | \
					 KVM_XBZRLE_ENCODE_GENERATION)

/* Pages one KVM_XBZRLE_ENCODE call handles at most; it returns after them. */
#define KVM_XBZRLE_MAX_BATCH		4096

/**
 * struct kvm_xbzrle_encode - argument of KVM_XBZRLE_ENCODE
 * @size: sizeof(struct kvm_xbzrle_encode); at least
 *	KVM_XBZRLE_ENCODE_SIZE_VER1.
 * @flags: KVM_XBZRLE_ENCODE_* flags.
 * @pages: in, user pointer to @npages __u64 page-aligned guest physical
 *	addresses, each inside a region.
 * @records: in, user pointer to the record buffer.
 * @npages: in, entries in @pages.
 * @records_size: in, bytes at @records; at least KVM_XBZRLE_RECORD_MAX_SIZE
 *	(with a 4 KiB page size), 8-byte aligned pointer.
 * @max_delta: in, longest XBZRLE delta to return, 1 to the page size;
 *	a page whose delta would be longer is returned RAW (a page equal to
 *	its base is UNCHANGED whatever @max_delta).
 * @npages_done: out, pages of @pages handled, from the first; one record
 *	each.  Pages after them may have had their dirty bit cleared: the
 *	caller still sends them (another call, or itself after
 *	KVM_XBZRLE_INVALIDATE).  When the call fails with -EFAULT because
 *	these outputs could not be written, every base of the context was
 *	dropped (the records it made are then not needed).
 * @records_used: out, bytes of @records used: up to the 8-byte boundary
 *	after the last record (padding bytes are left as they were).
 * @reserved0: must be zero.
 * @generation: in, with KVM_XBZRLE_ENCODE_GENERATION (else must be zero):
 *	the caller's dirty-sync round (QEMU's dirty_sync_count).  It must
 *	not be lower than in any earlier call on the context since it was
 *	opened or last reset (KVM_XBZRLE_CACHE_RESET); -EINVAL otherwise.
 *	With it, a page without a base is not cached (it is sent RAW and
 *	keeps no base) when the cache is full and its least recently sent
 *	base was sent in this generation or the one before; without it the
 *	least recently sent base is always evicted.  With it too, a page
 *	whose delta did not fit @max_delta in adapt_overflows records in a
 *	row loses its base and is returned RAW (or ZERO) without being
 *	encoded until adapt_probe_rounds generations have passed
 *	(KVM_XBZRLE_CAP_ADAPT; Documentation/offload.rst).
 * @reserved: must be zero.
 */
struct kvm_xbzrle_encode {
	__u32 size;
	__u32 flags;
	__u64 pages;
	__u64 records;
	__u32 npages;
	__u32 records_size;
	__u32 max_delta;
	__u32 npages_done;
	__u32 records_used;
	__u32 reserved0;
	__u64 generation;
	__u64 reserved;
};

#define KVM_XBZRLE_ENCODE_SIZE_VER1	64

/* struct kvm_xbzrle_record.type */
#define KVM_XBZRLE_RECORD_ZERO		1	/* all zeros, no data */
#define KVM_XBZRLE_RECORD_UNCHANGED	2	/* equal to the base, no data */
#define KVM_XBZRLE_RECORD_XBZRLE	3	/* data: XBZRLE delta on the base */
#define KVM_XBZRLE_RECORD_RAW		4	/* data: the whole page */

/**
 * struct kvm_xbzrle_record - one page's result in the record buffer
 * @gpa: the page, as given in kvm_xbzrle_encode.pages.
 * @type: KVM_XBZRLE_RECORD_*.
 * @reserved: zero.
 * @len: bytes of data that follow the header.
 *
 * The next record starts at the next 8-byte boundary after the data.
 */
struct kvm_xbzrle_record {
	__u64 gpa;
	__u16 type;
	__u16 reserved;
	__u32 len;
};

#define KVM_XBZRLE_RECORD_ALIGN		8
#define KVM_XBZRLE_RECORD_MAX_SIZE	(sizeof(struct kvm_xbzrle_record) + 4096)

/* struct kvm_xbzrle_cache.flags */
#define KVM_XBZRLE_CACHE_RESET		(1U << 0)	/* drop all bases, zero stats */
#define KVM_XBZRLE_CACHE_SET_SIZE	(1U << 1)	/* cache_size is valid */
#define KVM_XBZRLE_CACHE_FLAGS_ALL	(KVM_XBZRLE_CACHE_RESET | \
					 KVM_XBZRLE_CACHE_SET_SIZE)

/**
 * struct kvm_xbzrle_cache - argument of KVM_XBZRLE_SET_CACHE
 * @size: sizeof(struct kvm_xbzrle_cache); at least KVM_XBZRLE_CACHE_SIZE_VER1.
 * @flags: KVM_XBZRLE_CACHE_* flags.
 * @cache_size: in with KVM_XBZRLE_CACHE_SET_SIZE (else must be zero):
 *	bytes of page copies the context may keep (rounded down to pages,
 *	at most the module's ceiling, max_cache_mb); out: the size in effect.
 * @reserved: must be zero.
 */
struct kvm_xbzrle_cache {
	__u32 size;
	__u32 flags;
	__u64 cache_size;
	__u64 reserved[2];
};

#define KVM_XBZRLE_CACHE_SIZE_VER1	32

/* struct kvm_xbzrle_invalidate.flags */
#define KVM_XBZRLE_INVALIDATE_ALL	(1U << 0)	/* every base; range zero */
/* with ALL: the caller gives XBZRLE up for the rest of its migration */
#define KVM_XBZRLE_INVALIDATE_STOP	(1U << 1)
#define KVM_XBZRLE_INVALIDATE_FLAGS_ALL	(KVM_XBZRLE_INVALIDATE_ALL | \
					 KVM_XBZRLE_INVALIDATE_STOP)

/**
 * struct kvm_xbzrle_invalidate - argument of KVM_XBZRLE_INVALIDATE
 * @size: sizeof(struct kvm_xbzrle_invalidate); at least
 *	KVM_XBZRLE_INVALIDATE_SIZE_VER1.
 * @flags: KVM_XBZRLE_INVALIDATE_* flags.
 * @userspace_addr: first byte of the caller's address range whose pages
 *	lose their base, page aligned; zero with KVM_XBZRLE_INVALIDATE_ALL.
 * @memory_size: bytes, a non-zero page multiple; zero with
 *	KVM_XBZRLE_INVALIDATE_ALL.
 * @reserved: must be zero.
 *
 * The caller sent these pages, or may have, other than through a record of
 * this context (a page it read itself, a round without XBZRLE): their next
 * record is RAW or ZERO.  Counters and the cache size are kept.  The range
 * need not be inside a region and no VM need be bound.  With
 * KVM_XBZRLE_INVALIDATE_STOP (KVM_XBZRLE_CAP_STOP; only with
 * KVM_XBZRLE_INVALIDATE_ALL) the caller also says why: it stops XBZRLE for
 * the rest of its migration because XBZRLE did not pay, and the context's
 * stops counter counts the call.
 */
struct kvm_xbzrle_invalidate {
	__u32 size;
	__u32 flags;
	__u64 userspace_addr;
	__u64 memory_size;
	__u64 reserved[2];
};

#define KVM_XBZRLE_INVALIDATE_SIZE_VER1	40

/**
 * struct kvm_xbzrle_stats - argument of KVM_XBZRLE_GET_STATS
 * @size: in, sizeof(struct kvm_xbzrle_stats); at least
 *	KVM_XBZRLE_STATS_SIZE_VER1.
 * @flags: in, none defined, must be zero.
 * @pages: pages handled (records returned).
 * @cache_hits: pages that had a base in the cache and were not all zeros.
 * @cache_misses: pages that had no base and were not all zeros (sent RAW).
 * @overflows: pages with a base whose delta did not fit max_delta (RAW).
 * @zero_pages: ZERO records.
 * @unchanged_pages: UNCHANGED records.
 * @xbzrle_pages: XBZRLE records.
 * @raw_pages: RAW records.
 * @delta_bytes: bytes of XBZRLE deltas returned.
 * @evictions: bases dropped to stay within the cache size.
 * @reclaimed: bases given back to the kernel by the shrinker.
 * @cache_bytes: bytes of page copies cached now.
 * @cache_size: the cache size in effect, bytes.
 * @refused: pages without a base that were not cached because the least
 *	recently sent base was too recent to evict (KVM_XBZRLE_ENCODE_GENERATION);
 *	since KVM_XBZRLE_STATS_SIZE_VER2, with KVM_XBZRLE_CAP_GENERATION.
 * @skipped: RAW or ZERO records of pages that had given their base back,
 *	made without the encoder; since KVM_XBZRLE_STATS_SIZE_VER3, with
 *	KVM_XBZRLE_CAP_ADAPT, as the two below.
 * @given_back: bases freed because their page's delta overflowed
 *	adapt_overflows times in a row.
 * @probes: pages given back whose skip ended: sent RAW and cached again,
 *	so their next record is a delta attempt.
 * @stops: KVM_XBZRLE_INVALIDATE_STOP calls: migrations in which the caller
 *	gave XBZRLE up because it did not pay; since
 *	KVM_XBZRLE_STATS_SIZE_VER4, with KVM_XBZRLE_CAP_STOP.
 */
struct kvm_xbzrle_stats {
	__u32 size;
	__u32 flags;
	__u64 pages;
	__u64 cache_hits;
	__u64 cache_misses;
	__u64 overflows;
	__u64 zero_pages;
	__u64 unchanged_pages;
	__u64 xbzrle_pages;
	__u64 raw_pages;
	__u64 delta_bytes;
	__u64 evictions;
	__u64 reclaimed;
	__u64 cache_bytes;
	__u64 cache_size;
	__u64 refused;
	__u64 skipped;
	__u64 given_back;
	__u64 probes;
	__u64 stops;
};

#define KVM_XBZRLE_STATS_SIZE_VER1	112
#define KVM_XBZRLE_STATS_SIZE_VER2	120	/* + refused */
#define KVM_XBZRLE_STATS_SIZE_VER3	144	/* + skipped, given_back, probes */
#define KVM_XBZRLE_STATS_SIZE_VER4	152	/* + stops */

#define KVM_XBZRLE_BIND		_IOW(KVM_XBZRLE_IOCTL_TYPE, 0x01, struct kvm_xbzrle_bind)
#define KVM_XBZRLE_SET_REGION	_IOW(KVM_XBZRLE_IOCTL_TYPE, 0x02, struct kvm_xbzrle_region)
#define KVM_XBZRLE_ENCODE	_IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x03, struct kvm_xbzrle_encode)
#define KVM_XBZRLE_SET_CACHE	_IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x04, struct kvm_xbzrle_cache)
#define KVM_XBZRLE_GET_STATS	_IOWR(KVM_XBZRLE_IOCTL_TYPE, 0x05, struct kvm_xbzrle_stats)
#define KVM_XBZRLE_INVALIDATE	_IOW(KVM_XBZRLE_IOCTL_TYPE, 0x06, struct kvm_xbzrle_invalidate)

#endif /* _UAPI_LINUX_KVM_XBZRLE_H */
