/* layerfs system — store-wide commands: `system df` (what the store holds
 * and what could go) and `system prune` (docker's, for one store). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "prune.h"
#include "report.h"
#include "store.h"
#include "util.h"

static const char usage[] = "Usage: layerfs system COMMAND [ARGS...]\n"
			    "\n"
			    "Commands:\n"
			    "  df               show the store's disk usage\n"
			    "  prune            remove unused data\n";

static const char df_usage[] =
    "Usage: layerfs system df [OPTIONS]\n"
    "\n"
    "Show the store's disk usage, as `docker system df` does:\n"
    "  Images       TOTAL distinct images, ACTIVE those a container was made\n"
    "               from; SIZE of their blobs, a blob shared by several\n"
    "               images counted once; RECLAIMABLE what removing the\n"
    "               inactive images would free.\n"
    "  Containers   TOTAL records, ACTIVE running; SIZE of their writable\n"
    "               layers and logs; RECLAIMABLE that of the stopped ones.\n"
    "  Build Cache  TOTAL entries, ACTIVE used by a running build; SIZE of\n"
    "               the layers only the cache holds; RECLAIMABLE of those\n"
    "               what no running build uses.\n"
    "\n"
    "Options:\n"
    "  -v, --verbose        also list the containers with their sizes\n"
    "  -h, --help           show this help\n";

static const char prune_usage[] =
    "Usage: layerfs system prune [OPTIONS]\n"
    "\n"
    "Remove stopped containers, dangling images (or with -a every image no\n"
    "container was made from), dangling build cache (or with -a all of it)\n"
    "and what killed commands left, then every blob and layer index nothing\n"
    "refers to any more.  A build running meanwhile keeps the layers it uses\n"
    "and completes.  Asks for confirmation unless -f.\n"
    "\n"
    "Options:\n"
    "  -a, --all            remove all unused images and all build cache\n"
    "  -f, --force          do not prompt for confirmation\n"
    "  -h, --help           show this help\n";

static void df_row(const char *type, const struct store_df_row *r)
{
	cleanup_free char *size = report_si_size(r->size);
	cleanup_free char *rec = report_si_size(r->reclaimable);
	char pct[32] = "";
	if (r->size)
		snprintf(pct, sizeof(pct), " (%d%%)",
			 (int)((double)r->reclaimable * 100.0 / (double)r->size));
	char recl[64];
	snprintf(recl, sizeof(recl), "%s%s", rec, pct);
	printf("%-16s%-10zu%-10zu%-10s%s\n", type, r->total, r->active, size, recl);
}

static int containers_row(store *s, struct store_df_row *row, int verbose, error **err)
{
	struct ctn **cs = NULL;
	size_t n = 0;
	memset(row, 0, sizeof(*row));
	if (ctn_list(s, &cs, &n, err) < 0)
		return -1;
	if (verbose && n)
		printf("\nContainers space usage:\n\n%-14s%-24s%-10s%-10s\n", "CONTAINER ID",
		       "IMAGE", "SIZE", "STATUS");
	for (size_t i = 0; i < n; i++) {
		uint64_t size = store_tree_size(cs[i]->dir);
		int running = cs[i]->state.status == CTN_RUNNING;
		row->total++;
		row->active += running;
		row->size += size;
		row->reclaimable += running ? 0 : size;
		if (verbose) {
			cleanup_free char *sz = report_si_size(size);
			cleanup_free char *st = ctn_status_text(cs[i], time(NULL));
			printf("%-14.12s%-24s%-10s%s\n", cs[i]->id, ctn_image(cs[i]), sz, st);
		}
	}
	ctn_list_free(cs, n);
	return 0;
}

static int df(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"verbose", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int verbose = 0, c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = 1;
			break;
		case 'h':
			cmd_print_usage(df_usage);
			return 0;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs system df --help'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return error_usage(err, "system df takes no arguments");
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	struct store_df_row img, cache, ctr;
	int ret = store_df(s, &img, &cache, err);
	if (ret == 0) {
		printf("%-16s%-10s%-10s%-10s%s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE",
		       "RECLAIMABLE");
		df_row("Images", &img);
		fflush(stdout);
		ret = containers_row(s, &ctr, 0, err);
	}
	if (ret == 0) {
		df_row("Containers", &ctr);
		df_row("Build Cache", &cache);
	}
	if (ret == 0 && verbose)
		ret = containers_row(s, &ctr, 1, err);
	store_free(s);
	return ret;
}

static void print_id(void *arg, const char *id)
{
	int *headed = arg;
	if (!*headed)
		puts("Deleted Containers:");
	*headed = 1;
	puts(id);
}

static int prune_all(store *s, int all, error **err)
{
	int headed = 0;
	uint64_t freed = 0, n = 0;
	if (ctn_prune(s, print_id, &headed, &freed, err) < 0)
		return -1;
	if (headed)
		putchar('\n');
	/* One exclusive section from here: images, cache and collection. */
	if (store_lock(s, 1, err) < 0)
		return -1;
	headed = 0;
	if (store_prune_images(s, all, prune_report_image, &headed, err) < 0)
		return -1;
	if (headed)
		putchar('\n');
	size_t entries = 0;
	if (store_prune_cache(s, all, &entries, &n, err) < 0)
		return -1;
	freed += n;
	if (entries)
		printf("Deleted build cache entries: %zu\n\n", entries);
	return prune_finish(s, &freed, err);
}

static int prune(int argc, char **argv, error **err)
{
	int all, force;
	int r = prune_parse(argc, argv, prune_usage, "system prune", &all, &force, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!force &&
	    !prune_confirm(all ? "WARNING! This will remove:\n"
				 "  - all stopped containers\n"
				 "  - all images without at least one container associated "
				 "to them\n"
				 "  - all build cache"
			       : "WARNING! This will remove:\n"
				 "  - all stopped containers\n"
				 "  - all dangling images\n"
				 "  - unused build cache"))
		return 0;
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = prune_all(s, all, err);
	store_free(s);
	return ret;
}

int cmd_system(int argc, char **argv, error **err)
{
	if (argc < 2)
		return error_usage(err, "expected a COMMAND; see 'layerfs system --help'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_print_usage(usage);
		return 0;
	}
	if (!strcmp(argv[1], "df"))
		return df(argc - 1, argv + 1, err);
	if (!strcmp(argv[1], "prune"))
		return prune(argc - 1, argv + 1, err);
	return error_usage(err, "unknown command 'system %s'; see 'layerfs system --help'",
			   argv[1]);
}
