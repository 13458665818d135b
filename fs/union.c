/* lfs_union — the merged tree of a layer stack (see union.h for semantics).
 *
 * A directory node records the layers that contribute to it (top-down,
 * stopping below an opaque directory or at a layer where the path is not a
 * directory).  Its children are merged once, on first use, by a k-way merge
 * of the contributors' sorted child lists from the indexes: the topmost
 * entry of each name wins, whiteouts hide, and the candidate entries of a
 * name give the child directory's own contributors without any further
 * lookup.  Merged lists and nodes are immutable once published.
 */
#include "union.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS (1u << 16)
#define NSTRIPES 64
#define MAX_SYMLINKS 40

struct contrib {
	uint32_t layer;
	uint32_t entry;
};

struct mdirent {
	const char *name; /* points into the index mapping */
	uint32_t name_len;
	uint64_t id;
};

struct merged {
	uint32_t n;
	struct mdirent ents[];
};

struct node {
	uint64_t parent;       /* directories: parent node id (root: itself) */
	uint32_t layer;        /* the entry that gives metadata, data and st_ino */
	uint32_t entry;
	uint32_t ncontrib;     /* directories: contributing layers, top-down */
	struct contrib *contrib;
	_Atomic(struct merged *) merged;
	_Atomic uint32_t nlink; /* 0 until computed */
};

struct hl_slot {
	uint64_t key; /* (layer + 1) << 32 | canonical entry; 0 = empty */
	uint64_t id;
};

struct lfs_union {
	lfs_layer *const *layers;
	size_t nlayers;
	struct node **chunks; /* MAX_CHUNKS pointers, chunks allocated on demand */
	_Atomic uint64_t nnodes;
	pthread_mutex_t alloc_lock; /* guards node allocation and the hardlink map */
	struct hl_slot *hl;
	size_t hl_cap, hl_used;
	pthread_mutex_t stripes[NSTRIPES]; /* per-directory merge locks, striped */
};

static const lfs_index *idx_of(const lfs_union *u, uint32_t layer)
{
	return lfs_layer_index(u->layers[layer]);
}

static const struct lfs_entry *entry_of(const lfs_union *u, uint32_t layer, uint32_t entry)
{
	return lfs_index_entry(idx_of(u, layer), entry);
}

static struct node *node_get(lfs_union *u, uint64_t id)
{
	if (id == 0 || id > atomic_load_explicit(&u->nnodes, memory_order_acquire))
		return NULL;
	uint64_t i = id - 1;
	return &u->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

/* Called with alloc_lock held.  The node becomes visible to node_get()
 * only when nnodes is published, after the caller filled it in. */
static struct node *node_alloc_locked(lfs_union *u, uint64_t *id)
{
	uint64_t i = atomic_load_explicit(&u->nnodes, memory_order_relaxed);
	if ((i >> CHUNK_BITS) >= MAX_CHUNKS)
		return NULL;
	struct node **chunk = &u->chunks[i >> CHUNK_BITS];
	if (!*chunk)
		*chunk = lfs_xcalloc(CHUNK_SIZE, sizeof(struct node));
	*id = i + 1;
	return &(*chunk)[i & (CHUNK_SIZE - 1)];
}

static void node_publish_locked(lfs_union *u, uint64_t id)
{
	atomic_store_explicit(&u->nnodes, id, memory_order_release);
}

static uint64_t hl_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static uint64_t *hl_find_locked(lfs_union *u, uint64_t key)
{
	if (!u->hl_cap)
		return NULL;
	for (size_t i = hl_hash(key) & (u->hl_cap - 1);; i = (i + 1) & (u->hl_cap - 1)) {
		if (u->hl[i].key == key)
			return &u->hl[i].id;
		if (!u->hl[i].key)
			return NULL;
	}
}

static void hl_insert_locked(lfs_union *u, uint64_t key, uint64_t id)
{
	if ((u->hl_used + 1) * 2 > u->hl_cap) {
		size_t ncap = u->hl_cap ? u->hl_cap * 2 : 64;
		struct hl_slot *old = u->hl;
		size_t ocap = u->hl_cap;
		u->hl = lfs_xcalloc(ncap, sizeof(*u->hl));
		u->hl_cap = ncap;
		u->hl_used = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key)
				hl_insert_locked(u, old[i].key, old[i].id);
		free(old);
	}
	size_t i = hl_hash(key) & (u->hl_cap - 1);
	while (u->hl[i].key)
		i = (i + 1) & (u->hl_cap - 1);
	u->hl[i].key = key;
	u->hl[i].id = id;
	u->hl_used++;
}

