/* registry — OCI distribution client over libcurl (see registry.h). */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "auth.h"
#include "reference.h"
#include "util.h"

#define JSON_MAX   (4u << 20)
#define MAX_REDIRS 5
#define MAX_TRIES  5 /* attempts per blob: the first and resumptions after drops */
#define ACCEPT                                                                                     \
	"Accept: application/vnd.oci.image.manifest.v1+json, "                                     \
	"application/vnd.oci.image.index.v1+json, "                                                \
	"application/vnd.docker.distribution.manifest.v2+json, "                                   \
	"application/vnd.docker.distribution.manifest.list.v2+json"

struct registry {
	char *host;
	const char *scheme;
	int tls_verify;
	char *user, *pass;
	pthread_mutex_t lock; /* guards token, token_scope */
	char *token;
	char *token_scope;
	bool basic; /* the server asked for Basic auth */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- WWW-Authenticate --------------------------------------------------------- */

void www_auth_release(struct www_auth *a)
{
	free(a->scheme);
	free(a->realm);
	free(a->service);
	free(a->scope);
	memset(a, 0, sizeof(*a));
}

int registry_parse_www_authenticate(const char *h, struct www_auth *out)
{
	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*h))
		h++;
	size_t n = strcspn(h, " \t");
	if (!n)
		return -EINVAL;
	out->scheme = lfs_xstrndup(h, n);
	h += n;
	while (*h) {
		while (isspace((unsigned char)*h) || *h == ',')
			h++;
		if (!*h)
			break;
		size_t kl = strcspn(h, "= \t,");
		if (!kl || h[kl] != '=') {
			www_auth_release(out);
			return -EINVAL;
		}
		const char *k = h;
		h += kl + 1;
		lfs_buf v = LFS_BUF_INIT;
		if (*h == '"') {
			for (h++; *h && *h != '"'; h++) {
				if (*h == '\\' && h[1])
					h++;
				lfs_buf_addch(&v, *h);
			}
			if (*h != '"') {
				lfs_buf_release(&v);
				www_auth_release(out);
				return -EINVAL;
			}
			h++;
		} else {
			size_t vl = strcspn(h, ", \t");
			lfs_buf_add(&v, h, vl);
			h += vl;
		}
		char **dst = NULL;
		if (kl == 5 && !strncasecmp(k, "realm", 5))
			dst = &out->realm;
		else if (kl == 7 && !strncasecmp(k, "service", 7))
			dst = &out->service;
		else if (kl == 5 && !strncasecmp(k, "scope", 5))
			dst = &out->scope;
		if (dst) {
			free(*dst);
			*dst = lfs_buf_detach(&v, NULL);
		} else {
			lfs_buf_release(&v);
		}
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------------- */

struct resp {
	long status;
	lfs_buf body;	  /* when no blob */
	size_t max;	  /* body limit */
	store_blob *blob; /* write target for blob GETs */
	error *werr;	  /* from the write callback */
	char *ctype, *digest, *www, *location;
	const char *url; /* for messages */
	uint64_t total;	 /* progress */
	registry_progress_fn *fn;
	void *fn_arg;
	bool discard; /* a 3xx/4xx/5xx body goes to body, not to the blob */
	bool head;    /* a HEAD: Content-Length is the size of what is not sent */
};

static void resp_release(struct resp *p)
{
	lfs_buf_release(&p->body);
	error_free(p->werr);
	free(p->ctype);
	free(p->digest);
	free(p->www);
	free(p->location);
}

static size_t on_write(char *data, size_t sz, size_t nm, void *arg)
{
	struct resp *p = arg;
	size_t n = sz * nm;
	if (p->werr)
		return 0;
	if (p->blob && !p->discard) {
		if (store_blob_write(p->blob, data, n, &p->werr) < 0) {
			error_wrap(&p->werr, "%s", p->url);
			return 0;
		}
		if (p->fn)
			p->fn(p->fn_arg, store_blob_written(p->blob), p->total);
		return n;
	}
	if (p->body.len + n > p->max) {
		if (p->discard) /* an error page: its start is enough */
			return n;
		error_fail(&p->werr, EFBIG,
			   "%s: the answer is larger than %zu bytes, the limit for manifests "
			   "and JSON; refusing it",
			   p->url, p->max);
		return 0;
	}
	lfs_buf_add(&p->body, data, n);
	return n;
}

char *registry_header_value(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) || line[k] != ':')
		return NULL;
	const char *v = line + k + 1;
	const char *e = line + n;
	while (v < e && isspace((unsigned char)*v))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	return lfs_xstrndup(v, (size_t)(e - v));
}

