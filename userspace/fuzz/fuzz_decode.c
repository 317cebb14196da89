// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the decoder on hostile deltas.  The page buffer is
 * exactly dlen bytes, so ASan catches any access outside it; the decoder
 * must also leave every byte past the offset it returns untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xbzrle.h"

#define FILL 0x5c

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t dlen;
	uint8_t *page;
	int ret;

	if (size < 2)
		return 0;
	dlen = (data[0] | data[1] << 8) % 8193;
	data += 2;
	size -= 2;

	page = malloc(dlen ? dlen : 1);
	memset(page, FILL, dlen);
	ret = xbzrle_decode(data, size, page, dlen);
	if (ret >= 0) {
		if ((size_t)ret > dlen)
			abort();
		for (size_t i = ret; i < dlen; i++)
			if (page[i] != FILL)
				abort();
	}
	free(page);
	return 0;
}
