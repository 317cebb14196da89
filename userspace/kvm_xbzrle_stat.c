// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-xbzrle-stat: show the kvm_xbzrle module's statistics from debugfs,
 * module-wide (kvm_xbzrle/stats) and per context (kvm_xbzrle/contexts), as
 * a table with one column per context or as JSON, with the rates QEMU's
 * query-migrate reports for its own XBZRLE cache.
 *
 * For tests, two environment variables (deliberately not in --help) replace
 * the paths it reads: KVM_XBZRLE_DEBUGFS=<dir> is used instead of
 * /sys/kernel/debug/kvm_xbzrle, and KVM_XBZRLE_SYSROOT=<dir> is put in
 * front of every absolute path it looks at (/dev, /sys, /proc/self/mounts),
 * so that the diagnosis of a missing module or debugfs can be exercised.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG		"kvm-xbzrle-stat"
#define DEBUGFS_DEFAULT	"/sys/kernel/debug"
#define MIB		(1024.0 * 1024.0)
/*
 * What QEMU counts in its xbzrle bytes per XBZRLE page besides the delta:
 * the encoding flag (1) and the be16 length (2).
 */
#define XBZRLE_PAGE_OVERHEAD	3

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct kv {
	char *name;
	unsigned long long val;
};

/* one column: the module, or one context */
struct entity {
	struct kv *kv;
	size_t n;
	size_t cap;
};

struct sample {
	bool have_module;
	struct entity module;
	struct entity *ctx;
	size_t nctx;
	size_t ctx_cap;
};

static struct {
	bool module_only;
	bool json;
	bool have_pid;
	long pid;
	double interval;	/* 0: once */
	long count;		/* 0: forever (with an interval) */
} opt;

static const char *sysroot = "";
static char dir[PATH_MAX];	/* the kvm_xbzrle debugfs directory */
static bool dir_from_env;
static char debugfs_mnt[PATH_MAX];
static bool debugfs_mounted;

/* rows of the table, in this order; names are the debugfs names */
static const char *const known[] = {
	"pid", "bound", "contexts",
	"pages", "zero_pages", "unchanged_pages", "xbzrle_pages", "raw_pages",
	"cache_hits", "cache_misses", "overflows", "delta_bytes",
	"evictions", "refused", "skipped", "given_back", "probes", "stops",
	"reclaimed",
	"cache_bytes", "cache_size",
	"max_cache_bytes", "dirty_log_clears",
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		exit(EXIT_RUNTIME);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

static void entity_free(struct entity *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->kv[i].name);
	free(e->kv);
	memset(e, 0, sizeof(*e));
}

static void sample_free(struct sample *s)
{
	entity_free(&s->module);
	for (size_t i = 0; i < s->nctx; i++)
		entity_free(&s->ctx[i]);
	free(s->ctx);
	memset(s, 0, sizeof(*s));
}

static bool entity_get(const struct entity *e, const char *name,
		       unsigned long long *val)
{
	for (size_t i = 0; i < e->n; i++) {
		if (!strcmp(e->kv[i].name, name)) {
			if (val)
				*val = e->kv[i].val;
			return true;
		}
	}
	return false;
}

/* 0, or -1 if @name is already there */
static int entity_add(struct entity *e, const char *name,
		      unsigned long long val)
{
	if (entity_get(e, name, NULL))
		return -1;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 32;
		e->kv = xrealloc(e->kv, e->cap * sizeof(*e->kv));
	}
	e->kv[e->n].name = xstrdup(name);
	e->kv[e->n].val = val;
	e->n++;
	return 0;
}

/* a counter name: [a-z0-9_]+ */
static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	}
	return true;
}

/* a decimal unsigned 64-bit number and nothing else */
static bool parse_u64(const char *s, unsigned long long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*val = strtoull(s, &end, 10);
	return !errno && !*end;
}

