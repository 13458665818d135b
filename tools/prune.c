/* prune — shared by the prune commands; see prune.h. */
#include "prune.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "report.h"
#include "util.h"

int prune_parse(int argc, char **argv, const char *usage, const char *cmd, int *all, int *force,
		error **err)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"force", no_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	*all = *force = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			*all = 1;
			break;
		case 'f':
			*force = 1;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 1;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs %s --help'",
					   argv[optind - 1], cmd);
		}
	}
	if (optind < argc)
		return error_usage(err, "%s takes no arguments; run 'layerfs %s --help'", cmd, cmd);
	return 0;
}

int prune_confirm(const char *warning)
{
	printf("%s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin)) {
		putchar('\n');
		return 0;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

int prune_finish(store *s, uint64_t *freed, error **err)
{
	uint64_t n = 0;
	if (store_gc_freed(s, &n, err) < 0)
		return -1;
	*freed += n;
	if (store_prune_leftovers(s, &n, err) < 0)
		return -1;
	*freed += n;
	cleanup_free char *total = report_si_size(*freed);
	printf("Total reclaimed space: %s\n", total);
	return 0;
}

void prune_report_image(void *arg, const char *verb, const char *what)
{
	int *headed = arg;
	if (!*headed)
		puts("Deleted Images:");
	*headed = 1;
	printf("%s: %s\n", verb, what);
}
