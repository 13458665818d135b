/* Private to the FUSE adapter (fuse_ll.c: read-only union, fuse_rw.c:
 * writable overlay); includes fuse_lowlevel.h, so nothing else may. */
#ifndef LFS_FUSE_I_H
#define LFS_FUSE_I_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

#include "union.h"

/* Accumulates directory entries into one reply buffer. */
struct dirbuf {
	fuse_req_t req;
	int plus;
	/* readdirplus: fills e for entry name (listed with id), taking a
	 * lookup reference; returns 0, 1 to leave the entry out (gone since
	 * the listing), or -errno.  unfill gives the reference back when the
	 * entry does not fit in the reply after all (NULL: nothing to undo). */
	int (*fill)(struct dirbuf *d, const char *name, uint64_t id, struct fuse_entry_param *e);
	void (*unfill)(struct dirbuf *d, const struct fuse_entry_param *e);
	void *arg;    /* for fill: the union or the overlay */
	uint64_t dir; /* the directory listed */
	char *buf;
	size_t size, used;
	int err;
};

/* lfs_union_dir_fn adding one entry to a struct dirbuf; returns 1 when full. */
int lfs_fuse_add_dirent(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie);
/* A per-thread buffer of at least size bytes for read replies. */
char *lfs_fuse_read_buf(size_t size);
/* Replies to getxattr/listxattr: n < 0 error, size 0 = length query. */
void lfs_fuse_reply_xattr(fuse_req_t req, ssize_t n, size_t size, const char *buf);

extern const struct fuse_lowlevel_ops lfs_fuse_rw_ops;

#endif
