// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_encode - offload_fuzz_test's KVM_XBZRLE_ENCODE: page lists and
 * record buffers valid or wrong in every documented way, guest pages
 * changed before the call, and the walk of the records a successful call
 * returns, applied to the context's destination copy and compared with
 * guest memory and the project's encoder.  See include/fuzz_util.h.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "fuzz_util.h"
#include "records.h"
#include "test_util.h"
#include "xbzrle.h"

/* --------------------------------- ENCODE --------------------------------- */

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[PG];

	return !memcmp(p, zero, PG);
}

/* Gpas of the regions of a live context, for valid lists. */
static unsigned int valid_gpas(const struct fctx *x, uint64_t *out,
			       unsigned int max, bool *all_logged)
{
	unsigned int s, n = 0;
	uint64_t i;

	*all_logged = true;
	if (!ctx_live(x))
		return 0;
	for (s = 0; s < NSLOT; s++) {
		const struct fslot *sl = &vms[x->vm].slot[s];

		if (!x->reg[s].set || !region_matches(&x->reg[s], sl))
			continue;
		for (i = 0; i < sl->npages && n < max; i++)
			out[n++] = sl->gpa + i * PG;
	}
	return n;
}

static bool slot_logged(int v, uint64_t gpa)
{
	struct fslot *sl = slot_of(v, gpa);

	return sl && sl->flags & KVM_MEM_LOG_DIRTY_PAGES;
}

/* Changes a few guest pages the next ENCODE will read. */
static void touch_pages(int v, const uint64_t *gpas, unsigned int n)
{
	unsigned int i, k;

	for (i = 0; i < n && i < 4; i++) {
		uint64_t g = gpas[rn(n)] & ~(PG - 1);
		struct fslot *sl = slot_of(v, g);
		uint8_t *pg;

		if (!sl)
			continue;
		pg = sl->hva + (g - sl->gpa);
		switch (rn(6)) {
		case 0:
			memset(pg, 0, PG);
			break;
		case 1:
			fill_guest(pg, PG);
			break;
		case 2:
			break;
		default:
			for (k = 1 + rn(40); k; k--)
				pg[rn(PG)] = rnd();
		}
	}
}

struct enc_plan {
	const uint64_t *list;		/* the page list, as passed */
	bool list_known;		/* list[] still holds what was read */
	uint32_t readable;		/* entries the module can read */
	bool records_in_guest;
	uint32_t max_delta;
	uint32_t records_size;
	void *records;
};

static struct enc_plan plan;
static uint8_t delta_buf[PG];

/*
 * Walks the records of a successful ENCODE and applies them to the
 * context's destination copy.
 */
