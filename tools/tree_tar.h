/* tree_tar — writes the merged tree of an image as one tar, straight from
 * the layers through the union core (fs/union.h): nothing is unpacked.
 *
 * The tar is pax (so long names, sub-second mtimes, xattrs and
 * security.capability survive), entries in depth-first order with each
 * directory's children sorted by name, the root as "./" and the rest
 * without a "./" prefix.  Hard-linked names (one union node, st_nlink > 1)
 * become one file and hard links to it.  Whiteouts and opaque markers are
 * applied, never written.  Sparse files are written in full.
 */
#ifndef LAYERFS_TREE_TAR_H
#define LAYERFS_TREE_TAR_H

#include <stdint.h>

#include "error.h"
#include "union.h"

/* Writes the tar to out_fd (not closed).  Errors name the path at fault. */
int tree_tar_write(lfs_union *u, int out_fd, error **err);
/* The same for the subtree at node id, its entries named under name
 * ("name", "name/child", ...); name "" writes id as "./" and its
 * children without a prefix, as for the root. */
int tree_tar_write_node(lfs_union *u, uint64_t id, const char *name, int out_fd, error **err);

#endif
