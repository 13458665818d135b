/* store — the image store: an OCI image layout plus derived data.
 *
 * Root: $LAYERFS_ROOT, else /var/lib/layerfs for root, else
 * $XDG_DATA_HOME/layerfs (~/.local/share/layerfs).
 *   oci-layout, index.json, blobs/sha256/<hex>   exactly per the OCI image-layout spec
 *   indexes/sha256/<diff_id hex>                 layer index files (fs/index.h), derived
 *   indexes/sha256/<diff_id hex>.tar             decompressed copy of a single-frame zstd
 *                                                layer (fs/layer.h), derived, made on first use
 *   indexes/files/<key>                          index cache for bare tars (mount --layer)
 *   cache/<key hex>                              build cache entries (JSON)
 *   tmp/                                         scratch dirs of running builds
 *   containers/<id>/                             container records (container.h)
 *   sources/<hex>                                repositories a blob is known to be in (push)
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
#include "buf.h"
#include "layer.h"

typedef struct store store;

/* Opens (creating if needed) the store at the default root. */
int store_open(store **out, error **err);
int store_open_at(const char *root, store **out, error **err);
void store_free(store *s);
const char *store_root(const store *s);

/* Store-wide flock on <root>/.lock: shared for readers, exclusive for
 * writers.  store_unlock() releases.  Every store_ function below that
 * reads the store takes a shared lock for its own duration when the caller
 * holds none, and every one that writes takes the exclusive lock (and
 * afterwards returns to whatever the caller held), so explicit locking is
 * only needed to make several calls one atomic step. */
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
/* Opens the layers ls[0..n) (lowest first) as store_image_open_layers
 * does; what names them in messages ("image 'app:1'"). */
int store_layers_open(store *s, const struct store_layer *ls, size_t n, const char *what,
		      lfs_layer ***out, error **err);
/* Fills *l for a stored layer (paths derived from the digests).  Returns
 * -EINVAL when a digest is malformed or media_type NULL.  Free the
 * contents with store_layer_release(). */
int store_layer_init(store *s, struct store_layer *l, const char *digest, const char *diff_id,
		     const char *media_type, uint64_t size);
void store_layer_release(struct store_layer *l);

/* Path of the cached index for a bare tar file (mount --layer): keyed by
 * the tar's real path, device and inode; caller frees. */
char *store_file_index_path(store *s, const char *tar_realpath, error **err);

/* Normalises a user reference: adds ":latest" when no tag or digest. Caller frees. */
char *store_normalize_ref(const char *name);

/* Checks that ref is a valid NAME[:TAG] to create (docker's grammar:
 * lowercase path components separated by '/', an optional registry host
 * with port first, a tag of [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).  Returns 0
 * or -EINVAL with a message saying what is wrong. */
int store_ref_check(const char *ref, error **err);
/* Splits an annotation "REPO:TAG" at the last ':' after the last '/', or
 * "REPO@sha256:..." at the '@': *repo and *tag are new strings (tag
 * "<none>" when there is none). */
void store_ref_split(const char *ref, char **repo, char **tag);

/* The GOARCH/GOOS-style platform of this machine: "amd64", "arm64", ...
 * (*variant is NULL or e.g. "v7"); static strings. */
void store_platform(const char **arch, const char **variant);

/* Uncompressed tar size of a layer: the blob size for plain tar media types,
 * else the tar size recorded in its index, else the blob size. */
uint64_t store_layer_tar_size(const struct store_layer *l);
/* Sum of store_layer_tar_size() over the image's layers. */
uint64_t store_image_size(const struct store_image *img);

/* Every image entry of index.json, in file order, each loaded as
 * store_image_resolve() would (ref = its ref.name annotation, NULL when it
 * has none); nested image indexes are skipped.  An entry whose manifest or
 * config cannot be read fails the call, naming the entry. */
