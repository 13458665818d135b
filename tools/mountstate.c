/* mountstate — records of writable mounts (see mountstate.h). */
#include "mountstate.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "util.h"

#define MOUNTS_DIR "mounts"

/* <root>/mounts/<sha256 hex of path>.json; caller frees. */
static char *record_path(store *s, const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_Digest(path, strlen(path), md, &ml, EVP_sha256(), NULL);
	for (unsigned i = 0; i < ml; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return lfs_xasprintf("%s/%s/%s.json", store_root(s), MOUNTS_DIR, hex);
}

/* realpath, also for a mount point whose daemon died (stat fails with
 * ENOTCONN there): then the parent is resolved and the name appended. */
static char *resolve(const char *path)
{
	char *r = realpath(path, NULL);
	if (r || errno == ENOENT)
		return r;
	cleanup_free char *d = lfs_xstrdup(path), *b = lfs_xstrdup(path);
	cleanup_free char *parent = realpath(dirname(d), NULL);
	const char *base = basename(b);
	if (!parent || !strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/"))
		return NULL;
	return lfs_xasprintf("%s/%s", strcmp(parent, "/") ? parent : "", base);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int write_file(const char *path, const char *text, error **err)
{
	cleanup_free char *tmp = lfs_xasprintf("%s.tmp.XXXXXX", path);
	cleanup_fd int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "cannot create '%s'", tmp);
	size_t len = strlen(text);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			unlink(tmp);
			return error_make(err, e, "writing '%s'", tmp);
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return error_make(err, e, "writing '%s'", path);
	}
	cleanup_free char *d = lfs_xstrdup(path);
	cleanup_fd int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int mountstate_write(store *s, const char *mountpoint_realpath, const struct mountstate *ms,
		     error **err)
{
	cleanup_free char *dir = lfs_xasprintf("%s/%s", store_root(s), MOUNTS_DIR);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return error_make(err, errno, "cannot create '%s'", dir);
	json_t *layers = json_array();
	for (size_t i = 0; i < ms->nlayers; i++)
		json_array_append_new(
		    layers, json_pack("{s:s, s:o}", "tar", ms->layer_paths[i], "index",
				      str_or_null(ms->index_paths ? ms->index_paths[i] : NULL)));
	json_t *j =
	    json_pack("{s:s, s:o, s:o, s:o, s:o, s:I}", "mountpoint", mountpoint_realpath, "upper",
		      str_or_null(ms->upper), "work", str_or_null(ms->work), "image",
		      str_or_null(ms->image), "layers", layers, "pid", (json_int_t)ms->pid);
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return error_make(err, ENOMEM, "encoding the mount record");
	cleanup_free char *path = record_path(s, mountpoint_realpath);
	return write_file(path, text, err);
}

static char *dup_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? lfs_xstrdup(v) : NULL;
}

static int parse(json_t *j, struct mountstate *out)
{
	json_t *layers = json_object_get(j, "layers");
	if (!json_is_object(j) || !json_is_array(layers))
		return -1;
	out->mountpoint = dup_str(j, "mountpoint");
	out->upper = dup_str(j, "upper");
	out->work = dup_str(j, "work");
	out->image = dup_str(j, "image");
	out->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	out->nlayers = json_array_size(layers);
	out->layer_paths = lfs_xcalloc(out->nlayers + 1, sizeof(char *));
	out->index_paths = lfs_xcalloc(out->nlayers + 1, sizeof(char *));
	for (size_t i = 0; i < out->nlayers; i++) {
		json_t *l = json_array_get(layers, i);
		out->layer_paths[i] = dup_str(l, "tar");
		out->index_paths[i] = dup_str(l, "index");
		if (!out->layer_paths[i])
			return -1;
	}
	return out->mountpoint && out->upper ? 0 : -1;
}

int mountstate_read(store *s, const char *mountpoint_or_path, struct mountstate *out, error **err)
{
	memset(out, 0, sizeof(*out));
	cleanup_free char *real = resolve(mountpoint_or_path);
	if (!real)
		return 1;
	cleanup_free char *path = record_path(s, real);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 1;
		return error_make(err, 0, "mount record '%s' of '%s' is unreadable: %s; remove it",
				  path, real, je.text);
	}
	int r = parse(j, out);
	json_decref(j);
	if (r < 0) {
		mountstate_release(out);
		return error_make(err, 0, "mount record '%s' of '%s' is malformed; remove it", path,
				  real);
	}
	return 0;
}

int mountstate_remove(store *s, const char *mountpoint_realpath, error **err)
{
	cleanup_free char *path = record_path(s, mountpoint_realpath);
	if (unlink(path) < 0 && errno != ENOENT)
		return error_make(err, errno, "cannot remove the mount record '%s'", path);
	return 0;
}

void mountstate_release(struct mountstate *ms)
{
	for (size_t i = 0; i < ms->nlayers; i++) {
		if (ms->layer_paths)
			free(ms->layer_paths[i]);
		if (ms->index_paths)
			free(ms->index_paths[i]);
	}
	free(ms->layer_paths);
	free(ms->index_paths);
	free(ms->mountpoint);
	free(ms->upper);
	free(ms->work);
	free(ms->image);
	memset(ms, 0, sizeof(*ms));
}
