/* lfs_inspect — questions about an image answered from the layer indexes
 * alone: walking the merged tree, what each layer added, replaced and
 * removed, which layers touched a path, and what differs between two
 * images.  Plain C over lfs_index / lfs_union, no CLI code: the `layerfs
 * ls/find/grep/which/layers/diff` commands are thin front ends over it.
 *
 * Nothing here reads file data except lfs_inspect_sha256() (and
 * lfs_inspect_diff(), which calls it only for regular files of equal size
 * and metadata that come from different layer entries).
 *
 * Errors: 0 or -errno (-ENOENT, -ENOTDIR, -EIO from layer data, or what a
 * callback returned).  Not thread-safe per call: each call uses its own
 * state, so distinct calls may run concurrently over one union.
 */
#ifndef LFS_INSPECT_H
#define LFS_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "layer.h"
#include "union.h"

/* --- Walking the merged tree ------------------------------------------ */

/* Called for each node in depth-first pre-order, children sorted by name
 * (memcmp).  path is the image path ("/" for the root, "/a/b" below it;
 * start_path spelled as given for the start node), valid during the call;
 * depth is 0 for the start node.  Return 0 to go on, LFS_WALK_PRUNE to
 * skip a directory's children, or a negative value to stop the walk (it is
 * returned by lfs_walk()). */
#define LFS_WALK_PRUNE 1
typedef int (*lfs_walk_fn)(void *ctx, const char *path, unsigned depth, uint64_t id,
			   const struct stat *st);
/* Walks from node start (symlinks are never followed below it).
 * max_depth limits the descent (UINT32_MAX: unlimited). */
int lfs_walk(lfs_union *u, uint64_t start, const char *start_path, unsigned max_depth,
	     lfs_walk_fn fn, void *ctx);

/* --- Per-layer accounting ---------------------------------------------- */

struct lfs_layer_stats {
	uint64_t entries;   /* members of the layer, not counting its root: whiteouts included */
	uint64_t whiteouts; /* ".wh.NAME" entries */
	uint64_t opaque;    /* directories marked opaque */
	uint64_t files;     /* regular-file inodes (hard links counted once) */
	uint64_t bytes;     /* their total size */
	uint64_t added;     /* bytes of files at paths no lower layer shows */
	uint64_t replaced;  /* bytes of files at paths a lower layer showed */
	uint64_t removed;   /* bytes of lower layers' files this layer hides (for good) */
	uint64_t wasted;    /* bytes of this layer's files hidden by later layers */
};

/* One regular-file inode that no name in the final tree shows. */
struct lfs_waste {
	uint32_t layer;     /* the layer that holds it (0 = lowest) */
	uint32_t entry;     /* its entry (lowest of a hard-link ring) */
	uint32_t hidden_by; /* the layer that hid its last visible name */
	uint64_t size;
};

/* Fills stats[0..n) for layers[0..n) (lowest first) and, when waste is not
 * NULL, a new array (*waste, caller frees) of every hidden inode, largest
 * first.  Invariants: sum(bytes) == bytes visible in the merged tree +
 * sum(wasted), and sum(wasted) == sum(removed).  Reads only the indexes:
 * O(entries x layers above) binary searches. */
int lfs_inspect_layers(lfs_layer *const *layers, size_t n, struct lfs_layer_stats *stats,
		       struct lfs_waste **waste, size_t *nwaste);

/* --- Provenance of one path -------------------------------------------- */

enum lfs_touch_kind {
	LFS_TOUCH_ADDED,    /* PATH appears (nothing showed it below) */
	LFS_TOUCH_REPLACED, /* PATH replaces what lower layers showed */
	LFS_TOUCH_MODIFIED, /* a directory over a directory: metadata / contents */
	LFS_TOUCH_DELETED,  /* a whiteout ".wh.NAME" for PATH */
	LFS_TOUCH_HIDDEN,   /* an ancestor hides it: whiteout, opaque dir or non-directory */
};

struct lfs_touch {
	uint32_t layer;
	enum lfs_touch_kind kind;
	uint32_t entry; /* the layer's entry at PATH, LFS_INDEX_NONE for HIDDEN */
	uint32_t via;   /* HIDDEN: the ancestor entry that hides PATH; else LFS_INDEX_NONE */
	int opaque;     /* the entry at PATH is an opaque directory */
};

/* Every layer that touched path (no symlinks followed; "/" and "./" are
 * ignored), lowest first, into a new array *out (caller frees; NULL when
 * *nout is 0).  -ENAMETOOLONG for a component over 255 bytes, -EINVAL for
 * a ".." component. */
int lfs_inspect_which(lfs_layer *const *layers, size_t n, const char *path,
		      struct lfs_touch **out, size_t *nout);

/* --- Contents ------------------------------------------------------------ */

/* SHA-256 of a regular file's contents.  -EISDIR/-EINVAL for other types. */
int lfs_inspect_sha256(lfs_union *u, uint64_t id, unsigned char out[32]);

/* --- Comparing two images ---------------------------------------------- */

enum lfs_diff_kind {
	LFS_DIFF_ADDED = 'A',
	LFS_DIFF_DELETED = 'D',
	LFS_DIFF_CHANGED = 'C', /* as docker diff */
};

/* Why an entry counts as changed (bits of `what`). */
enum lfs_diff_what {
	LFS_DIFF_TYPE = 1 << 0,
	LFS_DIFF_MODE = 1 << 1,
	LFS_DIFF_OWNER = 1 << 2,
	LFS_DIFF_CONTENT = 1 << 3, /* size, data digest, symlink target or device number */
	LFS_DIFF_XATTR = 1 << 4,
};

/* id_a / id_b: NULL for the side that does not have path. */
typedef int (*lfs_diff_fn)(void *ctx, const char *path, enum lfs_diff_kind kind, unsigned what,
			   const uint64_t *id_a, const uint64_t *id_b);

/* Compares the merged trees of a and b in path order: entries only in b
 * are ADDED, only in a DELETED (a directory's descendants are reported
 * too), in both but differing in type, mode, owner, xattrs or content
 * CHANGED.  mtimes are ignored.  Regular files whose topmost entries are
 * the same entry of the same layer are equal without reading them;
 * layer_key_a[i] / layer_key_b[j] name layers (e.g. their diff_id) so that
 * equal keys mean the same tar.  Otherwise equal-sized files are compared
 * by SHA-256.  Stops at the first non-zero return of fn. */
int lfs_inspect_diff(lfs_union *a, const char *const *layer_key_a, lfs_union *b,
		     const char *const *layer_key_b, lfs_diff_fn fn, void *ctx);

#endif
