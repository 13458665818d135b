/* layerfs diff UPPERDIR|MOUNTPOINT — the changes of an upper directory
 * (see diff_upper.h). */
#include "diff_upper.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cmd.h"
#include "commit.h"
#include "report.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs diff [OPTIONS] UPPERDIR|MOUNTPOINT\n"
    "       layerfs diff [OPTIONS] IMAGE_A IMAGE_B   (compare two images)\n"
    "\n"
    "Lists the changes kept in an overlay upper directory, like docker diff,\n"
    "sorted by path: \"A PATH\" added, \"C PATH\" changed (an entry that exists in\n"
    "the lower layers, including the directories above a change), \"D PATH\"\n"
    "deleted (whiteouts, and the lower children of an opaque directory).  Only\n"
    "the upper directory is walked.  For the mount point of a writable layerfs\n"
    "mount, its upper directory and layers are used.  For a bare upper\n"
    "directory give the lower with --image or --layer; without one, added and\n"
    "changed entries cannot be told apart (all are listed as A).\n"
    "\n"
    "Options:\n"
    "      --image IMAGE    the image the upper was made over\n"
    "      --layer TAR      a lower tar layer (repeat, lowest first)\n"
    "      --format FMT     text (default) or json\n"
    "  -h, --help           show this help\n";

