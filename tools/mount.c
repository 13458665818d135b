/* layerfs mount — serve an image (or bare tar layers) through FUSE. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cmd.h"
#include "fuse_ll.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs mount [OPTIONS] IMAGE MOUNTPOINT\n"
	"       layerfs mount [OPTIONS] --layer A.tar [--layer B.tar ...] MOUNTPOINT\n"
	"\n"
	"Mounts an image from the store, or a stack of tar layers (plain or gzip,\n"
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
	"      --layer FILE    a tar layer; repeat for each layer, lowest first\n"
	"  -f, --foreground    stay in the foreground until unmounted\n"
	"  -d, --debug         trace FUSE requests (implies --foreground)\n"
	"      --allow-other   let other users access the mount (default: only when root)\n"
	"      --threads N     at most N request threads\n"
	"  -h, --help          show this help\n";

struct mount_args {
	char **tars;
	size_t ntars;
	int read_only;
	const char *upper, *work;
	struct lfs_fuse_opts fuse;
};

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
	while ((c = getopt_long(argc, argv, "rfdh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			a->read_only = 1;
			break;
		case OPT_LAYER:
			a->tars = lfs_xrealloc(a->tars, (a->ntars + 1) * sizeof(*a->tars));
			a->tars[a->ntars++] = optarg;
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
	char *temp; /* temporary base to remove at unmount, or NULL */
};

static int setup_upper(struct view *v, const struct mount_args *a, struct upper_dirs *u,
		       error **err)
{
	if (a->upper) {
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

static int serve(struct view *v, struct mount_args *a, const char *mp, const char *fsname,
		 error **err)
{
	struct upper_dirs u = {0};
	lfs_ovl *ovl = NULL;
	char *msg = NULL;
	int ret = 0, r = 0;
	if (!a->read_only) {
		/* Upper directories keep an O_PATH descriptor while the kernel
		 * knows them: allow as many as the hard limit does. */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		ret = setup_upper(v, a, &u, err);
		if (ret >= 0 && (r = lfs_ovl_new(v->u, u.upper, u.work, &ovl, &msg)) < 0)
			ret = error_make(err, 0, "%s", msg);
	}
	if (ret >= 0) {
		a->fuse.fsname = fsname;
		r = lfs_fuse_serve(v->u, ovl, mp, &a->fuse, &msg);
		if (r < 0)
			ret = error_make(err, 0, "%s", msg ? msg : strerror(-r));
	}
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
	return ret < 0 ? ret : 0;
}
