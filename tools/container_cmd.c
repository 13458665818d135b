/* layerfs container — docker's management form: `container ls` (ps),
 * `container prune`, and the other container commands by their names.
 * (In its own file: tools/container.c is the record module.) */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "util.h"

static const char usage[] = "Usage: layerfs container COMMAND [ARGS...]\n"
			    "\n"
			    "Commands:\n"
			    "  ls, list, ps     list containers (layerfs ps)\n"
			    "  prune            remove every container that is not running\n"
			    "  run, start, stop, kill, rm, logs, commit, diff, export, inspect\n"
			    "                   as the layerfs commands of the same name\n";

static void print_id(void *arg, const char *id)
{
	puts(id);
}

static int prune(int argc, char **argv, error **err)
{
	if (cmd_wants_help(argc, argv)) {
		cmd_print_usage("Usage: layerfs container prune\n\n"
				"Removes every container that is not running (created or "
				"exited), with its writable layer, and prints their IDs; "
				"also what interrupted removals left.\n");
		return 0;
	}
	if (argc != 1)
		return error_usage(err, "prune takes no arguments");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	uint64_t freed;
	int ret = ctn_prune(s, print_id, NULL, &freed, err);
	store_free(s);
	return ret;
}

int cmd_container(int argc, char **argv, error **err)
{
	if (argc < 2)
		return error_usage(err, "expected a COMMAND; see 'layerfs container --help'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_print_usage(usage);
		return 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "ls") || !strcmp(sub, "list") || !strcmp(sub, "ps"))
		return cmd_ps(argc - 1, argv + 1, err);
	if (!strcmp(sub, "prune"))
		return prune(argc - 1, argv + 1, err);
#define X(n, s)                                                                                    \
	if (!strcmp(sub, #n))                                                                      \
		return cmd_##n(argc - 1, argv + 1, err);
	X(run, )
	X(start, )
	X(stop, )
	X(kill, ) X(rm, ) X(logs, ) X(commit, ) X(diff, ) X(export, ) X(inspect, )
#undef X
	    return error_usage(
		err, "unknown command 'container %s'; see 'layerfs container --help'", sub);
}
