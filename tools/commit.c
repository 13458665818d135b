/* layerfs commit — an upper directory as one more layer: a new image in
 * the store, or just the layer tar (fs/commit.h does the work). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archive_io.h"
#include "cmd.h"
#include "imgcfg.h"
#include "commit.h"
#include "container.h"
#include "ctr.h"
#include "diff_upper.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs commit [OPTIONS] --upper DIR IMAGE NEW[:TAG]\n"
    "       layerfs commit [OPTIONS] MOUNTPOINT NEW[:TAG]\n"
    "       layerfs commit [OPTIONS] --upper DIR -o LAYER.tar\n"
    "       layerfs commit [OPTIONS] CONTAINER NEW[:TAG]\n"
    "\n"
    "Turns the changes kept in an overlay upper directory (layerfs, kernel\n"
    "overlayfs or fuse-overlayfs format) into one OCI layer.  The first form\n"
    "records a new image NEW: IMAGE's layers and config plus the layer, with a\n"
    "history entry \"layerfs commit\"; it prints the new image ID.  The second\n"
    "takes the upper directory and image of a writable layerfs mount.  The\n"
    "third writes only the layer tar ('-' for standard output).  The last\n"
    "takes a stopped container's writable layer over the image it was created\n"
    "from.\n"
    "\n"
    "The layer holds whiteouts (.wh.NAME) before their siblings, opaque markers\n"
    "(.wh..wh..opq) first in their directory, hard links as hard links, xattrs\n"
    "(overlay bookkeeping removed; user.containers.override_stat ownership\n"
    "applied), sub-second mtimes and numeric owners, in a deterministic order:\n"
    "the same upper gives the same digest.  With SOURCE_DATE_EPOCH set, mtimes\n"
    "later than it are clamped to it (and the image's creation time is it).\n"
    "Only the upper directory is read, never the whole tree.  Sparse files are\n"
    "stored dense.  A metacopy file (only its metadata copied up, as after a\n"
    "chmod of a lower file) is stored with the lower file's data: with -o, give\n"
    "the lower layers (--layer or --image).  Stop writers (unmount, or pause the\n"
    "container) first.\n"
    "\n"
    "Options:\n"
    "      --upper DIR      the upper directory\n"
    "  -o, --output FILE    write just the layer tar to FILE\n"
    "      --image IMAGE    with -o: the lower image (drops whiteouts that hide nothing)\n"
    "      --layer TAR      with -o: a lower tar layer (repeat, lowest first)\n"
    "  -z, --gzip           with -o: gzip the layer (deterministic)\n"
    "  -m, --message MSG    history comment of the new layer\n"
    "  -a, --author NAME    author of the new image\n"
    "  -h, --help           show this help\n";

struct commit_args {
	const char *upper, *output, *image, *msg, *author;
	char **tars;
	size_t ntars;
	int gzip;
	const char *target, *ref; /* positionals */
};

struct layer_call {
	struct upper_src *src;
	int fd;
	const struct lfs_commit_opts *o;
};

static int layer_write(void *arg, error **err)
{
	struct layer_call *c = arg;
	cleanup_fd int ufd = open(c->src->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0)
		return error_make(err, errno, "upper directory '%s'", c->src->upper);
	cleanup_free char *msg = NULL;
	int r = lfs_upper_commit(ufd, c->src->view.u, c->fd, c->o, &msg);
	if (r < 0)
		return error_make(err, msg ? 0 : -r, "committing '%s': %s", c->src->upper,
				  msg ? msg : "failed");
	return 0;
}

/* Writes the layer of src to fd (a container's with the container's ids). */
static int write_layer(struct upper_src *src, int fd, int gzip, error **err)
{
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	o.gzip = gzip;
	if (imgcfg_epoch(&o.source_date_epoch, err) < 0)
		return -1;
	cleanup_fd int wfd = src->work ? open(src->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	o.exclude_dirfd = wfd;
	struct layer_call c = {src, fd, &o};
	return src->container ? ctr_as_container(layer_write, &c, err) : layer_write(&c, err);
}

static int commit_to_file(struct upper_src *src, const struct commit_args *a, error **err)
{
	struct outfile of;
	if (outfile_open(&of, strcmp(a->output, "-") ? a->output : NULL, err) < 0)
		return -1;
	if (write_layer(src, of.fd, a->gzip, err) < 0) {
		outfile_abort(&of);
		return -1;
	}
	return outfile_commit(&of, err);
}

/* IMAGE's config with the new layer's history entry (rootfs is set by
 * store_image_commit). */
static json_t *new_config(const struct store_image *img, const struct commit_args *a, error **err)
{
	int64_t epoch;
	if (imgcfg_epoch(&epoch, err) < 0)
		return NULL;
	json_t *cfg = json_deep_copy(img->config);
	cleanup_free char *created = imgcfg_time(epoch);
	json_object_set_new(cfg, "created", json_string(created));
	if (a->author)
		json_object_set_new(cfg, "author", json_string(a->author));
	json_t *hist = json_object_get(cfg, "history");
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(cfg, "history", hist);
	}
	json_t *h = json_pack("{s:s, s:s}", "created", created, "created_by", "layerfs commit");
	if (a->author)
		json_object_set_new(h, "author", json_string(a->author));
	if (a->msg)
		json_object_set_new(h, "comment", json_string(a->msg));
	json_array_append_new(hist, h);
	return cfg;
}

