/* layerfs cp — copy files between a container (or an image, read only)
 * and the host, with docker cp's rules.
 *
 * Reading goes through the union core (the container's upper over its
 * image), so symlinks in the source resolve inside the container's root.
 * Writing to the host creates every entry with *at() calls relative to
 * the directory it goes in, O_EXCL|O_NOFOLLOW, and descends only into
 * directories opened with O_NOFOLLOW: a symlink from the container (or one
 * already in the destination) is never followed, so nothing is written
 * outside DEST_PATH.  Writing into a container goes through the overlay
 * core into its upper directory, as COPY does (tools/bld_copy.c):
 * destination symlinks resolve inside the root, tar members with ".."
 * are refused.  A running container is refused for writing: its FUSE
 * daemon owns the upper while it runs.
 * Differences from docker cp: a file SRC whose DEST in the container is a
 * symlink replaces the link (docker writes to its target); on the host,
 * hard links arrive as separate files and xattrs are not copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bld_i.h"
#include "cmd.h"
#include "container.h"
#include "ctr.h"
#include "context.h"
#include "tree_tar.h"
#include "util.h"
#include "view.h"

static const char usage[] =
    "Usage: layerfs cp [-a] [-L] CONTAINER:SRC_PATH DEST_PATH|-\n"
    "       layerfs cp [-a] [-L] IMAGE:SRC_PATH DEST_PATH|-\n"
    "       layerfs cp [-a] [-L] SRC_PATH|- CONTAINER:DEST_PATH\n"
    "\n"
    "Copies files between a container (or an image, as a source only) and the\n"
    "host, as docker cp does:\n"
    "  - SRC a file: DEST an existing directory gets it under its own name,\n"
    "    else DEST is the new file's name (its parent must exist);\n"
    "  - SRC a directory: copied into DEST when DEST is an existing directory,\n"
    "    else DEST is created as the copy; SRC_PATH/. copies the contents only;\n"
    "  - '-' as DEST writes a tar of SRC to standard output; '-' as SRC reads a\n"
    "    tar from standard input and extracts it into the directory DEST.\n"
    "Paths in a container are absolute (a relative one is taken from '/') and\n"
    "resolve symlinks inside the container's root.  Nothing is written outside\n"
    "DEST_PATH: links from the container are copied as links, never followed.\n"
    "A container can be running or stopped to copy from; to copy into it,\n"
    "stop it first (its file system daemon owns its writable layer).\n"
    "\n"
    "Options:\n"
    "  -a, --archive      keep uid/gid (default: files on the host get your\n"
    "                     uid/gid, files in a container are owned by 0:0)\n"
    "  -L, --follow-link  copy what a symlink SRC_PATH points to, not the link\n"
    "  -h, --help         show this help\n";

#define DATA_CHUNK (256u << 10)
#define MAX_DEPTH  4096

struct cp_args {
	int archive;
	int follow;
};

/* "NAME:PATH" -> 1 with *name, *path set; a host path (absolute, ./,
 * "-", or without ':') -> 0.  An image name may hold ':' (a tag, a
 * registry port): the split is at the first ":/", else the last ':'. */
static int split_ref(const char *arg, char **name, char **path)
{
	if (arg[0] == '/' || arg[0] == '.' || !strcmp(arg, "-"))
		return 0;
	const char *c = strstr(arg, ":/");
	if (!c)
		c = strrchr(arg, ':');
	if (!c || c == arg)
		return 0;
	*name = lfs_xstrndup(arg, (size_t)(c - arg));
	*path = c[1] == '/' ? lfs_xstrdup(c + 1) : lfs_xasprintf("/%s", c + 1);
	return 1;
}

/* Removes a trailing "/." (copy the contents); returns 1 if there was one. */
static int strip_dot(char *p)
{
	size_t n = strlen(p);
	if (!strcmp(p, "."))
		return 1;
	if (n < 2 || strcmp(p + n - 2, "/."))
		return 0;
	p[n - 2] = '\0';
	if (!*p) { /* "/." */
		p[0] = '/';
		p[1] = '\0';
	}
	return 1;
}

static int ends_slash(const char *p)
{
	size_t n = strlen(p);
	return n > 1 && p[n - 1] == '/';
}

/* Splits p (trailing slashes ignored) into its directory and last name;
 * the name is "" for "/". */
