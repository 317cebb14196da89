// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written codec cases, one per rule of the format (see
 * Documentation/xbzrle-format.rst): every decoder rejection, the LEB128
 * boundaries and the encoder's overflow points.  The expected bytes are
 * worked out from the format, not taken from the codec.  The encoder cases
 * run for every encoder variant; those this CPU lacks are skipped.  TAP 13
 * output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbzrle.h"
#include "xbzrle_variants.h"
#include "../selftests/xbzrle_tap.h"

#define PAGE	4096
#define BIG	32768	/* a page size where 2-byte lengths can pass 0x3fff */
#define FILL	0x11
#define GUARD	16
#define ENCODE_CASES	21	/* test points per encoder variant */

/* the variant under test */
static const struct xbzrle_variant *variant;

struct decode_case {
	const char *name;
	size_t len;
	uint8_t src[8];
	int ret;
	/* with ret >= 0: up to two bytes the page must hold afterwards */
	int at[2];
	uint8_t val[2];
	size_t dlen;	/* 0: PAGE */
};

static const struct decode_case decode_cases[] = {
	{ "empty delta", 0, { 0 }, 0, { -1, -1 }, { 0 }, 0 },
	{ "one differing byte at 0", 3, { 0x00, 0x01, 0xaa }, 1, { 0, 1 }, { 0xaa, FILL }, 0 },
	{ "non-minimal LEB128 80 00 accepted", 4, { 0x80, 0x00, 0x01, 0xaa }, 1,
	  { 0, -1 }, { 0xaa, 0 }, 0 },
	{ "equal run then two bytes", 4, { 0x05, 0x02, 0xaa, 0xbb }, 7,
	  { 5, 6 }, { 0xaa, 0xbb }, 0 },
	{ "two pairs", 6, { 0x00, 0x01, 0xaa, 0x02, 0x01, 0xbb }, 4,
	  { 0, 3 }, { 0xaa, 0xbb }, 0 },
	{ "differing run may hold equal bytes", 4, { 0x00, 0x02, FILL, 0xcc }, 2,
	  { 0, 1 }, { FILL, 0xcc }, 0 },
	{ "run ends exactly at dlen", 4, { 0xff, 0x1f, 0x01, 0xaa }, PAGE,
	  { PAGE - 1, PAGE - 2 }, { 0xaa, FILL }, 0 },
	{ "lone byte: fewer than 2 bytes where a pair starts", 1, { 0x00 }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "no room for the differing run's length", 2, { 0x00, 0x01 }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "differing run longer than the delta", 3, { 0x00, 0x02, 0xaa }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "differing run of 0", 3, { 0x00, 0x00, 0xaa }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "differing run of 0, then a valid pair", 5, { 0x00, 0x00, 0x01, 0x01, 0xaa },
	  -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "equal run of 0 after the start", 6, { 0x00, 0x01, 0xaa, 0x00, 0x01, 0xbb },
	  -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "LEB128 second byte with its top bit set", 4, { 0x81, 0x80, 0x01, 0xaa },
	  -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "LEB128 second byte with its top bit set, run within dlen", 4,
	  { 0x81, 0x80, 0x01, 0xaa }, -EINVAL, { -1, -1 }, { 0 }, BIG },
	{ "equal run past dlen", 4, { 0x81, 0x20, 0x01, 0xaa }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "differing run past dlen", 4, { 0x80, 0x20, 0x01, 0xaa }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "trailing lone byte after a pair", 4, { 0x00, 0x01, 0xaa, 0x01 }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "lone first byte of a 2-byte length", 1, { 0x80 }, -EINVAL, { -1, -1 }, { 0 }, 0 },
	{ "trailing first byte of a 2-byte length", 4, { 0x00, 0x01, 0xaa, 0x81 },
	  -EINVAL, { -1, -1 }, { 0 }, 0 },
};

