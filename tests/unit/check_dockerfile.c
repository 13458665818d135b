/* check_dockerfile — the Dockerfile parser and word processing.
 *
 * Expected values come from the Dockerfile reference (its examples are
 * quoted as such) and from BuildKit's behaviour: the word-processing
 * vectors are those of BuildKit's shell lexer tests (moby's envVarTest,
 * environment PWD=/home SHELL=bash KOREAN=한국어 NULL=), the rest follow
 * its parser (frontend/dockerfile/parser) as noted at each case. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile.h"

/* ---- helpers ---------------------------------------------------------------- */

/* ctx: a NULL-terminated list of "NAME=value" */
static const char *env_lookup(void *ctx, const char *name)
{
	size_t n = strlen(name);
	for (const char *const *kv = ctx; *kv; kv++)
		if (!strncmp(*kv, name, n) && (*kv)[n] == '=')
			return *kv + n + 1;
	return NULL;
}

static const char *bk_env[] = {"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL=", NULL};

static struct df_file *parse_ok(const char *text)
{
	struct df_file *f = NULL;
	error *err = NULL;
	int ret = df_parse("Dockerfile", text, strlen(text), &f, &err);
	ck_assert_msg(ret == 0, "parse failed: %s\n--\n%s", err ? err->msg : "", text);
	ck_assert_ptr_null(err);
	return f;
}

/* The parse fails with -EINVAL and a message holding want. */
static void parse_bad(const char *text, const char *want)
{
	struct df_file *f = NULL;
	error *err = NULL;
	int ret = df_parse("Dockerfile", text, strlen(text), &f, &err);
	ck_assert_msg(ret == -EINVAL, "parsed (%d):\n%s", ret, text);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, want), "message '%s' lacks '%s'", err->msg, want);
	error_free(err);
}

static void expect_word(const char *const *env, char esc, const char *in, const char *want)
{
	char *out = NULL;
	error *err = NULL;
	int ret = df_expand_word(in, esc, env_lookup, (void *)env, &out, &err);
	if (!want) {
		ck_assert_msg(ret == -EINVAL, "%s: expanded to '%s', expected an error", in,
			      out ? out : "");
		ck_assert_int_eq(err->code, EINVAL);
		error_free(err);
		return;
	}
	ck_assert_msg(ret == 0, "%s: %s", in, err ? err->msg : "");
	ck_assert_msg(!strcmp(out, want), "%s: got '%s', want '%s'", in, out, want);
	free(out);
}

/* want: the words joined by '|' ("" for none), or NULL for an error. */
static void expect_words(const char *const *env, const char *in, const char *want)
{
	char **w = NULL;
	size_t n = 99;
	error *err = NULL;
	int ret = df_expand_words(in, '\\', env_lookup, (void *)env, &w, &n, &err);
	if (!want) {
		ck_assert_msg(ret < 0, "%s: expected an error", in);
		error_free(err);
		return;
	}
	ck_assert_msg(ret == 0, "%s: %s", in, err ? err->msg : "");
	char joined[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s", i ? "|" : "",
					w[i]);
	ck_assert_ptr_null(w[n]);
	ck_assert_msg(!strcmp(joined, want), "%s: got [%s], want [%s]", in, joined, want);
	df_strv_free(w);
}

static void expect_word_msg(const char *const *env, const char *in, const char *want)
{
	char *out = NULL;
	error *err = NULL;
	ck_assert_int_eq(df_expand_word(in, '\\', env_lookup, (void *)env, &out, &err), -EINVAL);
	ck_assert_msg(strstr(err->msg, want), "message '%s' lacks '%s'", err->msg, want);
	error_free(err);
}

static struct df_kv *kv_ok(const struct df_file *f, size_t i, const char *const *env, size_t *n)
{
	struct df_kv *kv = NULL;
	error *err = NULL;
	int ret = df_parse_kv(f, &f->instrs[i], env_lookup, (void *)env, &kv, n, &err);
	ck_assert_msg(ret == 0, "kv: %s", err ? err->msg : "");
	return kv;
}

/* df_parse_kv on the file's last instruction fails with a message holding want. */
static void kv_bad(const char *text, const char *want)
{
	struct df_file *f = parse_ok(text);
	size_t i = f->n - 1;
	struct df_kv *kv = NULL;
	size_t n = 0;
	error *err = NULL;
	ck_assert_int_eq(df_parse_kv(f, &f->instrs[i], env_lookup, bk_env, &kv, &n, &err), -EINVAL);
	ck_assert_msg(strstr(err->msg, want), "message '%s' lacks '%s'", err->msg, want);
	error_free(err);
	df_file_free(f);
}

static void expect_kv(const struct df_kv *kv, size_t i, const char *key, const char *value)
{
	ck_assert_str_eq(kv[i].key, key);
	if (value)
		ck_assert_str_eq(kv[i].value, value);
	else
		ck_assert_ptr_null(kv[i].value);
}

/* ---- instructions ------------------------------------------------------------ */

START_TEST(test_kinds)
{
	static const char *text = "arg V=1\n"
				  "from alpine AS base\n"
				  "Run echo hi\n"
				  "cmd echo cmd\n"
				  "entrypoint top -b\n"
				  "env A=1\n"
				  "label l=v\n"
				  "expose 80/tcp 443\n"
				  "workdir /app\n"
				  "copy a b\n"
				  "add c d\n"
				  "user nobody:nogroup\n"
				  "volume /data\n"
				  "shell [\"/bin/sh\", \"-c\"]\n"
				  "stopsignal SIGTERM\n"
				  "healthcheck NONE\n"
				  "onbuild run make\n"
				  "maintainer Someone <a@b.c>\n";
	static const enum df_kind kinds[] = {
	    DF_ARG,    DF_FROM,	  DF_RUN,	 DF_CMD,	 DF_ENTRYPOINT, DF_ENV,
	    DF_LABEL,  DF_EXPOSE, DF_WORKDIR,	 DF_COPY,	 DF_ADD,	DF_USER,
	    DF_VOLUME, DF_SHELL,  DF_STOPSIGNAL, DF_HEALTHCHECK, DF_ONBUILD,	DF_MAINTAINER};
	struct df_file *f = parse_ok(text);

	ck_assert_uint_eq(f->n, 18);
	ck_assert_str_eq(f->name, "Dockerfile");
	ck_assert_int_eq(f->escape, '\\');
	for (size_t i = 0; i < f->n; i++) {
		ck_assert_int_eq(f->instrs[i].kind, kinds[i]);
		ck_assert_uint_eq(f->instrs[i].line, i + 1);
		ck_assert_uint_eq(f->instrs[i].column, 1);
		/* the text starts with the upper-case keyword */
		const char *name = df_kind_name(kinds[i]);
		ck_assert_int_eq(strncmp(f->instrs[i].text, name, strlen(name)), 0);
		ck_assert_ptr_nonnull(f->instrs[i].rest);
	}
	ck_assert_str_eq(f->instrs[1].text, "FROM alpine AS base");
	ck_assert_str_eq(f->instrs[1].rest, "alpine AS base");
	ck_assert_str_eq(f->instrs[2].text, "RUN echo hi");
	ck_assert_str_eq(f->instrs[7].rest, "80/tcp 443");
	ck_assert_str_eq(f->instrs[11].rest, "nobody:nogroup");
	ck_assert_str_eq(f->instrs[15].rest, "NONE");
	ck_assert_str_eq(f->instrs[17].rest, "Someone <a@b.c>");
	ck_assert_str_eq(df_kind_name(DF_HEALTHCHECK), "HEALTHCHECK");
	ck_assert_str_eq(df_kind_name(DF_MAINTAINER), "MAINTAINER");
	df_file_free(f);
}
END_TEST

/* Reference: leading whitespace before comments and instructions is
 * ignored; trailing blanks are not part of the text. */
