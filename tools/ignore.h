/* ignore — .dockerignore: which paths of a build context are left out.
 *
 * Semantics of Docker's (moby/patternmatcher, as BuildKit's context
 * walker in tonistiigi/fsutil applies it):
 *  - one pattern per line (a trailing '\r' dropped, a UTF-8 BOM skipped
 *    on the first line); lines starting with '#' in the first column are
 *    comments; blank lines skipped; surrounding blanks (Unicode white
 *    space, as Go's strings.TrimSpace) trimmed;
 *  - a leading '!' makes an exception (re-includes what matches);
 *  - patterns are cleaned like Go's filepath.Clean (so "./a//b/" is "a/b",
 *    a leading '/' is dropped) and matched against slash-separated paths
 *    relative to the context root;
 *  - matching is Go's filepath.Match per the pattern syntax ('*' any run of
 *    non-'/' characters, '?' one non-'/' character (a UTF-8 sequence, or a
 *    byte that is not valid UTF-8), '[...]' classes with '^' negation and
 *    ranges ('!' is an ordinary character, as in Go), '\\' escapes), plus
 *    '**' matching any number of path components (including none; like
 *    Docker's ".*", it does not cross a newline) and Docker's shortcuts:
 *    "PREFIX**" is a plain prefix test and "**SUFFIX" (no other wildcard)
 *    a plain suffix test, so "**foo" also matches "barfoo";
 *  - a path is also excluded when one of its parent directories matches
 *    (pattern "a" excludes "a/b/c");
 *  - the last matching pattern wins — where a pattern counts as matching
 *    a path through a parent only if it was evaluated for that parent
 *    (Docker skips patterns that cannot change the result so far), so
 *    "a/b" followed by "!a" still excludes "a/b", as `docker build` does.
 * Malformed patterns (an unterminated or empty class, a trailing '\\', a
 * reversed range such as "[z-a]", a lone "!") are an error naming the
 * file and line.
 *
 * Deviations from Docker, which translates patterns to Go regular
 * expressions: an escaped letter ("\\d") is that letter, not a regexp
 * class; '*' and '?' inside a class, a POSIX class "[[:alpha:]]" and '^'
 * outside a class have their filepath.Match meaning; a reversed range is
 * rejected when the file is parsed rather than when a path meets it.
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
/* The same, step by step for walkers (what ign_excluded does for each
 * parent in turn): parent holds the per-pattern results of relpath's
 * parent directory (ign_count(m) bytes, as stored by this function), or is
 * NULL for an entry at the top of the context (the parent directories are
 * then matched afresh); state (ign_count(m) bytes, may be NULL) receives
 * relpath's own, for its children.  m may be NULL (nothing excluded). */
int ign_excluded_at(const ign *m, const char *relpath, const unsigned char *parent,
		    unsigned char *state);
/* 1 when an excluded directory relpath may still hold re-included paths
 * (some exception pattern could match below it), so a walker must descend
 * into it; 0 when the whole subtree is out. */
int ign_may_include_below(const ign *m, const char *relpath);
/* Number of patterns (0: excludes nothing). */
size_t ign_count(const ign *m);

/* Go's path.Match(pattern, name) (no "**"): 1 match, 0 no match,
 * -EINVAL for a malformed pattern (checked even when name does not
 * match, as Go does). */
int ign_go_match(const char *pattern, const char *name);
/* Go's path.Clean: the shortest equivalent of path ("" is "."); a
 * leading "/.." is "/", leading ".." of a relative path are kept.
 * Caller frees. */
char *ign_path_clean(const char *path);

#endif
