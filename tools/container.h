/* container — container records in the store (`layerfs run`, `ps`, `stop`
 * ...): <root>/containers/<id>/ with
 *   config.json  what to run: id (64 hex), name, image (the ref given, its
 *                ID and the layer chain, so the record survives a re-tag),
 *                argv (Entrypoint + Cmd resolved as docker does), env, cwd,
 *                user, hostname, network, ports, volumes, tty, interactive,
 *                created, stop_signal, auto_remove; written once
 *   state.json   status created|running|exited, the monitor's pid and its
 *                start time (field 22 of /proc/PID/stat) and the boot id,
 *                so that a reused pid, also after a reboot, is not taken
 *                for the monitor, the container's init pid
 *                (from ctr's on_started, or found in /proc by the command
 *                that started it; 0 when not known), exit code (128+N
 *                for signal N, 127 when it could not start), error,
 *                started_at, finished_at
 *                image_volumes (the image's VOLUMEs no -v covers:
 *                [{dst, name}], name the sha256 of dst)
 *   upper/ work/ the container's writable layer (kept across restarts)
 *   volumes/NAME/_data  an anonymous volume (image_volumes), filled from
 *                the image on the first start (ctr.h copy_up), kept across
 *                restarts, never committed, removed with the record
 *   log          what the command wrote (stdout and stderr)
 *   lock         flock: state.json is read-modify-written under it
 * The monitor is the process inside ctr_run(): the `layerfs run` process in
 * the foreground, a setsid() child of it with -d.  A record that says
 * running whose monitor is gone (killed, or the machine rebooted) reads as
 * exited (255); its upper stays.  Names are unique: they are checked and
 * a record created under the store's exclusive lock.
 * Every file is written temp + fsync + rename.
 */
#ifndef LAYERFS_CONTAINER_H
#define LAYERFS_CONTAINER_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "error.h"
#include "store.h"

enum ctn_status {
	CTN_CREATED,
	CTN_RUNNING,
	CTN_EXITED,
};

struct ctn_state {
	enum ctn_status status;
	pid_t monitor;
	unsigned long long monitor_start; /* /proc/PID/stat starttime */
	char boot_id[40];		  /* /proc/sys/kernel/random/boot_id then */
	pid_t init_pid;			  /* 0: not known (yet) */
	int exit_code;
	time_t started_at, finished_at; /* 0: never */
	char *error;			/* why the last start failed, or NULL */
};

struct ctn {
	char *id;	/* 64 hex digits */
	char *dir;	/* absolute path of containers/<id> */
	json_t *config; /* config.json (owned) */
	struct ctn_state state;
	int lock_fd; /* held flock on dir/lock, or -1 */
};

/* The fields a caller reads most (borrowed from config; "" when absent). */
const char *ctn_name(const struct ctn *c);
const char *ctn_image(const struct ctn *c);
const char *ctn_image_id(const struct ctn *c);
time_t ctn_created(const struct ctn *c);

/* Creates a record for config (borrowed; gets "id", "name" and "created"
 * set): name NULL gets a generated one (adjective_surname).  Fails with
 * -EEXIST naming the container that has the name already. */
int ctn_create(store *s, json_t *config, const char *name, struct ctn **out, error **err);

/* Finds a container by full id, name, or unique id prefix (as docker),
 * with its state refreshed (ctn_refresh).  -ENOENT: "no such container". */
int ctn_open(store *s, const char *ref, struct ctn **out, error **err);
/* Every container, newest first. */
int ctn_list(store *s, struct ctn ***out, size_t *n, error **err);
void ctn_list_free(struct ctn **cs, size_t n);
void ctn_free(struct ctn *c);

/* flock(dir/lock) exclusive, blocking; ctn_unlock releases. */
int ctn_lock(struct ctn *c, error **err);
void ctn_unlock(struct ctn *c);

/* Re-reads state.json and derives the status: a running record whose
 * monitor is gone becomes exited (255), written back when the lock can be
 * taken. */
int ctn_refresh(struct ctn *c, error **err);
/* Writes c->state as state.json. */
int ctn_state_write(struct ctn *c, error **err);
/* The start time of pid from /proc/PID/stat, 0 when it is gone. */
unsigned long long ctn_proc_start(pid_t pid);
/* This boot's id (/proc/sys/kernel/random/boot_id), "" if unknown. */
void ctn_boot_id(char out[40]);
/* Whether c's monitor (per c->state) is alive: same boot, and its pid
 * has the recorded start time. */
int ctn_monitor_alive(const struct ctn *c);

/* The container's init pid: from state.json, else found in /proc as the
 * monitor's descendant that is PID 1 of its own PID namespace; 0 when the
 * container is not (yet) running. */
pid_t ctn_init_pid(const struct ctn *c);

/* Path of a file in the record dir; caller frees. */
char *ctn_path(const struct ctn *c, const char *file);

/* Removes the record and its upper.  The caller made sure it is not
 * running. */
int ctn_remove(store *s, struct ctn *c, error **err);

/* Removes what interrupted removals (.rm-<id>) and creations (.new-<id>,
 * after an hour) left in containers/. */
int ctn_collect(store *s, error **err);

/* `container prune`: removes every container that is not running (its
 * status re-checked under its lock), calling report with each ID, then
 * ctn_collect(); *freed is the bytes their records and uppers held. */
int ctn_prune(store *s, void (*report)(void *arg, const char *id), void *arg, uint64_t *freed,
	      error **err);

/* A docker-style name "adjective_surname" (caller frees); attempt > 0
 * appends a digit, as docker does on a clash. */
char *ctn_random_name(unsigned attempt);

/* "Up 4 minutes", "Exited (0) 10 minutes ago", "Created"; caller frees. */
char *ctn_status_text(const struct ctn *c, time_t now);
/* The COMMAND column: the argv joined by spaces, arguments (not argv[0])
 * that hold a blank in single quotes, as docker lists it.  Caller frees. */
char *ctn_command_text(const struct ctn *c);

/* A `docker container inspect`-shaped object: Id, Name, Created, Path,
 * Args, State, Image, NetworkMode, Ports, Mounts, Config, plus the
 * record's directory; new reference. */
json_t *ctn_inspect_json(const struct ctn *c);

#endif
