/* lfs_ovl — writable merged tree over a read-only lfs_union (see ovl.h).
 *
 * Model: inodes (what the kernel holds node ids for) and dentries (the
 * names of an inode in its parent).  Dentries are cached for as long as
 * their name exists: only this process changes the upper directory while it
 * is mounted, so the cache never goes stale.  An inode is either
 *  - upper: it exists in the upper directory, found through any of its
 *    names as (parent directory fd, name) — hard links are several names
 *    of one inode, found by (st_dev, st_ino) of the upper file; or
 *  - lower-only: it exists only in the lower union at its one path.
 * Directories may be both: an upper directory merges the lower directory
 * at its path (`lower`) unless it is opaque.
 * Upper directories keep an O_PATH descriptor once used; every call into
 * the upper is relative to one of those (no joined path strings).
 */
#include "ovl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "upper.h"

struct oino;

struct dent {
	struct oino *parent;
	char *name;
	struct oino *ino;
	struct dent *hnext; /* dentry hash chain */
	struct dent *anext; /* next name of the same inode */
};

struct oino {
	uint64_t nlookup;
	mode_t type;     /* S_IFMT bits */
	uint64_t lower;  /* union id at this path: data of lower-only files, merge source of dirs */
	int upper;       /* present in the upper directory */
	int opaque;      /* directory: lower contents hidden */
	int metacopy;    /* upper regular file whose data is still `lower`'s (upper.h) */
	int unlinked;    /* no names left */
	dev_t udev;      /* upper identity, when upper */
	ino_t uino;
	ino_t st_ino;    /* what stat reports, fixed for the inode's life */
	int dirfd;       /* upper directories: O_PATH descriptor, -1 until used */
	unsigned nopen;  /* open file handles */
	unsigned nchild; /* dentries whose parent is this inode */
	struct dent *aliases;
	struct oino *unext; /* upper identity hash chain */
	struct oino *prev, *next; /* all inodes, for lfs_ovl_free */
	struct lfs_ovl_file *files;
	struct stat *gone; /* attributes when its last name went (nlink 0) */
};

struct lfs_ovl_file {
	struct oino *ino;
	int fd;         /* upper file, or -1: read the lower */
	uint64_t lower; /* lower union id when fd < 0 */
	struct lfs_ovl_file *next;
};

struct dirent_s {
	char *name;
	mode_t type;
	ino_t ino;
};

struct lfs_ovl_dir {
	struct oino *ino;
	size_t n;
	struct dirent_s *ents;
};

struct lfs_ovl {
	lfs_union *lower;
	int upper_fd; /* O_PATH */
	int work_fd;  /* O_PATH */
	struct oino *root;
	pthread_mutex_t lock;
	struct dent **dhash;
	size_t dcap, dcount;
	struct oino **uhash;
	size_t ucap, ucount;
	uint64_t tmp_seq;
	int is_root; /* may chown and mknod whiteouts */
	int no_shared_wh; /* whiteouts cannot be links to one device (make_whiteout) */
	int no_metacopy;  /* lfs_ovl_set_metacopy(o, 0) */
	int userns;  /* in a user namespace: some ids cannot be owners */
	struct oino all; /* list head of all inodes */
	void (*notify)(void *arg, uint64_t id);
	void *notify_arg;
};

#define UPPER_INO_BIT (1ULL << 63)

