/* SPDX-License-Identifier: GPL-2.0 */
/* The settings of xbzrle-bench and xbzrle-cache-sim, from the environment */
#ifndef ENV_NUM_H
#define ENV_NUM_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * @name's value, @def when unset or empty; anything but a number from
 * @min to @max is an error that names the variable (exit status 2).
 */
static inline double env_num(const char *prog, const char *name, double def,
			     double min, double max)
{
	const char *s = getenv(name);
	char *end;
	double v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "%s: %s=%s: expected a number from %g to %g\n",
			prog, name, s, min, max);
		exit(2);
	}
	return v;
}

#endif
