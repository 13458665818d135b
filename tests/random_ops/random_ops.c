/* random_ops — apply one pseudo-random sequence of file system operations to
 * two trees and require identical results.
 *
 *   random_ops --seed N --ops K [--verbose] [--check-every M] DIR_A DIR_B
 *
 * DIR_A is the reference (a tmpfs directory), DIR_B the tree under test (a
 * union mount with the same initial contents).  Every operation picks its
 * paths from what exists in DIR_A (walked afresh, sorted, before each
 * operation), so the sequence depends only on the seed and on DIR_A.  Each
 * operation runs on both trees; return values and errno must be equal, and
 * data read back must be equal.  Every M operations and at the end both
 * trees are compared entry by entry: type, mode, uid, gid, size, st_nlink of
 * non-directories, rdev, symlink target, user.* and trusted.* xattrs (not
 * trusted.overlay.*), and file contents byte for byte.  Not compared:
 * st_ino, st_dev, times, directory sizes and link counts.
 *
 * Exit status: 0 when the trees never diverged, 1 on the first divergence
 * (with a diagnostic and the last operations on stderr), 2 on usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_ENTRIES 4096
#define MAX_DEPTH 4
#define HOLD_SLOTS 4
#define MAX_FILE (64 * 1024)
#define LOG_RING 24

/* ---------------------------------------------------------------- rng */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rndn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

/* ----------------------------------------------------------- op log */

static char op_log[LOG_RING][512];
static unsigned long op_no;
static int verbose;

static void logf_op(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_op(const char *fmt, ...)
{
	va_list ap;
	char *slot = op_log[op_no % LOG_RING];
	int n = snprintf(slot, sizeof op_log[0], "op %lu: ", op_no);
	va_start(ap, fmt);
	vsnprintf(slot + n, sizeof op_log[0] - (size_t)n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%s\n", slot);
}

static void dump_log(void)
{
	unsigned long first = op_no >= LOG_RING ? op_no - LOG_RING + 1 : 0;
	fprintf(stderr, "random_ops: last operations:\n");
	for (unsigned long i = first; i <= op_no; i++)
		fprintf(stderr, "  %s\n", op_log[i % LOG_RING]);
}

static void diverge(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void diverge(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "random_ops: DIVERGENCE at op %lu: ", op_no);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_log();
	exit(1);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* ------------------------------------------------------ tree walking */

struct entry {
	char path[256];
	mode_t mode;
	int depth;
};

static struct entry ents[MAX_ENTRIES];
static size_t n_ents;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* read_names DFD OUT MAX — sorted names (no . and ..) of the dir DFD,
 * through a new open of it (rewinddir on a long-open stream is exercised by
 * posix_check, not here). */
static size_t read_names(int dfd, char **out, size_t max)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n < max)
			out[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(out, n, sizeof out[0], cmp_name);
	return n;
}

static void walk(int dfd, const char *prefix, int depth)
{
	char *names[512];
	size_t n = read_names(dfd, names, 512);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		char path[256];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", names[i]);
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && n_ents < MAX_ENTRIES) {
			struct entry *e = &ents[n_ents++];
			snprintf(e->path, sizeof e->path, "%s", path);
			e->mode = st.st_mode;
			e->depth = depth;
			if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
				int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
				if (sub >= 0) {
					walk(sub, path, depth + 1);
					close(sub);
				}
			}
		}
		free(names[i]);
	}
}

static void rescan(int root)
{
	n_ents = 0;
	walk(root, "", 1);
}

/* --------------------------------------------------------- choosing */