/* The lowest entry number of a hard-link ring names the inode. */
static uint32_t ring_canonical(const lfs_index *idx, uint32_t e)
{
	uint32_t best = e;
	uint32_t cur = lfs_index_entry(idx, e)->link;
	for (uint32_t n = 0; cur != e && n < lfs_index_count(idx); n++) {
		if (cur < best)
			best = cur;
		cur = lfs_index_entry(idx, cur)->link;
	}
	return best;
}

/* Creates the node for a non-directory child, sharing one node per
 * hard-linked inode.  Returns 0 or -ENOSPC when out of node ids. */
static int new_leaf(lfs_union *u, uint64_t parent, struct contrib c, uint64_t *id)
{
	const lfs_index *idx = idx_of(u, c.layer);
	const struct lfs_entry *e = lfs_index_entry(idx, c.entry);
	uint64_t key = 0;
	int ret = 0;
	pthread_mutex_lock(&u->alloc_lock);
	if (e->flags & LFS_E_HARDLINK) {
		c.entry = ring_canonical(idx, c.entry);
		key = ((uint64_t)c.layer + 1) << 32 | c.entry;
		uint64_t *found = hl_find_locked(u, key);
		if (found) {
			*id = *found;
			goto out;
		}
	}
	struct node *n = node_alloc_locked(u, id);
	if (!n) {
		ret = -ENOSPC;
		goto out;
	}
	n->parent = parent;
	n->layer = c.layer;
	n->entry = c.entry;
	if (key)
		hl_insert_locked(u, key, *id);
	node_publish_locked(u, *id);
out:
	pthread_mutex_unlock(&u->alloc_lock);
	return ret;
}

/* Metadata of a directory comes from the topmost explicit entry. */
static struct contrib dir_meta(const lfs_union *u, const struct contrib *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (!(entry_of(u, c[i].layer, c[i].entry)->flags & LFS_E_IMPLICIT))
			return c[i];
	return c[0];
}

