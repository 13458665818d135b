/* layerfs tag — give an image another name, like `docker tag`. */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "store.h"

static const char usage[] = "Usage: layerfs tag SOURCE[:TAG] TARGET[:TAG]\n"
			    "\n"
			    "Create a name TARGET that refers to the image SOURCE (a name, or an\n"
			    "image ID or unique prefix of one).  An existing TARGET is replaced.\n"
			    "\n"
			    "Options:\n"
			    "  -h, --help           show this help\n";

int cmd_tag(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		}
		return error_usage(err, "bad option '%s'; run 'layerfs tag --help'",
				   argv[optind - 1]);
	}
	if (argc - optind != 2)
		return error_usage(err, "expected SOURCE and TARGET; run 'layerfs tag --help'");
	const char *src = argv[optind], *dst = argv[optind + 1];
	if (store_ref_check(dst, err) < 0) {
		(*err)->status = 2;
		return -1;
	}
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = store_tag(s, src, dst, err);
	store_free(s);
	return ret < 0 ? -1 : 0;
}
