/* lfs_index — build, write, map, validate and query a layer index.
 *
 * Build: libarchive parses the tar (fed through our own callbacks, so gzip
 * input goes through lfs_gz_reader and gets checkpoints, and zstd input
 * through lfs_zst_reader and gets its frame table); every member
 * becomes a node in a hash table keyed by (parent node, name).  At the end
 * the tree is laid out breadth-first, so each directory's children are
 * contiguous, and sorted.  Replaced members leave their old node or inode
 * record behind as garbage; only nodes reachable from the root are written.
 *
 * Interpretations beyond index.h (all safe, all documented here):
 *  - Within one layer a whiteout and a real entry of the same name combine
 *    (OCI: a whiteout only hides lower layers): the real entry stays; if it
 *    is a directory it becomes opaque, since the lower one is hidden.
 *  - A member below an existing non-directory replaces it with an implicit
 *    directory (later wins), instead of failing the whole layer.
 *  - ".wh..wh.*" names other than the opaque marker (aufs metadata such as
 *    ".wh..wh.plnk") are skipped, as docker does.
 */
#include "index.h"
#include "index_i.h"
#include "gz.h"
#include "zst.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define NONE LFS_INDEX_NONE

_Static_assert(sizeof(struct lfs_entry) == 72, "on-disk entry layout changed");
_Static_assert(sizeof(struct lfs_sparse_run) == 24, "on-disk sparse run layout changed");
_Static_assert(sizeof(struct lfs_index_header) % 8 == 0, "sections must stay 8-aligned");

#define NODE_DEAD    0x8000u /* build-only flag: dropped with its replaced parent */
#define SRC_BUF	     (256u << 10)
#define IMPLICIT_INO 1u /* shared inode record of all synthesised directories */
#define WH_PREFIX    ".wh."
#define WH_META	     ".wh..wh."
#define WH_OPAQUE    ".wh..wh..opq"
#define ALL_FLAGS    (LFS_E_WHITEOUT | LFS_E_OPAQUE | LFS_E_IMPLICIT | LFS_E_HARDLINK | LFS_E_SPARSE)

/* ------------------------------------------------------------------ */
/* Input: plain fd, gzip or zstd reader, behind libarchive's read callbacks. */

struct src {
	int fd;
	lfs_gz_reader *gz;
	lfs_zst_reader *zst;
	int seekable;	/* plain regular file: skip by lseek */
	uint64_t start; /* fd offset when we started (seekable only) */
	uint64_t end;	/* st_size (seekable only) */
	uint64_t pos;	/* bytes of the (uncompressed) stream consumed so far */
	int err;	/* first -errno from the fd or the decompressor */
	char *buf;
	void (*on_data)(void *arg, const void *data, size_t len); /* opts->on_data */
	void *on_data_arg;
};

static ssize_t read_full(int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* The decompressor's message (it names the format and the offset). */
static const char *src_error(const struct src *s)
{
	return s->gz ? lfs_gz_reader_error(s->gz) : lfs_zst_reader_error(s->zst);
}

static la_ssize_t src_read(struct archive *a, void *cd, const void **out)
{
	struct src *s = cd;
	ssize_t n;

	*out = s->buf;
	if (s->gz)
		n = lfs_gz_reader_read(s->gz, s->buf, SRC_BUF);
	else if (s->zst)
		n = lfs_zst_reader_read(s->zst, s->buf, SRC_BUF);
	else
		n = read_full(s->fd, s->buf, SRC_BUF);
	if (n < 0) {
		if (!s->err)
			s->err = (int)n;
		if (a && (s->gz || s->zst))
			archive_set_error(a, (int)-n, "%s", src_error(s));
		else if (a)
			archive_set_error(a, (int)-n, "read: %s", strerror((int)-n));
		return ARCHIVE_FATAL;
	}
	s->pos += (uint64_t)n;
	if (s->on_data && n > 0)
		s->on_data(s->on_data_arg, s->buf, (size_t)n);
	return n;
}

/* Only registered for plain regular files: skipping member data by lseek
 * makes indexing cost proportional to the number of headers, not bytes.
 * A skip past EOF is clamped so libarchive sees the truncation. */
static la_int64_t src_skip(struct archive *a, void *cd, la_int64_t req)
{
	struct src *s = cd;
	uint64_t left = s->end - s->start > s->pos ? s->end - s->start - s->pos : 0;
	uint64_t n = (uint64_t)req < left ? (uint64_t)req : left;

	(void)a;
	if (n == 0 || lseek(s->fd, (off_t)n, SEEK_CUR) < 0)
		return 0; /* libarchive falls back to reading */
	s->pos += n;
	return (la_int64_t)n;
}

/* Copies the first bytes of fd into magic without consuming them, for
 * format detection: pread on files, tee(2) on pipes, MSG_PEEK on sockets.
 * Returns bytes peeked (possibly fewer than len at EOF) or -errno. */
static ssize_t peek_pipe(int fd, uint8_t *magic, size_t len)
{
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	for (;;) {
		n = tee(fd, p[1], len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || n == 0 || (size_t)n >= 2)
			break;
		/* One byte so far: wait for more unless the writer is gone. */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP))
			break;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	if (n > 0)
		n = read_full(p[0], magic, (size_t)n);
	else if (n < 0)
		n = -errno;
	close(p[0]);
	close(p[1]);
	return n;
}

static ssize_t peek_magic(struct src *s, const struct stat *st, uint8_t *magic, size_t len)
{
	ssize_t n;

	if (s->seekable) {
		do
			n = pread(s->fd, magic, len, (off_t)s->start);
		while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}
	if (S_ISFIFO(st->st_mode))
		return peek_pipe(s->fd, magic, len);
	if (S_ISSOCK(st->st_mode)) {
		do
			n = recv(s->fd, magic, len, MSG_PEEK | MSG_WAITALL);
		while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}
	return 0; /* cannot peek: treat as plain tar */
}

static const char *other_compression(const uint8_t *m, ssize_t n)
{
	if (n >= 6 && !memcmp(m,
			      "\xfd"
			      "7zXZ\0",
			      6))
		return "xz";
	if (n >= 3 && !memcmp(m, "BZh", 3))
		return "bzip2";
	return NULL;
}

/* Opens the input; *comp is set to its enum lfs_compression. */
static int src_open(struct src *s, int fd, const struct lfs_index_build_opts *opts, int *comp,
		    char **err)
{
	struct stat st;
	uint8_t magic[6];
	ssize_t n;
	off_t cur;
	const char *other;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->on_data = opts->on_data;
	s->on_data_arg = opts->on_data_arg;
	if (fstat(fd, &st) < 0)
		return -errno;
	cur = lseek(fd, 0, SEEK_CUR);
	if (S_ISREG(st.st_mode) && cur >= 0) {
		s->seekable = 1;
		s->start = (uint64_t)cur;
		s->end = (uint64_t)st.st_size > s->start ? (uint64_t)st.st_size : s->start;
	}
	n = peek_magic(s, &st, magic, sizeof(magic));
	if (n < 0)
		return (int)n;
	other = other_compression(magic, n);
	if (other) {
		*err = lfs_xasprintf("layer is compressed with %s, which is not supported", other);
		return -EIO;
	}
	int ret = 0;
	*comp = LFS_COMP_NONE;
	if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		*comp = LFS_COMP_GZIP;
		ret = lfs_gz_reader_new(fd, opts->gzip_span, &s->gz);
	} else if (n >= 4 && !memcmp(magic, "\x28\xb5\x2f\xfd", 4)) {
		*comp = LFS_COMP_ZSTD;
		ret = lfs_zst_reader_new(fd, &s->zst);
	}
	if (ret < 0)
		return ret;
	s->buf = lfs_xmalloc(SRC_BUF);
	return 0;
}

/* Reads what libarchive left after the end-of-archive blocks, so tar_size
 * covers the whole stream and the gzip reader reaches its end. */
static int src_drain(struct src *s, uint64_t *tar_size)
{
	const void *p;

	if (s->seekable && !s->gz && !s->zst && !s->on_data) {
		*tar_size = s->end - s->start;
		return 0;
	}
	for (;;) {
		la_ssize_t n = src_read(NULL, s, &p);
		if (n == ARCHIVE_FATAL)
			return s->err;
		if (n == 0)
			break;
	}
	*tar_size = s->pos;
	return 0;
}

static void src_release(struct src *s)
{
	if (s->gz)
		lfs_gz_reader_free(s->gz);
	lfs_zst_reader_free(s->zst);
	free(s->buf);
}

/* ------------------------------------------------------------------ */
/* The build-time tree.                                                */

struct node {
	uint32_t parent;
	uint32_t name; /* offset in b->str */
	uint32_t ino;  /* index into b->inos */
	uint32_t hnext;
	uint32_t child;	  /* first child, unsorted list */
	uint32_t sibling; /* next child of the same parent */
	uint16_t name_len;
	uint16_t flags; /* WHITEOUT | OPAQUE | IMPLICIT | NODE_DEAD */
};