START_TEST(test_whitespace_comments_positions)
{
	struct df_file *f = parse_ok("        # this is a comment-line\n"
				     "    FROM x\n"
				     "RUN echo world   \n"
				     "\t\n"
				     "\tRUN echo # not a comment\n");
	ck_assert_uint_eq(f->n, 3);
	ck_assert_uint_eq(f->instrs[0].line, 2);
	ck_assert_uint_eq(f->instrs[0].column, 5);
	ck_assert_str_eq(f->instrs[1].text, "RUN echo world");
	ck_assert_str_eq(f->instrs[1].rest, "echo world");
	ck_assert_uint_eq(f->instrs[2].line, 5);
	ck_assert_uint_eq(f->instrs[2].column, 2);
	ck_assert_str_eq(f->instrs[2].rest, "echo # not a comment");
	df_file_free(f);
}
END_TEST

START_TEST(test_crlf_bom)
{
	struct df_file *f = parse_ok("\xef\xbb\xbf# escape=`\r\n"
				     "FROM x\r\n"
				     "RUN a `\r\n"
				     "  b\r\n"
				     "COPY <<EOF /f\r\n"
				     "line\r\n"
				     "EOF\r\n");
	ck_assert_int_eq(f->escape, '`');
	ck_assert_uint_eq(f->n, 3);
	ck_assert_str_eq(f->instrs[1].rest, "a   b");
	ck_assert_uint_eq(f->instrs[1].line, 3);
	ck_assert_uint_eq(f->instrs[2].nheredocs, 1);
	/* BuildKit keeps heredoc lines as read: the '\r' stays */
	ck_assert_str_eq(f->instrs[2].heredocs[0].body, "line\r\n");
	df_file_free(f);
}
END_TEST

/* ---- parser directives --------------------------------------------------------- */

/* Reference: the Windows example, which only works with escape=`. */
START_TEST(test_escape_backtick)
{
	struct df_file *f = parse_ok("# escape=`\n"
				     "\n"
				     "FROM microsoft/nanoserver\n"
				     "COPY testfile.txt c:\\\n"
				     "RUN dir c:\\\n"
				     "RUN Get-ChildItem `\n"
				     "    -Path c:\\ `\n"
				     "    -Recurse\n");
	ck_assert_int_eq(f->escape, '`');
	ck_assert_uint_eq(f->n, 4);
	ck_assert_str_eq(f->instrs[1].rest, "testfile.txt c:\\");
	ck_assert_str_eq(f->instrs[2].rest, "dir c:\\");
	ck_assert_str_eq(f->instrs[3].rest, "Get-ChildItem     -Path c:\\     -Recurse");
	ck_assert_str_eq(f->instrs[3].text, "RUN Get-ChildItem     -Path c:\\     -Recurse");
	ck_assert_uint_eq(f->instrs[3].line, 6);
	df_file_free(f);
}
END_TEST

/* Reference: without the directive, "\" at the end of `COPY testfile.txt
 * c:\` continues the line, so the RUN is swallowed into the COPY. */
START_TEST(test_escape_default)
{
	struct df_file *f = parse_ok("FROM microsoft/nanoserver\n"
				     "COPY testfile.txt c:\\\n"
				     "RUN dir c:\n");
	ck_assert_uint_eq(f->n, 2);
	ck_assert_str_eq(f->instrs[1].rest, "testfile.txt c:RUN dir c:");
	df_file_free(f);
}
END_TEST

START_TEST(test_directives_placement)
{
	struct df_file *f;
	/* syntax (ignored) and escape, in any case and spacing */
	f = parse_ok("# syntax=docker/dockerfile:1\n#ESCAPE = `\nFROM x\n");
	ck_assert_int_eq(f->escape, '`');
	df_file_free(f);
	f = parse_ok("#\tescape\t=\t`  \nFROM x\n");
	ck_assert_int_eq(f->escape, '`');
	df_file_free(f);
	/* reference: after a blank line, a comment, an instruction or an
	 * unknown directive, "# escape=" is only a comment */
	static const char *late[] = {
	    "\n# escape=`\nFROM x\n",
	    "# a comment\n# escape=`\nFROM x\n",
	    "# unknowndirective=value\n# escape=`\nFROM x\n",
	    "FROM x\n# escape=`\n",
	};
	for (size_t i = 0; i < sizeof(late) / sizeof(late[0]); i++) {
		f = parse_ok(late[i]);
		ck_assert_msg(f->escape == '\\', "%s", late[i]);
		df_file_free(f);
	}
	f = parse_ok("# foo=bar\n# escape=`\nFROM x\n");
	ck_assert_int_eq(f->escape, '\\');
	df_file_free(f);
	/* no value: not a directive, and the end of them */
	f = parse_ok("# escape=\n# escape=`\nFROM x\n");
	ck_assert_int_eq(f->escape, '\\');
	df_file_free(f);
	/* BuildKit: "check" is a known directive too */
	f = parse_ok("# check=skip=all\n# escape=`\nFROM x\n");
	ck_assert_int_eq(f->escape, '`');
	df_file_free(f);
}
END_TEST

START_TEST(test_directives_bad)
{
	/* reference: a directive may only be used once */
	parse_bad("# escape=`\n# escape=\\\nFROM x\n",
		  "Dockerfile:2:1: only one '# escape=' parser");
	parse_bad("# syntax=a\n# Syntax=b\nFROM x\n", "only one '# syntax='");
	/* BuildKit: only \ and ` */
	parse_bad("# escape=x\nFROM x\n", "Dockerfile:1:1: invalid escape 'x'");
	parse_bad("# escape=\\\\\nFROM x\n", "invalid escape");
}
END_TEST

/* ---- line continuation --------------------------------------------------------- */

START_TEST(test_continuation)
{
	struct df_file *f = parse_ok("FROM x\n"
				     "RUN apt-get update && \\\n"
				     "    # a comment inside\n"
				     "\n"
				     "   \t\n"
				     "    apt-get install -y curl \\  \t\n"
				     "  # another\n"
				     "    && rm -rf /var/lib/apt\n"
				     "RUN echo hello \\\n"
				     "# comment\n"
				     "world\n"
				     "LABEL description=\"This text illustrates \\\n"
				     "that label-values can span multiple lines.\"\n"
				     "RUN echo a\\\\\n"
				     "RUN echo end \\\n");
	ck_assert_uint_eq(f->n, 6);
	ck_assert_str_eq(
	    f->instrs[1].rest,
	    "apt-get update &&     apt-get install -y curl     && rm -rf /var/lib/apt");
	ck_assert_uint_eq(f->instrs[1].line, 2);
	/* reference: the comment line is removed, the lines joined */
	ck_assert_str_eq(f->instrs[2].rest, "echo hello world");
	ck_assert_uint_eq(f->instrs[2].line, 9);
	ck_assert_uint_eq(f->instrs[3].line, 12);
	size_t n;
	struct df_kv *kv = kv_ok(f, 3, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "description",
		  "This text illustrates that label-values can span multiple lines.");
	df_kv_free(kv, n);
	/* BuildKit: an escaped escape at the end does not continue */
	ck_assert_str_eq(f->instrs[4].rest, "echo a\\\\");
	ck_assert_uint_eq(f->instrs[4].line, 14);
	/* a continuation at the end of the file just ends the instruction */
	ck_assert_str_eq(f->instrs[5].rest, "echo end");
	df_file_free(f);
}
END_TEST

/* ---- heredocs ------------------------------------------------------------------ */