static const char *const NAMES[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

/* pick_existing FILTER — a path of DIR_A whose type passes FILTER (0 = any);
 * NULL when there is none. */
static const char *pick_existing(mode_t filter)
{
	size_t idx[MAX_ENTRIES], n = 0;
	for (size_t i = 0; i < n_ents; i++)
		if (!filter || (ents[i].mode & S_IFMT) == filter)
			idx[n++] = i;
	if (!n)
		return NULL;
	return ents[idx[rndn((unsigned)n)]].path;
}

/* pick_new BUF — a name in a random directory (the root included); it may
 * exist already, which exercises EEXIST and replacement. */
static const char *pick_new(char *buf, size_t len)
{
	size_t idx[MAX_ENTRIES], n = 0;
	for (size_t i = 0; i < n_ents; i++)
		if (S_ISDIR(ents[i].mode) && ents[i].depth < MAX_DEPTH)
			idx[n++] = i;
	unsigned k = rndn((unsigned)n + 1);
	const char *name = NAMES[rndn(sizeof NAMES / sizeof NAMES[0])];
	if (k == n)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s/%s", ents[idx[k]].path, name);
	return buf;
}

/* pick_any BUF — usually an existing path, sometimes a new one. */
static const char *pick_any(char *buf, size_t len, mode_t filter)
{
	const char *p = rndn(10) < 8 ? pick_existing(filter) : NULL;
	return p ? p : pick_new(buf, len);
}

/* --------------------------------------------------------- executing */

static int root_a, root_b;

struct res {
	long r;
	int e;
};

static unsigned long n_ok, n_err;

static void same(const char *what, struct res a, struct res b)
{
	if (a.r >= 0)
		n_ok++;
	else
		n_err++;
	if (a.r == b.r && (a.r >= 0 || a.e == b.e))
		return;
	diverge("%s: A=%ld%s%s B=%ld%s%s", what, a.r, a.r < 0 ? " " : "", a.r < 0 ? ename(a.e) : "", b.r,
		b.r < 0 ? " " : "", b.r < 0 ? ename(b.e) : "");
}

#define RUN(var, expr)                                                                             \
	do {                                                                                       \
		errno = 0;                                                                         \
		(var).r = (long)(expr);                                                            \
		(var).e = errno;                                                                   \
	} while (0)

/* procpath ROOT PATH — "/proc/self/fd/ROOT/PATH" for calls without *at(). */
static const char *procpath(char *buf, size_t len, int root, const char *path)
{
	snprintf(buf, len, "/proc/self/fd/%d/%s", root, path);
	return buf;
}

static void fill(unsigned char *buf, size_t n)
{
	uint64_t x = rnd();
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static void op_create(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, S_IFREG);
	static const mode_t modes[] = { 0644, 0600, 0755, 0400, 0000, 04755 };
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK;
	mode_t m = modes[rndn(6)];
	struct res a, r;
	if (rndn(3) == 0)
		flags |= O_EXCL;
	if (rndn(3) == 0)
		flags |= O_TRUNC;
	logf_op("create %s flags=%#x mode=%o", p, flags, m);
	RUN(a, openat(root_a, p, flags, m));
	RUN(r, openat(root_b, p, flags, m));
	if (a.r >= 0)
		close((int)a.r);
	if (r.r >= 0)
		close((int)r.r);
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("create", a, r);
}

static void op_write(void)
{
	static unsigned char data[8192];
	char b[256];
	const char *p = pick_any(b, sizeof b, S_IFREG);
	off_t off = rndn(4) == 0 ? 0 : (off_t)rndn(MAX_FILE / 2);
	size_t len = 1 + rndn(sizeof data);
	int flags = O_WRONLY | O_CLOEXEC | O_NONBLOCK | (rndn(4) == 0 ? O_APPEND : 0);
	int fa, fb;
	struct res a, r;
	fill(data, len);
	logf_op("write %s off=%lld len=%zu flags=%#x", p, (long long)off, len, flags);
	RUN(a, fa = openat(root_a, p, flags));
	RUN(r, fb = openat(root_b, p, flags));
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("write: open", a, r);
	if (fa < 0)
		return;
	RUN(a, pwrite(fa, data, len, off));
	RUN(r, pwrite(fb, data, len, off));
	close(fa);
	close(fb);
	same("write: pwrite", a, r);
}

static void op_truncate(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, S_IFREG);
	off_t size = (off_t)rndn(MAX_FILE);
	int fa, fb;
	struct res a, r;
	if (rndn(5) == 0)
		size = 0;
	logf_op("truncate %s %lld", p, (long long)size);
	RUN(a, fa = openat(root_a, p, O_WRONLY | O_CLOEXEC | O_NONBLOCK));
	RUN(r, fb = openat(root_b, p, O_WRONLY | O_CLOEXEC | O_NONBLOCK));
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("truncate: open", a, r);
	if (fa < 0)
		return;
	RUN(a, ftruncate(fa, size));
	RUN(r, ftruncate(fb, size));
	close(fa);
	close(fb);
	same("truncate: ftruncate", a, r);
}

