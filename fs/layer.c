/* lfs_layer — a tar blob and its index (see layer.h).
 *
 * A zstd layer whose frames are too large to enter in the middle
 * (LFS_ZST_COPY) is read from a decompressed copy kept beside its index
 * (INDEX.tar).  The copy is derived data like the index: written to a
 * temporary file, fsync'd and renamed, so one with the tar's size is
 * complete; anything else is made again.  When the layer is indexed here
 * the copy is written in the same pass; otherwise on first open. */
#include "layer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gz.h"
#include "zst.h"

struct lfs_layer {
	int fd; /* the tar, or the directory (O_PATH) of a directory layer */
	int is_dir;
	char *path;
	uint64_t size;
	lfs_index *idx;
	lfs_gz_index *gz;   /* LFS_COMP_GZIP only */
	lfs_zst_index *zst; /* LFS_COMP_ZSTD only */
	int data_fd;	    /* what plain reads pread: fd, or the decompressed copy */
};

__attribute__((format(printf, 3, 4))) static int set_err(char **err, int ret, const char *fmt, ...)
{
	if (err) {
		lfs_buf m = LFS_BUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		lfs_buf_vaddf(&m, fmt, ap);
		va_end(ap);
		free(*err);
		*err = lfs_buf_detach(&m, NULL);
	}
	return ret;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* An existing index is used only when it validates and describes this tar. */
static int try_existing(const char *index_path, const struct stat *st, unsigned flags,
			lfs_index **out)
{
	int fd = open(index_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	lfs_index *idx;
	int ret = lfs_index_open(fd, &idx);
	close(fd);
	if (ret)
		return ret;
	const struct lfs_index_header *h = lfs_index_header(idx);
	if (h->src_size != (uint64_t)st->st_size ||
	    ((flags & LFS_LAYER_CHECK_MTIME) && h->src_mtime_ns != mtime_ns(st))) {
		lfs_index_free(idx);
		return -ESTALE;
	}
	*out = idx;
	return 0;
}

/* Creates the file that receives a new index: a temporary file beside
 * index_path, or an anonymous memory file when that directory is not
 * writable.  *tmp is set to the temporary's name (NULL for memory). */
static int index_tmpfile(const char *index_path, char **tmp)
{
	lfs_buf t = LFS_BUF_INIT;
	lfs_buf_addf(&t, "%s.tmp.XXXXXX", index_path);
	int fd = mkostemp(t.data, O_CLOEXEC);
	if (fd >= 0) {
		*tmp = lfs_buf_detach(&t, NULL);
		return fd;
	}
	lfs_buf_release(&t);
	*tmp = NULL;
	if (errno != EACCES && errno != EROFS && errno != EPERM && errno != ENOENT)
		return -errno;
	fd = memfd_create("layerfs-index", MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static char *copy_path(const char *index_path)
{
	return lfs_xasprintf("%s.tar", index_path);
}

/* A decompressed copy being written: a temporary file beside its final
 * name (or a memory file), and the first write error. */
struct copy {
	int fd;
	int err;
	char *tmp;
	char *path;
};

static int copy_start(struct copy *c, const char *index_path)
{
	memset(c, 0, sizeof(*c));
	c->path = copy_path(index_path);
	c->fd = index_tmpfile(c->path, &c->tmp);
	return c->fd < 0 ? c->fd : 0;
}

static void copy_tap(void *arg, const void *data, size_t len)
{
	struct copy *c = arg;
	if (!c->err)
		c->err = lfs_write_all(c->fd, data, len);
}

/* Makes the copy durable under its name; on success the caller owns c->fd
 * (the copy, open for reading). */
static int copy_commit(struct copy *c)
{
	if (c->err)
		return c->err;
	if (c->tmp && (fsync(c->fd) < 0 || rename(c->tmp, c->path) < 0))
		return -errno;
	free(c->tmp);
	c->tmp = NULL;
	return 0;
}

static void copy_release(struct copy *c, int keep_fd)
{
	if (c->tmp)
		unlink(c->tmp);
	if (!keep_fd && c->fd >= 0)
		close(c->fd);
	free(c->tmp);
	free(c->path);
}

static int is_zstd(int fd)
{
	unsigned char m[4];
	return pread(fd, m, sizeof(m), 0) == 4 && !memcmp(m, "\x28\xb5\x2f\xfd", 4);
}

static int build_index(int tar_fd, const char *tar_path, const char *index_path,
		       const struct stat *st, lfs_index **out, struct copy *cp, char **err)
{
	char *tmp = NULL, *msg = NULL;
	int ofd = index_tmpfile(index_path, &tmp);
	if (ofd < 0)
		return set_err(err, ofd, "cannot create index file for '%s': %s", tar_path,
			       strerror(-ofd));
	struct lfs_index_build_opts opts = {.src_mtime_ns = mtime_ns(st)};
	int ret = 0;
	/* A zstd layer may need its decompressed copy: write it in this pass. */
	if (is_zstd(tar_fd) && (ret = copy_start(cp, index_path)) == 0) {
		opts.on_data = copy_tap;
		opts.on_data_arg = cp;
	}
	if (ret)
		set_err(err, ret, "cannot create the decompressed copy of '%s': %s", tar_path,
			strerror(-ret));
	else if (lseek(tar_fd, 0, SEEK_SET) < 0)
		ret = -errno;
	if (!ret)
		ret = lfs_index_build(tar_fd, ofd, &opts, &msg);
	if (ret) {
		if (!err || !*err)
			set_err(err, ret, "layer '%s': %s", tar_path, msg ? msg : strerror(-ret));
		goto fail;
	}
	if (tmp && (fsync(ofd) < 0 || rename(tmp, index_path) < 0)) {
		ret = -errno;
		set_err(err, ret, "cannot store index '%s': %s", index_path, strerror(-ret));
		goto fail;
	}
	free(tmp);
	tmp = NULL;
	ret = lfs_index_open(ofd, out);
	if (ret)
		set_err(err, ret, "index just built for '%s' does not validate: %s", tar_path,
			strerror(-ret));
fail:
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(msg);
	close(ofd);
	return ret;
}

/* Writes the decompressed copy of the zstd layer l into c (a second
 * pass, for an index built elsewhere, e.g. by the store while pulling). */
static int copy_decompress(lfs_layer *l, struct copy *c, char **err)
{
	lfs_zst_reader *r = NULL;
	size_t bufsz = 1u << 20;
	char *buf = lfs_xmalloc(bufsz);
	ssize_t n = lseek(l->fd, 0, SEEK_SET) < 0 ? -errno : lfs_zst_reader_new(l->fd, &r);
	while (n == 0 && r) {
		n = lfs_zst_reader_read(r, buf, bufsz);
		if (n <= 0)
			break;
		copy_tap(c, buf, (size_t)n);
		n = c->err;
	}
	if (n < 0 && r && lfs_zst_reader_error(r)[0])
		set_err(err, (int)n, "layer '%s': %s", l->path, lfs_zst_reader_error(r));
	else if (n < 0)
		set_err(err, (int)n, "cannot write the decompressed copy of '%s' to '%s': %s",
			l->path, c->path, strerror((int)-n));
	lfs_zst_reader_free(r);
	free(buf);
	return (int)n;
}

/* The copy beside index_path when it is complete, else a new one. */
static int open_copy(lfs_layer *l, const char *index_path, struct copy *c, char **err)
{
	uint64_t want = lfs_index_header(l->idx)->tar_size;
	char *path = copy_path(index_path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	free(path);
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == want) {
		l->data_fd = fd;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	int ret = copy_start(c, index_path);
	if (ret)
		return set_err(err, ret, "cannot create the decompressed copy of '%s': %s", l->path,
			       strerror(-ret));
	ret = copy_decompress(l, c, err);
	if (ret == 0 && (fstat(c->fd, &st) < 0 || (uint64_t)st.st_size != want))
		ret = set_err(
		    err, -EIO,
		    "layer '%s' decompresses to %llu bytes, but its index '%s' says %llu: "
		    "the layer changed since it was indexed; remove the index to rebuild it",
		    l->path, (unsigned long long)st.st_size, index_path, (unsigned long long)want);
	return ret;
}

/* Sets up reads of a zstd layer: by frame, or from its decompressed copy
 * (the one written while indexing, cp->fd, when there is one). */
static int open_zstd(lfs_layer *l, const char *index_path, struct copy *cp, char **err)
{
	size_t len;
	const void *zd = lfs_index_zstd_data(l->idx, &len);
	int ret = lfs_zst_index_open(zd, len, &l->zst);
	if (ret)
		return set_err(err, ret, "index '%s': bad zstd frame table: %s", index_path,
			       strerror(-ret));
	if (lfs_zst_index_access(l->zst) != LFS_ZST_COPY)
		return 0;
	if (cp->fd < 0)
		ret = open_copy(l, index_path, cp, err);
	if (ret == 0)
		ret = copy_commit(cp);
	if (ret && (!err || !*err))
		set_err(err, ret, "cannot store the decompressed copy of '%s' at '%s': %s", l->path,
			cp->path, strerror(-ret));
	if (ret == 0 && l->data_fd == l->fd)
		l->data_fd = cp->fd;
	return ret;
}

int lfs_layer_open(const char *tar_path, const char *index_path, unsigned flags, lfs_layer **out,
		   char **err)
{
	if (err)
		*err = NULL;
	int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_err(err, -errno, "cannot open layer '%s': %s", tar_path,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int ret = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		close(fd);
		return set_err(err, ret,
			       "layer '%s' is not a regular file: give a tar or tar.gz file",
			       tar_path);
	}
	lfs_index *idx = NULL;
	struct copy cp = {.fd = -1};
	int ret = try_existing(index_path, &st, flags, &idx);
	if (ret && (flags & LFS_LAYER_NO_BUILD)) {
		close(fd);
		return set_err(err, ret, "index '%s' is missing or corrupt: %s", index_path,
			       strerror(-ret));
	}
	if (ret)
		ret = build_index(fd, tar_path, index_path, &st, &idx, &cp, err);
	if (ret) {
		copy_release(&cp, 0);
		close(fd);
		return ret;
	}
	lfs_layer *l = lfs_xcalloc(1, sizeof(*l));
	l->fd = l->data_fd = fd;
	l->path = lfs_xstrdup(tar_path);
	l->size = (uint64_t)st.st_size;
	l->idx = idx;
	if (lfs_index_header(idx)->compression == LFS_COMP_GZIP) {
		size_t len;
		const void *gd = lfs_index_gzip_data(idx, &len);
		ret = lfs_gz_index_open(gd, len, &l->gz);
		if (ret) {
			lfs_layer_free(l);
			return set_err(err, ret, "index '%s': bad gzip checkpoints: %s", index_path,
				       strerror(-ret));
		}
	}
	if (lfs_index_header(idx)->compression == LFS_COMP_ZSTD)
		ret = open_zstd(l, index_path, &cp, err);
	copy_release(&cp, l->data_fd == cp.fd);
	if (ret) {
		lfs_layer_free(l);
		return ret;
	}
	*out = l;
	return 0;
}

int lfs_layer_open_dir(const char *dir, lfs_layer **out, char **err)
{
	if (err)
		*err = NULL;
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return set_err(err, -errno, "cannot open lower directory '%s': %s", dir,
			       strerror(errno));
	int ifd = memfd_create("layerfs-index", MFD_CLOEXEC);
	char *msg = NULL;
	int ret = ifd < 0 ? -errno : lfs_index_build_dir(dir, ifd, &msg);
	lfs_index *idx = NULL;
	if (!ret)
		ret = lfs_index_open(ifd, &idx);
	if (ifd >= 0)
		close(ifd);
	if (ret) {
		close(dfd);
		set_err(err, ret, "lower directory '%s': %s", dir, msg ? msg : strerror(-ret));
		free(msg);
		return ret;
	}
	lfs_layer *l = lfs_xcalloc(1, sizeof(*l));
	l->fd = l->data_fd = dfd;
	l->is_dir = 1;
	l->path = lfs_xstrdup(dir);
	l->idx = idx;
	*out = l;
	return 0;
}

void lfs_layer_free(lfs_layer *l)
{
	if (!l)
		return;
	lfs_gz_index_free(l->gz);
	lfs_zst_index_free(l->zst);
	lfs_index_free(l->idx);
	if (l->data_fd != l->fd)
		close(l->data_fd);
	close(l->fd);
	free(l->path);
	free(l);
}

const lfs_index *lfs_layer_index(const lfs_layer *l)
{
	return l->idx;
}

const char *lfs_layer_path(const lfs_layer *l)
{
	return l->path;
}

uint64_t lfs_layer_size(const lfs_layer *l)
{
	return l->size;
}

/* Reads exactly len bytes of the uncompressed tar stream at tar_off. */
static int stream_read(lfs_layer *l, void *buf, size_t len, uint64_t tar_off)
{
	char *p = buf;
	while (len) {
		ssize_t n;
		if (l->gz)
			n = lfs_gz_pread(l->gz, l->fd, p, len, tar_off);
		else if (l->data_fd == l->fd && l->zst)
			n = lfs_zst_pread(l->zst, l->fd, p, len, tar_off);
		else if ((n = pread(l->data_fd, p, len, (off_t)tar_off)) < 0 && errno == EINTR)
			continue;
		else if (n < 0)
			n = -EIO;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO; /* the layer is shorter than its index says */
		p += n;
		len -= (size_t)n;
		tar_off += (uint64_t)n;
	}
	return 0;
}

static ssize_t sparse_read(lfs_layer *l, const struct lfs_entry *e, char *buf, size_t len,
			   uint64_t off)
{
	uint32_t nr;
	const struct lfs_sparse_run *r = lfs_index_sparse(l->idx, e, &nr);
	memset(buf, 0, len);
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t s = r[i].file_off, end = s + r[i].len;
		if (end <= off || s >= off + len)
			continue;
		uint64_t from = s > off ? s : off;
		uint64_t to = end < off + len ? end : off + len;
		int ret = stream_read(l, buf + (from - off), to - from, r[i].tar_off + (from - s));
		if (ret)
			return ret;
	}
	return (ssize_t)len;
}

/* Directory layers: the file at the entry's path below the layer root. */
static ssize_t dir_read(lfs_layer *l, const struct lfs_entry *e, void *buf, size_t len,
			uint64_t off)
{
	lfs_buf path = LFS_BUF_INIT;
	lfs_index_path(l->idx, lfs_index_entry_no(l->idx, e), &path);
	int fd = openat(l->fd, path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	lfs_buf_release(&path);
	if (fd < 0)
		return -EIO; /* the lower directory changed under the mount */
	ssize_t n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n < 0 ? -EIO : n;
}

ssize_t lfs_layer_pread(lfs_layer *l, const struct lfs_entry *e, void *buf, size_t len,
			uint64_t off)
{
	if (off >= e->size)
		return 0;
	if (len > e->size - off)
		len = (size_t)(e->size - off);
	if (l->is_dir)
		return dir_read(l, e, buf, len, off);
	if (e->flags & LFS_E_SPARSE)
		return sparse_read(l, e, buf, len, off);
	int ret = stream_read(l, buf, len, e->data_off + off);
	return ret ? ret : (ssize_t)len;
}

int lfs_layer_data_fd(const lfs_layer *l, const struct lfs_entry *e, int *fd, uint64_t *tar_off)
{
	if (l->gz || (l->zst && l->data_fd == l->fd) || l->is_dir || (e->flags & LFS_E_SPARSE) ||
	    !S_ISREG(e->mode))
		return 0;
	*fd = l->data_fd;
	*tar_off = e->data_off;
	return 1;
}
