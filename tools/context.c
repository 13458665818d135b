/* context — a build context directory (see context.h).
 *
 * Everything goes through directory fds: one openat walk, with the path of
 * the current entry kept in a buffer only for pattern matching, the stat
 * cache key and messages.  The stat cache is an open-addressing hash table
 * of path -> (stat key, digest), read from and written to one file:
 *
 *   "LFSCTXSC" u32 version u32 count
 *   count x { struct centry_disk, path bytes }
 *   u32 CRC-32 of everything before
 *
 * in host byte order (it never leaves the machine); a file that fails any
 * check is ignored. */
#include "context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "buf.h"
#include "util.h"

#define CACHE_MAGIC	  "LFSCTXSC"
#define CACHE_VERSION	  1u
#define CACHE_MAX_ENTRIES (1u << 18)
#define CACHE_MAX_PATH	  65536u
#define CACHE_MAX_FILE	  (1u << 30)
#define ARENA_BLOCK	  65536u
#define IO_SIZE		  (128u * 1024)

struct centry {
	const char *path;
	uint32_t plen, hash;
	uint32_t mode, day; /* day: last build that used it, days since 1970 */
	uint64_t dev, ino, size;
	int64_t mtime, ctime; /* ns */
	unsigned char digest[32];
	bool seen;
};

struct centry_disk {
	uint32_t plen, mode, day, pad;
	uint64_t dev, ino, size;
	int64_t mtime, ctime;
	unsigned char digest[32];
};

/* Paths of the cache entries, never freed one by one. */
struct arena {
	char **blocks;
	size_t n;
	char *cur;
	size_t left;
};

struct scache {
	struct centry *v;
	size_t n, alloc;
	uint32_t *slots; /* index into v + 1; 0: empty */
	size_t nslots;
	struct arena names;
	bool dirty;
};

struct bctx {
	int dirfd;
	char *dir;
	const ign *ig;
	char *cache_path;
	struct scache cache;
	size_t nread;
	uint32_t today;
};

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- stat cache ------------------------------------------------------------- */

static char *arena_dup(struct arena *a, const char *s, size_t n)
{
	if (a->left < n + 1) {
		size_t sz = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
		a->blocks = lfs_xrealloc(a->blocks, (a->n + 1) * sizeof(*a->blocks));
		a->cur = a->blocks[a->n++] = lfs_xmalloc(sz);
		a->left = sz;
	}
	char *p = a->cur;
	memcpy(p, s, n);
	p[n] = '\0';
	a->cur += n + 1;
	a->left -= n + 1;
	return p;
}

static void scache_release(struct scache *sc)
{
	for (size_t i = 0; i < sc->names.n; i++)
		free(sc->names.blocks[i]);
	free(sc->names.blocks);
	free(sc->v);
	free(sc->slots);
	memset(sc, 0, sizeof(*sc));
}

static uint32_t path_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct centry *cache_find(const struct scache *sc, const char *p, size_t n, uint32_t h)
{
	for (size_t i = h & (sc->nslots - 1); sc->nslots; i = (i + 1) & (sc->nslots - 1)) {
		uint32_t k = sc->slots[i];
		if (!k)
			return NULL;
		struct centry *e = &sc->v[k - 1];
		if (e->hash == h && e->plen == n && !memcmp(e->path, p, n))
			return e;
	}
	return NULL;
}

static void slot_put(struct scache *sc, size_t k)
{
	size_t i = sc->v[k].hash & (sc->nslots - 1);
	while (sc->slots[i])
		i = (i + 1) & (sc->nslots - 1);
	sc->slots[i] = (uint32_t)(k + 1);
}

/* The entry for path p, added (zeroed) when missing. */
static struct centry *cache_get(struct scache *sc, const char *p, size_t n)
{
	uint32_t h = path_hash(p, n);
	struct centry *e = cache_find(sc, p, n, h);
	if (e)
		return e;
	if (sc->n == sc->alloc) {
		sc->alloc = sc->alloc ? 2 * sc->alloc : 1024;
		sc->v = lfs_xrealloc(sc->v, sc->alloc * sizeof(*sc->v));
	}
	e = &sc->v[sc->n++];
	memset(e, 0, sizeof(*e));
	e->path = arena_dup(&sc->names, p, n);
	e->plen = (uint32_t)n;
	e->hash = h;
	if (2 * sc->n <= sc->nslots) {
		slot_put(sc, sc->n - 1);
		return e;
	}
	free(sc->slots);
	sc->nslots = sc->nslots ? 2 * sc->nslots : 2048;
	sc->slots = lfs_xcalloc(sc->nslots, sizeof(*sc->slots));
	for (size_t k = 0; k < sc->n; k++)
		slot_put(sc, k);
	return e;
}