struct builder {
	struct node *nodes;
	uint32_t nnodes, anodes;
	struct lfs_entry *inos; /* per-inode metadata; name/parent/links unused */
	uint32_t ninos, ainos;
	uint32_t *hash;
	uint32_t hmask;
	lfs_buf str; /* strings section: names and symlink targets */
	lfs_buf xat; /* xattr section */
	lfs_buf sps; /* sparse section */
	lfs_buf gz;  /* random-access section: gzip checkpoints or zstd frames */
	lfs_buf path, path2, tmp;
	const char *member;   /* raw name of the member being added, for messages */
	uint32_t max_entries; /* LFS_ENTRIES_MAX, or lower for tests */
	char **err;
};

static uint32_t hash_key(uint32_t parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ parent;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t node_find(const struct builder *b, uint32_t parent, const char *name, size_t len)
{
	uint32_t i = b->hash[hash_key(parent, name, len) & b->hmask];

	for (; i != NONE; i = b->nodes[i].hnext) {
		const struct node *nd = &b->nodes[i];
		if (nd->parent == parent && nd->name_len == len && !(nd->flags & NODE_DEAD) &&
		    !memcmp(b->str.data + nd->name, name, len))
			return i;
	}
	return NONE;
}

static void hash_insert(struct builder *b, uint32_t i)
{
	struct node *nd = &b->nodes[i];
	uint32_t *head =
	    &b->hash[hash_key(nd->parent, b->str.data + nd->name, nd->name_len) & b->hmask];
	nd->hnext = *head;
	*head = i;
}

static void hash_grow(struct builder *b)
{
	uint32_t size = (b->hmask + 1) * 2;

	free(b->hash);
	b->hash = lfs_xmalloc(size * sizeof(*b->hash));
	memset(b->hash, 0xff, size * sizeof(*b->hash));
	b->hmask = size - 1;
	/* Dead nodes are never looked up again, so they leave the table. */
	for (uint32_t i = 1; i < b->nnodes; i++)
		if (!(b->nodes[i].flags & NODE_DEAD))
			hash_insert(b, i);
}

/* Sets *err to "member 'NAME': ..." and returns ret. */
static int builder_fail(struct builder *b, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int builder_fail(struct builder *b, int ret, const char *fmt, ...)
{
	lfs_buf m = LFS_BUF_INIT;
	va_list ap;

	lfs_buf_addf(&m, "member '%s': ", b->member);
	va_start(ap, fmt);
	lfs_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	free(*b->err);
	*b->err = lfs_buf_detach(&m, NULL);
	return ret;
}

/* Appends s[0..len) plus a NUL to the strings section; *off gets its offset. */
static int str_add(struct builder *b, const char *s, size_t len, uint32_t *off)
{
	if (b->str.len + len + 1 > LFS_INDEX_STRINGS_MAX)
		return builder_fail(b, -EFBIG, "%s",
				    "names and link targets of the layer over 4 GiB "
				    "(limit LFS_INDEX_STRINGS_MAX)");
	*off = (uint32_t)b->str.len;
	lfs_buf_add(&b->str, s, len);
	lfs_buf_addch(&b->str, '\0');
	return 0;
}

static uint32_t ino_new(struct builder *b)
{
	if (b->ninos == b->ainos) {
		b->ainos = b->ainos ? b->ainos * 2 : 1024;
		b->inos = lfs_xrealloc(b->inos, (size_t)b->ainos * sizeof(*b->inos));
	}
	memset(&b->inos[b->ninos], 0, sizeof(*b->inos));
	b->inos[b->ninos].link = NONE;
	b->inos[b->ninos].xattr = NONE;
	b->inos[b->ninos].nlink = 1;
	return b->ninos++;
}

static int node_new(struct builder *b, uint32_t parent, const char *name, size_t len, uint32_t *out)
{
	struct node *nd;
	uint32_t name_off = 0;
	int ret;

	if (b->nnodes >= b->max_entries)
		return builder_fail(b, -EFBIG,
				    "more than %u entries in the layer (limit LFS_ENTRIES_MAX)",
				    b->max_entries);
	ret = str_add(b, name, len, &name_off);
	if (ret < 0)
		return ret;
	if (b->nnodes == b->anodes) {
		b->anodes = b->anodes ? b->anodes * 2 : 1024;
		b->nodes = lfs_xrealloc(b->nodes, (size_t)b->anodes * sizeof(*b->nodes));
	}
	nd = &b->nodes[b->nnodes];
	*nd = (struct node){.parent = parent,
			    .name = name_off,
			    .ino = IMPLICIT_INO,
			    .child = NONE,
			    .sibling = b->nodes[parent].child,
			    .name_len = (uint16_t)len,
			    .flags = LFS_E_IMPLICIT};
	b->nodes[parent].child = b->nnodes;
	*out = b->nnodes++;
	hash_insert(b, *out);
	if (b->nnodes > (b->hmask + 1) / 4 * 3)
		hash_grow(b);
	return 0;
}

static void builder_init(struct builder *b, char **err)
{
	memset(b, 0, sizeof(*b));
	b->err = err;
	b->member = "";
	b->max_entries = LFS_ENTRIES_MAX;
	lfs_buf_init(&b->str, 1 << 16);
	lfs_buf_addch(&b->str, '\0'); /* the root's empty name */
	b->hmask = 1023;
	b->hash = lfs_xmalloc((b->hmask + 1) * sizeof(*b->hash));
	memset(b->hash, 0xff, (b->hmask + 1) * sizeof(*b->hash));
	b->anodes = 1024;
	b->nodes = lfs_xmalloc(b->anodes * sizeof(*b->nodes));
	b->nodes[0] = (struct node){
	    .ino = 0, .child = NONE, .sibling = NONE, .hnext = NONE, .flags = LFS_E_IMPLICIT};
	b->nnodes = 1;
	ino_new(b); /* 0: the root until "./" gives it metadata */
	ino_new(b); /* IMPLICIT_INO */
	b->inos[0].mode = S_IFDIR | 0755;
	b->inos[IMPLICIT_INO].mode = S_IFDIR | 0755;
}

static void builder_release(struct builder *b)
{
	free(b->nodes);
	free(b->inos);
	free(b->hash);
	lfs_buf_release(&b->str);
	lfs_buf_release(&b->xat);
	lfs_buf_release(&b->sps);
	lfs_buf_release(&b->gz);
	lfs_buf_release(&b->path);
	lfs_buf_release(&b->path2);
	lfs_buf_release(&b->tmp);
}

/* Marks the children of dir dead: a directory replaced by a non-directory
 * loses its subtree (their own descendants become unreachable with them). */
static void node_drop_children(struct builder *b, uint32_t dir)
{
	for (uint32_t c = b->nodes[dir].child; c != NONE; c = b->nodes[c].sibling)
		b->nodes[c].flags |= NODE_DEAD;
	b->nodes[dir].child = NONE;
}

static int node_is_dir(const struct builder *b, uint32_t i)
{
	return !(b->nodes[i].flags & LFS_E_WHITEOUT) && S_ISDIR(b->inos[b->nodes[i].ino].mode);
}

/* Puts inode ino at name in dir, applying the replacement rules of the file
 * comment: later wins, except that a whiteout never hides a real entry of
 * its own layer. */
static int node_place(struct builder *b, uint32_t dir, const char *name, size_t len, uint32_t ino,
		      int whiteout)
{
	uint32_t i = node_find(b, dir, name, len);
	int is_dir = !whiteout && S_ISDIR(b->inos[ino].mode);
	struct node *nd;
	int ret;

	if (i == NONE) {
		ret = node_new(b, dir, name, len, &i);
		if (ret < 0)
			return ret;
		b->nodes[i].flags = whiteout ? LFS_E_WHITEOUT : 0;
		b->nodes[i].ino = ino;
		return 0;
	}
	nd = &b->nodes[i];
	if (whiteout) {
		if (nd->flags & LFS_E_WHITEOUT)
			nd->ino = ino;
		else if (node_is_dir(b, i))
			nd->flags |= LFS_E_OPAQUE;
		return 0;
	}
	if (is_dir && node_is_dir(b, i))
		nd->flags &= (uint16_t)~LFS_E_IMPLICIT; /* keeps children and opacity */
	else if (is_dir && (nd->flags & LFS_E_WHITEOUT))
		nd->flags = LFS_E_OPAQUE;
	else {
		if (node_is_dir(b, i))
			node_drop_children(b, i);
		nd->flags = 0;
	}
	nd->ino = ino;
	return 0;
}

/* Walks path[0..len) (normalised, may be empty) from the root, creating
 * implicit directories; a non-directory in the way is replaced by one. */
static int walk_dirs(struct builder *b, const char *path, size_t len, uint32_t *out)
{
	uint32_t cur = 0;
	const char *p = path, *end = path + len;

	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		uint32_t i = node_find(b, cur, p, n);
		if (i == NONE) {
			int ret = node_new(b, cur, p, n, &i);
			if (ret < 0)
				return ret;
		} else if (!node_is_dir(b, i)) {
			struct node *nd = &b->nodes[i];
			nd->flags = (nd->flags & LFS_E_WHITEOUT) ? LFS_E_IMPLICIT | LFS_E_OPAQUE
								 : LFS_E_IMPLICIT;
			nd->ino = IMPLICIT_INO;
		}
		cur = i;
		p += n + 1;
	}
	*out = cur;
	return 0;
}

/* Looks up an existing normalised path without creating anything. */
static uint32_t walk_find(const struct builder *b, const char *path, size_t len)
{
	uint32_t cur = 0;
	const char *p = path, *end = path + len;

	while (p < end && cur != NONE) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		if (!node_is_dir(b, cur))
			return NONE;
		cur = node_find(b, cur, p, n);
		p += n + 1;
	}
	return cur;
}

