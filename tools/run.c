/* layerfs run — create a container from an image and run its command. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "imgcfg.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "\n"
    "Creates a container from IMAGE and runs its command (the image's\n"
    "Entrypoint and Cmd, as docker resolves them: --entrypoint replaces the\n"
    "Entrypoint and drops Cmd; COMMAND replaces Cmd) rootless in new user,\n"
    "mount, PID, UTS and IPC namespaces, on the image's layers with a\n"
    "writable layer of its own that outlives the run (layerfs start runs it\n"
    "again, layerfs commit makes it an image).  In the foreground the exit\n"
    "status is the command's; its output also goes to the container's log.\n"
    "\n"
    "Each VOLUME of the image that no -v covers gets an anonymous volume: a\n"
    "directory in the container's record, filled with the image's files at that\n"
    "path on the first start, kept across stop/start, left out of commit and\n"
    "diff.  layerfs has no volume store: rm (and --rm) removes a container's\n"
    "anonymous volumes with it (docker keeps them unless rm -v).\n"
    "\n"
    "Options:\n"
    "  -d, --detach            run in the background, print the container ID\n"
    "  -i, --interactive       pass standard input to the command\n"
    "  -t, --tty               allocate a pseudo-terminal\n"
    "      --rm                remove the container when it exits\n"
    "      --name NAME         name the container (default: a generated one)\n"
    "  -e, --env K=V           set an environment variable (K alone: our value)\n"
    "      --env-file FILE     read K=V lines from FILE\n"
    "  -w, --workdir DIR       working directory inside the container\n"
    "  -u, --user USER[:GROUP] user to run as (name or id)\n"
    "  -v, --volume SRC:DST[:ro]  bind a host path into the container; a DST that\n"
    "                          is one of the image's VOLUMEs gets it instead of\n"
    "                          the anonymous volume\n"
    "  -p, --publish [IP:]HOST:CTR[/udp]  publish a port (private network)\n"
    "  -P, --publish-all       publish every port the image exposes (EXPOSE) that\n"
    "                          -p does not, each on a free host port (see ps)\n"
    "      --network MODE      private (default when slirp4netns and /dev/net/tun are\n"
    "                          usable, else host), host, or none\n"
    "      --hostname NAME     the container's hostname (default: its short ID)\n"
    "      --entrypoint CMD    replace the image's Entrypoint\n"
    "      --sig-proxy=BOOL    in the foreground without -t, pass the signals we get\n"
    "                          (INT, TERM, HUP, QUIT, USR1, USR2) to the command\n"
    "                          (default true); false: the first INT, TERM or HUP\n"
    "                          stops the container (exit status 130)\n"
    "  -h, --help              show this help\n";

struct run_args {
	int detach, interactive, tty, rm, sig_proxy, publish_all;
	const char *name, *workdir, *user, *network, *hostname, *entrypoint;
	json_t *env_opts; /* -e and --env-file, in order */
	json_t *volumes, *ports;
	const char *image;
	char **cmd;
	int ncmd;
};

/* ------------------------------------------------------------ options */

static int add_env_file(struct run_args *a, const char *path, error **err)
{
	cleanup_file FILE *f = fopen(path, "re");
	if (!f)
		return error_make(err, errno, "--env-file '%s'", path);
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		const char *p = line + strspn(line, " \t");
		if (*p && *p != '#')
			json_array_append_new(a->env_opts, json_string(p));
	}
	return 0;
}

static int parse_volume(struct run_args *a, const char *arg, error **err)
{
	cleanup_free char *s = lfs_xstrdup(arg);
	char *dst = strchr(s, ':'), *mode = NULL;
	if (dst) {
		*dst++ = '\0';
		mode = strchr(dst, ':');
		if (mode)
			*mode++ = '\0';
	}
	if (!dst || dst[0] != '/' || !*s || (mode && strcmp(mode, "ro") && strcmp(mode, "rw")))
		return error_usage(err, "-v '%s': expected SRC:DST[:ro|rw] with DST absolute", arg);
	cleanup_free char *src = realpath(s, NULL);
	if (!src)
		return error_make(err, errno, "-v '%s': source '%s'", arg, s);
	json_array_append_new(a->volumes, json_pack("{s:s, s:s, s:b}", "src", src, "dst", dst,
						    "readonly", mode && !strcmp(mode, "ro")));
	return 0;
}

static int parse_port_num(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	*out = (unsigned)v;
	return *s && !*end && v > 0 && v < 65536 ? 0 : -1;
}

