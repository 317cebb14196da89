// SPDX-License-Identifier: GPL-2.0
/*
 * Vector file input.  zlib's gzread() is not used: it takes a missing gzip
 * trailer and data after the gzip stream for a normal end of file, so a
 * damaged file would pass as a shorter one.  inflate() is driven directly
 * and the stream must end exactly where the last case ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vector_file.h"

static const char *vf_path;
static FILE *vf;
static int vf_gzip;
static int vf_stream_end;
static z_stream zs;
static unsigned char inbuf[1 << 16];
static unsigned long long vf_offset;	/* in the decompressed data */

void vf_corrupt(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: %s: malformed vector file at byte %llu: ",
		vf_path, vf_offset);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void io_error(void)
{
	fprintf(stderr, "error: %s: %s\n", vf_path, strerror(errno));
	exit(2);
}

/* Refills zlib's input; returns 0 at the end of the file. */
static int fill(void)
{
	size_t n;

	if (zs.avail_in)
		return 1;
	n = fread(inbuf, 1, sizeof(inbuf), vf);
	if (!n && ferror(vf))
		io_error();
	zs.next_in = inbuf;
	zs.avail_in = n;
	return n != 0;
}

void vf_open(const char *path)
{
	unsigned char magic[2];
	size_t n;

	vf_path = path;
	vf = fopen(path, "rb");
	if (!vf)
		io_error();
	n = fread(magic, 1, 2, vf);
	if (n < 2 && ferror(vf))
		io_error();
	vf_gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
	rewind(vf);
	if (vf_gzip && inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		fprintf(stderr, "error: zlib: %s\n", zs.msg ? zs.msg : "init failed");
		exit(2);
	}
}

/* Decompresses up to @len bytes; returns how many (0: stream ended). */
static size_t inflate_some(unsigned char *buf, size_t len)
{
	uInt want = len > (1U << 30) ? 1U << 30 : len;
	int ret;

	if (vf_stream_end)
		return 0;
	zs.next_out = buf;
	zs.avail_out = want;
	/* until some output: inflate may consume input (headers) without any */
	while (zs.avail_out == want) {
		if (!fill())
			vf_corrupt("gzip data ends early (no gzip trailer): the file is truncated");
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			vf_stream_end = 1;
			break;
		}
		if (ret != Z_OK)
			vf_corrupt("corrupt gzip data: %s", zs.msg ? zs.msg : zError(ret));
	}
	return (unsigned char *)zs.next_out - buf;
}

void vf_read(void *buf, size_t len, const char *what)
{
	size_t done = 0, n;

	while (done < len) {
		if (vf_gzip) {
			n = inflate_some((unsigned char *)buf + done, len - done);
		} else {
			n = fread((char *)buf + done, 1, len - done, vf);
			if (!n && ferror(vf))
				io_error();
		}
		if (!n)
			vf_corrupt("file ends inside %s (%zu of %zu bytes)", what, done, len);
		done += n;
		vf_offset += n;
	}
}

uint32_t vf_read_u32(const char *what)
{
	uint8_t b[4];

	vf_read(b, 4, what);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

void vf_close(void)
{
	unsigned char extra;

	if (vf_gzip) {
		if (inflate_some(&extra, 1))
			vf_corrupt("data after the last case");
		if (fill())
			vf_corrupt("data after the end of the gzip stream");
		inflateEnd(&zs);
	} else if (fread(&extra, 1, 1, vf)) {
		vf_corrupt("data after the last case");
	} else if (ferror(vf)) {
		io_error();
	}
	fclose(vf);
}