static void run_decode(const struct decode_case *c)
{
	uint8_t *src = malloc(c->len ? c->len : 1);	/* exact size for ASan */
	static uint8_t page[BIG];
	size_t dlen = c->dlen ? c->dlen : PAGE;
	int ret, ok;

	memcpy(src, c->src, c->len);
	memset(page, FILL, sizeof(page));
	ret = xbzrle_decode(src, c->len, page, dlen);
	ok = ret == c->ret;
	for (int i = 0; ok && c->ret >= 0 && i < 2; i++)
		if (c->at[i] >= 0 && page[c->at[i]] != c->val[i])
			ok = 0;
	tap_result(ok, "decode: %s, dlen %zu (want %d, got %d)", c->name, dlen,
		   c->ret, ret);
	free(src);
}

/*
 * Encodes into a buffer of @dlen bytes followed by guard bytes; returns the
 * result, or -EFAULT if the encoder wrote past @dlen.
 */
static int encode(const uint8_t *old, const uint8_t *new, size_t dlen, uint8_t *out)
{
	uint8_t *dst = malloc(dlen + GUARD);
	int ret;

	memset(dst, 0xa5, dlen + GUARD);
	ret = variant->encode(old, new, PAGE, dst, dlen);
	for (size_t i = dlen; i < dlen + GUARD; i++)
		if (dst[i] != 0xa5)
			ret = -EFAULT;
	if (ret > 0)
		memcpy(out, dst, ret);
	free(dst);
	return ret;
}

static void expect_encode(const uint8_t *old, const uint8_t *new, size_t dlen,
			  int want, const uint8_t *want_bytes, const char *name)
{
	static uint8_t out[2 * PAGE];
	int ret = encode(old, new, dlen, out);
	int ok = ret == want && (want <= 0 || !memcmp(out, want_bytes, want));

	tap_result(ok, "encode %s: %s, dlen %zu (want %d, got %d)", variant->name, name,
		   dlen, want, ret);
}

