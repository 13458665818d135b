/* stress — many threads doing random file system operations at once on one
 * mount, each checked against what it knows the tree must hold.
 *
 *   stress --threads N --ops K --seed S REF MNT
 *
 * MNT is a writable union mount; REF a plain copy of its initial contents
 * (extracted by another tool).  Thread i owns MNT/t<i>: it starts from the
 * contents of REF/t<i> and keeps a model of its subtree, and every
 * operation there (create, write at random offsets, read, truncate, rename
 * of files and directories, unlink, mkdir, rmdir, readdir, stat) must give
 * exactly the model's result.  All threads also share MNT/shared: each
 * creates, renames and unlinks files named after itself there, lists the
 * directory (its own files exactly as in its model; every other name stats
 * fine or is ENOENT, a file another thread just removed; never another
 * error; d_ino and d_type agree with stat), and reads the files REF/shared
 * has (never written) against REF.  After all threads finish, every
 * subtree and the shared directory are walked and compared with the
 * models.  The run is bounded by the operation count, not by time.
 *
 * Exit status: 0 when every check held, 1 on the first failure (thread,
 * operation number and what differed on stderr), 2 on usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODES 96
#define MAX_FILE  (192 * 1024)
#define MAX_DEPTH 3
#define PATH_LEN  512

struct node {
	char path[PATH_LEN]; /* relative to the thread's root */
	int dir;
	unsigned char *data;
	size_t len;
};

struct thread {
	int id;
	pthread_t tid;
	uint64_t rng;
	unsigned long op;
	int root;     /* MNT/t<id> */
	int shared;   /* MNT/shared */
	int refshare; /* REF/shared */
	struct node nodes[MAX_NODES];
	size_t n;
	struct node sh[MAX_NODES]; /* own files in shared/ (path = name) */
	size_t nsh;
	unsigned counter;
	unsigned long counts[16];
};

static atomic_int failed;
static char *ref_shared_names[256];
static size_t n_ref_shared;

/* ---------------------------------------------------------- helpers */

static uint64_t rnd(struct thread *t)
{
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rndn(struct thread *t, size_t n)
{
	return n ? (size_t)(rnd(t) % n) : 0;
}

static void fail(struct thread *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct thread *t, const char *fmt, ...)
{
	va_list ap;
	if (atomic_exchange(&failed, 1))
		return; /* the first failure is the one reported */
	flockfile(stderr);
	if (t)
		fprintf(stderr, "stress: thread %d, op %lu: ", t->id, t->op);
	else
		fprintf(stderr, "stress: final check: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("stress: realloc");
		exit(1);
	}
	return p;
}

static void fill(struct thread *t, unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd(t);
}

static int write_all(int fd, const unsigned char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* read_all DFD PATH LEN — the whole file into a new buffer; NULL and errno
 * on failure. */
static unsigned char *read_all(int dfd, const char *path, size_t *len)
{
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, n = 0;
	unsigned char *b = xrealloc(NULL, cap);
	for (;;) {
		if (n == cap)
			b = xrealloc(b, cap *= 2);
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return b;
}

/* dir_open DFD PATH — a directory stream of a new open of dfd/path. */
static DIR *dir_open(int dfd, const char *path)
{
	int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* same DESC WANT WLEN GOT GLEN — compare contents; reports the first
 * differing byte. */
static int same(struct thread *t, const char *what, const unsigned char *want, size_t wlen,
		const unsigned char *got, size_t glen)
{
	if (wlen == glen && (!wlen || !memcmp(want, got, wlen)))
		return 1;
	size_t i = 0;
	while (i < wlen && i < glen && want[i] == got[i])
		i++;
	fail(t, "%s: contents differ at byte %zu (expected %zu bytes, got %zu)", what, i, wlen,
	     glen);
	return 0;
}

/* ------------------------------------------------------------ model */

static struct node *find(struct thread *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->nodes[i].path, path))
			return &t->nodes[i];
	return NULL;
}

static int depth_of(const char *path)
{
	int d = 1;
	for (const char *p = path; *p; p++)
		d += *p == '/';
	return d;
}

/* child_of: path is directly inside dir ("" is the root). */
static int child_of(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n && (strncmp(path, dir, n) || path[n] != '/'))
		return 0;
	const char *rest = path + (n ? n + 1 : 0);
	return *rest && !strchr(rest, '/');
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && path[n] == '/';
}

static struct node *add(struct thread *t, const char *path, int dir)
{
	struct node *x = &t->nodes[t->n++];
	snprintf(x->path, sizeof x->path, "%s", path);
	x->dir = dir;
	x->data = NULL;
	x->len = 0;
	return x;
}

static void drop(struct thread *t, struct node *x)
{
	free(x->data);
	*x = t->nodes[--t->n];
}

/* pick TYPE — a random node: 0 file, 1 dir, -1 either; NULL if none. */
static struct node *pick(struct thread *t, int type)
{
	size_t idx[MAX_NODES], k = 0;
	for (size_t i = 0; i < t->n; i++)
		if (type < 0 || t->nodes[i].dir == type)
			idx[k++] = i;
	return k ? &t->nodes[idx[rndn(t, k)]] : NULL;
}

/* pick_parent — "" or a directory shallow enough to hold one more level. */
static const char *pick_parent(struct thread *t)
{
	size_t idx[MAX_NODES], k = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->nodes[i].dir && depth_of(t->nodes[i].path) < MAX_DEPTH)
			idx[k++] = i;
	size_t r = rndn(t, k + 1);
	return r == k ? "" : t->nodes[idx[r]].path;
}

