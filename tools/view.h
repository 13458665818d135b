/* view — an image opened for reading through the union core, without
 * mounting: from the store by name, or from bare tar files (--layer). */
#ifndef LAYERFS_VIEW_H
#define LAYERFS_VIEW_H

#include <stddef.h>

#include "error.h"
#include "store.h"
#include "union.h"

struct view {
	store *store;
	struct store_image *image; /* NULL for bare tars */
	lfs_layer **layers;        /* lowest first */
	size_t nlayers;
	lfs_union *u;
};

#define VIEW_INIT {NULL, NULL, NULL, 0, NULL}

/* Opens image `name` from the store. */
int view_open_image(struct view *v, const char *name, error **err);
/* Opens bare layers (lowest first): tar files, indexed on first use with
 * the index cached in the store (indexes/files/), or directories (overlay
 * lower dirs), indexed in memory. */
int view_open_tars(struct view *v, char *const *tars, size_t n, error **err);
/* Bare layers when ntars > 0, else the stored image `image`. */
int view_open(struct view *v, char *const *tars, size_t ntars, const char *image, error **err);
/* Puts an overlay upper directory (a container's writable layer) on top
 * of v's layers. */
int view_add_upper(struct view *v, const char *dir, error **err);
/* Appends a --layer argument to a growable array (caller frees the array). */
void view_add_tar(char ***tars, size_t *ntars, char *path);
void view_release(struct view *v);

/* Resolves an image path (symlinks followed inside the image, the last
 * component only if follow); errors name the path. */
int view_resolve(struct view *v, const char *path, int follow, uint64_t *id, error **err);

#endif
