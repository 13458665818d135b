/* dockerfile — the Dockerfile language: parsing into instructions, and the
 * word processing (quotes, escapes, variable substitution) the builder
 * applies to an instruction's arguments once it knows the environment.
 *
 * Parsing follows the Dockerfile reference and BuildKit's parser:
 *  - parser directives (`# escape=\` or "`", `# syntax=...`: accepted and
 *    ignored, like any unknown directive) only in the leading comment block;
 *  - comments (`#` as the first non-blank of a line) and blank lines,
 *    also inside a continued instruction (they are dropped, not joined);
 *  - line continuation: the escape character as the last non-blank of a
 *    line joins the next line (escape and newline removed);
 *  - keywords case-insensitive; an unknown keyword is an error naming it;
 *  - flags `--name=value` / `--name` (value NULL) right after the keyword,
 *    before the arguments (RUN, COPY, ADD, FROM, HEALTHCHECK); a lone `--`
 *    ends them;
 *  - exec form: arguments that are a JSON array of strings (RUN, CMD,
 *    ENTRYPOINT, SHELL, COPY, ADD, VOLUME); anything that does not parse
 *    as JSON (`['a']`, `["a"] b`) is the shell form, as in Docker; a JSON
 *    array holding anything but strings (`[1]`) is an error, as in Docker;
 *  - heredocs: `<<EOF`, `<<-EOF` (leading tabs stripped), `<<"EOF"` /
 *    `<<'EOF'` (no expansion) in RUN, COPY and ADD arguments (shell form
 *    only); the bodies follow the instruction line, each ends at a line
 *    equal to its word.  Not in ONBUILD triggers (an error: a trigger is
 *    stored as one line).  A file descriptor prefix (`3<<EOF`) is accepted
 *    and not kept;
 *  - the argument checks BuildKit makes before expansion: FROM image
 *    [AS name], COPY/ADD with a source and a destination, SHELL in JSON
 *    form, HEALTHCHECK NONE or CMD command, at least one argument for all
 *    but RUN, CMD and ENTRYPOINT.
 *
 * Nothing here allocates through anything but lfs_x* (aborting on OOM);
 * every error message names the file, line and column and what to do,
 * e.g. "Dockerfile:3:1: unknown instruction 'RUNN' (did you mean RUN?)".
 */
#ifndef LAYERFS_DOCKERFILE_H
#define LAYERFS_DOCKERFILE_H

#include <stddef.h>

#include "error.h"

enum df_kind {
	DF_FROM,
	DF_RUN,
	DF_CMD,
	DF_ENTRYPOINT,
	DF_ENV,
	DF_ARG,
	DF_LABEL,
	DF_EXPOSE,
	DF_WORKDIR,
	DF_COPY,
	DF_ADD,
	DF_USER,
	DF_VOLUME,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_HEALTHCHECK,
	DF_ONBUILD,
	DF_MAINTAINER,
};

/* "FROM", "RUN", ... (upper case) */
const char *df_kind_name(enum df_kind k);

struct df_flag {
	char *name; /* without the dashes: "from", "chown", "chmod", ... */
	/* The text after '=', NULL for a bare flag: not expanded, but (as
	 * BuildKit reads flags) with quotes removed and `\x` taken as x. */
	char *value;
};

struct df_heredoc {
	char *word; /* the delimiter, quotes removed: "EOF" */
	char *body; /* the lines between, each ending in '\n' (tabs stripped for <<-) */
	int expand; /* 1 when the delimiter was unquoted (the body gets substitution) */
};

struct df_instr {
	enum df_kind kind;
	unsigned line, column; /* of the keyword, 1-based */
	/* The instruction as written, continuations joined into one line with
	 * the escape+newline removed and flags kept, keyword upper-cased,
	 * trailing blanks trimmed, heredoc bodies not included: "RUN npm
	 * install" (history and progress show this). */
	char *text;
	struct df_flag *flags;
	size_t nflags;
	/* Exec form: json = 1 and args[0..nargs) the array's strings
	 * (args[nargs] is NULL).  Shell form: json = 0, nargs = 0.  Either
	 * way rest holds the text after the keyword and flags, trimmed
	 * (never NULL; may be "").  HEALTHCHECK: rest keeps the type
	 * ("CMD curl ..." or "NONE"); json and args describe an exec-form
	 * command after CMD. */
	int json;
	char **args;
	size_t nargs;
	char *rest;
	struct df_heredoc *heredocs; /* in order of appearance */
	size_t nheredocs;
	/* ONBUILD: the wrapped instruction (its kind is never ONBUILD, FROM or
	 * MAINTAINER); its text is what goes into the image config's OnBuild. */
	struct df_instr *onbuild;
};

