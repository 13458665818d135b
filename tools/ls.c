/* layerfs ls — list an image's directory through the union core. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cmd.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs ls [OPTIONS] IMAGE [PATH]\n"
	"       layerfs ls [OPTIONS] --layer A.tar [--layer B.tar ...] [PATH]\n"
	"\n"
	"Lists PATH (default /) of the image's merged tree without mounting it:\n"
	"every entry, dotfiles included, sorted by name.  Symlinks on the way are\n"
	"resolved inside the image.\n"
	"\n"
	"Options:\n"
	"  -l, --long        mode, links, uid, gid, size, mtime, name (-> target)\n"
	"  -d, --directory   list PATH itself, not its contents\n"
	"      --layer FILE  read bare tar layers instead of a stored image\n"
	"  -h, --help        show this help\n";

struct ls_opts {
	int lng;
	int dir_itself;
};

static void mode_string(mode_t m, char out[11])
{
	const char *types = "?pc?d?b?-?l?s???";
	out[0] = types[(m >> 12) & 15];
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		out[3] = (m & S_IXUSR) ? 's' : 'S';
	if (m & S_ISGID)
		out[6] = (m & S_IXGRP) ? 's' : 'S';
	if (m & S_ISVTX)
		out[9] = (m & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

static int print_entry(struct view *v, const char *name, uint64_t id, const struct ls_opts *o,
		       error **err)
{
	if (!o->lng) {
		printf("%s\n", name);
		return 0;
	}
	struct stat st;
	int ret = lfs_union_getattr(v->u, id, &st);
	if (ret)
		return error_make(err, -ret, "'%s'", name);
	char mode[11], when[32];
	mode_string(st.st_mode, mode);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&st.st_mtim.tv_sec, &tm));
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		printf("%s %3lu %5u %5u %4u, %4u %s %s", mode, (unsigned long)st.st_nlink,
		       st.st_uid, st.st_gid, major(st.st_rdev), minor(st.st_rdev), when, name);
	else
		printf("%s %3lu %5u %5u %10lld %s %s", mode, (unsigned long)st.st_nlink, st.st_uid,
		       st.st_gid, (long long)st.st_size, when, name);
	if (S_ISLNK(st.st_mode)) {
		lfs_buf t = LFS_BUF_INIT;
		if (!lfs_union_readlink(v->u, id, &t))
			printf(" -> %s", t.data);
		lfs_buf_release(&t);
	}
	putchar('\n');
	return 0;
}

struct list_ctx {
	struct view *v;
	const struct ls_opts *o;
	error **err;
	int ret;
};

static int list_one(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct list_ctx *c = ctx;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	c->ret = print_entry(c->v, name, id, c->o, c->err);
	return c->ret < 0;
}

static int do_ls(struct view *v, const char *path, const struct ls_opts *o, error **err)
{
	uint64_t id;
	int ret = view_resolve(v, path, 1, &id, err);
	if (ret < 0)
		return ret;
	struct stat st;
	ret = lfs_union_getattr(v->u, id, &st);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	if (!S_ISDIR(st.st_mode) || o->dir_itself)
		return print_entry(v, path, id, o, err);
	struct list_ctx c = {v, o, err, 0};
	ret = lfs_union_readdir(v->u, id, 0, list_one, &c);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	return c.ret;
}

int cmd_ls(int argc, char **argv, error **err)
{
	enum { OPT_LAYER = 256 };
	static const struct option opts[] = {
		{"long", no_argument, NULL, 'l'},   {"directory", no_argument, NULL, 'd'},
		{"layer", required_argument, NULL, OPT_LAYER},
		{"help", no_argument, NULL, 'h'},   {NULL, 0, NULL, 0},
	};
	struct ls_opts o = {0};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ldh", opts, NULL)) != -1) {
		if (c == 'l') {
			o.lng = 1;
		} else if (c == 'd') {
			o.dir_itself = 1;
		} else if (c == OPT_LAYER) {
			tars = lfs_xrealloc(tars, (ntars + 1) * sizeof(*tars));
			tars[ntars++] = optarg;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs ls --help'");
		}
	}
	int npos = argc - optind, want = ntars ? 0 : 1;
	if (npos < want || npos > want + 1)
		return error_usage(err, "expected %sPATH; see 'layerfs ls --help'",
				   ntars ? "at most one " : "IMAGE and an optional ");
	struct view v = VIEW_INIT;
	int ret = ntars ? view_open_tars(&v, tars, ntars, err)
			: view_open_image(&v, argv[optind], err);
	if (ret >= 0)
		ret = do_ls(&v, npos > want ? argv[argc - 1] : "/", &o, err);
	view_release(&v);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the listing");
	return ret;
}