START_TEST(test_heredoc_run)
{
	/* reference examples */
	struct df_file *f = parse_ok("# syntax=docker/dockerfile:1\n"
				     "FROM debian\n"
				     "RUN <<EOT bash\n"
				     "  set -ex\n"
				     "  apt-get update\n"
				     "EOT\n"
				     "RUN <<EOT\n"
				     "mkdir -p foo/bar\n"
				     "EOT\n"
				     "RUN python3 <<'EOF'\n"
				     "print(\"$HOME\")\n"
				     "EOF\n"
				     "RUN --mount=type=cache,target=/c <<\"A B\"\n"
				     "\n"
				     "A B\n"
				     "CMD done\n");
	ck_assert_uint_eq(f->n, 6);
	struct df_instr *r = &f->instrs[1];
	ck_assert_str_eq(r->text, "RUN <<EOT bash");
	ck_assert_str_eq(r->rest, "<<EOT bash");
	ck_assert_uint_eq(r->nheredocs, 1);
	ck_assert_str_eq(r->heredocs[0].word, "EOT");
	ck_assert_str_eq(r->heredocs[0].body, "  set -ex\n  apt-get update\n");
	ck_assert_int_eq(r->heredocs[0].expand, 1);
	ck_assert_str_eq(f->instrs[2].heredocs[0].body, "mkdir -p foo/bar\n");
	r = &f->instrs[3];
	ck_assert_str_eq(r->heredocs[0].word, "EOF");
	ck_assert_int_eq(r->heredocs[0].expand, 0);
	ck_assert_str_eq(r->heredocs[0].body, "print(\"$HOME\")\n");
	r = &f->instrs[4];
	ck_assert_uint_eq(r->nflags, 1);
	ck_assert_str_eq(r->heredocs[0].word, "A B");
	ck_assert_int_eq(r->heredocs[0].expand, 0);
	ck_assert_str_eq(r->heredocs[0].body, "\n");
	ck_assert_int_eq(f->instrs[5].kind, DF_CMD);
	ck_assert_uint_eq(f->instrs[5].line, 16);
	df_file_free(f);
}
END_TEST

START_TEST(test_heredoc_chomp_copy)
{
	/* reference: two heredocs, bodies in order; COPY <<EOF dest */
	struct df_file *f = parse_ok("FROM nginx\n"
				     "COPY <<robots.txt <<humans.txt /usr/share/nginx/html/\n"
				     "User-agent: *\n"
				     "robots.txt\n"
				     "humans\n"
				     "humans.txt\n"
				     "COPY <<EOF greeting.txt\n"
				     "hello world\n"
				     "EOF\n"
				     "COPY <<-EOT /script.sh\n"
				     "\t\techo \"hello ${FOO}\"\n"
				     "\tnot\tstripped inside\n"
				     "\t\tEOT\n"
				     "RUN <<FILE1 cat > file1 && <<FILE2 cat > file2\n"
				     "I am\n"
				     "FILE1\n"
				     "second\n"
				     "FILE2\n");
	ck_assert_uint_eq(f->n, 5);
	struct df_instr *c = &f->instrs[1];
	ck_assert_uint_eq(c->nheredocs, 2);
	ck_assert_str_eq(c->heredocs[0].word, "robots.txt");
	ck_assert_str_eq(c->heredocs[0].body, "User-agent: *\n");
	ck_assert_str_eq(c->heredocs[1].word, "humans.txt");
	ck_assert_str_eq(c->heredocs[1].body, "humans\n");
	ck_assert_str_eq(c->rest, "<<robots.txt <<humans.txt /usr/share/nginx/html/");
	ck_assert_str_eq(f->instrs[2].heredocs[0].body, "hello world\n");
	c = &f->instrs[3];
	ck_assert_str_eq(c->heredocs[0].word, "EOT");
	ck_assert_int_eq(c->heredocs[0].expand, 1);
	ck_assert_str_eq(c->heredocs[0].body, "echo \"hello ${FOO}\"\nnot\tstripped inside\n");
	c = &f->instrs[4];
	ck_assert_uint_eq(c->nheredocs, 2);
	ck_assert_str_eq(c->heredocs[0].body, "I am\n");
	ck_assert_str_eq(c->heredocs[1].body, "second\n");
	ck_assert_uint_eq(c->line, 14);
	df_file_free(f);
}
END_TEST

START_TEST(test_heredoc_not)
{
	/* Not heredocs: exec form, quoted, not at a word start, in CMD,
	 * "<<" alone, a second '<'. */
	struct df_file *f = parse_ok("FROM x\n"
				     "RUN [\"cat\", \"<<EOF\"]\n"
				     "RUN echo \"<<EOF\"\n"
				     "RUN cat<<EOF\n"
				     "CMD cat <<EOF\n"
				     "RUN echo << x <<<y\n"
				     "RUN echo \"unterminated <<EOF\n");
	ck_assert_uint_eq(f->n, 7);
	for (size_t i = 1; i < f->n; i++)
		ck_assert_uint_eq(f->instrs[i].nheredocs, 0);
	df_file_free(f);
	/* the escape directive does not change heredoc words: BuildKit
	 * reads them with '\\' */
	f = parse_ok("# escape=`\nFROM x\nRUN <<E`OF\nbody\nE`OF\n");
	ck_assert_uint_eq(f->instrs[1].nheredocs, 1);
	ck_assert_str_eq(f->instrs[1].heredocs[0].word, "E`OF");
	df_file_free(f);
	/* expansions on the line do not hide heredocs (BuildKit reads the
	 * line with unset variables left as written) */
	f = parse_ok("FROM x\n"
		     "RUN cat ${FILE%.txt} ${A:-x y} ${B/a/b} \"q\\\"$C\" <<EOF > $OUT\n"
		     "body\n"
		     "EOF\n"
		     "COPY <<$NAME /dst\n"
		     "x\n"
		     "$NAME\n");
	ck_assert_uint_eq(f->instrs[1].nheredocs, 1);
	ck_assert_str_eq(f->instrs[1].heredocs[0].body, "body\n");
	ck_assert_str_eq(f->instrs[2].heredocs[0].word, "$NAME");
	ck_assert_int_eq(f->instrs[2].heredocs[0].expand, 1);
	df_file_free(f);
	/* BuildKit: an escaped word is still expanded (only quotes count) */
	f = parse_ok("FROM x\nRUN <<\\EOF\n$A\nEOF\n");
	ck_assert_str_eq(f->instrs[1].heredocs[0].word, "EOF");
	ck_assert_int_eq(f->instrs[1].heredocs[0].expand, 1);
	df_file_free(f);
}
END_TEST

START_TEST(test_heredoc_errors)
{
	parse_bad("FROM x\nRUN <<EOF\necho\nEOFX\n", "Dockerfile:2:1: unterminated heredoc <<EOF");
	parse_bad("FROM x\nCOPY <<A <<B /d\na\nA\nb\n", "unterminated heredoc <<B");
	/* <<- only strips tabs, not spaces, from the terminator */
	parse_bad("FROM x\nRUN <<-EOF\n  EOF\n", "unterminated heredoc");
	parse_bad("FROM x\nONBUILD RUN <<EOF\necho\nEOF\n", "Dockerfile:2:1: heredocs are not "
							    "supported in ONBUILD");
}
END_TEST

/* ---- exec and shell forms ------------------------------------------------------- */

