/* ctn_run — a container record's command: the monitor, its output, and
 * signals from other commands (see ctn_run.h). */
#include "ctn_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ctr.h"
#include "imgcfg.h"
#include "util.h"

/* ------------------------------------------------------------ the lower */

/* The image's layers, as recorded at creation (the name may have moved). */
static int open_lower(store *s, const struct ctn *c, lfs_layer ***layers, size_t *n, lfs_union **u,
		      error **err)
{
	json_t *arr = json_object_get(c->config, "layers");
	size_t cnt = json_array_size(arr);
	struct store_layer *ls = lfs_xcalloc(cnt ? cnt : 1, sizeof(*ls));
	int ret = 0;
	for (size_t i = 0; i < cnt && ret >= 0; i++) {
		json_t *l = json_array_get(arr, i);
		ret = store_layer_init(s, &ls[i], json_string_value(json_object_get(l, "digest")),
				       json_string_value(json_object_get(l, "diff_id")),
				       json_string_value(json_object_get(l, "media_type")),
				       (uint64_t)json_integer_value(json_object_get(l, "size")));
		if (ret < 0)
			ret = error_fail(err, EINVAL, "container '%s': bad layer %zu in its config",
					 ctn_name(c), i + 1);
	}
	if (ret >= 0) {
		cleanup_free char *what = lfs_xasprintf("image '%s'", ctn_image(c));
		ret = store_layers_open(s, ls, cnt, what, layers, err);
	}
	for (size_t i = 0; i < cnt; i++)
		store_layer_release(&ls[i]);
	free(ls);
	if (ret < 0)
		return error_wrap(err, "container '%s' (was its image removed?)", ctn_name(c));
	*n = cnt;
	int r = lfs_union_new(*layers, cnt, u);
	return r ? error_make(err, -r, "cannot assemble the layers of '%s'", ctn_image(c)) : 0;
}

/* ------------------------------------------------------------ output */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The command's stdio and what serves it: ctr_run's poller (ctr.h),
 * in the calling thread. */
struct ctn_io {
	int src[3]; /* out_rd, err_rd (pipes) or the pty master: read */
	int to[3];  /* where each goes when attached (-1 once it failed) */
	int master; /* tty: the pty master, else -1 */
	int in_fd;  /* tty + interactive: our stdin, else -1 */
	int sfd;    /* tty + attached: signalfd for SIGWINCH, else -1 */
	int log_fd;
	int attach;
	int fds[3]; /* what the command gets */
	int close_after[3];
	struct ctr_poller poller;
	struct termios saved;
	int raw;
	sigset_t old_mask;
};

/* Copies one chunk from src[i] to our to[i] (when attached) and the log;
 * returns 0 at EOF or when nothing is there (EAGAIN, when draining).
 * to[i] becomes -1 once it fails (a reader that went away: `run | head`);
 * the command's output still reaches the log. */
static int pump(struct ctn_io *io, int i)
{
	char buf[16384];
	ssize_t n = read(io->src[i], buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	if (io->attach && io->to[i] >= 0 && write_all(io->to[i], buf, (size_t)n) < 0)
		io->to[i] = -1;
	if (io->log_fd >= 0)
		write_all(io->log_fd, buf, (size_t)n);
	return 1;
}

static void winsize_forward(const struct ctn_io *io)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(io->master, TIOCSWINSZ, &ws);
}

/* The poller: src[0..2], our stdin, the SIGWINCH signalfd; an entry
 * whose fd is done is -1 (poll skips it). */
enum { IO_IN = 3, IO_WINCH, IO_NFDS };
_Static_assert(IO_NFDS <= CTR_POLL_MAX, "ctr_run polls at most CTR_POLL_MAX of ours");

static size_t io_fill(void *arg, struct pollfd *p, size_t max)
{
	struct ctn_io *io = arg;
	const int fds[IO_NFDS] = {io->src[0], io->src[1], io->src[2], io->in_fd, io->sfd};
	(void)max;
	for (int i = 0; i < IO_NFDS; i++)
		p[i] = (struct pollfd){fds[i], POLLIN, 0};
	return IO_NFDS;
}