/* ------------------------------------------------------------ hashing */

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static uint64_t dhash_key(const struct oino *parent, const char *name)
{
	uint64_t h = mix((uint64_t)(uintptr_t)parent);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

static void dhash_grow(lfs_ovl *o)
{
	size_t ncap = o->dcap ? o->dcap * 2 : 1024;
	struct dent **nh = lfs_xcalloc(ncap, sizeof(*nh));
	for (size_t i = 0; i < o->dcap; i++) {
		for (struct dent *d = o->dhash[i], *next; d; d = next) {
			next = d->hnext;
			size_t b = dhash_key(d->parent, d->name) & (ncap - 1);
			d->hnext = nh[b];
			nh[b] = d;
		}
	}
	free(o->dhash);
	o->dhash = nh;
	o->dcap = ncap;
}

static struct dent *dcache_find(lfs_ovl *o, const struct oino *parent, const char *name)
{
	if (!o->dcap)
		return NULL;
	for (struct dent *d = o->dhash[dhash_key(parent, name) & (o->dcap - 1)]; d; d = d->hnext)
		if (d->parent == parent && !strcmp(d->name, name))
			return d;
	return NULL;
}

static struct dent *dent_add(lfs_ovl *o, struct oino *parent, const char *name, struct oino *ino)
{
	if ((o->dcount + 1) * 2 > o->dcap)
		dhash_grow(o);
	struct dent *d = lfs_xcalloc(1, sizeof(*d));
	d->parent = parent;
	d->name = lfs_xstrdup(name);
	d->ino = ino;
	size_t b = dhash_key(parent, name) & (o->dcap - 1);
	d->hnext = o->dhash[b];
	o->dhash[b] = d;
	d->anext = ino->aliases;
	ino->aliases = d;
	ino->unlinked = 0;
	parent->nchild++;
	o->dcount++;
	return d;
}

static void maybe_free(lfs_ovl *o, struct oino *ino);

/* Unhooks d from the hash, its inode and its parent, then frees it. */
static void dent_drop(lfs_ovl *o, struct dent *d)
{
	struct dent **pp = &o->dhash[dhash_key(d->parent, d->name) & (o->dcap - 1)];
	while (*pp != d)
		pp = &(*pp)->hnext;
	*pp = d->hnext;
	for (pp = &d->ino->aliases; *pp != d; pp = &(*pp)->anext)
		;
	*pp = d->anext;
	struct oino *ino = d->ino, *parent = d->parent;
	if (!ino->aliases)
		ino->unlinked = 1;
	parent->nchild--;
	o->dcount--;
	free(d->name);
	free(d);
	maybe_free(o, ino);
	maybe_free(o, parent);
}

static size_t uhash_bucket(const lfs_ovl *o, dev_t dev, ino_t ino)
{
	return mix((uint64_t)dev * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ino) & (o->ucap - 1);
}

static void uhash_add(lfs_ovl *o, struct oino *ino)
{
	if ((o->ucount + 1) * 2 > o->ucap) {
		size_t ocap = o->ucap;
		struct oino **old = o->uhash;
		o->ucap = ocap ? ocap * 2 : 1024;
		o->uhash = lfs_xcalloc(o->ucap, sizeof(*o->uhash));
		for (size_t i = 0; i < ocap; i++) {
			for (struct oino *p = old[i], *next; p; p = next) {
				next = p->unext;
				size_t b = uhash_bucket(o, p->udev, p->uino);
				p->unext = o->uhash[b];
				o->uhash[b] = p;
			}
		}
		free(old);
	}
	size_t b = uhash_bucket(o, ino->udev, ino->uino);
	ino->unext = o->uhash[b];
	o->uhash[b] = ino;
	o->ucount++;
}

static struct oino *uhash_find(lfs_ovl *o, dev_t dev, ino_t uino)
{
	if (!o->ucap)
		return NULL;
	for (struct oino *p = o->uhash[uhash_bucket(o, dev, uino)]; p; p = p->unext)
		if (p->udev == dev && p->uino == uino)
			return p;
	return NULL;
}

static void uhash_del(lfs_ovl *o, struct oino *ino)
{
	if (!o->ucap)
		return;
	for (struct oino **pp = &o->uhash[uhash_bucket(o, ino->udev, ino->uino)]; *pp;
	     pp = &(*pp)->unext) {
		if (*pp == ino) {
			*pp = ino->unext;
			o->ucount--;
			return;
		}
	}
}

/* ------------------------------------------------------------ inodes */

static struct oino *ino_new(lfs_ovl *o, mode_t type)
{
	struct oino *ino = lfs_xcalloc(1, sizeof(*ino));
	ino->type = type & S_IFMT;
	ino->dirfd = -1;
	ino->next = o->all.next;
	ino->prev = &o->all;
	o->all.next->prev = ino;
	o->all.next = ino;
	return ino;
}

static void ino_destroy(struct oino *ino)
{
	ino->prev->next = ino->next;
	ino->next->prev = ino->prev;
	free(ino->gone);
	if (ino->dirfd >= 0)
		close(ino->dirfd);
	free(ino);
}

static void set_upper(lfs_ovl *o, struct oino *ino, const struct stat *st)
{
	if (ino->upper)
		uhash_del(o, ino);
	ino->upper = 1;
	ino->udev = st->st_dev;
	ino->uino = st->st_ino;
	if (!ino->st_ino)
		ino->st_ino = UPPER_INO_BIT | st->st_ino;
	uhash_add(o, ino);
}

static void maybe_free(lfs_ovl *o, struct oino *ino)
{
	if (ino == o->root || ino->nlookup || ino->aliases || ino->nopen || ino->nchild)
		return;
	if (ino->upper)
		uhash_del(o, ino);
	ino_destroy(ino);
}

static struct oino *ino_of(lfs_ovl *o, uint64_t id)
{
	return id == LFS_OVL_ROOT ? o->root : (struct oino *)(uintptr_t)id;
}

static uint64_t id_of(lfs_ovl *o, struct oino *ino)
{
	return ino == o->root ? LFS_OVL_ROOT : (uint64_t)(uintptr_t)ino;
}

/* The O_PATH descriptor of an upper directory inode. */
static int dir_fd(lfs_ovl *o, struct oino *ino)
{
	if (ino == o->root)
		return o->upper_fd;
	if (ino->dirfd >= 0)
		return ino->dirfd;
	if (!ino->upper || !ino->aliases)
		return -ENOENT;
	int pfd = dir_fd(o, ino->aliases->parent);
	if (pfd < 0)
		return pfd;
	int fd = openat(pfd, ino->aliases->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ino->dirfd = fd;
	return fd;
}

/* Parent directory descriptor and name of an upper inode (its first name). */
static int upper_loc(lfs_ovl *o, struct oino *ino, int *pfd, const char **name)
{
	if (!ino->aliases)
		return -ESTALE;
	int fd = dir_fd(o, ino->aliases->parent);
	if (fd < 0)
		return fd;
	*pfd = fd;
	*name = ino->aliases->name;
	return 0;
}

/* "/proc/self/fd/N/name": a path for the calls that have no *at() form
 * (xattrs); it resolves through the directory descriptor, not a string. */
static void proc_path(lfs_buf *b, int dirfd, const char *name)
{
	lfs_buf_reset(b);
	lfs_buf_addf(b, "/proc/self/fd/%d%s%s", dirfd, name ? "/" : "", name ? name : "");
}

/* The lower entry named `name` under directory inode dir, if visible. */
static uint64_t lower_child(lfs_ovl *o, struct oino *dir, const char *name)
{
	uint64_t id;
	if (!o->lower || !dir->lower || dir->opaque)
		return 0;
	return lfs_union_lookup(o->lower, dir->lower, name, &id) == 0 ? id : 0;
}

static int is_internal_name(const char *name)
{
	return !strncmp(name, LFS_WH_PREFIX, LFS_WH_PREFIX_LEN);
}

/* The lower entry an upper entry stands on (an upper directory merges it, a
 * metacopy file reads its data): the one at its own path, or where kernel
 * overlayfs's redirect xattr points (an entry it renamed without copying:
 * an absolute path from the root, or a name in the parent's lower
 * directory). */
static uint64_t upper_source(lfs_ovl *o, struct oino *dir, int pfd, const char *name)
{
	static const char *const redirect[] = {"trusted.overlay.redirect", "user.overlay.redirect"};
	lfs_buf path = LFS_BUF_INIT;
	char target[PATH_MAX];
	ssize_t n = -1;
	proc_path(&path, pfd, name);
	for (size_t i = 0; i < 2 && n < 0; i++)
		n = lgetxattr(path.data, redirect[i], target, sizeof(target) - 1);
	lfs_buf_release(&path);
	if (n <= 0 || !o->lower)
		return lower_child(o, dir, name);
	target[n] = '\0';
	uint64_t id;
	if (target[0] == '/')
		return lfs_union_resolve(o->lower, target, 0, &id) == 0 ? id : 0;
	return lower_child(o, dir, target);
}

/* A metacopy file found in the upper: its data is the lower regular file
 * it stands on; without one, reading it fails (EIO), as in the kernel. */
static void metacopy_source(lfs_ovl *o, struct oino *ino, struct oino *dir, int pfd,
			    const char *name)
{
	struct stat lst;
	uint64_t low = upper_source(o, dir, pfd, name);
	ino->metacopy = 1;
	ino->lower =
	    low && !lfs_union_getattr(o->lower, low, &lst) && S_ISREG(lst.st_mode) ? low : 0;
}

/* Looks up name in dir without taking a lookup reference. */
static int lookup_locked(lfs_ovl *o, struct oino *dir, const char *name, struct oino **out)
{
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	struct dent *d = dcache_find(o, dir, name);
	if (d) {
		*out = d->ino;
		return 0;
	}
	if (is_internal_name(name))
		return -ENOENT;
	struct stat st;
	if (dir->upper) {
		int pfd = dir_fd(o, dir);
		if (pfd < 0)
			return pfd;
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			const char *hidden;
			if (lfs_upper_classify(name, &st, &hidden) != LFS_UPPER_ENTRY)
				return -ENOENT;
			struct oino *ino = S_ISDIR(st.st_mode) ? NULL : uhash_find(o, st.st_dev, st.st_ino);
			if (!ino) {
				ino = ino_new(o, st.st_mode);
				set_upper(o, ino, &st);
				if (S_ISREG(st.st_mode) && o->lower &&
				    lfs_upper_is_metacopy(pfd, name))
					metacopy_source(o, ino, dir, pfd, name);
				if (S_ISDIR(st.st_mode)) {
					uint64_t low = upper_source(o, dir, pfd, name);
					struct stat lst;
					if (low && !lfs_union_getattr(o->lower, low, &lst) &&
					    S_ISDIR(lst.st_mode))
						ino->lower = low;
					dent_add(o, dir, name, ino);
					int fd = dir_fd(o, ino);
					ino->opaque = fd >= 0 && lfs_upper_is_opaque(fd);
					*out = ino;
					return 0;
				}
			}
			dent_add(o, dir, name, ino);
			*out = ino;
			return 0;
		}
		if (errno != ENOENT)
			return -errno;
	}
	uint64_t low = lower_child(o, dir, name);
	if (!low)
		return -ENOENT;
	if (dir->upper) {
		/* A ".wh." whiteout matters only for a name the lower has; fstatat
		 * of a too long ".wh." name fails: no such whiteout. */
		lfs_buf wh = LFS_BUF_INIT;
		lfs_buf_addf(&wh, "%s%s", LFS_WH_PREFIX, name);
		int whited = fstatat(dir_fd(o, dir), wh.data, &st, AT_SYMLINK_NOFOLLOW) == 0;
		lfs_buf_release(&wh);
		if (whited)
			return -ENOENT;
	}
	int ret = lfs_union_getattr(o->lower, low, &st);
	if (ret)
		return ret;
	struct oino *ino = ino_new(o, st.st_mode);
	ino->lower = low;
	ino->st_ino = st.st_ino;
	dent_add(o, dir, name, ino);
	*out = ino;
	return 0;
}

static void apply_override(lfs_ovl *o, struct oino *ino, struct stat *st);

/* An open upper descriptor of ino, for an inode with no name left. */
static int any_open_fd(const struct oino *ino)
{
	for (const lfs_ovl_file *f = ino->files; f; f = f->next)
		if (f->fd >= 0)
			return f->fd;
	return -1;
}

static int getattr_locked(lfs_ovl *o, struct oino *ino, struct stat *st)
{
	int ret;
	if (ino->upper) {
		if (ino->type == S_IFDIR && (ino == o->root || ino->aliases || ino->dirfd >= 0)) {
			int fd = dir_fd(o, ino);
			ret = fd < 0 ? fd : (fstat(fd, st) < 0 ? -errno : 0);
		} else if (ino->aliases) {
			int pfd;
			const char *name;
			ret = upper_loc(o, ino, &pfd, &name);
			if (!ret && fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
				ret = -errno;
		} else if (any_open_fd(ino) >= 0) {
			ret = fstat(any_open_fd(ino), st) < 0 ? -errno : 0;
		} else if (ino->gone) {
			*st = *ino->gone; /* e.g. a FIFO held open: the kernel opened it */
			ret = 0;
		} else {
			ret = -ESTALE;
		}
	} else {
		ret = lfs_union_getattr(o->lower, ino->lower, st);
		if (!ret && ino->unlinked)
			st->st_nlink = 0;
	}
	if (!ret && (!o->is_root || o->userns))
		apply_override(o, ino, st);
	/* A metacopy file's blocks are its lower data's, as the kernel says. */
	struct stat lst;
	if (!ret && ino->metacopy && ino->lower && !lfs_union_getattr(o->lower, ino->lower, &lst))
		st->st_blocks = lst.st_blocks;
	/* A merged directory's link count is not known cheaply: 1, as
	 * kernel overlayfs reports it. */
	if (!ret && ino->type == S_IFDIR && ino->upper && ino->lower && !ino->opaque)
		st->st_nlink = 1;
	if (!ret)
		st->st_ino = ino == o->root ? LFS_OVL_ROOT : ino->st_ino;
	return ret;
}

/* Rootless: ownership the kernel would not let us set is recorded in an
 * xattr (as fuse-overlayfs does) and reported instead of the real one. */
static void apply_override(lfs_ovl *o, struct oino *ino, struct stat *st)
{
	if (!ino->upper)
		return;
	if (ino->type == S_IFDIR && (ino == o->root || ino->aliases)) {
		int fd = dir_fd(o, ino);
		if (fd >= 0)
			lfs_upper_get_override(fd, NULL, st);
	} else if (ino->aliases) {
		int pfd;
		const char *name;
		if (!upper_loc(o, ino, &pfd, &name))
			lfs_upper_get_override(pfd, name, st);
	}
}

/* ------------------------------------------------------------ copy-up */

static int copy_xattrs_from_lower(lfs_ovl *o, uint64_t low, int dirfd, const char *name)
{
	ssize_t n = lfs_union_listxattr(o->lower, low, NULL, 0);
	if (n <= 0)
		return (int)n;
	char *list = lfs_xmalloc((size_t)n);
	lfs_buf path = LFS_BUF_INIT, val = LFS_BUF_INIT;
	int ret = 0;
	n = lfs_union_listxattr(o->lower, low, list, (size_t)n);
	proc_path(&path, dirfd, name);
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
		const char *xn = list + off;
		ssize_t vl = lfs_union_getxattr(o->lower, low, xn, NULL, 0);
		if (vl < 0)
			continue;
		lfs_buf_reset(&val);
		lfs_buf_grow(&val, (size_t)vl);
		vl = lfs_union_getxattr(o->lower, low, xn, val.data, (size_t)vl);
		if (vl >= 0 && lsetxattr(path.data, xn, val.data, (size_t)vl, 0) < 0 &&
		    errno != EPERM && errno != ENOTSUP) {
			ret = -errno;
			break;
		}
	}
	free(list);
	lfs_buf_release(&path);
	lfs_buf_release(&val);
	return ret;
}

/* In-kernel copy from the tar (and a reflink where the filesystem can). */
static int copy_range_from_lower(lfs_ovl *o, uint64_t low, int fd, off_t size)
{
	int tfd;
	uint64_t start;
	if (!lfs_union_data_fd(o->lower, low, &tfd, &start))
		return 1;
	loff_t in = (loff_t)start, out = 0;
	while (out < size) {
		ssize_t n = copy_file_range(tfd, &in, fd, &out, (size_t)(size - out), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
			      errno == EINVAL) && out == 0)
			return 1; /* not supported here: copy through a buffer */
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the layer is shorter than its index says */
	}
	return 0;
}

