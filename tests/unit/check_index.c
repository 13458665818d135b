/* Unit tests for fs/index.c: building an index from tars (written in memory
 * with libarchive's writer, crafted byte by byte, or made by GNU tar at run
 * time), reading members back through the recorded offsets, and validating
 * corrupt index files. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "gz.h"
#include "index.h"
#include "lfs_limits.h"

/* ------------------------------------------------------------------ */
/* Helpers: tars in memory.                                            */

static la_ssize_t tw_cb(struct archive *a, void *cd, const void *buf, size_t n)
{
	(void)a;
	lfs_buf_add(cd, buf, n);
	return (la_ssize_t)n;
}

static struct archive *tw_new(int format, lfs_buf *out)
{
	struct archive *a = archive_write_new();
	ck_assert_int_eq(archive_write_set_format(a, format), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open(a, out, NULL, tw_cb, NULL), ARCHIVE_OK);
	return a;
}

static void tw_end(struct archive *a)
{
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static struct archive_entry *te_new(const char *path, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_mtime(e, 1700000000, 0);
	return e;
}

static void te_write(struct archive *a, struct archive_entry *e, const void *data, size_t len)
{
	ck_assert_msg(archive_write_header(a, e) == ARCHIVE_OK, "%s", archive_error_string(a));
	if (len)
		ck_assert_int_eq(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void tw_file(struct archive *a, const char *path, const char *data)
{
	struct archive_entry *e = te_new(path, AE_IFREG | 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(data));
	te_write(a, e, data, strlen(data));
}

static void tw_dir(struct archive *a, const char *path, unsigned perm)
{
	te_write(a, te_new(path, AE_IFDIR | perm), NULL, 0);
}

static void tw_symlink(struct archive *a, const char *path, const char *target)
{
	struct archive_entry *e = te_new(path, AE_IFLNK | 0777);
	archive_entry_set_symlink(e, target);
	te_write(a, e, NULL, 0);
}

static void tw_hardlink(struct archive *a, const char *path, const char *target)
{
	struct archive_entry *e = te_new(path, AE_IFREG | 0644);
	archive_entry_set_hardlink(e, target);
	archive_entry_set_size(e, 0);
	te_write(a, e, NULL, 0);
}

/* A raw 512-byte ustar header, for what libarchive's writer will not make:
 * ".." names, links to later members, absurd sizes. */
static void raw_member(lfs_buf *t, const char *name, char type, uint64_t size, const char *link,
		       const char *data)
{
	unsigned char *h = lfs_buf_zalloc(t, 512);
	unsigned sum = 0;

	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	if (size < 077777777777ull) {
		snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	} else { /* GNU base-256 */
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	}
	memcpy(h + 136, "14533502400", 11);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	if (data) {
		lfs_buf_add(t, data, strlen(data));
		lfs_buf_zalloc(t, (512 - strlen(data) % 512) % 512);
	}
}

static void raw_end(lfs_buf *t)
{
	lfs_buf_zalloc(t, 1024);
}

/* ------------------------------------------------------------------ */
/* Helpers: building and reading back.                                 */

struct built {
	int tar_fd;
	int idx_fd;
	lfs_index *idx;
	char *err;
	int ret;
};

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("tar", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Builds from tar_fd (any kind of fd) and opens the result on success. */
static void build_fd(struct built *bt, int tar_fd, int read_fd, uint64_t span)
{
	struct lfs_index_build_opts o = {.src_mtime_ns = 42, .gzip_span = span};

	bt->tar_fd = read_fd;
	bt->idx = NULL;
	bt->err = NULL;
	bt->idx_fd = memfd_create("idx", MFD_CLOEXEC);
	ck_assert_int_ge(bt->idx_fd, 0);
	bt->ret = lfs_index_build(tar_fd, bt->idx_fd, &o, &bt->err);
	if (bt->ret == 0) {
		ck_assert_ptr_null(bt->err);
		ck_assert_int_eq(lfs_index_open(bt->idx_fd, &bt->idx), 0);
	} else {
		ck_assert_ptr_nonnull(bt->err);
	}
}

static void build_buf(struct built *bt, const lfs_buf *tar)
{
	int fd = memfd_with(tar->data, tar->len);
	build_fd(bt, fd, fd, 0);
}

static void built_release(struct built *bt)
{
	lfs_index_free(bt->idx);
	free(bt->err);
	close(bt->idx_fd);
	if (bt->tar_fd >= 0)
		close(bt->tar_fd);
}

static void pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
}

/* The reference reader: pread at the recorded offsets, zeros in holes.
 * gi != NULL reads a gzip layer through its checkpoints instead. */
static void read_entry(int tar_fd, lfs_gz_index *gi, const lfs_index *idx,
		       const struct lfs_entry *e, lfs_buf *out)
{
	const struct lfs_sparse_run *r;
	uint32_t n = 1;
	struct lfs_sparse_run whole = {0, e->size, e->data_off};

	lfs_buf_reset(out);
	lfs_buf_zalloc(out, e->size);
	r = (e->flags & LFS_E_SPARSE) ? lfs_index_sparse(idx, e, &n) : &whole;
	for (uint32_t i = 0; i < n; i++) {
		if (gi)
			ck_assert_int_eq(lfs_gz_pread(gi, tar_fd, out->data + r[i].file_off,
						      r[i].len, r[i].tar_off),
					 (ssize_t)r[i].len);
		else
			pread_all(tar_fd, out->data + r[i].file_off, r[i].len, r[i].tar_off);
	}
}

static const struct lfs_entry *get(const struct built *bt, const char *path)
{
	uint32_t n = lfs_index_lookup(bt->idx, path);
	ck_assert_msg(n != LFS_INDEX_NONE, "'%s' not in the index", path);
	return lfs_index_entry(bt->idx, n);
}

static void assert_content(const struct built *bt, const char *path, const char *want)
{
	lfs_buf got = LFS_BUF_INIT;
	const struct lfs_entry *e = get(bt, path);
	ck_assert_uint_eq(e->size, strlen(want));
	read_entry(bt->tar_fd, NULL, bt->idx, e, &got);
	ck_assert_msg(!memcmp(got.data, want, strlen(want)), "content of '%s'", path);
	lfs_buf_release(&got);
}

static void assert_absent(const struct built *bt, const char *path)
{
	ck_assert_msg(lfs_index_lookup(bt->idx, path) == LFS_INDEX_NONE, "'%s' present", path);
}

/* Structural invariants every index must satisfy, checked independently
 * of open()'s validation: children sorted and pointing back, paths
 * resolving to themselves. */
static void assert_tree(const lfs_index *idx)
{
	lfs_buf p = LFS_BUF_INIT;
	uint32_t n = lfs_index_count(idx);

	for (uint32_t i = 0; i < n; i++) {
		const struct lfs_entry *e = lfs_index_entry(idx, i);
		for (uint32_t c = 1; c < e->nchild; c++) {
			const struct lfs_entry *a = lfs_index_entry(idx, e->first_child + c - 1);
			const struct lfs_entry *b = lfs_index_entry(idx, e->first_child + c);
			size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
			int cmp = memcmp(lfs_index_name(idx, a), lfs_index_name(idx, b), m);
			ck_assert(cmp < 0 || (cmp == 0 && a->name_len < b->name_len));
		}
		lfs_buf_reset(&p);
		lfs_index_path(idx, i, &p);
		ck_assert_uint_eq(lfs_index_lookup(idx, p.data), i);
		ck_assert_uint_eq(lfs_index_entry_no(idx, e), i);
	}
	ck_assert_ptr_null(lfs_index_entry(idx, n));
	lfs_buf_release(&p);
}

/* ------------------------------------------------------------------ */
/* In-memory archives.                                                 */

START_TEST(test_layout_sizes)
{
	ck_assert_uint_eq(sizeof(struct lfs_entry), 72);
	ck_assert_uint_eq(sizeof(struct lfs_sparse_run), 24);
	ck_assert_uint_eq(sizeof(struct lfs_index_header) % 8, 0);
}
END_TEST

START_TEST(test_tree_sorted_lookup_path)
{
	lfs_buf tar = LFS_BUF_INIT, p = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;
	const struct lfs_entry *root, *e;
	const char *names[] = {"b", "a", "ab", "B", "a.b", "aa", "\xc3\xa9", "a b"};

	tw_dir(a, "d", 0750);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "d/%s", names[i]);
		tw_file(a, path, names[i]);
	}
	tw_file(a, "deep/er/file", "x");
	tw_symlink(a, "d/link", "../deep/er/file");
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_int_eq(bt.ret, 0);
	assert_tree(bt.idx);
	root = lfs_index_entry(bt.idx, 0);
	ck_assert(S_ISDIR(root->mode));
	ck_assert_uint_eq(root->flags & LFS_E_IMPLICIT, LFS_E_IMPLICIT);
	ck_assert_uint_eq(root->nchild, 2);
	/* memcmp order, shorter first */
	e = get(&bt, "d");
	ck_assert_uint_eq(e->nchild, 9);
	const char *want[] = {"B", "a", "a b", "a.b", "aa", "ab", "b", "link", "\xc3\xa9"};
	for (uint32_t i = 0; i < 9; i++)
		ck_assert_str_eq(
		    lfs_index_name(bt.idx, lfs_index_entry(bt.idx, e->first_child + i)), want[i]);
	ck_assert_uint_eq(e->mode, S_IFDIR | 0750);
	ck_assert_uint_eq(e->flags, 0);
	ck_assert_uint_eq(lfs_index_child(bt.idx, lfs_index_lookup(bt.idx, "d"), "ab", 2),
			  e->first_child + 5);
	ck_assert_uint_eq(lfs_index_child(bt.idx, lfs_index_lookup(bt.idx, "d"), "abc", 2),
			  e->first_child + 5);
	ck_assert_uint_eq(lfs_index_child(bt.idx, lfs_index_lookup(bt.idx, "d"), "zz", 2),
			  LFS_INDEX_NONE);
	ck_assert_uint_eq(lfs_index_child(bt.idx, lfs_index_lookup(bt.idx, "d/a"), "x", 1),
			  LFS_INDEX_NONE);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "d/%s", names[i]);
		assert_content(&bt, path, names[i]);
	}
	/* implicit parents */
	e = get(&bt, "deep/er");
	ck_assert_uint_eq(e->mode, S_IFDIR | 0755);
	ck_assert_uint_eq(e->flags, LFS_E_IMPLICIT);
	ck_assert_int_eq(e->mtime, 0);
	ck_assert_uint_eq(e->uid, 0);
	/* symlinks */
	e = get(&bt, "d/link");
	ck_assert(S_ISLNK(e->mode));
	ck_assert_str_eq(lfs_index_symlink(bt.idx, e), "../deep/er/file");
	ck_assert_uint_eq(e->size, strlen("../deep/er/file"));
	ck_assert_ptr_null(lfs_index_symlink(bt.idx, get(&bt, "d/a")));
	/* lookup and path */
	ck_assert_uint_eq(lfs_index_lookup(bt.idx, ""), 0);
	ck_assert_uint_eq(lfs_index_lookup(bt.idx, "deep/er/file"),
			  lfs_index_lookup(bt.idx, "deep//er/./file/"));
	ck_assert_uint_eq(lfs_index_lookup(bt.idx, "deep/er/file/x"), LFS_INDEX_NONE);
	ck_assert_uint_eq(lfs_index_lookup(bt.idx, "nope"), LFS_INDEX_NONE);
	lfs_buf_addstr(&p, "prefix:");
	lfs_index_path(bt.idx, lfs_index_lookup(bt.idx, "deep/er/file"), &p);
	ck_assert_str_eq(p.data, "prefix:deep/er/file");
	lfs_buf_reset(&p);
	lfs_index_path(bt.idx, 0, &p);
	ck_assert_str_eq(p.data, "");
	/* header */
	const struct lfs_index_header *h = lfs_index_header(bt.idx);
	ck_assert_uint_eq(h->compression, LFS_COMP_NONE);
	ck_assert_uint_eq(h->tar_size, tar.len);
	ck_assert_uint_eq(h->src_size, tar.len);
	ck_assert_int_eq(h->src_mtime_ns, 42);
	ck_assert_uint_eq(h->nentries, lfs_index_count(bt.idx));
	ck_assert_uint_eq(lfs_index_count(bt.idx), 1 + 2 + 9 + 2);
	ck_assert_uint_eq(h->total_data, strlen("baabBa.baa\xc3\xa9"
						"a b") +
					     1);
	size_t gzlen;
	ck_assert_ptr_null(lfs_index_gzip_data(bt.idx, &gzlen));
	ck_assert_uint_eq(gzlen, 0);
	built_release(&bt);
	lfs_buf_release(&tar);
	lfs_buf_release(&p);
}
END_TEST

