/* check_ignore — .dockerignore parsing and matching.
 *
 * Expected results come from the references the semantics follow:
 *  [go]   Go's path/filepath match_test.go (matchTests) and path_test.go
 *         (cleantests);
 *  [pm]   moby/patternmatcher patternmatcher_test.go (TestMatches, its
 *         multi-pattern cases, TestMatch running Go's table through
 *         Matches, TestCleanPatterns*, TestSingleExclamationError);
 *  [pmc]  moby/patternmatcher compile(): the exact/prefix/suffix/regexp
 *         match types;
 *  [walk] tonistiigi/fsutil filter.go, which evaluates a path with
 *         MatchesUsingParentResults and its parent directory's results;
 *  [ri]   BuildKit dockerignore.ReadAll: line handling and cleaning. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ignore.h"
#include "testlib.h"

static ign *parse_ok(const char *text)
{
	ign *m = NULL;
	error *err = NULL;
	int r = ign_parse(text, strlen(text), "test.dockerignore", &m, &err);
	ck_assert_msg(r == 0, "ign_parse(%s): %s", text, err ? err->msg : "");
	return m;
}

static void expect(const char *patterns, const char *path, int want, const char *why)
{
	ign *m = parse_ok(patterns);
	ck_assert_msg(ign_excluded(m, path) == want, "patterns [%s] path '%s': want %d (%s)",
		      patterns, path, want, why);
	ign_free(m);
}

static void expect_error(const char *text, const char *msg_part)
{
	ign *m = NULL;
	error *err = NULL;
	ck_assert_msg(ign_parse(text, strlen(text), "ctx/.dockerignore", &m, &err) < 0,
		      "[%s] parsed", text);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, msg_part), "'%s' lacks '%s'", err->msg, msg_part);
	error_free(err);
}

/* [go] matchTests, for ign_go_match (path.Match). */
static const struct {
	const char *pattern, *s;
	int want; /* 1, 0 or -EINVAL */
} go_cases[] = {
    {"abc", "abc", 1},
    {"*", "abc", 1},
    {"*c", "abc", 1},
    {"a*", "a", 1},
    {"a*", "abc", 1},
    {"a*", "ab/c", 0},
    {"a*/b", "abc/b", 1},
    {"a*/b", "a/c/b", 0},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0},
    {"a*b?c*x", "abxbbxdbxebxczzx", 1},
    {"a*b?c*x", "abxbbxdbxebxczzy", 0},
    {"ab[c]", "abc", 1},
    {"ab[b-d]", "abc", 1},
    {"ab[e-g]", "abc", 0},
    {"ab[^c]", "abc", 0},
    {"ab[^b-d]", "abc", 0},
    {"ab[^e-g]", "abc", 1},
    {"a\\*b", "a*b", 1},
    {"a\\*b", "ab", 0},
    {"a?b", "a\u263ab", 1},
    {"a[^a]b", "a\u263ab", 1},
    {"a???b", "a\u263ab", 0},
    {"a[^a][^a][^a]b", "a\u263ab", 0},
    {"[a-\u03b6]*", "\u03b1", 1},
    {"*[a-\u03b6]", "A", 0},
    {"a?b", "a/b", 0},
    {"a*b", "a/b", 0},
    {"[\\]a]", "]", 1},
    {"[\\-]", "-", 1},
    {"[x\\-]", "x", 1},
    {"[x\\-]", "-", 1},
    {"[x\\-]", "z", 0},
    {"[\\-x]", "x", 1},
    {"[\\-x]", "-", 1},
    {"[\\-x]", "a", 0},
    {"[]a]", "]", -EINVAL},
    {"[-]", "-", -EINVAL},
    {"[x-]", "x", -EINVAL},
    {"[x-]", "-", -EINVAL},
    {"[x-]", "z", -EINVAL},
    {"[-x]", "x", -EINVAL},
    {"[-x]", "-", -EINVAL},
    {"[-x]", "a", -EINVAL},
    {"\\", "a", -EINVAL},
    {"[a-b-c]", "a", -EINVAL},
    {"[", "a", -EINVAL},
    {"[^", "a", -EINVAL},
    {"[^bc", "a", -EINVAL},
    {"a[", "a", -EINVAL},
    {"a[", "ab", -EINVAL},
    {"a[", "x", -EINVAL},
    {"a/b[", "x", -EINVAL},
    {"*x", "xxx", 1},
    /* not in Go's table: '!' is no negation in Go, a class may hold '*' */
    {"[!a]", "!", 1},
    {"[!a]", "b", 0},
    {"[*]", "*", 1},
    {"[^a]", "/", 1},
};

