/* layerfs import — create an image from a root filesystem tarball, like
 * `docker import`: the tar becomes one uncompressed layer. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "imgcfg.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs import [OPTIONS] ROOTFS.tar[.gz] NAME[:TAG]\n"
    "\n"
    "Create an image from a root filesystem tarball (plain, gzip or zstd; '-' reads\n"
    "stdin).  The tar is stored as one uncompressed OCI layer.  Prints the\n"
    "image ID.\n"
    "\n"
    "Options:\n"
    "  -c, --change INSTR   apply a Dockerfile instruction to the image config:\n"
    "                       CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR\n"
    "                       (repeatable), e.g. -c 'ENV PATH=/bin' -c 'CMD [\"sh\"]'\n"
    "  -m, --message MSG    set the history comment of the image\n"
    "  -h, --help           show this help\n";


/* ---- Dockerfile-style words -------------------------------------------- */

static void words_free(char **w)
{
	for (char **p = w; p && *p; p++)
		free(*p);
	free(w);
}

static void words_freep(char ***w)
{
	words_free(*w);
}
#define cleanup_words __attribute__((cleanup(words_freep)))

/* Splits s at blanks, honouring "..." (with \ escapes) and '...' quotes. */
static int split_words(const char *s, char ***out, error **err)
{
	char **w = lfs_xcalloc(1, sizeof(*w));
	size_t n = 0;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		lfs_buf b = LFS_BUF_INIT;
		char q = 0;
		for (; *s && (q || !isspace((unsigned char)*s)); s++) {
			if (q == '\'' && *s == '\'') {
				q = 0;
			} else if (q == '"' && *s == '"') {
				q = 0;
			} else if (!q && (*s == '"' || *s == '\'')) {
				q = *s;
			} else if (*s == '\\' && q != '\'' && s[1]) {
				lfs_buf_addch(&b, *++s);
			} else {
				lfs_buf_addch(&b, *s);
			}
		}
		if (q) {
			lfs_buf_release(&b);
			words_free(w);
			return error_usage(err, "unterminated %c quote in '%s'", q, s);
		}
		w = lfs_xrealloc(w, (n + 2) * sizeof(*w));
		w[n++] = lfs_buf_detach(&b, NULL);
		w[n] = NULL;
	}
	*out = w;
	return 0;
}

static json_t *obj_child(json_t *o, const char *key, bool array)
{
	json_t *c = json_object_get(o, key);
	if (!c) {
		c = array ? json_array() : json_object();
		json_object_set_new(o, key, c);
	}
	return c;
}

/* CMD/ENTRYPOINT: the JSON (exec) form, else the shell form. */
static int change_exec(json_t *cfg, const char *key, const char *arg, error **err)
{
	if (*arg == '[') {
		json_t *a = json_loads(arg, 0, NULL);
		bool ok = json_is_array(a);
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v) ok = ok && json_is_string(v);
		if (ok) {
			json_object_set_new(cfg, key, a);
			return 0;
		}
		json_decref(a);
	}
	if (!*arg)
		return error_usage(err, "%s needs a command", key);
	json_object_set_new(cfg, key, json_pack("[s,s,s]", "/bin/sh", "-c", arg));
	return 0;
}

