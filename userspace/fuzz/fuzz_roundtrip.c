// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: encode then decode.  Input: 2 bytes page size, 2 bytes
 * dlen, then bytes that build the old page and a mask XORed into it to make
 * the new page (zero mask bytes give equal runs).  Output buffers are
 * exactly dlen bytes, so ASan catches a write past the limit.
 *
 * Checked: a delta decodes back to the new page, reporting the end of the
 * last differing byte; 0 only for equal pages; and a limited dlen gives
 * either the unbounded delta's bytes or -ENOSPC, exactly as QEMU's
 * overflow rule says.  Every other encoder variant the CPU can run gives
 * the portable encoder's result and bytes, also into the exact-size buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xbzrle.h"
#include "xbzrle_variants.h"

#define MAX_PAGE 4096

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t old[MAX_PAGE], new[MAX_PAGE], full[2 * MAX_PAGE + 16];
	size_t psize, dlen, half, full_len, end = 0;
	uint8_t *dst, *page;
	int ret, ref, fits;

	if (size < 4)
		return 0;
	psize = (data[0] | data[1] << 8) % (MAX_PAGE + 1);
	dlen = (data[2] | data[3] << 8) % (2 * psize + 17);
	data += 4;
	size -= 4;
	half = size / 2;
	for (size_t i = 0; i < psize; i++) {
		old[i] = half ? data[i % half] : 0;
		new[i] = old[i] ^ (size - half ? data[half + i % (size - half)] : 0);
	}

	ref = xbzrle_encode(old, new, psize, full, sizeof(full));
	check(ref >= 0);
	full_len = ref;

	/*
	 * QEMU's overflow rule, stated on the unbounded delta: it must fit,
	 * and where the page ends in equal bytes (equal pages included) two
	 * more bytes must fit too.
	 */
	fits = !psize || (full_len <= dlen &&
			  (old[psize - 1] != new[psize - 1] || full_len + 2 <= dlen));

	dst = malloc(dlen ? dlen : 1);
	ret = xbzrle_encode(old, new, psize, dst, dlen);
	if (fits) {
		check(ret == ref);
		check(!memcmp(dst, full, ret));
	} else {
		check(ret == -ENOSPC);
	}
	for (size_t i = 1; i < xbzrle_nr_variants; i++) {
		const struct xbzrle_variant *v = &xbzrle_variants[i];
		uint8_t *vdst;

		if (!xbzrle_variant_usable(v))
			continue;
		vdst = malloc(dlen ? dlen : 1);
		check(v->encode(old, new, psize, vdst, dlen) == ret);
		check(ret <= 0 || !memcmp(vdst, dst, ret));
		free(vdst);
	}
	free(dst);

	check((ref == 0) == !memcmp(old, new, psize));
	for (size_t i = 0; i < psize; i++)
		if (old[i] != new[i])
			end = i + 1;
	page = malloc(psize ? psize : 1);
	memcpy(page, old, psize);
	ret = xbzrle_decode(full, full_len, page, psize);
	/* the decoder returns where the last differing run ends */
	check(ret == (int)end);
	check(!memcmp(page, new, psize));
	free(page);
	return 0;
}
