/* bld_step — one Dockerfile instruction applied to the stage's image.
 *
 * Metadata instructions (ENV, LABEL, CMD, ...) change the config and the
 * cache key and add an empty_layer history entry.  RUN, COPY, ADD and a
 * WORKDIR that must create its directory make a layer: looked up in the
 * build cache by key first (a hit costs no run and no copy), else made in
 * a fresh upper directory over the chain, committed, and recorded in the
 * cache before the next instruction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bld_build.h"
#include "commit.h"
#include "ctr.h"
#include "fetch.h"
#include "imgcfg.h"
#include "passwd.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASSWD_MAX   (4u << 20)

static const char *const proxy_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					 "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
					 "ALL_PROXY",  "all_proxy",  NULL};

const char *bld_lookup(void *scope, const char *name)
{
	struct scope *sc = scope;
	const char *v = imgcfg_env_get(sc->img->config, name);
	if (v)
		return v;
	return json_string_value(json_object_get(sc->args, name));
}

static int fail_at(struct scope *sc, const struct df_instr *in, error **err, const char *fmt,
		   const char *detail)
{
	cleanup_free char *w = bld_where(sc->b, in);
	return error_make(err, 0, "%s%s%s%s", w, in->text, fmt, detail ? detail : "");
}

/* Adds "where: TEXT: " context to an error from below. */
static int wrap_at(struct scope *sc, const struct df_instr *in, error **err)
{
	cleanup_free char *w = bld_where(sc->b, in);
	return error_wrap(err, "%s%s", w, in->text);
}

static int expand(struct scope *sc, const char *word, char **out, error **err)
{
	return df_expand_word(word, sc->b->df->escape, bld_lookup, sc, out, err);
}

static int expand_words(struct scope *sc, const struct df_instr *in, char ***words, size_t *n,
			error **err)
{
	if (!in->json)
		return df_expand_words(in->rest, sc->b->df->escape, bld_lookup, sc, words, n, err);
	char **v = lfs_xcalloc(in->nargs + 1, sizeof(*v));
	for (size_t i = 0; i < in->nargs; i++) {
		if (expand(sc, in->args[i], &v[i], err) < 0) {
			df_strv_free(v);
			return -1;
		}
	}
	*words = v;
	*n = in->nargs;
	return 0;
}

static json_t *inner(struct scope *sc)
{
	return imgcfg_inner(sc->img->config);
}

/* config.config.<field> as an object (Labels, ExposedPorts, Volumes),
 * created when missing. */
static json_t *inner_object(struct scope *sc, const char *field)
{
	json_t *o = json_object_get(inner(sc), field);
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(inner(sc), field, o);
	}
	return o;
}

/* ---- metadata instructions ----------------------------------------------------- */

/* "ENV k=v k2=v2": the history text of ENV and LABEL shows the pairs as
 * they were set, after substitution, as BuildKit records them. */
static char *kv_history(const char *kind, const struct df_kv *kv, size_t n)
{
	lfs_buf b = LFS_BUF_INIT;
	lfs_buf_addstr(&b, kind);
	for (size_t i = 0; i < n; i++)
		lfs_buf_addf(&b, " %s=%s", kv[i].key, kv[i].value ? kv[i].value : "");
	return lfs_buf_detach(&b, NULL);
}

