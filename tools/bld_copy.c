/* bld_copy — COPY and ADD into an overlay over the stage's layers.
 *
 * Everything is written through fs/ovl.h, never through host paths: a
 * destination or an archive member that names a symlink is resolved
 * inside the image's root (as chroot would), and the overlay only ever
 * writes inside its upper directory, so no source, link or archive can
 * make the build write outside the layer it is making.
 *
 * Docker's rules: a source directory copies its contents, not itself; a
 * file goes to DEST/basename when DEST is a directory (it ends in '/',
 * several sources were given, or it exists as a directory), else to
 * DEST; missing parents are created (0755); everything copied is owned by
 * 0:0 or --chown; modes come from the source or --chmod; mtimes are kept;
 * symlinks are copied as links.  ADD unpacks local tar archives (plain,
 * gzip, bzip2, xz) into DEST, keeping the members' owners.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "bld_i.h"
#include "util.h"

#define SYMLINK_MAX_FOLLOW 40
#define COPY_CHUNK	   (1u << 20)

static int ovl_fail(error **err, int r, const char *what, const char *path)
{
	return error_make(err, -r, "%s '%s'", what, path);
}

/* ---- resolving paths in the overlay ---------------------------------------- */

struct walk {
	lfs_ovl *o;
	int follow, mkdirs;
	struct lfs_ovl_cred cred;
	unsigned links;
};

static int resolve_in(struct walk *w, uint64_t dir, const char *path, int last_follow, uint64_t *id,
		      struct stat *st);

/* A directory made for a path: owned as asked.  Rootless, the overlay
 * creates it as the user; the setattr records the owner (override_stat). */
static int mkdir_owned(lfs_ovl *o, uint64_t dir, const char *name, const struct lfs_ovl_cred *cred,
		       uint64_t *id, struct stat *st)
{
	int r = lfs_ovl_mkdir(o, dir, name, 0755, cred, id, st);
	if (r < 0 || (st->st_uid == cred->uid && st->st_gid == cred->gid))
		return r;
	struct stat a = {0};
	a.st_uid = cred->uid;
	a.st_gid = cred->gid;
	return lfs_ovl_setattr(o, *id, &a, LFS_OVL_SET_UID | LFS_OVL_SET_GID, NULL, st);
}

/* One component name in dir: creates it as a directory when missing and
 * more components follow (or mkdirs asks).  A symlink is returned as it
 * is: resolve_in() splices its target into the path. */
static int step(struct walk *w, uint64_t dir, const char *name, int is_last, uint64_t *id,
		struct stat *st)
{
	int r = lfs_ovl_lookup(w->o, dir, name, id, st);
	if (r == -ENOENT && w->mkdirs && !is_last)
		r = mkdir_owned(w->o, dir, name, &w->cred, id, st);
	return r;
}

/* The parents of the current node are kept as a stack of ids, for "..";
 * a symlink's target replaces it in the path still to walk, so that a
 * relative target's ".." goes up from the link's directory, and an
 * absolute one restarts at the root: neither leaves the root. */
static int resolve_in(struct walk *w, uint64_t dir, const char *path, int last_follow, uint64_t *id,
		      struct stat *st)
{
	cleanup_free char *p = lfs_xstrdup(path);
	uint64_t stack[256];
	size_t depth = 0;
	stack[depth++] = dir;
	int r = lfs_ovl_getattr(w->o, dir, st);
	for (char *c = p; r == 0;) {
		c += strspn(c, "/");
		if (!*c)
			break;
		char *end = strchrnul(c, '/');
		char *rest = *end ? end + 1 : end;
		*end = '\0';
		int is_last = !rest[strspn(rest, "/")];
		if (!strcmp(c, "..") && depth > 1)
			depth--;
		if (!strcmp(c, ".") || !strcmp(c, "..")) {
			r = lfs_ovl_getattr(w->o, stack[depth - 1], st);
			c = rest;
			continue;
		}
		if (!S_ISDIR(st->st_mode))
			return -ENOTDIR;
		uint64_t next;
		r = step(w, stack[depth - 1], c, is_last, &next, st);
		if (r == 0 && S_ISLNK(st->st_mode) && (!is_last || last_follow)) {
			if (++w->links > SYMLINK_MAX_FOLLOW)
				return -ELOOP;
			lfs_buf target = LFS_BUF_INIT;
			r = lfs_ovl_readlink(w->o, next, &target);
			if (r < 0) {
				lfs_buf_release(&target);
				break;
			}
			char *np = lfs_xasprintf("%s/%s", target.data, rest);
			if (target.data[0] == '/') {
				stack[0] = LFS_OVL_ROOT;
				depth = 1;
			}
			lfs_buf_release(&target);
			free(p);
			c = p = np;
			r = lfs_ovl_getattr(w->o, stack[depth - 1], st);
			continue;
		}
		if (r == 0) {
			if (depth == sizeof(stack) / sizeof(stack[0]))
				return -ENAMETOOLONG;
			stack[depth++] = next;
		}
		c = rest;
	}
	if (r == 0)
		*id = stack[depth - 1];
	return r;
}

