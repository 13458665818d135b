/* bld — the Dockerfile builder's internals (tools/build.c and bld_*.c).
 *
 * A build walks the stages a target needs, in file order.  Each stage is
 * an image under construction (struct bld_img): a config document, a chain
 * of stored layers and the cache key of that chain.  Every instruction
 * extends the key; instructions that change files (RUN, COPY, ADD, and
 * WORKDIR when it must create its directory) make one layer from a fresh
 * upper directory over the chain, stored with its cache entry before the
 * next step runs, so the cache survives a failed build.
 */
#ifndef LAYERFS_BLD_I_H
#define LAYERFS_BLD_I_H

#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "context.h"
#include "dockerfile.h"
#include "error.h"
#include "ignore.h"
#include "ovl.h"
#include "store.h"
#include "union.h"

/* ---- progress display ------------------------------------------------ */

enum bld_progress_mode {
	BLD_PROGRESS_PLAIN, /* "#N name", "#N DONE 1.2s": logs and CI */
	BLD_PROGRESS_TTY,   /* BuildKit's redrawn summary on a terminal */
	BLD_PROGRESS_QUIET, /* nothing (a failing step's log still goes to errors) */
};

typedef struct bld_progress bld_progress;

bld_progress *bld_progress_new(enum bld_progress_mode mode, FILE *out);
/* Final line ("[+] Building 1.2s (9/9) FINISHED" / "... ERROR"); frees. */
void bld_progress_free(bld_progress *p, int ok);
/* Starts a step named name; returns its number (#N). */
int bld_progress_start(bld_progress *p, const char *name);
/* Output of a running step, any chunking; lines are prefixed with the
 * step number and the time since it started. */
void bld_progress_log(bld_progress *p, int id, const char *data, size_t len);
/* A sub-task line inside a step ("writing image sha256:... done"). */
void bld_progress_note(bld_progress *p, int id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bld_progress_cached(bld_progress *p, int id);
void bld_progress_done(bld_progress *p, int id);
void bld_progress_error(bld_progress *p, int id, const char *msg);
/* The last lines of a step's output (for error messages); caller frees. */
char *bld_progress_tail(bld_progress *p, int id, unsigned lines);

/* ---- images under construction --------------------------------------- */

struct bld_img {
	json_t *config;		    /* whole image config, without rootfs */
	struct store_layer *layers; /* lowest first */
	size_t nlayers;
	char key[65]; /* cache key of this state (hex) */
};

void bld_img_release(struct bld_img *img);
void bld_img_copy(struct bld_img *dst, const struct bld_img *src);
/* Opens img's layers and their union; *n is the number of entries of
 * *layers (free them with store_layers_free(*layers, *n)).  An image with no
 * layer yet (FROM scratch) gets one empty directory as its lower: a root
 * 0755 owned by 0:0, time 0, that never becomes a layer of the image. */
struct build;
int bld_img_open(struct build *b, const struct bld_img *img, lfs_layer ***layers, size_t *n,
		 lfs_union **u, error **err);
/* Reads a whole regular file of the union (at most max bytes) into a new
 * NUL-terminated string; *out NULL when the path does not exist. */
int bld_union_read_file(lfs_union *u, const char *path, size_t max, char **out, error **err);

/* ---- COPY and ADD ------------------------------------------------------ */

/* ADD http(s)://...: a downloaded file. */
struct bld_url {
	char *name;	       /* the file name the URL gives (its last path component) */
	int fd;		       /* the downloaded bytes */
	struct timespec mtime; /* Last-Modified, else the download time */
};

/* Where a COPY/ADD takes its files from. */
struct bld_source {
	bctx *ctx;	  /* the build context, or */
	lfs_union *u;	  /* a stage or image (COPY --from) */
	const char *what; /* "build context" / "stage 'builder'" for messages */
};

struct bld_copy {
	const struct bld_source *src;
	char **srcs; /* expanded matches (context-relative or absolute in u) */
	size_t nsrcs;
	const char *dest; /* absolute, inside the image */
	int dest_dir;	  /* dest names a directory (ends in '/' or several sources) */
	uid_t uid;	  /* owner of everything copied (and created parents) */
	gid_t gid;
	int keep_owner;	 /* COPY --from without --chown: the source's owners */
	mode_t chmod;	 /* --chmod bits, or (mode_t)-1 to keep the source's */
	int add;	 /* ADD: extract local tar archives */
	int own_members; /* extracted members get uid:gid even when it is 0:0 */
	/* COPY <<EOF / ADD <<EOF: name -> body instead of srcs */
	const struct df_heredoc *heredocs;
	size_t nheredocs;
	const struct bld_url *urls; /* ADD URL sources (mode 0600, as docker) */
	size_t nurls;
};

/* Copies into o (an overlay over the current chain) per c. */
int bld_copy_run(lfs_ovl *o, const struct bld_copy *c, error **err);
/* Extracts the tar (possibly compressed) read from fd into directory
 * c->dest of o, made with its parents when missing, as ADD does: member
 * names with ".." or leaving the root are refused, symlinks in the way
 * are resolved inside the root; the members' owners unless c gives
 * a non-root uid:gid or own_members.  src names the archive in messages. */
int bld_copy_extract(lfs_ovl *o, const struct bld_copy *c, int fd, const char *src, error **err);
/* A union directory's children (no "." or ".."), filled by
 * lfs_union_readdir(u, dir, 0, bld_ulist_add, &list); the caller frees
 * each name and both arrays. */
struct bld_ulist {
	char **names;
	uint64_t *ids;
	size_t n;
};
int bld_ulist_add(void *ctx, const char *name, uint64_t id, mode_t type, uint64_t off);
/* Expands a source pattern against a union (wildcards per component);
 * sorted absolute paths. */
int bld_union_glob(lfs_union *u, const char *pattern, char ***out, size_t *n, error **err);
/* Resolves path in o, following symlinks inside the root (the last one
 * only with follow); with mkdirs, missing directories are created
 * (mode 0755, owner uid:gid).  *id gets a lookup reference. */
int bld_ovl_resolve(lfs_ovl *o, const char *path, int follow, int mkdirs, uid_t uid, gid_t gid,
		    uint64_t *id, struct stat *st, error **err);

/* Makes directory path and its missing parents (mode 0755, owner
 * uid:gid), symlinks followed inside the root; *id is the directory. */
int bld_ovl_mkdir_p(lfs_ovl *o, const char *path, uid_t uid, gid_t gid, uint64_t *id, error **err);

#endif
