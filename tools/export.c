/* layerfs export — an image's merged tree as one tar, read through the
 * union core (never unpacked). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "container.h"
#include "ctr.h"
#include "archive_io.h"
#include "tree_tar.h"
#include "util.h"
#include "view.h"

static const char usage[] =
    "Usage: layerfs export [OPTIONS] IMAGE|CONTAINER\n"
    "\n"
    "Write the merged root file system of IMAGE (all layers applied, whiteouts\n"
    "removed) as one tar archive, without unpacking anything.  For a stopped\n"
    "container: its image with the container's changes on top.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -h, --help           show this help\n";

/* An image, else a container: its image, and *upper its upper dir (put on
 * top by the caller, with the container's ids). */
static int open_target(struct view *v, const char *name, char **upper, error **err)
{
	error *not_image = NULL;
	if (view_open_image(v, name, &not_image) >= 0)
		return 0;
	view_release(v);
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0) {
		error_free(not_image);
		return -1;
	}
	error *none = NULL;
	int ret = ctn_open(s, name, &c, &none);
	store_free(s);
	error_free(none);
	if (ret < 0) {
		error_free(not_image);
		return error_fail(err, ENOENT,
				  "no image or container '%s': run 'layerfs images' or 'layerfs ps "
				  "-a' to list them",
				  name);
	}
	error_free(not_image);
	ret = c->state.status == CTN_RUNNING
		  ? error_fail(err, EBUSY, "container '%s' is running: stop it first", name)
		  : view_open_image(v, ctn_image_id(c), err);
	if (ret >= 0)
		*upper = ctn_path(c, "upper");
	ctn_free(c);
	if (ret < 0)
		view_release(v);
	return ret;
}

struct tar_call {
	struct view *v;
	const char *upper; /* NULL for an image */
	int fd;
};

static int tar_write(void *arg, error **err)
{
	struct tar_call *c = arg;
	if (c->upper && view_add_upper(c->v, c->upper, err) < 0)
		return -1;
	return tree_tar_write(c->v->u, c->fd, err);
}

int cmd_export(int argc, char **argv, error **err)
{
	const char *out;
	int r = outfile_parse_args(argc, argv, usage, &out, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (optind + 1 != argc)
		return error_usage(err, "expected one IMAGE; see 'layerfs export --help'");
	if (!out && isatty(STDOUT_FILENO))
		return error_usage(err, "refusing to write a tar to a terminal; use -o FILE or "
					"redirect standard output");
	struct view v = VIEW_INIT;
	cleanup_free char *upper = NULL;
	int ret = open_target(&v, argv[optind], &upper, err);
	if (ret < 0)
		return ret;
	struct outfile of;
	ret = outfile_open(&of, out, err);
	if (ret == 0) {
		/* a container's upper is read with the container's ids */
		struct tar_call c = {&v, upper, of.fd};
		ret = upper ? ctr_as_container(tar_write, &c, err) : tar_write(&c, err);
		if (ret < 0)
			error_wrap(err, "exporting '%s'", argv[optind]);
		ret = ret < 0 ? (outfile_abort(&of), -1) : outfile_commit(&of, err);
	}
	view_release(&v);
	return ret;
}