int bld_ovl_resolve(lfs_ovl *o, const char *path, int follow, int mkdirs, uid_t uid, gid_t gid,
		    uint64_t *id, struct stat *st, error **err)
{
	struct walk w = {o, follow, mkdirs, {uid, gid}, 0};
	int r = resolve_in(&w, LFS_OVL_ROOT, path, follow, id, st);
	if (r < 0 && err)
		return ovl_fail(err, r, "resolving", path);
	return r;
}

/* Makes the directory path (and its parents) exist; *id is it. */
int bld_ovl_mkdir_p(lfs_ovl *o, const char *path, uid_t uid, gid_t gid, uint64_t *id, error **err)
{
	struct stat st;
	struct walk w = {o, 1, 1, {uid, gid}, 0};
	int r = resolve_in(&w, LFS_OVL_ROOT, path, 1, id, &st);
	if (r == -ENOENT) {
		/* resolve_in creates parents but not the last one */
		cleanup_free char *dup = lfs_xstrdup(path);
		char *slash = strrchr(dup, '/');
		const char *name = slash ? slash + 1 : dup;
		uint64_t parent = LFS_OVL_ROOT;
		if (slash && slash != dup) {
			*slash = '\0';
			r = resolve_in(&w, LFS_OVL_ROOT, dup, 1, &parent, &st);
		} else {
			r = 0;
		}
		if (r == 0)
			r = mkdir_owned(o, parent, name, &w.cred, id, &st);
	}
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r < 0)
		return error_make(err, -r, "creating directory '%s'", path);
	return 0;
}

static int mkdir_p(lfs_ovl *o, const char *path, const struct bld_copy *c, uint64_t *id,
		   error **err)
{
	return bld_ovl_mkdir_p(o, path, c->uid, c->gid, id, err);
}

/* ---- writing entries ------------------------------------------------------ */

/* What to give an entry: mode, owner and times. */
struct meta {
	mode_t mode; /* type + permissions */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
};

static void meta_from(struct meta *m, const struct stat *st, const struct bld_copy *c)
{
	m->mode = st->st_mode;
	if (c->chmod != (mode_t)-1)
		m->mode = (st->st_mode & S_IFMT) | (c->chmod & 07777);
	m->uid = c->keep_owner ? st->st_uid : c->uid;
	m->gid = c->keep_owner ? st->st_gid : c->gid;
	m->mtime = st->st_mtim;
}

static int set_meta(lfs_ovl *o, uint64_t id, const struct meta *m, int with_mode)
{
	struct stat a = {0};
	a.st_mode = m->mode;
	a.st_uid = m->uid;
	a.st_gid = m->gid;
	a.st_atim = m->mtime;
	a.st_mtim = m->mtime;
	unsigned set = LFS_OVL_SET_UID | LFS_OVL_SET_GID | LFS_OVL_SET_ATIME | LFS_OVL_SET_MTIME;
	if (with_mode)
		set |= LFS_OVL_SET_MODE;
	struct stat out;
	return lfs_ovl_setattr(o, id, &a, set, NULL, &out);
}

/* Removes name from dir unless it is a directory and keep_dir. */
static int clear_name(lfs_ovl *o, uint64_t dir, const char *name, int want_dir, uint64_t *found)
{
	struct stat st;
	uint64_t id;
	int r = lfs_ovl_lookup(o, dir, name, &id, &st);
	*found = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		if (want_dir) {
			*found = id;
			return 0;
		}
		return -EISDIR;
	}
	return lfs_ovl_unlink(o, dir, name);
}

/* Data source for a regular file: an fd, or a union node. */
struct data {
	int fd;
	lfs_union *u;
	uint64_t id;
	const char *buf; /* or bytes in memory */
	size_t len;
};

/* Writes all of buf at off; the write's own error (ENOSPC on a full
 * disk), never a made-up one. */