static void check_records(struct fctx *x, uint32_t npages, uint32_t done,
			  uint32_t used)
{
	const uint8_t *buf = plan.records;
	uint32_t off = 0, i, limit;
	bool content = ctx_live(x) && !plan.records_in_guest && !x->dest_lost;
	uint8_t before[PG];

	limit = npages < KVM_XBZRLE_MAX_BATCH ? npages : KVM_XBZRLE_MAX_BATCH;
	if (done > limit || used > plan.records_size || used % 8 ||
	    (npages && !done) || (!npages && (done || used))) {
		violation(V_RECORDS, "ENCODE of %u pages into %u bytes: npages_done %u records_used %u",
			  npages, plan.records_size, done, used);
		return;
	}
	if (done > plan.readable) {
		violation(V_RECORDS, "ENCODE returned %u records, the page list has %u readable entries",
			  done, plan.readable);
		return;
	}
	for (i = 0; i < done; i++) {
		struct kvm_xbzrle_record h;
		const uint8_t *data;
		uint8_t *dp;
		uint64_t di;
		int n;

		if (off + sizeof(h) > used) {
			violation(V_RECORDS, "record %u at offset %u: past records_used %u",
				  i, off, used);
			return;
		}
		memcpy(&h, buf + off, sizeof(h));
		data = buf + off + sizeof(h);
		if ((plan.list_known && h.gpa != plan.list[i]) || h.reserved ||
		    h.type < KVM_XBZRLE_RECORD_ZERO ||
		    h.type > KVM_XBZRLE_RECORD_RAW ||
		    off + sizeof(h) + h.len > used ||
		    ((h.type == KVM_XBZRLE_RECORD_ZERO ||
		      h.type == KVM_XBZRLE_RECORD_UNCHANGED) && h.len) ||
		    (h.type == KVM_XBZRLE_RECORD_RAW && h.len != PG) ||
		    (h.type == KVM_XBZRLE_RECORD_XBZRLE &&
		     (!h.len || h.len > plan.max_delta))) {
			violation(V_RECORDS, "record %u at offset %u: gpa 0x%llx (list 0x%llx) type %u reserved %u len %u (max_delta %u, used %u)",
				  i, off, (unsigned long long)h.gpa,
				  (unsigned long long)(plan.list_known ? plan.list[i] : 0), h.type,
				  h.reserved, h.len, plan.max_delta, used);
			return;
		}
		records_walked++;
		rtype[h.type]++;
		x->records++;
		off = (off + sizeof(h) + h.len + 7) & ~7U;
		di = h.gpa >= WIN_BASE ? (h.gpa - WIN_BASE) / PG : DEST_PAGES;
		if (h.gpa % PG || di >= DEST_PAGES) {
			violation(V_RECORDS, "record %u: gpa 0x%llx is no page of any region",
				  i, (unsigned long long)h.gpa);
			return;
		}
		dp = x->dest + di * PG;
		if (h.type == KVM_XBZRLE_RECORD_XBZRLE)
			memcpy(before, dp, PG);
		switch (h.type) {
		case KVM_XBZRLE_RECORD_ZERO:
			memset(dp, 0, PG);
			break;
		case KVM_XBZRLE_RECORD_UNCHANGED:
		case KVM_XBZRLE_RECORD_XBZRLE:
			if (!x->dvalid[di] && !x->dest_lost) {
				violation(V_RECORDS, "record %u: %s for gpa 0x%llx, which this context never returned",
					  i, xbz_record_type_name(h.type),
					  (unsigned long long)h.gpa);
				return;
			}
			if (h.type == KVM_XBZRLE_RECORD_XBZRLE &&
			    xbzrle_decode(data, h.len, dp, PG) < 0) {
				violation(V_RECORDS, "record %u: XBZRLE delta of %u bytes does not decode",
					  i, h.len);
				return;
			}
			break;
		case KVM_XBZRLE_RECORD_RAW:
			memcpy(dp, data, PG);
			break;
		}
		x->dvalid[di] = true;
		if (!content)
			continue;
		{
			struct fslot *sl = slot_of(x->vm, h.gpa);
			const uint8_t *g = sl ? sl->hva + (h.gpa - sl->gpa) : NULL;

			if (!g) {
				violation(V_CONTENT, "record %u: gpa 0x%llx in no memslot of the bound VM",
					  i, (unsigned long long)h.gpa);
				continue;
			}
			content_checked++;
			if (memcmp(dp, g, PG)) {
				violation(V_CONTENT, "record %u (%s, len %u): gpa 0x%llx applied to the destination differs from guest memory",
					  i, xbz_record_type_name(h.type), h.len,
					  (unsigned long long)h.gpa);
				continue;
			}
			if ((h.type == KVM_XBZRLE_RECORD_ZERO) != page_zero(g))
				violation(V_CONTENT, "record %u: %s for a %szero page",
					  i, xbz_record_type_name(h.type),
					  page_zero(g) ? "" : "non-");
			if (h.type == KVM_XBZRLE_RECORD_XBZRLE) {
				n = xbzrle_encode(before, g, PG, delta_buf,
						  plan.max_delta);
				if (n != (int)h.len || memcmp(delta_buf, data, h.len))
					violation(V_CONTENT, "record %u: XBZRLE delta (%u bytes) is not xbzrle_encode()'s (%d)",
						  i, h.len, n);
			}
		}
	}
	if (off != used)
		violation(V_RECORDS, "records_used %u, the %u records end at %u",
			  used, done, off);
}

/* A gpa for a list: valid, or one of the ways to be wrong. */
static uint64_t pick_gpa(const uint64_t *valid, unsigned int nvalid,
			 const uint64_t *prev, unsigned int nprev)
{
	unsigned int k = rn(100);

	if (nvalid && k < 70)
		return valid[rn(nvalid)];
	if (nprev && k < 78)
		return prev[rn(nprev)];		/* a duplicate */
	if (k < 84)
		return WIN_BASE + rn(DEST_PAGES) * PG;	/* maybe no region */
	if (k < 90)
		return (nvalid ? valid[rn(nvalid)] : WIN_BASE) + 1 + rn(PG - 1);
	if (k < 95)
		return rval64() & ~(PG - 1);
	return rval64();
}