/* fopen() in the debugfs directory; on failure says why and returns NULL */
static FILE *open_debugfs(const char *name, char *path, size_t size);

static int malformed(const char *path, unsigned int line, const char *what)
{
	fprintf(stderr, "%s: %s:%u: malformed line (%s)\n", PROG, path, line,
		what);
	return -1;
}

/*
 * Calls @fn on each line of the debugfs file @name until it returns
 * non-zero; 0, or -1 when the file cannot be read or @fn failed.
 */
static int read_lines(const char *name,
		      int (*fn)(char *line, const char *path, unsigned int lineno,
				void *arg),
		      void *arg)
{
	char path[PATH_MAX + 16], *line = NULL;
	unsigned int lineno = 0;
	size_t cap = 0;
	int ret = 0;
	FILE *f = open_debugfs(name, path, sizeof(path));

	if (!f)
		return -1;
	while (!ret && getline(&line, &cap, f) > 0)
		ret = fn(line, path, ++lineno, arg);
	if (!ret && ferror(f)) {
		fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
		ret = -1;
	}
	free(line);
	fclose(f);
	return ret;
}

/* a line of the stats file: "name value" */
static int stats_line(char *line, const char *path, unsigned int lineno,
		      void *arg)
{
	char *name, *value, *extra, *save;
	unsigned long long val;

	name = strtok_r(line, " \t\n", &save);
	if (!name)
		return 0;
	value = strtok_r(NULL, " \t\n", &save);
	extra = strtok_r(NULL, " \t\n", &save);
	if (!value || extra || !valid_name(name))
		return malformed(path, lineno, "expected \"name value\"");
	if (!parse_u64(value, &val))
		return malformed(path, lineno, "value is not an unsigned 64-bit number");
	if (entity_add(arg, name, val))
		return malformed(path, lineno, "counter given twice");
	return 0;
}

/* a line of the contexts file: one context, "id=N pid=P bound=B name=value..." */
static int contexts_line(char *line, const char *path, unsigned int lineno,
			 void *arg)
{
	struct sample *s = arg;
	struct entity e = { 0 };
	char *tok, *eq, *save;
	unsigned long long val;
	int ret = 0;

	for (tok = strtok_r(line, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		eq = strchr(tok, '=');
		if (!eq) {
			ret = malformed(path, lineno, "expected name=value");
			break;
		}
		*eq = '\0';
		if (!valid_name(tok) || !parse_u64(eq + 1, &val)) {
			ret = malformed(path, lineno,
					"expected name=unsigned 64-bit number");
			break;
		}
		if (entity_add(&e, tok, val)) {
			ret = malformed(path, lineno, "counter given twice");
			break;
		}
	}
	if (!ret && e.n &&
	    (!entity_get(&e, "id", NULL) || !entity_get(&e, "pid", NULL)))
		ret = malformed(path, lineno, "no id= or pid=");
	if (ret || !e.n ||
	    (opt.have_pid && (!entity_get(&e, "pid", &val) ||
			      val != (unsigned long long)opt.pid))) {
		entity_free(&e);
		return ret;
	}
	if (s->nctx == s->ctx_cap) {
		s->ctx_cap = s->ctx_cap ? 2 * s->ctx_cap : 8;
		s->ctx = xrealloc(s->ctx, s->ctx_cap * sizeof(*s->ctx));
	}
	s->ctx[s->nctx++] = e;
	return 0;
}

/* snprintf() for paths: a path that does not fit is an error */
static void path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "%s: path too long: %s...\n", PROG, buf);
		exit(EXIT_RUNTIME);
	}
}

static bool exists(const char *abs)
{
	char path[PATH_MAX];
	struct stat st;

	path_fmt(path, sizeof(path), "%s%s", sysroot, abs);
	return !stat(path, &st);
}

/*
 * Where debugfs is mounted, from /proc/self/mounts: /sys/kernel/debug if
 * it is mounted there, else the first debugfs mount.  Unreadable mounts:
 * assume /sys/kernel/debug.
 */
