/* layerfs which — every layer that touched a path, newest first, with the
 * history step that made each layer. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "inspect.h"
#include "report.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs which [OPTIONS] IMAGE PATH\n"
	"       layerfs which [OPTIONS] --layer A.tar [--layer B.tar ...] PATH\n"
	"\n"
	"Shows every layer that touched PATH, newest first: added, replaced,\n"
	"modified (a directory over a directory), deleted (a .wh. whiteout) or\n"
	"hidden (by a whiteout, opaque directory or non-directory at an ancestor),\n"
	"with the history step that created the layer (\"#N CREATED BY\": history\n"
	"entries map to layers skipping empty_layer ones, like docker history).\n"
	"PATH is taken literally: no symlinks are followed.  Exit status 1 when no\n"
	"layer has PATH.\n"
	"\n"
	"Options:\n"
	"      --layer FILE     read bare tar layers instead of a stored image\n"
	"      --format FMT     text (default) or json\n"
	"      --human / --bytes  sizes in K/M/G units (default on a terminal) or bytes\n"
	"  -h, --help           show this help\n";

static const char *kind_name(enum lfs_touch_kind k)
{
	switch (k) {
	case LFS_TOUCH_ADDED: return "added";
	case LFS_TOUCH_REPLACED: return "replaced";
	case LFS_TOUCH_MODIFIED: return "modified";
	case LFS_TOUCH_DELETED: return "deleted";
	default: return "hidden";
	}
}

struct which_out {
	struct view *v;
	enum report_format fmt;
	int human;
	struct jw jw;
};

/* "file 12", "dir", "symlink -> x", "whiteout", "by /a/b (whiteout)". */
static void describe(const struct which_out *o, const struct lfs_touch *t, lfs_buf *out)
{
	const lfs_index *ix = lfs_layer_index(o->v->layers[t->layer]);
	if (t->kind == LFS_TOUCH_HIDDEN) {
		const struct lfs_entry *e = lfs_index_entry(ix, t->via);
		lfs_buf_addstr(out, "by /");
		lfs_index_path(ix, t->via, out);
		lfs_buf_addstr(out, (e->flags & LFS_E_WHITEOUT) ? " (whiteout)"
				    : S_ISDIR(e->mode ? e->mode : S_IFDIR) ? " (opaque dir)"
									 : " (not a directory)");
		return;
	}
	const struct lfs_entry *e = lfs_index_entry(ix, t->entry);
	if (e->flags & LFS_E_WHITEOUT) {
		lfs_buf_addstr(out, "whiteout");
		return;
	}
	mode_t m = e->mode ? e->mode : S_IFDIR;
	lfs_buf_addstr(out, report_type_name(m));
	if (S_ISREG(m)) {
		char sz[24];
		report_size(e->size, o->human, sz);
		lfs_buf_addf(out, " %s", sz);
	} else if (S_ISLNK(m)) {
		lfs_buf_addf(out, " -> %s", lfs_index_symlink(ix, e));
	}
	if (t->opaque)
		lfs_buf_addstr(out, " (opaque)");
}

static void print_touch(struct which_out *o, const struct lfs_touch *t)
{
	int step = 0;
	const char *hist = report_layer_history(o->v->image, t->layer, &step);
	lfs_buf d = LFS_BUF_INIT;
	describe(o, t, &d);
	if (o->fmt == REPORT_JSON) {
		struct jw *w = &o->jw;
		jw_begin_object(w);
		jw_u64(w, "layer", t->layer + 1);
		jw_str(w, "id", report_layer_label(o->v, t->layer));
		jw_str(w, "action", kind_name(t->kind));
		jw_str(w, "detail", d.data);
		if (t->kind == LFS_TOUCH_HIDDEN) {
			lfs_buf via = LFS_BUF_INIT;
			lfs_buf_addch(&via, '/');
			lfs_index_path(lfs_layer_index(o->v->layers[t->layer]), t->via, &via);
			jw_str(w, "via", via.data);
			lfs_buf_release(&via);
		}
		if (hist) {
			jw_u64(w, "step", (uint64_t)step);
			jw_str(w, "created_by", hist);
		}
		jw_end_object(w);
	} else {
		printf("%-5zu  %-12s  %-8s  %-28s", (size_t)t->layer + 1,
		       report_layer_short(o->v, t->layer), kind_name(t->kind), d.data);
		if (hist)
			printf("  #%d %s", step, hist);
		putchar('\n');
	}
	lfs_buf_release(&d);
}

static int run(struct which_out *o, const char *path, error **err)
{
	struct lfs_touch *t = NULL;
	size_t n = 0;
	int ret = lfs_inspect_which(o->v->layers, o->v->nlayers, path, &t, &n);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	if (!n)
		return error_make(err, ENOENT, "'%s': in no layer", path);
	if (o->fmt == REPORT_JSON)
		jw_begin_array(&o->jw, stdout);
	else
		printf("%-5s  %-12s  %-8s  %-28s  %s\n", "LAYER", "ID", "ACTION", "DETAIL",
		       "CREATED BY");
	for (size_t i = n; i-- > 0;)
		print_touch(o, &t[i]);
	if (o->fmt == REPORT_JSON)
		jw_end_array(&o->jw);
	free(t);
	return 0;
}

int cmd_which(int argc, char **argv, error **err)
{
	enum { OPT_LAYER = 256, OPT_FORMAT, OPT_HUMAN, OPT_BYTES };
	static const struct option opts[] = {
		{"layer", required_argument, NULL, OPT_LAYER},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"human", no_argument, NULL, OPT_HUMAN},
		{"bytes", no_argument, NULL, OPT_BYTES},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct which_out o = {.human = report_human_default()};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_LAYER) {
			view_add_tar(&tars, &ntars, optarg);
		} else if (c == OPT_FORMAT) {
			if (report_parse_format(optarg, &o.fmt, err) < 0)
				return -1;
		} else if (c == OPT_HUMAN || c == OPT_BYTES) {
			o.human = c == OPT_HUMAN;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs which --help'");
		}
	}
	int want = ntars ? 1 : 2;
	if (argc - optind != want)
		return error_usage(err, "expected %sPATH; see 'layerfs which --help'",
				   ntars ? "" : "IMAGE and ");
	struct view v = VIEW_INIT;
	o.v = &v;
	int ret = view_open(&v, tars, ntars, argv[optind], err);
	if (ret >= 0)
		ret = run(&o, argv[argc - 1], err);
	view_release(&v);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the results");
	return ret;
}
