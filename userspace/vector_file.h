/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading an XBZRLEV1 vector file, plain or gzip-compressed, with every
 * kind of damage (truncation, a bad gzip trailer, data after the end)
 * reported as an error rather than as a shorter file.
 */
#ifndef VECTOR_FILE_H
#define VECTOR_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Opens @path; exits with status 2 and a message if it cannot. */
void vf_open(const char *path);
/* Reads exactly @len bytes of decompressed data, or exits with status 2. */
void vf_read(void *buf, size_t len, const char *what);
uint32_t vf_read_u32(const char *what);
/* Checks that the file ends here, cleanly; exits with status 2 if not. */
void vf_close(void);

/* Reports a malformed file at the current offset and exits with status 2. */
void __attribute__((noreturn, format(printf, 1, 2))) vf_corrupt(const char *fmt, ...);

#endif