/* Takes ownership of contrib (heap array). */
static int new_dir(lfs_union *u, uint64_t parent, struct contrib *contrib, uint32_t n,
		   uint64_t *id)
{
	int ret = 0;
	struct contrib meta = dir_meta(u, contrib, n);
	pthread_mutex_lock(&u->alloc_lock);
	struct node *nd = node_alloc_locked(u, id);
	if (!nd) {
		free(contrib);
		ret = -ENOSPC;
		goto out;
	}
	nd->parent = parent ? parent : *id;
	nd->layer = meta.layer;
	nd->entry = meta.entry;
	nd->contrib = contrib;
	nd->ncontrib = n;
	node_publish_locked(u, *id);
out:
	pthread_mutex_unlock(&u->alloc_lock);
	return ret;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Cursor over one contributor's children during a merge. */
struct head {
	const lfs_index *idx;
	uint32_t layer;
	uint32_t pos, end;
};

static const struct lfs_entry *head_entry(const struct head *h)
{
	return h->pos < h->end ? lfs_index_entry(h->idx, h->pos) : NULL;
}

/* Index of the head with the smallest current name, or -1 when all are done. */
static int smallest_head(const struct head *h, uint32_t k)
{
	int best = -1;
	const struct lfs_entry *be = NULL;
	for (uint32_t i = 0; i < k; i++) {
		const struct lfs_entry *e = head_entry(&h[i]);
		if (!e)
			continue;
		if (!be || name_cmp(lfs_index_name(h[i].idx, e), e->name_len,
				    lfs_index_name(h[best].idx, be), be->name_len) < 0) {
			best = (int)i;
			be = e;
		}
	}
	return best;
}

/* Given the entries named `name` in the contributors (top-down, in
 * cand[0..nc)), creates the child node.  Returns 1 if the child is visible
 * (id set), 0 if it is whited out, or -errno. */
static int merge_one(lfs_union *u, uint64_t parent, const struct contrib *cand, uint32_t nc,
		     uint64_t *id)
{
	const struct lfs_entry *top = entry_of(u, cand[0].layer, cand[0].entry);
	if (top->flags & LFS_E_WHITEOUT)
		return 0;
	if (!S_ISDIR(top->mode)) {
		int ret = new_leaf(u, parent, cand[0], id);
		return ret < 0 ? ret : 1;
	}
	uint32_t n = 0;
	while (n < nc) {
		const struct lfs_entry *e = entry_of(u, cand[n].layer, cand[n].entry);
		if (!S_ISDIR(e->mode) || (e->flags & LFS_E_WHITEOUT))
			break;
		n++;
		if (e->flags & LFS_E_OPAQUE)
			break;
	}
	struct contrib *c = lfs_xmalloc(n * sizeof(*c));
	memcpy(c, cand, n * sizeof(*c));
	int ret = new_dir(u, parent, c, n, id);
	return ret < 0 ? ret : 1;
}

static int build_merged(lfs_union *u, uint64_t id, const struct node *dn, struct merged **out)
{
	uint32_t k = dn->ncontrib;
	struct head *h = lfs_xcalloc(k, sizeof(*h));
	struct contrib *cand = lfs_xcalloc(k, sizeof(*cand));
	size_t cap = 0;
	for (uint32_t i = 0; i < k; i++) {
		h[i].idx = idx_of(u, dn->contrib[i].layer);
		h[i].layer = dn->contrib[i].layer;
		const struct lfs_entry *d = lfs_index_entry(h[i].idx, dn->contrib[i].entry);
		h[i].pos = d->first_child;
		h[i].end = d->first_child + d->nchild;
		cap += d->nchild;
	}
	struct merged *m = lfs_xmalloc(sizeof(*m) + cap * sizeof(m->ents[0]));
	m->n = 0;
	int ret = 0;
	for (int b; (b = smallest_head(h, k)) >= 0;) {
		const struct lfs_entry *be = head_entry(&h[b]);
		const char *name = lfs_index_name(h[b].idx, be);
		uint32_t len = be->name_len, nc = 0;
		for (uint32_t i = 0; i < k; i++) {
			const struct lfs_entry *e = head_entry(&h[i]);
			if (!e || name_cmp(lfs_index_name(h[i].idx, e), e->name_len, name, len))
				continue;
			cand[nc].layer = h[i].layer;
			cand[nc].entry = h[i].pos;
			nc++;
			h[i].pos++;
		}
		uint64_t cid;
		ret = merge_one(u, id, cand, nc, &cid);
		if (ret < 0)
			break;
		if (ret == 1)
			m->ents[m->n++] = (struct mdirent){name, len, cid};
		ret = 0;
	}
	free(h);
	free(cand);
	if (ret < 0) {
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

/* Returns the merged children of directory node id, merging on first use. */
static int dir_children(lfs_union *u, uint64_t id, struct merged **out)
{
	struct node *n = node_get(u, id);
	if (!n)
		return -ENOENT;
	if (!n->ncontrib)
		return -ENOTDIR;
	struct merged *m = atomic_load_explicit(&n->merged, memory_order_acquire);
	if (m) {
		*out = m;
		return 0;
	}
	pthread_mutex_t *lock = &u->stripes[id % NSTRIPES];
	pthread_mutex_lock(lock);
	m = atomic_load_explicit(&n->merged, memory_order_acquire);
	int ret = 0;
	if (!m) {
		ret = build_merged(u, id, n, &m);
		if (!ret)
			atomic_store_explicit(&n->merged, m, memory_order_release);
	}
	pthread_mutex_unlock(lock);
	if (!ret)
		*out = m;
	return ret;
}

int lfs_union_new(lfs_layer *const *layers, size_t n, lfs_union **out)
{
	if (n == 0 || n > UINT32_MAX - 1)
		return -EINVAL;
	lfs_union *u = lfs_xcalloc(1, sizeof(*u));
	u->layers = layers;
	u->nlayers = n;
	u->chunks = lfs_xcalloc(MAX_CHUNKS, sizeof(*u->chunks));
	pthread_mutex_init(&u->alloc_lock, NULL);
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&u->stripes[i], NULL);
	/* The root: every layer's root, top-down, until an opaque one. */
	struct contrib *c = lfs_xmalloc(n * sizeof(*c));
	uint32_t nc = 0;
	for (size_t i = n; i-- > 0;) {
		c[nc].layer = (uint32_t)i;
		c[nc].entry = 0;
		nc++;
		if (entry_of(u, (uint32_t)i, 0)->flags & LFS_E_OPAQUE)
			break;
	}
	uint64_t id;
	int ret = new_dir(u, 0, c, nc, &id);
	if (ret < 0) {
		lfs_union_free(u);
		return ret;
	}
	*out = u;
	return 0;
}

void lfs_union_free(lfs_union *u)
{
	if (!u)
		return;
	uint64_t nn = atomic_load(&u->nnodes);
	for (uint64_t id = 1; id <= nn; id++) {
		struct node *n = node_get(u, id);
		free(n->contrib);
		free(atomic_load(&n->merged));
	}
	for (size_t i = 0; i < MAX_CHUNKS && u->chunks[i]; i++)
		free(u->chunks[i]);
	free(u->chunks);
	free(u->hl);
	pthread_mutex_destroy(&u->alloc_lock);
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_destroy(&u->stripes[i]);
	free(u);
}

size_t lfs_union_nlayers(const lfs_union *u)
{
	return u->nlayers;
}

int lfs_union_lookup(lfs_union *u, uint64_t dir, const char *name, uint64_t *id)
{
	size_t len = strlen(name);
	if (len > 255)
		return -ENAMETOOLONG;
	struct merged *m;
	int ret = dir_children(u, dir, &m);
	if (ret)
		return ret;
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(m->ents[mid].name, m->ents[mid].name_len, name, len);
		if (!c) {
			*id = m->ents[mid].id;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

static const struct lfs_entry *node_entry(lfs_union *u, uint64_t id, struct node **np)
{
	struct node *n = node_get(u, id);
	if (np)
		*np = n;
	return n ? entry_of(u, n->layer, n->entry) : NULL;
}

/* Walks a layer-relative path through the merged tree without following
 * any symlink (used to decide which names of a hard link are visible). */
static int walk_nofollow(lfs_union *u, const char *path, uint64_t *id)
{
	uint64_t cur = LFS_ROOT_ID;
	lfs_buf comp = LFS_BUF_INIT;
	int ret = 0;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		lfs_buf_reset(&comp);
		lfs_buf_add(&comp, path, len);
		ret = lfs_union_lookup(u, cur, comp.data, &cur);
		if (ret)
			break;
		path += len + (slash ? 1 : 0);
	}
	lfs_buf_release(&comp);
	if (!ret)
		*id = cur;
	return ret;
}

/* Calls fn for each name of hard-linked node id still visible in the
 * merged tree (paths relative to the root); returns how many there are. */
static uint32_t for_each_visible_name(lfs_union *u, uint64_t id, const struct node *n,
				      lfs_union_path_fn fn, void *ctx)
{
	const lfs_index *idx = idx_of(u, n->layer);
	uint32_t visible = 0, e = n->entry, steps = 0;
	lfs_buf path = LFS_BUF_INIT;
	do {
		uint64_t found;
		lfs_buf_reset(&path);
		lfs_index_path(idx, e, &path);
		if (!walk_nofollow(u, path.data, &found) && found == id) {
			visible++;
			if (fn)
				fn(ctx, path.data);
		}
		e = lfs_index_entry(idx, e)->link;
	} while (e != n->entry && ++steps < lfs_index_count(idx));
	lfs_buf_release(&path);
	return visible;
}

static uint32_t hardlink_nlink(lfs_union *u, uint64_t id, const struct node *n)
{
	uint32_t visible = for_each_visible_name(u, id, n, NULL, NULL);
	return visible ? visible : 1;
}

int lfs_union_hardlink_names(lfs_union *u, uint64_t id, lfs_union_path_fn fn, void *ctx)
{
	struct node *n = node_get(u, id);
	if (!n)
		return -ENOENT;
	const struct lfs_entry *e = entry_of(u, n->layer, n->entry);
	if (!(e->flags & LFS_E_HARDLINK))
		return 0;
	for_each_visible_name(u, id, n, fn, ctx);
	return 0;
}

static uint32_t dir_nlink(lfs_union *u, const struct node *n)
{
	if (n->ncontrib > 1)
		return 1; /* merged: like overlayfs, the count is not known cheaply */
	const lfs_index *idx = idx_of(u, n->contrib[0].layer);
	const struct lfs_entry *d = lfs_index_entry(idx, n->contrib[0].entry);
	uint32_t subdirs = 0;
	for (uint32_t i = 0; i < d->nchild; i++)
		if (S_ISDIR(lfs_index_entry(idx, d->first_child + i)->mode))
			subdirs++;
	return 2 + subdirs;
}

static uint32_t node_nlink(lfs_union *u, uint64_t id, struct node *n, const struct lfs_entry *e)
{
	uint32_t nl = atomic_load_explicit(&n->nlink, memory_order_relaxed);
	if (nl)
		return nl;
	if (n->ncontrib)
		nl = dir_nlink(u, n);
	else if (e->flags & LFS_E_HARDLINK)
		nl = hardlink_nlink(u, id, n);
	else
		nl = 1;
	atomic_store_explicit(&n->nlink, nl, memory_order_relaxed);
	return nl;
}

static blkcnt_t entry_blocks(lfs_union *u, uint32_t layer, const struct lfs_entry *e)
{
	if (!(e->flags & LFS_E_SPARSE))
		return (blkcnt_t)((e->size + 511) / 512);
	uint32_t nr;
	const struct lfs_sparse_run *r = lfs_index_sparse(idx_of(u, layer), e, &nr);
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < nr; i++)
		bytes += r[i].len;
	return (blkcnt_t)((bytes + 511) / 512);
}

int lfs_union_getattr(lfs_union *u, uint64_t id, struct stat *st)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = id == LFS_ROOT_ID ? LFS_ROOT_ID : ((uint64_t)n->layer + 1) << 32 | n->entry;
	st->st_mode = e->mode;
	if ((e->flags & LFS_E_IMPLICIT) && !e->mode)
		st->st_mode = S_IFDIR | 0755;
	st->st_nlink = node_nlink(u, id, n, e);
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		st->st_rdev = makedev((unsigned)(e->data_off >> 32), (unsigned)(e->data_off & 0xffffffffu));
	st->st_size = S_ISREG(e->mode) || S_ISLNK(e->mode) ? (off_t)e->size : 0;
	if (S_ISDIR(e->mode))
		st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_blocks = S_ISREG(e->mode) ? entry_blocks(u, n->layer, e) : 0;
	st->st_mtim.tv_sec = e->mtime;
	st->st_mtim.tv_nsec = e->mtime_ns;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
	return 0;
}

int lfs_union_readlink(lfs_union *u, uint64_t id, lfs_buf *out)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e)
		return -ENOENT;
	const char *t = lfs_index_symlink(idx_of(u, n->layer), e);
	if (!t)
		return -EINVAL;
	lfs_buf_addstr(out, t);
	return 0;
}