int store_image_list(store *s, struct store_image ***out, size_t *n, error **err);
void store_image_list_free(struct store_image **imgs, size_t n);

/* --- Writing images -------------------------------------------------- */

/* A layer copied into the store but not yet referenced: temp files in
 * blobs/sha256 and indexes/sha256 that store_image_commit() renames into
 * place.  Freeing an uncommitted one removes its temp files. */
typedef struct store_staged_layer store_staged_layer;

/* Copies the tar on fd (plain, or gzip or zstd detected by content,
 * multi-member ok) to an uncompressed blob temp file while hashing it, then builds its
 * index with lfs_index_build().  src names the input in messages ("-" for
 * stdin).  Runs without the store lock (large copies do not block other
 * commands).  On any failure (unreadable or corrupt input, a hostile or
 * truncated tar) the temp files are removed, the store is unchanged, and
 * the error names src, the member at fault and what to do. */
int store_layer_stage(store *s, int fd, const char *src, store_staged_layer **out, error **err);
/* A layer the caller writes itself (a build step's commit), with no copy:
 * store_layer_open_tmp() gives a new temp file in the blob directory (*fd,
 * the caller closes it) to write a plain tar to; store_layer_stage_tmp()
 * then hashes and indexes it in one read pass and stages it as
 * store_layer_stage() does.  store_staged_layer_free() of a layer that
 * was not committed removes the temp file. */
int store_layer_open_tmp(store *s, store_staged_layer **out, int *fd, error **err);
int store_layer_stage_tmp(store_staged_layer *l, int fd, const char *src, error **err);
/* "sha256:<hex>" of the staged blob (its diff_id and digest); owned by l. */
const char *store_staged_layer_digest(const store_staged_layer *l);
uint64_t store_staged_layer_size(const store_staged_layer *l);
void store_staged_layer_free(store_staged_layer *l);

/* Under the exclusive lock: moves the staged layers into place, writes the
 * image config (config, borrowed, gets rootfs {type, diff_ids} set from the
 * layers, lowest first) and an OCI manifest as blobs, and points ref
 * (normalised) at it in index.json, replacing an existing entry of that
 * name; with ref NULL an unnamed entry is added (unless index.json has one
 * for that manifest already).  Blobs no longer referenced after the replacement are collected.
 * *image_id (caller frees) is "sha256:<config hex>". */
int store_image_commit(store *s, const char *ref, json_t *config,
		       store_staged_layer *const *layers, size_t nlayers, char **image_id,
		       error **err);

/* --- Blobs kept as they come (load, pull) ------------------------------ */

/* Layer media types layerfs stores and mounts as they are. */
#define STORE_MT_LAYER	      "application/vnd.oci.image.layer.v1.tar"
#define STORE_MT_LAYER_GZ     "application/vnd.oci.image.layer.v1.tar+gzip"
#define STORE_MT_LAYER_ZSTD   "application/vnd.oci.image.layer.v1.tar+zstd"
#define STORE_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define STORE_MT_DOCKER_LAYER_GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define STORE_MT_MANIFEST     "application/vnd.oci.image.manifest.v1+json"
#define STORE_MT_INDEX	      "application/vnd.oci.image.index.v1+json"
#define STORE_MT_CONFIG	      "application/vnd.oci.image.config.v1+json"
#define STORE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define STORE_MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"
#define STORE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* An incoming blob: bytes appended to a temp file in blobs/sha256 while
 * they are hashed.  Nothing is visible to other commands until a commit
 * references it; store_blob_free() of an unused one removes the temp file,
 * and temp files left by a killed process are collected by store_gc()
 * after a day.  Runs without the store lock. */
typedef struct store_blob store_blob;

/* expected_digest ("sha256:<hex>") and expected_size (UINT64_MAX: unknown)
 * are what store_blob_finish() checks; a write past expected_size fails at
 * once (a hostile or confused peer cannot fill the disk). */
