/* layerfs grep — search the contents of an image's files (grep -r over the
 * merged tree), reading only regular files, straight from the layers. */
#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "inspect.h"
#include "report.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs grep [OPTIONS] PATTERN IMAGE [PATH]\n"
	"       layerfs grep [OPTIONS] --layer A.tar [--layer B.tar ...] PATTERN [PATH]\n"
	"\n"
	"Prints the lines of regular files under PATH (default /; recursive, symlinks\n"
	"below PATH not followed) that match PATTERN, as PATH:LINE (just LINE when\n"
	"PATH is a file), like grep -r on a mount of the image.  A file with a NUL byte is binary: \"Binary file X\n"
	"matches\" is printed instead of its lines.  Exit status 0 when a line\n"
	"matched, 1 when none did or PATH does not exist, 2 on usage errors.\n"
	"\n"
	"Options:\n"
	"  -E, --extended-regexp  PATTERN is an extended regular expression\n"
	"  -F, --fixed-strings    PATTERN is a plain string\n"
	"                         (default: a basic regular expression, as grep)\n"
	"  -i, --ignore-case      ignore case\n"
	"  -l, --files-with-matches  print only the names of matching files\n"
	"  -n, --line-number      prefix each line with its line number\n"
	"      --layer FILE       read bare tar layers instead of a stored image\n"
	"      --format FMT       text (default) or json (an array of matches)\n"
	"  -h, --help             show this help\n";

struct grep {
	struct view *v;
	regex_t re;
	int list, number;
	int with_name; /* prefix lines with the path: not when PATH is one file, as grep */
	enum report_format fmt;
	struct jw jw;
	uint64_t matched_files;
	char *buf;
	size_t cap;
	error **err;
};

/* Match state within one file. */
struct gfile {
	const char *path;
	int binary, matched, done;
	uint64_t lineno; /* lines before the text being searched */
};

static void emit_line(struct grep *g, const struct gfile *f, uint64_t line, const char *text,
		      size_t len)
{
	if (g->fmt == REPORT_JSON) {
		jw_begin_object(&g->jw);
		jw_str(&g->jw, "path", f->path);
		jw_u64(&g->jw, "line", line);
		char *t = lfs_xstrndup(text, len);
		jw_str(&g->jw, "text", t);
		free(t);
		jw_end_object(&g->jw);
		return;
	}
	if (g->with_name) {
		fputs(f->path, stdout);
		putchar(':');
	}
	if (g->number)
		printf("%llu:", (unsigned long long)line);
	fwrite(text, 1, len, stdout);
	putchar('\n');
}

static void emit_file(struct grep *g, const struct gfile *f)
{
	if (g->fmt == REPORT_JSON) {
		jw_begin_object(&g->jw);
		jw_str(&g->jw, "path", f->path);
		if (f->binary && !g->list)
			jw_bool(&g->jw, "binary", 1);
		jw_end_object(&g->jw);
	} else if (g->list) {
		printf("%s\n", f->path);
	} else {
		printf("Binary file %s matches\n", f->path);
	}
}