static mode_t node_type(lfs_union *u, uint64_t id)
{
	const struct lfs_entry *e = node_entry(u, id, NULL);
	return e && e->mode ? e->mode & S_IFMT : S_IFDIR;
}

int lfs_union_readdir(lfs_union *u, uint64_t dir, uint64_t off, lfs_union_dir_fn fn, void *ctx)
{
	struct merged *m;
	int ret = dir_children(u, dir, &m);
	if (ret)
		return ret;
	struct node *n = node_get(u, dir);
	for (uint64_t c = off + 1;; c++) {
		int stop;
		if (c == 1) {
			stop = fn(ctx, ".", dir, S_IFDIR, c);
		} else if (c == 2) {
			stop = fn(ctx, "..", n->parent, S_IFDIR, c);
		} else {
			if (c - 3 >= m->n)
				break;
			const struct mdirent *d = &m->ents[c - 3];
			stop = fn(ctx, d->name, d->id, node_type(u, d->id), c);
		}
		if (stop)
			break;
	}
	return 0;
}

int lfs_union_dir_count(lfs_union *u, uint64_t dir, uint32_t *count)
{
	struct merged *m;
	int ret = dir_children(u, dir, &m);
	if (!ret)
		*count = m->n;
	return ret;
}

ssize_t lfs_union_read(lfs_union *u, uint64_t id, void *buf, size_t len, uint64_t off)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e)
		return -ENOENT;
	if (S_ISDIR(e->mode))
		return -EISDIR;
	if (!S_ISREG(e->mode))
		return -EINVAL;
	return lfs_layer_pread(u->layers[n->layer], e, buf, len, off);
}