START_TEST(test_name_normalisation)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct built bt;

	raw_member(&tar, "./", '5', 0, NULL, NULL);
	raw_member(&tar, "./a", '0', 2, NULL, "aa");
	raw_member(&tar, "/b", '0', 2, NULL, "bb");
	raw_member(&tar, "c//d/./e", '0', 1, NULL, "e");
	raw_member(&tar, "/./f/", '5', 0, NULL, NULL);
	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_tree(bt.idx);
	/* "./" gave the root its metadata */
	ck_assert_uint_eq(lfs_index_entry(bt.idx, 0)->flags, 0);
	ck_assert_uint_eq(lfs_index_entry(bt.idx, 0)->mode, S_IFDIR | 0644);
	ck_assert_int_eq(lfs_index_entry(bt.idx, 0)->mtime, 014533502400);
	assert_content(&bt, "a", "aa");
	assert_content(&bt, "b", "bb");
	assert_content(&bt, "c/d/e", "e");
	ck_assert(S_ISDIR(get(&bt, "f")->mode));
	ck_assert_uint_eq(lfs_index_count(bt.idx), 7);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_dotdot_rejected)
{
	const char *bad[] = {"a/../../etc/passwd", "..", "../x", "x/.."};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lfs_buf tar = LFS_BUF_INIT;
		struct built bt;
		raw_member(&tar, "ok", '0', 0, NULL, "");
		raw_member(&tar, bad[i], '0', 0, NULL, "");
		raw_end(&tar);
		build_buf(&bt, &tar);
		ck_assert_int_eq(bt.ret, -EINVAL);
		ck_assert_msg(strstr(bt.err, bad[i]) && strstr(bt.err, ".."), "%s", bt.err);
		built_release(&bt);
		lfs_buf_release(&tar);
	}
}
END_TEST

START_TEST(test_hardlinks)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;
	const struct lfs_entry *e, *f;

	tw_file(a, "a", "AAAA");
	tw_hardlink(a, "b", "a");
	tw_hardlink(a, "dir/c", "./b"); /* chain: a link to a link */
	tw_file(a, "x", "old-x");
	tw_hardlink(a, "y", "x");
	tw_file(a, "x", "new"); /* replaces x: y keeps the old inode */
	tw_file(a, "s", "same");
	tw_hardlink(a, "s", "s"); /* a link to itself changes nothing */
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_tree(bt.idx);
	/* the ring a -> b -> dir/c -> a, in some order, nlink 3 everywhere */
	e = get(&bt, "a");
	ck_assert_uint_eq(e->nlink, 3);
	ck_assert_uint_eq(e->flags, LFS_E_HARDLINK);
	uint32_t start = lfs_index_entry_no(bt.idx, e), j = start, steps = 0;
	do {
		f = lfs_index_entry(bt.idx, j);
		ck_assert_uint_eq(f->flags, LFS_E_HARDLINK);
		ck_assert_uint_eq(f->nlink, 3);
		ck_assert_uint_eq(f->data_off, e->data_off);
		ck_assert_uint_eq(f->size, 4);
		ck_assert_uint_eq(f->mode, S_IFREG | 0644);
		j = f->link;
		steps++;
	} while (j != start && steps < 10);
	ck_assert_uint_eq(steps, 3);
	assert_content(&bt, "b", "AAAA");
	assert_content(&bt, "dir/c", "AAAA");
	/* replaced target: two separate inodes, no ring */
	assert_content(&bt, "x", "new");
	assert_content(&bt, "y", "old-x");
	ck_assert_uint_eq(get(&bt, "x")->nlink, 1);
	ck_assert_uint_eq(get(&bt, "y")->nlink, 1);
	ck_assert_uint_eq(get(&bt, "y")->flags, 0);
	ck_assert_uint_eq(get(&bt, "y")->link, LFS_INDEX_NONE);
	ck_assert_uint_eq(get(&bt, "s")->nlink, 1);
	assert_content(&bt, "s", "same");
	/* total_data counts each inode once: AAAA + new + old-x + same */
	ck_assert_uint_eq(lfs_index_header(bt.idx)->total_data, 4 + 3 + 5 + 4);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