static void op_otrunc(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, S_IFREG);
	struct res a, r;
	logf_op("open O_TRUNC %s", p);
	RUN(a, openat(root_a, p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK));
	RUN(r, openat(root_b, p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK));
	if (a.r >= 0)
		close((int)a.r);
	if (r.r >= 0)
		close((int)r.r);
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("open O_TRUNC", a, r);
}

/* compare_contents FA FB WHAT — both fds read the same bytes from 0. */
static void compare_contents(int fa, int fb, const char *what)
{
	static unsigned char ba[MAX_FILE * 2], bb[MAX_FILE * 2];
	struct res a, r;
	RUN(a, pread(fa, ba, sizeof ba, 0));
	RUN(r, pread(fb, bb, sizeof bb, 0));
	same(what, a, r);
	if (a.r > 0 && memcmp(ba, bb, (size_t)a.r)) {
		size_t i = 0;
		while (ba[i] == bb[i])
			i++;
		diverge("%s: contents differ at byte %zu of %ld", what, i, a.r);
	}
}

static void op_read(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, S_IFREG);
	int fa, fb;
	struct res a, r;
	logf_op("read %s", p);
	RUN(a, fa = openat(root_a, p, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
	RUN(r, fb = openat(root_b, p, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("read: open", a, r);
	if (fa < 0)
		return;
	compare_contents(fa, fb, "read");
	close(fa);
	close(fb);
}

static void op_mkdir(void)
{
	char b[256];
	const char *p = rndn(5) == 0 ? pick_any(b, sizeof b, 0) : pick_new(b, sizeof b);
	mode_t m = rndn(4) == 0 ? 0700 : 0755;
	struct res a, r;
	logf_op("mkdir %s %o", p, m);
	RUN(a, mkdirat(root_a, p, m));
	RUN(r, mkdirat(root_b, p, m));
	same("mkdir", a, r);
}

static void op_rmdir(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, rndn(4) ? S_IFDIR : 0);
	struct res a, r;
	logf_op("rmdir %s", p);
	RUN(a, unlinkat(root_a, p, AT_REMOVEDIR));
	RUN(r, unlinkat(root_b, p, AT_REMOVEDIR));
	same("rmdir", a, r);
}

static void op_unlink(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, 0);
	struct res a, r;
	logf_op("unlink %s", p);
	RUN(a, unlinkat(root_a, p, 0));
	RUN(r, unlinkat(root_b, p, 0));
	same("unlink", a, r);
}

static void op_rename(void)
{
	char b1[256], b2[256], from[256];
	const char *to;
	unsigned k = rndn(10);
	unsigned flags = k < 7 ? 0 : k < 9 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
	struct res a, r;
	snprintf(from, sizeof from, "%s", pick_any(b1, sizeof b1, 0));
	to = rndn(3) == 0 ? pick_any(b2, sizeof b2, 0) : pick_new(b2, sizeof b2);
	logf_op("rename %s -> %s flags=%u", from, to, flags);
	RUN(a, renameat2(root_a, from, root_a, to, flags));
	RUN(r, renameat2(root_b, from, root_b, to, flags));
	same("rename", a, r);
}

static void op_link(void)
{
	char b1[256], b2[256], from[256];
	const char *to;
	struct res a, r;
	snprintf(from, sizeof from, "%s", pick_any(b1, sizeof b1, rndn(5) ? S_IFREG : 0));
	to = pick_new(b2, sizeof b2);
	logf_op("link %s -> %s", from, to);
	RUN(a, linkat(root_a, from, root_a, to, 0));
	RUN(r, linkat(root_b, from, root_b, to, 0));
	same("link", a, r);
}

static void op_symlink(void)
{
	char b[256], target[64];
	const char *p = pick_new(b, sizeof b);
	/* relative, downward-only targets: nothing can point out of the tree */
	if (rndn(2))
		snprintf(target, sizeof target, "%s", NAMES[rndn(8)]);
	else
		snprintf(target, sizeof target, "%s/%s", NAMES[rndn(8)], NAMES[rndn(8)]);
	struct res a, r;
	logf_op("symlink %s -> %s", p, target);
	RUN(a, symlinkat(target, root_a, p));
	RUN(r, symlinkat(target, root_b, p));
	same("symlink", a, r);
}

static void op_mkfifo(void)
{
	char b[256];
	const char *p = pick_new(b, sizeof b);
	struct res a, r;
	logf_op("mkfifo %s", p);
	RUN(a, mkfifoat(root_a, p, 0640));
	RUN(r, mkfifoat(root_b, p, 0640));
	same("mkfifo", a, r);
}

static void op_chmod(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, 0);
	static const mode_t modes[] = { 0644, 0600, 0755, 0700, 0444, 0000, 01777, 04755, 02750 };
	mode_t m = modes[rndn(9)];
	struct res a, r;
	/* chmod follows symlinks; a symlink pointing at nothing gives ENOENT */
	logf_op("chmod %s %o", p, m);
	RUN(a, fchmodat(root_a, p, m, 0));
	RUN(r, fchmodat(root_b, p, m, 0));
	same("chmod", a, r);
}

