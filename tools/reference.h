/* reference — image references, normalised like docker's.
 *
 *   alpine                 → docker.io/library/alpine:latest
 *   user/app:1             → docker.io/user/app:1
 *   localhost:5000/x       → localhost:5000/x:latest
 *   quay.io/a/b@sha256:…   → quay.io/a/b@sha256:… (no tag added)
 *
 * The first path component is a registry host when it contains '.' or ':'
 * or is "localhost"; "index.docker.io" is "docker.io".  Repository
 * components are lowercase [a-z0-9] separated by '.', '_', '__' or '-';
 * a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is sha256:<64 hex>.
 */
#ifndef LAYERFS_REFERENCE_H
#define LAYERFS_REFERENCE_H

#include "error.h"

struct reference {
	char *domain; /* "docker.io", "localhost:5000" */
	char *path;   /* "library/alpine" */
	char *tag;    /* "latest" when neither tag nor digest was given; NULL with a digest only */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parses and normalises s.  -EINVAL with a message saying what is wrong. */
int reference_parse(const char *s, struct reference *out, error **err);
void reference_release(struct reference *r);

/* "docker.io/library/alpine:latest" (tag, then @digest when present); caller frees. */
char *reference_full(const struct reference *r);
/* The short form docker shows: "alpine:latest", "user/app:1",
 * "localhost:5000/x:1"; digest-only references give "NAME@sha256:…". */
char *reference_familiar(const struct reference *r);
/* familiar form of a string, or NULL when it does not parse; caller frees. */
char *reference_familiar_str(const char *s);
/* The host to contact: "registry-1.docker.io" for docker.io, else domain. */
const char *reference_registry_host(const struct reference *r);
/* 1 when host (with optional :port) is loopback: localhost, 127.x, [::1]. */
int reference_host_is_loopback(const char *host);

#endif
