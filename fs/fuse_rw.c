/* lfs_fuse — requests on a writable mount, translated into lfs_ovl calls.
 *
 * Only this process changes the upper directory while it is mounted, and
 * every change goes through a request whose reply updates the kernel's
 * view, so moderate cache timeouts are safe.
 */
#include "fuse_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "ovl.h"

#define RW_TIMEOUT 1.0

static lfs_ovl *O(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static lfs_ovl_file *FH(const struct fuse_file_info *fi)
{
	return (lfs_ovl_file *)(uintptr_t)fi->fh;
}

static struct lfs_ovl_cred cred_of(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	return (struct lfs_ovl_cred){c->uid, c->gid};
}

static void reply_entry(fuse_req_t req, int ret, uint64_t id, const struct stat *st)
{
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	struct fuse_entry_param e = {.ino = id, .generation = 1, .attr = *st,
				     .attr_timeout = RW_TIMEOUT, .entry_timeout = RW_TIMEOUT};
	fuse_reply_entry(req, &e);
}

/* Readdirplus: the kernel gets each entry's attributes with the listing,
 * so rm -rf or ls -l need no LOOKUP per entry. */
static void rw_init(void *data, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
}

static void rw_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t id;
	struct stat st;
	int ret = lfs_ovl_lookup(O(req), parent, name, &id, &st);
	if (ret == -ENOENT) {
		struct fuse_entry_param e = {.entry_timeout = RW_TIMEOUT};
		fuse_reply_entry(req, &e); /* negative entry */
		return;
	}
	reply_entry(req, ret, id, &st);
}

static void rw_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lfs_ovl_forget(O(req), ino, nlookup);
	fuse_reply_none(req);
}

static void rw_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		lfs_ovl_forget(O(req), f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void rw_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = lfs_ovl_getattr(O(req), ino, &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, RW_TIMEOUT);
}

static unsigned set_flags(int to_set)
{
	static const struct {
		int fuse;
		unsigned ovl;
	} map[] = {
		{FUSE_SET_ATTR_MODE, LFS_OVL_SET_MODE},	  {FUSE_SET_ATTR_UID, LFS_OVL_SET_UID},
		{FUSE_SET_ATTR_GID, LFS_OVL_SET_GID},	  {FUSE_SET_ATTR_SIZE, LFS_OVL_SET_SIZE},
		{FUSE_SET_ATTR_ATIME, LFS_OVL_SET_ATIME}, {FUSE_SET_ATTR_MTIME, LFS_OVL_SET_MTIME},
		{FUSE_SET_ATTR_ATIME_NOW, LFS_OVL_SET_ATIME_NOW},
		{FUSE_SET_ATTR_MTIME_NOW, LFS_OVL_SET_MTIME_NOW},
		{FUSE_SET_ATTR_CTIME, LFS_OVL_SET_CTIME},
	};
	unsigned set = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			set |= map[i].ovl;
	return set;
}

static void rw_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int ret = lfs_ovl_setattr(O(req), ino, attr, set_flags(to_set), fi ? FH(fi) : NULL, &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, RW_TIMEOUT);
}

static void rw_readlink(fuse_req_t req, fuse_ino_t ino)
{
	lfs_buf b = LFS_BUF_INIT;
	int ret = lfs_ovl_readlink(O(req), ino, &b);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_readlink(req, b.data);
	lfs_buf_release(&b);
}

static void rw_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	uint64_t id;
	struct stat st;
	struct lfs_ovl_cred c = cred_of(req);
	int ret = lfs_ovl_mknod(O(req), parent, name, mode, rdev, &c, &id, &st);
	reply_entry(req, ret, id, &st);
}

static void rw_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	uint64_t id;
	struct stat st;
	struct lfs_ovl_cred c = cred_of(req);
	int ret = lfs_ovl_mkdir(O(req), parent, name, mode, &c, &id, &st);
	reply_entry(req, ret, id, &st);
}

static void rw_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	uint64_t id;
	struct stat st;
	struct lfs_ovl_cred c = cred_of(req);
	int ret = lfs_ovl_symlink(O(req), parent, name, target, &c, &id, &st);
	reply_entry(req, ret, id, &st);
}

static void rw_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct stat st;
	int ret = lfs_ovl_link(O(req), ino, newparent, newname, &st);
	reply_entry(req, ret, ino, &st);
}

static void rw_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -lfs_ovl_unlink(O(req), parent, name));
}

static void rw_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -lfs_ovl_rmdir(O(req), parent, name));
}

static void rw_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, -lfs_ovl_rename(O(req), parent, name, newparent, newname, flags));
}

static void rw_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lfs_ovl_file *fh;
	int ret = lfs_ovl_open(O(req), ino, fi->flags, &fh);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	/* Lower files never change while open read-only; written ones may. */
	fi->keep_cache = lfs_ovl_file_fd(fh) < 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		lfs_ovl_release(O(req), fh); /* interrupted */
}

