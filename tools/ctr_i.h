/* ctr internals, shared by the processes ctr_run() and ctr_exec() start
 * besides the caller:
 *
 *   caller (ctr_run, ctr.c)
 *    |- slirp4netns, proxy (ctr_net.c): CTR_NET_PRIVATE
 *    `- holder (ctr.c): owns the user, mount, UTS, IPC (and network)
 *       |              namespaces; mounts the root with FUSE; unmounts it
 *       |              at the end, reaps the server, removes mount stubs
 *       |- port helper (ctr_net.c): connects inside for the proxy
 *       |- server: lfs_fuse_serve's detached child, serves the root
 *       `- init (ctr_exec.c), PID 1 of a new PID namespace, in its own
 *          |    mount namespace: sets up /proc, /dev ... (ctr_root.c),
 *          |    pivot_root()s, forwards signals, reaps
 *          `- the command (ctr_exec.c): user, cwd, stdio, execve
 *
 * ctr_exec (ctr_join.c): caller -> joiner (enters the namespaces and
 * the root) -> the command, in the container's PID namespace.
 *
 * Failures in the holder, init or the command before execve() reach the
 * caller as one record on the status pipe (ctr_die); the exit codes only
 * carry the command's status.
 */
#ifndef LAYERFS_CTR_I_H
#define LAYERFS_CTR_I_H

#include <signal.h>
#include <sys/types.h>

#include "ctr.h"

/* Mount points the image may lack (mount stubs), in creation order. */
enum ctr_stub {
	CTR_STUB_PROC = 1 << 0,
	CTR_STUB_DEV = 1 << 1,
	CTR_STUB_SYS = 1 << 2,
	CTR_STUB_ETC = 1 << 3,	      /* /etc itself was missing */
	CTR_STUB_RESOLV = 1 << 4,     /* /etc/resolv.conf */
	CTR_STUB_HOSTS = 1 << 5,      /* /etc/hosts */
	CTR_STUB_ETC_COPIED = 1 << 6, /* /etc came into the upper only for a stub */
};

/* A volume's mount point the holder created, or a directory that
 * creating it copied into the upper (rel: from the root, no leading /). */
struct ctr_vstub {
	char *rel;
	int dir;
	int copied;
};

/* What every process of one run knows (set up by the caller before the
 * first fork, read-only afterwards except stubs, which only the holder
 * writes). */
struct ctr_ctx {
	const struct ctr_spec *spec;
	char *mnt;	   /* the root's mount point: a directory in work_dir */
	int rootless;	   /* the caller is not root: a user namespace */
	int single_id;	   /* rootless without subordinate ids: only uid and
			    * gid 0 exist, setgroups(2) is refused */
	int host_resolv;   /* the host has /etc/resolv.conf to bind */
	char *resolv;	   /* CTR_NET_PRIVATE: the resolv.conf to bind instead
			    * of the host's (slirp4netns's DNS), in work_dir */
	int host_hosts;	   /* ... and /etc/hosts */
	int status_fd;	   /* write end of the status pipe (>= 3) */
	int sync_fd;	   /* rootless: the holder's end of the id-map handshake */
	int port_fd;	   /* the holder's end of the port helper's socket */
	pid_t port_helper; /* the holder's child in the container's network */
	int started_fd;	   /* init's end of the socket that tells the caller it
			    * runs; it hangs up when init exits */
	pid_t caller;
	unsigned stubs;		  /* enum ctr_stub: what the holder created */
	struct ctr_vstub *vstubs; /* only the holder's */
	size_t nvstubs;
};

/* Sends err to the caller through the status pipe (one atomic write: the
 * first record is the one the caller reports). */
void ctr_report(const struct ctr_ctx *c, const error *err);
/* ctr_report, then _exit(status). */
_Noreturn void ctr_die(const struct ctr_ctx *c, error *err, int status);

/* ctr.c, the holder: runs as the caller's child, never returns. */
_Noreturn void ctr_holder(struct ctr_ctx *c);

