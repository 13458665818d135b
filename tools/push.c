/* layerfs push — an image from the store to a registry, blobs as stored
 * (so the digests a pull gave are the digests pushed back). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "imgcfg.h"
#include "reference.h"
#include "registry.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs push [OPTIONS] IMAGE [DEST]\n"
    "\n"
    "Upload IMAGE to a registry as DEST (default: IMAGE's own name, e.g.\n"
    "localhost:5000/app:1).  Blobs the registry already has are skipped (HEAD);\n"
    "a blob known to be in another repository of the same registry (pulled\n"
    "from or pushed there before) is mounted from it instead of uploaded.\n"
    "Prints the manifest digest.\n"
    "\n"
    "Options:\n"
    "      --tls-verify=false     allow plain http and unchecked certificates\n"
    "      --creds USER:PASSWORD  credentials (default: the login files)\n"
    "  -q, --quiet                print only the digest\n"
    "  -h, --help                 show this help\n";

/* Another repository on ref's registry the blob is known to be in (pulled
 * from or pushed to), to mount it from; NULL when none.  Caller frees. */
static char *mount_source(store *s, const struct reference *ref, const char *digest)
{
	cleanup_json json_t *srcs = store_blob_sources(s, digest);
	size_t dl = strlen(ref->domain), i;
	json_t *v;
	json_array_foreach(srcs, i, v)
	{
		const char *src = json_string_value(v);
		if (!strncmp(src, ref->domain, dl) && src[dl] == '/' &&
		    strcmp(src + dl + 1, ref->path))
			return lfs_xstrdup(src + dl + 1);
	}
	return NULL;
}

static int push_blob(registry *r, store *s, const struct reference *ref, const char *digest,
		     bool quiet, error **err)
{
	int e = registry_blob_exists(r, ref->path, digest, err);
	if (e < 0)
		return -1;
	if (e == 1) {
		if (!quiet)
			printf("%.12s: Layer already exists\n", digest + 7);
		return 0;
	}
	cleanup_free char *path = store_blob_path(s, digest);
	cleanup_free char *from = mount_source(s, ref, digest);
	int m = registry_put_blob(r, ref->path, digest, path, from, err);
	if (m < 0 && from) { /* a refused mount: upload it after all */
		error_free(steal_pointer(err));
		m = registry_put_blob(r, ref->path, digest, path, NULL, err);
	}
	if (m < 0)
		return error_wrap(err, "pushing blob %s", digest);
	if (!quiet && m == 1)
		printf("%.12s: Mounted from %s\n", digest + 7, from);
	else if (!quiet)
		printf("%.12s: Pushed\n", digest + 7);
	return 0;
}

/* The image's blobs are now in ref's repository too (see mount_source). */
static void record_pushed(store *s, const struct reference *ref, const struct store_image *img)
{
	cleanup_free char *repo = lfs_xasprintf("%s/%s", ref->domain, ref->path);
	error *e = NULL;
	for (size_t i = 0; i < img->nlayers; i++) {
		store_blob_source_add(s, img->layers[i].digest, repo, &e);
		error_free(steal_pointer(&e));
	}
	store_blob_source_add(s, img->config_digest, repo, &e);
	error_free(e);
}

static int push(const char *image, const char *dest, const struct registry_opts *ro, bool quiet,
		error **err)
{
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	struct store_image *img = NULL;
	struct reference ref = {0};
	registry *r = NULL;
	lfs_buf man = LFS_BUF_INIT;
	int ret = store_image_resolve(s, image, &img, err);
	if (ret == 0 && !dest && !img->ref)
		ret = error_usage(err, "'%s' has no name to push to; give DEST", image);
	if (ret == 0)
		ret = reference_parse(dest ? dest : img->ref, &ref, err);
	if (ret == 0 && ref.digest)
		ret = error_usage(err, "DEST is NAME[:TAG], not a digest");
	if (ret == 0)
		ret = registry_new(reference_registry_host(&ref), ro, &r, err);
	if (ret == 0)
		ret = store_blob_read(s, img->manifest_digest, &man, err);
	for (size_t i = 0; ret == 0 && i < img->nlayers; i++)
		ret = push_blob(r, s, &ref, img->layers[i].digest, quiet, err);
	if (ret == 0)
		ret = push_blob(r, s, &ref, img->config_digest, true, err);
	if (ret == 0) {
		const char *mt = json_string_value(json_object_get(img->manifest, "mediaType"));
		ret = registry_put_manifest(r, ref.path, ref.tag, mt ? mt : STORE_MT_MANIFEST,
					    man.data, man.len, err);
	}
	if (ret == 0)
		record_pushed(s, &ref, img);
	if (ret == 0)
		printf("%s%s: digest: %s size: %zu\n", quiet ? "" : "", ref.tag,
		       img->manifest_digest, man.len);
	if (ret < 0)
		error_wrap(err, "pushing %s", image);
	lfs_buf_release(&man);
	registry_free(r);
	reference_release(&ref);
	store_image_free(img);
	store_free(s);
	return ret;
}

int cmd_push(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"tls-verify", optional_argument, NULL, 'T'},
	    {"creds", required_argument, NULL, 'C'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct registry_opts ro = {.tls_verify = 1};
	cleanup_free char *creds = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		if (c == 'T' || c == 'C') {
			if (registry_cli_opt(c, optarg, &ro, &creds, err) < 0)
				return -1;
		} else if (c == 'q') {
			quiet = true;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs push --help'");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return error_usage(err, "expected IMAGE [DEST]; see 'layerfs push --help'");
	return push(argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, &ro, quiet, err);
}