int lfs_union_data_fd(lfs_union *u, uint64_t id, int *fd, uint64_t *tar_off)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e || !S_ISREG(e->mode))
		return 0;
	return lfs_layer_data_fd(u->layers[n->layer], e, fd, tar_off);
}

ssize_t lfs_union_getxattr(lfs_union *u, uint64_t id, const char *name, void *buf, size_t size)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e)
		return -ENOENT;
	const char *xn;
	const void *val;
	uint32_t vlen;
	for (uint32_t i = 0; lfs_index_xattr(idx_of(u, n->layer), e, i, &xn, &val, &vlen); i++) {
		if (strcmp(xn, name))
			continue;
		if (size == 0)
			return vlen;
		if (size < vlen)
			return -ERANGE;
		memcpy(buf, val, vlen);
		return vlen;
	}
	return -ENODATA;
}

ssize_t lfs_union_listxattr(lfs_union *u, uint64_t id, char *buf, size_t size)
{
	struct node *n;
	const struct lfs_entry *e = node_entry(u, id, &n);
	if (!e)
		return -ENOENT;
	const char *xn;
	const void *val;
	uint32_t vlen;
	size_t total = 0;
	for (uint32_t i = 0; lfs_index_xattr(idx_of(u, n->layer), e, i, &xn, &val, &vlen); i++) {
		size_t l = strlen(xn) + 1;
		if (size && total + l <= size)
			memcpy(buf + total, xn, l);
		total += l;
	}
	if (size && total > size)
		return -ERANGE;
	return (ssize_t)total;
}

