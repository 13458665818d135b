/* registry — a client for the OCI distribution spec (docker registry v2)
 * over libcurl.
 *
 * Transport: https, certificate checked.  Plain http only when the host is
 * loopback (localhost, 127.x, [::1]) and https fails to connect there, or
 * when tls_verify is 0 (then also no certificate check), like docker's
 * insecure registries.  Redirects: at most 5 (more: -ELOOP); Authorization
 * is not sent to another host.  A transfer slower than 1 KiB/s for 60 s
 * (LAYERFS_REGISTRY_STALL_SECONDS) is aborted (-ETIMEDOUT: slow loris);
 * manifests and JSON answers over 4 MiB are refused (-EFBIG), from their
 * Content-Length when they announce one.  A blob GET whose Content-Length
 * exceeds what its descriptor still allows, or whose Content-Range does
 * not start where the download stopped, is refused before its body is
 * read; a blob longer than its descriptor says without announcing it is
 * cut off at the first byte too many (store_blob_write()): -EBADMSG.
 *
 * Auth: a request answered 401 is retried once after reading its
 * WWW-Authenticate: "Basic" → the credentials; "Bearer realm=,service=,
 * scope=" → a token fetched from realm (one scope= parameter per
 * space-separated scope; with the credentials as Basic auth when there are
 * any), kept until a request is answered 401 again (an expired token).
 * Credentials: given in opts, else auth_lookup().
 *
 * Thread-safety: one registry may be used by several threads at once
 * (layer downloads); the token cache is guarded by a mutex.
 */
#ifndef LAYERFS_REGISTRY_H
#define LAYERFS_REGISTRY_H

#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "store.h"

typedef struct registry registry;

struct registry_opts {
	int tls_verify;	  /* 1 (default) or 0: allow plain http, skip certificate checks */
	const char *user; /* NULL: from the auth files */
	const char *pass;
};

/* host: "localhost:5000", "registry-1.docker.io". */
int registry_new(const char *host, const struct registry_opts *opts, registry **out, error **err);
void registry_free(registry *r);
/* "http" or "https", after the first request. */
const char *registry_scheme(const registry *r);

/* GET /v2/ (checks the credentials, as login does). */
int registry_ping(registry *r, error **err);

/* GET a manifest by tag or digest (Accept: OCI + docker types).  *media_type
 * (caller frees) from Content-Type.  When ref is a digest the body must hash
 * to it; with a tag, to Docker-Content-Digest when the server sends one. */
int registry_get_manifest(registry *r, const char *repo, const char *ref, lfs_buf *body,
			  char **media_type, error **err);
int registry_put_manifest(registry *r, const char *repo, const char *ref, const char *media_type,
			  const void *body, size_t len, error **err);

/* HEAD a blob: 1 present, 0 absent. */
int registry_blob_exists(registry *r, const char *repo, const char *digest, error **err);

/* Progress callback: bytes done of total for one blob (called from the
 * downloading thread). */
typedef void registry_progress_fn(void *arg, uint64_t done, uint64_t total);

/* Downloads a blob into b (begun with its digest and size), resuming with
 * Range after a dropped or stalled connection (5 attempts in all; a server
 * answering 200 to the Range sends it all again and b starts over), then
 * store_blob_finish(). */
int registry_get_blob(registry *r, const char *repo, const char *digest, store_blob *b,
		      registry_progress_fn *fn, void *arg, error **err);
/* Small blobs (configs): into body, digest checked. */
int registry_get_blob_mem(registry *r, const char *repo, const char *digest, lfs_buf *body,
			  error **err);
/* Uploads the file at path as blob digest (POST + monolithic PUT); first
 * tries a cross-repository mount from `from` when given: returns 1 when
 * mounted, 0 when uploaded. */
int registry_put_blob(registry *r, const char *repo, const char *digest, const char *path,
		      const char *from, error **err);

/* GET /v2/_catalog and /v2/REPO/tags/list: arrays of strings (caller decrefs). */
int registry_catalog(registry *r, json_t **repos, error **err);
int registry_tags(registry *r, const char *repo, json_t **tags, error **err);

/* Command-line glue shared by pull, push, login, search: c 'T' is
 * --tls-verify[=true|false], 'C' is --creds USER:PASSWORD (*creds keeps
 * the copy ro points into; caller frees). */
int registry_cli_opt(int c, const char *arg, struct registry_opts *ro, char **creds, error **err);

/* --- parsing, exposed for unit tests --- */
struct www_auth {
	char *scheme; /* "Bearer", "Basic" */
	char *realm, *service, *scope;
};
/* Parses a WWW-Authenticate header value: scheme then k="v" pairs (quoted
 * or token values, backslash escapes).  -EINVAL when unparseable. */
int registry_parse_www_authenticate(const char *hdr, struct www_auth *out);
void www_auth_release(struct www_auth *a);
/* One response header line as libcurl hands it over: line[0..n), with its
 * CRLF, NOT NUL-terminated.  registry_status_code: the status of an
 * "HTTP/x y ..." line (a new response: redirect, 100, retry), -1 for any
 * other line.  registry_header_value: the value of header `name`
 * (case-insensitive), blanks trimmed, as a new string (caller frees);
 * NULL when the line is another header. */
long registry_status_code(const char *line, size_t n);
char *registry_header_value(const char *line, size_t n, const char *name);

#endif