static int copy_data_from_lower(lfs_ovl *o, uint64_t low, int fd, off_t size)
{
	int r = copy_range_from_lower(o, low, fd, size);
	if (r <= 0)
		return r;
	enum { CHUNK = 1 << 20 };
	char *buf = lfs_xmalloc(CHUNK);
	int ret = 0;
	for (off_t off = 0; off < size;) {
		ssize_t n = lfs_union_read(o->lower, low, buf, CHUNK, (uint64_t)off);
		if (n <= 0) {
			ret = n < 0 ? (int)n : -EIO;
			break;
		}
		/* Keep holes of sparse lower files as holes. */
		int zero = 1;
		for (ssize_t i = 0; i < n && zero; i++)
			zero = buf[i] == 0;
		if (!zero && pwrite(fd, buf, (size_t)n, off) != n) {
			ret = errno ? -errno : -EIO;
			break;
		}
		off += n;
	}
	if (!ret && ftruncate(fd, size) < 0)
		ret = -errno;
	free(buf);
	return ret;
}

/* Creates the copy of lower entry `low` as `tmp` in the work directory.
 * With *meta, a regular file gets no data, only the lower's size and the
 * metacopy mark; *meta is cleared when the mark cannot be set (the data
 * is copied then). */
static int copy_up_make(lfs_ovl *o, uint64_t low, const struct stat *lst, const char *tmp,
			int *meta)
{
	int ret = 0;
	switch (lst->st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(o->work_fd, tmp, lst->st_mode & 07777) < 0)
			return -errno;
		break;
	case S_IFLNK: {
		lfs_buf t = LFS_BUF_INIT;
		ret = lfs_union_readlink(o->lower, low, &t);
		if (!ret && symlinkat(t.data, o->work_fd, tmp) < 0)
			ret = -errno;
		lfs_buf_release(&t);
		return ret;
	}
	case S_IFREG: {
		int fd = openat(o->work_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (*meta && lfs_upper_set_metacopy(fd) == 0) {
			ret = ftruncate(fd, lst->st_size) < 0 ? -errno : 0;
		} else {
			*meta = 0;
			ret = copy_data_from_lower(o, low, fd, lst->st_size);
		}
		if (!ret && fsync(fd) < 0)
			ret = -errno;
		close(fd);
		return ret;
	}
	default:
		if (mknodat(o->work_fd, tmp, lst->st_mode, lst->st_rdev) < 0)
			return -errno;
	}
	return 0;
}

/* A chown the kernel refused that an ownership override stands in for:
 * EPERM without root, or EINVAL for an id the user namespace we run in
 * does not map (root there owns only the mapped ids). */
static int chown_refused(const lfs_ovl *o, int e)
{
	return (e == EPERM && !o->is_root) || (e == EINVAL && o->userns);
}

/* Ownership, mode, xattrs and times of lower entry `low` onto dirfd/name. */
static int copy_up_meta(lfs_ovl *o, uint64_t low, const struct stat *lst, int dirfd,
			const char *name)
{
	int owned = fchownat(dirfd, name, lst->st_uid, lst->st_gid, AT_SYMLINK_NOFOLLOW) == 0;
	if (!owned && !chown_refused(o, errno))
		return -errno;
	if (!S_ISLNK(lst->st_mode) && fchmodat(dirfd, name, lst->st_mode & 07777, 0) < 0)
		return -errno;
	int ret = copy_xattrs_from_lower(o, low, dirfd, name);
	if (!ret && !owned && !S_ISLNK(lst->st_mode))
		ret = lfs_upper_set_override(dirfd, name, lst->st_uid, lst->st_gid,
					     lst->st_mode & 07777);
	if (ret)
		return ret;
	struct timespec ts[2] = {lst->st_mtim, lst->st_mtim};
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Puts a directory's times back (by its O_PATH descriptor). */
static void keep_times(int dirfd, const struct stat *st)
{
	lfs_buf p = LFS_BUF_INIT;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	proc_path(&p, dirfd, NULL);
	utimensat(AT_FDCWD, p.data, ts, 0);
	lfs_buf_release(&p);
}

static int work_unlink(lfs_ovl *o, const char *tmp, int isdir)
{
	return unlinkat(o->work_fd, tmp, isdir ? AT_REMOVEDIR : 0);
}

static void tmp_name(lfs_ovl *o, char out[32])
{
	snprintf(out, 32, "#%llx", (unsigned long long)++o->tmp_seq);
}

/* Descriptors opened while the file was only in the lower keep reading
 * from it; after copy-up they must see the upper copy (and its later
 * writes), as on a plain filesystem.  A failed reopen leaves the lower. */
static void reopen_lower_files(struct oino *ino, int pfd, const char *name)
{
	for (lfs_ovl_file *f = ino->files; f; f = f->next) {
		if (f->fd >= 0)
			continue;
		int fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			__atomic_store_n(&f->fd, fd, __ATOMIC_RELEASE);
	}
}

static int copy_up_links(lfs_ovl *o, struct oino *ino, uint64_t low, int pfd, const char *name);
static int copy_up(lfs_ovl *o, struct oino *ino);

/* Copies the lower data into a metacopy file in place (its inode, names
 * and open descriptors stay), then drops the mark: synced first, so a
 * crash in between leaves a metacopy file that still reads the lower. */
static int copy_up_data(lfs_ovl *o, struct oino *ino)
{
	int pfd;
	const char *name;
	struct stat st;
	int ret = upper_loc(o, ino, &pfd, &name);
	if (ret)
		return ret;
	if (!ino->lower)
		return -EIO; /* a metacopy file with no lower data */
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	int fd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	/* Without root, a read-only file of our own: writable for the copy. */
	if (fd < 0 && errno == EACCES && fchmodat(pfd, name, st.st_mode | S_IWUSR, 0) == 0)
		fd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		fchmodat(pfd, name, st.st_mode & 07777, 0);
		return ret;
	}
	char cap[256];
	ssize_t ncap = fgetxattr(fd, "security.capability", cap, sizeof(cap));
	ret = copy_data_from_lower(o, ino->lower, fd, st.st_size);
	/* Writing drops set-id bits and file capabilities: put them back,
	 * and the times (a copy-up is not a change of the file). */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (!ret && fchmod(fd, st.st_mode & 07777) < 0)
		ret = -errno;
	if (!ret && ncap > 0 && fsetxattr(fd, "security.capability", cap, (size_t)ncap, 0) < 0)
		ret = -errno;
	if (!ret && futimens(fd, ts) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (!ret)
		ret = lfs_upper_clear_metacopy(fd);
	close(fd);
	if (ret)
		return ret;
	ino->metacopy = 0;
	ino->lower = 0;
	reopen_lower_files(ino, pfd, name);
	return 0;
}

/* A regular file's copy-up may leave its data below (metacopy) for a
 * metadata change, when it has data and one name (the other names of a
 * lower hard link are linked to the copy, and would not find the data
 * through their own paths if it stayed below). */
static int may_metacopy(const lfs_ovl *o, const struct stat *lst)
{
	return !o->no_metacopy && S_ISREG(lst->st_mode) && lst->st_nlink == 1 &&
	       lst->st_size > 0;
}

/* Makes ino exist in the upper: its parents first, then a copy of the
 * lower entry built in the work directory and renamed into place.  With
 * meta, a regular file may be copied without its data (metacopy);
 * without, a metacopy file gets its data. */
static int copy_up_as(lfs_ovl *o, struct oino *ino, int meta)
{
	if (ino->upper)
		return ino->metacopy && !meta ? copy_up_data(o, ino) : 0;
	if (!ino->aliases)
		return -ESTALE;
	struct dent *d = ino->aliases;
	int ret = copy_up(o, d->parent);
	if (ret)
		return ret;
	int pfd = dir_fd(o, d->parent);
	if (pfd < 0)
		return pfd;
	struct stat lst;
	ret = lfs_union_getattr(o->lower, ino->lower, &lst);
	if (ret)
		return ret;
	char tmp[32];
	tmp_name(o, tmp);
	meta = meta && may_metacopy(o, &lst);
	ret = copy_up_make(o, ino->lower, &lst, tmp, &meta);
	if (!ret)
		ret = copy_up_meta(o, ino->lower, &lst, o->work_fd, tmp);
	struct stat pst;
	int have_pst = !ret && fstat(pfd, &pst) == 0;
	if (!ret && renameat(o->work_fd, tmp, pfd, d->name) < 0)
		ret = -errno;
	if (!ret && have_pst)
		keep_times(pfd, &pst); /* a copy-up is not a change of the directory */
	if (ret) {
		work_unlink(o, tmp, S_ISDIR(lst.st_mode));
		return ret;
	}
	struct stat st;
	if (fstatat(pfd, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	uint64_t low = ino->lower;
	set_upper(o, ino, &st);
	if (meta) {
		ino->metacopy = 1; /* open readers go on reading the lower */
		return 0;
	}
	if (ino->type != S_IFDIR)
		ino->lower = 0; /* a file's data is now the upper copy */
	if (ino->type == S_IFREG) {
		reopen_lower_files(ino, pfd, d->name);
		if (lst.st_nlink > 1)
			return copy_up_links(o, ino, low, pfd, d->name);
	}
	return 0;
}

/* Copy-up for a change of the data (and everything else). */
static int copy_up(lfs_ovl *o, struct oino *ino)
{
	return copy_up_as(o, ino, 0);
}

/* Copy-up for a change of metadata only: a file's data may stay below. */
static int copy_up_attr(lfs_ovl *o, struct oino *ino)
{
	return copy_up_as(o, ino, 1);
}

/* ------------------------------------------------------------ listings */

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dirent_s *)a)->name, ((const struct dirent_s *)b)->name);
}

