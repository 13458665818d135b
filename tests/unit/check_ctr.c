/* ctr_run: a busybox root file system written as a tar layer in memory,
 * commands run in it through the FUSE-mounted overlay; results checked
 * from outside (captured output, the upper dir, the mount table, our
 * children).  Needs root and /dev/fuse; rootless mode is tested from a
 * child that drops to uid 65534. */
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "ctr.h"
#include "testlib.h"

#define NOBODY 65534

enum img_flags {
	IMG_MOUNTPOINTS = 1 << 0, /* /proc, /dev, /sys */
	IMG_ETC = 1 << 1,	  /* /etc with passwd, group, shadow */
	IMG_ETC_FILES = 1 << 2,	  /* /etc/hosts and /etc/resolv.conf (image's own) */
	IMG_FULL = IMG_MOUNTPOINTS | IMG_ETC | IMG_ETC_FILES,
};

static lfs_layer *L;
static lfs_union *U;
static char upper[512], work[512];

static const char *const applets[] = {
    "sh",    "echo", "cat",	 "id",	 "ls", "ps",   "kill", "sleep", "env",	 "pwd", "touch",
    "mkdir", "stat", "hostname", "head", "wc", "test", "true", "tty",	"httpd", "rm"};

/* /bin/busybox: the host's static one, its bytes in the tar. */
static void write_busybox(struct archive *a)
{
	FILE *f = fopen("/bin/busybox", "re");
	ck_assert_msg(f != NULL, "/bin/busybox is missing: install busybox-static");
	char *data = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&data, &len);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(m);
	fclose(f);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "bin/busybox");
	archive_entry_set_mode(e, AE_IFREG | 0755);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, 1700000000, 0);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
	free(data);
}

static void write_image(struct archive *a, unsigned flags)
{
	static const struct tmember base[] = {
	    {'d', "bin"},
	    {'d', "tmp", 01777},
	    {'d', "data"},
	    {'f', "data/lowerfile", 0, "lower\n"},
	    {'d', "home"},
	    {'d', "home/app", 0755, NULL, 1000, 1000},
	    {'d', "srv", 0755, NULL, 0, 42},
	    {'d', "srv/app", 0777},
	};
	static const struct tmember mounts[] = {{'d', "proc"}, {'d', "dev"}, {'d', "sys"}};
	static const struct tmember etc[] = {
	    {'d', "etc"},
	    {'f', "etc/passwd", 0,
	     "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
	    {'f', "etc/group", 0, "root:x:0:\napp:x:1000:\nstaff:x:50:app\nshadow:x:42:\n"},
	    {'f', "etc/shadow", 0640, "root:*:19000:0:99999:7:::\n", 0, 42},
	};
	static const struct tmember etc_files[] = {{'f', "etc/hosts", 0, "image hosts\n"},
						   {'f', "etc/resolv.conf", 0, "image resolv\n"}};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		t_write_member(a, &base[i]);
	write_busybox(a);
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "bin/%s", applets[i]);
		struct tmember l = {'l', path, 0, "busybox"};
		t_write_member(a, &l);
	}
	for (size_t i = 0; (flags & IMG_MOUNTPOINTS) && i < 3; i++)
		t_write_member(a, &mounts[i]);
	for (size_t i = 0; (flags & IMG_ETC) && i < sizeof(etc) / sizeof(etc[0]); i++)
		t_write_member(a, &etc[i]);
	for (size_t i = 0; (flags & IMG_ETC_FILES) && i < 2; i++)
		t_write_member(a, &etc_files[i]);
}

static void open_image(unsigned flags)
{
	char *tar, *idx, *err = NULL;
	ck_assert_int_ge(asprintf(&tar, "%s/image.tar", t_dir), 0);
	ck_assert_int_ge(asprintf(&idx, "%s.idx", tar), 0);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open_filename(a, tar), ARCHIVE_OK);
	write_image(a, flags);
	archive_write_close(a);
	archive_write_free(a);
	int ret = lfs_layer_open(tar, idx, 0, &L, &err);
	ck_assert_msg(ret == 0, "lfs_layer_open: %s", err ? err : "");
	ck_assert_int_eq(lfs_union_new(&L, 1, &U), 0);
	free(tar);
	free(idx);
	snprintf(upper, sizeof(upper), "%s/upper", t_dir);
	snprintf(work, sizeof(work), "%s/work", t_dir);
	ck_assert_int_eq(mkdir(upper, 0755), 0);
	ck_assert_int_eq(mkdir(work, 0755), 0);
}

static void setup(void)
{
	t_setup();
	/* Orphans would become our children: the checks below see them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	L = NULL;
	U = NULL;
}

static void teardown(void)
{
	lfs_union_free(U);
	lfs_layer_free(L);
	t_teardown();
}

/* ------------------------------------------------------------ running */

static char *const default_env[] = {"PATH=/bin", "HOME=/root", NULL};

struct run {
	const char *user, *cwd, *hostname;
	char *const *envp;
	char *const *argv; /* NULL: /bin/sh -c script */
	enum ctr_net net;
	const struct ctr_mount *mounts;
	size_t nmounts;
	const struct ctr_port *ports;
	size_t nports;
	int stdin_fd;
	int quiet; /* stderr to /dev/null */
	int rc, status;
	char out[8192];
	error *err;
};

/* Nothing may be left: no mount under the test dir, no process (we are
 * a subreaper, so orphans would be ours), no mount point in work. */
static void assert_clean(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	while (fgets(line, sizeof(line), f))
		ck_assert_msg(!strstr(line, t_dir), "left mounted: %s", line);
	fclose(f);
	errno = 0;
	pid_t pid = waitpid(-1, NULL, WNOHANG);
	ck_assert_msg(pid == -1 && errno == ECHILD, "a process was left behind (waitpid: %d)",
		      (int)pid);
	int fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *e;
	while ((e = readdir(d)))
		ck_assert_msg(strncmp(e->d_name, "ctr-", 4), "%s left in the work dir", e->d_name);
	closedir(d);
}

/* run_ctr without the check that nothing is left (for tests that have
 * children of their own meanwhile). */
static void run_ctr_keep(struct run *r, const char *script)
{
	char *sh[] = {"/bin/sh", "-c", (char *)script, NULL};
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	struct ctr_spec s = {
	    .lower = U,
	    .upper_dir = upper,
	    .work_dir = work,
	    .argv = r->argv ? r->argv : sh,
	    .envp = r->envp ? r->envp : default_env,
	    .cwd = r->cwd,
	    .user = r->user,
	    .hostname = r->hostname,
	    .net = r->net,
	    .stdin_fd = r->stdin_fd > 0 ? r->stdin_fd : -1,
	    .stdout_fd = p[1],
	    .stderr_fd = r->quiet ? -1 : 2,
	    .mounts = r->mounts,
	    .nmounts = r->nmounts,
	    .ports = r->ports,
	    .nports = r->nports,
	};
	r->status = -1;
	r->rc = ctr_run(&s, &r->status, &r->err);
	close(p[1]);
	ssize_t n, len = 0;
	while ((n = read(p[0], r->out + len, sizeof(r->out) - 1 - (size_t)len)) > 0)
		len += n;
	r->out[len] = '\0';
	close(p[0]);
}

static void run_ctr(struct run *r, const char *script)
{
	run_ctr_keep(r, script);
	assert_clean();
}

/* Runs script as root in /, expects status 0, returns the output. */
static const char *sh_ok(const char *script)
{
	static struct run r;
	memset(&r, 0, sizeof(r));
	run_ctr(&r, script);
	ck_assert_msg(r.rc == 0, "ctr_run: %s", r.err ? r.err->msg : "?");
	ck_assert_msg(r.status == 0, "status %d, output: %s", r.status, r.out);
	return r.out;
}

static char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int upper_has(const char *rel)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", upper, rel);
	return lstat(p, &st) == 0;
}

