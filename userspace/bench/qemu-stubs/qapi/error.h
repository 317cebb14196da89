/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's include/qapi/error.h: error_setg() as
 * migration/page_cache.c calls it, and what a caller needs to print and
 * free the error.  Like QEMU's, error_setg() with a NULL errp discards the
 * error; unlike QEMU's, it does not insist that *errp is still NULL.
 */
#ifndef BENCH_QAPI_ERROR_H
#define BENCH_QAPI_ERROR_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "qemu/osdep.h"

struct Error {
	char msg[256];
};

static inline void __attribute__((format(printf, 2, 3)))
error_setg(Error **errp, const char *fmt, ...)
{
	va_list ap;
	Error *err;

	if (!errp)
		return;
	err = calloc(1, sizeof(*err));
	if (!err)
		abort();
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	*errp = err;
}

static inline const char *error_get_pretty(const Error *err)
{
	return err->msg;
}

static inline void error_free(Error *err)
{
	free(err);
}

#endif
