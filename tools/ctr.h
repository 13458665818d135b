/* ctr — run a process in a container root made of layerfs layers, rootless
 * or as root (the RUN step of a build; later `layerfs run`).
 *
 * ctr_run():
 *  1. forks a child that enters new namespaces: user (only when not root:
 *     newuidmap/newgidmap with the caller's /etc/subuid and /etc/subgid
 *     ranges when both exist and the tools are installed — container uid 0
 *     is the caller, 1..N the range — else a single-id map of the caller to
 *     0, with setgroups denied), mount, PID, UTS and IPC; the network is
 *     the host's (spec->net == CTR_NET_HOST) or a new one (enum ctr_net);
 *  2. in there, mounts the overlay (spec->lower + spec->upper_dir/work_dir,
 *     fs/ovl.h) with FUSE (fs/fuse_ll.h, allow_other so every uid in the
 *     namespace can use it) on a private directory, served by a process
 *     that lives in that mount namespace;
 *  3. sets up the root: fresh /proc, a minimal /dev (tmpfs with null, zero,
 *     full, random, urandom, tty bound from the host, fd/stdin/stdout/stderr
 *     links, a new devpts instance at /dev/pts with ptmx, tmpfs /dev/shm),
 *     the host's /etc/resolv.conf and /etc/hosts bound read-only, hostname,
 *     then spec->mounts (with spec->tty, the terminal is also bound at
 *     /dev/console, where ttyname() finds it);
 *     mount points that the image lacks (/proc, /dev, /etc/hosts, ...) are
 *     created for the run and removed from the upper afterwards, so they
 *     never end up in a committed layer (BuildKit's mount stubs);
 *  4. pivot_root()s into it, and runs a minimal init as PID 1 that forks
 *     the command, forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2
 *     to it, reaps every zombie, and exits with the command's status;
 *  5. the command: user from spec->user resolved against the container's
 *     own /etc/passwd and /etc/group (supplementary groups from
 *     /etc/group), cwd spec->cwd (created when missing, owned by that
 *     user), environment exactly spec->envp (PATH from it is used to find
 *     argv[0]), stdio the given fds, no other fd inherited;
 *  6. afterwards unmounts, waits for the FUSE server (so every write has
 *     reached the upper dir) and returns.
 * Nothing is left mounted or running when ctr_run returns, also when the
 * command is killed by a signal or the caller gets SIGINT.
 *
 * Processes (ctr_i.h): the caller forks a holder that owns the namespaces
 * and the FUSE mount (its server is the holder's child, in the holder's
 * mount namespace, so the mount is never visible on the host); the holder
 * starts init as PID 1 of a new PID namespace in a mount namespace of its
 * own, where pivot_root() happens.  The mount point is a temporary
 * directory "ctr-root.*" in work_dir, removed afterwards.  If the caller
 * dies, the holder stops the container (parent-death signal), unmounts and
 * removes the stubs all the same.
 *
 * Stopping a running container (the pid on_started gave): SIGTERM (or
 * SIGINT, SIGHUP, ...) to init_pid is passed on to the command, which may
 * exit cleanly; SIGKILL to init_pid ends the whole PID namespace at once
 * (ctr_run then returns 0 with *status 137).  SIGTERM to the process
 * calling ctr_run stops the container too (ctr_run returns -EINTR),
 * unless spec->sig_proxy passes it on to the command.
 *
 * CTR_NET_PRIVATE starts, besides: slirp4netns and the port proxy
 * ("layerfs-proxy"), children of the caller, and the port helper
 * ("layerfs-ports"), the holder's child inside the container's network;
 * slirp4netns and the proxy are killed as soon as init has exited (the
 * hang-up of its start socket), and all are reaped before ctr_run
 * returns.  Rootless, slirp4netns needs
 * /dev/net/tun read-write for the caller (an error says so otherwise).
 *
 * Rootless without a subordinate range only uid and gid 0 exist: other
 * users fail with a message naming /etc/subuid, and files the image gives
 * to other ids read fine but cannot be written (the kernel refuses writes
 * to inodes with unmapped owners); ownership the namespace cannot set is
 * kept in the upper as user.containers.override_stat (fs/upper.h).
 */
#ifndef LAYERFS_CTR_H
#define LAYERFS_CTR_H

#include <poll.h>
#include <sys/types.h>

#include "error.h"
#include "union.h"