int lfs_union_statfs(lfs_union *u, struct statvfs *st)
{
	uint64_t bytes = 0, files = 0;
	for (size_t i = 0; i < u->nlayers; i++) {
		const struct lfs_index_header *h = lfs_index_header(idx_of(u, (uint32_t)i));
		bytes += h->total_data;
		files += h->nentries;
	}
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_blocks = (bytes + 4095) / 4096;
	st->f_files = files;
	st->f_namemax = 255;
	st->f_flag = ST_RDONLY;
	return 0;
}

int lfs_union_origin(lfs_union *u, uint64_t id, uint32_t *layer, uint32_t *entry)
{
	struct node *n = node_get(u, id);
	if (!n)
		return -ENOENT;
	*layer = n->layer;
	*entry = n->entry;
	return 0;
}

/* --- Path resolution as seen from inside the image. --- */

struct resolver {
	lfs_union *u;
	lfs_buf rest; /* components still to walk */
	uint64_t cur;
	int links;
};

/* Replaces the remaining path with target + "/" + rest, restarting at the
 * root for an absolute target. */
static int splice_symlink(struct resolver *r, uint64_t link_id, const char *rest)
{
	if (++r->links > MAX_SYMLINKS)
		return -ELOOP;
	lfs_buf t = LFS_BUF_INIT;
	int ret = lfs_union_readlink(r->u, link_id, &t);
	if (!ret) {
		if (t.data[0] == '/')
			r->cur = LFS_ROOT_ID;
		lfs_buf_addch(&t, '/');
		lfs_buf_addstr(&t, rest);
		lfs_buf_reset(&r->rest);
		lfs_buf_add(&r->rest, t.data, t.len);
	}
	lfs_buf_release(&t);
	return ret;
}

static int resolve_step(struct resolver *r, const char *comp, const char *rest, int follow)
{
	if (!strcmp(comp, ".") || !*comp)
		return 0;
	if (!strcmp(comp, "..")) {
		r->cur = node_get(r->u, r->cur)->parent;
		return 0;
	}
	uint64_t next;
	int ret = lfs_union_lookup(r->u, r->cur, comp, &next);
	if (ret)
		return ret;
	if (node_type(r->u, next) == S_IFLNK && (*rest || follow)) {
		lfs_buf keep = LFS_BUF_INIT;
		lfs_buf_addstr(&keep, rest);
		ret = splice_symlink(r, next, keep.data);
		lfs_buf_release(&keep);
		return ret == 0 ? 1 : ret;
	}
	r->cur = next;
	return 0;
}

int lfs_union_resolve(lfs_union *u, const char *path, int follow, uint64_t *id)
{
	struct resolver r = {u, LFS_BUF_INIT, LFS_ROOT_ID, 0};
	lfs_buf comp = LFS_BUF_INIT;
	lfs_buf_addstr(&r.rest, path);
	int ret = 0;
	size_t pos = 0;
	while (pos < r.rest.len) {
		const char *s = r.rest.data + pos;
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		lfs_buf_reset(&comp);
		lfs_buf_add(&comp, s, len);
		const char *rest = slash ? slash + 1 : s + len;
		if (node_type(u, r.cur) != S_IFDIR && (len || *rest)) {
			ret = -ENOTDIR;
			break;
		}
		ret = resolve_step(&r, comp.data, rest, follow);
		if (ret < 0)
			break;
		pos = ret == 1 ? 0 : (size_t)(rest - r.rest.data);
		ret = 0;
	}
	lfs_buf_release(&comp);
	lfs_buf_release(&r.rest);
	if (!ret)
		*id = r.cur;
	return ret;
}