/* new_path — a name no other entry has: the reference tree has no "_" in
 * its names, and the counter is this thread's own. */
static void new_path(struct thread *t, char *buf, const char *parent, char kind)
{
	snprintf(buf, PATH_LEN, "%s%s%c_%u", parent, *parent ? "/" : "", kind, t->counter++);
}

/* load DFD PREFIX — the model of a reference tree (files and dirs only). */
static int load(struct thread *t, int dfd, const char *prefix)
{
	DIR *d = dir_open(dfd, prefix[0] ? prefix : ".");
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[PATH_LEN];
		struct stat st;
		snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
		if (fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0 || t->n == MAX_NODES ||
		    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
			closedir(d);
			fprintf(stderr,
				"stress: reference %s: not a file or directory, or too many\n", p);
			return -1;
		}
		struct node *x = add(t, p, S_ISDIR(st.st_mode));
		if (x->dir ? load(t, dfd, p) < 0 : !(x->data = read_all(dfd, p, &x->len))) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* read_check DFD X WHERE — the file x->path in dfd holds x's contents;
 * where ("", "shared/") prefixes the path in messages. */
static void read_check(struct thread *t, int dfd, const struct node *x, const char *where)
{
	size_t len;
	unsigned char *b = read_all(dfd, x->path, &len);
	if (!b)
		return fail(t, "read %s%s: %s", where, x->path, strerror(errno));
	same(t, x->path, x->data, x->len, b, len);
	free(b);
}

/* ------------------------------------------------- own-subtree ops */

static void op_create(struct thread *t)
{
	if (t->n == MAX_NODES)
		return;
	char p[PATH_LEN];
	new_path(t, p, pick_parent(t), 'f');
	int fd = openat(t->root, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(t, "create %s: %s", p, strerror(errno));
	struct node *x = add(t, p, 0);
	x->len = rndn(t, 3) ? rndn(t, 8192) : rndn(t, MAX_FILE);
	x->data = xrealloc(NULL, x->len);
	fill(t, x->data, x->len);
	if (write_all(fd, x->data, x->len, 0) < 0)
		fail(t, "write %s: %s", p, strerror(errno));
	if (close(fd) < 0)
		fail(t, "close %s: %s", p, strerror(errno));
}

static void op_write(struct thread *t)
{
	struct node *x = pick(t, 0);
	if (!x)
		return;
	size_t off = rndn(t, x->len + 4096), n = 1 + rndn(t, 16384);
	if (off + n > MAX_FILE)
		return;
	int fd = openat(t->root, x->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(t, "open %s for writing: %s", x->path, strerror(errno));
	if (off + n > x->len) {
		x->data = xrealloc(x->data, off + n);
		if (off > x->len)
			memset(x->data + x->len, 0, off - x->len);
		x->len = off + n;
	}
	fill(t, x->data + off, n);
	if (write_all(fd, x->data + off, n, (off_t)off) < 0)
		fail(t, "pwrite %s at %zu: %s", x->path, off, strerror(errno));
	close(fd);
}

static void op_read(struct thread *t)
{
	struct node *x = pick(t, 0);
	if (!x)
		return;
	read_check(t, t->root, x, "");
}

static void op_truncate(struct thread *t)
{
	struct node *x = pick(t, 0);
	if (!x)
		return;
	size_t len = rndn(t, x->len * 2 + 2);
	if (len > MAX_FILE)
		len = MAX_FILE;
	int fd = openat(t->root, x->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		fail(t, "truncate %s to %zu: %s", x->path, len, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (len > x->len) {
		x->data = xrealloc(x->data, len);
		memset(x->data + x->len, 0, len - x->len);
	}
	x->len = len;
}

static void rename_prefix(struct thread *t, const char *from, const char *to)
{
	char p[PATH_LEN];
	for (size_t i = 0; i < t->n; i++) {
		struct node *x = &t->nodes[i];
		if (!strcmp(x->path, from) || under(x->path, from)) {
			snprintf(p, sizeof p, "%s%s", to, x->path + strlen(from));
			memcpy(x->path, p, sizeof p);
		}
	}
}

static void op_rename(struct thread *t)
{
	struct node *x = pick(t, -1);
	if (!x)
		return;
	char src[PATH_LEN], dst[PATH_LEN];
	memcpy(src, x->path, sizeof src);
	struct node *victim = NULL;
	if (x->dir) {
		new_path(t, dst, "", 'r'); /* a directory moves to the top */
	} else if (rndn(t, 3) == 0 && (victim = pick(t, 0)) != x && victim) {
		memcpy(dst, victim->path, sizeof dst); /* replaces another file */
	} else {
		victim = NULL;
		new_path(t, dst, pick_parent(t), 'm');
	}
	if (renameat(t->root, src, t->root, dst) < 0)
		return fail(t, "rename %s -> %s: %s", src, dst, strerror(errno));
	if (victim)
		drop(t, victim); /* moves the last node: x may be stale now */
	rename_prefix(t, src, dst);
}

static void op_unlink(struct thread *t)
{
	struct node *x = pick(t, 0);
	if (!x)
		return;
	if (unlinkat(t->root, x->path, 0) < 0)
		return fail(t, "unlink %s: %s", x->path, strerror(errno));
	drop(t, x);
}

static void op_mkdir(struct thread *t)
{
	if (t->n == MAX_NODES)
		return;
	char p[PATH_LEN];
	new_path(t, p, pick_parent(t), 'd');
	if (mkdirat(t->root, p, 0755) < 0)
		return fail(t, "mkdir %s: %s", p, strerror(errno));
	add(t, p, 1);
}

static void op_rmdir(struct thread *t)
{
	struct node *x = pick(t, 1);
	if (!x)
		return;
	int empty = 1;
	for (size_t i = 0; i < t->n; i++)
		empty &= !under(t->nodes[i].path, x->path);
	int r = unlinkat(t->root, x->path, AT_REMOVEDIR);
	if (empty && r < 0)
		return fail(t, "rmdir %s (empty): %s", x->path, strerror(errno));
	if (!empty && (r == 0 || errno != ENOTEMPTY))
		return fail(t, "rmdir %s (not empty): %s, expected ENOTEMPTY", x->path,
			    r == 0 ? "succeeded" : strerror(errno));
	if (empty)
		drop(t, x);
}

static int dtype_ok(unsigned char dt, mode_t m)
{
	return dt == DT_UNKNOWN || (dt == DT_DIR) == !!S_ISDIR(m);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void op_readdir(struct thread *t)
{
	struct node *x = rndn(t, 4) ? pick(t, 1) : NULL;
	const char *dir = x ? x->path : "";
	DIR *d = dir_open(t->root, *dir ? dir : ".");
	if (!d)
		return fail(t, "opendir %s: %s", *dir ? dir : ".", strerror(errno));
	char *want[MAX_NODES], *got[MAX_NODES + 8];
	size_t nw = 0, ng = 0;
	for (size_t i = 0; i < t->n; i++)
		if (child_of(t->nodes[i].path, dir))
			want[nw++] = t->nodes[i].path + (*dir ? strlen(dir) + 1 : 0);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fail(t, "readdir %s lists %s, whose stat fails: %s", dir, de->d_name,
			     strerror(errno));
		} else if (st.st_ino != de->d_ino || !dtype_ok(de->d_type, st.st_mode)) {
			fail(t,
			     "readdir %s: %s has d_ino %llu d_type %d, stat says ino %llu mode %o",
			     dir, de->d_name, (unsigned long long)de->d_ino, de->d_type,
			     (unsigned long long)st.st_ino, st.st_mode);
		}
		if (ng < MAX_NODES + 8)
			got[ng++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(want, nw, sizeof want[0], cmp_str);
	qsort(got, ng, sizeof got[0], cmp_str);
	size_t i = 0;
	while (i < nw && i < ng && !strcmp(want[i], got[i]))
		i++;
	if (i < nw || i < ng)
		fail(t,
		     "readdir %s: %zu names, expected %zu; first difference: got '%s', expected "
		     "'%s'",
		     *dir ? dir : ".", ng, nw, i < ng ? got[i] : "(end)",
		     i < nw ? want[i] : "(end)");
	for (i = 0; i < ng; i++)
		free(got[i]);
}

static void op_stat(struct thread *t)
{
	struct node *x = pick(t, -1);
	if (!x)
		return;
	struct stat st;
	if (fstatat(t->root, x->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(t, "stat %s: %s", x->path, strerror(errno));
	if (x->dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode) || (size_t)st.st_size != x->len)
		fail(t, "stat %s: mode %o size %lld, expected a %s of %zu bytes", x->path,
		     st.st_mode, (long long)st.st_size, x->dir ? "directory" : "file", x->len);
}

/* ------------------------------------------------------ shared ops */

static struct node *sh_pick(struct thread *t)
{
	return t->nsh ? &t->sh[rndn(t, t->nsh)] : NULL;
}

static void sh_create(struct thread *t)
{
	if (t->nsh == MAX_NODES)
		return;
	struct node *x = &t->sh[t->nsh];
	snprintf(x->path, sizeof x->path, "t%d-%u", t->id, t->counter++);
	x->len = rndn(t, 20000);
	x->data = xrealloc(NULL, x->len);
	fill(t, x->data, x->len);
	x->dir = 0;
	t->nsh++;
	int fd = openat(t->shared, x->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(t, "create shared/%s: %s", x->path, strerror(errno));
	if (write_all(fd, x->data, x->len, 0) < 0)
		fail(t, "write shared/%s: %s", x->path, strerror(errno));
	close(fd);
}

static void sh_rename(struct thread *t)
{
	struct node *x = sh_pick(t);
	if (!x)
		return;
	char dst[PATH_LEN];
	snprintf(dst, sizeof dst, "t%d-%u", t->id, t->counter++);
	if (renameat(t->shared, x->path, t->shared, dst) < 0)
		return fail(t, "rename shared/%s -> %s: %s", x->path, dst, strerror(errno));
	memcpy(x->path, dst, sizeof dst);
}

static void sh_unlink(struct thread *t)
{
	struct node *x = sh_pick(t);
	if (!x)
		return;
	if (unlinkat(t->shared, x->path, 0) < 0)
		return fail(t, "unlink shared/%s: %s", x->path, strerror(errno));
	free(x->data);
	*x = t->sh[--t->nsh];
}

static void sh_read(struct thread *t)
{
	struct node *x = sh_pick(t);
	if (x)
		read_check(t, t->shared, x, "shared/");
	if (!n_ref_shared)
		return;
	/* a random range of a lower file nobody writes */
	const char *name = ref_shared_names[rndn(t, n_ref_shared)];
	int a = openat(t->refshare, name, O_RDONLY | O_CLOEXEC);
	int b = openat(t->shared, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (a < 0 || b < 0 || fstat(a, &st) < 0) {
		fail(t, "open shared/%s: %s", name, strerror(errno));
	} else {
		size_t n = 1 + rndn(t, 65536);
		off_t off = (off_t)rndn(t, (size_t)st.st_size + 1);
		unsigned char *wa = xrealloc(NULL, n), *wb = xrealloc(NULL, n);
		ssize_t ra = pread(a, wa, n, off), rb = pread(b, wb, n, off);
		if (rb < 0)
			fail(t, "pread shared/%s at %lld: %s", name, (long long)off,
			     strerror(errno));
		else
			same(t, name, wa, ra < 0 ? 0 : (size_t)ra, wb, (size_t)rb);
		free(wa);
		free(wb);
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

static int own_name(struct thread *t, const char *name)
{
	char pre[16];
	int n = snprintf(pre, sizeof pre, "t%d-", t->id);
	return !strncmp(name, pre, (size_t)n);
}

static void sh_readdir(struct thread *t)
{
	DIR *d = dir_open(t->shared, ".");
	if (!d)
		return fail(t, "opendir shared: %s", strerror(errno));
	size_t own = 0, ro = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int mine = own_name(t, de->d_name);
		int r = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && (mine || errno != ENOENT)) {
			fail(t, "readdir shared lists %s, whose stat fails: %s", de->d_name,
			     strerror(errno));
			continue;
		}
		if (r == 0 && (st.st_ino != de->d_ino || !dtype_ok(de->d_type, st.st_mode)))
			fail(t, "readdir shared: %s has d_ino %llu, stat says %llu", de->d_name,
			     (unsigned long long)de->d_ino, (unsigned long long)st.st_ino);
		if (mine) {
			size_t i = 0;
			while (i < t->nsh && strcmp(t->sh[i].path, de->d_name))
				i++;
			if (i == t->nsh)
				fail(t, "readdir shared lists %s, which this thread removed",
				     de->d_name);
			own++;
		}
		for (size_t i = 0; i < n_ref_shared; i++)
			ro += !strcmp(ref_shared_names[i], de->d_name);
	}
	closedir(d);
	if (own != t->nsh || ro != n_ref_shared)
		fail(t, "readdir shared: %zu of this thread's %zu files and %zu of %zu lower files",
		     own, t->nsh, ro, n_ref_shared);
}

/* ------------------------------------------------------------ driver */

typedef void op_fn(struct thread *);
static op_fn *const OPS[] = {
    op_create, op_create, op_write,  op_write, op_read,	   op_read,    op_truncate, op_rename,
    op_rename, op_unlink, op_mkdir,  op_rmdir, op_readdir, op_readdir, op_stat,	    op_stat,
    sh_create, sh_rename, sh_unlink, sh_read,  sh_read,	   sh_readdir,
};
#define N_OPS (sizeof OPS / sizeof OPS[0])

static unsigned long n_ops;

static void *run(void *arg)
{
	struct thread *t = arg;
	for (t->op = 0; t->op < n_ops && !atomic_load(&failed); t->op++) {
		size_t k = rndn(t, N_OPS);
		t->counts[k % 16]++;
		OPS[k](t);
	}
	return NULL;
}

/* final_check — a fresh walk of each subtree equals its model. */
static void final_check(struct thread *t)
{
	struct thread seen = {.id = t->id};
	int ok = 1;
	if (load(&seen, t->root, "") < 0) {
		fail(NULL, "walking t%d: %s", t->id, strerror(errno));
		return;
	}
	for (size_t i = 0; i < t->n && ok; i++) {
		struct node *a = &t->nodes[i], *b = find(&seen, a->path);
		if (!b || a->dir != b->dir) {
			fail(NULL, "t%d/%s: %s", t->id, a->path, b ? "wrong type" : "missing");
			ok = 0;
		} else if (!a->dir) {
			ok = same(NULL, a->path, a->data, a->len, b->data, b->len);
		}
	}
	if (ok && seen.n != t->n)
		fail(NULL, "t%d holds %zu entries, expected %zu", t->id, seen.n, t->n);
	for (size_t i = 0; i < t->nsh && ok; i++)
		read_check(NULL, t->shared, &t->sh[i], "shared/");
	for (size_t i = 0; i < seen.n; i++)
		free(seen.nodes[i].data);
}

static void threads_free(struct thread *ts, int n)
{
	for (int k = 0; k < n; k++) {
		for (size_t i = 0; i < ts[k].n; i++)
			free(ts[k].nodes[i].data);
		for (size_t i = 0; i < ts[k].nsh; i++)
			free(ts[k].sh[i].data);
		close(ts[k].root);
	}
	free(ts);
	for (size_t i = 0; i < n_ref_shared; i++)
		free(ref_shared_names[i]);
}

static int usage(void)
{
	fprintf(stderr, "usage: stress --threads N --ops K --seed S REF MNT\n");
	return 2;
}

static int load_ref_shared(int refshare)
{
	DIR *d = dir_open(refshare, ".");
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d)) && n_ref_shared < 256)
		if (de->d_name[0] != '.')
			ref_shared_names[n_ref_shared++] = strdup(de->d_name);
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	int nthreads = 0;
	unsigned long seed = 1;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--threads"))
			nthreads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ops"))
			n_ops = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoul(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc - i != 2 || nthreads <= 0 || nthreads > 64 || !n_ops)
		return usage();
	int ref = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int mnt = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int refshare = ref >= 0 ? openat(ref, "shared", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	int shared = mnt >= 0 ? openat(mnt, "shared", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (refshare < 0 || shared < 0 || load_ref_shared(refshare) < 0) {
		fprintf(stderr, "stress: %s/shared and %s/shared must be directories\n", argv[i],
			argv[i + 1]);
		return 2;
	}
	struct thread *ts = calloc((size_t)nthreads, sizeof *ts);
	for (int k = 0; k < nthreads; k++) {
		struct thread *t = &ts[k];
		char name[16];
		snprintf(name, sizeof name, "t%d", k);
		t->id = k;
		t->rng = seed * 1000003u + (uint64_t)k;
		t->shared = shared;
		t->refshare = refshare;
		t->root = openat(mnt, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = openat(ref, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (t->root < 0 || r < 0 || load(t, r, "") < 0) {
			fprintf(stderr, "stress: %s/%s and %s/%s must be directories\n", argv[i],
				name, argv[i + 1], name);
			return 2;
		}
		close(r);
	}
	for (int k = 0; k < nthreads; k++)
		if (pthread_create(&ts[k].tid, NULL, run, &ts[k]) != 0) {
			perror("stress: pthread_create");
			return 1;
		}
	for (int k = 0; k < nthreads; k++)
		pthread_join(ts[k].tid, NULL);
	for (int k = 0; k < nthreads && !atomic_load(&failed); k++)
		final_check(&ts[k]);
	unsigned long total = 0;
	for (int k = 0; k < nthreads; k++)
		total += ts[k].op;
	threads_free(ts, nthreads);
	if (atomic_load(&failed))
		return 1;
	printf("stress: seed %lu: %d threads, %lu operations, every check held\n", seed, nthreads,
	       total);
	return 0;
}
