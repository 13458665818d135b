/* archive_io — save and load image archives (see archive_io.h). */
#include "archive_io.h"
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "buf.h"
#include "manifest.h"
#include "reference.h"
#include "util.h"

#define JSON_MAX     (16u << 20)
#define COPY_CHUNK   (256u << 10)
#define MAX_SYMLINKS 16

static void json_decref_p(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(json_decref_p)))


/* ---- output files ---------------------------------------------------------- */

int outfile_parse_args(int argc, char **argv, const char *usage, const char **path, error **err)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	*path = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		if (c == 'o') {
			*path = optarg;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 1;
		} else {
			return error_usage(err, "see 'layerfs %s --help'", argv[0]);
		}
	}
	return 0;
}

int outfile_open(struct outfile *of, const char *path, error **err)
{
	of->path = path;
	of->tmp = NULL;
	of->fd = STDOUT_FILENO;
	if (!path)
		return 0;
	of->tmp = lfs_xasprintf("%s.tmp-XXXXXX", path);
	of->fd = mkostemp(of->tmp, O_CLOEXEC);
	if (of->fd < 0) {
		int e = errno;
		free(of->tmp);
		of->tmp = NULL;
		return error_make(err, e, "creating %s", path);
	}
	fchmod(of->fd, 0644);
	return 0;
}

int outfile_commit(struct outfile *of, error **err)
{
	if (!of->path)
		return 0;
	int ret = 0;
	if (fsync(of->fd) < 0)
		ret = error_make(err, errno, "writing %s", of->path);
	close(of->fd);
	if (ret == 0 && rename(of->tmp, of->path) < 0)
		ret = error_make(err, errno, "renaming the output into %s", of->path);
	if (ret < 0)
		unlink(of->tmp);
	free(of->tmp);
	of->tmp = NULL;
	return ret;
}

void outfile_abort(struct outfile *of)
{
	if (!of->path)
		return;
	close(of->fd);
	unlink(of->tmp);
	free(of->tmp);
	of->tmp = NULL;
}

/* ---- save ------------------------------------------------------------------- */

struct saver {
	store *s;
	struct archive *a;
	char **written; /* hex names already in the tar */
	size_t nwritten;
	error **err;
};

static int sv_fail(struct saver *v, const char *what)
{
	return error_make(v->err, archive_errno(v->a) > 0 ? archive_errno(v->a) : EIO,
			  "writing %s to the archive: %s", what, archive_error_string(v->a));
}

static int sv_header(struct saver *v, const char *name, mode_t type, uint64_t size)
{
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, type);
	archive_entry_set_perm(ae, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(ae, (la_int64_t)size);
	archive_entry_set_mtime(ae, 0, 0);
	int r = archive_write_header(v->a, ae);
	archive_entry_free(ae);
	return r == ARCHIVE_OK ? 0 : sv_fail(v, name);
}

static int sv_mem(struct saver *v, const char *name, const char *data, size_t len)
{
	if (sv_header(v, name, AE_IFREG, len) < 0)
		return -1;
	if (len && archive_write_data(v->a, data, len) != (la_ssize_t)len)
		return sv_fail(v, name);
	return 0;
}

static int sv_json(struct saver *v, const char *name, json_t *j)
{
	cleanup_free char *text = json_dumps(j, JSON_COMPACT);
	return sv_mem(v, name, text, strlen(text));
}

