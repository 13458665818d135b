/* layerfs build — a Dockerfile to an image in the store.
 *
 * The stages the target needs are built in file order (bld_step.c does
 * one instruction); the target stage's image is committed under each -t
 * name, or unnamed.  A failed build leaves the store as it was, except
 * for the cache entries (and their layers) of the steps that succeeded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bld_build.h"
#include "cmd.h"
#include "imgcfg.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs build [OPTIONS] CONTEXT\n"
    "\n"
    "Builds an image from a Dockerfile, as `docker build` does: every RUN runs\n"
    "rootless in the image's own root (layerfs-mounted, fresh upper dir, user +\n"
    "mount + PID namespaces, host network), every COPY/ADD copies from CONTEXT\n"
    "(minus .dockerignore) or another stage, and each step's layer is cached:\n"
    "a rebuild reruns only the steps whose inputs changed.\n"
    "\n"
    "Options:\n"
    "  -t, --tag NAME[:TAG]      name the image (repeatable)\n"
    "  -f, --file FILE           the Dockerfile (default CONTEXT/Dockerfile; '-': stdin)\n"
    "      --build-arg K[=V]     set a build argument (K alone: from the environment)\n"
    "      --label K=V           add a label to the image\n"
    "      --target STAGE        build up to this stage\n"
    "      --no-cache            do not use cached steps (results are still cached)\n"
    "      --network MODE        default network of RUN steps: host (default) or none\n"
    "      --progress MODE       auto (default), tty, plain or quiet\n"
    "  -q, --quiet               print only the image ID\n"
    "      --iidfile FILE        write the image ID to FILE\n"
    "  -h, --help                show this help\n"
    "\n"
    "With SOURCE_DATE_EPOCH set, layer mtimes are clamped to it and every\n"
    "timestamp is it: the same Dockerfile and context give the same image ID.\n";

/* ---- options ---------------------------------------------------------------------- */

static void add_str(char ***v, size_t *n, const char *s)
{
	*v = lfs_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (char *)s;
}

static int parse_progress(const char *s, struct build_opts *o, error **err)
{
	if (!strcmp(s, "auto"))
		o->progress = isatty(STDERR_FILENO) ? BLD_PROGRESS_TTY : BLD_PROGRESS_PLAIN;
	else if (!strcmp(s, "tty"))
		o->progress = BLD_PROGRESS_TTY;
	else if (!strcmp(s, "plain"))
		o->progress = BLD_PROGRESS_PLAIN;
	else if (!strcmp(s, "quiet"))
		o->progress = BLD_PROGRESS_QUIET;
	else
		return error_usage(err, "--progress=%s: use auto, tty, plain or quiet", s);
	return 0;
}

static int parse_args(int argc, char **argv, struct build_opts *o, error **err)
{
	enum { O_ARG = 256, O_LABEL, O_TARGET, O_NOCACHE, O_PROGRESS, O_NET, O_IID };
	static const struct option opts[] = {{"tag", required_argument, NULL, 't'},
					     {"file", required_argument, NULL, 'f'},
					     {"build-arg", required_argument, NULL, O_ARG},
					     {"label", required_argument, NULL, O_LABEL},
					     {"target", required_argument, NULL, O_TARGET},
					     {"no-cache", no_argument, NULL, O_NOCACHE},
					     {"progress", required_argument, NULL, O_PROGRESS},
					     {"network", required_argument, NULL, O_NET},
					     {"quiet", no_argument, NULL, 'q'},
					     {"iidfile", required_argument, NULL, O_IID},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	o->progress = isatty(STDERR_FILENO) ? BLD_PROGRESS_TTY : BLD_PROGRESS_PLAIN;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			add_str(&o->tags, &o->ntags, optarg);
			break;
		case 'f':
			o->file = optarg;
			break;
		case O_ARG:
			add_str(&o->build_args, &o->nbuild_args, optarg);
			break;
		case O_LABEL:
			add_str(&o->labels, &o->nlabels, optarg);
			break;
		case O_TARGET:
			o->target = optarg;
			break;
		case O_NOCACHE:
			o->no_cache = 1;
			break;
		case O_IID:
			o->iidfile = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case O_NET:
			if (strcmp(optarg, "host") && strcmp(optarg, "none") &&
			    strcmp(optarg, "default"))
				return error_usage(err, "--network=%s: use host or none", optarg);
			o->network_none = !strcmp(optarg, "none");
			break;
		case O_PROGRESS:
			if (parse_progress(optarg, o, err) < 0)
				return -1;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 1;
		default:
			return error_usage(err, "see 'layerfs build --help'");
		}
	}
	if (optind != argc - 1)
		return error_usage(err, "layerfs build needs exactly one CONTEXT directory "
					"(see 'layerfs build --help')");
	o->context = argv[optind];
	if (o->quiet)
		o->progress = BLD_PROGRESS_QUIET;
	for (size_t i = 0; i < o->ntags; i++)
		if (store_ref_check(o->tags[i], err) < 0)
			return error_wrap(err, "-t %s", o->tags[i]);
	for (size_t i = 0; i < o->nlabels; i++) /* checked before the build, not after */
		if (!strchr(o->labels[i], '=') || o->labels[i][0] == '=')
			return error_usage(err, "--label %s: use KEY=VALUE", o->labels[i]);
	return 0;
}

