/* check_store — the image store: layout, import (staging + commit), resolve,
 * tag, remove, garbage collection, and failed imports leaving no trace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/time.h>
#include <time.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "testlib.h"

#include "buf.h"
#include "index.h"
#include "lfs_limits.h"
#include "store.h"

static store *st;

/* A failed call returns < 0 and sets err with that errno code. */
#define expect_fail(call, err_, want_)                                                             \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		ck_assert_int_lt(r_, 0);                                                           \
		ck_assert_ptr_nonnull(err_);                                                       \
		ck_assert_int_eq((err_)->code, (want_));                                           \
	} while (0)
static char *root;

static void setup(void)
{
	t_setup();
	root = NULL;
	ck_assert_int_ge(asprintf(&root, "%s/store", t_dir), 0);
	error *err = NULL;
	int ret = store_open_at(root, &st, &err);
	ck_assert_msg(ret == 0, "store_open_at: %s", err ? err->msg : "");
}

static void teardown(void)
{
	store_free(st);
	free(root);
	t_teardown();
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "open %s", path);
	lfs_buf b = LFS_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		lfs_buf_add(&b, chunk, n);
	fclose(f);
	return lfs_buf_detach(&b, len);
}

static char *file_sha256(const char *path)
{
	size_t len;
	char *data = slurp(path, &len);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	free(data);
	lfs_buf b = LFS_BUF_INIT;
	lfs_buf_addstr(&b, "sha256:");
	for (unsigned i = 0; i < n; i++)
		lfs_buf_addf(&b, "%02x", md[i]);
	return lfs_buf_detach(&b, NULL);
}

/* Stages the tar at path and commits it as ref; returns the image ID. */
static char *import_path(const char *path, const char *ref, const char *comment)
{
	error *err = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	store_staged_layer *l = NULL;
	int ret = store_layer_stage(st, fd, path, &l, &err);
	close(fd);
	ck_assert_msg(ret == 0, "stage %s: %s", path, err ? err->msg : "");
	json_t *cfg = json_pack("{s:s, s:s, s:s, s:{}}", "architecture", "amd64", "os", "linux",
				"created", "2023-11-14T22:13:20Z", "config");
	if (comment)
		json_object_set_new(cfg, "comment", json_string(comment));
	char *id = NULL;
	ret = store_image_commit(st, ref, cfg, &l, 1, &id, &err);
	ck_assert_msg(ret == 0, "commit %s: %s", ref, err ? err->msg : "");
	store_staged_layer_free(l);
	json_decref(cfg);
	return id;
}

static const struct tmember base_members[] = {
    {'d', "etc", 0, NULL, 0, 0, NULL},
    {'f', "etc/motd", 0, "hello\n", 0, 0, NULL},
    {'h', "etc/motd2", 0, "etc/motd", 0, 0, NULL},
    {'l', "bin", 0, "usr/bin", 0, 0, NULL},
    {'d', "usr/bin", 0, NULL, 0, 0, NULL},
    {'f', "usr/bin/tool", 0755, "#!/bin/sh\necho tool\n", 0, 0, NULL},
};

static char *base_tar(void)
{
	return t_tar(base_members, sizeof(base_members) / sizeof(base_members[0]));
}

static struct store_image *resolve_ok(const char *name)
{
	struct store_image *img = NULL;
	error *err = NULL;
	int ret = store_image_resolve(st, name, &img, &err);
	ck_assert_msg(ret == 0, "resolve %s: %s", name, err ? err->msg : "");
	return img;
}

static int resolve_err(const char *name, char **msg)
{
	struct store_image *img = NULL;
	error *err = NULL;
	int ret = store_image_resolve(st, name, &img, &err);
	ck_assert_int_lt(ret, 0);
	ret = -err->code;
	ck_assert_ptr_null(img);
	ck_assert_ptr_nonnull(err);
	if (msg)
		*msg = strdup(err->msg);
	error_free(err);
	return ret;
}

/* ---- a recursive listing of the store: names, types, sizes, contents ---- */

static lfs_buf snap;
static size_t snap_root_len;