static void split_path(const char *p, char **dir, char **base)
{
	cleanup_free char *s = lfs_xstrdup(p);
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	char *slash = strrchr(s, '/');
	if (!slash) {
		*dir = lfs_xstrdup(".");
		*base = lfs_xstrdup(s);
	} else {
		*base = lfs_xstrdup(slash + 1);
		*dir = slash == s ? lfs_xstrdup("/") : lfs_xstrndup(s, (size_t)(slash - s));
	}
}

/* ---- container or image -> host ------------------------------------------ */

struct hw {
	lfs_union *u;
	int archive;
	char *data;
	error **err;
};

/* Makes room for name in dirfd: a non-directory there is removed (a
 * symlink is replaced, never followed).  1: a directory is there and
 * want_dir (it is reused). */
static int clear_host(struct hw *h, int dirfd, const char *name, int want_dir, const char *path)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : error_make(h->err, errno, "'%s'", path);
	if (S_ISDIR(st.st_mode)) {
		if (want_dir)
			return 1;
		return error_make(h->err, EISDIR,
				  "cannot overwrite directory '%s' with a non-directory: remove it "
				  "first",
				  path);
	}
	if (unlinkat(dirfd, name, 0) < 0)
		return error_make(h->err, errno, "removing '%s' to replace it", path);
	return 0;
}

static int set_owner_mode_times(struct hw *h, int fd, const struct stat *st, const char *path)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (h->archive && fchown(fd, st->st_uid, st->st_gid) < 0)
		return error_make(h->err, errno, "setting the owner of '%s' (-a)", path);
	if (fchmod(fd, st->st_mode & 07777) < 0 || futimens(fd, ts) < 0)
		return error_make(h->err, errno, "setting the mode and times of '%s'", path);
	return 0;
}

static int host_node(struct hw *h, int dirfd, const char *name, uint64_t id, const char *path,
		     int depth);

static int host_children(struct hw *h, int fd, uint64_t id, const char *path, int depth)
{
	struct bld_ulist k = {0};
	int r = lfs_union_readdir(h->u, id, 0, bld_ulist_add, &k);
	int ret = r < 0 ? error_make(h->err, -r, "listing '%s' in the container", path) : 0;
	for (size_t i = 0; i < k.n; i++) {
		if (ret == 0) {
			cleanup_free char *p = lfs_xasprintf("%s/%s", path, k.names[i]);
			ret = host_node(h, fd, k.names[i], k.ids[i], p, depth + 1);
		}
		free(k.names[i]);
	}
	free(k.names);
	free(k.ids);
	return ret;
}

static int host_file(struct hw *h, int dirfd, const char *name, uint64_t id, const struct stat *st,
		     const char *path)
{
	cleanup_fd int fd =
	    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_make(h->err, errno, "creating '%s'", path);
	for (uint64_t off = 0;;) {
		ssize_t n = lfs_union_read(h->u, id, h->data, DATA_CHUNK, off);
		if (n < 0)
			return error_make(h->err, (int)-n, "reading '%s' in the container", path);
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, h->data + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				return error_make(h->err, errno, "writing '%s'", path);
			done += w > 0 ? w : 0;
		}
		off += (uint64_t)n;
	}
	return set_owner_mode_times(h, fd, st, path);
}

static int host_symlink(struct hw *h, int dirfd, const char *name, uint64_t id,
			const struct stat *st, const char *path)
{
	cleanup_buf lfs_buf target = LFS_BUF_INIT;
	int r = lfs_union_readlink(h->u, id, &target);
	if (r < 0)
		return error_make(h->err, -r, "reading link '%s' in the container", path);
	if (symlinkat(target.data, dirfd, name) < 0)
		return error_make(h->err, errno, "creating symlink '%s'", path);
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (h->archive && fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_make(h->err, errno, "setting the owner of '%s' (-a)", path);
	utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW); /* not every fs keeps link times */
	return 0;
}

static int host_dir(struct hw *h, int dirfd, const char *name, uint64_t id, const struct stat *st,
		    int exists, const char *path, int depth)
{
	/* 0700 while it is filled: a read-only mode is set at the end */
	if (!exists && mkdirat(dirfd, name, 0700) < 0)
		return error_make(h->err, errno, "creating directory '%s'", path);
	cleanup_fd int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_make(h->err, errno, "opening directory '%s'", path);
	if (exists && fchmod(fd, 0700) < 0)
		return error_make(h->err, errno, "making '%s' writable", path);
	int ret = host_children(h, fd, id, path, depth);
	return ret < 0 ? ret : set_owner_mode_times(h, fd, st, path);
}