static int find_name(const struct dirent_s *e, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e[mid].name, name);
		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

struct listing {
	struct dirent_s *ents; /* visible */
	size_t n, cap;
	struct dirent_s *hidden; /* whited-out names (and upper names) that mask the lower */
	size_t nh, hcap;
};

static void listing_add(struct dirent_s **v, size_t *n, size_t *cap, const char *name,
			mode_t type, ino_t ino)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = lfs_xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = (struct dirent_s){lfs_xstrdup(name), type, ino};
}

static void listing_free(struct dirent_s *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Opens an upper directory (given by an O_PATH descriptor) for reading. */
static int upper_opendir(int pathfd, DIR **dp)
{
	if (pathfd < 0)
		return pathfd;
	int fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*dp = fdopendir(fd);
	if (!*dp) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return 0;
}

static int list_upper(lfs_ovl *o, struct oino *dir, struct listing *l)
{
	DIR *dp;
	int ret = upper_opendir(dir_fd(o, dir), &dp);
	if (ret)
		return ret;
	int fd = dirfd(dp);
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		const char *hidden;
		enum lfs_upper_kind k = lfs_upper_classify(de->d_name, &st, &hidden);
		if (k == LFS_UPPER_ENTRY) {
			/* A name already looked up keeps its inode's number (a copied-up
			 * file still reports its lower one): d_ino must equal st_ino. */
			const struct dent *d = dcache_find(o, dir, de->d_name);
			listing_add(&l->ents, &l->n, &l->cap, de->d_name, st.st_mode & S_IFMT,
				    d ? d->ino->st_ino : UPPER_INO_BIT | st.st_ino);
		}
		if (k == LFS_UPPER_WHITEOUT)
			listing_add(&l->hidden, &l->nh, &l->hcap, hidden, 0, 0);
	}
	closedir(dp);
	return 0;
}

struct lower_ctx {
	lfs_ovl *o;
	struct listing *l;
	size_t nupper;
};

static int list_lower_one(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct lower_ctx *c = ctx;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (find_name(c->l->ents, c->nupper, name) || find_name(c->l->hidden, c->l->nh, name))
		return 0;
	struct stat st;
	ino_t ino = lfs_union_getattr(c->o->lower, id, &st) == 0 ? st.st_ino : 1;
	listing_add(&c->l->ents, &c->l->n, &c->l->cap, name, type, ino);
	return 0;
}

/* The merged children of dir, sorted by name. */
static int list_merged(lfs_ovl *o, struct oino *dir, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	int ret = 0;
	if (dir->upper)
		ret = list_upper(o, dir, l);
	if (ret)
		return ret;
	if (l->n)
		qsort(l->ents, l->n, sizeof(*l->ents), dirent_cmp);
	if (l->nh)
		qsort(l->hidden, l->nh, sizeof(*l->hidden), dirent_cmp);
	if (o->lower && dir->lower && !dir->opaque) {
		struct lower_ctx c = {o, l, l->n};
		ret = lfs_union_readdir(o->lower, dir->lower, 0, list_lower_one, &c);
		if (l->n)
			qsort(l->ents, l->n, sizeof(*l->ents), dirent_cmp);
	}
	return ret;
}

static void listing_release(struct listing *l)
{
	listing_free(l->ents, l->n);
	listing_free(l->hidden, l->nh);
}

static void collect_path(void *ctx, const char *path)
{
	struct listing *l = ctx;
	listing_add(&l->ents, &l->n, &l->cap, path, 0, 0);
}

/* Resolves a root-relative path through the merged tree. */
static int walk_path(lfs_ovl *o, const char *path, struct oino **out)
{
	struct oino *cur = o->root;
	lfs_buf comp = LFS_BUF_INIT;
	int ret = 0;
	while (*path && !ret) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		lfs_buf_reset(&comp);
		lfs_buf_add(&comp, path, len);
		ret = lookup_locked(o, cur, comp.data, &cur);
		path += len + (slash ? 1 : 0);
	}
	lfs_buf_release(&comp);
	if (!ret)
		*out = cur;
	return ret;
}

/* A lower file with several names keeps them one inode: once one name is
 * copied up, its other visible names become hard links to the copy (as
 * kernel overlayfs does with index=on), so a write through one name shows
 * through the others. */
