/* store_maint — checking and repairing the store (fsck), what it holds
 * (df) and pruning.  See store.h for the contracts; store_i.h for what is
 * shared with store.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "index.h"
#include "store.h"
#include "store_i.h"
#include "util.h"

#define LEFTOVER_AGE 3600 /* temp names without an owner pid count as left after this */

static void json_decref_p(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(json_decref_p)))

/* ---- helpers ------------------------------------------------------------------ */

/* 0 when dfd/hex hashes to hex, 1 when it does not (*got set), -errno. */
static int blob_verify(int dfd, const char *hex, char got[65], uint64_t *size)
{
	cleanup_fd int fd = openat(dfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	cleanup_free unsigned char *buf = lfs_xmalloc(1u << 20);
	ssize_t n;
	*size = 0;
	while ((n = read(fd, buf, 1u << 20)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			EVP_MD_CTX_free(md);
			return -e;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	static const char x[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		got[2 * i] = x[d[i] >> 4];
		got[2 * i + 1] = x[d[i] & 15];
	}
	got[64] = '\0';
	return strcmp(got, hex) ? 1 : 0;
}

static uint64_t file_size_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)st.st_size : 0;
}

/* Bytes of the files under dfd/name (not following symlinks). */
static uint64_t tree_size_at(int dfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode) || depth > 256)
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	uint64_t sum = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sum += tree_size_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	return sum;
}

uint64_t store_tree_size(const char *path)
{
	return tree_size_at(AT_FDCWD, path, 0);
}

static bool older_than(int dfd, const char *name, time_t age)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && time(NULL) - st.st_mtime > age;
}

/* A temp file a killed writer left: ".tmp-<pid>-..." whose pid is gone or
 * that is older than a day, or (lfs_layer_open's "<hex>.tmp.XXXXXX" and
 * commit's ".commit-XXXXXX", which carry no pid) older than an hour. */
static bool temp_leftover(int dfd, const char *name)
{
	if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
		return store_tmp_orphaned(name) || older_than(dfd, name, TMP_MAX_AGE);
	if (strstr(name, ".tmp.") || !strncmp(name, ".commit-", 8))
		return older_than(dfd, name, LEFTOVER_AGE);
	return false;
}

/* ---- fsck ------------------------------------------------------------------------ */

struct fsck {
	store *s;
	int repair;
	store_fsck_fn *report;
	void *arg;
	struct store_fsck_counts *c;
	struct hexset good;    /* blobs that hash to their names */
	struct hexset corrupt; /* blobs that do not */
	struct hexset idx_done;
};

/* Reports a problem whose fix (NULL: none is safe) is not attempted. */
static void fsck_found(struct fsck *f, const char *path, const char *fix, const char *problem)
{
	struct store_fsck_problem p = {path, problem, fix, STORE_FSCK_FOUND};
	f->c->problems++;
	f->c->left++;
	f->report(f->arg, &p);
}

/* Reports a problem after its fix ran; failed says why it did not work
 * (NULL: it did). */
static void fsck_fixed(struct fsck *f, const char *path, const char *fix, const char *problem,
		       const char *failed)
{
	cleanup_free char *why = NULL;
	if (failed)
		why = lfs_xasprintf("%s; repair failed: %s", problem, failed);
	struct store_fsck_problem p = {path, why ? why : problem, fix,
				       failed ? STORE_FSCK_FAILED : STORE_FSCK_REPAIRED};
	f->c->problems++;
	if (failed)
		f->c->left++;
	else
		f->c->repaired++;
	f->report(f->arg, &p);
}

/* A file or tree whose removal is the fix. */
static void fsck_remove(struct fsck *f, int dfd, const char *rel, const char *name,
			const char *problem)
{
	cleanup_free char *path = lfs_xasprintf("%s%s%s", rel, *rel ? "/" : "", name);
	if (!f->repair) {
		fsck_found(f, path, "remove it", problem);
		return;
	}
	store_rm_tree_at(dfd, name);
	struct stat st;
	bool still = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	fsck_fixed(f, path, "remove it", problem, still ? "it could not be removed" : NULL);
}

