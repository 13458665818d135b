/* layerfs find — the find(1) subset people use, over an image's merged
 * tree, answered from the indexes (no file data is read). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "inspect.h"
#include "report.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs find [OPTIONS] IMAGE [PATH] [EXPRESSION]\n"
	"       layerfs find [OPTIONS] --layer A.tar [--layer B.tar ...] [PATH] [EXPRESSION]\n"
	"\n"
	"Prints the paths under PATH (default /) of the image's merged tree that\n"
	"match every test of EXPRESSION, like find(1) on a mount of the image, in\n"
	"name order.  Symlinks below PATH are not followed.  Exit status 1 when\n"
	"PATH does not exist.\n"
	"\n"
	"Tests (all must match):\n"
	"  -name GLOB     base name matches GLOB (shell pattern)\n"
	"  -iname GLOB    the same, ignoring case\n"
	"  -path GLOB     the whole printed path matches GLOB\n"
	"  -type T        f, d, l, c, b, p or s (a comma list: -type f,l)\n"
	"  -size [+-]N[cwbkMG]  size rounded up to units (default b = 512 bytes) is\n"
	"                 more than (+), less than (-) or exactly N, as find(1)\n"
	"  -newer FILE    modified later than FILE (a path inside the image)\n"
	"  -empty         empty regular file or directory\n"
	"  -mindepth N, -maxdepth N\n"
	"  -print0        end each path with NUL instead of newline\n"
	"\n"
	"Options:\n"
	"      --layer FILE   read bare tar layers instead of a stored image\n"
	"      --format FMT   text (default) or json (an array of entries)\n"
	"  -h, --help         show this help\n";

struct find {
	struct view *v;
	const char *name, *iname, *pathglob;
	const char *types; /* NULL: any */
	int size_cmp;      /* -1, 0, +1; size_unit 0: no -size test */
	uint64_t size_n, size_unit;
	int newer;
	struct timespec newer_than;
	const char *newer_path;
	int empty;
	unsigned mindepth, maxdepth;
	int print0;
	enum report_format fmt;
	struct jw jw;
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

static int size_matches(const struct find *f, const struct stat *st)
{
	uint64_t sz = (uint64_t)st->st_size;
	uint64_t units = (sz + f->size_unit - 1) / f->size_unit;
	if (f->size_cmp > 0)
		return units > f->size_n;
	if (f->size_cmp < 0)
		return units < f->size_n;
	return units == f->size_n;
}

static int is_empty(struct find *f, uint64_t id, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return st->st_size == 0;
	uint32_t n;
	return S_ISDIR(st->st_mode) && !lfs_union_dir_count(f->v->u, id, &n) && n == 0;
}

static int matches(struct find *f, const char *path, unsigned depth, uint64_t id,
		   const struct stat *st)
{
	if (depth < f->mindepth)
		return 0;
	if (f->types && !strchr(f->types, report_type_char(st->st_mode)))
		return 0;
	if (f->name && fnmatch(f->name, base_name(path), 0))
		return 0;
	if (f->iname && fnmatch(f->iname, base_name(path), FNM_CASEFOLD))
		return 0;
	if (f->pathglob && fnmatch(f->pathglob, path, 0))
		return 0;
	if (f->size_unit && !size_matches(f, st))
		return 0;
	if (f->newer && (st->st_mtim.tv_sec < f->newer_than.tv_sec ||
			 (st->st_mtim.tv_sec == f->newer_than.tv_sec &&
			  st->st_mtim.tv_nsec <= f->newer_than.tv_nsec)))
		return 0;
	if (f->empty && !is_empty(f, id, st))
		return 0;
	return 1;
}

static void print_json(struct find *f, const char *path, uint64_t id, const struct stat *st)
{
	struct jw *w = &f->jw;
	char mode[8];
	jw_begin_object(w);
	jw_str(w, "path", path);
	jw_str(w, "type", report_type_name(st->st_mode));
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
	jw_str(w, "mode", mode);
	jw_u64(w, "uid", st->st_uid);
	jw_u64(w, "gid", st->st_gid);
	jw_u64(w, "size", (uint64_t)st->st_size);
	jw_i64(w, "mtime", st->st_mtim.tv_sec);
	uint32_t layer, entry;
	if (!lfs_union_origin(f->v->u, id, &layer, &entry))
		jw_u64(w, "layer", layer + 1);
	jw_end_object(w);
}

static int visit(void *ctx, const char *path, unsigned depth, uint64_t id, const struct stat *st)
{
	struct find *f = ctx;
	if (!matches(f, path, depth, id, st))
		return 0;
	if (f->fmt == REPORT_JSON)
		print_json(f, path, id, st);
	else if (f->print0)
		fwrite(path, 1, strlen(path) + 1, stdout);
	else
		printf("%s\n", path);
	return 0;
}

static int parse_uint(const char *arg, const char *what, unsigned *out, error **err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || *arg == '-' || n > UINT32_MAX)
		return error_usage(err, "%s: bad number '%s'", what, arg);
	*out = (unsigned)n;
	return 0;
}

static int parse_size(struct find *f, const char *arg, error **err)
{
	const char *p = arg;
	f->size_cmp = *p == '+' ? 1 : *p == '-' ? -1 : 0;
	if (f->size_cmp)
		p++;
	char *end;
	errno = 0;
	f->size_n = strtoull(p, &end, 10);
	if (errno || end == p || *p == '-' || *p == '+')
		return error_usage(err, "-size: bad size '%s'", arg);
	static const struct {
		char c;
		uint64_t unit;
	} units[] = {{'c', 1}, {'w', 2}, {'b', 512}, {'k', 1024}, {'M', 1 << 20}, {'G', 1 << 30}};
	f->size_unit = 512;
	if (*end) {
		f->size_unit = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].c && !end[1])
				f->size_unit = units[i].unit;
		if (!f->size_unit)
			return error_usage(err, "-size: bad unit in '%s' (use c, w, b, k, M or G)", arg);
	}
	return 0;
}

