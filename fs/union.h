/* lfs_union — the merged view of a stack of read-only layers.
 *
 * Plain C, no FUSE: the FUSE adapter and the inspection tools both read
 * images through it.  Nodes are identified by a node id (root: 1) that
 * stays valid for the union's lifetime; the layers are immutable, so nodes
 * are created on first lookup and never freed before lfs_union_free().
 *
 * Semantics (OCI image layers, lowest layer first):
 *  - a later layer's entry replaces an earlier one at the same path;
 *  - a whiteout NAME hides NAME in all lower layers; an opaque directory
 *    hides all lower children of that directory;
 *  - a non-directory in a higher layer hides a lower directory entirely;
 *  - a directory's metadata and xattrs come from the topmost layer that has
 *    it explicitly (an implicit parent is used only when no layer has one);
 *  - the names of one hard-linked inode share one node (and st_ino); its
 *    st_nlink counts the names still visible in the merged tree, computed
 *    before the first stat is answered;
 *  - st_ino is stable across mounts of the same layers: (layer+1) << 32 |
 *    entry of the node's topmost entry (root: 1);
 *  - a merged directory (more than one layer contributes) reports
 *    st_nlink 1, like kernel overlayfs; a single-layer one 2 + subdirs.
 *
 * Thread-safety: every function may be called concurrently.  Directory
 * merging takes a per-directory mutex once; lookups after that are
 * lock-free reads of immutable data.
 *
 * Errors: 0 or -errno: -ENOENT, -ENOTDIR, -ENAMETOOLONG (name > 255 bytes),
 * -EISDIR, -EINVAL (readlink of a non-symlink), -ENODATA / -ERANGE (xattrs),
 * -EIO (layer data unreadable), -ELOOP (too many symlinks in a path).
 */
#ifndef LFS_UNION_H
#define LFS_UNION_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "buf.h"
#include "layer.h"

#define LFS_ROOT_ID 1

typedef struct lfs_union lfs_union;

/* Builds the union of layers[0..n), lowest first.  The layers are borrowed:
 * they must outlive the union.  Cost is independent of image size. */
int lfs_union_new(lfs_layer *const *layers, size_t n, lfs_union **out);
void lfs_union_free(lfs_union *u);
size_t lfs_union_nlayers(const lfs_union *u);

/* Child name of directory node dir: sets *id. */
int lfs_union_lookup(lfs_union *u, uint64_t dir, const char *name, uint64_t *id);
/* Resolves an absolute or relative path from the root, as seen from inside
 * the image: ".." stops at the root, symlinks in the middle are followed
 * (absolute targets relative to the image root), the last component only
 * when follow is set. */
int lfs_union_resolve(lfs_union *u, const char *path, int follow, uint64_t *id);
int lfs_union_getattr(lfs_union *u, uint64_t id, struct stat *st);
/* Appends the symlink target to out. */
int lfs_union_readlink(lfs_union *u, uint64_t id, lfs_buf *out);

/* Directory listing: calls fn for each visible entry with a position
 * cookie; `.` and `..` come first (cookies 1, 2), then children sorted by
 * name.  Starts after cookie `off` (0 = from the start).  Stops early when
 * fn returns non-zero (that entry is not consumed: a later call with the
 * previous cookie resumes at it).  Returns 0 or -errno. */
typedef int (*lfs_union_dir_fn)(void *ctx, const char *name, uint64_t id, mode_t type,
				uint64_t cookie);
int lfs_union_readdir(lfs_union *u, uint64_t dir, uint64_t off, lfs_union_dir_fn fn, void *ctx);
/* Number of visible children (no . and ..). */
int lfs_union_dir_count(lfs_union *u, uint64_t dir, uint32_t *n);

/* Reads file contents; returns bytes read (0 at EOF) or -errno. */
ssize_t lfs_union_read(lfs_union *u, uint64_t id, void *buf, size_t len, uint64_t off);
/* For a hard-linked file: calls fn with each of its names still visible
 * in the merged tree (paths without a leading slash).  Nothing for other
 * nodes.  Returns 0 or -ENOENT. */
typedef void (*lfs_union_path_fn)(void *ctx, const char *path);
int lfs_union_hardlink_names(lfs_union *u, uint64_t id, lfs_union_path_fn fn, void *ctx);

/* Where file id's bytes lie in a plain tar (see lfs_layer_data_fd):
 * returns 1 and sets fd and offset, or 0 when they must be read with
 * lfs_union_read. */
int lfs_union_data_fd(lfs_union *u, uint64_t id, int *fd, uint64_t *tar_off);

/* getxattr semantics: with size 0 returns the value's length, else copies
 * it and returns the length (-ERANGE if it does not fit). */
ssize_t lfs_union_getxattr(lfs_union *u, uint64_t id, const char *name, void *buf, size_t size);
/* listxattr semantics: NUL-separated names. */
ssize_t lfs_union_listxattr(lfs_union *u, uint64_t id, char *buf, size_t size);
int lfs_union_statfs(lfs_union *u, struct statvfs *st);

/* Which layer and entry provide node id (topmost), for inspection tools. */
int lfs_union_origin(lfs_union *u, uint64_t id, uint32_t *layer, uint32_t *entry);

#endif