static void find_debugfs(void)
{
	char path[PATH_MAX], *line = NULL, *save, *mnt, *type;
	size_t cap = 0;
	FILE *f;

	path_fmt(debugfs_mnt, sizeof(debugfs_mnt), "%s", DEBUGFS_DEFAULT);
	path_fmt(path, sizeof(path), "%s/proc/self/mounts", sysroot);
	f = fopen(path, "re");
	if (!f) {
		debugfs_mounted = true;
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		if (!strtok_r(line, " \t\n", &save))
			continue;
		mnt = strtok_r(NULL, " \t\n", &save);
		type = strtok_r(NULL, " \t\n", &save);
		if (!mnt || !type || strcmp(type, "debugfs"))
			continue;
		if (!debugfs_mounted || !strcmp(mnt, DEBUGFS_DEFAULT))
			path_fmt(debugfs_mnt, sizeof(debugfs_mnt), "%s", mnt);
		debugfs_mounted = true;
	}
	free(line);
	fclose(f);
}

static FILE *open_debugfs(const char *name, char *path, size_t size)
{
	FILE *f;
	int err;

	path_fmt(path, size, "%s/%s", dir, name);
	f = fopen(path, "re");
	if (f)
		return f;
	err = errno;
	if (dir_from_env) {
		/* the directory was given: no guessing about the system */
	} else if (!exists("/dev/kvm_xbzrle") && !exists("/sys/module/kvm_xbzrle")) {
		fprintf(stderr, "%s: the kvm_xbzrle module is not loaded "
			"(no /dev/kvm_xbzrle, no /sys/module/kvm_xbzrle); "
			"load it with: modprobe kvm_xbzrle\n", PROG);
		return NULL;
	} else if (!debugfs_mounted) {
		fprintf(stderr, "%s: debugfs is not mounted; mount it with: "
			"mount -t debugfs none " DEBUGFS_DEFAULT "\n", PROG);
		return NULL;
	} else if ((err == EACCES || err == EPERM) && geteuid() != 0) {
		fprintf(stderr, "%s: %s: %s: the statistics are in debugfs, "
			"which only root can read; run as root\n", PROG, path,
			strerror(err));
		return NULL;
	} else if (err == EPERM) {
		fprintf(stderr, "%s: %s: %s (kernel lockdown keeps debugfs "
			"closed?)\n", PROG, path, strerror(err));
		return NULL;
	} else if (err == ENOENT) {
		fprintf(stderr, "%s: %s: %s (the loaded kvm_xbzrle module has "
			"no statistics in debugfs: an older version?)\n", PROG,
			path, strerror(err));
		return NULL;
	}
	fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(err));
	return NULL;
}

static int read_sample(struct sample *s)
{
	if (!opt.have_pid) {
		if (read_lines("stats", stats_line, &s->module))
			return -1;
		s->have_module = true;
	}
	if (!opt.module_only && read_lines("contexts", contexts_line, s))
		return -1;
	return 0;
}

/* derived values; false when undefined (a denominator of 0) */

static unsigned long long page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (unsigned long long)ps : 4096;
}

/* pages with a base / non-zero pages */
static bool hit_rate(const struct entity *e, double *r)
{
	unsigned long long hits, misses;

	if (!entity_get(e, "cache_hits", &hits) ||
	    !entity_get(e, "cache_misses", &misses) || !(hits + misses))
		return false;
	*r = (double)hits / ((double)hits + (double)misses);
	return true;
}

/* QEMU's cache-miss-rate: cache misses / pages handled */
static bool miss_rate(const struct entity *e, double *r)
{
	unsigned long long misses, pages;

	if (!entity_get(e, "cache_misses", &misses) ||
	    !entity_get(e, "pages", &pages) || !pages)
		return false;
	*r = (double)misses / (double)pages;
	return true;
}

