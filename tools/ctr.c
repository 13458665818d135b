/* ctr — running a command in a container: the caller's side (ctr_run) and
 * the holder process (see ctr_i.h for the process tree). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr_i.h"
#include "fuse_ll.h"
#include "ovl.h"
#include "util.h"

/* ------------------------------------------------------------ status pipe */

/* One record: code, message length, message — at most PIPE_BUF bytes, so
 * that the write is atomic and records of several writers never mix. */
struct record {
	int32_t code;
	uint32_t len;
	char msg[PIPE_BUF - 2 * sizeof(uint32_t)];
};

void ctr_report(const struct ctr_ctx *c, const error *err)
{
	struct record r = {.code = err->code};
	r.len = (uint32_t)strnlen(err->msg, sizeof(r.msg));
	memcpy(r.msg, err->msg, r.len);
	ssize_t n = write(c->status_fd, &r, offsetof(struct record, msg) + r.len);
	(void)n; /* nobody left to tell */
}

_Noreturn void ctr_die(const struct ctr_ctx *c, error *err, int status)
{
	ctr_report(c, err);
	_exit(status);
}

/* The first record the children sent, or NULL.  Never blocks: called once
 * the holder has exited, when every record is in the pipe. */
static error *read_report(int fd)
{
	cleanup_buf lfs_buf b = LFS_BUF_INIT;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		lfs_buf_grow(&b, PIPE_BUF);
		ssize_t n = read(fd, b.data + b.len, PIPE_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		lfs_buf_setlen(&b, b.len + (size_t)n);
	}
	struct record r;
	if (b.len < offsetof(struct record, msg))
		return NULL;
	memcpy(&r, b.data, offsetof(struct record, msg));
	size_t len = r.len < b.len - offsetof(struct record, msg)
			 ? r.len
			 : b.len - offsetof(struct record, msg);
	error *e = NULL;
	error_fail(&e, r.code, "%.*s", (int)len, b.data + offsetof(struct record, msg));
	return e;
}

/* ------------------------------------------------------------ the holder */

static long read_sysctl(const char *path)
{
	cleanup_file FILE *f = fopen(path, "re");
	long v;
	return f && fscanf(f, "%ld", &v) == 1 ? v : -1;
}

static int userns_error(error **err, int e)
{
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return error_fail(err, e,
				  "user namespaces are disabled: sysctl "
				  "kernel.unprivileged_userns_clone=1, or run as root");
	if (read_sysctl("/proc/sys/user/max_user_namespaces") == 0)
		return error_fail(
		    err, e,
		    "user namespaces are disabled: sysctl user.max_user_namespaces=15000, "
		    "or run as root");
	if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
		return error_fail(err, e,
				  "unprivileged user namespaces are restricted by AppArmor: sysctl "
				  "kernel.apparmor_restrict_unprivileged_userns=0, or run as root");
	return error_make(err, e, "cannot create a user namespace");
}

/* Rootless: a user namespace whose id maps the caller writes (it may need
 * the set-uid newuidmap), synchronised through sync_fd. */
static int enter_userns(struct ctr_ctx *c, error **err)
{
	/* The caller opens our /proc/PID/uid_map: it must belong to us. */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER) < 0)
		return userns_error(err, errno);
	char b = 'u';
	if (write(c->sync_fd, &b, 1) != 1 || read(c->sync_fd, &b, 1) != 1)
		return error_fail(err, EIO, "the user namespace's id maps were not set up");
	return 0;
}

/* CTR_NET_NONE: the new network namespace's loopback, up. */
static int loopback_up(error **err)
{
	cleanup_fd int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	memcpy(ifr.ifr_name, "lo", 3);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return error_make(err, errno, "cannot find the container's loopback interface");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return error_make(err, errno, "cannot bring up the container's loopback interface");
	return 0;
}

/* CTR_NET_PRIVATE: the port helper, then slirp4netns, which the caller
 * starts on our network namespace while we mount the root (net_ready
 * waits for it before the command starts). */
static int private_net(struct ctr_ctx *c, error **err)
{
	int ret = ctr_net_helper(c, err);
	char b = 'n';
	if (ret < 0)
		return ret;
	if (write(c->sync_fd, &b, 1) != 1)
		return error_fail(err, EIO, "the container's network was not set up");
	return 0;
}