/* ---- shared helpers (bld_build.h) --------------------------------------------------- */

char *bld_where(const struct build *b, const struct df_instr *in)
{
	return lfs_xasprintf("%s:%u: ", b->df_name, in->line);
}

const char *bld_meta_lookup(void *build, const char *name)
{
	struct build *b = build;
	return json_string_value(json_object_get(b->meta_args, name));
}

struct stage *bld_stage_find(struct build *b, const char *name)
{
	char *end;
	unsigned long i = strtoul(name, &end, 10);
	if (*name && !*end)
		return i < b->nst ? &b->st[i] : NULL;
	for (size_t k = 0; k < b->nst; k++)
		if (b->st[k].name && !strcasecmp(b->st[k].name, name))
			return &b->st[k];
	return NULL;
}

char *bld_step_name(const struct scope *sc, size_t i, const char *text)
{
	if (sc->b->nst == 1)
		return lfs_xasprintf("[%zu/%zu] %s", i, sc->st->nsteps, text);
	cleanup_free char *label =
	    sc->st->name ? lfs_xstrdup(sc->st->name) : lfs_xasprintf("stage-%zu", sc->st->index);
	return lfs_xasprintf("[%s %zu/%zu] %s", label, i, sc->st->nsteps, text);
}

void bld_history_add(struct scope *sc, const char *created, const char *by, int layer)
{
	json_t *h = json_object_get(sc->img->config, "history");
	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(sc->img->config, "history", h);
	}
	json_t *e = json_pack("{s:s, s:s, s:s}", "created", created ? created : "", "created_by",
			      by, "comment", "layerfs build");
	if (!layer)
		json_object_set_new(e, "empty_layer", json_true());
	json_array_append_new(h, e);
	if (created)
		json_object_set_new(sc->img->config, "created", json_string(created));
}

char *bld_scratch_new(struct build *b, const char *what, error **err)
{
	char *p = lfs_xasprintf("%s/%s-%u", b->scratch, what, b->nscratch++);
	if (mkdir(p, 0700) < 0) {
		error_make(err, errno, "creating %s", p);
		free(p);
		return NULL;
	}
	return p;
}

void bld_rm_tree(const char *path)
{
	store_rm_tree_at(AT_FDCWD, path);
}

/* ---- images under construction ---------------------------------------------------- */

void bld_img_release(struct bld_img *img)
{
	json_decref(img->config);
	for (size_t i = 0; i < img->nlayers; i++)
		store_layer_release(&img->layers[i]);
	free(img->layers);
	memset(img, 0, sizeof(*img));
}

