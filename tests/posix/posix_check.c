/* posix_check — a deterministic POSIX conformance probe for one directory.
 *
 *   posix_check DIR                   fill DIR/fresh with a fixed sequence of
 *                                     calls and their error cases
 *   posix_check --prepare DIR         create the "lower" tree in DIR (run it
 *                                     on the reference and on the lower layer)
 *   posix_check --lower-prepared DIR  exercise operations on that prepared
 *                                     tree (on a union mount: lower entries)
 *
 * Output: one line per check, "NAME: RESULT", where RESULT is the return
 * value or "-1 ENAME" and the relevant stat fields.  Nothing here says ok or
 * not ok: two runs (tmpfs and a union mount) are compared with diff.
 * Left out because they legitimately differ between file systems: st_ino,
 * st_dev, st_blocks, st_ctime, atime (except right after setting it),
 * directory sizes and directory st_nlink, f_type and block counts of statfs.
 * The mtime of a file is printed only where the program set it explicitly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define T_SEC 1234567890
#define T_NSEC 123456789

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* report NAME: the value, or -1 and the errno name. */
static void report(const char *name, long r, int e)
{
	if (r < 0)
		printf("%s: -1 %s\n", name, ename(e));
	else
		printf("%s: %ld\n", name, r);
}

#define R(name, expr)                                                                              \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		report((name), r_, errno);                                                         \
	} while (0)

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFSOCK: return "sock";
	default: return "?";
	}
}

