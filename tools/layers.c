/* layerfs layers — per-layer digest, size, entries, history step and bytes
 * added / replaced / removed, plus the image's wasted bytes and their
 * largest offenders: an efficiency report from the indexes alone. */
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
	"Usage: layerfs layers [OPTIONS] IMAGE\n"
	"       layerfs layers [OPTIONS] --layer A.tar [--layer B.tar ...]\n"
	"\n"
	"Per layer, lowest first: its digest, stored size, entries (whiteouts\n"
	"included), the history step that created it (\"#N CREATED BY\"), and the\n"
	"bytes of regular files it added (new paths), replaced (paths a lower layer\n"
	"showed) and removed (lower files it hid for good).  Then the image's\n"
	"wasted bytes (file data that no path of the merged tree shows) and the\n"
	"paths wasting most.  Reads only the layer indexes.\n"
	"\n"
	"Options:\n"
	"  -n, --top N          list the N paths wasting most (default 10, 0 = all)\n"
	"      --layer FILE     read bare tar layers instead of a stored image\n"
	"      --format FMT     text (default) or json\n"
	"      --human / --bytes  sizes in K/M/G units (default on a terminal) or bytes\n"
	"  -h, --help           show this help\n";

struct layers {
	struct view *v;
	enum report_format fmt;
	int human;
	size_t top;
	struct lfs_layer_stats *st;
	struct lfs_waste *waste;
	size_t nwaste;
};

/* Wasted bytes per path, summed over the layers that hold a hidden copy. */
struct offender {
	char *path;
	uint64_t bytes;
	uint32_t copies;
	uint32_t first_layer; /* lowest layer with a hidden copy */
};

static int off_by_path(const void *a, const void *b)
{
	return strcmp(((const struct offender *)a)->path, ((const struct offender *)b)->path);
}

static int off_by_bytes(const void *a, const void *b)
{
	const struct offender *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->path, y->path);
}

static struct offender *offenders(struct layers *l, size_t *n)
{
	struct offender *v = lfs_xcalloc(l->nwaste ? l->nwaste : 1, sizeof(*v));
	lfs_buf p = LFS_BUF_INIT;
	for (size_t i = 0; i < l->nwaste; i++) {
		const struct lfs_waste *w = &l->waste[i];
		lfs_buf_reset(&p);
		lfs_buf_addch(&p, '/');
		lfs_index_path(lfs_layer_index(l->v->layers[w->layer]), w->entry, &p);
		v[i] = (struct offender){lfs_xstrdup(p.data), w->size, 1, w->layer};
	}
	lfs_buf_release(&p);
	if (l->nwaste)
		qsort(v, l->nwaste, sizeof(*v), off_by_path);
	size_t k = 0;
	for (size_t i = 0; i < l->nwaste; i++) {
		if (k && !strcmp(v[k - 1].path, v[i].path)) {
			v[k - 1].bytes += v[i].bytes;
			v[k - 1].copies++;
			if (v[i].first_layer < v[k - 1].first_layer)
				v[k - 1].first_layer = v[i].first_layer;
			free(v[i].path);
			continue;
		}
		v[k++] = v[i];
	}
	if (k)
		qsort(v, k, sizeof(*v), off_by_bytes);
	*n = k;
	return v;
}

static void totals(const struct layers *l, uint64_t *bytes, uint64_t *wasted)
{
	*bytes = *wasted = 0;
	for (size_t i = 0; i < l->v->nlayers; i++) {
		*bytes += l->st[i].bytes;
		*wasted += l->st[i].wasted;
	}
}

static void print_json(struct layers *l, const struct offender *off, size_t noff)
{
	struct jw w;
	uint64_t bytes, wasted;
	totals(l, &bytes, &wasted);
	printf("{\"layers\": ");
	jw_begin_array(&w, stdout);
	for (size_t i = 0; i < l->v->nlayers; i++) {
		const struct lfs_layer_stats *s = &l->st[i];
		int step = 0;
		const char *hist = report_layer_history(l->v->image, i, &step);
		jw_begin_object(&w);
		jw_u64(&w, "layer", i + 1);
		jw_str(&w, "id", report_layer_label(l->v, i));
		jw_u64(&w, "size", lfs_layer_size(l->v->layers[i]));
		jw_u64(&w, "entries", s->entries);
		jw_u64(&w, "whiteouts", s->whiteouts);
		jw_u64(&w, "opaque", s->opaque);
		jw_u64(&w, "files", s->files);
		jw_u64(&w, "bytes", s->bytes);
		jw_u64(&w, "added", s->added);
		jw_u64(&w, "replaced", s->replaced);
		jw_u64(&w, "removed", s->removed);
		jw_u64(&w, "wasted", s->wasted);
		if (hist) {
			jw_u64(&w, "step", (uint64_t)step);
			jw_str(&w, "created_by", hist);
		}
		jw_end_object(&w);
	}
	fputs("]", stdout);
	printf(", \"bytes\": %llu, \"visible\": %llu, \"wasted\": %llu, \"offenders\": ",
	       (unsigned long long)bytes, (unsigned long long)(bytes - wasted),
	       (unsigned long long)wasted);
	jw_begin_array(&w, stdout);
	for (size_t i = 0; i < noff; i++) {
		jw_begin_object(&w);
		jw_str(&w, "path", off[i].path);
		jw_u64(&w, "wasted", off[i].bytes);
		jw_u64(&w, "copies", off[i].copies);
		jw_end_object(&w);
	}
	fputs("]}\n", stdout);
}

