/* layerfs diff — paths added, changed and deleted between two images, by
 * content digest (not mtime). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "container.h"
#include "diff_upper.h"
#include "inspect.h"
#include "report.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs diff [OPTIONS] IMAGE_A IMAGE_B\n"
	"       layerfs diff [--image IMAGE | --layer A.tar ...] UPPERDIR|MOUNTPOINT\n"
	"       layerfs diff CONTAINER\n"
	"\n"
	"With one argument: the changes recorded in an overlay upper directory, or\n"
	"in a writable layerfs mount, or in a container (its writable layer over\n"
	"its image), as A/C/D lines against the lower layers.\n"
	"With two:\n"
	"Lists the paths that differ between the merged trees of two images, in\n"
	"path order, like docker diff: \"A PATH\" only in IMAGE_B (added), \"D PATH\"\n"
	"only in IMAGE_A (deleted; a directory's contents are listed too), \"C PATH\"\n"
	"in both but changed in type, mode, owner, xattrs or content.  Contents are\n"
	"compared by SHA-256, read only when the sizes are equal and the files come\n"
	"from different layers; mtimes are ignored.\n"
	"\n"
	"Options:\n"
	"      --format FMT  text (default) or json\n"
	"  -h, --help        show this help\n";

struct diff_out {
	enum report_format fmt;
	struct jw jw;
	uint64_t count;
};

static int report(void *ctx, const char *path, enum lfs_diff_kind kind, unsigned what,
		  const uint64_t *a, const uint64_t *b)
{
	struct diff_out *o = ctx;
	o->count++;
	if (o->fmt != REPORT_JSON) {
		printf("%c %s\n", (char)kind, path);
		return 0;
	}
	static const struct {
		unsigned bit;
		const char *name;
	} whats[] = {{LFS_DIFF_TYPE, "type"},       {LFS_DIFF_MODE, "mode"},
		     {LFS_DIFF_OWNER, "owner"},     {LFS_DIFF_CONTENT, "content"},
		     {LFS_DIFF_XATTR, "xattrs"}};
	jw_begin_object(&o->jw);
	jw_str(&o->jw, "path", path);
	jw_str(&o->jw, "change", kind == LFS_DIFF_ADDED     ? "added"
				 : kind == LFS_DIFF_DELETED ? "deleted"
							    : "changed");
	if (kind == LFS_DIFF_CHANGED) {
		jw_key(&o->jw, "what");
		const char *sep = "[";
		for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
			if (!(what & whats[i].bit))
				continue;
			printf("%s\"%s\"", sep, whats[i].name);
			sep = ", ";
		}
		fputs(*sep == '[' ? "[]" : "]", stdout);
	}
	jw_end_object(&o->jw);
	return 0;
}

static int run(struct view *va, struct view *vb, struct diff_out *o, error **err)
{
	const char **ka = lfs_xcalloc(va->nlayers, sizeof(*ka));
	const char **kb = lfs_xcalloc(vb->nlayers, sizeof(*kb));
	for (size_t i = 0; i < va->nlayers; i++)
		ka[i] = report_layer_key(va, i);
	for (size_t i = 0; i < vb->nlayers; i++)
		kb[i] = report_layer_key(vb, i);
	if (o->fmt == REPORT_JSON)
		jw_begin_array(&o->jw, stdout);
	int ret = lfs_inspect_diff(va->u, ka, vb->u, kb, report, o);
	free(ka);
	free(kb);
	if (ret)
		return error_make(err, -ret, "comparing the images");
	if (o->fmt == REPORT_JSON)
		jw_end_array(&o->jw);
	return 0;
}

/* Positional arguments, skipping the values of options that take one;
 * *last is set to the last one. */
static int count_positionals(int argc, char **argv, const char **last)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			if (i + 1 < argc)
				*last = argv[argc - 1];
			return n + argc - i - 1;
		}
		if (!strcmp(a, "--format") || !strcmp(a, "--image") || !strcmp(a, "--layer")) {
			i++;
		} else if (a[0] != '-') {
			n++;
			*last = a;
		}
	}
	return n;
}

/* `diff CONTAINER`: its upper over its image, as `diff --image ID UPPER`.
 * Returns 1 when one names no container. */
static int diff_container(int argc, char **argv, const char *one, error **err)
{
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	error *none = NULL;
	int ret = ctn_open(s, one, &c, &none);
	error_free(none);
	store_free(s);
	if (ret < 0)
		return 1;
	char **av = lfs_xcalloc((size_t)argc + 3, sizeof(*av));
	cleanup_free char *upper = ctn_path(c, "upper");
	int n = 0;
	av[n++] = argv[0];
	av[n++] = "--image";
	av[n++] = (char *)ctn_image_id(c);
	for (int i = 1; i < argc; i++)
		av[n++] = argv[i] == one ? upper : argv[i];
	ret = diff_upper_run(n, av, err);
	free(av);
	ctn_free(c);
	return ret;
}

int cmd_diff(int argc, char **argv, error **err)
{
	/* One argument: the changes of an upper directory or writable mount. */
	const char *one = NULL;
	struct stat st;
	if (count_positionals(argc, argv, &one) == 1 && !cmd_wants_help(argc, argv)) {
		if (stat(one, &st) < 0) {
			int r = diff_container(argc, argv, one, err);
			if (r <= 0)
				return r;
		}
		if (stat(one, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_usage(err,
					   "'%s' is not an upper directory or mount point; to compare "
					   "images give two: layerfs diff IMAGE_A IMAGE_B",
					   one);
		return diff_upper_run(argc, argv, err);
	}
	enum { OPT_FORMAT = 256 };
	static const struct option opts[] = {
		{"format", required_argument, NULL, OPT_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct diff_out o = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_FORMAT) {
			if (report_parse_format(optarg, &o.fmt, err) < 0)
				return -1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs diff --help'");
		}
	}
	if (argc - optind != 2)
		return error_usage(err, "expected IMAGE_A and IMAGE_B; see 'layerfs diff --help'");
	struct view va = VIEW_INIT, vb = VIEW_INIT;
	int ret = view_open_image(&va, argv[optind], err);
	if (ret >= 0)
		ret = view_open_image(&vb, argv[optind + 1], err);
	if (ret >= 0)
		ret = run(&va, &vb, &o, err);
	view_release(&vb);
	view_release(&va);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the results");
	return ret;
}
