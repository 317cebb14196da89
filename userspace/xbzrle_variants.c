// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "xbzrle.h"
#include "xbzrle_variants.h"

const struct xbzrle_variant xbzrle_variants[] = {
	{ "scalar", xbzrle_encode, NULL },
#ifdef __x86_64__
	{ "avx2", xbzrle_encode_avx2, "avx2" },
	{ "avx512", xbzrle_encode_avx512, "avx512bw" },
#endif
};
const size_t xbzrle_nr_variants = sizeof(xbzrle_variants) / sizeof(xbzrle_variants[0]);

bool xbzrle_variant_usable(const struct xbzrle_variant *v)
{
	if (!v->cpu_feature)
		return true;
#ifdef __x86_64__
	/* the compiler's checks include the OS enabling the registers (XCR0) */
	__builtin_cpu_init();
	if (!strcmp(v->cpu_feature, "avx2"))
		return __builtin_cpu_supports("avx2");
	if (!strcmp(v->cpu_feature, "avx512bw"))
		return __builtin_cpu_supports("avx512bw");
#endif
	return false;
}