/* ------------------------------------------------------------ tests */

START_TEST(exit_codes)
{
	open_image(IMG_FULL);
	struct run r = {0};
	run_ctr(&r, "exit 0");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(r.status, 0);
	run_ctr(&r, "exit 3");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(r.status, 3);
	run_ctr(&r, "kill -9 $$");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(r.status, 128 + 9);
}
END_TEST

START_TEST(stdout_and_stdin)
{
	open_image(IMG_FULL);
	struct run e = {.quiet = 1};
	run_ctr(&e, "echo hello; echo to-stderr >&2");
	ck_assert_str_eq(e.out, "hello\n");
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "input\n", 6), 6);
	close(p[1]);
	struct run r = {.stdin_fd = p[0]};
	run_ctr(&r, "cat");
	close(p[0]);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "input\n");
	/* no stdin given: /dev/null; no other descriptor inherited */
	ck_assert_str_eq(sh_ok("cat; ls /proc/self/fd | wc -l"), "4\n");
}
END_TEST

START_TEST(writes_reach_upper)
{
	open_image(IMG_FULL);
	sh_ok("echo new > /data/new; echo changed > /data/lowerfile; mkdir -p /a/b");
	char p[1024];
	snprintf(p, sizeof(p), "%s/data/new", upper);
	ck_assert_str_eq(read_file(p), "new\n");
	snprintf(p, sizeof(p), "%s/data/lowerfile", upper);
	ck_assert_str_eq(read_file(p), "changed\n");
	ck_assert(upper_has("a/b"));
	/* the lower is untouched */
	uint64_t id;
	char buf[64];
	ck_assert_int_eq(lfs_union_resolve(U, "data/lowerfile", 1, &id), 0);
	ssize_t n = lfs_union_read(U, id, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, 6);
	ck_assert(!memcmp(buf, "lower\n", 6));
	/* a second run sees the first one's changes */
	ck_assert_str_eq(sh_ok("cat /data/new /data/lowerfile"), "new\nchanged\n");
}
END_TEST

START_TEST(init_is_pid1)
{
	open_image(IMG_FULL);
	ck_assert_str_eq(sh_ok("echo $$; cat /proc/1/comm; grep PPid /proc/1/status"),
			 "2\nlayerfs-init\nPPid:\t0\n");
	/* the root honours set-user-ID bits, as a container's must */
	ck_assert_str_eq(sh_ok("grep '^layerfs / ' /proc/mounts | grep -q nosuid || echo suid"),
			 "suid\n");
	/* only init, the shell and ps */
	const char *ps = sh_ok("ps -o pid,comm");
	ck_assert_msg(strstr(ps, "1 layerfs-init") && !strstr(ps, "\n    4 "), "%s", ps);
}
END_TEST

START_TEST(init_reaps_and_forwards)
{
	open_image(IMG_FULL);
	/* an orphaned child becomes init's and is reaped: no zombie */
	const char *st = sh_ok("(sleep 0.1 &); sleep 0.5; cat /proc/[0-9]*/stat");
	ck_assert_msg(!strstr(st, ") Z "), "zombie: %s", st);
	/* SIGTERM to init reaches the command */
	struct run r = {0};
	run_ctr(&r, "trap 'echo term; exit 5' TERM; kill -TERM 1; sleep 5 & wait $!");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(r.status, 5);
	ck_assert_str_eq(r.out, "term\n");
}
END_TEST

START_TEST(cwd_created)
{
	open_image(IMG_FULL);
	struct run r = {.cwd = "/work/sub"};
	run_ctr(&r, "pwd");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "/work/sub\n");
	ck_assert(upper_has("work/sub"));
	struct run r2 = {.cwd = "/home/app/new", .user = "app"};
	run_ctr(&r2, "pwd; stat -c %u:%g .; touch here");
	ck_assert_msg(r2.rc == 0 && r2.status == 0, "%s", r2.err ? r2.err->msg : r2.out);
	ck_assert_str_eq(r2.out, "/home/app/new\n1000:1000\n");
}
END_TEST

START_TEST(env_exact)
{
	open_image(IMG_FULL);
	char *env[] = {"A=1", "B=two words", "PATH=/bin", NULL};
	char *argv[] = {"env", NULL}; /* found through PATH */
	struct run r = {.envp = env, .argv = argv};
	run_ctr(&r, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "A=1\nB=two words\nPATH=/bin\n");
}
END_TEST

START_TEST(user_switch)
{
	open_image(IMG_FULL);
	struct run r = {.user = "app"};
	run_ctr(&r, "id -u; id -g; id -G; echo x > /tmp/f");
	ck_assert_msg(r.rc == 0, "%s", r.err ? r.err->msg : "");
	ck_assert_str_eq(r.out, "1000\n1000\n1000 50\n");
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/tmp/f", upper);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1000);
	struct run g = {.user = "app:staff"};
	run_ctr(&g, "id -u; id -G");
	ck_assert_str_eq(g.out, "1000\n50\n");
	struct run n = {.user = "123:7"};
	run_ctr(&n, "id -u; id -g");
	ck_assert_str_eq(n.out, "123\n7\n");
	struct run u = {.user = "123"};
	run_ctr(&u, "id -g");
	ck_assert_str_eq(u.out, "0\n");
	struct run e = {.user = ":staff"};
	run_ctr(&e, "id -u; id -g");
	ck_assert_str_eq(e.out, "0\n50\n");
}
END_TEST

START_TEST(host_files_and_hostname)
{
	open_image(IMG_FULL);
	char want[8192];
	snprintf(want, sizeof(want), "%s", read_file("/etc/resolv.conf"));
	ck_assert_str_eq(sh_ok("cat /etc/resolv.conf"), want);
	snprintf(want, sizeof(want), "%s", read_file("/etc/hosts"));
	ck_assert_str_eq(sh_ok("cat /etc/hosts"), want);
	struct run r = {.quiet = 1};
	run_ctr(&r, "echo x > /etc/hosts");
	ck_assert_int_ne(r.status, 0); /* read-only */
	ck_assert_str_eq(sh_ok("hostname"), "layerfs\n");
	struct run h = {.hostname = "box"};
	run_ctr(&h, "hostname; cat /proc/sys/kernel/hostname");
	ck_assert_str_eq(h.out, "box\nbox\n");
	/* the image's own files are back, unchanged, afterwards */
	ck_assert(!upper_has("etc/hosts"));
	ck_assert(!upper_has("etc/resolv.conf"));
}
END_TEST

START_TEST(proc_and_dev)
{
	open_image(IMG_FULL);
	ck_assert_str_eq(sh_ok("test -r /proc/self/status && echo proc;"
			       "echo x > /dev/null && echo null;"
			       "head -c 5 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c;"
			       "test -c /dev/pts/ptmx && test -L /dev/ptmx && echo pts;"
			       "test -d /dev/shm && echo shm > /dev/shm/x && cat /dev/shm/x;"
			       "test -r /dev/fd/1 && echo fd;"
			       "test -d /sys/kernel && echo sys"),
			 "proc\nnull\n5\n3\npts\nshm\nfd\nsys\n");
	/* none of it reaches the upper */
	ck_assert(!upper_has("dev/shm"));
	ck_assert(!upper_has("dev"));
}
END_TEST

START_TEST(net_none)
{
	open_image(IMG_FULL);
	struct run r = {.net = CTR_NET_NONE};
	run_ctr(&r, "ls /sys/class/net; cat /sys/class/net/lo/operstate");
	ck_assert_msg(r.rc == 0, "%s", r.err ? r.err->msg : "");
	ck_assert_str_eq(r.out, "lo\nunknown\n");
}
END_TEST