static void expect_link_error(const char *target_kind)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct built bt;

	raw_member(&tar, "d", '5', 0, NULL, NULL);
	raw_member(&tar, ".wh.gone", '0', 0, NULL, "");
	if (!strcmp(target_kind, "later")) {
		raw_member(&tar, "lnk", '1', 0, "later", NULL);
		raw_member(&tar, "later", '0', 1, NULL, "x");
	} else if (!strcmp(target_kind, "missing")) {
		raw_member(&tar, "lnk", '1', 0, "missing", NULL);
	} else if (!strcmp(target_kind, "dir")) {
		raw_member(&tar, "lnk", '1', 0, "d", NULL);
	} else {
		raw_member(&tar, "lnk", '1', 0, "gone", NULL);
	}
	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_int_eq(bt.ret, -EINVAL);
	ck_assert_msg(strstr(bt.err, "'lnk'"), "%s", bt.err);
	ck_assert_msg(strstr(bt.err, !strcmp(target_kind, "whiteout") ? "'gone'"
				     : !strcmp(target_kind, "dir")    ? "'d'"
								      : target_kind),
		      "%s", bt.err);
	built_release(&bt);
	lfs_buf_release(&tar);
}

START_TEST(test_hardlink_bad_targets)
{
	expect_link_error("later");
	expect_link_error("missing");
	expect_link_error("dir");
	expect_link_error("whiteout");
}
END_TEST

/* Hard links to non-regular files become independent copies. */
START_TEST(test_hardlink_to_symlink_and_device)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct archive_entry *e;
	struct built bt;

	tw_symlink(a, "sl", "target");
	tw_hardlink(a, "sl2", "sl");
	e = te_new("null", AE_IFCHR | 0666);
	archive_entry_set_rdevmajor(e, 1);
	archive_entry_set_rdevminor(e, 3);
	te_write(a, e, NULL, 0);
	tw_hardlink(a, "null2", "null");
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_str_eq(lfs_index_symlink(bt.idx, get(&bt, "sl2")), "target");
	ck_assert_uint_eq(get(&bt, "sl2")->nlink, 1);
	ck_assert_uint_eq(get(&bt, "sl2")->flags & LFS_E_HARDLINK, 0);
	ck_assert_uint_eq(get(&bt, "null2")->mode, S_IFCHR | 0666);
	ck_assert_uint_eq(get(&bt, "null2")->data_off, (1ull << 32) | 3);
	ck_assert_uint_eq(get(&bt, "null2")->nlink, 1);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_devices_fifos)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct archive_entry *e;
	struct built bt;

	e = te_new("dev/null", AE_IFCHR | 0666);
	archive_entry_set_rdevmajor(e, 1);
	archive_entry_set_rdevminor(e, 3);
	te_write(a, e, NULL, 0);
	e = te_new("dev/big", AE_IFBLK | 0660);
	archive_entry_set_rdevmajor(e, 259);
	archive_entry_set_rdevminor(e, 65537);
	te_write(a, e, NULL, 0);
	te_write(a, te_new("run/fifo", AE_IFIFO | 0600), NULL, 0);
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_uint_eq(get(&bt, "dev/null")->mode, S_IFCHR | 0666);
	ck_assert_uint_eq(get(&bt, "dev/null")->data_off, (1ull << 32) | 3);
	ck_assert_uint_eq(get(&bt, "dev/big")->mode, S_IFBLK | 0660);
	ck_assert_uint_eq(get(&bt, "dev/big")->data_off, (259ull << 32) | 65537);
	ck_assert_uint_eq(get(&bt, "run/fifo")->mode, S_IFIFO | 0600);
	ck_assert_uint_eq(get(&bt, "run/fifo")->size, 0);
	ck_assert_uint_eq(lfs_index_header(bt.idx)->total_data, 0);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_xattrs)
{
	static const char cap[20] = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct archive_entry *e;
	struct built bt;
	const char *name;
	const void *val;
	uint32_t vlen;
	int seen_cap = 0, seen_user = 0, n = 0;

	e = te_new("bin/ping", AE_IFREG | 04755);
	archive_entry_set_size(e, 3);
	archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
	archive_entry_xattr_add_entry(e, "user.note", "hello", 5);
	archive_entry_xattr_add_entry(e, "user.empty", "", 0);
	te_write(a, e, "elf", 3);
	tw_file(a, "plain", "p");
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	const struct lfs_entry *f = get(&bt, "bin/ping");
	while (lfs_index_xattr(bt.idx, f, (uint32_t)n, &name, &val, &vlen) == 1) {
		if (!strcmp(name, "security.capability")) {
			ck_assert_uint_eq(vlen, sizeof(cap));
			ck_assert(!memcmp(val, cap, sizeof(cap)));
			seen_cap++;
		} else if (!strcmp(name, "user.note")) {
			ck_assert_uint_eq(vlen, 5);
			ck_assert(!memcmp(val, "hello", 5));
			seen_user++;
		} else {
			ck_assert_str_eq(name, "user.empty");
			ck_assert_uint_eq(vlen, 0);
		}
		n++;
	}
	/* each name once, although pax carries SCHILY. and LIBARCHIVE. copies */
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(seen_cap, 1);
	ck_assert_int_eq(seen_user, 1);
	assert_content(&bt, "bin/ping", "elf");
	ck_assert_uint_eq(get(&bt, "plain")->xattr, LFS_INDEX_NONE);
	ck_assert_int_eq(lfs_index_xattr(bt.idx, get(&bt, "plain"), 0, &name, &val, &vlen), 0);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_metadata)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct archive_entry *e;
	struct built bt;

	e = te_new("suid", AE_IFREG | 04755);
	archive_entry_set_mtime(e, 1234567890, 987654321);
	archive_entry_set_uid(e, 4000000000u);
	archive_entry_set_gid(e, 70000);
	te_write(a, e, NULL, 0);
	tw_dir(a, "tmp", 01777);
	tw_dir(a, "sgid", 02755);
	e = te_new("old", AE_IFREG | 0600);
	archive_entry_set_mtime(e, -100, 0);
	te_write(a, e, NULL, 0);
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	const struct lfs_entry *f = get(&bt, "suid");
	ck_assert_uint_eq(f->mode, S_IFREG | 04755);
	ck_assert_int_eq(f->mtime, 1234567890);
	ck_assert_uint_eq(f->mtime_ns, 987654321);
	ck_assert_uint_eq(f->uid, 4000000000u);
	ck_assert_uint_eq(f->gid, 70000);
	ck_assert_uint_eq(get(&bt, "tmp")->mode, S_IFDIR | 01777);
	ck_assert_uint_eq(get(&bt, "sgid")->mode, S_IFDIR | 02755);
	ck_assert_int_eq(get(&bt, "old")->mtime, -100);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

static void long_names_in(int format)
{
	lfs_buf tar = LFS_BUF_INIT, path = LFS_BUF_INIT, p2 = LFS_BUF_INIT, tgt = LFS_BUF_INIT;
	struct archive *a = tw_new(format, &tar);
	struct built bt;

	/* a 120-byte name, a 300-byte path, a 200-byte symlink target */
	for (int i = 0; i < 12; i++)
		lfs_buf_addstr(&path, "component");
	lfs_buf_addstr(&path, "/x");
	tw_file(a, path.data, "long1");
	for (int i = 0; i < 30; i++)
		lfs_buf_addstr(&p2, i ? "/dir456789" : "dir456789");
	lfs_buf_addstr(&p2, "/file with spaces\nand newline \xc3\xa9\xe2\x82\xac");
	tw_file(a, p2.data, "long2");
	for (int i = 0; i < 20; i++)
		lfs_buf_addstr(&tgt, "target/../");
	tw_symlink(a, "sym", tgt.data);
	tw_hardlink(a, "hl", p2.data);
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_tree(bt.idx);
	assert_content(&bt, path.data, "long1");
	assert_content(&bt, p2.data, "long2");
	assert_content(&bt, "hl", "long2");
	ck_assert_uint_eq(get(&bt, "hl")->nlink, 2);
	ck_assert_str_eq(lfs_index_symlink(bt.idx, get(&bt, "sym")), tgt.data);
	lfs_buf_reset(&path);
	lfs_index_path(bt.idx, lfs_index_lookup(bt.idx, p2.data), &path);
	ck_assert_str_eq(path.data, p2.data);
	built_release(&bt);
	lfs_buf_release(&tar);
	lfs_buf_release(&path);
	lfs_buf_release(&p2);
	lfs_buf_release(&tgt);
}

