/* auth — registry credentials, read like docker and podman read them.
 *
 * Lookup order: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.docker/config.json; in each, "auths" → HOST → "auth" (base64
 * "user:password"; credential helpers are not run).  docker.io is also
 * found under "https://index.docker.io/v1/".  login writes the first of
 * $REGISTRY_AUTH_FILE / $XDG_RUNTIME_DIR/containers/auth.json (when
 * XDG_RUNTIME_DIR is set) / ~/.docker/config.json, keeping the file's other
 * contents, with mode 0600, via temp file + rename.
 */
#ifndef LAYERFS_AUTH_H
#define LAYERFS_AUTH_H

#include <stddef.h>

#include "error.h"

/* 1 and *user, *pass (caller frees) when found, 0 when none, -1 on a broken file. */
int auth_lookup(const char *host, char **user, char **pass, error **err);
/* Stores (pass non-NULL) or removes (pass NULL) host's entry; *path (may be
 * NULL, caller frees) names the file written.  Removing a missing entry:
 * -ENOENT. */
int auth_store(const char *host, const char *user, const char *pass, char **path, error **err);

/* Base64 helpers (standard alphabet, padded); caller frees. */
char *auth_b64_encode(const char *s, size_t len);
/* NULL on bad input. */
char *auth_b64_decode(const char *s, size_t *len);

#endif