/*
 * QEMU's encoding-rate: (pages that had a base) * page size / xbzrle bytes,
 * where QEMU's xbzrle bytes are, per XBZRLE page, the delta plus 3 bytes of
 * header, and a whole page per overflow.
 */
static bool encoding_rate(const struct entity *e, double *r)
{
	unsigned long long hits, delta, xpages, over;
	double ps = (double)page_size(), bytes;

	if (!entity_get(e, "cache_hits", &hits) ||
	    !entity_get(e, "delta_bytes", &delta) ||
	    !entity_get(e, "xbzrle_pages", &xpages) ||
	    !entity_get(e, "overflows", &over))
		return false;
	bytes = (double)delta + XBZRLE_PAGE_OVERHEAD * (double)xpages +
		ps * (double)over;
	if (!hits || bytes == 0)
		return false;
	*r = (double)hits * ps / bytes;
	return true;
}

static bool cache_mib(const struct entity *e, double *r)
{
	unsigned long long b;

	if (!entity_get(e, "cache_bytes", &b))
		return false;
	*r = (double)b / MIB;
	return true;
}

/* a context's cache size, or the module's ceiling */
static bool cache_limit_mib(const struct entity *e, double *r)
{
	unsigned long long b;

	if (!entity_get(e, "cache_size", &b) &&
	    !entity_get(e, "max_cache_bytes", &b))
		return false;
	*r = (double)b / MIB;
	return true;
}

static const struct {
	const char *name;
	bool (*fn)(const struct entity *e, double *r);
	bool percent;
} derived[] = {
	{ "cache_hit_rate", hit_rate, true },
	{ "cache_miss_rate", miss_rate, true },
	{ "encoding_rate", encoding_rate, false },
	{ "cache_mib", cache_mib, false },
	{ "cache_limit_mib", cache_limit_mib, false },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static bool is_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (!strcmp(known[i], name))
			return true;
	}
	return !strcmp(name, "id");
}

/* the table: rows x columns of strings, column 0 the row names */
struct table {
	char ***cell;
	size_t rows;
	size_t cols;
};

static void table_add_row(struct table *t, const char *name)
{
	t->cell = xrealloc(t->cell, (t->rows + 1) * sizeof(*t->cell));
	t->cell[t->rows] = xrealloc(NULL, t->cols * sizeof(char *));
	memset(t->cell[t->rows], 0, t->cols * sizeof(char *));
	t->cell[t->rows][0] = xstrdup(name);
	t->rows++;
}

