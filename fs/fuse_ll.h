/* lfs_fuse — the libfuse3 low-level adapter.  The only code that includes
 * fuse_lowlevel.h: it translates kernel requests into lfs_union calls and
 * replies once, at this edge, with fuse_reply_err(req, -ret).
 */
#ifndef LFS_FUSE_LL_H
#define LFS_FUSE_LL_H

#include "ovl.h"
#include "union.h"

struct lfs_fuse_opts {
	int foreground;         /* stay attached; otherwise detach once mounted */
	int debug;              /* libfuse request tracing (implies foreground) */
	int allow_other;        /* -1: when root; 0/1: as given */
	int suid;               /* honour set-user-ID bits (else nosuid) */
	const char *fsname;     /* the source column of /proc/mounts */
	unsigned max_threads;   /* 0: libfuse default */
	/* Called in the serving process once the mount exists, before the
	 * first request (after detaching); may be NULL. */
	void (*on_mounted)(void *arg);
	void *on_mounted_arg;
};

/* Mounts u read-only (ovl NULL), or ovl writable, at mountpoint and
 * serves requests until it is
 * unmounted (or SIGINT/SIGTERM/SIGHUP).  Unless opts->foreground, the
 * process forks once the kernel mount exists: the parent returns 1
 * (its caller should exit 0 at once), the child serves and returns 0 when
 * the filesystem is unmounted.  A writable mount's serving process raises
 * its RLIMIT_NOFILE soft limit to the hard one (the overlay keeps a
 * descriptor per upper directory the kernel knows).  Errors before the
 * mount exists return -errno with a message in *err (caller frees),
 * naming the mountpoint and what to do (e.g. "/dev/fuse is missing:
 * install fuse3 / load the fuse module"). */
int lfs_fuse_serve(lfs_union *u, lfs_ovl *ovl, const char *mountpoint,
		   const struct lfs_fuse_opts *opts, char **err);

#endif