static void op_chown(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, 0);
	uid_t u = rndn(3) == 0 ? (uid_t)-1 : (uid_t)rndn(3) * 1000;
	gid_t g = rndn(3) == 0 ? (gid_t)-1 : (gid_t)rndn(3) * 1000;
	int fl = rndn(2) ? AT_SYMLINK_NOFOLLOW : 0;
	struct res a, r;
	logf_op("chown %s %d:%d flags=%#x", p, (int)u, (int)g, fl);
	RUN(a, fchownat(root_a, p, u, g, fl));
	RUN(r, fchownat(root_b, p, u, g, fl));
	same("chown", a, r);
}

static void op_setxattr(void)
{
	char b[256], pa[300], pb[300], name[32];
	unsigned char val[200];
	const char *p = pick_any(b, sizeof b, 0);
	size_t len = rndn(sizeof val);
	int flags = (int)rndn(3); /* 0, XATTR_CREATE, XATTR_REPLACE */
	struct res a, r;
	snprintf(name, sizeof name, "%s.k%u", rndn(4) ? "user" : "trusted", rndn(4));
	fill(val, len);
	logf_op("setxattr %s %s len=%zu flags=%d", p, name, len, flags);
	RUN(a, lsetxattr(procpath(pa, sizeof pa, root_a, p), name, val, len, flags));
	RUN(r, lsetxattr(procpath(pb, sizeof pb, root_b, p), name, val, len, flags));
	same("setxattr", a, r);
}

static void op_removexattr(void)
{
	char b[256], pa[300], pb[300], name[32];
	const char *p = pick_any(b, sizeof b, 0);
	struct res a, r;
	snprintf(name, sizeof name, "%s.k%u", rndn(4) ? "user" : "trusted", rndn(4));
	logf_op("removexattr %s %s", p, name);
	RUN(a, lremovexattr(procpath(pa, sizeof pa, root_a, p), name));
	RUN(r, lremovexattr(procpath(pb, sizeof pb, root_b, p), name));
	same("removexattr", a, r);
}