START_TEST(test_long_names_pax)
{
	long_names_in(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
}
END_TEST

START_TEST(test_long_names_gnu)
{
	long_names_in(ARCHIVE_FORMAT_TAR_GNUTAR);
}
END_TEST

START_TEST(test_ustar_and_binary_names)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_USTAR, &tar);
	struct built bt;

	/* ustar splits a 200-byte path into prefix and name */
	char p[201];
	memset(p, 'p', 200);
	p[100] = '/';
	p[200] = '\0';
	tw_file(a, p, "split");
	tw_file(a, "latin1-\xe9", "raw bytes");
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_content(&bt, p, "split");
	assert_content(&bt, "latin1-\xe9", "raw bytes");
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_whiteouts_and_opaque)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;
	const struct lfs_entry *e;

	tw_file(a, "etc/.wh.passwd", "");
	tw_file(a, "opq/.wh..wh..opq", "");
	tw_file(a, "opq/kept", "k");
	tw_file(a, "implicit/sub/.wh..wh..opq", "");
	tw_file(a, ".wh..wh.plnk", ""); /* aufs metadata: skipped */
	tw_file(a, "both/.wh.f", "");	/* whiteout then file: file stays */
	tw_file(a, "both/f", "F");
	tw_file(a, "both/g", "G"); /* file then whiteout: file stays */
	tw_file(a, "both/.wh.g", "");
	tw_file(a, "both/.wh.d", ""); /* whiteout then dir: opaque dir */
	tw_dir(a, "both/d", 0755);
	tw_dir(a, "both/e", 0755); /* dir then whiteout: opaque dir */
	tw_file(a, "both/e/x", "x");
	tw_file(a, "both/.wh.e", "");
	tw_file(a, ".wh.gone", "");
	tw_file(a, "gone/under", "u"); /* below a whiteout: opaque implicit dir */
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_tree(bt.idx);
	e = get(&bt, "etc/passwd");
	ck_assert_uint_eq(e->flags, LFS_E_WHITEOUT);
	ck_assert_uint_eq(e->mode, 0);
	ck_assert_uint_eq(get(&bt, "etc")->flags, LFS_E_IMPLICIT);
	assert_absent(&bt, "etc/.wh.passwd");
	ck_assert_uint_eq(get(&bt, "opq")->flags, LFS_E_IMPLICIT | LFS_E_OPAQUE);
	ck_assert_uint_eq(get(&bt, "opq")->nchild, 1);
	assert_absent(&bt, "opq/.wh..wh..opq");
	ck_assert_uint_eq(get(&bt, "implicit/sub")->flags, LFS_E_IMPLICIT | LFS_E_OPAQUE);
	ck_assert_uint_eq(get(&bt, "implicit/sub")->nchild, 0);
	assert_absent(&bt, ".wh..wh.plnk");
	assert_absent(&bt, "..wh.plnk");
	assert_content(&bt, "both/f", "F");
	assert_content(&bt, "both/g", "G");
	ck_assert_uint_eq(get(&bt, "both/d")->flags, LFS_E_OPAQUE);
	ck_assert_uint_eq(get(&bt, "both/e")->flags, LFS_E_OPAQUE);
	assert_content(&bt, "both/e/x", "x");
	ck_assert_uint_eq(get(&bt, "gone")->flags, LFS_E_IMPLICIT | LFS_E_OPAQUE);
	assert_content(&bt, "gone/under", "u");
	assert_absent(&bt, ".wh.gone");
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_duplicates_later_wins)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;

	tw_file(a, "f", "first");
	tw_file(a, "f", "second");
	tw_file(a, "d/child", "c");
	tw_file(a, "d/sub/deep", "c");
	tw_file(a, "d", "now a file"); /* dir replaced by file: children dropped */
	tw_file(a, "g", "file");
	tw_dir(a, "g", 0700); /* file replaced by dir */
	tw_file(a, "g/in", "in");
	tw_file(a, "h/x", "x"); /* implicit dir h, then an explicit one */
	tw_dir(a, "h", 0711);
	tw_file(a, "h/y", "y");
	tw_file(a, "k", "file");
	tw_file(a, "k/under", "u"); /* below a file: the file becomes a dir */
	tw_file(a, "r", "file");
	tw_dir(a, "r", 0755);
	tw_file(a, "r/a", "a");
	tw_file(a, "r", "file again");
	tw_dir(a, "r", 0755); /* back to a dir: the old children stay gone */
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	assert_tree(bt.idx);
	assert_content(&bt, "f", "second");
	assert_content(&bt, "d", "now a file");
	assert_absent(&bt, "d/child");
	assert_absent(&bt, "d/sub/deep");
	ck_assert_uint_eq(get(&bt, "g")->mode, S_IFDIR | 0700);
	assert_content(&bt, "g/in", "in");
	ck_assert_uint_eq(get(&bt, "h")->mode, S_IFDIR | 0711);
	ck_assert_uint_eq(get(&bt, "h")->flags, 0);
	ck_assert_uint_eq(get(&bt, "h")->nchild, 2);
	ck_assert_uint_eq(get(&bt, "k")->flags, LFS_E_IMPLICIT);
	assert_content(&bt, "k/under", "u");
	ck_assert_uint_eq(get(&bt, "r")->nchild, 0);
	assert_absent(&bt, "r/a");
	/* root, f, d, g, g/in, h, h/x, h/y, k, k/under, r */
	ck_assert_uint_eq(lfs_index_count(bt.idx), 11);
	ck_assert_uint_eq(lfs_index_header(bt.idx)->total_data,
			  strlen("second") + strlen("now a file") + 2 + 1 + 1 + 1);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_truncated_archive)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	char big[5000];
	struct built bt;

	memset(big, 'z', sizeof(big));
	tw_file(a, "first", "1");
	struct archive_entry *e = te_new("big", AE_IFREG | 0644);
	archive_entry_set_size(e, sizeof(big));
	te_write(a, e, big, sizeof(big));
	tw_end(a);
	/* cut inside big's data, and inside big's header */
	size_t cuts[] = {1024 + 512 + 2000, 1024 + 100, 700};
	for (size_t i = 0; i < 3; i++) {
		int fd = memfd_with(tar.data, cuts[i]);
		build_fd(&bt, fd, fd, 0);
		ck_assert_msg(bt.ret == -EIO, "cut %zu: %d %s", cuts[i], bt.ret, bt.err);
		built_release(&bt);
	}
	lfs_buf_release(&tar);
}
END_TEST

/* A GNU old-style sparse member ('S') whose map is empty: libarchive gives
 * it its full size and no data, so nothing in the tar backs it.  Found by
 * fuzz_index (tests/fuzz/corpus/index/regress-sparse-no-map.tar). */
START_TEST(test_sparse_without_map_refused)
{
	char tar[512 * 3];
	unsigned sum = 0;
	struct built bt;

	memset(tar, 0, sizeof(tar));
	memcpy(tar, "sp", 2);
	memcpy(tar + 100, "0000644", 7);
	memcpy(tar + 108, "0000000", 7);
	memcpy(tar + 116, "0000000", 7);
	memcpy(tar + 124, "00000000000", 11); /* stored data: none */
	memcpy(tar + 136, "14530500000", 11); /* mtime */
	tar[156] = 'S';			      /* GNU sparse */
	memcpy(tar + 257, "ustar  ", 8);      /* GNU magic + version */
	memcpy(tar + 483, "00003641100", 11); /* real size: 1000000 */
	memset(tar + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)tar[i];
	snprintf(tar + 148, 8, "%06o", sum);
	int fd = memfd_with(tar, sizeof(tar));
	build_fd(&bt, fd, fd, 0);
	ck_assert_msg(bt.ret == -EBADMSG, "%d %s", bt.ret, bt.err ? bt.err : "");
	ck_assert_msg(strstr(bt.err, "past the end of the layer"), "%s", bt.err);
	built_release(&bt);
}
END_TEST

START_TEST(test_garbage_and_empty_input)
{
	char junk[4096];
	struct built bt;
	int fd;

	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)rand();
	fd = memfd_with(junk, sizeof(junk));
	build_fd(&bt, fd, fd, 0);
	ck_assert_int_eq(bt.ret, -EIO);
	built_release(&bt);
	fd = memfd_with("", 0);
	build_fd(&bt, fd, fd, 0);
	ck_assert_int_eq(bt.ret, -EIO);
	built_release(&bt);
	/* zstd magic then junk: the zstd reader's message, not "not a tar" */
	fd = memfd_with("\x28\xb5\x2f\xfd\0\0\0\0", 8);
	build_fd(&bt, fd, fd, 0);
	ck_assert_int_eq(bt.ret, -EIO);
	ck_assert_msg(strstr(bt.err, "zstd"), "%s", bt.err);
	built_release(&bt);
}
END_TEST

