/* libFuzzer harness for the image JSON that load and pull read from outside:
 * OCI image indexes and docker manifest lists, image manifests, configs,
 * and docker-save manifest.json.  The input is split at NUL bytes into
 *   [0] index.json, [1] an image manifest, [2] its config, [3] manifest.json
 * (missing parts are left out).  In [0], [1] and [3] these tokens are
 * replaced first, so that mutations get past the digest checks:
 *   @C / @c  "sha256:<hex>" / size of [2]      @P  "blobs/sha256/<hex of [2]>"
 *   @M / @m  the same for [1] (after its own replacements; not in [1])
 *   @L / @l  the same for an empty tar layer stored beside them, @Q its
 *            path (also replaced in [2], for rootfs.diff_ids)
 *
 *  1. Each part goes through the pure functions of manifest.h
 *     (manifest_kind_of, manifest_check_image, manifest_pick_platform,
 *     manifest_layer_type_ok) and imgcfg_env_get.
 *  2. The parts become an OCI layout / docker-save tar (oci-layout,
 *     index.json, manifest.json, blobs/sha256/...) in a memfd, which
 *     archive_load() loads into a fresh store in a scratch directory; that
 *     reaches the checks of tools/archive_io.c and store_image_commit_raw().
 *     Every image stored must then read back (store_image_list) and
 *     survive store_gc().  Failures always explain themselves.
 *
 * make fuzz (build-fuzz/fuzz/fuzz_image_json, seeds in
 * tests/fuzz/corpus/image_json/); set TMPDIR to a tmpfs for speed and
 * FUZZ_IMAGE_VERBOSE=1 to see why an input does not load.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "archive_io.h"
#include "buf.h"
#include "imgcfg.h"
#include "manifest.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { P_INDEX, P_MANIFEST, P_CONFIG, P_DOCKER, NPARTS };

struct blob {
	char digest[7 + 65];
	char path[14 + 65];
	char size[24];
};

static void blob_of(struct blob *b, const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[65];

	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(b->digest, sizeof(b->digest), "sha256:%s", hex);
	snprintf(b->path, sizeof(b->path), "blobs/sha256/%s", hex);
	snprintf(b->size, sizeof(b->size), "%zu", len);
}

/* Replaces the @ tokens of in[0..len) into out. */
static void expand(const char *in, size_t len, const struct blob *cfg, const struct blob *man,
		   const struct blob *layer, lfs_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		if (in[i] == '@' && i + 1 < len) {
			switch (in[i + 1]) {
			case 'C':
				rep = cfg ? cfg->digest : NULL;
				break;
			case 'c':
				rep = cfg ? cfg->size : NULL;
				break;
			case 'P':
				rep = cfg ? cfg->path : NULL;
				break;
			case 'M':
				rep = man ? man->digest : NULL;
				break;
			case 'm':
				rep = man ? man->size : NULL;
				break;
			case 'L':
				rep = layer->digest;
				break;
			case 'l':
				rep = layer->size;
				break;
			case 'Q':
				rep = layer->path;
				break;
			}
		}
		if (rep) {
			lfs_buf_addstr(out, rep);
			i++;
		} else {
			lfs_buf_addch(out, in[i]);
		}
	}
}

/* 1: the pure functions. */
static void check_json(const lfs_buf *part)
{
	static const char *const plats[] = {"linux/amd64", "linux/arm/v7", "linux/arm64"};
	json_t *j = json_loadb(part->data, part->len, 0, NULL);
	const char *why;
	error *err = NULL;
	size_t i;
	json_t *d;

	if (!j)
		return;
	(void)manifest_kind_of(NULL, j);
	(void)manifest_kind_of(json_string_value(json_object_get(j, "mediaType")), j);
	if (manifest_check_image(j, &err) == 0) {
		if (err)
			abort();
		json_array_foreach(json_object_get(j, "layers"), i, d)
		{
			if (manifest_layer_type_ok(
				json_string_value(json_object_get(d, "mediaType")), &why) == 0 &&
			    !why)
				abort();
		}
	} else if (!err || !err->msg[0]) {
		abort();
	}
	error_free(err);
	err = NULL;
	for (i = 0; i < sizeof(plats) / sizeof(plats[0]); i++) {
		struct platform p;
		if (platform_parse(plats[i], &p, &err))
			abort();
		d = manifest_pick_platform(j, &p, &err);
		if (d ? err != NULL || !json_is_object(d) : !err || !err->msg[0])
			abort();
		error_free(err);
		err = NULL;
		platform_release(&p);
	}
	(void)imgcfg_env_get(j, "PATH");
	json_decref(j);
}