static void encode_cases(void)
{
	static uint8_t old[PAGE], new[PAGE], want[2 * PAGE];

	memset(old, FILL, PAGE);
	memcpy(new, old, PAGE);
	/* equal pages: 0, but QEMU first wants room for one length */
	expect_encode(old, new, PAGE, 0, NULL, "equal pages");
	expect_encode(old, new, 2, 0, NULL, "equal pages");
	expect_encode(old, new, 1, -ENOSPC, NULL, "equal pages");

	/* first byte differs, page ends equal: 00 01 xx, and 2 spare bytes */
	new[0] = 0xaa;
	memcpy(want, "\x00\x01\xaa", 3);
	expect_encode(old, new, 5, 3, want, "first byte differs");
	expect_encode(old, new, 4, -ENOSPC, NULL, "first byte differs");
	expect_encode(old, new, 3, -ENOSPC, NULL, "first byte differs");

	/* last byte differs: ff 1f (4095) 01 xx, no spare bytes needed */
	new[0] = FILL;
	new[PAGE - 1] = 0xbb;
	memcpy(want, "\xff\x1f\x01\xbb", 4);
	expect_encode(old, new, 4, 4, want, "last byte differs");
	expect_encode(old, new, 3, -ENOSPC, NULL, "last byte differs");

	/* LEB128 boundary: differing runs of 127 and 128 bytes at the start */
	memcpy(new, old, PAGE);
	memset(new, 0xcc, 127);
	want[0] = 0x00;
	want[1] = 0x7f;
	memset(want + 2, 0xcc, 127);
	expect_encode(old, new, PAGE, 129, want, "127 differing bytes");
	new[127] = 0xcc;
	want[1] = 0x80;
	want[2] = 0x01;
	memset(want + 3, 0xcc, 128);
	expect_encode(old, new, PAGE, 131, want, "128 differing bytes");
	/* room for the first length but not for a 2-byte second one */
	expect_encode(old, new, 2, -ENOSPC, NULL, "128 differing bytes");

	/* maximal runs: differ, equal, differ, equal... in 1-byte steps */
	memcpy(new, old, PAGE);
	new[0] = 0x01;
	new[2] = 0x02;
	new[4] = 0x03;
	memcpy(want, "\x00\x01\x01\x01\x01\x02\x01\x01\x03", 9);
	expect_encode(old, new, PAGE, 9, want, "alternating bytes");

	/* a run crossing an 8-byte word: bytes 6..9 differ */
	memcpy(new, old, PAGE);
	memset(new + 6, 0xdd, 4);
	memcpy(want, "\x06\x04\xdd\xdd\xdd\xdd", 6);
	expect_encode(old, new, PAGE, 6, want, "run across a word boundary");

	/* every byte differs: 00 80 20 + 4096 bytes = 4099 */
	memset(new, 0xee, PAGE);
	want[0] = 0x00;
	want[1] = 0x80;
	want[2] = 0x20;
	memset(want + 3, 0xee, PAGE);
	expect_encode(old, new, PAGE, -ENOSPC, NULL, "every byte differs");
	expect_encode(old, new, PAGE + 3, PAGE + 3, want, "every byte differs");
	expect_encode(old, new, PAGE + 2, -ENOSPC, NULL, "every byte differs");

	/* misaligned buffers give the same bytes */
	{
		static uint8_t o[PAGE + 8], nw[PAGE + 8], out[PAGE];
		int ret;

		memcpy(o + 3, old, PAGE);
		memcpy(nw + 5, old, PAGE);
		nw[5 + 100] = 0x42;
		ret = variant->encode(o + 3, nw + 5, PAGE, out, PAGE);
		tap_result(ret == 3 && !memcmp(out, "\x64\x01\x42", 3),
			   "encode %s: misaligned buffers (want 3, got %d)", variant->name, ret);
	}

	/* the SIMD variants work on 64-byte blocks: a run across two */
	memcpy(new, old, PAGE);
	memset(new + 62, 0xdd, 4);
	memcpy(want, "\x3e\x04\xdd\xdd\xdd\xdd", 6);
	expect_encode(old, new, PAGE, 6, want, "run across a 64-byte block");

	/* a short differing run too close to the end for a 32-byte move */
	memcpy(new, old, PAGE);
	memset(new + PAGE - 3, 0xee, 3);
	memcpy(want, "\xfd\x1f\x03\xee\xee\xee", 6);
	expect_encode(old, new, PAGE, 6, want, "3 differing bytes at the end");

	/* a length that is not a multiple of 64: the last block is partial */
	{
		static uint8_t o[100], nw[100], out[200];
		int ret;

		memset(o, FILL, sizeof(o));
		memcpy(nw, o, sizeof(o));
		nw[70] = 0x42;
		nw[99] = 0x43;
		ret = variant->encode(o, nw, sizeof(o), out, sizeof(out));
		tap_result(ret == 6 && !memcmp(out, "\x46\x01\x42\x1c\x01\x43", 6),
			   "encode %s: 100-byte page (want 6, got %d)", variant->name, ret);
	}

	/* a zero-length page is equal */
	tap_result(variant->encode(old, new, 0, want, 0) == 0, "encode %s: empty page",
		   variant->name);
}

int main(void)
{
	size_t n = sizeof(decode_cases) / sizeof(decode_cases[0]);

	tap_plan(n + ENCODE_CASES * xbzrle_nr_variants);
	for (size_t i = 0; i < n; i++)
		run_decode(&decode_cases[i]);

	for (size_t i = 0; i < xbzrle_nr_variants; i++) {
		variant = &xbzrle_variants[i];
		if (xbzrle_variant_usable(variant)) {
			encode_cases();
			continue;
		}
		for (int k = 0; k < ENCODE_CASES; k++)
			tap_skip("this CPU has no %s", "encode %s: case %d", variant->cpu_feature,
				 variant->name, k + 1);
	}
	tap_finish();
}
