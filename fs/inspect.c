/* lfs_inspect — see inspect.h. */
#include "inspect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define NONE LFS_INDEX_NONE

static int is_whiteout(const struct lfs_entry *e)
{
	return (e->flags & LFS_E_WHITEOUT) != 0;
}

/* An implicit directory may carry mode 0 in old indexes: it is a directory. */
static mode_t entry_mode(const struct lfs_entry *e)
{
	if (!e->mode && (e->flags & LFS_E_IMPLICIT))
		return S_IFDIR | 0755;
	return e->mode;
}

/* --- Walking the merged tree ------------------------------------------ */

struct walk {
	lfs_union *u;
	lfs_buf path;
	unsigned max_depth;
	lfs_walk_fn fn;
	void *ctx;
};

struct walk_dir {
	struct walk *w;
	unsigned depth;
	int ret;
};

static int walk_node(struct walk *w, uint64_t id, unsigned depth);

static int walk_child(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct walk_dir *d = ctx;
	struct walk *w = d->w;
	if (cookie <= 2) /* . and .. */
		return 0;
	size_t len = w->path.len;
	if (!len || w->path.data[len - 1] != '/')
		lfs_buf_addch(&w->path, '/');
	lfs_buf_addstr(&w->path, name);
	d->ret = walk_node(w, id, d->depth + 1);
	lfs_buf_setlen(&w->path, len);
	return d->ret < 0;
}

static int walk_node(struct walk *w, uint64_t id, unsigned depth)
{
	struct stat st;
	int ret = lfs_union_getattr(w->u, id, &st);
	if (ret)
		return ret;
	ret = w->fn(w->ctx, w->path.data, depth, id, &st);
	if (ret < 0)
		return ret;
	if (ret == LFS_WALK_PRUNE || !S_ISDIR(st.st_mode) || depth >= w->max_depth)
		return 0;
	struct walk_dir d = {w, depth, 0};
	ret = lfs_union_readdir(w->u, id, 0, walk_child, &d);
	return ret ? ret : d.ret;
}

int lfs_walk(lfs_union *u, uint64_t start, const char *start_path, unsigned max_depth,
	     lfs_walk_fn fn, void *ctx)
{
	struct walk w = {u, LFS_BUF_INIT, max_depth, fn, ctx};
	lfs_buf_addstr(&w.path, start_path);
	int ret = walk_node(&w, start, 0);
	lfs_buf_release(&w.path);
	return ret;
}

/* --- Per-layer accounting ---------------------------------------------- */

/* The lowest entry number of a hard-link ring names the inode (as in union.c). */
static uint32_t ring_canonical(const lfs_index *idx, uint32_t e)
{
	uint32_t best = e, cur = lfs_index_entry(idx, e)->link;
	for (uint32_t n = 0; cur != e && n < lfs_index_count(idx); n++) {
		if (cur < best)
			best = cur;
		cur = lfs_index_entry(idx, cur)->link;
	}
	return best;
}

struct acct {
	size_t n;
	const lfs_index **idx;
	uint32_t **hidden; /* hidden[j][e]: layer hiding entry e of layer j; n = visible */
	uint8_t **repl;    /* repl[k][e]: entry e of layer k replaces a lower visible entry */
};

/* dk[k] (j < k < h): the entry for directory `dir`'s path in layer k (a
 * directory), or NONE.  h: the layer that hides `dir` (n if none); a child
 * is hidden at the latest by h, so layers from h up are not consulted. */
static void acct_dir(struct acct *a, uint32_t j, uint32_t dir, const uint32_t *dk, uint32_t h)
{
	const lfs_index *ix = a->idx[j];
	const struct lfs_entry *d = lfs_index_entry(ix, dir);
	uint32_t *cdk = lfs_xmalloc(a->n * sizeof(*cdk));
	for (uint32_t i = 0; i < d->nchild; i++) {
		uint32_t c = d->first_child + i;
		const struct lfs_entry *ce = lfs_index_entry(ix, c);
		const char *name = lfs_index_name(ix, ce);
		uint32_t ch = h;
		if (is_whiteout(ce)) {
			a->hidden[j][c] = (uint32_t)a->n;
			continue;
		}
		for (uint32_t k = j + 1; k < ch; k++) {
			cdk[k] = NONE;
			if (dk[k] == NONE)
				continue;
			const lfs_index *kx = a->idx[k];
			const struct lfs_entry *de = lfs_index_entry(kx, dk[k]);
			uint32_t ck = lfs_index_child(kx, dk[k], name, ce->name_len);
			const struct lfs_entry *ke = ck == NONE ? NULL : lfs_index_entry(kx, ck);
			int hides = (de->flags & LFS_E_OPAQUE) ||
				    (ke && (is_whiteout(ke) || !S_ISDIR(entry_mode(ke)) ||
					    !S_ISDIR(entry_mode(ce))));
			if (hides) {
				if (ke && !is_whiteout(ke))
					a->repl[k][ck] = 1;
				ch = k;
				break;
			}
			cdk[k] = ck;
		}
		a->hidden[j][c] = ch;
		if (S_ISDIR(entry_mode(ce)) && ce->nchild)
			acct_dir(a, j, c, cdk, ch);
	}
	free(cdk);
}

