/* Union merge rules over layers written in memory. */
#include <errno.h>
#include <sys/sysmacros.h>

#include "testlib.h"
#include "union.h"

static lfs_layer *L[8];
static size_t NL;
static lfs_union *U;

static void open_union(void)
{
	ck_assert_int_eq(lfs_union_new(L, NL, &U), 0);
}

static void close_union(void)
{
	lfs_union_free(U);
	U = NULL;
	for (size_t i = 0; i < NL; i++)
		lfs_layer_free(L[i]);
	NL = 0;
}

static int res(const char *path, uint64_t *id)
{
	return lfs_union_resolve(U, path, 0, id);
}

static struct stat st_of(const char *path)
{
	uint64_t id;
	struct stat st;
	ck_assert_msg(res(path, &id) == 0, "resolve %s", path);
	ck_assert_int_eq(lfs_union_getattr(U, id, &st), 0);
	return st;
}

static char *contents(const char *path)
{
	uint64_t id;
	static char buf[256];
	ck_assert_msg(lfs_union_resolve(U, path, 1, &id) == 0, "resolve %s", path);
	ssize_t n = lfs_union_read(U, id, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

struct names {
	char buf[1024];
};

static int collect(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct names *n = ctx;
	strncat(n->buf, name, sizeof(n->buf) - strlen(n->buf) - 2);
	strcat(n->buf, " ");
	return 0;
}

static const char *listing(const char *path)
{
	static struct names n;
	uint64_t id;
	n.buf[0] = '\0';
	ck_assert_int_eq(res(path, &id), 0);
	ck_assert_int_eq(lfs_union_readdir(U, id, 0, collect, &n), 0);
	return n.buf;
}

START_TEST(later_layer_replaces_file)
{
	L[NL++] = T_LAYER({'f', "a", 0, "one"}, {'f', "b", 0, "bee"});
	L[NL++] = T_LAYER({'f', "a", 0600, "two"});
	open_union();
	ck_assert_str_eq(contents("a"), "two");
	ck_assert_str_eq(contents("/b"), "bee");
	ck_assert_int_eq(st_of("a").st_mode, S_IFREG | 0600);
	close_union();
}
END_TEST

START_TEST(whiteouts_hide_lower_entries)
{
	L[NL++] = T_LAYER({'f', "a", 0, "x"}, {'d', "d"}, {'f', "d/x", 0, "x"}, {'f', "d/y"},
			  {'d', "gone"}, {'f', "gone/deep"});
	L[NL++] = T_LAYER({'f', ".wh.a"}, {'d', "d"}, {'f', "d/.wh.x"}, {'f', ".wh.gone"},
			  {'f', ".wh.never-existed"});
	open_union();
	uint64_t id;
	ck_assert_int_eq(res("a", &id), -ENOENT);
	ck_assert_int_eq(res("gone/deep", &id), -ENOENT);
	ck_assert_int_eq(res("never-existed", &id), -ENOENT);
	ck_assert_str_eq(listing("d"), ". .. y ");
	ck_assert_str_eq(listing("/"), ". .. d ");
	close_union();
}
END_TEST

START_TEST(opaque_directory_hides_lower_children)
{
	L[NL++] = T_LAYER({'d', "o"}, {'f', "o/old"}, {'d', "o/sub"}, {'f', "o/sub/f"});
	L[NL++] = T_LAYER({'d', "o"}, {'f', "o/.wh..wh..opq"}, {'f', "o/new"});
	L[NL++] = T_LAYER({'d', "o"}, {'f', "o/top"});
	open_union();
	ck_assert_str_eq(listing("o"), ". .. new top ");
	close_union();
}
END_TEST

START_TEST(type_changes_between_layers)
{
	L[NL++] = T_LAYER({'d', "p"}, {'f', "p/x"}, {'f', "q", 0, "file"}, {'d', "r"},
			  {'f', "r/z"});
	L[NL++] = T_LAYER({'f', "p", 0, "now a file"}, {'d', "q"}, {'f', "q/z", 0, "zz"},
			  {'l', "r", 0, "q"});
	open_union();
	uint64_t id;
	ck_assert_str_eq(contents("p"), "now a file");
	ck_assert_int_eq(res("p/x", &id), -ENOTDIR);
	ck_assert_str_eq(listing("q"), ". .. z ");
	ck_assert_str_eq(contents("r/z"), "zz"); /* through the new symlink */
	ck_assert(S_ISLNK(st_of("r").st_mode));
	close_union();
}
END_TEST

START_TEST(directory_metadata_from_topmost_layer)
{
	L[NL++] = T_LAYER({'d', "m", 0700, NULL, 1, 1}, {'f', "m/a"});
	L[NL++] = T_LAYER({'d', "m", 0751, NULL, 5, 6}, {'f', "m/b"});
	L[NL++] = T_LAYER({'f', "unrelated"});
	open_union();
	struct stat st = st_of("m");
	ck_assert_int_eq(st.st_mode, S_IFDIR | 0751);
	ck_assert_int_eq(st.st_uid, 5);
	ck_assert_int_eq(st.st_gid, 6);
	ck_assert_str_eq(listing("m"), ". .. a b ");
	close_union();
}
END_TEST

START_TEST(implicit_parent_yields_to_explicit_metadata)
{
	L[NL++] = T_LAYER({'d', "i", 0700}, {'f', "i/a"});
	L[NL++] = T_LAYER({'f', "i/b"}); /* no entry for i/ itself */
	open_union();
	ck_assert_int_eq(st_of("i").st_mode, S_IFDIR | 0700);
	ck_assert_str_eq(listing("i"), ". .. a b ");
	close_union();
}
END_TEST

START_TEST(hardlinks_share_inode_and_count_visible_names)
{
	L[NL++] = T_LAYER({'f', "h1", 0, "data"}, {'h', "h2", 0, "h1"}, {'h', "h3", 0, "h1"});
	L[NL++] = T_LAYER({'f', ".wh.h2"});
	open_union();
	/* The first stat already knows that h2 is gone. */
	struct stat a = st_of("h3"), b = st_of("h1");
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_uint_eq(a.st_nlink, 2);
	ck_assert_str_eq(contents("h3"), "data");
	close_union();
}
END_TEST

START_TEST(hardlink_replaced_name_not_counted)
{
	L[NL++] = T_LAYER({'d', "d"}, {'f', "d/a", 0, "data"}, {'h', "b", 0, "d/a"});
	L[NL++] = T_LAYER({'f', "b", 0, "new"});
	open_union();
	ck_assert_uint_eq(st_of("d/a").st_nlink, 1);
	ck_assert_uint_eq(st_of("b").st_nlink, 1);
	ck_assert_uint_ne(st_of("d/a").st_ino, st_of("b").st_ino);
	close_union();
}
END_TEST

START_TEST(inode_numbers_are_stable)
{
	L[NL++] = T_LAYER({'d', "x"}, {'f', "x/y"});
	open_union();
	ino_t first = st_of("x/y").st_ino;
	close_union();
	L[NL++] = T_LAYER({'d', "x"}, {'f', "x/y"});
	open_union();
	ck_assert_uint_eq(st_of("x/y").st_ino, first);
	ck_assert_uint_eq(st_of("x/y").st_ino, st_of("/x/./y").st_ino);
	close_union();
}
END_TEST

START_TEST(long_names_and_dot_entries)
{
	L[NL++] = T_LAYER({'d', "d"});
	open_union();
	char name[300];
	memset(name, 'n', 256);
	name[256] = '\0';
	uint64_t id;
	ck_assert_int_eq(lfs_union_lookup(U, LFS_ROOT_ID, name, &id), -ENAMETOOLONG);
	ck_assert_str_eq(listing("/"), ". .. d ");
	ck_assert_int_eq(res("/../../d/..", &id), 0);
	ck_assert_uint_eq(id, LFS_ROOT_ID);
	close_union();
}
END_TEST

START_TEST(symlinks_resolve_inside_the_image)
{
	L[NL++] = T_LAYER({'d', "etc"}, {'f', "etc/passwd", 0, "root:x:0:0"},
			  {'l', "abs", 0, "/etc"}, {'l', "rel", 0, "etc/passwd"},
			  {'l', "up", 0, "../../../etc/passwd"}, {'l', "loop", 0, "loop"});
	open_union();
	uint64_t id;
	ck_assert_str_eq(contents("abs/passwd"), "root:x:0:0");
	ck_assert_str_eq(contents("rel"), "root:x:0:0");
	ck_assert_str_eq(contents("up"), "root:x:0:0");
	ck_assert_int_eq(lfs_union_resolve(U, "loop", 1, &id), -ELOOP);
	ck_assert_int_eq(lfs_union_resolve(U, "loop", 0, &id), 0);
	lfs_buf t = LFS_BUF_INIT;
	ck_assert_int_eq(lfs_union_readlink(U, id, &t), 0);
	ck_assert_str_eq(t.data, "loop");
	lfs_buf_release(&t);
	close_union();
}
END_TEST

START_TEST(special_files_and_xattrs)
{
	L[NL++] = T_LAYER({'c', "null"}, {'b', "blk"}, {'p', "fifo"},
			  {'f', "cap", 0755, "bin", 0, 0, "security.capability=\001\002"});
	open_union();
	struct stat st = st_of("null");
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(major(st.st_rdev), 1);
	ck_assert_uint_eq(minor(st.st_rdev), 3);
	ck_assert(S_ISBLK(st_of("blk").st_mode));
	ck_assert(S_ISFIFO(st_of("fifo").st_mode));
	uint64_t id;
	char v[16], list[64];
	ck_assert_int_eq(res("cap", &id), 0);
	ck_assert_int_eq(lfs_union_getxattr(U, id, "security.capability", NULL, 0), 2);
	ck_assert_int_eq(lfs_union_getxattr(U, id, "security.capability", v, 1), -ERANGE);
	ck_assert_int_eq(lfs_union_getxattr(U, id, "security.capability", v, sizeof(v)), 2);
	ck_assert_int_eq(memcmp(v, "\001\002", 2), 0);
	ck_assert_int_eq(lfs_union_getxattr(U, id, "user.none", v, sizeof(v)), -ENODATA);
	ck_assert_int_eq(lfs_union_listxattr(U, id, list, sizeof(list)), 20);
	ck_assert_str_eq(list, "security.capability");
	close_union();
}
END_TEST

START_TEST(readdir_resumes_from_cookie)
{
	L[NL++] = T_LAYER({'f', "a"}, {'f', "b"}, {'f', "c"});
	L[NL++] = T_LAYER({'f', "bb"});
	open_union();
	ck_assert_str_eq(listing("/"), ". .. a b bb c ");
	struct names n = {""};
	ck_assert_int_eq(lfs_union_readdir(U, LFS_ROOT_ID, 3, collect, &n), 0);
	ck_assert_str_eq(n.buf, "b bb c ");
	uint32_t count;
	ck_assert_int_eq(lfs_union_dir_count(U, LFS_ROOT_ID, &count), 0);
	ck_assert_uint_eq(count, 4);
	close_union();
}
END_TEST

static Suite *union_suite(void)
{
	Suite *s = suite_create("union");
	TCase *tc = tcase_create("merge");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, later_layer_replaces_file);
	tcase_add_test(tc, whiteouts_hide_lower_entries);
	tcase_add_test(tc, opaque_directory_hides_lower_children);
	tcase_add_test(tc, type_changes_between_layers);
	tcase_add_test(tc, directory_metadata_from_topmost_layer);
	tcase_add_test(tc, implicit_parent_yields_to_explicit_metadata);
	tcase_add_test(tc, hardlinks_share_inode_and_count_visible_names);
	tcase_add_test(tc, hardlink_replaced_name_not_counted);
	tcase_add_test(tc, inode_numbers_are_stable);
	tcase_add_test(tc, long_names_and_dot_entries);
	tcase_add_test(tc, symlinks_resolve_inside_the_image);
	tcase_add_test(tc, special_files_and_xattrs);
	tcase_add_test(tc, readdir_resumes_from_cookie);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(union_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