static uint64_t count_nl(const char *p, const char *end)
{
	uint64_t n = 0;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* Searches text[0..len): whole lines separated by newlines (text[len] is
 * the newline ending the last one, or the end of the file; writable). */
static void search(struct grep *g, struct gfile *f, char *text, size_t len)
{
	int want_lines = g->number || g->fmt == REPORT_JSON;
	char saved = text[len];
	text[len] = '\0';
	const char *counted = text;
	uint64_t line = f->lineno;
	for (char *p = text; !f->done && p <= text + len;) {
		regmatch_t m;
		if (regexec(&g->re, p, 1, &m, 0))
			break;
		char *start = p + m.rm_so;
		while (start > p && start[-1] != '\n')
			start--;
		char *end = memchr(p + m.rm_so, '\n', (size_t)(text + len - (p + m.rm_so)));
		if (!end)
			end = text + len;
		if (want_lines) {
			line += count_nl(counted, start);
			counted = start;
		}
		if (!f->matched++)
			g->matched_files++;
		if (g->list || f->binary) {
			emit_file(g, f);
			f->done = 1;
		} else {
			emit_line(g, f, line + 1, start, (size_t)(end - start));
		}
		p = end + 1;
	}
	text[len] = saved;
	if (want_lines)
		f->lineno += count_nl(text, text + len) + 1;
}

static int grep_file(struct grep *g, const char *path, uint64_t id)
{
	enum { CHUNK = 1 << 20 };
	struct gfile f = {path};
	size_t have = 0;
	for (uint64_t off = 0; !f.done;) {
		if (g->cap < have + CHUNK + 1) {
			g->cap = have + CHUNK + 1;
			g->buf = lfs_xrealloc(g->buf, g->cap);
		}
		char *chunk = g->buf + have;
		ssize_t n = lfs_union_read(g->v->u, id, chunk, CHUNK, off);
		if (n < 0)
			return error_make(g->err, (int)-n, "reading '%s'", path);
		off += (uint64_t)n;
		/* GNU grep: a NUL makes the file binary, and NULs end lines */
		for (char *z = chunk; (z = memchr(z, '\0', (size_t)(chunk + n - z))); z++) {
			f.binary = 1;
			*z = '\n';
		}
		have += (size_t)n;
		char *nl = have ? memrchr(g->buf, '\n', have) : NULL;
		size_t complete = n == 0 ? have : nl ? (size_t)(nl - g->buf) + 1 : 0;
		if (complete) {
			search(g, &f, g->buf, g->buf[complete - 1] == '\n' ? complete - 1 : complete);
			memmove(g->buf, g->buf + complete, have - complete);
			have -= complete;
		}
		if (n == 0)
			break;
	}
	return 0;
}

static int visit(void *ctx, const char *path, unsigned depth, uint64_t id, const struct stat *st)
{
	struct grep *g = ctx;
	if (!S_ISREG(st->st_mode) || st->st_size == 0)
		return 0;
	return grep_file(g, path, id) < 0 ? -EIO : 0;
}

/* -F: the string as a basic regular expression. */
static char *escape_fixed(const char *s)
{
	lfs_buf b = LFS_BUF_INIT;
	for (; *s; s++) {
		if (strchr("\\.[]*^$", *s))
			lfs_buf_addch(&b, '\\');
		lfs_buf_addch(&b, *s);
	}
	return lfs_buf_detach(&b, NULL);
}

static int parse(int argc, char **argv, struct grep *g, int *cflags, int *fixed, char ***tars,
		 size_t *ntars, error **err)
{
	enum { OPT_LAYER = 256, OPT_FORMAT };
	static const struct option opts[] = {
		{"extended-regexp", no_argument, NULL, 'E'},
		{"fixed-strings", no_argument, NULL, 'F'},
		{"ignore-case", no_argument, NULL, 'i'},
		{"files-with-matches", no_argument, NULL, 'l'},
		{"line-number", no_argument, NULL, 'n'},
		{"layer", required_argument, NULL, OPT_LAYER},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "EFilnh", opts, NULL)) != -1) {
		switch (c) {
		case 'E': *cflags |= REG_EXTENDED; break;
		case 'F': *fixed = 1; break;
		case 'i': *cflags |= REG_ICASE; break;
		case 'l': g->list = 1; break;
		case 'n': g->number = 1; break;
		case OPT_LAYER:
			view_add_tar(tars, ntars, optarg);
			break;
		case OPT_FORMAT:
			if (report_parse_format(optarg, &g->fmt, err) < 0)
				return -1;
			break;
		case 'h': cmd_print_usage(usage); return 1;
		default: return error_usage(err, "see 'layerfs grep --help'");
		}
	}
	return 0;
}

static int compile(struct grep *g, const char *pattern, int cflags, int fixed, error **err)
{
	cleanup_free char *esc = fixed ? escape_fixed(pattern) : NULL;
	if (fixed)
		cflags &= ~REG_EXTENDED;
	int rc = regcomp(&g->re, fixed ? esc : pattern, cflags | REG_NEWLINE);
	if (rc) {
		char msg[256];
		regerror(rc, &g->re, msg, sizeof(msg));
		return error_usage(err, "bad pattern '%s': %s", pattern, msg);
	}
	return 0;
}

static int run(struct grep *g, const char *path, error **err)
{
	uint64_t id;
	int ret = view_resolve(g->v, path, 1, &id, err);
	if (ret < 0)
		return ret;
	struct stat st;
	g->with_name = lfs_union_getattr(g->v->u, id, &st) || !S_ISREG(st.st_mode);
	if (g->fmt == REPORT_JSON)
		jw_begin_array(&g->jw, stdout);
	g->err = err;
	ret = lfs_walk(g->v->u, id, path, UINT32_MAX, visit, g);
	if (ret)
		return *err ? -1 : error_make(err, -ret, "walking '%s'", path);
	if (g->fmt == REPORT_JSON)
		jw_end_array(&g->jw);
	if (!g->matched_files)
		return error_quiet(err, 1); /* like grep: no match is exit 1, silently */
	return 0;
}

int cmd_grep(int argc, char **argv, error **err)
{
	struct grep g = {0};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int cflags = 0, fixed = 0;
	int ret = parse(argc, argv, &g, &cflags, &fixed, &tars, &ntars, err);
	if (ret)
		return ret > 0 ? 0 : ret;
	int npos = argc - optind, want = ntars ? 1 : 2;
	if (npos < want || npos > want + 1)
		return error_usage(err, "expected PATTERN, %san optional PATH; see 'layerfs grep --help'",
				   ntars ? "" : "IMAGE and ");
	if (compile(&g, argv[optind], cflags, fixed, err) < 0)
		return -1;
	struct view v = VIEW_INIT;
	g.v = &v;
	ret = view_open(&v, tars, ntars, argv[optind + 1], err);
	if (ret >= 0)
		ret = run(&g, npos > want ? argv[argc - 1] : "/", err);
	view_release(&v);
	regfree(&g.re);
	free(g.buf);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the results");
	return ret;
}