int store_blob_begin(store *s, const char *expected_digest, uint64_t expected_size,
		     store_blob **out, error **err);
int store_blob_write(store_blob *b, const void *data, size_t len, error **err);
/* Bytes written so far (where a resumed download continues). */
uint64_t store_blob_written(const store_blob *b);
/* Discards what was written (a server that ignored a Range request). */
int store_blob_restart(store_blob *b, error **err);
/* Checks size and digest against the expected ones, fsyncs.  On a
 * mismatch: -EBADMSG, message naming both digests / sizes. */
int store_blob_finish(store_blob *b, error **err);
/* The temp file (read with pread; valid until b is freed or staged). */
int store_blob_fd(const store_blob *b);
/* "sha256:<hex>" of the bytes written (valid after finish); owned by b. */
const char *store_blob_digest(const store_blob *b);
void store_blob_free(store_blob *b);
/* The expected_size given to store_blob_begin(). */
uint64_t store_blob_expected_size(const store_blob *b);

/* sources/<hex>: the repositories ("HOST/REPO") a blob is known to be in,
 * recorded by pull and push, so that push can ask a registry to mount the
 * blob from one of them instead of uploading it again.  Newest first, at
 * most 16; store_gc() drops the record with the blob.  add takes the
 * exclusive lock; a record that cannot be read counts as empty. */
int store_blob_source_add(store *s, const char *digest, const char *repo, error **err);
/* A new array of strings (caller decrefs), empty when nothing is known. */
json_t *store_blob_sources(store *s, const char *digest);

/* Stages a finished blob as a layer, kept as it is: plain tar, gzip or zstd
 * (detected by content; xz and others fail with -ENOTSUP saying so).  The
 * index is built in one pass that also hashes the uncompressed stream:
 * when diff_id is given it must match (-EBADMSG otherwise), else the
 * computed one is used.  media_type is recorded for the manifest (NULL:
 * the OCI type matching the content).  Takes b in every case. */
int store_layer_stage_blob(store *s, store_blob *b, const char *media_type, const char *diff_id,
			   store_staged_layer **out, error **err);
/* A layer whose blob is already in the store (pull/load skip it): a
 * missing index is built and diff_id verified as above. */
int store_layer_stage_present(store *s, const char *digest, const char *media_type,
			      const char *diff_id, store_staged_layer **out, error **err);
/* 1 if blobs/sha256/<hex of digest> exists, else 0. */
int store_blob_present(store *s, const char *digest);
const char *store_staged_layer_diff_id(const store_staged_layer *l);
const char *store_staged_layer_media_type(const store_staged_layer *l);

/* Under the exclusive lock: stores an image exactly as given (its config
 * and manifest bytes become blobs unchanged, so digests survive a round
 * trip through the store).  Checks first that the manifest is an OCI or
 * docker v2 schema 2 manifest whose config descriptor matches config
 * (digest and size) and whose layer descriptors are layers[] in order
 * (digest, size), and that the config's rootfs.diff_ids are the layers'
 * diff_ids: -EBADMSG naming what differs.  ref (checked and normalised) is
 * pointed at the manifest; ref may also be NAME@sha256:<hex> (an image
 * pulled by digest: store_ref_split() gives it the tag "<none>"); with ref NULL an unnamed entry is
 * added unless index.json already has one for that manifest.  *manifest_digest (may be NULL) gets
 * "sha256:<hex>", caller frees. */
int store_image_commit_raw(store *s, const char *ref, const void *config, size_t config_len,
			   const void *manifest, size_t manifest_len,
			   store_staged_layer *const *layers, size_t nlayers,
			   char **manifest_digest, error **err);

/* Absolute path of blobs/sha256/<hex> for a valid digest, else NULL;
 * caller frees.  The file may not exist. */
char *store_blob_path(store *s, const char *digest);
/* Reads a blob (at most 16 MiB, digest verified) into out. */
int store_blob_read(store *s, const char *digest, lfs_buf *out, error **err);