static int do_env(struct scope *sc, const struct df_instr *in, char **by, error **err)
{
	struct df_kv *kv;
	size_t n;
	if (df_parse_kv(sc->b->df, in, bld_lookup, sc, &kv, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		imgcfg_env_set(sc->img->config, kv[i].key, kv[i].value ? kv[i].value : "");
	*by = kv_history("ENV", kv, n);
	df_kv_free(kv, n);
	return 0;
}

static int do_label(struct scope *sc, const struct df_instr *in, char **by, error **err)
{
	struct df_kv *kv;
	size_t n;
	if (df_parse_kv(sc->b->df, in, bld_lookup, sc, &kv, &n, err) < 0)
		return -1;
	json_t *labels = inner_object(sc, "Labels");
	for (size_t i = 0; i < n; i++)
		json_object_set_new(labels, kv[i].key, json_string(kv[i].value ? kv[i].value : ""));
	*by = kv_history("LABEL", kv, n);
	df_kv_free(kv, n);
	return 0;
}

/* The value an ARG gets: --build-arg, else its default, else the global ARG. */
static json_t *arg_value(struct scope *sc, const struct df_kv *kv)
{
	json_t *given = json_object_get(sc->b->build_args, kv->key);
	if (given) {
		json_object_set_new(sc->b->used_args, kv->key, json_true());
		return json_incref(given);
	}
	if (kv->value)
		return json_string(kv->value);
	json_t *meta = json_object_get(sc->b->meta_args, kv->key);
	return meta ? json_incref(meta) : json_null();
}

static int do_arg(struct scope *sc, const struct df_instr *in, error **err)
{
	struct df_kv *kv;
	size_t n;
	if (df_parse_kv(sc->b->df, in, bld_lookup, sc, &kv, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		json_object_set_new(sc->args, kv[i].key, arg_value(sc, &kv[i]));
	df_kv_free(kv, n);
	return 0;
}

static int do_expose(struct scope *sc, const struct df_instr *in, error **err)
{
	char **w;
	size_t n;
	if (expand_words(sc, in, &w, &n, err) < 0)
		return -1;
	json_t *ports = inner_object(sc, "ExposedPorts");
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *proto = strchr(w[i], '/');
		const char *p = proto ? proto + 1 : "tcp";
		if (proto)
			*proto = '\0';
		size_t digits = strspn(w[i], "0123456789-");
		if (!*w[i] || w[i][digits] ||
		    (strcmp(p, "tcp") && strcmp(p, "udp") && strcmp(p, "sctp"))) {
			ret = fail_at(sc, in, err, ": invalid port ", w[i]);
			break;
		}
		cleanup_free char *key = lfs_xasprintf("%s/%s", w[i], p);
		json_object_set_new(ports, key, json_object());
	}
	df_strv_free(w);
	return ret;
}

/* CMD/ENTRYPOINT/HEALTHCHECK command: exec form as is, shell form through SHELL. */
static json_t *command_of(struct scope *sc, const struct df_instr *in, const char *shell_text)
{
	if (in->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < in->nargs; i++)
			json_array_append_new(a, json_string(in->args[i]));
		return a;
	}
	json_t *shell = json_object_get(inner(sc), "Shell");
	json_t *a = json_is_array(shell) && json_array_size(shell)
			? json_deep_copy(shell)
			: json_pack("[s, s]", "/bin/sh", "-c");
	json_array_append_new(a, json_string(shell_text));
	return a;
}

static int do_cmd(struct scope *sc, const struct df_instr *in, const char *field)
{
	json_object_set_new(inner(sc), field, command_of(sc, in, in->rest));
	if (!strcmp(field, "Cmd"))
		sc->cmd_set = 1;
	else if (!sc->cmd_set) /* an inherited CMD does not survive a new ENTRYPOINT */
		json_object_set_new(inner(sc), "Cmd", json_null());
	return 0;
}

static int do_word(struct scope *sc, const struct df_instr *in, const char *field, error **err)
{
	cleanup_free char *v = NULL;
	if (expand(sc, in->rest, &v, err) < 0)
		return -1;
	if (!*v)
		return fail_at(sc, in, err, ": needs an argument", NULL);
	json_object_set_new(inner(sc), field, json_string(v));
	return 0;
}

static int do_volume(struct scope *sc, const struct df_instr *in, error **err)
{
	char **w;
	size_t n;
	if (expand_words(sc, in, &w, &n, err) < 0)
		return -1;
	json_t *vols = inner_object(sc, "Volumes");
	for (size_t i = 0; i < n; i++)
		if (*w[i])
			json_object_set_new(vols, w[i], json_object());
	df_strv_free(w);
	return n ? 0 : fail_at(sc, in, err, ": needs at least one path", NULL);
}

static int do_shell(struct scope *sc, const struct df_instr *in, error **err)
{
	if (!in->json || in->nargs == 0)
		return fail_at(sc, in, err,
			       ": SHELL takes a JSON array, e.g. SHELL [\"/bin/bash\", \"-c\"]",
			       NULL);
	json_object_set_new(inner(sc), "Shell", command_of(sc, in, NULL));
	return 0;
}

/* Go duration ("30s", "1m30s", "500ms") in nanoseconds; -1 when malformed. */
static int64_t go_duration(const char *s)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
	    {"ns", 1},		 {"us", 1000},	       {"µs", 1000},	      {"ms", 1000000},
	    {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	int64_t total = 0;
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s)
			return -1;
		size_t best = 0, bi = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (!strncmp(end, units[i].unit, l) && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return -1;
		total += (int64_t)(v * (double)units[bi].ns);
		s = end + best;
	}
	return total;
}

static int health_flag(struct scope *sc, const struct df_instr *in, json_t *hc, error **err)
{
	static const char *const durs[][2] = {{"interval", "Interval"},
					      {"timeout", "Timeout"},
					      {"start-period", "StartPeriod"},
					      {"start-interval", "StartInterval"}};
	for (size_t i = 0; i < in->nflags; i++) {
		const struct df_flag *f = &in->flags[i];
		cleanup_free char *v = NULL;
		if (expand(sc, f->value ? f->value : "", &v, err) < 0)
			return -1;
		int done = 0;
		for (size_t k = 0; k < 4 && !done; k++) {
			if (strcmp(f->name, durs[k][0]))
				continue;
			int64_t ns = go_duration(v);
			if (ns < 0)
				return fail_at(sc, in, err, ": bad duration ", v);
			json_object_set_new(hc, durs[k][1], json_integer(ns));
			done = 1;
		}
		if (!done && !strcmp(f->name, "retries")) {
			char *end;
			long r = strtol(v, &end, 10);
			if (*end || r < 0)
				return fail_at(sc, in, err, ": bad --retries ", v);
			json_object_set_new(hc, "Retries", json_integer(r));
		} else if (!done) {
			return fail_at(sc, in, err, ": unknown flag --", f->name);
		}
	}
	return 0;
}

static int do_healthcheck(struct scope *sc, const struct df_instr *in, error **err)
{
	const char *r = in->rest;
	if (!strcasecmp(r, "NONE")) {
		json_object_set_new(inner(sc), "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	if (strncasecmp(r, "CMD", 3) || (r[3] && r[3] != ' ' && r[3] != '\t'))
		return fail_at(sc, in, err,
			       ": expected HEALTHCHECK NONE or HEALTHCHECK [OPTIONS] CMD ...",
			       NULL);
	r += 3;
	r += strspn(r, " \t");
	json_t *hc = json_object();
	json_t *cmd = json_loads(r, 0, NULL);
	if (json_is_array(cmd) && json_array_size(cmd)) {
		json_array_insert_new(cmd, 0, json_string("CMD"));
		json_object_set_new(hc, "Test", cmd);
	} else {
		json_decref(cmd);
		json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", r));
	}
	if (health_flag(sc, in, hc, err) < 0) {
		json_decref(hc);
		return -1;
	}
	json_object_set_new(inner(sc), "Healthcheck", hc);
	return 0;
}

static int do_onbuild(struct scope *sc, const struct df_instr *in)
{
	json_t *ob = json_object_get(inner(sc), "OnBuild");
	if (!json_is_array(ob)) {
		ob = json_array();
		json_object_set_new(inner(sc), "OnBuild", ob);
	}
	json_array_append_new(ob, json_string(in->onbuild->text));
	return 0;
}

static int do_workdir_meta(struct scope *sc, const struct df_instr *in, error **err)
{
	cleanup_free char *v = NULL;
	if (expand(sc, in->rest, &v, err) < 0)
		return -1;
	if (!*v)
		return fail_at(sc, in, err, ": needs a path", NULL);
	const char *cur = json_string_value(json_object_get(inner(sc), "WorkingDir"));
	cleanup_free char *joined =
	    v[0] == '/' ? lfs_xstrdup(v) : lfs_xasprintf("%s/%s", cur && *cur ? cur : "", v);
	/* clean: collapse "//", ".", ".." (Go's path.Clean) */
	lfs_buf b = LFS_BUF_INIT;
	char *save = NULL;
	for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			char *s = strrchr(b.data, '/');
			lfs_buf_setlen(&b, s ? (size_t)(s - b.data) : 0);
			continue;
		}
		lfs_buf_addch(&b, '/');
		lfs_buf_addstr(&b, c);
	}
	if (!b.len)
		lfs_buf_addch(&b, '/');
	json_object_set_new(inner(sc), "WorkingDir", json_string(b.data));
	lfs_buf_release(&b);
	return 0;
}

/* ---- layers: cache, scratch, commit -------------------------------------------------- */

void bld_key_extend(char key[65], const char *material)
{
	unsigned char md[32];
	unsigned int len;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, key, strlen(key));
	EVP_DigestUpdate(c, "\n", 1);
	EVP_DigestUpdate(c, material, strlen(material));
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
}

