/* archive_io — images in and out of the store as files.
 *
 * Save writes one tar that both kinds of reader accept:
 *   oci-layout, index.json, blobs/sha256/<hex>    an OCI image layout
 *                                                 (skopeo oci-archive:, umoci)
 *   manifest.json, repositories                   docker load / docker-archive:
 * Blobs are the store's, byte for byte (gzip layers stay gzip), so every
 * digest is unchanged.  index.json names each image with
 * org.opencontainers.image.ref.name = TAG and io.containerd.image.name =
 * the full name, as Docker >= 25 does.
 *
 * Load reads, by content:
 *   - a tar (plain or gzip/bzip2/xz/zstd-filtered, file or stdin) holding
 *     an OCI layout (index.json) and/or a docker-save manifest.json
 *     (legacy "<id>/layer.tar" layout or Docker >= 25's blobs/ layout);
 *   - an OCI image layout directory.
 * When index.json is there it is used (manifests keep their digests);
 * else manifest.json (an OCI manifest is written for the image, the config
 * keeps its digest, so the image ID is unchanged).  Image indexes are
 * resolved to linux/this machine's architecture.
 * Safety: a member name that is absolute or has a ".." component, a
 * symlink (in the tar or the directory) leaving the archive, a symlinked
 * blobs/ directory, a blob missing or not hashing to its name, a layer
 * whose uncompressed contents do not match the config's diff_id: the load
 * fails with a message naming the member, nothing is written outside the
 * store's temp files, and index.json is untouched.  Every image is staged
 * and verified before the first one is committed.
 */
#ifndef LAYERFS_ARCHIVE_IO_H
#define LAYERFS_ARCHIVE_IO_H

#include <stddef.h>

#include "error.h"
#include "store.h"

/* An output file written as a temp file beside it and renamed into place
 * by outfile_commit(); path NULL means standard output (no rename). */
struct outfile {
	int fd;
	char *tmp;
	const char *path;
};
int outfile_open(struct outfile *of, const char *path, error **err);
/* Options of the commands that write an archive (save, export):
 * -o/--output FILE and -h/--help.  Sets *path (NULL: standard output).
 * Returns 0, 1 after printing usage
 * (the command then returns 0), or -1 with *err. */
int outfile_parse_args(int argc, char **argv, const char *usage, const char **path, error **err);
int outfile_commit(struct outfile *of, error **err);
/* Removes the temp file. */
void outfile_abort(struct outfile *of);

/* Writes images names[0..n) (anything store_image_resolve() accepts) as one
 * tar to fd. */
int archive_save(store *s, char *const *names, size_t n, int fd, error **err);

/* Called once per image stored by archive_load: ref is the name it got
 * (NULL when the archive gave none), id the image ID (config digest). */
typedef void archive_loaded_fn(void *arg, const char *ref, const char *id);

/* Loads every image of path ("-": standard input; a directory: an OCI
 * layout) into the store. */
int archive_load(store *s, const char *path, archive_loaded_fn *fn, void *arg, error **err);

#endif
