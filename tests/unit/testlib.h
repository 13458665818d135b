/* Test helpers: write tar layers in memory with libarchive's writer and
 * open them as lfs_layer objects in a temporary directory. */
#ifndef LAYERFS_TESTLIB_H
#define LAYERFS_TESTLIB_H

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"

/* One tar member.  type: 'f' file (data = contents), 'd' dir, 'l' symlink
 * (data = target), 'h' hard link (data = target member), 'c'/'b' device
 * (rdev major 1 minor 3), 'p' fifo.  mode 0 = a default for the type. */
struct tmember {
	char type;
	const char *path;
	unsigned mode;
	const char *data;
	unsigned uid, gid;
	const char *xattr; /* "name=value" or NULL */
};

static char *t_dir;
static int t_nlayers;

static inline void t_setup(void)
{
	char tmpl[] = "/tmp/layerfs-test-XXXXXX";
	t_dir = strdup(mkdtemp(tmpl));
	t_nlayers = 0;
}

static inline int t_rm(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static inline void t_teardown(void)
{
	nftw(t_dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(t_dir);
}

static inline unsigned t_default_mode(char type)
{
	switch (type) {
	case 'd':
		return AE_IFDIR | 0755;
	case 'l':
		return AE_IFLNK | 0777;
	case 'c':
		return AE_IFCHR | 0600;
	case 'b':
		return AE_IFBLK | 0600;
	case 'p':
		return AE_IFIFO | 0644;
	default:
		return AE_IFREG | 0644;
	}
}

static inline void t_write_member(struct archive *a, const struct tmember *m)
{
	struct archive_entry *e = archive_entry_new();
	unsigned type = t_default_mode(m->type) & AE_IFMT;
	archive_entry_set_pathname(e, m->path);
	archive_entry_set_mode(e, type | (m->mode ? m->mode & 07777 : t_default_mode(m->type) & 07777));
	archive_entry_set_uid(e, m->uid);
	archive_entry_set_gid(e, m->gid);
	archive_entry_set_mtime(e, 1700000000, 123456789);
	if (m->type == 'l')
		archive_entry_set_symlink(e, m->data);
	if (m->type == 'h') {
		archive_entry_set_hardlink(e, m->data);
		archive_entry_set_size(e, 0);
	}
	if (m->type == 'c' || m->type == 'b') {
		archive_entry_set_rdevmajor(e, 1);
		archive_entry_set_rdevminor(e, 3);
	}
	if (m->xattr) {
		const char *eq = strchr(m->xattr, '=');
		char *name = strndup(m->xattr, (size_t)(eq - m->xattr));
		archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
		free(name);
	}
	size_t len = m->type == 'f' && m->data ? strlen(m->data) : 0;
	if (m->type == 'f')
		archive_entry_set_size(e, (la_int64_t)len);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		ck_assert_int_eq(archive_write_data(a, m->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/* Writes members[0..n) as a pax tar in t_dir and returns its path. */
static inline char *t_tar(const struct tmember *members, size_t n)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/layer%d.tar", t_dir, t_nlayers++), 0);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		t_write_member(a, &members[i]);
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

/* Writes and opens a layer (its index beside it). */
static inline lfs_layer *t_layer(const struct tmember *members, size_t n)
{
	char *tar = t_tar(members, n), *idx, *err = NULL;
	ck_assert_int_ge(asprintf(&idx, "%s.idx", tar), 0);
	lfs_layer *l = NULL;
	int ret = lfs_layer_open(tar, idx, 0, &l, &err);
	ck_assert_msg(ret == 0, "lfs_layer_open(%s): %d %s", tar, ret, err ? err : "");
	free(tar);
	free(idx);
	return l;
}

#define T_LAYER(...)                                                                               \
	({                                                                                         \
		static const struct tmember m_[] = {__VA_ARGS__};                                  \
		t_layer(m_, sizeof(m_) / sizeof(m_[0]));                                           \
	})

#endif