int lfs_index_normalise(const char *name, lfs_buf *out, char **why)
{
	const char *p = name;

	*why = NULL;
	lfs_buf_reset(out);
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*why = lfs_xstrdup("'..' component: the path would leave the image");
			return -EINVAL;
		}
		if (n > LFS_NAME_MAX) {
			*why = lfs_xasprintf("a name of %zu bytes, over the limit of %d bytes per "
					     "path component (LFS_NAME_MAX)",
					     n, LFS_NAME_MAX);
			return -EFBIG;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (out->len)
				lfs_buf_addch(out, '/');
			lfs_buf_add(out, p, n);
		}
		p += n;
		if (*p)
			p++;
	}
	if (out->len > LFS_PATH_MAX) {
		*why =
		    lfs_xasprintf("a path of %zu bytes, over the limit of %d bytes (LFS_PATH_MAX)",
				  out->len, LFS_PATH_MAX);
		return -EFBIG;
	}
	return 0;
}

static int normalise(struct builder *b, const char *name, lfs_buf *out)
{
	char *why;
	int ret = lfs_index_normalise(name, out, &why);

	if (ret < 0) {
		builder_fail(b, ret, "%s", why);
		free(why);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Members.                                                            */

/* One xattr against the kernel's limits; *list adds up the name list. */
static int xattr_check(struct builder *b, const char *name, size_t size, size_t *list)
{
	size_t len = strlen(name);

	*list += len + 1;
	if (len > LFS_XATTR_NAME_MAX)
		return builder_fail(
		    b, -EFBIG, "xattr name of %zu bytes, over the limit of %d (LFS_XATTR_NAME_MAX)",
		    len, LFS_XATTR_NAME_MAX);
	if (size > LFS_XATTR_VALUE_MAX)
		return builder_fail(b, -EFBIG,
				    "xattr '%s' has a value of %zu bytes, over the limit of %d "
				    "(LFS_XATTR_VALUE_MAX)",
				    name, size, LFS_XATTR_VALUE_MAX);
	if (*list > LFS_XATTR_LIST_MAX)
		return builder_fail(b, -EFBIG,
				    "xattr names add up to more than %d bytes (LFS_XATTR_LIST_MAX)",
				    LFS_XATTR_LIST_MAX);
	return 0;
}

static int add_xattrs(struct builder *b, struct archive_entry *ae, uint32_t ino)
{
	struct xa {
		const char *name;
		const void *val;
		size_t size;
	} * v;
	int n = archive_entry_xattr_reset(ae), got = 0, ret = 0;
	uint32_t count = 0;
	size_t list = 0;
	size_t rec;

	if (n <= 0)
		return 0;
	v = lfs_xcalloc((size_t)n, sizeof(*v));
	while (got < n &&
	       archive_entry_xattr_next(ae, &v[got].name, &v[got].val, &v[got].size) == ARCHIVE_OK)
		got++;
	while (b->xat.len % 4)
		lfs_buf_addch(&b->xat, '\0');
	rec = b->xat.len;
	lfs_buf_zalloc(&b->xat, 4);
	for (int k = 0; k < got; k++) {
		uint32_t nl, vl;
		int dup = 0;
		/* pax may carry a name twice (SCHILY. and LIBARCHIVE.): last wins */
		for (int j = k + 1; j < got && !dup; j++)
			dup = !strcmp(v[j].name, v[k].name);
		if (dup || !v[k].name[0])
			continue;
		ret = xattr_check(b, v[k].name, v[k].size, &list);
		if (ret < 0)
			goto out;
		nl = (uint32_t)strlen(v[k].name);
		vl = (uint32_t)v[k].size;
		lfs_buf_add(&b->xat, &nl, 4);
		lfs_buf_add(&b->xat, &vl, 4);
		lfs_buf_add(&b->xat, v[k].name, nl + 1);
		lfs_buf_add(&b->xat, v[k].val, vl);
		count++;
	}
	memcpy(b->xat.data + rec, &count, 4);
	if (b->xat.len > LFS_INDEX_XATTRS_MAX)
		ret = builder_fail(b, -EFBIG, "%s",
				   "xattrs of the layer over 4 GiB (limit LFS_INDEX_XATTRS_MAX)");
	b->inos[ino].xattr = (uint32_t)rec;
out:
	free(v);
	return ret;
}

/* Records the data runs of a sparse member.  Whatever the tar flavour (GNU
 * old sparse headers, pax 0.0/0.1 attributes, pax 1.0 map at the start of
 * the data), libarchive has consumed the map when the header returns, so
 * the runs' bytes lie back to back from data_off (verified by the tests). */
static int add_sparse(struct builder *b, struct archive_entry *ae, uint32_t ino)
{
	struct lfs_entry *e = &b->inos[ino];
	uint64_t tar_off = e->data_off, prev_end = 0;
	la_int64_t off, len;
	uint32_t count = 0;
	size_t rec;

	if (archive_entry_sparse_reset(ae) <= 0)
		return 0;
	rec = b->sps.len; /* records are multiples of 8 bytes: stays aligned */
	lfs_buf_zalloc(&b->sps, 8);
	while (archive_entry_sparse_next(ae, &off, &len) == ARCHIVE_OK) {
		struct lfs_sparse_run run = {(uint64_t)off, (uint64_t)len, tar_off};
		if (off < 0 || len < 0 || run.file_off < prev_end || run.len > e->size ||
		    run.file_off > e->size - run.len)
			return builder_fail(b, -EINVAL, "%s",
					    "sparse map out of order or past the end");
		if (!len)
			continue; /* GNU tar ends a trailing hole with an empty run */
		lfs_buf_add(&b->sps, &run, sizeof(run));
		tar_off += run.len;
		prev_end = run.file_off + run.len;
		count++;
	}
	memcpy(b->sps.data + rec, &count, 4);
	e->data_off = rec;
	e->flags |= LFS_E_SPARSE;
	return 0;
}

static int ino_set_type(struct builder *b, struct archive *a, struct archive_entry *ae,
			uint32_t ino)
{
	struct lfs_entry *e = &b->inos[ino];
	la_int64_t size = archive_entry_size(ae);
	const char *target;
	size_t len;

	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		if (size < 0 || (uint64_t)size > LFS_FILE_MAX)
			return builder_fail(b, -EFBIG, "%s",
					    "file size over the limit of 1 PiB (LFS_FILE_MAX)");
		e->size = (uint64_t)size;
		/* Directory layers (a == NULL) read data from the files themselves. */
		e->data_off = a ? (uint64_t)archive_filter_bytes(a, 0) : 0;
		return add_sparse(b, ae, ino);
	case AE_IFLNK:
		target = archive_entry_symlink(ae);
		len = target ? strlen(target) : 0;
		if (len > LFS_PATH_MAX)
			return builder_fail(
			    b, -EFBIG,
			    "a symlink target of %zu bytes, over the limit of %d bytes "
			    "(LFS_PATH_MAX)",
			    len, LFS_PATH_MAX);
		e->size = len;
		return str_add(b, target ? target : "", len, &b->inos[ino].link);
	case AE_IFCHR:
	case AE_IFBLK:
		e->data_off = ((uint64_t)archive_entry_rdevmajor(ae) << 32) |
			      (uint32_t)archive_entry_rdevminor(ae);
		return 0;
	case AE_IFDIR:
	case AE_IFIFO:
	case AE_IFSOCK:
		return 0;
	default:
		return builder_fail(b, -EINVAL, "%s", "unsupported file type");
	}
}

/* Some libarchive releases (3.6.x among them) read a negative pax time with
 * a fraction, "-1.5", as -1 s + 0.5 s: the sign is applied to the seconds
 * only.  GNU tar and POSIX mean -1.5 s.  Probe the linked library once with
 * such a header and undo the split when it shows. */
static void ustar_field(char *f, size_t width, unsigned long long v)
{
	snprintf(f, width, "%0*llo", (int)width - 1, v);
}

static void ustar_header(char *h, const char *name, char type, size_t size)
{
	unsigned sum = 0;
	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	ustar_field(h + 100, 8, 0644);
	ustar_field(h + 108, 8, 0);
	ustar_field(h + 116, 8, 0);
	ustar_field(h + 124, 12, size);
	ustar_field(h + 136, 12, 0);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

static int negative_time_split;
static pthread_once_t negative_time_once = PTHREAD_ONCE_INIT;

static void probe_negative_time(void)
{
	static const char rec[] = "14 mtime=-1.5\n";
	char *tar = lfs_xcalloc(5, 512);
	ustar_header(tar, "PaxHeader/x", 'x', sizeof(rec) - 1);
	memcpy(tar + 512, rec, sizeof(rec) - 1);
	ustar_header(tar + 1024, "x", '0', 0);
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar, 5 * 512) == ARCHIVE_OK &&
	    archive_read_next_header(a, &ae) == ARCHIVE_OK)
		negative_time_split = archive_entry_mtime(ae) == -1;
	archive_read_free(a);
	free(tar);
}

