/* layerfs mount — serve an image (or bare tar layers) through FUSE. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "fuse_ll.h"
#include "mountstate.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs mount [OPTIONS] IMAGE MOUNTPOINT\n"
	"       layerfs mount [OPTIONS] --layer A.tar [--layer B.tar ...] MOUNTPOINT\n"
	"       layerfs mount -o lowerdir=L2:L1,upperdir=U,workdir=W MOUNTPOINT\n"
	"\n"
	"Mounts an image from the store, or a stack of tar layers (plain, gzip or zstd,\n"
	"lowest first, as in an image manifest), as one tree.  Nothing is unpacked:\n"
	"reads are served from the tars through their indexes.  Changes go to an\n"
	"upper directory in the kernel overlayfs format; without --upper a private\n"
	"temporary one is used and removed at unmount.  Returns once the mount is\n"
	"ready; 'layerfs umount MOUNTPOINT' ends it.\n"
	"\n"
	"Options:\n"
	"  -r, --read-only     mount read-only (no upper directory)\n"
	"      --upper DIR     keep changes in DIR (created if missing)\n"
	"      --work DIR      work directory on the same filesystem as the upper\n"
	"                      (default: .NAME.layerfs-work beside the upper DIR/NAME)\n"
	"      --layer FILE    a tar layer (or a directory); repeat for each, lowest first\n"
	"  -o OPTIONS          fuse-overlayfs style: lowerdir=TOP:...:BOTTOM (each a\n"
	"                      directory or a tar), upperdir=DIR, workdir=DIR, ro,\n"
	"                      allow_other; mount flags (nodev, nosuid, noatime, ...)\n"
	"                      are accepted and left to the kernel's defaults\n"
	"  -f, --foreground    stay in the foreground until unmounted\n"
	"  -d, --debug         trace FUSE requests (implies --foreground)\n"
	"      --allow-other   let other users access the mount (default: only when root)\n"
	"      --threads N     at most N request threads\n"
	"  -h, --help          show this help\n";

struct mount_args {
	char **tars;
	size_t ntars;
	int lowerdir; /* tars came from -o lowerdir= */
	char **opt_copies; /* -o strings, cut in place: tars point into them */
	size_t nopt;
	int read_only;
	const char *upper, *work;
	struct lfs_fuse_opts fuse;
};

/* Options fuse-overlayfs and mount(8) pass that need nothing from us. */
static int harmless_option(const char *o)
{
	static const char *const ok[] = {"rw", "dev", "nodev", "suid", "nosuid", "exec",
					 "noexec", "atime", "noatime", "relatime", "strictatime",
					 "default_permissions", "fast_ino", "static_nlink",
					 "noacl", "volatile", "auto", "noauto", "user", "nouser",
					 "_netdev", "nofail", NULL};
	for (int i = 0; ok[i]; i++)
		if (!strcmp(o, ok[i]))
			return 1;
	return !strncmp(o, "context=", 8) || !strncmp(o, "fsync=", 6) ||
	       !strncmp(o, "threaded=", 9) || !strncmp(o, "x-", 2);
}

/* -o lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W,... (fuse-overlayfs). */
static int parse_o(struct mount_args *a, char *opts, error **err)
{
	for (char *save, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strncmp(o, "lowerdir=", 9)) {
			size_t first = a->ntars;
			for (char *s2, *l = strtok_r(o + 9, ":", &s2); l; l = strtok_r(NULL, ":", &s2))
				view_add_tar(&a->tars, &a->ntars, l);
			/* overlayfs lists the top layer first; we stack lowest first */
			for (size_t i = first, j = a->ntars; i + 1 < j--; i++) {
				char *t = a->tars[i];
				a->tars[i] = a->tars[j];
				a->tars[j] = t;
			}
			a->lowerdir = 1;
		} else if (!strncmp(o, "upperdir=", 9)) {
			a->upper = o + 9;
		} else if (!strncmp(o, "workdir=", 8)) {
			a->work = o + 8;
		} else if (!strcmp(o, "ro")) {
			a->read_only = 1;
		} else if (!strcmp(o, "allow_other")) {
			a->fuse.allow_other = 1;
		} else if (!harmless_option(o)) {
			return error_usage(err,
					   "mount option '%s' is not supported (uid/gid mappings and "
					   "squashing are not implemented); remove it",
					   o);
		}
	}
	return 0;
}

