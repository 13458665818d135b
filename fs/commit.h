/* lfs_commit — an overlay upper directory (upper.h format) as a change
 * list (`docker diff`) or as one OCI layer tar (`docker commit`).
 *
 * Both walk ONLY the upper directory, through directory fds and *at()
 * calls (O_NOFOLLOW everywhere: a symlink in the upper is data, never a
 * path to follow), so the cost is proportional to the change and deep
 * trees work whatever PATH_MAX says.  One descriptor is held per directory
 * level of the upper while walking: raise RLIMIT_NOFILE for very deep trees.
 *
 * The lower (read-only union of the image's layers, may be NULL) is only
 * looked up at the paths the upper names, to tell added from changed
 * entries and to drop whiteouts that hide nothing.  The one exception is an
 * opaque directory in the change list: its lower children are listed (one
 * directory, not a tree) to report them deleted.
 *
 * Upper dirs written by kernel overlayfs with redirect_dir
 * (trusted.overlay.redirect xattrs) place entries' sources away from their
 * paths: both functions fail with -ENOTSUP saying so.  A metacopy file
 * (upper.h: metadata copied up, data still below) is committed with the
 * data of the lower file at its path; without one there, -EIO.
 *
 * Errors: 0 or -errno; *err (may be NULL; caller frees) gets a message that
 * names the path at fault, e.g. "'/etc/x': open: Permission denied".
 */
#ifndef LFS_COMMIT_H
#define LFS_COMMIT_H

#include <stdint.h>

#include "union.h"

/* ---- change list -------------------------------------------------------- */

/* kind: 'A' added, 'C' changed, 'D' deleted; path is absolute inside the
 * image ("/etc/passwd").  Return non-zero to stop the walk: that value is
 * returned by lfs_upper_changes(). */
typedef int (*lfs_change_fn)(void *ctx, char kind, const char *path);

/* Reports the changes of the upper open at upper_dirfd (not closed) over
 * lower, in byte order of the full paths (a parent before its children),
 * each path once:
 *  - a whiteout of NAME: 'D' (with a lower: only if NAME exists there and is
 *    not already hidden by an opaque directory above);
 *  - an opaque directory that exists below: 'C', and each of its lower
 *    children that the upper does not hold: 'D' (also when an opaque
 *    directory above hides them);
 *  - a real entry that exists in the lower at its path (whatever hides it
 *    in the merged tree): 'C' — copied-up parents are reported so, as
 *    docker does; otherwise 'A', and so is everything under an added
 *    directory.
 * Without a lower nothing can be told apart: real entries are 'A', opaque
 * directories 'C', whiteouts 'D'.  The root itself is never reported.
 * The list is gathered before the first call (memory proportional to the
 * change), so fn sees it sorted. */
int lfs_upper_changes(int upper_dirfd, lfs_union *lower, lfs_change_fn fn, void *ctx, char **err);

/* ---- commit to a layer tar ----------------------------------------------- */

struct lfs_commit_opts {
	/* Clamp every mtime to this (seconds since the epoch; mtime =
	 * min(mtime, epoch)) when >= 0; -1: keep the mtimes as they are. */
	int64_t source_date_epoch;
	/* gzip the tar (zlib level 6, no name and mtime 0 in the header). */
	int gzip;
	/* A directory (open fd) never to descend into or write, e.g. an
	 * overlay work dir that lives inside the upper; -1 for none. */
	int exclude_dirfd;
};

/* Default options: no clamp, no gzip, nothing excluded. */
void lfs_commit_opts_init(struct lfs_commit_opts *o);

/* Writes the upper open at upper_dirfd as an OCI layer (pax tar) to out_fd
 * (not closed; written from its current offset).  Layer contents:
 *  - entries in depth-first order, the children of each directory sorted
 *    by name bytes, member names relative without "./"; the root itself is
 *    not written (its metadata stays the lower's, as docker commit does);
 *  - in each directory, first ".wh..wh..opq" when the directory is opaque
 *    (with a lower: and a directory exists there below), then the
 *    whiteouts ".wh.NAME" sorted by NAME (with a lower: only those that
 *    hide something), then the real entries: whiteouts precede their
 *    siblings.  Markers are empty regular files, mode 0, uid/gid 0, mtime 0;
 *  - regular files, directories, symlinks, char/block devices, FIFOs;
 *    sockets cannot be stored in a tar and are skipped;
 *  - names of one inode (st_nlink > 1) inside the upper: the first one in
 *    output order carries the data, the others are hard links (typeflag 1)
 *    to it (regular files only: other types are written separately);
 *  - numeric uid/gid (no user names), mode, mtime with nanoseconds; no
 *    atime, ctime or birth time; user.containers.override_stat replaces the
 *    uid, gid and permission bits;
 *  - every xattr except trusted.overlay.*, user.overlay.*,
 *    user.fuseoverlayfs.* and user.containers.override_stat, in name order;
 *  - sparse files are written dense (holes become zeros); a metacopy file
 *    with its lower data (a layer has no metacopy);
 * Same upper (and lower, and options) → same bytes.  A file that changes
 * size while being read fails the commit with -ESTALE: stop writers first.
 * On failure, out_fd holds a partial tar the caller must discard. */
int lfs_upper_commit(int upper_dirfd, lfs_union *lower, int out_fd, const struct lfs_commit_opts *o,
		     char **err);

#endif
