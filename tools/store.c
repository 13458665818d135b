/* store — the image store: an OCI image layout plus derived layer indexes.
 * See store.h for the layout and the contract. */
#include "store.h"
#include "store_i.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#include "buf.h"
#include "index.h"
#include "lfs_limits.h"
#include "util.h"

#define MT_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG	   "application/vnd.oci.image.config.v1+json"
#define MT_LAYER	   "application/vnd.oci.image.layer.v1.tar"
#define MT_LAYER_GZ	   "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_LAYER	   "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define ZSTD_MAGIC	   "\x28\xb5\x2f\xfd"

#define COPY_CHUNK  (256u << 10)
#define SOURCES_DIR "sources" /* sources/<hex>: where a blob came from (store.h) */
#define SOURCES_MAX 16	      /* repositories kept per blob, newest first */

struct store_staged_layer {
	store *s;
	char *blob_tmp; /* name in blobs/sha256, NULL once committed or when present */
	char *idx_tmp;	/* name in indexes/sha256, NULL once committed or when valid already */
	char digest[7 + 65];
	char diff_id[7 + 65];
	char *media_type;
	uint64_t size;
};

struct store_blob {
	store *s;
	char *tmp; /* name in blobs/sha256; NULL once handed to a staged layer */
	int fd;
	EVP_MD_CTX *md;
	uint64_t size;
	uint64_t expect_size;
	char expect[7 + 65]; /* "" when not known */
	char digest[7 + 65]; /* after finish */
};

/* ---- small helpers ---------------------------------------------------- */

static void pin_layer(store *s, const char *digest, const char *diff_id);
static void pin_entry_layer(store *s, json_t *entry);

void store_crash_point(const char *name)
{
	static long hits;
	const char *at = getenv("LAYERFS_CRASH_AT");
	size_t n = strlen(name);
	if (!at || strncmp(at, name, n) || (at[n] && at[n] != ':'))
		return;
	long want = at[n] ? strtol(at + n + 1, NULL, 10) : 1;
	if (__atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST) == want)
		raise(SIGKILL);
}

static void json_decref_p(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(json_decref_p)))

bool store_is_hex64(const char *h)
{
	size_t i;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return false;
	return h[64] == '\0';
}

/* "sha256:<64 lowercase hex>" → pointer to the hex, else NULL.  Digests from
 * index.json and manifests pass here before they become file names. */
const char *store_digest_hex(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || !store_is_hex64(d + 7))
		return NULL;
	return d + 7;
}

static void hex_of(const unsigned char *md, char out[65])
{
	static const char x[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = x[md[i] >> 4];
		out[2 * i + 1] = x[md[i] & 15];
	}
	out[64] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex_of(md, out);
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dirfd(int dfd)
{
	/* Some file systems refuse fsync on directories; the rename is still
	 * atomic there, so only real I/O errors count. */
	if (fsync(dfd) < 0 && errno != EINVAL && errno != EROFS)
		return -1;
	return 0;
}

/* Creates a new temp file in dfd, returning its fd and name. */
static int tmp_create(int dfd, char **name, error **err)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)rand() ^ (uint32_t)time(NULL);
		char *n = lfs_xasprintf(TMP_PREFIX "%ld-%08x", (long)getpid(), r);
		int fd = openat(dfd, n, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			*name = n;
			return fd;
		}
		free(n);
		if (errno != EEXIST)
			return error_make(err, errno, "cannot create a temporary file");
	}
	return error_make(err, EEXIST, "cannot create a temporary file");
}

/* Writes data to dfd/name atomically: temp file, fsync, rename, fsync dir. */
static int write_atomic(int dfd, const char *name, const void *data, size_t len, error **err)
{
	cleanup_free char *tmp = NULL;
	cleanup_fd int fd = tmp_create(dfd, &tmp, err);
	if (fd < 0)
		return error_wrap(err, "writing %s", name);
	if (write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		return error_make(err, e, "writing %s", name);
	}
	store_crash_point("atomic-write");
	if (renameat(dfd, tmp, dfd, name) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		return error_make(err, e, "renaming %s into place", name);
	}
	if (fsync_dirfd(dfd) < 0)
		return error_make(err, errno, "syncing the directory of %s", name);
	return 0;
}

/* Reads a whole file (at most max bytes) into out. */
static int read_file_at(int dfd, const char *name, size_t max, lfs_buf *out, error **err)
{
	cleanup_fd int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_make(err, errno, "%s", name);
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_make(err, errno, "reading %s", name);
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > max)
			return error_make(err, EFBIG, "%s is larger than %zu bytes", name, max);
		lfs_buf_add(out, chunk, (size_t)n);
	}
}

static int mkdir_at(int dfd, const char *name, mode_t mode, error **err)
{
	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return error_make(err, errno, "creating %s", name);
	return 0;
}

/* mkdir -p for the root path itself. */
static int mkdir_p(const char *path, mode_t mode, error **err)
{
	cleanup_free char *p = lfs_xstrdup(path);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return error_make(err, errno, "creating %s", p);
		*c = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return error_make(err, errno, "creating %s", p);
	return 0;
}

/* ---- opening and locking ------------------------------------------------ */

static char *default_root(error **err)
{
	const char *r = getenv("LAYERFS_ROOT");
	if (r && *r)
		return lfs_xstrdup(r);
	if (geteuid() == 0)
		return lfs_xstrdup("/var/lib/layerfs");
	const char *x = getenv("XDG_DATA_HOME");
	if (x && *x == '/')
		return lfs_xasprintf("%s/layerfs", x);
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home) {
		error_make(err, 0, "cannot find the store: HOME is not set; set LAYERFS_ROOT");
		return NULL;
	}
	return lfs_xasprintf("%s/.local/share/layerfs", home);
}

int store_open(store **out, error **err)
{
	cleanup_free char *root = default_root(err);
	if (!root)
		return -1;
	return store_open_at(root, out, err);
}

static int open_dir_at(int dfd, const char *name, error **err)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_make(err, errno, "opening %s", name);
	return fd;
}

/* Creates the directories and, under the exclusive lock, the two files of
 * an empty OCI layout. */
static int store_init_layout(store *s, error **err)
{
	mode_t m = s->private_dirs ? 0700 : 0755;
	static const char *const dirs[] = {"blobs", "blobs/sha256", "indexes", "indexes/sha256",
					   "indexes/files"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir_at(s->root_fd, dirs[i], m, err) < 0)
			return -1;
	if (faccessat(s->root_fd, "oci-layout", F_OK, 0) == 0 &&
	    faccessat(s->root_fd, "index.json", F_OK, 0) == 0)
		return 0;
	if (store_lock(s, 1, err) < 0)
		return -1;
	int ret = 0;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	static const char index[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[]}";
	if (faccessat(s->root_fd, "oci-layout", F_OK, 0) < 0)
		ret = write_atomic(s->root_fd, "oci-layout", layout, sizeof(layout) - 1, err);
	if (ret == 0 && faccessat(s->root_fd, "index.json", F_OK, 0) < 0)
		ret = write_atomic(s->root_fd, "index.json", index, sizeof(index) - 1, err);
	store_unlock(s);
	return ret;
}

int store_open_at(const char *root, store **out, error **err)
{
	bool priv = geteuid() != 0;
	if (mkdir_p(root, priv ? 0700 : 0755, err) < 0)
		return error_wrap(err, "opening the image store");
	store *s = lfs_xcalloc(1, sizeof(*s));
	s->root_fd = s->blobs_fd = s->idx_fd = s->lock_fd = -1;
	s->pin_fd = s->scratch_lock_fd = -1;
	s->private_dirs = priv;
	s->root = realpath(root, NULL);
	if (!s->root) {
		error_make(err, errno, "opening the image store %s", root);
		goto fail;
	}
	s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		error_make(err, errno, "opening the image store %s", s->root);
		goto fail;
	}
	s->lock_fd = openat(s->root_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->lock_fd < 0) /* a read-only store can still be read under a shared lock */
		s->lock_fd = openat(s->root_fd, ".lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->lock_fd < 0) {
		error_make(err, errno, "opening %s/.lock", s->root);
		goto fail;
	}
	if (store_init_layout(s, err) < 0)
		goto fail_wrap;
	s->blobs_fd = open_dir_at(s->root_fd, "blobs/sha256", err);
	if (s->blobs_fd < 0)
		goto fail_wrap;
	s->idx_fd = open_dir_at(s->root_fd, "indexes/sha256", err);
	if (s->idx_fd < 0)
		goto fail_wrap;
	*out = s;
	return 0;
fail_wrap:
	error_wrap(err, "opening the image store %s", s->root);
fail:
	store_free(s);
	return -1;
}

void store_free(store *s)
{
	if (!s)
		return;
	int fds[] = {s->root_fd, s->blobs_fd, s->idx_fd, s->lock_fd, s->pin_fd, s->scratch_lock_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s->root);
	free(s);
}

const char *store_root(const store *s)
{
	return s->root;
}

int store_lock(store *s, int exclusive, error **err)
{
	int op = exclusive ? LOCK_EX : LOCK_SH;
	while (flock(s->lock_fd, op) < 0) {
		if (errno != EINTR)
			return error_make(err, errno, "locking %s/.lock", s->root);
	}
	s->lock_mode = exclusive ? LOCK_EXCL : LOCK_SHARED;
	return 0;
}

void store_unlock(store *s)
{
	flock(s->lock_fd, LOCK_UN);
	s->lock_mode = LOCK_NONE;
}

/* Takes at least `mode` for the duration of one call; lock_pop restores. */
int store_lock_push(store *s, int mode, int *saved, error **err)
{
	*saved = s->lock_mode;
	if (s->lock_mode >= mode)
		return 0;
	return store_lock(s, mode == LOCK_EXCL, err);
}

void store_lock_pop(store *s, int saved)
{
	if (s->lock_mode == saved)
		return;
	if (saved == LOCK_NONE)
		store_unlock(s);
	else if (flock(s->lock_fd, LOCK_SH) == 0)
		s->lock_mode = LOCK_SHARED;
}

/* ---- references --------------------------------------------------------- */

static const char *tag_sep(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	if (!colon || (slash && colon < slash))
		return NULL;
	return colon;
}

char *store_normalize_ref(const char *name)
{
	if (strchr(name, '@') || tag_sep(name))
		return lfs_xstrdup(name);
	return lfs_xasprintf("%s:latest", name);
}

void store_ref_split(const char *ref, char **repo, char **tag)
{
	const char *at = strchr(ref, '@');
	if (at) { /* NAME@sha256:... (an image pulled by digest) has no tag */
		*repo = lfs_xstrndup(ref, (size_t)(at - ref));
		*tag = lfs_xstrdup("<none>");
		return;
	}
	const char *c = tag_sep(ref);
	if (!c) {
		*repo = lfs_xstrdup(ref);
		*tag = lfs_xstrdup("<none>");
		return;
	}
	*repo = lfs_xstrndup(ref, (size_t)(c - ref));
	*tag = lfs_xstrdup(c + 1);
}

static bool path_component_ok(const char *c, size_t n)
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
		if (ch == '.' && isalnum((unsigned char)c[i + 1]))
			continue;
		if (ch == '_' && (isalnum((unsigned char)c[i + 1]) ||
				  (c[i + 1] == '_' && isalnum((unsigned char)c[i + 2]))))
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
	for (; i < n && c[i] != ':'; i++)
		if (!isalnum((unsigned char)c[i]) && c[i] != '.' && c[i] != '-')
			return false;
	if (i == 0)
		return false;
	if (i == n)
		return true;
	if (i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)c[i]))
			return false;
	return true;
}