/* Points target (checked and normalised) at the image source resolves to,
 * replacing target's entry if there is one. */
int store_tag(store *s, const char *source, const char *target, error **err);

/* Callback for store_remove: verb is "Untagged" or "Deleted", what is a
 * ref or "sha256:<image id>". */
typedef void store_report_fn(void *arg, const char *verb, const char *what);

/* Removes one image reference from index.json like `docker rmi`: by name
 * (NAME[:TAG] or NAME@sha256:...) that one entry; by ID (prefix) every entry
 * of that image, which needs force when it has more than one name.  Reports
 * each "Untagged" ref and a "Deleted" image ID when no entry refers to the
 * image any more.  Does not collect blobs: call store_gc() afterwards. */
int store_remove(store *s, const char *name, int force, store_report_fn *report, void *arg,
		 error **err);

/* Under the exclusive lock: deletes blobs and layer indexes that no
 * manifest in index.json, build cache entry, container record or running
 * build's pins (store_scratch_dir) references, and temp files older than
 * a day or whose writer (the pid in their name) is gone.
 * Refuses to delete anything (returns an error) if any referenced manifest
 * or config cannot be read, since its references would be unknown. */
int store_gc(store *s, error **err);

/* --- Build cache --------------------------------------------------------
 * cache/<key hex>: one JSON object per build step, keyed by the step's
 * cache key (64 hex digits).  An entry may carry a layer ("layer": {
 * mediaType, digest, diff_id, size }): store_gc() keeps that layer's blob
 * and index as long as the entry exists. */

/* 0 and *entry (caller decrefs) when key_hex has a usable entry; 1 (and
 * *entry NULL) when there is none, it is unreadable, or its layer blob is
 * missing. */
int store_cache_get(store *s, const char *key_hex, json_t **entry, error **err);
/* Under the exclusive lock: moves layer (may be NULL) into place, sets
 * entry's "layer" to it, and writes entry (borrowed) as cache/<key_hex>
 * (temp + rename: a reader sees the old entry or the new one). */
int store_cache_put(store *s, const char *key_hex, json_t *entry, store_staged_layer *layer,
		    error **err);

/* Creates <root>/tmp/<what>-XXXXXX (mode 0700) for a command's scratch
 * files on the store's file system; *out (caller frees) is its path.  The
 * caller removes it (store_rm_tree_at).
 * The dir holds a lock file the handle keeps flock'ed until store_free()
 * (or the process dies), and a pins file: from then on every layer the
 * handle resolves (store_image_resolve, a store_cache_get hit,
 * store_cache_put) is pinned, and store_gc() / prune keep pinned layers
 * while the lock is held, so a running build never loses its base or
 * cached layers to a concurrent rmi or prune.  A scratch dir whose lock
 * is free was left by a killed command: fsck reports it, prune removes
 * it.  A handle has one scratch dir; a second call replaces the first's
 * lock. */
int store_scratch_dir(store *s, const char *what, char **out, error **err);

/* Removes name (a file or a whole tree) relative to dfd (AT_FDCWD: a
 * path), making directories writable on the way; best effort. */
void store_rm_tree_at(int dfd, const char *name);

/* --- Crash testing -------------------------------------------------------
 * With LAYERFS_CRASH_AT=NAME (or NAME:N, the Nth time) in the environment
 * the process raises SIGKILL when it reaches the named point, so tests can
 * check that a store survives a kill at every step that writes it:
 *   atomic-write     a temp file written and synced, before its rename
 *                    (index.json, cache entries, config/manifest blobs)
 *   layer-blob       a layer's blob renamed into place, not yet its index
 *   layer-committed  a layer's blob and index both in place
 *   cache-put        a build step's layer stored, not yet its cache entry
 *   image-blobs      an image's config and manifest stored, index.json not
 *   index-saved      index.json replaced (before a following collection)
 *   gc-marked        gc's marks made, nothing deleted yet
 *   gc-sweep         gc has just deleted one file */
