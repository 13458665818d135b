/* layerfs start — run a stopped container's command again, over the
 * writable layer it already has. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs start [OPTIONS] CONTAINER\n"
    "\n"
    "Runs the command of a created or exited container again, with the\n"
    "changes its earlier runs made (its writable layer is kept).  Without -a\n"
    "it runs in the background and the name given is printed; with -a its\n"
    "output is shown, the signals we get are passed to the command (as\n"
    "run's --sig-proxy) and the exit status is the command's.\n"
    "\n"
    "Options:\n"
    "  -a, --attach     stay attached: show the output, wait for the end\n"
    "  -h, --help       show this help\n";

static int start(store *s, const char *ref, int attach, error **err)
{
	struct ctn *c = NULL;
	int ret = ctn_open(s, ref, &c, err);
	if (ret >= 0 && c->state.status == CTN_RUNNING)
		ret = error_fail(err, EBUSY, "container '%s' is already running", ref);
	if (ret >= 0 && !attach) {
		ret = ctn_detach(s, c, err);
		if (ret >= 0)
			puts(ref);
	} else if (ret >= 0) {
		int status = 0;
		ret = ctn_execute(s, c, CTN_ATTACH | CTN_SIG_PROXY, &status, err);
		if (ret >= 0 && status)
			ret = error_quiet(err, status);
	}
	ctn_free(c);
	return ret;
}

int cmd_start(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"attach", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, attach = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		if (c == 'a') {
			attach = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs start --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return error_usage(err, "expected one CONTAINER; see 'layerfs start --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = start(s, argv[optind], attach, err);
	store_free(s);
	return ret;
}
