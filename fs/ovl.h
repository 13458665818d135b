/* lfs_ovl — the writable merged tree: a read-only lower (lfs_union) under
 * one writable upper directory in the kernel-overlayfs format (upper.h).
 *
 * Plain C, no FUSE: the FUSE adapter translates requests into these calls.
 * Inodes are identified by 64-bit ids (root: 1) that the kernel holds as
 * node ids; each lookup-style call takes one lookup reference, released by
 * lfs_ovl_forget().
 *
 * Semantics, as kernel overlayfs (with redirect_dir-like behaviour):
 *  - a lower file is copied up (whole file, metadata and xattrs, through a
 *    temporary in the work directory renamed into place) before its first
 *    change; a lower directory is created in the upper (not its contents)
 *    when something inside it changes;
 *  - a change of metadata only (chmod, chown, utimes, xattrs) of a lower
 *    regular file with one name copies no data: the upper file is a
 *    metacopy (upper.h) and reads go on to the lower; the data follows
 *    in place on the first open for writing, truncate, link or rename;
 *  - copy-up temporaries ('#' names) left in the work directory by a
 *    daemon that died are removed when the overlay is created;
 *  - unlink/rmdir of a name that exists below leaves a whiteout; a
 *    directory created where a whiteout was is made opaque;
 *  - rename works for lower directories too (no EXDEV): the source
 *    subtree is copied up and the moved directory made opaque;
 *  - an unlinked open file keeps working and reports st_nlink 0.
 *
 * Thread-safety: namespace operations take one mutex; reads and writes on
 * open files do not.  Errors: 0 or -errno.
 */
#ifndef LFS_OVL_H
#define LFS_OVL_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "buf.h"
#include "union.h"

#define LFS_OVL_ROOT 1

typedef struct lfs_ovl lfs_ovl;
typedef struct lfs_ovl_file lfs_ovl_file;
typedef struct lfs_ovl_dir lfs_ovl_dir;

/* The caller of an operation, for ownership of what it creates. */
struct lfs_ovl_cred {
	uid_t uid;
	gid_t gid;
};

/* upper_dir and work_dir are existing directories on one filesystem.
 * Ownership the kernel will not set — without root (EPERM), or in a user
 * namespace for ids it does not map (EINVAL) — is recorded as an override
 * in the upper (upper.h) and reported instead of the real owner.
 * lower may be NULL (an empty lower).  Both stay owned by the caller.
 * With init_root, an empty upper directory first takes the lower root's
 * mode, owner, times and xattrs (for an upper created for this mount, so
 * the mount's root looks like the image's); without it the upper root is
 * left as it is, as kernel overlayfs shows it. */
int lfs_ovl_new(lfs_union *lower, const char *upper_dir, const char *work_dir, int init_root,
		lfs_ovl **out, char **err);
void lfs_ovl_free(lfs_ovl *o);
/* Metadata-only copy-up (metacopy, upper.h) for chmod & co. of lower
 * files: on (1) unless turned off (0), for an upper that tools which do not
 * know metacopy files (fuse-overlayfs, kernel overlayfs without
 * metacopy=on, tar of the upper) will read.  Metacopy files already in the
 * upper are read either way. */
void lfs_ovl_set_metacopy(lfs_ovl *o, int on);
/* fn(arg, id) is called when an inode's attributes or data changed other
 * than through a request on that inode (the other names of a hard link
 * at copy-up), so the caller can drop what it cached.  Called with the
 * namespace lock held: fn must not call back into lfs_ovl. */
void lfs_ovl_set_notify(lfs_ovl *o, void (*fn)(void *arg, uint64_t id), void *arg);

int lfs_ovl_lookup(lfs_ovl *o, uint64_t parent, const char *name, uint64_t *id, struct stat *st);
void lfs_ovl_forget(lfs_ovl *o, uint64_t id, uint64_t nlookup);
int lfs_ovl_getattr(lfs_ovl *o, uint64_t id, struct stat *st);

