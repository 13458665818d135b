/* The writable overlay over layers written in memory; the upper directory
 * it leaves is checked with plain system calls (the format kernel
 * overlayfs reads). */
#include <errno.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "ovl.h"
#include "testlib.h"

static lfs_layer *L[4];
static size_t NL;
static lfs_union *U;
static lfs_ovl *O;
static char upper[512], work[512];
static const struct lfs_ovl_cred C = {0, 0};

static void open_ovl(void)
{
	char *err = NULL;
	ck_assert_int_eq(lfs_union_new(L, NL, &U), 0);
	snprintf(upper, sizeof(upper), "%s/upper", t_dir);
	snprintf(work, sizeof(work), "%s/work", t_dir);
	mkdir(upper, 0755);
	mkdir(work, 0755);
	ck_assert_msg(lfs_ovl_new(U, upper, work, 1, &O, &err) == 0, "%s", err ? err : "");
}

static void close_ovl(void)
{
	lfs_ovl_free(O);
	lfs_union_free(U);
	for (size_t i = 0; i < NL; i++)
		lfs_layer_free(L[i]);
	NL = 0;
}

static void reopen_ovl(void)
{
	lfs_ovl_free(O);
	char *err = NULL;
	ck_assert_msg(lfs_ovl_new(U, upper, work, 1, &O, &err) == 0, "%s", err ? err : "");
}

/* Walks a relative path with lookups. */
static int walk(const char *path, uint64_t *id)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	uint64_t cur = LFS_OVL_ROOT;
	struct stat st;
	for (char *save, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int ret = lfs_ovl_lookup(O, cur, c, &cur, &st);
		if (ret)
			return ret;
	}
	*id = cur;
	return 0;
}

static uint64_t must(const char *path)
{
	uint64_t id;
	int ret = walk(path, &id);
	ck_assert_msg(ret == 0, "lookup %s: %d", path, ret);
	return id;
}

