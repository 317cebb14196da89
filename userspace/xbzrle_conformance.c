// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle-conformance: check the codec against a file of XBZRLEV1 cases
 * (vectors/FORMAT.md), plain or gzip-compressed.
 *
 * Encode cases, for every encoder variant the CPU can run (scalar, AVX2,
 * AVX-512BW; the last output line names them): same return value and same
 * bytes as QEMU's encoder, also
 * with misaligned buffers, never a byte written past dlen, and our decoder
 * turns old into new with QEMU's delta.  Decode cases: same return value
 * and, when accepted, the same page.  Prints one line per failing case and
 * "N passed, N failed" last; exits 0 if all pass, 1 if any fails, 2 if the
 * file is unreadable or malformed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector_file.h"
#include "xbzrle.h"
#include "xbzrle_variants.h"

#define MAGIC		"XBZRLEV1"
#define MAX_PAGE	(1U << 20)	/* sanity bounds, far above any real page */
#define MAX_DELTA	(1U << 30)
#define GUARD		64
#define GUARD_BYTE	0xa5

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p) {
		fprintf(stderr, "error: out of memory (%zu bytes)\n", len);
		exit(2);
	}
	return p;
}

static unsigned long passed, failed;

static void __attribute__((format(printf, 3, 4)))
fail(unsigned long idx, char type, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL case %lu (%c): ", idx, type);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* QEMU's encoder and decoder return -1 for every failure. */
static int as_qemu(int ret)
{
	return ret < 0 ? -1 : ret;
}

/*
 * No delta is longer than this, whatever dlen says: each pair costs at most
 * 4 bytes of lengths plus its differing bytes, and covers at least one
 * differing and (but for the first) one equal byte of the page.
 */
static size_t encode_bound(uint32_t psize)
{
	return 2 * (size_t)psize + 16;
}

/*
 * Encodes with @old and @new at the given misalignments, into a buffer of
 * min(dlen, bound) bytes followed by guard bytes; returns 0 if it matched.
 */
static int encode_matches(const struct xbzrle_variant *v, unsigned long idx,
			  const uint8_t *old, const uint8_t *new,
			  uint32_t psize, uint32_t dlen, int32_t want,
			  const uint8_t *want_bytes, unsigned int mis_old, unsigned int mis_new)
{
	size_t cap = dlen < encode_bound(psize) ? dlen : encode_bound(psize);
	uint8_t *o = xmalloc(psize + mis_old), *n = xmalloc(psize + mis_new);
	uint8_t *dst = xmalloc(cap + GUARD);
	int ret, bad = 0;
	long at;

	memcpy(o + mis_old, old, psize);
	memcpy(n + mis_new, new, psize);
	memset(dst, GUARD_BYTE, cap + GUARD);
	ret = as_qemu(v->encode(o + mis_old, n + mis_new, psize, dst, dlen));

	for (size_t i = cap; i < cap + GUARD; i++) {
		if (dst[i] != GUARD_BYTE) {
			fail(idx, 'E', "%s encoder wrote past byte %zu (dlen %u, page %u)",
			     v->name, cap, dlen, psize);
			bad = 1;
			break;
		}
	}
	if (!bad && ret != want) {
		fail(idx, 'E', "%s encode returned %d, QEMU %d (page %u, dlen %u, misalign %u/%u)",
		     v->name, ret, want, psize, dlen, mis_old, mis_new);
		bad = 1;
	}
	if (!bad && ret > 0 && (at = first_diff(dst, want_bytes, ret)) >= 0) {
		fail(idx, 'E', "%s encoded byte %ld is 0x%02x, QEMU 0x%02x (misalign %u/%u)",
		     v->name, at, dst[at], want_bytes[at], mis_old, mis_new);
		bad = 1;
	}
	free(o);
	free(n);
	free(dst);
	return bad;
}

static void encode_case(unsigned long idx, uint32_t psize, uint32_t dlen)
{
	uint8_t *old = xmalloc(psize), *new = xmalloc(psize), *enc = NULL;
	int32_t want;
	int bad;
	long at;

	vf_read(old, psize, "old page");
	vf_read(new, psize, "new page");
	want = (int32_t)vf_read_u32("encode result");
	if (want < -1 || (want > 0 && ((uint32_t)want > dlen ||
					(size_t)want > encode_bound(psize))))
		vf_corrupt("case %lu: encode result %d is impossible for page %u, dlen %u",
			   idx, want, psize, dlen);
	if (want > 0) {
		enc = xmalloc(want);
		vf_read(enc, want, "encoded bytes");
	}

	/* every encoder variant this CPU can run, each aligned and not */
	bad = 0;
	for (size_t i = 0; i < xbzrle_nr_variants && !bad; i++) {
		const struct xbzrle_variant *v = &xbzrle_variants[i];

		if (!xbzrle_variant_usable(v))
			continue;
		bad = encode_matches(v, idx, old, new, psize, dlen, want, enc, 0, 0);
		if (!bad)
			bad = encode_matches(v, idx, old, new, psize, dlen, want, enc, 3, 5);
	}

	/* QEMU's delta must take our decoder from old to new. */
	if (!bad && want > 0) {
		uint8_t *page = xmalloc(psize);
		int ret;

		memcpy(page, old, psize);
		ret = xbzrle_decode(enc, want, page, psize);
		if (ret < 0) {
			fail(idx, 'E', "decoder rejects QEMU's delta (%d)", ret);
			bad = 1;
		} else if ((at = first_diff(page, new, psize)) >= 0) {
			fail(idx, 'E', "decoding QEMU's delta gives byte %ld = 0x%02x, want 0x%02x",
			     at, page[at], new[at]);
			bad = 1;
		}
		free(page);
	}
	if (!bad && want == 0 && memcmp(old, new, psize))
		vf_corrupt("case %lu: result 0 (pages equal) but the pages differ", idx);

	bad ? failed++ : passed++;
	free(old);
	free(new);
	free(enc);
}

static void decode_case(unsigned long idx, uint32_t psize, uint32_t dlen)
{
	size_t room = dlen > psize ? dlen : psize;
	uint8_t *base = xmalloc(psize), *src, *page, *want_page = NULL, guard[GUARD];
	uint32_t slen;
	int32_t want;
	int ret, ok = 0;
	long at;

	vf_read(base, psize, "base page");
	slen = vf_read_u32("delta length");
	if (slen > MAX_DELTA)
		vf_corrupt("case %lu: delta length %u is implausible", idx, slen);
	src = xmalloc(slen);
	vf_read(src, slen, "delta");
	want = (int32_t)vf_read_u32("decode result");
	if (want < -1 || (want >= 0 && (uint32_t)want > dlen))
		vf_corrupt("case %lu: decode result %d is impossible for dlen %u", idx, want, dlen);
	if (want >= 0) {
		want_page = xmalloc(psize);
		vf_read(want_page, psize, "result page");
	}

	/* calloc: a huge dlen costs only the pages the decoder touches */
	page = calloc(room + GUARD, 1);
	if (!page) {
		fprintf(stderr, "error: out of memory (%zu bytes)\n", room + GUARD);
		exit(2);
	}
	memcpy(page, base, psize);
	memset(page + room, GUARD_BYTE, GUARD);
	memset(guard, GUARD_BYTE, GUARD);
	ret = as_qemu(xbzrle_decode(src, slen, page, dlen));

	at = first_diff(page + room, guard, GUARD);
	if (at >= 0)
		fail(idx, 'D', "decoder wrote past dlen %u (byte %zu)", dlen, room + at);
	else if (ret != want)
		fail(idx, 'D', "decode returned %d, QEMU %d (delta %u bytes, dlen %u)",
		     ret, want, slen, dlen);
	else if (want >= 0 && (at = first_diff(page, want_page, psize)) >= 0)
		fail(idx, 'D', "page byte %ld is 0x%02x, QEMU 0x%02x",
		     at, page[at], want_page[at]);
	else
		ok = 1;
	ok ? passed++ : failed++;
	free(base);
	free(src);
	free(page);
	free(want_page);
}

int main(int argc, char **argv)
{
	char magic[8];
	uint32_t count;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR-FILE[.gz]\n", argv[0]);
		return 2;
	}
	vf_open(argv[1]);
	vf_read(magic, sizeof(magic), "file header");
	if (memcmp(magic, MAGIC, sizeof(magic)))
		vf_corrupt("not an XBZRLEV1 file (bad magic)");
	count = vf_read_u32("case count");
	if (!count)
		vf_corrupt("the file holds no cases");

	for (unsigned long idx = 0; idx < count; idx++) {
		uint8_t head[4];
		uint32_t psize, dlen;

		vf_read(head, sizeof(head), "case header");
		if ((head[0] != 'E' && head[0] != 'D') || head[1] || head[2] || head[3])
			vf_corrupt("case %lu: bad type/padding %02x %02x %02x %02x",
				   idx, head[0], head[1], head[2], head[3]);
		psize = vf_read_u32("page size");
		dlen = vf_read_u32("dlen");
		if (!psize || psize > MAX_PAGE)
			vf_corrupt("case %lu: page size %u is implausible", idx, psize);
		/* QEMU's dlen is an int */
		if (dlen > INT32_MAX)
			vf_corrupt("case %lu: dlen %u is not an int", idx, dlen);
		if (head[0] == 'E')
			encode_case(idx, psize, dlen);
		else
			decode_case(idx, psize, dlen);
	}
	vf_close();

	printf("encoders:");
	for (size_t i = 0; i < xbzrle_nr_variants; i++)
		printf(" %s%s", xbzrle_variants[i].name,
		       xbzrle_variant_usable(&xbzrle_variants[i]) ? "" : " (not on this CPU: not run)");
	printf("\n%lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}