START_TEST(test_empty_tar)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct built bt;

	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_uint_eq(lfs_index_count(bt.idx), 1);
	ck_assert_uint_eq(lfs_index_entry(bt.idx, 0)->nchild, 0);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_huge_size_rejected)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct built bt;

	raw_member(&tar, "huge", '0', 1ull << 60, NULL, NULL);
	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_int_eq(bt.ret, -EFBIG);
	ck_assert_msg(strstr(bt.err, "'huge'"), "%s", bt.err);
	built_release(&bt);
	lfs_buf_release(&tar);

	/* under the limit but past the end of the file: truncated */
	raw_member(&tar, "big", '0', 1ull << 40, NULL, NULL);
	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_int_eq(bt.ret, -EIO);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

START_TEST(test_name_too_long)
{
	lfs_buf tar = LFS_BUF_INIT, p = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;

	for (int i = 0; i < 410; i++)
		lfs_buf_addstr(&p, "abcdefghi/");
	tw_file(a, p.data, "x");
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_int_eq(bt.ret, -EFBIG);
	built_release(&bt);
	lfs_buf_release(&tar);
	lfs_buf_release(&p);
}
END_TEST

/* Each limit of lfs_limits.h: one past it is refused with -EFBIG and a
 * message naming the member and the limit; exactly at it is accepted. */
static void expect_limit(const lfs_buf *tar, const char *member, const char *limit)
{
	struct built bt;

	build_buf(&bt, tar);
	ck_assert_int_eq(bt.ret, -EFBIG);
	ck_assert_msg(strstr(bt.err, member) && strstr(bt.err, limit), "%s", bt.err);
	built_release(&bt);
}

static void expect_ok(const lfs_buf *tar)
{
	struct built bt;

	build_buf(&bt, tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	built_release(&bt);
}

/* A pax tar of one file at path, or of a symlink "link" to path. */
static void one_member(lfs_buf *tar, const char *path, int as_link_target)
{
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, tar);

	lfs_buf_reset(tar);
	if (as_link_target)
		tw_symlink(a, "link", path);
	else
		tw_file(a, path, "x");
	tw_end(a);
}

START_TEST(test_limit_name_and_path)
{
	char name[LFS_NAME_MAX + 2];
	lfs_buf tar = LFS_BUF_INIT, p = LFS_BUF_INIT;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	one_member(&tar, name, 0); /* 256 bytes */
	expect_limit(&tar, "nnnnnnnn", "LFS_NAME_MAX");
	name[LFS_NAME_MAX] = '\0';
	one_member(&tar, name, 0); /* 255 bytes */
	expect_ok(&tar);

	/* 16 components of 255 bytes and 15 slashes: 4095 */
	for (int i = 0; i < 16; i++) {
		if (i)
			lfs_buf_addch(&p, '/');
		lfs_buf_addstr(&p, name);
	}
	ck_assert_uint_eq(p.len, LFS_PATH_MAX);
	one_member(&tar, p.data, 0);
	expect_ok(&tar);
	one_member(&tar, p.data, 1);
	expect_ok(&tar);
	/* one byte more: the last component shrinks by 2, "/xy" is added */
	p.len -= 2;
	p.data[p.len] = '\0';
	lfs_buf_addstr(&p, "/xy");
	ck_assert_uint_eq(p.len, LFS_PATH_MAX + 1);
	one_member(&tar, p.data, 0);
	expect_limit(&tar, "nnnnnnnn", "LFS_PATH_MAX");
	one_member(&tar, p.data, 1);
	expect_limit(&tar, "'link'", "LFS_PATH_MAX");
	lfs_buf_release(&tar);
	lfs_buf_release(&p);
}
END_TEST

START_TEST(test_limit_entries)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_USTAR, &tar);
	struct lfs_index_build_opts o = {.max_entries = 10};
	char name[32];
	char *err = NULL;
	int tfd, ifd;

	for (int i = 0; i < 10; i++) { /* with the root: 11 entries */
		snprintf(name, sizeof(name), "f%d", i);
		tw_file(a, name, "x");
	}
	tw_end(a);
	tfd = memfd_with(tar.data, tar.len);
	ifd = memfd_create("idx", MFD_CLOEXEC);
	ck_assert_int_eq(lfs_index_build(tfd, ifd, &o, &err), -EFBIG);
	ck_assert_msg(strstr(err, "'f9'") && strstr(err, "LFS_ENTRIES_MAX") &&
			  strstr(err, "more than 10 entries"),
		      "%s", err);
	free(err);
	close(ifd);
	/* with room for 11 it fits */
	ck_assert_int_eq(lseek(tfd, 0, SEEK_SET), 0);
	o.max_entries = 11;
	ifd = memfd_create("idx", MFD_CLOEXEC);
	err = NULL;
	ck_assert_int_eq(lfs_index_build(tfd, ifd, &o, &err), 0);
	ck_assert_ptr_null(err);
	close(ifd);
	close(tfd);
	lfs_buf_release(&tar);
}
END_TEST

/* A file "xf" with count xattrs of value_len bytes, named "user.NNN"
 * padded with 'k' to name_len bytes. */
static void xattr_tar(lfs_buf *tar, int count, size_t name_len, size_t value_len)
{
	struct archive *a;
	struct archive_entry *e = te_new("xf", AE_IFREG | 0644);
	char *value = calloc(1, value_len + 1);
	char name[512];

	lfs_buf_reset(tar);
	a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, tar);
	memset(value, 'v', value_len);
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "user.%03d", i);
		memset(name + 8, 'k', name_len - 8);
		name[name_len] = '\0';
		archive_entry_xattr_add_entry(e, name, value, value_len);
	}
	archive_entry_set_size(e, 0);
	te_write(a, e, NULL, 0);
	tw_end(a);
	free(value);
}

START_TEST(test_limit_xattrs)
{
	lfs_buf tar = LFS_BUF_INIT;

	xattr_tar(&tar, 1, 10, LFS_XATTR_VALUE_MAX);
	expect_ok(&tar);
	xattr_tar(&tar, 1, 10, LFS_XATTR_VALUE_MAX + 1);
	expect_limit(&tar, "'xf'", "LFS_XATTR_VALUE_MAX");
	xattr_tar(&tar, 1, LFS_XATTR_NAME_MAX, 1);
	expect_ok(&tar);
	xattr_tar(&tar, 1, LFS_XATTR_NAME_MAX + 1, 1);
	expect_limit(&tar, "'xf'", "LFS_XATTR_NAME_MAX");
	/* 256 names of 255 bytes and a NUL: exactly 65536; one more is over */
	xattr_tar(&tar, 256, 255, 1);
	expect_ok(&tar);
	xattr_tar(&tar, 257, 255, 1);
	expect_limit(&tar, "'xf'", "LFS_XATTR_LIST_MAX");
	lfs_buf_release(&tar);
}
END_TEST

/* A pax header whose record length is wrong: libarchive only warns and
 * drops it; the index refuses the member (GNU tar and bsdtar fail too). */
START_TEST(test_malformed_pax_refused)
{
	static const char *records[] = {"10 path=evil\n", "999 path=evil\n", "-5 path=evil\n",
					"1x2 path=evil\n"};
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		lfs_buf tar = LFS_BUF_INIT;
		struct built bt;

		raw_member(&tar, "PaxHeaders/x", 'x', strlen(records[i]), NULL, records[i]);
		raw_member(&tar, "plain", '0', 2, NULL, "a\n");
		raw_end(&tar);
		build_buf(&bt, &tar);
		ck_assert_int_eq(bt.ret, -EINVAL);
		ck_assert_msg(strstr(bt.err, "'plain'") && strstr(bt.err, "malformed"), "%s: %s",
			      records[i], bt.err);
		built_release(&bt);
		lfs_buf_release(&tar);
	}
}
END_TEST

START_TEST(test_symlink_mode_0777)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct built bt;

	raw_member(&tar, "link", '2', 0, "target", NULL); /* header mode 0644 */
	raw_end(&tar);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_uint_eq(get(&bt, "link")->mode, S_IFLNK | 0777);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

