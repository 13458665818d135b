/* check_commit — lfs_upper_commit / lfs_upper_changes on upper dirs built
 * on disk, the layer read back with libarchive. */
#include <errno.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <zlib.h>

#include "commit.h"
#include "testlib.h"
#include "union.h"
#include "upper.h"

static int up_fd = -1;
static char *up_path;

static void setup(void)
{
	t_setup();
	ck_assert_int_ge(asprintf(&up_path, "%s/upper", t_dir), 0);
	ck_assert_int_eq(mkdir(up_path, 0755), 0);
	up_fd = open(up_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(up_fd, 0);
}

static void teardown(void)
{
	char *cmd;
	close(up_fd);
	/* rm copes with trees deeper than PATH_MAX; nftw does not. */
	ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", t_dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(up_path);
	free(t_dir);
}

/* ---- building the upper ------------------------------------------------ */

static void mk_file(const char *path, const char *data, mode_t mode)
{
	int fd = openat(up_fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	if (data)
		ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	fchmod(fd, mode);
	close(fd);
}

static void mk_dir(const char *path)
{
	ck_assert_msg(mkdirat(up_fd, path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

static void mk_whiteout(const char *path)
{
	ck_assert_msg(mknodat(up_fd, path, S_IFCHR | 0, makedev(0, 0)) == 0, "mknod %s: %s", path,
		      strerror(errno));
}

static void set_xattr(const char *path, const char *name, const char *value)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", up_path, path), 0);
	ck_assert_msg(lsetxattr(p, name, value, strlen(value), 0) == 0, "setxattr %s %s: %s", path,
		      name, strerror(errno));
	free(p);
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	ck_assert_int_eq(utimensat(up_fd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* ---- committing and reading back --------------------------------------- */

struct member {
	char *name; /* trailing '/' removed */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	time_t mtime;
	long mtime_ns;
	int has_atime, has_ctime;
	char *hardlink, *symlink;
	char *data;
	size_t size;
	char *xattrs; /* "name=value;" ... in archive order */
	dev_t rdev;
};

struct tarlist {
	struct member *m;
	size_t n;
};

static void tarlist_free(struct tarlist *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->m[i].name);
		free(t->m[i].hardlink);
		free(t->m[i].symlink);
		free(t->m[i].data);
		free(t->m[i].xattrs);
	}
	free(t->m);
}

static char *commit_path(lfs_union *lower, const struct lfs_commit_opts *o, const char *name)
{
	char *out, *err = NULL;
	ck_assert_int_ge(asprintf(&out, "%s/%s", t_dir, name), 0);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	int r = lfs_upper_commit(up_fd, lower, fd, o, &err);
	ck_assert_msg(r == 0, "lfs_upper_commit: %d %s", r, err ? err : "");
	close(fd);
	return out;
}

static void read_member(struct archive *a, struct archive_entry *e, struct member *m)
{
	m->name = strdup(archive_entry_pathname(e));
	size_t l = strlen(m->name);
	if (l > 1 && m->name[l - 1] == '/')
		m->name[l - 1] = '\0';
	m->mode = archive_entry_mode(e);
	m->uid = (uid_t)archive_entry_uid(e);
	m->gid = (gid_t)archive_entry_gid(e);
	m->mtime = archive_entry_mtime(e);
	m->mtime_ns = archive_entry_mtime_nsec(e);
	m->has_atime = archive_entry_atime_is_set(e);
	m->has_ctime = archive_entry_ctime_is_set(e);
	m->hardlink = archive_entry_hardlink(e) ? strdup(archive_entry_hardlink(e)) : NULL;
	m->symlink = archive_entry_symlink(e) ? strdup(archive_entry_symlink(e)) : NULL;
	m->rdev = archive_entry_rdev(e);
	m->size = (size_t)archive_entry_size(e);
	m->data = calloc(1, m->size + 1);
	if (m->size)
		ck_assert_int_eq(archive_read_data(a, m->data, m->size), (la_ssize_t)m->size);
	lfs_buf x = LFS_BUF_INIT;
	const char *xn;
	const void *xv;
	size_t xl;
	archive_entry_xattr_reset(e);
	/* libarchive's pax writer stores each xattr twice (LIBARCHIVE.xattr
	 * and SCHILY.xattr) and its reader returns both: count one. */
	while (archive_entry_xattr_next(e, &xn, &xv, &xl) == ARCHIVE_OK) {
		char *one = lfs_xasprintf("%s=%.*s;", xn, (int)xl, (const char *)xv);
		if (!strstr(x.data, one))
			lfs_buf_addstr(&x, one);
		free(one);
	}
	m->xattrs = lfs_buf_detach(&x, NULL);
}

static void read_tar(const char *path, struct tarlist *t)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
	struct archive_entry *e;
	memset(t, 0, sizeof(*t));
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		t->m = realloc(t->m, (t->n + 1) * sizeof(*t->m));
		memset(&t->m[t->n], 0, sizeof(t->m[t->n]));
		read_member(a, e, &t->m[t->n++]);
	}
	ck_assert_int_eq(r, ARCHIVE_EOF);
	archive_read_free(a);
}

/* "n1 n2 n3" of the member names, in order. */
static char *names_of(const struct tarlist *t)
{
	lfs_buf b = LFS_BUF_INIT;
	for (size_t i = 0; i < t->n; i++)
		lfs_buf_addf(&b, "%s%s", i ? " " : "", t->m[i].name);
	return lfs_buf_detach(&b, NULL);
}

static const struct member *find(const struct tarlist *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->m[i].name, name))
			return &t->m[i];
	return NULL;
}

static void sha256_file(const char *path, char out[65])
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(c, buf, n);
	unsigned char md[32];
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	fclose(f);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static lfs_union *t_union(lfs_layer **l, size_t n)
{
	lfs_union *u = NULL;
	ck_assert_int_eq(lfs_union_new(l, n, &u), 0);
	return u;
}

static int fn(void *ctx, char kind, const char *path)
{
	lfs_buf_addf(ctx, "%c %s\n", kind, path);
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(order_whiteouts_first_opaque_marker_first)
{
	mk_file("-z", "dash", 0644); /* '-' sorts before ".wh." */
	mk_whiteout("a");
	mk_file(".wh.c", NULL, 0);
	mk_dir("b");
	set_xattr("b", "trusted.overlay.opaque", "y");
	mk_file("b/x", "x", 0644);
	mk_whiteout("b/gone"); /* kept: no lower to say it hides nothing */
	mk_dir("m");
	mk_file("m/.wh..wh..opq", NULL, 0);
	mk_file("m/k", "k", 0644);
	mk_dir("n");
	mk_file("n/z", "z", 0644);
	mk_whiteout("n/y");
	mk_file("n/.wh.y", NULL, 0); /* both forms of one whiteout: written once */
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	char *out = commit_path(NULL, &o, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	char *names = names_of(&t);
	ck_assert_str_eq(names, ".wh.a .wh.c -z b b/.wh..wh..opq b/.wh.gone b/x m "
				"m/.wh..wh..opq m/k n n/.wh.y n/z");
	const struct member *wh = find(&t, ".wh.a");
	ck_assert(S_ISREG(wh->mode));
	ck_assert_int_eq(wh->size, 0);
	ck_assert_int_eq(wh->mtime, 0);
	/* the opaque xattr is bookkeeping, not layer content */
	ck_assert_str_eq(find(&t, "b")->xattrs, "");
	free(names);
	tarlist_free(&t);
	free(out);
}
END_TEST

START_TEST(hardlinks_first_in_output_order_carries_data)
{
	mk_dir("d");
	mk_file("d/z", "shared", 0640);
	ck_assert_int_eq(linkat(up_fd, "d/z", up_fd, "a", 0), 0);
	ck_assert_int_eq(linkat(up_fd, "d/z", up_fd, "d/b", 0), 0);
	ck_assert_int_eq(symlinkat("d/z", up_fd, "s"), 0);
	ck_assert_int_eq(mknodat(up_fd, "fifo", S_IFIFO | 0600, 0), 0);
	ck_assert_int_eq(mknodat(up_fd, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	/* a socket cannot be stored in a tar: skipped */
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", up_path);
	ck_assert_int_eq(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(sk);
	char *out = commit_path(NULL, NULL, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	char *names = names_of(&t);
	ck_assert_str_eq(names, "a d d/b d/z fifo null s");
	ck_assert_str_eq(find(&t, "a")->data, "shared");
	ck_assert_ptr_null(find(&t, "a")->hardlink);
	ck_assert_str_eq(find(&t, "d/b")->hardlink, "a");
	ck_assert_str_eq(find(&t, "d/z")->hardlink, "a");
	ck_assert_int_eq(find(&t, "d/z")->size, 0);
	ck_assert_str_eq(find(&t, "s")->symlink, "d/z");
	ck_assert(S_ISFIFO(find(&t, "fifo")->mode));
	ck_assert(S_ISCHR(find(&t, "null")->mode));
	ck_assert_int_eq(find(&t, "null")->rdev, makedev(1, 3));
	ck_assert_int_eq(find(&t, "a")->mode, S_IFREG | 0640);
	free(names);
	tarlist_free(&t);
	free(out);
}
END_TEST

START_TEST(xattrs_filtered_override_applied)
{
	mk_file("f", "data", 0644);
	set_xattr("f", "user.zz", "last");
	set_xattr("f", "user.aa", "first");
	set_xattr("f", "trusted.overlay.origin", "o");
	set_xattr("f", "trusted.other", "kept");
	set_xattr("f", "user.overlay.x", "o");
	set_xattr("f", "user.fuseoverlayfs.y", "o");
	ck_assert_int_eq(lfs_upper_set_override(up_fd, "f", 1000, 1001, S_IFREG | 04710), 0);
	mk_dir("d");
	ck_assert_int_eq(fchownat(up_fd, "d", 7, 8, 0), 0);
	char *out = commit_path(NULL, NULL, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	const struct member *f = find(&t, "f");
	ck_assert_str_eq(f->xattrs, "trusted.other=kept;user.aa=first;user.zz=last;");
	ck_assert_int_eq(f->uid, 1000);
	ck_assert_int_eq(f->gid, 1001);
	ck_assert_int_eq(f->mode, S_IFREG | 04710);
	ck_assert_str_eq(f->data, "data");
	ck_assert_int_eq(find(&t, "d")->uid, 7);
	ck_assert_int_eq(find(&t, "d")->gid, 8);
	tarlist_free(&t);
	free(out);
}
END_TEST

START_TEST(times_subsecond_and_clamped)
{
	mk_file("old", "o", 0644);
	mk_file("new", "n", 0644);
	mk_dir("d");
	set_mtime("old", 100, 250000000);
	set_mtime("new", 2000000000, 500000000);
	set_mtime("d", 1500000000, 7);
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	char *out = commit_path(NULL, &o, "plain.tar");
	struct tarlist t;
	read_tar(out, &t);
	ck_assert_int_eq(find(&t, "new")->mtime, 2000000000);
	ck_assert_int_eq(find(&t, "new")->mtime_ns, 500000000);
	ck_assert(!find(&t, "new")->has_atime && !find(&t, "new")->has_ctime);
	tarlist_free(&t);
	free(out);
	o.source_date_epoch = 1000000000;
	out = commit_path(NULL, &o, "clamped.tar");
	read_tar(out, &t);
	ck_assert_int_eq(find(&t, "old")->mtime, 100);
	ck_assert_int_eq(find(&t, "old")->mtime_ns, 250000000);
	ck_assert_int_eq(find(&t, "new")->mtime, 1000000000);
	ck_assert_int_eq(find(&t, "new")->mtime_ns, 0);
	ck_assert_int_eq(find(&t, "d")->mtime, 1000000000);
	tarlist_free(&t);
	free(out);
}
END_TEST

static void build_sample(void)
{
	mk_dir("etc");
	mk_file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
	mk_whiteout("etc/shadow");
	mk_file("big", NULL, 0644);
	int fd = openat(up_fd, "big", O_WRONLY | O_CLOEXEC);
	char buf[4096];
	for (int i = 0; i < 300; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	}
	close(fd);
	ck_assert_int_eq(symlinkat("/", up_fd, "root"), 0);
	set_mtime("etc/passwd", 1600000000, 1);
}

START_TEST(deterministic_and_work_dir_excluded)
{
	build_sample();
	/* a work dir inside the upper (excluded by fd) and one beside it */
	mk_dir("work");
	mk_file("work/tmp", "scratch", 0600);
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	o.exclude_dirfd = openat(up_fd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	o.source_date_epoch = 1500000000;
	char *a = commit_path(NULL, &o, "a.tar");
	set_mtime("work/tmp", 12345, 0);
	mk_file("work/tmp2", "more", 0600);
	set_mtime("work", 99, 0);
	char *b = commit_path(NULL, &o, "b.tar");
	char ha[65], hb[65];
	sha256_file(a, ha);
	sha256_file(b, hb);
	ck_assert_str_eq(ha, hb);
	struct tarlist t;
	read_tar(a, &t);
	char *names = names_of(&t);
	ck_assert_str_eq(names, "big etc etc/.wh.shadow etc/passwd root");
	free(names);
	tarlist_free(&t);
	/* later mtimes of upper files are clamped too: same digest */
	set_mtime("big", 1700000000, 1);
	set_mtime("etc", 1800000000, 2);
	char *c = commit_path(NULL, &o, "c.tar");
	char hc[65];
	sha256_file(c, hc);
	ck_assert_str_eq(ha, hc);
	close(o.exclude_dirfd);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(gzip_deterministic)
{
	build_sample();
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	o.gzip = 1;
	char *a = commit_path(NULL, &o, "a.tar.gz");
	char *b = commit_path(NULL, &o, "b.tar.gz");
	char ha[65], hb[65];
	sha256_file(a, ha);
	sha256_file(b, hb);
	ck_assert_str_eq(ha, hb);
	unsigned char hdr[10];
	FILE *f = fopen(a, "rb");
	ck_assert_int_eq(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	ck_assert_int_eq(hdr[0], 0x1f);
	ck_assert_int_eq(hdr[1], 0x8b);
	ck_assert_int_eq(hdr[3], 0);				/* no name, no comment, no extra */
	ck_assert_int_eq(hdr[4] | hdr[5] | hdr[6] | hdr[7], 0); /* mtime 0 */
	struct tarlist t;
	read_tar(a, &t);
	ck_assert_int_eq(find(&t, "big")->size, 300 * 4096);
	ck_assert_int_eq(find(&t, "big")->data[4096 * 27], 'b');
	tarlist_free(&t);
	free(a);
	free(b);
}
END_TEST

START_TEST(symlinks_never_followed)
{
	ck_assert_int_eq(symlinkat("/", up_fd, "root"), 0);
	ck_assert_int_eq(symlinkat("/etc", up_fd, "etc"), 0);
	ck_assert_int_eq(symlinkat("../../../../../../", up_fd, "up"), 0);
	mk_whiteout("w");
	char *out = commit_path(NULL, NULL, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	char *names = names_of(&t);
	ck_assert_str_eq(names, ".wh.w etc root up");
	ck_assert_str_eq(find(&t, "root")->symlink, "/");
	ck_assert_str_eq(find(&t, "etc")->symlink, "/etc");
	ck_assert(S_ISLNK(find(&t, "root")->mode));
	free(names);
	tarlist_free(&t);
	free(out);
}
END_TEST

/* A tree deeper than PATH_MAX, built and read through dir fds. */
START_TEST(deep_tree)
{
	const char *seg = "dddddddddddddddddddddddddddddddddddddddd"; /* 40 */
	int fd = dup(up_fd);
	int depth = 150; /* 150 * 41 > 6000 bytes > PATH_MAX */
	for (int i = 0; i < depth; i++) {
		ck_assert_int_eq(mkdirat(fd, seg, 0755), 0);
		int nfd = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(nfd, 0);
		close(fd);
		fd = nfd;
	}
	int f = openat(fd, "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(f, "deep", 4), 4);
	close(f);
	close(fd);
	char *out = commit_path(NULL, NULL, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	ck_assert_int_eq(t.n, (size_t)depth + 1);
	const struct member *leaf = &t.m[depth];
	ck_assert_int_eq(strlen(leaf->name), (size_t)depth * 41 + 4);
	ck_assert_str_eq(leaf->data, "deep");
	tarlist_free(&t);
	free(out);
}
END_TEST

START_TEST(lower_prunes_and_changes)
{
	lfs_layer *l1 = T_LAYER({'d', "etc"}, {'f', "etc/passwd", 0, "root"},
				{'f', "etc/shadow", 0, "x"}, {'d', "var"}, {'f', "var/a", 0, "a"},
				{'f', "var/b", 0, "b"}, {'f', "top", 0, "t"});
	lfs_union *u = t_union(&l1, 1);
	mk_dir("etc");
	mk_file("etc/passwd", "changed", 0644);
	mk_whiteout("etc/shadow");
	mk_whiteout("etc/never"); /* hides nothing below: dropped */
	mk_dir("var");
	set_xattr("var", "trusted.overlay.opaque", "y");
	mk_file("var/b", "new b", 0644);
	mk_whiteout("var/a"); /* inside an opaque dir: redundant */
	mk_dir("new");
	set_xattr("new", "trusted.overlay.opaque", "y"); /* nothing below: no marker */
	mk_file("new/f", "f", 0644);
	mk_whiteout("top");
	char *out = commit_path(u, NULL, "l.tar");
	struct tarlist t;
	read_tar(out, &t);
	char *names = names_of(&t);
	ck_assert_str_eq(names, ".wh.top etc etc/.wh.shadow etc/passwd new new/f var "
				"var/.wh..wh..opq var/b");
	free(names);
	tarlist_free(&t);
	free(out);

	lfs_buf got = LFS_BUF_INIT;
	char *err = NULL;
	ck_assert_int_eq(lfs_upper_changes(up_fd, u, fn, &got, &err), 0);
	ck_assert_str_eq(got.data, "C /etc\n"
				   "C /etc/passwd\n"
				   "D /etc/shadow\n"
				   "A /new\n"
				   "A /new/f\n"
				   "D /top\n"
				   "C /var\n"
				   "D /var/a\n"
				   "C /var/b\n");
	lfs_buf_reset(&got);
	ck_assert_int_eq(lfs_upper_changes(up_fd, NULL, fn, &got, &err), 0);
	ck_assert_str_eq(got.data, "A /etc\n"
				   "D /etc/never\n"
				   "A /etc/passwd\n"
				   "D /etc/shadow\n"
				   "C /new\n"
				   "A /new/f\n"
				   "D /top\n"
				   "C /var\n"
				   "A /var/b\n");
	lfs_buf_release(&got);
	lfs_union_free(u);
	lfs_layer_free(l1);
}
END_TEST

START_TEST(changes_sorted_by_full_path)
{
	mk_dir("a");
	mk_file("a/b", "", 0644);
	mk_file("a-c", "", 0644);
	mk_file("a.d", "", 0644);
	lfs_buf got = LFS_BUF_INIT;
	ck_assert_int_eq(lfs_upper_changes(up_fd, NULL, fn, &got, NULL), 0);
	ck_assert_str_eq(got.data, "A /a\nA /a-c\nA /a.d\nA /a/b\n");
	lfs_buf_release(&got);
}
END_TEST

START_TEST(redirect_upper_refused)
{
	mk_dir("moved");
	set_xattr("moved", "trusted.overlay.redirect", "/orig");
	char *err = NULL;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_eq(lfs_upper_commit(up_fd, NULL, fd, NULL, &err), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "'/moved'"));
	ck_assert_ptr_nonnull(strstr(err, "redirect_dir=off"));
	free(err);
	close(fd);
}
END_TEST

static Suite *commit_suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, order_whiteouts_first_opaque_marker_first);
	tcase_add_test(tc, hardlinks_first_in_output_order_carries_data);
	tcase_add_test(tc, xattrs_filtered_override_applied);
	tcase_add_test(tc, times_subsecond_and_clamped);
	tcase_add_test(tc, deterministic_and_work_dir_excluded);
	tcase_add_test(tc, gzip_deterministic);
	tcase_add_test(tc, symlinks_never_followed);
	tcase_add_test(tc, deep_tree);
	tcase_add_test(tc, lower_prunes_and_changes);
	tcase_add_test(tc, changes_sorted_by_full_path);
	tcase_add_test(tc, redirect_upper_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		puts("check_commit: needs root (mknod 0/0, trusted.* xattrs, chown); skipped");
		return 77;
	}
	SRunner *sr = srunner_create(commit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
