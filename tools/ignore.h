/* ignore — .dockerignore: which paths of a build context are left out.
 *
 * Semantics of Docker's (moby/patternmatcher):
 *  - one pattern per line; lines starting with '#' are comments; blank
 *    lines skipped; surrounding blanks trimmed;
 *  - a leading '!' makes an exception (re-includes what matches);
 *  - patterns are cleaned like Go's filepath.Clean (so "./a//b/" is "a/b",
 *    a leading '/' is dropped) and matched against slash-separated paths
 *    relative to the context root;
 *  - matching is Go's filepath.Match per the pattern syntax ('*' any run of
 *    non-'/' bytes, '?' one non-'/' byte, '[...]' classes with '^'/'!'
 *    negation and ranges, '\\' escapes), plus '**' matching any number of
 *    path components (including none);
 *  - a path is also excluded when one of its parent directories matches
 *    (pattern "a" excludes "a/b/c");
 *  - the last matching pattern wins.
 * Malformed patterns (an unterminated class, trailing '\\') are an error
 * naming the file and line.
 */
#ifndef LAYERFS_IGNORE_H
#define LAYERFS_IGNORE_H

#include <stddef.h>

#include "error.h"

typedef struct ign ign;

/* Parses .dockerignore text; src names it in messages. */
int ign_parse(const char *text, size_t len, const char *src, ign **out, error **err);
/* Loads the ignore file that applies to a build the way Docker picks it:
 * "<dockerfile path>.dockerignore" (e.g. "app.Dockerfile.dockerignore")
 * next to the Dockerfile when it exists, else "<context>/.dockerignore",
 * else an empty matcher (excludes nothing). dockerfile may be NULL. */
int ign_load(const char *context_dir, const char *dockerfile, ign **out, error **err);
void ign_free(ign *m);

/* 1 when relpath ("dir/file", no leading "./" or '/', "" never) is
 * excluded, else 0. */
int ign_excluded(const ign *m, const char *relpath);
/* 1 when an excluded directory relpath may still hold re-included paths
 * (some exception pattern could match below it), so a walker must descend
 * into it; 0 when the whole subtree is out. */
int ign_may_include_below(const ign *m, const char *relpath);
/* Number of patterns (0: excludes nothing). */
size_t ign_count(const ign *m);

/* Go's path.Match(pattern, name) (no "**"): 1 match, 0 no match,
 * -EINVAL for a malformed pattern. */
int ign_go_match(const char *pattern, const char *name);

#endif
