/* check_fsck — store_fsck on a temporary store damaged by the test: a
 * flipped byte in a blob, a missing manifest, corrupt and stale layer
 * indexes, bad cache entries and container records, and what killed
 * commands leave.  Each problem is reported with its path and fix, and
 * --repair leaves a store the next check finds clean, with the sound
 * images still whole (read back with jansson and the index API). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "testlib.h"

#include "buf.h"
#include "index.h"
#include "store.h"

static store *st;
static char *root;

/* What store_fsck reported. */
struct seen {
	char path[256];
	char problem[1024];
	int has_fix;
	enum store_fsck_state state;
};
static struct seen seen[32];
static size_t nseen;

static void collect(void *arg, const struct store_fsck_problem *p)
{
	ck_assert_uint_lt(nseen, 32);
	struct seen *s = &seen[nseen++];
	snprintf(s->path, sizeof(s->path), "%s", p->path);
	snprintf(s->problem, sizeof(s->problem), "%s", p->problem);
	s->has_fix = p->fix != NULL;
	s->state = p->state;
}

static struct store_fsck_counts run_fsck(int repair)
{
	struct store_fsck_counts c;
	error *err = NULL;
	nseen = 0;
	int ret = store_fsck(st, repair, collect, NULL, &c, &err);
	ck_assert_msg(ret == 0, "store_fsck: %s", err ? err->msg : "");
	ck_assert_uint_eq(c.problems, nseen);
	return c;
}

/* The report for path, or NULL. */
static const struct seen *seen_path(const char *path)
{
	for (size_t i = 0; i < nseen; i++)
		if (!strcmp(seen[i].path, path))
			return &seen[i];
	return NULL;
}

/* root/dir/name (dir "" for the root itself). */
static char *path_of(const char *dir, const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s%s%s", root, dir, *dir ? "/" : "", name), 0);
	return p;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	unsigned char c;
	ck_assert_int_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

static const struct tmember a_members[] = {
    {'d', "etc", 0, NULL, 0, 0, NULL},
    {'f', "etc/motd", 0, "hello from a\n", 0, 0, NULL},
};
static const struct tmember b_members[] = {
    {'d', "srv", 0, NULL, 0, 0, NULL},
    {'f', "srv/data", 0, "bee bee bee bee\n", 0, 0, NULL},
    {'f', "srv/more", 0, "more\n", 0, 0, NULL},
};

/* Imports a tar as ref; *layer gets its layer digest (caller frees). */
static void import(const struct tmember *m, size_t n, const char *ref, char **layer)
{
	char *tar = t_tar(m, n);
	error *err = NULL;
	int fd = open(tar, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	store_staged_layer *l = NULL;
	ck_assert_int_eq(store_layer_stage(st, fd, tar, &l, &err), 0);
	close(fd);
	*layer = strdup(store_staged_layer_digest(l));
	json_t *cfg =
	    json_pack("{s:s, s:s, s:{}}", "architecture", "amd64", "os", "linux", "config");
	char *id = NULL;
	int ret = store_image_commit(st, ref, cfg, &l, 1, &id, &err);
	ck_assert_msg(ret == 0, "commit: %s", err ? err->msg : "");
	store_staged_layer_free(l);
	json_decref(cfg);
	free(id);
	free(tar);
}

static char *layer_a, *layer_b;

static void setup(void)
{
	t_setup();
	ck_assert_int_ge(asprintf(&root, "%s/store", t_dir), 0);
	error *err = NULL;
	ck_assert_int_eq(store_open_at(root, &st, &err), 0);
	import(a_members, 2, "a:1", &layer_a);
	import(b_members, 3, "b:1", &layer_b);
}

static void teardown(void)
{
	store_free(st);
	free(root);
	free(layer_a);
	free(layer_b);
	t_teardown();
}

/* The ref names in index.json, read with jansson: "a:1 b:1". */
static char *refs(void)
{
	char *p = path_of("", "index.json");
	json_t *j = json_load_file(p, 0, NULL);
	ck_assert_ptr_nonnull(j);
	free(p);
	lfs_buf b = LFS_BUF_INIT;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "manifests"), i, d)
	{
		const char *r = json_string_value(json_object_get(
		    json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
		lfs_buf_addf(&b, "%s%s", b.len ? " " : "", r ? r : "-");
	}
	json_decref(j);
	return lfs_buf_detach(&b, NULL);
}

/* The image resolves and every layer opens. */
static void image_whole(const char *ref)
{
	struct store_image *img = NULL;
	error *err = NULL;
	ck_assert_msg(store_image_resolve(st, ref, &img, &err) == 0, "%s: %s", ref,
		      err ? err->msg : "");
	lfs_layer **ls = NULL;
	ck_assert_msg(store_image_open_layers(st, img, &ls, &err) == 0, "%s: %s", ref,
		      err ? err->msg : "");
	store_layers_free(ls, img->nlayers);
	store_image_free(img);
}

START_TEST(test_clean)
{
	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 0);
	c = run_fsck(1);
	ck_assert_uint_eq(c.problems, 0);
}
END_TEST

START_TEST(test_corrupt_layer_blob)
{
	char *blob = path_of("blobs/sha256", layer_b + 7);
	flip_byte(blob, 600);
	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 2);
	ck_assert_uint_eq(c.left, 2);
	char *rel = NULL;
	ck_assert_int_ge(asprintf(&rel, "blobs/sha256/%s", layer_b + 7), 0);
	const struct seen *s = seen_path(rel);
	ck_assert_ptr_nonnull(s);
	ck_assert(s->has_fix);
	ck_assert_ptr_nonnull(strstr(s->problem, "not to its name"));
	s = seen_path("index.json");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s->problem, "image 'b:1'"));
	ck_assert_ptr_nonnull(strstr(s->problem, layer_b));
	ck_assert_int_eq(s->state, STORE_FSCK_FOUND);
	/* Checking changed nothing. */
	char *r = refs();
	ck_assert_str_eq(r, "a:1 b:1");
	free(r);

	c = run_fsck(1);
	ck_assert_uint_eq(c.repaired, 2);
	ck_assert_uint_eq(c.left, 0);
	ck_assert_int_eq(access(blob, F_OK), -1);
	r = refs();
	ck_assert_str_eq(r, "a:1");
	free(r);
	image_whole("a:1");
	c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 0);
	free(rel);
	free(blob);
}
END_TEST

