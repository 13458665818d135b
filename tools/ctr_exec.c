/* ctr_exec — inside the container: init (PID 1) and the command, with the
 * user resolved against the image's own /etc/passwd and /etc/group. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr_i.h"
#include "passwd.h"
#include "util.h"

/* Docker's PATH, for an environment without one. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct user {
	const char *name; /* as given, for messages */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups */
	size_t ngroups;
};

/* ------------------------------------------------------------ passwd, group */

#define USERDB_MAX (4u << 20)

/* A whole file of the container's root, or NULL when it cannot be read. */
static char *slurp(const char *path)
{
	cleanup_file FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	lfs_buf b = LFS_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < USERDB_MAX)
		lfs_buf_add(&b, chunk, n);
	return lfs_buf_detach(&b, NULL);
}

/* spec: "name", "uid", "name:group" or "uid:gid"; NULL or "" is root
 * (passwd.h has the rules, runc's). */
static int resolve_user(const char *spec, struct user *u, error **err)
{
	cleanup_free char *pw = slurp("/etc/passwd");
	cleanup_free char *gr = slurp("/etc/group");
	struct passwd_ids ids;
	if (passwd_resolve(pw, gr, spec, &ids, err) < 0)
		return -1;
	u->name = spec && *spec ? spec : "root";
	u->uid = ids.uid;
	u->gid = ids.gid;
	u->groups = ids.groups;
	u->ngroups = ids.ngroups;
	return 0;
}

/* ------------------------------------------------------------ the command */