/* Copies blob digest from the store into blobs/sha256/<hex>, once. */
static int sv_blob(struct saver *v, const char *digest)
{
	const char *hex = digest + 7;
	for (size_t i = 0; i < v->nwritten; i++)
		if (!strcmp(v->written[i], hex))
			return 0;
	cleanup_free char *path = store_blob_path(v->s, digest);
	if (!path)
		return error_fail(v->err, EBADMSG, "invalid digest '%s' in the store", digest);
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_make(v->err, errno, "blob %s", digest);
	cleanup_free char *name = lfs_xasprintf("blobs/sha256/%s", hex);
	if (sv_header(v, name, AE_IFREG, (uint64_t)st.st_size) < 0)
		return -1;
	cleanup_free char *buf = lfs_xmalloc(COPY_CHUNK);
	for (uint64_t left = (uint64_t)st.st_size; left;) {
		ssize_t n = read(fd, buf, left < COPY_CHUNK ? left : COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_make(v->err, n < 0 ? errno : EIO, "reading blob %s", digest);
		if (archive_write_data(v->a, buf, (size_t)n) != n)
			return sv_fail(v, name);
		left -= (uint64_t)n;
	}
	v->written = lfs_xrealloc(v->written, (v->nwritten + 1) * sizeof(*v->written));
	v->written[v->nwritten++] = lfs_xstrdup(hex);
	return 0;
}

static int sv_image(struct saver *v, const struct store_image *img, json_t *index, json_t *docker,
		    json_t *repos)
{
	if (sv_blob(v, img->manifest_digest) < 0 || sv_blob(v, img->config_digest) < 0)
		return -1;
	json_t *layers = json_array();
	for (size_t i = 0; i < img->nlayers; i++) {
		if (sv_blob(v, img->layers[i].digest) < 0) {
			json_decref(layers);
			return -1;
		}
		json_array_append_new(layers,
				      json_sprintf("blobs/sha256/%s", img->layers[i].digest + 7));
	}
	cleanup_buf lfs_buf mraw = LFS_BUF_INIT;
	if (store_blob_read(v->s, img->manifest_digest, &mraw, v->err) < 0) {
		json_decref(layers);
		return -1;
	}
	const char *mt = json_string_value(json_object_get(img->manifest, "mediaType"));
	json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", mt ? mt : STORE_MT_MANIFEST,
				 "digest", img->manifest_digest, "size", (json_int_t)mraw.len);
	json_t *tags = json_array();
	struct reference r;
	error *e = NULL;
	if (img->ref && reference_parse(img->ref, &r, &e) == 0) {
		cleanup_free char *full = reference_full(&r);
		cleanup_free char *fam = reference_familiar(&r);
		json_object_set_new(desc, "annotations",
				    json_pack("{s:s, s:s}", "io.containerd.image.name", full,
					      "org.opencontainers.image.ref.name",
					      r.tag ? r.tag : "latest"));
		json_array_append_new(tags, json_string(fam));
		cleanup_free char *repo = lfs_xstrndup(fam, strcspn(fam, "@"));
		char *colon = strrchr(repo, ':');
		if (colon && !strchr(colon, '/') && r.tag) {
			*colon = '\0';
			json_t *rt = json_object_get(repos, repo);
			if (!rt) {
				rt = json_object();
				json_object_set_new(repos, repo, rt);
			}
			json_object_set_new(rt, r.tag, json_string(img->config_digest + 7));
		}
		reference_release(&r);
	}
	error_free(e);
	json_array_append_new(json_object_get(index, "manifests"), desc);
	json_array_append_new(docker,
			      json_pack("{s:o, s:o, s:o}", "Config",
					json_sprintf("blobs/sha256/%s", img->config_digest + 7),
					"RepoTags", tags, "Layers", layers));
	return 0;
}

int archive_save(store *s, char *const *names, size_t n, int fd, error **err)
{
	struct store_image **imgs = lfs_xcalloc(n ? n : 1, sizeof(*imgs));
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = store_image_resolve(s, names[i], &imgs[i], err);
	struct saver v = {.s = s, .a = archive_write_new(), .err = err};
	archive_write_set_format_pax_restricted(v.a);
	archive_write_set_bytes_in_last_block(v.a, 1);
	if (ret == 0 && archive_write_open_fd(v.a, fd) != ARCHIVE_OK)
		ret = sv_fail(&v, "the header");
	cleanup_json json_t *index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
					       STORE_MT_INDEX, "manifests");
	cleanup_json json_t *docker = json_array();
	cleanup_json json_t *repos = json_object();
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	if (ret == 0)
		ret = sv_mem(&v, "oci-layout", layout, sizeof(layout) - 1);
	if (ret == 0)
		ret = sv_header(&v, "blobs", AE_IFDIR, 0);
	if (ret == 0)
		ret = sv_header(&v, "blobs/sha256", AE_IFDIR, 0);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = sv_image(&v, imgs[i], index, docker, repos);
	if (ret == 0)
		ret = sv_json(&v, "index.json", index);
	if (ret == 0)
		ret = sv_json(&v, "manifest.json", docker);
	if (ret == 0)
		ret = sv_json(&v, "repositories", repos);
	if (archive_write_close(v.a) != ARCHIVE_OK && ret == 0)
		ret = sv_fail(&v, "the end");
	archive_write_free(v.a);
	for (size_t i = 0; i < v.nwritten; i++)
		free(v.written[i]);
	free(v.written);
	for (size_t i = 0; i < n; i++)
		store_image_free(imgs[i]);
	free(imgs);
	return ret;
}

