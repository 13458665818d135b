/* ctr internals, shared by the three processes ctr_run() starts besides
 * the caller:
 *
 *   caller (ctr_run, ctr.c)
 *    `- holder (ctr.c): owns the user, mount, UTS, IPC (and network)
 *       |              namespaces; mounts the root with FUSE; unmounts it
 *       |              at the end, reaps the server, removes mount stubs
 *       |- server: lfs_fuse_serve's detached child, serves the root
 *       `- init (ctr_exec.c), PID 1 of a new PID namespace, in its own
 *          |    mount namespace: sets up /proc, /dev ... (ctr_root.c),
 *          |    pivot_root()s, forwards signals, reaps
 *          `- the command (ctr_exec.c): user, cwd, stdio, execve
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
	char *mnt;	 /* the root's mount point: a directory in work_dir */
	int rootless;	 /* the caller is not root: a user namespace */
	int single_id;	 /* rootless without subordinate ids: only uid and
			  * gid 0 exist, setgroups(2) is refused */
	int host_resolv; /* the host has /etc/resolv.conf to bind */
	int host_hosts;	 /* ... and /etc/hosts */
	int status_fd;	 /* write end of the status pipe (>= 3) */
	int sync_fd;	 /* rootless: the holder's end of the id-map handshake */
	int started_fd;	 /* init's end of the socket that tells the caller it runs */
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

/* ctr_root.c.  In the holder, through the mounted root (root_fd): creates
 * the mount stubs the image lacks, recording them in c->stubs. */
int ctr_stubs_make(struct ctr_ctx *c, int root_fd, error **err);
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