START_TEST(test_json_forms)
{
	struct df_file *f = parse_ok("FROM x\n"
				     "ENTRYPOINT [\"top\", \"-b\"]\n"
				     "RUN [ \"echo\" , \"$HOME\" ]\n"
				     "CMD [\"a\\\"b\", \"\\u00e9\", \"c:\\\\windows\"]\n"
				     "CMD []\n"
				     "CMD ['a', 'b']\n"
				     "RUN [\"a\"] extra\n"
				     "RUN [not json\n"
				     "VOLUME [\"/data\", \"/logs\"]\n"
				     "VOLUME /var/log /var/db\n"
				     "COPY [\"a b\", \"/dst/\"]\n"
				     "SHELL [\"powershell\", \"-command\"]\n"
				     "ENV j=[\"x\"]\n");
	struct df_instr *in = f->instrs;
	ck_assert_int_eq(in[1].json, 1);
	ck_assert_uint_eq(in[1].nargs, 2);
	ck_assert_str_eq(in[1].args[0], "top");
	ck_assert_str_eq(in[1].args[1], "-b");
	ck_assert_ptr_null(in[1].args[2]);
	/* reference: exec form does not expand */
	ck_assert_str_eq(in[2].args[1], "$HOME");
	ck_assert_str_eq(in[3].args[0], "a\"b");
	ck_assert_str_eq(in[3].args[1], "\xc3\xa9");
	ck_assert_str_eq(in[3].args[2], "c:\\windows");
	ck_assert_int_eq(in[4].json, 1);
	ck_assert_uint_eq(in[4].nargs, 0);
	/* reference: single quotes are not JSON, so this is the shell form */
	ck_assert_int_eq(in[5].json, 0);
	ck_assert_uint_eq(in[5].nargs, 0);
	ck_assert_str_eq(in[5].rest, "['a', 'b']");
	/* BuildKit unmarshals strictly: trailing text makes it shell form */
	ck_assert_int_eq(in[6].json, 0);
	ck_assert_str_eq(in[6].rest, "[\"a\"] extra");
	ck_assert_int_eq(in[7].json, 0);
	ck_assert_int_eq(in[8].json, 1);
	ck_assert_uint_eq(in[8].nargs, 2);
	ck_assert_int_eq(in[9].json, 0);
	ck_assert_str_eq(in[9].rest, "/var/log /var/db");
	ck_assert_str_eq(in[10].args[0], "a b");
	ck_assert_int_eq(in[11].json, 1);
	/* ENV has no exec form */
	ck_assert_int_eq(in[12].json, 0);
	df_file_free(f);
}
END_TEST

START_TEST(test_json_bad)
{
	/* BuildKit: a JSON array with non-strings is an error, not shell */
	parse_bad("FROM x\nCMD [\"a\", 1]\n", "Dockerfile:2:1: CMD: a JSON array (exec form) must "
					      "hold only strings");
	parse_bad("FROM x\nRUN [[\"a\"]]\n", "must hold only strings");
	parse_bad("FROM x\nSHELL /bin/sh -c\n", "SHELL requires the JSON form");
	parse_bad("FROM x\nSHELL []\n", "SHELL requires at least one argument");
	parse_bad("FROM x\nVOLUME []\n", "VOLUME requires at least one argument");
}
END_TEST

/* ---- flags ------------------------------------------------------------------------ */

START_TEST(test_flags)
{
	struct df_file *f = parse_ok(
	    "FROM --platform=$BUILDPLATFORM golang AS build\n"
	    "COPY --from=build --chown=55:mygroup --link files* /somedir/\n"
	    "ADD --chmod=644 --checksum=sha256:abc \"--not-a-flag\" /dst\n"
	    "RUN --mount=type=secret,id=aws,target=/root/.aws/credentials --network=none "
	    "--security=insecure aws s3 cp s3://x .\n"
	    "COPY --chown=\"a b\" --x='$y' --esc=a\\ b -- --dash /d\n"
	    "COPY a --from=x b\n"
	    "CMD --help\n"
	    "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1\n");
	struct df_instr *in = f->instrs;
	ck_assert_uint_eq(in[0].nflags, 1);
	ck_assert_str_eq(in[0].flags[0].name, "platform");
	ck_assert_str_eq(in[0].flags[0].value, "$BUILDPLATFORM"); /* raw, not expanded */
	ck_assert_str_eq(in[0].rest, "golang AS build");

	ck_assert_uint_eq(in[1].nflags, 3);
	ck_assert_str_eq(df_flag_get(&in[1], "from")->value, "build");
	ck_assert_str_eq(df_flag_get(&in[1], "chown")->value, "55:mygroup");
	ck_assert_ptr_null(df_flag_get(&in[1], "link")->value);
	ck_assert_ptr_null(df_flag_get(&in[1], "chmod"));
	ck_assert_str_eq(in[1].rest, "files* /somedir/");
	ck_assert_str_eq(in[1].text,
			 "COPY --from=build --chown=55:mygroup --link files* /somedir/");

	ck_assert_uint_eq(in[2].nflags, 2);
	ck_assert_str_eq(in[2].rest, "\"--not-a-flag\" /dst");

	ck_assert_uint_eq(in[3].nflags, 3);
	ck_assert_str_eq(in[3].flags[0].name, "mount");
	ck_assert_str_eq(in[3].flags[0].value, "type=secret,id=aws,target=/root/.aws/credentials");
	ck_assert_str_eq(in[3].flags[1].value, "none");
	ck_assert_str_eq(in[3].flags[2].name, "security");
	ck_assert_str_eq(in[3].rest, "aws s3 cp s3://x .");

	/* BuildKit's flag words: quotes removed, '\\' escapes, "--" ends */
	ck_assert_uint_eq(in[4].nflags, 3);
	ck_assert_str_eq(in[4].flags[0].value, "a b");
	ck_assert_str_eq(in[4].flags[1].value, "$y");
	ck_assert_str_eq(in[4].flags[2].value, "a b");
	ck_assert_str_eq(in[4].rest, "--dash /d");

	/* flags come right after the keyword */
	ck_assert_uint_eq(in[5].nflags, 0);
	ck_assert_str_eq(in[5].rest, "a --from=x b");
	/* CMD takes no flags: the text is its command */
	ck_assert_uint_eq(in[6].nflags, 0);
	ck_assert_str_eq(in[6].rest, "--help");

	ck_assert_uint_eq(in[7].nflags, 2);
	ck_assert_str_eq(df_flag_get(&in[7], "interval")->value, "5m");
	ck_assert_str_eq(in[7].rest, "CMD curl -f http://localhost/ || exit 1");
	ck_assert_int_eq(in[7].json, 0);
	df_file_free(f);
}
END_TEST

START_TEST(test_flags_check)
{
	static const char *const copy_ok[] = {"from", "chown", "chmod", "link", NULL};
	static const char *const none[] = {NULL};
	struct df_file *f = parse_ok("FROM x\nCOPY --from=a --link a b\n  COPY --frum=a a b\n");
	error *err = NULL;

	ck_assert_int_eq(df_flags_check(f, &f->instrs[1], copy_ok, &err), 0);
	ck_assert_int_eq(df_flags_check(f, &f->instrs[0], none, &err), 0);
	ck_assert_int_eq(df_flags_check(f, &f->instrs[2], copy_ok, &err), -EINVAL);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_str_eq(err->msg, "Dockerfile:3:3: unknown flag --frum for COPY (valid: --from, "
				   "--chown, --chmod, --link)");
	error_free(err);
	err = NULL;
	ck_assert_int_eq(df_flags_check(f, &f->instrs[1], none, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "COPY takes no flags"));
	error_free(err);
	df_file_free(f);
}
END_TEST

START_TEST(test_healthcheck)
{
	struct df_file *f =
	    parse_ok("FROM x\n"
		     "HEALTHCHECK --retries=3 cmd [\"curl\", \"-f\", \"http://x/\"]\n"
		     "HEALTHCHECK none\n");
	struct df_instr *h = &f->instrs[1];
	ck_assert_int_eq(h->json, 1);
	ck_assert_uint_eq(h->nargs, 3);
	ck_assert_str_eq(h->args[2], "http://x/");
	ck_assert_str_eq(h->rest, "cmd [\"curl\", \"-f\", \"http://x/\"]");
	ck_assert_str_eq(df_flag_get(h, "retries")->value, "3");
	ck_assert_int_eq(f->instrs[2].json, 0);
	df_file_free(f);
	/* BuildKit: NONE takes nothing, CMD needs a command, no other type */
	parse_bad("FROM x\nHEALTHCHECK NONE now\n", "HEALTHCHECK NONE takes no arguments");
	parse_bad("FROM x\nHEALTHCHECK CMD\n", "missing command after HEALTHCHECK CMD");
	parse_bad("FROM x\nHEALTHCHECK RUN x\n", "unknown HEALTHCHECK type 'RUN': use CMD or NONE");
	parse_bad("FROM x\nHEALTHCHECK\n", "HEALTHCHECK requires at least one argument");
}
END_TEST

/* ---- ONBUILD and trigger lines ---------------------------------------------------- */