START_TEST(test_missing_manifest)
{
	struct store_image *img = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_image_resolve(st, "a:1", &img, &err), 0);
	char *m = path_of("blobs/sha256", img->manifest_digest + 7);
	store_image_free(img);
	ck_assert_int_eq(unlink(m), 0);
	/* gc refuses such a store ... */
	ck_assert_int_lt(store_gc(st, &err), 0);
	error_free(err);
	err = NULL;
	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 1);
	ck_assert_str_eq(seen[0].path, "index.json");
	ck_assert_ptr_nonnull(strstr(seen[0].problem, "image 'a:1'"));
	ck_assert_ptr_nonnull(strstr(seen[0].problem, "missing"));
	/* ... until --repair drops the dangling name, saying so. */
	c = run_fsck(1);
	ck_assert_uint_eq(c.repaired, 1);
	ck_assert_int_eq(seen[0].state, STORE_FSCK_REPAIRED);
	char *r = refs();
	ck_assert_str_eq(r, "b:1");
	free(r);
	ck_assert_int_eq(store_gc(st, &err), 0);
	image_whole("b:1");
	ck_assert_uint_eq(run_fsck(0).problems, 0);
	free(m);
}
END_TEST

START_TEST(test_corrupt_and_stale_index)
{
	char *ia = path_of("indexes/sha256", layer_a + 7);
	char *ib = path_of("indexes/sha256", layer_b + 7);
	/* b's index replaced by a's (sound, but made for another blob), then
	 * a byte of a's flipped. */
	FILE *f = fopen(ia, "rb");
	ck_assert_ptr_nonnull(f);
	static char buf[1 << 16];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	f = fopen(ib, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	flip_byte(ia, 70);

	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 2);
	char *rel = NULL;
	ck_assert_int_ge(asprintf(&rel, "indexes/sha256/%s", layer_a + 7), 0);
	const struct seen *s = seen_path(rel);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s->problem, "corrupt"));
	ck_assert(s->has_fix);
	free(rel);
	ck_assert_int_ge(asprintf(&rel, "indexes/sha256/%s", layer_b + 7), 0);
	s = seen_path(rel);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s->problem, "stale"));
	free(rel);

	c = run_fsck(1);
	ck_assert_uint_eq(c.repaired, 2);
	/* The rebuilt indexes describe their tars. */
	const char *want[] = {"srv/data", "srv/more"};
	int fd = open(ib, O_RDONLY | O_CLOEXEC);
	lfs_index *idx = NULL;
	ck_assert_int_eq(lfs_index_open(fd, &idx), 0);
	close(fd);
	for (size_t i = 0; i < 2; i++)
		ck_assert_uint_ne(lfs_index_lookup(idx, want[i]), LFS_INDEX_NONE);
	ck_assert_uint_eq(lfs_index_lookup(idx, "etc/motd"), LFS_INDEX_NONE);
	lfs_index_free(idx);
	fd = open(ia, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(lfs_index_open(fd, &idx), 0);
	close(fd);
	ck_assert_uint_ne(lfs_index_lookup(idx, "etc/motd"), LFS_INDEX_NONE);
	lfs_index_free(idx);
	ck_assert_uint_eq(run_fsck(0).problems, 0);
	free(ia);
	free(ib);
}
END_TEST