static void io_ready(void *arg, const struct pollfd *p, size_t n)
{
	struct ctn_io *io = arg;
	(void)n;
	for (int i = 0; i < 3; i++)
		if (p[i].revents && !pump(io, i))
			close(steal_fd(&io->src[i]));
	if (p[IO_IN].revents) {
		char buf[4096];
		ssize_t r = read(io->in_fd, buf, sizeof(buf));
		if (r > 0)
			write_all(io->master, buf, (size_t)r);
		else if (r == 0 || errno != EINTR)
			io->in_fd = -1; /* ours: not closed */
	}
	struct signalfd_siginfo si;
	if (p[IO_WINCH].revents && read(io->sfd, &si, sizeof(si)) == sizeof(si))
		winsize_forward(io);
}

/* Once the command and every process that had its stdio are gone. */
static void io_drain(void *arg)
{
	struct ctn_io *io = arg;
	for (int i = 0; i < 3; i++) {
		if (io->src[i] < 0)
			continue;
		fcntl(io->src[i], F_SETFL, fcntl(io->src[i], F_GETFL) | O_NONBLOCK);
		while (pump(io, i))
			;
	}
}

static int io_pipes(struct ctn_io *io, int interactive, error **err)
{
	int o[2], e[2];
	if (pipe2(o, O_CLOEXEC) < 0)
		return error_make(err, errno, "cannot create a pipe");
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(o[0]);
		close(o[1]);
		return error_make(err, errno, "cannot create a pipe");
	}
	io->src[0] = o[0];
	io->src[1] = e[0];
	io->fds[0] = interactive ? STDIN_FILENO : -1;
	io->fds[1] = io->close_after[1] = o[1];
	io->fds[2] = io->close_after[2] = e[1];
	return 0;
}

static int io_pty(struct ctn_io *io, int interactive, error **err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		if (m >= 0)
			close(m);
		return error_make(err, errno, "cannot allocate a pseudo-terminal");
	}
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0) {
		close(m);
		return error_make(err, errno, "cannot open the pseudo-terminal's slave");
	}
	io->master = io->src[2] = m;
	io->fds[0] = io->fds[1] = io->fds[2] = io->close_after[0] = sl;
	if (io->attach && interactive)
		io->in_fd = STDIN_FILENO;
	if (io->attach && isatty(STDIN_FILENO)) {
		winsize_forward(io);
		if (tcgetattr(STDIN_FILENO, &io->saved) == 0) {
			struct termios raw = io->saved;
			cfmakeraw(&raw);
			io->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		}
	}
	return 0;
}

static void io_finish(struct ctn_io *io);

static int io_start(struct ctn_io *io, int tty, int interactive, int attach, int log_fd,
		    error **err)
{
	memset(io, 0, sizeof(*io));
	for (int i = 0; i < 3; i++)
		io->src[i] = io->close_after[i] = -1;
	io->to[0] = io->to[2] = STDOUT_FILENO;
	io->to[1] = STDERR_FILENO;
	io->master = io->in_fd = io->sfd = -1;
	io->log_fd = log_fd;
	io->attach = attach;
	io->poller = (struct ctr_poller){io_fill, io_ready, io_drain, io};
	/* A reader that went away (`run | head`) is EPIPE, not SIGPIPE
	 * (io_finish discards it); SIGWINCH comes through the signalfd. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	if (tty && attach)
		sigaddset(&block, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &block, &io->old_mask);
	if (!tty && !attach) {
		/* Detached: straight into the log, nothing to relay. */
		io->fds[0] = -1;
		io->fds[1] = io->fds[2] = log_fd;
		return 0;
	}
	int ret = tty ? io_pty(io, interactive, err) : io_pipes(io, interactive, err);
	if (ret >= 0 && tty && attach) {
		sigset_t w;
		sigemptyset(&w);
		sigaddset(&w, SIGWINCH);
		io->sfd = signalfd(-1, &w, SFD_CLOEXEC);
		if (io->sfd < 0)
			ret = error_make(err, errno, "cannot watch the window size (signalfd)");
	}
	if (ret < 0)
		io_finish(io);
	return ret;
}

