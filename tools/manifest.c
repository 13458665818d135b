/* manifest — image manifest and index helpers (see manifest.h). */
#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "store.h"

enum manifest_kind manifest_kind_of(const char *mt, json_t *doc)
{
	if (mt) {
		if (!strcmp(mt, STORE_MT_INDEX) || !strcmp(mt, STORE_MT_DOCKER_LIST))
			return MANIFEST_INDEX;
		if (!strcmp(mt, STORE_MT_MANIFEST) || !strcmp(mt, STORE_MT_DOCKER_MANIFEST))
			return MANIFEST_IMAGE;
		return MANIFEST_UNKNOWN;
	}
	if (json_is_array(json_object_get(doc, "manifests")))
		return MANIFEST_INDEX;
	if (json_object_get(doc, "config") && json_object_get(doc, "layers"))
		return MANIFEST_IMAGE;
	return MANIFEST_UNKNOWN;
}

void platform_release(struct platform *p)
{
	free(p->os);
	free(p->arch);
	free(p->variant);
	memset(p, 0, sizeof(*p));
}

int platform_parse(const char *s, struct platform *out, error **err)
{
	memset(out, 0, sizeof(*out));
	if (!s) {
		const char *arch, *variant;
		store_platform(&arch, &variant);
		out->os = lfs_xstrdup("linux");
		out->arch = lfs_xstrdup(arch);
		out->variant = variant ? lfs_xstrdup(variant) : NULL;
		return 0;
	}
	const char *a = strchr(s, '/');
	const char *v = a ? strchr(a + 1, '/') : NULL;
	if (!a || a == s || !a[1] || a[1] == '/' || (v && (!v[1] || strchr(v + 1, '/'))))
		return error_usage(err,
				   "invalid platform '%s': give OS/ARCH[/VARIANT], e.g. "
				   "linux/arm64",
				   s);
	out->os = lfs_xstrndup(s, (size_t)(a - s));
	out->arch = v ? lfs_xstrndup(a + 1, (size_t)(v - a - 1)) : lfs_xstrdup(a + 1);
	out->variant = v ? lfs_xstrdup(v + 1) : NULL;
	return 0;
}

static const char *pget(json_t *d, const char *k)
{
	return json_string_value(json_object_get(json_object_get(d, "platform"), k));
}

json_t *manifest_pick_platform(json_t *index, const struct platform *p, error **err)
{
	json_t *ms = json_object_get(index, "manifests");
	json_t *first = NULL, *d;
	size_t i;
	json_array_foreach(ms, i, d)
	{
		const char *os = pget(d, "os"), *arch = pget(d, "architecture");
		if (!os || !arch || strcmp(os, p->os) || strcmp(arch, p->arch))
			continue;
		const char *var = pget(d, "variant");
		if (p->variant && var && !strcmp(var, p->variant))
			return d;
		if (!p->variant || !var)
			first = first ? first : d;
	}
	if (first)
		return first;
	lfs_buf have = LFS_BUF_INIT;
	json_array_foreach(ms, i, d)
	{
		const char *os = pget(d, "os"), *arch = pget(d, "architecture");
		const char *var = pget(d, "variant");
		lfs_buf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", os ? os : "?",
			     arch ? arch : "?", var ? "/" : "", var ? var : "");
	}
	error_make(err, 0,
		   "no image for platform %s/%s%s%s in the image index (it has: %s); choose one "
		   "with --platform",
		   p->os, p->arch, p->variant ? "/" : "", p->variant ? p->variant : "",
		   have.len ? have.data : "nothing");
	(*err)->code = ENOENT;
	lfs_buf_release(&have);
	return NULL;
}

static int digest_ok(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return 0;
	return 1;
}

static int desc_ok(json_t *d)
{
	json_t *sz = json_object_get(d, "size");
	return json_is_object(d) && json_is_string(json_object_get(d, "mediaType")) &&
	       digest_ok(json_string_value(json_object_get(d, "digest"))) && json_is_integer(sz) &&
	       json_integer_value(sz) >= 0;
}

static int bad(error **err, const char *what)
{
	int r = error_make(err, 0, "invalid image manifest: %s", what);
	(*err)->code = EBADMSG;
	return r;
}

int manifest_check_image(json_t *m, error **err)
{
	if (!json_is_object(m))
		return bad(err, "not a JSON object");
	if (json_integer_value(json_object_get(m, "schemaVersion")) != 2)
		return bad(err, "schemaVersion is not 2");
	if (!desc_ok(json_object_get(m, "config")))
		return bad(err, "bad or missing config descriptor");
	json_t *l = json_object_get(m, "layers");
	if (!json_is_array(l))
		return bad(err, "no layers array");
	size_t i;
	json_t *d;
	json_array_foreach(l, i, d) if (!desc_ok(d)) return bad(err, "bad layer descriptor");
	return 0;
}

int manifest_layer_type_ok(const char *mt, const char **why)
{
	static const char *const ok[] = {
	    STORE_MT_LAYER,
	    STORE_MT_LAYER_GZ,
	    STORE_MT_DOCKER_LAYER,
	    STORE_MT_DOCKER_LAYER_GZ,
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	    STORE_MT_LAYER_ZSTD,
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	};
	*why = NULL;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return 1;
	*why = "it is not a plain, gzip or zstd tar layer";
	return 0;
}