static int parse_port(struct run_args *a, const char *arg, error **err)
{
	cleanup_free char *s = lfs_xstrdup(arg);
	const char *proto = "tcp";
	char *slash = strchr(s, '/');
	if (slash) {
		*slash = '\0';
		proto = slash + 1;
	}
	char *last = strrchr(s, ':');
	unsigned hp, cp;
	if (!last || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
		return error_usage(err, "-p '%s': expected [IP:]HOST:CTR[/udp]", arg);
	*last = '\0';
	char *host = strrchr(s, ':'), *ip = NULL;
	if (host) {
		*host++ = '\0';
		ip = s;
	} else {
		host = s;
	}
	if (parse_port_num(host, &hp) < 0 || parse_port_num(last + 1, &cp) < 0)
		return error_usage(err, "-p '%s': ports are numbers from 1 to 65535", arg);
	json_t *p = json_pack("{s:I, s:I, s:s}", "host_port", (json_int_t)hp, "ctr_port",
			      (json_int_t)cp, "proto", proto);
	if (ip && *ip)
		json_object_set_new(p, "host_ip", json_string(ip));
	json_array_append_new(a->ports, p);
	return 0;
}

enum {
	OPT_RM = 256,
	OPT_NAME,
	OPT_ENV_FILE,
	OPT_NETWORK,
	OPT_HOSTNAME,
	OPT_ENTRYPOINT,
	OPT_SIG_PROXY,
};

/* --sig-proxy, --sig-proxy=true|false (docker's boolean flag syntax). */
static int parse_bool(const char *opt, const char *arg, int *out, error **err)
{
	if (!arg || !strcmp(arg, "true") || !strcmp(arg, "1"))
		*out = 1;
	else if (!strcmp(arg, "false") || !strcmp(arg, "0"))
		*out = 0;
	else
		return error_usage(err, "--%s=%s: use true or false", opt, arg);
	return 0;
}

static int parse_opt(struct run_args *a, int c, error **err)
{
	switch (c) {
	case 'd':
		a->detach = 1;
		break;
	case 'i':
		a->interactive = 1;
		break;
	case 't':
		a->tty = 1;
		break;
	case OPT_RM:
		a->rm = 1;
		break;
	case OPT_NAME:
		a->name = optarg;
		break;
	case 'e':
		json_array_append_new(a->env_opts, json_string(optarg));
		break;
	case OPT_ENV_FILE:
		return add_env_file(a, optarg, err);
	case 'w':
		a->workdir = optarg;
		break;
	case 'u':
		a->user = optarg;
		break;
	case 'v':
		return parse_volume(a, optarg, err);
	case 'p':
		return parse_port(a, optarg, err);
	case 'P':
		a->publish_all = 1;
		break;
	case OPT_NETWORK:
		a->network = optarg;
		break;
	case OPT_HOSTNAME:
		a->hostname = optarg;
		break;
	case OPT_ENTRYPOINT:
		a->entrypoint = optarg;
		break;
	case OPT_SIG_PROXY:
		return parse_bool("sig-proxy", optarg, &a->sig_proxy, err);
	default:
		return error_usage(err, "bad option; see 'layerfs run --help'");
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct run_args *a, error **err)
{
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"rm", no_argument, NULL, OPT_RM},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"env", required_argument, NULL, 'e'},
	    {"env-file", required_argument, NULL, OPT_ENV_FILE},
	    {"workdir", required_argument, NULL, 'w'},
	    {"user", required_argument, NULL, 'u'},
	    {"volume", required_argument, NULL, 'v'},
	    {"publish", required_argument, NULL, 'p'},
	    {"publish-all", no_argument, NULL, 'P'},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"net", required_argument, NULL, OPT_NETWORK},
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
	    {"sig-proxy", optional_argument, NULL, OPT_SIG_PROXY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+dite:w:u:v:p:Ph", opts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		if (c == '?')
			return error_usage(err, "bad option '%s'; see 'layerfs run --help'",
					   argv[optind - 1]);
		if (parse_opt(a, c, err) < 0)
			return -1;
	}
	if (optind >= argc)
		return error_usage(err, "expected IMAGE; see 'layerfs run --help'");
	a->image = argv[optind];
	a->cmd = argv + optind + 1;
	a->ncmd = argc - optind - 1;
	if (a->network && strcmp(a->network, "host") && strcmp(a->network, "none") &&
	    strcmp(a->network, "private"))
		return error_usage(err, "--network '%s': use host, none or private", a->network);
	if ((json_array_size(a->ports) || a->publish_all) && a->network &&
	    strcmp(a->network, "private"))
		return error_usage(err, "-p and -P need --network private (the default with them)");
	return 0;
}

/* ------------------------------------------------------------ the config */

/* docker: --entrypoint replaces Entrypoint and drops the image's Cmd;
 * arguments replace Cmd. */