static void member_mtime(struct archive *a, struct archive_entry *ae, int64_t *sec,
			 uint32_t *nsec)
{
	int64_t s = archive_entry_mtime(ae);
	long ns = archive_entry_mtime_nsec(ae);
	if (ns < 0 || ns >= 1000000000)
		ns = 0;
	pthread_once(&negative_time_once, probe_negative_time);
	/* Only tar headers are misread; directory layers come from stat(). */
	if (a && negative_time_split && s < 0 && ns > 0) {
		s -= 1;
		ns = 1000000000 - ns;
	}
	*sec = s;
	*nsec = (uint32_t)ns;
}

/* A fresh inode record with the member's metadata. */
static int ino_from_member(struct builder *b, struct archive *a, struct archive_entry *ae,
			   uint32_t *out)
{
	uint32_t ino = ino_new(b);
	struct lfs_entry *e = &b->inos[ino];
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	int ret;

	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return builder_fail(b, -EINVAL, "%s", "uid or gid out of range");
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->mode = (uint32_t)(archive_entry_filetype(ae) | (archive_entry_mode(ae) & 07777));
	if (S_ISLNK(e->mode)) /* as on every Linux file system, whatever the header says */
		e->mode = S_IFLNK | 0777;
	if (archive_entry_mtime_is_set(ae)) {
		member_mtime(a, ae, &e->mtime, &e->mtime_ns);
	}
	ret = ino_set_type(b, a, ae, ino);
	if (ret < 0)
		return ret;
	ret = add_xattrs(b, ae, ino);
	*out = ino;
	return ret;
}

static int resolve_hardlink(struct builder *b, const char *target, uint32_t *ino)
{
	uint32_t i;
	int ret = normalise(b, target, &b->path2);

	if (ret < 0)
		return ret;
	i = walk_find(b, b->path2.data, b->path2.len);
	if (i == NONE || (b->nodes[i].flags & LFS_E_WHITEOUT))
		return builder_fail(b, -EINVAL,
				    "hard link target '%s' not found earlier in the layer", target);
	/* Hard links to symlinks, devices and FIFOs occur in real layers; each
	 * name becomes its own copy (nlink 1): only regular files form rings. */
	if (S_ISDIR(b->inos[b->nodes[i].ino].mode))
		return builder_fail(b, -EINVAL, "hard link target '%s' is a directory", target);
	*ino = b->nodes[i].ino;
	return 0;
}

static int set_root(struct builder *b, struct archive *a, struct archive_entry *ae)
{
	uint32_t ino;
	int ret;

	if (archive_entry_hardlink(ae) || archive_entry_filetype(ae) != AE_IFDIR)
		return builder_fail(b, -EINVAL, "%s", "the layer root must be a directory");
	ret = ino_from_member(b, a, ae, &ino);
	if (ret < 0)
		return ret;
	b->nodes[0].ino = ino;
	b->nodes[0].flags &= (uint16_t)~LFS_E_IMPLICIT;
	return 0;
}

static int has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && !memcmp(s, prefix, n);
}

/* Makes the inode for a member that is not the root: a whiteout record, the
 * target's inode for a hard link, else a fresh one. */
static int member_ino(struct builder *b, struct archive *a, struct archive_entry *ae, int whiteout,
		      uint32_t *ino)
{
	const char *hl = archive_entry_hardlink(ae);

	if (whiteout) {
		*ino = ino_new(b);
		b->inos[*ino].mtime = archive_entry_mtime(ae);
		return 0;
	}
	if (hl)
		return resolve_hardlink(b, hl, ino);
	return ino_from_member(b, a, ae, ino);
}

static int add_member(struct builder *b, struct archive *a, struct archive_entry *ae)
{
	const char *path, *base, *slash;
	size_t len, dirlen, baselen;
	uint32_t dir = 0, ino = 0;
	int whiteout, ret;

	b->member = archive_entry_pathname(ae);
	if (!b->member) {
		b->member = "?";
		return builder_fail(b, -EINVAL, "%s", "member without a name");
	}
	ret = normalise(b, b->member, &b->path);
	if (ret < 0)
		return ret;
	path = b->path.data;
	len = b->path.len;
	if (!len)
		return set_root(b, a, ae);
	slash = memrchr(path, '/', len);
	base = slash ? slash + 1 : path;
	dirlen = slash ? (size_t)(slash - path) : 0;
	baselen = len - (size_t)(base - path);
	if (baselen == strlen(WH_OPAQUE) && has_prefix(base, baselen, WH_OPAQUE)) {
		ret = walk_dirs(b, path, dirlen, &dir);
		if (ret == 0)
			b->nodes[dir].flags |= LFS_E_OPAQUE;
		return ret;
	}
	if (has_prefix(base, baselen, WH_META))
		return 0;
	whiteout = has_prefix(base, baselen, WH_PREFIX);
	if (whiteout) {
		base += strlen(WH_PREFIX);
		baselen -= strlen(WH_PREFIX);
		if (!baselen || (baselen == 1 && base[0] == '.'))
			return builder_fail(b, -EINVAL, "%s", "whiteout without a name");
	}
	/* The inode first: a hard link's target may sit where walk_dirs
	 * would put a directory. */
	ret = member_ino(b, a, ae, whiteout, &ino);
	if (ret == 0)
		ret = walk_dirs(b, path, dirlen, &dir);
	if (ret == 0)
		ret = node_place(b, dir, base, baselen, ino, whiteout);
	return ret;
}

/* libarchive skips a pax header whose records it cannot parse with only a
 * warning, and the member keeps its ustar name and fields; GNU tar and
 * bsdtar fail on such an archive, and so does the index. */
int lfs_index_warning_fatal(const char *msg)
{
	return msg && strcasestr(msg, "malformed pax") != NULL;
}

static int read_members(struct builder *b, struct archive *a, struct src *s)
{
	struct archive_entry *ae;
	lfs_buf last = LFS_BUF_INIT;
	int r, ret = 0;

	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			/* A decompressor's own message names the compressed offset. */
			const char *msg =
			    s->err && (s->gz || s->zst) ? src_error(s) : archive_error_string(a);
			ret = s->err ? s->err : -EIO;
			free(*b->err);
			if (last.len)
				*b->err = lfs_xasprintf("after member '%s': %s", last.data,
							msg ? msg : "corrupt tar archive");
			else
				*b->err = lfs_xasprintf("at the start of the layer: %s",
							msg ? msg : "not a tar archive");
			break;
		}
		if (r == ARCHIVE_WARN && lfs_index_warning_fatal(archive_error_string(a))) {
			b->member = archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "?";
			ret = builder_fail(
			    b, -EINVAL,
			    "its pax extended header is malformed (%s): the path, size "
			    "or owner it holds would be lost",
			    archive_error_string(a));
			break;
		}
		ret = add_member(b, a, ae);
		if (ret < 0)
			break;
		lfs_buf_reset(&last);
		lfs_buf_addstr(&last, b->member);
	}
	lfs_buf_release(&last);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Layout and output.                                                  */

struct layout {
	uint32_t *order;  /* output entry number -> node */
	uint32_t *out_no; /* node -> output entry number */
	uint32_t *first;  /* output entry number -> first child */
	uint32_t *nchild;
	uint32_t count;
};

static int cmp_nodes(const void *x, const void *y, void *ctx)
{
	const struct builder *b = ctx;
	const struct node *p = &b->nodes[*(const uint32_t *)x];
	const struct node *q = &b->nodes[*(const uint32_t *)y];
	size_t n = p->name_len < q->name_len ? p->name_len : q->name_len;
	int c = memcmp(b->str.data + p->name, b->str.data + q->name, n);

	return c ? c : (int)p->name_len - (int)q->name_len;
}