struct feeder {
	int fd;
	const lfs_buf *data;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;
	/* small writes so the reader sees partial pipe contents */
	while (off < f->data->len) {
		size_t n = f->data->len - off < 777 ? f->data->len - off : 777;
		ssize_t w = write(f->fd, f->data->data + off, n);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

/* Builds from a pipe fed by a thread; read_fd serves the data reads. */
static void build_pipe(struct built *bt, const lfs_buf *data, int read_fd)
{
	int p[2];
	pthread_t t;
	struct feeder f;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f.fd = p[1];
	f.data = data;
	pthread_create(&t, NULL, feed, &f);
	build_fd(bt, p[0], read_fd, 64 << 10);
	pthread_join(t, NULL);
	close(p[0]);
}

START_TEST(test_pipe_input_matches_file)
{
	lfs_buf tar = LFS_BUF_INIT, a_idx = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built from_file, from_pipe;
	char big[100000];

	memset(big, 'q', sizeof(big));
	for (int i = 0; i < 50; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d%d/f%d", i % 7, i);
		struct archive_entry *e = te_new(name, AE_IFREG | 0644);
		archive_entry_set_size(e, (la_int64_t)(i * 1000));
		te_write(a, e, big, (size_t)i * 1000);
	}
	tw_end(a);
	build_buf(&from_file, &tar);
	ck_assert_int_eq(from_file.ret, 0);
	build_pipe(&from_pipe, &tar, -1);
	ck_assert_msg(from_pipe.ret == 0, "%s", from_pipe.err);
	ck_assert_uint_eq(lfs_index_header(from_pipe.idx)->src_size, tar.len);
	ck_assert_uint_eq(lfs_index_header(from_pipe.idx)->tar_size, tar.len);
	/* identical entries and strings */
	ck_assert_uint_eq(lfs_index_count(from_file.idx), lfs_index_count(from_pipe.idx));
	ck_assert(!memcmp(lfs_index_entry(from_file.idx, 0), lfs_index_entry(from_pipe.idx, 0),
			  lfs_index_count(from_file.idx) * sizeof(struct lfs_entry)));
	built_release(&from_file);
	built_release(&from_pipe);
	lfs_buf_release(&tar);
	lfs_buf_release(&a_idx);
}
END_TEST

START_TEST(test_input_from_current_offset)
{
	lfs_buf tar = LFS_BUF_INIT, pre = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct built bt;
	int fd;

	tw_file(a, "f", "content");
	tw_end(a);
	lfs_buf_addstr(&pre, "0123456789");
	lfs_buf_add(&pre, tar.data, tar.len);
	fd = memfd_with(pre.data, pre.len);
	ck_assert_int_eq(lseek(fd, 10, SEEK_SET), 10);
	build_fd(&bt, fd, -1, 0);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	/* offsets are relative to where the tar starts */
	char got[8];
	pread_all(fd, got, 7, get(&bt, "f")->data_off + 10);
	ck_assert(!memcmp(got, "content", 7));
	ck_assert_uint_eq(lfs_index_header(bt.idx)->src_size, tar.len);
	close(fd);
	built_release(&bt);
	lfs_buf_release(&tar);
	lfs_buf_release(&pre);
}
END_TEST

START_TEST(test_many_entries)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_USTAR, &tar);
	struct built bt;
	char name[64];
	enum { N = 100000 };

	/* 100k entries spread over 1000 directories exercise the hash table */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "usr/share/d%03d/file%06d", i % 1000, i);
		struct archive_entry *e = te_new(name, AE_IFREG | 0644);
		archive_entry_set_size(e, 1);
		te_write(a, e, "x", 1);
	}
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_uint_eq(lfs_index_count(bt.idx), N + 1000 + 3);
	ck_assert_uint_eq(lfs_index_header(bt.idx)->total_data, N);
	for (int i = 0; i < N; i += 997) {
		snprintf(name, sizeof(name), "usr/share/d%03d/file%06d", i % 1000, i);
		assert_content(&bt, name, "x");
	}
	struct stat st;
	fstat(bt.idx_fd, &st);
	/* the file: 80 bytes an entry plus names, well under 100 */
	ck_assert_int_lt(st.st_size, (off_t)(N + 1003) * 100);
	built_release(&bt);
	lfs_buf_release(&tar);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Corrupt index files.                                                */

static void index_bytes(lfs_buf *out)
{
	lfs_buf tar = LFS_BUF_INIT;
	struct archive *a = tw_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, &tar);
	struct archive_entry *e;
	struct built bt;
	struct stat st;

	tw_file(a, "a/b/c", "abc");
	tw_hardlink(a, "a/h", "a/b/c");
	tw_hardlink(a, "h2", "a/b/c");
	tw_symlink(a, "a/s", "b/c");
	tw_file(a, "a/.wh.w", "");
	tw_file(a, "o/.wh..wh..opq", "");
	e = te_new("x", AE_IFREG | 0644);
	archive_entry_xattr_add_entry(e, "user.a", "1", 1);
	archive_entry_xattr_add_entry(e, "user.b", "22", 2);
	te_write(a, e, NULL, 0);
	/* a sparse member, via the pax 0.1 attributes libarchive reads */
	e = te_new("sp", AE_IFREG | 0644);
	archive_entry_set_size(e, 10000);
	archive_entry_sparse_add_entry(e, 100, 10);
	archive_entry_sparse_add_entry(e, 5000, 10);
	te_write(a, e, "0123456789abcdefghij", 20);
	tw_end(a);
	build_buf(&bt, &tar);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	fstat(bt.idx_fd, &st);
	lfs_buf_reset(out);
	lfs_buf_zalloc(out, (size_t)st.st_size);
	pread_all(bt.idx_fd, out->data, (size_t)st.st_size, 0);
	built_release(&bt);
	lfs_buf_release(&tar);
}

static void fix_crc(lfs_buf *b)
{
	struct lfs_index_header *h = (void *)b->data;
	if (b->len < sizeof(*h))
		return;
	h->crc32 = 0;
	h->crc32 = (uint32_t)crc32_z(0, (const Bytef *)b->data, b->len);
}

/* Touches everything an accessor can reach. */
static void walk_all(const lfs_index *idx)
{
	lfs_buf p = LFS_BUF_INIT;
	for (uint32_t i = 0; i < lfs_index_count(idx); i++) {
		const struct lfs_entry *e = lfs_index_entry(idx, i);
		const char *name;
		const void *val;
		uint32_t vl, n;
		lfs_buf_reset(&p);
		lfs_index_path(idx, i, &p);
		(void)lfs_index_lookup(idx, p.data);
		(void)strlen(lfs_index_name(idx, e));
		if (lfs_index_symlink(idx, e))
			(void)strlen(lfs_index_symlink(idx, e));
		for (uint32_t k = 0; lfs_index_xattr(idx, e, k, &name, &val, &vl) == 1; k++)
			(void)strlen(name);
		const struct lfs_sparse_run *r = lfs_index_sparse(idx, e, &n);
		for (uint32_t k = 0; k < n; k++)
			ck_assert_uint_le(r[k].file_off + r[k].len, e->size);
		if (e->flags & LFS_E_HARDLINK)
			for (uint32_t j = e->link; j != i; j = lfs_index_entry(idx, j)->link)
				ck_assert_ptr_nonnull(lfs_index_entry(idx, j));
	}
	lfs_buf_release(&p);
}

START_TEST(test_index_roundtrip_accessors)
{
	lfs_buf b = LFS_BUF_INIT;
	lfs_index *idx;
	uint32_t n;

	index_bytes(&b);
	ck_assert_int_eq(lfs_index_open_mem(b.data, b.len, &idx), 0);
	assert_tree(idx);
	walk_all(idx);
	const struct lfs_entry *sp = lfs_index_entry(idx, lfs_index_lookup(idx, "sp"));
	ck_assert_uint_eq(sp->flags, LFS_E_SPARSE);
	const struct lfs_sparse_run *r = lfs_index_sparse(idx, sp, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].file_off, 100);
	ck_assert_uint_eq(r[1].file_off, 5000);
	ck_assert_uint_eq(r[1].tar_off, r[0].tar_off + 10);
	ck_assert_ptr_null(lfs_index_sparse(idx, lfs_index_entry(idx, 0), &n));
	ck_assert_uint_eq(n, 0);
	lfs_index_free(idx);
	lfs_buf_release(&b);
}
END_TEST

START_TEST(test_corrupt_index_rejected)
{
	lfs_buf good = LFS_BUF_INIT, b = LFS_BUF_INIT;
	lfs_index *idx;

	index_bytes(&good);
	/* every truncation */
	for (size_t len = 0; len < good.len; len++)
		ck_assert_int_eq(lfs_index_open_mem(good.data, len, &idx), -EBADMSG);
	/* trailing junk */
	lfs_buf_add(&b, good.data, good.len);
	lfs_buf_addch(&b, 0);
	ck_assert_int_eq(lfs_index_open_mem(b.data, b.len, &idx), -EBADMSG);
	/* every single-byte flip is caught by the CRC (or the magic) */
	for (size_t i = 0; i < good.len; i++) {
		lfs_buf_reset(&b);
		lfs_buf_add(&b, good.data, good.len);
		b.data[i] ^= 0x5a;
		int ret = lfs_index_open_mem(b.data, b.len, &idx);
		ck_assert_msg(ret == -EBADMSG || (ret == -ENOEXEC && i >= 8 && i < 12),
			      "flip at %zu: %d", i, ret);
	}
	lfs_buf_release(&good);
	lfs_buf_release(&b);
}
END_TEST