int store_ref_check(const char *ref, error **err)
{
	if (!*ref)
		return error_fail(err, EINVAL, "empty image name");
	if (strchr(ref, '@'))
		return error_fail(err, EINVAL, "invalid image name '%s': give NAME[:TAG], not a digest",
			    ref);
	cleanup_free char *repo = NULL;
	cleanup_free char *tag = NULL;
	store_ref_split(ref, &repo, &tag);
	const char *t = tag_sep(ref) ? tag : NULL;
	if (strlen(repo) > 255)
		return error_fail(err, EINVAL, "invalid image name '%s': longer than 255 bytes", ref);
	if (t) {
		size_t n = strlen(t);
		bool ok = n >= 1 && n <= 128 && (isalnum((unsigned char)t[0]) || t[0] == '_');
		for (size_t i = 1; ok && i < n; i++)
			ok = isalnum((unsigned char)t[i]) || strchr("_.-", t[i]);
		if (!ok)
			return error_fail(err, EINVAL,
				    "invalid tag '%s' in '%s': a tag is up to 128 letters, "
				    "digits, '_', '.' or '-', not starting with '.' or '-'",
				    t, ref);
	}
	const char *p = repo;
	for (bool first = true;; first = false) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		/* The first of several components may be a registry host[:port]. */
		bool host = first && e &&
			    (memchr(p, '.', n) || memchr(p, ':', n) ||
			     (n == 9 && !memcmp(p, "localhost", 9)));
		if (host ? !domain_ok(p, n) : !path_component_ok(p, n))
			return error_fail(err, EINVAL,
				    "invalid image name '%s': each part of a repository "
				    "name is lowercase letters and digits, separated by "
				    "'.', '_', '__' or '-'",
				    ref);
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* ---- platform ----------------------------------------------------------- */

void store_platform(const char **arch, const char **variant)
{
	static const struct {
		const char *uname, *arch, *variant;
	} map[] = {
	    {"x86_64", "amd64", NULL},
	    {"amd64", "amd64", NULL},
	    {"aarch64", "arm64", NULL},
	    {"arm64", "arm64", NULL},
	    {"armv8l", "arm", "v8"},
	    {"armv7l", "arm", "v7"},
	    {"armv6l", "arm", "v6"},
	    {"armv5tel", "arm", "v5"},
	    {"i386", "386", NULL},
	    {"i486", "386", NULL},
	    {"i586", "386", NULL},
	    {"i686", "386", NULL},
	    {"ppc64le", "ppc64le", NULL},
	    {"ppc64", "ppc64", NULL},
	    {"s390x", "s390x", NULL},
	    {"riscv64", "riscv64", NULL},
	    {"mips64", "mips64", NULL},
	    {"mips", "mips", NULL},
	    {"loongarch64", "loong64", NULL},
	};
	static struct utsname u;
	*variant = NULL;
	if (uname(&u) < 0) {
		*arch = "unknown";
		return;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(u.machine, map[i].uname)) {
			*arch = map[i].arch;
			*variant = map[i].variant;
			return;
		}
	}
	*arch = u.machine;
}

/* ---- index.json and blobs ----------------------------------------------- */

int store_index_load(store *s, json_t **out, error **err)
{
	cleanup_buf lfs_buf b = LFS_BUF_INIT;
	if (read_file_at(s->root_fd, "index.json", JSON_BLOB_MAX, &b, err) < 0)
		return error_wrap(err, "reading the store index %s/index.json", s->root);
	json_error_t je;
	json_t *j = json_loadb(b.data, b.len, 0, &je);
	if (!j)
		return error_fail(err, EBADMSG,
			    "%s/index.json: invalid JSON at line %d: %s; the store is "
			    "damaged, restore the file from a backup",
			    s->root, je.line, je.text);
	json_t *m = json_is_object(j) ? json_object_get(j, "manifests") : NULL;
	if (json_is_object(j) && !m) {
		m = json_array();
		json_object_set_new(j, "manifests", m);
	}
	if (!json_is_array(m)) {
		json_decref(j);
		return error_fail(err, EBADMSG,
			    "%s/index.json: not an OCI image index (no 'manifests' "
			    "array); restore the file from a backup",
			    s->root);
	}
	*out = j;
	return 0;
}

int store_index_save(store *s, json_t *index, error **err)
{
	cleanup_free char *text = json_dumps(index, JSON_COMPACT);
	if (!text)
		return error_make(err, ENOMEM, "serialising index.json");
	if (write_atomic(s->root_fd, "index.json", text, strlen(text), err) < 0)
		return error_wrap(err, "updating %s/index.json", s->root);
	store_crash_point("index-saved");
	return 0;
}

const char *store_desc_ref(json_t *desc)
{
	return json_string_value(
	    json_object_get(json_object_get(desc, "annotations"), REF_ANNOTATION));
}

const char *store_desc_digest(json_t *desc)
{
	return json_string_value(json_object_get(desc, "digest"));
}

bool store_desc_is_index(json_t *desc)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	return mt && (!strcmp(mt, MT_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

/* Reads a JSON blob and checks that its bytes hash to its name. */
int store_blob_read_json(store *s, const char *digest, json_t **out, size_t *size, error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex)
		return error_fail(err, EBADMSG, "invalid digest '%s'", digest ? digest : "(none)");
	cleanup_buf lfs_buf b = LFS_BUF_INIT;
	if (read_file_at(s->blobs_fd, hex, JSON_BLOB_MAX, &b, err) < 0)
		return error_wrap(err, "blob %s", digest);
	char got[65];
	sha256_hex(b.data, b.len, got);
	if (strcmp(got, hex))
		return error_make(err, EBADMSG,
				  "blob %s is corrupt (its contents hash to sha256:%s)", digest,
				  got);
	json_error_t je;
	json_t *j = json_loadb(b.data, b.len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return error_make(err, EBADMSG, "blob %s: not a JSON object", digest);
	}
	if (size)
		*size = b.len;
	*out = j;
	return 0;
}

/* Writes data as a blob named by its digest (kept if it already exists). */
/* The files one commit added to blobs/ and indexes/: when a later step of
 * it fails (a full disk), they are removed again and the store is as it
 * was.  Only files that did not exist before are listed. */
struct placed_file {
	int dfd; /* blobs_fd or idx_fd */
	char name[65];
};
struct placed {
	size_t n;
	struct placed_file *v;
};

static void placed_add(struct placed *p, int dfd, const char *name)
{
	if (!p)
		return;
	p->v = lfs_xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n].dfd = dfd;
	snprintf(p->v[p->n].name, sizeof(p->v[p->n].name), "%s", name);
	p->n++;
}

/* Removes what the failed commit added (the caller holds the exclusive
 * lock: nothing refers to those files yet). */
static void placed_undo(store *s, struct placed *p)
{
	for (size_t i = 0; i < p->n; i++)
		unlinkat(p->v[i].dfd, p->v[i].name, 0);
	if (p->n) {
		fsync_dirfd(s->blobs_fd);
		fsync_dirfd(s->idx_fd);
	}
}

