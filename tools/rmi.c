/* layerfs rmi — remove images, like `docker rmi`, then collect the blobs and
 * layer indexes nothing refers to any more. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "store.h"

static const char usage[] =
    "Usage: layerfs rmi [OPTIONS] IMAGE [IMAGE...]\n"
    "\n"
    "Remove images.  A name (NAME[:TAG], NAME@sha256:...) removes that name; an\n"
    "image ID (or unique prefix) removes every name of the image.  Blobs and\n"
    "layer indexes no image refers to any more are deleted.\n"
    "\n"
    "Options:\n"
    "  -f, --force          remove an image ID even if it has several names\n"
    "  -h, --help           show this help\n";

static void report(void *arg, const char *verb, const char *what)
{
	printf("%s: %s\n", verb, what);
}

int cmd_rmi(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int force = 0, c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 0;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs rmi --help'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return error_usage(err, "expected at least one IMAGE; run 'layerfs rmi --help'");
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	/* One exclusive section: the removals and the collection are atomic
	 * with respect to other commands. */
	if (store_lock(s, 1, err) < 0) {
		store_free(s);
		return -1;
	}
	/* Like docker: go on with the other images, then report every failure. */
	lfs_buf msgs = LFS_BUF_INIT;
	int failed = 0;
	for (int i = optind; i < argc; i++) {
		error *e = NULL;
		if (store_remove(s, argv[i], force, report, NULL, &e) < 0) {
			if (failed++)
				lfs_buf_addstr(&msgs, "; ");
			lfs_buf_addstr(&msgs, e->msg);
			error_free(e);
		}
	}
	int ret = store_gc(s, err);
	store_unlock(s);
	store_free(s);
	if (failed) {
		error_free(*err);
		*err = NULL;
		ret = error_make(err, 0, "%s", msgs.data);
	}
	lfs_buf_release(&msgs);
	return ret < 0 ? -1 : 0;
}