/* Appends a layer described by a cache entry to the chain. */
static int chain_add(struct scope *sc, json_t *layer, error **err)
{
	struct store_layer l;
	json_int_t size = json_integer_value(json_object_get(layer, "size"));
	if (store_layer_init(sc->b->s, &l, json_string_value(json_object_get(layer, "digest")),
			     json_string_value(json_object_get(layer, "diff_id")),
			     json_string_value(json_object_get(layer, "mediaType")),
			     size > 0 ? (uint64_t)size : 0) < 0)
		return error_make(err, EBADMSG,
				  "a build cache entry is malformed; rerun with --no-cache");
	struct bld_img *img = sc->img;
	img->layers = lfs_xrealloc(img->layers, (img->nlayers + 1) * sizeof(*img->layers));
	img->layers[img->nlayers++] = l;
	return 0;
}

/* A step's result: the layer (may be NULL) and creation time, from the
 * cache (*hit) or about to be made. */
static int cache_lookup(struct scope *sc, json_t **entry)
{
	*entry = NULL;
	if (sc->b->o->no_cache)
		return 1;
	error *e = NULL;
	int r = store_cache_get(sc->b->s, sc->img->key, entry, &e);
	error_free(e);
	return r == 0 ? 0 : 1;
}

static void apply_entry(struct scope *sc, json_t *entry, const char *by, error **err, int *ret)
{
	json_t *layer = json_object_get(entry, "layer");
	if (layer && chain_add(sc, layer, err) < 0) {
		*ret = -1;
		return;
	}
	bld_history_add(sc, json_string_value(json_object_get(entry, "created")), by,
			layer != NULL);
	*ret = 0;
}

struct commit_call {
	int ufd;
	lfs_union *lower;
	int fd;
	const struct lfs_commit_opts *o;
	const char *by;
};

static int commit_upper(void *arg, error **err)
{
	struct commit_call *c = arg;
	cleanup_free char *msg = NULL;
	int r = lfs_upper_commit(c->ufd, c->lower, c->fd, c->o, &msg);
	if (r < 0)
		return error_make(err, msg ? 0 : -r, "committing the changes of '%s': %s", c->by,
				  msg ? msg : "failed");
	return 0;
}

/* Commits the upper dir as a layer, stores it with the step's cache entry
 * and appends it to the chain. */
static int record_layer(struct scope *sc, lfs_union *lower, const char *upper, const char *work,
			const char *by, error **err)
{
	struct lfs_commit_opts o;
	lfs_commit_opts_init(&o);
	o.source_date_epoch = sc->b->epoch;
	cleanup_fd int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_fd int wfd = work ? open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	o.exclude_dirfd = wfd;
	if (ufd < 0)
		return error_make(err, errno, "preparing the layer of '%s'", by);
	/* The tar goes straight into the store's blob directory: one write,
	 * then one read that hashes and indexes it. */
	store_staged_layer *l = NULL;
	cleanup_fd int fd = -1;
	if (store_layer_open_tmp(sc->b->s, &l, &fd, err) < 0)
		return -1;
	struct commit_call cc = {ufd, lower, fd, &o, by};
	int r = ctr_as_container(commit_upper, &cc, err); /* with the RUN's ids */
	if (r == 0)
		r = store_layer_stage_tmp(l, fd, by, err);
	cleanup_free char *created = imgcfg_time(sc->b->epoch);
	cleanup_json json_t *entry = json_pack("{s:s}", "created", created);
	if (r == 0)
		r = store_cache_put(sc->b->s, sc->img->key, entry, l, err);
	store_staged_layer_free(l);
	if (r < 0)
		return -1;
	int ret;
	apply_entry(sc, entry, by, err, &ret);
	return ret;
}

/* A metadata step's cache entry only keeps its creation time, so that a
 * rebuild gives the same image ID. */
static int record_meta(struct scope *sc, const char *by, error **err)
{
	json_t *entry = NULL;
	if (cache_lookup(sc, &entry) != 0) {
		cleanup_free char *created = imgcfg_time(sc->b->epoch);
		entry = json_pack("{s:s}", "created", created);
		error *e = NULL; /* only a speed-up: a failure changes nothing else */
		store_cache_put(sc->b->s, sc->img->key, entry, NULL, &e);
		error_free(e);
	}
	bld_history_add(sc, json_string_value(json_object_get(entry, "created")), by, 0);
	json_decref(entry);
	return 0;
}

/* Upper and work directories for a step, beside the store's blobs. */
struct step_dirs {
	char *dir, *upper, *work;
};

static int dirs_make(struct scope *sc, struct step_dirs *d, error **err)
{
	d->dir = bld_scratch_new(sc->b, "step", err);
	if (!d->dir)
		return -1;
	d->upper = lfs_xasprintf("%s/upper", d->dir);
	d->work = lfs_xasprintf("%s/work", d->dir);
	if (mkdir(d->upper, 0755) < 0 || mkdir(d->work, 0700) < 0)
		return error_make(err, errno, "creating %s", d->upper);
	return 0;
}