static int waste_cmp(const void *pa, const void *pb)
{
	const struct lfs_waste *x = pa, *y = pb;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

struct waste_list {
	struct lfs_waste *v;
	size_t n, alloc;
};

static void waste_push(struct waste_list *w, struct lfs_waste x)
{
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 64;
		w->v = lfs_xrealloc(w->v, w->alloc * sizeof(*w->v));
	}
	w->v[w->n++] = x;
}

/* One regular-file inode of layer j: adds it to the counters. */
static void acct_inode(struct acct *a, uint32_t j, uint32_t e, struct lfs_layer_stats *st,
		       struct waste_list *w)
{
	const lfs_index *ix = a->idx[j];
	const struct lfs_entry *ce = lfs_index_entry(ix, e);
	int visible = 0, replaced = 0;
	uint32_t hider = 0, r = e, steps = 0;
	do {
		uint32_t h = a->hidden[j][r];
		if (h == a->n)
			visible = 1;
		else if (h > hider)
			hider = h;
		replaced |= a->repl[j][r];
		r = (ce->flags & LFS_E_HARDLINK) ? lfs_index_entry(ix, r)->link : e;
	} while (r != e && ++steps < lfs_index_count(ix));
	st[j].files++;
	st[j].bytes += ce->size;
	if (replaced)
		st[j].replaced += ce->size;
	else
		st[j].added += ce->size;
	if (visible)
		return;
	st[j].wasted += ce->size;
	st[hider].removed += ce->size;
	if (w)
		waste_push(w, (struct lfs_waste){j, e, hider, ce->size});
}

static void acct_stats(struct acct *a, uint32_t j, struct lfs_layer_stats *st,
		       struct waste_list *w)
{
	const lfs_index *ix = a->idx[j];
	uint32_t count = lfs_index_count(ix);
	for (uint32_t e = 1; e < count; e++) {
		const struct lfs_entry *ce = lfs_index_entry(ix, e);
		st[j].entries++;
		if (is_whiteout(ce)) {
			st[j].whiteouts++;
			continue;
		}
		if (ce->flags & LFS_E_OPAQUE)
			st[j].opaque++;
		if (!S_ISREG(ce->mode))
			continue;
		if ((ce->flags & LFS_E_HARDLINK) && ring_canonical(ix, e) != e)
			continue;
		acct_inode(a, j, e, st, w);
	}
	if (lfs_index_entry(ix, 0)->flags & LFS_E_OPAQUE)
		st[j].opaque++;
}

int lfs_inspect_layers(lfs_layer *const *layers, size_t n, struct lfs_layer_stats *stats,
		       struct lfs_waste **waste, size_t *nwaste)
{
	if (n >= UINT32_MAX)
		return -E2BIG;
	struct acct a = {n, lfs_xcalloc(n ? n : 1, sizeof(*a.idx)),
			 lfs_xcalloc(n ? n : 1, sizeof(*a.hidden)),
			 lfs_xcalloc(n ? n : 1, sizeof(*a.repl))};
	for (size_t j = 0; j < n; j++) {
		a.idx[j] = lfs_layer_index(layers[j]);
		a.hidden[j] = lfs_xcalloc(lfs_index_count(a.idx[j]), sizeof(**a.hidden));
		a.repl[j] = lfs_xcalloc(lfs_index_count(a.idx[j]), 1);
	}
	uint32_t *dk = lfs_xcalloc(n ? n : 1, sizeof(*dk)); /* every root is entry 0 */
	for (uint32_t j = 0; j < n; j++)
		acct_dir(&a, j, 0, dk, (uint32_t)n);
	free(dk);
	memset(stats, 0, n * sizeof(*stats));
	struct waste_list w = {0};
	for (uint32_t j = 0; j < n; j++)
		acct_stats(&a, j, stats, waste ? &w : NULL);
	for (size_t j = 0; j < n; j++) {
		free(a.hidden[j]);
		free(a.repl[j]);
	}
	free(a.idx);
	free(a.hidden);
	free(a.repl);
	if (waste) {
		if (w.n)
			qsort(w.v, w.n, sizeof(*w.v), waste_cmp);
		*waste = w.v;
		*nwaste = w.n;
	}
	return 0;
}

