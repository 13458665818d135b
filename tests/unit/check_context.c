/* check_context — build context: COPY source globbing, the walk, and the
 * content checksum with its stat cache, on a directory tree made here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "context.h"
#include "ignore.h"
#include "testlib.h"

static char ctxdir[4200], cachefile[4200];
static ign *ig;

static void put(const char *rel, const char *text)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
	FILE *f = fopen(p, "w");
	ck_assert_msg(f != NULL, "%s", p);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static char *at(const char *rel)
{
	static char p[8192];
	snprintf(p, sizeof(p), "%s/%s", ctxdir, rel);
	return p;
}

/* Old enough for the stat cache to trust (see racy() in context.c). */
static void settle(void)
{
	struct timespec t = {0, 120 * 1000 * 1000};
	nanosleep(&t, NULL);
}

static void setup(void)
{
	t_setup();
	snprintf(ctxdir, sizeof(ctxdir), "%s/ctx", t_dir);
	snprintf(cachefile, sizeof(cachefile), "%s/statcache", t_dir);
	ck_assert_int_eq(mkdir(ctxdir, 0755), 0);
	put("a.txt", "a");
	put("b.txt", "b");
	put("c.md", "c");
	dir("a-b");
	put("a-b/z.txt", "z");
	dir("dir");
	put("dir/x.txt", "x");
	dir("dir/sub");
	put("dir/sub/y.txt", "y");
	dir("excl");
	put("excl/keep.txt", "k");
	put("excl/drop.txt", "d");
	put("secret.txt", "s");
	dir("node_modules");
	dir("node_modules/m");
	put("node_modules/m/index.js", "m");
	ck_assert_int_eq(symlink("a.txt", at("link")), 0);
	const char *rules = "secret*\nexcl\n!excl/keep.txt\nnode_modules\n";
	error *err = NULL;
	ck_assert_int_eq(ign_parse(rules, strlen(rules), "test", &ig, &err), 0);
	settle();
}

static void teardown(void)
{
	ign_free(ig);
	t_teardown();
}

static bctx *open_ctx(const char *cache)
{
	bctx *c = NULL;
	error *err = NULL;
	ck_assert_int_eq(ctx_open(ctxdir, ig, cache, &c, &err), 0);
	ck_assert_str_eq(ctx_dir(c), ctxdir);
	ck_assert_int_ge(ctx_dirfd(c), 0);
	return c;
}

/* ---- glob ------------------------------------------------------------------- */

static void glob_is(bctx *c, const char *src, const char *want)
{
	char **v = NULL;
	size_t n = 0;
	error *err = NULL;
	lfs_buf got = LFS_BUF_INIT;
	int r = ctx_glob(c, src, &v, &n, &err);
	ck_assert_msg(r == 0, "glob %s: %s", src, err ? err->msg : "");
	for (size_t i = 0; i < n; i++)
		lfs_buf_addf(&got, "%s%s", i ? " " : "", v[i]);
	ck_assert_ptr_null(v[n]);
	ck_assert_msg(!strcmp(got.data, want), "glob %s: got [%s] want [%s]", src, got.data, want);
	lfs_buf_release(&got);
	ctx_strv_free(v);
}

static void glob_fails(bctx *c, const char *src, int code, const char *msg, bool excluded)
{
	char **v = NULL;
	size_t n = 0;
	error *err = NULL;
	ck_assert_int_eq(ctx_glob(c, src, &v, &n, &err), -code);
	ck_assert_int_eq(err->code, code);
	ck_assert_msg(strstr(err->msg, msg) != NULL, "%s: '%s' lacks '%s'", src, err->msg, msg);
	ck_assert_msg((strstr(err->msg, "(excluded by .dockerignore)") != NULL) == excluded,
		      "%s: %s", src, err->msg);
	error_free(err);
}