/* ---- load: the source --------------------------------------------------------- */

/* A member of the archive: a regular file held as a store temp blob, or a
 * link to another member (both normalised archive paths). */
struct member {
	char *name;
	char *link;	  /* symlink or hard link target, already resolved to an archive path */
	store_blob *blob; /* NULL once staged */
	char digest[7 + 65];
	uint64_t size;
};

struct source {
	store *s;
	const char *desc; /* the path given, for messages */
	int dirfd;	  /* OCI layout directory, or -1 for a tar */
	struct member *m;
	size_t n;
};

static void source_release(struct source *src)
{
	for (size_t i = 0; i < src->n; i++) {
		free(src->m[i].name);
		free(src->m[i].link);
		store_blob_free(src->m[i].blob);
	}
	free(src->m);
	if (src->dirfd >= 0)
		close(src->dirfd);
}

/* Normalises an archive path: "./" and "." dropped, "//" collapsed; ".."
 * resolved against dir (NULL: not allowed at all).  Returns NULL when the
 * path is absolute or leaves the archive. */
static char *norm_path(const char *dir, const char *p, bool dotdot_ok)
{
	if (*p == '/')
		return NULL;
	lfs_buf b = LFS_BUF_INIT;
	if (dir)
		lfs_buf_addstr(&b, dir);
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.')) {
			/* skip */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			char *slash = strrchr(b.data, '/');
			if (!dotdot_ok || !b.len) {
				lfs_buf_release(&b);
				return NULL;
			}
			lfs_buf_setlen(&b, slash ? (size_t)(slash - b.data) : 0);
		} else {
			if (b.len)
				lfs_buf_addch(&b, '/');
			lfs_buf_add(&b, c, n);
		}
		c += n;
		if (*c == '/')
			c++;
	}
	return lfs_buf_detach(&b, NULL);
}

static struct member *member_find(struct source *src, const char *name)
{
	for (size_t i = src->n; i-- > 0;) /* a later member replaces an earlier one */
		if (!strcmp(src->m[i].name, name))
			return &src->m[i];
	return NULL;
}

static struct member *member_add(struct source *src, char *name)
{
	src->m = lfs_xrealloc(src->m, (src->n + 1) * sizeof(*src->m));
	struct member *m = &src->m[src->n++];
	memset(m, 0, sizeof(*m));
	m->name = name;
	return m;
}

static int hostile(struct source *src, error **err, const char *name, const char *why)
{
	return error_fail(err, EPERM,
		     "%s: refusing member '%s': %s; the archive is not a valid image "
		     "archive",
		     src->desc, name, why);
}

static int tar_copy_member(struct source *src, struct archive *a, struct member *m, error **err)
{
	if (store_blob_begin(src->s, NULL, UINT64_MAX, &m->blob, err) < 0)
		return -1;
	cleanup_free char *buf = lfs_xmalloc(COPY_CHUNK);
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, COPY_CHUNK);
		if (n < 0)
			return error_fail(err, EIO, "%s: reading member '%s': %s", src->desc, m->name,
				     archive_error_string(a));
		if (n == 0)
			break;
		if (store_blob_write(m->blob, buf, (size_t)n, err) < 0)
			return -1;
	}
	if (store_blob_finish(m->blob, err) < 0)
		return -1;
	memcpy(m->digest, store_blob_digest(m->blob), sizeof(m->digest));
	m->size = store_blob_written(m->blob);
	return 0;
}

static int tar_member(struct source *src, struct archive *a, struct archive_entry *ae, error **err)
{
	const char *raw = archive_entry_pathname(ae);
	if (!raw)
		return hostile(src, err, "(no name)", "it has no name");
	char *name = norm_path(NULL, raw, false);
	if (!name)
		return hostile(src, err, raw, "absolute names and '..' are not allowed");
	if (!*name || archive_entry_filetype(ae) == AE_IFDIR) {
		free(name);
		return 0;
	}
	const char *hl = archive_entry_hardlink(ae);
	if (hl) {
		char *t = norm_path(NULL, hl, false);
		if (!t) {
			free(name);
			return hostile(src, err, raw, "its hard link target leaves the archive");
		}
		member_add(src, name)->link = t;
		return 0;
	}
	if (archive_entry_filetype(ae) == AE_IFLNK) {
		const char *target = archive_entry_symlink(ae);
		char *dir = lfs_xstrndup(
		    name, strrchr(name, '/') ? (size_t)(strrchr(name, '/') - name) : 0);
		char *t = target ? norm_path(dir, target, true) : NULL;
		free(dir);
		if (!t) {
			free(name);
			return hostile(src, err, raw, "its symlink target leaves the archive");
		}
		member_add(src, name)->link = t;
		return 0;
	}
	if (archive_entry_filetype(ae) != AE_IFREG) {
		free(name);
		return 0; /* devices, fifos: never part of an image archive; ignored */
	}
	return tar_copy_member(src, a, member_add(src, name), err);
}