/* The caller's go: slirp4netns configured the network (private only). */
static int net_ready(struct ctr_ctx *c, error **err)
{
	if (c->spec->net != CTR_NET_PRIVATE)
		return 0;
	char b;
	ssize_t n;
	while ((n = read(c->sync_fd, &b, 1)) < 0 && errno == EINTR)
		;
	close(steal_fd(&c->sync_fd));
	return n == 1 ? 0 : error_fail(err, EIO, "the container's network was not set up");
}

static int enter_namespaces(struct ctr_ctx *c, error **err)
{
	int ret = c->rootless ? enter_userns(c, err) : 0;
	if (ret < 0)
		return ret;
	/* If the caller dies, the container is stopped and unmounted. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != c->caller)
		return error_fail(err, ESRCH, "the caller exited before the container started");
	int net = c->spec->net == CTR_NET_NONE || c->spec->net == CTR_NET_PRIVATE;
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (net ? CLONE_NEWNET : 0)) < 0)
		return error_make(err, errno,
				  "cannot create the container's namespaces (mount, UTS, IPC%s)",
				  net ? ", network" : "");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return error_make(err, errno,
				  "cannot make the container's mount namespace private");
	const char *host = c->spec->hostname ? c->spec->hostname : "layerfs";
	if (sethostname(host, strlen(host)) < 0)
		return error_make(err, errno, "cannot set the container's hostname '%s'", host);
	ret = net ? loopback_up(err) : 0;
	if (ret >= 0 && c->spec->net == CTR_NET_PRIVATE)
		ret = private_net(c, err);
	else if (c->sync_fd >= 0)
		close(steal_fd(&c->sync_fd));
	return ret;
}

struct server_arg {
	const struct ctr_ctx *c;
	pid_t holder;
};

/* In the server, once detached: it must react to SIGTERM (libfuse's
 * handler unmounts), hold none of the run's pipes or the command's stdio,
 * and unmount when the holder dies. */
static void server_started(void *arg)
{
	const struct server_arg *a = arg;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(a->c->status_fd);
	if (a->c->started_fd >= 0)
		close(a->c->started_fd);
	const int stdio[] = {a->c->spec->stdin_fd, a->c->spec->stdout_fd, a->c->spec->stderr_fd};
	for (int i = 0; i < 3; i++)
		if (stdio[i] > 2)
			close(stdio[i]);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != a->holder)
		raise(SIGTERM);
}

/* Mounts the overlay on c->mnt; the server is a child of this process,
 * in its mount namespace. */
static int start_server(struct ctr_ctx *c, error **err)
{
	const struct ctr_spec *s = c->spec;
	lfs_ovl *ovl = NULL;
	char *msg = NULL;
	int r = lfs_ovl_new(s->lower, s->upper_dir, s->work_dir, 1, &ovl, &msg);
	if (r < 0) {
		error_fail(err, -r, "%s", msg);
		free(msg);
		return r;
	}
	struct server_arg a = {c, getpid()};
	struct lfs_fuse_opts o = {.allow_other = 1,
				  .suid = 1, /* su, sudo, ping in the image work */
				  .fsname = "layerfs",
				  .on_mounted = server_started,
				  .on_mounted_arg = &a};
	r = lfs_fuse_serve(s->lower, ovl, c->mnt, &o, &msg);
	if (getpid() != a.holder)
		_exit(r == 0 ? 0 : 1); /* the server, after the unmount */
	if (r < 0)
		error_fail(err, -r, "%s", msg ? msg : strerror(-r));
	free(msg);
	lfs_ovl_free(ovl); /* our copy: the server has its own */
	return r < 0 ? r : 0;
}

static int make_stubs(struct ctr_ctx *c, error **err)
{
	cleanup_fd int root = open(c->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return error_make(err, errno, "cannot open the container's root '%s'", c->mnt);
	return ctr_stubs_make(c, root, err);
}

int ctr_wait_child(pid_t pid, const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL), ws;
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
			kill(pid, SIGKILL);
		if (sig != SIGCHLD)
			continue;
		if (waitpid(pid, &ws, WNOHANG) == pid)
			return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	}
}

static int run_init(struct ctr_ctx *c, const sigset_t *set, error **err)
{
	if (unshare(CLONE_NEWPID) < 0)
		return error_make(err, errno, "cannot create the container's PID namespace");
	pid_t pid = fork();
	if (pid < 0)
		return error_make(err, errno, "cannot start the container's init");
	if (pid == 0)
		ctr_init(c);
	close(steal_fd(&c->started_fd)); /* init's only: its death hangs it up */
	return ctr_wait_child(pid, set);
}

/* Unmounts the root and reaps the server: once it has exited, every
 * write has reached the upper dir.  The mount point goes too (the caller
 * may be gone). */