static int snap_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	lfs_buf_addf(&snap, "%s %o %lld", p + snap_root_len, (unsigned)sb->st_mode,
		     (long long)sb->st_size);
	if (S_ISREG(sb->st_mode)) {
		size_t len;
		char *data = slurp(p, &len);
		lfs_buf_addf(&snap, " crc=%08lx", crc32(0, (const Bytef *)data, (uInt)len));
		free(data);
	}
	lfs_buf_addch(&snap, '\n');
	return 0;
}

static char *store_snapshot(void)
{
	lfs_buf_init(&snap, 0);
	snap_root_len = strlen(root);
	ck_assert_int_eq(nftw(root, snap_one, 16, FTW_PHYS), 0);
	return lfs_buf_detach(&snap, NULL);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_layout)
{
	char *p;
	size_t len;
	ck_assert_int_ge(asprintf(&p, "%s/oci-layout", root), 0);
	char *layout = slurp(p, &len);
	ck_assert_str_eq(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(layout);
	free(p);
	ck_assert_int_ge(asprintf(&p, "%s/index.json", root), 0);
	json_t *idx = json_load_file(p, 0, NULL);
	ck_assert_ptr_nonnull(idx);
	ck_assert_int_eq(json_integer_value(json_object_get(idx, "schemaVersion")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(idx, "mediaType")),
			 "application/vnd.oci.image.index.v1+json");
	ck_assert_int_eq(json_array_size(json_object_get(idx, "manifests")), 0);
	json_decref(idx);
	free(p);
	struct stat sb;
	ck_assert_int_ge(asprintf(&p, "%s/blobs/sha256", root), 0);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	free(p);
	ck_assert_str_eq(store_root(st), root);

	/* Reopening an existing store changes nothing. */
	char *before = store_snapshot();
	store *s2 = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_open_at(root, &s2, &err), 0);
	store_free(s2);
	char *after = store_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_refs)
{
	char *n = store_normalize_ref("app");
	ck_assert_str_eq(n, "app:latest");
	free(n);
	n = store_normalize_ref("app:1");
	ck_assert_str_eq(n, "app:1");
	free(n);
	n = store_normalize_ref("localhost:5000/x");
	ck_assert_str_eq(n, "localhost:5000/x:latest");
	free(n);
	n = store_normalize_ref("app@sha256:abcd");
	ck_assert_str_eq(n, "app@sha256:abcd");
	free(n);

	char *repo, *tag;
	store_ref_split("localhost:5000/x:2", &repo, &tag);
	ck_assert_str_eq(repo, "localhost:5000/x");
	ck_assert_str_eq(tag, "2");
	free(repo);
	free(tag);
	store_ref_split("localhost:5000/x", &repo, &tag);
	ck_assert_str_eq(repo, "localhost:5000/x");
	ck_assert_str_eq(tag, "<none>");
	free(repo);
	free(tag);

	static const char *const good[] = {"app",
					   "app:1",
					   "a/b/c:v1.2-rc_3",
					   "localhost:5000/x:2",
					   "registry.example.com/team/app",
					   "a__b",
					   "a-b.c"};
	static const char *const bad[] = {"",	  "App",	 "app:",    "app:-x", "/app",
					  "app/", "a@sha256:00", "app:x y", "a..b",   ":tag"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		error *err = NULL;
		ck_assert_msg(store_ref_check(good[i], &err) == 0, "%s: %s", good[i],
			      err ? err->msg : "");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error *err = NULL;
		ck_assert_msg(store_ref_check(bad[i], &err) < 0 && err->code == EINVAL,
			      "'%s' accepted", bad[i]);
		error_free(err);
	}
}
END_TEST

