/* layerfs rm — remove containers and their writable layers. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs rm [OPTIONS] CONTAINER...\n"
    "\n"
    "Removes containers: their record, writable layer, log and anonymous\n"
    "volumes (the image's VOLUMEs; layerfs has no volume store, so unlike\n"
    "docker they go with the container).  A running one is refused unless -f,\n"
    "which kills it first.  Prints each name given.\n"
    "\n"
    "Options:\n"
    "  -f, --force      kill a running container first\n"
    "  -h, --help       show this help\n";

/* SIGKILL and wait for the end; one that ended meanwhile is fine. */
static int kill_wait(struct ctn *c, error **err)
{
	error *e = NULL;
	if (ctn_signal(c, SIGKILL, &e) < 0 && c->state.status == CTN_RUNNING) {
		*err = e;
		return -1;
	}
	error_free(e);
	return ctn_wait_exit(c, -1, err);
}

static int rm_one(store *s, const char *ref, int force, error **err)
{
	struct ctn *c = NULL;
	if (ctn_open(s, ref, &c, err) < 0)
		return -1;
	int ret = 0;
	if (c->state.status == CTN_RUNNING && !force)
		ret = error_fail(err, EBUSY,
				 "container '%s' is running: stop it first (layerfs stop %s) or "
				 "use rm -f",
				 ref, ref);
	else if (c->state.status == CTN_RUNNING)
		ret = kill_wait(c, err);
	if (ret >= 0 && c->state.status == CTN_RUNNING)
		ret = error_fail(err, EBUSY, "container '%s' did not stop", ref);
	if (ret >= 0 && ctn_lock(c, err) >= 0) {
		ret = ctn_remove(s, c, err);
		ctn_unlock(c);
	}
	if (ret >= 0)
		puts(ref);
	ctn_free(c);
	return ret;
}

int cmd_rm(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, force = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (c == 'f') {
			force = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs rm --help'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return error_usage(err, "expected CONTAINER; see 'layerfs rm --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = 0;
	for (int i = optind; i < argc && ret >= 0; i++)
		ret = rm_one(s, argv[i], force, err);
	store_free(s);
	return ret;
}
