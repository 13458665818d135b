/* lfs_fuse — libfuse3 low-level adapter over lfs_union (see fuse_ll.h).
 *
 * The tree is immutable, so the kernel may cache everything for as long
 * as it likes: long entry/attr timeouts, negative entries, keep_cache,
 * cached directory listings and symlinks, readdirplus.  Nodes are never
 * freed while mounted, so lookup counts (forget) need no bookkeeping.
 */
#define FUSE_USE_VERSION 312
#include "fuse_ll.h"
#include "fuse_i.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define CACHE_TIMEOUT 86400.0

static lfs_union *U(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void ll_init(void *data, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Immutable data: no need to re-validate the page cache on open. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static int fill_entry(lfs_union *u, uint64_t id, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	int ret = lfs_union_getattr(u, id, &e->attr);
	if (ret)
		return ret;
	e->ino = id;
	e->generation = 1;
	e->attr_timeout = CACHE_TIMEOUT;
	e->entry_timeout = CACHE_TIMEOUT;
	return 0;
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t id;
	struct fuse_entry_param e;
	int ret = lfs_union_lookup(U(req), parent, name, &id);
	if (ret == -ENOENT) {
		/* A negative entry: the name will never appear. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = CACHE_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	if (!ret)
		ret = fill_entry(U(req), id, &e);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = lfs_union_getattr(U(req), ino, &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	lfs_buf b = LFS_BUF_INIT;
	int ret = lfs_union_readlink(U(req), ino, &b);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_readlink(req, b.data);
	lfs_buf_release(&b);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = lfs_union_getattr(U(req), ino, &st);
	if (!ret && !S_ISDIR(st.st_mode))
		ret = -ENOTDIR;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

int lfs_fuse_add_dirent(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct dirbuf *d = ctx;
	size_t rem = d->size - d->used, n;
	if (d->plus) {
		struct fuse_entry_param e;
		int dot = name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
		if (dot) {
			/* No lookup count is taken for . and ..: only the type matters. */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = id;
			e.attr.st_mode = type;
		} else {
			int r = d->fill(d, name, id, &e);
			if (r > 0)
				return 0;
			if (r < 0) {
				d->err = r;
				return 1;
			}
		}
		n = fuse_add_direntry_plus(d->req, d->buf + d->used, rem, name, &e, (off_t)cookie);
		if (n > rem && !dot && d->unfill)
			d->unfill(d, &e);
	} else {
		struct stat st = {.st_ino = id, .st_mode = type};
		n = fuse_add_direntry(d->req, d->buf + d->used, rem, name, &st, (off_t)cookie);
	}
	if (n > rem)
		return 1; /* full: this entry is sent by the next call */
	d->used += n;
	return 0;
}

static int fill_plus(struct dirbuf *d, const char *name, uint64_t id, struct fuse_entry_param *e)
{
	return fill_entry(d->arg, id, e);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct dirbuf d = {.req = req,
			   .plus = plus,
			   .fill = fill_plus,
			   .arg = U(req),
			   .dir = ino,
			   .buf = malloc(size),
			   .size = size};
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int ret = lfs_union_readdir(U(req), ino, (uint64_t)off, lfs_fuse_add_dirent, &d);
	if (!ret && d.err && d.used == 0)
		ret = d.err;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, 0);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, 1);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = lfs_union_getattr(U(req), ino, &st);
	if (!ret && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	if (!ret && (fi->flags & O_ACCMODE) != O_RDONLY)
		ret = -EROFS;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* Read buffers are per thread: a fresh malloc of 128 KiB per request would
 * mmap/munmap each time.  The destructor frees them when an idle worker
 * thread exits. */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_make_key(void)
{
	pthread_key_create(&read_buf_key, lfs_buf_free_ptr);
}

char *lfs_fuse_read_buf(size_t size)
{
	pthread_once(&read_buf_once, read_buf_make_key);
	lfs_buf *b = pthread_getspecific(read_buf_key);
	if (!b) {
		b = lfs_xcalloc(1, sizeof(*b));
		lfs_buf_init(b, size);
		pthread_setspecific(read_buf_key, b);
	}
	lfs_buf_reset(b);
	lfs_buf_grow(b, size);
	return b->data;
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf = lfs_fuse_read_buf(size);
	ssize_t n = lfs_union_read(U(req), ino, buf, size, (uint64_t)off);
	if (n < 0) {
		if (n == -EIO)
			fuse_log(FUSE_LOG_ERR, "layerfs: read of inode %llu at %lld failed: "
					       "layer data missing or corrupt\n",
				 (unsigned long long)ino, (long long)off);
		fuse_reply_err(req, (int)-n);
	} else {
		fuse_reply_buf(req, buf, (size_t)n);
	}
}

void lfs_fuse_reply_xattr(fuse_req_t req, ssize_t n, size_t size, const char *buf)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = lfs_union_getxattr(U(req), ino, name, buf, size);
	lfs_fuse_reply_xattr(req, n, size, buf);
	free(buf);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = lfs_union_listxattr(U(req), ino, buf, size);
	lfs_fuse_reply_xattr(req, n, size, buf);
	free(buf);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int ret = lfs_union_statfs(U(req), &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_statfs(req, &st);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
}

static const struct fuse_lowlevel_ops ll_ops = {
	.init = ll_init,
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.readlink = ll_readlink,
	.opendir = ll_opendir,
	.readdir = ll_readdir,
	.readdirplus = ll_readdirplus,
	.releasedir = ll_release,
	.open = ll_open,
	.read = ll_read,
	.release = ll_release,
	.getxattr = ll_getxattr,
	.listxattr = ll_listxattr,
	.statfs = ll_statfs,
	.access = ll_access,
};

__attribute__((format(printf, 2, 0))) static void log_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static int set_err(char **err, int ret, const char *fmt, ...)
{
	lfs_buf m = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	*err = lfs_buf_detach(&m, NULL);
	return ret;
}

static void build_args(struct fuse_args *args, const struct lfs_fuse_opts *o, int writable)
{
	lfs_buf opt = LFS_BUF_INIT;
	fuse_opt_add_arg(args, "layerfs");
	if (o->debug)
		fuse_opt_add_arg(args, "-d");
	lfs_buf_addstr(&opt, writable ? "rw" : "ro");
	lfs_buf_addstr(&opt, ",default_permissions,subtype=layerfs,fsname=");
	/* fsname is a mount option value: commas would split it. */
	for (const char *p = o->fsname ? o->fsname : "layerfs"; *p; p++)
		lfs_buf_addch(&opt, *p == ',' ? '_' : *p);
	if (o->allow_other > 0 || (o->allow_other < 0 && geteuid() == 0))
		lfs_buf_addstr(&opt, ",allow_other");
	if (o->suid)
		lfs_buf_addstr(&opt, ",suid");
	fuse_opt_add_arg(args, "-o");
	fuse_opt_add_arg(args, opt.data);
	lfs_buf_release(&opt);
}

/* Parent: returns 1 at once.  Child: detaches from the terminal. */
static int detach(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		return 1;
	setsid();
	if (chdir("/") < 0)
		return -errno;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	openlog("layerfs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(log_syslog);
	return 0;
}

static int serve(struct fuse_session *se, const struct lfs_fuse_opts *o)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, 10);
	if (o->max_threads)
		fuse_loop_cfg_set_max_threads(cfg, o->max_threads);
	int ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret < 0 ? ret : 0;
}