START_TEST(test_import_resolve)
{
	char *tar = base_tar();
	char *id = import_path(tar, "app:1", NULL);
	char *diff = file_sha256(tar);

	struct store_image *img = resolve_ok("app:1");
	ck_assert_str_eq(img->ref, "app:1");
	ck_assert_str_eq(img->config_digest, id);
	ck_assert_uint_eq(img->nlayers, 1);
	ck_assert_str_eq(img->layers[0].diff_id, diff);
	ck_assert_str_eq(img->layers[0].digest, diff);
	ck_assert_str_eq(img->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar");
	/* the blob is named by the digest of its bytes, and those are the tar's */
	char *blob_digest = file_sha256(img->layers[0].blob_path);
	ck_assert_str_eq(blob_digest, diff);
	free(blob_digest);
	/* config blob likewise, and it lists the diff_id */
	char *cpath;
	ck_assert_int_ge(asprintf(&cpath, "%s/blobs/sha256/%s", root, id + 7), 0);
	char *cd = file_sha256(cpath);
	ck_assert_str_eq(cd, id);
	free(cd);
	free(cpath);
	json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), diff);
	ck_assert_str_eq(json_string_value(json_object_get(img->manifest, "mediaType")),
			 "application/vnd.oci.image.manifest.v1+json");
	struct stat sb;
	ck_assert_int_eq(stat(img->layers[0].blob_path, &sb), 0);
	ck_assert_uint_eq(img->layers[0].size, (uint64_t)sb.st_size);
	ck_assert_uint_eq(store_image_size(img), (uint64_t)sb.st_size);
	ck_assert_int_eq(access(img->layers[0].index_path, R_OK), 0);

	/* the layers open through the index */
	lfs_layer **layers = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_image_open_layers(st, img, &layers, &err), 0);
	const lfs_index *ix = lfs_layer_index(layers[0]);
	uint32_t e = lfs_index_lookup(ix, "usr/bin/tool");
	ck_assert_uint_ne(e, LFS_INDEX_NONE);
	char buf[64];
	ssize_t n = lfs_layer_pread(layers[0], lfs_index_entry(ix, e), buf, sizeof(buf), 0);
	ck_assert_int_eq(n, 20);
	ck_assert(!memcmp(buf, "#!/bin/sh\necho tool\n", 20));
	store_layers_free(layers, img->nlayers);

	/* by ID: full, with and without sha256:, and a prefix; ref is NULL then */
	const char *names[] = {id, id + 7, "", ""};
	char prefix[13], sprefix[20];
	snprintf(prefix, sizeof(prefix), "%.12s", id + 7);
	snprintf(sprefix, sizeof(sprefix), "sha256:%.5s", id + 7);
	names[2] = prefix;
	names[3] = sprefix;
	for (size_t i = 0; i < 4; i++) {
		struct store_image *b = resolve_ok(names[i]);
		ck_assert_str_eq(b->config_digest, id);
		ck_assert_ptr_null(b->ref);
		store_image_free(b);
	}
	/* by NAME@manifest digest */
	char *at;
	ck_assert_int_ge(asprintf(&at, "app@%s", img->manifest_digest), 0);
	struct store_image *c = resolve_ok(at);
	ck_assert_str_eq(c->config_digest, id);
	store_image_free(c);
	free(at);

	/* "app" means app:latest, which does not exist; the error says what to do */
	char *msg = NULL;
	ck_assert_int_eq(resolve_err("app", &msg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(msg, "'app'"));
	ck_assert_ptr_nonnull(strstr(msg, "layerfs images"));
	free(msg);
	resolve_err("other:1", NULL);
	resolve_err("ffffffffffff", NULL);

	char *id2 = import_path(tar, "app", NULL);
	struct store_image *d = resolve_ok("app");
	ck_assert_str_eq(d->ref, "app:latest");
	store_image_free(d);
	free(id2);

	store_image_free(img);
	free(diff);
	free(id);
	free(tar);
}
END_TEST

/* Writes src gzip-compressed as two concatenated members. */
static char *gzip_two_members(const char *src)
{
	size_t len;
	char *data = slurp(src, &len);
	char *out;
	ck_assert_int_ge(asprintf(&out, "%s.gz", src), 0);
	FILE *f = fopen(out, "wb");
	size_t half = len / 2;
	for (int m = 0; m < 2; m++) {
		const char *p = m ? data + half : data;
		size_t n = m ? len - half : half;
		uLongf cap = compressBound((uLong)n) + 64;
		z_stream zs;
		memset(&zs, 0, sizeof(zs));
		ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
				 Z_OK);
		unsigned char *z = malloc(cap);
		zs.next_in = (Bytef *)p;
		zs.avail_in = (uInt)n;
		zs.next_out = z;
		zs.avail_out = (uInt)cap;
		ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
		fwrite(z, 1, cap - zs.avail_out, f);
		deflateEnd(&zs);
		free(z);
	}
	fclose(f);
	free(data);
	return out;
}