static void op_getxattr(void)
{
	char b[256], pa[300], pb[300], name[32], va[256], vb[256];
	const char *p = pick_any(b, sizeof b, 0);
	size_t sz = rndn(4) == 0 ? 1 : sizeof va;
	struct res a, r;
	snprintf(name, sizeof name, "user.k%u", rndn(4));
	logf_op("getxattr %s %s size=%zu", p, name, sz);
	RUN(a, lgetxattr(procpath(pa, sizeof pa, root_a, p), name, va, sz));
	RUN(r, lgetxattr(procpath(pb, sizeof pb, root_b, p), name, vb, sz));
	same("getxattr", a, r);
	if (a.r > 0 && memcmp(va, vb, (size_t)a.r))
		diverge("getxattr %s %s: values differ", p, name);
}

static void op_utimens(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, 0);
	struct timespec ts[2] = { { 1000000000 + (time_t)rndn(1 << 30), (long)rndn(1000000000) },
				  { 1000000000 + (time_t)rndn(1 << 30), (long)rndn(1000000000) } };
	int fl = rndn(2) ? AT_SYMLINK_NOFOLLOW : 0;
	struct res a, r;
	logf_op("utimensat %s flags=%#x", p, fl);
	RUN(a, utimensat(root_a, p, ts, fl));
	RUN(r, utimensat(root_b, p, ts, fl));
	same("utimensat", a, r);
}

static void compare_stat(const char *what, const struct stat *sa, const struct stat *sb);

static void op_stat(void)
{
	char b[256];
	const char *p = pick_any(b, sizeof b, 0);
	struct stat sa, sb;
	int fl = rndn(3) ? AT_SYMLINK_NOFOLLOW : 0;
	struct res a, r;
	logf_op("stat %s flags=%#x", p, fl);
	RUN(a, fstatat(root_a, p, &sa, fl));
	RUN(r, fstatat(root_b, p, &sb, fl));
	same("stat", a, r);
	if (a.r == 0)
		compare_stat(p, &sa, &sb);
}

/* held descriptors: open files that may be unlinked or renamed meanwhile */
static int hold_a[HOLD_SLOTS] = { -1, -1, -1, -1 }, hold_b[HOLD_SLOTS] = { -1, -1, -1, -1 };

static void op_hold(void)
{
	char b[256];
	unsigned s = rndn(HOLD_SLOTS);
	const char *p = pick_any(b, sizeof b, S_IFREG);
	int flags = rndn(2) ? O_RDWR : O_RDONLY;
	struct res a, r;
	if (hold_a[s] >= 0) {
		close(hold_a[s]);
		close(hold_b[s]);
		hold_a[s] = hold_b[s] = -1;
	}
	logf_op("hold[%u] open %s flags=%#x", s, p, flags);
	RUN(a, openat(root_a, p, flags | O_CLOEXEC | O_NONBLOCK));
	RUN(r, openat(root_b, p, flags | O_CLOEXEC | O_NONBLOCK));
	if (a.r >= 0 && r.r >= 0) {
		hold_a[s] = (int)a.r;
		hold_b[s] = (int)r.r;
	} else {
		if (a.r >= 0)
			close((int)a.r);
		if (r.r >= 0)
			close((int)r.r);
	}
	a.r = a.r >= 0 ? 0 : a.r;
	r.r = r.r >= 0 ? 0 : r.r;
	same("hold: open", a, r);
}

static void op_held(void)
{
	static unsigned char data[4096];
	unsigned s = rndn(HOLD_SLOTS), k = rndn(3);
	struct stat sa, sb;
	struct res a, r;
	if (hold_a[s] < 0) {
		logf_op("held[%u]: empty slot", s);
		return;
	}
	if (k == 0) {
		size_t len = 1 + rndn(sizeof data);
		off_t off = (off_t)rndn(MAX_FILE / 2);
		fill(data, len);
		logf_op("held[%u] pwrite off=%lld len=%zu", s, (long long)off, len);
		RUN(a, pwrite(hold_a[s], data, len, off));
		RUN(r, pwrite(hold_b[s], data, len, off));
		same("held pwrite", a, r);
	} else if (k == 1) {
		logf_op("held[%u] read", s);
		compare_contents(hold_a[s], hold_b[s], "held read");
	} else {
		logf_op("held[%u] fstat", s);
		RUN(a, fstat(hold_a[s], &sa));
		RUN(r, fstat(hold_b[s], &sb));
		same("held fstat", a, r);
		if (a.r == 0)
			compare_stat("held fd", &sa, &sb);
	}
}