static int host_node(struct hw *h, int dirfd, const char *name, uint64_t id, const char *path,
		     int depth)
{
	if (depth > MAX_DEPTH)
		return error_make(h->err, ELOOP, "'%s': directories nested too deep", path);
	struct stat st;
	int r = lfs_union_getattr(h->u, id, &st);
	if (r < 0)
		return error_make(h->err, -r, "'%s' in the container", path);
	if (S_ISSOCK(st.st_mode))
		return 0; /* as tar: a socket cannot be copied */
	r = clear_host(h, dirfd, name, S_ISDIR(st.st_mode), path);
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode))
		return host_dir(h, dirfd, name, id, &st, r == 1, path, depth);
	if (S_ISREG(st.st_mode))
		return host_file(h, dirfd, name, id, &st, path);
	if (S_ISLNK(st.st_mode))
		return host_symlink(h, dirfd, name, id, &st, path);
	if (mknodat(dirfd, name, st.st_mode & (S_IFMT | 0777), st.st_rdev) < 0)
		return error_make(h->err, errno, "creating '%s'", path);
	if (h->archive && fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_make(h->err, errno, "setting the owner of '%s' (-a)", path);
	return 0;
}

/* Opens NAME as a container's image (*upper: its upper dir, for the caller
 * to put on top with the container's ids) or an image (*upper NULL). */
static int open_source(struct view *v, const char *name, char **upper, error **err)
{
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	error *none = NULL;
	int ret = ctn_open(s, name, &c, &none);
	error_free(none);
	store_free(s);
	if (ret < 0) {
		if (view_open_image(v, name, err) < 0)
			return error_wrap(err, "'%s' is neither a container nor an image", name);
		return 0;
	}
	ret = view_open_image(v, ctn_image_id(c), err);
	if (ret >= 0)
		*upper = ctn_path(c, "upper");
	else
		error_wrap(err, "container '%s'", name);
	ctn_free(c);
	return ret;
}

/* Where SRC goes on the host: (parent directory, name); name NULL: into
 * the existing directory dest itself (the contents of SRC). */
static int host_target(const char *spath, int src_dir, int contents, const char *dest,
		       char **parent, char **name, error **err)
{
	struct stat dst;
	int exists = stat(dest, &dst) == 0;
	if (!exists && errno != ENOENT)
		return error_make(err, errno, "'%s'", dest);
	if (!src_dir && contents)
		return error_fail(err, ENOTDIR, "'%s/.': '%s' is not a directory", spath, spath);
	if (exists && !S_ISDIR(dst.st_mode) && src_dir)
		return error_fail(err, ENOTDIR, "cannot copy directory '%s' to file '%s'", spath,
				  dest);
	cleanup_free char *sdir = NULL, *sbase = NULL;
	split_path(spath, &sdir, &sbase);
	if (exists && S_ISDIR(dst.st_mode)) {
		*parent = lfs_xstrdup(dest);
		*name = contents || !*sbase ? NULL : lfs_xstrdup(sbase);
		return 0;
	}
	if (!exists && ends_slash(dest) && !src_dir)
		return error_fail(err, ENOENT, "destination directory '%s' does not exist", dest);
	split_path(dest, parent, name);
	return 0;
}

struct host_copy {
	const struct cp_args *a;
	struct view *v;
	const char *upper, *spath, *dest;
};