static void stop_server(const struct ctr_ctx *c)
{
	if (umount2(c->mnt, 0) < 0 && errno == EBUSY)
		umount2(c->mnt, MNT_DETACH);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	rmdir(c->mnt);
}

_Noreturn void ctr_holder(struct ctr_ctx *c)
{
	error *err = NULL;
	int code = 1, mounted = 0;
	/* Blocked, these are queued even where the caller ignores them: the
	 * parent-death SIGTERM is never lost. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* The caller passes the terminal's signals on (sig_proxy): Ctrl-C
	 * must not stop us (or the FUSE server) behind its back. */
	if (c->spec->sig_proxy)
		setpgid(0, 0);
	if (enter_namespaces(c, &err) >= 0 && start_server(c, &err) >= 0) {
		mounted = 1;
		int ret = make_stubs(c, &err);
		if (ret >= 0)
			ret = net_ready(c, &err);
		if (ret >= 0)
			ret = run_init(c, &set, &err);
		code = ret < 0 ? 1 : ret;
	}
	if (err)
		ctr_report(c, err);
	if (c->port_helper > 0) {
		kill(c->port_helper, SIGKILL);
		waitpid(c->port_helper, NULL, 0);
	}
	if (mounted) {
		stop_server(c);
		ctr_stubs_remove(c);
	}
	if (c->resolv)
		unlink(c->resolv); /* the caller may be gone */
	_exit(code);
}

/* ------------------------------------------------------------ the caller */

struct subid {
	unsigned long start, count;
};

struct run {
	struct ctr_ctx c;
	int status_rd;	/* read end of the status pipe */
	int started_rd; /* our end of init's socket (SO_PASSCRED) */
	int sync_fd;	/* rootless: our end of the id-map handshake */
	int helpers;	/* map with newuidmap/newgidmap */
	struct subid subuid, subgid;
	char newuidmap[32], newgidmap[32];
	sigset_t sigs, old_mask;
	struct sigaction old_chld;
	struct ctr_netstate net; /* CTR_NET_PRIVATE */
	int init_seen;		 /* init's message came on started_rd */
	int init_fd;		 /* sig_proxy: a pidfd of init, once it runs */
	sigset_t pending;	 /* sig_proxy: signals that came before init */
};

/* The caller's range in /etc/subuid or /etc/subgid: both are keyed by
 * user name or uid (as newuidmap and newgidmap read them). */
static int subid_find(const char *file, const char *name, unsigned id, struct subid *out)
{
	cleanup_file FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	char idstr[16];
	snprintf(idstr, sizeof(idstr), "%u", id);
	while (f && getline(&line, &cap, f) > 0) {
		char *save, *who = strtok_r(line, ":\n", &save);
		char *start = strtok_r(NULL, ":\n", &save), *count = strtok_r(NULL, ":\n", &save);
		if (!who || !start || !count || (strcmp(who, name) && strcmp(who, idstr)))
			continue;
		out->start = strtoul(start, NULL, 10);
		out->count = strtoul(count, NULL, 10);
		if (out->count)
			return 1;
	}
	return 0;
}

static int find_tool(const char *name, char *out, size_t size)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, size, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* 1 when the caller has ranges in /etc/subuid and /etc/subgid and
 * newuidmap/newgidmap are there to map them (r->subuid, r->subgid, the
 * tools' paths). */
static int plan_subids(struct run *r)
{
	char buf[1024];
	struct passwd pw, *res = NULL;
	getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res);
	const char *name = res ? res->pw_name : "";
	return subid_find("/etc/subuid", name, getuid(), &r->subuid) &&
	       subid_find("/etc/subgid", name, getuid(), &r->subgid) &&
	       find_tool("newuidmap", r->newuidmap, sizeof(r->newuidmap)) &&
	       find_tool("newgidmap", r->newgidmap, sizeof(r->newgidmap));
}

/* Rootless: /dev/fuse must be usable, and the id maps are chosen. */
static int plan_rootless(struct run *r, error **err)
{
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		if (errno == ENOENT)
			return error_fail(
			    err, ENODEV,
			    "/dev/fuse is missing: install the fuse3 package and load the "
			    "fuse kernel module (modprobe fuse)");
		return error_fail(
		    err, errno,
		    "/dev/fuse: %s: make it usable by your user (chmod 0666 /dev/fuse) "
		    "or run as root",
		    strerror(errno));
	}
	if (r->c.spec->net == CTR_NET_PRIVATE && access("/dev/net/tun", R_OK | W_OK) < 0)
		return error_fail(
		    err, errno,
		    "/dev/net/tun: %s: slirp4netns needs it for the private network: "
		    "make it usable by your user (chmod 0666 /dev/net/tun) or run as root",
		    strerror(errno));
	r->helpers = plan_subids(r);
	r->c.single_id = !r->helpers;
	return 0;
}