static void placed_release(struct placed *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int blob_write(store *s, const void *data, size_t len, char digest[7 + 65],
		      struct placed *pl, error **err)
{
	char hex[65];
	sha256_hex(data, len, hex);
	memcpy(digest, "sha256:", 7);
	memcpy(digest + 7, hex, 65);
	if (faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int ret = write_atomic(s->blobs_fd, hex, data, len, err);
	if (ret == 0)
		placed_add(pl, s->blobs_fd, hex);
	return ret;
}

/* ---- images --------------------------------------------------------------- */

static void layer_release(struct store_layer *l)
{
	free(l->digest);
	free(l->diff_id);
	free(l->media_type);
	free(l->blob_path);
	free(l->index_path);
}

void store_image_free(struct store_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nlayers; i++)
		layer_release(&img->layers[i]);
	free(img->layers);
	free(img->ref);
	free(img->manifest_digest);
	free(img->config_digest);
	json_decref(img->manifest);
	json_decref(img->config);
	free(img);
}

static bool layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	    MT_LAYER,
	    MT_LAYER_GZ,
	    MT_DOCKER_LAYER,
	    MT_DOCKER_LAYER_GZ,
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    STORE_MT_LAYER_ZSTD,
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

static int image_fill_layers(store *s, struct store_image *img, error **err)
{
	json_t *layers = json_object_get(img->manifest, "layers");
	json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	if (!json_is_array(layers) || !json_is_array(diff_ids) ||
	    json_array_size(layers) != json_array_size(diff_ids))
		return error_make(err, EBADMSG,
				  "manifest %s: layers and config rootfs.diff_ids do not match",
				  img->manifest_digest);
	img->nlayers = json_array_size(layers);
	img->layers = lfs_xcalloc(img->nlayers, sizeof(*img->layers));
	for (size_t i = 0; i < img->nlayers; i++) {
		json_t *d = json_array_get(layers, i);
		const char *digest = store_desc_digest(d);
		const char *diff = json_string_value(json_array_get(diff_ids, i));
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		if (!store_digest_hex(digest) || !store_digest_hex(diff) || !mt)
			return error_make(err, EBADMSG, "manifest %s: layer %zu: bad descriptor",
					  img->manifest_digest, i);
		if (!layer_type_ok(mt))
			return error_fail(err, ENOTSUP,
					  "manifest %s: layer %s has media type %s; layerfs reads "
					  "plain, gzip and zstd tar layers only",
					  img->manifest_digest, digest, mt);
		json_int_t sz = json_integer_value(json_object_get(d, "size"));
		store_layer_init(s, &img->layers[i], digest, diff, mt, sz > 0 ? (uint64_t)sz : 0);
	}
	return 0;
}

/* Loads the image whose manifest is manifest_digest. */
static int image_load(store *s, const char *manifest_digest, const char *ref,
		      struct store_image **out, error **err)
{
	struct store_image *img = lfs_xcalloc(1, sizeof(*img));
	img->ref = ref ? lfs_xstrdup(ref) : NULL;
	img->manifest_digest = lfs_xstrdup(manifest_digest ? manifest_digest : "");
	if (store_blob_read_json(s, manifest_digest, &img->manifest, NULL, err) < 0)
		goto fail;
	const char *mt = json_string_value(json_object_get(img->manifest, "mediaType"));
	if (mt && strcmp(mt, MT_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		error_fail(err, ENOTSUP,
		     "manifest %s has media type %s; layerfs reads "
		     "single-platform OCI image manifests",
		     manifest_digest, mt);
		goto fail;
	}
	const char *cd = store_desc_digest(json_object_get(img->manifest, "config"));
	if (store_blob_read_json(s, cd, &img->config, NULL, err) < 0) {
		error_wrap(err, "config of manifest %s", manifest_digest);
		goto fail;
	}
	img->config_digest = lfs_xstrdup(cd);
	if (image_fill_layers(s, img, err) < 0)
		goto fail;
	*out = img;
	return 0;
fail:
	store_image_free(img);
	return -1;
}

/* The entries of index.json a user reference names. */
struct match {
	size_t *idx; /* positions in manifests[] */
	size_t n;
	bool by_id;
	char *config_digest; /* by_id: the image ID */
};

static void match_release(struct match *m)
{
	free(m->idx);
	free(m->config_digest);
}

static void match_add(struct match *m, size_t i)
{
	m->idx = lfs_xrealloc(m->idx, (m->n + 1) * sizeof(*m->idx));
	m->idx[m->n++] = i;
}

static int match_by_name(json_t *manifests, const char *name, struct match *m)
{
	cleanup_free char *norm = store_normalize_ref(name);
	const char *at = strchr(name, '@');
	size_t i;
	json_t *d;
	json_array_foreach(manifests, i, d)
	{
		const char *r = store_desc_ref(d);
		if (!r)
			continue;
		if (at) {
			/* NAME@sha256:...: an entry of repository NAME with that manifest. */
			cleanup_free char *repo = NULL;
			cleanup_free char *tag = NULL;
			store_ref_split(r, &repo, &tag);
			const char *dg = store_desc_digest(d);
			if (strlen(repo) == (size_t)(at - name) &&
			    !memcmp(repo, name, strlen(repo)) && dg && !strcmp(dg, at + 1))
				match_add(m, i);
		} else if (!strcmp(r, norm)) {
			match_add(m, i);
		}
	}
	if (m->n || at)
		return (int)m->n;
	/* Entries written by other tools may lack a tag. */
	json_array_foreach(manifests, i, d)
	{
		if (store_desc_ref(d) && !strcmp(store_desc_ref(d), name))
			match_add(m, i);
	}
	return (int)m->n;
}

static bool id_like(const char *name, const char **hex)
{
	const char *h = strncmp(name, "sha256:", 7) ? name : name + 7;
	size_t n = strlen(h);
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return false;
	*hex = h;
	return true;
}

static int match_by_id(store *s, json_t *manifests, const char *name, struct match *m, error **err)
{
	const char *hex;
	if (!id_like(name, &hex))
		return 0;
	size_t n = strlen(hex), i;
	json_t *d;
	json_array_foreach(manifests, i, d)
	{
		if (store_desc_is_index(d))
			continue;
		cleanup_json json_t *man = NULL;
		error *e = NULL;
		if (store_blob_read_json(s, store_desc_digest(d), &man, NULL, &e) < 0) {
			error_free(e); /* a broken entry cannot be the one asked for */
			continue;
		}
		const char *cd = store_desc_digest(json_object_get(man, "config"));
		const char *ch = store_digest_hex(cd);
		if (!ch || strncmp(ch, hex, n))
			continue;
		if (m->config_digest && strcmp(m->config_digest, cd)) {
			return error_fail(err, EINVAL,
				    "image ID '%s' is ambiguous: it starts both %.19s and "
				    "%.19s; give more digits",
				    name, m->config_digest, cd);
		}
		if (!m->config_digest)
			m->config_digest = lfs_xstrdup(cd);
		match_add(m, i);
	}
	m->by_id = m->n > 0;
	return (int)m->n;
}

static int not_found(error **err, const char *name)
{
	return error_fail(err, ENOENT, "image '%s' not found; run 'layerfs images' to list images", name);
}

/* Finds what name refers to: a reference first, like docker, then an ID. */
static int index_match(store *s, json_t *index, const char *name, struct match *m, error **err)
{
	json_t *manifests = json_object_get(index, "manifests");
	memset(m, 0, sizeof(*m));
	if (!*name)
		return error_fail(err, EINVAL, "empty image name");
	if (strncmp(name, "sha256:", 7) && match_by_name(manifests, name, m) > 0)
		return 0;
	int r = match_by_id(s, manifests, name, m, err);
	if (r < 0) {
		match_release(m);
		return r;
	}
	if (r == 0)
		return not_found(err, name);
	return 0;
}

int store_image_resolve(store *s, const char *name, struct store_image **out, error **err)
{
	int saved;
	if (store_lock_push(s, LOCK_SHARED, &saved, err) < 0)
		return -1;
	cleanup_json json_t *index = NULL;
	struct match m;
	int ret = store_index_load(s, &index, err);
	if (ret == 0)
		ret = index_match(s, index, name, &m, err);
	if (ret == 0) {
		json_t *d = json_array_get(json_object_get(index, "manifests"), m.idx[0]);
		if (store_desc_is_index(d))
			ret = error_fail(err, ENOTSUP,
				   "'%s' is a multi-platform image index; layerfs reads "
				   "single-platform images",
				   name);
		else
			ret = image_load(s, store_desc_digest(d),
					 m.by_id ? NULL : store_desc_ref(d), out, err);
		for (size_t i = 0; ret == 0 && i < (*out)->nlayers; i++)
			pin_layer(s, (*out)->layers[i].digest, (*out)->layers[i].diff_id);
		if (ret < 0)
			error_wrap(err, "image '%s'", name);
		match_release(&m);
	}
	store_lock_pop(s, saved);
	return ret;
}

int store_image_list(store *s, struct store_image ***out, size_t *n, error **err)
{
	int saved;
	if (store_lock_push(s, LOCK_SHARED, &saved, err) < 0)
		return -1;
	cleanup_json json_t *index = NULL;
	struct store_image **imgs = NULL;
	size_t count = 0, i;
	int ret = store_index_load(s, &index, err);
	json_t *d;
	if (ret == 0) {
		json_array_foreach(json_object_get(index, "manifests"), i, d)
		{
			if (store_desc_is_index(d))
				continue;
			struct store_image *img;
			ret = image_load(s, store_desc_digest(d), store_desc_ref(d), &img, err);
			if (ret < 0) {
				error_wrap(err, "index.json entry '%s'",
					   store_desc_ref(d) ? store_desc_ref(d) : "(unnamed)");
				break;
			}
			imgs = lfs_xrealloc(imgs, (count + 1) * sizeof(*imgs));
			imgs[count++] = img;
		}
	}
	store_lock_pop(s, saved);
	if (ret < 0) {
		store_image_list_free(imgs, count);
		return ret;
	}
	*out = imgs;
	*n = count;
	return 0;
}

void store_image_list_free(struct store_image **imgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_image_free(imgs[i]);
	free(imgs);
}

uint64_t store_layer_tar_size(const struct store_layer *l)
{
	if (!strcmp(l->media_type, MT_LAYER) || !strcmp(l->media_type, MT_DOCKER_LAYER))
		return l->size;
	struct lfs_index_header h;
	cleanup_fd int fd = open(l->index_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    !memcmp(h.magic, LFS_INDEX_MAGIC, sizeof(h.magic)) && h.version == LFS_INDEX_VERSION)
		return h.tar_size;
	return l->size;
}

uint64_t store_image_size(const struct store_image *img)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < img->nlayers; i++)
		sum += store_layer_tar_size(&img->layers[i]);
	return sum;
}

/* LFS_LAYERS_MAX, checked where an image is recorded and where one (maybe
 * written by another tool into the layout) is opened. */
static int layers_limit(size_t n, const char *what, error **err)
{
	if (n <= LFS_LAYERS_MAX)
		return 0;
	return error_fail(err, EFBIG,
			  "%s has %zu layers, over the limit of %d layers per image "
			  "(LFS_LAYERS_MAX); build it with fewer steps (join RUN lines) or squash it",
			  what, n, LFS_LAYERS_MAX);
}

int store_layers_open(store *s, const struct store_layer *ls, size_t n, const char *what,
		      lfs_layer ***out, error **err)
{
	int saved;
	if (layers_limit(n, what, err) < 0)
		return -1;
	if (store_lock_push(s, LOCK_SHARED, &saved, err) < 0)
		return -1;
	lfs_layer **layers = lfs_xcalloc(n ? n : 1, sizeof(*layers));
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		const struct store_layer *l = &ls[i];
		char *msg = NULL;
		ret = lfs_layer_open(l->blob_path, l->index_path, 0, &layers[i], &msg);
		if (ret < 0) {
			error_make(err, 0, "%s: layer %s: %s", what, l->digest,
				   msg ? msg : strerror(-ret));
			free(msg);
			store_layers_free(layers, i);
			break;
		}
	}
	store_lock_pop(s, saved);
	if (ret < 0)
		return -1;
	*out = layers;
	return 0;
}

int store_image_open_layers(store *s, const struct store_image *img, lfs_layer ***out, error **err)
{
	cleanup_free char *what = lfs_xasprintf("image '%s'", img->ref ? img->ref : img->config_digest);
	return store_layers_open(s, img->layers, img->nlayers, what, out, err);
}

int store_layer_init(store *s, struct store_layer *l, const char *digest, const char *diff_id,
		     const char *media_type, uint64_t size)
{
	if (!store_digest_hex(digest) || !store_digest_hex(diff_id) || !media_type)
		return -EINVAL;
	l->digest = lfs_xstrdup(digest);
	l->diff_id = lfs_xstrdup(diff_id);
	l->media_type = lfs_xstrdup(media_type);
	l->size = size;
	l->blob_path = lfs_xasprintf("%s/blobs/sha256/%s", s->root, store_digest_hex(digest));
	l->index_path = lfs_xasprintf("%s/indexes/sha256/%s", s->root, store_digest_hex(diff_id));
	return 0;
}

void store_layer_release(struct store_layer *l)
{
	layer_release(l);
	memset(l, 0, sizeof(*l));
}

void store_layers_free(lfs_layer **layers, size_t n)
{
	if (!layers)
		return;
	for (size_t i = 0; i < n; i++)
		lfs_layer_free(layers[i]);
	free(layers);
}

char *store_file_index_path(store *s, const char *tar_realpath, error **err)
{
	struct stat st;
	if (stat(tar_realpath, &st) < 0) {
		error_make(err, errno, "%s", tar_realpath);
		return NULL;
	}
	if (mkdir_at(s->root_fd, "indexes/files", s->private_dirs ? 0700 : 0755, err) < 0)
		return NULL;
	cleanup_buf lfs_buf key = LFS_BUF_INIT;
	lfs_buf_addstr(&key, tar_realpath);
	lfs_buf_addch(&key, '\0');
	lfs_buf_addf(&key, "%ju", (uintmax_t)st.st_dev);
	lfs_buf_addch(&key, '\0');
	lfs_buf_addf(&key, "%ju", (uintmax_t)st.st_ino);
	char hex[65];
	sha256_hex(key.data, key.len, hex);
	return lfs_xasprintf("%s/indexes/files/%s", s->root, hex);
}

/* ---- staging a layer ------------------------------------------------------ */

struct sink {
	int fd;
	EVP_MD_CTX *md;
	uint64_t size;
	const char *src, *root; /* for messages */
};

static int sink_put(struct sink *k, const void *p, size_t n, error **err)
{
	if (!n)
		return 0;
	if (write_full(k->fd, p, n) < 0)
		return error_make(err, errno, "writing the layer of %s to %s/blobs/sha256", k->src,
				  k->root);
	EVP_DigestUpdate(k->md, p, n);
	k->size += n;
	return 0;
}

static const char *other_compression(const unsigned char *p, size_t n)
{
	if (n >= 6 && !memcmp(p,
			      "\xfd"
			      "7zXZ\0",
			      6))
		return "xz (decompress it with 'xz -d')";
	if (n >= 3 && !memcmp(p, "BZh", 3))
		return "bzip2 (decompress it with 'bzip2 -d')";
	return NULL;
}