static void print_text(struct layers *l, const struct offender *off, size_t noff)
{
	char a[24], b[24], c[24], d[24], e[24];
	printf("%-5s  %-12s  %9s  %8s  %9s  %9s  %9s  %s\n", "LAYER", "ID", "SIZE", "ENTRIES",
	       "ADDED", "REPLACED", "REMOVED", "CREATED BY");
	for (size_t i = 0; i < l->v->nlayers; i++) {
		const struct lfs_layer_stats *s = &l->st[i];
		int step = 0;
		const char *hist = report_layer_history(l->v->image, i, &step);
		report_size(lfs_layer_size(l->v->layers[i]), l->human, a);
		report_size(s->added, l->human, b);
		report_size(s->replaced, l->human, c);
		report_size(s->removed, l->human, d);
		printf("%-5zu  %-12s  %9s  %8llu  %9s  %9s  %9s", i + 1, report_layer_short(l->v, i),
		       a, (unsigned long long)s->entries, b, c, d);
		if (hist)
			printf("  #%d %s", step, hist);
		putchar('\n');
	}
	uint64_t bytes, wasted;
	totals(l, &bytes, &wasted);
	report_size(bytes, l->human, a);
	report_size(bytes - wasted, l->human, b);
	report_size(wasted, l->human, c);
	printf("\nFile data: %s in the layers, %s visible, %s wasted (efficiency %.1f%%)\n", a, b,
	       c, bytes ? 100.0 * (double)(bytes - wasted) / (double)bytes : 100.0);
	if (!noff)
		return;
	printf("\n%9s  %6s  %s\n", "WASTED", "COPIES", "PATH");
	for (size_t i = 0; i < noff; i++) {
		report_size(off[i].bytes, l->human, e);
		printf("%9s  %6u  %s\n", e, off[i].copies, off[i].path);
	}
}

static int run(struct layers *l, error **err)
{
	l->st = lfs_xcalloc(l->v->nlayers, sizeof(*l->st));
	int ret = lfs_inspect_layers(l->v->layers, l->v->nlayers, l->st, &l->waste, &l->nwaste);
	if (ret)
		return error_make(err, -ret, "analysing the layers");
	size_t noff;
	struct offender *off = offenders(l, &noff);
	size_t show = l->top && l->top < noff ? l->top : noff;
	if (l->fmt == REPORT_JSON)
		print_json(l, off, show);
	else
		print_text(l, off, show);
	for (size_t i = 0; i < noff; i++)
		free(off[i].path);
	free(off);
	return 0;
}

int cmd_layers(int argc, char **argv, error **err)
{
	enum { OPT_LAYER = 256, OPT_FORMAT, OPT_HUMAN, OPT_BYTES };
	static const struct option opts[] = {
		{"top", required_argument, NULL, 'n'},
		{"layer", required_argument, NULL, OPT_LAYER},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"human", no_argument, NULL, OPT_HUMAN},
		{"bytes", no_argument, NULL, OPT_BYTES},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct layers l = {.human = report_human_default(), .top = 10};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (c == 'n') {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-')
				return error_usage(err, "--top: bad number '%s'", optarg);
			l.top = (size_t)n;
		} else if (c == OPT_LAYER) {
			view_add_tar(&tars, &ntars, optarg);
		} else if (c == OPT_FORMAT) {
			if (report_parse_format(optarg, &l.fmt, err) < 0)
				return -1;
		} else if (c == OPT_HUMAN || c == OPT_BYTES) {
			l.human = c == OPT_HUMAN;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs layers --help'");
		}
	}
	if (argc - optind != (ntars ? 0 : 1))
		return error_usage(err, "expected %s; see 'layerfs layers --help'",
				   ntars ? "no operand with --layer" : "IMAGE");
	struct view v = VIEW_INIT;
	l.v = &v;
	int ret = view_open(&v, tars, ntars, argv[optind], err);
	if (ret >= 0)
		ret = run(&l, err);
	view_release(&v);
	free(l.st);
	free(l.waste);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the report");
	return ret;
}