START_TEST(test_glob)
{
	bctx *c = open_ctx(NULL);
	glob_is(c, "a.txt", "a.txt");
	glob_is(c, "/a.txt", "a.txt");
	glob_is(c, "./dir/", "dir");
	glob_is(c, "dir/../a.txt", "a.txt");
	glob_is(c, ".", ".");
	glob_is(c, "/", ".");
	glob_is(c, "./", ".");
	glob_is(c, "*.txt", "a.txt b.txt");
	glob_is(c, "?.*", "a.txt b.txt c.md");
	glob_is(c, "[ab].txt", "a.txt b.txt");
	glob_is(c, "d?r", "dir");
	glob_is(c, "dir/*/y.txt", "dir/sub/y.txt");
	glob_is(c, "*/*.txt", "a-b/z.txt dir/x.txt excl/keep.txt");
	glob_is(c, "*", "a-b a.txt b.txt c.md dir excl link");
	glob_is(c, "excl", "excl"); /* excluded, but keep.txt is re-included */
	glob_is(c, "excl/*", "excl/keep.txt");
	glob_is(c, "link", "link");
	glob_is(c, "*/\\x.txt", "dir/x.txt"); /* escapes after a wildcard */
	ctx_free(c);
}
END_TEST

START_TEST(test_glob_errors)
{
	bctx *c = open_ctx(NULL);
	glob_fails(c, "../x", EPERM, "COPY source '../x' is outside the build context", false);
	glob_fails(c, "/../x", EPERM, "outside the build context", false);
	glob_fails(c, "a/../../x", EPERM, "outside the build context", false);
	glob_fails(c, "..", EPERM, "outside the build context", false);
	glob_fails(c, "missing", ENOENT, "'missing' not found in the build context", false);
	glob_fails(c, "*.none", ENOENT, "'*.none' not found", false);
	glob_fails(c, "dir/missing/x", ENOENT, "not found", false);
	glob_fails(c, "secret.txt", ENOENT, "'secret.txt' not found in the build context", true);
	glob_fails(c, "secret*", ENOENT, "not found", true);
	glob_fails(c, "node_modules", ENOENT, "not found", true);
	glob_fails(c, "node_modules/*/index.js", ENOENT, "not found", true);
	glob_fails(c, "excl/drop.txt", ENOENT, "not found", true);
	glob_fails(c, "link/x", ENOENT, "not found", false); /* symlinks are not followed */
	glob_fails(c, "a.txt/x", ENOENT, "not found", false);
	glob_fails(c, "[", EINVAL, "malformed pattern", false);
	glob_fails(c, "dir/*[", EINVAL, "COPY source 'dir/*[': malformed", false);
	glob_fails(c, "missing/*[", EINVAL, "malformed pattern", false);
	glob_fails(c, "*/a\\", EINVAL, "malformed pattern", false); /* trailing backslash */
	ctx_free(c);
}
END_TEST

/* ---- walk ------------------------------------------------------------------- */

struct seen {
	lfs_buf list;
	int stop_at, count;
};

