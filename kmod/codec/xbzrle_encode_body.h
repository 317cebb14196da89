/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XBZRLE encoder, once for every variant.
 *
 * The format decisions (run lengths, the order of the room checks, the
 * return values) are here and only here.  A variant differs only in how
 * it finds where a run of equal or differing bytes ends and how it copies
 * a differing run, so every variant produces the same bytes.  The file
 * including this one defines, before including it:
 *
 *   XBZRLE_ENCODER   the name of the function to define
 *   XBZRLE_TARGET    its target attribute (empty for the portable one)
 *   struct xbzrle_scan, XBZRLE_SCAN_INIT
 *                    what a variant keeps from one run to the next
 *   run_end(scan, old, new, i, slen, equal)
 *                    the first index >= @i whose bytes are unequal (when
 *                    @equal) or equal (when !@equal), or @slen
 *   copy_run(dst, src, n, dst_room, src_room)
 *                    copy @n bytes; it may write up to @dst_room and read
 *                    up to @src_room bytes, never more
 */
#include <linux/errno.h>
#include <linux/limits.h>

#include "xbzrle.h"

/* A LEB128 length of one or two bytes. */
static inline size_t xbzrle_put_len(u8 *dst, size_t n)
{
	if (n < 0x80) {
		dst[0] = n;
		return 1;
	}
	dst[0] = (n & 0x7f) | 0x80;
	dst[1] = n >> 7;
	return 2;
}

/*
 * The loop, with the -ERANGE checks compiled in only where a run can be
 * longer than the format allows (@long_runs: pages over 16 KiB).
 */
XBZRLE_TARGET
static __always_inline int xbzrle_encode_body(const u8 *old, const u8 *new,
					      size_t slen, u8 *dst, size_t dlen,
					      bool long_runs)
{
	struct xbzrle_scan scan = XBZRLE_SCAN_INIT;
	size_t i = 0, d = 0, end, run;

	while (i < slen) {
		if (d + 2 > dlen)
			return -ENOSPC;

		end = run_end(&scan, old, new, i, slen, true);
		run = end - i;
		if (end == slen) {
			if (run == slen)
				return 0;
			break;
		}
		i = end;
		if (long_runs && run > XBZRLE_MAX_RUN)
			return -ERANGE;
		d += xbzrle_put_len(dst + d, run);

		if (d + 2 > dlen)
			return -ENOSPC;
		end = run_end(&scan, old, new, i, slen, false);
		run = end - i;
		if (long_runs && run > XBZRLE_MAX_RUN)
			return -ERANGE;
		d += xbzrle_put_len(dst + d, run);
		if (d + run > dlen)
			return -ENOSPC;
		copy_run(dst + d, new + i, run, dlen - d, slen - i);
		d += run;
		i = end;
	}
	return d;
}

/*
 * XBZRLE_ENCODER(old, new, slen, dst, dlen): encode @new as a delta against
 * @old (the page as the receiver has it), both @slen bytes, into @dst.
 * Nothing is written at or past @dst + @dlen; bytes of @dst past the
 * returned length may have been written.
 *
 * Return: the length of the delta; 0 if the pages are equal (and @dlen is
 * at least 2, as in QEMU); -ENOSPC if the delta does not fit, following
 * QEMU's rule that a page ending in equal bytes also needs 2 spare bytes;
 * -ERANGE if a run is longer than the format can describe (only possible
 * for pages over 16 KiB); -EINVAL if @slen is too large for an int result.
 */
XBZRLE_TARGET
int XBZRLE_ENCODER(const u8 *old, const u8 *new, size_t slen,
		   u8 *dst, size_t dlen)
{
	if (slen > INT_MAX / 2)
		return -EINVAL;
	if (slen > XBZRLE_MAX_RUN)
		return xbzrle_encode_body(old, new, slen, dst, dlen, true);
	return xbzrle_encode_body(old, new, slen, dst, dlen, false);
}