/* Creates the missing parts of cwd (owned by the user) and enters it. */
static int enter_cwd(const char *cwd, const struct user *u, error **err)
{
	cwd = cwd ? cwd : "/";
	cleanup_free char *copy = lfs_xstrdup(cwd);
	cleanup_fd int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (char *save, *n = strtok_r(copy, "/", &save); dir >= 0 && n;
	     n = strtok_r(NULL, "/", &save)) {
		if (mkdirat(dir, n, 0755) == 0) {
			if (fchownat(dir, n, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0)
				return error_make(err, errno,
						  "cannot give the working directory "
						  "'%s' to user '%s'",
						  cwd, u->name);
		} else if (errno != EEXIST) {
			return error_make(err, errno, "cannot create the working directory '%s'",
					  cwd);
		}
		int next = openat(dir, n, O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		dir = next;
	}
	if (dir < 0 || fchdir(dir) < 0)
		return error_make(err, errno, "cannot enter the working directory '%s'", cwd);
	return 0;
}

/* The command's 0, 1 and 2 (-1: /dev/null).  Copies above 2 first, so
 * that one given fd being another's target does no harm. */
static int setup_stdio(const struct ctr_spec *s, error **err)
{
	static const char *const names[] = {"stdin", "stdout", "stderr"};
	const int src[3] = {s->stdin_fd, s->stdout_fd, s->stderr_fd};
	int tmp[3];
	for (int i = 0; i < 3; i++) {
		int fd = src[i] >= 0 ? src[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
		tmp[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (tmp[i] < 0)
			return error_make(err, errno, "cannot set up the command's %s (fd %d)",
					  names[i], src[i]);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			return error_make(err, errno, "cannot set up the command's %s", names[i]);
	return 0;
}

/* With a tty: a session of the command's own whose controlling terminal
 * is its stdin, so that the terminal's Ctrl-C reaches it (and its process
 * group) as SIGINT, never init. */
static int take_tty(const struct ctr_spec *s, error **err)
{
	if (!s->tty)
		return 0;
	if (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0)
		return error_make(err, errno, "cannot make stdin (fd %d) the command's terminal",
				  s->stdin_fd);
	return 0;
}

static int switch_user(const struct ctr_ctx *c, const struct user *u, error **err)
{
	/* With a single-id map setgroups(2) is refused: gid 0 is all there is. */
	if (!c->single_id && setgroups(u->ngroups, u->groups) < 0)
		return error_make(err, errno, "cannot set the groups of user '%s'", u->name);
	if (setresgid(u->gid, u->gid, u->gid) == 0 && setresuid(u->uid, u->uid, u->uid) == 0)
		return 0;
	if (errno == EINVAL)
		return error_fail(
		    err, EINVAL,
		    "user '%s' (uid %u, gid %u) does not exist in this rootless "
		    "container: give your user a range in /etc/subuid and /etc/subgid "
		    "(and install newuidmap, package uidmap), or run as root",
		    u->name, (unsigned)u->uid, (unsigned)u->gid);
	return error_make(err, errno, "cannot switch to user '%s'", u->name);
}

static int exec_error(error **err, const char *path, int e)
{
	if (e == ENOENT && access(path, F_OK) == 0)
		return error_fail(err, ENOENT,
				  "cannot run '%s': its interpreter (#! line or dynamic loader) is "
				  "missing in the image",
				  path);
	if (e == ENOENT)
		return error_fail(err, ENOENT, "'%s' not found in the image", path);
	return error_make(err, e, "cannot run '%s'", path);
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);
	for (; *envp; envp++)
		if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* execve, argv[0] looked up in the environment's PATH as execvp does.
 * Returns only on failure, with *err. */
static void exec_command(const struct ctr_spec *s, error **err)
{
	static char *const no_env[] = {NULL};
	char *const *envp = s->envp ? s->envp : no_env;
	const char *file = s->argv[0];
	if (strchr(file, '/')) {
		execve(file, s->argv, envp);
		exec_error(err, file, errno);
		return;
	}
	const char *path = env_get(envp, "PATH") ? env_get(envp, "PATH") : DEFAULT_PATH;
	cleanup_buf lfs_buf cand = LFS_BUF_INIT;
	int denied = 0;
	for (const char *p = path, *end;; p = end + 1) {
		end = strchrnul(p, ':');
		lfs_buf_reset(&cand);
		lfs_buf_add(&cand, p, (size_t)(end - p));
		lfs_buf_addf(&cand, "%s%s", end == p ? "./" : "/", file);
		execve(cand.data, s->argv, envp);
		int e = errno;
		if (e == EACCES) {
			denied = 1;
		} else if ((e != ENOENT && e != ENOTDIR) || access(cand.data, F_OK) == 0) {
			exec_error(err, cand.data, e); /* found, but it does not run */
			return;
		}
		if (!*end)
			break;
	}
	if (denied)
		error_fail(err, EACCES, "'%s' (in PATH %s) is not executable", file, path);
	else
		error_fail(err, ENOENT, "'%s' not found in the image (PATH %s)", file, path);
}

/* Signals as a freshly started program expects them: default actions
 * (an ignored SIGPIPE would survive execve), nothing blocked. */
static void reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

_Noreturn void ctr_command(const struct ctr_ctx *c)
{
	const struct ctr_spec *s = c->spec;
	struct user u = {0};
	error *err = NULL;
	reset_signals();
	umask(022);
	if (resolve_user(s->user, &u, &err) < 0 || enter_cwd(s->cwd, &u, &err) < 0 ||
	    setup_stdio(s, &err) < 0 || take_tty(s, &err) < 0 || switch_user(c, &u, &err) < 0)
		ctr_die(c, err, 127);
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); /* no other fd is inherited */
	exec_command(s, &err);
	ctr_die(c, err, 127);
}

/* ------------------------------------------------------------ init */

/* Reaps every child; returns the command's status once it has exited.
 * Signals in set other than SIGCHLD are passed on to the command. */
static int init_loop(pid_t cmd, const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL), ws;
		pid_t pid;
		if (sig > 0 && sig != SIGCHLD)
			kill(cmd, sig);
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
			if (pid == cmd)
				return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	}
}

/* Tells the caller that init runs: the caller's end of the socket has
 * SO_PASSCRED, so the kernel attaches our pid as the caller sees it.
 * The socket stays open (close-on-exec: the command does not keep it):
 * its hang-up tells the caller that the container's processes are gone. */
static void announce(const struct ctr_ctx *c)
{
	if (c->started_fd < 0)
		return;
	ssize_t n = send(c->started_fd, "i", 1, MSG_NOSIGNAL);
	(void)n; /* the caller is gone: the parent-death signal follows */
}

_Noreturn void ctr_init(const struct ctr_ctx *c)
{
	static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	error *err = NULL;
	/* The holder's death takes the whole PID namespace down. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "layerfs-init");
	setsid(); /* the caller's terminal signals are the caller's to pass on */
	if (ctr_root_setup(c, &err) < 0)
		ctr_die(c, err, 1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	announce(c);
	pid_t pid = fork();
	if (pid < 0) {
		error_make(&err, errno, "cannot start the command");
		ctr_die(c, err, 1);
	}
	if (pid == 0)
		ctr_command(c);
	_exit(init_loop(pid, &set));
}