static void io_finish(struct ctn_io *io)
{
	const int fds[] = {io->close_after[0],
			   io->close_after[1],
			   io->close_after[2],
			   io->src[0],
			   io->src[1],
			   io->src[2],
			   io->sfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (io->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &io->saved);
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	struct timespec now = {0, 0};
	while (sigtimedwait(&pipe, NULL, &now) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &io->old_mask, NULL);
}

int ctn_io_open(struct ctn_io **out, int tty, int interactive, int fds[3], error **err)
{
	struct ctn_io *io = lfs_xcalloc(1, sizeof(*io));
	if (io_start(io, tty, interactive, 1, -1, err) < 0) {
		free(io);
		return -1;
	}
	memcpy(fds, io->fds, sizeof(io->fds));
	*out = io;
	return 0;
}

const struct ctr_poller *ctn_io_poller(struct ctn_io *io)
{
	return &io->poller;
}

void ctn_io_close(struct ctn_io *io)
{
	if (!io)
		return;
	io_finish(io);
	free(io);
}

/* ------------------------------------------------------------ the spec */

struct spec_data {
	char **argv, **envp;
	struct ctr_mount *mounts;
	char **vol_src; /* the anonymous volumes' directories */
	struct ctr_port *ports;
	size_t nmounts, nports;
	char *hostname;
};

static char **strv_from_json(json_t *arr, const char *extra)
{
	size_t n = json_array_size(arr), k = 0;
	char **v = lfs_xcalloc(n + 2, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (s)
			v[k++] = lfs_xstrdup(s);
	}
	if (extra)
		v[k++] = lfs_xstrdup(extra);
	return v;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static enum ctr_net net_of(const struct ctn *c)
{
	const char *n = json_string_value(json_object_get(c->config, "network"));
	if (n && !strcmp(n, "none"))
		return CTR_NET_NONE;
	if (n && !strcmp(n, "private"))
		return CTR_NET_PRIVATE;
	return CTR_NET_HOST;
}

/* How deep a mount's destination is: mounts are made shallowest first, so
 * that a -v inside an anonymous volume (or the reverse) lands on top. */
static size_t depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/' && p[1] && p[1] != '/';
	return n;
}

/* Stable: of two -v at one place, the later one is on top, as before. */
static void sort_by_depth(struct ctr_mount *m, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ctr_mount x = m[i];
		size_t j = i;
		for (; j > 0 && depth(m[j - 1].dst) > depth(x.dst); j--)
			m[j] = m[j - 1];
		m[j] = x;
	}
}

/* The image's VOLUMEs (config "image_volumes") as copy-up mounts of
 * volumes/NAME/_data in the record, whose parents are made here. */
static int anon_volumes(struct spec_data *d, const struct ctn *c, error **err)
{
	json_t *anon = json_object_get(c->config, "image_volumes");
	d->vol_src = lfs_xcalloc(json_array_size(anon) + 1, sizeof(*d->vol_src));
	cleanup_free char *top = ctn_path(c, "volumes");
	if (json_array_size(anon) && mkdir(top, 0700) < 0 && errno != EEXIST)
		return error_make(err, errno, "cannot create '%s'", top);
	size_t i, k = 0;
	json_t *v;
	json_array_foreach(anon, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *dst = json_string_value(json_object_get(v, "dst"));
		if (!name || !dst || !*name || strchr(name, '/'))
			return error_fail(err, EINVAL,
					  "container '%s': bad volume %zu in its config",
					  ctn_name(c), i + 1);
		cleanup_free char *dir = lfs_xasprintf("%s/%s", top, name);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return error_make(err, errno, "cannot create '%s'", dir);
		d->vol_src[k++] = lfs_xasprintf("%s/_data", dir);
		d->mounts[d->nmounts++] = (struct ctr_mount){d->vol_src[k - 1], dst, 0, 1};
	}
	sort_by_depth(d->mounts, d->nmounts);
	return 0;
}

