/* ctn_run — running a container record's command (`layerfs run`,
 * `start`) and signalling it (`stop`, `kill`, `rm -f`).
 *
 * The process inside ctn_execute() is the container's monitor: it records
 * itself in state.json (pid + start time), runs the command with ctr_run()
 * over the image's layers and the record's upper/work, and records the
 * exit.  Output goes to the record's log, and, attached, to our own stdout
 * and stderr too; with a tty the pty's master is relayed both ways, the
 * caller's terminal in raw mode, its window size forwarded on SIGWINCH.
 * All of it is served from ctr_run's loop (struct ctr_poller): the
 * caller has no thread of its own.
 */
#ifndef LAYERFS_CTN_RUN_H
#define LAYERFS_CTN_RUN_H

#include <sys/types.h>

#include "container.h"
#include "ctr.h"
#include "error.h"
#include "store.h"

enum ctn_exec_flags {
	/* stdio relayed to ours (stdin only when the record is
	 * interactive), else only to the log */
	CTN_ATTACH = 1 << 0,
	/* docker's --sig-proxy (without a tty only, as docker): our SIGINT,
	 * SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 go to the command;
	 * without it the first of SIGINT/SIGTERM/SIGHUP stops the container
	 * (status 130, error EINTR) */
	CTN_SIG_PROXY = 1 << 1,
};

/* Runs c's command to its end (flags: enum ctn_exec_flags).  *status as
 * ctr_run's (0..255).  A container that could not start is recorded as
 * exited (127) with the error, which is also returned. */
int ctn_execute(store *s, struct ctn *c, unsigned flags, int *status, error **err);

/* Forks a monitor (a new session, stdio on /dev/null and the log) that
 * runs ctn_execute() and, when the record says auto_remove, removes it
 * afterwards.  Returns once the command runs (its init is up and has
 * exec'd it; the init pid is then in state.json), or it has ended, or
 * with the error that kept it from starting (which the record keeps as
 * Exited (127) too). */
int ctn_detach(store *s, struct ctn *c, error **err);

/* Sends sig to the running container c (its init, which passes the usual
 * signals on to the command; others go to the command itself).  -ESRCH
 * when it is not running. */
int ctn_signal(struct ctn *c, int sig, error **err);

/* Waits up to timeout_ms (-1: for ever) for c's monitor to exit; returns 1
 * when it has, 0 on timeout.  c's state is refreshed. */
int ctn_wait_exit(struct ctn *c, int timeout_ms, error **err);

/* Attached stdio for a command run elsewhere (`layerfs exec`): fds[0..2]
 * get what the command should use (pipes relayed to our stdio; with tty
 * a pty slave, our terminal raw until ctn_io_close), served by the
 * poller ctn_io_poller gives, which the runner (ctr_exec) must be handed.
 * SIGPIPE and (tty) SIGWINCH are blocked in the calling thread until
 * ctn_io_close. */
struct ctn_io;
int ctn_io_open(struct ctn_io **out, int tty, int interactive, int fds[3], error **err);
const struct ctr_poller *ctn_io_poller(struct ctn_io *io);
void ctn_io_close(struct ctn_io *io);

/* "SIGTERM", "TERM", "term" or "15" to a signal number; -1 when invalid. */
int ctn_parse_signal(const char *s);

#endif
