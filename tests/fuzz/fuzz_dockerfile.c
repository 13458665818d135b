/* libFuzzer harness for the Dockerfile parser and word processing.  The
 * input is parsed as a Dockerfile; every instruction that parses then goes
 * through what the builder does with it:
 *  - its arguments through df_expand_words (shell form) or df_expand_word
 *    (each exec-form argument), heredoc bodies that expand through
 *    df_expand_word, flag values too;
 *  - ENV, LABEL and ARG through df_parse_kv;
 *  - its text back through df_parse_line, which must give the same kind
 *    and arguments (that text is what ONBUILD stores and history shows).
 * The input is also given to the lexer directly, as one word and as words.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ifs -Itools \
 *     tests/fuzz/fuzz_dockerfile.c tools/dockerfile.c tools/error.c fs/buf.c -ljansson
 * mkdir -p tests/fuzz/corpus-out/dockerfile
 * ./a.out tests/fuzz/corpus-out/dockerfile tests/fuzz/corpus/dockerfile
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *ctx, const char *name)
{
	static const char *const env[][2] = {
	    {"A", "a b"}, {"E", ""}, {"PWD", "/home"}, {"1", "one"}, {"Q", "\"'`\\$"}};
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(env[i][0], name))
			return env[i][1];
	return NULL;
}

/* A failure always explains itself and returns nothing. */
static void check_result(int ret, error *err)
{
	if (ret == 0 ? err != NULL : (ret != -EINVAL || !err || !err->msg[0]))
		abort();
	error_free(err);
}

static void expand_word(const char *s, char esc)
{
	error *err = NULL;
	char *out = NULL;
	int ret = df_expand_word(s, esc, lookup, NULL, &out, &err);
	if (ret == 0 && !out)
		abort();
	check_result(ret, err);
	free(out);
}

static void expand_words(const char *s, char esc)
{
	error *err = NULL;
	char **w = NULL;
	size_t n = 0;
	int ret = df_expand_words(s, esc, lookup, NULL, &w, &n, &err);
	if (ret == 0) {
		for (size_t i = 0; i < n; i++)
			if (!w[i] || !w[i][0])
				abort(); /* words are never empty */
		if (w[n])
			abort();
	}
	check_result(ret, err);
	df_strv_free(w);
}

static void key_values(const struct df_file *f, const struct df_instr *in)
{
	struct df_kv *kv = NULL;
	size_t n = 0;
	error *err = NULL;
	int ret = df_parse_kv(f, in, lookup, NULL, &kv, &n, &err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (!kv[i].key[0] || (!kv[i].value && in->kind != DF_ARG))
			abort();
	check_result(ret, err);
	df_kv_free(kv, n);
}

/* The instruction's text parses back to the same instruction. */
static void reparse(const struct df_instr *in, char esc)
{
	struct df_instr *again = NULL;
	error *err = NULL;
	int ret = df_parse_line("text", in->text, esc, &again, &err);
	if (ret == 0 && (again->kind != in->kind || strcmp(again->rest, in->rest) ||
			 strcmp(again->text, in->text) || again->json != in->json ||
			 again->nargs != in->nargs || again->nflags != in->nflags))
		abort();
	if (ret < 0 && !in->nheredocs && !(in->onbuild && in->onbuild->nheredocs))
		abort();
	check_result(ret, err);
	df_instr_free(again);
}

static void use_instr(const struct df_file *f, const struct df_instr *in)
{
	static const char *const allowed[] = {"from", "chown", "link", NULL};
	error *err = NULL;

	if (!in->text || !in->rest || (in->json && in->args[in->nargs]))
		abort();
	if (in->json)
		for (size_t i = 0; i < in->nargs; i++)
			expand_word(in->args[i], f->escape);
	else
		expand_words(in->rest, f->escape);
	for (size_t i = 0; i < in->nflags; i++) {
		if (df_flag_get(in, in->flags[i].name) == NULL)
			abort();
		if (in->flags[i].value)
			expand_word(in->flags[i].value, f->escape);
	}
	check_result(df_flags_check(f, in, allowed, &err), err);
	for (size_t i = 0; i < in->nheredocs; i++)
		if (in->heredocs[i].expand)
			expand_word(in->heredocs[i].body, f->escape);
	if (in->kind == DF_ENV || in->kind == DF_LABEL || in->kind == DF_ARG)
		key_values(f, in);
	reparse(in, f->escape);
	if (in->onbuild)
		use_instr(f, in->onbuild);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct df_file *f = NULL;
	error *err = NULL;
	int ret = df_parse("fuzz", (const char *)data, size, &f, &err);

	if (ret == 0 && (!f || !f->n))
		abort();
	check_result(ret, err);
	for (size_t i = 0; f && i < f->n; i++)
		use_instr(f, &f->instrs[i]);
	df_file_free(f);

	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	expand_word(s, '\\');
	expand_words(s, '`');
	free(s);
	return 0;
}