struct in_dir {
	struct fsck *f;
	const char *rel; /* the directory, relative to the root */
};

/* A temp file a killed writer left in the directory. */
static int fsck_temp_one(void *arg, int dfd, const char *name, error **err)
{
	struct in_dir *d = arg;
	if (temp_leftover(dfd, name))
		fsck_remove(d->f, dfd, d->rel, name,
			    "leftover temp file of a command that was killed");
	return 0;
}

static void fsck_temps(struct fsck *f, int dfd, const char *rel)
{
	struct in_dir d = {f, rel};
	error *e = NULL; /* an unreadable directory has no leftovers to report */
	store_scan_fd(dfd, rel, fsck_temp_one, &d, &e);
	error_free(e);
}

static int hash_blob_one(void *arg, int dfd, const char *name, error **err)
{
	struct fsck *f = arg;
	char got[65];
	uint64_t size;
	if (!store_is_hex64(name))
		return 0;
	int r = blob_verify(dfd, name, got, &size);
	if (r == 0)
		store_hexset_add(&f->good, name);
	else if (r > 0 || r == -EIO)
		store_hexset_add(&f->corrupt, name);
	return 0;
}

/* Hashes every blob, sorting them into good and corrupt. */
static int fsck_hash_blobs(struct fsck *f, error **err)
{
	if (store_scan_fd(f->s->blobs_fd, "blobs/sha256", hash_blob_one, f, err) < 0)
		return -1;
	store_hexset_sort(&f->good);
	store_hexset_sort(&f->corrupt);
	return 0;
}

/* Why the blob digest cannot be used, or NULL when it is good. */
static char *blob_problem(struct fsck *f, const char *digest, json_int_t size)
{
	const char *hex = store_digest_hex(digest);
	if (!hex)
		return lfs_xasprintf("invalid digest '%s'", digest ? digest : "(none)");
	if (store_hexset_has(&f->corrupt, hex))
		return lfs_xasprintf("blob %s is corrupt", digest);
	if (!store_hexset_has(&f->good, hex))
		return lfs_xasprintf("blob %s is missing", digest);
	uint64_t have = file_size_at(f->s->blobs_fd, hex);
	if (size > 0 && have != (uint64_t)size)
		return lfs_xasprintf("blob %s has %" PRIu64 " bytes, its descriptor says %" PRId64,
				     digest, have, (int64_t)size);
	return NULL;
}

