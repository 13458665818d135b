/* layerfs ls — list an image's directory through the union core, or one
 * layer's own entries (whiteouts and opaque markers included) through its
 * index. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cmd.h"
#include "inspect.h"
#include "report.h"
#include "util.h"
#include "view.h"

static const char usage[] =
	"Usage: layerfs ls [OPTIONS] IMAGE [PATH]\n"
	"       layerfs ls [OPTIONS] --layer A.tar [--layer B.tar ...] [PATH]\n"
	"\n"
	"Lists PATH (default /) of the image's merged tree without mounting it:\n"
	"every entry, dotfiles included, sorted by name.  Symlinks on the way are\n"
	"resolved inside the image.  Exit status 1 when PATH does not exist.\n"
	"\n"
	"Options:\n"
	"  -l, --long              mode, links, uid, gid, size, mtime, name (-> target)\n"
	"  -d, --directory         list PATH itself, not its contents\n"
	"  -R, --recursive         list subdirectories too (like ls -R; symlinks to\n"
	"                          directories are not followed)\n"
	"  -L, --layer-index N     list layer N's own entries instead of the merged tree:\n"
	"                          1 is the lowest layer, -1 the topmost.  Whiteouts show\n"
	"                          as .wh.NAME and opaque directories hold a .wh..wh..opq\n"
	"                          entry, as in the layer tar; PATH is looked up in that\n"
	"                          layer alone (no symlinks followed)\n"
	"      --layer FILE        read bare tar layers instead of a stored image\n"
	"      --format FMT        text (default) or json (an array of entries)\n"
	"      --human / --bytes   sizes in K/M/G units (default on a terminal) or bytes\n"
	"  -h, --help              show this help\n";

struct ls_opts {
	int lng, dir_itself, recursive, human;
	enum report_format fmt;
	const char *layer_arg; /* -L N */
};

struct ls {
	struct view *v;
	struct ls_opts o;
	struct jw jw;
	lfs_buf path;   /* image path of the directory being listed */
	int printed;    /* directory blocks printed (for -R blank lines) */
};

/* One listed item, from the merged tree or from one layer's index. */
struct item {
	const char *name; /* display name */
	const char *path; /* full image path */
	struct stat st;
	const char *target; /* symlink target or NULL */
	int layer;          /* 1-based origin layer, 0 if unknown */
	int whiteout, opaque_marker, opaque;
};

static void print_long(const struct ls *l, const struct item *it)
{
	char mode[11], when[32], size[24];
	report_mode_string(it->st.st_mode, mode);
	if (it->whiteout || it->opaque_marker)
		memcpy(mode, "----------", 11);
	struct tm tm;
	time_t t = it->st.st_mtim.tv_sec;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
	if (S_ISCHR(it->st.st_mode) || S_ISBLK(it->st.st_mode)) {
		printf("%s %3lu %5u %5u %4u, %4u %s %s", mode, (unsigned long)it->st.st_nlink,
		       it->st.st_uid, it->st.st_gid, major(it->st.st_rdev), minor(it->st.st_rdev),
		       when, it->name);
	} else {
		report_size((uint64_t)it->st.st_size, l->o.human, size);
		printf("%s %3lu %5u %5u %10s %s %s", mode, (unsigned long)it->st.st_nlink,
		       it->st.st_uid, it->st.st_gid, size, when, it->name);
	}
	if (it->target)
		printf(" -> %s", it->target);
	putchar('\n');
}