static int read_tar(struct source *src, int fd, error **err)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	int ret = 0;
	if (archive_read_open_fd(a, fd, COPY_CHUNK) != ARCHIVE_OK) {
		ret = error_fail(err, EINVAL,
			    "%s is not a tar archive (%s); give a docker save or OCI "
			    "archive, or an OCI layout directory",
			    src->desc, archive_error_string(a));
	}
	struct archive_entry *ae;
	while (ret == 0) {
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			ret = error_fail(err, EIO, "%s: %s; the archive is truncated or corrupt",
				    src->desc, archive_error_string(a));
			break;
		}
		ret = tar_member(src, a, ae, err);
	}
	archive_read_free(a);
	return ret;
}

/* Opens name below the layout directory without following any symlink. */
static int dir_open(struct source *src, const char *name, error **err)
{
	cleanup_free char *p = norm_path(NULL, name, false);
	if (!p || !*p)
		return hostile(src, err, name, "bad path");
	int dfd = dup(src->dirfd);
	for (char *c = p;;) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		int fd = openat(dfd, c,
				(slash ? O_DIRECTORY | O_PATH : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(dfd);
		if (fd < 0) {
			if (e == ELOOP || e == ENOTDIR)
				return hostile(src, err, name,
					       "a symlink in its path is not followed");
			return error_fail(err, e, "%s: %s is missing: %s", src->desc, name, strerror(e));
		}
		if (!slash) {
			struct stat st;
			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
				close(fd);
				return hostile(src, err, name, "not a regular file");
			}
			return fd;
		}
		dfd = fd;
		c = slash + 1;
	}
}

