/* layerfs mount — serve an image (or bare tar layers) through FUSE. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
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
	"lowest first, as in an image manifest), as one read-only tree.  Nothing is\n"
	"unpacked: reads are served from the tars through their indexes.  Returns once\n"
	"the mount is ready; 'layerfs umount MOUNTPOINT' ends it.\n"
	"\n"
	"Options:\n"
	"  -r, --read-only     mount read-only (the default and, for now, the only mode)\n"
	"      --layer FILE    a tar layer; repeat for each layer, lowest first\n"
	"  -f, --foreground    stay in the foreground until unmounted\n"
	"  -d, --debug         trace FUSE requests (implies --foreground)\n"
	"      --allow-other   let other users access the mount (default: only when root)\n"
	"      --threads N     at most N request threads\n"
	"  -h, --help          show this help\n";

struct mount_args {
	char **tars;
	size_t ntars;
	struct lfs_fuse_opts fuse;
};

static int parse(int argc, char **argv, struct mount_args *a, error **err)
{
	enum { OPT_LAYER = 256, OPT_ALLOW_OTHER, OPT_THREADS };
	static const struct option opts[] = {
		{"read-only", no_argument, NULL, 'r'},   {"layer", required_argument, NULL, OPT_LAYER},
		{"foreground", no_argument, NULL, 'f'},  {"debug", no_argument, NULL, 'd'},
		{"allow-other", no_argument, NULL, OPT_ALLOW_OTHER},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+rfdh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			break;
		case OPT_LAYER:
			a->tars = lfs_xrealloc(a->tars, (a->ntars + 1) * sizeof(*a->tars));
			a->tars[a->ntars++] = optarg;
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
	return 0;
}

static int check_mountpoint(const char *mp, error **err)
{
	struct stat st;
	if (stat(mp, &st) < 0)
		return error_make(err, errno, "mountpoint '%s' (create it with mkdir first)", mp);
	if (!S_ISDIR(st.st_mode))
		return error_make(err, ENOTDIR, "mountpoint '%s'", mp);
	return 0;
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
		ret = check_mountpoint(mp, err);
	if (ret >= 0 && a.ntars)
		ret = view_open_tars(&v, a.tars, a.ntars, err);
	else if (ret >= 0)
		ret = view_open_image(&v, argv[optind], err);
	if (ret >= 0) {
		a.fuse.fsname = a.ntars ? "layerfs" : argv[optind];
		char *msg = NULL;
		int r = lfs_fuse_serve(v.u, mp, &a.fuse, &msg);
		if (r < 0)
			ret = error_make(err, 0, "%s", msg ? msg : strerror(-r));
		free(msg);
	}
	view_release(&v);
	free(a.tars);
	return ret < 0 ? ret : 0;
}