static int parse(int argc, char **argv, struct mount_args *a, error **err)
{
	enum { OPT_LAYER = 256, OPT_ALLOW_OTHER, OPT_THREADS, OPT_UPPER, OPT_WORK };
	static const struct option opts[] = {
		{"read-only", no_argument, NULL, 'r'},   {"layer", required_argument, NULL, OPT_LAYER},
		{"upper", required_argument, NULL, OPT_UPPER},
		{"work", required_argument, NULL, OPT_WORK},
		{"foreground", no_argument, NULL, 'f'},  {"debug", no_argument, NULL, 'd'},
		{"allow-other", no_argument, NULL, OPT_ALLOW_OTHER},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "rfdho:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			a->read_only = 1;
			break;
		case 'o': {
			a->opt_copies = lfs_xrealloc(a->opt_copies, (a->nopt + 1) * sizeof(char *));
			char *copy = a->opt_copies[a->nopt++] = lfs_xstrdup(optarg);
			int ret = parse_o(a, copy, err);
			if (ret < 0)
				return ret;
			break;
		}
		case OPT_LAYER:
			view_add_tar(&a->tars, &a->ntars, optarg);
			break;
		case OPT_UPPER:
			a->upper = optarg;
			break;
		case OPT_WORK:
			a->work = optarg;
			break;
		case 'f':
			a->fuse.foreground = 1;
			break;
		case 'd':
			a->fuse.debug = 1;
			a->fuse.foreground = 1;
			break;
		case OPT_ALLOW_OTHER:
			a->fuse.allow_other = 1;
			break;
		case OPT_THREADS:
			a->fuse.max_threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return error_usage(err, "see 'layerfs mount --help'");
		}
	}
	int want = a->ntars ? 1 : 2;
	if (a->lowerdir && argc - optind == 2)
		optind++; /* mount.fuse's "SOURCE MOUNTPOINT": the source names nothing */
	if (argc - optind != want)
		return error_usage(err, "%s; see 'layerfs mount --help'",
				   a->ntars ? "expected just MOUNTPOINT after the --layer options"
					    : "expected IMAGE and MOUNTPOINT");
	if (a->read_only && (a->upper || a->work))
		return error_usage(err, "--read-only takes no --upper or --work");
	if (a->work && !a->upper)
		return error_usage(err, "--work needs --upper");
	return 0;
}

static int check_dir(const char *what, const char *path, error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return error_make(err, errno, "%s '%s' (create it with mkdir first)", what, path);
	if (!S_ISDIR(st.st_mode))
		return error_make(err, ENOTDIR, "%s '%s'", what, path);
	return 0;
}

/* mkdir -p */
static int ensure_dir(const char *what, const char *path, error **err)
{
	cleanup_free char *p = lfs_xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return error_make(err, errno, "cannot create %s '%s'", what, p);
		*s = c;
		if (!c)
			break;
	}
	return check_dir(what, path, err);
}

/* The upper and work directories: given, derived, or temporary. */
struct upper_dirs {
	char *upper, *work;
	char *temp;   /* temporary base to remove at unmount, or NULL */
	int created;  /* the upper is new: it takes the image root's metadata */
};