static void table_set(struct table *t, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void table_set(struct table *t, size_t col, const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->cell[t->rows - 1][col] = xstrdup(buf);
}

/* a row for a counter, if any column has it */
static void counter_row(struct table *t, const struct entity **col,
			const char *name)
{
	unsigned long long v;
	bool any = false;

	for (size_t c = 1; c < t->cols; c++)
		any |= entity_get(col[c], name, NULL);
	if (!any)
		return;
	table_add_row(t, name);
	for (size_t c = 1; c < t->cols; c++) {
		if (!entity_get(col[c], name, &v))
			continue;
		if (!strcmp(name, "bound"))
			table_set(t, c, "%s", v ? "yes" : "no");
		else
			table_set(t, c, "%llu", v);
	}
}

static void print_table(const struct sample *s)
{
	struct table t = { .cols = 1 + s->have_module + s->nctx };
	const struct entity **col = xrealloc(NULL, t.cols * sizeof(*col));
	size_t *width = xrealloc(NULL, t.cols * sizeof(*width));
	unsigned long long id;
	double r;
	size_t c = 1;

	if (s->have_module)
		col[c++] = &s->module;
	for (size_t i = 0; i < s->nctx; i++)
		col[c++] = &s->ctx[i];

	table_add_row(&t, "");
	for (c = 1; c < t.cols; c++) {
		if (col[c] == &s->module)
			table_set(&t, c, "module");
		else if (entity_get(col[c], "id", &id))
			table_set(&t, c, "ctx %llu", id);
	}
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		counter_row(&t, col, known[i]);
	/* counters of a newer module, in the order they first appear */
	for (c = 1; c < t.cols; c++) {
		for (size_t k = 0; k < col[c]->n; k++) {
			const char *name = col[c]->kv[k].name;
			bool seen = is_known(name);

			for (size_t c2 = 1; c2 < c && !seen; c2++)
				seen = entity_get(col[c2], name, NULL);
			if (!seen)
				counter_row(&t, col, name);
		}
	}
	for (size_t d = 0; d < ARRAY_SIZE(derived); d++) {
		table_add_row(&t, derived[d].name);
		for (c = 1; c < t.cols; c++) {
			if (!derived[d].fn(col[c], &r))
				continue;
			if (derived[d].percent)
				table_set(&t, c, "%.2f%%", 100.0 * r);
			else
				table_set(&t, c, "%.2f", r);
		}
	}

	for (c = 0; c < t.cols; c++) {
		width[c] = 1;
		for (size_t row = 0; row < t.rows; row++) {
			const char *v = t.cell[row][c];

			if (v && strlen(v) > width[c])
				width[c] = strlen(v);
		}
	}
	for (size_t row = 0; row < t.rows; row++) {
		printf("%-*s", (int)width[0], t.cell[row][0]);
		for (c = 1; c < t.cols; c++) {
			const char *v = t.cell[row][c];

			printf("  %*s", (int)width[c], v ? v : "-");
		}
		putchar('\n');
	}

	for (size_t row = 0; row < t.rows; row++) {
		for (c = 0; c < t.cols; c++)
			free(t.cell[row][c]);
		free(t.cell[row]);
	}
	free(t.cell);
	free(col);
	free(width);
}

static void json_entity(const struct entity *e)
{
	double r;

	putchar('{');
	for (size_t i = 0; i < e->n; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", e->kv[i].name,
		       e->kv[i].val);
	for (size_t d = 0; d < ARRAY_SIZE(derived); d++) {
		printf("%s\"%s\": ", e->n || d ? ", " : "", derived[d].name);
		if (derived[d].fn(e, &r))
			printf("%.6f", r);
		else
			printf("null");
	}
	putchar('}');
}

/* one line of JSON per sample */
static void print_json(const struct sample *s, const struct timespec *now)
{
	printf("{\"time\": %lld.%03ld, \"page_size\": %llu",
	       (long long)now->tv_sec, now->tv_nsec / 1000000, page_size());
	if (s->have_module) {
		printf(", \"module\": ");
		json_entity(&s->module);
	}
	if (!opt.module_only) {
		printf(", \"contexts\": [");
		for (size_t i = 0; i < s->nctx; i++) {
			if (i)
				printf(", ");
			json_entity(&s->ctx[i]);
		}
		putchar(']');
	}
	printf("}\n");
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [-m | -p PID] [-j] [-i SECONDS [-c COUNT]]\n"
"\n"
"Show the statistics of the kvm_xbzrle module from debugfs\n"
"(" DEBUGFS_DEFAULT "/kvm_xbzrle): module-wide and one column per\n"
"open /dev/kvm_xbzrle context.  Needs root.\n"
"\n"
"  -m, --module          module-wide statistics only\n"
"  -p, --pid PID         only the contexts of process PID\n"
"  -j, --json            one line of JSON per sample\n"
"  -i, --interval SECS   repeat every SECS seconds (fractions allowed)\n"
"  -c, --count N         with -i: stop after N samples\n"
"  -h, --help            this text\n"
"\n"
"Derived values (\"-\" or null when there is nothing to divide by):\n"
"  cache_hit_rate    cache_hits / (cache_hits + cache_misses)\n"
"  cache_miss_rate   cache_misses / pages (QEMU's cache-miss-rate)\n"
"  encoding_rate     cache_hits * page size / (delta_bytes +\n"
"                    3 * xbzrle_pages + page size * overflows)\n"
"                    (QEMU's encoding-rate)\n"
"  cache_mib         cache_bytes in MiB\n"
"  cache_limit_mib   a context's cache_size, the module's max_cache_bytes\n"
"The counters count since the module was loaded or, for a context, since\n"
"it was opened or reset; the rates are over that whole time.\n"
"\n"
"Exit status: 0 ok, 1 error, 2 bad usage.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", PROG);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

/* the option getopt_long() just refused */
static const char *optname(char **argv)
{
	static char buf[3];

	if (!optopt)
		return argv[optind - 1];
	buf[0] = '-';
	buf[1] = (char)optopt;
	return buf;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "module", no_argument, NULL, 'm' },
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_count = false;
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":mp:ji:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.module_only = true;
			break;
		case 'p':
			errno = 0;
			opt.pid = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.pid <= 0 ||
			    opt.pid > INT_MAX)
				return usage_error("-p: not a process id: '%s'", optarg);
			opt.have_pid = true;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'i':
			errno = 0;
			opt.interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(opt.interval) ||
			    opt.interval <= 0 || opt.interval > 86400)
				return usage_error("-i: not a number of seconds "
						   "(0 < SECONDS <= 86400): '%s'", optarg);
			break;
		case 'c':
			errno = 0;
			opt.count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.count <= 0)
				return usage_error("-c: not a positive count: '%s'", optarg);
			have_count = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case ':':
			return usage_error("%s needs an argument", optname(argv));
		default:
			return usage_error("unknown option '%s'", optname(argv));
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.module_only && opt.have_pid)
		return usage_error("%s", "-m and -p exclude each other");
	if (have_count && !opt.interval)
		return usage_error("%s", "-c needs -i");
	return EXIT_OK;
}

