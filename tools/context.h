/* context — a build context directory: selecting COPY/ADD sources in it,
 * walking them, and their content checksum for the build cache.
 *
 * Everything is resolved through directory fds with O_NOFOLLOW (a symlink
 * in the context is data: it is copied as a link, never followed, so a
 * link pointing outside the context cannot leak what it points to), and
 * paths excluded by the .dockerignore matcher are invisible to every
 * function here.
 *
 * The checksum covers, for each source and everything below it: the path
 * relative to the source, file type, permission and set-id/sticky bits,
 * uid, gid, symlink target, xattrs (name and value, sorted by name;
 * security.selinux, a host label, is left out) and the SHA-256 of the file
 * bytes — never atime/mtime/ctime (as BuildKit).  It also covers each
 * source's own path (so a wildcard matching other names changes it) and
 * the device numbers of device nodes.
 * File digests are remembered in a stat cache keyed by the file's path
 * and (dev, ino, size, mtime ns, ctime ns): an unchanged file is not read
 * again, and a file rewritten with the same size and mtime is still seen
 * (its ctime moved).  A file whose ctime is within the timestamp
 * granularity of the moment it was read is hashed but not remembered, so
 * a write racing with the build is never mistaken for no change.
 *
 * Deviation from Docker: a symbolic link in the middle of a source path
 * ("link/file") is not followed (the source is not found), and a source
 * that is a symlink is the link itself, not its target.
 */
#ifndef LAYERFS_CONTEXT_H
#define LAYERFS_CONTEXT_H

#include <stddef.h>
#include <sys/stat.h>

#include "error.h"
#include "ignore.h"

typedef struct bctx bctx;

/* Opens the context directory dir.  ignore is borrowed (may be NULL: no
 * exclusions) and must outlive the context.  stat_cache is a file path for
 * the persistent stat cache (NULL: none; a missing, unreadable or corrupt
 * cache file counts as empty — it is only a speed-up). */
int ctx_open(const char *dir, const ign *ignore, const char *stat_cache, bctx **out, error **err);
/* Frees without saving the stat cache. */
void ctx_free(bctx *c);
/* The context directory (O_PATH|O_DIRECTORY fd, owned by c). */
int ctx_dirfd(const bctx *c);
const char *ctx_dir(const bctx *c);

/* Expands one source as written in COPY/ADD (already variable-expanded):
 * cleaned (".", "./x", "x/", "a/../b"), relative to the context root (a
 * leading '/' means the context root); each component may hold wildcards
 * (ign_go_match), matched against the entries that are not excluded (an
 * excluded directory is visible when something below it is re-included,
 * as Docker sends it along).  As in BuildKit, the components before the
 * first one with a wildcard ('*', '?', '[' not escaped) are taken
 * literally, the later ones as patterns (so they may use escapes).
 * *matches: a NULL-terminated array of *n relative paths ("." for the
 * root itself), sorted as a walk meets them (by name at each level); free
 * with ctx_strv_free.  Errors (each naming src): a path that leaves the
 * context (-EPERM, "../x": "COPY source '../x' is outside the build
 * context"), nothing matching (-ENOENT: "'x' not found in the build
 * context" + " (excluded by .dockerignore)" when that is why), a
 * malformed pattern (-EINVAL). */
int ctx_glob(bctx *c, const char *src, char ***matches, size_t *n, error **err);
void ctx_strv_free(char **v);

/* Calls fn for the entry rel (a match of ctx_glob) and, when it is a
 * directory, for everything below it, parents before children, children
 * in byte order of their names; excluded entries (and their subtrees,
 * unless an exception re-includes something below) are skipped.
 *   rel        path relative to the context root ("." for the root)
 *   parent_fd  directory fd holding the entry (valid during the call)
 *   name       the entry's name in parent_fd ("." for the root itself)
 *   st         lstat of the entry
 * An excluded directory with re-included paths below is reported (once,
 * just before the first of them) so that a copy can create it; an
 * unreadable excluded directory is skipped, as Docker does.
 * fn returns 0 to go on, or a negative value (with *err set) to stop: that
 * value is returned.  rel that is not "." or a clean relative path is
 * -EINVAL, a missing one -ENOENT. */
typedef int ctx_walk_fn(void *arg, const char *rel, int parent_fd, const char *name,
			const struct stat *st, error **err);
int ctx_walk(bctx *c, const char *rel, ctx_walk_fn *fn, void *arg, error **err);

/* The checksum (see above) of the sources srcs[0..n) (matches of
 * ctx_glob), in the given order, as "sha256:<hex>" (caller frees).  An
 * unreadable file fails naming it. */
int ctx_checksum(bctx *c, char *const *srcs, size_t n, char **digest, error **err);

/* Writes the stat cache file back (temp file + rename) when it changed
 * since ctx_open.  Entries for files not seen by this build are kept (up
 * to a bound), so switching between Dockerfiles stays fast. */
int ctx_save_cache(bctx *c, error **err);

/* Number of files whose bytes ctx_checksum read since ctx_open (the others
 * came from the stat cache): for tests and statistics. */
size_t ctx_files_read(const bctx *c);

#endif