enum ctr_net {
	CTR_NET_HOST = 0, /* share the host's network namespace */
	CTR_NET_NONE,	  /* a new network namespace with only lo (up) */
	/* A new network namespace with lo and outbound access through
	 * slirp4netns (its tap device, 10.0.2.100/24, DNS 10.0.2.3); ports[]
	 * are published on the host by a proxy that lives in the caller's
	 * network namespace and connects inside through a helper process in
	 * the container's (rootlesskit's "builtin" port driver).  When
	 * slirp4netns is missing: an error naming the package. */
	CTR_NET_PRIVATE,
};

/* -v SRC:DST[:ro]: a host path bound at dst inside the root (created as a
 * mount stub when missing, removed from the upper afterwards).
 * With copy_up, an anonymous volume (the image's VOLUME): src need not
 * exist, its parent must; when src is missing, the holder first makes it
 * (inside the namespaces, so owners map as the container sees them) a
 * copy of the image's dst — files, directories, links, modes, owners,
 * times; not xattrs, and hardlinks become separate files — or an empty
 * directory when the image has no dst.  The copy is built beside src and
 * renamed into place, so src exists only once it is complete (docker's
 * copy-up of an empty volume); a copy that was interrupted leaves its
 * temporary "src.XXXXXX" behind, in src's parent. */
struct ctr_mount {
	const char *src; /* host path, absolute */
	const char *dst; /* absolute path inside the root */
	int readonly;
	int copy_up;
};

/* -p [IP:]HOST:CTR[/udp] */
struct ctr_port {
	const char *host_ip; /* NULL: 0.0.0.0 */
	unsigned host_port;
	unsigned ctr_port;
	int udp;
};

/* Descriptors the caller serves while the container runs, from
 * ctr_run's own loop in the calling thread, so that the caller needs no
 * thread of its own (none may run while ctr_run forks).  Before each
 * poll(), fill() puts up to max entries in p (fd and events; an fd < 0
 * is skipped) and returns how many; after it, ready() gets the same
 * entries with their revents.  Once the container's processes are gone,
 * drain() (may be NULL) takes what is left in the descriptors, without
 * blocking: the caller may still hold write ends of its pipes. */
#define CTR_POLL_MAX 8
struct ctr_poller {
	size_t (*fill)(void *arg, struct pollfd *p, size_t max);
	void (*ready)(void *arg, const struct pollfd *p, size_t n);
	void (*drain)(void *arg);
	void *arg;
};

struct ctr_spec {
	lfs_union *lower;      /* the image's layers (borrowed) */
	const char *upper_dir; /* existing, the step's fresh upper */
	const char *work_dir;  /* existing, empty, same file system as upper_dir */
	char *const *argv;     /* argv[0] looked up in envp's PATH when it has no '/' */
	char *const *envp;     /* the whole environment of the command */
	const char *cwd;       /* absolute path inside the root; NULL: "/" */
	const char *user;      /* "name", "uid", "name:group", "uid:gid"; NULL: root */
	const char *hostname;  /* NULL: "layerfs" */
	enum ctr_net net;
	/* With on_output set: output_fd (a pipe's read end, typically the
	 * other end of stdout_fd/stderr_fd) is read by ctr_run in the calling
	 * thread while the container runs, and each chunk handed to
	 * on_output; what is left when it is done is read too (output_fd is
	 * made non-blocking).  So the caller needs no reader thread, which
	 * would be running while ctr_run forks. */
	int output_fd;
	void (*on_output)(void *arg, const char *data, size_t len);
	void *on_output_arg;
	/* More descriptors for the caller, served the same way (a relay of
	 * several pipes, a pty, our stdin, a signalfd); may be NULL. */
	const struct ctr_poller *poller;
	int stdin_fd;  /* -1: /dev/null */
	int stdout_fd; /* -1: /dev/null */
	int stderr_fd; /* -1: /dev/null */
	/* stdin_fd is the slave of a pty: the command runs in a new session
	 * with it as its controlling terminal (Ctrl-C reaches it as SIGINT).
	 * It must not be the caller's own terminal (a terminal has one
	 * session): open a pty, relay the caller's terminal to its master. */
	int tty;
	const struct ctr_mount *mounts;
	size_t nmounts;
	const struct ctr_port *ports; /* only with CTR_NET_PRIVATE */
	size_t nports;
	/* Called in the caller once the container's init runs, with its pid
	 * in the caller's PID namespace (what ctr_exec joins, what a stop
	 * signals); may be NULL. */
	void (*on_started)(void *arg, pid_t init_pid);
	void *on_started_arg;
	/* docker's --sig-proxy: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and
	 * SIGUSR2 sent to the caller go to the command (through init, as
	 * soon as it runs) instead of stopping the container; ctr_run then
	 * returns the command's status like any other.  The holder is in a
	 * process group of its own, so a terminal's Ctrl-C reaches only the
	 * caller, which passes it on. */
	int sig_proxy;
};