/* The decoder is called until it makes no progress at the end of the
 * input, so output it still buffers is flushed; `left` is its hint from
 * the last call that did something: nonzero means inside a frame. */
static int copy_zstd(int in, unsigned char *ibuf, size_t have, struct sink *k, const char *src,
		     error **err)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	if (!ds)
		return error_make(err, ENOMEM, "initialising zstd");
	unsigned char *obuf = lfs_xmalloc(COPY_CHUNK);
	ZSTD_inBuffer zin = {ibuf, have, 0};
	size_t left = 0;
	bool eof = false;
	int ret = 0;
	for (;;) {
		if (zin.pos == zin.size && !eof) {
			ssize_t n = read_full(in, ibuf, COPY_CHUNK);
			if (n < 0) {
				ret = error_make(err, errno, "reading %s", src);
				break;
			}
			eof = n == 0;
			zin = (ZSTD_inBuffer){ibuf, (size_t)n, 0};
		}
		ZSTD_outBuffer zout = {obuf, COPY_CHUNK, 0};
		size_t before = zin.pos;
		size_t r = ZSTD_decompressStream(ds, &zout, &zin);
		if (ZSTD_isError(r)) {
			ret = error_fail(err, EIO,
				   "%s: corrupt zstd data after %" PRIu64
				   " bytes of tar (%s); check the file with 'zstd -t'",
				   src, k->size, ZSTD_getErrorName(r));
			break;
		}
		if (zout.pos == 0 && zin.pos == before) {
			if (eof)
				break;
			continue;
		}
		left = r;
		if (sink_put(k, obuf, zout.pos, err) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && left)
		ret = error_fail(err, EIO,
			   "%s: the zstd stream is truncated; the file is incomplete, "
			   "download or create it again",
			   src);
	ZSTD_freeDStream(ds);
	free(obuf);
	return ret;
}

static int copy_gzip(int in, unsigned char *ibuf, size_t have, struct sink *k, const char *src,
		     error **err)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return error_make(err, ENOMEM, "initialising zlib");
	unsigned char *obuf = lfs_xmalloc(COPY_CHUNK);
	bool in_member = true;
	int ret = 0;
	zs.next_in = ibuf;
	zs.avail_in = (uInt)have;
	for (;;) {
		if (zs.avail_in == 0) {
			ssize_t n = read_full(in, ibuf, COPY_CHUNK);
			if (n < 0) {
				ret = error_make(err, errno, "reading %s", src);
				break;
			}
			if (n == 0)
				break;
			zs.next_in = ibuf;
			zs.avail_in = (uInt)n;
		}
		if (!in_member) {
			/* Another member follows (pigz, concatenated files); zero
			 * padding after the last one is ignored like gzip does. */
			while (zs.avail_in && *zs.next_in == 0) {
				zs.next_in++;
				zs.avail_in--;
			}
			if (!zs.avail_in)
				continue;
			inflateReset(&zs);
			in_member = true;
		}
		zs.next_out = obuf;
		zs.avail_out = COPY_CHUNK;
		int r = inflate(&zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
			ret = error_fail(err, EIO,
				   "%s: corrupt gzip data after %" PRIu64
				   " bytes of tar (%s); check the file with 'gzip -t'",
				   src, k->size, zs.msg ? zs.msg : "inflate failed");
			break;
		}
		if (sink_put(k, obuf, COPY_CHUNK - zs.avail_out, err) < 0) {
			ret = -1;
			break;
		}
		if (r == Z_STREAM_END)
			in_member = false;
	}
	if (ret == 0 && in_member)
		ret = error_fail(err, EIO,
			   "%s: the gzip stream is truncated; the file is incomplete, "
			   "download or create it again",
			   src);
	inflateEnd(&zs);
	free(obuf);
	return ret;
}

/* Copies fd to the sink, decompressing gzip and zstd. */
static int copy_layer(int in, struct sink *k, const char *src, error **err)
{
	cleanup_free unsigned char *ibuf = lfs_xmalloc(COPY_CHUNK);
	ssize_t n = read_full(in, ibuf, COPY_CHUNK);
	if (n < 0)
		return error_make(err, errno, "reading %s", src);
	if (n == 0)
		return error_fail(err, EINVAL, "%s is empty; give a tar archive of a root file system",
			    src);
	if (n >= 2 && ibuf[0] == 0x1f && ibuf[1] == 0x8b)
		return copy_gzip(in, ibuf, (size_t)n, k, src, err);
	if (n >= 4 && !memcmp(ibuf, ZSTD_MAGIC, 4))
		return copy_zstd(in, ibuf, (size_t)n, k, src, err);
	const char *comp = other_compression(ibuf, (size_t)n);
	if (comp)
		return error_fail(
		    err, ENOTSUP,
		    "%s is compressed with %s; layerfs imports plain, gzip or zstd tars", src,
		    comp);
	while (n > 0) {
		if (sink_put(k, ibuf, (size_t)n, err) < 0)
			return -1;
		n = read_full(in, ibuf, COPY_CHUNK);
		if (n < 0)
			return error_make(err, errno, "reading %s", src);
	}
	return 0;
}

static int index_error(error **err, int code, const char *src, const char *msg)
{
	const char *what = msg ? msg : strerror(-code);
	switch (code) {
	case -EINVAL:
		return error_fail(err, EINVAL,
			    "%s cannot be used as a layer: %s; recreate the archive without "
			    "that member (e.g. 'tar -C ROOTFS -cf %s .')",
			    src, what, src);
	case -EIO:
		return error_fail(err, EIO,
			    "%s is truncated or corrupt: %s; check it with 'tar -tvf %s' "
			    "and create or download it again",
			    src, what, src);
	case -EFBIG:
		return error_fail(err, EFBIG, "%s exceeds layerfs's limits: %s", src, what);
	default:
		return error_fail(err, code < 0 ? -code : EIO, "indexing %s: %s", src, what);
	}
}

static int stage_index(store_staged_layer *l, int blob_fd, const char *src, error **err)
{
	cleanup_fd int ifd = tmp_create(l->s->idx_fd, &l->idx_tmp, err);
	if (ifd < 0)
		return error_wrap(err, "indexing %s", src);
	if (lseek(blob_fd, 0, SEEK_SET) < 0)
		return error_make(err, errno, "indexing %s", src);
	struct lfs_index_build_opts opts = {0};
	char *msg = NULL;
	int r = lfs_index_build(blob_fd, ifd, &opts, &msg);
	if (r < 0) {
		index_error(err, r, src, msg);
		free(msg);
		return -1;
	}
	free(msg);
	if (fsync(ifd) < 0)
		return error_make(err, errno, "writing the index of %s", src);
	return 0;
}

int store_layer_stage(store *s, int fd, const char *src, store_staged_layer **out, error **err)
{
	store_staged_layer *l = lfs_xcalloc(1, sizeof(*l));
	l->s = s;
	cleanup_fd int bfd = tmp_create(s->blobs_fd, &l->blob_tmp, err);
	if (bfd < 0) {
		store_staged_layer_free(l);
		return error_wrap(err, "importing %s", src);
	}
	struct sink k = {bfd, EVP_MD_CTX_new(), 0, src, s->root};
	if (!k.md)
		abort();
	EVP_DigestInit_ex(k.md, EVP_sha256(), NULL);
	int ret = copy_layer(fd, &k, src, err);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(k.md, md, &mdlen);
	EVP_MD_CTX_free(k.md);
	if (ret == 0 && fsync(bfd) < 0)
		ret = error_make(err, errno, "writing the layer of %s", src);
	if (ret == 0)
		ret = stage_index(l, bfd, src, err);
	if (ret < 0) {
		store_staged_layer_free(l);
		return -1;
	}
	memcpy(l->digest, "sha256:", 7);
	hex_of(md, l->digest + 7);
	memcpy(l->diff_id, l->digest, sizeof(l->diff_id));
	l->media_type = lfs_xstrdup(MT_LAYER);
	l->size = k.size;
	*out = l;
	return 0;
}

int store_layer_open_tmp(store *s, store_staged_layer **out, int *fd, error **err)
{
	store_staged_layer *l = lfs_xcalloc(1, sizeof(*l));
	l->s = s;
	*fd = tmp_create(s->blobs_fd, &l->blob_tmp, err);
	if (*fd < 0) {
		free(l);
		return error_wrap(err, "creating a layer in %s/blobs/sha256", s->root);
	}
	*out = l;
	return 0;
}

static int stage_index_verified(store_staged_layer *l, int fd, const char *what, error **err);

int store_layer_stage_tmp(store_staged_layer *l, int fd, const char *src, error **err)
{
	struct stat st;
	if (fsync(fd) < 0 || fstat(fd, &st) < 0)
		return error_make(err, errno, "writing the layer of %s", src);
	if (stage_index_verified(l, fd, src, err) < 0)
		return -1;
	memcpy(l->digest, l->diff_id, sizeof(l->digest));
	l->media_type = lfs_xstrdup(MT_LAYER);
	l->size = (uint64_t)st.st_size;
	return 0;
}

const char *store_staged_layer_digest(const store_staged_layer *l)
{
	return l->digest;
}

uint64_t store_staged_layer_size(const store_staged_layer *l)
{
	return l->size;
}

void store_staged_layer_free(store_staged_layer *l)
{
	if (!l)
		return;
	if (l->blob_tmp)
		unlinkat(l->s->blobs_fd, l->blob_tmp, 0);
	if (l->idx_tmp)
		unlinkat(l->s->idx_fd, l->idx_tmp, 0);
	free(l->blob_tmp);
	free(l->idx_tmp);
	free(l->media_type);
	free(l);
}

/* Moves a staged layer's files into place (caller holds the exclusive
 * lock); the files it adds are listed in pl. */
static int staged_commit(store *s, store_staged_layer *l, struct placed *pl, error **err)
{
	const char *hex = l->digest + 7;
	if (!l->blob_tmp) {
		/* A present blob: a concurrent rmi + gc may have collected it. */
		if (faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			return error_fail(err, ENOENT,
				    "layer %s was removed from the store while this command "
				    "ran; run the command again",
				    l->digest);
	} else if (faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Same bytes already stored: keep that inode, whose index may be
		 * mapped by running mounts. */
		unlinkat(s->blobs_fd, l->blob_tmp, 0);
	} else if (renameat(s->blobs_fd, l->blob_tmp, s->blobs_fd, hex) < 0) {
		return error_make(err, errno, "storing layer %s", l->digest);
	} else {
		placed_add(pl, s->blobs_fd, hex);
	}
	free(l->blob_tmp);
	l->blob_tmp = NULL;
	store_crash_point("layer-blob");
	if (l->idx_tmp) {
		int had = faccessat(s->idx_fd, l->diff_id + 7, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		if (renameat(s->idx_fd, l->idx_tmp, s->idx_fd, l->diff_id + 7) < 0)
			return error_make(err, errno, "storing the index of layer %s", l->digest);
		if (!had)
			placed_add(pl, s->idx_fd, l->diff_id + 7);
	}
	free(l->idx_tmp);
	l->idx_tmp = NULL;
	if (fsync_dirfd(s->blobs_fd) < 0 || fsync_dirfd(s->idx_fd) < 0)
		return error_make(err, errno, "syncing %s/blobs", s->root);
	store_crash_point("layer-committed");
	return 0;
}

static json_t *descriptor(const char *mt, const char *digest, size_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
			 (json_int_t)size);
}

/* Points ref at the manifest descriptor desc (stolen) in index; returns the
 * number of entries replaced. */
static int index_set_ref(json_t *index, const char *ref, json_t *desc)
{
	json_t *manifests = json_object_get(index, "manifests");
	int replaced = 0;
	for (size_t i = 0; i < json_array_size(manifests);) {
		const char *r = store_desc_ref(json_array_get(manifests, i));
		if (r && !strcmp(r, ref)) {
			json_array_remove(manifests, i);
			replaced++;
		} else {
			i++;
		}
	}
	json_object_set_new(desc, "annotations", json_pack("{s:s}", REF_ANNOTATION, ref));
	json_array_append_new(manifests, desc);
	return replaced;
}

static int dump_blob(store *s, json_t *j, char digest[7 + 65], size_t *size, struct placed *pl,
		     error **err)
{
	cleanup_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return error_make(err, ENOMEM, "serialising JSON");
	*size = strlen(text);
	return blob_write(s, text, *size, digest, pl, err);
}

static bool index_has_digest(json_t *manifests, const char *digest);

/* index.json already points ref at manifest digest. */
static bool index_points(json_t *index, const char *ref, const char *digest)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(index, "manifests"), i, d)
	{
		const char *r = store_desc_ref(d), *g = store_desc_digest(d);
		if (r && g && !strcmp(r, ref) && !strcmp(g, digest))
			return true;
	}
	return false;
}