/* An unnamed temp file in the store (same disk as the blobs). */
static int store_tmpfile(store *s, error **err)
{
	int fd = open(store_root(s), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	cleanup_free char *p = lfs_xasprintf("%s/.commit-XXXXXX", store_root(s));
	fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "cannot create a temporary file in '%s'",
				  store_root(s));
	unlink(p);
	return fd;
}

/* Stages IMAGE's layers (already in the store) and the new one in l[]. */
static int stage_all(store *s, const struct store_image *img, int fd, const char *upper,
		     store_staged_layer **l, error **err)
{
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *sl = &img->layers[i];
		if (store_layer_stage_present(s, sl->digest, sl->media_type, sl->diff_id, &l[i],
					      err) < 0)
			return -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_make(err, errno, "rewinding the layer of '%s'", upper);
	cleanup_free char *what = lfs_xasprintf("the layer of '%s'", upper);
	return store_layer_stage(s, fd, what, &l[img->nlayers], err);
}

static int commit_to_image(struct upper_src *src, const struct commit_args *a, error **err)
{
	store *s = src->view.store;
	const struct store_image *img = src->view.image;
	cleanup_json json_t *cfg = new_config(img, a, err);
	if (!cfg)
		return -1;
	cleanup_fd int fd = store_tmpfile(s, err);
	if (fd < 0 || write_layer(src, fd, 0, err) < 0)
		return -1;
	size_t n = img->nlayers + 1;
	store_staged_layer **l = lfs_xcalloc(n, sizeof(*l));
	cleanup_free char *id = NULL;
	int ret = stage_all(s, img, fd, src->upper, l, err);
	if (ret >= 0)
		ret = store_image_commit(s, a->ref, cfg, l, n, &id, err);
	for (size_t i = 0; i < n; i++)
		store_staged_layer_free(l[i]);
	free(l);
	if (ret < 0)
		return -1;
	puts(id);
	return 0;
}

static int parse_args(int argc, char **argv, struct commit_args *a, error **err)
{
	enum { OPT_UPPER = 256, OPT_IMAGE, OPT_LAYER };
	static const struct option opts[] = {
	    {"upper", required_argument, NULL, OPT_UPPER},
	    {"output", required_argument, NULL, 'o'},
	    {"image", required_argument, NULL, OPT_IMAGE},
	    {"layer", required_argument, NULL, OPT_LAYER},
	    {"gzip", no_argument, NULL, 'z'},
	    {"message", required_argument, NULL, 'm'},
	    {"author", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:zm:a:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_UPPER:
			a->upper = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case OPT_IMAGE:
			a->image = optarg;
			break;
		case OPT_LAYER:
			a->tars[a->ntars++] = optarg;
			break;
		case 'z':
			a->gzip = 1;
			break;
		case 'm':
			a->msg = optarg;
			break;
		case 'a':
			a->author = optarg;
			break;
		case 'h':
			return 1;
		default:
			return error_usage(err, "bad option '%s'; see 'layerfs commit --help'",
					   argv[optind - 1]);
		}
	}
	int npos = argc - optind;
	if (a->output) {
		if (!a->upper || npos != 0)
			return error_usage(err, "-o takes --upper DIR and no other arguments; see "
						"'layerfs commit --help'");
		if (a->image && a->ntars)
			return error_usage(err, "--image and --layer cannot be combined");
		return 0;
	}
	if (a->image || a->ntars || a->gzip)
		return error_usage(err, "--image, --layer and --gzip go with -o; for a new image "
					"give IMAGE and NEW as arguments");
	if (npos != 2)
		return error_usage(err, "expected %s NEW[:TAG]; see 'layerfs commit --help'",
				   a->upper ? "IMAGE" : "MOUNTPOINT");
	a->target = argv[optind];
	a->ref = argv[optind + 1];
	if (store_ref_check(a->ref, err) < 0) {
		(*err)->status = 2;
		return -1;
	}
	return 0;
}