static int spec_fill(struct spec_data *d, const struct ctn *c, struct ctr_spec *sp, error **err)
{
	const char *h = json_string_value(json_object_get(c->config, "hostname"));
	d->hostname = h && *h ? lfs_xstrdup(h) : lfs_xstrndup(c->id, 12);
	cleanup_free char *hv = lfs_xasprintf("HOSTNAME=%s", d->hostname);
	d->argv = strv_from_json(json_object_get(c->config, "argv"), NULL);
	d->envp = strv_from_json(json_object_get(c->config, "env"), hv);
	json_t *vols = json_object_get(c->config, "volumes"),
	       *ports = json_object_get(c->config, "ports");
	d->mounts =
	    lfs_xcalloc(json_array_size(vols) +
			    json_array_size(json_object_get(c->config, "image_volumes")) + 1,
			sizeof(*d->mounts));
	d->ports = lfs_xcalloc(json_array_size(ports) + 1, sizeof(*d->ports));
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v)
	{
		d->mounts[d->nmounts++] =
		    (struct ctr_mount){json_string_value(json_object_get(v, "src")),
				       json_string_value(json_object_get(v, "dst")),
				       json_is_true(json_object_get(v, "readonly")), 0};
	}
	int ret = anon_volumes(d, c, err);
	json_array_foreach(ports, i, v)
	{
		const char *proto = json_string_value(json_object_get(v, "proto"));
		d->ports[d->nports++] =
		    (struct ctr_port){json_string_value(json_object_get(v, "host_ip")),
				      (unsigned)json_integer_value(json_object_get(v, "host_port")),
				      (unsigned)json_integer_value(json_object_get(v, "ctr_port")),
				      proto && !strcmp(proto, "udp")};
	}
	const char *cwd = json_string_value(json_object_get(c->config, "cwd"));
	const char *user = json_string_value(json_object_get(c->config, "user"));
	sp->argv = d->argv;
	sp->envp = d->envp;
	sp->cwd = cwd && *cwd ? cwd : "/";
	sp->user = user && *user ? user : NULL;
	sp->hostname = d->hostname;
	sp->net = net_of(c);
	sp->tty = json_is_true(json_object_get(c->config, "tty"));
	sp->mounts = d->mounts;
	sp->nmounts = d->nmounts;
	sp->ports = d->ports;
	sp->nports = d->nports;
	return ret;
}

static void spec_release(struct spec_data *d)
{
	strv_free(d->argv);
	strv_free(d->envp);
	free(d->mounts);
	strv_free(d->vol_src);
	free(d->ports);
	free(d->hostname);
}

/* ------------------------------------------------------------ the monitor */

static int mark_running(struct ctn *c, error **err)
{
	if (ctn_lock(c, err) < 0)
		return -1;
	int ret = ctn_refresh(c, err);
	if (ret >= 0 && c->state.status == CTN_RUNNING)
		ret = error_fail(err, EBUSY, "container '%s' is already running", ctn_name(c));
	if (ret >= 0) {
		struct ctn_state *st = &c->state;
		st->status = CTN_RUNNING;
		st->monitor = getpid();
		st->monitor_start = ctn_proc_start(getpid());
		ctn_boot_id(st->boot_id);
		st->init_pid = 0;
		st->started_at = time(NULL);
		st->finished_at = 0;
		free(st->error);
		st->error = NULL;
		ret = ctn_state_write(c, err);
	}
	ctn_unlock(c);
	return ret;
}

static void mark_exited(struct ctn *c, int code, const error *why)
{
	error *ignored = NULL;
	if (ctn_lock(c, &ignored) == 0) {
		c->state.status = CTN_EXITED;
		c->state.exit_code = code;
		c->state.finished_at = time(NULL);
		c->state.init_pid = 0;
		free(c->state.error);
		c->state.error = why ? lfs_xstrdup(why->msg) : NULL;
		ctn_state_write(c, &ignored);
		ctn_unlock(c);
	}
	error_free(ignored);
}

static void on_started(void *arg, pid_t init_pid)
{
	struct ctn *c = arg;
	error *ignored = NULL;
	if (ctn_lock(c, &ignored) == 0) {
		c->state.init_pid = init_pid;
		ctn_state_write(c, &ignored);
		ctn_unlock(c);
	}
	error_free(ignored);
}

static int run_spec(store *s, struct ctn *c, struct ctn_io *io, unsigned flags, int *status,
		    error **err)
{
	lfs_layer **layers = NULL;
	size_t n = 0;
	lfs_union *u = NULL;
	int ret = open_lower(s, c, &layers, &n, &u, err);
	if (ret >= 0) {
		struct spec_data d = {0};
		cleanup_free char *up = ctn_path(c, "upper");
		cleanup_free char *wk = ctn_path(c, "work");
		struct ctr_spec sp = {.lower = u,
				      .upper_dir = up,
				      .work_dir = wk,
				      .stdin_fd = io->fds[0],
				      .stdout_fd = io->fds[1],
				      .stderr_fd = io->fds[2],
				      .poller = &io->poller,
				      .on_started = on_started,
				      .on_started_arg = c};
		ret = spec_fill(&d, c, &sp, err);
		sp.sig_proxy = (flags & CTN_SIG_PROXY) && !sp.tty;
		if (ret >= 0)
			ret = ctr_run(&sp, status, err);
		spec_release(&d);
	}
	if (u)
		lfs_union_free(u);
	if (layers)
		store_layers_free(layers, n);
	return ret;
}