static void tar_add(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, data, len) != (la_ssize_t)len))
		abort();
	archive_entry_free(e);
}

static int tar_memfd(lfs_buf *parts, int have[NPARTS], const struct blob *cfg,
		     const struct blob *man, const struct blob *layer, const void *empty_tar,
		     size_t empty_len)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	struct archive *a = archive_write_new();

	if (fd < 0 || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		abort();
	tar_add(a, "oci-layout", layout, sizeof(layout) - 1);
	if (have[P_INDEX])
		tar_add(a, "index.json", parts[P_INDEX].data, parts[P_INDEX].len);
	if (have[P_DOCKER])
		tar_add(a, "manifest.json", parts[P_DOCKER].data, parts[P_DOCKER].len);
	if (have[P_MANIFEST])
		tar_add(a, man->path, parts[P_MANIFEST].data, parts[P_MANIFEST].len);
	if (have[P_CONFIG] && strcmp(cfg->path, man->path))
		tar_add(a, cfg->path, parts[P_CONFIG].data, parts[P_CONFIG].len);
	if (strcmp(layer->path, man->path) && strcmp(layer->path, cfg->path))
		tar_add(a, layer->path, empty_tar, empty_len);
	if (archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_write_free(a);
	return fd;
}

static void loaded(void *arg, const char *ref, const char *id)
{
	if (!id || strncmp(id, "sha256:", 7))
		abort();
	++*(int *)arg;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* 2: archive_load into a fresh store. */
static void load(int tar_fd)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[64];
	struct store_image **imgs;
	size_t n;
	store *s;
	error *err = NULL;
	int nloaded = 0, ret;

	snprintf(dir, sizeof(dir), "%s/fuzz-image-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || store_open_at(dir, &s, &err))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", tar_fd);
	ret = archive_load(s, path, loaded, &nloaded, &err);
	if (ret == 0 ? err != NULL || nloaded == 0 : !err || !err->msg[0])
		abort();
	if (getenv("FUZZ_IMAGE_VERBOSE")) /* for writing seeds */
		fprintf(stderr, "load: %s\n", ret ? err->msg : "ok");
	error_free(err);
	err = NULL;
	if (ret == 0) {
		if (store_image_list(s, &imgs, &n, &err) || n == 0)
			abort(); /* what load stored must read back */
		store_image_list_free(imgs, n);
		if (store_gc(s, &err))
			abort();
	}
	store_free(s);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char empty_tar[1024];
	lfs_buf raw[NPARTS], parts[NPARTS];
	int have[NPARTS] = {0};
	struct blob cfg, man, layer;
	size_t off = 0;
	int fd;

	for (int i = 0; i < NPARTS; i++) {
		const uint8_t *nul = off < size ? memchr(data + off, 0, size - off) : NULL;
		size_t len = nul ? (size_t)(nul - (data + off)) : size - off;
		lfs_buf_init(&raw[i], 0);
		lfs_buf_init(&parts[i], 0);
		have[i] = off < size && len > 0;
		lfs_buf_add(&raw[i], data + (off < size ? off : size), off < size ? len : 0);
		off += len + 1;
	}
	blob_of(&layer, empty_tar, sizeof(empty_tar));
	expand(raw[P_CONFIG].data, raw[P_CONFIG].len, NULL, NULL, &layer, &parts[P_CONFIG]);
	blob_of(&cfg, parts[P_CONFIG].data, parts[P_CONFIG].len);
	expand(raw[P_MANIFEST].data, raw[P_MANIFEST].len, &cfg, NULL, &layer, &parts[P_MANIFEST]);
	blob_of(&man, parts[P_MANIFEST].data, parts[P_MANIFEST].len);
	expand(raw[P_INDEX].data, raw[P_INDEX].len, &cfg, &man, &layer, &parts[P_INDEX]);
	expand(raw[P_DOCKER].data, raw[P_DOCKER].len, &cfg, &man, &layer, &parts[P_DOCKER]);

	for (int i = 0; i < NPARTS; i++)
		check_json(&parts[i]);
	fd = tar_memfd(parts, have, &cfg, &man, &layer, empty_tar, sizeof(empty_tar));
	load(fd);
	close(fd);
	for (int i = 0; i < NPARTS; i++) {
		lfs_buf_release(&raw[i]);
		lfs_buf_release(&parts[i]);
	}
	return 0;
}