void do_encode(unsigned int c, bool valid)
{
	struct kvm_xbzrle_encode *a = (void *)argbuf;
	struct fctx *x = &ctxs[c];
	static uint64_t vg[NSLOT * MAX_SLOT_PAGES];
	uint32_t ioc = sizeof(*a), size = sizeof(*a), npages, k, avail;
	unsigned int nvalid, i, n;
	bool all_logged, logged;
	uint64_t *list = (uint64_t *)listbuf;
	const uint64_t *pages = list;
	struct argcheck ac;
	const char *where = "argbuf";
	void *p = argbuf;
	int w = W_ARG, r;

	nvalid = valid_gpas(x, vg, ARRAY_SIZE(vg), &all_logged);
	if (!nvalid)
		valid = false;
	memset(&plan, 0, sizeof(plan));
	plan.list_known = true;

	/* the list: n entries in listbuf */
	n = valid || chance(80) ? 1 + rn(chance(90) ? 4 : 64) : rn(2) ? 0 : rn(LIST_MAX);
	logged = true;
	for (i = 0; i < n; i++) {
		list[i] = valid ? vg[rn(nvalid)] : pick_gpa(vg, nvalid, list, i);
		if (ctx_live(x) && !slot_logged(x->vm, list[i]))
			logged = false;
	}
	if (ctx_live(x) && chance(60))
		touch_pages(x->vm, list, n);
	npages = n;
	plan.max_delta = valid ? 1 + rn(PG) : PG;
	plan.records = recbuf;
	k = 1 + rn(RECBUF_RECS);
	plan.records_size = (valid ? k : 1 + rn(16)) * REC_MAX;

	arg_clear();
	if (!valid) {
		/* the list */
		switch (rn(16)) {
		case 0:
			npages = rval32();
			break;
		case 1:
			npages = n + rn(3);	/* past the entries we wrote */
			break;
		case 2:
			pages = NULL;
			break;
		case 3:
			pages = UNMAPPED;
			break;
		case 4: {
			/* a read-only page */
			uint32_t m = n < PG / 8 ? n : PG / 8;

			mprotect(rolist, PG, PROT_READ | PROT_WRITE);
			memcpy(rolist, list, m * 8);
			mprotect(rolist, PG, PROT_READ);
			pages = (uint64_t *)rolist;
			npages = m;
			break;
		}
		case 5: {
			/* the last entries before the guard page */
			uint32_t m = 1 + rn(n < 16 ? n + 1 : 16);

			if (m > n)
				m = n;
			pages = list + LIST_MAX - m;
			memmove((uint64_t *)pages, list, m * 8);
			npages = m + (rn(2) ? rn(100) : rval32());
			break;
		}
		case 6: {
			/* in guest memory */
			struct fslot *sl = random_slot(rn(NVM));
			uint32_t m = sl ? (uint32_t)(sl->npages * PG / 8) : 0;

			if (!sl)
				break;
			m = n < m ? n : m;
			pages = (uint64_t *)sl->hva;
			memcpy((void *)pages, list, m * 8);
			npages = m + rn(2) * rn(1000);
			break;
		}
		case 7:
			/* misaligned */
			memmove((uint8_t *)list + 4, list, n * 8);
			pages = (uint64_t *)((uint8_t *)list + 4);
			break;
		}
		/* the records */
		switch (rn(16)) {
		case 0:
			plan.records = (uint8_t *)recbuf + 1 + rn(7);
			break;
		case 1:
			plan.records = NULL;
			break;
		case 2:
			plan.records = UNMAPPED;
			break;
		case 3:
			plan.records = robuf;
			break;
		case 4: case 5: {
			struct fslot *sl = random_slot(rn(NVM));

			if (sl) {
				plan.records = sl->hva + (rn((uint32_t)(sl->npages * PG)) & ~7U);
				plan.records_in_guest = true;
			}
			break;
		}
		case 6:
			/* running into the guard page */
			plan.records = recbuf + RECBUF_SIZE - 8 * rn(2 * REC_MAX / 8);
			break;
		case 7:
			plan.records = KERNEL_ADDR;
			break;
		}
		switch (rn(12)) {
		case 0:
			plan.records_size = rval32();
			break;
		case 1:
			plan.records_size = REC_MAX - 1 + rn(3);
			break;
		case 2:
			plan.records_size = rn(2) ? UINT32_MAX : rn(REC_MAX);
			break;
		}
		switch (rn(10)) {
		case 0:
			plan.max_delta = rval32();
			break;
		case 1:
			plan.max_delta = rn(3) ? 1 + rn(PG) : rn(2) ? 0 : PG + 1;
			break;
		}
		if (chance(10))
			a->flags = rval32();
		else
			a->flags = chance(40) ? KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
		if (chance(4))
			a->reserved0 = rval32();
		if (chance(4)) {
			/* generation without its flag is refused as reserved */
			if (rn(2))
				a->reserved = rval64();
			else
				a->generation = rval64();
		}
		if (chance(5)) {
			a->npages_done = rval32();
			a->records_used = rval32();
		}
		if (chance(10)) {
			size = pick_size(KVM_XBZRLE_ENCODE_SIZE_VER1, &ioc);
			mutate_tail(argbuf, size, sizeof(*a));
		}
	} else {
		a->flags = logged && rn(2) ?
			   KVM_XBZRLE_ENCODE_CLEAR_DIRTY_LOG : 0;
	}
	/* what the module can read of the list: up to the next guard page */
	avail = 0;
	if ((const uint8_t *)pages >= listbuf &&
	    (const uint8_t *)pages < listbuf + LIST_MAX * 8) {
		avail = (listbuf + LIST_MAX * 8 - (const uint8_t *)pages) / 8;
	} else if (pages == (uint64_t *)rolist) {
		avail = PG / 8;
	} else if (pages && pages != UNMAPPED) {
		struct fslot *sl = NULL;
		unsigned int v, s;

		for (v = 0; v < NVM; v++)
			for (s = 0; s < NSLOT; s++)
				if (vms[v].slot[s].used &&
				    vms[v].slot[s].hva == (const uint8_t *)pages)
					sl = &vms[v].slot[s];
		avail = sl ? sl->npages * PG / 8 : 0;
		/* the records may overwrite a list in guest memory */
		plan.list_known = !plan.records_in_guest;
	}
	plan.list = pages;
	plan.readable = npages < avail ? npages : avail;

	a->size = size;
	a->pages = (uintptr_t)pages;
	a->records = (uintptr_t)plan.records;
	a->npages = npages;
	a->records_size = plan.records_size;
	a->max_delta = plan.max_delta;
	if (!valid)
		p = place_arg(argbuf, size, &where, &w);
	valid = valid && ctx_live(x);
	snprintf(cur.extra, sizeof(cur.extra),
		 "pages %p (%u readable) npages %u records %p size %u max_delta %u flags 0x%x",
		 (void *)pages, plan.readable, npages, plan.records,
		 plan.records_size, plan.max_delta, a->flags);
	arg_snapshot(&ac, w, ARGBUF_SIZE);
	ac.wlo = offsetof(struct kvm_xbzrle_encode, npages_done);
	ac.whi = offsetof(struct kvm_xbzrle_encode, reserved0);
	r = fuzz_ioctl(c, _IOC(_IOC_READ | _IOC_WRITE, KVM_XBZRLE_IOCTL_TYPE, 3, ioc),
		       p, where);
	arg_verify(&ac, "ENCODE");
	if (valid) {
		/* the module starts a page while a whole record fits */
		strict_calls++;
		if (r || !a->npages_done || a->npages_done > npages ||
		    a->records_used > plan.records_size ||
		    (a->npages_done < npages &&
		     plan.records_size - a->records_used >= REC_MAX))
			violation(V_STRICT, "valid ENCODE of %u pages into %u bytes: %s, npages_done %u records_used %u",
				  npages, plan.records_size, errname(r),
				  a->npages_done, a->records_used);
	}
	if (!r && w == W_ARG)
		check_records(x, npages, a->npages_done, a->records_used);
	else if (!r)
		/* records we cannot see: the destination model is lost */
		x->dest_lost = true, x->records_known = false;
	cur.extra[0] = 0;
}