static const char *read_all(const char *path)
{
	static char buf[256];
	lfs_ovl_file *fh;
	ck_assert_int_eq(lfs_ovl_open(O, must(path), O_RDONLY, &fh), 0);
	ssize_t n = lfs_ovl_read(O, fh, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	lfs_ovl_release(O, fh);
	return buf;
}

static void write_at(const char *path, const char *data, int flags)
{
	lfs_ovl_file *fh;
	ck_assert_int_eq(lfs_ovl_open(O, must(path), O_WRONLY | flags, &fh), 0);
	ck_assert_int_eq(lfs_ovl_write(O, fh, data, strlen(data), 0), (ssize_t)strlen(data));
	lfs_ovl_release(O, fh);
}

static int names_cb(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	char *out = ctx;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	strcat(out, name);
	strcat(out, " ");
	return 0;
}

static const char *listing(const char *path)
{
	static char out[512];
	lfs_ovl_dir *dh;
	out[0] = '\0';
	ck_assert_int_eq(lfs_ovl_opendir(O, must(path), &dh), 0);
	ck_assert_int_eq(lfs_ovl_readdir(O, dh, 0, names_cb, out), 0);
	lfs_ovl_releasedir(O, dh);
	return out;
}

static struct stat upper_stat(const char *rel)
{
	char p[768];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", upper, rel);
	ck_assert_msg(lstat(p, &st) == 0, "upper %s missing", rel);
	return st;
}

static int upper_has(const char *rel)
{
	char p[768];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", upper, rel);
	return lstat(p, &st) == 0;
}

static int is_whiteout(const char *rel)
{
	struct stat st = upper_stat(rel);
	return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static int is_opaque(const char *rel)
{
	char p[768], v[4];
	snprintf(p, sizeof(p), "%s/%s", upper, rel);
	return getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

START_TEST(write_copies_up_and_keeps_lower)
{
	L[NL++] = T_LAYER({'d', "etc", 0750, NULL, 3, 4}, {'f', "etc/conf", 0640, "old", 5, 6});
	open_ovl();
	ck_assert_str_eq(read_all("etc/conf"), "old");
	ck_assert(!upper_has("etc"));
	write_at("etc/conf", "new", O_TRUNC);
	ck_assert_str_eq(read_all("etc/conf"), "new");
	struct stat st = upper_stat("etc/conf");
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_uint_eq(st.st_uid, 5);
	ck_assert_uint_eq(st.st_gid, 6);
	st = upper_stat("etc");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0750);
	ck_assert_uint_eq(st.st_uid, 3);
	/* The lower layer is untouched: a union over it still reads "old". */
	uint64_t id;
	char buf[8] = {0};
	ck_assert_int_eq(lfs_union_resolve(U, "etc/conf", 0, &id), 0);
	ck_assert_int_eq(lfs_union_read(U, id, buf, sizeof(buf), 0), 3);
	ck_assert_str_eq(buf, "old");
	close_ovl();
}
END_TEST

struct ino_seen {
	const char *name;
	uint64_t ino;
};

static int ino_cb(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct ino_seen *s = ctx;
	if (!strcmp(name, s->name))
		s->ino = id;
	return 0;
}

/* readdir's d_ino of a name equals what stat reports for it, also after
 * the file was copied up (it keeps its lower inode number). */
START_TEST(readdir_ino_is_stat_ino_after_copy_up)
{
	L[NL++] = T_LAYER({'d', "etc", 0755, NULL, 0, 0}, {'f', "etc/conf", 0644, "old", 0, 0});
	open_ovl();
	write_at("etc/conf", "new", O_TRUNC);
	ck_assert(upper_has("etc/conf"));
	struct stat st;
	ck_assert_int_eq(lfs_ovl_getattr(O, must("etc/conf"), &st), 0);
	struct ino_seen s = {"conf", 0};
	lfs_ovl_dir *dh;
	ck_assert_int_eq(lfs_ovl_opendir(O, must("etc"), &dh), 0);
	ck_assert_int_eq(lfs_ovl_readdir(O, dh, 0, ino_cb, &s), 0);
	lfs_ovl_releasedir(O, dh);
	ck_assert_uint_eq(s.ino, st.st_ino);
	close_ovl();
}
END_TEST

START_TEST(fsyncdir_syncs_upper_dirs_only)
{
	L[NL++] = T_LAYER({'d', "low"}, {'f', "low/f", 0644, "x"});
	open_ovl();
	uint64_t low, made;
	struct stat st;
	struct lfs_ovl_cred c = {0, 0};
	ck_assert_int_eq(lfs_ovl_lookup(O, LFS_OVL_ROOT, "low", &low, &st), 0);
	ck_assert_int_eq(lfs_ovl_fsyncdir(O, low, 0), 0); /* only below: nothing to sync */
	ck_assert(!upper_has("low"));
	ck_assert_int_eq(lfs_ovl_mkdir(O, LFS_OVL_ROOT, "new", 0755, &c, &made, &st), 0);
	ck_assert_int_eq(lfs_ovl_fsyncdir(O, made, 0), 0);
	ck_assert_int_eq(lfs_ovl_fsyncdir(O, made, 1), 0);
	ck_assert_int_eq(lfs_ovl_fsyncdir(O, LFS_OVL_ROOT, 0), 0);
	close_ovl();
}
END_TEST

START_TEST(unlink_and_rmdir_leave_whiteouts)
{
	L[NL++] = T_LAYER({'f', "a", 0, "x"}, {'d', "d"}, {'f', "d/f"});
	open_ovl();
	ck_assert_int_eq(lfs_ovl_unlink(O, LFS_OVL_ROOT, "a"), 0);
	ck_assert(is_whiteout("a"));
	uint64_t id;
	ck_assert_int_eq(walk("a", &id), -ENOENT);
	ck_assert_int_eq(lfs_ovl_rmdir(O, LFS_OVL_ROOT, "d"), -ENOTEMPTY);
	ck_assert_int_eq(lfs_ovl_unlink(O, must("d"), "f"), 0);
	ck_assert_int_eq(lfs_ovl_rmdir(O, LFS_OVL_ROOT, "d"), 0);
	ck_assert(is_whiteout("d"));
	ck_assert_str_eq(listing(""), "");
	/* Everything survives a remount of the same upper. */
	reopen_ovl();
	ck_assert_str_eq(listing(""), "");
	close_ovl();
}
END_TEST

START_TEST(mkdir_over_whiteout_is_opaque)
{
	L[NL++] = T_LAYER({'d', "d"}, {'f', "d/old"});
	open_ovl();
	ck_assert_int_eq(lfs_ovl_unlink(O, must("d"), "old"), 0);
	ck_assert_int_eq(lfs_ovl_rmdir(O, LFS_OVL_ROOT, "d"), 0);
	uint64_t id;
	struct stat st;
	ck_assert_int_eq(lfs_ovl_mkdir(O, LFS_OVL_ROOT, "d", 0700, &C, &id, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert(is_opaque("d"));
	ck_assert_str_eq(listing("d"), "");
	ck_assert_int_eq(lfs_ovl_mkdir(O, LFS_OVL_ROOT, "d", 0700, &C, &id, &st), -EEXIST);
	close_ovl();
}
END_TEST

START_TEST(rename_lower_directory_copies_subtree)
{
	L[NL++] = T_LAYER({'d', "src"}, {'d', "src/sub"}, {'f', "src/sub/f", 0, "deep"},
			  {'f', "src/g", 0, "gee"}, {'d', "dst"});
	open_ovl();
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "src", must("dst"), "moved", 0), 0);
	ck_assert_str_eq(read_all("dst/moved/sub/f"), "deep");
	ck_assert_str_eq(read_all("dst/moved/g"), "gee");
	ck_assert(is_whiteout("src"));
	ck_assert(upper_has("dst/moved/sub/f"));
	uint64_t id;
	ck_assert_int_eq(walk("src", &id), -ENOENT);
	reopen_ovl();
	ck_assert_str_eq(listing("dst/moved"), "g sub ");
	close_ovl();
}
END_TEST

START_TEST(rename_flags)
{
	L[NL++] = T_LAYER({'f', "a", 0, "A"}, {'f', "b", 0, "B"}, {'d', "d"}, {'f', "d/x"});
	open_ovl();
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "a", LFS_OVL_ROOT, "b", RENAME_NOREPLACE),
			 -EEXIST);
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "a", LFS_OVL_ROOT, "b", RENAME_EXCHANGE), 0);
	ck_assert_str_eq(read_all("a"), "B");
	ck_assert_str_eq(read_all("b"), "A");
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "a", LFS_OVL_ROOT, "d", 0), -EISDIR);
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "d", LFS_OVL_ROOT, "a", 0), -ENOTDIR);
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "a", LFS_OVL_ROOT, "b", 0), 0);
	ck_assert_str_eq(read_all("b"), "B");
	ck_assert(is_whiteout("a"));
	close_ovl();
}
END_TEST

