/* layerfs save — images to one tar that docker load and OCI tools read. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "archive_io.h"
#include "cmd.h"
#include "store.h"

static const char usage[] =
    "Usage: layerfs save [OPTIONS] IMAGE [IMAGE...]\n"
    "\n"
    "Write images to a tar archive that is both a docker-save archive\n"
    "(manifest.json, repositories: 'docker load', skopeo docker-archive:) and an\n"
    "OCI image layout (oci-layout, index.json, blobs/: skopeo oci-archive:, umoci).\n"
    "Layers are written as stored (gzip and zstd layers stay so): digests do not\n"
    "change.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -h, --help           show this help\n";

int cmd_save(int argc, char **argv, error **err)
{
	const char *out;
	int r = outfile_parse_args(argc, argv, usage, &out, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (optind >= argc)
		return error_usage(err, "expected at least one IMAGE; see 'layerfs save --help'");
	if (!out && isatty(STDOUT_FILENO))
		return error_usage(err, "refusing to write an archive to a terminal; use -o FILE "
					"or redirect standard output");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	struct outfile of;
	int ret = outfile_open(&of, out, err);
	if (ret == 0) {
		ret = archive_save(s, argv + optind, (size_t)(argc - optind), of.fd, err);
		if (ret < 0)
			outfile_abort(&of);
		else
			ret = outfile_commit(&of, err);
	}
	store_free(s);
	return ret;
}