/* A pid that is certainly gone: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(p, NULL, 0), p);
	return p;
}

START_TEST(test_leftovers)
{
	char name[64];
	snprintf(name, sizeof(name), ".tmp-%ld-0000dead", (long)dead_pid());
	char *dead = path_of("blobs/sha256", name);
	write_file(dead, "partial");
	char *dead_idx = path_of("indexes/sha256", name);
	write_file(dead_idx, "partial");
	snprintf(name, sizeof(name), ".tmp-%ld-0000live", (long)getpid());
	char *live = path_of("blobs/sha256", name);
	write_file(live, "being written");
	char *killed = path_of("tmp", "build-killed");
	char *tmpdir = path_of("", "tmp");
	mkdir(tmpdir, 0700);
	ck_assert_int_eq(mkdir(killed, 0700), 0);
	/* A scratch dir whose owner (this handle) is alive is not a leftover. */
	char *scratch = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_scratch_dir(st, "build", &scratch, &err), 0);

	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 3);
	ck_assert_ptr_nonnull(seen_path("tmp/build-killed"));
	for (size_t i = 0; i < nseen; i++) {
		ck_assert_ptr_nonnull(strstr(seen[i].problem, "leftover"));
		ck_assert(seen[i].has_fix);
	}
	c = run_fsck(1);
	ck_assert_uint_eq(c.repaired, 3);
	ck_assert_int_eq(access(dead, F_OK), -1);
	ck_assert_int_eq(access(dead_idx, F_OK), -1);
	ck_assert_int_eq(access(killed, F_OK), -1);
	ck_assert_int_eq(access(live, F_OK), 0);
	ck_assert_int_eq(access(scratch, F_OK), 0);

	/* Once its owner is gone, the scratch dir is one. */
	store_free(st);
	ck_assert_int_eq(store_open_at(root, &st, &err), 0);
	c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 1);
	const char *base = strrchr(scratch, '/') + 1;
	char rel[128];
	snprintf(rel, sizeof(rel), "tmp/%s", base);
	ck_assert_ptr_nonnull(seen_path(rel));
	unlink(live);
	free(dead);
	free(dead_idx);
	free(live);
	free(killed);
	free(tmpdir);
	free(scratch);
}
END_TEST