START_TEST(test_go_match)
{
	for (size_t i = 0; i < sizeof(go_cases) / sizeof(go_cases[0]); i++)
		ck_assert_msg(ign_go_match(go_cases[i].pattern, go_cases[i].s) == go_cases[i].want,
			      "Match(%s, %s): want %d", go_cases[i].pattern, go_cases[i].s,
			      go_cases[i].want);
}
END_TEST

START_TEST(test_clean)
{
	static const char *const cases[][2] = {
	    /* [go] cleantests */
	    {"", "."},
	    {"abc", "abc"},
	    {"abc/def", "abc/def"},
	    {".", "."},
	    {"..", ".."},
	    {"../..", "../.."},
	    {"../../abc", "../../abc"},
	    {"/abc", "/abc"},
	    {"/", "/"},
	    {"abc/", "abc"},
	    {"./", "."},
	    {"../../", "../.."},
	    {"/abc/", "/abc"},
	    {"abc//def//ghi", "abc/def/ghi"},
	    {"//abc", "/abc"},
	    {"//abc//", "/abc"},
	    {"abc/./def", "abc/def"},
	    {"/./abc/def", "/abc/def"},
	    {"abc/.", "abc"},
	    {"abc/def/ghi/../jkl", "abc/def/jkl"},
	    {"abc/def/../ghi/../jkl", "abc/jkl"},
	    {"abc/def/../..", "."},
	    {"/abc/def/../..", "/"},
	    {"abc/def/../../..", ".."},
	    {"/abc/def/../../..", "/"},
	    {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
	    {"abc/./../def", "def"},
	    {"abc//./../def", "def"},
	    {"abc/../../././../def", "../../def"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = ign_path_clean(cases[i][0]);
		ck_assert_msg(!strcmp(c, cases[i][1]), "Clean(%s) = %s", cases[i][0], c);
		free(c);
	}
}
END_TEST

/* [pm] TestMatches: one pattern, one path. */
static const struct {
	const char *pattern, *path;
	int want;
} pm_cases[] = {
    {"**", "file", 1},
    {"**", "dir/file", 1},
    {"**/", "dir/file", 1},
    {"**/**", "dir/file", 1},
    {"dir/**", "dir/file", 1},
    {"dir/**", "dir/dir2/file", 1},
    {"**/dir", "dir", 1},
    {"**/dir", "dir/file", 1},
    {"**/dir2/*", "dir/dir2/file", 1},
    {"**/dir2/**", "dir/dir2/dir3/file", 1},
    {"**file", "file", 1},
    {"**file", "dir/file", 1},
    {"**/file", "dir/file", 1},
    {"**file", "dir/dir/file", 1},
    {"**/file", "dir/dir/file", 1},
    {"**/file*", "dir/dir/file", 1},
    {"**/file*", "dir/dir/file.txt", 1},
    {"**/file*txt", "dir/dir/file.txt", 1},
    {"**/file*.txt", "dir/dir/file.txt", 1},
    {"**/file*.txt*", "dir/dir/file.txt", 1},
    {"**/**/*.txt", "dir/dir/file.txt", 1},
    {"**/**/*.txt2", "dir/dir/file.txt", 0},
    {"**/*.txt", "file.txt", 1},
    {"**/**/*.txt", "file.txt", 1},
    {"a**/*.txt", "a/file.txt", 1},
    {"a**/*.txt", "a/dir/file.txt", 1},
    {"a**/*.txt", "a/dir/dir/file.txt", 1},
    {"a/*.txt", "a/dir/file.txt", 0},
    {"a/*.txt", "a/file.txt", 1},
    {"a/*.txt**", "a/file.txt", 1},
    {"a[b-d]e", "ae", 0},
    {"a[b-d]e", "ace", 1},
    {"a[b-d]e", "aae", 0},
    {"a[^b-d]e", "aze", 1},
    {".*", ".foo", 1},
    {".*", "foo", 0},
    {"abc.def", "abcdef", 0},
    {"abc.def", "abc.def", 1},
    {"abc.def", "abcZdef", 0},
    {"abc?def", "abcZdef", 1},
    {"abc?def", "abcdef", 0},
    {"a\\\\", "a\\", 1},
    {"**/foo/bar", "foo/bar", 1},
    {"**/foo/bar", "dir/foo/bar", 1},
    {"**/foo/bar", "dir/dir2/foo/bar", 1},
    {"abc/**", "abc", 0},
    {"abc/**", "abc/def", 1},
    {"abc/**", "abc/def/ghi", 1},
    {"**/.foo", ".foo", 1},
    {"**/.foo", "bar.foo", 0},
    {"a(b)c/def", "a(b)c/def", 1},
    {"a(b)c/def", "a(b)c/xyz", 0},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", 1},
    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", 1},
    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", 1},
    {"a\\*b", "a*b", 1},
};

START_TEST(test_patternmatcher_single)
{
	for (size_t i = 0; i < sizeof(pm_cases) / sizeof(pm_cases[0]); i++)
		expect(pm_cases[i].pattern, pm_cases[i].path, pm_cases[i].want, "[pm] TestMatches");
}
END_TEST

START_TEST(test_patternmatcher_multi)
{
	const char *whl = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl";
	expect("**\n!util/docker/web", "util/docker/web/foo", 0, "[pm] multi 1");
	expect("**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", 1,
	       "[pm] multi 2");
	expect("**\n!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", whl, 0,
	       "[pm] multi 3");
	expect("**\n!dist/*.whl", whl, 0, "[pm] multi 4");
	/* [pm] the single-test functions */
	expect("*", "fileutils.go", 1, "[pm] TestWildcardMatches");
	expect("*.go", "fileutils.go", 1, "[pm] TestPatternMatches");
	expect("!fileutils.go\n*.go", "fileutils.go", 1, "[pm] exclusion before inclusion");
	expect("docs\n!docs/README.md", "docs/README.md", 0, "[pm] folder exclusions");
	expect("docs/\n!docs/README.md", "docs/README.md", 0, "[pm] folder with slash");
	expect("docs/*\n!docs/README.md", "docs/README.md", 0, "[pm] folder wildcard");
	expect("*.go\n!fileutils.go", "fileutils.go", 0, "[pm] exclusion after pattern");
	expect("docs\n  !docs/README.md  ", "docs/README.md", 0, "[pm] spaces trimmed");
	expect("", "any/path/there", 0, "[pm] no patterns");
}
END_TEST

/* [pm] TestMatch: Go's table through Matches, where parents count too. */
START_TEST(test_go_table_via_matcher)
{
	for (size_t i = 0; i < sizeof(go_cases) / sizeof(go_cases[0]); i++) {
		const char *p = go_cases[i].pattern, *s = go_cases[i].s;
		int want = go_cases[i].want;
		if (!strcmp(p, "a*") && !strcmp(s, "ab/c"))
			want = 1; /* the parent "ab" matches */
		if (strchr(p, '!') || !strcmp(p, "[*]") || !strcmp(s, "/"))
			continue; /* our own additions */
		if (want < 0) {
			expect_error(p, "malformed pattern");
			continue;
		}
		expect(p, s, want, "[pm] TestMatch");
	}
}
END_TEST

START_TEST(test_lines)
{
	/* [ri] comments only in the first column, blank lines, CRLF, BOM */
	expect("#a\n", "#a", 0, "[ri] comment");
	expect(" #a\n", "#a", 1, "[ri] not a comment once indented");
	expect("\xef\xbb\xbf#a\nb\r\n", "b", 1, "[ri] BOM and CRLF");
	expect("\xef\xbb\xbf#a\nb\r\n", "#a", 0, "[ri] BOM before a comment");
	expect("\n\n   \n\t\na", "a", 1, "[ri] blank lines");
	expect("\xc2\xa0"
	       "a\xe2\x80\x83\n",
	       "a", 1, "[ri] Unicode blanks trimmed");
	/* [ri] cleaning and the leading '/' */
	expect("./a//b/", "a/b", 1, "[ri] Clean");
	expect("/a", "a", 1, "[ri] leading slash");
	expect("a/../b", "b", 1, "[ri] Clean of ..");
	expect("a/../b", "a", 0, "[ri] Clean of ..");
	expect("x\n!  ./x", "x", 0, "[ri] exception cleaned");
	expect("a /", "a", 1, "[pm] New trims again after Clean");
	expect("/", "a", 0, "[ri] '/' stays '/', matching nothing");
	ign *m = parse_ok("# c\n\na\n!b\n  \n");
	ck_assert_uint_eq(ign_count(m), 2);
	ign_free(m);
	m = parse_ok("");
	ck_assert_uint_eq(ign_count(m), 0);
	ck_assert_int_eq(ign_excluded(m, "a"), 0);
	ign_free(m);
}
END_TEST

START_TEST(test_malformed)
{
	expect_error("!", "ctx/.dockerignore:1: illegal exclusion pattern");
	expect_error("a\n# x\n ! \n", "ctx/.dockerignore:3: illegal exclusion");
	expect_error("!/", "illegal exclusion"); /* [ri] "!/" is "!" once cleaned */
	expect_error("ok\n[", "ctx/.dockerignore:2: malformed pattern '['");
	expect_error("a\\", "malformed pattern");
	expect_error("[]", "malformed pattern");
	expect_error("!x[", "malformed pattern '!x['");
	expect_error("[z-a]", "malformed pattern"); /* Docker's regexp refuses it */
	expect_error("a[\xff]", "malformed pattern");
}
END_TEST

START_TEST(test_last_match_wins)
{
	expect("*.md\n!README.md", "README.md", 0, "[pm] exception after");
	expect("*.md\n!README.md", "x.md", 1, "[pm] exception after");
	expect("!README.md\n*.md", "README.md", 1, "[pm] exception before");
	expect("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", 1, "docs example");
	expect("*.md\n!README*.md\nREADME-secret.md", "README-x.md", 0, "docs example");
	expect("a\n!a\na", "a", 1, "last wins");
	expect("a\n!a", "a/b", 0, "re-included directory");
}
END_TEST

START_TEST(test_parent_directories)
{
	expect("a", "a/b/c", 1, "[pm] parent directory");
	expect("a/b", "a/b/c/d", 1, "[pm] parent directory");
	expect("a/*", "a/b/c", 1, "[pm] parent matched by a wildcard");
	expect("a\n!a/b", "a/b", 0, "[pm] exception below an excluded directory");
	expect("a\n!a/b", "a/b/c", 0, "[pm] and its contents");
	expect("a\n!a/b", "a/c", 1, "[pm] the rest stays out");
	/* [walk] a parent's match counts for the children only when the
	 * pattern was evaluated for the parent: "!a" is skipped for "a" (not
	 * excluded so far), so "a/b" stays excluded — MatchesOrParentMatches
	 * alone would have said included. */
	expect("a/b\n!a", "a/b", 1, "[walk] MatchesUsingParentResults");
	expect("a/b\n!a", "a/c", 0, "[walk] MatchesUsingParentResults");
	expect("a/b\n!a/b/c", "a/b/c", 0, "[walk] deeper exception");
}
END_TEST

START_TEST(test_double_star)
{
	expect("**/node_modules", "node_modules", 1, "[pm] **/ matches no component");
	expect("**/node_modules", "a/b/node_modules/x/y", 1, "[pm] any depth, parents");
	expect("**/node_modules", "a/node_modules_x", 0, "[pm] whole component");
	expect("a/**/b", "a/b", 1, "[pmc] (.*/)? may be empty");
	expect("a/**/b", "a/x/y/b", 1, "[pmc] any number of components");
	expect("a/**/b", "a/xb", 0, "[pmc] ** ends on a component boundary");
	expect("a**b", "ab", 1, "[pmc] ** without slashes");
	expect("a**b", "ax/b", 1, "[pmc] ** without slashes");
	expect("a**b", "axb", 0, "[pmc] (.*/)? needs the slash");
	expect("**foo", "barfoo", 1, "[pmc] suffixMatch is a plain suffix test");
	expect("**/foo", "barfoo", 0, "[pmc] suffixMatch");
	expect("foo**", "foobar/x", 1, "[pmc] prefixMatch is a plain prefix test");
	expect("a/**", "a", 0, "[pm] abc/** does not match abc");
	expect("***", "a/b", 1, "[pmc] ** then *");
	/* [pmc] the regexp's '.' does not match a newline; [^/] does */
	expect("a/**/b", "a/x\ny/b", 0, "[pmc] regexp (.*/)?");
	expect("a/*/b", "a/x\ny/b", 1, "[pmc] regexp [^/]*");
	expect("a*/**", "ab/x\ny", 0, "[pmc] regexp .* at the end");
	expect("**/b*", "x\ny/bc", 0, "[pmc] regexp (.*/)?");
	expect("**/bc", "x\ny/bc", 1, "[pmc] suffixMatch has no regexp");
}
END_TEST

START_TEST(test_classes_and_escapes)
{
	expect("[a-c]*.log", "b1.log", 1, "[go] range");
	expect("[^a-c]*.log", "b1.log", 0, "[go] negated range");
	expect("[!a]", "!", 1, "[go] '!' is a member, not a negation");
	expect("\\[a\\]", "[a]", 1, "[go] escapes");
	expect("a\\?", "a?", 1, "[go] escaped ?");
	expect("a\\?", "ab", 0, "[go] escaped ?");
	expect("?", "\xc3\xa9", 1, "[go] ? is one UTF-8 character");
	expect("??", "\xc3\xa9", 0, "[go] ? is one UTF-8 character");
	expect("?", "\xff", 1, "[go] an invalid byte is one character");
	expect("a]", "a]", 1, "[pmc] ']' outside a class is a character");
	expect("[a-z]/x", "q/x/y", 1, "[pm] class in a parent");
}
END_TEST

START_TEST(test_excluded_at)
{
	ign *m = parse_ok("a\n!a/b\n*.o\n**/tmp");
	const char *paths[] = {"a", "a/b", "a/b/c.o", "a/c", "x", "x.o", "x/tmp", "x/y/tmp/z"};
	unsigned char st[4][4];
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		/* the walker's way, parent after parent */
		const char *p = paths[i];
		unsigned char *parent = NULL;
		int ex = 0, k = 0;
		char buf[64];
		for (const char *s = p;; s++) {
			if (*s && *s != '/')
				continue;
			snprintf(buf, sizeof(buf), "%.*s", (int)(s - p), p);
			ex = ign_excluded_at(m, buf, parent, st[k]);
			parent = st[k];
			k = (k + 1) % 4;
			if (!*s)
				break;
		}
		ck_assert_msg(ex == ign_excluded(m, p), "%s", p);
	}
	ck_assert_int_eq(ign_excluded(m, "a/b/c.o"), 0); /* "*.o" is top-level only */
	ck_assert_int_eq(ign_excluded(m, "x.o"), 1);
	ck_assert_int_eq(ign_excluded(m, "a/b"), 0);
	ck_assert_int_eq(ign_excluded(m, "x/y/tmp/z"), 1);
	ck_assert_int_eq(ign_excluded_at(NULL, "a", NULL, NULL), 0);
	ck_assert_int_eq(ign_excluded(NULL, "a"), 0);
	ign_free(m);
}
END_TEST

static void expect_below(const char *patterns, const char *dir, int want)
{
	ign *m = parse_ok(patterns);
	ck_assert_msg(ign_may_include_below(m, dir) == want, "[%s] below '%s': want %d", patterns,
		      dir, want);
	ign_free(m);
}

START_TEST(test_may_include_below)
{
	expect_below("a", "a", 0);			   /* no exception at all */
	expect_below("a\n!a/b/c", "a", 1);		   /* a literal exception below */
	expect_below("a\n!a/b/c", "a/b", 1);		   /* ... deeper */
	expect_below("a\n!a/b/c", "a/x", 0);		   /* another branch */
	expect_below("a\n!a/b/c", "a/b/c", 0);		   /* the exception is the dir itself */
	expect_below("a\n!ab/c", "a", 0);		   /* a prefix of a name is not a dir */
	expect_below("a\n!*.md", "a", 0);		   /* '*' never crosses '/' */
	expect_below("a\n!*/x.md", "a", 1);		   /* ... but may name "a" */
	expect_below("a\n!**/*.md", "a/b/c", 1);	   /* "**" reaches anywhere */
	expect_below("a\n!**.md", "a", 1);		   /* suffix test */
	expect_below("a\n!a/**", "a", 1);		   /* prefix test */
	expect_below("a\n!a/**", "b", 0);		   /* prefix test */
	expect_below("a\n!a**", "a", 1);		   /* prefix test */
	expect_below("a\n![ab]/keep", "a", 1);		   /* class */
	expect_below("a\n![^a]/keep", "a", 0);		   /* negated class */
	expect_below("a\n!a/**/keep", "a/x/y", 1);	   /* "**" in the middle */
	expect_below("a\n!a/**\n", "a/x/y", 1);		   /* prefix test, deeper */
	expect_below("x\n!x/\xc3\xa9/k", "x/\xc3\xa9", 1); /* UTF-8 */
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_load)
{
	t_setup();
	char df[4096];
	ign *m = NULL;
	error *err = NULL;

	ck_assert_int_eq(ign_load(t_dir, NULL, &m, &err), 0); /* no file: empty */
	ck_assert_uint_eq(ign_count(m), 0);
	ign_free(m);

	write_file(t_dir, ".dockerignore", "from-context\n");
	write_file(t_dir, "app.Dockerfile", "FROM scratch\n");
	snprintf(df, sizeof(df), "%s/app.Dockerfile", t_dir);
	ck_assert_int_eq(ign_load(t_dir, df, &m, &err), 0);
	ck_assert_int_eq(ign_excluded(m, "from-context"), 1);
	ign_free(m);

	write_file(t_dir, "app.Dockerfile.dockerignore", "from-dockerfile\n");
	ck_assert_int_eq(ign_load(t_dir, df, &m, &err), 0);
	ck_assert_int_eq(ign_excluded(m, "from-dockerfile"), 1);
	ck_assert_int_eq(ign_excluded(m, "from-context"), 0);
	ign_free(m);

	write_file(t_dir, "app.Dockerfile.dockerignore", "ok\n[\n");
	ck_assert_int_lt(ign_load(t_dir, df, &m, &err), 0);
	ck_assert_msg(strstr(err->msg, "app.Dockerfile.dockerignore:2:"), "%s", err->msg);
	error_free(err);
	err = NULL;

	char missing[4096];
	snprintf(missing, sizeof(missing), "%s/nope", t_dir);
	ck_assert_int_lt(ign_load(missing, NULL, &m, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	error_free(err);
	t_teardown();
}
END_TEST

static Suite *ignore_suite(void)
{
	Suite *s = suite_create("ignore");
	TCase *tc = tcase_create("match");
	tcase_add_test(tc, test_go_match);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_patternmatcher_single);
	tcase_add_test(tc, test_patternmatcher_multi);
	tcase_add_test(tc, test_go_table_via_matcher);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_last_match_wins);
	tcase_add_test(tc, test_parent_directories);
	tcase_add_test(tc, test_double_star);
	tcase_add_test(tc, test_classes_and_escapes);
	tcase_add_test(tc, test_excluded_at);
	tcase_add_test(tc, test_may_include_below);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ignore_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