/* What lfs_ovl_setattr changes. */
enum lfs_ovl_set {
	LFS_OVL_SET_MODE = 1 << 0,
	LFS_OVL_SET_UID = 1 << 1,
	LFS_OVL_SET_GID = 1 << 2,
	LFS_OVL_SET_SIZE = 1 << 3,
	LFS_OVL_SET_ATIME = 1 << 4,
	LFS_OVL_SET_MTIME = 1 << 5,
	LFS_OVL_SET_ATIME_NOW = 1 << 6,
	LFS_OVL_SET_MTIME_NOW = 1 << 7,
	LFS_OVL_SET_CTIME = 1 << 8,
};
/* fh may be NULL; when given (ftruncate/futimens), its descriptor is used. */
int lfs_ovl_setattr(lfs_ovl *o, uint64_t id, const struct stat *attr, unsigned set,
		    lfs_ovl_file *fh, struct stat *out);
int lfs_ovl_readlink(lfs_ovl *o, uint64_t id, lfs_buf *out);

int lfs_ovl_mknod(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
		  const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st);
int lfs_ovl_mkdir(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode,
		  const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st);
int lfs_ovl_symlink(lfs_ovl *o, uint64_t parent, const char *name, const char *target,
		    const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st);
int lfs_ovl_link(lfs_ovl *o, uint64_t id, uint64_t newparent, const char *newname,
		 struct stat *st);
int lfs_ovl_unlink(lfs_ovl *o, uint64_t parent, const char *name);
int lfs_ovl_rmdir(lfs_ovl *o, uint64_t parent, const char *name);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int lfs_ovl_rename(lfs_ovl *o, uint64_t parent, const char *name, uint64_t newparent,
		   const char *newname, unsigned flags);

/* Opens a file: flags as open(2) without O_CREAT.  Writing or O_TRUNC
 * copies a lower file up first. */
int lfs_ovl_open(lfs_ovl *o, uint64_t id, int flags, lfs_ovl_file **fh);
int lfs_ovl_create(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode, int flags,
		   const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st, lfs_ovl_file **fh);
ssize_t lfs_ovl_read(lfs_ovl *o, lfs_ovl_file *fh, void *buf, size_t len, off_t off);
ssize_t lfs_ovl_write(lfs_ovl *o, lfs_ovl_file *fh, const void *buf, size_t len, off_t off);
int lfs_ovl_fsync(lfs_ovl *o, lfs_ovl_file *fh, int datasync);
/* Syncs the directory's upper copy (entries created, renamed, removed);
 * a directory that exists only below has nothing to sync. */
int lfs_ovl_fsyncdir(lfs_ovl *o, uint64_t id, int datasync);
int lfs_ovl_fallocate(lfs_ovl *o, lfs_ovl_file *fh, int mode, off_t off, off_t len);
/* The upper descriptor of an open file, -1 for a lower one (read only). */
int lfs_ovl_file_fd(const lfs_ovl_file *fh);
void lfs_ovl_release(lfs_ovl *o, lfs_ovl_file *fh);

/* Directory listing: a snapshot taken by each readdir from offset 0 (so
 * rewinddir sees what is there now); cookies as lfs_union_readdir. */
int lfs_ovl_opendir(lfs_ovl *o, uint64_t id, lfs_ovl_dir **dh);
int lfs_ovl_readdir(lfs_ovl *o, lfs_ovl_dir *dh, uint64_t off, lfs_union_dir_fn fn, void *ctx);
void lfs_ovl_releasedir(lfs_ovl *o, lfs_ovl_dir *dh);

ssize_t lfs_ovl_getxattr(lfs_ovl *o, uint64_t id, const char *name, void *buf, size_t size);
ssize_t lfs_ovl_listxattr(lfs_ovl *o, uint64_t id, char *buf, size_t size);
int lfs_ovl_setxattr(lfs_ovl *o, uint64_t id, const char *name, const void *value, size_t size,
		     int flags);
int lfs_ovl_removexattr(lfs_ovl *o, uint64_t id, const char *name);
int lfs_ovl_statfs(lfs_ovl *o, struct statvfs *st);

#endif
