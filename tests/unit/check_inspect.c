/* lfs_inspect: walking, per-layer accounting, provenance and diff over
 * layers written in memory. */
#include <errno.h>

#include "inspect.h"
#include "testlib.h"

static lfs_layer *L[8];
static size_t NL;

static void close_layers(void)
{
	for (size_t i = 0; i < NL; i++)
		lfs_layer_free(L[i]);
	NL = 0;
}

static int collect_path(void *ctx, const char *path, unsigned depth, uint64_t id,
			const struct stat *st)
{
	lfs_buf *b = ctx;
	lfs_buf_addf(b, "%s%u ", path, depth);
	return 0;
}

START_TEST(walk_preorder_sorted)
{
	L[NL++] = T_LAYER({'d', "b", 0, NULL}, {'f', "b/z", 0, "z"}, {'f', "a", 0, "a"},
			  {'l', "c", 0, "b"}, {'f', "b/y", 0, "y"});
	L[NL++] = T_LAYER({'f', "b/.wh.z", 0, ""}, {'f', "b/x", 0, "x"});
	lfs_union *u;
	ck_assert_int_eq(lfs_union_new(L, NL, &u), 0);
	lfs_buf b = LFS_BUF_INIT;
	ck_assert_int_eq(lfs_walk(u, LFS_ROOT_ID, "/", UINT32_MAX, collect_path, &b), 0);
	ck_assert_str_eq(b.data, "/0 /a1 /b1 /b/x2 /b/y2 /c1 ");
	lfs_buf_reset(&b);
	ck_assert_int_eq(lfs_walk(u, LFS_ROOT_ID, "/", 1, collect_path, &b), 0);
	ck_assert_str_eq(b.data, "/0 /a1 /b1 /c1 ");
	lfs_buf_release(&b);
	lfs_union_free(u);
	close_layers();
}
END_TEST

START_TEST(layer_accounting)
{
	/* L1: a(10) d/f(5) d/g(3) h1+h2 hard-linked (4) keep(7) */
	L[NL++] = T_LAYER({'f', "a", 0, "0123456789"}, {'f', "d/f", 0, "fffff"},
			  {'f', "d/g", 0, "ggg"}, {'f', "h1", 0, "hhhh"}, {'h', "h2", 0, "h1"},
			  {'f', "keep", 0, "keep123"});
	/* L2: replaces a (2), whites out h1 (h2 still shows the inode), d opaque + d/n(1) */
	L[NL++] = T_LAYER({'f', "a", 0, "AA"}, {'f', ".wh.h1", 0, ""}, {'f', "d/.wh..wh..opq", 0, ""},
			  {'f', "d/n", 0, "n"}, {'f', "new", 0, "123"});
	/* L3: removes a and h2: the inode h1/h2 is now wasted */
	L[NL++] = T_LAYER({'f', ".wh.a", 0, ""}, {'f', ".wh.h2", 0, ""});
	struct lfs_layer_stats st[3];
	struct lfs_waste *w;
	size_t nw;
	ck_assert_int_eq(lfs_inspect_layers(L, NL, st, &w, &nw), 0);
	ck_assert_uint_eq(st[0].bytes, 10 + 5 + 3 + 4 + 7);
	ck_assert_uint_eq(st[0].files, 5);
	ck_assert_uint_eq(st[0].added, st[0].bytes);
	ck_assert_uint_eq(st[0].wasted, 10 + 5 + 3 + 4);
	ck_assert_uint_eq(st[1].replaced, 2);
	ck_assert_uint_eq(st[1].added, 1 + 3);
	ck_assert_uint_eq(st[1].whiteouts, 1);
	ck_assert_uint_eq(st[1].opaque, 1);
	ck_assert_uint_eq(st[1].removed, 10 + 5 + 3);
	ck_assert_uint_eq(st[1].wasted, 2);
	ck_assert_uint_eq(st[2].removed, 4 + 2);
	ck_assert_uint_eq(st[2].entries, 2);
	ck_assert_uint_eq(nw, 5);
	ck_assert_uint_eq(w[0].size, 10);
	ck_assert_uint_eq(w[0].hidden_by, 1);
	free(w);
	close_layers();
}
END_TEST

