// SPDX-License-Identifier: GPL-2.0
/*
 * Which XBZRLE encoder the module runs: the fastest one the CPU has, or
 * the one named by the encoder= module parameter.  All of them produce the
 * same bytes (the codec's tests run every one), so the choice is only
 * about speed.  The SIMD ones run inside kernel_fpu_begin()/_end() for one
 * page at a time, which keeps preemption off for about a microsecond.
 */
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#ifdef CONFIG_X86_64
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#endif

#include "encoder.h"
#include "xbzrle.h"

/* in order of speed */
enum xbzrle_encoder {
	XBZRLE_ENC_SCALAR,
#ifdef CONFIG_X86_64
	XBZRLE_ENC_AVX2,
	XBZRLE_ENC_AVX512,
#endif
	XBZRLE_NR_ENCODERS
};

static const char *const xbzrle_encoder_names[XBZRLE_NR_ENCODERS] = {
	[XBZRLE_ENC_SCALAR]	= "scalar",
#ifdef CONFIG_X86_64
	[XBZRLE_ENC_AVX2]	= "avx2",
	[XBZRLE_ENC_AVX512]	= "avx512",
#endif
};

/* what encoder= asked for (-1: the best), then what runs */
static int xbzrle_requested = -1;
static enum xbzrle_encoder xbzrle_encoder = XBZRLE_ENC_SCALAR;

static bool xbzrle_encoder_usable(enum xbzrle_encoder e)
{
	switch (e) {
#ifdef CONFIG_X86_64
	case XBZRLE_ENC_AVX2:
		return boot_cpu_has(X86_FEATURE_AVX2) &&
		       cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM, NULL);
	case XBZRLE_ENC_AVX512:
		return boot_cpu_has(X86_FEATURE_AVX512BW) &&
		       cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM |
					 XFEATURE_MASK_AVX512, NULL);
#endif
	default:
		return true;
	}
}

static int xbzrle_encoder_set(const char *val, const struct kernel_param *kp)
{
	int i;

	if (sysfs_streq(val, "auto")) {
		xbzrle_requested = -1;
		return 0;
	}
	i = sysfs_match_string(xbzrle_encoder_names, val);
	if (i < 0)
		return -EINVAL;
	xbzrle_requested = i;
	return 0;
}

static int xbzrle_encoder_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", xbzrle_encoder_names[xbzrle_encoder]);
}

static const struct kernel_param_ops xbzrle_encoder_ops = {
	.set = xbzrle_encoder_set,
	.get = xbzrle_encoder_get,
};

/* read-only once loaded: every page of a migration is encoded by one encoder */
module_param_cb(encoder, &xbzrle_encoder_ops, NULL, 0444);
MODULE_PARM_DESC(encoder,
		 "XBZRLE encoder: auto (default: the fastest this CPU has), scalar, avx2 or avx512; reading it gives the one in use");

/* Picks the encoder at module load; fails if encoder= names one the CPU lacks. */
int xbzrle_encoder_init(void)
{
	int e;

	if (xbzrle_requested >= 0) {
		if (!xbzrle_encoder_usable(xbzrle_requested)) {
			pr_err("encoder=%s: this CPU (or the kernel's FPU state) does not support it\n",
			       xbzrle_encoder_names[xbzrle_requested]);
			return -EINVAL;
		}
		xbzrle_encoder = xbzrle_requested;
		return 0;
	}
	for (e = 0; e < XBZRLE_NR_ENCODERS; e++)
		if (xbzrle_encoder_usable(e))
			xbzrle_encoder = e;
	return 0;
}

#ifdef CONFIG_X86_64
/* One page per FPU section.  Inlined, so @encode is a direct call. */
static __always_inline int xbzrle_encode_fpu(int (*encode)(const u8 *, const u8 *,
							    size_t, u8 *, size_t),
					     const u8 *old, const u8 *new,
					     u8 *dst, size_t dlen)
{
	int ret;

	kernel_fpu_begin();
	ret = encode(old, new, PAGE_SIZE, dst, dlen);
	kernel_fpu_end();
	return ret;
}
#endif

/*
 * xbzrle_encode() with the selected encoder; process context.  A switch,
 * not a function pointer: an indirect call per page would go through a
 * retpoline.
 */
int xbzrle_encode_page_data(const u8 *old, const u8 *new, u8 *dst, size_t dlen)
{
	switch (xbzrle_encoder) {
#ifdef CONFIG_X86_64
	case XBZRLE_ENC_AVX2:
		return xbzrle_encode_fpu(xbzrle_encode_avx2, old, new, dst, dlen);
	case XBZRLE_ENC_AVX512:
		return xbzrle_encode_fpu(xbzrle_encode_avx512, old, new, dst, dlen);
#endif
	default:
		return xbzrle_encode(old, new, PAGE_SIZE, dst, dlen);
	}
}
