/* layerfs exec — run another command in a running container.
 *
 * Not in the command table yet: it needs ctr_exec() (ctr.h), which the
 * runner provides; add X(exec, ...) to LAYERFS_COMMANDS once it links. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "ctr.h"
#include "util.h"

int cmd_exec(int argc, char **argv, error **err);

static const char usage[] =
    "Usage: layerfs exec [OPTIONS] CONTAINER COMMAND [ARG...]\n"
    "\n"
    "Runs COMMAND inside a running container: in its namespaces and root,\n"
    "with its environment (plus -e), as its user unless -u, in its working\n"
    "directory unless -w.  The exit status is the command's.\n"
    "\n"
    "Options:\n"
    "  -i, --interactive       pass standard input to the command\n"
    "  -t, --tty               allocate a pseudo-terminal\n"
    "  -e, --env K=V           set an environment variable\n"
    "  -w, --workdir DIR       working directory\n"
    "  -u, --user USER[:GROUP] user to run as\n"
    "  -h, --help              show this help\n";

struct exec_args {
	int interactive, tty;
	const char *workdir, *user;
	char **env; /* -e values */
	size_t nenv;
};

/* The container's env, then -e (replacing the same name). */
static char **make_env(const struct ctn *c, const struct exec_args *a)
{
	json_t *env = json_object_get(c->config, "env");
	size_t n = json_array_size(env), k = 0;
	char **v = lfs_xcalloc(n + a->nenv + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[k++] = lfs_xstrdup(json_string_value(json_array_get(env, i)));
	for (size_t j = 0; j < a->nenv; j++) {
		size_t klen = strcspn(a->env[j], "="), i;
		for (i = 0; i < k; i++)
			if (!strncmp(v[i], a->env[j], klen) && v[i][klen] == '=')
				break;
		if (i < k)
			free(v[i]);
		v[i] = lfs_xstrdup(a->env[j]);
		k += i == k;
	}
	return v;
}

static int exec_in(struct ctn *c, const struct exec_args *a, char **cmd, error **err)
{
	pid_t init = ctn_init_pid(c);
	if (!init)
		return error_fail(err, ESRCH, "container '%s' is not running; start it first",
				  ctn_name(c));
	const char *cwd = json_string_value(json_object_get(c->config, "cwd"));
	const char *user = json_string_value(json_object_get(c->config, "user"));
	char **envp = make_env(c, a);
	struct ctn_io *io = NULL;
	int fds[3], status = 0;
	int ret = ctn_io_open(&io, a->tty, a->interactive, fds, err);
	if (ret >= 0) {
		struct ctr_exec_spec sp = {
		    .argv = cmd,
		    .envp = envp,
		    .cwd = a->workdir	 ? a->workdir
			   : cwd && *cwd ? cwd
					 : "/",
		    .user = a->user	    ? a->user
			    : user && *user ? user
					    : NULL,
		    .stdin_fd = fds[0],
		    .stdout_fd = fds[1],
		    .stderr_fd = fds[2],
		    .tty = a->tty,
		    .poller = ctn_io_poller(io),
		};
		ret = ctr_exec(init, &sp, &status, err);
		ctn_io_close(io);
	}
	for (char **p = envp; *p; p++)
		free(*p);
	free(envp);
	if (ret >= 0 && status)
		ret = error_quiet(err, status);
	return ret;
}

static int parse_args(int argc, char **argv, struct exec_args *a, error **err)
{
	static const struct option opts[] = {
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"env", required_argument, NULL, 'e'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+ite:w:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a->interactive = 1;
			break;
		case 't':
			a->tty = 1;
			break;
		case 'e':
			a->env[a->nenv++] = optarg;
			break;
		case 'w':
			a->workdir = optarg;
			break;
		case 'u':
			a->user = optarg;
			break;
		case 'h':
			return 1;
		default:
			return error_usage(err, "bad option '%s'; see 'layerfs exec --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind < 2)
		return error_usage(err, "expected CONTAINER COMMAND; see 'layerfs exec --help'");
	return 0;
}

int cmd_exec(int argc, char **argv, error **err)
{
	cleanup_free char **env = lfs_xcalloc((size_t)argc + 1, sizeof(*env));
	struct exec_args a = {.env = env};
	int r = parse_args(argc, argv, &a, err);
	if (r != 0) {
		if (r == 1)
			cmd_print_usage(usage);
		return r < 0 ? -1 : 0;
	}
	store *s;
	struct ctn *c = NULL;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = ctn_open(s, argv[optind], &c, err);
	if (ret >= 0)
		ret = exec_in(c, &a, argv + optind + 1, err);
	ctn_free(c);
	store_free(s);
	return ret;
}