static void print_stat(const char *name, const struct stat *st)
{
	printf("%s: %s mode=%04o uid=%u gid=%u", name, ftype(st->st_mode),
	       (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid, (unsigned)st->st_gid);
	if (!S_ISDIR(st->st_mode))
		printf(" size=%lld nlink=%lu", (long long)st->st_size, (unsigned long)st->st_nlink);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		printf(" rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
	printf("\n");
}

/* pstat NAME DIRFD PATH — lstat fields (or the errno). */
static void pstat(const char *name, int dfd, const char *path)
{
	struct stat st;
	if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		printf("%s: -1 %s\n", name, ename(errno));
	else
		print_stat(name, &st);
}

static void pfstat(const char *name, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		printf("%s: -1 %s\n", name, ename(errno));
	else
		print_stat(name, &st);
}

/* ptimes NAME PATH — mtime (and atime when WITH_ATIME) with nanoseconds. */
static void ptimes(const char *name, const char *path, int with_atime)
{
	struct stat st;
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		printf("%s: -1 %s\n", name, ename(errno));
		return;
	}
	printf("%s: mtime=%lld.%09ld", name, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (with_atime)
		printf(" atime=%lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	printf("\n");
}

static uint32_t fnv(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void print_data(const char *name, const unsigned char *p, size_t n)
{
	printf("%s: len=%zu fnv=%08x \"", name, n, fnv(p, n));
	for (size_t i = 0; i < n && i < 48; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	printf("%s\"\n", n > 48 ? "..." : "");
}

/* read_all FD BUF CAP — pread from 0 until EOF; returns bytes or -1. */
static ssize_t read_all(int fd, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t r = pread(fd, buf + got, cap - got, (off_t)got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* pcontent NAME DIRFD PATH — length, hash and start of the file's data. */
static void pcontent(const char *name, int dfd, const char *path)
{
	static unsigned char buf[1 << 20];
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: -1 %s\n", name, ename(errno));
		return;
	}
	ssize_t n = read_all(fd, buf, sizeof buf);
	if (n < 0)
		printf("%s: -1 %s\n", name, ename(errno));
	else
		print_data(name, buf, (size_t)n);
	close(fd);
}

static void pfdcontent(const char *name, int fd)
{
	static unsigned char buf[1 << 16];
	ssize_t n = read_all(fd, buf, sizeof buf);
	if (n < 0)
		printf("%s: -1 %s\n", name, ename(errno));
	else
		print_data(name, buf, (size_t)n);
}

/* wfile PATH DATA MODE — create/truncate PATH with DATA; 0 or -errno. */
static int wfile(const char *path, const char *data, mode_t mode)
{
	int fd = openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t n = strlen(data);
	ssize_t w = write(fd, data, n);
	int e = errno;
	close(fd);
	if (w != (ssize_t)n)
		return w < 0 ? -e : -EIO;
	return 0;
}

static void must(const char *what, int r)
{
	if (r < 0) {
		fprintf(stderr, "posix_check: setup step %s failed: %s\n", what, strerror(-r));
		exit(2);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *dtype(unsigned char t)
{
	switch (t) {
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_CHR: return "chr";
	case DT_BLK: return "blk";
	case DT_SOCK: return "sock";
	default: return "unknown";
	}
}

/* list_dir NAME DIR — sorted "name/type" entries, and how many of . and ..
 * were seen.  DIR stays open across REWIND_CREATE (if set): a file of that
 * name is created after the first pass, then rewinddir and a second pass. */
static void list_dir_fd(const char *name, DIR *d)
{
	char *names[512];
	size_t n = 0;
	int dots = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		if (n < 512) {
			size_t len = strlen(de->d_name) + 16;
			names[n] = malloc(len);
			if (!names[n])
				abort();
			snprintf(names[n], len, "%s/%s", de->d_name, dtype(de->d_type));
			n++;
		}
	}
	if (errno) {
		printf("%s: -1 %s\n", name, ename(errno));
		return;
	}
	qsort(names, n, sizeof names[0], cmp_str);
	printf("%s: dots=%d n=%zu [", name, dots, n);
	for (size_t i = 0; i < n; i++) {
		printf("%s%s", i ? " " : "", names[i]);
		free(names[i]);
	}
	printf("]\n");
}

static void list_dir(const char *name, const char *path)
{
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: -1 %s\n", name, ename(errno));
		return;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		printf("%s: -1 %s\n", name, ename(errno));
		close(fd);
		return;
	}
	list_dir_fd(name, d);
	closedir(d);
}

/* pxattrs NAME PATH — sorted user.* and trusted.* names (trusted.overlay.*
 * is the kernel overlay's own) with values. */
static void pxattrs(const char *name, const char *path)
{
	char list[8192], *names[256];
	size_t n = 0;
	ssize_t len = llistxattr(path, list, sizeof list);
	if (len < 0) {
		printf("%s: -1 %s\n", name, ename(errno));
		return;
	}
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5) && strncmp(p, "trusted.", 8))
			continue;
		if (!strncmp(p, "trusted.overlay.", 16))
			continue;
		if (n < 256)
			names[n++] = p;
	}
	qsort(names, n, sizeof names[0], cmp_str);
	printf("%s: [", name);
	for (size_t i = 0; i < n; i++) {
		char v[4096];
		ssize_t vl = lgetxattr(path, names[i], v, sizeof v);
		if (vl < 0)
			printf("%s%s=-1 %s", i ? " " : "", names[i], ename(errno));
		else
			printf("%s%s=%u:%.*s", i ? " " : "", names[i], fnv((unsigned char *)v, (size_t)vl),
			       (int)(vl > 16 ? 16 : vl), v);
	}
	printf("]\n");
}

/* ------------------------------------------------------------ fresh mode */

static void sec_open(void)
{
	int fd, fd2;
	char buf[64];

	errno = 0;
	fd = openat(AT_FDCWD, "f1", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	report("open.creat", fd < 0 ? -1 : 0, errno);
	R("open.write", write(fd, "hello", 5));
	pfstat("open.fstat", fd);
	R("open.read_wronly", read(fd, buf, sizeof buf));
	close(fd);
	pstat("open.stat", AT_FDCWD, "f1");
	R("open.excl_existing", openat(AT_FDCWD, "f1", O_CREAT | O_EXCL | O_WRONLY, 0644));
	R("open.noent", openat(AT_FDCWD, "nonexistent", O_RDONLY));
	errno = 0;
	fd = openat(AT_FDCWD, "f2", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	report("open.excl_new", fd < 0 ? -1 : 0, errno);
	pfstat("open.excl_new.fstat", fd);
	close(fd);
	R("open.enotdir", openat(AT_FDCWD, "f1/x", O_RDONLY));
	R("open.creat_enotdir", openat(AT_FDCWD, "f1/x", O_CREAT | O_WRONLY, 0644));
	R("open.dir_wronly", openat(AT_FDCWD, ".", O_WRONLY));
	R("open.dir_rdwr", openat(AT_FDCWD, ".", O_RDWR));
	R("open.odirectory_file", openat(AT_FDCWD, "f1", O_RDONLY | O_DIRECTORY));
	R("open.creat_in_noent_dir", openat(AT_FDCWD, "nodir/f", O_CREAT | O_WRONLY, 0644));

	fd = openat(AT_FDCWD, "f1", O_RDONLY | O_CLOEXEC);
	R("open.write_rdonly", write(fd, "x", 1));
	close(fd);

	/* O_TRUNC */
	fd = openat(AT_FDCWD, "f1", O_WRONLY | O_TRUNC | O_CLOEXEC);
	pfstat("trunc.otrunc.fstat", fd);
	R("trunc.write", write(fd, "abc", 3));
	close(fd);
	/* O_APPEND: even pwrite at 0 appends on Linux */
	fd = openat(AT_FDCWD, "f1", O_WRONLY | O_APPEND | O_CLOEXEC);
	R("append.write", write(fd, "def", 3));
	R("append.pwrite0", pwrite(fd, "ghi", 3, 0));
	R("append.lseek_cur", lseek(fd, 0, SEEK_CUR));
	close(fd);
	pcontent("append.content", AT_FDCWD, "f1");

	/* pread/pwrite, holes */
	fd = openat(AT_FDCWD, "f1", O_RDWR | O_CLOEXEC);
	R("pwrite.at20", pwrite(fd, "XY", 2, 20));
	R("pread.at2", pread(fd, buf, 4, 2));
	print_data("pread.at2.data", (unsigned char *)buf, 4);
	R("pread.eof", pread(fd, buf, 4, 22));
	R("pread.beyond", pread(fd, buf, 4, 1000));
	R("pwrite.neg", pwrite(fd, "z", 1, -1));
	R("lseek.end", lseek(fd, 0, SEEK_END));
	R("lseek.data0", lseek(fd, 0, SEEK_DATA));
	pfstat("pwrite.fstat", fd);
	close(fd);
	pcontent("pwrite.content", AT_FDCWD, "f1");

	/* two fds on one file see each other's writes */
	fd = openat(AT_FDCWD, "f2", O_RDWR | O_CLOEXEC);
	fd2 = openat(AT_FDCWD, "f2", O_RDONLY | O_CLOEXEC);
	R("twofd.write", pwrite(fd, "shared", 6, 0));
	pfdcontent("twofd.read_other", fd2);
	close(fd);
	close(fd2);
}

static void sec_truncate(void)
{
	int fd;
	must("trunc file", wfile("t1", "0123456789", 0644));
	R("truncate.grow", truncate("t1", 100));
	pcontent("truncate.grow.content", AT_FDCWD, "t1");
	R("truncate.shrink", truncate("t1", 3));
	pcontent("truncate.shrink.content", AT_FDCWD, "t1");
	R("truncate.neg", truncate("t1", -1));
	R("truncate.dir", truncate(".", 0));
	R("truncate.noent", truncate("nonexistent", 0));
	fd = openat(AT_FDCWD, "t1", O_RDWR | O_CLOEXEC);
	R("ftruncate.zero", ftruncate(fd, 0));
	R("ftruncate.write", pwrite(fd, "q", 1, 5));
	pfstat("ftruncate.fstat", fd);
	R("ftruncate.big", ftruncate(fd, 1 << 20));
	pfstat("ftruncate.big.fstat", fd);
	close(fd);
	fd = openat(AT_FDCWD, "t1", O_RDONLY | O_CLOEXEC);
	R("ftruncate.rdonly", ftruncate(fd, 0));
	close(fd);
	pcontent("ftruncate.content", AT_FDCWD, "t1");
}

static void sec_fallocate(void)
{
	int fd;
	must("fallocate file", wfile("fa", "abcdefghij", 0644));
	fd = openat(AT_FDCWD, "fa", O_RDWR | O_CLOEXEC);
	R("fallocate.extend", fallocate(fd, 0, 0, 8192));
	pfstat("fallocate.extend.fstat", fd);
	R("fallocate.keep_size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	pfstat("fallocate.keep_size.fstat", fd);
	R("fallocate.punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 4));
	pfstat("fallocate.punch.fstat", fd);
	R("fallocate.einval_len", fallocate(fd, 0, 0, 0));
	close(fd);
	pcontent("fallocate.content", AT_FDCWD, "fa");
	fd = openat(AT_FDCWD, "fa", O_RDONLY | O_CLOEXEC);
	R("fallocate.rdonly", fallocate(fd, 0, 0, 100));
	close(fd);
	fd = openat(AT_FDCWD, "fa", O_RDWR | O_CLOEXEC);
	R("posix_fallocate", -posix_fallocate(fd, 0, 20000) ? -1 : 0);
	pfstat("posix_fallocate.fstat", fd);
	close(fd);
}

static void sec_dirs(void)
{
	R("mkdir", mkdirat(AT_FDCWD, "d1", 0755));
	pstat("mkdir.stat", AT_FDCWD, "d1");
	R("mkdir.eexist", mkdirat(AT_FDCWD, "d1", 0755));
	R("mkdir.eexist_file", mkdirat(AT_FDCWD, "f1", 0755));
	R("mkdir.enotdir", mkdirat(AT_FDCWD, "f1/x", 0755));
	R("mkdir.enoent", mkdirat(AT_FDCWD, "nonexistent/x", 0755));
	R("mkdir.mode0750", mkdirat(AT_FDCWD, "d750", 0750));
	pstat("mkdir.mode0750.stat", AT_FDCWD, "d750");
	R("mkdir.mode_sticky", mkdirat(AT_FDCWD, "dsticky", 01777));
	pstat("mkdir.mode_sticky.stat", AT_FDCWD, "dsticky");
	R("mkdir.child", mkdirat(AT_FDCWD, "d1/sub", 0755));
	must("d1/file", wfile("d1/file", "x", 0644));
	R("rmdir.enotempty", unlinkat(AT_FDCWD, "d1", AT_REMOVEDIR));
	R("rmdir.enotdir", unlinkat(AT_FDCWD, "f1", AT_REMOVEDIR));
	R("rmdir.dot", unlinkat(AT_FDCWD, "d1/.", AT_REMOVEDIR));
	R("rmdir.noent", unlinkat(AT_FDCWD, "nonexistent", AT_REMOVEDIR));
	R("rmdir.rmdir_call_dotdot", rmdir("d1/sub/.."));
	R("rmdir.empty", unlinkat(AT_FDCWD, "d1/sub", AT_REMOVEDIR));
	pstat("rmdir.gone", AT_FDCWD, "d1/sub");
	R("rmdir.file_then", unlinkat(AT_FDCWD, "d1/file", 0));
	R("rmdir.now_empty", unlinkat(AT_FDCWD, "d1", AT_REMOVEDIR));
	R("mkdir.again", mkdirat(AT_FDCWD, "d1", 0700));
	list_dir("mkdir.again.list", "d1");
	pstat("mkdir.again.stat", AT_FDCWD, "d1");
}

static void sec_unlink(void)
{
	int fd, fd2;
	must("u1", wfile("u1", "unlink me", 0644));
	R("unlink.eisdir", unlinkat(AT_FDCWD, "d1", 0));
	R("unlink.noent", unlinkat(AT_FDCWD, "nonexistent", 0));
	R("unlink.enotdir", unlinkat(AT_FDCWD, "f1/x", 0));
	R("unlink.file", unlinkat(AT_FDCWD, "u1", 0));
	pstat("unlink.gone", AT_FDCWD, "u1");
	R("unlink.again", unlinkat(AT_FDCWD, "u1", 0));

	/* an open unlinked file keeps working and reports st_nlink 0 */
	must("u2", wfile("u2", "still here", 0644));
	fd = openat(AT_FDCWD, "u2", O_RDWR | O_CLOEXEC);
	R("unlinked.unlink", unlinkat(AT_FDCWD, "u2", 0));
	pfstat("unlinked.fstat", fd);
	R("unlinked.pwrite", pwrite(fd, " and more", 9, 10));
	pfdcontent("unlinked.content", fd);
	R("unlinked.ftruncate", ftruncate(fd, 5));
	pfstat("unlinked.fstat2", fd);
	R("unlinked.fchmod", fchmod(fd, 0600));
	pfstat("unlinked.fchmod.fstat", fd);
	R("unlinked.fsetxattr", fsetxattr(fd, "user.x", "1", 1, 0));
	R("unlinked.fgetxattr", fgetxattr(fd, "user.x", NULL, 0));
	pstat("unlinked.stat_name", AT_FDCWD, "u2");
	/* a new file of the same name is a different file */
	fd2 = openat(AT_FDCWD, "u2", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	report("unlinked.recreate", fd2 < 0 ? -1 : 0, errno);
	R("unlinked.recreate.write", write(fd2, "new", 3));
	pfdcontent("unlinked.old_content", fd);
	pfdcontent("unlinked.new_content", fd2);
	pfstat("unlinked.new_fstat", fd2);
	close(fd2);
	close(fd);
	pcontent("unlinked.new_after_close", AT_FDCWD, "u2");
	/* unlinked while mmapped too is covered by mmap; a linked-twice file */
	must("u3", wfile("u3", "two names", 0644));
	R("unlinked2.link", linkat(AT_FDCWD, "u3", AT_FDCWD, "u3b", 0));
	fd = openat(AT_FDCWD, "u3", O_RDONLY | O_CLOEXEC);
	R("unlinked2.unlink", unlinkat(AT_FDCWD, "u3", 0));
	pfstat("unlinked2.fstat", fd);
	R("unlinked2.unlink_other", unlinkat(AT_FDCWD, "u3b", 0));
	pfstat("unlinked2.fstat2", fd);
	pfdcontent("unlinked2.content", fd);
	close(fd);
}

static void sec_rename(void)
{
	must("ra", wfile("ra", "A", 0644));
	must("rb", wfile("rb", "BB", 0600));
	R("rename.file_over_file", renameat(AT_FDCWD, "ra", AT_FDCWD, "rb"));
	pstat("rename.file_over_file.src", AT_FDCWD, "ra");
	pstat("rename.file_over_file.dst", AT_FDCWD, "rb");
	pcontent("rename.file_over_file.content", AT_FDCWD, "rb");
	R("rename.noent", renameat(AT_FDCWD, "ra", AT_FDCWD, "rc"));
	R("rename.self", renameat(AT_FDCWD, "rb", AT_FDCWD, "rb"));
	R("mkdir.re1", mkdirat(AT_FDCWD, "re1", 0755));
	R("mkdir.re2", mkdirat(AT_FDCWD, "re2", 0755));
	must("re1/x", wfile("re1/x", "x in re1", 0644));
	R("rename.file_over_dir", renameat(AT_FDCWD, "rb", AT_FDCWD, "re2"));
	R("rename.dir_over_file", renameat(AT_FDCWD, "re2", AT_FDCWD, "rb"));
	R("rename.dir_over_nonempty", renameat(AT_FDCWD, "re2", AT_FDCWD, "re1"));
	R("rename.into_own_subdir", renameat(AT_FDCWD, "re1", AT_FDCWD, "re1/sub"));
	R("rename.dir_over_empty", renameat(AT_FDCWD, "re1", AT_FDCWD, "re2"));
	pstat("rename.dir_over_empty.src", AT_FDCWD, "re1");
	pcontent("rename.dir_over_empty.child", AT_FDCWD, "re2/x");
	R("rename.enotdir_trailing", renameat(AT_FDCWD, "rb", AT_FDCWD, "rb2/"));
	R("rename.dot", renameat(AT_FDCWD, "re2/.", AT_FDCWD, "re3"));
	/* a directory with content, across directories */
	R("mkdir.rd", mkdirat(AT_FDCWD, "rd", 0755));
	R("mkdir.rd/deep", mkdirat(AT_FDCWD, "rd/deep", 0755));
	must("rd/deep/f", wfile("rd/deep/f", "deep", 0644));
	R("rename.dir_across", renameat(AT_FDCWD, "rd", AT_FDCWD, "re2/rd"));
	pcontent("rename.dir_across.child", AT_FDCWD, "re2/rd/deep/f");
	pstat("rename.dir_across.old", AT_FDCWD, "rd");
	/* renameat2 */
	must("n1", wfile("n1", "n1", 0644));
	must("n2", wfile("n2", "n2", 0644));
	R("renameat2.noreplace_exists", renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_NOREPLACE));
	R("renameat2.noreplace_new", renameat2(AT_FDCWD, "n1", AT_FDCWD, "n3", RENAME_NOREPLACE));
	pcontent("renameat2.noreplace_new.content", AT_FDCWD, "n3");
	R("renameat2.exchange", renameat2(AT_FDCWD, "n2", AT_FDCWD, "n3", RENAME_EXCHANGE));
	pcontent("renameat2.exchange.n2", AT_FDCWD, "n2");
	pcontent("renameat2.exchange.n3", AT_FDCWD, "n3");
	R("renameat2.exchange_file_dir", renameat2(AT_FDCWD, "n2", AT_FDCWD, "re2", RENAME_EXCHANGE));
	pstat("renameat2.exchange_file_dir.n2", AT_FDCWD, "n2");
	pstat("renameat2.exchange_file_dir.re2", AT_FDCWD, "re2");
	pcontent("renameat2.exchange_file_dir.child", AT_FDCWD, "n2/x");
	R("renameat2.exchange_noent", renameat2(AT_FDCWD, "n3", AT_FDCWD, "nonexistent", RENAME_EXCHANGE));
	R("renameat2.bad_flags", renameat2(AT_FDCWD, "n3", AT_FDCWD, "n4", RENAME_NOREPLACE | RENAME_EXCHANGE));
	/* hardlinks of one inode: rename is a no-op, both names stay */
	R("rename.hl.link", linkat(AT_FDCWD, "n3", AT_FDCWD, "n3b", 0));
	R("rename.hardlinks", renameat(AT_FDCWD, "n3", AT_FDCWD, "n3b"));
	pstat("rename.hardlinks.src", AT_FDCWD, "n3");
	pstat("rename.hardlinks.dst", AT_FDCWD, "n3b");
	/* a symlink is renamed, not followed */
	R("rename.symlink.make", symlinkat("n3", AT_FDCWD, "sl"));
	R("rename.symlink", renameat(AT_FDCWD, "sl", AT_FDCWD, "sl2"));
	pstat("rename.symlink.stat", AT_FDCWD, "sl2");
	/* an open file survives being renamed over */
	{
		int fd = openat(AT_FDCWD, "n3b", O_RDONLY | O_CLOEXEC);
		must("rover", wfile("rover", "replacement", 0644));
		R("rename.over_open", renameat(AT_FDCWD, "rover", AT_FDCWD, "n3b"));
		pfstat("rename.over_open.fstat", fd);
		pfdcontent("rename.over_open.old_content", fd);
		close(fd);
	}
	list_dir("rename.list", ".");
}

static void sec_link(void)
{
	must("l1", wfile("l1", "link target", 0644));
	R("link", linkat(AT_FDCWD, "l1", AT_FDCWD, "l2", 0));
	pstat("link.l1", AT_FDCWD, "l1");
	pstat("link.l2", AT_FDCWD, "l2");
	R("link.eexist", linkat(AT_FDCWD, "l1", AT_FDCWD, "l2", 0));
	R("link.dir", linkat(AT_FDCWD, "d1", AT_FDCWD, "d1link", 0));
	R("link.noent", linkat(AT_FDCWD, "nonexistent", AT_FDCWD, "x", 0));
	R("link.into_noent_dir", linkat(AT_FDCWD, "l1", AT_FDCWD, "nodir/x", 0));
	R("link.third", linkat(AT_FDCWD, "l1", AT_FDCWD, "d1/l3", 0));
	pstat("link.third.stat", AT_FDCWD, "l2");
	{
		int fd = openat(AT_FDCWD, "l2", O_WRONLY | O_APPEND | O_CLOEXEC);
		R("link.write_l2", write(fd, " +l2", 4));
		close(fd);
	}
	pcontent("link.read_l1", AT_FDCWD, "l1");
	pcontent("link.read_l3", AT_FDCWD, "d1/l3");
	R("link.chmod_l3", fchmodat(AT_FDCWD, "d1/l3", 0600, 0));
	pstat("link.chmod_l3.l1", AT_FDCWD, "l1");
	R("link.unlink_l1", unlinkat(AT_FDCWD, "l1", 0));
	pstat("link.after_unlink.l2", AT_FDCWD, "l2");
	R("link.rename_l3", renameat(AT_FDCWD, "d1/l3", AT_FDCWD, "l4"));
	pstat("link.after_rename.l4", AT_FDCWD, "l4");
	R("link.unlink_l2", unlinkat(AT_FDCWD, "l2", 0));
	pstat("link.after_unlink2.l4", AT_FDCWD, "l4");
	/* a hardlink to a symlink (no follow) and through it (follow) */
	R("link.symlink.make", symlinkat("l4", AT_FDCWD, "lsym"));
	R("link.to_symlink", linkat(AT_FDCWD, "lsym", AT_FDCWD, "lsym2", 0));
	pstat("link.to_symlink.stat", AT_FDCWD, "lsym2");
	R("link.follow", linkat(AT_FDCWD, "lsym", AT_FDCWD, "lfollow", AT_SYMLINK_FOLLOW));
	pstat("link.follow.stat", AT_FDCWD, "lfollow");
}

static void sec_symlink(void)
{
	char buf[8192];
	static char longt[4097];
	R("symlink", symlinkat("target/path", AT_FDCWD, "s1"));
	pstat("symlink.lstat", AT_FDCWD, "s1");
	R("readlink", readlinkat(AT_FDCWD, "s1", buf, sizeof buf));
	R("readlink.short", readlinkat(AT_FDCWD, "s1", buf, 3));
	print_data("readlink.short.data", (unsigned char *)buf, 3);
	R("symlink.eexist", symlinkat("x", AT_FDCWD, "s1"));
	R("symlink.eexist_file", symlinkat("x", AT_FDCWD, "f1"));
	R("readlink.einval", readlinkat(AT_FDCWD, "f1", buf, sizeof buf));
	R("readlink.noent", readlinkat(AT_FDCWD, "nonexistent", buf, sizeof buf));
	R("symlink.empty_target", symlinkat("", AT_FDCWD, "s_empty"));
	memset(longt, 'x', 4095);
	longt[4095] = '\0';
	R("symlink.target4095", symlinkat(longt, AT_FDCWD, "s_long"));
	R("readlink.target4095", readlinkat(AT_FDCWD, "s_long", buf, sizeof buf));
	longt[4095] = 'x';
	longt[4096] = '\0';
	R("symlink.target4096", symlinkat(longt, AT_FDCWD, "s_long2"));
	/* following */
	R("symlink.dangling", symlinkat("dangle_target", AT_FDCWD, "s2"));
	R("symlink.stat_dangling", fstatat(AT_FDCWD, "s2", &(struct stat){ 0 }, 0));
	{
		int fd = openat(AT_FDCWD, "s2", O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		report("symlink.creat_through", fd < 0 ? -1 : 0, errno);
		if (fd >= 0)
			close(fd);
	}
	pstat("symlink.creat_through.target", AT_FDCWD, "dangle_target");
	R("symlink.nofollow", openat(AT_FDCWD, "s2", O_RDONLY | O_NOFOLLOW));
	R("symlink.excl_through", openat(AT_FDCWD, "s1", O_WRONLY | O_CREAT | O_EXCL, 0644));
	R("symlink.loop.a", symlinkat("loopb", AT_FDCWD, "loopa"));
	R("symlink.loop.b", symlinkat("loopa", AT_FDCWD, "loopb"));
	R("symlink.loop.open", openat(AT_FDCWD, "loopa", O_RDONLY));
	R("symlink.to_dir", symlinkat("d1", AT_FDCWD, "s_dir"));
	R("symlink.through_dir", openat(AT_FDCWD, "s_dir/.", O_RDONLY | O_DIRECTORY) >= 0 ? 0 : -1);
	R("symlink.unlink", unlinkat(AT_FDCWD, "s_dir", 0));
	pstat("symlink.unlink.target_stays", AT_FDCWD, "d1");
}

static void sec_nodes(void)
{
	R("mkfifo", mkfifoat(AT_FDCWD, "fifo", 0640));
	pstat("mkfifo.stat", AT_FDCWD, "fifo");
	R("mkfifo.eexist", mkfifoat(AT_FDCWD, "fifo", 0640));
	{
		char b[4];
		int fd = openat(AT_FDCWD, "fifo", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		report("mkfifo.open_rdwr", fd < 0 ? -1 : 0, errno);
		R("mkfifo.write", write(fd, "pip", 3));
		R("mkfifo.read", read(fd, b, sizeof b));
		R("mkfifo.read_empty", read(fd, b, sizeof b));
		close(fd);
	}
	R("mknod.chr", mknodat(AT_FDCWD, "chr", S_IFCHR | 0620, makedev(1, 3)));
	pstat("mknod.chr.stat", AT_FDCWD, "chr");
	R("mknod.blk", mknodat(AT_FDCWD, "blk", S_IFBLK | 0600, makedev(7, 9)));
	pstat("mknod.blk.stat", AT_FDCWD, "blk");
	R("mknod.bigdev", mknodat(AT_FDCWD, "bigdev", S_IFCHR | 0600, makedev(4095, 1048575)));
	pstat("mknod.bigdev.stat", AT_FDCWD, "bigdev");
	R("mknod.reg", mknodat(AT_FDCWD, "nreg", S_IFREG | 0604, 0));
	pstat("mknod.reg.stat", AT_FDCWD, "nreg");
	R("mknod.fifo", mknodat(AT_FDCWD, "nfifo", S_IFIFO | 0600, 0));
	pstat("mknod.fifo.stat", AT_FDCWD, "nfifo");
	R("mknod.sock", mknodat(AT_FDCWD, "nsock", S_IFSOCK | 0600, 0));
	pstat("mknod.sock.stat", AT_FDCWD, "nsock");
	R("mknod.eexist", mknodat(AT_FDCWD, "chr", S_IFCHR | 0600, makedev(1, 3)));
	R("mknod.dir_einval", mknodat(AT_FDCWD, "ndir", S_IFDIR | 0700, 0));
	R("mknod.chr.rename", renameat(AT_FDCWD, "chr", AT_FDCWD, "chr2"));
	pstat("mknod.chr.rename.stat", AT_FDCWD, "chr2");
	R("mknod.chr.link", linkat(AT_FDCWD, "chr2", AT_FDCWD, "chr3", 0));
	pstat("mknod.chr.link.stat", AT_FDCWD, "chr2");
}

static void sec_attrs(void)
{
	must("m1", wfile("m1", "mode", 0644));
	R("chmod", fchmodat(AT_FDCWD, "m1", 0600, 0));
	pstat("chmod.stat", AT_FDCWD, "m1");
	R("chmod.suid", fchmodat(AT_FDCWD, "m1", 06755, 0));
	pstat("chmod.suid.stat", AT_FDCWD, "m1");
	R("chown", fchownat(AT_FDCWD, "m1", 1000, 1001, 0));
	pstat("chown.stat_suid_cleared", AT_FDCWD, "m1");
	R("chown.noop", fchownat(AT_FDCWD, "m1", (uid_t)-1, (gid_t)-1, 0));
	pstat("chown.noop.stat", AT_FDCWD, "m1");
	R("chown.gid_only", fchownat(AT_FDCWD, "m1", (uid_t)-1, 2002, 0));
	pstat("chown.gid_only.stat", AT_FDCWD, "m1");
	R("chmod.sticky_file", fchmodat(AT_FDCWD, "m1", 01644, 0));
	pstat("chmod.sticky_file.stat", AT_FDCWD, "m1");
	R("chmod.zero", fchmodat(AT_FDCWD, "m1", 0, 0));
	pstat("chmod.zero.stat", AT_FDCWD, "m1");
	pcontent("chmod.zero.read_as_root", AT_FDCWD, "m1");
	R("chmod.noent", fchmodat(AT_FDCWD, "nonexistent", 0644, 0));
	R("chmod.dir", fchmodat(AT_FDCWD, "d1", 0711, 0));
	pstat("chmod.dir.stat", AT_FDCWD, "d1");
	R("lchown.symlink.make", symlinkat("m1", AT_FDCWD, "msym"));
	R("lchown.symlink", fchownat(AT_FDCWD, "msym", 33, 44, AT_SYMLINK_NOFOLLOW));
	pstat("lchown.symlink.stat", AT_FDCWD, "msym");
	pstat("lchown.symlink.target", AT_FDCWD, "m1");
	R("chown.follow", fchownat(AT_FDCWD, "msym", 55, 66, 0));
	pstat("chown.follow.target", AT_FDCWD, "m1");
	{
		int fd = openat(AT_FDCWD, "m1", O_RDONLY | O_CLOEXEC);
		R("fchmod", fchmod(fd, 0640));
		R("fchown", fchown(fd, 7, 8));
		pfstat("fchmod.fstat", fd);
		close(fd);
	}
	/* writing as root to a setuid file: kill_suid */
	must("m2", wfile("m2", "suid", 0755));
	R("suid.chmod", fchmodat(AT_FDCWD, "m2", 04755, 0));
	{
		int fd = openat(AT_FDCWD, "m2", O_WRONLY | O_APPEND | O_CLOEXEC);
		R("suid.write", write(fd, "x", 1));
		close(fd);
	}
	pstat("suid.write.stat", AT_FDCWD, "m2");
}

static void sec_times(void)
{
	struct timespec ts[2];
	struct timeval now;
	struct stat st;
	must("tm", wfile("tm", "times", 0644));
	ts[0] = (struct timespec){ T_SEC - 100, 1 };
	ts[1] = (struct timespec){ T_SEC, T_NSEC };
	R("utimensat", utimensat(AT_FDCWD, "tm", ts, 0));
	ptimes("utimensat.times", "tm", 1);
	ts[0] = (struct timespec){ 1, 999999999 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	R("utimensat.omit_mtime", utimensat(AT_FDCWD, "tm", ts, 0));
	ptimes("utimensat.omit_mtime.times", "tm", 1);
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_NOW };
	gettimeofday(&now, NULL);
	R("utimensat.now_mtime", utimensat(AT_FDCWD, "tm", ts, 0));
	if (fstatat(AT_FDCWD, "tm", &st, 0) == 0)
		printf("utimensat.now_mtime.recent: %d\n",
		       st.st_mtim.tv_sec >= now.tv_sec - 2 && st.st_mtim.tv_sec <= now.tv_sec + 2);
	ts[0] = (struct timespec){ -1, 500000000 };
	ts[1] = (struct timespec){ 4102444800LL, 1 };
	R("utimensat.neg_future", utimensat(AT_FDCWD, "tm", ts, 0));
	ptimes("utimensat.neg_future.times", "tm", 0);
	R("utimensat.einval_nsec", utimensat(AT_FDCWD, "tm", (struct timespec[2]){ { 0, 1000000000 }, { 0, 0 } }, 0));
	R("utimensat.noent", utimensat(AT_FDCWD, "nonexistent", NULL, 0));
	R("utimensat.symlink.make", symlinkat("tm", AT_FDCWD, "tmsym"));
	ts[0] = ts[1] = (struct timespec){ 1000000000, 42 };
	R("utimensat.nofollow", utimensat(AT_FDCWD, "tmsym", ts, AT_SYMLINK_NOFOLLOW));
	ptimes("utimensat.nofollow.link", "tmsym", 0);
	ptimes("utimensat.nofollow.target", "tm", 0);
	R("utimensat.dir", utimensat(AT_FDCWD, "d1", ts, 0));
	ptimes("utimensat.dir.times", "d1", 0);
	{
		int fd = openat(AT_FDCWD, "tm", O_RDWR | O_CLOEXEC);
		ts[0] = ts[1] = (struct timespec){ 1500000000, 7 };
		R("futimens", futimens(fd, ts));
		ptimes("futimens.times", "tm", 0);
		R("mtime_on_write.write", pwrite(fd, "w", 1, 0));
		close(fd);
		if (fstatat(AT_FDCWD, "tm", &st, 0) == 0)
			printf("mtime_on_write.changed: %d\n", st.st_mtim.tv_sec != 1500000000);
	}
	ts[0] = ts[1] = (struct timespec){ 1500000000, 7 };
	R("mtime_on_truncate.set", utimensat(AT_FDCWD, "tm", ts, 0));
	R("mtime_on_truncate", truncate("tm", 0));
	if (fstatat(AT_FDCWD, "tm", &st, 0) == 0)
		printf("mtime_on_truncate.changed: %d\n", st.st_mtim.tv_sec != 1500000000);
	R("mtime_dir_on_create.set", utimensat(AT_FDCWD, "d1", ts, 0));
	must("d1/newfile", wfile("d1/newfile", "", 0644));
	if (fstatat(AT_FDCWD, "d1", &st, 0) == 0)
		printf("mtime_dir_on_create.changed: %d\n", st.st_mtim.tv_sec != 1500000000);
}

static void sec_xattr(void)
{
	char v[8192];
	static char big[4001];
	char longname[300];
	must("x1", wfile("x1", "xattrs", 0644));
	R("setxattr", setxattr("x1", "user.a", "1", 1, 0));
	R("getxattr", getxattr("x1", "user.a", v, sizeof v));
	R("getxattr.size_query", getxattr("x1", "user.a", NULL, 0));
	R("getxattr.nodata", getxattr("x1", "user.none", v, sizeof v));
	R("setxattr.b", setxattr("x1", "user.bb", "22", 2, 0));
	R("getxattr.erange", getxattr("x1", "user.bb", v, 1));
	R("setxattr.create_exists", setxattr("x1", "user.a", "2", 1, XATTR_CREATE));
	R("setxattr.replace_missing", setxattr("x1", "user.c", "3", 1, XATTR_REPLACE));
	R("setxattr.replace", setxattr("x1", "user.a", "new", 3, XATTR_REPLACE));
	R("setxattr.create_new", setxattr("x1", "user.c", "3", 1, XATTR_CREATE));
	R("setxattr.empty", setxattr("x1", "user.empty", "", 0, 0));
	R("getxattr.empty", getxattr("x1", "user.empty", v, sizeof v));
	memset(big, 'v', 4000);
	R("setxattr.big", setxattr("x1", "user.big", big, 4000, 0));
	R("getxattr.big", getxattr("x1", "user.big", v, sizeof v));
	R("setxattr.binary", setxattr("x1", "user.bin", "\0\xff\x01", 3, 0));
	R("setxattr.trusted", setxattr("x1", "trusted.t", "tv", 2, 0));
	R("getxattr.trusted", getxattr("x1", "trusted.t", v, sizeof v));
	R("setxattr.bad_namespace", setxattr("x1", "bogus.x", "1", 1, 0));
	memset(longname, 'n', sizeof longname);
	memcpy(longname, "user.", 5);
	longname[256] = '\0';
	R("setxattr.name256", setxattr("x1", longname, "1", 1, 0));
	R("setxattr.noent", setxattr("nonexistent", "user.a", "1", 1, 0));
	pxattrs("listxattr", "x1");
	R("listxattr.size_query", listxattr("x1", NULL, 0) > 0 ? 0 : -1);
	R("listxattr.erange", listxattr("x1", v, 2));
	R("removexattr", removexattr("x1", "user.a"));
	R("removexattr.again", removexattr("x1", "user.a"));
	R("getxattr.removed", getxattr("x1", "user.a", v, sizeof v));
	pxattrs("listxattr.after_remove", "x1");
	R("setxattr.dir", setxattr("d1", "user.dir", "d", 1, 0));
	pxattrs("listxattr.dir", "d1");
	R("lsetxattr.symlink_user", lsetxattr("msym", "user.l", "1", 1, 0));
	R("lsetxattr.symlink_trusted", lsetxattr("msym", "trusted.l", "1", 1, 0));
	pxattrs("listxattr.symlink", "msym");
	R("setxattr.fifo_user", setxattr("fifo", "user.f", "1", 1, 0));
	{
		int fd = openat(AT_FDCWD, "x1", O_RDONLY | O_CLOEXEC);
		R("fsetxattr.rdonly_fd", fsetxattr(fd, "user.fd", "fd", 2, 0));
		R("fgetxattr", fgetxattr(fd, "user.fd", v, sizeof v));
		R("fremovexattr", fremovexattr(fd, "user.fd"));
		close(fd);
	}
	/* xattrs follow the inode through link and rename */
	R("xattr.link", linkat(AT_FDCWD, "x1", AT_FDCWD, "x1l", 0));
	R("xattr.rename", renameat(AT_FDCWD, "x1", AT_FDCWD, "x2"));
	pxattrs("listxattr.renamed", "x2");
	pxattrs("listxattr.linked", "x1l");
}

static void sec_sync_statfs_access(void)
{
	struct statfs sf;
	struct statvfs sv;
	int fd = openat(AT_FDCWD, "f1", O_RDWR | O_CLOEXEC);
	R("fsync", fsync(fd));
	R("fdatasync", fdatasync(fd));
	close(fd);
	fd = openat(AT_FDCWD, "f1", O_RDONLY | O_CLOEXEC);
	R("fsync.rdonly", fsync(fd));
	close(fd);
	fd = openat(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	R("fsync.dir", fsync(fd));
	R("fdatasync.dir", fdatasync(fd));
	R("syncfs", syncfs(fd));
	if (fstatfs(fd, &sf) == 0)
		printf("fstatfs: namelen=%ld bsize_pos=%d blocks_pos=%d\n", (long)sf.f_namelen, sf.f_bsize > 0,
		       sf.f_blocks > 0);
	else
		printf("fstatfs: -1 %s\n", ename(errno));
	close(fd);
	if (statfs("f1", &sf) == 0)
		printf("statfs: namelen=%ld bavail_le_bfree=%d\n", (long)sf.f_namelen, sf.f_bavail <= sf.f_bfree);
	else
		printf("statfs: -1 %s\n", ename(errno));
	R("statfs.noent", statfs("nonexistent", &sf));
	if (statvfs(".", &sv) == 0)
		printf("statvfs: namemax=%lu rdonly=%d\n", sv.f_namemax, !!(sv.f_flag & ST_RDONLY));
	else
		printf("statvfs: -1 %s\n", ename(errno));

	must("ac", wfile("ac", "a", 0644));
	R("access.f_ok", faccessat(AT_FDCWD, "ac", F_OK, 0));
	R("access.noent", faccessat(AT_FDCWD, "nonexistent", F_OK, 0));
	R("access.rw_0644", faccessat(AT_FDCWD, "ac", R_OK | W_OK, 0));
	R("access.x_0644", faccessat(AT_FDCWD, "ac", X_OK, 0));
	R("access.chmod", fchmodat(AT_FDCWD, "ac", 0744, 0));
	R("access.x_0744", faccessat(AT_FDCWD, "ac", X_OK, 0));
	R("access.chmod0", fchmodat(AT_FDCWD, "ac", 0, 0));
	R("access.r_0000_root", faccessat(AT_FDCWD, "ac", R_OK, 0));
	R("access.eaccess", faccessat(AT_FDCWD, "ac", W_OK, AT_EACCESS));
	R("access.dir_x", faccessat(AT_FDCWD, "d1", X_OK, 0));
	R("access.enotdir", faccessat(AT_FDCWD, "ac/x", F_OK, 0));
	R("access.symlink_nofollow", faccessat(AT_FDCWD, "s2", F_OK, AT_SYMLINK_NOFOLLOW));
}

static void sec_mmap(void)
{
	static unsigned char data[8192];
	unsigned char *p;
	int fd;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	fd = openat(AT_FDCWD, "mm", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	R("mmap.write_file", write(fd, data, sizeof data));
	p = mmap(NULL, sizeof data, PROT_READ, MAP_SHARED, fd, 0);
	report("mmap.read", p == MAP_FAILED ? -1 : 0, errno);
	if (p != MAP_FAILED) {
		printf("mmap.read.equal: %d\n", memcmp(p, data, sizeof data) == 0);
		munmap(p, sizeof data);
	}
	p = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report("mmap.shared_rw", p == MAP_FAILED ? -1 : 0, errno);
	if (p != MAP_FAILED) {
		memcpy(p + 4106, "MMAP", 4);
		memcpy(p, "head", 4);
		R("msync", msync(p, sizeof data, MS_SYNC));
		munmap(p, sizeof data);
	}
	close(fd);
	pcontent("mmap.readback", AT_FDCWD, "mm");
	{
		char b[4];
		fd = openat(AT_FDCWD, "mm", O_RDONLY | O_CLOEXEC);
		R("mmap.pread_back", pread(fd, b, 4, 4106));
		print_data("mmap.pread_back.data", (unsigned char *)b, 4);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		report("mmap.shared_rw_on_rdonly", p == MAP_FAILED ? -1 : 0, errno);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		report("mmap.private_rw_on_rdonly", p == MAP_FAILED ? -1 : 0, errno);
		if (p != MAP_FAILED) {
			p[0] = 'P';
			munmap(p, 4096);
		}
		close(fd);
	}
	fd = openat(AT_FDCWD, "mm", O_WRONLY | O_CLOEXEC);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	report("mmap.on_wronly", p == MAP_FAILED ? -1 : 0, errno);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
	pcontent("mmap.private_not_written", AT_FDCWD, "mm");
	/* grow with ftruncate, write the new page through the map */
	fd = openat(AT_FDCWD, "mm", O_RDWR | O_CLOEXEC);
	R("mmap.grow", ftruncate(fd, 16384));
	p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		memcpy(p + 12288, "tail", 4);
		R("mmap.grow.msync", msync(p, 16384, MS_SYNC));
		munmap(p, 16384);
	}
	close(fd);
	pcontent("mmap.grow.content", AT_FDCWD, "mm");
	/* a mapping outlives unlink and close */
	fd = openat(AT_FDCWD, "mm", O_RDWR | O_CLOEXEC);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	R("mmap.unlink", unlinkat(AT_FDCWD, "mm", 0));
	if (p != MAP_FAILED) {
		memcpy(p, "gone", 4);
		printf("mmap.after_unlink: %.4s\n", (char *)p);
		munmap(p, 4096);
	}
}

/* sec_deep — a mkdirat chain on directory fds until the absolute path of a
 * file at its bottom is exactly PATH_MAX-1 bytes; then beyond PATH_MAX. */
static void sec_deep(void)
{
	char cwd[PATH_MAX], comp[256], abs[PATH_MAX + 512], fname[256];
	char *names[64];
	int nlev = 0, fd, cur, r = 0;
	size_t len;
	if (!getcwd(cwd, sizeof cwd)) {
		printf("deep: getcwd -1 %s\n", ename(errno));
		return;
	}
	len = strlen(cwd) + strlen("/deep");
	R("deep.mkdir", mkdirat(AT_FDCWD, "deep", 0755));
	cur = openat(AT_FDCWD, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	memset(comp, 'c', 200);
	comp[200] = '\0';
	while (PATH_MAX - 1 - len > 256 && nlev < 64) {
		size_t c = 200;
		int nfd;
		comp[0] = (char)('a' + nlev % 26);
		names[nlev] = strndup(comp, c);
		if (mkdirat(cur, names[nlev], 0755) < 0)
			r = r ? r : -errno;
		nfd = openat(cur, names[nlev], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (nfd < 0)
			r = r ? r : -errno;
		close(cur);
		cur = nfd;
		len += 1 + c;
		nlev++;
	}
	report("deep.chain", r, -r);
	len = PATH_MAX - 1 - len - 1; /* bytes left for the file name */
	memset(fname, 'f', len);
	fname[len] = '\0';
	fd = openat(cur, fname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	report("deep.create", fd < 0 ? -1 : 0, errno);
	R("deep.write", write(fd, "bottom", 6));
	close(fd);
	/* the absolute path, for checking the total and opening it whole */
	{
		size_t off = (size_t)snprintf(abs, sizeof abs, "%s/deep", cwd);
		for (int i = 0; i < nlev; i++)
			off += (size_t)snprintf(abs + off, sizeof abs - off, "/%s", names[i]);
		off += (size_t)snprintf(abs + off, sizeof abs - off, "/%s", fname);
		printf("deep.abs_len: %zu\n", off);
	}
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	report("deep.open_abs", fd < 0 ? -1 : 0, errno);
	if (fd >= 0)
		close(fd);
	/* walk the chain again from the top with openat */
	{
		int w = openat(AT_FDCWD, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		for (int i = 0; i < nlev && w >= 0; i++) {
			int n = openat(w, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(w);
			w = n;
		}
		report("deep.walk", w < 0 ? -1 : 0, errno);
		pcontent("deep.content", w, fname);
		pstat("deep.stat", w, fname);
		R("deep.rename", renameat(w, fname, w, "short"));
		R("deep.link", linkat(w, "short", w, fname, 0));
		pstat("deep.link.stat", w, fname);
		close(w);
	}
	/* beyond PATH_MAX: still fine through directory fds */
	R("deep.beyond.mkdir", mkdirat(cur, "beyond", 0755));
	{
		int b = openat(cur, "beyond", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		R("deep.beyond.mkdir2", mkdirat(b, comp, 0755));
		fd = openat(b, "file", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		report("deep.beyond.create", fd < 0 ? -1 : 0, errno);
		R("deep.beyond.write", write(fd, "past PATH_MAX", 13));
		close(fd);
		pcontent("deep.beyond.content", b, "file");
		R("deep.beyond.unlink", unlinkat(b, "file", 0));
		R("deep.beyond.rmdir", unlinkat(b, comp, AT_REMOVEDIR));
		close(b);
	}
	{
		size_t off = strlen(abs);
		snprintf(abs + off, sizeof abs - off, "/../beyond");
	}
	R("deep.beyond.abs_enametoolong", open(abs, O_RDONLY | O_DIRECTORY));
	close(cur);
	for (int i = 0; i < nlev; i++)
		free(names[i]);
}

static void sec_names(void)
{
	char n255[256], n256[257], p[300];
	int fd;
	memset(n255, 'N', 255);
	n255[255] = '\0';
	memset(n256, 'M', 256);
	n256[256] = '\0';
	fd = openat(AT_FDCWD, n255, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	report("name255.create", fd < 0 ? -1 : 0, errno);
	close(fd);
	pstat("name255.stat", AT_FDCWD, n255);
	R("name256.create", openat(AT_FDCWD, n256, O_WRONLY | O_CREAT, 0644));
	R("name256.open", openat(AT_FDCWD, n256, O_RDONLY));
	R("name256.stat", fstatat(AT_FDCWD, n256, &(struct stat){ 0 }, 0));
	R("name256.mkdir", mkdirat(AT_FDCWD, n256, 0755));
	R("name256.symlink", symlinkat("x", AT_FDCWD, n256));
	R("name256.mknod", mkfifoat(AT_FDCWD, n256, 0644));
	R("name256.link", linkat(AT_FDCWD, n255, AT_FDCWD, n256, 0));
	R("name256.rename", renameat(AT_FDCWD, n255, AT_FDCWD, n256));
	R("name256.unlink", unlinkat(AT_FDCWD, n256, 0));
	R("name255.mkdir", mkdirat(AT_FDCWD, "n255dir", 0755));
	snprintf(p, sizeof p, "n255dir/%s", n255);
	R("name255.rename", renameat(AT_FDCWD, n255, AT_FDCWD, p));
	R("name255.link", linkat(AT_FDCWD, p, AT_FDCWD, n255, 0));
	pstat("name255.link.stat", AT_FDCWD, n255);
	R("name255.symlink_target", symlinkat(n255, AT_FDCWD, "n255sym"));
	pcontent("name255.through_symlink", AT_FDCWD, "n255sym");
	list_dir("name255.list", "n255dir");
	R("name.slash_in_component", mkdirat(AT_FDCWD, "", 0755));
}

static void sec_readdir(void)
{
	char n[16];
	R("readdir.mkdir", mkdirat(AT_FDCWD, "rdd", 0755));
	list_dir("readdir.empty", "rdd");
	for (int i = 0; i < 40; i++) {
		snprintf(n, sizeof n, "rdd/e%02d", i);
		if (i % 10 == 9)
			must("rdd mkdir", mkdirat(AT_FDCWD, n, 0755) < 0 ? -errno : 0);
		else
			must("rdd file", wfile(n, "e", 0644));
	}
	R("readdir.symlink", symlinkat("e00", AT_FDCWD, "rdd/sym"));
	R("readdir.fifo", mkfifoat(AT_FDCWD, "rdd/fifo", 0644));
	list_dir("readdir.full", "rdd");
	for (int i = 0; i < 40; i += 3) {
		snprintf(n, sizeof n, "rdd/e%02d", i);
		if (i % 10 == 9)
			unlinkat(AT_FDCWD, n, AT_REMOVEDIR);
		else
			unlinkat(AT_FDCWD, n, 0);
	}
	R("readdir.rename", renameat(AT_FDCWD, "rdd/e01", AT_FDCWD, "rdd/renamed"));
	R("readdir.rename_out", renameat(AT_FDCWD, "rdd/e02", AT_FDCWD, "rdd_out"));
	list_dir("readdir.after_deletes", "rdd");
	/* rewinddir sees an entry created while the stream is open */
	{
		int fd = openat(AT_FDCWD, "rdd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fdopendir(fd);
		while (readdir(d) != NULL)
			;
		must("rdd/late", wfile("rdd/late", "late", 0644));
		unlinkat(AT_FDCWD, "rdd/e04", 0);
		rewinddir(d);
		list_dir_fd("readdir.rewind", d);
		closedir(d);
	}
	list_dir("readdir.top", ".");
}

static int run_fresh(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return 2;
	}
	if (chdir(dir) < 0) {
		perror(dir);
		return 2;
	}
	sec_open();
	sec_truncate();
	sec_fallocate();
	sec_dirs();
	sec_unlink();
	sec_rename();
	sec_link();
	sec_symlink();
	sec_nodes();
	sec_attrs();
	sec_times();
	sec_xattr();
	sec_sync_statfs_access();
	sec_mmap();
	sec_deep();
	sec_names();
	sec_readdir();
	return 0;
}

/* --------------------------------------------------------- lower tree */

static const struct timespec T_LOWER[2] = { { 1577934245, 0 }, { 1577934245, 0 } };

static void prep_file(const char *path, const char *data, mode_t mode)
{
	must(path, wfile(path, data, mode));
	must(path, fchmodat(AT_FDCWD, path, mode, 0) < 0 ? -errno : 0);
}

/* --prepare DIR: the tree --lower-prepared expects.  Every time is fixed. */
static int run_prepare(const char *dir)
{
	static const char *dirs[] = { "ren", "ren/sub", "mvsrc", "mvsrc/inner", "dst", "rmd",
				      "rmd/sub", "edir", "xch", "rdir", "rdir/gone" };
	static const char *order[] = { "edir", "dst", "xch", "rmd/sub", "rmd", "mvsrc/inner", "mvsrc",
				       "ren/sub", "ren", "rdir/gone", "rdir", "." };
	char trunc[1001], mm[8193];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return 2;
	}
	if (chdir(dir) < 0) {
		perror(dir);
		return 2;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		must(dirs[i], mkdirat(AT_FDCWD, dirs[i], 0755) < 0 ? -errno : 0);
	for (int i = 0; i < 1000; i++)
		trunc[i] = (char)('a' + i % 26);
	trunc[1000] = '\0';
	for (int i = 0; i < 8192; i++)
		mm[i] = (char)('A' + i % 23);
	mm[8192] = '\0';
	prep_file("file.txt", "lower file content\n", 0644);
	prep_file("mode.txt", "mode\n", 0644);
	prep_file("own.txt", "own\n", 0640);
	prep_file("times.txt", "times\n", 0644);
	prep_file("trunc.txt", trunc, 0644);
	prep_file("app.txt", "app\n", 0644);
	prep_file("mm.txt", mm, 0644);
	prep_file("xa.txt", "xa\n", 0644);
	must("xa", setxattr("xa.txt", "user.lower", "1", 1, 0) < 0 ? -errno : 0);
	must("xa", setxattr("xa.txt", "user.keep", "keep", 4, 0) < 0 ? -errno : 0);
	must("xa", setxattr("xa.txt", "trusted.low", "t", 1, 0) < 0 ? -errno : 0);
	prep_file("hl.txt", "hardlink me\n", 0644);
	prep_file("pair1", "pair\n", 0644);
	must("pair2", linkat(AT_FDCWD, "pair1", AT_FDCWD, "pair2", 0) < 0 ? -errno : 0);
	prep_file("unl.txt", "unlink me\n", 0644);
	prep_file("unlopen.txt", "unlinked while open\n", 0644);
	prep_file("over.txt", "renamed over\n", 0644);
	prep_file("rofd.txt", "rofd original\n", 0644);
	prep_file("suid", "suid\n", 04755);
	prep_file("xchf", "exchange file\n", 0600);
	prep_file("ren/a", "ren a\n", 0644);
	prep_file("ren/sub/b", "ren sub b\n", 0644);
	prep_file("mvsrc/x", "mv x\n", 0644);
	prep_file("mvsrc/inner/y", "mv y\n", 0644);
	prep_file("rmd/k1", "k1\n", 0644);
	prep_file("rmd/k2", "k2\n", 0644);
	prep_file("rmd/sub/k3", "k3\n", 0644);
	prep_file("xch/c", "in xch\n", 0644);
	prep_file("rdir/gone/g", "g\n", 0644);
	must("sym", symlinkat("file.txt", AT_FDCWD, "sym") < 0 ? -errno : 0);
	must("fifo", mkfifoat(AT_FDCWD, "fifo", 0644) < 0 ? -errno : 0);
	must("fifo", fchmodat(AT_FDCWD, "fifo", 0644, 0) < 0 ? -errno : 0);
	must("dirattr", setxattr("ren", "user.dirattr", "d", 1, 0) < 0 ? -errno : 0);
	static const char *files[] = { "file.txt", "mode.txt", "own.txt", "times.txt", "trunc.txt",
				       "app.txt", "mm.txt", "xa.txt", "hl.txt", "pair1", "unl.txt",
				       "unlopen.txt", "over.txt", "rofd.txt", "suid", "xchf", "ren/a",
				       "ren/sub/b", "mvsrc/x", "mvsrc/inner/y", "rmd/k1", "rmd/k2",
				       "rmd/sub/k3", "xch/c", "rdir/gone/g", "sym", "fifo" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		must(files[i], utimensat(AT_FDCWD, files[i], T_LOWER, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0);
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		must(order[i], utimensat(AT_FDCWD, order[i], T_LOWER, 0) < 0 ? -errno : 0);
	return 0;
}

static void lower_state(void)
{
	static const char *all[] = { "file.txt", "mode.txt", "own.txt", "times.txt", "trunc.txt",
				     "app.txt", "mm.txt", "xa.txt", "hl.txt", "pair1", "pair2",
				     "unl.txt", "unlopen.txt", "over.txt", "rofd.txt", "suid", "xchf",
				     "ren", "ren/a", "ren/sub", "ren/sub/b", "mvsrc", "mvsrc/x", "dst",
				     "rmd", "rmd/sub/k3", "edir", "xch", "sym", "fifo", "rdir" };
	char n[64];
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		snprintf(n, sizeof n, "pre.%s", all[i]);
		pstat(n, AT_FDCWD, all[i]);
		snprintf(n, sizeof n, "pre.%s.mtime", all[i]);
		ptimes(n, all[i], 0);
	}
	pcontent("pre.pair2.content", AT_FDCWD, "pair2");
	pxattrs("pre.xa.txt.xattrs", "xa.txt");
	pxattrs("pre.ren.xattrs", "ren");
	list_dir("pre.list", ".");
}

static void lower_modify(void)
{
	int fd, ro;
	ro = openat(AT_FDCWD, "rofd.txt", O_RDONLY | O_CLOEXEC);
	pfdcontent("lower.rofd.before", ro);
	fd = openat(AT_FDCWD, "file.txt", O_WRONLY | O_CLOEXEC);
	report("lower.modify.open", fd < 0 ? -1 : 0, errno);
	R("lower.modify.pwrite", pwrite(fd, "XX", 2, 6));
	close(fd);
	pcontent("lower.modify.content", AT_FDCWD, "file.txt");
	pstat("lower.modify.stat", AT_FDCWD, "file.txt");
	pcontent("lower.modify.via_symlink", AT_FDCWD, "sym");
	fd = openat(AT_FDCWD, "app.txt", O_WRONLY | O_APPEND | O_CLOEXEC);
	R("lower.append", write(fd, "more\n", 5));
	close(fd);
	pcontent("lower.append.content", AT_FDCWD, "app.txt");
	/* an fd opened read-only before the copy-up sees later writes */
	fd = openat(AT_FDCWD, "rofd.txt", O_WRONLY | O_CLOEXEC);
	R("lower.rofd.write", pwrite(fd, "CHANGED", 7, 0));
	close(fd);
	pfdcontent("lower.rofd.after", ro);
	close(ro);
	fd = openat(AT_FDCWD, "trunc.txt", O_WRONLY | O_TRUNC | O_CLOEXEC);
	report("lower.otrunc", fd < 0 ? -1 : 0, errno);
	close(fd);
	pstat("lower.otrunc.stat", AT_FDCWD, "trunc.txt");
	R("lower.truncate.grow", truncate("trunc.txt", 50));
	pcontent("lower.truncate.grow.content", AT_FDCWD, "trunc.txt");
	R("lower.chmod", fchmodat(AT_FDCWD, "mode.txt", 0600, 0));
	pstat("lower.chmod.stat", AT_FDCWD, "mode.txt");
	pcontent("lower.chmod.content", AT_FDCWD, "mode.txt");
	ptimes("lower.chmod.mtime_kept", "mode.txt", 0);
	R("lower.chown", fchownat(AT_FDCWD, "own.txt", 1234, 5678, 0));
	pstat("lower.chown.stat", AT_FDCWD, "own.txt");
	ptimes("lower.chown.mtime_kept", "own.txt", 0);
	R("lower.chown_suid", fchownat(AT_FDCWD, "suid", 1, 1, 0));
	pstat("lower.chown_suid.stat", AT_FDCWD, "suid");
	R("lower.utimens", utimensat(AT_FDCWD, "times.txt",
				     (struct timespec[2]){ { T_SEC, 5 }, { T_SEC, T_NSEC } }, 0));
	ptimes("lower.utimens.times", "times.txt", 1);
	R("lower.utimens_dir", utimensat(AT_FDCWD, "dst",
					 (struct timespec[2]){ { T_SEC, 5 }, { T_SEC, T_NSEC } }, 0));
	ptimes("lower.utimens_dir.times", "dst", 0);
	/* mmap a lower file shared, write, msync, read back */
	fd = openat(AT_FDCWD, "mm.txt", O_RDWR | O_CLOEXEC);
	{
		unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		report("lower.mmap", p == MAP_FAILED ? -1 : 0, errno);
		if (p != MAP_FAILED) {
			printf("lower.mmap.byte: %c%c\n", p[0], p[8191]);
			memcpy(p + 5000, "LOWERMAP", 8);
			R("lower.mmap.msync", msync(p, 8192, MS_SYNC));
			munmap(p, 8192);
		}
	}
	close(fd);
	pcontent("lower.mmap.content", AT_FDCWD, "mm.txt");
}

static void lower_unlink_rename(void)
{
	int fd, ofd;
	R("lower.unlink", unlinkat(AT_FDCWD, "unl.txt", 0));
	pstat("lower.unlink.gone", AT_FDCWD, "unl.txt");
	R("lower.unlink.again", unlinkat(AT_FDCWD, "unl.txt", 0));
	R("lower.unlink.rename_from_gone", renameat(AT_FDCWD, "unl.txt", AT_FDCWD, "x"));
	fd = openat(AT_FDCWD, "unl.txt", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	report("lower.recreate", fd < 0 ? -1 : 0, errno);
	R("lower.recreate.write", write(fd, "new", 3));
	close(fd);
	pstat("lower.recreate.stat", AT_FDCWD, "unl.txt");
	pcontent("lower.recreate.content", AT_FDCWD, "unl.txt");
	/* unlinked while open (opened read-only, never copied up) */
	ofd = openat(AT_FDCWD, "unlopen.txt", O_RDONLY | O_CLOEXEC);
	R("lower.unlinked_open.unlink", unlinkat(AT_FDCWD, "unlopen.txt", 0));
	pfdcontent("lower.unlinked_open.content", ofd);
	pfstat("lower.unlinked_open.fstat", ofd);
	close(ofd);
	/* opened read-write (copied up), then unlinked */
	ofd = openat(AT_FDCWD, "hl.txt", O_RDWR | O_CLOEXEC);
	R("lower.hardlink", linkat(AT_FDCWD, "hl.txt", AT_FDCWD, "hl2.txt", 0));
	pstat("lower.hardlink.hl", AT_FDCWD, "hl.txt");
	pstat("lower.hardlink.hl2", AT_FDCWD, "hl2.txt");
	R("lower.hardlink.write1", pwrite(ofd, "HARD", 4, 0));
	pcontent("lower.hardlink.read2", AT_FDCWD, "hl2.txt");
	fd = openat(AT_FDCWD, "hl2.txt", O_WRONLY | O_APPEND | O_CLOEXEC);
	R("lower.hardlink.write2", write(fd, "via2\n", 5));
	close(fd);
	pcontent("lower.hardlink.read1", AT_FDCWD, "hl.txt");
	R("lower.hardlink.third", linkat(AT_FDCWD, "hl2.txt", AT_FDCWD, "dst/hl3", 0));
	pstat("lower.hardlink.third.stat", AT_FDCWD, "hl.txt");
	R("lower.hardlink.unlink1", unlinkat(AT_FDCWD, "hl.txt", 0));
	pfstat("lower.hardlink.unlink1.fstat", ofd);
	pstat("lower.hardlink.unlink1.hl2", AT_FDCWD, "hl2.txt");
	close(ofd);
	/* a hardlink pair that already is one in the lower */
	fd = openat(AT_FDCWD, "pair1", O_WRONLY | O_APPEND | O_CLOEXEC);
	R("lower.pair.write1", write(fd, "p1\n", 3));
	close(fd);
	pcontent("lower.pair.read2", AT_FDCWD, "pair2");
	pstat("lower.pair.stat2", AT_FDCWD, "pair2");
	R("lower.pair.unlink2", unlinkat(AT_FDCWD, "pair2", 0));
	pstat("lower.pair.stat1", AT_FDCWD, "pair1");
	/* rename over a lower file; noreplace; exchange with a lower dir */
	must("newover", wfile("newover", "new over\n", 0644));
	R("lower.rename_over", renameat(AT_FDCWD, "newover", AT_FDCWD, "over.txt"));
	pcontent("lower.rename_over.content", AT_FDCWD, "over.txt");
	R("lower.noreplace", renameat2(AT_FDCWD, "over.txt", AT_FDCWD, "file.txt", RENAME_NOREPLACE));
	R("lower.exchange", renameat2(AT_FDCWD, "xchf", AT_FDCWD, "xch", RENAME_EXCHANGE));
	pstat("lower.exchange.xch", AT_FDCWD, "xch");
	pstat("lower.exchange.xchf", AT_FDCWD, "xchf");
	pcontent("lower.exchange.child", AT_FDCWD, "xchf/c");
	R("lower.rename_file_over_dir", renameat(AT_FDCWD, "file.txt", AT_FDCWD, "edir"));
	R("lower.rename_dir_over_nonempty", renameat(AT_FDCWD, "edir", AT_FDCWD, "mvsrc"));
	/* rename a lower dir: no EXDEV; children follow; old name free */
	R("lower.rename_dir", renameat(AT_FDCWD, "ren", AT_FDCWD, "ren2"));
	pstat("lower.rename_dir.old", AT_FDCWD, "ren");
	pcontent("lower.rename_dir.child", AT_FDCWD, "ren2/sub/b");
	pxattrs("lower.rename_dir.xattrs", "ren2");
	list_dir("lower.rename_dir.list", "ren2");
	R("lower.rename_dir.mkdir_old", mkdirat(AT_FDCWD, "ren", 0755));
	list_dir("lower.rename_dir.old_empty", "ren");
	R("lower.rename_dir_across", renameat(AT_FDCWD, "mvsrc", AT_FDCWD, "dst/moved"));
	list_dir("lower.rename_dir_across.list", "dst/moved");
	pcontent("lower.rename_dir_across.child", AT_FDCWD, "dst/moved/inner/y");
	R("lower.rename_dir_back", renameat(AT_FDCWD, "dst/moved", AT_FDCWD, "mvsrc"));
	list_dir("lower.rename_dir_back.list", "mvsrc");
	R("lower.rename_dir_over_empty_lower", renameat(AT_FDCWD, "ren2/sub", AT_FDCWD, "edir"));
	list_dir("lower.rename_dir_over_empty_lower.list", "edir");
	R("lower.rename_into_self", renameat(AT_FDCWD, "ren2", AT_FDCWD, "ren2/a/x"));
	R("lower.rename_into_own_sub", renameat(AT_FDCWD, "mvsrc", AT_FDCWD, "mvsrc/inner/x"));
	R("lower.rename_file_across", renameat(AT_FDCWD, "ren2/a", AT_FDCWD, "dst/a"));
	pstat("lower.rename_file_across.stat", AT_FDCWD, "dst/a");
}

static void lower_dirs_xattrs(void)
{
	char v[64];
	R("lower.rmdir.enotempty", unlinkat(AT_FDCWD, "rmd", AT_REMOVEDIR));
	R("lower.rmdir.unlink_k1", unlinkat(AT_FDCWD, "rmd/k1", 0));
	R("lower.rmdir.unlink_k2", unlinkat(AT_FDCWD, "rmd/k2", 0));
	R("lower.rmdir.still_sub", unlinkat(AT_FDCWD, "rmd", AT_REMOVEDIR));
	R("lower.rmdir.unlink_k3", unlinkat(AT_FDCWD, "rmd/sub/k3", 0));
	R("lower.rmdir.sub", unlinkat(AT_FDCWD, "rmd/sub", AT_REMOVEDIR));
	list_dir("lower.rmdir.emptied", "rmd");
	R("lower.rmdir", unlinkat(AT_FDCWD, "rmd", AT_REMOVEDIR));
	pstat("lower.rmdir.gone", AT_FDCWD, "rmd");
	R("lower.rmdir.mkdir", mkdirat(AT_FDCWD, "rmd", 0700));
	list_dir("lower.rmdir.mkdir.list", "rmd");
	pstat("lower.rmdir.mkdir.stat", AT_FDCWD, "rmd");
	pstat("lower.rmdir.mkdir.old_child", AT_FDCWD, "rmd/k1");
	R("lower.rmdir.mkdir.create_old_name", mkdirat(AT_FDCWD, "rmd/sub", 0755));
	list_dir("lower.rmdir.mkdir.sub_list", "rmd/sub");
	/* replace a lower dir (with content, removed bottom-up) by a file */
	R("lower.d2f.unlink", unlinkat(AT_FDCWD, "rdir/gone/g", 0));
	R("lower.d2f.rmdir1", unlinkat(AT_FDCWD, "rdir/gone", AT_REMOVEDIR));
	R("lower.d2f.rmdir2", unlinkat(AT_FDCWD, "rdir", AT_REMOVEDIR));
	must("rdir", wfile("rdir", "now a file\n", 0644));
	pstat("lower.d2f.stat", AT_FDCWD, "rdir");
	R("lower.d2f.child", fstatat(AT_FDCWD, "rdir/gone", &(struct stat){ 0 }, 0));
	/* replace a lower file by a dir */
	R("lower.f2d.mkdir_over", mkdirat(AT_FDCWD, "app.txt", 0755));
	R("lower.f2d.unlink", unlinkat(AT_FDCWD, "app.txt", 0));
	R("lower.f2d.mkdir", mkdirat(AT_FDCWD, "app.txt", 0755));
	list_dir("lower.f2d.list", "app.txt");
	/* replace a lower symlink and fifo */
	R("lower.symlink.unlink", unlinkat(AT_FDCWD, "sym", 0));
	R("lower.symlink.new", symlinkat("over.txt", AT_FDCWD, "sym"));
	pcontent("lower.symlink.new.content", AT_FDCWD, "sym");
	R("lower.fifo.chmod", fchmodat(AT_FDCWD, "fifo", 0600, 0));
	pstat("lower.fifo.stat", AT_FDCWD, "fifo");
	/* xattrs on a lower file */
	R("lower.xattr.get", getxattr("xa.txt", "user.lower", v, sizeof v));
	R("lower.xattr.create_exists", setxattr("xa.txt", "user.lower", "2", 1, XATTR_CREATE));
	R("lower.xattr.replace", setxattr("xa.txt", "user.lower", "22", 2, XATTR_REPLACE));
	R("lower.xattr.get2", getxattr("xa.txt", "user.lower", v, sizeof v));
	R("lower.xattr.new", setxattr("xa.txt", "user.new", "n", 1, 0));
	R("lower.xattr.remove_lower", removexattr("xa.txt", "user.keep"));
	R("lower.xattr.remove_again", removexattr("xa.txt", "user.keep"));
	R("lower.xattr.remove_missing", removexattr("xa.txt", "user.never"));
	pxattrs("lower.xattr.list", "xa.txt");
	pcontent("lower.xattr.content_kept", AT_FDCWD, "xa.txt");
	ptimes("lower.xattr.mtime_kept", "xa.txt", 0);
	R("lower.xattr.dir", setxattr("ren2", "user.more", "m", 1, 0));
	pxattrs("lower.xattr.dir.list", "ren2");
	R("lower.access", faccessat(AT_FDCWD, "own.txt", R_OK | W_OK, 0));
	R("lower.access_x", faccessat(AT_FDCWD, "mode.txt", X_OK, 0));
	R("lower.link_dir", linkat(AT_FDCWD, "dst", AT_FDCWD, "dstlink", 0));
	R("lower.mkdir_over_file", mkdirat(AT_FDCWD, "file.txt", 0755));
	R("lower.unlink_dir", unlinkat(AT_FDCWD, "dst", 0));
	R("lower.rmdir_file", unlinkat(AT_FDCWD, "file.txt", AT_REMOVEDIR));
	list_dir("lower.final.list", ".");
	list_dir("lower.final.dst", "dst");
	/* rewinddir on a stream opened before changes to a merged dir */
	{
		DIR *d = fdopendir(openat(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		while (d && readdir(d) != NULL)
			;
		must("late", wfile("late", "late\n", 0644));
		R("lower.rewind.unlink", unlinkat(AT_FDCWD, "times.txt", 0));
		R("lower.rewind.rename", renameat(AT_FDCWD, "ren2", AT_FDCWD, "ren3"));
		if (d) {
			rewinddir(d);
			list_dir_fd("lower.rewind.list", d);
			closedir(d);
		}
	}
}

static int run_lower(const char *dir)
{
	if (chdir(dir) < 0) {
		perror(dir);
		return 2;
	}
	lower_state();
	lower_modify();
	lower_unlink_rename();
	lower_dirs_xattrs();
	return 0;
}

int main(int argc, char **argv)
{
	int rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (argc == 3 && !strcmp(argv[1], "--prepare"))
		rc = run_prepare(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "--lower-prepared"))
		rc = run_lower(argv[2]);
	else if (argc == 2 && argv[1][0] != '-')
		rc = run_fresh(argv[1]);
	else {
		fprintf(stderr, "usage: posix_check DIR | --prepare DIR | --lower-prepared DIR\n");
		return 2;
	}
	fflush(stdout);
	return rc;
}