START_TEST(test_import_gzip)
{
	char *tar = base_tar();
	char *gz = gzip_two_members(tar);
	char *diff = file_sha256(tar);
	char *id = import_path(gz, "app:gz", NULL);
	struct store_image *img = resolve_ok("app:gz");
	/* stored uncompressed: the same diff_id as the plain tar */
	ck_assert_str_eq(img->layers[0].diff_id, diff);
	ck_assert_str_eq(img->layers[0].digest, diff);
	store_image_free(img);
	free(id);
	free(diff);
	free(gz);
	free(tar);
}
END_TEST

static lfs_buf reports;

static void report(void *arg, const char *verb, const char *what)
{
	lfs_buf_addf(&reports, "%s: %s\n", verb, what);
}

static size_t count_files(const char *sub)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", root, sub), 0);
	DIR *d = opendir(p);
	ck_assert_ptr_nonnull(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	free(p);
	return n;
}

START_TEST(test_tag_rmi_gc)
{
	char *tar = base_tar();
	char *id = import_path(tar, "app:1", NULL);
	error *err = NULL;
	ck_assert_int_eq(store_tag(st, "app:1", "app:2", &err), 0);
	ck_assert_int_eq(store_tag(st, id + 7, "localhost:5000/x:3", &err), 0);
	expect_fail(store_tag(st, "app:1", "Bad", &err), err, EINVAL);
	error_free(err);
	err = NULL;
	expect_fail(store_tag(st, "nope", "x", &err), err, ENOENT);
	error_free(err);
	err = NULL;

	struct store_image **imgs;
	size_t n;
	ck_assert_int_eq(store_image_list(st, &imgs, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(imgs[2]->ref, "localhost:5000/x:3");
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(imgs[i]->config_digest, id);
	store_image_list_free(imgs, n);
	ck_assert_uint_eq(count_files("blobs/sha256"), 3);

	/* by ID with several names: refused without force */
	lfs_buf_init(&reports, 0);
	expect_fail(store_remove(st, id, 0, report, NULL, &err), err, EBUSY);
	ck_assert_ptr_nonnull(strstr(err->msg, "must be forced"));
	error_free(err);
	err = NULL;
	/* by name: untag only */
	ck_assert_int_eq(store_remove(st, "app:2", 0, report, NULL, &err), 0);
	ck_assert_str_eq(reports.data, "Untagged: app:2\n");
	ck_assert_int_eq(store_gc(st, &err), 0);
	ck_assert_uint_eq(count_files("blobs/sha256"), 3);
	ck_assert_uint_eq(count_files("indexes/sha256"), 1);
	/* by ID, forced: every name, then Deleted */
	lfs_buf_reset(&reports);
	ck_assert_int_eq(store_remove(st, id, 1, report, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(reports.data, "Untagged: app:1\n"));
	ck_assert_ptr_nonnull(strstr(reports.data, "Untagged: localhost:5000/x:3\n"));
	char *del = NULL;
	ck_assert_int_ge(asprintf(&del, "Deleted: %s\n", id), 0);
	ck_assert_ptr_nonnull(strstr(reports.data, del));
	free(del);
	lfs_buf_release(&reports);
	expect_fail(store_remove(st, "app:1", 0, report, NULL, &err), err, ENOENT);
	error_free(err);
	err = NULL;
	/* GC: nothing referenced, nothing left */
	ck_assert_int_eq(store_gc(st, &err), 0);
	ck_assert_uint_eq(count_files("blobs/sha256"), 0);
	ck_assert_uint_eq(count_files("indexes/sha256"), 0);
	free(id);
	free(tar);
}
END_TEST

START_TEST(test_replace_collects_old)
{
	static const struct tmember a[] = {{'f', "a", 0, "one", 0, 0, NULL}};
	static const struct tmember b[] = {{'f', "b", 0, "two", 0, 0, NULL}};
	char *ta = t_tar(a, 1), *tb = t_tar(b, 1);
	char *id1 = import_path(ta, "app:1", NULL);
	char *id2 = import_path(tb, "app:1", NULL);
	ck_assert_str_ne(id1, id2);
	struct store_image *img = resolve_ok("app:1");
	ck_assert_str_eq(img->config_digest, id2);
	store_image_free(img);
	/* the replaced image was not referenced by anything: collected */
	ck_assert_uint_eq(count_files("blobs/sha256"), 3);
	ck_assert_uint_eq(count_files("indexes/sha256"), 1);
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/index.json", root), 0);
	json_t *idx = json_load_file(p, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(idx, "manifests")), 1);
	json_decref(idx);
	free(p);
	free(id1);
	free(id2);
	free(ta);
	free(tb);
}
END_TEST

START_TEST(test_ambiguous_prefix)
{
	/* 17 images: two IDs must share their first hex digit. */
	char *ids[17];
	static const struct tmember a[] = {{'f', "a", 0, "one", 0, 0, NULL}};
	char *ta = t_tar(a, 1);
	for (int i = 0; i < 17; i++) {
		char ref[16], c[16];
		snprintf(ref, sizeof(ref), "img:%d", i);
		snprintf(c, sizeof(c), "c%d", i);
		ids[i] = import_path(ta, ref, c);
	}
	int x = -1;
	for (int i = 0; i < 17 && x < 0; i++)
		for (int j = i + 1; j < 17 && x < 0; j++)
			if (ids[i][7] == ids[j][7])
				x = i;
	ck_assert_int_ge(x, 0);
	char pre[2] = {ids[x][7], 0};
	char *msg = NULL;
	ck_assert_int_eq(resolve_err(pre, &msg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "ambiguous"));
	free(msg);
	struct store_image *img = resolve_ok(ids[x] + 7);
	ck_assert_str_eq(img->config_digest, ids[x]);
	store_image_free(img);
	for (int i = 0; i < 17; i++)
		free(ids[i]);
	free(ta);
}
END_TEST

/* Stages path and expects failure with a message containing want; the
 * store must be byte-identical afterwards. */
static void import_fails(const char *path, const char *want)
{
	char *before = store_snapshot();
	error *err = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	store_staged_layer *l = NULL;
	int ret = store_layer_stage(st, fd, path, &l, &err);
	close(fd);
	ck_assert_int_lt(ret, 0);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(err->msg, want) != NULL, "message '%s' lacks '%s'", err->msg, want);
	ck_assert_msg(strstr(err->msg, path) != NULL, "message '%s' lacks the file", err->msg);
	error_free(err);
	char *after = store_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}

START_TEST(test_failed_imports_leave_store_alone)
{
	char *tar = base_tar();
	char *id = import_path(tar, "app:1", NULL);

	/* a member escaping the root */
	static const struct tmember evil[] = {{'f', "ok", 0, "fine", 0, 0, NULL},
					      {'f', "../x", 0, "evil", 0, 0, NULL}};
	char *te = t_tar(evil, 2);
	import_fails(te, "../x");

	/* a hard link to nothing */
	static const struct tmember dangling[] = {{'h', "link", 0, "missing", 0, 0, NULL}};
	char *td = t_tar(dangling, 1);
	import_fails(td, "link");

	/* truncated in the middle of a member's data */
	static const struct tmember big[] = {
	    {'f', "big", 0,
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789"
	     "0123456789012345678901234567890123456789012345678901234567890123456789",
	     0, 0, NULL}};
	char *tt = t_tar(big, 1);
	struct stat sb;
	ck_assert_int_eq(stat(tt, &sb), 0);
	ck_assert_int_eq(truncate(tt, 1024 + 100), 0);
	import_fails(tt, "truncated");

	/* a truncated gzip stream */
	char *gz = gzip_two_members(tar);
	ck_assert_int_eq(stat(gz, &sb), 0);
	ck_assert_int_eq(truncate(gz, sb.st_size - 20), 0);
	import_fails(gz, "truncated");

	/* empty input, and another compressor */
	char *empty, *xz;
	ck_assert_int_ge(asprintf(&empty, "%s/empty.tar", t_dir), 0);
	ck_assert_int_ge(asprintf(&xz, "%s/x.tar.xz", t_dir), 0);
	FILE *f = fopen(empty, "w");
	fclose(f);
	f = fopen(xz, "w");
	fwrite("\xfd"
	       "7zXZ\0\0\0\0\0",
	       1, 10, f);
	fclose(f);
	import_fails(empty, "empty");
	import_fails(xz, "xz");

	/* the store still works */
	struct store_image *img = resolve_ok("app:1");
	ck_assert_str_eq(img->config_digest, id);
	store_image_free(img);
	free(empty);
	free(xz);
	free(gz);
	free(tt);
	free(td);
	free(te);
	free(id);
	free(tar);
}
END_TEST

START_TEST(test_gc_temp_files)
{
	char *old, *fresh;
	ck_assert_int_ge(asprintf(&old, "%s/blobs/sha256/.tmp-1-deadbeef", root), 0);
	ck_assert_int_ge(asprintf(&fresh, "%s/blobs/sha256/.tmp-2-deadbeef", root), 0);
	fclose(fopen(old, "w"));
	fclose(fopen(fresh, "w"));
	struct timeval tv[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
	ck_assert_int_eq(utimes(old, tv), 0);
	error *err = NULL;
	ck_assert_int_eq(store_gc(st, &err), 0);
	ck_assert_int_ne(access(old, F_OK), 0);
	ck_assert_int_eq(access(fresh, F_OK), 0);
	free(old);
	free(fresh);
}
END_TEST

START_TEST(test_gc_refuses_when_unreadable)
{
	char *tar = base_tar();
	char *id = import_path(tar, "app:1", NULL);
	/* a broken config blob: GC must not delete the layer it cannot see */
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/blobs/sha256/%s", root, id + 7), 0);
	FILE *f = fopen(p, "w");
	fputs("{}", f);
	fclose(f);
	char *before = store_snapshot();
	error *err = NULL;
	ck_assert_int_lt(store_gc(st, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "app:1"));
	error_free(err);
	char *after = store_snapshot();
	ck_assert_str_eq(before, after);
	/* and resolving reports the corruption */
	char *msg = NULL;
	resolve_err("app:1", &msg);
	ck_assert_ptr_nonnull(strstr(msg, "corrupt"));
	free(msg);
	free(before);
	free(after);
	free(p);
	free(id);
	free(tar);
}
END_TEST

static void no_report(void *arg, const char *verb, const char *what)
{
}

/* A container's record names the layers it runs on; one whose config
 * cannot be read stops GC (its layers are unknown), while a usable one
 * keeps its layers after its image is gone. */
START_TEST(test_gc_keeps_container_layers)
{
	char *tar = base_tar();
	char *id = import_path(tar, "app:1", NULL);
	struct store_image *img = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_image_resolve(st, "app:1", &img, &err), 0);
	char *dir, *cfg, *blob;
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	ck_assert_int_ge(asprintf(&dir, "%s/containers/%s", root, hex), 0);
	ck_assert_int_ge(asprintf(&cfg, "%s/config.json", dir), 0);
	ck_assert_int_ge(asprintf(&blob, "%s", img->layers[0].blob_path), 0);
	char *parent = strndup(dir, strrchr(dir, '/') - dir);
	ck_assert_int_eq(mkdir(parent, 0700), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	FILE *f = fopen(cfg, "w");
	fputs("{\"layers\": [", f); /* cut short */
	fclose(f);
	ck_assert_int_eq(store_remove(st, "app:1", 0, no_report, NULL, &err), 0);
	ck_assert_int_lt(store_gc(st, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "config.json"));
	error_free(err);
	err = NULL;
	ck_assert_int_eq(access(blob, F_OK), 0);
	f = fopen(cfg, "w");
	fprintf(f, "{\"layers\": [{\"digest\": \"%s\", \"diff_id\": \"%s\"}]}",
		img->layers[0].digest, img->layers[0].diff_id);
	fclose(f);
	ck_assert_int_eq(store_gc(st, &err), 0);
	ck_assert_int_eq(access(blob, F_OK), 0); /* the container keeps it */
	ck_assert_int_eq(unlink(cfg), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(store_gc(st, &err), 0);
	ck_assert_int_ne(access(blob, F_OK), 0); /* nothing keeps it now */
	store_image_free(img);
	free(parent);
	free(dir);
	free(cfg);
	free(blob);
	free(id);
	free(tar);
}
END_TEST

START_TEST(test_file_index_path)
{
	char *tar = base_tar();
	error *err = NULL;
	char *a = store_file_index_path(st, tar, &err);
	char *b = store_file_index_path(st, tar, &err);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a, b);
	char *dir;
	ck_assert_int_ge(asprintf(&dir, "%s/indexes/files/", root), 0);
	ck_assert_int_eq(strncmp(a, dir, strlen(dir)), 0);
	ck_assert_uint_eq(strlen(a), strlen(dir) + 64);
	char *other = t_tar(base_members, 1);
	char *c = store_file_index_path(st, other, &err);
	ck_assert_str_ne(a, c);
	ck_assert_ptr_null(store_file_index_path(st, "/nonexistent/x.tar", &err));
	error_free(err);
	free(a);
	free(b);
	free(c);
	free(dir);
	free(other);
	free(tar);
}
END_TEST

/* LFS_LAYERS_MAX: an image of that many layers opens, one more is refused
 * naming the limit, when opened and when recorded (the store unchanged). */
START_TEST(test_layers_limit)
{
	char *tar = base_tar();
	free(import_path(tar, "app:1", NULL));
	struct store_image *img = resolve_ok("app:1");
	struct store_layer *ls = calloc(LFS_LAYERS_MAX + 1, sizeof(*ls));
	for (size_t i = 0; i <= LFS_LAYERS_MAX; i++)
		ls[i] = img->layers[0];
	lfs_layer **layers = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_layers_open(st, ls, LFS_LAYERS_MAX, "deep", &layers, &err), 0);
	store_layers_free(layers, LFS_LAYERS_MAX);
	layers = NULL;
	ck_assert_int_eq(store_layers_open(st, ls, LFS_LAYERS_MAX + 1, "deep", &layers, &err), -1);
	ck_assert_ptr_null(layers);
	ck_assert_msg(strstr(err->msg, "LFS_LAYERS_MAX") && strstr(err->msg, "126 layers") &&
			  strstr(err->msg, "deep"),
		      "%s", err->msg);
	error_free(err);
	err = NULL;

	char *before = store_snapshot();
	store_staged_layer **staged = calloc(LFS_LAYERS_MAX + 1, sizeof(*staged));
	char *id = NULL;
	ck_assert_int_eq(
	    store_image_commit(st, "deep:1", img->config, staged, LFS_LAYERS_MAX + 1, &id, &err),
	    -1);
	ck_assert_msg(strstr(err->msg, "LFS_LAYERS_MAX"), "%s", err->msg);
	char *after = store_snapshot();
	ck_assert_str_eq(before, after);
	error_free(err);
	free(before);
	free(after);
	free(staged);
	free(ls);
	store_image_free(img);
	free(tar);
}
END_TEST

START_TEST(test_lock)
{
	error *err = NULL;
	ck_assert_int_eq(store_lock(st, 0, &err), 0);
	/* another open file description cannot take it exclusively now */
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/.lock", root), 0);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_lt(flock(fd, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(flock(fd, LOCK_SH | LOCK_NB), 0);
	flock(fd, LOCK_UN);
	/* resolve under a caller's shared lock keeps it held */
	char *tar = base_tar();
	store_unlock(st);
	char *id = import_path(tar, "app:1", NULL);
	ck_assert_int_eq(store_lock(st, 0, &err), 0);
	struct store_image *img = resolve_ok("app:1");
	store_image_free(img);
	ck_assert_int_lt(flock(fd, LOCK_EX | LOCK_NB), 0);
	store_unlock(st);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	free(p);
	free(id);
	free(tar);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_refs);
	tcase_add_test(tc, test_import_resolve);
	tcase_add_test(tc, test_import_gzip);
	tcase_add_test(tc, test_tag_rmi_gc);
	tcase_add_test(tc, test_replace_collects_old);
	tcase_add_test(tc, test_ambiguous_prefix);
	tcase_add_test(tc, test_failed_imports_leave_store_alone);
	tcase_add_test(tc, test_gc_temp_files);
	tcase_add_test(tc, test_gc_refuses_when_unreadable);
	tcase_add_test(tc, test_gc_keeps_container_layers);
	tcase_add_test(tc, test_file_index_path);
	tcase_add_test(tc, test_layers_limit);
	tcase_add_test(tc, test_lock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
