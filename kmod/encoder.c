// SPDX-License-Identifier: GPL-2.0
/*
 * Which XBZRLE encoder the module runs: the fastest one the CPU has, or
 * the one named by the encoder= module parameter.  All of them produce the
 * same bytes (the codec's tests run every one), so the choice is only
 * about speed.  The SIMD ones run inside kernel_fpu_begin()/_end() for one
 * page at a time, which keeps preemption off for about a microsecond.
 */
#include <linux/moduleparam.h>
#include <linux/sysfs.h>
#include <linux/string.h>

#ifdef CONFIG_X86_64
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#endif

#include "kvm_xbzrle.h"
#include "xbzrle.h"

typedef int (*xbzrle_encode_fn)(const u8 *old, const u8 *new, size_t slen,
				u8 *dst, size_t dlen);

struct xbzrle_encoder {
	const char *name;
	xbzrle_encode_fn encode;
	bool simd;
};

static const struct xbzrle_encoder xbzrle_encoders[] = {
	{ "scalar", xbzrle_encode, false },
#ifdef CONFIG_X86_64
	{ "avx2", xbzrle_encode_avx2, true },
	{ "avx512", xbzrle_encode_avx512, true },
#endif
};

/* what encoder= asked for (NULL: the best), then what runs */
static const struct xbzrle_encoder *xbzrle_requested;
static const struct xbzrle_encoder *xbzrle_encoder = &xbzrle_encoders[0];

static bool xbzrle_encoder_usable(const struct xbzrle_encoder *e)
{
#ifdef CONFIG_X86_64
	if (e->encode == xbzrle_encode_avx2)
		return boot_cpu_has(X86_FEATURE_AVX2) &&
		       cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM, NULL);
	if (e->encode == xbzrle_encode_avx512)
		return boot_cpu_has(X86_FEATURE_AVX512BW) &&
		       cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM |
					 XFEATURE_MASK_AVX512, NULL);
#endif
	return true;
}

static int xbzrle_encoder_set(const char *val, const struct kernel_param *kp)
{
	size_t i;

	if (sysfs_streq(val, "auto")) {
		xbzrle_requested = NULL;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(xbzrle_encoders); i++) {
		if (sysfs_streq(val, xbzrle_encoders[i].name)) {
			xbzrle_requested = &xbzrle_encoders[i];
			return 0;
		}
	}
	return -EINVAL;
}

static int xbzrle_encoder_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", xbzrle_encoder->name);
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
	size_t i;

	if (xbzrle_requested) {
		if (!xbzrle_encoder_usable(xbzrle_requested)) {
			pr_err("encoder=%s: this CPU (or the kernel's FPU state) does not support it\n",
			       xbzrle_requested->name);
			return -EINVAL;
		}
		xbzrle_encoder = xbzrle_requested;
		return 0;
	}
	/* the table is in order of speed */
	for (i = 0; i < ARRAY_SIZE(xbzrle_encoders); i++)
		if (xbzrle_encoder_usable(&xbzrle_encoders[i]))
			xbzrle_encoder = &xbzrle_encoders[i];
	return 0;
}

const char *xbzrle_encoder_name(void)
{
	return xbzrle_encoder->name;
}

/* xbzrle_encode() with the selected encoder; process context. */
int xbzrle_encode_page_data(const u8 *old, const u8 *new, u8 *dst, size_t dlen)
{
	int ret;

	if (!xbzrle_encoder->simd)
		return xbzrle_encode(old, new, PAGE_SIZE, dst, dlen);
#ifdef CONFIG_X86_64
	/* one page per FPU section: the section keeps preemption off */
	kernel_fpu_begin();
	ret = xbzrle_encoder->encode(old, new, PAGE_SIZE, dst, dlen);
	kernel_fpu_end();
#else
	ret = xbzrle_encode(old, new, PAGE_SIZE, dst, dlen);
#endif
	return ret;
}
