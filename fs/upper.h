/* lfs_upper — the on-disk format of a writable upper directory, shared by
 * the writable mount, diff and commit.  Compatible with kernel overlayfs
 * and fuse-overlayfs, so either can mount an upper that layerfs wrote and
 * the other way round:
 *
 *  - whiteout of NAME: a char device 0/0 named NAME (where mknod is
 *    permitted), else an empty regular file ".wh.NAME";
 *  - opaque directory: xattr trusted.overlay.opaque="y" (privileged), else
 *    user.fuseoverlayfs.opaque="y"; a ".wh..wh..opq" file inside the
 *    directory is honoured too (written only when xattrs are unsupported);
 *    user.overlay.opaque="y" (kernel userxattr mode) is read as well;
 *  - metadata-only copy-up (kernel overlayfs "metacopy"): a regular file
 *    of the lower's size with no data (sparse) and an empty xattr
 *    trusted.overlay.metacopy (privileged), else user.overlay.metacopy
 *    (kernel userxattr mode); its data is the lower file at the same path
 *    (or where trusted/user.overlay.redirect points).  The data is copied
 *    into the same file, synced, and only then the xattr removed, so a
 *    crash in between leaves a valid metacopy file;
 *  - ownership that cannot be set rootless: xattr
 *    user.containers.override_stat = "UID:GID:0MODE" (octal mode incl. type
 *    bits as fuse-overlayfs writes it, e.g. "0:0:0100644").
 *
 * All functions work on directory fds with *at() calls and return 0 or
 * -errno.
 */
#ifndef LFS_UPPER_H
#define LFS_UPPER_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define LFS_WH_PREFIX ".wh."
#define LFS_WH_PREFIX_LEN 4
#define LFS_WH_OPAQUE ".wh..wh..opq"
#define LFS_XATTR_OVERRIDE "user.containers.override_stat"

/* Classification of one name read from an upper directory. */
enum lfs_upper_kind {
	LFS_UPPER_ENTRY,    /* a real entry */
	LFS_UPPER_WHITEOUT, /* hides `name` (already stripped of any .wh. prefix) */
	LFS_UPPER_OPQ_MARK, /* an opaque marker: ".wh..wh..opq", or a 0/0 device named ".wh.*" */
};

/* Classifies dirent `name` in dir (st: its lstat, from fstatat with
 * AT_SYMLINK_NOFOLLOW).  For a ".wh.X" file, *hidden points at X inside
 * name; for a 0/0 device, at name itself. */
enum lfs_upper_kind lfs_upper_classify(const char *name, const struct stat *st,
				       const char **hidden);

/* 1 if the directory open at dirfd is opaque (xattr or marker), else 0. */
int lfs_upper_is_opaque(int dirfd);

/* Creates a whiteout for `name` in dirfd (replacing nothing: the caller
 * removed any entry first).  Tries a 0/0 char device, falls back to a
 * ".wh.NAME" file when mknod is not permitted. */
int lfs_upper_make_whiteout(int dirfd, const char *name);
/* Removes a whiteout of `name` in dirfd if there is one (either form). */
int lfs_upper_drop_whiteout(int dirfd, const char *name);
/* Marks the directory open at dirfd opaque (xattr, else marker file). */
int lfs_upper_set_opaque(int dirfd);

/* Metacopy: 1 if entry `name` of dirfd (name NULL: dirfd itself) carries
 * a metacopy xattr (either form), else 0. */
int lfs_upper_is_metacopy(int dirfd, const char *name);
/* Marks the regular file open (for writing) at fd metacopy: the trusted
 * xattr, else the user one.  -errno when neither can be set. */
int lfs_upper_set_metacopy(int fd);
/* Removes both forms from the file open at fd (absent ones are fine). */
int lfs_upper_clear_metacopy(int fd);

/* Ownership override (rootless): for the entry `name` in dirfd (name NULL:
 * dirfd itself), applies a recorded uid, gid and mode to st; returns 1 if
 * one was recorded, 0 if not.  Symlinks cannot carry user xattrs: they
 * report their real owner. */
int lfs_upper_get_override(int dirfd, const char *name, struct stat *st);
int lfs_upper_set_override(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode);

#endif