static void dirs_release(struct step_dirs *d)
{
	if (d->dir)
		bld_rm_tree(d->dir);
	free(d->dir);
	free(d->upper);
	free(d->work);
}

/* The chain's union for a step. */
struct chain {
	lfs_layer **layers;
	size_t n;
	lfs_union *u;
};

static int chain_open(struct scope *sc, struct chain *c, error **err)
{
	return bld_img_open(sc->b, sc->img, &c->layers, &c->n, &c->u, err);
}

static void chain_close(struct chain *c)
{
	lfs_union_free(c->u);
	store_layers_free(c->layers, c->n);
	c->u = NULL;
	c->layers = NULL;
}

/* ---- RUN -------------------------------------------------------------------------------- */

/* RUN output, as ctr_run reads it, to the step's progress lines. */
struct pump {
	bld_progress *p;
	int id;
};

static void on_output(void *arg, const char *data, size_t len)
{
	struct pump *pu = arg;
	bld_progress_log(pu->p, pu->id, data, len);
}

/* The command a RUN runs: exec form as is; shell form (with heredocs)
 * through the stage's SHELL. */
static json_t *run_argv(struct scope *sc, const struct df_instr *in)
{
	if (in->json || in->nheredocs == 0)
		return command_of(sc, in, in->rest);
	lfs_buf script = LFS_BUF_INIT;
	const struct df_heredoc *h = &in->heredocs[0];
	size_t wl = strlen(h->word);
	const char *r = in->rest + strspn(in->rest, "<-\"'");
	int only_heredoc = in->nheredocs == 1 && in->rest[0] == '<' && !strncmp(r, h->word, wl) &&
			   r[wl + strspn(r + wl, "\"'")] == '\0';
	if (only_heredoc) {
		lfs_buf_addstr(&script, h->body); /* the body is the script */
	} else {
		lfs_buf_addf(&script, "%s\n", in->rest);
		for (size_t i = 0; i < in->nheredocs; i++)
			lfs_buf_addf(&script, "%s%s\n", in->heredocs[i].body, in->heredocs[i].word);
	}
	json_t *a = command_of(sc, in, script.data);
	lfs_buf_release(&script);
	return a;
}

/* The environment of a RUN: the image's Env, PATH by default, and the
 * ARGs in scope that ENV does not override (also proxies from --build-arg). */
static char **run_env(struct scope *sc, lfs_buf *key_args)
{
	json_t *env = json_object_get(inner(sc), "Env");
	size_t n = json_array_size(env), i;
	char **v = lfs_xcalloc(n + json_object_size(sc->args) + 12, sizeof(*v));
	size_t k = 0;
	json_t *e;
	json_array_foreach(env, i, e) v[k++] = lfs_xstrdup(json_string_value(e));
	if (!imgcfg_env_get(sc->img->config, "PATH"))
		v[k++] = lfs_xstrdup("PATH=" DEFAULT_PATH);
	const char *name;
	json_object_foreach(sc->args, name, e)
	{
		if (!json_is_string(e) || imgcfg_env_get(sc->img->config, name))
			continue;
		v[k++] = lfs_xasprintf("%s=%s", name, json_string_value(e));
		lfs_buf_addf(key_args, "%s=%s\n", name, json_string_value(e));
	}
	for (size_t p = 0; proxy_args[p]; p++) {
		json_t *val = json_object_get(sc->b->build_args, proxy_args[p]);
		if (val && !json_object_get(sc->args, proxy_args[p])) {
			v[k++] = lfs_xasprintf("%s=%s", proxy_args[p], json_string_value(val));
			json_object_set_new(sc->b->used_args, proxy_args[p], json_true());
		}
	}
	return v;
}

static char **argv_of(json_t *a)
{
	char **v = lfs_xcalloc(json_array_size(a) + 1, sizeof(*v));
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) v[i] = lfs_xstrdup(json_string_value(e));
	return v;
}

static char *argv_text(json_t *a)
{
	lfs_buf b = LFS_BUF_INIT;
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
	{
		if (i)
			lfs_buf_addch(&b, ' ');
		lfs_buf_addstr(&b, json_string_value(e));
	}
	return lfs_buf_detach(&b, NULL);
}

static int run_network(struct scope *sc, const struct df_instr *in, int *none, error **err)
{
	*none = sc->b->o->network_none;
	for (size_t i = 0; i < in->nflags; i++) {
		const struct df_flag *f = &in->flags[i];
		if (!strcmp(f->name, "network") && f->value &&
		    (!strcmp(f->value, "none") || !strcmp(f->value, "host") ||
		     !strcmp(f->value, "default")))
			*none = !strcmp(f->value, "none");
		else
			return fail_at(sc, in, err, ": unsupported flag --", f->name);
	}
	return 0;
}

static int run_exec(struct scope *sc, const struct df_instr *in, json_t *argv, char **envp,
		    int net_none, int id, error **err)
{
	struct step_dirs d = {0};
	struct chain c = {0};
	int ret = dirs_make(sc, &d, err);
	if (ret == 0)
		ret = chain_open(sc, &c, err);
	cleanup_free char *t = argv_text(argv);
	cleanup_free char *by = lfs_xasprintf("RUN %s", t);
	int pfd[2] = {-1, -1};
	if (ret == 0 && pipe2(pfd, O_CLOEXEC) < 0)
		ret = error_make(err, errno, "pipe");
	if (ret == 0) {
		char **av = argv_of(argv);
		const char *wd = json_string_value(json_object_get(inner(sc), "WorkingDir"));
		const char *user = json_string_value(json_object_get(inner(sc), "User"));
		struct ctr_spec spec = {.lower = c.u,
					.upper_dir = d.upper,
					.work_dir = d.work,
					.argv = av,
					.envp = envp,
					.cwd = wd && *wd ? wd : "/",
					.user = user && *user ? user : NULL,
					.net = net_none ? CTR_NET_NONE : CTR_NET_HOST,
					.stdin_fd = -1,
					.stdout_fd = pfd[1],
					.stderr_fd = pfd[1]};
		struct pump pu = {sc->b->prog, id};
		spec.output_fd = pfd[0];
		spec.on_output = on_output;
		spec.on_output_arg = &pu;
		int status = 0;
		ret = ctr_run(&spec, &status, err);
		close(pfd[1]);
		close(pfd[0]);
		df_strv_free(av);
		if (ret == 0 && status != 0) {
			cleanup_free char *tail = bld_progress_tail(sc->b->prog, id, 10);
			cleanup_free char *w = bld_where(sc->b, in);
			ret = error_make(err, 0,
					 "%s%s: process \"%s\" did not complete successfully: "
					 "exit code: %d%s%s",
					 w, in->text, t, status, *tail ? "\n" : "", tail);
		} else if (ret < 0) {
			wrap_at(sc, in, err);
		}
	}
	if (ret == 0)
		ret = record_layer(sc, c.u, d.upper, d.work, by, err);
	chain_close(&c);
	dirs_release(&d);
	return ret;
}