static bool cache_parse_entry(struct scache *sc, const char *buf, size_t end, size_t *off)
{
	struct centry_disk d;
	if (end - *off < sizeof(d))
		return false;
	memcpy(&d, buf + *off, sizeof(d));
	*off += sizeof(d);
	if (!d.plen || d.plen > CACHE_MAX_PATH || end - *off < d.plen ||
	    memchr(buf + *off, '\0', d.plen))
		return false;
	struct centry *e = cache_get(sc, buf + *off, d.plen);
	*off += d.plen;
	e->mode = d.mode;
	e->day = d.day;
	e->dev = d.dev;
	e->ino = d.ino;
	e->size = d.size;
	e->mtime = d.mtime;
	e->ctime = d.ctime;
	memcpy(e->digest, d.digest, sizeof(e->digest));
	return true;
}

static bool cache_parse(struct scache *sc, const char *buf, size_t len)
{
	uint32_t version, count, crc;
	size_t off = 16, end = len - 4;

	if (len < 20 || memcmp(buf, CACHE_MAGIC, 8))
		return false;
	memcpy(&version, buf + 8, 4);
	memcpy(&count, buf + 12, 4);
	memcpy(&crc, buf + end, 4);
	if (version != CACHE_VERSION || crc != (uint32_t)crc32_z(0, (const Bytef *)buf, end))
		return false;
	for (uint32_t i = 0; i < count; i++)
		if (!cache_parse_entry(sc, buf, end, &off))
			return false;
	return off == end;
}

/* A missing, unreadable or corrupt cache is an empty one. */
static void cache_load(struct scache *sc, const char *path)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cleanup_free char *buf = NULL;
	struct stat st;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CACHE_MAX_FILE)
		return;
	buf = lfs_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	if (!cache_parse(sc, buf, got)) {
		scache_release(sc);
		return;
	}
	for (size_t i = 0; i < sc->n; i++)
		sc->v[i].seen = false;
	sc->dirty = false;
}

static void cache_put_disk(lfs_buf *b, const struct centry *e)
{
	struct centry_disk d = {e->plen, e->mode, e->day,   0,	      e->dev,
				e->ino,	 e->size, e->mtime, e->ctime, {0}};
	memcpy(d.digest, e->digest, sizeof(d.digest));
	lfs_buf_add(b, &d, sizeof(d));
	lfs_buf_add(b, e->path, e->plen);
}

static int by_day_desc(const void *a, const void *b)
{
	const struct centry *x = *(const struct centry *const *)a;
	const struct centry *y = *(const struct centry *const *)b;
	return x->day < y->day ? 1 : x->day > y->day ? -1 : 0;
}

/* The entries this build used, then the most recently used others up to
 * the bound. */
static void cache_serialise(const struct scache *sc, lfs_buf *b)
{
	cleanup_free const struct centry **old = lfs_xmalloc((sc->n + 1) * sizeof(*old));
	uint32_t count = 0, version = CACHE_VERSION, crc;
	size_t nold = 0;

	lfs_buf_add(b, CACHE_MAGIC, 8);
	lfs_buf_add(b, &version, 4);
	lfs_buf_add(b, &count, 4);
	for (size_t i = 0; i < sc->n; i++) {
		if (!sc->v[i].seen) {
			old[nold++] = &sc->v[i];
		} else if (count < CACHE_MAX_ENTRIES) {
			cache_put_disk(b, &sc->v[i]);
			count++;
		}
	}
	qsort(old, nold, sizeof(*old), by_day_desc);
	for (size_t i = 0; i < nold && count < CACHE_MAX_ENTRIES; i++, count++)
		cache_put_disk(b, old[i]);
	memcpy(b->data + 12, &count, 4);
	crc = (uint32_t)crc32_z(0, (const Bytef *)b->data, b->len);
	lfs_buf_add(b, &crc, 4);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ctx_save_cache(bctx *c, error **err)
{
	cleanup_buf lfs_buf b = LFS_BUF_INIT;
	if (!c->cache_path || !c->cache.dirty)
		return 0;
	cache_serialise(&c->cache, &b);
	cleanup_free char *tmp = lfs_xasprintf("%s.XXXXXX", c->cache_path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "writing the build context cache %s", c->cache_path);
	/* No fsync: a cache lost in a crash only costs a re-read. */
	if (write_all(fd, b.data, b.len) < 0 || close(fd) < 0 || rename(tmp, c->cache_path) < 0) {
		int e = errno;
		close(fd); /* EBADF when already closed */
		unlink(tmp);
		return error_make(err, e, "writing the build context cache %s", c->cache_path);
	}
	c->cache.dirty = false;
	return 0;
}

/* ---- the context ---------------------------------------------------------- */

int ctx_open(const char *dir, const ign *ignore, const char *stat_cache, bctx **out, error **err)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "opening the build context %s", dir);
	bctx *c = lfs_xcalloc(1, sizeof(*c));
	c->dirfd = fd;
	c->dir = lfs_xstrdup(dir);
	c->ig = ignore;
	c->today = (uint32_t)(time(NULL) / 86400);
	if (stat_cache) {
		c->cache_path = lfs_xstrdup(stat_cache);
		cache_load(&c->cache, stat_cache);
	}
	*out = c;
	return 0;
}

