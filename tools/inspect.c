/* layerfs inspect — an image's configuration and layers as JSON, in the
 * shape of `docker image inspect`, plus a "LayerFS" object with the store's
 * view (manifest, blobs, indexes). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "index.h"
#include "container.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs inspect [OPTIONS] IMAGE|CONTAINER...\n"
    "\n"
    "Print a JSON array describing each image (a name, or an image ID or unique\n"
    "prefix), like 'docker image inspect', or container (a name, ID or unique\n"
    "ID prefix), like 'docker container inspect'.  An image's \"LayerFS\" object\n"
    "lists its layers with their Compression (none, gzip, zstd) and how reads\n"
    "reach file data (Access: pread, checkpoints for gzip, frames or\n"
    "decompressed-copy for zstd).\n"
    "\n"
    "Options:\n"
    "  -h, --help           show this help\n";

static json_t *str_or_empty(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return json_string(v ? v : "");
}

/* The comment of the last history entry, as docker shows it. */
static json_t *last_comment(json_t *config)
{
	json_t *h = json_object_get(config, "history");
	size_t n = json_array_size(h);
	return str_or_empty(n ? json_array_get(h, n - 1) : NULL, "comment");
}

static json_t *repo_tags(struct store_image **all, size_t n, const char *id)
{
	json_t *tags = json_array();
	for (size_t i = 0; i < n; i++)
		if (all[i]->ref && !strcmp(all[i]->config_digest, id))
			json_array_append_new(tags, json_string(all[i]->ref));
	return tags;
}

/* Compression and access from the layer's index ("unindexed" when it has
 * none yet: the first mount builds it). */
static void layer_access(json_t *o, const struct store_layer *l)
{
	const char *comp = "unindexed", *access = "unindexed";
	cleanup_fd int fd = open(l->index_path, O_RDONLY | O_CLOEXEC);
	lfs_index *idx = NULL;
	if (fd >= 0 && lfs_index_open(fd, &idx) == 0) {
		comp = lfs_index_compression_name(idx);
		access = lfs_index_access_name(idx);
	}
	json_object_set_new(o, "Compression", json_string(comp));
	json_object_set_new(o, "Access", json_string(access));
	lfs_index_free(idx);
}

static json_t *layerfs_info(store *s, const struct store_image *img)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *l = &img->layers[i];
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "Digest", l->digest, "DiffID",
			      l->diff_id, "MediaType", l->media_type, "Size", (json_int_t)l->size,
			      "TarSize", (json_int_t)store_layer_tar_size(l), "BlobPath",
			      l->blob_path, "IndexPath", l->index_path);
		layer_access(o, l);
		json_array_append_new(layers, o);
	}
	return json_pack("{s:s, s:s, s:o}", "Root", store_root(s), "ManifestDigest",
			 img->manifest_digest, "Layers", layers);
}

static json_t *describe(store *s, const struct store_image *img, struct store_image **all, size_t n)
{
	json_t *cfg = img->config;
	json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	json_t *config = json_object_get(cfg, "config");
	json_t *o = json_object();
	json_object_set_new(o, "Id", json_string(img->config_digest));
	json_object_set_new(o, "RepoTags", repo_tags(all, n, img->config_digest));
	json_object_set_new(o, "RepoDigests", json_array());
	json_object_set_new(o, "Parent", json_string(""));
	json_object_set_new(o, "Comment", last_comment(cfg));
	json_object_set_new(o, "Created", str_or_empty(cfg, "created"));
	json_object_set_new(o, "DockerVersion", json_string(""));
	json_object_set_new(o, "Author", str_or_empty(cfg, "author"));
	json_object_set_new(o, "Config", config ? json_deep_copy(config) : json_null());
	json_object_set_new(o, "Architecture", str_or_empty(cfg, "architecture"));
	if (json_object_get(cfg, "variant"))
		json_object_set_new(o, "Variant", str_or_empty(cfg, "variant"));
	json_object_set_new(o, "Os", str_or_empty(cfg, "os"));
	json_object_set_new(o, "Size", json_integer((json_int_t)store_image_size(img)));
	json_object_set_new(o, "RootFS",
			    json_pack("{s:s, s:O}", "Type", "layers", "Layers",
				      diff_ids ? diff_ids : json_array()));
	json_object_set_new(o, "Metadata",
			    json_pack("{s:s}", "LastTagTime", "0001-01-01T00:00:00Z"));
	json_object_set_new(o, "LayerFS", layerfs_info(s, img));
	return o;
}

/* Resolves every name under one shared lock; collects what fails. */
static int inspect_all(store *s, char **names, int n, json_t *out, lfs_buf *missing, error **err)
{
	struct store_image **all = NULL;
	size_t nall = 0;
	error *e = NULL;
	if (store_image_list(s, &all, &nall, &e) < 0) {
		/* A damaged entry elsewhere must not hide the images asked for;
		 * RepoTags then falls back to the name that resolved. */
		error_free(e);
		all = NULL;
		nall = 0;
	}
	for (int i = 0; i < n; i++) {
		struct store_image *img = NULL;
		e = NULL;
		if (store_image_resolve(s, names[i], &img, &e) < 0) {
			struct ctn *c = NULL;
			error *none = NULL;
			if (ctn_open(s, names[i], &c, &none) == 0) {
				json_array_append_new(out, ctn_inspect_json(c));
				ctn_free(c);
				error_free(e);
				continue;
			}
			error_free(none);
			if (missing->len)
				lfs_buf_addstr(missing, "; ");
			lfs_buf_addstr(missing, e->msg);
			error_free(e);
			continue;
		}
		json_t *o = describe(s, img, all, nall);
		if (!nall && img->ref)
			json_array_append_new(json_object_get(o, "RepoTags"),
					      json_string(img->ref));
		json_array_append_new(out, o);
		store_image_free(img);
	}
	store_image_list_free(all, nall);
	return 0;
}

int cmd_inspect(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		}
		return error_usage(err, "bad option '%s'; run 'layerfs inspect --help'",
				   argv[optind - 1]);
	}
	if (optind >= argc)
		return error_usage(err,
				   "expected at least one IMAGE; run 'layerfs inspect --help'");
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	json_t *out = json_array();
	cleanup_buf lfs_buf missing = LFS_BUF_INIT;
	int ret = store_lock(s, 0, err);
	if (ret == 0) {
		ret = inspect_all(s, argv + optind, argc - optind, out, &missing, err);
		store_unlock(s);
	}
	store_free(s);
	if (ret == 0) {
		/* Like docker: print what was found, then fail for the rest. */
		char *text = json_dumps(out, JSON_INDENT(4));
		puts(text);
		free(text);
		if (missing.len)
			ret = error_make(err, 0, "%s", missing.data);
	}
	json_decref(out);
	return ret < 0 ? -1 : 0;
}