START_TEST(net_private)
{
	open_image(IMG_FULL);
	struct run r = {.net = CTR_NET_PRIVATE};
	run_ctr(&r, "ls /sys/class/net; cat /sys/class/net/tap0/mtu; grep -c tap0 /proc/net/route;"
		    "head -n 1 /etc/resolv.conf");
	ck_assert_msg(r.rc == 0, "%s", r.err ? r.err->msg : "");
	/* slirp4netns's DNS: the host's may be on its loopback */
	ck_assert_str_eq(r.out, "lo\ntap0\n65520\n2\nnameserver 10.0.2.3\n");
}
END_TEST

START_TEST(errors_are_clear)
{
	open_image(IMG_FULL);
	char *missing[] = {"/bin/nope", NULL};
	struct run r = {.argv = missing};
	run_ctr(&r, NULL);
	ck_assert_int_lt(r.rc, 0);
	ck_assert_str_eq(r.err->msg, "'/bin/nope' not found in the image");
	char *nopath[] = {"nope", NULL};
	struct run p = {.argv = nopath};
	run_ctr(&p, NULL);
	ck_assert_int_lt(p.rc, 0);
	ck_assert_str_eq(p.err->msg, "'nope' not found in the image (PATH /bin)");
	struct run u = {.user = "node"};
	run_ctr(&u, "true");
	ck_assert_int_lt(u.rc, 0);
	ck_assert_str_eq(u.err->msg, "user 'node' not found in the image's /etc/passwd");
	struct run g = {.user = "app:nogroup"};
	run_ctr(&g, "true");
	ck_assert_int_lt(g.rc, 0);
	ck_assert_str_eq(g.err->msg, "group 'nogroup' not found in the image's /etc/group");
	struct run c = {.cwd = "/data/lowerfile"};
	run_ctr(&c, "true");
	ck_assert_int_lt(c.rc, 0);
	ck_assert_msg(strstr(c.err->msg, "working directory '/data/lowerfile'"), "%s", c.err->msg);
	error_free(r.err);
	error_free(p.err);
	error_free(u.err);
	error_free(g.err);
	error_free(c.err);
}
END_TEST

START_TEST(stubs_removed)
{
	/* no /proc, /dev, /sys, /etc at all */
	open_image(0);
	ck_assert_str_eq(sh_ok("ls -d /proc/1 /dev/null /sys/kernel; cat /etc/hosts >/dev/null"
			       " && echo hosts"),
			 "/dev/null\n/proc/1\n/sys/kernel\nhosts\n");
	const char *const gone[] = {"proc", "dev", "sys", "etc"};
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(!upper_has(gone[i]), "stub /%s left in the upper", gone[i]);
	/* /etc the command wrote to stays, without the stubs */
	sh_ok("echo kept > /etc/mine");
	ck_assert(upper_has("etc/mine"));
	ck_assert(!upper_has("etc/hosts"));
	ck_assert(!upper_has("etc/resolv.conf"));
	ck_assert(!upper_has("proc"));
}
END_TEST

START_TEST(stubs_in_image_etc)
{
	/* /etc exists, without hosts and resolv.conf: it must not come into
	 * the upper just for the stubs */
	open_image(IMG_MOUNTPOINTS | IMG_ETC);
	ck_assert_str_eq(sh_ok("test -f /etc/hosts && echo yes"), "yes\n");
	ck_assert(!upper_has("etc"));
	sh_ok("rm /etc/shadow");
	ck_assert(upper_has("etc"));
	ck_assert(!upper_has("etc/hosts"));
}
END_TEST

/* The command is running once it has written something: SIGINT to
 * ourselves, from ctr_run's own loop (a thread of ours running while
 * ctr_run forks is what ctr.h rules out: a sanitizer's allocator lock,
 * for one, is not fork-safe). */
static void interrupt_on_output(void *arg, const char *data, size_t len)
{
	int *sent = arg;
	(void)data;
	if (len && !*sent) {
		*sent = 1;
		kill(getpid(), SIGINT);
	}
}

/* The same for ctr_exec, through a poller (ctr.h) on the read end. */
struct interrupter {
	int fd, sent;
};

static size_t interrupter_fill(void *arg, struct pollfd *p, size_t max)
{
	struct interrupter *in = arg;
	(void)max;
	p[0] = (struct pollfd){in->sent ? -1 : in->fd, POLLIN, 0};
	return 1;
}

static void interrupter_ready(void *arg, const struct pollfd *p, size_t n)
{
	struct interrupter *in = arg;
	char buf[64];
	if (n == 1 && p[0].revents && read(in->fd, buf, sizeof(buf)) > 0)
		interrupt_on_output(&in->sent, buf, 1);
}

START_TEST(caller_interrupted)
{
	open_image(IMG_FULL);
	int p[2], sent = 0;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	char *argv[] = {"/bin/sh", "-c", "echo started; exec sleep 60", NULL};
	struct ctr_spec s = {.lower = U,
			     .upper_dir = upper,
			     .work_dir = work,
			     .argv = argv,
			     .envp = default_env,
			     .stdin_fd = -1,
			     .stdout_fd = p[1],
			     .stderr_fd = 2,
			     .output_fd = p[0],
			     .on_output = interrupt_on_output,
			     .on_output_arg = &sent};
	int status = -1;
	error *err = NULL;
	int rc = ctr_run(&s, &status, &err);
	close(p[1]);
	close(p[0]);
	ck_assert_int_eq(sent, 1);
	ck_assert_int_eq(rc, -EINTR);
	ck_assert_str_eq(err->msg, "interrupted by SIGINT: the container was stopped");
	assert_clean();
	error_free(err);
}
END_TEST

START_TEST(caller_killed)
{
	open_image(0); /* with mount stubs to remove */
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {"/bin/sh", "-c", "echo started; exec sleep 60", NULL};
		struct ctr_spec s = {.lower = U,
				     .upper_dir = upper,
				     .work_dir = work,
				     .argv = argv,
				     .envp = default_env,
				     .stdin_fd = -1,
				     .stdout_fd = p[1],
				     .stderr_fd = 2};
		int status;
		error *err = NULL;
		ctr_run(&s, &status, &err);
		_exit(0);
	}
	close(p[1]);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	kill(pid, SIGKILL);
	/* As the subreaper we inherit the run's processes: every one exits. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	assert_clean();
	ck_assert(!upper_has("proc"));
	ck_assert(!upper_has("etc"));
}
END_TEST

/* ------------------------------------------------------------ tty */

struct tty_run {
	char *const *argv;
	int slave, status, rc;
	error *err;
};

static void *tty_thread(void *arg)
{
	struct tty_run *t = arg;
	struct ctr_spec s = {.lower = U,
			     .upper_dir = upper,
			     .work_dir = work,
			     .argv = t->argv,
			     .envp = default_env,
			     .stdin_fd = t->slave,
			     .stdout_fd = t->slave,
			     .stderr_fd = t->slave,
			     .tty = 1};
	t->rc = ctr_run(&s, &t->status, &t->err);
	return NULL;
}

