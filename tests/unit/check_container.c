/* check_container — container records: create, names, lookup by name, id
 * and prefix, status of a record whose monitor is gone, removal. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "store.h"

static char dir[] = "/tmp/layerfs-ctn-XXXXXX";
static store *s;

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *root;
	error *err = NULL;
	ck_assert_int_ge(asprintf(&root, "%s/store", dir), 0);
	ck_assert_int_eq(store_open_at(root, &s, &err), 0);
	free(root);
}

static void teardown(void)
{
	store_free(s);
	char *cmd;
	ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	memcpy(dir, "/tmp/layerfs-ctn-XXXXXX", sizeof(dir));
}

static struct ctn *create(const char *name)
{
	json_t *cfg = json_pack("{s:s, s:[s]}", "image", "busybox:latest", "argv", "true");
	struct ctn *c = NULL;
	error *err = NULL;
	ck_assert_int_eq(ctn_create(s, cfg, name, &c, &err), 0);
	json_decref(cfg);
	return c;
}

START_TEST(create_and_lookup)
{
	struct ctn *a = create("web"), *b = create(NULL), *got = NULL;
	error *err = NULL;
	ck_assert_uint_eq(strlen(a->id), 64);
	ck_assert_str_eq(ctn_name(a), "web");
	ck_assert_ptr_nonnull(strchr(ctn_name(b), '_'));
	ck_assert_int_eq(a->state.status, CTN_CREATED);
	/* by name, full id, and a prefix unique to it */
	ck_assert_int_eq(ctn_open(s, "web", &got, &err), 0);
	ck_assert_str_eq(got->id, a->id);
	ctn_free(got);
	ck_assert_int_eq(ctn_open(s, b->id, &got, &err), 0);
	ck_assert_str_eq(ctn_name(got), ctn_name(b));
	ctn_free(got);
	size_t k = 0;
	while (a->id[k] == b->id[k])
		k++;
	char prefix[66];
	snprintf(prefix, sizeof(prefix), "%.*s", (int)k + 1, a->id);
	ck_assert_int_eq(ctn_open(s, prefix, &got, &err), 0);
	ck_assert_str_eq(got->id, a->id);
	ctn_free(got);
	/* a common prefix is ambiguous; the empty string matches nothing */
	if (k > 0) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)k, a->id);
		ck_assert_int_lt(ctn_open(s, prefix, &got, &err), 0);
		ck_assert_ptr_nonnull(strstr(err->msg, "several"));
		error_free(err);
		err = NULL;
	}
	ck_assert_int_lt(ctn_open(s, "nosuch", &got, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	error_free(err);
	ctn_free(a);
	ctn_free(b);
}
END_TEST

START_TEST(names_unique_and_valid)
{
	struct ctn *a = create("db"), *c = NULL;
	json_t *cfg = json_pack("{s:[s]}", "argv", "true");
	error *err = NULL;
	ck_assert_int_lt(ctn_create(s, cfg, "db", &c, &err), 0);
	ck_assert_int_eq(err->code, EEXIST);
	error_free(err);
	err = NULL;
	ck_assert_int_lt(ctn_create(s, cfg, "-bad", &c, &err), 0);
	ck_assert_int_eq(err->status, 2);
	error_free(err);
	json_decref(cfg);
	for (unsigned i = 0; i < 50; i++) {
		char *n = ctn_random_name(i % 2);
		ck_assert_ptr_nonnull(strchr(n, '_'));
		ck_assert_str_ne(n, "boring_wozniak");
		free(n);
	}
	ctn_free(a);
}
END_TEST

START_TEST(dead_monitor_reads_exited)
{
	struct ctn *a = create("orphan"), *got = NULL;
	error *err = NULL;
	/* a monitor that has exited: a child we reaped */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	a->state.status = CTN_RUNNING;
	a->state.monitor = pid;
	a->state.monitor_start = 12345;
	a->state.started_at = time(NULL);
	ck_assert_int_eq(ctn_state_write(a, &err), 0);
	ck_assert_int_eq(ctn_open(s, "orphan", &got, &err), 0);
	ck_assert_int_eq(got->state.status, CTN_EXITED);
	ck_assert_int_eq(got->state.exit_code, 255);
	ctn_free(got);
	/* a live pid with another start time is a reused pid, not the monitor */
	a->state.monitor = getpid();
	a->state.monitor_start = ctn_proc_start(getpid()) + 1;
	ck_assert_int_eq(ctn_state_write(a, &err), 0);
	ck_assert_int_eq(ctn_refresh(a, &err), 0);
	ck_assert_int_eq(a->state.status, CTN_EXITED);
	/* and the real one is alive */
	a->state.status = CTN_RUNNING;
	a->state.monitor_start = ctn_proc_start(getpid());
	ck_assert_int_eq(ctn_state_write(a, &err), 0);
	ck_assert_int_eq(ctn_refresh(a, &err), 0);
	ck_assert_int_eq(a->state.status, CTN_RUNNING);
	/* the same pid and start time from before a reboot is not it */
	memcpy(a->state.boot_id, "00000000-0000-0000-0000-000000000000", 37);
	ck_assert_int_eq(ctn_monitor_alive(a), 0);
	ctn_boot_id(a->state.boot_id);
	ck_assert_int_eq(ctn_monitor_alive(a), 1);
	char *st = ctn_status_text(a, a->state.started_at + 240);
	ck_assert_str_eq(st, "Up 4 minutes");
	free(st);
	ctn_free(a);
}
END_TEST

START_TEST(remove_record)
{
	struct ctn *a = create("gone"), *got = NULL;
	error *err = NULL;
	/* a read-only directory in the upper must not stop the removal */
	char *p = ctn_path(a, "upper/ro");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	char *f;
	ck_assert_int_ge(asprintf(&f, "%s/file", p), 0);
	FILE *fp = fopen(f, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	ck_assert_int_eq(chmod(p, 0555), 0);
	ck_assert_int_eq(ctn_remove(s, a, &err), 0);
	struct stat st;
	ck_assert_int_lt(stat(a->dir, &st), 0);
	ck_assert_int_lt(ctn_open(s, "gone", &got, &err), 0);
	error_free(err);
	err = NULL;
	/* what an interrupted removal left is collected */
	char *left;
	ck_assert_int_ge(asprintf(&left, "%s/store/containers/.rm-x", dir), 0);
	ck_assert_int_eq(mkdir(left, 0700), 0);
	ck_assert_int_eq(ctn_collect(s, &err), 0);
	ck_assert_int_lt(stat(left, &st), 0);
	free(left);
	free(f);
	free(p);
	ctn_free(a);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("container");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_and_lookup);
	tcase_add_test(tc, names_unique_and_valid);
	tcase_add_test(tc, dead_monitor_reads_exited);
	tcase_add_test(tc, remove_record);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
