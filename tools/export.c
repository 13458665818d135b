/* layerfs export — an image's merged tree as one tar, read through the
 * union core (never unpacked). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "archive_io.h"
#include "tree_tar.h"
#include "util.h"
#include "view.h"

static const char usage[] =
    "Usage: layerfs export [OPTIONS] IMAGE\n"
    "\n"
    "Write the merged root file system of IMAGE (all layers applied, whiteouts\n"
    "removed) as one tar archive, without unpacking anything.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -h, --help           show this help\n";

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
	int ret = view_open_image(&v, argv[optind], err);
	if (ret < 0)
		return ret;
	struct outfile of;
	ret = outfile_open(&of, out, err);
	if (ret == 0) {
		ret = tree_tar_write(v.u, of.fd, err);
		if (ret < 0)
			error_wrap(err, "exporting '%s'", argv[optind]);
		ret = ret < 0 ? (outfile_abort(&of), -1) : outfile_commit(&of, err);
	}
	view_release(&v);
	return ret;
}
