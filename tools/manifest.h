/* manifest — reading image manifests and indexes (OCI and docker v2
 * schema 2 / manifest lists) as they come from archives and registries.
 * Pure functions over parsed JSON: no I/O, unit-tested. */
#ifndef LAYERFS_MANIFEST_H
#define LAYERFS_MANIFEST_H

#include <jansson.h>

#include "error.h"

enum manifest_kind {
	MANIFEST_UNKNOWN = 0,
	MANIFEST_IMAGE, /* OCI image manifest or docker v2 schema 2 */
	MANIFEST_INDEX, /* OCI image index or docker manifest list */
};

/* Kind by media type; when mt is NULL (OCI allows omitting it) by shape:
 * "manifests" → index, "config"+"layers" → image. */
enum manifest_kind manifest_kind_of(const char *mt, json_t *doc);

/* Platform "os/arch[/variant]"; NULL means linux and this machine's
 * architecture (store_platform()).  Sets the fields to static or
 * caller-owned strings in *out (free with platform_release). */
struct platform {
	char *os, *arch, *variant;
};
int platform_parse(const char *s, struct platform *out, error **err);
void platform_release(struct platform *p);

/* Picks the descriptor in index's "manifests" for platform p: os and arch
 * must match; a variant, when p has one, must match too, else the first
 * one of that arch wins (amd64 has none; arm64 "v8" is the default).
 * Returns the descriptor (borrowed from index) or NULL with an error
 * listing the platforms the index has. */
json_t *manifest_pick_platform(json_t *index, const struct platform *p, error **err);

/* Checks an image manifest's shape: schemaVersion 2, a config descriptor,
 * a layers array of descriptors each with mediaType, sha256 digest and a
 * non-negative size.  -EBADMSG naming the bad field. */
int manifest_check_image(json_t *m, error **err);

/* Is mt a layer media type layerfs can store (plain, gzip or zstd tar)?
 * 1 yes, 0 no; *why set to a reason for other types. */
int manifest_layer_type_ok(const char *mt, const char **why);

#endif
