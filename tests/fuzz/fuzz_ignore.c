/* libFuzzer harness for .dockerignore: the input is split at its first NUL
 * byte into the ignore file text and a path (up to the next NUL).
 *  1. ign_parse must succeed or explain itself.
 *  2. The path and each of its parents go through ign_excluded, which must
 *     agree with ign_excluded_at applied parent after parent; when the path
 *     is included but a parent directory is excluded, ign_may_include_below
 *     must have said so for that parent, or a walker would miss the path.
 *  3. Each line of the text is also a path.Match pattern for the path: a
 *     malformed one is malformed whatever the name (Go checks it all).
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ifs -Itools \
 *     tests/fuzz/fuzz_ignore.c tools/ignore.c tools/error.c fs/buf.c
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path a walker could meet: no empty, "." or ".." component. */
static int walkable(const char *p)
{
	if (!*p)
		return 0;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n;
		if (*c && !*++c)
			return 0; /* trailing slash */
	}
	return 1;
}

static void check_walk(const ign *m, const char *path)
{
	size_t n = strlen(path), np = ign_count(m);
	unsigned char *st = malloc(2 * np + 2), *parent = NULL, *cur = st;
	char *prefix = malloc(n + 1);
	int ex = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		ex = ign_excluded_at(m, prefix, parent, cur);
		if (ex != ign_excluded(m, prefix))
			abort();
		parent = cur;
		cur = cur == st ? st + np + 1 : st;
	}
	for (size_t i = 0; !ex && i < n; i++) {
		if (path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		if (ign_excluded(m, prefix) && !ign_may_include_below(m, prefix))
			abort(); /* the walker would skip an included path */
	}
	free(prefix);
	free(st);
}

static void check_go_match(const char *text, const char *path)
{
	const char *line = text;
	for (int k = 0; k < 64 && *line; k++) {
		size_t n = strcspn(line, "\n");
		char *p = strndup(line, n);
		int r = ign_go_match(p, path), r0 = ign_go_match(p, "");
		if (r < -EINVAL || r > 1 || (r == -EINVAL) != (r0 == -EINVAL))
			abort();
		free(p);
		line += n + (line[n] == '\n');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, '\0', size);
	size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
	char *text = strndup((const char *)data, tlen);
	char *path = nul ? strndup(nul + 1, size - tlen - 1) : strdup("a/b");
	ign *m = NULL;
	error *err = NULL;

	if (ign_parse((const char *)data, tlen, "fuzz", &m, &err) == 0) {
		if (err)
			abort();
		(void)ign_excluded(m, path);
		(void)ign_may_include_below(m, path);
		if (walkable(path))
			check_walk(m, path);
		ign_free(m);
	} else if (!err || !err->msg[0]) {
		abort(); /* failures always explain themselves */
	}
	error_free(err);
	check_go_match(text, path);
	free(text);
	free(path);
	return 0;
}
