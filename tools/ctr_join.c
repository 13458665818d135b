/* ctr_join — `layerfs exec`: a command in the namespaces and root of a
 * running container.  The caller opens the container's namespaces and
 * root through /proc/PID (so that a stopped container is an error of the
 * caller's); a child joins them and forks the command, which is then
 * inside the container's PID namespace. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr_i.h"
#include "util.h"

/* In joining order: the user namespace first (it grants the rights over
 * the others), PID last (it applies to children only). */
static const struct {
	const char *name;
	int type;
} ns_list[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},  {"uts", CLONE_NEWUTS},
	       {"ipc", CLONE_NEWIPC},	{"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}};
#define NS_COUNT (sizeof(ns_list) / sizeof(ns_list[0]))

struct join {
	pid_t pid;
	int ns[NS_COUNT]; /* -1: the same as ours, not joined */
	int root;
};

static void join_release(struct join *j)
{
	for (size_t i = 0; i < NS_COUNT; i++)
		if (j->ns[i] >= 0)
			close(j->ns[i]);
	if (j->root >= 0)
		close(j->root);
}

static int join_error(error **err, pid_t pid, int e)
{
	if (e == ENOENT || e == ESRCH)
		return error_fail(err, ESRCH, "no container is running with init pid %d", (int)pid);
	if (e == EACCES || e == EPERM)
		return error_fail(err, e,
				  "cannot join the container of pid %d: permission denied: run "
				  "as the user who started it, or as root",
				  (int)pid);
	return error_make(err, e, "cannot open the namespaces of the container of pid %d",
			  (int)pid);
}

/* Guards against a pid that was reused by another process. */
static int is_init(int proc)
{
	char comm[32] = "";
	cleanup_fd int fd = openat(proc, "comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, comm, sizeof(comm) - 1);
	return n > 0 && !strncmp(comm, "layerfs-init\n", (size_t)n);
}

static int same_ns(int fd, const char *name)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

static int join_open(struct join *j, int *single_id, error **err)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/%d", (int)j->pid);
	cleanup_fd int proc = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0 || !is_init(proc))
		return join_error(err, j->pid, proc < 0 ? errno : ESRCH);
	for (size_t i = 0; i < NS_COUNT; i++) {
		snprintf(path, sizeof(path), "ns/%s", ns_list[i].name);
		j->ns[i] = openat(proc, path, O_RDONLY | O_CLOEXEC);
		if (j->ns[i] < 0)
			return join_error(err, j->pid, errno);
		if (ns_list[i].type == CLONE_NEWUSER && same_ns(j->ns[i], "user"))
			close(steal_fd(&j->ns[i]));
	}
	j->root = openat(proc, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (j->root < 0)
		return join_error(err, j->pid, errno);
	/* A rootless container without subordinate ids denies setgroups(2). */
	char deny[8] = "";
	cleanup_fd int sg = openat(proc, "setgroups", O_RDONLY | O_CLOEXEC);
	*single_id = sg >= 0 && read(sg, deny, sizeof(deny) - 1) > 0 && !strncmp(deny, "deny", 4);
	return 0;
}

static int enter(const struct join *j, error **err)
{
	for (size_t i = 0; i < NS_COUNT; i++)
		if (j->ns[i] >= 0 && setns(j->ns[i], ns_list[i].type) < 0)
			return error_make(err, errno, "cannot join the container's %s namespace",
					  ns_list[i].name);
	/* The root init pivoted into, whatever setns(mnt) chose. */
	if (fchdir(j->root) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return error_make(err, errno, "cannot enter the container's root");
	return 0;
}

/* The child of the caller: joins, forks the command into the PID
 * namespace, and waits for it. */
static _Noreturn void joiner(const struct ctr_ctx *c, const void *arg)
{
	const struct join *j = arg;
	error *err = NULL;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != c->caller)
		_exit(1); /* nobody waits for the command */
	if (enter(j, &err) < 0)
		ctr_die(c, err, 1);
	pid_t pid = fork();
	if (pid < 0) {
		error_make(&err, errno, "cannot start the command in the container");
		ctr_die(c, err, 1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (size_t i = 0; i < NS_COUNT; i++)
			if (j->ns[i] >= 0)
				close(j->ns[i]);
		close(j->root);
		ctr_command(c);
	}
	_exit(ctr_wait_child(pid, &set));
}

int ctr_exec(pid_t init_pid, const struct ctr_exec_spec *es, int *status, error **err)
{
	if (!es->argv || !es->argv[0] || !*es->argv[0])
		return error_fail(err, EINVAL, "no command to run");
	if (es->cwd && es->cwd[0] != '/')
		return error_fail(err, EINVAL, "working directory '%s' is not an absolute path",
				  es->cwd);
	struct join j = {.pid = init_pid, .root = -1};
	for (size_t i = 0; i < NS_COUNT; i++)
		j.ns[i] = -1;
	const struct ctr_spec spec = {.argv = es->argv,
				      .envp = es->envp,
				      .cwd = es->cwd,
				      .user = es->user,
				      .stdin_fd = es->stdin_fd,
				      .stdout_fd = es->stdout_fd,
				      .stderr_fd = es->stderr_fd,
				      .tty = es->tty,
				      .poller = es->poller};
	struct ctr_ctx c = {.spec = &spec, .caller = getpid()};
	int ret = join_open(&j, &c.single_id, err);
	if (ret >= 0)
		ret = ctr_supervise(&c, joiner, &j, status, err);
	join_release(&j);
	return ret;
}