/* With the CRC fixed up, random damage must be rejected or harmless:
 * under ASan this proves validation keeps accessors in bounds. */
START_TEST(test_corrupt_index_fixed_crc_no_crash)
{
	lfs_buf good = LFS_BUF_INIT, b = LFS_BUF_INIT;
	lfs_index *idx;
	int opened = 0, rejected = 0;

	index_bytes(&good);
	srand(12345);
	for (int iter = 0; iter < 20000; iter++) {
		lfs_buf_reset(&b);
		lfs_buf_add(&b, good.data, good.len);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++) {
			size_t at =
			    sizeof(struct lfs_index_header) - 8 +
			    (size_t)rand() % (good.len - sizeof(struct lfs_index_header) + 8);
			if (rand() % 4 == 0)
				at = (size_t)rand() % good.len;
			if (rand() % 2)
				b.data[at] ^= (char)(1 << (rand() % 8));
			else
				b.data[at] = (char)rand();
		}
		fix_crc(&b);
		int ret = lfs_index_open_mem(b.data, b.len, &idx);
		if (ret == 0) {
			walk_all(idx);
			lfs_index_free(idx);
			opened++;
		} else {
			ck_assert_msg(ret == -EBADMSG || ret == -ENOEXEC, "ret %d", ret);
			rejected++;
		}
	}
	ck_assert_int_gt(rejected, 1000);
	lfs_buf_release(&good);
	lfs_buf_release(&b);
}
END_TEST

START_TEST(test_other_version)
{
	lfs_buf b = LFS_BUF_INIT;
	lfs_index *idx;
	char path[] = "/tmp/check_index_vXXXXXX";
	int fd;

	index_bytes(&b);
	((struct lfs_index_header *)b.data)->version = LFS_INDEX_VERSION + 1;
	ck_assert_int_eq(lfs_index_open_mem(b.data, b.len, &idx), -ENOEXEC);
	fix_crc(&b);
	fd = mkostemp(path, O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	ck_assert_int_eq(lfs_index_open(fd, &idx), -ENOEXEC);
	ck_assert_ptr_null(idx);
	/* and an empty file is corrupt, not a crash */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(lfs_index_open(fd, &idx), -EBADMSG);
	close(fd);
	lfs_buf_release(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* GNU tar fixtures: offsets checked against what tar -x extracts.      */

static char *g_dir;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	lfs_buf cmd = LFS_BUF_INIT;
	va_list ap;
	int st;

	va_start(ap, fmt);
	lfs_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	st = system(cmd.data);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed: %s", cmd.data);
	lfs_buf_release(&cmd);
}

static void write_at(const char *path, off_t off, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, strlen(data), off), (ssize_t)strlen(data));
	close(fd);
}

static void make_sparse(const char *dir, const char *name, off_t size, int nruns, off_t step,
			off_t first)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
	for (int i = 0; i < nruns; i++) {
		char data[64];
		snprintf(data, sizeof(data), "run %d of %s|", i, name);
		write_at(path, first + step * i, data);
	}
}

static void make_tree(const char *src)
{
	lfs_buf longp = LFS_BUF_INIT;

	run("mkdir -p %s/dir/sub && cd %s && "
	    "printf hello > dir/small && : > empty && "
	    "head -c 300000 /dev/urandom > dir/random && "
	    "printf 'x' > 'dir/with space' && printf 'y' > \"$(printf 'nl\\nname')\" && "
	    "printf 'u' > \"$(printf 'utf8-\\303\\251')\" && "
	    "ln -s dir/small link && ln dir/small dir/sub/hard && "
	    "chmod 4755 dir/random && chmod 1777 dir/sub && mkfifo fifo && "
	    "chown -h 1234:5678 link && touch -h -d @1000000000 link && "
	    "{ mknod chr c 1 3 && mknod blk b 259 65537 || true; } 2>/dev/null",
	    src, src);
	/* long names: a 150-byte component, a 300-byte path */
	lfs_buf_addf(&longp, "%s/", src);
	for (int i = 0; i < 15; i++)
		lfs_buf_addstr(&longp, "0123456789");
	write_at(longp.data, 0, "long name");
	lfs_buf_reset(&longp);
	lfs_buf_addf(&longp, "%s", src);
	for (int i = 0; i < 6; i++) {
		lfs_buf_addstr(&longp, "/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw");
		mkdir(longp.data, 0755);
	}
	lfs_buf_addstr(&longp, "/f");
	write_at(longp.data, 0, "deep");
	lfs_buf_release(&longp);
	/* sparse: holes at both ends; > 4 runs (GNU extension headers) and
	 * > 512 bytes of pax 1.0 map; data at both ends; nothing but a hole;
	 * runs not block aligned */
	make_sparse(src, "sp_basic", 10 << 20, 3, 2000000, 4096);
	make_sparse(src, "sp_many", 50 << 20, 100, 300000, 300000);
	make_sparse(src, "sp_ends", 3 << 20, 2, (3 << 20) - 100, 0);
	make_sparse(src, "sp_empty", 1 << 20, 0, 0, 0);
	make_sparse(src, "sp_odd", 1000003, 7, 131071, 12345);
}

static const lfs_index *g_idx;
static const char *g_out;
static int g_tar_fd;
static lfs_gz_index *g_gz;
static uint32_t g_seen;

/* nftw over the extraction: every path is in the index with the same type,
 * mode, size, link target and contents. */
static int compare_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	const char *rel = p + strlen(g_out);
	uint32_t n;
	const struct lfs_entry *e;
	lfs_buf got = LFS_BUF_INIT, want = LFS_BUF_INIT;

	(void)flag, (void)f;
	if (*rel == '/')
		rel++;
	n = lfs_index_lookup(g_idx, rel);
	ck_assert_msg(n != LFS_INDEX_NONE, "'%s' extracted but not indexed", rel);
	e = lfs_index_entry(g_idx, n);
	g_seen++;
	if (!*rel)
		return 0;
	ck_assert_msg((e->mode & S_IFMT) == (st->st_mode & S_IFMT), "type of %s", rel);
	if (!S_ISLNK(st->st_mode))
		ck_assert_msg(e->mode == st->st_mode, "mode of %s: %o vs %o", rel, e->mode,
			      st->st_mode);
	ck_assert_uint_eq(e->nlink, S_ISREG(st->st_mode) ? st->st_nlink : 1);
	ck_assert_uint_eq(e->uid, st->st_uid);
	ck_assert_uint_eq(e->gid, st->st_gid);
	ck_assert_int_eq(e->mtime, st->st_mtim.tv_sec);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		ck_assert_uint_eq(e->data_off,
				  ((uint64_t)major(st->st_rdev) << 32) | minor(st->st_rdev));
	if (S_ISLNK(st->st_mode)) {
		char t[4096];
		ssize_t l = readlink(p, t, sizeof(t) - 1);
		t[l] = '\0';
		ck_assert_str_eq(lfs_index_symlink(g_idx, e), t);
	}
	if (S_ISREG(st->st_mode)) {
		ck_assert_msg(e->size == (uint64_t)st->st_size, "size of %s", rel);
		read_entry(g_tar_fd, g_gz, g_idx, e, &got);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		lfs_buf_zalloc(&want, (size_t)st->st_size);
		if (st->st_size)
			pread_all(fd, want.data, (size_t)st->st_size, 0);
		close(fd);
		ck_assert_msg(!memcmp(got.data, want.data, want.len), "contents of %s differ", rel);
	}
	lfs_buf_release(&got);
	lfs_buf_release(&want);
	return 0;
}

/* Archives src with GNU tar options opts, extracts it with tar -x, and
 * compares the index (read through the recorded offsets) with the result.
 * Returns the number of sparse entries seen. */