/* Checks the index of a layer whose blob is good; rebuilds it on --repair. */
static void fsck_layer_index(struct fsck *f, const char *digest, const char *diff_id)
{
	const char *hex = store_digest_hex(diff_id);
	if (!hex || store_hexset_has(&f->idx_done, hex))
		return;
	store_hexset_add(&f->idx_done, hex);
	store_hexset_sort(&f->idx_done);
	cleanup_fd int fd = openat(f->s->idx_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	lfs_index *idx = NULL;
	int r = fd < 0 ? -errno : lfs_index_open(fd, &idx);
	cleanup_free char *problem = NULL;
	if (r == 0) {
		uint64_t have = file_size_at(f->s->blobs_fd, store_digest_hex(digest));
		uint64_t made = lfs_index_header(idx)->src_size;
		if (made != have)
			problem = lfs_xasprintf("the index of layer %s is stale (made for %" PRIu64
						" bytes, the blob has %" PRIu64 ")",
						digest, made, have);
		lfs_index_free(idx);
	} else if (r == -ENOENT) {
		problem = lfs_xasprintf("the index of layer %s is missing", digest);
	} else if (r == -ENOEXEC) {
		problem = lfs_xasprintf("the index of layer %s is from another version", digest);
	} else {
		problem = r == -EBADMSG ? lfs_xasprintf("the index of layer %s is corrupt (it "
							"fails its checksum or structure check)",
							digest)
					: lfs_xasprintf("the index of layer %s cannot be read (%s)",
							digest, strerror(-r));
	}
	if (!problem)
		return;
	cleanup_free char *path = lfs_xasprintf("indexes/sha256/%s", hex);
	static const char fix[] = "rebuild it from the layer";
	if (!f->repair) {
		fsck_found(f, path, fix, problem);
		return;
	}
	error *e = NULL;
	store_index_rebuild(f->s, digest, diff_id, &e);
	fsck_fixed(f, path, fix, problem, e ? e->msg : NULL);
	error_free(e);
}

/* Why an image entry is broken (NULL: it is whole); its layers' indexes
 * are checked on the way. */
static char *image_problem(struct fsck *f, json_t *desc, int depth)
{
	const char *mdig = store_desc_digest(desc);
	char *p = blob_problem(f, mdig, json_integer_value(json_object_get(desc, "size")));
	if (p)
		return p;
	cleanup_json json_t *man = NULL;
	error *e = NULL;
	if (store_blob_read_json(f->s, mdig, &man, NULL, &e) < 0) {
		p = lfs_xasprintf("manifest %s: %s", mdig, e->msg);
		error_free(e);
		return p;
	}
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(man, "manifests"), i, d)
	{
		if (depth > 8)
			return lfs_xasprintf("image indexes nested too deep at %s", mdig);
		if ((p = image_problem(f, d, depth + 1)))
			return p;
	}
	json_t *cd = json_object_get(man, "config");
	if (!cd)
		return NULL;
	if ((p = blob_problem(f, store_desc_digest(cd),
			      json_integer_value(json_object_get(cd, "size")))))
		return p;
	cleanup_json json_t *cfg = NULL;
	if (store_blob_read_json(f->s, store_desc_digest(cd), &cfg, NULL, &e) < 0) {
		p = lfs_xasprintf("config %s: %s", store_desc_digest(cd), e->msg);
		error_free(e);
		return p;
	}
	json_t *layers = json_object_get(man, "layers");
	json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (json_array_size(layers) != json_array_size(diff_ids))
		return lfs_xasprintf("manifest %s lists %zu layers, its config %zu diff_ids", mdig,
				     json_array_size(layers), json_array_size(diff_ids));
	json_array_foreach(layers, i, d)
	{
		if ((p = blob_problem(f, store_desc_digest(d),
				      json_integer_value(json_object_get(d, "size")))))
			return p;
	}
	json_array_foreach(layers, i, d) fsck_layer_index(
	    f, store_desc_digest(d), json_string_value(json_array_get(diff_ids, i)));
	return NULL;
}

struct broken {
	size_t pos;
	char *ref;
	char *why;
};

/* Entries of index.json whose image is broken: on --repair they are
 * dropped (one write of index.json), each with its own message. */
static int fsck_images(struct fsck *f, error **err)
{
	cleanup_json json_t *index = NULL;
	if (store_index_load(f->s, &index, err) < 0)
		return -1;
	json_t *manifests = json_object_get(index, "manifests");
	struct broken *b = NULL;
	size_t nb = 0, i;
	json_t *d;
	json_array_foreach(manifests, i, d)
	{
		char *why = image_problem(f, d, 0);
		if (!why)
			continue;
		b = lfs_xrealloc(b, (nb + 1) * sizeof(*b));
		const char *r = store_desc_ref(d);
		b[nb++] = (struct broken){
		    i, r ? lfs_xasprintf("'%s'", r) : lfs_xstrdup("(unnamed)"), why};
	}
	error *e = NULL;
	if (f->repair && nb) {
		for (size_t k = nb; k-- > 0;)
			json_array_remove(manifests, b[k].pos);
		store_index_save(f->s, index, &e);
	}
	static const char fix[] = "drop its entry from index.json (pull, load or build it again)";
	for (size_t k = 0; k < nb; k++) {
		cleanup_free char *problem = lfs_xasprintf("image %s (entry %zu) is broken: %s",
							   b[k].ref, b[k].pos + 1, b[k].why);
		if (f->repair)
			fsck_fixed(f, "index.json", fix, problem, e ? e->msg : NULL);
		else
			fsck_found(f, "index.json", fix, problem);
		free(b[k].ref);
		free(b[k].why);
	}
	error_free(e);
	free(b);
	return 0;
}