struct df_file {
	char *name;  /* as given to df_parse, for messages */
	char escape; /* '\\' or '`' */
	struct df_instr *instrs;
	size_t n;
};

/* Parses a whole Dockerfile (text[0..len), need not be NUL-terminated).
 * name is what messages call it ("Dockerfile", "sub/app.Dockerfile").
 * Returns 0 and *out (free with df_file_free), or -EINVAL with a message
 * naming name:line:column.  An empty file (no instruction) is an error
 * ("no build stage in <name>"), as is an instruction before the first
 * FROM other than ARG. */
int df_parse(const char *name, const char *text, size_t len, struct df_file **out, error **err);
void df_file_free(struct df_file *f);
/* Parses one instruction line (an ONBUILD trigger taken from a base image's
 * config): same rules, no directives, heredocs refused, and an escape
 * character that ends the text is literal (a text never continues: it
 * is what df_parse made of a line that did not).  Exactly one instruction;
 * no FROM needed.  Messages name name:line:col. */
int df_parse_line(const char *name, const char *line, char escape, struct df_instr **out,
		  error **err);
void df_instr_free(struct df_instr *in);

/* Returns the flag's (first) entry, or NULL. */
const struct df_flag *df_flag_get(const struct df_instr *in, const char *name);
/* Fails with "FILE:LINE:COL: unknown flag --x for COPY (valid: --from, ...)"
 * when in has a flag not in the NULL-terminated list allowed.  f may be
 * NULL for an instruction from df_parse_line. */
int df_flags_check(const struct df_file *f, const struct df_instr *in, const char *const *allowed,
		   error **err);

/* --- Word processing (BuildKit's shell lexer) ----------------------------
 * Variables come from lookup: it returns the value of name (borrowed) or
 * NULL when unset.  Supported: $v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w}
 * ${v:?msg} ${v?msg} (error when unset/empty), escaped \$ (with the file's
 * escape char), single quotes (literal), double quotes (expansion, escape
 * of " $ and the escape char).  Unknown ${...} forms are an error naming
 * the word; so are BuildKit's pattern forms ${v#p} ${v##p} ${v%p} ${v%%p}
 * ${v/p/r} ${v//p/r}, not supported here.  Names are BuildKit's: letters,
 * digits and '_' ($1 and ${10} are digit runs, $@ $* $# $? $- $$ $! one
 * character); `$` before anything else is literal. */
typedef const char *df_lookup_fn(void *ctx, const char *name);

/* One word: quotes removed, escapes processed, variables expanded; the
 * result is one string even if it holds blanks ("ProcessWord"). */
int df_expand_word(const char *word, char escape, df_lookup_fn *lookup, void *ctx, char **out,
		   error **err);
/* Several words: splits on unquoted blanks (the result of an unquoted
 * expansion is split too, as BuildKit's ProcessWords does), then as
 * df_expand_word; *words is a NULL-terminated array of *n strings (free
 * with df_strv_free). */
int df_expand_words(const char *text, char escape, df_lookup_fn *lookup, void *ctx, char ***words,
		    size_t *n, error **err);
void df_strv_free(char **v);

/* ENV, LABEL and ARG arguments as key/value pairs, expanded:
 *  - `k=v k2="v 2"` (values processed as df_expand_word; keys too, as
 *    BuildKit does, so quotes are removed and `$x` expands); the words
 *    are split on blanks before anything expands, so every one needs its
 *    '=' (`ENV a=${x:-b c}` is an error, as in Docker);
 *  - legacy `ENV k v w` / `LABEL k v` (no '=' in the first word): one pair,
 *    the value the rest of the line processed as one word;
 *  - ARG: `name` (value NULL: no default) or `name=default`, several
 *    allowed.
 * An empty key, a missing value for ENV/LABEL, or (for ARG/ENV) a key that
 * is not a valid name (one holding '=', a blank or a control character)
 * is an error naming file:line:col.  Values expand against lookup alone,
 * so `ENV a=1 b=$a` sees the a from before the instruction (as in Docker).
 * f gives the escape character and the name for messages; NULL for an
 * instruction from df_parse_line ('\\' and "ONBUILD trigger"). */
struct df_kv {
	char *key;
	char *value; /* NULL: none given (ARG only) */
};
int df_parse_kv(const struct df_file *f, const struct df_instr *in, df_lookup_fn *lookup, void *ctx,
		struct df_kv **kv, size_t *n, error **err);
void df_kv_free(struct df_kv *kv, size_t n);

#endif