START_TEST(which_path)
{
	L[NL++] = T_LAYER({'f', "d/f", 0, "one"}, {'f', "x", 0, "x"});
	L[NL++] = T_LAYER({'f', "d/.wh..wh..opq", 0, ""}, {'f', "x", 0, "xx"});
	L[NL++] = T_LAYER({'f', "d/f", 0, "three"}, {'f', ".wh.x", 0, ""});
	L[NL++] = T_LAYER({'f', "d", 0, "file now"});
	struct lfs_touch *t;
	size_t n;
	ck_assert_int_eq(lfs_inspect_which(L, NL, "/d/f", &t, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(t[0].kind, LFS_TOUCH_ADDED);
	ck_assert_int_eq(t[1].kind, LFS_TOUCH_HIDDEN);
	ck_assert_int_eq(t[2].kind, LFS_TOUCH_ADDED);
	ck_assert_int_eq(t[3].kind, LFS_TOUCH_HIDDEN);
	ck_assert_uint_eq(t[3].layer, 3);
	free(t);
	ck_assert_int_eq(lfs_inspect_which(L, NL, "x", &t, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(t[1].kind, LFS_TOUCH_REPLACED);
	ck_assert_int_eq(t[2].kind, LFS_TOUCH_DELETED);
	free(t);
	ck_assert_int_eq(lfs_inspect_which(L, NL, "nope", &t, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(lfs_inspect_which(L, NL, "a/../b", &t, &n), -EINVAL);
	close_layers();
}
END_TEST

struct dres {
	char buf[512];
};

static int collect_diff(void *ctx, const char *path, enum lfs_diff_kind kind, unsigned what,
			const uint64_t *a, const uint64_t *b)
{
	struct dres *r = ctx;
	size_t len = strlen(r->buf);
	snprintf(r->buf + len, sizeof(r->buf) - len, "%c%s:%x ", (char)kind, path, what);
	return 0;
}

START_TEST(diff_by_content)
{
	L[NL++] = T_LAYER({'f', "same", 0, "abc"}, {'f', "chg", 0, "abc"}, {'f', "gone", 0, "g"},
			  {'d', "dir", 0, NULL}, {'f', "dir/in", 0, "i"}, {'f', "m", 0644, "m"});
	/* the same contents in another layer: equal by digest */
	L[NL++] = T_LAYER({'f', "same", 0, "abc"}, {'f', "chg", 0, "abd"}, {'f', "dir", 0, "f"},
			  {'f', "new", 0, "n"}, {'f', "m", 0600, "m"});
	lfs_union *a, *b;
	ck_assert_int_eq(lfs_union_new(L, 1, &a), 0);
	lfs_layer *lb[1] = {L[1]};
	ck_assert_int_eq(lfs_union_new(lb, 1, &b), 0);
	const char *ka[] = {"L1"}, *kb[] = {"L2"};
	struct dres r = {""};
	ck_assert_int_eq(lfs_inspect_diff(a, ka, b, kb, collect_diff, &r), 0);
	ck_assert_str_eq(r.buf, "C/chg:8 C/dir:1 D/dir/in:0 D/gone:0 C/m:2 A/new:0 ");
	r.buf[0] = '\0';
	ck_assert_int_eq(lfs_inspect_diff(a, ka, a, ka, collect_diff, &r), 0);
	ck_assert_str_eq(r.buf, "");
	unsigned char h[32];
	uint64_t id;
	ck_assert_int_eq(lfs_union_resolve(a, "same", 0, &id), 0);
	ck_assert_int_eq(lfs_inspect_sha256(a, id, h), 0);
	ck_assert_uint_eq(h[0], 0xba); /* sha256("abc") = ba7816bf... */
	ck_assert_uint_eq(h[1], 0x78);
	lfs_union_free(a);
	lfs_union_free(b);
	close_layers();
}
END_TEST

static Suite *inspect_suite(void)
{
	Suite *s = suite_create("inspect");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, walk_preorder_sorted);
	tcase_add_test(tc, layer_accounting);
	tcase_add_test(tc, which_path);
	tcase_add_test(tc, diff_by_content);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(inspect_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