static void fsck_corrupt_blobs(struct fsck *f)
{
	for (size_t i = 0; i < f->corrupt.n; i++) {
		char got[65];
		uint64_t size;
		blob_verify(f->s->blobs_fd, f->corrupt.v[i], got, &size);
		cleanup_free char *problem = lfs_xasprintf(
		    "its contents (%" PRIu64 " bytes) hash to sha256:%.12s..., not to its name",
		    size, got);
		fsck_remove(f, f->s->blobs_fd, "blobs/sha256", f->corrupt.v[i], problem);
	}
}

/* A layer descriptor of a cache entry or container record. */
static char *layer_problem(struct fsck *f, json_t *l)
{
	const char *digest = json_string_value(json_object_get(l, "digest"));
	char *p = blob_problem(f, digest, json_integer_value(json_object_get(l, "size")));
	if (!p)
		fsck_layer_index(f, digest, json_string_value(json_object_get(l, "diff_id")));
	return p;
}

static int fsck_cache_one(void *arg, int dfd, const char *name, error **err)
{
	struct fsck *f = arg;
	cleanup_json json_t *e = NULL;
	fsck_temp_one(&(struct in_dir){f, "cache"}, dfd, name, err);
	if (!store_is_hex64(name))
		return 0;
	if (store_cache_read(dfd, name, &e) < 0) {
		fsck_remove(f, dfd, "cache", name,
			    "unreadable build cache entry (a rebuild makes it again)");
		return 0;
	}
	json_t *l = json_object_get(e, "layer");
	cleanup_free char *p = l ? layer_problem(f, l) : NULL;
	if (p) {
		cleanup_free char *problem =
		    lfs_xasprintf("build cache entry: %s (a rebuild makes the step again)", p);
		fsck_remove(f, dfd, "cache", name, problem);
	}
	return 0;
}

static void fsck_container(struct fsck *f, int dfd, const char *id)
{
	cleanup_free char *rel = lfs_xasprintf("containers/%s/config.json", id);
	cleanup_free char *path = lfs_xasprintf("%s/%s", store_root(f->s), rel);
	json_error_t je;
	cleanup_json json_t *c = json_load_file(path, 0, &je);
	if (!c) {
		if (access(path, F_OK) == 0 || errno != ENOENT) {
			cleanup_free char *p = lfs_xasprintf(
			    "unreadable container record (%s); remove the container with "
			    "'layerfs rm -f %.12s'",
			    je.text, id);
			fsck_found(f, rel, NULL, p);
		}
		return;
	}
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(c, "layers"), i, l)
	{
		cleanup_free char *p = layer_problem(f, l);
		if (!p)
			continue;
		cleanup_free char *problem =
		    lfs_xasprintf("container %.12s cannot start: its layer %s; remove it with "
				  "'layerfs rm -f %.12s'",
				  id, p, id);
		fsck_found(f, rel, NULL, problem);
	}
}

static int fsck_containers_one(void *arg, int dfd, const char *name, error **err)
{
	struct fsck *f = arg;
	if (store_is_hex64(name))
		fsck_container(f, dfd, name);
	else if (!strncmp(name, ".rm-", 4) ||
		 (!strncmp(name, ".new-", 5) && older_than(dfd, name, LEFTOVER_AGE)))
		fsck_remove(f, dfd, "containers", name,
			    "leftover of an interrupted container removal or creation");
	return 0;
}

/* An index no layer in use refers to: a corrupt one is removed. */
static int fsck_index_one(void *arg, int dfd, const char *name, error **err)
{
	struct fsck *f = arg;
	if (!store_is_hex64(name) || store_hexset_has(&f->idx_done, name))
		return 0;
	cleanup_fd int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	lfs_index *idx = NULL;
	int r = fd < 0 ? -errno : lfs_index_open(fd, &idx);
	lfs_index_free(idx);
	if (r == -EBADMSG || r == -ENOEXEC)
		fsck_remove(f, dfd, "indexes/sha256", name,
			    "corrupt or outdated index of a layer nothing uses");
	return 0;
}

/* tmp/name was left by a killed command: its lock is free, or it is an
 * hour-old dot-name (a scratch dir that was never finished). */