/* Tells the `run -d` parent how the start went (one write, so one read
 * gets it): "D" the command ran, "E<errno>:<message>" it could not. */
static void report_end(int ready_fd, int ret, const error *err)
{
	char msg[PIPE_BUF];
	int n = ret < 0 ? snprintf(msg, sizeof(msg), "E%d:%s", err->code, err->msg)
			: snprintf(msg, sizeof(msg), "D");
	if (n > (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	ssize_t w = write(ready_fd, msg, (size_t)n);
	(void)w; /* the parent may be gone: SIGPIPE is ignored here */
	close(ready_fd);
}

/* ready_fd (>= 0): gets "R" once the record says running, then the end
 * (report_end). */
static int execute(store *s, struct ctn *c, unsigned flags, int ready_fd, int *status, error **err)
{
	int attach = !!(flags & CTN_ATTACH);
	cleanup_free char *logp = ctn_path(c, "log");
	cleanup_fd int log_fd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return error_make(err, errno, "cannot open the container's log '%s'", logp);
	*status = -1; /* not started */
	if (mark_running(c, err) < 0)
		return -1;
	*status = 0;
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "R", 1);
		(void)w;
	}
	struct ctn_io io;
	int tty = json_is_true(json_object_get(c->config, "tty"));
	int interactive = json_is_true(json_object_get(c->config, "interactive"));
	int ret = io_start(&io, tty, interactive, attach, log_fd, err);
	if (ret >= 0) {
		ret = run_spec(s, c, &io, flags, status, err);
		io_finish(&io);
	}
	if (ret < 0) {
		/* In the log too: `layerfs logs` of a -d container shows why. */
		cleanup_free char *line = lfs_xasprintf("layerfs: %s\n", (*err)->msg);
		write_all(log_fd, line, strlen(line));
		/* Interrupted (the container was stopped): as a shell reports a
		 * SIGINT; else docker's "could not run the command". */
		*status = (*err)->code == EINTR ? 130 : 127;
	}
	mark_exited(c, *status, ret < 0 ? *err : NULL);
	if (ready_fd >= 0)
		report_end(ready_fd, ret, ret < 0 ? *err : NULL);
	return ret;
}

int ctn_execute(store *s, struct ctn *c, unsigned flags, int *status, error **err)
{
	return execute(s, c, flags, -1, status, err);
}

/* ------------------------------------------------------------ detached */

static _Noreturn void monitor_main(store *s, struct ctn *c, int ready_fd)
{
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3 && null >= 0; i++)
		dup2(null, i);
	signal(SIGPIPE, SIG_IGN);
	error *err = NULL;
	int status = 0;
	int ret = execute(s, c, 0, ready_fd, &status, &err);
	error_free(err);
	if (status >= 0 && json_is_true(json_object_get(c->config, "auto_remove"))) {
		err = NULL;
		ctn_remove(s, c, &err);
		error_free(err);
	}
	_exit(ret < 0 ? 1 : 0);
}

/* After "R": the start failed ("E..."), or the command ran ("D"), or its
 * init is up (found in /proc or recorded by on_started), or the monitor
 * is gone.  Waiting for the init keeps setup errors (/dev/fuse, user
 * namespaces, a missing image layer) on `run -d`'s own stderr. */
static int start_result(const char *msg, ssize_t n, error **err)
{
	if (n <= 0 || msg[0] != 'E')
		return 0;
	char *end;
	long code = strtol(msg + 1, &end, 10);
	return error_fail(err, (int)code, "%.*s", (int)(n - (end + 1 - msg)), end + 1);
}

static int read_comm(pid_t pid, char out[32])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, 31);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? 0 : -1;
}

/* Whether init's child (the command) has called execve: its name is no
 * longer the one it inherited from init. */
static int command_execd(pid_t init)
{
	char path[64], mine[32], theirs[32];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	cleanup_file FILE *f = fopen(path, "re");
	int pid;
	if (!f || read_comm(init, mine) < 0)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (read_comm(pid, theirs) == 0 && strcmp(mine, theirs))
			return 1;
	return 0;
}

/* Writes the init pid found in /proc into state.json, unless the runner
 * reported it (on_started) or the container is gone already. */