static int run_helper(const char *tool, pid_t pid, unsigned id, const struct subid *s, error **err)
{
	char a[4][24];
	snprintf(a[0], sizeof(a[0]), "%d", (int)pid);
	snprintf(a[1], sizeof(a[1]), "%u", id);
	snprintf(a[2], sizeof(a[2]), "%lu", s->start);
	snprintf(a[3], sizeof(a[3]), "%lu", s->count);
	char *argv[] = {(char *)tool, a[0], "0", a[1], "1", "1", a[2], a[3], NULL};
	char *envp[] = {NULL};
	pid_t child, w;
	int ws = 0, e = posix_spawn(&child, tool, NULL, NULL, argv, envp);
	if (e)
		return error_make(err, e, "cannot run %s", tool);
	while ((w = waitpid(child, &ws, 0)) < 0 && errno == EINTR)
		;
	if (w < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws))
		return error_fail(err, EPERM,
				  "%s %s failed: check your ranges in /etc/subuid and /etc/subgid",
				  tool, a[0]);
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *data, error **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(data);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		return error_make(err, errno, "cannot write %s", path);
	return 0;
}

/* Container uid/gid 0 is the caller; with a subordinate range, 1..N are
 * the range, else only 0 exists (and setgroups is denied, as the kernel
 * requires for an unprivileged gid map). */
static int write_maps(struct run *r, pid_t pid, error **err)
{
	if (r->helpers) {
		int ret = run_helper(r->newuidmap, pid, getuid(), &r->subuid, err);
		return ret < 0 ? ret : run_helper(r->newgidmap, pid, getgid(), &r->subgid, err);
	}
	char map[32];
	int ret = write_proc(pid, "setgroups", "deny", err);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getuid());
	if (ret >= 0)
		ret = write_proc(pid, "uid_map", map, err);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getgid());
	return ret < 0 ? ret : write_proc(pid, "gid_map", map, err);
}

