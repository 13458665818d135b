/* layerfs image — docker's management form for images: `image prune`,
 * and `image ls` (layerfs images). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "prune.h"
#include "store.h"

static const char usage[] =
    "Usage: layerfs image COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  prune            remove unused images\n"
    "  ls, list         list images (layerfs images)\n"
    "  rm, tag, inspect, history, save, load, pull, push, import\n"
    "                   as the layerfs commands of the same name (rm: rmi)\n";

static const char prune_usage[] =
    "Usage: layerfs image prune [OPTIONS]\n"
    "\n"
    "Remove dangling images (images without a name), or with -a every image\n"
    "no container was created from, then the blobs and layer indexes nothing\n"
    "refers to any more.  Layers a running build uses are kept.  Prints what\n"
    "was untagged and deleted, and the space reclaimed.\n"
    "\n"
    "Options:\n"
    "  -a, --all            remove all unused images, not just dangling ones\n"
    "  -f, --force          do not prompt for confirmation\n"
    "  -h, --help           show this help\n";

static int prune(int argc, char **argv, error **err)
{
	int all, force;
	int r = prune_parse(argc, argv, prune_usage, "image prune", &all, &force, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!force && !prune_confirm(all ? "WARNING! This will remove all images without at "
					   "least one container associated to them."
					 : "WARNING! This will remove all dangling images."))
		return 0;
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	int headed = 0;
	uint64_t freed = 0;
	int ret = store_lock(s, 1, err);
	if (ret == 0)
		ret = store_prune_images(s, all, prune_report_image, &headed, err);
	if (ret == 0 && headed)
		putchar('\n');
	if (ret == 0)
		ret = prune_finish(s, &freed, err);
	store_free(s);
	return ret;
}

int cmd_image(int argc, char **argv, error **err)
{
	if (argc < 2)
		return error_usage(err, "expected a COMMAND; see 'layerfs image --help'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_print_usage(usage);
		return 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "prune"))
		return prune(argc - 1, argv + 1, err);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return cmd_images(argc - 1, argv + 1, err);
	if (!strcmp(sub, "rm"))
		return cmd_rmi(argc - 1, argv + 1, err);
#define X(n)                                                                                       \
	if (!strcmp(sub, #n))                                                                      \
		return cmd_##n(argc - 1, argv + 1, err);
	X(tag)
	X(inspect)
	X(history) X(save) X(load) X(pull) X(push) X(import)
#undef X
	    return error_usage(err, "unknown command 'image %s'; see 'layerfs image --help'", sub);
}