/* Reads the pty's master until want shows up (or 20 s pass). */
static void read_until(int master, const char *want, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	time_t t0 = time(NULL);
	while (!strstr(buf, want) && time(NULL) - t0 < 20 && len < size - 1) {
		struct pollfd p = {master, POLLIN, 0};
		if (poll(&p, 1, 1000) <= 0)
			continue;
		ssize_t n = read(master, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	ck_assert_msg(strstr(buf, want), "no '%s' on the terminal: '%s'", want, buf);
}

static void tty_start(struct tty_run *t, pthread_t *th, int *master, char *const *argv)
{
	ck_assert_int_eq(openpty(master, &t->slave, NULL, NULL, NULL), 0);
	fcntl(*master, F_SETFD, FD_CLOEXEC);
	fcntl(t->slave, F_SETFD, FD_CLOEXEC);
	t->argv = argv;
	t->status = -1;
	pthread_create(th, NULL, tty_thread, t);
}

START_TEST(tty_session)
{
	open_image(IMG_FULL);
	char *argv[] = {"/bin/sh", "-c", "tty; read x; echo got $x", NULL};
	struct tty_run t = {0};
	pthread_t th;
	int master;
	char buf[4096];
	tty_start(&t, &th, &master, argv);
	read_until(master, "/dev/console\r\n", buf, sizeof(buf));
	ck_assert_int_eq(write(master, "hello\n", 6), 6);
	read_until(master, "got hello\r\n", buf, sizeof(buf));
	pthread_join(th, NULL);
	ck_assert_msg(t.rc == 0, "%s", t.err ? t.err->msg : "");
	ck_assert_int_eq(t.status, 0);
	/* Ctrl-C typed on the terminal interrupts the command */
	char *sleeper[] = {"/bin/sh", "-c", "echo ready; exec sleep 100", NULL};
	close(master);
	close(t.slave);
	tty_start(&t, &th, &master, sleeper);
	read_until(master, "ready", buf, sizeof(buf));
	ck_assert_int_eq(write(master, "\x03", 1), 1);
	pthread_join(th, NULL);
	ck_assert_msg(t.rc == 0, "%s", t.err ? t.err->msg : "");
	ck_assert_int_eq(t.status, 130);
	close(master);
	close(t.slave);
	assert_clean();
}
END_TEST

/* ------------------------------------------------------------ on_started */

struct started {
	pid_t pid;
	char ns[64], comm[64];
};

static void on_started(void *arg, pid_t pid)
{
	struct started *st = arg;
	char p[64];
	st->pid = pid;
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	ssize_t n = readlink(p, st->ns, sizeof(st->ns) - 1);
	st->ns[n > 0 ? n : 0] = '\0';
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(p, "re");
	if (f && fgets(st->comm, sizeof(st->comm), f))
		fclose(f);
	else if (f)
		fclose(f);
}

START_TEST(started_pid)
{
	open_image(IMG_FULL);
	struct started st = {0};
	char *argv[] = {"/bin/true", NULL};
	struct ctr_spec s = {.lower = U,
			     .upper_dir = upper,
			     .work_dir = work,
			     .argv = argv,
			     .envp = default_env,
			     .stdin_fd = -1,
			     .stdout_fd = -1,
			     .stderr_fd = 2,
			     .on_started = on_started,
			     .on_started_arg = &st};
	int status = -1;
	error *err = NULL;
	ck_assert_int_eq(ctr_run(&s, &status, &err), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_gt(st.pid, 0);
	char mine[64] = "";
	ck_assert_int_gt(readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1), 0);
	ck_assert_msg(st.ns[0] && strcmp(st.ns, mine), "init's pid ns '%s', ours '%s'", st.ns,
		      mine);
	ck_assert_str_eq(st.comm, "layerfs-init\n");
	assert_clean();
}
END_TEST

/* ------------------------------------------------------------ volumes */

START_TEST(volumes)
{
	open_image(IMG_FULL);
	char vol[600], file[600], p[1024];
	snprintf(vol, sizeof(vol), "%s/vol", t_dir);
	snprintf(file, sizeof(file), "%s/vfile", t_dir);
	ck_assert_int_eq(mkdir(vol, 0755), 0);
	FILE *f = fopen(file, "we");
	fputs("host file\n", f);
	fclose(f);
	const struct ctr_mount m[] = {{vol, "/mnt/rw", 0},
				      {vol, "/ro", 1},
				      {file, "/data/f.txt", 0},
				      {vol, "/tmp", 0},
				      {file, "/dev/f.txt", 1}};
	struct run r = {.mounts = m, .nmounts = 5};
	run_ctr(&r, "echo hi > /mnt/rw/a; cat /data/f.txt /dev/f.txt; cat /ro/a; cat /tmp/a;"
		    "echo x 2>&1 > /ro/b || echo refused; touch /data/g");
	ck_assert_msg(r.rc == 0, "%s", r.err ? r.err->msg : "");
	ck_assert_msg(strstr(r.out, "host file\nhost file\nhi\nhi\n") &&
			  strstr(r.out, "Read-only file system") && strstr(r.out, "refused\n"),
		      "%s", r.out);
	snprintf(p, sizeof(p), "%s/a", vol);
	ck_assert_str_eq(read_file(p), "hi\n");
	snprintf(p, sizeof(p), "%s/b", vol);
	ck_assert_int_ne(access(p, F_OK), 0);
	/* the mount points the image lacked are gone; /data stays for /data/g */
	ck_assert(!upper_has("mnt"));
	ck_assert(!upper_has("ro"));
	ck_assert(!upper_has("data/f.txt"));
	ck_assert(!upper_has("dev")); /* /dev/f.txt's stub, and /dev copied for it */
	ck_assert(upper_has("data/g"));
	ck_assert(!upper_has("tmp")); /* the image's own, untouched */
	/* without other changes, the directories copied up for a stub go too */
	const struct ctr_mount home = {file, "/home/app/f.txt", 1};
	struct run r2 = {.mounts = &home, .nmounts = 1};
	run_ctr(&r2, "cat /home/app/f.txt; echo x 2>/dev/null > /home/app/f.txt || echo refused");
	ck_assert_str_eq(r2.out, "host file\nrefused\n");
	ck_assert(!upper_has("home"));
}
END_TEST

static void check_bad_volume(const char *src, const char *dst, const char *want)
{
	const struct ctr_mount m = {src, dst, 0};
	struct run r = {.mounts = &m, .nmounts = 1};
	run_ctr(&r, "echo started");
	ck_assert_int_lt(r.rc, 0);
	ck_assert_msg(strstr(r.err->msg, want), "%s", r.err->msg);
	ck_assert_str_eq(r.out, "");
	error_free(r.err);
}

START_TEST(volume_errors)
{
	open_image(IMG_FULL);
	check_bad_volume("/nonexistent-src", "/x", "volume source '/nonexistent-src'");
	check_bad_volume("relative", "/x", "must be absolute");
	check_bad_volume("/tmp", "/a/../b", "'..'");
	check_bad_volume("/tmp", "/", "'/'");
	/* a directory where the image has a file */
	check_bad_volume("/tmp", "/data/lowerfile", "'/data/lowerfile'");
}
END_TEST

/* Anonymous volumes: src made from the image's dst on the first run only. */
START_TEST(volumes_copy_up)
{
	open_image(IMG_FULL);
	char data[600], home[600], fresh[600], bad[600], p[1024];
	snprintf(data, sizeof(data), "%s/data_vol", t_dir);
	snprintf(home, sizeof(home), "%s/home_vol", t_dir);
	snprintf(fresh, sizeof(fresh), "%s/fresh_vol", t_dir);
	snprintf(bad, sizeof(bad), "%s/bad_vol", t_dir);
	const struct ctr_mount m[] = {
	    {data, "/data", 0, 1}, {home, "/home", 0, 1}, {fresh, "/newvol/x", 0, 1}};
	struct run r = {.mounts = m, .nmounts = 3};
	run_ctr(&r, "cat /data/lowerfile; echo w >/data/w; stat -c %u:%g:%a /home/app;"
		    "ls -a /newvol/x | wc -l");
	ck_assert_msg(r.rc == 0, "%s", r.err ? r.err->msg : "");
	ck_assert_str_eq(r.out, "lower\n1000:1000:755\n2\n");
	snprintf(p, sizeof(p), "%s/lowerfile", data);
	ck_assert_str_eq(read_file(p), "lower\n");
	snprintf(p, sizeof(p), "%s/w", data);
	ck_assert_str_eq(read_file(p), "w\n");
	struct stat st;
	snprintf(p, sizeof(p), "%s/app", home);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(st.st_uid == 1000 && st.st_gid == 1000 && (st.st_mode & 07777) == 0755);
	ck_assert_int_eq(lstat(fresh, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* the volume's content is not in the upper; the stub made for it is gone */
	ck_assert(!upper_has("data/w"));
	ck_assert(!upper_has("newvol"));
	/* a second run keeps the volume as the first one left it */
	snprintf(p, sizeof(p), "%s/lowerfile", data);
	FILE *f = fopen(p, "we");
	fputs("changed\n", f);
	fclose(f);
	struct run r2 = {.mounts = m, .nmounts = 1};
	run_ctr(&r2, "cat /data/lowerfile /data/w");
	ck_assert_str_eq(r2.out, "changed\nw\n");
	/* an image file at the path: an error, and no volume made */
	const struct ctr_mount file = {bad, "/data/lowerfile", 0, 1};
	struct run r3 = {.mounts = &file, .nmounts = 1};
	run_ctr(&r3, "echo started");
	ck_assert_int_lt(r3.rc, 0);
	ck_assert_msg(strstr(r3.err->msg, "VOLUME '/data/lowerfile' is not a directory"), "%s",
		      r3.err->msg);
	ck_assert_str_eq(r3.out, "");
	ck_assert_int_ne(access(bad, F_OK), 0);
	error_free(r3.err);
}
END_TEST

/* ------------------------------------------------------------ exec */

static void write_pid(void *arg, pid_t pid)
{
	ck_assert_int_eq(write(*(int *)arg, &pid, sizeof(pid)), sizeof(pid));
}

static int count_fds(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Init announces itself before it starts the command: waits until its
 * child has run execve (its name is no longer init's). */
static void wait_command(pid_t init)
{
	char path[96], comm[64] = "layerfs-init\n";
	for (time_t t0 = time(NULL); !strcmp(comm, "layerfs-init\n") && time(NULL) - t0 < 20;) {
		int child = 0;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
		FILE *f = fopen(path, "re");
		if (f && fscanf(f, "%d", &child) == 1) {
			snprintf(path, sizeof(path), "/proc/%d/comm", child);
			FILE *c = fopen(path, "re");
			if (!c || !fgets(comm, sizeof(comm), c))
				snprintf(comm, sizeof(comm), "layerfs-init\n");
			if (c)
				fclose(c);
		}
		if (f)
			fclose(f);
		if (!strcmp(comm, "layerfs-init\n"))
			usleep(10000);
	}
}

/* A forked child runs script in a container; returns the container's
 * init pid once it runs, *runner: the child (its exit code: ctr_run's
 * status, 101 when it failed). */
static pid_t start_container(const char *script, const struct ctr_spec *tmpl, pid_t *runner)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	*runner = fork();
	if (*runner == 0) {
		close(p[0]);
		char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
		struct ctr_spec s = *tmpl;
		s.lower = U;
		s.upper_dir = upper;
		s.work_dir = work;
		s.argv = argv;
		s.envp = default_env;
		s.stdin_fd = -1;
		s.stdout_fd = -1;
		s.stderr_fd = 2;
		s.on_started = write_pid;
		s.on_started_arg = &p[1];
		int status = -1, fds = count_fds(getpid());
		error *err = NULL;
		if (ctr_run(&s, &status, &err) < 0) {
			fprintf(stderr, "ctr_run: %s\n", err->msg);
			_exit(101);
		}
		if (count_fds(getpid()) != fds) {
			fprintf(stderr, "ctr_run leaked descriptors: %d, then %d\n", fds,
				count_fds(getpid()));
			_exit(102);
		}
		_exit(status);
	}
	close(p[1]);
	pid_t pid = 0;
	ck_assert_int_eq(read(p[0], &pid, sizeof(pid)), sizeof(pid));
	close(p[0]);
	wait_command(pid);
	return pid;
}

/* Stops the container the way the CLI does (SIGKILL to its init) and
 * returns the runner's exit code. */
static int stop_container(pid_t init, pid_t runner)
{
	int ws = 0;
	kill(init, SIGKILL);
	ck_assert_int_eq(waitpid(runner, &ws, 0), runner);
	assert_clean();
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static int exec_sh(pid_t init, const char *user, const char *script, char *out, size_t size,
		   error **err)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	struct ctr_exec_spec es = {.argv = argv,
				   .envp = default_env,
				   .user = user,
				   .stdin_fd = -1,
				   .stdout_fd = p[1],
				   .stderr_fd = 2};
	int status = -1, rc = ctr_exec(init, &es, &status, err);
	close(p[1]);
	ssize_t n, len = 0;
	while ((n = read(p[0], out + len, size - 1 - (size_t)len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	return rc < 0 ? rc : status;
}

START_TEST(exec_joins)
{
	open_image(IMG_FULL);
	struct ctr_spec tmpl = {.hostname = "box"};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	char out[4096];
	error *err = NULL;
	int rc = exec_sh(init, NULL, "cat /proc/1/comm; hostname; echo $$; touch /x; id -u", out,
			 sizeof(out), &err);
	ck_assert_msg(rc == 0, "%d %s", rc, err ? err->msg : out);
	/* init is 1, sleep 2: the shell is the third of the PID namespace */
	ck_assert_str_eq(out, "layerfs-init\nbox\n3\n0\n");
	ck_assert(upper_has("x"));
	rc = exec_sh(init, NULL, "ps -o pid,comm", out, sizeof(out), &err);
	ck_assert_int_eq(rc, 0);
	/* only the container's processes: init, sleep, ps */
	ck_assert_msg(!strncmp(out, "PID   COMMAND\n    1 layerfs-init\n    2 sleep\n", 43) &&
			  strstr(out + 43, " ps\n") && !strchr(strstr(out + 43, " ps\n") + 4, '\n'),
		      "%s", out);
	rc = exec_sh(init, "app", "id -u; id -G; exit 4", out, sizeof(out), &err);
	ck_assert_int_eq(rc, 4);
	ck_assert_str_eq(out, "1000\n1000 50\n");
	rc = exec_sh(init, "nope", "true", out, sizeof(out), &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_str_eq(err->msg, "user 'nope' not found in the image's /etc/passwd");
	error_free(err);
	err = NULL;
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
	/* the container is gone */
	rc = exec_sh(init, NULL, "true", out, sizeof(out), &err);
	ck_assert_int_eq(rc, -ESRCH);
	char want[128];
	snprintf(want, sizeof(want), "no container is running with init pid %d", (int)init);
	ck_assert_str_eq(err->msg, want);
	error_free(err);
}
END_TEST

struct tty_exec {
	pid_t init;
	int slave, status, rc;
	error *err;
};

static void *tty_exec_thread(void *arg)
{
	struct tty_exec *t = arg;
	char *argv[] = {"/bin/sh", "-c", "test -t 0 && echo isatty; read x; echo got $x; sleep 100",
			NULL};
	struct ctr_exec_spec es = {.argv = argv,
				   .envp = default_env,
				   .stdin_fd = t->slave,
				   .stdout_fd = t->slave,
				   .stderr_fd = t->slave,
				   .tty = 1};
	t->rc = ctr_exec(t->init, &es, &t->status, &t->err);
	return NULL;
}

START_TEST(exec_tty)
{
	open_image(IMG_FULL);
	struct ctr_spec tmpl = {0};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	struct tty_exec t = {.init = init, .status = -1};
	int master;
	char buf[4096];
	ck_assert_int_eq(openpty(&master, &t.slave, NULL, NULL, NULL), 0);
	fcntl(master, F_SETFD, FD_CLOEXEC);
	fcntl(t.slave, F_SETFD, FD_CLOEXEC);
	pthread_t th;
	pthread_create(&th, NULL, tty_exec_thread, &t);
	read_until(master, "isatty\r\n", buf, sizeof(buf));
	ck_assert_int_eq(write(master, "there\n", 6), 6);
	read_until(master, "got there\r\n", buf, sizeof(buf));
	ck_assert_int_eq(write(master, "\x03", 1), 1); /* Ctrl-C ends sleep 100 */
	pthread_join(th, NULL);
	close(master);
	close(t.slave);
	ck_assert_msg(t.rc == 0, "%s", t.err ? t.err->msg : "");
	ck_assert_int_eq(t.status, 130);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
}
END_TEST

START_TEST(exec_interrupted)
{
	open_image(IMG_FULL);
	struct ctr_spec tmpl = {0};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	struct interrupter in = {p[0], 0};
	struct ctr_poller pl = {interrupter_fill, interrupter_ready, NULL, &in};
	char *argv[] = {"/bin/sh", "-c", "echo started; exec sleep 60", NULL};
	struct ctr_exec_spec es = {.argv = argv,
				   .envp = default_env,
				   .stdin_fd = -1,
				   .stdout_fd = p[1],
				   .stderr_fd = 2,
				   .poller = &pl};
	int status = -1;
	error *err = NULL;
	int rc = ctr_exec(init, &es, &status, &err);
	close(p[1]);
	close(p[0]);
	ck_assert_int_eq(in.sent, 1);
	ck_assert_int_eq(rc, -EINTR);
	error_free(err);
	err = NULL;
	/* the exec'd command is gone, the container runs on */
	char out[4096];
	ck_assert_int_eq(exec_sh(init, NULL, "ps -o pid,stat,args", out, sizeof(out), &err), 0);
	ck_assert_msg(strstr(out, "sleep 100") && !strstr(out, "sleep 60"), "%s", out);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
}
END_TEST

static void read_all(int s, char *out, size_t size);

START_TEST(exec_permission)
{
	open_image(IMG_FULL);
	struct ctr_spec tmpl = {0};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char out[256];
		error *err = NULL;
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		int rc = exec_sh(init, NULL, "true", out, sizeof(out), &err);
		dprintf(p[1], "%d %s", rc, err ? err->msg : "");
		_exit(0);
	}
	close(p[1]);
	char msg[512];
	read_all(p[0], msg, sizeof(msg));
	waitpid(pid, NULL, 0);
	char want[256];
	snprintf(want, sizeof(want),
		 "%d cannot join the container of pid %d: permission denied: run as the user who "
		 "started it, or as root",
		 -EACCES, (int)init);
	ck_assert_str_eq(msg, want);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
}
END_TEST

/* ------------------------------------------------------------ ports */

static unsigned free_port(int type)
{
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int connect_port(unsigned port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_msg(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0, "connect to %u: %s", port,
		      strerror(errno));
	return s;
}

static void read_all(int s, char *out, size_t size)
{
	ssize_t n;
	size_t len = 0;
	while ((n = read(s, out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(s);
}

static const char get[] = "GET / HTTP/1.0\r\n\r\n";

static void http_get(unsigned port, char *out, size_t size)
{
	int s = connect_port(port);
	ck_assert_int_eq(write(s, get, sizeof(get) - 1), sizeof(get) - 1);
	read_all(s, out, size);
}

/* The runner's child named comm (the port proxy). */
static pid_t find_child(pid_t parent, const char *comm)
{
	DIR *d = opendir("/proc");
	pid_t found = 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char p[300], line[512], name[64];
		int pid, ppid;
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(p, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%d (%63[^)]) %*c %d", &pid, name, &ppid) == 3 && ppid == parent &&
		    !strcmp(name, comm))
			found = pid;
		fclose(f);
	}
	closedir(d);
	return found;
}

/* pid's descriptor count once it is want, or after 10 s. */
static int settled_fds(pid_t pid, int want)
{
	int n = count_fds(pid);
	for (time_t t0 = time(NULL); n != want && time(NULL) - t0 < 10; n = count_fds(pid))
		usleep(20000);
	return n;
}

START_TEST(ports_published)
{
	open_image(IMG_FULL);
	unsigned port = free_port(SOCK_STREAM);
	struct ctr_port p = {.host_ip = "127.0.0.1", .host_port = port, .ctr_port = 80};
	struct ctr_spec tmpl = {.net = CTR_NET_PRIVATE, .ports = &p, .nports = 1};
	pid_t runner, init = start_container("mkdir /www && echo hello > /www/index.html && "
					     "exec httpd -f -p 80 -h /www",
					     &tmpl, &runner);
	char out[4096] = "";
	/* httpd gives no sign that it listens: ask until it answers */
	for (time_t t0 = time(NULL); !strstr(out, "hello") && time(NULL) - t0 < 20;) {
		http_get(port, out, sizeof(out));
		if (!strstr(out, "hello"))
			usleep(20000);
	}
	ck_assert_msg(strstr(out, "200 OK") && strstr(out, "\r\n\r\nhello\n"), "%s", out);
	pid_t proxy = find_child(runner, "layerfs-proxy");
	ck_assert_int_gt(proxy, 0);
	/* the proxy holds stderr, the listening socket and the helper's, no more
	 * once the connections it copies for are closed */
	ck_assert_int_eq(settled_fds(proxy, 3), 3);
	int c[50];
	for (int i = 0; i < 50; i++)
		c[i] = connect_port(port);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(write(c[i], get, sizeof(get) - 1), sizeof(get) - 1);
	for (int i = 0; i < 50; i++) {
		read_all(c[i], out, sizeof(out));
		ck_assert_msg(strstr(out, "\r\n\r\nhello\n"), "connection %d: %s", i, out);
	}
	/* clients that go away: right after connecting, in the middle of a request */
	for (int i = 0; i < 20; i++) {
		int s = connect_port(port);
		if (i % 2)
			ck_assert_int_eq(write(s, get, 5), 5);
		close(s);
	}
	ck_assert_int_eq(settled_fds(proxy, 3), 3);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
	/* the port is free again */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_ne(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);
}
END_TEST

START_TEST(port_in_use)
{
	open_image(IMG_FULL);
	unsigned port = free_port(SOCK_STREAM);
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	struct ctr_port p = {.host_port = port, .ctr_port = 80};
	struct run r = {.net = CTR_NET_PRIVATE, .ports = &p, .nports = 1};
	run_ctr(&r, "echo started");
	close(s);
	ck_assert_int_eq(r.rc, -EADDRINUSE);
	char want[128];
	snprintf(want, sizeof(want), "cannot publish port %u/tcp: 0.0.0.0:%u is already in use",
		 port, port);
	ck_assert_str_eq(r.err->msg, want);
	ck_assert_str_eq(r.out, "");
	error_free(r.err);
	/* ports need the private network */
	struct run h = {.ports = &p, .nports = 1};
	run_ctr(&h, "echo started");
	ck_assert_int_lt(h.rc, 0);
	ck_assert_str_eq(h.err->msg, "ports can only be published with a private network");
	error_free(h.err);
}
END_TEST

/* A UDP echo server for count datagrams on 127.0.0.1:port inside the
 * network namespace of pid (a forked child of ours); returns its pid once
 * it is bound. */
static pid_t udp_echo_in(pid_t pid, unsigned port, int count)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t child = fork();
	if (child == 0) {
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		int ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
			_exit(1);
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || write(p[1], "b", 1) != 1)
			_exit(2);
		for (int i = 0; i < count; i++) {
			struct sockaddr_in from;
			socklen_t len = sizeof(from);
			ssize_t n =
			    recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
			if (n < 0 ||
			    sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, len) != n)
				_exit(3);
		}
		_exit(0);
	}
	close(p[1]);
	char b;
	ck_assert_int_eq(read(p[0], &b, 1), 1);
	close(p[0]);
	return child;
}

static void udp_ask(int s, unsigned port, const char *msg)
{
	char buf[512];
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a)),
			 (ssize_t)strlen(msg));
	struct pollfd p = {s, POLLIN, 0};
	ck_assert_msg(poll(&p, 1, 10000) == 1, "no UDP answer to '%s'", msg);
	ssize_t n = recv(s, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, msg);
}

START_TEST(udp_port)
{
	open_image(IMG_FULL);
	unsigned port = free_port(SOCK_DGRAM);
	struct ctr_port p = {.host_ip = "127.0.0.1", .host_port = port, .ctr_port = 5353, .udp = 1};
	struct ctr_spec tmpl = {.net = CTR_NET_PRIVATE, .ports = &p, .nports = 1};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	pid_t echo = udp_echo_in(init, 5353, 4);
	/* two clients, each answered on its own address */
	int a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	udp_ask(a, port, "one");
	udp_ask(b, port, "two");
	udp_ask(a, port, "three");
	udp_ask(b, port, "four");
	close(a);
	close(b);
	int ws;
	ck_assert_int_eq(waitpid(echo, &ws, 0), echo);
	ck_assert_int_eq(ws, 0);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
}
END_TEST

/* The host's first IPv4 address that is not a loopback one, or 0. */
static int host_ip(char *out, size_t size)
{
	struct ifaddrs *ifs, *i;
	int found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !(i->ifa_flags & IFF_LOOPBACK))
			found = inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  out, (socklen_t)size) != NULL;
	freeifaddrs(ifs);
	return found;
}

START_TEST(net_outbound)
{
	open_image(IMG_FULL);
	char ip[64], script[256], buf[64] = "";
	if (!host_ip(ip, sizeof(ip))) {
		puts("check_ctr: net_outbound: the host has no address but loopback: not tested");
		return;
	}
	/* the container reaches the host through slirp4netns's NAT */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	snprintf(script, sizeof(script), "echo ping | nc %s %u", ip, ntohs(a.sin_port));
	pid_t pid = fork();
	if (pid == 0) {
		alarm(30); /* the container never called */
		int conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		ssize_t n = conn < 0 ? -1 : read(conn, buf, sizeof(buf));
		_exit(n == 5 && !memcmp(buf, "ping\n", 5) ? 0 : 1);
	}
	close(s);
	struct run r = {.net = CTR_NET_PRIVATE};
	run_ctr_keep(&r, script);
	int ws;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	assert_clean();
	ck_assert_msg(r.rc == 0 && r.status == 0, "%s", r.err ? r.err->msg : r.out);
	ck_assert_int_eq(ws, 0);
}
END_TEST

START_TEST(caller_killed_private)
{
	open_image(IMG_FULL);
	unsigned port = free_port(SOCK_STREAM);
	struct ctr_port p = {.host_ip = "127.0.0.1", .host_port = port, .ctr_port = 80};
	struct ctr_spec tmpl = {.net = CTR_NET_PRIVATE, .ports = &p, .nports = 1};
	pid_t runner, init = start_container("exec sleep 100", &tmpl, &runner);
	ck_assert_int_gt(find_child(runner, "layerfs-proxy"), 0);
	ck_assert_int_gt(find_child(runner, "slirp4netns"), 0);
	kill(runner, SIGKILL);
	/* As the subreaper we inherit the run's processes: every one exits,
	 * slirp4netns and the proxy too. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	assert_clean();
	ck_assert_int_ne(kill(init, 0), 0);
	/* the port is free */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);
}
END_TEST

/* ------------------------------------------------------------ rootless */

/* Runs script as uid NOBODY (a forked child) with /dev/fuse at fuse_mode;
 * the mode is put back before anything is asserted. */
static int run_rootless(mode_t fuse_mode, const char *user, const char *script, char *out,
			size_t size)
{
	struct stat st;
	ck_assert_int_eq(stat("/dev/fuse", &st), 0);
	ck_assert_int_eq(chmod("/dev/fuse", fuse_mode), 0);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
		struct ctr_spec s = {.lower = U,
				     .upper_dir = upper,
				     .work_dir = work,
				     .argv = argv,
				     .envp = default_env,
				     .user = user,
				     .stdin_fd = -1,
				     .stdout_fd = p[1],
				     .stderr_fd = 2};
		int status = -1;
		error *err = NULL;
		if (ctr_run(&s, &status, &err) < 0) {
			dprintf(p[1], "error: %s", err->msg);
			_exit(101);
		}
		_exit(status);
	}
	close(p[1]);
	ssize_t n, len = 0;
	while ((n = read(p[0], out + len, size - 1 - (size_t)len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	int ws;
	waitpid(pid, &ws, 0);
	chmod("/dev/fuse", st.st_mode & 07777);
	assert_clean();
	ck_assert_msg(WIFEXITED(ws), "rootless child killed by %d", WTERMSIG(ws));
	return WEXITSTATUS(ws);
}

static void rootless_dirs(void)
{
	ck_assert_int_eq(chmod(t_dir, 0755), 0);
	ck_assert_int_eq(chown(upper, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chown(work, NOBODY, NOBODY), 0);
}

START_TEST(rootless_run)
{
	open_image(IMG_FULL);
	rootless_dirs();
	char out[4096];
	int rc = run_rootless(0666, NULL,
			      "id -u; echo hi > /f; cat /f; touch /srv/app/x && echo srv;"
			      "stat -c %u:%g /srv",
			      out, sizeof(out));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	/* /srv's group, 42, is not mapped here: it shows as the overflow id */
	ck_assert_str_eq(out, "0\nhi\nsrv\n0:65534\n");
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/f", upper);
	ck_assert_str_eq(read_file(p), "hi\n");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	/* /srv, copied up for the new file below it, keeps its group 42 in
	 * the override (the chown the namespace refused) */
	snprintf(p, sizeof(p), "%s/srv", upper);
	char v[64] = "";
	ck_assert_int_gt(lgetxattr(p, "user.containers.override_stat", v, sizeof(v) - 1), 0);
	ck_assert_str_eq(v, "0:42:0755");
	snprintf(p, sizeof(p), "%s/srv/app/x", upper);
	ck_assert_int_eq(lstat(p, &st), 0);
	/* a chown the kernel does carry out replaces the recorded owner */
	rc = run_rootless(0666, NULL, "chgrp 0 /srv && stat -c %u:%g /srv", out, sizeof(out));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_str_eq(out, "0:0\n");
	snprintf(p, sizeof(p), "%s/srv", upper);
	memset(v, 0, sizeof(v));
	ck_assert_int_gt(lgetxattr(p, "user.containers.override_stat", v, sizeof(v) - 1), 0);
	ck_assert_str_eq(v, "0:0:0755");
	ck_assert_int_eq(run_rootless(0666, NULL, "exit 7", out, sizeof(out)), 7);
}
END_TEST

/* Subordinate ids: a range for NOBODY is appended to /etc/subuid and
 * /etc/subgid for the test, and their exact contents put back before
 * anything is asserted.  A machine that already gives NOBODY a range is
 * left alone (and this is not tested). */
#define SUB_START 300000

static const char *const sub_files[] = {"/etc/subuid", "/etc/subgid"};
static char *sub_saved[2];
static size_t sub_len[2];
static int sub_existed[2];

static int subids_add(void)
{
	if (access("/usr/bin/newuidmap", X_OK) || access("/usr/bin/newgidmap", X_OK))
		return 0;
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(sub_files[i], "re");
		sub_existed[i] = f != NULL;
		sub_saved[i] = NULL;
		sub_len[i] = 0;
		FILE *m = open_memstream(&sub_saved[i], &sub_len[i]);
		char line[256];
		while (f && fgets(line, sizeof(line), f))
			fputs(line, m);
		fclose(m);
		if (f)
			fclose(f);
		if (strstr(sub_saved[i], "nobody:") || strstr(sub_saved[i], "65534:"))
			return 0;
	}
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(sub_files[i], "ae");
		ck_assert_msg(f != NULL, "%s: %s", sub_files[i], strerror(errno));
		fprintf(f, "%snobody:%d:65536\n",
			sub_len[i] && sub_saved[i][sub_len[i] - 1] != '\n' ? "\n" : "", SUB_START);
		fclose(f);
	}
	return 1;
}

static void subids_restore(void)
{
	for (int i = 0; i < 2; i++) {
		if (!sub_existed[i]) {
			unlink(sub_files[i]);
		} else {
			FILE *f = fopen(sub_files[i], "we");
			if (f) {
				fwrite(sub_saved[i], 1, sub_len[i], f);
				fclose(f);
			}
		}
		free(sub_saved[i]);
	}
}

START_TEST(rootless_subids)
{
	open_image(IMG_FULL);
	rootless_dirs();
	if (!subids_add()) {
		puts("check_ctr: rootless_subids: no newuidmap, or a range for nobody in "
		     "/etc/subuid already: not tested");
		return;
	}
	char out[4096], app[4096];
	int rc = run_rootless(0666, NULL,
			      "id -u; cat /proc/self/uid_map | wc -l; echo x >> /etc/shadow && "
			      "echo shadow",
			      out, sizeof(out));
	int rc_app = run_rootless(0666, "app", "id -u; id -G; touch /tmp/a", app, sizeof(app));
	subids_restore();
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_str_eq(out, "0\n2\nshadow\n");
	ck_assert_msg(rc_app == 0, "exit %d: %s", rc_app, app);
	ck_assert_str_eq(app, "1000\n1000 50\n");
	/* on the host: container id N > 0 is SUB_START + N - 1 */
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/tmp/a", upper);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, SUB_START + 999);
	ck_assert_uint_eq(st.st_gid, SUB_START + 999);
	snprintf(p, sizeof(p), "%s/etc/shadow", upper);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	ck_assert_uint_eq(st.st_gid, SUB_START + 41);
}
END_TEST

START_TEST(rootless_errors)
{
	open_image(IMG_FULL);
	rootless_dirs();
	char out[4096];
	ck_assert_int_eq(run_rootless(0600, NULL, "true", out, sizeof(out)), 101);
	ck_assert_str_eq(out, "error: /dev/fuse: Permission denied: make it usable by your user "
			      "(chmod 0666 /dev/fuse) or run as root");
	ck_assert_int_eq(run_rootless(0666, "app", "true", out, sizeof(out)), 101);
	ck_assert_msg(strstr(out, "user 'app' (uid 1000, gid 1000) does not exist in this "
				  "rootless container") &&
			  strstr(out, "/etc/subuid"),
		      "%s", out);
}
END_TEST

/* As NOBODY: volumes (one read-only), a published port, exec into the
 * running container. */
static void rootless_container(const char *vol, unsigned port)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(100);
	const struct ctr_mount m[] = {{vol, "/vol", 0}, {vol, "/ro", 1}};
	const struct ctr_port p = {.host_ip = "127.0.0.1", .host_port = port, .ctr_port = 80};
	struct ctr_spec tmpl = {
	    .net = CTR_NET_PRIVATE, .ports = &p, .nports = 1, .mounts = m, .nmounts = 2};
	pid_t runner, init = start_container("echo hi > /vol/a; mkdir /www; echo hello > "
					     "/www/index.html; exec httpd -f -p 80 -h /www",
					     &tmpl, &runner);
	char out[4096] = "";
	error *err = NULL;
	for (time_t t0 = time(NULL); !strstr(out, "hello") && time(NULL) - t0 < 20;) {
		http_get(port, out, sizeof(out));
		if (!strstr(out, "hello"))
			usleep(20000);
	}
	ck_assert_msg(strstr(out, "\r\n\r\nhello\n"), "%s", out);
	int rc = exec_sh(init, NULL,
			 "cat /vol/a; id -u; touch /y; touch /ro/z 2>/dev/null || echo ro;"
			 "ps -o comm",
			 out, sizeof(out), &err);
	ck_assert_msg(rc == 0, "%d %s", rc, err ? err->msg : out);
	ck_assert_msg(!strncmp(out, "hi\n0\nro\nCOMMAND\nlayerfs-init\nhttpd\n", 35) &&
			  !strstr(out, "check_ctr") && !strstr(out, "slirp") &&
			  !strstr(out, "proxy"),
		      "%s", out);
	ck_assert_int_eq(stop_container(init, runner), 128 + 9);
	_exit(0);
}

START_TEST(rootless_exec_volume_port)
{
	open_image(IMG_FULL);
	rootless_dirs();
	char vol[600], a[700];
	snprintf(vol, sizeof(vol), "%s/vol", t_dir);
	ck_assert_int_eq(mkdir(vol, 0755), 0);
	ck_assert_int_eq(chown(vol, NOBODY, NOBODY), 0);
	unsigned port = free_port(SOCK_STREAM);
	struct stat st, tun;
	ck_assert_int_eq(stat("/dev/fuse", &st), 0);
	ck_assert_int_eq(stat("/dev/net/tun", &tun), 0);
	ck_assert_int_eq(chmod("/dev/fuse", 0666), 0);
	ck_assert_int_eq(chmod("/dev/net/tun", 0666), 0);
	pid_t pid = fork();
	if (pid == 0)
		rootless_container(vol, port);
	int ws;
	waitpid(pid, &ws, 0);
	chmod("/dev/fuse", st.st_mode & 07777);
	chmod("/dev/net/tun", tun.st_mode & 07777);
	assert_clean();
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "rootless child: %#x", ws);
	snprintf(a, sizeof(a), "%s/a", vol);
	ck_assert_int_eq(stat(a, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	ck_assert(upper_has("y"));
	ck_assert(!upper_has("vol"));
}
END_TEST

static Suite *ctr_suite(void)
{
	Suite *s = suite_create("ctr");
	TCase *tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, stdout_and_stdin);
	tcase_add_test(tc, writes_reach_upper);
	tcase_add_test(tc, init_is_pid1);
	tcase_add_test(tc, init_reaps_and_forwards);
	tcase_add_test(tc, cwd_created);
	tcase_add_test(tc, env_exact);
	tcase_add_test(tc, user_switch);
	tcase_add_test(tc, host_files_and_hostname);
	tcase_add_test(tc, proc_and_dev);
	tcase_add_test(tc, net_none);
	tcase_add_test(tc, net_private);
	tcase_add_test(tc, errors_are_clear);
	tcase_add_test(tc, stubs_removed);
	tcase_add_test(tc, stubs_in_image_etc);
	tcase_add_test(tc, caller_interrupted);
	tcase_add_test(tc, caller_killed);
	tcase_add_test(tc, tty_session);
	tcase_add_test(tc, started_pid);
	tcase_add_test(tc, volumes);
	tcase_add_test(tc, volume_errors);
	tcase_add_test(tc, volumes_copy_up);
	tcase_add_test(tc, exec_joins);
	tcase_add_test(tc, exec_interrupted);
	tcase_add_test(tc, exec_tty);
	tcase_add_test(tc, exec_permission);
	tcase_add_test(tc, ports_published);
	tcase_add_test(tc, port_in_use);
	tcase_add_test(tc, udp_port);
	tcase_add_test(tc, caller_killed_private);
	tcase_add_test(tc, net_outbound);
	tcase_add_test(tc, rootless_run);
	tcase_add_test(tc, rootless_subids);
	tcase_add_test(tc, rootless_errors);
	tcase_add_test(tc, rootless_exec_volume_port);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		puts("check_ctr: needs root (namespaces, chmod of /dev/fuse); skipped");
		return 77;
	}
	SRunner *sr = srunner_create(ctr_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