/* Digits of a status code in p[0..end), after blanks, as strtol would read
 * them, but never past end: libcurl's header lines are not NUL-terminated. */
static long status_digits(const char *p, const char *end)
{
	long code = 0;
	while (p < end && isspace((unsigned char)*p))
		p++;
	for (int k = 0; p < end && isdigit((unsigned char)*p) && k < 9; p++, k++)
		code = code * 10 + (*p - '0');
	return code;
}

long registry_status_code(const char *line, size_t n)
{
	if (n <= 5 || strncmp(line, "HTTP/", 5))
		return -1;
	const char *sp = memchr(line, ' ', n);
	return status_digits(sp ? sp + 1 : line + (n > 9 ? 9 : n), line + n);
}

static void set_hdr(char **dst, char *v)
{
	if (v) {
		free(*dst);
		*dst = v;
	}
}

/* A Content-Length or Content-Range the body cannot fit: refused before
 * the body is read (a hostile server announcing terabytes). */
static int check_length(struct resp *p, const char *line, size_t n)
{
	cleanup_free char *cl = registry_header_value(line, n, "Content-Length");
	cleanup_free char *cr = registry_header_value(line, n, "Content-Range");
	uint64_t len = cl ? strtoull(cl, NULL, 10) : 0;
	if (cl && !p->blob && len > p->max)
		return error_fail(&p->werr, EFBIG,
				  "%s: the registry announces %" PRIu64 " bytes, over the %zu "
				  "byte limit for manifests and JSON; refusing it",
				  p->url, len, p->max);
	uint64_t want = p->blob ? store_blob_expected_size(p->blob) : UINT64_MAX;
	if (want == UINT64_MAX)
		return 0;
	uint64_t left = want - store_blob_written(p->blob);
	if (cl && len > left)
		return error_fail(&p->werr, EBADMSG,
				  "%s: the registry announces %" PRIu64 " bytes, but the blob's "
				  "descriptor says %" PRIu64 " (%" PRIu64 " still to come); "
				  "refusing it before downloading",
				  p->url, len, want, left);
	uint64_t start = 0;
	if (cr &&
	    (sscanf(cr, "bytes %" SCNu64, &start) != 1 || start != store_blob_written(p->blob)))
		return error_fail(&p->werr, EBADMSG,
				  "%s: asked for bytes %" PRIu64 "- the registry answered "
				  "Content-Range '%s'",
				  p->url, store_blob_written(p->blob), cr);
	return 0;
}

static size_t on_header(char *line, size_t sz, size_t nm, void *arg)
{
	struct resp *p = arg;
	size_t n = sz * nm;
	long code = registry_status_code(line, n);
	if (code >= 0) { /* a new response (redirect, 100) */
		p->discard = code >= 300 || (code != 200 && code != 206);
		if (code == 200 && p->blob && store_blob_written(p->blob) > 0) {
			/* Range ignored: the whole blob comes again; start over. */
			error *e = NULL;
			store_blob_restart(p->blob, &e);
			error_free(e);
		}
	}
	if (!p->discard && !p->head && check_length(p, line, n) < 0)
		return 0;
	set_hdr(&p->ctype, registry_header_value(line, n, "Content-Type"));
	set_hdr(&p->digest, registry_header_value(line, n, "Docker-Content-Digest"));
	set_hdr(&p->www, registry_header_value(line, n, "WWW-Authenticate"));
	set_hdr(&p->location, registry_header_value(line, n, "Location"));
	return n;
}

struct req {
	const char *method;
	char *url;
	const char *ctype; /* request Content-Type */
	const void *data;  /* request body in memory */
	size_t len;
	int fd; /* or from a file (-1) */
	uint64_t fd_len;
	uint64_t range; /* Range: bytes=range- when > 0 */
	const char *accept;
	const char *scope; /* token scope */
	bool follow;
};

