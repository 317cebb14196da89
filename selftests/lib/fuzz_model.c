// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_model - offload_fuzz_test's VMs, their memslots and its contexts,
 * as the module must see them: memslots come and go, VMs are replaced,
 * contexts are closed and opened again.  See include/fuzz_util.h.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "fuzz_util.h"
#include "kvm_util.h"
#include "test_util.h"
#include "xbzrle_util.h"

/* ------------------------------ VMs and slots ----------------------------- */

void fill_guest(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = rnd();

		switch (rn(4)) {
		case 0:
			v = 0;
			break;
		case 1:
			v &= 0x0101010101010101ULL;
			break;
		}
		memcpy(p + i, &v, 8);
	}
}

bool region_matches(const struct fregion *r, const struct fslot *s)
{
	return s->used && r->gpa == s->gpa && r->npages == s->npages &&
	       r->hva == (uintptr_t)s->hva;
}

bool ctx_live(const struct fctx *x)
{
	return x->fd >= 0 && x->vm >= 0 && vms[x->vm].fd >= 0 &&
	       x->vm_gen == vms[x->vm].gen;
}

/* The memslots of @v changed: drop regions the module will drop. */
static void vm_changed(int v)
{
	unsigned int c, s;

	for (c = 0; c < NCTX; c++) {
		struct fctx *x = &ctxs[c];

		if (!ctx_live(x) || x->vm != v)
			continue;
		for (s = 0; s < NSLOT; s++)
			if (x->reg[s].set &&
			    !region_matches(&x->reg[s], &vms[v].slot[s]))
				x->reg[s].set = false;
	}
}

static void slot_remove(int v, unsigned int s)
{
	struct fslot *sl = &vms[v].slot[s];

	if (!sl->used)
		return;
	if (kvm_set_memslot(vms[v].fd, s, 0, 0, 0, NULL))
		tap_bail_out("deleting memslot %u", s);
	munmap(sl->map, (sl->npages + 2) * PG);
	memset(sl, 0, sizeof(*sl));
	vm_changed(v);
}

static void slot_add(int v, unsigned int s)
{
	struct fslot *sl = &vms[v].slot[s];
	uint64_t np = 1 + rn(MAX_SLOT_PAGES), off = rn(WIN_PAGES - np + 1);
	uint8_t *map;

	map = mmap(NULL, (np + 2) * PG, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(map != MAP_FAILED &&
		    !mprotect(map + PG, np * PG, PROT_READ | PROT_WRITE),
		    "mmap guest memory");
	sl->used = true;
	sl->flags = chance(85) ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	sl->gpa = WIN_BASE + (s * WIN_PAGES + off) * PG;
	sl->npages = np;
	sl->map = map;
	sl->hva = map + PG;
	fill_guest(sl->hva, np * PG);
	TEST_ASSERT(!kvm_set_memslot(vms[v].fd, s, sl->flags, sl->gpa, np * PG,
				     sl->hva),
		    "adding memslot %u", s);
	vm_changed(v);
}

void vm_new(int v)
{
	struct kvm_vm tmp;
	unsigned int s;

	vms[v].manual = v == 0 || chance(50);
	TEST_ASSERT(!vm_create(&tmp, vms[v].manual ? VM_MANUAL_PROTECT : 0),
		    "VM %d: %s", v, kvm_util_error());
	vms[v].fd = tmp.fd;
	vms[v].gen++;
	for (s = 0; s < NSLOT; s++)
		if (s < 3 || chance(50))
			slot_add(v, s);
}

/* Closes the VM: contexts bound to it keep it alive, it is gone for us. */
void vm_drop(int v)
{
	unsigned int s;

	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[v].slot[s];

		if (sl->used)
			munmap(sl->map, (sl->npages + 2) * PG);
		memset(sl, 0, sizeof(*sl));
	}
	close(vms[v].fd);
	vms[v].fd = -1;
}

void slot_churn(void)
{
	int v = rn(NVM);
	unsigned int s = rn(NSLOT);
	struct fslot *sl = &vms[v].slot[s];

	if (sl->used && chance(30)) {
		/* dirty logging on or off: the same region */
		sl->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
		if (kvm_set_memslot(vms[v].fd, s, sl->flags, sl->gpa,
				    sl->npages * PG, sl->hva))
			tap_bail_out("changing memslot %u flags", s);
		return;
	}
	if (sl->used)
		slot_remove(v, s);
	if (chance(70))
		slot_add(v, s);
}

/* The slot of @v holding @gpa, or NULL. */
struct fslot *slot_of(int v, uint64_t gpa)
{
	unsigned int s;

	for (s = 0; s < NSLOT; s++) {
		struct fslot *sl = &vms[v].slot[s];

		if (sl->used && gpa >= sl->gpa && gpa < sl->gpa + sl->npages * PG)
			return sl;
	}
	return NULL;
}

/* A random page of guest memory (any VM), or NULL. */
struct fslot *random_slot(int v)
{
	unsigned int s, i;

	for (i = 0, s = rn(NSLOT); i < NSLOT; i++, s = (s + 1) % NSLOT)
		if (vms[v].slot[s].used)
			return &vms[v].slot[s];
	return NULL;
}

/* -------------------------------- contexts -------------------------------- */

static void ctx_reset_model(struct fctx *x)
{
	memset(x->reg, 0, sizeof(x->reg));
	memset(x->dvalid, 0, sizeof(x->dvalid));
	x->dest_lost = false;
	x->vm = -1;
	x->records = 0;
	x->records_known = true;
	x->cache_size = UINT64_MAX;
}

void ctx_open(unsigned int c)
{
	struct fctx *x = &ctxs[c];

	x->fd = xbz_open();
	if (x->fd < 0)
		tap_bail_out("open /dev/kvm_xbzrle");
	ctx_reset_model(x);
}

void ctx_close(unsigned int c)
{
	if (ctxs[c].fd >= 0)
		close(ctxs[c].fd);
	ctxs[c].fd = -1;
}

/* ------------------------------ foreign VM fd ----------------------------- */

int foreign_vm(void)
{
	int sv[2], fd, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct kvm_vm vm;

		close(sv[0]);
		if (vm_create(&vm, 0))
			_exit(1);
		_exit(send_fd(sv[1], vm.fd) ? 1 : 0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	close(sv[0]);
	waitpid(pid, &st, 0);
	return fd;
}
