/* lfs_commit — an upper directory as a change list or a layer tar (see
 * commit.h). */
#include "commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "buf.h"
#include "upper.h"

#define DATA_CHUNK (256u << 10)
#define GZ_LEVEL   6

/* ---- reading one upper directory ----------------------------------------- */

struct ent {
	char *name;	    /* as on disk */
	const char *hidden; /* whiteouts: the name hidden (inside name) */
	struct stat st;	    /* lstat */
};

struct dirlist {
	struct ent *real; /* real entries, sorted by name */
	size_t nreal;
	struct ent *wh; /* whiteouts, sorted by hidden name, unique */
	size_t nwh;
};

static void dirlist_release(struct dirlist *d)
{
	for (size_t i = 0; i < d->nreal; i++)
		free(d->real[i].name);
	for (size_t i = 0; i < d->nwh; i++)
		free(d->wh[i].name);
	free(d->real);
	free(d->wh);
	memset(d, 0, sizeof(*d));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static int cmp_hidden(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->hidden, ((const struct ent *)b)->hidden);
}

static void ent_push(struct ent **v, size_t *n, const char *name, const struct stat *st,
		     size_t hidden_off)
{
	*v = lfs_xrealloc(*v, (*n + 1) * sizeof(**v));
	struct ent *e = &(*v)[(*n)++];
	e->name = lfs_xstrdup(name);
	e->hidden = e->name + hidden_off;
	e->st = *st;
}

static int is_real(const struct dirlist *d, const char *name)
{
	struct ent key = {.name = (char *)name};
	return d->nreal && bsearch(&key, d->real, d->nreal, sizeof(key), cmp_name) != NULL;
}

/* Drops whiteouts that name the same entry twice (a 0/0 device and a
 * ".wh." file) or a name the directory also holds for real: the real entry
 * is what the overlay shows. */
static void dirlist_dedup(struct dirlist *d)
{
	size_t k = 0;
	for (size_t i = 0; i < d->nwh; i++) {
		int dup = k > 0 && !strcmp(d->wh[k - 1].hidden, d->wh[i].hidden);
		if (dup || is_real(d, d->wh[i].hidden)) {
			free(d->wh[i].name);
			continue;
		}
		d->wh[k++] = d->wh[i];
	}
	d->nwh = k;
}

/* Lists dirfd: real entries and whiteouts, each sorted; the opaque marker
 * file is left out (the caller asks lfs_upper_is_opaque).  A directory
 * matching excl (dev/ino) is left out too. */
static int dirlist_read(int dirfd, const struct stat *excl, struct dirlist *d)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int e = errno;
		close(fd);
		return -e;
	}
	int ret = 0;
	struct dirent *de;
	for (errno = 0; (de = readdir(dir)); errno = 0) {
		const char *name = de->d_name, *hidden = NULL;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			ret = -errno;
			break;
		}
		if (excl && S_ISDIR(st.st_mode) && st.st_dev == excl->st_dev &&
		    st.st_ino == excl->st_ino)
			continue;
		switch (lfs_upper_classify(name, &st, &hidden)) {
		case LFS_UPPER_ENTRY:
			ent_push(&d->real, &d->nreal, name, &st, 0);
			break;
		case LFS_UPPER_WHITEOUT:
			ent_push(&d->wh, &d->nwh, name, &st, (size_t)(hidden - name));
			break;
		case LFS_UPPER_OPQ_MARK:
			break;
		}
	}
	if (ret == 0 && errno)
		ret = -errno;
	closedir(dir);
	if (d->nreal)
		qsort(d->real, d->nreal, sizeof(*d->real), cmp_name);
	if (d->nwh)
		qsort(d->wh, d->nwh, sizeof(*d->wh), cmp_hidden);
	dirlist_dedup(d);
	return ret;
}

