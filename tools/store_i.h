/* store_i — what store.c shares with store_maint.c (fsck, df, prune):
 * the handle, its locking and the readers of index.json and blobs.
 * Nothing outside the store module includes this. */
#ifndef LAYERFS_STORE_I_H
#define LAYERFS_STORE_I_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define REF_ANNOTATION "org.opencontainers.image.ref.name"
#define JSON_BLOB_MAX  (16u << 20) /* manifests and configs are small; refuse more */
#define TMP_PREFIX     ".tmp-"	   /* ".tmp-<pid>-<random>": temp files of a writer */
#define TMP_MAX_AGE    (24 * 3600)
#define SCRATCH_LOCK   ".lock" /* in tmp/<what>-XXXXXX: flock held by its owner */
#define SCRATCH_PINS   "pins"  /* in tmp/<what>-XXXXXX: "digest diff_id" lines */

enum { LOCK_NONE, LOCK_SHARED, LOCK_EXCL };

struct store {
	char *root;    /* absolute, resolved */
	int root_fd;   /* the root directory */
	int blobs_fd;  /* blobs/sha256 */
	int idx_fd;    /* indexes/sha256 */
	int lock_fd;   /* <root>/.lock */
	int lock_mode; /* LOCK_NONE / LOCK_SHARED / LOCK_EXCL held by this handle */
	bool private_dirs;
	int pin_fd;	     /* tmp/<scratch>/pins (O_APPEND), or -1 */
	int scratch_lock_fd; /* flock held on tmp/<scratch>/.lock, or -1 */
};

/* Takes at least `mode` for the duration of one call; store_lock_pop
 * returns to what *saved says was held before. */
int store_lock_push(store *s, int mode, int *saved, error **err);
void store_lock_pop(store *s, int saved);

bool store_is_hex64(const char *h);
/* "sha256:<64 lowercase hex>" → pointer to the hex, else NULL. */
const char *store_digest_hex(const char *d);

/* index.json, loaded (with a "manifests" array) or saved atomically. */
int store_index_load(store *s, json_t **out, error **err);
int store_index_save(store *s, json_t *index, error **err);
/* Fields of a descriptor; NULL when absent. */
const char *store_desc_ref(json_t *desc);
const char *store_desc_digest(json_t *desc);
bool store_desc_is_index(json_t *desc);

/* Reads a JSON blob, checking that its bytes hash to its name. */
int store_blob_read_json(store *s, const char *digest, json_t **out, size_t *size, error **err);
/* Reads cache/<hex> from the cache directory dfd: 0, or -1 when it is
 * missing or not a JSON object. */
int store_cache_read(int dfd, const char *hex, json_t **out);

/* A set of hex names; store_hexset_sort() before store_hexset_has(). */
struct hexset {
	char (*v)[65];
	size_t n;
};
void store_hexset_add(struct hexset *h, const char *hex);
void store_hexset_sort(struct hexset *h);
bool store_hexset_has(const struct hexset *h, const char *hex);
void store_hexset_release(struct hexset *h);

/* What store_gc() keeps: the blobs and layer indexes referenced from
 * index.json, the build cache, container records and the pins of live
 * scratch directories; sorted.  Fails (naming the entry) when a
 * referenced manifest or config cannot be read. */
struct store_marks {
	struct hexset blobs, idx;
};
int store_mark(store *s, struct store_marks *m, error **err);
void store_marks_release(struct store_marks *m);
/* The parts of store_mark(), each adding to m (unsorted). */
int store_mark_images(store *s, struct store_marks *m, error **err);
/* The blobs and indexes of one index.json entry (desc). */
int store_mark_entry(store *s, json_t *desc, struct store_marks *m, error **err);
int store_mark_cache(store *s, struct store_marks *m, error **err);
int store_mark_containers(store *s, struct store_marks *m, error **err);
int store_mark_pins(store *s, struct store_marks *m, error **err);
void store_marks_sort(struct store_marks *m);

/* Rebuilds indexes/sha256/<diff_id hex> from the layer blob digest,
 * checking that the uncompressed stream hashes to diff_id (-EBADMSG naming
 * both otherwise).  The caller holds the exclusive lock. */
int store_index_rebuild(store *s, const char *digest, const char *diff_id, error **err);

/* Calls fn for every entry of the directory dfd (what names it in
 * messages) but "." and "..", until fn returns < 0 (which is returned). */
typedef int store_scan_fn(void *arg, int dfd, const char *name, error **err);
int store_scan_fd(int dfd, const char *what, store_scan_fn *fn, void *arg, error **err);
/* The same for <root>/name; a directory that does not exist is empty. */
int store_scan(store *s, const char *name, store_scan_fn *fn, void *arg, error **err);

/* Whether the temp file name (TMP_PREFIX "<pid>-...") belongs to a process
 * that is gone. */
bool store_tmp_orphaned(const char *name);
/* Whether tmp/<name> is a scratch dir whose owner still holds its lock:
 * 1 live, 0 not (owner gone, or no lock file), -1 on error. */
int store_scratch_live(int tmp_fd, const char *name);

#endif