/* Whether the holder has exited (not reaped: its report is read later). */
static bool holder_gone(pid_t pid)
{
	siginfo_t si = {0};
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* The go after a handshake step; a holder that failed meanwhile (it goes
 * on mounting the root while slirp4netns starts) has its own report. */
static int resume(struct run *r, pid_t pid, int ret, error **err)
{
	if (ret >= 0 && write(r->sync_fd, "g", 1) != 1)
		ret = errno == EPIPE
			  ? 0
			  : error_make(err, errno, "cannot resume the container process");
	if (ret < 0 && holder_gone(pid)) {
		error_free(*err);
		*err = NULL;
		return 0;
	}
	return ret;
}

static int map_ids(struct run *r, pid_t pid, error **err)
{
	char b;
	ssize_t n;
	while ((n = read(r->sync_fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return 0; /* the holder failed first: its report says why */
	return resume(r, pid, write_maps(r, pid, err), err);
}

/* CTR_NET_PRIVATE: once the holder is in its network namespace,
 * slirp4netns and the port proxy. */
static int net_sync(struct run *r, pid_t pid, error **err)
{
	char b;
	ssize_t n;
	while ((n = read(r->sync_fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return 0; /* the holder failed first: its report says why */
	return resume(r, pid, ctr_net_start(&r->net, r->c.spec, pid, err), err);
}

/* Until the holder exits, SIGINT/SIGTERM/SIGHUP (with sig_proxy also
 * SIGQUIT/SIGUSR1/SIGUSR2) are taken from a signalfd unless the caller
 * ignores them, and SIGCHLD is not ignored. */
static void signals_block(struct run *r)
{
	static const int stop[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	size_t n = r->c.spec->sig_proxy ? sizeof(stop) / sizeof(stop[0]) : 3;
	struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;
	sigemptyset(&r->sigs);
	sigemptyset(&r->pending);
	for (size_t i = 0; i < n; i++)
		if (sigaction(stop[i], NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
			sigaddset(&r->sigs, stop[i]);
	pthread_sigmask(SIG_BLOCK, &r->sigs, &r->old_mask);
	sigaction(SIGCHLD, &dfl, &r->old_chld);
}

static void signals_restore(struct run *r)
{
	sigaction(SIGCHLD, &r->old_chld, NULL);
	pthread_sigmask(SIG_SETMASK, &r->old_mask, NULL);
}

/* Hands what output_fd holds to on_output; 0 at EOF or when nothing is
 * there (non-blocking), else 1. */
static int pump_output(const struct ctr_spec *s)
{
	char buf[16384];
	ssize_t n = read(s->output_fd, buf, sizeof(buf));
	if (n > 0)
		s->on_output(s->on_output_arg, buf, (size_t)n);
	return n > 0 || (n < 0 && errno == EINTR);
}

/* sig_proxy: sig goes to init, which passes it to the command; before
 * init runs, it waits in r->pending.  A pidfd, so that a signal that
 * comes after init has gone cannot hit a reused pid. */
static void proxy_signal(struct run *r, int sig)
{
	if (r->init_fd < 0)
		sigaddset(&r->pending, sig);
	else
		syscall(SYS_pidfd_send_signal, r->init_fd, sig, NULL, 0);
}

static void proxy_start(struct run *r, pid_t init)
{
	if (!r->c.spec->sig_proxy)
		return;
	r->init_fd = (int)syscall(SYS_pidfd_open, init, 0);
	for (int sig = 1; sig < NSIG && r->init_fd >= 0; sig++)
		if (sigismember(&r->pending, sig) == 1)
			proxy_signal(r, sig);
}

/* Init said it runs: its pid, as the kernel translated it for us. */
static void started(struct run *r)
{
	char b, cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {&b, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(r->started_rd, &m, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&m) : NULL;
	if (n <= 0 || r->init_seen) {
		/* Hung up: init (and with it every process of the container)
		 * is gone, or never ran.  The network is not needed any more:
		 * slirp4netns and the proxy go while the holder unmounts. */
		close(steal_fd(&r->started_rd));
		ctr_net_halt(&r->net);
		return;
	}
	r->init_seen = 1;
	if (!cm || cm->cmsg_type != SCM_CREDENTIALS)
		return;
	struct ucred cred;
	memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
	proxy_start(r, cred.pid);
	if (r->c.spec->on_started)
		r->c.spec->on_started(r->c.spec->on_started_arg, cred.pid);
}

/* Returns 0 with *ws, or -errno; *caught: the first signal the caller got. */
static int wait_holder(struct run *r, pid_t pid, int *ws, int *caught)
{
	const struct ctr_spec *s = r->c.spec;
	const struct ctr_poller *pl = s->poller;
	cleanup_fd int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	cleanup_fd int sfd = signalfd(-1, &r->sigs, SFD_CLOEXEC);
	int out = s->on_output ? s->output_fd : -1;
	if (out >= 0)
		fcntl(out, F_SETFL, fcntl(out, F_GETFL) | O_NONBLOCK);
	while (pfd >= 0 && sfd >= 0) {
		struct pollfd p[4 + CTR_POLL_MAX] = {{pfd, POLLIN, 0},
						     {sfd, POLLIN, 0},
						     {r->started_rd, POLLIN, 0},
						     {out, POLLIN, 0}};
		size_t n = pl ? pl->fill(pl->arg, p + 4, CTR_POLL_MAX) : 0;
		if (poll(p, 4 + n, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			started(r);
		if (out >= 0 && (p[3].revents & (POLLIN | POLLHUP)) && !pump_output(s))
			out = -1; /* EOF: every writer is gone */
		if (n)
			pl->ready(pl->arg, p + 4, n);
		struct signalfd_siginfo si;
		if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (s->sig_proxy) {
				proxy_signal(r, (int)si.ssi_signo);
				continue;
			}
			if (!*caught)
				*caught = (int)si.ssi_signo;
			kill(pid, SIGTERM);
		}
		if (p[0].revents)
			break;
	}
	while (out >= 0 && pump_output(s))
		;
	if (pl && pl->drain)
		pl->drain(pl->arg);
	while (waitpid(pid, ws, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int run_result(struct run *r, int ret, int ws, int caught, int *status, error **err)
{
	error *child = read_report(r->status_rd);
	if (ret < 0 || child) {
		if (ret >= 0) {
			*err = child;
			return child->code > 0 ? -child->code : -1;
		}
		error_free(child);
		return ret;
	}
	if (caught)
		return error_fail(err, EINTR, "interrupted by SIG%s: the container was stopped",
				  sigabbrev_np(caught));
	if (WIFSIGNALED(ws))
		return error_fail(err, EIO,
				  "the container's holder process was killed by signal %d",
				  WTERMSIG(ws));
	*status = WEXITSTATUS(ws);
	return 0;
}

static int run_holder(struct run *r, int *status, error **err)
{
	signals_block(r);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		signals_restore(r);
		return error_make(err, e, "cannot start the container process");
	}
	if (pid == 0) {
		close(r->status_rd);
		close(r->started_rd);
		ctr_net_close(&r->net);
		if (r->sync_fd >= 0)
			close(r->sync_fd);
		ctr_holder(&r->c);
	}
	close(steal_fd(&r->c.status_fd));
	close(steal_fd(&r->c.started_fd));
	if (r->c.sync_fd >= 0)
		close(steal_fd(&r->c.sync_fd));
	if (r->c.port_fd >= 0)
		close(steal_fd(&r->c.port_fd));
	int ret = r->c.rootless ? map_ids(r, pid, err) : 0;
	if (ret >= 0 && r->c.spec->net == CTR_NET_PRIVATE)
		ret = net_sync(r, pid, err);
	if (r->sync_fd >= 0)
		close(steal_fd(&r->sync_fd)); /* without a go, the holder gives up */
	int ws = 0, caught = 0, w = wait_holder(r, pid, &ws, &caught);
	ctr_net_stop(&r->net);
	signals_restore(r);
	if (ret >= 0 && w < 0)
		ret = error_make(err, -w, "cannot wait for the container process");
	return run_result(r, ret, ws, caught, status, err);
}

static int above_stdio(int fd);
static void run_release(struct run *r);

int ctr_supervise(const struct ctr_ctx *c, ctr_child_fn *child, const void *arg, int *status,
		  error **err)
{
	struct run r = {.c = *c,
			.status_rd = -1,
			.started_rd = -1,
			.sync_fd = -1,
			.init_fd = -1,
			.net = {.helper = -1, .slirp_exit = -1}};
	r.c.status_fd = r.c.sync_fd = r.c.started_fd = r.c.port_fd = -1;
	r.c.mnt = NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_make(err, errno, "cannot create a pipe");
	r.status_rd = above_stdio(p[0]);
	r.c.status_fd = above_stdio(p[1]);
	int ret = 0;
	if (r.status_rd < 0 || r.c.status_fd < 0)
		ret = error_make(err, errno, "cannot set up the status pipe");
	signals_block(&r);
	pid_t pid = ret < 0 ? -1 : fork();
	if (pid == 0) {
		close(r.status_rd);
		child(&r.c, arg);
		_exit(127);
	}
	if (ret >= 0 && pid < 0)
		ret = error_make(err, errno, "cannot start a process");
	close(steal_fd(&r.c.status_fd));
	int ws = 0, caught = 0, w = pid > 0 ? wait_holder(&r, pid, &ws, &caught) : 0;
	signals_restore(&r);
	if (ret >= 0 && w < 0)
		ret = error_make(err, -w, "cannot wait for the process in the container");
	if (pid > 0)
		ret = run_result(&r, ret, ws, caught, status, err);
	run_release(&r);
	return ret;
}

/* Moves fd above the standard ones, so that the command's stdio set-up
 * never overwrites it. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return moved;
}

static int make_pipes(struct run *r, error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_make(err, errno, "cannot create a pipe");
	r->status_rd = above_stdio(p[0]);
	r->c.status_fd = above_stdio(p[1]);
	int one = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		return error_make(err, errno, "cannot create a socket pair");
	r->started_rd = above_stdio(p[0]);
	r->c.started_fd = above_stdio(p[1]);
	if (setsockopt(r->started_rd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return error_make(err, errno, "cannot set up the container's start socket");
	if (r->c.rootless || r->c.spec->net == CTR_NET_PRIVATE) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			return error_make(err, errno, "cannot create a socket pair");
		r->sync_fd = above_stdio(p[0]);
		r->c.sync_fd = above_stdio(p[1]);
	}
	if (r->status_rd < 0 || r->c.status_fd < 0 || r->started_rd < 0 || r->c.started_fd < 0 ||
	    ((r->c.rootless || r->c.spec->net == CTR_NET_PRIVATE) && r->c.sync_fd < 0))
		return error_make(err, errno, "cannot set up the container's pipes");
	return 0;
}

/* CTR_NET_PRIVATE: the host's name servers may be on its loopback, out
 * of reach: the container asks slirp4netns's DNS, with the host's search
 * domains and options. */
static int private_resolv(struct run *r, error **err)
{
	cleanup_file FILE *host = fopen("/etc/resolv.conf", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	r->c.resolv = lfs_xasprintf("%s/ctr-resolv.XXXXXX", r->c.spec->work_dir);
	int fd = mkostemp(r->c.resolv, O_CLOEXEC);
	if (fd < 0) {
		free(steal_pointer(&r->c.resolv));
		return error_make(err, errno, "cannot create a resolv.conf in work dir '%s'",
				  r->c.spec->work_dir);
	}
	cleanup_file FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return error_make(err, errno, "cannot write '%s'", r->c.resolv);
	}
	fchmod(fd, 0644); /* for every user of the container */
	fputs("nameserver 10.0.2.3\n", f);
	while (host && getline(&line, &cap, host) > 0)
		if (!strncmp(line, "search", 6) || !strncmp(line, "domain", 6) ||
		    !strncmp(line, "options", 7))
			fputs(line, f);
	if (fflush(f) != 0)
		return error_make(err, errno, "cannot write '%s'", r->c.resolv);
	r->c.host_resolv = 1;
	return 0;
}

static int prepare(struct run *r, error **err)
{
	const struct ctr_spec *s = r->c.spec;
	r->c.host_resolv = access("/etc/resolv.conf", R_OK) == 0;
	r->c.host_hosts = access("/etc/hosts", R_OK) == 0;
	r->c.mnt = lfs_xasprintf("%s/ctr-root.XXXXXX", s->work_dir);
	if (!mkdtemp(r->c.mnt)) {
		int e = errno;
		free(steal_pointer(&r->c.mnt));
		return error_make(err, e, "cannot create the root's mount point in work dir '%s'",
				  s->work_dir);
	}
	int ret = make_pipes(r, err);
	if (ret >= 0 && s->net == CTR_NET_PRIVATE)
		ret = ctr_net_prepare(&r->net, s, &r->c.port_fd, err);
	if (ret >= 0 && s->net == CTR_NET_PRIVATE)
		ret = private_resolv(r, err);
	return ret;
}

/* A volume's paths: absolute, the destination without "." or ".." (its
 * stubs are recorded by path) and not the root itself. */
static int check_mount(const struct ctr_mount *m, error **err)
{
	struct stat st;
	if (!m->src || m->src[0] != '/' || !m->dst || m->dst[0] != '/')
		return error_fail(err, EINVAL, "volume '%s:%s': both paths must be absolute",
				  m->src ? m->src : "", m->dst ? m->dst : "");
	if (stat(m->src, &st) < 0 && !(m->copy_up && errno == ENOENT))
		return error_make(err, errno, "volume source '%s'", m->src);
	cleanup_free char *d = lfs_xstrdup(m->dst);
	int parts = 0;
	for (char *save, *n = strtok_r(d, "/", &save); n; n = strtok_r(NULL, "/", &save), parts++)
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			return error_fail(err, EINVAL, "volume destination '%s' has '%s' in it",
					  m->dst, n);
	if (!parts)
		return error_fail(err, EINVAL, "a volume cannot be mounted at '/'");
	return 0;
}

static int check_spec(const struct ctr_spec *s, error **err)
{
	if (!s->argv || !s->argv[0] || !*s->argv[0])
		return error_fail(err, EINVAL, "no command to run");
	if (s->cwd && s->cwd[0] != '/')
		return error_fail(err, EINVAL, "working directory '%s' is not an absolute path",
				  s->cwd);
	if (!s->upper_dir || !s->work_dir)
		return error_fail(err, EINVAL, "no upper or work directory for the container");
	for (size_t i = 0; i < s->nmounts; i++)
		if (check_mount(&s->mounts[i], err) < 0)
			return -EINVAL;
	char slirp[64];
	if (s->nports && s->net != CTR_NET_PRIVATE)
		return error_fail(err, EINVAL,
				  "ports can only be published with a private network");
	if (s->net == CTR_NET_PRIVATE && !ctr_net_have_slirp(slirp, sizeof(slirp)))
		return error_fail(err, ENOENT,
				  "slirp4netns is not installed: install the slirp4netns package "
				  "for a private network");
	return 0;
}

static void run_release(struct run *r)
{
	const int fds[] = {r->status_rd,  r->sync_fd,	   r->c.status_fd, r->c.sync_fd,
			   r->started_rd, r->c.started_fd, r->init_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ctr_net_stop(&r->net);
	if (r->c.port_fd >= 0)
		close(r->c.port_fd);
	if (r->c.mnt)
		rmdir(r->c.mnt);
	if (r->c.resolv)
		unlink(r->c.resolv);
	free(r->c.resolv);
	free(r->c.mnt);
}

int ctr_run(const struct ctr_spec *spec, int *status, error **err)
{
	struct run r = {
	    .c = {.spec = spec,
		  .rootless = geteuid() != 0,
		  .status_fd = -1,
		  .sync_fd = -1,
		  .started_fd = -1,
		  .port_fd = -1,
		  .caller = getpid()},
	    .status_rd = -1,
	    .started_rd = -1,
	    .sync_fd = -1,
	    .init_fd = -1,
	    .net = {.helper = -1, .slirp_exit = -1},
	};
	int ret = check_spec(spec, err);
	if (ret >= 0 && r.c.rootless)
		ret = plan_rootless(&r, err);
	if (ret >= 0)
		ret = prepare(&r, err);
	if (ret >= 0)
		ret = run_holder(&r, status, err);
	run_release(&r);
	return ret;
}

/* ------------------------------------------------------------ ctr_userns_call */

static _Noreturn void userns_child(int sync, int (*fn)(void *arg), void *arg)
{
	char b = 'u';
	/* newuidmap opens our /proc/PID files: they must be ours. */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER) < 0 || write(sync, &b, 1) != 1 || read(sync, &b, 1) != 1 ||
	    b != 'g')
		_exit(255);
	int ret = fn(arg);
	_exit(ret < 0 && -ret < 255 ? -ret : ret < 0 ? EIO : 0);
}

/* fn(arg) in a child in a new user namespace mapped as r says. */
static int userns_run(struct run *r, int (*fn)(void *arg), void *arg, error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return error_make(err, errno, "cannot create a socket pair");
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		userns_child(sv[1], fn, arg);
	}
	close(sv[1]);
	r->sync_fd = sv[0];
	int ret = pid < 0 ? error_make(err, errno, "cannot start a process") : 0;
	char b;
	ssize_t n = 0;
	while (ret >= 0 && (n = read(r->sync_fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (ret >= 0 && n != 1)
		ret = userns_error(err, EPERM);
	if (ret >= 0)
		ret = write_maps(r, pid, err);
	if (ret >= 0 && write(r->sync_fd, "g", 1) != 1)
		ret = error_make(err, errno, "cannot resume the process in the user namespace");
	close(r->sync_fd);
	int ws = 0;
	while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (ret < 0)
		return ret;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) == 255)
		return error_fail(err, EIO, "the process in the user namespace failed");
	return -WEXITSTATUS(ws);
}

int ctr_userns_call(int (*fn)(void *arg), void *arg, error **err)
{
	struct run r = {.sync_fd = -1};
	if (!plan_subids(&r))
		return error_fail(err, EPERM,
				  "no user namespace with your subordinate ids: give your user "
				  "ranges in /etc/subuid and /etc/subgid and install newuidmap "
				  "(package uidmap)");
	r.helpers = 1;
	return userns_run(&r, fn, arg, err);
}

/* ctr_as_container's call in the child: fn's message goes back through a
 * shared page. */
struct as_call {
	int (*fn)(void *arg, error **err);
	void *arg;
	char *msg; /* MSG_MAX bytes shared with the parent */
	int *code; /* fn's errno, shared */
};
#define MSG_MAX 2048

static int as_call_fn(void *arg)
{
	struct as_call *c = arg;
	error *e = NULL;
	int r = c->fn(c->arg, &e);
	if (r < 0 && e) {
		snprintf(c->msg, MSG_MAX, "%s", e->msg);
		*c->code = e->code;
	}
	error_free(e);
	return r < 0 ? -EIO : 0;
}

int ctr_as_container(int (*fn)(void *arg, error **err), void *arg, error **err)
{
	if (getuid() == 0)
		return fn(arg, err);
	struct run r = {.sync_fd = -1};
	r.helpers = plan_subids(&r);
	char *shared = mmap(NULL, MSG_MAX + sizeof(int), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return error_make(err, errno, "cannot map a page to share with a child");
	shared[0] = '\0';
	int *code = (int *)(void *)(shared + MSG_MAX);
	*code = 0;
	struct as_call c = {fn, arg, shared, code};
	int ret = userns_run(&r, as_call_fn, &c, err);
	if (ret < 0 && shared[0]) {
		error_free(*err);
		*err = NULL;
		ret = error_fail(err, *code, "%s", shared);
	} else if (ret < 0 && !*err) {
		ret = error_make(err, -ret, "in the container's user namespace");
	}
	munmap(shared, MSG_MAX + sizeof(int));
	return ret < 0 ? -1 : 0;
}
