/* reference — docker-style image reference parsing (see reference.h). */
#include "reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool component_ok(const char *c, size_t n)
{
	/* [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
	if (!n || !isalnum((unsigned char)c[0]) || !isalnum((unsigned char)c[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)c[i];
		if (isupper(ch))
			return false;
		if (isalnum(ch) || ch == '-')
			continue;
		if (ch == '.' && i + 1 < n && isalnum((unsigned char)c[i + 1]))
			continue;
		if (ch == '_' && i + 1 < n &&
		    (isalnum((unsigned char)c[i + 1]) ||
		     (c[i + 1] == '_' && i + 2 < n && isalnum((unsigned char)c[i + 2]))))
			continue;
		if (ch == '_' && i > 0 && c[i - 1] == '_')
			continue;
		return false;
	}
	return true;
}

static bool domain_ok(const char *c, size_t n)
{
	size_t i = 0;
	if (n && c[0] == '[') { /* [ipv6]:port */
		const char *e = memchr(c, ']', n);
		if (!e)
			return false;
		i = (size_t)(e - c) + 1;
	} else {
		for (; i < n && c[i] != ':'; i++)
			if (!isalnum((unsigned char)c[i]) && c[i] != '.' && c[i] != '-')
				return false;
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (c[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)c[i]))
			return false;
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n < 1 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static bool digest_ok(const char *d)
{
	if (strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static int bad(error **err, const char *s, const char *why)
{
	int r = error_usage(err, "invalid reference '%s': %s", s, why);
	(*err)->code = EINVAL;
	return r;
}

void reference_release(struct reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int reference_parse(const char *s, struct reference *out, error **err)
{
	memset(out, 0, sizeof(*out));
	if (!*s)
		return bad(err, s, "empty");
	char *name = lfs_xstrdup(s);
	char *at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!digest_ok(at + 1)) {
			free(name);
			return bad(err, s, "a digest is sha256: and 64 lowercase hex digits");
		}
		out->digest = lfs_xstrdup(at + 1);
	}
	char *slash = strrchr(name, '/');
	char *colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!tag_ok(colon + 1)) {
			free(name);
			reference_release(out);
			return bad(err, s,
				   "a tag is up to 128 letters, digits, '_', '.' or '-', not "
				   "starting with '.' or '-'");
		}
		out->tag = lfs_xstrdup(colon + 1);
	}
	char *first = strchr(name, '/');
	const char *path = name;
	if (first && (memchr(name, '.', (size_t)(first - name)) ||
		      memchr(name, ':', (size_t)(first - name)) ||
		      (first - name == 9 && !memcmp(name, "localhost", 9)) || name[0] == '[')) {
		if (!domain_ok(name, (size_t)(first - name))) {
			free(name);
			reference_release(out);
			return bad(err, s, "bad registry host");
		}
		out->domain = lfs_xstrndup(name, (size_t)(first - name));
		path = first + 1;
	} else {
		out->domain = lfs_xstrdup("docker.io");
	}
	if (!strcmp(out->domain, "index.docker.io")) {
		free(out->domain);
		out->domain = lfs_xstrdup("docker.io");
	}
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!component_ok(p, n)) {
			free(name);
			reference_release(out);
			return bad(err, s,
				   "repository names are lowercase letters and digits separated "
				   "by '/', '.', '_', '__' or '-'");
		}
		if (!e)
			break;
		p = e + 1;
	}
	if (!strcmp(out->domain, "docker.io") && !strchr(path, '/'))
		out->path = lfs_xasprintf("library/%s", path);
	else
		out->path = lfs_xstrdup(path);
	free(name);
	if (strlen(out->domain) + strlen(out->path) + 1 > 255) {
		reference_release(out);
		return bad(err, s, "the name is longer than 255 bytes");
	}
	if (!out->tag && !out->digest)
		out->tag = lfs_xstrdup("latest");
	return 0;
}

static char *with_suffix(const struct reference *r, lfs_buf *b)
{
	if (r->tag)
		lfs_buf_addf(b, ":%s", r->tag);
	if (r->digest)
		lfs_buf_addf(b, "@%s", r->digest);
	return lfs_buf_detach(b, NULL);
}

char *reference_full(const struct reference *r)
{
	lfs_buf b = LFS_BUF_INIT;
	lfs_buf_addf(&b, "%s/%s", r->domain, r->path);
	return with_suffix(r, &b);
}

char *reference_familiar(const struct reference *r)
{
	lfs_buf b = LFS_BUF_INIT;
	if (strcmp(r->domain, "docker.io"))
		lfs_buf_addf(&b, "%s/%s", r->domain, r->path);
	else if (!strncmp(r->path, "library/", 8) && !strchr(r->path + 8, '/'))
		lfs_buf_addstr(&b, r->path + 8);
	else
		lfs_buf_addstr(&b, r->path);
	return with_suffix(r, &b);
}

char *reference_familiar_str(const char *s)
{
	struct reference r;
	error *e = NULL;
	if (reference_parse(s, &r, &e) < 0) {
		error_free(e);
		return NULL;
	}
	char *f = reference_familiar(&r);
	reference_release(&r);
	return f;
}

const char *reference_registry_host(const struct reference *r)
{
	return strcmp(r->domain, "docker.io") ? r->domain : "registry-1.docker.io";
}

int reference_host_is_loopback(const char *host)
{
	size_t n = strcspn(host, ":");
	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5);
	return (n == 9 && !strncmp(host, "localhost", 9)) || !strncmp(host, "127.", 4);
}
