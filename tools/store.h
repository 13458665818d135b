/* store — the image store: an OCI image layout plus derived data.
 *
 * Root: $LAYERFS_ROOT, else /var/lib/layerfs for root, else
 * $XDG_DATA_HOME/layerfs (~/.local/share/layerfs).
 *   oci-layout, index.json, blobs/sha256/<hex>   exactly per the OCI image-layout spec
 *   indexes/sha256/<diff_id hex>                 layer index files (fs/index.h), derived
 *   indexes/files/<key>                          index cache for bare tars (mount --layer)
 *   cache/, containers/                          later: build cache, containers
 *   .lock                                        flock: shared for readers, exclusive for writers
 * Image names live in index.json as the org.opencontainers.image.ref.name
 * annotation, "NAME:TAG" exactly as the user gave it (a missing tag becomes
 * ":latest"), so `skopeo inspect oci:$ROOT:app:1` reads what layerfs wrote.
 * Every write is write-temp, fsync, rename; a blob is named by the digest of
 * the bytes actually written.
 */
#ifndef LAYERFS_STORE_H
#define LAYERFS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "layer.h"

typedef struct store store;

/* Opens (creating if needed) the store at the default root. */
int store_open(store **out, error **err);
int store_open_at(const char *root, store **out, error **err);
void store_free(store *s);
const char *store_root(const store *s);

/* Store-wide flock on <root>/.lock: shared for readers, exclusive for
 * writers.  store_unlock() releases. */
int store_lock(store *s, int exclusive, error **err);
void store_unlock(store *s);

struct store_layer {
	char *digest;     /* "sha256:<hex>" of the blob */
	char *diff_id;    /* "sha256:<hex>" of the uncompressed tar */
	char *media_type; /* as in the manifest */
	uint64_t size;    /* blob size */
	char *blob_path;  /* absolute path of the blob */
	char *index_path; /* absolute path of its index file */
};

struct store_image {
	char *ref;             /* "name:tag" that resolved it, or NULL when found by id */
	char *manifest_digest; /* "sha256:<hex>" */
	char *config_digest;   /* "sha256:<hex>": the image ID */
	json_t *manifest;      /* parsed manifest (owned) */
	json_t *config;        /* parsed image config (owned) */
	size_t nlayers;
	struct store_layer *layers; /* lowest first, as in the manifest */
};

/* Resolves NAME[:TAG], NAME@sha256:..., a full or unique-prefix image ID
 * (config digest, with or without "sha256:"), to an image.  Error messages
 * say "image 'x' not found; run 'layerfs images' to list images". */
int store_image_resolve(store *s, const char *name, struct store_image **out, error **err);
void store_image_free(struct store_image *img);

/* Opens every layer of img (building missing/corrupt indexes) into a new
 * array of nlayers lfs_layer pointers, lowest first. */
int store_image_open_layers(store *s, const struct store_image *img, lfs_layer ***out,
			    error **err);
void store_layers_free(lfs_layer **layers, size_t n);

/* Path of the cached index for a bare tar file (mount --layer): keyed by
 * the tar's real path, device and inode; caller frees. */
char *store_file_index_path(store *s, const char *tar_realpath, error **err);

/* Normalises a user reference: adds ":latest" when no tag or digest. Caller frees. */
char *store_normalize_ref(const char *name);

#endif