static size_t on_read_fd(char *buf, size_t sz, size_t nm, void *arg)
{
	ssize_t n = read(*(int *)arg, buf, sz * nm);
	return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

/* Seconds under 1 KiB/s before a transfer is given up (slow loris). */
static long stall_seconds(void)
{
	const char *e = getenv("LAYERFS_REGISTRY_STALL_SECONDS");
	long v = e && *e ? strtol(e, NULL, 10) : 0;
	return v > 0 ? v : 60;
}

static int curl_fail(error **err, CURLcode c, const char *url, const char *ebuf)
{
	const char *why = *ebuf ? ebuf : curl_easy_strerror(c);
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return error_fail(err, ETIMEDOUT,
				  "%s: the registry sent less than 1 KiB/s for %ld s (%s); a "
				  "stalled or hostile server? (LAYERFS_REGISTRY_STALL_SECONDS "
				  "sets how long to wait)",
				  url, stall_seconds(), why);
	case CURLE_TOO_MANY_REDIRECTS:
		return error_fail(err, ELOOP,
				  "%s: more than %d redirects (a redirect loop on the registry?)",
				  url, MAX_REDIRS);
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return error_fail(err, ECONNRESET, "%s: connection dropped: %s", url, why);
	default:
		return error_fail(err, EIO, "%s: %s", url, why);
	}
}

static int perform(registry *r, struct req *q, const char *auth, struct resp *p, CURLcode *cc,
		   error **err)
{
	CURL *c = curl_easy_init();
	if (!c)
		return error_make(err, ENOMEM, "initialising libcurl");
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	if (q->accept)
		h = curl_slist_append(h, q->accept);
	if (auth)
		h = curl_slist_append(h, auth);
	cleanup_free char *ct = q->ctype ? lfs_xasprintf("Content-Type: %s", q->ctype) : NULL;
	if (ct)
		h = curl_slist_append(h, ct);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "layerfs/0.1");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_seconds());
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (!r->tls_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, p);
	char range[64];
	if (q->range) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", q->range);
		curl_easy_setopt(c, CURLOPT_RANGE, range);
	}
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		p->head = true;
	} else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST")) {
		if (q->fd >= 0) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read_fd);
			curl_easy_setopt(c, CURLOPT_READDATA, &q->fd);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->fd_len);
			if (!strcmp(q->method, "POST"))
				curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
		} else {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->data ? q->data : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
			if (strcmp(q->method, "POST"))
				curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
		}
	} else if (strcmp(q->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	}
	p->url = q->url;
	*cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->status);
	int ret = 0;
	if (p->werr) {
		*err = steal_pointer(&p->werr);
		ret = -1;
	} else if (*cc != CURLE_OK) {
		ret = curl_fail(err, *cc, q->url, ebuf);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return ret;
}

/* The token URL for a challenge: realm?service=S&scope=A&scope=B — a
 * challenge naming several scopes (space-separated, as a cross-repository
 * mount gets) asks for each, the way docker's token servers expect. */
static char *token_url(const struct www_auth *wa)
{
	CURL *c = curl_easy_init();
	lfs_buf url = LFS_BUF_INIT;
	lfs_buf_addf(&url, "%s%c", wa->realm, strchr(wa->realm, '?') ? '&' : '?');
	char *svc = wa->service ? curl_easy_escape(c, wa->service, 0) : NULL;
	if (svc)
		lfs_buf_addf(&url, "service=%s", svc);
	curl_free(svc);
	for (const char *p = wa->scope ? wa->scope : ""; *p;) {
		size_t n = strcspn(p, " ");
		char *sc = n ? curl_easy_escape(c, p, (int)n) : NULL;
		if (sc)
			lfs_buf_addf(&url, "&scope=%s", sc);
		curl_free(sc);
		p += n + strspn(p + n, " ");
	}
	curl_easy_cleanup(c);
	return lfs_buf_detach(&url, NULL);
}

/* Fetches a bearer token for the challenge. */
static int fetch_token(registry *r, const struct www_auth *wa, error **err)
{
	cleanup_free char *url = token_url(wa);
	cleanup_free char *basic = NULL;
	if (r->user) {
		cleanup_free char *up = lfs_xasprintf("%s:%s", r->user, r->pass ? r->pass : "");
		cleanup_free char *b = auth_b64_encode(up, strlen(up));
		basic = lfs_xasprintf("Authorization: Basic %s", b);
	}
	struct req q = {.method = "GET", .url = url, .fd = -1, .follow = true};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	CURLcode cc;
	int ret = perform(r, &q, basic, &p, &cc, err);
	if (ret == 0 && p.status != 200)
		ret = error_make(
		    err, p.status == 401 ? EACCES : EIO, "getting a token from %s: HTTP %ld%s",
		    wa->realm, p.status,
		    p.status == 401 ? " (wrong user name or password? run 'layerfs login')" : "");
	if (ret == 0) {
		json_t *j = json_loadb(p.body.data, p.body.len, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "token"));
		if (!t)
			t = json_string_value(json_object_get(j, "access_token"));
		if (t) {
			free(r->token);
			r->token = lfs_xstrdup(t);
			free(r->token_scope);
			r->token_scope = lfs_xstrdup(wa->scope ? wa->scope : "");
		} else {
			ret = error_make(err, EPROTO, "%s answered without a token", wa->realm);
		}
		json_decref(j);
	}
	resp_release(&p);
	return ret;
}