static bool scratch_leftover(int dfd, const char *name)
{
	return name[0] == '.' ? older_than(dfd, name, LEFTOVER_AGE)
			      : store_scratch_live(dfd, name) == 0;
}

static int fsck_scratch_one(void *arg, int dfd, const char *name, error **err)
{
	if (scratch_leftover(dfd, name))
		fsck_remove(arg, dfd, "tmp", name,
			    "leftover scratch directory of a command that was killed");
	return 0;
}

static int fsck_locked(struct fsck *f, error **err)
{
	if (fsck_hash_blobs(f, err) < 0)
		return -1;
	error *e = NULL;
	if (fsck_images(f, &e) < 0) {
		/* index.json itself: nothing else can be judged */
		fsck_found(f, "index.json", NULL, e->msg);
		error_free(e);
		return 0;
	}
	if (store_scan(f->s, "cache", fsck_cache_one, f, err) < 0 ||
	    store_scan(f->s, "containers", fsck_containers_one, f, err) < 0)
		return -1;
	fsck_corrupt_blobs(f);
	if (store_scan_fd(f->s->idx_fd, "indexes/sha256", fsck_index_one, f, err) < 0)
		return -1;
	fsck_temps(f, f->s->blobs_fd, "blobs/sha256");
	fsck_temps(f, f->s->idx_fd, "indexes/sha256");
	fsck_temps(f, f->s->root_fd, "");
	return store_scan(f->s, "tmp", fsck_scratch_one, f, err);
}

int store_fsck(store *s, int repair, store_fsck_fn *report, void *arg,
	       struct store_fsck_counts *counts, error **err)
{
	memset(counts, 0, sizeof(*counts));
	struct fsck f = {.s = s, .repair = repair, .report = report, .arg = arg, .c = counts};
	int saved;
	if (store_lock_push(s, repair ? LOCK_EXCL : LOCK_SHARED, &saved, err) < 0)
		return -1;
	int ret = fsck_locked(&f, err);
	store_lock_pop(s, saved);
	store_hexset_release(&f.good);
	store_hexset_release(&f.corrupt);
	store_hexset_release(&f.idx_done);
	return ret;
}

/* ---- prune ---------------------------------------------------------------------- */

static int image_id_one(void *arg, int dfd, const char *name, error **err)
{
	if (!store_is_hex64(name))
		return 0;
	cleanup_free char *path = lfs_xasprintf("%s/config.json", name);
	cleanup_fd int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_json json_t *c = fd >= 0 ? json_loadfd(fd, 0, NULL) : NULL;
	const char *id = store_digest_hex(json_string_value(json_object_get(c, "image_id")));
	if (id)
		store_hexset_add(arg, id);
	return 0;
}

/* The image IDs container records were made from ("image_id"). */
static int container_image_ids(store *s, struct hexset *ids, error **err)
{
	int r = store_scan(s, "containers", image_id_one, ids, err);
	store_hexset_sort(ids);
	return r;
}

/* The config digest of the image an index.json entry names, or NULL. */
static char *entry_image_id(store *s, json_t *desc)
{
	cleanup_json json_t *man = NULL;
	error *e = NULL;
	if (store_blob_read_json(s, store_desc_digest(desc), &man, NULL, &e) < 0) {
		error_free(e);
		return NULL;
	}
	const char *cd = store_desc_digest(json_object_get(man, "config"));
	return store_digest_hex(cd) ? lfs_xstrdup(cd) : NULL;
}

static bool entry_prunable(store *s, json_t *desc, int all, const struct hexset *used)
{
	if (!all && store_desc_ref(desc))
		return false;
	cleanup_free char *id = entry_image_id(s, desc);
	/* An entry that cannot be read is for fsck to judge, not prune. */
	return id && !store_hexset_has(used, id + 7);
}

