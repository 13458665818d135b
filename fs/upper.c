/* lfs_upper — overlay upper directory format (see upper.h). */
#include "upper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "buf.h"

static const char *const opaque_xattrs[] = {
	"trusted.overlay.opaque",
	"user.fuseoverlayfs.opaque",
	"user.overlay.opaque",
};

enum lfs_upper_kind lfs_upper_classify(const char *name, const struct stat *st,
				       const char **hidden)
{
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		/* fuse-overlayfs marks new directories with a 0/0 device named
		 * ".wh..opq" (beside the opaque xattr): a marker, not a whiteout
		 * of a name that could never exist. */
		if (!strncmp(name, LFS_WH_PREFIX, LFS_WH_PREFIX_LEN))
			return LFS_UPPER_OPQ_MARK;
		*hidden = name;
		return LFS_UPPER_WHITEOUT;
	}
	if (strncmp(name, LFS_WH_PREFIX, LFS_WH_PREFIX_LEN))
		return LFS_UPPER_ENTRY;
	if (!strcmp(name, LFS_WH_OPAQUE))
		return LFS_UPPER_OPQ_MARK;
	*hidden = name + LFS_WH_PREFIX_LEN;
	return LFS_UPPER_WHITEOUT;
}

/* xattr calls by path through /proc/self/fd: they also work on O_PATH fds,
 * and resolve through the descriptor, not a joined path string. */
static void at_path(lfs_buf *b, int dirfd, const char *name)
{
	lfs_buf_addf(b, "/proc/self/fd/%d%s%s", dirfd, name ? "/" : "", name ? name : "");
}

int lfs_upper_is_opaque(int dirfd)
{
	lfs_buf p = LFS_BUF_INIT;
	char v[4];
	at_path(&p, dirfd, NULL);
	for (size_t i = 0; i < sizeof(opaque_xattrs) / sizeof(opaque_xattrs[0]); i++) {
		ssize_t n = getxattr(p.data, opaque_xattrs[i], v, sizeof(v));
		if (n == 1 && v[0] == 'y') {
			lfs_buf_release(&p);
			return 1;
		}
	}
	lfs_buf_release(&p);
	struct stat st;
	return fstatat(dirfd, LFS_WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int lfs_upper_make_whiteout(int dirfd, const char *name)
{
	if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
		return 0;
	if (errno != EPERM && errno != EACCES)
		return -errno;
	lfs_buf wh = LFS_BUF_INIT;
	lfs_buf_addf(&wh, "%s%s", LFS_WH_PREFIX, name);
	int fd = openat(dirfd, wh.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0000);
	int ret = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	lfs_buf_release(&wh);
	return ret;
}

int lfs_upper_drop_whiteout(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == makedev(0, 0)) {
		if (unlinkat(dirfd, name, 0) < 0)
			return -errno;
	}
	lfs_buf wh = LFS_BUF_INIT;
	lfs_buf_addf(&wh, "%s%s", LFS_WH_PREFIX, name);
	/* A name of 252+ bytes cannot have a ".wh." twin: nothing to drop. */
	int ret = unlinkat(dirfd, wh.data, 0) < 0 && errno != ENOENT && errno != ENAMETOOLONG
			  ? -errno
			  : 0;
	lfs_buf_release(&wh);
	return ret;
}

int lfs_upper_set_opaque(int dirfd)
{
	lfs_buf p = LFS_BUF_INIT;
	at_path(&p, dirfd, NULL);
	int ok = setxattr(p.data, opaque_xattrs[0], "y", 1, 0) == 0 ||
		 setxattr(p.data, opaque_xattrs[1], "y", 1, 0) == 0;
	lfs_buf_release(&p);
	if (ok)
		return 0;
	if (errno != ENOTSUP && errno != EPERM)
		return -errno;
	int fd = openat(dirfd, LFS_WH_OPAQUE, O_WRONLY | O_CREAT | O_CLOEXEC, 0000);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static const char *const metacopy_xattrs[] = {
	"trusted.overlay.metacopy",
	"user.overlay.metacopy",
};

/* One listxattr answers for both names (a lookup of every upper file asks). */
static int list_has_metacopy(const char *list, ssize_t n)
{
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		if (!strcmp(list + off, metacopy_xattrs[0]) ||
		    !strcmp(list + off, metacopy_xattrs[1]))
			return 1;
	return 0;
}

int lfs_upper_is_metacopy(int dirfd, const char *name)
{
	lfs_buf p = LFS_BUF_INIT;
	char list[1024];
	at_path(&p, dirfd, name);
	ssize_t n =
	    name ? llistxattr(p.data, list, sizeof(list)) : listxattr(p.data, list, sizeof(list));
	int found = n > 0 && list_has_metacopy(list, n);
	if (n < 0 && errno == ERANGE) { /* many xattrs: ask for each name */
		for (size_t i = 0; i < 2 && !found; i++)
			found = (name ? lgetxattr(p.data, metacopy_xattrs[i], NULL, 0)
				      : getxattr(p.data, metacopy_xattrs[i], NULL, 0)) >= 0;
	}
	lfs_buf_release(&p);
	return found;
}

int lfs_upper_set_metacopy(int fd)
{
	if (fsetxattr(fd, metacopy_xattrs[0], "", 0, 0) == 0 ||
	    fsetxattr(fd, metacopy_xattrs[1], "", 0, 0) == 0)
		return 0;
	return -errno;
}

int lfs_upper_clear_metacopy(int fd)
{
	for (size_t i = 0; i < 2; i++)
		if (fremovexattr(fd, metacopy_xattrs[i]) < 0 && errno != ENODATA &&
		    errno != ENOTSUP && errno != EPERM)
			return -errno;
	return 0;
}

int lfs_upper_get_override(int dirfd, const char *name, struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return 0;
	lfs_buf p = LFS_BUF_INIT;
	char v[64];
	/* A real descriptor answers itself; an O_PATH one (EBADF) through
	 * its /proc link (without a name the path is that magic link: follow
	 * it). */
	ssize_t n = name ? -1 : fgetxattr(dirfd, LFS_XATTR_OVERRIDE, v, sizeof(v) - 1);
	if (name || (n < 0 && errno == EBADF)) {
		at_path(&p, dirfd, name);
		n = name ? lgetxattr(p.data, LFS_XATTR_OVERRIDE, v, sizeof(v) - 1)
			 : getxattr(p.data, LFS_XATTR_OVERRIDE, v, sizeof(v) - 1);
	}
	lfs_buf_release(&p);
	if (n <= 0)
		return 0;
	v[n] = '\0';
	unsigned uid, gid, mode;
	if (sscanf(v, "%u:%u:%o", &uid, &gid, &mode) != 3)
		return 0;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_mode = (st->st_mode & S_IFMT) | (mode & 07777);
	return 1;
}

int lfs_upper_set_override(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	lfs_buf p = LFS_BUF_INIT;
	char v[64];
	int n = snprintf(v, sizeof(v), "%u:%u:0%o", (unsigned)uid, (unsigned)gid, (unsigned)mode);
	int r = name ? -1 : fsetxattr(dirfd, LFS_XATTR_OVERRIDE, v, (size_t)n, 0);
	if (name || (r < 0 && errno == EBADF)) {
		at_path(&p, dirfd, name);
		r = name ? lsetxattr(p.data, LFS_XATTR_OVERRIDE, v, (size_t)n, 0)
			 : setxattr(p.data, LFS_XATTR_OVERRIDE, v, (size_t)n, 0);
	}
	int ret = r < 0 ? -errno : 0;
	lfs_buf_release(&p);
	return ret;
}
