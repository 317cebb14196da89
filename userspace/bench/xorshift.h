/* SPDX-License-Identifier: GPL-2.0 */
/* xorshift64*: the pseudo-random numbers of xbzrle-bench and xbzrle-cache-sim */
#ifndef XORSHIFT_H
#define XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64star(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

#endif