/* Breadth-first order makes every directory's children contiguous and
 * puts each entry after its parent (which open() relies on). */
static void layout_bfs(struct builder *b, struct layout *l)
{
	uint32_t count = 1;

	l->order = lfs_xmalloc((size_t)b->nnodes * sizeof(uint32_t));
	l->out_no = lfs_xmalloc((size_t)b->nnodes * sizeof(uint32_t));
	l->first = lfs_xmalloc((size_t)b->nnodes * sizeof(uint32_t));
	l->nchild = lfs_xmalloc((size_t)b->nnodes * sizeof(uint32_t));
	l->order[0] = 0;
	for (uint32_t head = 0; head < count; head++) {
		uint32_t d = l->order[head], start = count;
		l->out_no[d] = head;
		if (node_is_dir(b, d))
			for (uint32_t c = b->nodes[d].child; c != NONE; c = b->nodes[c].sibling)
				l->order[count++] = c;
		qsort_r(l->order + start, count - start, sizeof(uint32_t), cmp_nodes, b);
		l->first[head] = count > start ? start : 0;
		l->nchild[head] = count - start;
	}
	l->count = count;
}

static void layout_release(struct layout *l)
{
	free(l->order);
	free(l->out_no);
	free(l->first);
	free(l->nchild);
}

/* Fills the entry array; hard-linked names get nlink and a ring. */
static struct lfs_entry *layout_entries(struct builder *b, struct layout *l, uint64_t *total)
{
	struct lfs_entry *ents = lfs_xcalloc(l->count, sizeof(*ents));
	uint32_t *nl = lfs_xcalloc(b->ninos, sizeof(uint32_t));
	uint32_t *ring_first = lfs_xmalloc((size_t)b->ninos * sizeof(uint32_t));
	uint32_t *ring_last = lfs_xmalloc((size_t)b->ninos * sizeof(uint32_t));

	memset(ring_first, 0xff, (size_t)b->ninos * sizeof(uint32_t));
	*total = 0;
	for (uint32_t k = 0; k < l->count; k++) {
		uint32_t ino = b->nodes[l->order[k]].ino;
		if (S_ISREG(b->inos[ino].mode) && nl[ino]++ == 0)
			*total += b->inos[ino].size;
	}
	for (uint32_t k = 0; k < l->count; k++) {
		const struct node *nd = &b->nodes[l->order[k]];
		struct lfs_entry *e = &ents[k];
		*e = b->inos[nd->ino];
		e->parent = l->out_no[nd->parent];
		e->name = nd->name;
		e->name_len = nd->name_len;
		e->first_child = l->first[k];
		e->nchild = l->nchild[k];
		e->flags = (uint16_t)((nd->flags & ~NODE_DEAD) | (e->flags & LFS_E_SPARSE));
		if (S_ISREG(e->mode) && nl[nd->ino] > 1) {
			e->nlink = nl[nd->ino];
			e->flags |= LFS_E_HARDLINK;
			if (ring_first[nd->ino] == NONE)
				ring_first[nd->ino] = k;
			else
				ents[ring_last[nd->ino]].link = k;
			ring_last[nd->ino] = k;
		}
	}
	for (uint32_t i = 0; i < b->ninos; i++)
		if (ring_first[i] != NONE)
			ents[ring_last[i]].link = ring_first[i];
	free(nl);
	free(ring_first);
	free(ring_last);
	return ents;
}

static uint64_t align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

/* Lays the sections out after the header, computes the CRC over the
 * exact bytes that will be written, then writes them. */
static int write_index(int fd, struct lfs_index_header *h, const void *const *data)
{
	static const char zero[8];
	uint64_t off = align8(sizeof(*h)), end;
	uLong crc;
	int ret;

	for (int i = 0; i < LFS_SECT_COUNT; i++) {
		h->sect[i].off = off;
		off = align8(off + h->sect[i].len);
	}
	h->file_size = h->sect[LFS_SECT_COUNT - 1].off + h->sect[LFS_SECT_COUNT - 1].len;
	h->crc32 = 0;
	crc = crc32_z(0, (const Bytef *)h, sizeof(*h));
	end = sizeof(*h);
	for (int i = 0; i < LFS_SECT_COUNT; i++) {
		/* crc32_z(.., NULL, 0) would return the initial value: skip empties */
		if (h->sect[i].off > end)
			crc = crc32_z(crc, (const Bytef *)zero, h->sect[i].off - end);
		if (h->sect[i].len)
			crc = crc32_z(crc, data[i], h->sect[i].len);
		end = h->sect[i].off + h->sect[i].len;
	}
	h->crc32 = (uint32_t)crc;
	ret = lfs_write_all(fd, h, sizeof(*h));
	end = sizeof(*h);
	for (int i = 0; i < LFS_SECT_COUNT && ret == 0; i++) {
		ret = lfs_write_all(fd, zero, h->sect[i].off - end);
		if (ret == 0)
			ret = lfs_write_all(fd, data[i], h->sect[i].len);
		end = h->sect[i].off + h->sect[i].len;
	}
	return ret;
}

static int finish_build(struct builder *b, int out_fd, struct lfs_index_header *h)
{
	struct layout l;
	struct lfs_entry *ents;
	const void *data[LFS_SECT_COUNT];
	int ret;

	layout_bfs(b, &l);
	ents = layout_entries(b, &l, &h->total_data);
	memcpy(h->magic, LFS_INDEX_MAGIC, sizeof(h->magic));
	h->version = LFS_INDEX_VERSION;
	h->header_size = sizeof(*h);
	h->nentries = l.count;
	data[LFS_SECT_ENTRIES] = ents;
	h->sect[LFS_SECT_ENTRIES].len = (uint64_t)l.count * sizeof(*ents);
	data[LFS_SECT_STRINGS] = b->str.data;
	h->sect[LFS_SECT_STRINGS].len = b->str.len;
	data[LFS_SECT_XATTRS] = b->xat.data;
	h->sect[LFS_SECT_XATTRS].len = b->xat.len;
	data[LFS_SECT_SPARSE] = b->sps.data;
	h->sect[LFS_SECT_SPARSE].len = b->sps.len;
	data[LFS_SECT_GZIP] = b->gz.data;
	h->sect[LFS_SECT_GZIP].len = b->gz.len;
	ret = write_index(out_fd, h, data);
	if (ret < 0) {
		free(*b->err);
		*b->err = lfs_xasprintf("writing the index: %s", strerror(-ret));
	}
	free(ents);
	layout_release(&l);
	return ret;
}

/* Every plain file's bytes lie inside the tar.  A seekable layer is read
 * by skipping over member data, so a truncated tar (or a GNU sparse member
 * whose map is missing, whose full size is then taken as data) is only
 * caught here; the index must never point past the end. */