static int prune_images_locked(store *s, int all, store_report_fn *report, void *arg, error **err)
{
	struct hexset used = {0};
	int ret = container_image_ids(s, &used, err);
	cleanup_json json_t *index = NULL;
	if (ret == 0)
		ret = store_index_load(s, &index, err);
	if (ret < 0) {
		store_hexset_release(&used);
		return -1;
	}
	json_t *manifests = json_object_get(index, "manifests");
	cleanup_json json_t *gone = json_array();
	for (size_t i = json_array_size(manifests); i-- > 0;) {
		json_t *d = json_array_get(manifests, i);
		if (!entry_prunable(s, d, all, &used))
			continue;
		json_array_insert(gone, 0, d);
		json_array_remove(manifests, i);
	}
	store_hexset_release(&used);
	if (!json_array_size(gone))
		return 0;
	if (store_index_save(s, index, err) < 0)
		return -1;
	size_t i;
	json_t *d;
	json_array_foreach(gone, i, d) if (store_desc_ref(d))
	    report(arg, "untagged", store_desc_ref(d));
	/* An image is deleted when no entry left names its manifest. */
	cleanup_json json_t *said = json_object();
	json_array_foreach(gone, i, d)
	{
		const char *md = store_desc_digest(d);
		size_t j;
		json_t *k;
		bool kept = false;
		json_array_foreach(manifests, j, k) kept |= !strcmp(store_desc_digest(k), md);
		cleanup_free char *id = entry_image_id(s, d);
		if (kept || !id || json_object_get(said, id))
			continue;
		json_object_set_new(said, id, json_true());
		report(arg, "deleted", id);
	}
	return 0;
}

int store_prune_images(store *s, int all, store_report_fn *report, void *arg, error **err)
{
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = prune_images_locked(s, all, report, arg, err);
	store_lock_pop(s, saved);
	return ret;
}

struct prune_cache {
	int all;
	struct store_marks img; /* with !all: the images' layers */
	size_t *n;
	uint64_t *freed;
};

static int prune_cache_one(void *arg, int dfd, const char *name, error **err)
{
	struct prune_cache *p = arg;
	cleanup_json json_t *e = NULL;
	if (!store_is_hex64(name))
		return 0;
	const char *l = NULL;
	if (store_cache_read(dfd, name, &e) == 0)
		l = store_digest_hex(
		    json_string_value(json_object_get(json_object_get(e, "layer"), "digest")));
	/* Dangling: its layer is no image's (a metadata step's entry only
	 * keeps a time, and goes with -a). */
	if (!p->all && (!l || store_hexset_has(&p->img.blobs, l)))
		return 0;
	uint64_t size = file_size_at(dfd, name);
	if (unlinkat(dfd, name, 0) == 0) {
		*p->freed += size;
		++*p->n;
	}
	return 0;
}

static int prune_cache_locked(store *s, int all, size_t *n, uint64_t *freed, error **err)
{
	struct prune_cache p = {all, {{0}}, n, freed};
	int ret = all ? 0 : store_mark_images(s, &p.img, err);
	if (ret < 0)
		error_wrap(err, "not pruning the build cache");
	store_marks_sort(&p.img);
	if (ret == 0)
		ret = store_scan(s, "cache", prune_cache_one, &p, err);
	store_marks_release(&p.img);
	return ret;
}

int store_prune_cache(store *s, int all, size_t *n, uint64_t *freed, error **err)
{
	int saved;
	*n = 0;
	*freed = 0;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = prune_cache_locked(s, all, n, freed, err);
	store_lock_pop(s, saved);
	return ret;
}

static int prune_leftover_one(void *arg, int dfd, const char *name, error **err)
{
	uint64_t *freed = arg;
	if (!scratch_leftover(dfd, name))
		return 0;
	*freed += tree_size_at(dfd, name, 0);
	store_rm_tree_at(dfd, name);
	return 0;
}

int store_prune_leftovers(store *s, uint64_t *freed, error **err)
{
	*freed = 0;
	return store_scan(s, "tmp", prune_leftover_one, freed, err);
}

/* ---- df ----------------------------------------------------------------------------- */

static uint64_t blobs_size(store *s, const struct hexset *h, const struct hexset *except)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < h->n; i++)
		if (!(i && !strcmp(h->v[i], h->v[i - 1])) &&
		    !(except && store_hexset_has(except, h->v[i])))
			sum += file_size_at(s->blobs_fd, h->v[i]);
	return sum;
}