static char *auth_header(registry *r)
{
	char *h = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->token) {
		h = lfs_xasprintf("Authorization: Bearer %s", r->token);
	} else if (r->basic && r->user) {
		cleanup_free char *up = lfs_xasprintf("%s:%s", r->user, r->pass ? r->pass : "");
		cleanup_free char *b = auth_b64_encode(up, strlen(up));
		h = lfs_xasprintf("Authorization: Basic %s", b);
	}
	pthread_mutex_unlock(&r->lock);
	return h;
}

/* Reacts to a 401: sets up Basic or fetches a token.  0: retry. */
static int handle_401(registry *r, const char *www, error **err)
{
	struct www_auth wa;
	if (!www || registry_parse_www_authenticate(www, &wa) < 0)
		return error_make(err, EACCES,
				  "%s: authentication required, but the server did "
				  "not say how (no WWW-Authenticate)",
				  r->host);
	int ret = 0;
	pthread_mutex_lock(&r->lock);
	if (!strcasecmp(wa.scheme, "Basic")) {
		if (!r->user || r->basic)
			ret = error_make(err, EACCES, "%s: %s; run 'layerfs login %s'", r->host,
					 r->user ? "user name or password rejected"
						 : "authentication required",
					 r->host);
		r->basic = true;
	} else if (!strcasecmp(wa.scheme, "Bearer") && wa.realm) {
		ret = fetch_token(r, &wa, err);
	} else {
		ret = error_make(err, EACCES, "%s: unsupported authentication scheme '%s'", r->host,
				 wa.scheme);
	}
	pthread_mutex_unlock(&r->lock);
	www_auth_release(&wa);
	return ret;
}

/* One request with the auth dance: p is filled; returns 0 when any HTTP
 * answer came (check p->status), -1 on transport errors. */
static int request(registry *r, struct req *q, struct resp *p, error **err)
{
	for (int attempt = 0;; attempt++) {
		cleanup_free char *auth = auth_header(r);
		CURLcode cc;
		off_t fdpos = q->fd >= 0 ? lseek(q->fd, 0, SEEK_CUR) : 0;
		int ret = perform(r, q, auth, p, &cc, err);
		if (ret < 0)
			return ret;
		if (p->status != 401 || attempt > 0)
			return 0;
		if (handle_401(r, p->www, err) < 0)
			return -1;
		lfs_buf_reset(&p->body);
		if (q->fd >= 0)
			lseek(q->fd, fdpos, SEEK_SET);
	}
}