static int write_full(lfs_ovl *o, lfs_ovl_file *fh, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = lfs_ovl_write(o, fh, buf, len, off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENOSPC; /* pwrite of a regular file makes no progress: full */
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int copy_data(lfs_ovl *o, lfs_ovl_file *fh, const struct data *d)
{
	int out = lfs_ovl_file_fd(fh);
	if (d->buf)
		return write_full(o, fh, d->buf, d->len, 0);
	if (d->fd >= 0) {
		ssize_t n;
		while ((n = copy_file_range(d->fd, NULL, out, NULL, COPY_CHUNK, 0)) > 0)
			;
		if (n == 0)
			return 0;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
	}
	cleanup_free char *buf = lfs_xmalloc(COPY_CHUNK);
	for (off_t off = lseek(out, 0, SEEK_END);;) {
		ssize_t n = d->u ? lfs_union_read(d->u, d->id, buf, COPY_CHUNK, (uint64_t)off)
				 : pread(d->fd, buf, COPY_CHUNK, off);
		if (n < 0)
			return d->u ? (int)n : -errno;
		if (n == 0)
			return 0;
		int r = write_full(o, fh, buf, (size_t)n, off);
		if (r < 0)
			return r;
		off += n;
	}
}

static int put_file(lfs_ovl *o, uint64_t dir, const char *name, const struct meta *m,
		    const struct data *d)
{
	uint64_t found, id;
	int r = clear_name(o, dir, name, 0, &found);
	if (r < 0)
		return r;
	struct lfs_ovl_cred cred = {m->uid, m->gid};
	struct stat st;
	lfs_ovl_file *fh = NULL;
	r = lfs_ovl_create(o, dir, name, m->mode & 07777, O_WRONLY | O_TRUNC, &cred, &id, &st, &fh);
	if (r < 0)
		return r;
	r = copy_data(o, fh, d);
	lfs_ovl_release(o, fh);
	return r < 0 ? r : set_meta(o, id, m, 1);
}

static int put_symlink(lfs_ovl *o, uint64_t dir, const char *name, const char *target,
		       const struct meta *m)
{
	uint64_t found, id;
	int r = clear_name(o, dir, name, 0, &found);
	struct lfs_ovl_cred cred = {m->uid, m->gid};
	struct stat st;
	if (r == 0)
		r = lfs_ovl_symlink(o, dir, name, target, &cred, &id, &st);
	if (r == 0) {
		struct stat a = {0};
		a.st_uid = m->uid;
		a.st_gid = m->gid;
		a.st_mtim = a.st_atim = m->mtime;
		r = lfs_ovl_setattr(o, id, &a,
				    LFS_OVL_SET_UID | LFS_OVL_SET_GID | LFS_OVL_SET_ATIME |
					LFS_OVL_SET_MTIME,
				    NULL, &st);
	}
	return r;
}

static int put_dir(lfs_ovl *o, uint64_t dir, const char *name, const struct meta *m, uint64_t *id)
{
	uint64_t found;
	int r = clear_name(o, dir, name, 1, &found);
	if (r < 0)
		return r;
	if (found) {
		*id = found;
		return 0;
	}
	struct lfs_ovl_cred cred = {m->uid, m->gid};
	struct stat st;
	r = lfs_ovl_mkdir(o, dir, name, m->mode & 07777, &cred, id, &st);
	return r < 0 ? r : set_meta(o, *id, m, 1);
}

static int put_special(lfs_ovl *o, uint64_t dir, const char *name, const struct meta *m, dev_t rdev)
{
	uint64_t found, id;
	int r = clear_name(o, dir, name, 0, &found);
	struct lfs_ovl_cred cred = {m->uid, m->gid};
	struct stat st;
	if (r == 0)
		r = lfs_ovl_mknod(o, dir, name, m->mode, rdev, &cred, &id, &st);
	return r < 0 ? r : set_meta(o, id, m, 1);
}

/* ---- directory mtimes, applied once their contents are written ------------- */

struct dir_times {
	struct {
		uint64_t id;
		struct meta m;
	} * v;
	size_t n;
};

static void dir_times_add(struct dir_times *t, uint64_t id, const struct meta *m)
{
	t->v = lfs_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	t->v[t->n].id = id;
	t->v[t->n++].m = *m;
}

static void dir_times_apply(lfs_ovl *o, struct dir_times *t)
{
	for (size_t i = t->n; i-- > 0;)
		set_meta(o, t->v[i].id, &t->v[i].m, 0);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* ---- from the build context -------------------------------------------------- */

/* Open directories of the walk: the stack of (relative path, overlay id). */
struct ctx_copy {
	lfs_ovl *o;
	const struct bld_copy *c;
	const char *root_rel; /* the source being copied */
	uint64_t dest;	      /* where root_rel's contents go */
	const char *as_name;  /* the name a non-directory source gets in dest */
	struct {
		char *rel;
		uint64_t id;
	} stack[256];
	size_t depth;
	struct dir_times times;
};

/* The overlay directory that holds rel (its parent in the walk). */
static int parent_of(struct ctx_copy *cc, const char *rel, uint64_t *id)
{
	while (cc->depth > 0) {
		const char *p = cc->stack[cc->depth - 1].rel;
		size_t n = strlen(p);
		int child = !strcmp(p, ".")
				? !strchr(rel, '/')
				: !strncmp(rel, p, n) && rel[n] == '/' && !strchr(rel + n + 1, '/');
		if (child) {
			*id = cc->stack[cc->depth - 1].id;
			return 0;
		}
		free(cc->stack[--cc->depth].rel);
	}
	return -EIO;
}

static int ctx_entry(void *arg, const char *rel, int parent_fd, const char *name,
		     const struct stat *st, error **err)
{
	struct ctx_copy *cc = arg;
	struct meta m;
	meta_from(&m, st, cc->c);
	int is_root = !strcmp(rel, cc->root_rel);
	uint64_t dir = cc->dest, id = 0;
	const char *dname = is_root ? cc->as_name : name;
	if (!is_root && parent_of(cc, rel, &dir) < 0)
		return error_make(err, EIO, "walking '%s'", rel);
	int r = 0;
	if (S_ISDIR(st->st_mode)) {
		if (is_root)
			id = cc->dest; /* a directory source: its contents go to dest */
		else
			r = put_dir(cc->o, dir, dname, &m, &id);
		if (r == 0 && cc->depth < sizeof(cc->stack) / sizeof(cc->stack[0])) {
			cc->stack[cc->depth].rel = lfs_xstrdup(rel);
			cc->stack[cc->depth++].id = id;
			if (!is_root)
				dir_times_add(&cc->times, id, &m);
		} else if (r == 0) {
			r = -ENAMETOOLONG;
		}
	} else if (S_ISREG(st->st_mode)) {
		cleanup_fd int fd = openat(parent_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return error_make(err, errno, "reading '%s' of the build context", rel);
		struct data d = {fd, NULL, 0, NULL, 0};
		r = put_file(cc->o, dir, dname, &m, &d);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return error_make(err, errno, "reading link '%s' of the build context",
					  rel);
		target[n] = '\0';
		r = put_symlink(cc->o, dir, dname, target, &m);
	} else if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		r = put_special(cc->o, dir, dname, &m, st->st_rdev);
	} /* sockets cannot be in a layer: skipped */
	if (r < 0)
		return error_make(err, -r, "copying '%s' to '%s'", rel, cc->c->dest);
	return 0;
}

/* ---- ADD: local archives ----------------------------------------------------- */

static struct archive *archive_open_fd(int fd)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	if (archive_read_open_fd(a, fd, 64 << 10) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* 1 when fd holds a tar archive (possibly compressed) ADD should unpack. */
static int is_archive(int fd)
{
	struct archive *a = archive_open_fd(fd);
	if (!a)
		return 0;
	struct archive_entry *e;
	int r = archive_read_next_header(a, &e);
	int ok = r == ARCHIVE_OK || r == ARCHIVE_WARN; /* a bad first header: refused later */
	archive_read_free(a);
	lseek(fd, 0, SEEK_SET);
	return ok;
}

/* A member name made relative and checked as the layer index checks it
 * (no "..", within LFS_PATH_MAX and LFS_NAME_MAX); NULL with *why set
 * (caller frees) when it is refused. */
static char *member_path(const char *name, char **why)
{
	lfs_buf b = LFS_BUF_INIT;
	if (lfs_index_normalise(name, &b, why) < 0) {
		lfs_buf_release(&b);
		return NULL;
	}
	return lfs_buf_detach(&b, NULL);
}

struct extract {
	lfs_ovl *o;
	const struct bld_copy *c;
	const char *dest;
	const char *src;
	struct dir_times times;
	uint64_t *links; /* ids of the symlinks this archive made */
	size_t nlinks, alinks;
};

static size_t own_link(const struct extract *x, uint64_t id)
{
	size_t i = 0;
	while (i < x->nlinks && x->links[i] != id)
		i++;
	return i;
}

/* Within one archive the layer index's rule holds: a symlink the archive
 * itself made, found where a later member needs a directory, is replaced
 * by one instead of being followed (fs/index.h).  Symlinks that were in
 * the image before are followed, resolved inside its root (the walk here
 * stops at them: whatever lies beyond is inside the root too). */
static int drop_own_links(struct extract *x, const char *rel, size_t dirlen)
{
	uint64_t dir, id;
	struct stat st;
	if (!x->nlinks || bld_ovl_resolve(x->o, x->dest, 1, 0, 0, 0, &dir, &st, NULL) < 0)
		return 0;
	for (size_t i = 0; i < dirlen;) {
		size_t n = strcspn(rel + i, "/");
		if (i + n > dirlen)
			n = dirlen - i;
		cleanup_free char *name = lfs_xasprintf("%.*s", (int)n, rel + i);
		if (lfs_ovl_lookup(x->o, dir, name, &id, &st) < 0)
			return 0; /* missing: mkdir_p makes it */
		size_t k = own_link(x, id);
		if (S_ISLNK(st.st_mode) && k < x->nlinks) {
			x->links[k] = x->links[--x->nlinks];
			return lfs_ovl_unlink(x->o, dir, name);
		}
		if (!S_ISDIR(st.st_mode))
			return 0; /* not the archive's: mkdir_p follows or refuses it */
		dir = id;
		i += n + 1;
	}
	return 0;
}

/* Parent directory id and leaf name of member path rel under dest. */
static int member_parent(struct extract *x, const char *rel, uint64_t *dir, const char **leaf,
			 error **err)
{
	const char *slash = strrchr(rel, '/');
	*leaf = slash ? slash + 1 : rel;
	int r = slash ? drop_own_links(x, rel, (size_t)(slash - rel)) : 0;
	if (r < 0)
		return error_make(err, -r, "%s: member '%s'", x->src, rel);
	cleanup_free char *p = slash ? lfs_xasprintf("%s/%.*s", x->dest, (int)(slash - rel), rel)
				     : lfs_xstrdup(x->dest);
	return mkdir_p(x->o, p, x->c, dir, err);
}

static int extract_link(struct extract *x, uint64_t dir, const char *leaf, const char *target,
			const char *rel, error **err)
{
	cleanup_free char *why = NULL;
	cleanup_free char *t = member_path(target, &why);
	if (!t)
		return error_make(err, EINVAL, "%s: member '%s': hard link target '%s': %s", x->src,
				  rel, target, why);
	cleanup_free char *abs = lfs_xasprintf("%s/%s", x->dest, t);
	uint64_t id, found;
	struct stat st, cur;
	if (bld_ovl_resolve(x->o, abs, 0, 0, 0, 0, &id, &st, NULL) < 0)
		return error_make(err, ENOENT,
				  "%s: member '%s': hard link target '%s' not found earlier in the "
				  "archive",
				  x->src, rel, target);
	if (lfs_ovl_lookup(x->o, dir, leaf, &found, &cur) == 0 && found == id)
		return 0; /* a link to itself: tar -x keeps the file as it is */
	int r = clear_name(x->o, dir, leaf, 0, &found);
	if (r == 0)
		r = lfs_ovl_link(x->o, id, dir, leaf, &st);
	return r < 0 ? error_make(err, -r, "%s: member '%s'", x->src, rel) : 0;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e, error **err)
{
	cleanup_free char *why = NULL;
	cleanup_free char *rel = member_path(archive_entry_pathname(e), &why);
	if (!rel)
		return error_make(err, EINVAL, "%s: member '%s': %s", x->src,
				  archive_entry_pathname(e), why);
	if (!*rel)
		return 0; /* "./" itself */
	if (archive_entry_uid(e) < 0 || archive_entry_uid(e) > UINT32_MAX - 1 ||
	    archive_entry_gid(e) < 0 || archive_entry_gid(e) > UINT32_MAX - 1)
		return error_make(err, EINVAL, "%s: member '%s': uid or gid out of range", x->src,
				  rel);
	uint64_t dir, id;
	const char *leaf;
	if (member_parent(x, rel, &dir, &leaf, err) < 0)
		return -1;
	struct meta m = {archive_entry_mode(e),
			 (uid_t)archive_entry_uid(e),
			 (gid_t)archive_entry_gid(e),
			 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
	if (x->c->chmod != (mode_t)-1)
		m.mode = (m.mode & S_IFMT) | (x->c->chmod & 07777);
	if (x->c->own_members || x->c->uid || x->c->gid) { /* --chown wins over the members' */
		m.uid = x->c->uid;
		m.gid = x->c->gid;
	}
	if (archive_entry_hardlink(e))
		return extract_link(x, dir, leaf, archive_entry_hardlink(e), rel, err);
	int r;
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		r = put_dir(x->o, dir, leaf, &m, &id);
		if (r ==
		    0) /* a directory already there takes the member's metadata, as in tar -x */
			r = set_meta(x->o, id, &m, 1);
		if (r == 0)
			dir_times_add(&x->times, id, &m);
		break;
	case AE_IFLNK: {
		struct stat st;
		r = put_symlink(x->o, dir, leaf, archive_entry_symlink(e), &m);
		if (r == 0)
			r = lfs_ovl_lookup(x->o, dir, leaf, &id, &st);
		if (r == 0) {
			if (x->nlinks == x->alinks) {
				x->alinks = x->alinks ? 2 * x->alinks : 16;
				x->links = lfs_xrealloc(x->links, x->alinks * sizeof(*x->links));
			}
			x->links[x->nlinks++] = id;
		}
		break;
	}
	case AE_IFREG: {
		/* through a pipe-free path: read blocks and write them */
		lfs_buf b = LFS_BUF_INIT;
		const void *blk;
		size_t len;
		la_int64_t off;
		int ar;
		while ((ar = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
			if ((size_t)off > b.len)
				lfs_buf_zalloc(&b, (size_t)off - b.len);
			lfs_buf_add(&b, blk, len);
		}
		/* a sparse file may end in a hole: no block covers it */
		if (ar == ARCHIVE_EOF && archive_entry_size(e) > 0 &&
		    b.len < (size_t)archive_entry_size(e))
			lfs_buf_zalloc(&b, (size_t)archive_entry_size(e) - b.len);
		if (ar != ARCHIVE_EOF) {
			lfs_buf_release(&b);
			return error_make(err, EIO, "%s: member '%s': %s", x->src, rel,
					  archive_error_string(a));
		}
		struct data d = {-1, NULL, 0, b.data, b.len};
		r = put_file(x->o, dir, leaf, &m, &d);
		lfs_buf_release(&b);
		break;
	}
	default:
		r = put_special(x->o, dir, leaf, &m, archive_entry_rdev(e));
	}
	return r < 0 ? error_make(err, -r, "%s: member '%s'", x->src, rel) : 0;
}

int bld_copy_extract(lfs_ovl *o, const struct bld_copy *c, int fd, const char *src, error **err)
{
	uint64_t dest;
	if (mkdir_p(o, c->dest, c, &dest, err) < 0)
		return -1;
	struct archive *a = archive_open_fd(fd);
	if (!a)
		return error_make(err, EIO, "%s: not a readable archive", src);
	struct extract x = {o, c, c->dest, src, {0}};
	struct archive_entry *e;
	cleanup_free char *last = NULL;
	int r, ret = 0;
	while (ret == 0 &&
	       ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK ||
		(r == ARCHIVE_WARN && !lfs_index_warning_fatal(archive_error_string(a))))) {
		ret = extract_entry(&x, a, e, err);
		free(last);
		last = lfs_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
	}
	if (ret == 0 && r == ARCHIVE_WARN)
		ret = error_make(err, EINVAL,
				 "%s: member '%s': its pax extended header is malformed (%s)", src,
				 archive_entry_pathname(e) ? archive_entry_pathname(e) : "?",
				 archive_error_string(a));
	else if (ret == 0 && r != ARCHIVE_EOF)
		ret = error_make(err, EIO, "%s: %s%s%s: %s", src, last ? "after member '" : "",
				 last ? last : "at the start", last ? "'" : "",
				 archive_error_string(a));
	archive_read_free(a);
	free(x.links);
	dir_times_apply(o, &x.times);
	return ret;
}

/* ---- one source ---------------------------------------------------------------- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : (s ? "" : p);
}

/* Where a non-directory source named name goes: (dir id, leaf name). */
static int file_target(lfs_ovl *o, const struct bld_copy *c, const char *name, uint64_t *dir,
		       char **leaf, error **err)
{
	if (!c->dest_dir) {
		uint64_t id;
		struct stat st;
		int r = bld_ovl_resolve(o, c->dest, 1, 0, 0, 0, &id, &st, NULL);
		if (r < 0 || !S_ISDIR(st.st_mode)) {
			cleanup_free char *parent = lfs_xstrdup(c->dest);
			char *slash = strrchr(parent, '/');
			*leaf = lfs_xstrdup(slash + 1);
			slash[slash == parent ? 1 : 0] = '\0';
			return mkdir_p(o, parent, c, dir, err);
		}
	}
	*leaf = lfs_xstrdup(name);
	return mkdir_p(o, c->dest, c, dir, err);
}

static int copy_ctx_source(lfs_ovl *o, const struct bld_copy *c, const char *rel, error **err)
{
	bctx *ctx = c->src->ctx;
	struct stat st;
	if (fstatat(ctx_dirfd(ctx), rel, &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		return error_make(err, errno, "'%s' in the build context", rel);
	struct ctx_copy cc = {.o = o, .c = c, .root_rel = rel};
	cleanup_free char *leaf = NULL;
	int r;
	if (S_ISDIR(st.st_mode)) {
		r = mkdir_p(o, c->dest, c, &cc.dest, err);
	} else {
		if (c->add && S_ISREG(st.st_mode)) {
			cleanup_fd int fd =
			    openat(ctx_dirfd(ctx), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return error_make(err, errno, "'%s' in the build context", rel);
			if (is_archive(fd))
				return bld_copy_extract(o, c, fd, rel, err);
		}
		r = file_target(o, c, base_name(rel), &cc.dest, &leaf, err);
		cc.as_name = leaf;
	}
	if (r == 0)
		r = ctx_walk(ctx, rel, ctx_entry, &cc, err);
	while (cc.depth > 0)
		free(cc.stack[--cc.depth].rel);
	dir_times_apply(o, &cc.times);
	return r;
}

/* ---- from another stage or image -------------------------------------------------- */

struct ucopy {
	lfs_ovl *o;
	const struct bld_copy *c;
	lfs_union *u;
	struct dir_times times;
	unsigned depth;
};

static int union_entry(struct ucopy *uc, uint64_t dir, const char *name, uint64_t id,
		       const char *path, error **err);

int bld_ulist_add(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t off)
{
	struct bld_ulist *l = ctx;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	l->names = lfs_xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
	l->ids = lfs_xrealloc(l->ids, (l->n + 1) * sizeof(*l->ids));
	l->names[l->n] = lfs_xstrdup(name);
	l->ids[l->n++] = id;
	return 0;
}

static int union_children(struct ucopy *uc, uint64_t from, uint64_t to, const char *path,
			  error **err)
{
	if (++uc->depth > 4096)
		return error_make(err, ELOOP, "'%s': too deep", path);
	struct bld_ulist l = {0};
	int r = lfs_union_readdir(uc->u, from, 0, bld_ulist_add, &l);
	if (r < 0)
		error_make(err, -r, "listing '%s' of %s", path, uc->c->src->what);
	for (size_t i = 0; i < l.n; i++) {
		if (r == 0) {
			cleanup_free char *p = lfs_xasprintf("%s/%s", path, l.names[i]);
			r = union_entry(uc, to, l.names[i], l.ids[i], p, err);
		}
		free(l.names[i]);
	}
	free(l.names);
	free(l.ids);
	uc->depth--;
	return r;
}

static int union_entry(struct ucopy *uc, uint64_t dir, const char *name, uint64_t id,
		       const char *path, error **err)
{
	struct stat st;
	int r = lfs_union_getattr(uc->u, id, &st);
	if (r < 0)
		return error_make(err, -r, "'%s' of %s", path, uc->c->src->what);
	struct meta m;
	meta_from(&m, &st, uc->c);
	uint64_t nid;
	if (S_ISDIR(st.st_mode)) {
		r = put_dir(uc->o, dir, name, &m, &nid);
		if (r == 0) {
			dir_times_add(&uc->times, nid, &m);
			return union_children(uc, id, nid, path, err);
		}
	} else if (S_ISREG(st.st_mode)) {
		struct data d = {-1, uc->u, id, NULL, 0};
		r = put_file(uc->o, dir, name, &m, &d);
	} else if (S_ISLNK(st.st_mode)) {
		lfs_buf t = LFS_BUF_INIT;
		r = lfs_union_readlink(uc->u, id, &t);
		if (r == 0)
			r = put_symlink(uc->o, dir, name, t.data, &m);
		lfs_buf_release(&t);
	} else {
		r = put_special(uc->o, dir, name, &m, st.st_rdev);
	}
	return r < 0 ? error_make(err, -r, "copying '%s' from %s", path, uc->c->src->what) : 0;
}

static int copy_union_source(lfs_ovl *o, const struct bld_copy *c, const char *path, error **err)
{
	struct ucopy uc = {o, c, c->src->u, {0}, 0};
	uint64_t id, dest;
	struct stat st;
	int r = lfs_union_resolve(uc.u, path, 0, &id);
	if (r == 0)
		r = lfs_union_getattr(uc.u, id, &st);
	if (r < 0)
		return error_make(err, -r, "'%s' in %s", path, c->src->what);
	if (S_ISDIR(st.st_mode)) {
		r = mkdir_p(o, c->dest, c, &dest, err);
		if (r == 0)
			r = union_children(&uc, id, dest, path, err);
	} else {
		cleanup_free char *leaf = NULL;
		r = file_target(o, c, base_name(path), &dest, &leaf, err);
		if (r == 0)
			r = union_entry(&uc, dest, leaf, id, path, err);
	}
	dir_times_apply(o, &uc.times);
	return r;
}

static int copy_heredoc(lfs_ovl *o, const struct bld_copy *c, const struct df_heredoc *h,
			error **err)
{
	uint64_t dir;
	cleanup_free char *leaf = NULL;
	if (file_target(o, c, h->word, &dir, &leaf, err) < 0)
		return -1;
	struct meta m = {
	    S_IFREG | (c->chmod != (mode_t)-1 ? c->chmod : 0644), c->uid, c->gid, {0, 0}};
	clock_gettime(CLOCK_REALTIME, &m.mtime);
	struct data d = {-1, NULL, 0, h->body, strlen(h->body)};
	int r = put_file(o, dir, leaf, &m, &d);
	return r < 0 ? error_make(err, -r, "writing '%s' to '%s'", h->word, c->dest) : 0;
}

static int copy_url(lfs_ovl *o, const struct bld_copy *c, const struct bld_url *u, error **err)
{
	uint64_t dir;
	cleanup_free char *leaf = NULL;
	if (file_target(o, c, u->name, &dir, &leaf, err) < 0)
		return -1;
	struct meta m = {S_IFREG | (c->chmod != (mode_t)-1 ? c->chmod : 0600), c->uid, c->gid,
			 u->mtime};
	if (lseek(u->fd, 0, SEEK_SET) < 0)
		return error_make(err, errno, "rewinding the download of '%s'", u->name);
	struct data d = {u->fd, NULL, 0, NULL, 0};
	int r = put_file(o, dir, leaf, &m, &d);
	return r < 0 ? error_make(err, -r, "writing '%s' to '%s'", u->name, c->dest) : 0;
}

int bld_copy_run(lfs_ovl *o, const struct bld_copy *c, error **err)
{
	for (size_t i = 0; i < c->nurls; i++)
		if (copy_url(o, c, &c->urls[i], err) < 0)
			return -1;
	for (size_t i = 0; i < c->nheredocs; i++)
		if (copy_heredoc(o, c, &c->heredocs[i], err) < 0)
			return -1;
	for (size_t i = 0; i < c->nsrcs; i++) {
		int r = c->src->ctx ? copy_ctx_source(o, c, c->srcs[i], err)
				    : copy_union_source(o, c, c->srcs[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- wildcard sources in a union ------------------------------------------------ */

struct glob {
	lfs_union *u;
	char **out;
	size_t n;
};

static int glob_at(struct glob *g, uint64_t dir, const char *prefix, const char *rest, error **err);

struct glob_dir {
	struct glob *g;
	const char *prefix, *comp, *rest;
	error **err;
	int ret;
};

static int glob_child(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t off)
{
	struct glob_dir *d = ctx;
	if (!strcmp(name, ".") || !strcmp(name, "..") || d->ret)
		return 0;
	int m = ign_go_match(d->comp, name);
	if (m < 0) {
		d->ret = error_make(d->err, EINVAL, "bad pattern '%s'", d->comp);
		return 0;
	}
	if (m) {
		cleanup_free char *p = lfs_xasprintf("%s/%s", d->prefix, name);
		d->ret = glob_at(d->g, id, p, d->rest, d->err);
	}
	return 0;
}

static int glob_at(struct glob *g, uint64_t dir, const char *prefix, const char *rest, error **err)
{
	while (*rest == '/')
		rest++;
	if (!*rest) {
		g->out = lfs_xrealloc(g->out, (g->n + 2) * sizeof(*g->out));
		g->out[g->n++] = lfs_xstrdup(*prefix ? prefix : "/");
		g->out[g->n] = NULL;
		return 0;
	}
	const char *slash = strchr(rest, '/');
	cleanup_free char *comp =
	    slash ? lfs_xstrndup(rest, (size_t)(slash - rest)) : lfs_xstrdup(rest);
	struct glob_dir d = {g, prefix, comp, slash ? slash : "", err, 0};
	if (!strpbrk(comp, "*?[\\")) {
		uint64_t id;
		if (lfs_union_lookup(g->u, dir, comp, &id) == 0) {
			cleanup_free char *p = lfs_xasprintf("%s/%s", prefix, comp);
			return glob_at(g, id, p, d.rest, err);
		}
		return 0;
	}
	int r = lfs_union_readdir(g->u, dir, 0, glob_child, &d);
	return d.ret ? d.ret : (r == -ENOTDIR ? 0 : r);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int bld_union_glob(lfs_union *u, const char *pattern, char ***out, size_t *n, error **err)
{
	struct glob g = {u, NULL, 0};
	int r = glob_at(&g, LFS_ROOT_ID, "", pattern, err);
	if (r < 0 || g.n == 0) {
		for (size_t i = 0; i < g.n; i++)
			free(g.out[i]);
		free(g.out);
		return r < 0 ? r : error_make(err, 0, "'%s' not found", pattern);
	}
	qsort(g.out, g.n, sizeof(*g.out), str_cmp);
	*out = g.out;
	*n = g.n;
	return 0;
}