static int dir_member(struct source *src, const char *name, struct member **out, error **err)
{
	cleanup_fd int fd = dir_open(src, name, err);
	if (fd < 0)
		return -1;
	struct member *m = member_add(src, lfs_xstrdup(name));
	if (store_blob_begin(src->s, NULL, UINT64_MAX, &m->blob, err) < 0)
		return -1;
	cleanup_free char *buf = lfs_xmalloc(COPY_CHUNK);
	for (;;) {
		ssize_t n = read(fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_make(err, errno, "%s: reading %s", src->desc, name);
		if (n == 0)
			break;
		if (store_blob_write(m->blob, buf, (size_t)n, err) < 0)
			return -1;
	}
	if (store_blob_finish(m->blob, err) < 0)
		return -1;
	memcpy(m->digest, store_blob_digest(m->blob), sizeof(m->digest));
	m->size = store_blob_written(m->blob);
	*out = m;
	return 0;
}

/* The member holding the file name (links followed inside the archive). */
static int source_get(struct source *src, const char *name, struct member **out, error **err)
{
	cleanup_free char *cur = norm_path(NULL, name, false);
	if (!cur)
		return hostile(src, err, name, "absolute names and '..' are not allowed");
	if (src->dirfd >= 0) {
		struct member *m = member_find(src, cur);
		if (m) {
			*out = m;
			return 0;
		}
		return dir_member(src, cur, out, err);
	}
	for (int hops = 0; hops <= MAX_SYMLINKS; hops++) {
		struct member *m = member_find(src, cur);
		if (!m)
			return error_fail(err, ENOENT,
				     "%s: '%s' is missing from the archive (referenced as '%s')",
				     src->desc, cur, name);
		if (!m->link) {
			*out = m;
			return 0;
		}
		free(cur);
		cur = lfs_xstrdup(m->link);
	}
	return error_fail(err, ELOOP, "%s: too many links resolving '%s'", src->desc, name);
}

/* Reads a small member (JSON). */
static int source_read(struct source *src, const char *name, lfs_buf *out, error **err)
{
	struct member *m;
	if (source_get(src, name, &m, err) < 0)
		return -1;
	if (!m->blob)
		return error_fail(err, EINVAL, "%s: '%s' is used both as a layer and as metadata",
			     src->desc, name);
	if (m->size > JSON_MAX)
		return error_fail(err, EFBIG, "%s: '%s' is too large (%" PRIu64 " bytes) for metadata",
			     src->desc, name, m->size);
	lfs_buf_reset(out);
	lfs_buf_grow(out, (size_t)m->size);
	ssize_t n = pread(store_blob_fd(m->blob), out->data, (size_t)m->size, 0);
	if (n != (ssize_t)m->size)
		return error_make(err, n < 0 ? errno : EIO, "%s: reading '%s'", src->desc, name);
	lfs_buf_setlen(out, (size_t)m->size);
	return 0;
}

static int source_json(struct source *src, const char *name, lfs_buf *raw, json_t **out,
		       error **err)
{
	if (source_read(src, name, raw, err) < 0)
		return -1;
	json_error_t je;
	*out = json_loadb(raw->data, raw->len, 0, &je);
	if (!*out)
		return error_fail(err, EBADMSG, "%s: '%s' is not valid JSON (line %d: %s)", src->desc,
			     name, je.line, je.text);
	return 0;
}

/* ---- load: images ---------------------------------------------------------- */

struct pending {
	char **refs; /* names to give (may be none) */
	size_t nrefs;
	lfs_buf config, manifest;
	size_t first, nlayers; /* slice of loader.layers */
	char config_digest[7 + 65];
};

struct loader {
	struct source src;
	store_staged_layer **staged; /* distinct staged layers */
	size_t nstaged;
	store_staged_layer **layers; /* per image, in order (borrowed from staged) */
	size_t nlayers;
	struct pending *img;
	size_t nimg;
};

static store_staged_layer *staged_find(struct loader *L, const char *digest)
{
	for (size_t i = 0; i < L->nstaged; i++)
		if (!strcmp(store_staged_layer_digest(L->staged[i]), digest))
			return L->staged[i];
	return NULL;
}

static void layer_push(struct loader *L, store_staged_layer *l, bool fresh)
{
	if (fresh) {
		L->staged = lfs_xrealloc(L->staged, (L->nstaged + 1) * sizeof(*L->staged));
		L->staged[L->nstaged++] = l;
	}
	L->layers = lfs_xrealloc(L->layers, (L->nlayers + 1) * sizeof(*L->layers));
	L->layers[L->nlayers++] = l;
}

/* Stages the layer in member name (or already present by digest). */
static int stage_layer(struct loader *L, const char *name, const char *want_digest,
		       const char *media_type, const char *diff_id, error **err)
{
	store_staged_layer *l = want_digest ? staged_find(L, want_digest) : NULL;
	if (l) {
		layer_push(L, l, false);
		return 0;
	}
	if (want_digest && store_blob_present(L->src.s, want_digest)) {
		if (store_layer_stage_present(L->src.s, want_digest, media_type, diff_id, &l, err) <
		    0)
			return -1;
		layer_push(L, l, true);
		return 0;
	}
	struct member *m;
	if (source_get(&L->src, name, &m, err) < 0)
		return -1;
	if (want_digest && strcmp(m->digest, want_digest))
		return error_fail(err, EBADMSG,
			     "%s: '%s' does not match its digest %s (its bytes hash "
			     "to %s)",
			     L->src.desc, name, want_digest, *m->digest ? m->digest : "nothing");
	l = staged_find(L, m->digest);
	if (l) {
		layer_push(L, l, false);
		return 0;
	}
	if (store_blob_present(L->src.s, m->digest)) {
		if (store_layer_stage_present(L->src.s, m->digest, media_type, diff_id, &l, err) <
		    0)
			return -1;
	} else {
		if (!m->blob)
			return error_fail(err, EINVAL, "%s: '%s' is used twice", L->src.desc, name);
		if (store_layer_stage_blob(L->src.s, steal_pointer(&m->blob), media_type, diff_id,
					   &l, err) < 0)
			return error_wrap(err, "%s: '%s'", L->src.desc, name);
	}
	layer_push(L, l, true);
	return 0;
}

static struct pending *pending_new(struct loader *L)
{
	L->img = lfs_xrealloc(L->img, (L->nimg + 1) * sizeof(*L->img));
	struct pending *p = &L->img[L->nimg++];
	memset(p, 0, sizeof(*p));
	lfs_buf_init(&p->config, 0);
	lfs_buf_init(&p->manifest, 0);
	p->first = L->nlayers;
	return p;
}

static void pending_add_ref(struct pending *p, const char *ref)
{
	for (size_t i = 0; i < p->nrefs; i++)
		if (!strcmp(p->refs[i], ref))
			return;
	p->refs = lfs_xrealloc(p->refs, (p->nrefs + 1) * sizeof(*p->refs));
	p->refs[p->nrefs++] = lfs_xstrdup(ref);
}

static json_t *config_diff_ids(const lfs_buf *config)
{
	json_t *c = json_loadb(config->data, config->len, 0, NULL);
	json_t *d = json_incref(json_object_get(json_object_get(c, "rootfs"), "diff_ids"));
	json_decref(c);
	return d;
}

/* The config digest check for docker-save entries whose Config path is not a
 * digest (legacy "<id>.json"): the bytes define the digest. */
static void set_config_digest(struct pending *p)
{
	json_t *j = json_loadb(p->manifest.data, p->manifest.len, 0, NULL);
	const char *d = json_string_value(json_object_get(json_object_get(j, "config"), "digest"));
	snprintf(p->config_digest, sizeof(p->config_digest), "%s", d ? d : "");
	json_decref(j);
}

/* One OCI image manifest (descriptor d of index.json, index resolved). */
static int load_oci_manifest(struct loader *L, const char *mdigest, struct pending *p, error **err)
{
	cleanup_free char *mname = lfs_xasprintf("blobs/sha256/%s", mdigest + 7);
	cleanup_json json_t *man = NULL;
	if (source_json(&L->src, mname, &p->manifest, &man, err) < 0)
		return -1;
	struct member *mm;
	source_get(&L->src, mname, &mm, err);
	if (strcmp(mm->digest, mdigest))
		return error_fail(err, EBADMSG,
			     "%s: manifest %s does not match its digest (its bytes "
			     "hash to %s)",
			     L->src.desc, mdigest, mm->digest);
	if (manifest_check_image(man, err) < 0)
		return error_wrap(err, "%s: manifest %s", L->src.desc, mdigest);
	const char *cd =
	    json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
	cleanup_free char *cname = lfs_xasprintf("blobs/sha256/%s", cd + 7);
	if (source_read(&L->src, cname, &p->config, err) < 0)
		return -1;
	struct member *cm;
	source_get(&L->src, cname, &cm, err);
	if (strcmp(cm->digest, cd))
		return error_fail(err, EBADMSG,
			     "%s: config %s does not match its digest (its bytes hash "
			     "to %s)",
			     L->src.desc, cd, cm->digest);
	snprintf(p->config_digest, sizeof(p->config_digest), "%s", cd);
	cleanup_json json_t *diff_ids = config_diff_ids(&p->config);
	json_t *layers = json_object_get(man, "layers");
	if (json_array_size(diff_ids) != json_array_size(layers))
		return error_fail(err, EBADMSG,
			     "%s: image %s: the manifest has %zu layers, the config %zu diff_ids",
			     L->src.desc, mdigest, json_array_size(layers),
			     json_array_size(diff_ids));
	size_t i;
	json_t *d;
	json_array_foreach(layers, i, d)
	{
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		const char *why;
		const char *ld = json_string_value(json_object_get(d, "digest"));
		if (!manifest_layer_type_ok(mt, &why))
			return error_fail(err, ENOTSUP, "%s: layer %s has media type %s: %s",
				     L->src.desc, ld, mt, why);
		cleanup_free char *lname = lfs_xasprintf("blobs/sha256/%s", ld + 7);
		if (stage_layer(L, lname, ld, mt, json_string_value(json_array_get(diff_ids, i)),
				err) < 0)
			return -1;
	}
	p->nlayers = L->nlayers - p->first;
	return 0;
}

/* A name from an index.json descriptor's annotations, familiar form. */
static char *oci_desc_name(json_t *d)
{
	json_t *an = json_object_get(d, "annotations");
	const char *full = json_string_value(json_object_get(an, "io.containerd.image.name"));
	const char *ref =
	    json_string_value(json_object_get(an, "org.opencontainers.image.ref.name"));
	if (full)
		return reference_familiar_str(full);
	if (ref && (strchr(ref, ':') || strchr(ref, '/')))
		return reference_familiar_str(ref);
	return NULL;
}

static int load_oci(struct loader *L, json_t *docker, error **err)
{
	cleanup_buf lfs_buf raw = LFS_BUF_INIT;
	cleanup_json json_t *index = NULL;
	if (source_json(&L->src, "index.json", &raw, &index, err) < 0)
		return -1;
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return error_fail(err, EBADMSG, "%s: index.json has no manifests array", L->src.desc);
	struct platform plat;
	platform_parse(NULL, &plat, err);
	size_t i;
	json_t *d;
	int ret = 0;
	json_array_foreach(ms, i, d)
	{
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		const char *dg = json_string_value(json_object_get(d, "digest"));
		cleanup_free char *name = oci_desc_name(d);
		cleanup_json json_t *sub = NULL;
		if (!dg || strncmp(dg, "sha256:", 7) || strlen(dg) != 71) {
			ret = error_fail(err, EBADMSG, "%s: index.json entry %zu has a bad digest",
				    L->src.desc, i);
			break;
		}
		if (manifest_kind_of(mt, d) == MANIFEST_INDEX) {
			cleanup_free char *iname = lfs_xasprintf("blobs/sha256/%s", dg + 7);
			cleanup_buf lfs_buf iraw = LFS_BUF_INIT;
			if ((ret = source_json(&L->src, iname, &iraw, &sub, err)) < 0)
				break;
			d = manifest_pick_platform(sub, &plat, err);
			if (!d) {
				ret = error_wrap(err, "%s: index %s", L->src.desc, dg);
				break;
			}
			dg = json_string_value(json_object_get(d, "digest"));
			if (!dg || strlen(dg) != 71) {
				ret = error_fail(err, EBADMSG, "%s: bad digest in index", L->src.desc);
				break;
			}
		}
		struct pending *p = pending_new(L);
		if ((ret = load_oci_manifest(L, dg, p, err)) < 0)
			break;
		if (name) {
			pending_add_ref(p, name);
			continue;
		}
		/* Docker >= 25 archives name images in manifest.json's RepoTags too. */
		size_t k;
		json_t *e;
		json_array_foreach(docker, k, e)
		{
			const char *c = json_string_value(json_object_get(e, "Config"));
			if (!c || !strstr(c, p->config_digest + 7))
				continue;
			size_t t;
			json_t *tag;
			json_array_foreach(json_object_get(e, "RepoTags"), t, tag)
			{
				cleanup_free char *f =
				    reference_familiar_str(json_string_value(tag));
				if (f)
					pending_add_ref(p, f);
			}
		}
	}
	platform_release(&plat);
	return ret;
}

static int load_docker_entry(struct loader *L, json_t *e, error **err)
{
	const char *cfg = json_string_value(json_object_get(e, "Config"));
	json_t *layers = json_object_get(e, "Layers");
	if (!cfg || !json_is_array(layers))
		return error_fail(err, EBADMSG, "%s: manifest.json entry without Config or Layers",
			     L->src.desc);
	struct pending *p = pending_new(L);
	if (source_read(&L->src, cfg, &p->config, err) < 0)
		return -1;
	cleanup_json json_t *diff_ids = config_diff_ids(&p->config);
	if (json_array_size(diff_ids) != json_array_size(layers))
		return error_fail(err, EBADMSG, "%s: %s lists %zu diff_ids for %zu layers", L->src.desc,
			     cfg, json_array_size(diff_ids), json_array_size(layers));
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		const char *name = json_string_value(l);
		if (!name)
			return error_fail(err, EBADMSG, "%s: bad Layers entry", L->src.desc);
		if (stage_layer(L, name, NULL, NULL, json_string_value(json_array_get(diff_ids, i)),
				err) < 0)
			return -1;
	}
	p->nlayers = L->nlayers - p->first;
	/* The image gets an OCI manifest; the config keeps its bytes (and ID). */
	struct member *cm;
	source_get(&L->src, cfg, &cm, err);
	json_t *ld = json_array();
	for (size_t k = 0; k < p->nlayers; k++) {
		store_staged_layer *sl = L->layers[p->first + k];
		json_array_append_new(ld, json_pack("{s:s, s:s, s:I}", "mediaType",
						    store_staged_layer_media_type(sl), "digest",
						    store_staged_layer_digest(sl), "size",
						    (json_int_t)store_staged_layer_size(sl)));
	}
	cleanup_json json_t *man =
	    json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      STORE_MT_MANIFEST, "config", "mediaType", STORE_MT_CONFIG, "digest",
		      cm->digest, "size", (json_int_t)p->config.len, "layers", ld);
	char *text = json_dumps(man, JSON_COMPACT);
	lfs_buf_addstr(&p->manifest, text);
	free(text);
	set_config_digest(p);
	json_array_foreach(json_object_get(e, "RepoTags"), i, l)
	{
		cleanup_free char *f = reference_familiar_str(json_string_value(l));
		if (!f)
			return error_fail(err, EINVAL, "%s: invalid RepoTags entry '%s'", L->src.desc,
				     json_string_value(l) ? json_string_value(l) : "");
		pending_add_ref(p, f);
	}
	return 0;
}