START_TEST(test_onbuild)
{
	/* reference examples */
	struct df_file *f = parse_ok("FROM x\n"
				     "ONBUILD ADD . /app/src\n"
				     "onbuild   run /usr/local/bin/python-build --dir /app/src\n"
				     "ONBUILD COPY --from=builder [\"a\", \"b\"]\n");
	struct df_instr *o = &f->instrs[1];
	ck_assert_int_eq(o->kind, DF_ONBUILD);
	ck_assert_str_eq(o->rest, "ADD . /app/src");
	ck_assert_ptr_nonnull(o->onbuild);
	ck_assert_int_eq(o->onbuild->kind, DF_ADD);
	ck_assert_str_eq(o->onbuild->text, "ADD . /app/src");
	ck_assert_str_eq(o->onbuild->rest, ". /app/src");
	ck_assert_ptr_null(o->onbuild->onbuild);
	o = &f->instrs[2];
	ck_assert_str_eq(o->text, "ONBUILD   run /usr/local/bin/python-build --dir /app/src");
	ck_assert_str_eq(o->onbuild->text, "RUN /usr/local/bin/python-build --dir /app/src");
	ck_assert_uint_eq(o->onbuild->line, 3);
	ck_assert_uint_eq(o->onbuild->column, 11);
	o = f->instrs[3].onbuild;
	ck_assert_int_eq(o->kind, DF_COPY);
	ck_assert_str_eq(df_flag_get(o, "from")->value, "builder");
	ck_assert_int_eq(o->json, 1);
	ck_assert_uint_eq(o->nargs, 2);
	df_file_free(f);
	/* reference: no ONBUILD ONBUILD, no FROM or MAINTAINER triggers */
	parse_bad("FROM x\nONBUILD ONBUILD RUN x\n",
		  "Dockerfile:2:1: ONBUILD ONBUILD is not allowed");
	parse_bad("FROM x\nONBUILD FROM y\n", "FROM isn't allowed as an ONBUILD trigger");
	parse_bad("FROM x\nONBUILD maintainer me\n", "MAINTAINER isn't allowed as an ONBUILD");
	parse_bad("FROM x\nONBUILD\n", "ONBUILD requires an instruction");
	parse_bad("FROM x\nONBUILD RUNN x\n", "Dockerfile:2:9: unknown instruction 'RUNN'");
}
END_TEST

