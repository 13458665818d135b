/* layerfs stop — the image's stop signal, then SIGKILL after a grace
 * period. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs stop [OPTIONS] CONTAINER...\n"
    "\n"
    "Sends the image's StopSignal (SIGTERM when it has none) to each running\n"
    "container's init, which passes it on to the command; after the grace\n"
    "period, SIGKILL ends every process of the container.  Prints each\n"
    "name given once it has stopped.  Stopping a stopped container is not an\n"
    "error.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECS  grace period before SIGKILL (default 10)\n"
    "  -s, --signal SIG signal to send first (default: the image's StopSignal)\n"
    "  -h, --help       show this help\n";

static int stop_one(store *s, const char *ref, int secs, const char *sigarg, error **err)
{
	struct ctn *c = NULL;
	if (ctn_open(s, ref, &c, err) < 0)
		return -1;
	const char *name =
	    sigarg ? sigarg : json_string_value(json_object_get(c->config, "stop_signal"));
	int sig = name ? ctn_parse_signal(name) : SIGTERM;
	int ret = 0;
	if (sig < 0)
		sig = SIGTERM;
	if (c->state.status == CTN_RUNNING) {
		error *gone = NULL;
		/* It may end by itself meanwhile: that is a stop too. */
		if (ctn_signal(c, sig, &gone) == 0 && ctn_wait_exit(c, secs * 1000, err) == 0 &&
		    ctn_signal(c, SIGKILL, &gone) == 0)
			ret = ctn_wait_exit(c, -1, err);
		error_free(gone);
	}
	if (ret >= 0)
		puts(ref);
	ctn_free(c);
	return ret < 0 ? -1 : 0;
}

int cmd_stop(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 't'},
	    {"signal", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, secs = 10;
	const char *sig = NULL;
	char *end;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:s:h", opts, NULL)) != -1) {
		if (c == 't') {
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0 || v > 86400)
				return error_usage(err, "-t '%s': give seconds (0 to 86400)",
						   optarg);
			secs = (int)v;
		} else if (c == 's') {
			if (ctn_parse_signal(optarg) < 0)
				return error_usage(err, "invalid signal '%s'", optarg);
			sig = optarg;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs stop --help'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return error_usage(err, "expected CONTAINER; see 'layerfs stop --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = 0;
	for (int i = optind; i < argc && ret >= 0; i++)
		ret = stop_one(s, argv[i], secs, sig, err);
	store_free(s);
	return ret;
}