static int copy_up_links(lfs_ovl *o, struct oino *ino, uint64_t low, int pfd, const char *name)
{
	struct listing names = {0};
	int ret = lfs_union_hardlink_names(o->lower, low, collect_path, &names);
	for (size_t i = 0; !ret && i < names.n; i++) {
		struct oino *other;
		if (walk_path(o, names.ents[i].name, &other) || other->upper || other->lower != low)
			continue; /* this name, or one replaced since */
		struct dent *od = other->aliases;
		ret = copy_up(o, od->parent);
		int opfd = ret ? ret : dir_fd(o, od->parent);
		if (opfd < 0)
			ret = opfd;
		struct stat pst;
		int have_pst = opfd >= 0 && fstat(opfd, &pst) == 0;
		if (opfd >= 0 && linkat(pfd, name, opfd, od->name, 0) < 0)
			ret = -errno;
		if (!ret && have_pst)
			keep_times(opfd, &pst);
		struct stat st;
		if (!ret && fstatat(opfd, od->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = -errno;
		if (!ret) {
			set_upper(o, other, &st);
			other->lower = 0;
			reopen_lower_files(other, opfd, od->name);
			if (o->notify && other->nlookup)
				o->notify(o->notify_arg, id_of(o, other));
		}
	}
	listing_free(names.ents, names.n);
	return ret;
}


/* Copies up a whole subtree (for rename): afterwards nothing of it is read
 * from the lower, so each directory in it is made opaque. */
static int copy_up_tree(lfs_ovl *o, struct oino *ino)
{
	int ret = copy_up(o, ino);
	if (ret || ino->type != S_IFDIR || !ino->lower || ino->opaque)
		return ret;
	struct listing l;
	ret = list_merged(o, ino, &l);
	for (size_t i = 0; !ret && i < l.n; i++) {
		struct oino *child;
		ret = lookup_locked(o, ino, l.ents[i].name, &child);
		if (!ret)
			ret = copy_up_tree(o, child);
	}
	listing_release(&l);
	if (ret)
		return ret;
	int fd = dir_fd(o, ino);
	if (fd < 0)
		return fd;
	ret = lfs_upper_set_opaque(fd);
	if (!ret) {
		ino->opaque = 1;
		ino->lower = 0;
	}
	return ret;
}

/* ------------------------------------------------------------ public API */

static int upper_is_empty(int pathfd)
{
	DIR *dp;
	if (upper_opendir(pathfd, &dp))
		return 0;
	struct dirent *de;
	int empty = 1;
	while (empty && (de = readdir(dp)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(dp);
	return empty;
}

/* Copy-up temporaries ("#N") left in the work directory by a daemon that
 * died mid-copy are half-made copies nobody can see: removed, so that
 * their names are free again.  Anything else there (kernel overlayfs's
 * work/ and index/) is left alone. */
static void clean_work_dir(int work_fd)
{
	DIR *dp;
	if (upper_opendir(work_fd, &dp))
		return;
	int fd = dirfd(dp);
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '#' && unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR)
			unlinkat(fd, de->d_name, AT_REMOVEDIR);
	}
	closedir(dp);
}

/* Anything but the initial namespace's identity map of all ids. */
static int in_user_namespace(void)
{
	FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long inside, outside, count;
	int n = f ? fscanf(f, "%lu %lu %lu", &inside, &outside, &count) : 0;
	if (f)
		fclose(f);
	return n == 3 && !(inside == 0 && outside == 0 && count == 4294967295UL);
}

int lfs_ovl_new(lfs_union *lower, const char *upper_dir, const char *work_dir, int init_root,
		lfs_ovl **out, char **err)
{
	lfs_ovl *o = lfs_xcalloc(1, sizeof(*o));
	o->lower = lower;
	o->upper_fd = open(upper_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	o->work_fd = open(work_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat us, ws;
	const char *bad = o->upper_fd < 0 ? upper_dir : o->work_fd < 0 ? work_dir : NULL;
	if (bad) {
		*err = lfs_xasprintf("cannot open directory '%s': %s", bad, strerror(errno));
		goto fail;
	}
	if (fstat(o->upper_fd, &us) < 0 || fstat(o->work_fd, &ws) < 0 || us.st_dev != ws.st_dev) {
		*err = lfs_xasprintf("upper '%s' and work '%s' must be directories on the same "
				     "filesystem",
				     upper_dir, work_dir);
		goto fail;
	}
	pthread_mutex_init(&o->lock, NULL);
	clean_work_dir(o->work_fd);
	o->is_root = geteuid() == 0;
	o->userns = in_user_namespace();
	if (init_root && lower && upper_is_empty(o->upper_fd)) {
		/* A fresh upper root takes the image root's metadata, so the
		 * mount's root looks like the image's (as a copy-up would). */
		struct stat lst;
		int ret = lfs_union_getattr(lower, LFS_ROOT_ID, &lst);
		if (!ret)
			ret = copy_up_meta(o, LFS_ROOT_ID, &lst, o->upper_fd, ".");
		if (ret) {
			*err = lfs_xasprintf("cannot prepare upper '%s': %s", upper_dir,
					     strerror(-ret));
			goto fail;
		}
		fstat(o->upper_fd, &us);
	}
	o->all.next = o->all.prev = &o->all;
	o->root = ino_new(o, S_IFDIR);
	o->root->lower = lower ? LFS_ROOT_ID : 0;
	o->root->opaque = lfs_upper_is_opaque(o->upper_fd);
	set_upper(o, o->root, &us);
	o->root->st_ino = LFS_OVL_ROOT;
	*out = o;
	return 0;
fail:
	if (o->upper_fd >= 0)
		close(o->upper_fd);
	if (o->work_fd >= 0)
		close(o->work_fd);
	free(o);
	return -EINVAL;
}

void lfs_ovl_set_metacopy(lfs_ovl *o, int on)
{
	o->no_metacopy = !on;
}

void lfs_ovl_set_notify(lfs_ovl *o, void (*fn)(void *arg, uint64_t id), void *arg)
{
	o->notify = fn;
	o->notify_arg = arg;
}

void lfs_ovl_free(lfs_ovl *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->dcap; i++) {
		for (struct dent *d = o->dhash[i], *next; d; d = next) {
			next = d->hnext;
			free(d->name);
			free(d);
		}
	}
	while (o->all.next != &o->all)
		ino_destroy(o->all.next);
	free(o->dhash);
	free(o->uhash);
	close(o->upper_fd);
	close(o->work_fd);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* ------------------------------------------------------------ lookup, attrs */

#define LOCKED(o, expr)                                                                            \
	({                                                                                         \
		pthread_mutex_lock(&(o)->lock);                                                    \
		__typeof__(expr) r_ = (expr);                                                      \
		pthread_mutex_unlock(&(o)->lock);                                                  \
		r_;                                                                                \
	})

static int lookup_ref(lfs_ovl *o, struct oino *dir, const char *name, uint64_t *id,
		      struct stat *st)
{
	struct oino *ino;
	int ret = lookup_locked(o, dir, name, &ino);
	if (!ret)
		ret = getattr_locked(o, ino, st);
	if (!ret) {
		ino->nlookup++;
		*id = id_of(o, ino);
	}
	return ret;
}

int lfs_ovl_lookup(lfs_ovl *o, uint64_t parent, const char *name, uint64_t *id, struct stat *st)
{
	return LOCKED(o, lookup_ref(o, ino_of(o, parent), name, id, st));
}

static int forget_locked(lfs_ovl *o, struct oino *ino, uint64_t n)
{
	ino->nlookup = n > ino->nlookup ? 0 : ino->nlookup - n;
	maybe_free(o, ino);
	return 0;
}

void lfs_ovl_forget(lfs_ovl *o, uint64_t id, uint64_t nlookup)
{
	if (id != LFS_OVL_ROOT)
		LOCKED(o, forget_locked(o, ino_of(o, id), nlookup));
}

int lfs_ovl_getattr(lfs_ovl *o, uint64_t id, struct stat *st)
{
	return LOCKED(o, getattr_locked(o, ino_of(o, id), st));
}

static int set_times(int pfd, const char *name, int fd, const struct stat *a, unsigned set)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	if (set & LFS_OVL_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (set & LFS_OVL_SET_ATIME)
		ts[0] = a->st_atim;
	if (set & LFS_OVL_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (set & LFS_OVL_SET_MTIME)
		ts[1] = a->st_mtim;
	int r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? -errno : 0;
}

static int truncate_at(int pfd, const char *name, int fd, off_t size)
{
	if (fd >= 0)
		return ftruncate(fd, size) < 0 ? -errno : 0;
	int tfd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return -errno;
	int ret = ftruncate(tfd, size) < 0 ? -errno : 0;
	close(tfd);
	return ret;
}

/* After a chown the kernel did: an override recorded before must not go
 * on reporting the old owner. */
static int update_override(int pfd, const char *name, int fd, const struct stat *a, unsigned set)
{
	struct stat rec = {.st_mode = S_IFREG};
	int has = fd >= 0 ? lfs_upper_get_override(fd, NULL, &rec)
			  : lfs_upper_get_override(pfd, name, &rec);
	if (!has)
		return 0;
	if (set & LFS_OVL_SET_UID)
		rec.st_uid = a->st_uid;
	if (set & LFS_OVL_SET_GID)
		rec.st_gid = a->st_gid;
	mode_t mode = rec.st_mode & 07777;
	return fd >= 0 ? lfs_upper_set_override(fd, NULL, rec.st_uid, rec.st_gid, mode)
		       : lfs_upper_set_override(pfd, name, rec.st_uid, rec.st_gid, mode);
}

/* chown; rootless, where the kernel refuses, the owner is recorded. */
static int set_owner(lfs_ovl *o, struct oino *ino, int pfd, const char *name, int fd,
		     const struct stat *a, unsigned set)
{
	uid_t uid = (set & LFS_OVL_SET_UID) ? a->st_uid : (uid_t)-1;
	gid_t gid = (set & LFS_OVL_SET_GID) ? a->st_gid : (gid_t)-1;
	if ((fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW)) ==
	    0)
		return ino->type == S_IFLNK ? 0 : update_override(pfd, name, fd, a, set);
	if (!chown_refused(o, errno) || ino->type == S_IFLNK)
		return -errno;
	struct stat cur;
	int ret = getattr_locked(o, ino, &cur);
	if (ret)
		return ret;
	if (set & LFS_OVL_SET_UID)
		cur.st_uid = a->st_uid;
	if (set & LFS_OVL_SET_GID)
		cur.st_gid = a->st_gid;
	return fd >= 0 ? lfs_upper_set_override(fd, NULL, cur.st_uid, cur.st_gid, cur.st_mode & 07777)
		       : lfs_upper_set_override(pfd, name, cur.st_uid, cur.st_gid,
						cur.st_mode & 07777);
}

static int set_mode(lfs_ovl *o, int pfd, const char *name, int fd, mode_t mode)
{
	if ((fd >= 0 ? fchmod(fd, mode & 07777) : fchmodat(pfd, name, mode & 07777, 0)) < 0)
		return -errno;
	struct stat rec = {.st_mode = S_IFREG};
	int has = fd >= 0 ? lfs_upper_get_override(fd, NULL, &rec)
			  : lfs_upper_get_override(pfd, name, &rec);
	if (!has)
		return 0;
	return fd >= 0 ? lfs_upper_set_override(fd, NULL, rec.st_uid, rec.st_gid, mode & 07777)
		       : lfs_upper_set_override(pfd, name, rec.st_uid, rec.st_gid, mode & 07777);
}

static int setattr_locked(lfs_ovl *o, struct oino *ino, const struct stat *a, unsigned set,
			  lfs_ovl_file *fh, struct stat *out)
{
	int ret = set & LFS_OVL_SET_SIZE ? copy_up(o, ino) : copy_up_attr(o, ino);
	int pfd = -1, fd = fh && fh->fd >= 0 ? fh->fd : -1;
	/* fchmod & co. through any open descriptor of the inode: no path to
	 * resolve, and the only way for an unlinked open file.  Not for a
	 * truncate: that descriptor may be read-only. */
	if (fd < 0 && ino != o->root && (!ino->aliases || !(set & LFS_OVL_SET_SIZE)))
		fd = any_open_fd(ino);
	const char *name = NULL;
	if (!ret && ino == o->root) {
		pfd = o->upper_fd;
		name = ".";
	} else if (!ret && fd < 0) {
		ret = upper_loc(o, ino, &pfd, &name);
	}
	if (!ret && (set & LFS_OVL_SET_MODE))
		ret = set_mode(o, pfd, name, fd, a->st_mode);
	if (!ret && (set & (LFS_OVL_SET_UID | LFS_OVL_SET_GID)))
		ret = set_owner(o, ino, pfd, name, fd, a, set);
	if (!ret && (set & LFS_OVL_SET_SIZE))
		ret = truncate_at(pfd, name, fd, a->st_size);
	if (!ret && (set & (LFS_OVL_SET_ATIME | LFS_OVL_SET_MTIME | LFS_OVL_SET_ATIME_NOW |
			    LFS_OVL_SET_MTIME_NOW)))
		ret = set_times(pfd, name, fd, a, set);
	if (!ret)
		ret = getattr_locked(o, ino, out);
	return ret;
}

int lfs_ovl_setattr(lfs_ovl *o, uint64_t id, const struct stat *attr, unsigned set,
		    lfs_ovl_file *fh, struct stat *out)
{
	return LOCKED(o, setattr_locked(o, ino_of(o, id), attr, set, fh, out));
}

static int readlink_locked(lfs_ovl *o, struct oino *ino, lfs_buf *out)
{
	if (ino->type != S_IFLNK)
		return -EINVAL;
	if (!ino->upper)
		return lfs_union_readlink(o->lower, ino->lower, out);
	int pfd;
	const char *name;
	int ret = upper_loc(o, ino, &pfd, &name);
	if (ret)
		return ret;
	char buf[PATH_MAX];
	ssize_t n = readlinkat(pfd, name, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	lfs_buf_add(out, buf, (size_t)n);
	return 0;
}

int lfs_ovl_readlink(lfs_ovl *o, uint64_t id, lfs_buf *out)
{
	return LOCKED(o, readlink_locked(o, ino_of(o, id), out));
}

/* ------------------------------------------------------------ creation */

/* Before creating `name` in dir: it must not exist; dir goes to the upper;
 * a whiteout there is removed.  *hides_lower tells whether something of
 * the lower sits under the name (a new directory must then be opaque). */
static int prepare_create(lfs_ovl *o, struct oino *dir, const char *name, int *pfd,
			  int *hides_lower)
{
	struct oino *existing;
	int ret = lookup_locked(o, dir, name, &existing);
	if (ret == 0)
		return -EEXIST;
	if (ret != -ENOENT)
		return ret;
	if (is_internal_name(name))
		return -EPERM; /* ".wh." names are the upper's own markers */
	ret = copy_up(o, dir);
	if (ret)
		return ret;
	*pfd = dir_fd(o, dir);
	if (*pfd < 0)
		return *pfd;
	*hides_lower = lower_child(o, dir, name) != 0;
	/* Only a name the lower has is whited out; a stray whiteout is
	 * dealt with if the creation runs into it (stray_whiteout). */
	return *hides_lower ? lfs_upper_drop_whiteout(*pfd, name) : 0;
}

/* A creation on a name the lookup found free failed: with EEXIST, a
 * whiteout that hides nothing below sits there.  Drops it; 1 means try
 * once more (errno is kept otherwise). */
static int stray_whiteout(int pfd, const char *name)
{
	if (errno != EEXIST)
		return 0;
	int ret = lfs_upper_drop_whiteout(pfd, name);
	errno = EEXIST;
	return ret == 0;
}

/* After creating `name` in the upper: ownership, then the inode. */
static int finish_create(lfs_ovl *o, struct oino *dir, int pfd, const char *name,
			 const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st)
{
	if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct stat pst;
	gid_t gid = c ? c->gid : 0;
	/* In a set-group-ID directory new entries take its group (and the
	 * kernel already gave them that group in the upper): an entry that
	 * has the caller's ids is right either way. */
	int mine = !c || (st->st_uid == c->uid && st->st_gid == c->gid);
	if (!mine && fstat(pfd, &pst) == 0 && (pst.st_mode & S_ISGID))
		gid = pst.st_gid;
	if (!mine && o->is_root && (st->st_uid != c->uid || st->st_gid != gid)) {
		if (fchownat(pfd, name, c->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		/* chown clears set-id bits the creator asked for: put them back. */
		if ((st->st_mode & (S_ISUID | S_ISGID)) && !S_ISLNK(st->st_mode) &&
		    fchmodat(pfd, name, st->st_mode & 07777, 0) < 0)
			return -errno;
		if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	struct oino *ino = ino_new(o, st->st_mode);
	set_upper(o, ino, st);
	dent_add(o, dir, name, ino);
	st->st_ino = ino->st_ino;
	ino->nlookup++;
	*id = id_of(o, ino);
	return 0;
}

static int make_node(int pfd, const char *name, mode_t mode, dev_t rdev, const char *target)
{
	if (S_ISDIR(mode))
		return mkdirat(pfd, name, mode & 07777);
	if (S_ISLNK(mode))
		return symlinkat(target, pfd, name);
	return mknodat(pfd, name, mode, rdev);
}

static int mknod_locked(lfs_ovl *o, struct oino *dir, const char *name, mode_t mode, dev_t rdev,
			const char *target, const struct lfs_ovl_cred *c, uint64_t *id,
			struct stat *st)
{
	int pfd, hides;
	int ret = prepare_create(o, dir, name, &pfd, &hides);
	if (ret)
		return ret;
	int r = make_node(pfd, name, mode, rdev, target);
	if (r < 0 && stray_whiteout(pfd, name))
		r = make_node(pfd, name, mode, rdev, target);
	if (r < 0)
		return -errno;
	if (S_ISDIR(mode) && hides) {
		int fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ret = fd < 0 ? -errno : lfs_upper_set_opaque(fd);
		if (fd >= 0)
			close(fd);
		if (ret) {
			unlinkat(pfd, name, AT_REMOVEDIR);
			return ret;
		}
	}
	ret = finish_create(o, dir, pfd, name, c, id, st);
	if (!ret && S_ISDIR(mode)) {
		struct oino *ino = ino_of(o, *id);
		ino->opaque = hides;
	}
	return ret;
}

int lfs_ovl_mknod(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
		  const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st)
{
	return LOCKED(o, mknod_locked(o, ino_of(o, parent), name, mode, rdev, NULL, c, id, st));
}

int lfs_ovl_mkdir(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode,
		  const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st)
{
	return LOCKED(o, mknod_locked(o, ino_of(o, parent), name, S_IFDIR | (mode & 07777), 0,
				      NULL, c, id, st));
}

int lfs_ovl_symlink(lfs_ovl *o, uint64_t parent, const char *name, const char *target,
		    const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st)
{
	return LOCKED(o, mknod_locked(o, ino_of(o, parent), name, S_IFLNK | 0777, 0, target, c,
				      id, st));
}

static int link_locked(lfs_ovl *o, struct oino *ino, struct oino *dir, const char *name,
		       struct stat *st)
{
	if (ino->type == S_IFDIR)
		return -EPERM;
	int pfd, hides;
	int ret = copy_up(o, ino);
	if (!ret)
		ret = prepare_create(o, dir, name, &pfd, &hides);
	int opfd;
	const char *oname;
	if (!ret)
		ret = upper_loc(o, ino, &opfd, &oname);
	if (!ret && linkat(opfd, oname, pfd, name, 0) < 0 &&
	    (!stray_whiteout(pfd, name) || linkat(opfd, oname, pfd, name, 0) < 0))
		ret = -errno;
	if (ret)
		return ret;
	dent_add(o, dir, name, ino);
	ino->nlookup++;
	return getattr_locked(o, ino, st);
}

int lfs_ovl_link(lfs_ovl *o, uint64_t id, uint64_t newparent, const char *newname,
		 struct stat *st)
{
	return LOCKED(o, link_locked(o, ino_of(o, id), ino_of(o, newparent), newname, st));
}

/* ------------------------------------------------------------ removal */

/* Empties an upper directory of the markers it may still hold (whiteouts,
 * the opaque file) so that rmdir/rename over it can succeed. */
static int clear_markers(lfs_ovl *o, struct oino *dir)
{
	struct listing l;
	int ret = list_merged(o, dir, &l);
	if (!ret && l.n)
		ret = -ENOTEMPTY;
	listing_release(&l);
	if (ret || !dir->upper)
		return ret;
	DIR *dp;
	ret = upper_opendir(dir_fd(o, dir), &dp);
	if (ret)
		return ret;
	int fd = dirfd(dp);
	struct dirent *de;
	while (!ret && (de = readdir(dp))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    unlinkat(fd, de->d_name, 0) < 0)
			ret = -errno;
	}
	closedir(dp);
	return ret;
}

/* Before the last name of an upper inode goes: what fstat of a descriptor
 * the kernel still holds must report (FIFOs and sockets are opened by the
 * kernel alone, so no descriptor of ours can answer for them). */
static void remember_gone(lfs_ovl *o, struct oino *ino)
{
	if (!ino->upper || !ino->aliases || ino->aliases->anext || ino->type == S_IFDIR)
		return;
	struct stat st;
	if (getattr_locked(o, ino, &st))
		return;
	st.st_nlink = 0;
	if (!ino->gone)
		ino->gone = lfs_xmalloc(sizeof(*ino->gone));
	*ino->gone = st;
}

#define SHARED_WHITEOUT "#whiteout"

/* Whiteouts are hard links to one 0/0 device kept in the work dir, as
 * kernel overlayfs makes them: a link allocates no inode (rm -rf of a
 * lower tree makes one whiteout per entry).  The device is made on first
 * use (a new one when it has all the links it can take: EMLINK); where a
 * link or the device cannot be made, each whiteout is made on its own. */
static int make_whiteout(lfs_ovl *o, int pfd, const char *name)
{
	for (int tries = 0; !o->no_shared_wh && tries < 2; tries++) {
		if (linkat(o->work_fd, SHARED_WHITEOUT, pfd, name, 0) == 0)
			return 0;
		if (errno != ENOENT && errno != EMLINK)
			break;
		unlinkat(o->work_fd, SHARED_WHITEOUT, 0);
		if (mknodat(o->work_fd, SHARED_WHITEOUT, S_IFCHR | 0, makedev(0, 0)) < 0)
			break;
	}
	o->no_shared_wh = 1;
	return lfs_upper_make_whiteout(pfd, name);
}

static int remove_locked(lfs_ovl *o, struct oino *dir, const char *name, int isdir)
{
	struct oino *ino;
	int ret = lookup_locked(o, dir, name, &ino);
	if (ret)
		return ret;
	if (isdir && ino->type != S_IFDIR)
		return -ENOTDIR;
	if (!isdir && ino->type == S_IFDIR)
		return -EISDIR;
	if (isdir && (ret = clear_markers(o, ino)) != 0)
		return ret;
	ret = copy_up(o, dir);
	int pfd = ret ? ret : dir_fd(o, dir);
	if (pfd < 0)
		return pfd;
	int hides = lower_child(o, dir, name) != 0;
	remember_gone(o, ino);
	if (ino->upper && unlinkat(pfd, name, isdir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	if (hides && (ret = make_whiteout(o, pfd, name)) != 0)
		return ret;
	/* A removed directory keeps its O_PATH descriptor: an open handle
	 * can still fstat it (st_nlink 0); freeing the inode closes it. */
	dent_drop(o, dcache_find(o, dir, name));
	return 0;
}

int lfs_ovl_unlink(lfs_ovl *o, uint64_t parent, const char *name)
{
	return LOCKED(o, remove_locked(o, ino_of(o, parent), name, 0));
}

int lfs_ovl_rmdir(lfs_ovl *o, uint64_t parent, const char *name)
{
	return LOCKED(o, remove_locked(o, ino_of(o, parent), name, 1));
}

/* ------------------------------------------------------------ rename */

static int rename_check(lfs_ovl *o, struct oino *src, struct oino *dst, unsigned flags)
{
	if (!dst)
		return flags & RENAME_EXCHANGE ? -ENOENT : 0;
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (flags & RENAME_EXCHANGE)
		return 0;
	if (src == dst)
		return 1; /* same inode: nothing to do */
	if (src->type == S_IFDIR && dst->type != S_IFDIR)
		return -ENOTDIR;
	if (src->type != S_IFDIR && dst->type == S_IFDIR)
		return -EISDIR;
	if (dst->type == S_IFDIR)
		return clear_markers(o, dst);
	return 0;
}

/* After a directory moved to a name where the lower has something, the
 * lower must not show through it. */
static int mark_moved_dir(lfs_ovl *o, struct oino *ino, int hides)
{
	if (ino->type != S_IFDIR || !hides || ino->opaque)
		return 0;
	int fd = dir_fd(o, ino);
	int ret = fd < 0 ? fd : lfs_upper_set_opaque(fd);
	if (!ret) {
		ino->opaque = 1;
		ino->lower = 0;
	}
	return ret;
}

static void move_dentry(lfs_ovl *o, struct dent *d, struct oino *dir, const char *name)
{
	struct oino *ino = d->ino;
	ino->nlookup++; /* keep it alive across the drop */
	dent_drop(o, d);
	dent_add(o, dir, name, ino);
	ino->nlookup--;
}

/* After RENAME_EXCHANGE: each name now belongs to the other inode.  sd
 * takes dd's place in dst's alias list and the other way round. */
static void swap_dentries(struct dent *sd, struct dent *dd)
{
	struct oino *src = sd->ino, *dst = dd->ino;
	struct dent **ps = &src->aliases, **pd = &dst->aliases;
	while (*ps != sd)
		ps = &(*ps)->anext;
	while (*pd != dd)
		pd = &(*pd)->anext;
	*ps = dd;
	*pd = sd;
	struct dent *next = sd->anext;
	sd->anext = dd->anext;
	dd->anext = next;
	sd->ino = dst;
	dd->ino = src;
}

static int rename_locked(lfs_ovl *o, struct oino *sdir, const char *sname, struct oino *ddir,
			 const char *dname, unsigned flags)
{
	struct oino *src, *dst = NULL;
	int ret = lookup_locked(o, sdir, sname, &src);
	if (ret)
		return ret;
	ret = lookup_locked(o, ddir, dname, &dst);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret)
		dst = NULL;
	if (is_internal_name(dname))
		return -EPERM;
	ret = rename_check(o, src, dst, flags);
	if (ret)
		return ret > 0 ? 0 : ret;
	ret = copy_up_tree(o, src);
	if (!ret && dst && (flags & RENAME_EXCHANGE))
		ret = copy_up_tree(o, dst);
	if (!ret)
		ret = copy_up(o, ddir);
	int spfd = ret ? ret : dir_fd(o, sdir), dpfd = ret ? ret : dir_fd(o, ddir);
	if (spfd < 0 || dpfd < 0)
		return spfd < 0 ? spfd : dpfd;
	int src_hides = lower_child(o, sdir, sname) != 0;
	int dst_hides = lower_child(o, ddir, dname) != 0;
	if (!dst && (ret = lfs_upper_drop_whiteout(dpfd, dname)) != 0)
		return ret;
	if (dst && !(flags & RENAME_EXCHANGE) && dst != src)
		remember_gone(o, dst);
	if (renameat2(spfd, sname, dpfd, dname, flags & RENAME_EXCHANGE) < 0)
		return -errno;
	if (!(flags & RENAME_EXCHANGE) && src_hides && (ret = make_whiteout(o, spfd, sname)) != 0)
		return ret;
	/* Bookkeeping: the names now point at the moved inodes. */
	struct dent *sd = dcache_find(o, sdir, sname), *dd = dst ? dcache_find(o, ddir, dname) : NULL;
	if (flags & RENAME_EXCHANGE) {
		if (src != dst)
			swap_dentries(sd, dd);
		ret = mark_moved_dir(o, dst, src_hides);
	} else {
		if (dd)
			dent_drop(o, dd);
		move_dentry(o, sd, ddir, dname);
	}
	if (!ret)
		ret = mark_moved_dir(o, src, dst_hides);
	return ret;
}

int lfs_ovl_rename(lfs_ovl *o, uint64_t parent, const char *name, uint64_t newparent,
		   const char *newname, unsigned flags)
{
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	return LOCKED(o, rename_locked(o, ino_of(o, parent), name, ino_of(o, newparent), newname,
				       flags));
}

/* ------------------------------------------------------------ files */

static lfs_ovl_file *file_new(struct oino *ino, int fd)
{
	lfs_ovl_file *fh = lfs_xcalloc(1, sizeof(*fh));
	fh->ino = ino;
	fh->fd = fd;
	fh->lower = fd < 0 ? ino->lower : 0;
	fh->next = ino->files;
	ino->files = fh;
	ino->nopen++;
	return fh;
}

static int open_locked(lfs_ovl *o, struct oino *ino, int flags, lfs_ovl_file **fh)
{
	if (ino->type == S_IFDIR)
		return -EISDIR;
	int writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	if ((!ino->upper || ino->metacopy) && !writing) {
		if (!ino->lower)
			return -EIO; /* a metacopy file with no lower data */
		*fh = file_new(ino, -1);
		return 0;
	}
	int ret = copy_up(o, ino);
	int pfd;
	const char *name;
	if (!ret)
		ret = upper_loc(o, ino, &pfd, &name);
	if (ret)
		return ret;
	int fd = openat(pfd, name, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*fh = file_new(ino, fd);
	return 0;
}

int lfs_ovl_open(lfs_ovl *o, uint64_t id, int flags, lfs_ovl_file **fh)
{
	return LOCKED(o, open_locked(o, ino_of(o, id), flags, fh));
}

static int create_locked(lfs_ovl *o, struct oino *dir, const char *name, mode_t mode, int flags,
			 const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st,
			 lfs_ovl_file **fh)
{
	int pfd, hides;
	int ret = prepare_create(o, dir, name, &pfd, &hides);
	if (ret)
		return ret;
	int oflags = (flags & ~O_NOCTTY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(pfd, name, oflags, mode & 07777);
	if (fd < 0 && stray_whiteout(pfd, name))
		fd = openat(pfd, name, oflags, mode & 07777);
	if (fd < 0)
		return -errno;
	ret = finish_create(o, dir, pfd, name, c, id, st);
	if (ret) {
		close(fd);
		unlinkat(pfd, name, 0);
		return ret;
	}
	*fh = file_new(ino_of(o, *id), fd);
	return 0;
}

int lfs_ovl_create(lfs_ovl *o, uint64_t parent, const char *name, mode_t mode, int flags,
		   const struct lfs_ovl_cred *c, uint64_t *id, struct stat *st, lfs_ovl_file **fh)
{
	return LOCKED(o, create_locked(o, ino_of(o, parent), name, mode, flags, c, id, st, fh));
}

ssize_t lfs_ovl_read(lfs_ovl *o, lfs_ovl_file *fh, void *buf, size_t len, off_t off)
{
	/* fd may switch from -1 to the upper copy under us (copy-up). */
	int fd = __atomic_load_n(&fh->fd, __ATOMIC_ACQUIRE);
	if (fd < 0)
		return lfs_union_read(o->lower, fh->lower, buf, len, (uint64_t)off);
	ssize_t n = pread(fd, buf, len, off);
	return n < 0 ? -errno : n;
}

ssize_t lfs_ovl_write(lfs_ovl *o, lfs_ovl_file *fh, const void *buf, size_t len, off_t off)
{
	if (fh->fd < 0)
		return -EBADF;
	ssize_t n = pwrite(fh->fd, buf, len, off);
	return n < 0 ? -errno : n;
}

int lfs_ovl_fsync(lfs_ovl *o, lfs_ovl_file *fh, int datasync)
{
	if (fh->fd < 0)
		return 0;
	return (datasync ? fdatasync(fh->fd) : fsync(fh->fd)) < 0 ? -errno : 0;
}

/* A directory only in the lower has nothing of its own to sync. */
static int fsyncdir_locked(lfs_ovl *o, struct oino *ino, int datasync, int *fd)
{
	*fd = -1;
	if (ino != o->root && !ino->upper)
		return 0;
	int pfd = dir_fd(o, ino);
	if (pfd < 0)
		return pfd == -ENOENT ? 0 : pfd;
	/* fsync needs a real descriptor, not the O_PATH one */
	*fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

int lfs_ovl_fsyncdir(lfs_ovl *o, uint64_t id, int datasync)
{
	int fd;
	int ret = LOCKED(o, fsyncdir_locked(o, ino_of(o, id), datasync, &fd));
	if (ret == 0 && fd >= 0) { /* outside the lock: the disk may be slow */
		if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
			ret = -errno;
		close(fd);
	}
	return ret;
}

int lfs_ovl_fallocate(lfs_ovl *o, lfs_ovl_file *fh, int mode, off_t off, off_t len)
{
	if (fh->fd < 0)
		return -EBADF;
	return fallocate(fh->fd, mode, off, len) < 0 ? -errno : 0;
}

int lfs_ovl_file_fd(const lfs_ovl_file *fh)
{
	return fh->fd;
}

static int release_locked(lfs_ovl *o, lfs_ovl_file *fh)
{
	struct oino *ino = fh->ino;
	for (lfs_ovl_file **pp = &ino->files; *pp; pp = &(*pp)->next) {
		if (*pp == fh) {
			*pp = fh->next;
			break;
		}
	}
	ino->nopen--;
	if (fh->fd >= 0)
		close(fh->fd);
	free(fh);
	maybe_free(o, ino);
	return 0;
}

void lfs_ovl_release(lfs_ovl *o, lfs_ovl_file *fh)
{
	LOCKED(o, release_locked(o, fh));
}

/* ------------------------------------------------------------ directories */

static int opendir_locked(lfs_ovl *o, struct oino *ino, lfs_ovl_dir **dh)
{
	if (ino->type != S_IFDIR)
		return -ENOTDIR;
	/* The listing is taken by the first readdir (offset 0). */
	lfs_ovl_dir *d = lfs_xcalloc(1, sizeof(*d));
	d->ino = ino;
	ino->nopen++;
	*dh = d;
	return 0;
}

int lfs_ovl_opendir(lfs_ovl *o, uint64_t id, lfs_ovl_dir **dh)
{
	return LOCKED(o, opendir_locked(o, ino_of(o, id), dh));
}

static int refresh_locked(lfs_ovl *o, lfs_ovl_dir *dh)
{
	struct listing l;
	int ret = list_merged(o, dh->ino, &l);
	if (ret) {
		listing_release(&l);
		return ret;
	}
	listing_free(l.hidden, l.nh);
	listing_free(dh->ents, dh->n);
	dh->ents = l.ents;
	dh->n = l.n;
	return 0;
}

int lfs_ovl_readdir(lfs_ovl *o, lfs_ovl_dir *dh, uint64_t off, lfs_union_dir_fn fn, void *ctx)
{
	/* From the start again (rewinddir): list what is there now. */
	int ret = off == 0 ? LOCKED(o, refresh_locked(o, dh)) : 0;
	if (ret)
		return ret;
	for (uint64_t c = off + 1;; c++) {
		int stop;
		if (c <= 2) {
			stop = fn(ctx, c == 1 ? "." : "..", 1, S_IFDIR, c);
		} else {
			if (c - 3 >= dh->n)
				break;
			const struct dirent_s *e = &dh->ents[c - 3];
			stop = fn(ctx, e->name, e->ino, e->type, c);
		}
		if (stop)
			break;
	}
	return 0;
}

static int releasedir_locked(lfs_ovl *o, lfs_ovl_dir *dh)
{
	dh->ino->nopen--;
	maybe_free(o, dh->ino);
	listing_free(dh->ents, dh->n);
	free(dh);
	return 0;
}

void lfs_ovl_releasedir(lfs_ovl *o, lfs_ovl_dir *dh)
{
	LOCKED(o, releasedir_locked(o, dh));
}

/* ------------------------------------------------------------ xattrs */

static int internal_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13) ||
	       !strncmp(name, "user.fuseoverlayfs.", 19) || !strcmp(name, LFS_XATTR_OVERRIDE);
}

/* Where the xattr calls go: a path through a directory descriptor (the
 * l* calls), or, for an unlinked open file, its descriptor (the f* calls). */
struct xtarget {
	lfs_buf path;
	int fd;
};

static int xattr_target(lfs_ovl *o, struct oino *ino, struct xtarget *t)
{
	lfs_buf_init(&t->path, 0);
	t->fd = -1;
	if (ino == o->root) {
		proc_path(&t->path, o->upper_fd, "."); /* l*xattr must not stop at the link */
		return 0;
	}
	/* An open descriptor saves resolving a path (a write asks for
	 * security.capability each time); an unlinked file has nothing else. */
	t->fd = ino->type == S_IFDIR ? -1 : any_open_fd(ino);
	if (t->fd >= 0 || !ino->aliases)
		return t->fd >= 0 ? 0 : -ESTALE;
	int pfd;
	const char *name;
	int ret = upper_loc(o, ino, &pfd, &name);
	if (!ret)
		proc_path(&t->path, pfd, name);
	return ret;
}

static ssize_t x_get(const struct xtarget *t, const char *name, void *buf, size_t size)
{
	ssize_t n = t->fd >= 0 ? fgetxattr(t->fd, name, buf, size)
			       : lgetxattr(t->path.data, name, buf, size);
	return n < 0 ? -errno : n;
}

static ssize_t x_list(const struct xtarget *t, char *buf, size_t size)
{
	ssize_t n = t->fd >= 0 ? flistxattr(t->fd, buf, size) : llistxattr(t->path.data, buf, size);
	return n < 0 ? -errno : n;
}

static int x_set(const struct xtarget *t, const char *name, const void *v, size_t size, int flags)
{
	int r = t->fd >= 0 ? fsetxattr(t->fd, name, v, size, flags)
			   : lsetxattr(t->path.data, name, v, size, flags);
	return r < 0 ? -errno : 0;
}

static int x_remove(const struct xtarget *t, const char *name)
{
	int r = t->fd >= 0 ? fremovexattr(t->fd, name) : lremovexattr(t->path.data, name);
	return r < 0 ? -errno : 0;
}

static ssize_t getxattr_locked(lfs_ovl *o, struct oino *ino, const char *name, void *buf,
			       size_t size)
{
	if (internal_xattr(name))
		return -ENODATA;
	if (!ino->upper)
		return lfs_union_getxattr(o->lower, ino->lower, name, buf, size);
	struct xtarget t;
	ssize_t ret = xattr_target(o, ino, &t);
	if (!ret)
		ret = x_get(&t, name, buf, size);
	lfs_buf_release(&t.path);
	return ret;
}

ssize_t lfs_ovl_getxattr(lfs_ovl *o, uint64_t id, const char *name, void *buf, size_t size)
{
	return LOCKED(o, getxattr_locked(o, ino_of(o, id), name, buf, size));
}

/* Drops internal names from a NUL-separated list in place. */
static ssize_t filter_xattr_list(char *list, ssize_t n)
{
	ssize_t out = 0;
	for (ssize_t off = 0; off < n;) {
		size_t l = strlen(list + off) + 1;
		if (!internal_xattr(list + off)) {
			memmove(list + out, list + off, l);
			out += (ssize_t)l;
		}
		off += (ssize_t)l;
	}
	return out;
}

static ssize_t listxattr_locked(lfs_ovl *o, struct oino *ino, char *buf, size_t size)
{
	if (!ino->upper)
		return lfs_union_listxattr(o->lower, ino->lower, buf, size);
	struct xtarget t;
	ssize_t ret = xattr_target(o, ino, &t);
	ssize_t n = ret ? ret : x_list(&t, NULL, 0);
	char *all = n > 0 ? lfs_xmalloc((size_t)n) : NULL;
	if (n > 0)
		n = x_list(&t, all, (size_t)n);
	ret = n < 0 ? n : filter_xattr_list(all, n);
	if (ret > 0 && size) {
		if ((size_t)ret > size)
			ret = -ERANGE;
		else
			memcpy(buf, all, (size_t)ret);
	}
	free(all);
	lfs_buf_release(&t.path);
	return ret;
}

ssize_t lfs_ovl_listxattr(lfs_ovl *o, uint64_t id, char *buf, size_t size)
{
	return LOCKED(o, listxattr_locked(o, ino_of(o, id), buf, size));
}

static int setxattr_locked(lfs_ovl *o, struct oino *ino, const char *name, const void *value,
			   size_t size, int flags, int remove)
{
	if (internal_xattr(name))
		return -EPERM;
	int ret = copy_up_attr(o, ino);
	struct xtarget t = {LFS_BUF_INIT, -1};
	if (!ret)
		ret = xattr_target(o, ino, &t);
	if (!ret)
		ret = remove ? x_remove(&t, name) : x_set(&t, name, value, size, flags);
	lfs_buf_release(&t.path);
	return ret;
}

int lfs_ovl_setxattr(lfs_ovl *o, uint64_t id, const char *name, const void *value, size_t size,
		     int flags)
{
	return LOCKED(o, setxattr_locked(o, ino_of(o, id), name, value, size, flags, 0));
}

int lfs_ovl_removexattr(lfs_ovl *o, uint64_t id, const char *name)
{
	return LOCKED(o, setxattr_locked(o, ino_of(o, id), name, NULL, 0, 0, 1));
}

int lfs_ovl_statfs(lfs_ovl *o, struct statvfs *st)
{
	return fstatvfs(o->upper_fd, st) < 0 ? -errno : 0;
}