START_TEST(test_parse_line)
{
	struct df_instr *in = NULL;
	error *err = NULL;

	ck_assert_int_eq(df_parse_line("trigger", "RUN echo hi", '\\', &in, &err), 0);
	ck_assert_int_eq(in->kind, DF_RUN);
	ck_assert_str_eq(in->text, "RUN echo hi");
	ck_assert_str_eq(in->rest, "echo hi");
	ck_assert_uint_eq(in->line, 1);
	df_instr_free(in);

	ck_assert_int_eq(df_parse_line("trigger", "copy --chown=a:b src /dst", '\\', &in, &err), 0);
	ck_assert_int_eq(in->kind, DF_COPY);
	ck_assert_str_eq(df_flag_get(in, "chown")->value, "a:b");
	df_instr_free(in);

	/* an escape ending the text is literal: the text is all there is */
	ck_assert_int_eq(df_parse_line("trigger", "RUN echo c:\\", '\\', &in, &err), 0);
	ck_assert_str_eq(in->rest, "echo c:\\");
	df_instr_free(in);

	/* ... and, in ENV, dropped like any trailing escape */
	ck_assert_int_eq(df_parse_line("trigger", "ENV a=b c=d\\", '\\', &in, &err), 0);
	size_t n;
	struct df_kv *kv = NULL;
	ck_assert_int_eq(df_parse_kv(NULL, in, env_lookup, bk_env, &kv, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	expect_kv(kv, 1, "c", "d");
	df_kv_free(kv, n);
	df_instr_free(in);

	/* no directives: a leading "# escape=" line is a comment */
	ck_assert_int_eq(df_parse_line("t", "# escape=`\nRUN a `\n b", '`', &in, &err), 0);
	ck_assert_str_eq(in->rest, "a  b");
	ck_assert_uint_eq(in->line, 2);
	df_instr_free(in);

	static const struct {
		const char *line, *want;
	} bad[] = {
	    {"RUN cat <<EOF\nx\nEOF", "trigger:1:1: heredocs are not supported"},
	    {"", "empty instruction"},
	    {"# only a comment", "expected one instruction"},
	    {"RUN a\nRUN b", "trigger:2:1: expected one instruction"},
	    {"RUNN x", "trigger:1:1: unknown instruction 'RUNN' (did you mean RUN?)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = NULL;
		ck_assert_int_eq(df_parse_line("trigger", bad[i].line, '\\', &in, &err), -EINVAL);
		ck_assert_ptr_null(in);
		ck_assert_msg(strstr(err->msg, bad[i].want), "'%s': '%s'", bad[i].line, err->msg);
		error_free(err);
		err = NULL;
	}
}
END_TEST

/* ---- errors --------------------------------------------------------------------- */

START_TEST(test_errors)
{
	parse_bad("FROM x\nRUNN make\n", "Dockerfile:2:1: unknown instruction 'RUNN' (did you mean "
					 "RUN?)");
	parse_bad("FROM x\n\n    cpoy a b\n", "Dockerfile:3:5: unknown instruction 'cpoy' (did you "
					      "mean COPY?)");
	parse_bad("FORM x\n", "Dockerfile:1:1: unknown instruction 'FORM' (did you mean FROM?)");
	parse_bad("FROM x\nFOOBARBAZ y\n", "unknown instruction 'FOOBARBAZ': use FROM, RUN");
	parse_bad("# c\nRUN echo\nFROM x\n",
		  "Dockerfile:2:1: RUN before the first FROM: a build stage starts with FROM");
	parse_bad("ARG A\nLABEL a=b\nFROM x\n", "Dockerfile:2:1: LABEL before the first FROM");
	parse_bad("", "no build stage in Dockerfile");
	parse_bad("# syntax=x\n\n# only comments\n  \n", "no build stage in Dockerfile");
	parse_bad("ARG ONLY=1\n", "no build stage");
	/* BuildKit's argument checks */
	parse_bad("FROM\n", "FROM requires at least one argument");
	parse_bad("FROM a b\n", "FROM takes an image and optionally AS name");
	parse_bad("FROM a AT b\n", "FROM takes an image");
	parse_bad("FROM x\nCOPY onlyone\n", "COPY requires at least two arguments");
	parse_bad("FROM x\nADD [\"a\"]\n", "ADD requires at least two arguments");
	parse_bad("FROM x\nCOPY <<EOF\nx\nEOF\n", "COPY requires at least two arguments");
	parse_bad("FROM x\nWORKDIR\n", "Dockerfile:2:1: WORKDIR requires at least one argument");
	parse_bad("FROM x\nENV\n", "ENV requires at least one argument");
	parse_bad("FROM x\nEXPOSE   \n", "EXPOSE requires at least one argument");

	/* ARG before FROM is fine; RUN/CMD/ENTRYPOINT may be empty */
	struct df_file *f = parse_ok("ARG A=1\nARG B\nFROM x\nRUN\nCMD\nENTRYPOINT\n");
	ck_assert_uint_eq(f->n, 6);
	ck_assert_str_eq(f->instrs[3].rest, "");
	df_file_free(f);

	/* text is bounded by len, not by a NUL; a NUL inside is refused */
	struct df_file *g = NULL;
	error *err = NULL;
	ck_assert_int_eq(df_parse("Dockerfile", "FROM x\nRUN a\0b\n", 15, &g, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "Dockerfile:2:6: NUL byte: a Dockerfile must be text");
	error_free(err);
	err = NULL;
	ck_assert_int_eq(df_parse("Dockerfile", "FROM x\nRUN y\nGARBAGE", 13, &g, &err), 0);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_str_eq(g->instrs[1].rest, "y");
	df_file_free(g);
}
END_TEST

/* ---- word processing ------------------------------------------------------------ */

/* BuildKit's shell lexer vectors (envVarTest, the "A" and "U" lines). */
static const struct {
	const char *in, *want; /* want NULL: an error */
} bk_vectors[] = {
    {"hello", "hello"},
    {"he'll'o", "hello"},
    {"he'llo", NULL},
    {"he\\'llo", "he'llo"},
    {"he\\\\'llo", NULL},
    {"abc\\tdef", "abctdef"},
    {"\"abc\\tdef\"", "abc\\tdef"},
    {"\"abc\\\\tdef\"", "abc\\tdef"},
    {"'abc\\tdef'", "abc\\tdef"},
    {"hello\\", "hello"},
    {"hello\\\\", "hello\\"},
    {"\"hello", NULL},
    {"\"hello\\\"", NULL},
    {"\"hel'lo\"", "hel'lo"},
    {"'hello", NULL},
    {"'hello\\'", "hello\\"},
    {"'hello\\there'", "hello\\there"},
    {"'hello\\\\there'", "hello\\\\there"},
    {"\"''\"", "''"},
    {"$.", "$."},
    {"$1", ""},
    {"he$1x", "hex"},
    {"he$.x", "he$.x"},
    {"he$pwd.", "he."},
    {"he$PWD", "he/home"},
    {"he\\$PWD", "he$PWD"},
    {"he\\\\$PWD", "he\\/home"},
    {"\"he\\$PWD\"", "he$PWD"},
    {"\"he\\\\$PWD\"", "he\\/home"},
    {"\\${}", "${}"},
    {"\\${}aaa", "${}aaa"},
    {"he\\${}", "he${}"},
    {"he\\${}xx", "he${}xx"},
    {"${}", NULL},
    {"${}aaa", NULL},
    {"he${}", NULL},
    {"he${}xx", NULL},
    {"he${hi}", "he"},
    {"he${hi}xx", "hexx"},
    {"he${PWD}", "he/home"},
    {"he${.}", NULL},
    {"he${XXX:-000}xx", "he000xx"},
    {"he${PWD:-000}xx", "he/homexx"},
    {"he${XXX:-$PWD}xx", "he/homexx"},
    {"he${XXX:-${PWD:-yyy}}xx", "he/homexx"},
    {"he${XXX:-${YYY:-yyy}}xx", "heyyyxx"},
    {"he${XXX:YYY}", NULL},
    {"he${XXX:+${PWD}}xx", "hexx"},
    {"he${PWD:+${XXX}}xx", "hexx"},
    {"he${PWD:+${SHELL}}xx", "hebashxx"},
    {"he${XXX:+000}xx", "hexx"},
    {"he${PWD:+000}xx", "he000xx"},
    {"'he${XX}'", "he${XX}"},
    {"\"he${PWD}\"", "he/home"},
    {"\"he'$PWD'\"", "he'/home'"},
    {"\"$PWD\"", "/home"},
    {"'$PWD'", "$PWD"},
    {"'\\$PWD'", "\\$PWD"},
    {"'\"hello\"'", "\"hello\""},
    {"he\\$PWD", "he$PWD"},
    {"\"he\\$PWD\"", "he$PWD"},
    {"'he\\$PWD'", "he\\$PWD"},
    {"he${PWD", NULL},
    {"he${PWD:=000}xx", NULL},
    {"he${PWD:+${PWD}:}xx", "he/home:xx"},
    {"he${XXX:-\\$PWD:}xx", "he$PWD:xx"},
    {"he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"},
    {"안녕하세요", "안녕하세요"},
    {"안'녕'하세요", "안녕하세요"},
    {"안'녕하세요", NULL},
    {"안녕\\'하세요", "안녕'하세요"},
    {"안녕\\t하세요", "안녕t하세요"},
    {"\"안녕\\t하세요\"", "안녕\\t하세요"},
    {"안녕하세요\\", "안녕하세요"},
    {"안녕$1x", "안녕x"},
    {"안녕${XXX:-${YYY:-yyy}}xx", "안녕yyyxx"},
    {"$KOREAN", "한국어"},
    {"안녕$KOREAN", "안녕한국어"},
    {"${{aaa}", NULL},
    {"${aaa}}", "}"},
    {"${aaa", NULL},
    {"${{aaa:-bbb}", NULL},
    {"${aaa:-bbb}}", "bbb}"},
    {"${aaa:-bbb", NULL},
    {"${aaa:-bbb}", "bbb"},
    {"${aaa:-${bbb:-ccc}}", "ccc"},
    {"${aaa:-bbb ${foo}", NULL},
    {"${aaa:-bbb {foo}", "bbb {foo"},
    {"${:}", NULL},
    {"${:-bbb}", NULL},
    {"${:+bbb}", NULL},
};

START_TEST(test_buildkit_vectors)
{
	for (size_t i = 0; i < sizeof(bk_vectors) / sizeof(bk_vectors[0]); i++)
		expect_word(bk_env, '\\', bk_vectors[i].in, bk_vectors[i].want);
}
END_TEST

/* Every form with the variable set, empty and unset (BuildKit's
 * TestProcessWithMatches and TestShellParserMandatoryEnvVars). */
START_TEST(test_substitution_forms)
{
	static const char *env[] = {"FOO=xxx", "BAR=", "VAR=plain", "ARG=x", NULL};

	expect_word(env, '\\', "$FOO ${FOO} $BAZ ${BAZ}.", "xxx xxx  .");
	expect_word(env, '\\', "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc");
	expect_word(env, '\\', "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc");
	expect_word(env, '\\', "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb ");
	expect_word(env, '\\', "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  ");
	expect_word(env, '\\', "${FOO:-}", "xxx");
	expect_word(env, '\\', "${BAZ:-}", "");
	expect_word(env, '\\', "${FOO?aaa}", "xxx");
	expect_word(env, '\\', "${BAR?bbb}", "");
	expect_word(env, '\\', "${BAZ?ccc}", NULL);
	expect_word(env, '\\', "${FOO:?aaa}", "xxx");
	expect_word(env, '\\', "${BAR:?bbb}", NULL);
	expect_word(env, '\\', "${BAZ:?ccc}", NULL);
	expect_word(env, '\\', "${BAZ:?}", NULL);
	expect_word(env, '\\', "${VAR:?message here$ARG}", "plain");
	expect_word_msg(env, "${BAR:?message here$ARG}", "BAR: message herex");
	expect_word_msg(env, "${BAZ?message here$ARG}", "BAZ: message herex");
	expect_word_msg(env, "${BAZ?}", "BAZ: is not allowed to be unset");
	expect_word_msg(env, "${BAR:?}", "BAR: is not allowed to be empty");
	/* the forms BuildKit rejects */
	expect_word(env, '\\', "${FOO=aaa}", NULL);
	expect_word(env, '\\', "${FOO=:aaa}", NULL);
	expect_word(env, '\\', "${FOO=}", NULL);
	/* the default word is a word: quotes, escapes and nesting */
	expect_word(env, '\\', "${BAZ:-\"a }b\"}", "a }b");
	expect_word(env, '\\', "${BAZ:-'$FOO'}", "$FOO");
	expect_word(env, '\\', "${BAZ:-x\\}y}", "x}y");
	expect_word(env, '\\', "\"${BAZ:-$FOO and ${BAR:-b}}\"", "xxx and b");
	/* release-file naming, BuildKit's TestProcessWithMatchesPlatform */
	static const char *plat[] = {"VERSION=v1.2.3", "TARGETOS=linux", "TARGETARCH=arm",
				     "TARGETVARIANT=v7", NULL};
	expect_word(
	    plat, '\\',
	    "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}"
	    ".tar.gz",
	    "something-v1.2.3.linux-arm-v7.tar.gz");
	static const char *plat2[] = {"VERSION=v1.2.3", "TARGETOS=linux", "TARGETARCH=amd64", NULL};
	expect_word(
	    plat2, '\\',
	    "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}"
	    ".tar.gz",
	    "something-v1.2.3.linux-amd64.tar.gz");
	/* special parameters and digits are names too */
	static const char *special[] = {"1=one", "12=twelve", "@=at", NULL};
	expect_word(special, '\\', "$1 $12 $@ ${@} $1x", "one twelve at at onex");
}
END_TEST

START_TEST(test_substitution_errors)
{
	expect_word_msg(bk_env, "${}", "'${}': bad substitution");
	expect_word_msg(bk_env, "a${PWD:=x}", "'a${PWD:=x}': unsupported substitution ${PWD:=...}");
	expect_word_msg(bk_env, "${PWD:=x}", "use ${PWD}, ${PWD:-default}");
	expect_word_msg(bk_env, "${PWD#x}", "unsupported substitution");
	expect_word_msg(bk_env, "${PWD%x}", "unsupported substitution");
	expect_word_msg(bk_env, "${PWD/a/b}", "unsupported substitution");
	expect_word_msg(bk_env, "${PWD", "missing '}'");
	expect_word_msg(bk_env, "${PWD:-x", "missing '}'");
	expect_word_msg(bk_env, "'abc", "unterminated single quote");
	expect_word_msg(bk_env, "\"abc", "unterminated double quote");
	/* nesting is bounded */
	char deep[1001];
	for (int i = 0; i < 200; i++)
		memcpy(deep + 5 * i, "${a:-", 5);
	deep[1000] = '\0';
	expect_word_msg(bk_env, deep, "nested more than");
}
END_TEST

START_TEST(test_escape_char)
{
	/* with escape=` the backslash is an ordinary character */
	expect_word(bk_env, '`', "c:\\$PWD", "c:\\/home");
	expect_word(bk_env, '`', "c:`$PWD", "c:$PWD");
	expect_word(bk_env, '`', "\"a`\"b\"", "a\"b");
	expect_word(bk_env, '`', "\"a\\\"b\"", NULL);
	expect_word(bk_env, '`', "a``b", "a`b");
	expect_word(bk_env, '`', "\"x`y\"", "x`y");
	expect_word(bk_env, '`', "'c:\\x`'", "c:\\x`");
}
END_TEST

START_TEST(test_words)
{
	static const char *env[] = {"space=abc  def", "leading=  ab c", "trailing=ab c   ",
				    "empty=", NULL};

	expect_words(env, "hello", "hello");
	expect_words(env, "hello${hi}bye", "hellobye");
	expect_words(env, "hello${space}bye", "helloabc|defbye");
	expect_words(env, "hello\"${space}\"bye", "helloabc  defbye");
	expect_words(env, "hello \"${space}\"bye", "hello|abc  defbye");
	expect_words(env, "hello${leading}def", "hello|ab|cdef");
	expect_words(env, "hello\"${leading}\" def", "hello  ab c|def");
	expect_words(env, "hello${leading}", "hello|ab|c");
	expect_words(env, "hello${trailing}", "helloab|c");
	expect_words(env, "hello${trailing}d", "helloab|c|d");
	expect_words(env, "hello\"${trailing}\"d", "helloab c   d");
	expect_words(env, "hello\" there  \"", "hello there  ");
	expect_words(env, "hello there     ", "hello|there");
	expect_words(env, "  hello\\ there", "hello there");
	expect_words(env, "hello\\\" there", "hello\"|there");
	expect_words(env, "hello\"\\\\there\"", "hello\\there");
	expect_words(env, "hello\"\\there\"", "hello\\there");
	expect_words(env, "hello'\\\\there'", "hello\\\\there");
	expect_words(env, "hello'$there'", "hello$there");
	expect_words(env, "hello\" there", NULL);
	/* BuildKit drops empty words, quoted or expanded */
	expect_words(env, "a \"\" '' $empty b", "a|b");
	expect_words(env, "", "");
	expect_words(env, "   ", "");
	/* an unquoted default is split after expansion, quotes and all */
	expect_words(env, "${nope:-\"x y\"}", "x|y");
	expect_words(env, "\"${nope:-x y}\"", "x y");
	/* reference: COPY \$FOO /quux copies the file named $FOO */
	expect_words(env, "\\$FOO /quux", "$FOO|/quux");
}
END_TEST

/* ---- ENV, LABEL, ARG ------------------------------------------------------------ */

START_TEST(test_kv_env)
{
	/* reference: ENV examples */
	struct df_file *f = parse_ok("FROM x\n"
				     "ENV MY_NAME=\"John Doe\"\n"
				     "ENV MY_DOG=Rex\\ The\\ Dog\n"
				     "ENV MY_CAT=fluffy\n"
				     "ENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog \\\n"
				     "    MY_CAT=fluffy\n"
				     "ENV MY_VAR my-value\n"
				     "ENV ONE TWO= THREE=world\n"
				     "ENV abc=bye def=$PWD ghi='$PWD' jkl=\\$PWD e=\n"
				     "ENV \"q\"=\"a\" 'r'=b\n");
	size_t n;
	struct df_kv *kv = kv_ok(f, 1, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "MY_NAME", "John Doe");
	df_kv_free(kv, n);
	kv = kv_ok(f, 2, bk_env, &n);
	expect_kv(kv, 0, "MY_DOG", "Rex The Dog");
	df_kv_free(kv, n);
	kv = kv_ok(f, 4, bk_env, &n);
	ck_assert_uint_eq(n, 3);
	expect_kv(kv, 0, "MY_NAME", "John Doe");
	expect_kv(kv, 1, "MY_DOG", "Rex The Dog");
	expect_kv(kv, 2, "MY_CAT", "fluffy");
	df_kv_free(kv, n);
	/* legacy form */
	kv = kv_ok(f, 5, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "MY_VAR", "my-value");
	df_kv_free(kv, n);
	/* reference: "ENV ONE TWO= THREE=world" sets ONE to "TWO= THREE=world" */
	kv = kv_ok(f, 6, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "ONE", "TWO= THREE=world");
	df_kv_free(kv, n);
	/* values expand against the environment before the instruction */
	kv = kv_ok(f, 7, bk_env, &n);
	ck_assert_uint_eq(n, 5);
	expect_kv(kv, 0, "abc", "bye");
	expect_kv(kv, 1, "def", "/home");
	expect_kv(kv, 2, "ghi", "$PWD");
	expect_kv(kv, 3, "jkl", "$PWD");
	expect_kv(kv, 4, "e", "");
	df_kv_free(kv, n);
	/* BuildKit processes keys as words too */
	kv = kv_ok(f, 8, bk_env, &n);
	expect_kv(kv, 0, "q", "a");
	expect_kv(kv, 1, "r", "b");
	df_kv_free(kv, n);
	df_file_free(f);
}
END_TEST

START_TEST(test_kv_legacy_label)
{
	struct df_file *f = parse_ok("FROM x\n"
				     "ENV greeting   \"hello  world\" and  $SHELL\n"
				     "LABEL \"com.example.vendor\"=\"ACME Incorporated\"\n"
				     "LABEL com.example.label-with-value=\"foo\"\n"
				     "LABEL multi.label1=\"value1\" multi.label2=\"value2\" "
				     "other=\"value3\"\n"
				     "LABEL legacy value with spaces\n");
	size_t n;
	/* legacy: the rest of the line is one word, blanks kept */
	struct df_kv *kv = kv_ok(f, 1, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "greeting", "hello  world and  bash");
	df_kv_free(kv, n);
	kv = kv_ok(f, 2, bk_env, &n);
	expect_kv(kv, 0, "com.example.vendor", "ACME Incorporated");
	df_kv_free(kv, n);
	kv = kv_ok(f, 3, bk_env, &n);
	expect_kv(kv, 0, "com.example.label-with-value", "foo");
	df_kv_free(kv, n);
	kv = kv_ok(f, 4, bk_env, &n);
	ck_assert_uint_eq(n, 3);
	expect_kv(kv, 0, "multi.label1", "value1");
	expect_kv(kv, 1, "multi.label2", "value2");
	expect_kv(kv, 2, "other", "value3");
	df_kv_free(kv, n);
	kv = kv_ok(f, 5, bk_env, &n);
	expect_kv(kv, 0, "legacy", "value with spaces");
	df_kv_free(kv, n);
	df_file_free(f);
}
END_TEST

START_TEST(test_kv_arg)
{
	/* reference: ARG user1 / ARG buildno=1; several per line */
	struct df_file *f = parse_ok("ARG user1\n"
				     "ARG buildno=1\n"
				     "ARG a b=2 c= d=\"x y\" e=${PWD}/bin\n"
				     "FROM x\n"
				     "ARG CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n");
	size_t n;
	struct df_kv *kv = kv_ok(f, 0, bk_env, &n);
	ck_assert_uint_eq(n, 1);
	expect_kv(kv, 0, "user1", NULL);
	df_kv_free(kv, n);
	kv = kv_ok(f, 1, bk_env, &n);
	expect_kv(kv, 0, "buildno", "1");
	df_kv_free(kv, n);
	kv = kv_ok(f, 2, bk_env, &n);
	ck_assert_uint_eq(n, 5);
	expect_kv(kv, 0, "a", NULL);
	expect_kv(kv, 1, "b", "2");
	expect_kv(kv, 2, "c", "");
	expect_kv(kv, 3, "d", "x y");
	expect_kv(kv, 4, "e", "/home/bin");
	df_kv_free(kv, n);
	kv = kv_ok(f, 4, bk_env, &n);
	expect_kv(kv, 0, "CONT_IMG_VER", "v1.0.0");
	df_kv_free(kv, n);
	df_file_free(f);
}
END_TEST

START_TEST(test_kv_backtick)
{
	struct df_file *f = parse_ok("# escape=`\nFROM x\nENV P=c:\\dir Q=a` b R=\"`$PWD\"\n");
	size_t n;
	struct df_kv *kv = kv_ok(f, 1, bk_env, &n);
	ck_assert_uint_eq(n, 3);
	expect_kv(kv, 0, "P", "c:\\dir");
	expect_kv(kv, 1, "Q", "a b");
	expect_kv(kv, 2, "R", "$PWD");
	df_kv_free(kv, n);
	df_file_free(f);
}
END_TEST

START_TEST(test_kv_errors)
{
	/* BuildKit's messages, with file:line:col */
	kv_bad("FROM x\nENV ONLYKEY\n", "Dockerfile:2:1: ENV ONLYKEY needs a value");
	kv_bad("FROM x\nLABEL k\n", "LABEL k needs a value");
	kv_bad("FROM x\nENV a=1 b\n", "Dockerfile:2:1: can't find = in 'b'");
	kv_bad("FROM x\nENV =x\n", "ENV names can not be blank");
	kv_bad("FROM x\nARG =x\n", "ARG names can not be blank");
	kv_bad("FROM x\nLABEL a=b =c\n", "LABEL names can not be blank");
	/* the contract: ENV/ARG keys must be usable as variable names */
	kv_bad("FROM x\nENV \"a b\"=1\n", "invalid ENV name 'a b'");
	kv_bad("FROM x\nARG ${NULL}=1\n", "invalid ARG name ''");
	/* expansion errors carry the location */
	kv_bad("FROM x\n  ENV a=${b\n", "Dockerfile:2:3: '${b': missing '}'");
	kv_bad("FROM x\nENV a=${NOPE:?must_be_set}\n", "NOPE: must_be_set");
	/* BuildKit splits the words first: blanks inside ${} split too */
	kv_bad("FROM x\nENV a=${NOPE:?must be set}\n", "can't find = in 'be'");
	kv_bad("FROM x\nRUN x\n", "RUN has no key=value arguments");
}
END_TEST

/* Inputs the fuzzer found; they must fail cleanly or parse. */
START_TEST(test_regressions)
{
	static const char *inputs[] = {
	    "FROM x\nRUN <<\n",	     "FROM x\nRUN <<-\n",
	    "FROM x\nRUN 0<<E\nE\n", "FROM x\nCOPY <<\"\" a\n\n",
	    "FROM x\nRUN <<'\n",     "FROM x\nRUN <<${\n",
	    "FROM x\nRUN <<\\\n",    "#escape=\\\\\n",
	    "# escape=  \nFROM x\n", "FROM x\nHEALTHCHECK CMD [\n",
	    "\\\n\\\nFROM x",	     "ONBUILD ONBUILD ONBUILD ONBUILD ONBUILD RUN x\n",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct df_file *f = NULL;
		error *err = NULL;
		int ret = df_parse("Dockerfile", inputs[i], strlen(inputs[i]), &f, &err);
		ck_assert_msg(ret == 0 || (ret == -EINVAL && err && !f), "%s", inputs[i]);
		df_file_free(f);
		error_free(err);
	}
}
END_TEST

/* An instruction's text (what ONBUILD stores) reads back as the same
 * instruction; the fuzzer found texts that did not. */
START_TEST(test_text_reparses)
{
	static const char *inputs[] = {
	    /* trimming the form feed exposed the escape: a continuation */
	    "# escape=`\nFROM x\nUSER a`\f\n",
	    "FROM x\nUSER a\\\r \r\n",
	    /* the text ends in "`e` \r\r": its '\r's are not a CRLF line end */
	    "# escape=`\nFROM x\nUSER `e` \r\r`  \n",
	    /* a backslash ending a flag word is dropped, not left as text */
	    "# escape=`\nFROM x\nRUN --m=\\\v\v\n",
	    "FROM x\nRUN --m=\\",
	    /* a continuation at the end of the file: the text ends in "c:\" */
	    "FROM x\nENV MY c:\\ \\",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct df_file *f = parse_ok(inputs[i]);
		struct df_instr *in = &f->instrs[1], *again = NULL;
		error *err = NULL;
		ck_assert_int_eq(df_parse_line("t", in->text, f->escape, &again, &err), 0);
		ck_assert_int_eq(again->kind, in->kind);
		ck_assert_str_eq(again->rest, in->rest);
		ck_assert_uint_eq(again->nflags, in->nflags);
		ck_assert_str_eq(again->text, in->text);
		df_instr_free(again);
		df_file_free(f);
	}
}
END_TEST

static Suite *dockerfile_suite(void)
{
	Suite *s = suite_create("dockerfile");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_whitespace_comments_positions);
	tcase_add_test(tc, test_crlf_bom);
	tcase_add_test(tc, test_escape_backtick);
	tcase_add_test(tc, test_escape_default);
	tcase_add_test(tc, test_directives_placement);
	tcase_add_test(tc, test_directives_bad);
	tcase_add_test(tc, test_continuation);
	tcase_add_test(tc, test_heredoc_run);
	tcase_add_test(tc, test_heredoc_chomp_copy);
	tcase_add_test(tc, test_heredoc_not);
	tcase_add_test(tc, test_heredoc_errors);
	tcase_add_test(tc, test_json_forms);
	tcase_add_test(tc, test_json_bad);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_flags_check);
	tcase_add_test(tc, test_healthcheck);
	tcase_add_test(tc, test_onbuild);
	tcase_add_test(tc, test_parse_line);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_regressions);
	tcase_add_test(tc, test_text_reparses);
	suite_add_tcase(s, tc);
	tc = tcase_create("words");
	tcase_add_test(tc, test_buildkit_vectors);
	tcase_add_test(tc, test_substitution_forms);
	tcase_add_test(tc, test_substitution_errors);
	tcase_add_test(tc, test_escape_char);
	tcase_add_test(tc, test_words);
	suite_add_tcase(s, tc);
	tc = tcase_create("kv");
	tcase_add_test(tc, test_kv_env);
	tcase_add_test(tc, test_kv_legacy_label);
	tcase_add_test(tc, test_kv_arg);
	tcase_add_test(tc, test_kv_backtick);
	tcase_add_test(tc, test_kv_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dockerfile_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