static int check_gnu_tar_members(const char *opts, int gzip, const char *members)
{
	char tarp[600], out[600];
	struct built bt;
	int fd, nsparse = 0;

	snprintf(tarp, sizeof(tarp), "%s/layer.tar%s", g_dir, gzip ? ".gz" : "");
	snprintf(out, sizeof(out), "%s/out", g_dir);
	run("rm -rf %s && mkdir %s && tar -C %s/src %s -cf %s %s && tar -C %s -xpf %s", out, out,
	    g_dir, opts, tarp, members, out, tarp);
	fd = open(tarp, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	build_fd(&bt, fd, fd, 1 << 16);
	ck_assert_msg(bt.ret == 0, "%s: %s", opts, bt.err);
	assert_tree(bt.idx);
	g_gz = NULL;
	if (gzip) {
		size_t len;
		const void *gd = lfs_index_gzip_data(bt.idx, &len);
		ck_assert_uint_eq(lfs_index_header(bt.idx)->compression, LFS_COMP_GZIP);
		ck_assert_int_eq(lfs_gz_index_open(gd, len, &g_gz), 0);
	}
	g_idx = bt.idx;
	g_out = out;
	g_tar_fd = fd;
	g_seen = 0;
	ck_assert_int_eq(nftw(out, compare_cb, 16, FTW_PHYS), 0);
	/* nothing indexed that tar did not extract */
	ck_assert_uint_eq(g_seen, lfs_index_count(bt.idx));
	for (uint32_t i = 0; i < lfs_index_count(bt.idx); i++)
		nsparse += !!(lfs_index_entry(bt.idx, i)->flags & LFS_E_SPARSE);
	lfs_gz_index_free(g_gz);
	g_gz = NULL;
	built_release(&bt);
	return nsparse;
}

static int check_gnu_tar(const char *opts, int gzip)
{
	return check_gnu_tar_members(opts, gzip, ".");
}

static void gnu_setup(void)
{
	char tmpl[] = "/tmp/check_index.XXXXXX", src[600];
	g_dir = strdup(mkdtemp(tmpl));
	snprintf(src, sizeof(src), "%s/src", g_dir);
	mkdir(src, 0755);
	make_tree(src);
}

static void gnu_teardown(void)
{
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(g_dir);
}

START_TEST(test_gnu_tar_gnu_format_sparse)
{
	ck_assert_int_eq(check_gnu_tar("--format=gnu --sparse", 0), 5);
}
END_TEST

START_TEST(test_gnu_tar_oldgnu_format_sparse)
{
	ck_assert_int_eq(check_gnu_tar("--format=oldgnu --sparse", 0), 5);
}
END_TEST

START_TEST(test_gnu_tar_pax_sparse_0_0)
{
	ck_assert_int_eq(check_gnu_tar("--format=pax --sparse --sparse-version=0.0", 0), 5);
}
END_TEST

START_TEST(test_gnu_tar_pax_sparse_0_1)
{
	ck_assert_int_eq(check_gnu_tar("--format=pax --sparse --sparse-version=0.1", 0), 5);
}
END_TEST

START_TEST(test_gnu_tar_pax_sparse_1_0)
{
	ck_assert_int_eq(check_gnu_tar("--format=pax --sparse --sparse-version=1.0", 0), 5);
}
END_TEST

START_TEST(test_gnu_tar_pax_not_sparse)
{
	ck_assert_int_eq(check_gnu_tar("--format=pax", 0), 0);
}
END_TEST

START_TEST(test_gnu_tar_ustar)
{
	/* ustar cannot hold the long names: archive the short ones */
	ck_assert_int_eq(
	    check_gnu_tar_members("--format=ustar", 0, "./dir ./link ./empty ./fifo ./sp_odd"), 0);
}
END_TEST

START_TEST(test_gnu_tar_gzip)
{
	ck_assert_int_eq(check_gnu_tar("--format=pax --sparse --sparse-version=1.0 -z", 1), 5);
	ck_assert_int_eq(check_gnu_tar("--format=gnu --sparse -z", 1), 5);
}
END_TEST

START_TEST(test_gzip_from_pipe)
{
	char tarp[600];
	lfs_buf gz = LFS_BUF_INIT;
	struct built bt;
	struct stat st;
	int fd;

	snprintf(tarp, sizeof(tarp), "%s/p.tar.gz", g_dir);
	run("tar -C %s/src --format=gnu -czf %s .", g_dir, tarp);
	fd = open(tarp, O_RDONLY | O_CLOEXEC);
	fstat(fd, &st);
	lfs_buf_zalloc(&gz, (size_t)st.st_size);
	pread_all(fd, gz.data, gz.len, 0);
	build_pipe(&bt, &gz, fd);
	ck_assert_msg(bt.ret == 0, "%s", bt.err);
	ck_assert_uint_eq(lfs_index_header(bt.idx)->compression, LFS_COMP_GZIP);
	size_t len;
	lfs_gz_index *gi;
	/* two statements: len is set by the first call */
	const void *gd = lfs_index_gzip_data(bt.idx, &len);
	ck_assert_int_eq(lfs_gz_index_open(gd, len, &gi), 0);
	lfs_buf got = LFS_BUF_INIT;
	read_entry(fd, gi, bt.idx, get(&bt, "dir/small"), &got);
	ck_assert_str_eq(got.data, "hello");
	lfs_gz_index_free(gi);
	lfs_buf_release(&got);
	built_release(&bt);
	lfs_buf_release(&gz);
}
END_TEST

START_TEST(test_gzip_truncated)
{
	char tarp[600];
	struct built bt;
	struct stat st;
	int fd;

	snprintf(tarp, sizeof(tarp), "%s/t.tar.gz", g_dir);
	run("tar -C %s/src --format=gnu -czf %s dir", g_dir, tarp);
	fd = open(tarp, O_RDWR | O_CLOEXEC);
	fstat(fd, &st);
	ck_assert_int_eq(ftruncate(fd, st.st_size / 2), 0);
	build_fd(&bt, fd, fd, 0);
	ck_assert_msg(bt.ret == -EIO, "%d %s", bt.ret, bt.err);
	built_release(&bt);
}
END_TEST

static Suite *index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *t = tcase_create("build");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_layout_sizes);
	tcase_add_test(t, test_tree_sorted_lookup_path);
	tcase_add_test(t, test_name_normalisation);
	tcase_add_test(t, test_dotdot_rejected);
	tcase_add_test(t, test_hardlinks);
	tcase_add_test(t, test_hardlink_bad_targets);
	tcase_add_test(t, test_hardlink_to_symlink_and_device);
	tcase_add_test(t, test_devices_fifos);
	tcase_add_test(t, test_xattrs);
	tcase_add_test(t, test_metadata);
	tcase_add_test(t, test_long_names_pax);
	tcase_add_test(t, test_long_names_gnu);
	tcase_add_test(t, test_ustar_and_binary_names);
	tcase_add_test(t, test_whiteouts_and_opaque);
	tcase_add_test(t, test_duplicates_later_wins);
	tcase_add_test(t, test_truncated_archive);
	tcase_add_test(t, test_garbage_and_empty_input);
	tcase_add_test(t, test_sparse_without_map_refused);
	tcase_add_test(t, test_empty_tar);
	tcase_add_test(t, test_huge_size_rejected);
	tcase_add_test(t, test_name_too_long);
	tcase_add_test(t, test_limit_name_and_path);
	tcase_add_test(t, test_limit_entries);
	tcase_add_test(t, test_limit_xattrs);
	tcase_add_test(t, test_malformed_pax_refused);
	tcase_add_test(t, test_symlink_mode_0777);
	tcase_add_test(t, test_pipe_input_matches_file);
	tcase_add_test(t, test_input_from_current_offset);
	tcase_add_test(t, test_many_entries);
	suite_add_tcase(s, t);

	t = tcase_create("validate");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, test_index_roundtrip_accessors);
	tcase_add_test(t, test_corrupt_index_rejected);
	tcase_add_test(t, test_corrupt_index_fixed_crc_no_crash);
	tcase_add_test(t, test_other_version);
	suite_add_tcase(s, t);

	t = tcase_create("gnu_tar");
	tcase_set_timeout(t, 300);
	tcase_add_checked_fixture(t, gnu_setup, gnu_teardown);
	tcase_add_test(t, test_gnu_tar_gnu_format_sparse);
	tcase_add_test(t, test_gnu_tar_oldgnu_format_sparse);
	tcase_add_test(t, test_gnu_tar_pax_sparse_0_0);
	tcase_add_test(t, test_gnu_tar_pax_sparse_0_1);
	tcase_add_test(t, test_gnu_tar_pax_sparse_1_0);
	tcase_add_test(t, test_gnu_tar_pax_not_sparse);
	tcase_add_test(t, test_gnu_tar_ustar);
	tcase_add_test(t, test_gnu_tar_gzip);
	tcase_add_test(t, test_gzip_from_pipe);
	tcase_add_test(t, test_gzip_truncated);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* The writer needs a UTF-8 locale for UTF-8 pax names; the builder
	 * must give the same raw bytes whatever the caller's locale. */
	setlocale(LC_ALL, "C.UTF-8");
	sr = srunner_create(index_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