static void print_json(struct ls *l, const struct item *it)
{
	struct jw *w = &l->jw;
	char mode[8];
	jw_begin_object(w);
	jw_str(w, "path", it->path);
	jw_str(w, "name", it->name);
	jw_str(w, "type", it->whiteout ? "whiteout"
			  : it->opaque_marker ? "opaque"
					      : report_type_name(it->st.st_mode));
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(it->st.st_mode & 07777));
	jw_str(w, "mode", mode);
	jw_u64(w, "uid", it->st.st_uid);
	jw_u64(w, "gid", it->st.st_gid);
	jw_u64(w, "size", (uint64_t)it->st.st_size);
	jw_u64(w, "nlink", it->st.st_nlink);
	jw_i64(w, "mtime", it->st.st_mtim.tv_sec);
	jw_u64(w, "mtime_ns", (uint64_t)it->st.st_mtim.tv_nsec);
	if (it->target)
		jw_str(w, "target", it->target);
	if (S_ISCHR(it->st.st_mode) || S_ISBLK(it->st.st_mode)) {
		jw_u64(w, "major", major(it->st.st_rdev));
		jw_u64(w, "minor", minor(it->st.st_rdev));
	}
	if (it->opaque)
		jw_bool(w, "opaque", 1);
	if (it->layer)
		jw_u64(w, "layer", (uint64_t)it->layer);
	jw_end_object(w);
}

static void print_item(struct ls *l, const struct item *it)
{
	if (l->o.fmt == REPORT_JSON)
		print_json(l, it);
	else if (l->o.lng)
		print_long(l, it);
	else
		printf("%s\n", it->name);
}

static void dir_header(struct ls *l, const char *path)
{
	if (!l->o.recursive || l->o.fmt == REPORT_JSON)
		return;
	printf("%s%s:\n", l->printed++ ? "\n" : "", path);
}

static void child_path(lfs_buf *out, const char *dir, const char *name)
{
	lfs_buf_reset(out);
	lfs_buf_addstr(out, dir);
	if (!out->len || out->data[out->len - 1] != '/')
		lfs_buf_addch(out, '/');
	lfs_buf_addstr(out, name);
}

/* ---- merged tree ---------------------------------------------------------- */

static int merged_item(struct ls *l, const char *name, const char *path, uint64_t id,
		       error **err)
{
	struct item it = {name, path};
	int ret = lfs_union_getattr(l->v->u, id, &it.st);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	uint32_t layer, entry;
	if (!lfs_union_origin(l->v->u, id, &layer, &entry))
		it.layer = (int)layer + 1;
	lfs_buf t = LFS_BUF_INIT;
	if (S_ISLNK(it.st.st_mode) && !lfs_union_readlink(l->v->u, id, &t))
		it.target = t.data;
	print_item(l, &it);
	lfs_buf_release(&t);
	return 0;
}

struct dirents {
	const char **names;
	uint64_t *ids;
	size_t n;
};

static int collect(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t cookie)
{
	struct dirents *d = ctx;
	if (cookie <= 2)
		return 0;
	d->names = lfs_xrealloc(d->names, (d->n + 1) * sizeof(*d->names));
	d->ids = lfs_xrealloc(d->ids, (d->n + 1) * sizeof(*d->ids));
	d->names[d->n] = name;
	d->ids[d->n++] = id;
	return 0;
}

/* Lists directory id at path; with -R, then each subdirectory (ls -R order). */
static int merged_dir(struct ls *l, uint64_t id, const char *path, error **err)
{
	struct dirents d = {0};
	int ret = lfs_union_readdir(l->v->u, id, 0, collect, &d);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	dir_header(l, path);
	lfs_buf cp = LFS_BUF_INIT;
	for (size_t i = 0; i < d.n && ret >= 0; i++) {
		child_path(&cp, path, d.names[i]);
		ret = merged_item(l, d.names[i], cp.data, d.ids[i], err);
	}
	for (size_t i = 0; l->o.recursive && i < d.n && ret >= 0; i++) {
		struct stat st;
		if (lfs_union_getattr(l->v->u, d.ids[i], &st) || !S_ISDIR(st.st_mode))
			continue;
		child_path(&cp, path, d.names[i]);
		char *sub = lfs_xstrdup(cp.data);
		ret = merged_dir(l, d.ids[i], sub, err);
		free(sub);
	}
	lfs_buf_release(&cp);
	free(d.names);
	free(d.ids);
	return ret;
}

/* The JSON array opens only once PATH is known to exist: a missing path
 * prints nothing on stdout. */
static void start_output(struct ls *l)
{
	if (l->o.fmt == REPORT_JSON)
		jw_begin_array(&l->jw, stdout);
}