/* The layer tars of the image a mount was made of must still be the ones
 * it mounted: the name may have been pointed elsewhere since. */
static int same_layers(const struct store_image *img, char **recorded, const char *mnt, error **err)
{
	size_t n = 0;
	while (recorded && recorded[n])
		n++;
	int same = n == img->nlayers;
	for (size_t i = 0; same && i < n; i++) {
		cleanup_free char *a = realpath(recorded[i], NULL);
		cleanup_free char *b = realpath(img->layers[i].blob_path, NULL);
		same = a && b && !strcmp(a, b);
	}
	if (!same)
		return error_make(err, 0,
				  "image '%s' no longer has the layers mounted at '%s'; use "
				  "--upper DIR IMAGE NEW with the image the mount was made of",
				  img->ref ? img->ref : img->config_digest, mnt);
	return 0;
}

/* MOUNTPOINT NEW: the upper and the image from the mount's record. */
static int commit_mounted(struct upper_src *src, const struct commit_args *a, error **err)
{
	cleanup_free char *image = lfs_xstrdup(src->image);
	char **recorded = steal_pointer(&src->layer_paths);
	upper_src_release(src);
	int ret = upper_src_open(src, a->target, image, NULL, 0, err);
	if (ret >= 0)
		ret = same_layers(src->view.image, recorded, a->target, err);
	if (ret >= 0)
		ret = commit_to_image(src, a, err);
	for (char **p = recorded; p && *p; p++)
		free(*p);
	free(recorded);
	return ret;
}

/* CONTAINER NEW: the container's upper over the image it was created
 * from.  Returns 1 (nothing done) when target names no container. */
static int commit_container(struct commit_args *a, error **err)
{
	struct stat st;
	if (stat(a->target, &st) == 0)
		return 1; /* a path: a mount point */
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	error *none = NULL;
	int ret = ctn_open(s, a->target, &c, &none);
	error_free(none);
	store_free(s);
	if (ret < 0)
		return 1;
	if (c->state.status == CTN_RUNNING)
		ret = error_fail(err, EBUSY,
				 "container '%s' is running: stop it first (layerfs stop %s)",
				 a->target, a->target);
	struct upper_src src;
	cleanup_free char *upper = ctn_path(c, "upper");
	if (ret >= 0)
		ret = upper_src_open(&src, upper, ctn_image_id(c), NULL, 0, err);
	if (ret >= 0) {
		src.work = ctn_path(c, "work");
		src.container = 1;
		ret = commit_to_image(&src, a, err);
		upper_src_release(&src);
	}
	ctn_free(c);
	return ret < 0 ? -1 : 0;
}

static int run(struct commit_args *a, error **err)
{
	if (!a->output && !a->upper) {
		int r = commit_container(a, err);
		if (r <= 0)
			return r;
	}
	struct upper_src src;
	int ret;
	if (a->output) {
		ret = upper_src_open(&src, a->upper, a->image, a->tars, a->ntars, err);
		if (ret >= 0)
			ret = commit_to_file(&src, a, err);
	} else if (a->upper) {
		ret = upper_src_open(&src, a->upper, a->target, NULL, 0, err);
		if (ret >= 0)
			ret = commit_to_image(&src, a, err);
	} else {
		/* A mount point: its record names the upper and the image. */
		ret = upper_src_open(&src, a->target, NULL, NULL, 0, err);
		if (ret >= 0 && (!src.mounted || !src.image)) {
			ret = error_usage(err,
					  "'%s' is not a writable layerfs mount of an image; use "
					  "--upper DIR IMAGE NEW",
					  a->target);
		} else if (ret >= 0) {
			ret = commit_mounted(&src, a, err);
		}
	}
	upper_src_release(&src);
	return ret;
}

int cmd_commit(int argc, char **argv, error **err)
{
	cleanup_free char **tars = lfs_xcalloc((size_t)argc + 1, sizeof(*tars));
	struct commit_args a = {.tars = tars};
	int r = parse_args(argc, argv, &a, err);
	if (r == 1) {
		cmd_print_usage(usage);
		return 0;
	}
	if (r < 0)
		return -1;
	upper_raise_nofile();
	return run(&a, err);
}
