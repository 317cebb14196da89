/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every encoder variant of the codec (kmod/codec/xbzrle*.c), for the userspace
 * programs that test or measure all of them: the conformance runner, the
 * unit test, the fuzzers and the benchmark.  The module picks among the
 * same functions in kmod/codec/encoder.c.
 */
#ifndef XBZRLE_VARIANTS_H
#define XBZRLE_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int (*xbzrle_encode_fn)(const uint8_t *old, const uint8_t *new, size_t slen,
				uint8_t *dst, size_t dlen);

struct xbzrle_variant {
	const char *name;	/* as the module's encoder= parameter names it */
	xbzrle_encode_fn encode;
	const char *cpu_feature;	/* NULL: runs anywhere */
};

extern const struct xbzrle_variant xbzrle_variants[];
extern const size_t xbzrle_nr_variants;

/* Whether this CPU (and OS) can run @v. */
bool xbzrle_variant_usable(const struct xbzrle_variant *v);

#endif