void store_crash_point(const char *name);

/* --- Maintenance (store_maint.c) ---------------------------------------- */

/* store_gc() that also says how many bytes it freed. */
int store_gc_freed(store *s, uint64_t *freed, error **err);

/* Like `docker image prune`: removes the index.json entries of dangling
 * images (no name) or, with all, of every image, except images a
 * container was created from; reports each "untagged" name and each
 * "deleted" image ID (when no entry is left for it).  Does not collect
 * blobs: store_gc_freed() afterwards. */
int store_prune_images(store *s, int all, store_report_fn *report, void *arg, error **err);
/* Removes build cache entries: the dangling ones (whose layer no image
 * has) or, with all, every one; *n entries, *freed bytes of entries.
 * Layers a running build pinned stay (store_scratch_dir). */
int store_prune_cache(store *s, int all, size_t *n, uint64_t *freed, error **err);
/* Removes the scratch dirs of killed commands from tmp/; *freed bytes. */
int store_prune_leftovers(store *s, uint64_t *freed, error **err);

/* One row of `system df`. */
struct store_df_row {
	size_t total, active;
	uint64_t size, reclaimable;
};
/* Images: distinct image IDs; active: a container was made from it; size:
 * their blobs, each counted once; reclaimable: the blobs no active image,
 * container or running build holds.  Build cache: entries; active: its
 * layer is pinned by a running build; size: cache layers no image has;
 * reclaimable: of those, what no container or running build holds. */
int store_df(store *s, struct store_df_row *images, struct store_df_row *cache, error **err);

/* Bytes of the regular files under path (symlinks not followed). */
uint64_t store_tree_size(const char *path);

enum store_fsck_state {
	STORE_FSCK_FOUND,    /* reported only: no --repair, or no safe fix (fix NULL) */
	STORE_FSCK_REPAIRED, /* the fix was made */
	STORE_FSCK_FAILED,   /* the fix was tried and failed; problem says why */
};

struct store_fsck_problem {
	const char *path;    /* relative to the root: "blobs/sha256/<hex>", "index.json" ... */
	const char *problem; /* what is wrong (and what the user can do) */
	const char *fix;     /* what --repair does ("remove it"), NULL: nothing safe */
	enum store_fsck_state state;
};
typedef void store_fsck_fn(void *arg, const struct store_fsck_problem *p);

struct store_fsck_counts {
	size_t problems; /* every problem reported */
	size_t repaired; /* of which fixed */
	size_t left;	 /* of which still there */
};

/* Checks the whole store, reporting each problem through report:
 *  - every blob hashes to its name (and has its descriptor's size);
 *  - every index.json entry's manifest, config and layers are there and
 *    sound: a broken image is reported by name, and --repair drops its
 *    entry (saying so: it must be pulled, loaded or built again);
 *  - layer indexes of the layers in use open and validate (fs/index.h)
 *    and match their blob: --repair rebuilds them from the layer,
 *    checking its diff_id; a corrupt index nothing uses is removed;
 *  - build cache entries parse and their layer is there (--repair removes
 *    the entry otherwise: the step is made again);
 *  - container records parse and their layers are there (reported only:
 *    the user removes the container);
 *  - corrupt blobs are removed by --repair (their bytes are wrong anyway:
 *    a pull or load fetches them again);
 *  - temp files and tmp/ scratch dirs left by killed commands (owner pid
 *    gone, lock free, or an hour old for names without an owner) are
 *    removed by --repair.
 * Runs under the shared lock, with repair under the exclusive one.
 * Returns 0 with *counts filled (problems == 0: the store is sound), or
 * -1 when the store cannot be read at all. */
int store_fsck(store *s, int repair, store_fsck_fn *report, void *arg,
	       struct store_fsck_counts *counts, error **err);

#endif