static int load_docker(struct loader *L, json_t *docker, error **err)
{
	size_t i;
	json_t *e;
	json_array_foreach(docker, i, e) if (load_docker_entry(L, e, err) < 0) return -1;
	return 0;
}

static int commit_all(struct loader *L, archive_loaded_fn *fn, void *arg, error **err)
{
	for (size_t i = 0; i < L->nimg; i++) {
		struct pending *p = &L->img[i];
		for (size_t k = 0; k < (p->nrefs ? p->nrefs : 1); k++) {
			const char *ref = p->nrefs ? p->refs[k] : NULL;
			if (store_image_commit_raw(L->src.s, ref, p->config.data, p->config.len,
						   p->manifest.data, p->manifest.len,
						   L->layers + p->first, p->nlayers, NULL, err) < 0)
				return error_wrap(err, "%s: storing image %s", L->src.desc,
						  ref ? ref : p->config_digest);
			fn(arg, ref, p->config_digest);
		}
	}
	return 0;
}

static void loader_release(struct loader *L)
{
	for (size_t i = 0; i < L->nimg; i++) {
		for (size_t k = 0; k < L->img[i].nrefs; k++)
			free(L->img[i].refs[k]);
		free(L->img[i].refs);
		lfs_buf_release(&L->img[i].config);
		lfs_buf_release(&L->img[i].manifest);
	}
	free(L->img);
	for (size_t i = 0; i < L->nstaged; i++)
		store_staged_layer_free(L->staged[i]);
	free(L->staged);
	free(L->layers);
	source_release(&L->src);
}