static void env_set(json_t *cfg, const char *k, size_t klen, const char *v)
{
	json_t *env = obj_child(cfg, "Env", true);
	char *kv = lfs_xasprintf("%.*s=%s", (int)klen, k, v);
	size_t i;
	json_t *e;
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		if (s && !strncmp(s, k, klen) && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			free(kv);
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
	free(kv);
}

/* ENV k=v ... or the legacy ENV k v; LABEL k=v ... */
static int change_kv(json_t *cfg, bool env, const char *arg, error **err)
{
	const char *what = env ? "ENV" : "LABEL";
	cleanup_words char **w = NULL;
	if (split_words(arg, &w, err) < 0)
		return -1;
	if (!w[0])
		return error_usage(err, "%s needs KEY=VALUE", what);
	if (env && !strchr(w[0], '=')) {
		const char *rest = arg + strspn(arg, " \t");
		rest += strcspn(rest, " \t");
		rest += strspn(rest, " \t");
		env_set(cfg, w[0], strlen(w[0]), rest);
		return 0;
	}
	for (char **p = w; *p; p++) {
		const char *eq = strchr(*p, '=');
		if (!eq || eq == *p)
			return error_usage(err, "%s: '%s' is not KEY=VALUE", what, *p);
		if (env) {
			env_set(cfg, *p, (size_t)(eq - *p), eq + 1);
		} else {
			cleanup_free char *k = lfs_xstrndup(*p, (size_t)(eq - *p));
			json_object_set_new(obj_child(cfg, "Labels", false), k,
					    json_string(eq + 1));
		}
	}
	return 0;
}

static bool port_ok(const char *p, size_t n)
{
	if (!n || n > 5)
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static int change_expose(json_t *cfg, const char *arg, error **err)
{
	cleanup_words char **w = NULL;
	if (split_words(arg, &w, err) < 0)
		return -1;
	if (!w[0])
		return error_usage(err, "EXPOSE needs a port, e.g. EXPOSE 80/tcp");
	for (char **p = w; *p; p++) {
		const char *slash = strchr(*p, '/');
		size_t n = slash ? (size_t)(slash - *p) : strlen(*p);
		const char *proto = slash ? slash + 1 : "tcp";
		if (!port_ok(*p, n) || (strcasecmp(proto, "tcp") && strcasecmp(proto, "udp") &&
					strcasecmp(proto, "sctp")))
			return error_usage(err, "EXPOSE: '%s' is not PORT[/tcp|udp|sctp]", *p);
		cleanup_free char *key = lfs_xasprintf("%.*s/%s", (int)n, *p, proto);
		for (char *c = key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		json_object_set_new(obj_child(cfg, "ExposedPorts", false), key, json_object());
	}
	return 0;
}

static int change_word(json_t *cfg, const char *key, const char *arg, error **err)
{
	cleanup_words char **w = NULL;
	if (split_words(arg, &w, err) < 0)
		return -1;
	if (!w[0] || w[1])
		return error_usage(err, "%s needs exactly one value", key);
	if (!strcmp(key, "WorkingDir") && w[0][0] != '/') {
		cleanup_free char *abs = lfs_xasprintf("/%s", w[0]);
		json_object_set_new(cfg, key, json_string(abs));
	} else {
		json_object_set_new(cfg, key, json_string(w[0]));
	}
	return 0;
}

/* Applies one -c instruction to the config's "config" object. */
static int apply_change(json_t *cfg, const char *change, error **err)
{
	const char *s = change + strspn(change, " \t");
	size_t kw = strcspn(s, " \t");
	const char *arg = s + kw + strspn(s + kw, " \t");
	cleanup_free char *key = lfs_xstrndup(s, kw);
	int ret;
	if (!strcasecmp(key, "CMD"))
		ret = change_exec(cfg, "Cmd", arg, err);
	else if (!strcasecmp(key, "ENTRYPOINT"))
		ret = change_exec(cfg, "Entrypoint", arg, err);
	else if (!strcasecmp(key, "ENV"))
		ret = change_kv(cfg, true, arg, err);
	else if (!strcasecmp(key, "LABEL"))
		ret = change_kv(cfg, false, arg, err);
	else if (!strcasecmp(key, "EXPOSE"))
		ret = change_expose(cfg, arg, err);
	else if (!strcasecmp(key, "USER"))
		ret = change_word(cfg, "User", arg, err);
	else if (!strcasecmp(key, "WORKDIR"))
		ret = change_word(cfg, "WorkingDir", arg, err);
	else
		return error_usage(err,
				   "-c '%s': unsupported instruction '%s'; use CMD, ENTRYPOINT, "
				   "ENV, EXPOSE, LABEL, USER or WORKDIR",
				   change, key);
	if (ret < 0)
		return error_wrap(err, "-c '%s'", change);
	return 0;
}

static int build_config(char **changes, size_t nchanges, const char *msg, const char *src,
			json_t **out, error **err)
{
	int64_t epoch;
	if (imgcfg_epoch(&epoch, err) < 0)
		return -1;
	cleanup_free char *created = imgcfg_time(epoch);
	cleanup_json json_t *cfg = imgcfg_new();
	json_object_set_new(cfg, "created", json_string(created));
	json_t *inner = imgcfg_inner(cfg);
	for (size_t i = 0; i < nchanges; i++)
		if (apply_change(inner, changes[i], err) < 0)
			return -1;
	cleanup_free char *by = lfs_xasprintf("layerfs import %s", src);
	json_t *h = json_pack("{s:s, s:s}", "created", created, "created_by", by);
	if (msg)
		json_object_set_new(h, "comment", json_string(msg));
	json_array_append_new(json_object_get(cfg, "history"), h);
	*out = steal_pointer(&cfg);
	return 0;
}

static int do_import(const char *src, const char *ref, json_t *config, error **err)
{
	store *s = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	cleanup_fd int fd = -1;
	if (strcmp(src, "-")) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			store_free(s);
			return error_make(err, errno, "%s", src);
		}
	}
	store_staged_layer *l = NULL;
	cleanup_free char *id = NULL;
	int ret = store_layer_stage(s, fd >= 0 ? fd : 0, src, &l, err);
	if (ret == 0)
		ret = store_image_commit(s, ref, config, &l, 1, &id, err);
	store_staged_layer_free(l);
	store_free(s);
	if (ret < 0)
		return -1;
	puts(id);
	return 0;
}

int cmd_import(int argc, char **argv, error **err)
{
	static const struct option opts[] = {{"change", required_argument, NULL, 'c'},
					     {"message", required_argument, NULL, 'm'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	cleanup_free char **changes = lfs_xcalloc((size_t)argc, sizeof(*changes));
	size_t nchanges = 0;
	const char *msg = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			changes[nchanges++] = optarg;
			break;
		case 'm':
			msg = optarg;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 0;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs import --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return error_usage(err, "expected ROOTFS.tar[.gz] and NAME[:TAG]; run 'layerfs "
					"import --help'");
	const char *src = argv[optind], *ref = argv[optind + 1];
	if (store_ref_check(ref, err) < 0) {
		(*err)->status = 2;
		return -1;
	}
	cleanup_json json_t *config = NULL;
	if (build_config(changes, nchanges, msg, src, &config, err) < 0)
		return -1;
	return do_import(src, ref, config, err); /* its errors name src */
}