void ctx_free(bctx *c)
{
	if (!c)
		return;
	close(c->dirfd);
	free(c->dir);
	free(c->cache_path);
	scache_release(&c->cache);
	free(c);
}

int ctx_dirfd(const bctx *c)
{
	return c->dirfd;
}

const char *ctx_dir(const bctx *c)
{
	return c->dir;
}

size_t ctx_files_read(const bctx *c)
{
	return c->nread;
}

void ctx_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* "." or a path of non-empty components other than "." and "..". */
static bool rel_ok(const char *rel)
{
	if (!strcmp(rel, "."))
		return true;
	for (const char *p = rel;;) {
		size_t n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* ---- directory listing ------------------------------------------------------ */

struct names {
	lfs_buf buf;
	char **v;
	size_t n;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_release(struct names *nm)
{
	lfs_buf_release(&nm->buf);
	free(nm->v);
	nm->v = NULL;
	nm->n = 0;
}

/* The entries of directory fd but "." and "..", sorted by name; -errno. */
static int list_dir(int fd, struct names *nm)
{
	char d[16384] __attribute__((aligned(8)));
	ssize_t got;

	while ((got = getdents64(fd, d, sizeof(d))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *e = (struct dirent64 *)(d + off);
			off += e->d_reclen;
			if (e->d_name[0] == '.' &&
			    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
				continue;
			lfs_buf_add(&nm->buf, e->d_name, strlen(e->d_name) + 1);
			nm->n++;
		}
	}
	nm->v = lfs_xmalloc((nm->n + 1) * sizeof(*nm->v));
	char *p = nm->buf.data;
	for (size_t i = 0; i < nm->n; p += strlen(p) + 1)
		nm->v[i++] = p;
	qsort(nm->v, nm->n, sizeof(*nm->v), by_name);
	return 0;
}

/* ---- walking ------------------------------------------------------------------ */

/* An excluded directory not reported yet: it is, before the first entry
 * below it that is not excluded. */
struct pend {
	int parent_fd;
	const char *name;
	const struct stat *st;
	size_t pathlen;
};

struct walker {
	bctx *c;
	ctx_walk_fn *fn;
	void *arg;
	error **err;
	lfs_buf path; /* of the current entry; "" for the root */
	struct pend *pend;
	size_t npend, nshown, apend;
};

static int call_fn(struct walker *w, size_t pathlen, int pfd, const char *name,
		   const struct stat *st)
{
	if (!pathlen)
		return w->fn(w->arg, ".", pfd, name, st, w->err);
	char saved = w->path.data[pathlen];
	w->path.data[pathlen] = '\0';
	int r = w->fn(w->arg, w->path.data, pfd, name, st, w->err);
	w->path.data[pathlen] = saved;
	return r;
}

static int show_pending(struct walker *w)
{
	for (; w->nshown < w->npend; w->nshown++) {
		struct pend *p = &w->pend[w->nshown];
		int r = call_fn(w, p->pathlen, p->parent_fd, p->name, p->st);
		if (r)
			return r;
	}
	return 0;
}

static void push_pending(struct walker *w, int pfd, const char *name, const struct stat *st)
{
	if (w->npend == w->apend) {
		w->apend = w->apend ? 2 * w->apend : 8;
		w->pend = lfs_xrealloc(w->pend, w->apend * sizeof(*w->pend));
	}
	w->pend[w->npend++] = (struct pend){pfd, name, st, w->path.len};
}

static void pop_pending(struct walker *w)
{
	w->npend--;
	if (w->nshown > w->npend)
		w->nshown = w->npend;
}

static void walker_release(struct walker *w)
{
	lfs_buf_release(&w->path);
	free(w->pend);
}

static int visit(struct walker *w, int pfd, const char *name, const struct stat *st, bool ex,
		 const unsigned char *state);

/* Opens the directory the walk reached, making sure it is still the one
 * that was stat'ed. */
static int open_walked_dir(int pfd, const char *name, const struct stat *st)
{
	struct stat now;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

static int visit_child(struct walker *w, int fd, const char *name, const unsigned char *pstate,
		       unsigned char *cstate)
{
	size_t base = w->path.len;
	struct stat st;
	int r = 0;

	if (base)
		lfs_buf_addch(&w->path, '/');
	lfs_buf_addstr(&w->path, name);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = visit(w, fd, name, &st, ign_excluded_at(w->c->ig, w->path.data, pstate, cstate),
			  cstate);
	else if (errno != ENOENT) /* ENOENT: removed since listed */
		r = error_make(w->err, errno, "reading '%s' in the build context", w->path.data);
	lfs_buf_setlen(&w->path, base);
	return r;
}

static int visit_dir(struct walker *w, int pfd, const char *name, const struct stat *st, bool ex,
		     const unsigned char *state)
{
	cleanup_free unsigned char *cstate = NULL;
	struct names nm = {LFS_BUF_INIT, NULL, 0};
	const char *shown = w->path.len ? w->path.data : ".";
	int fd = open_walked_dir(pfd, name, st), r;

	if (fd == -EACCES && ex)
		return 0; /* Docker skips what it cannot read when it is excluded */
	if (fd == -EAGAIN)
		return error_fail(w->err, EAGAIN,
			    "'%s' changed while the build context was read; try again", shown);
	if (fd < 0)
		return error_make(w->err, -fd, "reading '%s' in the build context", shown);
	if ((r = list_dir(fd, &nm)) < 0) {
		close(fd);
		names_release(&nm);
		return error_make(w->err, -r, "reading '%s' in the build context", shown);
	}
	if (ex)
		push_pending(w, pfd, name, st);
	cstate = lfs_xmalloc(ign_count(w->c->ig) + 1);
	for (size_t i = 0; i < nm.n && !r; i++)
		r = visit_child(w, fd, nm.v[i], state, cstate);
	if (ex)
		pop_pending(w);
	names_release(&nm);
	close(fd);
	return r;
}

/* The entry at w->path: reported unless excluded; a directory is walked
 * unless excluded with nothing to re-include below. */
static int visit(struct walker *w, int pfd, const char *name, const struct stat *st, bool ex,
		 const unsigned char *state)
{
	int r;
	if (!ex && ((r = show_pending(w)) || (r = call_fn(w, w->path.len, pfd, name, st))))
		return r;
	if (!S_ISDIR(st->st_mode))
		return 0;
	if (ex && !ign_may_include_below(w->c->ig, w->path.data))
		return 0;
	return visit_dir(w, pfd, name, st, ex, state);
}

/* The ignore state of directory rel[0 .. len) (NULL for the root), parent
 * after parent, in st (2 * ign_count bytes + 2). */
static unsigned char *dir_state(const bctx *c, const char *rel, size_t len, unsigned char *st)
{
	size_t np = ign_count(c->ig) + 1;
	unsigned char *parent = NULL, *cur = st;
	cleanup_buf lfs_buf prefix = LFS_BUF_INIT;

	for (size_t i = 0; len && i <= len; i++) {
		if (i < len && rel[i] != '/')
			continue;
		lfs_buf_reset(&prefix);
		lfs_buf_add(&prefix, rel, i);
		ign_excluded_at(c->ig, prefix.data, parent, cur);
		parent = cur;
		cur = cur == st ? st + np : st;
	}
	return parent;
}

/* Opens the directory rel[0 .. len) ("" the root) without following
 * symlinks; -errno. */
static int open_rel_dir(const bctx *c, const char *rel, size_t len, int flags)
{
	cleanup_buf lfs_buf comp = LFS_BUF_INIT;
	int fd = openat(c->dirfd, ".", (len ? O_PATH : flags) | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; fd >= 0 && i < len;) {
		size_t n = strcspn(rel + i, "/");
		if (i + n > len)
			n = len - i;
		lfs_buf_reset(&comp);
		lfs_buf_add(&comp, rel + i, n);
		i += n + 1;
		int nfd =
		    openat(fd, comp.data,
			   (i >= len ? flags : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (nfd < 0)
			return -e;
		fd = nfd;
	}
	return fd < 0 ? -errno : fd;
}

static int walk_from(bctx *c, const char *rel, ctx_walk_fn *fn, void *arg, error **err)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
	size_t plen = slash ? (size_t)(slash - rel) : 0, np = ign_count(c->ig) + 1;
	cleanup_free unsigned char *st = lfs_xmalloc(3 * np);
	struct walker w = {c, fn, arg, err, LFS_BUF_INIT, NULL, 0, 0, 0};
	struct stat sb;
	int r;

	cleanup_fd int pfd = open_rel_dir(c, rel, plen, O_PATH);
	int e = pfd < 0 ? -pfd : fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
	if (e == ENOENT || e == ENOTDIR || e == ELOOP)
		return error_fail(err, ENOENT, "'%s' not found in the build context", rel);
	if (e)
		return error_make(err, e, "reading '%s' in the build context", rel);
	const unsigned char *pstate = dir_state(c, rel, plen, st);
	lfs_buf_addstr(&w.path, rel);
	bool ex = ign_excluded_at(c->ig, rel, pstate, st + 2 * np);
	r = visit(&w, pfd, name, &sb, ex, st + 2 * np);
	walker_release(&w);
	return r;
}

int ctx_walk(bctx *c, const char *rel, ctx_walk_fn *fn, void *arg, error **err)
{
	struct walker w = {c, fn, arg, err, LFS_BUF_INIT, NULL, 0, 0, 0};
	struct stat st;

	if (!rel_ok(rel))
		return error_fail(err, EINVAL, "'%s' is not a path in the build context", rel);
	if (strcmp(rel, "."))
		return walk_from(c, rel, fn, arg, err);
	if (fstat(c->dirfd, &st) < 0)
		return error_make(err, errno, "reading the build context %s", c->dir);
	int r = visit(&w, c->dirfd, ".", &st, false, NULL);
	walker_release(&w);
	return r;
}

/* ---- glob ------------------------------------------------------------------- */

struct cand {
	char *rel;	      /* "" for the root */
	unsigned char *state; /* NULL for the root */
};

struct cands {
	struct cand *v;
	size_t n, alloc;
};

static void cands_release(struct cands *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].rel);
		free(cs->v[i].state);
	}
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

static int found(void *arg, const char *rel, int pfd, const char *name, const struct stat *st,
		 error **err)
{
	return 1;
}

/* An excluded directory is visible when something below it is not. */
static int visible_below(bctx *c, int pfd, const char *name, const struct stat *st, const char *rel,
			 const unsigned char *state, error **err)
{
	struct walker w = {c, found, NULL, err, LFS_BUF_INIT, NULL, 0, 0, 0};
	lfs_buf_addstr(&w.path, rel);
	int r = visit(&w, pfd, name, st, true, state);
	walker_release(&w);
	return r;
}

struct globber {
	bctx *c;
	const char *comp;
	bool wild, last, hidden;
	struct cands next;
	error **err;
};

/* Entry name of directory fd (holding cand) matched comp. */
static int consider(struct globber *g, const struct cand *cand, int fd, const char *name)
{
	struct stat st;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			   ? 0
			   : error_make(g->err, errno, "reading '%s' in the build context", name);
	if (!g->last && !S_ISDIR(st.st_mode))
		return 0;
	char *rel = *cand->rel ? lfs_xasprintf("%s/%s", cand->rel, name) : lfs_xstrdup(name);
	unsigned char *state = lfs_xmalloc(ign_count(g->c->ig) + 1);
	int r = ign_excluded_at(g->c->ig, rel, cand->state, state);
	if (r && g->last)
		r = S_ISDIR(st.st_mode) ? visible_below(g->c, fd, name, &st, rel, state, g->err)
					: 0;
	else
		r = 1;
	if (r <= 0) {
		g->hidden |= r == 0;
		free(rel);
		free(state);
		return r < 0 ? r : 0;
	}
	if (g->next.n == g->next.alloc) {
		g->next.alloc = g->next.alloc ? 2 * g->next.alloc : 8;
		g->next.v = lfs_xrealloc(g->next.v, g->next.alloc * sizeof(*g->next.v));
	}
	g->next.v[g->next.n++] = (struct cand){rel, state};
	return 0;
}

static int expand(struct globber *g, const struct cand *cand)
{
	struct names nm = {LFS_BUF_INIT, NULL, 0};
	int fd = open_rel_dir(g->c, cand->rel, strlen(cand->rel), O_RDONLY), r = 0;

	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return 0;
	if (fd < 0)
		return error_make(g->err, -fd, "reading '%s' in the build context",
				  *cand->rel ? cand->rel : ".");
	if (!g->wild) {
		r = consider(g, cand, fd, g->comp);
	} else if ((r = list_dir(fd, &nm)) < 0) {
		r = error_make(g->err, -r, "reading '%s' in the build context",
			       *cand->rel ? cand->rel : ".");
	} else {
		for (size_t i = 0; i < nm.n && r >= 0; i++)
			if (ign_go_match(g->comp, nm.v[i]) == 1)
				r = consider(g, cand, fd, nm.v[i]);
	}
	names_release(&nm);
	close(fd);
	return r;
}

/* BuildKit's containsWildcards. */
static bool has_wildcard(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		else if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

/* The components of a cleaned relative path, in place. */
static size_t split_path(char *p, char **comps, size_t max)
{
	size_t n = 0;
	for (char *s = p; n < max;) {
		comps[n++] = s;
		s = strchr(s, '/');
		if (!s)
			break;
		*s++ = '\0';
	}
	return n;
}

/* From the first component with a wildcard on, all are patterns. */
static bool patterns_ok(char *const *comps, size_t ncomp)
{
	bool wild = false;
	for (size_t k = 0; k < ncomp; k++) {
		wild = wild || has_wildcard(comps[k]);
		if (wild && ign_go_match(comps[k], "") < 0)
			return false;
	}
	return true;
}

static int glob_steps(struct globber *g, char **comps, size_t ncomp, struct cands *level)
{
	for (size_t k = 0; k < ncomp && level->n; k++) {
		g->comp = comps[k];
		g->wild = g->wild || has_wildcard(comps[k]);
		g->last = k + 1 == ncomp;
		for (size_t i = 0; i < level->n; i++) {
			int r = expand(g, &level->v[i]);
			if (r < 0) {
				cands_release(&g->next);
				return r;
			}
		}
		cands_release(level);
		*level = g->next;
		memset(&g->next, 0, sizeof(g->next));
	}
	return 0;
}

static char **strv_of(struct cands *cs)
{
	char **v = lfs_xmalloc((cs->n + 1) * sizeof(*v));
	for (size_t i = 0; i < cs->n; i++) {
		v[i] = cs->v[i].rel;
		cs->v[i].rel = NULL;
	}
	v[cs->n] = NULL;
	return v;
}

int ctx_glob(bctx *c, const char *src, char ***matches, size_t *n, error **err)
{
	const char *s = src + strspn(src, "/");
	cleanup_free char *clean = ign_path_clean(s);
	struct globber g = {c, NULL, false, false, false, {NULL, 0, 0}, err};
	struct cands level = {NULL, 0, 0};
	int r;

	if (!strcmp(clean, "..") || !strncmp(clean, "../", 3))
		return error_fail(err, EPERM, "COPY source '%s' is outside the build context", src);
	if (!strcmp(clean, ".")) {
		*matches = lfs_xcalloc(2, sizeof(char *));
		(*matches)[0] = lfs_xstrdup(".");
		*n = 1;
		return 0;
	}
	size_t max = 1;
	for (const char *p = clean; *p; p++)
		max += *p == '/';
	cleanup_free char **comps = lfs_xmalloc(max * sizeof(*comps));
	size_t ncomp = split_path(clean, comps, max);

	if (!patterns_ok(comps, ncomp))
		return error_fail(err, EINVAL,
			    "COPY source '%s': malformed pattern (an unterminated '[' class or a "
			    "trailing '\\')",
			    src);
	level.v = lfs_xcalloc(1, sizeof(*level.v));
	level.v[0].rel = lfs_xstrdup("");
	level.n = level.alloc = 1;
	r = glob_steps(&g, comps, ncomp, &level);
	if (r == 0 && !level.n)
		r = error_fail(err, ENOENT, "'%s' not found in the build context%s", src,
			 g.hidden ? " (excluded by .dockerignore)" : "");
	if (r == 0) {
		*n = level.n;
		*matches = strv_of(&level);
	}
	cands_release(&level);
	return r;
}

/* ---- checksum ----------------------------------------------------------------- */

struct sum {
	bctx *c;
	EVP_MD_CTX *all, *one;
	const char *src;
	size_t srclen;
	int64_t start; /* ns */
	lfs_buf rec, data, xattrs;
	char *io;
};

static void put_u32(lfs_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	lfs_buf_add(b, x, sizeof(x));
}

static void put_u64(lfs_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

/* Fills data with a tag and length-prefixed bytes. */
static void put_data(lfs_buf *b, char tag, const void *p, size_t n)
{
	lfs_buf_addch(b, tag);
	put_u32(b, (uint32_t)n);
	lfs_buf_add(b, p, n);
}

static bool no_xattrs(int e)
{
	/* ENOENT: no /proc to reach a symlink or device through */
	return e == ENOTSUP || e == ENOENT || e == ENOSYS;
}

static ssize_t x_list(int fd, const char *proc, char *buf, size_t n)
{
	return fd >= 0 ? flistxattr(fd, buf, n) : listxattr(proc, buf, n);
}

static ssize_t x_get(int fd, const char *proc, const char *name, void *buf, size_t n)
{
	return fd >= 0 ? fgetxattr(fd, name, buf, n) : getxattr(proc, name, buf, n);
}

/* The NUL-separated names of the xattrs, sorted, in *names; -errno. */
static ssize_t xattr_names(int fd, const char *proc, lfs_buf *names, char ***v)
{
	ssize_t n, k = 0;
	do {
		if ((n = x_list(fd, proc, NULL, 0)) <= 0)
			return n < 0 && !no_xattrs(errno) ? -errno : 0;
		lfs_buf_reset(names);
		lfs_buf_grow(names, (size_t)n);
		n = x_list(fd, proc, names->data, (size_t)n);
	} while (n < 0 && errno == ERANGE);
	if (n < 0)
		return no_xattrs(errno) ? 0 : -errno;
	*v = lfs_xmalloc(((size_t)n + 1) * sizeof(**v));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names->data + i) + 1)
		(*v)[k++] = names->data + i;
	qsort(*v, (size_t)k, sizeof(**v), by_name);
	return k;
}

static int xattr_value(int fd, const char *proc, const char *name, lfs_buf *val)
{
	ssize_t n;
	do {
		if ((n = x_get(fd, proc, name, NULL, 0)) < 0)
			return -errno;
		lfs_buf_reset(val);
		lfs_buf_grow(val, (size_t)n);
		n = x_get(fd, proc, name, val->data, (size_t)n);
	} while (n < 0 && errno == ERANGE);
	if (n < 0)
		return -errno;
	lfs_buf_setlen(val, (size_t)n);
	return 0;
}

/* Appends name '\0' length value for each xattr of fd (or of the file
 * /proc/self/fd/N names when fd is -1), sorted by name. */
static int read_xattrs(int fd, const char *proc, lfs_buf *out)
{
	cleanup_buf lfs_buf names = LFS_BUF_INIT;
	cleanup_buf lfs_buf val = LFS_BUF_INIT;
	cleanup_free char **v = NULL;
	ssize_t n = xattr_names(fd, proc, &names, &v);

	for (ssize_t i = 0; i < n; i++) {
		if (!strcmp(v[i], "security.selinux"))
			continue;
		int r = xattr_value(fd, proc, v[i], &val);
		if (r == -ENODATA)
			continue; /* removed since listed */
		if (r < 0)
			return r;
		lfs_buf_add(out, v[i], strlen(v[i]) + 1);
		put_data(out, 'v', val.data, val.len);
	}
	return n < 0 ? (int)n : 0;
}

/* xattrs of an entry that cannot be opened for reading (symlink, device,
 * fifo, socket): through an O_PATH fd and its /proc/self/fd link. */
static int read_xattrs_path(int pfd, const char *name, lfs_buf *out)
{
	char proc[64];
	cleanup_fd int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return read_xattrs(-1, proc, out);
}

static int hash_fd(struct sum *s, int fd, unsigned char out[32])
{
	ssize_t n;
	EVP_DigestInit_ex(s->one, EVP_sha256(), NULL);
	while ((n = read(fd, s->io, IO_SIZE)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		EVP_DigestUpdate(s->one, s->io, (size_t)n);
	}
	EVP_DigestFinal_ex(s->one, out, NULL);
	return 0;
}

/* Opens the file or directory the walk reached; *st becomes its fstat
 * (the cache key), which must be the same inode. */
static int open_entry(int pfd, const char *name, struct stat *st, int flags)
{
	struct stat now;
	int fd = openat(pfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
	    (now.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
		close(fd);
		return -EAGAIN;
	}
	*st = now;
	return fd;
}

static int data_file(struct sum *s, int pfd, const char *name, struct stat *st)
{
	unsigned char d[32];
	cleanup_fd int fd = open_entry(pfd, name, st, O_RDONLY);
	if (fd < 0)
		return fd;
	int r = hash_fd(s, fd, d);
	if (r < 0)
		return r;
	s->c->nread++;
	put_data(&s->data, 'F', d, sizeof(d));
	return read_xattrs(fd, NULL, &s->xattrs);
}

static int data_dir(struct sum *s, int pfd, const char *name, struct stat *st)
{
	cleanup_fd int fd = open_entry(pfd, name, st, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	put_data(&s->data, 'D', NULL, 0);
	return read_xattrs(fd, NULL, &s->xattrs);
}

static int data_link(struct sum *s, int pfd, const char *name, const struct stat *st)
{
	cleanup_buf lfs_buf t = LFS_BUF_INIT;
	size_t size = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	ssize_t n;

	for (;; size *= 2) {
		lfs_buf_grow(&t, size);
		if ((n = readlinkat(pfd, name, t.data, size)) < 0)
			return -errno;
		if ((size_t)n < size)
			break;
	}
	put_data(&s->data, 'L', t.data, (size_t)n);
	return read_xattrs_path(pfd, name, &s->xattrs);
}

/* The digest of what the stat cache stands for: content (or link target)
 * and xattrs.  st may be refreshed from the opened file. */
static int compute_digest(struct sum *s, const char *rel, int pfd, const char *name,
			  struct stat *st, unsigned char out[32], error **err)
{
	int r;
	lfs_buf_reset(&s->data);
	lfs_buf_reset(&s->xattrs);
	if (S_ISREG(st->st_mode))
		r = data_file(s, pfd, name, st);
	else if (S_ISDIR(st->st_mode))
		r = data_dir(s, pfd, name, st);
	else if (S_ISLNK(st->st_mode))
		r = data_link(s, pfd, name, st);
	else
		put_data(&s->data, 'O', NULL, 0), r = read_xattrs_path(pfd, name, &s->xattrs);
	if (r == -EAGAIN)
		return error_fail(err, EAGAIN, "'%s' changed while the build context was read; try again",
			    rel);
	if (r < 0)
		return error_make(err, -r, "reading '%s' in the build context", rel);
	EVP_DigestInit_ex(s->one, EVP_sha256(), NULL);
	EVP_DigestUpdate(s->one, s->data.data, s->data.len);
	EVP_DigestUpdate(s->one, s->xattrs.data, s->xattrs.len);
	EVP_DigestFinal_ex(s->one, out, NULL);
	return 0;
}

static bool key_equal(const struct centry *e, const struct stat *st)
{
	return e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
	       e->size == (uint64_t)st->st_size && e->mtime == ts_ns(st->st_mtim) &&
	       e->ctime == ts_ns(st->st_ctim) && e->mode == (uint32_t)st->st_mode;
}

/* A change within the timestamp granularity of the read may not move
 * ctime: such a digest is not remembered.  Whole-second timestamps
 * suggest a coarse filesystem (FAT has 2 s). */
static bool racy(const struct stat *st, int64_t start)
{
	int64_t window = st->st_ctim.tv_nsec ? 50000000 : 2000000000;
	return ts_ns(st->st_ctim) >= start - window;
}

static void cache_store(bctx *c, const char *rel, const struct stat *st, const unsigned char d[32])
{
	struct centry *e = cache_get(&c->cache, rel, strlen(rel));
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime = ts_ns(st->st_mtim);
	e->ctime = ts_ns(st->st_ctim);
	e->mode = (uint32_t)st->st_mode;
	e->day = c->today;
	e->seen = true;
	memcpy(e->digest, d, 32);
	c->cache.dirty = true;
}

static int entry_digest(struct sum *s, const char *rel, int pfd, const char *name,
			const struct stat *st, unsigned char out[32], error **err)
{
	struct scache *sc = &s->c->cache;
	size_t n = strlen(rel);
	struct centry *e = cache_find(sc, rel, n, path_hash(rel, n));
	struct stat key = *st;

	if (e && key_equal(e, st)) {
		memcpy(out, e->digest, 32);
		e->seen = true;
		if (e->day != s->c->today) {
			e->day = s->c->today;
			sc->dirty = true;
		}
		return 0;
	}
	int r = compute_digest(s, rel, pfd, name, &key, out, err);
	if (r < 0)
		return r;
	if (!racy(&key, s->start))
		cache_store(s->c, rel, &key, out);
	return 0;
}

static int sum_entry(void *arg, const char *rel, int pfd, const char *name, const struct stat *st,
		     error **err)
{
	struct sum *s = arg;
	unsigned char d[32];
	const char *own = rel; /* relative to the source */

	int r = entry_digest(s, rel, pfd, name, st, d, err);
	if (r < 0)
		return r;
	if (!strcmp(rel, s->src))
		own = ".";
	else if (strcmp(s->src, "."))
		own = rel + s->srclen + 1;
	lfs_buf_reset(&s->rec);
	lfs_buf_addch(&s->rec, 'E');
	lfs_buf_add(&s->rec, own, strlen(own) + 1);
	put_u32(&s->rec, (uint32_t)st->st_mode);
	put_u32(&s->rec, (uint32_t)st->st_uid);
	put_u32(&s->rec, (uint32_t)st->st_gid);
	put_u64(&s->rec, S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? (uint64_t)st->st_rdev : 0);
	lfs_buf_add(&s->rec, d, sizeof(d));
	EVP_DigestUpdate(s->all, s->rec.data, s->rec.len);
	return 0;
}

static void sum_release(struct sum *s)
{
	EVP_MD_CTX_free(s->all);
	EVP_MD_CTX_free(s->one);
	lfs_buf_release(&s->rec);
	lfs_buf_release(&s->data);
	lfs_buf_release(&s->xattrs);
	free(s->io);
}

static char *digest_string(EVP_MD_CTX *md)
{
	static const char x[] = "0123456789abcdef";
	unsigned char d[32];
	char hex[65];
	EVP_DigestFinal_ex(md, d, NULL);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = x[d[i] >> 4];
		hex[2 * i + 1] = x[d[i] & 15];
	}
	hex[64] = '\0';
	return lfs_xasprintf("sha256:%s", hex);
}

int ctx_checksum(bctx *c, char *const *srcs, size_t n, char **digest, error **err)
{
	static const char version[] = "layerfs build context v1";
	struct sum s = {c, EVP_MD_CTX_new(), EVP_MD_CTX_new(), NULL,	     0,
			0, LFS_BUF_INIT,     LFS_BUF_INIT,     LFS_BUF_INIT, lfs_xmalloc(IO_SIZE)};
	struct timespec now;
	int r = 0;

	if (!s.all || !s.one)
		abort(); /* out of memory */
	clock_gettime(CLOCK_REALTIME, &now);
	s.start = ts_ns(now);
	EVP_DigestInit_ex(s.all, EVP_sha256(), NULL);
	EVP_DigestUpdate(s.all, version, sizeof(version));
	for (size_t i = 0; i < n && r >= 0; i++) {
		s.src = srcs[i];
		s.srclen = strlen(srcs[i]);
		lfs_buf_reset(&s.rec);
		lfs_buf_addch(&s.rec, 'S');
		lfs_buf_add(&s.rec, srcs[i], s.srclen + 1);
		EVP_DigestUpdate(s.all, s.rec.data, s.rec.len);
		r = ctx_walk(c, srcs[i], sum_entry, &s, err);
	}
	if (r >= 0)
		*digest = digest_string(s.all);
	sum_release(&s);
	return r < 0 ? r : 0;
}