static int record(void *arg, const char *rel, int pfd, const char *name, const struct stat *st,
		  error **err)
{
	struct seen *s = arg;
	struct stat again;
	ck_assert_int_eq(fstatat(pfd, name, &again, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(again.st_ino, st->st_ino);
	const char *slash = strrchr(rel, '/');
	ck_assert_str_eq(name, slash ? slash + 1 : rel);
	lfs_buf_addf(&s->list, "%s%s", s->list.len ? " " : "", rel);
	if (++s->count == s->stop_at)
		return error_make(err, 0, "stop"), -42;
	return 0;
}

static void walk_is(bctx *c, const char *rel, const char *want)
{
	struct seen s = {LFS_BUF_INIT, 0, 0};
	error *err = NULL;
	int r = ctx_walk(c, rel, record, &s, &err);
	ck_assert_msg(r == 0, "walk %s: %s", rel, err ? err->msg : "");
	ck_assert_msg(!strcmp(s.list.data, want), "walk %s: got [%s] want [%s]", rel, s.list.data,
		      want);
	lfs_buf_release(&s.list);
}

START_TEST(test_walk)
{
	bctx *c = open_ctx(NULL);
	walk_is(c, ".",
		". a-b a-b/z.txt a.txt b.txt c.md dir dir/sub dir/sub/y.txt dir/x.txt excl "
		"excl/keep.txt link");
	walk_is(c, "dir", "dir dir/sub dir/sub/y.txt dir/x.txt");
	walk_is(c, "dir/sub", "dir/sub dir/sub/y.txt");
	walk_is(c, "excl", "excl excl/keep.txt");
	walk_is(c, "link", "link");
	walk_is(c, "secret.txt", ""); /* excluded: nothing */

	struct seen s = {LFS_BUF_INIT, 3, 0};
	error *err = NULL;
	ck_assert_int_eq(ctx_walk(c, ".", record, &s, &err), -42);
	ck_assert_str_eq(s.list.data, ". a-b a-b/z.txt");
	error_free(err);
	lfs_buf_release(&s.list);

	err = NULL;
	ck_assert_int_eq(ctx_walk(c, "../x", record, &s, &err), -EINVAL);
	error_free(err);
	err = NULL;
	ck_assert_int_eq(ctx_walk(c, "./dir", record, &s, &err), -EINVAL);
	error_free(err);
	err = NULL;
	ck_assert_int_eq(ctx_walk(c, "nope/x", record, &s, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "'nope/x' not found"));
	error_free(err);
	ctx_free(c);

	/* no matcher: nothing is excluded */
	bctx *all = NULL;
	ck_assert_int_eq(ctx_open(ctxdir, NULL, NULL, &all, &err), 0);
	walk_is(all, "node_modules", "node_modules node_modules/m node_modules/m/index.js");
	ctx_free(all);
}
END_TEST

/* ---- checksum ------------------------------------------------------------- */

static char *sum_of(bctx *c, const char *src)
{
	char *srcs[] = {(char *)src};
	char *d = NULL;
	error *err = NULL;
	int r = ctx_checksum(c, srcs, 1, &d, &err);
	ck_assert_msg(r == 0, "checksum %s: %s", src, err ? err->msg : "");
	ck_assert_int_eq(strlen(d), 7 + 64);
	ck_assert(!strncmp(d, "sha256:", 7));
	return d;
}

/* The checksum of the whole context before and after change(); the
 * result says whether it moved. */
static bool changes(void (*change)(void))
{
	bctx *c = open_ctx(NULL);
	char *before = sum_of(c, ".");
	change();
	char *after = sum_of(c, ".");
	bool moved = strcmp(before, after) != 0;
	free(before);
	free(after);
	ctx_free(c);
	return moved;
}

static void rewrite_bytes(void)
{
	put("dir/x.txt", "X");
}

static void chmod_file(void)
{
	ck_assert_int_eq(chmod(at("a.txt"), 0600), 0);
}

static void chmod_setuid(void)
{
	ck_assert_int_eq(chmod(at("a.txt"), 04644), 0);
}

static void retarget_link(void)
{
	ck_assert_int_eq(unlink(at("link")), 0);
	ck_assert_int_eq(symlink("b.txt", at("link")), 0);
}

static void rename_file(void)
{
	char to[8192];
	snprintf(to, sizeof(to), "%s/dir/x2.txt", ctxdir);
	ck_assert_int_eq(rename(at("dir/x.txt"), to), 0);
}

static void touch_mtime(void)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1234567890, 5}};
	ck_assert_int_eq(utimensat(AT_FDCWD, at("dir/sub/y.txt"), ts, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, at("dir"), ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void change_excluded(void)
{
	put("secret.txt", "changed");
	put("node_modules/m/new.js", "new");
}

static void add_empty_dir(void)
{
	dir("dir/empty");
}

static void chown_file(void)
{
	ck_assert_int_eq(lchown(at("c.md"), 1234, 1234), 0);
}

static int xattr_ok;

static void set_xattr(void)
{
	xattr_ok = setxattr(at("b.txt"), "user.layerfs-test", "1", 1, 0) == 0;
	ck_assert_msg(xattr_ok || errno == ENOTSUP, "setxattr: %s", strerror(errno));
}

START_TEST(test_checksum_covers)
{
	ck_assert_msg(changes(rewrite_bytes), "file bytes");
	ck_assert_msg(changes(chmod_file), "permissions");
	ck_assert_msg(changes(chmod_setuid), "set-id bits");
	ck_assert_msg(changes(retarget_link), "symlink target");
	ck_assert_msg(changes(rename_file), "name");
	ck_assert_msg(changes(add_empty_dir), "a new directory");
	ck_assert_msg(!changes(touch_mtime), "mtime only");
	ck_assert_msg(!changes(change_excluded), "excluded files");
	if (geteuid() == 0)
		ck_assert_msg(changes(chown_file), "owner");
	bool moved = changes(set_xattr);
	if (xattr_ok)
		ck_assert_msg(moved, "user.* xattr");
}
END_TEST

START_TEST(test_checksum_sources)
{
	bctx *c = open_ctx(NULL);
	char *whole = sum_of(c, "."), *again = sum_of(c, ".");
	ck_assert_str_eq(whole, again); /* deterministic */
	bctx *c2 = open_ctx(NULL);
	char *fresh = sum_of(c2, ".");
	ck_assert_str_eq(whole, fresh);
	char *a = sum_of(c, "a.txt"), *b = sum_of(c, "b.txt"), *d = sum_of(c, "dir");
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(d, whole);

	char *two[] = {"a.txt", "b.txt"}, *rev[] = {"b.txt", "a.txt"}, *s1, *s2;
	error *err = NULL;
	ck_assert_int_eq(ctx_checksum(c, two, 2, &s1, &err), 0);
	ck_assert_int_eq(ctx_checksum(c, rev, 2, &s2, &err), 0);
	ck_assert_str_ne(s1, s2); /* in the given order */

	char *excl = sum_of(c, "excl"); /* only keep.txt counts */
	put("excl/drop.txt", "other");
	char *excl2 = sum_of(c, "excl");
	ck_assert_str_eq(excl, excl2);

	char *bad[] = {"nope"};
	ck_assert_int_lt(ctx_checksum(c, bad, 1, &s2, &err), 0);
	error_free(err);
	free(whole), free(again), free(fresh), free(a), free(b), free(d);
	free(s1), free(s2), free(excl), free(excl2);
	ctx_free(c);
	ctx_free(c2);
}
END_TEST

START_TEST(test_checksum_unreadable)
{
	if (geteuid() == 0)
		return; /* root reads anything */
	bctx *c = open_ctx(NULL);
	ck_assert_int_eq(chmod(at("b.txt"), 0), 0);
	char *srcs[] = {"."}, *d = NULL;
	error *err = NULL;
	ck_assert_int_eq(ctx_checksum(c, srcs, 1, &d, &err), -EACCES);
	ck_assert_ptr_nonnull(strstr(err->msg, "'b.txt'"));
	error_free(err);
	ctx_free(c);
}
END_TEST

/* ---- stat cache --------------------------------------------------------------- */

static const size_t nfiles = 7; /* regular files not excluded */

static char *cached_sum(const char *src, size_t want_read)
{
	bctx *c = open_ctx(cachefile);
	char *d = sum_of(c, src);
	ck_assert_uint_eq(ctx_files_read(c), want_read);
	error *err = NULL;
	ck_assert_int_eq(ctx_save_cache(c, &err), 0);
	ctx_free(c);
	return d;
}

START_TEST(test_cache_used)
{
	char *cold = cached_sum(".", nfiles);
	char *warm = cached_sum(".", 0); /* nothing read again */
	ck_assert_str_eq(cold, warm);

	/* an unchanged cache is not rewritten */
	struct stat before, after;
	ck_assert_int_eq(stat(cachefile, &before), 0);
	free(cached_sum(".", 0));
	ck_assert_int_eq(stat(cachefile, &after), 0);
	ck_assert_int_eq(before.st_ino, after.st_ino);

	/* entries not used by one build stay for the next */
	put("dir/new.txt", "n");
	settle();
	free(cached_sum("dir", 1)); /* rewrites the cache: dir's entries seen, not the rest */
	ck_assert_int_eq(stat(cachefile, &after), 0);
	ck_assert_int_ne(before.st_ino, after.st_ino);
	free(cached_sum(".", 0));
	free(cold);
	free(warm);
}
END_TEST

START_TEST(test_cache_same_size_same_mtime)
{
	char *d1 = cached_sum(".", nfiles);
	struct stat st;
	ck_assert_int_eq(stat(at("a.txt"), &st), 0);
	put("a.txt", "Z"); /* same size */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	ck_assert_int_eq(utimensat(AT_FDCWD, at("a.txt"), ts, 0), 0);
	struct stat now;
	ck_assert_int_eq(stat(at("a.txt"), &now), 0);
	ck_assert_int_eq(now.st_size, st.st_size);
	ck_assert(now.st_mtim.tv_sec == st.st_mtim.tv_sec &&
		  now.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
	char *d2 = cached_sum(".", 1); /* the ctime moved: read again */
	ck_assert_str_ne(d1, d2);
	free(d1);
	free(d2);
}
END_TEST

static void corrupt(long at_offset, const char *bytes, size_t n)
{
	int fd = open(cachefile, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	off_t end = lseek(fd, 0, SEEK_END);
	ck_assert_int_eq(pwrite(fd, bytes, n, at_offset >= 0 ? at_offset : end / 2), (ssize_t)n);
	close(fd);
}

START_TEST(test_cache_corrupt)
{
	char *d1 = cached_sum(".", nfiles);
	corrupt(-1, "\xff\xfe\xfd", 3); /* bytes in the middle: CRC mismatch */
	char *d2 = cached_sum(".", nfiles);
	ck_assert_str_eq(d1, d2);
	corrupt(8, "\x09", 1); /* another version */
	char *d3 = cached_sum(".", nfiles);
	ck_assert_str_eq(d1, d3);
	ck_assert_int_eq(truncate(cachefile, 30), 0);
	char *d4 = cached_sum(".", nfiles);
	ck_assert_str_eq(d1, d4);
	put("../statcache", "garbage");
	char *d5 = cached_sum(".", nfiles);
	ck_assert_str_eq(d1, d5);
	char *d6 = cached_sum(".", 0); /* and rewritten sound */
	ck_assert_str_eq(d1, d6);
	free(d1), free(d2), free(d3), free(d4), free(d5), free(d6);
}
END_TEST

START_TEST(test_cache_save_error)
{
	char bad[8192];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/cache", t_dir);
	bctx *c = open_ctx(bad);
	free(sum_of(c, "."));
	error *err = NULL;
	ck_assert_int_lt(ctx_save_cache(c, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "build context cache"));
	error_free(err);
	ctx_free(c);
	/* no cache file at all */
	c = open_ctx(NULL);
	ck_assert_int_eq(ctx_save_cache(c, &err), 0);
	ctx_free(c);
}
END_TEST

static Suite *context_suite(void)
{
	Suite *s = suite_create("context");
	TCase *tc = tcase_create("context");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_glob);
	tcase_add_test(tc, test_glob_errors);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_checksum_covers);
	tcase_add_test(tc, test_checksum_sources);
	tcase_add_test(tc, test_checksum_unreadable);
	tcase_add_test(tc, test_cache_used);
	tcase_add_test(tc, test_cache_same_size_same_mtime);
	tcase_add_test(tc, test_cache_corrupt);
	tcase_add_test(tc, test_cache_save_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(context_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