/* ------------------------------------------------------- comparing */

static void compare_stat(const char *what, const struct stat *sa, const struct stat *sb)
{
	if (sa->st_mode != sb->st_mode)
		diverge("%s: mode %o vs %o", what, sa->st_mode, sb->st_mode);
	if (sa->st_uid != sb->st_uid || sa->st_gid != sb->st_gid)
		diverge("%s: owner %u:%u vs %u:%u", what, sa->st_uid, sa->st_gid, sb->st_uid, sb->st_gid);
	if (S_ISDIR(sa->st_mode))
		return;
	if (sa->st_size != sb->st_size)
		diverge("%s: size %lld vs %lld", what, (long long)sa->st_size, (long long)sb->st_size);
	if (sa->st_nlink != sb->st_nlink)
		diverge("%s: st_nlink %lu vs %lu", what, (unsigned long)sa->st_nlink,
			(unsigned long)sb->st_nlink);
	if ((S_ISCHR(sa->st_mode) || S_ISBLK(sa->st_mode)) && sa->st_rdev != sb->st_rdev)
		diverge("%s: rdev differs", what);
}

/* xattr_list PATH OUT — sorted "name=value" blob of user.* and trusted.*
 * (minus trusted.overlay.*); returns its length. */
static size_t xattr_blob(const char *path, char *out, size_t cap)
{
	char list[4096], *names[128];
	size_t n = 0, off = 0;
	ssize_t len = llistxattr(path, list, sizeof list);
	if (len < 0)
		return (size_t)snprintf(out, cap, "listxattr: %s", ename(errno));
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		if (!strncmp(p, "trusted.overlay.", 16))
			continue;
		if ((!strncmp(p, "user.", 5) || !strncmp(p, "trusted.", 8)) && n < 128)
			names[n++] = p;
	}
	qsort(names, n, sizeof names[0], cmp_name);
	for (size_t i = 0; i < n && off + 600 < cap; i++) {
		char v[512];
		ssize_t vl = lgetxattr(path, names[i], v, sizeof v);
		off += (size_t)snprintf(out + off, cap - off, "%s=", names[i]);
		if (vl < 0)
			off += (size_t)snprintf(out + off, cap - off, "(%s)", ename(errno));
		for (ssize_t j = 0; j < vl; j++)
			off += (size_t)snprintf(out + off, cap - off, "%02x", (unsigned char)v[j]);
		off += (size_t)snprintf(out + off, cap - off, ";");
	}
	return off;
}

