/* dockerfile — the Dockerfile language (see dockerfile.h).
 *
 * Line handling, directives, flags and heredoc detection follow BuildKit's
 * frontend/dockerfile/parser; word processing follows its shell lexer
 * (frontend/dockerfile/shell/lex.go).  Where those have quirks that change
 * what a Dockerfile means (trailing escapes dropped, empty quoted words
 * vanishing from word lists, legacy `ENV k v`), the quirks are kept, so a
 * Dockerfile builds here the way it builds under `docker build`.
 * Characters are bytes: "blank" and "letter" are the ASCII ones.
 */
#include "dockerfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "util.h"

/* ${...} may nest (${a:-${b:-c}}); bound it so hostile input cannot
 * exhaust the stack. */
#define MAX_NESTING 64

/* ---- small helpers --------------------------------------------------------- */

struct where {
	const char *name;
	unsigned line, col;
};


static int fail_at(error **err, const struct where *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(error **err, const struct where *at, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	lfs_buf_addf(&b, "%s:%u:%u: ", at->name, at->line, at->col);
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	error_fail(err, EINVAL, "%s", b.data);
	lfs_buf_release(&b);
	return -EINVAL;
}

/* Go's unicode.IsSpace, restricted to ASCII. */
static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_blanks(const char *s)
{
	while (is_blank((unsigned char)*s))
		s++;
	return s;
}

static char *dup_trimmed(const char *s)
{
	s = skip_blanks(s);
	size_t n = strlen(s);
	while (n && is_blank((unsigned char)s[n - 1]))
		n--;
	return lfs_xstrndup(s, n);
}

/* Makes room for element n of an array grown by doubling: when elements
 * are only ever appended one at a time, no capacity needs storing. */
static void *grow(void *p, size_t n, size_t size)
{
	if (n & (n - 1))
		return p;
	return lfs_xrealloc(p, (n ? 2 * n : 1) * size);
}

/* A NULL-terminated string vector being built. */
struct strv {
	char **v;
	size_t n;
};

static void strv_push(struct strv *s, char *str)
{
	s->v = grow(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void df_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* ---- word processing (BuildKit's shell lexer) ------------------------------ */

struct lex {
	const char *s; /* the word, NUL-terminated */
	size_t pos;
	int esc;
	df_lookup_fn *lookup; /* NULL: every variable is unset */
	void *ctx;
	/* The heredoc detector's modes (BuildKit's RawQuotes, RawEscapes,
	 * SkipUnsetEnv): keep quotes / escapes in the result, and leave
	 * unset variables as written. */
	unsigned raw_quotes : 1, raw_esc : 1, skip_unset : 1;
	unsigned depth;
	lfs_buf msg; /* what went wrong */
};

/* The words of ProcessWords: blanks split, except quoted or escaped ones. */
struct words {
	lfs_buf cur;
	struct strv out;
};

static int lex_run(struct lex *lx, int stop, int raw_esc, lfs_buf *out, struct words *w);

static int lex_error(struct lex *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lex_error(struct lex *lx, const char *fmt, ...)
{
	va_list ap;
	lfs_buf_reset(&lx->msg);
	va_start(ap, fmt);
	lfs_buf_vaddf(&lx->msg, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int peek(const struct lex *lx)
{
	unsigned char c = (unsigned char)lx->s[lx->pos];
	return c ? c : -1;
}

static int next(struct lex *lx)
{
	int c = peek(lx);
	if (c >= 0)
		lx->pos++;
	return c;
}

static void words_flush(struct words *w)
{
	if (w->cur.len)
		strv_push(&w->out, lfs_buf_detach(&w->cur, NULL));
}

/* A character that splits words when it is a blank. */
static void words_char(struct words *w, int c)
{
	if (!w)
		return;
	if (is_blank(c))
		words_flush(w);
	else
		lfs_buf_addch(&w->cur, c);
}

/* Escaped or quoted text: never splits. */
static void words_raw(struct words *w, const char *s, size_t n)
{
	if (w)
		lfs_buf_add(&w->cur, s, n);
}

static const char *lookup_var(const struct lex *lx, const char *name)
{
	return lx->lookup ? lx->lookup(lx->ctx, name) : NULL;
}

/* A variable name: a run of digits ($1), one special parameter ($?), or
 * letters, digits and '_'.  Empty when none of these follows. */
static void lex_name(struct lex *lx, lfs_buf *name)
{
	int c = peek(lx);
	if (is_digit(c)) {
		while (is_digit(peek(lx)))
			lfs_buf_addch(name, next(lx));
		return;
	}
	if (c > 0 && strchr("@*#?-$!", c)) {
		lfs_buf_addch(name, next(lx));
		return;
	}
	while ((c = peek(lx)) > 0 && (is_alpha(c) || is_digit(c) || c == '_'))
		lfs_buf_addch(name, next(lx));
}

static void put_var(struct lex *lx, const char *name, int braces, lfs_buf *out)
{
	const char *v = lookup_var(lx, name);
	if (v)
		lfs_buf_addstr(out, v);
	else if (lx->skip_unset)
		lfs_buf_addf(out, braces ? "${%s}" : "$%s", name);
}

static int unsupported(struct lex *lx, const char *name, const char *op)
{
	return lex_error(lx,
			 "unsupported substitution ${%s%s...}: use ${%s}, ${%s:-default}, "
			 "${%s:+alternative} or ${%s:?message}",
			 name, op, name, name, name, name);
}

/* ${v/pattern/replacement}: only reproduced as written (the heredoc
 * detector's mode); expanding it is not supported. */
static int lex_pattern(struct lex *lx, const char *name, lfs_buf *out)
{
	cleanup_buf lfs_buf pat = LFS_BUF_INIT;
	cleanup_buf lfs_buf rep = LFS_BUF_INIT;

	if (!lx->skip_unset || lookup_var(lx, name))
		return unsupported(lx, name, "/");
	if (peek(lx) == '/')
		next(lx);
	if (lex_run(lx, '/', 1, &pat, NULL) < 0)
		return peek(lx) < 0 ? lex_error(lx, "missing '/' in ${}") : -EINVAL;
	if (lex_run(lx, '}', 1, &rep, NULL) < 0)
		return peek(lx) < 0 ? lex_error(lx, "missing '}'") : -EINVAL;
	lfs_buf_addf(out, "${%s/%s/%s}", name, pat.data, rep.data);
	return 0;
}

static int apply_modifier(struct lex *lx, const char *name, const char *op, const char *v,
			  const lfs_buf *word, lfs_buf *out)
{
	int colon = op[0] == ':', c = (unsigned char)op[colon];
	int empty = !v || (colon && !*v); /* "unset" for this modifier */

	switch (c) {
	case '-':
		lfs_buf_addstr(out, empty ? word->data : v);
		return 0;
	case '+':
		if (!empty)
			lfs_buf_add(out, word->data, word->len);
		return 0;
	case '?':
		if (empty)
			return lex_error(lx, "%s: %s", name,
					 word->len ? word->data
					 : v	   ? "is not allowed to be empty"
						   : "is not allowed to be unset");
		lfs_buf_addstr(out, v);
		return 0;
	default:
		return unsupported(lx, name, op);
	}
}

/* After "${name": a modifier, its word, then '}'. */
static int lex_modifier(struct lex *lx, const char *name, int c, lfs_buf *out)
{
	cleanup_buf lfs_buf word = LFS_BUF_INIT;
	char op[3] = {(char)c, 0, 0};

	if (c == ':') {
		c = next(lx);
		op[1] = (char)c;
	}
	if (c < 0)
		return lex_error(lx, "missing '}'");
	if (op[0] != ':' && !strchr("+-?#%/", c))
		return unsupported(lx, name, op);
	if (op[0] == '/')
		return lex_pattern(lx, name, out);
	if (lex_run(lx, '}', c == '#' || c == '%', &word, NULL) < 0)
		return peek(lx) < 0 ? lex_error(lx, "missing '}'") : -EINVAL;
	const char *v = lookup_var(lx, name);
	if (!v && lx->skip_unset) {
		lfs_buf_addf(out, "${%s%s%s}", name, op, word.data);
		return 0;
	}
	return apply_modifier(lx, name, op, v, &word, out);
}

static int lex_braces(struct lex *lx, lfs_buf *out)
{
	cleanup_buf lfs_buf name = LFS_BUF_INIT;
	int c = peek(lx);

	if (c < 0)
		return lex_error(lx, "missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return lex_error(lx, "bad substitution: write ${NAME}, NAME made of letters, "
				     "digits and '_'");
	lex_name(lx, &name);
	c = next(lx);
	if (c == '}') {
		put_var(lx, name.data, 1, out);
		return 0;
	}
	return lex_modifier(lx, name.data, c, out);
}

static int lex_dollar(struct lex *lx, lfs_buf *out)
{
	next(lx); /* '$' */
	if (peek(lx) != '{') {
		cleanup_buf lfs_buf name = LFS_BUF_INIT;
		lex_name(lx, &name);
		if (!name.len)
			lfs_buf_addch(out, '$');
		else
			put_var(lx, name.data, 0, out);
		return 0;
	}
	next(lx);
	if (++lx->depth > MAX_NESTING)
		return lex_error(lx, "${...} nested more than %d deep", MAX_NESTING);
	int ret = lex_braces(lx, out);
	lx->depth--;
	return ret;
}

/* Everything up to the next single quote, taken as is. */
static int lex_single(struct lex *lx, lfs_buf *out)
{
	int c = next(lx);
	if (lx->raw_quotes)
		lfs_buf_addch(out, c);
	while ((c = next(lx)) != '\'') {
		if (c < 0)
			return lex_error(lx, "unterminated single quote: add the closing '");
		lfs_buf_addch(out, c);
	}
	if (lx->raw_quotes)
		lfs_buf_addch(out, c);
	return 0;
}

/* Up to the next unescaped double quote: $ expands, and the escape
 * character escapes only '"', '$' and itself (else it stays). */
static int lex_double(struct lex *lx, lfs_buf *out)
{
	int c = next(lx);
	if (lx->raw_quotes)
		lfs_buf_addch(out, c);
	for (;;) {
		c = peek(lx);
		if (c < 0)
			return lex_error(lx, "unterminated double quote: add the closing \"");
		if (c == '$') {
			if (lex_dollar(lx, out) < 0)
				return -EINVAL;
			continue;
		}
		next(lx);
		if (c == '"')
			break;
		if (c == lx->esc) {
			if (lx->raw_esc)
				lfs_buf_addch(out, c);
			int d = peek(lx);
			if (d < 0)
				continue; /* reported as the missing quote */
			if (d == '"' || d == '$' || d == lx->esc)
				c = next(lx);
		}
		lfs_buf_addch(out, c);
	}
	if (lx->raw_quotes)
		lfs_buf_addch(out, c);
	return 0;
}

/* One element: a quoted string, an expansion, an escaped or plain byte. */
static int lex_step(struct lex *lx, lfs_buf *out, struct words *w)
{
	int c = peek(lx);
	if (c == '$' || c == '\'' || c == '"') {
		cleanup_buf lfs_buf tmp = LFS_BUF_INIT;
		int r = c == '$'   ? lex_dollar(lx, &tmp)
			: c == '"' ? lex_double(lx, &tmp)
				   : lex_single(lx, &tmp);
		if (r < 0)
			return r;
		lfs_buf_add(out, tmp.data, tmp.len);
		if (c != '$')
			words_raw(w, tmp.data, tmp.len);
		else
			for (size_t i = 0; i < tmp.len; i++)
				words_char(w, (unsigned char)tmp.data[i]);
		return 0;
	}
	next(lx);
	if (c == lx->esc) {
		if (lx->raw_esc) {
			lfs_buf_addch(out, c);
			words_raw(w, out->data + out->len - 1, 1);
		}
		c = next(lx);
		if (c < 0)
			return 0; /* a trailing escape is dropped */
		lfs_buf_addch(out, c);
		words_raw(w, out->data + out->len - 1, 1);
		return 0;
	}
	lfs_buf_addch(out, c);
	words_char(w, c);
	return 0;
}

/* BuildKit's processStopOn: up to stop (consumed) or, when stop is -1,
 * the end of the word. */
static int lex_run(struct lex *lx, int stop, int raw_esc, lfs_buf *out, struct words *w)
{
	unsigned saved = lx->raw_esc;
	int ret = 0;

	lx->raw_esc = raw_esc;
	for (;;) {
		int c = peek(lx);
		if (c < 0) {
			if (stop >= 0)
				ret = lex_error(lx, "missing '%c'", stop);
			break;
		}
		if (c == stop) {
			next(lx);
			break;
		}
		if ((ret = lex_step(lx, out, w)) < 0)
			break;
	}
	lx->raw_esc = saved;
	return ret;
}

/* Runs the lexer over word; on failure the error names the word. */
static int lex_word(struct lex *lx, lfs_buf *out, struct words *w, error **err)
{
	int ret = lex_run(lx, -1, lx->raw_esc, out, w);
	if (ret < 0)
		error_fail(err, EINVAL, "'%.200s%s': %s", lx->s, strlen(lx->s) > 200 ? "..." : "", lx->msg.data);
	lfs_buf_release(&lx->msg);
	return ret;
}

int df_expand_word(const char *word, char escape, df_lookup_fn *lookup, void *ctx, char **out,
		   error **err)
{
	struct lex lx = {.s = word, .esc = escape, .lookup = lookup, .ctx = ctx};
	cleanup_buf lfs_buf res = LFS_BUF_INIT;

	lx.msg = (lfs_buf)LFS_BUF_INIT;
	if (lex_word(&lx, &res, NULL, err) < 0)
		return -EINVAL;
	*out = lfs_buf_detach(&res, NULL);
	return 0;
}

/* ProcessWords in the given mode; words->out receives the words. */
static int lex_words(struct lex *lx, struct words *w, error **err)
{
	cleanup_buf lfs_buf res = LFS_BUF_INIT;

	w->cur = (lfs_buf)LFS_BUF_INIT;
	lx->msg = (lfs_buf)LFS_BUF_INIT;
	int ret = lex_word(lx, &res, w, err);
	words_flush(w);
	lfs_buf_release(&w->cur);
	if (ret < 0)
		strv_release(&w->out);
	return ret;
}

int df_expand_words(const char *text, char escape, df_lookup_fn *lookup, void *ctx, char ***words,
		    size_t *n, error **err)
{
	struct lex lx = {.s = text, .esc = escape, .lookup = lookup, .ctx = ctx};
	struct words w = {.out = {NULL, 0}};

	if (lex_words(&lx, &w, err) < 0)
		return -EINVAL;
	*words = w.out.v ? w.out.v : lfs_xcalloc(1, sizeof(char *));
	*n = w.out.n;
	return 0;
}

/* ---- instructions ---------------------------------------------------------- */

static const char *const kind_names[] = {
    [DF_FROM] = "FROM",
    [DF_RUN] = "RUN",
    [DF_CMD] = "CMD",
    [DF_ENTRYPOINT] = "ENTRYPOINT",
    [DF_ENV] = "ENV",
    [DF_ARG] = "ARG",
    [DF_LABEL] = "LABEL",
    [DF_EXPOSE] = "EXPOSE",
    [DF_WORKDIR] = "WORKDIR",
    [DF_COPY] = "COPY",
    [DF_ADD] = "ADD",
    [DF_USER] = "USER",
    [DF_VOLUME] = "VOLUME",
    [DF_SHELL] = "SHELL",
    [DF_STOPSIGNAL] = "STOPSIGNAL",
    [DF_HEALTHCHECK] = "HEALTHCHECK",
    [DF_ONBUILD] = "ONBUILD",
    [DF_MAINTAINER] = "MAINTAINER",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *df_kind_name(enum df_kind k)
{
	return (unsigned)k < NKINDS ? kind_names[k] : "?";
}

static int kind_of(const char *s, size_t n)
{
	for (size_t k = 0; k < NKINDS; k++)
		if (strlen(kind_names[k]) == n && !strncasecmp(s, kind_names[k], n))
			return (int)k;
	return -1;
}

static size_t edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[16];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t sub = diag + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
			size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

/* "unknown instruction 'RUNN' (did you mean RUN?)", suggesting like
 * BuildKit: the closest keyword within two edits. */
static int unknown_instruction(const struct where *at, const char *kw, size_t n, error **err)
{
	const char *best = NULL;
	size_t dist = 3;

	for (size_t k = 0; n <= 32 && k < NKINDS; k++) {
		size_t d = edit_distance(kw, n, kind_names[k]);
		if (d < dist) {
			dist = d;
			best = kind_names[k];
		}
	}
	if (best)
		return fail_at(err, at, "unknown instruction '%.*s' (did you mean %s?)",
			       (int)(n > 40 ? 40 : n), kw, best);
	return fail_at(err, at,
		       "unknown instruction '%.*s': use FROM, RUN, CMD, ENTRYPOINT, ENV, ARG, "
		       "LABEL, EXPOSE, WORKDIR, COPY, ADD, USER, VOLUME, SHELL, STOPSIGNAL, "
		       "HEALTHCHECK, ONBUILD or MAINTAINER",
		       (int)(n > 40 ? 40 : n), kw);
}

static int takes_flags(enum df_kind k)
{
	return k == DF_RUN || k == DF_COPY || k == DF_ADD || k == DF_FROM || k == DF_HEALTHCHECK;
}

static void add_flag(struct df_instr *in, const char *word)
{
	const char *name = word + 2, *eq = strchr(name, '=');
	struct df_flag *fl;

	in->flags = grow(in->flags, in->nflags, sizeof(*in->flags));
	fl = &in->flags[in->nflags++];
	fl->name = eq ? lfs_xstrndup(name, (size_t)(eq - name)) : lfs_xstrdup(name);
	fl->value = eq ? lfs_xstrdup(eq + 1) : NULL;
}

/* One flag word as BuildKit's extractBuilderFlags reads it: quotes removed
 * (blanks inside them kept), '\\' taking the next byte literally. */
static const char *flag_word(const char *s, lfs_buf *w)
{
	char q = 0;
	for (; *s && (q || !is_blank((unsigned char)*s)); s++) {
		if (q ? *s == q : (*s == '\'' || *s == '"')) {
			q = q ? 0 : *s;
			continue;
		}
		if (*s == '\\') {
			if (!s[1])
				continue; /* a trailing backslash is dropped */
			s++;
		}
		lfs_buf_addch(w, *s);
	}
	return s;
}

/* Leading `--name[=value]` words; returns where the arguments start.  A
 * lone `--` ends the flags. */
static const char *extract_flags(const char *s, struct df_instr *in)
{
	cleanup_buf lfs_buf word = LFS_BUF_INIT;

	for (;;) {
		s = skip_blanks(s);
		if (s[0] != '-' || s[1] != '-')
			return s;
		lfs_buf_reset(&word);
		s = flag_word(s, &word);
		if (!strcmp(word.data, "--"))
			return s;
		add_flag(in, word.data);
	}
}

/* Exec form (BuildKit's parseJSON): 1 when s is a JSON array of strings
 * (in->args filled), 0 when it is not JSON (shell form), -EINVAL for an
 * array holding something else, which Docker refuses rather than handing
 * it to a shell. */
static int exec_form(const char *s, struct df_instr *in, const struct where *at, error **err)
{
	json_error_t jerr;
	json_t *j;

	if (*s != '[' || !(j = json_loads(s, 0, &jerr)))
		return 0;
	if (!json_is_array(j)) {
		json_decref(j);
		return 0;
	}
	size_t n = json_array_size(j);
	for (size_t i = 0; i < n; i++)
		if (!json_is_string(json_array_get(j, i))) {
			json_decref(j);
			return fail_at(err, at,
				       "%s: a JSON array (exec form) must hold only strings; quote "
				       "every element",
				       df_kind_name(in->kind));
		}
	in->args = lfs_xcalloc(n + 1, sizeof(*in->args));
	for (size_t i = 0; i < n; i++)
		in->args[i] = lfs_xstrdup(json_string_value(json_array_get(j, i)));
	in->nargs = n;
	in->json = 1;
	json_decref(j);
	return 1;
}

/* HEALTHCHECK NONE | HEALTHCHECK [flags] CMD command: rest keeps the type;
 * json/args describe an exec-form command. */
static int parse_healthcheck(struct df_instr *in, const struct where *at, error **err)
{
	size_t n = strcspn(in->rest, " \t\v\f\r\n");
	const char *cmd = skip_blanks(in->rest + n);

	if (!n)
		return 0; /* reported by check_args */
	if (n == 4 && !strncasecmp(in->rest, "NONE", 4)) {
		if (*cmd)
			return fail_at(err, at, "HEALTHCHECK NONE takes no arguments");
		return 0;
	}
	if (n != 3 || strncasecmp(in->rest, "CMD", 3))
		return fail_at(err, at, "unknown HEALTHCHECK type '%.*s': use CMD or NONE",
			       (int)(n > 40 ? 40 : n), in->rest);
	if (!*cmd)
		return fail_at(err, at, "missing command after HEALTHCHECK CMD");
	return exec_form(cmd, in, at, err) < 0 ? -EINVAL : 0;
}

/* The first max blank-separated fields of s; returns how many there are. */
static size_t fields(const char *s, const char **f, size_t *len, size_t max)
{
	size_t n = 0;
	for (s = skip_blanks(s); *s; s = skip_blanks(s)) {
		size_t l = strcspn(s, " \t\v\f\r\n");
		if (n < max) {
			f[n] = s;
			len[n] = l;
		}
		n++;
		s += l;
	}
	return n;
}

/* The argument checks BuildKit makes before expansion. */
static int check_args(const struct df_instr *in, const struct where *at, error **err)
{
	const char *name = df_kind_name(in->kind), *f[3];
	size_t len[3], n = in->json ? in->nargs : fields(in->rest, f, len, 3);

	if (in->kind == DF_RUN || in->kind == DF_CMD || in->kind == DF_ENTRYPOINT)
		return 0;
	if (!n)
		return fail_at(err, at, "%s requires at least one argument", name);
	if (in->kind == DF_SHELL && !in->json)
		return fail_at(err, at,
			       "SHELL requires the JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
	if ((in->kind == DF_COPY || in->kind == DF_ADD) && n < 2)
		return fail_at(err, at,
			       "%s requires at least two arguments: the sources and a destination",
			       name);
	if (in->kind == DF_FROM &&
	    !(n == 1 || (n == 3 && len[1] == 2 && !strncasecmp(f[1], "AS", 2))))
		return fail_at(err, at,
			       "FROM takes an image and optionally AS name: FROM image [AS "
			       "name]");
	return 0;
}

static int parse_instr(const char *line, const struct where *at, struct df_instr *in, error **err);

/* ONBUILD INSTRUCTION ...: the trigger is parsed as an instruction of its own. */
static int parse_onbuild(const char *line, const struct where *at, struct df_instr *in, error **err)
{
	const char *trigger = in->rest;
	size_t n = strcspn(trigger, " \t\v\f\r\n");
	int k = kind_of(trigger, n);
	struct where sub = *at;
	const char *written = skip_blanks(line + strcspn(line, " \t\v\f\r\n"));

	if (!n)
		return fail_at(err, at, "ONBUILD requires an instruction to run in derived builds");
	if (k == DF_ONBUILD)
		return fail_at(err, at, "ONBUILD ONBUILD is not allowed: give the trigger once");
	if (k == DF_FROM || k == DF_MAINTAINER)
		return fail_at(err, at, "%s isn't allowed as an ONBUILD trigger", kind_names[k]);
	/* The trigger's own column, exact when it is on the keyword's line. */
	sub.col += (unsigned)(written - line);
	in->onbuild = lfs_xcalloc(1, sizeof(*in->onbuild));
	return parse_instr(trigger, &sub, in->onbuild, err);
}

static int parse_args(const char *line, const struct where *at, struct df_instr *in, error **err)
{
	switch (in->kind) {
	case DF_RUN:
	case DF_CMD:
	case DF_ENTRYPOINT:
	case DF_SHELL:
	case DF_COPY:
	case DF_ADD:
	case DF_VOLUME:
		if (exec_form(in->rest, in, at, err) < 0)
			return -EINVAL;
		break;
	case DF_HEALTHCHECK:
		if (parse_healthcheck(in, at, err) < 0)
			return -EINVAL;
		break;
	case DF_ONBUILD:
		if (parse_onbuild(line, at, in, err) < 0)
			return -EINVAL;
		break;
	default:
		break;
	}
	return check_args(in, at, err);
}

/* line: one logical line, left-trimmed, continuations joined. */
static int parse_instr(const char *line, const struct where *at, struct df_instr *in, error **err)
{
	size_t kl = strcspn(line, " \t\v\f\r\n");
	int k = kind_of(line, kl);
	lfs_buf text = LFS_BUF_INIT;

	in->line = at->line;
	in->column = at->col;
	if (k < 0)
		return unknown_instruction(at, line, kl, err);
	in->kind = (enum df_kind)k;
	size_t tl = strlen(line);
	while (tl > kl && is_blank((unsigned char)line[tl - 1]))
		tl--;
	lfs_buf_addstr(&text, kind_names[k]);
	lfs_buf_add(&text, line + kl, tl - kl);
	in->text = lfs_buf_detach(&text, NULL);
	const char *args = line + kl;
	if (takes_flags(in->kind))
		args = extract_flags(args, in);
	in->rest = dup_trimmed(args);
	return parse_args(line, at, in, err);
}

/* ---- heredocs -------------------------------------------------------------- */

struct heredoc_ref {
	char *word;
	int chomp, expand;
};

/* BuildKit's heredocFromMatch for the part after "<<" / "<<-": one word
 * once quotes are removed; quoted (any quote removed) means no expansion. */
static int heredoc_word(const char *src, struct heredoc_ref *h, error **err)
{
	struct lex lx = {.s = src, .esc = '\\', .skip_unset = 1};
	struct words plain = {.out = {NULL, 0}}, raw = {.out = {NULL, 0}};
	size_t q1 = 0, q2 = 0;

	if (lex_words(&lx, &plain, err) < 0)
		return -EINVAL;
	lx = (struct lex){.s = src, .esc = '\\', .skip_unset = 1, .raw_quotes = 1};
	if (lex_words(&lx, &raw, err) < 0) {
		strv_release(&plain.out);
		return -EINVAL;
	}
	if (plain.out.n == 1 && raw.out.n == 1) {
		for (const char *p = plain.out.v[0]; *p; p++)
			q1 += *p == '\'' || *p == '"';
		for (const char *p = raw.out.v[0]; *p; p++)
			q2 += *p == '\'' || *p == '"';
		h->word = steal_pointer(&plain.out.v[0]);
		h->expand = q1 == q2;
	}
	strv_release(&plain.out);
	strv_release(&raw.out);
	return 0;
}

/* A word of the instruction line of the form [digits]<<[-]WORD. */
static int heredoc_of(const char *w, struct heredoc_ref *h, error **err)
{
	while (is_digit((unsigned char)*w))
		w++; /* a file descriptor: accepted, not kept */
	if (w[0] != '<' || w[1] != '<')
		return 0;
	w += 2;
	h->chomp = *w == '-';
	w += h->chomp;
	if (!*w || strchr(w, '<'))
		return 0;
	return heredoc_word(w, h, err);
}

/* BuildKit's heredocsFromLine: the line's words (quotes and escapes kept,
 * '\\' as the escape whatever the directive says) that open a heredoc.  A
 * line the lexer cannot split has none. */
static int find_heredocs(const char *line, struct heredoc_ref **out, size_t *n, error **err)
{
	struct lex lx = {.s = line, .esc = '\\', .raw_quotes = 1, .raw_esc = 1, .skip_unset = 1};
	struct words w = {.out = {NULL, 0}};
	error *ignored = NULL;
	int ret = 0;

	if (lex_words(&lx, &w, &ignored) < 0) {
		error_free(ignored);
		return 0;
	}
	for (size_t i = 0; i < w.out.n && ret == 0; i++) {
		struct heredoc_ref h = {0};
		ret = heredoc_of(w.out.v[i], &h, err);
		if (h.word) {
			*out = grow(*out, *n, sizeof(**out));
			(*out)[(*n)++] = h;
		}
	}
	strv_release(&w.out);
	return ret;
}

/* ---- lines, directives, the file -------------------------------------------- */

struct parser {
	const char *name;
	const char *p;
	size_t len, off;
	unsigned line; /* of the line last read, 1-based */
	char esc;
	int directives_done;
	unsigned seen; /* bit per directive */
	int heredocs_ok;
	int need_from; /* a whole Dockerfile: stages start with FROM */
	/* An instruction's text (df_parse_line) may end in an escape that
	 * was not a continuation where it was written (it was escaped, or
	 * followed by a blank other than space and tab, since trimmed): at
	 * the very end of such a text, the escape is literal. */
	int literal_end;
	struct df_instr *instrs;
	size_t n;
	int have_from;
};

/* The next physical line as written, without its '\n' (not NUL-terminated). */
static int read_raw_line(struct parser *ps, const char **s, size_t *n)
{
	if (ps->off >= ps->len)
		return 0;
	const char *start = ps->p + ps->off;
	const char *nl = memchr(start, '\n', ps->len - ps->off);
	size_t l = nl ? (size_t)(nl - start) : ps->len - ps->off;

	ps->off += l + (nl != NULL);
	ps->line++;
	if (ps->line == 1 && l >= 3 && !memcmp(start, "\xef\xbb\xbf", 3)) {
		start += 3; /* byte order mark */
		l -= 3;
	}
	*s = start;
	*n = l;
	return 1;
}

/* The same without trailing '\r's (CRLF files). */
static int read_line(struct parser *ps, const char **s, size_t *n)
{
	if (!read_raw_line(ps, s, n))
		return 0;
	while (*n && (*s)[*n - 1] == '\r')
		(*n)--;
	return 1;
}

static size_t lead_blanks(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_blank((unsigned char)s[i]))
		i++;
	return i;
}

static int set_directive(struct parser *ps, const char *key, const char *v, size_t vl, error **err)
{
	static const char *const known[] = {"escape", "syntax", "check"};
	struct where at = {ps->name, ps->line, 1};

	for (unsigned i = 0; i < 3; i++) {
		if (strcasecmp(key, known[i]))
			continue;
		if (ps->seen & (1u << i))
			return fail_at(
			    err, &at,
			    "only one '# %s=' parser directive can be used: remove this one",
			    known[i]);
		ps->seen |= 1u << i;
		if (i == 0 && (vl != 1 || (*v != '\\' && *v != '`')))
			return fail_at(err, &at,
				       "invalid escape '%.*s': use # escape=\\ or # escape=`",
				       (int)(vl > 40 ? 40 : vl), v);
		if (i == 0)
			ps->esc = *v;
		return 0;
	}
	ps->directives_done = 1; /* an unknown one ends the directives */
	return 0;
}

/* `# name = value` while nothing but directives has been seen (s is the
 * left-trimmed line). */
static int directive(struct parser *ps, const char *s, size_t n, error **err)
{
	size_t i = 1, k0, k1, vl;
	char key[64];

	if (ps->directives_done)
		return 0;
	ps->directives_done = 1;
	if (!n || s[0] != '#')
		return 0;
	i += lead_blanks(s + i, n - i);
	for (k0 = i; i < n && (is_alpha(s[i]) || (i > k0 && is_digit(s[i]))); i++)
		;
	k1 = i;
	i += lead_blanks(s + i, n - i);
	if (k1 == k0 || k1 - k0 >= sizeof(key) || i == n || s[i] != '=')
		return 0;
	i++;
	const char *v = s + i + lead_blanks(s + i, n - i);
	for (vl = (size_t)(s + n - v); vl && is_blank((unsigned char)v[vl - 1]); vl--)
		;
	if (!vl && i < n) { /* only blanks: Go's `(.+?)\s*$` takes the last one */
		v = s + n - 1;
		vl = 1;
	}
	if (!vl)
		return 0;
	memcpy(key, s + k0, k1 - k0);
	key[k1 - k0] = '\0';
	ps->directives_done = 0;
	return set_directive(ps, key, v, vl, err);
}

/* The escape character as the last non-blank (space or tab) of a line
 * continues it, unless escaped itself (BuildKit's continuation regexp). */
static int continues(const struct parser *ps, const char *s, size_t *n)
{
	size_t l = *n;
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
		l--;
	if (!l || s[l - 1] != ps->esc || (l >= 2 && s[l - 2] == ps->esc))
		return 0;
	if (ps->literal_end && ps->off >= ps->len)
		return 0;
	*n = l - 1;
	return 1;
}

/* Joins the continuation lines of a logical line; comment and blank lines
 * inside are dropped. */
static void join_lines(struct parser *ps, const char *s, size_t n, lfs_buf *line)
{
	int more = continues(ps, s, &n);

	lfs_buf_add(line, s, n);
	while (more && read_line(ps, &s, &n)) {
		size_t lead = lead_blanks(s, n);
		if (lead == n || s[lead] == '#')
			continue;
		more = continues(ps, s, &n);
		lfs_buf_add(line, s, n);
	}
}

static int read_body(struct parser *ps, const struct heredoc_ref *h, struct df_heredoc *out,
		     const struct where *at, error **err)
{
	cleanup_buf lfs_buf body = LFS_BUF_INIT;
	size_t wl = strlen(h->word);
	const char *s;
	size_t n;

	while (read_raw_line(ps, &s, &n)) {
		size_t lead = 0, end = n;
		while (h->chomp && lead < n && s[lead] == '\t')
			lead++;
		while (end > lead && s[end - 1] == '\r')
			end--;
		if (end - lead == wl && !memcmp(s + lead, h->word, wl)) {
			out->body = lfs_buf_detach(&body, NULL);
			return 0;
		}
		lfs_buf_add(&body, s + lead, n - lead); /* as written, a '\r' included */
		lfs_buf_addch(&body, '\n');
	}
	return fail_at(err, at, "unterminated heredoc <<%s: end it with a line '%s'", h->word,
		       h->word);
}

static void heredoc_refs_free(struct heredoc_ref *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].word);
	free(r);
}

/* Heredocs opened on the instruction line: their bodies follow it. */
static int read_heredocs(struct parser *ps, const char *line, struct df_instr *in,
			 const struct where *at, error **err)
{
	struct df_instr *t = in->kind == DF_ONBUILD ? in->onbuild : in;
	struct heredoc_ref *refs = NULL;
	size_t n = 0;
	int ret;

	if ((t->kind != DF_RUN && t->kind != DF_COPY && t->kind != DF_ADD) || t->json)
		return 0;
	if ((ret = find_heredocs(line, &refs, &n, err)) < 0) {
		heredoc_refs_free(refs, n);
		return error_wrap(err, "%s:%u:%u", at->name, at->line, at->col);
	}
	if (n && (t != in || !ps->heredocs_ok))
		ret =
		    fail_at(err, at,
			    "heredocs are not supported in ONBUILD triggers (a trigger is kept as "
			    "one line): COPY a script and RUN it instead");
	if (n && ret == 0)
		t->heredocs = lfs_xcalloc(n, sizeof(*t->heredocs));
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct df_heredoc *hd = &t->heredocs[t->nheredocs++];
		hd->word = lfs_xstrdup(refs[i].word);
		hd->expand = refs[i].expand;
		ret = read_body(ps, &refs[i], hd, at, err);
	}
	heredoc_refs_free(refs, n);
	return ret;
}

static void instr_release(struct df_instr *in)
{
	free(in->text);
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	for (size_t i = 0; i < in->nargs; i++)
		free(in->args[i]);
	free(in->args);
	free(in->rest);
	for (size_t i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].word);
		free(in->heredocs[i].body);
	}
	free(in->heredocs);
	df_instr_free(in->onbuild);
}

void df_instr_free(struct df_instr *in)
{
	if (!in)
		return;
	instr_release(in);
	free(in);
}

static int check_order(struct parser *ps, const struct df_instr *in, const struct where *at,
		       error **err)
{
	if (in->kind == DF_FROM)
		ps->have_from = 1;
	if (ps->have_from || in->kind == DF_ARG || !ps->need_from)
		return 0;
	return fail_at(err, at,
		       "%s before the first FROM: a build stage starts with FROM (only ARG may "
		       "come before it)",
		       kind_names[in->kind]);
}

/* One logical line starting at s (lead blanks in), then its heredocs. */
static int parse_logical(struct parser *ps, const char *s, size_t n, size_t lead, error **err)
{
	cleanup_buf lfs_buf line = LFS_BUF_INIT;
	struct where at = {ps->name, ps->line, (unsigned)lead + 1};
	struct df_instr *in;
	int ret;

	join_lines(ps, s + lead, n - lead, &line);
	ps->instrs = grow(ps->instrs, ps->n, sizeof(*ps->instrs));
	in = memset(&ps->instrs[ps->n++], 0, sizeof(*in));
	ret = parse_instr(line.data, &at, in, err);
	if (ret == 0)
		ret = read_heredocs(ps, line.data, in, &at, err);
	if (ret == 0)
		ret = check_order(ps, in, &at, err);
	return ret;
}

static int parse_lines(struct parser *ps, error **err)
{
	const char *s;
	size_t n;

	while (read_line(ps, &s, &n)) {
		size_t lead = lead_blanks(s, n);
		if (directive(ps, s + lead, n - lead, err) < 0)
			return -EINVAL;
		if (lead == n || s[lead] == '#')
			continue;
		if (parse_logical(ps, s, n, lead, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static void parser_release(struct parser *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		instr_release(&ps->instrs[i]);
	free(ps->instrs);
}

/* Text with a NUL byte is not a Dockerfile (and C strings could not hold it). */
static int check_nul(const char *name, const char *text, size_t len, error **err)
{
	const char *z = memchr(text, '\0', len);
	struct where at = {name, 1, 1};

	if (!z)
		return 0;
	for (const char *p = text; p < z; p++) {
		at.col = *p == '\n' ? 1 : at.col + 1;
		at.line += *p == '\n';
	}
	return fail_at(err, &at, "NUL byte: a Dockerfile must be text");
}

int df_parse(const char *name, const char *text, size_t len, struct df_file **out, error **err)
{
	struct parser ps = {
	    .name = name, .p = text, .len = len, .esc = '\\', .heredocs_ok = 1, .need_from = 1};

	if (check_nul(name, text, len, err) < 0)
		return -EINVAL;
	if (parse_lines(&ps, err) < 0) {
		parser_release(&ps);
		return -EINVAL;
	}
	if (!ps.have_from) {
		parser_release(&ps);
		return error_fail(err, EINVAL, "%s: no build stage in %s: add a FROM instruction", name, name);
	}
	struct df_file *f = lfs_xcalloc(1, sizeof(*f));
	f->name = lfs_xstrdup(name);
	f->escape = ps.esc;
	f->instrs = ps.instrs;
	f->n = ps.n;
	*out = f;
	return 0;
}

void df_file_free(struct df_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		instr_release(&f->instrs[i]);
	free(f->instrs);
	free(f->name);
	free(f);
}

int df_parse_line(const char *name, const char *line, char escape, struct df_instr **out,
		  error **err)
{
	size_t len = strlen(line);
	struct parser ps = {.name = name,
			    .p = line,
			    .len = len,
			    .esc = escape,
			    .directives_done = 1,
			    .literal_end = 1};
	struct where at = {name, 1, 1};

	if (parse_lines(&ps, err) < 0) {
		parser_release(&ps);
		return -EINVAL;
	}
	if (ps.n != 1) {
		at.line = ps.n ? ps.instrs[1].line : 1;
		parser_release(&ps);
		return fail_at(err, &at, "%s",
			       len ? "expected one instruction" : "empty instruction");
	}
	*out = lfs_xcalloc(1, sizeof(**out));
	**out = ps.instrs[0];
	free(ps.instrs);
	return 0;
}

/* ---- flags ----------------------------------------------------------------- */

const struct df_flag *df_flag_get(const struct df_instr *in, const char *name)
{
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			return &in->flags[i];
	return NULL;
}

static int allowed_flag(const char *const *allowed, const char *name)
{
	for (; *allowed; allowed++)
		if (!strcmp(*allowed, name))
			return 1;
	return 0;
}

int df_flags_check(const struct df_file *f, const struct df_instr *in, const char *const *allowed,
		   error **err)
{
	struct where at = {f ? f->name : "ONBUILD trigger", in->line, in->column};
	cleanup_buf lfs_buf valid = LFS_BUF_INIT;

	for (size_t i = 0; i < in->nflags; i++) {
		if (allowed_flag(allowed, in->flags[i].name))
			continue;
		for (const char *const *a = allowed; *a; a++)
			lfs_buf_addf(&valid, "%s--%s", valid.len ? ", " : "", *a);
		if (!valid.len)
			return fail_at(err, &at, "unknown flag --%.40s: %s takes no flags",
				       in->flags[i].name, df_kind_name(in->kind));
		return fail_at(err, &at, "unknown flag --%.40s for %s (valid: %s)",
			       in->flags[i].name, df_kind_name(in->kind), valid.data);
	}
	return 0;
}

/* ---- ENV, LABEL, ARG ------------------------------------------------------- */

/* BuildKit's parseWords: blank-separated words with quotes and escapes
 * kept (expansion processes them later). */
static void split_kv_words(const char *s, char esc, struct strv *out)
{
	lfs_buf w = LFS_BUF_INIT;
	char q = 0;
	int quoted = 0;

	for (;; s++) {
		if (!*s || (!q && is_blank((unsigned char)*s))) {
			if (w.len || quoted)
				strv_push(out, lfs_buf_detach(&w, NULL));
			quoted = 0;
			if (!*s)
				break;
			continue;
		}
		if (!q && (*s == '\'' || *s == '"')) {
			q = *s;
			quoted = 1;
		} else if (q && *s == q) {
			q = 0;
		} else if (*s == esc && q != '\'') {
			if (!s[1]) {
				q = 0;
				continue; /* a trailing escape is dropped */
			}
			lfs_buf_addch(&w, *s++);
		}
		lfs_buf_addch(&w, *s);
	}
	lfs_buf_release(&w);
}

struct kvctx {
	const struct where *at;
	const char *kind;
	char esc;
	df_lookup_fn *lookup;
	void *ctx;
	struct df_kv *kv;
	size_t n;
};

/* ENV and ARG names become environment variable names. */
static int key_ok(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (*k == '=' || is_blank((unsigned char)*k) || (unsigned char)*k < 0x20)
			return 0;
	return 1;
}

static int expand_at(struct kvctx *c, const char *raw, char **out, error **err)
{
	if (df_expand_word(raw, c->esc, c->lookup, c->ctx, out, err) < 0)
		return error_wrap(err, "%s:%u:%u", c->at->name, c->at->line, c->at->col);
	return 0;
}

/* Adds one pair from raw (unexpanded) key and value; value NULL: none. */
static int kv_add(struct kvctx *c, const char *key, size_t kl, const char *value, error **err)
{
	cleanup_free char *rawkey = lfs_xstrndup(key, kl);
	char *k = NULL, *v = NULL;

	if (!kl)
		return fail_at(err, c->at, "%s names can not be blank: write %s name=value",
			       c->kind, c->kind);
	if (expand_at(c, rawkey, &k, err) < 0 || (value && expand_at(c, value, &v, err) < 0)) {
		free(k);
		return -EINVAL;
	}
	if (strcmp(c->kind, "LABEL") ? !key_ok(k) : !*k) {
		fail_at(err, c->at, "invalid %s name '%.40s': use a name without blanks or '='",
			c->kind, k);
		free(k);
		free(v);
		return -EINVAL;
	}
	c->kv = grow(c->kv, c->n, sizeof(*c->kv));
	c->kv[c->n++] = (struct df_kv){k, v};
	return 0;
}

/* `ENV k v w`: the key, and the rest of the line as one value. */
static int kv_legacy(struct kvctx *c, const char *rest, error **err)
{
	size_t kl = strcspn(rest, " \t\v\f\r\n");
	const char *v = skip_blanks(rest + kl);

	if (!*v)
		return fail_at(err, c->at, "%s %.*s needs a value: write %s %.*s=value", c->kind,
			       (int)(kl > 40 ? 40 : kl), rest, c->kind, (int)(kl > 40 ? 40 : kl),
			       rest);
	return kv_add(c, rest, kl, v, err);
}

/* `k=v k2=v2` (ARG: also `k`).  Like BuildKit, every word is checked for
 * its '=' before anything is expanded. */
static int kv_words(struct kvctx *c, char **words, int is_arg, error **err)
{
	for (char **w = words; *w && !is_arg; w++)
		if (!strchr(*w, '='))
			return fail_at(err, c->at, "can't find = in '%.60s': write %s name=value",
				       *w, c->kind);
	for (; *words; words++) {
		const char *eq = strchr(*words, '=');
		size_t kl = eq ? (size_t)(eq - *words) : strlen(*words);
		if (kv_add(c, *words, kl, eq ? eq + 1 : NULL, err) < 0)
			return -EINVAL;
	}
	return 0;
}

int df_parse_kv(const struct df_file *f, const struct df_instr *in, df_lookup_fn *lookup, void *ctx,
		struct df_kv **kv, size_t *n, error **err)
{
	struct where at = {f ? f->name : "ONBUILD trigger", in->line, in->column};
	struct kvctx c = {&at, df_kind_name(in->kind), f ? f->escape : '\\', lookup, ctx, NULL, 0};
	struct strv words = {NULL, 0};
	int ret;

	if (in->kind != DF_ENV && in->kind != DF_LABEL && in->kind != DF_ARG)
		return fail_at(err, &at, "%s has no key=value arguments", c.kind);
	split_kv_words(in->rest, c.esc, &words);
	if (!words.n)
		ret = fail_at(err, &at, "%s requires at least one argument", c.kind);
	else if (in->kind != DF_ARG && !strchr(words.v[0], '='))
		ret = kv_legacy(&c, in->rest, err);
	else
		ret = kv_words(&c, words.v, in->kind == DF_ARG, err);
	strv_release(&words);
	if (ret < 0) {
		df_kv_free(c.kv, c.n);
		return -EINVAL;
	}
	*kv = c.kv;
	*n = c.n;
	return 0;
}

void df_kv_free(struct df_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}
