/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-page adaptation rule, as plain arithmetic on a page's history
 * with no kernel dependency: kmod/encode.c applies it, and the userspace
 * replay (userspace/bench/xbzrle_adapt_sim.c) runs the same functions, so
 * the two cannot drift apart.
 *
 * A page whose delta overflows (does not fit max_delta) in
 * @overflows records in a row gives its base back: the cache page is
 * freed for pages that do compress, and the page is sent RAW (or ZERO)
 * without running the encoder, remembered by a marker that costs no
 * cache page.  After @probe_rounds generations (dirty-sync rounds) the
 * page is probed: sent RAW and cached again, so its next record is a
 * delta attempt.  A probed page that overflows once more gives its base
 * back at once; one that gives a delta is back to the normal rule.  So a
 * page whose writes turn sparse is back to deltas within
 * @probe_rounds + 2 of its generations.
 */
#ifndef _XBZRLE_ADAPT_H
#define _XBZRLE_ADAPT_H

#include <linux/types.h>

/* Longest overflow streak a base remembers (struct xbzrle_entry). */
#define XBZRLE_ADAPT_STREAK_MAX	255

struct xbzrle_adapt {
	unsigned int overflows;		/* streak that gives a base back; 0: off */
	unsigned int probe_rounds;	/* generations a page is skipped */
};

/* The streak after a record of a page that had a base. */
static inline unsigned int xbzrle_adapt_streak(unsigned int streak,
					       bool overflowed)
{
	if (!overflowed)
		return 0;
	return streak < XBZRLE_ADAPT_STREAK_MAX ? streak + 1 : streak;
}

/* Whether a base whose page overflowed @streak times in a row goes back. */
static inline bool xbzrle_adapt_give_back(const struct xbzrle_adapt *a,
					  unsigned int streak)
{
	return a->overflows && streak >= a->overflows;
}

/* The generation from which a page given back in @gen is probed. */
static inline __u64 xbzrle_adapt_probe_gen(const struct xbzrle_adapt *a,
					   __u64 gen)
{
	return gen + a->probe_rounds + 1;
}

/* The streak a probed page is cached with: one overflow gives it back. */
static inline unsigned int xbzrle_adapt_probe_streak(const struct xbzrle_adapt *a)
{
	return a->overflows ? a->overflows - 1 : 0;
}

/*
 * What the cache holds for a page when its record is made
 * (xbzrle_cache_take()): a base and its streak, or a marker.
 */
struct xbzrle_adapt_page {
	bool base;			/* it has a base */
	unsigned int streak;		/* the base's overflows in a row */
	bool skip;			/* no base: given back, not encoded */
	bool probe;			/* no base: given back, skip over */
};

/*
 * A page without a base whose slot holds a marker (given back, probed
 * from @probe_gen), in generation @gen: skipped, or probed (the marker
 * goes).  @a is NULL for a call without KVM_XBZRLE_ENCODE_GENERATION; with
 * the rule off (NULL, or overflows 0) the marker just goes.
 */
static inline void xbzrle_adapt_marker(const struct xbzrle_adapt *a,
				       __u64 probe_gen, __u64 gen,
				       struct xbzrle_adapt_page *pg)
{
	bool on = a && a->overflows;

	pg->skip = on && gen < probe_gen;
	pg->probe = on && !pg->skip;
}

/* What becomes of a page's cache state after its record. */
enum xbzrle_adapt_settle {
	XBZRLE_SETTLE_NOTHING,		/* skipped: no base, the marker stays */
	XBZRLE_SETTLE_KEEP,		/* UNCHANGED: the base stays, streak 0 */
	XBZRLE_SETTLE_GIVE_BACK,	/* the base goes, a marker takes its slot */
	XBZRLE_SETTLE_COMMIT,		/* the snapshot becomes the base */
};

/*
 * The rule itself, for page @pg whose record was UNCHANGED (@unchanged),
 * or RAW from a base because its delta did not fit (@overflowed), or
 * anything else; *@streak gets the streak the base keeps (COMMIT).
 */
static inline enum xbzrle_adapt_settle
xbzrle_adapt_settle(const struct xbzrle_adapt *a,
		    const struct xbzrle_adapt_page *pg, bool unchanged,
		    bool overflowed, unsigned int *streak)
{
	*streak = 0;
	if (pg->skip)
		return XBZRLE_SETTLE_NOTHING;
	if (unchanged)
		return XBZRLE_SETTLE_KEEP;
	if (pg->probe)
		*streak = xbzrle_adapt_probe_streak(a);
	if (pg->base)
		*streak = xbzrle_adapt_streak(pg->streak, overflowed);
	if (overflowed && a && xbzrle_adapt_give_back(a, *streak))
		return XBZRLE_SETTLE_GIVE_BACK;
	return XBZRLE_SETTLE_COMMIT;
}

#endif /* _XBZRLE_ADAPT_H */