START_TEST(hardlink_to_lower_file)
{
	L[NL++] = T_LAYER({'f', "f", 0, "data"});
	open_ovl();
	struct stat st;
	ck_assert_int_eq(lfs_ovl_link(O, must("f"), LFS_OVL_ROOT, "g", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	write_at("g", "DATA", 0);
	ck_assert_str_eq(read_all("f"), "DATA");
	struct stat a, b;
	ck_assert_int_eq(lfs_ovl_getattr(O, must("f"), &a), 0);
	ck_assert_int_eq(lfs_ovl_getattr(O, must("g"), &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	close_ovl();
}
END_TEST

START_TEST(unlinked_open_file_keeps_working)
{
	L[NL++] = T_LAYER({'f', "lower", 0, "low"});
	open_ovl();
	uint64_t id;
	struct stat st;
	lfs_ovl_file *fh, *lfh;
	ck_assert_int_eq(lfs_ovl_create(O, LFS_OVL_ROOT, "tmp", 0600, O_RDWR, &C, &id, &st, &fh), 0);
	ck_assert_int_eq(lfs_ovl_unlink(O, LFS_OVL_ROOT, "tmp"), 0);
	ck_assert_int_eq(lfs_ovl_write(O, fh, "still", 5, 0), 5);
	ck_assert_int_eq(lfs_ovl_getattr(O, id, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_int_eq(st.st_size, 5);
	lfs_ovl_release(O, fh);
	uint64_t lid = must("lower");
	ck_assert_int_eq(lfs_ovl_open(O, lid, O_RDONLY, &lfh), 0);
	ck_assert_int_eq(lfs_ovl_unlink(O, LFS_OVL_ROOT, "lower"), 0);
	char buf[8] = {0};
	ck_assert_int_eq(lfs_ovl_read(O, lfh, buf, sizeof(buf), 0), 3);
	ck_assert_str_eq(buf, "low");
	ck_assert_int_eq(lfs_ovl_getattr(O, lid, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	lfs_ovl_release(O, lfh);
	lfs_ovl_forget(O, id, 1);
	lfs_ovl_forget(O, lid, 1);
	close_ovl();
}
END_TEST

START_TEST(xattrs_and_internal_names)
{
	L[NL++] = T_LAYER({'f', "f", 0, "x", 0, 0, "user.k=v"});
	open_ovl();
	char v[16];
	uint64_t id = must("f");
	ck_assert_int_eq(lfs_ovl_getxattr(O, id, "user.k", v, sizeof(v)), 1);
	ck_assert_int_eq(lfs_ovl_setxattr(O, id, "user.n", "w", 1, 0), 0);
	ck_assert_int_eq(lfs_ovl_getxattr(O, id, "user.k", v, sizeof(v)), 1); /* copied up */
	ck_assert_int_eq(lfs_ovl_setxattr(O, id, "trusted.overlay.opaque", "y", 1, 0), -EPERM);
	ck_assert_int_eq(lfs_ovl_removexattr(O, id, "user.k"), 0);
	ck_assert_int_eq(lfs_ovl_getxattr(O, id, "user.k", v, sizeof(v)), -ENODATA);
	uint64_t did;
	struct stat st;
	ck_assert_int_eq(lfs_ovl_create(O, LFS_OVL_ROOT, ".wh.x", 0600, O_RDWR, &C, &did, &st,
					&(lfs_ovl_file *){NULL}),
			 -EPERM);
	close_ovl();
}
END_TEST

static int has_xattr(const char *rel, const char *name)
{
	char p[768];
	snprintf(p, sizeof(p), "%s/%s", upper, rel);
	return lgetxattr(p, name, NULL, 0) >= 0;
}

START_TEST(chmod_copies_metadata_only)
{
	L[NL++] =
	    T_LAYER({'f', "big", 0644, "lower data", 7, 8}, {'f', "mv", 0644, "move me", 0, 0});
	open_ovl();
	uint64_t id = must("big");
	lfs_ovl_file *rfh;
	ck_assert_int_eq(lfs_ovl_open(O, id, O_RDONLY, &rfh), 0);
	struct stat a = {.st_mode = 0600}, st;
	ck_assert_int_eq(lfs_ovl_setattr(O, id, &a, LFS_OVL_SET_MODE, NULL, &st), 0);
	/* metacopy: the lower's size, no data, the kernel's mark */
	st = upper_stat("big");
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0600);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_int_eq(st.st_size, 10);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert(has_xattr("big", "trusted.overlay.metacopy"));
	ck_assert_str_eq(read_all("big"), "lower data");
	/* a remount reads it the same way */
	lfs_ovl_release(O, rfh);
	reopen_ovl();
	id = must("big");
	ck_assert_str_eq(read_all("big"), "lower data");
	ck_assert_int_eq(lfs_ovl_open(O, id, O_RDONLY, &rfh), 0);
	/* the first write brings the data; a reader opened before sees it */
	write_at("big", "LOWER", 0);
	char buf[16] = {0};
	ck_assert_int_eq(lfs_ovl_read(O, rfh, buf, sizeof(buf) - 1, 0), 10);
	ck_assert_str_eq(buf, "LOWER data");
	lfs_ovl_release(O, rfh);
	ck_assert(!has_xattr("big", "trusted.overlay.metacopy"));
	ck_assert_uint_eq(upper_stat("big").st_mode, S_IFREG | 0600);
	/* rename takes the data along: the new path has nothing below */
	uint64_t mv = must("mv");
	ck_assert_int_eq(lfs_ovl_setattr(O, mv, &a, LFS_OVL_SET_MODE, NULL, &st), 0);
	ck_assert_int_eq(lfs_ovl_rename(O, LFS_OVL_ROOT, "mv", LFS_OVL_ROOT, "moved", 0), 0);
	ck_assert(!has_xattr("moved", "trusted.overlay.metacopy"));
	ck_assert_str_eq(read_all("moved"), "move me");
	ck_assert(is_whiteout("mv"));
	close_ovl();
}
END_TEST

START_TEST(whiteouts_share_one_inode)
{
	L[NL++] = T_LAYER({'f', "a", 0644, "a", 0, 0}, {'f', "b", 0644, "b", 0, 0});
	char stale[768];
	snprintf(work, sizeof(work), "%s/work", t_dir);
	snprintf(stale, sizeof(stale), "%s/#1", work);
	mkdir(work, 0755);
	ck_assert_int_eq(close(open(stale, O_CREAT | O_WRONLY, 0600)), 0);
	open_ovl();
	/* a dead daemon's copy-up temporary is gone; its name is free */
	ck_assert_int_ne(access(stale, F_OK), 0);
	ck_assert_int_eq(lfs_ovl_unlink(O, LFS_OVL_ROOT, "a"), 0);
	ck_assert_int_eq(lfs_ovl_unlink(O, LFS_OVL_ROOT, "b"), 0);
	ck_assert(is_whiteout("a") && is_whiteout("b"));
	struct stat sa = upper_stat("a"), sb = upper_stat("b");
	ck_assert_uint_eq(sa.st_ino, sb.st_ino);
	ck_assert_str_eq(listing(""), "");
	close_ovl();
}
END_TEST

static Suite *ovl_suite(void)
{
	Suite *s = suite_create("ovl");
	TCase *tc = tcase_create("upper");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, write_copies_up_and_keeps_lower);
	tcase_add_test(tc, readdir_ino_is_stat_ino_after_copy_up);
	tcase_add_test(tc, unlink_and_rmdir_leave_whiteouts);
	tcase_add_test(tc, fsyncdir_syncs_upper_dirs_only);
	tcase_add_test(tc, mkdir_over_whiteout_is_opaque);
	tcase_add_test(tc, rename_lower_directory_copies_subtree);
	tcase_add_test(tc, rename_flags);
	tcase_add_test(tc, hardlink_to_lower_file);
	tcase_add_test(tc, unlinked_open_file_keeps_working);
	tcase_add_test(tc, xattrs_and_internal_names);
	tcase_add_test(tc, chmod_copies_metadata_only);
	tcase_add_test(tc, whiteouts_share_one_inode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ovl_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