static int check_data_inside(struct builder *b, uint64_t tar_size)
{
	for (uint32_t i = 0; i < b->ninos; i++) {
		const struct lfs_entry *e = &b->inos[i];
		if (!S_ISREG(e->mode) || (e->flags & (LFS_E_SPARSE | LFS_E_WHITEOUT)))
			continue;
		if (e->data_off > tar_size || e->size > tar_size - e->data_off) {
			free(*b->err);
			*b->err = lfs_xasprintf(
			    "a member's data runs past the end of the layer (%llu bytes): the "
			    "tar is truncated, or a sparse member lacks its map",
			    (unsigned long long)tar_size);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Everything between opening the input and writing the output. */
static int build_from(struct builder *b, struct src *s, int comp, struct lfs_index_header *h)
{
	struct archive *a = archive_read_new();
	int ret;

	archive_read_support_format_tar(a);
	/* A data tap must see every byte, so no skipping then. */
	int skip = s->seekable && comp == LFS_COMP_NONE && !s->on_data;
	if (archive_read_open2(a, s, NULL, src_read, skip ? src_skip : NULL, NULL) != ARCHIVE_OK) {
		*b->err = lfs_xasprintf("opening the layer: %s", archive_error_string(a));
		ret = s->err ? s->err : -EIO;
	} else {
		ret = read_members(b, a, s);
	}
	archive_read_free(a);
	if (ret < 0)
		return ret;
	ret = src_drain(s, &h->tar_size);
	if (ret == 0)
		ret = check_data_inside(b, h->tar_size);
	h->compression = (uint32_t)comp;
	if (ret == 0 && s->gz)
		ret = lfs_gz_reader_finish(s->gz, &b->gz);
	else if (ret == 0 && s->zst)
		ret = lfs_zst_reader_finish(s->zst, &b->gz);
	if (ret < 0 && !*b->err)
		*b->err = lfs_xasprintf("reading the layer after its last member: %s",
					s->gz || s->zst ? src_error(s) : strerror(-ret));
	if (s->seekable)
		h->src_size = s->end - s->start;
	else if (comp == LFS_COMP_NONE)
		h->src_size = s->pos; /* a pipe: what we read; unknown for compressed pipes */
	return ret;
}

int lfs_index_build(int tar_fd, int out_fd, const struct lfs_index_build_opts *opts, char **err)
{
	static const struct lfs_index_build_opts defaults;
	struct lfs_index_header h;
	struct builder b;
	struct src s;
	char *local_err = NULL;
	locale_t c_loc, old_loc = (locale_t)0;
	int comp = LFS_COMP_NONE, ret;

	if (!err)
		err = &local_err;
	*err = NULL;
	if (!opts)
		opts = &defaults;
	memset(&h, 0, sizeof(h));
	h.src_mtime_ns = opts->src_mtime_ns;
	/* Names are raw bytes: in the C locale libarchive passes pax UTF-8
	 * and binary names through unconverted, whatever the caller's locale. */
	c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c_loc)
		old_loc = uselocale(c_loc);
	builder_init(&b, err);
	if (opts->max_entries && opts->max_entries < LFS_ENTRIES_MAX)
		b.max_entries = opts->max_entries;
	ret = src_open(&s, tar_fd, opts, &comp, err);
	if (ret == 0)
		ret = build_from(&b, &s, comp, &h);
	if (ret == 0)
		ret = finish_build(&b, out_fd, &h);
	if (ret < 0 && !*err)
		*err = lfs_xasprintf("indexing the layer: %s", strerror(-ret));
	src_release(&s);
	builder_release(&b);
	if (c_loc) {
		uselocale(old_loc);
		freelocale(c_loc);
	}
	free(local_err);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Open and validate.  After lfs_index_validate() every offset an accessor
 * follows is known to be in bounds, so accessors do no checks of their own
 * beyond the entry number. */

struct bits {
	uint64_t *w;
};

static void bits_init(struct bits *bs, size_t n)
{
	bs->w = lfs_xcalloc(n / 64 + 1, sizeof(uint64_t));
}

static void bits_set(struct bits *bs, size_t i)
{
	bs->w[i / 64] |= 1ull << (i % 64);
}

static int bits_get(const struct bits *bs, size_t i)
{
	return (int)((bs->w[i / 64] >> (i % 64)) & 1);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int check_header(struct lfs_index *x)
{
	const struct lfs_index_header *h = (const void *)x->base;
	const size_t crc_at = offsetof(struct lfs_index_header, crc32);
	uLong crc;

	if (x->len < sizeof(*h) || memcmp(h->magic, LFS_INDEX_MAGIC, sizeof(h->magic)))
		return -EBADMSG;
	if (h->version != LFS_INDEX_VERSION)
		return -ENOEXEC;
	if (h->header_size != sizeof(*h) || h->file_size != x->len)
		return -EBADMSG;
	crc = crc32_z(0, x->base, crc_at);
	crc = crc32_z(crc, (const Bytef *)"\0\0\0\0", 4);
	crc = crc32_z(crc, x->base + crc_at + 4, x->len - crc_at - 4);
	if (crc != h->crc32)
		return -EBADMSG;
	if (h->compression > LFS_COMP_ZSTD || h->nentries == 0 ||
	    h->nentries > LFS_INDEX_MAX_ENTRIES)
		return -EBADMSG;
	for (int i = 0; i < LFS_SECT_COUNT; i++)
		if (h->sect[i].off % 8 || h->sect[i].off < sizeof(*h) || h->sect[i].off > x->len ||
		    h->sect[i].len > x->len - h->sect[i].off)
			return -EBADMSG;
	if (h->sect[LFS_SECT_ENTRIES].len != (uint64_t)h->nentries * sizeof(struct lfs_entry) ||
	    h->sect[LFS_SECT_STRINGS].len == 0 || h->sect[LFS_SECT_STRINGS].len > UINT32_MAX ||
	    h->sect[LFS_SECT_XATTRS].len > UINT32_MAX)
		return -EBADMSG;
	x->hdr = h;
	x->n = h->nentries;
	x->ents = (const void *)(x->base + h->sect[LFS_SECT_ENTRIES].off);
	x->str = (const char *)x->base + h->sect[LFS_SECT_STRINGS].off;
	x->str_len = h->sect[LFS_SECT_STRINGS].len;
	x->xat = x->base + h->sect[LFS_SECT_XATTRS].off;
	x->xat_len = h->sect[LFS_SECT_XATTRS].len;
	x->sps = x->base + h->sect[LFS_SECT_SPARSE].off;
	x->sps_len = h->sect[LFS_SECT_SPARSE].len;
	x->gz = x->base + h->sect[LFS_SECT_GZIP].off;
	x->gz_len = h->sect[LFS_SECT_GZIP].len;
	return 0;
}

/* Walks the xattr section record by record (the builder writes them back to
 * back, 4-aligned) and marks where valid records start. */
static int check_xattrs(const struct lfs_index *x, struct bits *ok)
{
	size_t pos = 0, len = x->xat_len;

	while (pos < len) {
		size_t start = pos;
		uint32_t count;
		if (len - pos < 4)
			return -EBADMSG;
		count = get32(x->xat + pos);
		pos += 4;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t nl, vl;
			if (len - pos < 8)
				return -EBADMSG;
			nl = get32(x->xat + pos);
			vl = get32(x->xat + pos + 4);
			pos += 8;
			if (nl == 0 || nl >= len - pos || vl > len - pos - nl - 1 ||
			    x->xat[pos + nl] != '\0' || memchr(x->xat + pos, '\0', nl))
				return -EBADMSG;
			pos += (size_t)nl + 1 + vl;
		}
		bits_set(ok, start / 4);
		while (pos % 4 && pos < len)
			pos++;
	}
	return 0;
}

/* Same for the sparse section: 8-byte records, runs sorted, disjoint and
 * inside the tar stream.  Sizes are checked per entry against the last run. */
static int check_sparse(const struct lfs_index *x, struct bits *ok)
{
	size_t pos = 0, len = x->sps_len;
	uint64_t tar_size = x->hdr->tar_size;

	while (pos < len) {
		uint32_t count;
		uint64_t prev_end = 0;
		const struct lfs_sparse_run *r;
		if (len - pos < 8 || get32(x->sps + pos + 4) != 0)
			return -EBADMSG;
		count = get32(x->sps + pos);
		if (count > (len - pos - 8) / sizeof(*r))
			return -EBADMSG;
		r = (const void *)(x->sps + pos + 8);
		for (uint32_t i = 0; i < count; i++) {
			if (r[i].len == 0 || r[i].len > LFS_INDEX_MAX_FILE ||
			    r[i].file_off > LFS_INDEX_MAX_FILE || r[i].file_off < prev_end ||
			    r[i].tar_off > tar_size || r[i].len > tar_size - r[i].tar_off)
				return -EBADMSG;
			prev_end = r[i].file_off + r[i].len;
		}
		bits_set(ok, pos / 8);
		pos += 8 + (size_t)count * sizeof(*r);
	}
	return 0;
}

static int check_name(const struct lfs_index *x, uint32_t i)
{
	const struct lfs_entry *e = &x->ents[i];
	const char *s = x->str + e->name;

	if (e->name >= x->str_len || e->name_len >= x->str_len - e->name || s[e->name_len] != '\0')
		return -EBADMSG;
	if (i == 0)
		return e->name_len == 0 ? 0 : -EBADMSG;
	/* Tools pass names to *at() calls: no separators, no dot entries. */
	if (e->name_len == 0 || memchr(s, '\0', e->name_len) || memchr(s, '/', e->name_len) ||
	    (s[0] == '.' && (e->name_len == 1 || (e->name_len == 2 && s[1] == '.'))))
		return -EBADMSG;
	return 0;
}

static int check_type(const struct lfs_entry *e)
{
	uint32_t type = e->mode & S_IFMT;

	if (e->flags & ~ALL_FLAGS)
		return -EBADMSG;
	if (e->flags & LFS_E_WHITEOUT)
		return e->flags == LFS_E_WHITEOUT && e->mode == 0 && e->size == 0 && e->nchild == 0
			   ? 0
			   : -EBADMSG;
	if (e->mode & ~(uint32_t)(S_IFMT | 07777))
		return -EBADMSG;
	if ((e->flags & (LFS_E_OPAQUE | LFS_E_IMPLICIT)) && type != S_IFDIR)
		return -EBADMSG;
	if ((e->flags & (LFS_E_SPARSE | LFS_E_HARDLINK)) && type != S_IFREG)
		return -EBADMSG;
	if (type != S_IFDIR && e->nchild != 0)
		return -EBADMSG;
	switch (type) {
	case S_IFREG:
		return e->size <= LFS_INDEX_MAX_FILE ? 0 : -EBADMSG;
	case S_IFLNK:
		return 0;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return e->size == 0 ? 0 : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

/* link, xattr and data_off of one entry. */
static int check_refs(const struct lfs_index *x, const struct lfs_entry *e, const struct bits *xok,
		      const struct bits *sok)
{
	if (e->xattr != NONE &&
	    (e->xattr % 4 || e->xattr >= x->xat_len || !bits_get(xok, e->xattr / 4)))
		return -EBADMSG;
	if (S_ISLNK(e->mode) && !(e->flags & LFS_E_WHITEOUT)) {
		const char *t = x->str + e->link;
		if (e->link >= x->str_len || strnlen(t, x->str_len - e->link) != e->size ||
		    e->size == x->str_len - e->link)
			return -EBADMSG;
	} else if (e->flags & LFS_E_HARDLINK) {
		if (e->link >= x->n || e->nlink < 2)
			return -EBADMSG;
	} else if (e->link != NONE || e->nlink != 1) {
		return -EBADMSG;
	}
	if (e->flags & LFS_E_SPARSE) {
		const struct lfs_sparse_run *r;
		uint32_t count;
		if (e->data_off % 8 || e->data_off >= x->sps_len || !bits_get(sok, e->data_off / 8))
			return -EBADMSG;
		count = get32(x->sps + e->data_off);
		r = (const void *)(x->sps + e->data_off + 8);
		if (count && r[count - 1].file_off + r[count - 1].len > e->size)
			return -EBADMSG;
	} else if (S_ISREG(e->mode) && !(e->flags & LFS_E_WHITEOUT)) {
		if (e->data_off > x->hdr->tar_size || e->size > x->hdr->tar_size - e->data_off)
			return -EBADMSG;
	}
	return 0;
}

/* Tree shape: entry 0 is the root; every other entry comes after its parent
 * (so parent chains end), lies in its parent's child range, and each range
 * holds only that directory's children, sorted strictly by name. */
static int entry_cmp(const struct lfs_index *x, const struct lfs_entry *a, const char *name,
		     size_t len)
{
	size_t n = a->name_len < len ? a->name_len : len;
	int c = memcmp(x->str + a->name, name, n);
	return c ? c : (a->name_len > len) - (a->name_len < len);
}

static int check_tree(const struct lfs_index *x, uint32_t i)
{
	const struct lfs_entry *e = &x->ents[i], *p;

	if (i == 0) {
		if (e->parent != 0 || !S_ISDIR(e->mode) || (e->flags & LFS_E_WHITEOUT))
			return -EBADMSG;
	} else {
		if (e->parent >= i)
			return -EBADMSG;
		p = &x->ents[e->parent];
		if (i < p->first_child || i - p->first_child >= p->nchild)
			return -EBADMSG;
	}
	if (e->nchild == 0)
		return e->first_child == 0 ? 0 : -EBADMSG;
	if (e->first_child <= i || e->first_child > x->n || e->nchild > x->n - e->first_child)
		return -EBADMSG;
	for (uint32_t c = e->first_child; c < e->first_child + e->nchild; c++) {
		const struct lfs_entry *ce = &x->ents[c];
		if (ce->parent != i)
			return -EBADMSG;
		if (c > e->first_child &&
		    entry_cmp(x, &ce[-1], x->str + ce->name, ce->name_len) >= 0)
			return -EBADMSG;
	}
	return 0;
}

/* Hard-link rings: each is a proper cycle of nlink regular entries that
 * share data, so following link from any of them returns to it. */
static int check_rings(const struct lfs_index *x)
{
	struct bits seen;
	int ret = 0;

	bits_init(&seen, x->n);
	for (uint32_t i = 0; i < x->n && ret == 0; i++) {
		const struct lfs_entry *e = &x->ents[i];
		uint32_t j = i, steps = 0;
		if (!(e->flags & LFS_E_HARDLINK) || bits_get(&seen, i))
			continue;
		do {
			const struct lfs_entry *f = &x->ents[j];
			if (!(f->flags & LFS_E_HARDLINK) || bits_get(&seen, j) ||
			    ++steps > e->nlink || f->nlink != e->nlink ||
			    f->data_off != e->data_off || f->size != e->size) {
				ret = -EBADMSG;
				break;
			}
			bits_set(&seen, j);
			j = f->link;
		} while (j != i);
		if (ret == 0 && steps != e->nlink)
			ret = -EBADMSG;
	}
	free(seen.w);
	return ret;
}

static int check_entries(const struct lfs_index *x)
{
	struct bits xok, sok;
	int ret;

	bits_init(&xok, x->xat_len / 4);
	bits_init(&sok, x->sps_len / 8);
	ret = check_xattrs(x, &xok);
	if (ret == 0)
		ret = check_sparse(x, &sok);
	for (uint32_t i = 0; i < x->n && ret == 0; i++) {
		const struct lfs_entry *e = &x->ents[i];
		ret = check_name(x, i);
		if (ret == 0)
			ret = check_type(e);
		if (ret == 0)
			ret = check_refs(x, e, &xok, &sok);
	}
	/* A second pass: sorting compares names of entries not yet seen above. */
	for (uint32_t i = 0; i < x->n && ret == 0; i++)
		ret = check_tree(x, i);
	free(xok.w);
	free(sok.w);
	return ret == 0 ? check_rings(x) : ret;
}

static int index_validate(struct lfs_index *x)
{
	int ret = check_header(x);
	return ret == 0 ? check_entries(x) : ret;
}

int lfs_index_open(int fd, lfs_index **out)
{
	struct lfs_index *x;
	struct stat st;
	void *p;
	int ret;

	*out = NULL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size < sizeof(struct lfs_index_header) ||
	    (uint64_t)st.st_size > SIZE_MAX)
		return -EBADMSG;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	x = lfs_xcalloc(1, sizeof(*x));
	x->base = p;
	x->len = (size_t)st.st_size;
	x->mapped = 1;
	ret = index_validate(x);
	if (ret < 0) {
		lfs_index_free(x);
		return ret;
	}
	*out = x;
	return 0;
}

int lfs_index_open_mem(const void *data, size_t len, lfs_index **out)
{
	struct lfs_index *x = lfs_xcalloc(1, sizeof(*x));
	void *copy = lfs_xmalloc(len); /* malloc alignment suits the entry array */
	int ret;

	memcpy(copy, data, len);
	x->base = copy;
	x->len = len;
	ret = index_validate(x);
	if (ret < 0) {
		lfs_index_free(x);
		x = NULL;
	}
	*out = x;
	return ret;
}

void lfs_index_free(lfs_index *idx)
{
	if (!idx)
		return;
	if (idx->mapped)
		munmap((void *)idx->base, idx->len);
	else
		free((void *)idx->base);
	free(idx);
}

/* ------------------------------------------------------------------ */
/* Accessors.                                                          */

const struct lfs_index_header *lfs_index_header(const lfs_index *idx)
{
	return idx->hdr;
}

uint32_t lfs_index_count(const lfs_index *idx)
{
	return idx->n;
}

const struct lfs_entry *lfs_index_entry(const lfs_index *idx, uint32_t n)
{
	return n < idx->n ? &idx->ents[n] : NULL;
}

const char *lfs_index_name(const lfs_index *idx, const struct lfs_entry *e)
{
	return idx->str + e->name;
}

const char *lfs_index_symlink(const lfs_index *idx, const struct lfs_entry *e)
{
	if (!S_ISLNK(e->mode) || (e->flags & LFS_E_WHITEOUT))
		return NULL;
	return idx->str + e->link;
}

uint32_t lfs_index_child(const lfs_index *idx, uint32_t dir, const char *name, size_t len)
{
	uint32_t lo, hi;

	if (dir >= idx->n)
		return NONE;
	lo = idx->ents[dir].first_child;
	hi = lo + idx->ents[dir].nchild;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(idx, &idx->ents[mid], name, len);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

uint32_t lfs_index_lookup(const lfs_index *idx, const char *path)
{
	uint32_t cur = 0;
	const char *p = path;

	while (*p && cur != NONE) {
		size_t n = strcspn(p, "/");
		if (n && !(n == 1 && p[0] == '.'))
			cur = lfs_index_child(idx, cur, p, n);
		p += n;
		if (*p)
			p++;
	}
	return cur;
}

void lfs_index_path(const lfs_index *idx, uint32_t n, lfs_buf *out)
{
	size_t total = 0;
	char *dst;

	if (n >= idx->n || n == 0)
		return;
	/* Two passes over the parent chain: measure, then fill from the end. */
	for (uint32_t i = n; i != 0; i = idx->ents[i].parent)
		total += idx->ents[i].name_len + 1u;
	total--;
	dst = (char *)lfs_buf_zalloc(out, total) + total;
	for (uint32_t i = n; i != 0; i = idx->ents[i].parent) {
		const struct lfs_entry *e = &idx->ents[i];
		dst -= e->name_len;
		memcpy(dst, idx->str + e->name, e->name_len);
		if (e->parent != 0)
			*--dst = '/';
	}
}

int lfs_index_xattr(const lfs_index *idx, const struct lfs_entry *e, uint32_t i, const char **name,
		    const void **value, uint32_t *value_len)
{
	const uint8_t *p;
	uint32_t count;

	if (e->xattr == NONE)
		return 0;
	p = idx->xat + e->xattr;
	count = get32(p);
	if (i >= count)
		return 0;
	p += 4;
	for (;;) {
		uint32_t nl = get32(p), vl = get32(p + 4);
		if (i-- == 0) {
			*name = (const char *)p + 8;
			*value = p + 8 + nl + 1;
			*value_len = vl;
			return 1;
		}
		p += 8 + (size_t)nl + 1 + vl;
	}
}

const struct lfs_sparse_run *lfs_index_sparse(const lfs_index *idx, const struct lfs_entry *e,
					      uint32_t *n)
{
	if (!(e->flags & LFS_E_SPARSE)) {
		*n = 0;
		return NULL;
	}
	*n = get32(idx->sps + e->data_off);
	return (const void *)(idx->sps + e->data_off + 8);
}

const void *lfs_index_gzip_data(const lfs_index *idx, size_t *len)
{
	*len = idx->hdr->compression == LFS_COMP_GZIP ? idx->gz_len : 0;
	return *len ? idx->gz : NULL;
}

const void *lfs_index_zstd_data(const lfs_index *idx, size_t *len)
{
	*len = idx->hdr->compression == LFS_COMP_ZSTD ? idx->gz_len : 0;
	return *len ? idx->gz : NULL;
}

const char *lfs_index_compression_name(const lfs_index *idx)
{
	static const char *const names[] = {"none", "gzip", "directory", "zstd"};

	return names[idx->hdr->compression]; /* validated on open */
}

const char *lfs_index_access_name(const lfs_index *idx)
{
	static const char *const names[] = {"pread", "checkpoints", "files"};
	lfs_zst_index *zi;
	const char *name;

	if (idx->hdr->compression != LFS_COMP_ZSTD)
		return names[idx->hdr->compression];
	if (lfs_zst_index_open(idx->gz, idx->gz_len, &zi) < 0)
		return "invalid";
	name = lfs_zst_index_access(zi) == LFS_ZST_FRAMES ? "frames" : "decompressed-copy";
	lfs_zst_index_free(zi);
	return name;
}

/* ------------------------------------------------------------ directory layers */

/* The overlay markers of a directory lower are what the tar forms mean:
 * a 0/0 char device NAME is a whiteout ".wh.NAME"; an opaque xattr is a
 * ".wh..wh..opq" member.  Overlay xattrs themselves are not content. */
static int is_overlay_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13) ||
	       !strncmp(name, "user.fuseoverlayfs.", 19);
}

static int dir_is_opaque(struct archive_entry *ae)
{
	const char *name;
	const void *v;
	size_t len;
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, &v, &len) == ARCHIVE_OK)
		if (is_overlay_xattr(name) && strstr(name, "opaque") && len == 1 &&
		    *(const char *)v == 'y')
			return 1;
	return 0;
}

static void drop_overlay_xattrs(struct archive_entry *ae)
{
	struct archive_entry *keep = archive_entry_new();
	const char *name;
	const void *v;
	size_t len;
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, &v, &len) == ARCHIVE_OK)
		if (!is_overlay_xattr(name))
			archive_entry_xattr_add_entry(keep, name, v, len);
	archive_entry_xattr_clear(ae);
	archive_entry_xattr_reset(keep);
	while (archive_entry_xattr_next(keep, &name, &v, &len) == ARCHIVE_OK)
		archive_entry_xattr_add_entry(ae, name, v, len);
	archive_entry_free(keep);
}

