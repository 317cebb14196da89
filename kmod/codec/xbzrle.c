// SPDX-License-Identifier: GPL-2.0
/*
 * XBZRLE delta codec, byte-compatible with QEMU's migration/xbzrle.c.
 *
 * A delta is a list of (equal run, differing run) pairs.  Both lengths are
 * LEB128 numbers of one or two bytes, and each differing run is followed by
 * its bytes taken from the new page.  The trailing equal run is not written.
 * The sizes, return values and overflow points below are QEMU's, so that a
 * stock QEMU decodes what we encode and our decoder accepts exactly what
 * QEMU's accepts; Documentation/xbzrle-format.rst has the details.
 */
#include <asm/byteorder.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/string.h>

#include "xbzrle.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/*
 * Little-endian, so that byte i of the page is bits 8i..8i+7 of the word
 * on every host; memcpy, because neither buffer need be 8-byte aligned.
 */
static inline u64 load64(const u8 *p)
{
	__le64 v;

	memcpy(&v, p, sizeof(v));
	return le64_to_cpu(v);
}

/* Index of the lowest byte of @x that is zero; @x must have one. */
static inline unsigned int first_zero_byte(u64 x)
{
	/*
	 * The classic has-a-zero-byte test.  Borrows can set high bits only
	 * above the first zero byte, so its lowest set bit is exact.
	 */
	return __builtin_ctzll((x - ONES) & ~x & HIGHS) / 8;
}

/* Length of the run of bytes equal in @a and @b, starting at 0, up to @len. */
static size_t equal_run(const u8 *a, const u8 *b, size_t len)
{
	size_t i = 0;

	/* two words a step: equal runs are the long ones */
	for (; i + 16 <= len; i += 16) {
		u64 x = load64(a + i) ^ load64(b + i);
		u64 y = load64(a + i + 8) ^ load64(b + i + 8);

		if (x)
			return i + __builtin_ctzll(x) / 8;
		if (y)
			return i + 8 + __builtin_ctzll(y) / 8;
	}
	for (; i + 8 <= len; i += 8) {
		u64 x = load64(a + i) ^ load64(b + i);

		if (x)
			return i + __builtin_ctzll(x) / 8;
	}
	while (i < len && a[i] == b[i])
		i++;
	return i;
}

/* Length of the run of bytes that differ in @a and @b, up to @len. */
static size_t diff_run(const u8 *a, const u8 *b, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		u64 x = load64(a + i) ^ load64(b + i);

		if ((x - ONES) & ~x & HIGHS)
			return i + first_zero_byte(x);
	}
	while (i < len && a[i] != b[i])
		i++;
	return i;
}

/*
 * The portable encoder: the encoder body with the word-at-a-time scans
 * above.  The SIMD variants (xbzrle_avx2.c, xbzrle_avx512.c) include the
 * same body.
 */
struct xbzrle_scan {
	/* nothing is kept between runs */
};
#define XBZRLE_SCAN_INIT	{ }

static inline size_t run_end(struct xbzrle_scan *scan __always_unused,
			     const u8 *old, const u8 *new, size_t i,
			     size_t slen, bool equal)
{
	if (equal)
		return i + equal_run(old + i, new + i, slen - i);
	return i + diff_run(old + i, new + i, slen - i);
}

static inline void copy_run(u8 *dst, const u8 *src, size_t n,
			    size_t dst_room __always_unused,
			    size_t src_room __always_unused)
{
	memcpy(dst, src, n);
}

/* xbzrle_encode(): the contract is in xbzrle_encode_body.h */
#define XBZRLE_ENCODER	xbzrle_encode
#define XBZRLE_TARGET
#include "xbzrle_encode_body.h"

/* Returns the bytes consumed, or 0 for a malformed number. */
static size_t get_len(const u8 *src, size_t *n)
{
	if (!(src[0] & 0x80)) {
		*n = src[0];
		return 1;
	}
	if (src[1] & 0x80)
		return 0;
	*n = (src[0] & 0x7f) | (src[1] << 7);
	return 2;
}

/**
 * xbzrle_decode - apply a delta to a page
 * @src: the delta, untrusted
 * @slen: length of @src
 * @dst: the page, holding the previous content
 * @dlen: size of @dst
 *
 * Bytes the delta does not cover keep their content.  On error @dst may
 * have been partly written, as with QEMU's decoder.
 *
 * Return: the end offset of the last run written (0 for an empty delta), or
 * -EINVAL for a delta QEMU would reject.
 */
int xbzrle_decode(const u8 *src, size_t slen, u8 *dst, size_t dlen)
{
	size_t i = 0, d = 0, n, used;

	if (slen > INT_MAX || dlen > INT_MAX)
		return -EINVAL;

	while (i < slen) {
		/* equal run: at least 0 at the start, 1 anywhere else */
		if (slen - i < 2)
			return -EINVAL;
		used = get_len(src + i, &n);
		if (!used || (i && !n))
			return -EINVAL;
		i += used;
		d += n;
		if (d > dlen)
			return -EINVAL;

		/* differing run and its bytes */
		if (slen - i < 2)
			return -EINVAL;
		used = get_len(src + i, &n);
		if (!used || !n)
			return -EINVAL;
		i += used;
		if (n > dlen - d || n > slen - i)
			return -EINVAL;
		memcpy(dst + d, src + i, n);
		d += n;
		i += n;
	}
	return d;
}
