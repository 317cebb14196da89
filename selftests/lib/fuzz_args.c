// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_args - where offload_fuzz_test puts an ioctl's argument, the sizes
 * and tails it gives it, and the check that the module wrote the argument
 * only where documented.  See include/fuzz_util.h.
 */
#include <string.h>
#include <sys/mman.h>

#include "fuzz_util.h"
#include "test_util.h"

/* --------------------------- argument placement --------------------------- */

static uint8_t argsave[ARGBUF_SIZE];

void arg_clear(void)
{
	memset(argbuf, 0, arg_dirty);
	arg_dirty = 256;
}

/*
 * Where the argument goes: mostly argbuf (filled by the caller), sometimes
 * somewhere it cannot be read or written.
 */
void *place_arg(const void *arg, size_t len, const char **where, int *w)
{
	unsigned int k = rn(100);

	if (k < 92) {
		*where = "argbuf";
		*w = W_ARG;
		return argbuf;
	}
	if (k < 94) {
		*where = "NULL";
		*w = W_NULL;
		return NULL;
	}
	if (k < 95) {
		*where = "unmapped";
		*w = W_UNMAPPED;
		return UNMAPPED;
	}
	if (k < 96) {
		*where = "kernel address";
		*w = W_KERNEL;
		return KERNEL_ADDR;
	}
	if (k < 98) {
		/* read-only: the input readable, the output not writable */
		if (mprotect(roarg, PG, PROT_READ | PROT_WRITE))
			tap_bail_out("mprotect");
		memcpy(roarg, arg, len > PG ? PG : len);
		mprotect(roarg, PG, PROT_READ);
		*where = "read-only";
		*w = W_RO;
		return roarg;
	}
	/* the first bytes readable, the rest in the guard page */
	{
		size_t keep = rn(len ? (unsigned int)(len > 256 ? 256 : len) : 1);
		uint8_t *p = argbuf + ARGBUF_SIZE - keep;

		memmove(p, arg, keep);
		arg_dirty = ARGBUF_SIZE;
		*where = "running into a guard page";
		*w = W_EDGE;
		return p;
	}
}

/* A size for the argument and the number: mostly right. */
uint32_t pick_size(uint32_t ver1, uint32_t *ioc_size)
{
	uint32_t s = ver1;

	switch (rn(16)) {
	case 0:
		s = rn(ver1 + 16);
		break;
	case 1:
		s = ver1 + 8 * (1 + rn(4));
		break;
	case 2:
		s = rn(2) ? 4096 : 4104;
		break;
	case 3:
		s = rn(0x3fff + 1);
		break;
	case 4:
		/* the number disagrees */
		*ioc_size = rn(2) ? ver1 + 8 : rn(0x3fff + 1);
		return rval32();
	}
	*ioc_size = s > 0x3fff ? s & 0x3fff : s;
	return s;
}

/* Mutates the common header and tail: size, flags, reserved, zero tail. */
void mutate_tail(uint8_t *a, uint32_t size, uint32_t ver1)
{
	/* bytes past the structure: mostly zero (accepted), else junk */
	if (size > ver1 && size <= ARGBUF_SIZE && chance(20)) {
		a[ver1 + rn(size - ver1)] = 1 + rn(255);
		arg_dirty = ARGBUF_SIZE;
	}
}

/*
 * The module reads at most 4096 bytes and writes at most its structure:
 * compare the argument's own size and a margin.
 */
void arg_snapshot(struct argcheck *ac, int w, uint32_t len)
{
	uint32_t size = *(uint32_t *)argbuf;

	len = size > 4096 ? 4096 + 64 : size + 64 > 256 ? size + 64 : 256;
	ac->on = w == W_ARG;
	ac->len = len > ARGBUF_SIZE ? ARGBUF_SIZE : len;
	ac->wlo = ac->whi = 0;
	if (ac->on)
		memcpy(argsave, argbuf, ac->len);
}

void arg_verify(const struct argcheck *ac, const char *what)
{
	uint32_t i;

	if (!ac->on)
		return;
	for (i = 0; i < ac->len; i++) {
		if (i >= ac->wlo && i < ac->whi)
			continue;
		if (argbuf[i] != argsave[i]) {
			violation(V_ARGWRITE, "%s: byte %u of the argument changed 0x%02x -> 0x%02x (writable: [%u, %u))",
				  what, i, argsave[i], argbuf[i], ac->wlo,
				  ac->whi);
			return;
		}
	}
}

/* ---------------------------------- vm_fd --------------------------------- */

int pick_vm_fd(void)
{
	switch (rn(12)) {
	case 0: case 1: case 2: case 3:
		return vms[0].fd;
	case 4: case 5: case 6:
		return vms[1].fd;
	case 7:
		return foreign_vm_fd;
	case 8:
		return rn(2) ? kvm_fd : file_fd;
	case 9:
		return ctxs[rn(NCTX)].fd;
	case 10:
		return rn(2) ? -1 : closed_fd;
	default:
		return (int)rval32();
	}
}

int vm_of_fd(int fd)
{
	int v;

	for (v = 0; v < NVM; v++)
		if (fd >= 0 && vms[v].fd == fd)
			return v;
	return -1;
}
