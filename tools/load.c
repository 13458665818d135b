/* layerfs load — images from docker-save / OCI archives or OCI layouts. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "archive_io.h"
#include "cmd.h"
#include "store.h"

static const char usage[] =
    "Usage: layerfs load [OPTIONS]\n"
    "\n"
    "Load images from a tar archive (docker save output, legacy or Docker >= 25;\n"
    "an OCI archive; plain or compressed) or from an OCI image layout directory.\n"
    "Layers are stored as they come (gzip and zstd stay so) and checked against their\n"
    "digests and the config's diff_ids.  Prints 'Loaded image: NAME' per name.\n"
    "\n"
    "Options:\n"
    "  -i, --input PATH     read PATH (a file or a directory) instead of standard input\n"
    "  -q, --quiet          print nothing\n"
    "  -h, --help           show this help\n";

static void report(void *arg, const char *ref, const char *id)
{
	if (*(int *)arg)
		return;
	if (ref)
		printf("Loaded image: %s\n", ref);
	else
		printf("Loaded image ID: %s\n", id);
}

int cmd_load(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *in = "-";
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hi:q", opts, NULL)) != -1) {
		if (c == 'i') {
			in = optarg;
		} else if (c == 'q') {
			quiet = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs load --help'");
		}
	}
	if (optind != argc)
		return error_usage(err, "unexpected argument '%s'; use -i FILE", argv[optind]);
	if (in[0] == '-' && !in[1] && isatty(STDIN_FILENO))
		return error_usage(err, "standard input is a terminal; use -i FILE or redirect it");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = archive_load(s, in, report, &quiet, err);
	store_free(s);
	return ret;
}
