#include "view.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int make_union(struct view *v, error **err)
{
	int ret = lfs_union_new(v->layers, v->nlayers, &v->u);
	if (ret)
		return error_make(err, -ret, "cannot assemble the layers");
	return 0;
}

int view_open_image(struct view *v, const char *name, error **err)
{
	int ret = store_open(&v->store, err);
	if (ret < 0)
		return ret;
	ret = store_lock(v->store, 0, err);
	if (ret < 0)
		return ret;
	ret = store_image_resolve(v->store, name, &v->image, err);
	if (ret >= 0)
		ret = store_image_open_layers(v->store, v->image, &v->layers, err);
	store_unlock(v->store);
	if (ret < 0)
		return ret;
	v->nlayers = v->image->nlayers;
	if (v->nlayers == 0)
		return error_make(err, 0, "image '%s' has no layers", name);
	return make_union(v, err);
}

static int open_tar(struct view *v, const char *tar, lfs_layer **out, error **err)
{
	cleanup_free char *real = realpath(tar, NULL);
	if (!real)
		return error_make(err, errno, "layer '%s'", tar);
	struct stat st;
	if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
		cleanup_free char *msg = NULL;
		int ret = lfs_layer_open_dir(real, out, &msg);
		return ret ? error_make(err, 0, "%s", msg ? msg : strerror(-ret)) : 0;
	}
	cleanup_free char *ipath = store_file_index_path(v->store, real, err);
	if (!ipath)
		return -1;
	cleanup_free char *msg = NULL;
	int ret = lfs_layer_open(real, ipath, LFS_LAYER_CHECK_MTIME, out, &msg);
	if (ret)
		return error_make(err, 0, "%s", msg ? msg : strerror(-ret));
	return 0;
}

int view_open_tars(struct view *v, char *const *tars, size_t n, error **err)
{
	int ret = store_open(&v->store, err);
	if (ret < 0)
		return ret;
	v->layers = lfs_xcalloc(n, sizeof(*v->layers));
	for (size_t i = 0; i < n; i++) {
		ret = open_tar(v, tars[i], &v->layers[i], err);
		if (ret < 0)
			return ret;
		v->nlayers = i + 1;
	}
	return make_union(v, err);
}

int view_open(struct view *v, char *const *tars, size_t ntars, const char *image, error **err)
{
	return ntars ? view_open_tars(v, tars, ntars, err) : view_open_image(v, image, err);
}

int view_add_upper(struct view *v, const char *dir, error **err)
{
	lfs_layer *l = NULL;
	cleanup_free char *msg = NULL;
	int ret = lfs_layer_open_dir(dir, &l, &msg);
	if (ret)
		return error_make(err, msg ? 0 : -ret, "upper directory '%s'%s%s", dir,
				  msg ? ": " : "", msg ? msg : "");
	v->layers = lfs_xrealloc(v->layers, (v->nlayers + 1) * sizeof(*v->layers));
	v->layers[v->nlayers++] = l;
	lfs_union_free(v->u);
	v->u = NULL;
	return make_union(v, err);
}

void view_add_tar(char ***tars, size_t *ntars, char *path)
{
	*tars = lfs_xrealloc(*tars, (*ntars + 1) * sizeof(**tars));
	(*tars)[(*ntars)++] = path;
}

void view_release(struct view *v)
{
	lfs_union_free(v->u);
	if (v->layers)
		store_layers_free(v->layers, v->nlayers);
	store_image_free(v->image);
	store_free(v->store);
	*v = (struct view)VIEW_INIT;
}

int view_resolve(struct view *v, const char *path, int follow, uint64_t *id, error **err)
{
	int ret = lfs_union_resolve(v->u, path, follow, id);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	return 0;
}