static int do_run(struct scope *sc, const struct df_instr *in, int id, error **err)
{
	int net_none;
	if (run_network(sc, in, &net_none, err) < 0)
		return -1;
	cleanup_json json_t *argv = run_argv(sc, in);
	lfs_buf key = LFS_BUF_INIT;
	char **envp = run_env(sc, &key);
	cleanup_free char *av = json_dumps(argv, JSON_COMPACT);
	lfs_buf_addf(&key, "RUN %s net=%d", av, net_none);
	bld_key_extend(sc->img->key, key.data);
	lfs_buf_release(&key);
	cleanup_free char *t = argv_text(argv);
	cleanup_free char *by = lfs_xasprintf("RUN %s", t);
	json_t *entry;
	int ret;
	if (cache_lookup(sc, &entry) == 0) {
		apply_entry(sc, entry, by, err, &ret);
		json_decref(entry);
		if (ret == 0)
			ret = 1; /* cached */
	} else {
		ret = run_exec(sc, in, argv, envp, net_none, id, err);
	}
	df_strv_free(envp);
	return ret;
}

/* ---- COPY / ADD ---------------------------------------------------------------------- */

/* The image's user database, for --chown and WORKDIR owners. */
static int resolve_owner(struct scope *sc, lfs_union *u, const char *spec, uid_t *uid, gid_t *gid,
			 error **err)
{
	cleanup_free char *pw = NULL, *gr = NULL;
	if (bld_union_read_file(u, "/etc/passwd", PASSWD_MAX, &pw, err) < 0 ||
	    bld_union_read_file(u, "/etc/group", PASSWD_MAX, &gr, err) < 0)
		return -1;
	struct passwd_ids ids;
	if (passwd_resolve(pw, gr, spec, &ids, err) < 0)
		return -1;
	free(ids.groups);
	*uid = ids.uid;
	*gid = ids.gid;
	return 0;
}

struct copy_job {
	struct bld_copy c;
	struct bld_source src;
	struct stage *from_stage;
	struct store_image *from_image;
	struct chain from; /* the --from image's union */
	char **words;
	size_t nwords;
	struct df_heredoc *heredocs;
	size_t nheredocs;
	struct bld_url *urls;
	size_t nurls;
	lfs_buf key;
};

static void copy_job_release(struct copy_job *j)
{
	chain_close(&j->from);
	store_image_free(j->from_image);
	for (size_t i = 0; i < j->c.nsrcs; i++)
		free(j->c.srcs[i]);
	free(j->c.srcs);
	free((char *)j->c.dest);
	df_strv_free(j->words);
	for (size_t i = 0; i < j->nheredocs; i++) {
		free(j->heredocs[i].word);
		free(j->heredocs[i].body);
	}
	free(j->heredocs);
	for (size_t i = 0; i < j->nurls; i++) {
		free(j->urls[i].name);
		close(j->urls[i].fd);
	}
	free(j->urls);
	lfs_buf_release(&j->key);
}

static int is_url(const char *w)
{
	return !strncmp(w, "http://", 7) || !strncmp(w, "https://", 8);
}

/* The file name a URL gives: its last path component, without the query. */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://") + 3;
	size_t end = strcspn(p, "?#");
	const char *slash = memrchr(p, '/', end);
	if (!slash)
		return lfs_xstrdup("");
	return lfs_xstrndup(slash + 1, end - (size_t)(slash + 1 - p));
}