static int commit_locked(store *s, const char *ref, json_t *config,
			 store_staged_layer *const *layers, size_t n, char **image_id,
			 struct placed *pl, error **err)
{
	json_t *diff_ids = json_array();
	cleanup_json json_t *ldescs = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(diff_ids, json_string(layers[i]->diff_id));
		json_array_append_new(
		    ldescs, descriptor(layers[i]->media_type, layers[i]->digest, layers[i]->size));
	}
	json_object_set_new(config, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", diff_ids));
	cleanup_json json_t *index = NULL;
	if (store_index_load(s, &index, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (staged_commit(s, layers[i], pl, err) < 0)
			return -1;
	char cdig[7 + 65], mdig[7 + 65];
	size_t csize, msize;
	if (dump_blob(s, config, cdig, &csize, pl, err) < 0)
		return error_wrap(err, "writing the image config");
	cleanup_json json_t *manifest =
	    json_pack("{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType", MT_MANIFEST,
		      "config", descriptor(MT_CONFIG, cdig, csize), "layers", ldescs);
	if (dump_blob(s, manifest, mdig, &msize, pl, err) < 0)
		return error_wrap(err, "writing the image manifest");
	store_crash_point("image-blobs");
	int replaced = 0;
	json_t *desc = descriptor(MT_MANIFEST, mdig, msize);
	if (ref && index_points(index, ref, mdig)) {
		json_decref(desc); /* a rebuild with nothing changed: nothing to write */
		*image_id = lfs_xstrdup(cdig);
		return 0;
	} else if (ref) {
		replaced = index_set_ref(index, ref, desc);
	} else {
		json_t *manifests = json_object_get(index, "manifests");
		if (index_has_digest(manifests, mdig))
			json_decref(desc);
		else
			json_array_append_new(manifests, desc);
	}
	if (store_index_save(s, index, err) < 0)
		return -1;
	*image_id = lfs_xstrdup(cdig);
	if (replaced) {
		error *e = NULL; /* the image is stored; a failed GC only leaves garbage */
		store_gc(s, &e);
		error_free(e);
	}
	return 0;
}

int store_image_commit(store *s, const char *ref, json_t *config, store_staged_layer *const *layers,
		       size_t nlayers, char **image_id, error **err)
{
	cleanup_free char *norm = NULL;
	if (ref) {
		int bad = store_ref_check(ref, err);
		if (bad < 0)
			return bad;
		norm = store_normalize_ref(ref);
	}
	if (layers_limit(nlayers, "the new image", err) < 0)
		return -1;
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	struct placed pl = {0};
	int ret = commit_locked(s, norm, config, layers, nlayers, image_id, &pl, err);
	if (ret < 0)
		placed_undo(s, &pl);
	placed_release(&pl);
	store_lock_pop(s, saved);
	return ret;
}

/* ---- tag, remove, gc ------------------------------------------------------ */

static int tag_locked(store *s, const char *source, const char *target, error **err)
{
	cleanup_json json_t *index = NULL;
	if (store_index_load(s, &index, err) < 0)
		return -1;
	struct match m;
	if (index_match(s, index, source, &m, err) < 0)
		return -1;
	json_t *d = json_array_get(json_object_get(index, "manifests"), m.idx[0]);
	match_release(&m);
	json_t *desc = json_deep_copy(d);
	json_object_del(desc, "annotations");
	int replaced = index_set_ref(index, target, desc);
	if (store_index_save(s, index, err) < 0)
		return -1;
	if (replaced) {
		error *e = NULL;
		store_gc(s, &e);
		error_free(e);
	}
	return 0;
}

int store_tag(store *s, const char *source, const char *target, error **err)
{
	int bad = store_ref_check(target, err);
	if (bad < 0)
		return bad;
	cleanup_free char *norm = store_normalize_ref(target);
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = tag_locked(s, source, norm, err);
	store_lock_pop(s, saved);
	return ret;
}

/* The image ID of a manifest, or NULL when it cannot be read. */
static char *manifest_config(store *s, const char *digest)
{
	cleanup_json json_t *man = NULL;
	error *e = NULL;
	if (store_blob_read_json(s, digest, &man, NULL, &e) < 0) {
		error_free(e);
		return NULL;
	}
	const char *cd = store_desc_digest(json_object_get(man, "config"));
	return cd ? lfs_xstrdup(cd) : NULL;
}

static bool index_has_digest(json_t *manifests, const char *digest)
{
	size_t i;
	json_t *d;
	json_array_foreach(manifests, i, d)
	{
		const char *dg = store_desc_digest(d);
		if (dg && !strcmp(dg, digest))
			return true;
	}
	return false;
}

static int remove_locked(store *s, const char *name, int force, store_report_fn *report, void *arg,
			 error **err)
{
	cleanup_json json_t *index = NULL;
	if (store_index_load(s, &index, err) < 0)
		return -1;
	json_t *manifests = json_object_get(index, "manifests");
	struct match m;
	if (index_match(s, index, name, &m, err) < 0)
		return -1;
	size_t named = 0;
	for (size_t i = 0; i < m.n; i++)
		named += store_desc_ref(json_array_get(manifests, m.idx[i])) != NULL;
	if (m.by_id && named > 1 && !force) {
		error_fail(err, EBUSY,
		     "conflict: unable to delete %.12s (must be forced) - image is "
		     "referenced in multiple repositories; remove its names one by one or "
		     "use 'layerfs rmi -f'",
		     m.config_digest + 7);
		match_release(&m);
		return -1;
	}
	/* Remove from the end so earlier positions stay valid. */
	char **refs = lfs_xcalloc(m.n, sizeof(*refs));
	char **gone = lfs_xcalloc(m.n, sizeof(*gone));
	for (size_t k = m.n; k-- > 0;) {
		json_t *d = json_array_get(manifests, m.idx[k]);
		refs[k] = store_desc_ref(d) ? lfs_xstrdup(store_desc_ref(d)) : NULL;
		gone[k] = lfs_xstrdup(store_desc_digest(d) ? store_desc_digest(d) : "");
		json_array_remove(manifests, m.idx[k]);
	}
	/* Report only what index.json now says. */
	int ret = store_index_save(s, index, err);
	for (size_t k = 0; ret == 0 && k < m.n; k++)
		if (refs[k])
			report(arg, "Untagged", refs[k]);
	for (size_t k = 0; ret == 0 && k < m.n; k++) {
		bool dup = false;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(gone[j], gone[k]);
		if (!dup && !index_has_digest(manifests, gone[k])) {
			cleanup_free char *id = manifest_config(s, gone[k]);
			report(arg, "Deleted", id ? id : gone[k]);
		}
	}
	for (size_t k = 0; k < m.n; k++) {
		free(refs[k]);
		free(gone[k]);
	}
	free(refs);
	free(gone);
	match_release(&m);
	return ret;
}

int store_remove(store *s, const char *name, int force, store_report_fn *report, void *arg,
		 error **err)
{
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = remove_locked(s, name, force, report, arg, err);
	store_lock_pop(s, saved);
	return ret;
}

/* ---- marking and collecting ---------------------------------------------- */

void store_hexset_add(struct hexset *h, const char *hex)
{
	h->v = lfs_xrealloc(h->v, (h->n + 1) * sizeof(*h->v));
	memcpy(h->v[h->n++], hex, 65);
}

static int hex_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

void store_hexset_sort(struct hexset *h)
{
	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), hex_cmp);
}

bool store_hexset_has(const struct hexset *h, const char *hex)
{
	return h->n && bsearch(hex, h->v, h->n, sizeof(*h->v), hex_cmp);
}

void store_hexset_release(struct hexset *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

void store_marks_release(struct store_marks *m)
{
	store_hexset_release(&m->blobs);
	store_hexset_release(&m->idx);
}

static int gc_mark(store *s, const char *digest, int depth, struct hexset *blobs,
		   struct hexset *idx, error **err)
{
	cleanup_json json_t *j = NULL;
	if (depth > 8)
		return error_make(err, ELOOP, "image indexes nested too deep at %s", digest);
	if (store_blob_read_json(s, digest, &j, NULL, err) < 0)
		return -1;
	store_hexset_add(blobs, digest + 7);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "manifests"), i, d) /* a nested index */
	    if (gc_mark(s, store_desc_digest(d), depth + 1, blobs, idx, err) < 0) return -1;
	json_t *cfg = json_object_get(j, "config");
	if (!cfg)
		return 0;
	const char *cd = store_desc_digest(cfg);
	cleanup_json json_t *config = NULL;
	if (store_blob_read_json(s, cd, &config, NULL, err) < 0)
		return error_wrap(err, "config of %s", digest);
	store_hexset_add(blobs, cd + 7);
	json_array_foreach(json_object_get(j, "layers"), i, d)
	{
		const char *h = store_digest_hex(store_desc_digest(d));
		if (!h)
			return error_make(err, EBADMSG, "manifest %s: bad layer digest", digest);
		store_hexset_add(blobs, h);
	}
	json_array_foreach(json_object_get(json_object_get(config, "rootfs"), "diff_ids"), i, d)
	{
		const char *h = store_digest_hex(json_string_value(d));
		if (h)
			store_hexset_add(idx, h);
	}
	return 0;
}