static int parse_type(struct find *f, char *arg, error **err)
{
	for (char *p = arg; *p; p++) {
		if (*p == ',' && p != arg && p[1])
			continue;
		if (!strchr("fdlcbps", *p) || (p[1] && p[1] != ','))
			return error_usage(err, "-type: bad type '%s' (use f, d, l, c, b, p, s)", arg);
	}
	f->types = arg;
	return 0;
}

/* One test with its argument; returns the number of argv words used. */
static int parse_test(struct find *f, int argc, char **argv, int i, error **err)
{
	const char *t = argv[i];
	if (!strcmp(t, "-print0")) {
		f->print0 = 1;
		return 1;
	}
	if (!strcmp(t, "-print"))
		return 1;
	if (!strcmp(t, "-empty")) {
		f->empty = 1;
		return 1;
	}
	static const char *const with_arg[] = {"-name", "-iname", "-path", "-type", "-size",
					       "-newer", "-mindepth", "-maxdepth"};
	size_t k = 0;
	while (k < sizeof(with_arg) / sizeof(with_arg[0]) && strcmp(t, with_arg[k]))
		k++;
	if (k == sizeof(with_arg) / sizeof(with_arg[0]))
		return error_usage(err, "unknown test '%s'; see 'layerfs find --help'", t);
	if (i + 1 >= argc)
		return error_usage(err, "%s needs an argument", t);
	char *a = argv[i + 1];
	int ret = 0;
	switch (k) {
	case 0: f->name = a; break;
	case 1: f->iname = a; break;
	case 2: f->pathglob = a; break;
	case 3: ret = parse_type(f, a, err); break;
	case 4: ret = parse_size(f, a, err); break;
	case 5: f->newer = 1; f->newer_path = a; break;
	case 6: ret = parse_uint(a, t, &f->mindepth, err); break;
	default: ret = parse_uint(a, t, &f->maxdepth, err); break;
	}
	return ret < 0 ? ret : 2;
}

struct find_args {
	char **tars;
	size_t ntars;
	char *pos[2];
	int npos;
};

/* Options and operands come first (IMAGE, PATH), then tests. */
static int parse(struct find *f, int argc, char **argv, struct find_args *a, error **err)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			cmd_print_usage(usage);
			return 1;
		} else if (!strcmp(s, "--layer") || !strcmp(s, "--format")) {
			if (i + 1 >= argc)
				return error_usage(err, "%s needs an argument", s);
			if (s[2] == 'f' && report_parse_format(argv[i + 1], &f->fmt, err) < 0)
				return -1;
			if (s[2] == 'l')
				view_add_tar(&a->tars, &a->ntars, argv[i + 1]);
			i++;
		} else if (!strncmp(s, "--layer=", 8) || !strncmp(s, "--format=", 9)) {
			if (s[2] == 'f' && report_parse_format(s + 9, &f->fmt, err) < 0)
				return -1;
			if (s[2] == 'l')
				view_add_tar(&a->tars, &a->ntars, (char *)s + 8);
		} else if (s[0] == '-' && s[1]) {
			break;
		} else if (a->npos < 2) {
			a->pos[a->npos++] = argv[i];
		} else {
			return error_usage(err, "unexpected '%s'; see 'layerfs find --help'", s);
		}
	}
	for (int used; i < argc; i += used)
		if ((used = parse_test(f, argc, argv, i, err)) < 0)
			return -1;
	int want = a->ntars ? 0 : 1;
	if (a->npos < want || a->npos > want + 1)
		return error_usage(err, "expected %sPATH; see 'layerfs find --help'",
				   a->ntars ? "at most one " : "IMAGE and an optional ");
	return 0;
}

static int run(struct find *f, const char *path, error **err)
{
	if (f->newer) {
		uint64_t ref;
		struct stat st;
		int ret = view_resolve(f->v, f->newer_path, 1, &ref, err);
		if (ret < 0)
			return error_wrap(err, "-newer");
		if ((ret = lfs_union_getattr(f->v->u, ref, &st)))
			return error_make(err, -ret, "-newer '%s'", f->newer_path);
		f->newer_than = st.st_mtim;
	}
	uint64_t id;
	int ret = view_resolve(f->v, path, 0, &id, err);
	if (ret < 0)
		return ret;
	if (f->fmt == REPORT_JSON)
		jw_begin_array(&f->jw, stdout);
	ret = lfs_walk(f->v->u, id, path, f->maxdepth, visit, f);
	if (ret)
		return error_make(err, -ret, "walking '%s'", path);
	if (f->fmt == REPORT_JSON)
		jw_end_array(&f->jw);
	return 0;
}

int cmd_find(int argc, char **argv, error **err)
{
	struct find f = {.maxdepth = UINT32_MAX};
	struct find_args a = {0};
	int ret = parse(&f, argc, argv, &a, err);
	if (ret) {
		free(a.tars);
		return ret > 0 ? 0 : ret;
	}
	struct view v = VIEW_INIT;
	f.v = &v;
	ret = view_open(&v, a.tars, a.ntars, a.pos[0], err);
	int want = a.ntars ? 0 : 1;
	if (ret >= 0)
		ret = run(&f, a.npos > want ? a.pos[want] : "/", err);
	view_release(&v);
	free(a.tars);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the results");
	return ret;
}
