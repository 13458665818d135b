/* auth — registry credentials (see auth.h). */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "util.h"

char *auth_b64_encode(const char *s, size_t len)
{
	char *out = lfs_xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

char *auth_b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n % 4)
		return NULL;
	unsigned char *out = lfs_xmalloc(n / 4 * 3 + 1);
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	size_t l = (size_t)r;
	for (size_t i = n; i > 0 && s[i - 1] == '='; i--)
		l--;
	out[l] = '\0';
	*len = l;
	return (char *)out;
}

static char *files[3];

static size_t auth_files(void)
{
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		free(files[i]);
		files[i] = NULL;
	}
	const char *e = getenv("REGISTRY_AUTH_FILE");
	if (e && *e)
		files[n++] = lfs_xstrdup(e);
	e = getenv("XDG_RUNTIME_DIR");
	if (e && *e)
		files[n++] = lfs_xasprintf("%s/containers/auth.json", e);
	e = getenv("HOME");
	if (e && *e)
		files[n++] = lfs_xasprintf("%s/.docker/config.json", e);
	return n;
}

static const char *entry_key(json_t *auths, const char *host)
{
	if (json_object_get(auths, host))
		return host;
	if (!strcmp(host, "docker.io") || !strcmp(host, "registry-1.docker.io"))
		return json_object_get(auths, "https://index.docker.io/v1/")
			   ? "https://index.docker.io/v1/"
			   : NULL;
	return NULL;
}

int auth_lookup(const char *host, char **user, char **pass, error **err)
{
	size_t n = auth_files();
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		json_error_t je;
		json_t *j = json_load_file(files[i], 0, &je);
		if (!j) {
			if (access(files[i], F_OK) == 0)
				ret = error_make(err, 0, "%s: invalid JSON at line %d: %s",
						 files[i], je.line, je.text);
			continue;
		}
		json_t *auths = json_object_get(j, "auths");
		const char *k = entry_key(auths, host);
		const char *a =
		    k ? json_string_value(json_object_get(json_object_get(auths, k), "auth"))
		      : NULL;
		if (a) {
			size_t len;
			char *dec = auth_b64_decode(a, &len);
			char *colon = dec ? strchr(dec, ':') : NULL;
			if (!colon) {
				ret = error_make(err, 0,
						 "%s: the auth entry for %s is not base64 "
						 "'user:password'; run 'layerfs login %s' again",
						 files[i], host, host);
			} else {
				*colon = '\0';
				*user = lfs_xstrdup(dec);
				*pass = lfs_xstrdup(colon + 1);
				ret = 1;
			}
			free(dec);
		}
		json_decref(j);
	}
	return ret;
}

static int mkdir_parent(const char *path)
{
	cleanup_free char *d = lfs_xstrdup(path);
	char *slash = strrchr(d, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if (mkdir(d, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int auth_store(const char *host, const char *user, const char *pass, char **path, error **err)
{
	size_t n = auth_files();
	if (!n)
		return error_make(err, 0,
				  "cannot find where to keep credentials: set HOME or "
				  "REGISTRY_AUTH_FILE");
	const char *f = files[0];
	json_t *j = json_load_file(f, 0, NULL);
	if (!j && access(f, F_OK) == 0)
		return error_make(err, 0, "%s is not valid JSON; fix or remove it", f);
	if (!j)
		j = json_object();
	json_t *auths = json_object_get(j, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(j, "auths", auths);
	}
	if (pass) {
		cleanup_free char *up = lfs_xasprintf("%s:%s", user, pass);
		cleanup_free char *b = auth_b64_encode(up, strlen(up));
		json_object_set_new(auths, host, json_pack("{s:s}", "auth", b));
	} else {
		const char *k = entry_key(auths, host);
		if (!k) {
			json_decref(j);
			int r = error_make(err, 0, "not logged in to %s", host);
			(*err)->code = ENOENT;
			return r;
		}
		json_object_del(auths, k);
	}
	cleanup_free char *tmp = lfs_xasprintf("%s.tmp-XXXXXX", f);
	int fd = mkdir_parent(f) < 0 ? -1 : mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		json_decref(j);
		return error_make(err, errno, "writing %s", f);
	}
	fchmod(fd, 0600);
	int r = json_dumpfd(j, fd, JSON_INDENT(1));
	json_decref(j);
	if (r < 0 || write(fd, "\n", 1) != 1 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, f) < 0) {
		int e = errno;
		unlink(tmp);
		return error_make(err, e, "writing %s", f);
	}
	if (path)
		*path = lfs_xstrdup(f);
	return 0;
}