static int host_copy(void *arg, error **err)
{
	struct host_copy *hc = arg;
	const struct cp_args *a = hc->a;
	struct view *vp = hc->v;
	const char *spath = hc->spath, *dest = hc->dest;
	if (hc->upper && view_add_upper(vp, hc->upper, err) < 0)
		return -1;
	cleanup_free char *p = lfs_xstrdup(spath);
	int contents = strip_dot(p);
	uint64_t id;
	struct stat st;
	int ret = view_resolve(vp, p, a->follow || contents || ends_slash(p), &id, err);
	int r = ret < 0 ? 0 : lfs_union_getattr(vp->u, id, &st);
	if (r < 0)
		ret = error_make(err, -r, "'%s'", p);
	cleanup_free char *parent = NULL, *name = NULL;
	cleanup_free char *sdir = NULL, *sbase = NULL;
	split_path(p, &sdir, &sbase);
	if (ret >= 0 && !strcmp(dest, "-")) {
		ret = tree_tar_write_node(vp->u, id, contents ? "" : sbase, STDOUT_FILENO, err);
	} else if (ret >= 0) {
		ret = host_target(p, S_ISDIR(st.st_mode), contents, dest, &parent, &name, err);
	}
	if (ret >= 0 && parent) {
		cleanup_fd int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct hw h = {vp->u, a->archive, lfs_xmalloc(DATA_CHUNK), err};
		if (pfd < 0)
			ret = error_make(err, errno, "destination directory '%s'", parent);
		else if (name)
			ret = host_node(&h, pfd, name, id, dest, 0);
		else
			ret = host_children(&h, pfd, id, dest, 0);
		free(h.data);
	}
	return ret < 0 ? -1 : 0;
}

static int to_host(const struct cp_args *a, const char *ref, const char *spath, const char *dest,
		   error **err)
{
	struct view v = VIEW_INIT;
	cleanup_free char *upper = NULL;
	if (open_source(&v, ref, &upper, err) < 0)
		return -1;
	/* a container's upper is read with the container's ids (ctr.h) */
	struct host_copy hc = {a, &v, upper, spath, dest};
	int ret = upper ? ctr_as_container(host_copy, &hc, err) : host_copy(&hc, err);
	view_release(&v);
	return ret;
}

/* ---- host -> container ---------------------------------------------------- */

/* Whether path exists in o (symlinks followed inside the root), and is a
 * directory. */
static int ovl_probe(lfs_ovl *o, const char *path, int *is_dir)
{
	uint64_t id;
	struct stat st;
	if (bld_ovl_resolve(o, path, 1, 0, 0, 0, &id, &st, NULL) < 0)
		return 0;
	lfs_ovl_forget(o, id, 1);
	*is_dir = S_ISDIR(st.st_mode);
	return 1;
}

static int need_parent(lfs_ovl *o, const char *cpath, error **err)
{
	cleanup_free char *dir = NULL, *base = NULL;
	split_path(cpath, &dir, &base);
	int is_dir = 0;
	if (!ovl_probe(o, dir, &is_dir) || !is_dir)
		return error_fail(err, ENOENT,
				  "destination directory '%s' does not exist in the "
				  "container",
				  dir);
	return 0;
}

static int join(char **out, const char *dir, const char *name)
{
	size_t n = strlen(dir);
	*out = lfs_xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
	return 0;
}

/* Copies host path hpath to cpath in o, docker cp's rules. */
static int from_host(lfs_ovl *o, const struct cp_args *a, const char *hpath, const char *cpath,
		     error **err)
{
	cleanup_free char *p = lfs_xstrdup(hpath);
	int contents = strip_dot(p);
	cleanup_free char *sdir = NULL, *sbase = NULL;
	split_path(p, &sdir, &sbase);
	cleanup_free char *real = a->follow ? realpath(p, NULL) : NULL;
	if (a->follow && !real)
		return error_make(err, errno, "'%s'", p);
	cleanup_free char *rdir = NULL, *rbase = NULL;
	split_path(real ? real : p, &rdir, &rbase);
	struct stat st;
	if (lstat(real ? real : p, &st) < 0)
		return error_make(err, errno, "'%s'", p);
	int is_dir = 0, exists = ovl_probe(o, cpath, &is_dir);
	cleanup_free char *dest = NULL;
	if (S_ISDIR(st.st_mode)) {
		if (exists && !is_dir)
			return error_fail(err, ENOTDIR, "cannot copy directory '%s' to file '%s'",
					  p, cpath);
		if (exists && !contents && *sbase)
			join(&dest, cpath, sbase);
		else
			dest = lfs_xstrdup(cpath);
	} else {
		if (contents)
			return error_fail(err, ENOTDIR, "'%s/.': '%s' is not a directory", p, p);
		if (!exists && ends_slash(cpath))
			return error_fail(err, ENOENT,
					  "destination directory '%s' does not exist in the "
					  "container",
					  cpath);
		if (exists && is_dir)
			join(&dest, cpath, sbase);
		else
			dest = lfs_xstrdup(cpath);
	}
	if (!exists && need_parent(o, cpath, err) < 0)
		return -1;
	int dir_src = S_ISDIR(st.st_mode);
	bctx *ctx;
	if (ctx_open(dir_src ? (real ? real : p) : rdir, NULL, NULL, &ctx, err) < 0)
		return -1;
	char *srcs[] = {dir_src ? "." : rbase, NULL};
	struct bld_source src = {.ctx = ctx, .what = "host"};
	struct bld_copy c = {.src = &src,
			     .srcs = srcs,
			     .nsrcs = 1,
			     .dest = dest,
			     .dest_dir = dir_src,
			     .keep_owner = a->archive,
			     .chmod = (mode_t)-1};
	int ret = bld_copy_run(o, &c, err);
	ctx_free(ctx);
	return ret;
}

