/* tree_tar — the merged tree of a union as one tar (see tree_tar.h). */
#include "tree_tar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "util.h"

#define DATA_CHUNK (256u << 10)
#define MAX_DEPTH  4096

struct seen {
	uint64_t id;
	char *path;
};

struct tt {
	lfs_union *u;
	struct archive *a;
	struct seen *seen; /* hard-linked nodes already written */
	size_t nseen;
	char *data;
	error **err;
};

struct child {
	char *name;
	uint64_t id;
};

struct children {
	struct child *v;
	size_t n;
};

static int collect(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct children *c = ctx;
	(void)type;
	(void)cookie;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	c->v = lfs_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n].name = lfs_xstrdup(name);
	c->v[c->n++].id = id;
	return 0;
}

static void children_release(struct children *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
}

static int union_fail(struct tt *t, int r, const char *path)
{
	return error_make(t->err, -r, "reading '/%s' from the image", path);
}

static int arch_fail(struct tt *t, const char *path)
{
	return error_make(t->err, archive_errno(t->a) > 0 ? archive_errno(t->a) : EIO,
			  "writing '/%s' to the tar: %s", path, archive_error_string(t->a));
}

static void add_xattrs(struct tt *t, uint64_t id, struct archive_entry *ae)
{
	ssize_t n = lfs_union_listxattr(t->u, id, NULL, 0);
	if (n <= 0)
		return;
	cleanup_free char *names = lfs_xmalloc((size_t)n);
	n = lfs_union_listxattr(t->u, id, names, (size_t)n);
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *nm = names + off;
		ssize_t vl = lfs_union_getxattr(t->u, id, nm, NULL, 0);
		if (vl < 0)
			continue;
		cleanup_free char *v = lfs_xmalloc(vl ? (size_t)vl : 1);
		vl = lfs_union_getxattr(t->u, id, nm, v, (size_t)vl);
		if (vl >= 0)
			archive_entry_xattr_add_entry(ae, nm, v, (size_t)vl);
	}
}

static int write_data(struct tt *t, uint64_t id, uint64_t size, const char *path)
{
	for (uint64_t off = 0; off < size;) {
		ssize_t n = lfs_union_read(t->u, id, t->data, DATA_CHUNK, off);
		if (n < 0)
			return union_fail(t, (int)n, path);
		if (n == 0)
			return error_make(t->err, EIO, "'/%s' is shorter than its size", path);
		if (archive_write_data(t->a, t->data, (size_t)n) != n)
			return arch_fail(t, path);
		off += (uint64_t)n;
	}
	return 0;
}

/* The path a hard-linked node was first written under, or NULL (and it is
 * remembered under path). */
static const char *seen_link(struct tt *t, uint64_t id, const char *path)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (t->seen[i].id == id)
			return t->seen[i].path;
	t->seen = lfs_xrealloc(t->seen, (t->nseen + 1) * sizeof(*t->seen));
	t->seen[t->nseen].id = id;
	t->seen[t->nseen++].path = lfs_xstrdup(path);
	return NULL;
}

static int write_node(struct tt *t, uint64_t id, const char *path, int depth);

static int write_dir(struct tt *t, uint64_t id, const char *path, int depth)
{
	struct children c = {0};
	int r = lfs_union_readdir(t->u, id, 0, collect, &c);
	if (r < 0) {
		children_release(&c);
		return union_fail(t, r, path);
	}
	int ret = 0;
	for (size_t i = 0; i < c.n && ret == 0; i++) {
		cleanup_free char *p =
		    *path ? lfs_xasprintf("%s/%s", path, c.v[i].name) : lfs_xstrdup(c.v[i].name);
		ret = write_node(t, c.v[i].id, p, depth + 1);
	}
	children_release(&c);
	return ret;
}

static int write_node(struct tt *t, uint64_t id, const char *path, int depth)
{
	if (depth > MAX_DEPTH)
		return error_make(t->err, ELOOP, "'/%s': directories nested too deep", path);
	struct stat st;
	int r = lfs_union_getattr(t->u, id, &st);
	if (r < 0)
		return union_fail(t, r, path);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_copy_stat(ae, &st);
	archive_entry_set_pathname(ae, *path ? path : ".");
	archive_entry_set_ino(ae, 0);
	archive_entry_set_dev(ae, 0);
	archive_entry_set_nlink(ae, 1);
	const char *link = NULL;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		link = seen_link(t, id, path);
	int ret = 0;
	if (link) {
		archive_entry_set_hardlink(ae, link);
		archive_entry_set_size(ae, 0);
	} else if (S_ISLNK(st.st_mode)) {
		cleanup_buf lfs_buf target = LFS_BUF_INIT;
		r = lfs_union_readlink(t->u, id, &target);
		if (r < 0)
			ret = union_fail(t, r, path);
		archive_entry_set_symlink(ae, target.data);
		archive_entry_set_size(ae, 0);
	} else if (!S_ISREG(st.st_mode)) {
		archive_entry_set_size(ae, 0);
	}
	if (ret == 0)
		add_xattrs(t, id, ae);
	if (ret == 0 && archive_write_header(t->a, ae) != ARCHIVE_OK)
		ret = arch_fail(t, path);
	archive_entry_free(ae);
	if (ret == 0 && !link && S_ISREG(st.st_mode))
		ret = write_data(t, id, (uint64_t)st.st_size, path);
	if (ret == 0 && S_ISDIR(st.st_mode))
		ret = write_dir(t, id, path, depth);
	return ret;
}

int tree_tar_write_node(lfs_union *u, uint64_t id, const char *name, int out_fd, error **err)
{
	struct tt t = {.u = u, .a = archive_write_new(), .err = err};
	archive_write_set_format_pax_restricted(t.a);
	archive_write_set_bytes_in_last_block(t.a, 1);
	if (archive_write_open_fd(t.a, out_fd) != ARCHIVE_OK) {
		int ret = error_make(err, EIO, "opening the output: %s", archive_error_string(t.a));
		archive_write_free(t.a);
		return ret;
	}
	t.data = lfs_xmalloc(DATA_CHUNK);
	int ret = write_node(&t, id, name, 0);
	if (archive_write_close(t.a) != ARCHIVE_OK && ret == 0)
		ret = error_make(err, EIO, "finishing the tar: %s", archive_error_string(t.a));
	archive_write_free(t.a);
	for (size_t i = 0; i < t.nseen; i++)
		free(t.seen[i].path);
	free(t.seen);
	free(t.data);
	return ret;
}

int tree_tar_write(lfs_union *u, int out_fd, error **err)
{
	return tree_tar_write_node(u, LFS_ROOT_ID, "", out_fd, err);
}
