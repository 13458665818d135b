/* bld_build — the state of one `layerfs build` shared by build.c (the
 * command, stages, export) and bld_step.c (one instruction at a time). */
#ifndef LAYERFS_BLD_BUILD_H
#define LAYERFS_BLD_BUILD_H

#include <stdint.h>

#include "bld_i.h"

struct build_opts {
	char **tags;
	size_t ntags;
	const char *file;  /* -f: path of the Dockerfile, NULL: CONTEXT/Dockerfile */
	char **build_args; /* K=V or K (value from the environment) */
	size_t nbuild_args;
	char **labels; /* --label K=V */
	size_t nlabels;
	const char *target;
	const char *iidfile;
	int no_cache;
	int quiet;
	enum bld_progress_mode progress;
	int network_none; /* --network=none for every RUN */
	const char *context;
};

struct stage {
	char *name; /* AS name, lower case; NULL when unnamed */
	size_t index;
	size_t first, end; /* instructions [first, end): first is the FROM */
	size_t nsteps;	   /* FROM + file-changing instructions: the N of [i/N] */
	int needed, built;
	struct bld_img img;
};

struct build {
	const struct build_opts *o;
	store *s;
	struct df_file *df;
	char *df_name; /* for messages: "Dockerfile" as given */
	ign *ignore;
	bctx *ctx; /* opened on first use */
	struct stage *st;
	size_t nst;
	struct stage *target; /* the stage whose image is the result */
	json_t *meta_args;    /* ARGs before the first FROM: name -> string or null */
	json_t *build_args;   /* --build-arg: name -> string */
	json_t *used_args;    /* names of build args some ARG consumed */
	bld_progress *prog;
	int64_t epoch; /* SOURCE_DATE_EPOCH or -1 */
	char *scratch; /* <store>/tmp/build-XXXXXX */
	unsigned nscratch;
};

/* A stage being built. */
struct scope {
	struct build *b;
	struct stage *st;
	struct bld_img *img;
	json_t *args; /* ARGs declared in this stage: name -> string or null */
	size_t step;  /* steps done, for [i/N] */
	int cmd_set;  /* this stage set CMD (so ENTRYPOINT keeps it) */
};

/* Runs instruction in (not FROM) of the stage. */
int bld_exec(struct scope *sc, const struct df_instr *in, error **err);
/* Looks up a variable as instructions see it: ENV, then ARG. */
const char *bld_lookup(void *scope, const char *name);
/* Looks up a global ARG (FROM lines). */
const char *bld_meta_lookup(void *build, const char *name);
/* "[2/4] RUN x" / "[builder 2/4] RUN x" for step i of the stage. */
char *bld_step_name(const struct scope *sc, size_t i, const char *text);
/* Adds "created_by" history for a step (empty_layer unless layer). */
void bld_history_add(struct scope *sc, const char *created, const char *by, int layer);
/* A new scratch directory under b->scratch; caller frees the path. */
char *bld_scratch_new(struct build *b, const char *what, error **err);
/* Removes a directory tree (scratch uppers may hold read-only dirs). */
void bld_rm_tree(const char *path);
/* Resolves a stage by name or index ("0", "builder"); NULL if none. */
struct stage *bld_stage_find(struct build *b, const char *name);
/* Extends key (hex) with material: key = sha256(key "\n" material). */
void bld_key_extend(char key[65], const char *material);
/* "file:line: " prefix for messages about in. */
char *bld_where(const struct build *b, const struct df_instr *in);

#endif
