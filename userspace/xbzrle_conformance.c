// SPDX-License-Identifier: GPL-2.0
/*
 * xbzrle-conformance: check the codec against a file of XBZRLEV1 cases
 * (vectors/FORMAT.md), plain or gzip-compressed.
 *
 * Encode cases: same return value and same bytes as QEMU's encoder, also
 * with misaligned buffers, never a byte written past dlen, and our decoder
 * turns old into new with QEMU's delta.  Decode cases: same return value
 * and, when accepted, the same page.  Prints one line per failing case and
 * "N passed, N failed" last; exits 0 if all pass, 1 if any fails, 2 if the
 * file is unreadable or malformed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xbzrle.h"

#define MAGIC		"XBZRLEV1"
#define MAX_PAGE	(1U << 20)	/* sanity bounds, far above any real page */
#define MAX_BUF		(16U << 20)
#define GUARD		64
#define GUARD_BYTE	0xa5

static const char *path;
static gzFile in;
static unsigned long long offset;

static void __attribute__((noreturn, format(printf, 1, 2))) corrupt(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: %s: malformed vector file at byte %llu: ", path, offset);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void read_exact(void *buf, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		unsigned int chunk = len - done > (1U << 30) ? 1U << 30 : len - done;
		int n = gzread(in, (char *)buf + done, chunk);
		int zerr;

		if (n < 0)
			corrupt("cannot read %s: %s", what, gzerror(in, &zerr));
		if (n == 0) {
			const char *msg = gzerror(in, &zerr);

			if (zerr != Z_OK && zerr != Z_BUF_ERROR)
				corrupt("cannot read %s: %s", what, msg);
			corrupt("file ends inside %s (%zu of %zu bytes)", what, done, len);
		}
		done += n;
		offset += n;
	}
}

static uint32_t read_u32(const char *what)
{
	uint8_t b[4];

	read_exact(b, 4, what);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

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

/* Encodes at the given misalignment; returns 0 if it matched @want. */
static int encode_matches(unsigned long idx, const uint8_t *old, const uint8_t *new,
			  uint32_t psize, uint32_t dlen, int32_t want,
			  const uint8_t *want_bytes, unsigned int misalign)
{
	uint8_t *o = xmalloc(psize + misalign), *n = xmalloc(psize + misalign);
	uint8_t *dst = xmalloc((size_t)dlen + GUARD);
	int ret, bad = 0;
	long at;

	memcpy(o + misalign, old, psize);
	memcpy(n + misalign, new, psize);
	memset(dst, GUARD_BYTE, (size_t)dlen + GUARD);
	ret = as_qemu(xbzrle_encode(o + misalign, n + misalign, psize, dst, dlen));

	for (size_t i = dlen; i < (size_t)dlen + GUARD; i++) {
		if (dst[i] != GUARD_BYTE) {
			fail(idx, 'E', "encoder wrote past dlen %u (byte %zu), misalign %u",
			     dlen, i, misalign);
			bad = 1;
			break;
		}
	}
	if (!bad && ret != want) {
		fail(idx, 'E', "encode returned %d, QEMU %d (page %u, dlen %u, misalign %u)",
		     ret, want, psize, dlen, misalign);
		bad = 1;
	}
	if (!bad && ret > 0 && (at = first_diff(dst, want_bytes, ret)) >= 0) {
		fail(idx, 'E', "encoded byte %ld is 0x%02x, QEMU 0x%02x (misalign %u)",
		     at, dst[at], want_bytes[at], misalign);
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

	read_exact(old, psize, "old page");
	read_exact(new, psize, "new page");
	want = (int32_t)read_u32("encode result");
	if (want < -1 || (want > 0 && (uint32_t)want > dlen))
		corrupt("case %lu: encode result %d is impossible for dlen %u", idx, want, dlen);
	if (want > 0) {
		enc = xmalloc(want);
		read_exact(enc, want, "encoded bytes");
	}

	bad = encode_matches(idx, old, new, psize, dlen, want, enc, 0);
	if (!bad)
		bad = encode_matches(idx, old, new, psize, dlen, want, enc, 3);

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
		corrupt("case %lu: result 0 (pages equal) but the pages differ", idx);

	bad ? failed++ : passed++;
	free(old);
	free(new);
	free(enc);
}

static void decode_case(unsigned long idx, uint32_t psize, uint32_t dlen)
{
	size_t room = dlen > psize ? dlen : psize;
	uint8_t *base = xmalloc(psize), *src, *page = xmalloc(room), *want_page = NULL;
	uint32_t slen;
	int32_t want;
	int ret;
	long at;

	read_exact(base, psize, "base page");
	slen = read_u32("delta length");
	if (slen > MAX_BUF)
		corrupt("case %lu: delta length %u is implausible", idx, slen);
	src = xmalloc(slen);
	read_exact(src, slen, "delta");
	want = (int32_t)read_u32("decode result");
	if (want < -1 || (want >= 0 && (uint32_t)want > dlen))
		corrupt("case %lu: decode result %d is impossible for dlen %u", idx, want, dlen);
	if (want >= 0) {
		want_page = xmalloc(psize);
		read_exact(want_page, psize, "result page");
	}

	memset(page, 0, room);
	memcpy(page, base, psize);
	ret = as_qemu(xbzrle_decode(src, slen, page, dlen));
	if (ret != want) {
		fail(idx, 'D', "decode returned %d, QEMU %d (delta %u bytes, dlen %u)",
		     ret, want, slen, dlen);
		failed++;
	} else if (want >= 0 && (at = first_diff(page, want_page, psize)) >= 0) {
		fail(idx, 'D', "page byte %ld is 0x%02x, QEMU 0x%02x",
		     at, page[at], want_page[at]);
		failed++;
	} else {
		passed++;
	}
	free(base);
	free(src);
	free(page);
	free(want_page);
}

int main(int argc, char **argv)
{
	char magic[8];
	uint32_t count;
	int zerr;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR-FILE[.gz]\n", argv[0]);
		return 2;
	}
	path = argv[1];
	in = gzopen(path, "rb");
	if (!in) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		return 2;
	}
	read_exact(magic, sizeof(magic), "file header");
	if (memcmp(magic, MAGIC, sizeof(magic)))
		corrupt("not an XBZRLEV1 file (bad magic)");
	count = read_u32("case count");

	for (unsigned long idx = 0; idx < count; idx++) {
		uint8_t head[4];
		uint32_t psize, dlen;

		read_exact(head, sizeof(head), "case header");
		if ((head[0] != 'E' && head[0] != 'D') || head[1] || head[2] || head[3])
			corrupt("case %lu: bad type/padding %02x %02x %02x %02x",
				idx, head[0], head[1], head[2], head[3]);
		psize = read_u32("page size");
		dlen = read_u32("dlen");
		if (!psize || psize > MAX_PAGE)
			corrupt("case %lu: page size %u is implausible", idx, psize);
		if (dlen > MAX_BUF)
			corrupt("case %lu: dlen %u is implausible", idx, dlen);
		if (head[0] == 'E')
			encode_case(idx, psize, dlen);
		else
			decode_case(idx, psize, dlen);
	}
	if (gzread(in, magic, 1) != 0)
		corrupt("data after the last of %u cases", count);
	gzerror(in, &zerr);
	if (zerr != Z_OK && zerr != Z_BUF_ERROR)
		corrupt("%s", gzerror(in, &zerr));
	gzclose(in);

	printf("%lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}