/* Upper directories keep an O_PATH descriptor while the kernel knows
 * them: the serving process may use as many as the hard limit allows. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The kernel caches attributes and pages per inode: drop them for an
 * inode the overlay changed behind its back. */
static void inval_inode(void *arg, uint64_t id)
{
	fuse_lowlevel_notify_inval_inode(arg, id, 0, 0);
}

int lfs_fuse_serve(lfs_union *u, lfs_ovl *ovl, const char *mountpoint,
		   const struct lfs_fuse_opts *opts, char **err)
{
	*err = NULL;
	struct stat st;
	if (stat("/dev/fuse", &st) < 0 || !S_ISCHR(st.st_mode))
		return set_err(err, -ENODEV,
			       "/dev/fuse is missing: install the fuse3 package and load the fuse "
			       "kernel module (modprobe fuse)%s",
			       "");
	/* Without root, libfuse and fusermount3 both open /dev/fuse with the
	 * caller's identity: it must be 0666, as udev normally makes it. */
	if (geteuid() != 0 && access("/dev/fuse", R_OK | W_OK) < 0)
		return set_err(err, -EACCES,
			       "/dev/fuse is not accessible to uid %u (mode %04o): mounting without "
			       "root needs it world-readable and -writable; ask an administrator "
			       "to run 'chmod 0666 /dev/fuse' (the usual permission)",
			       (unsigned)geteuid(), (unsigned)(st.st_mode & 07777));
	if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) < 0 &&
	    access("/bin/fusermount3", X_OK) < 0)
		return set_err(err, -ENOENT,
			       "fusermount3 is missing: mounting without root needs it (install "
			       "the fuse3 package)%s",
			       "");
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	build_args(&args, opts, ovl != NULL);
	struct fuse_session *se =
		ovl ? fuse_session_new(&args, &lfs_fuse_rw_ops, sizeof(lfs_fuse_rw_ops), ovl)
		    : fuse_session_new(&args, &ll_ops, sizeof(ll_ops), u);
	fuse_opt_free_args(&args);
	if (!se)
		return set_err(err, -EINVAL, "cannot start a FUSE session for '%s'", mountpoint);
	if (ovl)
		lfs_ovl_set_notify(ovl, inval_inode, se);
	int ret = 0;
	if (fuse_set_signal_handlers(se) < 0) {
		ret = set_err(err, -EIO, "cannot install signal handlers for '%s'", mountpoint);
		goto out_destroy;
	}
	if (fuse_session_mount(se, mountpoint) < 0) {
		ret = set_err(err, -EIO,
			      "cannot mount on '%s': check that it is an existing directory you "
			      "own, not already mounted, and that fusermount3 is installed",
			      mountpoint);
		goto out_signals;
	}
	if (!opts->foreground && !opts->debug) {
		ret = detach();
		if (ret == 1)
			goto out_signals; /* parent: the mount belongs to the child now */
	}
	if (ovl)
		raise_nofile_limit();
	if (opts->on_mounted)
		opts->on_mounted(opts->on_mounted_arg);
	ret = serve(se, opts);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se); /* the parent's copy only: the child keeps the mount */
	return ret;
}