struct dir_walk {
	struct builder *b;
	size_t root_len;
	lfs_buf rel;
	/* hard links: (dev, ino) -> first relative path */
	struct dir_link {
		dev_t dev;
		ino_t ino;
		char *path;
	} *links;
	size_t nlinks, caplinks;
};

static const char *dir_link_first(struct dir_walk *w, const struct stat *st, const char *rel)
{
	for (size_t i = 0; i < w->nlinks; i++)
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
			return w->links[i].path;
	if (w->nlinks == w->caplinks) {
		w->caplinks = w->caplinks ? w->caplinks * 2 : 16;
		w->links = lfs_xrealloc(w->links, w->caplinks * sizeof(*w->links));
	}
	w->links[w->nlinks++] = (struct dir_link){st->st_dev, st->st_ino, lfs_xstrdup(rel)};
	return NULL;
}

/* One entry of the walk: rewritten to its tar meaning, then indexed. */
static int dir_add(struct dir_walk *w, struct archive_entry *ae)
{
	const char *full = archive_entry_pathname(ae);
	const char *rel = strlen(full) > w->root_len ? full + w->root_len + 1 : "";
	const struct stat *st = archive_entry_stat(ae);
	int opaque = S_ISDIR(st->st_mode) && dir_is_opaque(ae);
	lfs_buf_reset(&w->rel);
	lfs_buf_addstr(&w->rel, *rel ? rel : ".");
	if (S_ISCHR(st->st_mode) && st->st_rdev == 0) {
		const char *slash = strrchr(w->rel.data, '/');
		size_t dlen = slash ? (size_t)(slash - w->rel.data) + 1 : 0;
		lfs_buf wh = LFS_BUF_INIT;
		lfs_buf_add(&wh, w->rel.data, dlen);
		lfs_buf_addf(&wh, "%s%s", WH_PREFIX, w->rel.data + dlen);
		archive_entry_copy_pathname(ae, wh.data);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, 0);
		lfs_buf_release(&wh);
	} else {
		archive_entry_copy_pathname(ae, w->rel.data);
	}
	archive_entry_sparse_clear(ae);
	drop_overlay_xattrs(ae);
	if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
		const char *first = dir_link_first(w, st, w->rel.data);
		if (first) {
			archive_entry_copy_hardlink(ae, first);
			archive_entry_set_size(ae, 0);
		}
	}
	int ret = add_member(w->b, NULL, ae);
	if (!ret && opaque) {
		struct archive_entry *m = archive_entry_new();
		lfs_buf_reset(&w->rel);
		lfs_buf_addf(&w->rel, "%s/%s", *rel ? rel : ".", WH_OPAQUE);
		archive_entry_copy_pathname(m, w->rel.data);
		archive_entry_set_filetype(m, AE_IFREG);
		archive_entry_set_perm(m, 0);
		ret = add_member(w->b, NULL, m);
		archive_entry_free(m);
	}
	return ret;
}

