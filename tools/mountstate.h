/* mountstate — what a writable layerfs mount is made of, recorded while it
 * is mounted so that `layerfs diff MOUNTPOINT` (and commit) find its upper
 * directory and lower layers.
 *
 * One JSON file per mount: <store root>/mounts/<sha256 hex of the
 * mountpoint's real path>.json, written temp + fsync + rename (+ fsync of
 * the directory), so a reader sees the old file, the new one, or none:
 *   {"mountpoint": "/mnt/x", "upper": "/u", "work": "/w", "image": "app:1"|null,
 *    "layers": [{"tar": "/store/blobs/sha256/..", "index": "/store/indexes/.."}, ...],
 *    "pid": 1234}
 * Layers are lowest first.  All paths are absolute.  The file is removed
 * at unmount by the daemon; one left by a killed daemon is harmless (the
 * upper and layers it names stay valid) and is replaced by the next mount.
 */
#ifndef LAYERFS_MOUNTSTATE_H
#define LAYERFS_MOUNTSTATE_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "store.h"

struct mountstate {
	char *mountpoint; /* real path */
	char *upper, *work;
	char *image; /* the IMAGE argument of the mount, NULL for --layer / lowerdir= */
	size_t nlayers;
	char **layer_paths; /* tar paths, lowest first */
	char **index_paths; /* index file of each layer, same order */
	pid_t pid;	    /* the daemon serving the mount */
};

/* Records ms for the mount at mountpoint_realpath (ms->mountpoint is
 * ignored: the argument is stored).  Replaces an existing record. */
int mountstate_write(store *s, const char *mountpoint_realpath, const struct mountstate *ms,
		     error **err);
/* Reads the record of the mount at mountpoint_or_path (resolved with
 * realpath first).  Returns 0 and fills *out (release with
 * mountstate_release), 1 when there is no record for it (or the path does
 * not exist), or -1 with *err for a record that cannot be read. */
int mountstate_read(store *s, const char *mountpoint_or_path, struct mountstate *out, error **err);
/* Removes the record of mountpoint_realpath; none is not an error. */
int mountstate_remove(store *s, const char *mountpoint_realpath, error **err);
/* Frees the contents of ms and zeroes it. */
void mountstate_release(struct mountstate *ms);

#endif