/* --- Provenance of one path -------------------------------------------- */

/* Splits path into components (in buf, NUL-separated); returns the count
 * or -errno. */
static int split_path(const char *path, lfs_buf *buf, const char ***comps)
{
	lfs_buf_addstr(buf, path);
	size_t cap = 8, m = 0;
	const char **v = lfs_xmalloc(cap * sizeof(*v));
	char *save = NULL;
	for (char *c = strtok_r(buf->data, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..") || strlen(c) > 255) {
			free(v);
			return strcmp(c, "..") ? -ENAMETOOLONG : -EINVAL;
		}
		if (m == cap)
			v = lfs_xrealloc(v, (cap *= 2) * sizeof(*v));
		v[m++] = c;
	}
	*comps = v;
	return (int)m;
}

/* Finds path's entry in one layer (*entry, or NONE) and the first ancestor
 * that hides lower layers' PATH (*via, or NONE). */
static void which_layer(const lfs_index *ix, const char **comps, int m, uint32_t *entry,
			uint32_t *via)
{
	uint32_t cur = 0;
	*entry = m == 0 ? 0 : NONE;
	*via = NONE;
	for (int t = 0; t < m; t++) {
		if (*via == NONE && (lfs_index_entry(ix, cur)->flags & LFS_E_OPAQUE))
			*via = cur;
		uint32_t c = lfs_index_child(ix, cur, comps[t], strlen(comps[t]));
		if (c == NONE)
			return;
		const struct lfs_entry *ce = lfs_index_entry(ix, c);
		if (t == m - 1) {
			*entry = c;
			return;
		}
		if (is_whiteout(ce) || !S_ISDIR(entry_mode(ce))) {
			if (*via == NONE)
				*via = c;
			return;
		}
		cur = c;
	}
}

int lfs_inspect_which(lfs_layer *const *layers, size_t n, const char *path,
		      struct lfs_touch **out, size_t *nout)
{
	lfs_buf buf = LFS_BUF_INIT;
	const char **comps = NULL;
	int m = split_path(path, &buf, &comps);
	if (m < 0) {
		lfs_buf_release(&buf);
		return m;
	}
	struct lfs_touch *v = NULL;
	size_t nv = 0;
	int present = 0;
	mode_t pmode = 0;
	for (uint32_t i = 0; i < n; i++) {
		const lfs_index *ix = lfs_layer_index(layers[i]);
		uint32_t entry, via;
		which_layer(ix, comps, m, &entry, &via);
		struct lfs_touch t = {i, LFS_TOUCH_ADDED, entry, NONE, 0};
		if (entry != NONE) {
			const struct lfs_entry *e = lfs_index_entry(ix, entry);
			mode_t mode = entry_mode(e);
			if (is_whiteout(e))
				t.kind = LFS_TOUCH_DELETED;
			else if (present && via == NONE && S_ISDIR(mode) && S_ISDIR(pmode))
				t.kind = LFS_TOUCH_MODIFIED;
			else if (present)
				t.kind = LFS_TOUCH_REPLACED;
			t.opaque = S_ISDIR(mode) && (e->flags & LFS_E_OPAQUE);
			present = !is_whiteout(e);
			pmode = mode;
		} else if (via != NONE && present) {
			t.kind = LFS_TOUCH_HIDDEN;
			t.via = via;
			present = 0;
		} else {
			continue;
		}
		v = lfs_xrealloc(v, (nv + 1) * sizeof(*v));
		v[nv++] = t;
	}
	free(comps);
	lfs_buf_release(&buf);
	*out = v;
	*nout = nv;
	return 0;
}

/* --- Contents ------------------------------------------------------------ */

int lfs_inspect_sha256(lfs_union *u, uint64_t id, unsigned char out[32])
{
	enum { CHUNK = 256 << 10 };
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	char *buf = lfs_xmalloc(CHUNK);
	int ret = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
	for (uint64_t off = 0; !ret;) {
		ssize_t r = lfs_union_read(u, id, buf, CHUNK, off);
		if (r < 0)
			ret = (int)r;
		else if (r == 0)
			break;
		else if (EVP_DigestUpdate(md, buf, (size_t)r) != 1)
			ret = -EIO;
		off += r > 0 ? (uint64_t)r : 0;
	}
	unsigned len = 0;
	if (!ret && EVP_DigestFinal_ex(md, out, &len) != 1)
		ret = -EIO;
	free(buf);
	EVP_MD_CTX_free(md);
	return ret;
}

