/* layerfs kill — send a signal to a running container. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs kill [OPTIONS] CONTAINER...\n"
    "\n"
    "Sends a signal (SIGKILL by default) to each running container: SIGKILL\n"
    "ends all its processes; SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and\n"
    "SIGUSR2 go through its init to the command; other signals go to the\n"
    "command directly.  Prints each name given.\n"
    "\n"
    "Options:\n"
    "  -s, --signal SIG  the signal: a name (TERM, SIGTERM) or number\n"
    "  -h, --help        show this help\n";

static int kill_one(store *s, const char *ref, int sig, error **err)
{
	struct ctn *c = NULL;
	if (ctn_open(s, ref, &c, err) < 0)
		return -1;
	int ret = c->state.status == CTN_RUNNING
		      ? ctn_signal(c, sig, err)
		      : error_fail(err, ESRCH, "container '%s' is not running", ref);
	if (ret >= 0)
		puts(ref);
	ctn_free(c);
	return ret;
}

int cmd_kill(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"signal", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, sig = SIGKILL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		if (c == 's') {
			sig = ctn_parse_signal(optarg);
			if (sig < 0)
				return error_usage(err, "invalid signal '%s'", optarg);
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs kill --help'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return error_usage(err, "expected CONTAINER; see 'layerfs kill --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = 0;
	for (int i = optind; i < argc && ret >= 0; i++)
		ret = kill_one(s, argv[i], sig, err);
	store_free(s);
	return ret;
}