static char *url_of(registry *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *url_of(registry *r, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	lfs_buf_addf(&b, "%s://%s", r->scheme, r->host);
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return lfs_buf_detach(&b, NULL);
}

/* An error for an unexpected HTTP status, with the registry's message. */
static int http_fail(error **err, const struct resp *p, const char *what)
{
	json_t *j = json_loadb(p->body.data, p->body.len, 0, NULL);
	const char *msg = json_string_value(
	    json_object_get(json_array_get(json_object_get(j, "errors"), 0), "message"));
	int code = p->status == 404 ? ENOENT : p->status == 401 || p->status == 403 ? EACCES : EIO;
	bool denied = p->status == 401 || p->status == 403;
	int ret = error_make(err, 0, "%s: HTTP %ld%s%s%s", what, p->status, msg ? ": " : "",
			     msg ? msg : "",
			     denied ? " (not allowed with these credentials: 'layerfs login' "
				      "as a user who may do this)"
				    : "");
	(*err)->code = code;
	json_decref(j);
	return ret;
}

/* ---- public --------------------------------------------------------------------- */

int registry_new(const char *host, const struct registry_opts *opts, registry **out, error **err)
{
	pthread_once(&curl_once, curl_init_once);
	registry *r = lfs_xcalloc(1, sizeof(*r));
	r->host = lfs_xstrdup(host);
	r->tls_verify = opts ? opts->tls_verify : 1;
	pthread_mutex_init(&r->lock, NULL);
	if (opts && opts->user) {
		r->user = lfs_xstrdup(opts->user);
		r->pass = lfs_xstrdup(opts->pass ? opts->pass : "");
	} else {
		int f = auth_lookup(host, &r->user, &r->pass, err);
		if (f < 0) {
			registry_free(r);
			return -1;
		}
	}
	r->scheme = "https";
	*out = r;
	return registry_ping(r, err) < 0 && (*err)->code != EACCES ? (registry_free(r), -1) : 0;
}

void registry_free(registry *r)
{
	if (!r)
		return;
	free(r->host);
	free(r->user);
	free(r->pass);
	free(r->token);
	free(r->token_scope);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const char *registry_scheme(const registry *r)
{
	return r->scheme;
}

int registry_ping(registry *r, error **err)
{
	for (;;) {
		cleanup_free char *url = url_of(r, "/v2/");
		struct req q = {.method = "GET", .url = url, .fd = -1};
		struct resp p = {.max = JSON_MAX};
		lfs_buf_init(&p.body, 0);
		int ret = request(r, &q, &p, err);
		bool insecure_ok = !r->tls_verify || reference_host_is_loopback(r->host);
		if (ret < 0 && !strcmp(r->scheme, "https") && insecure_ok &&
		    (*err)->code != EACCES) {
			/* No TLS there: plain http, for loopback or when asked. */
			error_free(*err);
			*err = NULL;
			r->scheme = "http";
			resp_release(&p);
			continue;
		}
		if (ret == 0 && p.status != 200)
			ret = http_fail(err, &p, r->host);
		if (ret < 0)
			error_wrap(err, "contacting registry %s", r->host);
		resp_release(&p);
		return ret;
	}
}

static bool is_digest(const char *s)
{
	return !strncmp(s, "sha256:", 7);
}

static void sha256_of(const void *d, size_t n, char out[7 + 65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	EVP_Digest(d, n, md, &ml, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

int registry_get_manifest(registry *r, const char *repo, const char *ref, lfs_buf *body,
			  char **media_type, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/manifests/%s", repo, ref);
	struct req q = {.method = "GET", .url = url, .fd = -1, .accept = ACCEPT, .follow = true};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0 && p.status != 200)
		ret = http_fail(err, &p, url);
	char got[7 + 65];
	if (ret == 0) {
		sha256_of(p.body.data, p.body.len, got);
		const char *want = is_digest(ref) ? ref : p.digest;
		if (want && strcmp(want, got))
			ret = error_make(err, EBADMSG,
					 "%s: the manifest does not match its digest %s (its bytes "
					 "hash to %s)",
					 url, want, got);
	}
	if (ret == 0) {
		lfs_buf_reset(body);
		lfs_buf_add(body, p.body.data, p.body.len);
		*media_type = p.ctype ? lfs_xstrndup(p.ctype, strcspn(p.ctype, ";")) : NULL;
	}
	resp_release(&p);
	return ret;
}

int registry_put_manifest(registry *r, const char *repo, const char *ref, const char *media_type,
			  const void *body, size_t len, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/manifests/%s", repo, ref);
	struct req q = {
	    .method = "PUT", .url = url, .fd = -1, .ctype = media_type, .data = body, .len = len};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0 && p.status != 201 && p.status != 200)
		ret = http_fail(err, &p, url);
	resp_release(&p);
	return ret;
}

int registry_blob_exists(registry *r, const char *repo, const char *digest, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/blobs/%s", repo, digest);
	struct req q = {.method = "HEAD", .url = url, .fd = -1, .follow = true};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0)
		ret = p.status == 200 ? 1 : p.status == 404 ? 0 : http_fail(err, &p, url);
	resp_release(&p);
	return ret;
}

int registry_get_blob(registry *r, const char *repo, const char *digest, store_blob *b,
		      registry_progress_fn *fn, void *arg, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/blobs/%s", repo, digest);
	uint64_t total = store_blob_expected_size(b);
	for (int tries = 1;; tries++) {
		struct req q = {.method = "GET",
				.url = url,
				.fd = -1,
				.follow = true,
				.range = store_blob_written(b)};
		struct resp p = {.max = 64 << 10,
				 .blob = b,
				 .fn = fn,
				 .fn_arg = arg,
				 .total = total == UINT64_MAX ? 0 : total};
		lfs_buf_init(&p.body, 0);
		int ret = request(r, &q, &p, err);
		/* Only a dropped or stalled connection is worth resuming. */
		bool retry = ret < 0 && tries < MAX_TRIES &&
			     ((*err)->code == ECONNRESET || (*err)->code == ETIMEDOUT);
		if (ret == 0 && p.status != 200 && p.status != 206)
			ret = http_fail(err, &p, url);
		resp_release(&p);
		if (retry) { /* resume where it stopped (Range) */
			error_free(*err);
			*err = NULL;
			continue;
		}
		if (ret < 0 && tries > 1)
			error_wrap(err, "after %d attempts", tries);
		if (ret < 0)
			return ret;
		return store_blob_finish(b, err);
	}
}

int registry_get_blob_mem(registry *r, const char *repo, const char *digest, lfs_buf *body,
			  error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/blobs/%s", repo, digest);
	struct req q = {.method = "GET", .url = url, .fd = -1, .follow = true};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0 && p.status != 200)
		ret = http_fail(err, &p, url);
	char got[7 + 65];
	if (ret == 0) {
		sha256_of(p.body.data, p.body.len, got);
		if (strcmp(got, digest))
			ret = error_make(err, EBADMSG, "%s does not match its digest (got %s)", url,
					 got);
	}
	if (ret == 0) {
		lfs_buf_reset(body);
		lfs_buf_add(body, p.body.data, p.body.len);
	}
	resp_release(&p);
	return ret;
}

/* The absolute upload URL from a Location header, with digest added. */
static char *upload_url(registry *r, const char *loc, const char *digest)
{
	lfs_buf b = LFS_BUF_INIT;
	if (strncmp(loc, "http://", 7) && strncmp(loc, "https://", 8))
		lfs_buf_addf(&b, "%s://%s", r->scheme, r->host);
	lfs_buf_addf(&b, "%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
	return lfs_buf_detach(&b, NULL);
}

int registry_put_blob(registry *r, const char *repo, const char *digest, const char *path,
		      const char *from, error **err)
{
	cleanup_free char *url =
	    from ? url_of(r, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, from)
		 : url_of(r, "/v2/%s/blobs/uploads/", repo);
	struct req q = {.method = "POST", .url = url, .fd = -1};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0 && p.status == 201 && from) {
		resp_release(&p);
		return 1;
	}
	if (ret == 0 && (p.status != 202 || !p.location))
		ret = http_fail(err, &p, url);
	cleanup_free char *put = ret == 0 ? upload_url(r, p.location, digest) : NULL;
	resp_release(&p);
	if (ret < 0)
		return ret;
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_make(err, errno, "%s", path);
	struct req u = {.method = "PUT",
			.url = put,
			.fd = fd,
			.fd_len = (uint64_t)st.st_size,
			.ctype = "application/octet-stream"};
	struct resp p2 = {.max = JSON_MAX};
	lfs_buf_init(&p2.body, 0);
	ret = request(r, &u, &p2, err);
	if (ret == 0 && p2.status != 201)
		ret = http_fail(err, &p2, "uploading a blob");
	resp_release(&p2);
	return ret < 0 ? ret : 0;
}

static int get_json(registry *r, const char *url, json_t **out, error **err)
{
	struct req q = {.method = "GET", .url = (char *)url, .fd = -1, .follow = true};
	struct resp p = {.max = JSON_MAX};
	lfs_buf_init(&p.body, 0);
	int ret = request(r, &q, &p, err);
	if (ret == 0 && p.status != 200)
		ret = http_fail(err, &p, url);
	if (ret == 0) {
		*out = json_loadb(p.body.data, p.body.len, 0, NULL);
		if (!*out)
			ret = error_make(err, EBADMSG, "%s: the answer is not JSON", url);
	}
	resp_release(&p);
	return ret;
}

int registry_catalog(registry *r, json_t **repos, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/_catalog?n=1000");
	json_t *j;
	if (get_json(r, url, &j, err) < 0)
		return -1;
	*repos = json_incref(json_object_get(j, "repositories"));
	json_decref(j);
	if (!json_is_array(*repos)) {
		json_decref(*repos);
		*repos = json_array();
	}
	return 0;
}

int registry_tags(registry *r, const char *repo, json_t **tags, error **err)
{
	cleanup_free char *url = url_of(r, "/v2/%s/tags/list", repo);
	json_t *j;
	if (get_json(r, url, &j, err) < 0)
		return -1;
	*tags = json_incref(json_object_get(j, "tags"));
	json_decref(j);
	if (!json_is_array(*tags)) {
		json_decref(*tags);
		*tags = json_array();
	}
	return 0;
}
