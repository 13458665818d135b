/* layerfs fsck — check the store and, with --repair, fix what is safe to fix. */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "store.h"

static const char usage[] =
    "Usage: layerfs fsck [OPTIONS]\n"
    "\n"
    "Check the image store: every blob against its digest, every image's\n"
    "manifest, config and layers, the layer indexes, build cache entries,\n"
    "container records, and what killed commands left behind.  Prints one\n"
    "line per problem: the path (relative to the store), what is wrong and\n"
    "what --repair does about it.  Exit status 0: the store is sound (or\n"
    "every problem was repaired); 1: problems remain.\n"
    "\n"
    "--repair only does what loses nothing that is still good: it rebuilds\n"
    "layer indexes, removes corrupt blobs, unusable build cache entries and\n"
    "leftover temp files, and drops the index.json entry of an image that is\n"
    "broken (naming it: pull, load or build it again).  It never removes a\n"
    "container.\n"
    "\n"
    "Options:\n"
    "      --repair         fix what can be fixed safely\n"
    "  -q, --quiet          print problems only, no summary\n"
    "  -h, --help           show this help\n";

struct out {
	int quiet;
};

static void report(void *arg, const struct store_fsck_problem *p)
{
	switch (p->state) {
	case STORE_FSCK_FOUND:
		if (p->fix)
			printf("%s: %s; --repair would %s\n", p->path, p->problem, p->fix);
		else
			printf("%s: %s; not repairable by fsck\n", p->path, p->problem);
		break;
	case STORE_FSCK_REPAIRED:
		printf("%s: %s; repaired: %s\n", p->path, p->problem, p->fix);
		break;
	case STORE_FSCK_FAILED:
		printf("%s: %s\n", p->path, p->problem);
		break;
	}
	fflush(stdout);
}

int cmd_fsck(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"repair", no_argument, NULL, 'r'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int repair = 0, c;
	struct out o = {0};
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repair = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 0;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs fsck --help'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error_usage(err, "fsck takes no arguments; run 'layerfs fsck --help'");
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	struct store_fsck_counts n;
	int ret = store_fsck(s, repair, report, &o, &n, err);
	store_free(s);
	if (ret < 0)
		return -1;
	if (!o.quiet) {
		if (!n.problems)
			fprintf(stderr, "no problems found\n");
		else if (repair)
			fprintf(stderr, "%zu problem%s found, %zu repaired, %zu left\n", n.problems,
				n.problems == 1 ? "" : "s", n.repaired, n.left);
		else
			fprintf(stderr,
				"%zu problem%s found; run 'layerfs fsck --repair' to fix "
				"what can be fixed\n",
				n.problems, n.problems == 1 ? "" : "s");
	}
	return n.left ? error_quiet(err, 1) : 0;
}