static bool source_has(struct source *src, const char *name)
{
	if (src->dirfd >= 0)
		return faccessat(src->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	return member_find(src, name) != NULL;
}

static int load_source(struct loader *L, archive_loaded_fn *fn, void *arg, error **err)
{
	cleanup_json json_t *docker = NULL;
	cleanup_buf lfs_buf raw = LFS_BUF_INIT;
	bool has_index = source_has(&L->src, "index.json");
	bool has_docker = source_has(&L->src, "manifest.json");
	if (!has_index && !has_docker)
		return error_fail(err, EINVAL,
			     "%s has neither index.json nor manifest.json; give a "
			     "docker save or OCI archive, or an OCI layout directory",
			     L->src.desc);
	if (has_docker && source_json(&L->src, "manifest.json", &raw, &docker, err) < 0)
		return -1;
	if (docker && !json_is_array(docker))
		return error_fail(err, EBADMSG, "%s: manifest.json is not an array", L->src.desc);
	int ret = has_index ? load_oci(L, docker, err) : load_docker(L, docker, err);
	if (ret == 0 && L->nimg == 0)
		ret = error_fail(err, ENOENT, "%s holds no images", L->src.desc);
	if (ret == 0)
		ret = commit_all(L, fn, arg, err);
	return ret;
}

int archive_load(store *s, const char *path, archive_loaded_fn *fn, void *arg, error **err)
{
	struct loader L = {.src = {.s = s, .desc = path, .dirfd = -1}};
	int fd = STDIN_FILENO;
	bool own = false;
	if (strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_make(err, errno, "%s", path);
		own = true;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			L.src.dirfd = fd;
			own = false;
		}
	} else {
		L.src.desc = "standard input";
	}
	int ret = L.src.dirfd >= 0 ? 0 : read_tar(&L.src, fd, err);
	if (own)
		close(fd);
	if (ret == 0)
		ret = load_source(&L, fn, arg, err);
	loader_release(&L);
	return ret;
}