/* Waits for the child pid, signals in set blocked: SIGINT/SIGTERM/SIGHUP
 * (from the caller, the terminal or the caller's death) SIGKILL it (for
 * init: the whole PID namespace).  Returns its status as ctr_run's. */
int ctr_wait_child(pid_t pid, const sigset_t *set);

/* For ctr_exec, in the caller: forks child(c', arg), where c' is c with a
 * status pipe of its own (status_fd), and waits for it as ctr_run waits
 * for the holder (child must not return; the caller's SIGINT/SIGTERM/SIGHUP send it SIGTERM and
 * make this return -EINTR).  Returns as ctr_run. */
typedef void ctr_child_fn(const struct ctr_ctx *c, const void *arg);
int ctr_supervise(const struct ctr_ctx *c, ctr_child_fn *child, const void *arg, int *status,
		  error **err);

/* ctr_net.c: CTR_NET_PRIVATE.  The caller's side: */
struct ctr_netstate {
	int *listen; /* per spec->ports[i], bound before anything starts */
	size_t n;
	int helper;	/* our end of the port helper's socket (with ports) */
	pid_t slirp;	/* slirp4netns, our child */
	int slirp_exit; /* its --exit-fd: closing it stops slirp4netns */
	pid_t proxy;	/* the port proxy, our child */
};
/* 1 with its path when slirp4netns is installed. */
int ctr_net_have_slirp(char *path, size_t size);
/* Binds the published ports (a port in use is an error naming it) and
 * makes the port helper's socket pair: *holder_fd is the holder's end. */
int ctr_net_prepare(struct ctr_netstate *n, const struct ctr_spec *s, int *holder_fd, error **err);
/* Once the holder has its network namespace: starts slirp4netns on it and
 * waits until it is configured, then forks the proxy (which takes over the
 * listening sockets). */
int ctr_net_start(struct ctr_netstate *n, const struct ctr_spec *s, pid_t holder, error **err);
/* Closes our copies of the listening sockets and the helper's socket. */
void ctr_net_close(struct ctr_netstate *n);
/* Once the container's processes are gone: kills the proxy and
 * slirp4netns without waiting for them (ctr_net_stop reaps them). */
void ctr_net_halt(struct ctr_netstate *n);
/* Stops the proxy and slirp4netns, closes and frees everything. */
void ctr_net_stop(struct ctr_netstate *n);
/* In the holder, inside the new network namespace: forks the helper that
 * connects to the container's ports for the proxy (when c->port_fd). */
int ctr_net_helper(struct ctr_ctx *c, error **err);

/* ctr_root.c.  In the holder, through the mounted root (root_fd): creates
 * the mount stubs the image lacks, recording them in c->stubs, after the
 * copy-up of each anonymous volume (ctr_volume_init). */
int ctr_stubs_make(struct ctr_ctx *c, int root_fd, error **err);
/* ctr_vol.c.  In the holder, before m's mount point is made: the copy-up
 * of the anonymous volume m (m->copy_up, see struct ctr_mount). */
int ctr_volume_init(const struct ctr_ctx *c, int root_fd, const struct ctr_mount *m, error **err);
/* An O_PATH descriptor of path inside the container's root open at root:
 * symlinks are followed as the container would see them, never out of
 * the root; -1 with errno. */
int ctr_open_in_root(int root, const char *path, int flags);
/* In the holder once the server is gone: removes from the upper dir the
 * stubs that are still empty.  Best effort. */
void ctr_stubs_remove(const struct ctr_ctx *c);
/* In init: a private mount namespace, /proc, /dev, /sys, resolv.conf and
 * hosts, then pivot_root() into c->mnt. */
int ctr_root_setup(const struct ctr_ctx *c, error **err);

/* ctr_exec.c.  Init (PID 1): sets up the root, starts the command, waits;
 * exits with the command's status (128+N when killed by signal N). */
_Noreturn void ctr_init(const struct ctr_ctx *c);
/* The command, in the container (root, namespaces) as c->spec says: user,
 * cwd, stdio, tty, execve.  Failures go to c->status_fd, exit 127. */
_Noreturn void ctr_command(const struct ctr_ctx *c);

#endif