static void sleep_interval(void)
{
	struct timespec ts = {
		.tv_sec = (time_t)opt.interval,
		.tv_nsec = (long)((opt.interval - floor(opt.interval)) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	const char *env;
	struct timespec now;
	int ret = parse_args(argc, argv);

	if (ret)
		return ret;

	env = getenv("KVM_XBZRLE_SYSROOT");
	if (env)
		sysroot = env;
	env = getenv("KVM_XBZRLE_DEBUGFS");
	if (env && *env) {
		path_fmt(dir, sizeof(dir), "%s", env);
		dir_from_env = true;
	} else {
		find_debugfs();
		path_fmt(dir, sizeof(dir), "%s%s/kvm_xbzrle", sysroot, debugfs_mnt);
	}

	for (long n = 1;; n++) {
		struct sample s = { 0 };

		if (read_sample(&s)) {
			sample_free(&s);
			return EXIT_RUNTIME;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (opt.have_pid && !s.nctx && !opt.interval) {
			fprintf(stderr, "%s: no kvm_xbzrle context of process %ld\n",
				PROG, opt.pid);
			sample_free(&s);
			return EXIT_RUNTIME;
		}
		if (opt.json) {
			print_json(&s, &now);
		} else {
			if (opt.interval) {
				char stamp[32];
				struct tm tm;

				localtime_r(&now.tv_sec, &tm);
				strftime(stamp, sizeof(stamp), "%F %T", &tm);
				printf("%s%s\n", n > 1 ? "\n" : "", stamp);
			}
			if (opt.have_pid && !s.nctx)
				printf("no context of process %ld\n", opt.pid);
			else
				print_table(&s);
		}
		sample_free(&s);
		if (fflush(stdout) || ferror(stdout)) {
			fprintf(stderr, "%s: writing output: %s\n", PROG, strerror(errno));
			return EXIT_RUNTIME;
		}
		if (!opt.interval || (opt.count && n >= opt.count))
			break;
		sleep_interval();
	}
	return EXIT_OK;
}