static int dir_walk_all(struct dir_walk *w, const char *dir)
{
	struct archive *a = archive_read_disk_new();
	struct archive_entry *ae = archive_entry_new();
	int ret = 0;
	archive_read_disk_set_symlink_physical(a);
	archive_read_disk_set_behavior(a, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS |
						  ARCHIVE_READDISK_NO_ACL |
						  ARCHIVE_READDISK_NO_FFLAGS);
	if (archive_read_disk_open(a, dir) != ARCHIVE_OK) {
		*w->b->err = lfs_xasprintf("cannot read directory '%s': %s", dir,
					   archive_error_string(a));
		ret = -EIO;
	}
	while (!ret) {
		int r = archive_read_next_header2(a, ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			*w->b->err = lfs_xasprintf("walking '%s': %s", dir, archive_error_string(a));
			ret = -EIO;
			break;
		}
		archive_read_disk_descend(a);
		ret = dir_add(w, ae);
		archive_entry_clear(ae);
	}
	archive_entry_free(ae);
	archive_read_free(a);
	return ret;
}

int lfs_index_build_dir(const char *dir, int out_fd, char **err)
{
	struct lfs_index_header h;
	struct builder b;
	char *local_err = NULL;
	if (!err)
		err = &local_err;
	*err = NULL;
	memset(&h, 0, sizeof(h));
	h.compression = LFS_COMP_DIR;
	h.tar_size = UINT64_MAX; /* no tar stream: data is read from the files */
	builder_init(&b, err);
	struct dir_walk w = {&b, strlen(dir), LFS_BUF_INIT, NULL, 0, 0};
	while (w.root_len > 1 && dir[w.root_len - 1] == '/')
		w.root_len--;
	int ret = dir_walk_all(&w, dir);
	if (ret == 0)
		ret = finish_build(&b, out_fd, &h);
	if (ret < 0 && !*err)
		*err = lfs_xasprintf("indexing directory '%s': %s", dir, strerror(-ret));
	for (size_t i = 0; i < w.nlinks; i++)
		free(w.links[i].path);
	free(w.links);
	lfs_buf_release(&w.rel);
	builder_release(&b);
	free(local_err);
	return ret;
}
