/* ctr_vol — anonymous volumes: the image's content at a VOLUME path,
 * copied once into the volume's directory (docker's copy-up), by the
 * holder, through the mounted root and inside the user namespace, so
 * that owners come out as the container sees them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctr_i.h"
#include "util.h"

struct copy {
	const struct ctr_ctx *c;
	const char *dst; /* the volume's path in the container, for messages */
	error **err;
};

static int copy_fail(struct copy *cp, const char *name)
{
	return error_make(cp->err, errno, "cannot copy '%s' (in '%s') into its volume", name,
			  cp->dst);
}

/* Owner, mode and times of the copy dname in ddir from st.  Without a
 * subordinate range only ids 0 exist: other owners cannot be set
 * (EINVAL) and the copy stays root's, as the container's own files
 * would be. */
static int copy_meta(struct copy *cp, int ddir, const char *dname, const struct stat *st)
{
	if (fchownat(ddir, dname, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    !(errno == EINVAL && cp->c->rootless))
		return copy_fail(cp, dname);
	/* After chown, which clears set-id bits. */
	if (!S_ISLNK(st->st_mode) && fchmodat(ddir, dname, st->st_mode & 07777, 0) < 0)
		return copy_fail(cp, dname);
	const struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(cp, dname);
	return 0;
}

static int copy_data(int from, int to)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		for (char *p = buf; n > 0;) {
			ssize_t w = write(to, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			p += w;
			n -= w;
		}
	}
}

static int copy_file(struct copy *cp, int sdir, const char *name, int ddir)
{
	cleanup_fd int from = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_fd int to =
	    from < 0
		? -1
		: openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (to < 0 || copy_data(from, to) < 0)
		return copy_fail(cp, name);
	return 0;
}

static int copy_symlink(struct copy *cp, int sdir, const char *name, int ddir)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
	if (n < 0)
		return copy_fail(cp, name);
	target[n] = '\0';
	return symlinkat(target, ddir, name) < 0 ? copy_fail(cp, name) : 0;
}

static int copy_dir(struct copy *cp, int sdir, int ddir);

/* name (in sdir) as name in ddir, with its metadata. */
static int copy_entry(struct copy *cp, int sdir, const char *name, int ddir)
{
	struct stat st;
	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(cp, name);
	int ret = 0;
	if (S_ISDIR(st.st_mode)) {
		cleanup_fd int s =
		    openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_fd int d = -1;
		if (s < 0 || mkdirat(ddir, name, 0700) < 0 ||
		    (d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return copy_fail(cp, name);
		ret = copy_dir(cp, s, d);
	} else if (S_ISREG(st.st_mode)) {
		ret = copy_file(cp, sdir, name, ddir);
	} else if (S_ISLNK(st.st_mode)) {
		ret = copy_symlink(cp, sdir, name, ddir);
	} else if (mknodat(ddir, name, st.st_mode & S_IFMT, st.st_rdev) < 0) {
		/* Device nodes cannot be made in a user namespace: left out,
		 * as the container could not open them anyway. */
		return errno == EPERM && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			   ? 0
			   : copy_fail(cp, name);
	}
	return ret < 0 ? ret : copy_meta(cp, ddir, name, &st);
}

static int copy_dir(struct copy *cp, int sdir, int ddir)
{
	DIR *d = fdopendir(fcntl(sdir, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return error_make(cp->err, errno, "cannot read '%s' in the image", cp->dst);
	struct dirent *e;
	int ret = 0;
	while (ret >= 0 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			ret = copy_entry(cp, sdir, e->d_name, ddir);
	closedir(d);
	return ret;
}

/* Fills the new directory tmp (in parent) with the image's m->dst. */
static int copy_image_dir(const struct ctr_ctx *c, int root, const struct ctr_mount *m, int parent,
			  const char *tmp, error **err)
{
	struct copy cp = {c, m->dst, err};
	cleanup_fd int at = ctr_open_in_root(root, m->dst, 0);
	if (at < 0 && errno == ENOENT)
		return 0; /* the mount point is made afterwards, as for -v */
	struct stat st;
	if (at < 0 || fstat(at, &st) < 0)
		return error_make(err, errno, "cannot look up the volume '%s' in the image",
				  m->dst);
	if (!S_ISDIR(st.st_mode))
		return error_fail(err, ENOTDIR,
				  "the image's VOLUME '%s' is not a directory: rebuild the image "
				  "without it, or give it a directory with -v HOSTDIR:%s",
				  m->dst, m->dst);
	cleanup_fd int s = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_fd int d = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0 || d < 0)
		return error_make(err, errno, "cannot copy '%s' into its volume", m->dst);
	int ret = copy_dir(&cp, s, d);
	return ret < 0 ? ret : copy_meta(&cp, parent, tmp, &st);
}

int ctr_volume_init(const struct ctr_ctx *c, int root, const struct ctr_mount *m, error **err)
{
	struct stat st;
	if (stat(m->src, &st) == 0)
		return 0; /* made at an earlier start: the container's data */
	if (errno != ENOENT)
		return error_make(err, errno, "volume '%s'", m->src);
	cleanup_free char *dir = lfs_xstrdup(m->src);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	cleanup_fd int parent = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return error_make(err, errno, "cannot open the volumes' directory '%s'", dir);
	cleanup_free char *tmp = lfs_xasprintf("%s.XXXXXX", slash + 1);
	/* mkdtemp's name, made relative to parent. */
	cleanup_free char *full = lfs_xasprintf("%s/%s", dir, tmp);
	if (!mkdtemp(full))
		return error_make(err, errno, "cannot create a volume in '%s'", dir);
	memcpy(tmp, full + strlen(dir) + 1, strlen(tmp));
	if (fchmodat(parent, tmp, 0755, 0) < 0)
		return error_make(err, errno, "cannot create a volume in '%s'", dir);
	int ret = copy_image_dir(c, root, m, parent, tmp, err);
	if (ret >= 0 && renameat(parent, tmp, parent, slash + 1) < 0)
		ret = error_make(err, errno, "cannot create the volume '%s'", m->src);
	return ret;
}