/* Opens directory entry e of dirfd, checking it is still the one listed. */
static int open_subdir(int dirfd, const struct ent *e)
{
	int fd = openat(dirfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_ino != e->st.st_ino || st.st_dev != e->st.st_dev) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* ---- xattrs ---------------------------------------------------------------- */

struct xattr {
	char *name;
	void *value;
	size_t len;
};

struct xattrs {
	struct xattr *v;
	size_t n;
	int metacopy; /* a metacopy mark was seen: the data is the lower's */
};

static void xattrs_release(struct xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

/* Overlay bookkeeping, never part of a layer. */
static int xattr_private(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13) ||
	       !strncmp(name, "user.fuseoverlayfs.", 19) || !strcmp(name, LFS_XATTR_OVERRIDE);
}

/* redirect_dir: the entry's lower is elsewhere, not at its path. */
static int xattr_unsupported(const char *name)
{
	return !strcmp(name, "trusted.overlay.redirect") || !strcmp(name, "user.overlay.redirect");
}

static int xattr_metacopy(const char *name)
{
	return !strcmp(name, "trusted.overlay.metacopy") || !strcmp(name, "user.overlay.metacopy");
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

/* The xattr names of entry name in dirfd, NUL-separated, into names. */
static int xattr_names(const char *p, lfs_buf *names)
{
	for (;;) {
		ssize_t n = llistxattr(p, NULL, 0);
		if (n < 0)
			return errno == ENOTSUP ? 0 : -errno;
		if (n == 0)
			return 0;
		lfs_buf_reset(names);
		lfs_buf_grow(names, (size_t)n);
		n = llistxattr(p, names->data, (size_t)n);
		if (n >= 0) {
			lfs_buf_setlen(names, (size_t)n);
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
	}
}

static int xattr_value(const char *p, const char *name, struct xattr *x)
{
	for (;;) {
		ssize_t n = lgetxattr(p, name, NULL, 0);
		if (n < 0)
			return -errno;
		x->value = lfs_xrealloc(x->value, n ? (size_t)n : 1);
		n = lgetxattr(p, name, x->value, (size_t)n);
		if (n >= 0) {
			x->len = (size_t)n;
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
	}
}

/* Reads the layer xattrs of entry name in dirfd (out may be NULL: only
 * checks for unsupported overlay features), and whether it is a metacopy
 * file.  Returns 0, -ENOTSUP for a redirect upper, or another -errno. */
static int xattrs_read(int dirfd, const char *name, struct xattrs *out)
{
	lfs_buf p = LFS_BUF_INIT, names = LFS_BUF_INIT;
	lfs_buf_addf(&p, "/proc/self/fd/%d/%s", dirfd, name);
	int ret = xattr_names(p.data, &names);
	for (size_t off = 0; ret == 0 && off < names.len; off += strlen(names.data + off) + 1) {
		const char *nm = names.data + off;
		if (xattr_unsupported(nm)) {
			ret = -ENOTSUP;
		} else if (out && xattr_metacopy(nm)) {
			out->metacopy = 1;
		} else if (out && !xattr_private(nm)) {
			struct xattr x = {lfs_xstrdup(nm), NULL, 0};
			ret = xattr_value(p.data, nm, &x);
			if (ret == -ENODATA) { /* removed meanwhile */
				ret = 0;
				free(x.name);
				free(x.value);
				continue;
			}
			out->v = lfs_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
			out->v[out->n++] = x;
		}
	}
	if (out && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_xattr);
	lfs_buf_release(&p);
	lfs_buf_release(&names);
	return ret;
}

/* ---- errors ---------------------------------------------------------------- */

static int fail(char **err, int ret, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets *err (when not set yet) to "'/path': what: strerror"; returns ret. */
static int fail(char **err, int ret, const char *path, const char *fmt, ...)
{
	if (!err || *err)
		return ret;
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	lfs_buf_addf(&b, "'/%s': ", path);
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (ret == -ENOTSUP)
		lfs_buf_addstr(&b, ": kernel overlayfs redirect_dir uppers keep entries' sources "
				   "outside their paths and cannot be committed; mount the overlay "
				   "with redirect_dir=off");
	else if (ret == -ESTALE)
		lfs_buf_addstr(&b, ": changed while being read; stop writers (unmount) and retry");
	else
		lfs_buf_addf(&b, ": %s", strerror(-ret));
	*err = lfs_buf_detach(&b, NULL);
	return ret;
}

/* Lower lookup of name in directory node dir (0: no lower directory):
 * sets *id (0 if absent) and *isdir. */
static int lower_child(lfs_union *u, uint64_t dir, const char *name, uint64_t *id, int *isdir)
{
	*id = 0;
	*isdir = 0;
	if (!u || !dir)
		return 0;
	int r = lfs_union_lookup(u, dir, name, id);
	if (r == -ENOENT || r == -ENOTDIR || r == -ENAMETOOLONG) {
		*id = 0;
		return 0;
	}
	if (r < 0)
		return r;
	struct stat st;
	r = lfs_union_getattr(u, *id, &st);
	if (r < 0)
		return r;
	*isdir = S_ISDIR(st.st_mode);
	return 0;
}

/* ---- change list ------------------------------------------------------------ */

struct change {
	char kind;
	char *path;
};

struct cw {
	lfs_union *u;
	struct change *v;
	size_t n;
	lfs_buf path; /* the current directory, "" for the root, else "/a/b" */
	char **err;
};

static void cw_add(struct cw *w, char kind, const char *name)
{
	w->v = lfs_xrealloc(w->v, (w->n + 1) * sizeof(*w->v));
	w->v[w->n].kind = kind;
	w->v[w->n++].path = lfs_xasprintf("%s/%s", w->path.data, name);
}

struct lower_ctx {
	struct cw *w;
	const struct dirlist *d;
};

static int lower_deleted(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct lower_ctx *c = ctx;
	if (strcmp(name, ".") && strcmp(name, "..") && !is_real(c->d, name))
		cw_add(c->w, 'D', name);
	return 0;
}

static int changes_dir(struct cw *w, int dirfd, uint64_t lower, int hidden);

/* One real entry: A or C, then its subtree. */
static int changes_ent(struct cw *w, int dirfd, const struct ent *e, uint64_t lower, int hidden)
{
	uint64_t id;
	int isdir, r = lower_child(w->u, lower, e->name, &id, &isdir);
	if (r < 0)
		return fail(w->err, r, w->path.data + !!w->path.len, "reading the lower layers");
	r = xattrs_read(dirfd, e->name, NULL);
	if (r < 0)
		return fail(w->err, r, w->path.data + !!w->path.len, "%s: xattrs", e->name);
	if (!S_ISDIR(e->st.st_mode)) {
		cw_add(w, id ? 'C' : 'A', e->name);
		return 0;
	}
	int fd = open_subdir(dirfd, e);
	if (fd < 0)
		return fail(w->err, fd, w->path.data + !!w->path.len, "%s: open", e->name);
	int opq = lfs_upper_is_opaque(fd);
	cw_add(w, id || (!w->u && opq) ? 'C' : 'A', e->name);
	size_t len = w->path.len;
	lfs_buf_addf(&w->path, "/%s", e->name);
	r = changes_dir(w, fd, isdir ? id : 0, hidden || opq);
	lfs_buf_setlen(&w->path, len);
	close(fd);
	return r;
}

/* hidden: the lower children of this directory are not visible (it or a
 * directory above is opaque). */
static int changes_dir(struct cw *w, int dirfd, uint64_t lower, int hidden)
{
	struct dirlist d = {0};
	int r = dirlist_read(dirfd, NULL, &d);
	if (r < 0) {
		dirlist_release(&d);
		return fail(w->err, r, w->path.data + !!w->path.len, "reading the directory");
	}
	if (hidden && lower) {
		struct lower_ctx c = {w, &d};
		r = lfs_union_readdir(w->u, lower, 0, lower_deleted, &c);
		if (r < 0)
			fail(w->err, r, w->path.data + !!w->path.len, "reading the lower layers");
	}
	for (size_t i = 0; r == 0 && i < d.nwh; i++) {
		uint64_t id = 0;
		int isdir;
		if (hidden)
			break;
		if (w->u)
			r = lower_child(w->u, lower, d.wh[i].hidden, &id, &isdir);
		if (r < 0)
			fail(w->err, r, w->path.data + !!w->path.len, "reading the lower layers");
		else if (id || !w->u)
			cw_add(w, 'D', d.wh[i].hidden);
	}
	for (size_t i = 0; r == 0 && i < d.nreal; i++)
		r = changes_ent(w, dirfd, &d.real[i], lower, hidden);
	dirlist_release(&d);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path, ((const struct change *)b)->path);
}

int lfs_upper_changes(int upper_dirfd, lfs_union *lower, lfs_change_fn fn, void *ctx, char **err)
{
	struct cw w = {.u = lower, .path = LFS_BUF_INIT, .err = err};
	int r =
	    changes_dir(&w, upper_dirfd, lower ? LFS_ROOT_ID : 0, lfs_upper_is_opaque(upper_dirfd));
	if (r == 0 && w.n)
		qsort(w.v, w.n, sizeof(*w.v), cmp_change);
	for (size_t i = 0; i < w.n; i++) {
		if (r == 0)
			r = fn(ctx, w.v[i].kind, w.v[i].path);
		free(w.v[i].path);
	}
	free(w.v);
	lfs_buf_release(&w.path);
	return r;
}

/* ---- commit ------------------------------------------------------------------ */

struct link {
	dev_t dev;
	ino_t ino;
	char *path;
	struct link *next;
};

#define LINK_BUCKETS 1024

struct cm {
	lfs_union *u;
	const struct lfs_commit_opts *o;
	struct archive *a;
	char **err;
	lfs_buf path; /* the current directory's member prefix: "" or "a/b/" */
	struct stat excl;
	int has_excl;
	struct link *links[LINK_BUCKETS];
	char *data;
	/* output */
	int out_fd;
	int out_errno;
	z_stream z;
	unsigned char *zbuf;
};

static int gz_pump(struct cm *c, int flush)
{
	int zr;
	do {
		c->z.next_out = c->zbuf;
		c->z.avail_out = DATA_CHUNK;
		zr = deflate(&c->z, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		int r = lfs_write_all(c->out_fd, c->zbuf, DATA_CHUNK - c->z.avail_out);
		if (r < 0)
			return r;
	} while (c->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static la_ssize_t out_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct cm *c = arg;
	int r;
	if (c->o->gzip) {
		c->z.next_in = (Bytef *)(uintptr_t)buf;
		c->z.avail_in = (uInt)len;
		r = gz_pump(c, Z_NO_FLUSH);
	} else {
		r = lfs_write_all(c->out_fd, buf, len);
	}
	if (r < 0) {
		c->out_errno = -r;
		archive_set_error(a, -r, "writing the layer"); /* arch_fail adds strerror */
		return -1;
	}
	return (la_ssize_t)len;
}

static int out_close(struct archive *a, void *arg)
{
	struct cm *c = arg;
	if (!c->o->gzip)
		return ARCHIVE_OK;
	int r = gz_pump(c, Z_FINISH);
	if (r < 0) {
		c->out_errno = -r;
		archive_set_error(a, -r, "writing the layer"); /* arch_fail adds strerror */
		return ARCHIVE_FATAL;
	}
	return ARCHIVE_OK;
}

/* The member a (dev, ino) was first written as, or NULL (then remembered). */
static const char *link_seen(struct cm *c, const struct stat *st, const char *path)
{
	size_t h = (size_t)((st->st_ino * 0x9E3779B97F4A7C15ull) ^ st->st_dev) % LINK_BUCKETS;
	for (struct link *l = c->links[h]; l; l = l->next)
		if (l->dev == st->st_dev && l->ino == st->st_ino)
			return l->path;
	struct link *l = lfs_xmalloc(sizeof(*l));
	*l = (struct link){st->st_dev, st->st_ino, lfs_xstrdup(path), c->links[h]};
	c->links[h] = l;
	return NULL;
}

static int arch_fail(struct cm *c, int ret, const char *path)
{
	if (c->out_errno)
		ret = -c->out_errno;
	else if (archive_errno(c->a) > 0)
		ret = -archive_errno(c->a);
	return fail(c->err, ret, path, "tar: %s",
		    archive_error_string(c->a) ? archive_error_string(c->a) : "write failed");
}

static int write_header(struct cm *c, struct archive_entry *ae, const char *path)
{
	int r = archive_write_header(c->a, ae);
	archive_entry_free(ae);
	return r < ARCHIVE_WARN ? arch_fail(c, -EIO, path) : 0;
}

/* A ".wh." marker: empty file, mode 0, owner 0, mtime 0. */
static int write_marker(struct cm *c, const char *name)
{
	lfs_buf p = LFS_BUF_INIT;
	lfs_buf_addf(&p, "%s%s", c->path.data, name);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, p.data);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0);
	archive_entry_set_size(ae, 0);
	archive_entry_set_mtime(ae, 0, 0);
	int r = write_header(c, ae, p.data);
	lfs_buf_release(&p);
	return r;
}

/* Reads the next chunk of a file's data: from the upper file (fd), or,
 * for a metacopy file, from its lower data (low != 0). */
static ssize_t data_read(struct cm *c, int fd, uint64_t low, off_t off, size_t want)
{
	if (want > DATA_CHUNK)
		want = DATA_CHUNK;
	if (low)
		return lfs_union_read(c->u, low, c->data, want, (uint64_t)off);
	ssize_t n;
	do
		n = read(fd, c->data, want);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* low: the lower data of a metacopy file, else 0. */
static int write_data(struct cm *c, int dirfd, const struct ent *e, uint64_t low, const char *path)
{
	int fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail(c->err, -errno, path, "open");
	struct stat st;
	int ret = 0;
	if (fstat(fd, &st) < 0 || st.st_ino != e->st.st_ino || st.st_dev != e->st.st_dev ||
	    !S_ISREG(st.st_mode))
		ret = fail(c->err, -ESTALE, path, "open");
	for (off_t off = 0; ret == 0 && off < e->st.st_size;) {
		ssize_t n = data_read(c, fd, low, off, (size_t)(e->st.st_size - off));
		if (n <= 0)
			ret = fail(c->err, n < 0 ? (int)n : -ESTALE, path, "read");
		else if (archive_write_data(c->a, c->data, (size_t)n) != n)
			ret = arch_fail(c, -EIO, path);
		off += n > 0 ? n : 0;
	}
	if (ret == 0 && (fstat(fd, &st) < 0 || st.st_size != e->st.st_size))
		ret = fail(c->err, -ESTALE, path, "read");
	close(fd);
	return ret;
}

/* Fills ae's type-specific part; *data set when file contents follow. */
static int entry_kind(struct cm *c, int dirfd, const struct ent *e, const char *path,
		      struct archive_entry *ae, int *data)
{
	*data = 0;
	archive_entry_set_size(ae, 0);
	if (S_ISREG(e->st.st_mode)) {
		const char *first = e->st.st_nlink > 1 ? link_seen(c, &e->st, path) : NULL;
		if (first) {
			archive_entry_set_hardlink(ae, first);
		} else {
			archive_entry_set_size(ae, e->st.st_size);
			*data = 1;
		}
	} else if (S_ISLNK(e->st.st_mode)) {
		lfs_buf t = LFS_BUF_INIT;
		lfs_buf_grow(&t, (size_t)e->st.st_size + 1);
		ssize_t n = readlinkat(dirfd, e->name, t.data, t.alloc - 1);
		if (n < 0 || (size_t)n >= t.alloc - 1) {
			lfs_buf_release(&t);
			return fail(c->err, n < 0 ? -errno : -ESTALE, path, "readlink");
		}
		lfs_buf_setlen(&t, (size_t)n);
		archive_entry_set_symlink(ae, t.data);
		lfs_buf_release(&t);
	} else if (S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode)) {
		archive_entry_set_rdevmajor(ae, major(e->st.st_rdev));
		archive_entry_set_rdevminor(ae, minor(e->st.st_rdev));
	}
	return 0;
}

/* The lower data of metacopy file e: a regular file at its path below
 * (lower: the directory's lower node, 0 if none or hidden). */
static int metacopy_data(struct cm *c, uint64_t lower, const struct ent *e, const char *path,
			 uint64_t *low)
{
	int isdir;
	struct stat st;
	int r = lower_child(c->u, lower, e->name, low, &isdir);
	if (r < 0)
		return fail(c->err, r, path, "reading the lower layers");
	if (!*low || lfs_union_getattr(c->u, *low, &st) < 0 || !S_ISREG(st.st_mode))
		return fail(c->err, -EIO, path,
			    "metacopy file (overlay metadata-only copy-up) whose data is not a "
			    "file at the same path in the lower layers; commit it with the layers "
			    "it was written over as the lower");
	return 0;
}

/* Writes the member for real entry e of dirfd (not its subtree); lower as
 * metacopy_data. */
static int write_ent(struct cm *c, int dirfd, const struct ent *e, uint64_t lower, const char *path)
{
	struct stat st = e->st;
	lfs_upper_get_override(dirfd, e->name, &st);
	struct xattrs x = {0};
	uint64_t low = 0;
	int ret = xattrs_read(dirfd, e->name, &x);
	if (ret < 0) {
		xattrs_release(&x);
		return fail(c->err, ret, path, "xattrs");
	}
	if (x.metacopy && S_ISREG(st.st_mode) &&
	    (ret = metacopy_data(c, lower, e, path, &low)) < 0) {
		xattrs_release(&x);
		return ret;
	}
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, path);
	archive_entry_set_filetype(ae, st.st_mode & S_IFMT);
	archive_entry_set_perm(ae, st.st_mode & 07777);
	archive_entry_set_uid(ae, st.st_uid);
	archive_entry_set_gid(ae, st.st_gid);
	int64_t sec = st.st_mtim.tv_sec, nsec = st.st_mtim.tv_nsec;
	if (c->o->source_date_epoch >= 0 && sec >= c->o->source_date_epoch) {
		sec = c->o->source_date_epoch;
		nsec = 0;
	}
	archive_entry_set_mtime(ae, (time_t)sec, (long)nsec);
	for (size_t i = 0; i < x.n; i++)
		archive_entry_xattr_add_entry(ae, x.v[i].name, x.v[i].value, x.v[i].len);
	xattrs_release(&x);
	int data;
	ret = entry_kind(c, dirfd, e, path, ae, &data);
	if (ret < 0) {
		archive_entry_free(ae);
		return ret;
	}
	ret = write_header(c, ae, path);
	if (ret == 0 && data)
		ret = write_data(c, dirfd, e, low, path);
	return ret;
}

static int commit_dir(struct cm *c, int dirfd, uint64_t lower, int hidden, int marker);

/* Real entry e: its member, then its subtree. */
static int commit_ent(struct cm *c, int dirfd, const struct ent *e, uint64_t lower, int hidden)
{
	size_t len = c->path.len;
	lfs_buf_addstr(&c->path, e->name);
	if (S_ISSOCK(e->st.st_mode)) {
		lfs_buf_setlen(&c->path, len);
		return 0;
	}
	int ret = write_ent(c, dirfd, e, hidden ? 0 : lower, c->path.data);
	if (ret == 0 && S_ISDIR(e->st.st_mode)) {
		uint64_t id;
		int isdir;
		int fd = open_subdir(dirfd, e);
		if (fd < 0)
			ret = fail(c->err, fd, c->path.data, "open");
		else if ((ret = lower_child(c->u, hidden ? 0 : lower, e->name, &id, &isdir)) < 0)
			fail(c->err, ret, c->path.data, "reading the lower layers");
		if (ret == 0) {
			int opq = lfs_upper_is_opaque(fd);
			lfs_buf_addch(&c->path, '/');
			ret = commit_dir(c, fd, isdir ? id : 0, hidden || opq,
					 opq && (!c->u || isdir));
		}
		if (fd >= 0)
			close(fd);
	}
	lfs_buf_setlen(&c->path, len);
	return ret;
}

/* lower: this directory's node below (0: none, or hidden); marker: write
 * the opaque marker. */
static int commit_dir(struct cm *c, int dirfd, uint64_t lower, int hidden, int marker)
{
	struct dirlist d = {0};
	int ret = dirlist_read(dirfd, c->has_excl ? &c->excl : NULL, &d);
	if (ret < 0)
		fail(c->err, ret, c->path.data, "reading the directory");
	if (ret == 0 && marker)
		ret = write_marker(c, LFS_WH_OPAQUE);
	for (size_t i = 0; ret == 0 && i < d.nwh; i++) {
		uint64_t id = 0;
		int isdir;
		if (c->u && hidden)
			break;
		if (c->u && (ret = lower_child(c->u, lower, d.wh[i].hidden, &id, &isdir)) < 0)
			fail(c->err, ret, c->path.data, "reading the lower layers");
		else if (id || !c->u) {
			lfs_buf wh = LFS_BUF_INIT;
			lfs_buf_addf(&wh, "%s%s", LFS_WH_PREFIX, d.wh[i].hidden);
			ret = write_marker(c, wh.data);
			lfs_buf_release(&wh);
		}
	}
	for (size_t i = 0; ret == 0 && i < d.nreal; i++)
		ret = commit_ent(c, dirfd, &d.real[i], lower, hidden);
	dirlist_release(&d);
	return ret;
}

void lfs_commit_opts_init(struct lfs_commit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->source_date_epoch = -1;
	o->exclude_dirfd = -1;
}

static int cm_open(struct cm *c)
{
	if (c->o->gzip) {
		/* windowBits 15 + 16: a gzip header with no name and mtime 0. */
		if (deflateInit2(&c->z, GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return fail(c->err, -ENOMEM, "", "zlib");
		c->zbuf = lfs_xmalloc(DATA_CHUNK);
	}
	c->a = archive_write_new();
	archive_write_set_format_pax(c->a);
	if (archive_write_open(c->a, c, NULL, out_write, out_close) != ARCHIVE_OK)
		return arch_fail(c, -EIO, "");
	return 0;
}

static void cm_release(struct cm *c)
{
	if (c->a)
		archive_write_free(c->a);
	if (c->o->gzip)
		deflateEnd(&c->z);
	free(c->zbuf);
	for (size_t i = 0; i < LINK_BUCKETS; i++) {
		for (struct link *l = c->links[i], *next; l; l = next) {
			next = l->next;
			free(l->path);
			free(l);
		}
	}
	free(c->data);
	lfs_buf_release(&c->path);
}

int lfs_upper_commit(int upper_dirfd, lfs_union *lower, int out_fd, const struct lfs_commit_opts *o,
		     char **err)
{
	struct lfs_commit_opts dflt;
	if (!o) {
		lfs_commit_opts_init(&dflt);
		o = &dflt;
	}
	struct cm *c = lfs_xcalloc(1, sizeof(*c));
	c->u = lower;
	c->o = o;
	c->err = err;
	c->out_fd = out_fd;
	c->path = (lfs_buf)LFS_BUF_INIT;
	c->data = lfs_xmalloc(DATA_CHUNK);
	c->has_excl = o->exclude_dirfd >= 0 && fstat(o->exclude_dirfd, &c->excl) == 0;
	/* libarchive converts names from the locale's charset to UTF-8 for the
	 * pax header: pin UTF-8 on this thread so the bytes written do not
	 * depend on the caller's locale (names that are not UTF-8 are stored
	 * as they are, with hdrcharset=BINARY). */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
	int ret = cm_open(c);
	if (ret == 0) {
		int opq = lfs_upper_is_opaque(upper_dirfd);
		ret = commit_dir(c, upper_dirfd, lower ? LFS_ROOT_ID : 0, opq, opq);
	}
	if (ret == 0 && archive_write_close(c->a) != ARCHIVE_OK)
		ret = arch_fail(c, -EIO, "");
	cm_release(c);
	free(c);
	if (utf8) {
		uselocale(old);
		freelocale(utf8);
	}
	return ret;
}