/* --- Comparing two images ---------------------------------------------- */

struct diff {
	lfs_union *u[2];
	const char *const *key[2];
	lfs_diff_fn fn;
	void *ctx;
	lfs_buf path;
};

struct dent {
	const char *name; /* owned by the union: stable for its lifetime */
	uint64_t id;
};

struct dlist {
	struct dent *v;
	size_t n, alloc;
};

static int collect_dent(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct dlist *l = ctx;
	if (cookie <= 2)
		return 0;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = lfs_xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = (struct dent){name, id};
	return 0;
}

static int list_dir(lfs_union *u, uint64_t id, struct dlist *l)
{
	*l = (struct dlist){0};
	int ret = lfs_union_readdir(u, id, 0, collect_dent, l);
	if (ret)
		free(l->v);
	return ret;
}

static void path_push(lfs_buf *p, const char *name)
{
	if (!p->len || p->data[p->len - 1] != '/')
		lfs_buf_addch(p, '/');
	lfs_buf_addstr(p, name);
}

/* Reports id (side s) and, for a directory, everything below it as kind. */
static int report_tree(struct diff *d, int s, uint64_t id, enum lfs_diff_kind kind)
{
	int ret = d->fn(d->ctx, d->path.data, kind, 0, s ? NULL : &id, s ? &id : NULL);
	struct stat st;
	if (ret || (ret = lfs_union_getattr(d->u[s], id, &st)) || !S_ISDIR(st.st_mode))
		return ret;
	struct dlist l;
	if ((ret = list_dir(d->u[s], id, &l)))
		return ret;
	for (size_t i = 0; i < l.n && !ret; i++) {
		size_t len = d->path.len;
		path_push(&d->path, l.v[i].name);
		ret = report_tree(d, s, l.v[i].id, kind);
		lfs_buf_setlen(&d->path, len);
	}
	free(l.v);
	return ret;
}

static int same_origin(struct diff *d, uint64_t a, uint64_t b)
{
	uint32_t la, ea, lb, eb;
	if (lfs_union_origin(d->u[0], a, &la, &ea) || lfs_union_origin(d->u[1], b, &lb, &eb))
		return 0;
	return d->key[0] && d->key[1] && ea == eb && d->key[0][la] && d->key[1][lb] &&
	       !strcmp(d->key[0][la], d->key[1][lb]);
}

static int content_differs(struct diff *d, uint64_t a, uint64_t b, const struct stat *sa,
			   const struct stat *sb, int *differs)
{
	*differs = 0;
	if (S_ISCHR(sa->st_mode) || S_ISBLK(sa->st_mode)) {
		*differs = sa->st_rdev != sb->st_rdev;
	} else if (S_ISLNK(sa->st_mode)) {
		lfs_buf ta = LFS_BUF_INIT, tb = LFS_BUF_INIT;
		int ret = lfs_union_readlink(d->u[0], a, &ta);
		if (!ret)
			ret = lfs_union_readlink(d->u[1], b, &tb);
		*differs = strcmp(ta.data, tb.data) != 0;
		lfs_buf_release(&ta);
		lfs_buf_release(&tb);
		return ret;
	} else if (S_ISREG(sa->st_mode)) {
		if (sa->st_size != sb->st_size) {
			*differs = 1;
		} else if (sa->st_size && !same_origin(d, a, b)) {
			unsigned char ha[32], hb[32];
			int ret = lfs_inspect_sha256(d->u[0], a, ha);
			if (!ret)
				ret = lfs_inspect_sha256(d->u[1], b, hb);
			if (ret)
				return ret;
			*differs = memcmp(ha, hb, sizeof(ha)) != 0;
		}
	}
	return 0;
}

