/* prune — what `system prune`, `image prune` and `builder prune` share:
 * docker's confirmation prompt and the collection that ends each one. */
#ifndef LAYERFS_PRUNE_H
#define LAYERFS_PRUNE_H

#include <stdint.h>

#include "error.h"
#include "store.h"

/* Parses the options every prune command takes (-a, -f, -h; no
 * arguments): 0, 1 when --help was printed (usage), or -1 with a usage
 * error naming cmd ("image prune"). */
int prune_parse(int argc, char **argv, const char *usage, const char *cmd, int *all, int *force,
		error **err);

/* Prints warning and "Are you sure you want to continue? [y/N] " and reads
 * a line from stdin: 1 for y/yes, 0 otherwise (EOF included). */
int prune_confirm(const char *warning);

/* Collects blobs and indexes nothing holds any more and the scratch dirs
 * of killed commands, adding the bytes freed to *freed, then prints
 * "Total reclaimed space: X". */
int prune_finish(store *s, uint64_t *freed, error **err);

/* store_report_fn for store_prune_images: docker's "Deleted Images:"
 * block, headed once; arg points to an int that says it was. */
void prune_report_image(void *arg, const char *verb, const char *what);

#endif