static int record_init(struct ctn *c, pid_t init)
{
	error *ignored = NULL;
	if (ctn_lock(c, &ignored) == 0) {
		if (ctn_refresh(c, &ignored) == 0 && c->state.status == CTN_RUNNING &&
		    c->state.init_pid == 0) {
			c->state.init_pid = init;
			ctn_state_write(c, &ignored);
		}
		ctn_unlock(c);
	}
	error_free(ignored);
	return 0;
}

static int wait_started(struct ctn *c, pid_t monitor, int fd, error **err)
{
	char msg[PIPE_BUF];
	ssize_t n;
	int waited = 0;
	while ((n = read(fd, msg, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || msg[0] != 'R')
		return error_fail(err, EBUSY,
				  "container '%s' could not be started (already running?)",
				  ctn_name(c));
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int exited = waitpid(monitor, NULL, WNOHANG) == monitor;
		if (poll(&p, 1, exited ? 0 : 20) > 0) {
			n = read(fd, msg, sizeof(msg));
			return start_result(msg, n, err);
		}
		error *ignored = NULL;
		int r = ctn_refresh(c, &ignored);
		error_free(ignored);
		pid_t init = r < 0 ? 0 : ctn_init_pid(c);
		/* A command that cannot be run fails right after init starts
		 * it: wait (a little) for it to be exec'd. */
		if (exited || r < 0)
			return 0;
		if (init > 0 && (command_execd(init) || ++waited > 100))
			return record_init(c, init);
	}
}

int ctn_detach(store *s, struct ctn *c, error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_make(err, errno, "cannot create a pipe");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return error_make(err, e, "cannot start the container's monitor");
	}
	if (pid == 0) {
		close(p[0]);
		monitor_main(s, c, p[1]);
	}
	close(p[1]);
	int ret = wait_started(c, pid, p[0], err);
	close(p[0]);
	/* The monitor is not our business any more: it is in its own
	 * session, and when we exit init adopts it. */
	return ret;
}

/* ------------------------------------------------------------ signals */

/* Signals init passes on to the command (ctr_exec.c); others go to the
 * command directly, as docker delivers them to the container's PID 1. */
static int init_forwards(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
	       sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGKILL;
}

static void signal_children(pid_t init, int sig)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	cleanup_file FILE *f = fopen(path, "re");
	int pid;
	while (f && fscanf(f, "%d", &pid) == 1)
		kill(pid, sig);
}

int ctn_signal(struct ctn *c, int sig, error **err)
{
	pid_t init = 0;
	/* A container that is just starting has no init yet: wait a little. */
	for (int i = 0; i < 100 && !init; i++) {
		if (ctn_refresh(c, err) < 0)
			return -1;
		if (c->state.status != CTN_RUNNING)
			break;
		init = ctn_init_pid(c);
		if (!init)
			usleep(50000);
	}
	if (!init && sig == SIGKILL && c->state.status == CTN_RUNNING && ctn_monitor_alive(c)) {
		/* No init to be found (still starting, or gone): the monitor's
		 * ctr_run kills the whole container on SIGTERM. */
		kill(c->state.monitor, SIGTERM);
		return 0;
	}
	if (!init)
		return error_fail(err, ESRCH, "container '%s' is not running", ctn_name(c));
	if (!init_forwards(sig))
		signal_children(init, sig);
	else if (kill(init, sig) < 0)
		return error_make(err, errno, "cannot signal container '%s' (pid %d)", ctn_name(c),
				  (int)init);
	return 0;
}

int ctn_wait_exit(struct ctn *c, int timeout_ms, error **err)
{
	if (ctn_refresh(c, err) < 0)
		return -1;
	if (c->state.status != CTN_RUNNING)
		return 1;
	cleanup_fd int pfd = (int)syscall(SYS_pidfd_open, c->state.monitor, 0);
	/* Checked after opening: the pidfd is of the monitor, not a reuse. */
	if (pfd >= 0 && ctn_monitor_alive(c)) {
		struct pollfd p = {pfd, POLLIN, 0};
		while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
			;
	}
	/* The monitor writes the exit after ctr_run: wait for the record. */
	for (int i = 0; i < 100; i++) {
		if (ctn_refresh(c, err) < 0)
			return -1;
		if (c->state.status != CTN_RUNNING)
			return 1;
		if (ctn_monitor_alive(c) && i == 0)
			return 0;
		usleep(10000);
	}
	return c->state.status != CTN_RUNNING;
}

int ctn_parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev && !strcasecmp(abbrev, s))
			return i;
	}
	return -1;
}