void bld_img_copy(struct bld_img *dst, const struct bld_img *src)
{
	dst->config = json_deep_copy(src->config);
	dst->nlayers = src->nlayers;
	dst->layers = lfs_xcalloc(src->nlayers + 1, sizeof(*dst->layers));
	for (size_t i = 0; i < src->nlayers; i++) {
		const struct store_layer *l = &src->layers[i];
		dst->layers[i] =
		    (struct store_layer){lfs_xstrdup(l->digest),     lfs_xstrdup(l->diff_id),
					 lfs_xstrdup(l->media_type), l->size,
					 lfs_xstrdup(l->blob_path),  lfs_xstrdup(l->index_path)};
	}
	memcpy(dst->key, src->key, sizeof(dst->key));
}

int bld_img_open(store *s, const struct bld_img *img, lfs_layer ***layers, lfs_union **u,
		 error **err)
{
	if (store_layers_open(s, img->layers, img->nlayers, "the image being built", layers, err) <
	    0)
		return -1;
	if (lfs_union_new(*layers, img->nlayers, u) < 0) {
		store_layers_free(*layers, img->nlayers);
		*layers = NULL;
		return error_make(err, ENOMEM, "opening the layers of the image being built");
	}
	return 0;
}

int bld_union_read_file(lfs_union *u, const char *path, size_t max, char **out, error **err)
{
	uint64_t id;
	struct stat st;
	*out = NULL;
	if (lfs_union_resolve(u, path, 1, &id) < 0 || lfs_union_getattr(u, id, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if ((uint64_t)st.st_size > max)
		return error_make(err, EFBIG, "%s is larger than %zu bytes", path, max);
	char *buf = lfs_xmalloc((size_t)st.st_size + 1);
	ssize_t n = lfs_union_read(u, id, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		free(buf);
		return error_make(err, (int)-n, "reading %s of the image", path);
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* ---- planning: stages, global ARGs, the target ---------------------------------------- */

static int is_file_step(enum df_kind k)
{
	return k == DF_RUN || k == DF_COPY || k == DF_ADD || k == DF_WORKDIR;
}

/* "AS name" of a FROM: the words after the image. */
static int from_words(struct build *b, const struct df_instr *in, char ***w, size_t *n, error **err)
{
	if (df_expand_words(in->rest, b->df->escape, bld_meta_lookup, b, w, n, err) < 0)
		return -1;
	if (*n == 1 || (*n == 3 && !strcasecmp((*w)[1], "as")))
		return 0;
	df_strv_free(*w);
	cleanup_free char *where = bld_where(b, in);
	return error_make(err, 0, "%s%s: expected FROM IMAGE [AS NAME]", where, in->text);
}

static int plan_stage(struct build *b, size_t i, error **err)
{
	struct stage *st = &b->st[b->nst];
	memset(st, 0, sizeof(*st));
	st->index = b->nst;
	st->first = i;
	char **w;
	size_t n;
	if (from_words(b, &b->df->instrs[i], &w, &n, err) < 0)
		return -1;
	if (n == 3) {
		st->name = lfs_xstrdup(w[2]);
		for (char *c = st->name; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		if (bld_stage_find(b, st->name)) {
			cleanup_free char *where = bld_where(b, &b->df->instrs[i]);
			df_strv_free(w);
			return error_make(err, 0, "%sduplicate stage name '%s'", where, st->name);
		}
	}
	df_strv_free(w);
	b->nst++;
	return 0;
}

/* Global ARGs (before the first FROM): --build-arg wins over defaults. */
static int plan_meta_arg(struct build *b, const struct df_instr *in, error **err)
{
	struct df_kv *kv;
	size_t n;
	if (df_parse_kv(b->df, in, bld_meta_lookup, b, &kv, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *given = json_object_get(b->build_args, kv[i].key);
		if (given)
			json_object_set_new(b->used_args, kv[i].key, json_true());
		json_object_set_new(b->meta_args, kv[i].key,
				    given	  ? json_incref(given)
				    : kv[i].value ? json_string(kv[i].value)
						  : json_null());
	}
	df_kv_free(kv, n);
	return 0;
}

static void platform_args(struct build *b)
{
	const char *arch, *variant;
	store_platform(&arch, &variant);
	cleanup_free char *plat =
	    variant ? lfs_xasprintf("linux/%s/%s", arch, variant) : lfs_xasprintf("linux/%s", arch);
	static const char *const pre[] = {"TARGET", "BUILD"};
	for (int i = 0; i < 2; i++) {
		cleanup_free char *k1 = lfs_xasprintf("%sPLATFORM", pre[i]);
		cleanup_free char *k2 = lfs_xasprintf("%sOS", pre[i]);
		cleanup_free char *k3 = lfs_xasprintf("%sARCH", pre[i]);
		cleanup_free char *k4 = lfs_xasprintf("%sVARIANT", pre[i]);
		json_object_set_new(b->meta_args, k1, json_string(plat));
		json_object_set_new(b->meta_args, k2, json_string("linux"));
		json_object_set_new(b->meta_args, k3, json_string(arch));
		json_object_set_new(b->meta_args, k4, json_string(variant ? variant : ""));
	}
}

static int plan(struct build *b, error **err)
{
	b->st = lfs_xcalloc(b->df->n, sizeof(*b->st));
	platform_args(b);
	for (size_t i = 0; i < b->df->n; i++) {
		const struct df_instr *in = &b->df->instrs[i];
		if (in->kind == DF_FROM) {
			if (b->nst)
				b->st[b->nst - 1].end = i;
			if (plan_stage(b, i, err) < 0)
				return -1;
		} else if (b->nst == 0 && in->kind == DF_ARG) {
			if (plan_meta_arg(b, in, err) < 0)
				return -1;
		}
		if (b->nst && (in->kind == DF_FROM || is_file_step(in->kind)))
			b->st[b->nst - 1].nsteps++;
	}
	b->st[b->nst - 1].end = b->df->n;
	return 0;
}

/* A stage this one depends on: its FROM, or a COPY --from naming a stage. */
static int dep_of(struct build *b, struct stage *st, const char *name, const struct df_instr *in,
		  error **err)
{
	struct stage *d = bld_stage_find(b, name);
	if (!d)
		return 0; /* an image */
	if (d->index >= st->index) {
		cleanup_free char *where = bld_where(b, in);
		return error_make(err, 0,
				  "%s%s: stage '%s' is not defined before stage '%s' (a stage can "
				  "only use earlier stages: reorder them or fix the cycle)",
				  where, in->text, name, st->name ? st->name : "");
	}
	if (!d->needed) {
		d->needed = 1;
		return 1;
	}
	return 0;
}

static int stage_deps(struct build *b, struct stage *st, error **err)
{
	int more = 0;
	for (size_t i = st->first; i < st->end; i++) {
		const struct df_instr *in = &b->df->instrs[i];
		cleanup_free char *name = NULL;
		if (in->kind == DF_FROM) {
			char **w;
			size_t n;
			if (from_words(b, in, &w, &n, err) < 0)
				return -1;
			name = lfs_xstrdup(w[0]);
			df_strv_free(w);
		} else if ((in->kind == DF_COPY) && df_flag_get(in, "from")) {
			const char *v = df_flag_get(in, "from")->value;
			if (df_expand_word(v ? v : "", b->df->escape, bld_meta_lookup, b, &name,
					   err) < 0)
				return -1;
		}
		if (!name)
			continue;
		int r = dep_of(b, st, name, in, err);
		if (r < 0)
			return -1;
		more |= r;
	}
	return more;
}

static int mark_needed(struct build *b, error **err)
{
	struct stage *target = &b->st[b->nst - 1];
	if (b->o->target) {
		target = NULL;
		for (size_t i = 0; i < b->nst; i++)
			if (b->st[i].name && !strcasecmp(b->st[i].name, b->o->target))
				target = &b->st[i];
		if (!target)
			return error_make(err, 0, "target stage '%s' could not be found in %s",
					  b->o->target, b->df_name);
	}
	b->target = target;
	target->needed = 1;
	int more;
	do { /* to a fixed point: dependencies of dependencies */
		more = 0;
		for (size_t i = b->nst; i-- > 0;) {
			if (!b->st[i].needed)
				continue;
			int r = stage_deps(b, &b->st[i], err);
			if (r < 0)
				return -1;
			more |= r;
		}
	} while (more);
	return 0;
}

/* ---- FROM ------------------------------------------------------------------------------ */

static int from_image(struct build *b, struct scope *sc, const char *ref, const struct df_instr *in,
		      error **err)
{
	struct store_image *img = NULL;
	if (store_image_resolve(b->s, ref, &img, err) < 0) {
		error_free(*err);
		*err = NULL;
		cleanup_free char *where = bld_where(b, in);
		return error_make(err, 0,
				  "%s%s: image '%s' is not in the store: get it with 'layerfs "
				  "pull %s' or 'layerfs load', or make a local base image ('make "
				  "base-images' for busybox:latest, 'make base-debian' for "
				  "debian:bookworm and node:18)",
				  where, in->text, ref, ref);
	}
	struct bld_img *bi = sc->img;
	bi->config = json_deep_copy(img->config);
	json_object_del(bi->config, "rootfs");
	bi->nlayers = img->nlayers;
	bi->layers = lfs_xcalloc(img->nlayers + 1, sizeof(*bi->layers));
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *l = &img->layers[i];
		store_layer_init(b->s, &bi->layers[i], l->digest, l->diff_id, l->media_type,
				 l->size);
	}
	memset(bi->key, '0', 64);
	bi->key[64] = '\0';
	cleanup_free char *m = lfs_xasprintf("FROM %s", img->config_digest);
	bld_key_extend(bi->key, m);
	store_image_free(img);
	return 0;
}

static void from_scratch(struct scope *sc)
{
	sc->img->config = imgcfg_new();
	memset(sc->img->key, '0', 64);
	sc->img->key[64] = '\0';
	bld_key_extend(sc->img->key, "FROM scratch");
}

/* ONBUILD triggers of the base run right after FROM, then are dropped. */
static int run_onbuild(struct scope *sc, error **err)
{
	json_t *inner = imgcfg_inner(sc->img->config);
	json_t *ob = json_incref(json_object_get(inner, "OnBuild"));
	json_object_del(inner, "OnBuild");
	size_t i;
	json_t *t;
	int ret = 0;
	json_array_foreach(ob, i, t)
	{
		struct df_instr *in = NULL;
		ret = json_is_string(t)
			  ? df_parse_line(sc->b->df_name, json_string_value(t), sc->b->df->escape,
					  &in, err)
			  : error_make(err, 0, "the base image's OnBuild holds a non-string");
		if (ret == 0 &&
		    (in->kind == DF_FROM || in->kind == DF_ONBUILD || in->kind == DF_MAINTAINER)) {
			ret = error_make(err, 0, "'%s' cannot be an ONBUILD trigger", in->text);
			df_instr_free(in);
		} else if (ret == 0) {
			ret = bld_exec(sc, in, err);
			df_instr_free(in);
		}
		if (ret < 0) {
			error_wrap(err, "ONBUILD trigger of the base image");
			break;
		}
	}
	json_decref(ob);
	return ret;
}

static int stage_from(struct build *b, struct scope *sc, error **err)
{
	const struct df_instr *in = &b->df->instrs[sc->st->first];
	char **w;
	size_t n;
	if (from_words(b, in, &w, &n, err) < 0)
		return -1;
	cleanup_free char *ref = lfs_xstrdup(w[0]);
	df_strv_free(w);
	cleanup_free char *name = bld_step_name(sc, ++sc->step, in->text);
	int id = bld_progress_start(b->prog, name);
	struct stage *base = bld_stage_find(b, ref);
	int ret = 0;
	if (base && base->index < sc->st->index)
		bld_img_copy(sc->img, &base->img);
	else if (!strcasecmp(ref, "scratch"))
		from_scratch(sc);
	else
		ret = from_image(b, sc, ref, in, err);
	if (ret < 0) {
		bld_progress_error(b->prog, id, (*err)->msg);
		return -1;
	}
	bld_progress_done(b->prog, id);
	return run_onbuild(sc, err);
}

static int build_stage(struct build *b, struct stage *st, error **err)
{
	struct scope sc = {b, st, &st->img, json_object(), 0, 0};
	int ret = stage_from(b, &sc, err);
	for (size_t i = st->first + 1; i < st->end && ret == 0; i++)
		ret = bld_exec(&sc, &b->df->instrs[i], err);
	json_decref(sc.args);
	st->built = ret == 0;
	return ret;
}

/* ---- export ------------------------------------------------------------------------------ */

static int apply_labels(struct build *b, json_t *config, error **err)
{
	json_t *inner = imgcfg_inner(config);
	for (size_t i = 0; i < b->o->nlabels; i++) {
		const char *kv = b->o->labels[i];
		const char *eq = strchr(kv, '='); /* checked by parse_args */
		json_t *labels = json_object_get(inner, "Labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(inner, "Labels", labels);
		}
		cleanup_free char *k = lfs_xstrndup(kv, (size_t)(eq - kv));
		json_object_set_new(labels, k, json_string(eq + 1));
	}
	return 0;
}

static int stage_layers(struct build *b, const struct bld_img *img, store_staged_layer **l,
			error **err)
{
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *sl = &img->layers[i];
		if (store_layer_stage_present(b->s, sl->digest, sl->media_type, sl->diff_id, &l[i],
					      err) < 0)
			return -1;
	}
	return 0;
}

static int export_image(struct build *b, struct bld_img *img, error **err)
{
	int id = bld_progress_start(b->prog, "exporting to image");
	store_staged_layer **l = lfs_xcalloc(img->nlayers + 1, sizeof(*l));
	cleanup_free char *image_id = NULL;
	int ret = apply_labels(b, img->config, err);
	if (ret == 0)
		ret = stage_layers(b, img, l, err);
	if (ret == 0)
		ret = store_image_commit(b->s, b->o->ntags ? b->o->tags[0] : NULL, img->config, l,
					 img->nlayers, &image_id, err);
	for (size_t i = 0; i < img->nlayers; i++)
		store_staged_layer_free(l[i]);
	free(l);
	for (size_t i = 1; ret == 0 && i < b->o->ntags; i++)
		ret = store_tag(b->s, b->o->tags[0], b->o->tags[i], err);
	if (ret < 0) {
		bld_progress_error(b->prog, id, (*err)->msg);
		return -1;
	}
	bld_progress_note(b->prog, id, "writing image %s done", image_id);
	for (size_t i = 0; i < b->o->ntags; i++) {
		cleanup_free char *n = store_normalize_ref(b->o->tags[i]);
		bld_progress_note(b->prog, id, "naming to %s done", n);
	}
	bld_progress_done(b->prog, id);
	if (b->o->quiet)
		printf("%s\n", image_id);
	if (b->o->iidfile) {
		FILE *f = fopen(b->o->iidfile, "we");
		if (!f || fputs(image_id, f) < 0 || fclose(f) != 0)
			return error_make(err, errno, "--iidfile %s", b->o->iidfile);
	}
	return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

static int read_dockerfile(struct build *b, error **err)
{
	const struct build_opts *o = b->o;
	cleanup_free char *path =
	    o->file ? lfs_xstrdup(o->file) : lfs_xasprintf("%s/Dockerfile", o->context);
	b->df_name = lfs_xstrdup(o->file ? o->file : "Dockerfile");
	lfs_buf text = LFS_BUF_INIT;
	cleanup_fd int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
	if (fd < 0)
		return error_make(err, errno, "cannot read the Dockerfile %s%s", path,
				  o->file ? "" : " (use -f FILE to name another one)");
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		lfs_buf_add(&text, buf, (size_t)n);
	int ret = n < 0 ? error_make(err, errno, "reading %s", path)
			: df_parse(b->df_name, text.data, text.len, &b->df, err);
	lfs_buf_release(&text);
	if (ret == 0 && ign_load(o->context, strcmp(path, "-") ? path : NULL, &b->ignore, err) < 0)
		ret = -1;
	return ret;
}

static int build_args(struct build *b, error **err)
{
	for (size_t i = 0; i < b->o->nbuild_args; i++) {
		const char *a = b->o->build_args[i];
		const char *eq = strchr(a, '=');
		cleanup_free char *k = eq ? lfs_xstrndup(a, (size_t)(eq - a)) : lfs_xstrdup(a);
		const char *v = eq ? eq + 1 : getenv(k);
		if (!*k)
			return error_usage(err, "--build-arg %s: use KEY=VALUE", a);
		if (v)
			json_object_set_new(b->build_args, k, json_string(v));
	}
	return 0;
}

static void warn_unused_args(struct build *b)
{
	const char *k;
	json_t *v;
	lfs_buf list = LFS_BUF_INIT;
	json_object_foreach(b->build_args, k, v)
	{
		if (json_object_get(b->used_args, k))
			continue;
		int proxy = !strncasecmp(k, "http_proxy", 10) ||
			    !strncasecmp(k, "https_proxy", 11) || !strncasecmp(k, "ftp_proxy", 9) ||
			    !strncasecmp(k, "no_proxy", 8) || !strncasecmp(k, "all_proxy", 9);
		if (!proxy)
			lfs_buf_addf(&list, "%s%s", list.len ? " " : "", k);
	}
	if (list.len && !b->o->quiet)
		fprintf(stderr, "[Warning] One or more build-args [%s] were not consumed\n",
			list.data);
	lfs_buf_release(&list);
}

static int run_build(struct build *b, error **err)
{
	int id = bld_progress_start(b->prog, "[internal] load build definition");
	int ret = read_dockerfile(b, err);
	if (ret == 0)
		ret = build_args(b, err);
	if (ret == 0)
		ret = plan(b, err);
	if (ret == 0)
		ret = mark_needed(b, err);
	if (ret < 0) {
		bld_progress_error(b->prog, id, (*err)->msg);
		return -1;
	}
	bld_progress_done(b->prog, id);
	if (store_scratch_dir(b->s, "build", &b->scratch, err) < 0)
		return -1;
	for (size_t i = 0; i <= b->target->index && ret == 0; i++)
		if (b->st[i].needed)
			ret = build_stage(b, &b->st[i], err);
	if (ret == 0 && b->ctx) {
		error *e = NULL; /* the stat cache is only a speed-up */
		ctx_save_cache(b->ctx, &e);
		error_free(e);
	}
	if (ret == 0)
		ret = export_image(b, &b->target->img, err);
	if (ret == 0)
		warn_unused_args(b);
	return ret;
}

static void build_release(struct build *b)
{
	if (b->scratch)
		bld_rm_tree(b->scratch);
	free(b->scratch);
	for (size_t i = 0; i < b->nst; i++) {
		free(b->st[i].name);
		bld_img_release(&b->st[i].img);
	}
	free(b->st);
	ctx_free(b->ctx);
	ign_free(b->ignore);
	df_file_free(b->df);
	free(b->df_name);
	json_decref(b->meta_args);
	json_decref(b->build_args);
	json_decref(b->used_args);
	store_free(b->s);
}

int cmd_build(int argc, char **argv, error **err)
{
	struct build_opts o = {0};
	int ret = parse_args(argc, argv, &o, err);
	struct build b = {0};
	b.o = &o;
	b.meta_args = json_object();
	b.build_args = json_object();
	b.used_args = json_object();
	if (ret == 0)
		ret = imgcfg_epoch(&b.epoch, err);
	if (ret == 0)
		ret = store_open(&b.s, err);
	if (ret == 0) {
		b.prog = bld_progress_new(o.progress, stderr);
		ret = run_build(&b, err);
		bld_progress_free(b.prog, ret == 0);
	}
	build_release(&b);
	free(o.tags);
	free(o.build_args);
	free(o.labels);
	return ret == 1 ? 0 : ret;
}
