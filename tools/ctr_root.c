/* ctr_root — the container's root file system: mount stubs (created in
 * the holder, removed from the upper afterwards) and, in init, /proc, /dev,
 * /sys, the host's resolv.conf and hosts, and pivot_root(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_i.h"
#include "upper.h"
#include "util.h"

/* ------------------------------------------------------------ mount stubs */

int ctr_open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

static int stub_dir(struct ctr_ctx *c, int root, const char *name, unsigned bit, error **err)
{
	struct stat st;
	if (fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* the image has it */
	if (errno != ENOENT)
		return error_make(err, errno, "cannot look up /%s in the image", name);
	if (mkdirat(root, name, 0755) < 0)
		return error_make(err, errno, "cannot create the mount point /%s", name);
	c->stubs |= bit;
	return 0;
}

static int stub_file(struct ctr_ctx *c, int etc, const char *name, unsigned bit, error **err)
{
	struct stat st;
	if (fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return error_make(err, errno, "cannot look up /etc/%s in the image", name);
	int fd = openat(etc, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_make(err, errno, "cannot create the mount point /etc/%s", name);
	close(fd);
	c->stubs |= bit;
	return 0;
}

/* 1 if the upper dir has an entry `name` at its top. */
static int upper_has(const struct ctr_ctx *c, const char *name)
{
	cleanup_fd int up = open(c->spec->upper_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	return up >= 0 && fstatat(up, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int stub_etc_files(struct ctr_ctx *c, int root, error **err)
{
	if (!c->host_resolv && !c->host_hosts)
		return 0;
	int ret = stub_dir(c, root, "etc", CTR_STUB_ETC, err);
	cleanup_fd int etc = openat(root, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ret < 0 || etc < 0)
		return ret; /* /etc is a link: whatever it leads to is bound, if anything */
	unsigned before = c->stubs;
	int copied = !(c->stubs & CTR_STUB_ETC) && !upper_has(c, "etc");
	if (c->host_resolv)
		ret = stub_file(c, etc, "resolv.conf", CTR_STUB_RESOLV, err);
	if (ret >= 0 && c->host_hosts)
		ret = stub_file(c, etc, "hosts", CTR_STUB_HOSTS, err);
	if (copied && c->stubs != before)
		c->stubs |= CTR_STUB_ETC_COPIED;
	return ret;
}

static int vstub_make(struct ctr_ctx *c, int root, const struct ctr_mount *m, error **err);

int ctr_stubs_make(struct ctr_ctx *c, int root, error **err)
{
	int ret = stub_dir(c, root, "proc", CTR_STUB_PROC, err);
	if (ret >= 0)
		ret = stub_dir(c, root, "dev", CTR_STUB_DEV, err);
	if (ret >= 0)
		ret = stub_dir(c, root, "sys", CTR_STUB_SYS, err);
	if (ret >= 0)
		ret = stub_etc_files(c, root, err);
	for (size_t i = 0; ret >= 0 && i < c->spec->nmounts; i++) {
		const struct ctr_mount *m = &c->spec->mounts[i];
		if (m->copy_up)
			ret = ctr_volume_init(c, root, m, err);
		if (ret >= 0)
			ret = vstub_make(c, root, m, err);
	}
	return ret;
}

static void remove_empty_file(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == 0)
		unlinkat(dirfd, name, 0);
}

static int dir_is_empty(int fd)
{
	DIR *d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 3));
	struct dirent *e;
	int empty = d != NULL;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	if (d)
		closedir(d);
	return empty;
}

static int upper_parent(int up, const char *rel, const char **name);

/* A directory (rel, from the upper's top) entered the upper only to hold
 * a stub: when nothing else changed it (no entries, not opaque, the
 * image's mode and owner), it goes too. */
static void remove_copied_dir(const struct ctr_ctx *c, int up, const char *rel)
{
	const char *name;
	cleanup_fd int parent = upper_parent(up, rel, &name);
	cleanup_fd int fd =
	    parent < 0 ? -1 : openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st, lst;
	uint64_t id;
	if (fd < 0 || !c->spec->lower || fstat(fd, &st) < 0 || !dir_is_empty(fd) ||
	    lfs_upper_is_opaque(fd))
		return;
	lfs_upper_get_override(fd, NULL, &st);
	if (lfs_union_resolve(c->spec->lower, rel, 0, &id) ||
	    lfs_union_getattr(c->spec->lower, id, &lst))
		return;
	if (st.st_mode == lst.st_mode && st.st_uid == lst.st_uid && st.st_gid == lst.st_gid)
		unlinkat(parent, name, AT_REMOVEDIR);
}

/* The volumes' mount points, deepest first, then the directories their
 * creation copied into the upper. */
static void remove_vstubs(const struct ctr_ctx *c, int up)
{
	for (size_t i = c->nvstubs; i-- > 0;) {
		const struct ctr_vstub *v = &c->vstubs[i];
		const char *name;
		cleanup_fd int parent = upper_parent(up, v->rel, &name);
		if (parent < 0 || v->copied)
			continue;
		if (v->dir)
			unlinkat(parent, name, AT_REMOVEDIR);
		else
			remove_empty_file(parent, name);
	}
	for (size_t i = c->nvstubs; i-- > 0;)
		if (c->vstubs[i].copied)
			remove_copied_dir(c, up, c->vstubs[i].rel);
}

void ctr_stubs_remove(const struct ctr_ctx *c)
{
	cleanup_fd int up = open(c->spec->upper_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (up < 0)
		return;
	remove_vstubs(c, up);
	cleanup_fd int etc = openat(up, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc >= 0 && (c->stubs & CTR_STUB_RESOLV))
		remove_empty_file(etc, "resolv.conf");
	if (etc >= 0 && (c->stubs & CTR_STUB_HOSTS))
		remove_empty_file(etc, "hosts");
	/* rmdir removes only what is still an empty stub. */
	if (c->stubs & CTR_STUB_ETC)
		unlinkat(up, "etc", AT_REMOVEDIR);
	if (c->stubs & CTR_STUB_ETC_COPIED)
		remove_copied_dir(c, up, "etc");
	if (c->stubs & CTR_STUB_SYS)
		unlinkat(up, "sys", AT_REMOVEDIR);
	if (c->stubs & CTR_STUB_DEV)
		unlinkat(up, "dev", AT_REMOVEDIR);
	if (c->stubs & CTR_STUB_PROC)
		unlinkat(up, "proc", AT_REMOVEDIR);
}

/* ------------------------------------------------------------ volume stubs */

/* The path of the directory open at fd relative to the root open at root
 * (both in the holder's mount namespace), "" for the root itself. */
static char *rel_path(int root, int fd)
{
	char link[32], r[PATH_MAX], p[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", root);
	ssize_t rn = readlink(link, r, sizeof(r) - 1);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t pn = readlink(link, p, sizeof(p) - 1);
	if (rn <= 0 || pn < rn || memcmp(r, p, (size_t)rn) || (pn > rn && p[rn] != '/'))
		return NULL;
	p[pn] = '\0';
	return lfs_xstrdup(p[rn] == '/' ? p + rn + 1 : p + rn);
}

static void record(struct ctr_ctx *c, char *rel, int dir, int copied)
{
	c->vstubs = lfs_xrealloc(c->vstubs, (c->nvstubs + 1) * sizeof(*c->vstubs));
	c->vstubs[c->nvstubs++] = (struct ctr_vstub){rel, dir, copied};
}

/* Creating an entry in parent copies it and its ancestors into the upper:
 * those that were not there are recorded, to go again when unchanged. */
static void record_copies(struct ctr_ctx *c, const char *parent)
{
	cleanup_free char *p = lfs_xstrdup(parent);
	for (char *s = p; *p; s++) {
		if (*s && *s != '/')
			continue;
		char save = *s;
		*s = '\0';
		if (!upper_has(c, p))
			record(c, lfs_xstrdup(p), 1, 1);
		*s = save;
		if (!save)
			break;
	}
}

/* Creates the missing entry name in parent (rel: parent's path from the
 * root), a directory unless file. */
static int vstub_create(struct ctr_ctx *c, int root, int parent, const char *name, int file,
			error **err)
{
	cleanup_free char *rel = rel_path(root, parent);
	if (!rel)
		return error_fail(err, EINVAL, "a volume's mount point leads out of the root");
	record_copies(c, rel);
	int fd =
	    file ? openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)
		 : mkdirat(parent, name, 0755);
	if (fd < 0)
		return error_make(err, errno, "cannot create the mount point '%s' in the container",
				  name);
	if (file)
		close(fd);
	record(c, *rel ? lfs_xasprintf("%s/%s", rel, name) : lfs_xstrdup(name), !file, 0);
	return 0;
}

/* -v: the mount point m->dst, created (with its missing parents) when the
 * image lacks it: a directory, or a file when the source is one. */
static int vstub_make(struct ctr_ctx *c, int root, const struct ctr_mount *m, error **err)
{
	struct stat st;
	if (stat(m->src, &st) < 0)
		return error_make(err, errno, "volume source '%s'", m->src);
	cleanup_free char *path = lfs_xstrdup(m->dst);
	cleanup_buf lfs_buf prefix = LFS_BUF_INIT;
	lfs_buf_addch(&prefix, '/');
	char *save, *next, *n = strtok_r(path, "/", &save);
	for (; n; n = next) {
		next = strtok_r(NULL, "/", &save);
		cleanup_fd int parent = ctr_open_in_root(root, prefix.data, O_DIRECTORY);
		if (parent < 0)
			return error_make(err, errno, "cannot use '%s' in the image as a directory",
					  prefix.data);
		lfs_buf_addf(&prefix, "%s%s", prefix.len > 1 ? "/" : "", n);
		int fd = ctr_open_in_root(root, prefix.data, 0);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return error_make(err, errno, "cannot look up '%s' in the image",
					  prefix.data);
		int ret = vstub_create(c, root, parent, n, !next && !S_ISDIR(st.st_mode), err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Opens rel's parent in the upper dir, never through a link (the command
 * may have replaced a directory with one); *name: rel's last component. */
static int upper_parent(int up, const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	*name = slash ? slash + 1 : rel;
	if (!slash)
		return fcntl(up, F_DUPFD_CLOEXEC, 3);
	cleanup_free char *dir = lfs_xstrndup(rel, (size_t)(slash - rel));
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	return (int)syscall(SYS_openat2, up, dir, &how, sizeof(how));
}

/* ------------------------------------------------------------ mounts (init) */

/* mount(2) on the file or directory open at fd (its /proc/self/fd link),
 * so a path is never resolved twice. */
static int mount_on(int fd, const char *src, const char *type, unsigned long flags,
		    const char *data)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return mount(src, path, type, flags, data);
}

static int target_dir(int root, const char *name, int *fd, error **err)
{
	*fd = ctr_open_in_root(root, name, O_DIRECTORY);
	if (*fd < 0)
		return error_make(err, errno, "cannot use /%s in the image as a mount point", name);
	return 0;
}

/* Makes the mount at path read-only, keeping the flags it has (in a user
 * namespace the kernel refuses to clear locked ones). */
static int remount_ro(int root, const char *path)
{
	static const struct {
		unsigned long st, ms;
	} keep[] = {{ST_NOSUID, MS_NOSUID},	    {ST_NODEV, MS_NODEV},
		    {ST_NOEXEC, MS_NOEXEC},	    {ST_NOATIME, MS_NOATIME},
		    {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}};
	cleanup_fd int fd = ctr_open_in_root(root, path, 0);
	struct statvfs sv;
	if (fd < 0 || fstatvfs(fd, &sv) < 0)
		return -1;
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (sv.f_flag & keep[i].st)
			flags |= keep[i].ms;
	return mount_on(fd, NULL, NULL, flags, NULL);
}

static int mount_proc(int root, error **err)
{
	cleanup_fd int fd = -1;
	int ret = target_dir(root, "proc", &fd, err);
	if (ret >= 0 && mount_on(fd, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		ret = error_make(err, errno, "cannot mount /proc in the container");
	return ret;
}

/* /sys read-only: a fresh sysfs where the kernel allows it (as root, or
 * with a network namespace of our own), else the host's, bound. */
static void mount_sys(int root)
{
	cleanup_fd int fd = ctr_open_in_root(root, "sys", O_DIRECTORY);
	if (fd < 0)
		return;
	unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount_on(fd, "sysfs", "sysfs", flags, NULL) < 0 &&
	    mount_on(fd, "/sys", NULL, MS_BIND | MS_REC, NULL) == 0)
		remount_ro(root, "sys");
}

/* A device node bound from the host (in a user namespace mknod is not
 * allowed, and nodes on a tmpfs mounted there would not open anyway). */
static int bind_device(int dev, const char *name, error **err)
{
	char host[32];
	struct stat st;
	snprintf(host, sizeof(host), "/dev/%s", name);
	if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0; /* the host has none: neither has the container */
	int fd = openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd >= 0)
		close(fd);
	cleanup_fd int t = openat(dev, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || t < 0 || mount_on(t, host, NULL, MS_BIND, NULL) < 0)
		return error_make(err, errno, "cannot bind %s into the container", host);
	return 0;
}

/* With a tty: the command's terminal at /dev/console, where ttyname()
 * finds it, as runc does.  Bound by its path (the mount it is on must be
 * one of this namespace): a terminal without one is left out. */
static int bind_console(const struct ctr_ctx *c, int dev, error **err)
{
	char tty[PATH_MAX];
	if (!c->spec->tty || c->spec->stdin_fd < 0 ||
	    ttyname_r(c->spec->stdin_fd, tty, sizeof(tty)) != 0)
		return 0;
	int fd = openat(dev, "console", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	cleanup_fd int t = openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || t < 0 || mount_on(t, tty, NULL, MS_BIND, NULL) < 0)
		return error_make(err, errno, "cannot bind the terminal %s at /dev/console", tty);
	return 0;
}

static int mount_dev_dir(int dev, const char *name, mode_t mode, const char *type,
			 unsigned long flags, const char *data, error **err)
{
	if (mkdirat(dev, name, mode) < 0)
		return error_make(err, errno, "cannot create /dev/%s in the container", name);
	cleanup_fd int fd = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || mount_on(fd, type, type, flags, data) < 0)
		return error_make(err, errno, "cannot mount %s on /dev/%s in the container", type,
				  name);
	return 0;
}

static int populate_dev(const struct ctr_ctx *c, int dev, error **err)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
	    {"fd", "/proc/self/fd"},	   {"stdin", "/proc/self/fd/0"},
	    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	    {"ptmx", "pts/ptmx"},
	};
	int ret = 0;
	for (size_t i = 0; ret >= 0 && i < sizeof(nodes) / sizeof(nodes[0]); i++)
		ret = bind_device(dev, nodes[i], err);
	for (size_t i = 0; ret >= 0 && i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0)
			ret = error_make(err, errno, "cannot create /dev/%s", links[i][0]);
	/* gid 5 (tty) exists only with a real or subordinate-range mapping. */
	const char *pts = c->single_id ? "newinstance,ptmxmode=0666,mode=0620"
				       : "newinstance,ptmxmode=0666,mode=0620,gid=5";
	if (ret >= 0)
		ret = bind_console(c, dev, err);
	if (ret >= 0)
		ret = mount_dev_dir(dev, "pts", 0755, "devpts", MS_NOSUID | MS_NOEXEC, pts, err);
	if (ret >= 0)
		ret = mount_dev_dir(dev, "shm", 01777, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    "mode=1777,size=65536k", err);
	return ret;
}

static int mount_dev(const struct ctr_ctx *c, int root, error **err)
{
	cleanup_fd int fd = -1;
	int ret = target_dir(root, "dev", &fd, err);
	if (ret < 0)
		return ret;
	if (mount_on(fd, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
		return error_make(err, errno, "cannot mount a tmpfs on /dev in the container");
	cleanup_fd int dev = ctr_open_in_root(root, "dev", O_DIRECTORY);
	if (dev < 0)
		return error_make(err, errno, "cannot open /dev in the container");
	return populate_dev(c, dev, err);
}

/* The host's file src, read-only, at path over the image's (or the
 * stub).  An image whose file is not a regular one (a dangling link)
 * keeps it. */
static int bind_host_file(int root, const char *path, const char *src, error **err)
{
	cleanup_fd int fd = ctr_open_in_root(root, path + 1, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (mount_on(fd, src, NULL, MS_BIND, NULL) < 0 || remount_ro(root, path + 1) < 0)
		return error_make(err, errno, "cannot bind %s at %s in the container", src, path);
	return 0;
}

/* A mount point the holder's stub does not show: dst is on a file system
 * init mounted (the /dev tmpfs), made here, where it goes with the run. */
static int tmpfs_point(int root, int src, const char *dst)
{
	cleanup_free char *parent = lfs_xstrdup(dst);
	char *slash = strrchr(parent, '/');
	struct stat st;
	*slash = '\0';
	cleanup_fd int dir = ctr_open_in_root(root, *parent ? parent : "/", O_DIRECTORY);
	if (dir < 0 || fstat(src, &st) < 0)
		return -1;
	int dir_src = S_ISDIR(st.st_mode);
	int fd = dir_src ? mkdirat(dir, slash + 1, 0755)
			 : openat(dir, slash + 1,
				  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (!dir_src)
		close(fd);
	return ctr_open_in_root(root, dst, 0);
}

/* -v: the host's file or directory at m->dst (its stub made by the
 * holder), read-only when asked. */
static int bind_volume(int root, const struct ctr_mount *m, error **err)
{
	cleanup_fd int src = open(m->src, O_PATH | O_CLOEXEC);
	if (src < 0)
		return error_make(err, errno, "volume source '%s'", m->src);
	cleanup_fd int dst = ctr_open_in_root(root, m->dst, 0);
	if (dst < 0 && errno == ENOENT)
		dst = tmpfs_point(root, src, m->dst);
	if (dst < 0)
		return error_make(err, errno, "cannot use '%s' in the container as a mount point",
				  m->dst);
	char from[32];
	snprintf(from, sizeof(from), "/proc/self/fd/%d", src);
	if (mount_on(dst, from, NULL, MS_BIND | MS_REC, NULL) < 0)
		return error_make(err, errno, "cannot bind '%s' at '%s' in the container", m->src,
				  m->dst);
	if (m->readonly && remount_ro(root, m->dst) < 0)
		return error_make(err, errno, "cannot make the volume at '%s' read-only", m->dst);
	return 0;
}

static int pivot(const struct ctr_ctx *c, int root, error **err)
{
	/* pivot_root(".", "."): the old root ends up stacked on the new one,
	 * and detaching it leaves only the container's tree. */
	if (fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return error_make(err, errno, "cannot pivot_root into '%s'", c->mnt);
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return error_make(err, errno, "cannot detach the host's root from the container");
	return 0;
}

int ctr_root_setup(const struct ctr_ctx *c, error **err)
{
	/* A mount namespace of init's own: pivot_root moves the root of every
	 * process of its namespace, and the server must keep the host's. */
	if (unshare(CLONE_NEWNS) < 0)
		return error_make(err, errno, "cannot create the container's mount namespace");
	cleanup_fd int root = open(c->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return error_make(err, errno, "cannot open the container's root '%s'", c->mnt);
	int ret = mount_proc(root, err);
	if (ret >= 0)
		ret = mount_dev(c, root, err);
	if (ret >= 0)
		mount_sys(root);
	if (ret >= 0 && c->host_resolv)
		ret = bind_host_file(root, "/etc/resolv.conf",
				     c->resolv ? c->resolv : "/etc/resolv.conf", err);
	if (ret >= 0 && c->host_hosts)
		ret = bind_host_file(root, "/etc/hosts", "/etc/hosts", err);
	for (size_t i = 0; ret >= 0 && i < c->spec->nmounts; i++)
		ret = bind_volume(root, &c->spec->mounts[i], err);
	return ret < 0 ? ret : pivot(c, root, err);
}