static json_t *resolve_argv(const struct run_args *a, json_t *inner)
{
	json_t *argv = json_array();
	if (a->entrypoint) {
		if (*a->entrypoint)
			json_array_append_new(argv, json_string(a->entrypoint));
	} else {
		json_array_extend(argv, json_object_get(inner, "Entrypoint"));
	}
	if (a->ncmd > 0) {
		for (int i = 0; i < a->ncmd; i++)
			json_array_append_new(argv, json_string(a->cmd[i]));
	} else if (!a->entrypoint) {
		json_array_extend(argv, json_object_get(inner, "Cmd"));
	}
	return argv;
}

/* Sets K=V in env, replacing an earlier K. */
static void env_put(json_t *env, const char *kv)
{
	size_t klen = strcspn(kv, "="), i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && !strncmp(s, kv, klen) && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static json_t *resolve_env(const struct run_args *a, json_t *inner)
{
	json_t *env = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(inner, "Env"), i, v) if (json_is_string(v))
	    env_put(env, json_string_value(v));
	int has_path = 0;
	json_array_foreach(env, i, v) has_path |= !strncmp(json_string_value(v), "PATH=", 5);
	if (!has_path)
		env_put(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	json_array_foreach(a->env_opts, i, v)
	{
		const char *s = json_string_value(v);
		if (strchr(s, '=')) {
			env_put(env, s);
		} else if (getenv(s)) {
			cleanup_free char *kv = lfs_xasprintf("%s=%s", s, getenv(s));
			env_put(env, kv);
		}
	}
	return env;
}

static json_t *layers_json(const struct store_image *img)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct store_layer *l = &img->layers[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I}", "digest", l->digest,
						     "diff_id", l->diff_id, "media_type",
						     l->media_type, "size", (json_int_t)l->size));
	}
	return arr;
}

static const char *str_or(const char *a, json_t *inner, const char *key)
{
	const char *v = json_string_value(json_object_get(inner, key));
	return a ? a : v ? v : "";
}

/* docker's default is a network of the container's own: private when this
 * machine can give one (slirp4netns installed, /dev/net/tun usable), else
 * the host's; `ps` and `inspect` say which was used. */
static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	cleanup_free char *dirs = lfs_xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *p = lfs_xasprintf("%s/%s", d, prog);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static const char *default_network(void)
{
	if (access("/dev/net/tun", R_OK | W_OK) == 0 && in_path("slirp4netns"))
		return "private";
	return "host";
}

/* A port the kernel considers free now (bound to port 0, then released),
 * as docker's -P picks one; 0 when there is none. */
static unsigned free_port(int udp)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	cleanup_fd int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

static int published(json_t *ports, unsigned ctr_port, const char *proto)
{
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		if (json_integer_value(json_object_get(p, "ctr_port")) == (json_int_t)ctr_port &&
		    !strcmp(json_string_value(json_object_get(p, "proto")), proto))
			return 1;
	}
	return 0;
}

/* -P: the image's ExposedPorts ("80/tcp", "53/udp"; sctp cannot be
 * proxied) that -p left out, each on a free host port. */
static int publish_all(const struct run_args *a, json_t *inner, error **err)
{
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(inner, "ExposedPorts"), key, v)
	{
		unsigned cp, hp;
		const char *slash = strchr(key, '/'), *proto = slash ? slash + 1 : "tcp";
		cleanup_free char *num =
		    lfs_xstrndup(key, slash ? (size_t)(slash - key) : strlen(key));
		if (parse_port_num(num, &cp) < 0 ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp")) ||
		    published(a->ports, cp, proto))
			continue;
		if (!(hp = free_port(!strcmp(proto, "udp"))))
			return error_make(err, errno, "-P: no free host port for %s", key);
		json_array_append_new(a->ports,
				      json_pack("{s:I, s:I, s:s}", "host_port", (json_int_t)hp,
						"ctr_port", (json_int_t)cp, "proto", proto));
	}
	return 0;
}

/* ------------------------------------------------------------ volumes */

/* p without repeated or trailing slashes; NULL when it is not absolute or
 * has a "." or ".." component.  Caller frees. */
static char *clean_path(const char *p)
{
	if (p[0] != '/')
		return NULL;
	cleanup_free char *copy = lfs_xstrdup(p);
	cleanup_buf lfs_buf out = LFS_BUF_INIT;
	for (char *save, *n = strtok_r(copy, "/", &save); n; n = strtok_r(NULL, "/", &save)) {
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			return NULL;
		lfs_buf_addf(&out, "/%s", n);
	}
	return out.len ? lfs_buf_detach(&out, NULL) : lfs_xstrdup("/");
}

static int bound(json_t *vols, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v)
	{
		cleanup_free char *d = clean_path(json_string_value(json_object_get(v, "dst")));
		if (d && !strcmp(d, path))
			return 1;
	}
	return 0;
}

