/* diff_upper — `layerfs diff UPPERDIR|MOUNTPOINT`: the changes of an
 * overlay upper directory as `docker diff` lists them (A/C/D lines), and
 * the lookup of an upper plus its lower layers shared with `layerfs commit`.
 * The command `layerfs diff` with one positional argument runs
 * diff_upper_run(); with two it compares images (tools/diff.c). */
#ifndef LAYERFS_DIFF_UPPER_H
#define LAYERFS_DIFF_UPPER_H

#include <stddef.h>

#include "error.h"
#include "mountstate.h"
#include "view.h"

/* Parses `layerfs diff [--image IMAGE | --layer A.tar ...] [--format json]
 * UPPERDIR|MOUNTPOINT` (argv[0] = "diff") and prints the changes. */
int diff_upper_run(int argc, char **argv, error **err);

/* An upper directory and the lower it was made over. */
struct upper_src {
	char *upper;	    /* absolute path of the upper directory */
	char *work;	    /* the mount's work directory, or NULL */
	char *image;	    /* the mount's image argument, or NULL */
	char **layer_paths; /* the mount's layer tars, lowest first (NULL-terminated), or NULL */
	struct view view;   /* the lower; view.u is NULL when there is none */
	int mounted;	    /* target was a recorded writable mount */
	int container;	    /* a container's upper: committed with its ids (ctr_upper_commit) */
};

/* target is an upper directory, or the mount point of a writable layerfs
 * mount (found through its mount record).  The lower is: the --layer tars
 * when ntars > 0, else image when not NULL, else the mount's layers, else
 * none.  A FUSE mount point without a record is an error saying to pass
 * the upper directory. */
int upper_src_open(struct upper_src *src, const char *target, const char *image, char *const *tars,
		   size_t ntars, error **err);
void upper_src_release(struct upper_src *src);

/* Raises the soft RLIMIT_NOFILE to the hard limit: the upper walk holds
 * one descriptor per directory level. */
void upper_raise_nofile(void);

#endif