void upper_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The fstype of the mount at path (real path) from /proc/self/mounts, or NULL. */
static char *mount_fstype(const char *path)
{
	cleanup_file FILE *f = fopen("/proc/self/mounts", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	while (f && getline(&line, &cap, f) > 0) {
		char mnt[4096], type[256];
		if (sscanf(line, "%*s %4095s %255s", mnt, type) != 2)
			continue;
		/* /proc/mounts escapes blanks as \040: compare escaped forms. */
		lfs_buf esc = LFS_BUF_INIT;
		for (const char *p = path; *p; p++) {
			if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
				lfs_buf_addf(&esc, "\\%03o", (unsigned char)*p);
			else
				lfs_buf_addch(&esc, *p);
		}
		if (!strcmp(mnt, esc.data)) {
			free(found);
			found = lfs_xstrdup(type); /* the last one is on top */
		}
		lfs_buf_release(&esc);
	}
	free(line);
	return found;
}

/* The layers of a mount record as the view's lower. */
static int open_recorded(struct view *v, const struct mountstate *ms, error **err)
{
	if (ms->nlayers == 0)
		return 0;
	v->layers = lfs_xcalloc(ms->nlayers, sizeof(*v->layers));
	for (size_t i = 0; i < ms->nlayers; i++) {
		cleanup_free char *msg = NULL;
		const char *ip = ms->index_paths[i];
		struct stat st;
		int r;
		if (stat(ms->layer_paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			r = lfs_layer_open_dir(ms->layer_paths[i], &v->layers[i], &msg);
		} else {
			cleanup_free char *fallback =
			    ip ? NULL : store_file_index_path(v->store, ms->layer_paths[i], err);
			if (!ip && !fallback)
				return -1;
			r = lfs_layer_open(ms->layer_paths[i], ip ? ip : fallback,
					   ms->image ? 0 : LFS_LAYER_CHECK_MTIME, &v->layers[i], &msg);
		}
		if (r < 0)
			return error_make(err, msg ? 0 : -r, "layer %zu of the mount: %s", i + 1,
					  msg ? msg : ms->layer_paths[i]);
		v->nlayers = i + 1;
	}
	int r = lfs_union_new(v->layers, v->nlayers, &v->u);
	return r ? error_make(err, -r, "cannot assemble the layers of the mount") : 0;
}

/* Reads the mount record of target, if any, into src. */
static int from_record(struct upper_src *src, const char *target, int want_lower, error **err)
{
	struct mountstate ms;
	int r = mountstate_read(src->view.store, target, &ms, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		cleanup_free char *real = realpath(target, NULL);
		cleanup_free char *type = real ? mount_fstype(real) : NULL;
		if (type && !strncmp(type, "fuse", 4))
			return error_make(
			    err, 0,
			    "'%s' is a FUSE mount point with no layerfs mount record "
			    "(a read-only mount has no changes); pass its upper directory",
			    target);
		return 0;
	}
	src->mounted = 1;
	src->upper = steal_pointer(&ms.upper);
	src->work = steal_pointer(&ms.work);
	src->image = ms.image ? lfs_xstrdup(ms.image) : NULL;
	src->layer_paths = lfs_xcalloc(ms.nlayers + 1, sizeof(char *));
	for (size_t i = 0; i < ms.nlayers; i++)
		src->layer_paths[i] = lfs_xstrdup(ms.layer_paths[i]);
	r = want_lower ? open_recorded(&src->view, &ms, err) : 0;
	mountstate_release(&ms);
	return r;
}

int upper_src_open(struct upper_src *src, const char *target, const char *image, char *const *tars,
		   size_t ntars, error **err)
{
	memset(src, 0, sizeof(*src));
	src->view = (struct view)VIEW_INIT;
	if (ntars > 0) {
		if (view_open_tars(&src->view, tars, ntars, err) < 0)
			return -1;
	} else if (image) {
		if (view_open_image(&src->view, image, err) < 0)
			return -1;
	} else if (store_open(&src->view.store, err) < 0) {
		return -1;
	}
	if (from_record(src, target, ntars == 0 && !image, err) < 0)
		return -1;
	if (!src->upper) {
		src->upper = realpath(target, NULL);
		if (!src->upper)
			return error_make(err, errno, "upper directory '%s'", target);
	}
	struct stat st;
	if (stat(src->upper, &st) < 0)
		return error_make(err, errno, "upper directory '%s'", src->upper);
	if (!S_ISDIR(st.st_mode))
		return error_make(err, ENOTDIR, "upper directory '%s'", src->upper);
	return 0;
}

void upper_src_release(struct upper_src *src)
{
	view_release(&src->view);
	free(src->upper);
	free(src->work);
	free(src->image);
	for (char **p = src->layer_paths; p && *p; p++)
		free(*p);
	free(src->layer_paths);
	memset(src, 0, sizeof(*src));
}

struct out {
	enum report_format fmt;
	struct jw jw;
};

static int print_change(void *ctx, char kind, const char *path)
{
	struct out *o = ctx;
	if (o->fmt != REPORT_JSON) {
		printf("%c %s\n", kind, path);
		return 0;
	}
	jw_begin_object(&o->jw);
	jw_str(&o->jw, "path", path);
	jw_str(&o->jw, "change", kind == 'A' ? "added" : kind == 'D' ? "deleted" : "changed");
	jw_end_object(&o->jw);
	return 0;
}

static int run(struct upper_src *src, struct out *o, error **err)
{
	cleanup_fd int fd = open(src->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "upper directory '%s'", src->upper);
	if (o->fmt == REPORT_JSON)
		jw_begin_array(&o->jw, stdout);
	cleanup_free char *msg = NULL;
	int r = lfs_upper_changes(fd, src->view.u, print_change, o, &msg);
	if (r < 0)
		return error_make(err, msg ? 0 : -r, "upper directory '%s': %s", src->upper,
				  msg ? msg : "walk failed");
	if (o->fmt == REPORT_JSON)
		jw_end_array(&o->jw);
	return 0;
}

int diff_upper_run(int argc, char **argv, error **err)
{
	enum { OPT_FORMAT = 256, OPT_IMAGE, OPT_LAYER };
	static const struct option opts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"image", required_argument, NULL, OPT_IMAGE},
	    {"layer", required_argument, NULL, OPT_LAYER},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct out o = {0};
	const char *image = NULL;
	cleanup_free char **tars = lfs_xcalloc((size_t)argc + 1, sizeof(*tars));
	size_t ntars = 0;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_FORMAT) {
			if (report_parse_format(optarg, &o.fmt, err) < 0) {
				(*err)->status = 2;
				return -1;
			}
		} else if (c == OPT_IMAGE) {
			image = optarg;
		} else if (c == OPT_LAYER) {
			tars[ntars++] = optarg;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs diff --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return error_usage(
		    err, "expected one UPPERDIR or MOUNTPOINT; see 'layerfs diff --help'");
	if (image && ntars)
		return error_usage(err, "--image and --layer cannot be combined");
	upper_raise_nofile();
	struct upper_src src;
	int ret = upper_src_open(&src, argv[optind], image, tars, ntars, err);
	if (ret >= 0)
		ret = run(&src, &o, err);
	upper_src_release(&src);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the results");
	return ret;
}
