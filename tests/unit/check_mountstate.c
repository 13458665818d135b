/* check_mountstate — mount records: write, read back by path, remove. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mountstate.h"
#include "store.h"

static char dir[] = "/tmp/layerfs-ms-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char *cmd;
	ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	strcpy(dir, "/tmp/layerfs-ms-XXXXXX");
}

START_TEST(write_read_remove)
{
	char *root, *mnt, *alias;
	ck_assert_int_ge(asprintf(&root, "%s/store", dir), 0);
	ck_assert_int_ge(asprintf(&mnt, "%s/mnt", dir), 0);
	ck_assert_int_ge(asprintf(&alias, "%s/mnt/../mnt/.", dir), 0);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	store *s = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_open_at(root, &s, &err), 0);
	char *tars[] = {"/l/one.tar", "/l/two.tar"}, *idx[] = {"/i/one", "/i/two"};
	struct mountstate ms = {.upper = "/u",
				.work = "/w",
				.image = "app:1",
				.nlayers = 2,
				.layer_paths = tars,
				.index_paths = idx,
				.pid = 4242};
	ck_assert_int_eq(mountstate_write(s, mnt, &ms, &err), 0);
	struct mountstate got;
	ck_assert_int_eq(mountstate_read(s, alias, &got, &err), 0);
	ck_assert_str_eq(got.mountpoint, mnt);
	ck_assert_str_eq(got.upper, "/u");
	ck_assert_str_eq(got.work, "/w");
	ck_assert_str_eq(got.image, "app:1");
	ck_assert_int_eq(got.nlayers, 2);
	ck_assert_str_eq(got.layer_paths[1], "/l/two.tar");
	ck_assert_str_eq(got.index_paths[0], "/i/one");
	ck_assert_int_eq(got.pid, 4242);
	mountstate_release(&got);
	/* the file is mounts/<sha256 of the real path>.json */
	char *ls;
	ck_assert_int_ge(asprintf(&ls,
				  "test \"$(ls '%s/mounts')\" = \"$(printf %%s '%s' | "
				  "sha256sum | cut -d' ' -f1).json\"",
				  root, mnt),
			 0);
	ck_assert_int_eq(system(ls), 0);
	free(ls);
	ms.image = NULL;
	ck_assert_int_eq(mountstate_write(s, mnt, &ms, &err), 0); /* replaces */
	ck_assert_int_eq(mountstate_read(s, mnt, &got, &err), 0);
	ck_assert_ptr_null(got.image);
	mountstate_release(&got);
	ck_assert_int_eq(mountstate_remove(s, mnt, &err), 0);
	ck_assert_int_eq(mountstate_read(s, mnt, &got, &err), 1);
	ck_assert_int_eq(mountstate_remove(s, mnt, &err), 0);
	ck_assert_int_eq(mountstate_read(s, "/nonexistent/path", &got, &err), 1);
	ck_assert_ptr_null(err);
	store_free(s);
	free(root);
	free(mnt);
	free(alias);
}
END_TEST

START_TEST(corrupt_record_reported)
{
	char *root, *mnt;
	ck_assert_int_ge(asprintf(&root, "%s/store", dir), 0);
	ck_assert_int_ge(asprintf(&mnt, "%s/mnt", dir), 0);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	store *s = NULL;
	error *err = NULL;
	ck_assert_int_eq(store_open_at(root, &s, &err), 0);
	struct mountstate ms = {.upper = "/u"};
	ck_assert_int_eq(mountstate_write(s, mnt, &ms, &err), 0);
	char *cmd;
	ck_assert_int_ge(
	    asprintf(&cmd, "for f in %s/mounts/*.json; do echo '{' >\"$f\"; done", root), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	struct mountstate got;
	ck_assert_int_lt(mountstate_read(s, mnt, &got, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "remove it"));
	error_free(err);
	store_free(s);
	free(root);
	free(mnt);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("mountstate");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_read_remove);
	tcase_add_test(tc, corrupt_record_reported);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
