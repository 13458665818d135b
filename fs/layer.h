/* lfs_layer — one read-only tar layer: the blob plus its index.
 *
 * Reads go to the tar at the member's offset: pread for plain tars, the
 * gzip checkpoint reader for gzip ones, the sparse map for sparse members.
 * Thread-safe for readers once opened.
 */
#ifndef LFS_LAYER_H
#define LFS_LAYER_H

#include <stdint.h>
#include <sys/types.h>

#include "index.h"

typedef struct lfs_layer lfs_layer;

enum lfs_layer_flags {
	/* The index is a cache keyed by path (mount --layer): also treat it as
	 * stale when the tar's size or mtime differ from those recorded. */
	LFS_LAYER_CHECK_MTIME = 1 << 0,
	/* Never write an index: fail with -ENOENT/-EBADMSG instead of rebuilding. */
	LFS_LAYER_NO_BUILD = 1 << 1,
};

/* Opens the tar at tar_path and the index at index_path.  A missing, stale,
 * other-version or corrupt index is rebuilt (written to a temporary file
 * beside it, fsync'd, renamed into place).  If index_path's directory is not
 * writable the index is built in memory only.  Returns 0 or -errno with a
 * message in *err (caller frees) that names the file. */
int lfs_layer_open(const char *tar_path, const char *index_path, unsigned flags, lfs_layer **out,
		   char **err);
/* A directory used as a layer (an overlay lower dir, as fuse-overlayfs
 * takes them): indexed in memory at open (a walk of the tree; nothing is
 * written), data read from its files. */
int lfs_layer_open_dir(const char *dir, lfs_layer **out, char **err);
void lfs_layer_free(lfs_layer *l);

const lfs_index *lfs_layer_index(const lfs_layer *l);
const char *lfs_layer_path(const lfs_layer *l);
/* Size of the layer file as stored. */
uint64_t lfs_layer_size(const lfs_layer *l);

/* Reads up to len bytes of member e's contents at off.  Returns bytes read
 * (0 at or past the end), or -EIO when the layer file is short or corrupt
 * (the layer was modified or truncated after indexing). */
ssize_t lfs_layer_pread(lfs_layer *l, const struct lfs_entry *e, void *buf, size_t len,
			uint64_t off);
/* If member e's contents are one contiguous run of a plain tar file, sets
 * *fd and *tar_off to where they start and returns 1 (so copies can use
 * copy_file_range); else 0.  The caller must still check the byte count
 * it gets: the file may have been truncated since indexing. */
int lfs_layer_data_fd(const lfs_layer *l, const struct lfs_entry *e, int *fd, uint64_t *tar_off);

#endif
