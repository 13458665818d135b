/* layerfs cat — print files of an image through the union core. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs cat IMAGE PATH...\n"
	"       layerfs cat --layer A.tar [--layer B.tar ...] PATH...\n"
	"\n"
	"Writes the contents of files in the image's merged tree to standard output,\n"
	"without mounting.  Symlinks are followed inside the image.\n"
	"\n"
	"Options:\n"
	"      --layer FILE  read bare tar layers instead of a stored image\n"
	"  -h, --help        show this help\n";

static int write_all(const char *p, size_t n, error **err)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return error_make(err, errno, "writing to standard output");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cat_one(struct view *v, const char *path, error **err)
{
	uint64_t id;
	int ret = view_resolve(v, path, 1, &id, err);
	if (ret < 0)
		return ret;
	struct stat st;
	ret = lfs_union_getattr(v->u, id, &st);
	if (!ret && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else if (!ret && !S_ISREG(st.st_mode))
		return error_make(err, 0, "'%s' is not a regular file", path);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	enum { CHUNK = 1 << 20 };
	cleanup_free char *buf = lfs_xmalloc(CHUNK);
	for (uint64_t off = 0;;) {
		ssize_t n = lfs_union_read(v->u, id, buf, CHUNK, off);
		if (n < 0)
			return error_make(err, (int)-n, "reading '%s'", path);
		if (n == 0)
			return 0;
		ret = write_all(buf, (size_t)n, err);
		if (ret < 0)
			return ret;
		off += (uint64_t)n;
	}
}

int cmd_cat(int argc, char **argv, error **err)
{
	enum { OPT_LAYER = 256 };
	static const struct option opts[] = {
		{"layer", required_argument, NULL, OPT_LAYER},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_LAYER) {
			view_add_tar(&tars, &ntars, optarg);
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs cat --help'");
		}
	}
	int first = optind + (ntars ? 0 : 1);
	if (first >= argc)
		return error_usage(err, "expected %sPATH; see 'layerfs cat --help'",
				   ntars ? "" : "IMAGE and ");
	struct view v = VIEW_INIT;
	int ret = view_open(&v, tars, ntars, argv[optind], err);
	for (int i = first; ret >= 0 && i < argc; i++)
		ret = cat_one(&v, argv[i], err);
	view_release(&v);
	return ret;
}