/* Runs spec->argv to completion.  Returns 0 with *status = the command's
 * exit code (0..255), or 128+N when it was killed by signal N; returns a
 * negative value with *err when the container could not be set up or the
 * command not started: the message says what (e.g. "'/bin/sh' not found
 * in the image", "user 'node' not found in the image's /etc/passwd",
 * "/dev/fuse: Permission denied: make it usable by your user (chmod 0666
 * /dev/fuse) or run as root", "user namespaces are disabled: sysctl
 * kernel.unprivileged_userns_clone=1").  The upper dir holds the
 * command's changes (mount stubs removed) when it returns, whatever the
 * outcome.
 *
 * Signals: while it runs, the calling thread blocks SIGINT, SIGTERM and
 * SIGHUP (with sig_proxy also SIGQUIT, SIGUSR1, SIGUSR2, all passed on)
 * and takes them from a signalfd; without sig_proxy the first one stops the
 * container (SIGKILL to its PID namespace) and, once everything is
 * cleaned up, ctr_run returns -EINTR ("interrupted by SIGINT: the
 * container was stopped"); the signal is consumed, not re-raised.  Other
 * threads of a multi-threaded caller should keep these signals blocked.
 * SIGCHLD's disposition is SIG_DFL during the call.  The caller forks: no
 * other thread may be inside spec->lower (or hold a lock the children
 * need) meanwhile.  The stdio fds stay open in the caller; the command
 * gets only them (every other fd is closed at execve). */
int ctr_run(const struct ctr_spec *spec, int *status, error **err);

/* `layerfs exec`: runs a command inside the running container whose init
 * is init_pid (joins its user, mount, PID, UTS, IPC and network
 * namespaces and its root), as ctr_run runs its command (user, cwd, env,
 * stdio, tty), and waits for it.  *status as ctr_run.  Errors: the
 * container is not running (-ESRCH), permission (naming what to do).
 * init_pid is on_started's (the caller's PID namespace); a pid that is no
 * longer a layerfs init is -ESRCH.  Signals as ctr_run: the caller's
 * SIGINT/SIGTERM/SIGHUP kill the command (not the container) and make
 * this return -EINTR.  With tty, the pty is the command's terminal but is
 * not at /dev/console (that is the run's), so ttyname() finds no name. */
struct ctr_exec_spec {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	const char *user;
	int stdin_fd, stdout_fd, stderr_fd;
	int tty;
	const struct ctr_poller *poller; /* as ctr_spec's */
};
int ctr_exec(pid_t init_pid, const struct ctr_exec_spec *spec, int *status, error **err);

/* Rootless: calls fn(arg) in a child process in a new user namespace
 * where the caller is root, with its /etc/subuid and /etc/subgid ranges
 * mapped to 1..N (newuidmap/newgidmap), so that fn has the rights of
 * root over files a container gave to those ids (podman unshare).  fn
 * returns 0 or -errno (errno below 255).  Returns fn's result, or -1
 * with *err when there is no such namespace (no ranges, no newuidmap,
 * user namespaces disabled: the message says what to do). */
int ctr_userns_call(int (*fn)(void *arg), void *arg, error **err);

/* Calls fn(arg, err) with the ids a container had, for reading what a
 * container or a build step wrote to its upper: for a caller that is not
 * root, in a child in a user namespace mapped as ctr_run maps a
 * container's (the caller as 0, its /etc/subuid ranges as 1..N through
 * newuidmap, else the caller alone), so that stat shows the owners the
 * container set (0:0, not the caller's host uid) and directories it made
 * unreadable to the caller are read with the container root's rights.
 * The child shares nothing written in memory with the caller: fn reports
 * through descriptors (its error message comes back).  As root, fn runs
 * directly.  Returns 0, or -1 with *err. */
int ctr_as_container(int (*fn)(void *arg, error **err), void *arg, error **err);

#endif