/* The volume's name: the sha256 of its path, in hex. */
static json_t *volume_name(const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	EVP_Digest(path, strlen(path), md, &ml, EVP_sha256(), NULL);
	for (unsigned i = 0; i < ml; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return json_string(hex);
}

/* The image's Volumes that no -v covers, as [{"dst", "name"}]: each an
 * anonymous volume in the record's volumes/NAME/_data. */
static json_t *image_volumes(const struct run_args *a, json_t *inner, error **err)
{
	json_t *out = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(inner, "Volumes"), key, v)
	{
		cleanup_free char *path = clean_path(key);
		if (!path || !strcmp(path, "/")) {
			json_decref(out);
			error_fail(err, EINVAL,
				   "image '%s' has VOLUME '%s', which is not an absolute path "
				   "below '/': rebuild it with a path such as /data",
				   a->image, key);
			return NULL;
		}
		if (!bound(a->volumes, path))
			json_array_append_new(
			    out, json_pack("{s:s, s:o}", "dst", path, "name", volume_name(path)));
	}
	return out;
}

static json_t *make_config(const struct run_args *a, const struct store_image *img, error **err)
{
	json_t *inner = json_object_get(img->config, "config");
	json_t *argv = resolve_argv(a, inner);
	if (json_array_size(argv) == 0) {
		json_decref(argv);
		error_usage(err,
			    "no command: image '%s' has no Cmd or Entrypoint; give one after "
			    "the image name",
			    a->image);
		return NULL;
	}
	if (a->publish_all && publish_all(a, inner, err) < 0) {
		json_decref(argv);
		return NULL;
	}
	json_t *anon = image_volumes(a, inner, err);
	if (!anon) {
		json_decref(argv);
		return NULL;
	}
	const char *net = a->network ? a->network : default_network();
	const char *stop = json_string_value(json_object_get(inner, "StopSignal"));
	json_t *cfg = json_pack(
	    "{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:O, s:O, s:o, s:b, s:b, s:s, s:b}",
	    "image", a->image, "image_id", img->config_digest, "layers", layers_json(img), "argv",
	    argv, "env", resolve_env(a, inner), "cwd", str_or(a->workdir, inner, "WorkingDir"),
	    "user", str_or(a->user, inner, "User"), "hostname", a->hostname ? a->hostname : "",
	    "network", net, "ports", a->ports, "volumes", a->volumes, "image_volumes", anon, "tty",
	    a->tty, "interactive", a->interactive, "stop_signal", stop ? stop : "SIGTERM",
	    "auto_remove", a->rm);
	return cfg;
}

/* ------------------------------------------------------------ running */

static int run_container(store *s, const struct run_args *a, struct ctn *c, error **err)
{
	if (a->detach) {
		if (ctn_detach(s, c, err) < 0)
			return -1;
		puts(c->id);
		return 0;
	}
	int status = 0;
	int ret = ctn_execute(s, c, CTN_ATTACH | (a->sig_proxy ? CTN_SIG_PROXY : 0), &status, err);
	if (a->rm) {
		error *ignored = NULL;
		ctn_refresh(c, &ignored);
		ctn_remove(s, c, &ignored);
		error_free(ignored);
	}
	if (ret < 0 && (*err)->code == EINTR)
		(*err)->status = 130; /* as a shell reports a SIGINT */
	if (ret < 0)
		return ret;
	return status ? error_quiet(err, status) : 0;
}

static int run(struct run_args *a, error **err)
{
	store *s = NULL;
	struct store_image *img = NULL;
	struct ctn *c = NULL;
	int ret = store_open(&s, err);
	if (ret >= 0)
		ret = store_image_resolve(s, a->image, &img, err);
	json_t *cfg = ret >= 0 ? make_config(a, img, err) : NULL;
	if (ret >= 0 && !cfg)
		ret = -1;
	if (ret >= 0)
		ret = ctn_create(s, cfg, a->name, &c, err);
	if (ret >= 0)
		ret = run_container(s, a, c, err);
	json_decref(cfg);
	ctn_free(c);
	store_image_free(img);
	store_free(s);
	return ret;
}

int cmd_run(int argc, char **argv, error **err)
{
	struct run_args a = {.sig_proxy = 1,
			     .env_opts = json_array(),
			     .volumes = json_array(),
			     .ports = json_array()};
	int r = parse_args(argc, argv, &a, err);
	if (r == 1)
		cmd_print_usage(usage);
	if (r == 0)
		r = run(&a, err);
	json_decref(a.env_opts);
	json_decref(a.volumes);
	json_decref(a.ports);
	return r < 0 ? -1 : r == 1 ? 0 : r;
}