bool store_tmp_orphaned(const char *name)
{
	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
		return false;
	char *end;
	long pid = strtol(name + strlen(TMP_PREFIX), &end, 10);
	if (pid <= 0 || *end != '-')
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int store_scan_fd(int dfd, const char *what, store_scan_fn *fn, void *arg, error **err)
{
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = dup >= 0 ? fdopendir(dup) : NULL;
	if (!dir) {
		if (dup >= 0)
			close(dup);
		return error_make(err, errno, "reading %s", what);
	}
	rewinddir(dir);
	int ret = 0;
	struct dirent *de;
	while (ret >= 0 && (de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = fn(arg, dfd, de->d_name, err);
	closedir(dir);
	return ret < 0 ? ret : 0;
}

int store_scan(store *s, const char *name, store_scan_fn *fn, void *arg, error **err)
{
	cleanup_fd int dfd = openat(s->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : error_make(err, errno, "reading %s/%s", s->root, name);
	cleanup_free char *what = lfs_xasprintf("%s/%s", s->root, name);
	return store_scan_fd(dfd, what, fn, arg, err);
}

struct gc_sweep {
	const struct hexset *keep;
	const char *what;
	uint64_t *freed;
	time_t now;
	bool failed; /* the first failure is in *err; the sweep goes on */
};

/* Deletes an unreferenced hex-named file, or a temp file that is older
 * than a day or whose writer is gone. */
static int gc_sweep_one(void *arg, int dfd, const char *name, error **err)
{
	struct gc_sweep *g = arg;
	struct stat st;
	bool del = false;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	char hex[65];
	if (store_is_hex64(name))
		del = !store_hexset_has(g->keep, name);
	else if (strlen(name) == 68 && !strcmp(name + 64, ".tar") &&
		 snprintf(hex, sizeof(hex), "%.64s", name) == 64 && store_is_hex64(hex))
		del = !store_hexset_has(g->keep, hex); /* a zstd layer's decompressed copy */
	else if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
		del = g->now - st.st_mtime > TMP_MAX_AGE || store_tmp_orphaned(name);
	if (!del)
		return 0;
	if (unlinkat(dfd, name, 0) < 0) {
		if (errno != ENOENT && !g->failed)
			error_make(err, errno, "removing %s/%s", g->what, name);
		g->failed |= errno != ENOENT;
		return 0;
	}
	*g->freed += (uint64_t)st.st_size;
	store_crash_point("gc-sweep");
	return 0;
}

static int gc_dir(int dfd, const struct hexset *keep, const char *what, uint64_t *freed,
		  error **err)
{
	struct gc_sweep g = {keep, what, freed, time(NULL), false};
	if (store_scan_fd(dfd, what, gc_sweep_one, &g, err) < 0 || g.failed)
		return -1;
	if (fsync_dirfd(dfd) < 0)
		return error_make(err, errno, "syncing %s", what);
	return 0;
}

/* A layer descriptor ({digest, diff_id}) keeps its blob and index. */
static void mark_layer(json_t *l, struct hexset *blobs, struct hexset *idx)
{
	const char *b = store_digest_hex(json_string_value(json_object_get(l, "digest")));
	const char *d = store_digest_hex(json_string_value(json_object_get(l, "diff_id")));
	if (b)
		store_hexset_add(blobs, b);
	if (d)
		store_hexset_add(idx, d);
}

static int mark_cache_one(void *arg, int dfd, const char *name, error **err)
{
	struct store_marks *m = arg;
	cleanup_json json_t *e = NULL;
	if (store_is_hex64(name) && store_cache_read(dfd, name, &e) == 0)
		mark_layer(json_object_get(e, "layer"), &m->blobs, &m->idx);
	return 0;
}

/* Build cache entries keep their layer's blob and index; an unreadable
 * entry is unusable anyway, so its layer may go. */
int store_mark_cache(store *s, struct store_marks *m, error **err)
{
	return store_scan(s, "cache", mark_cache_one, m, err);
}

struct mark_ctx {
	store *s;
	struct store_marks *m;
};

static int mark_container_one(void *arg, int dfd, const char *name, error **err)
{
	struct mark_ctx *c = arg;
	if (!store_is_hex64(name))
		return 0;
	cleanup_free char *path = lfs_xasprintf("%s/containers/%s/config.json", c->s->root, name);
	json_error_t je;
	cleanup_json json_t *cfg = json_load_file(path, 0, &je);
	if (!cfg && access(path, F_OK) == 0)
		return error_fail(err, EBADMSG,
				  "container %.12s's config.json is unreadable (%s); fix or "
				  "remove the container first",
				  name, je.text);
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(cfg, "layers"), i, l)
	    mark_layer(l, &c->m->blobs, &c->m->idx);
	return 0;
}

/* Containers keep the layers they were created from (containers/<id>/
 * config.json "layers", container.h), even once their image is removed.
 * A config that exists but cannot be read stops the collection, as an
 * unreadable image does: its layers are unknown. */
int store_mark_containers(store *s, struct store_marks *m, error **err)
{
	struct mark_ctx c = {s, m};
	return store_scan(s, "containers", mark_container_one, &c, err);
}

int store_scratch_live(int tmp_fd, const char *name)
{
	cleanup_free char *lock = lfs_xasprintf("%s/" SCRATCH_LOCK, name);
	cleanup_fd int fd = openat(tmp_fd, lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? 1 : -1;
}

/* The pins of live scratch dirs (running builds) keep their layers. */
static void mark_pins(int tmp_fd, const char *name, struct hexset *blobs, struct hexset *idx)
{
	cleanup_free char *pins = lfs_xasprintf("%s/" SCRATCH_PINS, name);
	cleanup_fd int fd = openat(tmp_fd, pins, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_file FILE *f = fd >= 0 ? fdopen(steal_fd(&fd), "r") : NULL;
	char b[80], d[80];
	while (f && fscanf(f, "%79s %79s", b, d) == 2) {
		if (store_digest_hex(b))
			store_hexset_add(blobs, b + 7);
		if (store_digest_hex(d))
			store_hexset_add(idx, d + 7);
	}
}

/* A scratch dir whose lock cannot be probed counts as live: its pins are
 * kept rather than guessed at. */
static int mark_scratch_one(void *arg, int dfd, const char *name, error **err)
{
	struct store_marks *m = arg;
	if (name[0] != '.' && store_scratch_live(dfd, name) != 0)
		mark_pins(dfd, name, &m->blobs, &m->idx);
	return 0;
}

int store_mark_pins(store *s, struct store_marks *m, error **err)
{
	return store_scan(s, "tmp", mark_scratch_one, m, err);
}

int store_mark_images(store *s, struct store_marks *m, error **err)
{
	cleanup_json json_t *index = NULL;
	if (store_index_load(s, &index, err) < 0)
		return -1;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(index, "manifests"), i, d)
	{
		if (gc_mark(s, store_desc_digest(d), 0, &m->blobs, &m->idx, err) < 0)
			return error_wrap(err, "index.json entry '%s' is unreadable",
					  store_desc_ref(d) ? store_desc_ref(d) : "(unnamed)");
	}
	return 0;
}

int store_mark_entry(store *s, json_t *desc, struct store_marks *m, error **err)
{
	return gc_mark(s, store_desc_digest(desc), 0, &m->blobs, &m->idx, err);
}

void store_marks_sort(struct store_marks *m)
{
	store_hexset_sort(&m->blobs);
	store_hexset_sort(&m->idx);
}

int store_mark(store *s, struct store_marks *m, error **err)
{
	memset(m, 0, sizeof(*m));
	int ret = store_mark_images(s, m, err);
	if (ret == 0)
		ret = store_mark_cache(s, m, err);
	if (ret == 0)
		ret = store_mark_containers(s, m, err);
	if (ret == 0)
		ret = store_mark_pins(s, m, err);
	store_marks_sort(m);
	if (ret < 0)
		store_marks_release(m);
	return ret;
}

static int gc_locked(store *s, uint64_t *freed, error **err)
{
	struct store_marks m;
	if (store_mark(s, &m, err) < 0)
		return error_wrap(err, "not collecting garbage");
	store_crash_point("gc-marked");
	int ret = gc_dir(s->blobs_fd, &m.blobs, "blobs/sha256", freed, err);
	if (ret == 0)
		ret = gc_dir(s->idx_fd, &m.idx, "indexes/sha256", freed, err);
	/* A blob's recorded sources go with it. */
	cleanup_fd int sfd = openat(s->root_fd, SOURCES_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ret == 0 && sfd >= 0)
		ret = gc_dir(sfd, &m.blobs, SOURCES_DIR, freed, err);
	store_marks_release(&m);
	return ret;
}

int store_gc_freed(store *s, uint64_t *freed, error **err)
{
	int saved;
	uint64_t n = 0;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = gc_locked(s, &n, err);
	store_lock_pop(s, saved);
	if (freed)
		*freed = n;
	return ret;
}

int store_gc(store *s, error **err)
{
	return store_gc_freed(s, NULL, err);
}

/* ---- blobs kept as they come (load, pull) --------------------------------- */

int store_blob_present(store *s, const char *digest)
{
	const char *hex = store_digest_hex(digest);
	return hex && faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

char *store_blob_path(store *s, const char *digest)
{
	const char *hex = store_digest_hex(digest);
	return hex ? lfs_xasprintf("%s/blobs/sha256/%s", s->root, hex) : NULL;
}

int store_blob_read(store *s, const char *digest, lfs_buf *out, error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex)
		return error_fail(err, EBADMSG, "invalid digest '%s'", digest ? digest : "(none)");
	lfs_buf_reset(out);
	if (read_file_at(s->blobs_fd, hex, JSON_BLOB_MAX, out, err) < 0)
		return error_wrap(err, "blob %s", digest);
	char got[65];
	sha256_hex(out->data, out->len, got);
	if (strcmp(got, hex))
		return error_fail(err, EBADMSG, "blob %s is corrupt (its contents hash to sha256:%s)",
			    digest, got);
	return 0;
}

int store_blob_begin(store *s, const char *expected_digest, uint64_t expected_size,
		     store_blob **out, error **err)
{
	if (expected_digest && !store_digest_hex(expected_digest))
		return error_fail(err, EBADMSG,
			    "invalid digest '%s': layerfs expects sha256:<64 lowercase hex>",
			    expected_digest);
	store_blob *b = lfs_xcalloc(1, sizeof(*b));
	b->s = s;
	b->expect_size = expected_size;
	if (expected_digest)
		memcpy(b->expect, expected_digest, sizeof(b->expect));
	b->fd = tmp_create(s->blobs_fd, &b->tmp, err);
	if (b->fd < 0) {
		free(b);
		return error_wrap(err, "storing a blob in %s/blobs/sha256", s->root);
	}
	b->md = EVP_MD_CTX_new();
	if (!b->md)
		abort();
	EVP_DigestInit_ex(b->md, EVP_sha256(), NULL);
	*out = b;
	return 0;
}

int store_blob_write(store_blob *b, const void *data, size_t len, error **err)
{
	if (b->expect_size != UINT64_MAX && b->size + len > b->expect_size)
		return error_fail(err, EBADMSG,
			    "blob %s is larger than the %" PRIu64 " bytes its descriptor gives",
			    *b->expect ? b->expect : "(unknown)", b->expect_size);
	if (write_full(b->fd, data, len) < 0)
		return error_make(err, errno, "writing a blob to %s/blobs/sha256", b->s->root);
	EVP_DigestUpdate(b->md, data, len);
	b->size += len;
	return 0;
}

uint64_t store_blob_written(const store_blob *b)
{
	return b->size;
}

int store_blob_restart(store_blob *b, error **err)
{
	if (ftruncate(b->fd, 0) < 0 || lseek(b->fd, 0, SEEK_SET) < 0)
		return error_make(err, errno, "restarting a blob download");
	EVP_DigestInit_ex(b->md, EVP_sha256(), NULL);
	b->size = 0;
	return 0;
}

int store_blob_finish(store_blob *b, error **err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(b->md, md, &mdlen);
	memcpy(b->digest, "sha256:", 7);
	hex_of(md, b->digest + 7);
	if (b->expect_size != UINT64_MAX && b->size != b->expect_size)
		return error_fail(err, EBADMSG,
			    "blob %s: got %" PRIu64 " bytes, its descriptor says %" PRIu64,
			    *b->expect ? b->expect : b->digest, b->size, b->expect_size);
	if (*b->expect && strcmp(b->expect, b->digest))
		return error_fail(err, EBADMSG, "blob %s does not match its digest: its bytes hash to %s",
			    b->expect, b->digest);
	if (fsync(b->fd) < 0)
		return error_make(err, errno, "writing blob %s", b->digest);
	return 0;
}

int store_blob_fd(const store_blob *b)
{
	return b->fd;
}

const char *store_blob_digest(const store_blob *b)
{
	return b->digest;
}

void store_blob_free(store_blob *b)
{
	if (!b)
		return;
	if (b->tmp) {
		unlinkat(b->s->blobs_fd, b->tmp, 0);
		free(b->tmp);
	}
	if (b->fd >= 0)
		close(b->fd);
	EVP_MD_CTX_free(b->md);
	free(b);
}

uint64_t store_blob_expected_size(const store_blob *b)
{
	return b->expect_size;
}

/* ---- where blobs came from (push mounts them from there) ------------------ */

static int sources_read(store *s, const char *hex, lfs_buf *out)
{
	cleanup_fd int dfd = openat(s->root_fd, SOURCES_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	error *e = NULL;
	int ret = dfd < 0 ? -1 : read_file_at(dfd, hex, 64u << 10, out, &e);
	error_free(e);
	return ret;
}

int store_blob_source_add(store *s, const char *digest, const char *repo, error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex || !*repo || strpbrk(repo, "\n\r"))
		return error_fail(err, EINVAL, "bad blob source '%s' for '%s'", repo,
				  digest ? digest : "(none)");
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	lfs_buf old = LFS_BUF_INIT, out = LFS_BUF_INIT;
	int ret = mkdir_at(s->root_fd, SOURCES_DIR, s->private_dirs ? 0700 : 0755, err);
	if (ret == 0 && sources_read(s, hex, &old) < 0)
		lfs_buf_reset(&old);
	lfs_buf_addf(&out, "%s\n", repo);
	size_t kept = 1;
	for (char *l = old.data; ret == 0 && l && *l && kept < SOURCES_MAX;) {
		char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (n && (n != strlen(repo) || memcmp(l, repo, n))) {
			lfs_buf_add(&out, l, n);
			lfs_buf_addch(&out, '\n');
			kept++;
		}
		l = nl ? nl + 1 : NULL;
	}
	cleanup_fd int dfd = ret == 0 ? open_dir_at(s->root_fd, SOURCES_DIR, err) : -1;
	if (ret == 0 && dfd < 0)
		ret = -1;
	if (ret == 0)
		ret = write_atomic(dfd, hex, out.data, out.len, err);
	store_lock_pop(s, saved);
	lfs_buf_release(&old);
	lfs_buf_release(&out);
	return ret;
}

json_t *store_blob_sources(store *s, const char *digest)
{
	json_t *a = json_array();
	const char *hex = store_digest_hex(digest);
	lfs_buf b = LFS_BUF_INIT;
	if (hex && sources_read(s, hex, &b) == 0) {
		for (char *l = b.data; l && *l;) {
			char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);
			if (n)
				json_array_append_new(a, json_stringn(l, n));
			l = nl ? nl + 1 : NULL;
		}
	}
	lfs_buf_release(&b);
	return a;
}

const char *store_staged_layer_diff_id(const store_staged_layer *l)
{
	return l->diff_id;
}

const char *store_staged_layer_media_type(const store_staged_layer *l)
{
	return l->media_type;
}

static void hash_tap(void *arg, const void *data, size_t len)
{
	EVP_DigestUpdate(arg, data, len);
}

/* Kind of layer blob on fd by its first bytes (enum lfs_compression:
 * plain, gzip or zstd); other compressions fail. */
static int layer_kind(int fd, const char *digest, int *kind, error **err)
{
	unsigned char m[8];
	ssize_t n = pread(fd, m, sizeof(m), 0);
	if (n < 0)
		return error_make(err, errno, "reading layer %s", digest);
	*kind = LFS_COMP_NONE;
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		*kind = LFS_COMP_GZIP;
	else if (n >= 4 && !memcmp(m, ZSTD_MAGIC, 4))
		*kind = LFS_COMP_ZSTD;
	const char *comp = *kind ? NULL : other_compression(m, (size_t)n);
	if (comp)
		return error_fail(err, ENOTSUP,
				  "layer %s is compressed with %s; layerfs reads plain, "
				  "gzip and zstd layers",
				  digest, comp);
	return 0;
}

/* Builds the index of the blob on fd into a temp file of indexes/sha256,
 * hashing the uncompressed stream; checks or fills l->diff_id. */
/* Indexes the plain, gzip or zstd layer on fd, hashing its uncompressed
 * bytes in the same pass: they must match l->diff_id when it is set, else
 * they become it.  what names the layer in messages. */
static int stage_index_verified(store_staged_layer *l, int fd, const char *what, error **err)
{
	cleanup_fd int ifd = tmp_create(l->s->idx_fd, &l->idx_tmp, err);
	if (ifd < 0)
		return error_wrap(err, "indexing layer %s", what);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	struct lfs_index_build_opts opts = {.on_data = hash_tap, .on_data_arg = md};
	char *msg = NULL;
	int r = lseek(fd, 0, SEEK_SET) < 0 ? -errno : lfs_index_build(fd, ifd, &opts, &msg);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	if (r < 0) {
		cleanup_free char *layer = lfs_xasprintf("layer %s", what);
		index_error(err, r, layer, msg);
		free(msg);
		return -1;
	}
	free(msg);
	char got[7 + 65] = "sha256:";
	hex_of(d, got + 7);
	if (*l->diff_id && strcmp(got, l->diff_id))
		return error_fail(err, EBADMSG,
			    "layer %s: its uncompressed contents hash to %s, but the image "
			    "config says diff_id %s; the image is corrupt",
			    what, got, l->diff_id);
	memcpy(l->diff_id, got, sizeof(got));
	if (fsync(ifd) < 0)
		return error_make(err, errno, "writing the index of layer %s", what);
	return 0;
}

static const char *default_layer_type(int kind)
{
	return kind == LFS_COMP_GZIP   ? MT_LAYER_GZ
	       : kind == LFS_COMP_ZSTD ? STORE_MT_LAYER_ZSTD
				       : MT_LAYER;
}

static store_staged_layer *staged_new(store *s, const char *digest, const char *diff_id)
{
	store_staged_layer *l = lfs_xcalloc(1, sizeof(*l));
	l->s = s;
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	if (diff_id)
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_id);
	return l;
}

int store_layer_stage_blob(store *s, store_blob *b, const char *media_type, const char *diff_id,
			   store_staged_layer **out, error **err)
{
	if (diff_id && !store_digest_hex(diff_id)) {
		store_blob_free(b);
		return error_fail(err, EBADMSG, "invalid diff_id '%s'", diff_id);
	}
	store_staged_layer *l = staged_new(s, b->digest, diff_id);
	l->size = b->size;
	l->blob_tmp = steal_pointer(&b->tmp);
	int kind = 0;
	int ret = layer_kind(b->fd, l->digest, &kind, err);
	if (ret == 0)
		ret = stage_index_verified(l, b->fd, l->digest, err);
	store_blob_free(b);
	if (ret < 0) {
		store_staged_layer_free(l);
		return -1;
	}
	l->media_type = lfs_xstrdup(media_type ? media_type : default_layer_type(kind));
	*out = l;
	return 0;
}

/* An existing index at diff_id that validates and describes a blob of size. */
static bool index_usable(store *s, const char *diff_id, uint64_t size)
{
	const char *hex = store_digest_hex(diff_id);
	if (!hex)
		return false;
	cleanup_fd int fd = openat(s->idx_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	lfs_index *idx = NULL;
	if (fd < 0 || lfs_index_open(fd, &idx) < 0)
		return false;
	bool ok = lfs_index_header(idx)->src_size == size;
	lfs_index_free(idx);
	return ok;
}

int store_layer_stage_present(store *s, const char *digest, const char *media_type,
			      const char *diff_id, store_staged_layer **out, error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex || (diff_id && !store_digest_hex(diff_id)))
		return error_fail(err, EBADMSG, "invalid layer digest '%s' or diff_id '%s'", digest,
			    diff_id ? diff_id : "");
	cleanup_fd int fd = openat(s->blobs_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return error_make(err, errno, "layer %s", digest);
	store_staged_layer *l = staged_new(s, digest, diff_id);
	l->size = (uint64_t)st.st_size;
	int kind = 0;
	int ret = layer_kind(fd, digest, &kind, err);
	if (ret == 0 && !(diff_id && index_usable(s, diff_id, l->size)))
		ret = stage_index_verified(l, fd, l->digest, err);
	if (ret < 0) {
		store_staged_layer_free(l);
		return -1;
	}
	l->media_type = lfs_xstrdup(media_type ? media_type : default_layer_type(kind));
	*out = l;
	return 0;
}

int store_index_rebuild(store *s, const char *digest, const char *diff_id, error **err)
{
	const char *hex = store_digest_hex(digest);
	if (!hex || !store_digest_hex(diff_id))
		return error_fail(err, EBADMSG, "invalid layer digest '%s' or diff_id '%s'",
				  digest ? digest : "", diff_id ? diff_id : "");
	cleanup_fd int fd = openat(s->blobs_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_make(err, errno, "layer %s", digest);
	store_staged_layer *l = staged_new(s, digest, diff_id);
	int gzip = 0;
	int ret = layer_kind(fd, digest, &gzip, err);
	if (ret == 0)
		ret = stage_index_verified(l, fd, l->digest, err);
	if (ret == 0 && renameat(s->idx_fd, l->idx_tmp, s->idx_fd, diff_id + 7) < 0)
		ret = error_make(err, errno, "storing the index of layer %s", digest);
	if (ret == 0) {
		free(l->idx_tmp);
		l->idx_tmp = NULL;
		if (fsync_dirfd(s->idx_fd) < 0)
			ret = error_make(err, errno, "syncing %s/indexes/sha256", s->root);
	}
	store_staged_layer_free(l);
	return ret;
}

/* Checks a manifest against its config bytes and staged layers. */
static int raw_check(json_t *man, const void *config, size_t config_len,
		     store_staged_layer *const *layers, size_t n, error **err)
{
	const char *mt = json_string_value(json_object_get(man, "mediaType"));
	if (json_integer_value(json_object_get(man, "schemaVersion")) != 2 ||
	    (mt && strcmp(mt, MT_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)))
		return error_fail(err, ENOTSUP,
			    "manifest has media type %s; layerfs stores OCI and docker v2 "
			    "schema 2 image manifests",
			    mt ? mt : "(none)");
	json_t *cd = json_object_get(man, "config");
	char hex[65];
	sha256_hex(config, config_len, hex);
	const char *cdig = store_digest_hex(store_desc_digest(cd));
	if (!cdig || strcmp(cdig, hex) ||
	    json_integer_value(json_object_get(cd, "size")) != (json_int_t)config_len)
		return error_fail(err, EBADMSG,
				  "the manifest's config descriptor (%s) does not match the config "
				  "(sha256:%s, %zu bytes)",
				  store_desc_digest(cd) ? store_desc_digest(cd) : "none", hex,
				  config_len);
	cleanup_json json_t *cfg = json_loadb(config, config_len, 0, NULL);
	json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	json_t *ld = json_object_get(man, "layers");
	if (json_array_size(ld) != n || json_array_size(diff_ids) != n)
		return error_fail(err, EBADMSG,
			    "the manifest lists %zu layers and the config %zu diff_ids; "
			    "expected %zu",
			    json_array_size(ld), json_array_size(diff_ids), n);
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(ld, i);
		const char *dg = store_desc_digest(d);
		const char *di = json_string_value(json_array_get(diff_ids, i));
		if (!dg || strcmp(dg, layers[i]->digest) ||
		    json_integer_value(json_object_get(d, "size")) != (json_int_t)layers[i]->size)
			return error_fail(err, EBADMSG,
				    "manifest layer %zu (%s) is not the blob stored (%s)", i,
				    dg ? dg : "none", layers[i]->digest);
		if (!di || strcmp(di, layers[i]->diff_id))
			return error_fail(err, EBADMSG, "config diff_id %zu (%s) is not layer %s's (%s)",
				    i, di ? di : "none", layers[i]->digest, layers[i]->diff_id);
	}
	return 0;
}

/* store_ref_check(), and also NAME@sha256:<hex> (a pull by digest). */
static int ref_check_named(const char *ref, error **err)
{
	const char *at = strchr(ref, '@');
	if (!at)
		return store_ref_check(ref, err);
	if (!store_digest_hex(at + 1))
		return error_fail(err, EINVAL,
				  "invalid image reference '%s': the digest after '@' is "
				  "sha256:<64 lowercase hex digits>",
				  ref);
	cleanup_free char *name = lfs_xstrndup(ref, (size_t)(at - ref));
	return store_ref_check(name, err);
}

static int commit_raw_locked(store *s, const char *ref, const void *config, size_t config_len,
			     const void *manifest, size_t manifest_len,
			     store_staged_layer *const *layers, size_t n, char *mdig,
			     struct placed *pl, error **err)
{
	cleanup_json json_t *index = NULL;
	if (store_index_load(s, &index, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (staged_commit(s, layers[i], pl, err) < 0)
			return -1;
	char cdig[7 + 65];
	if (blob_write(s, config, config_len, cdig, pl, err) < 0)
		return error_wrap(err, "writing the image config");
	if (blob_write(s, manifest, manifest_len, mdig, pl, err) < 0)
		return error_wrap(err, "writing the image manifest");
	store_crash_point("image-blobs");
	cleanup_json json_t *man = json_loadb(manifest, manifest_len, 0, NULL);
	const char *mt = json_string_value(json_object_get(man, "mediaType"));
	json_t *desc = descriptor(mt ? mt : MT_MANIFEST, mdig, manifest_len);
	int replaced = 0;
	if (ref) {
		replaced = index_set_ref(index, ref, desc);
	} else {
		json_t *manifests = json_object_get(index, "manifests");
		if (index_has_digest(manifests, mdig)) {
			json_decref(desc);
			return 0;
		}
		json_array_append_new(manifests, desc);
	}
	if (store_index_save(s, index, err) < 0)
		return -1;
	if (replaced) {
		error *e = NULL;
		store_gc(s, &e);
		error_free(e);
	}
	return 0;
}

int store_image_commit_raw(store *s, const char *ref, const void *config, size_t config_len,
			   const void *manifest, size_t manifest_len,
			   store_staged_layer *const *layers, size_t nlayers,
			   char **manifest_digest, error **err)
{
	cleanup_free char *norm = NULL;
	if (ref) {
		int bad = ref_check_named(ref, err);
		if (bad < 0)
			return bad;
		norm = store_normalize_ref(ref);
	}
	if (layers_limit(nlayers, "the image", err) < 0)
		return -1;
	json_error_t je;
	cleanup_json json_t *man = json_loadb(manifest, manifest_len, 0, &je);
	if (!json_is_object(man))
		return error_fail(err, EBADMSG, "the image manifest is not a JSON object");
	if (!json_is_object(json_object_get(man, "config")))
		return error_fail(err, EBADMSG, "the image manifest has no config descriptor");
	cleanup_json json_t *cfg = json_loadb(config, config_len, 0, &je);
	if (!json_is_object(cfg))
		return error_fail(err, EBADMSG, "the image config is not a JSON object");
	if (raw_check(man, config, config_len, layers, nlayers, err) < 0)
		return -1;
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	char mdig[7 + 65];
	struct placed pl = {0};
	int ret = commit_raw_locked(s, norm, config, config_len, manifest, manifest_len, layers,
				    nlayers, mdig, &pl, err);
	if (ret < 0)
		placed_undo(s, &pl);
	placed_release(&pl);
	store_lock_pop(s, saved);
	if (ret == 0 && manifest_digest)
		*manifest_digest = lfs_xstrdup(mdig);
	return ret;
}

/* ---- build cache ----------------------------------------------------------- */

#define CACHE_ENTRY_MAX (1u << 20)

int store_cache_read(int dfd, const char *hex, json_t **out)
{
	lfs_buf b = LFS_BUF_INIT;
	error *e = NULL;
	int ret = read_file_at(dfd, hex, CACHE_ENTRY_MAX, &b, &e);
	error_free(e);
	if (ret < 0) {
		lfs_buf_release(&b);
		return -1;
	}
	*out = json_loadb(b.data, b.len, 0, NULL);
	lfs_buf_release(&b);
	return json_is_object(*out) ? 0 : -1;
}

int store_cache_get(store *s, const char *key_hex, json_t **entry, error **err)
{
	*entry = NULL;
	if (!store_is_hex64(key_hex))
		return error_fail(err, EINVAL, "bad cache key '%s'", key_hex);
	int saved;
	if (store_lock_push(s, LOCK_SHARED, &saved, err) < 0)
		return -1;
	cleanup_fd int dfd = openat(s->root_fd, "cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *e = NULL;
	int found = dfd >= 0 && store_cache_read(dfd, key_hex, &e) == 0;
	if (found) {
		/* An entry whose layer went missing (a store repaired by hand) is a miss. */
		json_t *l = json_object_get(e, "layer");
		const char *b = json_string_value(json_object_get(l, "digest"));
		if (l && !(b && store_digest_hex(b) && store_blob_present(s, b)))
			found = 0;
		else
			pin_entry_layer(s, e);
	}
	store_lock_pop(s, saved);
	if (!found) {
		json_decref(e);
		return 1;
	}
	*entry = e;
	return 0;
}

int store_cache_put(store *s, const char *key_hex, json_t *entry, store_staged_layer *layer,
		    error **err)
{
	if (!store_is_hex64(key_hex))
		return error_fail(err, EINVAL, "bad cache key '%s'", key_hex);
	int saved;
	if (store_lock_push(s, LOCK_EXCL, &saved, err) < 0)
		return -1;
	int ret = mkdir_at(s->root_fd, "cache", s->private_dirs ? 0700 : 0755, err);
	cleanup_fd int dfd = -1;
	if (ret == 0) {
		dfd = open_dir_at(s->root_fd, "cache", err);
		ret = dfd < 0 ? -1 : 0;
	}
	struct placed pl = {0};
	if (ret == 0 && layer) {
		ret = staged_commit(s, layer, &pl, err);
		if (ret == 0)
			json_object_set_new(entry, "layer",
					    json_pack("{s:s, s:s, s:s, s:I}", "mediaType",
						      layer->media_type, "digest", layer->digest,
						      "diff_id", layer->diff_id, "size",
						      (json_int_t)layer->size));
	}
	if (ret == 0) {
		pin_entry_layer(s, entry);
		store_crash_point("cache-put");
		cleanup_free char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
		ret = write_atomic(dfd, key_hex, text, strlen(text), err);
	}
	if (ret < 0)
		placed_undo(s, &pl);
	placed_release(&pl);
	store_lock_pop(s, saved);
	return ret;
}

/* The lock and the pins file are made in a dot-named dir that is renamed
 * to its final name only then: a collector never sees a scratch dir
 * without its lock (dot-names are only removed when old). */
static int scratch_make(store *s, int tmp_fd, const char *dot, error **err)
{
	cleanup_free char *lock = lfs_xasprintf("%s/" SCRATCH_LOCK, dot);
	cleanup_free char *pins = lfs_xasprintf("%s/" SCRATCH_PINS, dot);
	cleanup_fd int lfd =
	    openat(tmp_fd, lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
		return error_make(err, errno, "creating %s/tmp/%s", s->root, lock);
	cleanup_fd int pfd = openat(
	    tmp_fd, pins, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (pfd < 0)
		return error_make(err, errno, "creating %s/tmp/%s", s->root, pins);
	if (renameat(tmp_fd, dot, tmp_fd, dot + 1) < 0)
		return error_make(err, errno, "creating a scratch directory in %s/tmp", s->root);
	if (s->scratch_lock_fd >= 0)
		close(s->scratch_lock_fd);
	if (s->pin_fd >= 0)
		close(s->pin_fd);
	s->scratch_lock_fd = steal_fd(&lfd);
	s->pin_fd = steal_fd(&pfd);
	return 0;
}

int store_scratch_dir(store *s, const char *what, char **out, error **err)
{
	int ret = mkdir_at(s->root_fd, "tmp", 0700, err);
	if (ret < 0)
		return ret;
	cleanup_fd int tmp_fd = open_dir_at(s->root_fd, "tmp", err);
	if (tmp_fd < 0)
		return -1;
	cleanup_free char *p = lfs_xasprintf("%s/tmp/.%s-XXXXXX", s->root, what);
	if (!mkdtemp(p))
		return error_make(err, errno, "creating a scratch directory in %s/tmp", s->root);
	const char *dot = strrchr(p, '/') + 1;
	if (scratch_make(s, tmp_fd, dot, err) < 0) {
		store_rm_tree_at(tmp_fd, dot);
		return -1;
	}
	*out = lfs_xasprintf("%s/tmp/%s", s->root, dot + 1);
	return 0;
}

/* Records a layer a build uses in its scratch dir's pins (see store.h);
 * the caller holds the store lock.  A failed write only weakens the
 * protection (the build then fails naming the layer), so it is ignored. */
static void pin_layer(store *s, const char *digest, const char *diff_id)
{
	if (s->pin_fd < 0 || !store_digest_hex(digest) || !store_digest_hex(diff_id))
		return;
	char line[2 * 72 + 2];
	int n = snprintf(line, sizeof(line), "%s %s\n", digest, diff_id);
	if (write_full(s->pin_fd, line, (size_t)n) < 0)
		return;
}

static void pin_entry_layer(store *s, json_t *entry)
{
	json_t *l = json_object_get(entry, "layer");
	pin_layer(s, json_string_value(json_object_get(l, "digest")),
		  json_string_value(json_object_get(l, "diff_id")));
}

static void rm_at(int dfd, const char *name, int depth)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT || depth > 4096)
		return;
	fchmodat(dfd, name, 0700, 0);
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

void store_rm_tree_at(int dfd, const char *name)
{
	rm_at(dfd, name, 0);
}
