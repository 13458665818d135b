/* layerfs history — an image's history, newest first, as `docker history`
 * prints it: one row per history entry, SIZE the tar size of the layer
 * the entry made (0B for empty_layer steps), IMAGE the image ID on the
 * newest row and <missing> below (the store keeps no intermediate images). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "report.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs history [OPTIONS] IMAGE\n"
    "\n"
    "Shows the steps that made IMAGE, newest first: IMAGE, CREATED, CREATED BY,\n"
    "SIZE and COMMENT, as `docker history` does.\n"
    "\n"
    "Options:\n"
    "      --no-trunc       do not shorten IDs and commands\n"
    "  -H, --human BOOL     sizes and dates in human units (default true)\n"
    "  -q, --quiet          print only the image ID (rows of other steps: <missing>)\n"
    "      --format FMT     table (default) or json\n"
    "  -h, --help           show this help\n";

struct hist_opts {
	int no_trunc, human, quiet;
	enum report_format fmt;
	const char *image;
};

struct row {
	const char *id, *created_by, *comment, *created;
	uint64_t size;
	int empty;
};

static int parse_args(int argc, char **argv, struct hist_opts *o, error **err)
{
	enum { O_NOTRUNC = 256, O_FORMAT };
	static const struct option opts[] = {{"no-trunc", no_argument, NULL, O_NOTRUNC},
					     {"human", required_argument, NULL, 'H'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"format", required_argument, NULL, O_FORMAT},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	o->human = 1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "H:qh", opts, NULL)) != -1) {
		switch (c) {
		case O_NOTRUNC:
			o->no_trunc = 1;
			break;
		case 'H':
			o->human = strcmp(optarg, "false") && strcmp(optarg, "0");
			break;
		case 'q':
			o->quiet = 1;
			break;
		case O_FORMAT:
			if (report_parse_format(optarg, &o->fmt, err) < 0)
				return -1;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 1;
		default:
			return error_usage(err, "see 'layerfs history --help'");
		}
	}
	if (optind != argc - 1)
		return error_usage(err, "layerfs history needs one IMAGE");
	o->image = argv[optind];
	return 0;
}

/* Rows newest first; layer sizes assigned to non-empty entries in order. */
static struct row *collect(const struct store_image *img, size_t *n)
{
	json_t *h = json_object_get(img->config, "history");
	size_t nh = json_array_size(h);
	struct row *r = lfs_xcalloc(nh + 1, sizeof(*r));
	size_t layer = 0;
	for (size_t i = 0; i < nh; i++) {
		json_t *e = json_array_get(h, i);
		struct row *x = &r[nh - 1 - i];
		x->created = json_string_value(json_object_get(e, "created"));
		x->created_by = json_string_value(json_object_get(e, "created_by"));
		x->comment = json_string_value(json_object_get(e, "comment"));
		x->empty = json_is_true(json_object_get(e, "empty_layer"));
		if (!x->empty && layer < img->nlayers)
			x->size = store_layer_tar_size(&img->layers[layer++]);
		x->id = "<missing>";
	}
	if (nh)
		r[0].id = img->config_digest;
	*n = nh;
	return r;
}

static char *cell_id(const char *id, int no_trunc)
{
	if (strcmp(id, "<missing>") && !no_trunc)
		return lfs_xstrndup(id + 7, 12);
	return lfs_xstrdup(id);
}

static char *cell_by(const char *by, int no_trunc)
{
	cleanup_free char *flat = lfs_xstrdup(by ? by : "");
	for (char *c = flat; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	if (no_trunc || strlen(flat) <= 45)
		return steal_pointer(&flat);
	return lfs_xasprintf("%.44s…", flat);
}

static void print_table(struct row *r, size_t n, const struct hist_opts *o)
{
	time_t now = time(NULL);
	if (!o->quiet)
		printf("%-14s %-19s %-47s %-9s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE",
		       "COMMENT");
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *id = cell_id(r[i].id, o->no_trunc);
		if (o->quiet) {
			puts(id);
			continue;
		}
		time_t t = report_parse_time(r[i].created);
		cleanup_free char *when = !t	     ? lfs_xstrdup("N/A")
					  : o->human ? report_ago(t, now)
						     : lfs_xstrdup(r[i].created);
		cleanup_free char *by = cell_by(r[i].created_by, o->no_trunc);
		cleanup_free char *size =
		    o->human ? report_si_size(r[i].size)
			     : lfs_xasprintf("%llu", (unsigned long long)r[i].size);
		printf("%-14s %-19s %-47s %-9s %s\n", id, when, by, size,
		       r[i].comment ? r[i].comment : "");
	}
}

static void print_json(struct row *r, size_t n)
{
	struct jw w;
	jw_begin_array(&w, stdout);
	for (size_t i = 0; i < n; i++) {
		jw_begin_object(&w);
		jw_str(&w, "id", r[i].id);
		jw_str(&w, "created", r[i].created);
		jw_str(&w, "created_by", r[i].created_by);
		jw_u64(&w, "size", r[i].size);
		jw_bool(&w, "empty_layer", r[i].empty);
		jw_str(&w, "comment", r[i].comment);
		jw_end_object(&w);
	}
	jw_end_array(&w);
}

int cmd_history(int argc, char **argv, error **err)
{
	struct hist_opts o = {0};
	int ret = parse_args(argc, argv, &o, err);
	if (ret)
		return ret > 0 ? 0 : ret;
	store *s = NULL;
	struct store_image *img = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	ret = store_image_resolve(s, o.image, &img, err);
	if (ret == 0) {
		size_t n;
		struct row *r = collect(img, &n);
		if (o.fmt == REPORT_JSON)
			print_json(r, n);
		else
			print_table(r, n, &o);
		free(r);
	}
	store_image_free(img);
	store_free(s);
	return ret;
}