static void compare_entry(int da, int db, const char *name, const char *path)
{
	struct stat sa, sb;
	char pa[600], pb[600];
	static char xa[65536], xb[65536];
	if (fstatat(da, name, &sa, AT_SYMLINK_NOFOLLOW) < 0 || fstatat(db, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		diverge("tree: %s: lstat failed in one tree: %s", path, strerror(errno));
	compare_stat(path, &sa, &sb);
	procpath(pa, sizeof pa, root_a, path);
	procpath(pb, sizeof pb, root_b, path);
	xattr_blob(pa, xa, sizeof xa);
	xattr_blob(pb, xb, sizeof xb);
	if (strcmp(xa, xb))
		diverge("tree: %s: xattrs differ:\n  A: %.300s\n  B: %.300s", path, xa, xb);
	if (S_ISLNK(sa.st_mode)) {
		char ta[4096], tb[4096];
		ssize_t la = readlinkat(da, name, ta, sizeof ta), lb = readlinkat(db, name, tb, sizeof tb);
		if (la != lb || la < 0 || memcmp(ta, tb, (size_t)la))
			diverge("tree: %s: symlink targets differ", path);
	} else if (S_ISREG(sa.st_mode)) {
		int fa = openat(da, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		int fb = openat(db, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fa < 0 || fb < 0)
			diverge("tree: %s: open failed in %s", path, fa < 0 ? "A" : "B");
		char what[600];
		snprintf(what, sizeof what, "tree: %s", path);
		compare_contents(fa, fb, what);
		close(fa);
		close(fb);
	}
}

static void compare_dirs(int da, int db, const char *prefix)
{
	char *na[512], *nb[512];
	size_t n = read_names(da, na, 512), m = read_names(db, nb, 512);
	size_t i = 0, j = 0;
	while (i < n || j < m) {
		int c = i == n ? 1 : j == m ? -1 : strcmp(na[i], nb[j]);
		if (c)
			diverge("tree: %s%s%s only in %s", prefix, *prefix ? "/" : "", c < 0 ? na[i] : nb[j],
				c < 0 ? "A" : "B");
		char path[512];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", na[i]);
		compare_entry(da, db, na[i], path);
		struct stat st;
		if (fstatat(da, na[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			int sa = openat(da, na[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			int sb = openat(db, na[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (sa < 0 || sb < 0)
				diverge("tree: %s: cannot open dir in %s", path, sa < 0 ? "A" : "B");
			compare_dirs(sa, sb, path);
			close(sa);
			close(sb);
		}
		free(na[i]);
		free(nb[j]);
		i++;
		j++;
	}
}

/* --------------------------------------------------------------- main */

struct op {
	void (*fn)(void);
	unsigned weight;
};

static const struct op OPS[] = {
	{ op_create, 10 },  { op_write, 14 },	   { op_truncate, 5 }, { op_otrunc, 2 },   { op_read, 6 },
	{ op_mkdir, 7 },    { op_rmdir, 4 },	   { op_unlink, 8 },   { op_rename, 10 },  { op_link, 5 },
	{ op_symlink, 3 },  { op_mkfifo, 1 },	   { op_chmod, 4 },    { op_chown, 2 },    { op_setxattr, 5 },
	{ op_removexattr, 2 }, { op_getxattr, 2 }, { op_utimens, 2 },  { op_stat, 4 },	   { op_hold, 2 },
	{ op_held, 4 },
};

static void one_op(void)
{
	unsigned total = 0, k;
	for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
		total += OPS[i].weight;
	rescan(root_a);
	/* keep the tree small: past 150 entries, mostly remove things */
	if (n_ents > 150 && rndn(2)) {
		if (rndn(2))
			op_unlink();
		else
			op_rmdir();
		return;
	}
	k = rndn(total);
	for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
		if (k < OPS[i].weight) {
			OPS[i].fn();
			return;
		}
		k -= OPS[i].weight;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: random_ops --seed N --ops K [--verbose] [--check-every M] DIR_A DIR_B\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long seed = 1, nops = 1000, every = 250;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			nops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--check-every") && i + 1 < argc)
			every = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
			verbose = 1;
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;
	root_a = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	root_b = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (root_a < 0 || root_b < 0) {
		perror(root_a < 0 ? argv[i] : argv[i + 1]);
		return 2;
	}
	snprintf(op_log[0], sizeof op_log[0], "initial tree comparison");
	compare_dirs(root_a, root_b, "");
	for (op_no = 1; op_no <= nops; op_no++) {
		one_op();
		if (every && op_no % every == 0)
			compare_dirs(root_a, root_b, "");
	}
	op_no = nops;
	for (int s = 0; s < HOLD_SLOTS; s++) {
		if (hold_a[s] >= 0) {
			close(hold_a[s]);
			close(hold_b[s]);
		}
	}
	compare_dirs(root_a, root_b, "");
	printf("random_ops: seed %lu: %lu operations (%lu calls succeeded, %lu failed alike), trees identical "
	       "(%zu entries)\n",
	       seed, nops, n_ok, n_err, n_ents);
	return 0;
}