static int ls_merged(struct ls *l, const char *path, error **err)
{
	uint64_t id;
	int ret = view_resolve(l->v, path, 1, &id, err);
	if (ret < 0)
		return ret;
	struct stat st;
	ret = lfs_union_getattr(l->v->u, id, &st);
	if (ret)
		return error_make(err, -ret, "'%s'", path);
	start_output(l);
	if (!S_ISDIR(st.st_mode) || l->o.dir_itself)
		return merged_item(l, path, path, id, err);
	return merged_dir(l, id, path, err);
}

/* ---- one layer's own entries ---------------------------------------------- */

static void entry_stat(const lfs_index *ix, const struct lfs_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = e->mode ? e->mode : (e->flags & LFS_E_WHITEOUT) ? 0 : S_IFDIR | 0755;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_nlink = e->nlink ? e->nlink : 1;
	st->st_size = S_ISREG(e->mode) || S_ISLNK(e->mode) ? (off_t)e->size : 0;
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		st->st_rdev = makedev((unsigned)(e->data_off >> 32), (unsigned)(e->data_off & 0xffffffffu));
	st->st_mtim.tv_sec = e->mtime;
	st->st_mtim.tv_nsec = e->mtime_ns;
}

struct lent {
	char *name; /* display name: ".wh.NAME" for whiteouts */
	uint32_t entry; /* LFS_INDEX_NONE: the opaque marker */
};

static int lent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lent *)a)->name, ((const struct lent *)b)->name);
}

static void layer_item(struct ls *l, const lfs_index *ix, const struct lent *le, const char *path)
{
	struct item it = {le->name, path};
	if (le->entry == LFS_INDEX_NONE) {
		it.opaque_marker = 1;
		it.st.st_nlink = 1;
		print_item(l, &it);
		return;
	}
	const struct lfs_entry *e = lfs_index_entry(ix, le->entry);
	entry_stat(ix, e, &it.st);
	it.whiteout = (e->flags & LFS_E_WHITEOUT) != 0;
	it.opaque = S_ISDIR(it.st.st_mode) && (e->flags & LFS_E_OPAQUE);
	it.target = lfs_index_symlink(ix, e);
	print_item(l, &it);
}

/* The entries of directory `dir` as the tar spells them, sorted. */
static struct lent *layer_children(const lfs_index *ix, uint32_t dir, size_t *n)
{
	const struct lfs_entry *d = lfs_index_entry(ix, dir);
	struct lent *v = lfs_xcalloc((size_t)d->nchild + 1, sizeof(*v));
	size_t k = 0;
	if (d->flags & LFS_E_OPAQUE)
		v[k++] = (struct lent){lfs_xstrdup(".wh..wh..opq"), LFS_INDEX_NONE};
	for (uint32_t i = 0; i < d->nchild; i++) {
		uint32_t c = d->first_child + i;
		const struct lfs_entry *e = lfs_index_entry(ix, c);
		const char *nm = lfs_index_name(ix, e);
		v[k++] = (struct lent){(e->flags & LFS_E_WHITEOUT) ? lfs_xasprintf(".wh.%s", nm)
								    : lfs_xstrdup(nm),
				       c};
	}
	qsort(v, k, sizeof(*v), lent_cmp);
	*n = k;
	return v;
}