static int fetch_one(struct scope *sc, const struct df_instr *in, struct copy_job *j,
		     const char *url, error **err)
{
	const struct df_flag *sum = df_flag_get(in, "checksum");
	int fd = open(sc->b->scratch, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_make(err, errno, "a temporary file for %s", url);
	char hex[65];
	time_t mtime;
	if (fetch_url(url, fd, (uint64_t)64 << 30, hex, &mtime, err) < 0) {
		close(fd);
		return -1;
	}
	if (sum && sum->value &&
	    strcmp(sum->value + (strncmp(sum->value, "sha256:", 7) ? 0 : 7), hex)) {
		close(fd);
		return error_make(err, 0, "%s: the download's digest is sha256:%s, not %s", url,
				  hex, sum->value);
	}
	j->urls = lfs_xrealloc(j->urls, (j->nurls + 1) * sizeof(*j->urls));
	struct bld_url *u = &j->urls[j->nurls++];
	u->name = url_name(url);
	u->fd = fd;
	u->mtime.tv_sec = mtime;
	u->mtime.tv_nsec = 0;
	if (!mtime)
		clock_gettime(CLOCK_REALTIME, &u->mtime);
	lfs_buf_addf(&j->key, "url=%s sha256=%s mtime=%lld\n", url, hex, (long long)mtime);
	return 0;
}

/* ADD's URL sources are downloaded (each build: the content decides the
 * cache) and taken out of the word list. */
static int take_urls(struct scope *sc, const struct df_instr *in, struct copy_job *j, error **err)
{
	size_t k = 0;
	for (size_t i = 0; i + 1 < j->nwords; i++) {
		if (!is_url(j->words[i])) {
			j->words[k++] = j->words[i];
			continue;
		}
		if (in->kind != DF_ADD)
			return fail_at(sc, in, err, ": COPY cannot take a URL; use ADD for ",
				       j->words[i]);
		if (fetch_one(sc, in, j, j->words[i], err) < 0)
			return wrap_at(sc, in, err);
		if (!*j->urls[j->nurls - 1].name)
			return fail_at(sc, in, err, ": cannot tell a file name from the URL ",
				       j->words[i]);
		free(j->words[i]);
	}
	j->words[k++] = j->words[j->nwords - 1];
	j->words[k] = NULL;
	j->nwords = k;
	return 0;
}

static int copy_from(struct scope *sc, const struct df_instr *in, struct copy_job *j,
		     const char *from, error **err)
{
	j->from_stage = bld_stage_find(sc->b, from);
	if (j->from_stage == sc->st)
		return fail_at(sc, in, err, ": a stage cannot copy from itself", NULL);
	if (j->from_stage) {
		if (!j->from_stage->built)
			return fail_at(sc, in, err, ": stage is not built before this one: ", from);
		lfs_buf_addf(&j->key, "from=%s\n", j->from_stage->img.key);
		return bld_img_open(sc->b, &j->from_stage->img, &j->from.layers, &j->from.n,
				    &j->from.u, err);
	}
	if (store_image_resolve(sc->b->s, from, &j->from_image, err) < 0) {
		error_free(*err);
		*err = NULL;
		cleanup_free char *w = bld_where(sc->b, in);
		return error_make(err, 0,
				  "%s%s: --from=%s is neither a stage of this Dockerfile nor an "
				  "image in the store (layerfs images lists them; layerfs pull "
				  "or layerfs load adds one)",
				  w, in->text, from);
	}
	j->from.n = j->from_image->nlayers;
	lfs_buf_addf(&j->key, "from=%s\n", j->from_image->config_digest);
	if (store_image_open_layers(sc->b->s, j->from_image, &j->from.layers, err) < 0)
		return -1;
	return lfs_union_new(j->from.layers, j->from.n, &j->from.u) < 0
		   ? error_make(err, ENOMEM, "opening %s", from)
		   : 0;
}

static int copy_sources_ctx(struct scope *sc, struct copy_job *j, size_t nsrc, error **err)
{
	if (!sc->b->ctx) {
		cleanup_free char *cache =
		    lfs_xasprintf("%s/cache/context-stat", store_root(sc->b->s));
		if (ctx_open(sc->b->o->context, sc->b->ignore, cache, &sc->b->ctx, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < nsrc; i++) {
		char **m;
		size_t n;
		if (ctx_glob(sc->b->ctx, j->words[i], &m, &n, err) < 0)
			return -1;
		j->c.srcs = lfs_xrealloc(j->c.srcs, (j->c.nsrcs + n) * sizeof(char *));
		for (size_t k = 0; k < n; k++)
			j->c.srcs[j->c.nsrcs++] = lfs_xstrdup(m[k]);
		ctx_strv_free(m);
	}
	cleanup_free char *sum = NULL;
	if (ctx_checksum(sc->b->ctx, j->c.srcs, j->c.nsrcs, &sum, err) < 0)
		return -1;
	lfs_buf_addf(&j->key, "context=%s\n", sum);
	return 0;
}

static int copy_sources_union(struct scope *sc, struct copy_job *j, size_t nsrc, error **err)
{
	for (size_t i = 0; i < nsrc; i++) {
		char **m;
		size_t n;
		if (bld_union_glob(j->from.u, j->words[i], &m, &n, err) < 0)
			return error_wrap(err, "%s", j->src.what);
		j->c.srcs = lfs_xrealloc(j->c.srcs, (j->c.nsrcs + n) * sizeof(char *));
		for (size_t k = 0; k < n; k++) {
			j->c.srcs[j->c.nsrcs++] = m[k];
			lfs_buf_addf(&j->key, "src=%s\n", m[k]);
		}
		free(m);
	}
	return 0;
}

/* Splits words into heredoc references ("<<EOF") and real sources. */
/* A heredoc body with substitution, as a shell expands an unquoted
 * heredoc: $v and ${...} expand, \$ is a literal $, and quotes and other
 * backslashes are plain text.  The word lexer would take quotes as quoting,
 * so they (and lone backslashes) are escaped before it sees them. */
static int expand_heredoc(struct scope *sc, const char *body, char **out, error **err)
{
	lfs_buf b = LFS_BUF_INIT;
	for (const char *p = body; *p; p++) {
		if (*p == '\\' && p[1] == '$') {
			lfs_buf_add(&b, p++, 2);
			continue;
		}
		if (*p == '"' || *p == '\'' || *p == '\\')
			lfs_buf_addch(&b, '\\');
		lfs_buf_addch(&b, *p);
	}
	int r = df_expand_word(b.data, '\\', bld_lookup, sc, out, err);
	lfs_buf_release(&b);
	return r;
}

/* Splits words into heredoc references ("<<EOF") and real sources;
 * *nsrc: how many real sources. */
static int take_heredocs(struct scope *sc, const struct df_instr *in, struct copy_job *j,
			 size_t *nsrc, error **err)
{
	size_t k = 0;
	int ret = 0;
	for (size_t i = 0; i + 1 < j->nwords; i++) {
		const struct df_heredoc *h = NULL;
		for (size_t x = 0; !strncmp(j->words[i], "<<", 2) && x < in->nheredocs && !h; x++)
			if (strstr(j->words[i], in->heredocs[x].word))
				h = &in->heredocs[x];
		char *body = NULL;
		if (h && h->expand && ret == 0 && expand_heredoc(sc, h->body, &body, err) < 0)
			ret = error_wrap(err, "heredoc %s", h->word);
		if (!h || ret < 0) { /* a source (or kept for release after an error) */
			j->words[k++] = j->words[i];
			continue;
		}
		j->heredocs = lfs_xrealloc(j->heredocs, (j->nheredocs + 1) * sizeof(*j->heredocs));
		struct df_heredoc *d = &j->heredocs[j->nheredocs++];
		d->word = lfs_xstrdup(h->word);
		d->expand = 0;
		d->body = body ? body : lfs_xstrdup(h->body);
		lfs_buf_addf(&j->key, "heredoc=%s\n%s\n", d->word, d->body);
		free(j->words[i]);
	}
	j->words[k++] = j->words[j->nwords - 1];
	j->words[k] = NULL;
	j->nwords = k;
	*nsrc = k - 1;
	return ret;
}

static int copy_dest(struct scope *sc, const struct df_instr *in, struct copy_job *j, size_t nsrc,
		     error **err)
{
	const char *d = j->words[j->nwords - 1];
	const char *wd = json_string_value(json_object_get(inner(sc), "WorkingDir"));
	int slash = d[strlen(d) - 1] == '/' || !strcmp(d, ".") || !strcmp(d, "..");
	char *abs = d[0] == '/' ? lfs_xstrdup(d) : lfs_xasprintf("%s/%s", wd && *wd ? wd : "", d);
	size_t l = strlen(abs);
	while (l > 1 && abs[l - 1] == '/')
		abs[--l] = '\0';
	j->c.dest = abs;
	j->c.dest_dir = slash;
	if (nsrc + j->nheredocs + j->nurls > 1 || j->c.nsrcs > 1) {
		if (!slash)
			return fail_at(sc, in, err,
				       ": with more than one source file, the destination must "
				       "be a directory and end with a /",
				       NULL);
		j->c.dest_dir = 1;
	}
	lfs_buf_addf(&j->key, "dest=%s dir=%d\n", abs, j->c.dest_dir);
	return 0;
}

static int copy_flags(struct scope *sc, const struct df_instr *in, struct copy_job *j,
		      const char **chown, error **err)
{
	j->c.chmod = (mode_t)-1;
	*chown = NULL;
	const struct df_flag *f;
	static const char *const copy_ok[] = {"from", "chown", "chmod", "link", NULL};
	static const char *const add_ok[] = {"chown", "chmod", "link", "checksum", NULL};
	if (df_flags_check(sc->b->df, in, in->kind == DF_ADD ? add_ok : copy_ok, err) < 0)
		return -1;
	if ((f = df_flag_get(in, "chmod")) && f->value) {
		char *end;
		unsigned long m = strtoul(f->value, &end, 8);
		if (!*f->value || *end || m > 07777)
			return fail_at(sc, in, err, ": --chmod takes octal bits, not ", f->value);
		j->c.chmod = (mode_t)m;
		lfs_buf_addf(&j->key, "chmod=%lo\n", m);
	}
	if ((f = df_flag_get(in, "chown")) && f->value)
		*chown = f->value;
	return 0;
}

static int copy_prepare(struct scope *sc, const struct df_instr *in, struct copy_job *j,
			lfs_union *lower, error **err)
{
	const char *chown_raw;
	if (copy_flags(sc, in, j, &chown_raw, err) < 0)
		return -1;
	if (expand_words(sc, in, &j->words, &j->nwords, err) < 0)
		return -1;
	if (j->nwords < 2)
		return fail_at(sc, in, err, ": needs a source and a destination", NULL);
	if (take_urls(sc, in, j, err) < 0)
		return -1;
	size_t nsrc = 0;
	if (take_heredocs(sc, in, j, &nsrc, err) < 0)
		return wrap_at(sc, in, err);
	const struct df_flag *from = df_flag_get(in, "from");
	cleanup_free char *from_v = NULL;
	if (from && expand(sc, from->value ? from->value : "", &from_v, err) < 0)
		return -1;
	j->c.src = &j->src;
	j->c.add = in->kind == DF_ADD;
	lfs_buf_addf(&j->key, "%s\n", in->kind == DF_ADD ? "ADD" : "COPY");
	int r;
	if (from_v) {
		j->src.what = from_v;
		r = copy_from(sc, in, j, from_v, err);
		j->src.u = j->from.u;
		j->src.what = "the --from image";
		if (r == 0)
			r = copy_sources_union(sc, j, nsrc, err);
	} else {
		j->src.what = "the build context";
		r = nsrc ? copy_sources_ctx(sc, j, nsrc, err) : 0;
		j->src.ctx = sc->b->ctx;
	}
	if (r < 0)
		return wrap_at(sc, in, err);
	if (copy_dest(sc, in, j, nsrc, err) < 0)
		return -1;
	j->c.keep_owner = from_v && !chown_raw;
	if (chown_raw) {
		cleanup_free char *spec = NULL;
		if (expand(sc, chown_raw, &spec, err) < 0 ||
		    resolve_owner(sc, lower, spec, &j->c.uid, &j->c.gid, err) < 0)
			return wrap_at(sc, in, err);
		lfs_buf_addf(&j->key, "owner=%u:%u\n", (unsigned)j->c.uid, (unsigned)j->c.gid);
	}
	j->c.heredocs = j->heredocs;
	j->c.nheredocs = j->nheredocs;
	j->c.urls = j->urls;
	j->c.nurls = j->nurls;
	return 0;
}

static int copy_exec(struct scope *sc, const struct df_instr *in, struct copy_job *j,
		     struct chain *c, error **err)
{
	struct step_dirs d = {0};
	lfs_ovl *o = NULL;
	int ret = dirs_make(sc, &d, err);
	if (ret == 0) {
		char *msg = NULL;
		ret = lfs_ovl_new(c->u, d.upper, d.work, 1, &o, &msg);
		if (ret < 0)
			error_make(err, msg ? 0 : -ret, "%s", msg ? msg : "opening the overlay");
		free(msg);
	}
	if (ret == 0)
		ret = bld_copy_run(o, &j->c, err);
	if (ret < 0)
		wrap_at(sc, in, err);
	lfs_ovl_free(o);
	if (ret == 0)
		ret = record_layer(sc, c->u, d.upper, d.work, in->text, err);
	dirs_release(&d);
	return ret;
}

static int do_copy(struct scope *sc, const struct df_instr *in, error **err)
{
	struct copy_job j = {0};
	lfs_buf_init(&j.key, 0);
	struct chain c = {0};
	int ret = chain_open(sc, &c, err);
	if (ret == 0)
		ret = copy_prepare(sc, in, &j, c.u, err);
	if (ret == 0) {
		bld_key_extend(sc->img->key, j.key.data);
		json_t *entry;
		if (cache_lookup(sc, &entry) == 0) {
			apply_entry(sc, entry, in->text, err, &ret);
			json_decref(entry);
			if (ret == 0)
				ret = 1;
		} else {
			ret = copy_exec(sc, in, &j, &c, err);
		}
	}
	chain_close(&c);
	copy_job_release(&j);
	return ret;
}

/* ---- WORKDIR ------------------------------------------------------------------------- */

static int workdir_make(struct scope *sc, const char *wd, struct chain *c, error **err)
{
	uid_t uid = 0;
	gid_t gid = 0;
	const char *user = json_string_value(json_object_get(inner(sc), "User"));
	if (user && *user && resolve_owner(sc, c->u, user, &uid, &gid, err) < 0)
		return -1;
	struct step_dirs d = {0};
	lfs_ovl *o = NULL;
	int ret = dirs_make(sc, &d, err);
	if (ret == 0) {
		char *msg = NULL;
		ret = lfs_ovl_new(c->u, d.upper, d.work, 1, &o, &msg);
		if (ret < 0)
			error_make(err, msg ? 0 : -ret, "%s", msg ? msg : "opening the overlay");
		free(msg);
	}
	if (ret == 0) {
		uint64_t id;
		ret = bld_ovl_mkdir_p(o, wd, uid, gid, &id, err);
	}
	lfs_ovl_free(o);
	cleanup_free char *by = lfs_xasprintf("WORKDIR %s", wd);
	if (ret == 0)
		ret = record_layer(sc, c->u, d.upper, d.work, by, err);
	dirs_release(&d);
	return ret;
}

static int do_workdir(struct scope *sc, const struct df_instr *in, error **err)
{
	if (do_workdir_meta(sc, in, err) < 0)
		return -1;
	const char *wd = json_string_value(json_object_get(inner(sc), "WorkingDir"));
	cleanup_free char *by = lfs_xasprintf("WORKDIR %s", wd);
	bld_key_extend(sc->img->key, by);
	struct chain c = {0};
	if (chain_open(sc, &c, err) < 0)
		return -1;
	uint64_t id;
	struct stat st;
	int exists = lfs_union_resolve(c.u, wd, 1, &id) == 0 &&
		     lfs_union_getattr(c.u, id, &st) == 0 && S_ISDIR(st.st_mode);
	int ret;
	json_t *entry;
	if (exists) {
		ret = record_meta(sc, by, err);
	} else if (cache_lookup(sc, &entry) == 0) {
		apply_entry(sc, entry, by, err, &ret);
		json_decref(entry);
		if (ret == 0)
			ret = 1;
	} else {
		ret = workdir_make(sc, wd, &c, err);
	}
	chain_close(&c);
	return ret < 0 ? wrap_at(sc, in, err) : ret;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static int meta_step(struct scope *sc, const struct df_instr *in, error **err)
{
	int r = 0;
	cleanup_free char *by = NULL; /* history text when not the line as written */
	switch (in->kind) {
	case DF_ENV:
		r = do_env(sc, in, &by, err);
		break;
	case DF_LABEL:
		r = do_label(sc, in, &by, err);
		break;
	case DF_EXPOSE:
		r = do_expose(sc, in, err);
		break;
	case DF_CMD:
		r = do_cmd(sc, in, "Cmd");
		break;
	case DF_ENTRYPOINT:
		r = do_cmd(sc, in, "Entrypoint");
		break;
	case DF_USER:
		r = do_word(sc, in, "User", err);
		break;
	case DF_STOPSIGNAL:
		r = do_word(sc, in, "StopSignal", err);
		break;
	case DF_VOLUME:
		r = do_volume(sc, in, err);
		break;
	case DF_SHELL:
		r = do_shell(sc, in, err);
		break;
	case DF_HEALTHCHECK:
		r = do_healthcheck(sc, in, err);
		break;
	case DF_ONBUILD:
		r = do_onbuild(sc, in);
		break;
	case DF_MAINTAINER:
		json_object_set_new(sc->img->config, "author", json_string(in->rest));
		break;
	default:
		return error_make(err, EINVAL, "BUG: %s is not a metadata step", in->text);
	}
	if (r < 0)
		return (*err && strncmp((*err)->msg, sc->b->df_name, strlen(sc->b->df_name)))
			   ? wrap_at(sc, in, err)
			   : -1;
	/* the key sees the resulting config, so equal effects share the cache */
	cleanup_free char *cfg = json_dumps(inner(sc), JSON_COMPACT | JSON_SORT_KEYS);
	cleanup_free char *m = lfs_xasprintf("%s %s", df_kind_name(in->kind), cfg);
	bld_key_extend(sc->img->key, m);
	return record_meta(sc, by ? by : in->text, err);
}

int bld_exec(struct scope *sc, const struct df_instr *in, error **err)
{
	if (in->kind == DF_ARG)
		return do_arg(sc, in, err);
	if (in->kind != DF_RUN && in->kind != DF_COPY && in->kind != DF_ADD &&
	    in->kind != DF_WORKDIR)
		return meta_step(sc, in, err);
	cleanup_free char *name = bld_step_name(sc, ++sc->step, in->text);
	int id = bld_progress_start(sc->b->prog, name);
	int r;
	if (in->kind == DF_RUN)
		r = do_run(sc, in, id, err);
	else if (in->kind == DF_WORKDIR)
		r = do_workdir(sc, in, err);
	else
		r = do_copy(sc, in, err);
	if (r < 0)
		bld_progress_error(sc->b->prog, id, (*err)->msg);
	else if (r == 1)
		bld_progress_cached(sc->b->prog, id);
	else
		bld_progress_done(sc->b->prog, id);
	return r < 0 ? r : 0;
}