/* A tar on standard input extracted into the directory cpath. */
static int from_stdin(lfs_ovl *o, const struct cp_args *a, const char *cpath, error **err)
{
	int is_dir = 0;
	if (!ovl_probe(o, cpath, &is_dir) || !is_dir)
		return error_fail(err, ENOTDIR,
				  "destination '%s' must be an existing directory in the container "
				  "to extract a tar from standard input",
				  cpath);
	struct bld_source src = {.what = "standard input"};
	struct bld_copy c = {.src = &src,
			     .dest = cpath,
			     .dest_dir = 1,
			     .own_members = !a->archive,
			     .chmod = (mode_t)-1};
	return bld_copy_extract(o, &c, STDIN_FILENO, "standard input", err);
}

static int into_container(lfs_ovl *o, const struct cp_args *a, const char *hpath, const char *cpath,
			  error **err)
{
	if (!strcmp(hpath, "-"))
		return from_stdin(o, a, cpath, err);
	return from_host(o, a, hpath, cpath, err);
}

static int to_container(const struct cp_args *a, const char *hpath, const char *ref,
			const char *cpath, error **err)
{
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = ctn_open(s, ref, &c, err);
	store_free(s);
	if (ret < 0)
		return error_wrap(err,
				  "copying into '%s' (images are read-only: copy into a "
				  "container)",
				  ref);
	ret = ctn_lock(c, err);
	if (ret >= 0)
		ret = ctn_refresh(c, err);
	if (ret >= 0 && c->state.status == CTN_RUNNING)
		ret = error_fail(err, EBUSY,
				 "container '%s' is running: stop it to copy into it (layerfs stop "
				 "%s), or copy from it while it runs",
				 ref, ref);
	struct view v = VIEW_INIT;
	lfs_ovl *o = NULL;
	if (ret >= 0)
		ret = view_open_image(&v, ctn_image_id(c), err);
	if (ret >= 0) {
		cleanup_free char *upper = ctn_path(c, "upper");
		cleanup_free char *work = ctn_path(c, "work");
		cleanup_free char *msg = NULL;
		int r = lfs_ovl_new(v.u, upper, work, 1, &o, &msg);
		if (r < 0)
			ret = error_make(err, -r, "container '%s': %s", ref, msg ? msg : "");
	}
	if (ret >= 0)
		ret = into_container(o, a, hpath, cpath, err);
	if (o)
		lfs_ovl_free(o);
	view_release(&v);
	ctn_unlock(c);
	ctn_free(c);
	return ret < 0 ? -1 : 0;
}

int cmd_cp(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"archive", no_argument, NULL, 'a'},
	    {"follow-link", no_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cp_args a = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+aLh", opts, NULL)) != -1) {
		if (c == 'a') {
			a.archive = 1;
		} else if (c == 'L') {
			a.follow = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs cp --help'");
		}
	}
	if (argc - optind != 2)
		return error_usage(err, "expected SRC and DEST; see 'layerfs cp --help'");
	const char *src = argv[optind], *dst = argv[optind + 1];
	cleanup_free char *sname = NULL, *spath = NULL, *dname = NULL, *dpath = NULL;
	int sref = split_ref(src, &sname, &spath), dref = split_ref(dst, &dname, &dpath);
	if (sref && dref)
		return error_usage(err, "copying between containers is not supported: copy to the "
					"host, then into the other container");
	if (!sref && !dref)
		return error_usage(err, "one of SRC and DEST must be CONTAINER:PATH (a host path "
					"with ':' is written ./NAME)");
	if (sref)
		return to_host(&a, sname, spath, dst, err);
	return to_container(&a, src, dname, dpath, err);
}