static void rw_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	uint64_t id;
	struct stat st;
	lfs_ovl_file *fh;
	struct lfs_ovl_cred c = cred_of(req);
	int ret = lfs_ovl_create(O(req), parent, name, mode, fi->flags, &c, &id, &st, &fh);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	struct fuse_entry_param e = {.ino = id, .generation = 1, .attr = st,
				     .attr_timeout = RW_TIMEOUT, .entry_timeout = RW_TIMEOUT};
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		lfs_ovl_release(O(req), fh);
}

static void rw_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf = lfs_fuse_read_buf(size);
	ssize_t n = lfs_ovl_read(O(req), FH(fi), buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void rw_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n = lfs_ovl_write(O(req), FH(fi), buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void rw_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lfs_ovl_release(O(req), FH(fi));
	fuse_reply_err(req, 0);
}

static void rw_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -lfs_ovl_fsync(O(req), FH(fi), datasync));
}

static void rw_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lfs_ovl_dir *dh;
	int ret = lfs_ovl_opendir(O(req), ino, &dh);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dh;
	if (fuse_reply_open(req, fi) == -ENOENT)
		lfs_ovl_releasedir(O(req), dh);
}

/* A readdirplus entry is a lookup: it takes a reference the kernel will
 * forget.  A name removed since the listing was taken is left out. */
static int rw_fill(struct dirbuf *d, const char *name, uint64_t id, struct fuse_entry_param *e)
{
	uint64_t nid;
	struct stat st;
	int ret = lfs_ovl_lookup(d->arg, d->dir, name, &nid, &st);
	if (ret)
		return ret == -ENOENT ? 1 : ret;
	*e = (struct fuse_entry_param){.ino = nid,
				       .generation = 1,
				       .attr = st,
				       .attr_timeout = RW_TIMEOUT,
				       .entry_timeout = RW_TIMEOUT};
	return 0;
}

static void rw_unfill(struct dirbuf *d, const struct fuse_entry_param *e)
{
	lfs_ovl_forget(d->arg, e->ino, 1);
}

static void do_rw_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi, int plus)
{
	struct dirbuf d = {.req = req,
			   .plus = plus,
			   .fill = rw_fill,
			   .unfill = rw_unfill,
			   .arg = O(req),
			   .dir = ino,
			   .buf = malloc(size),
			   .size = size};
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lfs_ovl_dir *dh = (lfs_ovl_dir *)(uintptr_t)fi->fh;
	int ret = lfs_ovl_readdir(O(req), dh, (uint64_t)off, lfs_fuse_add_dirent, &d);
	if (!ret && d.err && d.used == 0)
		ret = d.err;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void rw_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_rw_readdir(req, ino, size, off, fi, 0);
}

static void rw_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_rw_readdir(req, ino, size, off, fi, 1);
}

static void rw_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lfs_ovl_releasedir(O(req), (lfs_ovl_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void rw_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -lfs_ovl_fsyncdir(O(req), ino, datasync));
}

static void rw_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int ret = lfs_ovl_statfs(O(req), &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_statfs(req, &st);
}

static void rw_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, -lfs_ovl_setxattr(O(req), ino, name, value, size, flags));
}

static void rw_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lfs_fuse_reply_xattr(req, lfs_ovl_getxattr(O(req), ino, name, buf, size), size, buf);
	free(buf);
}

static void rw_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lfs_fuse_reply_xattr(req, lfs_ovl_listxattr(O(req), ino, buf, size), size, buf);
	free(buf);
}

static void rw_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, -lfs_ovl_removexattr(O(req), ino, name));
}

static void rw_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, -lfs_ovl_fallocate(O(req), FH(fi), mode, off, len));
}

const struct fuse_lowlevel_ops lfs_fuse_rw_ops = {
	.init = rw_init,
	.lookup = rw_lookup,
	.forget = rw_forget,
	.forget_multi = rw_forget_multi,
	.getattr = rw_getattr,
	.setattr = rw_setattr,
	.readlink = rw_readlink,
	.mknod = rw_mknod,
	.mkdir = rw_mkdir,
	.symlink = rw_symlink,
	.link = rw_link,
	.unlink = rw_unlink,
	.rmdir = rw_rmdir,
	.rename = rw_rename,
	.open = rw_open,
	.create = rw_create,
	.read = rw_read,
	.write = rw_write,
	/* No .flush: nothing to do at close(), and the kernel stops sending
	 * FLUSH after the first ENOSYS (one request less per file closed). */
	.release = rw_release,
	.fsync = rw_fsync,
	.opendir = rw_opendir,
	.readdir = rw_readdir,
	.readdirplus = rw_readdirplus,
	.releasedir = rw_releasedir,
	.fsyncdir = rw_fsyncdir,
	.statfs = rw_statfs,
	.setxattr = rw_setxattr,
	.getxattr = rw_getxattr,
	.listxattr = rw_listxattr,
	.removexattr = rw_removexattr,
	.fallocate = rw_fallocate,
};