/* Images: TOTAL distinct image IDs, ACTIVE those a container was made
 * from; SIZE their blobs counted once; RECLAIMABLE the blobs only
 * inactive images hold (not an active image, a container or a build). */
static int df_images(store *s, struct store_df_row *row, struct store_marks *all,
		     struct store_marks *keep, error **err)
{
	struct hexset used = {0}, ids = {0};
	cleanup_json json_t *index = NULL;
	int ret = container_image_ids(s, &used, err);
	if (ret == 0)
		ret = store_index_load(s, &index, err);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(index, "manifests"), i, d)
	{
		if (ret < 0)
			break;
		cleanup_free char *id = entry_image_id(s, d);
		if (!id || store_hexset_has(&ids, id + 7))
			continue;
		store_hexset_add(&ids, id + 7);
		store_hexset_sort(&ids);
		bool active = store_hexset_has(&used, id + 7);
		row->total++;
		row->active += active;
		struct store_marks *m = active ? keep : all;
		ret = store_mark_entry(s, d, m, err);
		if (ret == 0 && active)
			ret = store_mark_entry(s, d, all, err);
	}
	store_hexset_release(&used);
	store_hexset_release(&ids);
	return ret;
}

struct df_cache {
	struct store_df_row *row;
	struct store_marks *m;
	const struct store_marks *pins;
};

static int df_cache_one(void *arg, int dfd, const char *name, error **err)
{
	struct df_cache *c = arg;
	cleanup_json json_t *e = NULL;
	if (!store_is_hex64(name))
		return 0;
	c->row->total++;
	if (store_cache_read(dfd, name, &e) < 0)
		return 0;
	const char *l = store_digest_hex(
	    json_string_value(json_object_get(json_object_get(e, "layer"), "digest")));
	if (l) {
		store_hexset_add(&c->m->blobs, l);
		c->row->active += store_hexset_has(&c->pins->blobs, l);
	}
	return 0;
}

/* Build cache: TOTAL entries, ACTIVE those a running build uses (pins,
 * sorted); their layers go to m. */
static int df_cache_entries(store *s, struct store_df_row *row, struct store_marks *m,
			    const struct store_marks *pins, error **err)
{
	struct df_cache c = {row, m, pins};
	return store_scan(s, "cache", df_cache_one, &c, err);
}

int store_df(store *s, struct store_df_row *images, struct store_df_row *cache, error **err)
{
	memset(images, 0, sizeof(*images));
	memset(cache, 0, sizeof(*cache));
	int saved;
	if (store_lock_push(s, LOCK_SHARED, &saved, err) < 0)
		return -1;
	struct store_marks img = {0}, keep = {0}, cch = {0}, pins = {0};
	int ret = store_mark_pins(s, &pins, err);
	store_marks_sort(&pins);
	if (ret == 0)
		ret = df_images(s, images, &img, &keep, err);
	if (ret == 0)
		ret = store_mark_containers(s, &keep, err);
	if (ret == 0)
		ret = df_cache_entries(s, cache, &cch, &pins, err);
	for (size_t i = 0; i < pins.blobs.n; i++)
		store_hexset_add(&keep.blobs, pins.blobs.v[i]);
	store_marks_sort(&img);
	store_marks_sort(&keep);
	store_marks_sort(&cch);
	if (ret == 0) {
		images->size = blobs_size(s, &img.blobs, NULL);
		images->reclaimable = blobs_size(s, &img.blobs, &keep.blobs);
		cache->size = blobs_size(s, &cch.blobs, &img.blobs);
		for (size_t i = 0; i < keep.blobs.n; i++)
			store_hexset_add(&img.blobs, keep.blobs.v[i]);
		store_hexset_sort(&img.blobs);
		cache->reclaimable = blobs_size(s, &cch.blobs, &img.blobs);
	}
	store_lock_pop(s, saved);
	store_marks_release(&img);
	store_marks_release(&keep);
	store_marks_release(&cch);
	store_marks_release(&pins);
	return ret;
}
