/* layerfs builder — the build cache: `builder prune`. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "prune.h"
#include "store.h"

static const char usage[] = "Usage: layerfs builder COMMAND [ARGS...]\n"
			    "\n"
			    "Commands:\n"
			    "  prune            remove build cache\n";

static const char prune_usage[] =
    "Usage: layerfs builder prune [OPTIONS]\n"
    "\n"
    "Remove dangling build cache entries (those whose layer no image has), or\n"
    "with -a every entry, then the layers nothing refers to any more.  A build\n"
    "running meanwhile keeps the layers it uses.\n"
    "\n"
    "Options:\n"
    "  -a, --all            remove all build cache, not just dangling entries\n"
    "  -f, --force          do not prompt for confirmation\n"
    "  -h, --help           show this help\n";

static int prune(int argc, char **argv, error **err)
{
	int all, force;
	int r = prune_parse(argc, argv, prune_usage, "builder prune", &all, &force, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!force && !prune_confirm(all ? "WARNING! This will remove all build cache."
					 : "WARNING! This will remove all dangling build cache."))
		return 0;
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	size_t n = 0;
	uint64_t freed = 0;
	int ret = store_lock(s, 1, err);
	if (ret == 0)
		ret = store_prune_cache(s, all, &n, &freed, err);
	if (ret == 0)
		printf("Deleted build cache entries: %zu\n", n);
	if (ret == 0)
		ret = prune_finish(s, &freed, err);
	store_free(s);
	return ret;
}

int cmd_builder(int argc, char **argv, error **err)
{
	if (argc < 2)
		return error_usage(err, "expected a COMMAND; see 'layerfs builder --help'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_print_usage(usage);
		return 0;
	}
	if (!strcmp(argv[1], "prune"))
		return prune(argc - 1, argv + 1, err);
	return error_usage(err, "unknown command 'builder %s'; see 'layerfs builder --help'",
			   argv[1]);
}