static int setup_upper(struct view *v, const struct mount_args *a, struct upper_dirs *u,
		       error **err)
{
	if (a->upper) {
		struct stat st;
		/* -o upperdir= (fuse-overlayfs form) keeps the upper root as given. */
		u->created = !a->lowerdir && stat(a->upper, &st) < 0;
		int ret = ensure_dir("upper directory", a->upper, err);
		if (ret < 0)
			return ret;
		u->upper = realpath(a->upper, NULL);
		if (a->work) {
			u->work = lfs_xstrdup(a->work);
		} else {
			cleanup_free char *d = lfs_xstrdup(u->upper), *b = lfs_xstrdup(u->upper);
			u->work = lfs_xasprintf("%s/.%s.layerfs-work", dirname(d), basename(b));
		}
		return ensure_dir("work directory", u->work, err);
	}
	cleanup_free char *tmpdir = lfs_xasprintf("%s/tmp", store_root(v->store));
	int ret = ensure_dir("temporary directory", tmpdir, err);
	if (ret < 0)
		return ret;
	u->created = 1;
	u->temp = lfs_xasprintf("%s/mount-XXXXXX", tmpdir);
	if (!mkdtemp(u->temp))
		return error_make(err, errno, "cannot create a temporary upper in '%s'", tmpdir);
	u->upper = lfs_xasprintf("%s/upper", u->temp);
	u->work = lfs_xasprintf("%s/work", u->temp);
	ret = ensure_dir("upper directory", u->upper, err);
	return ret < 0 ? ret : ensure_dir("work directory", u->work, err);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void release_upper(struct upper_dirs *u, int remove_temp)
{
	if (u->temp && remove_temp)
		nftw(u->temp, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
	free(u->upper);
	free(u->work);
	free(u->temp);
}

/* The record `layerfs diff/commit MOUNTPOINT` read, kept while mounted. */
struct record {
	struct view *v;
	const char *image;
	char *mountpoint;
	const struct upper_dirs *u;
	int written;
};

static void record_write(void *arg)
{
	struct record *r = arg;
	struct mountstate ms = {.upper = r->u->upper, .work = r->u->work,
				.image = (char *)r->image, .nlayers = r->v->nlayers,
				.pid = getpid()};
	ms.layer_paths = lfs_xcalloc(ms.nlayers + 1, sizeof(char *));
	ms.index_paths = lfs_xcalloc(ms.nlayers + 1, sizeof(char *));
	for (size_t i = 0; i < ms.nlayers; i++) {
		ms.layer_paths[i] = (char *)lfs_layer_path(r->v->layers[i]);
		if (r->v->image)
			ms.index_paths[i] = r->v->image->layers[i].index_path;
	}
	error *err = NULL;
	/* Best effort: without a record, diff and commit take the upper dir. */
	r->written = mountstate_write(r->v->store, r->mountpoint, &ms, &err) >= 0;
	error_free(err);
	free(ms.layer_paths);
	free(ms.index_paths);
}

static void record_remove(struct record *r)
{
	error *err = NULL;
	if (r->written)
		mountstate_remove(r->v->store, r->mountpoint, &err);
	error_free(err);
	free(r->mountpoint);
}

static int serve(struct view *v, struct mount_args *a, const char *mp, const char *fsname,
		 error **err)
{
	struct upper_dirs u = {0};
	lfs_ovl *ovl = NULL;
	char *msg = NULL;
	int ret = 0, r = 0;
	if (!a->read_only) {
		ret = setup_upper(v, a, &u, err);
		if (ret >= 0 && (r = lfs_ovl_new(v->u, u.upper, u.work, u.created, &ovl, &msg)) < 0)
			ret = error_make(err, 0, "%s", msg);
	}
	struct record rec = {v, a->ntars ? NULL : fsname, realpath(mp, NULL), &u, 0};
	if (ret >= 0) {
		a->fuse.fsname = fsname;
		if (ovl && rec.mountpoint) {
			a->fuse.on_mounted = record_write;
			a->fuse.on_mounted_arg = &rec;
		}
		r = lfs_fuse_serve(v->u, ovl, mp, &a->fuse, &msg);
		if (r < 0)
			ret = error_make(err, 0, "%s", msg ? msg : strerror(-r));
	}
	record_remove(&rec);
	free(msg);
	lfs_ovl_free(ovl);
	/* r == 1: this is the parent, the child serves and cleans up. */
	release_upper(&u, r != 1);
	return ret;
}

int cmd_mount(int argc, char **argv, error **err)
{
	if (cmd_wants_help(argc, argv)) {
		cmd_print_usage(usage);
		return 0;
	}
	struct mount_args a = {.fuse = {.allow_other = -1}};
	struct view v = VIEW_INIT;
	int ret = parse(argc, argv, &a, err);
	const char *mp = argv[argc - 1];
	if (ret >= 0)
		ret = check_dir("mountpoint", mp, err);
	if (ret >= 0 && a.ntars)
		ret = view_open_tars(&v, a.tars, a.ntars, err);
	else if (ret >= 0)
		ret = view_open_image(&v, argv[optind], err);
	if (ret >= 0)
		ret = serve(&v, &a, mp, a.ntars ? "layerfs" : argv[optind], err);
	view_release(&v);
	free(a.tars);
	for (size_t i = 0; i < a.nopt; i++)
		free(a.opt_copies[i]);
	free(a.opt_copies);
	return ret < 0 ? ret : 0;
}