/* 1 if every xattr of (ua, a) exists with the same value on (ub, b). */
static int xattrs_within(lfs_union *ua, uint64_t a, lfs_union *ub, uint64_t b, size_t *count)
{
	*count = 0;
	ssize_t len = lfs_union_listxattr(ua, a, NULL, 0);
	if (len <= 0)
		return 1;
	char *names = lfs_xmalloc((size_t)len);
	len = lfs_union_listxattr(ua, a, names, (size_t)len);
	int same = 1;
	for (ssize_t off = 0; same && len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *nm = names + off;
		ssize_t va = lfs_union_getxattr(ua, a, nm, NULL, 0);
		ssize_t vb = lfs_union_getxattr(ub, b, nm, NULL, 0);
		(*count)++;
		if (va != vb || va < 0) {
			same = va == vb;
			continue;
		}
		char *x = lfs_xmalloc((size_t)va + 1), *y = lfs_xmalloc((size_t)va + 1);
		same = lfs_union_getxattr(ua, a, nm, x, (size_t)va) == va &&
		       lfs_union_getxattr(ub, b, nm, y, (size_t)va) == va && !memcmp(x, y, (size_t)va);
		free(x);
		free(y);
	}
	free(names);
	return same;
}

static int xattrs_differ(struct diff *d, uint64_t a, uint64_t b)
{
	size_t na, nb;
	if (!xattrs_within(d->u[0], a, d->u[1], b, &na))
		return 1;
	if (!xattrs_within(d->u[1], b, d->u[0], a, &nb))
		return 1;
	return na != nb;
}

static int diff_dir(struct diff *d, uint64_t a, uint64_t b);

static int diff_node(struct diff *d, uint64_t a, uint64_t b)
{
	struct stat sa, sb;
	int ret = lfs_union_getattr(d->u[0], a, &sa);
	if (!ret)
		ret = lfs_union_getattr(d->u[1], b, &sb);
	if (ret)
		return ret;
	unsigned what = 0;
	if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
		ret = d->fn(d->ctx, d->path.data, LFS_DIFF_CHANGED, LFS_DIFF_TYPE, &a, &b);
		struct dlist l;
		for (int s = 0; s < 2 && !ret; s++) {
			struct stat *st = s ? &sb : &sa;
			if (!S_ISDIR(st->st_mode) || (ret = list_dir(d->u[s], s ? b : a, &l)))
				continue;
			for (size_t i = 0; i < l.n && !ret; i++) {
				size_t len = d->path.len;
				path_push(&d->path, l.v[i].name);
				ret = report_tree(d, s, l.v[i].id, s ? LFS_DIFF_ADDED : LFS_DIFF_DELETED);
				lfs_buf_setlen(&d->path, len);
			}
			free(l.v);
		}
		return ret;
	}
	if ((sa.st_mode & 07777) != (sb.st_mode & 07777))
		what |= LFS_DIFF_MODE;
	if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid)
		what |= LFS_DIFF_OWNER;
	int differs;
	if ((ret = content_differs(d, a, b, &sa, &sb, &differs)))
		return ret;
	if (differs)
		what |= LFS_DIFF_CONTENT;
	if (xattrs_differ(d, a, b))
		what |= LFS_DIFF_XATTR;
	if (what && (ret = d->fn(d->ctx, d->path.data, LFS_DIFF_CHANGED, what, &a, &b)))
		return ret;
	return S_ISDIR(sa.st_mode) ? diff_dir(d, a, b) : 0;
}

static int diff_dir(struct diff *d, uint64_t a, uint64_t b)
{
	struct dlist la, lb;
	int ret = list_dir(d->u[0], a, &la);
	if (ret)
		return ret;
	if ((ret = list_dir(d->u[1], b, &lb))) {
		free(la.v);
		return ret;
	}
	size_t i = 0, j = 0;
	while (!ret && (i < la.n || j < lb.n)) {
		int c = i == la.n ? 1 : j == lb.n ? -1 : strcmp(la.v[i].name, lb.v[j].name);
		size_t len = d->path.len;
		path_push(&d->path, c <= 0 ? la.v[i].name : lb.v[j].name);
		if (c < 0)
			ret = report_tree(d, 0, la.v[i++].id, LFS_DIFF_DELETED);
		else if (c > 0)
			ret = report_tree(d, 1, lb.v[j++].id, LFS_DIFF_ADDED);
		else
			ret = diff_node(d, la.v[i++].id, lb.v[j++].id);
		lfs_buf_setlen(&d->path, len);
	}
	free(la.v);
	free(lb.v);
	return ret;
}

int lfs_inspect_diff(lfs_union *a, const char *const *layer_key_a, lfs_union *b,
		     const char *const *layer_key_b, lfs_diff_fn fn, void *ctx)
{
	struct diff d = {{a, b}, {layer_key_a, layer_key_b}, fn, ctx, LFS_BUF_INIT};
	lfs_buf_addch(&d.path, '/');
	int ret = diff_node(&d, LFS_ROOT_ID, LFS_ROOT_ID);
	lfs_buf_release(&d.path);
	return ret;
}