static void layer_dir(struct ls *l, const lfs_index *ix, uint32_t dir, const char *path)
{
	size_t n;
	struct lent *v = layer_children(ix, dir, &n);
	dir_header(l, path);
	lfs_buf cp = LFS_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		child_path(&cp, path, v[i].name);
		layer_item(l, ix, &v[i], cp.data);
	}
	for (size_t i = 0; l->o.recursive && i < n; i++) {
		if (v[i].entry == LFS_INDEX_NONE)
			continue;
		const struct lfs_entry *e = lfs_index_entry(ix, v[i].entry);
		if ((e->flags & LFS_E_WHITEOUT) || !S_ISDIR(e->mode ? e->mode : S_IFDIR))
			continue;
		child_path(&cp, path, v[i].name);
		char *sub = lfs_xstrdup(cp.data);
		layer_dir(l, ix, v[i].entry, sub);
		free(sub);
	}
	lfs_buf_release(&cp);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int ls_layer(struct ls *l, const char *path, error **err)
{
	size_t li;
	int ret = report_parse_layer_no(l->o.layer_arg, l->v->nlayers, &li, err);
	if (ret < 0)
		return ret;
	const lfs_index *ix = lfs_layer_index(l->v->layers[li]);
	const char *rel = path;
	while (*rel == '/')
		rel++;
	uint32_t e = lfs_index_lookup(ix, rel);
	if (e == LFS_INDEX_NONE)
		return error_make(err, ENOENT, "'%s' in layer %zu", path, li + 1);
	const struct lfs_entry *ent = lfs_index_entry(ix, e);
	start_output(l);
	if (!S_ISDIR(ent->mode ? ent->mode : (ent->flags & LFS_E_WHITEOUT) ? 0 : S_IFDIR) ||
	    l->o.dir_itself) {
		struct lent le = {(char *)path, e};
		if (ent->flags & LFS_E_WHITEOUT)
			le.name = lfs_xasprintf("%s (whiteout)", path);
		layer_item(l, ix, &le, path);
		if (le.name != path)
			free(le.name);
		return 0;
	}
	layer_dir(l, ix, e, path);
	return 0;
}

/* ---- options ---------------------------------------------------------------- */

static int parse(int argc, char **argv, struct ls_opts *o, char ***tars, size_t *ntars,
		 error **err)
{
	enum { OPT_LAYER = 256, OPT_FORMAT, OPT_HUMAN, OPT_BYTES };
	static const struct option opts[] = {
		{"long", no_argument, NULL, 'l'},
		{"directory", no_argument, NULL, 'd'},
		{"recursive", no_argument, NULL, 'R'},
		{"layer-index", required_argument, NULL, 'L'},
		{"layer", required_argument, NULL, OPT_LAYER},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"human", no_argument, NULL, OPT_HUMAN},
		{"bytes", no_argument, NULL, OPT_BYTES},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ldRL:h", opts, NULL)) != -1) {
		if (c == 'l') {
			o->lng = 1;
		} else if (c == 'd') {
			o->dir_itself = 1;
		} else if (c == 'R') {
			o->recursive = 1;
		} else if (c == 'L') {
			o->layer_arg = optarg;
		} else if (c == OPT_LAYER) {
			view_add_tar(tars, ntars, optarg);
		} else if (c == OPT_FORMAT) {
			if (report_parse_format(optarg, &o->fmt, err) < 0)
				return -1;
		} else if (c == OPT_HUMAN || c == OPT_BYTES) {
			o->human = c == OPT_HUMAN;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 1;
		} else {
			return error_usage(err, "see 'layerfs ls --help'");
		}
	}
	return 0;
}

int cmd_ls(int argc, char **argv, error **err)
{
	struct ls l = {NULL, {.human = report_human_default()}, {0}, LFS_BUF_INIT, 0};
	cleanup_free char **tars = NULL;
	size_t ntars = 0;
	int ret = parse(argc, argv, &l.o, &tars, &ntars, err);
	if (ret)
		return ret > 0 ? 0 : ret;
	int npos = argc - optind, want = ntars ? 0 : 1;
	if (npos < want || npos > want + 1)
		return error_usage(err, "expected %sPATH; see 'layerfs ls --help'",
				   ntars ? "at most one " : "IMAGE and an optional ");
	struct view v = VIEW_INIT;
	l.v = &v;
	ret = view_open(&v, tars, ntars, argv[optind], err);
	const char *path = npos > want ? argv[argc - 1] : "/";
	if (ret >= 0) {
		ret = l.o.layer_arg ? ls_layer(&l, path, err) : ls_merged(&l, path, err);
		if (l.o.fmt == REPORT_JSON && ret >= 0)
			jw_end_array(&l.jw);
	}
	view_release(&v);
	if (fflush(stdout) != 0 && ret >= 0 && errno != EPIPE)
		ret = error_make(err, errno, "writing the listing");
	return ret;
}