START_TEST(test_cache_and_containers)
{
	/* A cache entry whose layer is gone, one that is not JSON, and one
	 * that is sound. */
	error *err = NULL;
	const char *k_gone = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *k_ok = "2222222222222222222222222222222222222222222222222222222222222222";
	const char *k_bad = "3333333333333333333333333333333333333333333333333333333333333333";
	const char *nolayer =
	    "sha256:4444444444444444444444444444444444444444444444444444444444444444";
	json_t *e = json_pack("{s:s, s:{s:s, s:s, s:s, s:i}}", "created", "2023-01-01T00:00:00Z",
			      "layer", "mediaType", STORE_MT_LAYER, "digest", nolayer, "diff_id",
			      nolayer, "size", 10);
	ck_assert_int_eq(store_cache_put(st, k_gone, e, NULL, &err), 0);
	json_decref(e);
	e = json_pack("{s:s, s:{s:s, s:s, s:s}}", "created", "2023-01-01T00:00:00Z", "layer",
		      "mediaType", STORE_MT_LAYER, "digest", layer_a, "diff_id", layer_a);
	ck_assert_int_eq(store_cache_put(st, k_ok, e, NULL, &err), 0);
	json_decref(e);
	char *bad = path_of("cache", k_bad);
	write_file(bad, "{not json");
	/* A container created from b:1, whose layer then went missing. */
	const char *cid = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd";
	char *cdir = path_of("containers", cid);
	char *cs = path_of("", "containers");
	mkdir(cs, 0700);
	ck_assert_int_eq(mkdir(cdir, 0700), 0);
	char *cfg = NULL;
	ck_assert_int_ge(asprintf(&cfg, "%s/config.json", cdir), 0);
	json_t *c = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "id", cid, "layers", "mediaType",
			      STORE_MT_LAYER, "digest", nolayer, "diff_id", nolayer);
	ck_assert_int_eq(json_dump_file(c, cfg, 0), 0);
	json_decref(c);

	struct store_fsck_counts n = run_fsck(0);
	ck_assert_uint_eq(n.problems, 3);
	char rel[128];
	snprintf(rel, sizeof(rel), "cache/%s", k_gone);
	ck_assert_ptr_nonnull(seen_path(rel));
	snprintf(rel, sizeof(rel), "cache/%s", k_bad);
	ck_assert_ptr_nonnull(seen_path(rel));
	snprintf(rel, sizeof(rel), "containers/%s/config.json", cid);
	const struct seen *s = seen_path(rel);
	ck_assert_ptr_nonnull(s);
	ck_assert(!s->has_fix); /* fsck never removes a container */
	ck_assert_ptr_nonnull(strstr(s->problem, "layerfs rm"));

	n = run_fsck(1);
	ck_assert_uint_eq(n.repaired, 2);
	ck_assert_uint_eq(n.left, 1);
	char *gone = path_of("cache", k_gone);
	char *okp = path_of("cache", k_ok);
	ck_assert_int_eq(access(gone, F_OK), -1);
	ck_assert_int_eq(access(bad, F_OK), -1);
	ck_assert_int_eq(access(okp, F_OK), 0);
	ck_assert_int_eq(access(cfg, F_OK), 0);
	free(gone);
	free(okp);
	free(bad);
	free(cdir);
	free(cs);
	free(cfg);
}
END_TEST

START_TEST(test_unreferenced_corrupt_blob)
{
	/* A blob nothing refers to whose bytes do not match its name. */
	char *p = path_of("blobs/sha256",
			  "5555555555555555555555555555555555555555555555555555555555555555");
	write_file(p, "not what the name says");
	struct store_fsck_counts c = run_fsck(0);
	ck_assert_uint_eq(c.problems, 1);
	ck_assert(seen[0].has_fix);
	c = run_fsck(1);
	ck_assert_uint_eq(c.repaired, 1);
	ck_assert_int_eq(access(p, F_OK), -1);
	char *r = refs();
	ck_assert_str_eq(r, "a:1 b:1");
	free(r);
	image_whole("a:1");
	image_whole("b:1");
	free(p);
}
END_TEST

static Suite *fsck_suite(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("fsck");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_corrupt_layer_blob);
	tcase_add_test(tc, test_missing_manifest);
	tcase_add_test(tc, test_corrupt_and_stale_index);
	tcase_add_test(tc, test_leftovers);
	tcase_add_test(tc, test_cache_and_containers);
	tcase_add_test(tc, test_unreferenced_corrupt_blob);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fsck_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
